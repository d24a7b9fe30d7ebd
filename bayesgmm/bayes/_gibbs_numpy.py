"""The Gibbs sampler of :mod:`bayesgmm.bayes.gibbs` in numpy: the full conditionals one by
one, and a chain made of them.

The reference implementation: the compiled chain (:mod:`bayesgmm.bayes._gibbs_numba`) makes
the same steps, and the tests hold both to the same exact posteriors. Both evaluate the NUTS
model's LKJ prior on a covariance with the model's one compiled definition
(:func:`~bayesgmm.bayes._log_posterior_numba.lkj_covariance_logp`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from .._validation import check_option
from ._gibbs_split import split_move

SINGLETON_MH_STEPS = 5  # prior-proposal steps for the scale of a one-observation component
LOG_2PI = float(np.log(2.0 * np.pi))


# ----------------------------------------------------------------------------- allocation
def log_joint(X, logw, means, chol, logdet):
    """``log w_k + log N(x_i | mu_k, (L_k L_k^T)^-1)`` plus ``d/2 log 2 pi``, shape (n, K), for
    the lower precision factors ``chol`` and ``logdet`` the sums of the logs of their diagonals."""
    diff = X[:, None, :] - means[None, :, :]  # (n, K, d)
    proj = np.einsum("nkb,kba->nka", diff, chol)  # (x - mu)^T L: the rows of L^T (x - mu)
    return logw + logdet - 0.5 * np.sum(proj**2, axis=2)


def _allocate_numpy(X, logw, means, chol, logdet, u, z, nk, s1, s2):
    """The allocation step in numpy: the same draws as the compiled one (up to rounding)."""
    lp = log_joint(X, logw, means, chol, logdet)
    top = lp.max(axis=1, keepdims=True)
    p = np.exp(lp - top)
    cum = np.cumsum(p, axis=1)
    total = float(np.sum(top[:, 0] + np.log(cum[:, -1])))
    hit = (cum >= (u * cum[:, -1])[:, None]) & (p > 0)
    z[:] = np.where(hit.any(axis=1), hit.argmax(axis=1), p.shape[1] - 1 - np.argmax(p[:, ::-1] > 0, axis=1))
    k_max = logw.shape[0]
    nk[:] = np.bincount(z, minlength=k_max)
    s1[:] = 0.0
    s2[:] = 0.0
    np.add.at(s1, z, X)
    np.add.at(s2, z, X[:, :, None] * X[:, None, :])
    return total - 0.5 * X.shape[0] * X.shape[1] * LOG_2PI


def allocate(engine: str = "auto"):
    """The allocation step: numba's compiled loop ("numba", and "auto" when numba is
    installed) or numpy ("numpy"). Both take ``(X, logw, means, chol, logdet, u, z, nk, s1,
    s2)``, fill the last four and return the total log-likelihood."""
    from .._kernels import numba_available

    check_option(engine, "engine", ("auto", "numba", "numpy"))
    if engine == "numba" or (engine == "auto" and numba_available()):
        from ._gibbs_numba import allocate as compiled

        return compiled
    return _allocate_numpy


# ----------------------------------------------------------------------------- conditionals
def log_dirichlet(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``log w`` for ``w ~ Dirichlet(a)``, computed in log space so that a weight of
    ``alpha = 0.01`` (often below 1e-300) does not underflow to 0: for a shape below 1,
    ``G(a) = G(a + 1) U^(1/a)`` (Marsaglia & Tsang)."""
    small = a < 1.0
    logg = np.log(rng.gamma(np.where(small, a + 1.0, a)))
    logg = logg + np.where(small, np.log(rng.random(a.shape)) / a, 0.0)
    return logg - logsumexp(logg, axis=-1, keepdims=True)


def normal_means(prec_data, s1, hyper, rng):
    """``mu_k | Sigma_k, z`` for a diagonal ``prec_data`` (K, d) = ``n_k / sigma^2``... (diag)
    or a full one (K, d, d) = ``n_k Sigma_k^-1``; ``s1`` is ``Sigma_k^-1 sum x`` likewise."""
    prec0 = 1.0 / hyper["mean_scale"] ** 2
    b = prec0 * hyper["mean_loc"] + s1
    if prec_data.ndim == 2:
        prec = prec0 + prec_data
        return b / prec + rng.standard_normal(b.shape) / np.sqrt(prec)
    prec = prec_data + np.diag(prec0)
    c = np.linalg.cholesky(prec)
    mean = np.linalg.solve(prec, b[..., None])[..., 0]
    # C^-T e has covariance (C C^T)^-1
    noise = np.linalg.solve(np.swapaxes(c, 1, 2), rng.standard_normal(b.shape)[..., None])[..., 0]
    return mean + noise


