"""timm's generic model contract, for every registered model and every published weight tag.

Modelled on the generic tests of timm 1.0.31 (``tests/test_models.py``: forward, backward,
default cfgs, pretrained loading, TorchScript, features_only, forward_intermediates, pruning,
FX), run through this library's own ``create_model`` so they hold without timm, plus the
timm interop path (``register_timm`` → ``timm.create_model`` → timm's data config), which
needs timm (the ``dev`` extra). Small batches at the models' native 32 px keep it fast.
"""

from __future__ import annotations

import copy
import fnmatch
import math
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hub_cache import seed_hf_cache
from PIL import Image
from torch import nn

import mobilenet_mnist
from mobilenet_mnist import create_model, list_models, preprocess
from mobilenet_mnist.models.features import FeatureGetterNet, FeatureHookNet
from mobilenet_mnist.models.pretrained import get_pretrained_cfg

try:
    import timm
    import timm.data
except ImportError:  # timm is optional: the interop tests need it, the contract does not
    timm = None

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS = list_models()
TAGGED = list_models(pretrained=True)
needs_timm = pytest.mark.skipif(timm is None, reason="needs timm (pip install -e '.[dev]')")


def _input(model: nn.Module, batch: int = 1, **kwargs: object) -> torch.Tensor:
    return torch.randn(batch, *model.default_cfg["input_size"], **kwargs)


