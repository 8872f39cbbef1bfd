"""What a recipe builds: the model, the device, the optimizer, the LR schedule, weight averages."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from ..models import MobileNetV1, create_model, get_arch
from .config import TrainConfig
from .finetune import param_groups

__all__ = ["build_ema", "build_model", "build_optimizer", "build_scheduler", "build_swa", "resolve_device"]


def build_model(cfg: TrainConfig, num_classes: int) -> MobileNetV1:
    """The recipe's model; its default input side is the largest evaluated size.

    Args:
        cfg: The recipe (``model``, ``dropout``, ``eval_sizes``, ``init_from``).
        num_classes: Classifier outputs.

    Returns:
        A fresh model, or with ``cfg.init_from`` the pretrained backbone and a new
        classifier (initialised from torch's global generator: seed it first).
    """
    native = get_arch("mnist").input_size
    options: dict[str, Any] = {"dropout": cfg.dropout, "resolution_mult": max(cfg.eval_sizes) / native}
    if cfg.init_from is None:
        return create_model(cfg.model, num_classes=num_classes, **options)
    model = create_model(cfg.init_from, pretrained=True, **options)
    model.reset_classifier(num_classes)  # a new task: keep the backbone, start the head afresh
    return model


def resolve_device(name: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; any other name as ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD/AdamW with weight decay on conv and linear weights only; the backbone's LR scaled.

    Only trainable parameters (``requires_grad``) are optimised, so a frozen backbone
    (:func:`~mobilenet_mnist.training.freeze_backbone`) stays as it is. The step uses torch's
    fused kernels where they exist (float parameters on the CPU or CUDA).
    """
    if cfg.backbone_lr_scale != 1.0:
        groups = param_groups(model, lr=cfg.lr, backbone_lr_scale=cfg.backbone_lr_scale, weight_decay=cfg.weight_decay)
    else:
        trainable = [p for p in model.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in trainable if p.dim() > 1], "weight_decay": cfg.weight_decay},
            {"params": [p for p in trainable if p.dim() <= 1], "weight_decay": 0.0},
        ]
    fused = _can_fuse(groups)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, fused=fused)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True, fused=fused)


def _can_fuse(groups: list[dict]) -> bool | None:
    """True where torch has fused optimizer kernels for every parameter (float, on the CPU or CUDA).

    A fused step updates all parameters in one kernel per tensor list instead of several
    ops per parameter: the same arithmetic, less per-parameter overhead. ``None`` lets
    torch choose elsewhere.
    """
    params = [p for group in groups for p in group["params"]]
    if params and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params):
        return True
    return None


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


def build_ema(model: nn.Module, decay: float) -> AveragedModel | None:
    """An EMA copy of the model (weights and BN buffers), or ``None`` if disabled.

    The decay warms up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so the
    average is not dominated by the random initial weights early in training.
    """
    if decay <= 0:
        return None

    def ema_with_warmup(averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor | int
                        ) -> torch.Tensor:
        if not averaged.is_floating_point():  # BatchNorm's batch counter
            return current
        count = torch.as_tensor(num_averaged, device=averaged.device)  # a tensor from AveragedModel; typed as int too
        step_decay = torch.clamp((1 + count) / (10 + count), max=decay).to(averaged.dtype)
        return averaged.lerp(current, 1 - step_decay)  # exact for unchanged (frozen) tensors

    return AveragedModel(model, avg_fn=ema_with_warmup, use_buffers=True)


def build_swa(model: nn.Module, cfg: TrainConfig) -> AveragedModel | None:
    """The running equal-weight average of the SWA epochs' weights, or ``None`` if disabled."""
    if not cfg.swa_epochs:
        return None
    # Buffers are averaged too, so the average can be validated before its BN statistics are
    # recomputed at the end of training.
    return AveragedModel(model, use_buffers=True)
