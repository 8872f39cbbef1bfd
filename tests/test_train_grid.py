"""scripts/train_grid.py: choosing winners on validation accuracy and packing them."""

from __future__ import annotations

import importlib.util
import json
import tarfile
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_grid.py"


@pytest.fixture(scope="module")
def grid():
    spec = importlib.util.spec_from_file_location("train_grid", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_run(root: Path, job: str, vals: dict[str, float]) -> None:
    run = root / job
    run.mkdir(parents=True)
    history = [{"epoch": 1, **{f"val_acc@{k}": v for k, v in vals.items()}}]
    (run / "final.json").write_text(json.dumps({"history": history}))
    (run / "metrics.jsonl").write_text(json.dumps(history[0]) + "\n")
    (run / "lease.json").write_text("{}")
    (run / "worker.log").write_text("log")
    checkpoint = {"config": {}, "model": {}, "optimizer": {"state": 1}, "scheduler": {}, "epoch": 1,
                  "train_time_s": 1.0}
    torch.save(checkpoint, run / "last.ckpt")


def test_every_job_is_a_valid_recipe(grid) -> None:
    for job in grid.JOBS:
        assert grid._recipe(job, "cpu").threads == 1  # builds a valid TrainConfig from the job's preset


def test_every_recorded_grid_run_is_its_job_recipe(grid) -> None:
    """The job table still describes the runs recorded in benchmarks/results/train_grid.json."""
    from mobilenet_mnist.training.config import RUNTIME_FIELDS

    record = json.loads((SCRIPT.parents[1] / "benchmarks" / "results" / "train_grid.json").read_text())
    grid_rounds = {name: jobs for name, jobs in record["rounds"].items() if name != "cpu"}
    assert grid_rounds
    for jobs in grid_rounds.values():
        for job, run in jobs.items():
            cfg = grid._recipe(job, "cuda").to_dict()
            differ = {k: (v, cfg[k]) for k, v in run["recipe"].items()
                      if k not in RUNTIME_FIELDS | {"epochs"} and cfg[k] != v}  # the grid picks the epochs
            assert not differ, f"job {job} no longer describes its recorded run: {differ}"


def test_winner_of_each_group_has_the_best_mean_validation_accuracy(grid, tmp_path: Path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "out"
    _fake_run(runs, "m100_wd5", {"32": 99.5, "28": 99.3})  # mean 99.4
    _fake_run(runs, "m100_wd1", {"32": 99.4, "28": 99.5})  # mean 99.45: wins
    _fake_run(runs, "m025_wd5", {"32": 99.0})
    (runs / "m025_wd1").mkdir()  # killed before it finished: no final.json
    for job in ("m100_wd5", "m100_wd1", "m025_wd5"):
        grid._strip_checkpoint(runs / job)
    summary = grid._pack(["m100_wd5", "m100_wd1", "m025_wd5", "m025_wd1"], runs, out)
    assert summary["winners"] == {"mnist_100": "m100_wd1", "mnist_025": "m025_wd5"}
    assert summary["scores"]["m025_wd1"] is None
    assert sorted(p.name for p in out.iterdir()) == ["logs.tar.gz", "mnist_025.tar", "mnist_100.tar"]
    with tarfile.open(out / "mnist_100.tar") as tar:
        names = ("final.json", "last.ckpt", "lease.json", "metrics.jsonl")
        assert sorted(tar.getnames()) == [f"m100_wd1/{n}" for n in names]
        tar.extractall(tmp_path / "back", filter="data")
    checkpoint = torch.load(tmp_path / "back" / "m100_wd1" / "last.ckpt", weights_only=True)
    assert "optimizer" not in checkpoint and checkpoint["epoch"] == 1


def test_peers_barrier_waits_for_every_job_then_lets_all_go(grid, tmp_path: Path) -> None:
    import time

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    began = time.perf_counter()
    grid._wait_for_peers(tmp_path / "a", n_jobs=2, timeout_s=1.0)  # b never warms up: bounded wait
    assert time.perf_counter() - began >= 1.0
    began = time.perf_counter()
    grid._wait_for_peers(tmp_path / "b", n_jobs=2, timeout_s=30.0)  # a is already warm
    assert time.perf_counter() - began < 5.0
    assert (tmp_path / "a" / ".warm").exists() and (tmp_path / "b" / ".warm").exists()
