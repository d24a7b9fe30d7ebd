r"""The EM algorithm for Gaussian mixtures: the article's formulas and the loop that runs them.

E-step, the responsibility of component k for sample i (computed in log space)::

    gamma_ik = pi_k N(x_i | mu_k, Sigma_k) / sum_j pi_j N(x_i | mu_j, Sigma_j)

M-step::

    N_k = sum_i gamma_ik
    mu_k = (1 / N_k) sum_i gamma_ik x_i
    Sigma_k = (1 / N_k) sum_i gamma_ik (x_i - mu_k)(x_i - mu_k)^T
    pi_k = N_k / n

repeated until the mean log-likelihood changes by less than ``tol``.

:func:`e_step` and :func:`m_step` write these formulas on full n x K arrays (the
reference, run by ``engine="textbook"``). The loop :func:`run_em` runs them through a
step object: :class:`FusedStep` does the same E-step and M-step in one pass over the data
-- the E-step is the fused pass of :mod:`bayesgmm._kernels`, which returns the
log-likelihood and the sums N_k, sum gamma x, sum gamma x x^T, and the M-step is
:func:`m_step_from_stats` on those sums; :class:`TextbookStep` calls :func:`e_step` and
:func:`m_step`. With ``accelerate=True`` the loop extrapolates with SQUAREM (Varadhan &
Roland 2008), which reaches the same fixed point in far fewer passes.

Rows may carry weights w_i (``sample_weight``): every sum over i counts row i w_i times,
and n becomes sum_i w_i.

:func:`converged_em` is the fit run to its fixed point that every bayesgmm-native entry
point (criteria, the Bayesian start, the CLI) shares. The scikit-learn estimator
:class:`~bayesgmm.gaussian_mixture.GaussianMixture` lives in
:mod:`bayesgmm.gaussian_mixture`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy.special import logsumexp

from . import _kernels
from .covariance import COLLAPSE_ADVICE, compute_precision_cholesky, log_det_cholesky

__all__ = [
    "CONVERGED_TOL",
    "EMResult",
    "FusedStep",
    "TextbookStep",
    "converged_em",
    "e_step",
    "estimate_log_gaussian_prob",
    "m_step",
    "m_step_from_stats",
    "run_em",
]

_SLACK = 1e-8
CONVERGED_TOL = 1e-13
STEP_GROWTH = 4.0  # of the adaptive SQUAREM step cap (Varadhan & Roland's mstep)


# --------------------------------------------------------------------------- the textbook
# The article's formulas on full arrays: the reference every engine is tested against.
def estimate_log_gaussian_prob(X, means, precisions_cholesky, covariance_type):
    """log N(x_i | mu_k, Sigma_k) for every sample and component, shape (n, K).

    With U_k the Cholesky factor of the precision (Sigma_k^-1 = U_k U_k^T)::

        log N = -d/2 log(2 pi) + log|U_k| - 1/2 || (x_i - mu_k)^T U_k ||^2
    """
    n, d = X.shape
    k = means.shape[0]
    log_det = log_det_cholesky(precisions_cholesky, covariance_type, d)
    if covariance_type in ("full", "tied"):
        pcs = precisions_cholesky if covariance_type == "full" else [precisions_cholesky] * k
        log_prob = np.empty((n, k))
        for j, (mu, U) in enumerate(zip(means, pcs, strict=True)):
            y = X @ U - mu @ U
            log_prob[:, j] = np.sum(np.square(y), axis=1)
    else:
        prec = precisions_cholesky**2
        if covariance_type == "spherical":
            prec = np.broadcast_to(prec[:, None], (k, d))
        log_prob = np.sum(means**2 * prec, axis=1) - 2.0 * X @ (means * prec).T + (X**2) @ prec.T
    return -0.5 * (d * np.log(2 * np.pi) + log_prob) + log_det


def e_step(X, weights, means, precisions_cholesky, covariance_type):
    """The E-step: log gamma_ik and log p(x_i), by log-sum-exp over components.

    Returns
    -------
    log_prob : array of shape (n_samples,)
        log sum_k pi_k N(x_i | mu_k, Sigma_k).
    log_resp : array of shape (n_samples, n_components)
        log gamma_ik = log pi_k N(x_i | mu_k, Sigma_k) - log_prob_i.
    """
    with np.errstate(divide="ignore"):
        weighted = estimate_log_gaussian_prob(X, means, precisions_cholesky, covariance_type) + np.log(
            weights
        )
    log_prob = logsumexp(weighted, axis=1)
    with np.errstate(under="ignore"):
        log_resp = weighted - log_prob[:, None]
    return log_prob, log_resp


def m_step(X, resp, covariance_type, reg_covar=1e-6, sample_weight=None):
    """The M-step: N_k, mu_k, Sigma_k (+ reg_covar on the diagonal) and pi_k from gamma.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    resp : array of shape (n_samples, n_components)
        Responsibilities gamma_ik (rows sum to 1).
    sample_weight : array of shape (n_samples,), optional
        Row weights w_i: every sum over i counts row i w_i times (gamma_ik -> w_i gamma_ik).

    Returns
    -------
    weights, means, covariances : arrays
        pi_k = N_k / n, mu_k = sum_i gamma_ik x_i / N_k, and the covariances in
        scikit-learn's shape for ``covariance_type``.
    """
    n, d = X.shape
    if sample_weight is not None:
        resp = resp * np.asarray(sample_weight, dtype=float)[:, None]
    nk = resp.sum(axis=0) + 10 * np.finfo(resp.dtype).eps  # N_k
    means = resp.T @ X / nk[:, None]  # mu_k
    if covariance_type == "full":
        cov = np.empty((len(nk), d, d))
        for k in range(len(nk)):
            diff = X - means[k]
            cov[k] = (resp[:, k] * diff.T) @ diff / nk[k]  # Sigma_k
            cov[k].flat[:: d + 1] += reg_covar
    elif covariance_type == "tied":
        XtX = X.T @ X if sample_weight is None else (X.T * np.asarray(sample_weight, dtype=float)) @ X
        cov = (XtX - (nk * means.T) @ means) / nk.sum()
        cov.flat[:: d + 1] += reg_covar
    else:
        avg_x2 = resp.T @ (X * X) / nk[:, None]
        cov = avg_x2 - means**2 + reg_covar
        if covariance_type == "spherical":
            cov = cov.mean(axis=1)
    return nk / nk.sum(), means, cov  # pi_k = N_k / n


def m_step_from_stats(S, d, covariance_type, shift, reg_covar, n_total=None):
    """The M-step of :func:`m_step` on the sums of one fused pass: (weights, means, covariances).

    Mirrors scikit-learn's ``_estimate_gaussian_parameters`` (``N_k`` gets ``10 eps``),
    written on sums over the (shifted) data so it can be computed chunk by chunk::

        N_k = sum_i gamma_ik,   mu_k = sum_i gamma_ik x_i / N_k,
        Sigma_k = sum_i gamma_ik (x_i - mu_k)(x_i - mu_k)^T / N_k + reg_covar I,
        pi_k = N_k / n.

    ``n_total`` is the n of pi_k (the number of rows, or the sum of the row weights).
    By default it is sum_k N_k, which equals n in every EM pass; the initial M-step on
    single data points (``random_from_data``, ``k-means++``) passes the number of rows, as
    scikit-learn does, so its first weights sum to K / n, not 1.
    """
    N, S1, S2 = _kernels.moments(S, d, covariance_type)
    nk = N + 10 * np.finfo(float).eps
    m = S1 / nk[:, None]
    C = _kernels.scatter(N, S1, S2, m, covariance_type, shift=shift, nk=nk)
    if covariance_type == "full":
        cov = C / nk[:, None, None]
        cov[:, np.arange(d), np.arange(d)] += reg_covar
    elif covariance_type == "tied":
        cov = C.sum(axis=0) / nk.sum()
        cov[np.arange(d), np.arange(d)] += reg_covar
    else:
        cov = C / nk[:, None] + reg_covar
        if covariance_type == "spherical":
            cov = cov.mean(axis=1)
    weights = nk / (nk.sum() if n_total is None else n_total)
    return weights, m + shift, cov


# --------------------------------------------------------------------------- the steps that run
class FusedStep:
    """One EM pass in one sweep over the data: the fused E-step, then the M-step on its sums.

    A step object has ``e_step(weights, means, prec_chol) -> (mean log-likelihood, stats)``
    and ``m_step(stats) -> (weights, means, covariances)``; :func:`run_em` calls the two in turn.
    """

    def __init__(self, data, covariance_type: str, reg_covar: float) -> None:
        self.data = data
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar

    def e_step(self, weights, means, prec_chol):
        """(mean log-likelihood at the current parameters, the sums S of the fused pass)."""
        data = self.data
        W = _kernels.natural_parameters(weights, means, prec_chol, self.covariance_type, data.shift)
        ll, S = data.stats(W, self.covariance_type)
        return ll / data.total_weight, S

    def m_step(self, S):
        """(weights, means, covariances) from the sums S."""
        return m_step_from_stats(S, self.data.d, self.covariance_type, self.data.shift, self.reg_covar)


class TextbookStep:
    """One EM pass as the article writes it: :func:`e_step`, then :func:`m_step`, on n x K arrays."""

    def __init__(self, X, covariance_type: str, reg_covar: float, sample_weight=None) -> None:
        self.X = X
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.sample_weight = sample_weight

    def e_step(self, weights, means, prec_chol):
        """(mean log-likelihood at the current parameters, log responsibilities)."""
        log_prob, log_resp = e_step(self.X, weights, means, prec_chol, self.covariance_type)
        if self.sample_weight is None:
            return float(np.mean(log_prob)), log_resp
        sw = self.sample_weight
        return float(sw @ log_prob / sw.sum()), log_resp

    def m_step(self, log_resp):
        """(weights, means, covariances) from the log responsibilities."""
        return m_step(self.X, np.exp(log_resp), self.covariance_type, self.reg_covar, self.sample_weight)


# --------------------------------------------------------------------------- the loop
class EMResult(NamedTuple):
    """What one run of :func:`run_em` returns."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    lower_bound: float  # mean log-likelihood at the last check
    lower_bounds: list  # mean log-likelihood at every accepted point
    n_iter: int  # passes over the data (the unit of cost)
    converged: bool


