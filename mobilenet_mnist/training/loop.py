"""The training recipe and loop: config, optimizer, schedule, EMA, resumable checkpoints.

Runs on the CPU or a GPU (``device="cuda"``), in one process or under ``torchrun``
(DistributedDataParallel; see :mod:`.distributed`). Every epoch ends with an atomic
checkpoint, so a killed run continues with ``resume=True`` exactly where it stopped:
each epoch's shuffling, augmentation and dropout draw from generators seeded by
``(seed, epoch)``, so a resumed run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data.augment import AugmentConfig, augment_batch
from ..data.datasets import DATASETS, ImageTensors, load_dataset, train_val_split
from ..models.archs import get_arch
from ..models.factory import check_model_name, create_model
from ..models.mobilenet import MobileNetV1
from ..utils.files import atomic_path, atomic_write_bytes
from .distributed import DistContext, get_dist_context
from .evaluation import evaluate

__all__ = ["TrainConfig", "TrainResult", "PRESETS", "get_preset", "train", "fit", "extend_run"]

logger = logging.getLogger(__name__)
CHECKPOINT_NAME = "last.ckpt"
# Where and how fast a run computes, not what it computes: a run may resume with other values
# (e.g. on more threads, or on a GPU), at the price of bit-exact reproducibility.
RUNTIME_FIELDS = frozenset({"threads", "device"})
# What a longer recipe may change when it continues a finished run (see extend_run).
EXTENSION_FIELDS = frozenset({"epochs", "swa_epochs", "swa_lr"})
METRICS_NAME = "metrics.jsonl"
LOSS_DISPLAY_EVERY = 50  # steps between progress-bar loss updates (each one syncs a GPU)


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
        self._validate()

    def _validate(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {self.dataset!r}.")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {self.optimizer!r}.")
        check_model_name(self.model)
        for name in ("epochs", "batch_size"):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive int, got {getattr(self, name)!r}.")
        for name in ("threads", "max_steps_per_epoch"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}.")
        if not _is_int(self.val_size) or self.val_size < 0:
            raise ValueError(f"val_size must be an int >= 0, got {self.val_size!r}.")
        for name in ("lr", "momentum", "backbone_lr_scale", "weight_decay", "warmup_epochs", "label_smoothing",
                     "ema_decay", "dropout", "swa_lr"):
            _check_finite_number(name, getattr(self, name))
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}.")
        _check_device(self.device)
        if not (self.lr > 0 and 0 <= self.ema_decay < 1 and 0 <= self.label_smoothing < 1):
            raise ValueError("Need lr > 0, 0 <= ema_decay < 1 and 0 <= label_smoothing < 1.")
        self._validate_swa()
        if self.backbone_lr_scale < 0:
            raise ValueError(f"backbone_lr_scale must be a finite number >= 0, got {self.backbone_lr_scale!r}.")
        if self.init_from is not None and not isinstance(self.init_from, str):
            raise TypeError(f"init_from must be a pretrained name such as 'mobilenet_v1_100.mnist' or None, "
                            f"got {type(self.init_from).__name__}.")
        if self.init_from is not None and self.init_from.split(".", 1)[0] != self.model:
            raise ValueError(
                f"init_from={self.init_from!r} does not match model={self.model!r}; "
                f"pick weights of the same architecture, e.g. '{self.model}.mnist'."
            )
        if not self.train_sizes or not self.eval_sizes:
            raise ValueError("train_sizes and eval_sizes must name at least one input size.")
        lowest = get_arch("mnist").min_input_size
        for name in ("train_sizes", "eval_sizes"):
            small = [size for size in getattr(self, name) if size < lowest]
            if small:
                raise ValueError(f"{name} {small} are below {lowest}px; every size must be >= {lowest}.")

    def _validate_swa(self) -> None:
        if not _is_int(self.swa_epochs) or not 0 <= self.swa_epochs <= self.epochs:
            raise ValueError(f"swa_epochs must be an int in [0, epochs={self.epochs}], got {self.swa_epochs!r}.")
        if self.swa_epochs and self.swa_lr <= 0:
            raise ValueError(f"swa_epochs={self.swa_epochs} needs swa_lr > 0 (the constant LR of those epochs), "
                             f"got swa_lr={self.swa_lr!r}; e.g. swa_lr={self.lr / 4:g}.")
        if self.swa_epochs and self.ema_decay:
            raise ValueError("Use either ema_decay or swa_epochs, not both: each one is a weight average "
                             "that replaces the trained weights at the end.")

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-compatible data."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild a config from :meth:`to_dict` output (unknown keys are an error)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown TrainConfig keys {unknown}; valid keys: {sorted(known)}.")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Load a recipe from a JSON file."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_finite_number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r}).")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")


def _sizes(name: str, sizes: Any) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise TypeError(f"{name} must be a sequence of ints (input sides in px), e.g. (24, 28, 32), got {sizes!r}.")
    sizes = tuple(sizes)
    if not all(_is_int(size) for size in sizes):
        raise TypeError(f"{name} must be a sequence of ints (input sides in px), got {sizes!r}.")
    return sizes


def _augment_config(values: dict[str, Any]) -> AugmentConfig:
    valid = [f.name for f in dataclasses.fields(AugmentConfig)]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise ValueError(f"Unknown augment keys {unknown}; valid keys: {valid}.")
    return AugmentConfig(**values)


def _check_device(name: Any) -> None:
    if name == "auto":
        return
    try:
        torch.device(name)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}.") from error


# The published checkpoints' recipes (see docs/training.rst for how they were chosen): long
# cosine schedules at batch 256, trained on a GPU (`--device cuda`); they run on a CPU too.
_LONG = {"batch_size": 256, "lr": 0.2, "warmup_epochs": 1.0}
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
    """A :class:`TrainConfig` from a named preset, with keyword overrides."""
    if name not in PRESETS:
        from ..models.archs import unknown_name_message

        raise KeyError(unknown_name_message("preset", name, sorted(PRESETS)))
    return TrainConfig.from_dict({**PRESETS[name], **overrides})


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    model: MobileNetV1
    history: list[dict[str, Any]]
    train_time_s: float
    output_dir: Path | None


# --------------------------------------------------------------------------- helpers
def build_model(cfg: TrainConfig, num_classes: int) -> MobileNetV1:
    """The recipe's model; its default input side is the largest evaluated size."""
    native = get_arch("mnist").input_size
    options = {"dropout": cfg.dropout, "resolution_mult": max(cfg.eval_sizes) / native}
    if cfg.init_from is None:
        return create_model(cfg.model, num_classes=num_classes, **options)
    model = create_model(cfg.init_from, pretrained=True, **options)
    # A new task: keep the backbone, start the head afresh (seeded by cfg.seed).
    model.reset_classifier(num_classes)
    return model