def halfnormal_variances(var, ss, nk, sd_scale, rng):
    """One Metropolis-Hastings update of each variance ``tau = sigma^2`` (K, d) whose
    standard deviation has a ``HalfNormal(sd_scale)`` prior, given the sum of squares
    ``ss`` (K, d) of the ``nk`` (K,) observations about the mean. Exact in distribution:
    the full conditional is invariant (and drawn exactly for an empty component)."""
    s2 = np.broadcast_to(sd_scale**2, var.shape)
    n = np.broadcast_to(nk[:, None], var.shape)
    out = var.copy()
    empty = n == 0
    out[empty] = s2[empty] * rng.standard_normal(int(empty.sum())) ** 2
    many = n >= 2
    shape = np.where(many, (n - 1) / 2.0, 1.0)
    prop = np.where(many, ss, 1.0) / 2.0 / rng.gamma(shape)
    accept = np.log(rng.random(var.shape)) < -(prop - var) / (2.0 * s2)
    out = np.where(many & accept, prop, out)
    one = n == 1
    if one.any():
        for _ in range(SINGLETON_MH_STEPS):
            prop = s2 * rng.standard_normal(var.shape) ** 2
            cur = out
            log_ratio = -0.5 * np.log(prop / cur) - 0.5 * ss * (1.0 / prop - 1.0 / cur)
            accept = np.log(rng.random(var.shape)) < log_ratio
            out = np.where(one & accept, prop, out)
    return out


def inverse_gamma_variances(ss, nk, hyper, rng):
    """``sigma^2 | mu, z ~ IG(iw_df / 2 + n_k / 2, iw_scale[f, f] / 2 + ss / 2)`` (K, d): the
    conjugate update of each variance of the diagonal model."""
    scale = 0.5 * np.diagonal(hyper["iw_scale"]) + 0.5 * ss
    return scale / rng.gamma(0.5 * hyper["iw_df"] + 0.5 * nk[:, None] + np.zeros_like(ss))


def inverse_wishart_precisions(scatter, nk, hyper, rng):
    """``Sigma_k | mu_k, z ~ InverseWishart(nu0 + n_k, Psi0 + scatter_k)``, returned as the
    lower Cholesky factor of the precision ``Sigma_k^-1 ~ Wishart(nu, (Psi0 + scatter_k)^-1)``
    (Bartlett's decomposition), which is what the allocation step uses."""
    k, d = scatter.shape[0], scatter.shape[1]
    nu = hyper["iw_df"] + nk
    psi = hyper["iw_scale"] + scatter
    lower = np.linalg.cholesky(np.linalg.inv(psi))
    a = np.zeros((k, d, d))
    rows, cols = np.tril_indices(d, -1)
    a[:, rows, cols] = rng.standard_normal((k, rows.size))
    diag = np.arange(d)
    a[:, diag, diag] = np.sqrt(rng.chisquare(nu[:, None] - diag[None, :]))
    return lower @ a


def hierarchical_scale(prec, hyper, rng):
    """``2 C0`` for the next sweep's ``iw_scale``, ``C0 | Sigma_1..K ~ W(g0 + K c0, G0 +
    sum_k Sigma_k^-1)`` (rate convention, ``c0 = iw_df / 2``; :mod:`bayesgmm.bayes._gibbs_priors`)
    given the precisions ``prec``: (K, d) ``1 / sigma^2`` of the diagonal model (a Gamma per
    feature) or (K, d, d) ``Sigma_k^-1`` (a Wishart with ``2 (g0 + K c0)`` degrees of
    freedom and scale ``(2 (G0 + sum_k Sigma_k^-1))^-1``, by Bartlett's decomposition)."""
    shape = hyper["hier_g0"] + 0.5 * prec.shape[0] * hyper["iw_df"]
    rate = hyper["hier_G0"] + (np.diag(prec.sum(axis=0)) if prec.ndim == 2 else prec.sum(axis=0))
    d = rate.shape[0]
    if prec.ndim == 2:
        return np.diag(2.0 * rng.gamma(shape, size=d) / np.diagonal(rate))
    lower = np.linalg.cholesky(np.linalg.inv(2.0 * rate))
    a = np.tril(rng.standard_normal((d, d)), -1)
    a[np.arange(d), np.arange(d)] = np.sqrt(rng.chisquare(2.0 * shape - np.arange(d)))
    factor = lower @ a
    return 2.0 * factor @ factor.T


