"""Reading a training run folder (``last.ckpt``) back into a model, for publishing."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from ..data.datasets import DATASETS
from ..models.mobilenet import MobileNetV1
from .loop import CHECKPOINT_NAME, TrainConfig, build_model

__all__ = ["load_run", "read_checkpoint"]


def load_run(run_dir: str | Path, weights: Literal["final", "raw"] = "final") -> tuple[MobileNetV1, TrainConfig, dict]:
    """Rebuild the model of a training run from its last checkpoint.

    Args:
        run_dir: The ``output_dir`` of :func:`mobilenet_mnist.training.loop.train`.
        weights: ``"final"``: the weights the recipe evaluates (the EMA or SWA average
            when enabled and begun); ``"raw"``: the optimizer's own weights, ignoring any average.

    Returns:
        ``(model in eval mode, recipe, {"epoch": ..., "train_time_s": ...})``.

    Raises:
        FileNotFoundError: If the folder has no checkpoint.
        ValueError: For an unknown ``weights`` choice, or a checkpoint that is corrupt or
            not written by :func:`~mobilenet_mnist.training.loop.train`.
    """
    if weights not in ("final", "raw"):
        raise ValueError(f"weights must be 'final' or 'raw', got {weights!r}.")
    checkpoint = read_checkpoint(Path(run_dir) / CHECKPOINT_NAME)
    cfg = TrainConfig.from_dict(checkpoint["config"])
    model = build_model(cfg, num_classes=len(DATASETS[cfg.dataset].classes))
    state = checkpoint["model"]
    average = checkpoint.get("ema") or checkpoint.get("swa")
    if weights == "final" and average is not None and int(average["n_averaged"]) > 0:
        prefix = "module."
        state = {k[len(prefix) :]: v for k, v in average.items() if k.startswith(prefix)}
    model.load_state_dict(state)
    info = {"epoch": int(checkpoint["epoch"]), "train_time_s": float(checkpoint["train_time_s"])}
    return model.eval(), cfg, info


_REQUIRED_KEYS = ("config", "model", "epoch", "train_time_s")


def read_checkpoint(path: str | Path) -> dict:
    """``torch.load`` (weights only) with an error naming the file when it is no run checkpoint.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If it is corrupt or not a checkpoint written by ``mobilenet-mnist train``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No {path.name} in {path.parent}: is it a training run folder?")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt files raise UnpicklingError, RuntimeError, EOFError, ...
        raise ValueError(
            f"{path} is not a readable training checkpoint ({type(error).__name__}); it is truncated, "
            "corrupt or not written by `mobilenet-mnist train`. Do not load it with weights_only=False."
        ) from error
    missing = [key for key in _REQUIRED_KEYS if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        raise ValueError(f"{path} is not a training checkpoint of mobilenet-mnist (missing {missing}).")
    return checkpoint
