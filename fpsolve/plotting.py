"""Standard figures of fpsolve: densities with currents, convergence, fluctuation theorems.

Every plotting function draws on the Axes ``ax`` it is given (a new figure from :func:`figure`
when ``ax`` is None) and returns it, for titles, limits and extra artists with the usual
object-oriented matplotlib API.  Only :func:`figure` and :func:`save_figure` use pyplot.

matplotlib is an optional dependency (the ``plot`` extra), imported only when a figure is made:
importing this module does not import it.  Figures use matplotlib's current backend, which falls
back to the file-only Agg backend when no display is available (``MPLBACKEND=Agg`` forces it).

Arrays follow the grid convention ``p[i, j]`` at ``(x[i], y[j])``; the functions transpose for
matplotlib, which wants ``[row = y, column = x]``.

Examples
--------
>>> import numpy as np, fpsolve as fp
>>> from fpsolve import plotting
>>> grid = fp.CartesianGrid([(-5, 5), (-5, 5)], (32, 32))
>>> ou = fp.models.OrnsteinUhlenbeck([[-1.0, 0.8], [-0.8, -1.0]], [[1.0, 0.0], [0.0, 1.0]])
>>> res = fp.solve_stationary(fp.FokkerPlanckOperator(grid, ou.model))
>>> fig, axes = plotting.figure(1, 2, figsize=(9, 4))
>>> ax = plotting.density(res, ax=axes[0])   # density image with current streamlines
>>> len(ax.collections)                      # the image and the streamlines
2
>>> h = np.array([0.4, 0.2, 0.1])
>>> ax = plotting.convergence(h, {"L1 error": 3 * h**2}, reference=2, ax=axes[1])
>>> [t.get_text() for t in ax.get_legend().get_texts()]
['L1 error: slope 2.00', 'slope 2']
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = [
    "convergence",
    "density",
    "dt_extrapolation",
    "entropy_histogram",
    "figure",
    "fluctuation_ratio",
    "integral_fluctuation",
    "log_ticks_125",
    "log_ticks_at",
    "save_figure",
]

_INSTALL_HINT = 'fpsolve.plotting needs matplotlib; install it with: pip install "fpsolve[plot]"'
_LEGEND_FONTSIZE = 8
_RUN_MARKERS = "os^v<>"   # markers of the successive series of dt_extrapolation


def _pyplot():
    """``matplotlib.pyplot``, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return plt


def _axes(ax):
    """``ax``, or the Axes of a new one-panel figure when ``ax`` is None."""
    return ax if ax is not None else figure()[1]


def figure(nrows: int = 1, ncols: int = 1, **kwargs):
    """A new figure with an ``nrows x ncols`` grid of Axes: :func:`matplotlib.pyplot.subplots`
    (``kwargs``: ``figsize``, ``sharey``, ``squeeze``, ...), or an ImportError that says how to
    install matplotlib (``pip install "fpsolve[plot]"``).

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : Axes or ndarray of Axes
    """
    return _pyplot().subplots(nrows, ncols, **kwargs)


