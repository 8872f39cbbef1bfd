"""`mobilenet-mnist benchmark` (mobilenet_mnist.deploy.speed): what it writes, where, and after Ctrl-C.

Speed is never asserted; quick runs check the rows, the report and the files.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

from mobilenet_mnist.cli import main
from mobilenet_mnist.deploy import speed, speed_report
from mobilenet_mnist.deploy.speed import SpeedConfig, iter_speed_rows, quick_config

REPO_ROOT = Path(__file__).resolve().parents[1]
QUICK = ["benchmark", "--quick", "--no-onnx"]


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time (ns)."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_rows_time_naive_and_torch_and_report_speedups() -> None:
    rows = list(iter_speed_rows(quick_config(onnx=False)))
    assert [(r["width"], r["way"]) for r in rows] == [(0.25, "naive"), (0.25, "torch")]
    for row in rows:
        assert row["images_per_s"] > 0 and row["latency_ms_p90"] >= row["latency_ms_median"] > 0
        assert row["samples"] == {"batch": quick_config().repeats, "latency": quick_config().latency_repeats}
        assert 2e6 < row["macs"] < 4e6  # α=0.25 at 32 px: 3.0 M multiply-adds
        assert row["mem_mib"] is None or row["mem_mib"] >= 0
    peak = {"torch_mm": 50.0, "peak": 50.0}
    result = speed_report.speed_result(quick_config(onnx=False), rows, matmul_peak=peak)
    naive, fast = result["rows"]
    assert fast["speedup_vs_naive"] == pytest.approx(fast["images_per_s"] / naive["images_per_s"])
    assert fast["latency_speedup_vs_naive"] == pytest.approx(naive["latency_ms_median"] / fast["latency_ms_median"])
    assert fast["fraction_of_peak"] == pytest.approx(fast["images_per_s"] * fast["macs"] / 50e9)
    assert "speedup_vs_naive" not in rows[0]  # the caller's rows are not changed
    assert result["complete"] and result["machine"]["torch_threads"] >= 1
    assert "matmul peak 50.0 G multiply-adds/s" in speed_report.to_markdown(result)


def test_rounds_pool_samples_of_every_way() -> None:
    cfg = quick_config(onnx=False, memory=False, rounds=2)
    rows = list(iter_speed_rows(cfg))
    assert [r["way"] for r in rows] == ["naive", "torch"]
    assert all(r["samples"] == {"batch": 2 * cfg.repeats, "latency": 2 * cfg.latency_repeats} for r in rows)


def test_matmul_peak_is_the_better_library() -> None:
    peak = speed.measure_peak(quick_config())
    assert peak["peak"] == max(v for k, v in peak.items() if k != "peak") > 0


@pytest.mark.slow  # times every installed backend
def test_backend_rows_when_installed() -> None:
    rows = list(iter_speed_rows(quick_config(memory=False)))
    installed = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxscript", "onnxruntime"))
    ways = [r["way"] for r in rows]
    if installed:
        assert ways == ["naive", "torch", "onnxruntime", "onnxruntime-int8"]
        assert [r["way"] for r in rows if r["default"]] == ["onnxruntime"]
    else:
        assert ways == ["naive", "torch"] and [r["way"] for r in rows if r["default"]] == ["torch"]
    assert all(r["mem_mib"] is None for r in rows)


def test_command_writes_to_the_named_folder_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results, package = REPO_ROOT / "benchmarks" / "results", REPO_ROOT / "mobilenet_mnist"
    before = (_snapshot(results), _snapshot(package))
    output = tmp_path / "my speed"
    assert main([*QUICK, "--output", str(output)]) == 0
    assert sorted(p.name for p in output.iterdir()) == ["benchmark.json", "benchmark.md"]
    record = json.loads((output / "benchmark.json").read_text())
    assert [r["way"] for r in record["rows"]] == ["naive", "torch"] and record["complete"]
    assert record["matmul_peak_gmacs"]["peak"] > 0 and record["rows"][1]["fraction_of_peak"] > 0
    out = capsys.readouterr().out
    assert (output / "benchmark.md").read_text() in out and str(output / "benchmark.json") in out
    assert (_snapshot(results), _snapshot(package)) == before  # nothing written into the repository


def test_default_folder_is_a_new_one_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(QUICK) == 0
    (folder,) = tmp_path.iterdir()
    assert folder.name.startswith("mobilenet-mnist-benchmark-")
    assert sorted(p.name for p in folder.iterdir()) == ["benchmark.json", "benchmark.md"]
    assert speed_report.new_output_dir(tmp_path) != folder  # taken names are never reused
    capsys.readouterr()


def test_ctrl_c_keeps_the_rows_measured_so_far(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = []
    real_time_calls = speed.time_calls

    def interrupted_after_first_row(fn, *, warmup: int, repeats: int) -> list[float]:
        calls.append(1)
        if len(calls) > 2:  # two series (large batch, batch 1) per row
            raise KeyboardInterrupt
        return real_time_calls(fn, warmup=warmup, repeats=repeats)

    monkeypatch.setattr(speed, "time_calls", interrupted_after_first_row)
    output = tmp_path / "partial"
    assert main([*QUICK, "--output", str(output)]) == 130
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("mobilenet-mnist benchmark: interrupted; kept the 1 rows") and "Traceback" not in err
    record = json.loads((output / "benchmark.json").read_text())
    assert [r["way"] for r in record["rows"]] == ["naive"] and not record["complete"]
    assert "**Interrupted**" in (output / "benchmark.md").read_text()


def test_help_states_the_real_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["benchmark", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    d = SpeedConfig()
    assert f"(default {' '.join(f'{w:g}' for w in d.widths)})" in text
    for option, value in (("batch_size", d.batch_size), ("repeats", d.repeats), ("rounds", d.rounds),
                          ("latency_repeats", d.latency_repeats), ("warmup", d.warmup)):  # fmt: skip
        assert f"(default {value})" in text, option


@pytest.mark.parametrize(
    ("field", "value", "error", "message"),
    [
        ("widths", (), ValueError, "widths must be one or more"),
        ("widths", (0.0,), ValueError, r"each width must be in \(0, 4\]"),
        ("batch_size", 0, ValueError, "batch_size must be >= 1"),
        ("repeats", 2.5, TypeError, "repeats must be an int"),
        ("warmup", -1, ValueError, "warmup must be >= 0"),
        ("threads", 0, ValueError, "threads must be >= 1"),
    ],
)
def test_bad_config_values_are_explained(field: str, value: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        dataclasses.replace(SpeedConfig(), **{field: value})


def test_bad_option_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*QUICK, "--widths", "9", "--output", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "each width must be in (0, 4]" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()
