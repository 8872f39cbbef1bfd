"""What ``pip install mobilenet-mnist`` installs works: the release check, end to end.

Builds the sdist and the wheel with ``python -m build`` (the wheel from the sdist, as PyPI
users and packagers get it), checks both with ``twine check --strict``, checks what the wheel
holds, installs the **wheel** (not an editable checkout) into a fresh virtual environment
with torch and torchvision, and then, from a temporary folder (the checkout is not
importable there), offline (``HF_HUB_OFFLINE=1``, an empty Hugging Face cache, a Hub
endpoint that refuses connections and, where ``unshare`` can, no network at all):

* ``examples/quickstart.py`` scores the 10,000 MNIST test digits with the default weights
  shipped inside the wheel, at the accuracy the registry records for them;
* ``mobilenet-mnist --version``, ``list`` and ``predict`` on PNG files of MNIST test digits.

Slow (a few minutes: torch is installed into the new environment from the package index).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import mobilenet_mnist
from mobilenet_mnist import list_models, load_dataset
from mobilenet_mnist.models.pretrained import get_pretrained_cfg

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The torch and torchvision .ci/run installs (this machine's package index holds them).
TORCH = ("torch==2.14.1", "torchvision==0.29.1")
#: Top-level folders of the repository that must never ship in the wheel or the sdist.
NOT_SHIPPED = ("tests", "docs", "benchmarks", "hub", "examples", "scripts")
#: Files the wheel must hold besides the modules.
PACKAGE_DATA = (
    "mobilenet_mnist/py.typed",
    "mobilenet_mnist/weights/registry.json",
    "mobilenet_mnist/weights/mobilenet_v1_100.mnist/model.safetensors",
)


def _run(command: list[str | Path], *, timeout: float, **kwargs: Any) -> str:
    """Run ``command``; its stdout, or a failure that shows what it printed."""
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=timeout, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"{command} exited {result.returncode}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without this checkout's virtual environment or import path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


def _offline_prefix() -> list[str]:
    """``unshare --net`` (a network namespace with no interfaces up) where it works, else nothing."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True).returncode == 0:
        return [unshare, "--net"]
    return []


def _build(dist: Path) -> tuple[Path, Path]:
    _run([sys.executable, "-m", "build", "--outdir", dist, REPO_ROOT], timeout=600)
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    assert len(wheels) == len(sdists) == 1, sorted(p.name for p in dist.iterdir())
    _run([sys.executable, "-m", "twine", "check", "--strict", wheels[0], sdists[0]], timeout=120)
    return wheels[0], sdists[0]


def _check_contents(wheel: Path, sdist: Path) -> None:
    version = mobilenet_mnist.__version__
    assert wheel.name == f"mobilenet_mnist-{version}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    outside = [n for n in names if not n.startswith(("mobilenet_mnist/", f"mobilenet_mnist-{version}.dist-info/"))]
    assert not outside, f"the wheel holds files outside the package: {outside}"
    assert not [n for n in names if n.split("/")[0] in NOT_SHIPPED or "/tests/" in n]
    assert set(PACKAGE_DATA) <= set(names) and "mobilenet_mnist/cli/__main__.py" in names
    with tarfile.open(sdist) as archive:
        top = {Path(n).parts[1] for n in archive.getnames() if len(Path(n).parts) > 1}
    assert not top & set(NOT_SHIPPED), f"the sdist holds {sorted(top & set(NOT_SHIPPED))}"
    assert {"mobilenet_mnist", "pyproject.toml", "README.md", "LICENSE"} <= top


def _install(venv: Path, wheel: Path) -> Path:
    _run([sys.executable, "-m", "venv", venv], timeout=300)
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "-q", *TORCH], timeout=1800, env=_clean_env())
    _run([python, "-m", "pip", "install", "-q", wheel], timeout=900, env=_clean_env())
    return python


def _digit_pngs(folder: Path, mnist_dir: Path) -> dict[Path, int]:
    """Three MNIST test digits as PNG files: as MNIST stores them, and two as dark ink on paper, larger."""
    test = load_dataset("mnist", "test", root=mnist_dir)
    files = {}
    for index in range(3):
        image = test.images[index].numpy()
        if index:
            image = np.kron(255 - image, np.ones((4, 4), np.uint8))  # 112 px, dark on light
        path = folder / f"digit_{index}.png"
        Image.fromarray(image).save(path)
        files[path] = int(test.labels[index])
    return files


@pytest.fixture
def venv(tmp_path: Path) -> Iterator[Path]:
    """Where the fresh virtual environment goes; removed afterwards (torch makes it several GB)."""
    yield tmp_path / "venv"
    shutil.rmtree(tmp_path / "venv", ignore_errors=True)


@pytest.mark.slow
def test_the_wheel_installs_and_works_offline(tmp_path: Path, venv: Path, mnist_dir: Path) -> None:
    wheel, sdist = _build(tmp_path / "dist")
    _check_contents(wheel, sdist)
    python = _install(venv, wheel)
    work = tmp_path / "work"
    work.mkdir()
    env = _clean_env(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf-home"), HF_ENDPOINT="http://127.0.0.1:9")
    offline = _offline_prefix()
    run = {"cwd": work, "env": env, "timeout": 900}

    where = _run([*offline, python, "-c", "import mobilenet_mnist; print(mobilenet_mnist.__file__)"], **run)
    assert Path(where.strip()).is_relative_to(venv), where  # the installed wheel, not the checkout

    out = _run([*offline, python, REPO_ROOT / "examples" / "quickstart.py", "--data-dir", mnist_dir], **run)
    accuracy = re.search(r"accuracy on 10000 test digits: ([\d.]+) %", out)
    assert accuracy, out
    assert float(accuracy[1]) == get_pretrained_cfg("mobilenet_v1_100.mnist").test_accuracy[32]

    cli = venv / "bin" / "mobilenet-mnist"
    assert _run([*offline, cli, "--version"], **run).strip() == f"mobilenet-mnist {mobilenet_mnist.__version__}"
    assert _run([*offline, cli, "list"], **run).split() == list_models()
    pngs = _digit_pngs(work, mnist_dir)
    out = _run([*offline, cli, "predict", *(path.name for path in pngs)], **run)
    predicted = dict(re.findall(r"^(\S+\.png): (\d) \(", out, flags=re.MULTILINE))
    assert predicted == {path.name: str(label) for path, label in pngs.items()}, out
