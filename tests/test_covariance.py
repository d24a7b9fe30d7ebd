"""The covariance-type tables: precision Cholesky factors, round trips, counts."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from bayesgmm.covariance import (
    COLLAPSE_ADVICE,
    compute_precision_cholesky,
    covariance_from_precision,
    covariances_as_full,
    covariances_from_precision_cholesky,
    log_det_cholesky,
    n_covariance_parameters,
    n_parameters,
    precision_cholesky_from_precision,
    precisions_from_cholesky,
)

COV_TYPES = ("full", "tied", "diag", "spherical")


def covariances(rng, k, d, covariance_type):
    if covariance_type == "full":
        A = rng.normal(size=(k, d, d))
        return A @ np.swapaxes(A, 1, 2) + 0.1 * np.eye(d)
    if covariance_type == "tied":
        A = rng.normal(size=(d, d))
        return A @ A.T + 0.1 * np.eye(d)
    if covariance_type == "diag":
        return rng.uniform(0.1, 3.0, size=(k, d))
    return rng.uniform(0.1, 3.0, size=k)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("d", [1, 2, 6])
def test_precision_cholesky(covariance_type, d):
    rng = np.random.default_rng(d)
    cov = covariances(rng, 3, d, covariance_type)
    pc = compute_precision_cholesky(cov, covariance_type)
    full = covariances_as_full(cov, covariance_type, 3, d)
    P = covariances_as_full(precisions_from_cholesky(pc, covariance_type), covariance_type, 3, d)
    assert_allclose(P, np.linalg.inv(full), rtol=1e-10, atol=1e-12)
    if covariance_type in ("full", "tied"):
        U = pc.reshape(-1, d, d)
        assert_allclose(np.tril(U, -1), 0.0, atol=0)  # upper-triangular, as scikit-learn's
    # log|U| = 1/2 log|Sigma^-1|
    logdet = np.broadcast_to(log_det_cholesky(pc, covariance_type, d), (3,))
    assert_allclose(logdet, -0.5 * np.linalg.slogdet(full)[1], rtol=1e-10)
    # and back
    assert_allclose(covariances_from_precision_cholesky(pc, covariance_type), cov, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_precision_cholesky_matches_sklearn(covariance_type):
    gm = pytest.importorskip("sklearn.mixture._gaussian_mixture")
    rng = np.random.default_rng(0)
    cov = covariances(rng, 3, 4, covariance_type)
    assert_allclose(
        compute_precision_cholesky(cov, covariance_type),
        gm._compute_precision_cholesky(cov, covariance_type),
        rtol=1e-12,
        atol=1e-14,
    )


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_user_precisions_round_trip(covariance_type):
    rng = np.random.default_rng(1)
    cov = covariances(rng, 2, 3, covariance_type)
    prec = np.linalg.inv(cov) if covariance_type in ("full", "tied") else 1.0 / cov
    pc = precision_cholesky_from_precision(prec, covariance_type)
    assert_allclose(precisions_from_cholesky(pc, covariance_type), prec, rtol=1e-12)
    assert_allclose(covariances_from_precision_cholesky(pc, covariance_type), cov, rtol=1e-10)


def test_covariance_from_precision():
    A = np.random.default_rng(2).normal(size=(5, 5))
    P = A @ A.T + np.eye(5)
    assert_allclose(covariance_from_precision(P), np.linalg.inv(P), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "covariance_type, bad",
    [
        ("full", np.array([np.eye(2), [[1.0, 1.0], [1.0, 1.0]]])),
        ("full", np.array([np.eye(2), np.full((2, 2), np.nan)])),
        ("tied", np.zeros((2, 2))),
        ("diag", np.array([[1.0, 0.0], [1.0, 1.0]])),
        ("spherical", np.array([1.0, -1.0])),
        ("spherical", np.array([1.0, np.inf])),
    ],
)
def test_collapse_advice(covariance_type, bad):
    with pytest.raises(ValueError) as err:
        compute_precision_cholesky(bad, covariance_type)
    assert str(err.value) == COLLAPSE_ADVICE
    assert "increase reg_covar, or scale the input data" in COLLAPSE_ADVICE


@pytest.mark.parametrize(
    "covariance_type, expected",
    # closed forms for K components in d dimensions: K d (d + 1) / 2, d (d + 1) / 2, K d, K
    [("full", 3 * 4 * 5 // 2), ("tied", 4 * 5 // 2), ("diag", 3 * 4), ("spherical", 3)],
)
def test_parameter_counts(covariance_type, expected):
    assert n_covariance_parameters(3, 4, covariance_type) == expected
    assert n_parameters(3, 4, covariance_type) == expected + 3 * 4 + 3 - 1


def test_covariances_as_full():
    assert_allclose(covariances_as_full(np.array([1.0, 2.0]), "spherical", 2, 3)[1], 2 * np.eye(3))
    assert_allclose(covariances_as_full(np.array([[1.0, 2.0]]), "diag", 1, 2)[0], np.diag([1.0, 2.0]))
    tied = covariances_as_full(np.eye(2), "tied", 3, 2)
    assert tied.shape == (3, 2, 2)
