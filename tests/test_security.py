"""Weight supply chain and fault tolerance: nothing unpickles, failed saves lose nothing."""

from __future__ import annotations

import ast
import errno
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import mobilenet_mnist
from mobilenet_mnist import create_model, from_pretrained, mobilenet_v1, save_pretrained
from mobilenet_mnist.hub import WeightsUnavailableError, load_pretrained
from mobilenet_mnist.models import get_pretrained_cfg, list_pretrained
from mobilenet_mnist.training.loop import _atomic_torch_save
from mobilenet_mnist.utils.files import atomic_write_bytes, sha256_file

PACKAGE = Path(mobilenet_mnist.__file__).parent


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _call_name(call: ast.Call) -> str:
    return ast.unparse(call.func)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_code_path_unpickles(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    modules = {alias.name for n in imports for alias in n.names} | {getattr(n, "module", "") or "" for n in imports}
    assert not {"pickle", "cPickle", "dill", "joblib"} & modules, f"{path} imports a pickle module"
    for call in _calls(tree):
        name = _call_name(call)
        if name.endswith("torch.load") or (name == "load" and "torch" in ast.unparse(call)):
            safe = [kw for kw in call.keywords if kw.arg == "weights_only"]
            assert safe and ast.unparse(safe[0].value) == "True", (
                f"{path}:{call.lineno} torch.load without weights_only=True"
            )
        assert not name.endswith(("pickle.load", "pickle.loads")), f"{path}:{call.lineno} unpickles"


def test_scan_detects_an_unsafe_call(tmp_path: Path) -> None:
    # The scan above must fail on the pattern it looks for.
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\ntorch.load('x.pt')\n")
    with pytest.raises(AssertionError, match="without weights_only=True"):
        test_no_code_path_unpickles(bad)


def test_failed_save_keeps_the_previous_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = mobilenet_v1(width_mult=0.25)
    save_pretrained(model, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_pretrained(mobilenet_v1(width_mult=0.25), tmp_path)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # intact, no temp files


def test_read_only_folder_is_refused_and_the_old_file_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x.bin"
    atomic_write_bytes(target, b"old")

    def read_only(*args: object, **kwargs: object) -> None:  # what mkstemp meets in a read-only folder
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path))

    monkeypatch.setattr("tempfile.mkstemp", read_only)
    with pytest.raises(PermissionError):
        atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_interrupted_checkpoint_save_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "last.ckpt"
    _atomic_torch_save({"epoch": 1}, path)

    def interrupted(obj: object, f: object) -> None:
        Path(f).write_bytes(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _atomic_torch_save({"epoch": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_a_flipped_bit_in_a_saved_folder_is_refused(tmp_path: Path) -> None:
    folder = save_pretrained(mobilenet_v1(width_mult=0.25), tmp_path / "model")
    weights = folder / "model.safetensors"
    expected = sha256_file(weights)
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0x01  # one bit of one weight: the size and the safetensors layout stay valid
    weights.write_bytes(bytes(data))
    found = sha256_file(weights)
    pattern = rf"sha256 mismatch for {weights}: expected {expected}, found {found}\..*it was not loaded"
    for load in (
        lambda: from_pretrained(folder),
        lambda: from_pretrained(weights),
        lambda: load_pretrained(mobilenet_v1(width_mult=0.25), folder),
    ):
        with pytest.raises(ValueError, match=pattern):
            load()
    assert weights.read_bytes() == bytes(data)  # a user's file is refused, never deleted


@pytest.fixture
def refusing_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """HF_ENDPOINT on a 127.0.0.1 port that refuses connections, an empty cache, not offline."""
    from huggingface_hub import constants

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound but never listening: every connection is refused
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
        cache = tmp_path / "hf-cache"
        for name, value in (("HF_ENDPOINT", endpoint), ("HF_HUB_CACHE", str(cache))):
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        yield cache


def test_without_a_network_loading_fails_fast_and_says_what_works_offline(refusing_hub: Path) -> None:
    remote = next(name for name in list_pretrained() if not get_pretrained_cfg(name).shipped)
    for load in (lambda: create_model(remote, pretrained=True), lambda: from_pretrained("someone/mnist-digits")):
        start = time.monotonic()
        with pytest.raises(WeightsUnavailableError) as info:
            load()
        assert time.monotonic() - start < 5  # huggingface_hub alone retries for ~24 s
        message = str(info.value)
        assert "did not answer" in message and "127.0.0.1" in message
        assert "save_pretrained() or downloaded earlier" in message and "pretrained='DIR'" in message
        assert "HF_HUB_OFFLINE=1 with a warm cache" in message and str(refusing_hub) in message
        assert "mobilenet_v1_100.mnist" in message  # the shipped default works offline
