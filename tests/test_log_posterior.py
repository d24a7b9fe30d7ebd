"""bayesgmm.bayes._log_posterior_numba: the compiled log-posterior equals PyMC's.

The reference is the model itself: PyMC's ``compile_logp`` / ``compile_dlogp`` of
:func:`bayesgmm.bayes.model.build_model` (Jacobians included), at random unconstrained
points, with the fused likelihood (the default model) and with PyMC's own mixture graph
(``likelihood="pymc"``), on whichever PyMC line is installed.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

pm = pytest.importorskip("pymc")
pytest.importorskip("numba")

from bayesgmm.bayes import _log_posterior_numba as lpn  # noqa: E402
from bayesgmm.bayes.model import Priors, build_model, lkj_cholesky_cov_logp, model_kind  # noqa: E402

GRID = [
    (d, k, ct)
    for d in (1, 2, 5)
    for k in range(1, 6)
    for ct in ("full", "diag")
    if not (d == 1 and ct == "full")
]


def _data(rng, n, d):
    return rng.normal(size=(n, d)) + rng.integers(0, 3, size=(n, 1)) * 2.0


def _args(X, k, ct, priors=None):
    hp = (priors or Priors()).resolve(X, k)
    full = model_kind(ct, X.shape[1]) == "full"
    eta = hp["lkj_eta"] if full else None  # None: standard deviations, no LKJ
    return (X, X.mean(axis=0), hp["alpha"], hp["mean_loc"], hp["mean_scale"], hp["sd_scale"], eta)


def _pymc_reference(model, points):
    """PyMC's log density and gradient at unconstrained vectors, value variable by value
    variable in the model's order (PyTensor's Python linker, no graph rewrites: the
    model's own graph, quick to compile)."""
    import pytensor

    mode = pytensor.compile.mode.Mode(linker="py", optimizer=None)
    logp, dlogp = model.compile_logp(mode=mode), model.compile_dlogp(mode=mode)
    start = model.initial_point()
    out = []
    for z in points:
        point, at = {}, 0
        for v in model.value_vars:
            shape = np.shape(start[v.name])
            size = int(np.prod(shape))
            point[v.name] = z[at : at + size].reshape(shape)
            at += size
        assert at == z.size
        out.append((float(logp(point)), np.asarray(dlogp(point))))
    return out


def _check_against_pymc(rng, d, k, ct, likelihood, priors=None, n=200):
    X = _data(rng, n, d)
    model = build_model(X, k, covariance_type=ct, likelihood=likelihood, priors=priors)
    args = _args(X, k, ct, priors)
    p = lpn.n_unconstrained(args[-1] is not None, k, d)
    points = [rng.normal(size=p) * 0.5 for _ in range(3)]
    for z, (ref, ref_grad) in zip(points, _pymc_reference(model, points), strict=True):
        grad = np.empty(p)
        value, _ = lpn.log_posterior(z, grad, *args)
        assert_allclose(value, ref, rtol=1e-10)
        assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-10 * np.max(np.abs(ref_grad)))


@pytest.mark.parametrize("d, k, ct", GRID)
def test_log_posterior_equals_pymc(rng, d, k, ct):
    """The default model (fused likelihood): value and gradient to 1e-10 relative."""
    _check_against_pymc(rng, d, k, ct, "fused")


@pytest.mark.parametrize("d, k, ct", [(1, 2, "diag"), (2, 3, "full"), (5, 2, "diag")])
def test_log_posterior_equals_pymc_mixture_graph(rng, d, k, ct):
    """The same against PyMC's own mixture distributions (NormalMixture, Mixture of MvNormal)."""
    _check_against_pymc(rng, d, k, ct, "pymc")


@pytest.mark.slow
@pytest.mark.parametrize("d, k, ct", GRID)
def test_log_posterior_equals_pymc_mixture_graph_grid(rng, d, k, ct):
    _check_against_pymc(rng, d, k, ct, "pymc")


def test_log_posterior_with_given_priors(rng):
    """Non-default hyper-parameters: a non-symmetric sparse Dirichlet, per-feature scales, eta."""
    priors = Priors(
        alpha=[0.3, 2.0, 0.7], mean_loc=[0.5, -1.0], mean_scale=[3.0, 0.5], sd_scale=[0.7, 4.0], lkj_eta=3.5
    )
    _check_against_pymc(rng, 2, 3, "full", "fused", priors=priors)
    _check_against_pymc(rng, 2, 3, "diag", "fused", priors=priors)


