"""Side-by-side speed benchmark: the fast path vs the same network run naively vs peers.

One run measures, on the same inputs and with the same number of threads, for every
width α and for each way of running a network:

* inference throughput at a large batch (images/s, median over repeats),
* latency at batch 1 (median and 90th percentile over many repeats),
* training throughput (one SGD-momentum + cross-entropy step per batch, images/s),
* peak memory of inference (a fresh copy running two batches:
  :func:`mobilenet_mnist.deploy.measure.fresh_copy_peak_memory`) and of training (the
  steady state: :func:`benchmarks.measure.measure_peak_memory`),

and the CPU's fp32 matrix-multiplication peak (:func:`benchmarks.measure.measure_matmul_peak`),
so each network's multiply-add rate can be read as a fraction of what the CPU can do.

The ways of running are ``fast`` (the library's default
:func:`~mobilenet_mnist.deploy.optimize.optimize_for_inference` path: ONNX Runtime when
installed; channels_last training), ``torch`` (``backend="torch"``, inference only),
``naive`` (the same weights, eager, NCHW, unfused, autograd on) and ``peer`` (timm's
``mobilenetv1_100`` and torchvision's ``mobilenet_v2`` with 1 input channel and 10
classes, run as their docs show: eval mode, ``torch.inference_mode``, NCHW). Timings are
wall-clock medians with warm-up excluded; nothing here asserts speed.

Used by ``benchmarks/run_benchmarks.py`` (options and output: ``benchmarks/README.md``);
the report is written by :mod:`benchmarks.report`. The installed package's own, smaller
``mobilenet-mnist benchmark`` is :mod:`mobilenet_mnist.deploy.speed`.
"""

from __future__ import annotations

import copy
import functools
import gc
import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import torch
from torch import nn

from mobilenet_mnist.deploy.measure import fresh_copy_peak_memory
from mobilenet_mnist.deploy.optimize import bf16_supported, default_backend, optimize_for_inference
from mobilenet_mnist.deploy.speed import time_calls
from mobilenet_mnist.models.factory import mobilenet_v1
from mobilenet_mnist.models.mobilenet import MAX_WIDTH_MULT
from mobilenet_mnist.models.profile import profile_model
from mobilenet_mnist.utils.checks import check_number

from .measure import command_line, load_average, machine_info, make_train_step, measure_matmul_peak, measure_peak_memory

