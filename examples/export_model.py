"""Export a pretrained model for deployment and check the exports against PyTorch.

What it shows: ``export_onnx`` writes an ONNX file (dynamic batch, input ``"input"``,
output ``"logits"``, preprocessing recipe in the file's metadata) that ONNX Runtime
runs without PyTorch; ``export_program`` writes a ``torch.export`` program
(``torch.export.load``); ``export_torchscript`` a TorchScript archive
(``torch.jit.load``). Each export is then run on the same images as the eager model and
the largest logit difference is printed.

Run::

    python examples/export_model.py --output exported/
    python examples/export_model.py --weights path/to/saved-folder --format onnx

ONNX needs the ``onnx`` extra: ``pip install "mobilenet-mnist[onnx]"``. ``--quick``
(or ``MOBILENET_MNIST_EXAMPLES_QUICK=1``) checks 4 images instead of 64.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from mobilenet_mnist import from_pretrained, mobilenet_v1
from mobilenet_mnist.deploy.export import (
    FORMATS,
    export_onnx,
    export_program,
    export_torchscript,
    read_onnx_metadata,
)

EXPORTERS = {"onnx": export_onnx, "exported-program": export_program,
             "torchscript": export_torchscript}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", help="checkpoint folder, .safetensors file or Hub repo id "
                        "(default: the published MNIST weights)")
    parser.add_argument("--output", type=Path, default=Path("exported"), help="output folder")
    parser.add_argument("--format", nargs="+", choices=sorted(EXPORTERS),
                        default=["onnx", "exported-program"], help="formats to write")
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("MOBILENET_MNIST_EXAMPLES_QUICK") == "1",
                        help="check 4 images instead of 64")
    return parser.parse_args(argv)


def run_export(fmt: str, path: Path, x: torch.Tensor) -> torch.Tensor:
    """Logits of the exported file at ``path`` for the normalized batch ``x``."""
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return torch.from_numpy(session.run(["logits"], {"input": x.numpy()})[0])
    if fmt == "exported-program":
        return torch.export.load(str(path)).module()(x)
    return torch.jit.load(str(path))(x)


def main(argv: list[str] | None = None) -> None:
    """Export in every requested format and compare each with the eager model."""
    args = parse_args(argv)
    model = from_pretrained(args.weights) if args.weights else mobilenet_v1(pretrained=True)
    model.eval()
    side = model.input_size
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4 if args.quick else 64, model.in_chans, side, side, generator=generator)
    with torch.inference_mode():
        expected = model(x)
    args.output.mkdir(parents=True, exist_ok=True)
    for fmt in args.format:
        path = EXPORTERS[fmt](model, args.output / f"model{FORMATS[fmt]}")
        with torch.inference_mode():
            diff = (run_export(fmt, path, x) - expected).abs().max().item()
        size = path.stat().st_size / 2**20
        print(f"{fmt}: {path} ({size:.2f} MiB), max |logit difference| = {diff:.2e} on "
              f"{len(x)} images (largest |logit| {expected.abs().max().item():.2f})")
        if fmt == "onnx":
            meta = read_onnx_metadata(path)
            print(f"onnx metadata: input_size={meta.get('input_size')} mean={meta.get('mean')} "
                  f"std={meta.get('std')}")


if __name__ == "__main__":
    main()
