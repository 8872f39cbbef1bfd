"""The training loop: :func:`fit` on in-memory tensors, :func:`train` on MNIST or Fashion-MNIST.

Runs on the CPU or a GPU (``device="cuda"``), in one process or under ``torchrun``
(DistributedDataParallel; see :mod:`.distributed`). Every epoch ends with an atomic
checkpoint (:mod:`.state`), so a killed run continues with ``resume=True`` exactly where
it stopped: each epoch's shuffling, augmentation and dropout draw from generators seeded
by ``(seed, epoch)``, so a resumed run ends with the same weights as an uninterrupted one.
A finished :func:`train` run folder holds a model that ``from_pretrained`` loads (:mod:`.runs`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data.augment import augment_batch
from ..data.datasets import ImageTensors, load_dataset, train_val_split
from ..models import MobileNetV1
from ..utils.modules import unwrap_model

# build_*, resolve_device, PRESETS, get_preset, the *_FIELDS, METRICS_NAME, extend_run and
# CHECKPOINT_NAME were in release 0.2.0's ``mobilenet_mnist.training`` module: they stay
# importable from here (``X as X`` marks a re-export).
from .components import build_ema as build_ema
from .components import build_model as build_model
from .components import build_optimizer as build_optimizer
from .components import build_scheduler as build_scheduler
from .components import build_swa as build_swa
from .components import resolve_device as resolve_device
from .config import EXTENSION_FIELDS as EXTENSION_FIELDS
from .config import PRESETS as PRESETS
from .config import RUNTIME_FIELDS as RUNTIME_FIELDS
from .config import TrainConfig as TrainConfig
from .config import get_preset as get_preset
from .distributed import get_dist_context
from .evaluation import evaluate
from .progress import epoch_header, epoch_row, progress_bar
from .runs import METRICS_NAME as METRICS_NAME
from .runs import extend_run as extend_run
from .runs import remove_stale_temp_files, save_run_model, write_metrics
from .state import CHECKPOINT_NAME as CHECKPOINT_NAME
from .state import TrainState, build_state, checkpoint_to_resume, write_checkpoint
from .state import write_checkpoint as _atomic_torch_save  # noqa: F401  (0.2.0's private name, still imported)

__all__ = ["TrainResult", "fit", "train"]

logger = logging.getLogger(__name__)
LOSS_DISPLAY_EVERY = 50  # steps between progress-bar loss updates (each one syncs a GPU)


@dataclass
class TrainResult:
    """What :func:`fit` and :func:`train` return.

    Attributes:
        model: The final model in eval mode (the EMA or SWA average when enabled).
        history: One metrics row per epoch, as in ``metrics.jsonl``.
        train_time_s: Seconds spent training (validation not included).
        output_dir: The run folder, or ``None`` when nothing was kept.
    """

    model: MobileNetV1
    history: list[dict[str, Any]]
    train_time_s: float
    output_dir: Path | None


# --------------------------------------------------------------------------- one epoch
def _epoch_generator(seed: int, epoch: int, rank: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch * 1009 + rank)


def _batch_plan(cfg: TrainConfig, num_images: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """An epoch's shuffled image order and the input side of each of its batches."""
    order = torch.randperm(num_images, generator=generator)
    steps = num_images // cfg.batch_size
    if cfg.max_steps_per_epoch:
        steps = min(steps, cfg.max_steps_per_epoch)
    sizes = torch.tensor(cfg.train_sizes)[torch.randint(len(cfg.train_sizes), (steps,), generator=generator)]
    return order, sizes


