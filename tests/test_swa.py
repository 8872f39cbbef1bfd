"""Stochastic weight averaging in the recipe, and extending a finished run to a longer recipe."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from test_train import TINY, run_tiny, synthetic_digits

from mobilenet_mnist.models import create_model
from mobilenet_mnist.training import TrainConfig, extend_run, fit, load_run
from mobilenet_mnist.training.components import build_optimizer, build_scheduler

SWA = {"epochs": 3, "swa_epochs": 2, "swa_lr": 0.02}


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path / "last.ckpt", weights_only=True)["model"]


def test_swa_config_is_validated() -> None:
    with pytest.raises(ValueError, match=r"swa_epochs must be an int in \[0, epochs=3\], got 4"):
        TrainConfig(epochs=3, swa_epochs=4, swa_lr=0.01)
    with pytest.raises(ValueError, match=r"swa_epochs=2 needs swa_lr > 0 .*e\.g\. swa_lr=0\.025"):
        TrainConfig(epochs=3, swa_epochs=2, lr=0.1)
    with pytest.raises(ValueError, match="Use either ema_decay or swa_epochs, not both"):
        TrainConfig(epochs=3, swa_epochs=1, swa_lr=0.01, ema_decay=0.99)
    with pytest.raises(TypeError, match="swa_lr must be a number"):
        TrainConfig(epochs=3, swa_epochs=1, swa_lr="0.01")


def test_schedule_is_cosine_to_zero_then_the_constant_swa_lr() -> None:
    cfg = TrainConfig(epochs=5, swa_epochs=2, swa_lr=0.03, lr=0.2, warmup_epochs=1.0)
    steps_per_epoch = 10
    model = create_model("mobilenet_v1_025")
    scheduler = build_scheduler(build_optimizer(model, cfg), cfg, steps_per_epoch)
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(cfg.epochs * steps_per_epoch - 1):
        scheduler.optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    cosine_end = (cfg.epochs - cfg.swa_epochs) * steps_per_epoch
    assert max(lrs[:cosine_end]) == pytest.approx(0.2, rel=0.1)
    assert lrs[cosine_end - 1] == pytest.approx(0.2 * 0.5 * (1 + math.cos(math.pi * 19 / 20)))
    assert lrs[cosine_end:] == pytest.approx([0.03] * (len(lrs) - cosine_end))


def test_swa_weights_are_the_mean_of_the_averaged_epochs_and_bn_is_recomputed(tmp_path: Path) -> None:
    # Raw weights after epoch 2 (the first averaged epoch) and after epoch 3.
    fit_args = {**TINY, **SWA}
    cfg = TrainConfig.from_dict(fit_args)
    torch.manual_seed(cfg.seed)
    fit(create_model(cfg.model, dropout=cfg.dropout), synthetic_digits(), cfg, output_dir=tmp_path, stop_after=2)
    after_2 = _weights(tmp_path)
    result = run_tiny(tmp_path, resume=True, **SWA)
    after_3 = _weights(tmp_path)
    final = result.model.state_dict()
    for name, tensor in final.items():
        if "running" in name or "num_batches" in name:
            continue
        assert torch.allclose(tensor, (after_2[name] + after_3[name]) / 2, atol=1e-6), name
    # BatchNorm statistics were measured afresh on the averaged weights, not averaged.
    stem_mean = "stem.bn.running_mean"
    assert not torch.allclose(final[stem_mean], (after_2[stem_mean] + after_3[stem_mean]) / 2)
    assert result.model.training is False


def test_swa_run_resumed_mid_average_matches_an_uninterrupted_one(tmp_path: Path) -> None:
    straight = run_tiny(tmp_path / "a", **SWA).model.state_dict()
    cfg = TrainConfig.from_dict({**TINY, **SWA})
    torch.manual_seed(cfg.seed)
    fit(create_model(cfg.model, dropout=cfg.dropout), synthetic_digits(), cfg, output_dir=tmp_path / "b", stop_after=2)
    resumed = run_tiny(tmp_path / "b", resume=True, **SWA).model.state_dict()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    # load_run reads back the averaged weights the run evaluated and saved.
    loaded, recipe, info = load_run(tmp_path / "b")
    assert recipe.swa_epochs == 2 and info["epoch"] == 3
    assert all(torch.equal(loaded.state_dict()[k], straight[k]) for k in straight)
    raw, _, _ = load_run(tmp_path / "b", weights="raw")
    assert not torch.equal(raw.state_dict()["stem.conv.weight"], straight["stem.conv.weight"])


def test_swa_learns_the_synthetic_task() -> None:
    no_augmentation = {"rotate_deg": 0.0, "scale": 0.0, "translate": 0.0}
    result = run_tiny(None, n=400, epochs=8, swa_epochs=3, swa_lr=0.02, batch_size=32, max_steps_per_epoch=None,
                      augment=no_augmentation)
    assert result.history[-1]["val_acc@24"] >= 90.0


def test_extending_a_finished_run_equals_training_the_longer_recipe(tmp_path: Path) -> None:
    straight = run_tiny(tmp_path / "straight", **SWA).model.state_dict()
    run_tiny(tmp_path / "short", epochs=1)
    longer = TrainConfig.from_dict({**TINY, **SWA})
    written = extend_run(tmp_path / "short", longer, tmp_path / "long")
    assert written == tmp_path / "long" / "last.ckpt"
    result = run_tiny(tmp_path / "long", resume=True, **SWA)
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    extended = result.model.state_dict()
    assert all(torch.equal(straight[k], extended[k]) for k in straight)


def test_extending_a_checkpoint_without_optimizer_state(tmp_path: Path) -> None:
    run_tiny(tmp_path / "short", epochs=1)
    checkpoint = torch.load(tmp_path / "short" / "last.ckpt", weights_only=True)
    del checkpoint["optimizer"], checkpoint["scheduler"]  # as scripts/train_grid.py packs them
    torch.save(checkpoint, tmp_path / "short" / "last.ckpt")
    extend_run(tmp_path / "short", TrainConfig.from_dict({**TINY, **SWA}), tmp_path / "long")
    resumed = torch.load(tmp_path / "long" / "last.ckpt", weights_only=True)
    assert resumed["epoch"] == 1
    assert resumed["scheduler"]["last_epoch"] == TINY["max_steps_per_epoch"]
    assert resumed["optimizer"]["param_groups"][0]["lr"] == pytest.approx(SWA["swa_lr"])
    result = run_tiny(tmp_path / "long", resume=True, **SWA)
    assert [row["lr"] for row in result.history[1:]] == pytest.approx([0.02, 0.02])


def test_extend_run_refuses_what_would_not_continue_the_schedule(tmp_path: Path) -> None:
    run_tiny(tmp_path / "short", epochs=1)
    with pytest.raises(ValueError, match=r"recipe differs beyond .*'lr': \(0\.1, 0\.05\)"):
        extend_run(tmp_path / "short", TrainConfig.from_dict({**TINY, **SWA, "lr": 0.05}), tmp_path / "x")
    with pytest.raises(ValueError, match=r"epochs - swa_epochs = 2\); e\.g\. epochs=2, swa_epochs=1"):
        extend_run(tmp_path / "short", TrainConfig.from_dict({**TINY, "epochs": 3, "swa_epochs": 1, "swa_lr": 0.02}),
                   tmp_path / "x")
    cfg = TrainConfig.from_dict({**TINY, "epochs": 2})
    torch.manual_seed(cfg.seed)
    fit(create_model(cfg.model), synthetic_digits(), cfg, output_dir=tmp_path / "unfinished", stop_after=1)
    with pytest.raises(ValueError, match="stopped after 1 of 2 epochs; finish it"):
        extend_run(tmp_path / "unfinished", TrainConfig.from_dict({**TINY, **SWA}), tmp_path / "x")
    extend_run(tmp_path / "short", TrainConfig.from_dict({**TINY, **SWA}), tmp_path / "long")
    with pytest.raises(FileExistsError, match="extend into a new, empty run folder"):
        extend_run(tmp_path / "short", TrainConfig.from_dict({**TINY, **SWA}), tmp_path / "long")
    with pytest.raises(FileNotFoundError, match=r"No last\.ckpt in .*missing: is it a training run folder\?"):
        extend_run(tmp_path / "missing", TrainConfig.from_dict({**TINY, **SWA}), tmp_path / "y")
