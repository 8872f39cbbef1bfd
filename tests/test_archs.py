"""The layer-config dataclasses and the architecture registry."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mobilenet_mnist import ArchConfig, LayerConfig, MobileNetV1, list_archs, mobilenet_v1, register_arch
from mobilenet_mnist.models import archs as archs_module
from mobilenet_mnist.models import get_arch

TINY = ArchConfig(
    name="tiny_test_arch",
    layers=(
        LayerConfig("conv", 16, 2),
        LayerConfig("dw_sep", 32, 1),
        LayerConfig("dw_sep", 64, 2, kernel_size=5),
        LayerConfig("dw_sep", 64, 1),
    ),
    input_size=20,
    description="A test-only network with a 5×5 depthwise kernel.",
)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, ArchConfig]:
    """A private copy of the registry, so registrations do not leak between tests."""
    private = dict(archs_module._ARCH_REGISTRY)
    monkeypatch.setattr(archs_module, "_ARCH_REGISTRY", private)
    return private


def test_builtin_archs_are_registered() -> None:
    assert {"mnist", "imagenet"} <= set(list_archs())
    assert list_archs() == sorted(list_archs())
    assert get_arch("mnist") is archs_module.MNIST_ARCH
    assert get_arch(archs_module.IMAGENET_ARCH) is archs_module.IMAGENET_ARCH


def test_mnist_arch_matches_design() -> None:
    arch = get_arch("mnist")
    rows = [(layer.kind, layer.out_chs, layer.stride) for layer in arch.layers]
    expected = [("conv", 32, 1), ("dw_sep", 64, 1), ("dw_sep", 128, 2), ("dw_sep", 128, 1),
                ("dw_sep", 256, 2), ("dw_sep", 256, 1), ("dw_sep", 512, 2)]
    expected += [("dw_sep", 512, 1)] * 5 + [("dw_sep", 1024, 2), ("dw_sep", 1024, 2)]
    assert rows == expected
    assert arch.input_size == 32
    assert arch.total_stride == 32  # 32→16→8→4→2→1


def test_imagenet_arch_matches_paper_table_1() -> None:
    arch = get_arch("imagenet")
    rows = [(layer.kind, layer.out_chs, layer.stride) for layer in arch.layers]
    expected = [("conv", 32, 2), ("dw_sep", 64, 1), ("dw_sep", 128, 2), ("dw_sep", 128, 1),
                ("dw_sep", 256, 2), ("dw_sep", 256, 1), ("dw_sep", 512, 2)]
    expected += [("dw_sep", 512, 1)] * 5 + [("dw_sep", 1024, 2), ("dw_sep", 1024, 1)]
    assert rows == expected
    assert arch.input_size == 224
    assert arch.total_stride == 32  # 224 → 7


def test_min_input_size_is_smallest_side_the_net_runs_on() -> None:
    arch = get_arch("mnist")
    model = MobileNetV1(arch, width_mult=0.25).eval()
    side = arch.min_input_size
    with torch.no_grad():
        assert model(torch.zeros(1, 1, side, side)).shape == (1, 10)
    with pytest.raises(ValueError, match="too small"):
        model(torch.zeros(1, 1, side - 1, side - 1))


def test_layer_config_is_frozen_and_hashable() -> None:
    layer = LayerConfig("dw_sep", 64, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        layer.stride = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_arch("mnist").layers = ()  # type: ignore[misc]
    assert layer == LayerConfig("dw_sep", 64, 2, 3)
    assert len({layer, LayerConfig("dw_sep", 64, 2)}) == 1
    assert hash(get_arch("mnist")) == hash(get_arch("mnist"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "pool", "out_chs": 8}, r"kind must be one of \('conv', 'dw_sep'\)"),
        ({"kind": "conv", "out_chs": 0}, "out_chs must be a positive int, got 0"),
        ({"kind": "conv", "out_chs": 8.0}, "out_chs must be a positive int"),
        ({"kind": "conv", "out_chs": True}, "out_chs must be a positive int"),
        ({"kind": "conv", "out_chs": 8, "stride": 3}, "stride must be 1 or 2, got 3"),
        ({"kind": "conv", "out_chs": 8, "stride": 2.0}, "stride must be 1 or 2, got 2.0"),
        ({"kind": "conv", "out_chs": 8, "kernel_size": 4}, "kernel_size must be a positive odd"),
        ({"kind": "conv", "out_chs": 8, "kernel_size": -1}, "kernel_size must be a positive odd"),
    ],
)
def test_layer_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LayerConfig(**kwargs)


def test_arch_config_validation() -> None:
    stem, block = LayerConfig("conv", 8, 2), LayerConfig("dw_sep", 16, 2)
    with pytest.raises(ValueError, match="has no layers"):
        ArchConfig("empty", (), 32)
    with pytest.raises(ValueError, match="must start with a 'conv' stem"):
        ArchConfig("no_stem", (block, block), 32)
    with pytest.raises(ValueError, match="every layer after the stem must be 'dw_sep'"):
        ArchConfig("two_stems", (stem, stem), 32)
    with pytest.raises(ValueError, match="input_size 2 is below the minimum 3"):
        ArchConfig("too_small", (stem, block), 2)
    with pytest.raises(TypeError, match="layers must be a tuple of LayerConfig"):
        ArchConfig("as_list", [stem, block], 32)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="layers must be a tuple of LayerConfig"):
        ArchConfig("as_dicts", ({"kind": "conv", "out_chs": 8},), 32)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name must be a non-empty str"):
        ArchConfig("", (stem,), 32)
    with pytest.raises(TypeError, match="input_size must be an int"):
        ArchConfig("float_size", (stem,), 32.0)  # type: ignore[arg-type]


def test_register_get_and_list(registry: dict[str, ArchConfig]) -> None:
    assert "tiny_test_arch" not in list_archs()
    assert register_arch(TINY) is TINY
    assert "tiny_test_arch" in list_archs()
    assert get_arch("tiny_test_arch") is TINY


def test_registering_a_name_twice_is_an_error(registry: dict[str, ArchConfig]) -> None:
    register_arch(TINY)
    with pytest.raises(ValueError, match="'tiny_test_arch' is already registered"):
        register_arch(dataclasses.replace(TINY, description="another"))
    with pytest.raises(ValueError, match="'mnist' is already registered"):
        register_arch(dataclasses.replace(get_arch("mnist")))
    assert get_arch("tiny_test_arch").description == TINY.description


def test_register_arch_rejects_non_configs(registry: dict[str, ArchConfig]) -> None:
    with pytest.raises(TypeError, match="register_arch expects an ArchConfig, got dict"):
        register_arch({"name": "x"})  # type: ignore[arg-type]


def test_registry_fixture_does_not_leak() -> None:
    assert "tiny_test_arch" not in list_archs()


def test_custom_arch_builds_and_runs(registry: dict[str, ArchConfig]) -> None:
    register_arch(TINY)
    model = mobilenet_v1(arch="tiny_test_arch", width_mult=0.5, num_classes=4).eval()
    assert model.arch is TINY
    assert model.pretrained_cfg["input_size"] == (1, 20, 20)
    assert model.pretrained_cfg["arch"] == "tiny_test_arch"
    assert model.pretrained_cfg["architecture"] == "mobilenet_v1"  # no named variant of this layer config
    # Channels: 16·0.5 → 8 (divisor 8), 32·0.5 = 16, 64·0.5 = 32.
    assert model.stem.conv.out_channels == 8
    assert model.stem.conv.stride == (2, 2)
    assert model.num_features == 32
    assert [info["reduction"] for info in model.feature_info] == [2, 4]
    assert model.stages[1][0].conv_dw.conv.kernel_size == (5, 5)
    with torch.no_grad():
        out = model(torch.randn(3, 1, 20, 20))
    assert out.shape == (3, 4)
    # The config object works without registering it, too.
    assert MobileNetV1(dataclasses.replace(TINY, name="unregistered")).num_features == 64


def test_unknown_arch_suggests_the_close_name() -> None:
    with pytest.raises(KeyError, match=r"Unknown architecture 'mnst'\. Did you mean 'mnist'\?"):
        get_arch("mnst")
    with pytest.raises(KeyError, match=r"Valid names: .*imagenet.*mnist"):
        get_arch("resnet50")
