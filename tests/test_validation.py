"""Every bad input named in issue 2 gets a ValueError/TypeError that names the argument,
what was expected and what arrived."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from bayesgmm import GaussianMixture, GMMParams
from bayesgmm._validation import check_random_state, check_X


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(60, 2))


def with_value(X, value):
    X = X.copy()
    X[7, 1] = value
    return X


# --------------------------------------------------------------------------- the data
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_X(X, value):
    with pytest.raises(ValueError, match=r"X must contain only finite values\. Got 1 NaN or infinite"):
        GaussianMixture(2).fit(with_value(X, value))


@pytest.mark.parametrize("empty", [np.empty((0, 2)), [], np.empty((5, 0))])
def test_empty_X(empty):
    with pytest.raises(ValueError, match=r"X must be non-empty\. Got an array of shape"):
        GaussianMixture(1).fit(empty)


def test_fewer_samples_than_components(X):
    with pytest.raises(ValueError, match=r"at least n_components=5 samples\. Got 3 sample\(s\) instead"):
        GaussianMixture(5).fit(X[:3])


def test_three_dimensional_X(X):
    with pytest.raises(ValueError, match=r"X must be 1-D or 2-D\. Got an array with 3 dimensions"):
        GaussianMixture(2).fit(X.reshape(6, 10, 2))


def test_scalar_X():
    with pytest.raises(ValueError, match=r"X must be 1-D or 2-D\. Got a scalar"):
        GaussianMixture(1).fit(3.0)


@pytest.mark.parametrize(
    "bad, match",
    [
        ([["a", "b"], ["c", "d"]], r"X must contain only numbers\. Got non-numeric data of dtype <U1"),
        (np.array([[1.0, "x"], [2.0, 3.0]], dtype=object), r"X must contain only numbers"),
        (np.ones((4, 2)) + 1j, r"X must be numeric\. Got dtype complex128"),
        (np.array(["2020-01-01"] * 4, dtype="datetime64[D]"), r"X must be numeric\. Got dtype datetime64"),
        (None, r"X must be an array-like of numbers\. Got None"),
        ([[1.0, 2.0], [3.0]], r"X must be an array-like of numbers"),
    ],
)
def test_non_numeric_X(bad, match):
    with pytest.raises(TypeError, match=match):
        GaussianMixture(1).fit(bad)


def test_numeric_strings_and_ints_are_numbers():
    a = check_X([["1.5", "2"], ["3", "4"]])
    assert a.dtype == np.float64 and a.shape == (2, 2)
    b = check_X(np.arange(6, dtype=np.int32).reshape(3, 2))
    assert b.dtype == np.float64 and b.flags.c_contiguous


def test_one_dimensional_X_is_one_feature():
    x = np.linspace(0.0, 1.0, 10)
    assert check_X(x).shape == (10, 1)
    assert check_X(list(x)).shape == (10, 1)


def test_contiguous_float64_is_not_copied(X):
    assert check_X(X) is X or np.shares_memory(check_X(X), X)


def test_predict_checks_its_X_too(X):
    g = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="finite"):
        g.predict(with_value(X, np.nan))
    with pytest.raises(ValueError, match="X has 3 features"):
        g.score_samples(np.ones((4, 3)))


# --------------------------------------------------------------------------- *_init arrays
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(weights_init=[1.0]), r"'weights_init' should have the shape \(2,\), but got \(1,\)"),
        (dict(weights_init=[[0.5, 0.5]]), r"'weights_init' should have the shape \(2,\), but got \(1, 2\)"),
        (
            dict(weights_init=[0.5, 0.6]),
            r"'weights_init' should be normalized, but got sum\(weights\) = 1\.10000",
        ),
        (
            dict(weights_init=[-0.5, 1.5]),
            r"'weights_init' should be in the range \[0, 1\], but got min value -0\.5",
        ),
        (dict(weights_init=[np.nan, 1.0]), r"'weights_init' should be in the range \[0, 1\]"),
        (dict(means_init=np.zeros((3, 2))), r"'means_init' should have the shape \(2, 2\), but got \(3, 2\)"),
        (dict(means_init=np.zeros(2)), r"'means_init' should have the shape \(2, 2\), but got \(2,\)"),
        (dict(means_init=[[0.0, np.inf], [1.0, 1.0]]), r"'means_init' must contain only finite values"),
        (
            dict(precisions_init=np.ones((2, 3, 3))),
            r"'precisions_init' should have the shape \(2, 2, 2\) for covariance_type='full', but got \(2, 3, 3\)",
        ),
        (
            dict(covariance_type="tied", precisions_init=np.ones((2, 2, 2))),
            r"'precisions_init' should have the shape \(2, 2\) for covariance_type='tied'",
        ),
        (
            dict(covariance_type="diag", precisions_init=np.ones(2)),
            r"'precisions_init' should have the shape \(2, 2\) for covariance_type='diag', but got \(2,\)",
        ),
        (
            dict(covariance_type="spherical", precisions_init=np.ones((2, 2))),
            r"'precisions_init' should have the shape \(2,\) for covariance_type='spherical'",
        ),
    ],
)
def test_wrong_init_arrays(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2, **kwargs).fit(X)


@pytest.mark.parametrize(
    "covariance_type, precisions, match",
    [
        (
            "full",
            np.array([np.eye(2), -np.eye(2)]),
            r"positive-definite, but the full precision \(component 1\)",
        ),
        ("full", np.array([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]]), r"has smallest eigenvalue -1"),
        (
            "full",
            np.array([np.eye(2), [[1.0, 0.5], [0.0, 1.0]]]),
            r"should be symmetric, but the full precision \(component 1\)",
        ),
        ("tied", np.array([[1.0, 0.0], [0.0, 0.0]]), r"positive-definite, but the tied precision has"),
        (
            "diag",
            np.array([[1.0, 1.0], [1.0, -2.0]]),
            r"should be positive for covariance_type='diag', but got min value -2",
        ),
        (
            "spherical",
            np.array([1.0, 0.0]),
            r"should be positive for covariance_type='spherical', but got min value 0",
        ),
    ],
)
def test_precisions_not_positive_definite(X, covariance_type, precisions, match):
    with pytest.raises(ValueError, match=r"The parameter 'precisions_init' " + ".*" + match):
        GaussianMixture(2, covariance_type=covariance_type, precisions_init=precisions).fit(X)


def test_precisions_init_must_be_finite(X):
    with pytest.raises(ValueError, match=r"'precisions_init' must contain only finite values"):
        GaussianMixture(2, precisions_init=np.array([np.eye(2), np.full((2, 2), np.nan)])).fit(X)


# --------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(covariance_type="fulll"),
            r"'covariance_type' parameter must be one of \['full', 'tied', 'diag', 'spherical'\]\. Got 'fulll'",
        ),
        (
            dict(init_params="kmean"),
            r"'init_params' parameter must be one of \['kmeans', 'k-means\+\+', 'random', 'random_from_data'\]\. Got 'kmean'",
        ),
        (
            dict(engine="gpu"),
            r"'engine' parameter must be one of \['auto', 'numba', 'numpy', 'textbook'\]\. Got 'gpu'",
        ),
        (dict(tol=-1e-3), r"'tol' parameter must be a float >= 0\.0\. Got -0\.001 instead"),
        (dict(tol=np.nan), r"'tol' parameter must be a float >= 0\.0\. Got nan"),
        (dict(tol="small"), r"'tol' parameter must be a float >= 0\.0\. Got 'small'"),
        (dict(reg_covar=-1.0), r"'reg_covar' parameter must be a float >= 0\.0\. Got -1\.0"),
        (dict(max_iter=0), r"'max_iter' parameter must be an int >= 1\. Got 0 instead"),
        (dict(max_iter=-3), r"'max_iter' parameter must be an int >= 1\. Got -3 instead"),
        (dict(max_iter=2.5), r"'max_iter' parameter must be an int >= 1\. Got 2\.5 instead"),
        (dict(n_init=0), r"'n_init' parameter must be an int >= 1\. Got 0 instead"),
        (dict(n_init=True), r"'n_init' parameter must be an int >= 1\. Got True instead"),
        (dict(random_state="seed"), r"random_state must be None, an int or a numpy Generator\. Got str"),
    ],
)
def test_bad_options(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2, **kwargs).fit(X)


@pytest.mark.parametrize("n_components", [0, -1, 1.5, "2", None])
def test_bad_n_components(X, n_components):
    with pytest.raises(ValueError, match=r"'n_components' parameter must be an int >= 1\. Got"):
        GaussianMixture(n_components).fit(X)


def test_bad_n_samples_in_sample(X):
    g = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"'n_samples' parameter must be an int >= 1\. Got 0"):
        g.sample(0)


def test_collapsed_component_is_advice_not_linalgerror():
    X = np.r_[np.zeros((20, 2)), np.ones((30, 2)), [[5.0, 5.0]]]
    for covariance_type in ("full", "tied", "diag", "spherical"):
        with pytest.raises(
            ValueError, match=r"ill-defined empirical covariance.*Increase reg_covar, scale the data"
        ):
            GaussianMixture(3, covariance_type=covariance_type, reg_covar=0.0, random_state=0).fit(X)


def test_random_state_forms():
    a = check_random_state(3).normal(size=3)
    b = check_random_state(np.random.default_rng(3)).normal(size=3)
    assert_array_equal(a, b)
    g = np.random.default_rng(0)
    assert check_random_state(g) is g
    assert isinstance(check_random_state(None), np.random.Generator)
    assert isinstance(check_random_state(np.random.RandomState(0)), np.random.Generator)
    with pytest.raises(ValueError, match="random_state must be None, an int or a numpy Generator"):
        check_random_state(True)


# --------------------------------------------------------------------------- GMMParams
def test_params_validation():
    with pytest.raises(ValueError, match=r"weights must be non-negative and sum to 1\. Got sum"):
        GMMParams([0.5, 0.6], [[0.0], [1.0]], [1.0, 1.0], "spherical")
    with pytest.raises(
        ValueError,
        match=r"covariances for covariance_type='diag' must have shape \(2, 1\)\. Got shape \(2,\)",
    ):
        GMMParams([0.5, 0.5], [[0.0], [1.0]], [1.0, 1.0], "diag")
    with pytest.raises(ValueError, match=r"'covariance_type' parameter must be one of"):
        GMMParams([1.0], [[0.0]], [1.0], "round")
    p = GMMParams([0.5, 0.5], [[0.0], [1.0]], [1.0, 2.0], "spherical")
    with pytest.raises(ValueError):
        p.weights[0] = 1.0  # frozen arrays
