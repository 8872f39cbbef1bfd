"""Training: the recipe and its presets, the loop, runs and resume, evaluation, fine-tuning.

Modules, each with one job (imports run down this list, never back up):

- :mod:`.config`: the recipe (:class:`TrainConfig`), its checks and the named presets;
- :mod:`.finetune`: freezing the backbone, per-part learning rates;
- :mod:`.components`: what a recipe builds (model, device, optimizer, schedule, averages);
- :mod:`.distributed`: torchrun/DDP process-group setup;
- :mod:`.evaluation`: accuracy, confusion matrix, batched logits;
- :mod:`.state`: the state a run updates, and ``last.ckpt`` (its one reader and writer);
- :mod:`.runs`: the run folder: its layout, its final model, ``load_run``, ``extend_run``;
- :mod:`.progress`: the progress bar and the per-epoch table;
- :mod:`.loop`: :func:`fit` and :func:`train`.
"""

from ..data.convert import tensors_from_dataset
from .config import PRESETS, TrainConfig, get_preset
from .distributed import DistContext, get_dist_context
from .evaluation import EvalResult, evaluate, predict_logits
from .finetune import FrozenStatsBatchNorm2d, freeze_backbone, param_groups, unfreeze_backbone
from .loop import TrainResult, fit, train
from .runs import extend_run, load_run

__all__ = [
    "PRESETS",
    "DistContext",
    "EvalResult",
    "FrozenStatsBatchNorm2d",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "extend_run",
    "fit",
    "freeze_backbone",
    "get_dist_context",
    "get_preset",
    "load_run",
    "param_groups",
    "predict_logits",
    "tensors_from_dataset",
    "train",
    "unfreeze_backbone",
]
