"""int8 post-training quantization: ONNX Runtime (QDQ) and PyTorch (FX, x86 engine).

Fast tests use a small trained model and assert that int8 keeps its predictions; the slow
tests hold every published checkpoint to the project's target: int8 test accuracy within
0.1 point of fp32 on the full MNIST test set (measured changes: -0.01 to -0.04 point for ONNX
Runtime, -0.03 to +0.03 for PyTorch FX; see benchmarks/results/deploy_*.md).
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from deploy_helpers import mnist_inputs, mnist_split, small_trained_model
from torch import nn

from mobilenet_mnist import from_pretrained
from mobilenet_mnist.deploy.common import MissingExtraError
from mobilenet_mnist.deploy.export import export_model
from mobilenet_mnist.deploy.onnx_export import export_onnx, read_onnx_metadata
from mobilenet_mnist.deploy.quantize import (
    calibration_inputs,
    quantize_int8,
    quantize_onnx,
    sample_calibration_images,
)

NUM_CALIBRATION = 256  # PyTorch's histogram observers are slow; fewer than the default 1,024
# Until the α=0.25 checkpoint is published the tests use a model trained for 300 steps
# (~89 %), whose many near-ties make int8 flip ~3 % of predictions; the published one flips
# ~0.3 %. The slow tests hold published checkpoints to the 0.1-point target.
MIN_AGREEMENT = 0.95
MAX_ACCURACY_CHANGE = 1.5


def ort_logits(path: Path, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    chunks = [session.run(None, {"input": x[i: i + batch].numpy()})[0] for i in range(0, len(x), batch)]
    return torch.from_numpy(np.concatenate(chunks))


def torch_logits(model: nn.Module, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(x[i: i + batch]) for i in range(0, len(x), batch)])


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return 100.0 * float((logits.argmax(1) == labels).float().mean())


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def model(mnist_dir: Path) -> nn.Module:
    return small_trained_model(str(mnist_dir))


@pytest.fixture(scope="module")
def train_images(mnist_dir: Path) -> torch.Tensor:
    return mnist_split(str(mnist_dir), "train").images


@pytest.fixture(scope="module")
def test_set(mnist_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    return mnist_inputs(str(mnist_dir), 2000)


@pytest.fixture(scope="module")
def fp32_logits(model, test_set) -> torch.Tensor:
    return torch_logits(model, test_set[0])


@pytest.fixture(scope="module")
def torch_int8(model, train_images) -> nn.Module:
    return quantize_int8(model, train_images, num_calibration=NUM_CALIBRATION)


@pytest.fixture(scope="module")
def onnx_int8(model, train_images, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("int8")
    return quantize_onnx(model, folder / "int8.onnx", train_images)


# ---------------------------------------------------------------------- PyTorch (FX)
def test_torch_int8_is_really_quantized(torch_int8):
    kinds = {type(m).__module__ for m in torch_int8.modules()}
    assert any(k.startswith("torch.ao.nn.quantized") for k in kinds)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in torch_int8.modules())


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_torch_int8_runs_on_float_batches(torch_int8, test_set, batch):
    out = torch_logits(torch_int8, test_set[0][:batch])
    assert out.shape == (batch, 10) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_torch_int8_keeps_predictions(torch_int8, test_set, fp32_logits):
    x, labels = test_set
    int8_logits = torch_logits(torch_int8, x)
    agreement = float((int8_logits.argmax(1) == fp32_logits.argmax(1)).float().mean())
    assert agreement >= MIN_AGREEMENT
    assert abs(accuracy(int8_logits, labels) - accuracy(fp32_logits, labels)) <= MAX_ACCURACY_CHANGE


def test_quantize_int8_leaves_float_model_alone(model, torch_int8):
    assert isinstance(model.stem.bn, nn.BatchNorm2d)
    assert model.stem.conv.weight.dtype == torch.float32
    assert torch_int8.pretrained_cfg["input_size"] == model.pretrained_cfg["input_size"]


def test_int8_torchscript_round_trip(model, train_images, torch_int8, test_set, tmp_path):
    path = export_model(model, tmp_path / "int8.pt", format="torchscript", int8=True,
                        calibration_images=train_images, num_calibration=NUM_CALIBRATION)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(path))
    x = test_set[0][:64]
    # Same seed-fixed calibration subset, so the same int8 model: identical logits.
    torch.testing.assert_close(torch_logits(loaded, x), torch_logits(torch_int8, x), atol=1e-5, rtol=0)


# ---------------------------------------------------------------------- ONNX Runtime
def test_onnx_int8_file_is_quantized_and_smaller(model, onnx_int8, tmp_path):
    import onnx

    ops = {node.op_type for node in onnx.load(str(onnx_int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    fp32 = export_onnx(model, tmp_path / "fp32.onnx")
    assert onnx_int8.stat().st_size < 0.45 * fp32.stat().st_size


def test_onnx_int8_metadata(onnx_int8):
    meta = read_onnx_metadata(onnx_int8)
    assert meta["precision"] == "int8"
    assert "QDQ" in meta["quantization"] and "1024 training images" in meta["quantization"]
    assert "(7-bit)" in meta["quantization"]  # reduce_range: no vpmaddubsw saturation
    assert meta["input_size"] == [1, 32, 32] and meta["labels"][3] == "3"


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_onnx_int8_has_dynamic_batch(onnx_int8, test_set, batch):
    out = ort_logits(onnx_int8, test_set[0][:batch])
    assert out.shape == (batch, 10) and torch.isfinite(out).all()


def test_onnx_int8_keeps_predictions(onnx_int8, test_set, fp32_logits):
    x, labels = test_set
    int8_logits = ort_logits(onnx_int8, x)
    agreement = float((int8_logits.argmax(1) == fp32_logits.argmax(1)).float().mean())
    assert agreement >= MIN_AGREEMENT
    assert abs(accuracy(int8_logits, labels) - accuracy(fp32_logits, labels)) <= MAX_ACCURACY_CHANGE


def test_onnx_int8_hides_exporter_and_quantizer_chatter(model, train_images, tmp_path, capfd):
    root, handler = logging.getLogger(), logging.StreamHandler(sys.stderr)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        quantize_onnx(model, tmp_path / "q.onnx", train_images[:64], num_calibration=64)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    out, err = capfd.readouterr()
    chatter = ("No unused functions", "Skipping constant folding", "Performing symbolic shape inference")
    assert not [phrase for phrase in chatter if phrase in out + err], out + err


def test_missing_onnxruntime_gives_install_hint(model, train_images, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingExtraError, match=r'pip install "mobilenet-mnist\[onnx\]"'):
        quantize_onnx(model, tmp_path / "q.onnx", train_images[:8])
    assert not (tmp_path / "q.onnx").exists()


# -------------------------------------------------------------------- calibration data
def test_calibration_subset_is_fixed_and_sized(train_images):
    first = sample_calibration_images(train_images, 100, seed=3)
    assert first.shape == (100, 28, 28)
    assert torch.equal(first, sample_calibration_images(train_images, 100, seed=3))
    assert not torch.equal(first, sample_calibration_images(train_images, 100, seed=4))
    assert sample_calibration_images(train_images[:10], 100).shape[0] == 10


def test_uint8_calibration_images_are_preprocessed_like_inference(model, train_images):
    from mobilenet_mnist.data.transforms import preprocess

    inputs = calibration_inputs(model, train_images[:4])
    torch.testing.assert_close(inputs, preprocess(train_images[:4]))


@pytest.mark.parametrize(
    ("images", "error", "message"),
    [
        (torch.zeros(0, 28, 28, dtype=torch.uint8), ValueError, "empty"),
        (torch.zeros(4, 32, 32), ValueError, r"\(N, 1, H, W\)"),
        (torch.zeros(4, 3, 32, 32), ValueError, "uint8 digits"),
        ([[0, 1]], TypeError, "torch.Tensor"),
    ],
)
def test_bad_calibration_images_are_explained(model, images, error, message):
    with pytest.raises(error, match=message):
        calibration_inputs(model, images)


def test_bad_engine_lists_valid_ones(model, train_images):
    with pytest.raises(ValueError, match=r"engine must be one of \[.*'x86'.*\] \(this PyTorch build\), got 'avx512'"):
        quantize_int8(model, train_images[:8], engine="avx512")


def test_bad_calibration_count_is_rejected(train_images):
    with pytest.raises(ValueError, match="num must be >= 1, got 0"):
        sample_calibration_images(train_images, 0)
    with pytest.raises(TypeError, match="num must be an int"):
        sample_calibration_images(train_images, 10.0)


# --------------------------------------------------------------- published checkpoints
@pytest.fixture(scope="module")
def full_test_set(mnist_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    return mnist_inputs(str(mnist_dir), 10_000)


def published(name: str) -> torch.nn.Module:
    """A published checkpoint from its Hub-layout folder in the repository (no network)."""
    return from_pretrained(Path(__file__).resolve().parents[1] / "hub" / name).eval()


# Held to the target: the checkpoints the issue names (α = 1.0, 0.25) and α = 0.75;
# mobilenet_v1_050.mnist has not been measured yet.
INT8_CHECKED = ["mobilenet_v1_025.mnist", "mobilenet_v1_075.mnist", "mobilenet_v1_100.mnist"]


@pytest.mark.slow
@pytest.mark.parametrize("name", INT8_CHECKED)
def test_published_onnx_int8_within_0_1_point(name, train_images, full_test_set, tmp_path):
    model = published(name)
    x, labels = full_test_set
    path = quantize_onnx(model, tmp_path / "int8.onnx", train_images)
    drop = accuracy(torch_logits(model, x), labels) - accuracy(ort_logits(path, x), labels)
    assert drop <= 0.1


@pytest.mark.slow
@pytest.mark.parametrize("name", INT8_CHECKED)
def test_published_torch_int8_within_0_1_point(name, train_images, full_test_set):
    model = published(name)
    x, labels = full_test_set
    qmodel = quantize_int8(model, train_images)
    drop = accuracy(torch_logits(model, x), labels) - accuracy(torch_logits(qmodel, x), labels)
    assert drop <= 0.1
