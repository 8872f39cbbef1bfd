"""Real error messages for the quick start, captured by making the mistakes during the build.

Showing the library's actual messages (rather than copies typed into the page) keeps
the page true when a message is reworded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import INCLUDE_DIR, write_if_changed


def _mistakes() -> list[tuple[str, Callable[[], Any]]]:
    """(code a user might write, the call that runs it) for common mistakes."""
    import torch

    from mobilenet_mnist import create_model, mobilenet_v1

    small = mobilenet_v1(width_mult=0.25).eval()
    return [
        ('create_model("mobilenet_v1_10")', lambda: create_model("mobilenet_v1_10")),
        ("mobilenet_v1(width_mult=0)", lambda: mobilenet_v1(width_mult=0)),
        ("mobilenet_v1(resolution_mult=0.25)", lambda: mobilenet_v1(resolution_mult=0.25)),
        ("model(torch.rand(1, 28, 28))", lambda: small(torch.rand(1, 28, 28))),
        ("model(torch.rand(1, 3, 32, 32))", lambda: small(torch.rand(1, 3, 32, 32))),
    ]


def capture(call: Callable[[], Any]) -> str:
    """``"ErrorType: message"`` of the exception ``call`` raises.

    Raises:
        RuntimeError: If ``call`` raises nothing (the page would document a non-error).
    """
    try:
        call()
    except Exception as error:  # the point is to show whatever the library raises
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        return f"{type(error).__name__}: {message}"
    raise RuntimeError("A documented mistake no longer raises an error; update errors.py.")


def render_errors() -> str:
    """A reST code block of each mistake and the message it produces."""
    lines = [".. code-block:: pycon", ""]
    for code, call in _mistakes():
        lines.append(f"   >>> {code}")
        lines.extend(f"   {line}" for line in capture(call).splitlines())
        lines.append("")
    return "\n".join(lines)


def generate_errors() -> None:
    """Write ``generated/include/errors.rst``."""
    write_if_changed(INCLUDE_DIR / "errors.rst", render_errors())
