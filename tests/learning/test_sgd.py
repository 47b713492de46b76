"""Random streams, minibatch schedules and the SGD kernel against NumPy references.

Statistical tests are seeded (deterministic); each states the false-failure rate it would have
over random seeds.  References are plain Python/NumPy: Philox on Python ints, Fisher-Yates on
lists, and an SGD loop with a vectorized NumPy gradient; the normals are those of
:func:`fpsolve.stochastic.standard_normal` (its ziggurat is checked against a NumPy reference in
tests/stochastic/test_sde_kernels.py).
"""

from __future__ import annotations

import math
from itertools import combinations, permutations

import numpy as np
import pytest
from scipy import stats

from fpsolve import _numba, _random, derive_key
from fpsolve.errors import FpsolveError
from fpsolve.learning import (
    Dataset,
    LinearRegression,
    RegressionNetwork,
    minibatch_indices,
    paper_regression,
    sgd,
)
from fpsolve.learning.dynamics import _kernels
from fpsolve.stochastic import standard_normal

EPS = np.finfo(float).eps
P_MIN = 1e-4          # chi-square tests fail with probability 1e-4 over random seeds
W0 = np.array([1.3, 1.2, 0.7, -0.7, 1.0, -1.0, 0.0])
M32 = 0xFFFFFFFF


# --------------------------------------------------------------------------- references
def ref_philox(ctr, key):
    c, k = list(ctr), list(key)
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & M32, (p0 >> 32) ^ c[3] ^ k[1], p0 & M32]
        k = [(k[0] + 0x9E3779B9) & M32, (k[1] + 0xBB67AE85) & M32]
    return c


WR_TAG, SHUFFLE_TAG = 1 << 16, 2 << 16   # index draws: tag in the top half of the 4th word