def run_em(
    step,
    start,
    *,
    tol: float,
    max_iter: int,
    accelerate: bool | str = False,
    prev_lower_bound: float = -np.inf,
    on_pass=None,
) -> EMResult:
    """Iterate EM from ``start`` = (weights, means, covariances, prec_chol).

    Plain EM stops, as scikit-learn does, when one pass changes the mean log-likelihood
    by less than ``tol``, and returns the parameters after that pass. With
    ``accelerate``, each SQUAREM cycle makes two EM passes, extrapolates along them
    (step length alpha <= -1; alpha = -1 is plain EM), and makes one stabilising pass from
    the extrapolated point, which is kept only if its log-likelihood is at least that of
    the second EM point (the monotonicity safeguard); convergence is then tested between
    the starts of successive cycles. ``accelerate="adaptive"`` caps the step length as
    Varadhan & Roland's SQUAREM does: the cap starts at 1 (plain EM), grows
    ``STEP_GROWTH``-fold each time a capped step is kept and shrinks as much (not below 1)
    each time one is refused. Where EM creeps along a nearly flat ridge (redundant
    components on many rows), the unbounded step overshoots and is refused cycle after
    cycle, leaving plain EM; the capped one is kept and grows.

    With ``reg_covar = 0`` the lower bounds never decrease (EM and the safeguard are
    monotone). With ``reg_covar > 0`` the EM map is not the ascent map of the
    log-likelihood (its fixed point is not exactly a maximum), so near the fixed point
    they may wobble by a hair (< 1e-8 relative). ``prev_lower_bound`` is the value the
    first change is measured from (a warm start measures it from the previous fit's).
    ``on_pass(n_pass, change)`` is called after every pass (verbose output).
    ``max_iter=0`` returns the start unchanged.
    """
    ct = step.covariance_type
    w, m, cov, pc = start
    history: list[float] = []
    n_pass = 0

    def em(w, m, pc):  # one pass: the E-step at (w, m, pc), then the M-step on what it returns
        nonlocal n_pass
        n_pass += 1
        ll, stats = step.e_step(w, m, pc)
        w2, m2, c2 = step.m_step(stats)
        if not np.isfinite(ll):
            raise ValueError(COLLAPSE_ADVICE)
        if on_pass is not None:
            on_pass(n_pass, ll - (history[-1] if history else prev_lower_bound))
        return ll, w2, m2, c2, compute_precision_cholesky(c2, ct)

    slack = _SLACK if step.reg_covar > 0 else 0.0
    cap = 1.0 if accelerate == "adaptive" else np.inf
    prev = prev_lower_bound
    while n_pass < max_iter:
        ll0, w1, m1, c1, pc1 = em(w, m, pc)
        history.append(ll0)
        if abs(ll0 - prev) < tol:
            return EMResult(w1, m1, c1, pc1, ll0, history, n_pass, True)
        prev = ll0
        if not accelerate or n_pass + 3 > max_iter:
            w, m, cov, pc = w1, m1, c1, pc1
            continue
        ll1, w2, m2, c2, pc2 = em(w1, m1, pc1)
        history.append(ll1)
        th0 = _pack(w, m, cov, ct)
        th1 = _pack(w1, m1, c1, ct)
        th2 = _pack(w2, m2, c2, ct)
        r, v = th1 - th0, th2 - 2 * th1 + th0
        nv = np.linalg.norm(v)
        w, m, cov, pc = w2, m2, c2, pc2  # the plain EM point, unless extrapolation wins
        if not np.isfinite(nv) or nv == 0:
            continue
        length = np.linalg.norm(r) / nv
        capped = length >= cap
        alpha = -max(1.0, min(length, cap))
        thx = th0 - 2 * alpha * r + alpha**2 * v
        kept = False
        if np.all(np.isfinite(thx)):
            wx, mx, cx = _unpack(thx, len(w), m.shape[1], ct)
            try:
                llx, w3, m3, c3, pc3 = em(wx, mx, compute_precision_cholesky(cx, ct))
            except (ValueError, np.linalg.LinAlgError):
                llx = -np.inf
            # The safeguard: keep the extrapolated point if it does not lower the
            # log-likelihood or, only when reg_covar > 0, lowers it by a hair (< 1e-8
            # relative) while moving closer to the fixed point (with reg_covar > 0 the fixed
            # point of EM is not exactly a maximum, so the last approach may cost a hair of it).
            kept = llx >= ll1 or (
                llx >= ll1 - slack * max(1.0, abs(ll1))
                and np.linalg.norm(_pack(w3, m3, c3, ct) - thx) < np.linalg.norm(th2 - th1)
            )
            if kept:
                history.append(llx)
                w, m, cov, pc = w3, m3, c3, pc3
        if capped:
            cap = cap * STEP_GROWTH if kept else max(1.0, cap / STEP_GROWTH)
    return EMResult(w, m, cov, pc, history[-1] if history else -np.inf, history, n_pass, False)


