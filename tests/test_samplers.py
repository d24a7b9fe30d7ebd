"""bayesgmm.bayes.samplers, the compiled NUTS (bayes/_nuts.py, bayes/_nuts_numba.py) and
the numba twin of the fused likelihood.

The compiled pieces are checked against independent implementations: the numba kernels
against the numpy Op (itself checked against scipy in test_bayes_model.py), the compiled
NUTS against quadrature of a two-parameter posterior and against PyMC's NUTS on the same
model, its starts against PyMC's initial-point function.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

pytest.importorskip("pymc")
pytest.importorskip("numba")
az = pytest.importorskip("arviz")

from bayesgmm import GaussianMixture, load_heights  # noqa: E402
from bayesgmm.bayes import _likelihood, _likelihood_numba, _nuts, _nuts_numba, samplers  # noqa: E402
from bayesgmm.bayes.model import build_model, initial_values  # noqa: E402


def _params(rng, kind, k, d):
    w = rng.dirichlet(np.ones(k))
    mu = rng.normal(size=(k, d))
    if kind == "full":
        A = rng.normal(size=(k, d, d))
        scale = np.linalg.cholesky(A @ np.swapaxes(A, 1, 2) + np.eye(d))
    else:
        scale = rng.uniform(0.5, 2.0, size=(k, d))
    return w, mu, scale


@pytest.mark.parametrize("kind, k, d", [("full", 2, 1), ("full", 3, 3), ("diag", 2, 2), ("diag", 4, 1)])
def test_numba_twin_equals_numpy_op(rng, kind, k, d):
    X = rng.normal(size=(20000, d)) * 1.5  # more than one block of rows
    shift = X.mean(axis=0)
    w, mu, scale = _params(rng, kind, k, d)
    ref = _likelihood.mixture_loglike_and_grad(X, shift, w, mu, scale, kind, backend="numpy")
    twin = (_likelihood_numba.loglike_grad_full if kind == "full" else _likelihood_numba.loglike_grad_diag)(
        X, shift, w, mu, scale
    )
    assert_allclose(twin[0], ref[0], rtol=1e-11)
    for a, b in zip(twin[1:], ref[1:], strict=True):
        assert_allclose(a, b, rtol=1e-9, atol=1e-9 * np.max(np.abs(b)))


def test_numba_twin_outside_the_support(rng):
    X = rng.normal(size=(50, 2))
    w, mu, L = _params(rng, "full", 2, 2)
    L[1, 1, 1] = -1.0
    assert _likelihood_numba.loglike_grad_full(X, X.mean(axis=0), w, mu, L)[0] == -np.inf
    sig = np.array([[1.0, np.nan], [1.0, 1.0]])
    assert _likelihood_numba.loglike_grad_diag(X, X.mean(axis=0), w, mu, sig)[0] == -np.inf


def _heights(n, seed=0):
    X, _ = load_heights()
    return X[np.random.default_rng(seed).choice(X.shape[0], n, replace=False)]


# ----------------------------------------------------------------------------- compiled NUTS
def _run(model, starts, *, draws=500, tune=300, chains=2, seed=5, threads=1, sampler=None):
    run = samplers.SamplingRun(
        draws=draws, tune=tune, chains=chains, cores=1, random_seed=seed, target_accept=0.9,
        progressbar=False, chain_threads=threads,
    )  # fmt: skip
    return (sampler or _nuts.CompiledNUTS()).sample(model, starts, run)


def test_nuts_matches_quadrature_of_a_two_parameter_posterior(rng):
    """One component, one feature: the posterior of (mu, sigma) on a grid, by quadrature in
    (mu, log sigma); NUTS's posterior means and sds within 4 Monte Carlo standard errors."""
    X = rng.normal(0.3, 1.7, size=(40, 1))
    model = _nuts.CompiledModel.build(X, 1, "diag")
    m, sd, n = X.mean(), X.std(), X.shape[0]
    mu = np.linspace(m - 9 * sd / np.sqrt(n), m + 9 * sd / np.sqrt(n), 241)
    ls = np.linspace(np.log(sd) - 9 / np.sqrt(2 * n), np.log(sd) + 9 / np.sqrt(2 * n), 241)
    M, S = np.meshgrid(mu, ls, indexing="ij")
    lp = np.array(
        [model.log_posterior(np.array([m, s]))[0] for m, s in zip(M.ravel(), S.ravel(), strict=True)]
    )
    p = np.exp(lp - lp.max()).reshape(M.shape)
    p /= p.sum()
    assert p[[0, -1], :].max() < 1e-8 * p.max() and p[:, [0, -1]].max() < 1e-8 * p.max()  # the grid holds it
    ref = {"mu": M, "sigma": np.exp(S)}
    res = _run(model, [{"mu": X.mean(axis=0)[None], "sigma": X.std(axis=0)[None]}], draws=2000, chains=2)
    post = res.idata.posterior
    ess = az.ess(post)
    for name, grid in ref.items():
        draws = post[name].values.ravel()
        mean, sd = float((p * grid).sum()), float(np.sqrt((p * grid**2).sum() - (p * grid).sum() ** 2))
        n_eff = float(ess[name].min())
        assert abs(draws.mean() - mean) < 4 * sd / np.sqrt(n_eff), name
        assert abs(draws.std() - sd) < 4 * sd / np.sqrt(2 * n_eff) + 0.01 * sd, name
    assert not res.idata.sample_stats["diverging"].values.any()


