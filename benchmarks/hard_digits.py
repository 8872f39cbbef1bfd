"""A hard-input digit set, generated offline: MNIST handwriting as users photograph and scan it.

Every image is one MNIST *test* digit, redrawn as pen strokes at the target size
(:func:`strokes`: bicubic upscaling of the 28×28 digit, a light blur that rounds the pixel
grid off, its centre lines retraced by a round pen of a chosen width with anti-aliased
edges: a thin ballpoint to a thick marker) and drawn as ink on a background, in one of
these settings:

========================  ============================================================
``clean_scan``            dark ink on white paper (the control)
``form_box``              written inside a printed rectangle; half the time the
                          neighbouring boxes' edges (comb fields, table cells) run past
                          the crop; sometimes the digit touches or crosses the box
``grid_paper``            squared notebook paper, light lines every 15–30 px
``ruled_paper``           horizontal rules, sometimes a vertical margin line
``line_through``          one or two straight lines (table border, strike-through,
                          underline) crossing or touching the digit
``phone_photo``           uneven lighting and a shadow, blur, sensor noise, JPEG, RGB
``pencil``                gray, grainy, lighter strokes of varying pressure
``sticky_note``           thick marker on a yellow/pink/green/orange/blue note, RGB
``whiteboard_glare``      marker on a light-gray whiteboard under a glare highlight
                          (screen blend toward white, strength up to 0.8)
``chalkboard``            light, gappy chalk strokes on a dark green or black board
``erased_writing``        faint ghost writing (another MNIST digit or strokes at 10–30 %
                          of the ink's contrast) beside or over the digit
``touching_neighbours``   parts of neighbouring digits cut off at the crop's left/right
                          edges (a multi-digit number cropped), sometimes touching
========================  ============================================================

Sizes (crops of 48–200 px, not always square), positions, ink and paper levels, a slight
rotation of the handwriting (±3°) and of the page (±1°), blur, noise and JPEG (PIL,
quality 40–85) are random. Each image has its own generator, seeded by ``(seed, setting,
index)``: a set is deterministic given its seed, and a smaller ``per_setting`` gives the
first images of a larger one.

The digits come from the MNIST test set, never from its first 2,000 images (which the
library's other checks use): split ``"dev"`` draws from test images 2,000–5,999 (tune on
it), ``"test"`` from 6,000–9,999 (report on it). Each setting draws its own digits from
the split, without repetition inside a setting.

Images are uint8 ``(H, W)`` gray or ``(H, W, 3)`` RGB numpy arrays (pass RGB ones to
``predict`` as PIL images: ``PIL.Image.fromarray(image)``). Nothing is downloaded; the
generator needs NumPy, Pillow and SciPy (SciPy comes with scikit-learn, in the dev extra).

Write a contact sheet to look at (10 examples per setting, labels in the corner)::

    python benchmarks/hard_digits.py --sheet /tmp/hard_sheet.png --split dev
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

__all__ = [
    "DEFAULT_SEED",
    "SETTINGS",
    "SPLITS",
    "hard_digits",
    "hard_from_digits",
    "render",
    "sample_indices",
    "split_pool",
    "strokes",
]

#: MNIST test-image index ranges of the splits (half-open); the first 2,000 are left out.
SPLITS = {"dev": (2000, 6000), "test": (6000, 10000)}
#: The seed of the published set (``seed=None``).
DEFAULT_SEED = 0
#: Crop sides stay within this range (pixels).
MIN_SIDE, MAX_SIDE = 48, 200
#: The paper a digit's ink encloses in MNIST's 28×28 grid is a loop from this many pixels on.
LOOP_MIN_AREA = 2

Array = np.ndarray
Rng = np.random.Generator


# ============================================================================ data
@dataclass(frozen=True)
class Pool:
    """The MNIST test digits of one split: uint8 (N, 28, 28), labels (N,), their test-set indices."""

    images: Array
    labels: Array
    indices: Array

    def other(self, rng: Rng, not_label: int) -> Array:
        """A random digit of this split whose label is not ``not_label`` (ghosts and neighbours)."""
        while True:
            i = int(rng.integers(len(self.labels)))
            if int(self.labels[i]) != not_label:
                return self.images[i]


@lru_cache(maxsize=4)
def _mnist_test(mnist_dir: str) -> tuple[Array, Array]:
    from mobilenet_mnist.data.datasets import load_dataset

    test = load_dataset("mnist", "test", root=mnist_dir)
    return test.images.numpy(), test.labels.numpy()


def split_pool(mnist_dir: str | Path, split: str) -> Pool:
    """The digits of ``split`` (``"dev"`` or ``"test"``, see :data:`SPLITS`) from the MNIST IDX folder."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}.")
    images, labels = _mnist_test(str(mnist_dir))
    start, stop = SPLITS[split]
    return Pool(images[start:stop], labels[start:stop], np.arange(start, stop))


def _setting_key(name: str) -> int:
    return zlib.crc32(name.encode())


