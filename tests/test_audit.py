"""The bad-input audit: every public function and CLI command, one row per bad input.

This file is the one place for bad-input tests. :data:`AUDIT` holds one :class:`Case`
per (function or command, bad input): the call, the exception (or, for the CLI, exit
status 2) it must give, and a regex its message must match. The regexes ask for the two
things a useful message says: what was wrong (the value, dtype, shape, file, name) and
what is valid or how to fix it. :func:`assert_refused_clearly` is the one check of a
Python API refusal: the right exception type, a message that matches, and raised by
this package's own checks (the innermost traceback frame lies in ``mobilenet_mnist``),
never deep inside torch, numpy or PIL. The fuzz tests at the end feed random argument
mixes and inputs (hypothesis) and hold every refusal to the same check.

:data:`CONVERSIONS` lists inputs that look odd but have one sensible meaning (an RGBA or
16-bit image, a 100×37 image, an empty batch), with a check of what they become.

``docs/robustness.rst`` shows both tables: the docs build imports this file and renders
them (``docs/_ext/mnist_docs/audit.py``), so a row added here is on the page at the next
build. Rows with ``pending`` set need a fix in a file outside this audit (named in the
reason); they run as strict xfails until it lands and are left off the page.
"""

from __future__ import annotations

import errno
import functools
import gzip
import importlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn

import mobilenet_mnist
from mobilenet_mnist import (
    ArchConfig,
    LayerConfig,
    MobileNetV1,
    PretrainedCfg,
    TrainConfig,
    create_model,
    create_transform,
    evaluate,
    export_model,
    fit,
    freeze_backbone,
    from_pretrained,
    get_preset,
    list_models,
    list_pretrained,
    load_dataset,
    mobilenet_v1,
    optimize_for_inference,
    preprocess,
    profile_model,
    register_arch,
    register_model,
    register_timm,
    save_pretrained,
    train,
)
from mobilenet_mnist.cli import main
from mobilenet_mnist.data import (
    AugmentConfig,
    ImageTensors,
    augment_batch,
    pil_to_array,
    read_idx,
    resize_normalize,
    to_batch,
    train_val_split,
)
from mobilenet_mnist.data.digits import (
    BlankImageError,
    normalize_digits,
    normalize_digits_with_quality,
    prepare_digits,
    shorter_sides,
)
from mobilenet_mnist.data.transforms import open_image
from mobilenet_mnist.deploy import (
    OnnxRuntimeModule,
    backend_of,
    export_onnx,
    export_program,
    export_torchscript,
    fuse_conv_bn,
    quantize_int8,
    quantize_onnx,
    read_onnx_metadata,
)
from mobilenet_mnist.deploy.predictor import Predictor, predict
from mobilenet_mnist.deploy.stability import unsteadiness
from mobilenet_mnist.hub import load_pretrained, push_to_hub
from mobilenet_mnist.models import (
    count_params,
    factory,
    get_arch,
    get_pretrained_cfg,
    make_divisible,
    mobilenet_v1_025,
    mobilenet_v1_100,
    model_config,
    register_pretrained,
)
from mobilenet_mnist.models.archs import MNIST_ARCH
from mobilenet_mnist.training import (
    DistContext,
    EvalResult,
    extend_run,
    get_dist_context,
    load_run,
    param_groups,
    predict_logits,
    tensors_from_dataset,
    unfreeze_backbone,
)
from mobilenet_mnist.training.calibration import (
    auroc,
    calibrated_probs,
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    not_a_digit_score,
)

PACKAGE_DIR = Path(mobilenet_mnist.__file__).resolve().parent
CLASSES = tuple("0123456789")


# ====================================================================== the environment
class Env:
    """What a case needs: a scratch folder, the small model, MNIST, a saved checkpoint."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch, shared: dict[str, Any]) -> None:
        self.tmp = tmp
        self.monkeypatch = monkeypatch
        self.model: nn.Module = shared["model"]
        self.mnist: Path = shared["mnist"]
        self.checkpoint: Path = shared["checkpoint"]
        self.digit: np.ndarray = shared["digit"]

    def write(self, name: str, data: bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def folder(self, name: str, links: dict[str, str] | None = None) -> Path:
        """A folder whose files are symlinks to MNIST files (``{name in folder: MNIST name}``)."""
        folder = self.tmp / name
        folder.mkdir(parents=True, exist_ok=True)
        for link, target in (links or {}).items():
            (folder / link).symlink_to(self.mnist / target)
        return folder

    def image(self, name: str, image: Image.Image) -> Path:
        path = self.tmp / name
        image.save(path)
        return path

    def deny(self, method: str, target: Path) -> None:
        """Make ``Path.<method>`` raise PermissionError for ``target`` (a file) or the entries of
        ``target`` (a folder), as without read permission; chmod does not stop root, who may run CI."""
        original = getattr(Path, method)

        def denied(path: Path, *args: Any, **kwargs: Any) -> Any:
            if path.parent == target or (path == target and not target.is_dir()):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return original(path, *args, **kwargs)

        self.monkeypatch.setattr(Path, method, denied)

    def data(self, n: int = 4, classes: tuple[str, ...] = CLASSES) -> ImageTensors:
        return ImageTensors(torch.zeros(n, 28, 28, dtype=torch.uint8), torch.zeros(n, dtype=torch.long), classes)


def idx(code: int, shape: tuple[int, ...], payload: bytes | None = None) -> bytes:
    """An IDX file: two zero bytes, type code, rank, big-endian sizes, then the data."""
    header = bytes([0, 0, code, len(shape)]) + b"".join(s.to_bytes(4, "big") for s in shape)
    size = {0x08: 1, 0x0D: 4}.get(code, 1) * int(np.prod(shape))
    return header + (payload if payload is not None else bytes(size))


def rgba_digit(digit: np.ndarray) -> Image.Image:
    """A white digit on a transparent background whose hidden colour is white."""
    alpha = Image.fromarray(digit)
    image = Image.new("RGBA", alpha.size, (255, 255, 255, 0))
    image.putalpha(alpha)
    return image


# ====================================================================== the rows
@dataclass(frozen=True)
class Case:
    """One bad input: where it goes, what it is, what must happen, what the message says.

    Attributes:
        where: The function or command, e.g. ``"preprocess"`` or ``"mobilenet-mnist predict"``.
        bad: The bad input, as reST text for the docs table.
        call: Makes the call (API rows) or returns the argv (CLI rows).
        error: The exception type expected; ``SystemExit`` marks CLI rows (exit status 2).
        match: Regex the message (``str(error)``, or the CLI's stderr) must match.
        says: What the message tells the user, for the docs table.
        pending: Reason the row is a strict xfail for now (a fix outside these files).
        after: Runs after the refusal and asserts that nothing changed (a registry, a model).
    """

    where: str
    bad: str
    call: Callable[[Env], Any]
    error: type[BaseException]
    match: str
    says: str
    pending: str = ""
    after: Callable[[Env], None] | None = None

    @property
    def is_cli(self) -> bool:
        return self.error is SystemExit


def cli(where: str, bad: str, argv: Callable[[Env], list[str]], match: str, says: str) -> Case:
    return Case(f"mobilenet-mnist {where}", bad, argv, SystemExit, match, says)


def _x(*shape: int, dtype: torch.dtype = torch.float32, fill: float = 0.0) -> torch.Tensor:
    return torch.full(shape, fill, dtype=dtype)


def _head_unchanged(env: Env) -> None:
    assert env.model.num_classes == 10 and env.model.get_classifier().out_features == 10


def _registry_unchanged(env: Env) -> None:
    assert factory._MODEL_REGISTRY["mobilenet_v1_100"] is mobilenet_v1_100


def _onnx_graph(input_name: str = "input", output_name: str = "logits") -> bytes:
    """A one-node ONNX model (Identity): an ONNX Runtime session in milliseconds, no export."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", [input_name], [output_name])], "identity",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, None)],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8  # read by every ONNX Runtime the onnx extra allows
    return model.SerializeToString()


def _ort(env: Env) -> OnnxRuntimeModule:
    """An OnnxRuntimeModule for the small model; its input checks run before the (Identity) graph."""
    return OnnxRuntimeModule(_onnx_graph(), env.model)


def _finished_run(env: Env, name: str, epoch: int | None = None, **fields: Any) -> Path:
    """A run folder whose ``last.ckpt`` holds a recipe and ``epoch`` (default: all epochs), no weights."""
    cfg = TrainConfig(**fields)
    folder = env.folder(name)
    done = cfg.epochs if epoch is None else epoch
    checkpoint = {"config": cfg.to_dict(), "model": {}, "epoch": done, "train_time_s": 0.0, "history": "[]"}
    torch.save(checkpoint, folder / "last.ckpt")
    return folder


#: The recipe that extends a finished 1-epoch run by 2 SWA epochs.
_LONGER = {"epochs": 3, "swa_epochs": 2, "swa_lr": 0.02}
_TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def _torchrun(env: Env, **values: str) -> DistContext:
    """``get_dist_context()`` under a torchrun environment holding only ``values``."""
    for name in _TORCHRUN_ENV:
        env.monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        env.monkeypatch.setenv(name, value)
    return get_dist_context()


_RANGE = r"width_mult must be (a finite number )?in \[1e-06, 4(\.0)?\], got "
_MAX_CLASSES = r"\[0, (1000000|1e\+06)\]"

MODEL_ARGS = [
    Case("mobilenet_v1", "``width_mult=5.0``", lambda e: mobilenet_v1(width_mult=5.0), ValueError,
         _RANGE + r"5\.0", "the valid range of α"),
    Case("mobilenet_v1", "``width_mult=0``", lambda e: mobilenet_v1(width_mult=0), ValueError, _RANGE + r"0\.?$",
         "the valid range of α"),
    Case("mobilenet_v1", "``width_mult=-0.5``", lambda e: mobilenet_v1(width_mult=-0.5), ValueError,
         _RANGE + r"-0\.5", "the valid range of α"),
    Case("mobilenet_v1", "``width_mult=float('nan')``", lambda e: mobilenet_v1(width_mult=math.nan), ValueError,
         _RANGE + "nan", "the valid range of α (NaN is refused, not compared)"),
    Case("mobilenet_v1", "``width_mult=float('inf')``", lambda e: mobilenet_v1(width_mult=math.inf), ValueError,
         _RANGE + "inf", "the valid range of α"),
    Case("mobilenet_v1", "``width_mult='0.5'`` (a string)", lambda e: mobilenet_v1(width_mult="0.5"), TypeError,
         r"width_mult must be a number, got str \('0\.5'\)", "the expected type and the value"),
    Case("mobilenet_v1", "``width_mult=None``", lambda e: mobilenet_v1(width_mult=None), TypeError,
         r"width_mult must be a number, got NoneType", "the expected type"),
    Case("mobilenet_v1", "``width_mult=True``", lambda e: mobilenet_v1(width_mult=True), TypeError,
         r"width_mult must be a number, got bool", "that a bool is not a number"),
    Case("mobilenet_v1", "``resolution_mult=0.3``", lambda e: mobilenet_v1(resolution_mult=0.3), ValueError,
         r"resolution_mult=0\.3 gives a 10px input.*minimum 17px, i\.e\. resolution_mult >= 0\.531",
         "the input side it gives and the smallest valid ρ"),
    Case("mobilenet_v1", "``resolution_mult=0.5`` (16 px)", lambda e: mobilenet_v1(resolution_mult=0.5), ValueError,
         r"resolution_mult=0\.5 gives a 16px input.*minimum 17px, i\.e\. resolution_mult >= 0\.531",
         "the input side it gives and the smallest valid ρ"),
    Case("mobilenet_v1", "``resolution_mult=0.01`` (0 px)", lambda e: mobilenet_v1(resolution_mult=0.01),
         ValueError, r"resolution_mult=0\.01 gives a 0px input.*resolution_mult >= 0\.531",
         "the input side it gives and the smallest valid ρ"),
    Case("mobilenet_v1", "``resolution_mult=200``", lambda e: mobilenet_v1(resolution_mult=200), ValueError,
         r"above 4096px .* use resolution_mult <= 128", "the largest valid ρ"),
    Case("mobilenet_v1", "``resolution_mult=1e308``", lambda e: mobilenet_v1(resolution_mult=1e308), ValueError,
         r"above 4096px .* use resolution_mult <= 128", "the largest valid ρ (no overflow)"),
    Case("mobilenet_v1", "``resolution_mult=0``", lambda e: mobilenet_v1(resolution_mult=0), ValueError,
         r"resolution_mult must be a positive number, got 0", "that ρ is positive"),
    Case("mobilenet_v1", "``resolution_mult=float('nan')``", lambda e: mobilenet_v1(resolution_mult=math.nan),
         ValueError, r"resolution_mult must be a positive number", "that ρ is a positive number"),
    Case("mobilenet_v1", "``resolution_mult=float('inf')``", lambda e: mobilenet_v1(resolution_mult=math.inf),
         ValueError, r"resolution_mult must be a positive number", "that ρ is a positive number"),
    Case("mobilenet_v1", "``resolution_mult='1'``", lambda e: mobilenet_v1(resolution_mult="1"), TypeError,
         r"resolution_mult must be a number, got str", "the expected type"),
    Case("mobilenet_v1", "``resolution_mult=None``", lambda e: mobilenet_v1(resolution_mult=None), TypeError,
         r"resolution_mult must be a number, got NoneType", "the expected type"),
    Case("mobilenet_v1", "``in_chans=0``", lambda e: mobilenet_v1(in_chans=0), ValueError,
         r"in_chans must be in \[1, 4096\], got 0", "the valid range"),
    Case("mobilenet_v1", "``in_chans=1.0``", lambda e: mobilenet_v1(in_chans=1.0), TypeError,
         r"in_chans must be an int, got float \(1\.0\)", "the expected type"),
    Case("mobilenet_v1", "``in_chans='3'``", lambda e: mobilenet_v1(in_chans="3"), TypeError,
         r"in_chans must be an int, got str", "the expected type"),
    Case("mobilenet_v1", "``num_classes=-1``", lambda e: mobilenet_v1(num_classes=-1), ValueError,
         rf"num_classes must be in {_MAX_CLASSES}, got -1", "the valid range (0: no classifier)"),
    Case("mobilenet_v1", "``num_classes=10.0``", lambda e: mobilenet_v1(num_classes=10.0), TypeError,
         r"num_classes must be an int, got float", "the expected type"),
    Case("mobilenet_v1", "``num_classes=True``", lambda e: mobilenet_v1(num_classes=True), TypeError,
         r"num_classes must be an int, got bool", "that a bool is not a count"),
    Case("mobilenet_v1", "``dropout=1.0``", lambda e: mobilenet_v1(dropout=1.0), ValueError,
         r"dropout must be in \[0(\.0)?, 0\.999\], got 1\.0", "the valid range"),
    Case("mobilenet_v1", "``dropout=-0.1``", lambda e: mobilenet_v1(dropout=-0.1), ValueError,
         r"dropout must be in \[0(\.0)?, 0\.999\], got -0\.1", "the valid range"),
    Case("mobilenet_v1", "``dropout='0.1'``", lambda e: mobilenet_v1(dropout="0.1"), TypeError,
         r"dropout must be a number, got str", "the expected type"),
    Case("mobilenet_v1", "``num_class=5`` (misspelt keyword)", lambda e: mobilenet_v1(num_class=5), TypeError,
         r"unexpected keyword argument\(s\) 'num_class' \(did you mean 'num_classes'\?\)\. Valid keywords: ",
         "the closest keyword and all valid ones"),
    Case("mobilenet_v1", "``drop_rate=0.1`` (timm's name)", lambda e: mobilenet_v1(drop_rate=0.1), TypeError,
         r"'drop_rate' \(did you mean 'dropout'\?\)", "the keyword this library uses"),
    Case("mobilenet_v1", "``arch='imagnet'``", lambda e: mobilenet_v1(arch="imagnet"), KeyError,
         r"Unknown architecture 'imagnet'\. Did you mean 'imagenet'\?", "the closest architecture"),
    Case("mobilenet_v1", "``arch=['mnist']``", lambda e: mobilenet_v1(arch=["mnist"]), TypeError,
         r"arch must be an architecture name \(one of imagenet, mnist.*\) or an ArchConfig, got list",
         "the valid names and types"),
    Case("mobilenet_v1", "``arch=None``", lambda e: mobilenet_v1(arch=None), TypeError,
         r"arch must be an architecture name \(one of imagenet, mnist.*got NoneType", "the valid names and types"),
    Case("mobilenet_v1", "``pretrained=True`` for ``arch='imagenet'``",
         lambda e: mobilenet_v1(pretrained=True, arch="imagenet", width_mult=0.25), ValueError,
         r"No published weights exist for arch 'imagenet'; pass pretrained=False or a path/repo id",
         "that none are published, and what to pass instead"),
    Case("mobilenet_v1_025", "``width_mult=0.5``", lambda e: mobilenet_v1_025(width_mult=0.5), TypeError,
         r"mobilenet_v1_025 has width_mult=0\.25 built in, got width_mult=0\.5.*mobilenet_v1\(width_mult=",
         "that the width is fixed, and how to get another"),
    Case("MobileNetV1", "``'imagnet'`` as the architecture", lambda e: MobileNetV1("imagnet"), KeyError,
         r"Unknown architecture 'imagnet'\. Did you mean 'imagenet'\?", "the closest architecture"),
    Case("MobileNetV1", "``input_size=16``", lambda e: MobileNetV1("mnist", input_size=16), ValueError,
         r"input_size must be in \[17, 4096\], got 16", "the valid range"),
    Case("MobileNetV1.reset_classifier", "``2.5`` classes", lambda e: e.model.reset_classifier(2.5), TypeError,
         r"num_classes must be an int, got float \(2\.5\)", "the expected type",
         after=_head_unchanged),
    Case("MobileNetV1.reset_classifier", "``-3`` classes", lambda e: e.model.reset_classifier(-3), ValueError,
         rf"num_classes must be in {_MAX_CLASSES}, got -3", "the valid range", after=_head_unchanged),
    Case("make_divisible", "``'32'`` channels (a string)", lambda e: make_divisible("32"), TypeError,
         r"value must be a number, got str \('32'\)", "the expected type"),
    Case("make_divisible", "``float('nan')`` channels", lambda e: make_divisible(math.nan), ValueError,
         r"value must be a finite number > 0, got nan", "that the count is a positive number"),
    Case("make_divisible", "``-8`` channels", lambda e: make_divisible(-8), ValueError,
         r"value must be > 0, got -8", "that the count is positive"),
    Case("make_divisible", "``divisor=0``", lambda e: make_divisible(32, 0), ValueError,
         r"divisor must be >= 1, got 0", "the valid range (no ZeroDivisionError)"),
    Case("make_divisible", "``divisor=8.0``", lambda e: make_divisible(32, 8.0), TypeError,
         r"divisor must be an int, got float \(8\.0\)", "the expected type"),
    Case("make_divisible", "``min_value=-16``", lambda e: make_divisible(32, 8, -16), ValueError,
         r"min_value must be >= 1, got -16", "the valid range"),
]

