"""Labelled results: ``to_xarray``/``from_xarray`` and NetCDF files, bit for bit.

The results are the tiny real ones of ``test_io.py`` (one builder per result class); round
trips are compared with its ``assert_same``: arrays by dtype, shape, bytes (NaN payloads
included) and read-only flag, no tolerances.
"""

from __future__ import annotations

import dataclasses
import sys
import types

import numpy as np
import pytest
from test_io import BUILDERS, GRID, NOT_STORED, assert_same, ou_operator

import fpsolve as fp
from fpsolve import io
from fpsolve.errors import FpsolveError
from fpsolve.results import LabelledResult

xr = pytest.importorskip("xarray")
try:   # NetCDF files need h5netcdf and h5py (both in the extra fpsolve[xarray])
    import h5netcdf  # noqa: F401
    import h5py
except ImportError:
    h5py = None
files = pytest.mark.skipif(h5py is None, reason="NetCDF files need h5netcdf and h5py")

GRID_RESULTS = ("StationaryResult", "TimeSeriesResult", "QuasiStationaryResult",
                "FirstPassageResult", "SpectrumResult", "ExtrapolatedResult")
WALK_RESULTS = ("TrajectoryResult", "StochasticEntropyResult", "SGDResult", "SampleResult",
                "SliceSGDResult")


@pytest.fixture(scope="module")
def results(stationary):
    return {name: build(stationary) for name, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def stationary():
    return fp.solve_stationary(ou_operator())


def assert_round_trip(result, back):
    """Same class, every stored field bit for bit; the operator, models, samplers None."""
    assert type(back) is type(result)
    n_arrays = 0
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if f.name in NOT_STORED and value is not None:
            assert getattr(back, f.name) is None, f.name
        else:
            assert_same(value, getattr(back, f.name), f.name)
            n_arrays += isinstance(value, np.ndarray)
    return n_arrays


# ------------------------------------------------------------------------- round trips
@files
@pytest.mark.parametrize("name", list(BUILDERS))
def test_netcdf_round_trip_is_bit_identical(tmp_path, results, name):
    result = results[name]
    written = io.save(tmp_path / "r", result, format="netcdf")
    assert written.name == "r.nc" and written.read_bytes()[:4] == b"\x89HDF"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]     # no temporary left
    back = io.load(written)
    assert_round_trip(result, back)
    assert len(io.to_xarray(result).data_vars) >= 1    # at least one array compared


@pytest.mark.parametrize("name", list(BUILDERS))
def test_to_xarray_and_back_in_memory(results, name):
    result = results[name]
    ds = io.to_xarray(result)
    assert isinstance(ds, xr.Dataset)
    assert ds.attrs["fpsolve_class"] == f"{type(result).__module__}.{name}"
    for key in ("fpsolve_version", "numpy_version", "scipy_version"):
        assert ds.attrs[key] == {"fpsolve_version": fp.__version__,
                                 "numpy_version": np.__version__,
                                 "scipy_version": __import__("scipy").__version__}[key]
    assert_round_trip(result, io.from_xarray(ds))


@pytest.mark.parametrize("name", GRID_RESULTS + WALK_RESULTS)
def test_grid_and_walk_results_have_the_method(results, name):
    result = results[name]
    assert isinstance(result, LabelledResult)
    assert_same(result.to_xarray().attrs["fpsolve_result"],
                io.to_xarray(result).attrs["fpsolve_result"])


@pytest.mark.parametrize("name", GRID_RESULTS)
def test_grid_coordinates_are_the_cell_centers(results, name):
    result = results[name]
    ds = result.to_xarray()
    axes = tuple(f"x{k}" for k in range(result.grid.ndim))
    for k, axis in enumerate(axes):
        # the grid's own centers, not a recomputation: equal bits
        assert ds[axis].values.tobytes() == result.grid.axis_centers(k).tobytes()
    main = {"FirstPassageResult": "tau", "SpectrumResult": "modes"}.get(name, "p")
    assert ds[main].dims[-len(axes):] == axes