@pytest.fixture(scope="module")
def hub_weights(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An offline Hugging Face cache holding every published checkpoint (from ``hub/``)."""
    from huggingface_hub import constants

    cache = tmp_path_factory.mktemp("hf-cache")
    for name in TAGGED:
        cfg = get_pretrained_cfg(name)
        seed_hf_cache(REPO_ROOT / "hub" / name, cache, cfg.hf_hub_id, revision=cfg.hf_hub_revision)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setattr(constants, "HF_HUB_OFFLINE", True)
        patch.setattr(constants, "HF_HUB_CACHE", str(cache))
        yield cache


# ---------------------------------------------------------------- forward, backward, TorchScript
@pytest.mark.parametrize("name", MODELS)
def test_model_forward(name: str) -> None:
    model = create_model(name).eval()
    x = _input(model)
    outputs = model(x)
    assert outputs.shape == (1, model.num_classes) and not torch.isnan(outputs).any()
    model.set_grad_checkpointing()  # must not change what the model computes
    torch.testing.assert_close(model(x), outputs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_model_backward(name: str) -> None:
    model = create_model(name, num_classes=42).train()
    outputs = model(_input(model, 2))
    outputs.mean().backward()
    assert outputs.shape[-1] == 42
    assert not [n for n, p in model.named_parameters() if p.grad is None]


@pytest.mark.parametrize("name", MODELS)
def test_model_forward_torchscript(name: str) -> None:
    model = create_model(name).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.* deprecation notices
        scripted = torch.jit.script(model)
    x = _input(model)
    torch.testing.assert_close(scripted(x), model(x))


# ---------------------------------------------------------------- default cfgs (meta device)
def _check_api(model: nn.Module, name: str) -> None:
    """What timm's optimizer factory and model creation rely on."""
    with pytest.raises(TypeError, match="not_a_model_arg"):
        create_model(name, device="meta", not_a_model_arg=1)
    import inspect

    assert inspect.signature(model.reset_classifier).parameters["global_pool"].default is None
    params = [n for n, _ in model.named_parameters()]
    assert all(any(fnmatch.fnmatch(n, p) for n in params) for p in model.no_weight_decay())


def _check_head_shapes(model: nn.Module, name: str, x: torch.Tensor) -> None:
    cfg = model.default_cfg
    features = model.forward_features(x)
    pre_logits = model.forward_head(features, pre_logits=True)
    assert tuple(features.shape[2:]) == tuple(cfg["pool_size"])
    assert features.shape[1] == model.num_features and pre_logits.shape[1] == model.head_hidden_size
    model.reset_classifier(0)
    assert model.num_classes == 0 and model(x).shape == pre_logits.shape
    model.reset_classifier(0, "")
    assert model(x).shape == features.shape
    for pool in ("", "avg"):
        headless = create_model(name, num_classes=0, global_pool=pool, device="meta", dtype=torch.float32).eval()
        assert headless(x).shape == (features.shape if pool == "" else pre_logits.shape)


@pytest.mark.parametrize("name", TAGGED + MODELS)
def test_model_default_cfgs(name: str) -> None:
    with torch.device("meta"):
        model = create_model(name, device="meta", dtype=torch.float32).eval()
    _check_api(model, name)
    cfg = model.default_cfg
    assert cfg is model.pretrained_cfg
    assert model.num_classes >= 0 and model.num_features > 0 and model.head_hidden_size > 0
    assert model.in_chans == cfg["input_size"][0]
    state = model.state_dict()
    assert cfg["first_conv"] + ".weight" in state and cfg["classifier"] + ".weight" in state
    x = _input(model, device="meta")
    model.to(torch.bfloat16)  # a dtype change after building: no stale state, no upcast
    assert model(x.to(torch.bfloat16)).dtype == torch.bfloat16
    model.to(torch.float32)
    _check_head_shapes(model, name, x)
    model.to(device="meta", dtype=torch.float64)
    model.reset_classifier(0)
    model.reset_classifier(2)
    head = list(model.get_classifier().parameters())
    assert head and all(p.device.type == "meta" and p.dtype == torch.float64 for p in head)
    assert all(not m.training for m in model.modules())  # the new head keeps eval mode
    on_meta = create_model(name, device="meta", dtype=torch.float32)  # no device context needed
    assert all(t.device.type == "meta" for t in [*on_meta.parameters(), *on_meta.buffers()])
    on_meta.requires_grad_(False)
    on_meta.reset_classifier(0)
    on_meta.reset_classifier(0, "")
    assert not [n for n, p in on_meta.named_parameters() if p.requires_grad]


@pytest.mark.parametrize("name", TAGGED)
def test_pretrained_cfg_has_what_timms_data_helpers_read(name: str) -> None:
    cfg = create_model(name, device="meta").pretrained_cfg
    expected = {
        "input_size": (1, 32, 32), "min_input_size": (1, 17, 17), "pool_size": (1, 1), "crop_pct": 1.0,
        "crop_mode": "squash", "interpolation": "bilinear", "fixed_input_size": False,
        "first_conv": "stem.conv", "classifier": "classifier", "num_classes": 10, "license": "mit",
    }
    assert {k: cfg[k] for k in expected} == expected
    assert len(cfg["mean"]) == len(cfg["std"]) == 1 and "test_input_size" not in cfg  # 32 px is also the test size


@needs_timm
@pytest.mark.parametrize("name", MODELS)
def test_group_matcher_drives_timms_layer_decay(name: str) -> None:
    from timm.models._manipulate import group_parameters
    from timm.optim import create_optimizer_v2

    model = create_model(name)
    for coarse in (False, True):
        groups = group_parameters(model, model.group_matcher(coarse=coarse), reverse=True)
        assert len(set(groups.values())) > 1
    optimizer = create_optimizer_v2(model, opt="adamw", lr=1e-3, layer_decay=0.75)
    scales = {group["lr_scale"] for group in optimizer.param_groups}
    assert len(scales) > 2 and max(scales) == 1.0  # the head trains at the full rate


# ---------------------------------------------------------------- pretrained weights
@pytest.mark.parametrize("name", TAGGED)
def test_model_load_pretrained(name: str, hub_weights: Path) -> None:
    for num_classes in (5, 0):
        model = create_model(name, pretrained=True, in_chans=1, num_classes=num_classes)
        assert model.pretrained_cfg["sha256"] == get_pretrained_cfg(name).sha256
        assert model.num_classes == num_classes
    rgb = create_model(name, pretrained=True, in_chans=3)
    assert rgb.stem.conv.in_channels == 3 and rgb.pretrained_cfg["input_size"] == (3, 32, 32)


@pytest.mark.parametrize("name", TAGGED)
def test_model_features_pretrained(name: str, hub_weights: Path) -> None:
    backbone = create_model(name, pretrained=True, features_only=True)
    assert backbone.pretrained_cfg["sha256"] == get_pretrained_cfg(name).sha256
    assert "num_classes" not in backbone.pretrained_cfg


# ---------------------------------------------------------------- features_only
def _check_features(model: nn.Module, outputs: list[torch.Tensor], side: int, batch: int) -> None:
    assert len(outputs) == len(model.feature_info.out_indices)
    for chs, reduction, out in zip(model.feature_info.channels(), model.feature_info.reduction(), outputs, strict=True):
        assert out.shape == (batch, chs, math.ceil(side / reduction), math.ceil(side / reduction))
        assert not torch.isnan(out).any()


@pytest.mark.parametrize("feature_cls", ["getter", "hook"])
@pytest.mark.parametrize("name", MODELS)
def test_model_forward_features(name: str, feature_cls: str) -> None:
    cases = ((None, [0, 1, 2, 3, 4, 5]), ((1, 3, -1), [1, 3, 5]), (3, [3, 4, 5]), ((4, 2), [4, 2]))
    for out_indices, expected in cases:
        model = create_model(name, features_only=True, out_indices=out_indices, feature_cls=feature_cls).eval()
        assert model.feature_info.out_indices == expected
        assert len(model.model.stages) == max(expected) + 1  # nothing after the last level runs
        _check_features(model, model(torch.randn(2, 1, 40, 40)), 40, 2)
    assert isinstance(model, FeatureHookNet if feature_cls == "hook" else FeatureGetterNet)


@pytest.mark.parametrize("feature_cls", ["getter", "hook"])
def test_features_only_grad_checkpointing_backward(feature_cls: str) -> None:
    x = torch.randn(2, 1, 32, 32)
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = create_model("mobilenet_v1_025", features_only=True, feature_cls=feature_cls).train()
        model.set_grad_checkpointing(checkpointing)
        sum(f.pow(2).mean() for f in model(x)).backward()
        grads.append([p.grad for p in model.parameters()])
    assert all(g is not None for g in grads[1])
    for with_ckpt, without in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(with_ckpt, without)


def test_feature_getter_is_torchscript_able() -> None:
    model = create_model("mobilenet_v1_025", features_only=True, out_indices=(1, 4)).eval()
    x = torch.randn(1, 1, 32, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(model)
    for got, expected in zip(scripted(x), model(x), strict=True):
        torch.testing.assert_close(got, expected)


# ---------------------------------------------------------------- forward_intermediates, pruning
@pytest.mark.parametrize("name", MODELS)
def test_model_forward_intermediates(name: str) -> None:
    model = create_model(name).eval()
    info = model.feature_info
    x = torch.randn(1, 1, 40, 40)
    final, intermediates = model.forward_intermediates(x, output_fmt="NCHW")
    assert len(intermediates) == len(info) >= 3
    for level, out in zip(info, intermediates, strict=True):
        side = math.ceil(40 / level["reduction"])
        assert out.shape == (1, level["num_chs"], side, side)
    torch.testing.assert_close(final, model.forward_features(x), rtol=1e-5, atol=1e-8)
    nhwc = model.forward_intermediates(x, indices=[0, -1], output_fmt="NHWC", intermediates_only=True)
    assert [t.permute(0, 3, 1, 2).shape for t in nhwc] == [intermediates[0].shape, intermediates[-1].shape]
    last_two = model.forward_intermediates(x, indices=2, stop_early=True, intermediates_only=True)
    for got, expected in zip(last_two, intermediates[-2:], strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    early, taps = model.forward_intermediates(x, indices=[1], stop_early=True)
    torch.testing.assert_close(early, intermediates[1], rtol=0, atol=0)  # nothing ran after level 1
    torch.testing.assert_close(taps[0], intermediates[1], rtol=0, atol=0)
    model.set_grad_checkpointing()
    torch.testing.assert_close(model.forward_intermediates(x)[0], final, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_prune_intermediate_layers_contract(name: str) -> None:
    model = create_model(name, dropout=0.5).eval()
    x = torch.randn(2, 1, 32, 32)
    last = len(model.feature_info) - 1
    with torch.no_grad():
        expected, taps = model(x), model.forward_intermediates(x, intermediates_only=True)
        kept = copy.deepcopy(model)
        kept.prune_intermediate_layers([last], prune_head=False)
        torch.testing.assert_close(kept(x), expected, rtol=0, atol=0)
    for index in range(last + 1):
        pruned = copy.deepcopy(model)
        take = pruned.prune_intermediate_layers([index])
        with torch.no_grad():
            torch.testing.assert_close(pruned.forward_intermediates(x, indices=take, intermediates_only=True)[0],
                                       taps[index], rtol=0, atol=0)
            torch.testing.assert_close(pruned.forward_features(x), taps[index], rtol=0, atol=0)
            assert torch.equal(pruned(x), pruned(x))  # no module left in training mode
        assert pruned.num_features == model.feature_info[index]["num_chs"]
        assert tuple(pruned.pretrained_cfg["pool_size"]) == tuple(taps[index].shape[2:])
        pruned.train()
        features = pruned.forward_intermediates(x, indices=take, intermediates_only=True)
        sum(f.sum() for f in [*features, pruned.forward_features(x)]).backward()
        assert not [n for n, p in pruned.named_parameters() if p.grad is None]


def test_head_follows_pruning_and_pooling() -> None:
    model = create_model("mobilenet_v1_050", num_classes=0).eval()
    x = torch.randn(2, 1, 32, 32)
    model.prune_intermediate_layers([3])
    model.reset_classifier(7, "catavgmax")
    assert model.head_hidden_size == 2 * model.feature_info[3]["num_chs"]
    assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (2, model.head_hidden_size)
    assert model(x).shape == (2, 7)


# ---------------------------------------------------------------- FX
@pytest.mark.parametrize("name", MODELS)
def test_model_forward_fx(name: str) -> None:
    from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

    model = create_model(name).eval()
    x = _input(model)
    train_nodes, eval_nodes = get_graph_node_names(model)
    extractor = create_feature_extractor(model, train_return_nodes=[train_nodes[-1]],
                                         eval_return_nodes=[eval_nodes[-1]])
    with torch.inference_mode():
        torch.testing.assert_close(next(iter(extractor(x).values())), model(x), rtol=1e-4, atol=1e-5)
    extractor.train()
    outputs = next(iter(extractor(_input(model, 2)).values()))
    outputs.mean().backward()
    assert not [n for n, p in extractor.named_parameters() if p.grad is None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(create_feature_extractor(model.eval(), return_nodes=[eval_nodes[-1]]))
    assert next(iter(scripted(x).values())).shape == (1, model.num_classes)


@pytest.mark.parametrize("name", MODELS)
def test_fx_traced_model_can_be_scripted(name: str) -> None:
    model = create_model(name).eval()
    x = _input(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.* deprecation notices
        warnings.filterwarnings("ignore", "The TorchScript type system", UserWarning)  # torch.fx.GraphModule's own
        scripted = torch.jit.script(torch.fx.symbolic_trace(model))
    torch.testing.assert_close(scripted(x), model(x))


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m, x: m.forward_intermediates(x, indices=[6]), ValueError,
         r"indices=\(6,\): \[6\] out of range; this model has 6 feature level\(s\), so valid indices are 0 to 5 "
         r"\(or -6 to -1 from the end\), or an int n in 1\.\.6 for the last n levels\. "
         r"Levels: 0: 16 channels, reduction 1; 1: 32 channels"),
        (lambda m, x: m.forward_intermediates(x, indices=7), ValueError, r"indices=7 asks for the last 7 levels"),
        (lambda m, x: m.forward_intermediates(x, indices=[1, -5]), ValueError,
         r"names a level twice \(as \[1, 1\]\)"),
        (lambda m, x: m.forward_intermediates(x, indices="all"), TypeError,
         r"indices must be None, an int or a list/tuple of ints, got 'all'"),
        (lambda m, x: m.forward_intermediates(x, output_fmt="NLC"), ValueError,
         r"Unknown output_fmt 'NLC'\. .*Valid names: NCHW, NHWC"),
        (lambda m, x: m.prune_intermediate_layers([9]), ValueError, r"\[9\] out of range"),
        (lambda m, x: m.reset_classifier(5, "mean"), ValueError,
         r"Unknown global_pool 'mean'\..* Valid names: avg, max, avgmax, catavgmax, ''"),
        (lambda m, x: m.reset_classifier(5, ""), ValueError,
         r"global_pool='' \(no pooling\) hands the classifier the \(N, C, H, W\) feature map.*num_classes=0"),
        (lambda m, x: m.reset_classifier(5, 3), TypeError, r"global_pool must be a str"),
    ],
)
def test_bad_feature_and_head_arguments_are_explained(
    call: Callable[[nn.Module, torch.Tensor], object], error: type[Exception], match: str
) -> None:
    model = create_model("mobilenet_v1_025").eval()
    with pytest.raises(error, match=match):
        call(model, torch.randn(1, 1, 32, 32))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"features_only": True, "out_indices": (0, 6)}, ValueError, r"out_indices=\(0, 6\): \[6\] out of range"),
        ({"features_only": True, "feature_cls": "getr"}, ValueError,
         r"Unknown feature_cls 'getr'\. Did you mean 'getter'\? Valid names: getter, hook"),
        ({"features_only": True, "feature_cls": "fx"}, ValueError, r"Valid names: getter, hook"),
        ({"out_indices": (1, 2)}, ValueError, r"choose the outputs of a features_only model; pass features_only=True"),
        ({"global_pool": "gem"}, ValueError, r"Unknown global_pool 'gem'"),
        ({"global_pool": ""}, ValueError, r"global_pool='' \(no pooling\).*\(num_classes=10\)"),
        ({"device": "gpu"}, ValueError, r"device='gpu' is not a device torch knows"),
        ({"dtype": torch.int8}, TypeError, r"dtype must be a floating torch\.dtype"),
        ({"pretrained_cfg_overlay": {"crop": 0.9}}, ValueError,
         r"Unknown pretrained_cfg_overlay key 'crop'\. Did you mean 'crop_pct'\?"),
        ({"pretrained_cfg_overlay": {"crop_pct": 2.0}}, ValueError, r"crop_pct must be a number in \(0, 1\]"),
    ],
)
def test_bad_create_model_options_are_explained(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        create_model("mobilenet_v1_025", **kwargs)


# ---------------------------------------------------------------- timm interop
@pytest.fixture(scope="module")
def registered() -> list[str]:
    if timm is None:
        pytest.skip("needs timm (pip install -e '.[dev]')")
    return mobilenet_mnist.register_timm()


def test_register_timm_lists_models_and_tags(registered: list[str]) -> None:
    assert registered == MODELS
    assert timm.list_models("mobilenet_v1_*") == MODELS
    assert set(TAGGED) <= set(timm.list_models("mobilenet_v1_*", pretrained=True))
    assert timm.models.get_pretrained_cfg_value("mobilenet_v1_100", "input_size") == (1, 32, 32)
    assert timm.models.get_pretrained_cfg("mobilenet_v1_100").tag == "mnist"  # the default weights
    assert "mobilenetv1_100" in timm.list_models("mobilenetv1_*")  # timm's own model is untouched
    assert mobilenet_mnist.register_timm("mobilenet_v1_025") == ["mobilenet_v1_025"]  # again: no error


def test_register_timm_never_replaces_timms_models(registered: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from mobilenet_mnist.models import factory

    monkeypatch.setattr(factory, "_MODEL_REGISTRY", dict(factory._MODEL_REGISTRY))
    factory.register_model("resnet18")(lambda **kwargs: mobilenet_mnist.mobilenet_v1(width_mult=0.25, **kwargs))
    with pytest.raises(ValueError, match=r"timm already has model\(s\) named resnet18, which register_timm never"):
        mobilenet_mnist.register_timm()
    assert timm.models.model_entrypoint("resnet18").__module__ == "timm.models.resnet"
    with pytest.raises(ValueError, match=r"No registered model matches 'effnet\*'"):
        mobilenet_mnist.register_timm("effnet*")


def test_timm_create_model_loads_the_shipped_default_offline(registered: list[str], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # an empty cache: nothing from the Hub
    model = timm.create_model("mobilenet_v1_100.mnist", pretrained=True).eval()
    assert "shipped with the package" in model.pretrained_cfg["source"]
    same = create_model("mobilenet_v1_100", pretrained=True).eval()
    x = torch.randn(2, 1, 32, 32)
    torch.testing.assert_close(model(x), same(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", TAGGED)
def test_timm_create_model_loads_every_tag(name: str, registered: list[str], hub_weights: Path) -> None:
    model = timm.create_model(name, pretrained=True, num_classes=3, drop_rate=0.1)
    assert model.pretrained_cfg["sha256"] == get_pretrained_cfg(name).sha256
    assert model.pretrained_cfg["tag"] == name.partition(".")[2]
    assert model.num_classes == 3 and model.drop_rate == 0.1


def test_timm_data_config_gives_the_mnist_transform(registered: list[str]) -> None:
    model = timm.create_model("mobilenet_v1_100.mnist", pretrained=True).eval()
    cfg = timm.data.resolve_model_data_config(model)
    assert cfg["input_size"] == (1, 32, 32) and cfg["crop_pct"] == 1.0 and cfg["crop_mode"] == "squash"
    transform = timm.data.create_transform(**cfg)
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255  # a "1"
    x = transform(Image.fromarray(digit))
    assert x.shape == (1, 32, 32)
    torch.testing.assert_close(x[:, 0, 0], torch.tensor([-0.1307 / 0.3081]))  # black is (0 - mean) / std
    torch.testing.assert_close(x.unsqueeze(0), preprocess(digit), atol=0.05, rtol=0)  # PIL vs torch resize
    with torch.inference_mode():
        assert model(x.unsqueeze(0)).argmax().item() == 1


def test_timm_features_only(registered: list[str]) -> None:
    backbone = timm.create_model("mobilenet_v1_050", features_only=True, out_indices=(2, 3, 4))
    assert backbone.feature_info.channels() == [128, 256, 512] and backbone.feature_info.reduction() == [4, 8, 16]
    assert [f.shape[-1] for f in backbone(torch.randn(2, 1, 64, 64))] == [16, 8, 4]
    hooked = timm.create_model("mobilenet_v1_050", features_only=True, feature_cfg={"feature_cls": "hook"})
    assert isinstance(hooked, FeatureHookNet)
