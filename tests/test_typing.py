"""The package ships ``py.typed``: what a type checker sees of the public API.

CI runs ``mypy`` over the package itself (``[tool.mypy]`` in ``pyproject.toml``). These tests
check the user's side: every top-level name reaches type checkers with its real type (the
package loads them lazily through a module ``__getattr__``, which alone would make them all
``Any``), and typical user code, written with the public API, passes ``mypy --strict`` with
the types it should have (``create_model`` gives a ``MobileNetV1``, with ``features_only=True``
a features model, ``freeze_backbone`` gives back what it was given, ...).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mobilenet_mnist

REPO_ROOT = Path(__file__).resolve().parents[1]
INIT = REPO_ROOT / "mobilenet_mnist" / "__init__.py"

#: User code: each line is something the docs show; mypy --strict must accept all of it.
USER_CODE = '''
from __future__ import annotations

from pathlib import Path
from typing import Any, assert_type

import torch
from torch import nn

import mobilenet_mnist
from mobilenet_mnist import (
    MobileNetV1, PretrainedCfg, TrainConfig, create_model, create_transform, evaluate, fit, freeze_backbone,
    from_pretrained, get_preset, list_models, list_pretrained, load_dataset, mobilenet_v1, predict, preprocess,
    prepare_digits, profile_model, save_pretrained,
)
from mobilenet_mnist.deploy import DigitPrediction, Predictor
from mobilenet_mnist.models.features import FeatureExtractorBase
from mobilenet_mnist.training.finetune import unfreeze_backbone


def models() -> None:
    model = create_model("mobilenet_v1_050.mnist", pretrained=True)
    assert_type(model, MobileNetV1)
    model.reset_classifier(26)
    cfg: dict[str, Any] = model.pretrained_cfg
    side: int = model.input_size
    logits: torch.Tensor = model(torch.zeros(1, 1, side, side))
    backbone = create_model("mobilenet_v1_050", features_only=True, out_indices=(2, 3))
    assert_type(backbone, FeatureExtractorBase)
    channels: list[int] = backbone.feature_info.channels()
    assert_type(mobilenet_v1(pretrained=False, width_mult=0.5), MobileNetV1)
    names: list[str] = list_models("mobilenet_v1_*") + list_pretrained()
    params: int = profile_model(model).params
    version: str = mobilenet_mnist.__version__
    print(cfg, logits, channels, names, params, version, PretrainedCfg)


def weights(folder: Path) -> None:
    model = from_pretrained(folder)
    assert_type(model, MobileNetV1)
    written: Path = save_pretrained(model, folder / "copy")
    print(written)


def data_and_prediction(folder: Path) -> None:
    test = load_dataset("mnist", "test", root=folder)
    batch: torch.Tensor = preprocess(test.images[:8])
    ready: torch.Tensor = prepare_digits(test.images[:8])
    transform = create_transform(mobilenet_v1().pretrained_cfg)
    results: list[DigitPrediction] = predict(test.images[:2])
    label: str = results[0].label
    predictor = Predictor("mobilenet_v1_100.mnist", backend="torch")
    assert_type(predictor(test.images[:2]), list[DigitPrediction])
    print(batch, ready, transform(test.images[0]), label)


def training(folder: Path) -> None:
    cfg: TrainConfig = get_preset("fast", epochs=1)
    model = create_model("mobilenet_v1_025.mnist", pretrained=True, num_classes=10)
    frozen = freeze_backbone(model)
    assert_type(frozen, MobileNetV1)
    result = fit(frozen, load_dataset("fashion_mnist", root=folder), cfg)
    assert_type(unfreeze_backbone(result.model), MobileNetV1)
    accuracy: float = evaluate(model, load_dataset("mnist", "test", root=folder), 32).accuracy
    head: nn.Module = model.get_classifier()
    print(accuracy, head)
'''


def _type_checking_imports() -> dict[str, str]:
    """``{name: subpackage}`` of the imports under ``if TYPE_CHECKING:`` in the package's ``__init__``."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", None) == "TYPE_CHECKING")
    found = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.level == 1, ast.dump(node)
        for alias in node.names:
            assert alias.asname == alias.name, f"{alias.name}: re-export it as itself (mypy's explicit re-export)"
            found[alias.name] = node.module or ""
    return found


def test_type_checkers_see_every_public_name() -> None:
    from mobilenet_mnist import _LAZY

    assert _type_checking_imports() == _LAZY
    assert set(_LAZY) | {"__version__"} == set(mobilenet_mnist.__all__)


@pytest.mark.slow
def test_user_code_type_checks_strictly(tmp_path: Path) -> None:
    (tmp_path / "user_code.py").write_text(textwrap.dedent(USER_CODE), encoding="utf-8")
    (tmp_path / "mypy.ini").write_text(textwrap.dedent("""
        [mypy]
        strict = True
        cache_dir = .mypy_cache
        mypy_path = REPO
        # As for an installed package: the user sees its types, not its own type errors.
        [mypy-mobilenet_mnist.*]
        follow_imports = silent
        [mypy-onnxruntime.*,torchvision.*,tqdm.*,google.protobuf.*]
        ignore_missing_imports = True
    """).replace("REPO", str(REPO_ROOT)), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "user_code.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 1 source file" in result.stdout
