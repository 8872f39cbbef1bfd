"""The tables of the "Bad input and what you get" page, rendered from the test suite's audit.

``tests/test_audit.py`` holds one row per (function or command, bad input) and one per
odd-but-valid input; the tests run every row. This module imports that file and writes
its rows as reST tables to ``generated/include/audit_tables.rst``, which
``robustness.rst`` includes, so the page lists exactly what the tests check.

Importing the audit needs the ``dev`` extra (pytest, hypothesis). Without it the page
says so, unless strict mode (``MOBILENET_MNIST_DOCS_STRICT=1``) asks for a failure.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from .common import INCLUDE_DIR, REPO_DIR, list_table, literal, note, write_if_changed
from .evaluation import STRICT_ENV, strict

AUDIT_FILE = REPO_DIR / "tests" / "test_audit.py"
#: Name the audit file is imported under (not ``test_audit``, which pytest may hold).
MODULE_NAME = "mnist_docs_audit_rows"
AUDIT_HEADER = ("Where", "Bad input", "You get", "The message tells you")
CONVERSION_HEADER = ("Where", "Input", "Becomes")
CONVERSIONS_TITLE = "Odd but valid input"


def load_audit(path: Path = AUDIT_FILE) -> ModuleType:
    """Import the audit file as a module (it lives in ``tests/``, which is no package)."""
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"Cannot import the audit rows from {path}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module  # dataclasses look their module up while the file runs
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[MODULE_NAME]
        raise
    return module


def you_get(case: Any) -> str:
    """The "You get" cell: the exception type, or the CLI's exit status."""
    return "exit status 2" if case.is_cli else literal(case.error.__name__)


def case_row(case: Any) -> list[str]:
    return [literal(case.where), case.bad, you_get(case), case.says]


def conversion_row(conversion: Any) -> list[str]:
    return [literal(conversion.where), conversion.given, conversion.result]


def _section(title: str, body: str) -> str:
    return f"{title}\n{'-' * len(title)}\n\n{body}"


def render_audit(audit: Mapping[str, Sequence[Any]], conversions: Sequence[Any]) -> str:
    """One table per audit section (rows still ``pending`` a fix left out), then the conversions."""
    parts = []
    for title, cases in audit.items():
        rows = [case_row(case) for case in cases if not case.pending]
        if rows:
            parts.append(_section(title, list_table(AUDIT_HEADER, rows, widths="22 30 16 32")))
    intro = "These inputs have one sensible meaning, so they are converted rather than refused.\n\n"
    table = list_table(CONVERSION_HEADER, [conversion_row(c) for c in conversions], widths="25 35 40")
    parts.append(_section(CONVERSIONS_TITLE, intro + table))
    return "\n".join(parts)


def generate_audit() -> int:
    """Write ``generated/include/audit_tables.rst``; return the number of rows shown."""
    try:
        module = load_audit()
    except ModuleNotFoundError as error:
        if strict():
            raise
        text = note(f"The tables of this page are rendered from ``tests/test_audit.py``, which needs "
                    f"the ``dev`` extra (``{error.name}`` is missing): ``pip install -e \".[dev,docs]\"``. "
                    f"Set {STRICT_ENV}=1 to make this an error.", "warning")
        write_if_changed(INCLUDE_DIR / "audit_tables.rst", text)
        return 0
    write_if_changed(INCLUDE_DIR / "audit_tables.rst", render_audit(module.AUDIT, module.CONVERSIONS))
    return sum(not case.pending for case in module.ALL_CASES) + len(module.CONVERSIONS)
