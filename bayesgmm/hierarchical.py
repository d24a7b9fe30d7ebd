"""A deterministic start for EM: model-based agglomerative hierarchical clustering.

mclust starts EM from a partition found by merging clusters bottom-up (Banfield & Raftery
1993; Fraley 1998): every point starts alone, and each step merges the two clusters whose
union raises the classification likelihood of an unconstrained ("VVV") Gaussian model the
most, i.e. lowers

    C(partition) = sum_k n_k log det(Sigma_k),
    Sigma_k = (W_k + (alpha * omega + beta * tr(W_k) / d) I) / n_k,

with ``W_k`` the scatter matrix of cluster k and ``omega`` the mean per-feature variance of
the data. The two ridge terms make the criterion defined for singletons and small
clusters, as in Fraley (1998): ``alpha`` is a floor relative to the data's spread,
``beta`` shrinks a cluster's covariance toward a sphere of its own size so that early
clusters do not chain along lines. For singletons the merge cost depends only on the
distance between the points, so the first merges are those of nearest neighbours.

One merge tree gives a partition for every K, so :class:`MergeTree` is built once and cut
at each K. For large n the tree is grown on a deterministic subset of rows (mclust does the
same); every row then gets the cluster of highest density under the full-covariance
Gaussians that one M-step makes of the subset's clusters. Nothing is random: the subset
comes from a fixed seed, ties go to the lowest index, and the data are standardised per
feature first, so the partition does not depend on the units of the features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.distance import cdist

from ._scaling import Standardizer
from ._validation import check_int, check_real, check_X, is_dask_array
from .covariance import compute_precision_cholesky
from .em import e_step, m_step

__all__ = ["MergeTree", "hierarchical_labels", "merge_tree"]

MAX_SAMPLES = 2000
ALPHA = 0.01
BETA = 1.0
_SUBSET_SEED = 0
_ROWS_AT_ONCE = 128


def _logdet(S: np.ndarray) -> np.ndarray:
    """log det of a stack (m, d, d) of positive-definite matrices (closed form for d <= 2)."""
    d = S.shape[-1]
    if d == 1:
        return np.log(S[:, 0, 0])
    if d == 2:
        return np.log(S[:, 0, 0] * S[:, 1, 1] - S[:, 0, 1] * S[:, 1, 0])
    return np.linalg.slogdet(S)[1]


def _cost(n: np.ndarray, W: np.ndarray, ridge: float, beta: float) -> np.ndarray:
    """``n log det((W + (ridge + beta tr(W) / d) I) / n)`` for stacks n (m,), W (m, d, d)."""
    d = W.shape[-1]
    tr = np.trace(W, axis1=-2, axis2=-1)
    S = W + ((ridge + beta * tr / d)[:, None, None] * np.eye(d))
    return n * (_logdet(S) - d * np.log(n))


@dataclass(frozen=True)
class MergeTree:
    """The merges of the agglomeration on ``subset`` (row indices into the data).

    ``merges[t] = (a, b)``: at step t cluster b (positions into ``subset``, a cluster is
    named by its lowest member) joins cluster a (a < b); ``costs[t]`` is the increase of
    the criterion that merge made. ``len(merges) == len(subset) - 1``.
    """

    subset: np.ndarray
    merges: np.ndarray
    costs: np.ndarray
    reg_covar: float

    def subset_labels(self, n_components: int) -> np.ndarray:
        """Labels 0..K-1 of the subset's rows after all but the last K - 1 merges (clusters
        numbered in the order of their lowest member)."""
        m = len(self.subset)
        k = check_int(n_components, "n_components")
        if k > m:
            raise ValueError(
                f"The 'n_components' parameter must be at most the number of rows in the tree ({m}). "
                f"Got {k} instead."
            )
        parent = np.arange(m)
        for a, b in self.merges[: m - k]:
            parent[parent == b] = a
        _, labels = np.unique(parent, return_inverse=True)
        return labels

    def labels(self, X: Any, n_components: int) -> np.ndarray:
        """Labels of every row of X (the data the tree was grown on) at K = n_components.

        Rows of the subset keep their cluster; the others go to the cluster of highest
        density under one M-step (full covariances) on the subset's clusters.
        """
        X = check_X(X)
        sub = self.subset_labels(n_components)
        if len(self.subset) == X.shape[0]:
            return sub
        std, model = self.assignment(X, n_components)
        labels = self.assign(std.transform(X), model)
        labels[self.subset] = sub
        return labels

    def assignment(self, X: Any, n_components: int) -> tuple[Standardizer, tuple]:
        """What :meth:`labels` assigns the rows outside the subset with: X's per-feature
        standardisation and ``(weights, means, prec_chol)`` of one M-step (full
        covariances) on the subset's clusters (X may be a Dask array)."""
        sub = self.subset_labels(n_components)
        std = Standardizer.fit(X)
        resp = np.zeros((len(self.subset), n_components))
        resp[np.arange(len(sub)), sub] = 1.0
        rows = X[self.subset]
        rows = np.asarray(rows.compute() if is_dask_array(rows) else rows, dtype=np.float64)
        w, m, cov = m_step(std.transform(rows), resp, "full", self.reg_covar)
        return std, (w, m, compute_precision_cholesky(cov, "full"))

    @staticmethod
    def assign(Z: np.ndarray, model: tuple) -> np.ndarray:
        """The cluster of highest density under ``model`` (:meth:`assignment`) for rows Z."""
        w, m, pc = model
        _, log_resp = e_step(Z, w, m, pc, "full")
        return np.argmax(log_resp, axis=1)