def test_dimensions_name_time_modes_and_components(results):
    ts = results["TimeSeriesResult"].to_xarray()
    assert ts["p"].dims == ("time", "x0", "x1")
    assert ts["time"].values.tobytes() == results["TimeSeriesResult"].times.tobytes()
    sp = results["SpectrumResult"].to_xarray()
    assert sp["modes"].dims == ("mode", "x0", "x1") and sp["rates"].dims == ("mode",)
    assert sp["eigenvalues"].dtype == np.complex128        # complex in memory
    ex = results["ExtrapolatedResult"].to_xarray()
    assert ex["current"].dims == ("axis", "x0", "x1") and ex["fine_p"].dims == ("x0", "x1")
    assert "error.density_l1" in ex.attrs and ex.attrs["order"] == 4


def test_dimensions_of_trajectories_and_chains(results):
    tr = results["TrajectoryResult"].to_xarray()
    assert tr["positions"].dims == ("time", "trajectory", "axis")
    assert tr["exit_time"].dims == ("trajectory",) and tr.attrs["method"]
    assert tr["time"].values.tobytes() == results["TrajectoryResult"].times.tobytes()
    assert results["StochasticEntropyResult"].to_xarray()["total"].dims == ("window",
                                                                           "trajectory")
    sgd = results["SGDResult"].to_xarray()
    assert sgd["w"].dims == ("step", "chain", "parameter")
    assert sgd["step"].values.tolist() == results["SGDResult"].steps.tolist()
    assert sgd.attrs["model"].startswith("LinearRegression")
    smp = results["SampleResult"].to_xarray()
    assert smp["samples"].dims == ("sample", "chain", "parameter")
    assert smp["ess"].dims == ("parameter",) and "sampler" in smp.attrs
    sl = results["SliceSGDResult"].to_xarray()
    assert sl["counts"].dims == ("block", "x0", "x1") and sl["entropy"].dims == ("chain",)


def test_stationary_attributes_flatten_error_report_and_conditioning(results):
    res = results["StationaryResult"]
    ds = res.to_xarray()
    for key in ("model", "scheme", "method", "residual", "converged", "message",
                "fpsolve_version", "numpy_version", "scipy_version"):
        assert key in ds.attrs, key
    assert ds.attrs["model"] == repr(res.operator.model)
    assert ds.attrs["scheme"] == res.operator.scheme == "sg"
    assert ds.attrs["residual"] == res.residual and ds.attrs["converged"] == int(res.converged)
    assert ds.attrs["message"] == res.message and ds.attrs["method"] == res.method
    assert ds.attrs["error.peclet"] == res.error.peclet
    assert ds.attrs["error.orders.density"] == res.error.orders["density"] or np.isnan(
        res.error.orders["density"])
    for key, value in res.conditioning.items():
        assert np.array_equal(ds.attrs[f"conditioning.{key}"], value, equal_nan=True), key
    if res.error.density_cells is not None:
        assert ds["error.density_cells"].dims == ("x0", "x1")


def test_model_axis_names_label_the_grid(results):
    res = results["StationaryResult"]
    named = types.SimpleNamespace(model=types.SimpleNamespace(names=("q", "v")), scheme="sg")
    ds = dataclasses.replace(res, operator=named).to_xarray()
    assert ds["p"].dims == ("q", "v") and ds["q"].values.tobytes() == GRID.axis_centers(0).tobytes()


@files
def test_odd_dtypes_and_nan_payloads_round_trip_through_netcdf(tmp_path):
    nan_payload = np.array([0x7FF8000000000123, 0xFFF0000000000001], dtype=np.uint64).view(
        np.float64)
    ro = np.arange(6, dtype=">f8").reshape(2, 3)       # big-endian and read-only
    ro.setflags(write=False)
    extra = {"nan": nan_payload, "c64": np.array([1 + 2j, -0.0 - 1j], np.complex64),
             "b": np.array([[True, False]]), "u": np.array(["ab", "xyz"]),
             "h": np.array([1.5, -2.0], np.float16), "t": np.array(["2024-01-01"], "M8[D]"),
             "ro": ro, "empty": np.zeros((0, 3)), "scalar": np.float32(0.25),
             "c0": np.complex128(1 - 1j), "i8": np.array(2**62, np.int64), "big": 2**80,
             "s": "text", "none": None, "nested": {"at": (1, 2.5), "flag": True}}
    res = fp.results.SpectrumResult(np.array([0.0, 1.0]), np.array([0j, -1 + 2j]), grid=GRID,
                                    message="m", extra=extra)
    back = io.load(io.save(tmp_path / "odd.nc", res))
    assert_round_trip(res, back)
    assert not back.extra["ro"].flags.writeable and back.extra["nan"].flags.writeable


