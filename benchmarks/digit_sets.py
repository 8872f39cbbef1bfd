"""Real digit sets that are not MNIST, built offline: scikit-learn's 8×8 digits and printed glyphs.

* :func:`sklearn_digits`: the 1,797 handwritten 8×8 digits of scikit-learn's
  ``load_digits`` (UCI "Optical Recognition of Handwritten Digits"), which ship inside the
  scikit-learn wheel: white ink on black, values 0–16, scaled here to uint8 0–255.
* :func:`render_glyphs`: any characters rendered from the machine's TrueType fonts as
  photos of printed paper would show them: dark ink on light paper, random contrast, size,
  place, slight rotation, blur and noise. :func:`printed_digits` is its digit case; the
  same function renders printed letters (``chars="ABC..."``) as "not a digit" examples.

Nothing is downloaded. Fonts come from the Debian packages ``fonts-dejavu-core``,
``fonts-dejavu-extra`` and ``fonts-liberation`` (``apt-get install`` them); scikit-learn
from PyPI (``pip install scikit-learn``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["FONT_DIRS", "find_fonts", "printed_digits", "render_glyphs", "sklearn_digits"]

#: Where the Debian font packages put their TrueType files.
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
_FONT_PACKAGES = "fonts-dejavu-core fonts-dejavu-extra fonts-liberation"


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


def find_fonts(dirs: Sequence[Path] = FONT_DIRS) -> list[Path]:
    """The TrueType files under ``dirs``, sorted by name (a stable order for seeded sets).

    Raises:
        FileNotFoundError: If there is none; the message names the Debian packages to install.
    """
    fonts = sorted((path for folder in dirs for path in Path(folder).glob("*.ttf")), key=lambda p: p.name)
    if not fonts:
        raise FileNotFoundError(
            f"No TrueType fonts found in {[str(d) for d in dirs]}; install them with "
            f"`apt-get install {_FONT_PACKAGES}` (Debian/Ubuntu) or pass fonts=[...] paths."
        )
    return fonts


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
        fonts: TrueType files to use; by default every font of :func:`find_fonts`.
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
