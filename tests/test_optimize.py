"""The PyTorch fast inference path (fusion, channels_last, prepacked convs) gives the plain model's answers.

The backends side by side (ONNX Runtime, int8, threads, errors) are tests/test_backends.py.
Speed is never asserted here (see benchmarks/ and tests/test_speed.py); only correctness.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from deploy_helpers import small_trained_model
from random_weights import randomize
from torch import nn

from mobilenet_mnist import create_model, list_models, mobilenet_v1
from mobilenet_mnist.deploy.optimize import (
    InferenceWrapper,
    bf16_supported,
    fuse_conv_bn,
    is_fused,
    optimize_for_inference,
)

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


def _sgd_steps(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int, lr: float = 0.05) -> None:
    """Plain SGD-momentum training steps over ``images`` in batches, in train mode."""
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for start in range(0, len(images), batch):
        loss = F.cross_entropy(model(images[start : start + batch]), labels[start : start + batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


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
    generator = torch.Generator().manual_seed(0)
    _sgd_steps(model, _batch(24), torch.randint(0, 10, (24,), generator=generator), batch=8)
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
    fast = optimize_for_inference(model, backend="torch")
    for n, side in ((8, 32), (1, 32), (3, 48)):  # batch-1 latency path and other sizes
        x = _batch(n, side)
        with torch.no_grad():
            expected = model(x)
        with torch.inference_mode():
            got = fast(x)
        torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


def test_optimize_for_inference_properties() -> None:
    model = _model().train()
    fast = optimize_for_inference(model, backend="torch")
    assert not fast.training and model.training
    assert not any(p.requires_grad for p in fast.parameters())
    assert all(p.requires_grad for p in model.parameters())
    pw = fast.stages[0][0].conv_pw.conv.weight
    assert pw.is_contiguous(memory_format=torch.channels_last)
    assert is_fused(fast)
    assert fast.state_dict().keys() == fuse_conv_bn(model).state_dict().keys()
    unfused = optimize_for_inference(model, fuse=False, channels_last=False)
    assert not is_fused(unfused)
    nchw = optimize_for_inference(model, backend="torch", channels_last=False)
    x = _batch()
    with torch.inference_mode():
        torch.testing.assert_close(unfused(x), fast(x), atol=ATOL, rtol=0)
        torch.testing.assert_close(nchw(x), fast(x), atol=ATOL, rtol=0)
        features = fast.forward_intermediates(x, intermediates_only=True)  # the model API survives optimization
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
def test_fast_path_same_predictions_on_mnist(mnist_dir: Path) -> None:
    from mobilenet_mnist import load_dataset
    from mobilenet_mnist.data.transforms import resize_normalize

    model = small_trained_model(str(mnist_dir))  # logits that mean something, near-ties rare
    test = load_dataset("mnist", "test", root=mnist_dir)
    x = resize_normalize(test.images[:2000].unsqueeze(1), 32, (0.1307,), (0.3081,))
    labels = test.labels[:2000]
    with torch.no_grad():
        plain = model(x)
    with torch.inference_mode():
        fast = optimize_for_inference(model, backend="torch")(x)
    torch.testing.assert_close(fast, plain, atol=ATOL, rtol=0)
    top2 = plain.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 2 * ATOL  # a near-tie may flip either way
    assert clear.sum() >= 1990
    assert torch.equal(fast.argmax(1)[clear], plain.argmax(1)[clear])
    acc_plain = (plain.argmax(1) == labels).float().mean().item()
    acc_fast = (fast.argmax(1) == labels).float().mean().item()
    assert acc_plain > 0.85  # trained (chance is 0.1): predictions mean something
    assert abs(acc_fast - acc_plain) <= (~clear).float().mean().item()
