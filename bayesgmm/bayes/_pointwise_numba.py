"""The compiled per-draw log-likelihood: ``log p(x_i | draw)`` for many draws at once.

One sweep over the rows in tiles (feature-major, as :func:`bayesgmm._numba.stats_blocks`):
the features of a tile are formed once and every draw's log-densities and log-sum-exp
are taken from them, so no n x K array is formed and the data are read once per call.
Module-level ``cache=True``, so the next process loads the machine code from numba's
on-disk cache.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._numba import TILE_ROWS, exp_nonpositive


@njit(cache=True, nogil=True, fastmath={"contract"})
def loglik_rows(X, shift, Ws, fullq, out, totals, d0, d1):  # pragma: no cover - compiled
    """Draws ``d0 .. d1-1`` of ``Ws`` (D, F, K): ``totals[j] = sum_i log p(x_i | W_j)`` and,
    when ``out`` has D rows, ``out[j, i] = log p(x_i | W_j)``.

    Each draw's total is summed tile by tile in row order, so it depends neither on how
    the draws are split between calls nor on the thread that runs them.
    """
    n, d = X.shape
    F, K = Ws.shape[1], Ws.shape[2]
    store = out.shape[0] > 0
    phi = np.empty((F, TILE_ROWS))
    L = np.empty((K, TILE_ROWS))
    mx = np.empty(TILE_ROWS)
    tot = np.empty(TILE_ROWS)
    for j in range(d0, d1):
        totals[j] = 0.0
    for t0 in range(0, n, TILE_ROWS):
        m = min(TILE_ROWS, n - t0)
        # the feature tile of bayesgmm._numba.stats_blocks, repeated so each kernel is one self-contained loop nest
        for i in range(TILE_ROWS):
            phi[0, i] = 1.0
        for f in range(d):
            s = shift[f]
            for i in range(m):
                phi[1 + f, i] = X[t0 + i, f] - s
            for i in range(m, TILE_ROWS):
                phi[1 + f, i] = 0.0
        c = 1 + d
        if fullq:
            for p in range(d):
                for q in range(p, d):
                    for i in range(TILE_ROWS):
                        phi[c, i] = phi[1 + p, i] * phi[1 + q, i]
                    c += 1
        else:
            for f in range(d):
                for i in range(TILE_ROWS):
                    phi[c + f, i] = phi[1 + f, i] * phi[1 + f, i]
        for j in range(d0, d1):
            for k in range(K):
                w0 = Ws[j, 0, k]
                for i in range(TILE_ROWS):
                    L[k, i] = w0
                for f in range(1, F):
                    w = Ws[j, f, k]
                    for i in range(TILE_ROWS):
                        L[k, i] += w * phi[f, i]
            for i in range(TILE_ROWS):
                mx[i] = L[0, i]
            for k in range(1, K):
                for i in range(TILE_ROWS):
                    mx[i] = max(mx[i], L[k, i])
            tot[:] = 0.0
            for k in range(K):
                for i in range(TILE_ROWS):
                    tot[i] += exp_nonpositive(L[k, i] - mx[i])
            s = 0.0
            for i in range(m):
                v = mx[i] + math.log(tot[i])
                s += v
                if store:
                    out[j, t0 + i] = v
            totals[j] += s
