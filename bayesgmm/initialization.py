"""Starting parameters for EM: scikit-learn's four schemes, plus the hierarchical start.

As in scikit-learn, each scheme yields responsibilities (one-hot k-means labels, random
soft labels, or single data points) and the starting parameters are one M-step on them
(with ``reg_covar``). For in-memory data the responsibilities are exactly scikit-learn's:
its ``KMeans(n_clusters, n_init=1, random_state)``, its ``kmeans_plusplus``, and the same
draws from the same ``RandomState``; the M-step on them is the textbook
:func:`bayesgmm.em.m_step` (scikit-learn's formulas, n x K like scikit-learn's start), so
that the same arguments give scikit-learn's fit. The first weights are N_k / n, as in
scikit-learn: after a start on K single points they sum to K / n, not 1.

Dask arrays get bayesgmm's own out-of-core versions (every pass a sum over blocks, nothing
of size n x K held): Lloyd's k-means from a k-means++ seeding on a subsample, random soft
labels seeded per segment of rows, and k-means++ on a subsample. With row weights, the
Dask k-means places its centres without them; the M-step on its labels uses them.

``init_params="hierarchical"`` starts from the labels of model-based agglomerative
hierarchical clustering (:mod:`bayesgmm.hierarchical`), as mclust does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.cluster import kmeans_plusplus as sk_kmeans_plusplus

from ._data import hard_phi_chunk
from .em import m_step, m_step_from_stats

INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data", "hierarchical")
KMEANSPP_SUBSAMPLE = 20000


# --------------------------------------------------------------------------- Dask's own k-means
def kmeans_plusplus(X: np.ndarray, n_clusters: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii), with 2 + log(K) local trials."""
    n = X.shape[0]
    trials = 2 + int(np.log(n_clusters))
    centers = np.empty((n_clusters, X.shape[1]))
    centers[0] = X[rng.integers(n)]
    closest = np.sum((X - centers[0]) ** 2, axis=1)
    for c in range(1, n_clusters):
        pot = closest.sum()
        if pot <= 0:
            centers[c] = X[rng.integers(n)]
            continue
        cand = np.searchsorted(np.cumsum(closest), rng.uniform(size=trials) * pot)
        cand = np.minimum(cand, n - 1)
        d2 = np.sum((X[None, :, :] - X[cand][:, None, :]) ** 2, axis=2)
        new = np.minimum(closest[None, :], d2)
        best = int(np.argmin(new.sum(axis=1)))
        centers[c] = X[cand[best]]
        closest = new[best]
    return centers


def kmeans(data, n_clusters: int, rng: np.random.Generator, *, max_iter: int = 300, tol: float = 1e-4):
    """Lloyd's k-means from a k-means++ seeding on a subsample; returns the centres.

    The seeding uses at most 20 000 random rows; the Lloyd iterations use all of them.
    ``tol`` is relative to the mean per-feature variance, as in scikit-learn.
    """
    from ._data import kmeans_chunk

    m = min(data.n, KMEANSPP_SUBSAMPLE)
    idx = rng.choice(data.n, size=m, replace=False) if m < data.n else np.arange(data.n)
    sub = data.rows(idx)
    centers = kmeans_plusplus(sub, n_clusters, rng)
    var = sub.var(axis=0).mean()
    for _ in range(max_iter):
        sums, counts, _ = data.map_reduce(kmeans_chunk, centers, data.backend)
        new = centers.copy()
        nz = counts > 0
        new[nz] = sums[nz] / counts[nz, None]
        shift = np.sum((new - centers) ** 2)
        centers = new
        if shift <= tol * var:
            break
    return centers


# --------------------------------------------------------------------------- responsibilities
def _one_hot(n: int, k: int, labels=None, rows=None, dtype=np.float64) -> np.ndarray:
    R = np.zeros((n, k), dtype=dtype)
    if labels is not None:
        R[np.arange(n), labels] = 1.0
    else:
        R[rows, np.arange(k)] = 1.0
    return R


