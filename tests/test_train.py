"""The training recipe: config, loop, checkpoints, metrics log, exact resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mobilenet_mnist.data.datasets import ImageTensors
from mobilenet_mnist.models.factory import create_model
from mobilenet_mnist.training.loop import TrainConfig, TrainResult, fit, get_preset

TINY = {
    "model": "mobilenet_v1_025",
    "epochs": 3,
    "batch_size": 16,
    "max_steps_per_epoch": 4,
    "train_sizes": (24, 32),
    "eval_sizes": (24,),
    "threads": 1,
    "device": "cpu",
}


def synthetic_digits(n: int = 96, seed: int = 0) -> ImageTensors:
    """Class k = a bright square at a class-specific position: learnable in a few steps."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 10
    images = torch.randint(0, 40, (n, 28, 28), generator=generator, dtype=torch.uint8)
    for i, label in enumerate(labels.tolist()):
        row, col = divmod(label, 5)
        images[i, 4 + 10 * row : 12 + 10 * row, 2 + 5 * col : 7 + 5 * col] = 255
    return ImageTensors(images, labels, tuple("0123456789"))


def run_tiny(output_dir: Path | None, resume: bool = False, n: int = 96, **overrides: object) -> TrainResult:
    cfg = TrainConfig.from_dict({**TINY, **overrides})
    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, dropout=cfg.dropout)
    data = synthetic_digits(n)
    return fit(model, data, cfg, val_data=synthetic_digits(40, seed=1), output_dir=output_dir, resume=resume)


def test_checkpoint_and_metrics_written_each_epoch(tmp_path: Path) -> None:
    result = run_tiny(tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert all(0 <= row["val_acc@24"] <= 100 and row["train_loss"] > 0 for row in rows)
    checkpoint = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert checkpoint["epoch"] == 3
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
    assert result.model.training is False


def test_same_seed_same_weights_and_resume_is_exact(tmp_path: Path) -> None:
    first = run_tiny(tmp_path / "a").model.state_dict()
    again = run_tiny(tmp_path / "b").model.state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    # A run stopped after epoch 1 and resumed ends with the same weights.
    stopped = tmp_path / "c"
    _run_until_epoch(stopped, stop_after=1)
    resumed = run_tiny(stopped, resume=True).model.state_dict()
    assert all(torch.equal(first[k], resumed[k]) for k in first)


def _run_until_epoch(output_dir: Path, stop_after: int) -> None:
    """Run the tiny recipe and keep only the checkpoint of epoch ``stop_after`` (as if killed then)."""
    import mobilenet_mnist.training.loop as train_module

    saves: list[int] = []
    original = train_module._atomic_torch_save

    def save_and_stop(obj: dict, path: Path) -> None:
        original(obj, path)
        saves.append(obj["epoch"])
        if obj["epoch"] == stop_after:
            raise KeyboardInterrupt

    train_module._atomic_torch_save = save_and_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            run_tiny(output_dir)
    finally:
        train_module._atomic_torch_save = original
    assert saves == [stop_after]


KILL_SCRIPT = """
import sys, torch
sys.path.insert(0, {tests!r})
from test_train import run_tiny
run_tiny(__import__("pathlib").Path({out!r}), resume=True, epochs=6, max_steps_per_epoch=30, ema_decay=0.99)
"""


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    out = tmp_path / "killed"
    script = KILL_SCRIPT.format(tests=str(Path(__file__).parent), out=str(out))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            if (out / "metrics.jsonl").exists() and len((out / "metrics.jsonl").read_text().splitlines()) >= 2:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert torch.load(out / "last.ckpt", weights_only=True)["epoch"] < 6
    (out / ".last.abc123.tmp.ckpt").write_bytes(b"partial")  # as if killed while saving
    resumed = run_tiny(out, resume=True, epochs=6, max_steps_per_epoch=30, ema_decay=0.99).model.state_dict()
    reference = run_tiny(tmp_path / "reference", epochs=6, max_steps_per_epoch=30, ema_decay=0.99).model.state_dict()
    assert all(torch.equal(reference[k], resumed[k]) for k in reference)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert not [p for p in out.iterdir() if ".tmp" in p.name]


def test_resume_with_a_different_recipe_is_refused(tmp_path: Path) -> None:
    run_tiny(tmp_path, epochs=1)
    with pytest.raises(ValueError, match=r"recipe differs .*'lr': \(0\.1, 0\.01\).*only \['device', 'threads'\]"):
        run_tiny(tmp_path, resume=True, epochs=1, lr=0.01)


def test_resume_may_change_threads(tmp_path: Path) -> None:
    cfg = TrainConfig.from_dict({**TINY, "epochs": 2})
    torch.manual_seed(cfg.seed)
    fit(create_model(cfg.model), synthetic_digits(), cfg, output_dir=tmp_path, stop_after=1)
    more_threads = TrainConfig.from_dict({**TINY, "epochs": 2, "threads": 2})
    result = fit(create_model(cfg.model), synthetic_digits(), more_threads, output_dir=tmp_path, resume=True)
    assert [row["epoch"] for row in result.history] == [1, 2]
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert json.loads(json.dumps(saved["config"]))["threads"] == 2


@pytest.mark.parametrize("ema_decay", [0.0, 0.99])
def test_training_learns_the_synthetic_task(ema_decay: float) -> None:
    no_augmentation = {"rotate_deg": 0.0, "scale": 0.0, "translate": 0.0}
    result = run_tiny(
        None, n=400, epochs=8, batch_size=32, max_steps_per_epoch=None, ema_decay=ema_decay, augment=no_augmentation
    )
    assert result.history[-1]["val_acc@24"] >= 90.0
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_config_validation_and_presets(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Unknown TrainConfig keys \\['epoch'\\]"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="optimizer must be 'sgd' or 'adamw'"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        TrainConfig(epochs=0)
    with pytest.raises(KeyError, match="Did you mean 'fast'"):
        get_preset("fats")
    cfg = get_preset("fast", epochs=2)
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(cfg.to_dict()))
    assert TrainConfig.from_file(path) == cfg and cfg.epochs == 2


def test_init_from_keeps_the_pretrained_backbone_and_starts_a_new_head() -> None:
    from mobilenet_mnist.training.loop import build_model

    pretrained = create_model("mobilenet_v1_100.mnist", pretrained=True)
    cfg = TrainConfig(model="mobilenet_v1_100", init_from="mobilenet_v1_100.mnist", seed=3)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, num_classes=5)
    assert model.get_classifier().out_features == 5
    for name, tensor in pretrained.state_dict().items():
        if not name.startswith("classifier"):
            assert torch.equal(model.state_dict()[name], tensor), name
    # The recipe round-trips through JSON with its starting point.
    assert TrainConfig.from_dict(cfg.to_dict()).init_from == "mobilenet_v1_100.mnist"


