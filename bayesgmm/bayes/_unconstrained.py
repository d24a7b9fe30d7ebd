r"""The mixture's parameters in an unconstrained space, and their exchangeable prior density.

Numpy, vectorised over parameter points (the leading axis ``S``). Used by
:mod:`bayesgmm.bayes.evidence`, which needs the normalised prior density (the PyMC model's
log-density is normalised only up to the ``K!`` of its ordering) at thousands of points:
the model's prior densities (:mod:`bayesgmm.bayes._log_posterior_numba`), evaluated without
the ordering, in a parametrisation of its own (log-ratios of the weights to the last one,
the means unordered), where the evidence's label-symmetrised proposal lives.

Points are ``w`` (S, K), ``mu`` (S, K, d) and ``scale``: standard deviations (S, K, d)
for ``kind="diag"`` or lower Cholesky factors of the covariances (S, K, d, d) for
``kind="full"``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from ._log_posterior_numba import log_prior_points

__all__ = ["from_unconstrained", "log_prior", "n_unconstrained", "to_unconstrained"]


def n_unconstrained(kind: str, k: int, d: int) -> int:
    """Length of the unconstrained vector: (K - 1) + K d + K d (diag) or K d (d + 1) / 2 (full)."""
    per = d * (d + 1) // 2 if kind == "full" else d
    return (k - 1) + k * d + k * per


def to_unconstrained(w: np.ndarray, mu: np.ndarray, scale: np.ndarray, kind: str):
    """Map parameter points to unconstrained vectors; also return log |d theta / d z|.

    Parameters
    ----------
    w : array of shape (S, K)
    mu : array of shape (S, K, d)
    scale : array of shape (S, K, d) (standard deviations, ``"diag"``) or (S, K, d, d)
        (lower Cholesky factors of the covariances, ``"full"``)
    kind : {"diag", "full"}

    Returns
    -------
    z : array of shape (S, p)
        ``[log(w_k / w_K) for k < K, mu (raveled), log sd]`` or, for ``"full"``, the
        lower triangle of each Cholesky factor with its diagonal logged (row-major).
    log_jac : array of shape (S,)
        ``log |d theta / d z|``: ``sum_k log w_k`` (the weights' additive log-ratio,
        K > 1) plus the sum of the logged entries. It is invariant under relabelling.
    """
    S, k, d = mu.shape
    parts = []
    log_jac = np.zeros(S)
    if k > 1:
        lw = np.log(w)
        parts.append(lw[:, :-1] - lw[:, -1:])
        log_jac += lw.sum(axis=1)
    parts.append(mu.reshape(S, -1))
    if kind == "full":
        il, jl = np.tril_indices(d)
        tri = scale[:, :, il, jl].copy()
        diag = il == jl
        tri[:, :, diag] = np.log(tri[:, :, diag])
        log_jac += tri[:, :, diag].sum(axis=(1, 2))
        parts.append(tri.reshape(S, -1))
    else:
        ls = np.log(scale)
        log_jac += ls.sum(axis=(1, 2))
        parts.append(ls.reshape(S, -1))
    return np.concatenate(parts, axis=1), log_jac


def from_unconstrained(z: np.ndarray, kind: str, k: int, d: int):
    """Inverse of :func:`to_unconstrained`: ``(w, mu, scale, log_jac)``."""
    z = np.atleast_2d(z)
    S = z.shape[0]
    log_jac = np.zeros(S)
    if k > 1:
        a = np.concatenate([z[:, : k - 1], np.zeros((S, 1))], axis=1)
        lw = a - logsumexp(a, axis=1, keepdims=True)
        w = np.exp(lw)
        log_jac += lw.sum(axis=1)
    else:
        w = np.ones((S, 1))
    pos = k - 1
    mu = z[:, pos : pos + k * d].reshape(S, k, d)
    pos += k * d
    if kind == "full":
        il, jl = np.tril_indices(d)
        diag = il == jl
        tri = z[:, pos:].reshape(S, k, len(il)).copy()
        log_jac += tri[:, :, diag].sum(axis=(1, 2))
        tri[:, :, diag] = np.exp(tri[:, :, diag])
        scale = np.zeros((S, k, d, d))
        scale[:, :, il, jl] = tri
    else:
        ls = z[:, pos:].reshape(S, k, d)
        log_jac += ls.sum(axis=(1, 2))
        scale = np.exp(ls)
    return w, mu, scale, log_jac


def log_prior(w, mu, scale, kind: str, hyper: dict) -> np.ndarray:
    """Exchangeable log prior density of parameter points (no ordering, no ``K!``).

    The model's prior orders the means along the first feature; on that ordered region
    its density is ``K!`` times this one. Here the Dirichlet on the weights is evaluated
    with the components sorted by their first mean (so a non-symmetric ``alpha`` keeps
    its meaning: ``alpha[0]`` belongs to the leftmost component), which makes the density
    invariant under relabelling while integrating to 1 over all labellings. The densities
    are the model's own, :func:`~bayesgmm.bayes._log_posterior_numba.log_prior`.

    Parameters
    ----------
    w, mu, scale : arrays as in :func:`to_unconstrained`
    kind : {"diag", "full"}
    hyper : dict
        :meth:`bayesgmm.bayes.model.Priors.resolve`'s output.
    """
    S, k, d = mu.shape
    order = np.argsort(mu[:, :, 0], axis=1, kind="stable")
    ws = np.ascontiguousarray(np.take_along_axis(w, order, axis=1), dtype=float)
    if kind == "full":
        L = np.ascontiguousarray(scale, dtype=float)
        eta = float(hyper["lkj_eta"])
    else:
        L = np.zeros((S, k, d, d))
        L[:, :, np.arange(d), np.arange(d)] = scale
        eta = None
    return log_prior_points(
        ws,
        np.ascontiguousarray(mu, dtype=float),
        L,
        np.asarray(hyper["alpha"], dtype=float),
        np.asarray(hyper["mean_loc"], dtype=float),
        np.asarray(hyper["mean_scale"], dtype=float),
        np.asarray(hyper["sd_scale"], dtype=float),
        eta,
    )
