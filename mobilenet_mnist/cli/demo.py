"""``mobilenet-mnist demo``: a web page to draw or upload a digit and see what the model says."""

from __future__ import annotations

import argparse
import ipaddress
import re
from pathlib import Path
from typing import Any

from .common import int_at_least

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_MODEL = "mobilenet_v1_100.mnist"

# One DNS label: letters, digits and inner hyphens, at most 63 characters.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def port(text: str) -> int:
    """An argparse type: a TCP port number, 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port number from 1 to 65535, got {text!r}")
    return value


def host(text: str) -> str:
    """An argparse type: an IP address (``127.0.0.1``, ``0.0.0.0``, ``::1``) or a host name (``localhost``)."""
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    if len(text) <= 253 and all(_LABEL.fullmatch(label) for label in labels):
        return text
    raise argparse.ArgumentTypeError(
        f"must be an IP address (127.0.0.1 for this machine only, 0.0.0.0 for every network interface) "
        f"or a host name such as localhost, without scheme or port; got {text!r}"
    )


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="a web page: draw or upload a digit, see the model's input and top-3 (needs the demo extra)",
        description="Serve a web page (Gradio) where you draw a digit with the mouse or upload a photo and see "
                    "the 28x28 input the model saw, its top-3 probabilities and whether it looks like a digit "
                    'at all. Needs the demo extra: pip install "mobilenet-mnist[demo]". Ctrl-C stops it.',
    )  # fmt: skip
    p.add_argument("--host", type=host, default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine only; 0.0.0.0: every "
                        "network interface, reachable by others)")  # fmt: skip
    p.add_argument("--port", type=port, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"checkpoint selected when the page opens (default {DEFAULT_MODEL}, shipped with the "
                        "package); the page lists every published one (mobilenet-mnist list --pretrained)")  # fmt: skip
    p.add_argument("--weights-dir", type=Path, metavar="DIR",
                   help="folder with one checkpoint folder per name (DIR/mobilenet_v1_050.mnist/model.safetensors"
                        " + config.json), read instead of the Hugging Face Hub: for use without a network")  # fmt: skip
    p.add_argument("--concurrency", type=int_at_least(1, "an int >= 1"), default=4,
                   help="requests computed at once; more wait in a queue (default 4)")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo.app import launch_demo

    launch_demo(
        host=args.host, port=args.port, model=args.model, weights_dir=args.weights_dir, concurrency=args.concurrency
    )
    return 0