__all__ = ["PEERS", "SCHEMA_VERSION", "BenchmarkConfig", "build_peer", "count_costs", "quick_config", "run_benchmark"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DEFAULT_WIDTHS = (1.0, 0.75, 0.5, 0.25)
PEERS = ("timm/mobilenetv1_100", "torchvision/mobilenet_v2")


@dataclass(frozen=True)
class BenchmarkConfig:
    """What one benchmark run measures, and how often.

    Attributes:
        widths: Width multipliers α of this library's model to measure.
        batch_size: Batch for inference throughput.
        train_batch_size: Batch for training throughput.
        repeats: Timed batches per round for inference throughput.
        latency_repeats: Timed batch-1 calls per round for latency.
        train_steps: Timed training steps per round.
        warmup: Untimed calls before each timed series (per round).
        rounds: Passes over all networks; samples of all rounds are pooled, so slow
            drifts in machine load hit every network alike.
        threads: ``torch.set_num_threads`` for the run (restored afterwards); ``None``
            keeps the current setting (by default the number of cores).
        input_size: Input side in pixels.
        peers: Also measure timm's and torchvision's models (skipped if not installed).
        memory: Measure peak memory (Linux only; ``None`` elsewhere).
        compile: Add a ``fast+compile`` way (``torch.compile``; slow to start).
        bf16: Add a ``fast+bf16`` way (bf16 inference, bf16-autocast training) where
            the CPU has native bf16; elsewhere the row says it was skipped.
        matmul_size: Side of the square matrices for the matmul peak.
        seed: Seed for weights and inputs.
    """

    widths: tuple[float, ...] = DEFAULT_WIDTHS
    batch_size: int = 256
    train_batch_size: int = 128
    repeats: int = 5
    latency_repeats: int = 100
    train_steps: int = 4
    warmup: int = 2
    rounds: int = 2
    threads: int | None = None
    input_size: int = 32
    peers: bool = True
    memory: bool = True
    compile: bool = False
    bf16: bool = False
    matmul_size: int = 2048
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.widths or not all(
            isinstance(w, (int, float)) and 0 < w <= MAX_WIDTH_MULT for w in self.widths
        ):
            raise ValueError(
                f"widths must be one or more width multipliers in (0, {MAX_WIDTH_MULT}], "
                f"e.g. (1.0, 0.5); got {self.widths!r}."
            )
        for name in ("batch_size", "train_batch_size", "repeats", "latency_repeats",
                     "train_steps", "rounds", "matmul_size"):
            check_number(name, getattr(self, name), 1, integer=True)
        check_number("warmup", self.warmup, 0, integer=True)
        if self.threads is not None:
            check_number("threads", self.threads, 1, integer=True)


def quick_config(**overrides: Any) -> BenchmarkConfig:
    """A seconds-long configuration for CI and tests: numbers are noise, the format is real."""
    quick = BenchmarkConfig(
        widths=(0.25,), batch_size=8, train_batch_size=8, repeats=2, latency_repeats=3,
        train_steps=1, warmup=1, rounds=1, matmul_size=256,
    )
    return replace(quick, **overrides)


@dataclass
class _Entry:
    """One network run one way, ready to time, with the samples gathered so far."""

    network: str
    way: str
    width: float | None
    model: nn.Module
    make_infer: Callable[[nn.Module], Callable[[torch.Tensor], torch.Tensor]]
    train_step: Callable[[torch.Tensor, torch.Tensor], float] | None
    params: int
    macs: int
    samples: dict[str, list[float]] = field(default_factory=dict)
    memory: dict[str, float | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.infer = self.make_infer(self.model)


def _infer_fn(model: nn.Module, *, inference_mode: bool, channels_last: bool) -> Callable:
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def infer(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(inference_mode):
            return model(x.contiguous(memory_format=fmt))

    return infer


def count_costs(model: nn.Module, size: int) -> tuple[int, int]:
    """(params, multiply-adds per image) of any model (peers included) at ``size`` px."""
    cost = profile_model(model, size)  # input channels come from the first convolution
    return cost.params, cost.macs


def _mobilenet_entries(width: float, cfg: BenchmarkConfig) -> list[_Entry]:
    """The fast and naive ways (plus compile/bf16 if asked) of one width, same weights."""
    torch.manual_seed(cfg.seed)
    base = mobilenet_v1(width_mult=width).eval()
    params, macs = count_costs(base, cfg.input_size)
    name = f"mobilenet_v1 α={width:g}"
    # (way, inference model, inference_mode, training: None or (channels_last, bf16))
    ways: list[tuple[str, nn.Module, bool, tuple[bool, bool] | None]] = [
        ("naive", base, False, (False, False)),
        ("fast", optimize_for_inference(base), True, (True, False)),
    ]
    if default_backend() != "torch":  # otherwise "fast" is already the PyTorch backend
        ways.append(("torch", optimize_for_inference(base, backend="torch"), True, None))
    if cfg.compile:  # training is not compiled: its column would repeat "fast"
        ways.append(("fast+compile", optimize_for_inference(base, backend="torch", compile=True), True, None))
    if cfg.bf16 and bf16_supported():  # elsewhere _run records a skipped row instead
        half = optimize_for_inference(base, dtype=torch.bfloat16)
        ways.append(("fast+bf16", half, True, (True, True)))
    entries = []
    for way, model, inference_mode, train in ways:
        make_infer = functools.partial(_infer_fn, inference_mode=inference_mode, channels_last=way != "naive")
        step = None if train is None else make_train_step(
            copy.deepcopy(base), channels_last=train[0], bf16=train[1], fused=way != "naive"
        )
        entries.append(_Entry(name, way, width, model, make_infer, step, params, macs))
    return entries


def build_peer(name: str) -> nn.Module:
    """A peer network with 1 input channel and 10 classes (ImportError if not installed)."""
    if name == "timm/mobilenetv1_100":
        import timm

        return timm.create_model("mobilenetv1_100", in_chans=1, num_classes=10)
    from torchvision.models import mobilenet_v2

    model = mobilenet_v2(num_classes=10)
    first = model.features[0][0]
    model.features[0][0] = nn.Conv2d(
        1, first.out_channels, first.kernel_size, first.stride, first.padding, bias=False
    )
    return model


def _peer_entries(cfg: BenchmarkConfig) -> tuple[list[_Entry], list[dict[str, Any]]]:
    """Entries for the installed peers, and result rows saying which were skipped."""
    entries, skipped = [], []
    for name in PEERS:
        try:
            torch.manual_seed(cfg.seed)
            model = build_peer(name).eval()
        except ImportError as err:
            logger.warning("Skipping peer %s: %s", name, err)
            skipped.append({"network": name, "way": "peer", "width": 1.0, "status": f"skipped: {err}"})
            continue
        params, macs = count_costs(model, cfg.input_size)
        make_infer = functools.partial(_infer_fn, inference_mode=True, channels_last=False)
        step = make_train_step(copy.deepcopy(model), channels_last=False)
        entries.append(_Entry(name, "peer", 1.0, model, make_infer, step, params, macs))
    return entries, skipped


def _inputs(cfg: BenchmarkConfig) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(cfg.seed)
    size = cfg.input_size
    return {
        "batch": torch.randn(cfg.batch_size, 1, size, size, generator=gen),
        "single": torch.randn(1, 1, size, size, generator=gen),
        "train_x": torch.randn(cfg.train_batch_size, 1, size, size, generator=gen),
        "train_y": torch.randint(0, 10, (cfg.train_batch_size,), generator=gen),
    }


def _measure_memory(entry: _Entry, data: dict[str, torch.Tensor]) -> None:
    """Inference: a fresh copy running two batches (weights, caches, arenas, activations).

    Training: the steady state, after one untimed step (lazy optimizer state).
    """
    batch = data["batch"]
    entry.memory["infer"] = fresh_copy_peak_memory(entry.model, lambda fresh: entry.make_infer(fresh)(batch))
    if entry.train_step is None:
        return
    step = entry.train_step
    step(data["train_x"], data["train_y"])
    entry.memory["train"] = measure_peak_memory(lambda: step(data["train_x"], data["train_y"]))


def _time_entry(entry: _Entry, data: dict[str, torch.Tensor], cfg: BenchmarkConfig) -> None:
    """Add one round of inference, latency and training samples to ``entry``."""
    series = {
        "infer": (lambda: entry.infer(data["batch"]), cfg.repeats),
        "latency": (lambda: entry.infer(data["single"]), cfg.latency_repeats),
    }
    if (step := entry.train_step) is not None:
        series["train"] = (lambda: step(data["train_x"], data["train_y"]), cfg.train_steps)
    for key, (fn, repeats) in series.items():
        times = time_calls(fn, warmup=cfg.warmup, repeats=repeats)
        entry.samples.setdefault(key, []).extend(times)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _row(entry: _Entry, cfg: BenchmarkConfig, peak_gmacs: float) -> dict[str, Any]:
    infer_ips = cfg.batch_size / statistics.median(entry.samples["infer"])
    infer_gmacs = infer_ips * entry.macs / 1e9
    latency = entry.samples["latency"]
    train = entry.samples.get("train")
    train_ips = cfg.train_batch_size / statistics.median(train) if train else None
    return {
        "network": entry.network, "way": entry.way, "width": entry.width, "status": "ok",
        "params": entry.params, "macs": entry.macs,
        "infer_batch": cfg.batch_size, "infer_images_per_s": infer_ips,
        "infer_gmacs_per_s": infer_gmacs, "infer_fraction_of_peak": infer_gmacs / peak_gmacs,
        "latency_ms_median": statistics.median(latency) * 1e3,
        "latency_ms_p90": _percentile(latency, 0.9) * 1e3,
        "train_batch": cfg.train_batch_size, "train_images_per_s": train_ips,
        # forward + backward ≈ 3× the forward multiply-adds
        "train_fraction_of_peak": None if train_ips is None
        else 3 * train_ips * entry.macs / 1e9 / peak_gmacs,
        "mem_infer_mib": entry.memory.get("infer"), "mem_train_mib": entry.memory.get("train"),
        "samples": {k: len(v) for k, v in entry.samples.items()},
    }


_RATIO_KEYS = ("infer_speedup_vs_naive", "latency_speedup_vs_naive", "train_speedup_vs_naive")


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    """Speed-ups vs the naive way of the same network (α=1.0's naive for peers)."""
    naive = {r["width"]: r for r in rows if r.get("way") == "naive"}
    for row in rows:
        ref = naive.get(row.get("width"))
        if row["status"] != "ok" or ref is None:  # e.g. peers when α=1.0 is not measured
            row.update(dict.fromkeys(_RATIO_KEYS))
            continue
        row["infer_speedup_vs_naive"] = row["infer_images_per_s"] / ref["infer_images_per_s"]
        row["latency_speedup_vs_naive"] = ref["latency_ms_median"] / row["latency_ms_median"]
        train = row["train_images_per_s"]
        row["train_speedup_vs_naive"] = None if train is None else train / ref["train_images_per_s"]

def run_benchmark(cfg: BenchmarkConfig | None = None) -> dict[str, Any]:
    """Run the whole benchmark and return a JSON-ready result dict.

    Args:
        cfg: What to measure; defaults to :class:`BenchmarkConfig` ().

    Returns:
        ``{"schema", "created", "machine", "config", "load_average", "matmul_peak_gmacs",
        "rows"}``; each row has the keys documented in ``benchmarks/README.md``.
    """
    cfg = cfg or BenchmarkConfig()
    old_threads = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return _run(cfg)
    finally:
        torch.set_num_threads(old_threads)


def _build_entries(cfg: BenchmarkConfig) -> tuple[list[_Entry], list[dict[str, Any]]]:
    """Everything to time, and result rows for what was skipped (and why)."""
    entries = [e for width in cfg.widths for e in _mobilenet_entries(width, cfg)]
    skipped: list[dict[str, Any]] = []
    if cfg.bf16 and not bf16_supported():
        # Reference kernels make bf16 ~15× slower than fp32 here: a full run would take hours.
        logger.warning("No native bf16 on this CPU: skipping the fast+bf16 way.")
        skipped += [
            {"network": f"mobilenet_v1 α={w:g}", "way": "fast+bf16", "width": w,
             "status": "skipped: no native bf16 on this CPU (about 15× slower than fp32)"}
            for w in cfg.widths
        ]
    if cfg.peers:
        peers, skipped_peers = _peer_entries(cfg)
        entries += peers
        skipped += skipped_peers
    return entries, skipped


def _run(cfg: BenchmarkConfig) -> dict[str, Any]:
    start, load_start = time.perf_counter(), load_average()
    data = _inputs(cfg)
    entries, skipped = _build_entries(cfg)
    peak_before = measure_matmul_peak(cfg.matmul_size)
    gc.collect()  # once: freed tensors are released by refcount, collecting is slow
    for entry in entries if cfg.memory else []:
        _measure_memory(entry, data)
    for round_index in range(cfg.rounds):
        for entry in entries:
            logger.info("round %d/%d: %s (%s)", round_index + 1, cfg.rounds, entry.network, entry.way)
            _time_entry(entry, data, cfg)
    # The best of a measurement before and after the timings, so one noisy moment
    # does not lower the ceiling every fraction of peak is read against.
    peak = max(peak_before, measure_matmul_peak(cfg.matmul_size))
    logger.info("fp32 matmul peak: %.1f G multiply-adds/s", peak)
    rows = [_row(e, cfg, peak) for e in entries] + skipped
    _add_ratios(rows)
    return {
        "schema": SCHEMA_VERSION, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(), "machine": machine_info(), "config": asdict(cfg),
        "load_average": {"start": load_start, "end": load_average()},
        "duration_s": round(time.perf_counter() - start, 1),
        "matmul_peak_gmacs": peak, "rows": rows,
    }
