"""The documentation site builds clean and its generated API reference covers the public API.

One ``sphinx-build -W -b html`` per session (issue 15: "docs build clean with -W in CI; every
public name in ``fpsolve.__all__`` and ``fpsolve.learning.__all__`` appears in the generated
reference").  The build runs in a subprocess on a copy of ``docs/`` and ``examples/`` in a
temporary folder, so the autosummary stubs (``generated/``) and the rendered gallery
(``auto_examples/``) never land in the working tree and concurrent runs do not collide.  The
gallery scripts are *not* executed (``FPSOLVE_DOCS_EXECUTE=0``; they are tested on their own),
so the build takes about half a minute on 2 cores.  Skipped when Sphinx or one of the extensions
(the ``docs`` extra) is not installed.
"""

from __future__ import annotations

import importlib
import inspect
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

for _ext in ("sphinx", "myst_parser", "numpydoc", "sphinx_gallery"):
    pytest.importorskip(_ext)

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 600          # s; a clean build takes ~35 s on 2 cores (hang guard only)


def _copy_sources(dest: Path) -> Path:
    """docs/ and examples/ (without build output) under ``dest``; returns the docs copy."""
    ignore = shutil.ignore_patterns("_build", "generated", "auto_examples",
                                    "sg_execution_times.rst", "__pycache__")
    docs = dest / "docs"
    shutil.copytree(ROOT / "docs", docs, ignore=ignore)
    examples = dest / "examples"
    if (ROOT / "examples" / "README.txt").exists():
        shutil.copytree(ROOT / "examples", examples, ignore=ignore)
    else:   # the gallery is not there (yet): an empty one keeps the rest of the site checked
        examples.mkdir()
        (examples / "README.txt").write_text("Gallery\n=======\n", encoding="utf-8")
    # docs/*.md show figures of the validation cases by relative path (../validation/...)
    (dest / "validation").symlink_to(ROOT / "validation", target_is_directory=True)
    return docs


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """Build the site once: ``(completed process, html folder, docs copy, seconds)``."""
    tmp = tmp_path_factory.mktemp("sphinx")
    docs = _copy_sources(tmp)
    html = tmp / "html"
    env = dict(os.environ, FPSOLVE_DOCS_EXECUTE="0", MPLBACKEND="Agg")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(docs), str(html)],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    return proc, html, docs, time.perf_counter() - start


def test_docs_build_clean_with_warnings_as_errors(built_docs):
    proc, html, _, seconds = built_docs
    assert proc.returncode == 0, (
        f"sphinx-build -W failed (exit {proc.returncode}, {seconds:.0f} s):\n"
        f"{proc.stderr[-8000:]}\n{proc.stdout[-2000:]}")
    for page in ["index", "getting-started", "theory", "stochastic-thermodynamics",
                 "tutorial-ft-ou", "sgd-theory", "sgworld", "validation", "api",
                 "auto_examples/index", "generated/fpsolve"]:
        assert (html / f"{page}.html").is_file(), page


def _inventory(html: Path) -> dict[str, str]:
    """``{name: role}`` of the Python objects in the built site's objects.inv."""
    from sphinx.util.inventory import InventoryFile

    with open(html / "objects.inv", "rb") as f:
        inv = InventoryFile.load(f, "", lambda base, uri: uri)
    items = inv.data.items() if hasattr(inv, "data") else inv.items()
    return {name: role for role, entries in items if role.startswith("py:")
            for name in entries}


def _expected(module_name: str) -> dict[str, str]:
    """``{public name of module: the documented name that must be in the inventory}``.

    A subpackage's name that ``fpsolve`` re-exports is documented once, as ``fpsolve.name``
    (docs/conf.py, autosummary_context); everything else under its own module."""
    import fpsolve

    module = importlib.import_module(module_name)
    out = {}
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.ismodule(obj):
            out[name] = obj.__name__
        elif module_name != "fpsolve" and getattr(fpsolve, name, None) is obj:
            out[name] = f"fpsolve.{name}"
        else:
            out[name] = f"{module_name}.{name}"
    return out


@pytest.mark.parametrize("module", ["fpsolve", "fpsolve.learning"])
def test_generated_reference_covers_every_public_name(built_docs, module):
    proc, html, docs, _ = built_docs
    if proc.returncode != 0:
        pytest.skip("the build failed (see test_docs_build_clean_with_warnings_as_errors)")
    documented = _inventory(html)
    expected = _expected(module)
    absent = sorted(name for name, target in expected.items() if target not in documented)
    assert not absent, f"the generated reference lacks {module}: {absent}"
    # ... each with a generated page of its own (functions, classes) or its module's page
    stubs = {p.stem for p in (docs / "generated").glob("*.rst")}
    no_page = sorted(name for name, target in expected.items()
                     if target not in stubs and target.rsplit(".", 1)[0] not in stubs)
    assert not no_page, f"no generated page for {module}: {no_page}"


def test_generated_reference_covers_the_subpackages(built_docs):
    # Beyond the target: every __all__ name of every public subpackage is in the reference.
    import fpsolve

    proc, html, _, _ = built_docs
    if proc.returncode != 0:
        pytest.skip("the build failed (see test_docs_build_clean_with_warnings_as_errors)")
    documented = _inventory(html)
    absent = []
    for sub in fpsolve.__all__:
        if inspect.ismodule(getattr(fpsolve, sub)):
            module = f"fpsolve.{sub}"
            absent += [f"{module}.{n}" for n, target in _expected(module).items()
                       if target not in documented]
    assert not absent, f"the generated reference lacks {absent}"