_VALID_MODELS = re.escape("Valid names: " + ", ".join(list_models()) + ".")
_VALID_WEIGHTS = re.escape("Valid names: " + ", ".join(list_pretrained()) + ".")

NAMES = [
    Case("register_timm", "``pattern=3``", lambda e: register_timm(3), TypeError,
         r"pattern must be a str \(a shell wildcard such as '\*_050'\), got int", "the expected wildcard"),
    Case("register_timm", "a pattern no model matches", lambda e: register_timm("effnet*"), ValueError,
         r"No registered model matches 'effnet\*'; registered models: mobilenet_v1_025, ", "the registered models"),
    Case("create_model", "``'mobilenet_v2_100'``", lambda e: create_model("mobilenet_v2_100"), KeyError,
         r"Unknown model 'mobilenet_v2_100'\. Did you mean 'mobilenet_v1_100'\? Valid names: ",
         "the closest name and all valid ones"),
    Case("create_model", "``'mobilnet_v1_075'`` (a letter missing)", lambda e: create_model("mobilnet_v1_075"),
         KeyError, r"Unknown model 'mobilnet_v1_075'\. Did you mean 'mobilenet_v1_075'\?", "the closest name"),
    Case("create_model", "``'mobilenet-v1-100'`` (dashes)", lambda e: create_model("mobilenet-v1-100"), KeyError,
         r"Unknown model 'mobilenet-v1-100'\. Did you mean 'mobilenet_v1_100'\?", "the closest name"),
    Case("create_model", "``'MobileNet_V1_025'`` (capitals)", lambda e: create_model("MobileNet_V1_025"), KeyError,
         r"Unknown model 'MobileNet_V1_025'\. Did you mean 'mobilenet_v1_025'\?", "the closest name"),
    Case("create_model", "``'mobilenet_v1_50.mnist'`` (a tag on a wrong name)",
         lambda e: create_model("mobilenet_v1_50.mnist"), KeyError,
         r"Unknown model 'mobilenet_v1_50'\. Did you mean 'mobilenet_v1_050'\?", "the closest model name"),
    Case("create_model", "``'efficientnet_b0'`` (another family)", lambda e: create_model("efficientnet_b0"),
         KeyError, r"Unknown model 'efficientnet_b0'\. " + _VALID_MODELS, "every valid name"),
    Case("create_model", "``100``", lambda e: create_model(100), TypeError,
         r"create_model expects a model name \(str\), got int", "the expected type"),
    Case("create_model", "an unknown weight tag with ``pretrained=True``",
         lambda e: create_model("mobilenet_v1_050.sometag", pretrained=True), KeyError,
         r"Unknown pretrained weights 'mobilenet_v1_050\.sometag'\. Did you mean 'mobilenet_v1_050\.mnist'\? "
         + _VALID_WEIGHTS, "the closest weights and every registered name"),
    Case("create_model", "``pretrained='no/such/file.safetensors'``",
         lambda e: create_model("mobilenet_v1_025", pretrained="no/such/file.safetensors"), FileNotFoundError,
         r"Weights 'no/such/file\.safetensors' not found: it is no existing file or folder, no Hub repo id",
         "what a weight source may be"),
    Case("list_models", "``pattern=3``", lambda e: list_models(3), TypeError,
         r"pattern must be a str \(a shell wildcard such as '\*_050'\), got int", "the expected wildcard"),
    Case("register_model", "``'my.model'``", lambda e: register_model("my.model"), ValueError,
         r"Model name 'my\.model' must be non-empty and contain no '\.'.*weight tag",
         "that '.' separates the weight tag"),
    Case("register_model", "``3``", lambda e: register_model(3), TypeError,
         r"register_model expects a model name \(str\), got int", "the expected type"),
    Case("register_model", "a non-callable builder", lambda e: register_model("audit_model")(42), TypeError,
         r"decorates a function that builds the model, got int", "how to use the decorator"),
    Case("register_model", "a name already registered",
         lambda e: register_model("mobilenet_v1_100")(lambda **kwargs: mobilenet_v1(**kwargs)), ValueError,
         r"Model 'mobilenet_v1_100' is already registered; choose a different name", "to pick another name",
         after=_registry_unchanged),
    Case("get_arch", "``'mnst'``", lambda e: get_arch("mnst"), KeyError,
         r"Unknown architecture 'mnst'\. Did you mean 'mnist'\?", "the closest architecture"),
    Case("get_arch", "``'MNIST'`` (capitals)", lambda e: get_arch("MNIST"), KeyError,
         r"Unknown architecture 'MNIST'\. Valid names: .*mnist", "every valid name"),
    Case("register_arch", "a name instead of an ``ArchConfig``", lambda e: register_arch("mnist"), TypeError,
         r"register_arch expects an ArchConfig, got str", "the expected type"),
    Case("register_arch", "an architecture registered twice", lambda e: register_arch(MNIST_ARCH), ValueError,
         r"Architecture 'mnist' is already registered; choose a different name", "to pick another name"),
    Case("LayerConfig", "``kind='pool'``", lambda e: LayerConfig("pool", 8), ValueError,
         r"LayerConfig\.kind must be one of \('conv', 'dw_sep'\), got 'pool'", "the valid kinds"),
    Case("ArchConfig", "a second ``conv`` layer",
         lambda e: ArchConfig("tiny", (LayerConfig("conv", 8), LayerConfig("conv", 8)), 32), ValueError,
         r"Architecture 'tiny': every layer after the stem must be 'dw_sep'", "the rule"),
]

_EXPECTED = r"\(N, 1, H, W\) with H, W >= 17"

FORWARD = [
    Case("MobileNetV1 (forward)", "float64 input to a float32 model", lambda e: e.model(_x(2, 1, 32, 32).double()),
         TypeError, r"Input dtype torch\.float64 does not match the model's torch\.float32 weights\. Convert the "
         r"input with x\.float\(\), or the model with model\.double\(\)", "both fixes: ``x.float()`` or "
         "``model.double()``"),
    Case("MobileNetV1 (forward)", "float16 input to a float32 model", lambda e: e.model(_x(2, 1, 32, 32).half()),
         TypeError, r"torch\.float16 does not match .* x\.float\(\), or the model with model\.half\(\)",
         "both fixes"),
    Case("MobileNetV1 (forward)", "float32 input to a ``model.double()``",
         lambda e: mobilenet_v1(width_mult=0.25).double().eval()(_x(2, 1, 32, 32)), TypeError,
         r"Convert the input with x\.double\(\), or the model with model\.float\(\)", "both fixes"),
    Case("MobileNetV1 (forward)", "uint8 pixels", lambda e: e.model(_x(2, 1, 32, 32, dtype=torch.uint8)), TypeError,
         r"Expected a floating-point input, got dtype torch\.uint8\. Normalise images first, e\.g\. with "
         r"mobilenet_mnist\.preprocess", "to normalise with ``preprocess``"),
    Case("MobileNetV1 (forward)", "int64 input", lambda e: e.model(_x(2, 1, 32, 32, dtype=torch.int64)), TypeError,
         r"Expected a floating-point input, got dtype torch\.int64", "the dtype"),
    Case("MobileNetV1 (forward)", "3 channels into a 1-channel model", lambda e: e.model(_x(2, 3, 32, 32)),
         ValueError, r"Expected 1 input channel\(s\).*got shape \(2, 3, 32, 32\)\. Build the model with in_chans=3",
         "the expected shape and ``in_chans=3``"),
    Case("MobileNetV1 (forward)", "a 3-D image (no batch axis)", lambda e: e.model(_x(1, 32, 32)), ValueError,
         r"Expected a 4-D input of shape \(N, 1, H, W\).*Add a batch axis with x\.unsqueeze\(0\)",
         "to add the batch axis with ``unsqueeze(0)``"),
    Case("MobileNetV1 (forward)", "16×16 input", lambda e: e.model(_x(2, 1, 16, 16)), ValueError,
         r"Input side \(16, 16\) is too small .*H, W >= 17", "the smallest side the strides take"),
    Case("MobileNetV1 (forward)", "NaN in the input", lambda e: e.model(_x(2, 1, 32, 32, fill=float("nan"))),
         ValueError, r"The input contains NaN or infinite values \(2048 NaN, 0 inf of 2048\)",
         "how many NaN and inf values"),
    Case("MobileNetV1 (forward)", "one +inf pixel",
         lambda e: e.model(torch.zeros(2, 1, 32, 32).index_put_((torch.tensor(0),) * 4, torch.tensor(np.inf))),
         ValueError, r"contains NaN or infinite values \(0 NaN, 1 inf of 2048\)", "how many"),
    Case("MobileNetV1.forward_features", "NaN in the input",
         lambda e: e.model.forward_features(_x(1, 1, 32, 32, fill=float("nan"))), ValueError,
         r"contains NaN or infinite values", "that the logits would be meaningless"),
    Case("MobileNetV1.forward_intermediates", "float64 input",
         lambda e: e.model.forward_intermediates(_x(1, 1, 32, 32).double()), TypeError,
         r"Input dtype torch\.float64 does not match", "both fixes"),
    Case("MobileNetV1 (forward)", "a numpy array", lambda e: e.model(np.zeros((1, 1, 32, 32), np.float32)),
         TypeError, r"MobileNetV1 expects a torch\.Tensor, got ndarray", "the expected type"),
    Case("MobileNetV1 (forward)", "input on another device",
         lambda e: e.model(torch.zeros(1, 1, 32, 32, device="meta")), TypeError,
         r"The input is on device meta but the model's weights are on cpu; .*x\.to\('cpu'\)",
         "both devices and ``x.to(...)``"),
    Case("MobileNetV1 (forward)", "1 image of 32×32 in training mode",
         lambda e: mobilenet_v1(width_mult=0.25).train()(_x(1, 1, 32, 32)), ValueError,
         r"A batch of 1 image of side \(32, 32\) ends in a 1×1 feature map.*Call model\.eval\(\)",
         "to call ``model.eval()`` or train with 2+ images"),
    Case("MobileNetV1.fuse (forward)", "float64 input to the fused copy",
         lambda e: e.model.fuse()(_x(1, 1, 32, 32).double()), TypeError,
         r"Input dtype torch\.float64 does not match", "both fixes"),
    Case("MobileNetV1 (forward)", "bool input", lambda e: e.model(_x(2, 1, 32, 32, dtype=torch.bool)), TypeError,
         r"Expected a floating-point input, got dtype torch\.bool", "the dtype"),
    Case("MobileNetV1 (forward)", "a 2-D image", lambda e: e.model(_x(32, 32)), ValueError,
         r"Expected a 4-D input of shape " + _EXPECTED + r", got shape \(32, 32\)", "the expected shape"),
    Case("MobileNetV1 (forward)", "a 5-D batch", lambda e: e.model(_x(1, 1, 1, 32, 32)), ValueError,
         r"Expected a 4-D input of shape " + _EXPECTED + r", got shape \(1, 1, 1, 32, 32\)", "the expected shape"),
    Case("MobileNetV1 (forward)", "32×8 input (one side too small)", lambda e: e.model(_x(2, 1, 32, 8)), ValueError,
         r"Input side \(32, 8\) is too small .*'mnist': expected shape " + _EXPECTED, "the smallest side"),
    Case("MobileNetV1 (forward)", "1 channel into a 3-channel model",
         lambda e: mobilenet_v1(width_mult=0.25, in_chans=3).eval()(_x(1, 1, 32, 32)), ValueError,
         r"Expected 3 input channel\(s\), i\.e\. shape \(N, 3, H, W\)", "the model's channel count"),
    Case("MobileNetV1.forward_features", "3 channels into a 1-channel model",
         lambda e: e.model.forward_features(_x(2, 3, 32, 32)), ValueError,
         r"Expected 1 input channel\(s\), i\.e\. shape " + _EXPECTED + r", got shape \(2, 3, 32, 32\)\. Build the "
         r"model with in_chans=3", "the expected shape and ``in_chans=3``"),
    Case("MobileNetV1.forward_features", "a 3-D image (no batch axis)",
         lambda e: e.model.forward_features(_x(1, 32, 32)), ValueError,
         r"Expected a 4-D input of shape " + _EXPECTED + r", got shape \(1, 32, 32\)\. Add a batch axis",
         "to add the batch axis"),
    Case("MobileNetV1.forward_features", "16×16 input", lambda e: e.model.forward_features(_x(2, 1, 16, 16)),
         ValueError, r"Input side \(16, 16\) is too small .*'mnist': expected shape " + _EXPECTED,
         "the smallest side"),
    Case("MobileNetV1.forward_intermediates", "3 channels into a 1-channel model",
         lambda e: e.model.forward_intermediates(_x(2, 3, 32, 32)), ValueError,
         r"Expected 1 input channel\(s\).*Build the model with in_chans=3", "the expected shape and ``in_chans=3``"),
    Case("MobileNetV1.forward_intermediates", "a 3-D image (no batch axis)",
         lambda e: e.model.forward_intermediates(_x(1, 32, 32)), ValueError,
         r"Expected a 4-D input of shape " + _EXPECTED + r", got shape \(1, 32, 32\)", "to add the batch axis"),
    Case("MobileNetV1.forward_intermediates", "32×8 input",
         lambda e: e.model.forward_intermediates(_x(2, 1, 32, 8)), ValueError,
         r"Input side \(32, 8\) is too small", "the smallest side"),
]

