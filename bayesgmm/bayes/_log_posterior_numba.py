r"""The model's log-posterior density in its unconstrained space, compiled once by numba.

The one definition of the density that :func:`bayesgmm.bayes.model.build_model` states
in PyMC (the specification, and the reference the tests compare against): the same
value, the same constants and the same unconstrained coordinates as PyMC's
``model.compile_logp()`` (Jacobians included), and its gradient. Every consumer calls it:
the compiled NUTS (:mod:`bayesgmm.bayes._nuts_numba`) per gradient, with the draws'
constrained values and per-draw log-likelihood; the bridge-sampling evidence's prior
(:func:`log_prior_points`); the Gibbs sampler's LKJ prior on a covariance
(:func:`lkj_covariance_logp`); the PyMC model's LKJ constant (:func:`lkj_log_normaliser`).

The unconstrained vector ``z`` is PyMC's, value variable by value variable in the model's
order (``model.value_vars``), each raveled row-major:

- ``w_simplex__`` (K - 1; absent for K = 1): PyMC's simplex transform,
  ``y = [z, -sum z]``, ``w = softmax(y)``, log-Jacobian ``log K + sum_k log w_k``;
- ``mu_ordered_first_column__`` (K d; ``mu`` itself for K = 1): ``mu[0, 0] = z``,
  ``mu[k, 0] = mu[k-1, 0] + exp(z_k)`` (log-Jacobian the sum of those ``z_k``), the other
  columns as they are;
- ``sigma_log__`` (K d, or K for one feature): ``sigma = exp(z)``, log-Jacobian ``sum z``;
- ``chol_cholesky-cov-packed__`` (K d(d+1)/2, full covariances with d >= 2): each
  component's lower Cholesky factor, row-major, its diagonal logged (log-Jacobian the sum
  of the logged entries).

The priors (all normalised, constants included): ``w ~ Dirichlet(alpha)``; ``mu[k, f] ~
Normal(mean_loc[f], mean_scale[f])`` (ordering the means along the first feature makes
the density ``1/K!`` of a proper one: PyMC's model has no ``K!`` either); standard
deviations ``~ HalfNormal(sd_scale[f])``; for full covariances, the LKJ(eta) correlations
of :func:`lkj_cholesky_cov_logp` with bayesgmm's sign of the LKJ normalising constant,
which build_model uses on every PyMC line (PyMC 5 adds it, PyMC 6 subtracts it; the model
does not use PyMC's ``LKJCholeskyCov``, so both lines give the same density).

The likelihood and its gradient are the fused pass of :mod:`bayesgmm.bayes._likelihood_numba`
(Fisher's identity): one pass over the data per call, in the calling thread, the GIL
released. Module-level ``cache=True`` functions: the next process loads them from numba's
on-disk cache.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._likelihood_numba import loglike_grad_diag, loglike_grad_full

__all__ = [
    "constrain",
    "halfnormal_logp",
    "lkj_cholesky_cov_logp",
    "lkj_covariance_logp",
    "lkj_log_normaliser",
    "log_posterior",
    "n_unconstrained",
    "unconstrain",
]

LOG_2PI = math.log(2.0 * math.pi)
LOG_HALFNORMAL = 0.5 * math.log(2.0 / math.pi)  # log of the HalfNormal(1) density at 0


def n_unconstrained(full: bool, k: int, d: int) -> int:
    """Length of ``z``: (K - 1) + K d + K d(d+1)/2 (full) or K d (diag)."""
    return (k - 1) + k * d + k * (d * (d + 1) // 2 if full else d)


# --------------------------------------------------------------------------- prior pieces
@njit(cache=True, nogil=True)
def lkj_log_normaliser(n, eta):  # pragma: no cover - compiled
    """log of the integral of det(R)^(eta - 1) over n x n correlation matrices (LKJ 2009).

    ``log c_n(eta) = sum_{k=1}^{n-1} [(2 eta - 2 + n - k)(n - k) log 2 + (n - k) log B(b, b)]``
    with ``b = eta + (n - k - 1) / 2``; for n = 2 this is ``log(2^(2 eta - 1) B(eta, eta))``.
    """
    out = 0.0
    for k in range(1, n):
        m = n - k
        b = eta + (m - 1) / 2.0
        out += (2.0 * eta - 2.0 + m) * m * math.log(2.0) + m * (2.0 * math.lgamma(b) - math.lgamma(2.0 * b))
    return out


@njit(cache=True, nogil=True)
def halfnormal_logp(x, scale):  # pragma: no cover - compiled
    """log HalfNormal(x | scale) for x >= 0."""
    u = x / scale
    return LOG_HALFNORMAL - math.log(scale) - 0.5 * u * u


@njit(cache=True, nogil=True)
def lkj_cholesky_cov_logp(L, sd_scale, eta, grad):  # pragma: no cover - compiled
    """log-density of one covariance's lower Cholesky factor ``L`` (d, d); adds its
    gradient with respect to the lower triangle of ``L`` to ``grad`` (d, d).

    The standard deviations ``s_i`` (row norms of ``L``) have HalfNormal(sd_scale_i)
    priors, the correlation matrix ``C C^T`` (``C = diag(s)^-1 L``) the LKJ(eta) prior.
    With Stan's density of ``C``, ``c^-1 prod_i C_ii^(d - i + 2 eta - 3)`` (rows counted
    from 0), and the change of variables row by row, ``d L_i = s_i^i / C_ii ds_i dC_i``:

        log p(L) = sum_i [log HalfNormal(s_i) + (2 eta - 2 + d - i) log C_ii - i log s_i]
                   - log c_d(eta)

    (:func:`bayesgmm.bayes.model.lkj_cholesky_cov_logp` is the same density in PyTensor).
    """
    d = L.shape[0]
    out = -lkj_log_normaliser(d, eta)
    for i in range(d):
        ss = 0.0
        for j in range(i + 1):
            ss += L[i, j] * L[i, j]
        s = math.sqrt(ss)
        c = 2.0 * eta - 2.0 + d - i
        out += halfnormal_logp(s, sd_scale[i]) + c * math.log(L[i, i] / s) - i * math.log(s)
        inv_sc2 = 1.0 / (sd_scale[i] * sd_scale[i])
        inv_s2 = (2.0 * eta - 2.0 + d) / ss
        for j in range(i + 1):
            grad[i, j] -= L[i, j] * (inv_sc2 + inv_s2)
        grad[i, i] += c / L[i, i]
    return out


@njit(cache=True, nogil=True)
def lkj_covariance_logp(L, sd_scale, eta):  # pragma: no cover - compiled
    """The same prior as a density of the covariance ``Sigma = L L^T`` (what a sampler that
    moves ``Sigma`` needs): :func:`lkj_cholesky_cov_logp` less the log-Jacobian of
    ``L -> L L^T``, ``d log 2 + sum_i (d - i) log L_ii`` (rows counted from 0)."""
    d = L.shape[0]
    out = lkj_cholesky_cov_logp(L, sd_scale, eta, np.zeros((d, d))) - d * math.log(2.0)
    for i in range(d):
        out -= (d - i) * math.log(L[i, i])
    return out


@njit(cache=True, nogil=True)
def dirichlet_log_normaliser(alpha):  # pragma: no cover - compiled
    """``log Gamma(sum alpha) - sum log Gamma(alpha_k)``: the Dirichlet's constant."""
    out = 0.0
    total = 0.0
    for a in alpha:
        out -= math.lgamma(a)
        total += a
    return out + math.lgamma(total)


