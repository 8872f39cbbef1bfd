"""The architecture page's package-layout tables, read from the source tree at build time.

One table lists every module of ``mobilenet_mnist`` by subpackage with the first paragraph
of its docstring; the other lists, for each subpackage, which other parts of the package
its modules import, at import time and inside functions (lazily). Both come from the
files themselves (``ast``, nothing imported), so the page shows the layout the code has.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .common import INCLUDE_DIR, REPO_DIR, list_table, literal, write_if_changed

PACKAGE_DIR = REPO_DIR / "mobilenet_mnist"
#: Layers, lowest first: a part may import from its own layer and those before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("utils", "version"), ("models",), ("hub", "data"), ("training",), ("deploy",), ("demo",), ("cli",),
)
TOP_LEVEL = "top level"
_ROLE = re.compile(r":[\w:]+:`~?\.?([^`<]*?)(?:\s*<[^>]*>)?`")


def part_of(relative: Path) -> str:
    """The part a file belongs to: its subpackage, ``cli``, ``version``, or the top level."""
    if len(relative.parts) > 1:
        return relative.parts[0]
    return relative.stem if relative.stem in ("cli", "version") else TOP_LEVEL


def summary(path: Path) -> str:
    """First paragraph of a module's docstring, as plain inline reST (roles become literals)."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    text = " ".join(doc.split("\n\n")[0].split())
    return _ROLE.sub(lambda m: literal(m.group(1).split(".")[-1]), text)


def modules(package_dir: Path = PACKAGE_DIR) -> dict[str, list[Path]]:
    """``{part: [files]}``: subpackages in layer order, then the top-level files."""
    files = sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)
    order = [name for layer in LAYERS for name in layer]
    grouped: dict[str, list[Path]] = {}
    for path in files:
        grouped.setdefault(part_of(path.relative_to(package_dir)), []).append(path)
    rank = {name: i for i, name in enumerate(order)}
    return {part: sorted(grouped[part], key=lambda p: (p.name != "__init__.py", p.name))
            for part in sorted(grouped, key=lambda part: (rank.get(part, len(order)), part))}


def _target(path: Path, node: ast.ImportFrom, package_dir: Path) -> str | None:
    """The part of the package an import reaches (``None`` for other packages)."""
    if node.level == 0:
        parts = (node.module or "").split(".")
        if parts[0] != package_dir.name:
            return None
        rest = parts[1:]
    else:
        here = path.relative_to(package_dir).parent.parts
        base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
        rest = [*base, *(node.module.split(".") if node.module else [])]
    if not rest:
        names = [alias.name for alias in node.names]
        return names[0] if len(names) == 1 and (package_dir / names[0]).is_dir() else TOP_LEVEL
    return part_of(Path(*rest[:1], "x.py") if (package_dir / rest[0]).is_dir() else Path(rest[0] + ".py"))


def imports(path: Path, package_dir: Path = PACKAGE_DIR) -> set[tuple[str, bool]]:
    """``{(part, lazy)}`` for the package parts ``path`` imports; ``lazy``: inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[tuple[str, bool]] = set()

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.ImportFrom):
                target = _target(path, child, package_dir)
                if target is not None:
                    found.add((target, lazy))
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    parts = alias.name.split(".")
                    if parts[0] == package_dir.name:
                        node = ast.ImportFrom(module=".".join(parts[1:]) or None, names=[], level=1)
                        found.add((_target(package_dir / "__init__.py", node, package_dir) or TOP_LEVEL, lazy))
            visit(child, inner)

    visit(tree, False)
    return found


def _layer(part: str) -> int:
    return next((i for i, layer in enumerate(LAYERS) if part in layer), len(LAYERS))


def dependency_rows(package_dir: Path = PACKAGE_DIR) -> list[list[str]]:
    """Per part: the other parts it imports at import time, lazily, and any that run back up."""
    rows = []
    for part, files in modules(package_dir).items():
        eager, lazy = set(), set()
        for path in files:
            for target, is_lazy in imports(path, package_dir):
                if target != part:
                    (lazy if is_lazy else eager).add(target)
        lazy -= eager
        upward = sorted(t for t in eager | lazy if part != TOP_LEVEL and _layer(t) > _layer(part))
        cells = [", ".join(literal(t) for t in sorted(group)) or "—" for group in (eager, lazy)]
        rows.append([literal(part), *cells, ", ".join(literal(t) for t in upward) or "none"])
    return rows


def render_modules(package_dir: Path = PACKAGE_DIR) -> str:
    rows = [[literal(part) if i == 0 else "", literal(path.relative_to(package_dir).as_posix()), summary(path)]
            for part, files in modules(package_dir).items() for i, path in enumerate(files)]
    return list_table(["part", "module", "what it holds"], rows, widths="12 28 60")


def render_dependencies(package_dir: Path = PACKAGE_DIR) -> str:
    return list_table(["part", "imports (at import time)", "imports lazily (inside functions)",
                       "against the layer order"], dependency_rows(package_dir), widths="14 30 30 26")


def generate_layout() -> None:
    """Write ``generated/include/layout_modules.rst`` and ``layout_dependencies.rst``."""
    write_if_changed(INCLUDE_DIR / "layout_modules.rst", render_modules())
    write_if_changed(INCLUDE_DIR / "layout_dependencies.rst", render_dependencies())
