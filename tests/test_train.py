"""The training recipe: config, loop, checkpoints, metrics log, exact resume after SIGKILL, run folders."""

from __future__ import annotations

import ast
import importlib.util
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

import mobilenet_mnist.training
from mobilenet_mnist.cli import main
from mobilenet_mnist.data.datasets import ImageTensors, load_dataset
from mobilenet_mnist.hub import from_pretrained
from mobilenet_mnist.models import create_model
from mobilenet_mnist.training import TrainConfig, TrainResult, fit, get_preset, load_run, train

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
    assert all("val_acc@24" in row and row["train_loss"] > 0 for row in rows)
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
    import mobilenet_mnist.training.loop as loop_module

    saves: list[int] = []
    original = loop_module.write_checkpoint

    def save_and_stop(obj: dict, path: Path) -> None:
        original(obj, path)
        saves.append(obj["epoch"])
        if obj["epoch"] == stop_after:
            raise KeyboardInterrupt

    loop_module.write_checkpoint = save_and_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            run_tiny(output_dir)
    finally:
        loop_module.write_checkpoint = original
    assert saves == [stop_after]


KILL_SCRIPT = """
import sys, torch
sys.path.insert(0, {tests!r})
from test_train import run_tiny
run_tiny(__import__("pathlib").Path({out!r}), epochs=6, max_steps_per_epoch=30, ema_decay=0.99)
"""


@pytest.mark.slow  # a training run (several seconds): the slow suite
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


@pytest.mark.slow
def test_resume_may_change_threads(tmp_path: Path) -> None:
    cfg = TrainConfig.from_dict({**TINY, "epochs": 2})
    torch.manual_seed(cfg.seed)
    fit(create_model(cfg.model), synthetic_digits(), cfg, output_dir=tmp_path, stop_after=1)
    more_threads = TrainConfig.from_dict({**TINY, "epochs": 2, "threads": 2})
    result = fit(create_model(cfg.model), synthetic_digits(), more_threads, output_dir=tmp_path, resume=True)
    assert [row["epoch"] for row in result.history] == [1, 2]
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert json.loads(json.dumps(saved["config"]))["threads"] == 2


