"""Sphinx configuration of seqgraph's manual: `make docs` builds it into docs/_build/html (warnings are errors).

Pages are Markdown (MyST) or reStructuredText; the API reference is generated from the docstrings (autodoc,
autosummary, napoleon for their Google-style sections); the tutorials in docs/tutorials/ are scripts that
sphinx-gallery runs on every build and offers as notebooks; math becomes MathML at build time (_ext/mathml.py), so
the site needs no network to render its equations.
"""

import sys
from pathlib import Path

import torch

import seqgraph

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "seqgraph"
copyright = "seqgraph's authors"
release = version = seqgraph.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "mathml",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "tutorials/README.txt"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["seqgraph.css"]
html_math_renderer = "mathml"
html_theme = "alabaster"
html_theme_options = {"description": "Recurrent and graph neural networks written from their equations",
                      "fixed_sidebar": True, "sidebar_width": "230px", "page_width": "1040px"}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_title = f"seqgraph {release}"

# Markdown pages: $...$ math, anchors for ## headings, tables as in the README
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# API reference: one page per module (the template _templates/autosummary/module.rst documents its members)
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_inherit_docstrings = False  # nn.Module's docstrings (forward, extra_repr) are not ours to render
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
# "Shapes:" as a section of its own, as PyG's layers have it
napoleon_custom_sections = [("Shapes", "notes_style")]

# Tutorials: every script in tutorials/ runs on every build, in this process; a failure fails the build. Their
# models are tiny: one thread is faster than two (no synchronisation) and is not slowed down by whatever else shares
# the cores, as in the test suite.
torch.set_num_threads(1)
sphinx_gallery_conf = {
    "examples_dirs": "tutorials",
    "gallery_dirs": "auto_tutorials",
    "filename_pattern": r"\.py$",
    "within_subsection_order": "FileNameSortKey",  # plot_1_..., plot_2_...: the order to read them in
    "abort_on_example_error": True,
    "run_stale_examples": True,  # run them even when their source is unchanged: the library may have changed
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 0,
    "capture_repr": (),  # show what a tutorial prints, not the repr of a block's last expression
    "matplotlib_animations": False,
    "show_signature": False,
}
