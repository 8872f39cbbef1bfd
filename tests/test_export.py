"""Export round trips: ONNX (through ONNX Runtime), TorchScript and torch.export programs.

Each format is exported once per module from a trained α=0.25 model and reloaded the way
a deployment would; its logits must match eager PyTorch within 1e-4 and its top-1 must
agree on ≥ 99.9 % of MNIST test images, at several batch sizes from one dynamic-batch file.
"""

from __future__ import annotations

import ast
import graphlib
import json
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from deploy_helpers import mnist_inputs, small_trained_model
from torch import nn

import mobilenet_mnist
from mobilenet_mnist import list_models, mobilenet_v1, save_pretrained
from mobilenet_mnist.cli import main
from mobilenet_mnist.deploy.common import MissingExtraError
from mobilenet_mnist.deploy.export import (
    FORMATS,
    METADATA_FILE,
    default_export_path,
    export_model,
    export_program,
    export_torchscript,
)
from mobilenet_mnist.deploy.onnx_export import DEFAULT_OPSET, export_onnx, read_onnx_metadata
from mobilenet_mnist.deploy.quiet import CHATTY_LOGGERS

ATOL = 1e-4
BATCH_SIZES = (1, 7, 64)
Runner = Callable[[torch.Tensor], torch.Tensor]


# ----------------------------------------------------------------------------- loaders
def onnx_runner(path: Path) -> Runner:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda x: torch.from_numpy(session.run(None, {"input": x.numpy()})[0])


def torchscript_runner(path: Path) -> Runner:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated
        module = torch.jit.load(str(path))
    return lambda x: module(x).detach()


def program_runner(path: Path) -> Runner:
    module = torch.export.load(str(path)).module()
    return lambda x: module(x).detach()


LOADERS = {"onnx": onnx_runner, "torchscript": torchscript_runner, "exported-program": program_runner}


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def model(mnist_dir: Path) -> nn.Module:
    return small_trained_model(str(mnist_dir))