@pytest.mark.slow  # a training run
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
    from mobilenet_mnist.training.components import build_model

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
    time_recipe_epoch = _load_benchmark("epoch_time").time_recipe_epoch

    calls = []
    cfg = get_preset("fast", device="cpu", threads=1, batch_size=16, eval_sizes=(24,), **swa)
    timing = time_recipe_epoch(
        cfg, synthetic_digits(96), synthetic_digits(32, seed=1), steps=2, before_timing=lambda: calls.append(1)
    )
    assert calls == [1]
    assert timing["step_s"] > 0 and timing["eval_s"] > 0
    assert timing["epoch_s"] == pytest.approx(timing["step_s"] * (96 // 16) + timing["eval_s"])


def _load_benchmark(name: str) -> Any:
    """A module of ``benchmarks/`` (outside the installed package), loaded from its file."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- run folders and resume
RUN = {"epochs": 1, "max_steps_per_epoch": 2, "batch_size": 16, "val_size": 100, "threads": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def finished_run(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder that `train` finished: the fast preset cut to two steps."""
    run_dir = tmp_path_factory.mktemp("run")
    train(get_preset("fast", **RUN), mnist_dir, run_dir)
    return run_dir


def test_finished_run_folder_loads_with_from_pretrained_like_load_run(finished_run: Path) -> None:
    loaded = from_pretrained(finished_run).eval()
    reference, cfg, _ = load_run(finished_run)
    x = torch.rand(4, 1, 24, 24)
    with torch.no_grad():
        assert torch.equal(loaded(x), reference(x))
    saved = loaded.pretrained_cfg  # what config.json records
    assert saved["dataset"] == "mnist" and list(saved["labels"]) == list("0123456789")
    assert set(saved["metrics"]["val_accuracy"]) == {24}  # the last epoch's, at every eval size
    assert json.loads(saved["recipe"].splitlines()[1]) == cfg.to_dict()  # the replayed --config file
    assert "mobilenet-mnist train --config recipe.json" in (finished_run / "README.md").read_text()


@pytest.mark.slow  # a training run, then predict from its folder
def test_run_folder_serves_the_predict_command(
    finished_run: Path, mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digit = tmp_path / "digit.png"
    Image.fromarray(load_dataset("mnist", "test", mnist_dir).images[0].numpy()).save(digit)
    assert main(["predict", str(digit), "--model", str(finished_run), "--top-k", "1"]) == 0
    assert capsys.readouterr().out.startswith(f"{digit}: ")


def test_run_without_the_new_model_files_still_loads_with_load_run(finished_run: Path, tmp_path: Path) -> None:
    """A 0.2.0 run folder: last.ckpt, metrics.jsonl, final.safetensors and final.json only."""
    old = tmp_path / "old_run"
    old.mkdir()
    for name in ("last.ckpt", "metrics.jsonl", "final.safetensors", "final.json"):
        (old / name).write_bytes((finished_run / name).read_bytes())
    model, _, info = load_run(old)
    assert info["epoch"] == 1
    assert all(torch.equal(v, from_pretrained(finished_run).state_dict()[k]) for k, v in model.state_dict().items())


def test_resume_without_a_checkpoint_says_how_to_start_afresh(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    message = rf"No last\.ckpt found in {re.escape(str(empty))}.*leave out --resume \(resume=False\)"
    with pytest.raises(FileNotFoundError, match=message):  # checked before the (missing) data is read
        train(get_preset("fast", **RUN), tmp_path / "no_data", empty, resume=True)
    with pytest.raises(FileNotFoundError, match=message):
        run_tiny(empty, resume=True)
    code = main(["train", "--preset", "fast", "--output", str(empty), "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and re.fullmatch(rf"mobilenet-mnist train: error: {message}\.\n", err)


def test_each_epoch_logs_one_rounded_table_row_and_no_json(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="mobilenet_mnist.training"):
        result = run_tiny(tmp_path, epochs=2, eval_sizes=(32, 24))
    lines = [r.getMessage() for r in caplog.records if r.name == "mobilenet_mnist.training.loop"]
    assert lines[0].split() == ["epoch", "train", "loss", "val@32", "%", "val@24", "%", "lr", "seconds"]
    for line, row in zip(lines[1:], result.history, strict=True):
        epoch, loss, val32, val24, lr, seconds = line.split()
        assert epoch == f"{row['epoch']}/2" and loss == f"{row['train_loss']:.4f}"
        assert val32 == f"{row['val_acc@32']:.2f}" and val24 == f"{row['val_acc@24']:.2f}"
        assert re.fullmatch(r"\d+\.\d", seconds) and float(lr) == pytest.approx(row["lr"], rel=1e-2)
    assert not any("{" in line for line in lines)  # the JSON rows go to metrics.jsonl only
    assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0]) == result.history[0]


def test_training_modules_import_each_other_without_a_cycle() -> None:
    package = Path(mobilenet_mnist.training.__file__).parent
    graph = {path.stem: _sibling_imports(path) for path in package.glob("*.py")}
    done: set[str] = set()

    def visit(module: str, chain: tuple[str, ...]) -> None:
        assert module not in chain, f"import cycle: {' -> '.join((*chain, module))}"
        if module not in done:
            for imported in graph.get(module, ()):
                visit(imported, (*chain, module))
            done.add(module)

    for module in graph:
        visit(module, ())
    assert "loop" in graph["__init__"] and "state" in graph["runs"] and "runs" in graph["loop"]


def _sibling_imports(path: Path) -> set[str]:
    """Modules of the same package that ``path`` imports (``from .x import``/``from . import x``), lazily or not."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {alias.name for alias in node.names}
    return found


def test_train_command_ends_with_the_line_that_loads_the_model(
    mnist_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "recipe.json"
    config.write_text(json.dumps({**RUN, "eval_sizes": [24]}))
    run_dir = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="mobilenet_mnist"):
        code = main(["train", "--preset", "fast", "--config", str(config), "--data-dir", str(mnist_dir),
                     "--output", str(run_dir)])
    assert code == 0
    scores = json.loads(capsys.readouterr().out.splitlines()[-1])["test_accuracy"]
    last = caplog.records[-1].getMessage().splitlines()
    assert str(run_dir) in last[0] and last[1].strip().startswith("from mobilenet_mnist import from_pretrained")
    namespace: dict = {}
    exec(last[1].strip(), namespace)  # the printed line, as a user would paste it
    assert torch.equal(namespace["model"].classifier.weight, from_pretrained(run_dir).classifier.weight)
    recorded = from_pretrained(run_dir).pretrained_cfg["metrics"]["test_accuracy"]
    assert {str(side): value for side, value in recorded.items()} == scores
