"""How fast this library's inference paths run on your machine (``mobilenet-mnist benchmark``).

For each width α, on the same seeded inputs and the same number of threads, three ways:

* ``naive``: the model as first built, eager, NCHW, BatchNorm unfused, autograd on;
* ``fast``: :func:`~mobilenet_mnist.deploy.optimize.optimize_for_inference` (BatchNorm
  folded, channels_last) under ``torch.inference_mode()``;
* ``onnxruntime``: the fp32 ONNX export run by ONNX Runtime's CPU provider (only when
  ``onnxruntime`` and ``onnxscript`` are installed).

Each is timed at a large batch (images/s) and at batch 1 (latency), medians over repeats.
The full side-by-side comparison (training speed, memory, timm and torchvision peers, the
CPU's matmul peak) is the repository script ``benchmarks/run_benchmarks.py``. The report
(JSON and Markdown) is written by :mod:`.speed_report`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ..utils.checks import check_number
from .common import ONNX_INPUT_NAME, MissingExtraError, require_onnx
from .optimize import optimize_for_inference

__all__ = ["INPUT_SHAPE", "SpeedConfig", "iter_speed_rows", "machine_info", "quick_config", "time_calls"]

logger = logging.getLogger(__name__)

#: (C, H, W) of the timed inputs: the MNIST models' default input.
INPUT_SHAPE = (1, 32, 32)
Infer = Callable[[torch.Tensor], object]


@dataclass(frozen=True)
class SpeedConfig:
    """What :func:`iter_speed_rows` times, and how often.

    Attributes:
        widths: Width multipliers α to time, each in (0, 4].
        batch_size: The large batch, for throughput.
        repeats: Timed large-batch calls per way (the median is reported).
        latency_repeats: Timed batch-1 calls per way.
        warmup: Untimed calls before each timed series.
        threads: ``torch.set_num_threads`` for the run (restored afterwards); ``None``
            keeps the current setting. ONNX Runtime uses the same number.
        onnx: Add ONNX Runtime rows when ``onnxruntime`` and ``onnxscript`` are installed.
        seed: Seed for the weights and inputs.
    """

    widths: tuple[float, ...] = (1.0, 0.75, 0.5, 0.25)
    batch_size: int = 256
    repeats: int = 10
    latency_repeats: int = 50
    warmup: int = 2
    threads: int | None = None
    onnx: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.widths, Sequence) or not self.widths:
            raise ValueError(f"widths must be one or more width multipliers, e.g. (1.0, 0.5); got {self.widths!r}.")
        for width in self.widths:
            check_number("each width", width, 0.0, 4.0, low_inclusive=False)
        for name in ("batch_size", "repeats", "latency_repeats"):
            check_number(name, getattr(self, name), 1, integer=True)
        check_number("warmup", self.warmup, 0, integer=True)
        if self.threads is not None:
            check_number("threads", self.threads, 1, integer=True)


def quick_config(**overrides: Any) -> SpeedConfig:
    """A seconds-long configuration (α=0.25, tiny batches): checks the setup, not the speed."""
    quick = SpeedConfig(widths=(0.25,), batch_size=8, repeats=2, latency_repeats=3, warmup=1)
    return replace(quick, **overrides)


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


def machine_info() -> dict[str, Any]:
    """CPU model, cores, threads, ISA and library versions: what a reader needs to compare."""
    try:
        import onnxruntime

        ort_version: str | None = onnxruntime.__version__
    except ImportError:
        ort_version = None
    return {
        "cpu": _cpu_model(), "logical_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
        "onnxruntime": ort_version, "python": platform.python_version(), "platform": platform.platform(),
    }  # fmt: skip


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


# ----------------------------------------------------------------------- the ways
def _onnxruntime_way(model: torch.nn.Module) -> Infer | None:
    """The model exported to ONNX, as an ONNX Runtime call; None without the packages."""
    try:
        require_onnx("onnx", "onnxscript", "onnxruntime")
    except MissingExtraError as error:
        logger.info("No ONNX Runtime rows: %s", error)
        return None
    import onnxruntime as ort

    from .onnx_export import export_onnx

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = torch.get_num_threads(), 1
    with tempfile.TemporaryDirectory() as folder:
        path = export_onnx(model, Path(folder) / "model.onnx")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {ONNX_INPUT_NAME: x.numpy()})


def _ways(width: float, cfg: SpeedConfig) -> Iterator[tuple[str, Infer]]:
    from ..models.factory import mobilenet_v1

    with torch.random.fork_rng():  # seeded weights, the caller's random state untouched
        torch.manual_seed(cfg.seed)
        model = mobilenet_v1(width_mult=width).eval()
    yield "naive", model
    fast = optimize_for_inference(model)

    def fast_infer(x: torch.Tensor) -> object:
        with torch.inference_mode():
            return fast(x)

    yield "fast", fast_infer
    if cfg.onnx and (ort_infer := _onnxruntime_way(model)) is not None:
        yield "onnxruntime", ort_infer


def _row(width: float, way: str, infer: Infer, inputs: tuple[torch.Tensor, ...], cfg: SpeedConfig) -> dict[str, Any]:
    """Time ``infer`` on the large batch and on one image; log and return the row."""
    batch, single = inputs
    batch_s = time_calls(lambda: infer(batch), warmup=cfg.warmup, repeats=cfg.repeats)
    latency_s = sorted(time_calls(lambda: infer(single), warmup=cfg.warmup, repeats=cfg.latency_repeats))
    row = {
        "network": f"mobilenet_v1 α={width:g}", "width": width, "way": way,
        "images_per_s": cfg.batch_size / statistics.median(batch_s),
        "latency_ms_median": 1e3 * statistics.median(latency_s),
        "latency_ms_p90": 1e3 * latency_s[min(len(latency_s) - 1, round(0.9 * (len(latency_s) - 1)))],
        "samples": {"batch": len(batch_s), "latency": len(latency_s)},
    }  # fmt: skip
    logger.info("%s %s: %.0f img/s, %.2f ms", row["network"], way, row["images_per_s"], row["latency_ms_median"])
    return row


@contextlib.contextmanager
def _threads(threads: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def iter_speed_rows(cfg: SpeedConfig | None = None) -> Iterator[dict[str, Any]]:
    """Time every way of every width, yielding one result row as soon as it is measured.

    Stop iterating (or press Ctrl-C) at any time: the rows yielded so far are complete.

    Args:
        cfg: What to time; defaults to :class:`SpeedConfig` ().

    Yields:
        ``{"network", "width", "way", "images_per_s", "latency_ms_median",
        "latency_ms_p90", "samples"}``.
    """
    cfg = cfg or SpeedConfig()
    gen = torch.Generator().manual_seed(cfg.seed)
    inputs = (torch.randn(cfg.batch_size, *INPUT_SHAPE, generator=gen), torch.randn(1, *INPUT_SHAPE, generator=gen))
    with _threads(cfg.threads):
        for width in cfg.widths:
            for way, infer in _ways(width, cfg):
                yield _row(width, way, infer, inputs, cfg)
