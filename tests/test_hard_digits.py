"""The hard digit set of ``benchmarks/hard_digits.py`` and its benchmark ``benchmarks/hard_set.py``.

The generator: deterministic per seed, labels of the MNIST digits drawn, dev/test splits
disjoint and clear of the first 2,000 test images, uint8 gray or RGB crops of 48–200 px,
and each setting's defining feature measured on its images (form boxes and table lines
are long straight dark lines, erased writing is a faint component, and so on). The
benchmark (slow): a --quick run writes a JSON record of the right shape.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import ndimage

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # benchmarks/ lives in the repository, not in the package

from benchmarks.hard_digits import (  # noqa: E402
    SETTINGS,
    SPLITS,
    _mnist_test,
    hard_digits,
    hard_from_digits,
    sample_indices,
    strokes,
)

PER_SETTING = 3


@pytest.fixture(scope="module")
def hard_set(mnist_dir: Path) -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    return hard_digits(mnist_dir, "dev", per_setting=PER_SETTING, seed=3)


# ----------------------------------------------------------------------------- measures
def gray(image: np.ndarray) -> np.ndarray:
    """Float luma in 0–255."""
    return image @ np.array([0.299, 0.587, 0.114]) if image.ndim == 3 else image.astype(np.float64)


def darkness(image: np.ndarray) -> np.ndarray:
    """How much darker than the paper each pixel is, as a fraction of the ink's contrast (0 paper, 1 ink)."""
    g = ndimage.gaussian_filter(gray(image), 0.7)  # JPEG and sensor noise off; one-pixel lines stay
    paper, ink = np.percentile(g, 60), np.percentile(g, 0.5)
    return np.clip((paper - g) / max(paper - ink, 1.0), 0, 1)


def line_cover(image: np.ndarray, level: float = 0.15) -> tuple[float, float]:
    """The largest share of a row, and of a column, covered by pixels at least ``level`` dark.

    Lines may slope by up to 3° (the image is turned by -3° to 3°, one degree at a time,
    and a pixel's neighbours across the line count with it).
    """
    dark = (darkness(image) >= level).astype(np.uint8)
    rows = cols = 0.0
    for angle in range(-3, 4):
        turned = ndimage.rotate(dark, angle, order=0, reshape=False) if angle else dark
        rows = max(rows, ndimage.maximum_filter1d(turned, 3, axis=0).mean(1).max())
        cols = max(cols, ndimage.maximum_filter1d(turned, 3, axis=1).mean(0).max())
    return float(rows), float(cols)


def line_count(image: np.ndarray, axis: int, lift: float = 5) -> int:
    """Light lines along rows (axis 0) or columns (axis 1): runs of rows whose median is ``lift`` levels
    darker than that of the rows around them (a gradient in the lighting is no line)."""
    g = ndimage.minimum_filter1d(gray(image), 3, axis=axis)
    profile = np.median(g, axis=1 - axis)
    local = ndimage.median_filter(profile, 9, mode="nearest")
    return int(np.sum(np.diff((profile <= local - lift).astype(int)) == 1))


def faint_share(image: np.ndarray) -> float:
    """The share of pixels that are faintly dark (5–40 % of the ink's contrast), edges of strokes excluded."""
    d = darkness(image)
    near_ink = ndimage.maximum_filter(d >= 0.5, 7)
    return float(np.mean((d >= 0.05) & (d <= 0.4) & ~near_ink))


