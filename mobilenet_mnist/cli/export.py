"""``mobilenet-mnist export``: ONNX, TorchScript or torch.export files, optionally int8."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import load_model, out


def add_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="export weights to ONNX, TorchScript or torch.export (optionally int8)")
    p.add_argument("name", help="weight name (mobilenet_v1_100.mnist), folder, file or Hub repo")
    p.add_argument("--format", choices=["onnx", "torchscript", "exported-program"], default="onnx")
    p.add_argument("--int8", action="store_true", help="post-training int8 quantization (needs --data-dir)")
    p.add_argument("--data-dir", type=Path, help="MNIST folder: training images calibrate int8")
    p.add_argument("--output", type=Path, help="output file (default: derived from the model name)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..deploy.export import export_model

    model = load_model(args.name).eval()
    calibration = None
    if args.int8:
        from ..data.datasets import load_dataset

        calibration = load_dataset(model.pretrained_cfg.get("dataset") or "mnist", "train", args.data_dir).images
    path = export_model(
        model, args.output, format=args.format, int8=args.int8, calibration_images=calibration, verbose=args.verbose
    )
    out(str(path))
    return 0
