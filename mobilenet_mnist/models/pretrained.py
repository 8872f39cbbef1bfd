"""Metadata of the published weights, and the registry that names them.

Each published checkpoint is a :class:`PretrainedCfg`: where it lives (Hub repo id, pinned
revision, file name, sha256, size), what it is for (dataset, labels, input size, mean/std)
and how good it is (test accuracy per input side, parameters, multiply-adds). The
registry is data: ``mobilenet_mnist/weights/registry.json`` inside the package, read
lazily on first use, so a publishing step can add entries programmatically (see
:mod:`mobilenet_mnist.hub.publish`) and users can add their own with
:func:`register_pretrained`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..utils.files import atomic_write_bytes
from .archs import unknown_name_message

__all__ = [
    "DEFAULT_HF_ORG",
    "DEFAULT_REVISION",
    "REGISTRY_PATH",
    "WEIGHTS_DIR",
    "PretrainedCfg",
    "atomic_write_bytes",
    "get_pretrained_cfg",
    "list_pretrained",
    "register_pretrained",
    "sha256_file",
    "shipped_weights_path",
    "write_registry_entry",
]

#: Package folder with ``registry.json`` and shipped checkpoints (``<name>/model.safetensors``).
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
REGISTRY_PATH = WEIGHTS_DIR / "registry.json"
#: Hugging Face organisation the project's checkpoints are published under.
DEFAULT_HF_ORG = "mobilenet-mnist"
#: Revision (a Hub tag, ``v`` + the package version) pinned for checkpoints published with
#: this release; earlier checkpoints keep their own. The sha256 pins the content whatever the
#: revision resolves to.
DEFAULT_REVISION = "v0.2.0"
REGISTRY_SCHEMA = 1

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]*[A-Za-z0-9_]$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class PretrainedCfg:
    """Everything known about one published checkpoint.

    Attributes:
        name: Registry name, ``model_name + "." + tag``, e.g. ``"mobilenet_v1_100.mnist"``.
        model_name: Model it fits, e.g. ``"mobilenet_v1_100"``.
        tag: Weight tag, e.g. ``"mnist"``.
        hf_hub_id: Hugging Face Hub repo id, ``"org/name"``.
        hf_hub_revision: Pinned revision (tag, branch or commit) to download.
        sha256: Hex sha256 of the weight file; checked before the tensors are used.
        file_size: Size of the weight file in bytes.
        dataset: Training dataset, e.g. ``"mnist"`` or ``"fashion_mnist"``.
        num_classes: Classifier outputs of the checkpoint.
        labels: One class name per output.
        input_size: Native input as (C, H, W), e.g. ``(1, 32, 32)``.
        mean: Per-channel normalisation mean.
        std: Per-channel normalisation standard deviation.
        width_mult: Width multiplier α of the network.
        test_accuracy: Input side in px → top-1 accuracy (%) on the full test set.
        num_params: Parameters, BatchNorm included.
        macs: Multiply-adds per image at the native input size.
        license: SPDX licence id of the weights.
        recipe: The command that reproduces the checkpoint.
        train_time_s: Wall-clock training time in seconds.
        shipped: Whether the file ships inside the package (works offline).
        filename: File name in the Hub repo.
        arch: Architecture (layer config) name.
        interpolation: Resize interpolation used by the preprocessing.
    """

    name: str
    model_name: str
    tag: str
    hf_hub_id: str
    hf_hub_revision: str
    sha256: str
    file_size: int
    dataset: str
    num_classes: int
    labels: tuple[str, ...]
    input_size: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    width_mult: float
    test_accuracy: dict[int, float] = field(default_factory=dict, hash=False)
    num_params: int = 0
    macs: int = 0
    license: str = "mit"
    recipe: str = ""
    train_time_s: float = 0.0
    shipped: bool = False
    filename: str = "model.safetensors"
    arch: str = "mnist"
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        problems = _validate(self)
        if problems:
            raise ValueError(f"Invalid PretrainedCfg {self.name!r}: " + "; ".join(problems) + ".")

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of all fields (JSON-serialisable; used for ``model.pretrained_cfg``)."""
        out = asdict(self)
        out["test_accuracy"] = dict(self.test_accuracy)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PretrainedCfg:
        """Build from :meth:`to_dict` output or parsed JSON (lists become tuples, keys ints).

        Raises:
            ValueError: For unknown or missing fields, or invalid values.
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"Unknown PretrainedCfg field(s) {unknown}; valid fields: {sorted(known)}."
            )
        values = dict(data)
        for key in ("labels", "input_size", "mean", "std"):
            if key in values:
                values[key] = tuple(values[key])
        if "test_accuracy" in values:
            values["test_accuracy"] = {int(k): float(v) for k, v in values["test_accuracy"].items()}
        try:
            return cls(**values)
        except TypeError as error:  # a missing required field
            name = values.get("name")
            raise ValueError(f"Incomplete PretrainedCfg {name!r}: {error}.") from error


def _validate(cfg: PretrainedCfg) -> list[str]:
    """Problems with ``cfg`` as human-readable strings (empty when valid)."""
    problems = []
    if cfg.name != f"{cfg.model_name}.{cfg.tag}":
        problems.append(f"name must be model_name + '.' + tag = '{cfg.model_name}.{cfg.tag}'")
    if not isinstance(cfg.sha256, str) or not _SHA256.match(cfg.sha256):
        problems.append(f"sha256 must be 64 lowercase hex digits, got {cfg.sha256!r}")
    if not isinstance(cfg.file_size, int) or cfg.file_size <= 0:
        problems.append(f"file_size must be a positive int (bytes), got {cfg.file_size!r}")
    if not isinstance(cfg.hf_hub_id, str) or not _REPO_ID.match(cfg.hf_hub_id):
        problems.append(f"hf_hub_id must look like 'org/name', got {cfg.hf_hub_id!r}")
    if not cfg.hf_hub_revision:
        problems.append("hf_hub_revision must be a non-empty tag, branch or commit")
    if len(cfg.input_size) != 3:
        problems.append(f"input_size must be (C, H, W), got {cfg.input_size!r}")
    elif not len(cfg.mean) == len(cfg.std) == cfg.input_size[0]:
        problems.append(f"mean and std need {cfg.input_size[0]} value(s), one per input channel")
    if len(cfg.labels) != cfg.num_classes:
        problems.append(
            f"labels has {len(cfg.labels)} entries but num_classes is {cfg.num_classes}"
        )
    bad = {k: v for k, v in cfg.test_accuracy.items() if not 0.0 <= v <= 100.0}
    if bad:
        problems.append(f"test_accuracy values are percentages in [0, 100], got {bad}")
    if "/" in cfg.filename or not cfg.filename.endswith(".safetensors"):
        problems.append(f"filename must be a plain '*.safetensors' name, got {cfg.filename!r}")
    return problems


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
    """Parse a registry JSON file (``{"schema": 1, "weights": [...]}``).

    Raises:
        ValueError: If the file is not a valid registry; the message names the file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"Cannot read the weight registry {path}: {error}") from error
    if not isinstance(data, dict) or data.get("schema") != REGISTRY_SCHEMA:
        raise ValueError(
            f"Weight registry {path} must be a JSON object with \"schema\": {REGISTRY_SCHEMA} "
            "and a \"weights\" list."
        )
    try:
        return [PretrainedCfg.from_dict(entry) for entry in data.get("weights", [])]
    except ValueError as error:
        raise ValueError(f"Weight registry {path}: {error}") from error


def register_pretrained(cfg: PretrainedCfg, *, overwrite: bool = False) -> PretrainedCfg:
    """Add weights to the in-memory registry so ``pretrained=True`` and ``create_model`` find them.

    Args:
        cfg: The checkpoint's metadata; ``cfg.name`` becomes its key.
        overwrite: Replace an existing entry of the same name instead of raising.

    Returns:
        ``cfg``, unchanged.

    Raises:
        TypeError: If ``cfg`` is not a :class:`PretrainedCfg`.
        ValueError: If the name is taken and ``overwrite`` is False.
    """
    if not isinstance(cfg, PretrainedCfg):
        raise TypeError(f"register_pretrained expects a PretrainedCfg, got {type(cfg).__name__}.")
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
    """Metadata of registered weights, by ``model_name.tag`` name.

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
        ValueError: If an entry of that name exists and ``overwrite`` is False.
    """
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


# ------------------------------------------------------------------------- file helpers
def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