# --------------------------------------------------------------------------- SQUAREM
def _pack(weights, means, cov, ct):
    """Unconstrained coordinates for SQUAREM: log weights, means, log-Cholesky covariances."""
    with np.errstate(divide="ignore"):
        parts = [np.log(weights), means.ravel()]
    if ct in ("full", "tied"):
        L = np.linalg.cholesky(cov)
        d = L.shape[-1]
        diag = np.arange(d)
        L = L.copy()
        L[..., diag, diag] = np.log(L[..., diag, diag])
        parts.append(L[..., np.tril_indices(d)[0], np.tril_indices(d)[1]].ravel())
    else:
        parts.append(np.log(cov).ravel())
    return np.concatenate(parts)


def _unpack(theta, k, d, ct):
    lw = theta[:k]
    w = np.exp(lw - lw.max())
    w /= w.sum()
    means = theta[k : k + k * d].reshape(k, d)
    rest = theta[k + k * d :]
    if ct in ("full", "tied"):
        il = np.tril_indices(d)
        nm = 1 if ct == "tied" else k
        L = np.zeros((nm, d, d))
        L[:, il[0], il[1]] = rest.reshape(nm, -1)
        diag = np.arange(d)
        L[:, diag, diag] = np.exp(L[:, diag, diag])
        cov = L @ np.swapaxes(L, 1, 2)
        cov = cov[0] if ct == "tied" else cov
    else:
        cov = np.exp(rest).reshape(k, d) if ct == "diag" else np.exp(rest)
    return w, means, cov


