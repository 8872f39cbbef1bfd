"""Resolve references to an object's defining-module path through its public alias.

Type hints name objects where they are defined (``torch.nn.modules.module.Module``,
``mobilenet_mnist.models.profile.profile_model``) while documentation and inventories list the
public path (``torch.nn.Module``, ``mobilenet_mnist.profile_model``). On a missing
Python reference this handler imports the target, looks for shorter dotted paths that
name the very same object, and retries the reference with each of them: first against
this project's objects, then against the intersphinx inventories. Failing that, a name
that matches exactly one documented object by its last components resolves to it, and
so does a path to a class or function that is documented under another path. Paths kept
only for compatibility (importing them emits a ``DeprecationWarning``) never resolve: the
docstring must name the current path.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Iterator
from typing import Any

from docutils import nodes

_MISSING = object()


def import_dotted(path: str) -> Any:
    """The object at ``path`` (``pkg.module.attr.attr``), or a sentinel when it does not exist.

    Only packages already imported by the build are searched, so a stray reference can
    never import new code.
    """
    parts = path.split(".")
    if parts[0] not in sys.modules:
        return _MISSING
    for split in range(len(parts), 0, -1):
        module_name = ".".join(parts[:split])
        if module_name not in sys.modules and split > 1:
            try:
                importlib.import_module(module_name)
            except ImportError:
                continue
        obj: Any = sys.modules.get(module_name, _MISSING)
        for attr in parts[split:]:
            obj = getattr(obj, attr, _MISSING)
        if obj is not _MISSING:
            return obj
    return _MISSING


def public_aliases(target: str) -> Iterator[str]:
    """Shorter dotted paths (dropping inner module names) that name the same object."""
    obj = import_dotted(target)
    if obj is _MISSING:
        return
    parts = target.split(".")
    for keep in range(1, len(parts) - 1):
        alias = ".".join([*parts[:keep], parts[-1]])
        if import_dotted(alias) is obj:
            yield alias


def _candidates(node: Any) -> Iterator[str]:
    """Public aliases of the target, read as absolute and relative to the current module and
    each package above it (``pretrained.list_pretrained`` inside ``mobilenet_mnist.models.x``)."""
    target = node.get("reftarget", "").lstrip(".~")
    yield from public_aliases(target)
    module = node.get("py:module") or ""
    parts = module.split(".")
    for keep in range(len(parts), 0, -1):
        base = ".".join(parts[:keep])
        if not target.startswith(base + "."):
            yield f"{base}.{target}"
            yield from public_aliases(f"{base}.{target}")


def unique_suffix_match(domain: Any, target: str, reftype: str) -> str | None:
    """The one documented object whose full name ends with ``.target``, if exactly one.

    Lets a docstring say ``:class:`ModelCost``` inside ``mobilenet_mnist.models.profile`` although
    the page documents the calling function under its package-level name.
    """
    objtypes = set(domain.objtypes_for_role(reftype) or ())
    suffix = "." + target.lstrip(".")
    matches = [name for name, entry in domain.objects.items()
               if name.endswith(suffix) and entry.objtype in objtypes and not entry.aliased]
    return matches[0] if len(matches) == 1 else None


def _import_current(path: str) -> Any:
    """The object at ``path``, or the sentinel when it does not exist or the path is deprecated
    (a path kept only for compatibility must be rewritten, not silently resolved)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obj = import_dotted(path)
    return _MISSING if any(issubclass(w.category, DeprecationWarning) for w in caught) else obj


def same_object_match(domain: Any, target: str, reftype: str) -> str | None:
    """The one documented object that *is* the object at ``target`` (a class or function).

    Resolves a defining-module path such as ``mobilenet_mnist.data.convert.tensors_from_dataset``
    to the path the object is documented under (``mobilenet_mnist.training.tensors_from_dataset``),
    which dropping inner module names cannot reach.
    """
    obj = _import_current(target)
    if obj is _MISSING or not callable(obj):
        return None
    objtypes = set(domain.objtypes_for_role(reftype) or ())
    last = target.rpartition(".")[2]
    matches = [name for name, entry in domain.objects.items()
               if entry.objtype in objtypes and not entry.aliased and name.rpartition(".")[2] == last
               and _import_current(name) is obj]
    return matches[0] if len(matches) == 1 else None


def resolve_public_alias(app: Any, env: Any, node: Any, contnode: nodes.Element) -> Any:
    """``missing-reference`` handler: retry Python references under their public names."""
    if node.get("refdomain") != "py":
        return None
    from sphinx.ext import intersphinx

    domain = env.get_domain("py")
    target = node.get("reftarget", "")
    candidates = list(dict.fromkeys(_candidates(node)))
    unique = unique_suffix_match(domain, target, node["reftype"])
    same = same_object_match(domain, target.lstrip(".~"), node["reftype"])
    for alias in [*candidates, *([unique] if unique else []), *([same] if same else [])]:
        retry = node.deepcopy()
        retry["reftarget"] = alias
        found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], alias,
                                    retry, contnode)
        if found is None:
            found = intersphinx.missing_reference(app, env, retry, contnode)
        if found is not None:
            return found
    return None