def _train_epoch(model: nn.Module, data: ImageTensors, state: TrainState, epoch: int) -> dict[str, float]:
    cfg, ctx = state.cfg, state.ctx
    generator = _epoch_generator(cfg.seed, epoch)
    torch.manual_seed(cfg.seed * 7919 + epoch)  # dropout draws from the global generator
    order, sizes = _batch_plan(cfg, len(data), generator)
    local_batch = cfg.batch_size // ctx.world_size
    model.train()
    # Step losses stay on the device and are read back rarely: reading one every step would
    # make the CPU wait for a GPU after each batch. Every step has the same batch size.
    losses: list[torch.Tensor] = []
    progress = progress_bar(len(sizes), f"epoch {epoch + 1}/{cfg.epochs}", ctx.is_main)
    for step in range(len(sizes)):
        batch = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
        batch = batch[ctx.rank * local_batch : (ctx.rank + 1) * local_batch]
        # Every rank draws the same augmentation parameters; each uses its own slice.
        x = augment_batch(data.images[batch], int(sizes[step]), state.mean, state.std, cfg.augment, generator)
        losses.append(_train_step(model, x, data.labels[batch], state))
        progress.update(1)
        if step % LOSS_DISPLAY_EVERY == 0 and not progress.disable:
            progress.set_postfix(loss=f"{float(losses[-1]):.4f}", refresh=False)
    progress.close()
    return {"train_loss": float(torch.stack(losses).double().mean()), "steps": len(sizes)}


def _train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, state: TrainState) -> torch.Tensor:
    cfg, device = state.cfg, state.device
    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    if cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        loss = F.cross_entropy(model(x), y, label_smoothing=cfg.label_smoothing)
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    state.optimizer.step()
    state.scheduler.step()
    if state.ema is not None:
        state.ema.update_parameters(unwrap_model(model))
    return loss.detach()


def _average_weights(state: TrainState, model: nn.Module, data: ImageTensors, epoch: int) -> None:
    cfg = state.cfg
    if state.swa is None or epoch < cfg.epochs - cfg.swa_epochs:
        return
    state.swa.update_parameters(unwrap_model(model))
    if epoch + 1 == cfg.epochs:
        _recompute_batchnorm(state.swa.module, data, state)


