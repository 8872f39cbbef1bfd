"""The training page's recipe tables: every ``TrainConfig`` field, and what each preset changes.

Read from ``TrainConfig`` and ``PRESETS`` as ``mobilenet_mnist.training`` exports them, so
the page shows the recipe the code runs. Descriptions come from the ``Attributes:`` section of
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
    """Two tables: every TrainConfig field (default, meaning), then each preset's overrides."""
    cfg = train.TrainConfig()
    docs = attribute_docs(train.TrainConfig)
    rows = [[literal(fld.name), _value(getattr(cfg, fld.name)), docs.get(fld.name, "")]
            for fld in dataclasses.fields(cfg)]
    text = list_table(["field", "default", "meaning"], rows, widths="20 25 55")
    presets = [[literal(name), ", ".join(f"{literal(key)} = {_value(value)}"
                                         for key, value in values.items()) or "(the defaults)"]
               for name, values in train.PRESETS.items()]
    if presets:
        text += "\nNamed presets (:func:`~mobilenet_mnist.get_preset`) change these fields:\n\n"
        text += list_table(["preset", "differs from the defaults in"], presets, widths="20 80")
    return text


def generate_recipe() -> None:
    """Write ``generated/include/train_recipe.rst`` (or a note without a training module)."""
    try:
        train = importlib.import_module("mobilenet_mnist.training")
    except ModuleNotFoundError as error:
        if error.name != "mobilenet_mnist.training":
            raise
        text = note("This build has no training package (``mobilenet_mnist.training``).")
    else:
        text = render_recipe(train)
    write_if_changed(INCLUDE_DIR / "train_recipe.rst", text)
