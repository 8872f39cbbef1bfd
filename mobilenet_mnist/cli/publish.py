"""``mobilenet-mnist publish``: score a training run on the test set and register its weights."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .common import out


def add_parser(sub: Any) -> None:
    p = sub.add_parser("publish", help="score a training run on the test set and register its weights")
    p.add_argument("run_dir", type=Path, help="the --output folder of `mobilenet-mnist train`")
    p.add_argument("--tag", required=True, help="weight tag, e.g. mnist")
    p.add_argument("--recipe", required=True, help="the command that reproduces the run")
    p.add_argument("--data-dir", type=Path, help="folder with the IDX files")
    p.add_argument(
        "--weights",
        choices=["final", "raw"],
        default="final",
        help="final: what the recipe evaluates (its EMA or SWA average, if any); raw: the optimizer's",
    )
    p.add_argument("--ship", action="store_true", help="ship the weights inside the package")
    p.add_argument("--hub-root", type=Path, default=Path("hub"), help="folder of Hub-layout checkpoints")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--revision", help="Hub tag pinned in the registry (default: this release's tag)")
    p.add_argument("--hardware", help="where the run trained, for the model card (e.g. 'one NVIDIA H200')")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.datasets import load_dataset
    from ..hub.publish import publish_checkpoint
    from ..models.pretrained import DEFAULT_REVISION
    from ..training.evaluation import evaluate
    from ..training.runs import load_run

    model, cfg, info = load_run(args.run_dir, args.weights)
    test = load_dataset(cfg.dataset, "test", args.data_dir)
    accuracy = {size: round(evaluate(model, test, size).accuracy, 2) for size in cfg.eval_sizes}
    entry = publish_checkpoint(
        model, tag=args.tag, dataset=cfg.dataset, test_accuracy=accuracy, recipe=args.recipe,
        train_time_s=round(info["train_time_s"], 1), train_hardware=args.hardware, hub_root=args.hub_root,
        ship=args.ship, overwrite=args.overwrite, hf_hub_revision=args.revision or DEFAULT_REVISION,
    )  # fmt: skip
    out(json.dumps({"name": entry.name, "test_accuracy": accuracy, "sha256": entry.sha256}))
    return 0
