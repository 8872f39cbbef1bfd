"""Where inference time goes: time by layer kind for naive PyTorch, the PyTorch backend and ONNX Runtime.

Usage (from the repository root):

    python benchmarks/profile_inference.py                      # α=1.0, batch 256
    python benchmarks/profile_inference.py --width 0.5 --batch-size 1 --threads 1

Prints, for the plain eager NCHW model, ``optimize_for_inference(backend="torch")``
(``torch.profiler``, self CPU time of each operator) and, with the ``onnx`` extra,
``backend="onnxruntime"`` (ONNX Runtime's own profiler, kernel time of each node), the
share of time spent in pointwise (1×1) convs, depthwise convs, the stem, BatchNorm, ReLU
and everything else, next to each kind's share of the multiply-adds, and how often
PyTorch's slow reference convolution (``aten::_slow_conv2d_forward``) ran per call.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mobilenet_mnist import mobilenet_v1, profile_model
from mobilenet_mnist.deploy.optimize import default_backend, optimize_for_inference

CONV_OPS = ("aten::mkldnn_convolution", "aten::_slow_conv2d_forward", "aten::thnn_conv2d",
            "aten::_convolution_depthwise2d", "aten::addmm", "aten::mm", "mkldnn::_convolution_pointwise",
            "Conv")  # the last: ONNX Runtime's node type
SLOW_CONV = "aten::_slow_conv2d_forward"
OTHER = "other (overhead, reorders, pooling)"
#: The PyTorch backend's frozen oneDNN graph runs fused groups of layers that the profiler cannot split.
GRAPH = "oneDNN graph partitions (convs, fused)"


def _kind(name: str, shapes: list) -> str | None:
    """Layer kind of a leaf op from its name and input shapes (None: not a leaf we count)."""
    if name.startswith("LlgaPartition"):
        return GRAPH
    if name in CONV_OPS and len(shapes) > 1 and len(shapes[1]) == 4:
        weight = shapes[1]
        if weight[1] == 1 and weight[0] > 1:
            return "depthwise conv" if shapes[0][1] > 1 else "stem conv"
        return "pointwise conv" if weight[2:] == [1, 1] else "stem conv"
    if name in ("aten::addmm", "aten::mm", "aten::linear", "Gemm"):
        return "classifier"
    if name in ("aten::native_batch_norm", "aten::_native_batch_norm_legit_no_training"):
        return "batchnorm"
    if name in ("aten::clamp_min_", "aten::relu_", "aten::clamp_min", "aten::relu"):
        return "relu"
    return None


def _shares(totals: dict[str, float], calls: int, extra: dict[str, float]) -> dict[str, float]:
    grand = sum(totals.values())
    shares = {k: v / grand for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}
    return shares | {"_ms_per_call": grand / calls / 1e3, **extra}


def breakdown(fn, x: torch.Tensor, calls: int) -> dict[str, float]:
    """Fraction of profiled self CPU time per layer kind over ``calls`` calls of ``fn(x)``."""
    for _ in range(2):
        fn(x)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(calls):
            fn(x)
    totals: dict[str, float] = defaultdict(float)
    slow = 0
    for event in prof.key_averages(group_by_input_shape=True):
        totals[_kind(event.key, event.input_shapes) or OTHER] += event.self_cpu_time_total
        slow += event.count if event.key == SLOW_CONV else 0
    return _shares(totals, calls, {"_slow_conv_calls": slow / calls})


def ort_breakdown(onnx_bytes: bytes, x: torch.Tensor, calls: int) -> dict[str, float]:
    """Fraction of ONNX Runtime kernel time per layer kind (its profiler, the backend's session options)."""
    import onnxruntime as ort

    from mobilenet_mnist.deploy.ort_backend import session_options

    with tempfile.TemporaryDirectory() as folder:
        options = session_options()
        options.enable_profiling, options.profile_file_prefix = True, str(Path(folder) / "ort")
        session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        for _ in range(2 + calls):
            session.run(None, {"input": x.numpy()})
        events = json.loads(Path(session.end_profiling()).read_text())
    kernels = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    totals: dict[str, float] = defaultdict(float)
    for event in kernels[-len(kernels) * calls // (2 + calls):]:  # the timed calls, not the warm-up
        shapes = [next(iter(s.values())) for s in event["args"].get("input_type_shape", [])]
        totals[_kind(event["args"]["op_name"], shapes) or OTHER] += event["dur"]
    return _shares(totals, calls, {"_slow_conv_calls": 0.0})


def mac_shares(model: torch.nn.Module) -> dict[str, float]:
    """Share of multiply-adds per layer kind (pointwise, depthwise, stem, classifier)."""
    cost = profile_model(model)
    shares: dict[str, float] = defaultdict(float)
    for layer in cost.layers:
        if layer.kind == "linear":
            shares["classifier"] += layer.macs
        elif layer.kind == "conv_dw":
            shares["depthwise conv"] += layer.macs
        else:
            shares["stem conv" if layer.name.startswith("stem") else "pointwise conv"] += layer.macs
    return {k: v / cost.macs for k, v in shares.items()}


def main(argv: list[str] | None = None) -> int:
    """Profile each way and print the breakdown as a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = mobilenet_v1(width_mult=args.width).eval()
    fast = optimize_for_inference(model, backend="torch")
    x = torch.randn(args.batch_size, 1, 32, 32)

    def run_fast(inp: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return fast(inp)

    ways = {"naive": breakdown(model, x, args.calls), "torch backend": breakdown(run_fast, x, args.calls)}
    if default_backend() == "onnxruntime":
        ort_model = optimize_for_inference(model, backend="onnxruntime")
        ways["onnxruntime"] = ort_breakdown(ort_model.onnx_bytes, x, args.calls)
    print(_table(ways, mac_shares(model), args))
    return 0


def _table(ways: dict[str, dict[str, float]], macs: dict[str, float], args: argparse.Namespace) -> str:
    timed = ", ".join(f"{way} {shares['_ms_per_call']:.2f} ms/batch" for way, shares in ways.items())
    slow = ", ".join(f"{way} {shares['_slow_conv_calls']:g}" for way, shares in ways.items())
    lines = [
        f"α={args.width:g}, batch {args.batch_size}, {torch.get_num_threads()} threads; profiled time: {timed}; "
        f"{SLOW_CONV} calls per batch: {slow}", "",
        "| layer kind | share of mult-adds | " + " | ".join(f"{way}: share of time" for way in ways) + " |",
        "|---|---:|" + "---:|" * len(ways),
    ]  # fmt: skip
    kinds = dict.fromkeys(k for shares in ways.values() for k in shares if not k.startswith("_"))
    for kind in kinds:
        cells = " | ".join(f"{100 * shares.get(kind, 0):.1f} %" for shares in ways.values())
        lines.append(f"| {kind} | {100 * macs.get(kind, 0):.1f} % | {cells} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
