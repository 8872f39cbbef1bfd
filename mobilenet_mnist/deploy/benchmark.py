"""Side-by-side speed benchmark: the fast path vs the same network run naively vs peers.

One run measures, on the same inputs and with the same number of threads, for every
width α and for each way of running a network:

* inference throughput at a large batch (images/s, median over repeats),
* latency at batch 1 (median and 90th percentile over many repeats),
* training throughput (one SGD-momentum + cross-entropy step per batch, images/s),
* peak memory of inference and of training (see :func:`measure_peak_memory`),

and the CPU's fp32 matrix-multiplication peak (:func:`measure_matmul_peak`), so each
network's multiply-add rate can be read as a fraction of what the CPU can do.

The ways of running are ``fast`` (this library's
:func:`~mobilenet_mnist.deploy.optimize.optimize_for_inference` path; channels_last training),
``naive`` (the same weights, eager, NCHW, unfused, autograd on) and ``peer`` (timm's
``mobilenetv1_100`` and torchvision's ``mobilenet_v2`` with 1 input channel and 10
classes, run as their docs show: eval mode, ``torch.inference_mode``, NCHW). Timings are
wall-clock medians with warm-up excluded; nothing here asserts speed.

Used by ``benchmarks/run_benchmarks.py`` and ``mobilenet-mnist benchmark``.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import functools
import gc
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..models.factory import mobilenet_v1
from ..models.mobilenet import MAX_WIDTH_MULT
from ..models.profile import profile_model
from ..utils.files import atomic_write_bytes
from .optimize import bf16_supported, optimize_for_inference

__all__ = [
    "BenchmarkConfig",
    "quick_config",
    "measure_matmul_peak",
    "measure_peak_memory",
    "time_calls",
    "make_train_step",
    "time_recipe_epoch",
    "run_benchmark",
    "to_markdown",
    "write_results",
    "add_arguments",
    "config_from_args",
    "run_from_args",
]

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
            _check_positive(name, getattr(self, name))
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}.")
        if self.threads is not None:
            _check_positive("threads", self.threads)


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")


def quick_config(**overrides: Any) -> BenchmarkConfig:
    """A seconds-long configuration for CI and tests: numbers are noise, the format is real."""
    quick = BenchmarkConfig(
        widths=(0.25,), batch_size=8, train_batch_size=8, repeats=2, latency_repeats=3,
        train_steps=1, warmup=1, rounds=1, matmul_size=256,
    )
    return replace(quick, **overrides)


# ----------------------------------------------------------------------- timing
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


# ----------------------------------------------------------------------- ways of running
@dataclass
class _Entry:
    """One network run one way, ready to time, with the samples gathered so far."""

    network: str
    way: str
    width: float | None
    infer: Callable[[torch.Tensor], torch.Tensor]
    train_step: Callable[[torch.Tensor, torch.Tensor], float] | None
    params: int
    macs: int
    samples: dict[str, list[float]] = field(default_factory=dict)
    memory: dict[str, float | None] = field(default_factory=dict)


def time_recipe_epoch(
    cfg: Any, train_data: Any, val_data: Any, steps: int, before_timing: Callable[[], None] | None = None
) -> dict[str, float]:
    """Seconds per full epoch of a recipe: training steps plus one validation pass.

    Times ``steps`` steps of the real training loop (:func:`~mobilenet_mnist.fit`) and one
    validation pass at each of ``cfg.eval_sizes`` on a throwaway model, after an untimed
    warm-up of both (cuDNN autotuning, allocator), and scales the steps to a full epoch.

    Args:
        cfg: The recipe (:class:`~mobilenet_mnist.TrainConfig`); ``init_from`` is ignored,
            and SWA epochs count as ordinary ones.
        train_data: Training images (:class:`~mobilenet_mnist.data.datasets.ImageTensors`).
        val_data: Validation images.
        steps: Training steps to time.
        before_timing: Called after the warm-up, e.g. to wait until other processes
            sharing the device are warm too.

    Returns:
        ``{"step_s", "eval_s", "epoch_s"}``.
    """
    from ..training.evaluation import evaluate
    from ..training.loop import build_model, fit

    # SWA epochs train like any other (their one BatchNorm pass at the end is not counted).
    probe = replace(cfg, epochs=1, swa_epochs=0, max_steps_per_epoch=steps, init_from=None)
    model = build_model(probe, num_classes=len(train_data.classes))
    fit(model, train_data, replace(probe, max_steps_per_epoch=min(steps, 10)))
    for size in cfg.eval_sizes:
        evaluate(model, val_data, size)
    if before_timing is not None:
        before_timing()
    began = time.perf_counter()
    fit(model, train_data, probe)
    step_s = (time.perf_counter() - began) / steps
    began = time.perf_counter()
    for size in cfg.eval_sizes:
        evaluate(model, val_data, size)
    eval_s = time.perf_counter() - began
    return {"step_s": step_s, "eval_s": eval_s, "epoch_s": step_s * (len(train_data) // cfg.batch_size) + eval_s}


def _infer_fn(model: nn.Module, *, inference_mode: bool, channels_last: bool) -> Callable:
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def infer(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(inference_mode):
            return model(x.contiguous(memory_format=fmt))

    return infer


def _costs(model: nn.Module, size: int) -> tuple[int, int]:
    """(params, multiply-adds per image) of any model (peers included) at ``size`` px."""
    cost = profile_model(model, size)  # input channels come from the first convolution
    return cost.params, cost.macs


def _mobilenet_entries(width: float, cfg: BenchmarkConfig) -> list[_Entry]:
    """The fast and naive ways (plus compile/bf16 if asked) of one width, same weights."""
    torch.manual_seed(cfg.seed)
    base = mobilenet_v1(width_mult=width).eval()
    params, macs = _costs(base, cfg.input_size)
    name = f"mobilenet_v1 α={width:g}"
    # (way, inference model, inference_mode, training: None or (channels_last, bf16))
    ways: list[tuple[str, nn.Module, bool, tuple[bool, bool] | None]] = [
        ("naive", base, False, (False, False)),
        ("fast", optimize_for_inference(base), True, (True, False)),
    ]
    if cfg.compile:  # training is not compiled: its column would repeat "fast"
        ways.append(("fast+compile", optimize_for_inference(base, compile=True), True, None))
    if cfg.bf16 and bf16_supported():  # elsewhere _run records a skipped row instead
        half = optimize_for_inference(base, dtype=torch.bfloat16)
        ways.append(("fast+bf16", half, True, (True, True)))
    entries = []
    for way, model, inference_mode, train in ways:
        infer = _infer_fn(model, inference_mode=inference_mode, channels_last=way != "naive")
        step = None if train is None else make_train_step(
            copy.deepcopy(base), channels_last=train[0], bf16=train[1]
        )
        entries.append(_Entry(name, way, width, infer, step, params, macs))
    return entries


def _build_peer(name: str) -> nn.Module:
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
            model = _build_peer(name).eval()
        except ImportError as err:
            logger.warning("Skipping peer %s: %s", name, err)
            skipped.append({"network": name, "way": "peer", "width": 1.0, "status": f"skipped: {err}"})
            continue
        params, macs = _costs(model, cfg.input_size)
        infer = _infer_fn(model, inference_mode=True, channels_last=False)
        step = make_train_step(copy.deepcopy(model), channels_last=False)
        entries.append(_Entry(name, "peer", 1.0, infer, step, params, macs))
    return entries, skipped


# ----------------------------------------------------------------------- measuring
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
    """Steady-state peaks: one untimed call first (compilation, lazy optimizer state)."""
    entry.infer(data["batch"])
    entry.memory["infer"] = measure_peak_memory(lambda: entry.infer(data["batch"]))
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


def machine_info() -> dict[str, Any]:
    """CPU model, cores, ISA, library versions and load: what a reader needs to compare."""
    import torchvision

    info: dict[str, Any] = {
        "cpu": _cpu_model(), "logical_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn": torch.backends.mkldnn.is_available(), "bf16_native": bf16_supported(),
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "python": platform.python_version(), "platform": platform.platform(),
    }
    try:
        import timm

        info["timm"] = timm.__version__
    except ImportError:
        info["timm"] = None
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


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
    start, load_start = time.perf_counter(), _load_average()
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
        "load_average": {"start": load_start, "end": _load_average()},
        "duration_s": round(time.perf_counter() - start, 1),
        "matmul_peak_gmacs": peak, "rows": rows,
    }


# ----------------------------------------------------------------------- reporting
_COLUMNS = (
    "network", "way", "M mult-adds", "infer img/s", "× naive", "% of peak",
    "latency ms (p90)", "× naive", "train img/s", "× naive", "mem infer MiB", "mem train MiB",
)


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def _markdown_row(row: dict[str, Any]) -> str:
    if row["status"] != "ok":
        cells = [row["network"], row["way"], row["status"]] + [""] * (len(_COLUMNS) - 3)
        return "| " + " | ".join(cells) + " |"
    cells = [
        row["network"], f"**{row['way']}**" if row["way"].startswith("fast") else row["way"],
        f"{row['macs'] / 1e6:.1f}", f"{row['infer_images_per_s']:,.0f}",
        _fmt(row.get("infer_speedup_vs_naive"), ".2f", "×"),
        f"{100 * row['infer_fraction_of_peak']:.0f} %",
        f"{row['latency_ms_median']:.2f} ({row['latency_ms_p90']:.2f})",
        _fmt(row.get("latency_speedup_vs_naive"), ".2f", "×"),
        _fmt(row["train_images_per_s"], ",.0f"), _fmt(row.get("train_speedup_vs_naive"), ".2f", "×"),
        _fmt(row["mem_infer_mib"], ".0f"), _fmt(row["mem_train_mib"], ".0f"),
    ]
    return "| " + " | ".join(cells) + " |"


def to_markdown(result: dict[str, Any]) -> str:
    """The result as a markdown section: machine line, table, and how to read it."""
    m, c = result["machine"], result["config"]
    load = result["load_average"]
    lines = [
        f"Machine: {m['cpu']}, {m['logical_cores']} logical cores, {m['torch_threads']} torch "
        f"threads, {m['cpu_capability']}; torch {m['torch']}, torchvision {m['torchvision']}, "
        f"timm {m['timm'] or 'not installed'}. Load average at start {load['start']}, end "
        f"{load['end']}.",
        "",
        f"fp32 matmul peak: **{result['matmul_peak_gmacs']:.1f} G multiply-adds/s** "
        f"({c['matmul_size']}² torch.mm, best of 5 before and 5 after the timings). "
        f"Input {c['input_size']}×{c['input_size']}, 1 channel; inference at batch "
        f"{c['batch_size']}, latency at batch 1, training at batch {c['train_batch_size']}; "
        f"medians over {c['rounds']} round(s) of "
        f"{c['repeats']} / {c['latency_repeats']} / {c['train_steps']} timed calls.",
        "",
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "|".join(["---", "---"] + ["---:"] * (len(_COLUMNS) - 2)) + "|",
        *(_markdown_row(r) for r in result["rows"]),
        "",
        "× naive: speed-up over the same network run naively (for peers: over α=1.0 naive). "
        "% of peak: inference multiply-add rate / matmul peak. Memory: peak resident-set "
        "growth while running a batch (activations, gradients, scratch); weights and optimizer state excluded.",
    ]
    return "\n".join(lines) + "\n"


def write_results(result: dict[str, Any], output_dir: str | Path) -> tuple[Path, Path]:
    """Write ``benchmark.md`` and ``benchmark.json`` into ``output_dir`` (atomically).

    Returns:
        The markdown and JSON paths.
    """
    output_dir = Path(output_dir)
    md_path, json_path = output_dir / "benchmark.md", output_dir / "benchmark.json"
    atomic_write_bytes(md_path, to_markdown(result).encode("utf-8"))
    atomic_write_bytes(json_path, (json.dumps(result, indent=2) + "\n").encode("utf-8"))
    return md_path, json_path


# ----------------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the benchmark's options to ``parser`` (shared by the script and the CLI)."""
    d = BenchmarkConfig()
    add = parser.add_argument
    add("--widths", type=float, nargs="+", default=list(d.widths), help="width multipliers α")
    add("--batch-size", type=int, default=d.batch_size, help="inference throughput batch")
    add("--train-batch-size", type=int, default=d.train_batch_size, help="training batch")
    add("--repeats", type=int, default=d.repeats, help="timed inference batches per round")
    add("--latency-repeats", type=int, default=d.latency_repeats, help="timed batch-1 calls per round")
    add("--train-steps", type=int, default=d.train_steps, help="timed training steps per round")
    add("--warmup", type=int, default=d.warmup, help="untimed calls before each series")
    add("--rounds", type=int, default=d.rounds, help="passes over all networks (samples pooled)")
    add("--threads", type=int, default=None, help="torch threads (default: all cores)")
    add("--no-peers", dest="peers", action="store_false", help="skip timm/torchvision models")
    add("--no-memory", dest="memory", action="store_false", help="skip peak-memory measurement")
    add("--compile", action="store_true", help="also time torch.compile (slow to start)")
    add("--bf16", action="store_true", help="also time bf16 (only on CPUs with native bf16)")
    add("--quick", action="store_true", help="tiny run for CI: checks the output, not speed")
    add("--output-dir", type=Path, default=Path("benchmarks/results"), help="where to write")
    return parser


