"""The allocation step of :mod:`bayesgmm.bayes.gibbs` compiled by numba (imported only when
numba is installed).

Module-level functions with ``cache=True``, so that numba's on-disk cache finds them again in
the next process.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._log_posterior_numba import lkj_covariance_logp

LOG_2PI = math.log(2.0 * math.pi)


@njit(inline="always")
def sq_dist(prec_chol, X, i, mean):  # pragma: no cover - compiled
    """``|L^T (x_i - mean)|^2`` for the lower precision factor ``L = prec_chol``: the
    quadratic term of ``log N(x_i | mean, (L L^T)^-1)``."""
    q = 0.0
    for a in range(X.shape[1]):
        t = 0.0
        for b in range(a, X.shape[1]):
            t += prec_chol[b, a] * (X[i, b] - mean[b])
        q += t * t
    return q


@njit(cache=True, nogil=True)
def allocate(X, logw, means, chol, logdet, u, z, nk, s1, s2):  # pragma: no cover - compiled
    """Draw every allocation given the parameters and sum the statistics of the new groups.

    ``chol[k]`` is lower triangular with ``chol[k] @ chol[k].T`` the precision of component
    ``k`` and ``logdet[k]`` the sum of the logs of its diagonal. Observation ``i`` goes to
    the first component whose cumulative probability reaches ``u[i]`` times the total (a component of probability 0 is never chosen).
    Fills ``z``, ``nk``, ``s1`` (sums of x) and ``s2`` (sums of x x^T) and returns the
    total log-likelihood ``sum_i log sum_k w_k N(x_i | k)`` of the parameters.
    """
    n, d = X.shape
    k_max = logw.shape[0]
    lp = np.empty(k_max)
    nk[:] = 0
    s1[:] = 0.0
    s2[:] = 0.0
    total = 0.0
    for i in range(n):
        top = -np.inf
        for k in range(k_max):
            lp[k] = logw[k] + logdet[k] - 0.5 * sq_dist(chol[k], X, i, means[k])
            if lp[k] > top:
                top = lp[k]
        s = 0.0
        for k in range(k_max):
            lp[k] = math.exp(lp[k] - top)
            s += lp[k]
        total += top + math.log(s)
        target = u[i] * s
        acc = 0.0
        pick = -1
        last = 0
        for k in range(k_max):
            if lp[k] > 0.0:
                last = k
                acc += lp[k]
                if acc >= target:
                    pick = k
                    break
        if pick < 0:  # rounding left the total a hair short: the last possible component
            pick = last
        z[i] = pick
        nk[pick] += 1
        for a in range(d):
            s1[pick, a] += X[i, a]
            for b in range(d):
                s2[pick, a, b] += X[i, a] * X[i, b]
    return total - 0.5 * n * d * LOG_2PI


@njit(cache=True)
def _gram(lower):  # pragma: no cover - compiled
    """``lower @ lower.T`` (written out: numba warns about products with a transposed view)."""
    d = lower.shape[0]
    out = np.zeros((d, d))
    for a in range(d):
        for b in range(d):
            t = 0.0
            for j in range(min(a, b) + 1):
                t += lower[a, j] * lower[b, j]
            out[a, b] = t
    return out


@njit(cache=True)
def wishart_factor(lower, df, out):  # pragma: no cover - compiled
    """Fill ``out`` with the lower Cholesky factor of a draw of ``Wishart(df, lower lower^T)``
    (Bartlett's decomposition: ``lower @ A`` with ``A_aa = sqrt(chi2(df - a))`` and standard
    normals below the diagonal)."""
    d = lower.shape[0]
    bart = np.zeros((d, d))
    for a in range(d):
        bart[a, a] = math.sqrt(np.random.chisquare(df - a))
        for j in range(a):
            bart[a, j] = np.random.standard_normal()
    for a in range(d):
        for j in range(d):
            t = 0.0
            for m in range(j, a + 1):
                t += lower[a, m] * bart[m, j]
            out[a, j] = t


@njit(cache=True)
def _log_dirichlet(a, out):  # pragma: no cover - compiled
    top = -np.inf
    for k in range(a.shape[0]):
        if a[k] < 1.0:
            out[k] = math.log(np.random.gamma(a[k] + 1.0)) + math.log(np.random.random()) / a[k]
        else:
            out[k] = math.log(np.random.gamma(a[k]))
        top = max(top, out[k])
    s = 0.0
    for k in range(a.shape[0]):
        s += math.exp(out[k] - top)
    out -= top + math.log(s)


@njit(cache=True)
def _diag_update(
    nk, s1, s2, m0, ms, sd_scale, halfnormal, ig_shape, ig_scale, var, mu, chol, singleton_steps
):  # pragma: no cover
    k_max, d = var.shape
    for k in range(k_max):
        for f in range(d):
            prec0 = 1.0 / ms[f] ** 2
            prec = prec0 + nk[k] / var[k, f]
            mean = (prec0 * m0[f] + s1[k, f] / var[k, f]) / prec
            mu[k, f] = mean + np.random.standard_normal() / math.sqrt(prec)
            ss = max(s2[k, f, f] - 2.0 * mu[k, f] * s1[k, f] + nk[k] * mu[k, f] ** 2, 0.0)
            sc2 = sd_scale[f] ** 2
            if not halfnormal:
                var[k, f] = (ig_scale[f] + 0.5 * ss) / np.random.gamma(ig_shape + 0.5 * nk[k])
            elif nk[k] == 0:
                var[k, f] = sc2 * np.random.standard_normal() ** 2
            elif nk[k] == 1:
                for _ in range(singleton_steps):
                    prop = sc2 * np.random.standard_normal() ** 2
                    log_ratio = -0.5 * math.log(prop / var[k, f]) - 0.5 * ss * (1.0 / prop - 1.0 / var[k, f])
                    if math.log(np.random.random()) < log_ratio:
                        var[k, f] = prop
            else:
                prop = ss / 2.0 / np.random.gamma((nk[k] - 1) / 2.0)
                if math.log(np.random.random()) < -(prop - var[k, f]) / (2.0 * sc2):
                    var[k, f] = prop
            for g in range(d):
                chol[k, f, g] = 0.0
            chol[k, f, f] = 1.0 / math.sqrt(var[k, f])


@njit(cache=True)
def _full_update(nk, s1, s2, m0, ms, iw_df, iw_scale, mu, chol):  # pragma: no cover - compiled
    k_max, d = mu.shape
    for k in range(k_max):
        prec = _gram(chol[k])
        lam = nk[k] * prec
        b = np.zeros(d)
        for a in range(d):
            for j in range(d):
                b[a] += prec[a, j] * s1[k, j]
        for f in range(d):
            lam[f, f] += 1.0 / ms[f] ** 2
            b[f] += m0[f] / ms[f] ** 2
        c = np.linalg.cholesky(lam)
        mean = np.linalg.solve(lam, b)
        e = np.random.standard_normal(d)
        noise = np.zeros(d)  # C^-T e: back substitution on the upper triangle C^T
        for a in range(d - 1, -1, -1):
            t = e[a]
            for j in range(a + 1, d):
                t -= c[j, a] * noise[j]
            noise[a] = t / c[a, a]
        for f in range(d):
            mu[k, f] = mean[f] + noise[f]
        psi = iw_scale.copy()
        for a in range(d):
            for j in range(d):
                psi[a, j] += (
                    s2[k, a, j] - mu[k, a] * s1[k, j] - s1[k, a] * mu[k, j] + nk[k] * mu[k, a] * mu[k, j]
                )
        wishart_factor(np.linalg.cholesky(np.linalg.inv(psi)), iw_df + nk[k], chol[k])


@njit(cache=True)
def _hierarchical_scale(chol, full, g0, G0, iw_df, iw_scale):  # pragma: no cover - compiled
    """Overwrite ``iw_scale`` with ``2 C0``, ``C0 | Sigma_1..K ~ W(g0 + K iw_df / 2, G0 +
    sum_k Sigma_k^-1)`` in the rate convention of :mod:`bayesgmm.bayes._gibbs_priors`
    (``chol[k] @ chol[k].T = Sigma_k^-1``): per feature a Gamma draw for the diagonal model,
    else Bartlett's decomposition of the Wishart with ``2 (g0 + K iw_df / 2)`` degrees of
    freedom and scale ``(2 (G0 + sum_k Sigma_k^-1))^-1``."""
    k_max, d = chol.shape[0], chol.shape[1]
    shape = g0 + 0.5 * k_max * iw_df
    if not full:
        for f in range(d):
            rate = G0[f, f]
            for k in range(k_max):
                rate += chol[k, f, f] ** 2
            iw_scale[f, f] = 2.0 * np.random.gamma(shape) / rate
        return
    rate = G0.copy()
    for k in range(k_max):
        rate += _gram(chol[k])
    factor = np.zeros((d, d))
    wishart_factor(np.linalg.cholesky(np.linalg.inv(2.0 * rate)), 2.0 * shape, factor)
    gram = _gram(factor)
    for a in range(d):
        for j in range(d):
            iw_scale[a, j] = 2.0 * gram[a, j]


@njit(cache=True)
def _log_prior_excess(prec_chol, sd_scale, eta, iw_df, iw_scale):  # pragma: no cover - compiled
    """``log p(Sigma) - log IW(Sigma | iw_df, iw_scale)`` up to a constant, at ``Sigma =
    (L L^T)^-1`` for the precision factor ``L = prec_chol``: ``p`` is the NUTS model's prior
    (HalfNormal(sd_scale) standard deviations, LKJ(eta) correlations) as a density of Sigma,
    the model's own function (:func:`~bayesgmm.bayes._log_posterior_numba.lkj_covariance_logp`)."""
    d = prec_chol.shape[0]
    prec = _gram(prec_chol)
    out = lkj_covariance_logp(np.linalg.cholesky(np.linalg.inv(prec)), sd_scale, eta)
    logdet = 0.0  # log det Sigma
    for a in range(d):
        logdet -= 2.0 * math.log(prec_chol[a, a])
    out += 0.5 * (iw_df + d + 1.0) * logdet
    for f in range(d):
        for g in range(d):
            out += 0.5 * iw_scale[f, g] * prec[g, f]
    return out


