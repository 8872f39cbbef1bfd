"""Training: the recipe and its presets, the loop, runs and resume, evaluation, fine-tuning."""

from .distributed import DistContext, get_dist_context
from .evaluation import EvalResult, evaluate, predict_logits
from .finetune import FrozenStatsBatchNorm2d, freeze_backbone, param_groups, tensors_from_dataset, unfreeze_backbone
from .loop import PRESETS, TrainConfig, TrainResult, extend_run, fit, get_preset, train
from .runs import load_run

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
