"""Real digit sets that are not MNIST, built offline: scikit-learn's 8×8 digits and font glyphs.

* :func:`sklearn_digits`: the 1,797 handwritten 8×8 digits of scikit-learn's
  ``load_digits`` (UCI "Optical Recognition of Handwritten Digits"), which ship inside the
  scikit-learn wheel: white ink on black, values 0–16, scaled here to uint8 0–255.
* :func:`render_glyphs`: any characters rendered from the machine's fonts as photos of
  printed paper would show them: dark ink on light paper, random contrast, size, place,
  slight rotation, blur and noise. :func:`printed_digits` is its digit case in the
  :data:`PRINTED` fonts; the same function renders printed letters (``chars="ABC..."``) as
  "not a digit" examples. :func:`handwriting_digits` is its digit case in the
  :data:`HANDWRITING` fonts: digits as 30 typefaces drawn from people's handwriting write
  them (a person's own hand, marker, pencil, brush, felt-tip, comic lettering).
* :func:`mnist_style`: glyph masks framed the way MNIST frames its digits (white on black,
  the ink's longer side 20 px, centre of mass at (14, 14) of 28×28), for generators that
  draw from MNIST-style digits (``benchmarks/hard_digits.py``); :func:`handwriting_glyphs`
  gives the :data:`HANDWRITING` digits so.

Nothing is downloaded. Fonts come from Debian packages (``apt-get install`` the names in
:data:`PRINTED` and :data:`HANDWRITING`); scikit-learn from PyPI (``pip install scikit-learn``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "HANDWRITING",
    "PRINTED",
    "FontFamily",
    "find_fonts",
    "handwriting_digits",
    "handwriting_glyphs",
    "mnist_style",
    "printed_digits",
    "render_glyphs",
    "sklearn_digits",
]


@dataclass(frozen=True)
class FontFamily:
    """Fonts of one kind: the Debian packages that install them and the folders they land in."""

    packages: tuple[str, ...]
    dirs: tuple[Path, ...]


_TRUETYPE, _OPENTYPE = Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts/opentype")
#: Printed typefaces (sans, serif, mono; ExtraLight to Bold, condensed, italic).
PRINTED = FontFamily(
    ("fonts-dejavu-core", "fonts-dejavu-extra", "fonts-liberation"),
    (_TRUETYPE / "dejavu", _TRUETYPE / "liberation"),
)
#: Typefaces made from handwriting (30 fonts). fonts-femkeklaver is left out: its glyphs are
#: outlines, not strokes.
HANDWRITING = FontFamily(
    ("fonts-dkg-handwriting", "fonts-breip", "fonts-bwht", "fonts-humor-sans", "fonts-klee", "fonts-kiloji",
     "fonts-kristi", "fonts-comic-neue", "fonts-dancingscript", "fonts-kaushanscript", "fonts-yusei-magic"),
    (_TRUETYPE / "fifthhorseman", _TRUETYPE / "breip", _OPENTYPE / "bwht", _TRUETYPE / "humor-sans",
     _TRUETYPE / "klee", _TRUETYPE / "kiloji", _TRUETYPE / "kristi", _OPENTYPE / "comic-neue",
     _OPENTYPE / "dancingscript", _OPENTYPE / "kaushanscript", _TRUETYPE / "yusei-magic"),
)  # fmt: skip


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 handwritten digits as uint8 images.

    Returns:
        ``(images, labels)``: uint8 (1797, 8, 8) white ink on black (the set's 0–16 values
        scaled to 0–255) and int64 labels (1797,).

    Raises:
        ImportError: If scikit-learn is not installed (``pip install scikit-learn``).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError("sklearn_digits needs scikit-learn: pip install scikit-learn") from error
    data = load_digits()
    images = np.rint(data.images * (255 / 16)).clip(0, 255).astype(np.uint8)
    return images, data.target.astype(np.int64)


def find_fonts(family: FontFamily = PRINTED) -> list[Path]:
    """The TrueType and OpenType files of ``family``, sorted by name (a stable order for seeded sets).

    Raises:
        FileNotFoundError: If one of its folders has none (a package is missing); the message
            names the Debian packages to install.
    """
    found = {folder: sorted(Path(folder).glob("*.[ot]tf")) for folder in family.dirs}
    missing = [str(folder) for folder, fonts in found.items() if not fonts]
    if missing:
        raise FileNotFoundError(
            f"No TrueType/OpenType fonts found in {missing}; install them with "
            f"`apt-get install {' '.join(family.packages)}` (Debian/Ubuntu) or pass fonts=[...] paths."
        )
    return sorted((path for fonts in found.values() for path in fonts), key=lambda p: p.name)


def _glyph_mask(font_path: Path, char: str, height: int, angle: float, limit: int) -> np.ndarray:
    """The ink of one character as a uint8 mask (255 = ink), about ``height`` pixels tall, at most ``limit`` wide."""
    from PIL import Image, ImageDraw, ImageFont

    probe = ImageFont.truetype(str(font_path), 100)
    left, top, right, bottom = probe.getbbox(char)
    font = ImageFont.truetype(str(font_path), max(4, round(100 * height / max(1, bottom - top))))
    left, top, right, bottom = font.getbbox(char)
    mask = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(mask).text((2 - left, 2 - top), char, fill=255, font=font)
    if angle:
        mask = mask.rotate(angle, resample=Image.BICUBIC, expand=True)
    mask = mask.crop(mask.getbbox() or (0, 0, 1, 1))
    if max(mask.size) > limit:  # a wide glyph (W, M) at a large height: shrink it to fit
        mask.thumbnail((limit, limit), Image.LANCZOS)
    return np.asarray(mask, dtype=np.uint8)


def _page(mask: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Put ``mask`` at a random place on light paper with dark ink, blur and noise: uint8 (size, size)."""
    from PIL import Image, ImageFilter

    paper = rng.uniform(170, 255)
    ink = rng.uniform(0, min(90, paper - 80))
    alpha = np.zeros((size, size), np.float32)
    h, w = mask.shape
    top, left = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
    alpha[top : top + h, left : left + w] = mask / 255
    page = np.rint(paper + (ink - paper) * alpha).astype(np.uint8)
    page = Image.fromarray(page).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0)))
    page = np.asarray(page, np.float32) + rng.normal(0, rng.uniform(0, 8), (size, size))
    return np.rint(page).clip(0, 255).astype(np.uint8)