@njit(cache=True)
def _lkj_prior_draw(sd_scale, eta, prec_chol):  # pragma: no cover - compiled
    """Fill ``prec_chol`` with the precision factor of a draw of the NUTS model's prior:
    standard deviations ``|N(0, sd_scale)|`` and an LKJ(eta) correlation matrix by the onion
    method (Lewandowski, Kurowicka & Joe 2009; as PyMC's ``LKJCorr``)."""
    d = sd_scale.shape[0]
    corr = np.zeros((d, d))  # its lower Cholesky factor
    corr[0, 0] = 1.0
    if d > 1:
        beta = eta - 1.0 + d / 2.0
        r = 2.0 * np.random.beta(beta, beta) - 1.0
        corr[1, 0] = r
        corr[1, 1] = math.sqrt(1.0 - r * r)
        for m in range(2, d):
            beta -= 0.5
            y = np.random.beta(m / 2.0, beta)
            e = np.random.standard_normal(m)
            norm = math.sqrt(np.sum(e * e))
            for j in range(m):
                corr[m, j] = math.sqrt(y) * e[j] / norm
            corr[m, m] = math.sqrt(1.0 - y)
    lower = np.zeros((d, d))
    for a in range(d):
        s = sd_scale[a] * abs(np.random.standard_normal())
        for j in range(a + 1):
            lower[a, j] = s * corr[a, j]
    prec_chol[:, :] = np.linalg.cholesky(np.linalg.inv(_gram(lower)))


