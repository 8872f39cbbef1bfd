"""Train several recipes side by side on one GPU within a fixed wall-clock budget.

This is how the published checkpoints of release 0.2.0 were trained: on a GPU lent for
a few minutes, every candidate recipe runs at once (one process each), each process
first times its own training step under that load, then picks the largest number of
epochs (up to the recipe's cap) that ends before the deadline, and trains with
:func:`mobilenet_mnist.train`. Afterwards the best candidate of each group is chosen on
the held-out *validation* split (never the test set) and packed for the trip back.

The winning recipes are the ``mnist_*`` and ``fashion_*`` presets, epochs included, so
``mobilenet-mnist train --preset NAME --device cuda`` reproduces a checkpoint without
this script.

Usage::

    python scripts/train_grid.py --data-root DATA --out OUT --budget 420
    python scripts/train_grid.py --jobs m025_wd5 --device cpu --budget 60 --cal-steps 5  # a smoke test

``DATA`` holds one folder per dataset (``DATA/mnist``, ``DATA/fashion_mnist``) with the
IDX training files.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

# Candidate recipes: (group, preset, overrides, max epochs). Batch 256 halves the number
# of kernel launches per epoch, which is what bounds a small model on a GPU.
_LONG = {"batch_size": 256, "lr": 0.2, "warmup_epochs": 1.0}
# The Fashion jobs are the 48-epoch-style recipes of round 1: no SWA epochs (the preset's came later).
_FASHION = {
    **_LONG, "swa_epochs": 0, "swa_lr": 0.0,
    "augment": {"rotate_deg": 0.0, "scale": 0.1, "translate": 0.1, "hflip": 0.5, "erase": 0.5},
}
JOBS: dict[str, tuple[str, str, dict[str, Any], int]] = {
    "m100_wd5": ("mnist_100", "mnist_100", {**_LONG, "weight_decay": 5e-4}, 60),
    "m100_wd1": ("mnist_100", "mnist_100", {**_LONG, "weight_decay": 1e-4}, 60),
    "m075_wd5": ("mnist_075", "mnist_075", {**_LONG, "weight_decay": 5e-4}, 60),
    "m075_wd1": ("mnist_075", "mnist_075", {**_LONG, "weight_decay": 1e-4}, 60),
    "m050_wd5": ("mnist_050", "mnist_050", {**_LONG, "weight_decay": 5e-4}, 60),
    "m050_wd1": ("mnist_050", "mnist_050", {**_LONG, "weight_decay": 1e-4}, 60),
    "m025_wd5": ("mnist_025", "mnist_025", {**_LONG, "weight_decay": 5e-4}, 80),
    "m025_wd1": ("mnist_025", "mnist_025", {**_LONG, "weight_decay": 1e-4}, 80),
    "f100_ft": ("fashion_100", "fashion_100", {**_FASHION, "init_from": "mobilenet_v1_100.mnist"}, 100),
    "f100_scratch": ("fashion_100", "fashion_100", {**_FASHION, "init_from": None}, 100),
    "f100_48": (
        "fashion_100_48",
        "fashion_100",
        {**_FASHION, "init_from": "mobilenet_v1_100.mnist", "train_sizes": (40, 48), "eval_sizes": (48, 40, 32)},
        100,
    ),
    # Round 2: the same recipes with room for more epochs, four processes instead of eleven.
    "m100_wd5_long": ("mnist_100", "mnist_100", {**_LONG, "weight_decay": 5e-4}, 80),
    "m075_wd5_long": ("mnist_075", "mnist_075", {**_LONG, "weight_decay": 5e-4}, 80),
    "f100_48_long": (
        "fashion_100_48",
        "fashion_100",
        {**_FASHION, "init_from": "mobilenet_v1_100.mnist", "train_sizes": (40, 48), "eval_sizes": (48, 40, 32)},
        120,
    ),
    "f100_48_d1": (
        "fashion_100_48",
        "fashion_100",
        {
            **_FASHION, "init_from": "mobilenet_v1_100.mnist", "train_sizes": (40, 48), "eval_sizes": (48, 40, 32),
            "dropout": 0.1,
        },
        120,
    ),
}
FINAL_MARGIN_S = 15.0  # reloading the data and saving the final weights
SAFETY = 0.9  # keep a tenth of the remaining time for estimation error
logger = logging.getLogger("train_grid")


# --------------------------------------------------------------------------- one job
def _recipe(job: str, device: str) -> Any:
    from mobilenet_mnist.training import get_preset

    _, preset, overrides, _ = JOBS[job]
    return get_preset(preset, **overrides, device=device, threads=1)


def _wait_for_peers(run: Path, n_jobs: int, timeout_s: float = 90.0) -> None:
    """Mark this job warmed up, then wait (bounded) until every job is, so that the timed
    steps run under the load of all the others training, as the real epochs will."""
    (run / ".warm").touch()
    give_up = time.time() + timeout_s
    while len(list(run.parent.glob("*/.warm"))) < n_jobs and time.time() < give_up:
        time.sleep(0.5)


def _time_epoch(cfg: Any, data_dir: Path, cal_steps: int, run: Path, n_jobs: int) -> dict[str, float]:
    """Seconds per full epoch (training + validation, + 0.5 s for the checkpoint), timed
    once every job is warm."""
    from benchmarks.epoch_time import time_recipe_epoch  # the repository root is on sys.path (see the end)
    from mobilenet_mnist.data.datasets import load_dataset, train_val_split

    full = load_dataset(cfg.dataset, "train", data_dir)
    train_idx, val_idx = train_val_split(len(full), cfg.val_size, seed=0)
    timing = time_recipe_epoch(
        cfg, full.subset(train_idx), full.subset(val_idx), cal_steps, before_timing=lambda: _wait_for_peers(run, n_jobs)
    )
    return {**timing, "epoch_s": timing["epoch_s"] + 0.5}


def run_worker(
    job: str, data_root: Path, out: Path, deadline: float, cal_steps: int, device: str, n_jobs: int
) -> None:
    import torch

    from mobilenet_mnist.training import train

    torch.backends.cudnn.benchmark = True
    cfg = _recipe(job, device)
    data_dir = data_root / cfg.dataset
    (out / job).mkdir(parents=True, exist_ok=True)
    timing = _time_epoch(cfg, data_dir, cal_steps, out / job, n_jobs)
    remaining = deadline - time.time() - FINAL_MARGIN_S
    max_epochs = JOBS[job][3]
    epochs = min(max_epochs, int(SAFETY * remaining / timing["epoch_s"]))
    info = {"job": job, "group": JOBS[job][0], **timing, "remaining_s": remaining, "epochs": epochs}
    info["hardware"] = torch.cuda.get_device_name() if cfg.device.startswith("cuda") else "cpu"
    logger.info("%s", json.dumps(info))
    (out / job / "lease.json").write_text(json.dumps(info, indent=2))
    if epochs < 1:
        logger.info("%s: no time for one epoch; skipped", job)
        return
    began = time.time()
    train(dataclasses.replace(cfg, epochs=epochs), data_dir, out / job)
    info["wall_s"] = time.time() - began
    (out / job / "lease.json").write_text(json.dumps(info, indent=2))
    _strip_checkpoint(out / job)


def _strip_checkpoint(run: Path) -> None:
    """``publish.ckpt``: the last checkpoint without optimizer state (half the size), which
    ``mobilenet-mnist publish`` reads as a run's ``last.ckpt``."""
    from mobilenet_mnist.training.state import CHECKPOINT_NAME, read_checkpoint, write_checkpoint

    checkpoint = read_checkpoint(run / CHECKPOINT_NAME)
    for key in ("optimizer", "scheduler"):
        checkpoint.pop(key, None)
    write_checkpoint(checkpoint, run / "publish.ckpt")


