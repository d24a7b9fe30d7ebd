r"""The model evidence log p(X | K) of the Bayesian mixture, by bridge sampling.

The evidence is the likelihood averaged over the prior, ``Z = int p(X | theta) p(theta)
dtheta``: the quantity that BIC approximates (``BIC ~ -2 log Z`` for large n, under a
unit-information prior). It is estimated here by **bridge sampling** (Meng & Wong 1996;
Gronau et al. 2017) from the posterior draws of a fitted
:class:`~bayesgmm.bayes.sampling.BayesianGaussianMixture`:

1. every draw is mapped to an unconstrained vector ``z`` (log-ratios of the weights to the
   last one, the means as they are, log standard deviations or, for full covariances,
   the Cholesky factor with a log diagonal);
2. half of each chain fits the proposal ``g``, a multivariate normal (or Student t) with
   the draws' mean and covariance in ``z``;
3. the other half, and ``n_proposal`` draws from ``g``, enter Meng & Wong's iterative
   optimal bridge estimator; each proposal draw costs one fused pass over the data
   (:func:`bayesgmm.bayes._likelihood.mixture_loglike_and_grad`).

**Label symmetry.** The model identifies the components by ordering the means along the
first feature. That prior is ``K!`` times the exchangeable prior (i.i.d. means) on the
ordered region and zero elsewhere, and the likelihood is invariant under relabelling, so
the ordered model and the exchangeable one have the *same* evidence. The estimator
targets the exchangeable posterior (the prior density without the ``K!``, the weights'
Dirichlet evaluated in the order of the means, which also covers a non-symmetric
``alpha``) and uses the proposal symmetrised over all ``K!`` relabellings,
``g_sym(z) = mean_sigma g(sigma z)`` (Fruhwirth-Schnatter 2004); that costs K! Gaussian
densities per point, small next to a pass over the data for the K of practice but growing
factorially. The draws can then be
in any labelling (the sampler's order, or relabelled against EM): everything the
estimator averages is label-invariant. Counting the ``K!`` twice, or not at all, would
shift ``log Z`` by ``log K!``; the tests check the result against an exact sum over all
labellings.

**Error.** The standard error is Fruhwirth-Schnatter's (2004) relative mean-squared
error of the bridge estimator (as in the R package ``bridgesampling``), with the
autocorrelation of the posterior draws through their effective sample size; on the log
scale it is the standard error of ``log Z``. The estimate flags itself (``warning``, and
a :class:`~bayesgmm.bayes.elpd.CriterionWarning`) when that error exceeds ``max_se``,
when the bridge iteration does not converge, or when the sampler's label-invariant
diagnostics (R-hat and effective sample size of the log-likelihood and log density) failed:
the draws then do not represent the posterior, and no estimator built on them can.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from itertools import permutations
from typing import Any

import numpy as np
from scipy.special import gammaln, logsumexp

from .._validation import check_int, check_option, check_random_state, check_real, check_X
from . import _arviz
from ._likelihood import mixture_loglike_and_grad
from ._unconstrained import from_unconstrained, log_prior, to_unconstrained
from .elpd import CriterionWarning
from .model import Priors, model_kind

__all__ = ["EvidenceEstimate", "log_evidence"]

PROPOSALS = ("normal", "t")
_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class EvidenceEstimate:
    """An estimate of the log marginal likelihood log p(X | K).

    Attributes
    ----------
    value : float
        ``log p(X | K)`` in nats (higher is better).
    se : float
        Its Monte Carlo standard error (nats).
    method : str
        ``"bridge"`` (with the proposal family, e.g. ``"bridge/normal"``).
    n_evaluations : int
        Passes over the data made (one per proposal draw and per posterior draw used).
    n_posterior : int
        Posterior draws in the estimator (the half not used to fit the proposal).
    n_proposal : int
        Draws from the proposal.
    iterations : int
        Iterations of the bridge fixed point.
    warning : bool
        True when the estimate flags itself unreliable (see ``message``).
    message : str
        Why (empty when ``warning`` is False).
    seconds : float
        Wall time of the estimate (the sampling not included).
    """

    value: float
    se: float
    method: str
    n_evaluations: int
    n_posterior: int
    n_proposal: int
    iterations: int
    warning: bool
    message: str = ""
    seconds: float = float("nan")

    # the deviance scale, as ELPDEstimate has it (one line each: not worth a base class)
    @property
    def deviance(self) -> float:
        """``-2 log p(X | K)``, on the scale of BIC (lower is better)."""
        return -2.0 * self.value

    @property
    def deviance_se(self) -> float:
        """Standard error of :attr:`deviance`."""
        return 2.0 * self.se


# --------------------------------------------------------------------------- likelihood
def _log_likelihood(X: np.ndarray, shift: np.ndarray, w, mu, scale, kind: str) -> np.ndarray:
    """Total log-likelihood of every parameter point: one fused pass each."""
    S = w.shape[0]
    out = np.empty(S)
    for s in range(S):
        ll = mixture_loglike_and_grad(X, shift, w[s], mu[s], scale[s], kind)[0]
        out[s] = ll if np.isfinite(ll) else -np.inf
    return out


# --------------------------------------------------------------------------- proposal
class _Proposal:
    """Multivariate normal or Student t in z, fitted to draws, symmetrised over relabellings."""

    def __init__(self, z: np.ndarray, family: str, df: float, kind: str, k: int, d: int) -> None:
        self.family, self.df, self.kind, self.k, self.d = family, df, kind, k, d
        self.mean = z.mean(axis=0)
        cov = np.atleast_2d(np.cov(z, rowvar=False))
        p = z.shape[1]
        cov = 0.5 * (cov + cov.T) + 1e-10 * np.trace(cov) / p * np.eye(p)
        if family == "t":
            cov = cov * (df - 2.0) / df  # the t's covariance matches the draws'
        self.chol = np.linalg.cholesky(cov)
        self.log_det = 2.0 * np.sum(np.log(np.diag(self.chol)))
        self.p = p
        self.perms = [np.array(q) for q in permutations(range(k))]

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        e = rng.standard_normal((n, self.p))
        if self.family == "t":
            e = e / np.sqrt(rng.chisquare(self.df, size=(n, 1)) / self.df)
        return self.mean + e @ self.chol.T

    def _logpdf(self, z: np.ndarray) -> np.ndarray:
        from scipy.linalg import solve_triangular

        u = solve_triangular(self.chol, (z - self.mean).T, lower=True)
        q = np.sum(u * u, axis=0)
        p = self.p
        if self.family == "normal":
            return -0.5 * (p * _LOG_2PI + self.log_det + q)
        nu = self.df
        return (
            gammaln(0.5 * (nu + p))
            - gammaln(0.5 * nu)
            - 0.5 * (p * math.log(nu * math.pi) + self.log_det)
            - 0.5 * (nu + p) * np.log1p(q / nu)
        )

    def logpdf_sym(self, w, mu, scale) -> np.ndarray:
        """log of the proposal averaged over the K! relabellings of each point, in z."""
        if self.k == 1:
            return self._logpdf(to_unconstrained(w, mu, scale, self.kind)[0])
        terms = [
            self._logpdf(to_unconstrained(w[:, q], mu[:, q], scale[:, q], self.kind)[0]) for q in self.perms
        ]
        return logsumexp(np.stack(terms), axis=0) - math.log(len(self.perms))


# --------------------------------------------------------------------------- bridge
def _bridge_fixed_point(l1: np.ndarray, l2: np.ndarray, tol: float = 1e-10, max_iter: int = 1000):
    """Meng & Wong's iterative estimator; l = log q - log g at posterior (1) / proposal (2) draws."""
    n1, n2 = l1.size, l2.size
    ls1, ls2 = math.log(n1 / (n1 + n2)), math.log(n2 / (n1 + n2))
    lstar = float(np.median(l1))
    a1, a2 = l1 - lstar, l2 - lstar
    logr = 0.0
    for it in range(1, max_iter + 1):
        num = logsumexp(a2 - np.logaddexp(ls1 + a2, ls2 + logr)) - math.log(n2)
        den = logsumexp(-np.logaddexp(ls1 + a1, ls2 + logr)) - math.log(n1)
        new = num - den
        if abs(new - logr) < tol:
            return new + lstar, it, True
        logr = new
    return logr + lstar, max_iter, False