# --------------------------------------------------------------------------- transforms
@njit(cache=True, nogil=True)
def constrain(z, k, d, full):  # pragma: no cover - compiled
    """``(w, mu, L, log_jac)`` of one unconstrained vector: ``L`` (K, d, d) the lower
    Cholesky factors of the covariances (diagonal, the standard deviations, unless
    ``full``); ``log_jac`` the log-Jacobian of the transforms (PyMC's)."""
    w = np.ones(k)
    log_jac = 0.0
    if k > 1:
        y = np.empty(k)
        s = 0.0
        for i in range(k - 1):
            y[i] = z[i]
            s += z[i]
        y[k - 1] = -s
        mx = y[0]
        for i in range(1, k):
            mx = max(mx, y[i])
        t = 0.0
        for i in range(k):
            t += math.exp(y[i] - mx)
        lse = mx + math.log(t)
        log_jac += math.log(k)
        for i in range(k):
            lw = y[i] - lse
            w[i] = math.exp(lw)
            log_jac += lw
    pos = k - 1
    mu = np.empty((k, d))
    for c in range(k):
        for f in range(d):
            mu[c, f] = z[pos + c * d + f]
    for c in range(1, k):
        gap = z[pos + c * d]
        mu[c, 0] = mu[c - 1, 0] + math.exp(gap)
        log_jac += gap
    pos += k * d
    L = np.zeros((k, d, d))
    for c in range(k):
        for i in range(d):
            if full:
                for j in range(i):
                    L[c, i, j] = z[pos]
                    pos += 1
            log_jac += z[pos]
            L[c, i, i] = math.exp(z[pos])
            pos += 1
    return w, mu, L, log_jac


