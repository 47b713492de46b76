"""The validation cases of an installed (non-editable) fpsolve.

The cases live in the repository's top-level ``validation/`` folder; the build step in
``setup.py`` ships them in the wheel as ``fpsolve/_validation/`` and
:func:`fpsolve.validation_registry.default_cases_dir` falls back to that copy when fpsolve is not
imported from a source checkout.  The fast tests run the build step on a copy of the sources
(about a second) and ``fpsolve list`` from the built package; the slow test builds the wheel
with ``pip wheel``, installs it into a fresh virtual environment and runs ``fpsolve list`` and
``fpsolve reproduce --quick ou-ness`` there, from a folder outside the checkout.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

from fpsolve import validation_registry as registry
from fpsolve.cli import main

REPO = Path(__file__).resolve().parents[2]
VALIDATION = REPO / "validation"
SKIPPED_DIRS = {"__pycache__", "figures"}  # caches, and figures kept for the documentation

pytestmark = pytest.mark.skipif(not (REPO / "setup.py").is_file() or not VALIDATION.is_dir(),
                                reason="needs the fpsolve source tree (setup.py, validation/)")


def source_case_files() -> set[str]:
    """Every file of the checkout's case folders that the wheel must ship, relative to
    ``validation/``."""
    files = set()
    for path in VALIDATION.rglob("*"):
        rel = path.relative_to(VALIDATION)
        if (path.is_file() and not any(p in SKIPPED_DIRS or p.startswith(".") for p in rel.parts)
                and path.suffix not in {".pyc", ".pyo"}):
            files.add(rel.as_posix())
    return files


def case_names() -> list[str]:
    return sorted(d.name for d in VALIDATION.iterdir()
                  if d.is_dir() and (d / "compute.py").is_file())


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (registry.ENV_VAR, "PYTHONPATH")}
    env["MPLBACKEND"] = "Agg"
    return env


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    """A copy of what a build needs, so that building leaves nothing in the checkout."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.py[cod]", "*.nbi", "*.nbc")
    for name in ("fpsolve", "validation"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    return src


@pytest.fixture(scope="module")
def build_lib(sources, tmp_path_factory) -> Path:
    """The tree ``build_py`` lays out for the wheel (bdist_wheel packs exactly this tree),
    built with this interpreter's setuptools: no network, about a second."""
    out = tmp_path_factory.mktemp("build_lib")
    done = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(out)],
                          cwd=sources, env=clean_env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def shipped_cases(names) -> set[str]:
    prefix = "fpsolve/_validation/"
    return {n[len(prefix):] for n in names if n.startswith(prefix)}


def test_build_ships_every_case_file(build_lib):
    shipped = shipped_cases(p.relative_to(build_lib).as_posix()
                            for p in build_lib.rglob("*") if p.is_file())
    expected = source_case_files()
    names = case_names()
    assert len(names) >= 10, names
    for name in names:  # the contract of a case; helper modules such as digits-ft/runs.py too
        assert {f"{name}/compute.py", f"{name}/expected.json"} <= expected
    assert shipped == expected, (f"missing from the build: {sorted(expected - shipped)}; "
                                 f"unexpected: {sorted(shipped - expected)}")
    assert not (build_lib / "validation").exists()  # no top-level folder in site-packages


