"""Reading weight files safely, and fitting their tensors to a model.

Only safetensors files are read (never pickle). A file is read once, in chunks, while
its sha256 is computed; its size, sha256 and safetensors layout are checked before any
tensor is built from those same bytes, so a file that changes on disk in between cannot
slip through. :func:`fit_state_dict` then checks the tensors against the model (keys and
shapes) and applies the adaptation policy (new classifier, adapted first conv).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .mobilenet import MobileNetV1

__all__ = [
    "Checkpoint",
    "adapt_first_conv",
    "fit_state_dict",
    "read_checkpoint",
    "remove_from_hf_cache",
]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
_LIST_LIMIT = 8


@dataclass
class Checkpoint:
    """Tensors and safetensors metadata of a verified weight file.

    Attributes:
        path: The file read.
        tensors: Name → tensor (on CPU).
        metadata: The string→string ``__metadata__`` of the file.
        sha256: Hex sha256 of the file.
    """

    path: Path
    tensors: dict[str, torch.Tensor]
    metadata: dict[str, str] = field(default_factory=dict)
    sha256: str = ""


def read_checkpoint(
    path: str | Path, *, sha256: str | None = None, file_size: int | None = None
) -> Checkpoint:
    """Read a ``.safetensors`` file after checking its size, sha256 and layout.

    Args:
        path: The weight file.
        sha256: Expected hex sha256, or None to skip the content pin (user files).
        file_size: Expected size in bytes, or None.

    Returns:
        The verified :class:`Checkpoint`.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is a pickle format, has the wrong size or sha256, or is
            truncated or not a safetensors file; the message says what was expected and found.
    """
    path = Path(path)
    if path.suffix.lower() in _PICKLE_SUFFIXES:
        raise ValueError(
            f"Refusing to load {path}: {path.suffix} files are pickles, which can run code when "
            "loaded. Convert the weights to .safetensors (safetensors.torch.save_file) first."
        )
    if not path.is_file():
        raise FileNotFoundError(f"Weight file {path} does not exist.")
    data, digest = _read_and_hash(path)
    if file_size is not None and len(data) != file_size:
        raise ValueError(
            f"Weight file {path} has the wrong size: expected {file_size} bytes (sha256 "
            f"{sha256}), found {len(data)} bytes (sha256 {digest}). The file is truncated or "
            "not the published one; it was not loaded."
        )
    if sha256 is not None and digest != sha256.lower():
        raise ValueError(
            f"sha256 mismatch for {path}: expected {sha256.lower()}, found {digest}. The file "
            "is corrupted or was tampered with; it was not loaded."
        )
    metadata = _check_layout(path, data)
    from safetensors.torch import load as load_safetensors

    return Checkpoint(path, load_safetensors(data), metadata, digest)


def _read_and_hash(path: Path) -> tuple[bytes, str]:
    """Read a file in chunks, hashing as it goes; return its bytes and hex sha256."""
    digest = hashlib.sha256()
    parts = []
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            parts.append(chunk)
    return b"".join(parts), digest.hexdigest()


def _check_layout(path: Path, data: bytes) -> dict[str, str]:
    """Check the safetensors header against the file size; return its metadata.

    Layout: 8-byte little-endian header length n, n bytes of JSON, then the tensor data
    whose extent the header's ``data_offsets`` give.
    """
    size = len(data)
    header_len = int.from_bytes(data[:8], "little") if size >= 8 else -1
    if header_len <= 0 or header_len > _MAX_HEADER or 8 + header_len > size:
        raise ValueError(
            f"{path} is not a complete safetensors file: its {size} bytes cannot hold the "
            f"header it announces ({header_len} bytes). The file is truncated or not safetensors."
        )
    try:
        header = json.loads(data[8 : 8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} has an unreadable safetensors header: {error}.") from error
    if not isinstance(header, dict):
        raise ValueError(f"{path} has an invalid safetensors header (not a JSON object).")
    metadata = header.pop("__metadata__", None) or {}
    entries = [entry for entry in header.values() if isinstance(entry, dict)]
    ends = [entry.get("data_offsets", [0, 0])[1] for entry in entries]
    expected = 8 + header_len + max(ends, default=0)
    if expected != size:
        raise ValueError(
            f"{path} is truncated or padded: its header describes {expected} bytes, found "
            f"{size} bytes."
        )
    return {str(k): str(v) for k, v in metadata.items()}


def remove_from_hf_cache(path: str | Path) -> None:
    """Delete a file served by the Hugging Face cache: its snapshot entry and its blob.

    ``path`` is what ``hf_hub_download`` returned: ``.../snapshots/<commit>/<file>``,
    normally a symlink to ``.../blobs/<hash>``. Anything not laid out like that is left
    alone, so user files are never deleted.
    """
    path = Path(path)
    if path.parent.parent.name != "snapshots":
        return
    blob = Path(os.path.realpath(path))  # resolve before the link goes away
    targets = [path] + ([blob] if blob != path and blob.parent.name == "blobs" else [])
    for target in targets:
        target.unlink(missing_ok=True)
        logger.warning("Removed rejected file %s from the Hugging Face cache.", target)


def adapt_first_conv(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """Adapt a first-conv kernel ``(out, c, k, k)`` to ``in_chans`` input channels.

    The kernel is summed over its input channels and repeated ``in_chans`` times, divided
    by ``in_chans``. A gray image given as the same plane in every channel therefore
    yields exactly the features the original kernel gives on that plane (e.g. a 1-channel
    MNIST kernel used on a gray RGB image).
    """
    summed = weight.sum(dim=1, keepdim=True)
    return summed.repeat(1, in_chans, 1, 1) / in_chans


def fit_state_dict(
    model: MobileNetV1, tensors: dict[str, torch.Tensor], *, source: str, found: str = ""
) -> tuple[dict[str, torch.Tensor], bool]:
    """Check checkpoint tensors against ``model`` and apply the adaptation policy.

    Policy: a classifier with another number of classes is dropped (the caller gives the
    model a fresh head); a first conv with another number of input channels is adapted
    by :func:`adapt_first_conv`. Anything else that differs is an error.

    Args:
        model: The model that will receive the weights.
        tensors: The checkpoint's state dict.
        source: Where the checkpoint came from, for messages.
        found: What the checkpoint's metadata says it is, for messages.

    Returns:
        The tensors to load, and whether the classifier was dropped.

    Raises:
        ValueError: If keys are missing or unexpected, or shapes differ; the message
            lists them with expected and found shapes.
    """
    expected = model.state_dict()
    state = dict(tensors)
    head = [k for k in state if k.startswith("classifier.")]
    ckpt_classes = state["classifier.weight"].shape[0] if "classifier.weight" in state else 0
    drop_head = ckpt_classes != model.num_classes
    if drop_head:
        for key in head:
            del state[key]
        logger.info(
            "%s has %d classes, the model %d: loaded the backbone only; the classifier is "
            "freshly initialised.", source, ckpt_classes, model.num_classes,
        )
    _adapt_stem(state, expected, model.in_chans, source)
    missing = [
        k for k in expected if k not in state and not (drop_head and k.startswith("classifier."))
    ]
    unexpected = sorted(k for k in state if k not in expected)
    mismatched = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or mismatched:
        shapes = [
            f"{k}: expected {tuple(expected[k].shape)}, found {tuple(state[k].shape)}"
            for k in mismatched
        ]
        raise ValueError(_mismatch_message(model, source, found, missing, unexpected, shapes))
    return state, drop_head


def _adapt_stem(
    state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], in_chans: int, source: str
) -> None:
    key = "stem.conv.weight"
    if key not in state or key not in expected:
        return
    weight, target = state[key], expected[key]
    same_kernel = weight.dim() == 4 and (weight.shape[0], *weight.shape[2:]) == (
        target.shape[0], *target.shape[2:]
    )
    if same_kernel and weight.shape[1] != in_chans:
        state[key] = adapt_first_conv(weight, in_chans)
        logger.info(
            "%s: adapted the first conv from %d to %d input channels (sum, repeat, divide by %d).",
            source, weight.shape[1], in_chans, in_chans,
        )


def _mismatch_message(
    model: MobileNetV1, source: str, found: str, missing: list[str], unexpected: list[str],
    shapes: list[str],
) -> str:
    parts = [
        f"The checkpoint {source} does not fit this model. Expected: "
        f"arch={model.arch.name!r}, width_mult={model.width_mult}, in_chans={model.in_chans}, "
        f"num_classes={model.num_classes}."
    ]
    if found:
        parts.append(f"Found (checkpoint metadata): {found}.")
    for label, items in (("Missing keys", missing), ("Unexpected keys", unexpected),
                         ("Shape mismatches", shapes)):
        if items:
            shown = ", ".join(items[:_LIST_LIMIT])
            more = f", ... and {len(items) - _LIST_LIMIT} more" if len(items) > _LIST_LIMIT else ""
            parts.append(f"{label} ({len(items)}): {shown}{more}.")
    parts.append(
        "Build the model with the checkpoint's arch and width_mult, or use "
        "mobilenet_mnist.from_pretrained(), which reads them from the checkpoint."
    )
    return " ".join(parts)
