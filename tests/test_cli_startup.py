"""The command starts fast: ``import mobilenet_mnist``, ``--help`` and ``--version`` load no torch.

Each check runs in a fresh interpreter (this test process has torch loaded already) and
reads ``sys.modules`` there. Timings are measured by hand, never asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mobilenet_mnist import __version__

REPO_ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "numpy", "huggingface_hub", "onnx", "onnxscript", "onnxruntime", "safetensors")
OPTIONAL = ("torchvision", "huggingface_hub", "onnx", "onnxscript", "onnxruntime", "timm")

# Runs main(ARGV) (if any) in a fresh interpreter; prints the heavy top-level modules it loaded.
_PROBE = """
import contextlib, io, json, sys
import mobilenet_mnist
from mobilenet_mnist.cli import main
argv = json.loads(sys.argv[1])
if argv is not None:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit:
            pass
loaded = sorted({name.partition(".")[0] for name in sys.modules} & set(json.loads(sys.argv[2])))
print(json.dumps(loaded))
"""


def python(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` from the repository root, with this checkout first on the path."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=REPO_ROOT,
                          timeout=300)


def modules_loaded_by(argv: list[str] | None, watched: tuple[str, ...]) -> list[str]:
    """The ``watched`` top-level modules that importing the package and running ``argv`` loads."""
    proc = python("-c", _PROBE, json.dumps(argv), json.dumps(watched))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argv",
    [None, ["--help"], ["--version"], [], ["info", "--help"], ["benchmark", "--help"], ["train", "--help"]],
    ids=["import", "--help", "--version", "no-arguments", "info --help", "benchmark --help", "train --help"],
)
def test_import_help_and_version_load_no_torch(argv: list[str] | None) -> None:
    assert modules_loaded_by(argv, HEAVY) == []


@pytest.mark.parametrize("argv", [["list", "--pretrained"], ["info", "mobilenet_v1_100.mnist"],
                                  ["info", "mobilenet_v1_050"]])
def test_list_and_info_load_no_optional_libraries(argv: list[str]) -> None:
    assert modules_loaded_by(argv, OPTIONAL) == []


def test_version_prints_the_package_version() -> None:
    proc = python("-m", "mobilenet_mnist", "--version")
    assert proc.returncode == 0 and proc.stdout == f"mobilenet-mnist {__version__}\n"


def test_python_m_runs_the_command() -> None:
    proc = python("-m", "mobilenet_mnist", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: mobilenet-mnist ")
    for command in ("train", "evaluate", "predict", "list", "info", "publish", "export", "benchmark"):
        assert f"\n    {command} " in proc.stdout, command
    proc = python("-m", "mobilenet_mnist", "info", "mobilenet_v1_10")
    assert proc.returncode == 2 and "Did you mean 'mobilenet_v1_100'" in proc.stderr


def test_no_arguments_prints_the_help_and_fails() -> None:
    proc = python("-m", "mobilenet_mnist")
    assert proc.returncode == 2 and "first steps:" in proc.stderr and proc.stdout == ""
