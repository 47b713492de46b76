"""Save/load of every result class: exact round trips, what is left out, and bad files.

Round trips are compared bit for bit (no tolerances): arrays by dtype, shape, bytes and
read-only flag, Python scalars by type and value (NaN included), grids by equality.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import pickle
import warnings

import numpy as np
import pytest

import fpsolve as fp
from fpsolve import io
from fpsolve.errors import FpsolveError
from fpsolve.learning import LinearRegression, sgd, sgd_fokker_planck
from fpsolve.learning.diagnostics import MixingWarning
from fpsolve.learning.dynamics.samplers import sample
from fpsolve.learning.slices import slice_sgd
from fpsolve.stochastic.fluctuation import Estimate

GRID = fp.CartesianGrid([(-3, 3)] * 2, (16, 16))


def ou_operator(grid=GRID):
    # SG rates: an operator rebuilt from grid and model alone is then the one that was solved
    # ("fitted" operators are refitted to the density; see the hint of result_operator).
    return fp.FokkerPlanckOperator(grid, fp.FokkerPlanckModel(lambda x: -x), scheme="sg")


def regression(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    return (x, x @ np.array([1.0, -1.0]) + rng.normal(size=n)), LinearRegression(2, s=1.0)


# ------------------------------------------------------------------------- tiny real results
@pytest.fixture(scope="module")
def stationary():
    return fp.solve_stationary(ou_operator())


def _time_series(_):
    p0 = np.exp(-((GRID.cell_centers() - 1.0) ** 2).sum(0))
    return fp.evolve(ou_operator(), p0 / GRID.integrate(p0), [0.0, 0.1, 0.2])


def _absorbing(solver):
    grid = fp.CartesianGrid([(-2, 2)], (16,), boundary="absorbing")
    return solver(ou_operator(grid))


def _trajectories(_):
    return fp.simulate(fp.FokkerPlanckModel(lambda x: -x), np.zeros(2), grid=GRID, dt=0.01,
                       n_steps=20, n_traj=5, rng=0)


def _entropy(stationary):
    return fp.stochastic_entropy_production(_trajectories(None), p_ss=stationary,
                                            model=fp.FokkerPlanckModel(lambda x: -x))


def _fluctuation(_):
    ds = np.random.default_rng(0).normal(1.0, math.sqrt(2.0), size=400)
    return fp.fluctuation_test(ds, n_bootstrap=50, rng=0)


def _sgd(_):
    data, model = regression()
    return sgd(model, data, np.zeros(2), eta=0.01, batch_size=8, n_steps=50, rng=1)


def _sample(_):
    data, model = regression()
    with warnings.catch_warnings():   # four epochs are too short to mix; not the point here
        warnings.simplefilter("ignore", MixingWarning)
        return sample("sgld", model, data, eta=1e-3, batch_size=8, n_epochs=4, n_chains=2,
                      rng=5)


def _slice(_):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(24, 3))
    data, model = (x, x @ [0.5, -1.0, 0.8] + 0.3 * rng.normal(size=24)), LinearRegression(3)
    prob = sgd_fokker_planck(model, data, free=(2, 0), at=np.zeros(3), eta=2e-4, batch_size=4,
                             n_cells=8)
    return slice_sgd(model, data, prob, n_steps=20, n_chains=2, burn_in=2, rng=7)


def _extrapolated(_):
    # 24 = 4 * MIN_COARSE_CELLS: a third grid (6x6) gives the error dict too
    return fp.extrapolate_stationary(ou_operator(fp.CartesianGrid([(-3, 3)] * 2, (24, 24))))


BUILDERS = {
    "StationaryResult": lambda st: st,
    "TimeSeriesResult": _time_series,
    "QuasiStationaryResult": lambda _: _absorbing(fp.solve_quasi_stationary),
    "FirstPassageResult": lambda _: _absorbing(fp.mean_first_passage_time),
    "SpectrumResult": lambda _: fp.relaxation_spectrum(ou_operator(), k=3,
                                                         return_modes=True),
    "ExtrapolatedResult": _extrapolated,
    "TrajectoryResult": _trajectories,
    "StochasticEntropyResult": _entropy,
    "FluctuationTestResult": _fluctuation,
    "SGDResult": _sgd,
    "SampleResult": _sample,
    "SliceSGDResult": _slice,
}
# Fields that hold user callables or arbitrary objects and come back as None.
NOT_STORED = {"operator", "model", "sampler"}


# ------------------------------------------------------------------------- exact comparison
def assert_same(a, b, where="result"):
    """Bit-for-bit equality of two values built from the types io.save stores."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), where
        assert a.tobytes() == b.tobytes(), where          # exact, NaN payloads included
        assert a.flags.writeable == b.flags.writeable, where
    elif isinstance(a, np.generic) or type(a) is float:
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), where
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif dataclasses.is_dataclass(a) and type(a) is not fp.CartesianGrid:
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    else:
        assert a == b, where


def round_trip(tmp_path, result, name="result"):
    return io.load(io.save(tmp_path / name, result))


