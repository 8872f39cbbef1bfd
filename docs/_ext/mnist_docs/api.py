"""API reference pages generated from the public names of the package, grouped by topic.

Every object is documented once, under the shortest path users import it from:
``mobilenet_mnist.X`` for the top-level names (``mobilenet_mnist.__all__``),
``mobilenet_mnist.<subpackage>.X`` for the other public names of a subpackage
(``mobilenet_mnist.models.__all__``, ...), and ``<module>.X`` for names only a module
exports. The entry sits in the section of the module that defines the object, on the
page of that module's topic; a module no topic lists lands on an "Other" page, so
nothing public is left out. Each subpackage's section also lists all its public names
with links, wherever they are documented. Classes carry their defining path as
``:canonical:``, so references to either path resolve.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from .common import GENERATED_DIR, INCLUDE_DIR, list_table, write_if_changed

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
          ("models", "models.factory", "models.factory_options", "models.mobilenet", "models.input_checks",
           "models.features", "models.timm_interop")),
    Topic("architectures", "Architectures and layers",
          "Layer configs as data, the architecture registry and the building blocks.",
          ("models.archs", "models.layers", "models.fusion")),
    Topic("costs", "Cost counting", "Parameters and multiply-adds, total and per layer.",
          ("models.profile",)),
    Topic("weights", "Pretrained weights",
          "The weight registry, saving, loading and publishing checkpoints.",
          ("models.pretrained_cfg", "models.pretrained", "models.config", "models.sources", "models.checkpoint",
           "models.adapt", "models.builder", "hub", "hub.save", "hub.load", "hub.push", "hub.card", "hub.publish")),
    Topic("data", "Data and preprocessing",
          "MNIST-family datasets as tensors, preprocessing for inference, augmentation.",
          ("data", "data.datasets", "data.transforms", "data.convert", "data.augment")),
    Topic("training", "Training", "The training recipe, evaluation and fine-tuning helpers.",
          ("training", "training.config", "training.loop", "training.components", "training.state",
           "training.runs", "training.progress", "training.evaluation", "training.calibration",
           "training.finetune", "training.distributed")),
    Topic("speed", "Speed", "Fast inference paths and the speed benchmark command.",
          ("deploy.optimize", "deploy.torch_backend", "deploy.onednn_graph", "deploy.packed_conv", "deploy.ort_backend",
           "deploy.ort_shards", "deploy.measure", "deploy.speed", "deploy.speed_report")),
    Topic("deployment", "Deployment", "Export to ONNX, TorchScript and torch.export; int8.",
          ("deploy", "deploy.common", "deploy.onnx_export", "deploy.export", "deploy.quantize", "deploy.quiet")),
    Topic("prediction", "Predicting digits",
          "Users' own digit images: MNIST-style preparation, calibrated predictions, the not-a-digit flag.",
          ("data.digits", "data.ink", "deploy.predictor")),
    Topic("demo", "Demo", "The web page: draw or upload a digit and see what the model says.",
          ("demo", "demo.app", "demo.inference")),
    Topic("cli", "Command line and utilities", "The ``mobilenet-mnist`` command and shared helpers.",
          ("cli", "version", "utils", "utils.checks", "utils.files", "utils.modules", "utils.names")),
)
OTHER = Topic("other", "Other modules",
              "Modules the topics above do not cover, and the public names they define.", ())

#: Text for public constants that have no ``#:`` doc comment of their own.
_FALLBACK_DATA_DOCS = {"__version__": "The installed version of the package (SemVer)."}


def defining_module(package: ModuleType, name: str) -> str:
    """The module that defines public ``name`` of ``package`` (``mobilenet_mnist.<sub>.<module>``).

    Classes and functions say it in ``__module__``. A constant is looked for in the
    subpackage the package's ``_LAZY`` map names for it (else anywhere in the package):
    the module whose source assigns it.
    """
    lazy: dict[str, str] = getattr(package, "_LAZY", {})
    owner = f"{package.__name__}.{lazy[name].lstrip('.')}" if name in lazy else package.__name__
    return module_defining(owner, name, getattr(package, name))


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
    """Names of the package's non-private submodules, e.g. ``mobilenet_mnist.hub.save``."""
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
    owner, _, short = documented_as.rpartition(".")
    lines = [f".. py:data:: {short}", f"   :module: {owner}", f"   :type: {qualified}"]
    if isinstance(obj, (str, int, float, bool)) and len(repr(obj)) <= 80:
        lines.append(f"   :value: {obj!r}")  # paths and containers depend on the machine or are long
    body = "\n".join(f"   {line}" if line else "" for line in comment.splitlines())
    return "\n".join(lines) + "\n\n" + body + "\n"


