"""bayesgmm.plotting: each plot draws what it says (artists checked), returns its axes, never shows."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.patches import Ellipse, Rectangle  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402
from scipy.stats import norm  # noqa: E402

pd = pytest.importorskip("pandas")
az = pytest.importorskip("arviz")

from bayesgmm import GaussianMixture, make_mixture  # noqa: E402
from bayesgmm.bayes import _arviz  # noqa: E402
from bayesgmm.criteria import select  # noqa: E402
from bayesgmm.plotting import (  # noqa: E402
    plot_clusters,
    plot_criteria,
    plot_density,
    plot_em_vs_posterior,
)


@pytest.fixture(autouse=True)
def no_show_and_close(monkeypatch):
    def show(*args, **kwargs):
        raise AssertionError("plots must never call plt.show()")

    monkeypatch.setattr(plt, "show", show)
    yield
    plt.close("all")


@pytest.fixture
def one_d(rng):
    X = np.concatenate([rng.normal(-2, 0.5, 150), rng.normal(1.5, 0.8, 150)])[:, None]
    return X, GaussianMixture(2, tol=1e-8, random_state=0).fit(X)


class FakeBayes:
    """Stands in for a fitted 1-D BayesianGaussianMixture: only ``idata_.posterior`` is read."""

    def __init__(self, rng, chains=2, draws=50):
        w1 = rng.uniform(0.4, 0.6, (chains, draws))
        self.w = np.stack([w1, 1 - w1], axis=-1)
        self.mu = np.stack(
            [rng.normal(-2, 0.05, (chains, draws)), rng.normal(1.5, 0.05, (chains, draws))], -1
        )
        self.sd = np.stack(
            [rng.uniform(0.45, 0.55, (chains, draws)), rng.uniform(0.7, 0.9, (chains, draws))], -1
        )
        self.idata_ = _arviz.from_dict(
            {"posterior": {"w": self.w, "mu": self.mu[..., None], "sigma": self.sd}},
            dims={"w": ["component"], "mu": ["component", "feature"], "sigma": ["component"]},
        )


# ----------------------------------------------------------------------------- density
def test_density_with_em(one_d):
    X, em = one_d
    fig, ax = plt.subplots()
    out = plot_density(X, em=em, ax=ax, bins=30)
    assert out is ax
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == 30
    heights = np.array([b.get_height() for b in bars])
    widths = np.array([b.get_width() for b in bars])
    assert_allclose(np.sum(heights * widths), 1.0, rtol=1e-10)  # a density histogram
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "EM"]
    x, y = line.get_data()
    assert_allclose(y, np.exp(em.score_samples(x[:, None])), rtol=1e-12)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["data", "EM"]


def test_density_posterior_mean_and_band(one_d, rng):
    X, em = one_d
    bayes = FakeBayes(rng)
    ax = plot_density(X, em=em, bayes=bayes, band=0.9, grid_size=50)
    (mean_line,) = [ln for ln in ax.get_lines() if ln.get_label() == "posterior predictive"]
    x, y = mean_line.get_data()
    w, mu, sd = (a.reshape(-1, 2) for a in (bayes.w, bayes.mu, bayes.sd))
    dens = np.stack([(w[s] * norm.pdf(x[:, None], mu[s], sd[s])).sum(axis=1) for s in range(len(w))])
    assert_allclose(y, dens.mean(axis=0), rtol=1e-10)
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1
    assert bands[0].get_label() == "posterior 90% band"
    verts = bands[0].get_paths()[0].vertices
    lo = np.quantile(dens, 0.05, axis=0)
    hi = np.quantile(dens, 0.95, axis=0)
    assert verts[:, 1].min() == pytest.approx(min(lo.min(), hi.min()), abs=1e-12)
    assert verts[:, 1].max() == pytest.approx(hi.max(), rel=1e-12)


def test_density_thins_draws_deterministically(one_d, rng):
    X, _ = one_d
    bayes = FakeBayes(rng, draws=400)
    a = plot_density(X, bayes=bayes, max_draws=100).get_lines()[0].get_ydata()
    b = plot_density(X, bayes=bayes, max_draws=100).get_lines()[0].get_ydata()
    assert_allclose(a, b, rtol=0)


def test_density_refuses_2d(rng):
    with pytest.raises(ValueError, match="plot_density needs 1-D data. Got 2 features"):
        plot_density(rng.normal(size=(20, 2)))
    with pytest.raises(ValueError, match="'band' parameter must be a float in \\(0, 1\\)"):
        plot_density(rng.normal(size=20), band=1.0)


# ----------------------------------------------------------------------------- clusters
@pytest.mark.parametrize("ct", ["full", "tied", "diag", "spherical"])
def test_clusters_ellipses(ct):
    X, _ = make_mixture(300, [0.3, 0.3, 0.4], [[-4, 0], [0, 4], [4, 0]],
                        [np.eye(2), [[1, 0.6], [0.6, 1]], [[0.5, 0], [0, 2]]], random_state=0)  # fmt: skip
    gm = GaussianMixture(3, covariance_type=ct, tol=1e-8, random_state=0).fit(X)
    ax = plot_clusters(X, gm, n_std=(1.0, 2.0, 3.0), feature_names=["height", "weight"])
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 9
    full = gm.params_.covariances_full()
    for k in range(3):
        vals = np.linalg.eigvalsh(full[k])
        for j, level in enumerate((1.0, 2.0, 3.0)):
            e = ellipses[3 * k + j]
            assert_allclose(e.center, gm.means_[k], rtol=1e-12)
            assert_allclose(sorted([e.width, e.height]), 2 * level * np.sqrt(vals), rtol=1e-10)
    scatters = [c for c in ax.collections if c.get_offsets().shape[0] > 0]
    assert sum(c.get_offsets().shape[0] for c in scatters) == 300
    assert ax.get_xlabel() == "height" and ax.get_ylabel() == "weight"


def test_clusters_pick_features_and_refuse_bad_ones(rng):
    X = rng.normal(size=(100, 3))
    gm = GaussianMixture(2, random_state=0).fit(X)
    ax = plot_clusters(X, gm, features=(2, 0))
    e = [p for p in ax.patches if isinstance(p, Ellipse)][0]
    assert_allclose(e.center, gm.means_[0, [2, 0]])
    with pytest.raises(ValueError, match=r"two distinct feature indices in \[0, 2\]. Got \(0, 0\)"):
        plot_clusters(X, gm, features=(0, 0))
    with pytest.raises(ValueError, match="at least 2 features"):
        plot_clusters(X[:, :1], GaussianMixture(2, random_state=0).fit(X[:, :1]))


# ----------------------------------------------------------------------------- criteria
def _fake_compare_table():
    t = pd.DataFrame(
        {
            "k": [1, 2, 3],
            "covariance_type": ["full"] * 3,
            "aic": [100.0, 60.0, 62.0],
            "bic": [105.0, 70.0, 80.0],
            "icl": [105.0, 90.0, 95.0],
            "waic": [99.0, 58.0, 57.0],
            "waic_se": [5.0, 6.0, 6.5],
            "waic_diff_se": [3.0, 0.8, 0.0],
            "loo": [99.5, 58.5, 59.0],
            "loo_se": [5.0, 6.0, 6.5],
            "loo_diff_se": [3.0, 0.0, 0.9],
        }
    )
    return t


def test_criteria_plot_marks_each_choice():
    t = _fake_compare_table()
    ax = plot_criteria(t)
    stars = {ln.get_gid(): ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith("chosen_")}
    assert set(stars) == {"chosen_aic", "chosen_bic", "chosen_icl", "chosen_waic", "chosen_loo"}
    expected = {"aic": 2, "bic": 2, "icl": 2, "waic": 3, "loo": 2}
    for crit, k in expected.items():
        x, y = stars[f"chosen_{crit}"].get_data()
        assert abs(x[0] - k) < 0.2 and y[0] == 0.0  # relative: the choice sits at 0
    errorbars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(errorbars) == 2  # WAIC and LOO
    # relative mode draws the paired standard errors of the differences
    waic_bar = errorbars[0]
    segs = waic_bar.lines[2][0].get_segments()
    assert_allclose([s[1, 1] - s[0, 1] for s in segs], 2 * t["waic_diff_se"].to_numpy())
    assert ax.get_yscale() == "symlog"


def test_criteria_plot_raw_values_and_se():
    t = _fake_compare_table()
    ax = plot_criteria(t, relative=False, criteria=["bic", "waic"])
    (bic,) = [ln for ln in ax.get_lines() if ln.get_label() == "BIC"]
    assert_allclose(bic.get_ydata(), t["bic"])
    (bar,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    segs = bar.lines[2][0].get_segments()
    assert_allclose([s[1, 1] - s[0, 1] for s in segs], 2 * t["waic_se"].to_numpy())


def test_criteria_plot_shows_the_evidence_beside_bic():
    t = _fake_compare_table()
    t["evidence"] = t["bic"] + np.array([3.0, -1.0, 2.0])[: len(t)]
    t["evidence_se"] = 0.1 * np.arange(1, len(t) + 1)
    ax = plot_criteria(t, relative=False, criteria=["bic", "evidence"])
    (bar,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert bar.get_label() == "-2 log evidence"
    segs = bar.lines[2][0].get_segments()
    assert_allclose([s[1, 1] - s[0, 1] for s in segs], 2 * t["evidence_se"].to_numpy())
    (star,) = [ln for ln in ax.get_lines() if ln.get_gid() == "chosen_evidence"]
    assert star.get_ydata()[0] == t["evidence"].min()
    # by default it is drawn whenever the table has it
    labels = [ln.get_label() for ln in plot_criteria(t).get_lines()] + [
        c.get_label() for c in plot_criteria(t).containers
    ]
    assert "-2 log evidence" in labels


def test_criteria_plot_of_a_select_table_has_one_line_per_type():
    X, _ = make_mixture(200, [0.5, 0.5], [[-3, 0], [3, 0]], [np.eye(2)] * 2, random_state=0)
    _, table = select(X, [1, 2, 3], ("full", "diag"), random_state=0)
    fig, ax = plt.subplots()
    assert plot_criteria(table, ax=ax) is ax
    labels = [ln.get_label() for ln in ax.get_lines() if not ln.get_label().startswith("_")]
    assert labels == ["AIC (full)", "AIC (diag)", "BIC (full)", "BIC (diag)", "ICL (full)", "ICL (diag)"]
    assert list(ax.get_xticks()) == [1, 2, 3]


def test_criteria_plot_bad_tables():
    with pytest.raises(ValueError, match="must have a 'k' column"):
        plot_criteria(pd.DataFrame({"bic": [1.0]}))
    with pytest.raises(ValueError, match=r"no column\(s\) \['waic'\]"):
        plot_criteria(pd.DataFrame({"k": [1], "bic": [1.0]}), criteria=["waic"])


# ----------------------------------------------------------------------------- EM vs posterior
def _fake_em_posterior_table():
    return pd.DataFrame(
        {
            "parameter": ["weight[0]", "mean[0]", "sd[0]"],
            "em": [0.52, 1.60, 0.051],
            "posterior_mean": [0.50, 1.58, 0.052],
            "posterior_sd": [0.005, 0.01, 0.001],
            "hdi_low": [0.49, 1.56, 0.050],
            "hdi_high": [0.51, 1.60, 0.054],
            "em_in_hdi": [False, True, True],
            "z": [4.0, 2.0, -1.0],
        }
    )


def test_em_vs_posterior_forest():
    t = _fake_em_posterior_table()
    ax = plot_em_vs_posterior(t)
    assert [lbl.get_text() for lbl in ax.get_yticklabels()] == list(t["parameter"])
    (outside,) = [ln for ln in ax.get_lines() if ln.get_label() == "EM (outside HDI)"]
    (inside,) = [ln for ln in ax.get_lines() if ln.get_label() == "EM (inside HDI)"]
    assert_allclose(outside.get_xdata(), [4.0])  # standardised: at z
    assert_allclose(inside.get_xdata(), [2.0, -1.0])
    assert outside.get_color() != inside.get_color()
    hdi = [c for c in ax.collections if c.get_label() == "posterior HDI"][0]
    segs = hdi.get_segments()
    assert_allclose(segs[0][:, 0], [(0.49 - 0.50) / 0.005, (0.51 - 0.50) / 0.005])


def test_em_vs_posterior_raw_values():
    t = _fake_em_posterior_table()
    ax = plot_em_vs_posterior(t, standardize=False)
    (mean,) = [ln for ln in ax.get_lines() if ln.get_label() == "posterior mean"]
    assert_allclose(mean.get_xdata(), t["posterior_mean"])
    with pytest.raises(ValueError, match="compare_em_posterior"):
        plot_em_vs_posterior(t.drop(columns=["hdi_low"]))


# ----------------------------------------------------------------------------- with a real posterior
@pytest.fixture
def real_fit(heights_posterior):
    """The shared K = 2 posterior of 1 000 height rows (conftest) and its EM start."""
    X, _, bayes = heights_posterior
    return X, bayes.em_, bayes


def test_plots_of_a_real_posterior(real_fit):
    from bayesgmm.bayes.posterior import compare_em_posterior

    X, em, bayes = real_fit
    ax = plot_density(X, em=em, bayes=bayes)
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert labels == ["EM", "posterior predictive"]
    post = ax.get_lines()[1].get_ydata()
    assert_allclose(post, ax.get_lines()[0].get_ydata(), atol=0.1 * post.max())
    table = compare_em_posterior(em, bayes)
    ax = plot_em_vs_posterior(table)
    assert len(ax.get_yticklabels()) == len(table) == 6
