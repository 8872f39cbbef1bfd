"""``mobilenet-mnist evaluate``: test accuracy, per-class accuracy and confusions of weights."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import load_model, non_negative_int, out, positive_int


def add_parser(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="test accuracy, per-class accuracy, confusions")
    p.add_argument("name", help="weight name (mobilenet_v1_100.mnist), folder, file or Hub repo")
    p.add_argument("--data-dir", type=Path, help="folder with the IDX files")
    p.add_argument("--dataset", choices=["mnist", "fashion_mnist"], help="defaults to the weights' dataset")
    p.add_argument("--resolution", type=positive_int, action="append", help="input side in px (repeatable)")
    p.add_argument("--top-confusions", type=non_negative_int, default=5)
    p.add_argument(
        "--backend", choices=["auto", "torch", "onnxruntime", "eager"], default="auto",
        help="inference path (default auto: ONNX Runtime if installed, else the optimized PyTorch model; "
        "eager: the model as loaded, unoptimized)",
    )  # fmt: skip
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.datasets import load_dataset
    from ..training.evaluation import evaluate

    model = load_model(args.name).eval()
    sizes = args.resolution or [model.input_size]
    lowest = model.arch.min_input_size
    if min(sizes) < lowest:
        raise ValueError(f"--resolution {min(sizes)} is below {lowest}px, the smallest side {args.name} can take.")
    dataset = args.dataset or model.pretrained_cfg.get("dataset") or "mnist"
    test = load_dataset(dataset, "test", args.data_dir)
    if args.backend != "eager":  # optimized once for every resolution
        from ..deploy.optimize import optimize_for_inference

        model = optimize_for_inference(model, backend=args.backend)
    for size in sizes:
        result = evaluate(model, test, size, progress=args.progress)
        out(
            f"{args.name} on {dataset} test ({result.num_images} images) at {size}px: "
            f"top-1 {result.accuracy:.2f} % ({result.errors} errors)"
        )
        per_class = ", ".join(f"{k}: {v:.2f}" for k, v in result.per_class_accuracy().items())
        out(f"  per-class accuracy (%): {per_class}")
        pairs = ", ".join(f"{t}→{p} ×{n}" for t, p, n in result.most_confused(args.top_confusions))
        out(f"  most confused (true→predicted): {pairs or 'none'}")
    return 0
