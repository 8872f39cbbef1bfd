"""How fast this library's inference paths run on your machine (``mobilenet-mnist benchmark``).

For each width α, on the same seeded inputs and the same number of threads, each way:

* ``naive``: the model as first built, eager, NCHW, BatchNorm unfused, autograd on;
* ``torch``: ``optimize_for_inference(model, backend="torch")`` (BatchNorm folded,
  channels_last, prepacked oneDNN conv+ReLU) under ``torch.inference_mode()``;
* ``onnxruntime``: ``backend="onnxruntime"``, the fp32 ONNX export run by ONNX Runtime;
* ``onnxruntime-int8``: the same with ``int8=True`` (static QDQ int8). The command
  calibrates it on the random timing inputs: right for speed, not for accuracy (the docs'
  deployment page measures int8 accuracy on MNIST).

The ONNX Runtime rows need the ``onnx`` extra. The row of the way ``backend="auto"`` picks
here is marked ``default``. Each way is timed at a large batch (images/s) and at batch 1
(latency), medians over repeats, and its peak memory at the large batch is measured; the
CPU's fp32 matmul peak turns images/s into a fraction of what the CPU can do. The full
side-by-side comparison (training speed, timm and torchvision peers) is the repository
script ``benchmarks/run_benchmarks.py``. The report (JSON and Markdown) is written by
:mod:`.speed_report`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from ..utils.checks import check_number
from .measure import fresh_copy_peak_memory, machine_info, matmul_peak, time_calls
from .optimize import default_backend, optimize_for_inference

__all__ = [
    "INPUT_SHAPE",
    "SpeedConfig",
    "iter_speed_rows",
    "machine_info",
    "matmul_peak",
    "measure_peak",
    "quick_config",
    "time_calls",
]

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
        repeats: Timed large-batch calls per way and round (the median of all is reported).
        latency_repeats: Timed batch-1 calls per way and round.
        warmup: Untimed calls before each timed series.
        rounds: Passes over the ways of a width; their samples are pooled, so a change in
            machine load during the run hits every way alike.
        threads: ``torch.set_num_threads`` for the run (restored afterwards); ``None``
            keeps the current setting. ONNX Runtime uses the same number.
        onnx: Add ONNX Runtime rows when the ``onnx`` extra is installed.
        int8: Add the ONNX Runtime int8 row (with ``onnx``).
        memory: Measure each way's peak memory at the large batch (Linux only).
        matmul_size: Side of the square matrices that measure the CPU's matmul peak.
        seed: Seed for the weights and inputs.
    """

    widths: tuple[float, ...] = (1.0, 0.75, 0.5, 0.25)
    batch_size: int = 256
    repeats: int = 4
    latency_repeats: int = 30
    warmup: int = 2
    rounds: int = 3
    threads: int | None = None
    onnx: bool = True
    int8: bool = True
    memory: bool = True
    matmul_size: int = 2048
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.widths, Sequence) or not self.widths:
            raise ValueError(f"widths must be one or more width multipliers, e.g. (1.0, 0.5); got {self.widths!r}.")
        for width in self.widths:
            check_number("each width", width, 0.0, 4.0, low_inclusive=False)
        for name in ("batch_size", "repeats", "latency_repeats", "rounds", "matmul_size"):
            check_number(name, getattr(self, name), 1, integer=True)
        check_number("warmup", self.warmup, 0, integer=True)
        if self.threads is not None:
            check_number("threads", self.threads, 1, integer=True)


def quick_config(**overrides: Any) -> SpeedConfig:
    """A seconds-long configuration (α=0.25, tiny batches): checks the setup, not the speed."""
    quick = SpeedConfig(widths=(0.25,), batch_size=8, repeats=2, latency_repeats=3, warmup=1, rounds=1,
                        matmul_size=256)
    return replace(quick, **overrides)


def _seeded_model(width: float, seed: int) -> torch.nn.Module:
    from ..models.factory import mobilenet_v1

    with torch.random.fork_rng():  # seeded weights, the caller's random state untouched
        torch.manual_seed(seed)
        return mobilenet_v1(width_mult=width).eval()


@functools.lru_cache(maxsize=8)
def _macs(width: float) -> int:
    """Multiply-adds per image of the model of width ``width`` at the timed input size."""
    from ..models.profile import profile_model

    return profile_model(_seeded_model(width, 0), INPUT_SHAPE[-1]).macs


def _caller(way: str, module: torch.nn.Module) -> Infer:
    """How a way is called: the naive model as is (autograd on), the others under inference_mode."""
    if way == "naive":
        return module

    def infer(x: torch.Tensor) -> object:
        with torch.inference_mode():
            return module(x)

    return infer


