"""Weight supply chain and fault tolerance: nothing unpickles, failed saves lose nothing."""

from __future__ import annotations

import ast
import errno
from pathlib import Path

import pytest
import torch

import mobilenet_mnist
from mobilenet_mnist import mobilenet_v1, save_pretrained
from mobilenet_mnist.training.loop import _atomic_torch_save
from mobilenet_mnist.utils.files import atomic_write_bytes

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
