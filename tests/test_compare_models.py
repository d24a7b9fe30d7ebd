"""bayesgmm.bayes.compare: the pure comparison of computed results, and compare_models.

The slow tests measure the choice of K: on the heights BIC, WAIC and LOO choose K = 2
(ICL chooses 1: see test_criteria; AIC overfits with 3); on three well-separated 2-D
components BIC, ICL, WAIC and LOO choose K = 3.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import replace

import numpy as np
import pytest
from numpy.testing import assert_allclose

pytest.importorskip("pymc")
pd = pytest.importorskip("pandas")

from bayesgmm import load_heights, make_mixture  # noqa: E402
from bayesgmm.bayes.compare import (  # noqa: E402
    CriterionWarning,
    ModelResult,
    compare,
    compare_models,
    loo,
    waic,
)
from bayesgmm.bayes.evidence import log_evidence  # noqa: E402
from bayesgmm.criteria import chosen  # noqa: E402
from bayesgmm.em import CONVERGED_TOL  # noqa: E402
from bayesgmm.exceptions import ConvergenceWarning, SamplingWarning  # noqa: E402

COLUMNS = [
    "k", "covariance_type", "loglik", "em_converged", "n_params", "aic", "bic", "icl",
    "waic", "p_waic", "waic_se", "loo", "p_loo", "loo_se", "waic_warning", "loo_warning",
    "max_rhat", "min_ess_bulk", "divergences", "invariant_max_rhat", "invariant_min_ess_bulk",
    "invariant_ok", "flag", "evidence", "evidence_se", "evidence_warning",
    "waic_diff", "waic_diff_se", "loo_diff", "loo_diff_se",
    "rank_aic", "rank_bic", "rank_icl", "rank_waic", "rank_loo", "rank_evidence", "chosen_by",
    "undetermined_by",
]  # fmt: skip
# compare() without extra criteria: no evidence columns
PURE_COLUMNS = [c for c in COLUMNS if "evidence" not in c]


def _quietly(fn, *args, **kwargs):
    """Run with the warnings that short chains and overfitted K are expected to raise
    recorded, not raised (the table reports them: ``em_converged``, the diagnostics and
    the ``*_warning`` columns). Any other warning still fails the test."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", SamplingWarning)
        warnings.simplefilter("always", CriterionWarning)
        warnings.simplefilter("always", ConvergenceWarning)
        out = fn(*args, **kwargs)
    return out, rec


@pytest.fixture(scope="module")
def small():
    X, _ = make_mixture(150, [0.5, 0.5], [[-2.0], [2.0]], [[[0.5]], [[0.7]]], random_state=5)
    log = io.StringIO()
    (table, models), rec = _quietly(
        compare_models, X, [1, 2], draws=500, tune=200, chains=2, random_state=0,
        em_covariance_types=("spherical",), return_models=True, progress=log,
    )  # fmt: skip
    return X, table, models, log.getvalue()


def test_table_shape_and_columns(small):
    _, table, models, _ = small
    assert list(table.columns) == COLUMNS
    assert table[["k", "covariance_type"]].values.tolist() == [
        [1, "full"], [1, "spherical"], [2, "full"], [2, "spherical"],
    ]  # fmt: skip
    assert set(models) == {(1, "full"), (1, "spherical"), (2, "full"), (2, "spherical")}
    em_only = table[table["covariance_type"] == "spherical"]
    assert em_only[["waic", "loo", "waic_se", "rank_waic"]].isna().all().all()
    assert models[(2, "spherical")][1] is None
    # the log evidence of every posterior, beside BIC (EM-only rows have none)
    assert em_only[["evidence", "evidence_se", "rank_evidence"]].isna().all().all()
    full = table[table["covariance_type"] == "full"]
    assert (full["evidence_se"] > 0).all() and np.isfinite(full["evidence"]).all()
    assert table.loc[2, "rank_evidence"] == 1 and "evidence" in table.loc[2, "chosen_by"].split(",")


