"""Where weights come from: a registered name, a shipped file, a local folder or file, a Hub repo.

:func:`resolve_weights` turns what a user names into a :class:`WeightsSource`: a weight file on
disk plus what is known about it before it is read (its :class:`~.config.SavedConfig` and the
size and sha256 it must have). For a registered name such as ``"mobilenet_v1_100.mnist"``:

1. the file shipped inside the package (entries with ``shipped=True``; works offline);
2. the Hugging Face cache, at the registry's pinned revision (no network needed);
3. ``huggingface_hub.hf_hub_download`` at that revision, once a single quick request
   (:data:`HUB_PROBE_TIMEOUT_S`, no retries) has shown that the Hub answers;
4. otherwise :class:`WeightsUnavailableError`, at once, saying what works offline.

A Hub repo id (``"user/repo"``) is asked for on the network first (its ``main`` may have
moved) and falls back to the cache when the Hub does not answer. A local folder is read
with its ``config.json``, whose ``weights`` block pins the file's size and sha256.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import CONFIG_NAME, LIBRARY_NAME, WEIGHTS_NAME, SavedConfig, config_for_record, read_config
from .pretrained import get_pretrained_cfg, list_pretrained, shipped_weights_path
from .pretrained_cfg import PretrainedCfg, is_repo_id

__all__ = ["HUB_PROBE_TIMEOUT_S", "WeightsSource", "WeightsUnavailableError", "resolve_weights"]

logger = logging.getLogger(__name__)

#: Seconds to wait for the Hub's answer to one metadata request before calling it unreachable.
HUB_PROBE_TIMEOUT_S = 3.0


class WeightsUnavailableError(RuntimeError):
    """Published weights are neither shipped, cached nor downloadable right now."""


@dataclass(frozen=True)
class WeightsSource:
    """A weight file to read, with what is known about it before reading.

    Attributes:
        path: The ``.safetensors`` file.
        description: Where it came from, for messages and ``pretrained_cfg["source"]``.
        config: What the file is (registry entry or ``config.json``), if known.
        sha256: The sha256 the file must have, or None (no pin).
        file_size: The size in bytes the file must have, or None.
        from_hf_cache: Whether the file lives in the Hugging Face cache (a bad one is removed).
    """

    path: Path
    description: str
    config: SavedConfig | None = None
    sha256: str | None = None
    file_size: int | None = None
    from_hf_cache: bool = False


@dataclass(frozen=True)
class _HubFile:
    repo_id: str
    filename: str
    revision: str | None
    cache_dir: str | Path | None
    token: str | None = None


def resolve_weights(
    source: str | os.PathLike[str] | PretrainedCfg, *, revision: str | None = None,
    cache_dir: str | Path | None = None, token: str | None = None,
) -> WeightsSource:
    """Turn a registered name, local path or Hub repo id into a :class:`WeightsSource`.

    Args:
        source: ``"mobilenet_v1_100.mnist"`` (see :func:`~.pretrained.list_pretrained`), a
            ``.safetensors`` file, a folder written by ``save_pretrained``, ``"user/repo"``, or
            a :class:`PretrainedCfg` record (e.g. a registered one with fields replaced by
            ``create_model(..., pretrained_cfg_overlay=...)``), found as a registered name is.
        revision: Hub revision; for a registered name it replaces the pinned one (the
            registry's sha256 is still enforced).
        cache_dir: Hugging Face cache folder (default: ``HF_HUB_CACHE``).
        token: Hub token for private repos.

    Raises:
        TypeError: If ``source`` is not a str or path.
        KeyError: For an unknown registered name (with a suggestion).
        FileNotFoundError: For a path that does not exist and is no repo id.
        WeightsUnavailableError: If Hub weights are neither cached nor downloadable.
    """
    if isinstance(source, PretrainedCfg):
        return _registered(source, _HubFile("", "", revision, cache_dir, token))
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            "Weights must be named by a str or path (a registered name such as "
            f"'mobilenet_v1_100.mnist', a file or folder, or a Hub repo id), got {type(source).__name__}."
        )
    text = str(source)
    if text in list_pretrained():  # before paths: a registered name always means the pinned file
        return _registered(get_pretrained_cfg(text), _HubFile("", "", revision, cache_dir, token))
    path = Path(text).expanduser()
    if path.exists():
        return _local(path)
    if "/" not in text and "\\" not in text and not text.endswith(".safetensors"):
        try:
            cfg = get_pretrained_cfg(text)
        except KeyError as error:
            raise KeyError(f"{error.args[0]} No file or folder of that name exists either.") from None
        return _registered(cfg, _HubFile("", "", revision, cache_dir, token))
    if is_repo_id(text):
        return _repo(_HubFile(text, WEIGHTS_NAME, revision, cache_dir, token))
    raise FileNotFoundError(
        f"Weights {text!r} not found: it is no existing file or folder, no Hub repo id ('org/name') "
        f"and no registered name ({', '.join(list_pretrained()) or 'none registered'})."
    )


def _registered(cfg: PretrainedCfg, where: _HubFile) -> WeightsSource:
    pins: dict[str, Any] = {"config": config_for_record(cfg), "sha256": cfg.sha256, "file_size": cfg.file_size}
    shipped = shipped_weights_path(cfg)
    if cfg.shipped and shipped.is_file():
        return WeightsSource(shipped, f"{cfg.name} (shipped with the package)", **pins)
    if cfg.shipped:
        logger.warning("%s should ship with the package but %s is missing; trying the Hub.", cfg.name, shipped)
    if cfg.hf_hub_id is None:
        raise WeightsUnavailableError(
            f"{cfg.name} names no Hub repo (hf_hub_id is unset) and no file ships with the package; pass "
            "pretrained_cfg_overlay={'hf_hub_id': 'org/name'} or the path of the weights."
        )
    where = dataclasses.replace(
        where, repo_id=cfg.hf_hub_id, filename=cfg.filename, revision=where.revision or cfg.hf_hub_revision
    )
    path = _hub_file(where, prefer_cache=True)
    return WeightsSource(path, f"{cfg.name} (Hub repo {cfg.hf_hub_id})", from_hf_cache=True, **pins)


def _local(path: Path) -> WeightsSource:
    """A folder written by ``save_pretrained`` (its config pins the weights), or a file."""
    folder = path if path.is_dir() else path.parent
    saved = path.is_dir() or path.name == WEIGHTS_NAME  # a bare file is described by its own metadata
    config = read_config(folder / CONFIG_NAME) if saved and (folder / CONFIG_NAME).is_file() else None
    pin = (config.weights or {}) if config else {}
    weights = folder / str(pin.get("filename") or WEIGHTS_NAME) if path.is_dir() else path
    if not weights.is_file():
        raise FileNotFoundError(
            f"{path} has no {weights.name} (found: {sorted(p.name for p in path.iterdir())}). Pass a "
            "folder written by save_pretrained() or the path of a .safetensors file."
        )
    return WeightsSource(weights, str(path), config, pin.get("sha256"), pin.get("file_size"))


def _repo(where: _HubFile) -> WeightsSource:
    try:
        weights = _hub_file(where, prefer_cache=False)
    except WeightsUnavailableError as error:
        note = f" (No local file or folder named {where.repo_id!r} exists either.)"
        raise WeightsUnavailableError(f"{error}{note}") from error.__cause__
    try:
        config = read_config(_hub_file(dataclasses.replace(where, filename=CONFIG_NAME), prefer_cache=False))
    except WeightsUnavailableError:
        logger.warning("Hub repo %s has no %s; using the weights' metadata.", where.repo_id, CONFIG_NAME)
        config = None
    if config is not None and config.record is not None:
        record = dataclasses.replace(config.record, hf_hub_id=where.repo_id, hf_hub_revision=where.revision or "main")
        config = dataclasses.replace(config, record=record)
    pin = (config.weights or {}) if config else {}
    return WeightsSource(weights, f"Hub repo {where.repo_id}", config, pin.get("sha256"), pin.get("file_size"),
                         from_hf_cache=True)


# ------------------------------------------------------------------------- the Hub
def _hub_file(where: _HubFile, *, prefer_cache: bool) -> Path:
    """A file of a Hub repo: from the cache or downloaded; never a long wait for a dead network."""
    from huggingface_hub import constants

    offline = constants.HF_HUB_OFFLINE
    if prefer_cache or offline:
        cached = _cached(where)
        if cached is not None:
            return cached
        if offline:
            raise WeightsUnavailableError(_unavailable_message(where, "HF_HUB_OFFLINE is set"))
    problem = _probe(where)
    if problem is not None:
        cached = None if prefer_cache else _cached(where)
        if cached is None:
            raise WeightsUnavailableError(_unavailable_message(where, problem))
        logger.warning("%s; using the cached %s of %s.", problem, where.filename, where.repo_id)
        return cached
    return _download(where)


def _download_kwargs(where: _HubFile) -> dict[str, Any]:
    from huggingface_hub import constants

    from ..version import __version__

    return {"revision": where.revision, "cache_dir": where.cache_dir, "token": where.token,
            "endpoint": constants.ENDPOINT, "library_name": LIBRARY_NAME, "library_version": __version__}


def _cached(where: _HubFile) -> Path | None:
    """The cached file at ``where.revision``, or None; asks no network."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(where.repo_id, where.filename, local_files_only=True, **_download_kwargs(where)))
    except (LocalEntryNotFoundError, FileNotFoundError):
        return None


def _probe(where: _HubFile) -> str | None:
    """Ask the Hub once, without retries, for the file's metadata; why it failed, or None.

    A network failure (no route, DNS, refused, timeout) is returned as text; an answer that
    the file is not there (404, gated, ...) raises :class:`WeightsUnavailableError`.
    """
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.utils import HfHubHTTPError

    url = hf_hub_url(where.repo_id, where.filename, revision=where.revision, endpoint=constants.ENDPOINT)
    # huggingface_hub >= 1.0 retries network errors with backoff (~24 s); older versions do not retry.
    retries = "retry_on_errors" in inspect.signature(get_hf_file_metadata).parameters
    options: dict[str, Any] = {"retry_on_errors": False} if retries else {}
    try:
        get_hf_file_metadata(url, token=where.token, timeout=HUB_PROBE_TIMEOUT_S, **options)
    except HfHubHTTPError as error:
        raise WeightsUnavailableError(_unavailable_message(where, f"the Hub answered: {error}")) from error
    except Exception as error:  # the HTTP client's connection errors share no public base class
        return f"the Hub at {constants.ENDPOINT} did not answer: {type(error).__name__}: {error}"
    return None


def _download(where: _HubFile) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(where.repo_id, where.filename, **_download_kwargs(where)))
    except (LocalEntryNotFoundError, HfHubHTTPError) as error:
        raise WeightsUnavailableError(_unavailable_message(where, f"{type(error).__name__}: {error}")) from error


def _unavailable_message(where: _HubFile, reason: str) -> str:
    from huggingface_hub import constants

    cache = where.cache_dir or constants.HF_HUB_CACHE
    revision = where.revision or "main"
    shipped = [name for name in list_pretrained() if get_pretrained_cfg(name).shipped]
    unset = " and HF_HUB_OFFLINE unset" if constants.HF_HUB_OFFLINE else ""
    return (
        f"Cannot get {where.filename} of the Hugging Face Hub repo {where.repo_id!r} (revision {revision!r}): "
        f"it is not in the Hugging Face cache ({cache}) and could not be downloaded ({reason}). "
        "What works offline: (1) a folder written by save_pretrained() or downloaded earlier, e.g. with "
        f"`hf download {where.repo_id} --revision {revision} --local-dir DIR` on a machine with network "
        "access: pass pretrained='DIR' (or from_pretrained('DIR')); (2) HF_HUB_OFFLINE=1 with a warm cache: "
        f"run once with network access{unset} so the file is downloaded and cached in {cache} (HF_HUB_CACHE "
        "or cache_dir= choose another cache), then set HF_HUB_OFFLINE=1 to skip the network"
        + (f"; (3) the weights shipped in the package: {', '.join(shipped)}." if shipped else ".")
    )
