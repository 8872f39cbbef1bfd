"""How far the ink finder's cleanup can be trusted: an input-quality score per image.

A model is confidently wrong when the image it saw is a clean-looking *other* digit: a form
box's edge left beside the digit, a stroke taken out with a line, a neighbour's stroke cut
at the crop's edge. Its logits cannot tell; the ink finder (:mod:`.ink`) can say what it
had to do. Each image gets four signs, in ``SIGNS`` order:

* ``lines``: 1 if printed lines were taken out of its ink (:mod:`.lines`), else 0;
* ``faint``: 1 if faint ink was dropped (erased writing, light rules), else 0;
* ``scattered``: the share of the ink outside its largest component (0 for one stroke);
* ``edges``: the image sides its ink touches without touching the opposite side (0–2):
  a neighbour's stroke or a box's edge cut by the crop. A tightly cropped digit touches
  opposite sides and counts 0.

``quality = exp(-signs · QUALITY_WEIGHTS)``, in (0, 1]: 1 for a clean digit. A predictor
divides its temperature by it (:class:`~mobilenet_mnist.deploy.predictor.Predictor`), so the
probabilities of a doubtful image are softened. The weights are fitted by
``benchmarks/fit_quality.py`` (negative log-likelihood of the hard digit set's dev split,
``mobilenet_v1_100.mnist``, the checkpoint's own temperature held fixed).
"""

from __future__ import annotations

import torch

__all__ = ["QUALITY_WEIGHTS", "SIGNS", "ink_quality", "one_sided_edges"]

#: The signs of doubt, in the order of their columns.
SIGNS = ("lines", "faint", "scattered", "edges")
#: Weight of each sign in ``-log(quality)``; fitted with the stability weight by ``benchmarks/fit_quality.py``.
QUALITY_WEIGHTS = (0.2084, 0.1708, 0.8714, 0.1146)


def one_sided_edges(mask: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) bool ink → (N,) float: sides touched whose opposite side is not (0, 1 or 2)."""
    top, bottom = mask[:, 0, 0, :].any(1), mask[:, 0, -1, :].any(1)
    left, right = mask[:, 0, :, 0].any(1), mask[:, 0, :, -1].any(1)
    return (top != bottom).float() + (left != right).float()


def ink_quality(signs: torch.Tensor) -> torch.Tensor:
    """(N, len(SIGNS)) signs → (N,) quality in (0, 1]: ``exp(-signs · QUALITY_WEIGHTS)``."""
    return torch.exp(-signs.float() @ torch.tensor(QUALITY_WEIGHTS))
