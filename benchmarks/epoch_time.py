"""How long a training recipe's epoch takes on this machine, measured on the real training loop.

Used by ``benchmarks/cpu_epoch_time.py`` (CPU estimates of the published recipes) and
``scripts/train_grid.py`` (how many epochs fit in a GPU time budget).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

__all__ = ["time_recipe_epoch"]


def time_recipe_epoch(
    cfg: Any, train_data: Any, val_data: Any, steps: int, before_timing: Callable[[], None] | None = None
) -> dict[str, float]:
    """Seconds per full epoch of a recipe: training steps plus one validation pass.

    Times ``steps`` steps of the real training loop (:func:`~mobilenet_mnist.fit`) and one
    validation pass at each of ``cfg.eval_sizes`` on a throwaway model, after an untimed
    warm-up of both (cuDNN autotuning, allocator), and scales the steps to a full epoch.

    Args:
        cfg: The recipe (:class:`~mobilenet_mnist.TrainConfig`); ``init_from`` is ignored,
            and SWA epochs count as ordinary ones.
        train_data: Training images (:class:`~mobilenet_mnist.data.datasets.ImageTensors`).
        val_data: Validation images.
        steps: Training steps to time.
        before_timing: Called after the warm-up, e.g. to wait until other processes
            sharing the device are warm too.

    Returns:
        ``{"step_s", "eval_s", "epoch_s"}``.
    """
    from mobilenet_mnist.training.components import build_model
    from mobilenet_mnist.training.evaluation import evaluate
    from mobilenet_mnist.training.loop import fit

    # SWA epochs train like any other (their one BatchNorm pass at the end is not counted).
    probe = replace(cfg, epochs=1, swa_epochs=0, max_steps_per_epoch=steps, init_from=None)
    model = build_model(probe, num_classes=len(train_data.classes))
    fit(model, train_data, replace(probe, max_steps_per_epoch=min(steps, 10)))
    for size in cfg.eval_sizes:
        evaluate(model, val_data, size)
    if before_timing is not None:
        before_timing()
    began = time.perf_counter()
    fit(model, train_data, probe)
    step_s = (time.perf_counter() - began) / steps
    began = time.perf_counter()
    for size in cfg.eval_sizes:
        evaluate(model, val_data, size)
    eval_s = time.perf_counter() - began
    return {"step_s": step_s, "eval_s": eval_s, "epoch_s": step_s * (len(train_data) // cfg.batch_size) + eval_s}
