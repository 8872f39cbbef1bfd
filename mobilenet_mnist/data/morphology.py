"""Binary-image helpers shared by the ink finder and the line remover: 3×3 dilation, components,
long runs, reduced grids of cells.

Batched in torch on (N, 1, H, W) tensors; used by :mod:`.ink` (specks, faint ink) and
:mod:`.lines` (the ink beside a line), which both need them without importing each other.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "MAIN_COMPONENT_SIDE",
    "cell_counts",
    "cell_pixels",
    "component_labels",
    "component_sizes",
    "long_runs",
    "runs_holding",
    "main_components",
    "max3",
]

#: :func:`main_components` finds components on a grid at most this many cells a side.
MAIN_COMPONENT_SIDE = 96


def max3(x: torch.Tensor) -> torch.Tensor:
    """3×3 maximum filter (a dilation) as shifted maxima: several times faster than max_pool2d on CPU."""
    padded = F.pad(x, (1, 1, 1, 1), value=float("-inf"))
    rows = torch.maximum(torch.maximum(padded[..., :-2], padded[..., 1:-1]), padded[..., 2:])
    return torch.maximum(torch.maximum(rows[..., :-2, :], rows[..., 1:-1, :]), rows[..., 2:, :])


def long_runs(mask: torch.Tensor, length: int) -> torch.Tensor:
    """(L,) bool → its runs of True at least ``length`` long, shorter ones cleared (a 1-D opening)."""
    before, after = (length - 1) // 2, length - 1 - (length - 1) // 2
    x = mask.float()[None, None]
    eroded = -F.max_pool1d(-F.pad(x, (before, after), value=1.0), length, stride=1)
    return F.max_pool1d(F.pad(eroded, (after, before)), length, stride=1)[0, 0] > 0


def runs_holding(marked: torch.Tensor, bridges: torch.Tensor, count: int) -> torch.Tensor:
    """(L,) bool ``marked`` and ``bridges`` → the runs of marked positions, bridged across
    ``bridges`` (which neither count nor break a run), that hold at least ``count`` marked
    positions, each from its first marked position to its last (a bridge at a run's end is not in it)."""
    joined = marked | bridges
    starts = joined & ~F.pad(joined[:-1], (1, 0), value=False)
    run = starts.long().cumsum(0) * joined  # 0 off the runs, else the run's number
    held = torch.bincount(run, weights=marked.float(), minlength=1)
    index = torch.arange(len(run))
    first = torch.full_like(held, len(run), dtype=torch.long).scatter_reduce(0, run[marked], index[marked], "amin")
    last = torch.full_like(held, -1, dtype=torch.long).scatter_reduce(0, run[marked], index[marked], "amax")
    return (run > 0) & (held[run] >= count) & (index >= first[run]) & (index <= last[run])


def component_labels(mask: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) bool → (N, H·W) 8-connected component labels (a pixel index; -1 off the mask).

    Labels spread by 3×3 maxima and jump along the labels they point at, so a component
    converges in far fewer steps than its length.
    """
    n, _, h, w = mask.shape
    flat_mask = mask.reshape(n, -1)
    labels = torch.where(flat_mask, torch.arange(h * w, dtype=torch.float32).expand(n, -1), -1.0)
    for _ in range(h * w):
        spread = torch.where(flat_mask, max3(labels.view(n, 1, h, w)).view(n, -1), -1.0)
        jumped = spread.gather(1, spread.clamp_min(0).long())
        spread = torch.where(flat_mask, torch.maximum(spread, jumped), -1.0)
        if torch.equal(spread, labels):
            break
        labels = spread
    return labels


def component_sizes(mask: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1, H, W) bool and weights → each pixel's component key and its component's size.

    Returns:
        ``(keys, sizes)``, (N, H·W) each: a key unique across the batch (meaningful on the
        mask only), and the sum of ``weight`` over the pixel's component (0 off the mask).
    """
    labels = component_labels(mask)
    n, size = labels.shape
    flat = mask.reshape(n, size)
    keys = labels.clamp_min(0).long() + torch.arange(n)[:, None] * size
    totals = torch.zeros(n * size).index_add_(0, keys[flat], weight.reshape(n, size)[flat].float())
    return keys, torch.where(flat, totals[keys], 0.0)


def cell_counts(mask: torch.Tensor, side: int) -> tuple[torch.Tensor, int]:
    """(N, 1, H, W) bool → its count of pixels in each cell of a grid at most ``side`` cells
    a side (float, (N, 1, h, w)), and the cells' side in pixels (1: the mask itself)."""
    h, w = mask.shape[-2:]
    factor = math.ceil(max(h, w) / side)
    if factor == 1:
        return mask.float(), 1
    padded = F.pad(mask.float(), (0, -w % factor, 0, -h % factor))
    return F.avg_pool2d(padded, factor) * factor**2, factor


def cell_pixels(cells: torch.Tensor, factor: int, shape: tuple[int, int]) -> torch.Tensor:
    """(N, 1, h, w) cells of :func:`cell_counts` → (N, 1, H, W), each cell's value on its pixels."""
    full = cells.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)
    return full[..., : shape[0], : shape[1]]


def main_components(mask: torch.Tensor, fraction: float, side: int = MAIN_COMPONENT_SIDE) -> torch.Tensor:
    """(H, W) bool → the 8-connected components holding at least ``fraction`` of the largest one's pixels.

    Components are found on a grid at most ``side`` cells a side (:func:`cell_counts`: fast;
    gaps narrower than a cell join).
    """
    counts, factor = cell_counts(mask[None, None], side)
    _, sizes = component_sizes(counts > 0, counts)
    keep = (sizes >= fraction * sizes.amax().clamp_min(1)).view_as(counts)
    return cell_pixels(keep, factor, (mask.shape[0], mask.shape[1]))[0, 0] & mask
