"""Sphinx configuration of the mobilenet-mnist documentation.

Build (from the repository root; needs ``pip install -e ".[docs]"``)::

    sphinx-build -W --keep-going -b html docs docs/_build/html
    python docs/check_links.py docs/_build/html

Generated parts (API pages, zoo tables, figures) are written to ``docs/generated/`` by
the local extension in ``docs/_ext/mnist_docs`` when the build starts.

Intersphinx works offline: each external project has a small inventory in
``docs/_inventories/`` listing the objects these docs refer to, with links to the real
pages. Set ``MOBILENET_MNIST_DOCS_ONLINE=1`` to try the projects' live inventories first
(the local files remain the fallback), e.g. to check that the local ones are current.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent
REPO_DIR = DOCS_DIR.parent
# Document the checkout being built, even where another version is installed.
sys.path.insert(0, str(REPO_DIR))
sys.path.insert(0, str(DOCS_DIR / "_ext"))

import mobilenet_mnist  # noqa: E402  (needs the path set above)

# -- Project -----------------------------------------------------------------------
project = "mobilenet-mnist"
author = "mobilenet-mnist engineers"
copyright = "2026, mobilenet-mnist engineers"
release = mobilenet_mnist.__version__
version = ".".join(release.split(".")[:2])

# -- Extensions ----------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",  # before sphinx_autodoc_typehints, which post-processes it
    "sphinx.ext.intersphinx",
    "sphinx_autodoc_typehints",
    "myst_parser",
    "mnist_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_snippets", "_inventories", "_ext", "generated/include",
                    "generated/cache", "README.md"]
templates_path: list[str] = []
nitpicky = True
# The standard library's inventory is not reachable offline; these are its only classes we name.
nitpick_ignore = [("py:class", "types.ModuleType")]

# -- autodoc, napoleon, type hints ------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True
autosummary_generate = False  # the mnist_docs extension writes the API pages itself
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = False
napoleon_attr_annotations = True
typehints_defaults = "comma"
typehints_document_rtype = True
always_document_param_types = False
set_type_checking_flag = False

# -- intersphinx (offline-safe) -----------------------------------------------------------
ONLINE = os.environ.get("MOBILENET_MNIST_DOCS_ONLINE", "") == "1"


def _inventory(url: str, local: str) -> tuple[str, tuple[str | None, ...]]:
    """Mapping entry: the local inventory, preceded by the live one when online."""
    fallback = f"_inventories/{local}"
    return url, ((None, fallback) if ONLINE else (fallback,))


intersphinx_mapping = {
    "python": _inventory("https://docs.python.org/3", "python.inv"),
    "torch": _inventory("https://docs.pytorch.org/docs/stable", "torch.inv"),
    "numpy": _inventory("https://numpy.org/doc/stable", "numpy.inv"),
}
intersphinx_timeout = 10
intersphinx_disabled_reftypes = ["std:doc"]

# -- MyST (changelog, snippets) --------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- HTML ------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"mobilenet-mnist {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": True,
    "top_of_page_buttons": [],
}
