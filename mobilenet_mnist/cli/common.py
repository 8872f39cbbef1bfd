"""What every command uses: output, argparse number types, loading a model by name."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any


def out(text: str) -> None:
    """Command output goes to stdout (the library itself never prints)."""
    sys.stdout.write(text + "\n")


def int_at_least(minimum: int, meaning: str) -> Callable[[str], int]:
    """An argparse type: an int >= ``minimum`` (argparse names the option in its error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {meaning}, got {text!r}")
        return value

    return parse


positive_int = int_at_least(1, "a positive int")
non_negative_int = int_at_least(0, "an int >= 0")


def load_model(name: str) -> Any:
    """A model from a registered weight name, a local file/folder or a Hub repo id.

    The one definition is :func:`mobilenet_mnist.hub.load.load_model_by_name`.
    """
    from ..hub.load import load_model_by_name

    return load_model_by_name(name)
