"""Numba kernels of the GTH (Grassmann-Taksar-Heyman) multifrontal stationary solve.

Rates are held as ``R[i, j] = rate(i -> j)`` (off-diagonal, non-negative); diagonals are never
read.  Eliminating state ``k`` (censoring the chain on the other states) adds
``R[i, k] R[k, j] / s_k`` to every ``R[i, j]``, with the pivot ``s_k = sum_{j != k} R[k, j]``
formed as a sum of rates: no subtraction anywhere, which is what gives componentwise relative
accuracy whatever the spread of the rates and of the stationary density.

Nested dissection of the Cartesian box orders the states; every node of the dissection tree
eliminates its pivots (a separator plane, or a whole small leaf box) in a dense frontal matrix
whose other rows are the cells just outside the node's box.
"""

from __future__ import annotations

import numpy as np

from .._numba import jit_serial

__all__ = ["dissect", "node_cells", "box_boundary", "fronts", "gth_factor", "gth_back_substitute",
           "gth_eliminate"]


@jit_serial
def dissect(shape, periodic, leaf, center, lo, hi, axis, wrap, parent, split):
    """Nested dissection of the box ``[0, shape)`` (3 axes; pad with 1) in preorder.

    Node ``t`` owns box ``[lo[t], hi[t])``; a leaf (``axis[t] = -1``, at most ``leaf`` cells)
    eliminates the whole box, an inner node the plane ``split[t]`` of ``axis[t]`` (the middle,
    or for the root the coordinate of the cell ``center`` when it is not on a cut ring) and,
    when the box still spans that periodic axis (``wrap[t] = 1``), the plane ``lo`` as well;
    its children are the two boxes left.  Returns the number of nodes.
    """
    depth = 2 * int(shape.sum()) + 8
    s_lo, s_hi = np.zeros((depth, 3), np.int64), np.zeros((depth, 3), np.int64)
    s_span, s_parent = np.zeros((depth, 3), np.int64), np.full(depth, -1, np.int64)
    s_hi[0], s_span[0] = shape, periodic
    top, count = 1, 0
    while top > 0:
        top -= 1
        t = count
        count += 1
        lo[t], hi[t], parent[t] = s_lo[top], s_hi[top], s_parent[top]
        span = s_span[top].copy()
        ext = hi[t] - lo[t]
        a = int(np.argmax(ext))
        if np.prod(ext) <= leaf or ext[a] < 3:
            axis[t], wrap[t] = -1, 0
            continue
        axis[t], wrap[t], mid = a, span[a], (lo[t, a] + hi[t, a]) // 2
        if t == 0 and center[a] > lo[t, a] - 1 + wrap[t]:
            mid = center[a]         # the root plane through the (estimated) mode
        split[t] = mid
        span[a] = 0
        for c_lo, c_hi in ((lo[t, a] + wrap[t], mid), (mid + 1, hi[t, a])):
            if c_hi > c_lo:
                s_lo[top], s_hi[top], s_span[top], s_parent[top] = lo[t], hi[t], span, t
                s_lo[top, a], s_hi[top, a] = c_lo, c_hi
                top += 1
    return count


@jit_serial
def node_cells(shape, lo, hi, axis, wrap, split, out):
    """Flat (C-order) indices of the cells one node eliminates; returns how many."""
    k = 0
    for i0 in range(lo[0], hi[0]):
        for i1 in range(lo[1], hi[1]):
            for i2 in range(lo[2], hi[2]):
                if axis >= 0:
                    c = (i0, i1, i2)[axis]
                    if c != split and not (wrap and c == lo[axis]):
                        continue
                out[k] = (i0 * shape[1] + i1) * shape[2] + i2
                k += 1
    return k


