"""Fine-tuning helpers: freeze the backbone, or give it a lower learning rate.

The *backbone* is everything but the classifier (``model.get_classifier()``): the stem,
the stages and their BatchNorm layers. Typical schedules (see ``docs/finetuning.rst``):

* linear probe: :func:`freeze_backbone`, then train (only the classifier learns);
* full fine-tuning with a smaller backbone learning rate: :func:`param_groups`;
* both in turn: probe first, then :func:`unfreeze_backbone` and train everything.

To train on your own images, :func:`mobilenet_mnist.data.convert.tensors_from_dataset`
turns a ``torch.utils.data.Dataset`` of (image, label) pairs into the tensors that
:func:`mobilenet_mnist.training.fit` takes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, TypeVar

from torch import nn

# Here in release 0.2.0 (mobilenet_mnist.finetune); data preparation lives in data/ now.
from ..data.convert import tensors_from_dataset as tensors_from_dataset
from ..utils.checks import check_number
from ..utils.modules import unwrap_model

__all__ = [
    "FrozenStatsBatchNorm2d",
    "freeze_backbone",
    "unfreeze_backbone",
    "param_groups",
]

logger = logging.getLogger(__name__)

#: The model type freeze_backbone and unfreeze_backbone take and give back (the same object).
ModuleT = TypeVar("ModuleT", bound=nn.Module)


class FrozenStatsBatchNorm2d(nn.BatchNorm2d):
    """A :class:`torch.nn.BatchNorm2d` that stays in eval mode: ``train()`` is ignored.

    :func:`freeze_backbone` switches the class of the backbone's BatchNorm layers to this
    one (same parameters, buffers and ``state_dict`` keys), so ``model.train()``, which a
    training loop calls every epoch, no longer makes them use batch statistics or update
    ``running_mean``/``running_var``. :func:`unfreeze_backbone` switches them back.
    Changing the class rather than adding a hook keeps the behaviour through
    ``copy.deepcopy`` (EMA copies) and pickling, and shows in ``print(model)``.
    """

    def train(self, mode: bool = True) -> FrozenStatsBatchNorm2d:
        """Stay in eval mode whatever ``mode`` is (frozen statistics)."""
        return super().train(False)


def _classifier(model: nn.Module) -> nn.Module:
    """``model.get_classifier()``, with an error that says what is needed."""
    get_classifier = getattr(model, "get_classifier", None)
    if not callable(get_classifier):
        raise TypeError(
            f"Expected a MobileNetV1 (or a model with get_classifier()), got {type(model).__name__}; "
            "the backbone is everything but the module get_classifier() returns."
        )
    return get_classifier()


def _backbone_modules(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """Named modules outside the classifier."""
    head = {id(module) for module in _classifier(model).modules()}
    for name, module in model.named_modules():
        if id(module) not in head:
            yield name, module


def _split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(backbone, head) parameters, each parameter in exactly one list."""
    head_ids = {id(p) for p in _classifier(model).parameters()}
    backbone: list[nn.Parameter] = []
    head: list[nn.Parameter] = []
    for param in model.parameters():
        (head if id(param) in head_ids else backbone).append(param)
    return backbone, head


def freeze_backbone(model: ModuleT, freeze_bn_stats: bool = True) -> ModuleT:
    """Stop training everything but the classifier.

    Sets ``requires_grad=False`` on every backbone parameter, so optimizers built
    afterwards from trainable parameters (as :func:`mobilenet_mnist.training.fit` does)
    leave them alone. With ``freeze_bn_stats`` the backbone's BatchNorm layers also keep
    their running statistics: they become :class:`FrozenStatsBatchNorm2d`, which stay in
    eval mode even when ``model.train()`` is called.

    Example:
        >>> from mobilenet_mnist import mobilenet_v1
        >>> from mobilenet_mnist.training.finetune import freeze_backbone
        >>> model = freeze_backbone(mobilenet_v1(width_mult=0.25))
        >>> [name for name, p in model.named_parameters() if p.requires_grad]
        ['classifier.weight', 'classifier.bias']

    Args:
        model: A :class:`~mobilenet_mnist.MobileNetV1` (or a DDP wrapper around one).
        freeze_bn_stats: Also freeze BatchNorm running statistics (recommended for small
            datasets or small batches). With ``False`` the statistics keep adapting to the
            new images in training mode while the BatchNorm weights stay fixed.
            ``nn.SyncBatchNorm.convert_sync_batchnorm`` (``TrainConfig(sync_bn=True)``
            under torchrun) turns frozen layers back into trainable SyncBatchNorm: keep
            ``sync_bn=False`` when the statistics are frozen.

    Returns:
        ``model``, changed in place.

    Raises:
        TypeError: If the model has no ``get_classifier()``, or if ``freeze_bn_stats``
            meets a BatchNorm type other than ``nn.BatchNorm2d`` (e.g. SyncBatchNorm).
    """
    base = unwrap_model(model)
    backbone, _ = _split_parameters(base)
    norms = [module for _, module in _backbone_modules(base) if _is_freezable_bn(module)] if freeze_bn_stats else []
    for param in backbone:
        param.requires_grad_(False)
    for module in norms:
        module.__class__ = FrozenStatsBatchNorm2d
        module.eval()
    logger.info("Froze %d backbone tensors (BatchNorm statistics frozen: %s).", len(backbone), freeze_bn_stats)
    return model


