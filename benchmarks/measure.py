"""Measuring instruments of the benchmarks: matmul peak, peak memory, training step, machine.

Timing, peak memory and the matmul peak are the library's own instruments
(:mod:`mobilenet_mnist.deploy.measure`, also behind ``mobilenet-mnist benchmark``), so
both report the same quantities the same way; this module adds the training step and the
peers' library versions.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mobilenet_mnist.deploy.measure import machine_info as library_machine_info
from mobilenet_mnist.deploy.measure import matmul_peak, peak_memory_mib, time_calls
from mobilenet_mnist.deploy.optimize import bf16_supported

__all__ = [
    "command_line",
    "load_average",
    "machine_info",
    "make_train_step",
    "measure_matmul_peak",
    "measure_peak_memory",
    "time_calls",
]


def measure_matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    """The CPU's fp32 matmul rate in G multiply-adds/s: the better of MKL and oneDNN, best of ``repeats``.

    A large square matmul is the most efficient thing a CPU does, so this is the practical
    ceiling for any network's multiply-add rate on the same threads (see
    :func:`mobilenet_mnist.deploy.measure.matmul_peak`).
    """
    return matmul_peak(size, repeats)["peak"]


def measure_peak_memory(fn: Callable[[], object], calls: int = 2) -> float | None:
    """Peak extra resident memory in MiB while calling ``fn``.

    See :func:`~mobilenet_mnist.deploy.measure.peak_memory_mib`.
    """
    return peak_memory_mib(fn, calls)


# ----------------------------------------------------------------------- training step
def make_train_step(
    model: nn.Module, *, channels_last: bool, bf16: bool = False, lr: float = 0.01, fused: bool = False
) -> Callable[[torch.Tensor, torch.Tensor], float]:
    """A standard training step: SGD with momentum 0.9, cross-entropy, one batch.

    Args:
        model: The model to train; it is put in train mode (and channels_last if asked).
        channels_last: Use the NHWC layout for weights and inputs (the fast path).
        bf16: Run the forward pass under CPU bfloat16 autocast.
        lr: Learning rate.
        fused: Use torch's fused SGD kernel (what the library's training loop uses).

    Returns:
        ``step(x, y) -> loss``.
    """
    model.train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, fused=fused or None)
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def step(x: torch.Tensor, y: torch.Tensor) -> float:
        x = x.contiguous(memory_format=fmt)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


# ----------------------------------------------------------------------- the machine
def machine_info() -> dict[str, Any]:
    """The library's machine description plus oneDNN, bf16 and the peers' library versions."""
    import torchvision

    info = {
        **library_machine_info(), "mkldnn": torch.backends.mkldnn.is_available(),
        "bf16_native": bf16_supported(), "torchvision": torchvision.__version__,
    }  # fmt: skip
    try:
        import timm

        info["timm"] = timm.__version__
    except ImportError:
        info["timm"] = None
    return info


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def command_line() -> str:
    """The command that started this process, for the record."""
    return " ".join([Path(sys.executable).name, *sys.argv])
