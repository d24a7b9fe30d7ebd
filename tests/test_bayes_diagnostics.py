"""bayesgmm.bayes.diagnostics: label-invariant R-hat and ESS against ArviZ's."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

az = pytest.importorskip("arviz")

from bayesgmm.bayes.diagnostics import label_invariant_diagnostics, probe_points  # noqa: E402


def _ar1(rng, chains, draws, phi):
    x = np.empty((chains, draws))
    x[:, 0] = rng.normal(size=chains)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + np.sqrt(1 - phi**2) * rng.normal(size=chains)
    return x


def test_values_are_arviz_and_the_pass_mark_is_rhat_and_ess(rng):
    good = {"log_likelihood": rng.normal(size=(2, 1000)), "log_density[0]": rng.normal(size=(2, 1000))}
    dg = label_invariant_diagnostics(good)
    ref = az.convert_to_dataset({"q": good["log_likelihood"]})
    assert_allclose(dg["invariant"]["log_likelihood"]["rhat"], float(az.rhat(ref)["q"]), rtol=1e-12)
    assert_allclose(dg["invariant"]["log_likelihood"]["ess_bulk"], float(az.ess(ref)["q"]), rtol=1e-12)
    assert dg["invariant_ok"]
    # two chains in different places: R-hat fails
    apart = dict(good, log_likelihood=good["log_likelihood"] + np.array([[0.0], [1.0]]))
    dg = label_invariant_diagnostics(apart)
    assert dg["invariant_max_rhat"] > 1.1 and not dg["invariant_ok"]
    # strongly autocorrelated draws: bulk ESS below 400 fails
    sticky = dict(good, log_likelihood=_ar1(rng, 2, 1000, 0.95))
    dg = label_invariant_diagnostics(sticky)
    assert dg["invariant_min_ess_bulk"] < 400 and not dg["invariant_ok"]
    # ... except for lp, whose ESS is reported but is not a pass mark
    # (each of 167 independent values repeated 6 times: chains that agree, few effective draws)
    lp = np.repeat(np.random.default_rng(1).normal(size=(2, 167)), 6, axis=1)[:, :1000]
    dg = label_invariant_diagnostics(dict(good, lp=lp))
    assert dg["invariant"]["lp"]["rhat"] <= 1.01 and dg["invariant"]["lp"]["ess_bulk"] < 400
    assert dg["invariant_ok"]


def test_probe_points_are_data_rows_at_quantiles(rng):
    X = rng.normal(size=(101, 2))
    P = probe_points(X, (0.0, 0.5, 1.0))
    assert_allclose(P[:, 0], [X[:, 0].min(), np.median(X[:, 0]), X[:, 0].max()])
    assert all(any(np.array_equal(p, x) for x in X) for p in P)
