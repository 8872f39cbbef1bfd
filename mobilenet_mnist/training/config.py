"""The training recipe: :class:`TrainConfig`, its checks, and the named presets.

A recipe is data: every field is JSON, so a run folder's checkpoint records the exact
recipe that produced it and ``--config FILE`` replays it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..data.augment import AugmentConfig
from ..data.datasets import DATASETS
from ..models import get_arch
from ..models.factory import check_model_name
from ..utils.checks import check_number, is_int
from ..utils.names import unknown_name_message

__all__ = ["EXTENSION_FIELDS", "PRESETS", "RUNTIME_FIELDS", "TrainConfig", "get_preset"]

#: Where and how fast a run computes, not what it computes: a run may resume with other
#: values (e.g. on more threads, or on a GPU), at the price of bit-exact reproducibility.
RUNTIME_FIELDS = frozenset({"threads", "device"})
#: What a longer recipe may change when it continues a finished run (see ``extend_run``).
EXTENSION_FIELDS = frozenset({"epochs", "swa_epochs", "swa_lr"})
_FLOAT_FIELDS = ("lr", "momentum", "backbone_lr_scale", "weight_decay", "warmup_epochs", "label_smoothing",
                 "ema_decay", "dropout", "swa_lr")


@dataclass
class TrainConfig:
    """Everything that defines a training run (the recipe), serialisable as JSON.

    Attributes:
        model: Registered model name (``mobilenet_v1_100`` … ``mobilenet_v1_025``).
        dataset: ``"mnist"`` or ``"fashion_mnist"``.
        epochs: Passes over the training split.
        batch_size: Global batch size (split across processes under torchrun).
        optimizer: ``"sgd"`` (Nesterov momentum) or ``"adamw"``.
        lr: Peak learning rate (for ``batch_size``; scale linearly with the batch).
        momentum: SGD momentum.
        backbone_lr_scale: Learning rate of the backbone (all but the classifier) as a
            fraction of ``lr``; fine-tuning often uses 0.1. 1.0 trains every layer alike.
        weight_decay: Decoupled weight decay for conv/linear weights (not BN, not biases).
        warmup_epochs: Linear warm-up length before the cosine decay.
        label_smoothing: Cross-entropy label smoothing.
        ema_decay: Decay of the exponential moving average of weights (0 disables it,
            the default); when enabled, the EMA weights are the ones evaluated and saved.
        swa_epochs: Stochastic weight averaging (Izmailov et al., 2018) over the last
            ``swa_epochs`` epochs: the warm-up and cosine decay span the epochs before them,
            then the LR is held at ``swa_lr`` and the weights are averaged after each of these
            epochs; at the end the average's BatchNorm statistics are recomputed on the
            training data. The average is what gets evaluated and saved. 0 disables it.
        swa_lr: The constant LR of the SWA epochs (same units as ``lr``).
        dropout: Dropout before the classifier.
        train_sizes: Input sides drawn at random per batch, so one checkpoint serves
            every resolution multiplier.
        eval_sizes: Input sides scored on the validation split after each epoch.
        augment: Random affine augmentation ranges.
        val_size: Training images held out for validation (fixed split).
        seed: Seed for initialisation, shuffling, augmentation and dropout.
        channels_last: Use the NHWC memory format (faster on CPUs).
        bf16: Autocast to bfloat16 (only where the hardware supports it).
        sync_bn: Under torchrun, synchronise BatchNorm statistics across processes.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        threads: CPU threads for torch (``None`` keeps torch's default).
        max_steps_per_epoch: Stop each epoch early (smoke tests and quick runs).
        init_from: Start from these pretrained weights (a registered ``name.tag`` such as
            ``"mobilenet_v1_100.mnist"``) with a freshly initialised classifier, i.e.
            fine-tune; ``None`` trains from random weights.
    """

    model: str = "mobilenet_v1_100"
    dataset: str = "mnist"
    epochs: int = 12
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    backbone_lr_scale: float = 1.0
    weight_decay: float = 1e-4
    warmup_epochs: float = 0.5
    label_smoothing: float = 0.1
    ema_decay: float = 0.0
    swa_epochs: int = 0
    swa_lr: float = 0.0
    dropout: float = 0.1
    train_sizes: tuple[int, ...] = (24, 28, 32)
    eval_sizes: tuple[int, ...] = (32, 28, 24)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    val_size: int = 5_000
    seed: int = 0
    channels_last: bool = True
    bf16: bool = False
    sync_bn: bool = False
    device: str = "auto"
    threads: int | None = None
    max_steps_per_epoch: int | None = None
    init_from: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            self.augment = _augment_config(self.augment)
        self.train_sizes = _sizes("train_sizes", self.train_sizes)
        self.eval_sizes = _sizes("eval_sizes", self.eval_sizes)
        _check_names(self)
        _check_counts(self)
        _check_rates(self)
        _check_swa(self)
        _check_init_from(self)
        _check_sizes(self)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-compatible data."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild a config from :meth:`to_dict` output.

        Raises:
            ValueError: For keys that are no ``TrainConfig`` field (the valid ones are listed).
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown TrainConfig keys {unknown}; valid keys: {sorted(known)}.")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Load a recipe from a JSON file of ``TrainConfig`` fields."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- checks
def _check_names(cfg: TrainConfig) -> None:
    if cfg.dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {cfg.dataset!r}.")
    if cfg.optimizer not in ("sgd", "adamw"):
        raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {cfg.optimizer!r}.")
    check_model_name(cfg.model)
    if cfg.device == "auto":
        return
    try:
        torch.device(cfg.device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {cfg.device!r}.") from error


def _check_counts(cfg: TrainConfig) -> None:
    for name in ("epochs", "batch_size"):
        value = getattr(cfg, name)
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    for name in ("threads", "max_steps_per_epoch"):
        value = getattr(cfg, name)
        if value is not None and (not is_int(value) or value < 1):
            raise ValueError(f"{name} must be a positive int or None, got {value!r}.")
    if not is_int(cfg.val_size) or cfg.val_size < 0:
        raise ValueError(f"val_size must be an int >= 0, got {cfg.val_size!r}.")


def _check_rates(cfg: TrainConfig) -> None:
    for name in _FLOAT_FIELDS:
        check_number(name, getattr(cfg, name))
    if not 0 <= cfg.dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {cfg.dropout!r}.")
    if not (cfg.lr > 0 and 0 <= cfg.ema_decay < 1 and 0 <= cfg.label_smoothing < 1):
        raise ValueError(
            f"Need lr > 0, 0 <= ema_decay < 1 and 0 <= label_smoothing < 1; got lr={cfg.lr!r}, "
            f"ema_decay={cfg.ema_decay!r}, label_smoothing={cfg.label_smoothing!r}."
        )
    check_number("backbone_lr_scale", cfg.backbone_lr_scale, 0)


def _check_swa(cfg: TrainConfig) -> None:
    if not is_int(cfg.swa_epochs) or not 0 <= cfg.swa_epochs <= cfg.epochs:
        raise ValueError(f"swa_epochs must be an int in [0, epochs={cfg.epochs}], got {cfg.swa_epochs!r}.")
    if cfg.swa_epochs and cfg.swa_lr <= 0:
        raise ValueError(f"swa_epochs={cfg.swa_epochs} needs swa_lr > 0 (the constant LR of those epochs), "
                         f"got swa_lr={cfg.swa_lr!r}; e.g. swa_lr={cfg.lr / 4:g}.")
    if cfg.swa_epochs and cfg.ema_decay:
        raise ValueError("Use either ema_decay or swa_epochs, not both: each one is a weight average "
                         "that replaces the trained weights at the end.")


def _check_init_from(cfg: TrainConfig) -> None:
    if cfg.init_from is None:
        return
    if not isinstance(cfg.init_from, str):
        raise TypeError(f"init_from must be a pretrained name such as 'mobilenet_v1_100.mnist' or None, "
                        f"got {type(cfg.init_from).__name__}.")
    if cfg.init_from.split(".", 1)[0] != cfg.model:
        raise ValueError(
            f"init_from={cfg.init_from!r} does not match model={cfg.model!r}; "
            f"pick weights of the same architecture, e.g. '{cfg.model}.mnist'."
        )


def _check_sizes(cfg: TrainConfig) -> None:
    if not cfg.train_sizes or not cfg.eval_sizes:
        raise ValueError("train_sizes and eval_sizes must name at least one input size.")
    lowest = get_arch("mnist").min_input_size
    for name in ("train_sizes", "eval_sizes"):
        small = [size for size in getattr(cfg, name) if size < lowest]
        if small:
            raise ValueError(f"{name} {small} are below {lowest}px; every size must be >= {lowest}.")


def _sizes(name: str, sizes: Any) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise TypeError(f"{name} must be a sequence of ints (input sides in px), e.g. (24, 28, 32), got {sizes!r}.")
    sizes = tuple(sizes)
    if not all(is_int(size) for size in sizes):
        raise TypeError(f"{name} must be a sequence of ints (input sides in px), got {sizes!r}.")
    return sizes


def _augment_config(values: dict[str, Any]) -> AugmentConfig:
    valid = [f.name for f in dataclasses.fields(AugmentConfig)]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise ValueError(f"Unknown augment keys {unknown}; valid keys: {valid}.")
    return AugmentConfig(**values)


# --------------------------------------------------------------------------- presets
# The published checkpoints' recipes (see docs/training.rst for how they were chosen): long
# cosine schedules at batch 256, trained on a GPU (`--device cuda`); they run on a CPU too.
_LONG = {"batch_size": 256, "lr": 0.2, "warmup_epochs": 1.0}
#: Named recipes: preset name → the ``TrainConfig`` fields it changes from the defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "mnist_100": {**_LONG, "model": "mobilenet_v1_100", "epochs": 51, "weight_decay": 5e-4},
    "mnist_075": {**_LONG, "model": "mobilenet_v1_075", "epochs": 59, "weight_decay": 5e-4},
    "mnist_050": {**_LONG, "model": "mobilenet_v1_050", "epochs": 57, "weight_decay": 1e-4},
    "mnist_025": {**_LONG, "model": "mobilenet_v1_025", "epochs": 58, "weight_decay": 1e-4},
    # Clothing: mirrored, not rotated, random erasing; starts from the MNIST weights;
    # 48 warm-up + cosine epochs, then 16 epochs of weight averaging (SWA).
    "fashion_100": {
        **_LONG,
        "model": "mobilenet_v1_100",
        "dataset": "fashion_mnist",
        "epochs": 64,
        "swa_epochs": 16,
        "swa_lr": 0.02,
        "weight_decay": 5e-4,
        "dropout": 0.2,
        "train_sizes": (28, 32),
        "eval_sizes": (32, 28),
        "augment": {"rotate_deg": 0.0, "scale": 0.1, "translate": 0.1, "hflip": 0.5, "erase": 0.5},
        "init_from": "mobilenet_v1_100.mnist",
    },
    # ≥ 99 % test accuracy in a few minutes on a 2-core CPU (see docs/training.rst).
    "fast": {
        "model": "mobilenet_v1_025",
        "epochs": 4,
        "batch_size": 128,
        "lr": 0.2,
        "warmup_epochs": 0.1,
        "train_sizes": (24,),
        "eval_sizes": (24,),
        "label_smoothing": 0.0,
        "dropout": 0.0,
        "val_size": 1000,
    },
}


def get_preset(name: str, **overrides: Any) -> TrainConfig:
    """A :class:`TrainConfig` from a named preset, with keyword overrides.

    Example:
        >>> from mobilenet_mnist.training import get_preset
        >>> get_preset("fast", epochs=2).epochs
        2

    Args:
        name: A key of :data:`PRESETS` (``"default"``, ``"fast"``, ``"mnist_100"``, ...).
        **overrides: ``TrainConfig`` fields that replace the preset's values.

    Returns:
        The recipe.

    Raises:
        KeyError: For an unknown preset (with the closest name and the valid ones).
        ValueError: For unknown or invalid fields.
    """
    if name not in PRESETS:
        raise KeyError(unknown_name_message("preset", name, sorted(PRESETS)))
    return TrainConfig.from_dict({**PRESETS[name], **overrides})