def _object_doc(owner: str, name: str, obj: Any, module: str) -> str:
    """The autodoc directive for ``owner.name`` (``owner``: the package, a subpackage or a module)."""
    kind = _kind(obj)
    if kind == "data":
        return _data_doc(module, name, obj, f"{owner}.{name}", strict=owner == PACKAGE)
    if kind in ("class", "exception"):
        return f".. auto{kind}:: {owner}.{name}\n   :members:\n   :show-inheritance:\n"
    return f".. autofunction:: {owner}.{name}\n"


def subpackages(package: ModuleType) -> list[str]:
    """The package's non-private subpackages, e.g. ``mobilenet_mnist.models``."""
    return [f"{package.__name__}.{info.name}" for info in pkgutil.iter_modules(package.__path__)
            if info.ispkg and not info.name.startswith("_")]


def _assigned_in(module: str, name: str) -> bool:
    """Whether ``module``'s source assigns ``name`` at its top level (imports do not count)."""
    path = getattr(sys.modules.get(module), "__file__", None)
    if not path or not path.endswith(".py"):
        return False
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AnnAssign, ast.AugAssign)) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
    return False


def module_defining(owner: str, name: str, obj: Any) -> str:
    """The module that defines ``obj``, which ``owner`` exports as ``name``.

    Classes and functions say it in ``__module__``; a constant is found as the module whose
    source assigns it, looked for inside ``owner`` first (``owner`` itself when none does).
    """
    module = getattr(obj, "__module__", None)
    if (inspect.isclass(obj) or inspect.isroutine(obj)) and isinstance(module, str):
        return module
    root = owner.split(".")[0]
    for scope in (owner, root):  # inside owner first, then anywhere in the package
        candidates = [m for m in sorted(sys.modules) if m == scope or m.startswith(scope + ".")]
        found = next((m for m in candidates if getattr(sys.modules[m], name, None) is obj and _assigned_in(m, name)),
                     None)
        if found:
            return found
    return owner


def documented_elsewhere(package: ModuleType) -> dict[str, list[tuple[str, str]]]:
    """``{defining module: [(owner, name)]}`` for every public name outside ``package.__all__``.

    ``owner`` is the path the name is documented under: the subpackage whose ``__all__``
    has it (the one that defines it, when several export it), else the module whose own
    ``__all__`` has it. Each object appears once: a name that is already public higher up
    (the same object) is skipped.
    """
    claimed = {(name, id(getattr(package, name))) for name in package.__all__}
    sections = set(submodules(package))  # the modules that get a section of their own
    homes: dict[str, list[tuple[str, str]]] = {}

    def claim(owner: str, mod: ModuleType, name: str) -> None:
        obj = getattr(mod, name)
        if (name, id(obj)) in claimed:
            return
        claimed.add((name, id(obj)))
        defining = module_defining(owner, name, obj)
        homes.setdefault(defining if defining in sections else owner, []).append((owner, name))

    exports = [(owner, importlib.import_module(owner)) for owner in subpackages(package)]
    for defined_inside in (True, False):  # a name's home: the subpackage that defines it, if it exports it
        for owner, mod in exports:
            for name in getattr(mod, "__all__", ()):
                module = getattr(getattr(mod, name), "__module__", None)
                if defined_inside == (isinstance(module, str) and module.startswith(owner + ".")):
                    claim(owner, mod, name)
    modules = [(module, importlib.import_module(module)) for module in submodules(package)]
    for defined_here in (True, False):  # a re-exported name's home: the module that defines it
        for module, mod in modules:
            for name in getattr(mod, "__all__", ()):
                if not name.startswith("_") and defined_here == (module_defining(module, name, getattr(mod, name))
                                                                 == module):
                    claim(module, mod, name)
    return homes