def render_glyphs(
    chars: str,
    n_per_font_char: int = 2,
    seed: int = 0,
    size: int = 64,
    fonts: Sequence[str | Path] | None = None,
    max_angle: float = 8.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Render every character in every font, ``n_per_font_char`` times, as printed on paper.

    Each image is dark ink (gray level 0–90) on light paper (170–255) at least 80 levels
    apart, the glyph 30–90 % of the side tall at a random place, rotated by up to
    ``max_angle`` degrees, blurred (Gaussian radius 0–1 px) and with Gaussian noise
    (σ 0–8 levels). Stroke width varies through the fonts' variants (ExtraLight to Bold,
    condensed, serif, mono, italic). The same ``seed`` gives the same images.

    Example:
        >>> images, labels = render_glyphs("AB", n_per_font_char=1)   # letters work too
        >>> images.shape[1:], sorted(set(labels.tolist()))
        ((64, 64), [0, 1])

    Args:
        chars: The characters to render; a label is the character's index in ``chars``.
        n_per_font_char: Renderings of each (font, character) pair.
        seed: Seed of the random size, place, contrast, rotation, blur and noise.
        size: Side of the square images in pixels (at least 16).
        fonts: Font files to use; by default the :data:`PRINTED` ones (:func:`find_fonts`).
        max_angle: Largest rotation in degrees, either way.

    Returns:
        ``(images, labels)``: uint8 (N, size, size) and int64 (N,), ordered by font, then
        character, then rendering; N = fonts × len(chars) × n_per_font_char.

    Raises:
        ValueError: If ``chars`` is empty or ``n_per_font_char`` or ``size`` is too small.
        FileNotFoundError: If no fonts are installed (the message names the packages).
    """
    if not isinstance(chars, str) or not chars:
        raise ValueError(f"chars must be a non-empty string of the characters to render, got {chars!r}.")
    if n_per_font_char < 1 or size < 16:
        raise ValueError(f"n_per_font_char must be >= 1 and size >= 16, got {n_per_font_char} and {size}.")
    font_paths = [Path(f) for f in fonts] if fonts is not None else find_fonts()
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for font_path in font_paths:
        for label, char in enumerate(chars):
            for _ in range(n_per_font_char):
                height = round(size * rng.uniform(0.3, 0.9))
                mask = _glyph_mask(font_path, char, height, rng.uniform(-max_angle, max_angle), size)
                images.append(_page(mask, size, rng))
                labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def printed_digits(
    n_per_font_digit: int = 2, seed: int = 0, chars: str = "0123456789", size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Printed digits in every installed font: :func:`render_glyphs` with digit labels.

    Args:
        n_per_font_digit: Renderings of each (font, digit) pair.
        seed: Seed of the random rendering (see :func:`render_glyphs`).
        chars: The characters; labels are indices into it, so the default's labels are the
            digits' values. Pass letters to get printed "not a digit" examples.
        size: Side of the square images in pixels.

    Returns:
        ``(images, labels)``: uint8 (N, size, size) dark ink on light paper, int64 (N,).
    """
    return render_glyphs(chars, n_per_font_char=n_per_font_digit, seed=seed, size=size)