def sample_indices(split: str, per_setting: int, seed: int | None = None) -> dict[str, Array]:
    """The MNIST test-set indices of the digits each setting draws (no repeats inside a setting).

    A setting's order is a fixed permutation of the split, so a smaller ``per_setting``
    takes the first digits of a larger one.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}.")
    start, stop = SPLITS[split]
    if not 1 <= per_setting <= stop - start:
        raise ValueError(f"per_setting must be in [1, {stop - start}] (the split's size), got {per_setting}.")
    seed = DEFAULT_SEED if seed is None else seed
    return {
        name: start + np.random.default_rng([seed, _setting_key(name)]).permutation(stop - start)[:per_setting]
        for name in SETTINGS
    }


def hard_digits(
    mnist_dir: str | Path,
    split: str = "dev",
    per_setting: int = 200,
    seed: int | None = None,
    settings: Sequence[str] | None = None,
) -> dict[str, tuple[list[Array], Array]]:
    """The hard set: setting name → (images, labels).

    Args:
        mnist_dir: Folder with MNIST's IDX files (``t10k-images-idx3-ubyte.gz`` ...).
        split: ``"dev"`` (test images 2,000–5,999, for tuning) or ``"test"`` (6,000–9,999,
            for reporting).
        per_setting: Images per setting (at most 4,000).
        seed: Another draw of the set; None gives the published one (:data:`DEFAULT_SEED`).
        settings: Only these settings (default: all of :data:`SETTINGS`); a setting's
            images do not depend on which others are drawn.

    Returns:
        For each setting, in the order of :data:`SETTINGS`: a list of uint8 ``(H, W)``
        gray or ``(H, W, 3)`` RGB images and their int64 labels.

    Raises:
        ValueError: For an unknown split or a ``per_setting`` outside [1, 4000].
        KeyError: For an unknown setting name.
    """
    seed = DEFAULT_SEED if seed is None else seed
    _check_settings(settings)
    pool = split_pool(mnist_dir, split)
    images_all, labels_all = _mnist_test(str(mnist_dir))
    return {
        name: _draw_setting(name, images_all[indices], labels_all[indices], pool, seed)
        for name, indices in sample_indices(split, per_setting, seed).items()
        if settings is None or name in settings
    }


def hard_from_digits(
    digits: Array,
    labels: Array,
    mnist_dir: str | Path,
    split: str = "dev",
    seed: int | None = None,
    settings: Sequence[str] | None = None,
) -> dict[str, tuple[list[Array], Array]]:
    """The hard settings drawn from other digits than MNIST's: every one of ``digits`` once per setting.

    For digits nobody here wrote, e.g. handwriting typefaces framed as MNIST's
    (:func:`benchmarks.digit_sets.handwriting_glyphs`). Ghost writing and neighbours still
    come from the MNIST ``split``.

    Args:
        digits: uint8 (N, 28, 28) white on black, framed as MNIST's.
        labels: Their (N,) digit values.
        mnist_dir: Folder with MNIST's IDX files (the neighbours' and ghosts' digits).
        split: The MNIST split the neighbours and ghosts come from.
        seed: Another draw; None gives :data:`DEFAULT_SEED`.
        settings: Only these settings (default: all of :data:`SETTINGS`).

    Returns:
        For each setting, in the order of :data:`SETTINGS`: N images and the N labels.

    Raises:
        ValueError: If ``digits`` is not (N, 28, 28) uint8 or ``labels`` does not match it.
        KeyError: For an unknown setting name.
    """
    if digits.ndim != 3 or digits.shape[1:] != (28, 28) or digits.dtype != np.uint8:
        raise ValueError(f"digits must be uint8 (N, 28, 28) framed as MNIST's, got {digits.dtype} {digits.shape}.")
    if labels.shape != (len(digits),):
        raise ValueError(f"labels must be ({len(digits)},), one per digit, got {labels.shape}.")
    seed = DEFAULT_SEED if seed is None else seed
    _check_settings(settings)
    pool = split_pool(mnist_dir, split)
    chosen = [name for name in SETTINGS if settings is None or name in settings]
    return {name: _draw_setting(name, digits, labels, pool, seed) for name in chosen}


def _check_settings(settings: Sequence[str] | None) -> None:
    unknown = sorted(set(settings or ()) - set(SETTINGS))
    if unknown:
        raise KeyError(f"Unknown setting(s) {unknown}; valid: {', '.join(SETTINGS)}.")


def _draw_setting(name: str, digits: Array, labels: Array, pool: Pool, seed: int) -> tuple[list[Array], Array]:
    """Setting ``name``'s images of ``digits`` (the i-th drawn with generator (seed, name, i)) and their labels."""
    images = [render(name, digit, int(label), pool, _image_rng(seed, name, i)) for i, (digit, label) in
              enumerate(zip(digits, labels, strict=True))]  # fmt: skip
    return images, np.asarray(labels, dtype=np.int64)


def _image_rng(seed: int, name: str, index: int) -> Rng:
    return np.random.default_rng([seed, _setting_key(name), index])


def render(name: str, digit: Array, label: int, pool: Pool, rng: Rng) -> Array:
    """One image of setting ``name`` showing ``digit`` (uint8 28×28, white on black)."""
    if name not in SETTINGS:
        raise KeyError(f"Unknown setting {name!r}; valid: {', '.join(SETTINGS)}.")
    return SETTINGS[name](Draw(digit, label, pool, rng))


@dataclass
class Draw:
    """What a setting draws from: the digit, its label, the split's other digits, a generator."""

    digit: Array
    label: int
    pool: Pool
    rng: Rng


# ============================================================================ primitives
def _resize(a: Array, h: int, w: int) -> Array:
    """Bicubic resize of a float 2-D array (PIL's "F" mode)."""
    return np.asarray(Image.fromarray(a.astype(np.float32)).resize((max(1, w), max(1, h)), Image.BICUBIC))


def _blur(a: Array, sigma: float) -> Array:
    """Gaussian blur over the first two axes (the channels of an RGB array are blurred separately)."""
    if sigma < 0.2:
        return a
    return ndimage.gaussian_filter(a, (sigma, sigma, 0)[: a.ndim], mode="nearest")


def _field(rng: Rng, h: int, w: int, cells: int, low: float, high: float) -> Array:
    """A smooth random field in [low, high]: a coarse random grid, bicubic-upscaled."""
    grid = rng.uniform(low, high, (cells, cells))
    return np.clip(_resize(grid, h, w), low, high)


def _grain(rng: Rng, h: int, w: int, sigma: float, coverage: float) -> Array:
    """Paper/chalk grain: smoothed noise turned into a soft 0–1 mask covering about ``coverage``."""
    noise = _blur(rng.standard_normal((h, w)), sigma)
    noise /= noise.std() + 1e-6
    cut = np.quantile(noise, 1 - coverage)
    return np.clip((noise - cut) * 1.5 + 0.5, 0, 1)