# ----------------------------------------------------------------------------- the set
def test_deterministic_for_a_seed_and_prefix_stable(mnist_dir: Path, hard_set) -> None:
    again = hard_digits(mnist_dir, "dev", per_setting=2, seed=3, settings=["form_box", "erased_writing"])
    assert list(again) == ["form_box", "erased_writing"]
    for name, (images, labels) in again.items():
        for a, b in zip(images, hard_set[name][0][:2], strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(labels, hard_set[name][1][:2])
    other = hard_digits(mnist_dir, "dev", per_setting=2, seed=4, settings=["form_box"])
    assert any(a.shape != b.shape or not np.array_equal(a, b)
               for a, b in zip(other["form_box"][0], again["form_box"][0], strict=True))  # fmt: skip


def test_labels_are_the_drawn_mnist_digits(mnist_dir: Path, hard_set) -> None:
    _, mnist_labels = _mnist_test(str(mnist_dir))
    indices = sample_indices("dev", PER_SETTING, seed=3)
    assert list(hard_set) == list(SETTINGS) == list(indices)
    for name, (_, labels) in hard_set.items():
        assert labels.dtype == np.int64
        np.testing.assert_array_equal(labels, mnist_labels[indices[name]])
        assert len(set(indices[name].tolist())) == PER_SETTING


def test_other_digits_are_drawn_once_per_setting(mnist_dir: Path) -> None:
    one = np.zeros((28, 28), np.uint8)
    one[4:24, 12:16] = 255  # a "1", framed as MNIST's
    zero = np.zeros((28, 28), np.uint8)
    zero[4:24, 7:21] = 255
    zero[8:20, 11:17] = 0  # a "0": a ring
    digits, labels = np.stack([one, zero]), np.array([1, 0])
    drawn = hard_from_digits(digits, labels, mnist_dir, seed=5, settings=["clean_scan", "form_box"])
    again = hard_from_digits(digits, labels, mnist_dir, seed=5, settings=["form_box"])
    assert list(drawn) == ["clean_scan", "form_box"]
    for images, drawn_labels in drawn.values():
        assert len(images) == 2 and drawn_labels.tolist() == [1, 0]
    for a, b in zip(drawn["form_box"][0], again["form_box"][0], strict=True):
        np.testing.assert_array_equal(a, b)
    scan = drawn["clean_scan"][0][1]
    dark = gray(scan) < gray(scan).max() - 60
    assert ndimage.label(~dark)[1] >= 2  # the ring's inside stays paper: a "0", not a blob


def test_other_digits_must_be_framed_as_mnist(mnist_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"uint8 \(N, 28, 28\)"):
        hard_from_digits(np.zeros((2, 32, 32), np.uint8), np.array([1, 2]), mnist_dir)
    with pytest.raises(ValueError, match="one per digit"):
        hard_from_digits(np.zeros((2, 28, 28), np.uint8), np.array([1]), mnist_dir)
    with pytest.raises(KeyError, match="Unknown setting"):
        hard_from_digits(np.zeros((1, 28, 28), np.uint8), np.array([1]), mnist_dir, settings=["napkin"])


def test_splits_are_disjoint_and_skip_the_first_2000() -> None:
    dev = sample_indices("dev", 4000, seed=0)
    test = sample_indices("test", 4000, seed=0)
    for name in SETTINGS:
        assert sorted(dev[name].tolist()) == list(range(2000, 6000))
        assert sorted(test[name].tolist()) == list(range(6000, 10000))
    assert SPLITS == {"dev": (2000, 6000), "test": (6000, 10000)}
    with pytest.raises(ValueError, match="split must be one of"):
        sample_indices("train", 5)
    with pytest.raises(ValueError, match="per_setting"):
        sample_indices("dev", 4001)


def test_shapes_and_dtypes(hard_set) -> None:
    sides = []
    for name, (images, labels) in hard_set.items():
        assert len(images) == len(labels) == PER_SETTING
        for image in images:
            assert image.dtype == np.uint8
            assert image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3), (name, image.shape)
            assert min(image.shape[:2]) >= 48 and max(image.shape[:2]) <= 200, (name, image.shape)
            sides.append(image.shape[:2])
    assert sum(h != w for h, w in sides) > len(sides) // 2  # not square, mostly
    for name in ("phone_photo", "sticky_note", "whiteboard_glare", "chalkboard"):
        assert all(image.ndim == 3 for image in hard_set[name][0]), name


def _enclosed_paper(mask: np.ndarray) -> int:
    """Pixels of paper that the ink (coverage >= 0.5) encloses: no 4-connected way to the border."""
    ink = mask >= 0.5
    return int((ndimage.binary_fill_holes(ink) & ~ink).sum())


def test_a_small_loop_stays_open_under_a_wide_pen() -> None:
    # A "9" whose loop encloses only 9 of MNIST's pixels, redrawn 60 px tall with a pen 10 px
    # wide: the pen's width is more than the loop's, scaled (about 8 px), so retracing the
    # centre line alone fills the loop and the "9" reads as a "7" (as the hard set's first
    # version drew some). The loop must stay paper, about as large as the writer left it.
    y, x = np.mgrid[0:28, 0:28]
    ring = np.hypot(y - 9, x - 15)
    digit = ((ring >= 1.5) & (ring <= 4.5)).astype(np.float64)
    t = np.linspace(0, 1, 60)
    for r, c in zip(12 + 12 * t, 18 - 5 * t, strict=True):
        digit[int(r) : int(r) + 2, int(c) : int(c) + 2] = 1  # the tail
    mask = strokes((digit * 255).astype(np.uint8), 60, 10.0)
    scale = 60 / 20  # the digit's ink spans rows 5 to 24
    assert _enclosed_paper(mask) >= 0.5 * 9 * scale**2, "the loop was filled"
    thin = strokes((digit * 255).astype(np.uint8), 60, 2.0)
    assert _enclosed_paper(thin) > _enclosed_paper(mask), "a thin pen leaves the loop larger"