def test_em_columns_are_the_em_fits(small):
    X, table, models, _ = small
    for row in table.itertuples():
        em, _ = models[(row.k, row.covariance_type)]
        assert em.converged_ and em.tol == CONVERGED_TOL
        assert_allclose(row.loglik, em.score(X) * X.shape[0], rtol=1e-12)
        assert_allclose([row.aic, row.bic, row.icl], [em.aic(X), em.bic(X), em.icl(X)], rtol=1e-12)


def test_bayes_columns_are_waic_loo_and_evidence_of_the_posteriors(small):
    X, table, models, _ = small
    for row in table[table["covariance_type"] == "full"].itertuples():
        em, bayes = models[(row.k, "full")]
        assert bayes.em_ is em  # the chains started at that EM fit
        (w, lo), _ = _quietly(lambda b=bayes: (waic(b), loo(b)))
        assert_allclose([row.waic, row.p_waic, row.waic_se], [w.value, w.p, w.se], rtol=1e-12)
        assert_allclose([row.loo, row.p_loo, row.loo_se], [lo.value, lo.p, lo.se], rtol=1e-12)
        assert row.waic_warning == w.warning and row.loo_warning == lo.warning
        assert row.max_rhat == bayes.diagnostics_["max_rhat"]
        ev, _ = _quietly(log_evidence, bayes, X, random_state=bayes.random_state)  # the same seed
        assert_allclose([row.evidence, row.evidence_se], [ev.deviance, ev.deviance_se], rtol=1e-12)
        assert row.evidence_warning == ev.warning


def test_deviance_scale_ranks_and_choices(small):
    _, table, _, _ = small
    for crit in ("aic", "bic", "icl", "waic", "loo"):
        col = table[crit]
        best = int(np.nanargmin(col.to_numpy(dtype=float)))
        assert table[f"rank_{crit}"].iloc[best] == 1
        assert crit in table["chosen_by"].iloc[best].split(",")
    assert chosen(table) == {c: 2 for c in ("aic", "bic", "icl", "waic", "loo", "evidence")}
    # two clearly separated groups: K=2 wins by a wide margin on every scale
    full = table[table["covariance_type"] == "full"].set_index("k")
    assert full.loc[1, "waic"] - full.loc[2, "waic"] > 2 * full.loc[1, "waic_diff_se"]


def test_paired_differences(small):
    _, table, models, _ = small
    best = table.loc[table["waic"].idxmin()]
    assert best["waic_diff"] == 0.0 and best["waic_diff_se"] == 0.0
    other = table[(table["covariance_type"] == "full") & (table["k"] != best["k"])].iloc[0]
    assert_allclose(other["waic_diff"], other["waic"] - best["waic"], rtol=1e-10)
    (w1, w2), _ = _quietly(
        lambda: (waic(models[(other["k"], "full")][1]), waic(models[(best["k"], "full")][1]))
    )
    d = w1.pointwise - w2.pointwise
    assert_allclose(other["waic_diff_se"], np.sqrt(d.size * np.var(d)), rtol=1e-10)
    assert other["waic_diff_se"] < other["waic_se"] + best["waic_se"]


def test_progress_line_per_k(small):
    log = small[3]
    assert log.startswith(
        "compare_models: K in [1, 2], n=150, Gibbs sampler, 20 sweeps a draw, 2 chain(s) x (200 tune + 500 draws) per K\n"
    )
    assert "K=1 (1/2) done in" in log and "K=2 (2/2) done in" in log
    assert log.count("WAIC") == 2 and log.count("LOO") == 2


