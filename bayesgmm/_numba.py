"""The compiled half of :mod:`bayesgmm._kernels` (imported only when numba is installed).

Module-level functions, so that numba's on-disk cache (``cache=True``) finds them again in
the next process: a kernel built inside a function closes over objects that differ from
one process to the next and is recompiled every time (~13 s).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

TILE_ROWS = 256  # rows per vectorised tile inside a block (divides _kernels.BLOCK_ROWS)
N_LANES = 8  # fixed accumulation lanes for the sums of log-sum-exp terms

# exp(x) for x <= 0 written out (Cody-Waite range reduction, degree-13 Taylor polynomial,
# 2^n from the exponent bits) so that the compiler can vectorise it: within 1 ulp of the
# C library's exp on the normal range, and 0 where exp(x) would be subnormal (< 2^-1022).
LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01  # high bits of log 2: t * LN2_HI is exact
LN2_LO = 1.90821492927058770002e-10
EXP_XMIN = -708.3964185322641  # log(2^-1022)


@intrinsic
def bits_to_float(typingctx, x):  # pragma: no cover - compiled
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@njit(inline="always", fastmath={"contract"})
def exp_nonpositive(x):  # pragma: no cover - compiled
    y = max(x, EXP_XMIN)
    t = math.floor(y * LOG2E + 0.5)
    r = (y - t * LN2_HI) - t * LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    scale = bits_to_float((np.int64(t) + 1023) << 52)
    return p * scale if x >= EXP_XMIN else 0.0


@njit(nogil=True, fastmath={"reassoc", "contract"})
def dot(a, b):  # pragma: no cover - compiled
    """sum_i a_i b_i over one tile, vectorised (the compiler may reorder this sum: its
    order is fixed once compiled, the same for every call and every thread)."""
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


@njit(cache=True, nogil=True, fastmath={"contract"})
def stats_blocks(X, shift, W, fullq, sw, block, b0, b1, lls, acc):  # pragma: no cover - compiled
    """Blocks b0..b1-1 of rows: lls[b] = sum log p(x_i), acc[b] = (K, F) sums gamma phi.

    ``sw`` holds one weight per row, or is empty for unit weights: row i then counts
    sw[i] times in every sum (the log-likelihood and the responsibility-weighted sums).

    Rows go through in tiles of TILE_ROWS, feature-major, so every inner loop runs over
    rows and vectorises. Sums over rows are per tile (a vectorised dot product, or
    N_LANES fixed lanes), then tiles in order, then blocks in order: the order of every
    addition is fixed by the block layout and the compiled code, never by the thread
    count. (Machines with other vector widths may differ in the last bits.)
    """
    n, d = X.shape
    F, K = W.shape
    phi = np.empty((F, TILE_ROWS))
    L = np.empty((K, TILE_ROWS))
    mx = np.empty(TILE_ROWS)
    tot = np.empty(TILE_ROWS)
    block_S = np.empty((K, F))
    mx_lane = np.empty(N_LANES)
    prod = np.empty(N_LANES)
    weighted = sw.shape[0] > 0
    for b in range(b0, b1):
        lo = b * block
        hi = min(n, lo + block)
        block_S[:] = 0.0
        mx_lane[:] = 0.0
        log_sum = 0.0
        for t0 in range(lo, hi, TILE_ROWS):
            m = min(TILE_ROWS, hi - t0)
            # phi(x) = [1, x', products], one row of phi per feature
            for i in range(TILE_ROWS):
                phi[0, i] = 1.0
            for j in range(d):
                s = shift[j]
                for i in range(m):
                    phi[1 + j, i] = X[t0 + i, j] - s
                for i in range(m, TILE_ROWS):
                    phi[1 + j, i] = 0.0
            c = 1 + d
            if fullq:
                for p in range(d):
                    for q in range(p, d):
                        for i in range(TILE_ROWS):
                            phi[c, i] = phi[1 + p, i] * phi[1 + q, i]
                        c += 1
            else:
                for j in range(d):
                    for i in range(TILE_ROWS):
                        phi[c + j, i] = phi[1 + j, i] * phi[1 + j, i]
            # log pi_k + log N(x_i | k) = phi_i . W[:, k]
            for k in range(K):
                w0 = W[0, k]
                for i in range(TILE_ROWS):
                    L[k, i] = w0
                f = 1
                while f + 4 <= F:  # four features per sweep: a quarter of the stores
                    wa, wb, wc, wd = W[f, k], W[f + 1, k], W[f + 2, k], W[f + 3, k]
                    pa, pb, pc, pd = phi[f], phi[f + 1], phi[f + 2], phi[f + 3]
                    for i in range(TILE_ROWS):
                        L[k, i] = (((L[k, i] + wa * pa[i]) + wb * pb[i]) + wc * pc[i]) + wd * pd[i]
                    f += 4
                while f < F:
                    w = W[f, k]
                    for i in range(TILE_ROWS):
                        L[k, i] += w * phi[f, i]
                    f += 1
            # log-sum-exp over components
            for i in range(TILE_ROWS):
                mx[i] = L[0, i]
            for k in range(1, K):
                for i in range(TILE_ROWS):
                    mx[i] = max(mx[i], L[k, i])
            tot[:] = 0.0
            for k in range(K):
                for i in range(TILE_ROWS):
                    e = exp_nonpositive(L[k, i] - mx[i])
                    L[k, i] = e
                    tot[i] += e
            for i in range(m, TILE_ROWS):  # padding rows add nothing
                mx[i] = 0.0
                tot[i] = 1.0
            # sum_i log p(x_i) = sum_i mx_i + log prod_i tot_i (1 <= tot_i <= K, so a
            # product of TILE_ROWS / N_LANES of them cannot overflow for K < 2^31)
            if weighted:  # sum_i w_i (mx_i + log tot_i): no product trick
                for i in range(m):
                    wi = sw[t0 + i]
                    mx_lane[i % N_LANES] += wi * (mx[i] + math.log(tot[i]))
                    tot[i] = wi / tot[i]
            else:
                prod[:] = 1.0
                for i0 in range(0, TILE_ROWS, N_LANES):
                    for j in range(N_LANES):
                        mx_lane[j] += mx[i0 + j]
                        prod[j] *= tot[i0 + j]
                for j in range(N_LANES):
                    log_sum += math.log(prod[j])
                for i in range(m):
                    tot[i] = 1.0 / tot[i]
            # responsibilities gamma_ik (times the row weight), then S[k] += sum_i gamma_ik phi_i
            for i in range(m, TILE_ROWS):
                tot[i] = 0.0
            for k in range(K):
                for i in range(TILE_ROWS):
                    L[k, i] *= tot[i]
            for k in range(K):
                for f in range(F):
                    block_S[k, f] += dot(phi[f], L[k])
        total = log_sum
        for j in range(N_LANES):
            total += mx_lane[j]
        lls[b] = total
        for k in range(K):  # a loop: numba's array assignment compiles an error message (seconds)
            for f in range(F):
                acc[b, k, f] = block_S[k, f]


@njit(cache=True, nogil=True)
def lloyd_stats(X, centers, sums, counts):  # pragma: no cover - compiled
    """Nearest centre of each row (squared distance, first on ties); adds the row to
    its centre's sum and count; returns the sum of the squared distances."""
    n, d = X.shape
    K = centers.shape[0]
    inertia = 0.0
    for i in range(n):
        best = np.inf
        arg = 0
        for k in range(K):
            v = 0.0
            for j in range(d):
                t = X[i, j] - centers[k, j]
                v += t * t
            if v < best:
                best = v
                arg = k
        counts[arg] += 1.0
        for j in range(d):
            sums[arg, j] += X[i, j]
        inertia += best
    return inertia