def log_prior_excess(chol, hyper):
    """``log p(Sigma_k) - log IW(Sigma_k | iw_df, iw_scale)`` (K,), up to a constant, at
    ``Sigma_k = (L_k L_k^T)^-1`` for the precision factors ``chol`` (K, d, d): ``p`` is the
    NUTS model's prior (HalfNormal standard deviations, LKJ correlations) as a density of
    Sigma, the model's own function
    (:func:`~bayesgmm.bayes._log_posterior_numba.lkj_covariance_logp`)."""
    from ._log_posterior_numba import lkj_covariance_logp

    d = chol.shape[-1]
    prec = chol @ np.swapaxes(chol, 1, 2)
    lower = np.linalg.cholesky(np.linalg.inv(prec))
    sd_scale = np.asarray(hyper["sd_scale"], dtype=float)
    target = np.array([lkj_covariance_logp(low, sd_scale, float(hyper["lkj_eta"])) for low in lower])
    logdet = -2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    log_iw = -0.5 * (hyper["iw_df"] + d + 1.0) * logdet - 0.5 * np.einsum(
        "ab,kba->k", hyper["iw_scale"], prec
    )
    return target - log_iw


def lkj_prior_precisions(k, hyper, rng):
    """Precision factors of ``k`` draws of the NUTS model's prior on a covariance:
    ``|N(0, sd_scale)|`` standard deviations and LKJ(eta) correlations (onion method,
    Lewandowski, Kurowicka & Joe 2009)."""
    d = hyper["sd_scale"].shape[0]
    eta = hyper["lkj_eta"]
    corr = np.zeros((k, d, d))
    corr[:, 0, 0] = 1.0
    if d > 1:
        beta = eta - 1.0 + d / 2.0
        r = 2.0 * rng.beta(beta, beta, size=k) - 1.0
        corr[:, 1, 0] = r
        corr[:, 1, 1] = np.sqrt(1.0 - r**2)
        for m in range(2, d):
            beta -= 0.5
            y = rng.beta(m / 2.0, beta, size=k)
            e = rng.standard_normal((k, m))
            corr[:, m, :m] = np.sqrt(y)[:, None] * e / np.linalg.norm(e, axis=1, keepdims=True)
            corr[:, m, m] = np.sqrt(1.0 - y)
    lower = np.abs(rng.standard_normal((k, d)))[:, :, None] * hyper["sd_scale"][:, None] * corr
    return np.linalg.cholesky(np.linalg.inv(lower @ np.swapaxes(lower, 1, 2)))


def lkj_full_update(chol, s1, s2, nk, hyper, rng, steps=SINGLETON_MH_STEPS):
    """``steps`` rounds of (means given covariances; covariances given means) under the NUTS
    model's HalfNormal / LKJ prior: each covariance is proposed from its inverse-Wishart
    conditional and accepted with the ratio of the two priors (the likelihood cancels); an
    empty component's is drawn from the prior. Returns ``(mu, chol)``."""
    empty = nk == 0
    for _ in range(steps):
        mu, prop = _conjugate_full_update(chol, s1, s2, nk, hyper, rng)
        log_ratio = log_prior_excess(prop, hyper) - log_prior_excess(chol, hyper)
        accept = np.log(rng.random(nk.shape[0])) < log_ratio
        chol = np.where(accept[:, None, None], prop, chol)
        if empty.any():
            chol[empty] = lkj_prior_precisions(int(empty.sum()), hyper, rng)
    return mu, chol


def _conjugate_full_update(chol, s1, s2, nk, hyper, rng):
    """Each mean given its covariance, then each covariance from its inverse-Wishart
    conditional given the mean: ``(mu, chol)``."""
    prec = chol @ np.swapaxes(chol, 1, 2)
    mu = normal_means(nk[:, None, None] * prec, (prec @ s1[..., None])[..., 0], hyper, rng)
    outer = mu[:, :, None] * s1[:, None, :]
    scatter = s2 - outer - np.swapaxes(outer, 1, 2) + nk[:, None, None] * mu[:, :, None] * mu[:, None, :]
    return mu, inverse_wishart_precisions(scatter, nk, hyper, rng)


