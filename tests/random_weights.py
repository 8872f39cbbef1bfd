"""Test helper: random weights that behave like trained ones (activations of order 1).

A freshly initialised MobileNet in eval mode maps every input to nearly the same logits:
with BatchNorm's initial statistics (mean 0, variance 1) the activations shrink by orders
of magnitude per stage. Tests that compare logits would then pass whatever the weights.
:func:`randomize` gives random BatchNorm affine parameters and recalibrates the running
statistics on random images, so logits depend on the input and on every tensor.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["randomize"]


def randomize(model: nn.Module, *, in_chans: int = 1, side: int = 32) -> nn.Module:
    """Randomise BatchNorm affine parameters and recalibrate its statistics; returns eval model."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.2)
                module.reset_running_stats()
                module.momentum = None  # cumulative average over the calibration pass
        for module in model.modules():
            if isinstance(module, nn.Linear):
                module.weight.normal_(0.0, 0.5)
                module.bias.normal_(0.0, 0.1)
        model.train()
        model(torch.randn(32, in_chans, side, side))
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = 0.1
    return model.eval()