def unconstrain(w: np.ndarray, mu: np.ndarray, L: np.ndarray, full: bool) -> np.ndarray:
    """The inverse of :func:`constrain`: ``z`` of ``(w, mu, L)`` (means strictly ordered
    along the first feature, or ``z`` is not finite). Plain numpy: a few calls per fit,
    not worth a compilation."""
    w, mu, L = (np.asarray(a, dtype=float) for a in (w, mu, L))
    k, d = mu.shape
    parts = []
    rows, cols = np.tril_indices(d) if full else (np.arange(d), np.arange(d))
    with np.errstate(divide="ignore", invalid="ignore"):  # outside the support: not finite
        if k > 1:
            lw = np.log(w)
            parts.append(lw[:-1] - lw.mean())
        m = mu.copy()
        m[1:, 0] = np.log(np.diff(mu[:, 0]))
        parts.append(m.ravel())
        tri = L[:, rows, cols].copy()
        diag = rows == cols
        tri[:, diag] = np.log(tri[:, diag])
    parts.append(tri.ravel())
    return np.concatenate(parts)


# --------------------------------------------------------------------------- the density
@njit(cache=True, nogil=True)
def log_prior(w, mu, L, alpha, mean_loc, mean_scale, sd_scale, eta, g_w, g_mu, g_L):  # pragma: no cover
    """The prior density of ``(w, mu, L)`` (no transform, no ordering); adds its gradient
    with respect to ``w``, ``mu`` and the lower triangle of ``L`` (its diagonal, the
    standard deviations, when ``eta`` is None) to ``g_w``, ``g_mu``, ``g_L``.

    ``w ~ Dirichlet(alpha)`` (nothing for K = 1), ``mu[k, f] ~ Normal(mean_loc[f],
    mean_scale[f])``, and each ``L[k]`` by :func:`lkj_cholesky_cov_logp` or, when ``eta``
    is None, ``L[k, f, f] ~ HalfNormal(sd_scale[f])``.
    """
    k, d = mu.shape
    out = 0.0
    if k > 1:
        out += dirichlet_log_normaliser(alpha)
        for i in range(k):
            out += (alpha[i] - 1.0) * math.log(w[i])
            g_w[i] += (alpha[i] - 1.0) / w[i]
    for c in range(k):
        for f in range(d):
            u = (mu[c, f] - mean_loc[f]) / mean_scale[f]
            out += -0.5 * LOG_2PI - math.log(mean_scale[f]) - 0.5 * u * u
            g_mu[c, f] -= u / mean_scale[f]
    for c in range(k):
        if eta is None:
            for f in range(d):
                s = L[c, f, f]
                out += halfnormal_logp(s, sd_scale[f])
                g_L[c, f, f] -= s / (sd_scale[f] * sd_scale[f])
        else:
            out += lkj_cholesky_cov_logp(L[c], sd_scale, eta, g_L[c])
    return out


