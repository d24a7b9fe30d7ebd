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

Rows may carry weights w_i: every sum then counts row i w_i times.

Two engines compute the same thing behind one interface (:func:`get_engine`):
:class:`NumbaEngine`, a compiled kernel (tiles of rows, feature-major, so the loops
vectorise; parallel over fixed row blocks on plain threads, so results do not depend on
the thread count), and :class:`NumpyEngine`, chunked numpy. The textbook E-/M-step in
:mod:`bayesgmm.em` remains the reference both are tested against.

This module owns the mixture arithmetic both halves of bayesgmm share: the features, the
natural parameters, the split of S into moments, the centred scatter and the chunked
log-sum-exp. EM (:mod:`bayesgmm.em`) and the PyMC Op (:mod:`bayesgmm.bayes._likelihood`)
import them from here.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from .covariance import log_det_cholesky, precisions_from_cholesky

BLOCK_ROWS = 8192  # rows per numba block (fixed: the reduction order never changes)
CHUNK_ROWS = 32768  # rows per numpy chunk
_LOG_2PI = math.log(2.0 * math.pi)


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


def scatter(N, S1, S2, m, covariance_type: str, *, shift=None, nk=None):
    """Centred scatter C_k = sum_i gamma_ik (x'_i - m_k)(x'_i - m_k)^T from the sums.

    ``C = S2 - S1 m^T - m S1^T + N m m^T`` for full/tied ((K, d, d)); its diagonal
    ``S2 - 2 m S1 + N m^2`` for diag/spherical ((K, d)). Both the M-step and the gradient of
    the log-likelihood (Fisher's identity) need it.

    The subtraction cancels where a component's spread is tiny against its distance from
    the shift (a component on identical points), and rounding can then make a variance
    negative. A diagonal entry below the size of its rounding error is recomputed the way
    scikit-learn's M-step computes it, in the data's own coordinates (given ``shift`` and
    ``nk`` = N + 10 eps): a whole matrix (full, tied) with its diagonal floored at 0, or a
    variance (diag, spherical) where exactly 0 stays 0 and rounding noise becomes the
    (positive) rounding error. Never negative: every degenerate fit scikit-learn completes
    completes here too. With ``reg_covar=0`` a diag/spherical component on duplicated points
    can come out at the rounding error where scikit-learn's own rounding gives exactly 0
    and it refuses to fit; bayesgmm then fits and says so (``DegenerateFitWarning``).
    """
    fullq = full_quad(covariance_type)
    if fullq:
        Sm = np.einsum("ki,kj->kij", S1, m)
        C = S2 - Sm - np.swapaxes(Sm, 1, 2) + N[:, None, None] * np.einsum("ki,kj->kij", m, m)
        diag = np.einsum("kii->ki", C)  # a writable view of the diagonals
        S2d = np.einsum("kii->ki", S2)
    else:
        C = S2 - 2.0 * m * S1 + N[:, None] * m * m
        diag = C
        S2d = S2
    rounding = 64.0 * np.finfo(float).eps * (np.abs(S2d) + np.abs(N)[:, None] * m * m)
    low = diag < rounding
    if not low.any():
        return C
    if shift is None or nk is None:
        diag[low] = np.maximum(diag[low], 0.0)
        return C
    mr = m + shift  # the data's own coordinates
    S1r = S1 + N[:, None] * shift
    if fullq:  # the whole matrix of each such component, as scikit-learn's centred product
        for k in np.flatnonzero(low.any(axis=1)):
            S2r = S2[k] + np.outer(S1[k], shift) + np.outer(shift, S1[k]) + N[k] * np.outer(shift, shift)
            Ck = S2r - np.outer(S1r[k], mr[k]) - np.outer(mr[k], S1r[k]) + N[k] * np.outer(mr[k], mr[k])
            np.fill_diagonal(Ck, np.maximum(np.diag(Ck), 0.0))
            C[k] = Ck
    else:  # scikit-learn's diag formula: sum gamma x^2 - N_k mu^2
        S2r = S2 + 2.0 * shift * S1 + N[:, None] * shift * shift
        raw = S2r - nk[:, None] * mr * mr
        diag[low] = _floor(raw[low], rounding[low])
    return C


def _floor(raw: np.ndarray, rounding: np.ndarray) -> np.ndarray:
    """Variances that are rounding noise: 0 stays 0 (exact arithmetic on identical points,
    where scikit-learn gets 0 as well); any other value below the rounding error becomes
    the rounding error (positive, the size of scikit-learn's noise there)."""
    return np.where(raw == 0.0, 0.0, np.maximum(raw, rounding))