def test_init_from_must_match_the_model_and_be_a_name() -> None:
    with pytest.raises(ValueError, match=r"does not match model='mobilenet_v1_050'.*'mobilenet_v1_050.mnist'"):
        TrainConfig(model="mobilenet_v1_050", init_from="mobilenet_v1_100.mnist")
    with pytest.raises(TypeError, match="init_from must be a pretrained name"):
        TrainConfig(init_from=3)


def test_fashion_preset_is_a_complete_recipe() -> None:
    cfg = get_preset("fashion_100")
    assert cfg.dataset == "fashion_mnist" and cfg.augment.hflip == 0.5 and cfg.augment.rotate_deg == 0
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@pytest.mark.parametrize("swa", [{}, {"epochs": 4, "swa_epochs": 2, "swa_lr": 0.01}])
def test_time_recipe_epoch_scales_timed_steps_to_an_epoch(swa: dict) -> None:
    from mobilenet_mnist.deploy.benchmark import time_recipe_epoch

    calls = []
    cfg = get_preset("fast", device="cpu", threads=1, batch_size=16, eval_sizes=(24,), **swa)
    timing = time_recipe_epoch(
        cfg, synthetic_digits(96), synthetic_digits(32, seed=1), steps=2, before_timing=lambda: calls.append(1)
    )
    assert calls == [1]
    assert timing["step_s"] > 0 and timing["eval_s"] > 0
    assert timing["epoch_s"] == pytest.approx(timing["step_s"] * (96 // 16) + timing["eval_s"])
