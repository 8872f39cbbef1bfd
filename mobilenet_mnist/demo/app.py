"""The demo web page (Gradio): draw or upload a digit, see what the model saw and what it says.

:func:`build_demo` lays out the page; :func:`launch_demo` serves it (what
``mobilenet-mnist demo`` runs). Gradio is the optional ``demo`` extra and is imported only
when a page is built, so importing this module works without it. The page needs no
network: Gradio's analytics are off, its fonts and scripts are served by the demo itself,
and the default checkpoint ships inside the package.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from .inference import DEFAULT_MODEL, CheckpointCache, describe, recognize, seen_html, to_pil

__all__ = [
    "INSTALL_HINT", "answer", "answer_photo", "answer_sketch", "build_demo", "launch_demo", "require_gradio",
    "switch_model",
]  # fmt: skip

logger = logging.getLogger(__name__)

#: The command that installs what the demo needs.
INSTALL_HINT = 'pip install "mobilenet-mnist[demo]"'
#: Side in pixels of the drawing canvas.
CANVAS_SIDE = 280
#: Brush radius in canvas pixels: a stroke about a 12th of a digit's height, as MNIST's strokes are.
BRUSH_RADIUS = 12
#: Seconds Ctrl-C waits for the server to close; open browser tabs can keep it waiting longer.
CLOSE_TIMEOUT_S = 5.0
#: Requests that may wait for a free slot (Gradio's ``max_size``; those being computed are not
#: counted). One more is refused at once ("Queue is full") instead of piling up on a server that
#: anyone on the network may reach. A page's Recognize button sends one request at a time, so
#: 64 people beyond ``concurrency`` can press it at the same moment and all be served.
MAX_QUEUED = 64
_TITLE = "mobilenet-mnist demo"
# Gradio's Sketchpad opens (and clears) with no tool picked ("select the draw tool to
# start"): pick the brush once the canvas is there, so that a visitor can draw at once.
_PICK_BRUSH = """() => {
  let tries = 0;
  const pick = () => {
    const brush = document.querySelector('#sketch button[aria-label="Brush"]');
    if (brush) { brush.click(); } else if (++tries < 50) { setTimeout(pick, 100); }
  };
  pick();
}"""
_INTRO = (
    "# MobileNet V1 for MNIST\n"
    "Draw a digit with the mouse (or upload a photo of one) and press **Recognize**. The model sees the "
    "picture as MNIST's digits look: white ink on black, scaled into 20×20 pixels and centered in 28×28."
)


def require_gradio() -> Any:
    """Import Gradio, or raise :class:`~mobilenet_mnist.deploy.common.MissingExtraError` saying how to install it.

    Returns:
        The ``gradio`` module.

    Raises:
        MissingExtraError: If Gradio is not installed (an ``ImportError``).
    """
    from ..deploy.common import MissingExtraError

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no version check or telemetry calls
    try:
        return importlib.import_module("gradio")
    except ImportError as error:
        raise MissingExtraError(
            f"The demo needs Gradio, which is not installed ({error}). Install the demo extra: {INSTALL_HINT}"
        ) from error


def build_demo(
    default_model: str = DEFAULT_MODEL,
    models: Sequence[str] | None = None,
    *,
    weights_dir: str | Path | None = None,
    cache: CheckpointCache | None = None,
) -> Any:
    """The demo page, ready to ``launch()``.

    Args:
        default_model: The checkpoint selected when the page opens.
        models: The checkpoints offered (default: every published one). Each is loaded
            the first time someone selects it, then shared by every user.
        weights_dir: A folder of checkpoint folders (``DIR/<name>/model.safetensors``), read
            instead of the Hugging Face Hub, for checkpoints that do not ship with the package.
        cache: The predictors to use (overrides ``models`` and ``weights_dir``); tests and
            several pages can share one.

    Returns:
        A ``gradio.Blocks``.

    Raises:
        MissingExtraError: If Gradio is not installed.
        KeyError: If ``default_model`` or a name in ``models`` is not a published checkpoint.
    """
    gr = require_gradio()
    cache = cache or CheckpointCache(models, weights_dir=weights_dir)
    cache.check(default_model)
    with gr.Blocks(title=_TITLE, analytics_enabled=False) as demo:
        gr.Markdown(_INTRO)
        with gr.Row(equal_height=False):
            with gr.Column():
                picked = _model_picker(gr, cache, default_model)
                sketch, photo, draw_button, photo_button = _inputs(gr)
            with gr.Column():
                seen, top, verdict = _outputs(gr)
        _wire(gr, cache, picked, (sketch, photo, draw_button, photo_button), (seen, top, verdict))
        demo.load(None, js=_PICK_BRUSH)
    return demo


def _model_picker(gr: ModuleType, cache: CheckpointCache, default_model: str) -> tuple[Any, Any]:
    model = gr.Dropdown(choices=list(cache.names), value=default_model, label="Checkpoint", elem_id="model")
    about = gr.Markdown(describe(default_model), elem_id="model-info")
    return model, about


def _inputs(gr: ModuleType) -> tuple[Any, Any, Any, Any]:
    with gr.Tabs():
        with gr.Tab("Draw", id="draw"):
            sketch = gr.Sketchpad(
                label="Draw a digit", type="pil", image_mode="RGBA", format="png", elem_id="sketch",
                canvas_size=(CANVAS_SIDE, CANVAS_SIDE), transforms=(), layers=False,
                brush=gr.Brush(default_size=BRUSH_RADIUS, colors=["#000000"], color_mode="fixed"),
            )  # fmt: skip
            draw_button = gr.Button("Recognize", variant="primary", elem_id="recognize-drawing")
        with gr.Tab("Upload", id="upload"):
            photo = gr.Image(label="A photo or scan of one digit", type="pil", sources=["upload", "clipboard"],
                             elem_id="photo")  # fmt: skip
            photo_button = gr.Button("Recognize", variant="primary", elem_id="recognize-photo")
    return sketch, photo, draw_button, photo_button


def _outputs(gr: ModuleType) -> tuple[Any, Any, Any]:
    seen = gr.HTML(seen_html(None), label="What the model saw (28×28)", show_label=True, container=True,
                   elem_id="seen")  # fmt: skip
    top = gr.Label(label="Top-3 probabilities", num_top_classes=3, elem_id="top3")
    verdict = gr.Markdown("Draw a digit, then press Recognize.", elem_id="verdict")
    return seen, top, verdict


def _wire(gr: ModuleType, cache: CheckpointCache, picked: tuple[Any, Any], inputs: tuple, outputs: tuple) -> None:
    """Connect the buttons, uploads and the checkpoint picker to the predictors."""
    model, about = picked
    sketch, photo, draw_button, photo_button = inputs
    last = gr.State(None)  # this user's last picture, recomputed when they switch checkpoints
    shown = [*outputs, last]
    on_sketch, on_photo, on_model = (functools.partial(f, cache) for f in (answer_sketch, answer_photo, switch_model))
    draw_button.click(on_sketch, [sketch, model], shown, api_name="recognize_drawing")
    photo_button.click(on_photo, [photo, model], shown, api_name="recognize_photo")
    photo.upload(on_photo, [photo, model], shown, api_name=False)
    sketch.clear(None, js=_PICK_BRUSH)  # clearing the canvas drops the tool too
    model.change(on_model, [model, last], [about, *shown], api_name=False)


def answer_sketch(cache: CheckpointCache, value: Any, model: str) -> tuple[Any, Any, str, Any]:
    """What the page shows for a drawing: what :func:`answer` returns.

    Args:
        cache: The predictors.
        value: The Sketchpad's value (a dict with ``"composite"``, ``"background"``,
            ``"layers"``), a picture, or None before anything is drawn.
        model: The checkpoint's name.
    """
    return answer(cache, model, to_pil(value, sketch=True), sketch=True)


def answer_photo(cache: CheckpointCache, value: Any, model: str) -> tuple[Any, Any, str, Any]:
    """What the page shows for an uploaded picture (PIL, numpy or None): what :func:`answer` returns."""
    return answer(cache, model, to_pil(value))


def switch_model(cache: CheckpointCache, model: str, kept: tuple[Any, bool] | None) -> tuple[str, Any, Any, str, Any]:
    """What the page shows after switching checkpoints: its description, then the kept picture re-run.

    Args:
        cache: The predictors.
        model: The checkpoint picked.
        kept: What :func:`answer` kept of the last picture, ``(picture, sketch)``, or None.
    """
    picture, sketch = kept if kept is not None else (None, False)
    return (describe(cache.check(model)), *answer(cache, model, picture, sketch=sketch))


def answer(cache: CheckpointCache, model: str, picture: Any, *, sketch: bool = False) -> tuple[Any, Any, str, Any]:
    """The page's outputs for one picture.

    Args:
        cache: The predictors.
        model: The checkpoint's name.
        picture: A PIL image, or None when there is nothing to recognize.
        sketch: The picture is a drawing (see :func:`.recognize`).

    Returns:
        ``(seen, top, verdict, kept)``: the 28×28 input as HTML (:func:`.seen_html`); the top-3
        ``{class: probability}`` or None; the verdict (Markdown); ``(picture, sketch)``, kept
        so that switching checkpoints can re-run it (None without a picture).

    A checkpoint that is unknown or cannot be loaded, or an unusable picture, is raised as
    a ``gradio.Error``, whose message Gradio shows on the page.
    """
    if picture is None:
        return seen_html(None), None, "Draw a digit or upload a photo first.", None
    try:
        result = recognize(cache, model, picture, sketch=sketch)
    except (KeyError, RuntimeError, OSError, ValueError) as error:
        message = str(error.args[0] if isinstance(error, KeyError) and error.args else error)
        if model in cache.names and not cache.is_loaded(model):
            message = (
                f"Checkpoint {model} cannot be loaded here; start the demo with --weights-dir DIR, DIR holding "
                f"{model}/model.safetensors, or with a network. {message}"
            )
        logger.warning("demo: %s", message)  # one line in the server's log, no traceback
        raise require_gradio().Error(message, duration=None, print_exception=False) from error
    return seen_html(result.seen), (result.top or None), result.verdict, (picture, sketch)


def launch_demo(
    host: str = "127.0.0.1",
    port: int = 7860,
    model: str = DEFAULT_MODEL,
    *,
    models: Sequence[str] | None = None,
    weights_dir: str | Path | None = None,
    concurrency: int = 4,
    block: bool = True,
) -> Any:
    """Serve the demo page at ``http://host:port`` (what ``mobilenet-mnist demo`` runs).

    The selected checkpoint is loaded before the server starts (so a broken install fails
    at once); the others when first selected. Requests are queued and ``concurrency`` of
    them computed at once, so several people can use one server; up to ``MAX_QUEUED`` (64)
    more wait their turn, and beyond that a request is refused ("Queue is full").

    Args:
        host: Address to listen on (``"0.0.0.0"``: every network interface).
        port: TCP port, 1 to 65535.
        model: The checkpoint selected when the page opens.
        models: The checkpoints offered (default: every published one).
        weights_dir: A folder of checkpoint folders read instead of the Hub (see :func:`build_demo`).
        concurrency: Requests computed at once.
        block: Serve until Ctrl-C (which closes the server and re-raises ``KeyboardInterrupt``);
            with False, return at once with the server running (call ``close()`` on the result).

    Returns:
        The running ``gradio.Blocks``.

    Raises:
        ValueError: If ``port`` or ``concurrency`` is out of range.
        TypeError: If ``host`` is not a str.
        KeyError: If ``model`` (or a name in ``models``) is not a published checkpoint.
        MissingExtraError: If Gradio is not installed.
        OSError: If the port is taken (or the address is not this machine's).
    """
    _check_launch_args(host, port, concurrency)
    cache = CheckpointCache(models, weights_dir=weights_dir)
    cache.check(model)
    require_gradio()
    started = time.perf_counter()
    cache.get(model)
    demo = build_demo(model, cache=cache)
    demo.queue(default_concurrency_limit=concurrency, max_size=MAX_QUEUED)
    try:
        demo.launch(
            server_name=host, server_port=port, share=False, prevent_thread_lock=True, quiet=True, show_error=True
        )
    except OSError as error:  # Gradio's message names its own settings; say it in this command's terms
        raise OSError(
            f"Cannot serve on {host} port {port}: it is in use or not available here. Pick another port (--port)."
        ) from error
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    logger.info("Demo ready in %.1f s at http://%s:%d (Ctrl-C stops it)", time.perf_counter() - started,
                f"[{shown}]" if ":" in shown else shown, port)  # fmt: skip
    if block:
        _serve_until_interrupted(demo)
    return demo


def _check_launch_args(host: Any, port: Any, concurrency: Any) -> None:
    if not isinstance(host, str) or not host:
        raise TypeError(f"host must be a non-empty str such as '127.0.0.1' or '0.0.0.0', got {host!r}.")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be an int from 1 to 65535, got {port!r}.")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an int >= 1, got {concurrency!r}.")


def _serve_until_interrupted(demo: Any) -> None:
    try:
        while True:
            time.sleep(0.5)
    finally:
        # Closing waits for open connections (a browser tab keeps one): bounded, so Ctrl-C
        # always ends the command; the server's threads end with the process.
        closer = threading.Thread(target=_close_quietly, args=(demo,), daemon=True)
        closer.start()
        closer.join(CLOSE_TIMEOUT_S)
        if closer.is_alive():
            logger.info("Demo server still had open connections after %.0f s; stopping anyway.", CLOSE_TIMEOUT_S)
        else:
            logger.info("Demo server closed.")


def _close_quietly(demo: Any) -> None:
    with contextlib.redirect_stdout(io.StringIO()):  # Gradio prints "Closing server ..."
        demo.close()
