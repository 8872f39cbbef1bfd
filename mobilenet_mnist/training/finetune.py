"""Fine-tuning helpers: freeze the backbone, lower its learning rate, train on your own data.

The *backbone* is everything but the classifier (``model.get_classifier()``): the stem,
the stages and their BatchNorm layers. Typical schedules (see ``docs/finetuning.rst``):

* linear probe: :func:`freeze_backbone`, then train (only the classifier learns);
* full fine-tuning with a smaller backbone learning rate: :func:`param_groups`;
* both in turn: probe first, then :func:`unfreeze_backbone` and train everything.

:func:`tensors_from_dataset` turns a ``torch.utils.data.Dataset`` of (image, label)
pairs into :class:`~mobilenet_mnist.data.datasets.ImageTensors`, the input of
:func:`mobilenet_mnist.training.loop.fit`.
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.datasets import ImageTensors, _pil_to_array

__all__ = [
    "FrozenStatsBatchNorm2d",
    "freeze_backbone",
    "unfreeze_backbone",
    "param_groups",
    "tensors_from_dataset",
]

logger = logging.getLogger(__name__)
# ITU-R 601 luma weights, as PIL's convert("L") uses.
_LUMA = (0.299, 0.587, 0.114)
_CHANNEL_COUNTS = (1, 3, 4)


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


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel/DataParallel wrapper."""
    return model.module if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)) else model


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
    backbone, head = [], []
    for param in model.parameters():
        (head if id(param) in head_ids else backbone).append(param)
    return backbone, head


def freeze_backbone(model: nn.Module, freeze_bn_stats: bool = True) -> nn.Module:
    """Stop training everything but the classifier.

    Sets ``requires_grad=False`` on every backbone parameter, so optimizers built
    afterwards from trainable parameters (as :func:`mobilenet_mnist.training.loop.fit` does)
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
    base = _unwrap(model)
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


def unfreeze_backbone(model: nn.Module) -> nn.Module:
    """Undo :func:`freeze_backbone`: every parameter trainable, BatchNorm statistics live again.

    The BatchNorm layers return to the model's current mode (``model.training``).

    Args:
        model: A :class:`~mobilenet_mnist.MobileNetV1` (or a DDP wrapper around one).

    Returns:
        ``model``, changed in place.

    Raises:
        TypeError: If the model has no ``get_classifier()``.
    """
    base = _unwrap(model)
    _classifier(base)  # same TypeError as freeze_backbone for unsupported models
    for param in base.parameters():
        param.requires_grad_(True)
    for module in base.modules():
        if type(module) is FrozenStatsBatchNorm2d:
            module.__class__ = nn.BatchNorm2d
            module.train(base.training)
    return model


def _check_non_negative(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    return float(value)


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
        TypeError: If the model has no ``get_classifier()``.
    """
    scale = _check_non_negative("backbone_lr_scale", backbone_lr_scale)
    decay = _check_non_negative("weight_decay", weight_decay)
    lr = _check_non_negative("lr", lr)
    if lr == 0:
        raise ValueError("lr must be > 0, got 0.")
    backbone, head = _split_parameters(_unwrap(model))
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


# --------------------------------------------------------------------------- datasets
def _to_chw(x: torch.Tensor, index: int) -> torch.Tensor:
    """(H, W), (C, H, W) or (H, W, C) → (C, H, W); channels-first wins when both fit."""
    if x.dim() == 2:
        return x.unsqueeze(0)
    if x.dim() == 3 and x.shape[0] in _CHANNEL_COUNTS:
        return x
    if x.dim() == 3 and x.shape[-1] in _CHANNEL_COUNTS:
        return x.permute(2, 0, 1)
    raise ValueError(
        f"Item {index}: expected an image of shape (H, W), (C, H, W) or (H, W, C) with C in "
        f"{_CHANNEL_COUNTS}, got shape {tuple(x.shape)}."
    )


