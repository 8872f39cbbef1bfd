"""Sphinx extension that generates the data-driven parts of the mobilenet-mnist docs.

On ``builder-inited`` (before any page is read) it writes into ``docs/generated/``:
the API reference pages from the public names of the package and its subpackages, the
model-zoo tables and the Pareto plot from the weight registry, the architecture tables
and diagram from the layer-config registry, the package-layout tables from the source
tree, the evaluation figures of the default checkpoint and of every MNIST
checkpoint (:mod:`.figures_digits`), the bad-input tables from the
rows of ``tests/test_audit.py``, and a copy of the changelog. It also resolves references
to defining-module paths through their public aliases (see :mod:`.refs`).
"""

from __future__ import annotations

import time
from typing import Any

from sphinx.util import logging

from .api import generate_api
from .architecture import generate_architecture
from .audit import generate_audit
from .changelog import generate_changelog
from .common import INCLUDE_DIR, figure, write_if_changed
from .diagram import generate_diagram
from .errors import generate_errors
from .evaluation import generate_evaluation
from .figures_digits import generate_digit_figures
from .layout import generate_layout
from .pareto import generate_pareto
from .recipe import generate_recipe
from .refs import resolve_public_alias
from .zoo import generate_zoo

logger = logging.getLogger(__name__)


def _timed(label: str, func: Any, *args: Any) -> Any:
    start = time.perf_counter()
    result = func(*args)
    logger.info("[mnist_docs] %s generated in %.1f s", label, time.perf_counter() - start)
    return result


def generate_all(app: Any) -> None:
    """Run every generator; each writes only files whose content changed."""
    _timed("API reference", generate_api)
    _timed("architecture tables", generate_architecture)
    _timed("package layout", generate_layout)
    diagram = _timed("architecture diagram", generate_diagram)
    write_if_changed(INCLUDE_DIR / "arch_diagram.rst", figure(
        diagram, "MobileNet V1 feature maps from input to logits",
        "Feature maps after the stem and each stage (channels × height × width); box height "
        "follows the spatial side, box width the number of channels (log scale)."))
    cfgs = _timed("model-zoo tables", generate_zoo)
    _timed("Pareto plot", generate_pareto, cfgs)
    evaluated = _timed("evaluation figures", generate_evaluation)
    _timed("figures of every MNIST checkpoint", generate_digit_figures)
    _timed("training recipe table", generate_recipe)
    _timed("error messages", generate_errors)
    _timed("bad-input tables", generate_audit)
    _timed("changelog", generate_changelog)
    write_index_figure(diagram, evaluated)


def write_index_figure(diagram: str, evaluated: bool) -> None:
    """The front page shows real predictions when they were drawn, else the diagram."""
    if evaluated:
        text = figure("mnist_predictions.png", "MNIST test digits with predictions",
                      "The default checkpoint on the first MNIST test digits and its first "
                      "mistakes (red), drawn during this build.")
    else:
        text = figure(diagram, "MobileNet V1 feature maps",
                      "Feature maps of the MNIST network, drawn from its layer config.")
    write_if_changed(INCLUDE_DIR / "index_figure.rst", text)


def setup(app: Any) -> dict[str, Any]:
    """Register the generators (run first on ``builder-inited``) and the alias resolver."""
    app.connect("builder-inited", generate_all, priority=100)
    app.connect("missing-reference", resolve_public_alias)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