def test_built_package_lists_every_case_outside_a_checkout(build_lib, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(build_lib, site)
    code = textwrap.dedent("""
        import fpsolve, fpsolve.validation_registry as r
        from fpsolve.cli import main
        print(fpsolve.__file__)
        print(r.checkout_cases_dir(), r.default_cases_dir())
        raise SystemExit(main(["list"]))
    """)
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    done = subprocess.run([sys.executable, "-c", code], cwd=run_dir,
                          env={**clean_env(), "PYTHONPATH": str(site)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.splitlines()
    assert Path(lines[0]).resolve() == (site / "fpsolve" / "__init__.py").resolve()
    assert lines[1] == f"None {site / 'fpsolve' / '_validation'}"
    listed = [line.split()[0] for line in lines[2:] if line.strip()]
    assert listed == case_names()


# ------------------------------------------------------- lookup order, in process

def write_case(root: Path, name: str) -> None:
    d = root / name
    d.mkdir(parents=True)
    (d / "compute.py").write_text("def main(quick=False):\n    return {'x': 1.0}\n")
    (d / "expected.json").write_text(json.dumps(
        {"title": f"{name} title", "budget_s": {"quick": 1, "full": 2},
         "checks": {"x": {"value": 1.0}}}))


@pytest.fixture
def installed_only(tmp_path, monkeypatch):
    """No source checkout around the package, an installed copy holding the case 'shipped'."""
    monkeypatch.delenv(registry.ENV_VAR, raising=False)
    monkeypatch.setattr(registry, "_SOURCE_ROOT", tmp_path / "site-packages")
    package = tmp_path / "site-packages" / "fpsolve"
    write_case(package / "_validation", "shipped")
    real_files = importlib.resources.files

    def files(anchor):
        return package if anchor == "fpsolve" else real_files(anchor)

    monkeypatch.setattr(importlib.resources, "files", files)
    return package / "_validation"


def test_checkout_is_detected_in_the_source_tree():
    assert registry.checkout_cases_dir() == VALIDATION
    if not os.environ.get(registry.ENV_VAR):
        assert registry.default_cases_dir() == VALIDATION


def test_registry_falls_back_to_installed_copy(installed_only, tmp_path, capsys):
    assert registry.checkout_cases_dir() is None
    assert registry.installed_cases_dir() == installed_only
    assert registry.default_cases_dir() == installed_only
    assert list(registry.discover_cases()) == ["shipped"]
    assert main(["list"]) == 0
    assert capsys.readouterr().out.split()[:2] == ["shipped", "shipped"]
    out = tmp_path / "out"
    assert main(["reproduce", "--quick", "--no-progress", "--out", str(out), "shipped"]) == 0
    assert json.loads((out / "report.json").read_text())["cases"]["shipped"]["passed"]


def test_checkout_and_env_var_take_precedence_over_installed_copy(installed_only, tmp_path,
                                                                  monkeypatch):
    root = tmp_path / "checkout"
    write_case(root / "validation", "in-checkout")
    (root / "pyproject.toml").write_text("")
    monkeypatch.setattr(registry, "_SOURCE_ROOT", root)
    assert list(registry.discover_cases()) == ["in-checkout"]
    write_case(tmp_path / "env", "from-env")
    monkeypatch.setenv(registry.ENV_VAR, str(tmp_path / "env"))
    assert list(registry.discover_cases()) == ["from-env"]


def test_no_cases_anywhere_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(registry.ENV_VAR, raising=False)
    monkeypatch.setattr(registry, "_SOURCE_ROOT", tmp_path)
    monkeypatch.setattr(registry, "installed_cases_dir", lambda: None)
    assert main(["list"]) == 2
    assert "is not a directory" in capsys.readouterr().err


# ------------------------------------------------------- a real install (slow)

@pytest.mark.slow
def test_installed_wheel_lists_and_reproduces_from_any_directory(sources, tmp_path):
    """Build the wheel as a user does (``pip wheel .``, isolated build: setuptools and wheel come
    from the package index), check its case files, ``pip install`` it (no dependencies: they come
    from this interpreter's site-packages through a .pth file, which does not pull in the
    editable fpsolve) into a fresh venv, and run the ``fpsolve`` command from a folder outside
    the checkout."""
    wheels = tmp_path / "wheels"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(wheels), str(sources)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    (wheel,) = wheels.glob("fpsolve-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert shipped_cases(zf.namelist()) == source_case_files()
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = str(bindir / "python")
    done = subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                           str(wheel)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "_fpsolve_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()

    def fpsolve(*args):
        return subprocess.run([str(bindir / "fpsolve"), *args], cwd=run_dir, env=clean_env(),
                              capture_output=True, text=True, timeout=600)

    where = subprocess.run([python, "-c", "import fpsolve; print(fpsolve.__file__)"],
                           cwd=run_dir, env=clean_env(), capture_output=True, text=True)
    assert Path(where.stdout.strip()).resolve().is_relative_to(Path(site).resolve()), where
    listed = fpsolve("list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == case_names()
    out = tmp_path / "out"
    rep = fpsolve("reproduce", "--quick", "--no-progress", "--out", str(out), "ou-ness")
    assert rep.returncode == 0, rep.stdout + rep.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["passed"] and report["cases"]["ou-ness"]["passed"]
    assert report["git_commit"] is None  # an installed copy, not a checkout
