"""Reading weight files safely: size, sha256 and safetensors layout, then the tensors.

Only safetensors files are read (never pickle). A file is read once, in chunks, while
its sha256 is computed; its size, sha256 and safetensors layout are checked before any
tensor is built from those same bytes, so a file that changes on disk in between cannot
slip through. Fitting the tensors to a model lives in :mod:`.adapt`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..utils.files import read_and_hash
from .adapt import adapt_first_conv, fit_state_dict  # their 0.2.0 home; kept importable from here

__all__ = [
    "Checkpoint",
    "adapt_first_conv",
    "fit_state_dict",
    "read_checkpoint",
    "remove_from_hf_cache",
]

logger = logging.getLogger(__name__)

_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


@dataclass
class Checkpoint:
    """Tensors and safetensors metadata of a verified weight file.

    Attributes:
        path: The file read.
        tensors: Name → tensor (on CPU).
        metadata: The string→string ``__metadata__`` of the file.
        sha256: Hex sha256 of the file.
        file_size: Size of the file in bytes.
    """

    path: Path
    tensors: dict[str, torch.Tensor]
    metadata: dict[str, str] = field(default_factory=dict)
    sha256: str = ""
    file_size: int = 0


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
    data, digest = read_and_hash(path)
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

    return Checkpoint(path, load_safetensors(data), metadata, digest, len(data))


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
