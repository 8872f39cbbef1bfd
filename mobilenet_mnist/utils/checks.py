"""Argument checks shared by the whole package: one definition of each rule.

Each check raises a ``TypeError`` for a value of the wrong kind and a ``ValueError`` for a
value out of range; both messages name the argument, what was given and what is valid.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, TypeGuard

__all__ = ["check_bool", "check_module", "check_number", "check_path", "is_int"]


def is_int(value: object) -> TypeGuard[int]:
    """True for real ints only (``bool`` is an ``int`` subclass but never a count or size)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_number(
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    integer: bool = False,
    low_inclusive: bool = True,
) -> float | int:
    """Check that ``value`` is a finite number (an int if ``integer``) in ``[low, high]``.

    Args:
        name: The argument's name, for the message.
        value: The value given.
        low: Smallest valid value.
        high: Largest valid value.
        integer: Require an int (bools are refused either way).
        low_inclusive: ``False`` makes ``low`` itself invalid (``value > low``).

    Returns:
        ``value``, unchanged.

    Raises:
        TypeError: If ``value`` is not a number (or not an int when ``integer``).
        ValueError: If ``value`` is NaN, infinite or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        kind = "an int" if integer else "a number"
        raise TypeError(f"{name} must be {kind}, got {type(value).__name__} ({value!r}).")
    if not math.isfinite(value):
        valid = _range_text(low, high, low_inclusive)
        raise ValueError(f"{name} must be a finite number{'' if valid == 'finite' else ' ' + valid}, got {value!r}.")
    above_low = value >= low if low_inclusive else value > low
    if not above_low or value > high:
        raise ValueError(f"{name} must be {_range_text(low, high, low_inclusive)}, got {value!r}.")
    return value


def _range_text(low: float, high: float, low_inclusive: bool) -> str:
    if math.isinf(low) and math.isinf(high):
        return "finite"
    if math.isinf(high):
        return f"{'>=' if low_inclusive else '>'} {low:g}"
    if math.isinf(low):
        return f"<= {high:g}"
    return f"in {'[' if low_inclusive else '('}{low:g}, {high:g}]"


def check_bool(name: str, value: object) -> bool:
    """Check that ``value`` is ``True`` or ``False`` (not 0/1, not a string).

    Raises:
        TypeError: If it is anything else; the message names ``name`` and what was given.
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} ({value!r}).")
    return value


def check_module(model: object, caller: str) -> None:
    """Raise ``TypeError`` naming ``caller`` unless ``model`` is a ``torch.nn.Module``."""
    from torch import nn  # lazy: this module must stay importable without torch

    if not isinstance(model, nn.Module):
        raise TypeError(f"{caller} expects a torch.nn.Module, got {type(model).__name__}.")


def check_path(name: str, value: object) -> Path:
    """``value`` as a :class:`~pathlib.Path`; a ``TypeError`` naming ``name`` unless it is a path.

    Args:
        name: The argument's name, for the message.
        value: The value given.

    Returns:
        ``Path(value)``.

    Raises:
        TypeError: If ``value`` is not a ``str`` or ``os.PathLike``.
    """
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"{name} must be a file or folder path (str or os.PathLike), got {type(value).__name__} ({value!r})."
        )
    return Path(value)
