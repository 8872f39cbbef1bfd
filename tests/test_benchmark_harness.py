"""benchmarks/: the side-by-side harness writes its report; its instruments measure something.

Speed is never asserted (numbers from quick runs are noise); only the output's format and
the instruments' sanity.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # benchmarks/ lives in the repository, not in the package

from benchmarks.harness import BenchmarkConfig, build_peer, count_costs, quick_config, run_benchmark  # noqa: E402
from benchmarks.measure import make_train_step, measure_matmul_peak, measure_peak_memory  # noqa: E402
from benchmarks.report import to_markdown, write_results  # noqa: E402
from mobilenet_mnist import mobilenet_v1  # noqa: E402
from mobilenet_mnist.deploy.optimize import bf16_supported  # noqa: E402

ROW_KEYS = {
    "network", "way", "width", "status", "params", "macs", "infer_batch", "infer_images_per_s",
    "infer_gmacs_per_s", "infer_fraction_of_peak", "latency_ms_median", "latency_ms_p90",
    "train_batch", "train_images_per_s", "train_fraction_of_peak", "mem_infer_mib",
    "mem_train_mib", "infer_speedup_vs_naive", "latency_speedup_vs_naive",
    "train_speedup_vs_naive",
}  # fmt: skip


def _check_result(result: dict) -> None:
    assert {"schema", "created", "command", "machine", "config", "load_average", "duration_s",
            "matmul_peak_gmacs", "rows"} <= result.keys()  # fmt: skip
    assert {"cpu", "logical_cores", "torch_threads", "torch", "torchvision", "timm"} <= result["machine"].keys()
    assert result["matmul_peak_gmacs"] > 0
    rows = {(r["network"], r["way"]): r for r in result["rows"]}
    naive, fast = rows[("mobilenet_v1 α=0.25", "naive")], rows[("mobilenet_v1 α=0.25", "fast")]
    for row in result["rows"]:
        if row["status"] == "ok":
            assert row.keys() >= ROW_KEYS
            assert row["infer_images_per_s"] > 0 and row["latency_ms_p90"] >= row["latency_ms_median"]
    expected = fast["infer_images_per_s"] / naive["infer_images_per_s"]
    assert fast["infer_speedup_vs_naive"] == pytest.approx(expected)


@pytest.mark.slow  # a whole quick benchmark run (models timed over several repeats)
def test_quick_benchmark_writes_json_and_markdown(tmp_path: Path) -> None:
    result = run_benchmark(quick_config(peers=False))
    _check_result(result)
    md_path, json_path = write_results(result, tmp_path)
    assert json.loads(json_path.read_text()) == json.loads(json.dumps(result))
    markdown = md_path.read_text()
    assert "| mobilenet_v1 α=0.25 | **fast** |" in markdown
    assert "G multiply-adds/s" in markdown


@pytest.mark.slow  # a whole quick benchmark run (models timed over several repeats)
def test_quick_benchmark_script_with_peers(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = importlib.util.spec_from_file_location("run_benchmarks", REPO_ROOT / "benchmarks" / "run_benchmarks.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--quick", "--quiet", "--no-memory", "--output-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "benchmark.json").read_text())
    _check_result(result)
    assert result["config"]["repeats"] == quick_config().repeats
    peers = {r["network"]: r for r in result["rows"] if r["way"] == "peer"}
    assert peers["torchvision/mobilenet_v2"]["status"] == "ok"
    timm_ok = importlib.util.find_spec("timm") is not None
    assert (peers["timm/mobilenetv1_100"]["status"] == "ok") == timm_ok
    assert peers["torchvision/mobilenet_v2"]["mem_infer_mib"] is None  # --no-memory
    assert "torchvision/mobilenet_v2" in capsys.readouterr().out


def test_script_rejects_bad_options_with_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    spec = importlib.util.spec_from_file_location("run_benchmarks", REPO_ROOT / "benchmarks" / "run_benchmarks.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--batch-size", "0"])
    assert exit_info.value.code == 2 and "batch_size must be >= 1" in capsys.readouterr().err


@pytest.mark.slow  # a benchmark run with the bf16 way
def test_bf16_way_runs_only_with_native_bf16() -> None:
    result = run_benchmark(quick_config(peers=False, memory=False, bf16=True))
    row = next(r for r in result["rows"] if r["way"] == "fast+bf16")
    if bf16_supported():
        assert row["status"] == "ok" and row["infer_images_per_s"] > 0
    else:
        assert row["status"].startswith("skipped: no native bf16")
        assert "skipped: no native bf16" in to_markdown(result)


def test_peer_costs_are_counted_for_one_channel() -> None:
    model = build_peer("torchvision/mobilenet_v2").eval()
    params, macs = count_costs(model, 32)
    assert params == sum(p.numel() for p in model.parameters())
    assert not model.training  # counting must not flip the model to train mode
    # Stem: 32 output channels at 16×16 from a 1-channel 3×3 conv.
    stem_macs = 32 * 16 * 16 * 9
    assert macs > stem_macs and macs < 20e6


def test_benchmark_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        BenchmarkConfig(batch_size=0)
    with pytest.raises(TypeError, match="warmup must be an int"):
        BenchmarkConfig(warmup=1.5)
    with pytest.raises(ValueError, match="widths"):
        BenchmarkConfig(widths=())
    with pytest.raises(ValueError, match=r"width multipliers in \(0, 4"):
        BenchmarkConfig(widths=(1.0, -0.5))


def test_measure_peak_memory_sees_an_allocation() -> None:
    size_mib = 64

    def allocate() -> None:
        block = torch.ones(size_mib * 2**20 // 4)  # touched, so resident
        del block

    peak = measure_peak_memory(allocate)
    if not Path("/proc/self/clear_refs").exists():
        assert peak is None
        return
    assert peak is not None and size_mib * 0.9 <= peak <= size_mib * 2


def test_matmul_peak_is_a_rate() -> None:
    rate = measure_matmul_peak(size=128, repeats=2)
    assert 0.01 < rate < 1e5  # G multiply-adds/s; speed is not asserted


def test_train_step_lowers_loss_on_a_fixed_batch() -> None:
    model = mobilenet_v1(width_mult=0.25)
    step = make_train_step(model, channels_last=True, lr=0.05)
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 1, 32, 32, generator=generator), torch.randint(0, 10, (16,), generator=generator)
    losses = [step(x, y) for _ in range(8)]
    assert losses[-1] < losses[0]
    assert model.stem.conv.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert F.cross_entropy(model.eval()(x), y).item() < losses[0]
