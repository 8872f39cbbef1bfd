"""Property-based tests: any valid argument mix and any input side give the documented shapes.

Bad arguments and inputs are the audit's (``tests/test_audit.py``, fuzzed there too); these
tests draw only valid ones and check what comes out.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobilenet_mnist import MobileNetV1, mobilenet_v1

MIN_SIDE = 17  # smallest input side the MNIST config's five stride-2 layers take

# Small and fast: narrow widths, few examples, no per-example deadline (shared CI CPUs),
# a fixed seed so CI runs are reproducible.
FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(
    width=st.floats(0.05, 0.5),
    rho=st.floats(0.54, 1.5),
    in_chans=st.integers(1, 4),
    num_classes=st.integers(0, 12),
    batch=st.integers(1, 3),
)
def test_valid_arguments_build_and_run(width: float, rho: float, in_chans: int, num_classes: int, batch: int) -> None:
    model = mobilenet_v1(width_mult=width, resolution_mult=rho, in_chans=in_chans, num_classes=num_classes).eval()
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


@pytest.fixture(scope="module")
def small_model() -> MobileNetV1:
    return mobilenet_v1(width_mult=0.25, in_chans=2, num_classes=3).eval()


@FAST
@given(batch=st.integers(0, 3), height=st.integers(MIN_SIDE, 48), width=st.integers(MIN_SIDE, 48))
def test_any_side_the_strides_allow_gives_logits(small_model: MobileNetV1, batch: int, height: int, width: int) -> None:
    with torch.no_grad():
        out = small_model(torch.randn(batch, 2, height, width))
        features = small_model.forward_intermediates(torch.randn(batch, 2, height, width), intermediates_only=True)
    assert out.shape == (batch, 3)
    for feat, info in zip(features, small_model.feature_info, strict=True):
        # "same" padding: every stride-2 layer maps a side s to ceil(s / 2).
        reduction = info["reduction"]
        expected = (-(-height // reduction), -(-width // reduction))
        assert feat.shape == (batch, info["num_chs"], *expected)
