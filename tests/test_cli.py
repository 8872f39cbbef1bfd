"""The `mobilenet-mnist` command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from mobilenet_mnist import mobilenet_v1, save_pretrained
from mobilenet_mnist.cli import main
from mobilenet_mnist.data.datasets import load_dataset


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_and_wildcards(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "*_0[25]*")
    assert code == 0 and out.split() == ["mobilenet_v1_025", "mobilenet_v1_050"]


def test_info_prints_the_costs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "info", "mobilenet_v1_100")
    assert code == 0 and "3,216,650 parameters" in out and "42,591,232 multiply-adds" in out


def test_unknown_name_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "info", "mobilenet_v1_10")
    assert code == 2 and "Did you mean 'mobilenet_v1_100'" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    save_pretrained(mobilenet_v1(width_mult=0.25).eval(), folder)
    return folder


@pytest.mark.slow  # an evaluation on MNIST test images
def test_evaluate_reports_accuracy_per_class_and_confusions(
    capsys: pytest.CaptureFixture[str], small_checkpoint: Path, mnist_dir: Path
) -> None:
    code, out, _ = run(capsys, "evaluate", str(small_checkpoint), "--data-dir", str(mnist_dir), "--resolution", "24")
    assert code == 0
    assert "(10000 images) at 24px: top-1" in out
    assert "per-class accuracy (%): 0:" in out and "most confused (true→predicted):" in out


def test_predict_ranks_digits_for_image_files(
    capsys: pytest.CaptureFixture[str], small_checkpoint: Path, mnist_dir: Path, tmp_path: Path
) -> None:
    digit = load_dataset("mnist", "test", mnist_dir).images[0].numpy()
    path = tmp_path / "digit.png"
    Image.fromarray(digit).save(path)
    code, out, _ = run(capsys, "predict", str(path), "--model", str(small_checkpoint), "--top-k", "2")
    assert code == 0
    line = out.strip()
    assert line.startswith(f"{path}: ") and line.count("%)") == 2
    probabilities = [float(part.split("(")[1].rstrip("%)")) for part in line.split(": ", 1)[1].split(", ")]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 100.05


def test_predict_unreadable_image(capsys: pytest.CaptureFixture[str], small_checkpoint: Path, tmp_path: Path) -> None:
    bad = tmp_path / "not_an_image.png"
    bad.write_bytes(b"hello")
    code, _, err = run(capsys, "predict", str(bad), "--model", str(small_checkpoint))
    assert code == 2 and "mobilenet-mnist predict: error: Cannot read image" in err and "Traceback" not in err


def test_train_command_writes_a_run_and_scores_it(
    capsys: pytest.CaptureFixture[str], mnist_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "recipe.json"
    config.write_text(json.dumps({"max_steps_per_epoch": 3, "batch_size": 32, "eval_sizes": [24], "val_size": 100}))
    code, out, _ = run(
        capsys, "train", "--preset", "fast", "--config", str(config), "--data-dir", str(mnist_dir),
        "--output", str(tmp_path / "run"), "--threads", "1",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert set(result["test_accuracy"]) == {"24"} and 0 <= result["test_accuracy"]["24"] <= 100
    assert (tmp_path / "run" / "last.ckpt").exists() and (tmp_path / "run" / "final.safetensors").exists()


@pytest.mark.slow  # a training run (several seconds): the slow suite
def test_train_extend_continues_a_finished_run_into_a_longer_recipe(
    capsys: pytest.CaptureFixture[str], mnist_dir: Path, tmp_path: Path
) -> None:
    short = {"max_steps_per_epoch": 3, "batch_size": 32, "eval_sizes": [24], "val_size": 100, "epochs": 1}
    longer = {**short, "epochs": 3, "swa_epochs": 2, "swa_lr": 0.01}
    mismatched = {**longer, "swa_epochs": 1}  # its cosine part would be 2 epochs, not the finished 1
    for name, recipe in (("short", short), ("longer", longer), ("mismatched", mismatched)):
        (tmp_path / f"{name}.json").write_text(json.dumps(recipe))
    common = ["--preset", "fast", "--data-dir", str(mnist_dir), "--threads", "1"]
    first = ["train", *common, "--config", str(tmp_path / "short.json"), "--output", str(tmp_path / "a")]
    assert run(capsys, *first)[0] == 0
    extend = ["train", *common, "--config", str(tmp_path / "longer.json"), "--extend", str(tmp_path / "a"),
              "--output", str(tmp_path / "b")]
    assert run(capsys, *extend)[0] == 0
    saved = json.loads((tmp_path / "b" / "final.json").read_text())
    assert [row["epoch"] for row in saved["history"]] == [1, 2, 3] and saved["recipe"]["swa_epochs"] == 2
    assert saved["history"][0] == json.loads((tmp_path / "a" / "final.json").read_text())["history"][0]
    # The same command again finds the extension done and does not extend a second time.
    code, _, err = run(capsys, *extend)
    assert code == 0 and "Traceback" not in err
    code, _, err = run(capsys, "train", *common, "--config", str(tmp_path / "mismatched.json"), "--extend",
                       str(tmp_path / "a"), "--output", str(tmp_path / "c"))
    assert code == 2 and "must be exactly the warm-up + cosine part of the new recipe" in err


@pytest.mark.slow
def test_fast_preset_reaches_99_percent(mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "train", "--preset", "fast", "--data-dir", str(mnist_dir), "--output", str(tmp_path))
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert min(result["test_accuracy"].values()) >= 99.0, result


def test_export_command_writes_a_loadable_program(
    capsys: pytest.CaptureFixture[str], small_checkpoint: Path, tmp_path: Path
) -> None:
    output = tmp_path / "model.pt"
    code, out, _ = run(capsys, "export", str(small_checkpoint), "--format", "torchscript", "--output", str(output))
    assert code == 0 and out.strip().endswith(str(output))
    from mobilenet_mnist import from_pretrained

    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        expected = from_pretrained(small_checkpoint).eval()(x)
        assert torch.allclose(torch.jit.load(str(output))(x), expected, atol=1e-4)


def test_benchmark_command_is_wired(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["benchmark", "--help"])
    assert exit_info.value.code == 0 and "--widths" in capsys.readouterr().out


@pytest.mark.slow  # scores α = 1.0 on the 10,000 test images
def test_train_config_file_fine_tunes_from_published_weights(
    capsys: pytest.CaptureFixture[str], fashion_mnist_dir: Path, tmp_path: Path
) -> None:
    recipe = {
        "model": "mobilenet_v1_100", "init_from": "mobilenet_v1_100.mnist", "dataset": "fashion_mnist",
        "epochs": 1, "max_steps_per_epoch": 2, "batch_size": 16, "val_size": 100,
        "train_sizes": [24], "eval_sizes": [24], "augment": {"rotate_deg": 0, "hflip": 0.5},
    }
    config = tmp_path / "finetune.json"
    config.write_text(json.dumps(recipe))
    code, out, _ = run(capsys, "train", "--config", str(config), "--data-dir", str(fashion_mnist_dir),
                       "--output", str(tmp_path / "run"), "--threads", "1")
    assert code == 0
    assert set(json.loads(out.strip().splitlines()[-1])["test_accuracy"]) == {"24"}
    saved = json.loads((tmp_path / "run" / "final.json").read_text())
    assert saved["recipe"]["init_from"] == "mobilenet_v1_100.mnist"
    assert saved["labels"][0] == "T-shirt/top"


@pytest.mark.slow  # a training run, then publish scores it on the test set
def test_publish_scores_a_run_and_writes_where_it_trained(
    capsys: pytest.CaptureFixture[str], mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub_cache import use_temp_registry

    from mobilenet_mnist.models.pretrained import read_registry_file

    weights_dir = use_temp_registry(monkeypatch, tmp_path)
    run_dir, config = tmp_path / "run", tmp_path / "short.json"
    config.write_text(json.dumps({"max_steps_per_epoch": 2, "val_size": 100}))
    code, _, _ = run(capsys, "train", "--preset", "fast", "--model", "mobilenet_v1_025", "--epochs", "1",
                     "--config", str(config), "--data-dir", str(mnist_dir), "--output", str(run_dir),
                     "--threads", "1")  # fmt: skip
    assert code == 0
    code, out, _ = run(capsys, "publish", str(run_dir), "--tag", "clitest", "--recipe", "mobilenet-mnist train x",
                       "--data-dir", str(mnist_dir), "--hub-root", str(tmp_path / "hub"), "--hardware", "a laptop")
    assert code == 0
    printed = json.loads(out.strip().splitlines()[-1])
    assert printed["name"] == "mobilenet_v1_025.clitest" and set(printed["test_accuracy"]) == {"24"}
    (entry,) = read_registry_file(weights_dir / "registry.json")
    assert entry.test_accuracy == {24: printed["test_accuracy"]["24"]}
    card = (tmp_path / "hub" / "mobilenet_v1_025.clitest" / "README.md").read_text()
    assert "(wall clock) on a laptop." in card and "mobilenet-mnist train x" in card


# ---------------------------------------------------------------- the first hour of a new user
def test_info_of_weights_is_a_readable_summary_and_json_is_the_raw_record(capsys: pytest.CaptureFixture[str]) -> None:
    from mobilenet_mnist.models.pretrained import get_pretrained_cfg

    cfg = get_pretrained_cfg("mobilenet_v1_100.mnist")
    code, out, _ = run(capsys, "info", cfg.name)
    assert code == 0 and out.startswith(f"{cfg.name}: ")
    source = "shipped inside the package" if cfg.shipped else "downloaded from the Hugging Face Hub"
    expected = [f"{accuracy:.2f} % at {side}px" for side, accuracy in cfg.test_accuracy.items()] + [
        f"α = {cfg.width_mult}", "1×32×32", f"{cfg.num_params:,}", f"{cfg.macs:,}", ", ".join(cfg.labels),
        f"license        {cfg.license}", cfg.hf_hub_id, cfg.sha256, source,
    ]  # fmt: skip
    assert cfg.test_accuracy and [text for text in expected if text not in out] == []
    code, out, _ = run(capsys, "info", cfg.name, "--json")
    assert code == 0 and json.loads(out) == json.loads(json.dumps(cfg.to_dict(), default=str))


def test_info_of_a_model_lists_its_weights_and_json_has_the_layers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "info", "mobilenet_v1_025")
    assert code == 0 and "α = 0.25" in out and "mobilenet_v1_025.mnist (" in out and "| **total** |" not in out
    code, out, _ = run(capsys, "info", "mobilenet_v1_025", "--layers")
    assert code == 0 and "| **total** |" in out
    code, out, _ = run(capsys, "info", "mobilenet_v1_025", "--json")
    info = json.loads(out)
    assert info["num_params"] == sum(p.numel() for p in mobilenet_v1(width_mult=0.25).parameters())
    assert info["macs"] == sum(layer["macs"] for layer in info["layers"])
    assert "mobilenet_v1_025.mnist" in info["pretrained"]


_MINIMAL_ARGV = {
    "train": [], "evaluate": ["NAME"], "predict": ["digit.png"], "list": [], "info": ["NAME"],
    "publish": ["RUN", "--tag", "t", "--recipe", "r"], "export": ["NAME"], "benchmark": [], "demo": [],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(_MINIMAL_ARGV))
def test_ctrl_c_ends_any_command_with_one_line_and_status_130(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mobilenet_mnist import cli

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.command_module(command), "run", interrupted)
    code, out, err = run(capsys, "--verbose", command, *_MINIMAL_ARGV[command])
    assert (code, out, err) == (130, "", f"mobilenet-mnist {command}: interrupted\n")


@pytest.mark.slow  # two evaluations of 1,200 test images
def test_evaluate_shows_progress_on_stderr_unless_no_progress(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, small_checkpoint: Path, mnist_dir: Path
) -> None:
    from mobilenet_mnist.data import datasets

    few = load_dataset("mnist", "test", mnist_dir).subset(torch.arange(1200))  # 3 batches of 500
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: few)
    code, out, err = run(capsys, "evaluate", str(small_checkpoint), "--resolution", "24")
    assert code == 0 and "(1200 images) at 24px" in out and "evaluating at 24px" in err and "batch" in err
    code, out, err = run(capsys, "evaluate", str(small_checkpoint), "--resolution", "24", "--no-progress")
    assert code == 0 and "(1200 images) at 24px" in out and "evaluating" not in err


def test_other_libraries_chatter_is_hidden_unless_verbose(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import sys
    import warnings

    from mobilenet_mnist import cli

    def chatty(args: object) -> int:
        warnings.warn("a library's deprecation", FutureWarning, stacklevel=1)
        # This package's own RuntimeWarnings (e.g. slow bf16 kernels) are meant for the user.
        exec("warnings.warn('our advice', RuntimeWarning)", {"warnings": warnings, "__name__": "mobilenet_mnist.x"})
        logging.getLogger("urllib3.connectionpool").info("a library's note")
        logging.getLogger("mobilenet_mnist.data").info("our note")
        return 0

    monkeypatch.setattr(cli.command_module("list"), "run", chatty)
    monkeypatch.setattr(sys, "warnoptions", [])
    level_before = logging.getLogger("urllib3").level
    for verbose in (False, True):
        caplog.clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert run(capsys, *(["--verbose"] if verbose else []), "list")[0] == 0
        logged = [record.getMessage() for record in caplog.records]
        warned = [str(warning.message) for warning in caught]
        assert "our note" in logged and "our advice" in warned
        assert ("a library's note" in logged, "a library's deprecation" in warned) == (verbose, verbose)
    assert logging.getLogger("urllib3").level == level_before


def test_every_command_has_a_module_with_add_parser_and_run() -> None:
    from mobilenet_mnist import cli

    parser_commands = set(cli.build_parser()._subparsers._group_actions[0].choices)
    assert parser_commands == set(cli.COMMANDS) == set(_MINIMAL_ARGV)
    for command in cli.COMMANDS:
        module = cli.command_module(command)
        assert callable(module.add_parser) and callable(module.run), command
    with pytest.raises(KeyError, match="No command 'lst'; the commands are train, evaluate"):
        cli.command_module("lst")