def _to_uint8(x: torch.Tensor, index: int) -> torch.Tensor:
    """uint8 as is; floats in [0, 1] and ints in [0, 255] converted; anything else refused."""
    if x.dtype == torch.uint8:
        return x
    if x.dtype == torch.uint16:  # 16-bit images (PIL mode "I;16"): the full range maps to [0, 1]
        x = x.to(torch.float32).div_(65535)
    if x.is_floating_point():
        if not bool(torch.isfinite(x).all()) or float(x.min()) < 0 or float(x.max()) > 1:
            raise ValueError(
                f"Item {index}: float images must hold finite values in [0, 1] (e.g. from "
                f"transforms.ToTensor()), got range [{float(x.min()):.3g}, {float(x.max()):.3g}]. "
                "Do not normalise them: training normalises with the model's mean and std."
            )
        return x.mul(255).round_().to(torch.uint8)
    if x.dtype in (torch.int16, torch.int32, torch.int64) and int(x.min()) >= 0 and int(x.max()) <= 255:
        return x.to(torch.uint8)
    raise TypeError(f"Item {index}: unsupported image dtype {x.dtype} or values outside [0, 255]; use uint8.")


def _match_channels(x: torch.Tensor, in_chans: int, index: int) -> torch.Tensor:
    """(C, H, W) uint8 → (in_chans, H, W): drop alpha, gray → RGB by repeating, RGB → gray by luma."""
    if x.shape[0] == 4:
        x = x[:3]
    if x.shape[0] == in_chans:
        return x
    if x.shape[0] == 1:
        return x.expand(in_chans, -1, -1)
    if x.shape[0] == 3 and in_chans == 1:
        luma = torch.tensor(_LUMA).view(3, 1, 1)
        return (x.float() * luma).sum(dim=0, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)
    raise ValueError(f"Item {index}: cannot turn {x.shape[0]} channels into in_chans={in_chans}.")


def _image_tensor(image: Any, in_chans: int, index: int) -> torch.Tensor:
    """One dataset image (PIL, numpy or tensor) → uint8 (in_chans, H, W)."""
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(np.ascontiguousarray(image))
    elif not isinstance(image, torch.Tensor):
        from PIL import Image  # lazy: only needed for PIL datasets

        if not isinstance(image, Image.Image):
            raise TypeError(
                f"Item {index}: images must be PIL images, numpy arrays or torch tensors, got {type(image).__name__}."
            )
        try:  # the conversions of preprocess: alpha onto black, 16-bit and float modes kept exact
            image = torch.from_numpy(_pil_to_array(image, in_chans))
        except ValueError as error:
            raise ValueError(f"Item {index}: {error}") from error
    x = _to_uint8(_to_chw(image.detach().cpu(), index), index)
    return _match_channels(x, in_chans, index)


def _label(label: Any, index: int) -> int:
    if isinstance(label, (torch.Tensor, np.ndarray)):
        array = np.asarray(label.detach().cpu() if isinstance(label, torch.Tensor) else label)
        if array.size != 1:
            raise ValueError(f"Item {index}: a label must be one integer, got shape {array.shape}.")
        label = array.reshape(()).item()
    try:
        value = operator.index(label)
    except TypeError as error:
        raise TypeError(f"Item {index}: a label must be an integer class index, got {label!r}.") from error
    if value < 0:
        raise ValueError(f"Item {index}: labels must be >= 0, got {value}.")
    return value


def _items(dataset: Any) -> Iterator[Any]:
    """Map-style datasets by index (torch Datasets need not support iteration), else iterate."""
    if hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"):
        return (dataset[i] for i in range(len(dataset)))
    if not hasattr(dataset, "__iter__"):
        raise TypeError(
            "tensors_from_dataset expects a dataset of (image, label) pairs (a torch Dataset, a list "
            f"of pairs, ...), got {type(dataset).__name__}."
        )
    return iter(dataset)


