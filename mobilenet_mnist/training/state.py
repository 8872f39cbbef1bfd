"""A run's training state and ``last.ckpt``, its one reader and writer.

The state is what a run changes as it trains besides the model: optimizer, LR schedule
and weight average (EMA or SWA). ``last.ckpt`` holds it with the model, the recipe, the
epoch and the metrics history; it is written atomically after every epoch and read
with ``weights_only=True`` (never unpickling code).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from ..models import MobileNetV1
from ..utils.files import atomic_path
from ..utils.modules import unwrap_model
from .components import build_ema, build_optimizer, build_scheduler, build_swa
from .config import RUNTIME_FIELDS, TrainConfig
from .distributed import DistContext

__all__ = [
    "CHECKPOINT_NAME",
    "TrainState",
    "build_state",
    "checkpoint_to_resume",
    "read_checkpoint",
    "write_checkpoint",
]

logger = logging.getLogger(__name__)
#: The checkpoint file of a run folder, rewritten after every epoch.
CHECKPOINT_NAME = "last.ckpt"
_REQUIRED_KEYS = ("config", "model", "epoch", "train_time_s")


@dataclass
class TrainState:
    """What a run updates besides the model, and where and how it computes."""

    cfg: TrainConfig
    ctx: DistContext
    device: torch.device
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    ema: AveragedModel | None
    swa: AveragedModel | None
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def average(self) -> AveragedModel | None:
        """The weight average the recipe evaluates and saves (EMA or SWA), if any."""
        return self.ema if self.ema is not None else self.swa

    def eval_model(self, model: nn.Module) -> MobileNetV1:
        """The weights to evaluate: the average once it has begun, else the model itself."""
        if self.average is not None and int(self.average.n_averaged) > 0:
            return cast(MobileNetV1, self.average.module)
        return unwrap_model(model)

    def checkpoint(self, model: nn.Module, epoch: int, history: list[dict[str, Any]], elapsed: float) -> dict:
        """The content of ``last.ckpt`` after ``epoch`` epochs."""
        return {
            "epoch": epoch,
            "config": self.cfg.to_dict(),
            "model": unwrap_model(model).state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "swa": self.swa.state_dict() if self.swa is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": json.dumps(history),
            "train_time_s": elapsed,
        }

    def restore(self, path: Path, model: nn.Module) -> tuple[int, list[dict[str, Any]], float]:
        """Load ``path`` into the model and this state.

        Returns:
            ``(epochs done, metrics history, training seconds so far)``.

        Raises:
            FileNotFoundError, ValueError: As :func:`read_checkpoint`, or if the saved
                recipe differs from this one in more than :data:`RUNTIME_FIELDS`.
        """
        ckpt = read_checkpoint(path, map_location=self.device)
        _check_same_recipe(TrainConfig.from_dict(ckpt["config"]), self.cfg, path)
        unwrap_model(model).load_state_dict(ckpt["model"])
        if self.ema is not None:
            self.ema.load_state_dict(ckpt["ema"])
        if self.swa is not None and ckpt.get("swa") is not None:
            self.swa.load_state_dict(ckpt["swa"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        logger.info("Resumed from %s after epoch %d", path, ckpt["epoch"])
        return int(ckpt["epoch"]), json.loads(ckpt["history"]), float(ckpt["train_time_s"])


def build_state(
    cfg: TrainConfig, model: nn.Module, steps_per_epoch: int, ctx: DistContext, device: torch.device
) -> TrainState:
    """A fresh state for training ``model`` (possibly DDP-wrapped) with ``cfg``."""
    optimizer = build_optimizer(model, cfg)
    base = unwrap_model(model)
    return TrainState(
        cfg=cfg, ctx=ctx, device=device, optimizer=optimizer,
        scheduler=build_scheduler(optimizer, cfg, steps_per_epoch),
        ema=build_ema(base, cfg.ema_decay), swa=build_swa(base, cfg),
        mean=base.pretrained_cfg["mean"], std=base.pretrained_cfg["std"],
    )  # fmt: skip


def _check_same_recipe(saved: TrainConfig, given: TrainConfig, path: Path) -> None:
    saved_dict, given_dict = saved.to_dict(), given.to_dict()
    diff = {k: (v, given_dict[k]) for k, v in saved_dict.items() if given_dict[k] != v}
    recipe_diff = {k: v for k, v in diff.items() if k not in RUNTIME_FIELDS}
    if recipe_diff:
        raise ValueError(
            f"Cannot resume {path}: the recipe differs (saved, given): {recipe_diff}. Resume with the "
            f"saved recipe, or start a new run folder; only {sorted(RUNTIME_FIELDS)} may change."
        )
    if diff:
        logger.info("Resuming with other runtime settings (saved, given): %s", diff)


def write_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` atomically: ``path`` holds the old checkpoint or the new one, never a part."""
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """``torch.load`` (weights only) with an error naming the file when it is no run checkpoint.

    Args:
        path: A ``last.ckpt`` written by training.
        map_location: Where to put the tensors.

    Returns:
        The checkpoint dict (``config``, ``model``, ``epoch``, ``train_time_s``, ...).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If it is corrupt or not a checkpoint written by ``mobilenet-mnist train``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No {path.name} in {path.parent}: is it a training run folder?")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # corrupt files raise UnpicklingError, RuntimeError, EOFError, ...
        raise ValueError(
            f"{path} is not a readable training checkpoint ({type(error).__name__}); it is truncated, "
            "corrupt or not written by `mobilenet-mnist train`. Do not load it with weights_only=False."
        ) from error
    missing = [key for key in _REQUIRED_KEYS if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        raise ValueError(f"{path} is not a training checkpoint of mobilenet-mnist (missing {missing}).")
    return checkpoint


def checkpoint_to_resume(run_dir: str | Path | None) -> Path:
    """The ``last.ckpt`` that ``resume=True`` continues from.

    Raises:
        ValueError: If there is no run folder (``output_dir=None``).
        FileNotFoundError: If the folder has no ``last.ckpt``; the message says how to start afresh.
    """
    if run_dir is None:
        raise ValueError("resume=True needs the run folder to resume (output_dir); pass output_dir=RUN.")
    path = Path(run_dir) / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"No {CHECKPOINT_NAME} found in {Path(run_dir)}, so there is nothing to resume; to start a fresh "
            "run there, leave out --resume (resume=False)."
        )
    return path
