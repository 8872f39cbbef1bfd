"""``mobilenet-mnist predict``: the top-k classes for image files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import load_model, out, positive_int


def add_parser(sub: Any) -> None:
    p = sub.add_parser("predict", help="top-k classes for image files")
    p.add_argument("images", nargs="+", type=Path, help="image files (PNG, JPEG, ...)")
    p.add_argument("--model", default="mobilenet_v1_100.mnist", help="weights to use")
    p.add_argument("--top-k", type=positive_int, default=3)
    p.add_argument("--invert", action="store_true", help="invert dark-on-light images (MNIST is light-on-dark)")
    p.add_argument("--backend", choices=["auto", "torch", "onnxruntime"], default="auto",
                   help="inference backend (default auto: ONNX Runtime if installed, which first exports the "
                        "model for a few seconds; torch starts fastest for a few images)")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..data.transforms import create_transform, to_batch
    from ..deploy.optimize import optimize_for_inference

    model = load_model(args.model).eval()
    transform = create_transform(model.pretrained_cfg)
    labels = model.pretrained_cfg.get("labels") or [str(i) for i in range(model.num_classes)]
    k = min(args.top_k, len(labels))
    inputs = []
    for path in args.images:  # every file is read before the (slower) backend is built
        # preprocess's conversions (alpha onto black, 16-bit and float modes kept exact)
        x = to_batch(_open_image(path), model.in_chans)
        if args.invert:
            x = 255 - x if x.dtype == torch.uint8 else 1 - x
        inputs.append(transform(x))
    fast = optimize_for_inference(model, backend=args.backend)
    with torch.inference_mode():
        probs = fast(torch.cat(inputs)).softmax(dim=1)
    for path, row in zip(args.images, probs, strict=True):
        top = row.topk(k)
        ranked = ", ".join(
            f"{labels[i]} ({p:.1%})" for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        )
        out(f"{path}: {ranked}")
    return 0


def _open_image(path: Path) -> Any:
    """A fully decoded PIL image, or an error naming the file and what is wrong."""
    from PIL import Image

    if not path.exists():
        raise FileNotFoundError(f"Image file {path} does not exist.")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; pass image files (PNG, JPEG, ...).")
    try:
        image = Image.open(path)
        image.load()  # decode now: truncated files fail here, not inside the model
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(
            f"Cannot read image {path}: {error}. Pass a PNG, JPEG, BMP, TIFF or other format Pillow reads."
        ) from error
    return image
