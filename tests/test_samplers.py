"""bayesgmm.bayes.samplers and the numba twin of the fused likelihood.

The compiled pieces are checked against independent implementations: the numba kernels
against the numpy Op (itself checked against scipy in test_bayes_model.py), the
numba-compiled model against PyTensor's default backend, and the nutpie posterior against
PyMC's NUTS on the same model.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

pytest.importorskip("pymc")
pytest.importorskip("numba")

from bayesgmm import GaussianMixture, load_heights  # noqa: E402
from bayesgmm.bayes import _likelihood, _likelihood_numba, _nutpie, samplers  # noqa: E402
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


@pytest.mark.parametrize("ct, d", [("full", 1), ("full", 2), ("diag", 2)])
def test_numba_compiled_model_equals_default_backend(rng, ct, d):
    """The whole log-density and gradient, compiled by PyTensor's numba backend (what
    nutpie samples), against PyTensor's default backend running the numpy Op."""
    X = np.c_[_heights(300), rng.normal(size=(300, 1))][:, :d]
    em = GaussianMixture(2, covariance_type=ct, random_state=0).fit(X)
    model = build_model(X, 2, covariance_type=ct)
    compiled = _nutpie._compile_numba(model, [initial_values(em.params_.sorted(0), ct)])
    f = model.logp_dlogp_function(ravel_inputs=True)
    f.set_extra_values({})
    for scale in (0.0, 0.05, 0.3):
        x = compiled.starts[0] + scale * rng.normal(size=compiled.ndim)
        lp, g = compiled.logp(x)
        lp_ref, g_ref = f(x)
        assert np.isfinite(lp)
        assert_allclose(lp, lp_ref, rtol=1e-10)
        assert_allclose(g, g_ref, rtol=1e-8, atol=1e-8 * np.max(np.abs(g_ref)))
    draws = compiled.expand(compiled.starts[0])
    order = np.argsort(em.means_[:, 0])
    assert_allclose(draws["w"], em.weights_[order], rtol=1e-8)
    assert_allclose(draws["mu"], em.means_[order], rtol=1e-10)


def test_compiled_model_serves_a_new_data_set_of_another_size():
    """Data and hyper-parameters are arguments of the compiled function, not constants."""
    a = build_model(_heights(200, 1), 2)
    b = build_model(_heights(350, 2), 2)
    ia = [initial_values(GaussianMixture(2, random_state=0).fit(_heights(200, 1)).params_.sorted(0))]
    ib = [initial_values(GaussianMixture(2, random_state=0).fit(_heights(350, 2)).params_.sorted(0))]
    ca, cb = _nutpie._compile_numba(a, ia), _nutpie._compile_numba(b, ib)
    for model, c in ((a, ca), (b, cb)):
        f = model.logp_dlogp_function(ravel_inputs=True)
        f.set_extra_values({})
        assert_allclose(c.logp(c.starts[0])[0], f(c.starts[0])[0], rtol=1e-10)


def test_nutpie_posterior_agrees_with_pymc_nuts():
    """nutpie's compiled NUTS and PyMC's NUTS on the same model and data: posterior means
    within 4 Monte Carlo standard errors of their difference, and clean diagnostics."""
    pytest.importorskip("nutpie")
    from bayesgmm.bayes.sampling import BayesianGaussianMixture
    from bayesgmm.exceptions import SamplingWarning

    X = _heights(1000, 5)
    em = GaussianMixture(2, tol=1e-8, max_iter=10000, n_init=3, random_state=0).fit(X)
    with warnings.catch_warnings():
        # judged below by the numbers themselves
        warnings.simplefilter("ignore", SamplingWarning)
        fits = {
            s: BayesianGaussianMixture(2, draws=1000, tune=300, sampler=s, random_state=11).fit(X, em=em)
            for s in ("nutpie", "pymc")
        }
    assert fits["nutpie"].diagnostics_["divergences"] == 0
    assert fits["nutpie"].diagnostics_["max_rhat"] <= 1.01
    a, b = fits["nutpie"].parameter_draws(), fits["pymc"].parameter_draws()
    for name in a:
        mcse = np.hypot(
            a[name].std() / np.sqrt(fits["nutpie"].diagnostics_["min_ess_bulk"]),
            b[name].std() / np.sqrt(fits["pymc"].diagnostics_["min_ess_bulk"]),
        )
        assert abs(a[name].mean() - b[name].mean()) < 4 * mcse, name
        assert_allclose(a[name].std(), b[name].std(), rtol=0.25)


def test_auto_is_nutpie_when_installed():
    pytest.importorskip("nutpie")
    assert isinstance(samplers.make_sampler("auto", "em", "fused"), _nutpie.CompiledNUTS)
    assert isinstance(samplers.make_sampler("pymc", "em", "fused"), samplers.LaplaceNUTS)
    assert isinstance(samplers.make_sampler("auto", "jitter+adapt_diag", "pymc"), samplers.PyMCInitNUTS)


@pytest.mark.parametrize("k, ct, d", [(2, "full", 1), (3, "full", 2), (2, "diag", 2), (1, "full", 2)])
def test_transformed_starts_equal_pymc_initial_point(rng, k, ct, d):
    """The chains' starts in the unconstrained space, bitwise those of PyMC's own
    initial-point function."""
    from pymc.initial_point import make_initial_point_fn

    X = rng.normal(size=(150, d)) + np.arange(150)[:, None] % k * 3.0
    starts = [
        initial_values(GaussianMixture(k, covariance_type=ct, random_state=s).fit(X).params_, ct)
        for s in (0, 1)
    ]
    model = build_model(X, k, covariance_type=ct)
    got = _nutpie._transformed_starts(model, starts)
    for s, g in zip(starts, got, strict=True):
        ref = make_initial_point_fn(model=model, overrides=s, jitter_rvs=set(), return_transformed=True)(0)
        assert set(g) == set(ref)
        for name in ref:
            np.testing.assert_array_equal(g[name], ref[name], err_msg=name)


def test_a_draw_reuses_the_evaluation_that_visited_it(monkeypatch):
    """nutpie asks for a draw's named values at a point it evaluated while building the
    tree: they come from that evaluation (no second pass over the data), and equal a
    fresh evaluation."""
    calls = []
    bind = _nutpie._bind

    def counting(jit, shared):
        f = bind(jit, shared)

        def call(x):
            calls.append(1)
            return f(x)

        return call

    monkeypatch.setattr(_nutpie, "_bind", counting)
    X = _heights(300, 4)
    model = build_model(X, 2)
    c = _nutpie._compile_numba(
        model, [initial_values(GaussianMixture(2, random_state=0).fit(X).params_.sorted(0))]
    )
    x = c.starts[0] + 0.01
    c.logp(x)
    n = len(calls)
    got = c.expand(x)
    assert len(calls) == n  # no new evaluation
    fresh = c.expand(x)  # not remembered any more: evaluated again, same values
    assert len(calls) == n + 1
    for name in got:
        np.testing.assert_array_equal(got[name], fresh[name])
