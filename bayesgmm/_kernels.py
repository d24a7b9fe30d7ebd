"""The fused pass over the data: log-densities, log-sum-exp, responsibilities and
sufficient statistics in one sweep, with no n x K array alive beyond a chunk.

Every covariance type is a linear function of a per-sample feature vector

    phi(x) = [1, x', x'_p x'_q (p <= q)]   (full, tied)    F = 1 + d + d(d+1)/2
    phi(x) = [1, x', x'^2]                 (diag, spherical) F = 1 + 2d

with x' = x - shift (a fixed centre, for numerical accuracy), so that

    log pi_k + log N(x | mu_k, Sigma_k) = phi(x) . W[:, k]

for an (F, K) matrix W of "natural" parameters built from the current parameters. One
pass returns sum_i log sum_k exp(phi_i . W_k) and S[:, k] = sum_i gamma_ik phi_i, which
hold N_k, sum gamma x and sum gamma x x^T: everything the M-step needs, and (through
Fisher's identity) everything the gradient of the log-likelihood needs for MCMC.

Two backends compute the same thing: a numba kernel (tiles of rows, feature-major, so the
loops vectorise; parallel over fixed row blocks on plain threads, so results do not depend
on the thread count) and a chunked numpy one. The textbook
E-/M-step in :mod:`bayesgmm.em` remains the reference both are tested against.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .covariance import log_det_cholesky, precisions_from_cholesky

BLOCK_ROWS = 8192  # rows per numba block (fixed: the reduction order never changes)
TILE_ROWS = 256  # rows per vectorised tile inside a block (divides BLOCK_ROWS)
N_LANES = 8  # fixed accumulation lanes for sums over rows
CHUNK_ROWS = 32768  # rows per numpy chunk
_LOG_2PI = math.log(2.0 * math.pi)

_numba_kernel: Any = None
_numba_checked = False


def full_quad(covariance_type: str) -> bool:
    """Whether the features carry all products x_p x_q (full/tied) or squares only."""
    return covariance_type in ("full", "tied")


def n_features_phi(d: int, covariance_type: str) -> int:
    return 1 + d + (d * (d + 1) // 2 if full_quad(covariance_type) else d)


def _triu(d: int):
    return np.triu_indices(d)


def features(X: np.ndarray, shift: np.ndarray, covariance_type: str) -> np.ndarray:
    """phi(x) for a chunk of rows: array of shape (n, F)."""
    xs = X - shift
    n, d = xs.shape
    if full_quad(covariance_type):
        iu, ju = _triu(d)
        quad = xs[:, iu] * xs[:, ju]
    else:
        quad = xs * xs
    return np.concatenate([np.ones((n, 1)), xs, quad], axis=1)


def natural_parameters(
    weights: np.ndarray,
    means: np.ndarray,
    prec_chol: np.ndarray,
    covariance_type: str,
    shift: np.ndarray,
) -> np.ndarray:
    """W of shape (F, K) with phi(x) . W[:, k] = log pi_k + log N(x | mu_k, Sigma_k)."""
    k, d = means.shape
    m = means - shift
    with np.errstate(divide="ignore"):
        logw = np.log(weights)
    logdet = np.broadcast_to(log_det_cholesky(prec_chol, covariance_type, d), (k,))
    P = precisions_from_cholesky(prec_chol, covariance_type)
    if full_quad(covariance_type):
        P = np.broadcast_to(P, (k, d, d))
        Pm = np.einsum("kij,kj->ki", P, m)
        iu, ju = _triu(d)
        quad = -np.where(iu == ju, 0.5, 1.0)[None, :] * P[:, iu, ju]
    else:
        P = np.broadcast_to(P.reshape(k, -1), (k, d))
        Pm = P * m
        quad = -0.5 * P
    const = logw + logdet - 0.5 * d * _LOG_2PI - 0.5 * np.sum(Pm * m, axis=1)
    return np.ascontiguousarray(np.concatenate([const[:, None], Pm, quad], axis=1).T)


def moments(S: np.ndarray, d: int, covariance_type: str):
    """Split S (F, K) into N (K,), S1 (K, d) and S2 ((K, d, d) or (K, d)), shifted."""
    N = S[0].copy()
    S1 = S[1 : 1 + d].T.copy()
    rest = S[1 + d :].T
    if full_quad(covariance_type):
        iu, ju = _triu(d)
        S2 = np.zeros((S.shape[1], d, d))
        S2[:, iu, ju] = rest
        S2[:, ju, iu] = rest
    else:
        S2 = rest.copy()
    return N, S1, S2


def _stats_numpy(X, shift, W, covariance_type):
    n = X.shape[0]
    S = np.zeros(W.shape)
    ll = 0.0
    for lo in range(0, n, CHUNK_ROWS):
        phi = features(X[lo : lo + CHUNK_ROWS], shift, covariance_type)
        L = phi @ W
        mx = L.max(axis=1, keepdims=True)
        np.subtract(L, mx, out=L)
        np.exp(L, out=L)
        tot = L.sum(axis=1, keepdims=True)
        ll += float(np.sum(mx[:, 0] + np.log(tot[:, 0])))
        L /= tot
        S += phi.T @ L
    return ll, S


# --------------------------------------------------------------------------- numba kernel
# exp(x) for x <= 0 written out (Cody-Waite range reduction, degree-13 Taylor polynomial,
# 2^n from the exponent bits) so that the compiler can vectorise it: within 1 ulp of the
# C library's exp on the normal range, and 0 where exp(x) would be subnormal (< 2^-1022).
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # high bits of log 2: t * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_EXP_XMIN = -708.3964185322641  # log(2^-1022)


def _build_numba_kernel():
    import numba
    from numba import njit, types
    from numba.extending import intrinsic

    LOG2E, LN2_HI, LN2_LO, XMIN = _LOG2E, _LN2_HI, _LN2_LO, _EXP_XMIN
    TILE, LANES = TILE_ROWS, N_LANES

    @intrinsic
    def bits_to_float(typingctx, x):  # pragma: no cover - compiled
        sig = types.float64(types.int64)

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(types.float64))

        return sig, codegen

    @njit(inline="always", fastmath={"contract"})
    def exp_nonpositive(x):  # pragma: no cover - compiled
        y = max(x, XMIN)
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
        return p * scale if x >= XMIN else 0.0

    @njit(nogil=True, fastmath={"reassoc", "contract"})
    def dot(a, b):  # pragma: no cover - compiled
        """sum_i a_i b_i over one tile, vectorised (the compiler may reorder this sum: its
        order is fixed once compiled, the same for every call and every thread)."""
        s = 0.0
        for i in range(a.shape[0]):
            s += a[i] * b[i]
        return s

    @njit(cache=True, nogil=True, fastmath={"contract"})
    def stats_blocks(X, shift, W, fullq, block, b0, b1, lls, acc):  # pragma: no cover - compiled
        """Blocks b0..b1-1 of rows: lls[b] = sum log p(x_i), acc[b] = (K, F) sums gamma phi.

        Rows go through in tiles of TILE, feature-major, so every inner loop runs over
        rows and vectorises. Sums over rows are per tile (a vectorised dot product, or
        LANES fixed lanes), then tiles in order, then blocks in order: the order of every
        addition is fixed by the block layout and the compiled code, never by the thread
        count. (Machines with other vector widths may differ in the last bits.)
        """
        n, d = X.shape
        F, K = W.shape
        phi = np.empty((F, TILE))
        L = np.empty((K, TILE))
        mx = np.empty(TILE)
        tot = np.empty(TILE)
        block_S = np.empty((K, F))
        mx_lane = np.empty(LANES)
        prod = np.empty(LANES)
        for b in range(b0, b1):
            lo = b * block
            hi = min(n, lo + block)
            block_S[:] = 0.0
            mx_lane[:] = 0.0
            log_sum = 0.0
            for t0 in range(lo, hi, TILE):
                m = min(TILE, hi - t0)
                # phi(x) = [1, x', products], one row of phi per feature
                for i in range(TILE):
                    phi[0, i] = 1.0
                for j in range(d):
                    s = shift[j]
                    for i in range(m):
                        phi[1 + j, i] = X[t0 + i, j] - s
                    for i in range(m, TILE):
                        phi[1 + j, i] = 0.0
                c = 1 + d
                if fullq:
                    for p in range(d):
                        for q in range(p, d):
                            for i in range(TILE):
                                phi[c, i] = phi[1 + p, i] * phi[1 + q, i]
                            c += 1
                else:
                    for j in range(d):
                        for i in range(TILE):
                            phi[c + j, i] = phi[1 + j, i] * phi[1 + j, i]
                # log pi_k + log N(x_i | k) = phi_i . W[:, k]
                for k in range(K):
                    w0 = W[0, k]
                    for i in range(TILE):
                        L[k, i] = w0
                    f = 1
                    while f + 4 <= F:  # four features per sweep: a quarter of the stores
                        wa, wb, wc, wd = W[f, k], W[f + 1, k], W[f + 2, k], W[f + 3, k]
                        pa, pb, pc, pd = phi[f], phi[f + 1], phi[f + 2], phi[f + 3]
                        for i in range(TILE):
                            L[k, i] = (((L[k, i] + wa * pa[i]) + wb * pb[i]) + wc * pc[i]) + wd * pd[i]
                        f += 4
                    while f < F:
                        w = W[f, k]
                        for i in range(TILE):
                            L[k, i] += w * phi[f, i]
                        f += 1
                # log-sum-exp over components
                for i in range(TILE):
                    mx[i] = L[0, i]
                for k in range(1, K):
                    for i in range(TILE):
                        mx[i] = max(mx[i], L[k, i])
                tot[:] = 0.0
                for k in range(K):
                    for i in range(TILE):
                        e = exp_nonpositive(L[k, i] - mx[i])
                        L[k, i] = e
                        tot[i] += e
                for i in range(m, TILE):  # padding rows add nothing
                    mx[i] = 0.0
                    tot[i] = 1.0
                # sum_i log p(x_i) = sum_i mx_i + log prod_i tot_i (1 <= tot_i <= K, so a
                # product of TILE / LANES of them cannot overflow for K < 2^31)
                prod[:] = 1.0
                for i0 in range(0, TILE, LANES):
                    for j in range(LANES):
                        mx_lane[j] += mx[i0 + j]
                        prod[j] *= tot[i0 + j]
                for j in range(LANES):
                    log_sum += math.log(prod[j])
                # responsibilities gamma_ik, then S[k] += sum_i gamma_ik phi_i
                for i in range(m):
                    tot[i] = 1.0 / tot[i]
                for i in range(m, TILE):
                    tot[i] = 0.0
                for k in range(K):
                    for i in range(TILE):
                        L[k, i] *= tot[i]
                for k in range(K):
                    for f in range(F):
                        block_S[k, f] += dot(phi[f], L[k])
            total = log_sum
            for j in range(LANES):
                total += mx_lane[j]
            lls[b] = total
            acc[b] = block_S

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

    return stats_blocks, numba, lloyd_stats


def numba_available() -> bool:
    global _numba_kernel, _numba_checked
    if not _numba_checked:
        _numba_checked = True
        try:
            _numba_kernel = _build_numba_kernel()
        except ImportError:
            _numba_kernel = None
    return _numba_kernel is not None


def resolve_backend(backend: str) -> str:
    if backend == "auto":
        return "numba" if numba_available() else "numpy"
    if backend == "numba" and not numba_available():
        raise ImportError("backend='numba' needs numba: pip install 'bayesgmm[fast]'.")
    return backend


# --------------------------------------------------------------------------- threads
def default_threads() -> int:
    """Threads a pass uses by default: ``BAYESGMM_NUM_THREADS`` if set, else the CPUs this
    process may run on."""
    env = os.environ.get("BAYESGMM_NUM_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"BAYESGMM_NUM_THREADS must be a positive int. Got {env!r} instead.") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}
_pool_lock = threading.Lock()


def _thread_pool(n: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``n`` sleeping worker threads (new ones after a fork).

    Plain Python threads running the compiled kernel with the GIL released: unlike an
    OpenMP team they do not spin between passes, so they do not starve the main thread or
    BLAS's threads on a busy machine. Pools are kept per size and never shut down, so
    concurrent callers asking for different thread counts cannot pull one from under
    another.
    """
    key = (os.getpid(), n)
    with _pool_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="bayesgmm")
        return pool


