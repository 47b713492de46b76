"""Stochastic-gradient Langevin samplers of ``exp(-L)``: ULA, SGLD, SGWORLD, SGLDCV and
midpoint SGWORLD.

With ``L = mean_i l_i`` the negative log posterior (the paper's normalization, see
:mod:`fpsolve.learning.models`), every sampler makes steps

    w <- w - eta g(w) + sqrt(2 eta) zeta,        zeta ~ N(0, I),

and differs only in the gradient estimate ``g``:

========  ==================================================================================
ULA       full gradient ``grad L`` (the floor any minibatch method is compared to)
SGLD      mean gradient of ``B`` distinct indices drawn afresh each step (``"wr"``)
SGWORLD   mean gradient of WOR batches: one shuffle per epoch, ``R = N // B`` disjoint batches
SGLDCV    ``grad L(w_ref) + mean_batch [grad l_i(w) - grad l_i(w_ref)]`` on WR batches
midpoint  palindromic WOR epochs, gradient at a midpoint on the same batch (MidpointSGWORLD)
========  ==================================================================================

An *epoch* is ``R = N // B`` steps for every sampler (one step for ULA with its default
``B = N``).  Over a WOR epoch every sample enters exactly once, so the batch gradients add up to
``R grad L`` and the O(eta) minibatch noise cancels (docs/sgworld.md): the epoch-end states of
SGWORLD are the ones with the engineered equilibrium, which is why ``record="epoch"`` is the
default.  ``record="step"`` keeps every step; mid-epoch states carry the partial sums of the
gradient noise, an excess covariance ``~ (eta R)^2 Sigma_g / (6 N)`` (measured in the
``sgworld-posterior`` validation case).

When ``B`` does not divide ``N``, SGWORLD drops the last ``N mod B`` indices of each epoch's
permutation (``drop_last``, as :mod:`fpsolve.learning.dynamics.schedules`): every sample is
still used equally often on average, but an epoch's batch gradients no longer add up to
``R grad L``, so the cancellation is incomplete; :func:`sample` warns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._progress import check_progress
from ..._random import as_key
from ..._distributed import execute
from ..._runs import check_count, check_positive, check_threshold, initial_points
from ...errors import FpsolveError, FpsolveWarning
from ...results import LabelledResult
from ..data.datasets import as_dataset
from ..diagnostics import check_mixing, effective_sample_size, rhat
from ..models.gradient import GradientModel
from ..models.minimum import find_minimum
from .chains import ChainRun
from .sampler_types import (SAMPLERS, SGLD, SGLDCV, SGWORLD, ULA, MidpointSGWORLD, Sampler,
                            as_sampler)
from .schedules import epoch_layout

__all__ = [
    "SAMPLERS",
    "SGLD",
    "SGLDCV",
    "SGWORLD",
    "ULA",
    "MidpointSGWORLD",
    "SampleResult",
    "Sampler",
    "as_sampler",
    "sample",
]

MAX_RECORD_BYTES = 4 * 2**30
RECORDS = ("epoch", "step")


@dataclass(frozen=True)
class SampleResult(LabelledResult):
    """Samples of ``n_chains`` chains and their diagnostics (:func:`sample`).

    Attributes
    ----------
    samples : ndarray, shape (n_samples, n_chains, d)
        Parameters after steps ``steps`` (burn-in removed, thinned), read-only.
    steps : ndarray of int, shape (n_samples,)
        Global step count after which each record was taken.
    ess : ndarray, shape (d,)
        Effective sample size per parameter, all chains together
        (:func:`~fpsolve.learning.diagnostics.effective_sample_size`; NaN with fewer than 4
        samples).
    rhat : ndarray, shape (d,)
        Split R-hat per parameter (:func:`~fpsolve.learning.diagnostics.rhat`).
    w_final : ndarray, shape (n_chains, d)
    key : ndarray of uint64, shape (2,)
        Philox key (pass as ``rng`` to reproduce the run).
    sampler : Sampler
    eta : float
    batch_size, steps_per_epoch, n_epochs, burn_in, thin : int
    record : str
    w_ref : ndarray or None
        Reference point of SGLDCV.
    """

    samples: np.ndarray
    steps: np.ndarray
    ess: np.ndarray
    rhat: np.ndarray
    w_final: np.ndarray
    key: np.ndarray
    sampler: Any
    eta: float
    batch_size: int
    steps_per_epoch: int
    n_epochs: int
    burn_in: int
    thin: int
    record: str
    w_ref: Any = None

    @property
    def path(self) -> np.ndarray:
        """The recorded path ``(n_samples, n_chains, d)`` (``samples``), as every trajectory
        result names it."""
        return self.samples

    @property
    def stride(self) -> int:
        """Steps between two records (``steps_per_epoch * thin`` at epoch ends, else
        ``thin``)."""
        return int(self.steps[1] - self.steps[0]) if self.steps.size > 1 else (
            self.thin * (self.steps_per_epoch if self.record == "epoch" else 1))

    @property
    def flat(self) -> np.ndarray:
        """All samples of all chains, shape ``(n_samples * n_chains, d)``."""
        return self.samples.reshape(-1, self.samples.shape[-1])

    def mean(self) -> np.ndarray:
        """Sample mean over records and chains, shape ``(d,)``."""
        return self.flat.mean(axis=0)

    def cov(self) -> np.ndarray:
        """Sample covariance over records and chains (``ddof=1``), shape ``(d, d)``."""
        return np.atleast_2d(np.cov(self.flat, rowvar=False))


def sample(sampler, model: GradientModel, data, *, eta: float, n_epochs: int,
           batch_size: int | None = None, burn_in: int = 0, thin: int = 1, n_chains: int = 4,
           rng=None, record: str = "epoch", w0=None, max_loss: float | None = None,
           warn: bool = True, progress=None, checkpoint=None, client=None) -> SampleResult:
    """Sample ``exp(-L)`` with ULA, SGLD, SGWORLD, SGLDCV or midpoint SGWORLD, chains in
    parallel.

    Parameters
    ----------
    sampler : Sampler, Sampler subclass or str
        ``ULA()``, ``SGLD()``, ``SGWORLD()``, ``SGLDCV(w_ref=None)``, ``MidpointSGWORLD()``
        or their names (``"midpoint-sgworld"``).
    model : GradientModel
        ``L = mean_i l_i`` is the negative log posterior.
    data : Dataset or (x, y)
    eta : float, keyword-only
        Step size, > 0.
    n_epochs : int, keyword-only
        Run length in epochs of ``R = N // B`` steps.
    batch_size : int, keyword-only
        ``B``, ``1 <= B <= N``; required except for ULA (default ``N``: an epoch is one step).
    burn_in : int, keyword-only
        Epochs discarded at the start, ``0 <= burn_in < n_epochs``.
    thin : int, keyword-only
        Keep every ``thin``-th record.
    n_chains : int, keyword-only
        Independent chains (own random streams), default 4; R-hat needs at least 2.
    rng : Generator, int, SeedSequence, None or key, keyword-only
        Source of the Philox key (:func:`~fpsolve.learning.derive_key`).
    record : {"epoch", "step"}, keyword-only
        Record at epoch ends (default) or after every step.
    w0 : array_like, shape (d,) or (n_chains, d), optional
        Initial parameters; None starts every chain at the minimum of ``L`` (SGLDCV: at
        ``w_ref``).  Overdispersed starts make R-hat meaningful.
    max_loss : float, optional
        Divergence threshold on the minibatch loss, as for :func:`~fpsolve.learning.sgd`.
    warn : bool, keyword-only
        Warn (:class:`~fpsolve.learning.diagnostics.MixingWarning`) when R-hat > 1.05.
    progress : bool or None, keyword-only
        Progress bar of the steps on stderr: ``None`` (default) shows one when stderr is a
        terminal and the run lasts more than 2 s, ``True`` always, ``False`` never.  With a bar
        the chains advance in kernel calls of about 0.5 s (the samples are the same bit for
        bit); without one, in a single call.
    checkpoint : str or Path, optional, keyword-only
        ``.npz`` file written atomically (every ~10 s, and at the end); if it exists, the run
        resumes from it bit-identically (its arguments must match; ``n_epochs`` may grow only
        if the record layout stays, so pass the final ``n_epochs`` from the start).
    client : distributed.Client, Executor or Backend, optional, keyword-only
        Run the chains in shards on a cluster (:mod:`fpsolve.distributed`), bit-identical to
        ``client=None``.

    Returns
    -------
    SampleResult

    Raises
    ------
    FpsolveError
        Bad input (naming the argument) or divergence (naming the step, the chain and the
        loss); samples never contain NaNs.

    Examples
    --------
    >>> import numpy as np
    >>> from fpsolve.learning import LinearRegression
    >>> from fpsolve.learning.dynamics.samplers import SGWORLD, sample
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(100, 2))
    >>> data = (x, x @ [1.0, -1.0] + rng.normal(size=100))
    >>> res = sample(SGWORLD(), LinearRegression(2, s=1.0), data, eta=1e-3, batch_size=10,
    ...              n_epochs=200, burn_in=20, n_chains=2, rng=1)
    >>> res.samples.shape, bool(np.all(res.rhat < 1.05))
    ((180, 2, 2), True)
    """
    progress = check_progress(progress)
    run = _prepare(as_sampler(sampler), model, data, eta, n_epochs, batch_size, burn_in, thin,
                   n_chains, rng, record, w0, max_loss)
    chains = _chain_run(run, rng is not None)
    execute(chains, client=client, checkpoint=checkpoint, progress=progress,
            desc=f"{run['sampler'].name} (eta = {run['eta']:.3g})",
            what="sampler, model, data, eta, batch_size, n_epochs, burn_in, thin, record, w0 "
            "or n_chains")
    out, run["key"] = chains.out, chains.key
    out.setflags(write=False)
    if out.shape[0] >= 4:
        r, ess = rhat(out), effective_sample_size(out)
        if warn and n_chains >= 2:
            check_mixing(r, what=f"{run['sampler'].name} (eta = {run['eta']:.3g})")
    else:
        r = ess = np.full(out.shape[2], np.nan)
    steps = (np.arange(out.shape[0]) + run["skip"] + 1) * run["every"]
    return SampleResult(samples=out, steps=steps,
                        ess=ess, rhat=r, w_final=run["w"], key=run["key"], sampler=run["sampler"],
                        eta=run["eta"], batch_size=run["b"], steps_per_epoch=run["R"],
                        n_epochs=n_epochs, burn_in=burn_in, thin=thin, record=record,
                        w_ref=run["w_ref"])


# ----------------------------------------------------------------------------- helpers
def batch_layout(sampler, batch_size, N, stacklevel=4) -> tuple[int, int]:
    """``(B, R)`` of ``sampler``; warns when a WOR schedule drops the last ``N mod B`` indices
    of each epoch."""
    b, R, dropped = epoch_layout(sampler.schedule, batch_size, N, sampler.name)
    if dropped:
        warnings.warn(f"batch_size: B = {b} does not divide N = {N}; {sampler.name} drops the "
                      f"last {dropped} indices of each epoch's permutation (drop_last), so the "
                      f"minibatch noise of an epoch no longer cancels exactly", FpsolveWarning,
                      stacklevel=stacklevel)
    return b, R


def _prepare(sampler, model, data, eta, n_epochs, batch_size, burn_in, thin, n_chains, rng,
             record, w0, max_loss) -> dict:
    """Validate every argument; return the run description (kernel arguments included)."""
    if not isinstance(model, GradientModel):
        raise FpsolveError(f"model: expected a GradientModel, got {type(model).__name__}")
    data = as_dataset(data)
    eta = check_positive("eta", eta)
    n_epochs, thin = check_count("n_epochs", n_epochs, 1), check_count("thin", thin, 1)
    burn_in, n_chains = check_count("burn_in", burn_in, 0), check_count("n_chains", n_chains, 1)
    if burn_in >= n_epochs:
        raise FpsolveError(f"burn_in: expected fewer than n_epochs = {n_epochs} epochs, got "
                           f"{burn_in}")
    if record not in RECORDS:
        raise FpsolveError(f"record: expected one of {RECORDS}, got {record!r}")
    b, R = batch_layout(sampler, batch_size, data.N)
    every = (R if record == "epoch" else 1) * thin
    n_steps, skip = n_epochs * R, (burn_in * R) // every
    n_rec = n_steps // every - skip
    if n_rec < 1:
        raise FpsolveError(f"thin: {thin} keeps no record of {n_epochs - burn_in} epochs after "
                           f"burn-in; lower thin or raise n_epochs")
    if n_rec * n_chains * model.n_params * 8 > MAX_RECORD_BYTES:
        raise FpsolveError(f"thin: {n_rec} records of {n_chains} chains exceed 4 GiB; thin more")
    w_ref = _reference(sampler, model, data) if sampler.control_variate or w0 is None else None
    w = initial_points("w0", w0 if w0 is not None else w_ref, n_chains, model.n_params)
    run = dict(sampler=sampler, model=model, data=data, eta=eta, b=b, R=R, every=every,
               n_steps=n_steps, skip=skip, n_rec=n_rec, w=w, w_ref=w_ref, key=as_key(rng))
    run["max_loss"] = (1e12 * max(1.0, max(model.loss(v, data) for v in w))
                       if max_loss is None else check_threshold("max_loss", max_loss))
    return run


def _reference(sampler, model, data) -> np.ndarray:
    """``w_ref`` of SGLDCV, or the minimum of ``L`` (the default start)."""
    if sampler.w_ref is not None:
        if sampler.w_ref.shape != (model.n_params,):
            raise FpsolveError(f"w_ref: expected shape ({model.n_params},), got "
                               f"{sampler.w_ref.shape}")
        return np.array(sampler.w_ref)
    return find_minimum(model, data, np.zeros(model.n_params)).w


def _chain_run(run, key_fixed) -> ChainRun:
    """The chains of a sampler run on the engine (records after the burn-in only)."""
    sampler, model, data = run["sampler"], run["model"], run["data"]
    C, d = run["w"].shape
    control = None
    if sampler.control_variate:
        gref = np.ascontiguousarray(model.per_sample_gradients(run["w_ref"], data))
        control = (gref, gref.mean(axis=0))
    out = np.empty((run["n_rec"], C, d))
    return ChainRun(model.chain_kernel(data), run["w"], run["key"], schedule=sampler.schedule,
                    batch_size=run["b"], eta=run["eta"], temperature=1.0, out=out,
                    every=run["every"], row0=run["skip"] + 1, max_loss=run["max_loss"],
                    n_steps=run["n_steps"], control=control, lm=sampler.noise == "lm",
                    midpoint=sampler.step == "midpoint", label=sampler.name,
                    key_fixed=key_fixed)
