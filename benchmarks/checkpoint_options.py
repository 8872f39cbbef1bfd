"""Command-line options shared by the scripts that score every published checkpoint.

``benchmarks/calibrate.py`` and ``benchmarks/real_digits.py`` both choose checkpoints
(``--names``, ``--hub-root``), the Fashion-MNIST folder and the inference backend the
same way; :func:`add_checkpoint_options` adds those options once.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mobilenet_mnist.deploy.optimize import BACKENDS

__all__ = ["REPO_ROOT", "add_checkpoint_options"]

#: The repository root (the scripts run from a checkout, not from the installed package).
REPO_ROOT = Path(__file__).resolve().parents[1]


def add_checkpoint_options(parser: argparse.ArgumentParser, *, backend: str) -> None:
    """Add ``--fashion-dir``, ``--names``, ``--hub-root`` and ``--backend`` (default ``backend``)."""
    parser.add_argument("--fashion-dir", type=Path, default=None, help="Fashion-MNIST IDX folder (default: Debian's)")
    parser.add_argument("--names", nargs="+", default=None, help="checkpoints (default: every published one)")
    parser.add_argument("--hub-root", type=Path, default=REPO_ROOT / "hub", help="folder of hub/<name>/ folders")
    parser.add_argument("--backend", default=backend, choices=BACKENDS)