def handwriting_digits(n_per_font_digit: int = 4, seed: int = 0, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Digits in the :data:`HANDWRITING` typefaces, on paper: :func:`render_glyphs` with digit labels.

    Shapes nobody here drew: European 1s and 7s, open and closed 4s, looped 2s, slanted
    and upright hands, hairline to marker strokes.

    Args:
        n_per_font_digit: Renderings of each (font, digit) pair.
        seed: Seed of the random rendering (see :func:`render_glyphs`).
        size: Side of the square images in pixels.

    Returns:
        ``(images, labels)``: uint8 (N, size, size) dark ink on light paper, int64 (N,) digit values.

    Raises:
        FileNotFoundError: If a handwriting font package is missing (the message names them).
    """
    return render_glyphs(
        "0123456789", n_per_font_char=n_per_font_digit, seed=seed, size=size, fonts=find_fonts(HANDWRITING)
    )


def mnist_style(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Glyph masks (255 = ink, any size) framed as MNIST frames its digits: uint8 (N, 28, 28).

    As MNIST's own construction (LeCun et al.): the ink's box scaled so that its longer side
    is 20 px, anti-aliased, then placed so that its centre of mass is at pixel (14, 14); the
    levels stretched so that the ink's brightest pixel is 255, as in MNIST.
    Done with Pillow and SciPy only, independent of the library's ``normalize_digits``, so
    that the digits a benchmark draws from do not depend on the code it measures.

    Raises:
        ValueError: If a mask is not 2-D or has no ink.
    """
    from PIL import Image
    from scipy import ndimage

    from mobilenet_mnist.data.digits import BOX, CENTER, FRAME  # MNIST's frame, one definition

    framed = []
    for i, mask in enumerate(masks):
        if mask.ndim != 2 or not mask.any():
            raise ValueError(f"mask {i} must be a 2-D array with some ink (> 0), got shape {mask.shape}.")
        glyph = Image.fromarray(np.asarray(mask, np.uint8))
        glyph = glyph.crop(glyph.getbbox())
        scale = BOX / max(glyph.size)
        glyph = glyph.resize((max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))), Image.LANCZOS)
        ink = np.asarray(glyph, np.float32)
        row, col = ndimage.center_of_mass(ink)
        frame = np.zeros((FRAME, FRAME), np.float32)
        top, left = (FRAME - ink.shape[0]) // 2, (FRAME - ink.shape[1]) // 2
        frame[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
        shift = (CENTER - (top + row), CENTER - (left + col))
        framed.append(ndimage.shift(frame, shift, order=1, mode="constant"))
    stacked = np.stack(framed)
    stacked *= 255 / stacked.max(axis=(1, 2), keepdims=True)  # MNIST's ink reaches full white (a thin font's fades)
    return np.rint(stacked).clip(0, 255).astype(np.uint8)


def handwriting_glyphs(n_per_font_digit: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The :data:`HANDWRITING` fonts' digits framed as MNIST's (:func:`mnist_style`), slightly rotated.

    Args:
        n_per_font_digit: Glyphs of each (font, digit) pair, each with its own rotation (±8°).
        seed: Seed of the rotations.

    Returns:
        ``(images, labels)``: uint8 (N, 28, 28) white on black, int64 (N,) digit values,
        ordered by font, then digit, then copy.
    """
    rng = np.random.default_rng(seed)
    masks, labels = [], []
    for font_path in find_fonts(HANDWRITING):
        for digit in range(10):
            for _ in range(n_per_font_digit):
                masks.append(_glyph_mask(font_path, str(digit), 100, rng.uniform(-8.0, 8.0), 200))
                labels.append(digit)
    return mnist_style(masks), np.asarray(labels, dtype=np.int64)
