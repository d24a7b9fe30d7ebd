"""Starting parameters for EM: k-means, k-means++, random responsibilities, random points.

As in scikit-learn, each scheme yields responsibilities (one-hot k-means labels, random
soft labels, or single data points) and the starting parameters are one M-step on them
(with ``reg_covar``). Every pass is a sum of per-chunk statistics, so the same code runs
on in-memory arrays and on Dask arrays, and nothing of size n x K is ever held.
"""

from __future__ import annotations

import numpy as np

from . import _kernels
from ._data import hard_phi_chunk, kmeans_chunk
from .covariance import covariances_as_full

KMEANSPP_SUBSAMPLE = 20000


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
    m = min(data.n, KMEANSPP_SUBSAMPLE)
    idx = rng.choice(data.n, size=m, replace=False) if m < data.n else np.arange(data.n)
    sub = data.rows(idx)
    centers = kmeans_plusplus(sub, n_clusters, rng)
    var = sub.var(axis=0).mean()
    for _ in range(max_iter):
        sums, counts, _ = data.map_reduce(kmeans_chunk, centers, getattr(data, "backend", "numpy"))
        new = centers.copy()
        nz = counts > 0
        new[nz] = sums[nz] / counts[nz, None]
        shift = np.sum((new - centers) ** 2)
        centers = new
        if shift <= tol * var:
            break
    return centers


def params_from_stats(S, d, covariance_type, shift, reg_covar, n_total=None):
    """The M-step on sufficient statistics: (weights, means, covariances).

    Mirrors scikit-learn's ``_estimate_gaussian_parameters`` (``N_k`` gets ``10 eps``),
    written on sums over the (shifted) data so it can be computed chunk by chunk:

        N_k = sum_i gamma_ik,   mu_k = sum_i gamma_ik x_i / N_k,
        Sigma_k = sum_i gamma_ik (x_i - mu_k)(x_i - mu_k)^T / N_k + reg_covar I,
        pi_k = N_k / n.
    """
    N, S1, S2 = _kernels.moments(S, d, covariance_type)
    nk = N + 10 * np.finfo(float).eps
    m = S1 / nk[:, None]
    if covariance_type in ("full", "tied"):
        C = (
            S2
            - np.einsum("ki,kj->kij", m, S1)
            - np.einsum("ki,kj->kij", S1, m)
            + N[:, None, None] * np.einsum("ki,kj->kij", m, m)
        )
        if covariance_type == "full":
            cov = C / nk[:, None, None]
            cov[:, np.arange(d), np.arange(d)] += reg_covar
        else:
            cov = C.sum(axis=0) / nk.sum()
            cov[np.arange(d), np.arange(d)] += reg_covar
    else:
        cov = (S2 - 2.0 * m * S1 + N[:, None] * m * m) / nk[:, None] + reg_covar
        if covariance_type == "spherical":
            cov = cov.mean(axis=1)
    weights = nk / nk.sum()
    return weights, m + shift, cov


def initial_parameters(data, n_components, covariance_type, init_params, reg_covar, rng):
    """(weights, means, covariances) from one of scikit-learn's four schemes."""
    d = data.d
    if init_params == "kmeans":
        centers = kmeans(data, n_components, rng)
        (S,) = data.map_reduce(hard_phi_chunk, centers, data.shift, covariance_type)
        return params_from_stats(S, d, covariance_type, data.shift, reg_covar)
    if init_params == "random":
        (S,) = data.random_resp_stats(n_components, rng, covariance_type)
        return params_from_stats(S, d, covariance_type, data.shift, reg_covar)
    if init_params == "k-means++":
        m = min(data.n, KMEANSPP_SUBSAMPLE)
        idx = rng.choice(data.n, size=m, replace=False) if m < data.n else np.arange(data.n)
        means = kmeans_plusplus(data.rows(idx), n_components, rng)
    else:  # random_from_data
        means = data.rows(rng.choice(data.n, size=n_components, replace=False))
        means = means[rng.permutation(n_components)]
    weights = np.full(n_components, 1.0 / n_components)
    eye = np.full((n_components, d), reg_covar)
    cov = {
        "full": covariances_as_full(eye, "diag", n_components, d),
        "tied": np.eye(d) * reg_covar,
        "diag": eye,
        "spherical": np.full(n_components, reg_covar),
    }[covariance_type]
    return weights, means, cov
