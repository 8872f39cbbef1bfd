"""Digits as users have them (photos, scans, drawings) → digits normalized the way MNIST's are.

MNIST's digits are white ink on black, the ink scaled into a 20×20 box keeping its aspect
ratio (anti-aliased), then placed in a 28×28 frame with its center of mass at pixel
(14, 14). A model trained on them scores badly on digits that look otherwise: dark ink on
paper, a small digit in a corner of a photo, an 8×8 thumbnail. :func:`normalize_digits`
makes any digit image look like MNIST's; :func:`prepare_digits` then resizes and
normalizes it for a model exactly as :func:`~mobilenet_mnist.preprocess` does.

The steps, batched in torch (images of one size together, in chunks that fit the cache):

1. gray in [0, 1]: colour by luma, transparency flattened onto black or white (whichever
   contrasts with the ink), images larger than ``WORK_SIDE`` area-reduced;
2. the ink is found (:mod:`.ink`): polarity, uneven lighting, Otsu threshold, printed
   lines taken out (:mod:`.lines`: form boxes, grid and ruled lines), faint ink away from
   the main ink dropped (erased writing), specks, blank images;
3. the ink is resampled (bicubic, ``SAMPLES``² points a pixel) so that its box's longer
   side is ``BOX`` pixels and its center of mass at ``CENTER``, then sharpened toward the
   binary strokes MNIST was drawn from (``INK_LEVEL``, ``INK_EDGE``);
4. strokes wider or thinner than MNIST's usual range (``STROKE_RANGE``) are eroded or
   dilated; box and center are measured on the result and a second pass corrects them;
5. the points are averaged into pixels: anti-aliased edges, as in MNIST.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..models.mobilenet import MNIST_MEAN, MNIST_STD
from .ink import extent, find_ink, ink_bright
from .morphology import max3
from .quality import ink_quality
from .transforms import check_normalization, preprocess, to_batch

__all__ = [
    "BOX",
    "CENTER",
    "FRAME",
    "BlankImageError",
    "doubt_signs",
    "normalize_digits",
    "normalize_digits_with_quality",
    "prepare_digits",
    "shorter_sides",
]

logger = logging.getLogger(__name__)

#: Side of MNIST's frame, in pixels.
FRAME = 28
#: Side of the box the ink's longer side is scaled to.
BOX = 20
#: Where MNIST puts the ink's center of mass (row and column, pixel-index coordinates).
CENTER = 14.0
#: Larger images are area-reduced to this longer side before their ink is looked for.
WORK_SIDE = 256
#: Resampling points per output pixel along each axis (a stroke width step is 1/SAMPLES px).
SAMPLES = 4
#: Resampled ink is sharpened around this level (a stroke's edge) ...
INK_LEVEL = 0.6
#: ... over this width: upsampled strokes get MNIST's crisp, anti-aliased edges.
INK_EDGE = 0.8
#: Mean stroke widths (output pixels, 2·area/perimeter) outside this range are eroded or
#: dilated into it; MNIST's own lie mostly between 1.3 and 2.7.
STROKE_RANGE = (1.2, 2.0)
#: At most this many one-point erosions or dilations (each moves an edge by 1/SAMPLES px).
MAX_STROKE_STEPS = 8
#: Images of one size are processed in chunks of about this many pixels (or resampling points).
CHUNK_PIXELS = 1 << 20
_BLANK_MODES = ("raise", "keep")
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as PIL's convert("L")


class BlankImageError(ValueError):
    """Some images hold no ink (an empty page, a uniform image, noise without structure).

    Attributes:
        indices: Positions of the blank images in the batch (list entries flattened in order).
    """

    def __init__(self, indices: Sequence[int]) -> None:
        self.indices = [int(i) for i in indices]
        shown = ", ".join(map(str, self.indices[:10])) + (", ..." if len(self.indices) > 10 else "")
        super().__init__(
            f"{len(self.indices)} image(s) hold no ink (blank, uniform or noise only): indices [{shown}]. "
            'Pass blank="keep" to get all-zero images and has_ink=False for them instead.'
        )

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (multiprocessing, pytest-xdist)
        return (type(self), (self.indices,))


# ---------------------------------------------------------------- input → gray batches


def _composite(gray: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Flatten transparency onto black or white, whichever contrasts with the opaque ink.

    A canvas drawing is often black strokes on transparent pixels: flattened onto black
    (as :func:`~mobilenet_mnist.preprocess` does) its ink would vanish.
    """
    weight = alpha.sum((1, 2, 3), keepdim=True).clamp_min(1e-6)
    ink = (gray * alpha).sum((1, 2, 3), keepdim=True) / weight
    background = (ink < 0.5).to(gray.dtype)
    return gray * alpha + background * (1 - alpha)


