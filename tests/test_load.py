"""The library under load: threads sharing a ``Predictor``, users sharing the demo server.

The full runs are slow (``pytest -m slow``): 8 threads × 1,000 calls on one predictor per
backend give exactly the answers of one thread with no growth in memory after warm-up, and
the demo serves 8 users posting drawn digits at once with every answer right and none
dropped. They run the measurements of ``benchmarks/load_test.py``, which also times them.

The quick tests pin down the races found while building those runs:

* the first ``predict`` calls of a thread pool each built their own predictor (and, on
  ONNX Runtime, their own export);
* building a oneDNN graph and exporting change process-wide settings (warning filters,
  ``sys.stdout``, TorchScript's fuser switch) for a while: two threads doing it at once
  restored each other's changes, leaving every warning of the process ignored.
"""

from __future__ import annotations

import logging
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from mobilenet_mnist import mobilenet_v1
from mobilenet_mnist.deploy import optimize_for_inference
from mobilenet_mnist.deploy import predictor as predictor_module
from mobilenet_mnist.deploy.quiet import quiet_exporters

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # benchmarks/ lives in the repository, not in the package

from benchmarks.load_test import (  # noqa: E402
    answers,
    demo_load,
    digit_batches,
    mnist_test_digits,
    predictor_load,
    thread_load,
)

SMALL = REPO_ROOT / "hub" / "mobilenet_v1_025.mnist"  # the cheapest published checkpoint: quick tests
#: RSS growth allowed from the end of the warm-up to the end of 8 × 1,000 calls. Measured: +3 to
#: +11 MiB (torch), +0 to +16 MiB (ONNX Runtime, its buffers settling), once +41 MiB (ONNX
#: Runtime, a fresh-clone CI run; the same test passed on rerun). Keeping each call's
#: predictions would add about 136 MiB (45,347 images, a 3 KiB 28×28 view each, at least) ...
RSS_GROWTH_MIB = 96
#: ... and about half of it in each half of the calls: a leak grows in both halves, a memory
#: pool settling mostly in one, so the smaller half's growth must stay under this.
RSS_HALF_GROWTH_MIB = 24


@pytest.fixture(scope="module")
def images(mnist_dir: Path) -> torch.Tensor:
    return mnist_test_digits(mnist_dir, 300)[0]


# ---------------------------------------------------------------- quick


def test_the_first_predict_calls_of_a_thread_pool_build_one_predictor(images: torch.Tensor) -> None:
    batch = images[:3]
    start = threading.Barrier(8)
    got: list[Any] = [None] * 8

    def call(k: int) -> None:
        start.wait()
        got[k] = answers(predictor_module.predict(batch, str(SMALL), backend="torch"))

    predictor_module._cached_predictor.cache_clear()
    try:
        _run_threads(call, 8)
        info = predictor_module._cached_predictor.cache_info()
    finally:
        predictor_module._cached_predictor.cache_clear()
    assert (info.misses, info.hits) == (1, 7)  # without the lock: 8 misses, 8 predictors built
    assert all(answer == got[0] for answer in got) and len(got[0]) == 3


def test_exports_in_two_threads_leave_the_process_settings_as_they_were() -> None:
    """Thread B enters ``quiet_exporters`` while A is inside, and leaves after A."""
    before = _settings()
    a_inside, b_inside = threading.Event(), threading.Event()

    def a() -> None:
        with quiet_exporters():
            a_inside.set()
            b_inside.wait(0.2)  # with the lock B cannot enter until A has left: the wait times out

    def b() -> None:
        a_inside.wait(5)
        with quiet_exporters():
            b_inside.set()
            threading.Event().wait(0.05)

    _run_threads(lambda k: (a, b)[k](), 2)
    assert _settings() == before  # without the lock: stdout left captured, an "ignore" filter left on


def test_a_graph_built_during_an_export_leaves_the_warning_filters_alone() -> None:
    """Thread B builds a oneDNN graph (first call at a shape) while A is inside an export."""
    _need_onednn_graph()
    model = optimize_for_inference(mobilenet_v1(width_mult=0.25).eval(), backend="torch")
    x = torch.randn(3, 1, 32, 32)
    a_inside, b_done = threading.Event(), threading.Event()

    def a() -> None:
        with quiet_exporters():
            a_inside.set()
            b_done.wait(0.05)  # leaves while B builds (without the lock) or before B starts (with it)

    def b() -> None:
        a_inside.wait(5)
        with torch.inference_mode():
            model(x)
        b_done.set()

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        before = _settings()
        _run_threads(lambda k: (a, b)[k](), 2)
        after = _settings()
    assert after == before  # without the lock: an "ignore" filter left on
    assert not [w for w in shown if "torch.jit" in str(w.message)]  # TorchScript's deprecation notices stay hidden


