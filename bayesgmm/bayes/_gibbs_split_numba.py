"""The split move of :mod:`bayesgmm.bayes._gibbs_split` compiled by numba (imported only
when numba is installed); the same proposal and acceptance, numba's random stream.

``run_chain`` (:mod:`bayesgmm.bayes._gibbs_numba`) calls :func:`split_move`, and numba's
disk cache of a function is keyed on its own file only: after editing this file, delete
``bayesgmm/bayes/__pycache__/_gibbs_numba*.nb*`` (or touch ``_gibbs_numba.py``), or the
cached chain keeps the old move. A fresh install or clone has no such cache."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._gibbs_numba import _gram, sq_dist, wishart_factor

LOG_2PI = math.log(2.0 * math.pi)


@njit(cache=True)
def _log_iw(prec_chol, df, scale):  # pragma: no cover - compiled
    """log InverseWishart(Sigma | df, scale) up to terms in df and scale alone, at
    ``Sigma^-1 = prec_chol prec_chol^T``."""
    d = prec_chol.shape[0]
    prec = _gram(prec_chol)
    out = 0.0
    for a in range(d):
        out += (df + d + 1.0) * math.log(prec_chol[a, a])
        for b in range(d):
            out -= 0.5 * scale[a, b] * prec[b, a]
    return out


@njit(cache=True)
def _log_prior(mu, prec_chol, var_row, full, m0, ms, iw_df, iw_scale):  # pragma: no cover
    """log p(mu_k, Sigma_k) under the Normal mean prior and the inverse-Wishart (one feature
    at a time for the diagonal model) scale prior, up to a constant."""
    d = mu.shape[0]
    out = 0.0
    for f in range(d):
        out -= 0.5 * ((mu[f] - m0[f]) / ms[f]) ** 2
    if full:
        return out + _log_iw(prec_chol, iw_df, iw_scale)
    for f in range(d):
        out -= (0.5 * iw_df + 1.0) * math.log(var_row[f]) + 0.5 * iw_scale[f, f] / var_row[f]
    return out


@njit(cache=True)
def _proposal_scales(ref_cov, q_df, isotropic):  # pragma: no cover - compiled
    """The inverse-Wishart scale of one of the two covariance proposals: mean ``Sigma_c / 4``,
    or isotropic with a quarter of ``Sigma_c``'s average variance (a group inside a component
    that spans two is narrower along their axis only)."""
    d = ref_cov.shape[0]
    if not isotropic:
        return (q_df - d - 1.0) * ref_cov / 4.0
    return (q_df - d - 1.0) * np.trace(ref_cov) / (4.0 * d) * np.eye(d)


@njit(cache=True)
def _log_q_scale(prec_chol, var_row, full, ref_cov, q_df):  # pragma: no cover - compiled
    """log density of the covariance proposal, the even mixture of the two inverse-Wisharts
    of :func:`_proposal_scales` (per feature, jointly over features, for the diagonal model)."""
    d = prec_chol.shape[0]
    vals = np.empty(2)
    for j in range(2):
        psi = _proposal_scales(ref_cov, q_df, j == 1)
        if full:
            log_det = 2.0 * np.sum(np.log(np.diag(np.linalg.cholesky(psi))))
            vals[j] = _log_iw(prec_chol, q_df, psi) + 0.5 * q_df * log_det
        else:
            vals[j] = 0.0
            for f in range(d):
                b = 0.5 * psi[f, f]
                vals[j] += (
                    0.5 * q_df * math.log(b) - (0.5 * q_df + 1.0) * math.log(var_row[f]) - b / var_row[f]
                )
    top = max(vals[0], vals[1])
    return top + math.log(0.5 * math.exp(vals[0] - top) + 0.5 * math.exp(vals[1] - top))


@njit(cache=True)
def _log_q_u(log_u, a):  # pragma: no cover - compiled
    """log density of the proposed share u: half Beta(a, 1), half uniform."""
    x = math.log(0.5 * a) + (a - 1.0) * log_u
    y = math.log(0.5)
    top = max(x, y)
    return top + math.log(math.exp(x - top) + math.exp(y - top))


@njit(cache=True)
def split_move(X, logw, mu, chol, var, full, alpha, m0, ms, iw_df, iw_scale, q_df, width):  # pragma: no cover
    """One Metropolis-Hastings split proposal on the weights and parameters with the
    allocations summed out (see :mod:`bayesgmm.bayes._gibbs_split`); updates ``logw``,
    ``mu``, ``chol`` and ``var`` in place when accepted. Returns whether it was."""
    n, d = X.shape
    k_max = logw.shape[0]
    c = np.random.randint(k_max)
    e = np.random.randint(k_max - 1)
    e = e + 1 if e >= c else e
    top = max(logw[c], logw[e])
    log_s = top + math.log(math.exp(logw[c] - top) + math.exp(logw[e] - top))
    alpha_e = alpha[e]
    if np.random.random() < 0.5:
        log_u = math.log(np.random.random()) / alpha_e  # Beta(alpha_e, 1): the weight of an empty component
    else:
        log_u = math.log(np.random.random())
    if log_u == -np.inf or log_u >= 0.0:  # nothing to move
        return False
    new_logw_c = log_s + math.log1p(-math.exp(log_u))
    new_logw_e = log_s + log_u
    cur_log_u = logw[e] - log_s
    # the proposal: a mean near a random observation, a covariance about a quarter of c's
    r = np.random.randint(n)
    ref_chol = chol[c].copy()
    ref_cov = np.linalg.inv(_gram(ref_chol))
    ref_lower = np.linalg.cholesky(ref_cov)
    new_mu = np.empty(d)
    eps = np.random.standard_normal(d)
    for a in range(d):
        t = 0.0
        for b in range(a + 1):
            t += ref_lower[a, b] * eps[b]
        new_mu[a] = X[r, a] + width * t
    new_chol = np.zeros((d, d))
    new_var = np.ones(d)
    psi = _proposal_scales(ref_cov, q_df, np.random.random() < 0.5)
    if full:
        wishart_factor(np.linalg.cholesky(np.linalg.inv(psi)), q_df, new_chol)
    else:
        for f in range(d):
            new_var[f] = 0.5 * psi[f, f] / np.random.gamma(0.5 * q_df)
            new_chol[f, f] = 1.0 / math.sqrt(new_var[f])
    # log q of the current and proposed means: a mixture over the observations
    log_q_mu = np.empty(2)
    for which in range(2):
        point = mu[e] if which == 0 else new_mu
        top = -np.inf
        vals = np.empty(n)
        for i in range(n):
            vals[i] = -0.5 * sq_dist(ref_chol, X, i, point) / width**2
            top = max(top, vals[i])
        acc = 0.0
        for i in range(n):
            acc += math.exp(vals[i] - top)
        log_q_mu[which] = top + math.log(acc)
    # the mixture log-likelihood before and after (the allocations summed out)
    logdet = np.empty(k_max)
    for k in range(k_max):
        logdet[k] = 0.0
        for a in range(d):
            logdet[k] += math.log(chol[k, a, a])
    new_logdet = 0.0
    for a in range(d):
        new_logdet += math.log(new_chol[a, a])
    lp = np.empty(k_max)
    ll_old = 0.0
    ll_new = 0.0
    for i in range(n):
        top = -np.inf
        for k in range(k_max):
            lp[k] = logdet[k] - 0.5 * sq_dist(chol[k], X, i, mu[k])
        lp_new_e = new_logdet - 0.5 * sq_dist(new_chol, X, i, new_mu)
        top_old = -np.inf
        top_new = -np.inf
        for k in range(k_max):
            top_old = max(top_old, logw[k] + lp[k])
            if k == c:
                top_new = max(top_new, new_logw_c + lp[k])
            elif k == e:
                top_new = max(top_new, new_logw_e + lp_new_e)
            else:
                top_new = max(top_new, logw[k] + lp[k])
        s_old = 0.0
        s_new = 0.0
        for k in range(k_max):
            s_old += math.exp(logw[k] + lp[k] - top_old)
            if k == c:
                s_new += math.exp(new_logw_c + lp[k] - top_new)
            elif k == e:
                s_new += math.exp(new_logw_e + lp_new_e - top_new)
            else:
                s_new += math.exp(logw[k] + lp[k] - top_new)
        ll_old += top_old + math.log(s_old)
        ll_new += top_new + math.log(s_new)
    log_ratio = ll_new - ll_old + _log_q_u(cur_log_u, alpha_e) - _log_q_u(log_u, alpha_e)
    log_ratio += (alpha[c] - 1.0) * (new_logw_c - logw[c]) + (alpha[e] - 1.0) * (new_logw_e - logw[e])
    log_ratio += _log_prior(new_mu, new_chol, new_var, full, m0, ms, iw_df, iw_scale)
    log_ratio -= _log_prior(mu[e], chol[e], var[e], full, m0, ms, iw_df, iw_scale)
    log_ratio += _log_q_scale(chol[e], var[e], full, ref_cov, q_df) + log_q_mu[0]
    log_ratio -= _log_q_scale(new_chol, new_var, full, ref_cov, q_df) + log_q_mu[1]
    if not math.log(np.random.random()) < log_ratio:
        return False
    logw[c] = new_logw_c
    logw[e] = new_logw_e
    mu[e] = new_mu
    chol[e] = new_chol
    if not full:
        var[e] = new_var
    return True
