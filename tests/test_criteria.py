"""bayesgmm.criteria: select over K x covariance types (EM alone), ranks and choices."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

pd = pytest.importorskip("pandas")

from hard_optima import heavy_tailed_groups  # noqa: E402

from bayesgmm import GaussianMixture, load_heights, make_mixture  # noqa: E402
from bayesgmm._scaling import Standardizer  # noqa: E402
from bayesgmm.covariance import n_parameters  # noqa: E402
from bayesgmm.criteria import check_ks, chosen, rank_criteria, select  # noqa: E402

MEANS3 = [[-4.0, 0.0], [0.0, 4.0], [4.0, 0.0]]


def three_blobs(n=300, seed=0):
    return make_mixture(n, [1 / 3] * 3, MEANS3, [np.eye(2)] * 3, random_state=seed)[0]


@pytest.fixture(scope="module")
def blobs_table():
    X = three_blobs()
    best, table = select(X, range(1, 5), ("full", "diag", "spherical"), random_state=0)
    return X, best, table


def test_table_columns_and_rows(blobs_table):
    X, _, table = blobs_table
    assert list(table.columns) == [
        "k", "covariance_type", "loglik", "n_params", "aic", "bic", "icl", "converged",
        "n_iter", "n_starts", "n_best", "collapsed", "error", "rank_aic", "rank_bic", "rank_icl", "chosen_by",
    ]  # fmt: skip
    assert len(table) == 12
    assert table[["k", "covariance_type"]].drop_duplicates().shape[0] == 12
    assert table["converged"].all() and (table["error"] == "").all() and not table["collapsed"].any()
    assert (table["n_best"] >= 1).all() and (table["n_best"] <= table["n_starts"]).all()
    assert (table.loc[table["k"] == 1, "n_starts"] == 1).all()  # one optimum, in closed form
    assert (table.loc[table["k"] > 1, "n_starts"] >= 15).all()


def test_criteria_are_the_formulas_at_the_returned_fit(blobs_table):
    X, best, table = blobs_table
    n, d = X.shape
    for row in table.itertuples():
        assert row.n_params == n_parameters(row.k, d, row.covariance_type)
        assert_allclose(row.aic, -2 * row.loglik + 2 * row.n_params, rtol=1e-12)
        assert_allclose(row.bic, -2 * row.loglik + row.n_params * np.log(n), rtol=1e-12)
        assert row.icl >= row.bic - 1e-9  # the entropy term is non-negative
    row = table[(table["k"] == best.n_components) & (table["covariance_type"] == best.covariance_type)].iloc[
        0
    ]
    assert_allclose(row["loglik"], best.score(X) * n, rtol=1e-10)
    assert_allclose([row["aic"], row["bic"], row["icl"]], [best.aic(X), best.bic(X), best.icl(X)], rtol=1e-10)


def test_every_row_is_at_least_as_good_as_one_plain_fit(blobs_table):
    """Many starts never do worse than the single k-means start select used to make (fitted
    here on the same standardised data, so that reg_covar means the same)."""
    X, _, table = blobs_table
    n = X.shape[0]
    for row in table.itertuples():
        std = Standardizer.fit(X, isotropic=row.covariance_type == "spherical")
        Z = std.transform(X)
        gm = GaussianMixture(
            row.k, covariance_type=row.covariance_type, tol=1e-10, max_iter=10000, random_state=0
        ).fit(Z)
        assert row.loglik >= std.loglik_back(gm.score(Z) * n, n) - 1e-6


def test_ranks_and_chosen_flags_are_consistent(blobs_table):
    _, best, table = blobs_table
    for crit in ("aic", "bic", "icl"):
        rank = table[f"rank_{crit}"]
        assert rank.min() == 1
        order = table[crit].rank(method="min")
        assert (rank.astype(int) == order.astype(int)).all()
        chosen_rows = table[table["chosen_by"].str.split(",").apply(lambda c, crit=crit: crit in c)]
        assert len(chosen_rows) == 1
        assert chosen_rows[crit].iloc[0] == table[crit].min()
    row = table.loc[table["bic"].idxmin()]
    assert best.n_components == row["k"] and best.covariance_type == row["covariance_type"]
    assert_allclose(best.bic(three_blobs()), row["bic"], rtol=1e-12)


def test_bic_and_icl_choose_three_well_separated_components(blobs_table):
    _, _, table = blobs_table
    assert chosen(table)["bic"] == 3
    assert chosen(table)["icl"] == 3


@pytest.mark.slow  # many starts per K on 200 000 rows
def test_heights_bic_and_aic_choose_two_icl_one():
    """On the heights the two groups overlap (EM classifies 89% right), so ICL's entropy
    term (about 0.26 nats per point x 2 x 200 000) outweighs the likelihood gain of K=2:
    ICL prefers one cluster, as it is designed to (it scores clusterings, not densities)."""
    X, _ = load_heights()
    best, table = select(X, range(1, 5), "full", random_state=0)
    picks = chosen(table)
    assert picks["bic"] == 2 and picks["aic"] == 2
    assert picks["icl"] == 1
    two = table[table["k"] == 2].iloc[0]
    entropy = (two["icl"] - two["bic"]) / 2
    assert 0.2 < entropy / X.shape[0] < np.log(2)
    assert best.n_components == 2


def test_a_row_does_not_depend_on_the_rest_of_the_grid():
    """The K = 3 row is the same whether K = 1, 2 are asked for or not, and whatever other
    covariance types are: the K - 1 splits are made whatever the range. On this set the
    K = 3 fit without them is 25 nats worse (-1924.45, what select(X, [3]) gave before)."""
    X = heavy_tailed_groups()
    cols = ["k", "covariance_type", "loglik", "n_params", "aic", "bic", "icl", "converged", "n_iter"]
    _, alone = select(X, [3], "full", random_state=0)
    _, chain = select(X, range(1, 4), "full", random_state=0)
    _, wide = select(X, [3, 2], ("diag", "full"), random_state=0)
    row = alone[cols].iloc[0]
    pd.testing.assert_series_equal(chain[cols].iloc[2], row, check_names=False)
    pd.testing.assert_series_equal(wide[cols].iloc[1], row, check_names=False)
    assert row["loglik"] > -1924.45 + 20


def test_criterion_argument_picks_the_returned_model():
    X = three_blobs()
    best, table = select(X, [2, 3], "spherical", criterion="aic", random_state=0)
    assert best.n_components == table.loc[table["aic"].idxmin(), "k"]


def test_a_failed_fit_is_recorded_not_raised():
    X = np.vstack([np.zeros((5, 1)), np.ones((5, 1))])  # two points, repeated
    # the many starts run quietly; the table says what failed
    _, table = select(X, [1, 2, 3, 8], "full", reg_covar=0.0, random_state=0)
    failed = table[table["error"] != ""]
    assert len(failed) >= 1
    assert failed[["aic", "bic", "icl"]].isna().all().all()
    assert failed["rank_bic"].isna().all()
    assert "reg_covar" in failed["error"].iloc[0]


def test_all_fits_failing_raises():
    X = np.zeros((6, 1))
    with pytest.raises(ValueError, match="No model could be fitted"):
        select(X, [2, 3], "full", reg_covar=0.0, random_state=0)


def test_rank_criteria_ties_share_the_best_rank():
    t = pd.DataFrame({"k": [1, 2, 3], "bic": [5.0, 3.0, 3.0]})
    rank_criteria(t, ["bic"])
    assert t["rank_bic"].tolist() == [3, 1, 1]
    assert t["chosen_by"].tolist() == ["", "bic", ""]
    assert chosen(t) == {"bic": 2}


def test_chosen_within_se_takes_the_smallest_close_k():
    t = pd.DataFrame(
        {
            "k": [1, 2, 3, 4],
            "bic": [10.0, 3.0, 5.0, 7.0],
            "waic": [50.0, 20.5, 20.0, 20.9],
            "waic_diff": [30.0, 0.5, 0.0, 0.9],
            "waic_diff_se": [3.0, 0.4, 0.0, 0.3],
        }
    )
    rank_criteria(t, ["bic", "waic"])
    assert chosen(t) == {"bic": 2, "waic": 3}
    assert chosen(t, within_se=2) == {"bic": 2, "waic": 2}  # 0.5 <= 2 x 0.4
    assert chosen(t, within_se=1) == {"bic": 2, "waic": 3}  # 0.5 > 1 x 0.4


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("ks", "match"),
    [
        (0, r"must contain only ints >= 1. Got 0"),
        ([], "at least one K"),
        ([1, 1], "must not repeat a K"),
        ("1..3", "must be an int or a sequence of ints"),
        ([1, 2.5], "must contain only ints >= 1. Got 2.5"),
    ],
)
def test_bad_ks(ks, match):
    with pytest.raises(ValueError, match=match):
        check_ks(ks)


def test_bad_options():
    X = three_blobs(60)
    with pytest.raises(ValueError, match=r"The 'covariance_types' parameter must be one of"):
        select(X, [1], ["full", "banded"])
    with pytest.raises(ValueError, match=r"The 'criterion' parameter must be one of \['aic', 'bic', 'icl'\]"):
        select(X, [1], criterion="waic")
    with pytest.raises(ValueError, match="name at least one covariance type"):
        select(X, [1], [])


def test_import_bayesgmm_does_not_import_pandas_or_matplotlib():
    """bayesgmm itself imports neither pandas nor matplotlib nor PyMC/ArviZ (scikit-learn,
    a core dependency, imports pandas on its own when it is installed: imported first here,
    it is not counted)."""
    code = (
        "import sys, sklearn.base, sklearn.cluster, sklearn.utils.validation; "
        "before = set(sys.modules); "
        "import bayesgmm, bayesgmm.criteria, bayesgmm.plotting; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "bad = sorted(m for m in ('pandas', 'matplotlib', 'pymc', 'arviz') if m in new or "
        "(m != 'pandas' and m in sys.modules)); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
