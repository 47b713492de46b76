"""Memory needed by a grid's operator and solves, estimated before anything is allocated.

A 1e9-cell grid used to be allocated blindly until the machine swapped or the process was
killed.  :func:`check_memory` compares a per-cell estimate with the memory available now and
fails fast with both figures.
"""

from __future__ import annotations

import os

from ..errors import GridError

__all__ = ["bytes_per_cell", "available_bytes", "check_memory"]

#: Fraction of the available memory a grid may plan to use (leaves room for the rest).
USABLE_FRACTION = 0.8


def bytes_per_cell(ndim: int) -> int:
    """Bytes per cell for building a ``ndim``-D operator and solving with it (float64).

    Model fields at cell centers (``D`` d x d, force, div D, centers, potential:
    ``d^2 + 3 d + 1`` doubles); the sparse generator with ``2 d + 1`` entries per column plus
    ``4`` per pair of axes for cross-diffusion (``2 d^2 - 2 d + 1 + 2d``), each 8 bytes of value
    and 4 of index, held twice (CSR and the CSC copy a factorization or transpose makes); ten
    work vectors of the Krylov / time-stepping solvers.  2-D: 88 + 312 + 80 = 480 bytes; the
    sparse LU of a direct solve adds its fill-in on top.
    """
    d = int(ndim)
    fields = 8 * (d * d + 3 * d + 1)
    nnz = 2 * d + 1 + 2 * d * (d - 1)
    return fields + 2 * 12 * nnz + 8 * 10


def available_bytes() -> int | None:
    """Memory available to this process now (Linux ``MemAvailable``; else physical memory via
    ``sysconf``; None when unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(grid, *, available: int | None = None) -> int:
    """Raise :class:`GridError` when ``grid``'s operator and solves would need more than
    ``USABLE_FRACTION`` of the available memory; return the estimate in bytes.

    Parameters
    ----------
    grid : CartesianGrid
    available : int, optional, keyword-only
        Bytes available (default: :func:`available_bytes`; no check when unknown).
    """
    per_cell = bytes_per_cell(grid.ndim)
    need = per_cell * grid.size
    avail = available_bytes() if available is None else int(available)
    if avail is not None and need > USABLE_FRACTION * avail:
        raise GridError(f"grid: {grid.size:.3g} cells need about {need / 1e9:.3g} GB "
                        f"({per_cell} bytes per cell for the operator and a solve), but only "
                        f"{avail / 1e9:.3g} GB of memory are available; use a coarser grid")
    return need