# ----------------------------------------------------------------------------- each setting's feature
def test_clean_scan_is_dark_ink_on_white_paper(hard_set) -> None:
    for image in hard_set["clean_scan"][0]:
        assert image.ndim == 2
        assert np.median(image) >= 200 and np.percentile(image, 1) <= 110


def test_form_boxes_and_crossing_lines_are_long_straight_lines(hard_set) -> None:
    for image in hard_set["form_box"][0]:
        assert min(line_cover(image)) >= 0.75  # a box: lines along a row and along a column
    for image in hard_set["line_through"][0]:
        assert max(line_cover(image)) >= 0.95  # lines across the whole crop
    assert np.median([min(line_cover(image)) for image in hard_set["clean_scan"][0]]) < 0.6


def test_grid_and_ruled_paper_have_light_lines(hard_set) -> None:
    for image in hard_set["grid_paper"][0]:
        assert line_count(image, 0) >= 2 and line_count(image, 1) >= 2
    for image in hard_set["ruled_paper"][0]:
        assert line_count(image, 0) >= 2
    assert np.median([line_count(image, 0) for image in hard_set["clean_scan"][0]]) < 1


def test_photo_lighting_is_uneven(hard_set) -> None:
    for image in hard_set["phone_photo"][0]:
        background = ndimage.maximum_filter(gray(image), 9)  # the paper around the strokes
        h, w = background.shape
        blocks = [background[i * h // 3 : (i + 1) * h // 3, j * w // 3 : (j + 1) * w // 3] for i in range(3)
                  for j in range(3)]  # fmt: skip
        levels = [np.median(b) for b in blocks]
        assert max(levels) - min(levels) >= 12


def grain(image: np.ndarray) -> float:
    """Fine-scale variation inside the strokes, as a fraction of the ink's contrast."""
    g = gray(image)
    stroke = ndimage.binary_erosion(darkness(image) >= 0.3)
    detail = g - ndimage.gaussian_filter(g, 1.5)
    return float(np.std(detail[stroke]) / max(np.percentile(g, 60) - np.percentile(g, 0.5), 1))


def test_pencil_is_lighter_and_grainy(hard_set) -> None:
    for image in hard_set["pencil"][0]:
        assert np.percentile(image, 0.5) >= 60  # no black: graphite
    assert np.median([np.percentile(image, 0.5) for image in hard_set["clean_scan"][0]]) < 60
    pencil, clean = ([grain(image) for image in hard_set[name][0]] for name in ("pencil", "clean_scan"))
    assert np.median(pencil) > 1.3 * np.median(clean)


def test_sticky_notes_are_coloured(hard_set) -> None:
    for image in hard_set["sticky_note"][0]:
        colour = np.median(image.reshape(-1, 3), axis=0)
        assert colour.max() - colour.min() >= 40


def test_whiteboard_glare_is_a_bright_blob(hard_set) -> None:
    for image in hard_set["whiteboard_glare"][0]:
        smooth = ndimage.gaussian_filter(gray(image), 3)
        assert np.percentile(smooth, 99.5) - np.median(smooth) >= 12


def test_chalk_is_light_on_a_dark_board(hard_set) -> None:
    for image in hard_set["chalkboard"][0]:
        g = gray(image)
        assert np.median(g) < 110 and np.percentile(g, 99.5) - np.median(g) >= 70


def test_erased_writing_has_a_faint_component(hard_set) -> None:
    for erased in hard_set["erased_writing"][0]:
        assert faint_share(erased) >= 0.004
    assert max(faint_share(image) for image in hard_set["clean_scan"][0]) < 0.003


def test_neighbours_are_cut_at_the_crop_edges(hard_set) -> None:
    for image in hard_set["touching_neighbours"][0]:
        d = darkness(image) >= 0.5
        assert d[:, :3].any() or d[:, -3:].any()


# ----------------------------------------------------------------------------- the benchmark
def _hard_set_module():
    spec = importlib.util.spec_from_file_location("hard_set", REPO_ROOT / "benchmarks" / "hard_set.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dev_case_ink(mnist_dir: Path, setting: str, index: int) -> Any:
    """The ink mask (H, W) that ink.find_ink gives for dev image ``index`` of ``setting``,
    rendered alone as hard_digits(..., "dev") draws it."""
    from PIL import Image

    from benchmarks.hard_digits import DEFAULT_SEED, _image_rng, render, split_pool
    from mobilenet_mnist.data import ink
    from mobilenet_mnist.data.digits import _gray

    images, labels = _mnist_test(str(mnist_dir))
    digit = sample_indices("dev", index + 1)[setting][index]
    rng = _image_rng(DEFAULT_SEED, setting, index)
    image = render(setting, images[digit], int(labels[digit]), split_pool(mnist_dir, "dev"), rng)
    gray = _gray(Image.fromarray(image) if image.ndim == 3 else image)
    return ink.find_ink(ink.ink_bright(gray))[1][0, 0]


def test_a_form_boxs_side_the_digit_touches_is_taken_out(mnist_dir: Path) -> None:
    # Dev-split form boxes where the digit touches one side (a 9 and a 1 at the left side, a
    # 5 at the right; a 7 at the left side of a comb field, whose sides run on past the crop's
    # top): the other sides came out, that one stayed beside the digit as a stroke spanning
    # the crop's height. It is a box's side: held by printed sides (or the image's edge, at
    # one end) at both ends, with all the rest of the ink between it and the printed side
    # parallel to it.
    for index in (92, 151, 224, 397):
        mask = _dev_case_ink(mnist_dir, "form_box", index)
        column = float(mask.sum(0).max()) / mask.shape[0]  # the most ink a column holds, of the rows
        assert column < 0.5, f"image {index}: a column holds ink along {column:.0%} of the rows (the box's side)"
        assert float(mask.sum(1).max()) > 0, f"image {index}: the digit went too"


def test_squared_papers_rules_across_a_tall_digit_are_taken_out(mnist_dir: Path) -> None:
    # A dev-split "1" on squared paper, drawn across several rules: the ink left between the
    # rules spans the crop nearly to its top and right edges, so only one rule of each
    # orientation ran past it or clear of it, and the others stayed (read as a "7"). Five
    # evenly spaced rules from edge to edge are a page's ruling (lines._page_ruling).
    mask = _dev_case_ink(mnist_dir, "grid_paper", 269)
    row = float(mask.sum(1).max()) / mask.shape[1]  # the most ink a row holds, of the columns
    assert row < 0.2, f"a row holds ink along {row:.0%} of the columns (a rule)"
    assert float(mask.sum(0).max()) > 0.3 * mask.shape[0], "the digit's stroke went too"


def test_benchmark_metrics_on_known_predictions() -> None:
    """ECE, AUROC and the wrong-answer shares, on hand-made predictions with known answers."""
    import torch

    from mobilenet_mnist.deploy.predictor import DigitPrediction
    from mobilenet_mnist.training.calibration import expected_calibration_error

    hard_set = _hard_set_module()

    def pred(label: str, p: float, score: float, quality: float, steady: float, is_digit: bool = True) -> Any:
        image = torch.zeros(1, 28, 28)
        return DigitPrediction(label, p, ((label, p),), is_digit, score, image, quality=quality, stability=steady)

    predictions = [pred("1", 0.95, -9.0, 1.0, 1.0), pred("2", 0.6, -2.0, 0.5, 0.9),
                   pred("3", 0.99, 1.0, 0.8, 0.2, False), pred("4", 0.5, 3.0, 0.4, 0.3, False)]  # fmt: skip
    m = hard_set.metrics(predictions, np.array([1, 2, 5, 7]))  # the last two are wrong
    shares = (m["accuracy"], m["wrong"], m["wrong_confident"], m["wrong_flagged"], m["right_flagged"])
    assert shares == (50, 2, 50, 100, 0)
    # probability: 0.99 and 0.5 wrong vs 0.95 and 0.6 right; quality (higher = right): 0.8, 0.4 vs 1.0, 0.5
    # stability (higher = right): 0.2, 0.3 vs 1.0, 0.9
    assert m["auroc"] == {"1-probability": 0.5, "score": 1.0, "1-quality": 0.75, "1-stability": 1.0}
    confidence, correct = np.array([0.95, 0.6, 0.99, 0.5]), np.array([1, 1, 0, 0], bool)
    probs = torch.tensor([[c, 1 - c] for c in confidence])  # top-1 = class 0; right where the label is 0
    expected = 100 * expected_calibration_error(probs, torch.tensor([0 if ok else 1 for ok in correct]))
    assert hard_set.ece_percent(confidence, correct) == pytest.approx(expected)


def test_wrong_answers_are_split_by_whether_the_mnist_digit_is_misread_too() -> None:
    import torch

    from mobilenet_mnist.deploy.predictor import DigitPrediction

    hard_set = _hard_set_module()

    def pred(label: str, p: float, is_digit: bool = True) -> Any:
        return DigitPrediction(label, p, ((label, p),), is_digit, 0.0, torch.zeros(1, 28, 28))

    predictions = [pred("1", 0.99), pred("7", 0.95), pred("3", 0.97), pred("8", 0.5, False), pred("0", 0.6, False),
                   pred("2", 0.3, False)]  # fmt: skip
    labels = np.array([1, 2, 5, 9, 6, 2])  # four wrong: "7", "3", "8", "0"
    mnist_right = np.array([True, False, True, True, True, False])  # "7" is misread as MNIST too
    origin = hard_set.wrong_by_origin(predictions, labels, mnist_right)
    assert origin == {"mnist_too": 1, "mnist_too_confident": 1, "caused": 3, "caused_confident": 33.33,
                      "caused_flagged": 66.67}  # fmt: skip
    row = {"sets": {hard_set.ALL: {"wrong": 4, "by_origin": origin}}}
    assert hard_set.origin_note(row) == [
        "Of its 4 wrong answers, 1 are digits it misreads in their MNIST form too (1 of them with probability "
        "≥ 0.9); of the 3 the settings caused, 33.3 % come with probability ≥ 0.9 and 66.7 % are flagged."
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["--data-dir", "my data", "--errors-sheet", "/tmp/sheet.png", "--rounds", "1"],
        ["--data-dir", "my data", "--errors-sheet=/tmp/sheet.png", "--rounds", "1"],
    ],
)
def test_reproduce_command_quotes_options_and_leaves_out_the_errors_sheet(argv: list[str]) -> None:
    command = _hard_set_module().command_line(argv, "benchmarks/x.py")
    assert command == "python benchmarks/x.py --data-dir 'my data' --rounds 1"


def test_errors_sheet_shows_wrong_answers_most_confident_first(tmp_path: Path) -> None:
    import torch
    from PIL import Image

    from mobilenet_mnist.deploy.predictor import DigitPrediction

    hard_set = _hard_set_module()

    def wrong(p: float, seen: float, is_digit: bool = True) -> Any:
        image = torch.full((1, 28, 28), seen)
        return DigitPrediction("7", p, (("7", p),), is_digit, 0.0, image, quality=1.0, stability=1.0)

    gray, rgb = np.full((40, 30), 200, np.uint8), Image.new("RGB", (50, 60), (255, 0, 0))
    answers = [("pencil", gray, 1, wrong(0.5, 0.0)), ("sticky_note", rgb, 2, wrong(0.99, 1.0, False)),
               ("form_box", gray, 3, wrong(0.7, 0.0))]  # fmt: skip
    path = tmp_path / "sheet" / "errors.png"
    assert hard_set.errors_sheet(answers, path, columns=2, cell=20) == 3
    sheet = np.asarray(Image.open(path).convert("RGB"))
    assert sheet.shape == (2 * (20 + 16), 2 * 2 * 20, 3)  # 2 rows of 2 tiles, each input + what the model saw
    assert (sheet[:20, :20] == (255, 0, 0)).all()  # the most confident first: the red note ...
    assert (sheet[:20, 20:40] == 255).all()  # ... beside the white digit it was read as
    assert (sheet[:20, 60:80] == 0).all()  # then p = 0.7, then p = 0.5 on the next row
    assert (sheet[36:56, 20:40] == 0).all() and (sheet[36:56, :20] == 200).all()


@pytest.mark.slow
def test_benchmark_quick_run_writes_its_record(mnist_dir: Path, tmp_path: Path) -> None:
    hard_set = _hard_set_module()
    argv = ["--data-dir", str(mnist_dir), "--quick", "--per-setting", "5", "--output-dir", str(tmp_path)]
    assert hard_set.main(argv) == 0
    record = json.loads((tmp_path / "hard_digits.json").read_text())
    assert (tmp_path / "hard_digits.md").read_text().startswith("Hard digit set")
    assert record["split"] == "test" and record["per_setting"] == 5 and record["settings"] == list(SETTINGS)
    assert record["machine"]["cpu"] and record["machine"]["torch"] and "onnxruntime" in record["machine"]
    assert "--quick" in record["command"]
    (row,) = record["rows"]
    assert row["name"] == "mobilenet_v1_100.mnist"
    assert set(row["sets"]) == {*SETTINGS, hard_set.ALL, hard_set.CLEAN}
    for key, m in row["sets"].items():
        expected = 5 * len(SETTINGS) if key in (hard_set.ALL, hard_set.CLEAN) else 5
        assert m["images"] == expected, key
        assert (
            0 <= m["accuracy"] <= 100 and 0 <= m["ece"] <= 100 and m["ms_per_image"] > 0 and m["cpu_ms_per_image"] > 0
        )
        assert m["wrong"] == round(expected * (100 - m["accuracy"]) / 100)
        for value in (m["wrong_confident"], m["wrong_flagged"], m["right_flagged"], *m["auroc"].values()):
            assert value is None or 0 <= value <= 100
    assert row["sets"][hard_set.CLEAN]["accuracy"] >= 90  # the same digits, as MNIST has them
    assert record["targets"][0]["what"] == "form_box accuracy"
    assert record["targets"][0]["value"] == row["sets"]["form_box"]["accuracy"]


@pytest.mark.slow
def test_benchmark_draws_the_settings_from_handwriting_typefaces(mnist_dir: Path, tmp_path: Path) -> None:
    from benchmarks.digit_sets import HANDWRITING, find_fonts

    try:
        find_fonts(HANDWRITING)
    except FileNotFoundError as error:
        pytest.skip(str(error))
    hard_set = _hard_set_module()
    argv = ["--data-dir", str(mnist_dir), "--digits", "handwriting-fonts", "--quick", "--output-dir", str(tmp_path)]
    assert hard_set.main(argv) == 0
    record = json.loads((tmp_path / "hard_fonts.json").read_text())
    assert record["digits"] == "handwriting-fonts" and record["per_setting"] == 10
    assert "handwriting typefaces" in (tmp_path / "hard_fonts.md").read_text()
    (row,) = record["rows"]
    assert row["sets"][hard_set.CLEAN]["images"] == 10  # each typeface digit once, though drawn in every setting
    assert row["sets"][hard_set.ALL]["images"] == 10 * len(SETTINGS)
    assert row["sets"][hard_set.CLEAN]["accuracy"] >= 90  # the typefaces' digits framed as MNIST's


@pytest.mark.slow
def test_cost_against_a_revision_times_both_libraries_in_turn(mnist_dir: Path, tmp_path: Path) -> None:
    from benchmarks import cost_vs_ref

    argv = ["--data-dir", str(mnist_dir), "--ref", "HEAD", "--per-setting", "1", "--pairs", "2", "--rounds", "1",
            "--output-dir", str(tmp_path), "--name", "cost"]  # fmt: skip
    result = cost_vs_ref.main(argv)
    record = json.loads((tmp_path / "cost.json").read_text())
    assert record == json.loads(json.dumps(result))
    assert record["images"] == len(SETTINGS) and len(record["ref_ms"]) == len(record["ours_ms"]) == 2
    assert all(ms > 0 for ms in record["ref_ms"] + record["ours_ms"])
    assert record["ratios"] == pytest.approx([o / r for r, o in zip(record["ref_ms"], record["ours_ms"], strict=True)])
    assert "--ref HEAD" in record["command"]
    assert "| 2 |" in (tmp_path / "cost.md").read_text()
    worktrees = subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "list"], capture_output=True, text=True)
    assert "cost_vs_ref_" not in worktrees.stdout, "the temporary worktree is left registered"


def test_a_phone_photos_lit_side_does_not_drop_the_digits_shadowed_part(mnist_dir: Path) -> None:
    # A dev-split phone photo of a "5" whose top bar lies on the shadowed side of the page.
    # The lit side's paper is lighter than the page's usual level, as under a glare, and its
    # strokes' contrast was raised about twice over; the bar, as strong as ever, was then
    # dropped as faint beside them, and the rest read as a "2". The lit strokes stand out
    # more than the shadowed ones, not less: no glare (lighting.confirmed_gain). The ink
    # spans 89 of the photo's 161 rows with the bar, 64 without.
    from mobilenet_mnist.data.ink import extent

    mask = _dev_case_ink(mnist_dir, "phone_photo", 341)
    height = int(extent(mask[None, None])[0])
    assert height >= 0.5 * mask.shape[0], f"the ink spans {height} of {mask.shape[0]} rows: the top bar went"
