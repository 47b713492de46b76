"""Invalid input is rejected early with an FpsolveError (a ValueError) naming the argument.

DESIGN.md section 5: "Errors name the argument and what was expected."  Every check below asserts
the specific subclass, that it is both an ``FpsolveError`` and a ``ValueError``, and (``match=``)
that the message starts with the argument's name.
"""

from __future__ import annotations

import numpy as np
import pytest

import fpsolve as fp
from fpsolve.errors import DiffusionError, FpsolveError, GridError, ModelError, SolverError

# Cell centers 0.5, 1.5, ..., 4.5 on both axes: reported locations print exactly.
GRID = fp.CartesianGrid([(0.0, 5.0), (0.0, 5.0)], 5)
BAD_CELL = (3.5, 1.5)


def at_bad_cell(x):
    return (np.abs(x[0] - BAD_CELL[0]) < 1e-9) & (np.abs(x[1] - BAD_CELL[1]) < 1e-9)


def build(model, grid=GRID):
    return fp.FokkerPlanckOperator(grid, model)


def check_error(excinfo, cls):
    assert excinfo.type is cls or issubclass(excinfo.type, cls)
    assert isinstance(excinfo.value, FpsolveError)
    assert isinstance(excinfo.value, ValueError)


def diag_field(d00, d11):
    """Callable D(x) = diag(d00(x), d11(x)) with zero off-diagonals."""
    def D(x):
        out = np.zeros((2, 2) + x.shape[1:])
        out[0, 0], out[1, 1] = d00(x), d11(x)
        return out
    return D


# --------------------------------------------------------------------------- drift
@pytest.mark.parametrize("drift, shape", [
    (lambda x: -x[:1], "(1, 5, 5)"),                 # one row: was copied onto the y-drift
    (lambda x: -x[0], "(5, 5)"),                     # no component axis: the same
    (lambda x: np.zeros((3,) + x.shape[1:]), "(3, 5, 5)"),
    (lambda x: 1.0, "()"),
])
def test_drift_callable_of_the_wrong_shape_is_refused(drift, shape):
    # Issue 13 item 1: these used to be broadcast silently to (2, 5, 5).
    with pytest.raises(ModelError, match=r"^drift: callable returned shape") as exc:
        build(fp.FokkerPlanckModel(drift))
    check_error(exc, ModelError)
    assert shape in str(exc.value) and "(2, 5, 5)" in str(exc.value)


@pytest.mark.parametrize("force", [lambda x: x[:1], lambda x: x[1]])
def test_force_callable_of_the_wrong_shape_is_refused(force):
    model = fp.FokkerPlanckModel.from_potential(lambda x: 0.5 * (x**2).sum(0), force=force)
    with pytest.raises(ModelError, match=r"^force: callable returned shape"):
        build(model)


def test_documented_drift_forms_still_work():
    # Exact (d, ...) shape; (d, 1, 1) constant per component; in 1-D the bare (...) shape.
    a = fp.FokkerPlanckModel(lambda x: -x).ito_drift(GRID)
    c = fp.FokkerPlanckModel(lambda x: np.array([1.0, -2.0])[:, None, None]).ito_drift(GRID)
    assert a.shape == c.shape == (2, 5, 5) and np.all(c[1] == -2.0)
    g1 = fp.CartesianGrid([(0.0, 5.0)], 5)
    np.testing.assert_array_equal(fp.FokkerPlanckModel(lambda x: -x[0]).ito_drift(g1),
                                  -g1.cell_centers())




def test_nan_in_drift_callable_names_location():
    drift = lambda x: np.where(at_bad_cell(x), np.nan, -x)  # noqa: E731
    with pytest.raises(ModelError, match=r"^drift: non-finite") as exc:
        build(fp.FokkerPlanckModel(drift))
    check_error(exc, ModelError)
    assert f"x = {BAD_CELL}" in str(exc.value)


def test_inf_in_drift_array():
    drift = -GRID.cell_centers()
    drift[1, 3, 1] = np.inf
    with pytest.raises(ModelError, match=r"^drift: non-finite") as exc:
        build(fp.FokkerPlanckModel(drift))
    check_error(exc, ModelError)
    assert f"x = {BAD_CELL}" in str(exc.value)


@pytest.mark.parametrize("shape", [(2, 5, 4), (1, 5, 5), (5, 5), (2, 25)])
def test_drift_array_shape_mismatch(shape):
    with pytest.raises(ModelError, match=r"^drift: .*shape") as exc:
        build(fp.FokkerPlanckModel(np.zeros(shape)))
    check_error(exc, ModelError)


def test_drift_callable_wrong_shape():
    with pytest.raises(ModelError, match=r"^drift: callable returned shape") as exc:
        build(fp.FokkerPlanckModel(lambda x: np.zeros((3,) + x.shape[1:])))
    check_error(exc, ModelError)


def test_nan_in_potential_and_force():
    with pytest.raises(ModelError, match=r"^potential: non-finite") as exc:
        build(fp.FokkerPlanckModel.from_potential(
            lambda x: np.where(at_bad_cell(x), np.nan, 0.5 * (x ** 2).sum(0))))
    check_error(exc, ModelError)
    with pytest.raises(ModelError, match=r"^force: non-finite") as exc:
        build(fp.FokkerPlanckModel.from_potential(
            lambda x: 0.5 * (x ** 2).sum(0), force=lambda x: np.where(at_bad_cell(x), np.inf, x)))
    check_error(exc, ModelError)


# --------------------------------------------------------------------------- diffusion


def test_nan_in_diffusion_callable_names_location():
    D = diag_field(lambda x: np.where(at_bad_cell(x), np.nan, 1.0), lambda x: 1.0 + 0 * x[0])
    with pytest.raises(ModelError, match=r"^diffusion: non-finite") as exc:
        build(fp.FokkerPlanckModel(lambda x: -x, D))
    check_error(exc, ModelError)
    assert f"x = {BAD_CELL}" in str(exc.value)


@pytest.mark.parametrize("D", [np.nan, np.inf, [1.0, np.nan], [[1.0, np.inf], [np.inf, 1.0]]],
                         ids=["nan-scalar", "inf-scalar", "nan-diag", "inf-tensor"])
def test_non_finite_constant_diffusion(D):
    with pytest.raises(ModelError, match=r"^diffusion: .*(NaN|inf)") as exc:
        fp.FokkerPlanckModel(lambda x: -x, D)
    check_error(exc, ModelError)


def test_non_symmetric_constant_diffusion():
    with pytest.raises(DiffusionError, match=r"^diffusion: tensor is not symmetric") as exc:
        fp.FokkerPlanckModel(lambda x: -x, [[1.0, 0.2], [0.1, 1.0]])
    check_error(exc, DiffusionError)


def test_non_symmetric_diffusion_callable_names_location():
    def D(x):
        out = diag_field(lambda x: 1.0 + 0 * x[0], lambda x: 1.0 + 0 * x[0])(x)
        out[0, 1] = np.where(at_bad_cell(x), 0.3, 0.0)
        return out

    with pytest.raises(DiffusionError, match=r"^diffusion: tensor is not symmetric") as exc:
        build(fp.FokkerPlanckModel(lambda x: -x, D))
    check_error(exc, DiffusionError)
    assert f"x = {BAD_CELL}" in str(exc.value)


@pytest.mark.parametrize("D", [[[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.0], [0.0, -1.0]]],
                         ids=["indefinite", "negative"])
def test_not_positive_definite_constant_diffusion(D):
    with pytest.raises(DiffusionError, match=r"^diffusion: tensor is not positive definite") as e:
        fp.FokkerPlanckModel(lambda x: -x, D)
    check_error(e, DiffusionError)


def test_not_positive_definite_diffusion_callable_names_location():
    # Symmetric, PD everywhere except one cell where D_11 < 0.
    D = diag_field(lambda x: 1.0 + 0 * x[0], lambda x: np.where(at_bad_cell(x), -0.5, 1.0))
    with pytest.raises(DiffusionError,
                       match=r"^diffusion: tensor is not positive definite at x = ") as exc:
        build(fp.FokkerPlanckModel(lambda x: -x, D))
    check_error(exc, DiffusionError)
    assert f"x = {BAD_CELL}" in str(exc.value)
    assert "(1 points affected)" in str(exc.value)


@pytest.mark.parametrize("D", [-1.0, 0.0, [1.0, 0.0]], ids=["negative", "zero", "zero-diag"])
def test_non_positive_scalar_or_diagonal_diffusion(D):
    with pytest.raises(ModelError, match=r"^diffusion: ") as exc:
        fp.FokkerPlanckModel(lambda x: -x, D)
    check_error(exc, ModelError)


def test_diffusion_dimension_mismatch():
    with pytest.raises(ModelError, match=r"^diffusion: .*dimension|^diffusion: model is 3") as e:
        build(fp.FokkerPlanckModel(lambda x: -x, np.eye(3)))
    check_error(e, ModelError)


def test_diffusion_bad_array_shape():
    with pytest.raises(ModelError, match=r"^diffusion: expected") as exc:
        fp.FokkerPlanckModel(lambda x: -x, np.ones((2, 3)))
    check_error(exc, ModelError)


# --------------------------------------------------------------------------- grid


@pytest.mark.parametrize("shape", [2, (3, 1), (0, 5)])
def test_fewer_than_three_cells(shape):
    with pytest.raises(GridError, match=r"^shape: .*at least 3 cells") as exc:
        fp.CartesianGrid([(0.0, 1.0), (0.0, 1.0)], shape)
    check_error(exc, GridError)


@pytest.mark.parametrize("bounds", [[(1.0, 1.0)], [(0.0, 1.0), (2.0, -1.0)]],
                         ids=["lo-equals-hi", "lo-above-hi"])
def test_lo_not_below_hi(bounds):
    with pytest.raises(GridError, match=r"^bounds: axis \d needs lo < hi") as exc:
        fp.CartesianGrid(bounds, 4)
    check_error(exc, GridError)


def test_non_finite_bounds():
    with pytest.raises(GridError, match=r"^bounds: ") as exc:
        fp.CartesianGrid([(0.0, np.inf)], 4)
    check_error(exc, GridError)


@pytest.mark.parametrize("boundary", ["open", ("reflecting", "Periodic"), ("periodic",)])
def test_unknown_or_miscounted_boundary(boundary):
    with pytest.raises(GridError, match=r"^boundary: ") as exc:
        fp.CartesianGrid([(0.0, 1.0), (0.0, 1.0)], 4, boundary=boundary)
    check_error(exc, GridError)


# --------------------------------------------------------------------------- model options


@pytest.mark.parametrize("convention", ["Ito", "strat", "hanggi", ""])
def test_unknown_convention(convention):
    with pytest.raises(ModelError, match=r"^convention: unknown name") as exc:
        fp.FokkerPlanckModel(lambda x: -x, 1.0, convention)
    check_error(exc, ModelError)


# --------------------------------------------------------------------------- densities


@pytest.fixture(scope="module")
def op():
    return build(fp.FokkerPlanckModel(lambda x: -x))


@pytest.mark.parametrize("shape", [(5, 4), (24,), (5, 5, 1), ()])
def test_apply_wrong_p_shape(op, shape):
    with pytest.raises(ModelError, match=r"^p: expected shape \(5, 5\)") as exc:
        op.apply(np.ones(shape))
    check_error(exc, ModelError)


def test_bond_fluxes_wrong_p_shape(op):
    with pytest.raises(ModelError, match=r"^p: expected shape") as exc:
        op.bond_fluxes(np.ones(26))
    check_error(exc, ModelError)


def test_probability_current_wrong_p_shape(op):
    res = fp.solve_stationary(op)
    with pytest.raises(SolverError, match=r"^p: expected shape") as exc:
        fp.probability_current(res, np.ones(25))
    check_error(exc, SolverError)


# --------------------------------------------------------------------------- solver options
ABSORBING = fp.CartesianGrid([(0.0, 1.0)], 20, boundary="absorbing")


def _absorbing_op():
    return fp.FokkerPlanckOperator(ABSORBING, fp.FokkerPlanckModel(lambda x: 0 * x, 0.5))


@pytest.mark.parametrize("kwargs, name", [
    ({"tol": -1.0}, "tol"), ({"tol": float("nan")}, "tol"), ({"tol": 0.0}, "tol"),
    ({"tol": "1e-8"}, "tol"), ({"maxiter": -5}, "maxiter"), ({"maxiter": 2.5}, "maxiter"),
    ({"maxiter": True}, "maxiter"),
])
def test_first_passage_options_are_checked(kwargs, name):
    # Issue 13 item 8: tol = -1 / NaN and maxiter = -5 were accepted (NaN reported "not
    # converged at residual 1e-16").
    with pytest.raises(SolverError, match=f"^{name}:") as exc:
        fp.mean_first_passage_time(_absorbing_op(), **kwargs)
    check_error(exc, SolverError)


@pytest.mark.parametrize("call", [
    lambda g, m: fp.evolve(g, np.ones(20), [0.1]),
    lambda g, m: fp.mean_first_passage_time(g),
    lambda g, m: fp.solve_quasi_stationary(m),
])
def test_a_grid_or_model_in_place_of_the_operator_is_named(call):
    # Issue 13 item 8: gave an AttributeError naming neither.
    model = fp.FokkerPlanckModel(lambda x: -x)
    with pytest.raises(SolverError, match=r"^op: expected a FokkerPlanckOperator .* got "
                                          r"(CartesianGrid|FokkerPlanckModel)"):
        call(ABSORBING, model)


def test_shared_option_checkers_accept_good_values():
    from fpsolve.solvers.options import check_maxiter, check_tol
    assert check_tol(1e-10) == 1e-10 and check_tol(np.float32(0.5)) == 0.5
    assert check_maxiter(np.int64(7)) == 7


def test_a_grid_too_large_for_memory_fails_fast_with_the_figure():
    # Issue 13 item 8: a 1e9-cell grid was allocated blindly.  The check runs on the grid
    # alone (nothing allocated); 'available' pins the machine's memory for a deterministic test.
    from fpsolve.grids.memory import bytes_per_cell, check_memory
    huge = fp.CartesianGrid([(0.0, 1.0)] * 3, (1000, 1000, 1000))
    with pytest.raises(GridError, match=r"^grid: 1e\+09 cells need about 688 GB .* 16 GB") as e:
        check_memory(huge, available=16 * 10**9)
    check_error(e, GridError)
    assert check_memory(GRID, available=16 * 10**9) == 25 * bytes_per_cell(2)
    with pytest.raises(GridError, match="^grid: .* cells need about"):
        check_memory(huge)                      # the real machine: far below 688 GB
