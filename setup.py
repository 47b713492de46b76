"""Build step that ships the validation cases inside the wheel; all metadata is in pyproject.toml.

The cases live in the top-level ``validation/`` folder of the source tree, which is not a package
(its case folders are named ``ou-ness``, ``ft-ou``, ...).  ``build_py`` copies them to
``fpsolve/_validation/<case>/`` in the build, so that an installed (non-editable) fpsolve finds
them (:func:`fpsolve.validation_registry.default_cases_dir`).  Every file of a case folder is
shipped except caches and the ``figures/`` kept there for the documentation.  An editable
install reads the checkout's ``validation/`` folder instead and copies nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
CASES_SOURCE = "validation"
CASES_PACKAGE_DIR = ("fpsolve", "_validation")
SKIPPED_DIRS = {"__pycache__", "figures"}


def case_files(root: Path = ROOT) -> list[Path]:
    """The files of ``root/validation`` shipped in the wheel, relative to that folder."""
    source = root / CASES_SOURCE
    if not source.is_dir():
        return []
    files = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if (not path.is_file() or any(p.startswith(".") or p in SKIPPED_DIRS for p in rel.parts)
                or path.suffix in {".pyc", ".pyo"}):
            continue
        files.append(rel)
    return files


class BuildPyWithCases(build_py):
    """``build_py`` that also copies ``validation/`` to ``fpsolve/_validation/``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        # start afresh: a case file deleted from validation/ must not linger in a reused build/
        shutil.rmtree(Path(self.build_lib, *CASES_PACKAGE_DIR), ignore_errors=True)
        for src, dst in self._case_targets():
            self.mkpath(str(Path(dst).parent))
            self.copy_file(src, dst, preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            outputs += [dst for _, dst in self._case_targets()]
        return outputs

    def _case_targets(self) -> list[tuple[str, str]]:
        target = Path(self.build_lib, *CASES_PACKAGE_DIR)
        return [(str(ROOT / CASES_SOURCE / rel), str(target / rel)) for rel in case_files()]


setup(cmdclass={"build_py": BuildPyWithCases})
