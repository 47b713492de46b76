"""Every ```python block of docs/*.md and README.md runs.

Blocks of one file run in order in one shared namespace, in a temporary working directory, with
matplotlib's non-interactive Agg backend.  An HTML comment on the line(s) right before a fence
controls the block:

``<!-- no-test -->``
    the block is shown only (e.g. it needs a long run or a display).
``<!-- requires: fpsolve.evolve fpsolve.solve_quasi_stationary -->``
    the block is skipped, with the missing names as reason, while one of the dotted names does
    not resolve; it runs as soon as they all do.

Each block is its own test (``docs/theory.md:L120``).  A test first runs, once per session, the
blocks above it in the same file, so ``-k`` selections work; if one of those fails, the later
block is skipped rather than reported as a second failure.

The last tests check that docs/api.md, a short index into the API reference generated from the
docstrings, names every public module and generates that reference (its coverage of every
public name is checked by tests/docs/test_sphinx_build.py, which builds the site).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]

# A fence opens with ```python at the start of a line and closes at the next ``` line.
FENCE = re.compile(r"^```python[ \t]*\n(?P<code>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)

PUBLIC_MODULES = ["fpsolve", "fpsolve.grids", "fpsolve.models", "fpsolve.operators",
                  "fpsolve.solvers", "fpsolve.analysis", "fpsolve.linear", "fpsolve.results",
                  "fpsolve.errors", "fpsolve.stochastic", "fpsolve.learning", "fpsolve.io",
                  "fpsolve.plotting"]


@dataclass
class Block:
    path: Path
    line: int                      # line of the first code line in the Markdown file
    code: str
    no_test: bool = False
    requires: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:L{self.line}"


def parse_blocks(path: Path) -> list[Block]:
    """The ```python blocks of ``path`` with the directives of the comments above them."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        bodies = comments_above(text[:match.start()])
        words = " ".join(bodies).split()
        requires = []
        for body in bodies:
            body = body.strip()
            if body.startswith("requires:"):
                requires += body[len("requires:"):].split()
        line = text.count("\n", 0, match.start("code")) + 1
        blocks.append(Block(path, line, match.group("code"), "no-test" in words, tuple(requires)))
    return blocks


def comments_above(before: str) -> list[str]:
    """Bodies of the HTML comments that end ``before`` (only whitespace between them)."""
    bodies = []
    before = before.rstrip()
    while before.endswith("-->"):
        start = before.rfind("<!--")
        if start < 0:
            break
        bodies.append(before[start + 4:-3])
        before = before[:start].rstrip()
    return bodies[::-1]


def resolve(dotted: str):
    """Object named by ``dotted`` (``package.module.attr``), or raise AttributeError/ImportError."""
    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=1):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            obj = importlib.import_module(".".join(parts[:i + 1]))
    return obj


def missing(names) -> list[str]:
    out = []
    for name in names:
        try:
            resolve(name)
        except (AttributeError, ImportError):
            out.append(name)
    return out


@dataclass
class FileRun:
    """Shared namespace and progress of one Markdown file's blocks in this session."""

    blocks: list[Block]
    cwd: Path
    namespace: dict = field(default_factory=lambda: {"__name__": "__docs__"})
    done: int = 0                  # blocks [0, done) have been handled
    failed: str | None = None      # id of the first block that failed


_RUNS: dict[Path, FileRun] = {}


def run_block(block: Block, run: FileRun) -> str | None:
    """Execute ``block``; return a skip reason, or None when it ran (exceptions propagate)."""
    if block.no_test:
        return "marked <!-- no-test -->"
    absent = missing(block.requires)
    if absent:
        return f"needs {', '.join(absent)}, not available"
    import matplotlib.pyplot as plt

    # Leading newlines make traceback line numbers those of the Markdown file.
    code = compile("\n" * (block.line - 1) + block.code, str(block.path), "exec")
    try:
        exec(code, run.namespace)
    finally:
        plt.close("all")
    return None


def _file_run(path: Path, tmp_path_factory) -> FileRun:
    if path not in _RUNS:
        cwd = tmp_path_factory.mktemp(re.sub(r"\W", "_", path.stem))
        _RUNS[path] = FileRun(parse_blocks(path), cwd)
    return _RUNS[path]


ALL_BLOCKS = [b for p in DOC_FILES for b in parse_blocks(p)]


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=[b.id for b in ALL_BLOCKS])
def test_doc_block(block: Block, tmp_path_factory, monkeypatch):
    run = _file_run(block.path, tmp_path_factory)
    monkeypatch.chdir(run.cwd)
    index = next(i for i, b in enumerate(run.blocks) if b.line == block.line)
    if run.done > index:  # already run as a prerequisite of a later block (reordered tests)
        if run.failed == block.id:
            pytest.fail(f"{block.id} failed when run before a later block of the file")
        return
    while run.done <= index:
        current, is_target = run.blocks[run.done], run.done == index
        run.done += 1
        if run.failed is not None:
            pytest.skip(f"an earlier block of this file failed ({run.failed})")
        try:
            reason = run_block(current, run)
        except Exception as exc:
            run.failed = current.id
            if is_target:
                raise
            # only reached when the earlier block's own test was deselected or reordered
            pytest.fail(f"earlier block {current.id} failed: {type(exc).__name__}: {exc}")
        if is_target and reason is not None:
            pytest.skip(reason)


def test_parser_reads_directives(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("text\n\n```python\na = 1\n```\n\n<!-- no-test -->\n```python\nb = 2\n```\n"
                   "<!-- requires: fpsolve.nope fpsolve.grids -->\n\n```python\nc = 3\n```\n"
                   "```bash\nls\n```\n<!-- no-test -->\nprose in between\n```python\nd = 4\n```\n",
                   encoding="utf-8")
    blocks = parse_blocks(doc)
    assert [(b.line, b.code, b.no_test, b.requires) for b in blocks] == [
        (4, "a = 1\n", False, ()), (9, "b = 2\n", True, ()),
        (14, "c = 3\n", False, ("fpsolve.nope", "fpsolve.grids")), (22, "d = 4\n", False, ())]
    assert missing(blocks[2].requires) == ["fpsolve.nope"]


def test_docs_exist_and_have_examples():
    names = {p.name for p in DOC_FILES}
    assert {"index.md", "getting-started.md", "theory.md", "api.md", "validation.md",
            "README.md"} <= names
    assert (ROOT / "docs" / "conf.py").is_file()
    for path in DOC_FILES:
        if path.name in ("getting-started.md", "README.md"):
            assert parse_blocks(path), f"{path.name} has no python example"


# ------------------------------------------------------------------ docs/api.md: a short index
# The API reference is generated from the docstrings (docs/conf.py: autosummary + numpydoc), so
# signatures cannot drift; docs/api.md only points into it.  tests/docs/test_sphinx_build.py
# builds the site and checks that the generated reference covers every public name.
def test_api_page_generates_the_reference_recursively():
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    block = re.search(r"```\{eval-rst\}\n(.*?)```", api, re.DOTALL)
    assert block, "docs/api.md has no eval-rst block with the autosummary directive"
    lines = [line.strip() for line in block.group(1).splitlines()]
    assert ".. autosummary::" in lines and ":toctree: generated" in lines
    assert ":recursive:" in lines and "fpsolve" in lines


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_api_index_lists_every_public_module(module):
    """docs/api.md's index table has a row for ``module`` (first cell in backticks)."""
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert re.search(rf"^\| `{re.escape(module)}`", api, re.MULTILINE), module


def test_every_module_named_in_the_api_index_exists():
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    named = re.findall(r"`(fpsolve(?:\.\w+)*)`", api)
    assert len(set(named)) >= len(PUBLIC_MODULES)
    assert not missing(set(named)), missing(set(named))


def test_fpsolve_list_example_shows_every_registered_case():
    # Issue 13 item 10: the `fpsolve list` example in getting-started.md showed one case.
    from fpsolve.validation_registry import discover_cases
    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    block = text.split("$ fpsolve list\n", 1)[1].split("```", 1)[0]
    listed = [line.split()[0] for line in block.splitlines() if line.strip()]
    assert listed == sorted(discover_cases()), listed