@jit_serial
def box_boundary(shape, lo, hi, indptr, indices, mark, tag, out):
    """Cells outside the box ``[lo, hi)`` adjacent (in the pattern ``indptr, indices``) to a
    cell of the box; ``mark`` (>= 0 entries never equal to ``tag``) dedupes.  Returns the count.
    """
    k = 0
    for i0 in range(lo[0], hi[0]):
        for i1 in range(lo[1], hi[1]):
            for i2 in range(lo[2], hi[2]):
                x = (i0 * shape[1] + i1) * shape[2] + i2
                mark[x] = tag
                for e in range(indptr[x], indptr[x + 1]):
                    y = indices[e]
                    if mark[y] != tag:
                        mark[y] = tag
                        out[k] = y
                        k += 1
    # Cells of the box marked after their first sighting as a neighbour are removed below.
    m = 0
    for j in range(k):
        y = out[j]
        c2 = y % shape[2]
        c1 = (y // shape[2]) % shape[1]
        c0 = y // (shape[1] * shape[2])
        if not (lo[0] <= c0 < hi[0] and lo[1] <= c1 < hi[1] and lo[2] <= c2 < hi[2]):
            out[m] = y
            m += 1
    return m


#: Pivots eliminated per panel of the blocked elimination; fronts smaller than BLOCKED_FRONT
#: are eliminated one pivot at a time.
PANEL = 48
BLOCKED_FRONT = 160


@jit_serial
def gth_eliminate(F, m, s):
    """Eliminate the first ``m`` states of the dense rate block ``F`` (``F[i, j]`` = rate
    ``i -> j``) in place; ``s[k]`` receives the pivot, the total rate out of ``k`` to the states
    not yet eliminated.  Diagonal entries receive garbage and are never read.

    Large fronts go by panels of ``PANEL`` pivots: inside a panel the pivot rows are updated in
    full and the rows below only in the panel's columns; the rest of the trailing block then
    receives all the panel's updates at once as one matrix product (BLAS).  The sums are the
    same non-negative terms as one pivot at a time, grouped differently.
    """
    f = F.shape[0]
    step = PANEL if f >= BLOCKED_FRONT else m
    for k0 in range(0, m, step):
        k1 = min(m, k0 + step)
        last = k1 if f >= BLOCKED_FRONT else f
        for k in range(k0, k1):
            total = 0.0
            for j in range(k + 1, f):
                total += F[k, j]
            s[k] = total
            if total > 0.0:
                _rank_one(F, k, total, k1, f)
                _rank_one_columns(F, k, total, k1, last)
        if last < f:
            M = np.empty((f - k1, k1 - k0))
            for i in range(k1, f):
                for c in range(k0, k1):
                    M[i - k1, c - k0] = F[i, c] / s[c] if s[c] > 0.0 else 0.0
            F[k1:, k1:] += np.dot(M, np.ascontiguousarray(F[k0:k1, k1:]))


@jit_serial
def _rank_one(F, k, total, k1, f):
    """Full-row update of the panel rows ``k < i < k1`` by pivot ``k``."""
    for i in range(k + 1, k1):
        a = F[i, k] / total
        if a != 0.0:
            for j in range(k + 1, f):
                F[i, j] += a * F[k, j]


@jit_serial
def _rank_one_columns(F, k, total, k1, last):
    """Update of the rows ``i >= k1`` by pivot ``k``, in columns ``k < j < last`` only."""
    for i in range(k1, F.shape[0]):
        a = F[i, k] / total
        if a != 0.0:
            for j in range(k + 1, last):
                F[i, j] += a * F[k, j]


@jit_serial
def _assemble(front, m, where, out_ptr, out_idx, out_rate, in_ptr, in_idx, in_rate, F):
    """Original rates of the node's pivots (rows and columns ``< m`` of the front)."""
    for i in range(m):
        x = front[i]
        for e in range(out_ptr[x], out_ptr[x + 1]):
            j = where[out_idx[e]]
            if j >= 0 and j != i:
                F[i, j] += out_rate[e]
        for e in range(in_ptr[x], in_ptr[x + 1]):
            j = where[in_idx[e]]
            if j >= m:
                F[j, i] += in_rate[e]


@jit_serial
def gth_factor(front_ptr, front_idx, npiv, child_ptr, child_idx, out_ptr, out_idx, out_rate,
               in_ptr, in_idx, in_rate, L_ptr, L, C_ptr, C, s, where):
    """Multifrontal GTH elimination of every node (nodes in elimination order, children first).

    Node ``k``'s front is ``front_idx[front_ptr[k]:front_ptr[k + 1]]`` (its ``npiv[k]`` pivots
    first).  Stores the pivot columns ``F[:, :m]`` in ``L`` and the update block
    ``F[m:, m:]`` in ``C``; ``s`` receives the pivots in elimination order.  Returns the number
    of zero pivots (states with no way out: a reducible generator) before the last state.
    """
    zero, done = 0, 0
    for k in range(npiv.size):
        front = front_idx[front_ptr[k]:front_ptr[k + 1]]
        f, m = front.size, npiv[k]
        for j in range(f):
            where[front[j]] = j
        F = np.zeros((f, f))
        _assemble(front, m, where, out_ptr, out_idx, out_rate, in_ptr, in_idx, in_rate, F)
        for c in child_idx[child_ptr[k]:child_ptr[k + 1]]:
            cf = front_idx[front_ptr[c] + npiv[c]:front_ptr[c + 1]]
            block = C[C_ptr[c]:C_ptr[c + 1]].reshape(cf.size, cf.size)
            for a in range(cf.size):
                for b in range(cf.size):
                    F[where[cf[a]], where[cf[b]]] += block[a, b]
        gth_eliminate(F, m, s[done:done + m])
        L[L_ptr[k]:L_ptr[k + 1]] = F[:, :m].copy().ravel()
        C[C_ptr[k]:C_ptr[k + 1]] = F[m:, m:].copy().ravel()
        for j in range(f):
            where[front[j]] = -1
        zero += np.sum(s[done:done + m] <= 0.0)
        done += m
    return zero


@jit_serial
def gth_back_substitute(front_ptr, front_idx, npiv, L_ptr, L, s, logp):
    """``log p`` of every state from the factors, parents first: ``p_k = sum_{j eliminated
    after k} p_j R[j, k] / s_k``, summed with a running maximum so that densities spanning more
    than the floating-point range keep their relative accuracy.  The last state has ``p = 1``."""
    done = s.size
    for k in range(npiv.size - 1, -1, -1):
        front = front_idx[front_ptr[k]:front_ptr[k + 1]]
        f, m = front.size, npiv[k]
        done -= m
        Lk = L[L_ptr[k]:L_ptr[k + 1]].reshape(f, m)
        lp = np.empty(f)
        for j in range(m, f):
            lp[j] = logp[front[j]]
        for i in range(m - 1, -1, -1):
            top = -np.inf
            for j in range(i + 1, f):
                if Lk[j, i] > 0.0 and lp[j] > top:
                    top = lp[j]
            total = 0.0
            for j in range(i + 1, f):
                if Lk[j, i] > 0.0:
                    total += np.exp(lp[j] - top) * Lk[j, i]
            if k == npiv.size - 1 and i == m - 1:
                lp[i] = 0.0
            elif top == -np.inf:
                lp[i] = -np.inf             # unreachable from the later states: transient
            else:
                lp[i] = top + np.log(total) - np.log(s[done + i])
        for i in range(m):
            logp[front[i]] = lp[i]


@jit_serial
def fronts(shape, lo, hi, axis, wrap, split, indptr, indices, fill, front_ptr, front_idx,
           npiv):
    """Front of every node in elimination order ``e = T - 1 - t`` (children before parents):
    its pivot cells, then the cells just outside its box.  With ``fill`` false only
    ``front_ptr`` and ``npiv`` are written (a counting pass).  Returns the total length."""
    T, n = npiv.size, indptr.size - 1
    mark = np.full(n, -1, np.int64)
    buf = np.empty(n, np.int64)
    pos = 0
    front_ptr[0] = 0
    for e in range(T):
        t = T - 1 - e
        m = node_cells(shape, lo[t], hi[t], axis[t], wrap[t], split[t], buf)
        if fill:
            front_idx[pos:pos + m] = buf[:m]
        u = box_boundary(shape, lo[t], hi[t], indptr, indices, mark, e, buf)
        if fill:
            front_idx[pos + m:pos + m + u] = buf[:u]
        npiv[e] = m
        pos += m + u
        front_ptr[e + 1] = pos
    return pos