PROFILE = [
    Case("profile_model", "``input_size='32'``", lambda e: profile_model(e.model, "32"), TypeError,
         r"input_size must be an int side or an \(H, W\) pair of ints, got '32'", "the accepted forms"),
    Case("profile_model", "``input_size=(32, 32, 32)``", lambda e: profile_model(e.model, (32, 32, 32)), TypeError,
         r"an \(H, W\) pair of ints, got \(32, 32, 32\)", "the accepted forms"),
    Case("profile_model", "``input_size=0``", lambda e: profile_model(e.model, 0), ValueError,
         r"input_size sides must be positive pixel counts, got 0", "that sides are positive"),
    Case("profile_model", "``input_size=8``", lambda e: profile_model(e.model, 8), ValueError,
         r"Input side \(8, 8\) is too small .*>= 17", "the smallest side"),
    Case("profile_model", "a string instead of a model", lambda e: profile_model("mobilenet_v1_100"), TypeError,
         r"profile_model expects a torch\.nn\.Module, got str", "the expected type"),
    Case("count_params", "``None``", lambda e: count_params(None), TypeError,
         r"count_params expects a torch\.nn\.Module, got NoneType", "the expected type"),
]

IDX = [
    Case("read_idx", "bad magic number", lambda e: read_idx(e.write("bad-idx1-ubyte", b"\x01\x02\x08\x01" + bytes(8))),
         ValueError, r"is not an IDX file \(bad magic number .*\): IDX files start with two zero bytes",
         "what an IDX header looks like"),
    Case("read_idx", "unknown type code 0x07", lambda e: read_idx(e.write("t-idx1-ubyte", idx(0x07, (1,), b"\x05"))),
         ValueError, r"unknown IDX type code 0x07; valid codes: 0x08 \(uint8\), 0x09 \(int8\)", "the valid codes"),
    Case("read_idx", "0 dimensions", lambda e: read_idx(e.write("z-idx1-ubyte", idx(0x08, (), b"\x05"))), ValueError,
         r"declares 0 dimensions; IDX files hold arrays of at least one dimension", "what is required"),
    Case("read_idx", "header cut short", lambda e: read_idx(e.write("h-idx3-ubyte", idx(0x08, (2, 3, 3))[:10])),
         ValueError, r"is truncated: header needs 16 bytes, file has 10", "the sizes"),
    Case("read_idx", "data shorter than the header says",
         lambda e: read_idx(e.write("s-idx3-ubyte", idx(0x08, (2, 28, 28), bytes(100)))), ValueError,
         r"has 116 bytes but its header \(shape \(2, 28, 28\)\) implies 1584: .*download it again",
         "the sizes, and to download again"),
    Case("read_idx", "``.gz`` file that is not gzip",
         lambda e: read_idx(e.write("t10k-labels-idx1-ubyte.gz", idx(0x08, (3,)))), ValueError,
         r"its name ends in \.gz but it is not gzip-compressed\. It looks like an uncompressed IDX file: drop "
         r"the \.gz suffix", "to drop the suffix"),
    Case("read_idx", "gzip data without ``.gz``",
         lambda e: read_idx(e.write("t10k-labels-idx1-ubyte", gzip.compress(idx(0x08, (3,))))), ValueError,
         r"it is gzip-compressed but its name lacks \.gz; rename it to t10k-labels-idx1-ubyte\.gz",
         "to rename or decompress it"),
    Case("read_idx", "truncated gzip",
         lambda e: read_idx(e.write("c-idx1-ubyte.gz", gzip.compress(idx(0x08, (3,)))[:-6])),
         ValueError, r"corrupt or truncated gzip data .*download it again", "to download again"),
    Case("read_idx", "a folder", lambda e: read_idx(e.tmp), IsADirectoryError,
         r"is a folder; read_idx reads one IDX file .*load_dataset reads a folder", "which function reads folders"),
    Case("read_idx", "a missing file", lambda e: read_idx(e.tmp / "nope-idx1-ubyte"), FileNotFoundError,
         r"IDX file .*nope-idx1-ubyte does not exist", "the path"),
    Case("read_idx", "unreadable file (no permission)",
         lambda e: (e.deny("read_bytes", e.write("p-idx1-ubyte", idx(0x08, (1,)))), read_idx(e.tmp / "p-idx1-ubyte")),
         PermissionError, r"Cannot read IDX file .*p-idx1-ubyte: permission denied; check its permissions",
         "the file and to check its permissions"),
    Case("read_idx", "``3`` instead of a path", lambda e: read_idx(3), TypeError,
         r"read_idx expects a file path \(str or os\.PathLike\), got int", "the expected type"),
]

DATA = [
    Case("load_dataset", "an empty folder", lambda e: load_dataset("mnist", "test", e.folder("empty")),
         FileNotFoundError, r"mnist test files not found \(missing: t10k-images-idx3-ubyte\[\.gz\], "
         r"t10k-labels-idx1-ubyte\[\.gz\]\)\. Looked in: .*--data-dir FOLDER", "which files, where it looked, "
         "how to get them"),
    Case("load_dataset", "a folder missing the labels file",
         lambda e: load_dataset("mnist", "test", e.folder("half", {"t10k-images-idx3-ubyte.gz":
                                                                   "t10k-images-idx3-ubyte.gz"})),
         FileNotFoundError, r"\(missing: t10k-labels-idx1-ubyte\[\.gz\]\)", "the missing file"),
    Case("load_dataset", "a folder that does not exist", lambda e: load_dataset("mnist", "test", e.tmp / "nowhere"),
         FileNotFoundError, r"Data folder .*nowhere does not exist\. Pass root=FOLDER \(CLI: --data-dir FOLDER\)",
         "the folder and what to pass"),
    Case("load_dataset", "a file as the folder",
         lambda e: load_dataset("mnist", "test", e.write("notes.txt", b"hi")), NotADirectoryError,
         r"Data folder .*notes\.txt is a file; pass the folder that holds the four IDX files", "what to pass"),
    Case("load_dataset", "unreadable folder (no permission)",
         lambda e: (e.deny("is_file", e.folder("locked")), load_dataset("mnist", "test", e.tmp / "locked")),
         PermissionError, r"Cannot look into data folder .*locked: permission denied; check its permissions",
         "the folder and to check its permissions"),
    Case("load_dataset", "``root=3``", lambda e: load_dataset("mnist", "test", 3), TypeError,
         r"root must be a folder path \(str or os\.PathLike\) or None, got int", "the expected type"),
    Case("load_dataset", "test images with train labels",
         lambda e: load_dataset("mnist", "test", e.folder("mixed", {
             "t10k-images-idx3-ubyte.gz": "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz": "train-labels-idx1-ubyte.gz"})), ValueError,
         r"holds 10000 images but .* holds 60000 labels: the two files do not belong together",
         "both counts; that the files do not match"),
    Case("load_dataset", "images and labels files swapped",
         lambda e: load_dataset("mnist", "test", e.folder("swapped", {
             "t10k-images-idx3-ubyte.gz": "t10k-labels-idx1-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz": "t10k-images-idx3-ubyte.gz"})), ValueError,
         r"expected images \(N, H, W\) and labels \(N,\), got \(10000,\) and \(10000, 28, 28\); are the two "
         r"files swapped", "both shapes; that they look swapped"),
    Case("load_dataset", "float32 IDX images",
         lambda e: (e.write("f/t10k-images-idx3-ubyte", idx(0x0D, (2, 28, 28))),
                    e.write("f/t10k-labels-idx1-ubyte", idx(0x08, (2,))),
                    load_dataset("mnist", "test", e.tmp / "f"))[-1], ValueError,
         r"expected uint8 images and labels \(IDX type code 0x08\), got torch\.float32 and torch\.uint8",
         "the dtype found and the one expected"),
    Case("load_dataset", "``'fashion-mnist'``", lambda e: load_dataset("fashion-mnist"), KeyError,
         r"Unknown dataset 'fashion-mnist'\. Did you mean 'fashion_mnist'\?", "the closest name"),
    Case("load_dataset", "``split='val'``", lambda e: load_dataset("mnist", "val", e.mnist), ValueError,
         r"split must be 'train' or 'test', got 'val'", "the valid splits"),
    Case("train_val_split", "``num_train=100.0``", lambda e: train_val_split(100.0, 5), TypeError,
         r"num_train must be an int, got float \(100\.0\)", "the expected type"),
    Case("train_val_split", "``val_size=100`` of 100", lambda e: train_val_split(100, 100), ValueError,
         r"val_size must be in \[0, 100\), got 100", "the valid range"),
    Case("ImageTensors", "a label outside the classes",
         lambda e: ImageTensors(torch.zeros(2, 28, 28, dtype=torch.uint8), torch.tensor([0, 12]), CLASSES),
         ValueError, r"labels must be in \[0, 10\) for the 10 classes .*got range \[0, 12\]", "the valid range"),
    Case("ImageTensors", "3 images, 2 labels",
         lambda e: ImageTensors(torch.zeros(3, 28, 28, dtype=torch.uint8), torch.zeros(2, dtype=torch.long), CLASSES),
         ValueError, r"needs images \(N, H, W\) or \(N, C, H, W\) and labels \(N,\), got \(3, 28, 28\) and \(2,\)",
         "both shapes"),
    Case("ImageTensors", "float labels",
         lambda e: ImageTensors(torch.zeros(2, 28, 28, dtype=torch.uint8), torch.zeros(2), CLASSES), TypeError,
         r"labels must be integer class indices, got dtype torch\.float32", "the dtype"),
]

