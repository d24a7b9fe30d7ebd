"""Bad input gets an error that names the argument, what was expected and what arrived.

``GaussianMixture`` validates as scikit-learn does (its parameter constraints,
``validate_data``): for every bad input it raises scikit-learn's exception with
scikit-learn's message, checked here against scikit-learn's own class. ``check_X`` is the
check of the bayesgmm-native entry points (Dask arrays, the Bayesian classes, the CLI).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from bayesgmm import GaussianMixture, GMMParams
from bayesgmm._validation import check_random_state, check_X

sk_mixture = pytest.importorskip("sklearn.mixture")


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(60, 2))


def with_value(X, value):
    X = X.copy()
    X[7, 1] = value
    return X


def options_sorted(message: str) -> str:
    """The message with every ``{'a', 'b'}`` set of options sorted (a set prints in an order
    that depends on string hashing)."""
    return re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", message)


def same_error_as_sklearn(fit_args, *, kwargs=None, method="fit", fitted_on=None, match=None):
    """Call ``method`` of scikit-learn's and of bayesgmm's class; both must raise the same
    exception type with the same message (and ``match``, if given)."""
    kwargs = kwargs or {}
    errors = []
    for cls in (sk_mixture.GaussianMixture, GaussianMixture):
        est = cls(**kwargs)
        if fitted_on is not None:
            est.fit(fitted_on)
        with pytest.raises(Exception) as err:  # noqa: PT011 - compared below
            getattr(est, method)(*fit_args)
        errors.append(err.value)
    sk, bg = errors
    assert type(bg) is type(sk)
    assert options_sorted(str(bg)) == options_sorted(str(sk))
    if match is not None:
        assert match in str(bg)


# --------------------------------------------------------------------------- the data
@pytest.mark.parametrize(
    "value, match",
    [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity"), (-np.inf, "infinity")],
)
def test_non_finite_X(X, value, match):
    same_error_as_sklearn([with_value(X, value)], kwargs=dict(n_components=2), match=match)


@pytest.mark.parametrize(
    "empty, match",
    [
        (np.empty((0, 2)), "Found array with 0 sample(s)"),
        ([], "Expected 2D array, got 1D array"),
        (np.empty((5, 0)), "Found array with 0 feature(s)"),
    ],
)
def test_empty_X(empty, match):
    same_error_as_sklearn([empty], kwargs=dict(n_components=1), match=match)


def test_fewer_samples_than_components(X):
    same_error_as_sklearn(
        [X[:3]],
        kwargs=dict(n_components=5),
        match="Expected n_samples >= n_components but got n_components = 5",
    )


def test_one_sample(X):
    same_error_as_sklearn([X[:1]], kwargs=dict(n_components=1), match="while a minimum of 2 is required")


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((6, 10, 2)), "Found array with dim 3"),
        (3.0, "Expected 2D array, got scalar array instead"),
        ([["a", "b"], ["c", "d"]], "could not convert string to float: 'a'"),
        (np.ones((4, 2)) + 1j, "Complex data not supported"),
        (None, "Expected 2D array, got scalar array instead"),
    ],
)
def test_malformed_X(bad, match):
    same_error_as_sklearn([bad], kwargs=dict(n_components=1), match=match)


def test_predict_checks_its_X_too(X):
    same_error_as_sklearn([with_value(X, np.nan)], kwargs=dict(n_components=2), method="predict", fitted_on=X)
    same_error_as_sklearn(
        [np.ones((4, 3))],
        kwargs=dict(n_components=2),
        method="score_samples",
        fitted_on=X,
        match="X has 3 features",
    )


# ----------------------------------------------------------------- check_X (bayesgmm-native)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_check_X_non_finite(X, value):
    with pytest.raises(ValueError, match=r"X must contain only finite values\. Got 1 NaN or infinite"):
        check_X(with_value(X, value))


@pytest.mark.parametrize("empty", [np.empty((0, 2)), [], np.empty((5, 0))])
def test_check_X_empty(empty):
    with pytest.raises(ValueError, match=r"X must be non-empty\. Got an array of shape"):
        check_X(empty)


def test_check_X_min_samples(X):
    with pytest.raises(ValueError, match=r"at least n_components=5 samples\. Got 3 sample\(s\) instead"):
        check_X(X[:3], min_samples=5)


def test_check_X_dimensions(X):
    with pytest.raises(ValueError, match=r"X must be 1-D or 2-D\. Got an array with 3 dimensions"):
        check_X(X.reshape(6, 10, 2))
    with pytest.raises(ValueError, match=r"X must be 1-D or 2-D\. Got a scalar"):
        check_X(3.0)


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
def test_check_X_non_numeric(bad, match):
    with pytest.raises(TypeError, match=match):
        check_X(bad)


def test_numeric_strings_and_ints_are_numbers():
    a = check_X([["1.5", "2"], ["3", "4"]])
    assert a.dtype == np.float64 and a.shape == (2, 2)
    assert_array_equal(a, [[1.5, 2.0], [3.0, 4.0]])
    b = check_X(np.arange(6, dtype=np.int32).reshape(3, 2))
    assert b.dtype == np.float64 and b.flags.c_contiguous


def test_check_X_one_dimensional_is_one_feature():
    x = np.linspace(0.0, 1.0, 10)
    assert check_X(x).shape == (10, 1)
    assert check_X(list(x)).shape == (10, 1)


def test_contiguous_float64_is_not_copied(X):
    assert check_X(X) is X or np.shares_memory(check_X(X), X)


# --------------------------------------------------------------------------- *_init arrays
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(weights_init=[1.0]), "'weights' should have the shape of (2,), but got (1,)"),
        (dict(weights_init=[[0.5, 0.5]]), "'weights'"),
        (dict(weights_init=[0.5, 0.6]), "'weights' should be normalized, but got sum(weights) = 1.10000"),
        (dict(weights_init=[-0.5, 1.5]), "'weights' should be in the range [0, 1]"),
        (dict(means_init=np.zeros((3, 2))), "'means' should have the shape of (2, 2), but got (3, 2)"),
        (dict(means_init=np.zeros(2)), "'means'"),
        (dict(precisions_init=np.ones((2, 3, 3))), "'full precision' should have the shape of (2, 2, 2)"),
        (dict(covariance_type="diag", precisions_init=np.ones(2)), "'diag precision' should have the shape"),
        (dict(covariance_type="spherical", precisions_init=np.ones((2, 2))), "'spherical precision'"),
    ],
)
def test_wrong_init_arrays(X, kwargs, match):
    same_error_as_sklearn([X], kwargs=dict(n_components=2, **kwargs), match=match)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(weights_init=[np.nan, 1.0]),
        dict(means_init=[[0.0, np.inf], [1.0, 1.0]]),
        dict(precisions_init=np.array([np.eye(2), np.full((2, 2), np.nan)])),
    ],
)
def test_non_finite_init_arrays_are_refused(X, kwargs):
    """scikit-learn lets NaN through here (and fails later, or not at all); bayesgmm says
    which parameter holds it."""
    name = next(iter(kwargs)).removesuffix("_init").replace("precisions", "full precision")
    with pytest.raises(
        ValueError, match=rf"'{name}' (must contain only finite values|should be in the range)"
    ):
        GaussianMixture(2, **kwargs).fit(X)


@pytest.mark.parametrize(
    "covariance_type, precisions",
    [
        ("full", np.array([np.eye(2), -np.eye(2)])),
        ("full", np.array([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]])),
        ("full", np.array([np.eye(2), [[1.0, 0.5], [0.0, 1.0]]])),
        ("tied", np.array([[1.0, 0.0], [0.0, 0.0]])),
        ("diag", np.array([[1.0, 1.0], [1.0, -2.0]])),
        ("spherical", np.array([1.0, 0.0])),
    ],
)
def test_precisions_not_positive_definite(X, covariance_type, precisions):
    same_error_as_sklearn(
        [X], kwargs=dict(n_components=2, covariance_type=covariance_type, precisions_init=precisions)
    )


# --------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(covariance_type="fulll"),
            "The 'covariance_type' parameter of GaussianMixture must be a str among",
        ),
        (dict(tol=-1e-3), "The 'tol' parameter of GaussianMixture must be a float in the range [0.0, inf)"),
        (dict(tol="small"), "Got 'small' instead"),
        (dict(reg_covar=-1.0), "The 'reg_covar' parameter"),
        (
            dict(max_iter=-3),
            "The 'max_iter' parameter of GaussianMixture must be an int in the range [0, inf)",
        ),
        (dict(max_iter=2.5), "Got 2.5 instead"),
        (dict(n_init=0), "The 'n_init' parameter"),
        (dict(warm_start="yes"), "The 'warm_start' parameter"),
        (
            dict(n_components=0),
            "The 'n_components' parameter of GaussianMixture must be an int in the range [1, inf)",
        ),
        (dict(n_components=1.5), "Got 1.5 instead"),
        (dict(n_components="2"), "Got '2' instead"),
        (dict(n_components=None), "Got None instead"),
    ],
)
def test_bad_options(X, kwargs, match):
    same_error_as_sklearn([X], kwargs=kwargs, match=match)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(init_params="kmean"),
            r"The 'init_params' parameter of GaussianMixture must be a str among .*'hierarchical'",
        ),
        (
            dict(engine="gpu"),
            r"The 'engine' parameter of GaussianMixture must be a str among .*'textbook'.*Got 'gpu'",
        ),
        (
            dict(accelerate="yes"),
            r"The 'accelerate' parameter of GaussianMixture must be an instance of 'bool'",
        ),
    ],
)
def test_bad_extension_options(X, kwargs, match):
    """The options scikit-learn lacks, with its kind of message (InvalidParameterError)."""
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=match):
        GaussianMixture(2, **kwargs).fit(X)


def test_tied_precisions_of_the_wrong_dimension(X):
    """(scikit-learn says "Found array with dim 3, while dim <= 2 is required.")"""
    with pytest.raises(
        ValueError, match=r"'tied precision' should have the shape of \(2, 2\), but got \(2, 2, 2\)"
    ):
        GaussianMixture(2, covariance_type="tied", precisions_init=np.ones((2, 2, 2))).fit(X)


def test_bad_random_state(X):
    """scikit-learn's constraint and message, with numpy Generators accepted as well."""
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(
        InvalidParameterError,
        match=r"The 'random_state' parameter of GaussianMixture must be an int in the range \[0, 4294967295\], an instance of 'numpy.random.mtrand.RandomState'.*Got 'seed' instead",
    ):
        GaussianMixture(2, random_state="seed").fit(X)


def test_bad_n_samples_in_sample(X):
    """(scikit-learn's message shows n_components where the bad n_samples belongs.)"""
    g = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(
        ValueError, match=r"Invalid value for 'n_samples': 0 \. The sampling requires at least one sample"
    ):
        g.sample(0)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_collapsed_component_is_advice_not_linalgerror(covariance_type):
    X = np.r_[np.zeros((20, 2)), np.ones((30, 2)), [[5.0, 5.0]]]
    same_error_as_sklearn(
        [X],
        kwargs=dict(n_components=3, covariance_type=covariance_type, reg_covar=0.0, random_state=0),
        match="ill-defined empirical covariance",
    )


def test_random_state_forms():
    """check_random_state (the bayesgmm-native entry points): an int, a Generator, None or
    a RandomState, always a Generator out."""
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
