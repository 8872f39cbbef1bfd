"""The demo web page without a browser: its functions, its cache, its command and its server.

The page is driven through the same functions its buttons call (``answer_sketch``,
``answer_photo``, ``switch_model``), with the values Gradio hands them. The real drawing in
a real browser is ``tests/test_demo_browser.py`` (slow). Checkpoints other than the shipped
one are read from the repository's ``hub/`` folders, so nothing needs a network.
"""

from __future__ import annotations

import base64
import io
import re
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mobilenet_mnist.cli import main
from mobilenet_mnist.demo import INSTALL_HINT, CheckpointCache, describe, to_pil
from mobilenet_mnist.demo.inference import DISPLAY_SIDE
from mobilenet_mnist.models.pretrained import get_pretrained_cfg

REPO_ROOT = Path(__file__).resolve().parents[1]
HUB_DIR = REPO_ROOT / "hub"
DEFAULT = "mobilenet_v1_100.mnist"
CANVAS = 280


@pytest.fixture(scope="module")
def gr() -> Any:
    return pytest.importorskip("gradio", reason='the demo extra is not installed: pip install "mobilenet-mnist[demo]"')


@pytest.fixture(scope="module")
def cache() -> CheckpointCache:
    """Every published checkpoint, read from the repository's hub/ folders (shared by the tests)."""
    return CheckpointCache(weights_dir=HUB_DIR)


def strokes(*lines: tuple[tuple[float, float], ...], transparent: bool = False) -> Image.Image:
    """Black strokes drawn as with the Sketchpad's brush, on white or on a transparent canvas."""
    image = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0) if transparent else (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    for line in lines:
        points = [(x * CANVAS, y * CANVAS) for x, y in line]
        draw.line(points, fill=(0, 0, 0, 255), width=24, joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - 12, y - 12, x + 12, y + 12), fill=(0, 0, 0, 255))
    return image


ONE = (((0.5, 0.12), (0.5, 0.88)),)
SEVEN = (((0.22, 0.15), (0.78, 0.15), (0.42, 0.88)),)


def sketchpad_value(drawing: Image.Image) -> dict[str, Any]:
    """What Gradio's Sketchpad (type="pil") hands the function: background, layers, composite."""
    white = Image.new("RGB", drawing.size, "white")
    composite = Image.alpha_composite(white.convert("RGBA"), drawing).convert("RGB")
    return {"background": white, "layers": [drawing], "composite": composite}


def top_label(top: dict[str, float]) -> str:
    return max(top, key=top.__getitem__)


def seen_pixels(html: str) -> np.ndarray | None:
    """The picture inside the "what the model saw" HTML (an inline PNG), or None for an empty frame."""
    found = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    return None if found is None else np.asarray(Image.open(io.BytesIO(base64.b64decode(found[1]))))


def check_outputs(outputs: tuple) -> tuple[np.ndarray, dict[str, float], str]:
    """The four outputs of a recognized picture: 28×28 input (HTML), top-3, verdict, picture kept."""
    seen, top, verdict, kept = outputs
    pixels = seen_pixels(seen)
    assert pixels is not None and pixels.shape == (28, 28) and f"width:{DISPLAY_SIDE}px" in seen
    assert pixels.max() > 200 and pixels[0].max() < 50  # white ink on black, with a margin
    assert isinstance(top, dict) and len(top) == 3
    assert all(0.0 <= p <= 1.0 for p in top.values()) and sum(top.values()) <= 1.0 + 1e-6
    assert list(top.values()) == sorted(top.values(), reverse=True)
    assert isinstance(verdict, str) and isinstance(kept[0], Image.Image) and isinstance(kept[1], bool)
    return pixels, top, verdict


# ---------------------------------------------------------------- the page's functions