@njit(cache=True)
def _full_update_lkj(nk, s1, s2, m0, ms, iw_df, iw_scale, sd_scale, eta, mu, chol, steps):  # pragma: no cover
    """``steps`` rounds of (each mean given its covariance; each covariance given its mean)
    under the NUTS model's HalfNormal / LKJ prior: the covariance is proposed from its
    inverse-Wishart conditional (:func:`_full_update`) and accepted with the ratio of the
    two priors (the likelihood cancels), an empty component's drawn from the prior."""
    k_max = mu.shape[0]
    for _ in range(steps):
        old = chol.copy()
        _full_update(nk, s1, s2, m0, ms, iw_df, iw_scale, mu, chol)
        for k in range(k_max):
            if nk[k] == 0:
                _lkj_prior_draw(sd_scale, eta, chol[k])
                continue
            log_ratio = _log_prior_excess(chol[k], sd_scale, eta, iw_df, iw_scale) - _log_prior_excess(
                old[k], sd_scale, eta, iw_df, iw_scale
            )
            if not math.log(np.random.random()) < log_ratio:
                chol[k] = old[k]


@njit(cache=True)
def run_chain(
    X,
    z,
    seed,
    alpha,
    m0,
    ms,
    sd_scale,
    full,
    halfnormal,
    iw_df,
    iw_scale,
    var,
    chol,
    singleton_steps,
    tune,
    out_w,
    out_mu,
    out_cov,
    out_nk,
    out_ll,
    hier_g0,
    hier_G0,
    lkj_eta,
    thin,
    split_moves,
):  # pragma: no cover - compiled
    """One chain of the Gibbs sampler of :mod:`bayesgmm.bayes.gibbs`, every step compiled,
    from the allocation ``z`` and the starting scales (``var`` for the diagonal model,
    ``chol`` the precision factors for the full one); numba's generator seeded with ``seed``.
    The diagonal model's variances have the HalfNormal prior on their square roots
    (``halfnormal``) or the one-feature inverse-Wishart ``IG(iw_df / 2, iw_scale[f, f] / 2)``;
    the full model's covariances the inverse-Wishart or, with ``halfnormal``, the NUTS
    model's HalfNormal / LKJ(``lkj_eta``) prior. With ``hier_g0 > 0`` (the hierarchical
    prior, :mod:`bayesgmm.bayes._gibbs_priors`) ``iw_scale`` is redrawn every sweep by
    :func:`_hierarchical_scale`. One draw is kept every ``thin`` sweeps; each sweep makes
    ``split_moves`` proposals of :mod:`bayesgmm.bayes._gibbs_split` before the allocations."""
    np.random.seed(seed)
    n, d = X.shape
    k_max = alpha.shape[0]
    nk = np.zeros(k_max, dtype=np.int64)
    s1 = np.zeros((k_max, d))
    s2 = np.zeros((k_max, d, d))
    for i in range(n):
        nk[z[i]] += 1
        for a in range(d):
            s1[z[i], a] += X[i, a]
            for b in range(d):
                s2[z[i], a, b] += X[i, a] * X[i, b]
    logw = np.empty(k_max)
    mu = np.zeros((k_max, d))
    logdet = np.empty(k_max)
    u = np.empty(n)
    draws = out_ll.shape[0]
    q_df = d + 4.0 if full else 5.0  # the split move's inverse-Wishart proposal
    for t in range(tune + draws * thin):
        _log_dirichlet(alpha + nk, logw)
        if full and halfnormal:
            _full_update_lkj(
                nk, s1, s2, m0, ms, iw_df, iw_scale, sd_scale, lkj_eta, mu, chol, singleton_steps
            )
        elif full:
            _full_update(nk, s1, s2, m0, ms, iw_df, iw_scale, mu, chol)
        else:
            ig_scale = np.empty(d)
            for f in range(d):
                ig_scale[f] = 0.5 * iw_scale[f, f]
            _diag_update(
                nk,
                s1,
                s2,
                m0,
                ms,
                sd_scale,
                halfnormal,
                0.5 * iw_df,
                ig_scale,
                var,
                mu,
                chol,
                singleton_steps,
            )
        if hier_g0 > 0.0:
            _hierarchical_scale(chol, full, hier_g0, hier_G0, iw_df, iw_scale)
        for _ in range(split_moves if k_max > 1 else 0):
            split_move(X, logw, mu, chol, var, full, alpha, m0, ms, iw_df, iw_scale, q_df, SPLIT_WIDTH)
        for k in range(k_max):
            logdet[k] = 0.0
            for a in range(d):
                logdet[k] += math.log(chol[k, a, a])
        for i in range(n):
            u[i] = np.random.random()
        ll = allocate(X, logw, mu, chol, logdet, u, z, nk, s1, s2)
        if t >= tune and (t - tune) % thin == thin - 1:
            j = (t - tune) // thin
            for k in range(k_max):
                out_w[j, k] = math.exp(logw[k])
                out_nk[j, k] = nk[k]
                out_mu[j, k] = mu[k]
                if full:
                    out_cov[j, k] = np.linalg.inv(_gram(chol[k]))
                else:
                    for a in range(d):
                        out_cov[j, k, a, a] = var[k, a]
            out_ll[j] = ll


# the split move calls _gram above; imported last, as it imports this module
from ._gibbs_split import SPLIT_WIDTH  # noqa: E402
from ._gibbs_split_numba import split_move  # noqa: E402
