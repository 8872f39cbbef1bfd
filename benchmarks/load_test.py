"""The library under load: one ``Predictor`` called from many threads, the demo served to many users.

Usage (from the repository root):

    python benchmarks/load_test.py            # 1 and 8 threads × 1,000 calls per backend, 8 users × 50 requests
    python benchmarks/load_test.py --quick    # a minute or two: checks that everything runs (nothing written)
    python benchmarks/load_test.py --backends torch --threads 8 --users 8 --concurrency 1 2 4 8

Threads: one :class:`~mobilenet_mnist.deploy.Predictor` (the shipped ``mobilenet_v1_100.mnist``,
digit preparation on) per backend and row is shared by ``--threads`` threads (1: the baseline),
each making ``--calls`` calls on real MNIST test digits in batches of 1, 2, 4, 8 and 16 images
and lists of 3 images of different sizes, so the torch backend's per-shape oneDNN graphs and
ONNX Runtime's one session and its per-thread slices are all in use at once. Every answer
(label, probabilities, score, flags, the 28×28 view) must be exactly what one thread got for the
same batch. Reported: calls/s, images/s, p50/p95 latency per call, and the process's resident
memory (RSS) after the reference pass, after a warm-up (``--warmup`` calls per thread) and at the end.

Demo: ``mobilenet-mnist demo`` (its defaults: 127.0.0.1, ``--concurrency 4``) runs in a
subprocess; ``--users`` users, each with its own ``gradio_client.Client`` (a browser session),
post ``--requests`` digits each, one after another, all users at once. A digit is an MNIST test
digit drawn as the Sketchpad sends it (black ink on a transparent 280×280 layer, a white
background and their composite: ``/recognize_drawing``) or, every other request, as a photo of
dark ink on light paper (``/recognize_photo``). Only digits that the same code recognizes
correctly in this process are posted (how many were left out is reported), so every answer must
name the digit's label. Reported: p50/p95 latency per request as the user sees it (upload,
queue, answer), requests served, dropped (an error, a refusal or no answer within
``--timeout``) and wrong, and the server's RSS before and after.

Results: a table on stdout and ``benchmarks/results/load.json`` (with the CPU, core count,
library versions and the load average, since other work on the machine slows every figure).
``tests/test_load.py`` runs the same functions as tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))  # demo_browser: runs the demo command as a subprocess

from mobilenet_mnist.data.datasets import load_dataset  # noqa: E402
from mobilenet_mnist.deploy.measure import machine_info  # noqa: E402
from mobilenet_mnist.utils.files import atomic_write_bytes  # noqa: E402

DEFAULT_MODEL = "mobilenet_v1_100.mnist"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "load.json"
MNIST_DIR = REPO_ROOT.parent / "shared" / "data" / "mnist"
#: Tensor batch sizes; a list of images of different sizes is the other kind of call.
BATCH_SIZES = (1, 2, 4, 8, 16)
#: Sides of the images in a list call (MNIST digits resized): digit preparation takes any size.
LIST_SIDES = (28, 40, 56)
#: Side of the demo's drawing canvas (``demo.app.CANVAS_SIDE``).
CANVAS = 280
#: ``mobilenet-mnist demo``'s own ``--concurrency``.
DEMO_CONCURRENCY = 4


# ----------------------------------------------------------------------- inputs
def mnist_test_digits(mnist_dir: str | Path, count: int) -> tuple[torch.Tensor, list[int]]:
    """The first ``count`` MNIST test digits (uint8, N × 28 × 28) and their labels."""
    test = load_dataset("mnist", "test", mnist_dir)
    return test.images[:count], test.labels[:count].tolist()


def digit_batches(images: torch.Tensor, count: int = 36) -> list[Any]:
    """``count`` calls' worth of consecutive digits: tensor batches of :data:`BATCH_SIZES`, and lists.

    Every sixth call is a list of ``len(LIST_SIDES)`` PIL images of different sizes, the rest
    uint8 tensors (N, 28, 28); the batches cycle through the sizes.
    """
    sizes = [len(LIST_SIDES) if index % 6 == 5 else BATCH_SIZES[index % 6] for index in range(count)]
    if sum(sizes) > len(images):
        raise ValueError(f"digit_batches needs {sum(sizes)} images for {count} calls, got {len(images)}.")
    batches: list[Any] = []
    start = 0
    for index, size in enumerate(sizes):
        digits = images[start : start + size]
        if index % 6 == 5:
            digits = [Image.fromarray(d.numpy()).resize((s, s)) for d, s in zip(digits, LIST_SIDES, strict=True)]
        batches.append(digits)
        start += size
    return batches


# ----------------------------------------------------------------------- measuring
def rss_mib(pid: int | str = "self") -> float | None:
    """Resident memory of a process in MiB (``VmRSS``), or None where ``/proc`` has none (not Linux)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95 and maximum of ``seconds``, in milliseconds."""
    if not seconds:
        return {"p50": float("nan"), "p95": float("nan"), "max": float("nan")}
    cuts = statistics.quantiles(seconds, n=20, method="inclusive")  # 5 % steps: cuts[9] = p50, cuts[18] = p95
    return {"p50": 1e3 * cuts[9], "p95": 1e3 * cuts[18], "max": 1e3 * max(seconds)}


def answers(predictions: Sequence[Any]) -> tuple:
    """Everything a prediction says, comparable exactly (floats bit for bit, the 28×28 view as bytes)."""
    return tuple(
        (p.label, p.probability, p.top_k, p.is_digit, p.score, p.blank, p.image.numpy().tobytes())
        for p in predictions
    )


# ----------------------------------------------------------------------- threads
def thread_load(predictor: Callable[[Any], Sequence[Any]], batches: Sequence[Any], *, threads: int, calls: int,
                warmup: int) -> dict[str, Any]:  # fmt: skip
    """Call ``predictor`` from ``threads`` threads at once; compare every answer with one thread's.

    Thread ``k``'s ``i``-th call takes batch ``(7 i + k) mod len(batches)``, so at any moment
    the threads run different batch sizes. Each thread first makes ``warmup`` calls (not
    timed); the RSS is read when all have finished them, then every thread makes ``calls``
    timed calls. It is read again once half the timed calls are done: a leak grows in both
    halves alike, a memory pool (ONNX Runtime's arena) settling under load mostly in one.

    Returns:
        A dict: ``threads``, ``calls`` (timed, all threads), ``images``, ``mismatches`` (answers
        that differ from the single-threaded reference, warm-up included), ``errors``,
        ``seconds``, ``calls_per_s``, ``images_per_s``, ``latency_ms`` (p50, p95, max per call)
        and ``rss_mib`` (``reference``, ``warm``, ``half``, ``peak``, ``end``; None off Linux).
    """
    reference = [answers(predictor(batch)) for batch in batches]
    rss = {"reference": rss_mib()}
    warm = threading.Barrier(threads + 1)
    go = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(threads)]
    mismatches = [0] * threads
    done = [0] * threads  # timed calls finished, per thread (each thread writes its own)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(warmup + calls):
                if i == warmup:
                    warm.wait()
                    go.wait()
                j = (7 * i + k) % len(batches)
                started = time.perf_counter()
                got = answers(predictor(batches[j]))
                if i >= warmup:
                    latencies[k].append(time.perf_counter() - started)
                    done[k] += 1
                mismatches[k] += got != reference[j]
        except BaseException as error:  # handed to the caller, who raises it
            errors.append(error)
            warm.abort()

    workers = [threading.Thread(target=work, args=(k,), name=f"load-{k}") for k in range(threads)]
    for worker in workers:
        worker.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a thread failed: reported below
        warm.wait()
    rss["warm"] = rss_mib()
    started = time.perf_counter()
    go.set()
    rss["peak"], rss["half"] = _sample_peak_rss(workers, rss["warm"], lambda: 2 * sum(done) >= threads * calls)
    seconds = time.perf_counter() - started
    rss["end"] = rss_mib()
    if errors:
        raise RuntimeError(f"a load thread failed: {errors[0]!r}") from errors[0]
    timed = [s for per_thread in latencies for s in per_thread]
    images = sum(len(batches[(7 * i + k) % len(batches)]) for k in range(threads)
                 for i in range(warmup, warmup + calls))  # fmt: skip
    return {
        "threads": threads, "calls": len(timed), "images": images, "mismatches": sum(mismatches),
        "seconds": seconds, "calls_per_s": len(timed) / seconds, "images_per_s": images / seconds,
        "latency_ms": latency_ms(timed), "rss_mib": rss,
    }  # fmt: skip


def _sample_peak_rss(
    workers: Sequence[threading.Thread], start: float | None, halfway: Callable[[], bool]
) -> tuple[float | None, float | None]:
    """Wait for ``workers`` to finish, reading the RSS every 0.2 s.

    Returns:
        The highest reading, and the first one taken once ``halfway()`` is true (the last
        reading when the workers finish before a reading sees it).
    """
    peak = start
    half: float | None = None
    while any(worker.is_alive() for worker in workers):
        workers[0].join(0.2)
        now = rss_mib()
        peak = None if now is None or peak is None else max(peak, now)
        if half is None and halfway():
            half = now
    for worker in workers:
        worker.join()
    return peak, rss_mib() if half is None else half


def predictor_load(backend: str, mnist_dir: str | Path, *, threads: int, calls: int, warmup: int,
                   model: str = DEFAULT_MODEL) -> dict[str, Any]:  # fmt: skip
    """:func:`thread_load` for a fresh ``Predictor(model, backend=backend)`` on MNIST test digits."""
    from mobilenet_mnist.deploy import Predictor

    images, _ = mnist_test_digits(mnist_dir, 300)
    started = time.perf_counter()
    predictor = Predictor(model, backend=backend)
    built = time.perf_counter() - started
    result = thread_load(predictor, digit_batches(images), threads=threads, calls=calls, warmup=warmup)
    return {"backend": predictor.backend, "model": model, "build_s": built, "warmup_per_thread": warmup, **result}


# ----------------------------------------------------------------------- demo: what users post
def drawn(digit: np.ndarray) -> Image.Image:
    """An MNIST digit as a Sketchpad layer: black ink on a transparent 280×280 canvas, the ink in alpha."""
    ink = Image.fromarray(digit).resize((CANVAS, CANVAS), Image.Resampling.BILINEAR)
    layer = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    layer.putalpha(ink)
    return layer


def photographed(digit: np.ndarray) -> Image.Image:
    """An MNIST digit as a photo: dark ink on light gray paper, 140×140 RGB."""
    ink = np.asarray(Image.fromarray(digit).resize((140, 140), Image.Resampling.BILINEAR), dtype=np.float64)
    paper = np.clip(225 - 0.75 * ink, 0, 255).astype(np.uint8)
    return Image.fromarray(paper).convert("RGB")


def demo_requests(images: torch.Tensor, labels: Sequence[int], folder: Path) -> tuple[list[dict[str, Any]], int]:
    """The requests users post (files written to ``folder``), and how many digits were left out.

    Request ``i`` is a drawing when ``i`` is even, else a photo. A digit is left out when the
    demo's own code (:func:`~mobilenet_mnist.demo.recognize`, in this process) does not name
    its label: the model's mistakes are not what this measures.
    """
    from mobilenet_mnist.demo import CheckpointCache, recognize, to_pil

    cache = CheckpointCache([DEFAULT_MODEL])
    white = Image.new("RGB", (CANVAS, CANVAS), "white")
    background = folder / "background.png"
    white.save(background)
    kept, left_out = [], 0
    for index, (digit, label) in enumerate(zip(images.numpy(), labels, strict=True)):
        sketch = index % 2 == 0
        if sketch:
            layer = drawn(digit)
            picture = Image.alpha_composite(white.convert("RGBA"), layer).convert("RGB")
            files = {"layer": folder / f"{index}-layer.png", "composite": folder / f"{index}-composite.png"}
            layer.save(files["layer"])
            picture.save(files["composite"])
            files["background"] = background
        else:
            picture = photographed(digit)
            files = {"photo": folder / f"{index}-photo.png"}
            picture.save(files["photo"])
        answer = recognize(cache, DEFAULT_MODEL, to_pil(picture, sketch=sketch), sketch=sketch)
        if not answer.top or max(answer.top, key=answer.top.__getitem__) != str(label):
            left_out += 1
            continue
        kept.append({"label": str(label), "sketch": sketch, "files": files})
    return kept, left_out


def _post(client: Any, request: dict[str, Any], timeout: float) -> str:
    """Post one request the way the page does; the top class of the answer."""
    from gradio_client import handle_file

    files = request["files"]
    if request["sketch"]:
        value = {
            "background": handle_file(str(files["background"])), "layers": [handle_file(str(files["layer"]))],
            "composite": handle_file(str(files["composite"])), "id": None,
        }  # fmt: skip
        job = client.submit(value, DEFAULT_MODEL, api_name="/recognize_drawing")
    else:
        job = client.submit(handle_file(str(files["photo"])), DEFAULT_MODEL, api_name="/recognize_photo")
    _, top, _ = job.result(timeout=timeout)
    return str(top["label"])


# ----------------------------------------------------------------------- demo: users at once
def users_load(url: str, requests: Sequence[dict[str, Any]], *, users: int, per_user: int,
               timeout: float = 60.0) -> dict[str, Any]:  # fmt: skip
    """``users`` clients posting ``per_user`` requests each, one after another, all at once.

    User ``u`` posts requests ``u, u + users, u + 2 users, ...`` (cycling), so users post
    different digits at the same moment and an answer sent to the wrong user shows up as wrong.

    Returns:
        A dict: ``users``, ``requests`` (posted), ``served`` (answered), ``dropped`` (errors,
        refusals, timeouts), ``wrong`` (answered with another label), ``seconds``,
        ``requests_per_s``, ``latency_ms`` (p50, p95, max per answered request) and ``failures``
        (the first few errors, as text).
    """
    import huggingface_hub.constants
    from gradio_client import Client

    huggingface_hub.constants.HF_HUB_OFFLINE = True  # the client's telemetry and agent lookups
    clients = [Client(url, verbose=False) for _ in range(users)]
    ready = threading.Barrier(users)
    latencies: list[float] = []
    outcome = {"served": 0, "dropped": 0, "wrong": 0}
    failures: list[str] = []
    lock = threading.Lock()

    def user(u: int) -> None:
        ready.wait()
        for r in range(per_user):
            request = requests[(u + r * users) % len(requests)]
            started = time.perf_counter()
            try:
                label = _post(clients[u], request, timeout)
            except Exception as error:  # any failure is a dropped request, counted and kept as text
                with lock:
                    outcome["dropped"] += 1
                    failures.append(f"user {u}, request {r}: {type(error).__name__}: {error}")
                continue
            with lock:
                latencies.append(time.perf_counter() - started)
                outcome["served"] += 1
                outcome["wrong"] += label != request["label"]

    workers = [threading.Thread(target=user, args=(u,), name=f"user-{u}") for u in range(users)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    for client in clients:
        client.close()
    return {
        "users": users, "requests": users * per_user, **outcome, "seconds": seconds,
        "requests_per_s": outcome["served"] / seconds, "latency_ms": latency_ms(latencies), "failures": failures[:5],
    }  # fmt: skip


def demo_load(mnist_dir: str | Path, *, users: int, per_user: int, concurrency: int | None = None,
              digits: int = 200, timeout: float = 60.0) -> dict[str, Any]:  # fmt: skip
    """:func:`users_load` against ``mobilenet-mnist demo`` run as a subprocess, with its RSS."""
    from demo_browser import demo_server, free_port

    images, labels = mnist_test_digits(mnist_dir, digits)
    args = [] if concurrency is None else ["--concurrency", str(concurrency)]
    with tempfile.TemporaryDirectory() as folder:
        requests, left_out = demo_requests(images, labels, Path(folder))
        with demo_server(free_port(), *args) as server:
            pid = server.process.pid
            before = rss_mib(pid)
            result = users_load(server.url, requests, users=users, per_user=per_user, timeout=timeout)
            after = rss_mib(pid)
    return {
        "concurrency": concurrency or DEMO_CONCURRENCY, "digits": digits, "left_out": left_out, **result,
        "server_rss_mib": {"before": before, "end": after},
    }  # fmt: skip


# ----------------------------------------------------------------------- report
def _ms(value: float) -> str:
    return f"{value:.1f}"


def _rss(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def to_table(result: dict[str, Any]) -> str:
    """The results as two Markdown tables."""
    lines = [
        "| backend | threads × calls | calls/s | images/s | p50 ms | p95 ms | RSS MiB: reference → warm → end (peak) | "
        "answers differing |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result["threads"]:
        rss = row["rss_mib"]
        lines.append(
            f"| {row['backend']} | {row['threads']} × {row['calls'] // row['threads']} | {row['calls_per_s']:.0f} | "
            f"{row['images_per_s']:.0f} | {_ms(row['latency_ms']['p50'])} | {_ms(row['latency_ms']['p95'])} | "
            f"{_rss(rss['reference'])} → {_rss(rss['warm'])} → {_rss(rss['end'])} ({_rss(rss['peak'])}) | "
            f"{row['mismatches']} |"
        )
    if result.get("demo"):
        lines += [
            "",
            "| demo users × requests | concurrency | requests/s | p50 ms | p95 ms | served | dropped | wrong | "
            "digits left out | server RSS MiB before → end |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
    for demo in result.get("demo", []):
        rss = demo["server_rss_mib"]
        lines.append(
            f"| {demo['users']} × {demo['requests'] // demo['users']} | {demo['concurrency']} | "
            f"{demo['requests_per_s']:.1f} | {_ms(demo['latency_ms']['p50'])} | {_ms(demo['latency_ms']['p95'])} | "
            f"{demo['served']} | {demo['dropped']} | {demo['wrong']} | {demo['left_out']} of {demo['digits']} | "
            f"{_rss(rss['before'])} → {_rss(rss['end'])} |"
        )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data-dir", default=str(MNIST_DIR), help="folder with the MNIST IDX files")
    p.add_argument("--backends", nargs="*", default=["torch", "onnxruntime"],
                   help="Predictor backends (none: demo only)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 8], help="threads sharing a Predictor, one row each")
    p.add_argument("--calls", type=int, default=1000, help="timed calls per thread")
    p.add_argument("--warmup", type=int, default=50, help="untimed calls per thread before the RSS reading")
    p.add_argument("--users", type=int, default=8, help="demo users at once (0: no demo run)")
    p.add_argument("--requests", type=int, default=50, help="requests per demo user")
    p.add_argument("--concurrency", type=int, nargs="+", default=[None],
                   help="the demo's --concurrency, one row each (default: the command's own)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a demo request may take (then it is dropped)")
    p.add_argument("--output", default=str(RESULTS), help="JSON file to write")
    p.add_argument("--quick", action="store_true", help="4 threads × 20 calls, 8 users × 3 requests; writes nothing")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurements, print the tables, write the JSON."""
    args = _parser().parse_args(argv)
    if args.quick:
        args.threads, args.calls, args.warmup, args.requests = [4], 20, 5, 3
    result: dict[str, Any] = {"machine": machine_info(), "command": " ".join(["python", *sys.argv]), "threads": []}
    for backend in args.backends:
        for threads in args.threads:
            result["threads"].append(predictor_load(backend, args.data_dir, threads=threads, calls=args.calls,
                                                    warmup=args.warmup))  # fmt: skip
    result["demo"] = [
        demo_load(args.data_dir, users=args.users, per_user=args.requests, concurrency=concurrency,
                  timeout=args.timeout)
        for concurrency in (args.concurrency if args.users else [])
    ]
    result["load_average_end"] = machine_info()["load_average"]
    print(to_table(result))
    print(f"CPU: {result['machine']['cpu']}, {result['machine']['logical_cores']} logical cores; "
          f"load average {result['machine']['load_average']} at start, {result['load_average_end']} at end")
    if not args.quick:
        atomic_write_bytes(args.output, (json.dumps(result, indent=2) + "\n").encode())
        print(f"wrote {args.output}")
    bad = [r for r in result["threads"] if r["mismatches"]] + [d for d in result["demo"] if d["dropped"] or d["wrong"]]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
