"""Messages for unknown names: what was asked, the closest valid name, the valid names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest_name", "unknown_name_message"]


def unknown_name_message(what: str, name: str, valid: Iterable[str]) -> str:
    """An 'unknown name' message with a difflib "did you mean" and the valid names.

    Example:
        >>> unknown_name_message("model", "mobilenet_v1_10", ["mobilenet_v1_100", "mobilenet_v1_050"])
        "Unknown model 'mobilenet_v1_10'. Did you mean 'mobilenet_v1_100'? Valid names: ..."
    """
    valid = list(valid)
    close = closest_name(name, valid)
    hint = f" Did you mean {close!r}?" if close else ""
    return f"Unknown {what} {name!r}.{hint} Valid names: {', '.join(valid)}."


def closest_name(name: str, valid: Iterable[str]) -> str | None:
    """The valid name closest to ``name`` (difflib ratio at least 0.5), or None."""
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    return close[0] if close else None
