"""Sphinx configuration of the fpsolve documentation site.

Build (warnings are errors; the gallery scripts are *not* executed, as in the test suite's
build, tests/docs/test_sphinx_build.py)::

    sphinx-build -W -b html docs docs/_build/html

Set ``FPSOLVE_DOCS_EXECUTE=1`` to run the examples/plot_*.py gallery scripts and render their
figures and printed output (the local build of the README; the scripts are tested separately).
Build-time output, not committed (see .gitignore): ``docs/generated/`` (autosummary stubs of the
API reference), ``docs/auto_examples/`` (the rendered gallery), ``docs/sg_execution_times.rst``,
``docs/_build/``.
"""

from __future__ import annotations

import inspect
import os
import shutil
from pathlib import Path

import fpsolve

HERE = Path(__file__).resolve().parent

project = "fpsolve"
author = "the fpsolve developers"
copyright = "the fpsolve developers"
release = fpsolve.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# ---------------------------------------------------------------- Markdown pages (myst-parser)
# Anchors for the "page.md#a-section" links between the Markdown pages (GitHub-style slugs).
myst_heading_anchors = 4

# ---------------------------------------------------------------- API reference
# docs/api.md holds one recursive autosummary over `fpsolve`; the stubs are generated into
# docs/generated/ at build time.  Members follow each module's __all__ (re-exports included), so
# the reference shows exactly the public API.
autosummary_generate = True
# Fresh stubs every build: a stale stub of a name dropped from an __all__ would sit in no toctree,
# which -W turns into an error on an incremental build.
shutil.rmtree(HERE / "generated", ignore_errors=True)
autosummary_ignore_module_all = False
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"            # the numpydoc Parameters sections carry the types
add_module_names = False


def _top_level_entry_points() -> dict[str, dict[str, str]]:
    """``{subpackage: {name: "fpsolve.name"}}`` for the names of ``fpsolve.__all__`` that a
    subpackage's ``__all__`` also exports (the same object).  Each is documented once, as
    ``fpsolve.name`` (the name the user guide uses); the subpackage page links there, so no class
    is described twice (which -W would reject as a duplicate canonical name)."""
    out: dict[str, dict[str, str]] = {}
    for sub in fpsolve.__all__:
        module = getattr(fpsolve, sub)
        if not inspect.ismodule(module):
            continue
        for name in getattr(module, "__all__", ()):
            if name in fpsolve.__all__ and getattr(fpsolve, name) is getattr(module, name):
                out.setdefault(module.__name__, {})[name] = f"fpsolve.{name}"
    return out


autosummary_context = {"entry_points": _top_level_entry_points()}

numpydoc_show_class_members = False   # the class template documents the members itself
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True   # Attributes sections as lists, not duplicate targets


def _drop_type_docstrings(app, what, name, obj, options, lines):
    """Module constants without a doc comment (``BOUNDARIES = (...)``) would show the docstring
    of their type ("Built-in immutable sequence..."); show just the name and value."""
    doc = type(obj).__doc__
    if what == "data" and doc and " ".join(lines).split() == doc.split():
        lines.clear()


def setup(app):
    app.connect("autodoc-process-docstring", _drop_type_docstrings, priority=100)  # before numpydoc


# ---------------------------------------------------------------- gallery (sphinx-gallery)
# FPSOLVE_DOCS_EXECUTE=1 runs the scripts; by default (CI) they are only rendered as code.
EXECUTE = os.environ.get("FPSOLVE_DOCS_EXECUTE", "0").strip().lower() in ("1", "true", "yes", "on")

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py|/_[^/]*\.py$",   # helper modules (_common.py) are no examples
    "plot_gallery": EXECUTE,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
}

# ---------------------------------------------------------------- HTML
html_theme = "alabaster"
html_title = f"fpsolve {release}"
html_static_path: list[str] = []
