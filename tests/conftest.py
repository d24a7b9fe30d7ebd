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
