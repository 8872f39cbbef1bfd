"""Measuring instruments of the benchmarks: matmul peak, peak memory, training step, machine.

Timing itself is :func:`mobilenet_mnist.deploy.speed.time_calls` (one definition for the
library's ``mobilenet-mnist benchmark`` and these scripts).
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mobilenet_mnist.deploy.optimize import bf16_supported
from mobilenet_mnist.deploy.speed import machine_info as library_machine_info
from mobilenet_mnist.deploy.speed import time_calls

__all__ = [
    "command_line",
    "load_average",
    "machine_info",
    "make_train_step",
    "measure_matmul_peak",
    "measure_peak_memory",
]


def measure_matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    """The CPU's fp32 matmul rate in G multiply-adds/s: best of ``repeats`` ``torch.mm``.

    A large square matmul is the most efficient thing a CPU does in PyTorch, so this is
    the practical ceiling for any network's multiply-add rate on the same threads.
    """
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen)
    b = torch.randn(size, size, generator=gen)
    best = min(time_calls(lambda: torch.mm(a, b), warmup=1, repeats=repeats))
    return size**3 / best / 1e9


# ----------------------------------------------------------------------- memory
def _proc_status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` from the running process, or None (other C libraries)."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except (OSError, TypeError):  # no dlopen(NULL), e.g. Windows
        return None


def _release_free_heap() -> None:
    """Return freed heap memory to the OS, so the next peak is not hidden by reuse."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def measure_peak_memory(fn: Callable[[], object], calls: int = 2) -> float | None:
    """Peak extra resident memory, in MiB, while calling ``fn`` ``calls`` times.

    Method: free heap is returned to the OS (``malloc_trim``), the kernel's peak-RSS
    counter is reset (``/proc/self/clear_refs``), ``fn`` runs, and the result is the
    peak RSS (``VmHWM``) minus the RSS before. It counts everything the calls allocate
    and touch (activations, gradients, oneDNN scratch and caches), not memory already
    held, such as the weights or optimizer state from earlier calls. It needs Linux;
    elsewhere it returns ``None``.
    """
    _release_free_heap()
    before = _proc_status_kib("VmRSS")
    if before is None or not _reset_peak_rss():
        return None
    for _ in range(calls):
        fn()
    peak = _proc_status_kib("VmHWM")
    return None if peak is None else max(0, peak - before) / 1024


# ----------------------------------------------------------------------- training step
def make_train_step(
    model: nn.Module, *, channels_last: bool, bf16: bool = False, lr: float = 0.01
) -> Callable[[torch.Tensor, torch.Tensor], float]:
    """A standard training step: SGD with momentum 0.9, cross-entropy, one batch.

    Args:
        model: The model to train; it is put in train mode (and channels_last if asked).
        channels_last: Use the NHWC layout for weights and inputs (the fast path).
        bf16: Run the forward pass under CPU bfloat16 autocast.
        lr: Learning rate.

    Returns:
        ``step(x, y) -> loss``.
    """
    model.train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
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