@njit(cache=True, nogil=True)
def log_prior_points(w, mu, L, alpha, mean_loc, mean_scale, sd_scale, eta):  # pragma: no cover
    """:func:`log_prior` of many points: ``w`` (S, K), ``mu`` (S, K, d), ``L`` (S, K, d, d)."""
    S, k, d = mu.shape
    out = np.empty(S)
    g_w = np.zeros(k)
    g_mu = np.zeros((k, d))
    g_L = np.zeros((k, d, d))
    for i in range(S):
        out[i] = log_prior(w[i], mu[i], L[i], alpha, mean_loc, mean_scale, sd_scale, eta, g_w, g_mu, g_L)
    return out


@njit(cache=True, nogil=True)
def log_posterior(z, grad, X, shift, alpha, mean_loc, mean_scale, sd_scale, eta):  # pragma: no cover
    """The log-posterior density at ``z`` (see the module docstring); writes its gradient
    into ``grad`` (shaped like ``z``) and returns ``(log density, total log-likelihood)``.

    Parameters
    ----------
    z, grad : arrays of shape (p,)
    X : array of shape (n_samples, n_features), C-contiguous
    shift : array of shape (n_features,)
        The centre the fused pass subtracts (the data mean: accuracy only).
    alpha : array of shape (K,)
    mean_loc, mean_scale, sd_scale : arrays of shape (n_features,)
    eta : float or None
        The LKJ concentration of full covariances (LKJ Cholesky factors); ``None`` for
        standard deviations. numba compiles the two kinds separately and each only
        when first used (its ``is None`` branch is resolved at compile time).

    Outside the support (a weight, a scale or a gap that under- or overflows) the density
    is ``-inf`` and the gradient zero.
    """
    k = alpha.shape[0]
    d = X.shape[1]
    for i in range(grad.shape[0]):
        grad[i] = 0.0
    w, mu, L, lp = constrain(z, k, d, eta is not None)
    for i in range(k):
        if not w[i] > 0.0:
            return -np.inf, -np.inf
    # the likelihood's gradient in (w, mu, L), then the prior's added to it
    if eta is None:
        sig = np.empty((k, d))
        for c in range(k):
            for f in range(d):
                sig[c, f] = L[c, f, f]
        ll, g_w, g_mu, g_sig = loglike_grad_diag(X, shift, w, mu, sig)
        g_L = np.zeros((k, d, d))
        for c in range(k):
            for f in range(d):
                g_L[c, f, f] = g_sig[c, f]
    else:
        ll, g_w, g_mu, g_L = loglike_grad_full(X, shift, w, mu, L)
    if not math.isfinite(ll):
        return -np.inf, ll
    lp += ll + log_prior(w, mu, L, alpha, mean_loc, mean_scale, sd_scale, eta, g_w, g_mu, g_L)
    # the chain rule through the transforms, their log-Jacobians' gradients included
    # weights: w = softmax(y), y = [z, -sum z]; d/dy_i = w_i (g_i - sum_j w_j g_j) + 1 - K w_i
    if k > 1:
        wg = 0.0
        for i in range(k):
            wg += w[i] * g_w[i]
        last = w[k - 1] * (g_w[k - 1] - wg) + 1.0 - k * w[k - 1]
        for i in range(k - 1):
            grad[i] = w[i] * (g_w[i] - wg) + 1.0 - k * w[i] - last
    # means: mu[0, 0] = z_0, mu[c, 0] = mu[c - 1, 0] + exp(z_c); the other columns as they are
    pos = k - 1
    for c in range(k):
        for f in range(d):
            grad[pos + c * d + f] = g_mu[c, f]
    tail = 0.0  # d mu[j, 0] / d z_c = exp(z_c) for every j >= c >= 1
    for c in range(k - 1, 0, -1):
        tail += grad[pos + c * d]
        grad[pos + c * d] = math.exp(z[pos + c * d]) * tail + 1.0
    if k > 1:
        grad[pos] += tail
    # covariances: the packed factor's (or the sds') diagonal logged
    pos += k * d
    for c in range(k):
        for i in range(d):
            if eta is not None:
                for j in range(i):
                    grad[pos] = g_L[c, i, j]
                    pos += 1
            grad[pos] = g_L[c, i, i] * L[c, i, i] + 1.0
            pos += 1
    return lp, ll
