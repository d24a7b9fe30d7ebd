r"""A split move for the Gibbs sampler over allocations: a component that holds (almost)
nothing is given a share of another's weight and new parameters near the data.

With a sparse Dirichlet prior an empty component's weight is astronomically small and its
mean and covariance are drawn from their prior, so re-occupying it -- which is how a chain
that merged two groups into one component separates them -- waits for a prior draw to land
on a group, which under a wide prior on the means takes thousands of sweeps. This move
proposes that directly. For a pair of components ``(c, e)`` chosen uniformly:

- the weights: ``s = w_c + w_e`` is kept and ``w_e' = u s``, ``w_c' = (1 - u) s`` with
  ``u`` from half Beta(alpha_e, 1) (what an empty component's share looks like under the
  sparse prior: without it the proposal could not propose back the states it leaves, and
  a sampler at such a state would reject every split), half Uniform(0, 1);
- ``e``'s parameters: a mean ``mu_e' ~ N(x_r, width^2 Sigma_c)`` around an observation
  ``x_r`` drawn uniformly, and a covariance from an inverse-Wishart with ``q_df`` degrees of
  freedom and mean ``Sigma_c / 4`` or, with even odds, a quarter of ``Sigma_c``'s average
  variance times the identity (a group inside a component that spans two is narrower
  along their axis only); per feature for the diagonal model;
- ``c``'s parameters and every other component unchanged.

Given the pair and ``c``'s parameters this is an independence proposal for ``(u, mu_e,
Sigma_e)``, accepted with the Metropolis-Hastings ratio of the posterior **with the
allocations summed out** (the mixture likelihood ``prod_i sum_k w_k N(x_i | k)``, the
Dirichlet density of the weights, the prior of ``e``'s parameters) over the proposal
densities (the mean's is the mixture over the observations; the ratio ``(w_c', w_e') <->
(s, u)`` has a constant Jacobian). It leaves that marginal posterior invariant, and the
allocation step that follows draws the allocations from their full conditional, so the
pair of steps leaves the joint posterior invariant. Written for the inverse-Wishart scale
priors (fixed or hierarchical); one pass over the data per proposal.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

__all__ = ["SPLIT_WIDTH", "split_move"]

#: Standard deviation of the proposed mean around its observation, in units of c's.
SPLIT_WIDTH = 0.25


def _log_iw(prec_chol, df, scale):
    """log InverseWishart(Sigma | df, scale) up to terms in df and scale alone."""
    prec = prec_chol @ prec_chol.T
    return (df + prec.shape[0] + 1.0) * np.log(np.diag(prec_chol)).sum() - 0.5 * np.sum(scale * prec.T)


def _log_prior(mu, prec_chol, var_row, full, hyper):
    out = -0.5 * np.sum(((mu - hyper["mean_loc"]) / hyper["mean_scale"]) ** 2)
    if full:
        return out + _log_iw(prec_chol, hyper["iw_df"], hyper["iw_scale"])
    b = 0.5 * np.diag(hyper["iw_scale"])
    return out - np.sum((0.5 * hyper["iw_df"] + 1.0) * np.log(var_row) + b / var_row)


def _proposal_scale(ref_cov, q_df, isotropic):
    d = ref_cov.shape[0]
    if not isotropic:
        return (q_df - d - 1.0) * ref_cov / 4.0
    return (q_df - d - 1.0) * np.trace(ref_cov) / (4.0 * d) * np.eye(d)


def _log_q_scale(prec_chol, var_row, full, ref_cov, q_df):
    """log density of the covariance proposal: the even mixture of two inverse-Wisharts."""
    vals = []
    for isotropic in (False, True):
        psi = _proposal_scale(ref_cov, q_df, isotropic)
        if full:
            log_det = np.linalg.slogdet(psi)[1]
            vals.append(_log_iw(prec_chol, q_df, psi) + 0.5 * q_df * log_det)
        else:
            b = 0.5 * np.diag(psi)
            vals.append(np.sum(0.5 * q_df * np.log(b) - (0.5 * q_df + 1.0) * np.log(var_row) - b / var_row))
    return float(np.logaddexp(*vals) + np.log(0.5))


def _log_q_u(log_u, a):
    """log density of the proposed share u: half Beta(a, 1), half uniform."""
    return float(np.logaddexp(np.log(0.5 * a) + (a - 1.0) * log_u, np.log(0.5)))


def _mixture_loglik(X, logw, mu, chol):
    from ._gibbs_numpy import log_joint  # that module imports this one

    logdet = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    return float(logsumexp(log_joint(X, logw, mu, chol, logdet), axis=1).sum())


def split_move(X, logw, mu, chol, var, hyper, rng, q_df, width=SPLIT_WIDTH):
    """One proposal (module docstring) in numpy; ``var`` (K, d) for the diagonal model, else
    None. Returns ``(logw, mu, chol, var, accepted)``, new arrays when accepted."""
    n, d = X.shape
    k_max = logw.shape[0]
    full = var is None
    c = int(rng.integers(k_max))
    e = int(rng.integers(k_max - 1))
    e = e + 1 if e >= c else e
    log_s = np.logaddexp(logw[c], logw[e])
    a = hyper["alpha"][e]
    with np.errstate(divide="ignore"):
        log_u = np.log(rng.random()) / a if rng.random() < 0.5 else np.log(rng.random())
    if not -np.inf < log_u < 0.0:
        return logw, mu, chol, var, False
    new_logw = logw.copy()
    new_logw[c], new_logw[e] = log_s + np.log1p(-np.exp(log_u)), log_s + log_u
    ref_cov = np.linalg.inv(chol[c] @ chol[c].T)
    r = int(rng.integers(n))
    new_mu = X[r] + width * np.linalg.cholesky(ref_cov) @ rng.standard_normal(d)
    new_var = None
    psi = _proposal_scale(ref_cov, q_df, rng.random() < 0.5)
    if full:
        lower = np.linalg.cholesky(np.linalg.inv(psi))
        a_ = np.tril(rng.standard_normal((d, d)), -1)
        a_[np.arange(d), np.arange(d)] = np.sqrt(rng.chisquare(q_df - np.arange(d)))
        new_chol = lower @ a_
    else:
        new_var = 0.5 * np.diag(psi) / rng.gamma(0.5 * q_df, size=d)
        new_chol = np.diag(1.0 / np.sqrt(new_var))
    prec_ref = np.linalg.inv(ref_cov)

    def log_q_mu(m):
        dev = m - X
        return logsumexp(-0.5 * np.einsum("na,ab,nb->n", dev, prec_ref, dev) / width**2)

    new_mus = mu.copy()
    new_mus[e] = new_mu
    new_chols = chol.copy()
    new_chols[e] = new_chol
    var_e = None if full else var[e]
    log_ratio = _mixture_loglik(X, new_logw, new_mus, new_chols) - _mixture_loglik(X, logw, mu, chol)
    log_ratio += _log_q_u(logw[e] - log_s, a) - _log_q_u(log_u, a)
    log_ratio += (hyper["alpha"][c] - 1.0) * (new_logw[c] - logw[c])
    log_ratio += (hyper["alpha"][e] - 1.0) * (new_logw[e] - logw[e])
    log_ratio += _log_prior(new_mu, new_chol, new_var, full, hyper) - _log_prior(
        mu[e], chol[e], var_e, full, hyper
    )
    log_ratio += _log_q_scale(chol[e], var_e, full, ref_cov, q_df) + log_q_mu(mu[e])
    log_ratio -= _log_q_scale(new_chol, new_var, full, ref_cov, q_df) + log_q_mu(new_mu)
    if not np.log(rng.random()) < log_ratio:
        return logw, mu, chol, var, False
    new_vars = None
    if not full:
        new_vars = var.copy()
        new_vars[e] = new_var
    return new_logw, new_mus, new_chols, new_vars, True
