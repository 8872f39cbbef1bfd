"""Measuring instruments shared by ``mobilenet-mnist benchmark`` and ``benchmarks/``: time, memory, peak.

* :func:`time_calls`: wall-clock seconds of repeated calls after untimed warm-up calls;
* :func:`peak_memory_mib`: the extra resident memory a call needs (Linux);
* :func:`matmul_peak`: the CPU's fp32 matrix-multiplication rate, the practical ceiling
  of any network's multiply-add rate on the same threads;
* :func:`machine_info`: what a reader needs to compare numbers between machines.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import functools
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["fresh_copy_peak_memory", "machine_info", "matmul_peak", "peak_memory_mib", "time_calls"]


def time_calls(fn: Callable[[], object], *, warmup: int, repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


# ------------------------------------------------------------------------ matmul peak
def matmul_peak(size: int = 2048, repeats: int = 5) -> dict[str, float]:
    """The CPU's fp32 matmul rate in G multiply-adds/s, best of ``repeats`` calls per library.

    Two libraries multiply matrices on a PyTorch CPU: MKL (``torch.mm``) and oneDNN (what
    convolutions and ONNX Runtime-like blocked kernels reach). On some CPUs one of them
    is much faster (MKL runs AVX2 code on AMD CPUs that have AVX-512), so the peak is the
    better of the two.

    Returns:
        ``{"torch_mm": G/s, "onednn": G/s or absent, "peak": the larger}``.
    """
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(size, size, generator=gen), torch.randn(size, size, generator=gen)
    rates = {"torch_mm": _rate(lambda: torch.mm(a, b), size, repeats)}
    ops = getattr(torch.ops, "mkldnn", None)
    if torch.backends.mkldnn.is_available() and hasattr(ops, "_linear_pointwise"):
        with contextlib.suppress(RuntimeError):  # op present but not built for this CPU
            packed = torch.ops.mkldnn._reorder_linear_weight(b, size)
            rates["onednn"] = _rate(lambda: torch.ops.mkldnn._linear_pointwise(a, packed, None, "none", [], ""),
                                    size, repeats)  # fmt: skip
    rates["peak"] = max(rates.values())
    return rates


def _rate(fn: Callable[[], object], size: int, repeats: int) -> float:
    return size**3 / min(time_calls(fn, warmup=1, repeats=repeats)) / 1e9


# ----------------------------------------------------------------------- peak memory
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


def peak_memory_mib(fn: Callable[[], object], calls: int = 2) -> float | None:
    """Peak extra resident memory, in MiB, while calling ``fn`` ``calls`` times.

    Method: free heap is returned to the OS (``malloc_trim``), the kernel's peak-RSS
    counter is reset (``/proc/self/clear_refs``), ``fn`` runs, and the result is the
    peak RSS (``VmHWM``) minus the RSS before. It counts everything the calls allocate
    and touch (activations, gradients, oneDNN scratch, ONNX Runtime's arena), not memory
    already held, such as weights or optimizer state from earlier calls: call ``fn`` once
    before measuring. It needs Linux; elsewhere it returns ``None``.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    before = _proc_status_kib("VmRSS")
    if before is None or not _reset_peak_rss():
        return None
    for _ in range(calls):
        fn()
    peak = _proc_status_kib("VmHWM")
    return None if peak is None else max(0, peak - before) / 1024


def fresh_copy_peak_memory(module: torch.nn.Module, call: Callable[[torch.nn.Module], object],
                           calls: int = 2) -> float | None:  # fmt: skip
    """Peak memory, in MiB, of a fresh copy of ``module`` while ``call(copy)`` runs ``calls`` times.

    A copy holds its own weights and starts with empty caches (oneDNN's reordered weights,
    compiled graphs, ONNX Runtime's sessions and memory arenas), so every way of running a
    network is charged for everything it needs, not only for what it allocates after
    warming up (see :func:`peak_memory_mib`).
    """

    def run() -> None:
        fresh = copy.deepcopy(module)
        for _ in range(calls):
            call(fresh)

    return peak_memory_mib(run, calls=1)


# ----------------------------------------------------------------------- the machine
def machine_info() -> dict[str, Any]:
    """CPU model, cores, threads, ISA, load and library versions: what a reader needs to compare."""
    try:
        import onnxruntime

        ort_version: str | None = onnxruntime.__version__
    except ImportError:
        ort_version = None
    return {
        "cpu": _cpu_model(), "logical_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_flags": _cpu_flags(),
        "torch": torch.__version__, "onnxruntime": ort_version, "python": platform.python_version(),
        "platform": platform.platform(), "load_average": _load_average(),
    }  # fmt: skip


def _cpuinfo_value(key: str) -> str | None:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    return None


def _cpu_model() -> str:
    return _cpuinfo_value("model name") or platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    """The SIMD extensions that matter here (AVX2, FMA, AVX-512 parts, VNNI, AMX), from /proc/cpuinfo."""
    flags = (_cpuinfo_value("flags") or "").split()
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile")
    return [flag for flag in wanted if flag in flags]


def _load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None