def _from_channels(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) float in [0, 1], C in {1, 3, 4} → (N, 1, H, W) gray (luma, alpha flattened)."""
    if x.shape[1] == 1:
        return x
    luma = torch.tensor(_LUMA, dtype=x.dtype).view(1, 3, 1, 1)
    gray = (x[:, :3] * luma).sum(1, keepdim=True)
    return _composite(gray, x[:, 3:]) if x.shape[1] == 4 else gray


def _to_float(x: torch.Tensor) -> torch.Tensor:
    x = x.detach().cpu()
    return x.float().div_(255) if x.dtype == torch.uint8 else x.float()


def _gray(image: Any) -> torch.Tensor:
    """One image or batch (any type :func:`preprocess` takes) → (N, 1, H, W) float32 in [0, 1]."""
    if isinstance(image, (np.ndarray, torch.Tensor)):
        chans = image.shape[1] if image.ndim == 4 and image.shape[1] in (3, 4) else 1
        return _from_channels(_to_float(to_batch(image, chans)))
    bands = image.getbands() if hasattr(image, "getbands") else ()
    if "A" in bands or "a" in bands or "transparency" in getattr(image, "info", {}):
        rgba = torch.from_numpy(np.array(image.convert("RGBA"))).permute(2, 0, 1)[None]
        return _from_channels(_to_float(rgba))
    return _to_float(to_batch(image, 1))  # PIL's own gray conversion; 16-bit modes kept exact


def _gray_items(images: Any) -> list[torch.Tensor]:
    """The input as gray float batches; a list's entries each, errors naming the entry."""
    if not isinstance(images, (list, tuple)):
        return [_gray(images)]
    if not images:
        raise ValueError("normalize_digits got an empty list of images; pass at least one image.")
    items = []
    for index, image in enumerate(images):
        try:
            items.append(_gray(image))
        except (TypeError, ValueError) as error:
            kind = TypeError if isinstance(error, TypeError) else ValueError
            raise kind(f"Image {index} of the list: {error}") from error
    return items


# ---------------------------------------------------------------- ink → MNIST's frame