def save_figure(fig, path, *, dpi: float = 110, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or path-like
        Output file; the format follows the suffix (``.png``, ``.pdf``, ``.svg``, ...).
    dpi : float, keyword-only
        Resolution of raster formats.
    tight : bool, keyword-only
        Apply ``fig.tight_layout()`` first (``False`` for a colorbar spanning several Axes).

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    _pyplot().close(fig)
    return path


def density(p, J=None, *, centers=None, ax=None, streamlines: bool = True,
            cmap: str = "viridis", vmin: float | None = None, vmax: float | None = None,
            colorbar: bool | str = False, stream_density: float = 1.0,
            stream_color: str = "white", linewidth: float = 0.7):
    """Image of a 2-D cell field, with streamlines of the current ``J`` over it.

    Parameters
    ----------
    p : result or ndarray, shape (nx, ny)
        A result with ``p`` and ``grid`` attributes (e.g. :class:`~fpsolve.StationaryResult`),
        or the cell values themselves (a density, or any other cell field such as a mean
        first-passage time).
    J : ndarray, shape (2, nx, ny), or ProbabilityCurrent, optional
        Cell-centered current.  For a result with an operator it defaults to
        ``probability_current(p).cells`` (the operator's own fluxes).  May be a masked array.
    centers : CartesianGrid, (x, y) or ndarray, shape (2, nx, ny), keyword-only
        Cell-center coordinates: a grid, the two 1-D axes, or ``grid.cell_centers()``.
        Defaults to the result's grid, or to cell indices for a bare array.
    ax : Axes, keyword-only
        Where to draw (a new figure when None).
    streamlines : bool, keyword-only
        Draw streamlines of ``J`` (when a current is given or can be computed).
    cmap, vmin, vmax, colorbar : keyword-only
        Colormap and color limits of the image; ``colorbar`` adds a colorbar next to ``ax``
        (a string is its label).
    stream_density, stream_color, linewidth : keyword-only
        Spacing, color and width of the streamlines.

    Returns
    -------
    Axes
        ``ax``, holding the image (a QuadMesh) and, with streamlines, their line collection.

    Raises
    ------
    ValueError
        If the field is not 2-D, or ``centers`` or ``J`` do not match its shape.
    """
    values, x, y, J = _field(p, J, centers, streamlines)
    ax = _axes(ax)
    image = ax.pcolormesh(x, y, values.T, shading="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    if streamlines and J is not None:
        ax.streamplot(x, y, J[0].T, J[1].T, color=stream_color, density=stream_density,
                      linewidth=linewidth)
    if colorbar is not False:
        label = colorbar if isinstance(colorbar, str) else None
        ax.figure.colorbar(image, ax=ax, label=label)
    return ax


def _field(p, J, centers, streamlines: bool):
    """Cell values, axis coordinates and current (or None) of :func:`density`'s inputs."""
    is_result = hasattr(p, "p") and hasattr(p, "grid")
    values = np.asarray(p.p if is_result else p, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"p: expected a 2-D cell field of shape (nx, ny), got shape "
                         f"{values.shape} (pass one time slice of a time series)")
    if is_result and centers is None:
        centers = p.grid
    if is_result and J is None and streamlines and getattr(p, "operator", None) is not None:
        from .analysis import probability_current

        J = probability_current(p).cells
    x, y = _coordinates(centers, values.shape)
    if J is not None:
        J = np.ma.asarray(getattr(J, "cells", J), dtype=float)
        if J.shape != (2, *values.shape):
            raise ValueError(f"J: expected shape {(2, *values.shape)} (cell-centered current), "
                             f"got {J.shape}")
    return values, x, y, J


def _coordinates(centers, shape) -> tuple[np.ndarray, np.ndarray]:
    """1-D cell-center coordinates ``x, y`` from a grid, two axes or a stacked meshgrid."""
    if centers is None:
        x, y = np.arange(shape[0], dtype=float), np.arange(shape[1], dtype=float)
    elif hasattr(centers, "axis_centers"):
        x, y = centers.axis_centers(0), centers.axis_centers(1)
    else:
        first, second = (np.asarray(c, dtype=float) for c in centers)
        x, y = (first[:, 0], second[0, :]) if first.ndim == 2 else (first, second)
    if (x.ndim, y.ndim) != (1, 1) or (x.size, y.size) != tuple(shape):
        raise ValueError(f"centers: expected a grid, (x, y) or an array of shape (2, {shape[0]}, "
                         f"{shape[1]}) matching p, got axes of shapes {x.shape} and {y.shape}")
    return x, y


def convergence(h, errors, *, ax=None, orders=None, reference=None, fmt="o-",
                xlabel: str = "h", ylabel: str = "error"):
    """Log-log plot of errors against a step size, with their slopes (observed orders).

    Parameters
    ----------
    h : array_like, shape (n,)
        Step sizes (grid spacing, time step, learning rate, ...).
    errors : mapping of str to array_like of shape (n,), or array_like of shape (n,)
        One series per label; a bare array is labelled ``"error"``.
    ax : Axes, keyword-only
        Where to draw (a new figure when None).
    orders : mapping of str to float or (float, float), keyword-only
        Slope of each series, or ``(slope, stderr)``, shown in its legend label.  By default the
        least-squares slope of ``log(error)`` against ``log(h)`` over the positive errors.
    reference : float or mapping of str to float, keyword-only
        A float draws one dashed line ``~ h**reference`` at half the first error of the first
        series; a mapping draws, for each named series, a dotted line of that slope through the
        series' first point.
    fmt : str or mapping of str to str, keyword-only
        Matplotlib format of every series, or one per label.
    xlabel, ylabel : str, keyword-only

    Returns
    -------
    Axes
        ``ax``, log-scaled on both axes, one line per series (label ``"<label>: slope 2.00"``
        or ``"<label>: slope 2.001 +- 0.012"``) and the reference line(s).
    """
    h = np.asarray(h, dtype=float)
    series = dict(errors) if isinstance(errors, Mapping) else {"error": errors}
    series = {label: np.asarray(err, dtype=float) for label, err in series.items()}
    for label, err in series.items():
        if err.shape != h.shape:
            raise ValueError(f"errors[{label!r}]: expected shape {h.shape} like h, got {err.shape}")
    ax = _axes(ax)
    for label, err in series.items():
        order = _observed_order(h, err) if orders is None else orders[label]
        style = fmt[label] if isinstance(fmt, Mapping) else fmt
        ax.loglog(h, err, style, label=f"{label}: slope {_slope_text(order)}")
    if isinstance(reference, Mapping):
        for label, slope in reference.items():
            ax.loglog(h, series[label][0] * (h / h[0]) ** slope, "k:", lw=0.8)
    elif reference is not None:
        first = next(iter(series.values()))
        ax.loglog(h, 0.5 * first[0] * (h / h[0]) ** reference, "k--",
                  label=f"slope {reference:g}")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize=_LEGEND_FONTSIZE)
    return ax


def _observed_order(h: np.ndarray, err: np.ndarray) -> float:
    """:func:`~fpsolve.analysis.observed_order` over the positive finite errors (NaN when
    fewer than two remain: a plot shows what it can)."""
    from .analysis import observed_order

    ok = np.isfinite(err) & (err > 0) & (h > 0)
    return observed_order(h[ok], err[ok]) if np.count_nonzero(ok) >= 2 else float("nan")


def _slope_text(slope) -> str:
    """``"2.00"`` for a slope, ``"2.001 +- 0.012"`` for ``(slope, stderr)``."""
    if np.ndim(slope) == 0:
        return f"{float(slope):.2f}"
    value, stderr = slope
    return f"{value:.3f} +- {stderr:.3f}"


def entropy_histogram(dS, *, ax=None, bins: int | np.ndarray = 120, quantile: float | None = 1e-4,
                      color: str = "tab:blue", histtype: str = "bar", weights=None):
    """Normalized histogram of entropy-production samples on a log scale, with their mean.

    Parameters
    ----------
    dS : array_like
        Samples of the total entropy production over one window.
    ax : Axes, keyword-only
        Where to draw (a new figure when None).
    bins, weights, color, histtype : keyword-only
        As in :meth:`matplotlib.axes.Axes.hist`; ``weights``: e.g. counts at bin centers ``dS``.
    quantile : float or None, keyword-only
        Range ``[q, 1 - q]`` quantiles of ``dS`` (lone tail samples squeeze the bulk); None: all.

    Returns
    -------
    Axes
        ``ax`` with the histogram patches (log-scaled y), a dashed line at the (weighted) mean.
    """
    dS, weights = (None if a is None else np.asarray(a, dtype=float).ravel() for a in (dS, weights))
    span = None if quantile is None else tuple(np.quantile(dS, [quantile, 1 - quantile]))
    ax = _axes(ax)
    ax.hist(dS, bins=bins, range=span, density=True, weights=weights, histtype=histtype,
            color=color, alpha=0.7 if histtype == "bar" else 1.0)
    ax.axvline(np.average(dS, weights=weights), color="k", lw=0.8, ls="--")
    ax.set(yscale="log", xlabel="dS_tot", ylabel="P(dS_tot)")
    return ax


def fluctuation_ratio(points, *, ax=None, slope=None, color: str = "tab:blue",
                      label: str = "MC"):
    """Detailed fluctuation theorem: ``ln P(s) / P(-s)`` against ``s`` with the line of slope 1.

    Parameters
    ----------
    points : FluctuationTestResult or (s, log_ratio, stderr)
        A result of :func:`~fpsolve.fluctuation_test`, or its ``dft_points``: arrays of
        ``s``, ``ln P(s) / P(-s)`` and the standard errors of the log-ratio.
    ax : Axes, keyword-only
        Where to draw (a new figure when None).
    slope : float or (float, float), keyword-only
        Fitted slope (or ``(slope, stderr)``) shown in the legend; taken from the
        FluctuationTestResult by default.
    color, label : str, keyword-only
        Color and legend label of the points.

    Returns
    -------
    Axes
        ``ax`` with the error bars, the slope-1 line and a legend.
    """
    if hasattr(points, "dft_points"):
        if slope is None:
            slope = (points.dft_slope.value, points.dft_slope.stderr)
        points = points.dft_points
    s, log_ratio, stderr = (np.asarray(a, dtype=float) for a in points)
    ax = _axes(ax)
    text = label if slope is None else f"{label}: slope {_slope_text(slope)}"
    ax.errorbar(s, log_ratio, yerr=stderr, fmt="o", ms=3, color=color, label=text)
    line = np.linspace(0.0, max(s.max() if s.size else 0.0, 1e-9) * 1.05, 50)
    ax.plot(line, line, "k-", lw=1, label="slope 1 (DFT)")
    ax.set(xlabel="s", ylabel="ln P(s)/P(-s)")
    ax.legend(fontsize=_LEGEND_FONTSIZE)
    return ax


def integral_fluctuation(tau, value, stderr, *, ax=None, bootstrap=None,
                         confidence: float = 0.95):
    """Integral fluctuation theorem: ``<exp(-dS)>`` against the window length, with the line 1.

    Parameters
    ----------
    tau : array_like, shape (n,)
        Window lengths (positive; the x axis is logarithmic).
    value, stderr : array_like, shape (n,)
        ``<exp(-dS)>`` per window and its CLT standard error.
    ax : Axes, keyword-only
        Where to draw (a new figure when None).
    bootstrap : array_like, shape (n, 2), keyword-only
        Bootstrap intervals, drawn as bars just right of each point.
    confidence : float, keyword-only
        Confidence of the bootstrap intervals (legend text only).

    Returns
    -------
    Axes
        ``ax`` with the error bars, the intervals, the line ``<exp(-dS)> = 1`` and a legend.
    """
    tau = np.asarray(tau, dtype=float)
    ax = _axes(ax)
    ax.errorbar(tau, value, yerr=stderr, fmt="o", capsize=4, label="MC, CLT standard error")
    if bootstrap is not None:
        ci = np.asarray(bootstrap, dtype=float).reshape(-1, 2)
        ax.vlines(tau * 1.03, ci[:, 0], ci[:, 1], color="tab:orange", lw=3, alpha=0.6,
                  label=f"{confidence:.0%} bootstrap interval")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set(xscale="log", xlabel="window tau", ylabel="<exp(-dS_tot)>")
    ax.legend(fontsize=_LEGEND_FONTSIZE)
    return ax


def dt_extrapolation(runs, *, ax=None, extrapolated=None, reference: float | None = None,
                     rtol: float | None = None, reference_label: str | None = None,
                     band_label: str | None = None):
    """Monte Carlo estimates against the time step, their ``dt -> 0`` limit and a reference.

    Parameters
    ----------
    runs : mapping of str to (dt, value, stderr)
        One series of estimates per label, drawn with error bars (markers o, s, ^, ...).
    ax : Axes, keyword-only
        Where to draw (a new figure when None).
    extrapolated : (float, float), keyword-only
        The extrapolated value at ``dt = 0`` and its standard error (e.g. from
        :func:`~fpsolve.extrapolate_to_zero_dt`); its label gives the relative error against
        ``reference``.
    reference : float, keyword-only
        Exact or grid value, drawn as a horizontal line.
    rtol : float, keyword-only
        Acceptance band ``reference * (1 -+ rtol)``, shaded.
    reference_label, band_label : str, keyword-only
        Legend labels of the line and the band.

    Returns
    -------
    Axes
        ``ax`` with the error bars, the extrapolation, the reference and a legend.
    """
    ax = _axes(ax)
    for k, (label, (dt, value, stderr)) in enumerate(runs.items()):
        marker = _RUN_MARKERS[k % len(_RUN_MARKERS)]
        ax.errorbar(dt, value, yerr=stderr, fmt=marker, capsize=4, label=label)
    if extrapolated is not None:
        value, stderr = extrapolated
        text = f"{value / reference - 1:+.2%}" if reference is not None else f"{value:.4g}"
        ax.errorbar([0.0], [value], yerr=[stderr], fmt="D", capsize=4, color="tab:red",
                    label=f"extrapolated: {text}")
    if reference is not None:
        ax.axhline(reference, color="k", lw=0.8,
                   label=reference_label or f"reference {reference:.4f}")
        if rtol is not None:
            ax.axhspan((1 - rtol) * reference, (1 + rtol) * reference, color="0.9",
                       label=band_label or f"+-{rtol:.0%}")
    ax.set_xlabel("dt")
    ax.legend(fontsize=_LEGEND_FONTSIZE)
    return ax


def log_ticks_at(axis, values, *, fmt: str = "%.3g", rotation: float = 0.0) -> None:
    """Label a log ``axis`` (``ax.xaxis`` / ``ax.yaxis``) at the data ``values`` only, with
    ``fmt`` and no minor labels: over about a decade matplotlib labels the minor ticks too
    (2x10^-1, 3x10^-1, ...), and they overlap."""
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

    axis.set_major_locator(FixedLocator(np.asarray(values, dtype=float)))
    axis.set_major_formatter(FormatStrFormatter(fmt))
    axis.set_minor_formatter(NullFormatter())
    if rotation:
        axis.set_tick_params(which="major", labelrotation=rotation)


def log_ticks_125(axis, *, fmt: str = "%.2g") -> None:
    """Major ticks of a log ``axis`` at 1, 2 and 5 times powers of ten (at most 6), plain
    labels, no minor labels (for log axes spanning under a decade)."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=6))
    axis.set_major_formatter(FormatStrFormatter(fmt))
    axis.set_minor_formatter(NullFormatter())