def _heights_model(n=300, seed=4, k=2, ct="full"):
    X = _heights(n, seed)
    em = GaussianMixture(k, covariance_type=ct, random_state=0).fit(X)
    return X, _nuts.CompiledModel.build(X, k, ct), [initial_values(em.params_.sorted(0), ct)]


def test_nuts_draws_are_reproducible_and_do_not_depend_on_threads():
    _, model, starts = _heights_model()
    a = _run(model, starts, draws=100, tune=50, threads=1)
    b = _run(model, starts, draws=100, tune=50, threads=2)
    c = _run(model, starts, draws=100, tune=50, threads=1, seed=6)
    for name in ("w", "mu", "sigma"):
        assert_array_equal(a.idata.posterior[name].values, b.idata.posterior[name].values)
    assert not np.array_equal(a.idata.posterior["mu"].values, c.idata.posterior["mu"].values)
    assert not np.array_equal(a.idata.posterior["mu"].values[0], a.idata.posterior["mu"].values[1])


@pytest.mark.parametrize("k, ct, d", [(2, "full", 2), (3, "diag", 2), (2, "diag", 1)])
def test_nuts_draw_values_come_from_the_compiled_density(rng, k, ct, d):
    """Each draw's named values, log density and total log-likelihood are those of the
    compiled log-posterior at the draw (and of the per-draw pass over the data)."""
    from bayesgmm.bayes._log_posterior_numba import constrain

    X = rng.normal(size=(200, d)) + (np.arange(200) % k)[:, None] * 3.0
    em = GaussianMixture(k, covariance_type=ct, random_state=0).fit(X)
    model = _nuts.CompiledModel.build(X, k, ct)
    res = _run(model, [initial_values(em.params_.sorted(0), ct)], draws=20, tune=20)
    post, stats = res.idata.posterior, res.idata.sample_stats
    for c, j in ((0, 3), (1, 17)):
        start = {"mu": post["mu"].values[c, j]}
        if k > 1:
            start["w"] = post["w"].values[c, j]
        start.update(
            {"chol": post["chol"].values[c, j]} if model.full else {"sigma": post["sigma"].values[c, j]}
        )
        z = model.unconstrain(start)
        lp, _, ll = model.log_posterior(z)
        assert_allclose(stats["lp"].values[c, j], lp, rtol=1e-10)
        assert_allclose(res.log_likelihood[c, j], ll, rtol=1e-10)
        w, mu, L, _ = constrain(z, k, d, model.full)
        if model.full:
            assert_allclose(post["cov"].values[c, j], L @ np.swapaxes(L, 1, 2), rtol=1e-10)
        assert_allclose(post["sigma"].values[c, j].reshape(k, d), np.sqrt(np.sum(L * L, axis=2)), rtol=1e-12)


@pytest.mark.parametrize(
    "k, ct, d", [(2, "full", 1), (3, "full", 2), (2, "diag", 2), (1, "full", 2), (1, "diag", 1)]
)
def test_starts_equal_pymc_initial_point(rng, k, ct, d):
    """The chains' starts in the unconstrained space are those of PyMC's own
    initial-point function, in the order of the model's value variables."""
    from pymc.initial_point import make_initial_point_fn

    X = rng.normal(size=(150, d)) + np.arange(150)[:, None] % k * 3.0
    start = initial_values(GaussianMixture(k, covariance_type=ct, random_state=0).fit(X).params_, ct)
    model = build_model(X, k, covariance_type=ct)
    ref = make_initial_point_fn(model=model, overrides=start, jitter_rvs=set(), return_transformed=True)(0)
    flat = np.concatenate([np.ravel(ref[v.name]) for v in model.value_vars])
    assert_allclose(_nuts.CompiledModel.build(X, k, ct).unconstrain(start), flat, rtol=1e-12, atol=1e-14)


def test_nuts_is_compiled_once_per_kind_not_per_data_or_k():
    """Data, K and hyper-parameters are arguments: one machine code per covariance kind."""
    for n, k in ((120, 2), (250, 3)):
        X = _heights(n, k)
        em = GaussianMixture(k, random_state=0).fit(X)
        _run(_nuts.CompiledModel.build(X, k, "full"), [initial_values(em.params_.sorted(0))], draws=5, tune=5)
    diag = [sig for sig in _nuts_numba.run_chain.signatures if "none" in str(sig[-3])]
    assert len(diag) == 1


