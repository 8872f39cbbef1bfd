"""Every published checkpoint, re-measured: files, costs and test accuracy vs the registry.

Non-default checkpoints are loaded through the real Hub code path: a temporary Hugging
Face cache is seeded from ``hub/<name>/`` (the folder that gets uploaded) and the test
runs with ``HF_HUB_OFFLINE=1``. The default checkpoint is loaded from the package.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from hub_cache import seed_hf_cache, set_hf_offline

from mobilenet_mnist import create_model, from_pretrained, list_pretrained, profile_model
from mobilenet_mnist.data.datasets import load_dataset
from mobilenet_mnist.models import get_pretrained_cfg
from mobilenet_mnist.models.pretrained import shipped_weights_path
from mobilenet_mnist.training.evaluation import evaluate
from mobilenet_mnist.utils.files import sha256_file

REPO_ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = list_pretrained()
#: Registered accuracies are rounded to 0.01 points (one test image is 0.01 points).
TOLERANCE = 0.011


def test_the_default_model_is_published_and_shipped() -> None:
    assert "mobilenet_v1_100.mnist" in PUBLISHED
    assert get_pretrained_cfg("mobilenet_v1_100.mnist").shipped


@pytest.fixture
def published_model(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cfg = get_pretrained_cfg(request.param)
    if not cfg.shipped:
        seed_hf_cache(REPO_ROOT / "hub" / cfg.name, tmp_path, cfg.hf_hub_id, revision=cfg.hf_hub_revision)
    set_hf_offline(monkeypatch, cache_dir=tmp_path)
    return cfg, create_model(cfg.name, pretrained=True).eval()


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_files_match_the_registry(name: str) -> None:
    cfg = get_pretrained_cfg(name)
    hub_file = REPO_ROOT / "hub" / name / cfg.filename
    files = [hub_file] + ([shipped_weights_path(cfg)] if cfg.shipped else [])
    for path in files:
        assert path.stat().st_size == cfg.file_size
        assert sha256_file(path) == cfg.sha256
    assert {p.name for p in hub_file.parent.iterdir()} >= {"model.safetensors", "config.json", "README.md"}


#: The config.json files release 0.2.0 published beside the same weights (hub/ now holds today's layout).
RELEASE_0_2_0 = Path(__file__).resolve().parent / "data" / "release_0_2_0"


@pytest.mark.parametrize("name", PUBLISHED)
def test_folders_written_by_release_0_2_0_still_load(name: str, tmp_path: Path) -> None:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(RELEASE_0_2_0 / name / "config.json", folder / "config.json")
    (folder / "model.safetensors").symlink_to(REPO_ROOT / "hub" / name / "model.safetensors")
    config = json.loads((folder / "config.json").read_text())
    assert "model_args" not in config and config["model_name"] == name.split(".")[0]  # 0.2.0's flat layout
    cfg = get_pretrained_cfg(name)
    model = from_pretrained(folder)
    loaded = model.pretrained_cfg
    assert (loaded["architecture"], loaded["tag"], model.width_mult) == (cfg.architecture, cfg.tag, cfg.width_mult)
    assert (loaded["labels"], loaded["sha256"]) == (cfg.labels, cfg.sha256)
    assert loaded["metrics"] == {"test_accuracy": cfg.metrics["test_accuracy"]}  # 0.2.0 measured no calibration


@pytest.mark.parametrize("name", PUBLISHED)
def test_hub_folders_state_the_registry_record(name: str) -> None:
    cfg = get_pretrained_cfg(name)
    config = json.loads((REPO_ROOT / "hub" / name / "config.json").read_text())
    assert config["weights"]["sha256"] == cfg.sha256 and config["architecture"] == cfg.architecture
    loaded = from_pretrained(REPO_ROOT / "hub" / name).pretrained_cfg
    for key in ("labels", "metrics", "temperature", "ood_score", "ood_threshold", "recipe", "train_time_s"):
        assert loaded.get(key) == getattr(cfg, key), key


@pytest.mark.parametrize("name", PUBLISHED)
def test_hub_folders_are_what_the_release_refresh_writes(name: str, tmp_path: Path) -> None:
    """``mobilenet-mnist publish --refresh`` has run since the registry, the card or the layout changed."""
    from mobilenet_mnist.hub.publish import refresh_checkpoint_metadata

    published = REPO_ROOT / "hub" / name
    copy = tmp_path / name
    copy.mkdir()
    for file in ("config.json", "README.md"):
        shutil.copy(published / file, copy / file)
    (copy / "model.safetensors").symlink_to(published / "model.safetensors")
    refresh_checkpoint_metadata(name, hub_root=tmp_path)
    for file in ("config.json", "README.md"):
        stale = f"hub/{name}/{file} is stale: run `mobilenet-mnist publish --refresh`"
        assert (copy / file).read_text() == (published / file).read_text(), stale


#: A config.json that main wrote between 0.2.0 and 0.3.0 (timm's layout, calibration, weights
#: pin, library_version 0.2.0), before the 0.3.0 refresh rewrote hub/.
PRE_0_3_0 = Path(__file__).resolve().parent / "data" / "pre_0_3_0" / "mobilenet_v1_050.mnist" / "config.json"


def test_a_folder_written_before_0_3_0_still_loads_and_its_pin_is_checked(tmp_path: Path) -> None:
    cfg = get_pretrained_cfg("mobilenet_v1_050.mnist")
    old = json.loads(PRE_0_3_0.read_text())
    assert (old["library_version"], old["weights"]["sha256"]) == ("0.2.0", cfg.sha256)
    folder = tmp_path / cfg.name
    folder.mkdir()
    shutil.copy(PRE_0_3_0, folder / "config.json")
    (folder / "model.safetensors").symlink_to(REPO_ROOT / "hub" / cfg.name / "model.safetensors")
    model = from_pretrained(folder).eval()
    loaded = model.pretrained_cfg
    assert (loaded["architecture"], model.width_mult, loaded["sha256"]) == (cfg.architecture, 0.5, cfg.sha256)
    stated = old["pretrained_cfg"]
    assert (loaded["temperature"], loaded["ood_threshold"]) == (stated["temperature"], stated["ood_threshold"])
    assert loaded["metrics"]["calibration"] == stated["metrics"]["calibration"]
    assert loaded["train_hardware"] == stated["train_hardware"]
    reference = from_pretrained(REPO_ROOT / "hub" / cfg.name).eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))
    other = REPO_ROOT / "hub" / "mobilenet_v1_025.mnist" / "model.safetensors"
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").symlink_to(other)  # the old pin refuses other weights
    with pytest.raises(ValueError, match=cfg.sha256):
        from_pretrained(folder)


def test_a_bare_file_of_release_0_2_0_rebuilds_its_network(tmp_path: Path) -> None:
    cfg = get_pretrained_cfg("mobilenet_v1_050.mnist")
    bare = tmp_path / "weights.safetensors"  # no config.json beside it: only the file's own metadata
    shutil.copy(REPO_ROOT / "hub" / cfg.name / cfg.filename, bare)
    model = from_pretrained(bare).eval()
    assert model.width_mult == 0.5 and model.pretrained_cfg["architecture"] == "mobilenet_v1"  # 0.2.0 kept no name
    reference = from_pretrained(REPO_ROOT / "hub" / cfg.name).eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))


@pytest.mark.parametrize("published_model", PUBLISHED, indirect=True)
def test_costs_match_the_registry(published_model) -> None:
    cfg, model = published_model
    cost = profile_model(model)
    assert (cost.params, cost.macs) == (cfg.num_params, cfg.macs)
    assert tuple(model.pretrained_cfg["input_size"]) == tuple(cfg.input_size)


@pytest.mark.slow
@pytest.mark.parametrize("published_model", PUBLISHED, indirect=True)
def test_test_accuracy_matches_the_registry(published_model, mnist_dir: Path, fashion_mnist_dir: Path) -> None:
    cfg, model = published_model
    folder = mnist_dir if cfg.dataset == "mnist" else fashion_mnist_dir
    test = load_dataset(cfg.dataset, "test", folder)
    for size, registered in cfg.test_accuracy.items():
        measured = evaluate(model, test, int(size)).accuracy
        assert measured == pytest.approx(registered, abs=TOLERANCE), f"{cfg.name} at {size}px"


TRAIN_RECORD = REPO_ROOT / "benchmarks" / "results" / "train_grid.json"


def _published_runs() -> dict[str, str]:
    import json

    return json.loads(TRAIN_RECORD.read_text())["published"]


@pytest.mark.parametrize("preset", sorted(_published_runs()))
def test_preset_is_the_recipe_that_trained_the_published_checkpoint(preset: str) -> None:
    import json

    from mobilenet_mnist.training.loop import RUNTIME_FIELDS, get_preset

    record = json.loads(TRAIN_RECORD.read_text())
    round_name, job = record["published"][preset].split("/")  # e.g. "1/m100_wd5"
    run = record["rounds"][round_name][job]
    trained = run["recipe"]
    expected = get_preset(preset).to_dict()
    differ = {k: (v, expected[k]) for k, v in trained.items() if k not in RUNTIME_FIELDS and expected[k] != v}
    assert not differ, f"preset {preset} differs from the recipe of run {job}: {differ}"
    assert trained["epochs"] == len(run["history"]) == run["history"][-1]["epoch"]  # the run finished


@pytest.mark.parametrize("name", PUBLISHED)
def test_registry_recipe_names_a_preset_and_the_card_says_where_it_trained(name: str) -> None:
    from mobilenet_mnist.training.loop import PRESETS

    cfg = get_pretrained_cfg(name)
    preset = cfg.recipe.split("--preset ")[1].split()[0]
    assert preset in PRESETS
    card = (REPO_ROOT / "hub" / name / "README.md").read_text()
    assert cfg.recipe in card and "on one NVIDIA H200 GPU" in card
