"""Run folders: their layout, the finished model in them, reading them back, extending them.

A run folder (the ``output_dir`` of :func:`~mobilenet_mnist.training.train`) holds::

    last.ckpt          resumable state after the last finished epoch (see .state)
    metrics.jsonl      one JSON row per epoch: loss, LR, validation accuracy, time
    model.safetensors  the final model in the Hugging Face layout (save_pretrained),
    config.json        so from_pretrained(RUN), `mobilenet-mnist predict --model RUN`
    README.md          and `mobilenet-mnist evaluate RUN` work on the folder
    final.json         the finished run: recipe, labels, metrics history, training time
    final.safetensors  deprecated copy of model.safetensors (0.2.0 runs had only this);
                       no longer written from 0.4.0 on

The last five appear once the run has finished. :func:`load_run` reads ``last.ckpt``
only, so it also reads runs of 0.2.0 and runs that were stopped early.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from pathlib import Path
from typing import Any, Literal

import torch

from ..data.datasets import DATASETS
from ..models import MobileNetV1
from ..utils.checks import check_path
from ..utils.files import atomic_write_bytes
from .components import build_model
from .config import EXTENSION_FIELDS, RUNTIME_FIELDS, TrainConfig
from .distributed import get_dist_context
from .state import CHECKPOINT_NAME, build_state, read_checkpoint, write_checkpoint

__all__ = [
    "METRICS_NAME",
    "extend_run",
    "load_command",
    "load_run",
    "run_model_meta",
    "save_run_model",
    "write_metrics",
]

logger = logging.getLogger(__name__)
#: One JSON row per finished epoch.
METRICS_NAME = "metrics.jsonl"
#: The finished run's summary (recipe, labels, history, training time).
SUMMARY_NAME = "final.json"
_WEIGHTS_NAME = "model.safetensors"  # the Hugging Face layout's weights, written by save_pretrained
_LEGACY_WEIGHTS_NAME = "final.safetensors"


def write_metrics(run_dir: str | Path, history: list[dict[str, Any]]) -> None:
    """Rewrite ``metrics.jsonl`` whole (atomically), so a resumed run never repeats or loses a row."""
    atomic_write_bytes(Path(run_dir) / METRICS_NAME, "".join(json.dumps(row) + "\n" for row in history).encode())


def remove_stale_temp_files(run_dir: Path) -> None:
    """Delete temporary files left by a run killed while saving (the real files are intact)."""
    for stale in run_dir.glob(".*.tmp*"):
        logger.info("Removing %s left by an interrupted save", stale)
        stale.unlink(missing_ok=True)


def run_model_meta(
    cfg: TrainConfig,
    labels: tuple[str, ...] | list[str],
    history: list[dict[str, Any]],
    train_time_s: float,
    test_accuracy: dict[int, float] | None = None,
) -> dict[str, Any]:
    """The ``save_pretrained`` keywords that describe a run's model.

    Dataset and labels, the recipe (as the shell lines that replay it), the training
    time, and the measured accuracies: the last epoch's validation accuracy per input
    side and, when given, the test accuracy.
    """
    return {
        "metrics": _measured(history, test_accuracy), "tag": cfg.dataset, "dataset": cfg.dataset,
        "labels": list(labels), "recipe": _replay_command(cfg), "train_time_s": round(train_time_s, 1),
    }  # fmt: skip


def save_run_model(
    run_dir: str | Path,
    model: MobileNetV1,
    cfg: TrainConfig,
    *,
    labels: tuple[str, ...] | list[str],
    history: list[dict[str, Any]],
    train_time_s: float,
    test_accuracy: dict[int, float] | None = None,
) -> Path:
    """Save a run's final model into its folder in the ``save_pretrained`` layout.

    Writes ``model.safetensors``, ``config.json`` and ``README.md`` described by
    :func:`run_model_meta`, then ``final.json`` and the deprecated ``final.safetensors``.
    Calling it again (e.g. once the test set is scored) rewrites them.

    Args:
        run_dir: The run folder.
        model: The final model (the EMA or SWA average when the recipe has one).
        cfg: The run's recipe.
        labels: Class names, indexed by label.
        history: The metrics rows of every epoch.
        train_time_s: Training time in seconds.
        test_accuracy: Test accuracy (%) per input side, if measured.

    Returns:
        The run folder, which :func:`mobilenet_mnist.from_pretrained` now loads.
    """
    from ..hub import save_pretrained  # lazy: the hub code is only needed at the end of a run

    run_dir = Path(run_dir)
    meta = run_model_meta(cfg, labels, history, train_time_s, test_accuracy)
    save_pretrained(model, run_dir, **meta)
    atomic_write_bytes(run_dir / _LEGACY_WEIGHTS_NAME, (run_dir / _WEIGHTS_NAME).read_bytes())
    summary = {"recipe": cfg.to_dict(), "train_time_s": train_time_s, "labels": list(labels),
               "metrics": meta["metrics"], "history": history}
    atomic_write_bytes(run_dir / SUMMARY_NAME, json.dumps(summary, indent=2).encode())
    return run_dir


def _measured(history: list[dict[str, Any]], test_accuracy: dict[int, float] | None) -> dict[str, Any]:
    """``{"val_accuracy": {side: %}, "test_accuracy": {side: %}}``, with what was measured."""
    metrics: dict[str, Any] = {}
    prefix = "val_acc@"
    last = history[-1] if history else {}
    val = {int(key[len(prefix):]): round(value, 2) for key, value in last.items() if key.startswith(prefix)}
    if val:
        metrics["val_accuracy"] = val
    if test_accuracy:
        metrics["test_accuracy"] = {int(side): round(value, 2) for side, value in test_accuracy.items()}
    return metrics


def _replay_command(cfg: TrainConfig) -> str:
    """Shell lines that train ``cfg`` again (``--config`` fields override the empty default preset)."""
    recipe = json.dumps(cfg.to_dict())
    return f"cat > recipe.json <<'EOF'\n{recipe}\nEOF\nmobilenet-mnist train --config recipe.json --output runs/train"


def load_command(run_dir: str | Path) -> str:
    """The one line of Python that loads the model saved in ``run_dir``."""
    return f"from mobilenet_mnist import from_pretrained; model = from_pretrained({json.dumps(str(run_dir))})"


def load_run(run_dir: str | Path, weights: Literal["final", "raw"] = "final") -> tuple[MobileNetV1, TrainConfig, dict]:
    """Rebuild the model of a training run from its last checkpoint.

    Works on finished and stopped runs, and on run folders of release 0.2.0.

    Args:
        run_dir: The ``output_dir`` of :func:`mobilenet_mnist.training.train`.
        weights: ``"final"``: the weights the recipe evaluates (the EMA or SWA average
            when enabled and begun); ``"raw"``: the optimizer's own weights, ignoring any average.

    Returns:
        ``(model in eval mode, recipe, {"epoch": ..., "train_time_s": ...})``.

    Raises:
        FileNotFoundError: If the folder has no checkpoint.
        ValueError: For an unknown ``weights`` choice, or a checkpoint that is corrupt or
            not written by :func:`~mobilenet_mnist.training.train`.
    """
    if weights not in ("final", "raw"):
        raise ValueError(f"weights must be 'final' or 'raw', got {weights!r}.")
    checkpoint = read_checkpoint(Path(run_dir) / CHECKPOINT_NAME)
    cfg = TrainConfig.from_dict(checkpoint["config"])
    model = build_model(dataclasses.replace(cfg, init_from=None), num_classes=len(DATASETS[cfg.dataset].classes))
    state = checkpoint["model"]
    average = checkpoint.get("ema") or checkpoint.get("swa")
    if weights == "final" and average is not None and int(average["n_averaged"]) > 0:
        prefix = "module."
        state = {k[len(prefix) :]: v for k, v in average.items() if k.startswith(prefix)}
    model.load_state_dict(state)
    info = {"epoch": int(checkpoint["epoch"]), "train_time_s": float(checkpoint["train_time_s"])}
    return model.eval(), cfg, info


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
        TypeError: If ``cfg`` is not a :class:`TrainConfig`, or a folder is not a path.
        FileNotFoundError: If ``run_dir`` has no ``last.ckpt``.
        ValueError: If the run is unfinished, or its recipe is not the start of ``cfg``.
        FileExistsError: If ``output_dir`` already holds a checkpoint.
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(
            f"cfg must be a TrainConfig (the longer recipe), e.g. TrainConfig.from_dict({{..., 'swa_epochs': 2}}), "
            f"got {type(cfg).__name__}."
        )
    source = check_path("run_dir", run_dir) / CHECKPOINT_NAME
    out = check_path("output_dir", output_dir)
    checkpoint = read_checkpoint(source)
    done = TrainConfig.from_dict(checkpoint["config"])
    _check_extension(done, cfg, int(checkpoint["epoch"]), source)
    if (out / CHECKPOINT_NAME).exists():
        raise FileExistsError(f"{out / CHECKPOINT_NAME} exists; extend into a new, empty run folder.")
    history = json.loads(checkpoint["history"])
    model = build_model(dataclasses.replace(cfg, init_from=None), num_classes=len(DATASETS[cfg.dataset].classes))
    model.load_state_dict(checkpoint["model"])
    steps_per_epoch = int(history[-1]["steps"])
    state = build_state(cfg, model, steps_per_epoch, get_dist_context(), torch.device("cpu"))
    if checkpoint.get("optimizer") is not None:
        state.optimizer.load_state_dict(checkpoint["optimizer"])
    with warnings.catch_warnings():  # stepping the schedule without optimizer steps is the point here
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(done.epochs * steps_per_epoch):
            state.scheduler.step()
    out.mkdir(parents=True, exist_ok=True)
    write_checkpoint(state.checkpoint(model, done.epochs, history, float(checkpoint["train_time_s"])),
                     out / CHECKPOINT_NAME)
    write_metrics(out, history)
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
