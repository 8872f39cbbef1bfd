"""Data-parallel training under torchrun with 2 CPU processes (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mobilenet_mnist.training.distributed import get_dist_context

WORKER = Path(__file__).parent / "ddp_worker.py"


def torchrun(out: Path, stop_after: int, resume: bool) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        "--rdzv_backend=c10d", "--rdzv_endpoint=localhost:0",
        str(WORKER), str(out), str(stop_after), "resume" if resume else "fresh",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def assert_replicas_equal(out: Path) -> None:
    rank0, rank1 = load_file(out / "rank0.safetensors"), load_file(out / "rank1.safetensors")
    assert rank0.keys() == rank1.keys() and rank0
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)


@pytest.mark.slow
def test_two_processes_train_identical_replicas_and_resume(tmp_path: Path) -> None:
    first = torchrun(tmp_path, stop_after=1, resume=False)
    assert first.returncode == 0, first.stderr[-3000:]
    assert_replicas_equal(tmp_path)
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["epoch"] == 1
    before = load_file(tmp_path / "rank0.safetensors")

    second = torchrun(tmp_path, stop_after=2, resume=True)
    assert second.returncode == 0, second.stderr[-3000:]
    assert_replicas_equal(tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]  # epoch 1 was resumed, not redone
    after = load_file(tmp_path / "rank0.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_incomplete_torchrun_environment_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    for name in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match=r"Distributed environment incomplete.*torchrun"):
        get_dist_context()


def test_rank_outside_world_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"WORLD_SIZE": "2", "RANK": "5", "LOCAL_RANK": "0", "MASTER_ADDR": "localhost", "MASTER_PORT": "1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match=r"RANK=5 is outside \[0, WORLD_SIZE=2\)"):
        get_dist_context()