def resolve_device(name: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD/AdamW with weight decay on conv and linear weights only; the backbone's LR scaled."""
    if cfg.backbone_lr_scale != 1.0:
        from .finetune import param_groups

        groups = param_groups(model, lr=cfg.lr, backbone_lr_scale=cfg.backbone_lr_scale, weight_decay=cfg.weight_decay)
    else:
        decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
        no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
        groups = [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, cosine decay to zero, then the constant SWA LR; stepped every batch."""
    total = max(1, (cfg.epochs - cfg.swa_epochs) * steps_per_epoch)
    warmup = min(total - 1, int(cfg.warmup_epochs * steps_per_epoch))
    swa_start = (cfg.epochs - cfg.swa_epochs) * steps_per_epoch

    def factor(step: int) -> float:
        if cfg.swa_epochs and step >= swa_start:
            return cfg.swa_lr / cfg.lr
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def build_ema(model: nn.Module, decay: float) -> torch.optim.swa_utils.AveragedModel | None:
    """An EMA copy of the model (weights and BN buffers), or ``None`` if disabled.

    The decay warms up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so the
    average is not dominated by the random initial weights early in training.
    """
    if decay <= 0:
        return None
    from torch.optim.swa_utils import AveragedModel

    def ema_with_warmup(averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor) -> torch.Tensor:
        if not averaged.is_floating_point():  # BatchNorm's batch counter
            return current
        step_decay = torch.clamp((1 + num_averaged) / (10 + num_averaged), max=decay).to(averaged.dtype)
        return averaged.lerp(current, 1 - step_decay)  # exact for unchanged (frozen) tensors

    return AveragedModel(model, avg_fn=ema_with_warmup, use_buffers=True)


def build_swa(model: nn.Module, cfg: TrainConfig) -> torch.optim.swa_utils.AveragedModel | None:
    """The running equal-weight average of the SWA epochs' weights, or ``None`` if disabled."""
    if not cfg.swa_epochs:
        return None
    from torch.optim.swa_utils import AveragedModel

    # Buffers are averaged too, so the average can be validated before its BN statistics are
    # recomputed at the end of training.
    return AveragedModel(model, use_buffers=True)


def _epoch_generator(seed: int, epoch: int, rank: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch * 1009 + rank)


def _atomic_torch_save(obj: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


# --------------------------------------------------------------------------- the loop
def _batch_plan(cfg: TrainConfig, num_images: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """An epoch's shuffled image order and the input side of each of its batches."""
    order = torch.randperm(num_images, generator=generator)
    steps = num_images // cfg.batch_size
    if cfg.max_steps_per_epoch:
        steps = min(steps, cfg.max_steps_per_epoch)
    sizes = torch.tensor(cfg.train_sizes)[torch.randint(len(cfg.train_sizes), (steps,), generator=generator)]
    return order, sizes


def _train_epoch(
    model: nn.Module,
    data: ImageTensors,
    state: dict[str, Any],
    epoch: int,
) -> dict[str, float]:
    cfg: TrainConfig = state["cfg"]
    ctx: DistContext = state["ctx"]
    device = state["device"]
    generator = _epoch_generator(cfg.seed, epoch)
    torch.manual_seed(cfg.seed * 7919 + epoch)  # dropout draws from the global generator
    order, sizes = _batch_plan(cfg, len(data), generator)
    steps = len(sizes)
    local_batch = cfg.batch_size // ctx.world_size
    model.train()
    # Step losses stay on the device and are read back rarely: reading one every step would
    # make the CPU wait for a GPU after each batch. Every step has the same batch size.
    losses: list[torch.Tensor] = []
    progress = _progress(steps, f"epoch {epoch + 1}/{cfg.epochs}", ctx.is_main)
    for step in range(steps):
        batch = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
        batch = batch[ctx.rank * local_batch : (ctx.rank + 1) * local_batch]
        # Every rank draws the same augmentation parameters; each uses its own slice.
        x = augment_batch(data.images[batch], int(sizes[step]), state["mean"], state["std"], cfg.augment, generator)
        loss = _train_step(model, x, data.labels[batch], state, device)
        losses.append(loss)
        progress.update(1)
        if step % LOSS_DISPLAY_EVERY == 0 and not progress.disable:
            progress.set_postfix(loss=f"{float(loss):.4f}", refresh=False)
    progress.close()
    return {"train_loss": float(torch.stack(losses).double().mean()), "steps": steps}


def _train_step(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, state: dict[str, Any], device: torch.device
) -> torch.Tensor:
    cfg: TrainConfig = state["cfg"]
    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    if cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        loss = F.cross_entropy(model(x), y, label_smoothing=cfg.label_smoothing)
    optimizer = state["optimizer"]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    state["scheduler"].step()
    if state["ema"] is not None:
        state["ema"].update_parameters(_unwrap(model))
    return loss.detach()


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, mininterval=0.5 if interactive else 60)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


def _eval_model(state: dict[str, Any], model: nn.Module) -> MobileNetV1:
    average = state["ema"] if state["ema"] is not None else state["swa"]
    if average is not None and int(average.n_averaged) > 0:
        return average.module
    return _unwrap(model)


def _build_state(
    cfg: TrainConfig, model: nn.Module, steps_per_epoch: int, ctx: DistContext, device: torch.device
) -> dict[str, Any]:
    optimizer = build_optimizer(model, cfg)
    base = _unwrap(model)
    return {
        "cfg": cfg,
        "ctx": ctx,
        "device": device,
        "optimizer": optimizer,
        "scheduler": build_scheduler(optimizer, cfg, steps_per_epoch),
        "ema": build_ema(base, cfg.ema_decay),
        "swa": build_swa(base, cfg),
        "mean": base.pretrained_cfg["mean"],
        "std": base.pretrained_cfg["std"],
    }


def _checkpoint(
    state: dict[str, Any], model: nn.Module, epoch: int, history: list[dict[str, Any]], elapsed: float
) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "config": state["cfg"].to_dict(),
        "model": _unwrap(model).state_dict(),
        "ema": state["ema"].state_dict() if state["ema"] is not None else None,
        "swa": state["swa"].state_dict() if state["swa"] is not None else None,
        "optimizer": state["optimizer"].state_dict(),
        "scheduler": state["scheduler"].state_dict(),
        "history": json.dumps(history),
        "train_time_s": elapsed,
    }


def _restore(path: Path, state: dict[str, Any], model: nn.Module) -> tuple[int, list[dict[str, Any]], float]:
    ckpt = torch.load(path, map_location=state["device"], weights_only=True)
    saved_cfg = TrainConfig.from_dict(ckpt["config"]).to_dict()
    given_cfg = state["cfg"].to_dict()
    diff = {k: (v, given_cfg[k]) for k, v in saved_cfg.items() if given_cfg[k] != v}
    recipe_diff = {k: v for k, v in diff.items() if k not in RUNTIME_FIELDS}
    if recipe_diff:
        raise ValueError(
            f"Cannot resume {path}: the recipe differs (saved, given): {recipe_diff}. Resume with the "
            f"saved recipe, or start a new run folder; only {sorted(RUNTIME_FIELDS)} may change."
        )
    if diff:
        logger.info("Resuming with other runtime settings (saved, given): %s", diff)
    _unwrap(model).load_state_dict(ckpt["model"])
    if state["ema"] is not None:
        state["ema"].load_state_dict(ckpt["ema"])
    if state["swa"] is not None and ckpt.get("swa") is not None:
        state["swa"].load_state_dict(ckpt["swa"])
    state["optimizer"].load_state_dict(ckpt["optimizer"])
    state["scheduler"].load_state_dict(ckpt["scheduler"])
    logger.info("Resumed from %s after epoch %d", path, ckpt["epoch"])
    return int(ckpt["epoch"]), json.loads(ckpt["history"]), float(ckpt["train_time_s"])


def _average_weights(state: dict[str, Any], model: nn.Module, data: ImageTensors, epoch: int) -> None:
    cfg: TrainConfig = state["cfg"]
    swa = state["swa"]
    if swa is None or epoch < cfg.epochs - cfg.swa_epochs:
        return
    swa.update_parameters(_unwrap(model))
    if epoch + 1 == cfg.epochs:
        _recompute_batchnorm(swa.module, data, state)


def _recompute_batchnorm(model: nn.Module, data: ImageTensors, state: dict[str, Any]) -> None:
    """Set BN statistics to their average over one augmented pass of the training data."""
    from torch.optim.swa_utils import update_bn

    cfg: TrainConfig = state["cfg"]
    # A stream of its own (epoch index = cfg.epochs), with the training epochs' sizes and
    # augmentation, so the statistics match what the weights were trained on.
    generator = _epoch_generator(cfg.seed, cfg.epochs)
    order, sizes = _batch_plan(cfg, len(data), generator)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format

    def batches() -> Any:
        for step in range(len(sizes)):
            batch = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            x = augment_batch(data.images[batch], int(sizes[step]), state["mean"], state["std"], cfg.augment, generator)
            yield x.contiguous(memory_format=fmt)

    with torch.autocast(state["device"].type, dtype=torch.bfloat16, enabled=cfg.bf16):
        update_bn(batches(), model, device=state["device"])


def _remove_stale_temp_files(output_dir: Path) -> None:
    # A run killed while saving leaves its temporary file behind (the real one is intact).
    for stale in output_dir.glob(".*.tmp*"):
        logger.info("Removing %s left by an interrupted save", stale)
        stale.unlink(missing_ok=True)


def _log_metrics(output_dir: Path | None, history: list[dict[str, Any]]) -> None:
    # Rewritten whole each epoch, so a resumed run never duplicates or loses a row.
    if output_dir is not None:
        atomic_write_bytes(output_dir / METRICS_NAME, "".join(json.dumps(row) + "\n" for row in history).encode())


def _check_fit_args(model: Any, train_data: Any, cfg: Any, val_data: Any) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (e.g. mobilenet_v1()), got {type(model).__name__}.")
    if not isinstance(cfg, TrainConfig):
        hint = f"get_preset({cfg!r})" if isinstance(cfg, str) else "get_preset('fast')"
        raise TypeError(f"cfg must be a TrainConfig, e.g. {hint}, got {type(cfg).__name__}.")
    for name, data in (("train_data", train_data), ("val_data", val_data)):
        if data is not None and not isinstance(data, ImageTensors):
            raise TypeError(
                f"{name} must be ImageTensors (images, labels, classes), e.g. from load_dataset or "
                f"tensors_from_dataset, got {type(data).__name__}."
            )


def fit(
    model: MobileNetV1,
    train_data: ImageTensors,
    cfg: TrainConfig,
    val_data: ImageTensors | None = None,
    output_dir: str | Path | None = None,
    resume: bool = False,
    stop_after: int | None = None,
) -> TrainResult:
    """Train ``model`` on in-memory tensors with the recipe ``cfg``.

    This is the engine behind :func:`train`, usable with any images: pass your own
    :class:`~mobilenet_mnist.data.datasets.ImageTensors` (uint8 images, int64 labels).

    Args:
        model: The model to train (e.g. a pretrained one for fine-tuning).
        train_data: Training images and labels.
        cfg: The recipe.
        val_data: Optional validation split, scored after every epoch.
        output_dir: Where checkpoints and ``metrics.jsonl`` go (``None``: keep nothing).
        resume: Continue from ``output_dir/last.ckpt`` if it exists.
        stop_after: Stop once this many epochs are done (the schedule still spans
            ``cfg.epochs``), to train in time-boxed pieces continued with ``resume``.

    Returns:
        A :class:`TrainResult` whose ``model`` holds the final weights (the EMA or SWA average when enabled).
    """
    _check_fit_args(model, train_data, cfg, val_data)
    ctx = get_dist_context(sync_bn=cfg.sync_bn)
    if cfg.batch_size % ctx.world_size:
        raise ValueError(
            f"batch_size {cfg.batch_size} must be divisible by the number of processes ({ctx.world_size})."
        )
    device = resolve_device(cfg.device) if not ctx.enabled else ctx.device
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    model = model.to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model = ctx.wrap(model)
    steps_per_epoch = len(train_data) // cfg.batch_size
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
    if steps_per_epoch < 1:
        raise ValueError(f"batch_size {cfg.batch_size} exceeds the {len(train_data)} training images.")
    state = _build_state(cfg, model, steps_per_epoch, ctx, device)
    out = Path(output_dir) if output_dir is not None else None
    if out is not None and ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        _remove_stale_temp_files(out)
    start, history, elapsed = 0, [], 0.0
    if resume and out is not None and (out / CHECKPOINT_NAME).exists():
        start, history, elapsed = _restore(out / CHECKPOINT_NAME, state, model)
    for epoch in range(start, min(cfg.epochs, stop_after or cfg.epochs)):
        began = time.perf_counter()
        row = {"epoch": epoch + 1, **_train_epoch(model, train_data, state, epoch)}
        _average_weights(state, model, train_data, epoch)
        elapsed += time.perf_counter() - began
        row["lr"] = max(state["scheduler"].get_last_lr())  # the head's LR when the backbone's is scaled
        row["train_time_s"] = round(elapsed, 1)
        if val_data is not None and ctx.is_main:
            for size in cfg.eval_sizes:
                acc = evaluate(_eval_model(state, model), val_data, size, channels_last=cfg.channels_last).accuracy
                row[f"val_acc@{size}"] = acc
        history.append(row)
        if ctx.is_main:
            logger.info("%s", json.dumps(row))
            if out is not None:
                _atomic_torch_save(_checkpoint(state, model, epoch + 1, history, elapsed), out / CHECKPOINT_NAME)
                _log_metrics(out, history)
        ctx.barrier()
    final = _eval_model(state, model).to(memory_format=torch.contiguous_format).eval()
    return TrainResult(final, history, elapsed, out)


def train(
    cfg: TrainConfig,
    data_dir: str | Path | None = None,
    output_dir: str | Path | None = None,
    resume: bool = False,
    download: bool = False,
) -> TrainResult:
    """Train a registered model on MNIST or Fashion-MNIST with the recipe ``cfg``.

    Holds the data in memory, keeps ``cfg.val_size`` training images out for
    validation, checkpoints atomically after every epoch into ``output_dir`` and, at
    the end, saves the final model there in the Hub layout (``model/``).

    Args:
        cfg: The recipe.
        data_dir: Folder with the IDX files (see :func:`mobilenet_mnist.load_dataset`).
        output_dir: Run folder for ``last.ckpt``, ``metrics.jsonl`` and ``model/``.
        resume: Continue a killed run from ``output_dir/last.ckpt``.
        download: Let torchvision download the data into ``data_dir`` if missing.

    Returns:
        A :class:`TrainResult`.
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, e.g. get_preset('fast'), got {type(cfg).__name__}.")
    full = load_dataset(cfg.dataset, "train", data_dir, download=download)
    train_idx, val_idx = train_val_split(len(full), cfg.val_size, seed=0)
    train_data = full.subset(train_idx)
    val_data = full.subset(val_idx) if cfg.val_size else None
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, num_classes=len(full.classes))
    result = fit(model, train_data, cfg, val_data, output_dir, resume)
    if output_dir is not None and get_dist_context().is_main:
        _save_final(result, cfg, Path(output_dir), full.classes)
    return result


def extend_run(run_dir: str | Path, cfg: TrainConfig, output_dir: str | Path) -> Path:
    """Start a longer run whose first epochs are a finished run, e.g. to add SWA epochs.

    The finished run's recipe must equal ``cfg`` except for ``epochs``, ``swa_epochs`` and
    ``swa_lr`` (and runtime fields), it must have no SWA epochs itself, and ``cfg``'s
    warm-up + cosine part must span exactly its epochs. Then those epochs *are* the first
    epochs of ``cfg``, and training on with ``train(cfg, output_dir=output_dir,
    resume=True)`` finishes ``cfg``. A checkpoint stripped of its optimizer state (as
    ``scripts/train_grid.py`` packs them) continues with zero momentum.

    Args:
        run_dir: The finished run's folder (with ``last.ckpt``).
        cfg: The longer recipe.
        output_dir: A new run folder; gets ``last.ckpt`` and ``metrics.jsonl``.

    Returns:
        The path of the written checkpoint.

    Raises:
        ValueError: If the run is unfinished, or its recipe is not the start of ``cfg``.
        FileExistsError: If ``output_dir`` already holds a checkpoint.
    """
    from .runs import read_checkpoint

    source = Path(run_dir) / CHECKPOINT_NAME
    checkpoint = read_checkpoint(source)
    done = TrainConfig.from_dict(checkpoint["config"])
    _check_extension(done, cfg, int(checkpoint["epoch"]), source)
    out = Path(output_dir)
    if (out / CHECKPOINT_NAME).exists():
        raise FileExistsError(f"{out / CHECKPOINT_NAME} exists; extend into a new, empty run folder.")
    history = json.loads(checkpoint["history"])
    model = build_model(dataclasses.replace(cfg, init_from=None), num_classes=len(DATASETS[cfg.dataset].classes))
    model.load_state_dict(checkpoint["model"])
    steps_per_epoch = int(history[-1]["steps"])
    state = _build_state(cfg, model, steps_per_epoch, get_dist_context(), torch.device("cpu"))
    if checkpoint.get("optimizer") is not None:
        state["optimizer"].load_state_dict(checkpoint["optimizer"])
    with warnings.catch_warnings():  # stepping the schedule without optimizer steps is the point here
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(done.epochs * steps_per_epoch):
            state["scheduler"].step()
    out.mkdir(parents=True, exist_ok=True)
    _atomic_torch_save(_checkpoint(state, model, done.epochs, history, float(checkpoint["train_time_s"])),
                       out / CHECKPOINT_NAME)
    _log_metrics(out, history)
    return out / CHECKPOINT_NAME


def _check_extension(done: TrainConfig, cfg: TrainConfig, epochs_done: int, source: Path) -> None:
    if epochs_done != done.epochs:
        raise ValueError(f"{source} stopped after {epochs_done} of {done.epochs} epochs; finish it with "
                         "resume=True before extending it.")
    given = cfg.to_dict()
    diff = {k: (v, given[k]) for k, v in done.to_dict().items()
            if given[k] != v and k not in RUNTIME_FIELDS | EXTENSION_FIELDS}
    if diff:
        raise ValueError(f"Cannot extend {source}: the recipe differs beyond {sorted(EXTENSION_FIELDS)} "
                         f"(finished, given): {diff}.")
    if done.swa_epochs or cfg.epochs - cfg.swa_epochs != done.epochs:
        raise ValueError(
            f"Cannot extend {source}: its {done.epochs} epochs (swa_epochs={done.swa_epochs}) must be exactly the "
            f"warm-up + cosine part of the new recipe (epochs - swa_epochs = {cfg.epochs - cfg.swa_epochs}); "
            f"e.g. epochs={done.epochs + max(cfg.swa_epochs, 1)}, swa_epochs={max(cfg.swa_epochs, 1)}."
        )


def _save_final(result: TrainResult, cfg: TrainConfig, output_dir: Path, classes: tuple[str, ...]) -> None:
    """Write the final weights as ``final.safetensors`` plus ``final.json`` (recipe, time, labels)."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()}
    with atomic_path(output_dir / "final.safetensors") as tmp:
        save_file(state, str(tmp), metadata={"model": cfg.model, "dataset": cfg.dataset})
    info = {
        "recipe": cfg.to_dict(),
        "train_time_s": result.train_time_s,
        "labels": list(classes),
        "history": result.history,
    }
    atomic_write_bytes(output_dir / "final.json", json.dumps(info, indent=2).encode())