# ----------------------------------------------------------------------------- the pure comparison
def _result(rng, k, level, *, ok=True, extra=None):
    """A ModelResult from a synthetic (2 chains x 200 draws x 40 observations) log-likelihood."""
    ll = level + 0.05 * rng.normal(size=(2, 200, 40))
    dg = {
        "max_rhat": 1.0, "min_ess_bulk": 500.0, "divergences": 0,
        "invariant_max_rhat": 1.0 if ok else 1.3, "invariant_min_ess_bulk": 900.0 if ok else 12.0,
        "invariant_ok": ok,
    }  # fmt: skip
    return ModelResult(
        k=k, covariance_type="full", loglik=40 * level, em_converged=True, n_params=3 * k - 1,
        aic=-80 * level + 2 * (3 * k - 1), bic=-80 * level + (3 * k - 1) * np.log(40),
        icl=-80 * level + (3 * k - 1) * np.log(40) + k, waic=waic(ll), loo=loo(ll), diagnostics=dg,
        extra=extra or {},
    )  # fmt: skip


def test_compare_is_a_function_of_the_results(rng):
    results = [_result(rng, 1, -2.0), _result(rng, 2, -1.0), _result(rng, 3, -1.01)]
    table = compare(results)
    assert list(table.columns) == PURE_COLUMNS
    assert table["k"].tolist() == [1, 2, 3]
    assert_allclose(table["waic"], [r.waic.deviance for r in results], rtol=1e-12)
    assert_allclose(table["loo_se"], [r.loo.deviance_se for r in results], rtol=1e-12)
    # paired differences to the best row, by hand from the pointwise values
    d = results[0].waic.pointwise - results[1].waic.pointwise
    assert_allclose(table.loc[0, "waic_diff"], d.sum(), rtol=1e-12)
    assert_allclose(table.loc[0, "waic_diff_se"], np.sqrt(d.size * d.var()), rtol=1e-12)
    assert table.loc[1, "waic_diff"] == 0.0
    assert chosen(table) == {"aic": 2, "bic": 2, "icl": 2, "waic": 2, "loo": 2}
    assert (table["flag"] == "").all() and table["invariant_ok"].all()


def test_compare_never_ranks_a_flagged_posterior(rng):
    """The best WAIC belongs to a K whose label-invariant diagnostics fail: it stays in the
    table with its reason, but has no rank and no difference, and is not chosen. It lies
    above the best ranked K, so WAIC and LOO choose nothing: their choice is undetermined,
    with the reason; the EM criteria still choose."""
    results = [_result(rng, 1, -2.0), _result(rng, 2, -1.0), _result(rng, 3, -0.5, ok=False)]
    table = compare(results)
    by_k = table.set_index("k")
    assert by_k.loc[3, "waic"] < by_k.loc[2, "waic"]
    assert np.isnan(by_k.loc[3, "waic_diff"]) and np.isnan(by_k.loc[3, "loo_diff_se"])
    assert by_k.loc[3, "flag"] == "label-invariant R-hat 1.300, bulk ESS 12"
    assert not by_k.loc[3, "invariant_ok"]
    assert by_k.loc[2, "waic_diff"] == 0.0  # the best ranked row, the reference of the differences
    for crit in ("waic", "loo"):
        assert table[f"rank_{crit}"].isna().all()
        assert table.attrs["undetermined"][crit] == (
            "K=2 is the best ranked, but above it K=3 is NOT RANKED (label-invariant R-hat 1.300, bulk ESS 12)"
        )
    assert by_k["undetermined_by"].tolist() == ["", "waic,loo", ""]
    assert "waic" not in ",".join(by_k["chosen_by"]) and "loo" not in ",".join(by_k["chosen_by"])
    assert chosen(table) == {"aic": 3, "bic": 3, "icl": 3}
    assert chosen(table, within_se=2) == {"aic": 3, "bic": 3, "icl": 3}
    assert by_k.loc[3, "rank_bic"] == 1  # the EM criteria do not depend on the sampler


def test_a_flagged_posterior_below_the_best_leaves_the_choice_made(rng):
    """A failed K below the best ranked one does not undo the choice (nor does a row
    without a posterior): WAIC and LOO choose K = 3 over K = 1."""
    results = [_result(rng, 1, -2.0), _result(rng, 2, -0.5, ok=False), _result(rng, 3, -1.0)]
    table = compare(results)
    assert chosen(table)["waic"] == 3 and chosen(table)["loo"] == 3
    assert table.attrs["undetermined"] == {} and (table["undetermined_by"] == "").all()
    assert table["rank_waic"].tolist()[0] == 2 and pd.isna(table["rank_waic"].iloc[1])


