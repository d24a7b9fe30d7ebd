r"""The mixture's parameters in an unconstrained space, and their exchangeable prior density.

Numpy, vectorised over parameter points (the leading axis ``S``). Used by
:mod:`bayesgmm.bayes.evidence`, which needs the normalised prior density (the PyMC model's
log-density is normalised only up to the ``K!`` of its ordering) at thousands of points.

Points are ``w`` (S, K), ``mu`` (S, K, d) and ``scale``: standard deviations (S, K, d)
for ``kind="diag"`` or lower Cholesky factors of the covariances (S, K, d, d) for
``kind="full"``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln, logsumexp

from ._log_posterior_numba import lkj_log_normaliser

__all__ = ["from_unconstrained", "log_prior", "n_unconstrained", "to_unconstrained"]

_LOG_2PI = math.log(2.0 * math.pi)


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


def _halfnormal_logpdf(x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return 0.5 * math.log(2.0 / math.pi) - np.log(scale) - 0.5 * (x / scale) ** 2


def _lkj_cholesky_cov_logpdf(L: np.ndarray, sd_scale: np.ndarray, eta: float) -> np.ndarray:
    """log density of a covariance's Cholesky factor (lower triangle incl. diagonal).

    Standard deviations ``s_i ~ HalfNormal(sd_scale_i)`` and correlations ``R = C C^T ~
    LKJ(eta)``; ``L = diag(s) C``. With the density of ``C`` in its strictly lower
    entries, ``c^-1 prod_{i>=2} C_ii^(d - i + 2 eta - 2)`` (Stan's ``lkj_corr_cholesky``,
    rows counted from 1), and the change of variables row by row, ``d^i L = s_i^(i-1) /
    C_ii ds_i dC_i``, the density of ``L`` is
    ``prod_i HalfNormal(s_i) C_ii s_i^-(i-1) x LKJ_chol(C)``.
    """
    d = L.shape[-1]
    s = np.sqrt(np.sum(L * L, axis=-1))  # row norms, (..., d)
    cdiag = np.diagonal(L, axis1=-2, axis2=-1) / s
    i = np.arange(1, d + 1)
    out = _halfnormal_logpdf(s, sd_scale).sum(axis=-1)
    out = out + np.sum((d - i + 2.0 * eta - 2.0)[1:] * np.log(cdiag[..., 1:]), axis=-1)
    out = out + np.sum(np.log(cdiag) - (i - 1) * np.log(s), axis=-1)
    return out - lkj_log_normaliser(d, eta) if d > 1 else out


def log_prior(w, mu, scale, kind: str, hyper: dict) -> np.ndarray:
    """Exchangeable log prior density of parameter points (no ordering, no ``K!``).

    The model's prior orders the means along the first feature; on that ordered region
    its density is ``K!`` times this one. Here the Dirichlet on the weights is evaluated
    with the components sorted by their first mean (so a non-symmetric ``alpha`` keeps
    its meaning: ``alpha[0]`` belongs to the leftmost component), which makes the density
    invariant under relabelling while integrating to 1 over all labellings.

    Parameters
    ----------
    w, mu, scale : arrays as in :func:`to_unconstrained`
    kind : {"diag", "full"}
    hyper : dict
        :meth:`bayesgmm.bayes.model.Priors.resolve`'s output.
    """
    S, k, d = mu.shape
    out = np.zeros(S)
    if k > 1:
        alpha = np.asarray(hyper["alpha"], dtype=float)
        order = np.argsort(mu[:, :, 0], axis=1, kind="stable")
        ws = np.take_along_axis(w, order, axis=1)
        out += gammaln(alpha.sum()) - gammaln(alpha).sum() + np.sum((alpha - 1.0) * np.log(ws), axis=1)
    loc, msc = hyper["mean_loc"], hyper["mean_scale"]
    out += np.sum(-0.5 * _LOG_2PI - np.log(msc) - 0.5 * ((mu - loc) / msc) ** 2, axis=(1, 2))
    if kind == "full":
        out += _lkj_cholesky_cov_logpdf(scale, np.asarray(hyper["sd_scale"]), hyper["lkj_eta"]).sum(axis=1)
    else:
        out += _halfnormal_logpdf(scale, np.asarray(hyper["sd_scale"])).sum(axis=(1, 2))
    return out