def _thinning_tables() -> tuple[Array, Array]:
    """Zhang & Suen's deletion rule for both sub-iterations, for every 8-neighbourhood code."""
    tables = np.zeros((2, 256), bool)
    for code in range(256):
        n = [(code >> i) & 1 for i in range(8)]  # P2, P3, ..., P9: clockwise from north
        count = sum(n)
        crossings = sum(n[i] == 0 and n[(i + 1) % 8] == 1 for i in range(8))
        p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
        if 2 <= count <= 6 and crossings == 1:
            tables[0, code] = not (p2 and p4 and p6) and not (p4 and p6 and p8)
            tables[1, code] = not (p2 and p4 and p8) and not (p2 and p6 and p8)
    return tables


_THINNING = _thinning_tables()


def _thin(shape: Array) -> Array:
    """The centre lines of a binary shape, one pixel wide (Zhang & Suen's thinning, 1984)."""
    b = shape.copy()
    changed = True
    while changed:
        changed = False
        for table in _THINNING:
            p = np.pad(b, 1).astype(np.uint8)
            neighbours = (p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:], p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2],
                          p[:-2, :-2])  # fmt: skip
            code = np.zeros(b.shape, np.uint8)
            for bit, n in enumerate(neighbours):
                code |= n << bit
            remove = b & table[code]
            if remove.any():
                b &= ~remove
                changed = True
    return b


def _loops(digit: Array, level: float = 0.5, min_area: int = LOOP_MIN_AREA) -> Array:
    """The insides of the digit's loops: paper enclosed by its ink (at ``level``), ``min_area`` pixels or more.

    A blob of an "8" or the small loop of a "9" can enclose only a few of MNIST's pixels;
    smaller gaps are the grid's, not the writer's.
    """
    ink = digit >= level
    enclosed = ndimage.binary_fill_holes(ink) & ~ink  # 4-connected paper: a diagonal gap in a stroke closes a loop
    loops, count = ndimage.label(enclosed)
    areas = ndimage.sum_labels(enclosed, loops, np.arange(1, count + 1))
    return np.isin(loops, 1 + np.flatnonzero(areas >= min_area))


def strokes(digit: Array, height: float, width: float, angle: float = 0.0) -> Array:
    """The digit redrawn with a pen ``width`` px wide: a coverage mask (float 0–1), its ink ``height`` px tall.

    The digit's ink box is upscaled bicubically and smoothed (rounding the 28×28 grid off);
    its strokes are normalized by their local peak (faint and bold strokes alike) and
    thresholded into a shape whose centre lines (:func:`_thin`) a round pen of ``width``
    retraces, with a one-pixel anti-aliased edge. Where MNIST's own ink is wider than a
    stroke (a filled loop, ink pooled in a corner) the shape, shrunk by the width
    difference, is kept, so the digit stays the digit its writer drew. So are its loops
    (:func:`_loops`: the paper its ink encloses in the 28×28 grid): a pen wider than the
    small loop of a "9" would close it into a "7", so the loop stays paper. The mask is
    rotated by ``angle`` degrees and cropped to its ink.
    """
    d = digit.astype(np.float32) / 255
    rows, cols = np.flatnonzero(d.max(1) > 0.15), np.flatnonzero(d.max(0) > 0.15)
    d = np.pad(d[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], 3)
    loops = _loops(d)
    d = ndimage.gaussian_filter(d, 0.5)
    scale = height / (rows[-1] - rows[0] + 1)
    size = (round(d.shape[0] * scale), round(d.shape[1] * scale))
    u = _blur(_resize(d, *size), 0.3 * scale)
    peak = _blur(_resize(ndimage.maximum_filter(d, 3), *size), 0.5 * scale)
    ridge = u / np.maximum(peak, 0.25)
    holes = _resize(loops.astype(np.float32), *size)
    if angle:
        ridge, holes = (np.asarray(Image.fromarray(a.astype(np.float32)).rotate(angle, Image.BILINEAR, expand=True))
                        for a in (ridge, holes))  # fmt: skip
    margin = 2 + math.ceil(width)
    holes = np.pad(holes > 0.5, margin)
    shape = np.pad(ridge > 0.45, margin) & ~holes
    centre = _thin(shape)
    pen = np.clip(width / 2 + 0.5 - ndimage.distance_transform_edt(~centre), 0, 1)
    inside = ndimage.distance_transform_edt(shape)
    shrink = float(np.median(inside[centre])) - width / 2 if centre.any() else 0.0
    if shrink > 0:
        pen = np.maximum(pen, np.clip(inside - shrink - 0.5, 0, 1))
    if holes.any():  # a loop the writer left open stays open, however wide the pen
        pen = np.minimum(pen, np.clip(ndimage.distance_transform_edt(~holes) - 0.5, 0, 1))
    rows, cols = np.flatnonzero(pen.max(1) > 0), np.flatnonzero(pen.max(0) > 0)
    return pen[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32)


def _pen(draw: Draw, height: float, widths: tuple[float, float] = (0.04, 0.12)) -> Array:
    """The digit in a random pen width (a fraction of its height, at least 1.4 px) and slant (±3°)."""
    rng = draw.rng
    return strokes(draw.digit, height, max(1.4, height * rng.uniform(*widths)), rng.uniform(-3, 3))


def _fit(mask_fn: Callable[[float], Array], height: float, max_w: float) -> Array:
    """A mask ``height`` tall, redrawn smaller when wider than ``max_w``."""
    mask = mask_fn(height)
    if mask.shape[1] > max_w:
        mask = mask_fn(height * max_w / mask.shape[1])
    return mask


def _place(mask: Array, h: int, w: int, top: float, left: float) -> Array:
    """``mask`` pasted into an (h, w) zero array at (top, left), cut at the edges."""
    out = np.zeros((h, w), np.float32)
    top, left = round(top), round(left)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + mask.shape[0], h), min(left + mask.shape[1], w)
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = mask[y0 - top : y1 - top, x0 - left : x1 - left]
    return out


