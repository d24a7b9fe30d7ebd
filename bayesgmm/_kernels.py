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

import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .covariance import log_det_cholesky, precisions_from_cholesky

BLOCK_ROWS = 8192  # rows per numba block (fixed: the reduction order never changes)
CHUNK_ROWS = 32768  # rows per numpy chunk
_LOG_2PI = math.log(2.0 * math.pi)

_numba_kernel: Any = None
_numba_checked = False


def full_quad(covariance_type: str) -> bool:
    """Whether the features carry all products x_p x_q (full/tied) or squares only."""
    return covariance_type in ("full", "tied")


def n_features_phi(d: int, covariance_type: str) -> int:
    return 1 + d + (d * (d + 1) // 2 if full_quad(covariance_type) else d)


@functools.lru_cache(maxsize=64)
def _triu(d: int):
    """Upper-triangle indices (read-only, cached: EM asks for them twice a pass)."""
    iu, ju = np.triu_indices(d)
    iu.setflags(write=False)
    ju.setflags(write=False)
    return iu, ju


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


def _build_numba_kernel():
    import numba

    from . import _numba

    return _numba.stats_blocks, numba, _numba.lloyd_stats


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
