"""``simulate``: convergence orders, exact answers, walls, reproducibility, checkpoints, bad input.

Stochastic tests are seeded (so each outcome is fixed); each states the false-failure rate its
tolerance would have over random seeds.  Orders are fitted as log-log slopes and asserted
two-sided against the declared order (:data:`fpsolve.stochastic.METHOD_ORDERS`).
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pytest
from scipy import stats

import fpsolve as fp
from fpsolve._numba import get_num_threads, set_num_threads
from fpsolve import derive_key
from fpsolve.errors import DiffusionError, FpsolveError, GridError, SolverError
from fpsolve.models.gallery import BrownianInterval, OrnsteinUhlenbeck, PositionDependentDiffusion1D
from fpsolve.stochastic import (
    METHOD_ORDERS,
    CellCurrent,
    Histogram,
    RunningEntropy,
    simulate,
    standard_normal,
)
from fpsolve.stochastic import simulation as simulation_module

# Tests without this mark are tiny and also run with NUMBA_DISABLE_JIT=1.
jit_only = pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") == "1",
                              reason="ensembles of 1e3-1e5 paths need compiled kernels")

A_ROT = np.array([[-1.0, 0.8], [-0.8, -1.0]])
D_ANISO = np.array([[1.0, 0.3], [0.3, 0.5]])


def slope(dts, errors) -> float:
    return float(np.polyfit(np.log(dts), np.log(errors), 1)[0])


# --------------------------------------------------------------------------- orders
def gbm(mu=0.5, s=0.6):
    """dX = mu X dt + s X dW (Ito): a = mu x and sigma = s x are affine, so the tables are
    exact; X_T = X_0 exp((mu - s^2 / 2) T + s W_T)."""
    return fp.FokkerPlanckModel(lambda x: mu * x, lambda x: 0.5 * s**2 * x[0] ** 2,
                                diffusion_divergence=lambda x: s**2 * x)


@jit_only
@pytest.mark.parametrize("method", ["euler_maruyama", "milstein", "heun"])
def test_strong_order_on_geometric_brownian_motion(method):
    mu, s, T, M, n_max = 0.5, 0.6, 1.0, 4000, 256
    grid = fp.CartesianGrid([(0.0, 100.0)], 10)   # walls never reached (X_T < 20 w.p. ~1)
    dW = np.random.default_rng(1).normal(size=(n_max, M)) * math.sqrt(T / n_max)
    exact = np.exp((mu - 0.5 * s**2) * T + s * dW.sum(axis=0))
    dts, errors = [], []
    for N in (16, 32, 64, 128, 256):
        dt = T / N
        xi = dW.reshape(N, n_max // N, M).sum(axis=1) / math.sqrt(dt)   # same Brownian paths
        res = simulate(gbm(mu, s), 1.0, grid=grid, dt=dt, n_steps=N, n_traj=M, method=method,
                       normals=xi[..., None], record_every=0)
        dts.append(dt)
        errors.append(np.mean(np.abs(res.final_positions[:, 0] - exact)))
    order = METHOD_ORDERS[method]["strong"]
    observed = slope(dts, errors)
    # Same paths at every dt: the slope's sampling error (4000 paths) is ~0.02; observed values
    # are 0.50, 0.99, 0.97.  +-0.12 leaves room for the pre-asymptotic error constant.
    assert abs(observed - order) < 0.12, f"{method}: strong order {observed:.3f}, expected {order}"


@jit_only
def test_weak_order_euler_maruyama_on_ou_moments():
    T, x0, n = 1.0, 10.0, 400_000
    grid = fp.CartesianGrid([(-30.0, 30.0)], 10)
    dts, mean_err, var_err = [0.2, 0.1, 0.05, 0.025], [], []
    for i, dt in enumerate(dts):
        res = simulate(OrnsteinUhlenbeck(-1.0, 1.0), x0, grid=grid, dt=dt, n_steps=round(T / dt),
                       n_traj=n, rng=100 + i, record_every=0)
        x = res.final_positions[:, 0]
        mean_err.append(abs(x.mean() - x0 * math.exp(-T)))          # exact OU mean
        var_err.append(abs(x.var() - (1 - math.exp(-2 * T))))       # exact OU variance
    order = METHOD_ORDERS["euler_maruyama"]["weak"]
    for name, err in (("mean", mean_err), ("variance", var_err)):
        observed = slope(dts, err)
        # Sampling errors: mean 0.0015 (x0 = 10 makes the bias >= 0.047), variance 0.0019 (13 %
        # of the smallest bias): slope standard error ~0.07; +-0.25 is 3.5 sigma (rate 5e-4).
        assert abs(observed - order) < 0.25, f"EM weak order ({name}) {observed:.3f}, expected 1"


@jit_only
def test_ou_stationary_covariance_matches_lyapunov():
    ou = OrnsteinUhlenbeck(A_ROT, D_ANISO)
    grid = fp.CartesianGrid([(-8.0, 8.0)] * 2, 16)
    n = 20_000
    res = simulate(ou, [0.0, 0.0], grid=grid, dt=0.01, n_steps=800, n_traj=n, method="heun",
                   rng=7, record_every=0)
    S = np.cov(res.final_positions.T)
    # Heun has weak order 2 for additive noise: bias ~1e-4.  Standard error of a covariance
    # entry is sqrt((S_ii S_jj + S_ij^2) / n); 4.5 of them: rate 7e-6 per entry.
    se = np.sqrt((np.outer(np.diag(ou.covariance), np.diag(ou.covariance)) + ou.covariance**2) / n)
    assert np.all(np.abs(S - ou.covariance) < 4.5 * se), (S, ou.covariance)


# --------------------------------------------------------------------------- walls
@jit_only
def test_reflecting_walls_keep_particles_inside_and_relax_to_uniform():
    grid = fp.CartesianGrid([(0.0, 1.0)], 10)
    free = fp.FokkerPlanckModel(lambda x: 0 * x, 1.0)
    n = 20_000
    res = simulate(free, 0.1, grid=grid, dt=2e-3, n_steps=500, n_traj=n, rng=3, record_every=50)
    assert np.all((res.positions >= 0.0) & (res.positions <= 1.0))
    counts = np.histogram(res.final_positions[:, 0], bins=10, range=(0, 1))[0]
    # t = 1 is 10 relaxation times 1 / (pi^2 D): the density is uniform to e^-10.  Independent
    # final positions: chi-square test, false-failure rate 1e-4.
    assert stats.chisquare(counts).pvalue > 1e-4
    big = simulate(fp.FokkerPlanckModel(lambda x: 3 * x, 1.0), [0.5, 0.05],
                   grid=fp.CartesianGrid([(0.0, 1.0), (0.0, 0.1)], (4, 4)), dt=0.5,
                   n_steps=20, n_traj=200, rng=4)                   # many folds per step
    assert np.all((big.positions >= 0.0) & (big.positions <= [1.0, 0.1]))


@jit_only
def test_periodic_winding():
    grid = fp.CartesianGrid([(0.0, 1.0)], 8, boundary="periodic")
    drift = fp.FokkerPlanckModel(lambda x: 1.0 + 0 * x, 0.01)
    T, dt, n = 3.7, 0.01, 5000
    quiet = simulate(drift, 0.25, grid=grid, dt=dt, n_steps=370, n_traj=2,
                     normals=np.zeros((370, 2, 1)))
    np.testing.assert_array_equal(quiet.winding, [[3], [3]])
    assert abs(quiet.final_positions[0, 0] - 0.95) < 1e-12          # 370 sums of 0.01
    res = simulate(drift, 0.25, grid=grid, dt=dt, n_steps=370, n_traj=n, rng=9)
    shift = res.unwrapped_final_positions()[:, 0] - 0.25
    # Displacement ~ N(v T, 2 D T): 4.5 standard errors of the mean (rate 7e-6).
    assert abs(shift.mean() - T) < 4.5 * math.sqrt(2 * 0.01 * T / n)
    assert np.all((res.positions >= 0.0) & (res.positions < 1.0))


@jit_only
def test_absorbing_exit_times_match_brownian_interval():
    bi = BrownianInterval(0.0, 1.0, 0.5, drift=1.0)
    grid = fp.CartesianGrid([(0.0, 1.0)], 10, boundary="absorbing")
    x0, n = 0.3, 40_000
    res = simulate(bi, x0, grid=grid, dt=1e-3, n_steps=4000, n_traj=n, rng=3, record_every=0)
    assert res.absorbed.all()
    tau = float(bi.mean_first_passage_time(x0))
    se = np.std(res.exit_time) / math.sqrt(n)          # 0.43 % of tau
    # 2 % is 4.6 standard errors (rate 4e-6); the Brownian-bridge test keeps the O(dt) bias
    # at 0.35 % (without it the walls move by ~0.58 sqrt(2 D dt): a 5 % bias).
    assert abs(np.mean(res.exit_time) - tau) < 0.02 * tau, (np.mean(res.exit_time), tau, se)
    e = bi.drift / bi.D
    p_right = -np.expm1(-e * x0) / -np.expm1(-e)       # splitting probability
    # Binomial standard error 0.0025: 4.5 of them (rate 7e-6).
    assert abs(np.mean(res.exit_side == 1) - p_right) < 4.5 * math.sqrt(p_right * (1 - p_right) / n)
    assert set(np.unique(res.exit_side)) == {-1, 1}
    assert np.all(np.isin(res.final_positions[:, 0], [0.0, 1.0]))
    assert np.all(res.exit_time <= res.total_time)


@jit_only
def test_anti_ito_model_has_the_grid_stationary_density():
    pdd = PositionDependentDiffusion1D((-5.0, 5.0))
    grid = fp.CartesianGrid([(-5.0, 5.0)], 50)
    p = fp.solve_stationary(fp.FokkerPlanckOperator(grid, pdd.model("anti-ito"))).p

    def tv(convention):
        res = simulate(pdd.model(convention), 0.0, grid=grid, dt=2e-3, n_steps=3000,
                       n_traj=4000, rng=5, record_every=0,
                       observables=[Histogram(grid, every=5, burn_in=1500)])
        return 0.5 * np.abs(res.observables["histogram"].density() - p).sum() * grid.cell_volume

    # Sampling TV of ~2e4 effective samples in 50 cells is ~0.005 (observed 0.0047); reading
    # the same drift as Ito changes the law by TV 0.063.  0.02 separates both with margin.
    assert tv("anti-ito") < 0.02
    assert tv("ito") > 0.04


# --------------------------------------------------------------------------- reproducibility
def mixed_run(**kwargs):
    grid = fp.CartesianGrid([(-2.0, 2.0), (0.0, 1.0)], (8, 5), boundary=["absorbing", "periodic"])
    model = fp.FokkerPlanckModel(lambda x: np.stack([-x[0], 1 + 0 * x[1]]),
                                 lambda x: np.stack([0.5 + 0.1 * x[0] ** 2, 0.3 + 0 * x[1]]))
    obs = [Histogram(grid), CellCurrent(grid), RunningEntropy.from_model(model, grid, every=25)]
    args = {"grid": grid, "dt": 0.01, "n_steps": 200, "n_traj": 3000, "rng": 11, "observables": obs,
                "record_every": 10, "chunk_steps": 50}
    args.update(kwargs)
    return simulate(model, [0.0, 0.5], **args)


def assert_identical(a, b):
    for name in ("positions", "final_positions", "exit_time", "exit_side", "winding"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    oa, ob = a.observables, b.observables
    np.testing.assert_array_equal(oa["histogram"].counts, ob["histogram"].counts)
    np.testing.assert_array_equal(oa["current"].current(), ob["current"].current())
    np.testing.assert_array_equal(oa["entropy"].snapshots, ob["entropy"].snapshots)


@jit_only
def test_bit_identical_for_one_and_two_threads():
    before = get_num_threads()
    try:
        set_num_threads(1)
        one = mixed_run()
        set_num_threads(min(2, before))
        two = mixed_run()
    finally:
        set_num_threads(before)
    assert_identical(one, two)
    assert one.absorbed.any() and (one.winding != 0).any()


@jit_only
def test_chunking_does_not_change_trajectories():
    a, b = mixed_run(chunk_steps=7), mixed_run(chunk_steps=200)
    for name in ("positions", "exit_time", "winding"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.observables["histogram"].counts,
                                  b.observables["histogram"].counts)


@jit_only
def test_checkpoint_resume_is_bit_identical(tmp_path, monkeypatch):
    reference = mixed_run()
    path = tmp_path / "run.npz"
    real, calls = simulation_module._run_chunk, []

    def interrupted(run, m):
        if len(calls) == 2:
            raise KeyboardInterrupt          # the third chunk never finishes
        calls.append(m)
        real(run, m)

    monkeypatch.setattr(simulation_module, "_run_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mixed_run(checkpoint=path)
    monkeypatch.setattr(simulation_module, "_run_chunk", real)
    assert int(np.load(path)["step"]) == 100  # both finished chunks were kept
    assert_identical(mixed_run(checkpoint=path), reference)
    assert_identical(mixed_run(checkpoint=path), reference)   # finished file: nothing to run
    with pytest.raises(SolverError, match="checkpoint"):
        mixed_run(checkpoint=path, dt=0.02)


def test_same_key_same_paths_and_normals_are_the_documented_ones():
    # Tiny: runs with NUMBA_DISABLE_JIT=1 too.
    grid = fp.CartesianGrid([(-50.0, 50.0)] * 2, 4)
    res = simulate(fp.FokkerPlanckModel(lambda x: 0 * x, 0.5), [0.0, 0.0], grid=grid, dt=1.0,
                   n_steps=3, n_traj=5, rng=np.random.SeedSequence(99))
    xi = standard_normal(derive_key(np.random.SeedSequence(99)), 5, 3, 2)
    np.testing.assert_array_equal(res.positions[1], xi[0])     # sigma = 1, dt = 1, x0 = 0
    again = simulate(fp.FokkerPlanckModel(lambda x: 0 * x, 0.5), [0.0, 0.0], grid=grid, dt=1.0,
                     n_steps=3, n_traj=5, rng=np.random.SeedSequence(res.seed["entropy"]))
    np.testing.assert_array_equal(again.positions, res.positions)


# --------------------------------------------------------------------------- observables
@jit_only
def test_streaming_observables_match_recorded_paths():
    res = mixed_run(chunk_steps=30, record_every=1)
    grid, x = res.grid, res.positions
    h = res.observables["histogram"]
    finite = x[1:][np.isfinite(x[1:, :, 0])]
    ref = np.histogramdd(finite, bins=grid.shape, range=grid.bounds)[0]
    np.testing.assert_array_equal(h.counts, ref)
    np.testing.assert_allclose(h.density().sum() * grid.cell_volume, 1.0, rtol=1e-14)
    ent = res.observables["entropy"]
    assert ent.snapshots.shape == (8, 3000)
    np.testing.assert_array_equal(ent.snapshots[-1], ent.total)
    alive = ~res.absorbed
    try:
        from fpsolve.stochastic.entropy import stochastic_entropy_production
    except ImportError:  # pragma: no cover - the entropy module is developed separately
        return
    model = mixed_model()
    ref = stochastic_entropy_production(x[:, alive], dt=res.dt, p_ss=lambda p: np.ones(p.shape[1:]),
                                        model=model, grid=grid, window=200).medium[0]
    # Same midpoint rule and interpolation, summed in another order: round-off of 200 terms.
    np.testing.assert_allclose(ent.total[alive], ref, rtol=0, atol=1e-10)


def mixed_model():
    return fp.FokkerPlanckModel(lambda x: np.stack([-x[0], 1 + 0 * x[1]]),
                                lambda x: np.stack([0.5 + 0.1 * x[0] ** 2, 0.3 + 0 * x[1]]))


@jit_only
def test_cell_current_of_a_drifting_ring():
    grid = fp.CartesianGrid([(0.0, 1.0)], 5, boundary="periodic")
    tilted = fp.FokkerPlanckModel(lambda x: 2.0 + np.sin(2 * np.pi * x), 0.2)
    res = simulate(tilted, np.linspace(0, 1, 2000, endpoint=False), grid=grid, dt=1e-3,
                   n_steps=2000, rng=1, record_every=0,
                   observables=[CellCurrent(grid, burn_in=500)])
    J = res.observables["current"].current()[0]
    # On a ring the stationary current is uniform; its mean equals the mean velocity (per unit
    # length).  Fluctuation between cells ~1 % here; 5 % leaves margin (rate < 1e-4).
    assert np.ptp(J) < 0.05 * J.mean()
    drift = res.unwrapped_final_positions()[:, 0] - np.linspace(0, 1, 2000, endpoint=False)
    assert abs(J.mean() - drift.mean() / res.total_time) < 0.05 * J.mean()


# --------------------------------------------------------------------------- bad input
GRID1 = fp.CartesianGrid([(0.0, 1.0)], 5)
FREE = fp.FokkerPlanckModel(lambda x: 0 * x, 1.0)


@pytest.mark.parametrize("kwargs, name", [
    ({"x0": np.nan}, "x0"), ({"x0": 1.5}, "x0"), ({"x0": [[0.5, 0.5]]}, "x0"),
    ({"dt": 0.0}, "dt"), ({"dt": -1.0}, "dt"), ({"dt": np.inf}, "dt"),
    ({"n_steps": 0}, "n_steps"), ({"n_steps": 2.5}, "n_steps"),
    ({"method": "rk4"}, "method"), ({"n_traj": 0}, "n_traj"), ({"rng": -3}, "rng"),
    ({"record_every": -1}, "record_every"), ({"chunk_steps": 0}, "chunk_steps"),
    ({"normals": np.zeros((3, 1, 1))}, "normals"), ({"observables": [object()]}, "observables"),
    ({"grid": "box"}, "grid"), ({"model": "ou"}, "model"),
    ({"table_grid": fp.CartesianGrid([(0.0, 2.0)], 5)}, "table_grid"),
])
def test_bad_input_names_the_argument(kwargs, name):
    args = {"model": FREE, "x0": 0.5, "grid": GRID1, "dt": 0.01, "n_steps": 4, "n_traj": 1}
    args.update(kwargs)
    model, x0 = args.pop("model"), args.pop("x0")
    with pytest.raises(FpsolveError, match=f"^{name}:"):
        simulate(model, x0, **args)


def test_diffusion_not_positive_definite_at_a_visited_point():
    # D(x) = (x - 0.1)^2 is positive at every table cell center (x >= 0.125), but the (exact)
    # linear extrapolation sigma = sqrt(2) (x - 0.1) is negative at x0 = 0.05.
    model = fp.FokkerPlanckModel(lambda x: 0 * x, lambda x: (x[0] - 0.1) ** 2)
    with pytest.raises(DiffusionError, match=r"x = \(0\.05,\) \(trajectory 0, step 0\)"):
        simulate(model, 0.05, grid=GRID1, dt=0.01, n_steps=3, n_traj=2, rng=0,
                 table_grid=fp.CartesianGrid([(0.0, 1.0)], 4))


def test_methods_refuse_noise_they_cannot_handle():
    full = fp.FokkerPlanckModel(lambda x: -x, lambda x: np.stack(
        [np.stack([1 + 0 * x[0], 0.2 + 0.1 * x[0]]), np.stack([0.2 + 0.1 * x[0], 1 + 0 * x[0]])]))
    grid = fp.CartesianGrid([(-1.0, 1.0)] * 2, 4)
    for method in ("milstein", "heun"):
        with pytest.raises(SolverError, match="^method:"):
            simulate(full, [0.0, 0.0], grid=grid, dt=0.01, n_steps=2, method=method)
    res = simulate(full, [0.0, 0.0], grid=grid, dt=0.01, n_steps=2, n_traj=3, rng=1)
    assert np.all(np.isfinite(res.positions))
    with pytest.raises(GridError, match="^table_grid:"):
        simulate(full, [0.0, 0.0], grid=grid, dt=0.01, n_steps=2, table_grid="fine")


# ----------------------------------------------------------------------------- stiffness
STIFF_GRID = fp.CartesianGrid([(-1.0, 1.0)], 64)


def test_unstable_dt_hidden_by_walls_is_refused_with_the_bound():
    # Issue 13 item 2: a = -1000 x at dt = 0.01 (k dt = 10) returned a variance of 7 instead of
    # 1e-3: the walls kept positions finite.  The Euler bound is dt < 2/k = 2e-3.
    ou = fp.FokkerPlanckModel(lambda x: -1000.0 * x)
    with pytest.raises(SolverError, match=r"^dt: 0.01 exceeds the stability bound 0.002"):
        fp.simulate(ou, 0.0, grid=STIFF_GRID, dt=0.01, n_steps=10, n_traj=4, rng=0)


def test_nonlinear_stiffness_names_the_steepest_point():
    # a = -1e4 x^7: J = -7e4 x^6 is steepest at the outermost table cells; the bound there is
    # 2 / (7e4 x^6).  The Jacobian is a difference quotient of the table (one-sided at the
    # wall: relative error ~ 6 h / x ~ 3 % at the table spacing), so 10 % is ample.
    import re
    model = fp.FokkerPlanckModel(lambda x: -1e4 * x**7)
    with pytest.raises(SolverError, match=r"^dt: 0.001 exceeds the stability bound") as exc:
        fp.simulate(model, 0.0, grid=STIFF_GRID, dt=1e-3, n_steps=2, n_traj=2, rng=0)
    bound, x = map(float, re.search(r"bound (\S+) .*x = \((\S+),\)", str(exc.value)).groups())
    assert abs(x) > 0.98 and bound == pytest.approx(2 / (7e4 * x**6), rel=0.1)


def test_dt_near_the_bound_warns_and_well_below_is_silent():
    from fpsolve.errors import FpsolveWarning
    from fpsolve.stochastic.stiffness import stable_dt
    from fpsolve.stochastic.tables import tabulate
    ou = fp.FokkerPlanckModel(lambda x: -100.0 * x)          # bound 2/k = 0.02
    assert stable_dt(tabulate(ou, STIFF_GRID, "euler_maruyama"))[0] == pytest.approx(0.02)
    with pytest.warns(FpsolveWarning, match="stability bound 0.02"):
        fp.simulate(ou, 0.0, grid=STIFF_GRID, dt=0.015, n_steps=2, n_traj=2, rng=0)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fp.simulate(ou, 0.0, grid=STIFF_GRID, dt=0.005, n_steps=2, n_traj=2, rng=0)


def test_wall_hit_rate_is_reported_and_warns_when_steps_cross_the_box():
    # Free diffusion in [0, 1] (D = 1): a step of std sqrt(2 D dt) = 0.32 at dt = 0.05 reflects in
    # about a quarter of the steps (measured 0.25), far above WALL_HIT_LIMIT = 0.1; at dt = 1e-4
    # (std 0.014) in about 5e-4 of them.  The stiffness check cannot see this (zero drift).
    grid = fp.CartesianGrid([(0.0, 1.0)], (50,))
    model = fp.FokkerPlanckModel(lambda x: 0.0 * x, 1.0)
    with pytest.warns(fp.errors.AccuracyWarning, match="reflections per trajectory step"):
        coarse = fp.simulate(model, np.full(2000, 0.5), grid=grid, dt=0.05, n_steps=200, rng=1)
    assert coarse.options["wall_hit_rate"] > 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error", fp.errors.AccuracyWarning)
        fine = fp.simulate(model, np.full(2000, 0.5), grid=grid, dt=1e-4, n_steps=200, rng=1)
    assert 0 < fine.options["wall_hit_rate"] < 0.01
    # the winding reports wraps on periodic axes only; reflections are not wraps
    assert np.all(coarse.winding == 0) and np.all(fine.winding == 0)


def test_noise_keyword_is_a_deprecated_alias_of_normals():
    grid = fp.CartesianGrid([(-50.0, 50.0)], 4)
    xi = np.random.default_rng(0).standard_normal((5, 3, 1))
    kw = dict(grid=grid, dt=0.01, n_steps=5, record_every=1)
    new = simulate(OrnsteinUhlenbeck(-np.eye(1)), np.zeros((3, 1)), normals=xi, **kw)
    with pytest.warns(DeprecationWarning, match="normals"):
        old = simulate(OrnsteinUhlenbeck(-np.eye(1)), np.zeros((3, 1)), noise=xi, **kw)
    assert np.array_equal(new.positions, old.positions)
