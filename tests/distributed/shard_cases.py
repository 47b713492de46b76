"""Small runs of every trajectory driver, and the bitwise comparison of their results, shared by
the tests of shards on executors and on a Dask cluster."""

from __future__ import annotations

import dataclasses

import numpy as np

import fpsolve as fp
from fpsolve.learning import (LinearRegression, RegressionNetwork, paper_regression, sample,
                              sgd, sgd_fokker_planck, slice_sgd)
from fpsolve.learning.dynamics.samplers import SAMPLERS
from fpsolve.models.gallery import OrnsteinUhlenbeck
from fpsolve.stochastic import CellCurrent, Histogram, RunningEntropy, simulate

W0 = np.array([1.3, 1.2, 0.7, -0.7, 1.0, -1.0, 0.0])


def linear_data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    return x, x @ [1.0, -1.0] + rng.normal(size=n)


def run_simulate(client=None, **kwargs):
    """A 2-D OU ensemble in a box (periodic x, absorbing y) with every built-in observable:
    normals, bridge uniforms and block-reduced sums all take part."""
    grid = fp.CartesianGrid([(-3.0, 3.0), (-2.5, 2.5)], 12, boundary=["periodic", "absorbing"])
    model = OrnsteinUhlenbeck(-np.array([[1.0, 0.5], [-0.5, 1.0]]))
    obs = [Histogram(grid, every=2), CellCurrent(grid),
           RunningEntropy.from_model(model.model, grid, every=5)]
    return simulate(model, [0.0, 0.0], grid=grid, dt=0.01, n_steps=60, n_traj=700, rng=3,
                    record_every=10, observables=obs, client=client, **kwargs)


def run_sgd(client=None, schedule="wr", **kwargs):
    return sgd(RegressionNetwork(), paper_regression(), W0, eta=1e-5, batch_size=10,
               n_steps=300, record_every=50, n_chains=7, rng=11, schedule=schedule,
               noise=0.5, client=client, **kwargs)


def run_sample(name, client=None):
    return sample(SAMPLERS[name](), LinearRegression(2, s=1.0), linear_data(), eta=1e-3,
                  batch_size=None if name == "ula" else 10, n_epochs=30, burn_in=5,
                  n_chains=5, rng=4, warn=False, client=client)


def run_slice(client=None):
    x = np.random.default_rng(0).normal(size=(50, 3))
    data = (x, x @ [1.0, -1.0, 0.5])
    prob = sgd_fokker_planck(LinearRegression(3), data, free=(0, 2), at=np.zeros(3), eta=1e-4,
                             batch_size=5, n_cells=16)
    return slice_sgd(LinearRegression(3), data, prob, n_steps=400, n_chains=40, burn_in=50,
                     rng=1, client=client)


def assert_identical(a, b):
    """Every array (NaNs in the same places), number and observable state of two results are
    equal bit for bit."""
    assert type(a) is type(b)
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name, strict=True)
        elif f.name == "observables":
            assert x.keys() == y.keys()
            for name in x:
                sx, sy = x[name].state(), y[name].state()
                assert sx.keys() == sy.keys()
                for k in sx:
                    np.testing.assert_array_equal(sx[k], sy[k], err_msg=f"{name}.{k}",
                                                  strict=True)
        elif isinstance(x, (int, float, str, tuple, dict)):
            assert x == y, f.name
