"""The Gibbs sampler on the fixed-K model's exact prior (``sampler="gibbs"``).

Oracles: PyMC-model's own LKJ-Cholesky prior density (pushed to the covariance by the
Jacobian of ``L -> L L^T``) and scipy's inverse-Wishart for the Metropolis-Hastings ratio;
scipy's half-normal and beta distributions for the prior draws; importance sampling from
the prior for a small posterior; and the NUTS posterior of the same model.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from bayesgmm.bayes import _gibbs_numpy as gnp
from bayesgmm.bayes.gibbs import gibbs_priors, sample_sparse_mixture
from bayesgmm.bayes.model import Priors

ENGINES = [
    "numpy",
    pytest.param(
        "numba",
        marks=pytest.mark.skipif(
            not __import__("bayesgmm._kernels", fromlist=["numba_available"]).numba_available(),
            reason="numba",
        ),
    ),
]


def _hyper(d, sd_scale=1.3, eta=2.0):
    X = np.random.default_rng(0).standard_normal((50, d))
    return gibbs_priors(Priors(sd_scale=sd_scale, lkj_eta=eta), X, 2, "full", "halfnormal")


def _random_covariances(d, k, rng):
    a = rng.standard_normal((k, d, d))
    return a @ np.swapaxes(a, 1, 2) / d + 0.2 * np.eye(d)


def _log_prior_covariance(cov, hyper):
    """The NUTS model's prior density of Sigma: its LKJ-Cholesky density of L (the model's
    own function) less the log-Jacobian ``d log 2 + sum_i (d - i) log L_ii`` of L -> L L^T."""
    from bayesgmm.bayes.model import lkj_cholesky_cov_logp

    d = cov.shape[-1]
    lower = np.linalg.cholesky(cov)
    rows, cols = np.tril_indices(d)
    packed = lower[:, rows, cols]
    log_l = lkj_cholesky_cov_logp(packed, hyper["lkj_eta"], hyper["sd_scale"]).eval()
    diag = np.log(np.diagonal(lower, axis1=1, axis2=2))
    return log_l - d * np.log(2.0) - diag @ (d - np.arange(d))


@pytest.mark.parametrize("d", [2, 3])
def test_prior_ratio_is_the_lkj_prior_over_the_inverse_wishart(d, rng):
    """``log p(Sigma) - log IW(Sigma)`` up to one constant, both engines, against the model's
    LKJ-Cholesky density and scipy's inverse-Wishart."""
    hyper = _hyper(d)
    cov = _random_covariances(d, 6, rng)
    prec_chol = np.linalg.cholesky(np.linalg.inv(cov))
    oracle = _log_prior_covariance(cov, hyper) - np.array(
        [stats.invwishart.logpdf(c, df=hyper["iw_df"], scale=hyper["iw_scale"]) for c in cov]
    )
    got = gnp.log_prior_excess(prec_chol, hyper)
    assert np.ptp(got - oracle) < 1e-10
    if __import__("bayesgmm._kernels", fromlist=["x"]).numba_available():
        from bayesgmm.bayes._gibbs_numba import _log_prior_excess

        compiled = np.array(
            [
                _log_prior_excess(p, hyper["sd_scale"], hyper["lkj_eta"], hyper["iw_df"], hyper["iw_scale"])
                for p in prec_chol
            ]
        )
        assert_allclose(compiled, got, rtol=0, atol=1e-10)


