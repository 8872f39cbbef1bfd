"""Property-based tests: any argument mix builds and runs, or is refused with a clear error.

"Clear error" means a TypeError, ValueError or KeyError with a message, raised by this
package's own checks (the innermost traceback frame lies in ``mobilenet_mnist``), never
an exception from inside torch.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import mobilenet_mnist
from mobilenet_mnist import LayerConfig, MobileNetV1, create_model, list_models, mobilenet_v1

PACKAGE_DIR = Path(mobilenet_mnist.__file__).resolve().parent
DOCUMENTED_ERRORS = (TypeError, ValueError, KeyError)
MIN_SIDE = 17  # smallest input side the MNIST config's five stride-2 layers take

# Small and fast: narrow widths, few examples, no per-example deadline (shared CI CPUs),
# a fixed seed so CI runs are reproducible.
FAST = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

BAD_NUMBERS = st.sampled_from([0, -1, 0.0, -0.25, math.nan, math.inf, -math.inf, 1e308])
NOT_NUMBERS = st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.just([1.0]))


def _assert_documented_refusal(exc: BaseException) -> None:
    assert isinstance(exc, DOCUMENTED_ERRORS), f"undocumented {type(exc).__name__}: {exc}"
    assert str(exc).strip(" '\""), "error without a message"
    innermost = exc.__traceback__
    while innermost.tb_next is not None:
        innermost = innermost.tb_next
    path = Path(innermost.tb_frame.f_code.co_filename).resolve()
    assert PACKAGE_DIR in path.parents, f"{type(exc).__name__} raised inside {path}: {exc}"


def _build_or_refuse(**kwargs: object) -> MobileNetV1 | None:
    try:
        return mobilenet_v1(**kwargs)
    except Exception as exc:  # the property is about which exceptions occur
        _assert_documented_refusal(exc)
        return None


@FAST
@given(
    width=st.floats(0.05, 0.5),
    rho=st.floats(0.54, 1.5),
    in_chans=st.integers(1, 4),
    num_classes=st.integers(0, 12),
    batch=st.integers(1, 3),
)
def test_valid_arguments_build_and_run(
    width: float, rho: float, in_chans: int, num_classes: int, batch: int
) -> None:
    model = mobilenet_v1(
        width_mult=width, resolution_mult=rho, in_chans=in_chans, num_classes=num_classes
    ).eval()
    side = round(32 * rho)
    assert model.pretrained_cfg["input_size"] == (in_chans, side, side)
    assert model.num_features % 8 == 0 and model.num_features >= 0.9 * 1024 * width
    x = torch.randn(batch, in_chans, side, side)
    with torch.no_grad():
        out = model(x)
        first = model(x[:1])
    assert out.shape == (batch, num_classes or model.num_features)
    assert torch.isfinite(out).all()
    # Eval mode has no cross-sample coupling: a row does not depend on the batch it is in.
    torch.testing.assert_close(first, out[:1], rtol=1e-4, atol=1e-5)


@FAST
@given(
    width=st.one_of(st.floats(0.05, 0.3), BAD_NUMBERS, NOT_NUMBERS, st.just(4.01)),
    rho=st.one_of(st.floats(0.3, 1.2), BAD_NUMBERS, NOT_NUMBERS, st.just(200.0)),
    in_chans=st.one_of(st.integers(-1, 3), st.floats(0.5, 2.5), NOT_NUMBERS),
    num_classes=st.one_of(st.integers(-2, 12), st.floats(0, 5), NOT_NUMBERS),
    arch=st.one_of(st.just("mnist"), st.text(max_size=8), st.just(["mnist"]), st.none()),
)
# Edge cases pinned so every run covers them (round() overflows on inf, NaN compares False).
@example(width=0.25, rho=1e308, in_chans=1, num_classes=10, arch="mnist")
@example(width=math.nan, rho=1.0, in_chans=1, num_classes=10, arch="mnist")
@example(width=0.25, rho=0.53, in_chans=1, num_classes=0, arch="mnist")
@example(width=1e-6, rho=1.0, in_chans=True, num_classes=10, arch="mnist")
@example(width=0.25, rho=1.0, in_chans=1, num_classes=10, arch=["mnist"])
def test_any_arguments_build_or_are_refused_clearly(
    width: object, rho: object, in_chans: object, num_classes: object, arch: object
) -> None:
    model = _build_or_refuse(
        width_mult=width, resolution_mult=rho, in_chans=in_chans, num_classes=num_classes,
        arch=arch,
    )
    if model is None:
        return
    # Whatever built was valid: a real width in range and a side the strides can take.
    assert 0 < model.width_mult <= 4.0 and model.input_size >= MIN_SIDE
    with torch.no_grad():
        out = model.eval()(torch.zeros(1, model.in_chans, model.input_size, model.input_size))
    assert out.shape == (1, model.num_classes or model.num_features)


@pytest.fixture(scope="module")
def small_model() -> MobileNetV1:
    return mobilenet_v1(width_mult=0.25, in_chans=2, num_classes=3).eval()


@FAST
@given(
    shape=st.lists(st.integers(0, 40), min_size=0, max_size=5),
    dtype=st.sampled_from([torch.float32, torch.uint8, torch.int32, torch.bool]),
)
def test_any_input_runs_or_is_refused_clearly(
    small_model: MobileNetV1, shape: list[int], dtype: torch.dtype
) -> None:
    x = torch.zeros(shape, dtype=dtype)
    try:
        with torch.no_grad():
            out = small_model(x)
    except Exception as exc:  # the property is about which exceptions occur
        _assert_documented_refusal(exc)
        return
    # Accepted only what the model documents: float (N, 2, H, W) with H, W >= 17.
    assert dtype == torch.float32 and len(shape) == 4 and shape[1] == 2
    assert min(shape[2:]) >= MIN_SIDE
    assert out.shape == (shape[0], 3)


@FAST
@given(
    batch=st.integers(0, 3),
    height=st.integers(MIN_SIDE, 48),
    width=st.integers(MIN_SIDE, 48),
)
def test_any_side_the_strides_allow_gives_logits(
    small_model: MobileNetV1, batch: int, height: int, width: int
) -> None:
    with torch.no_grad():
        out = small_model(torch.randn(batch, 2, height, width))
        features = small_model.forward_intermediates(torch.randn(batch, 2, height, width))
    assert out.shape == (batch, 3)
    for feat, info in zip(features, small_model.feature_info, strict=True):
        # "same" padding: every stride-2 layer maps a side s to ceil(s / 2).
        reduction = info["reduction"]
        expected = (-(-height // reduction), -(-width // reduction))
        assert feat.shape == (batch, info["num_chs"], *expected)


@FAST
@given(
    name=st.one_of(
        st.text(max_size=20),
        st.sampled_from(list_models()).map(lambda n: n[:-1]),  # a truncated name
        st.sampled_from(list_models()).map(lambda n: n + ".sometag"),  # tag, no weights asked
        st.sampled_from(["mobilenet_v1_025", "mobilenet_v1_050"]),
    )
)
def test_any_model_name_builds_or_raises_key_error(name: str) -> None:
    try:
        model = create_model(name)
    except Exception as exc:  # the property is about which exceptions occur
        _assert_documented_refusal(exc)
        assert isinstance(exc, KeyError)
        assert "Valid names: " + ", ".join(list_models()) in str(exc)
        return
    assert name.partition(".")[0] in list_models()
    assert isinstance(model, MobileNetV1)


@FAST
@given(
    kind=st.sampled_from(["conv", "dw_sep", "pool", ""]),
    out_chs=st.one_of(st.integers(-2, 64), st.floats(1, 8), st.booleans()),
    stride=st.one_of(st.integers(-1, 3), st.floats(1, 2)),
    kernel=st.one_of(st.integers(-1, 6), st.floats(1, 5)),
)
def test_layer_config_valid_or_value_error(
    kind: str, out_chs: object, stride: object, kernel: object
) -> None:
    try:
        layer = LayerConfig(kind, out_chs, stride, kernel)  # type: ignore[arg-type]
    except ValueError as exc:
        _assert_documented_refusal(exc)
        assert "LayerConfig." in str(exc)
        return
    assert kind in ("conv", "dw_sep")
    assert type(out_chs) is int and out_chs >= 1
    assert type(stride) is int and stride in (1, 2)
    assert type(kernel) is int and kernel >= 1 and kernel % 2 == 1
    assert layer.out_chs == out_chs
