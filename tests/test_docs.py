"""The documentation's executable parts: docstring examples, page examples, generators, links.

The Sphinx build itself runs in ``.ci/run``; these tests cover what can be checked
quickly: every ``>>>`` example in the package and in ``docs/*.rst`` runs, the API
reference covers every public name, the generated tables say what the data says, and
the link checker finds broken links.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import sys
from pathlib import Path

import pytest

import mobilenet_mnist

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS_DIR = REPO_ROOT / "docs"
sys.path.insert(0, str(DOCS_DIR / "_ext"))
sys.path.insert(0, str(DOCS_DIR))
# The docs extensions import Sphinx: without the docs extra these tests cannot run.
pytest.importorskip("sphinx", reason='needs the docs extra: pip install -e ".[docs]"')

from check_links import check_site  # noqa: E402  (docs/ is not a package)
from mnist_docs import api, audit, errors, evaluation, figures_digits, layout, pareto, recipe, zoo  # noqa: E402

DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _package_doctests() -> list[doctest.DocTest]:
    """Every docstring with examples in every module of the package."""
    finder = doctest.DocTestFinder()
    tests = []
    for info in pkgutil.walk_packages(mobilenet_mnist.__path__, prefix="mobilenet_mnist."):
        if info.name.endswith("__main__"):  # running it is the CLI
            continue
        module = importlib.import_module(info.name)
        tests += [test for test in finder.find(module) if test.examples]
    return tests


PACKAGE_DOCTESTS = _package_doctests()
PAGES_WITH_EXAMPLES = sorted(p.name for p in DOCS_DIR.glob("*.rst") if ">>> " in p.read_text())


@pytest.mark.parametrize("test", PACKAGE_DOCTESTS, ids=lambda t: t.name)
def test_docstring_examples(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{test.name}: {result.failed} of {result.attempted} examples failed"


def test_package_has_docstring_examples() -> None:
    names = {test.name for test in PACKAGE_DOCTESTS}
    assert "mobilenet_mnist.models.factory.mobilenet_v1" in names


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES)
def test_page_examples(page: str) -> None:
    result = doctest.testfile(str(DOCS_DIR / page), module_relative=False, optionflags=DOCTEST_FLAGS,
                              verbose=False, report=True)
    assert result.attempted > 0
    assert result.failed == 0, f"docs/{page}: {result.failed} of {result.attempted} examples failed"


def _api_pages() -> dict[str, str]:
    grouped = api.group_public_names(mobilenet_mnist)
    homes = api.documented_elsewhere(mobilenet_mnist)
    return {topic.slug: api.render_topic(mobilenet_mnist, topic, modules, homes) for topic, modules in grouped.items()}


def _documented(pages: dict[str, str]) -> list[str]:
    """Every object description the pages hold (autodoc and py:data directives), by path."""
    autodoc = [path for text in pages.values()
               for path in re.findall(r"^\.\. auto(?:class|exception|function):: (\S+)$", text, re.M)]
    data = [f"{owner}.{name}" for text in pages.values()
            for name, owner in re.findall(r"^\.\. py:data:: (\S+)\n   :module: (\S+)$", text, re.M)]
    return autodoc + data


def test_api_reference_lists_every_public_name_once() -> None:
    grouped = api.group_public_names(mobilenet_mnist)
    listed = [name for modules in grouped.values() for names in modules.values() for name in names]
    assert sorted(listed) == sorted(set(mobilenet_mnist.__all__))
    documented = _documented(_api_pages())
    twice = sorted({path for path in documented if documented.count(path) > 1})
    assert not twice, f"documented more than once: {twice}"
    for name in mobilenet_mnist.__all__:
        assert f"mobilenet_mnist.{name}" in documented, name
    subs = {sub: importlib.import_module(sub) for sub in api.subpackages(mobilenet_mnist)}
    for sub, mod in subs.items():
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            # at the top level, under this subpackage, or under another that exports the same object
            paths = [f"mobilenet_mnist.{name}"] if name in mobilenet_mnist.__all__ else []
            paths += [f"{other}.{name}" for other, om in subs.items() if getattr(om, name, None) is obj]
            assert any(path in documented for path in paths), f"{sub}.{name} is not documented"


def test_each_object_is_documented_at_one_path() -> None:
    """A class or function public at the top level is not documented again under a subpackage."""
    objects: dict[int, list[str]] = {}
    for path in _documented(_api_pages()):
        module, _, name = path.rpartition(".")
        obj = getattr(importlib.import_module(module), name)
        if callable(obj):
            objects.setdefault(id(obj), []).append(path)
    assert [paths for paths in objects.values() if len(paths) > 1] == []


def test_subpackage_sections_list_their_public_names() -> None:
    text = api.public_names_table(mobilenet_mnist, "mobilenet_mnist.models")
    assert ":py:obj:`~mobilenet_mnist.models.ModelCost`" in text
    assert ":py:obj:`~mobilenet_mnist.mobilenet_v1` (also top level)" in text


def test_api_topics_follow_defining_modules() -> None:
    grouped = api.group_public_names(mobilenet_mnist)
    by_name = {name: topic.slug for topic, modules in grouped.items() for names in modules.values() for name in names}
    assert by_name["mobilenet_v1"] == "models"
    assert by_name["register_arch"] == "architectures"
    assert by_name["profile_model"] == "costs"
    assert api.topic_of("mobilenet_mnist.not_a_module").slug == "other"


def test_data_without_doc_comment_is_refused() -> None:
    with pytest.raises(ValueError, match=r"no documentation.*'#:' comment"):
        api._data_doc(
            "mobilenet_mnist.models.archs", "_ARCH_REGISTRY", {}, "mobilenet_mnist._ARCH_REGISTRY", strict=True
        )


def _cfg(name: str, width: float, accuracy: dict[int, float], **extra: object) -> object:
    from mobilenet_mnist.models import PretrainedCfg

    architecture, tag = name.split(".")
    values = dict(
        architecture=architecture, tag=tag, hf_hub_id="org/repo", hf_hub_revision="v1",
        sha256="ab" * 32, file_size=3 * 2**20, dataset="mnist", num_classes=10,
        labels=tuple("0123456789"), input_size=(1, 32, 32), mean=(0.1307,), std=(0.3081,),
        width_mult=width, metrics={"test_accuracy": accuracy}, num_params=1_000_000, macs=20_000_000,
    )
    values.update(extra)
    return PretrainedCfg(**values)


def test_zoo_tables_show_registered_numbers() -> None:
    cfgs = [
        _cfg("mobilenet_v1_025.mnist", 0.25, {32: 99.51, 24: 99.4}),
        _cfg("mobilenet_v1_100.mnist", 1.0, {32: 99.76, 28: 99.7}, shipped=True),
    ]
    text = zoo.render_zoo(cfgs)
    header = text[: text.index("mobilenet_v1_100.mnist")]
    assert header.index("- 32 px") < header.index("- 28 px") < header.index("- 24 px")
    assert text.index("mobilenet_v1_100.mnist") < text.index("mobilenet_v1_025.mnist")  # widest first
    assert "99.76" in text and "99.51" in text and "—" in text  # α=1.0 was not scored at 24 px
    assert "3.0 MiB" in text and "shipped" in text and "1.00 M" in text


def test_zoo_speed_columns_come_from_the_benchmark_file(tmp_path: Path) -> None:
    import json

    rows = [{"width": 1.0, "way": "fast", "status": "ok", "infer_images_per_s": 1234.4,
             "latency_ms_median": 1.234},
            {"width": 1.0, "way": "naive", "status": "ok", "infer_images_per_s": 400.0,
             "latency_ms_median": 4.0}]
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps({"rows": rows, "machine": {"cpu": "Test CPU"}, "config": {"batch_size": 256}}))
    speed = zoo.load_speed(path)
    assert set(speed) == {1.0} and speed[1.0]["way"] == "fast"
    text = zoo.accuracy_table([_cfg("mobilenet_v1_100.mnist", 1.0, {32: 99.7}),
                               _cfg("mobilenet_v1_025.mnist", 0.25, {32: 99.5})], speed)
    assert "CPU img/s" in text and "1,234" in text and "1.23" in text and "—" in text
    assert "Test CPU" in zoo.speed_note(path) and "batch 256" in zoo.speed_note(path)
    assert zoo.load_speed(tmp_path / "missing.json") is None


def test_zoo_without_checkpoints_says_so() -> None:
    assert zoo.NO_CHECKPOINTS in zoo.render_zoo([])
    assert "no weight registry" in zoo.render_zoo(None)


def test_pareto_front_keeps_only_undominated_points() -> None:
    points = [(10.0, 99.0, "a", 0.25), (20.0, 98.5, "b", 0.5), (30.0, 99.5, "c", 1.0),
              (30.0, 99.2, "d", 1.0), (5.0, 97.0, "e", 0.25)]
    assert pareto.pareto_front(points) == [(5.0, 97.0), (10.0, 99.0), (30.0, 99.5)]


def test_pareto_points_measure_cost_at_each_side() -> None:
    from mobilenet_mnist import mobilenet_v1, profile_model

    pts = pareto.points([_cfg("mobilenet_v1_025.mnist", 0.25, {32: 99.5, 24: 99.4})])
    model = mobilenet_v1(width_mult=0.25)
    assert sorted(p[0] for p in pts) == sorted(
        float(profile_model(model, input_size=side).macs) for side in (24, 32))


def test_reliability_bins_match_a_hand_example_and_the_library_ece() -> None:
    import numpy as np
    import torch

    from mobilenet_mnist.training.calibration import expected_calibration_error

    # 10 classes, 5 bins; top-1 (class, confidence): (0, 0.9) right, (0, 0.9) wrong,
    # (1, 0.6) right, (0, 0.19) right: bins 4, 4, 2 and 0
    probs = np.zeros((4, 10))
    for row, (top, conf) in enumerate([(0, 0.9), (0, 0.9), (1, 0.6), (0, 0.19)]):
        probs[row] = (1 - conf) / 9
        probs[row, top] = conf
    labels = np.array([0, 1, 1, 0])
    count, accuracy, confidence = figures_digits.reliability_bins(probs, labels, n_bins=5)
    assert count.tolist() == [1, 0, 1, 0, 2]
    assert accuracy[0] == 1.0 and accuracy[2] == 1.0 and accuracy[4] == 0.5 and np.isnan(accuracy[1])
    assert confidence[4] == pytest.approx(0.9) and confidence[2] == pytest.approx(0.6)
    ece = figures_digits.ece_from_bins(count, accuracy, confidence)
    assert ece == pytest.approx((0.81 + 0.4 + 2 * 0.4) / 4)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(300, 10)) * 3
    labels = rng.integers(0, 10, 300)
    probs = evaluation.softmax(logits)
    ours = figures_digits.ece_from_bins(*figures_digits.reliability_bins(probs, labels, 15))
    assert ours == pytest.approx(expected_calibration_error(torch.from_numpy(probs), torch.from_numpy(labels), 15))


def test_checkpoint_cache_keys_follow_weights_and_settings(tmp_path: Path) -> None:
    import torch

    model = torch.nn.Linear(2, 2)
    model.pretrained_cfg = {"sha256": None}  # no registry hash: the weights are hashed
    before = evaluation._cache_key(model, tmp_path)
    with torch.no_grad():
        model.weight.add_(1.0)
    assert evaluation._cache_key(model, tmp_path) != before
    settings = {"rotate": (0.0, 15.0)}
    key = figures_digits.curve_cache_key(model, tmp_path, settings, b"code")
    assert key == figures_digits.curve_cache_key(model, tmp_path, settings, b"code")
    assert key != figures_digits.curve_cache_key(model, tmp_path, {"rotate": (0.0, 30.0)}, b"code")
    assert key != figures_digits.curve_cache_key(model, tmp_path, settings, b"changed code")


def test_corrupted_inputs_share_the_clean_subset() -> None:
    cfg = {"input_size": (1, 32, 32), "mean": (0.1307,), "std": (0.3081,)}
    key = figures_digits.CorruptedInputs.key
    assert key("rotate", 0, "preprocess", cfg) == key("noise", 0.0, "preprocess", cfg)
    assert key("rotate", 15, "preprocess", cfg) != key("rotate", 15, "prepare_digits", cfg)
    assert key("rotate", 15, "preprocess", cfg) != key("shift", 15, "preprocess", cfg)


def test_checkpoint_figures_are_written(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 40)
    logits = rng.normal(size=(40, 10)) * 4
    mistakes = figures_digits.mistake_indices(labels, logits, count=5)
    assert len(mistakes) == 5 and all(logits[i].argmax() != labels[i] for i in mistakes)
    assert mistakes == sorted(mistakes)
    evaluation.draw_grid(images, labels, evaluation.softmax(logits), tmp_path / "grid.png",
                         indices=mistakes, columns=4)
    figures_digits.draw_reliability([("a", logits, 0.5), ("b", logits * 2, 2.0)], labels,
                                    tmp_path / "reliability.png")
    settings = {"rotate": (0.0, 30.0), "noise": (0.0, 64.0)}
    curve = {path: {"rotate": [99.0, 90.0], "noise": [99.0, 50.0]} for path in figures_digits.PATHS}
    figures_digits.draw_curves({"α = 0.25": curve, "α = 1.0": curve}, settings, tmp_path / "curves.png")
    for name in ("grid.png", "reliability.png", "curves.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_inputs_give_a_note_or_fail_in_strict_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    reason = evaluation.FigureUnavailableError("no MNIST here")
    monkeypatch.delenv(evaluation.STRICT_ENV, raising=False)
    assert "no MNIST here" in figures_digits._unavailable(reason, "the figures")
    monkeypatch.setenv(evaluation.STRICT_ENV, "1")
    with pytest.raises(evaluation.FigureUnavailableError):
        figures_digits._unavailable(reason, "the figures")


def test_recipe_table_explains_every_training_field() -> None:
    import dataclasses

    train = importlib.import_module("mobilenet_mnist.training")  # the subpackage, not the function

    docs = recipe.attribute_docs(train.TrainConfig)
    fields = [f.name for f in dataclasses.fields(train.TrainConfig)]
    assert [f for f in fields if not docs.get(f)] == []
    table = recipe.render_recipe(train)
    assert all(f"``{name}``" in table for name in fields)


def test_error_page_shows_real_messages() -> None:
    text = errors.render_errors()
    assert ">>> create_model(\"mobilenet_v1_10\")" in text
    assert "KeyError: Unknown model 'mobilenet_v1_10'. Did you mean" in text
    with pytest.raises(RuntimeError, match="no longer raises"):
        errors.capture(lambda: None)


def _table_rows(text: str) -> list[list[str]]:
    """The body rows of every list-table in ``text`` (header rows dropped), as lists of cells."""
    rows: list[list[str]] = []
    for table in re.split(r"^\.\. list-table::", text, flags=re.M)[1:]:
        cells = re.findall(r"^   (\*| ) - (.*)$", table, re.M)
        body: list[list[str]] = []
        for marker, cell in cells:
            if marker == "*":
                body.append([])
            body[-1].append(cell)
        rows += body[1:]
    return rows


def test_robustness_page_has_a_row_for_every_audit_row() -> None:
    rows = audit.load_audit()
    text = audit.render_audit(rows.AUDIT, rows.CONVERSIONS)
    shown = _table_rows(text)
    expected = [audit.case_row(case) for case in rows.ALL_CASES if not case.pending]
    expected += [audit.conversion_row(conversion) for conversion in rows.CONVERSIONS]
    assert shown == expected
    assert len(shown) > 200
    for title in [*rows.AUDIT, audit.CONVERSIONS_TITLE]:
        assert f"\n{title}\n{'-' * len(title)}\n" in f"\n{text}"


def test_layout_tables_cover_every_module_and_find_imports(tmp_path: Path) -> None:
    text = layout.render_modules()
    for path in layout.PACKAGE_DIR.rglob("*.py"):
        assert f"``{path.relative_to(layout.PACKAGE_DIR).as_posix()}``" in text
    package = tmp_path / "mobilenet_mnist"
    for name, source in {"__init__.py": "", "models/__init__.py": "from ..utils.checks import x\n",
                         "models/a.py": "def f():\n    from ..hub import y\n", "hub/__init__.py": "",
                         "utils/__init__.py": "", "utils/checks.py": ""}.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(source)
    rows = {row[0]: row[1:] for row in layout.dependency_rows(package)}
    assert rows["``models``"] == ["``utils``", "``hub``", "``hub``"]  # eager, lazy, against the layer order


def test_models_never_imports_hub() -> None:
    found = {target for path in (layout.PACKAGE_DIR / "models").glob("*.py") for target, _ in layout.imports(path)}
    assert "hub" not in found


def _write(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body>{html}</body></html>", encoding="utf-8")


def test_link_checker_finds_broken_links_anchors_and_images(tmp_path: Path) -> None:
    _write(tmp_path / "index.html", '<h1 id="top">x</h1><a href="sub/page.html#there">ok</a>'
           '<a href="#top">self</a><a href="https://example.org/missing">external</a>'
           '<a href="missing.html">broken</a><img src="_images/empty.png">')
    _write(tmp_path / "sub" / "page.html", '<p id="there"></p><a href="../index.html#nowhere">bad anchor</a>'
           '<img src="../_images/pic.png">')
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "pic.png").write_bytes(b"\x89PNG")
    (tmp_path / "_images" / "empty.png").write_bytes(b"")
    problems, pages, checked = check_site(tmp_path)
    assert pages == 2 and checked == 6
    assert len(problems) == 3
    assert any("missing.html" in p and "no such file" in p for p in problems)
    assert any("no id 'nowhere'" in p for p in problems)
    assert any("empty image" in p for p in problems)
