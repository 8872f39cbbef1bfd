"""optimize_for_inference backends (PyTorch, ONNX Runtime, int8) give the plain model's answers.

Every backend is compared with the plain eager model on real MNIST digits: logits within
1e-4 and the same predictions, at any batch size, from several threads at once; errors
say what is valid. Speed is never asserted here (``mobilenet-mnist benchmark`` measures it).
"""

from __future__ import annotations

import copy
import functools
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from deploy_helpers import REPO_HUB, mnist_inputs, mnist_split
from torch import nn

from mobilenet_mnist import from_pretrained, list_models, mobilenet_v1
from mobilenet_mnist.deploy import OnnxRuntimeModule, backend_of, default_backend, optimize_for_inference
from mobilenet_mnist.deploy.common import MissingExtraError
from mobilenet_mnist.deploy.onednn_graph import GraphMobileNetV1, OneDnnGraph
from mobilenet_mnist.deploy.ort_shards import MIN_SHARDED_BATCH, ShardedRunner, chunk_size
from mobilenet_mnist.deploy.packed_conv import PackedConvAct
from mobilenet_mnist.deploy.torch_backend import is_fused

ATOL = 1e-4
BACKENDS = ("torch", "onnxruntime")
#: Odd sizes and 1: the batch axis is dynamic on every backend.
BATCHES = (1, 2, 3, 7, 64, 129)


@functools.cache
def _trained(name: str) -> nn.Module:
    """The shipped default weights for α=1.0; the repository's published checkpoints otherwise."""
    if name == "mobilenet_v1_100":
        return mobilenet_v1(pretrained=True).eval()
    folder = REPO_HUB / f"{name}.mnist"
    if (folder / "model.safetensors").is_file():
        return from_pretrained(folder).eval()
    torch.manual_seed(0)  # not published here: random weights (the comparison still holds)
    return mobilenet_v1(width_mult=int(name.rsplit("_", 1)[1]) / 100).eval()


def trained(name: str) -> nn.Module:
    return copy.deepcopy(_trained(name))


@functools.cache
def _optimized(name: str, backend: str) -> nn.Module:
    return optimize_for_inference(_trained(name), backend=backend)


def plain_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def fast_logits(fast: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return fast(x)


def assert_same_answers(got: torch.Tensor, expected: torch.Tensor) -> None:
    """Logits within ATOL; the same top-1 wherever the top two are not a near-tie."""
    assert got.dtype == torch.float32 and got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
    top2 = expected.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 2 * ATOL
    assert torch.equal(got.argmax(1)[clear], expected.argmax(1)[clear])


# ---------------------------------------------------------------------------- answers
@pytest.mark.slow  # every model through every backend on 500 test images
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list_models())
def test_backend_matches_plain_model_on_mnist(name: str, backend: str, mnist_dir: Path) -> None:
    model = _trained(name)
    x, labels = mnist_inputs(str(mnist_dir), 500)
    fast = _optimized(name, backend)
    assert backend_of(fast) == backend
    expected = plain_logits(model, x)
    got = fast_logits(fast, x)
    assert_same_answers(got, expected)
    if name == "mobilenet_v1_100":  # the shipped weights: the answers mean something
        assert (got.argmax(1) == labels).float().mean() > 0.98


