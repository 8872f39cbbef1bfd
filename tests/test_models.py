"""Behaviour of every registered model: shapes, gradients, heads, features, export."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

import mobilenet_mnist.models
from mobilenet_mnist import MobileNetV1, create_model, list_models, mobilenet_v1

REPO_ROOT = Path(__file__).resolve().parents[1]

MODEL_NAMES = list_models()
ATOL = 1e-5


def _build(name: str, **kwargs: object) -> MobileNetV1:
    return create_model(name, **kwargs)


def _batch(size: int = 2, side: int = 32, chans: int = 1) -> torch.Tensor:
    return torch.randn(size, chans, side, side)


def test_registry_lists_the_four_widths() -> None:
    assert MODEL_NAMES == [
        "mobilenet_v1_025", "mobilenet_v1_050", "mobilenet_v1_075", "mobilenet_v1_100",
    ]
    assert list_models("*_05*") == ["mobilenet_v1_050"]
    assert list_models("nothing*") == []


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_width_matches_name(name: str) -> None:
    model = _build(name)
    assert model.width_mult == pytest.approx(int(name[-3:]) / 100)
    # α scales the last stage: 1024·α channels (all widths here are multiples of 8).
    assert model.num_features == round(1024 * model.width_mult)


@pytest.mark.parametrize("rho", [1.0, 0.875, 0.75])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_output_shape_per_resolution(name: str, rho: float) -> None:
    model = _build(name, resolution_mult=rho).eval()
    side = round(32 * rho)
    assert model.pretrained_cfg["input_size"] == (1, side, side)
    assert model.input_size == side
    with torch.no_grad():
        out = model(_batch(3, side))
    assert out.shape == (3, 10)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_parameter_receives_a_gradient(name: str) -> None:
    model = _build(name).train()
    loss = nn.functional.cross_entropy(model(_batch(4)), torch.tensor([0, 3, 7, 9]))
    loss.backward()
    for param_name, param in model.named_parameters():
        assert param.grad is not None, f"{param_name} got no gradient"
        assert torch.isfinite(param.grad).all(), f"{param_name} has a non-finite gradient"
        assert param.grad.abs().sum() > 0, f"{param_name} has an all-zero gradient"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_num_classes_zero_returns_pooled_features(name: str) -> None:
    model = _build(name, num_classes=0).eval()
    assert isinstance(model.get_classifier(), nn.Identity)
    assert model.pretrained_cfg["num_classes"] == 0
    x = _batch(2)
    with torch.no_grad():
        pooled = model(x)
        features = model.forward_features(x)
        expected = model.forward_head(features, pre_logits=True)
    assert pooled.shape == (2, model.num_features)
    assert features.shape == (2, model.num_features, 1, 1)
    torch.testing.assert_close(pooled, expected, rtol=0, atol=ATOL)
    torch.testing.assert_close(pooled, features.mean(dim=(2, 3)), rtol=0, atol=ATOL)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_reset_classifier(name: str) -> None:
    model = _build(name).eval()
    with torch.no_grad():
        model.classifier.weight.fill_(1.0)
        model.classifier.bias.fill_(1.0)
    model.reset_classifier(26)
    head = model.get_classifier()
    assert isinstance(head, nn.Linear)
    assert (head.in_features, head.out_features) == (model.num_features, 26)
    # Freshly initialised: the filled values are gone, bias zero, small random weights.
    assert torch.count_nonzero(head.bias) == 0
    assert 0 < head.weight.std() < 0.1
    assert model.num_classes == 26 and model.pretrained_cfg["num_classes"] == 26
    with torch.no_grad():
        assert model(_batch(2)).shape == (2, 26)

    model.reset_classifier(0)
    assert isinstance(model.get_classifier(), nn.Identity)
    assert "labels" not in model.pretrained_cfg  # they named the old head's outputs
    assert model.pretrained_cfg["num_classes"] == 0
    with torch.no_grad():
        assert model(_batch(2)).shape == (2, model.num_features)


def test_reset_classifier_keeps_model_dtype() -> None:
    model = mobilenet_v1(width_mult=0.25).double().eval()
    model.reset_classifier(3)
    assert model.get_classifier().weight.dtype == torch.float64
    assert model(_batch(2).double()).shape == (2, 3)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_intermediates_match_feature_info(name: str) -> None:
    model = _build(name).eval()
    side = 32
    x = _batch(2, side)
    with torch.no_grad():
        final, features = model.forward_intermediates(x)  # timm's (final, intermediates)
        only = model.forward_intermediates(x, intermediates_only=True)  # the list 0.2.0 returned
        expected_final = model.forward_features(x)
    assert len(features) == len(only) == len(model.feature_info) == len(model.stages)
    for index, (feat, info) in enumerate(zip(features, model.feature_info, strict=True)):
        out_side = side // info["reduction"]
        assert feat.shape == (2, info["num_chs"], out_side, out_side)
        assert model.get_submodule(info["module"]) is model.stages[index]
        torch.testing.assert_close(only[index], feat, rtol=0, atol=0)
    reductions = [info["reduction"] for info in model.feature_info]
    assert reductions == [1, 2, 4, 8, 16, 32]
    torch.testing.assert_close(final, expected_final, rtol=0, atol=0)
    torch.testing.assert_close(features[-1], final, rtol=0, atol=0)
    assert model.feature_info[-1]["num_chs"] == model.num_features


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_torchscript_script_round_trip(name: str, tmp_path) -> None:
    model = _build(name).eval()
    x = _batch(3)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.* deprecation notices
        warnings.simplefilter("error", UserWarning)  # e.g. TorchScript annotation complaints
        expected = model(x)
        scripted = torch.jit.script(model)
        torch.testing.assert_close(scripted(x), expected, rtol=0, atol=ATOL)
        path = tmp_path / "model.pt"
        scripted.save(str(path))
        loaded = torch.jit.load(str(path))
        torch.testing.assert_close(loaded(x), expected, rtol=0, atol=ATOL)
        # A different batch size and input side work too (pooling is size-independent).
        other = _batch(5, 24)
        torch.testing.assert_close(loaded(other), model(other), rtol=0, atol=ATOL)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_torchscript_trace_round_trip(name: str, tmp_path) -> None:
    model = _build(name).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        # A TracerWarning here would mean a shape-dependent branch was baked in.
        warnings.simplefilter("error", torch.jit.TracerWarning)
        traced = torch.jit.trace(model, _batch(2), check_trace=False)
        path = tmp_path / "traced.pt"
        traced.save(str(path))
        loaded = torch.jit.load(str(path))
        x = _batch(4)  # a batch size other than the one traced
        expected = model(x)
        torch.testing.assert_close(traced(x), expected, rtol=0, atol=ATOL)
        torch.testing.assert_close(loaded(x), expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_torch_export_round_trip_with_dynamic_batch(name: str, tmp_path) -> None:
    model = _build(name).eval()
    batch = torch.export.Dim("batch", min=1, max=256)
    program = torch.export.export(model, (_batch(2),), dynamic_shapes={"x": {0: batch}})
    path = tmp_path / "model.pt2"
    torch.export.save(program, path)
    exported, loaded = program.module(), torch.export.load(path).module()
    with torch.no_grad():
        for size in (1, 7):  # batch sizes other than the one exported
            x = _batch(size)
            expected = model(x)
            torch.testing.assert_close(exported(x), expected, rtol=0, atol=ATOL)
            torch.testing.assert_close(loaded(x), expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_eval_is_deterministic(name: str) -> None:
    model = _build(name, dropout=0.5).eval()
    x = _batch(3)
    with torch.no_grad():
        first, second = model(x), model(x)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    # In training mode dropout (and batch statistics) make the outputs differ.
    model.train()
    assert not torch.equal(model(x), model(x))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_pretrained_cfg_describes_the_model(name: str) -> None:
    model = _build(name, in_chans=3, num_classes=5)
    cfg = model.pretrained_cfg
    for key in ("input_size", "mean", "std", "num_classes", "first_conv", "classifier"):
        assert key in cfg, key
    assert cfg["input_size"] == (3, 32, 32)
    assert len(cfg["mean"]) == len(cfg["std"]) == 3
    assert all(s > 0 for s in cfg["std"])
    assert cfg["num_classes"] == 5
    first_conv = model.get_submodule(cfg["first_conv"])
    assert isinstance(first_conv, nn.Conv2d) and first_conv.in_channels == 3
    classifier = model.get_submodule(cfg["classifier"])
    assert isinstance(classifier, nn.Linear) and classifier.out_features == 5


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_knows_its_registered_name(name: str) -> None:
    width = int(name[-3:]) / 100
    builders = {
        "create_model": _build(name),
        "named builder": getattr(mobilenet_mnist.models, name)(),
        "mobilenet_v1(width_mult)": mobilenet_v1(width_mult=width),
    }
    for how, model in builders.items():
        assert model.pretrained_cfg["architecture"] == name, how


def test_models_without_a_named_variant_are_mobilenet_v1(monkeypatch: pytest.MonkeyPatch) -> None:
    from mobilenet_mnist.models import factory

    assert mobilenet_v1(width_mult=0.3).pretrained_cfg["architecture"] == "mobilenet_v1"
    assert mobilenet_v1(arch="imagenet", width_mult=0.5).pretrained_cfg["architecture"] == "mobilenet_v1"
    assert MobileNetV1(width_mult=0.5).pretrained_cfg["architecture"] == "mobilenet_v1"  # no factory, no name
    monkeypatch.setattr(factory, "_MODEL_REGISTRY", dict(factory._MODEL_REGISTRY))
    factory.register_model("my_mobilenet_050")(lambda **kwargs: mobilenet_v1(width_mult=0.5, **kwargs))
    assert create_model("my_mobilenet_050").pretrained_cfg["architecture"] == "my_mobilenet_050"
    with pytest.raises(ValueError, match=r"No published weights exist for width_mult=0\.3.*_050 \(α=0\.5\)"):
        mobilenet_v1(pretrained=True, width_mult=0.3)


def test_models_are_independent_instances() -> None:
    first, second = mobilenet_v1(width_mult=0.25), mobilenet_v1(width_mult=0.25)
    first.pretrained_cfg["mean"] = (0.0,)
    assert second.pretrained_cfg["mean"] != (0.0,)
    assert first.stem.conv.weight.data_ptr() != second.stem.conv.weight.data_ptr()


def test_import_is_light() -> None:
    code = (
        "import sys, mobilenet_mnist\n"
        "heavy = ['huggingface_hub', 'torchvision', 'onnx', 'onnxruntime', 'matplotlib', 'timm']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, check=True, timeout=120, cwd=REPO_ROOT
    )
    assert result.stdout.strip() == "", f"imported at `import mobilenet_mnist`: {result.stdout}"


# ---------------------------------------------------------------- timm's model interface
@pytest.mark.parametrize(
    ("pool", "expected"),
    [
        ("avg", lambda f: f.mean(dim=(2, 3))),
        ("max", lambda f: f.amax(dim=(2, 3))),
        ("avgmax", lambda f: 0.5 * (f.mean(dim=(2, 3)) + f.amax(dim=(2, 3)))),
        ("catavgmax", lambda f: torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1)),
    ],
)
def test_global_pool_types(pool: str, expected: Callable[[torch.Tensor], torch.Tensor]) -> None:
    model = mobilenet_v1(width_mult=0.25, global_pool=pool, resolution_mult=2.0).eval()  # a 2×2 last map
    x = _batch(2, 64)
    with torch.no_grad():
        features = model.forward_features(x)
        pooled = model.forward_head(features, pre_logits=True)
        logits = model(x)
    torch.testing.assert_close(pooled, expected(features))
    assert pooled.shape == (2, model.head_hidden_size) and logits.shape == (2, 10)
    assert model.head_hidden_size == model.num_features * (2 if pool == "catavgmax" else 1)
    assert model.get_classifier().in_features == model.head_hidden_size
    model.reset_classifier(3)  # keeps the pooling
    with torch.no_grad():
        torch.testing.assert_close(model.forward_head(features, pre_logits=True), pooled, rtol=0, atol=0)
    assert model.global_pool.pool_type == pool and model(x).shape == (2, 3)


def test_no_pooling_returns_the_feature_map_and_switching_back() -> None:
    model = mobilenet_v1(width_mult=0.25, num_classes=0, global_pool="").eval()
    x = _batch(2)
    assert model(x).shape == (2, model.num_features, 1, 1)
    model.reset_classifier(5)  # a classifier needs pooling: the default comes back
    assert model.global_pool.pool_type == "avg" and model(x).shape == (2, 5)
    model.reset_classifier(0, "max")
    assert model.global_pool.pool_type == "max" and model(x).shape == (2, model.num_features)


def test_reset_classifier_keeps_train_or_eval_mode() -> None:
    model = mobilenet_v1(width_mult=0.25)
    for mode in (False, True):
        model.train(mode)
        model.reset_classifier(4, "avgmax")
        assert all(module.training == mode for module in model.modules())


def test_default_cfg_is_pretrained_cfg() -> None:
    model = mobilenet_v1(width_mult=0.25, resolution_mult=0.875)
    assert model.default_cfg is model.pretrained_cfg
    assert model.default_cfg["input_size"] == (1, 28, 28) and model.default_cfg["pool_size"] == (1, 1)
    model.default_cfg = {**model.default_cfg, "crop_pct": 0.9}  # timm's builders assign it
    assert model.pretrained_cfg["crop_pct"] == 0.9


def test_create_model_places_and_casts() -> None:
    model = create_model("mobilenet_v1_025", device="meta", dtype=torch.float64)
    tensors = [*model.parameters(), *model.buffers()]
    assert all(t.device.type == "meta" for t in tensors)
    assert {t.dtype for t in model.parameters()} == {torch.float64}
    assert create_model("mobilenet_v1_025", dtype=torch.bfloat16).eval()(_batch(2).bfloat16()).dtype == torch.bfloat16


def test_pretrained_cfg_overlay_replaces_entries() -> None:
    model = create_model("mobilenet_v1_025", pretrained_cfg_overlay={"input_size": [1, 28, 28], "crop_pct": 0.95})
    assert model.pretrained_cfg["input_size"] == (1, 28, 28) and model.pretrained_cfg["crop_pct"] == 0.95
    assert model.input_size == 28


def test_feature_pyramid_example_prints_real_shapes() -> None:
    out = run_example("feature_pyramid.py")
    assert "P3: (2, 64, 8, 8)" in out and "segmentation logits: (2, 11, 64, 64)" in out


def run_example(name: str, *args: str) -> str:
    """Run ``examples/<name> --quick ARGS`` as a user would; return its stdout."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "examples" / name), "--quick", *args],
                          capture_output=True, text=True, timeout=300, env=env, cwd=REPO_ROOT)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout
