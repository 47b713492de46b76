"""Tests of fpsolve.plotting: each function returns its Axes holding the expected artists; the
module imports matplotlib only when a figure is made, and says how to install it when missing.

Array comparisons are exact unless a tolerance is commented: the functions only transpose and
hand the arrays to matplotlib.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
# E402: the backend is chosen before pyplot is imported, and only when matplotlib is installed.
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection, QuadMesh  # noqa: E402

import fpsolve as fp  # noqa: E402
from fpsolve import plotting  # noqa: E402

# Runs in a fresh interpreter: importing fpsolve.plotting must leave matplotlib unimported, and
# with matplotlib unavailable (a None entry in sys.modules makes its import fail) making a
# figure must raise the ImportError with the install hint.
LAZY_SCRIPT = textwrap.dedent("""
    import json, sys
    import fpsolve.plotting as plotting
    imported = "matplotlib" in sys.modules
    sys.modules["matplotlib"] = sys.modules["matplotlib.pyplot"] = None
    try:
        plotting.figure()
        message = None
    except ImportError as exc:
        message = str(exc)
    print(json.dumps({"imported": imported, "message": message}))
""")


@pytest.fixture(scope="module")
def lazy_import():
    out = subprocess.run([sys.executable, "-c", LAZY_SCRIPT], capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def ou_result():
    grid = fp.CartesianGrid([(-5.0, 5.0), (-4.0, 4.0)], (20, 16))
    ou = fp.models.OrnsteinUhlenbeck([[-1.0, 0.8], [-0.8, -1.0]], [[1.0, 0.0], [0.0, 1.0]])
    return fp.solve_stationary(fp.FokkerPlanckOperator(grid, ou.model))


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


# ------------------------------------------------------------------ lazy import, install hint
def test_import_does_not_import_matplotlib(lazy_import):
    assert lazy_import["imported"] is False


def test_missing_matplotlib_raises_install_hint(lazy_import):
    assert lazy_import["message"] is not None
    assert 'pip install "fpsolve[plot]"' in lazy_import["message"]


def test_only_cli_may_import_plotting():
    # layer order: plotting sits on top; inside fpsolve only the command line and the curated
    # top-level namespace (which re-exports the module, not matplotlib) may import it
    package = Path(plotting.__file__).parent
    users = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [f"{node.module}"] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            if any(n.split(".")[-1] == "plotting" for n in names):
                users.append(path.relative_to(package).as_posix())
    assert set(users) <= {"cli.py", "__init__.py"}, users


# ------------------------------------------------------------------ figure, save_figure
def test_figure_and_save_figure(tmp_path):
    fig, axes = plotting.figure(1, 2, figsize=(4, 2))
    assert axes.shape == (2,)
    path = plotting.save_figure(fig, tmp_path / "out.png", dpi=50)
    assert path == tmp_path / "out.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)  # closed: no figure leaks across a validation run


@pytest.mark.parametrize("draw", [
    lambda: plotting.density(np.ones((4, 3))),
    lambda: plotting.convergence([0.2, 0.1], [4e-2, 1e-2]),
    lambda: plotting.entropy_histogram(np.linspace(-1.0, 3.0, 50)),
    lambda: plotting.fluctuation_ratio(([0.5, 1.0], [0.5, 1.0], [0.1, 0.1])),
    lambda: plotting.integral_fluctuation([1.0, 2.0], [1.0, 0.9], [0.1, 0.1]),
    lambda: plotting.dt_extrapolation({"MC": ([0.1, 0.2], [1.0, 1.1], [0.01, 0.01])}),
], ids=["density", "convergence", "entropy_histogram", "fluctuation_ratio",
        "integral_fluctuation", "dt_extrapolation"])
def test_without_ax_a_new_figure_is_made(draw):
    before = set(plt.get_fignums())
    ax = draw()
    assert isinstance(ax, matplotlib.axes.Axes)
    assert set(plt.get_fignums()) - before == {ax.figure.number}


# ------------------------------------------------------------------ density
def test_density_of_arrays_image_and_streamlines():
    grid = fp.CartesianGrid([(-2.0, 2.0), (0.0, 1.0)], (8, 5))
    x = grid.cell_centers()
    p, J = np.exp(-x[0] ** 2) * (1 + x[1]), np.stack([-x[1], x[0]])
    _, ax = plotting.figure()
    assert plotting.density(p, J, centers=x, ax=ax) is ax
    mesh, lines = ax.collections
    assert isinstance(mesh, QuadMesh) and isinstance(lines, LineCollection)
    np.testing.assert_array_equal(mesh.get_array(), p.T)  # matplotlib wants [y, x]
    edges = mesh.get_coordinates()
    # cell edges are centers -+ h/2: the box up to round-off of a few ulps
    np.testing.assert_allclose(edges[0, 0], [-2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(edges[-1, -1], [2.0, 1.0], atol=1e-12)
    assert len(lines.get_segments()) > 0


def test_density_centers_forms_agree():
    grid = fp.CartesianGrid([(0.0, 3.0), (0.0, 2.0)], (6, 4))
    p = np.arange(24.0).reshape(6, 4)
    coords = []
    for centers in (grid, grid.cell_centers(), (grid.axis_centers(0), grid.axis_centers(1))):
        ax = plotting.density(p, centers=centers)
        assert len(ax.collections) == 1  # no current: no streamlines
        coords.append(ax.collections[0].get_coordinates())
    np.testing.assert_array_equal(coords[0], coords[1])
    np.testing.assert_array_equal(coords[0], coords[2])


def test_density_of_a_result_computes_the_current(ou_result):
    ax = plotting.density(ou_result)
    mesh, lines = ax.collections
    np.testing.assert_array_equal(mesh.get_array(), ou_result.p.T)
    assert isinstance(lines, LineCollection) and len(lines.get_segments()) > 0
    ax = plotting.density(ou_result, streamlines=False, colorbar="p")
    assert len(ax.collections) == 1
    assert len(ax.figure.axes) == 2 and ax.figure.axes[1].get_ylabel() == "p"


@pytest.mark.parametrize("kwargs, name", [
    ({"p": np.ones(5)}, "p"),
    ({"p": np.ones((4, 3)), "J": np.ones((2, 3, 4))}, "J"),
    ({"p": np.ones((4, 3)), "centers": (np.arange(3.0), np.arange(3.0))}, "centers"),
])
def test_density_errors_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        plotting.density(**kwargs)


# ------------------------------------------------------------------ convergence
def test_convergence_fits_and_labels_slopes():
    h = np.array([0.4, 0.2, 0.1, 0.05])
    ax = plotting.convergence(h, {"density": 3 * h**2, "current": 0.5 * h}, reference=2)
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert len(ax.get_lines()) == 3  # two series and the reference
    # exact power laws: the least-squares slopes are 2 and 1 to round-off, far below 0.005
    assert legend_texts(ax) == ["density: slope 2.00", "current: slope 1.00", "slope 2"]
    np.testing.assert_allclose(ax.get_lines()[2].get_ydata(), 1.5 * h**2, rtol=1e-12)


def test_convergence_given_orders_per_series_references():
    eta = np.array([0.01, 0.02, 0.04])
    ax = plotting.convergence(eta, {"WOR": eta**4, "WR": eta**2},
                              orders={"WOR": (3.9961, 0.0123), "WR": 2.0},
                              reference={"WOR": 4, "WR": 2}, fmt={"WOR": "C0o", "WR": "C1s"})
    assert legend_texts(ax) == ["WOR: slope 3.996 +- 0.012", "WR: slope 2.00"]
    refs = ax.get_lines()[2:]
    assert [line.get_linestyle() for line in refs] == [":", ":"]
    # each reference passes through its series' first point (exact power laws: round-off)
    np.testing.assert_allclose(refs[0].get_ydata(), eta**4, rtol=1e-12)
    np.testing.assert_allclose(refs[1].get_ydata(), eta**2, rtol=1e-12)


def test_convergence_rejects_mismatched_series():
    with pytest.raises(ValueError, match=r"errors\['a'\]"):
        plotting.convergence([0.1, 0.2], {"a": [1.0, 2.0, 3.0]})


# ------------------------------------------------------------------ fluctuation theorems
def test_entropy_histogram():
    dS = np.random.default_rng(0).normal(1.0, np.sqrt(2.0), 2000)
    ax = plotting.entropy_histogram(dS, bins=40)
    assert ax.get_yscale() == "log"
    assert len(ax.patches) == 40
    (mean_line,) = ax.get_lines()
    assert mean_line.get_xdata()[0] == dS.mean()


def test_entropy_histogram_of_binned_counts():
    # a histogram made elsewhere (counts and edges, as validation cases store them) drawn from
    # its bin centers with the counts as weights: the same bars as the samples themselves
    dS = np.random.default_rng(2).normal(1.0, np.sqrt(2.0), 2000)
    counts, edges = np.histogram(dS, bins=30)
    centers = 0.5 * (edges[1:] + edges[:-1])
    binned = plotting.entropy_histogram(centers, bins=edges, weights=counts)
    direct = plotting.entropy_histogram(dS, bins=edges)
    assert len(binned.patches) == 30
    # both normalize the same integer counts by the same widths: round-off only
    np.testing.assert_allclose([p.get_height() for p in binned.patches],
                               [p.get_height() for p in direct.patches], rtol=1e-12)
    (mean_line,) = binned.get_lines()
    mean = mean_line.get_xdata()[0]
    np.testing.assert_allclose(mean, np.average(centers, weights=counts), rtol=1e-12)
    # each sample moves at most half a bin to its center, so does the mean
    assert abs(mean - dS.mean()) <= 0.5 * np.diff(edges).max()


def test_fluctuation_ratio_of_a_fluctuation_test_result():
    # Gaussian dS with var = 2 mean obeys the DFT exactly
    dS = np.random.default_rng(1).normal(1.0, np.sqrt(2.0), 20_000)
    ft = fp.fluctuation_test(dS, n_bootstrap=0, rng=1)
    ax = plotting.fluctuation_ratio(ft)
    s = ft.dft_points[0]
    assert len(ax.containers) == 1 and len(ax.containers[0].lines[0].get_xdata()) == s.size
    slope = f"{ft.dft_slope.value:.3f} +- {ft.dft_slope.stderr:.3f}"
    assert legend_texts(ax) == ["slope 1 (DFT)", f"MC: slope {slope}"]
    line = ax.get_lines()[-1]
    np.testing.assert_array_equal(line.get_xdata(), line.get_ydata())  # slope 1 through 0


def test_integral_fluctuation():
    tau = np.array([0.1, 0.2, 0.4])
    boot = [[0.9, 1.1], [0.8, 1.2], [0.7, 1.3]]
    ax = plotting.integral_fluctuation(tau, [1.0, 0.97, 1.02], [0.02, 0.04, 0.08],
                                       bootstrap=boot)
    assert ax.get_xscale() == "log"
    assert len(ax.containers) == 1  # the error bars
    (bars,) = [c for c in ax.collections if isinstance(c, LineCollection)
               and len(c.get_segments()) == 3 and c.get_label().startswith("95%")]
    np.testing.assert_array_equal([seg[:, 1] for seg in bars.get_segments()], boot)
    assert any(np.all(np.asarray(line.get_ydata()) == 1.0) for line in ax.get_lines())


def test_dt_extrapolation():
    runs = {"bridge": ([0.01, 0.02], [1.19, 1.18], [0.01, 0.01]),
            "no bridge": ([0.01], [1.34], [0.01])}
    ax = plotting.dt_extrapolation(runs, extrapolated=(1.212, 0.01), reference=1.2, rtol=0.03)
    assert len(ax.containers) == 3  # two series and the extrapolation
    assert legend_texts(ax) == ["reference 1.2000", "+-3%", "bridge", "no bridge",
                                "extrapolated: +1.00%"]
    (band,) = ax.patches
    y = band.get_patch_transform().transform(band.get_path().vertices)[:, 1]
    # the band spans reference * (1 -+ rtol): round-off only
    np.testing.assert_allclose([y.min(), y.max()], [1.164, 1.236], rtol=1e-12)
