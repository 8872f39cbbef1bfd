"""Accuracy against multiply-adds for every registered checkpoint (the paper's Figure 5).

Each checkpoint contributes one point per input side it was scored at; the cost of a
point is measured with ``profile_model`` at that side, the accuracy is the registered
one. The Pareto front joins the points that no cheaper point beats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .common import FIGURE_DIR, INCLUDE_DIR, figure, note, write_if_changed
from .zoo import DATASET_TITLES, by_dataset


def points(cfgs: Sequence[Any]) -> list[tuple[float, float, str, float]]:
    """``(mult-adds, top-1 %, label, α)`` for every (checkpoint, scored side)."""
    from mobilenet_mnist import mobilenet_v1, profile_model

    out = []
    for cfg in cfgs:
        model = mobilenet_v1(width_mult=cfg.width_mult, arch=cfg.arch, in_chans=cfg.input_size[0],
                             num_classes=cfg.num_classes)
        for side, accuracy in cfg.test_accuracy.items():
            macs = profile_model(model, input_size=int(side)).macs
            out.append((float(macs), float(accuracy), f"α={cfg.width_mult:g}, {int(side)} px",
                        cfg.width_mult))
    return out


def pareto_front(pts: Sequence[tuple[float, float, str, float]]) -> list[tuple[float, float]]:
    """Points (mult-adds, accuracy) not beaten by any cheaper-or-equal point, by cost."""
    front: list[tuple[float, float]] = []
    for macs, acc, _, _ in sorted(pts, key=lambda p: (p[0], -p[1])):
        if not front or acc > front[-1][1]:
            front.append((macs, acc))
    return front


def draw_pareto(pts: Sequence[tuple[float, float, str, float]], title: str, path: Any) -> None:
    """Scatter of all points with the Pareto front, log-scaled cost axis, saved to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    widths = sorted({p[3] for p in pts}, reverse=True)
    for width in widths:
        mine = [p for p in pts if p[3] == width]
        ax.scatter([p[0] / 1e6 for p in mine], [p[1] for p in mine], s=36, label=f"α = {width:g}",
                   zorder=3)
        for macs, acc, label, _ in mine:
            ax.annotate(label.split(", ")[1], (macs / 1e6, acc), textcoords="offset points",
                        xytext=(4, 4), fontsize=7.5)
    front = pareto_front(pts)
    ax.plot([m / 1e6 for m, _ in front], [a for _, a in front], "--", color="#888", zorder=2,
            label="Pareto front")
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.tick_params(axis="x", which="both", labelsize=9)
    ax.set_xlabel("multiply-adds per image (millions, log scale)")
    ax.set_ylabel("top-1 test accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def generate_pareto(cfgs: Sequence[Any] | None) -> None:
    """Write one Pareto figure per dataset and the include that shows them (or a note)."""
    if not cfgs:
        text = note("The accuracy-against-cost plot appears here once checkpoints are "
                    "registered; this build has none.")
        write_if_changed(INCLUDE_DIR / "zoo_pareto.rst", text)
        return
    FIGURE_DIR.mkdir(parents=True, exist_ok=True)
    parts = []
    for dataset, group in by_dataset(cfgs).items():
        pts = points([cfg for cfg in group if cfg.test_accuracy])
        if not pts:
            continue
        title = DATASET_TITLES.get(dataset, dataset)
        name = f"pareto_{dataset}.png"
        draw_pareto(pts, f"{title}: test accuracy against multiply-adds", FIGURE_DIR / name)
        parts.append(figure(name, f"{title} accuracy against multiply-adds",
                            f"{title}: every registered checkpoint at every input side it was "
                            "scored at; the dashed line is the Pareto front.", width="80%"))
    text = "\n".join(parts) or note("No registered checkpoint has test accuracies yet.")
    write_if_changed(INCLUDE_DIR / "zoo_pareto.rst", text)
