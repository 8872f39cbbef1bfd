"""The deployment table: each export format's file size, MNIST test accuracy and speed.

For one model, in one run, on the same 10,000 test images and the same batch of 256:

* ``PyTorch fp32 fast path`` (:func:`~mobilenet_mnist.deploy.optimize.optimize_for_inference`:
  BatchNorm folded, channels_last, inference mode) — the reference every speed is
  divided by;
* ``PyTorch fp32 eager`` (unfused NCHW, as a user would first run it);
* ``ONNX fp32`` (ONNX Runtime), ``TorchScript fp32``, ``ExportedProgram fp32``;
* ``ONNX int8`` (ONNX Runtime static QDQ quantizer, the recommended int8 path) and
  ``TorchScript int8`` (PyTorch FX ``x86`` quantizer, for comparison).

Speeds are images/s at batch 256, median over interleaved rounds (every candidate runs
once per round, so background load hits all of them alike), with PyTorch and ONNX Runtime
on the same number of threads. Writes ``benchmarks/results/deploy_<name>.md`` and ``.json``.

Run::

    python benchmarks/deploy_table.py mobilenet_v1_100.mnist --data-dir ../shared/data/mnist
    python benchmarks/deploy_table.py path/to/saved-folder --data-dir DIR      # own weights
    python benchmarks/deploy_table.py mobilenet_v1_025 --random-weights --rounds 3  # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

# Run from a fresh clone without installing: put the repository root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import machine_info
from mobilenet_mnist import create_model
from mobilenet_mnist.data.datasets import load_dataset
from mobilenet_mnist.data.transforms import preprocess
from mobilenet_mnist.deploy.common import require_onnx
from mobilenet_mnist.deploy.export import export_model
from mobilenet_mnist.deploy.optimize import optimize_for_inference
from mobilenet_mnist.deploy.quantize import DEFAULT_NUM_CALIBRATION, quantize_onnx
from mobilenet_mnist.utils.files import atomic_write_bytes

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BATCH = 256
Runner = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Candidate:
    """One row of the table: how the model is stored and run."""

    name: str
    file: Path | None
    runner: Runner
    note: str = ""
    times: list[float] = field(default_factory=list)
    accuracy: float | None = None


# ------------------------------------------------------------------------------ model
def load_model(source: str, random_weights: bool) -> nn.Module:
    """A registered name (``mobilenet_v1_100.mnist``), a saved folder/file, or random weights."""
    if random_weights:
        return create_model(source.partition(".")[0]).eval()
    if Path(source).exists():
        from mobilenet_mnist.hub.core import from_pretrained

        return from_pretrained(source).eval()
    return create_model(source, pretrained=True).eval()


def model_label(model: nn.Module, source: str, random_weights: bool) -> str:
    name = Path(source).name.removesuffix(".safetensors") if Path(source).exists() else source
    return f"{name}_random" if random_weights else name


# ---------------------------------------------------------------------------- runners
def torch_runner(module: nn.Module) -> Runner:
    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return module(x)

    return run


def ort_runner(path: Path, threads: int) -> Runner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda x: torch.from_numpy(session.run(None, {"input": x.numpy()})[0])


def jit_runner(path: Path) -> Runner:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated
        return torch_runner(torch.jit.load(str(path)))


def program_runner(path: Path) -> Runner:
    return torch_runner(torch.export.load(str(path)).module())


def safetensors_file(model: nn.Module, folder: Path) -> Path:
    from safetensors.torch import save_file

    path = folder / "model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def build_candidates(model: nn.Module, calibration: torch.Tensor, folder: Path, threads: int) -> list[Candidate]:
    """Export every format into ``folder`` and load it back the way a deployment would."""
    weights = safetensors_file(model, folder)
    out = [
        Candidate("PyTorch fp32 fast path", weights, torch_runner(optimize_for_inference(model, backend="torch")),
                  "reference: BN folded, channels_last"),
        Candidate("PyTorch fp32 eager", weights, torch_runner(model), "unfused, NCHW"),
    ]
    onnx = export_model(model, folder / "fp32.onnx", format="onnx")
    out.append(Candidate("ONNX fp32", onnx, ort_runner(onnx, threads), "ONNX Runtime"))
    ts = export_model(model, folder / "fp32.pt", format="torchscript")
    out.append(Candidate("TorchScript fp32", ts, jit_runner(ts)))
    pt2 = export_model(model, folder / "fp32.pt2", format="exported-program")
    out.append(Candidate("ExportedProgram fp32", pt2, program_runner(pt2)))
    q_onnx = quantize_onnx(model, folder / "int8.onnx", calibration)
    out.append(Candidate("ONNX int8", q_onnx, ort_runner(q_onnx, threads),
                         "ONNX Runtime static QDQ, per-channel (recommended)"))
    q_ts = export_model(model, folder / "int8.pt", format="torchscript", int8=True, calibration_images=calibration)
    out.append(Candidate("TorchScript int8", q_ts, jit_runner(q_ts), "PyTorch FX, x86 engine"))
    return out


# ------------------------------------------------------------------------ measurement
def measure_accuracy(candidate: Candidate, x: torch.Tensor, labels: torch.Tensor) -> float:
    preds = [candidate.runner(x[i: i + 500]).argmax(1) for i in range(0, len(x), 500)]
    return 100.0 * float((torch.cat(preds) == labels).float().mean())


def measure_speed(candidates: list[Candidate], batch: torch.Tensor, rounds: int) -> None:
    """Interleaved rounds: each round times one call of every candidate."""
    for candidate in candidates:
        for _ in range(2):  # warm-up: allocation, oneDNN primitive creation
            candidate.runner(batch)
    for _ in range(rounds):
        for candidate in candidates:
            start = time.perf_counter()
            candidate.runner(batch)
            candidate.times.append(time.perf_counter() - start)


def rows(candidates: list[Candidate]) -> list[dict[str, Any]]:
    reference = statistics.median(candidates[0].times)
    out = []
    for c in candidates:
        median = statistics.median(c.times)
        out.append({
            "format": c.name, "note": c.note,
            "file": c.file.name if c.file else None,
            "file_bytes": c.file.stat().st_size if c.file else None,
            "test_accuracy": round(c.accuracy, 2) if c.accuracy is not None else None,
            "images_per_s_median": round(BATCH / median, 1),
            "images_per_s_best": round(BATCH / min(c.times), 1),
            "speed_vs_fast_path": round(reference / median, 2),
        })
    return out


# ----------------------------------------------------------------------------- output
def markdown(label: str, table: list[dict[str, Any]], info: dict[str, Any]) -> str:
    lines = [
        f"# Deployment table: {label}",
        "",
        f"MNIST test set ({info['test_images']:,} images); speed at batch {BATCH}, median of "
        f"{info['rounds']} interleaved rounds, {info['threads']} thread(s), {info['cpu']} "
        f"({info['cpu_capability']}); load average at start {info['load_average']}.",
        "",
        "| format | file size | test accuracy | images/s | vs fp32 fast path | notes |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in table:
        size = f"{r['file_bytes'] / 1e6:.2f} MB" if r["file_bytes"] else "–"
        acc = f"{r['test_accuracy']:.2f} %" if r["test_accuracy"] is not None else "–"
        lines.append(
            f"| {r['format']} | {size} | {acc} | {r['images_per_s_median']:,.0f} | "
            f"{r['speed_vs_fast_path']:.2f}× | {r['note']} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="registered name with tag (mobilenet_v1_100.mnist) or saved folder/file")
    parser.add_argument("--data-dir", default=os.environ.get("MOBILENET_MNIST_DATA", "../shared/data/mnist"))
    parser.add_argument("--random-weights", action="store_true", help="smoke run without trained weights")
    parser.add_argument("--rounds", type=int, default=15, help="timing rounds (default 15)")
    parser.add_argument("--threads", type=int, default=1, help="threads for PyTorch and ORT (default 1)")
    parser.add_argument("--test-images", type=int, default=10_000, help="test images for accuracy")
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    require_onnx("onnx", "onnxscript", "onnxruntime")  # clear install hint, not a trace
    torch.set_num_threads(args.threads)
    model = load_model(args.model, args.random_weights)
    label = model_label(model, args.model, args.random_weights)
    train, test = (load_dataset("mnist", split, root=args.data_dir) for split in ("train", "test"))
    x, labels = preprocess(test.images[: args.test_images]), test.labels[: args.test_images]
    import onnxruntime

    info = {**machine_info(), "onnxruntime": onnxruntime.__version__,
            "load_average": [round(v, 2) for v in os.getloadavg()],
            "rounds": args.rounds, "threads": args.threads, "test_images": len(x),
            "calibration_images": DEFAULT_NUM_CALIBRATION, "batch": BATCH, "model": label}
    with tempfile.TemporaryDirectory() as folder:
        print(f"exporting {label} ...", file=sys.stderr)
        candidates = build_candidates(model, train.images, Path(folder), args.threads)
        for c in candidates:
            c.accuracy = measure_accuracy(c, x, labels)
            print(f"  {c.name}: {c.accuracy:.2f} %", file=sys.stderr)
        measure_speed(candidates, x[:BATCH].contiguous(), args.rounds)
        table = rows(candidates)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    stem = args.output_dir / f"deploy_{label.replace('.', '_')}"
    atomic_write_bytes(stem.with_suffix(".json"), json.dumps({"machine": info, "rows": table}, indent=2).encode())
    text = markdown(label, table, info)
    atomic_write_bytes(stem.with_suffix(".md"), text.encode())
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
