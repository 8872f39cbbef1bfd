"""Bad input gets a clear error from this library, never a traceback from inside torch."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from mobilenet_mnist import MobileNetV1, create_model, list_models, mobilenet_v1, register_model
from mobilenet_mnist.models import factory as factory_module
from mobilenet_mnist.models import get_arch

PACKAGE_DIR = Path(__import__("mobilenet_mnist").__file__).resolve().parent


def _assert_raised_by_library(excinfo: pytest.ExceptionInfo) -> None:
    """The innermost frame is this package's code (a check), not torch's internals."""
    innermost = Path(str(excinfo.traceback[-1].path)).resolve()
    assert PACKAGE_DIR in innermost.parents, f"raised in {innermost}"


@pytest.fixture(scope="module")
def model() -> MobileNetV1:
    return mobilenet_v1(width_mult=0.25).eval()


# ------------------------------------------------------------------ names
@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("mobilnet_v1_075", "mobilenet_v1_075"),
        ("mobilenet-v1-100", "mobilenet_v1_100"),
        ("MobileNet_V1_025", "mobilenet_v1_025"),
        ("mobilenet_v1_50.mnist", "mobilenet_v1_050"),
    ],
)
def test_unknown_model_name_suggests_the_close_one(name: str, suggestion: str) -> None:
    base = name.partition(".")[0]
    with pytest.raises(KeyError, match=rf"Unknown model '{base}'\. Did you mean '{suggestion}'\?"):
        create_model(name)


def test_unknown_model_name_lists_valid_names() -> None:
    with pytest.raises(KeyError) as excinfo:
        create_model("efficientnet_b0")
    message = str(excinfo.value)
    assert "Unknown model 'efficientnet_b0'" in message
    assert "Valid names: " + ", ".join(list_models()) in message


def test_model_name_must_be_a_string() -> None:
    with pytest.raises(TypeError, match=r"create_model expects a model name \(str\), got int"):
        create_model(100)  # type: ignore[arg-type]


def test_registering_a_model_name_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="'mobilenet_v1_100' is already registered"):
        register_model("mobilenet_v1_100")(lambda **kwargs: mobilenet_v1(**kwargs))
    assert factory_module._MODEL_REGISTRY["mobilenet_v1_100"] is factory_module.mobilenet_v1_100


@pytest.mark.parametrize(
    ("arch", "pattern"),
    [
        ("imagnet", r"Unknown architecture 'imagnet'\. Did you mean 'imagenet'\?"),
        ("MNIST", r"Unknown architecture 'MNIST'\..*Valid names: .*mnist"),
    ],
)
def test_unknown_arch_name(arch: str, pattern: str) -> None:
    with pytest.raises(KeyError, match=pattern):
        mobilenet_v1(arch=arch)
    with pytest.raises(KeyError, match=pattern):
        MobileNetV1(arch)
    with pytest.raises(KeyError, match=pattern):
        get_arch(arch)


@pytest.mark.parametrize("arch", [["mnist"], 3, None])
def test_arch_must_be_a_name_or_config(arch: object) -> None:
    with pytest.raises(TypeError, match=r"arch must be an architecture name \(one of imagenet, mnist"):
        mobilenet_v1(arch=arch)  # type: ignore[arg-type]


# ------------------------------------------------------------------ constructor arguments
@pytest.mark.parametrize("width", [0, 0.0, -0.5, -1, float("nan"), float("inf"), 4.5])
def test_width_mult_out_of_range(width: float) -> None:
    with pytest.raises(ValueError, match=r"width_mult must be in \[1e-06, 4\.0\], got"):
        mobilenet_v1(width_mult=width)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"width_mult": "0.5"}, r"width_mult must be a number, got str \('0\.5'\)"),
        ({"width_mult": None}, "width_mult must be a number, got NoneType"),
        ({"width_mult": True}, "width_mult must be a number, got bool"),
        ({"in_chans": 1.0}, r"in_chans must be an int, got float \(1\.0\)"),
        ({"in_chans": "3"}, "in_chans must be an int, got str"),
        ({"num_classes": 10.0}, "num_classes must be an int, got float"),
        ({"num_classes": True}, "num_classes must be an int, got bool"),
        ({"dropout": "0.1"}, "dropout must be a number, got str"),
        ({"resolution_mult": "1"}, "resolution_mult must be a number, got str"),
        ({"resolution_mult": None}, "resolution_mult must be a number, got NoneType"),
    ],
)
def test_bad_argument_types(kwargs: dict, pattern: str) -> None:
    with pytest.raises(TypeError, match=pattern) as excinfo:
        mobilenet_v1(**kwargs)
    _assert_raised_by_library(excinfo)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"in_chans": 0}, r"in_chans must be in \[1, 4096\], got 0"),
        ({"num_classes": -1}, r"num_classes must be in \[0, 1000000\], got -1"),
        ({"dropout": 1.0}, r"dropout must be in \[0\.0, 0\.999\], got 1\.0"),
        ({"dropout": -0.1}, "dropout must be in"),
        ({"resolution_mult": 0}, "resolution_mult must be a positive number, got 0"),
        ({"resolution_mult": -1.0}, "resolution_mult must be a positive number"),
        ({"resolution_mult": float("nan")}, "resolution_mult must be a positive number"),
        ({"resolution_mult": float("inf")}, "resolution_mult must be a positive number"),
        ({"resolution_mult": 1e308}, r"above 4096px .* use resolution_mult <= 128"),
    ],
)
def test_bad_argument_values(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        mobilenet_v1(**kwargs)


@pytest.mark.parametrize(("rho", "side"), [(0.5, 16), (0.25, 8), (0.01, 0)])
def test_resolution_mult_too_small(rho: float, side: int) -> None:
    with pytest.raises(
        ValueError,
        match=rf"resolution_mult={rho} gives a {side}px input.*minimum 17px, "
        r"i\.e\. resolution_mult >= 0\.531",
    ):
        mobilenet_v1(resolution_mult=rho)
    # 0.52 · 32 = 16.6 rounds to 17, the smallest side the five strides can take.
    assert mobilenet_v1(resolution_mult=0.52, width_mult=0.25).input_size == 17


def test_input_size_below_arch_minimum() -> None:
    with pytest.raises(ValueError, match=r"input_size must be in \[17, 4096\], got 16"):
        MobileNetV1("mnist", input_size=16)


def test_reset_classifier_rejects_bad_counts(model: MobileNetV1) -> None:
    with pytest.raises(ValueError, match="num_classes must be in"):
        model.reset_classifier(-3)
    with pytest.raises(TypeError, match="num_classes must be an int, got str"):
        model.reset_classifier("10")  # type: ignore[arg-type]
    assert model.num_classes == 10


# ------------------------------------------------------------------ forward inputs
EXPECTED = r"\(N, 1, H, W\) with H, W >= 17"


@pytest.mark.parametrize(
    ("shape", "pattern"),
    [
        ((2, 3, 32, 32), rf"Expected 1 input channel\(s\), i\.e\. shape {EXPECTED}, got shape "
         r"\(2, 3, 32, 32\)\. Build the model with in_chans=3"),
        ((1, 32, 32), rf"Expected a 4-D input of shape {EXPECTED}, got shape \(1, 32, 32\)\. "
         r"Add a batch axis"),
        ((32, 32), rf"Expected a 4-D input of shape {EXPECTED}, got shape \(32, 32\)"),
        ((1, 1, 1, 32, 32), rf"Expected a 4-D input of shape {EXPECTED}, got shape"),
        ((2, 1, 16, 16),
         rf"Input side \(16, 16\) is too small .*'mnist': expected shape {EXPECTED}"),
        ((2, 1, 32, 8), r"Input side \(32, 8\) is too small"),
    ],
)
def test_forward_rejects_bad_shapes(model: MobileNetV1, shape: tuple, pattern: str) -> None:
    x = torch.zeros(shape)
    for method in (model, model.forward_features, model.forward_intermediates):
        with pytest.raises(ValueError, match=pattern) as excinfo:
            method(x)
        _assert_raised_by_library(excinfo)


def test_message_names_the_models_channel_count() -> None:
    rgb = mobilenet_v1(width_mult=0.25, in_chans=3).eval()
    with pytest.raises(ValueError, match=r"Expected 3 input channel\(s\), i\.e\. shape \(N, 3, H"):
        rgb(torch.zeros(1, 1, 32, 32))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.bool])
def test_forward_rejects_integer_input(model: MobileNetV1, dtype: torch.dtype) -> None:
    expected = re.escape(f"Expected a floating-point input, got dtype {dtype}.")
    with pytest.raises(TypeError, match=expected):
        model(torch.zeros(2, 1, 32, 32, dtype=dtype))


def test_forward_rejects_non_tensors(model: MobileNetV1) -> None:
    with pytest.raises(TypeError, match=r"MobileNetV1 expects a torch\.Tensor, got ndarray"):
        model(np.zeros((2, 1, 32, 32), dtype=np.float32))


# ------------------------------------------------------------------ pretrained weights
def test_pretrained_for_an_arch_without_weights() -> None:
    with pytest.raises(ValueError, match="No published weights exist for arch 'imagenet'"):
        mobilenet_v1(pretrained=True, arch="imagenet", width_mult=0.25)


def test_pretrained_unknown_tag_lists_valid_names() -> None:
    from mobilenet_mnist.models.pretrained import list_pretrained

    with pytest.raises(KeyError) as excinfo:
        create_model("mobilenet_v1_050.sometag", pretrained=True)
    message = str(excinfo.value)
    assert "Unknown pretrained weights 'mobilenet_v1_050.sometag'" in message
    valid = list_pretrained()
    if valid:
        assert all(name in message for name in valid), message
        if "mobilenet_v1_050.mnist" in valid:
            assert "Did you mean 'mobilenet_v1_050.mnist'?" in message
    else:  # no weights shipped yet: the message says so and how to load others
        assert "no weights are registered" in message
        assert "pretrained='path/to/model.safetensors'" in message