def test_build_demo_lays_out_the_page(gr: Any, cache: CheckpointCache) -> None:
    from mobilenet_mnist import list_pretrained
    from mobilenet_mnist.demo import build_demo

    demo = build_demo("mobilenet_v1_050.mnist", cache=cache)
    assert isinstance(demo, gr.Blocks) and demo.analytics_enabled is False
    by_id = {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    assert {"model", "sketch", "photo", "seen", "top3", "verdict", "recognize-drawing"} <= set(by_id)
    assert isinstance(by_id["sketch"], gr.Sketchpad) and isinstance(by_id["top3"], gr.Label)
    assert [choice[0] for choice in by_id["model"].choices] == list_pretrained()
    assert by_id["model"].value == "mobilenet_v1_050.mnist"
    assert not cache.is_loaded("mobilenet_v1_025.mnist")  # building the page loads nothing


@pytest.mark.parametrize("transparent", [False, True], ids=["white-canvas", "transparent-canvas"])
@pytest.mark.parametrize(("drawing", "digit"), [(ONE, "1"), (SEVEN, "7")], ids=["one", "seven"])
def test_a_drawn_digit_is_recognized(
    gr: Any, cache: CheckpointCache, drawing: tuple, digit: str, transparent: bool
) -> None:
    from mobilenet_mnist.demo import answer_sketch

    picture = strokes(*drawing, transparent=transparent)
    value = sketchpad_value(picture)
    if transparent:  # older Gradio handed the composite with its transparent background
        value["composite"] = picture
    _, top, verdict = check_outputs(answer_sketch(cache, value, DEFAULT))
    assert top_label(top) == digit and verdict.startswith(f"**{digit}**")


def test_a_sketch_without_composite_is_flattened_from_its_layers(gr: Any, cache: CheckpointCache) -> None:
    from mobilenet_mnist.demo import answer_sketch

    value = {**sketchpad_value(strokes(*ONE)), "composite": None}
    _, top, _ = check_outputs(answer_sketch(cache, value, DEFAULT))
    assert top_label(top) == "1"


def test_uploaded_mnist_digits_are_recognized(gr: Any, cache: CheckpointCache, mnist_dir: Path) -> None:
    from mobilenet_mnist.data.datasets import load_dataset
    from mobilenet_mnist.demo import answer_photo

    test = load_dataset("mnist", "test", mnist_dir)
    for image, label in zip(test.images[:5], test.labels[:5].tolist(), strict=True):
        upload = Image.fromarray(image.numpy()).convert("RGB")  # gr.Image(type="pil") hands RGB
        _, top, verdict = check_outputs(answer_photo(cache, upload, DEFAULT))
        assert top_label(top) == str(label) and "Not a digit" not in verdict


def test_a_dark_digit_photographed_on_paper_is_recognized(gr: Any, cache: CheckpointCache) -> None:
    from mobilenet_mnist.demo import answer_photo

    rng = np.random.default_rng(0)
    page = np.asarray(strokes(*SEVEN).convert("L").resize((160, 200)), dtype=np.float64)
    photo = np.clip(0.75 * page + 40 + rng.normal(0, 6, page.shape), 0, 255).astype(np.uint8)  # gray paper
    _, top, _ = check_outputs(answer_photo(cache, np.stack([photo] * 3, axis=-1), DEFAULT))
    assert top_label(top) == "7"


@pytest.mark.parametrize("transparent", [False, True], ids=["white-canvas", "transparent-canvas"])
def test_a_blank_sketch_is_flagged(gr: Any, cache: CheckpointCache, transparent: bool) -> None:
    from mobilenet_mnist.demo import answer_sketch

    seen, top, verdict, kept = answer_sketch(cache, sketchpad_value(strokes(transparent=transparent)), DEFAULT)
    assert top is None and "Blank" in verdict and kept is not None
    assert seen_pixels(seen).max() == 0


def test_noise_is_flagged(gr: Any, cache: CheckpointCache) -> None:
    from mobilenet_mnist.demo import answer_photo

    rng = np.random.default_rng(1)
    noise = (rng.random((200, 200)) * 255).astype(np.uint8)
    _, top, verdict, _ = answer_photo(cache, noise, DEFAULT)
    assert top is None or "Not a digit?" in verdict or "Blank" in verdict


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (-1e9, "**Not a digit?** The model's best guess is **7**"),  # every score is past it
        (1e9, "**7** ("),
        (None, "**7** ("),
    ],
)
def test_the_verdict_follows_the_not_a_digit_threshold(
    gr: Any, monkeypatch: pytest.MonkeyPatch, threshold: float | None, expected: str
) -> None:
    from mobilenet_mnist.demo import answer_sketch

    cache = CheckpointCache([DEFAULT])
    monkeypatch.setattr(cache.get(DEFAULT), "threshold", threshold)
    _, top, verdict = check_outputs(answer_sketch(cache, sketchpad_value(strokes(*SEVEN)), DEFAULT))
    assert verdict.startswith(expected) and top_label(top) == "7"  # the top-3 is shown even when flagged
    if threshold is None:
        assert verdict.endswith("no not-a-digit threshold, so only blank pictures are flagged.")
    else:
        assert "flagged above" in verdict and ("looks like a digit" in verdict) == (threshold > 0)