def config_from_args(args: argparse.Namespace) -> BenchmarkConfig:
    """Build the :class:`BenchmarkConfig` from parsed :func:`add_arguments` options.

    With ``--quick``, options left at their defaults take :func:`quick_config` values.
    """
    options = {
        "widths": tuple(args.widths), "batch_size": args.batch_size,
        "train_batch_size": args.train_batch_size, "repeats": args.repeats,
        "latency_repeats": args.latency_repeats, "train_steps": args.train_steps,
        "warmup": args.warmup, "rounds": args.rounds, "threads": args.threads,
        "peers": args.peers, "memory": args.memory, "compile": args.compile, "bf16": args.bf16,
    }
    if not args.quick:
        return BenchmarkConfig(**options)
    defaults = asdict(BenchmarkConfig())
    changed = {k: v for k, v in options.items() if v != defaults[k] and k != "widths"}
    if tuple(args.widths) != tuple(defaults["widths"]):
        changed["widths"] = tuple(args.widths)
    return quick_config(**changed)


def run_from_args(args: argparse.Namespace) -> tuple[dict[str, Any], Path, Path]:
    """Run the benchmark described by parsed :func:`add_arguments` options and write it.

    The one call behind ``mobilenet-mnist benchmark`` and ``benchmarks/run_benchmarks.py``.

    Returns:
        The result dict, and the markdown and JSON paths written to ``args.output_dir``.

    Raises:
        ValueError: For invalid options (see :class:`BenchmarkConfig`).
    """
    result = run_benchmark(config_from_args(args))
    md_path, json_path = write_results(result, args.output_dir)
    return result, md_path, json_path


def command_line() -> str:
    """The command that started this process, for the record."""
    return " ".join([Path(sys.executable).name, *sys.argv])
