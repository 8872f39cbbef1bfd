"""``mobilenet-mnist train``: train with a recipe preset, resumable; the run folder holds the model."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from .common import out, positive_int

logger = logging.getLogger("mobilenet_mnist")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="train a model with a recipe (resumable)")
    p.add_argument("--preset", default="default", help="recipe preset: default, fast, mnist_100, ...")
    p.add_argument("--config", type=Path, help="JSON file with TrainConfig fields (overrides the preset)")
    p.add_argument("--model", help="model name, e.g. mobilenet_v1_050")
    p.add_argument("--dataset", choices=["mnist", "fashion_mnist"])
    p.add_argument("--epochs", type=positive_int)
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="cpu, cuda or auto")
    p.add_argument("--threads", type=positive_int, help="CPU threads for torch")
    p.add_argument("--bf16", action="store_true", default=None, help="bfloat16 autocast")
    p.add_argument("--data-dir", type=Path, help="folder with the IDX files")
    p.add_argument("--download", action="store_true", help="download the data if missing (network)")
    p.add_argument(
        "--output",
        type=Path,
        default=Path("runs/train"),
        help="run folder: checkpoint, metrics and, at the end, the model (from_pretrained(OUTPUT))",
    )
    p.add_argument("--resume", action="store_true", help="continue a stopped run from OUTPUT/last.ckpt")
    p.add_argument(
        "--extend", type=Path, metavar="RUN",
        help="start OUTPUT from this finished run, whose epochs are the recipe's first ones (e.g. to add SWA "
             "epochs); rerun the same command to continue after a stop",
    )  # fmt: skip
    p.add_argument(
        "--save-pretrained",
        type=Path,
        help="also save the final model in this folder (OUTPUT itself holds it in the Hub layout)",
    )
    p.set_defaults(func=run)


def _train_overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ("model", "dataset", "epochs", "batch_size", "lr", "seed", "device", "threads", "bf16")
    overrides = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if args.config is not None:
        overrides = {**_read_config(args.config), **overrides}
    return overrides


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"--config file {path} does not exist.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"--config file {path} is not valid JSON: {error}.") from error
    if not isinstance(data, dict):
        raise ValueError(
            f"--config file {path} must hold a JSON object of TrainConfig fields, got {type(data).__name__}."
        )
    return data


def run(args: argparse.Namespace) -> int:
    from ..training.config import get_preset
    from ..training.distributed import get_dist_context
    from ..training.loop import train
    from ..training.runs import extend_run, load_command
    from ..training.state import CHECKPOINT_NAME

    cfg = get_preset(args.preset, **_train_overrides(args))  # checks the model name before data loads
    resume = args.resume
    if args.extend is not None:
        if not (args.output / CHECKPOINT_NAME).exists():  # else: an extension already under way
            extend_run(args.extend, cfg, args.output)
        resume = True
    result = train(cfg, args.data_dir, args.output, resume=resume, download=args.download)
    if not get_dist_context().is_main:
        return 0
    scores = _score_run(result, cfg, args)
    out(json.dumps({"train_time_s": round(result.train_time_s, 1), "test_accuracy": scores}))
    logger.info(
        "The model is in %s (model.safetensors, config.json, README.md). Load it in Python with:\n  %s\n"
        "or try it: mobilenet-mnist predict --model %s IMAGE.png",
        args.output,
        load_command(args.output),
        args.output,
    )
    return 0


def _score_run(result: Any, cfg: Any, args: argparse.Namespace) -> dict[int, float]:
    """Test accuracy (%) per input side, recorded in the run folder's model (and --save-pretrained)."""
    from ..data.datasets import load_dataset
    from ..hub import save_pretrained
    from ..training.evaluation import evaluate
    from ..training.runs import run_model_meta, save_run_model

    test = load_dataset(cfg.dataset, "test", args.data_dir)
    scores = {size: round(evaluate(result.model, test, size).accuracy, 2) for size in cfg.eval_sizes}
    run = {"labels": test.classes, "history": result.history, "train_time_s": result.train_time_s}
    save_run_model(args.output, result.model, cfg, **run, test_accuracy=scores)
    if args.save_pretrained is not None:
        save_pretrained(result.model, args.save_pretrained, **run_model_meta(cfg, **run, test_accuracy=scores))
    return scores
