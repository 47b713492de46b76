"""The one progress-bar policy of fpsolve: tqdm bars on stderr for long work.

Every long-running function takes ``progress=None`` (keyword-only):

- ``None`` (auto): a bar only when ``sys.stderr`` is a terminal, and only once the work has
  run for :data:`AUTO_DELAY` seconds, so short calls, scripts with redirected output, CI logs
  and test runs stay quiet;
- ``True``: a bar at once, whatever stderr is (e.g. to watch a job's log);
- ``False``: never a bar.

Drivers update the bar once per chunk of work (a kernel call, a GMRES iteration, a block of
time steps), never inside a hot loop; a disabled bar costs one attribute check per update.
"""

from __future__ import annotations

import sys

import numpy as np

from .errors import FpsolveError

__all__ = ["AUTO_DELAY", "check_progress", "progress_bar", "show_progress"]

#: Seconds an auto (``progress=None``) bar waits before it first draws: work that ends sooner
#: shows nothing.
AUTO_DELAY = 2.0


def check_progress(progress) -> bool | None:
    """``progress`` as ``None``, ``True`` or ``False``; :class:`FpsolveError` naming the
    argument for anything else."""
    if progress is None:
        return None
    if isinstance(progress, (bool, np.bool_)):
        return bool(progress)
    raise FpsolveError(f"progress: expected None (auto: a bar when stderr is a terminal), "
                       f"True or False, got {progress!r}")


def show_progress(progress) -> bool:
    """Whether a bar will be drawn: ``progress``, or for ``None`` whether stderr is a
    terminal."""
    progress = check_progress(progress)
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        try:
            return bool(isatty and isatty())
        except (ValueError, OSError):  # a closed or detached stream
            return False
    return progress


def progress_bar(iterable=None, *, progress=None, total=None, desc=None, unit="it",
                 initial=0, **kwargs):
    """A tqdm bar on the current ``sys.stderr`` following the ``progress`` policy above.

    ``iterable``, ``total``, ``desc``, ``unit``, ``initial`` and ``kwargs`` go to
    :class:`tqdm.tqdm`.  Unless given, an auto bar waits :data:`AUTO_DELAY` seconds and is
    cleared when done (finished bars of library calls should not pile up in a terminal); a
    forced bar (``True``) draws at once and stays.  Use it as a context manager so the bar
    closes on errors too.
    """
    from tqdm import tqdm

    auto = check_progress(progress) is None
    kwargs.setdefault("leave", not auto)
    kwargs.setdefault("delay", AUTO_DELAY if auto else 0.0)
    return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial,
                file=sys.stderr, disable=not show_progress(progress), **kwargs)