def _bridge_se(l1: np.ndarray, l2: np.ndarray, log_z: float, n_chains: int) -> float:
    """Relative root-mean-squared error (Fruhwirth-Schnatter 2004), i.e. the se of log Z."""
    n1, n2 = l1.size, l2.size
    s1, s2 = n1 / (n1 + n2), n2 / (n1 + n2)
    with np.errstate(over="ignore"):  # exp -> inf gives f = 0, the right limit
        f1 = 1.0 / (s1 + s2 * np.exp(-(l2 - log_z)))  # p/(s1 p + s2 g) at proposal draws
        f2 = 1.0 / (s1 * np.exp(l1 - log_z) + s2)  # g/(s1 p + s2 g) at posterior draws
    f2c = f2.reshape(n_chains, -1)
    if np.ptp(f2) > 0 and f2c.shape[1] >= 4:
        ess = _arviz.ess_mean(f2c)
        rho = n1 / ess if np.isfinite(ess) and ess > 0 else np.inf
    else:
        rho = 1.0
    re2 = np.var(f1, ddof=1) / (n2 * np.mean(f1) ** 2) + rho * np.var(f2, ddof=1) / (n1 * np.mean(f2) ** 2)
    return float(np.sqrt(re2))


def _posterior_arrays(bayes: Any, kind: str):
    """(chain, draw, ...) arrays w, mu, scale from a fitted BayesianGaussianMixture."""
    post = _arviz.group(bayes.idata_, "posterior")
    w = np.asarray(post["w"].values, dtype=float)
    mu = np.asarray(post["mu"].values, dtype=float)
    C, D, k, d = mu.shape
    w = np.broadcast_to(w, (C, D, k)).copy() if w.ndim == 3 else np.ones((C, D, k))
    if kind == "full":
        scale = np.linalg.cholesky(np.asarray(post["cov"].values, dtype=float))
    else:
        scale = np.asarray(post["sigma"].values, dtype=float).reshape(C, D, k, d)
    return w, mu, scale