PREPROCESS = [
    Case("pil_to_array", "a str", lambda e: pil_to_array("digit.png", 1), TypeError,
         r"takes torch tensors, numpy arrays, PIL images or lists of them, got str", "what it takes"),
    Case("to_batch", "a 5-D tensor", lambda e: to_batch(_x(2, 2, 2, 2, 2), 1), ValueError,
         r"Expected an image \(H, W\), a batch \(N, H, W\) or \(N, C, H, W\), got shape \(2, 2, 2, 2, 2\)",
         "the shapes it takes"),
    Case("preprocess", "a (28, 28, 3) channels-last array", lambda e: preprocess(np.zeros((28, 28, 3), np.uint8)),
         ValueError, r"Shape \(28, 28, 3\) looks like a channels-last \(H, W, C\) image.*np\.moveaxis\(x, -1, 0\)",
         "the layouts it takes and how to move the channels"),
    Case("preprocess", "(N, H, W, C) into an RGB model",
         lambda e: preprocess(torch.zeros(4, 28, 28, 3), mean=(0.5,) * 3, std=(0.5,) * 3), ValueError,
         r"Expected 3 channel\(s\), got shape \(4, 28, 28, 3\).*use x\.permute\(0, 3, 1, 2\)", "the permute"),
    Case("preprocess", "an empty batch", lambda e: preprocess(torch.zeros(0, 28, 28, dtype=torch.uint8)), ValueError,
         r"preprocess got an empty batch \(N = 0\)", "N = 0"),
    Case("preprocess", "an image 0 pixels wide", lambda e: preprocess(torch.zeros(28, 0, dtype=torch.uint8)),
         ValueError, r"images with an empty side: shape \(1, 1, 28, 0\)", "the shape"),
    Case("preprocess", "+inf in a float image", lambda e: preprocess(torch.full((28, 28), float("inf"))), ValueError,
         r"Images contain NaN or infinite values", "that values are NaN/inf"),
    Case("preprocess", "float pixels in 0–255", lambda e: preprocess(torch.full((28, 28), 200.0)), ValueError,
         r"Float images must be scaled to \[0, 1\], got range \[200, 200\]; divide uint8 pixels by 255",
         "the range found and the fix"),
    Case("preprocess", "int32 pixels up to 783", lambda e: preprocess(np.arange(784, dtype=np.int32).reshape(28, 28)),
         ValueError, r"Integer images must hold values in \[0, 255\], got range \[0, 783\]; for 16-bit images",
         "the range found, and the 16-bit alternatives"),
    Case("preprocess", "int8 pixels", lambda e: preprocess(torch.zeros(28, 28, dtype=torch.int8)), TypeError,
         r"Unsupported image dtype torch\.int8; use uint8 \(0-255\), uint16 \(0-65535\) or float \(0-1\)",
         "the supported dtypes"),
    Case("preprocess", "an object array", lambda e: preprocess(np.array([[None]])), TypeError,
         r"Unsupported image dtype object", "the supported dtypes"),
    Case("preprocess", "a PIL ``F`` image in 0–255",
         lambda e: preprocess(Image.fromarray(e.digit.astype(np.float32))), ValueError,
         r"Float images must be scaled to \[0, 1\], got range \[0, 255\]", "the range (no silent clipping)"),
    Case("preprocess", "a PIL ``I`` image with 12-bit values",
         lambda e: preprocess(Image.fromarray(e.digit.astype(np.int32) * 16)), ValueError,
         r"Integer images must hold values in \[0, 255\], got range \[0, 4080\]", "the range (no silent clipping)"),
    Case("preprocess", "a bad entry in a list",
         lambda e: preprocess([e.digit, np.full((28, 28), 2.0)]), ValueError,
         r"Image 1 of the list: Float images must be scaled to \[0, 1\]", "which entry"),
    Case("preprocess", "a dict", lambda e: preprocess({"image": e.digit}), TypeError,
         r"preprocess takes torch tensors, numpy arrays, PIL images or lists of them, got dict", "what it takes"),
    Case("preprocess", "``std=(0.0,)``", lambda e: preprocess(e.digit, std=(0.0,)), ValueError,
         r"std must be positive \(it divides the pixels\), got \(0\.0,\)", "why"),
    Case("preprocess", "``mean=(nan,)``", lambda e: preprocess(e.digit, mean=(float("nan"),)), ValueError,
         r"mean must hold finite numbers, got \(nan,\)", "the value"),
    Case("preprocess", "``mean=0.13`` (not a sequence)", lambda e: preprocess(e.digit, mean=0.13), TypeError,
         r"mean must be a sequence of numbers, one per channel, got float", "the expected form"),
    Case("preprocess", "``in_chans=0``", lambda e: preprocess(e.digit, in_chans=0), ValueError,
         r"in_chans must be a positive int, got 0", "the valid values"),
    Case("preprocess", "``input_size=0``", lambda e: preprocess(e.digit, input_size=0), ValueError,
         r"input_size must be a positive int, got 0", "the valid values"),
    Case("create_transform", "``{}``", lambda e: create_transform({}), ValueError,
         r"pretrained_cfg lacks \['input_size', 'mean', 'std'\]; pass model\.pretrained_cfg", "what to pass"),
    Case("create_transform", "a model name", lambda e: create_transform("mobilenet_v1_100"), TypeError,
         r"create_transform expects a model's pretrained_cfg dict \(e\.g\. model\.pretrained_cfg\), got str",
         "what to pass"),
    Case("create_transform", "``input_size=(1, 32, 28)``",
         lambda e: create_transform({"input_size": (1, 32, 28), "mean": (0.1,), "std": (0.3,)}), ValueError,
         r"must be \(C, S, S\) with a square side, got \(1, 32, 28\)", "the expected form"),
    Case("create_transform", "``std=(0,)``",
         lambda e: create_transform({"input_size": (1, 32, 32), "mean": (0.1,), "std": (0,)}), ValueError,
         r"std must be positive", "why"),
    Case("resize_normalize", "(N, H, W) images (no channel axis)",
         lambda e: resize_normalize(torch.zeros(2, 28, 28, dtype=torch.uint8), 32, (0.1307,), (0.3081,)), ValueError,
         r"resize_normalize takes \(N, C, H, W\) images, got shape \(2, 28, 28\); add the channel axis with "
         r"images\.unsqueeze\(1\)", "the shape it takes and the ``unsqueeze``"),
    Case("resize_normalize", "a numpy array", lambda e: resize_normalize(e.digit[None, None], 32, (0.1,), (0.3,)),
         TypeError, r"takes a uint8 \(0-255\) or float \(0-1\) tensor, got ndarray; preprocess converts other images",
         "what it takes; that ``preprocess`` takes arrays"),
    Case("resize_normalize", "int64 pixels", lambda e: resize_normalize(_x(1, 1, 28, 28, dtype=torch.int64), 32,
                                                                     (0.1,), (0.3,)), TypeError,
         r"takes a uint8 \(0-255\) or float \(0-1\) tensor, got dtype torch\.int64", "the dtypes it takes"),
    Case("resize_normalize", "``input_size=0``", lambda e: resize_normalize(_x(1, 1, 28, 28), 0, (0.1,), (0.3,)),
         ValueError, r"input_size must be >= 1, got 0", "the valid values"),
    Case("resize_normalize", "``std=(0.0,)``", lambda e: resize_normalize(_x(1, 1, 28, 28), 32, (0.1,), (0.0,)),
         ValueError, r"std must be positive \(it divides the pixels\), got \(0\.0,\)", "why"),
    Case("resize_normalize", "RGB ``mean``/``std`` for 1-channel images",
         lambda e: resize_normalize(_x(1, 1, 28, 28), 32, (0.5,) * 3, (0.5,) * 3), ValueError,
         r"mean and std need 1 values, got 3 and 3", "how many values the images need"),
]

TRAINING = [
    Case("get_preset", "``'fsat'``", lambda e: get_preset("fsat"), KeyError,
         r"Unknown preset 'fsat'\. Did you mean 'fast'\? Valid names: ", "the closest preset"),
    Case("get_preset", "``epoch=3`` (misspelt field)", lambda e: get_preset("fast", epoch=3), ValueError,
         r"Unknown TrainConfig keys \['epoch'\]; valid keys: \[.*'epochs'", "all valid fields"),
    Case("AugmentConfig", "``hflip=2``", lambda e: AugmentConfig(hflip=2), ValueError,
         r"hflip is a probability in \[0, 1\], got 2", "the valid range"),
    Case("TrainConfig", "``epochs=0``", lambda e: TrainConfig(epochs=0), ValueError,
         r"epochs must be a positive int, got 0", "the valid values"),
    Case("TrainConfig", "``optimizer='adam'``", lambda e: TrainConfig(optimizer="adam"), ValueError,
         r"optimizer must be 'sgd' or 'adamw', got 'adam'", "the valid optimizers"),
    Case("TrainConfig", "``dataset='mnsit'``", lambda e: TrainConfig(dataset="mnsit"), ValueError,
         r"dataset must be one of \['fashion_mnist', 'mnist'\], got 'mnsit'", "the valid datasets"),
    Case("TrainConfig", "``model='mobilnet_v1_050'``", lambda e: TrainConfig(model="mobilnet_v1_050"), KeyError,
         r"Unknown model 'mobilnet_v1_050'\. Did you mean 'mobilenet_v1_050'\?", "the closest model"),
    Case("TrainConfig", "``lr='0.1'``", lambda e: TrainConfig(lr="0.1"), TypeError,
         r"lr must be a number, got str \('0\.1'\)", "the expected type"),
    Case("TrainConfig", "``train_sizes=(8,)``", lambda e: TrainConfig(train_sizes=(8,)), ValueError,
         r"train_sizes \[8\] are below 17px; every size must be >= 17", "the smallest side"),
    Case("TrainConfig", "``train_sizes=32`` (not a tuple)", lambda e: TrainConfig(train_sizes=32), TypeError,
         r"train_sizes must be a sequence of ints \(input sides in px\), e\.g\. \(24, 28, 32\), got 32",
         "the expected form"),
    Case("TrainConfig", "``dropout=1.5``", lambda e: TrainConfig(dropout=1.5), ValueError,
         r"dropout must be in \[0, 1\), got 1\.5", "the valid range"),
    Case("TrainConfig", "``device='tpu'``", lambda e: TrainConfig(device="tpu"), ValueError,
         r"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'", "the valid devices"),
    Case("TrainConfig", "``augment={'rotate': 5}``", lambda e: TrainConfig(augment={"rotate": 5}), ValueError,
         r"Unknown augment keys \['rotate'\]; valid keys: \['rotate_deg'", "the valid keys"),
    Case("TrainConfig", "``epochs=True``", lambda e: TrainConfig(epochs=True), ValueError,
         r"epochs must be a positive int, got True", "the valid values"),
    Case("fit", "a preset name instead of a TrainConfig", lambda e: fit(e.model, e.data(), "fast"), TypeError,
         r"cfg must be a TrainConfig, e\.g\. get_preset\('fast'\), got str", "how to build the config"),
    Case("fit", "a tensor instead of ImageTensors",
         lambda e: fit(e.model, torch.zeros(8, 28, 28), TrainConfig()), TypeError,
         r"train_data must be ImageTensors \(images, labels, classes\), e\.g\. from load_dataset .*got Tensor",
         "what to pass"),
    Case("fit", "0 training images",
         lambda e: fit(mobilenet_v1(width_mult=0.25), e.data(0), get_preset("fast", device="cpu")), ValueError,
         r"batch_size 128 exceeds the 0 training images", "both numbers"),
    Case("train", "a data folder that does not exist",
         lambda e: train(get_preset("fast", device="cpu"), e.tmp / "nowhere"), FileNotFoundError,
         r"Data folder .*nowhere does not exist", "the folder and what to pass"),
    Case("augment_batch", "float images in [0, 1]",
         lambda e: augment_batch(_x(2, 28, 28), 32, (0.1,), (0.3,), AugmentConfig(), torch.Generator()), TypeError,
         r"augment_batch takes a uint8 tensor of pixels \(0-255\), got dtype torch\.float32; pass the images as "
         r"load_dataset returns them", "the dtype it takes (no silent /255 of floats)"),
    Case("augment_batch", "a numpy array",
         lambda e: augment_batch(e.digit[None], 32, (0.1,), (0.3,), AugmentConfig(), torch.Generator()), TypeError,
         r"augment_batch takes a uint8 tensor of pixels \(0-255\), got ndarray", "what it takes"),
    Case("augment_batch", "one image (H, W)",
         lambda e: augment_batch(torch.from_numpy(e.digit), 32, (0.1,), (0.3,), AugmentConfig(), torch.Generator()),
         ValueError, r"images must be \(N, H, W\) or \(N, C, H, W\), got shape \(28, 28\)", "the shapes it takes"),
    Case("augment_batch", "``input_size=0``",
         lambda e: augment_batch(e.data().images, 0, (0.1,), (0.3,), AugmentConfig(), torch.Generator()), ValueError,
         r"input_size must be >= 1, got 0", "the valid values"),
    Case("augment_batch", "RGB ``mean``/``std`` for gray images",
         lambda e: augment_batch(e.data().images, 32, (0.5,) * 3, (0.5,) * 3, AugmentConfig(), torch.Generator()),
         ValueError, r"mean and std need 1 values, got 3 and 3", "how many values the images need"),
    Case("augment_batch", "a dict as ``cfg``",
         lambda e: augment_batch(e.data().images, 32, (0.1,), (0.3,), {"rotate_deg": 5}, torch.Generator()),
         TypeError, r"cfg must be an AugmentConfig, e\.g\. AugmentConfig\(rotate_deg=10\), got dict",
         "the expected type"),
    Case("augment_batch", "a seed as ``generator``",
         lambda e: augment_batch(e.data().images, 32, (0.1,), (0.3,), AugmentConfig(), 0), TypeError,
         r"generator must be a torch\.Generator, e\.g\. torch\.Generator\(\)\.manual_seed\(0\), got int",
         "how to make a seeded generator"),
    Case("extend_run", "a dict instead of a TrainConfig",
         lambda e: extend_run(_finished_run(e, "short", epochs=1), _LONGER, e.tmp / "long"), TypeError,
         r"cfg must be a TrainConfig \(the longer recipe\), e\.g\. TrainConfig\.from_dict\(.*\), got dict",
         "how to build the recipe"),
    Case("extend_run", "``run_dir=3``", lambda e: extend_run(3, TrainConfig(**_LONGER), e.tmp / "long"), TypeError,
         r"run_dir must be a file or folder path \(str or os\.PathLike\), got int", "the expected type"),
    Case("extend_run", "a folder without ``last.ckpt``",
         lambda e: extend_run(e.folder("empty"), TrainConfig(**_LONGER), e.tmp / "long"), FileNotFoundError,
         r"No last\.ckpt in .*empty: is it a training run folder\?", "what it looked for"),
    Case("extend_run", "a run stopped early",
         lambda e: extend_run(_finished_run(e, "cut", epoch=1, epochs=2), TrainConfig(**_LONGER), e.tmp / "long"),
         ValueError, r"stopped after 1 of 2 epochs; finish it with resume=True before extending it",
         "how far it got, and to finish it first"),
    Case("extend_run", "a recipe that differs beyond the epochs (``lr``)",
         lambda e: extend_run(_finished_run(e, "short", epochs=1, lr=0.1), TrainConfig(**_LONGER, lr=0.05),
                              e.tmp / "long"), ValueError,
         r"the recipe differs beyond \['epochs', 'swa_epochs', 'swa_lr'\] \(finished, given\): "
         r"\{'lr': \(0\.1, 0\.05\)\}", "which fields may differ, and which do"),
    Case("extend_run", "epochs that do not continue the schedule",
         lambda e: extend_run(_finished_run(e, "short", epochs=1), TrainConfig(epochs=4, swa_epochs=1, swa_lr=0.02),
                              e.tmp / "long"), ValueError,
         r"its 1 epochs \(swa_epochs=0\) must be exactly the warm-up \+ cosine part of the new recipe "
         r"\(epochs - swa_epochs = 3\); e\.g\. epochs=2, swa_epochs=1", "the rule and a recipe that fits"),
    Case("extend_run", "the finished run's own folder as ``output_dir``",
         lambda e: extend_run(_finished_run(e, "short", epochs=1), TrainConfig(**_LONGER), e.tmp / "short"),
         FileExistsError, r"short/last\.ckpt exists; extend into a new, empty run folder", "to use a new folder"),
    Case("get_dist_context", "``WORLD_SIZE=two``", lambda e: _torchrun(e, WORLD_SIZE="two"), ValueError,
         r"Environment variable WORLD_SIZE='two' must be an integer", "the variable and what it must hold"),
    Case("get_dist_context", "``WORLD_SIZE=2`` without torchrun's other variables",
         lambda e: _torchrun(e, WORLD_SIZE="2"), RuntimeError,
         r"Distributed environment incomplete: \['RANK', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'\] not set\. "
         r"Launch with `torchrun --nproc_per_node=N", "the missing variables and how to launch"),
    Case("get_dist_context", "``RANK=5`` of ``WORLD_SIZE=2``",
         lambda e: _torchrun(e, RANK="5", WORLD_SIZE="2", LOCAL_RANK="0", MASTER_ADDR="localhost", MASTER_PORT="1"),
         RuntimeError, r"RANK=5 is outside \[0, WORLD_SIZE=2\)", "the valid ranks"),
    Case("get_dist_context", "``sync_bn='yes'``", lambda e: get_dist_context(sync_bn="yes"), TypeError,
         r"sync_bn must be True or False, got 'yes'", "the valid values"),
]

