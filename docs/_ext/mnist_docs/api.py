"""API reference pages generated from ``mobilenet_mnist.__all__``, grouped by topic.

Every public name is placed on the page of the topic its defining module belongs to;
a name from a module no topic lists lands on an "Other" page, so nothing public is
ever left out. Topics whose modules are not written yet simply have no page.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .common import GENERATED_DIR, INCLUDE_DIR, write_if_changed

PACKAGE = "mobilenet_mnist"
API_DIR = GENERATED_DIR / "api"


@dataclass(frozen=True)
class Topic:
    """One API page: a slug (file name), a title, an intro line and its modules."""

    slug: str
    title: str
    intro: str
    modules: tuple[str, ...]


TOPICS: tuple[Topic, ...] = (
    Topic("models", "Models", "Build models by name or by multiplier, and list them.",
          ("models", "models.factory", "models.mobilenet")),
    Topic("architectures", "Architectures and layers",
          "Layer configs as data, the architecture registry and the building blocks.",
          ("models.archs", "models.layers")),
    Topic("costs", "Cost counting", "Parameters and multiply-adds, total and per layer.",
          ("models.profile",)),
    Topic("weights", "Pretrained weights",
          "The weight registry, saving, loading and publishing checkpoints.",
          ("models.pretrained", "models.checkpoint", "hub", "hub.core", "hub.card", "hub.publish")),
    Topic("data", "Data and preprocessing",
          "MNIST-family datasets as tensors, preprocessing for inference, augmentation.",
          ("data", "data.datasets", "data.augment")),
    Topic("training", "Training", "The training recipe, evaluation and fine-tuning helpers.",
          ("training", "training.loop", "training.runs", "training.evaluation", "training.finetune",
           "training.distributed")),
    Topic("speed", "Speed", "Fast inference paths and the benchmark suite.",
          ("deploy.optimize", "deploy.benchmark")),
    Topic("deployment", "Deployment", "Export to ONNX, TorchScript and torch.export; int8.",
          ("deploy", "deploy.export", "deploy.quantize")),
    Topic("cli", "Command line", "The ``mobilenet-mnist`` command.", ("cli", "version", "utils", "utils.files")),
)
OTHER = Topic("other", "Other modules",
              "Modules the topics above do not cover, and the public names they define.", ())

#: Text for public constants that have no ``#:`` doc comment of their own.
_FALLBACK_DATA_DOCS = {"__version__": "The installed version of the package (SemVer)."}


def defining_module(package: ModuleType, name: str) -> str:
    """The submodule that defines public ``name`` (``mobilenet_mnist.<sub>``).

    Lazily exported names are looked up in the package's ``_LAZY`` map without
    importing them; other objects by ``__module__``, then by the ``__all__`` of the
    already imported submodules (for constants, which carry no ``__module__``).
    """
    lazy: dict[str, str] = getattr(package, "_LAZY", {})
    if name in lazy:
        return f"{package.__name__}.{lazy[name].lstrip('.')}"
    obj = getattr(package, name)
    module = getattr(obj, "__module__", None)
    if isinstance(module, str) and module.startswith(package.__name__ + "."):
        return module
    prefix = package.__name__ + "."
    ours = sorted((n, m) for n, m in sys.modules.items() if n.startswith(prefix))
    for mod_name, mod in ours:
        if name in getattr(mod, "__all__", ()) and getattr(mod, name, None) is obj:
            return mod_name
    return package.__name__


def topic_of(module: str) -> Topic:
    """The topic listing ``module`` (``mobilenet_mnist.x``), or :data:`OTHER`."""
    short = module.removeprefix(PACKAGE + ".")
    return next((topic for topic in TOPICS if short in topic.modules), OTHER)


def check_not_shadowed(package: ModuleType, name: str) -> None:
    """Refuse a public name that resolves to a submodule of the same name.

    ``import mobilenet_mnist.train`` would set the package attribute ``train`` to the module,
    hiding a public function ``train``; users and autodoc would then get the module.

    Raises:
        ValueError: Naming the clash and the fix.
    """
    value = getattr(package, name)
    if isinstance(value, ModuleType):
        raise ValueError(
            f"{package.__name__}.{name} is the submodule {value.__name__}, not the public object "
            f"of that name: importing the submodule replaced the attribute. Rename the module "
            f"or the public name so they differ."
        )


def submodules(package: ModuleType) -> list[str]:
    """Names of the package's non-private submodules, e.g. ``mobilenet_mnist.hub.core``."""
    return [info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
            if not any(part.startswith("_") for part in info.name.split(".")[1:])]