def test_nothing_drawn_asks_for_a_drawing(gr: Any, cache: CheckpointCache) -> None:
    from mobilenet_mnist.demo import answer_photo, answer_sketch

    seen, *rest = answer_sketch(cache, None, DEFAULT)
    assert rest == [None, "Draw a digit or upload a photo first.", None] and seen_pixels(seen) is None
    assert answer_photo(cache, None, DEFAULT)[1] is None


def test_switching_checkpoints_reruns_the_last_picture(gr: Any, cache: CheckpointCache) -> None:
    from mobilenet_mnist.demo import answer_sketch, switch_model

    *_, kept = answer_sketch(cache, sketchpad_value(strokes(*SEVEN)), DEFAULT)
    about, *outputs = switch_model(cache, "mobilenet_v1_025.mnist", kept)
    assert about == describe("mobilenet_v1_025.mnist") and "0.22 M parameters" in about
    assert top_label(check_outputs(tuple(outputs))[1]) == "7"
    assert cache.is_loaded("mobilenet_v1_025.mnist")
    about, _, top, _, _ = switch_model(cache, "mobilenet_v1_100.fashion_mnist", kept)
    assert "Fashion-MNIST" in about and set(top) <= set(get_pretrained_cfg("mobilenet_v1_100.fashion_mnist").labels)
    about, seen, top, _, kept = switch_model(cache, "mobilenet_v1_050.mnist", None)  # nothing drawn yet
    assert "mobilenet_v1_050.mnist" in about and (seen_pixels(seen), top, kept) == (None, None, None)


def test_an_unknown_or_unavailable_checkpoint_is_an_error_on_the_page(gr: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from mobilenet_mnist import WeightsUnavailableError
    from mobilenet_mnist.demo import answer_sketch

    cache = CheckpointCache()
    drawing = sketchpad_value(strokes(*ONE))
    with pytest.raises(gr.Error, match=r"Unknown checkpoint 'mobilenet_v1_100\.mnis'\. Did you mean"):
        answer_sketch(cache, drawing, "mobilenet_v1_100.mnis")

    def offline(name: str) -> None:
        raise WeightsUnavailableError(f"{name} is not cached and the Hub does not answer.")

    monkeypatch.setattr(cache, "_load", offline)
    with pytest.raises(
        gr.Error,
        match=r"Checkpoint mobilenet_v1_050\.mnist cannot be loaded here; start the demo "
        r"with --weights-dir DIR.* mobilenet_v1_050\.mnist is not cached and the Hub does not answer",
    ):
        answer_sketch(cache, drawing, "mobilenet_v1_050.mnist")


# ---------------------------------------------------------------- cache, conversions


def test_the_cache_loads_each_checkpoint_once_however_many_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    cache = CheckpointCache(["mobilenet_v1_025.mnist", DEFAULT])

    def slow_load(name: str) -> object:
        loads.append(name)
        threading.Event().wait(0.05)
        return object()

    monkeypatch.setattr(cache, "_load", slow_load)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get(DEFAULT))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == [DEFAULT] and len({id(p) for p in got}) == 1 and not cache.is_loaded("mobilenet_v1_025.mnist")


def test_the_cache_refuses_unknown_names_and_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match=r"Unknown checkpoint 'mobilenet_v1_050'.*Valid names: mobilenet_v1_025\.mnist"):
        CheckpointCache(["mobilenet_v1_050"])
    with pytest.raises(ValueError, match="at least one checkpoint"):
        CheckpointCache([])
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        CheckpointCache(weights_dir=tmp_path / "missing")
    with pytest.raises(KeyError, match=r"Valid names: mobilenet_v1_025\.mnist"):
        CheckpointCache(["mobilenet_v1_025.mnist"]).check(DEFAULT)


def test_a_weights_dir_file_must_be_the_published_one(tmp_path: Path) -> None:
    name = "mobilenet_v1_025.mnist"
    data = bytearray((HUB_DIR / name / "model.safetensors").read_bytes())
    data[-100] ^= 1  # one bit of one weight
    (tmp_path / name).mkdir()
    (tmp_path / name / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"is not the published mobilenet_v1_025\.mnist: its sha256 is"):
        CheckpointCache([name], weights_dir=tmp_path).get(name)