def test_no_ranked_posterior_is_undetermined(rng):
    results = [_result(rng, k, -2.0 + k, ok=False) for k in (1, 2)]
    table = compare(results)
    assert table.attrs["undetermined"]["waic"].startswith("no K could be ranked: K=1 is NOT RANKED")
    assert (table["undetermined_by"] == "").all() and "waic" not in chosen(table)


def test_compare_ranks_extra_criteria(rng):
    """A further per-K criterion (e.g. -2 log evidence) is a column, ranked when asked,
    and gated by the diagnostics like WAIC and LOO."""
    results = [
        _result(rng, 1, -2.0, extra={"evidence": 30.0, "evidence_se": 0.2}),
        _result(rng, 2, -1.0, extra={"evidence": 10.0, "evidence_se": 0.3}),
        _result(rng, 3, -0.5, ok=False, extra={"evidence": 5.0, "evidence_se": 0.1}),
    ]
    table = compare(results, extra_criteria=("evidence",))
    assert_allclose(table["evidence"], [30.0, 10.0, 5.0])
    assert_allclose(table["evidence_se"], [0.2, 0.3, 0.1])
    # K = 3 is not ranked and lies above the best ranked K = 2: undetermined
    assert table["rank_evidence"].isna().all()
    assert "evidence" in table.loc[1, "undetermined_by"].split(",")
    assert "rank_evidence" not in compare(results).columns
    ranked = compare(results[:2], extra_criteria=("evidence",))
    assert ranked["rank_evidence"].tolist() == [2, 1]
    assert "evidence" in ranked.loc[1, "chosen_by"].split(",")


def test_an_extra_criterion_that_warns_is_not_ranked(rng):
    """The lowest -2 log evidence flags itself unreliable (``evidence_warning``): the row
    keeps its value but gets no evidence rank. It lies above the next best (K = 2), so
    the evidence's choice is undetermined, while WAIC and LOO (not warned) choose."""
    results = [
        _result(rng, 1, -2.0, extra={"evidence": 30.0, "evidence_se": 0.2, "evidence_warning": False}),
        _result(rng, 2, -1.0, extra={"evidence": 10.0, "evidence_se": 0.3, "evidence_warning": False}),
        _result(rng, 3, -0.9, extra={"evidence": 2.0, "evidence_se": 2.3, "evidence_warning": True}),
    ]
    table = compare(results, extra_criteria=("evidence",))
    by_k = table.set_index("k")
    assert by_k.loc[3, "evidence"] == 2.0 and by_k.loc[3, "invariant_ok"]
    assert table["rank_evidence"].isna().all() and "evidence" not in chosen(table)
    assert table.attrs["undetermined"] == {
        "evidence": "K=2 is the best ranked, but above it K=3's estimate flags itself (evidence_warning)"
    }
    assert by_k.loc[2, "undetermined_by"] == "evidence"
    assert chosen(table)["waic"] == 3
    # the warned row below the best: the choice stands
    low = compare([replace(results[0], extra=results[2].extra), results[1]], extra_criteria=("evidence",))
    assert chosen(low)["evidence"] == 2


def test_bad_arguments():
    X = np.zeros((10, 1))
    with pytest.raises(
        ValueError, match=r"The 'covariance_type' parameter must be one of \['full', 'diag'\]"
    ):
        compare_models(X, [1], covariance_type="tied")
    with pytest.raises(ValueError, match=r"The 'em_covariance_types' parameter must be one of"):
        compare_models(X, [1], em_covariance_types=("banded",))
    with pytest.raises(ValueError, match="must not repeat a K"):
        compare_models(X, [1, 1])
    with pytest.raises(ValueError, match=r"The 'draws' parameter must be an int >= 1. Got 0"):
        compare_models(X, [1], draws=0)
    with pytest.raises(TypeError, match=r"The 'progress' parameter must be a bool or a writable text stream"):
        compare_models(X, [1], progress="yes")