def group_public_names(package: ModuleType) -> dict[Topic, dict[str, list[str]]]:
    """``{topic: {module: [names]}}`` for every name in ``package.__all__``, in topic order.

    Every submodule appears under its topic, also one without public names, so that
    references to any module (``:mod:``) resolve.
    """
    grouped: dict[Topic, dict[str, list[str]]] = {}
    for name in package.__all__:
        check_not_shadowed(package, name)
        module = defining_module(package, name)
        grouped.setdefault(topic_of(module), {}).setdefault(module, []).append(name)
    for module in submodules(package):
        grouped.setdefault(topic_of(module), {}).setdefault(module, [])
    ordered = {}
    for topic in (*TOPICS, OTHER):
        if topic in grouped:
            rank = {f"{PACKAGE}.{name}": i for i, name in enumerate(topic.modules)}
            modules = grouped[topic]
            ordered[topic] = {m: modules[m] for m in sorted(modules, key=lambda m: (rank.get(m, 99), m))}
    return ordered


def _kind(obj: Any) -> str:
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj):
        return "function"
    return "data"


def _data_doc(module: str, name: str, obj: Any, documented_as: str, *, strict: bool) -> str:
    """reST for a constant, with the ``#:`` comment from its defining module.

    Raises:
        ValueError: If ``strict`` and the constant has no doc comment.
    """
    from sphinx.pycode import ModuleAnalyzer

    comment = ""
    if module != PACKAGE:
        docs = ModuleAnalyzer.for_module(module).find_attr_docs()
        comment = "\n".join(docs.get(("", name), [])).strip()
    comment = comment or _FALLBACK_DATA_DOCS.get(name, "")
    if not comment and strict:
        raise ValueError(
            f"Public constant {documented_as} has no documentation: add a '#:' comment "
            f"above its definition in {module}."
        )
    kind = type(obj)
    qualified = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    lines = [f".. py:data:: {documented_as}", f"   :type: {qualified}"]
    if isinstance(obj, (str, int, float, bool)) and len(repr(obj)) <= 80:
        lines.append(f"   :value: {obj!r}")  # paths and containers depend on the machine or are long
    body = "\n".join(f"   {line}" if line else "" for line in comment.splitlines())
    return "\n".join(lines) + "\n\n" + body + "\n"


def _object_doc(owner: str, name: str, obj: Any, module: str) -> str:
    """The autodoc directive for ``owner.name`` (``owner``: the package or a submodule)."""
    kind = _kind(obj)
    if kind == "data":
        return _data_doc(module, name, obj, f"{owner}.{name}", strict=owner == PACKAGE)
    if kind in ("class", "exception"):
        return f".. auto{kind}:: {owner}.{name}\n   :members:\n   :show-inheritance:\n"
    return f".. autofunction:: {owner}.{name}\n"


def module_only_names(package: ModuleType, module: str) -> list[str]:
    """Names in a submodule's ``__all__`` that the package does not export itself."""
    if module == package.__name__:
        return []
    exported = set(package.__all__)
    names = getattr(importlib.import_module(module), "__all__", ())
    return [name for name in names if name not in exported and not name.startswith("_")]


def _heading(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n"


def _module_section(package: ModuleType, module: str, members: list[str]) -> list[str]:
    """A module's docstring, its package-level names, then its other ``__all__`` names."""
    parts = [_heading(f"``{module}``", "-")]
    if module != PACKAGE:
        parts.append(f".. automodule:: {module}\n")
    parts.append(f".. currentmodule:: {PACKAGE}\n")
    parts.extend(_object_doc(PACKAGE, name, getattr(package, name), module) for name in members)
    extra = module_only_names(package, module)
    if extra:
        parts.append(f"Also in ``{module}`` (import them from there):\n")
        parts.append(f".. currentmodule:: {module}\n")
        mod = importlib.import_module(module)
        parts.extend(_object_doc(module, name, getattr(mod, name), module) for name in extra)
    return parts


def render_topic(package: ModuleType, topic: Topic, modules: dict[str, list[str]]) -> str:
    """The reST page of one topic: summary table, then each module's docstring and members."""
    names = [name for members in modules.values() for name in members]
    callables = [n for n in names if _kind(getattr(package, n)) != "data"]
    parts = [
        f".. _api-{topic.slug}:\n", _heading(topic.title, "="), topic.intro + "\n",
        f".. currentmodule:: {PACKAGE}\n",
    ]
    if callables:
        parts.append(".. autosummary::\n   :nosignatures:\n\n" + "".join(f"   {n}\n" for n in callables))
    for module, members in modules.items():
        parts.extend(_module_section(package, module, members))
    return "\n".join(parts)


def generate_api(package_name: str = PACKAGE) -> list[str]:
    """Write ``generated/api/<topic>.rst`` and the toctree include; return the page slugs."""
    package = importlib.import_module(package_name)
    grouped = group_public_names(package)
    for topic, modules in grouped.items():
        write_if_changed(API_DIR / f"{topic.slug}.rst", render_topic(package, topic, modules))
    for stale in API_DIR.glob("*.rst"):
        if stale.stem not in {topic.slug for topic in grouped}:
            stale.unlink()
    entries = "".join(f"   /generated/api/{topic.slug}\n" for topic in grouped)
    write_if_changed(INCLUDE_DIR / "api_toctree.rst", f".. toctree::\n   :maxdepth: 2\n\n{entries}")
    return [topic.slug for topic in grouped]
