"""The architecture diagram: feature maps from input to logits, drawn from the built model.

Box heights follow the spatial side (32, 16, ... 1) and box widths the channel count
(log scale), both read from ``model.feature_info`` and the model's layers, so the
picture changes with the registered config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .common import FIGURE_DIR


@dataclass(frozen=True)
class FeatureMap:
    """One box of the diagram: a tensor of ``chs × side × side`` and what produced it."""

    label: str
    chs: int
    side: int
    how: str


def feature_maps(model: Any) -> list[FeatureMap]:
    """Input, stem output and every stage output of ``model`` at its default input size."""
    in_chs, side, _ = model.pretrained_cfg["input_size"]
    stem = model.stem.conv
    stem_side = math.ceil(side / stem.stride[0])
    maps = [
        FeatureMap("input", in_chs, side, ""),
        FeatureMap("stem", stem.out_channels, stem_side, f"conv 3×3, s{stem.stride[0]}"),
    ]
    for index, (stage, info) in enumerate(zip(model.stages, model.feature_info, strict=True)):
        first_stride = stage[0].conv_dw.conv.stride[0]
        how = f"{len(stage)}× dw-sep" + (", first s2" if first_stride == 2 else ", s1")
        maps.append(FeatureMap(f"stage {index}", info["num_chs"],
                               math.ceil(side / info["reduction"]), how))
    return maps


def _box_size(fmap: FeatureMap, largest_side: int) -> tuple[float, float]:
    width = 0.2 + 0.08 * math.log2(max(fmap.chs, 1))
    height = 0.35 + 2.6 * fmap.side / largest_side
    return width, height


def draw_stages(model: Any, path: Any) -> None:
    """Draw the feature-map diagram of ``model`` to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, Rectangle

    maps = feature_maps(model)
    largest = max(m.side for m in maps)
    fig, ax = plt.subplots(figsize=(10, 4.0), dpi=130)
    x, gap = 0.0, 1.3
    for index, fmap in enumerate(maps):
        width, height = _box_size(fmap, largest)
        color = "#d9d9d9" if index == 0 else plt.cm.viridis(0.15 + 0.7 * index / len(maps))
        ax.add_patch(Rectangle((x, -height / 2), width, height, facecolor=color, edgecolor="#333"))
        ax.text(x + width / 2, -1.75, f"{fmap.label}\n{fmap.chs}×{fmap.side}×{fmap.side}",
                ha="center", va="top", fontsize=10)
        if fmap.how:
            ax.add_patch(FancyArrowPatch((x - gap + 0.08, 0), (x - 0.08, 0), arrowstyle="-|>",
                                         mutation_scale=12, color="#555"))
            ax.text(x - gap / 2, 0.15, fmap.how.replace(", ", "\n"),
                    ha="center", va="bottom", fontsize=8.5, color="#333")
        x += width + gap
    _draw_head(ax, x - gap, model)
    ax.set_xlim(-0.2, x + 1.6)
    ax.set_ylim(-2.6, 1.9)
    ax.axis("off")
    ax.set_title(f"MobileNet V1, arch {model.arch.name!r}, α = {model.width_mult:g}: "
                 "channels × height × width after each stage", fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _draw_head(ax: Any, x: float, model: Any) -> None:
    """Arrow from the last stage to the pooled features and the logits."""
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch((x + 0.08, 0), (x + 0.9, 0), arrowstyle="-|>",
                                 mutation_scale=12, color="#555"))
    ax.text(x + 1.0, 0, f"avg pool\n→ FC {model.num_classes}\n→ logits", ha="left",
            va="center", fontsize=10)


def generate_diagram() -> str:
    """Draw the MNIST model's diagram into ``generated/figures``; return the file name."""
    from mobilenet_mnist import mobilenet_v1

    name = "architecture_stages.png"
    FIGURE_DIR.mkdir(parents=True, exist_ok=True)
    draw_stages(mobilenet_v1(), FIGURE_DIR / name)
    return name
