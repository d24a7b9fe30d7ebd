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

Two backends compute the same thing: a numba kernel (parallel over fixed row blocks,
so results do not depend on the thread count) and a chunked numpy one. The textbook
E-/M-step in :mod:`bayesgmm.em` remains the reference both are tested against.
"""

from __future__ import annotations

import math
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


def _build_numba_kernel():
    import numba
    from numba import njit, prange

    @njit(parallel=True, cache=True, nogil=True)
    def stats(X, shift, WT, fullq, block):  # pragma: no cover - compiled
        n, d = X.shape
        K, F = WT.shape
        nb = (n + block - 1) // block
        acc = np.zeros((nb, K, F))
        lls = np.zeros(nb)
        for b in prange(nb):
            phi = np.empty(F)
            lp = np.empty(K)
            a = acc[b]
            s = 0.0
            lo = b * block
            hi = min(n, lo + block)
            for i in range(lo, hi):
                phi[0] = 1.0
                for j in range(d):
                    phi[1 + j] = X[i, j] - shift[j]
                if fullq:
                    m = 1 + d
                    for p in range(d):
                        xp = phi[1 + p]
                        for q in range(p, d):
                            phi[m] = xp * phi[1 + q]
                            m += 1
                else:
                    for j in range(d):
                        phi[1 + d + j] = phi[1 + j] * phi[1 + j]
                mx = -np.inf
                for k in range(K):
                    v = 0.0
                    for f in range(F):
                        v += WT[k, f] * phi[f]
                    lp[k] = v
                    if v > mx:
                        mx = v
                tot = 0.0
                for k in range(K):
                    e = math.exp(lp[k] - mx)
                    lp[k] = e
                    tot += e
                s += mx + math.log(tot)
                inv = 1.0 / tot
                for k in range(K):
                    g = lp[k] * inv
                    for f in range(F):
                        a[k, f] += g * phi[f]
            lls[b] = s
        return lls, acc

    return stats, numba


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
        Numba threads for this call (1 inside parallel MCMC chains).
    """
    backend = resolve_backend(backend)
    if backend == "numpy":
        return _stats_numpy(X, shift, W, covariance_type)
    kernel, numba = _numba_kernel
    WT = np.ascontiguousarray(W.T)
    if threads is not None:
        old = numba.get_num_threads()
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
        try:
            lls, acc = kernel(X, shift, WT, full_quad(covariance_type), BLOCK_ROWS)
        finally:
            numba.set_num_threads(old)
    else:
        lls, acc = kernel(X, shift, WT, full_quad(covariance_type), BLOCK_ROWS)
    return float(lls.sum()), acc.sum(axis=0).T


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