EVALUATION = [
    Case("evaluate", "a tensor instead of ImageTensors", lambda e: evaluate(e.model, torch.zeros(4, 28, 28), 32),
         TypeError, r"evaluate expects ImageTensors \(images, labels, classes\), e\.g\. from load_dataset or "
         r"tensors_from_dataset, got Tensor", "what to pass"),
    Case("evaluate", "2-class data for a 10-output model", lambda e: evaluate(e.model, e.data(4, ("a", "b")), 32),
         ValueError, r"The model returns 10 outputs per image but the data has 2 classes; .*reset_classifier\(2\)",
         "both counts, and ``reset_classifier``"),
    Case("evaluate", "a feature extractor (``num_classes=0``)",
         lambda e: evaluate(mobilenet_v1(width_mult=0.25, num_classes=0), e.data(), 32), ValueError,
         r"The model returns 256 outputs per image but the data has 10 classes", "both counts"),
    Case("evaluate", "``input_size=0``", lambda e: evaluate(e.model, e.data(), 0), ValueError,
         r"input_size must be a positive int, got 0", "the valid values"),
    Case("predict_logits", "no images", lambda e: predict_logits(e.model, torch.zeros(0, 28, 28), 32), ValueError,
         r"No images to score \(N = 0\)", "N = 0"),
    Case("predict_logits", "a list of arrays", lambda e: predict_logits(e.model, [e.digit], 32), TypeError,
         r"images must be a torch\.Tensor \(N, H, W\), got list; use mobilenet_mnist\.preprocess",
         "to use ``preprocess``"),
    Case("predict_logits", "RGB images for a 1-channel model",
         lambda e: predict_logits(e.model, torch.zeros(2, 3, 28, 28, dtype=torch.uint8), 32), ValueError,
         r"images must be \(N, H, W\) or \(N, C, H, W\) with C = 1 \(the model's input channels\), got shape "
         r"\(2, 3, 28, 28\)", "the shapes it takes"),
    Case("predict_logits", "``batch_size=0``", lambda e: predict_logits(e.model, torch.zeros(2, 28, 28), 32, 0),
         ValueError, r"batch_size must be a positive int, got 0", "the valid values"),
    Case("predict_logits", "NaN in float images",
         lambda e: predict_logits(e.model, torch.full((2, 28, 28), float("nan")), 32), ValueError,
         r"The input contains NaN or infinite values", "that the input holds NaN"),
    Case("EvalResult.most_confused", "``k=-1``",
         lambda e: EvalResult(0.0, 0, 32, torch.zeros(2, 2, dtype=torch.long), ("a", "b")).most_confused(-1),
         ValueError, r"k must be an int >= 0 \(how many confusions to list\), got -1", "the valid values"),
]

FINETUNE = [
    Case("freeze_backbone", "an ``nn.Linear``", lambda e: freeze_backbone(nn.Linear(2, 2)), TypeError,
         r"Expected a MobileNetV1 \(or a model with get_classifier\(\)\), got Linear", "what is needed"),
    Case("unfreeze_backbone", "a string", lambda e: unfreeze_backbone("model"), TypeError,
         r"Expected a MobileNetV1 \(or a model with get_classifier\(\)\), got str", "what is needed"),
    Case("param_groups", "``lr=0``", lambda e: param_groups(e.model, lr=0), ValueError,
         r"lr must be > 0, got 0", "the valid values"),
    Case("param_groups", "``backbone_lr_scale=-1``", lambda e: param_groups(e.model, 0.1, -1), ValueError,
         r"backbone_lr_scale must be (a finite number )?>= 0, got -1", "the valid values"),
    Case("param_groups", "``backbone_lr_scale=float('inf')``", lambda e: param_groups(e.model, 0.1, math.inf),
         ValueError, r"backbone_lr_scale must be a finite number >= 0, got inf", "that the value must be finite"),
    Case("tensors_from_dataset", "``3``", lambda e: tensors_from_dataset(3), TypeError,
         r"tensors_from_dataset expects a dataset of \(image, label\) pairs .*got int", "what to pass"),
    Case("tensors_from_dataset", "an empty list", lambda e: tensors_from_dataset([]), ValueError,
         r"The dataset is empty", "that one pair is needed"),
    Case("tensors_from_dataset", "images of two sizes",
         lambda e: tensors_from_dataset([(torch.zeros(28, 28), 0), (torch.zeros(32, 32), 1)]), ValueError,
         r"Item 1 has shape \(1, 32, 32\) but item 0 has \(1, 28, 28\).*Resize\(\(28, 28\)\)",
         "which item, both shapes, the fix"),
    Case("tensors_from_dataset", "normalised float images",
         lambda e: tensors_from_dataset([(torch.full((28, 28), -0.4), 0)]), ValueError,
         r"Item 0: float images must hold finite values in \[0, 1\].*Do not normalise them", "not to normalise"),
    Case("tensors_from_dataset", "label -1", lambda e: tensors_from_dataset([(torch.zeros(28, 28), -1)]),
         ValueError, r"Item 0: labels must be >= 0, got -1", "the item and the value"),
    Case("tensors_from_dataset", "a PIL ``F`` image in 0–255",
         lambda e: tensors_from_dataset([(Image.fromarray(e.digit.astype(np.float32)), 0)]), ValueError,
         r"Item 0: float images must hold finite values in \[0, 1\]", "the range (no silent clipping)"),
]

WEIGHTS = [
    Case("save_pretrained", "a string instead of a model", lambda e: save_pretrained("model", e.tmp / "m"),
         TypeError, r"save_pretrained expects a MobileNetV1, got str", "the expected type"),
    Case("save_pretrained", "an existing file as the folder",
         lambda e: save_pretrained(e.model, e.write("model.safetensors", b"x")), ValueError,
         r"model\.safetensors is a file; save_pretrained writes a folder \(model\.safetensors, config\.json, "
         r"README\.md\): pass a folder path", "that a folder is written"),
    Case("save_pretrained", "a fused model", lambda e: save_pretrained(e.model.fuse(), e.tmp / "fused"),
         ValueError, r"Cannot save this model: .*fused BatchNorm.*Save the model before fusing",
         "why, and to save before fusing"),
    Case("from_pretrained", "an empty folder", lambda e: from_pretrained(e.folder("empty")), FileNotFoundError,
         r"has no model\.safetensors \(found: \[\]\)\. Pass a folder written by save_pretrained\(\)",
         "what the folder holds and what it needs"),
    Case("from_pretrained", "``3``", lambda e: from_pretrained(3), TypeError,
         r"Weights must be named by a str or path .*got int", "the accepted sources"),
    Case("from_pretrained", "``'mobilenet_v1_100.mnst'``", lambda e: from_pretrained("mobilenet_v1_100.mnst"),
         KeyError, r"Unknown pretrained weights 'mobilenet_v1_100\.mnst'\. Did you mean 'mobilenet_v1_100\.mnist'\?",
         "the closest registered weights"),
    Case("from_pretrained", "a truncated ``.safetensors``",
         lambda e: from_pretrained(e.write("w.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{}")), ValueError,
         r"is not a complete safetensors file: .*truncated or not safetensors", "that the file is cut short"),
    Case("from_pretrained", "a pickle (``.pth``)", lambda e: from_pretrained(e.write("w.pth", b"\x80\x04")),
         ValueError, r"Refusing to load .*w\.pth: \.pth files are pickles.*Convert the weights to \.safetensors",
         "why, and the conversion"),
    Case("load_pretrained", "weights of another width",
         lambda e: load_pretrained(mobilenet_v1(width_mult=0.5), "mobilenet_v1_100.mnist"), ValueError,
         r"does not fit this model\. Expected: arch='mnist', width_mult=0\.5.*Found .*width_mult=1\.0",
         "expected and found architecture"),
    Case("get_pretrained_cfg", "``'mobilenet_v1_10.mnist'``", lambda e: get_pretrained_cfg("mobilenet_v1_10.mnist"),
         KeyError, r"Did you mean 'mobilenet_v1_100\.mnist'\? Valid names: ", "the closest name"),
    Case("register_pretrained", "a name instead of a ``PretrainedCfg``", lambda e: register_pretrained("x.y"),
         TypeError, r"register_pretrained expects a PretrainedCfg, got str", "the expected type"),
    Case("PretrainedCfg.from_dict", "a dict with only an ``architecture``",
         lambda e: PretrainedCfg.from_dict({"architecture": "x"}), ValueError,
         r"Incomplete PretrainedCfg 'x': missing required field\(s\) \['num_classes', 'input_size', 'mean', 'std'\]",
         "the missing fields"),
    Case("PretrainedCfg.from_dict", "an unknown key (0.2.0's ``name``)",
         lambda e: PretrainedCfg.from_dict({"name": "x.y"}), ValueError,
         r"Unknown PretrainedCfg field\(s\) \['name'\]; valid fields: \['architecture', ",
         "the unknown keys and every valid field"),
    Case("push_to_hub", "``repo_id='no-slash'``", lambda e: push_to_hub(e.model, "no-slash"), ValueError,
         r"repo_id must look like 'user/name', got 'no-slash'", "the expected form"),
    Case("get_pretrained_cfg", "``None``", lambda e: get_pretrained_cfg(None), TypeError,
         r"Pretrained weights are named by a str such as 'mobilenet_v1_100\.mnist', got NoneType", "the form"),
    Case("model_config", "a model name", lambda e: model_config("mobilenet_v1_025"), TypeError,
         r"model_config expects a MobileNetV1, got str", "the expected type"),
    Case("model_config", "2 labels for 10 classes", lambda e: model_config(e.model, labels=["a", "b"]), ValueError,
         r"labels has 2 entries but the model has 10 classes; pass one label per class or labels=None",
         "both counts, and what to pass"),
    Case("model_config", "``labels=10`` (a count)", lambda e: model_config(e.model, labels=10), TypeError,
         r"labels must be a list of class names, one per class, got int", "the expected form"),
    Case("model_config", "``metrics=[99.1]`` (a list)", lambda e: model_config(e.model, metrics=[99.1]), TypeError,
         r"metrics must be a dict of metric name → number or \{input side: number\}, e\.g\. "
         r"\{'test_accuracy': \{32: 99\.1\}\}, got list", "the expected form, with an example"),
    Case("model_config", "a metric given as ``'99%'``",
         lambda e: model_config(e.model, metrics={"test_accuracy": "99%"}), ValueError,
         r"metrics\['test_accuracy'\] must be a number or a dict of input side → number, got '99%'",
         "the metric and the valid forms"),
    Case("model_config", "``tag='a.b'``", lambda e: model_config(e.model, tag="a.b"), ValueError,
         r"tag must be a non-empty str without '\.' or None, got 'a\.b'", "what a tag may be"),
    Case("model_config", "``train_time_s='1h'``", lambda e: model_config(e.model, train_time_s="1h"), TypeError,
         r"train_time_s must be a number, got str \('1h'\)", "the expected type"),
]