def _is_freezable_bn(module: nn.Module) -> bool:
    """True for plain BatchNorm2d; other BatchNorm types are refused (checked before any change)."""
    if type(module) in (nn.BatchNorm2d, FrozenStatsBatchNorm2d):
        return True
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        raise TypeError(
            f"Cannot freeze the statistics of a {type(module).__name__}: only nn.BatchNorm2d is supported. "
            "Use a model without SyncBatchNorm (TrainConfig(sync_bn=False)), or pass freeze_bn_stats=False."
        )
    return False


def unfreeze_backbone(model: ModuleT) -> ModuleT:
    """Undo :func:`freeze_backbone`: every parameter trainable, BatchNorm statistics live again.

    The BatchNorm layers return to the model's current mode (``model.training``).

    Args:
        model: A :class:`~mobilenet_mnist.MobileNetV1` (or a DDP wrapper around one).

    Returns:
        ``model``, changed in place.

    Raises:
        TypeError: If the model has no ``get_classifier()``.
    """
    base = unwrap_model(model)
    _classifier(base)  # same TypeError as freeze_backbone for unsupported models
    for param in base.parameters():
        param.requires_grad_(True)
    for module in base.modules():
        if type(module) is FrozenStatsBatchNorm2d:
            module.__class__ = nn.BatchNorm2d  # type: ignore[assignment]  # back to the plain class, in place
            module.train(base.training)
    return model


def param_groups(
    model: nn.Module,
    lr: float,
    backbone_lr_scale: float = 0.1,
    weight_decay: float = 1e-4,
) -> list[dict[str, Any]]:
    """Optimizer parameter groups with a smaller learning rate for the backbone.

    Trainable parameters (``requires_grad``) are split four ways: backbone or
    classifier, and with or without weight decay (decay on conv and linear weights only,
    not on BatchNorm parameters or biases, as in the training recipe). Frozen parameters
    are left out. Each group has ``lr = lr * lr_scale``, with ``lr_scale`` (also stored in
    the group) 1 for the classifier and ``backbone_lr_scale`` for the backbone.
    Schedulers such as ``LambdaLR`` multiply each group's own ``lr``, so the ratio holds
    for the whole schedule.

    Example:
        >>> import torch
        >>> from mobilenet_mnist import mobilenet_v1
        >>> from mobilenet_mnist.training.finetune import param_groups
        >>> groups = param_groups(mobilenet_v1(width_mult=0.25), lr=0.05, backbone_lr_scale=0.1)
        >>> optimizer = torch.optim.SGD(groups, lr=0.05, momentum=0.9)
        >>> sorted({round(g["lr"], 6) for g in optimizer.param_groups})
        [0.005, 0.05]

    Args:
        model: A :class:`~mobilenet_mnist.MobileNetV1` (or a DDP wrapper around one).
        lr: The classifier's (peak) learning rate.
        backbone_lr_scale: Backbone learning rate as a fraction of ``lr`` (>= 0).
        weight_decay: Weight decay of conv and linear weights (>= 0).

    Returns:
        Non-empty groups, each a dict with ``params``, ``weight_decay``, ``lr_scale``,
        ``lr`` and ``name`` (``"backbone_decay"``, ``"backbone_no_decay"``, ``"head_decay"``,
        ``"head_no_decay"``).

    Raises:
        ValueError: For a non-positive ``lr``, or a negative or non-finite
            ``backbone_lr_scale`` or ``weight_decay``.
        TypeError: If a rate is not a number, or the model has no ``get_classifier()``.
    """
    scale = float(check_number("backbone_lr_scale", backbone_lr_scale, 0))
    decay = float(check_number("weight_decay", weight_decay, 0))
    lr = float(check_number("lr", lr, 0, low_inclusive=False))
    backbone, head = _split_parameters(unwrap_model(model))
    groups = []
    for part, params, lr_scale in (("backbone", backbone, scale), ("head", head, 1.0)):
        trainable = [p for p in params if p.requires_grad]
        for suffix, chosen, group_decay in (
            ("decay", [p for p in trainable if p.dim() > 1], decay),
            ("no_decay", [p for p in trainable if p.dim() <= 1], 0.0),
        ):
            if not chosen:
                continue
            groups.append({"params": chosen, "lr": lr * lr_scale, "lr_scale": lr_scale,
                           "weight_decay": group_decay, "name": f"{part}_{suffix}"})
    return groups
