"""bayesgmm.multistart and select: the best optimum, deterministically, at any scale."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hard_optima import DATASETS, sklearn_oracle
from numpy.testing import assert_allclose, assert_array_equal

from bayesgmm import GMMParams, make_mixture
from bayesgmm.multistart import EMFit, best_em, convert_params, is_degenerate, split_params

pd = pytest.importorskip("pandas")
from bayesgmm.criteria import select  # noqa: E402

CTS = ("full", "tied", "diag", "spherical")
ORACLE_DIR = Path(__file__).parent / "data"
SCALES = (1e-8, 1e-4, 1.0, 1e4, 1e8)


def _blobs(n=120, seed=0):
    means = [[-4.0, 0.0], [0.0, 4.0], [4.0, 0.0]]
    return make_mixture(n, [0.5, 0.3, 0.2], means, [np.eye(2)] * 3, random_state=seed)[0]


def _oracle(name):
    path = ORACLE_DIR / f"oracle_{name}.json"
    if not path.exists():
        pytest.skip(f"{path.name} not computed (benchmarks/hard_optima_oracle.py)")
    return json.loads(path.read_text())["oracle"]


# ----------------------------------------------------------------------------- pieces
def test_convert_params_keeps_means_and_reduces_covariances():
    full = np.array([[[2.0, 0.5], [0.5, 1.0]], [[1.0, 0.0], [0.0, 3.0]]])
    p = GMMParams([0.25, 0.75], [[0.0, 0.0], [1.0, 1.0]], full, "full")
    assert_allclose(convert_params(p, "diag").covariances, [[2.0, 1.0], [1.0, 3.0]])
    assert_allclose(convert_params(p, "spherical").covariances, [1.5, 2.0])
    assert_allclose(convert_params(p, "tied").covariances, 0.25 * full[0] + 0.75 * full[1])
    assert_allclose(convert_params(p, "tied").means, p.means)


def test_split_params_halves_a_component_along_its_widest_axis():
    p = GMMParams([0.4, 0.6], [[0.0, 0.0], [5.0, 5.0]], [[4.0, 1.0], [1.0, 2.25]], "diag")
    a, b = split_params(p)
    assert a.n_components == b.n_components == 3
    assert_allclose(a.weights, [0.2, 0.6, 0.2])
    assert_allclose(b.weights, [0.4, 0.3, 0.3])
    # half a standard deviation either side, along x (sd 2) and along y (sd 1.5)
    assert_allclose(np.sort(a.means[[0, 2]], axis=0), [[-1.0, 0.0], [1.0, 0.0]], atol=1e-12)
    assert_allclose(np.sort(b.means[[1, 2]], axis=0), [[5.0, 4.25], [5.0, 5.75]], atol=1e-12)
    assert_allclose(a.covariances[2], p.covariances[0])
    far, _ = split_params(p, distance=1.0)  # one standard deviation either side
    assert_allclose(np.sort(far.means[[0, 2]], axis=0), [[-2.0, 0.0], [2.0, 0.0]], atol=1e-12)
    assert_allclose(far.weights, a.weights)


def test_is_degenerate_flags_a_variance_at_the_floor():
    assert is_degenerate(np.array([1.0, 2e-6]), "spherical", 1e-6)
    assert not is_degenerate(np.array([1.0, 1e-3]), "spherical", 1e-6)
    assert is_degenerate(np.array([[[1.0, 1.0], [1.0, 1.0 + 1e-6]]]), "full", 1e-6)


def test_best_em_reports_every_start_and_the_winner():
    X = _blobs()
    fit = best_em(X, 3, "full")
    assert isinstance(fit, EMFit) and fit.error == "" and not fit.degenerate
    assert fit.start_names[0] == "hierarchical" and fit.n_starts == len(fit.start_logliks)
    assert_allclose(fit.loglik, np.nanmax(fit.start_logliks), rtol=1e-12)
    assert_allclose(fit.loglik, fit.model.score(X) * len(X), rtol=1e-10)
    assert 1 <= fit.n_best <= fit.n_starts
    assert fit.model.converged_


def test_best_em_large_n_screens_on_a_subset_and_still_reaches_the_optimum():
    X = _blobs(n=1200, seed=1)
    a = best_em(X, 3, "diag", screen_samples=300)
    b = best_em(X, 3, "diag")
    assert_allclose(a.loglik, b.loglik, rtol=1e-9)


# ----------------------------------------------------------------------------- select
@pytest.fixture(scope="module")
def small_select():
    X = _blobs()
    return X, select(X, [1, 2, 3], ("full", "spherical"))


def test_two_calls_give_identical_tables_without_a_seed(small_select):
    X, (best, table) = small_select
    best2, table2 = select(X, [1, 2, 3], ("full", "spherical"))
    pd.testing.assert_frame_equal(table, table2, check_exact=True)
    assert_array_equal(best.means_, best2.means_)
    _, table0 = select(X, [1, 2, 3], ("full", "spherical"), random_state=0)
    pd.testing.assert_frame_equal(table, table0, check_exact=True)  # None is seed 0


@pytest.mark.parametrize("a", SCALES)
def test_select_is_affine_equivariant(small_select, a):
    """On a X + b: the same labels, the parameters of X mapped through the map (relative
    1e-6), log-likelihoods shifted by -n d log a and criteria by +2 n d log a."""
    X, (best, table) = small_select
    b = a * np.array([3.0, -7.0])
    Y = a * X + b
    best_a, table_a = select(Y, [1, 2, 3], ("full", "spherical"))
    n, d = X.shape
    assert_array_equal(best_a.predict(Y), best.predict(X))
    assert (best_a.n_components, best_a.covariance_type) == (best.n_components, best.covariance_type)
    assert_allclose(best_a.weights_, best.weights_, rtol=1e-6)
    assert_allclose((best_a.means_ - b) / a, best.means_, rtol=1e-6, atol=1e-6)
    assert_allclose(best_a.covariances_ / a**2, best.covariances_, rtol=1e-6)
    shift = -n * d * np.log(a)
    assert_allclose(table_a["loglik"], table["loglik"] + shift, rtol=1e-9, atol=1e-6)
    for crit in ("aic", "bic", "icl"):
        assert_allclose(table_a[crit], table[crit] - 2 * shift, rtol=1e-9, atol=1e-6)
        assert (table_a[f"rank_{crit}"] == table[f"rank_{crit}"]).all()
    assert (table_a["chosen_by"] == table["chosen_by"]).all()


def _check_against_oracle(name, ks, cts):
    X = DATASETS[name]()
    oracle = _oracle(name)
    _, table = select(X, ks, cts)
    for row in table.itertuples():
        ref = oracle[f"{row.covariance_type}-{row.k}"]
        target = ref["best_regular"] if not row.collapsed else ref["best"]
        assert row.loglik >= target - 1e-6 * max(1.0, abs(target)), (name, row.k, row.covariance_type)
    return X, table


def test_reaches_the_best_of_100_sklearn_starts_on_small_modes():
    """Default-suite version: K = 3..5 on the 1-D data with small modes."""
    _check_against_oracle("modes_1d", [3, 4, 5], ("full", "spherical"))


def test_reaches_the_best_of_100_sklearn_starts_tight_inside_broad():
    """Default-suite version: full K = 4, 5 on the tight cluster inside a broad one (K = 5
    is reached from a split of the K = 4 fit one standard deviation either side)."""
    _, table = _check_against_oracle("nested_2d", [4, 5], ("full",))
    assert table["loglik"].iloc[1] >= _oracle("nested_2d")["full-5"]["best_regular"] - 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("name", list(DATASETS))
def test_reaches_the_best_of_100_sklearn_starts_everywhere(name):
    X, table = _check_against_oracle(name, range(1, 7), CTS)
    _, again = select(X, range(1, 7), CTS)
    pd.testing.assert_frame_equal(table, again, check_exact=True)


@pytest.mark.slow
def test_stored_oracle_is_what_sklearn_gives():
    """Recompute two cells of the stored oracle from scratch."""
    oracle = _oracle("unbalanced_2d")
    X = DATASETS["unbalanced_2d"]()
    for cell in ("full-3", "diag-5"):
        ct, k = cell.split("-")
        got = sklearn_oracle(X, int(k), ct)
        assert_allclose(got["best_regular"], oracle[cell]["best_regular"], rtol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("a", SCALES)
def test_select_is_affine_equivariant_on_the_full_grid(a):
    X = _blobs(200, seed=3)
    best, table = select(X, range(1, 5), CTS)
    b = a * np.array([-2.0, 5.0])
    best_a, table_a = select(a * X + b, range(1, 5), CTS)
    assert_array_equal(best_a.predict(a * X + b), best.predict(X))
    assert_allclose((best_a.means_ - b) / a, best.means_, rtol=1e-6, atol=1e-6)
    assert_allclose(best_a.covariances_ / a**2, best.covariances_, rtol=1e-6)
    shift = -X.shape[0] * X.shape[1] * np.log(a)
    assert_allclose(table_a["loglik"], table["loglik"] + shift, rtol=1e-9, atol=1e-6)
    assert (table_a["chosen_by"] == table["chosen_by"]).all()
