"""Publishing a trained checkpoint: Hub-ready folder, registry entry, optional package copy.

:func:`publish_checkpoint` turns a trained model (or a folder written by
:func:`mobilenet_mnist.save_pretrained`) into a published checkpoint:

1. ``hub/<name>/`` with ``model.safetensors``, ``config.json`` and ``README.md``, laid out
   as a Hugging Face model repo, so :func:`upload_checkpoint` (or
   ``hf upload <org>/<name> hub/<name> .`` and ``hf repos tag create <org>/<name> v0.1.0``)
   publishes it;
2. its entry in ``mobilenet_mnist/weights/registry.json`` (sha256, size, parameters,
   multiply-adds, accuracy, recipe, ...), written atomically;
3. for the default checkpoint (``ship=True``) a copy of the weights inside the package,
   so ``pretrained=True`` works offline on a fresh install.

For a release, :func:`refresh_published` (``mobilenet-mnist publish --refresh``) rewrites
every registered checkpoint's ``config.json`` and model card from its registry entry with
this version's code, leaves the weights as they are (their sha256 is checked before and
after) and pins the entries to the release's Hub revision.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from ..data.datasets import DATASETS
from ..models import pretrained
from ..models.config import CONFIG_NAME, WEIGHTS_NAME, read_config
from ..models.factory import list_models
from ..models.mobilenet import MobileNetV1
from ..models.pretrained import (
    DEFAULT_HF_ORG,
    DEFAULT_REVISION,
    PretrainedCfg,
    get_pretrained_cfg,
    list_pretrained,
    read_registry_file,
    shipped_weights_path,
    write_registry_entry,
)
from ..utils.files import atomic_write_bytes, sha256_file
from .load import from_pretrained
from .save import save_pretrained, write_metadata

__all__ = [
    "DATASET_LABELS",
    "publish_checkpoint",
    "refresh_checkpoint_metadata",
    "refresh_published",
    "upload_checkpoint",
]

logger = logging.getLogger(__name__)

#: Class names of the datasets the project trains on, in label order.
DATASET_LABELS: dict[str, tuple[str, ...]] = {name: info.classes for name, info in DATASETS.items()}


def _labels(model: MobileNetV1, dataset: str, labels: Sequence[str] | None) -> tuple[str, ...]:
    chosen = labels or model.pretrained_cfg.get("labels") or DATASET_LABELS.get(dataset)
    if chosen is None:
        raise ValueError(
            f"No class names known for dataset {dataset!r}; pass labels=[...] with "
            f"{model.num_classes} names (known datasets: {sorted(DATASET_LABELS)})."
        )
    return tuple(chosen)


def _registered_name(model: MobileNetV1) -> str:
    """The model's registered name (``pretrained_cfg["architecture"]``), which the weights extend."""
    if model.arch.name != "mnist":
        raise ValueError(
            f"Only models of the 'mnist' layer config can be registered (pretrained=True builds "
            f"those); got arch {model.arch.name!r}. Share it with save_pretrained/push_to_hub."
        )
    name = model.pretrained_cfg.get("architecture")
    if name not in list_models():
        raise ValueError(
            f"The model is named {name!r}, which is no registered model ({', '.join(list_models())}), "
            "so pretrained=True could never build it. Build it with create_model(NAME) or one of the "
            "mobilenet_v1_* builders, or share it with save_pretrained/push_to_hub."
        )
    return str(name)


def _check_not_registered(name: str, registry_path: Path, overwrite: bool) -> None:
    if overwrite or not registry_path.exists():
        return
    if any(cfg.name == name for cfg in read_registry_file(registry_path)):
        raise ValueError(
            f"{registry_path} already has {name!r}; pass overwrite=True to republish it."
        )


def _check_round_trip(model: MobileNetV1, folder: Path) -> None:
    """Reload the saved folder and compare every tensor, so a bad save is never published."""
    reloaded = from_pretrained(folder).state_dict()
    for key, tensor in model.state_dict().items():
        if not torch.equal(tensor.detach().cpu(), reloaded[key]):
            raise RuntimeError(f"Saved weights in {folder} differ from the model at {key!r}.")


def _ship(folder: Path, name: str, sha256: str, weights_dir: Path) -> Path:
    """Copy the weights into the package folder and check the copy's sha256."""
    target = weights_dir / name / WEIGHTS_NAME
    atomic_write_bytes(target, (folder / WEIGHTS_NAME).read_bytes())
    if sha256_file(target) != sha256:
        raise RuntimeError(f"Copy of the weights at {target} does not match sha256 {sha256}.")
    return target


