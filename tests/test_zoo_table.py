"""benchmarks/zoo_table.py: one row per published MNIST checkpoint and input size."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from mobilenet_mnist import create_model, list_pretrained, profile_model
from mobilenet_mnist.models import get_pretrained_cfg

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("zoo_table", REPO_ROOT / "benchmarks" / "zoo_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_quick_zoo_table_matches_the_registry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zoo_table = load_script()
    assert zoo_table.main(["--quick", "--batch", "8", "--output-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "zoo_table_quick.json").read_text())
    names = list_pretrained("*.mnist")
    assert len(result["rows"]) == len(names) * len(zoo_table.SIZES)
    assert [r["width_mult"] for r in result["rows"]] == sorted((r["width_mult"] for r in result["rows"]), reverse=True)
    for row in result["rows"]:
        cfg = get_pretrained_cfg(row["weights"])
        cost = profile_model(create_model(cfg.model_name), input_size=row["input_size"])
        assert (row["params"], row["macs"]) == (cost.params, cost.macs)
        assert row["test_accuracy"] == cfg.test_accuracy[row["input_size"]]
        assert row["images_per_s"] > 0 and row["latency_ms"] > 0
    markdown = (tmp_path / "zoo_table_quick.md").read_text()
    assert capsys.readouterr().out.strip() == markdown.strip()
    assert "| `mobilenet_v1_100.mnist` | 1 | 32 px | " in markdown