# ----------------------------------------------------------------------------- choosing K
@pytest.mark.slow
def test_heights_every_density_criterion_chooses_two():
    """Heights, a random subset of 2 000 rows (numpy default_rng(0)), K = 1..4.

    BIC, WAIC and LOO choose K = 2. ICL chooses K = 1 on these data: the two groups
    overlap so much (EM classifies 89% correctly) that the entropy term outweighs the
    gain in fit -- ICL asks for separated clusters (see test_criteria).

    AIC chooses K = 3: it overfits. The EM rows come from select's many-start grid, whose
    best K = 3 optimum is higher than the best of 20 k-means starts of scikit-learn (checked
    below) and owes its height to a third component of under 1% of the weight, on a clump
    of a few close heights. That gain in log-likelihood is more than AIC's penalty for the
    three extra parameters (3) and less than BIC's (1.5 log n). With a few k-means starts
    EM stopped at a lower K = 3 optimum, where AIC chose 2; at the higher optimum AIC's
    penalty of 2 per parameter is too small for the extra, unidentified component of a
    mixture (Leroux 1992; Keribin 2000), as on three separated components (below).

    K = 2 passes its label-invariant diagnostics and is ranked."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    X, _ = load_heights()
    Xs = X[np.random.default_rng(0).choice(X.shape[0], 2000, replace=False)]
    table, rec = _quietly(compare_models, Xs, range(1, 5), draws=1000, tune=300, random_state=0)
    picks = chosen(table)
    assert {c: picks[c] for c in ("bic", "waic", "loo")} == {"bic": 2, "waic": 2, "loo": 2}
    assert picks["icl"] == 1
    by_k = table.set_index("k")
    assert picks["aic"] == 3 and by_k.loc[3, "aic"] < by_k.loc[2, "aic"]
    gain = by_k.loc[3, "loglik"] - by_k.loc[2, "loglik"]
    assert 3.0 < gain < 1.5 * np.log(len(Xs))  # AIC's penalty < gain < BIC's
    sk = SkGaussianMixture(3, n_init=20, max_iter=1000, random_state=0).fit(Xs)
    assert by_k.loc[3, "loglik"] > np.sum(sk.score_samples(Xs))
    two = table.set_index("k").loc[2]
    assert two["max_rhat"] <= 1.01 and two["divergences"] == 0
    assert two["invariant_ok"] and two["flag"] == "" and two["invariant_max_rhat"] <= 1.01
    one = table.set_index("k").loc[1]
    assert one["waic_diff"] > 2 * one["waic_diff_se"]  # K=1 is clearly worse


@pytest.mark.slow
def test_three_separated_components_choose_three():
    """Three well-separated 2-D components (means (-4, 0), (0, 4), (4, 0), unit
    covariances), 450 points, K = 1..4.

    BIC and ICL choose K = 3. WAIC and LOO reject K = 1, 2 by dozens of paired standard
    errors. K = 4, one component more than the data have, either fails the label-invariant
    diagnostics (R-hat, bulk ESS) and is flagged -- then it is not ranked, has no paired
    standard error, and, lying above the best ranked K = 3, leaves the choice of WAIC and
    LOO undetermined (K = 3 is only the best of K = 1..3) -- or passes them, and then WAIC
    and LOO do not separate K = 3 from K = 4: their difference is within two paired
    standard errors, the band of the parsimonious reading below, so their lowest value is
    not a choice. (Measured on this sample, K = 4 passing: with NUTS, WAIC 4 by
    0.06 and LOO 3 by 0.06, paired standard error 2.3; with the Gibbs sampler, WAIC 3 by
    0.28 and LOO 3 by 1.37, paired standard errors 2.09 and 1.26 -- more than one paired
    standard error, less than two.) Which of the two happens depends on the sampler and
    its seed; when K = 4 passes, the parsimonious reading (smallest K within two paired
    standard errors of the best) chooses K = 3.

    AIC is left out because it overfits: on such data it chooses K = 4 or 5 for most
    samples (measured with select over 20 seeds: K = 3 in 6/20 at n = 300, 4/20 at
    n = 450, 11/20 at n = 1000) -- its penalty of 2 per parameter is too small for the
    extra, unidentified component of a mixture (Leroux 1992; Keribin 2000)."""
    X, _ = make_mixture(450, [1 / 3] * 3, [[-4, 0], [0, 4], [4, 0]], [np.eye(2)] * 3, random_state=0)
    table, rec = _quietly(compare_models, X, range(1, 5), draws=1000, tune=500, random_state=0)
    picks = chosen(table)
    assert picks["bic"] == 3 and picks["icl"] == 3
    parsimonious = chosen(table, within_se=2)
    by_k = table.set_index("k")
    assert by_k.loc[3, "max_rhat"] <= 1.01 and by_k.loc[3, "divergences"] == 0
    assert by_k.loc[3, "flag"] == "" and by_k.loc[3, "invariant_ok"]
    four_flagged = by_k.loc[4, "flag"] != ""
    assert four_flagged == (not by_k.loc[4, "invariant_ok"])
    for crit in ("waic", "loo"):
        if four_flagged:
            assert by_k[f"rank_{crit}"].isna().all() and np.isnan(by_k.loc[4, f"{crit}_diff_se"])
            assert crit not in picks and crit not in parsimonious
            assert table.attrs["undetermined"][crit].startswith("K=3 is the best ranked, but above it K=4")
            assert crit in by_k.loc[3, "undetermined_by"].split(",")
        else:
            assert picks[crit] in (3, 4) and parsimonious[crit] == 3
            assert abs(by_k.loc[3, crit] - by_k.loc[4, crit]) < 2 * max(
                by_k.loc[3, f"{crit}_diff_se"], by_k.loc[4, f"{crit}_diff_se"]
            )
        for k in (1, 2):
            assert by_k.loc[k, f"{crit}_diff"] > 5 * by_k.loc[k, f"{crit}_diff_se"]


@pytest.mark.slow
@pytest.mark.parametrize("data", ["heights-0", "heights-1", "synthetic-k2"])
def test_above_the_true_k_every_k_passes_or_is_flagged_and_waic_repeats(data):
    """K = 1..4 on 2 000 rows, two seeds: a K either passes its label-invariant diagnostics
    (R-hat <= 1.01, bulk ESS >= 400 of the total log-likelihood and the other invariant
    quantities) and is ranked (unless a flagged K above the best leaves the choice
    undetermined), or is flagged and not ranked; the WAIC of a K that passes
    under both seeds agrees between them within its standard error."""
    if data == "synthetic-k2":
        X, _ = make_mixture(2000, [0.4, 0.6], [[-2.0], [2.0]], [[[1.0]], [[0.8]]], random_state=11)
    else:
        X, _ = load_heights()
        X = X[np.random.default_rng(int(data[-1])).choice(X.shape[0], 2000, replace=False)]
    tables = [
        _quietly(compare_models, X, range(1, 5), draws=1000, tune=500, random_state=s, progress=False)[0]
        for s in (1, 2)
    ]
    for table in tables:
        for row in table.itertuples():
            passed = row.invariant_max_rhat <= 1.01 and row.invariant_min_ess_bulk >= 400
            assert bool(row.invariant_ok) == passed
            assert (row.flag == "") == passed
            # a passing row is ranked unless a failing row above the best one leaves the
            # choice undetermined
            assert pd.isna(row.rank_waic) == (not passed or "waic" in table.attrs["undetermined"])
    a, b = (t.set_index("k") for t in tables)
    for k in range(1, 5):
        if a.loc[k, "invariant_ok"] and b.loc[k, "invariant_ok"]:
            assert abs(a.loc[k, "waic"] - b.loc[k, "waic"]) <= min(a.loc[k, "waic_se"], b.loc[k, "waic_se"])
    assert a.loc[2, "invariant_ok"] and b.loc[2, "invariant_ok"]  # the true K always samples well
