"""Data sets: the article's height experiment, bit for bit, and synthetic mixtures."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from bayesgmm import load_heights, make_mixture


@pytest.fixture
def global_numpy_state():
    """Run the article's recipe on the global generator, then put its state back."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def test_heights_are_the_articles_recipe(global_numpy_state):
    # the article, In [14] - In [16], verbatim
    np.random.seed(0)
    rand_data_m = np.random.normal(1.71, 0.056, 100000)
    y_m = np.ones(100000)
    np.random.seed(0)
    rand_data_w = np.random.normal(1.58, 0.051, 100000)
    y_w = np.zeros(100000)
    data = np.append(rand_data_m, rand_data_w).reshape(-1, 1)
    y = np.append(y_m, y_w)

    X, labels = load_heights()
    assert X.shape == (200000, 1) and labels.shape == (200000,)
    assert_array_equal(X, data)  # bit-identical
    assert_array_equal(labels, y)


def test_heights_match_the_articles_printout():
    X, y = load_heights()
    # print(data) in the article: first three and last three rows
    assert [f"{v:.8f}" for v in X[:3, 0]] == ["1.80878693", "1.73240880", "1.76480933"]
    assert [f"{v:.8f}" for v in X[-3:, 0]] == ["1.61703528", "1.52044064", "1.51445441"]
    # rand_data_w printout: 1.66996667, 1.60040802, 1.62991564
    assert [f"{v:.8f}" for v in X[100000:100003, 0]] == ["1.66996667", "1.60040802", "1.62991564"]
    assert y[:100000].sum() == 100000 and y[100000:].sum() == 0


def test_heights_reuse_the_same_normal_draws():
    """The documented quirk: woman i = 1.58 + 0.051 z_i and man i = 1.71 + 0.056 z_i."""
    X, _ = load_heights()
    z_men = (X[:100000, 0] - 1.71) / 0.056
    z_women = (X[100000:, 0] - 1.58) / 0.051
    assert_allclose(z_men, z_women, atol=1e-12)


def test_load_heights_leaves_global_state_alone():
    before = np.random.get_state()
    load_heights()
    after = np.random.get_state()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]


def test_make_mixture():
    means = [[-5.0, 0.0], [5.0, 1.0]]
    covs = [np.eye(2), [[2.0, 0.5], [0.5, 1.0]]]
    X, labels = make_mixture(20000, [0.3, 0.7], means, covs, random_state=0)
    assert X.shape == (20000, 2) and labels.shape == (20000,)
    frac = np.mean(labels == 1)
    assert abs(frac - 0.7) < 5 * np.sqrt(0.21 / 20000)
    for k in range(2):
        pts = X[labels == k]
        assert_allclose(pts.mean(axis=0), means[k], atol=5 * np.sqrt(2.0 / len(pts)))
        assert_allclose(np.cov(pts.T), covs[k], atol=0.1)
    X2, labels2 = make_mixture(20000, [0.3, 0.7], means, covs, random_state=0)
    assert_array_equal(X, X2)
    assert_array_equal(labels, labels2)


def test_make_mixture_one_dimensional_variances():
    X, labels = make_mixture(5000, [0.5, 0.5], [0.0, 10.0], [1.0, 4.0], random_state=1)
    assert X.shape == (5000, 1)
    assert_allclose(X[labels == 1].std(), 2.0, rtol=0.1)


def test_make_mixture_shape_mismatch():
    with pytest.raises(ValueError, match=r"weights of shape \(2,\) and covariances of shape \(2, 2, 2\)"):
        make_mixture(10, [0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [1.0, 1.0])
