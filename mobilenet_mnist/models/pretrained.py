"""The registry of published weights: ``registry.json``, and register/get/list.

Each published checkpoint is a :class:`~.pretrained_cfg.PretrainedCfg`: where it lives (Hub
repo id, pinned revision, file name, sha256, size), what it is for (dataset, labels, input
size, mean/std) and how good it is (``metrics["test_accuracy"]`` per input side, parameters,
multiply-adds). The registry is data: ``mobilenet_mnist/weights/registry.json`` inside the
package (``{"schema": 2, "weights": [PretrainedCfg.to_dict(), ...]}``), read lazily on first
use, so a publishing step can add entries programmatically (see
:mod:`mobilenet_mnist.hub.publish`) and users can add their own with :func:`register_pretrained`.
Entries are keyed by their name, ``architecture.tag`` (e.g. ``"mobilenet_v1_100.mnist"``).
"""

from __future__ import annotations

import fnmatch
import json
import threading
from pathlib import Path

from ..utils.files import atomic_write_bytes
from ..utils.names import unknown_name_message
from .pretrained_cfg import PretrainedCfg, upgrade_legacy_record

__all__ = [
    "DEFAULT_HF_ORG",
    "DEFAULT_REVISION",
    "REGISTRY_PATH",
    "WEIGHTS_DIR",
    "PretrainedCfg",
    "get_pretrained_cfg",
    "list_pretrained",
    "read_registry_file",
    "register_pretrained",
    "shipped_weights_path",
    "write_registry_entry",
]

#: Package folder with ``registry.json`` and shipped checkpoints (``<name>/model.safetensors``).
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
#: The package's weight registry file.
REGISTRY_PATH = WEIGHTS_DIR / "registry.json"
#: Hugging Face organisation the project's checkpoints are published under.
DEFAULT_HF_ORG = "mobilenet-mnist"
#: Revision (a Hub tag, ``v`` + the package version) pinned for checkpoints published with
#: this release; a release refreshes every registered checkpoint's Hub folder and pins it to
#: its tag (``mobilenet-mnist publish --refresh``). The sha256 pins the content whatever the
#: revision resolves to.
DEFAULT_REVISION = "v0.3.0"
#: Registry file format written; schema 1 (0.2.0: ``model_name``, top-level ``test_accuracy``)
#: is still read.
REGISTRY_SCHEMA = 2
_READABLE_SCHEMAS = (1, 2)


# ------------------------------------------------------------------------- registry
_REGISTRY: dict[str, PretrainedCfg] | None = None
_LOCK = threading.Lock()


def _registry() -> dict[str, PretrainedCfg]:
    """The registry, read from :data:`REGISTRY_PATH` on first use."""
    global _REGISTRY
    with _LOCK:
        if _REGISTRY is None:
            _REGISTRY = {cfg.name: cfg for cfg in read_registry_file(REGISTRY_PATH)}
        return _REGISTRY


def read_registry_file(path: str | Path) -> list[PretrainedCfg]:
    """Parse a registry JSON file (``{"schema": 2, "weights": [...]}``; schema 1 is upgraded).

    Raises:
        ValueError: If the file is not a valid registry or an entry lacks its weights'
            location and pins; the message names the file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"Cannot read the weight registry {path}: {error}") from error
    if not isinstance(data, dict) or data.get("schema") not in _READABLE_SCHEMAS:
        raise ValueError(
            f"Weight registry {path} must be a JSON object with \"schema\": {REGISTRY_SCHEMA} "
            "and a \"weights\" list."
        )
    try:
        entries = [PretrainedCfg.from_dict(upgrade_legacy_record(entry)) for entry in data.get("weights", [])]
        for cfg in entries:
            cfg.check_published()
    except ValueError as error:
        raise ValueError(f"Weight registry {path}: {error}") from error
    return entries


def register_pretrained(cfg: PretrainedCfg, *, overwrite: bool = False) -> PretrainedCfg:
    """Add weights to the in-memory registry so ``pretrained=True`` and ``create_model`` find them.

    Args:
        cfg: The checkpoint's metadata; ``cfg.name`` becomes its key.
        overwrite: Replace an existing entry of the same name instead of raising.

    Returns:
        ``cfg``, unchanged.

    Raises:
        TypeError: If ``cfg`` is not a :class:`PretrainedCfg`.
        ValueError: If the name is taken and ``overwrite`` is False, or ``cfg`` does not say
            where its weights are (see :meth:`PretrainedCfg.check_published`).
    """
    if not isinstance(cfg, PretrainedCfg):
        raise TypeError(f"register_pretrained expects a PretrainedCfg, got {type(cfg).__name__}.")
    cfg.check_published()
    registry = _registry()
    with _LOCK:
        if cfg.name in registry and not overwrite:
            raise ValueError(
                f"Pretrained weights {cfg.name!r} are already registered; use another tag or "
                "pass overwrite=True."
            )
        registry[cfg.name] = cfg
    return cfg


def get_pretrained_cfg(name: str) -> PretrainedCfg:
    """Metadata of registered weights, by ``architecture.tag`` name.

    Raises:
        TypeError: If ``name`` is not a str.
        KeyError: For an unknown name, with the closest valid name and the full list.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"Pretrained weights are named by a str such as 'mobilenet_v1_100.mnist', got {type(name).__name__}."
        )
    registry = _registry()
    if name in registry:
        return registry[name]
    valid = list_pretrained()
    if not valid:
        raise KeyError(
            f"Unknown pretrained weights {name!r}: no weights are registered in this install. "
            "Pass pretrained='path/to/model.safetensors', a saved folder or a Hub repo id "
            "instead, or add an entry with register_pretrained()."
        )
    raise KeyError(unknown_name_message("pretrained weights", name, valid))


def list_pretrained(pattern: str = "*") -> list[str]:
    """Names of registered weights matching a shell-style wildcard, sorted.

    Example:
        ``list_pretrained("*_050*")`` → ``["mobilenet_v1_050.mnist", ...]``.
    """
    return sorted(fnmatch.filter(_registry(), pattern))


def shipped_weights_path(cfg: PretrainedCfg) -> Path:
    """Where the package keeps the file of a ``shipped`` entry (it may be absent)."""
    return WEIGHTS_DIR / cfg.name / cfg.filename


def write_registry_entry(
    cfg: PretrainedCfg, path: str | Path | None = None, *, overwrite: bool = False
) -> Path:
    """Add or replace ``cfg`` in a registry JSON file, atomically, and register it in memory.

    Args:
        cfg: The entry to write.
        path: Registry file; defaults to the package's :data:`REGISTRY_PATH`. A missing
            file is created.
        overwrite: Replace an entry of the same name instead of raising.

    Returns:
        The registry file path.

    Raises:
        ValueError: If an entry of that name exists and ``overwrite`` is False, or ``cfg``
            does not say where its weights are.
    """
    cfg.check_published()
    path = Path(path) if path is not None else REGISTRY_PATH
    entries = {c.name: c for c in read_registry_file(path)} if path.exists() else {}
    if cfg.name in entries and not overwrite:
        raise ValueError(
            f"{path} already has an entry {cfg.name!r}; pass overwrite=True to replace it."
        )
    entries[cfg.name] = cfg
    data = {"schema": REGISTRY_SCHEMA, "weights": [entries[n].to_dict() for n in sorted(entries)]}
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
    if path.resolve() == REGISTRY_PATH.resolve():
        register_pretrained(cfg, overwrite=True)
    return path
