"""Simulation-based calibration of the 1-D, K = 2 posterior (``benchmarks/sbc.py``).

The slow test runs the calibration (prior draws, data, fit, ranks) and asserts that the
rank of every true parameter is uniform by chi-square and Kolmogorov-Smirnov at the 1%
level. The fast tests check the machinery: the prior simulation and the uniformity tests.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "sbc.py"


@pytest.fixture(scope="module")
def sbc():
    spec = importlib.util.spec_from_file_location("bayesgmm_benchmarks_sbc", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_simulate_draws_from_the_ordered_prior(sbc):
    truths = [sbc.simulate(seed, 5)[0] for seed in range(2000)]
    mu = np.array([[t["mean[0]"], t["mean[1]"]] for t in truths])
    assert np.all(mu[:, 0] < mu[:, 1])
    # the minimum of two N(0, 2^2) draws has mean -2 / sqrt(pi)
    assert_allclose(mu[:, 0].mean(), -2.0 / np.sqrt(np.pi), atol=0.1)
    # Dirichlet(1, 1): the weight of the left component is uniform
    w = np.array([t["weight[0]"] for t in truths])
    assert stats.kstest(w, "uniform").pvalue > 0.01
    # HalfNormal(1) standard deviations, independent of the order
    sd = np.array([t["sd[0]"] for t in truths])
    assert stats.kstest(sd, stats.halfnorm(scale=1.0).cdf).pvalue > 0.01
    _, X = sbc.simulate(0, 7)
    assert X.shape == (7, 1)


def test_uniformity_accepts_uniform_and_rejects_skewed_ranks(sbc, rng):
    L = 99
    flat = sbc.uniformity(rng.integers(0, L + 1, 500), L)
    assert sum(flat["counts"]) == 500 and len(flat["counts"]) == sbc.BINS
    assert flat["chi2_p"] > 0.01 and flat["ks_p"] > 0.01
    # an overconfident posterior puts the truth in its tails: U-shaped ranks
    u = rng.beta(0.6, 0.6, 500)
    skewed = sbc.uniformity(np.minimum((u * (L + 1)).astype(int), L), L)
    assert skewed["chi2_p"] < 1e-4 and skewed["ks_p"] < 0.01
    with pytest.raises(ValueError, match="equal bins"):
        sbc.uniformity(np.zeros(3, dtype=int), 98)


@pytest.mark.slow
def test_sbc_ranks_are_uniform(sbc):
    pytest.importorskip("pymc")
    result = sbc.run(100, n=100, draws=100, tune=150, thin=2, processes=1, seed=1)
    for name, t in result["tests"].items():
        assert t["chi2_p"] > 0.01, (name, t)
        assert t["ks_p"] > 0.01, (name, t)
