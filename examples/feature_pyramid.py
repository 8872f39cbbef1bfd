"""Multi-scale features from a pretrained MobileNet V1 for a small detection or segmentation head.

``create_model(..., features_only=True, out_indices=...)`` turns the classifier into a
backbone that returns one feature map per level; its ``feature_info`` gives each level's
channels and stride, which is all a neck needs to be built. Here a small FPN-style neck
(1×1 lateral convs, top-down upsampling, 3×3 smoothing) feeds two heads on 64×64 canvases
of digit-like strokes: per-pixel class logits (segmentation, 10 digits + background) and,
on every level, class and box maps (a dense detection head). The heads are untrained: the
example shows the shapes that flow, the pretrained backbone is what you would fine-tune.

Run::

    python examples/feature_pyramid.py            # α = 1.0 MNIST weights (shipped: offline)
    python examples/feature_pyramid.py --quick    # a batch of 2 canvases
    python examples/feature_pyramid.py --timm     # build the backbone with timm.create_model
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from mobilenet_mnist import create_model, register_timm

NUM_CLASSES = 10  # digits; the segmentation head adds a background class
NECK_CHANNELS = 64
CANVAS = 64


def build_backbone(use_timm: bool) -> nn.Module:
    """The pretrained α = 1.0 network as a backbone returning strides 4, 8 and 16."""
    options = {"pretrained": True, "features_only": True, "out_indices": (2, 3, 4)}
    if use_timm:
        import timm

        register_timm()
        return timm.create_model("mobilenet_v1_100.mnist", **options)
    return create_model("mobilenet_v1_100.mnist", **options)


class FeaturePyramid(nn.Module):
    """Top-down feature pyramid: every level gets ``channels`` channels and the coarser context."""

    def __init__(self, in_channels: list[int], channels: int) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.smooth = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1) for _ in in_channels)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """Feature maps from fine to coarse in, pyramid levels from fine to coarse out."""
        laterals = [conv(f) for conv, f in zip(self.lateral, features, strict=True)]
        for index in range(len(laterals) - 2, -1, -1):  # coarse to fine: add the upsampled context
            up = nn.functional.interpolate(laterals[index + 1], size=laterals[index].shape[-2:], mode="nearest")
            laterals[index] = laterals[index] + up
        return [conv(f) for conv, f in zip(self.smooth, laterals, strict=True)]


class DenseHeads(nn.Module):
    """A segmentation head on the finest level and a detection head shared by every level."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.segment = nn.Conv2d(channels, num_classes + 1, 3, padding=1)
        self.classes = nn.Conv2d(channels, num_classes, 3, padding=1)
        self.boxes = nn.Conv2d(channels, 4, 3, padding=1)  # distances to the box sides, per location

    def forward(self, levels: list[torch.Tensor], size: tuple[int, int]) -> tuple[torch.Tensor, list]:
        """Segmentation logits at ``size``, and (class logits, boxes) per level."""
        masks = nn.functional.interpolate(self.segment(levels[0]), size=size, mode="bilinear", align_corners=False)
        return masks, [(self.classes(p), self.boxes(p).relu()) for p in levels]


def canvases(batch: int, mean: float, std: float) -> torch.Tensor:
    """``batch`` 64×64 gray canvases with a few white strokes, normalised as the backbone expects."""
    generator = torch.Generator().manual_seed(0)
    images = torch.zeros(batch, 1, CANVAS, CANVAS)
    for image in images:
        for _ in range(3):
            top, left = torch.randint(0, CANVAS - 20, (2,), generator=generator).tolist()
            if torch.rand((), generator=generator) < 0.5:
                image[0, top:top + 20, left:left + 4] = 1.0  # a vertical stroke
            else:
                image[0, top:top + 4, left:left + 16] = 1.0  # a horizontal one
    return (images - mean) / std


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a batch of 2 canvases")
    parser.add_argument("--timm", action="store_true", help="build the backbone with timm.create_model")
    args = parser.parse_args()

    backbone = build_backbone(args.timm).eval()
    info = backbone.feature_info
    print(f"backbone: {backbone.pretrained_cfg['architecture']} ({backbone.pretrained_cfg['source']})")
    for index, chs, reduction in zip(info.out_indices, info.channels(), info.reduction(), strict=True):
        print(f"  level {index}: {chs} channels, stride {reduction} ({info.module_name(index)})")

    neck = FeaturePyramid(info.channels(), NECK_CHANNELS).eval()
    heads = DenseHeads(NECK_CHANNELS, NUM_CLASSES).eval()
    cfg = backbone.pretrained_cfg
    x = canvases(2 if args.quick else 8, cfg["mean"][0], cfg["std"][0])
    with torch.inference_mode():
        features = backbone(x)
        pyramid = neck(features)
        masks, detections = heads(pyramid, (CANVAS, CANVAS))

    print(f"input: {tuple(x.shape)}")
    for reduction, feature in zip(info.reduction(), features, strict=True):
        print(f"C{reduction.bit_length() - 1}: {tuple(feature.shape)}")
    for reduction, level, (classes, boxes) in zip(info.reduction(), pyramid, detections, strict=True):
        name = f"P{reduction.bit_length() - 1}"
        print(f"{name}: {tuple(level.shape)} -> class logits {tuple(classes.shape)}, boxes {tuple(boxes.shape)}")
    print(f"segmentation logits: {tuple(masks.shape)}")
    trainable = sum(p.numel() for module in (neck, heads) for p in module.parameters())
    print(f"neck + heads: {trainable:,} parameters; backbone: {sum(p.numel() for p in backbone.parameters()):,}")


if __name__ == "__main__":
    main()