def _ways(width: float, cfg: SpeedConfig, calibration: torch.Tensor) -> Iterator[tuple[str, torch.nn.Module]]:
    """(way, module) for each way of running the model of width ``width``, built as it is reached."""
    model = _seeded_model(width, cfg.seed)
    yield "naive", model
    yield "torch", optimize_for_inference(model, backend="torch")
    if not cfg.onnx or default_backend() != "onnxruntime":
        if cfg.onnx:
            logger.info("No ONNX Runtime rows: the onnx extra is not installed.")
        return
    yield "onnxruntime", optimize_for_inference(model, backend="onnxruntime")
    if cfg.int8:
        yield "onnxruntime-int8", optimize_for_inference(model, int8=True, calibration_images=calibration)


def _time_way(way: str, module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], cfg: SpeedConfig,
              samples: dict[str, list[float]]) -> None:
    """Add one round of large-batch and batch-1 timings of ``module`` to ``samples``."""
    batch, single = inputs
    infer = _caller(way, module)
    samples.setdefault("batch", []).extend(time_calls(lambda: infer(batch), warmup=cfg.warmup, repeats=cfg.repeats))
    samples.setdefault("latency", []).extend(
        time_calls(lambda: infer(single), warmup=cfg.warmup, repeats=cfg.latency_repeats)
    )


def _row(width: float, way: str, module: torch.nn.Module, samples: dict[str, list[float]],
         batch: torch.Tensor, cfg: SpeedConfig) -> dict[str, Any]:
    """The result row of one way from its pooled samples, with its memory; logged."""
    latency_s = sorted(samples["latency"])
    row = {
        "network": f"mobilenet_v1 α={width:g}", "width": width, "way": way,
        "default": way == default_backend(), "macs": _macs(width),
        "images_per_s": cfg.batch_size / statistics.median(samples["batch"]),
        "latency_ms_median": 1e3 * statistics.median(latency_s),
        "latency_ms_p90": 1e3 * latency_s[min(len(latency_s) - 1, round(0.9 * (len(latency_s) - 1)))],
        "mem_mib": fresh_copy_peak_memory(module, lambda fresh: _caller(way, fresh)(batch)) if cfg.memory else None,
        "samples": {"batch": len(samples["batch"]), "latency": len(latency_s)},
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


def measure_peak(cfg: SpeedConfig | None = None) -> dict[str, float]:
    """The CPU's fp32 matmul peak (:func:`~.measure.matmul_peak`) on ``cfg``'s threads."""
    cfg = cfg or SpeedConfig()
    with _threads(cfg.threads):
        return matmul_peak(cfg.matmul_size)


def iter_speed_rows(cfg: SpeedConfig | None = None) -> Iterator[dict[str, Any]]:
    """Time every way of every width, yielding one result row as soon as it is measured.

    Stop iterating (or press Ctrl-C) at any time: the rows yielded so far are complete.

    Args:
        cfg: What to time; defaults to :class:`SpeedConfig` ().

    Yields:
        ``{"network", "width", "way", "default", "macs", "images_per_s", "latency_ms_median",
        "latency_ms_p90", "mem_mib", "samples"}``; ``default`` marks the way
        ``backend="auto"`` picks here, ``macs`` is multiply-adds per image.
    """
    cfg = cfg or SpeedConfig()
    gen = torch.Generator().manual_seed(cfg.seed)
    inputs = (torch.randn(cfg.batch_size, *INPUT_SHAPE, generator=gen), torch.randn(1, *INPUT_SHAPE, generator=gen))
    with _threads(cfg.threads):
        for width in cfg.widths:
            yield from _width_rows(width, cfg, inputs)


def _width_rows(width: float, cfg: SpeedConfig, inputs: tuple[torch.Tensor, ...]) -> Iterator[dict[str, Any]]:
    """The rows of one width: every way timed in each round; a way's row follows its last round."""
    ways = _ways(width, cfg, inputs[0])
    if cfg.rounds == 1:  # build each way as it is reached: its row comes before the next is built
        for way, module in ways:
            samples: dict[str, list[float]] = {}
            _time_way(way, module, inputs, cfg, samples)
            yield _row(width, way, module, samples, inputs[0], cfg)
        return
    built = list(ways)
    pooled: dict[str, dict[str, list[float]]] = {way: {} for way, _ in built}
    for round_index in range(cfg.rounds):
        for way, module in built:
            _time_way(way, module, inputs, cfg, pooled[way])
            if round_index == cfg.rounds - 1:
                yield _row(width, way, module, pooled[way], inputs[0], cfg)
