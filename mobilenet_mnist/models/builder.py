"""Loading weights into a model: read and verify, fit to the model, fill ``pretrained_cfg``.

:func:`load_pretrained` is what ``mobilenet_v1(pretrained=...)`` and ``create_model`` call:
it finds the file (:mod:`.sources`), reads it after checking its size, sha256 and layout
(:mod:`.checkpoint`), fits the tensors to the model as built (:mod:`.adapt`: another
``in_chans`` adapts the first conv, another ``num_classes`` gets a fresh classifier) and
fills ``model.pretrained_cfg`` from the weights' :class:`~.pretrained_cfg.PretrainedCfg`.
:func:`fetch_checkpoint` and :func:`model_from_checkpoint` let a caller that does not have a
model yet (``from_pretrained``) build the one a checkpoint describes.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .adapt import fit_state_dict
from .checkpoint import Checkpoint, read_checkpoint, remove_from_hf_cache
from .config import SavedConfig, config_from_safetensors_metadata
from .mobilenet import MobileNetV1
from .pretrained_cfg import PretrainedCfg
from .profile import count_params
from .sources import WeightsSource, resolve_weights

__all__ = ["PretrainedWeights", "fetch_checkpoint", "load_pretrained", "model_from_checkpoint"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PretrainedWeights:
    """A verified checkpoint and what it is.

    Attributes:
        checkpoint: The tensors, read after their size, sha256 and layout were checked.
        description: Where they came from.
        config: What they are (registry, ``config.json`` or the file's metadata), if known.
    """

    checkpoint: Checkpoint
    description: str
    config: SavedConfig | None


def fetch_checkpoint(
    source: str | os.PathLike[str] | PretrainedCfg, *, revision: str | None = None,
    cache_dir: str | Path | None = None, token: str | None = None,
) -> PretrainedWeights:
    """Find, read and verify weights (see :func:`~.sources.resolve_weights` for ``source``).

    A file from the Hugging Face cache that fails verification is removed from the cache.

    Raises:
        As :func:`load_pretrained`.
    """
    found = resolve_weights(source, revision=revision, cache_dir=cache_dir, token=token)
    checkpoint = _read(found)
    config = found.config or config_from_safetensors_metadata(checkpoint.metadata, str(found.path))
    return PretrainedWeights(checkpoint, found.description, config)


def _read(found: WeightsSource) -> Checkpoint:
    try:
        return read_checkpoint(found.path, sha256=found.sha256, file_size=found.file_size)
    except ValueError:
        if found.from_hf_cache:
            remove_from_hf_cache(found.path)
        raise


def model_from_checkpoint(weights: PretrainedWeights) -> MobileNetV1:
    """The untrained model ``weights`` were saved from, named as they say.

    Raises:
        ValueError: If neither a config nor the file's metadata says how to build it.
    """
    if weights.config is None:
        raise ValueError(
            f"{weights.description} does not say how to build its model (no config.json and no model "
            "metadata in the file). Build the model yourself and call load_pretrained(model, path)."
        )
    model = MobileNetV1(**weights.config.model_args)
    model.pretrained_cfg = {**model.pretrained_cfg, "architecture": weights.config.architecture}
    return model


def load_pretrained(
    model: MobileNetV1, source: str | os.PathLike[str] | PretrainedCfg | PretrainedWeights, *,
    revision: str | None = None, cache_dir: str | Path | None = None, token: str | None = None,
) -> MobileNetV1:
    """Load weights into ``model``, adapting them to how the model was built.

    Adaptation policy (as timm's ``load_pretrained``):

    * ``model.num_classes`` differs from the checkpoint's: the backbone is loaded and the
      classifier is freshly initialised (logged at INFO).
    * ``model.in_chans`` differs: the first conv (``stem.conv``) kernel is summed over its
      input channels, repeated ``in_chans`` times and divided by ``in_chans``, so an image
      whose channels are all the same gray plane (e.g. a gray RGB image) gives the same
      features and logits as the grayscale model on that plane.
    * Anything else (another width or layer config): :class:`ValueError` listing missing
      and unexpected keys and shape mismatches.

    ``model.pretrained_cfg`` then holds the weights' record (tag, dataset, labels, metrics,
    sha256, source, ...) with the model's own name, ``input_size`` and ``num_classes``, and
    mean/std repeated to ``in_chans``; a fresh classifier drops the record's ``head`` fields.

    Args:
        model: The model to fill; it keeps its width, ``in_chans`` and ``num_classes``.
        source: A registered name (``"mobilenet_v1_100.mnist"``), a ``.safetensors`` file, a
            folder written by ``save_pretrained``, a Hub repo id (``"user/repo"``), a
            :class:`PretrainedCfg` record (found as a registered name is), or what
            :func:`fetch_checkpoint` returned.
        revision: Hub revision. For a registered name it replaces the pinned revision, but
            the registry's sha256 is still enforced.
        cache_dir: Hugging Face cache folder (default: ``HF_HUB_CACHE``).
        token: Hub token for private repos.

    Returns:
        ``model``, with the weights loaded.

    Raises:
        TypeError: If ``model`` is not a :class:`MobileNetV1` or ``source`` not a str/path.
        KeyError: For an unknown registered name (with a suggestion).
        FileNotFoundError: For a path that does not exist.
        ValueError: For a wrong sha256 or size, a truncated or pickle file, or weights of
            another architecture; the file is not loaded.
        WeightsUnavailableError: If Hub weights are neither cached nor downloadable.
    """
    if not isinstance(model, MobileNetV1):
        raise TypeError(f"load_pretrained expects a MobileNetV1, got {type(model).__name__}.")
    weights = source if isinstance(source, PretrainedWeights) else fetch_checkpoint(
        source, revision=revision, cache_dir=cache_dir, token=token
    )
    found = _found_text(weights.config)
    state, head_reset = fit_state_dict(model, weights.checkpoint.tensors, source=weights.description, found=found)
    model.load_state_dict(state, strict=not head_reset)
    if head_reset:
        model.reset_classifier(model.num_classes)
    model.pretrained_cfg = _filled_cfg(model, weights, head_reset)
    logger.info("Loaded weights from %s (sha256 %s).", weights.description, weights.checkpoint.sha256)
    return model


def _found_text(config: SavedConfig | None) -> str:
    if config is None:
        return ""
    args = config.model_args
    arch = args.get("arch")
    shown = {"arch": getattr(arch, "name", arch), **{k: args[k] for k in ("width_mult", "in_chans", "num_classes")}}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def _filled_cfg(model: MobileNetV1, weights: PretrainedWeights, head_reset: bool) -> dict[str, Any]:
    """The model's ``pretrained_cfg`` with the weights' record in it (the model's own fields win)."""
    file_fields = PretrainedCfg.field_names("file")
    cfg = {k: v for k, v in model.pretrained_cfg.items() if k not in file_fields}
    record = weights.config.record if weights.config else None
    if record is not None:
        theirs = record.to_dict()
        cfg.update({k: v for k, v in theirs.items() if k not in PretrainedCfg.field_names("model")})
        cfg["mean"] = _per_channel(theirs["mean"], model.in_chans)
        cfg["std"] = _per_channel(theirs["std"], model.in_chans)
        if theirs.get("num_params") not in (None, count_params(model)):
            cfg.pop("num_params")  # adapted: the checkpoint's counts no longer describe this model
            cfg.pop("macs", None)
    checkpoint = weights.checkpoint
    cfg.update(sha256=checkpoint.sha256, file_size=checkpoint.file_size, source=weights.description)
    if head_reset:  # the checkpoint's labels and metrics describe the old head's outputs
        cfg = {k: v for k, v in cfg.items() if k not in PretrainedCfg.field_names("head")}
    return {**cfg, "num_classes": model.num_classes}


def _per_channel(values: tuple[float, ...], in_chans: int) -> tuple[float, ...]:
    """Per-channel statistics for ``in_chans`` channels (averaged first if they differ in count)."""
    values = tuple(float(v) for v in values)
    return values if len(values) == in_chans else (sum(values) / len(values),) * in_chans