# ------------------------------------------------------------------------- format, paths
@files
def test_format_choice_and_suffixes(tmp_path, results):
    res = results["StationaryResult"]
    assert io.save(tmp_path / "a.nc", res).read_bytes()[:4] == b"\x89HDF"     # from suffix
    assert io.save(tmp_path / "b", res).name == "b.npz"                        # default npz
    assert io.save(tmp_path / "c", res, format="netcdf").name == "c.nc"
    assert type(io.load(tmp_path / "c")) is type(res)                          # finds c.nc
    for bad in ("d.npz", "d.h5"):
        with pytest.raises(FpsolveError, match="^path: format='netcdf' writes NetCDF"):
            io.save(tmp_path / bad, res, format="netcdf")


@files
def test_missing_xarray_names_the_extra(tmp_path, results, monkeypatch):
    res = results["StationaryResult"]
    written = io.save(tmp_path / "r.nc", res)
    monkeypatch.setitem(sys.modules, "xarray", None)     # import xarray raises ImportError
    extra = r'pip install "fpsolve\[xarray\]"'
    with pytest.raises(FpsolveError, match=f"^to_xarray needs the optional extra: {extra}"):
        res.to_xarray()
    with pytest.raises(FpsolveError, match=f'^format: "netcdf" needs .*{extra}'):
        io.save(tmp_path / "s", res, format="netcdf")
    with pytest.raises(FpsolveError, match=f"^path: .*r.nc.* is NetCDF; reading it .*{extra}"):
        io.load(written)
    assert type(io.load(io.save(tmp_path / "plain", res))) is type(res)   # .npz needs none


def test_missing_h5py_names_the_extra(tmp_path, results, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(FpsolveError, match=r'needs the optional extra: .*fpsolve\[xarray\]'):
        io.save(tmp_path / "s", results["StationaryResult"], format="netcdf")


# ------------------------------------------------------------------------- bad files
@files
def test_corrupted_variable_names_file_and_variable(tmp_path, results):
    path = io.save(tmp_path / "r.nc", results["StationaryResult"])
    with h5py.File(path, "r") as f:
        info = f["p"].id.get_chunk_info(0)                # compressed, checksummed chunk
    raw = bytearray(path.read_bytes())
    for k in range(info.byte_offset + 8, info.byte_offset + 40):
        raw[k] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(FpsolveError, match=r"^path: .*r\.nc.*variable 'p' is damaged"):
        io.load(path)


def _rewrite(path, change):
    """Apply ``change`` to the dataset in the NetCDF file at ``path`` and write it back."""
    with xr.open_dataset(path, engine="h5netcdf", decode_cf=False) as ds:
        ds = change(ds.load())
    path.unlink()
    ds.to_netcdf(path, engine="h5netcdf")


@files
def test_mismatched_or_missing_variable_names_file_and_variable(tmp_path, results):
    res = results["StationaryResult"]
    path = io.save(tmp_path / "r.nc", res)
    _rewrite(path, lambda ds: ds.drop_vars("p").assign(p=(("a", "b"), np.ones((3, 3)))))
    with pytest.raises(FpsolveError, match=r"^path: .*r\.nc.*'p' has shape \(3, 3\)"):
        io.load(path)
    path = io.save(tmp_path / "s.nc", res)
    _rewrite(path, lambda ds: ds.drop_vars("p"))
    with pytest.raises(FpsolveError, match=r"^path: .*s\.nc.*variable 'p' is missing"):
        io.load(path)


@files
def test_foreign_netcdf_and_dataset_are_refused(tmp_path):
    xr.Dataset({"p": ("x", np.ones(3))}).to_netcdf(tmp_path / "other.nc", engine="h5netcdf")
    with pytest.raises(FpsolveError, match=r"^path: .*other\.nc.* is not an fpsolve result"):
        io.load(tmp_path / "other.nc")
    with pytest.raises(FpsolveError, match="^dataset: .* is not an fpsolve result"):
        io.from_xarray(xr.Dataset({"p": ("x", np.ones(3))}))
    with pytest.raises(FpsolveError, match="^result: expected an fpsolve result"):
        io.to_xarray(GRID)