DEPLOY = [
    Case("optimize_for_inference", "``dtype=torch.float16``",
         lambda e: optimize_for_inference(e.model, dtype=torch.float16), ValueError,
         r"dtype must be torch\.float32 or torch\.bfloat16, got torch\.float16", "the valid dtypes"),
    Case("optimize_for_inference", "``dtype='bf16'``", lambda e: optimize_for_inference(e.model, dtype="bf16"),
         TypeError, r"dtype must be a torch\.dtype \(torch\.float32 or torch\.bfloat16\), got 'bf16'",
         "the valid dtypes"),
    Case("fuse_conv_bn", "an ``nn.Linear``", lambda e: fuse_conv_bn(nn.Linear(2, 2)), ValueError,
         r"fuse_conv_bn found no ConvBnAct layers in Linear.*fuse_modules", "what it folds; what to use instead"),
    Case("export_model", "``format='onxx'``", lambda e: export_model(e.model, e.tmp / "m.onnx", format="onxx"),
         ValueError, r"Unknown export format 'onxx'\. Did you mean 'onnx'\?", "the closest format"),
    Case("export_model", "a string instead of a model", lambda e: export_model("mobilenet_v1_100", e.tmp / "m.pt"),
         TypeError, r"export_model expects a torch\.nn\.Module, got str", "the expected type"),
    Case("export_model", "a folder as the output", lambda e: export_model(e.model, e.tmp, format="torchscript"),
         ValueError, r"is a folder; give a file name, e\.g\. .*model\.pt", "an example file name"),
    Case("export_model", "``input_size=8``",
         lambda e: export_model(e.model, e.tmp / "m.pt", format="torchscript", input_size=8), ValueError,
         r"input_size=8 is below 17px, the smallest side .*use input_size >= 17", "the smallest side"),
    Case("export_model", "``int8=True`` without calibration images",
         lambda e: export_model(e.model, e.tmp / "m.onnx", int8=True), ValueError,
         r"int8 export needs calibration_images: .*--data-dir DIR", "what to pass"),
    Case("quantize_onnx", "NaN calibration inputs",
         lambda e: quantize_onnx(e.model, e.tmp / "q.onnx", _x(4, 1, 32, 32, fill=float("nan"))), ValueError,
         r"calibration images contain NaN or infinite values", "that they are NaN/inf"),
    Case("quantize_onnx", "a list of images", lambda e: quantize_onnx(e.model, e.tmp / "q.onnx", [e.digit]),
         TypeError, r"calibration images must be a torch\.Tensor, got list", "the expected type"),
    Case("quantize_onnx", "no calibration images",
         lambda e: quantize_onnx(e.model, e.tmp / "q.onnx", torch.zeros(0, 28, 28, dtype=torch.uint8)), ValueError,
         r"calibration images are empty; pass a few hundred training images", "how many to pass"),
    Case("load_run", "a folder without ``last.ckpt``", lambda e: load_run(e.folder("run")), FileNotFoundError,
         r"No last\.ckpt in .*run: is it a training run folder\?", "what it looked for"),
    Case("load_run", "a corrupt ``last.ckpt``", lambda e: load_run(e.write("bad/last.ckpt", b"garbage").parent),
         ValueError, r"last\.ckpt is not a readable training checkpoint \(UnpicklingError\); it is truncated, "
         r"corrupt or not written by `mobilenet-mnist train`", "the file and why (not: weights_only=False)"),
    Case("load_run", "another program's checkpoint",
         lambda e: (e.folder("other"), torch.save({"state": 1}, e.tmp / "other" / "last.ckpt"),
                    load_run(e.tmp / "other"))[-1], ValueError,
         r"is not a training checkpoint of mobilenet-mnist \(missing \['config', 'model', 'epoch', "
         r"'train_time_s'\]\)", "the missing keys"),
    Case("load_run", "``weights='ema'``", lambda e: load_run(e.folder("run2"), "ema"), ValueError,
         r"weights must be 'final' or 'raw', got 'ema'", "the valid choices"),
    Case("export_onnx", "a model name", lambda e: export_onnx("mobilenet_v1_025", e.tmp / "m.onnx"), TypeError,
         r"export_onnx expects a torch\.nn\.Module, got str", "the expected type"),
    Case("export_onnx", "a folder as the output", lambda e: export_onnx(e.model, e.tmp), ValueError,
         r"is a folder; give a file name, e\.g\. .*model\.onnx", "an example file name"),
    Case("export_onnx", "``path=3``", lambda e: export_onnx(e.model, 3), TypeError,
         r"path must be a file or folder path \(str or os\.PathLike\), got int \(3\)", "the expected type"),
    Case("export_onnx", "``opset=11``", lambda e: export_onnx(e.model, e.tmp / "m.onnx", opset=11), ValueError,
         r"opset must be an int in \[18, 23\], got 11; the default 18 suits ONNX Runtime", "the valid opsets"),
    Case("export_onnx", "``input_size=8``", lambda e: export_onnx(e.model, e.tmp / "m.onnx", input_size=8),
         ValueError, r"input_size=8 is below 17px, the smallest side .*use input_size >= 17", "the smallest side"),
    Case("export_onnx", "``metadata=['mnist']``",
         lambda e: export_onnx(e.model, e.tmp / "m.onnx", metadata=["mnist"]), TypeError,
         r"metadata must be a dict of extra metadata_props entries .*e\.g\. \{'dataset': 'mnist'\}, got list",
         "the expected form, with an example"),
    Case("export_program", "a model name", lambda e: export_program("mobilenet_v1_025", e.tmp / "m.pt2"), TypeError,
         r"export_program expects a torch\.nn\.Module, got str", "the expected type"),
    Case("export_program", "a folder as the output", lambda e: export_program(e.model, e.tmp), ValueError,
         r"is a folder; give a file name, e\.g\. .*model\.pt2", "an example file name"),
    Case("export_program", "``input_size=8``", lambda e: export_program(e.model, e.tmp / "m.pt2", input_size=8),
         ValueError, r"input_size=8 is below 17px, the smallest side .*use input_size >= 17", "the smallest side"),
    Case("export_program", "``input_size='32'``",
         lambda e: export_program(e.model, e.tmp / "m.pt2", input_size="32"), TypeError,
         r"input_size must be an int, got str \('32'\)", "the expected type"),
    Case("export_torchscript", "a model name",
         lambda e: export_torchscript("mobilenet_v1_025", e.tmp / "m.pt"), TypeError,
         r"export_torchscript expects a torch\.nn\.Module, got str", "the expected type"),
    Case("export_torchscript", "a folder as the output", lambda e: export_torchscript(e.model, e.tmp), ValueError,
         r"is a folder; give a file name, e\.g\. .*model\.pt", "an example file name"),
    Case("export_torchscript", "``path=None``", lambda e: export_torchscript(e.model, None), TypeError,
         r"path must be a file or folder path \(str or os\.PathLike\), got NoneType", "the expected type"),
    Case("export_torchscript", "``input_size=8``",
         lambda e: export_torchscript(e.model, e.tmp / "m.pt", input_size=8), ValueError,
         r"input_size=8 is below 17px, the smallest side .*use input_size >= 17", "the smallest side"),
    Case("quantize_int8", "an ``nn.Linear``", lambda e: quantize_int8(nn.Linear(2, 2), e.data().images), TypeError,
         r"quantize_int8 expects a float MobileNetV1 \(e\.g\. from create_model\), got Linear", "what it quantizes"),
    Case("quantize_int8", "``engine='avx512'``",
         lambda e: quantize_int8(e.model, e.data().images, engine="avx512"), ValueError,
         r"engine must be one of \[.*'x86'.*\] \(this PyTorch build\), got 'avx512'", "the engines of this build"),
    Case("quantize_int8", "a list of images", lambda e: quantize_int8(e.model, [e.digit]), TypeError,
         r"calibration images must be a torch\.Tensor, got list", "the expected type"),
    Case("quantize_int8", "``num_calibration=0``",
         lambda e: quantize_int8(e.model, e.data().images, num_calibration=0), ValueError,
         r"num_calibration must be >= 1, got 0", "the valid values"),
    Case("quantize_int8", "a model with ``global_pool='max'``",
         lambda e: quantize_int8(mobilenet_v1(width_mult=0.25, global_pool="max"), e.data().images), ValueError,
         r"supports the average-pooling head only, got global_pool='max'; build the model with global_pool='avg'",
         "why, and the head it takes"),
    Case("quantize_int8", "float images (N, H, W) in [0, 1]",
         lambda e: quantize_int8(e.model, _x(4, 28, 28)), ValueError,
         r"float calibration images must be normalized model inputs of shape \(N, 1, H, W\), got \(4, 28, 28\); "
         r"pass uint8 digits \(N, H, W\)", "both forms it takes"),
    Case("quantize_int8", "NaN calibration inputs",
         lambda e: quantize_int8(e.model, _x(4, 1, 32, 32, fill=float("nan"))), ValueError,
         r"calibration images contain NaN or infinite values", "that they are NaN/inf"),
    Case("read_onnx_metadata", "``3``", lambda e: read_onnx_metadata(3), TypeError,
         r"path must be a file or folder path \(str or os\.PathLike\), got int", "the expected type"),
    Case("read_onnx_metadata", "a missing file", lambda e: read_onnx_metadata(e.tmp / "nope.onnx"),
         FileNotFoundError, r"ONNX file .*nope\.onnx does not exist; pass a file written by export_onnx",
         "the path and where such files come from"),
    Case("read_onnx_metadata", "a folder", lambda e: read_onnx_metadata(e.tmp), IsADirectoryError,
         r"is a folder; read_onnx_metadata reads one \.onnx file, e\.g\. .*model\.onnx", "an example file"),
    Case("read_onnx_metadata", "a file that is not ONNX",
         lambda e: read_onnx_metadata(e.write("m.pt", b"PK\x03\x04garbage")), ValueError,
         r"m\.pt is not an ONNX model \(.*\); pass a \.onnx file written by export_onnx", "the file and what to pass"),
    Case("OnnxRuntimeModule", "a file path instead of bytes", lambda e: OnnxRuntimeModule("model.onnx", e.model),
         TypeError, r"onnx_bytes must be a serialized ONNX model \(bytes\), got str\. Pass the bytes of a file "
         r"written by export_onnx \(Path\('model\.onnx'\)\.read_bytes\(\)\)", "how to read the file, or build one"),
    Case("OnnxRuntimeModule", "a model name as ``source``", lambda e: OnnxRuntimeModule(_onnx_graph(), "m"),
         TypeError, r"OnnxRuntimeModule expects a torch\.nn\.Module, got str", "the expected type"),
    Case("OnnxRuntimeModule", "bytes that are not ONNX", lambda e: OnnxRuntimeModule(b"garbage", e.model),
         ValueError, r"onnx_bytes is not a valid ONNX model \(.*\)\. Pass the bytes of a file written by export_onnx",
         "that the bytes are no model, and what to pass"),
    Case("OnnxRuntimeModule", "another tool's ONNX model (input ``x``)",
         lambda e: OnnxRuntimeModule(_onnx_graph("x", "y"), e.model), ValueError,
         r"This ONNX model has inputs \['x'\] and outputs \['y'\]; OnnxRuntimeModule runs models exported by this "
         r"package \(input 'input', output 'logits'\)", "the names found and the names needed"),
    Case("OnnxRuntimeModule", "``precision='int4'``",
         lambda e: OnnxRuntimeModule(_onnx_graph(), e.model, precision="int4"), ValueError,
         r"precision must be 'fp32' or 'int8', got 'int4'", "the valid values"),
    Case("OnnxRuntimeModule", "``num_threads=0``",
         lambda e: OnnxRuntimeModule(_onnx_graph(), e.model, num_threads=0), ValueError,
         r"num_threads must be >= 1, got 0", "the valid values"),
    Case("OnnxRuntimeModule", "``input_side=8``",
         lambda e: OnnxRuntimeModule(_onnx_graph(), e.model, input_side=8), ValueError,
         r"input_side must be >= 17, got 8", "the smallest side"),
    Case("OnnxRuntimeModule (forward)", "a numpy array", lambda e: _ort(e)(np.zeros((1, 1, 32, 32), np.float32)),
         TypeError, r"OnnxRuntimeModule expects a torch\.Tensor, got ndarray", "the expected type"),
    Case("OnnxRuntimeModule (forward)", "a 3-D image (no batch axis)", lambda e: _ort(e)(_x(1, 32, 32)), ValueError,
         r"Expected an input of shape \(N, 1, H, W\) with H, W >= 17, got shape \(1, 32, 32\)\. Add a batch axis "
         r"with x\.unsqueeze\(0\)", "the expected shape and ``unsqueeze(0)``"),
    Case("OnnxRuntimeModule (forward)", "uint8 pixels", lambda e: _ort(e)(_x(1, 1, 32, 32, dtype=torch.uint8)),
         TypeError, r"Expected a floating-point input, got dtype torch\.uint8\. Normalise images first, e\.g\. with "
         r"mobilenet_mnist\.preprocess", "to normalise with ``preprocess``"),
    Case("OnnxRuntimeModule (forward)", "16×16 input", lambda e: _ort(e)(_x(1, 1, 16, 16)), ValueError,
         r"Input side \(16, 16\) is too small for the strides: expected \(N, 1, H, W\) with H, W >= 17",
         "the smallest side"),
    Case("OnnxRuntimeModule (forward)", "one inf in a large (sliced) batch",
         lambda e: _ort(e)(torch.zeros(20, 1, 32, 32).index_put_((torch.tensor(3),), torch.tensor(float("inf")))),
         ValueError, r"The input contains NaN or infinite values \(0 NaN, 1024 inf of 20480\)", "how many"),
    Case("backend_of", "a backend name", lambda e: backend_of("onnxruntime"), TypeError,
         r"backend_of expects a torch\.nn\.Module, got str", "the expected type (not a silent ``'torch'``)"),
    Case("backend_of", "``None``", lambda e: backend_of(None), TypeError,
         r"backend_of expects a torch\.nn\.Module, got NoneType", "the expected type"),
]

CLI = [
    cli("info", "``mobilnet_v1_100``", lambda e: ["info", "mobilnet_v1_100"],
        r"info: error: Unknown model 'mobilnet_v1_100'\. Did you mean 'mobilenet_v1_100'\?", "the closest model"),
    cli("evaluate", "a misspelt weight name",
        lambda e: ["evaluate", "mobilenet_v1_100.mnst", "--data-dir", str(e.mnist)],
        r"Unknown pretrained weights 'mobilenet_v1_100\.mnst'\. Did you mean 'mobilenet_v1_100\.mnist'\?",
        "the closest registered weights"),
    cli("evaluate", "``--data-dir`` that does not exist",
        lambda e: ["evaluate", str(e.checkpoint), "--data-dir", str(e.tmp / "nowhere")],
        r"evaluate: error: Data folder .*nowhere does not exist", "the folder and what to pass"),
    cli("evaluate", "``--data-dir`` naming a file",
        lambda e: ["evaluate", str(e.checkpoint), "--data-dir", str(e.checkpoint / "config.json")],
        r"Data folder .*config\.json is a file; pass the folder that holds the four IDX files", "what to pass"),
    cli("evaluate", "``--data-dir`` of an empty folder",
        lambda e: ["evaluate", str(e.checkpoint), "--data-dir", str(e.folder("empty"))],
        r"mnist test files not found \(missing: t10k-images-idx3-ubyte\[\.gz\]", "the missing files"),
    cli("evaluate", "``--resolution 0``", lambda e: ["evaluate", str(e.checkpoint), "--resolution", "0"],
        r"argument --resolution: must be a positive int, got '0'", "the valid values"),
    cli("evaluate", "``--resolution 8``",
        lambda e: ["evaluate", str(e.checkpoint), "--resolution", "8", "--data-dir", str(e.mnist)],
        r"--resolution 8 is below 17px, the smallest side .* can take", "the smallest side"),
    cli("evaluate", "``--top-confusions -1``", lambda e: ["evaluate", str(e.checkpoint), "--top-confusions", "-1"],
        r"argument --top-confusions: must be an int >= 0, got '-1'", "the valid values"),
    cli("predict", "a file that is no image",
        lambda e: ["predict", str(e.write("notes.png", b"hello")), "--model", str(e.checkpoint)],
        r"predict: error: Cannot read image .*notes\.png: cannot identify image file.*Pass a PNG, JPEG",
        "the file and the readable formats"),
    cli("predict", "a truncated PNG",
        lambda e: ["predict", str(e.write("cut.png", e.image("d.png", Image.fromarray(e.digit)).read_bytes()[:80])),
                   "--model", str(e.checkpoint)],
        r"Cannot read image .*cut\.png: .*truncated", "the file and the problem"),
    cli("predict", "an image that does not exist",
        lambda e: ["predict", str(e.tmp / "no.png"), "--model", str(e.checkpoint)],
        r"predict: error: Image file .*no\.png does not exist", "the path"),
    cli("predict", "a folder", lambda e: ["predict", str(e.folder("pics")), "--model", str(e.checkpoint)],
        r"pics is a folder; pass image files", "what to pass"),
    cli("predict", "``--top-k 0``", lambda e: ["predict", "x.png", "--top-k", "0"],
        r"argument --top-k: must be a positive int, got '0'", "the valid values"),
    cli("predict", "``--model mobilnet_v1_100.mnist``",
        lambda e: ["predict", "x.png", "--model", "mobilnet_v1_100.mnist"],
        r"Did you mean 'mobilenet_v1_100\.mnist'\?", "the closest weights"),
    cli("train", "``--preset fsat``", lambda e: ["train", "--preset", "fsat"],
        r"train: error: Unknown preset 'fsat'\. Did you mean 'fast'\?", "the closest preset"),
    cli("train", "``--model mobilnet_v1_050``",
        lambda e: ["train", "--model", "mobilnet_v1_050", "--data-dir", str(e.mnist), "--output", str(e.tmp / "r")],
        r"Unknown model 'mobilnet_v1_050'\. Did you mean 'mobilenet_v1_050'\?",
        "the closest model (before loading data)"),
    cli("train", "``--data-dir`` that does not exist",
        lambda e: ["train", "--preset", "fast", "--data-dir", str(e.tmp / "nowhere"), "--output", str(e.tmp / "r")],
        r"Data folder .*nowhere does not exist", "the folder and what to pass"),
    cli("train", "``--config`` that does not exist", lambda e: ["train", "--config", str(e.tmp / "no.json")],
        r"--config file .*no\.json does not exist", "the file"),
    cli("train", "``--config`` with invalid JSON",
        lambda e: ["train", "--config", str(e.write("c.json", b"{epochs: 3}"))],
        r"--config file .*c\.json is not valid JSON: Expecting property name", "the file and the JSON error"),
    cli("train", "``--config`` holding a list", lambda e: ["train", "--config", str(e.write("l.json", b"[1]"))],
        r"must hold a JSON object of TrainConfig fields, got list", "the expected form"),
    cli("train", "``--epochs 0``", lambda e: ["train", "--epochs", "0"],
        r"argument --epochs: must be a positive int, got '0'", "the valid values"),
    cli("train", "``--threads -1``", lambda e: ["train", "--threads", "-1"],
        r"argument --threads: must be a positive int, got '-1'", "the valid values"),
    cli("export", "``--format onxx``", lambda e: ["export", str(e.checkpoint), "--format", "onxx"],
        r"argument --format: invalid choice: 'onxx'", "the valid formats"),
    cli("export", "``--int8`` with a missing ``--data-dir``",
        lambda e: ["export", str(e.checkpoint), "--int8", "--data-dir", str(e.tmp / "nowhere"),
                   "--output", str(e.tmp / "m.onnx")],
        r"Data folder .*nowhere does not exist", "the folder"),
    cli("publish", "a folder that is no training run",
        lambda e: ["publish", str(e.folder("norun")), "--tag", "t", "--recipe", "r"],
        r"No last\.ckpt in .*norun: is it a training run folder\?", "what it looked for"),
]