# --------------------------------------------------------------------------- converged fits
def converged_em(
    X: Any,
    n_components: int,
    covariance_type: str = "full",
    *,
    reg_covar: float = 1e-6,
    init_params: str = "kmeans",
    random_state: Any = 0,
    # the fit arguments of GaussianMixture, passed through by name
    sample_weight: Any = None,
    weights_init: Any = None,
    means_init: Any = None,
    precisions_init: Any = None,
    n_init: int = 1,
    max_iter: int = 10000,
    tol: float = CONVERGED_TOL,
    standardize: bool = False,
    engine: str = "auto",
    accelerate: bool | str = True,
):
    """EM run to its fixed point: the reference fit of every bayesgmm-native entry point.

    The scikit-learn-compatible :class:`~bayesgmm.gaussian_mixture.GaussianMixture` stops,
    as scikit-learn does, when one pass changes the mean log-likelihood by less than
    ``tol`` (1e-3 by default): a stopping rule, not a distance to the maximum, and on
    overlapping components EM creeps so slowly that such a stop can be far from it. The
    criteria (AIC, BIC, ICL), the start of the sampler and the comparison with the
    posterior are defined at the maximum, so they use this helper: SQUAREM-accelerated
    EM with ``tol`` = :data:`CONVERGED_TOL`. Returns the fitted ``GaussianMixture``.

    With ``standardize=True`` the fit runs on X standardised by
    :class:`bayesgmm._scaling.Standardizer` (one scale per feature; one common scale for
    "spherical") and is mapped back exactly: ``reg_covar`` is then relative to each
    feature's variance, the k-means and random starts are drawn on the standardised data,
    and the fit of ``a X + b`` is the fit of X mapped through the same affine map, at any
    scale. ``means_init`` and ``precisions_init`` are given in X's units either way.
    ``engine`` and ``accelerate`` (SQUAREM, or its "adaptive" form) are
    :class:`~bayesgmm.gaussian_mixture.GaussianMixture`'s.
    The default keeps scikit-learn's absolute ``reg_covar`` (the fixed point that
    scikit-learn's ``GaussianMixture`` creeps toward).
    """
    from .gaussian_mixture import GaussianMixture

    if standardize:
        from ._scaling import Standardizer
        from ._validation import check_X

        X = check_X(X)
        std = Standardizer.fit(X, isotropic=covariance_type == "spherical", sample_weight=sample_weight)
        gm = converged_em(
            std.transform(X),
            n_components,
            covariance_type,
            reg_covar=reg_covar,
            init_params=init_params,
            random_state=random_state,
            sample_weight=sample_weight,
            weights_init=weights_init,
            means_init=None if means_init is None else std.transform(means_init),
            # a precision maps like a covariance under the inverse map: S P S
            precisions_init=(
                None if precisions_init is None else std.covariances_back(precisions_init, covariance_type)
            ),
            n_init=n_init,
            max_iter=max_iter,
            tol=tol,
            engine=engine,
            accelerate=accelerate,
        )
        return std.model_back(gm)
    gm = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        tol=tol,
        reg_covar=reg_covar,
        max_iter=max_iter,
        n_init=n_init,
        init_params=init_params,
        weights_init=weights_init,
        means_init=means_init,
        precisions_init=precisions_init,
        random_state=random_state,
        accelerate=accelerate,
        engine=engine,
    )
    return gm.fit(X, sample_weight=sample_weight)