def _sample(soft: torch.Tensor, scale: torch.Tensor, center: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The output frame at ``SAMPLES``² points a pixel, source point ``center`` at ``target``.

    Args:
        soft: (N, 1, H, W) ink.
        scale: (N,) output pixels per source pixel.
        center: (N, 2) source (row, column), pixel-index coordinates.
        target: (N, 2) where it lands in the output, pixel-index coordinates.

    Returns:
        (N, 1, FRAME·SAMPLES, FRAME·SAMPLES) bicubic samples, sharpened (see ``INK_LEVEL``).
    """
    h, w = soft.shape[-2:]
    out = (torch.arange(FRAME * SAMPLES, dtype=soft.dtype) + 0.5) / SAMPLES - 0.5
    src = (out[None, None, :] - target[:, :, None]) / scale[:, None, None] + center[:, :, None]
    norm_y, norm_x = (2 * src[:, 0] + 1) / h - 1, (2 * src[:, 1] + 1) / w - 1
    size = out.shape[0]
    grid = torch.stack([norm_x[:, None, :].expand(-1, size, -1), norm_y[:, :, None].expand(-1, -1, size)], dim=-1)
    fine = F.grid_sample(soft, grid, mode="bicubic", padding_mode="zeros", align_corners=False)
    return ((fine - INK_LEVEL) / INK_EDGE + 0.5).clamp_(0, 1)


def _stroke_steps(fine: torch.Tensor) -> torch.Tensor:
    """(N,) one-point dilations (> 0) or erosions (< 0) that bring strokes into ``STROKE_RANGE``.

    The mean stroke width is 2 · area / perimeter of the points above 0.5.
    """
    ink = (fine > 0.5).float()
    area = ink.sum((1, 2, 3))
    perimeter = (ink[..., 1:, :] != ink[..., :-1, :]).sum((1, 2, 3)) + (ink[..., 1:] != ink[..., :-1]).sum((1, 2, 3))
    width = 2 * area / perimeter.clamp_min(1) / SAMPLES
    steps = (width.clamp(*STROKE_RANGE) - width) * SAMPLES / 2  # each step moves both edges
    return steps.round().long().clamp(-MAX_STROKE_STEPS, MAX_STROKE_STEPS)


def _restroke(fine: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """Dilate (``steps`` > 0) or erode (< 0) each image's ink by its number of 3×3 steps."""
    out = fine.clone()
    for sign in (1, -1):
        chosen = torch.nonzero(steps * sign > 0).view(-1)
        part, left = fine[chosen], steps[chosen].abs()
        for step in range(1, int(left.max()) + 1 if len(chosen) else 1):
            part = max3(part) if sign > 0 else -max3(-part)
            done = left == step
            out[chosen[done]] = part[done]
            chosen, part, left = chosen[~done], part[~done], left[~done]
    return out


def _edge_span(profile: torch.Tensor) -> torch.Tensor:
    """(N, L) profile → (N,) distance between its first and last crossings of 0.5, to a fraction
    of a point (linear interpolation: a slightly changed input never jumps the scale a point)."""
    above = profile > 0.5
    length = profile.shape[1]
    padded = F.pad(profile, (1, 1))  # zeros beyond both ends
    first = above.float().argmax(1)
    last = length - 1 - above.flip(1).float().argmax(1)

    def at(index: torch.Tensor) -> torch.Tensor:
        return padded.gather(1, (index + 1)[:, None])[:, 0]

    top = first - (at(first) - 0.5) / (at(first) - at(first - 1)).clamp_min(1e-6)
    bottom = last + (at(last) - 0.5) / (at(last) - at(last + 1)).clamp_min(1e-6)
    return torch.where(above.any(1), bottom - top, 0.0)


def _measure(fine: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Resampled ink → its box's longer side (N,) and its center of mass (N, 2), in output pixels.

    The box is that of the points above 0.5, the strokes' edges: MNIST's box is that of
    its binary strokes before anti-aliasing (and a faint rim of noise cannot move it).
    """
    side = torch.maximum(_edge_span(fine.amax(3).flatten(1)), _edge_span(fine.amax(2).flatten(1)))
    side = side.clamp_min(1) / SAMPLES
    n, size = fine.shape[0], fine.shape[-1]
    coords = (torch.arange(size, dtype=fine.dtype) + 0.5) / SAMPLES - 0.5  # pixel-index coordinates
    mass = fine.sum((1, 2, 3)).clamp_min(1e-6)
    com = torch.stack([(fine.sum(3).view(n, size) * coords).sum(1), (fine.sum(2).view(n, size) * coords).sum(1)], 1)
    return side, com / mass[:, None]


def _place(soft: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Scale the ink's box to ``BOX`` and put its center of mass at ``CENTER``: (N, 1, FRAME, FRAME).

    A first pass places the ink by its mask's box and center of mass; the second corrects
    both as measured on the sharpened, restroked result (a low-resolution mask misjudges
    the box by up to a pixel: several output pixels once enlarged). Unlike MNIST, which
    moved its digits by whole pixels, the center of mass lands on ``CENTER`` to a fraction
    of a pixel, so that a small change of the input never moves the output by a pixel.
    """
    n, _, h, w = soft.shape
    height, width = extent(mask)
    scale = BOX / torch.maximum(height, width).clamp_min(1).float()  # output pixels per source pixel
    mass = soft.sum((1, 2, 3)).clamp_min(1e-6)
    rows, cols = torch.arange(h, dtype=soft.dtype), torch.arange(w, dtype=soft.dtype)
    center = torch.stack(
        [(soft.sum(3).view(n, h) * rows).sum(1) / mass, (soft.sum(2).view(n, w) * cols).sum(1) / mass], dim=1
    )
    middle = torch.full((n, 2), CENTER)
    fine = _sample(soft, scale, center, middle)
    steps = _stroke_steps(fine)
    side, com = _measure(_restroke(fine, steps))
    center = center + (com - CENTER) / scale[:, None]  # the source point of the result's center of mass
    fine = _sample(soft, scale * BOX / side, center, middle)
    return F.avg_pool2d(_restroke(fine, steps), SAMPLES)


def _find_batch(x: torch.Tensor) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor, torch.Tensor]:
    """(N, 1, H, W) gray in [0, 1] of one size → each image's ink ready to place (soft, mask:
    (1, 1, h, w) each, see :func:`_ready_to_place`), has_ink (N,) and the signs of doubt (N, 4)."""
    h, w = x.shape[-2:]
    if max(h, w) > WORK_SIDE:
        factor = WORK_SIDE / max(h, w)
        x = F.interpolate(x, size=(max(1, round(h * factor)), max(1, round(w * factor))), mode="area")
    soft, mask, has_ink, signs = find_ink(ink_bright(x))
    return _ready_to_place(soft, mask), has_ink, signs


def _ready_to_place(soft: torch.Tensor, mask: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(N, 1, H, W) ink and mask → per image, (1, 1, h, w) each: large ink area-reduced first so
    that ``SAMPLES`` points a pixel never alias."""
    height, width = extent(mask)
    factors = (torch.maximum(height, width).float() / (SAMPLES * BOX)).ceil().clamp_min(1).long().tolist()
    ready = []
    for index, factor in enumerate(factors):
        part_soft, part_mask = soft[index : index + 1], mask[index : index + 1]
        if factor > 1:
            part_soft = F.avg_pool2d(part_soft, factor, ceil_mode=True)
            part_mask = F.max_pool2d(part_mask.float(), factor, ceil_mode=True) > 0
        ready.append((part_soft, part_mask))
    return ready


def _place_all(inks: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Every image's ink (:func:`_ready_to_place`) placed in MNIST's frame: (N, 1, FRAME, FRAME).

    Images of all sizes are placed together, in batches of similar size padded with zeros
    at the bottom and right (no pixel moves, and resampling reads zeros beyond an image's
    edge anyway): placing costs many small operations, whatever the batch's size.
    """
    out = torch.zeros(len(inks), 1, FRAME, FRAME)
    order = sorted(range(len(inks)), key=lambda i: inks[i][0].shape[-2] * inks[i][0].shape[-1])
    floor = (FRAME * SAMPLES) ** 2  # the resampled frame's points, per image
    batch: list[int] = []
    h = w = 0
    for index in order:
        grown_h, grown_w = max(h, inks[index][0].shape[-2]), max(w, inks[index][0].shape[-1])
        if batch and (len(batch) + 1) * max(grown_h * grown_w, floor) > CHUNK_PIXELS:
            out[batch] = _place(*_padded([inks[i] for i in batch]))
            batch, grown_h, grown_w = [], inks[index][0].shape[-2], inks[index][0].shape[-1]
        batch.append(index)
        h, w = grown_h, grown_w
    if batch:
        out[batch] = _place(*_padded([inks[i] for i in batch]))
    return out


def _padded(inks: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, 1, h, w) soft ink and masks of any sizes → (N, 1, H, W) each, zeros at the bottom and right."""
    h = max(soft.shape[-2] for soft, _ in inks)
    w = max(soft.shape[-1] for soft, _ in inks)

    def pad(x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (0, w - x.shape[-1], 0, h - x.shape[-2]))

    return torch.cat([pad(soft) for soft, _ in inks]), torch.cat([pad(mask) for _, mask in inks])


def _normalize_groups(items: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalize batches of any sizes, those of one size together: digits, has_ink and signs in input order."""
    sizes: dict[tuple[int, int], list[int]] = {}
    for index, item in enumerate(items):
        sizes.setdefault((item.shape[-2], item.shape[-1]), []).append(index)
    inks: list[tuple[torch.Tensor, torch.Tensor]] = []
    order: list[int] = []  # the input image of each entry of `inks`
    found: list[tuple[torch.Tensor, torch.Tensor]] = []
    # Inference mode skips autograd's bookkeeping (version counters, views) on the many small
    # ops of the cleanup: 10-20 % faster on photos; the outputs are the same.
    with torch.inference_mode():
        for indices in sizes.values():
            batch = torch.cat([items[i] for i in indices])
            chunk = max(1, CHUNK_PIXELS // max(batch.shape[-1] * batch.shape[-2], (FRAME * SAMPLES) ** 2))
            rows = [row for i in indices for row in [i] * items[i].shape[0]]
            for start, part in zip(range(0, len(batch), chunk), batch.split(chunk), strict=True):
                ready, has_ink, signs = _find_batch(part)
                inks += ready
                order += rows[start : start + len(ready)]
                found.append((has_ink, signs))
        placed = _place_all(inks)
        has_ink = torch.cat([h for h, _ in found])
        signs = torch.cat([s for _, s in found])
        placed = torch.where(has_ink.view(-1, 1, 1, 1), placed, 0.0)
        # Back to input order: the entries follow the size groups; stable within an input.
        rank = torch.tensor(sorted(range(len(order)), key=lambda k: order[k]), dtype=torch.long)
        digits, has_ink, signs = placed[rank], has_ink[rank], signs[rank]
    # Cloned outside inference mode: ordinary tensors, which a training step may save for backward.
    return digits.clone(), has_ink.clone(), signs.clone()


def _check_blank(blank: Any) -> None:
    if not isinstance(blank, str) or blank not in _BLANK_MODES:
        raise ValueError(
            f'blank must be "raise" (a BlankImageError for images without ink) or "keep" (all-zero '
            f"images, has_ink False), got {blank!r}."
        )


def normalize_digits(images: Any, *, blank: str = "raise") -> tuple[torch.Tensor, torch.Tensor]:
    """Make digit images of any kind look like MNIST's: white ink, 20×20 box, centered in 28×28.

    Takes everything :func:`~mobilenet_mnist.preprocess` takes: uint8 (0–255), uint16
    (0–65535) or float (0–1) tensors and numpy arrays of shape (H, W), (N, H, W) or
    (N, C, H, W) with C in {1, 3, 4} (colour becomes gray by luma, transparency is
    flattened), PIL images of any mode, or lists of these, of any sizes. Dark ink on light
    paper and light ink on dark are both recognized, uneven lighting, noise, JPEG
    artefacts and small specks are tolerated. Images under 24 pixels a side get no
    lighting correction. The work runs on the CPU.

    Example:
        >>> import torch
        >>> page = torch.full((60, 40), 230, dtype=torch.uint8)
        >>> page[10:40, 18:22] = 20                              # a dark "1" on paper
        >>> digits, has_ink = normalize_digits(page)
        >>> digits.shape, has_ink.tolist()
        (torch.Size([1, 1, 28, 28]), [True])

    Args:
        images: The images.
        blank: What to do with images holding no ink (an empty page, a uniform image,
            noise without structure): ``"raise"`` a :class:`BlankImageError`, or
            ``"keep"`` them as all-zero images.

    Returns:
        ``(digits, has_ink)``: float32 (N, 1, 28, 28) in [0, 1], white ink on black,
        each digit's box 20 pixels on its longer side and its center of mass at pixel
        (14, 14); and bool (N,), False for blank images. List entries (single images or
        batches) are concatenated in order.

    Raises:
        BlankImageError: With ``blank="raise"``, if some images hold no ink; its
            ``indices`` name them.
        TypeError: For unsupported types or dtypes.
        ValueError: For a bad ``blank``, bad shapes, an empty list or batch, or values out
            of range.
    """
    digits, has_ink, _ = normalize_digits_with_quality(images, blank=blank)
    return digits, has_ink


def shorter_sides(images: Any) -> torch.Tensor:
    """The shorter side of each image, in pixels, in the order :func:`normalize_digits` returns them.

    The cleanup steps for photos and scans (local lighting, printed lines, faint ink, the
    input quality) run on images of ``MIN_SIDE_FOR_LOCAL_LIGHTING`` (32) pixels a side or
    more; this tells which images those are.

    Args:
        images: The images (see :func:`normalize_digits`).

    Returns:
        (N,) long, one per image (batches flattened).

    Raises:
        TypeError: For unsupported types or dtypes.
        ValueError: For bad shapes or empty inputs.
    """
    sides = [min(item.shape[-2:]) for item in _gray_items(images) for _ in range(item.shape[0])]
    return torch.tensor(sides, dtype=torch.long)


def doubt_signs(images: Any) -> torch.Tensor:
    """The ink finder's signs of doubt for each image, the makings of its input quality.

    Example:
        >>> import torch
        >>> page = torch.full((60, 40), 230, dtype=torch.uint8)
        >>> page[10:40, 18:22] = 20                              # a dark "1" on paper
        >>> doubt_signs(page).tolist()                           # nothing was cleaned up
        [[0.0, 0.0, 0.0, 0.0]]

    Args:
        images: The images (see :func:`normalize_digits`); blank ones are kept.

    Returns:
        float32 (N, 4), the columns in :data:`~mobilenet_mnist.data.quality.SIGNS` order
        (printed lines taken out, faint ink dropped, share of scattered ink, sides touched
        alone); :func:`~mobilenet_mnist.data.quality.ink_quality` of them is the quality
        :func:`normalize_digits_with_quality` returns. All 0 under 32 pixels a side.

    Raises:
        TypeError: For unsupported types or dtypes.
        ValueError: For bad shapes or empty inputs.
    """
    return _normalize_groups(_gray_items(images))[2]


def normalize_digits_with_quality(
    images: Any, *, blank: str = "raise"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`normalize_digits`, with each image's input quality (:mod:`.quality`).

    Example:
        >>> import torch
        >>> page = torch.full((60, 40), 230, dtype=torch.uint8)
        >>> page[10:40, 18:22] = 20                              # a dark "1" on paper
        >>> _, _, quality = normalize_digits_with_quality(page)
        >>> quality.tolist()                                     # nothing was cleaned up
        [1.0]

    Args:
        images: The images (see :func:`normalize_digits`).
        blank: As for :func:`normalize_digits`.

    Returns:
        ``(digits, has_ink, quality)``: those of :func:`normalize_digits`, and float32 (N,)
        in (0, 1]: 1 where the ink finder took nothing out and no ink is cut by the
        image's edge, lower the more it had to do (printed lines, faint ink, scattered ink,
        ink cut at one side). See :func:`~mobilenet_mnist.data.quality.ink_quality`.

    Raises:
        BlankImageError: With ``blank="raise"``, if some images hold no ink.
        TypeError: For unsupported types or dtypes.
        ValueError: As for :func:`normalize_digits`.
    """
    _check_blank(blank)
    digits, has_ink, signs = _normalize_groups(_gray_items(images))
    if not bool(has_ink.all()):
        blank_indices = torch.nonzero(~has_ink).view(-1).tolist()
        if blank == "raise":
            raise BlankImageError(blank_indices)
        logger.debug("normalize_digits: %d blank image(s) kept as zeros", len(blank_indices))
    return digits, has_ink, ink_quality(signs)


def prepare_digits(
    images: Any,
    input_size: int = 32,
    mean: Sequence[float] = (MNIST_MEAN,),
    std: Sequence[float] = (MNIST_STD,),
    in_chans: int | None = None,
    *,
    blank: str = "raise",
) -> torch.Tensor:
    """Turn digits as users have them (photos, scans, drawings) into a model's input.

    :func:`normalize_digits` (gray, white ink, a 20×20 box centered by mass in 28×28, as
    MNIST's digits are) followed by :func:`~mobilenet_mnist.preprocess`'s resize and
    normalization: the arguments and the output are those of ``preprocess``. Use
    ``preprocess`` for images that already look like MNIST, this for anything else.

    Example:
        >>> import torch
        >>> from mobilenet_mnist import mobilenet_v1
        >>> cfg = mobilenet_v1().pretrained_cfg
        >>> page = torch.full((60, 40), 230, dtype=torch.uint8)
        >>> page[10:40, 18:22] = 20                              # a dark "1" on paper
        >>> prepare_digits(page, cfg["input_size"][-1], cfg["mean"], cfg["std"]).shape
        torch.Size([1, 1, 32, 32])

    Args:
        images: The images (see :func:`normalize_digits`).
        input_size: Output side in pixels (the model's ``pretrained_cfg["input_size"][-1]``).
        mean: Per-channel mean to subtract (after scaling to [0, 1]).
        std: Per-channel std to divide by.
        in_chans: Channels the model takes; defaults to ``len(mean)``.
        blank: ``"raise"`` a :class:`BlankImageError` for images without ink, or
            ``"keep"`` them (they become all-background inputs).

    Returns:
        A float32 tensor of shape (N, in_chans, input_size, input_size).

    Raises:
        BlankImageError: With ``blank="raise"``, if some images hold no ink.
        TypeError: For unsupported types or dtypes.
        ValueError: For bad shapes or values, a bad ``blank``, ``mean``, ``std`` or
            ``input_size``.
    """
    in_chans = check_normalization(mean, std, in_chans)
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
        raise ValueError(f"input_size must be a positive int, got {input_size!r}.")
    digits, _ = normalize_digits(images, blank=blank)
    return preprocess(digits, input_size, mean, std, in_chans)