def rewrite_header(path, change):
    """Apply ``change`` to the JSON header of the file at ``path`` in place."""
    with np.load(path) as data:
        members = {k: data[k] for k in data.files}
    header = json.loads(str(members["__fpsolve_result__"]))
    change(header)
    members["__fpsolve_result__"] = np.array(json.dumps(header))
    np.savez_compressed(path, **members)


# ------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_result_class_round_trips_exactly(tmp_path, stationary, name):
    result = BUILDERS[name](stationary)
    assert type(result).__name__ == name
    back = round_trip(tmp_path, result)
    assert type(back) is type(result)
    for f in dataclasses.fields(result):
        if f.name in NOT_STORED and getattr(result, f.name) is not None:
            assert getattr(back, f.name) is None, f.name
        else:
            assert_same(getattr(result, f.name), getattr(back, f.name), f.name)


def test_registry_lists_exactly_the_tested_classes():
    assert sorted(name for _, name in io.RESULT_CLASSES) == sorted(BUILDERS)


def test_stationary_header_path_grid_and_operator(tmp_path, stationary):
    written = io.save(tmp_path / "ou", stationary)
    assert written == tmp_path / "ou.npz" and written.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ou.npz"]    # no temporary left
    with np.load(written, allow_pickle=False) as data:
        header = json.loads(str(data["__fpsolve_result__"]))
    assert header["format_version"] == io.FORMAT_VERSION
    assert header["fpsolve_version"] == fp.__version__
    assert (header["module"], header["name"]) == ("fpsolve.results", "StationaryResult")
    assert header["dropped"] == ["operator"]
    back = io.load(written)
    assert back.grid == stationary.grid and back.grid is not stationary.grid
    assert back.operator is None
    np.testing.assert_array_equal(back.p, stationary.p)
    assert back.grid.integrate(back.p) == stationary.grid.integrate(stationary.p)


def test_loaded_stationary_needs_its_operator_back_for_currents(tmp_path, stationary):
    back = round_trip(tmp_path, stationary)
    # The analysis functions name the missing operator and how to attach it.
    with pytest.raises(FpsolveError, match="result: has no operator"):
        fp.probability_current(back)
    with pytest.raises(FpsolveError, match="dataclasses.replace"):
        fp.entropy_production_rate(back)
    again = dataclasses.replace(back, operator=ou_operator(back.grid))
    cur, ref = fp.probability_current(again), fp.probability_current(stationary)
    # same p, same grid, same model: the same floating-point operations, so equal bits
    np.testing.assert_array_equal(cur.cells, ref.cells)
    assert fp.entropy_production_rate(again) == fp.entropy_production_rate(stationary)


def test_values_of_every_storable_kind_and_dropped_ones(tmp_path, caplog):
    extra = {"nan": float("nan"), "inf": -math.inf, "big": 2**100, "c": 1 - 2j, "s": "x",
             "np": np.float32(0.5), "b": np.bool_(True), "t": (1, 2.5, None), "l": [True],
             "d": {3: "three", (1, 2): np.arange(3, dtype=np.int16)}, "f": len,
             "obj": np.array([None, 1], dtype=object), "o": object()}
    ro = np.arange(4.0)
    ro.setflags(write=False)
    res = fp.results.SpectrumResult(np.array([0.0, 1.0]), np.array([0j, -1 + 2j]),
                                    modes=ro, grid=GRID, extra=extra)
    with caplog.at_level(logging.INFO, logger="fpsolve.io"):
        back = round_trip(tmp_path, res)
    for key in ("f", "obj", "o"):
        assert back.extra[key] is None
        assert sum(f"extra[{key!r}]" in r.getMessage() for r in caplog.records) == 2  # save+load
    stored = {k: v for k, v in extra.items() if k not in ("f", "obj", "o")}
    assert_same(stored, {k: back.extra[k] for k in stored}, "extra")
    assert_same(res.modes, back.modes, "modes")
    assert not back.modes.flags.writeable


def test_nested_dataclass_with_a_callable_is_left_out_whole(tmp_path, caplog):
    res = _fluctuation(None)
    odd = dataclasses.replace(res, ift=Estimate(value=len, stderr=0.1, ci=(0.0, 1.0)))
    with caplog.at_level(logging.INFO, logger="fpsolve.io"):
        back = round_trip(tmp_path, odd)
    assert back.ift is None
    assert_same(res.dft_slope, back.dft_slope, "dft_slope")
    assert any("ift (Estimate) is not stored" in r.getMessage() for r in caplog.records)


def test_operator_left_out_is_logged(tmp_path, stationary, caplog):
    with caplog.at_level(logging.INFO, logger="fpsolve.io"):
        round_trip(tmp_path, stationary)
    messages = [r.getMessage() for r in caplog.records]
    assert any("operator (FokkerPlanckOperator) is not stored" in m for m in messages)
    assert any("operator was not stored; it is None" in m for m in messages)