# ---------------------------------------------------------------- slow: the full runs


@pytest.mark.slow  # 5.7 s on 2 busy cores (three graph builds): too long for the quick suite
def test_threads_sharing_a_predictor_get_the_answers_of_one_thread(images: torch.Tensor) -> None:
    from mobilenet_mnist.deploy import Predictor

    predictor = Predictor(str(SMALL), backend="torch", prepare=False)  # MNIST digits as they are: the model's part
    result = thread_load(predictor, digit_batches(images, count=3), threads=4, calls=20, warmup=1)
    assert result["calls"] == 80 and result["images"] > 80  # batches of 1, 2 and 4 images in turn
    assert result["mismatches"] == 0


@pytest.mark.slow
def test_graphs_dropped_and_rebuilt_while_other_threads_run_them_give_the_same_answers(
    images: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three batch sizes in turn with room for two graphs: threads evict the graphs others are running."""
    _need_onednn_graph()
    from mobilenet_mnist.deploy import Predictor, onednn_graph

    builds: list[tuple[int, ...]] = []
    build = onednn_graph._fused_graph

    def counted(model: torch.nn.Module, x: torch.Tensor) -> Any:
        builds.append(tuple(x.shape))
        return build(model, x)

    monkeypatch.setattr(onednn_graph.OneDnnGraph, "MAX_SHAPES", 2)
    monkeypatch.setattr(onednn_graph, "_fused_graph", counted)
    predictor = Predictor(str(SMALL), backend="torch", prepare=False)
    result = thread_load(predictor, digit_batches(images, count=3), threads=3, calls=6, warmup=0)
    assert result["calls"] == 18 and result["mismatches"] == 0
    assert len(builds) > 3 and {shape[0] for shape in builds} == {1, 2, 4}  # graphs were dropped and rebuilt


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_8_threads_x_1000_calls_give_one_threads_answers_without_memory_growth(backend: str, mnist_dir: Path) -> None:
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime", reason='the onnx extra is missing: pip install "mobilenet-mnist[onnx]"')
    result = predictor_load(backend, mnist_dir, threads=8, calls=1000, warmup=50)
    assert (result["backend"], result["calls"], result["mismatches"]) == (backend, 8000, 0)
    rss = result["rss_mib"]
    if rss["warm"] is None:
        pytest.skip("no /proc here: the answers were checked, the memory cannot be read")
    assert rss["end"] - rss["warm"] < RSS_GROWTH_MIB, rss
    assert min(rss["half"] - rss["warm"], rss["end"] - rss["half"]) < RSS_HALF_GROWTH_MIB, rss


@pytest.mark.slow
def test_graph_builds_in_several_threads_leave_the_warning_filters_alone() -> None:
    """Four predictors' first calls at once, at three new shapes in turn (no export involved)."""
    _need_onednn_graph()
    models = [optimize_for_inference(mobilenet_v1(width_mult=0.25).eval(), backend="torch") for _ in range(4)]
    before = _settings()
    for batch in (1, 2, 3):  # without the lock one round in three or so left an "ignore" filter on
        start = threading.Barrier(4)
        x = torch.randn(batch, 1, 32, 32)

        def call(k: int, x: torch.Tensor = x, start: threading.Barrier = start) -> None:
            start.wait()
            with torch.inference_mode():
                models[k](x)

        _run_threads(call, 4)
        assert _settings() == before, f"batch {batch}"


@pytest.mark.slow
def test_the_demo_serves_8_users_at_once_with_every_answer_right(mnist_dir: Path) -> None:
    pytest.importorskip("gradio", reason='the demo extra is not installed: pip install "mobilenet-mnist[demo]"')
    result = demo_load(mnist_dir, users=8, per_user=25, digits=100)
    assert result["left_out"] <= 5  # digits the model itself misreads are not posted
    assert (result["requests"], result["served"], result["dropped"], result["wrong"]) == (200, 200, 0, 0), result
    assert result["latency_ms"]["p95"] > 0


# ---------------------------------------------------------------- helpers


def _need_onednn_graph() -> None:
    from mobilenet_mnist.deploy.onednn_graph import onednn_graph_available

    if not onednn_graph_available():
        pytest.skip("this PyTorch build has no oneDNN Graph fuser: no graphs are built")


def _settings() -> tuple[Any, Any, list, int]:
    """The process-wide settings the exporters and graph builds change for a while."""
    return sys.stdout, sys.stderr, list(warnings.filters), logging.getLogger("onnx").level


def _run_threads(target: Any, count: int) -> None:
    """Run ``target(k)`` in ``count`` threads; re-raise the first exception one of them raised."""
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            target(k)
        except BaseException as error:  # re-raised below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    if errors:
        raise errors[0]