def _segment(h: int, w: int, p0: tuple[float, float], p1: tuple[float, float], width: float) -> Array:
    """Anti-aliased coverage of a straight segment from p0 to p1 ((x, y) points), ``width`` px wide."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((x - x0) * dx + (y - y0) * dy) / max(dx * dx + dy * dy, 1e-6), 0, 1)
    dist = np.hypot(x - (x0 + t * dx), y - (y0 + t * dy))
    return np.clip(width / 2 + 0.5 - dist, 0, 1)


def _line(h: int, w: int, point: tuple[float, float], angle: float, width: float) -> Array:
    """A straight line through ``point`` (x, y) at ``angle`` degrees (0: horizontal), across the whole crop."""
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    far = 2 * (h + w)
    (x, y) = point
    return _segment(h, w, (x - far * c, y - far * s), (x + far * c, y + far * s), width)


def _rot(points: Array, center: tuple[float, float], angle: float) -> Array:
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    p = points - center
    return np.stack([p[:, 0] * c - p[:, 1] * s, p[:, 0] * s + p[:, 1] * c], 1) + center


def _paper(h: int, w: int, color: Array, rng: Rng, unevenness: float = 4.0) -> Array:
    """(h, w, 3) float paper of ``color`` with a slight smooth unevenness."""
    return np.asarray(color, np.float32) + _field(rng, h, w, 3, -unevenness, unevenness)[..., None]


def _multiply(canvas: Array, alpha: Array, color: Array) -> Array:
    """Ink on paper: darkens as real ink does (lines under ink get darker, not hidden)."""
    tint = np.asarray(color, np.float32) / 255
    return canvas * (1 - alpha[..., None] * (1 - tint))


def _over(canvas: Array, alpha: Array, color: Array) -> Array:
    """Opaque paint (chalk, marker on a board) over the background."""
    return canvas * (1 - alpha[..., None]) + np.asarray(color, np.float32) * alpha[..., None]


def _finish(canvas: Array, rng: Rng, *, blur: float, noise: float, jpeg: float | None, gray: bool) -> Array:
    """Camera/scanner: blur, sensor noise, 8 bits, gray (luma) or RGB, then JPEG (quality ``jpeg``)."""
    x = _blur(canvas, blur)
    if gray:
        x = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = x + rng.normal(0, noise, x.shape)
    image = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    if jpeg is not None:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=int(jpeg))
        image = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
    return np.ascontiguousarray(image)


def _scan_finish(canvas: Array, rng: Rng, gray: bool = True) -> Array:
    """A scanner's or a good photo's degradations: mild blur and noise, JPEG half the time."""
    jpeg = rng.uniform(40, 85) if rng.random() < 0.5 else None
    return _finish(canvas, rng, blur=rng.uniform(0.3, 0.9), noise=rng.uniform(1, 4), jpeg=jpeg, gray=gray)


def _crop_size(rng: Rng, low: int = 56, high: int = 170) -> tuple[int, int]:
    """A crop (h, w): side in [low, high], aspect 0.7–1.4, both kept in [MIN_SIDE, MAX_SIDE]."""
    side, aspect = rng.uniform(low, high), math.exp(rng.uniform(-0.35, 0.35))
    h = int(np.clip(side / math.sqrt(aspect), MIN_SIDE, MAX_SIDE))
    w = int(np.clip(side * math.sqrt(aspect), MIN_SIDE, MAX_SIDE))
    return h, w


def _centered(rng: Rng, mask: Array, h: int, w: int, jitter: float = 0.5) -> tuple[float, float]:
    """A (top, left) that keeps ``mask`` inside (h, w), off-center by up to ``jitter`` of the slack."""
    slack_y, slack_x = max(h - mask.shape[0], 0), max(w - mask.shape[1], 0)
    return (slack_y * (0.5 + rng.uniform(-jitter, jitter) / 2), slack_x * (0.5 + rng.uniform(-jitter, jitter) / 2))


def _digit_scene(
    draw: Draw, fill: tuple[float, float] = (0.5, 0.8), widths: tuple[float, float] = (0.04, 0.12)
) -> tuple[Array, int, int]:
    """A crop and the digit's stroke mask placed in it (the digit fills ``fill`` of the crop's height)."""
    h, w = _crop_size(draw.rng)
    mask = _fit(lambda height: _pen(draw, height, widths), h * draw.rng.uniform(*fill), 0.9 * w)
    return _place(mask, h, w, *_centered(draw.rng, mask, h, w)), h, w


def _paper_color(rng: Rng, low: float = 215, high: float = 252) -> Array:
    level = rng.uniform(low, high)
    return level + rng.uniform(-4, 4, 3) * np.array([1.0, 0.6, -0.6])  # a slightly warm or cool white


def _ink_color(rng: Rng, dark: tuple[float, float] = (10, 70)) -> Array:
    """Black, blue or (rarely) another dark pen ink."""
    level = rng.uniform(*dark)
    kind = rng.choice(3, p=[0.55, 0.35, 0.10])
    hues = (np.ones(3), np.array([0.7, 0.9, 3.0]), np.array([1.1, 0.6, 0.6]))
    return np.clip(level * hues[kind], 0, 255)


# ============================================================================ settings
def clean_scan(draw: Draw) -> Array:
    """Dark ink on white paper: the control."""
    rng = draw.rng
    alpha, h, w = _digit_scene(draw)
    canvas = _multiply(_paper(h, w, _paper_color(rng), rng), alpha, np.full(3, rng.uniform(0, 70)))
    return _scan_finish(canvas, rng)


def form_box(draw: Draw) -> Array:
    """The digit inside a printed rectangle, the crop around the box; neighbouring boxes half the time."""
    rng = draw.rng
    box_h = rng.uniform(48, 150)
    box_w = min(box_h * rng.uniform(0.8, 1.25), 170)
    margins = rng.uniform(0, 0.15, 4) * box_h  # top, bottom, left, right
    margins[2:] *= min(1.0, (MAX_SIDE - box_w) / (margins[2] + margins[3] + 1e-6))  # the crop stays <= 200 px
    h = int(np.clip(box_h + margins[0] + margins[1], MIN_SIDE, MAX_SIDE))
    w = int(np.clip(box_w + margins[2] + margins[3], MIN_SIDE, MAX_SIDE))
    top, left = margins[0], margins[2]
    mask = _fit(lambda height: _pen(draw, height), box_h / rng.uniform(1.1, 1.6), 0.9 * box_w)
    y, x = top + (box_h - mask.shape[0]) / 2, left + (box_w - mask.shape[1]) / 2
    y += rng.uniform(-0.35, 0.35) * (box_h - mask.shape[0])
    x += rng.uniform(-0.35, 0.35) * (box_w - mask.shape[1])
    if rng.random() < 0.25:  # written over the box's edge, most often its bottom
        side = rng.choice(4, p=[0.15, 0.45, 0.2, 0.2])
        over = rng.uniform(-0.05, 0.15) * mask.shape[0]
        if side == 0:
            y = top - over
        elif side == 1:
            y = top + box_h - mask.shape[0] + over
        elif side == 2:
            x = left - over
        else:
            x = left + box_w - mask.shape[1] + over
    lines = _box_lines(rng, h, w, top, left, box_h, box_w)
    gray = rng.random() < 0.5
    line_color = _print_color(rng, gray)
    paper = _paper(h, w, _paper_color(rng), rng)
    canvas = _multiply(_multiply(paper, lines, line_color), _place(mask, h, w, y, x), _ink_color(rng))
    return _scan_finish(canvas, rng, gray=gray)


def _print_color(rng: Rng, gray: bool) -> Array:
    """A form's printed line colour: black, gray, or (in colour scans) a blue."""
    kind = rng.choice(3) if not gray else rng.choice(2)
    if kind == 0:
        return np.full(3, rng.uniform(0, 60))
    if kind == 1:
        return np.full(3, rng.uniform(70, 140))
    return np.array([rng.uniform(40, 110), rng.uniform(90, 150), rng.uniform(170, 230)])