def log_evidence(
    bayes: Any,
    X: Any,
    *,
    n_proposal: int = 4000,
    proposal: str = "normal",
    df: float = 5.0,
    max_se: float = 0.5,
    random_state: Any = None,
    warn: bool = True,
) -> EvidenceEstimate:
    """log p(X | K) under the model's priors, by bridge sampling from the posterior draws.

    Parameters
    ----------
    bayes : BayesianGaussianMixture
        Fitted on ``X`` (its posterior draws, priors and covariance type are used).
    X : array-like of shape (n_samples, n_features)
        The data the model was fitted to (the priors' defaults are scaled to them).
    n_proposal : int, default=4000
        Draws from the proposal; each costs one pass over ``X``.
    proposal : {"normal", "t"}, default="normal"
        Family of the proposal in the unconstrained space (``"t"``: Student t with ``df``
        degrees of freedom, heavier tails).
    df : float, default=5.0
        Degrees of freedom of the t proposal (> 2).
    max_se : float, default=0.5
        Standard errors (nats) above this make the estimate flag itself.
    random_state : int, numpy Generator or None
    warn : bool, default=True
        Emit a :class:`~bayesgmm.bayes.elpd.CriterionWarning` when the estimate flags
        itself (the ``warning`` field is set either way).

    Returns
    -------
    EvidenceEstimate
    """
    t_start = time.perf_counter()
    if getattr(bayes, "idata_", None) is None:
        from ..exceptions import NotFittedError

        raise NotFittedError(
            "The 'bayes' argument must be a fitted BayesianGaussianMixture. Call 'fit' first."
        )
    X = np.ascontiguousarray(check_X(X), dtype=np.float64)
    n, d = X.shape
    if d != bayes.n_features_in_:
        raise ValueError(
            f"X has {d} features, but the BayesianGaussianMixture was fitted with {bayes.n_features_in_}."
        )
    n_proposal = check_int(n_proposal, "n_proposal", minimum=2)
    check_option(proposal, "proposal", PROPOSALS)
    df = check_real(df, "df", minimum=2.0, strict=True)
    max_se = check_real(max_se, "max_se", strict=True)
    rng = check_random_state(random_state)

    k = bayes.n_components
    kind = model_kind(bayes.covariance_type, d)
    hyper = (bayes.priors if bayes.priors is not None else Priors()).resolve(X, k)
    shift = X.mean(axis=0)
    w, mu, scale = _posterior_arrays(bayes, kind)
    C, D = w.shape[:2]
    if D < 8:
        raise ValueError(f"log_evidence needs at least 8 draws per chain. Got {D}.")
    half = D // 2
    fit_part = (w[:, :half], mu[:, :half], scale[:, :half])
    est_part = (w[:, half:], mu[:, half:], scale[:, half:])
    flat = lambda a: a.reshape((-1,) + a.shape[2:])  # noqa: E731

    z_fit, _ = to_unconstrained(*(flat(a) for a in fit_part), kind)
    g = _Proposal(z_fit, proposal, df, kind, k, d)

    # posterior draws (second half of every chain)
    w1, mu1, sc1 = (flat(a) for a in est_part)
    _, lj1 = to_unconstrained(w1, mu1, sc1, kind)
    lq1 = _log_likelihood(X, shift, w1, mu1, sc1, kind) + log_prior(w1, mu1, sc1, kind, hyper) + lj1
    l1 = lq1 - g.logpdf_sym(w1, mu1, sc1)

    # proposal draws
    z2 = g.sample(n_proposal, rng)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        # a proposal draw far in the tails can overflow to a zero prior density: l2 = -inf
        w2, mu2, sc2, lj2 = from_unconstrained(z2, kind, k, d)
        lp2 = log_prior(w2, mu2, sc2, kind, hyper)
        gs2 = g.logpdf_sym(w2, mu2, sc2)
    ok = np.isfinite(lp2) & np.isfinite(lj2) & np.isfinite(gs2)
    lq2 = np.full(n_proposal, -np.inf)
    if ok.any():
        lq2[ok] = _log_likelihood(X, shift, w2[ok], mu2[ok], sc2[ok], kind) + lp2[ok] + lj2[ok]
    l2 = np.where(ok, lq2 - gs2, -np.inf)

    problems = []
    if not np.all(np.isfinite(l1)):
        problems.append("non-finite posterior density at some draws")
        l1 = l1[np.isfinite(l1)]
    log_z, iterations, converged = _bridge_fixed_point(l1, l2)
    if not converged:
        problems.append(f"the bridge iteration did not converge in {iterations} iterations")
    se = _bridge_se(l1, l2, log_z, C) if l1.size == C * (D - half) else float("inf")
    if not se <= max_se:
        problems.append(f"standard error {se:.2f} nats > max_se={max_se}")
    dg = getattr(bayes, "diagnostics_", {}) or {}
    if "invariant_ok" in dg:  # the estimator is label-invariant: so are the diagnostics it needs
        if not dg["invariant_ok"]:
            problems.append(
                f"the sampler's label-invariant diagnostics fail (R-hat {dg['invariant_max_rhat']:.3f}, "
                f"bulk ESS {dg['invariant_min_ess_bulk']:.0f})"
            )
    elif C > 1 and not dg.get("max_rhat", 1.0) <= 1.01:
        problems.append(f"the sampler's max R-hat is {dg['max_rhat']:.3f}")
    message = "; ".join(problems)
    if problems and warn:
        warnings.warn(
            f"log evidence (K={k}) is unreliable: {message}. Draw more (draws, n_proposal) or check the fit.",
            CriterionWarning,
            stacklevel=2,
        )
    return EvidenceEstimate(
        value=float(log_z),
        se=float(se),
        method=f"bridge/{proposal}",
        n_evaluations=int(l1.size + ok.sum()),
        n_posterior=int(l1.size),
        n_proposal=int(n_proposal),
        iterations=int(iterations),
        warning=bool(problems),
        message=message,
        seconds=time.perf_counter() - t_start,
    )
