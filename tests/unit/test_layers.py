"""Import-layer contract of the package (../shared/DESIGN.md, section 2).

Lower layers never import higher ones:

    errors < linear < grids < models < results < operators < solvers < analysis < stochastic
           < learning < io | plotting | cli

Every module under ``fpsolve/`` is parsed with :mod:`ast` (nothing is imported) and mapped to its
layer: the top-level subpackage or module it belongs to.  A module may import modules of its own
layer and of lower layers.  At module level (class bodies and ``try`` blocks included: they run on
import) nothing of a higher or a peer layer may be imported.  Inside a function body an upward
import runs only when the function is called, so it cannot create an import cycle; it is still a
dependency, and is allowed only for the (module, imported module) pairs in :data:`LAZY_UPWARD`,
each with its reason, so that a new one shows up in review.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

PACKAGE = "fpsolve"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / PACKAGE

#: Rank of each layer; a module may import layers of lower rank only (or its own layer).
#: Layers of equal rank are peers and may not import each other.
RANKS = {
    # the bottom: no fpsolve imports except errors
    "errors": 0,      # FpsolveError and the warning classes
    "_version": 0,    # __version__ alone, so that io and cli need not import the package root
    "_numba": 1,      # the only module importing numba (jit policy, Philox): kernels of every layer
    "_progress": 1,   # tqdm progress bars of the solvers and the learning drivers
    "_random": 1.5,   # keys, the counter layout and the one normal transform (uses _numba)
    "_runs": 1.7,     # the one run engine of every trajectory driver (uses _progress, _random)
    "_distributed": 1.8,  # the engine's shards on a cluster: split, submit, retry, merge
    # the layer order of DESIGN.md section 2
    "linear": 2,
    "grids": 3,
    "models": 4,
    "results": 5,
    "operators": 6,
    "solvers": 7,
    "analysis": 8,
    "stochastic": 9,
    "learning": 10,
    "distributed": 10.5,  # public: Backend, sweeps, warm-up (runs the drivers; cli uses it)
    "io": 11,
    "plotting": 11,
    "cli": 11,
    # the curated public API imports every layer; no module of the package may import it
    "": 12,
}

#: Private modules at the package root that are one half of a public layer: they take its place.
PRIVATE_LAYERS = {
    "_io_tree": "io",               # the JSON-tree encoding of io's .npz header
    "_xarray": "io",                # io's NetCDF/xarray backend (imports io itself)
    "validation_registry": "cli",   # the validation cases that `fpsolve reproduce` runs
    "validation_checks": "cli",     # the checks of those cases' expected.json
    "_cli_pool": "cli",             # where reproduce runs its cases (here, or a Dask cluster)
}

#: Upward imports allowed inside a function body: (importing module, imported module) -> reason.
LAZY_UPWARD = {
    ("fpsolve.results", "fpsolve.io"):
        "LabelledResult.to_xarray delegates to fpsolve.io.to_xarray at call time: the method "
        "belongs on the result, the conversion (and its optional xarray dependency) in io",
}


# ------------------------------------------------------------------------------ the checker
def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    """``fpsolve.solvers.stationary`` for ``fpsolve/solvers/stationary.py``."""
    parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    """The layer of a module: its top-level subpackage or module (``""`` for the root)."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    return PRIVATE_LAYERS.get(top, top)