def _recompute_batchnorm(model: nn.Module, data: ImageTensors, state: TrainState) -> None:
    """Set BN statistics to their average over one augmented pass of the training data."""
    from torch.optim.swa_utils import update_bn

    cfg = state.cfg
    # A stream of its own (epoch index = cfg.epochs), with the training epochs' sizes and
    # augmentation, so the statistics match what the weights were trained on.
    generator = _epoch_generator(cfg.seed, cfg.epochs)
    order, sizes = _batch_plan(cfg, len(data), generator)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format

    def batches() -> Any:
        for step in range(len(sizes)):
            batch = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            x = augment_batch(data.images[batch], int(sizes[step]), state.mean, state.std, cfg.augment, generator)
            yield x.contiguous(memory_format=fmt)

    with torch.autocast(state.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        update_bn(batches(), model, device=state.device)


def _run_epoch(
    model: nn.Module, data: ImageTensors, val_data: ImageTensors | None, state: TrainState, epoch: int, elapsed: float
) -> tuple[dict[str, Any], float]:
    """Train one epoch, average, validate; returns the metrics row and the seconds trained."""
    began = time.perf_counter()
    row: dict[str, Any] = {"epoch": epoch + 1, **_train_epoch(model, data, state, epoch)}
    _average_weights(state, model, data, epoch)
    seconds = time.perf_counter() - began
    row["lr"] = max(state.scheduler.get_last_lr())  # the head's LR when the backbone's is scaled
    row["train_time_s"] = round(elapsed + seconds, 1)
    if val_data is not None and state.ctx.is_main:
        for size in state.cfg.eval_sizes:
            evaluated = evaluate(state.eval_model(model), val_data, size, channels_last=state.cfg.channels_last)
            row[f"val_acc@{size}"] = evaluated.accuracy
    return row, seconds


def _end_epoch(
    state: TrainState, model: nn.Module, history: list[dict[str, Any]], elapsed: float, out: Path | None, wall: float
) -> None:
    """Show the epoch's table row, then checkpoint and log it (the main process only)."""
    if state.ctx.is_main:
        logger.info("%s", epoch_row(history[-1], state.cfg.epochs, state.cfg.eval_sizes, wall))
        if out is not None:
            write_checkpoint(state.checkpoint(model, len(history), history, elapsed), out / CHECKPOINT_NAME)
            write_metrics(out, history)
    state.ctx.barrier()


# --------------------------------------------------------------------------- fit and train
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


def _prepare(model: nn.Module, train_data: ImageTensors, cfg: TrainConfig) -> tuple[nn.Module, TrainState]:
    """Move (and under torchrun wrap) the model, and build the optimizer, schedule and averages."""
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
    return model, build_state(cfg, model, steps_per_epoch, ctx, device)


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
    Each epoch logs one table row (epoch, train loss, validation accuracy, LR, seconds)
    at INFO level; ``output_dir/metrics.jsonl`` gets the full-precision row.

    Args:
        model: The model to train (e.g. a pretrained one for fine-tuning).
        train_data: Training images and labels.
        cfg: The recipe.
        val_data: Optional validation split, scored after every epoch.
        output_dir: Where ``last.ckpt`` and ``metrics.jsonl`` go (``None``: keep nothing).
        resume: Continue from ``output_dir/last.ckpt``.
        stop_after: Stop once this many epochs are done (the schedule still spans
            ``cfg.epochs``), to train in time-boxed pieces continued with ``resume``.

    Returns:
        A :class:`TrainResult` whose ``model`` holds the final weights (the EMA or SWA average when enabled).

    Raises:
        TypeError: For a model, data or recipe of the wrong type.
        ValueError: If the batch does not fit the data or the processes, or a resumed
            checkpoint has another recipe.
        FileNotFoundError: If ``resume`` and ``output_dir`` has no ``last.ckpt``.
    """
    _check_fit_args(model, train_data, cfg, val_data)
    out = Path(output_dir) if output_dir is not None else None
    checkpoint = checkpoint_to_resume(out) if resume else None
    wrapped, state = _prepare(model, train_data, cfg)  # under torchrun: in DistributedDataParallel
    if out is not None and state.ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(out)
    start, history, elapsed = state.restore(checkpoint, wrapped) if checkpoint else (0, [], 0.0)
    end = min(cfg.epochs, stop_after or cfg.epochs)
    if state.ctx.is_main and start < end:
        logger.info("%s", epoch_header(cfg.eval_sizes, val_data is not None))
    for epoch in range(start, end):
        began = time.perf_counter()
        row, seconds = _run_epoch(wrapped, train_data, val_data, state, epoch, elapsed)
        elapsed += seconds
        history.append(row)
        _end_epoch(state, wrapped, history, elapsed, out, time.perf_counter() - began)
    final = state.eval_model(wrapped).to(memory_format=torch.contiguous_format).eval()
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
    validation, checkpoints atomically after every epoch into ``output_dir`` and, at the
    end, saves the final model there in the ``save_pretrained`` layout, so that
    ``from_pretrained(output_dir)`` loads it (see :mod:`mobilenet_mnist.training.runs`).

    Example:
        >>> from mobilenet_mnist import from_pretrained, get_preset, train
        >>> train(get_preset("fast"), output_dir="runs/fast")  # doctest: +SKIP
        >>> model = from_pretrained("runs/fast")  # doctest: +SKIP

    Args:
        cfg: The recipe.
        data_dir: Folder with the IDX files (see :func:`mobilenet_mnist.load_dataset`).
        output_dir: Run folder for ``last.ckpt``, ``metrics.jsonl`` and the final model.
        resume: Continue a killed run from ``output_dir/last.ckpt``.
        download: Let torchvision download the data into ``data_dir`` if missing.

    Returns:
        A :class:`TrainResult`.

    Raises:
        TypeError: If ``cfg`` is not a :class:`TrainConfig`.
        FileNotFoundError: If the data is missing, or ``resume`` finds no ``last.ckpt``
            (checked before the data is read).
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, e.g. get_preset('fast'), got {type(cfg).__name__}.")
    if resume:
        checkpoint_to_resume(output_dir)
    full = load_dataset(cfg.dataset, "train", data_dir, download=download)
    train_idx, val_idx = train_val_split(len(full), cfg.val_size, seed=0)
    val_data = full.subset(val_idx) if cfg.val_size else None
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, num_classes=len(full.classes))
    result = fit(model, full.subset(train_idx), cfg, val_data, output_dir, resume)
    if output_dir is not None and get_dist_context().is_main:
        save_run_model(output_dir, result.model, cfg, labels=full.classes, history=result.history,
                       train_time_s=result.train_time_s)
    return result
