"""Shared test fixtures: a fixed-seed random generator and a non-interactive plot backend."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator: every test sees the same numbers."""
    return np.random.default_rng(20240607)


# =============================================================================== EM references
# scikit-learn's reference fits on the article's 200 000 heights, computed once per session
# and shared by every EM test that compares against them (tests/test_em.py,
# tests/test_sklearn_compat.py). Treat the returned objects as read-only.


def _sklearn_fit(X, **kwargs):
    """A scikit-learn ``GaussianMixture`` fit (the test-only oracle), its ConvergenceWarning
    silenced."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(**kwargs).fit(X)


@pytest.fixture(scope="session")
def heights() -> tuple[np.ndarray, np.ndarray]:
    """The article's height data (X of shape (200000, 1), labels), read-only."""
    from bayesgmm import load_heights

    X, y = load_heights()
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


@pytest.fixture(scope="session")
def sk_heights_article(heights):
    """scikit-learn on the heights with the article's arguments (4 passes from its k-means)."""
    return _sklearn_fit(heights[0], n_components=2, random_state=0, tol=1e-3, max_iter=1000)


@pytest.fixture(scope="session")
def sk_heights_start(heights):
    """scikit-learn's start on the heights (``max_iter=0``: its k-means, one M-step)."""
    return _sklearn_fit(heights[0], n_components=2, random_state=0, max_iter=0)


@pytest.fixture(scope="session")
def sk_heights_tol_1e8(heights):
    """scikit-learn on the heights at ``tol=1e-8``: 124 plain EM passes."""
    return _sklearn_fit(heights[0], n_components=2, random_state=0, tol=1e-8, max_iter=1000)


@pytest.fixture(scope="session")
def sk_heights_tol_1e14(heights):
    """scikit-learn on the heights at ``tol=1e-14`` (hundreds of passes): its fixed point."""
    return _sklearn_fit(heights[0], n_components=2, random_state=0, tol=1e-14, max_iter=5000)


# ============================================================================ end EM references


@pytest.fixture(scope="session")
def heights_posterior():
    """The posterior of K = 2 on 1 000 height rows, fitted once for every test that reads it.

    Rows drawn without replacement with ``np.random.default_rng(0)``; 2 chains x (300 tune +
    1000 draws). Returns ``(X, y, bayes)``.
    """
    pytest.importorskip("pymc")
    from bayesgmm import load_heights
    from bayesgmm.bayes.sampling import BayesianGaussianMixture

    X, y = load_heights()
    idx = np.random.default_rng(0).choice(X.shape[0], 1000, replace=False)
    X, y = X[idx], y[idx]
    bayes = BayesianGaussianMixture(2, draws=1000, tune=300, chains=2, random_state=1).fit(X)
    return X, y, bayes


# =============================================================================== ArviZ oracle
@pytest.fixture(scope="session")
def arviz_hdi():
    """The installed ArviZ's highest-density interval ``hdi(values, prob) -> (low, high)``,
    called directly (the tests' oracle): ``hdi_prob=`` on ArviZ 0.23, ``prob=`` on 1.x."""
    az = pytest.importorskip("arviz")
    from bayesgmm.bayes._arviz import current_line

    def hdi(values, prob):
        values = np.asarray(values, dtype=float).ravel()
        return tuple(az.hdi(values, prob=prob) if current_line() else az.hdi(values, hdi_prob=prob))

    return hdi