def sklearn_responsibilities(
    X: np.ndarray, n_components: int, init_params: str, random_state, sample_weight=None
):
    """scikit-learn's starting responsibilities (n, K) for in-memory X, draw for draw.

    ``random_state`` is a ``numpy.random.RandomState`` (consumed as scikit-learn does, so
    successive initialisations of ``n_init`` see the same draws).
    """
    n = X.shape[0]
    k = n_components
    if init_params == "kmeans":
        km = KMeans(n_clusters=k, n_init=1, random_state=random_state)
        return _one_hot(n, k, labels=km.fit(X, sample_weight=sample_weight).labels_, dtype=X.dtype)
    if init_params == "random":
        R = random_state.uniform(size=(n, k)).astype(X.dtype, copy=False)
        return R / R.sum(axis=1)[:, None]
    if init_params == "random_from_data":
        return _one_hot(n, k, rows=random_state.choice(n, size=k, replace=False), dtype=X.dtype)
    if init_params == "k-means++":
        _, idx = sk_kmeans_plusplus(X, k, random_state=random_state, sample_weight=sample_weight)
        return _one_hot(n, k, rows=idx, dtype=X.dtype)
    if init_params == "hierarchical":
        from .hierarchical import hierarchical_labels

        return _one_hot(n, k, labels=hierarchical_labels(X, k), dtype=X.dtype)
    raise ValueError(f"The 'init_params' parameter must be one of {list(INIT_PARAMS)}. Got {init_params!r}.")


def initial_parameters(
    data,
    n_components: int,
    covariance_type: str,
    init_params: str,
    reg_covar: float,
    random_state: np.random.RandomState,
    X_input: Any = None,
):
    """(weights, means, covariances): one M-step on the starting responsibilities.

    ``X_input`` is the in-memory data as the user passed it (float32 stays float32, so
    scikit-learn's k-means sees the same numbers); ``None`` for Dask data.
    """
    d = data.d
    if X_input is not None:  # scikit-learn's responsibilities, then its M-step (the textbook one)
        sw = data.sample_weight
        R = sklearn_responsibilities(X_input, n_components, init_params, random_state, sw)
        R = np.asarray(R, dtype=np.float64)
        _, means, cov = m_step(np.asarray(data.X), R, covariance_type, reg_covar, sw)
        nk = (R.sum(axis=0) if sw is None else sw @ R) + 10 * np.finfo(float).eps
        return nk / data.total_weight, means, cov
    rng = np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if init_params == "hierarchical":
        raise ValueError("init_params='hierarchical' needs in-memory data; use 'kmeans' for Dask arrays.")
    if init_params == "kmeans":
        centers = kmeans(data, n_components, rng)
        S = _dask_hard_stats(data, centers, covariance_type)
    elif init_params == "random":
        (S,) = data.random_resp_stats(n_components, rng, covariance_type)
    else:
        if init_params == "k-means++":
            m = min(data.n, KMEANSPP_SUBSAMPLE)
            idx = rng.choice(data.n, size=m, replace=False) if m < data.n else np.arange(data.n)
            means = kmeans_plusplus(data.rows(idx), n_components, rng)
        else:  # random_from_data
            means = data.rows(rng.choice(data.n, size=n_components, replace=False))
            means = means[rng.permutation(n_components)]
        weights = np.full(n_components, 1.0 / data.total_weight)
        cov = {
            "full": np.broadcast_to(np.eye(d) * reg_covar, (n_components, d, d)).copy(),
            "tied": np.eye(d) * reg_covar,
            "diag": np.full((n_components, d), reg_covar),
            "spherical": np.full(n_components, reg_covar),
        }[covariance_type]
        return weights, means, cov
    return m_step_from_stats(S, d, covariance_type, data.shift, reg_covar, n_total=data.total_weight)


def _dask_hard_stats(data, centers, covariance_type):
    """Weighted sums of phi with one-hot labels of the nearest centre, block by block."""
    delayed = data._dask.delayed
    parts = data._dask.compute(
        *[
            delayed(hard_phi_chunk)(b, centers, data.shift, covariance_type, wb)
            for b, wb in zip(data.blocks, data.weight_blocks, strict=True)
        ]
    )
    return sum(p[0] for p in parts)