def _function_nodes(tree: ast.AST) -> set[int]:
    """ids of every node inside a function or lambda body."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for sub in ast.walk(node):
                if sub is not node:
                    inside.add(id(sub))
    return inside


def imports_of(module: str, source: str, known: set[str]) -> list[tuple[str, int, bool]]:
    """``(imported fpsolve module, line, in a function body)`` for each import in ``source``.

    ``from X import name`` counts as importing ``X.name`` when that is a module of the package,
    else as importing ``X`` (so ``from . import __version__`` imports the package root)."""
    tree = ast.parse(source)
    lazy = _function_nodes(tree)
    is_package = module in known and any(k.startswith(module + ".") for k in known) \
        or module == PACKAGE
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                source_module = ".".join(base + ([node.module] if node.module else []))
            else:
                source_module = node.module
            targets = [f"{source_module}.{alias.name}" if f"{source_module}.{alias.name}" in known
                       else source_module for alias in node.names]
        else:
            continue
        for target in targets:
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                found.append((target, node.lineno, id(node) in lazy))
    return found


def violations(sources: dict[str, str], *, lazy_allowed=LAZY_UPWARD) -> list[str]:
    """Every import of ``sources`` (module name -> source text) that breaks the layer order."""
    known = set(sources)
    out = []
    for module, source in sorted(sources.items()):
        own = layer_of(module)
        for target, line, in_function in imports_of(module, source, known):
            layer = layer_of(target)
            if layer == own:
                continue
            if layer not in RANKS:
                out.append(f"{module}:{line} imports {target}: layer {layer!r} has no rank")
            elif RANKS[layer] < RANKS[own]:
                continue
            elif in_function and (module, target) in lazy_allowed:
                continue
            else:
                where = "in a function body (not in LAZY_UPWARD)" if in_function else \
                    "at module level"
                kind = "a peer" if RANKS[layer] == RANKS[own] else "a higher"
                out.append(f"{module}:{line} imports {target} {where}: {kind} layer "
                           f"({layer or 'the package root'} vs {own or 'the package root'})")
    return out


def package_sources() -> dict[str, str]:
    return {module_name(p): p.read_text(encoding="utf-8")
            for p in sorted(PACKAGE_DIR.rglob("*.py"))}


# ------------------------------------------------------------------------------ the contract
def test_every_module_has_a_ranked_layer():
    # A new top-level module or subpackage must be placed in RANKS (or PRIVATE_LAYERS) here.
    unranked = sorted({layer_of(m) for m in package_sources()} - set(RANKS))
    assert not unranked, f"layers without a rank in RANKS / PRIVATE_LAYERS: {unranked}"


def test_no_module_imports_a_higher_layer():
    found = violations(package_sources())
    assert not found, "imports against the layer order of DESIGN.md:\n" + "\n".join(found)


def test_lazy_upward_imports_are_all_still_used():
    # A stale allow-list entry would silently permit the import again later.
    sources = package_sources()
    known = set(sources)
    used = {(module, target) for module, source in sources.items()
            for target, _, in_function in imports_of(module, source, known) if in_function}
    assert set(LAZY_UPWARD) <= used, f"unused LAZY_UPWARD entries: {set(LAZY_UPWARD) - used}"


def test_nothing_in_the_package_imports_the_package_root():
    # __version__ comes from fpsolve._version (issue 11 item 6).
    sources = package_sources()
    known = set(sources)
    found = [f"{module}:{line}" for module, source in sources.items() if module != PACKAGE
             for target, line, _ in imports_of(module, source, known) if target == PACKAGE]
    assert not found, found


# ------------------------------------------------------------------------------ inside learning
#: Layers of fpsolve.learning (DESIGN.md: data < models < dynamics < theory < {slices,
#: posterior grids} < studies, diagnostics at the bottom); the package __init__ is the top.
LEARNING_RANKS = {
    "diagnostics": 0,       # R-hat, ESS, Gaussian distances: pure functions of arrays
    "data": 1,
    "models": 2,            # per-sample gradients, the model-kernel dispatch, minima
    "dynamics": 3,          # schedules, sgd, samplers: the one chain loop on the run engine
    "theory": 4,            # Gaussian theory, WOR epochs, estimators, exact sampler moments
    "slices": 5,
    "posterior_grids": 5,
    "posteriors": 6,        # the posterior toolbox: exact moments and grid references together
    "studies": 7,
    "": 8,
}
LEARNING = f"{PACKAGE}.learning"


def learning_layer_of(module: str) -> str:
    """``dynamics`` for ``fpsolve.learning.dynamics.sgd``; ``""`` for the package itself."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else ""


def learning_violations(sources: dict[str, str]) -> list[str]:
    """Imports inside fpsolve.learning against LEARNING_RANKS, and private names imported from
    another learning layer (kernel modules ``_kernels*`` excepted: kernels are shared by name)."""
    known, out = set(sources), []
    for module, source in sorted(sources.items()):
        if not module.startswith(LEARNING):
            continue
        own = learning_layer_of(module)
        for target, line, _ in imports_of(module, source, known):
            layer = learning_layer_of(target)
            if not target.startswith(LEARNING + ".") or layer == own:
                continue
            if layer not in LEARNING_RANKS:
                out.append(f"{module}:{line} imports {target}: learning layer {layer!r} has no "
                           f"rank")
            elif LEARNING_RANKS[layer] >= LEARNING_RANKS[own]:
                out.append(f"{module}:{line} imports {target}: a peer or higher learning layer "
                           f"({layer} vs {own or 'the package'})")
        out += _private_imports(module, source, own)
    return out


