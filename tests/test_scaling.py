"""bayesgmm._scaling: the affine standardisation and its exact inverse on parameters."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from bayesgmm import GaussianMixture, GMMParams, make_mixture
from bayesgmm._scaling import Standardizer

CTS = ("full", "tied", "diag", "spherical")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _random_params(rng, k, d, ct):
    A = rng.normal(size=(k, d, d))
    full = A @ np.swapaxes(A, 1, 2) + np.eye(d)
    cov = {
        "full": full,
        "tied": full[0],
        "diag": np.abs(rng.normal(size=(k, d))) + 0.5,
        "spherical": np.abs(rng.normal(size=k)) + 0.5,
    }[ct]
    w = rng.dirichlet(np.ones(k))
    return GMMParams(w, rng.normal(size=(k, d)), cov, ct)


def _logpdf(params, X):
    full = params.covariances_full()
    dens = [
        w * stats.multivariate_normal(m, c).pdf(X)
        for w, m, c in zip(params.weights, params.means, full, strict=True)
    ]
    return np.log(np.sum(dens, axis=0))


def test_fit_centers_and_scales(rng):
    X = rng.normal(size=(500, 3)) * [1e-8, 1.0, 1e8] + [5.0, -2.0, 3e8]
    std = Standardizer.fit(X)
    Z = std.transform(X)
    # the centre is exact to the spacing of floats at its magnitude
    assert np.all(np.abs(Z.mean(axis=0) * std.scale) <= 2 * np.spacing(np.abs(std.center)))
    assert_allclose(Z.std(axis=0), 1.0, rtol=1e-12)
    assert_allclose(std.inverse_transform(Z), X, rtol=1e-12)
    iso = Standardizer.fit(X, isotropic=True)
    assert iso.is_isotropic and not std.is_isotropic
    assert_allclose(iso.scale, np.sqrt(X.var(axis=0).mean()), rtol=1e-12)
    assert_allclose(std.log_jacobian, -np.sum(np.log(X.std(axis=0))), atol=1e-11)


def test_weighted_fit_equals_repeated_rows(rng):
    X = rng.normal(size=(40, 2))
    w = rng.integers(0, 4, size=40)
    a = Standardizer.fit(X, sample_weight=w)
    b = Standardizer.fit(np.repeat(X, w, axis=0))
    assert_allclose(a.center, b.center, rtol=1e-12)
    assert_allclose(a.scale, b.scale, rtol=1e-12)


def test_constant_feature_gets_a_scale_that_follows_the_data(rng):
    X = np.column_stack([rng.normal(size=50) * 3.0, np.full(50, 7.0)])
    std = Standardizer.fit(X)
    assert_allclose(std.scale[1], std.scale[0], rtol=1e-12)
    assert_allclose(Standardizer.fit(np.full((5, 2), 1.0)).scale, 1.0)
    assert_allclose(Standardizer.fit(1e-6 * X).scale, 1e-6 * std.scale, rtol=1e-12)


@pytest.mark.parametrize("ct", CTS)
def test_params_back_gives_the_density_of_x_times_the_jacobian(rng, ct):
    """p_x(x) = p_z(z(x)) |det dz/dx| for the mapped mixture (scipy densities as oracle)."""
    X = rng.normal(size=(30, 3)) * [2.0, 0.01, 50.0] + [1.0, 2.0, 3.0]
    std = Standardizer.fit(X, isotropic=ct == "spherical")
    pz = _random_params(rng, 3, 3, ct)
    px = std.params_back(pz)
    assert px.covariance_type == ct
    # scipy evaluates the x-density through an eigendecomposition of a covariance with
    # condition number ~1e7: agreement to ~1e-9 is its own rounding
    assert_allclose(_logpdf(px, X), _logpdf(pz, std.transform(X)) + std.log_jacobian, rtol=1e-8)
    back = std.params_forward(px)
    assert_allclose(back.means, pz.means, rtol=1e-12, atol=1e-12)
    assert_allclose(back.covariances, pz.covariances, rtol=1e-12)
    assert_allclose(
        std.precisions_cholesky_back(pz.precisions_cholesky, ct), px.precisions_cholesky, rtol=1e-10
    )
    assert_allclose(std.loglik_back(10.0, 30), 10.0 + 30 * std.log_jacobian)


def test_back_maps_broadcast_over_draws(rng):
    std = Standardizer([1.0, 2.0], [3.0, 0.5])
    means = rng.normal(size=(7, 3, 2))
    cov = np.tile(np.eye(2), (7, 3, 1, 1))
    assert_allclose(std.means_back(means)[4, 1], std.center + std.scale * means[4, 1])
    assert_allclose(std.covariances_back(cov, "full")[2, 0], np.diag([9.0, 0.25]))


def test_spherical_needs_one_scale():
    std = Standardizer([0.0, 0.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="isotropic=True"):
        std.covariances_back(np.ones(2), "spherical")


@pytest.mark.parametrize(
    "center, scale, match",
    [([0.0], [0.0], "positive"), ([0.0, 1.0], [1.0], "same length"), ([np.nan], [1.0], "finite")],
)
def test_bad_maps_are_refused(center, scale, match):
    with pytest.raises(ValueError, match=match):
        Standardizer(center, scale)


@pytest.mark.parametrize("ct", CTS)
def test_model_back_scores_x_like_a_model_fitted_with_scaled_reg_covar(ct):
    """EM on z mapped back = EM on x with reg_covar scaled by each feature's variance; for
    a spherical model (one scale) that is plain EM on x with reg_covar * scale**2."""
    X = make_mixture(300, [0.5, 0.5], [[0, 0], [4, 1]], [np.eye(2)] * 2, random_state=1)[0]
    X = X * 1e-5 + [1e-4, 3e-4]
    std = Standardizer.fit(X, isotropic=True)
    gz = GaussianMixture(
        2, covariance_type=ct, tol=1e-13, max_iter=5000, random_state=0, accelerate=True
    ).fit(std.transform(X))
    gx = std.model_back(gz)
    start = std.params_back(gz.params_)
    ref = GaussianMixture(
        2,
        covariance_type=ct,
        tol=1e-14,
        max_iter=5000,
        accelerate=True,
        reg_covar=1e-6 * std.scale[0] ** 2,
        weights_init=start.weights,
        means_init=start.means,
        precisions_init=np.asarray(gx.precisions_),
    ).fit(X)
    assert_allclose(gx.means_, ref.means_, rtol=1e-6)
    assert_allclose(gx.covariances_, ref.covariances_, rtol=1e-6)
    assert_allclose(gx.score_samples(X), gz.score_samples(std.transform(X)) + std.log_jacobian, rtol=1e-10)
    assert_allclose(gx.predict_proba(X), gz.predict_proba(std.transform(X)), atol=1e-10)
    assert_allclose(gx.lower_bound_, gz.lower_bound_ + std.log_jacobian)
