"""Where inference time goes: torch.profiler breakdown by layer kind, naive vs fast path.

Usage (from the repository root):

    python benchmarks/profile_inference.py                      # α=1.0, batch 256
    python benchmarks/profile_inference.py --width 0.5 --batch-size 1 --threads 1

Prints, for the plain eager NCHW model and for ``optimize_for_inference``, the share of
CPU time spent in pointwise (1×1) convs, depthwise convs, the stem, BatchNorm, ReLU and
everything else, next to each kind's share of the multiply-adds.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mobilenet_mnist import mobilenet_v1, profile_model
from mobilenet_mnist.deploy.optimize import optimize_for_inference

CONV_OPS = ("aten::mkldnn_convolution", "aten::_slow_conv2d_forward", "aten::thnn_conv2d",
            "aten::_convolution_depthwise2d", "aten::addmm", "aten::mm")


def _kind(name: str, shapes: list) -> str | None:
    """Layer kind of a leaf op from its name and input shapes (None: not a leaf we count)."""
    if name in CONV_OPS and len(shapes) > 1 and len(shapes[1]) == 4:
        weight = shapes[1]
        if weight[1] == 1 and weight[0] > 1:
            return "depthwise conv" if shapes[0][1] > 1 else "stem conv"
        return "pointwise conv" if weight[2:] == [1, 1] else "stem conv"
    if name in ("aten::addmm", "aten::mm", "aten::linear"):
        return "classifier"
    if name in ("aten::native_batch_norm", "aten::_native_batch_norm_legit_no_training"):
        return "batchnorm"
    if name in ("aten::clamp_min_", "aten::relu_", "aten::clamp_min", "aten::relu"):
        return "relu"
    return None


def breakdown(fn, x: torch.Tensor, calls: int) -> dict[str, float]:
    """Fraction of profiled self CPU time per layer kind over ``calls`` calls of ``fn(x)``."""
    for _ in range(2):
        fn(x)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(calls):
            fn(x)
    totals: dict[str, float] = defaultdict(float)
    for event in prof.key_averages(group_by_input_shape=True):
        kind = _kind(event.key, event.input_shapes) or "other (overhead, reorders, pooling)"
        totals[kind] += event.self_cpu_time_total
    grand = sum(totals.values())
    return {k: v / grand for k, v in sorted(totals.items(), key=lambda kv: -kv[1])} | {
        "_ms_per_call": grand / calls / 1e3
    }


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
    """Profile naive and fast inference and print the breakdown as a markdown table."""
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
    fast = optimize_for_inference(model)
    x = torch.randn(args.batch_size, 1, 32, 32)

    def run_fast(inp: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return fast(inp)

    naive, quick = breakdown(model, x, args.calls), breakdown(run_fast, x, args.calls)
    macs = mac_shares(model)
    print(f"α={args.width:g}, batch {args.batch_size}, {torch.get_num_threads()} threads; "
          f"profiled self CPU time: naive {naive['_ms_per_call']:.1f} ms/batch, "
          f"fast {quick['_ms_per_call']:.1f} ms/batch\n")
    print("| layer kind | share of mult-adds | naive: share of time | fast: share of time |")
    print("|---|---:|---:|---:|")
    kinds = [k for k in {**naive, **quick} if not k.startswith("_")]
    for kind in kinds:
        print(f"| {kind} | {100 * macs.get(kind, 0):.1f} % | {100 * naive.get(kind, 0):.1f} % "
              f"| {100 * quick.get(kind, 0):.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
