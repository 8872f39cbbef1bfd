"""The fast inference path gives the plain model's answers; the benchmark writes its report.

Speed is never asserted here (see benchmarks/); only correctness and output format.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from random_weights import randomize
from torch import nn

from mobilenet_mnist import create_model, list_models, mobilenet_v1
from mobilenet_mnist.deploy.benchmark import (
    BenchmarkConfig,
    make_train_step,
    measure_matmul_peak,
    measure_peak_memory,
    quick_config,
    run_benchmark,
    to_markdown,
    write_results,
)
from mobilenet_mnist.deploy.optimize import (
    InferenceWrapper,
    bf16_supported,
    fuse_conv_bn,
    is_fused,
    optimize_for_inference,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
ATOL = 1e-4


#: The published α=1.0 checkpoint's largest logit on 2,000 MNIST test digits is 4.3 (label
#: smoothing keeps logits small); 10 leaves a margin while keeping fp32 rounding realistic.
LOGIT_SCALE = 10.0


def _model(name: str = "mobilenet_v1_025", **kwargs) -> nn.Module:
    """A model with non-trivial BatchNorm statistics (see random_weights.randomize).

    The classifier is rescaled so the largest logit on a probe batch is LOGIT_SCALE,
    above what trained MNIST models produce: float32 rounding is relative, and the
    randomized classifier alone gives logits in the hundreds, where even the plain
    model differs from its float64 twin by more than 1e-4.
    """
    with torch.random.fork_rng():  # the same weights whatever ran before
        torch.manual_seed(0)
        model = randomize(create_model(name, **kwargs))
    with torch.no_grad():
        peak = model(_batch(16)).abs().max()
        model.classifier.weight.mul_(LOGIT_SCALE / peak)
        model.classifier.bias.mul_(LOGIT_SCALE / peak)
    return model


def _batch(n: int = 8, side: int = 32) -> torch.Tensor:
    # Own generator: the same inputs whatever ran before (test order must not matter).
    generator = torch.Generator().manual_seed(n * 1000 + side)
    return torch.randn(n, 1, side, side, generator=generator) * 2 + 0.5


# --------------------------------------------------------------------------- fusion
@pytest.mark.parametrize("name", list_models())
def test_fused_logits_match_eval_model(name: str) -> None:
    model = _model(name)
    x = _batch()
    with torch.no_grad():
        expected = model(x)
        fused = fuse_conv_bn(model)
        got = fused(x)
    assert expected.std() > 0.1  # the comparison is not between near-constant logits
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
    assert is_fused(fused) and not is_fused(model)
    convs = [m for m in fused.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(c.bias is not None for c in convs)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())


def test_fuse_after_training_steps_matches() -> None:
    """BN statistics and weights moved by real SGD steps, not just recalibrated."""
    model = mobilenet_v1(width_mult=0.25)
    step = make_train_step(model, channels_last=False, lr=0.05)
    for _ in range(3):
        step(_batch(16), torch.randint(0, 10, (16,)))
    model.eval()
    x = _batch()
    with torch.no_grad():
        torch.testing.assert_close(fuse_conv_bn(model)(x), model(x), atol=ATOL, rtol=0)


def test_fuse_does_not_mutate_original() -> None:
    model = _model().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fused = fuse_conv_bn(model)
    assert model.training and not fused.training
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert fused.stem.conv.weight.data_ptr() != model.stem.conv.weight.data_ptr()


def test_fuse_twice_is_harmless() -> None:
    model = _model()
    x = _batch()
    once = fuse_conv_bn(model)
    twice = fuse_conv_bn(once)
    with torch.no_grad():
        torch.testing.assert_close(twice(x), once(x), atol=0, rtol=0)


def test_fuse_keeps_model_metadata() -> None:
    model = _model(num_classes=7)
    fused = fuse_conv_bn(model)
    assert fused.pretrained_cfg == model.pretrained_cfg
    assert fused.num_classes == 7 and fused(_batch(2)).shape == (2, 7)


def test_fuse_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        fuse_conv_bn("mobilenet_v1_025")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no ConvBnAct layers"):
        fuse_conv_bn(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)))
    model = mobilenet_v1(width_mult=0.25)
    model.stem.bn = nn.BatchNorm2d(model.stem.bn.num_features, track_running_stats=False)
    with pytest.raises(ValueError, match="track_running_stats=False"):
        fuse_conv_bn(model)


# --------------------------------------------------------------------------- layouts
def test_channels_last_matches_nchw() -> None:
    model = _model()
    x = _batch()
    nhwc = copy.deepcopy(model).to(memory_format=torch.channels_last)
    with torch.no_grad():
        expected = model(x)
        got = nhwc(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", list_models())
def test_optimize_for_inference_matches(name: str) -> None:
    model = _model(name)
    fast = optimize_for_inference(model)
    for n, side in ((8, 32), (1, 32), (3, 48)):  # batch-1 latency path and other sizes
        x = _batch(n, side)
        with torch.no_grad():
            expected = model(x)
        with torch.inference_mode():
            got = fast(x)
        torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


def test_optimize_for_inference_properties() -> None:
    model = _model().train()
    fast = optimize_for_inference(model)
    assert not fast.training and model.training
    assert not any(p.requires_grad for p in fast.parameters())
    assert all(p.requires_grad for p in model.parameters())
    pw = fast.stages[0][0].conv_pw.conv.weight
    assert pw.is_contiguous(memory_format=torch.channels_last)
    assert is_fused(fast)
    assert fast.state_dict().keys() == fuse_conv_bn(model).state_dict().keys()
    unfused = optimize_for_inference(model, fuse=False, channels_last=False)
    assert not is_fused(unfused)
    nchw = optimize_for_inference(model, channels_last=False)
    x = _batch()
    with torch.inference_mode():
        torch.testing.assert_close(unfused(x), fast(x), atol=ATOL, rtol=0)
        torch.testing.assert_close(nchw(x), fast(x), atol=ATOL, rtol=0)
        features = fast.forward_intermediates(x)  # the model API survives optimization
    assert features[-1].shape == (8, fast.num_features, 1, 1)


def test_optimize_for_inference_rejects_bad_dtype() -> None:
    model = mobilenet_v1(width_mult=0.25)
    with pytest.raises(ValueError, match=r"float32 or torch\.bfloat16"):
        optimize_for_inference(model, dtype=torch.float16)
    with pytest.raises(TypeError, match=r"torch\.dtype"):
        optimize_for_inference(model, dtype="bf16")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        optimize_for_inference(None)  # type: ignore[arg-type]


def test_bf16_path_warns_when_unsupported_and_stays_close() -> None:
    model = _model()
    x = _batch(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fast = optimize_for_inference(model, dtype=torch.bfloat16)
    bf16_warnings = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert bool(bf16_warnings) == (not bf16_supported())
    if bf16_warnings:
        assert "bfloat16" in str(bf16_warnings[0].message)
    assert isinstance(fast, InferenceWrapper)
    with torch.inference_mode():
        got = fast(x)
        expected = model(x)
    assert got.dtype == torch.float32
    # bf16 keeps ~3 significant digits and its rounding compounds over 27 layers: logits
    # agree in direction (cosine) and to ~10 % of their range, not to 1e-4.
    assert F.cosine_similarity(got.flatten(), expected.flatten(), dim=0) > 0.99
    scale = float(expected.abs().max())
    torch.testing.assert_close(got, expected, atol=0.15 * scale, rtol=0)


@pytest.mark.slow
def test_compiled_path_matches() -> None:
    model = _model()
    fast = optimize_for_inference(model, compile=True)
    x = _batch(4)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), model(x), atol=ATOL, rtol=0)


# --------------------------------------------------------------------------- real digits
def _quickly_trained(mnist_dir: Path) -> nn.Module:
    """α=0.25 trained for a few dozen steps: far from converged, but clearly not random."""
    from mobilenet_mnist import load_dataset
    from mobilenet_mnist.data.datasets import resize_normalize

    data = load_dataset("mnist", "train", root=mnist_dir)
    images = resize_normalize(data.images[:2048].unsqueeze(1), 32, (0.1307,), (0.3081,))
    labels = data.labels[:2048]
    model = mobilenet_v1(width_mult=0.25)
    step = make_train_step(model, channels_last=True, lr=0.05)
    for start in range(0, 2048, 64):
        step(images[start : start + 64], labels[start : start + 64])
    # After so few steps the running BN statistics lag the weights; recalibrate them
    # (cumulative average over the training images) so eval mode predicts sensibly.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.reset_running_stats()
                module.momentum = None
        model(images)
    return model.eval()


def test_fast_path_same_predictions_on_mnist(mnist_dir: Path) -> None:
    from mobilenet_mnist import load_dataset
    from mobilenet_mnist.data.datasets import resize_normalize

    model = _quickly_trained(mnist_dir)
    test = load_dataset("mnist", "test", root=mnist_dir)
    x = resize_normalize(test.images[:2000].unsqueeze(1), 32, (0.1307,), (0.3081,))
    labels = test.labels[:2000]
    with torch.no_grad():
        plain = model(x)
    with torch.inference_mode():
        fast = optimize_for_inference(model)(x)
    torch.testing.assert_close(fast, plain, atol=ATOL, rtol=0)
    top2 = plain.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 2 * ATOL  # a near-tie may flip either way
    assert clear.sum() >= 1990
    assert torch.equal(fast.argmax(1)[clear], plain.argmax(1)[clear])
    acc_plain = (plain.argmax(1) == labels).float().mean().item()
    acc_fast = (fast.argmax(1) == labels).float().mean().item()
    assert acc_plain > 0.25  # trained (chance is 0.1): predictions mean something
    assert abs(acc_fast - acc_plain) <= (~clear).float().mean().item()


# --------------------------------------------------------------------------- benchmark
ROW_KEYS = {
    "network", "way", "width", "status", "params", "macs", "infer_batch", "infer_images_per_s",
    "infer_gmacs_per_s", "infer_fraction_of_peak", "latency_ms_median", "latency_ms_p90",
    "train_batch", "train_images_per_s", "train_fraction_of_peak", "mem_infer_mib",
    "mem_train_mib", "infer_speedup_vs_naive", "latency_speedup_vs_naive",
    "train_speedup_vs_naive",
}


def _check_result(result: dict) -> None:
    assert {"schema", "created", "command", "machine", "config", "load_average", "duration_s",
            "matmul_peak_gmacs", "rows"} <= result.keys()
    assert {"cpu", "logical_cores", "torch_threads", "torch"} <= result["machine"].keys()
    assert result["matmul_peak_gmacs"] > 0
    ways = {(r["network"], r["way"]) for r in result["rows"]}
    assert {("mobilenet_v1 α=0.25", "naive"), ("mobilenet_v1 α=0.25", "fast")} <= ways
    for row in result["rows"]:
        if row["status"] == "ok":
            assert row.keys() >= ROW_KEYS
            assert row["infer_images_per_s"] > 0 and row["latency_ms_p90"] >= row["latency_ms_median"]
    naive = next(r for r in result["rows"] if r["way"] == "naive")
    assert naive["infer_speedup_vs_naive"] == pytest.approx(1.0)


def test_quick_benchmark_writes_json_and_markdown(tmp_path: Path) -> None:
    result = run_benchmark(quick_config(peers=False))
    _check_result(result)
    md_path, json_path = write_results(result, tmp_path)
    assert json.loads(json_path.read_text()) == json.loads(json.dumps(result))
    markdown = md_path.read_text()
    assert markdown == to_markdown(result)
    assert "| mobilenet_v1 α=0.25 | **fast** |" in markdown
    assert "G multiply-adds/s" in markdown


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


def test_bf16_way_runs_only_with_native_bf16() -> None:
    result = run_benchmark(quick_config(peers=False, memory=False, bf16=True))
    row = next(r for r in result["rows"] if r["way"] == "fast+bf16")
    if bf16_supported():
        assert row["status"] == "ok" and row["infer_images_per_s"] > 0
    else:
        assert row["status"].startswith("skipped: no native bf16")
        assert "skipped: no native bf16" in to_markdown(result)


def test_peer_costs_are_counted_for_one_channel() -> None:
    from mobilenet_mnist.deploy.benchmark import _build_peer, _costs

    model = _build_peer("torchvision/mobilenet_v2").eval()
    params, macs = _costs(model, 32)
    assert params == sum(p.numel() for p in model.parameters())
    assert not model.training  # counting must not flip the model to train mode
    # Stem: 32 output channels at 16×16 from a 1-channel 3×3 conv.
    stem_macs = 32 * 16 * 16 * 9
    assert macs > stem_macs and macs < 20e6


def test_benchmark_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        BenchmarkConfig(batch_size=0)
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
    x, y = _batch(16), torch.randint(0, 10, (16,))
    losses = [step(x, y) for _ in range(8)]
    assert losses[-1] < losses[0]
    assert model.stem.conv.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert F.cross_entropy(model.eval()(x), y).item() < losses[0]
