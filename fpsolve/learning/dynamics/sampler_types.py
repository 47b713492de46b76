"""The samplers as small immutable descriptions: how the gradient of a step is estimated
(schedule, control variate) and how a step is taken (noise, midpoint); :func:`~.samplers.sample`
runs them."""

from __future__ import annotations

import numpy as np

from ...errors import FpsolveError

__all__ = ["SAMPLERS", "SGLD", "SGLDCV", "SGWORLD", "ULA", "MidpointSGWORLD", "Sampler",
           "as_sampler"]


class Sampler:
    """Base class of the samplers: how the gradient of one step is estimated.

    Subclasses set ``name`` and ``schedule`` (``"full"``, ``"wr"``, ``"wor"`` or
    ``"wor-palindromic"``) and may set ``control_variate = True`` and a reference point
    ``w_ref``, ``noise = "lm"`` for Leimkuhler-Matthews noise ``sqrt(eta / 2) (zeta_t +
    zeta_{t+1})`` instead of ``sqrt(2 eta) zeta_t``, and ``step = "midpoint"`` for midpoint
    steps (:class:`MidpointSGWORLD`); :func:`sample` does the rest.
    Instances are cheap, immutable descriptions (no state between runs).
    """

    name: str = "Sampler"
    schedule: str = "wr"
    control_variate: bool = False
    noise: str = "euler"
    step: str = "euler"
    w_ref = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and _same(self.w_ref, other.w_ref)

    def __hash__(self) -> int:
        return hash(type(self))


class ULA(Sampler):
    """Unadjusted Langevin algorithm: the full gradient every step."""

    name, schedule = "ULA", "full"


class SGLD(Sampler):
    """Stochastic-gradient Langevin dynamics: a fresh WR batch (``B`` distinct indices) per step."""

    name, schedule = "SGLD", "wr"


class SGWORLD(Sampler):
    """SGLD without replacement: one shuffle per epoch, ``N // B`` disjoint batches."""

    name, schedule = "SGWORLD", "wor"


class SGLDCV(Sampler):
    """SGLD with control variates around ``w_ref`` (Baker et al. 2019, Stat. Comput.).

    ``g(w) = grad L(w_ref) + mean_batch [grad l_i(w) - grad l_i(w_ref)]``, unbiased, with
    variance ``~ |w - w_ref|^2`` instead of ``O(1)``.

    Parameters
    ----------
    w_ref : array_like, shape (d,), optional
        Reference point; None takes the minimum of ``L`` (:func:`~fpsolve.learning.find_minimum`
        from zero), the usual choice.
    """

    name, schedule, control_variate = "SGLDCV", "wr", True

    def __init__(self, w_ref=None):
        if w_ref is not None:
            w_ref = np.array(w_ref, dtype=float)
            if w_ref.ndim != 1 or not np.all(np.isfinite(w_ref)):
                raise FpsolveError(f"w_ref: expected a finite vector, got {w_ref!r}")
            w_ref.setflags(write=False)
        self.w_ref = w_ref

    def __repr__(self) -> str:
        return "SGLDCV()" if self.w_ref is None else f"SGLDCV(w_ref={self.w_ref.tolist()!r})"


class MidpointSGWORLD(Sampler):
    """SGWORLD with midpoint steps on palindromic epochs: no O(eta) bias of the stationary
    covariance (docs/sgworld.md, "Removing the O(eta) bias").

    Epoch ``2j`` walks the batches of a shuffle forward, epoch ``2j + 1`` backward; a step on
    batch ``k`` takes the gradient at the midpoint, on the same batch,

        w~ = w - (eta / 2) g_k(w) + sqrt(eta / 2) (zeta + zeta'),
        w' = w - eta g_k(w~) + sqrt(2 eta) zeta,

    with independent normals ``zeta``, ``zeta'``: two batch gradients per step.
    """

    name, schedule, step = "midpoint SGWORLD", "wor-palindromic", "midpoint"


SAMPLERS = {"ula": ULA, "sgld": SGLD, "sgworld": SGWORLD, "sgldcv": SGLDCV,
            "midpoint-sgworld": MidpointSGWORLD}


def as_sampler(sampler) -> Sampler:
    """A :class:`Sampler` from an instance, a subclass or a name (``"sgworld"``, any case)."""
    if isinstance(sampler, Sampler):
        return sampler
    if isinstance(sampler, type) and issubclass(sampler, Sampler):
        return sampler()
    if isinstance(sampler, str) and sampler.lower() in SAMPLERS:
        return SAMPLERS[sampler.lower()]()
    raise FpsolveError(f"sampler: expected a Sampler or one of {sorted(SAMPLERS)}, got "
                       f"{sampler!r}")


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return np.array_equal(a, b)