@functools.cache
def _predictor_of(model: nn.Module) -> Predictor:
    """A Predictor on the small audit model (PyTorch backend: built in milliseconds)."""
    return Predictor(model, backend="torch")


def _predict_with(env: Env, images: Any, **kwargs: Any) -> Any:
    return _predictor_of(env.model)(images, **kwargs)


REAL_DIGITS = [
    Case("normalize_digits", '``blank="x"``', lambda e: normalize_digits(e.digit, blank="x"), ValueError,
         r'blank must be "raise" .* or "keep" .*, got \'x\'', "the valid values"),
    Case("normalize_digits", "``blank=None``", lambda e: normalize_digits(e.digit, blank=None), ValueError,
         r'blank must be "raise" .* or "keep"', "the valid values"),
    Case("normalize_digits", "a file name", lambda e: normalize_digits("digit.png"), TypeError,
         r"numpy arrays, PIL images or lists of them, got str", "the accepted types"),
    Case("normalize_digits", "an empty list", lambda e: normalize_digits([]), ValueError,
         r"empty list", "what is missing"),
    Case("normalize_digits", "a bad entry in a list", lambda e: normalize_digits([e.digit, {"image": 1}]),
         TypeError, r"Image 1 of the list", "which entry"),
    Case("normalize_digits", "float pixels in 0–255", lambda e: normalize_digits(e.digit.astype(np.float32)),
         ValueError, r"scaled to \[0, 1\]", "the expected range"),
    Case("normalize_digits", "an empty batch", lambda e: normalize_digits(np.zeros((0, 28, 28), np.uint8)), ValueError,
         r"empty batch", "what is missing"),
    Case("normalize_digits", "a blank page", lambda e: normalize_digits(np.full((40, 40), 230, np.uint8)),
         BlankImageError, r"hold no ink .*indices \[0\]\. Pass blank=\"keep\"", "which images, and how to keep them"),
    Case("normalize_digits_with_quality", '``blank="x"``',
         lambda e: normalize_digits_with_quality(e.digit, blank="x"), ValueError,
         r'blank must be "raise" .* or "keep" .*, got \'x\'', "the valid values"),
    Case("normalize_digits_with_quality", "an empty list", lambda e: normalize_digits_with_quality([]), ValueError,
         r"empty list", "what is missing"),
    Case("normalize_digits_with_quality", "a blank page",
         lambda e: normalize_digits_with_quality(np.full((40, 40), 230, np.uint8)),
         BlankImageError, r"hold no ink .*indices \[0\]\. Pass blank=\"keep\"", "which images, and how to keep them"),
    Case("shorter_sides", "an empty list", lambda e: shorter_sides([]), ValueError, r"empty list", "what is missing"),
    Case("shorter_sides", "a 4-D array of 5 channels", lambda e: shorter_sides(np.zeros((1, 5, 40, 40), np.uint8)),
         ValueError, r"channel", "what is wrong"),
    Case("unsteadiness", "view logits of another batch",
         lambda e: unsteadiness(torch.zeros(3, 10), torch.zeros(2, 4, 10)), ValueError,
         r"view_logits must be \(V, N, C\) with \(N, C\) = logits' shape \(3, 10\), got \(2, 4, 10\)",
         "the shapes expected and got"),
    Case("prepare_digits", "``input_size=0``", lambda e: prepare_digits(e.digit, input_size=0), ValueError,
         r"input_size must be a positive int, got 0", "the valid values"),
    Case("prepare_digits", '``mean="0.1"``', lambda e: prepare_digits(e.digit, mean="0.1"), TypeError,
         r"mean must be a sequence of numbers, one per channel, got str", "the expected form"),
    Case("prepare_digits", '``blank="skip"``', lambda e: prepare_digits(e.digit, blank="skip"), ValueError,
         r'blank must be "raise" .* or "keep"', "the valid values"),
    Case("Predictor", "``top_k=0``", lambda e: _predict_with(e, e.digit, top_k=0), ValueError,
         r"top_k must be an int >= 1 .*got 0", "the valid values"),
    Case("Predictor", '``top_k="3"``', lambda e: _predict_with(e, e.digit, top_k="3"), TypeError,
         r"top_k must be an int >= 1 .*got str", "the valid values"),
    Case("Predictor", "``top_k=True``", lambda e: _predict_with(e, e.digit, top_k=True), TypeError,
         r"top_k must be an int >= 1", "the valid values"),
    Case("Predictor", "a missing image file", lambda e: _predict_with(e, e.tmp / "nope.png"), ValueError,
         r"Cannot read image .*nope\.png: .*Pass a PNG, JPEG", "the file and the formats read"),
    Case("Predictor", "a number as the image", lambda e: _predict_with(e, 3), TypeError,
         r"numpy arrays, PIL images or lists of them, got int", "the accepted types"),
    Case("open_image", "a text file", lambda e: open_image(e.write("notes.png", b"not an image")), ValueError,
         r"Cannot read image .*notes\.png: .*Pass a PNG, JPEG, BMP, TIFF", "the file and the formats read"),
    Case("Predictor", "an empty list", lambda e: _predict_with(e, []), ValueError,
         r"empty list of images", "what is missing"),
    Case("Predictor", "float pixels in 0–255", lambda e: _predict_with(e, torch.full((28, 28), 2.0)), ValueError,
         r"Float images must be scaled to \[0, 1\]", "the expected range"),
    Case("Predictor", "``backend=3``", lambda e: Predictor(e.model, backend=3), TypeError,
         r"backend must be a str", "the expected type"),
    Case("Predictor", '``prepare="yes"``', lambda e: Predictor(e.model, prepare="yes"), TypeError,
         r"prepare must be True or False, got str", "the valid values"),
    Case("Predictor", "an int as the model", lambda e: Predictor(3), TypeError,
         r"model must be a weight name .* or a torch\.nn\.Module, got int", "what to pass"),
    Case("Predictor", "a mistyped weight name", lambda e: Predictor("mobilnet_v1_100.mnist"), KeyError,
         r"Did you mean 'mobilenet_v1_100\.mnist'\?", "the closest name"),
    Case("Predictor", "``temperature=0``", lambda e: Predictor(e.model, backend="torch", temperature=0), ValueError,
         r"temperature must be > 0, got 0", "the valid values"),
    Case("predict", '``backend="tensorrt"``', lambda e: predict(e.digit, backend="tensorrt"), ValueError,
         r"Unknown backend 'tensorrt'\. Valid names: auto, torch, onnxruntime", "the valid backends"),
    Case("fit_temperature", "labels of another length",
         lambda e: fit_temperature(torch.zeros(4, 3), torch.zeros(3, dtype=torch.long)), ValueError,
         r"labels must have shape \(4,\)", "the expected shape"),
    Case("fit_temperature", "a label out of range", lambda e: fit_temperature(torch.zeros(2, 3), torch.tensor([0, 3])),
         ValueError, r"labels must be class indices in \[0, 3\), got range \[0, 3\]", "the valid range"),
    Case("fit_temperature", "float labels", lambda e: fit_temperature(torch.zeros(2, 3), torch.tensor([0.0, 1.0])),
         TypeError, r"labels must hold integer class indices", "the expected type"),
    Case("fit_temperature", "NaN logits", lambda e: fit_temperature(torch.full((2, 3), math.nan), torch.tensor([0, 1])),
         ValueError, r"NaN or infinite", "what is wrong"),
    Case("expected_calibration_error", "``n_bins=0``",
         lambda e: expected_calibration_error(torch.zeros(2, 3), torch.tensor([0, 1]), 0), ValueError,
         r"n_bins must be >= 1, got 0", "the valid values"),
    Case("expected_calibration_error", '``kind="prob"``',
         lambda e: expected_calibration_error(torch.zeros(2, 3), torch.tensor([0, 1]), kind="prob"), ValueError,
         r"kind must be 'auto', 'probs' or 'logits', got 'prob'", "the valid values"),
    Case("expected_calibration_error", 'rows that are no probabilities with ``kind="probs"``',
         lambda e: expected_calibration_error(torch.ones(2, 3), torch.tensor([0, 1]), kind="probs"), ValueError,
         r"kind='probs' needs rows of probabilities .* pass kind='logits'", "how to fix it"),
    Case("calibrated_probs", "``temperature=0.0``", lambda e: calibrated_probs(torch.zeros(2, 3), 0.0), ValueError,
         r"temperature must be > 0, got 0\.0", "the valid values"),
    Case("not_a_digit_score", '``method="entropy"``',
         lambda e: not_a_digit_score(torch.zeros(2, 3), 1.0, "entropy"), ValueError,
         r"method must be one of 'margin', 'energy', 'max_prob', got 'entropy'", "the valid values"),
    Case("auroc", "no positive scores", lambda e: auroc([], [1.0]), ValueError,
         r"positive_scores must be a non-empty 1-D set of scores", "what is missing"),
    Case("auroc", "a NaN score", lambda e: auroc([1.0], [math.nan]), ValueError,
         r"negative_scores contain NaN or infinite values", "what is wrong"),
    Case("auroc", "a string", lambda e: auroc("abc", [1.0]), TypeError,
         r"positive_scores must be a 1-D tensor, array or list of numbers", "the accepted types"),
    Case("choose_threshold", "``keep=0.0``", lambda e: choose_threshold([1.0, 2.0], keep=0.0), ValueError,
         r"keep must be in \(0, 1\], got 0\.0", "the valid range"),
    Case("choose_threshold", "a 2-D set of scores", lambda e: choose_threshold([[1.0, 2.0]]), ValueError,
         r"digit_scores must be a non-empty 1-D set", "the expected form"),
]

AUDIT: dict[str, list[Case]] = {
    "Model arguments": MODEL_ARGS,
    "Names and registries": NAMES,
    "The forward pass": FORWARD,
    "Parameter and multiply-add counts": PROFILE,
    "IDX files": IDX,
    "Data folders and datasets": DATA,
    "Preprocessing": PREPROCESS,
    "Real digits and calibrated predictions": REAL_DIGITS,
    "Training": TRAINING,
    "Evaluation": EVALUATION,
    "Fine-tuning": FINETUNE,
    "Weights": WEIGHTS,
    "Inference, export and runs": DEPLOY,
    "Command line": CLI,
}
ALL_CASES = [case for cases in AUDIT.values() for case in cases]


