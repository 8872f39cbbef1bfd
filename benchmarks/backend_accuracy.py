"""MNIST test accuracy of every inference backend, with the shipped default weights.

Usage (from the repository root):

    python benchmarks/backend_accuracy.py --data-dir ../shared/data/mnist
    python benchmarks/backend_accuracy.py --data-dir DIR --torch-int8   # also PyTorch FX int8 (slower)

Scores ``mobilenet_v1(pretrained=True)`` (α = 1.0, 32 px) on the 10,000 MNIST test images
run the plain eager way and through ``optimize_for_inference`` on each backend (PyTorch,
ONNX Runtime fp32, ONNX Runtime int8 calibrated on 1,024 training images), and prints a
markdown table: accuracy, change against the plain model, agreement of the top-1
predictions, and the largest logit difference. Writes it to
``benchmarks/results/backend_accuracy.md`` unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mobilenet_mnist import load_dataset, mobilenet_v1
from mobilenet_mnist.data.transforms import preprocess
from mobilenet_mnist.deploy.optimize import default_backend, optimize_for_inference
from mobilenet_mnist.utils.files import atomic_write_bytes

RESULT = Path(__file__).resolve().parent / "results" / "backend_accuracy.md"


def logits_of(module: torch.nn.Module, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """Logits of ``module`` on ``x`` in batches, without autograd."""
    with torch.inference_mode():
        return torch.cat([module(x[i : i + batch]) for i in range(0, len(x), batch)])


def ways(model: torch.nn.Module, train_images: torch.Tensor, torch_int8: bool) -> dict[str, torch.nn.Module]:
    """Each backend's module, built from the same weights."""
    built = {"plain (eager)": model, "torch": optimize_for_inference(model, backend="torch")}
    if default_backend() == "onnxruntime":
        built["onnxruntime fp32"] = optimize_for_inference(model, backend="onnxruntime")
        built["onnxruntime int8"] = optimize_for_inference(model, int8=True, calibration_images=train_images)
    if torch_int8:
        built["torch int8 (FX)"] = optimize_for_inference(model, backend="torch", int8=True,
                                                          calibration_images=train_images)  # fmt: skip
    return built


def table(results: dict[str, torch.Tensor], labels: torch.Tensor) -> str:
    """The markdown table of accuracy, change, agreement and largest logit difference per way."""
    plain = results["plain (eager)"]
    base = 100 * (plain.argmax(1) == labels).float().mean().item()
    lines = ["| way | test accuracy | change | top-1 agreement with plain | largest logit difference |",
             "|---|---:|---:|---:|---:|"]  # fmt: skip
    for way, logits in results.items():
        accuracy = 100 * (logits.argmax(1) == labels).float().mean().item()
        agreement = 100 * (logits.argmax(1) == plain.argmax(1)).float().mean().item()
        diff = (logits - plain).abs().max().item()
        lines.append(f"| {way} | {accuracy:.2f} % | {accuracy - base:+.2f} | {agreement:.2f} % | {diff:.1e} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Score every backend and print (and write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--torch-int8", action="store_true", help="also PyTorch FX int8")
    parser.add_argument("--no-write", dest="write", action="store_false", help=f"do not write {RESULT.name}")
    args = parser.parse_args(argv)
    model = mobilenet_v1(pretrained=True).eval()
    train = load_dataset("mnist", "train", root=args.data_dir)
    test = load_dataset("mnist", "test", root=args.data_dir)
    x = preprocess(test.images)
    results = {way: logits_of(module, x) for way, module in ways(model, train.images, args.torch_int8).items()}
    text = (f"`mobilenet_v1(pretrained=True)` (α = 1.0, 32 px) on the {len(x):,} MNIST test images; int8 "
            f"calibrated on 1,024 training images.\n\n{table(results, test.labels)}\n")  # fmt: skip
    print(text)
    if args.write:
        atomic_write_bytes(RESULT, text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
