"""Sphinx configuration of the book: myst-nb + sphinx-book-theme, built offline.

The source directory is the repository's root and this folder is the configuration
directory (``sphinx-build -c book . book/_build/html``), so chapters keep their paths
(``notebooks/ml/01_optimizers.ipynb`` becomes ``notebooks/ml/01_optimizers.html``) and the
README's chapter table links work both on GitHub and in the book. ``include_patterns``
admits only the book's pages and the chapters' ``.ipynb`` files: each chapter is read from
exactly one file of its pair.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

project = "ML & NLP Interview Questions, Executed"
author = "The authors"
copyright = "2026, the authors"

extensions = [
    "myst_nb",
    "sphinx_book_theme",
    "sphinx_design",
    "sphinx_copybutton",
    "sphinx_togglebutton",
    "sphinxcontrib.bibtex",
]

root_doc = "book/index"
include_patterns = ["book/**.md", "notebooks/*/[0-9][0-9]_*.ipynb"]
exclude_patterns = ["book/_build", "build", "**/.ipynb_checkpoints"]

# --- MyST and notebooks -------------------------------------------------------------------
myst_enable_extensions = ["amsmath", "dollarmath", "colon_fence", "deflist", "substitution"]
myst_heading_anchors = 3
myst_dmath_double_inline = True
math_number_all = False
math_eqref_format = "({number})"
numfig = True

# "cache": execute through jupyter-cache, re-executing only notebooks whose code changed.
# `make test` builds from notebooks already executed by nbmake, with NB_EXECUTION_MODE=off.
nb_execution_mode = os.environ.get("NB_EXECUTION_MODE", "cache")
nb_execution_cache_path = str(Path(__file__).parent / "_build" / ".jupyter_cache")
nb_execution_timeout = 120  # seconds per cell; the per-notebook budget is checked by tests
nb_execution_raise_on_error = True  # a cell that raises fails the build
nb_execution_show_tb = True
nb_merge_streams = True
nb_render_image_options = {"width": "100%"}
# Progress bars (tqdm in Jupyter) are ipywidgets. The book is read offline, so no widget
# JavaScript is loaded from a CDN: the bar's plain-text form is shown instead.
nb_ipywidgets_js: dict[str, dict[str, str]] = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]

# --- Bibliography ---------------------------------------------------------------------------
bibtex_bibfiles = ["references.bib"]  # relative to this folder
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"

# --- HTML -----------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "ML & NLP Interview Questions, Executed"
html_favicon = "favicon.svg"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
}
# pydata-sphinx-theme reads the colour mode from the context; left empty, it logs a console error.
html_context = {"default_mode": "auto"}
html_extra_path = ["_extra"]  # index.html at the top, redirecting to book/index.html
html_last_updated_fmt = ""
html_show_sourcelink = False

# MathJax from local files, so equations render with no network. The PyPI package
# sphinx-mathjax-offline ships MathJax 3; pointing the static path at its files (instead of
# loading it as an extension, which is not marked parallel-safe) keeps `-j` builds working.
_mathjax_dist = importlib.metadata.distribution("sphinx-mathjax-offline")
_mathjax_static = Path(str(_mathjax_dist.locate_file("sphinx-mathjax-offline/static")))
if not (_mathjax_static / "mathjax" / "tex-chtml.js").is_file():
    raise RuntimeError(f"MathJax files not found under {_mathjax_static}")
html_static_path = [str(_mathjax_static)]
mathjax_path = "mathjax/tex-chtml.js"

copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

suppress_warnings = ["mystnb.unknown_mime_type"]