# ====================================================================== fixtures and runner
@pytest.fixture(scope="module")
def shared(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    torch.manual_seed(0)
    model = mobilenet_v1(width_mult=0.25).eval()
    checkpoint = save_pretrained(model, tmp_path_factory.mktemp("audit_ckpt"))
    digit = load_dataset("mnist", "test", mnist_dir).images[0].numpy()
    return {"model": model, "mnist": mnist_dir, "checkpoint": checkpoint, "digit": digit}


@pytest.fixture
def env(shared: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    return Env(tmp_path, monkeypatch, shared)


def _case_id(case: Case) -> str:
    text = re.sub(r"[`']", "", f"{case.where}: {case.bad}")
    return re.sub(r"\s+", "_", text)


def _params(cases: list[Case]) -> list[Any]:
    return [
        pytest.param(case, id=_case_id(case),
                     marks=[pytest.mark.xfail(strict=True, reason=case.pending)] if case.pending else [])
        for case in cases
    ]


def _message(error: BaseException) -> str:
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


def assert_refused_clearly(
    error: BaseException, expected: type[BaseException] | tuple[type[BaseException], ...], match: str = ""
) -> None:
    """``error`` is an ``expected`` exception, its message matches ``match`` (a regex) and this
    package's own code raised it: the innermost traceback frame lies in ``mobilenet_mnist``."""
    assert isinstance(error, expected), f"{type(error).__name__} instead of {expected}: {error}"
    message = _message(error)
    assert message.strip(), f"{type(error).__name__} without a message"
    assert re.search(match, message, re.DOTALL), f"message does not match {match!r}:\n{message}"
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = Path(frame.tb_frame.f_code.co_filename).resolve() if frame else Path("?")
    assert PACKAGE_DIR in where.parents, f"{type(error).__name__} raised inside {where}, not by a check of this package"


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``mobilenet-mnist ARGV`` (argparse errors included)."""
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse reports bad options this way
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", _params([c for c in ALL_CASES if not c.is_cli]))
def test_api_refuses_bad_input_clearly(case: Case, env: Env) -> None:
    with pytest.raises(Exception) as excinfo:  # any type: the helper names a wrong one
        case.call(env)
    assert_refused_clearly(excinfo.value, case.error, case.match)
    if case.after is not None:
        case.after(env)


@pytest.mark.parametrize("case", _params([c for c in ALL_CASES if c.is_cli]))
def test_cli_refuses_bad_input_clearly(case: Case, env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(case.call(env), capsys)
    assert code == 2, f"exit status {code}\n{err}"
    assert "Traceback" not in err and not out, err
    assert re.search(case.match, err, re.DOTALL), f"stderr does not match {case.match!r}:\n{err}"


SUBPACKAGES = ("models", "hub", "data", "training", "deploy")
#: Public names with no row, and why.
NOT_AUDITED = {
    "__version__": "a constant",
    "IMAGENET_ARCH": "a constant", "MNIST_ARCH": "a constant", "MNIST_MEAN": "a constant", "MNIST_STD": "a constant",
    "DATASETS": "a constant", "PRESETS": "a constant",
    "list_archs": "no arguments to get wrong", "list_pretrained": "a pattern at most, as list_models",
    "mobilenet_v1_100": "built like mobilenet_v1_025", "mobilenet_v1_075": "built like mobilenet_v1_025",
    "mobilenet_v1_050": "built like mobilenet_v1_025",
    "ConvBnAct": "a building block; torch's checks apply", "DepthwiseSeparable": "a building block",
    "FrozenStatsBatchNorm2d": "a building block", "InferenceWrapper": "built by optimize_for_inference",
    "LayerCost": "a result", "ModelCost": "a result", "TrainResult": "a result", "DistContext": "a result",
    "WeightsUnavailableError": "an exception", "MissingExtraError": "an exception",
    "BlankImageError": "an exception", "DigitPrediction": "a result", "SCORE_METHODS": "a constant",
    "BACKENDS": "a constant", "default_backend": "no arguments to get wrong",
}


def test_every_public_callable_is_audited() -> None:
    """Each public name of the package and its subpackages has at least one row (or a reason not to)."""
    audited = {case.where.split(" ")[0].split(".")[0] for case in ALL_CASES}
    top_level = set(mobilenet_mnist.__all__) - audited - set(NOT_AUDITED)
    assert not top_level, f"top-level names without an audit row: {sorted(top_level)}"
    public = {name for sub in SUBPACKAGES for name in importlib.import_module(f"mobilenet_mnist.{sub}").__all__}
    missing = public - audited - set(NOT_AUDITED)
    assert not missing, f"public names without an audit row: {sorted(missing)}"


# ====================================================================== conversions
@dataclass(frozen=True)
class Conversion:
    """An odd-looking input with one sensible meaning, and a check of what it becomes."""

    where: str
    given: str
    result: str
    check: Callable[[Env, Any], None]


def _check_palette(env: Env, _capsys: Any) -> None:
    palette = Image.fromarray(env.digit).convert("P")  # an adaptive palette: colours map back to gray
    torch.testing.assert_close(preprocess(palette), preprocess(np.array(palette.convert("L"))), atol=1e-6, rtol=0)


def _check_rgba(env: Env, _capsys: Any) -> None:
    torch.testing.assert_close(preprocess(rgba_digit(env.digit)), preprocess(env.digit), atol=1e-6, rtol=0)


def _check_la(env: Env, _capsys: Any) -> None:
    la = rgba_digit(env.digit).convert("LA")
    torch.testing.assert_close(preprocess(la), preprocess(env.digit), atol=1e-6, rtol=0)


def _check_palette_transparency(env: Env, _capsys: Any) -> None:
    palette = Image.fromarray((env.digit > 127).astype(np.uint8) * 255).convert("P")
    palette.info["transparency"] = 0  # palette entry 0 (black) is transparent: composited onto black
    expected = preprocess(np.where(env.digit > 127, 255, 0).astype(np.uint8))
    torch.testing.assert_close(preprocess(palette), expected, atol=1e-6, rtol=0)


def _check_i16(env: Env, _capsys: Any) -> None:
    wide = Image.fromarray(env.digit.astype(np.uint16) * 257)  # mode I;16, full 16-bit range
    assert wide.mode == "I;16"
    torch.testing.assert_close(preprocess(wide), preprocess(env.digit), atol=1e-5, rtol=0)


def _check_float_mode(env: Env, _capsys: Any) -> None:
    image = Image.fromarray(env.digit.astype(np.float32) / 255)
    assert image.mode == "F"
    torch.testing.assert_close(preprocess(image), preprocess(env.digit), atol=1e-5, rtol=0)


def _check_bilevel(env: Env, _capsys: Any) -> None:
    bits = Image.fromarray(env.digit > 127)
    assert bits.mode == "1"
    expected = np.where(env.digit > 127, 255, 0).astype(np.uint8)
    torch.testing.assert_close(preprocess(bits), preprocess(expected), atol=1e-6, rtol=0)


def _check_odd_size(env: Env, _capsys: Any) -> None:
    odd = np.random.default_rng(0).integers(0, 256, (100, 37), dtype=np.uint8)
    x = preprocess(Image.fromarray(odd))
    expected = nn.functional.interpolate(torch.from_numpy(odd)[None, None].float() / 255, size=(32, 32),
                                         mode="bilinear", align_corners=False)
    assert x.shape == (1, 1, 32, 32)
    torch.testing.assert_close(x, (expected - 0.1307) / 0.3081, atol=1e-5, rtol=0)


def _check_mixed_list(env: Env, _capsys: Any) -> None:
    odd = np.zeros((100, 37), np.uint8)
    batch = preprocess([env.digit, odd])
    assert batch.shape == (2, 1, 32, 32)
    torch.testing.assert_close(batch[1:], preprocess(odd))


def _check_uint16_array(env: Env, _capsys: Any) -> None:
    torch.testing.assert_close(preprocess(env.digit.astype(np.uint16) * 257), preprocess(env.digit), atol=1e-5, rtol=0)


def _check_rgb_model(env: Env, _capsys: Any) -> None:
    rgb = mobilenet_v1(width_mult=0.25, in_chans=3)
    x = create_transform(rgb.pretrained_cfg)(Image.fromarray(env.digit))
    assert x.shape == (1, 3, 32, 32)
    for channel in range(3):  # the gray plane in every channel
        torch.testing.assert_close(x[:, channel:channel + 1], preprocess(env.digit), atol=1e-6, rtol=0)


def _check_smallest_rho(env: Env, _capsys: Any) -> None:
    model = mobilenet_v1(resolution_mult=0.52, width_mult=0.25)  # 0.52 · 32 = 16.6 px
    assert model.input_size == 17 and model.pretrained_cfg["input_size"] == (1, 17, 17)


def _check_empty_batch(env: Env, _capsys: Any) -> None:
    with torch.no_grad():
        assert env.model(torch.zeros(0, 1, 32, 32)).shape == (0, 10)


def _check_double_model(env: Env, _capsys: Any) -> None:
    x = torch.randn(2, 1, 32, 32)
    double = mobilenet_v1(width_mult=0.25).eval()
    double.load_state_dict(env.model.state_dict())
    with torch.no_grad():
        out = double.double()(x.double())
        assert out.dtype == torch.float64
        torch.testing.assert_close(out.float(), env.model(x), atol=1e-5, rtol=1e-4)


def _check_autocast(env: Env, _capsys: Any) -> None:
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert env.model(torch.zeros(2, 1, 32, 32, dtype=torch.bfloat16)).shape == (2, 10)


def _check_vmap(env: Env, _capsys: Any) -> None:
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        per_image = torch.func.vmap(lambda image: env.model(image.unsqueeze(0))[0])(x)
        torch.testing.assert_close(per_image, env.model(x), atol=1e-5, rtol=1e-4)


def _check_fx(env: Env, _capsys: Any) -> None:
    traced = torch.fx.symbolic_trace(env.model)
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), env.model(x))


def _check_tensors_i16(env: Env, _capsys: Any) -> None:
    data = tensors_from_dataset([(Image.fromarray(env.digit.astype(np.uint16) * 257), 3)])
    assert torch.equal(data.images[0], torch.from_numpy(env.digit))


def _check_cli_modes(env: Env, capsys: Any) -> None:
    images = {
        "gray.png": Image.fromarray(env.digit),
        "rgba.png": rgba_digit(env.digit),
        "wide.png": Image.fromarray(env.digit.astype(np.uint16) * 257),
        "float.tiff": Image.fromarray(env.digit.astype(np.float32) / 255),
        "palette.png": Image.fromarray(env.digit).convert("P"),
    }
    paths = [str(env.image(name, image)) for name, image in images.items()]
    # One run for all files (each run loads the model): every line as the gray image's.
    code, out, err = run_cli(["predict", *paths, "--model", str(env.checkpoint), "--top-k", "3"], capsys)
    lines = out.strip().splitlines()
    assert code == 0 and [line.split(": ", 1)[0] for line in lines] == paths, (out, err)
    expected = lines[0].split(": ", 1)[1]
    for name, line in zip(images, lines, strict=True):
        assert line.split(": ", 1)[1] == expected, (name, out, err)


def _check_cli_odd_size(env: Env, capsys: Any) -> None:
    path = env.image("odd.png", Image.fromarray(np.zeros((100, 37), np.uint8)).convert("1"))
    code, out, err = run_cli(["predict", str(path), "--model", str(env.checkpoint), "--invert"], capsys)
    assert code == 0 and out.startswith(f"{path}: ") and out.count("%)") == 3, err


CONVERSIONS = [
    Conversion("mobilenet_v1", "``resolution_mult=0.52`` (16.6 px)", "a 17 px input, the smallest side the "
               "strides take (sides are rounded)", _check_smallest_rho),
    Conversion("MobileNetV1", "an empty batch (N = 0)", "logits of shape (0, num_classes)", _check_empty_batch),
    Conversion("MobileNetV1", "float64 input to ``model.double()``",
               "float64 logits equal to the float32 model's", _check_double_model),
    Conversion("MobileNetV1", "bfloat16 input under ``torch.autocast``", "runs (autocast casts the input)",
               _check_autocast),
    Conversion("MobileNetV1", "``torch.func.vmap`` over single images", "runs (the NaN check needs values, "
               "so it is skipped)", _check_vmap),
    Conversion("MobileNetV1", "``torch.fx.symbolic_trace``", "a traced graph (the input checks are skipped)",
               _check_fx),
    Conversion("preprocess", "a PIL ``RGBA`` image", "composited onto black (the MNIST background), then gray",
               _check_rgba),
    Conversion("preprocess", "a PIL ``LA`` image", "composited onto black", _check_la),
    Conversion("preprocess", "a PIL ``P`` image with a transparent colour", "composited onto black",
               _check_palette_transparency),
    Conversion("preprocess", "a PIL ``P`` (palette) image", "its palette colours, as gray",
               _check_palette),
    Conversion("preprocess", "a PIL ``1`` (bilevel) image", "0 and 255", _check_bilevel),
    Conversion("preprocess", "a PIL ``I;16`` image", "full 16-bit precision, scaled by 1/65535", _check_i16),
    Conversion("preprocess", "a PIL ``F`` image in [0, 1]", "used as float pixels in [0, 1]", _check_float_mode),
    Conversion("preprocess", "a uint16 array", "scaled by 1/65535", _check_uint16_array),
    Conversion("preprocess", "a 100×37 image", "resized to the model's square side (aspect ratio not kept)",
               _check_odd_size),
    Conversion("preprocess", "a list of images of different sizes", "each resized, then stacked", _check_mixed_list),
    Conversion("create_transform", "a gray image for an RGB model", "the gray plane repeated into 3 channels",
               _check_rgb_model),
    Conversion("tensors_from_dataset", "PIL ``I;16`` images", "uint8 images (16 bits scaled to 8)",
               _check_tensors_i16),
    Conversion("mobilenet-mnist predict", "RGBA, 16-bit, float and palette image files",
               "the same prediction as the gray image", _check_cli_modes),
    Conversion("mobilenet-mnist predict", "a 100×37 bilevel image with ``--invert``", "a prediction",
               _check_cli_odd_size),
]


@pytest.mark.parametrize("conversion", CONVERSIONS, ids=lambda c: re.sub(r"\W+", "_", f"{c.where}_{c.given}"))
def test_odd_but_valid_input_is_converted(conversion: Conversion, env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    conversion.check(env, capsys)


# ====================================================================== fuzzing
# Random argument mixes and inputs: each builds and runs, or is refused as the rows above are.
MIN_SIDE = 17  # smallest input side the MNIST config's five stride-2 layers take
REFUSALS = (TypeError, ValueError, KeyError)
# Small and fast: few examples, no per-example deadline (shared CI CPUs), a fixed seed.
FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
BAD_NUMBERS = st.sampled_from([0, -1, 0.0, -0.25, math.nan, math.inf, -math.inf, 1e308])
NOT_NUMBERS = st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.just([1.0]))


@pytest.fixture(scope="module")
def small_model() -> MobileNetV1:
    return mobilenet_v1(width_mult=0.25, in_chans=2, num_classes=3).eval()


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
    try:
        model = mobilenet_v1(width_mult=width, resolution_mult=rho, in_chans=in_chans, num_classes=num_classes,
                             arch=arch)
    except Exception as error:  # the property is about which exceptions occur
        assert_refused_clearly(error, REFUSALS)
        return
    # Whatever built was valid: a real width in range and a side the strides can take.
    assert 0 < model.width_mult <= 4.0 and model.input_size >= MIN_SIDE
    with torch.no_grad():
        out = model.eval()(torch.zeros(1, model.in_chans, model.input_size, model.input_size))
    assert out.shape == (1, model.num_classes or model.num_features)


@FAST
@given(
    shape=st.lists(st.integers(0, 40), min_size=0, max_size=5),
    dtype=st.sampled_from([torch.float32, torch.uint8, torch.int32, torch.bool]),
)
def test_any_input_runs_or_is_refused_clearly(small_model: MobileNetV1, shape: list[int], dtype: torch.dtype) -> None:
    try:
        with torch.no_grad():
            out = small_model(torch.zeros(shape, dtype=dtype))
    except Exception as error:  # the property is about which exceptions occur
        assert_refused_clearly(error, REFUSALS)
        return
    # Accepted only what the model documents: float (N, 2, H, W) with H, W >= 17.
    assert dtype == torch.float32 and len(shape) == 4 and shape[1] == 2
    assert min(shape[2:]) >= MIN_SIDE
    assert out.shape == (shape[0], 3)


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
        create_model(name)
    except Exception as error:  # the property is about which exceptions occur
        assert_refused_clearly(error, KeyError, _VALID_MODELS)
        return
    assert name.partition(".")[0] in list_models()


@FAST
@given(
    kind=st.sampled_from(["conv", "dw_sep", "pool", ""]),
    out_chs=st.one_of(st.integers(-2, 64), st.floats(1, 8), st.booleans()),
    stride=st.one_of(st.integers(-1, 3), st.floats(1, 2)),
    kernel=st.one_of(st.integers(-1, 6), st.floats(1, 5)),
)
def test_layer_config_valid_or_value_error(kind: str, out_chs: object, stride: object, kernel: object) -> None:
    try:
        layer = LayerConfig(kind, out_chs, stride, kernel)
    except Exception as error:  # the property is about which exceptions occur
        assert_refused_clearly(error, ValueError, r"LayerConfig\.")
        return
    assert kind in ("conv", "dw_sep")
    assert type(out_chs) is int and out_chs >= 1
    assert type(stride) is int and stride in (1, 2)
    assert type(kernel) is int and kernel >= 1 and kernel % 2 == 1
    assert layer.out_chs == out_chs
