"""The training page's recipe table: every ``TrainConfig`` field with its defaults and presets.

Read from the dataclass and ``PRESETS`` in ``mobilenet_mnist.train``, so the page
shows the recipe the code runs. Descriptions come from the ``Attributes:`` section of
the class docstring.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from typing import Any

from .common import INCLUDE_DIR, list_table, literal, note, write_if_changed

_ATTRIBUTE_LINE = re.compile(r"^(\w+):\s*(.*)$")


def attribute_docs(cls: type) -> dict[str, str]:
    """``{field: description}`` from a Google-style ``Attributes:`` docstring section."""
    docs: dict[str, str] = {}
    in_section, current = False, None
    for raw in inspect.cleandoc(cls.__doc__ or "").splitlines():
        if raw.strip() == "Attributes:":
            in_section = True
            continue
        if not in_section:
            continue
        if raw and not raw.startswith(" "):  # the next section or the end
            break
        indent = len(raw) - len(raw.lstrip())
        match = _ATTRIBUTE_LINE.match(raw.strip())
        if indent == 4 and match:
            current = match.group(1)
            docs[current] = match.group(2)
        elif current and raw.strip():
            docs[current] += " " + raw.strip()
    return docs


def _value(value: Any) -> str:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return literal(repr(value))


def render_recipe(train: Any) -> str:
    """A table of TrainConfig fields: description, default and each preset's override."""
    cfg = train.TrainConfig()
    presets = {name: values for name, values in train.PRESETS.items() if values}
    docs = attribute_docs(train.TrainConfig)
    header = ["field", "meaning", "default", *(f"preset {literal(p)}" for p in presets)]
    rows = []
    for fld in dataclasses.fields(cfg):
        overrides = [_value(values[fld.name]) if fld.name in values else "" for values in presets.values()]
        rows.append([literal(fld.name), docs.get(fld.name, ""),
                     _value(getattr(cfg, fld.name)), *overrides])
    return list_table(header, rows)


def generate_recipe() -> None:
    """Write ``generated/include/train_recipe.rst`` (or a note without a training module)."""
    try:
        train = importlib.import_module("mobilenet_mnist.train")
    except ModuleNotFoundError as error:
        if error.name != "mobilenet_mnist.train":
            raise
        text = note("This build has no training module (``mobilenet_mnist.train``).")
    else:
        text = render_recipe(train)
    write_if_changed(INCLUDE_DIR / "train_recipe.rst", text)