def ref_word(key, tag, chain, t, j):
    """Draw j of the index stream ``tag``: word j % 4 of block j // 4."""
    return ref_philox([j // 4, chain, t & M32, (t >> 32) | tag], [int(key[0]), int(key[1])])[j % 4]


def ref_batches(key, schedule, chain, step0, n_steps, n, b):
    out, nb = [], n // b
    for t in range(step0, step0 + n_steps):
        pool = list(range(n))
        if schedule == "wr":
            for j in range(b):
                r = j + ((ref_word(key, WR_TAG, chain, t, j) * (n - j)) >> 32)
                pool[j], pool[r] = pool[r], pool[j]
            out.append(pool[:b])
        else:
            for j in range(n - 1):
                r = j + ((ref_word(key, SHUFFLE_TAG, chain, t // nb, j) * (n - j)) >> 32)
                pool[j], pool[r] = pool[r], pool[j]
            out.append(pool[(t % nb) * b:(t % nb + 1) * b])
    return np.array(out)


def ref_normals(key, chain, t, d):
    """The d normals of chain ``chain`` at step ``t``: the one stream of standard_normal."""
    return standard_normal(key, 1, 1, d, traj0=chain, step0=t)[0, 0]


def ref_net_batch_gradient(w, x, y, batch, n):
    """grad of mean_{i in batch} N/(2 s^2) [(y_i - f_i)^2 + lam |w|^2], s = 0.1, lam = 1e-3."""
    u, c, v = w[0:2], w[2:4], w[4:6]
    xb, yb = x[batch], y[batch]
    t = np.tanh(np.outer(xb, u) + c)
    r = yb - (t @ v + w[6])
    df = np.hstack([v * (1 - t**2) * xb[:, None], v * (1 - t**2), t, np.ones((xb.size, 1))])
    a = n / (2 * 0.1**2)
    return a * (-2 * (r[:, None] * df).mean(axis=0) + 2e-3 * w)


def ref_sgd(data, w0, eta, b, n_steps, schedule, key, T=0.0, chain=0):
    batches = ref_batches(key, schedule, chain, 0, n_steps, data.N, b)
    w = w0.copy()
    for t in range(n_steps):
        w = w - eta * ref_net_batch_gradient(w, data.x, data.y, batches[t], data.N)
        if T > 0:
            w = w + np.sqrt(2 * eta * T) * ref_normals(key, chain, t, w.size)
    return w


# --------------------------------------------------------------------------- random numbers
@pytest.mark.parametrize("ctr, key, expected", [     # Random123 known-answer vectors
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([M32] * 4, [M32] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
])
def test_philox_known_answers(ctr, key, expected):
    args = [np.uint64(v) for v in ctr + key]
    assert [int(v) for v in _numba.philox4x32(*args)] == expected
    assert ref_philox(ctr, key) == expected


def test_chain_normals_are_the_sde_normals():
    # One normal transform: the scalar pair of the chain kernels equals the vectorized ziggurat
    # of the SDE ensembles bit for bit, also on the slow path (odd t, many draws).
    key, zt, scratch = derive_key(11), _random.ziggurat_table(), np.zeros((5, 1), np.uint64)
    for t in (0, 5, 2**33 + 7):
        z = np.array([_random.normal_pair(key, zt, 3, t, j, scratch) for j in range(3)]).ravel()
        assert np.array_equal(z, ref_normals(key, 3, t, 6))
    many = standard_normal(key, 40, 50, 4)                  # 8000 draws: ~1 % slow paths
    got = np.array([[np.ravel([_random.normal_pair(key, zt, c, t, j, scratch) for j in (0, 1)])
                     for c in range(40)] for t in range(50)])
    assert np.array_equal(got, many)


@pytest.mark.parametrize("schedule", ["wr", "wor"])
def test_batches_match_reference(schedule):
    key = derive_key(5)
    got = minibatch_indices(23, 5, 13, schedule=schedule, rng=key, chain=2, step0=3)
    assert np.array_equal(got, ref_batches(key, schedule, 2, 3, 13, 23, 5))


def test_fill_batches_runs_as_plain_python():
    key, out1, out2 = derive_key(1), np.empty((6, 3), np.int64), np.empty((6, 3), np.int64)
    for mode in (_kernels.WR, _kernels.WOR, _kernels.PALINDROME):
        _kernels.fill_batches(key, mode, 0, 2, 10, 3, np.arange(13), out1)
        getattr(_kernels.fill_batches, "py_func", _kernels.fill_batches)(
            key, mode, 0, 2, 10, 3, np.arange(13), out2)
        assert np.array_equal(out1, out2)


# --------------------------------------------------------------------------- schedules
def test_wr_batches_distinct_and_uniform():
    n, b, steps = 200, 10, 20000
    idx = minibatch_indices(n, b, steps, rng=123)
    assert all(len(set(row)) == b for row in idx)
    counts = np.bincount(idx.ravel(), minlength=n)
    # per step the indicators of a B-subset have covariance p(1-p) N/(N-1) (I - 11^T/N), so
    # sum (O-E)^2/E is (N-B)/(N-1) chi2(N-1); rescale to chi2(N-1)
    e = steps * b / n
    stat = ((counts - e)**2 / e).sum() * (n - 1) / (n - b)
    assert stats.chi2.sf(stat, n - 1) > P_MIN


def test_wr_batches_independent_across_steps():
    """Unordered batches of steps 2k and 2k+1 are jointly uniform over all 10 x 10 pairs."""
    n, b, pairs = 5, 2, 20000
    idx = np.sort(minibatch_indices(n, b, 2 * pairs, rng=7), axis=1)
    code = {s: k for k, s in enumerate(combinations(range(n), b))}
    cells = [code[tuple(r0)] * len(code) + code[tuple(r1)]
             for r0, r1 in zip(idx[::2], idx[1::2], strict=True)]
    counts = np.bincount(cells, minlength=len(code)**2)
    assert stats.chisquare(counts).pvalue > P_MIN


def test_wor_visits_every_index_once_per_epoch():
    n, b = 200, 10
    idx = minibatch_indices(n, b, 5 * (n // b), schedule="wor", rng=3)
    epochs = idx.reshape(5, -1)
    assert all(np.array_equal(np.sort(e), np.arange(n)) for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1])                 # reshuffled
    # starting mid-epoch (a resumed chunk) gives the same batches
    assert np.array_equal(minibatch_indices(n, b, 30, schedule="wor", rng=3, step0=17),
                          idx[17:47])


def test_wor_permutations_uniform():
    n, b, epochs = 4, 2, 24000
    idx = minibatch_indices(n, b, 2 * epochs, schedule="wor", rng=9).reshape(epochs, n)
    code = {p: k for k, p in enumerate(permutations(range(n)))}
    counts = np.bincount([code[tuple(e)] for e in idx], minlength=24)
    assert stats.chisquare(counts).pvalue > P_MIN


def test_wor_remainder_is_dropped_uniformly():
    n, b, epochs = 7, 2, 7000                                       # 3 batches, 1 dropped
    idx = minibatch_indices(n, b, 3 * epochs, schedule="wor", rng=4).reshape(epochs, 6)
    assert all(len(set(e)) == 6 for e in idx)
    dropped = [21 - e.sum() for e in idx]                           # 0 + ... + 6 = 21
    assert stats.chisquare(np.bincount(dropped, minlength=n)).pvalue > P_MIN


# --------------------------------------------------------------------------- the SGD kernel
@pytest.mark.parametrize("schedule, T", [("wr", None), ("wor", None), ("wr", 0.5)])
def test_sgd_steps_match_numpy_reference(schedule, T):
    data = Dataset(paper_regression().x[::5], paper_regression().y[::5])       # N = 40
    key = derive_key(21)
    res = sgd(RegressionNetwork(), data, W0, eta=1e-5, batch_size=10, n_steps=11,
              schedule=schedule, rng=key, noise=T, record_every=1, chunk_size=3)
    ref = ref_sgd(data, W0, 1e-5, 10, 1, schedule, key, T or 0.0)
    # one step: numpy vs kernel gradient (tanh and summation order), ~10 ulp of |eta grad|
    assert np.allclose(res.w[1, 0], ref, rtol=0, atol=1e-13)
    ref = ref_sgd(data, W0, 1e-5, 10, 11, schedule, key, T or 0.0)
    # 11 steps (chunks of 3, crossing epochs) with contraction |1 - eta H| <= 1: errors add up
    assert np.allclose(res.w_final[0], ref, rtol=0, atol=1e-12)


def test_reproducible_and_independent_of_threads_and_chunks():
    net, data = RegressionNetwork(), paper_regression()
    kw = dict(eta=1e-6, batch_size=10, n_steps=500, record_every=50, n_chains=3)
    base = sgd(net, data, W0, rng=8, schedule="wor", **kw)
    assert np.array_equal(base.w, sgd(net, data, W0, rng=8, schedule="wor", chunk_size=37,
                                      **kw).w)
    old = _numba.get_num_threads()
    try:
        _numba.set_num_threads(1)
        single = sgd(net, data, W0, rng=8, schedule="wor", **kw)
    finally:
        _numba.set_num_threads(old)
    assert np.array_equal(base.w, single.w)
    other = sgd(net, data, W0, rng=9, schedule="wor", **kw)
    assert not np.array_equal(base.w_final, other.w_final)
    assert not np.array_equal(base.w_final[0], base.w_final[1])     # chains differ


def test_sgld_full_batch_stationary_variance():
    """B = N WR is the full gradient: w' = w - eta H (w - w*) + sqrt(2 eta T) zeta exactly,
    an AR(1) with stationary variance 2 T / (H (2 - eta H))."""
    x = np.full(4, 0.5)
    data = Dataset(x[:, None], np.array([0.1, -0.3, 0.2, 0.4]))
    model = LinearRegression(1, s=1.0, lam=0.0)                     # H = sum x^2 / s^2 = 1
    eta, T = 0.5, 1.5
    w_star = 2 * data.y.mean()
    res = sgd(model, data, [w_star], eta=eta, batch_size=4, n_steps=1000, noise=T,
              n_chains=1000, record_every=5, rng=2)
    samples = res.w[1:, :, 0] - w_star                      # lag-5 correlation 0.5^5 = 0.03
    exact = 2 * T / (1.0 * (2 - eta * 1.0))
    # 2e5 nearly independent normals: relative SE of the variance sqrt(2/2e5) = 0.32 %
    # (x1.03 for the lag correlation); 5 SE gives a false-failure rate < 1e-6
    assert abs(samples.var() / exact - 1) < 5 * 0.0032 * 1.03


# --------------------------------------------------------------------------- checkpoints
KW = dict(eta=1e-6, batch_size=10, record_every=25, n_chains=2, rng=5, chunk_size=100)


def test_resume_extends_bit_identically(tmp_path):
    net, data, ck = RegressionNetwork(), paper_regression(), tmp_path / "run.npz"
    full = sgd(net, data, W0, n_steps=400, **KW)
    part = sgd(net, data, W0, n_steps=250, checkpoint=ck, **KW)
    assert np.array_equal(part.w, full.w[:11])
    resumed = sgd(net, data, W0, n_steps=400, checkpoint=ck, **KW)
    assert np.array_equal(resumed.w, full.w) and np.array_equal(resumed.w_final, full.w_final)
    kw = dict(KW, rng=None)                                 # the key comes from the file
    assert np.array_equal(sgd(net, data, W0, n_steps=400, checkpoint=ck, **kw).w, full.w)


def test_interrupted_run_loses_no_finished_chunk(tmp_path, monkeypatch):
    net, data, ck = RegressionNetwork(), paper_regression(), tmp_path / "run.npz"
    full = sgd(net, data, W0, n_steps=400, schedule="wor", **KW)
    real, calls = _kernels.run_chains, []

    def flaky(*args):
        calls.append(args[15])                              # step0 of the chunk
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(_kernels, "run_chains", flaky)
    with pytest.raises(KeyboardInterrupt):
        sgd(net, data, W0, n_steps=400, schedule="wor", checkpoint=ck, **KW)
    monkeypatch.setattr(_kernels, "run_chains", real)
    with np.load(ck) as f:
        assert int(f["step"]) == 200                        # two finished chunks
    resumed = sgd(net, data, W0, n_steps=400, schedule="wor", checkpoint=ck, **KW)
    assert np.array_equal(resumed.w, full.w)


def test_checkpoint_of_another_run_is_refused(tmp_path):
    net, data, ck = RegressionNetwork(), paper_regression(), tmp_path / "run.npz"
    sgd(net, data, W0, n_steps=200, checkpoint=ck, **KW)
    with pytest.raises(FpsolveError, match="checkpoint"):
        sgd(net, data, W0, n_steps=200, checkpoint=ck, **dict(KW, eta=2e-6))
    with pytest.raises(FpsolveError, match="rng"):
        sgd(net, data, W0, n_steps=200, checkpoint=ck, **dict(KW, rng=6))
    with pytest.raises(FpsolveError, match="n_steps"):
        sgd(net, data, W0, n_steps=100, checkpoint=ck, **KW)
    (tmp_path / "junk.npz").write_text("not a checkpoint")
    with pytest.raises(FpsolveError, match="checkpoint"):
        sgd(net, data, W0, n_steps=200, checkpoint=tmp_path / "junk.npz", **KW)


# --------------------------------------------------------------------------- failures
@np.errstate(over="ignore", invalid="ignore")   # overflow is the point (NUMBA_DISABLE_JIT=1)
def test_divergence_is_an_error_naming_step_and_loss():
    net, data = RegressionNetwork(), paper_regression()
    with pytest.raises(FpsolveError, match=r"step \d+ .*loss"):
        sgd(net, data, W0, eta=1.0, batch_size=10, n_steps=1000, rng=0)
    lin = LinearRegression(1, s=1.0, lam=0.0)
    with pytest.raises(FpsolveError, match=r"step \d+ .*non-finite"):
        sgd(lin, (np.ones(4), np.ones(4)), [2.0], eta=10.0, batch_size=2, n_steps=10**4,
            max_loss=math.inf, rng=0)


def test_progress_bar(capsys):
    sgd(RegressionNetwork(), paper_regression(), W0, eta=1e-6, batch_size=10, n_steps=100,
        progress=True, rng=0)
    assert "100/100" in capsys.readouterr().err


DATA = paper_regression()
GOOD = dict(eta=1e-6, batch_size=10, n_steps=10)


@pytest.mark.parametrize("args, kw, message", [
    ((RegressionNetwork(), (np.zeros((5, 2)), np.zeros(5)), W0), GOOD, "data"),
    ((RegressionNetwork(), (np.zeros(5), np.zeros(4)), W0), GOOD, "y:"),
    ((RegressionNetwork(), DATA, W0), dict(GOOD, batch_size=201), "batch_size"),
    ((RegressionNetwork(), DATA, W0), dict(GOOD, batch_size=0), "batch_size"),
    ((RegressionNetwork(), DATA, W0), dict(GOOD, batch_size=2.0), "batch_size"),
    ((RegressionNetwork(), DATA, W0), dict(GOOD, eta=0.0), "eta"),
    ((RegressionNetwork(), DATA, W0), dict(GOOD, eta=-1e-3), "eta"),
    ((RegressionNetwork(), DATA, W0), dict(GOOD, eta=math.nan), "eta"),
    ((RegressionNetwork(), DATA, W0), dict(GOOD, noise=-1.0), "noise"),
    ((RegressionNetwork(), DATA, W0), dict(GOOD, n_chains=0), "n_chains"),
    ((RegressionNetwork(), DATA, W0), dict(GOOD, n_steps=-1), "n_steps"),
    ((RegressionNetwork(), DATA, W0), dict(GOOD, record_every=0), "record_every"),
    ((RegressionNetwork(), DATA, W0), dict(GOOD, chunk_size=0), "chunk_size"),
    ((RegressionNetwork(), DATA, W0), dict(GOOD, schedule="random"), "schedule"),
    ((RegressionNetwork(), DATA, W0), dict(GOOD, rng=-1), "rng"),
    ((RegressionNetwork(), DATA, W0), dict(GOOD, max_loss=0.0), "max_loss"),
    ((RegressionNetwork(), DATA, W0[:6]), GOOD, "w0"),
    ((RegressionNetwork(), DATA, np.zeros((3, 7))), dict(GOOD, n_chains=2), "w0"),
    ((RegressionNetwork(), DATA, W0 * np.nan), GOOD, "w0"),
    (("net", DATA, W0), GOOD, "model"),
])
def test_bad_input(args, kw, message):
    with pytest.raises(FpsolveError, match=message):
        sgd(*args, **kw)


@pytest.mark.parametrize("args, kw, message", [
    ((10, 11, 5), {}, "batch_size"),
    ((10, 0, 5), {}, "batch_size"),
    ((0, 1, 5), {}, "n_samples"),
    ((10, 2, -1), {}, "n_steps"),
    ((10, 2, 5), dict(schedule="wr2"), "schedule"),
    ((10, 2, 5), dict(rng="seed"), "rng"),
])
def test_minibatch_indices_bad_input(args, kw, message):
    with pytest.raises(FpsolveError, match=message):
        minibatch_indices(*args, **kw)


# --------------------------------------------------------------------------- continuation
@pytest.mark.parametrize("schedule", ["wr", "wor", "wor-palindromic"])
def test_two_halves_equal_one_whole_run(schedule):
    # Continuing from a result: the step counter goes on, so the batches and the noise of the
    # second half are those of steps 300..599 of the whole run (issue: a second call with the
    # same rng used to replay the same minibatches).
    net, data = RegressionNetwork(), paper_regression()
    kw = dict(eta=1e-6, batch_size=10, record_every=25, n_chains=2, schedule=schedule,
              noise=0.5)
    whole = sgd(net, data, W0, n_steps=600, rng=5, **kw)
    first = sgd(net, data, W0, n_steps=300, rng=5, **kw)
    second = sgd(net, data, first, n_steps=300, **kw)
    assert second.step0 == 300 and second.steps[0] == 300 and second.steps[-1] == 600
    assert np.array_equal(second.w_final, whole.w_final)
    assert np.array_equal(np.concatenate([first.w, second.w[1:]]), whole.w)
    assert np.array_equal(second.key, whole.key)


def test_continuation_refuses_mismatches():
    net, data = RegressionNetwork(), paper_regression()
    first = sgd(net, data, W0, eta=1e-6, batch_size=10, n_steps=30, record_every=10, rng=5)
    with pytest.raises(FpsolveError, match="rng"):
        sgd(net, data, first, eta=1e-6, batch_size=10, n_steps=30, rng=6)
    with pytest.raises(FpsolveError, match="n_chains"):
        sgd(net, data, first, eta=1e-6, batch_size=10, n_steps=30, n_chains=2)
    with pytest.raises(FpsolveError, match="record_every"):
        sgd(net, data, first, eta=1e-6, batch_size=10, n_steps=30, record_every=7)


def test_every_trajectory_result_names_its_path_and_steps_alike():
    # issue: positions / w / samples -> one name, `path`, with `steps` (global step counts of
    # the rows) and `stride` (steps between rows) on every trajectory result
    import fpsolve as fp
    from fpsolve.learning import sample
    from fpsolve.models.gallery import OrnsteinUhlenbeck
    net, data = RegressionNetwork(), paper_regression()
    s = sgd(net, data, W0, eta=1e-6, batch_size=10, n_steps=40, record_every=10, rng=1)
    m = sample("sgworld", LinearRegression(1, s=1.0), (data.x, data.y), eta=1e-4,
               batch_size=10, n_epochs=6, burn_in=2, rng=1, warn=False)
    t = fp.simulate(OrnsteinUhlenbeck(-np.eye(1)), [0.0], grid=fp.CartesianGrid([(-9, 9)], 4),
                    dt=0.01, n_steps=40, record_every=10, rng=1)
    for res, path in ((s, s.w), (m, m.samples), (t, t.positions)):
        assert res.path is path and res.steps.shape == (path.shape[0],)
        assert np.all(np.diff(res.steps) == res.stride)
    assert s.stride == 10 and m.stride == 20 and t.stride == 10
    assert s.steps[-1] == 40 and m.steps[0] == 60 and t.steps[-1] == 40


def test_draw_normals_are_the_one_stream_from_any_index():
    # The chain kernel draws each step's normals once (draw_normals); they must be the normals
    # first .. first + n - 1 of (chain, step) of standard_normal, for odd starts and lengths too.
    key, zt, sc = derive_key(3), _random.ziggurat_table(), np.zeros((5, 1), np.uint64)
    ref = standard_normal(key, 1, 1, 9, traj0=4, step0=7)[0, 0]
    for first, n in ((0, 9), (3, 5), (2, 4), (1, 1)):
        out = np.empty(n)
        _kernels.draw_normals(key, zt, 4, 7, first, sc, out)
        assert np.array_equal(out, ref[first:first + n]), (first, n)