def _box_lines(rng: Rng, h: int, w: int, top: float, left: float, box_h: float, box_w: float) -> Array:
    """Coverage of the box's lines: single, comb field, separate boxes or table cells."""
    width = rng.uniform(1, 4)
    skew = rng.uniform(-1, 1)
    center = (left + box_w / 2, top + box_h / 2)
    x0, x1, y0, y1 = left, left + box_w, top, top + box_h
    far = 2 * (h + w)
    mode = rng.choice(["single", "comb", "boxes", "table"], p=[0.5, 0.2, 0.15, 0.15])
    gap = rng.uniform(0.03, 0.12) * box_w
    segments = [((x0, y0), (x1, y0)), ((x0, y1), (x1, y1)), ((x0, y0), (x0, y1)), ((x1, y0), (x1, y1))]
    if mode in ("comb", "table"):  # the row's top and bottom lines run through the crop
        segments += [((x0 - far, y0), (x1 + far, y0)), ((x0 - far, y1), (x1 + far, y1))]
    if mode == "table":  # and the column's sides too
        segments += [((x0, y0 - far), (x0, y1 + far)), ((x1, y0 - far), (x1, y1 + far))]
    if mode == "boxes":  # the next boxes' near sides, a small gap away
        for sign, edge in ((-1, x0 - gap), (1, x1 + gap)):
            segments += [((edge, y0), (edge, y1)), ((edge, y0), (edge + sign * far, y0)),
                         ((edge, y1), (edge + sign * far, y1))]  # fmt: skip
    cover = np.zeros((h, w), np.float32)
    for p0, p1 in segments:
        ends = _rot(np.array([p0, p1], np.float64), center, skew)
        cover = np.maximum(cover, _segment(h, w, tuple(ends[0]), tuple(ends[1]), width))
    return cover


def grid_paper(draw: Draw) -> Array:
    """Squared notebook paper: light lines every 15–30 px crossing the digit."""
    rng = draw.rng
    spacing = rng.uniform(15, 30)
    h, w = _crop_size(rng, 60, 180)
    mask = _fit(lambda height: _pen(draw, height), min(spacing * rng.uniform(1.3, 3.2), 0.85 * h), 0.9 * w)
    alpha = _place(mask, h, w, *_centered(rng, mask, h, w))
    gray = rng.random() < 0.4
    lines = _rules(rng, h, w, spacing, rng.uniform(-0.7, 0.7), horizontal=True, vertical=True)
    canvas = _multiply(_paper(h, w, _paper_color(rng), rng), lines, _rule_color(rng, gray))
    canvas = _multiply(canvas, alpha, _ink_color(rng))
    return _scan_finish(canvas, rng, gray=gray)


def _rule_color(rng: Rng, gray: bool) -> Array:
    """Light printed rules: a pale blue (colour) or a light gray."""
    if gray:
        return np.full(3, rng.uniform(150, 205))
    return np.array([rng.uniform(130, 190), rng.uniform(165, 215), rng.uniform(215, 250)])


def _rules(rng: Rng, h: int, w: int, spacing: float, skew: float, *, horizontal: bool, vertical: bool) -> Array:
    width = rng.uniform(0.8, 1.8)
    cover = np.zeros((h, w), np.float32)
    offset = rng.uniform(0, spacing, 2)
    if horizontal:
        for y in np.arange(offset[0], h, spacing):
            cover = np.maximum(cover, _line(h, w, (w / 2, y), skew, width))
    if vertical:
        for x in np.arange(offset[1], w, spacing):
            cover = np.maximum(cover, _line(h, w, (x, h / 2), 90 + skew, width))
    return cover