# ----------------------------------------------------------------------------- one chain
def initial_state(X, z, k_max, hyper):
    """Statistics of the starting allocation and a covariance per component (its scatter
    when it has at least two observations, else the data's variances)."""
    nk = np.bincount(z, minlength=k_max)
    d = X.shape[1]
    s1 = np.zeros((k_max, d))
    s2 = np.zeros((k_max, d, d))
    np.add.at(s1, z, X)
    np.add.at(s2, z, X[:, :, None] * X[:, None, :])
    var0 = X.var(axis=0) if X.shape[0] > 1 else np.ones(d)
    var0 = np.where(var0 > 0, var0, 1.0)
    cov = np.tile(np.diag(var0), (k_max, 1, 1))
    for k in np.flatnonzero(nk >= 2):
        m = s1[k] / nk[k]
        cov[k] = s2[k] / nk[k] - np.outer(m, m) + 1e-3 * np.diag(var0)
    if hyper["kind"] == "diag":
        return (nk, s1, s2), np.diagonal(cov, axis1=1, axis2=2).copy()
    return (nk, s1, s2), np.linalg.cholesky(np.linalg.inv(cov))


def empty_draws(draws: int, k_max: int, d: int) -> dict[str, np.ndarray]:
    """The arrays a chain fills, one row per kept sweep (both engines write into these)."""
    return {
        "weights": np.empty((draws, k_max)),
        "means": np.empty((draws, k_max, d)),
        "covariances": np.zeros((draws, k_max, d, d)),
        "sizes": np.empty((draws, k_max), dtype=np.int64),
        "log_likelihood": np.empty(draws),
    }


def numpy_chain(X, z0, hyper, draws, tune, rng, step, thin=1, split_moves=0):
    """One chain in numpy from the allocation ``z0``: ``tune`` sweeps discarded, then one
    draw kept every ``thin`` sweeps; ``split_moves`` split proposals per sweep."""
    n, d = X.shape
    k_max = hyper["alpha"].shape[0]
    (nk, s1, s2), scale = initial_state(X, z0, k_max, hyper)
    z = np.empty(n, dtype=np.int64)
    out = empty_draws(draws, k_max, d)
    diag_kind = hyper["kind"] == "diag"
    hyper = dict(hyper)  # the hierarchical prior's step replaces its iw_scale
    for t in range(tune + draws * thin):
        logw = log_dirichlet(hyper["alpha"] + nk, rng)
        if diag_kind:
            mu = normal_means(nk[:, None] / scale, s1 / scale, hyper, rng)
            ss = np.diagonal(s2, axis1=1, axis2=2) - 2.0 * mu * s1 + nk[:, None] * mu**2
            ss = np.maximum(ss, 0.0)  # a rounding below 0: the sum of squares is >= 0
            if hyper["scale_prior"] == "halfnormal":
                scale = halfnormal_variances(scale, ss, nk, hyper["sd_scale"], rng)
            else:
                scale = inverse_gamma_variances(ss, nk, hyper, rng)
            chol = np.zeros((k_max, d, d))
            chol[:, np.arange(d), np.arange(d)] = 1.0 / np.sqrt(scale)
        elif hyper["scale_prior"] == "halfnormal":
            mu, scale = lkj_full_update(scale, s1, s2, nk, hyper, rng)
            chol = scale
        else:
            mu, scale = _conjugate_full_update(scale, s1, s2, nk, hyper, rng)
            chol = scale
        if hyper.get("hier_g0", 0.0) > 0.0:
            hyper["iw_scale"] = hierarchical_scale(
                1.0 / scale if diag_kind else chol @ np.swapaxes(chol, 1, 2), hyper, rng
            )
        for _ in range(split_moves if k_max > 1 else 0):
            logw, mu, chol, var, _ = split_move(
                X, logw, mu, chol, scale if diag_kind else None, hyper, rng, 5.0 if diag_kind else d + 4.0
            )
            scale = var if diag_kind else chol
        logdet = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        ll = step(X, logw, mu, chol, logdet, rng.random(n), z, nk, s1, s2)
        if t >= tune and (t - tune) % thin == thin - 1:
            j = (t - tune) // thin
            out["weights"][j] = np.exp(logw)
            out["means"][j] = mu
            if diag_kind:
                out["covariances"][j] = 0.0
                out["covariances"][j][:, np.arange(d), np.arange(d)] = scale
            else:
                out["covariances"][j] = np.linalg.inv(chol @ np.swapaxes(chol, 1, 2))
            out["sizes"][j] = nk
            out["log_likelihood"][j] = ll
    return out
