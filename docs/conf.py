"""Sphinx configuration of the ladderfit documentation.

Build (from the repository root, after ``pip install -e ".[docs]"``)::

    .venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

The notebooks are executed during the build in fast mode (``LADDERFIT_FAST=1``: one short
chain, a few tasks); a notebook that raises fails the build.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT / "src"))

# The notebooks' kernels inherit this environment: fast sampling, CPU, no progress bars. (No
# MPLBACKEND: the kernel's inline backend is what puts the figures in the pages.)
os.environ["LADDERFIT_FAST"] = "1"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.pop("MPLBACKEND", None)
os.environ.setdefault("LADDERFIT_PROGRESS_BAR", "0")
# Notebook 3 reads EleutherAI's Pythia evaluation files from the shared folder next to the
# repository (not shipped); without them it is shown unexecuted.
_PYTHIA = Path(os.environ.get("PYTHIA_EVALS") or ROOT.parent / "shared" / "pythia-evals")
if _PYTHIA.is_dir():
    os.environ["PYTHIA_EVALS"] = str(_PYTHIA)

import ladderfit  # noqa: E402

project = "ladderfit"
author = "ladderfit developers"
copyright = "2024-2026, ladderfit developers"
version = release = ladderfit.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinxarg.ext",
    "docstring_fixes",  # docs/_ext: plain-text docstring markup mended for docutils (see its docstring)
    "code_tables",  # docs/_ext: tables from the code (the priors) -> docs/_generated/*.md
    "results_tables",  # docs/_ext: benchmarks/results/*.json -> docs/_generated/results/*.md
]

exclude_patterns = ["_build", "_generated", "figures", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "_ext", "_templates"]
templates_path = ["_templates"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

# --- MyST and notebooks -------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "cache"  # executed at build time; re-run only when a notebook changes
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 600
nb_execution_raise_on_error = True  # a notebook that raises fails the build
nb_execution_show_tb = True
nb_output_stderr = "remove"  # warnings of the fast-mode fits (not converged) and progress-bar notices
nb_merge_streams = True
if not _PYTHIA.is_dir():
    nb_execution_excludepatterns = ["*03_your_own_ladder*"]

# --- API reference --------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc Parameters sections say the types
# numpydoc, not napoleon: the docstrings are written for it (Parameters / Returns with
# underlined headers, RST math); the class members are listed by autosummary, not by numpydoc
# (its member tables duplicate the autodoc ones and warn on dataclass fields).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# --- HTML -----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"ladderfit {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
# single pages have no section navigation: give their width to the text
html_sidebars = {"index": [], "getting_started": [], "results": [], "cli": []}

# quotes and ellipses only: "--fit" in a table cell or a paragraph stays two hyphens, not an en dash
smartquotes_action = "qe"