def _stats_numba(X, shift, W, fullq, threads):
    kernel = _numba_kernel[0]
    n = X.shape[0]
    F, K = W.shape
    nb = max(1, (n + BLOCK_ROWS - 1) // BLOCK_ROWS)
    lls = np.zeros(nb)
    acc = np.zeros((nb, K, F))
    nt = min(default_threads() if threads is None else max(1, int(threads)), nb)
    if nt == 1:
        kernel(X, shift, W, fullq, BLOCK_ROWS, 0, nb, lls, acc)
    else:
        edges = [nb * t // nt for t in range(nt + 1)]
        pool = _thread_pool(nt)
        futures = [
            pool.submit(kernel, X, shift, W, fullq, BLOCK_ROWS, edges[t], edges[t + 1], lls, acc)
            for t in range(nt)
        ]
        for fut in futures:
            fut.result()
    # per-block partial sums, added in block order: the same result for any thread count
    return float(lls.sum()), acc.sum(axis=0).T


def sufficient_statistics(
    X: np.ndarray,
    W: np.ndarray,
    shift: np.ndarray,
    covariance_type: str,
    *,
    backend: str = "auto",
    threads: int | None = None,
) -> tuple[float, np.ndarray]:
    """One fused pass: (sum_i log p(x_i), S) with S[:, k] = sum_i gamma_ik phi(x_i).

    Parameters
    ----------
    X : array of shape (n_samples, n_features), float64, C-contiguous
    W : array of shape (F, n_components), from :func:`natural_parameters`
    shift : array of shape (n_features,)
    threads : int, optional
        Threads for this call (default: every CPU the process may use). ``threads=1``
        runs in the calling thread (safe in forked processes and inside Dask tasks). The
        result does not depend on it: partial sums are kept per block of
        ``BLOCK_ROWS`` rows and added in block order.
    """
    backend = resolve_backend(backend)
    if backend == "numpy":
        return _stats_numpy(X, shift, W, covariance_type)
    X = np.ascontiguousarray(X, dtype=np.float64)
    W = np.ascontiguousarray(W, dtype=np.float64)
    shift = np.ascontiguousarray(shift, dtype=np.float64)
    return _stats_numba(X, shift, W, full_quad(covariance_type), threads)


def lloyd_statistics(X: np.ndarray, centers: np.ndarray, *, backend: str = "numpy"):
    """One Lloyd pass over a chunk: (sums (K, d), counts (K,), inertia).

    Each row goes to its nearest centre by squared Euclidean distance (the first one on
    ties); both backends compute the distances as sum_j (x_j - c_j)^2.
    """
    k, d = centers.shape
    if resolve_backend(backend) == "numba":
        sums = np.zeros((k, d))
        counts = np.zeros(k)
        inertia = _numba_kernel[2](
            np.ascontiguousarray(X, dtype=np.float64), np.ascontiguousarray(centers), sums, counts
        )
        return sums, counts, float(inertia)
    labels, dist = nearest_centre(X, centers)
    counts = np.bincount(labels, minlength=k).astype(float)
    sums = np.zeros((k, d))
    np.add.at(sums, labels, X)
    return sums, counts, float(dist.sum())


def nearest_centre(X: np.ndarray, centers: np.ndarray):
    """Index of the nearest centre (first on ties) and the squared distance, per row."""
    d2 = np.empty((X.shape[0], centers.shape[0]))
    for k, c in enumerate(centers):
        d2[:, k] = np.sum(np.square(X - c), axis=1)
    labels = np.argmin(d2, axis=1)
    return labels, d2[np.arange(X.shape[0]), labels]


def log_prob_resp(X: np.ndarray, W: np.ndarray, shift: np.ndarray, covariance_type: str):
    """Per-sample log p(x_i) (n,) and log responsibilities (n, K), chunked."""
    n = X.shape[0]
    out_ll = np.empty(n)
    out_lr = np.empty((n, W.shape[1]))
    for lo in range(0, n, CHUNK_ROWS):
        hi = min(n, lo + CHUNK_ROWS)
        L = features(X[lo:hi], shift, covariance_type) @ W
        mx = L.max(axis=1, keepdims=True)
        with np.errstate(invalid="ignore"):
            lse = mx[:, 0] + np.log(np.exp(L - mx).sum(axis=1))
        out_ll[lo:hi] = lse
        out_lr[lo:hi] = L - lse[:, None]
    return out_ll, out_lr
