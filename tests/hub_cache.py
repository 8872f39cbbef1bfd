"""Test helper: put a checkpoint folder into a Hugging Face cache, as a download would.

``hf_hub_download`` with ``HF_HUB_OFFLINE=1`` (or without a network) resolves
``cache_dir/models--<org>--<name>/refs/<revision>`` to a commit hash and returns
``snapshots/<commit>/<filename>``, a symlink to ``blobs/<hash>``. Seeding that layout
lets tests exercise the real Hub code path with no network. Usage::

    from hub_cache import seed_hf_cache, set_hf_offline

    def test_published(tmp_path, monkeypatch):
        cfg = get_pretrained_cfg("mobilenet_v1_050.mnist")
        seed_hf_cache(REPO_ROOT / "hub" / cfg.name, tmp_path, cfg.hf_hub_id,
                      revision=cfg.hf_hub_revision)
        set_hf_offline(monkeypatch, cache_dir=tmp_path)
        model = mobilenet_v1(pretrained=True, width_mult=0.5)
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

__all__ = ["repo_cache_folder", "seed_hf_cache", "set_hf_offline", "use_temp_registry"]


def repo_cache_folder(cache_dir: str | Path, repo_id: str) -> Path:
    """The cache folder of a model repo: ``cache_dir/models--org--name``."""
    return Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))


def seed_hf_cache(
    folder: str | Path,
    cache_dir: str | Path,
    repo_id: str,
    *,
    revision: str = "main",
    commit: str | None = None,
) -> Path:
    """Copy every file of ``folder`` into ``cache_dir`` as a cached snapshot of ``repo_id``.

    Args:
        folder: A Hub-layout folder (e.g. written by ``save_pretrained``).
        cache_dir: The Hugging Face cache to seed (pass it as ``cache_dir=``).
        repo_id: ``"org/name"``.
        revision: Branch or tag whose ref points at the snapshot.
        commit: 40-hex commit id; default: ``revision`` if it is one, else derived from
            repo id and revision.

    Returns:
        The snapshot folder.
    """
    if commit is None and re.fullmatch(r"[0-9a-f]{40}", revision):
        commit = revision  # a pinned commit: the snapshot folder must carry its name
    commit = commit or hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()
    repo = repo_cache_folder(cache_dir, repo_id)
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for file in sorted(Path(folder).iterdir()):
        if not file.is_file():
            continue
        data = file.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snapshot / file.name
        link.unlink(missing_ok=True)
        os.symlink(os.path.relpath(blob, snapshot), link)  # as huggingface_hub lays it out
    ref = repo / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit)  # no newline: huggingface_hub reads the file verbatim
    return snapshot


def set_hf_offline(monkeypatch: pytest.MonkeyPatch, cache_dir: str | Path | None = None) -> None:
    """Switch huggingface_hub to offline mode (and optionally its default cache) for one test.

    huggingface_hub reads ``HF_HUB_OFFLINE`` and ``HF_HUB_CACHE`` into ``constants`` at
    import time, so the environment variables alone do not reach an imported library.
    """
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    if cache_dir is not None:
        monkeypatch.setenv("HF_HUB_CACHE", str(cache_dir))
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache_dir))


def use_temp_registry(monkeypatch: pytest.MonkeyPatch, root: str | Path) -> Path:
    """Give ``mobilenet_mnist.models.pretrained`` an empty registry and weights folder under ``root``.

    Returns:
        The temporary weights folder (its ``registry.json`` does not exist yet).
    """
    from mobilenet_mnist.models import pretrained

    weights_dir = Path(root) / "package_weights"
    weights_dir.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", weights_dir)
    monkeypatch.setattr(pretrained, "REGISTRY_PATH", weights_dir / "registry.json")
    monkeypatch.setattr(pretrained, "_REGISTRY", {})
    return weights_dir