def _subset(n: int, max_samples: int) -> np.ndarray:
    if n <= max_samples:
        return np.arange(n)
    return np.sort(np.random.default_rng(_SUBSET_SEED).choice(n, size=max_samples, replace=False))


def merge_tree(
    X: Any, *, max_samples: int = MAX_SAMPLES, alpha: float = ALPHA, beta: float = BETA
) -> MergeTree:
    """Grow the agglomerative tree on (a deterministic subset of at most ``max_samples``
    rows of) X, standardised per feature; see the module docstring for the criterion.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or a Dask array
    max_samples : int, default=2000
        Rows the tree is grown on; time grows about as its square, memory as its square.
    alpha, beta : float
        The ridge of the criterion, relative to the mean feature variance (``alpha``) and
        to each cluster's own mean variance (``beta``).
    """
    X = check_X(X, allow_dask=True)
    max_samples = check_int(max_samples, "max_samples", minimum=2)
    alpha = check_real(alpha, "alpha", strict=True)
    beta = check_real(beta, "beta")
    subset = _subset(X.shape[0], max_samples)
    rows = X[subset]
    Z = Standardizer.fit(X).transform(np.asarray(rows.compute() if is_dask_array(rows) else rows))
    m, d = Z.shape
    ridge = alpha * float(np.mean(Z.var(axis=0))) if m > 1 else alpha
    ridge = ridge if ridge > 0 else alpha

    n = np.ones(m)
    mean = Z.copy()
    W = np.zeros((m, d, d))
    own = _cost(n, W, ridge, beta)
    # Two singletons at squared distance r have W = v v^T / 2 (eigenvalues r / 2 and 0), so
    # det(W + c I) = c^(d-1) (c + r / 2) with c = ridge + beta r / (2 d): a function of r.
    D = np.full((m, m), np.inf)
    if m > 1:
        for lo in range(0, m, _ROWS_AT_ONCE):  # a band of rows at a time: no m x m temporaries
            r = cdist(Z[lo : lo + _ROWS_AT_ONCE], Z, "sqeuclidean")
            c = ridge + beta * r / (2 * d)
            D[lo : lo + _ROWS_AT_ONCE] = (
                2.0 * ((d - 1) * np.log(c) + np.log(c + r / 2) - d * np.log(2.0)) - 2.0 * own[0]
            )
        np.fill_diagonal(D, np.inf)
    active = np.ones(m, dtype=bool)
    nn = np.argmin(D, axis=1)
    nn_cost = D[np.arange(m), nn]
    merges = np.empty((max(m - 1, 0), 2), dtype=np.intp)
    costs = np.empty(max(m - 1, 0))
    for t in range(m - 1):
        a = int(np.argmin(nn_cost))
        b = int(nn[a])
        a, b = min(a, b), max(a, b)
        merges[t] = a, b
        costs[t] = D[a, b]
        # merge b into a
        na, nb = n[a], n[b]
        delta = mean[b] - mean[a]
        W[a] = W[a] + W[b] + (na * nb / (na + nb)) * np.outer(delta, delta)
        mean[a] = (na * mean[a] + nb * mean[b]) / (na + nb)
        n[a] = na + nb
        own[a] = _cost(n[a : a + 1], W[a : a + 1], ridge, beta)[0]
        active[b] = False
        D[b, :] = np.inf
        D[:, b] = np.inf
        nn_cost[b] = np.inf
        others = np.flatnonzero(active)
        others = others[others != a]
        if not len(others):
            break
        dm = mean[others] - mean[a]
        no = n[others]
        Wm = W[others] + W[a] + ((no * n[a] / (no + n[a]))[:, None, None] * dm[:, :, None] * dm[:, None, :])
        row = _cost(no + n[a], Wm, ridge, beta) - own[others] - own[a]
        D[a, others] = row
        D[others, a] = row
        j = int(np.argmin(D[a]))
        nn[a], nn_cost[a] = j, D[a, j]
        # rows that pointed at a or b: their best partner may have changed either way
        stale = others[(nn[others] == a) | (nn[others] == b)]
        if len(stale):
            js = np.argmin(D[stale], axis=1)
            nn[stale], nn_cost[stale] = js, D[stale, js]
        # rows whose best partner is untouched: the merged cluster may now beat it
        keep = (nn[others] != a) & (nn[others] != b)
        fresh, to_a = others[keep], row[keep]
        better = (to_a < nn_cost[fresh]) | ((to_a == nn_cost[fresh]) & (a < nn[fresh]))
        nn[fresh[better]] = a
        nn_cost[fresh[better]] = to_a[better]
    return MergeTree(subset, merges, costs, reg_covar=ridge)


def hierarchical_labels(
    X: Any,
    n_components: int | list[int],
    *,
    max_samples: int = MAX_SAMPLES,
    alpha: float = ALPHA,
    beta: float = BETA,
) -> np.ndarray | dict[int, np.ndarray]:
    """Labels of every row of X from the model-based hierarchical agglomeration.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int or list of int
        One K, or several (then one tree serves them all).
    max_samples, alpha, beta
        See :func:`merge_tree`.

    Returns
    -------
    labels : array of shape (n_samples,), or dict {K: labels} for a list of K
        Integer labels 0..K-1. The same X always gives the same labels.
    """
    X = check_X(X)
    ks = [n_components] if np.isscalar(n_components) else list(n_components)
    ks = [check_int(k, "n_components") for k in ks]
    tree = merge_tree(X, max_samples=max_samples, alpha=alpha, beta=beta)
    out = {k: tree.labels(X, k) for k in ks}
    return out[ks[0]] if np.isscalar(n_components) else out