def test_warmup_windows_are_stans():
    """Stan's windows: 75 fast, then slow windows of 25, 50, 100 (the last stretched), 50 fast."""
    ends, first = _nuts_numba._windows(300)
    assert first == 75 and list(ends) == [99, 149, 249]
    ends, first = _nuts_numba._windows(1000)
    assert first == 75 and list(ends) == [99, 149, 249, 449, 949]
    ends, first = _nuts_numba._windows(100)  # too short for the defaults: 15 % / 75 % / 10 %
    assert first == 15 and list(ends) == [89]
    assert len(_nuts_numba._windows(10)[0]) == 0


def test_a_start_outside_the_support_is_refused():
    _, model, starts = _heights_model(n=100)
    bad = dict(starts[0], w=np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="no finite log posterior"):
        _run(model, [bad], draws=5, tune=5)


@pytest.mark.parametrize("n, ct, d", [(1000, "full", 1), (400, "full", 2)])
def test_nuts_posterior_agrees_with_pymc_nuts(n, ct, d):
    """The default sampler (the compiled NUTS) and PyMC's NUTS on the same model and data:
    posterior means within 4 Monte Carlo standard errors of their difference, sds within
    25 %, clean diagnostics. The compiled sampler draws 2 000 a chain (PyMC 1 000): with
    2-D full covariances its ESS is 300-400 per 1 000 draws a chain (PyMC's 240-340), too
    few for its R-hat to stay below 1.01 in every run."""
    from bayesgmm.bayes.sampling import BayesianGaussianMixture
    from bayesgmm.exceptions import SamplingWarning

    X = _heights(n, 5)
    if d == 2:
        X = np.c_[X, 0.5 * X[:, 0] + np.random.default_rng(1).normal(0, 0.05, size=n)]
    em = GaussianMixture(2, covariance_type=ct, tol=1e-8, max_iter=10000, n_init=3, random_state=0).fit(X)
    with warnings.catch_warnings():
        # judged below by the numbers themselves
        warnings.simplefilter("ignore", SamplingWarning)
        fits = {
            s: BayesianGaussianMixture(
                2, covariance_type=ct, draws=draws, tune=300, sampler=s, random_state=11
            ).fit(X, em=em)
            for s, draws in (("auto", 2000), ("pymc", 1000))
        }
    assert fits["auto"].sampler == "auto" and samplers.make_sampler("auto", "em", "fused").name == "nuts"
    assert fits["auto"].diagnostics_["divergences"] == 0
    assert fits["auto"].diagnostics_["max_rhat"] <= 1.01
    a, b = fits["auto"].parameter_draws(), fits["pymc"].parameter_draws()
    for name in a:
        mcse = np.hypot(
            a[name].std() / np.sqrt(fits["auto"].diagnostics_["min_ess_bulk"]),
            b[name].std() / np.sqrt(fits["pymc"].diagnostics_["min_ess_bulk"]),
        )
        assert abs(a[name].mean() - b[name].mean()) < 4 * mcse, name
        assert_allclose(a[name].std(), b[name].std(), rtol=0.25)


def test_auto_is_the_compiled_nuts():
    assert isinstance(samplers.make_sampler("auto", "em", "fused"), _nuts.CompiledNUTS)
    assert isinstance(samplers.make_sampler("nuts", "em", "pymc"), _nuts.CompiledNUTS)
    assert isinstance(samplers.make_sampler("auto", "em", "pymc"), samplers.LaplaceNUTS)
    assert isinstance(samplers.make_sampler("pymc", "em", "fused"), samplers.LaplaceNUTS)
    assert isinstance(samplers.make_sampler("auto", "jitter+adapt_diag", "pymc"), samplers.PyMCInitNUTS)
    with pytest.raises(ValueError, match="init='em'"):
        samplers.make_sampler("nuts", "jitter+adapt_diag", "fused")


@pytest.mark.slow
def test_nutpie_through_its_public_api():
    """sampler="nutpie": nutpie's own compilation of the PyMC model (the fused likelihood's
    numba implementation included) samples the same posterior."""
    pytest.importorskip("nutpie")
    from bayesgmm.bayes.sampling import BayesianGaussianMixture

    X = _heights(1000, 5)
    em = GaussianMixture(2, tol=1e-8, max_iter=10000, n_init=3, random_state=0).fit(X)
    fits = {
        s: BayesianGaussianMixture(2, draws=1000, sampler=s, random_state=3).fit(X, em=em)
        for s in ("nutpie", "nuts")
    }
    assert fits["nutpie"].diagnostics_["divergences"] == 0
    a, b = fits["nutpie"].parameter_draws(), fits["nuts"].parameter_draws()
    for name in a:
        mcse = np.hypot(
            a[name].std() / np.sqrt(fits["nutpie"].diagnostics_["min_ess_bulk"]),
            b[name].std() / np.sqrt(fits["nuts"].diagnostics_["min_ess_bulk"]),
        )
        assert abs(a[name].mean() - b[name].mean()) < 4 * mcse, name