def test_to_pil_takes_what_gradio_components_send() -> None:
    rgba = strokes(*ONE, transparent=True)
    flat = to_pil(rgba, sketch=True)
    assert flat.mode == "RGB" and flat.getpixel((5, 5)) == (255, 255, 255) and flat.getpixel((140, 140)) == (0, 0, 0)
    assert to_pil(rgba).mode == "RGBA"  # an upload keeps its transparency for digit preparation
    assert to_pil(np.zeros((28, 28), np.uint8)).size == (28, 28) and to_pil(None) is None
    assert to_pil({"background": None, "layers": [], "composite": None}) is None
    with pytest.raises(TypeError, match="Expected a PIL image, a numpy array or an image editor value"):
        to_pil("digit.png")


# ---------------------------------------------------------------- without Gradio


def test_without_gradio_the_demo_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mobilenet_mnist.demo import build_demo, require_gradio
    from mobilenet_mnist.deploy.common import MissingExtraError

    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio now raises ImportError
    with pytest.raises(MissingExtraError, match=r'needs Gradio.*pip install "mobilenet-mnist\[demo\]"'):
        require_gradio()
    with pytest.raises(ImportError, match="demo extra"):
        build_demo()
    assert main(["demo", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mobilenet-mnist demo: error: The demo needs Gradio") and INSTALL_HINT in err
    assert "Traceback" not in err


# ---------------------------------------------------------------- the command


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "0"], "argument --port: must be a TCP port number from 1 to 65535, got '0'"),
        (["--port", "65536"], "from 1 to 65535, got '65536'"),
        (["--port", "http"], "from 1 to 65535, got 'http'"),
        (["--host", "http://localhost"], "argument --host: must be an IP address"),
        (["--host", "localhost:7860"], "without scheme or port; got 'localhost:7860'"),
        (["--concurrency", "0"], "argument --concurrency: must be an int >= 1"),
    ],
)
def test_the_command_refuses_bad_options(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_the_command_accepts_hosts_and_ports() -> None:
    from mobilenet_mnist.cli import demo

    assert [demo.host(h) for h in ("127.0.0.1", "0.0.0.0", "::1", "[::1]", "localhost", "my-box.lan")] == [
        "127.0.0.1", "0.0.0.0", "::1", "::1", "localhost", "my-box.lan",
    ]  # fmt: skip
    assert demo.port("1") == 1 and demo.port("65535") == 65535


def test_an_unknown_model_is_refused_before_any_server_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mobilenet_mnist.demo import app

    def no_server(*args: object, **kwargs: object) -> None:
        raise AssertionError("a server was built for an unknown model")

    monkeypatch.setattr(app, "build_demo", no_server)
    assert main(["demo", "--model", "mobilenet_v1_100.mnis"]) == 2
    err = capsys.readouterr().err
    assert "Unknown checkpoint 'mobilenet_v1_100.mnis'. Did you mean 'mobilenet_v1_100.mnist'?" in err
    assert "Valid names: mobilenet_v1_025.mnist, mobilenet_v1_050.mnist" in err


def test_a_taken_port_is_a_clear_error(gr: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["demo", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"error: Cannot serve on 127.0.0.1 port {port}: it is in use" in err and "Pick another port (--port)" in err


def test_launch_demo_checks_its_arguments() -> None:
    from mobilenet_mnist.demo import launch_demo

    with pytest.raises(ValueError, match="port must be an int from 1 to 65535, got 0"):
        launch_demo(port=0, block=False)
    with pytest.raises(ValueError, match="concurrency must be an int >= 1"):
        launch_demo(concurrency=0, block=False)
    with pytest.raises(TypeError, match="host must be a non-empty str"):
        launch_demo(host=None, block=False)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_server_answers_several_users_at_once(gr: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx
    import huggingface_hub
    from gradio_client import Client, handle_file

    from mobilenet_mnist.demo import launch_demo

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # the client's telemetry, agent lookup
    port = free_port()
    demo = launch_demo(port=port, weights_dir=HUB_DIR, concurrency=4, block=False)
    try:
        url = f"http://127.0.0.1:{port}/"
        assert httpx.get(url, timeout=10).status_code == 200
        assert demo.config["analytics_enabled"] is False
        path = tmp_path / "seven.png"
        strokes(*SEVEN).save(path)
        client = Client(url, verbose=False)
        jobs = [client.submit(handle_file(str(path)), DEFAULT, api_name="/recognize_photo") for _ in range(6)]
        results = [job.result(timeout=60) for job in jobs]
    finally:
        demo.close()
    for seen, top, verdict in results:  # the State that keeps the picture is no API output
        assert top["label"] == "7" and verdict.startswith("**7**") and seen_pixels(seen).shape == (28, 28)
