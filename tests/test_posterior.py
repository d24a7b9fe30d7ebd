"""bayesgmm.bayes.posterior: the EM-vs-posterior table and the plots of the draws."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

pytest.importorskip("pymc")
az = pytest.importorskip("arviz")

from bayesgmm import GaussianMixture, GMMParams, load_heights, make_mixture  # noqa: E402
from bayesgmm.bayes.posterior import (  # noqa: E402
    COLUMNS,
    compare_em_posterior,
    plot_posterior_vs_em,
    plot_trace,
)
from bayesgmm.bayes.sampling import BayesianGaussianMixture  # noqa: E402
from bayesgmm.em import converged_em  # noqa: E402


@pytest.fixture
def fitted(heights_posterior):
    """The shared K = 2 posterior of 1 000 height rows (conftest)."""
    X, _, bayes = heights_posterior
    return X, bayes


def test_table_columns_rows_and_values(fitted, arviz_hdi):
    X, bayes = fitted
    table = compare_em_posterior(bayes.em_, bayes)
    assert list(table.columns) == COLUMNS
    assert list(table["parameter"]) == list(bayes.parameter_draws())
    draws = bayes.parameter_draws()
    for _, row in table.iterrows():
        arr = draws[row["parameter"]].ravel()
        assert_allclose(row["posterior_mean"], arr.mean())
        assert_allclose(row["posterior_sd"], arr.std(ddof=1))
        low, high = arviz_hdi(arr, 0.94)
        assert_allclose([row["hdi_low"], row["hdi_high"]], [low, high])
        assert_allclose(row["z"], (row["em"] - row["posterior_mean"]) / row["posterior_sd"])
    # the converged EM estimate sits inside every 94% HDI
    assert table["em_in_hdi"].all()
    assert (table["z"].abs() < 2).all()


def test_components_are_aligned_whatever_the_em_order(fitted):
    X, bayes = fitted
    em = bayes.em_
    order = np.argsort(em.means_[:, 0])[::-1]  # tall component first
    flipped = em.params_.permuted(order)
    t1 = compare_em_posterior(em, bayes)
    t2 = compare_em_posterior(flipped, bayes)
    assert_allclose(t1["em"], t2["em"])
    assert t1.loc[t1.parameter == "mean[0]", "em"].item() < t1.loc[t1.parameter == "mean[1]", "em"].item()


def test_a_far_estimate_is_flagged(fitted):
    """An estimate 6 posterior sds off the posterior mean is outside the HDI, z ~ 6."""
    X, bayes = fitted
    em = bayes.em_.params_.sorted(0)
    sd = bayes.parameter_draws()["mean[1]"].std(ddof=1)
    mean = bayes.parameter_draws()["mean[1]"].mean()
    means = em.means.copy()
    means[1, 0] = mean + 6 * sd
    off = GMMParams(em.weights, means, em.covariances, em.covariance_type)
    table = compare_em_posterior(off, bayes).set_index("parameter")
    assert not table.loc["mean[1]", "em_in_hdi"]
    assert_allclose(table.loc["mean[1]", "z"], 6.0, rtol=1e-12)
    assert table.drop(index="mean[1]")["em_in_hdi"].all()


def test_hdi_prob_and_type_checks(fitted):
    X, bayes = fitted
    narrow = compare_em_posterior(bayes.em_, bayes, hdi_prob=0.5)
    wide = compare_em_posterior(bayes.em_, bayes)
    assert ((narrow.hdi_high - narrow.hdi_low) < (wide.hdi_high - wide.hdi_low)).all()
    with pytest.raises(ValueError, match="hdi_prob"):
        compare_em_posterior(bayes.em_, bayes, hdi_prob=1.5)
    with pytest.raises(TypeError, match="BayesianGaussianMixture"):
        compare_em_posterior(bayes.em_, bayes.em_)
    with pytest.raises(ValueError, match="means of shape"):
        compare_em_posterior(GaussianMixture(3).fit(X), bayes)


def test_plots_return_axes_and_draw_em_lines(fitted):
    import matplotlib.pyplot as plt

    X, bayes = fitted
    axes = plot_posterior_vs_em(bayes)
    axes = np.atleast_1d(axes).ravel()
    assert len(axes) >= 6
    titles = {ax.get_title() for ax in axes}
    assert {"weight[0]", "mean[1]", "sd[0]"} <= titles
    plt.close("all")

    ax = plot_posterior_vs_em(bayes, var_names=["mean[0]"])
    assert np.atleast_1d(ax).size == 1
    plt.close("all")

    axes = plot_trace(bayes, var_names=["mean[0]", "sd[1]"])
    assert axes.shape == (2, 2)
    # the EM value is drawn as a vertical line (a LineCollection) on the density panel
    ref = bayes.reference_values()["mean[0]"]
    segments = [seg for coll in axes[0, 0].collections for seg in getattr(coll, "get_segments", list)()]
    assert any(np.allclose(seg[:, 0], ref) for seg in segments)
    plt.close("all")
    with pytest.raises(ValueError, match="Unknown parameter"):
        plot_trace(bayes, var_names=["mu"])


@pytest.mark.slow
def test_2d_full_table_has_covariance_rows():
    X, _ = make_mixture(
        300, [0.5, 0.5], [[-3, 0], [3, 1]], [np.eye(2), [[1.0, 0.5], [0.5, 1.0]]], random_state=4
    )
    bayes = BayesianGaussianMixture(2, draws=1000, tune=300, random_state=0).fit(X)
    table = compare_em_posterior(bayes.em_, bayes)
    assert list(table.parameter[-2:]) == ["cov[0,0,1]", "cov[1,0,1]"]
    assert table["em_in_hdi"].all()


@pytest.mark.slow
def test_full_heights_article_estimate_is_off_converged_em_is_not():
    """On all 200 000 rows: the article's loosely converged EM (tol=1e-3, plain EM, 4
    passes: weight ~0.519) is several posterior sds from the posterior mean; the converged
    EM estimate is inside every 94% HDI."""
    X, _ = load_heights()
    article = GaussianMixture(2, random_state=0, tol=1e-3, accelerate=False).fit(X)
    em = converged_em(X, 2, n_init=3, random_state=0)
    bayes = BayesianGaussianMixture(2, draws=1000, tune=200, random_state=0, store_log_likelihood=False).fit(
        X, em=em
    )
    assert bayes.diagnostics_["max_rhat"] <= 1.01
    assert bayes.diagnostics_["divergences"] == 0
    assert bayes.diagnostics_["min_ess_bulk"] >= 1000
    converged = compare_em_posterior(em, bayes).set_index("parameter")
    assert converged["em_in_hdi"].all()
    loose = compare_em_posterior(article, bayes).set_index("parameter")
    assert loose.loc["weight[0]", "em"] == pytest.approx(0.519, abs=0.004)  # the shorter component
    assert loose.loc["weight[0]", "posterior_sd"] == pytest.approx(0.005, abs=0.001)
    assert (loose.loc[["weight[0]", "weight[1]"], "z"].abs() > 3).all()
    assert not loose.loc[["weight[0]", "weight[1]"], "em_in_hdi"].any()
