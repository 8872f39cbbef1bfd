"""Predictor, predict() and `mobilenet-mnist predict`: calibrated labels and the "not a digit?" flag."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from mobilenet_mnist import from_pretrained, mobilenet_v1
from mobilenet_mnist.cli import main
from mobilenet_mnist.data.datasets import load_dataset
from mobilenet_mnist.deploy import predictor as predict_module
from mobilenet_mnist.deploy.predictor import DigitPrediction, Predictor, predict

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Letters that look like no digit, drawn with Pillow's own font (no system fonts needed).
LETTERS = "ACEFHKMNPRUVWXYaefhkmnprwxy"


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> tuple[torch.Tensor, list[str]]:
    test = load_dataset("mnist", "test", mnist_dir)
    return test.images[:32], [str(label) for label in test.labels[:32].tolist()]


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    """The shipped, calibrated default checkpoint on the PyTorch backend (starts fastest)."""
    return Predictor(backend="torch")


def letter_pages(seed: int = 0) -> list[np.ndarray]:
    """Dark printed letters on light paper, 64×64, at random sizes and places."""
    rng = np.random.default_rng(seed)
    pages = []
    for char in LETTERS:
        size = int(rng.integers(28, 48))
        page = Image.new("L", (64, 64), int(rng.integers(190, 250)))
        center = (int(rng.integers(24, 40)), int(rng.integers(24, 40)))
        ImageDraw.Draw(page).text(center, char, fill=int(rng.integers(0, 60)), font=ImageFont.load_default(size=size),
                                  anchor="mm")  # fmt: skip
        pages.append(np.asarray(page))
    return pages


# ------------------------------------------------------------------------- Predictor
def test_real_digits_get_their_labels_with_calibrated_probabilities(predictor: Predictor, digits) -> None:
    images, labels = digits
    results = predictor(images, top_k=3)
    assert [r.label for r in results] == labels
    assert all(isinstance(r, DigitPrediction) and r.is_digit and not r.blank for r in results)
    for r in results:
        probs = [p for _, p in r.top_k]
        assert r.top_k[0] == (r.label, r.probability) and probs == sorted(probs, reverse=True)
        assert 0 < sum(probs) <= 1 + 1e-6 and r.image.shape == (1, 28, 28)
        assert float(r.image.min()) >= 0.0 and float(r.image.max()) <= 1.0


def test_calibrated_probabilities_are_not_the_capped_softmax(predictor: Predictor, digits) -> None:
    assert predictor.calibrated and predictor.temperature < 1  # label smoothing: underconfident logits
    outputs = predictor.logits(digits[0])
    raw = outputs.logits.softmax(dim=1).max(dim=1).values
    calibrated = torch.tensor([r.probability for r in predictor(digits[0])])
    assert float(raw.max()) < 0.93 < float(calibrated.min())  # the raw softmax says ~0.91 for every digit
    assert not torch.allclose(raw, calibrated.float(), atol=0.01)


def test_dark_digits_on_paper_are_prepared_like_mnist(predictor: Predictor, digits) -> None:
    images, labels = digits
    paper = 255 - images  # dark ink on white paper
    padded = torch.nn.functional.pad(paper, (20, 4, 6, 18), value=255)  # off-center on a larger page
    assert [r.label for r in predictor(padded)] == labels
    assert [r.label for r in predictor(list(padded.numpy()))] == labels  # a list of arrays works too


def test_a_blank_image_is_no_digit(predictor: Predictor) -> None:
    for blank in (torch.zeros(28, 28), torch.full((50, 40), 230, dtype=torch.uint8)):
        (result,) = predictor(blank)
        assert result.blank and not result.is_digit and float(result.image.abs().sum()) == 0.0


def test_noise_and_letters_are_flagged_far_more_than_digits(predictor: Predictor, digits) -> None:
    noise = torch.randint(0, 256, (16, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert not any(r.is_digit for r in predictor(noise))  # noise holds no ink
    letters = predictor(letter_pages())
    flagged = sum(not r.is_digit for r in letters) / len(letters)
    digits_flagged = sum(not r.is_digit for r in predictor(digits[0])) / len(digits[0])
    assert flagged >= 0.25 and digits_flagged <= 0.05, (flagged, digits_flagged)
    letter_scores = [r.score for r in letters]
    assert np.median(letter_scores) > max(r.score for r in predictor(digits[0]))


def test_raw_images_are_fed_as_they_are(digits) -> None:
    images, labels = digits
    raw = Predictor(backend="torch", prepare=False)
    results = raw(images)
    assert [r.label for r in results] == labels
    torch.testing.assert_close(results[0].image, images[0][None].float() / 255)
    (blank,) = raw(torch.zeros(28, 28))
    assert blank.blank and not blank.is_digit


def test_a_model_without_calibration_uses_t_1_and_flags_only_blank_images(digits) -> None:
    torch.manual_seed(0)
    own = mobilenet_v1(width_mult=0.25).eval()  # a user's model: no temperature, no threshold
    plain = Predictor(own, backend="torch")
    assert (plain.temperature, plain.threshold, plain.calibrated) == (1.0, None, False)
    results = plain(digits[0])
    assert all(r.is_digit for r in results)
    logits = plain.logits(digits[0]).logits
    probabilities = torch.tensor([r.probability for r in results], dtype=torch.float64)
    torch.testing.assert_close(probabilities, logits.softmax(1).max(1).values.double())
    assert not plain(torch.zeros(28, 28))[0].is_digit
    tuned = Predictor(own, backend="torch", temperature=0.5, threshold=-100.0)  # your own calibration
    assert tuned.temperature == 0.5 and not any(r.is_digit for r in tuned(digits[0]))


def test_image_files_are_read_like_the_images_in_them(predictor: Predictor, digits, tmp_path: Path) -> None:
    images, labels = digits
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"digit{i}.png")
        Image.fromarray(255 - images[i].numpy()).convert("RGB").save(paths[i])  # dark ink on white, RGB
    from_files = predictor([paths[0], str(paths[1]), images[2]])
    from_arrays = predictor([255 - images[0].numpy(), 255 - images[1].numpy(), images[2]])
    assert [p.label for p in from_files] == [p.label for p in from_arrays] == labels[:3]
    assert [p.probability for p in from_files] == pytest.approx([p.probability for p in from_arrays], abs=1e-5)
    assert predictor(paths[0])[0].label == labels[0]


def test_top_k_is_capped_at_the_number_of_classes(predictor: Predictor, digits) -> None:
    (result,) = predictor(digits[0][0], top_k=50)
    assert len(result.top_k) == 10 and sum(p for _, p in result.top_k) == pytest.approx(1.0, abs=1e-5)


def test_threads_sharing_one_predictor_get_the_same_results(predictor: Predictor, digits) -> None:
    images = digits[0]
    expected = [(r.label, r.probability, r.score) for r in predictor(images)]
    results: dict[int, list] = {}

    def work(index: int) -> None:
        results[index] = [(r.label, r.probability, r.score) for r in predictor(images)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    for found in results.values():
        assert [f[0] for f in found] == [e[0] for e in expected]
        np.testing.assert_allclose([f[1:] for f in found], [e[1:] for e in expected], atol=1e-5)


def test_backends_give_the_same_predictions(digits) -> None:
    pytest.importorskip("onnxruntime")
    model = from_pretrained(REPO_ROOT / "hub" / "mobilenet_v1_025.mnist").eval()
    on_torch, on_ort = Predictor(model, backend="torch"), Predictor(model, backend="onnxruntime")
    assert (on_torch.backend, on_ort.backend) == ("torch", "onnxruntime")
    images = list(digits[0][:16]) + letter_pages()[:8]
    a, b = on_torch(images), on_ort(images)
    assert [r.label for r in a] == [r.label for r in b] and [r.is_digit for r in a] == [r.is_digit for r in b]
    np.testing.assert_allclose([r.probability for r in a], [r.probability for r in b], atol=1e-4)


def test_predict_reuses_predictors_built_from_a_name(digits) -> None:
    predict_module._cached_predictor.cache_clear()
    first = predict(digits[0][:4], backend="torch")
    second = predict(digits[0][:4], "mobilenet_v1_100.mnist", backend="torch", top_k=1)
    assert [r.label for r in first] == [r.label for r in second] == digits[1][:4]
    assert len(second[0].top_k) == 1 and predict_module._cached_predictor.cache_info().hits == 1


def test_the_fashion_checkpoint_warns_that_digit_preparation_is_for_digits(caplog: pytest.LogCaptureFixture) -> None:
    model = from_pretrained(REPO_ROOT / "hub" / "mobilenet_v1_100.fashion_mnist").eval()
    with caplog.at_level("WARNING", logger="mobilenet_mnist"):
        Predictor(model, backend="torch")
    assert "pass prepare=False" in caplog.text
    caplog.clear()
    Predictor(model, backend="torch", prepare=False)
    assert "prepare" not in caplog.text


# Bad input: rows in tests/test_audit.py ("Real digits and calibrated predictions").
# ------------------------------------------------------------------------- the command
def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _save(folder: Path, name: str, array: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(folder / name)
    return folder / name


def test_cli_predicts_files_and_marks_blank_ones(capsys, digits, tmp_path: Path) -> None:
    images, labels = digits
    paths = [_save(tmp_path, f"d{i}.png", 255 - images[i].numpy()) for i in range(3)]  # dark on light
    blank = _save(tmp_path, "blank.png", np.full((28, 28), 240, np.uint8))
    code, out, err = run(capsys, "predict", *map(str, paths), str(blank), "--backend", "torch", "--top-k", "2")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 4, err
    for path, label, line in zip(paths, labels, lines, strict=False):
        assert line.startswith(f"{path}: {label} (") and line.count("%)") == 2 and "[" not in line
    assert lines[3].startswith(f"{blank}: ") and lines[3].endswith("[blank]")


def test_cli_scores_a_folder_with_one_subfolder_per_label(capsys, digits, tmp_path: Path) -> None:
    images, labels = digits
    for i in range(20):
        _save(tmp_path / "set" / labels[i], f"{i}.png", images[i].numpy())
    _save(tmp_path / "set" / "3", "wrong.png", images[labels.index("7")].numpy())  # a 7 filed under 3
    code, out, err = run(capsys, "predict", str(tmp_path / "set"), "--backend", "torch")
    assert code == 0, err
    assert f"{tmp_path / 'set' / '3' / 'wrong.png'}: 7 (" in out and "(true: 3)" in out
    assert "accuracy: 95.24 % (20/21 images); 0 flagged as not a digit" in out
    assert "per-class accuracy (%): 0: 100.00" in out and "confusion matrix (rows: true, columns: predicted):" in out
    matrix = out.split("predicted):\n")[1].strip().splitlines()
    assert matrix[0].split() == [str(d) for d in range(10)] and len(matrix) == 11
    row3 = [int(v) for v in matrix[4].split()[1:]]
    assert row3[3] == labels[:20].count("3") and row3[7] == 1


def test_cli_plain_folder_predicts_each_image(capsys, digits, tmp_path: Path) -> None:
    for i in range(3):
        _save(tmp_path / "pics", f"{i}.png", digits[0][i].numpy())
    (tmp_path / "pics" / "notes.txt").write_text("not an image")  # not an image suffix: left alone
    code, out, _ = run(capsys, "predict", str(tmp_path / "pics"), "--backend", "torch", "--top-k", "1")
    assert code == 0 and [line.split(": ")[1].split(" ")[0] for line in out.strip().splitlines()] == digits[1][:3]


def test_cli_unreadable_file_is_one_line_and_the_others_are_predicted(capsys, digits, tmp_path: Path) -> None:
    good = _save(tmp_path, "good.png", digits[0][0].numpy())
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"hello")
    missing = tmp_path / "missing.png"
    code, out, err = run(capsys, "predict", str(bad), str(good), str(missing), "--backend", "torch")
    assert code == 2 and out.startswith(f"{good}: {digits[1][0]} (")
    errors = err.strip().splitlines()
    assert len(errors) == 2 and "Traceback" not in err
    assert errors[0].startswith(f"mobilenet-mnist predict: error: Cannot read image {bad}:")
    assert errors[1] == f"mobilenet-mnist predict: error: Image file {missing} does not exist."


def test_cli_raw_and_invert(capsys, digits, tmp_path: Path) -> None:
    white_on_black = _save(tmp_path, "mnist.png", digits[0][0].numpy())
    black_on_white = _save(tmp_path, "paper.png", 255 - digits[0][0].numpy())
    label = digits[1][0]
    code, out, _ = run(capsys, "predict", str(white_on_black), "--raw", "--backend", "torch", "--top-k", "1")
    assert code == 0 and out.startswith(f"{white_on_black}: {label} (")
    code, out, _ = run(capsys, "predict", str(black_on_white), "--invert", "--backend", "torch", "--top-k", "1")
    assert code == 0 and out.startswith(f"{black_on_white}: {label} (")