def _log_joint(Xc: np.ndarray, W: np.ndarray, shift: np.ndarray, covariance_type: str):
    """For a chunk of rows: phi, L = log pi_k N(x_i | k) (n, K) and log p(x_i) (n,)."""
    phi = features(Xc, shift, covariance_type)
    L = phi @ W
    mx = L.max(axis=1)
    with np.errstate(invalid="ignore", under="ignore"):
        lse = mx + np.log(np.exp(L - mx[:, None]).sum(axis=1))
    return phi, L, lse


def labels(X: np.ndarray, W: np.ndarray, shift: np.ndarray, covariance_type: str) -> np.ndarray:
    """The most responsible component of each row (n,), chunked: no n x K array."""
    out = np.empty(X.shape[0], dtype=np.int64)
    for lo in range(0, X.shape[0], CHUNK_ROWS):
        out[lo : lo + CHUNK_ROWS] = np.argmax(
            features(X[lo : lo + CHUNK_ROWS], shift, covariance_type) @ W, axis=1
        )
    return out


def log_prob_resp(X: np.ndarray, W: np.ndarray, shift: np.ndarray, covariance_type: str):
    """Per-sample log p(x_i) (n,) and log responsibilities (n, K), chunked."""
    n = X.shape[0]
    out_ll = np.empty(n)
    out_lr = np.empty((n, W.shape[1]))
    for lo in range(0, n, CHUNK_ROWS):
        hi = min(n, lo + CHUNK_ROWS)
        _, L, lse = _log_joint(X[lo:hi], W, shift, covariance_type)
        out_ll[lo:hi] = lse
        out_lr[lo:hi] = L - lse[:, None]
    return out_ll, out_lr


# --------------------------------------------------------------------------- threads
_THREAD_LIMIT: ContextVar[int | None] = ContextVar("bayesgmm_thread_limit", default=None)


def default_threads() -> int:
    """Threads a pass uses by default: the limit of an enclosing :func:`thread_limit` (a
    task's share of the cores when tasks run side by side), else ``BAYESGMM_NUM_THREADS``
    if set, else the CPUs this process may run on."""
    limit = _THREAD_LIMIT.get()
    if limit is not None:
        return limit
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


@contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """Within the block (this thread or task only), :func:`default_threads` is ``threads``:
    the share of the cores of one of several tasks running at once, so that their passes'
    threads and the tasks together do not outnumber the cores."""
    token = _THREAD_LIMIT.set(max(1, int(threads)))
    try:
        yield
    finally:
        _THREAD_LIMIT.reset(token)


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


def _check_weights_rows(sample_weight, n):
    if sample_weight is None:
        return None
    sw = np.ascontiguousarray(sample_weight, dtype=np.float64)
    if sw.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},). Got shape {sw.shape} instead.")
    return sw


class NumpyEngine:
    """The fused pass in chunked numpy: no compiler, nothing to warm up."""

    name = "numpy"

    def sufficient_statistics(self, X, W, shift, covariance_type, *, sample_weight=None, threads=None):
        n = X.shape[0]
        sw = _check_weights_rows(sample_weight, n)
        S = np.zeros(W.shape)
        ll = 0.0
        for lo in range(0, n, CHUNK_ROWS):
            phi, L, lse = _log_joint(X[lo : lo + CHUNK_ROWS], W, shift, covariance_type)
            with np.errstate(under="ignore"):
                R = np.exp(L - lse[:, None])
            if sw is None:
                ll += float(lse.sum())
            else:
                wc = sw[lo : lo + CHUNK_ROWS]
                ll += float(wc @ lse)
                R *= wc[:, None]
            S += phi.T @ R
        return ll, S

    def lloyd(self, X, centers):
        k, d = centers.shape
        labels, dist = nearest_centre(X, centers)
        counts = np.bincount(labels, minlength=k).astype(float)
        sums = np.zeros((k, d))
        np.add.at(sums, labels, X)
        return sums, counts, float(dist.sum())