def _numba_prior_draws(hyper, n, seed):
    from numba import njit

    from bayesgmm.bayes._gibbs_numba import _lkj_prior_draw

    @njit
    def draws(sd_scale, eta, out, seed):  # pragma: no cover - compiled
        np.random.seed(seed)
        for i in range(out.shape[0]):
            _lkj_prior_draw(sd_scale, eta, out[i])

    out = np.zeros((n, hyper["sd_scale"].size, hyper["sd_scale"].size))
    draws(hyper["sd_scale"], hyper["lkj_eta"], out, seed)
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_prior_draws_of_an_empty_component_follow_the_prior(engine):
    """Standard deviations half-normal(sd_scale), each correlation 2 Beta(b, b) - 1 with
    ``b = eta - 1 + d / 2`` (the LKJ marginal): Kolmogorov-Smirnov against scipy."""
    d, n = 3, 20000
    hyper = _hyper(d, sd_scale=1.7, eta=2.5)
    if engine == "numpy":
        prec_chol = gnp.lkj_prior_precisions(n, hyper, np.random.default_rng(5))
    else:
        prec_chol = _numba_prior_draws(hyper, n, 5)
    cov = np.linalg.inv(prec_chol @ np.swapaxes(prec_chol, 1, 2))
    sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    b = hyper["lkj_eta"] - 1.0 + d / 2.0
    for f in range(d):
        assert stats.kstest(sd[:, f], stats.halfnorm(scale=1.7).cdf).pvalue > 1e-3
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        r = cov[:, i, j] / (sd[:, i] * sd[:, j])
        assert stats.kstest((r + 1.0) / 2.0, stats.beta(b, b).cdf).pvalue > 1e-3


@pytest.mark.parametrize("engine", [pytest.param("numpy", marks=pytest.mark.slow), *ENGINES[1:]])
def test_full_covariance_posterior_matches_importance_sampling(engine):
    """One component, six 2-D points: the chain's posterior means of mu and Sigma against
    importance sampling from the NUTS model's prior (weights: the likelihood)."""
    X = np.array([[0.0, 0.3], [1.1, 0.9], [-0.7, -0.2], [0.4, 1.4], [1.6, 0.8], [-0.2, -0.9]])
    priors = Priors(alpha=1.0, mean_loc=(0.3, 0.2), mean_scale=1.5, sd_scale=1.5, lkj_eta=2.0)
    hyper = gibbs_priors(priors, X, 1, "full", "halfnormal")
    rng = np.random.default_rng(3)
    m = 400_000
    mu = hyper["mean_loc"] + hyper["mean_scale"] * rng.standard_normal((m, 2))
    prec_chol = gnp.lkj_prior_precisions(m, hyper, rng)
    dev = np.einsum("mnb,mba->mna", X[None, :, :] - mu[:, None, :], prec_chol)
    logw = np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1) * len(X) - 0.5 * np.sum(
        dev**2, axis=(1, 2)
    )
    w = np.exp(logw - logw.max())
    w /= w.sum()
    cov = np.linalg.inv(prec_chol @ np.swapaxes(prec_chol, 1, 2))
    q_is = np.column_stack([mu, cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 1]])
    mean_is = w @ q_is
    se_is = np.sqrt(w**2 @ (q_is - mean_is) ** 2)

    draws = 20000 if engine == "numba" else 4000
    g = sample_sparse_mixture(
        X,
        1,
        priors=priors,
        scale_prior="halfnormal",
        draws=draws,
        tune=500,
        chains=2,
        random_state=2,
        engine=engine,
    )
    c = g.covariances[:, :, 0]
    q = np.stack(
        [g.means[:, :, 0, 0], g.means[:, :, 0, 1], c[..., 0, 0], c[..., 0, 1], c[..., 1, 1]], axis=-1
    )
    import arviz as az

    for j in range(q.shape[-1]):
        ess = float(az.ess(q[..., j]))
        se = np.hypot(q[..., j].std() / np.sqrt(ess), se_is[j])
        assert abs(q[..., j].mean() - mean_is[j]) < 4.5 * se, (j, q[..., j].mean(), mean_is[j], se)