# ------------------------------------------------------------------------- paths
def test_suffix_handling(tmp_path, stationary):
    assert io.save(tmp_path / "run_T0.5", stationary).name == "run_T0.5.npz"
    assert io.save(str(tmp_path / "b.npz"), stationary).name == "b.npz"
    # load(p) finds what save(p, ...) wrote
    assert isinstance(io.load(tmp_path / "run_T0.5"), type(stationary))
    for suffix in (".h5", ".json"):
        with pytest.raises(FpsolveError, match=r"^path: .*not written by format='npz'"):
            io.save(tmp_path / f"c{suffix}", stationary)
    # NetCDF suffixes choose NetCDF (tests/unit/test_xarray.py); format="npz" refuses them
    with pytest.raises(FpsolveError, match=r"^path: NetCDF files \('.nc'\)"):
        io.save(tmp_path / "c.nc", stationary, format="npz")
    with pytest.raises(FpsolveError, match=r"^format: expected one of"):
        io.save(tmp_path / "c", stationary, format="zarr")
    with pytest.raises(FpsolveError, match="^path: expected a str or os.PathLike"):
        io.save(3, stationary)


# ------------------------------------------------------------------------- bad input
def test_save_refuses_non_results(tmp_path):
    for bad in (object(), GRID, {"p": np.ones(3)}, fp.results.StationaryResult):
        with pytest.raises(FpsolveError, match="^result: expected an fpsolve result"):
            io.save(tmp_path / "x", bad)
    assert not list(tmp_path.iterdir())


def test_load_refuses_files_that_are_not_results(tmp_path):
    np.savez(tmp_path / "plain.npz", p=np.ones(3))
    np.save(tmp_path / "array.npy", np.ones(3))
    np.save(tmp_path / "pickled.npy", np.array([{}], dtype=object), allow_pickle=True)
    (tmp_path / "text.txt").write_text("p = 1\n")
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "obj.pkl").write_bytes(pickle.dumps({"p": 1}))
    np.savez(tmp_path / "fake.npz", __fpsolve_result__=np.array('{"format": "other"}'))
    for name in ("plain.npz", "array.npy", "pickled.npy", "text.txt", "empty.npz", "obj.pkl",
                 "fake.npz"):
        with pytest.raises(FpsolveError, match="^path: .* is not an fpsolve result file"):
            io.load(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "missing.npz")


@pytest.mark.parametrize("change, match", [
    (lambda h: h.update(name="Dangerous"), "unknown result class fpsolve.results.Dangerous"),
    (lambda h: h.update(module="os", name="system"), "unknown result class os.system"),
    (lambda h: h.update(format_version=io.FORMAT_VERSION + 1), "newer|upgrade fpsolve"),
    (lambda h: h.update(format_version="1"), "damaged header"),
    (lambda h: h["fields"].update(p={"array": {"member": "a99", "readonly": False}}),
     "damaged"),
    (lambda h: h["fields"].update(p={"mystery": 1}), "damaged.*unknown entry type"),
    (lambda h: h["fields"].update(p={"dataclass": {"module": "os", "name": "x", "fields": {}}}),
     "damaged.*not an fpsolve class"),
])
def test_load_refuses_unknown_newer_or_damaged(tmp_path, stationary, change, match):
    path = io.save(tmp_path / "r", stationary)
    rewrite_header(path, change)
    with pytest.raises(FpsolveError, match=f"^path: .*({match})"):
        io.load(path)


def test_field_missing_from_an_older_file_takes_its_default(tmp_path, stationary):
    path = io.save(tmp_path / "r", stationary)
    rewrite_header(path, lambda h: h["fields"].pop("message"))
    assert io.load(path).message == ""


def _member_of(path, field):
    """The archive member holding the array of header field ``field``."""
    with np.load(path) as data:
        return json.loads(str(data["__fpsolve_result__"]))["fields"][field]["array"]["member"]


def test_corrupted_member_names_file_and_member(tmp_path, stationary):
    # Issue 13 item 7: flipping bytes inside a compressed member raised a bare zlib.error.
    import zipfile
    path = io.save(tmp_path / "r", stationary)
    member = _member_of(path, "p")
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member + ".npy")
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for k in range(start + 20, start + 60):               # inside the deflate stream
        raw[k] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(FpsolveError, match=f"^path: .*r.npz.*member '{member}'"):
        io.load(path)


@pytest.mark.parametrize("record_shape", [True, False], ids=["header-shape", "older-file"])
def test_swapped_member_of_the_wrong_shape_is_refused(tmp_path, stationary, record_shape):
    # Issue 13 item 7: a 3x3 array in place of p loaded beside a 16x16 grid.  Files written now
    # record each member's shape; older files (no shape) are checked against the grid.
    path = io.save(tmp_path / "r", stationary)
    member = _member_of(path, "p")
    with np.load(path) as data:
        members = {k: data[k] for k in data.files}
    members[member] = np.ones((3, 3))
    header = json.loads(str(members["__fpsolve_result__"]))
    if not record_shape:
        header["fields"]["p"]["array"].pop("shape")
    members["__fpsolve_result__"] = np.array(json.dumps(header))
    np.savez_compressed(path, **members)
    match = "header records" if record_shape else "expected \\(16, 16\\) on its grid"
    with pytest.raises(FpsolveError, match=f"^path: .*'(p|{member})'.*{match}"):
        io.load(path)


def test_errors_are_value_errors():
    assert issubclass(FpsolveError, ValueError)
