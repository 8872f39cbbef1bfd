"""Resolve references to an object's defining-module path through its public alias.

Type hints name objects where they are defined (``torch.nn.modules.module.Module``,
``mobilenet_mnist.hub.core.save_pretrained``) while documentation and inventories list the
public path (``torch.nn.Module``, ``mobilenet_mnist.save_pretrained``). On a missing
Python reference this handler imports the target, looks for shorter dotted paths that
name the very same object, and retries the reference with each of them: first against
this project's objects, then against the intersphinx inventories. Failing that, a name
that matches exactly one documented object by its last components resolves to it.
"""

from __future__ import annotations

import importlib
import sys
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
    """Public aliases of the target, read as absolute and relative to the current module."""
    target = node.get("reftarget", "")
    yield from public_aliases(target)
    module = node.get("py:module")
    if module and not target.startswith(module + "."):
        yield from public_aliases(f"{module}.{target}")


def unique_suffix_match(domain: Any, target: str, reftype: str) -> str | None:
    """The one documented object whose full name ends with ``.target``, if exactly one.

    Lets a docstring say ``:func:`model_config``` inside ``mobilenet_mnist.hub.core`` although
    the page documents the calling function under its package-level name.
    """
    objtypes = set(domain.objtypes_for_role(reftype) or ())
    suffix = "." + target.lstrip(".")
    matches = [name for name, entry in domain.objects.items()
               if name.endswith(suffix) and entry.objtype in objtypes and not entry.aliased]
    return matches[0] if len(matches) == 1 else None


def resolve_public_alias(app: Any, env: Any, node: Any, contnode: nodes.Element) -> Any:
    """``missing-reference`` handler: retry Python references under their public names."""
    if node.get("refdomain") != "py":
        return None
    from sphinx.ext import intersphinx

    domain = env.get_domain("py")
    candidates = list(_candidates(node))
    unique = unique_suffix_match(domain, node.get("reftarget", ""), node["reftype"])
    for alias in [*candidates, *([unique] if unique else [])]:
        retry = node.deepcopy()
        retry["reftarget"] = alias
        found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], alias,
                                    retry, contnode)
        if found is None:
            found = intersphinx.missing_reference(app, env, retry, contnode)
        if found is not None:
            return found
    return None