def publish_checkpoint(
    model_or_folder: MobileNetV1 | str | Path,
    *,
    tag: str,
    dataset: str,
    test_accuracy: dict[int, float],
    recipe: str,
    train_time_s: float,
    train_hardware: str | None = None,
    labels: Sequence[str] | None = None,
    hub_root: str | Path = "hub",
    hf_hub_id: str | None = None,
    hf_hub_revision: str = DEFAULT_REVISION,
    ship: bool = False,
    license: str = "mit",
    registry_path: str | Path | None = None,
    weights_dir: str | Path | None = None,
    overwrite: bool = False,
) -> PretrainedCfg:
    """Write a trained checkpoint's Hub folder and registry entry (and package copy).

    Args:
        model_or_folder: The trained model, or a folder written by ``save_pretrained``.
        tag: Weight tag, e.g. ``"mnist"``; the name becomes ``<model name>.<tag>``.
        dataset: ``"mnist"`` or ``"fashion_mnist"`` (or another, with ``labels``).
        test_accuracy: Input side in px → top-1 accuracy (%) on the full test set.
        recipe: The command that reproduces the checkpoint.
        train_time_s: Training wall-clock time in seconds.
        train_hardware: Where it was trained (shown with the time in the model card).
        labels: Class names (default: the dataset's, or the model's ``pretrained_cfg``).
        hub_root: Folder holding one Hub-layout folder per checkpoint.
        hf_hub_id: Hub repo id; default ``"mobilenet-mnist/<name>"``.
        hf_hub_revision: Revision pinned in the registry (tag the Hub commit with it).
        ship: Also copy the weights into the package (for the offline default).
        license: SPDX licence id of the weights.
        registry_path: Registry JSON to update (default: the package's).
        weights_dir: Package weights folder for ``ship`` (default: the package's).
        overwrite: Replace an existing entry of the same name.

    Returns:
        The registry entry written.

    Raises:
        ValueError: If the name is already published (and ``overwrite`` is False), the
            model is not the MNIST layer config or has no registered model name, or no
            labels are known.
    """
    model = model_or_folder if isinstance(model_or_folder, MobileNetV1) else from_pretrained(model_or_folder)
    model_name = _registered_name(model)
    name = f"{model_name}.{tag}"
    registry_path = Path(registry_path) if registry_path is not None else pretrained.REGISTRY_PATH
    _check_not_registered(name, registry_path, overwrite)
    labels = _labels(model, dataset, labels)
    folder = Path(hub_root) / name
    hf_hub_id = hf_hub_id or f"{DEFAULT_HF_ORG}/{name}"
    accuracy = {int(side): float(value) for side, value in test_accuracy.items()}
    save_pretrained(
        model, folder, repo_id=hf_hub_id, metrics={"test_accuracy": accuracy}, tag=tag,
        dataset=dataset, labels=labels, license=license, recipe=recipe,
        train_time_s=float(train_time_s), train_hardware=train_hardware,
    )
    _check_round_trip(model, folder)
    saved = read_config(folder / CONFIG_NAME)
    if saved.record is None or saved.weights is None:  # save_pretrained writes both
        raise ValueError(f"{folder / CONFIG_NAME} lacks pretrained_cfg or the weights pin that save_pretrained writes.")
    sha256 = str(saved.weights["sha256"])
    cfg = dataclasses.replace(
        saved.record, hf_hub_id=hf_hub_id, hf_hub_revision=hf_hub_revision, filename=WEIGHTS_NAME,
        sha256=sha256, file_size=saved.weights["file_size"], shipped=ship,
    )
    if ship:
        target = _ship(folder, name, sha256, Path(weights_dir or pretrained.WEIGHTS_DIR))
        logger.info("Shipped %s in the package at %s.", name, target)
    write_registry_entry(cfg, registry_path, overwrite=overwrite)
    logger.info("Published %s: %s (%d bytes, sha256 %s).", name, folder, cfg.file_size, cfg.sha256)
    return cfg


