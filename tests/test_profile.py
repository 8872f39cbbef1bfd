"""Parameter and multiply-add counting against the paper and against a hand computation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mobilenet_mnist import ArchConfig, create_model, list_models, mobilenet_v1, profile_model
from mobilenet_mnist.models import count_params, get_arch

REL = 0.02  # the tolerance against the paper


def _reference_cost(
    arch: ArchConfig, width: float, in_chans: int, num_classes: int, side: int
) -> tuple[int, int]:
    """(params, mult-adds) from the paper's formulas, walking the layer table by hand.

    Standard conv: D_K·D_K·M·N·D_F·D_F; depthwise: D_K·D_K·M·D_F·D_F; pointwise:
    M·N·D_F·D_F (Howard et al., 2017, section 3.1). Parameters add 2 BatchNorm affine
    values per channel of every conv. Valid for widths where every scaled channel
    count is already a multiple of 8 (α ∈ {1, 0.75, 0.5, 0.25}).
    """
    stem = arch.layers[0]
    chs = int(stem.out_chs * width)
    side = -(-side // stem.stride)  # "same" padding: ceil(side / stride)
    params = stem.kernel_size**2 * in_chans * chs + 2 * chs
    macs = stem.kernel_size**2 * in_chans * chs * side * side
    for layer in arch.layers[1:]:
        out = int(layer.out_chs * width)
        side = -(-side // layer.stride)
        params += layer.kernel_size**2 * chs + 2 * chs + chs * out + 2 * out
        macs += layer.kernel_size**2 * chs * side * side + chs * out * side * side
        chs = out
    params += chs * num_classes + num_classes
    macs += chs * num_classes
    return params, macs


def _imagenet(width: float) -> nn.Module:
    return mobilenet_v1(arch="imagenet", width_mult=width, in_chans=3, num_classes=1000)


@pytest.mark.parametrize(
    ("width", "paper_mmacs", "paper_mparams"),
    [(1.0, 569, 4.2), (0.75, 325, 2.6), (0.5, 149, 1.3), (0.25, 41, 0.5)],
)
def test_paper_table_6_width_multiplier(
    width: float, paper_mmacs: float, paper_mparams: float
) -> None:
    cost = profile_model(_imagenet(width), 224)
    assert cost.input_size == (3, 224, 224)
    assert cost.macs / 1e6 == pytest.approx(paper_mmacs, rel=REL)
    assert round(cost.params / 1e6, 1) == paper_mparams  # the paper prints 0.1 M steps
    assert cost.params / 1e6 == pytest.approx(paper_mparams, rel=0.1)


def test_paper_table_7_resolution_multiplier() -> None:
    model = _imagenet(1.0)
    for side, paper_mmacs in [(224, 569), (192, 418), (160, 290), (128, 186)]:
        cost = profile_model(model, side)
        assert cost.macs / 1e6 == pytest.approx(paper_mmacs, rel=REL), side
        assert cost.params == count_params(model)  # resolution never changes parameters


def test_resolution_mult_sets_profiled_size() -> None:
    model = mobilenet_v1(arch="imagenet", resolution_mult=160 / 224, in_chans=3, num_classes=1000)
    assert model.pretrained_cfg["input_size"] == (3, 160, 160)
    assert profile_model(model).macs / 1e6 == pytest.approx(290, rel=REL)


def test_mnist_model_matches_design_figures() -> None:
    cost = profile_model(mobilenet_v1())
    assert cost.input_size == (1, 32, 32)
    assert cost.params == 3_216_650  # DESIGN.md: 3.217 M, BatchNorm included
    assert round(cost.params / 1e6, 3) == 3.217
    assert round(cost.macs / 1e6, 1) == 42.6


@pytest.mark.parametrize(
    ("arch", "width", "in_chans", "num_classes", "side"),
    [
        ("mnist", 1.0, 1, 10, 32),
        ("mnist", 0.75, 1, 10, 28),
        ("mnist", 0.5, 3, 26, 24),
        ("mnist", 0.25, 1, 10, 17),
        ("imagenet", 0.25, 3, 1000, 224),
        ("imagenet", 0.5, 1, 7, 96),
    ],
)
def test_profile_matches_hand_computation(
    arch: str, width: float, in_chans: int, num_classes: int, side: int
) -> None:
    model = mobilenet_v1(arch=arch, width_mult=width, in_chans=in_chans, num_classes=num_classes)
    cost = profile_model(model, side)
    expected = _reference_cost(get_arch(arch), width, in_chans, num_classes, side)
    assert (cost.params, cost.macs) == expected
    assert cost.params == sum(p.numel() for p in model.parameters())


def test_per_layer_rows_sum_to_totals() -> None:
    model = mobilenet_v1()
    cost = profile_model(model)
    # One stem conv, two convs per depthwise-separable block, one linear layer.
    num_blocks = len(get_arch("mnist").layers) - 1
    assert len(cost.layers) == 1 + 2 * num_blocks + 1
    assert sum(row.macs for row in cost.layers) == cost.macs
    bn_params = sum(
        p.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters()
    )
    assert sum(row.params for row in cost.layers) + bn_params == cost.params
    kinds = [row.kind for row in cost.layers]
    assert kinds[0] == "conv" and kinds[-1] == "linear"
    assert kinds.count("conv_dw") == num_blocks
    names = [row.name for row in cost.layers]
    assert names[0] == "stem.conv" and names[-1] == "classifier"
    assert all(isinstance(model.get_submodule(name), (nn.Conv2d, nn.Linear)) for name in names)


def test_one_depthwise_and_one_pointwise_layer_by_hand() -> None:
    # Block stages.1.0 of the MNIST net at α = 1: 64 channels in at 32×32, a stride-2
    # 3×3 depthwise conv to 16×16, then a 1×1 pointwise conv to 128 channels.
    rows = {row.name: row for row in profile_model(mobilenet_v1(), 32).layers}
    dw, pw = rows["stages.1.0.conv_dw.conv"], rows["stages.1.0.conv_pw.conv"]
    d_k, m, n, d_f = 3, 64, 128, 16
    assert dw.kind == "conv_dw" and pw.kind == "conv"
    assert dw.output_shape == (m, d_f, d_f) and pw.output_shape == (n, d_f, d_f)
    assert dw.macs == d_k * d_k * m * d_f * d_f == 147_456
    assert pw.macs == m * n * d_f * d_f == 2_097_152
    assert dw.params == d_k * d_k * m
    assert pw.params == m * n
    linear = rows["classifier"]
    assert (linear.macs, linear.params) == (1024 * 10, 1024 * 10 + 10)


@pytest.mark.parametrize("name", list_models())
def test_every_model_profiles_at_its_default_size(name: str) -> None:
    model = create_model(name)
    cost = profile_model(model)
    expected = _reference_cost(get_arch("mnist"), int(name[-3:]) / 100, 1, 10, 32)
    assert (cost.params, cost.macs) == expected


def test_profile_accepts_height_width_and_keeps_training_mode() -> None:
    model = mobilenet_v1(width_mult=0.25).train()
    square = profile_model(model, 32)
    rect = profile_model(model, (32, 64))
    assert model.training  # restored after the eval-mode counting pass
    assert rect.input_size == (1, 32, 64)
    conv_macs = square.macs - square.layers[-1].macs
    assert rect.macs - rect.layers[-1].macs == 2 * conv_macs
    model.eval()
    profile_model(model)
    assert not model.training


def test_profile_does_not_change_batchnorm_statistics() -> None:
    model = mobilenet_v1(width_mult=0.25).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    profile_model(model)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_profile_plain_module_needs_input_size() -> None:
    plain = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 8 * 8, 2))
    with pytest.raises(ValueError, match="needs input_size"):
        profile_model(plain)
    cost = profile_model(plain, 8)
    assert cost.macs == 3 * 9 * 4 * 8 * 8 + 4 * 8 * 8 * 2
    assert cost.params == count_params(plain) == 3 * 9 * 4 + 4 + 256 * 2 + 2


def test_count_params_trainable_only() -> None:
    model = mobilenet_v1(width_mult=0.25)
    total = count_params(model)
    for param in model.stem.parameters():
        param.requires_grad_(False)
    frozen = sum(p.numel() for p in model.stem.parameters())
    assert count_params(model, trainable_only=True) == total - frozen
    assert count_params(model) == total


def test_markdown_table_lists_layers_and_total() -> None:
    cost = profile_model(mobilenet_v1(width_mult=0.25))
    table = cost.to_markdown().splitlines()
    assert len(table) == 2 + len(cost.layers) + 1
    assert table[2].startswith("| stem.conv | conv | 8×32×32 |")
    assert table[-1] == f"| **total** | | | {cost.params:,} | {cost.macs:,} |"


def test_input_channels_come_from_the_first_convolution() -> None:
    """A peer without (or with stale) metadata is profiled with its real input channels."""
    plain = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    cost = profile_model(plain, input_size=4)
    assert cost.input_size == (1, 4, 4)
    assert cost.macs == 1 * 8 * 9 * 16 + 8 * 16 * 10