# --------------------------------------------------------------------------- the launcher
def _launch(jobs: list[str], args: argparse.Namespace, deadline: float) -> dict[str, subprocess.Popen]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    procs = {}
    for stale in args.runs.glob("*/.warm"):  # from an earlier launch into the same folder
        stale.unlink()
    for job in jobs:
        (args.runs / job).mkdir(parents=True, exist_ok=True)
        log = open(args.runs / job / "worker.log", "w")  # noqa: SIM115 (closed with the process)
        command = [
            sys.executable, __file__, "--worker", job, "--deadline", str(deadline), "--data-root",
            str(args.data_root), "--runs", str(args.runs), "--cal-steps", str(args.cal_steps),
            "--device", args.device, "--n-jobs", str(len(jobs)),
        ]  # fmt: skip
        procs[job] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    return procs


def _last_row(run: Path) -> dict[str, Any]:
    metrics = run / "metrics.jsonl"
    if not metrics.exists():
        return {}
    rows = metrics.read_text().splitlines()
    return json.loads(rows[-1]) if rows else {}


def _wait(procs: dict[str, subprocess.Popen], runs: Path, hard_deadline: float) -> None:
    last_report = 0.0
    while any(p.poll() is None for p in procs.values()):
        if time.time() > hard_deadline:
            for job, p in procs.items():
                if p.poll() is None:
                    logger.info("%s: past the deadline, killed", job)
                    p.kill()
            break
        if time.time() - last_report > 60:
            last_report = time.time()
            status = {job: _short(_last_row(runs / job), p.poll()) for job, p in procs.items()}
            logger.info("status %s", json.dumps(status))
        time.sleep(2)