def _check_pinned(path: Path, cfg: PretrainedCfg, remedy: str) -> None:
    """Raise unless ``path`` is the file ``cfg`` pins (size and sha256).

    Raises:
        FileNotFoundError: If there is no file at ``path``.
        ValueError: If its size or sha256 differ from the registry's; ``remedy`` says what to do.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist, but the registry entry {cfg.name!r} needs it; {remedy}.")
    found, size = sha256_file(path), path.stat().st_size
    if (found, size) != (cfg.sha256, cfg.file_size):
        raise ValueError(
            f"{path} has sha256 {found} ({size} bytes), but the registry pins {cfg.sha256} "
            f"({cfg.file_size} bytes) for {cfg.name!r}; {remedy}."
        )


def _published_folder(name: str, hub_root: str | Path) -> tuple[PretrainedCfg, Path]:
    """The registry entry of ``name`` and its ``hub/<name>/`` folder, whose weights must match it.

    Raises:
        KeyError: For an unknown name.
        FileNotFoundError: If the folder has no weights.
        ValueError: If the folder's weights do not have the registry's sha256 and size.
    """
    cfg = get_pretrained_cfg(name)
    folder = Path(hub_root) / name
    remedy = (f"pass the hub_root (--hub-root) that holds {name}/, or republish it with "
              "publish_checkpoint(..., overwrite=True) first")  # fmt: skip
    _check_pinned(folder / WEIGHTS_NAME, cfg, remedy)
    return cfg, folder


def _check_same_network(cfg: PretrainedCfg, found: dict[str, object], folder: Path) -> None:
    """Refuse a folder whose network (name, width, input, classes, ...) is not the registered one."""
    differ = {
        key: (found.get(key), getattr(cfg, key)) for key in PretrainedCfg.field_names("model")
        if getattr(cfg, key) is not None and found.get(key) is not None and found.get(key) != getattr(cfg, key)
    }  # fmt: skip
    if differ:
        raise ValueError(
            f"{folder} builds another network than the registry entry {cfg.name!r} describes "
            f"(folder, registry): {differ}; republish it with publish_checkpoint(..., overwrite=True)."
        )


def refresh_checkpoint_metadata(name: str, *, hub_root: str | Path = "hub") -> Path:
    """Rewrite ``hub/<name>/config.json`` and ``README.md`` from the registry entry; the weights stay.

    After the entry gained measurements (e.g. a calibration written with
    :func:`~mobilenet_mnist.models.pretrained.write_registry_entry`), or after a release
    changed the ``config.json`` layout or the model card, the Hub folder says the same as the
    entry, in this version's layout: ``model.safetensors`` is not rewritten, so its sha256
    still matches the registry. Fields the entry leaves unset (e.g. ``train_hardware``) keep
    the folder's own values. Upload the folder again (:func:`upload_checkpoint`) for Hub
    users to see it.

    Args:
        name: Registered name, e.g. ``"mobilenet_v1_050.mnist"``.
        hub_root: Folder holding the Hub-layout folders.

    Returns:
        The folder.

    Raises:
        KeyError: For an unknown name.
        FileNotFoundError: If the folder holds no weights.
        ValueError: If the folder's weights do not match the registry entry's sha256, or the
            folder builds another network than the entry describes.
    """
    cfg, folder = _published_folder(name, hub_root)
    model = from_pretrained(folder)
    own = model.pretrained_cfg  # what the folder said so far: kept where the registry says nothing
    _check_same_network(cfg, own, folder)
    stated = {k: v for k, v in cfg.to_dict().items() if k not in PretrainedCfg.field_names("file")}
    model.pretrained_cfg = {**own, **stated}
    # saving never inherits how weights were made and scored: state them explicitly
    measured = {key: model.pretrained_cfg.get(key) for key in PretrainedCfg.field_names("run")}
    return write_metadata(model, folder, repo_id=cfg.hf_hub_id, **measured)


def refresh_published(
    names: Sequence[str] | None = None, *, hub_root: str | Path = "hub", revision: str = DEFAULT_REVISION
) -> list[PretrainedCfg]:
    """Refresh registered checkpoints' Hub folders for a release and pin them to its revision.

    For each checkpoint: :func:`refresh_checkpoint_metadata` (``config.json`` and model card
    from the registry entry, in this version's layout, ``library_version`` included), then
    the registry entry's ``hf_hub_revision`` set to ``revision``. The weights are never
    rewritten: every folder's (and shipped copy's) sha256 and size are checked against the
    registry before anything is written, and again after. Run it again after adding
    measurements to the registry; an unchanged registry gives byte-identical files. Then
    upload each folder (:func:`upload_checkpoint`), which tags the Hub commit with ``revision``.

    Example:
        >>> refresh_published(hub_root="hub", revision="v0.3.0")  # doctest: +SKIP

    Args:
        names: Registered names (default: every registered checkpoint).
        hub_root: Folder holding one Hub-layout folder per checkpoint.
        revision: Hub revision to pin (default: this release's tag, ``v`` + the version).

    Returns:
        The registry entries written, in ``names`` order.

    Raises:
        TypeError: If ``revision`` is not a str or ``names`` not a list of str.
        ValueError: If ``revision`` is empty, nothing is registered, or a folder's or shipped
            copy's weights differ from the registry (then nothing is written).
        KeyError: For an unknown name.
        FileNotFoundError: If a registered checkpoint has no folder under ``hub_root``.
    """
    if not isinstance(revision, str):
        raise TypeError(f"revision must be a Hub tag, branch or commit (str), got {type(revision).__name__}.")
    if not revision.strip():
        raise ValueError(f"revision must name a Hub tag, branch or commit, e.g. {DEFAULT_REVISION!r}; got ''.")
    if isinstance(names, str) or not isinstance(names, (Sequence, type(None))):
        raise TypeError(f"names must be a list of registered names or None, got {type(names).__name__}.")
    names = list_pretrained() if names is None else list(names)
    if not names:
        raise ValueError("No checkpoints to refresh: none is registered (publish one with publish_checkpoint).")
    for name in names:  # check them all before writing anything
        cfg, _ = _published_folder(name, hub_root)
        if cfg.shipped:
            _check_pinned(shipped_weights_path(cfg), cfg, "copy the published file into the package")
    return [_refresh_one(name, hub_root, revision) for name in names]


def _refresh_one(name: str, hub_root: str | Path, revision: str) -> PretrainedCfg:
    folder = refresh_checkpoint_metadata(name, hub_root=hub_root)
    cfg = dataclasses.replace(get_pretrained_cfg(name), hf_hub_revision=revision)
    _check_pinned(folder / WEIGHTS_NAME, cfg, "the refresh must never rewrite weights")
    write_registry_entry(cfg, overwrite=True)
    logger.info("Refreshed %s in %s (sha256 %s unchanged), pinned to revision %s.", name, folder,
                cfg.sha256, revision)  # fmt: skip
    return cfg


def upload_checkpoint(
    name: str,
    *,
    hub_root: str | Path = "hub",
    token: str | None = None,
    private: bool = False,
    pin_commit: bool = True,
) -> PretrainedCfg:
    """Upload a published checkpoint's ``hub/<name>/`` folder and tag it with its revision.

    Needs network access and a Hub token with write access to the repo's organisation.
    The folder's weights must match the registry's sha256, so what users download is
    exactly what the registry pins.

    Args:
        name: Registered name, e.g. ``"mobilenet_v1_050.mnist"``.
        hub_root: Folder holding the Hub-layout folders.
        token: Hub token (default: the logged-in one, ``hf auth login``).
        private: Create the repo as private.
        pin_commit: Rewrite the registry entry's ``hf_hub_revision`` to the commit hash
            of the upload: immutable, unlike a tag (an existing tag is not moved).

    Returns:
        The registry entry (updated when ``pin_commit``).

    Raises:
        ValueError: If the folder's weights do not match the registry entry.
    """
    from huggingface_hub import HfApi

    cfg, folder = _published_folder(name, hub_root)
    repo_id, tag, sha256 = cfg.hf_hub_id, cfg.hf_hub_revision, cfg.sha256
    if repo_id is None or tag is None or sha256 is None:  # registry entries have all three (check_published)
        raise ValueError(f"The registry entry of {name} lacks hf_hub_id, hf_hub_revision or sha256; republish it "
                         "with publish_checkpoint(..., overwrite=True).")  # fmt: skip
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    commit = api.upload_folder(
        repo_id=repo_id, folder_path=str(folder), repo_type="model",
        commit_message=f"Upload {name} (sha256 {sha256[:12]})",
    )
    api.create_tag(repo_id, tag=tag, revision=commit.oid, repo_type="model", exist_ok=True)
    logger.info("Uploaded %s to %s at commit %s, tag %s.", name, repo_id, commit.oid, tag)
    if pin_commit:
        cfg = dataclasses.replace(cfg, hf_hub_revision=commit.oid)
        write_registry_entry(cfg, overwrite=True)
    return cfg
