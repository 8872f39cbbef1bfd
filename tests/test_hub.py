"""Saving, loading, adapting and publishing weights; the Hub path runs offline on a seeded cache."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from hub_cache import seed_hf_cache, set_hf_offline, use_temp_registry
from random_weights import randomize

from mobilenet_mnist.hub import (
    WeightsUnavailableError,
    from_pretrained,
    load_pretrained,
    push_to_hub,
    save_pretrained,
)
from mobilenet_mnist.models import pretrained
from mobilenet_mnist.models.archs import MNIST_ARCH, ArchConfig
from mobilenet_mnist.models.config import model_args, model_config, safetensors_metadata
from mobilenet_mnist.models.factory import create_model, list_models, mobilenet_v1
from mobilenet_mnist.models.mobilenet import MNIST_MEAN, MNIST_STD, MobileNetV1
from mobilenet_mnist.models.pretrained import PretrainedCfg, read_registry_file, register_pretrained
from mobilenet_mnist.utils.files import sha256_file

REPO = "someone/mnist-digits"
NAME = "mobilenet_v1_025.mnist"
LABELS = tuple(str(i) for i in range(10))
ACCURACY = {32: 98.25, 28: 97.5}


@pytest.fixture
def small_model() -> MobileNetV1:
    return randomize(mobilenet_v1(width_mult=0.25))


@pytest.fixture
def saved(tmp_path: Path, small_model: MobileNetV1) -> Path:
    return save_pretrained(
        small_model,
        tmp_path / "ckpt",
        metrics={"test_accuracy": ACCURACY},
        dataset="mnist",
        tag="mnist",
        labels=LABELS,
        recipe="mobilenet-mnist train --width 0.25",
    )


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(3, 1, 32, 32)


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    set_hf_offline(monkeypatch, cache)
    return cache


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_temp_registry(monkeypatch, tmp_path)


def registry_entry(
    folder: Path, *, shipped: bool = False, revision: str = "v0.1.0"
) -> PretrainedCfg:
    weights = folder / "model.safetensors"
    return register_pretrained(
        PretrainedCfg(
            architecture="mobilenet_v1_025",
            tag="mnist",
            hf_hub_id=f"mobilenet-mnist/{NAME}",
            hf_hub_revision=revision,
            sha256=hashlib.sha256(weights.read_bytes()).hexdigest(),
            file_size=weights.stat().st_size,
            dataset="mnist",
            num_classes=10,
            labels=LABELS,
            input_size=(1, 32, 32),
            mean=(MNIST_MEAN,),
            std=(MNIST_STD,),
            width_mult=0.25,
            metrics={"test_accuracy": ACCURACY},
            shipped=shipped,
        )
    )


def logits(model: MobileNetV1, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


# ---------------------------------------------------------------- save / load round trips
@pytest.mark.parametrize("name", list_models())
def test_round_trip_gives_identical_logits(name: str, tmp_path: Path, images: torch.Tensor) -> None:
    model = randomize(create_model(name))
    save_pretrained(model, tmp_path / name)
    assert sorted(p.name for p in (tmp_path / name).iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    rebuilt = from_pretrained(tmp_path / name)
    assert rebuilt.width_mult == model.width_mult
    assert rebuilt.pretrained_cfg["architecture"] == name
    assert torch.equal(logits(rebuilt, images), logits(model, images))


def test_config_json_has_timms_layout(saved: Path, small_model: MobileNetV1) -> None:
    config = json.loads((saved / "config.json").read_text())
    assert list(config) == [
        "architecture", "num_classes", "num_features", "model_args", "pretrained_cfg",
        "library_name", "library_version", "weights",
    ]
    assert (config["architecture"], config["num_classes"], config["num_features"]) == ("mobilenet_v1_025", 10, 256)
    assert config["model_args"] == {"arch": "mnist", "width_mult": 0.25, "in_chans": 1, "num_classes": 10,
                                    "input_size": 32}  # built-in layer config: its name is enough
    weights = saved / "model.safetensors"
    assert config["weights"] == {"filename": "model.safetensors", "file_size": weights.stat().st_size,
                                 "sha256": sha256_file(weights)}
    cfg = config["pretrained_cfg"]
    assert (cfg["architecture"], cfg["tag"], cfg["labels"]) == ("mobilenet_v1_025", "mnist", list(LABELS))
    assert cfg["input_size"] == [1, 32, 32] and cfg["mean"] == [MNIST_MEAN]
    assert cfg["num_params"] == sum(p.numel() for p in small_model.parameters())
    assert cfg["metrics"] == {"test_accuracy": {str(k): v for k, v in ACCURACY.items()}}
    assert "test_accuracy" not in cfg and "sha256" not in cfg  # one place each: metrics, weights
    assert cfg["recipe"] == "mobilenet-mnist train --width 0.25"


def test_config_json_round_trips_through_the_record(saved: Path, small_model: MobileNetV1) -> None:
    from safetensors import safe_open

    config = json.loads((saved / "config.json").read_text())
    loaded = from_pretrained(saved)
    record = PretrainedCfg.from_dict(config["pretrained_cfg"])
    assert PretrainedCfg.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    file_fields = PretrainedCfg.field_names("file")
    known = [{k: v for k, v in cfg.items() if k not in file_fields}
             for cfg in (loaded.pretrained_cfg, record.to_dict())]
    assert known[0] == known[1]
    assert loaded.pretrained_cfg["sha256"] == config["weights"]["sha256"]
    assert model_args(loaded) == config["model_args"]
    with safe_open(saved / "model.safetensors", "pt") as handle:
        assert set(handle.keys()) == set(small_model.state_dict())
        meta = handle.metadata()
    assert meta == safetensors_metadata({k: v for k, v in config.items() if k != "weights"})
    assert json.loads(meta["pretrained_cfg"]) == config["pretrained_cfg"]
    resaved = model_config(loaded, metrics={"test_accuracy": ACCURACY}, recipe=record.recipe)
    assert json.loads(json.dumps(resaved)) == {k: v for k, v in config.items() if k != "weights"}  # a fixed point


def test_model_card_front_matter(saved: Path) -> None:
    from huggingface_hub import ModelCard

    text = (saved / "README.md").read_text()
    front = yaml.safe_load(text.split("---")[1])
    assert front["library_name"] == "mobilenet-mnist" and front["license"] == "mit"
    assert front["datasets"] == ["ylecun/mnist"]
    card = ModelCard.load(saved / "README.md")
    assert {r.metric_name: r.metric_value for r in card.data.eval_results} == {
        f"Top-1 accuracy at {s}x{s}": v for s, v in ACCURACY.items()
    }
    assert "from_pretrained(" in text and "mobilenet-mnist train --width 0.25" in text


def test_custom_arch_round_trip(tmp_path: Path, images: torch.Tensor) -> None:
    arch = ArchConfig("short", MNIST_ARCH.layers[:-1], 32, "MNIST without its last block")
    model = randomize(MobileNetV1(arch, width_mult=0.25))
    save_pretrained(model, tmp_path / "short")
    args = json.loads((tmp_path / "short" / "config.json").read_text())["model_args"]
    assert args["arch_config"]["name"] == "short" and "arch" not in args
    rebuilt = from_pretrained(tmp_path / "short")
    assert rebuilt.arch == arch
    assert torch.equal(logits(rebuilt, images), logits(model, images))


def test_load_into_model_from_file_and_folder(
    saved: Path, small_model: MobileNetV1, images: torch.Tensor
) -> None:
    for source in (saved, saved / "model.safetensors", str(saved)):
        model = load_pretrained(mobilenet_v1(width_mult=0.25), source)
        assert torch.equal(logits(model, images), logits(small_model, images))
        assert model.pretrained_cfg["labels"] == LABELS
        assert model.pretrained_cfg["metrics"]["test_accuracy"] == ACCURACY


def test_save_refuses_models_it_cannot_rebuild(tmp_path: Path) -> None:
    model = mobilenet_v1(width_mult=0.25)
    model.stem.bn = torch.nn.Identity()  # e.g. BatchNorm folded into the conv
    with pytest.raises(ValueError, match=r"could not be rebuilt; differing keys: \['stem\.bn\."):
        save_pretrained(model, tmp_path / "fused")
    assert not (tmp_path / "fused").exists()


def test_pickle_files_are_refused(tmp_path: Path, small_model: MobileNetV1) -> None:
    path = tmp_path / "weights.pt"
    torch.save(small_model.state_dict(), path)
    with pytest.raises(ValueError, match=r"pickles.*safetensors"):
        load_pretrained(mobilenet_v1(width_mult=0.25), path)


def test_missing_path_is_explained(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no existing file or folder"):
        load_pretrained(mobilenet_v1(width_mult=0.25), str(tmp_path / "nope.safetensors"))
    with pytest.raises(FileNotFoundError, match=r"has no model\.safetensors"):
        load_pretrained(mobilenet_v1(width_mult=0.25), tmp_path)


# ---------------------------------------------------------------- adaptation
def test_in_chans_3_gray_image_matches_grayscale_model(
    saved: Path, small_model: MobileNetV1, images: torch.Tensor
) -> None:
    rgb = load_pretrained(mobilenet_v1(width_mult=0.25, in_chans=3), saved)
    gray_rgb = images.repeat(1, 3, 1, 1)
    with torch.no_grad():  # the first conv's outputs agree to float32 rounding ...
        first = rgb.stem.conv(gray_rgb)
        torch.testing.assert_close(first, small_model.stem.conv(images), rtol=1e-5, atol=1e-6)
    # ... which the 14 BatchNorm'd layers of random weights amplify to ~1e-4 in the logits.
    expected = logits(small_model, images)
    torch.testing.assert_close(logits(rgb, gray_rgb), expected, rtol=1e-3, atol=1e-3)
    assert rgb.stem.conv.weight.shape[1] == 3
    cfg = rgb.pretrained_cfg
    assert (
        cfg["input_size"] == (3, 32, 32)
        and cfg["mean"] == (MNIST_MEAN,) * 3
        and cfg["std"] == (MNIST_STD,) * 3
    )


def test_num_classes_26_keeps_backbone_and_gets_fresh_head(
    saved: Path, small_model: MobileNetV1, images: torch.Tensor, caplog: pytest.LogCaptureFixture
) -> None:
    model = mobilenet_v1(width_mult=0.25, num_classes=26)
    with torch.no_grad():  # as if it had been trained already: loading must re-initialise it
        model.classifier.weight.fill_(7.0)
        model.classifier.bias.fill_(7.0)
    with caplog.at_level(logging.INFO, logger="mobilenet_mnist"):
        model = load_pretrained(model, saved).eval()
    assert "freshly initialised" in caplog.text
    with torch.no_grad():
        assert torch.equal(model.forward_features(images), small_model.forward_features(images))
    head = model.classifier
    assert head.weight.shape == (26, small_model.num_features)
    assert torch.count_nonzero(head.bias) == 0 and 0.005 < head.weight.std() < 0.02  # fresh init
    assert not torch.equal(head.weight[:10], small_model.classifier.weight)
    assert model.pretrained_cfg["num_classes"] == 26 and "labels" not in model.pretrained_cfg
    assert "metrics" not in model.pretrained_cfg  # they scored the old head
    assert model.pretrained_cfg["tag"] == "mnist"  # where the backbone came from


def test_other_width_names_shape_mismatches(tmp_path: Path, saved: Path) -> None:
    wide = mobilenet_v1(width_mult=0.5)
    save_pretrained(wide, tmp_path / "wide")
    narrow = mobilenet_v1(width_mult=0.25)
    want = tuple(narrow.state_dict()["stem.conv.weight"].shape)
    got = tuple(wide.state_dict()["stem.conv.weight"].shape)
    with pytest.raises(ValueError) as info:
        load_pretrained(narrow, tmp_path / "wide")
    message = str(info.value)
    assert f"stem.conv.weight: expected {want}, found {got}" in message
    assert "width_mult=0.25" in message and "width_mult=0.5" in message


def test_other_arch_names_missing_and_unexpected_keys(tmp_path: Path, saved: Path) -> None:
    arch = ArchConfig("short", MNIST_ARCH.layers[:-1], 32)
    short = MobileNetV1(arch, width_mult=0.25)
    save_pretrained(short, tmp_path / "short")
    full = mobilenet_v1(width_mult=0.25)
    missing = [key for key in full.state_dict() if key not in short.state_dict()]
    with pytest.raises(ValueError, match=rf"Missing keys \({len(missing)}\): {missing[0]}, "):
        load_pretrained(full, tmp_path / "short")
    with pytest.raises(ValueError, match=rf"Unexpected keys \({len(missing)}\): {min(missing)}, "):
        load_pretrained(MobileNetV1(arch, width_mult=0.25), saved)


# ---------------------------------------------------------------- Hub path (offline, seeded cache)
def test_from_pretrained_repo_through_offline_cache(
    saved: Path, offline_cache: Path, small_model: MobileNetV1, images: torch.Tensor
) -> None:
    seed_hf_cache(saved, offline_cache, REPO)
    model = from_pretrained(REPO, cache_dir=offline_cache)
    assert torch.equal(logits(model, images), logits(small_model, images))
    assert model.pretrained_cfg["source"] == f"Hub repo {REPO}"


def test_registered_name_uses_pinned_revision(
    saved: Path, offline_cache: Path, registry: Path, small_model: MobileNetV1, images: torch.Tensor
) -> None:
    cfg = registry_entry(saved, revision="v0.1.0")
    seed_hf_cache(saved, offline_cache, cfg.hf_hub_id, revision="main")
    with pytest.raises(WeightsUnavailableError):  # only "main" is cached, not the pinned tag
        mobilenet_v1(pretrained=True, width_mult=0.25)
    seed_hf_cache(saved, offline_cache, cfg.hf_hub_id, revision="v0.1.0")
    model = mobilenet_v1(pretrained=True, width_mult=0.25)  # default cache = offline_cache
    assert torch.equal(logits(model, images), logits(small_model, images))
    assert model.pretrained_cfg["tag"] == "mnist" and model.pretrained_cfg["sha256"] == cfg.sha256


def corrupt(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[-5] ^= 0x01  # inside the tensor data: only the sha256 can tell
    else:
        data = data[:-100]
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("flip", r"sha256 mismatch .*expected {sha}, found [0-9a-f]{{64}}"),
        ("truncate", r"wrong size: expected {size} bytes \(sha256 {sha}\), found {short} bytes"),
    ],
)
def test_bad_cached_file_is_refused_and_removed(
    how: str, expected: str, saved: Path, offline_cache: Path, registry: Path
) -> None:
    cfg = registry_entry(saved)
    snapshot = seed_hf_cache(saved, offline_cache, cfg.hf_hub_id, revision=cfg.hf_hub_revision)
    pointer = snapshot / "model.safetensors"
    blob = Path(os.path.realpath(pointer))
    corrupt(blob, how)
    pattern = expected.format(sha=cfg.sha256, size=cfg.file_size, short=cfg.file_size - 100)
    with pytest.raises(ValueError, match=pattern):
        load_pretrained(mobilenet_v1(width_mult=0.25), NAME, cache_dir=offline_cache)
    assert not pointer.exists() and not pointer.is_symlink() and not blob.exists()
    with pytest.raises(WeightsUnavailableError):  # nothing poisoned stays cached
        load_pretrained(mobilenet_v1(width_mult=0.25), NAME, cache_dir=offline_cache)


def test_truncated_unpinned_files_are_refused(
    saved: Path, offline_cache: Path, tmp_path: Path
) -> None:
    snapshot = seed_hf_cache(saved, offline_cache, REPO)
    corrupt(Path(os.path.realpath(snapshot / "model.safetensors")), "truncate")
    with pytest.raises(ValueError, match="truncated"):
        from_pretrained(REPO, cache_dir=offline_cache)
    assert not (snapshot / "model.safetensors").exists()
    local = tmp_path / "local.safetensors"
    shutil.copy(saved / "model.safetensors", local)
    corrupt(local, "truncate")
    with pytest.raises(ValueError, match="truncated"):
        load_pretrained(mobilenet_v1(width_mult=0.25), local)
    assert local.exists()  # a user's own file is never deleted


def test_no_network_no_cache_says_how_to_get_weights(
    saved: Path, offline_cache: Path, registry: Path
) -> None:
    cfg = registry_entry(saved)
    with pytest.raises(WeightsUnavailableError) as info:
        mobilenet_v1(pretrained=True, width_mult=0.25)
    message = str(info.value)
    assert cfg.hf_hub_id in message and "v0.1.0" in message and str(offline_cache) in message
    assert "HF_HUB_OFFLINE" in message and "hf download" in message
    assert "pretrained='DIR'" in message
    with pytest.raises(WeightsUnavailableError, match="No local file or folder"):
        from_pretrained("nobody/nothing", cache_dir=offline_cache)


def test_shipped_file_is_used_first(
    saved: Path,
    registry: Path,
    offline_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    small_model: MobileNetV1,
    images: torch.Tensor,
) -> None:
    import huggingface_hub

    def no_hub(*args: object, **kwargs: object) -> str:
        raise AssertionError("the Hub must not be asked for a shipped checkpoint")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_hub)
    registry_entry(saved, shipped=True)
    (registry / NAME).mkdir()
    shutil.copy(saved / "model.safetensors", registry / NAME / "model.safetensors")
    model = create_model(NAME, pretrained=True)
    assert torch.equal(logits(model, images), logits(small_model, images))
    assert "shipped with the package" in model.pretrained_cfg["source"]
    rebuilt = from_pretrained(NAME)  # a registered name rebuilds its own model too
    assert rebuilt.width_mult == 0.25 and rebuilt.pretrained_cfg["metrics"]["test_accuracy"] == ACCURACY
    assert rebuilt.pretrained_cfg["architecture"] == "mobilenet_v1_025"
    assert torch.equal(logits(rebuilt, images), logits(small_model, images))


SHIPPED = [cfg.name for cfg in read_registry_file(pretrained.REGISTRY_PATH) if cfg.shipped]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_default_loads_offline(name: str, offline_cache: Path) -> None:
    cfg = pretrained.get_pretrained_cfg(name)
    model = create_model(name, pretrained=True)
    assert "shipped with the package" in model.pretrained_cfg["source"]
    assert model.pretrained_cfg["sha256"] == cfg.sha256
    assert not any(offline_cache.iterdir())  # nothing came from (or went to) the Hub cache


def test_registry_entries_match_their_files() -> None:
    for cfg in read_registry_file(pretrained.REGISTRY_PATH):
        if cfg.shipped:
            path = pretrained.shipped_weights_path(cfg)
            assert path.stat().st_size == cfg.file_size
            assert sha256_file(path) == cfg.sha256


# ---------------------------------------------------------------- timm's create_model options
def test_create_model_checkpoint_path(saved: Path, small_model: MobileNetV1, images: torch.Tensor) -> None:
    model = create_model("mobilenet_v1_025", checkpoint_path=saved / "model.safetensors")
    assert torch.equal(logits(model, images), logits(small_model, images))
    backbone = create_model("mobilenet_v1_025", checkpoint_path=saved, features_only=True, out_indices=[-1])
    with torch.no_grad():
        expected = small_model.eval().forward_features(images)
        torch.testing.assert_close(backbone.eval()(images)[0], expected, rtol=0, atol=0)


def test_overlay_and_cache_dir_reach_the_registered_record(
    saved: Path, offline_cache: Path, registry: Path, small_model: MobileNetV1, images: torch.Tensor, tmp_path: Path
) -> None:
    cfg = registry_entry(saved, revision="v0.1.0")
    other_cache = tmp_path / "other-cache"
    seed_hf_cache(saved, other_cache, cfg.hf_hub_id, revision="main")  # only "main", in another cache
    with pytest.raises(WeightsUnavailableError):  # the pinned revision is in neither cache
        create_model(NAME, pretrained=True, cache_dir=other_cache)
    model = create_model(NAME, pretrained=True, cache_dir=other_cache,
                         pretrained_cfg_overlay={"hf_hub_revision": "main", "crop_pct": 0.9})
    assert torch.equal(logits(model, images), logits(small_model, images))
    assert model.pretrained_cfg["hf_hub_revision"] == "main" and model.pretrained_cfg["crop_pct"] == 0.9
    assert model.pretrained_cfg["sha256"] == cfg.sha256  # still pinned by the registry's sha256
    from_file = create_model(NAME, pretrained=True, pretrained_cfg_overlay={"file": saved / "model.safetensors"})
    assert torch.equal(logits(from_file, images), logits(small_model, images))


def test_global_pool_is_saved_and_rebuilt(tmp_path: Path, images: torch.Tensor) -> None:
    model = randomize(mobilenet_v1(width_mult=0.25, global_pool="max"))
    save_pretrained(model, tmp_path / "max")
    config = json.loads((tmp_path / "max" / "config.json").read_text())
    assert config["model_args"]["global_pool"] == "max"
    rebuilt = from_pretrained(tmp_path / "max")
    assert rebuilt.global_pool.pool_type == "max"
    assert torch.equal(logits(rebuilt, images), logits(model, images))


# ---------------------------------------------------------------- publishing
def test_push_to_hub_uploads_a_loadable_folder(
    small_model: MobileNetV1, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, images: torch.Tensor
) -> None:
    from huggingface_hub import HfApi

    calls: dict[str, object] = {}
    uploaded = tmp_path / "uploaded"

    def create_repo(self: HfApi, repo_id: str, **kwargs: object) -> str:
        calls["create_repo"] = (repo_id, kwargs)
        return f"https://huggingface.co/{repo_id}"

    def create_branch(self: HfApi, repo_id: str, **kwargs: object) -> None:
        calls["create_branch"] = (repo_id, kwargs)

    def upload_folder(self: HfApi, **kwargs: object) -> str:
        calls["upload_folder"] = kwargs
        shutil.copytree(str(kwargs["folder_path"]), uploaded)
        return "commit-url"

    for name, fake in [
        ("create_repo", create_repo),
        ("create_branch", create_branch),
        ("upload_folder", upload_folder),
    ]:
        monkeypatch.setattr(HfApi, name, fake)
    result = push_to_hub(
        small_model,
        REPO,
        revision="dev",
        private=True,
        token="hf_fake",
        metrics={"test_accuracy": ACCURACY},
        dataset="mnist",
    )
    assert result == "commit-url"
    assert calls["create_repo"] == (REPO, {"private": True, "exist_ok": True, "repo_type": "model"})
    assert calls["create_branch"][1]["branch"] == "dev"
    upload = calls["upload_folder"]
    assert upload["repo_id"] == REPO and upload["revision"] == "dev"
    assert upload["commit_message"] == "Upload mobilenet_v1_025"
    assert sorted(p.name for p in uploaded.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    assert f'from_pretrained("{REPO}")' in (uploaded / "README.md").read_text()
    assert torch.equal(logits(from_pretrained(uploaded), images), logits(small_model, images))
    assert not Path(str(upload["folder_path"])).exists()  # the temporary folder is cleaned up


def test_push_to_hub_checks_repo_id(small_model: MobileNetV1) -> None:
    with pytest.raises(ValueError, match="user/name"):
        push_to_hub(small_model, "no-owner")


def _publish_small(hub_root: Path, tag: str, *, ship: bool = False) -> PretrainedCfg:
    from mobilenet_mnist.hub.publish import publish_checkpoint

    return publish_checkpoint(
        randomize(mobilenet_v1(width_mult=0.25)), tag=tag, dataset="mnist", test_accuracy=ACCURACY, recipe="r",
        train_time_s=60.0, train_hardware="one test GPU", hub_root=hub_root, hf_hub_revision="v0.1.0", ship=ship,
    )  # fmt: skip


def _folder_files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_refresh_published_restates_the_registry_keeps_the_weights_and_pins_the_revision(
    registry: Path, tmp_path: Path
) -> None:
    import dataclasses

    import mobilenet_mnist
    from mobilenet_mnist.hub.publish import refresh_published

    hub_root = tmp_path / "hub"
    cfg = _publish_small(hub_root, "mnist", ship=True)
    folder = hub_root / cfg.name
    weights = (folder / "model.safetensors").read_bytes()
    calibration = {"temperature": 0.55, "ece_before": 8.9, "ece_after": 0.12}
    measured = dataclasses.replace(  # measured after publishing; where it trained is not restated
        cfg, metrics={**cfg.metrics, "calibration": calibration}, temperature=0.55, ood_score="margin",
        ood_threshold=-4.5, train_hardware=None,
    )  # fmt: skip
    pretrained.write_registry_entry(measured, overwrite=True)
    (entry,) = refresh_published(hub_root=hub_root, revision="v9.9.9")
    assert (folder / "model.safetensors").read_bytes() == weights
    assert entry.hf_hub_revision == "v9.9.9" and entry.sha256 == cfg.sha256
    assert read_registry_file(registry / "registry.json") == [entry]
    config = json.loads((folder / "config.json").read_text())
    assert config["library_version"] == mobilenet_mnist.__version__
    assert config["weights"]["sha256"] == cfg.sha256 and config["weights"]["file_size"] == len(weights)
    stated = config["pretrained_cfg"]
    assert stated["metrics"]["calibration"] == calibration and stated["ood_threshold"] == -4.5
    assert stated["train_hardware"] == "one test GPU"  # the folder's own value, as the registry has none
    card = (folder / "README.md").read_text()
    assert "T = 0.55" in card and "on one test GPU." in card
    before = _folder_files(folder)
    refresh_published([cfg.name], hub_root=hub_root, revision="v9.9.9")
    assert _folder_files(folder) == before  # a second run with the same registry changes nothing


def test_refresh_published_writes_nothing_when_any_weights_differ(registry: Path, tmp_path: Path) -> None:
    from mobilenet_mnist.hub.publish import refresh_published

    hub_root = tmp_path / "hub"
    first, second = _publish_small(hub_root, "aaa"), _publish_small(hub_root, "zzz", ship=True)
    registry_text = (registry / "registry.json").read_text()
    folders = {name: _folder_files(hub_root / name) for name in (first.name, second.name)}
    shipped = registry / second.name / "model.safetensors"
    shipped.write_bytes(shipped.read_bytes()[:-1] + b"x")
    with pytest.raises(ValueError, match=rf"but the registry pins {second.sha256} .*'{second.name}'"):
        refresh_published(hub_root=hub_root, revision="v9.9.9")
    (hub_root / first.name / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="pass the hub_root"):
        refresh_published([first.name], hub_root=hub_root)
    assert (registry / "registry.json").read_text() == registry_text
    assert _folder_files(hub_root / second.name) == folders[second.name]
    with pytest.raises(KeyError, match=r"mobilenet_v1_025\.aaa"):
        refresh_published(["mobilenet_v1_025.aab"], hub_root=hub_root)
    with pytest.raises(ValueError, match="revision must name"):
        refresh_published(hub_root=hub_root, revision="")


def test_publish_refresh_command_refreshes_every_registered_checkpoint(
    registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mobilenet_mnist.cli import main

    hub_root = tmp_path / "hub"
    names = [_publish_small(hub_root, tag).name for tag in ("mnist", "other")]
    assert main(["publish", "--refresh", "--hub-root", str(hub_root), "--revision", "v1.2.3"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(row["name"], row["revision"]) for row in printed] == [(name, "v1.2.3") for name in names]
    assert {cfg.hf_hub_revision for cfg in read_registry_file(registry / "registry.json")} == {"v1.2.3"}
    assert main(["publish", "--refresh", "--tag", "mnist"]) == 2
    assert "--refresh rewrites registered checkpoints and takes no --tag" in capsys.readouterr().err
    assert main(["publish", "--tag", "mnist"]) == 2
    assert "missing RUN_DIR, --recipe" in capsys.readouterr().err


def test_import_does_not_load_huggingface_hub() -> None:
    code = (
        "import sys, mobilenet_mnist, mobilenet_mnist.hub, mobilenet_mnist.hub.publish, mobilenet_mnist.models;"
        "print('huggingface_hub' in sys.modules, 'safetensors' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_models_never_import_hub() -> None:
    import ast

    package = Path(pretrained.__file__).parent
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                assert not (node.level == 2 and module.split(".")[0] == "hub"), f"{path} imports ..{module}"
                assert not module.startswith("mobilenet_mnist.hub"), f"{path} imports {module}"
    code = "import sys, mobilenet_mnist.models; print([m for m in sys.modules if m.startswith('mobilenet_mnist.hub')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