def _short(row: dict[str, Any], returncode: int | None) -> str:
    state = "run" if returncode is None else f"rc={returncode}"
    if not row:
        return state
    vals = "/".join(f"{v:.2f}" for k, v in row.items() if k.startswith("val_acc"))
    return f"{state} ep{row['epoch']} {vals}"


def _score(run: Path) -> float | None:
    """Mean validation accuracy over the evaluated sizes of a finished run."""
    final = run / "final.json"
    if not final.exists():
        return None
    last = json.loads(final.read_text())["history"][-1]
    vals = [v for k, v in last.items() if k.startswith("val_acc")]
    return sum(vals) / len(vals)


def _pack(jobs: list[str], runs: Path, out: Path) -> dict[str, Any]:
    scores = {job: _score(runs / job) for job in jobs}
    winners: dict[str, str] = {}
    for job in jobs:
        group = JOBS[job][0]
        if scores[job] is not None and (group not in winners or scores[job] > scores[winners[group]]):
            winners[group] = job
    out.mkdir(parents=True, exist_ok=True)
    for group, job in winners.items():
        with tarfile.open(out / f"{group}.tar", "w") as tar:
            tar.add(runs / job / "publish.ckpt", arcname=f"{job}/last.ckpt")
            for name in ("final.json", "metrics.jsonl", "lease.json"):
                tar.add(runs / job / name, arcname=f"{job}/{name}")
    with tarfile.open(out / "logs.tar.gz", "w:gz") as tar:
        for job in jobs:
            for name in ("final.json", "metrics.jsonl", "lease.json", "worker.log"):
                if (runs / job / name).exists():
                    tar.add(runs / job / name, arcname=f"{job}/{name}")
    return {"scores": scores, "winners": winners}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="all", help="comma-separated job names, or 'all'")
    parser.add_argument("--data-root", type=Path, default=Path(".devdata"))
    parser.add_argument("--runs", type=Path, default=Path("/tmp/grid"), help="run folders")
    parser.add_argument("--out", type=Path, default=Path("grid_out"), help="winners and logs")
    parser.add_argument("--budget", type=float, default=420, help="seconds until every run must end")
    parser.add_argument("--cal-steps", type=int, default=60, help="training steps timed per job")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--n-jobs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    if args.worker:
        run_worker(args.worker, args.data_root, args.runs, args.deadline, args.cal_steps, args.device, args.n_jobs)
        return 0
    jobs = list(JOBS) if args.jobs == "all" else args.jobs.split(",")
    unknown = sorted(set(jobs) - set(JOBS))
    if unknown:
        parser.error(f"unknown jobs {unknown}; choose from {sorted(JOBS)}")
    deadline = time.time() + args.budget
    procs = _launch(jobs, args, deadline)
    _wait(procs, args.runs, deadline + 20)
    summary = _pack(jobs, args.runs, args.out)
    logger.info("summary %s", json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