@pytest.mark.parametrize("d, k, ct", [(1, 1, "diag"), (1, 3, "diag"), (2, 4, "full"), (3, 2, "diag")])
def test_constrain_round_trip(rng, d, k, ct):
    full = ct == "full"
    z = rng.normal(size=lpn.n_unconstrained(full, k, d))
    w, mu, L, _ = lpn.constrain(z, k, d, full)
    assert_allclose(w.sum(), 1.0, rtol=1e-14)
    assert np.all(np.diff(mu[:, 0]) > 0)
    assert np.all(np.diagonal(L, axis1=1, axis2=2) > 0)
    if not full:
        assert_allclose(L, np.einsum("ki,ij->kij", np.diagonal(L, axis1=1, axis2=2), np.eye(d)))
    assert_allclose(lpn.unconstrain(w, mu, L, full), z, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n, eta", [(2, 2.0), (3, 1.5), (5, 0.8)])
def test_lkj_piece_equals_the_model_and_its_gradient(rng, n, eta):
    """The compiled LKJ-Cholesky density is the model's PyTensor one; its gradient is the
    central difference of its value."""
    sd_scale = rng.uniform(0.5, 2.0, size=n)
    A = rng.normal(size=(n, n))
    L = np.linalg.cholesky(A @ A.T + np.eye(n))
    grad = np.zeros((n, n))
    value = lpn.lkj_cholesky_cov_logp(L, sd_scale, eta, grad)
    il = np.tril_indices(n)
    ref = lkj_cholesky_cov_logp(L[il][None], eta, sd_scale).eval()[0]
    assert_allclose(value, ref, rtol=1e-12)
    h = 1e-6
    for i, j in zip(*il, strict=True):
        up, down = L.copy(), L.copy()
        up[i, j] += h
        down[i, j] -= h
        scratch = np.zeros((n, n))
        fd = (
            lpn.lkj_cholesky_cov_logp(up, sd_scale, eta, scratch)
            - lpn.lkj_cholesky_cov_logp(down, sd_scale, eta, scratch)
        ) / (2 * h)
        assert_allclose(grad[i, j], fd, rtol=1e-6, atol=1e-8)
    assert np.all(np.triu(grad, 1) == 0)


def test_lkj_log_normaliser_closed_form():
    """n = 2: log(2^(2 eta - 1) B(eta, eta)), by scipy."""
    from scipy.special import betaln

    for eta in (0.5, 1.0, 2.0, 7.3):
        assert_allclose(
            lpn.lkj_log_normaliser(2, eta), (2 * eta - 1) * np.log(2) + betaln(eta, eta), rtol=1e-13
        )
    assert lpn.lkj_log_normaliser(1, 2.0) == 0.0


def test_outside_the_support_is_minus_inf(rng):
    X = _data(rng, 50, 2)
    args = _args(X, 2, "full")
    z = rng.normal(size=lpn.n_unconstrained(True, 2, 2))
    grad = np.empty_like(z)
    z[0] = 800.0  # a weight underflows to 0
    assert lpn.log_posterior(z, grad, *args)[0] == -np.inf
    z[0] = 0.0
    z[-1] = -800.0  # a Cholesky diagonal underflows to 0
    assert lpn.log_posterior(z, grad, *args)[0] == -np.inf
    assert np.all(grad == 0)


def test_log_likelihood_is_the_likelihood_term(rng):
    """The second value returned is the total log-likelihood at the constrained point."""
    from scipy.stats import norm

    X = _data(rng, 80, 1)
    args = _args(X, 2, "diag")
    z = rng.normal(size=lpn.n_unconstrained(False, 2, 1)) * 0.3
    w, mu, L, _ = lpn.constrain(z, 2, 1, False)
    _, ll = lpn.log_posterior(z, np.empty_like(z), *args)
    ref = np.log(sum(w[c] * norm.pdf(X[:, 0], mu[c, 0], L[c, 0, 0]) for c in range(2))).sum()
    assert_allclose(ll, ref, rtol=1e-12)