def _resolve_classes(dataset: Any, classes: Any, labels: torch.Tensor) -> tuple[str, ...]:
    if classes is None:
        classes = getattr(dataset, "classes", None)
    if classes is None:
        classes = [str(i) for i in range(int(labels.max()) + 1)]
    classes = tuple(str(name) for name in classes)
    if int(labels.max()) >= len(classes):
        raise ValueError(
            f"Label {int(labels.max())} is out of range for {len(classes)} classes {classes}; "
            "pass classes= naming every class, indexed by label."
        )
    return classes


def tensors_from_dataset(
    dataset: Any,
    classes: list[str] | tuple[str, ...] | None = None,
    in_chans: int = 1,
) -> ImageTensors:
    """Read a dataset of ``(image, label)`` pairs into memory for :func:`~mobilenet_mnist.training.loop.fit`.

    Works with any ``torch.utils.data.Dataset`` (map-style or iterable), a list of
    pairs, or torchvision datasets such as ``ImageFolder`` or ``FashionMNIST``.
    Images may be PIL images, numpy arrays ((H, W) or (H, W, C)) or tensors ((H, W) or
    (C, H, W), e.g. from ``transforms.ToTensor()``), as uint8 (0–255) or float (0–1),
    not yet normalised. All must have the same size: resize them in the dataset's
    transform (``fit`` resizes to the recipe's ``train_sizes`` anyway).

    Example:
        >>> import torch
        >>> from mobilenet_mnist.training.finetune import tensors_from_dataset
        >>> pairs = [(torch.rand(1, 28, 28), i % 3) for i in range(6)]
        >>> data = tensors_from_dataset(pairs, classes=["a", "b", "c"])
        >>> data.images.shape, data.images.dtype, data.classes
        (torch.Size([6, 28, 28]), torch.uint8, ('a', 'b', 'c'))

    Args:
        dataset: The (image, label) pairs; labels are integer class indices.
        classes: Class names indexed by label; default ``dataset.classes`` if it exists,
            else ``"0"``, ``"1"``, ... up to the largest label.
        in_chans: Channels the model takes: 1 (colour is converted to gray with PIL's
            luma weights) or 3 (gray is repeated).

    Returns:
        :class:`~mobilenet_mnist.data.datasets.ImageTensors` with uint8 images of shape (N, H, W)
        for ``in_chans=1``, (N, C, H, W) otherwise, and int64 labels.

    Raises:
        ValueError: For an empty dataset, images of different sizes, out-of-range values
            or labels.
        TypeError: For items that are not (image, label) pairs or unsupported types.
    """
    if isinstance(in_chans, bool) or not isinstance(in_chans, int) or in_chans < 1:
        raise ValueError(f"in_chans must be a positive int (1 for gray, 3 for RGB), got {in_chans!r}.")
    images, labels = _read_items(dataset, in_chans)
    labels_t = torch.tensor(labels, dtype=torch.int64)
    stacked = torch.stack(images)
    if in_chans == 1:
        stacked = stacked[:, 0]
    return ImageTensors(stacked.contiguous(), labels_t, _resolve_classes(dataset, classes, labels_t))


def _read_items(dataset: Any, in_chans: int) -> tuple[list[torch.Tensor], list[int]]:
    from tqdm.auto import tqdm

    total = len(dataset) if hasattr(dataset, "__len__") else None
    images: list[torch.Tensor] = []
    labels: list[int] = []
    for index, item in enumerate(tqdm(_items(dataset), total=total, desc="reading dataset", leave=False,
                                      disable=total is None or total < 10_000)):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(f"Item {index}: expected an (image, label) pair, got {type(item).__name__}.")
        image = _image_tensor(item[0], in_chans, index)
        if images and image.shape != images[0].shape:
            raise ValueError(
                f"Item {index} has shape {tuple(image.shape)} but item 0 has {tuple(images[0].shape)} "
                "(channels, height, width): resize every image to one size in the dataset's "
                "transform, e.g. torchvision.transforms.Resize((28, 28))."
            )
        images.append(image)
        labels.append(_label(item[1], index))
    if not images:
        raise ValueError("The dataset is empty: tensors_from_dataset needs at least one (image, label) pair.")
    return images, labels
