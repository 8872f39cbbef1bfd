"""Paths and small writing helpers shared by the page generators.

Everything generated lands in ``docs/generated/`` (gitignored): ``api/`` holds whole
pages, ``include/`` holds snippets pulled into hand-written pages with ``.. include::``,
``figures/`` holds PNG files and ``cache/`` holds results that are slow to recompute.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parents[2]
REPO_DIR = DOCS_DIR.parent
GENERATED_DIR = DOCS_DIR / "generated"
INCLUDE_DIR = GENERATED_DIR / "include"
FIGURE_DIR = GENERATED_DIR / "figures"
CACHE_DIR = GENERATED_DIR / "cache"

#: Environment variable naming the MNIST folder (the library's own ``DATA_ENV``).
DATA_ENV = "MOBILENET_MNIST_DATA"


def mnist_dir() -> Path:
    """The MNIST folder: ``$MOBILENET_MNIST_DATA``, else ``../shared/data/mnist`` beside the repo."""
    configured = os.environ.get(DATA_ENV)
    return Path(configured) if configured else REPO_DIR.parent / "shared" / "data" / "mnist"


def write_if_changed(path: Path, content: str | bytes) -> bool:
    """Write ``content`` atomically, but only if it differs from what is there.

    Leaving unchanged files alone keeps their mtime, so incremental Sphinx builds do
    not re-read pages whose generated parts did not change.

    Returns:
        True if the file was (re)written.
    """
    data = content.encode() if isinstance(content, str) else content
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def list_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, widths: str = "auto",
               align_right_from: int | None = None) -> str:
    """A reST ``list-table`` (cells are inline reST, so escape user text with :func:`literal`).

    Args:
        header: Column titles.
        rows: Table body; each row as long as ``header``.
        widths: The ``:widths:`` option.
        align_right_from: Index of the first numeric column; it and all later columns get
            the ``numeric`` class, which ``_static/custom.css`` right-aligns.
    """
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}"]
    if align_right_from is not None:
        lines.append(f"   :class: numeric-from-{align_right_from + 1}")
    lines.append("")
    for row in [header, *rows]:
        if len(row) != len(header):
            raise ValueError(f"Table row {row!r} has {len(row)} cells, expected {len(header)}.")
        lines.append(f"   * - {row[0] or ' '}")
        lines.extend(f"     - {cell or ' '}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def literal(text: object) -> str:
    """Inline-literal reST for arbitrary text (names, tags, paths)."""
    return "``" + str(text).replace("`", "'") + "``"


def note(text: str, kind: str = "note") -> str:
    """A reST admonition (``note``, ``warning``...) holding ``text``."""
    body = "\n".join("   " + line if line else "" for line in text.strip().splitlines())
    return f".. {kind}::\n\n{body}\n"


def figure(name: str, alt: str, caption: str, width: str = "100%") -> str:
    """A reST figure directive for ``generated/figures/<name>`` (absolute docs path)."""
    return (
        f".. figure:: /generated/figures/{name}\n"
        f"   :alt: {alt}\n"
        f"   :width: {width}\n\n"
        f"   {caption}\n"
    )


def millions(value: float, digits: int = 2) -> str:
    """``3216970 -> '3.22 M'``."""
    return f"{value / 1e6:.{digits}f} M"
