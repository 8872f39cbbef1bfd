"""The weight registry (PretrainedCfg, register/get/list) and publishing a checkpoint."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hub_cache import set_hf_offline, use_temp_registry
from random_weights import randomize

from mobilenet_mnist.hub import save_pretrained
from mobilenet_mnist.hub.publish import publish_checkpoint, upload_checkpoint
from mobilenet_mnist.models import pretrained
from mobilenet_mnist.models.factory import list_models, mobilenet_v1
from mobilenet_mnist.models.mobilenet import HEAD_FIELDS, MNIST_MEAN, MNIST_STD, MobileNetV1
from mobilenet_mnist.models.pretrained import (
    DEFAULT_REVISION,
    PretrainedCfg,
    get_pretrained_cfg,
    list_pretrained,
    read_registry_file,
    register_pretrained,
    write_registry_entry,
)
from mobilenet_mnist.models.profile import profile_model

SHA = "ab" * 32


def make_cfg(**changes: object) -> PretrainedCfg:
    values: dict[str, object] = dict(
        architecture="mobilenet_v1_025",
        tag="mnist",
        hf_hub_id="mobilenet-mnist/mobilenet_v1_025.mnist",
        hf_hub_revision="v0.1.0",
        sha256=SHA,
        file_size=1234,
        dataset="mnist",
        num_classes=10,
        labels=tuple(str(i) for i in range(10)),
        input_size=(1, 32, 32),
        mean=(MNIST_MEAN,),
        std=(MNIST_STD,),
        width_mult=0.25,
        metrics={"test_accuracy": {32: 98.0, 28: 97.0}},
        num_params=10,
        macs=20,
        recipe="mobilenet-mnist train",
        train_time_s=12.5,
    )
    values.update(changes)
    return PretrainedCfg(**values)  # type: ignore[arg-type]


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_temp_registry(monkeypatch, tmp_path)


# ---------------------------------------------------------------- PretrainedCfg
def test_cfg_survives_json_round_trip() -> None:
    cfg = make_cfg()
    again = PretrainedCfg.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert again.metrics == {"test_accuracy": {32: 98.0, 28: 97.0}} and again.labels == cfg.labels
    assert again.test_accuracy == {32: 98.0, 28: 97.0}  # a view of metrics, not a second copy
    assert "test_accuracy" not in cfg.to_dict() and cfg.name == "mobilenet_v1_025.mnist"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sha256": "xyz"}, "sha256 must be 64 lowercase hex"),
        ({"file_size": 0}, "file_size must be a positive int"),
        ({"tag": "a.b"}, "tag must be a non-empty str without '.'"),
        ({"architecture": "mobilenet_v1_025.mnist"}, "architecture must be a model name without '.'"),
        ({"labels": ("a", "b")}, "labels has 2 entries but num_classes is 10"),
        ({"mean": (0.1, 0.2)}, "mean and std need 1 value"),
        ({"hf_hub_id": "no-slash"}, "hf_hub_id must look like 'org/name'"),
        ({"metrics": {"test_accuracy": {32: 120.0}}}, r"percentages in \[0, 100\]"),
        ({"metrics": {"test_accuracy": "high"}}, r"metrics\['test_accuracy'\] must be a number or a dict"),
        ({"filename": "model.bin"}, r"plain '\*.safetensors' name"),
        ({"crop_pct": 0.0}, r"crop_pct must be a number in \(0, 1\]"),
        ({"crop_mode": "fit"}, r"crop_mode must be one of \('squash', 'center', 'border'\)"),
        ({"pool_size": (1, 1, 1)}, r"pool_size must be None or \(H, W\) of positive ints"),
        ({"test_input_size": (32, 32)}, r"test_input_size must be None or \(C, H, W\)"),
        ({"fixed_input_size": "no"}, r"fixed_input_size must be a bool"),
    ],
)
def test_cfg_rejects_bad_values(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_cfg(**changes)


def test_from_dict_names_unknown_and_missing_fields() -> None:
    data = make_cfg().to_dict()
    with pytest.raises(ValueError, match=r"Unknown PretrainedCfg field\(s\) \['accuracy'\]"):
        PretrainedCfg.from_dict({**data, "accuracy": 1})
    assert PretrainedCfg.from_dict({**data, "accuracy": 1}, strict=False) == make_cfg()
    del data["mean"]
    with pytest.raises(ValueError, match=r"missing required field\(s\) \['mean'\]"):
        PretrainedCfg.from_dict(data)


def test_published_entries_need_their_file_pinned(registry: Path) -> None:
    unpinned = make_cfg(sha256=None)
    with pytest.raises(ValueError, match=r"missing \['sha256'\]"):
        register_pretrained(unpinned)
    path = registry / "registry.json"
    path.write_text(json.dumps({"schema": 2, "weights": [unpinned.to_dict()]}))
    with pytest.raises(ValueError, match=rf"registry {path}.*missing \['sha256'\]"):
        read_registry_file(path)


def test_field_roles_hold_the_record_together() -> None:
    assert PretrainedCfg.field_names("head") == HEAD_FIELDS == (
        "labels", "metrics", "temperature", "ood_score", "ood_threshold")  # fmt: skip
    assert {"architecture", "input_size", "num_classes"} <= set(PretrainedCfg.field_names("model"))
    assert {"sha256", "file_size", "hf_hub_id", "source"} <= set(PretrainedCfg.field_names("file"))
    cfg = make_cfg()
    fresh = cfg.for_new_head(26)
    assert (fresh.num_classes, fresh.labels, fresh.metrics) == (26, None, {})
    assert (fresh.tag, fresh.sha256, fresh.dataset) == (cfg.tag, cfg.sha256, cfg.dataset)


def test_a_registry_of_release_0_2_0_is_read(tmp_path: Path) -> None:
    old = {k: v for k, v in make_cfg().to_dict().items() if k not in ("architecture", "metrics")}
    old.update(name="mobilenet_v1_025.mnist", model_name="mobilenet_v1_025", test_accuracy={"32": 98.0, "28": 97.0})
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"schema": 1, "weights": [old]}))
    assert read_registry_file(path) == [make_cfg()]


def test_cfg_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_cfg().tag = "other"  # type: ignore[misc]


# ---------------------------------------------------------------- registry
def test_register_get_list(registry: Path) -> None:
    cfg = register_pretrained(make_cfg())
    other = register_pretrained(
        make_cfg(
            architecture="mobilenet_v1_050",
            tag="fashion",
            hf_hub_id="org/fashion",
            width_mult=0.5,
        )
    )
    assert get_pretrained_cfg(cfg.name) is cfg
    assert list_pretrained() == [cfg.name, other.name]
    assert list_pretrained("*.fashion") == [other.name]
    assert list_models("*_025*", pretrained=True) == [cfg.name]


def test_register_twice_is_an_error(registry: Path) -> None:
    register_pretrained(make_cfg())
    with pytest.raises(ValueError, match=r"already registered.*overwrite=True"):
        register_pretrained(make_cfg(file_size=99))
    register_pretrained(make_cfg(file_size=99), overwrite=True)
    assert get_pretrained_cfg("mobilenet_v1_025.mnist").file_size == 99
    with pytest.raises(TypeError, match="expects a PretrainedCfg"):
        register_pretrained(make_cfg().to_dict())  # type: ignore[arg-type]


def test_unknown_name_suggests_the_closest(registry: Path) -> None:
    with pytest.raises(KeyError, match="no weights are registered"):
        get_pretrained_cfg("mobilenet_v1_025.mnist")
    register_pretrained(make_cfg())
    with pytest.raises(KeyError, match=r"Did you mean 'mobilenet_v1_025\.mnist'\?"):
        get_pretrained_cfg("mobilenet_v1_025.mnsit")


def test_unknown_tag_through_the_factory(registry: Path) -> None:
    register_pretrained(make_cfg())
    with pytest.raises(KeyError, match=r"Did you mean 'mobilenet_v1_025\.mnist'"):
        mobilenet_v1(pretrained=True, width_mult=0.25, tag="mnsit")


def test_registry_file_is_read_lazily(registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_registry_entry(make_cfg(), registry / "other.json")
    monkeypatch.setattr(pretrained, "REGISTRY_PATH", registry / "other.json")
    monkeypatch.setattr(pretrained, "_REGISTRY", None)
    assert list_pretrained() == ["mobilenet_v1_025.mnist"]


def test_write_registry_entry(registry: Path) -> None:
    path = registry / "registry.json"
    write_registry_entry(make_cfg(), path)
    assert read_registry_file(path) == [make_cfg()]
    assert list_pretrained() == ["mobilenet_v1_025.mnist"]  # the active registry: also in memory
    with pytest.raises(ValueError, match="already has an entry"):
        write_registry_entry(make_cfg(file_size=7), path)
    write_registry_entry(make_cfg(file_size=7), path, overwrite=True)
    assert read_registry_file(path)[0].file_size == 7
    assert [p.name for p in registry.iterdir()] == ["registry.json"]  # no temporary files left


def test_invalid_registry_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "registry.json"
    bad.write_text('{"weights": []}')
    with pytest.raises(ValueError, match=f"registry {bad}.*schema"):
        read_registry_file(bad)


def test_packaged_registry_is_valid() -> None:
    entries = read_registry_file(pretrained.REGISTRY_PATH)
    names = [cfg.name for cfg in entries]
    assert len(names) == len(set(names))
    assert all(cfg.model_name in list_models() for cfg in entries)


# ---------------------------------------------------------------- publishing
def test_publish_checkpoint(registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = randomize(mobilenet_v1(width_mult=0.25))
    hub_root = tmp_path / "hub"
    cfg = publish_checkpoint(
        model,
        tag="mnist",
        dataset="mnist",
        test_accuracy={32: 99.0},
        recipe="mobilenet-mnist train --width 0.25",
        train_time_s=60.0,
        train_hardware="one test GPU",
        hub_root=hub_root,
        ship=True,
    )
    folder = hub_root / "mobilenet_v1_025.mnist"
    weights = (folder / "model.safetensors").read_bytes()
    assert cfg.sha256 == hashlib.sha256(weights).hexdigest() and cfg.file_size == len(weights)
    cost = profile_model(model)
    assert (cfg.num_params, cfg.macs) == (cost.params, cost.macs)
    assert cfg.hf_hub_id == "mobilenet-mnist/mobilenet_v1_025.mnist" and cfg.hf_hub_revision == DEFAULT_REVISION
    assert cfg.labels == tuple("0123456789") and cfg.shipped
    assert read_registry_file(registry / "registry.json") == [cfg]
    assert (registry / cfg.name / "model.safetensors").read_bytes() == weights
    card = (folder / "README.md").read_text()
    assert "99.0" in card and "Training took 1.0 min (wall clock) on one test GPU." in card
    assert json.loads((folder / "config.json").read_text())["pretrained_cfg"]["train_hardware"] == "one test GPU"
    set_hf_offline(monkeypatch, tmp_path / "empty-cache")
    loaded = mobilenet_v1(pretrained=True, width_mult=0.25).eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert loaded.pretrained_cfg["recipe"] == "mobilenet-mnist train --width 0.25"
    with pytest.raises(ValueError, match=r"already has 'mobilenet_v1_025\.mnist'"):
        publish_checkpoint(
            model,
            tag="mnist",
            dataset="mnist",
            test_accuracy={32: 99.0},
            recipe="r",
            train_time_s=1.0,
            hub_root=hub_root,
        )


def test_publish_from_folder_without_shipping(registry: Path, tmp_path: Path) -> None:
    model = randomize(mobilenet_v1(width_mult=0.5, num_classes=10))
    save_pretrained(model, tmp_path / "trained")
    cfg = publish_checkpoint(
        tmp_path / "trained",
        tag="fashion",
        dataset="fashion_mnist",
        test_accuracy={32: 91.5},
        recipe="r",
        train_time_s=2.0,
        hub_root=tmp_path / "hub",
        hf_hub_revision="v0.2.0",
    )
    assert cfg.name == "mobilenet_v1_050.fashion" and not cfg.shipped
    assert cfg.labels[0] == "T-shirt/top" and cfg.hf_hub_revision == "v0.2.0"
    assert not (registry / cfg.name).exists()


def test_publish_of_a_digit_model_fine_tuned_to_clothing_names_clothes(registry: Path, tmp_path: Path) -> None:
    model = mobilenet_v1(width_mult=0.25)
    digits = {"tag": "mnist", "labels": tuple("0123456789"), "metrics": {"test_accuracy": {32: 99.5}}}
    model.pretrained_cfg = {**model.pretrained_cfg, **digits}  # as loaded with pretrained=True
    model.reset_classifier(10)  # what fine-tuning (init_from) does
    assert "labels" not in model.pretrained_cfg and "metrics" not in model.pretrained_cfg
    assert model.pretrained_cfg["tag"] == "mnist"  # where the backbone came from
    cfg = publish_checkpoint(model, tag="fashion", dataset="fashion_mnist", test_accuracy={32: 90.0}, recipe="r",
                             train_time_s=1.0, hub_root=tmp_path / "hub")
    assert cfg.labels[-1] == "Ankle boot"


def test_publish_refuses_other_archs_and_unknown_labels(registry: Path, tmp_path: Path) -> None:
    imagenet = MobileNetV1("imagenet", width_mult=0.25, num_classes=10)
    with pytest.raises(ValueError, match="Only models of the 'mnist' layer config"):
        publish_checkpoint(
            imagenet,
            tag="x",
            dataset="mnist",
            test_accuracy={},
            recipe="r",
            train_time_s=1.0,
            hub_root=tmp_path,
        )
    with pytest.raises(ValueError, match=r"named 'mobilenet_v1', which is no registered model"):
        publish_checkpoint(
            mobilenet_v1(width_mult=0.3),
            tag="x",
            dataset="mnist",
            test_accuracy={},
            recipe="r",
            train_time_s=1.0,
            hub_root=tmp_path,
        )
    with pytest.raises(ValueError, match="pass labels="):
        publish_checkpoint(
            mobilenet_v1(width_mult=0.25),
            tag="x",
            dataset="kmnist",
            test_accuracy={},
            recipe="r",
            train_time_s=1.0,
            hub_root=tmp_path,
        )


def test_upload_checkpoint_uploads_tags_and_pins(
    registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import HfApi

    calls: dict[str, dict[str, object]] = {}
    commit = "0123456789abcdef0123456789abcdef01234567"

    class FakeCommit(str):
        oid = commit

    def record(name: str, result: object = None) -> Callable[..., object]:
        def method(self: HfApi, *args: object, **kwargs: object) -> object:
            calls[name] = {"args": args, **kwargs}
            return result

        return method

    monkeypatch.setattr(HfApi, "create_repo", record("create_repo"))
    monkeypatch.setattr(HfApi, "upload_folder", record("upload_folder", FakeCommit("url")))
    monkeypatch.setattr(HfApi, "create_tag", record("create_tag"))
    model = randomize(mobilenet_v1(width_mult=0.25))
    hub_root = tmp_path / "hub"
    cfg = publish_checkpoint(
        model,
        tag="mnist",
        dataset="mnist",
        test_accuracy={32: 99.0},
        recipe="r",
        train_time_s=1.0,
        hub_root=hub_root,
    )
    pinned = upload_checkpoint(cfg.name, hub_root=hub_root)
    assert calls["create_repo"]["args"] == (cfg.hf_hub_id,)
    assert calls["upload_folder"]["folder_path"] == str(hub_root / cfg.name)
    assert calls["create_tag"]["tag"] == DEFAULT_REVISION and calls["create_tag"]["revision"] == commit
    assert pinned.hf_hub_revision == commit and pinned.sha256 == cfg.sha256
    assert read_registry_file(registry / "registry.json")[0].hf_hub_revision == commit
    calls.clear()
    (hub_root / cfg.name / "model.safetensors").write_bytes(b"not the published file")
    with pytest.raises(ValueError, match="but the registry pins"):
        upload_checkpoint(cfg.name, hub_root=hub_root)
    assert not calls  # nothing was sent


def test_release_tag_matches_the_package_version() -> None:
    import mobilenet_mnist

    assert f"v{mobilenet_mnist.__version__}" == DEFAULT_REVISION


def test_pretrained_weights_with_a_new_head_do_not_claim_the_old_heads_labels_or_accuracy() -> None:
    kept = mobilenet_v1(pretrained=True)
    assert kept.pretrained_cfg["labels"][0] == "0" and kept.pretrained_cfg["metrics"]["test_accuracy"][32] > 99
    fresh = mobilenet_v1(pretrained=True, num_classes=26)
    assert "labels" not in fresh.pretrained_cfg and "metrics" not in fresh.pretrained_cfg
    assert fresh.pretrained_cfg["source"].startswith("mobilenet_v1_100.mnist")  # where the backbone came from
    assert fresh.pretrained_cfg["architecture"] == "mobilenet_v1_100" and fresh.pretrained_cfg["num_classes"] == 26


def test_timms_data_fields_round_trip_and_default_for_old_records() -> None:
    cfg = make_cfg(test_input_size=(1, 28, 28), pool_size=(1, 1), min_input_size=(1, 17, 17))
    again = PretrainedCfg.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.pool_size == (1, 1) and again.test_input_size == (1, 28, 28)
    assert (make_cfg().crop_pct, make_cfg().crop_mode, make_cfg().fixed_input_size) == (1.0, "squash", False)
    assert {"pool_size", "min_input_size"} <= set(PretrainedCfg.field_names("model"))  # the model's values win
    model = mobilenet_v1(width_mult=0.25, resolution_mult=0.75)
    assert (model.pretrained_cfg["pool_size"], model.pretrained_cfg["min_input_size"]) == ((1, 1), (1, 17, 17))
    assert MobileNetV1("imagenet", width_mult=0.25).pretrained_cfg["pool_size"] == (7, 7)