class NumbaEngine:
    """The fused pass compiled by numba (:mod:`bayesgmm._numba`), on a pool of threads.

    Per-block partial sums are added in block order, so the result does not depend on
    the thread count.
    """

    name = "numba"

    def __init__(self) -> None:
        from . import _numba  # raises ImportError without numba

        self._stats_blocks = _numba.stats_blocks
        self._lloyd = _numba.lloyd_stats

    def sufficient_statistics(self, X, W, shift, covariance_type, *, sample_weight=None, threads=None):
        X = np.ascontiguousarray(X, dtype=np.float64)
        W = np.ascontiguousarray(W, dtype=np.float64)
        shift = np.ascontiguousarray(shift, dtype=np.float64)
        n = X.shape[0]
        sw = _check_weights_rows(sample_weight, n)
        sw = np.empty(0) if sw is None else sw
        fullq = full_quad(covariance_type)
        F, K = W.shape
        nb = max(1, (n + BLOCK_ROWS - 1) // BLOCK_ROWS)
        lls = np.zeros(nb)
        acc = np.zeros((nb, K, F))
        nt = min(default_threads() if threads is None else max(1, int(threads)), nb)
        args = (X, shift, W, fullq, sw, BLOCK_ROWS)
        if nt == 1:
            self._stats_blocks(*args, 0, nb, lls, acc)
        else:
            edges = [nb * t // nt for t in range(nt + 1)]
            pool = _thread_pool(nt)
            futures = [
                pool.submit(self._stats_blocks, *args, edges[t], edges[t + 1], lls, acc) for t in range(nt)
            ]
            for fut in futures:
                fut.result()
        return float(lls.sum()), acc.sum(axis=0).T

    def lloyd(self, X, centers):
        k, d = centers.shape
        sums = np.zeros((k, d))
        counts = np.zeros(k)
        inertia = self._lloyd(
            np.ascontiguousarray(X, dtype=np.float64), np.ascontiguousarray(centers), sums, counts
        )
        return sums, counts, float(inertia)


_ENGINES: dict[str, Any] = {}


def numba_available() -> bool:
    """Whether numba is installed (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("numba") is not None


def get_engine(name: str = "auto"):
    """The engine object for ``name``: "numba", "numpy", or "auto" (numba when installed).

    Engines are created once per process and shared.
    """
    if name == "auto":
        name = "numba" if numba_available() else "numpy"
    if name not in _ENGINES:
        if name == "numba":
            try:
                _ENGINES[name] = NumbaEngine()
            except ImportError:
                raise ImportError("engine 'numba' needs numba: pip install 'bayesgmm[fast]'.") from None
        elif name == "numpy":
            _ENGINES[name] = NumpyEngine()
        else:
            raise ValueError(
                f"The 'engine' parameter must be one of ['auto', 'numba', 'numpy']. Got {name!r}."
            )
    return _ENGINES[name]


def resolve_backend(backend: str) -> str:
    """The name of the engine ``backend`` stands for ("auto" resolved)."""
    return get_engine(backend).name


def sufficient_statistics(
    X: np.ndarray,
    W: np.ndarray,
    shift: np.ndarray,
    covariance_type: str,
    *,
    backend: str = "auto",
    threads: int | None = None,
    sample_weight: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """One fused pass: (sum_i w_i log p(x_i), S) with S[:, k] = sum_i w_i gamma_ik phi(x_i).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    W : array of shape (F, n_components), from :func:`natural_parameters`
    shift : array of shape (n_features,)
    backend : {"auto", "numba", "numpy"} or an engine object
    threads : int, optional
        Threads for this call (numba; default: every CPU the process may use).
        ``threads=1`` runs in the calling thread (safe in forked processes and inside Dask
        tasks). The result does not depend on it.
    sample_weight : array of shape (n_samples,), optional
        Row weights w_i (default 1).
    """
    engine = get_engine(backend) if isinstance(backend, str) else backend
    return engine.sufficient_statistics(
        X, W, shift, covariance_type, sample_weight=sample_weight, threads=threads
    )


def lloyd_statistics(X: np.ndarray, centers: np.ndarray, *, backend: str = "numpy"):
    """One Lloyd pass over a chunk: (sums (K, d), counts (K,), inertia).

    Each row goes to its nearest centre by squared Euclidean distance (the first one on
    ties); both engines compute the distances as sum_j (x_j - c_j)^2.
    """
    engine = get_engine(backend) if isinstance(backend, str) else backend
    return engine.lloyd(X, centers)


def nearest_centre(X: np.ndarray, centers: np.ndarray):
    """Index of the nearest centre (first on ties) and the squared distance, per row."""
    d2 = np.empty((X.shape[0], centers.shape[0]))
    for k, c in enumerate(centers):
        d2[:, k] = np.sum(np.square(X - c), axis=1)
    labels = np.argmin(d2, axis=1)
    return labels, d2[np.arange(X.shape[0]), labels]
