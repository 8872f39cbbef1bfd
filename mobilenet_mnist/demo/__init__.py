"""A web page to try the published checkpoints: draw or upload a digit, see what the model says.

Run it with ``mobilenet-mnist demo`` or :func:`launch_demo`; build the page into your own
Gradio app with :func:`build_demo`. The page shows the 28×28 input the model saw, the
top-3 probabilities and a "not a digit?" flag, and switches among the published
checkpoints. It needs the ``demo`` extra (Gradio), imported only when a page is built::

    pip install "mobilenet-mnist[demo]"
"""

from __future__ import annotations

from .app import (
    INSTALL_HINT,
    answer,
    answer_photo,
    answer_sketch,
    build_demo,
    launch_demo,
    require_gradio,
    switch_model,
)
from .inference import DEFAULT_MODEL, CheckpointCache, DemoResult, describe, recognize, to_pil

__all__ = [
    "DEFAULT_MODEL",
    "INSTALL_HINT",
    "CheckpointCache",
    "DemoResult",
    "answer",
    "answer_photo",
    "answer_sketch",
    "build_demo",
    "describe",
    "launch_demo",
    "recognize",
    "require_gradio",
    "switch_model",
    "to_pil",
]