@pytest.mark.parametrize("d, ct", [(1, "full"), (2, "full"), (2, "diag")])
def test_inference_data_has_the_nuts_models_layout(d, ct, rng):
    """The Gibbs fit's posterior: the NUTS model's variables, dims and ordering of the means."""
    from bayesgmm.bayes.sampling import BayesianGaussianMixture

    X = np.vstack([rng.normal(-2.0, 0.7, (80, d)), rng.normal(2.0, 1.0, (120, d))])
    b = BayesianGaussianMixture(2, covariance_type=ct, draws=100, tune=20, sampler="gibbs", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 100 draws: the diagnostics may complain
        b.fit(X)
    post = b.idata_.posterior
    expected = {"w", "mu", "sigma"} | ({"chol", "cov"} if ct == "full" and d > 1 else set())
    assert set(post.data_vars) == expected
    assert post["w"].dims == ("chain", "draw", "component")
    assert post["mu"].dims == ("chain", "draw", "component", "feature")
    assert post["sigma"].dims == (
        ("chain", "draw", "component") if d == 1 else ("chain", "draw", "component", "feature")
    )
    assert post["w"].shape == (2, 100, 2)
    assert_allclose(post["w"].values.sum(axis=-1), 1.0)
    assert b.idata_.log_likelihood["x"].shape == (2, 100, 200)
    assert b.mass_matrix_adapted_ is False
    assert abs(b.means_[0, 0] + 2.0) < 0.3 and abs(b.means_[1, 0] - 2.0) < 0.3
    if ct == "full" and d > 1:
        lower = np.zeros((2, 100, 2, d, d))
        lower[..., np.tril_indices(d)[0], np.tril_indices(d)[1]] = post["chol"].values
        # chol is the sampler's order (sorted means), cov is relabelled: compare as sets
        assert_allclose(
            np.sort((lower @ np.swapaxes(lower, -1, -2))[..., 0, 0], axis=-1),
            np.sort(post["cov"].values[..., 0, 0], axis=-1),
            rtol=1e-10,
        )


def test_gibbs_agrees_with_nuts_on_the_heights(heights_posterior):
    """The same model and data as the NUTS fit of the heights: posterior means within four
    Monte Carlo standard errors, standard deviations within 25 %."""
    from bayesgmm.bayes.sampling import BayesianGaussianMixture

    X, _, nuts = heights_posterior
    gibbs = BayesianGaussianMixture(2, draws=1000, tune=300, sampler="gibbs", random_state=3).fit(X)
    assert gibbs.diagnostics_["invariant_ok"]
    a, b = gibbs.parameter_draws(), nuts.parameter_draws()
    for name in a:
        mcse = np.hypot(
            a[name].std() / np.sqrt(gibbs.diagnostics_["min_ess_bulk"]),
            b[name].std() / np.sqrt(nuts.diagnostics_["min_ess_bulk"]),
        )
        assert abs(a[name].mean() - b[name].mean()) < 4 * mcse, name
        assert_allclose(a[name].std(), b[name].std(), rtol=0.25)


def test_gibbs_arguments_are_checked(rng):
    from bayesgmm.bayes.sampling import BayesianGaussianMixture

    X = rng.standard_normal((50, 1))
    with pytest.raises(ValueError, match=r"'alpha' prior parameter \(1.0, 2.0\)"):
        BayesianGaussianMixture(2, priors=Priors(alpha=(1.0, 2.0)), sampler="gibbs", draws=20, tune=5).fit(X)
    with pytest.raises(ValueError, match="needs init='em'. Got init='adapt_diag'"):
        BayesianGaussianMixture(2, init="adapt_diag", sampler="gibbs", draws=20, tune=5).fit(X)
    with pytest.raises(ValueError, match=r"'starts' parameter must hold integer arrays of shape \(50,\)"):
        sample_sparse_mixture(X, 2, starts=[np.zeros(49, dtype=int)], draws=5, tune=0)
    with pytest.raises(ValueError, match="labels in 0..1"):
        sample_sparse_mixture(X, 2, starts=[np.full(50, 2)], draws=5, tune=0)
    with pytest.raises(ValueError, match="thin"):
        sample_sparse_mixture(X, 2, thin=0, draws=5, tune=0)


@pytest.mark.parametrize("engine", ENGINES)
def test_thinning_keeps_every_thin_th_sweep(engine):
    """``thin=t`` keeps the sweeps ``t - 1, 2 t - 1, ...`` of the same chain ``thin=1`` runs."""
    X = np.random.default_rng(1).standard_normal((40, 1))
    one = sample_sparse_mixture(X, 2, draws=12, tune=3, chains=1, random_state=4, engine=engine)
    three = sample_sparse_mixture(X, 2, draws=4, tune=3, chains=1, random_state=4, engine=engine, thin=3)
    assert_allclose(three.log_likelihood[0], one.log_likelihood[0][2::3], rtol=1e-12)
    assert_allclose(three.means[0], one.means[0][2::3], rtol=1e-12)
