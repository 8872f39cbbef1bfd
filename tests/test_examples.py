"""The scripts in examples/ run, in their short mode, and print what they compute.

Each example runs in a subprocess, as a user would run it. Until published weights are
part of every install, they are pointed (``--weights``) at a checkpoint folder that
``save_pretrained`` writes from a model with random but input-dependent weights; the
tests then recompute the example's numbers through the library and compare.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from random_weights import randomize

from mobilenet_mnist.data.datasets import load_dataset
from mobilenet_mnist.data.transforms import create_transform
from mobilenet_mnist.hub import from_pretrained, save_pretrained
from mobilenet_mnist.models.factory import mobilenet_v1
from mobilenet_mnist.training.evaluation import evaluate

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = REPO_ROOT / "examples"
EXAMPLES = sorted(path.name for path in EXAMPLES_DIR.glob("*.py"))


def run_example(name: str, *args: str, cwd: Path | None = None, timeout: int = 900) -> str:
    """Run ``examples/<name> --quick ARGS`` in a fresh interpreter; return its stdout."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES_DIR / name), "--quick", *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd or REPO_ROOT,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved α = 0.25 checkpoint whose logits depend on the input (see random_weights)."""
    torch.manual_seed(0)
    model = randomize(mobilenet_v1(width_mult=0.25))
    return save_pretrained(model, tmp_path_factory.mktemp("ckpt") / "model")


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in:\n{text}"
    return float(match.group(1))


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_has_docstring_and_quick_mode(name: str) -> None:
    source = (EXAMPLES_DIR / name).read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source))
    assert docstring and "Run::" in docstring, f"{name}: the docstring must say what it shows and how to run it"
    assert "--quick" in source, f"{name} must accept --quick"


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_is_run_by_a_test(name: str) -> None:
    tests = "".join(path.read_text(encoding="utf-8") for path in (REPO_ROOT / "tests").glob("test_*.py"))
    assert f'run_example("{name}"' in tests, f"no test runs examples/{name} (use run_example)"


def test_quickstart(checkpoint: Path, mnist_dir: Path) -> None:
    out = run_example("quickstart.py", "--weights", str(checkpoint), "--data-dir", str(mnist_dir))
    model = from_pretrained(checkpoint).eval()
    test = load_dataset("mnist", "test", root=mnist_dir)
    with torch.inference_mode():
        logits = model(create_transform(model.pretrained_cfg)(test.images[:256]))
    predictions = logits.argmax(dim=1)
    expected = 100.0 * (predictions == test.labels[:256]).float().mean().item()
    assert _number(r"accuracy on 256 test digits: ([\d.]+) %", out) == pytest.approx(expected, abs=0.006)
    printed = re.search(r"first 10 predictions: (\[.*\])", out)
    assert printed and json.loads(printed.group(1)) == predictions[:10].tolist()
    assert "α = 0.25, input 32×32" in out


def test_predict_image_inverts_light_backgrounds(checkpoint: Path, mnist_dir: Path, tmp_path: Path) -> None:
    digits = load_dataset("mnist", "test", root=mnist_dir).images[:3]
    paths = []
    for index, digit in enumerate(digits):
        Image.fromarray(digit.numpy()).save(tmp_path / f"digit{index}.png")
        Image.fromarray(255 - digit.numpy()).convert("RGB").save(tmp_path / f"paper{index}.png")
        paths += [tmp_path / f"digit{index}.png", tmp_path / f"paper{index}.png"]
    out = run_example("predict_image.py", *map(str, paths), "--weights", str(checkpoint), "--top-k", "2")
    lines = dict(line.split(": ", 1) for line in out.strip().splitlines())
    model = from_pretrained(checkpoint).eval()
    with torch.inference_mode():
        expected = model(create_transform(model.pretrained_cfg)(digits)).argmax(dim=1)
    for index in range(3):
        digit_line, paper_line = lines[str(tmp_path / f"digit{index}.png")], lines[str(tmp_path / f"paper{index}.png")]
        assert digit_line == paper_line  # the inverted RGB copy gives the same answer
        assert digit_line.startswith(f"{int(expected[index])} (")
        assert len(re.findall(r"\d \(\d+\.\d%\)", digit_line)) == 2


@pytest.mark.slow
def test_train_from_scratch(mnist_dir: Path, tmp_path: Path) -> None:
    out = run_example("train_from_scratch.py", "--data-dir", str(mnist_dir), "--output", str(tmp_path / "run"))
    side = int(_number(r"test accuracy at (\d+) px", out))
    printed = _number(r"test accuracy at \d+ px on 1000 images: ([\d.]+) %", out)
    folder = tmp_path / "run" / "model"
    for name in ("model.safetensors", "config.json", "README.md"):
        assert (folder / name).is_file()
    assert (tmp_path / "run" / "metrics.jsonl").is_file()
    test = load_dataset("mnist", "test", root=mnist_dir).subset(torch.arange(1000))
    reloaded = evaluate(from_pretrained(folder), test, side).accuracy
    assert reloaded == pytest.approx(printed, abs=0.006)
    config = json.loads((folder / "config.json").read_text())
    assert config["pretrained_cfg"]["metrics"]["test_accuracy"][str(side)] == pytest.approx(printed, abs=0.006)


@pytest.mark.slow
def test_export_model(checkpoint: Path, tmp_path: Path) -> None:
    out = run_example("export_model.py", "--weights", str(checkpoint), "--output", str(tmp_path))
    pattern = r"^([\w-]+): .* = ([\d.e+-]+) on 4 images \(largest \|logit\| ([\d.]+)\)"
    found = {fmt: (float(diff), float(scale)) for fmt, diff, scale in re.findall(pattern, out, re.M)}
    assert set(found) == {"onnx", "exported-program"}
    # fp32 parity relative to the logits' size (folding BatchNorm changes the rounding)
    assert all(diff <= 1e-4 * max(1.0, scale) for diff, scale in found.values()), found
    assert "onnx metadata: input_size=[1, 32, 32] mean=[0.1307] std=[0.3081]" in out
    # The ONNX file also agrees with PyTorch on inputs the example never saw.
    import onnxruntime  # the onnx extra, installed by .ci/run

    model = from_pretrained(checkpoint).eval()
    x = torch.randn(7, 1, 32, 32)
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = model(x)
    got = torch.from_numpy(session.run(["logits"], {"input": x.numpy()})[0])
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
    assert expected.std() > 0.1  # the logits carry signal, so the comparison means something