def _private_imports(module: str, source: str, own: str) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.ImportFrom) and node.level):
            continue
        base = module.split(".")[:len(module.split(".")) - node.level]
        target = ".".join(base + ([node.module] if node.module else []))
        if not target.startswith(LEARNING + ".") or learning_layer_of(target) == own:
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("_kernels"):
                out.append(f"{module}:{node.lineno} imports the private {alias.name} from "
                           f"{target} (another learning layer)")
    return out


def test_learning_layers_import_downward_only():
    found = learning_violations(package_sources())
    assert not found, "imports against the learning layers:\n" + "\n".join(found)


@pytest.mark.parametrize("module, source, expected", [
    ("fpsolve.learning.models.gradient", "from ..dynamics import sgd\n",
     "fpsolve.learning.models.gradient:1 imports fpsolve.learning.dynamics: a peer or higher"),
    ("fpsolve.learning.slices.runs", "from ..theory.gaussian import _helper\n",
     "fpsolve.learning.slices.runs:1 imports the private _helper"),
])
def test_learning_checker_finds_a_synthetic_violation(module, source, expected):
    sources = {"fpsolve.learning.dynamics": "", "fpsolve.learning.theory.gaussian": "",
               "fpsolve.learning.models.gradient": "", "fpsolve.learning.slices.runs": "",
               module: source}
    found = learning_violations(sources)
    assert len(found) == 1 and found[0].startswith(expected), found


# ------------------------------------------------------------------------------ self-tests
GOOD = {
    "fpsolve": "from . import grids, solvers\nfrom ._version import __version__\n",
    "fpsolve._version": "__version__ = '0'\n",
    "fpsolve.errors": "",
    "fpsolve.grids": "from .cartesian import Grid\n",
    "fpsolve.grids.cartesian": "from ..errors import FpsolveError\n",
    "fpsolve.solvers": "from .stationary import solve\n",
    "fpsolve.solvers.stationary": "from ..grids import Grid\nfrom fpsolve.grids import cartesian\n"
                                  "def f():\n    from .. import plotting\n",
    "fpsolve.plotting": "",
    "fpsolve.io": "",
    "fpsolve.results": "",
}


def test_checker_accepts_downward_imports():
    # solvers -> plotting inside a function is upward but not listed: one finding, nothing else
    found = violations(GOOD, lazy_allowed={})
    assert len(found) == 1 and "fpsolve.solvers.stationary:4 imports fpsolve.plotting" in found[0]
    assert violations(GOOD, lazy_allowed={("fpsolve.solvers.stationary", "fpsolve.plotting"):
                                          "test"}) == []


@pytest.mark.parametrize("module, source, expected", [
    # module-level upward import, relative and absolute
    ("fpsolve.grids.cartesian", "from ..solvers import stationary\n",
     "fpsolve.grids.cartesian:1 imports fpsolve.solvers.stationary at module level: a higher"),
    ("fpsolve.grids.cartesian", "import fpsolve.solvers\n",
     "fpsolve.grids.cartesian:1 imports fpsolve.solvers at module level: a higher"),
    # imported in a class body or a try block still runs on import
    ("fpsolve.grids.cartesian", "class A:\n    from ..solvers import solve\n",
     "fpsolve.grids.cartesian:2 imports fpsolve.solvers at module level"),
    ("fpsolve.grids.cartesian", "try:\n    import fpsolve.io\nexcept ImportError:\n    pass\n",
     "fpsolve.grids.cartesian:2 imports fpsolve.io at module level"),
    # an upward import in a function that is not on the allow-list
    ("fpsolve.grids.cartesian", "def f():\n    from ..io import save\n",
     "fpsolve.grids.cartesian:2 imports fpsolve.io in a function body (not in LAZY_UPWARD)"),
    # peers io | plotting | cli may not import each other
    ("fpsolve.io", "from .plotting import figure\n",
     "fpsolve.io:1 imports fpsolve.plotting at module level: a peer"),
    # the package root, also through a private module
    ("fpsolve._io_tree", "from . import __version__\n",
     "fpsolve._io_tree:1 imports fpsolve at module level: a higher layer (the package root"),
    # a layer with no rank
    ("fpsolve.grids.cartesian", "from .._engine import run\n",
     "fpsolve.grids.cartesian:1 imports fpsolve._engine: layer '_engine' has no rank"),
])
def test_checker_finds_a_synthetic_violation(module, source, expected):
    sources = dict(GOOD, **{module: textwrap.dedent(source)})
    found = violations(sources, lazy_allowed={("fpsolve.solvers.stationary", "fpsolve.plotting"):
                                              "test"})
    assert len(found) == 1 and found[0].startswith(expected), found