@pytest.fixture(scope="module")
def exported(model: nn.Module, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("exported")
    return {fmt: export_model(model, folder / f"model{suffix}", format=fmt) for fmt, suffix in FORMATS.items()}


@pytest.fixture(scope="module")
def runners(exported: dict[str, Path]) -> dict[str, Runner]:
    return {fmt: LOADERS[fmt](path) for fmt, path in exported.items()}


def eager(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


# ------------------------------------------------------------------------------ parity
@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_logits_match_eager_on_mnist_batches(model, runners, mnist_dir, fmt, batch):
    x, _ = mnist_inputs(str(mnist_dir), batch, offset=100 * batch)
    out = runners[fmt](x)
    assert out.shape == (batch, 10)
    torch.testing.assert_close(out, eager(model, x), atol=ATOL, rtol=0)


@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_logits_match_eager_on_random_inputs(model, runners, fmt, batch):
    x = torch.randn(batch, 1, 32, 32, generator=torch.Generator().manual_seed(batch))
    torch.testing.assert_close(runners[fmt](x), eager(model, x), atol=ATOL, rtol=0)


def _agreement(model: nn.Module, runner: Runner, x: torch.Tensor, batch: int) -> float:
    chunks = [runner(x[i: i + batch]).argmax(1) for i in range(0, len(x), batch)]
    return float((torch.cat(chunks) == eager(model, x).argmax(1)).float().mean())


@pytest.mark.slow  # 2,000 test images through each exported format
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_top1_agrees_on_2000_test_images(model, runners, mnist_dir, fmt):
    x, _ = mnist_inputs(str(mnist_dir), 2000)
    assert _agreement(model, runners[fmt], x, batch=250) >= 0.999


@pytest.mark.slow
@pytest.mark.parametrize("batch", (1, 7, 64))
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_top1_agrees_on_full_test_set(model, runners, mnist_dir, fmt, batch):
    x, _ = mnist_inputs(str(mnist_dir), 10_000)
    if batch == 1:
        x = x[:2000]  # 2,000 single-image runs already take a while
    assert _agreement(model, runners[fmt], x, batch) >= 0.999


# ---------------------------------------------------------------------------- metadata
def test_onnx_graph_has_names_opset_and_dynamic_batch(exported):
    import onnx

    proto = onnx.load(str(exported["onnx"]))
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch"
    assert [d.dim_value for d in dims[1:]] == [1, 32, 32]
    assert {o.domain: o.version for o in proto.opset_import}[""] == DEFAULT_OPSET
    onnx.checker.check_model(proto)


def test_onnx_metadata_describes_preprocessing(model, exported):
    meta = read_onnx_metadata(exported["onnx"])
    cfg = model.pretrained_cfg
    assert meta["mean"] == pytest.approx(list(cfg["mean"]))
    assert meta["std"] == pytest.approx(list(cfg["std"]))
    assert meta["input_size"] == [1, 32, 32]
    assert meta["labels"] == [str(d) for d in range(10)]
    assert meta["model_name"] == "mobilenet_v1_025"
    assert meta["library_version"] == mobilenet_mnist.__version__
    assert meta["precision"] == "fp32"
    assert meta["dynamic_batch"] is True


def test_metadata_travels_with_torchscript_and_program(exported):
    ts_files = {METADATA_FILE: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.load(str(exported["torchscript"]), _extra_files=ts_files)
    pt2_files = {METADATA_FILE: ""}
    torch.export.load(str(exported["exported-program"]), extra_files=pt2_files)
    ts_meta, pt2_meta = json.loads(ts_files[METADATA_FILE]), json.loads(pt2_files[METADATA_FILE])
    assert ts_meta["input_size"] == pt2_meta["input_size"] == [1, 32, 32]
    assert ts_meta["labels"] == pt2_meta["labels"] == [str(d) for d in range(10)]
    assert ts_meta["mean"] == pytest.approx([0.1307], abs=1e-3)
    assert ts_meta["precision"] == "fp32"


def test_user_metadata_and_input_size_are_recorded(tmp_path):
    model = mobilenet_v1(width_mult=0.25, resolution_mult=0.875)  # 28 px input
    path = export_onnx(model, tmp_path / "m.onnx", metadata={"dataset": "mnist"})
    meta = read_onnx_metadata(path)
    assert meta["input_size"] == [1, 28, 28] and meta["dataset"] == "mnist"
    x = torch.randn(3, 1, 28, 28)
    torch.testing.assert_close(onnx_runner(path)(x), eager(model.eval(), x), atol=ATOL, rtol=0)


# ------------------------------------------------------------------- shapes and options
def test_static_batch_program_rejects_other_batches(model, tmp_path):
    path = export_program(model, tmp_path / "static.pt2", dynamic_batch=False)
    module = torch.export.load(str(path)).module()
    x = torch.randn(1, 1, 32, 32)
    torch.testing.assert_close(module(x), eager(model, x), atol=ATOL, rtol=0)
    with pytest.raises((RuntimeError, AssertionError), match=r"(?i)shape|size|dim|expected"):
        module(torch.randn(7, 1, 32, 32))


def test_export_leaves_the_callers_model_alone(tmp_path):
    model = mobilenet_v1(width_mult=0.25).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export_torchscript(model, tmp_path / "m.pt")
    assert model.training
    assert isinstance(model.stem.bn, nn.BatchNorm2d)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_default_path_names_model_and_precision(model):
    assert default_export_path(model, "onnx") == Path("mobilenet_v1_025.onnx")
    assert default_export_path(model, "torchscript", int8=True) == Path("mobilenet_v1_025_int8.pt")
    assert default_export_path(model, "exported-program") == Path("mobilenet_v1_025.pt2")


# ----------------------------------------------------------------------- atomic writes
def test_failed_export_keeps_old_file_and_leaves_no_temp_files(monkeypatch, tmp_path):
    target = tmp_path / "model.pt"
    target.write_bytes(b"previous export")

    def broken_save(module, path, **kwargs):
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch.jit, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        export_torchscript(mobilenet_v1(width_mult=0.25), target)
    assert target.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_successful_export_replaces_old_file(tmp_path):
    target = tmp_path / "model.pt2"
    target.write_bytes(b"stale")
    export_program(mobilenet_v1(width_mult=0.25), target)
    assert target.read_bytes()[:2] == b"PK"  # a zip archive, as torch.export.save writes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt2"]


# ------------------------------------------------------------------------------ errors
def test_unknown_format_suggests_the_closest(model, tmp_path):
    with pytest.raises(ValueError, match="Did you mean 'onnx'"):
        export_model(model, tmp_path / "m", format="onx")


def test_bad_opset_says_what_is_supported(model, tmp_path):
    with pytest.raises(ValueError, match=r"opset must be an int in \[18, 23\].*got 11"):
        export_onnx(model, tmp_path / "m.onnx", opset=11)


def test_folder_as_output_path_is_rejected(model, tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        export_model(model, tmp_path, format="torchscript")


def test_non_module_is_rejected(tmp_path):
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        export_program({"weights": 1}, tmp_path / "m.pt2")


def test_int8_needs_calibration_images(model, tmp_path):
    with pytest.raises(ValueError, match="calibration_images"):
        export_model(model, tmp_path / "m.onnx", format="onnx", int8=True)


def test_int8_exported_program_points_to_supported_formats(model, tmp_path):
    images = torch.zeros(4, 28, 28, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"format='onnx'.*format='torchscript'"):
        export_model(model, tmp_path / "m.pt2", format="exported-program", int8=True,
                     calibration_images=images)


@pytest.mark.parametrize("missing", ["onnx", "onnxscript"])
def test_missing_onnx_extra_gives_install_hint(model, tmp_path, monkeypatch, missing):
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import <missing>` fail
    with pytest.raises(MissingExtraError, match=r'pip install "mobilenet-mnist\[onnx\]"') as info:
        export_model(model, tmp_path / "m.onnx", format="onnx")
    assert isinstance(info.value, ImportError)
    assert missing in str(info.value)
    assert not (tmp_path / "m.onnx").exists()


def test_missing_onnx_blocks_reading_metadata_with_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingExtraError, match="mobilenet-mnist"):
        read_onnx_metadata(tmp_path / "m.onnx")


# ------------------------------------------------------------------ quiet by default
#: What onnxscript and onnx_ir log at INFO during every export.
CHATTER = ("No unused functions to remove", "Skipping constant folding", "PassManager:")


@pytest.fixture
def info_logs_on_stderr(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Root logging at INFO onto stderr, as an application (or the CLI) typically sets it up."""
    root, handler = logging.getLogger(), logging.StreamHandler(sys.stderr)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield
    root.removeHandler(handler)
    root.setLevel(level)


def test_onnx_export_hides_exporter_chatter_unless_verbose(tmp_path, capfd, info_logs_on_stderr):
    model = mobilenet_v1(width_mult=0.25)
    levels = {name: logging.getLogger(name).level for name in CHATTY_LOGGERS}
    export_onnx(model, tmp_path / "quiet.onnx")
    out, err = capfd.readouterr()
    assert not [phrase for phrase in CHATTER if phrase in out + err], out + err
    assert {name: logging.getLogger(name).level for name in CHATTY_LOGGERS} == levels  # restored
    export_onnx(model, tmp_path / "verbose.onnx", verbose=True)
    out, err = capfd.readouterr()
    assert CHATTER[0] in out + err  # what the default hides


def test_export_command_prints_only_the_path(tmp_path, capfd):
    folder = tmp_path / "weights"
    save_pretrained(mobilenet_v1(width_mult=0.25), folder)
    target = tmp_path / "model.onnx"
    assert main(["export", str(folder), "--format", "onnx", "--output", str(target)]) == 0
    out, err = capfd.readouterr()
    assert out == f"{target}\n"
    assert not [phrase for phrase in CHATTER if phrase in out + err], err
    assert read_onnx_metadata(target)["input_size"] == [1, 32, 32]


# ------------------------------------------------------------------ package structure
DEPLOY_DIR = Path(mobilenet_mnist.deploy.__file__).parent


def _relative_imports(path: Path) -> list[tuple[str, str]]:
    """(sibling module, name) of every ``from .x import name`` / ``from . import x`` in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found += [(node.module.split(".")[0], alias.name) for alias in node.names]
            else:
                found += [(alias.name, "") for alias in node.names]
    return found


def test_deploy_modules_import_each_other_without_cycles():
    modules = {p.stem for p in DEPLOY_DIR.glob("*.py")} - {"__init__"}
    graph = {m: {t for t, _ in _relative_imports(DEPLOY_DIR / f"{m}.py") if t in modules} for m in modules}
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the cycle


def test_deploy_modules_import_no_private_names_from_each_other():
    private = {
        path.name: [f"{module}.{name}" for module, name in _relative_imports(path) if name.startswith("_")]
        for path in DEPLOY_DIR.glob("*.py")
    }
    assert not {k: v for k, v in private.items() if v}


# ---------------------------------------------------------------------- every model
@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
def test_every_model_exports_to_onnx_with_parity(name, tmp_path):
    model = mobilenet_mnist.create_model(name).eval()
    path = export_onnx(model, tmp_path / f"{name}.onnx")
    x = torch.randn(5, 1, 32, 32)
    out = onnx_runner(path)(x)
    # Random weights give logits of ~1e-2; compare relative to their scale too.
    np.testing.assert_allclose(out.numpy(), eager(model, x).numpy(), atol=ATOL, rtol=1e-3)