def ruled_paper(draw: Draw) -> Array:
    """Lined paper: horizontal rules (the digit on or across them), sometimes a vertical margin line."""
    rng = draw.rng
    spacing = rng.uniform(18, 36)
    h, w = _crop_size(rng, 60, 180)
    mask = _fit(lambda height: _pen(draw, height), min(spacing * rng.uniform(0.8, 1.8), 0.85 * h), 0.9 * w)
    top, left = _centered(rng, mask, h, w)
    skew = rng.uniform(-0.7, 0.7)
    offset = rng.uniform(0, spacing)
    if rng.random() < 0.6:  # sitting on a rule
        rules_y = np.arange(offset, h, spacing)
        below = rules_y[rules_y > mask.shape[0] * 0.8]
        if len(below):
            top = float(np.clip(rng.choice(below) - mask.shape[0] + rng.uniform(-3, 4), 0, h - mask.shape[0]))
    gray = rng.random() < 0.4
    lines = np.zeros((h, w), np.float32)
    width = rng.uniform(0.8, 1.8)
    for y in np.arange(offset, h, spacing):
        lines = np.maximum(lines, _line(h, w, (w / 2, y), skew, width))
    canvas = _multiply(_paper(h, w, _paper_color(rng), rng), lines, _rule_color(rng, gray))
    if rng.random() < 0.35:  # the margin line, through or beside the digit
        x = left + rng.uniform(-0.3, 1.3) * mask.shape[1]
        margin = _line(h, w, (x, h / 2), 90 + skew, rng.uniform(1, 2.2))
        red = np.full(3, rng.uniform(150, 190)) if gray else np.array([230, rng.uniform(110, 160), 150])
        canvas = _multiply(canvas, margin, red)
    canvas = _multiply(canvas, _place(mask, h, w, top, left), _ink_color(rng))
    return _scan_finish(canvas, rng, gray=gray)


def line_through(draw: Draw) -> Array:
    """One or two straight lines (table border, strike-through, underline) crossing or touching the digit."""
    rng = draw.rng
    alpha, h, w = _digit_scene(draw, fill=(0.5, 0.75))
    rows, cols = np.flatnonzero(alpha.max(1) > 0.5), np.flatnonzero(alpha.max(0) > 0.5)
    y0, y1, x0, x1 = rows[0], rows[-1], cols[0], cols[-1]
    gray = rng.random() < 0.6
    canvas = _paper(h, w, _paper_color(rng), rng)
    for _ in range(1 + int(rng.random() < 0.4)):
        kind = rng.choice(["underline", "strike", "border_h", "border_v"])
        angle = rng.uniform(-3, 3)
        width = rng.uniform(1, 4)
        if kind == "underline":
            point = (w / 2, y1 + rng.uniform(-0.08, 0.1) * (y1 - y0))
        elif kind == "strike":
            point = (w / 2, y0 + rng.uniform(0.3, 0.7) * (y1 - y0))
        elif kind == "border_h":
            point = (w / 2, rng.choice([y0, y1]) + rng.uniform(-0.2, 0.2) * (y1 - y0))
        else:
            point, angle = (rng.choice([x0, x1]) + rng.uniform(-0.25, 0.25) * (x1 - x0), h / 2), 90 + angle
        point = (float(np.clip(point[0], 2, w - 3)), float(np.clip(point[1], 2, h - 3)))  # inside the crop
        color = _print_color(rng, gray) if kind.startswith("border") else _ink_color(rng)
        canvas = _multiply(canvas, _line(h, w, point, angle, width), color)
    canvas = _multiply(canvas, alpha, _ink_color(rng))
    return _scan_finish(canvas, rng, gray=gray)


