"""The cost of ``predict`` on hard digits, side by side with the library at another git revision.

Usage (from the repository root)::

    python benchmarks/cost_vs_ref.py --data-dir ../shared/data/mnist            # against 22c4daf
    python benchmarks/cost_vs_ref.py --ref v0.2.0 --pairs 5 --per-setting 30

Issue 26 allows the hard-input steps (printed lines, faint ink, local lighting, neighbours,
the input quality and the turned copies) at most twice the cost per image of the code
before them, ``22c4daf``. This script checks that out into a temporary git worktree and
times the same ``predict(images, model="mobilenet_v1_100.mnist")`` call (one thread, the
best of ``--rounds`` calls) with that library and with this working tree, in separate
processes, alternating ``--pairs`` times: the machine's speed drifts over minutes, so only
times taken side by side compare. Each pair's ratio, and their median, go to
``benchmarks/results/cost_vs_ref.md`` (and ``.json``).

The images are the hard set's (:mod:`benchmarks.hard_digits`, ``--per-setting`` of each
setting), drawn once by this working tree's generator, so both sides see the same pixels.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.checkpoint_options import REPO_ROOT
from benchmarks.hard_digits import hard_digits
from benchmarks.hard_set import DEFAULT_MNIST, as_input, command_line, git_state
from benchmarks.measure import load_average
from mobilenet_mnist.deploy.measure import machine_info
from mobilenet_mnist.utils.files import atomic_write_bytes

logger = logging.getLogger("cost_vs_ref")

#: The code before the hard-input steps (issue 26's "today").
DEFAULT_REF = "22c4daf"
#: The checkpoint both sides load (shipped in the package, at both revisions).
MODEL = "mobilenet_v1_100.mnist"

# Run in a fresh interpreter whose sys.path starts with the tree to time: argv = tree, images, rounds.
_TIMER = """
import pickle, sys, time
sys.path.insert(0, sys.argv[1])
import torch
import mobilenet_mnist
from mobilenet_mnist import predict
if not mobilenet_mnist.__file__.startswith(sys.argv[1]):
    raise SystemExit(f"imported {mobilenet_mnist.__file__}, not the tree {sys.argv[1]}")
torch.set_num_threads(1)
with open(sys.argv[2], "rb") as f:
    images = pickle.load(f)  # as a user passes them: gray arrays, RGB PIL images
predict(images[:4], model=MODEL)  # load, export, build before timing
best = float("inf")
for _ in range(int(sys.argv[3])):
    start = time.perf_counter()
    predict(images, model=MODEL)
    best = min(best, time.perf_counter() - start)
print(1000 * best / len(images))
""".replace("MODEL", repr(MODEL))


def _time(tree: Path, images_file: Path, rounds: int) -> float:
    """ms per image of one ``predict`` call over the images, with the library in ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", _TIMER, str(tree), str(images_file), str(rounds)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"timing the library in {tree} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def _worktree(ref: str, folder: Path) -> None:
    """Check ``ref`` out into ``folder`` (a detached git worktree)."""
    subprocess.run(
        ["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", "--force", str(folder), ref],
        check=True, capture_output=True, text=True,
    )  # fmt: skip


def _markdown(result: dict) -> str:
    lines = [
        f"# `predict` on hard digits: this code against `{result['ref']}`",
        "",
        f"{result['images']} hard-set images ({result['per_setting']} per setting, split `{result['split']}`), "
        f"`predict(images, model=\"{MODEL}\")`, one thread, best of {result['rounds']} calls; "
        "the two libraries timed in turn, in separate processes.",
        "",
        f"| pair | `{result['ref']}` ms/img | this code ms/img | ratio |",
        "|---:|---:|---:|---:|",
    ]
    for i, (ref_ms, ours_ms) in enumerate(zip(result["ref_ms"], result["ours_ms"], strict=True), 1):
        lines.append(f"| {i} | {ref_ms:.2f} | {ours_ms:.2f} | {ours_ms / ref_ms:.2f}× |")
    ratios = result["ratios"]
    lines += [
        "",
        f"Median ratio {statistics.median(ratios):.2f}× (range {min(ratios):.2f}–{max(ratios):.2f}×); "
        f"best times {min(result['ref_ms']):.2f} and {min(result['ours_ms']):.2f} ms/img.",
        "",
        f"Machine: {result['machine']}. Code: {result['code']}. Load average at start {result['load_start']}, "
        f"end {result['load_end']}.",
        "",
        f"Reproduce: `{result['command']}`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_MNIST, help="folder with the MNIST IDX files")
    parser.add_argument("--ref", default=DEFAULT_REF, help=f"git revision to compare with ({DEFAULT_REF})")
    parser.add_argument("--split", choices=("dev", "test"), default="test")
    parser.add_argument("--per-setting", type=int, default=60, help="images per setting (60)")
    parser.add_argument("--pairs", type=int, default=3, help="timings of each side, taken in turn (3)")
    parser.add_argument("--rounds", type=int, default=3, help="predict calls per timing; the best counts (3)")
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    parser.add_argument("--name", default="cost_vs_ref", help="file stem of the results (cost_vs_ref)")
    args = parser.parse_args(argv)
    if args.pairs < 1 or args.rounds < 1:
        parser.error("--pairs and --rounds must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    load_start = load_average()
    sets = hard_digits(args.data_dir, args.split, args.per_setting)
    images = [as_input(image) for setting_images, _ in sets.values() for image in setting_images]
    ref_ms, ours_ms = [], []
    with tempfile.TemporaryDirectory(prefix="cost_vs_ref_") as tmp:
        images_file, ref_tree = Path(tmp) / "images.pkl", Path(tmp) / "ref"
        images_file.write_bytes(pickle.dumps(images))
        _worktree(args.ref, ref_tree)
        try:
            for pair in range(1, args.pairs + 1):
                ref_ms.append(_time(ref_tree, images_file, args.rounds))
                ours_ms.append(_time(REPO_ROOT, images_file, args.rounds))
                logger.info("pair %d: %s %.2f ms/img, this code %.2f ms/img", pair, args.ref, ref_ms[-1], ours_ms[-1])
        finally:
            subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force", str(ref_tree)], check=False)
    result = {
        "ref": args.ref, "split": args.split, "per_setting": args.per_setting, "images": len(images),
        "rounds": args.rounds, "ref_ms": ref_ms, "ours_ms": ours_ms,
        "ratios": [ours / ref for ref, ours in zip(ref_ms, ours_ms, strict=True)],
        "machine": "{cpu} ({logical_cores} logical cores, {cpu_capability})".format(**machine_info()),
        "code": git_state() or "not a git checkout",
        "load_start": load_start, "load_end": load_average(),
        "command": command_line(argv, "benchmarks/cost_vs_ref.py"),
    }  # fmt: skip
    args.output_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.output_dir / f"{args.name}.json", (json.dumps(result, indent=1) + "\n").encode())
    atomic_write_bytes(args.output_dir / f"{args.name}.md", _markdown(result).encode())
    logger.info("median ratio %.2fx", statistics.median(result["ratios"]))
    return result


if __name__ == "__main__":
    main()
