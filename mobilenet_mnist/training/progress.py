"""What a run shows while it trains: a progress bar per epoch and a table row per epoch.

The table goes through :mod:`logging` (the ``mobilenet-mnist`` command prints INFO), so a
library user decides whether to see it; the full-precision numbers go to
``metrics.jsonl`` instead.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["epoch_header", "epoch_row", "progress_bar"]

_SIDE_WIDTH = 9  # "val@32 %" and "100.00"


def progress_bar(total: int, desc: str, enabled: bool) -> Any:
    """A tqdm bar that redraws at most every 0.5 s on a terminal, every minute in a log file."""
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, mininterval=0.5 if interactive else 60)


def epoch_header(eval_sizes: Sequence[int], validated: bool) -> str:
    """The column titles: epoch, train loss, validation accuracy per input side, LR, seconds."""
    columns = [f"{'epoch':>7}", f"{'train loss':>10}"]
    if validated:
        columns += [f"{f'val@{size} %':>{_SIDE_WIDTH}}" for size in eval_sizes]
    return "  ".join([*columns, f"{'lr':>9}", f"{'seconds':>7}"])


def epoch_row(row: dict[str, Any], epochs: int, eval_sizes: Sequence[int], seconds: float) -> str:
    """One epoch's metrics row, rounded for reading (``96.90``, not ``96.8999981880188``).

    Args:
        row: The epoch's ``metrics.jsonl`` row (``epoch``, ``train_loss``, ``lr`` and
            ``val_acc@SIDE`` when validated).
        epochs: The recipe's epoch count.
        eval_sizes: The validated input sides, in column order.
        seconds: Wall-clock seconds of the epoch, validation included.
    """
    epoch = f"{row['epoch']}/{epochs}"
    columns = [f"{epoch:>7}", f"{row['train_loss']:>10.4f}"]
    columns += [f"{row[key]:>{_SIDE_WIDTH}.2f}" for key in (f"val_acc@{size}" for size in eval_sizes) if key in row]
    return "  ".join([*columns, f"{row['lr']:>9.3g}", f"{seconds:>7.1f}"])