@pytest.mark.parametrize("backend", BACKENDS)
def test_any_batch_size(backend: str, mnist_dir: Path) -> None:
    model = _trained("mobilenet_v1_025")
    fast = _optimized("mobilenet_v1_025", backend)
    x, _ = mnist_inputs(str(mnist_dir), max(BATCHES), offset=1000)
    expected = plain_logits(model, x)
    for batch in BATCHES:
        assert_same_answers(fast_logits(fast, x[:batch]), expected[:batch])
    one_by_one = torch.cat([fast_logits(fast, x[i : i + 1]) for i in range(7)])
    torch.testing.assert_close(one_by_one, expected[:7], atol=ATOL, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_other_input_sides_and_layouts(backend: str, mnist_dir: Path) -> None:
    from mobilenet_mnist.data.transforms import preprocess

    model = _trained("mobilenet_v1_025")
    fast = _optimized("mobilenet_v1_025", backend)
    images = mnist_split(str(mnist_dir), "test").images[:5]
    for side in (28, 48):
        x = preprocess(images, input_size=side)
        assert_same_answers(fast_logits(fast, x), plain_logits(model, x))
    x = preprocess(images).contiguous(memory_format=torch.channels_last)
    assert_same_answers(fast_logits(fast, x), plain_logits(model, x))
    assert_same_answers(fast(x), plain_logits(model, x))  # outside inference_mode too


@pytest.mark.slow  # threads hammering each backend
@pytest.mark.parametrize("backend", BACKENDS)
def test_thread_safe(backend: str, mnist_dir: Path) -> None:
    fast = _optimized("mobilenet_v1_025", backend)
    x, _ = mnist_inputs(str(mnist_dir), 96, offset=2000)
    chunks = [x[i : i + size] for i, size in zip(range(0, 96, 12), (1, 12, 5, 3, 12, 7, 12, 9), strict=True)]
    serial = [fast_logits(fast, chunk) for chunk in chunks]
    results: dict[tuple[int, int], torch.Tensor] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for rep in range(5):
                for index in range((worker + rep) % 2, len(chunks), 2):
                    results[(worker, rep * 100 + index)] = fast_logits(fast, chunks[index])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 4 * 5 * 4
    for (_, key), logits in results.items():
        assert torch.equal(logits, serial[key % 100])


# --------------------------------------------------------------------------- the backends
def test_auto_uses_onnxruntime_when_installed() -> None:
    assert default_backend() == "onnxruntime"  # the onnx extra is installed in the test setup
    fast = optimize_for_inference(trained("mobilenet_v1_025"))
    assert isinstance(fast, OnnxRuntimeModule) and backend_of(fast) == "onnxruntime"


def test_auto_uses_torch_for_torch_only_options() -> None:
    fast = optimize_for_inference(trained("mobilenet_v1_025"), channels_last=False)
    assert backend_of(fast) == "torch" and is_fused(fast)


def test_session_options_follow_torch() -> None:
    import onnxruntime as ort

    fast = _optimized("mobilenet_v1_025", "onnxruntime")
    options = fast.session.get_session_options()
    assert options.intra_op_num_threads == torch.get_num_threads()
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert fast.session.get_providers() == ["CPUExecutionProvider"]


def test_large_batches_run_in_per_thread_slices(mnist_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of MIN_SHARDED_BATCH or more go to single-threaded sessions, one per thread, in chunks."""
    fast = OnnxRuntimeModule(_optimized("mobilenet_v1_025", "onnxruntime").onnx_bytes, _trained("mobilenet_v1_025"),
                             num_threads=2)  # fmt: skip
    x, _ = mnist_inputs(str(mnist_dir), 100, offset=3000)
    calls: list[int] = []
    real_run = ShardedRunner._run_slice

    def counting(self, session, part, chunk):  # record the slice sizes the runner hands out
        calls.append(len(part))
        return real_run(self, session, part, chunk)

    monkeypatch.setattr(ShardedRunner, "_run_slice", counting)
    small = fast_logits(fast, x[: MIN_SHARDED_BATCH - 1])
    assert calls == []  # below the threshold: the one two-threaded session
    large = fast_logits(fast, x)
    assert sorted(calls) == [50, 50]
    assert [s.get_session_options().intra_op_num_threads for s in fast._shards._sessions] == [1, 1]
    torch.testing.assert_close(large[: len(small)], small, atol=1e-5, rtol=0)
    assert_same_answers(large, plain_logits(_trained("mobilenet_v1_025"), x))


def _sharded_answer(fast: nn.Module, x: torch.Tensor, answers: object) -> None:
    answers.put(fast_logits(fast, x).numpy())


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method: Linux only")
def test_large_batches_work_in_a_forked_child(mnist_dir: Path) -> None:
    """The slices' worker threads do not survive fork: a child process builds its own."""
    import multiprocessing

    fast = OnnxRuntimeModule(_optimized("mobilenet_v1_025", "onnxruntime").onnx_bytes, _trained("mobilenet_v1_025"),
                             num_threads=2)  # fmt: skip
    x, _ = mnist_inputs(str(mnist_dir), 40, offset=4000)
    expected = fast_logits(fast, x)  # the parent's pool exists before the fork
    context = multiprocessing.get_context("fork")
    answers = context.Queue()
    child = context.Process(target=_sharded_answer, args=(fast, x, answers))
    child.start()
    try:
        got = answers.get(timeout=120)
        child.join(timeout=30)
    finally:
        if child.is_alive():  # a hung child must not outlive the test
            child.kill()
    assert child.exitcode == 0
    torch.testing.assert_close(torch.from_numpy(got), expected, atol=1e-5, rtol=0)


def test_chunk_size_keeps_chunks_cache_sized() -> None:
    assert chunk_size(32, 32) == 32 and chunk_size(64, 64) == 8 and chunk_size(1024, 1024) == 1
    single = OnnxRuntimeModule(_optimized("mobilenet_v1_025", "onnxruntime").onnx_bytes, _trained("mobilenet_v1_025"),
                               num_threads=1)  # fmt: skip
    assert not single._shards.wants(256)  # one thread: nothing to split


def test_onnxruntime_module_copies_and_pickles(mnist_dir: Path) -> None:
    fast = _optimized("mobilenet_v1_025", "onnxruntime")
    x, _ = mnist_inputs(str(mnist_dir), 4)
    expected = fast_logits(fast, x)
    for clone in (copy.deepcopy(fast), pickle.loads(pickle.dumps(fast))):
        assert clone.session is not fast.session
        assert torch.equal(fast_logits(clone, x), expected)
    assert fast.pretrained_cfg == _trained("mobilenet_v1_025").pretrained_cfg
    assert next(fast.parameters()).device.type == "cpu"  # code that looks up a model's device works
    assert "precision='fp32'" in repr(fast)


def test_torch_backend_keeps_the_model_api(mnist_dir: Path) -> None:
    model = trained("mobilenet_v1_025")
    fast = optimize_for_inference(model, backend="torch")
    assert isinstance(fast, type(model)) and type(fast) is GraphMobileNetV1  # a MobileNetV1 run as one graph
    assert is_fused(fast) and not fast.training
    assert isinstance(fast.stem, PackedConvAct)
    assert not any(p.requires_grad for p in fast.parameters())
    x, _ = mnist_inputs(str(mnist_dir), 3)
    with torch.inference_mode():
        features = fast.forward_intermediates(x, intermediates_only=True)
        expected = model.forward_intermediates(x, intermediates_only=True)
    for got, want in zip(features, expected, strict=True):
        torch.testing.assert_close(got, want, atol=ATOL, rtol=0)
    clone = copy.deepcopy(fast)  # the cache of reordered weights is not copied
    torch.testing.assert_close(fast_logits(clone, x), fast_logits(fast, x), atol=0, rtol=0)


def _ops(fn) -> set[str]:
    from torch.profiler import profile

    with torch.inference_mode(), profile() as recorded:
        fn()
    return {event.key for event in recorded.key_averages()}


def test_torch_backend_batch_one_avoids_the_slow_reference_conv() -> None:
    """PyTorch's reference kernel took half the batch-1 time of the plain fast path."""
    fast = optimize_for_inference(trained("mobilenet_v1_100"), backend="torch")
    plain = trained("mobilenet_v1_100")
    x = torch.randn(1, 1, 32, 32)
    with torch.inference_mode():
        fast(x)  # the first call for a shape traces and compiles its graph
    assert "aten::_slow_conv2d_forward" in _ops(lambda: plain(x))
    whole = _ops(lambda: fast(x))  # the whole network as oneDNN Graph partitions
    assert any(op.startswith("LlgaPartition") for op in whole)
    assert not {"aten::_slow_conv2d_forward", "aten::convolution", "mkldnn::_convolution_pointwise"} & whole
    layers = _ops(lambda: fast.forward_head(fast.forward_features(x)))  # layer by layer: prepacked oneDNN
    assert "mkldnn::_convolution_pointwise" in layers and "aten::_slow_conv2d_forward" not in layers


@pytest.mark.slow  # graph capture and repeated runs
def test_torch_backend_graph_gives_repeatable_answers() -> None:
    """One graph per input shape: the first answer for a shape equals every later one, and copies agree."""
    fast = optimize_for_inference(trained("mobilenet_v1_025"), backend="torch")
    inputs = {b: torch.randn(b, 1, 32, 32, generator=torch.Generator().manual_seed(b)) for b in (1, 3, 8)}
    first = {batch: fast_logits(fast, x) for batch, x in inputs.items()}
    for _ in range(2):
        for batch, x in inputs.items():
            assert torch.equal(fast_logits(fast, x), first[batch])
    for clone in (copy.deepcopy(fast), pickle.loads(pickle.dumps(fast))):  # graphs are rebuilt, not copied
        assert type(clone) is GraphMobileNetV1 and "_onednn_graph" not in clone.__dict__
        torch.testing.assert_close(fast_logits(clone, inputs[3]), first[3], atol=1e-6, rtol=0)


def test_torch_backend_graph_follows_changes_to_the_model() -> None:
    """A replaced head or layer rebuilds the graphs (they must never answer for the old model)."""
    model = trained("mobilenet_v1_025")
    fast = optimize_for_inference(model, backend="torch")
    x = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    assert fast_logits(fast, x).shape == (2, 10)
    fast.reset_classifier(5)
    assert fast_logits(fast, x).shape == (2, 5)
    torch.testing.assert_close(fast_logits(fast, x), fast.forward_head(fast.forward_features(x)), atol=ATOL, rtol=0)
    before = fast_logits(fast, x)
    fast.stages[0][0].conv_pw.act = nn.Identity()  # a layer deep inside, swapped
    after = fast_logits(fast, x)
    assert not torch.allclose(before, after)
    with torch.inference_mode():
        torch.testing.assert_close(after, fast.forward_head(fast.forward_features(x)), atol=ATOL, rtol=0)


def test_torch_backend_leaves_the_global_fuser_switch_off() -> None:
    """Other TorchScript code in the process must not be optimized by the oneDNN Graph fuser."""
    fast = optimize_for_inference(trained("mobilenet_v1_025"), backend="torch")
    threads = [threading.Thread(target=fast_logits, args=(fast, torch.zeros(b, 1, 32, 32))) for b in (1, 2, 3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert torch.jit.onednn_fusion_enabled() is False
    assert len(fast._onednn_graph._graphs) == 4


def test_torch_backend_graph_keeps_a_few_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(OneDnnGraph, "MAX_SHAPES", 2)
    fast = optimize_for_inference(trained("mobilenet_v1_025"), backend="torch")
    for batch in (1, 2, 3, 2):
        fast_logits(fast, torch.zeros(batch, 1, 32, 32))
    assert list(fast._onednn_graph._graphs) == [(3, 1, 32, 32), (2, 1, 32, 32)]  # least recently used dropped


def test_torch_backend_without_onednn_graph_runs_layer_by_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    import mobilenet_mnist.deploy.onednn_graph as onednn_graph

    monkeypatch.setattr(onednn_graph, "onednn_graph_available", lambda: False)
    model = trained("mobilenet_v1_025")
    fast = optimize_for_inference(model, backend="torch")
    assert type(fast) is type(model) and isinstance(fast.stem, PackedConvAct)
    x = torch.randn(2, 1, 32, 32)
    assert_same_answers(fast_logits(fast, x), plain_logits(model, x))


def test_torch_backend_sees_weight_changes(mnist_dir: Path) -> None:
    fast = optimize_for_inference(trained("mobilenet_v1_025"), backend="torch")
    x, _ = mnist_inputs(str(mnist_dir), 2)
    before = fast_logits(fast, x)
    with torch.no_grad():
        fast.stem.conv.weight.mul_(2.0)  # cached reordered weights must not go stale
    after = fast_logits(fast, x)
    with torch.no_grad():
        fast.stem.conv.weight.div_(2.0)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(fast_logits(fast, x), before, atol=ATOL, rtol=0)


@pytest.mark.slow  # an export after the torch backend's graph
@pytest.mark.parametrize("exporter", ["torch.export", "onnx"])
def test_torch_backend_result_is_still_exportable(exporter: str, tmp_path: Path, mnist_dir: Path) -> None:
    fast = optimize_for_inference(trained("mobilenet_v1_025"), backend="torch")
    x, _ = mnist_inputs(str(mnist_dir), 4)
    if exporter == "torch.export":
        program = torch.export.export(fast, (x,))
        ops = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
        assert not [op for op in ops if "mkldnn" in op]
        torch.testing.assert_close(program.module()(x), fast_logits(fast, x), atol=ATOL, rtol=0)
        return
    from mobilenet_mnist.deploy.onnx_export import export_onnx

    path = export_onnx(fast, tmp_path / "fast.onnx")
    session = OnnxRuntimeModule(path.read_bytes(), fast)
    torch.testing.assert_close(session(x), fast_logits(fast, x), atol=ATOL, rtol=0)


# --------------------------------------------------------------------------------- int8
@pytest.fixture(scope="module")
def int8_fixture(mnist_dir: Path) -> tuple[nn.Module, nn.Module]:
    train = mnist_split(str(mnist_dir), "train")
    model = _trained("mobilenet_v1_100")
    return model, optimize_for_inference(model, int8=True, calibration_images=train.images)


@pytest.mark.slow  # int8 calibration and MNIST test images
def test_int8_predictions_agree_on_mnist(int8_fixture, mnist_dir: Path) -> None:
    model, int8 = int8_fixture
    assert backend_of(int8) == "onnxruntime" and int8.precision == "int8"
    x, labels = mnist_inputs(str(mnist_dir), 1000, offset=5000)
    plain = plain_logits(model, x)
    quantized = fast_logits(int8, x)
    agreement = (quantized.argmax(1) == plain.argmax(1)).float().mean().item()
    assert agreement >= 0.99, agreement
    assert (quantized.argmax(1) == labels).float().mean() > 0.98
    for batch in (1, 3):
        torch.testing.assert_close(fast_logits(int8, x[:batch]), quantized[:batch])


@pytest.mark.slow  # needs the int8 model calibrated on MNIST (the slow fixture)
def test_int8_takes_only_its_calibrated_side(int8_fixture) -> None:
    _, int8 = int8_fixture
    with pytest.raises(ValueError, match=r"built for 32px inputs.*input_size="):
        int8(torch.zeros(1, 1, 28, 28))


@pytest.mark.slow  # int8 calibration on MNIST
def test_torch_int8_agrees(mnist_dir: Path) -> None:
    train = mnist_split(str(mnist_dir), "train")
    model = _trained("mobilenet_v1_050")
    int8 = optimize_for_inference(model, backend="torch", int8=True, calibration_images=train.images,
                                  num_calibration=256)  # fmt: skip
    assert backend_of(int8) == "torch"
    x, _ = mnist_inputs(str(mnist_dir), 1000, offset=3000)
    agreement = (fast_logits(int8, x).argmax(1) == plain_logits(model, x).argmax(1)).float().mean().item()
    assert agreement >= 0.99, agreement


# -------------------------------------------------------------------------------- errors
def test_unknown_backend_lists_the_valid_ones() -> None:
    model = trained("mobilenet_v1_025")
    expected = r"Unknown backend 'onnx'\. Did you mean 'onnxruntime'\?.*auto, torch, onnxruntime"
    with pytest.raises(ValueError, match=expected):
        optimize_for_inference(model, backend="onnx")
    with pytest.raises(TypeError, match="backend must be a str"):
        optimize_for_inference(model, backend=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("missing", ["onnxruntime", "onnxscript"])
def test_missing_onnxruntime_names_the_extra(missing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = trained("mobilenet_v1_025")
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import <missing>` fail
    with pytest.raises(MissingExtraError, match=rf"{missing}.*pip install \"mobilenet-mnist\[onnx\]\""):
        optimize_for_inference(model, backend="onnxruntime")
    assert default_backend() == "torch"
    fast = optimize_for_inference(model)  # auto falls back to PyTorch
    assert backend_of(fast) == "torch" and isinstance(fast.stem, PackedConvAct)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"compile": True}, r"compile=True: PyTorch-only option.*backend='torch'"),
        ({"dtype": torch.bfloat16, "fuse": False}, r"fuse=False, dtype=torch\.bfloat16: PyTorch-only"),
        ({"channels_last": False}, r"channels_last=False: PyTorch-only"),
    ],
)
def test_torch_only_options_are_refused_on_onnxruntime(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        optimize_for_inference(trained("mobilenet_v1_025"), backend="onnxruntime", **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"int8": True}, r"int8=True needs calibration_images.*load_dataset"),
        ({"calibration_images": torch.zeros(4, 28, 28, dtype=torch.uint8)}, "pass int8=True with them"),
        ({"input_size": 28}, "fp32 models take any side"),
        ({"int8": 1}, "int8 must be True or False"),
        (
            {"int8": True, "calibration_images": torch.zeros(4, 28, 28, dtype=torch.uint8), "num_calibration": 0},
            "num_calibration must be >= 1",
        ),
    ],
)
def test_bad_int8_options_are_explained(options: dict, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        optimize_for_inference(trained("mobilenet_v1_025"), **options)


def test_torch_int8_refuses_fp32_path_options() -> None:
    images = torch.zeros(4, 28, 28, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"compile=True: options of the fp32 PyTorch path"):
        optimize_for_inference(trained("mobilenet_v1_025"), backend="torch", int8=True,
                               calibration_images=images, compile=True)  # fmt: skip


def test_onnxruntime_module_explains_bad_input() -> None:
    fast = _optimized("mobilenet_v1_025", "onnxruntime")
    with pytest.raises(ValueError, match=r"shape \(N, 1, H, W\).*x\.unsqueeze\(0\)"):
        fast(torch.zeros(1, 32, 32))
    with pytest.raises(ValueError, match=r"shape \(N, 1, H, W\)"):
        fast(torch.zeros(2, 3, 32, 32))
    with pytest.raises(TypeError, match="floating-point input"):
        fast(torch.zeros(2, 1, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="too small"):
        fast(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="NaN"):
        fast(torch.full((1, 1, 32, 32), float("nan")))
    with pytest.raises(TypeError, match=r"expects a torch\.Tensor"):
        fast([[0.0]])


def test_importing_the_library_does_not_import_onnxruntime() -> None:
    code = ("import sys, mobilenet_mnist, mobilenet_mnist.deploy; mobilenet_mnist.optimize_for_inference; "
            "assert 'onnxruntime' not in sys.modules and 'onnx' not in sys.modules, 'imported'")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.fixture(scope="module")
def plain_evaluation(mnist_dir: Path) -> tuple[object, object]:
    """The first 500 MNIST test digits, and the plain model's evaluation of them (shared by the backends)."""
    from mobilenet_mnist import evaluate

    few = mnist_split(str(mnist_dir), "test").subset(torch.arange(500))
    return few, evaluate(trained("mobilenet_v1_100"), few, 32)


@pytest.mark.slow  # evaluations on MNIST test images, plain and through each backend
@pytest.mark.parametrize("backend", BACKENDS)
def test_evaluate_through_a_backend_scores_like_the_model(backend: str, plain_evaluation) -> None:
    from mobilenet_mnist import evaluate

    few, plain = plain_evaluation
    model = trained("mobilenet_v1_100")
    fast = evaluate(optimize_for_inference(model, backend=backend), few, 32)
    assert torch.equal(fast.confusion, plain.confusion) and fast.accuracy == plain.accuracy > 98.0
    assert next(model.parameters()).requires_grad, "the caller's model is left as it was"
