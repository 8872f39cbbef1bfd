"""timm's model sources for this library's models: ``hf-hub:org/name[@revision]`` and ``local-dir:/folder``.

After ``register_timm()``, ``timm.create_model("local-dir:FOLDER", pretrained=True)`` and
``timm.create_model("hf-hub:REPO", pretrained=True)`` read the folder's ``config.json`` with
timm's own code (``timm.models._hub``) and must give the model our ``create_model`` gives:
same network, same weights (verified against the sha256 the folder pins), same logits. The
Hub path runs offline through a seeded Hugging Face cache (see ``hub_cache.py``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hub_cache import seed_hf_cache, set_hf_offline

import mobilenet_mnist
from mobilenet_mnist import create_model, from_pretrained, list_models, save_pretrained
from mobilenet_mnist.models.pretrained import get_pretrained_cfg

timm = pytest.importorskip("timm", reason="needs timm (pip install -e '.[dev]')")

REPO_ROOT = Path(__file__).resolve().parents[1]
TAGGED = list_models(pretrained=True)


@pytest.fixture(scope="module", autouse=True)
def _registered() -> None:
    mobilenet_mnist.register_timm()


@pytest.fixture(scope="module")
def offline_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An offline Hugging Face cache holding every published checkpoint at its pinned revision and ``main``."""
    cache = tmp_path_factory.mktemp("hf-cache")
    for name in TAGGED:
        cfg = get_pretrained_cfg(name)
        assert cfg.hf_hub_id and cfg.hf_hub_revision
        for revision in (cfg.hf_hub_revision, "main"):
            seed_hf_cache(REPO_ROOT / "hub" / name, cache, cfg.hf_hub_id, revision=revision)
    with pytest.MonkeyPatch.context() as patch:
        set_hf_offline(patch, cache_dir=cache)
        yield cache


def _same_logits(a: torch.nn.Module, b: torch.nn.Module, side: int = 32) -> None:
    x = torch.randn(4, a.in_chans, side, side)
    with torch.inference_mode():
        torch.testing.assert_close(a.eval()(x), b.eval()(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[] if n == "mobilenet_v1_050.mnist" else [pytest.mark.slow]) for n in TAGGED]
)
def test_local_dir_gives_the_published_model(name: str, offline_cache: Path) -> None:
    model = timm.create_model(f"local-dir:{REPO_ROOT / 'hub' / name}", pretrained=True)
    ours = create_model(name, pretrained=True)
    assert type(model) is type(ours) and model.pretrained_cfg["architecture"] == name.partition(".")[0]
    assert model.pretrained_cfg["sha256"] == get_pretrained_cfg(name).sha256
    assert model.pretrained_cfg["source"] == str(REPO_ROOT / "hub" / name)  # the folder, not the registry
    _same_logits(model, ours)


def test_hf_hub_through_an_offline_cache(offline_cache: Path) -> None:
    cfg = get_pretrained_cfg("mobilenet_v1_050.mnist")
    ours = create_model("mobilenet_v1_050.mnist", pretrained=True)
    for name, revision in ((cfg.hf_hub_id, "main"), (f"{cfg.hf_hub_id}@{cfg.hf_hub_revision}", cfg.hf_hub_revision)):
        model = timm.create_model(f"hf-hub:{name}", pretrained=True)
        assert model.pretrained_cfg["sha256"] == cfg.sha256
        assert (model.pretrained_cfg["hf_hub_id"], model.pretrained_cfg["hf_hub_revision"]) == (cfg.hf_hub_id, revision)
        assert model.pretrained_cfg["source"] == f"Hub repo {cfg.hf_hub_id}"
        _same_logits(model, ours)
    data = timm.data.resolve_model_data_config(model)
    assert data["input_size"] == (1, 32, 32) and data["mean"] == cfg.mean and data["crop_mode"] == "squash"


def test_hf_hub_takes_timms_keywords(offline_cache: Path) -> None:
    cfg = get_pretrained_cfg("mobilenet_v1_025.mnist")
    model = timm.create_model(f"hf-hub:{cfg.hf_hub_id}", pretrained=True, num_classes=4, in_chans=3, drop_rate=0.2)
    assert (model.num_classes, model.in_chans, model.drop_rate) == (4, 3, 0.2)
    published = create_model("mobilenet_v1_025.mnist", pretrained=True)
    torch.testing.assert_close(model.stem.conv.weight, published.stem.conv.weight.repeat(1, 3, 1, 1) / 3)
    backbone = timm.create_model(f"hf-hub:{cfg.hf_hub_id}", pretrained=True, features_only=True, out_indices=(4,))
    x = torch.randn(2, 1, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(backbone.eval()(x)[0], published.eval().forward_intermediates(
            x, indices=[4], intermediates_only=True)[0], rtol=0, atol=0)


def test_local_dir_rebuilds_a_saved_fine_tuned_model(tmp_path: Path) -> None:
    """A folder of save_pretrained: its own head, channels, pooling and input side, not the named model's defaults."""
    model = create_model("mobilenet_v1_025", num_classes=26, in_chans=3, global_pool="avgmax", resolution_mult=0.875)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # not the initialisation: the weights must come from the folder
    folder = save_pretrained(model.eval(), tmp_path / "letters", labels=[chr(65 + i) for i in range(26)])
    loaded = timm.create_model(f"local-dir:{folder}", pretrained=True)
    assert (loaded.num_classes, loaded.in_chans, loaded.input_size) == (26, 3, 28)
    assert loaded.global_pool.pool_type == "avgmax" and loaded.pretrained_cfg["labels"][0] == "A"
    _same_logits(loaded, model, side=28)
    _same_logits(loaded, from_pretrained(folder), side=28)
    fresh = timm.create_model(f"local-dir:{folder}")  # pretrained=False: the saved network, new weights
    assert (fresh.num_classes, fresh.in_chans, fresh.input_size) == (26, 3, 28)
    assert not torch.equal(fresh.classifier.weight, model.classifier.weight)


def test_local_dir_checks_the_folder(tmp_path: Path) -> None:
    folder = shutil.copytree(REPO_ROOT / "hub" / "mobilenet_v1_025.mnist", tmp_path / "copy")
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one tensor changed: the pinned sha256 no longer matches
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        timm.create_model(f"local-dir:{folder}", pretrained=True)
    config = json.loads((folder / "config.json").read_text())
    config["model_args"]["width_mult"] = 0.75
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"names architecture 'mobilenet_v1_025' \(width_mult=0.25\) but its "):
        timm.create_model(f"local-dir:{folder}")
