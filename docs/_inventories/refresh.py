"""Rewrite a local intersphinx inventory from a project's real ``objects.inv``.

The docs build offline, so ``docs/_inventories/*.inv`` list the external objects the
docs refer to (Sphinx inventory format version 1: plain text, one object per line,
``name type page``; the anchor is the name). This script copies each object's page from
the project's real inventory, so no link is ever typed by hand::

    # Python: Debian's python3-doc package ships the inventory
    python docs/_inventories/refresh.py python.inv /usr/share/doc/python3/html/objects.inv
    # add objects a new docstring refers to
    python docs/_inventories/refresh.py python.inv SOURCE pathlib.PurePath os.PathLike
    # PyTorch, where a network exists
    python docs/_inventories/refresh.py torch.inv https://docs.pytorch.org/docs/stable/objects.inv

It keeps every object already in the local file, adds the ones named on the command
line, and fails if the real inventory lacks one of them.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request
from pathlib import Path

from sphinx.util.inventory import InventoryFile

HERE = Path(__file__).resolve().parent
# Object types tried, in order, for a name given without one.
TYPE_ORDER = ("class", "exception", "function", "data", "method", "attribute", "module")


def read_local(path: Path) -> tuple[list[str], dict[str, str]]:
    """Header lines and ``{name: v1 type}`` of a version-1 inventory."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    header = [line for line in lines if line.startswith("#")]
    entries = dict(line.split()[:2] for line in lines if line and not line.startswith("#"))
    return header, entries


def read_real(source: str) -> dict:
    """The parsed real inventory, from a file path or a URL."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=30) as response:
            data = response.read()
    else:
        data = Path(source).read_bytes()
    return InventoryFile.loads(data, uri="").data


def locate(real: dict, name: str, kind: str | None) -> tuple[str, str]:
    """``(v1 type, page)`` of ``name`` in the real inventory (anchor checked and dropped)."""
    for candidate in [kind] if kind else TYPE_ORDER:
        item = real.get(f"py:{candidate}", {}).get(name)
        if item is None:
            continue
        page, _, anchor = item.uri.partition("#")
        expected = f"module-{name}" if candidate == "module" else name
        if anchor != expected:
            raise ValueError(f"{name}: anchor {anchor!r} is not {expected!r}; use a v2 inventory.")
        return ("mod" if candidate == "module" else candidate), page
    raise KeyError(f"{name} is not in the real inventory (types tried: {kind or TYPE_ORDER}).")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("local", help="local inventory file name in docs/_inventories, e.g. python.inv")
    parser.add_argument("source", help="path or URL of the project's real objects.inv")
    parser.add_argument("names", nargs="*", help="objects to add, e.g. pathlib.Path")
    args = parser.parse_args(argv)
    path = HERE / args.local
    header, entries = read_local(path)
    real = read_real(args.source)
    wanted = {**{name: kind for name, kind in entries.items()}, **dict.fromkeys(args.names)}
    lines = []
    for name, kind in sorted(wanted.items()):
        v1_kind = "module" if kind == "mod" else kind
        found_kind, page = locate(real, name, v1_kind)
        lines.append(f"{name} {found_kind} {page}")
    header = header or ["# Sphinx inventory version 1", f"# Project: {path.stem}", "# Version: 0"]
    path.write_text("\n".join([*header[:3], *lines]) + "\n", encoding="utf-8")
    print(f"{path}: {len(lines)} objects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