def _heading(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n"


def _summary(obj: Any, name: str, owner: str) -> str:
    """First paragraph of an object's docstring, or of a constant's ``#:`` comment."""
    if _kind(obj) == "data":
        from sphinx.pycode import ModuleAnalyzer

        module = module_defining(owner, name, obj)
        doc = "\n".join(ModuleAnalyzer.for_module(module).find_attr_docs().get(("", name), []))
    else:
        doc = inspect.getdoc(obj) or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def public_names_table(package: ModuleType, subpackage: str,
                       homes: dict[str, list[tuple[str, str]]] | None = None) -> str:
    """A table of every name in ``subpackage.__all__``, linked to where it is documented."""
    homes = documented_elsewhere(package) if homes is None else homes
    mod = importlib.import_module(subpackage)
    documented_as = {(name, id(getattr(importlib.import_module(owner), name))): owner
                     for entries in homes.values() for owner, name in entries}
    exported = set(package.__all__)
    rows = []
    for name in getattr(mod, "__all__", ()):
        obj = getattr(mod, name)
        top = name in exported and getattr(package, name) is obj
        owner = package.__name__ if top else documented_as.get((name, id(obj)), subpackage)
        note = " (also top level)" if top else "" if owner == subpackage else f" (from ``{owner}``)"
        rows.append([f":py:obj:`~{owner}.{name}`{note}", _summary(obj, name, subpackage)])
    if not rows:
        return ""
    return (f"Public names of ``{subpackage}`` (``from {subpackage} import ...``):\n\n"
            + list_table(["name", "what it is"], rows, widths="30 70"))


def _module_section(package: ModuleType, module: str, members: list[str],
                    homes: dict[str, list[tuple[str, str]]]) -> list[str]:
    """A module's docstring, the public names it defines (each under its public path) and,
    for a subpackage, the table of its public names."""
    parts = [_heading(f"``{module}``", "-")]
    if module != PACKAGE:
        parts.append(f".. automodule:: {module}\n")
    if module in subpackages(package):
        parts.append(public_names_table(package, module, homes))
    parts.append(f".. currentmodule:: {PACKAGE}\n")
    parts.extend(_object_doc(PACKAGE, name, getattr(package, name), module) for name in members)
    by_owner: dict[str, list[str]] = {}
    for owner, name in homes.get(module, []):
        by_owner.setdefault(owner, []).append(name)
    for owner, names in by_owner.items():
        if owner == module:
            parts.append(f"Also in ``{module}`` (import them from this module):\n")
        else:
            parts.append(f"Defined here and public in ``{owner}`` (``from {owner} import ...``):\n")
        parts.append(f".. currentmodule:: {owner}\n")
        mod = importlib.import_module(owner)
        parts.extend(_object_doc(owner, name, getattr(mod, name), module) for name in names)
    return parts


def render_topic(package: ModuleType, topic: Topic, modules: dict[str, list[str]],
                 homes: dict[str, list[tuple[str, str]]] | None = None) -> str:
    """The reST page of one topic: summary table, then each module's docstring and members."""
    homes = documented_elsewhere(package) if homes is None else homes
    names = [name for members in modules.values() for name in members]
    callables = [n for n in names if _kind(getattr(package, n)) != "data"]
    parts = [
        f".. _api-{topic.slug}:\n", _heading(topic.title, "="), topic.intro + "\n",
        f".. currentmodule:: {PACKAGE}\n",
    ]
    if callables:
        parts.append(".. autosummary::\n   :nosignatures:\n\n" + "".join(f"   {n}\n" for n in callables))
    for module, members in modules.items():
        parts.extend(_module_section(package, module, members, homes))
    return "\n".join(parts)


def generate_api(package_name: str = PACKAGE) -> list[str]:
    """Write ``generated/api/<topic>.rst`` and the toctree include; return the page slugs."""
    package = importlib.import_module(package_name)
    grouped = group_public_names(package)
    homes = documented_elsewhere(package)
    for topic, modules in grouped.items():
        write_if_changed(API_DIR / f"{topic.slug}.rst", render_topic(package, topic, modules, homes))
    for stale in API_DIR.glob("*.rst"):
        if stale.stem not in {topic.slug for topic in grouped}:
            stale.unlink()
    entries = "".join(f"   /generated/api/{topic.slug}\n" for topic in grouped)
    write_if_changed(INCLUDE_DIR / "api_toctree.rst", f".. toctree::\n   :maxdepth: 2\n\n{entries}")
    return [topic.slug for topic in grouped]