def _lighting(rng: Rng, h: int, w: int) -> Array:
    """Uneven light: a gradient, a vignette and (usually) a soft-edged shadow, as a 0–1 gain."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, 2 * math.pi)
    ramp = ((x - w / 2) * math.cos(theta) + (y - h / 2) * math.sin(theta)) / max(h, w)
    gain = 1 - rng.uniform(0.1, 0.35) * (ramp + 0.5)
    gain *= 1 - rng.uniform(0, 0.25) * (((x - w / 2) / w) ** 2 + ((y - h / 2) / h) ** 2) * 2
    if rng.random() < 0.7:  # a hand's or phone's shadow from one side
        phi = rng.uniform(0, 2 * math.pi)
        edge = ((x - w / 2) * math.cos(phi) + (y - h / 2) * math.sin(phi)) - rng.uniform(-0.3, 0.3) * max(h, w)
        soft = rng.uniform(4, 30)
        gain *= 1 - rng.uniform(0.25, 0.55) / (1 + np.exp(-edge / soft))
    return gain


def phone_photo(draw: Draw) -> Array:
    """A phone photo of a note: uneven light and shadow, blur, sensor noise, JPEG, RGB."""
    rng = draw.rng
    alpha, h, w = _digit_scene(draw, fill=(0.45, 0.8), widths=(0.04, 0.14))
    paper = _paper(h, w, _paper_color(rng, 190, 245), rng, unevenness=6)
    canvas = _multiply(paper, alpha, _ink_color(rng, (15, 80))) * _lighting(rng, h, w)[..., None]
    return _finish(canvas, rng, blur=rng.uniform(0.6, 1.6), noise=rng.uniform(3, 9), jpeg=rng.uniform(40, 75),
                   gray=False)  # fmt: skip


def pencil(draw: Draw) -> Array:
    """Pencil: gray, grainy, lighter strokes whose pressure varies along the digit."""
    rng = draw.rng
    alpha, h, w = _digit_scene(draw, widths=(0.03, 0.08))
    pressure = _field(rng, h, w, 4, rng.uniform(0.35, 0.7), 1.0)
    grain = 0.45 + 0.55 * _grain(rng, h, w, 0.7, rng.uniform(0.55, 0.8))
    paper = _paper(h, w, _paper_color(rng, 220, 250), rng)
    graphite = np.full(3, rng.uniform(35, 95))
    canvas = _multiply(paper, alpha * pressure * grain * rng.uniform(0.75, 1.0), graphite)
    return _scan_finish(canvas, rng)


def sticky_note(draw: Draw) -> Array:
    """A thick marker digit on a coloured square note, RGB."""
    rng = draw.rng
    side = rng.uniform(60, 180)
    h = w = int(np.clip(side, MIN_SIDE, MAX_SIDE))
    h = int(np.clip(h * rng.uniform(0.9, 1.1), MIN_SIDE, MAX_SIDE))

    mask = _fit(lambda height: _pen(draw, height, (0.1, 0.2)), h * rng.uniform(0.5, 0.78), 0.9 * w)  # a marker
    notes = [(252, 236, 120), (250, 175, 200), (185, 236, 150), (255, 200, 120), (165, 212, 245)]
    color = np.array(notes[rng.integers(len(notes))], np.float32) + rng.uniform(-8, 8, 3)
    inks = [(25, 25, 30), (30, 50, 150), (170, 30, 40), (20, 110, 60)]
    ink = np.array(inks[rng.choice(4, p=[0.5, 0.25, 0.15, 0.1])], np.float32)
    canvas = _multiply(_paper(h, w, color, rng, 5), _place(mask, h, w, *_centered(rng, mask, h, w)), ink)
    canvas *= _field(rng, h, w, 2, 0.8, 1.0)[..., None]
    return _finish(canvas, rng, blur=rng.uniform(0.4, 1.2), noise=rng.uniform(2, 6), jpeg=rng.uniform(45, 85),
                   gray=False)  # fmt: skip


def whiteboard_glare(draw: Draw) -> Array:
    """Marker on a light-gray whiteboard under a glare highlight that washes part of the strokes out."""
    rng = draw.rng
    alpha, h, w = _digit_scene(draw, widths=(0.07, 0.16))
    board = _paper(h, w, rng.uniform(175, 222) + np.array([-3, 0, 4]) * rng.uniform(0, 2), rng, 6)
    inks = [(30, 30, 35), (35, 60, 150), (170, 40, 45), (30, 115, 65)]
    ink = np.array(inks[rng.choice(4, p=[0.45, 0.3, 0.15, 0.1])], np.float32)
    streaks = _field(rng, h, w, 6, 0.75, 1.0)  # a drying marker's uneven strokes
    canvas = _over(board, alpha * streaks, ink) * _field(rng, h, w, 2, 0.85, 1.0)[..., None]
    glare = _glare(rng, alpha, h, w)
    canvas = 255 - (255 - canvas) * (1 - glare[..., None])  # screen blend toward white
    return _finish(canvas, rng, blur=rng.uniform(0.5, 1.3), noise=rng.uniform(2, 6), jpeg=rng.uniform(40, 80),
                   gray=False)  # fmt: skip


def _glare(rng: Rng, alpha: Array, h: int, w: int) -> Array:
    """A smooth elliptical highlight on part of the digit, peak strength 0.4–0.8."""
    rows, cols = np.flatnonzero(alpha.max(1) > 0.5), np.flatnonzero(alpha.max(0) > 0.5)
    size = max(rows[-1] - rows[0], cols[-1] - cols[0])
    cy = rng.uniform(rows[0], rows[-1])
    cx = rng.uniform(cols[0], cols[-1])
    ry, rx = rng.uniform(0.2, 0.55, 2) * size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, math.pi)
    u = (x - cx) * math.cos(theta) + (y - cy) * math.sin(theta)
    v = -(x - cx) * math.sin(theta) + (y - cy) * math.cos(theta)
    return rng.uniform(0.4, 0.8) * np.exp(-0.5 * ((u / rx) ** 2 + (v / ry) ** 2) ** 1.5)  # flat-topped


def chalkboard(draw: Draw) -> Array:
    """Light chalk strokes with gaps and texture on a dark green or black board."""
    rng = draw.rng
    alpha, h, w = _digit_scene(draw, widths=(0.06, 0.14))
    color = np.array([rng.uniform(30, 55), rng.uniform(55, 85), rng.uniform(45, 65)]) if rng.random() < 0.6 else (
        np.full(3, rng.uniform(22, 45)))  # fmt: skip
    board = _paper(h, w, color, rng, 4)
    dust = _field(rng, h, w, 5, 0, rng.uniform(0.05, 0.2))  # old, wiped chalk
    board = _over(board, dust, np.full(3, 200.0))
    chalk = _grain(rng, h, w, rng.uniform(0.5, 0.8), rng.uniform(0.65, 0.9))
    canvas = _over(board, alpha * chalk * rng.uniform(0.8, 1.0), np.full(3, rng.uniform(200, 245)))
    return _finish(canvas, rng, blur=rng.uniform(0.4, 1.1), noise=rng.uniform(2, 6), jpeg=rng.uniform(45, 85),
                   gray=False)  # fmt: skip


def erased_writing(draw: Draw) -> Array:
    """The digit with faint ghost writing (an erased digit or strokes at 10–30 % contrast) beside or over it."""
    rng = draw.rng
    h, w = _crop_size(rng, 70, 190)
    mask = _fit(lambda height: _pen(draw, height), h * rng.uniform(0.45, 0.7), 0.6 * w)
    top, left = _centered(rng, mask, h, w, jitter=0.9)
    alpha = _place(mask, h, w, top, left)
    if rng.random() < 0.7:  # an erased digit, as large as the real one
        size = mask.shape[0] * rng.uniform(0.7, 1.1)
        ghost_mask = strokes(draw.pool.other(rng, draw.label), size, max(1.4, size * rng.uniform(0.04, 0.12)),
                             rng.uniform(-5, 5))  # fmt: skip
        gy = float(np.clip(top + rng.uniform(-0.3, 0.3) * mask.shape[0], 0, h - ghost_mask.shape[0]))
        gx = left + rng.choice([-1, 1]) * rng.uniform(0.3, 1.1) * max(mask.shape[1], ghost_mask.shape[1])
        gx = float(np.clip(gx, 0, w - ghost_mask.shape[1]))  # in the crop: overlapping the digit or beside it
        ghost = _place(ghost_mask, h, w, gy, gx)
    else:
        ghost = _scribble(rng, h, w, top, left, mask.shape)
    ghost = _blur(ghost, rng.uniform(0.4, 1.2)) * _field(rng, h, w, 4, 0.6, 1.0)  # smeared, unevenly rubbed
    ink_level = rng.uniform(0, 70)
    paper_color = _paper_color(rng)
    contrast = rng.uniform(0.10, 0.30)
    canvas = _paper(h, w, paper_color, rng)
    ghost_ink = paper_color - contrast * (paper_color - ink_level)
    canvas = _multiply(canvas, ghost / max(float(ghost.max()), 1e-6), ghost_ink)
    canvas = _multiply(canvas, alpha, np.full(3, ink_level))
    return _scan_finish(canvas, rng)


def _scribble(rng: Rng, h: int, w: int, top: float, left: float, shape: tuple[int, int]) -> Array:
    """Two or three curved strokes near the digit (erased words or figures)."""
    cover = np.zeros((h, w), np.float32)
    width = max(1.5, shape[0] * rng.uniform(0.06, 0.1))
    for _ in range(int(rng.integers(2, 4))):
        low, high = np.array([2.0, 2.0]), np.array([w - 3.0, h - 3.0])  # the strokes stay in the crop
        p = np.clip([left + rng.uniform(-0.8, 1.8) * shape[1], top + rng.uniform(0, 1) * shape[0]], low, high)
        heading = rng.uniform(0, 2 * math.pi)
        for _ in range(8):
            heading += rng.uniform(-0.9, 0.9)
            q = np.clip(p + shape[0] * 0.15 * np.array([math.cos(heading), math.sin(heading)]), low, high)
            cover = np.maximum(cover, _segment(h, w, tuple(p), tuple(q), width))
            p = q
    return cover


def touching_neighbours(draw: Draw) -> Array:
    """The digit in a crop cut from a number: parts of its neighbours at the left/right edges."""
    rng = draw.rng
    height, pen = rng.uniform(40, 120), rng.uniform(0.04, 0.12)  # one writer, one pen
    mask = _fit(lambda size: strokes(draw.digit, size, max(1.4, size * pen), rng.uniform(-3, 3)), height, 120)
    sides = [(-1,), (1,), (-1, 1)][rng.choice(3, p=[0.25, 0.25, 0.5])]
    h = int(np.clip(mask.shape[0] * rng.uniform(1.15, 1.5), MIN_SIDE, MAX_SIDE))
    pieces, extent = [], [0.0, float(mask.shape[1])]  # x range of the crop, relative to the digit's left
    for side in sides:
        size = mask.shape[0] * rng.uniform(0.85, 1.1)
        other = strokes(draw.pool.other(rng, -1), size, max(1.4, size * pen), rng.uniform(-3, 3))
        gap = rng.uniform(-0.06, 0.25) * mask.shape[0]
        x = -gap - other.shape[1] if side < 0 else mask.shape[1] + gap
        visible = rng.uniform(0.12, 0.4) * other.shape[1]
        extent[0 if side < 0 else 1] = x + other.shape[1] - visible if side < 0 else x + visible
        pieces.append((other, x, rng.uniform(-0.08, 0.08) * mask.shape[0]))
    w = int(np.clip(extent[1] - extent[0], MIN_SIDE, MAX_SIDE))
    shift = -extent[0] + (w - (extent[1] - extent[0])) / 2
    top = (h - mask.shape[0]) * rng.uniform(0.3, 0.7)
    alpha = _place(mask, h, w, top, shift)
    for other, x, dy in pieces:
        alpha = np.maximum(alpha, _place(other, h, w, top + mask.shape[0] - other.shape[0] + dy, x + shift))
    gray = rng.random() < 0.6
    canvas = _multiply(_paper(h, w, _paper_color(rng), rng), alpha, _ink_color(rng))
    return _scan_finish(canvas, rng, gray=gray)


#: The settings, by name, in report order.
SETTINGS: dict[str, Callable[[Draw], Array]] = {
    fn.__name__: fn
    for fn in (clean_scan, form_box, grid_paper, ruled_paper, line_through, phone_photo, pencil, sticky_note,
               whiteboard_glare, chalkboard, erased_writing, touching_neighbours)
}  # fmt: skip


# ============================================================================ contact sheet
def contact_sheet(sets: dict[str, tuple[list[Array], Array]], path: Path, per_row: int = 10, cell: int = 110) -> None:
    """A PNG with ``per_row`` examples of each setting (one row each), scaled to fit ``cell`` px, labels shown."""
    label_w = 130
    sheet = Image.new("RGB", (label_w + per_row * cell, len(sets) * cell), (90, 90, 90))
    pen = ImageDraw.Draw(sheet)
    for row, (name, (images, labels)) in enumerate(sets.items()):
        pen.text((4, row * cell + cell // 2 - 6), name, fill=(255, 255, 255))
        for col, (image, label) in enumerate(zip(images[:per_row], labels[:per_row], strict=False)):
            tile = Image.fromarray(image).convert("RGB")
            tile.thumbnail((cell - 4, cell - 4), Image.BICUBIC)
            x, y = label_w + col * cell + 2, row * cell + 2
            sheet.paste(tile, (x, y))
            pen.text((x + 1, y + 1), str(int(label)), fill=(255, 0, 0))
            pen.text((x + 1, y + cell - 16), f"{image.shape[1]}x{image.shape[0]}", fill=(255, 255, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main(argv: list[str] | None = None) -> int:
    """Write a contact sheet of the hard set."""
    default_mnist = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    parser = argparse.ArgumentParser(description="Contact sheet of the hard digit set.")
    parser.add_argument("--data-dir", type=Path, default=default_mnist, help="folder with the MNIST IDX files")
    parser.add_argument("--split", choices=sorted(SPLITS), default="dev")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--per-row", type=int, default=10)
    parser.add_argument("--sheet", type=Path, default=Path("hard_sheet.png"))
    args = parser.parse_args(argv)
    sets = hard_digits(args.data_dir, args.split, per_setting=args.per_row, seed=args.seed)
    contact_sheet(sets, args.sheet, per_row=args.per_row)
    print(f"Wrote {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
