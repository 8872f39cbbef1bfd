"""``mobilenet-mnist publish``: score a training run and register its weights, or refresh them all.

``publish RUN --tag T --recipe R`` publishes one training run; ``publish --refresh`` (for a
release) rewrites every registered checkpoint's ``hub/<name>/config.json`` and model card
from the registry with this version's code, weights untouched, and pins the registry to
this release's Hub revision.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .common import out

#: Options that only publishing a run takes (``--refresh`` refuses them).
_RUN_ONLY = ("run_dir", "tag", "recipe", "data_dir", "ship", "overwrite", "hardware")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "publish", help="score a training run on the test set and register its weights (or --refresh them all)",
        description="Publish a training run (RUN_DIR, --tag and --recipe), or, for a release, --refresh the "
        "Hub folders of the registered checkpoints: config.json and model card rewritten from the registry, "
        "weights unchanged (sha256 checked), registry pinned to --revision.",
    )  # fmt: skip
    p.add_argument("run_dir", type=Path, nargs="?", help="the --output folder of `mobilenet-mnist train`")
    p.add_argument("--tag", help="weight tag, e.g. mnist (required with RUN_DIR)")
    p.add_argument("--recipe", help="the command that reproduces the run (required with RUN_DIR)")
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
    p.add_argument(
        "--refresh", nargs="*", metavar="NAME",
        help="instead of publishing a run: refresh the Hub folders of these registered checkpoints "
        "(default: all) from the registry and pin them to --revision",
    )  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.refresh is not None:
        return _refresh(args)
    missing = [option for option, value in (("RUN_DIR", args.run_dir), ("--tag", args.tag),
                                            ("--recipe", args.recipe)) if value is None]  # fmt: skip
    if missing:
        raise ValueError(
            f"publishing a run needs RUN_DIR, --tag and --recipe (missing {', '.join(missing)}); "
            "to refresh the registered checkpoints' Hub folders instead, pass --refresh."
        )
    return _publish_run(args)


def _publish_run(args: argparse.Namespace) -> int:
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


def _refresh(args: argparse.Namespace) -> int:
    """One JSON line per refreshed checkpoint: name, folder, sha256 (unchanged), revision."""
    from ..hub.publish import refresh_published
    from ..models.pretrained import DEFAULT_REVISION

    given = [f"--{name.replace('_', '-')}" if name != "run_dir" else "RUN_DIR" for name in _RUN_ONLY
             if getattr(args, name) not in (None, False)]  # fmt: skip
    if given:
        raise ValueError(f"--refresh rewrites registered checkpoints and takes no {', '.join(given)}.")
    entries = refresh_published(args.refresh or None, hub_root=args.hub_root,
                                revision=args.revision or DEFAULT_REVISION)  # fmt: skip
    for entry in entries:
        out(json.dumps({"name": entry.name, "folder": str(args.hub_root / entry.name), "sha256": entry.sha256,
                        "revision": entry.hf_hub_revision}))  # fmt: skip
    return 0
