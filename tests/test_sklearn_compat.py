"""bayesgmm's GaussianMixture inside scikit-learn: its own test modules and estimator checks,
its model selection tools, sample weights, dtypes, errors, warnings and output.

scikit-learn is the oracle throughout: its installed test modules are run against
bayesgmm's class (not copied), and every number is compared with scikit-learn's own class
on the same data.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import bayesgmm
from bayesgmm import DegenerateFitWarning, GaussianMixture, ScaleWarning, _kernels
from bayesgmm.em import m_step_from_stats

sklearn = pytest.importorskip("sklearn")
from sklearn import exceptions as sk_exceptions  # noqa: E402
from sklearn import mixture as sk_mixture  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

COV_TYPES = ("full", "tied", "diag", "spherical")
PARAMS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_")


def rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def three_blobs(n=300, d=2, seed=0):
    return make_blobs(n, n_features=d, centers=3, random_state=seed)[0]


# ======================================================== scikit-learn's own test modules
# The tests that call scikit-learn's private methods (``_set_parameters``, ``_initialize``)
# or mock its private ``_estimate_gaussian_parameters``: not part of the estimator's contract.
PRIVATE_TESTS = (
    "test_gaussian_mixture_precisions_init",
    "test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters",
)

PLUGIN = f'''
"""Swap scikit-learn's GaussianMixture for bayesgmm's before its tests import it."""
import sys

import sklearn.mixture
import bayesgmm

sklearn.mixture.GaussianMixture = bayesgmm.GaussianMixture
PRIVATE = {PRIVATE_TESTS!r}


def pytest_collection_modifyitems(config, items):
    private = [item for item in items if getattr(item, "originalname", item.name) in PRIVATE]
    if private:
        config.hook.pytest_deselected(items=private)
        items[:] = [item for item in items if item not in private]


def pytest_collection_finish(session):
    module = sys.modules.get("sklearn.mixture.tests.test_gaussian_mixture")
    swapped = module is not None and module.GaussianMixture is bayesgmm.GaussianMixture
    print("BAYESGMM-SWAPPED" if swapped else "BAYESGMM-NOT-SWAPPED")
'''

SKLEARN_MODULES = ("sklearn.mixture.tests.test_gaussian_mixture", "sklearn.mixture.tests.test_mixture")


def run_sklearn_tests(tmp_path: Path, *extra: str) -> tuple[str, dict[str, int]]:
    """Run scikit-learn's installed mixture tests with bayesgmm's class swapped in."""
    (tmp_path / "swap_bayesgmm.py").write_text(PLUGIN)
    repo = Path(bayesgmm.__file__).resolve().parents[1]
    env = {
        **os.environ,
        "SKLEARN_RUN_FLOAT32_TESTS": "1",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(repo), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "pytest", "-p", "swap_bayesgmm", "-p", "no:cacheprovider", "-q", "-rf"]
    cmd += ["--pyargs", *SKLEARN_MODULES, *extra]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert "BAYESGMM-SWAPPED" in out, out[-3000:]
    summary = out.strip().splitlines()[-1]
    counts = {
        key: int(n)
        for n, key in re.findall(r"(\d+) (passed|failed|error|errors|skipped|deselected)", summary)
    }
    assert proc.returncode == 0, out[-5000:]
    return out, counts


def test_sklearn_mixture_tests_pass_a_fast_subset(tmp_path):
    """A few of scikit-learn's tests, in the default suite: the checks of the *_init
    arrays, the regularisation case, the divergent-start case, max_iter=0, too few samples."""
    _, counts = run_sklearn_tests(
        tmp_path,
        "-k",
        "check_weights or check_means or check_precisions or regularisation or setting_best_params "
        "or max_iter_zero or n_components_greater",
    )
    assert counts.get("failed", 0) == 0
    assert counts["passed"] >= 7


@pytest.mark.slow
def test_sklearn_mixture_tests_pass(tmp_path):
    """All of scikit-learn's test_gaussian_mixture.py and test_mixture.py (float32 cases on)
    with only the class swapped, but for the tests of private methods."""
    _, counts = run_sklearn_tests(tmp_path)
    assert counts.get("failed", 0) == 0
    assert counts["passed"] >= 70  # 72 with scikit-learn 1.9.1
    assert counts["deselected"] == 9  # the private-method tests, and only those


# ======================================================== check_estimator
def test_check_estimator():
    """Every scikit-learn estimator check passes (the array-API one skips: SCIPY_ARRAY_API
    is not set). Its 30-dimensional test data leave components with fewer samples than a
    full covariance needs, which bayesgmm rightly warns about: those warnings are ignored."""
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateFitWarning)
        warnings.simplefilter("ignore", ScaleWarning)
        warnings.simplefilter("ignore", sk_exceptions.SkipTestWarning)
        results = check_estimator(GaussianMixture(), on_fail=None)
    assert len(results) > 30
    bad = [
        (r["check_name"], r["status"], str(r["exception"])[:300])
        for r in results
        if not (r["status"] == "passed" or (r["status"] == "skipped" and "array_api" in r["check_name"]))
    ]
    assert bad == []


# ======================================================== model selection
def test_grid_search_and_cross_val_score_give_sklearns_scores():
    """GridSearchCV over n_components on StandardScaler -> GaussianMixture, and
    cross_val_score: scikit-learn's scores (1e-6) and scikit-learn's choice (3)."""
    X = three_blobs(300, seed=1)
    cv = KFold(3, shuffle=True, random_state=0)
    results = {}
    for name, cls in (("sk", sk_mixture.GaussianMixture), ("bg", GaussianMixture)):
        pipe = make_pipeline(StandardScaler(), cls(random_state=0))
        grid = GridSearchCV(pipe, {"gaussianmixture__n_components": [1, 2, 3, 4]}, cv=cv).fit(X)
        scores = cross_val_score(make_pipeline(StandardScaler(), cls(3, random_state=0)), X, cv=cv)
        results[name] = grid, scores
    (sk_grid, sk_scores), (bg_grid, bg_scores) = results["sk"], results["bg"]
    for key in ("mean_test_score", *(f"split{i}_test_score" for i in range(3))):
        assert np.all(np.isfinite(bg_grid.cv_results_[key]))
        assert_allclose(bg_grid.cv_results_[key], sk_grid.cv_results_[key], rtol=1e-6)
    assert bg_grid.best_params_ == sk_grid.best_params_ == {"gaussianmixture__n_components": 3}
    assert_allclose(bg_scores, sk_scores, rtol=1e-6)
    # the refitted pipeline predicts and scores like scikit-learn's
    assert_array_equal(bg_grid.predict(X), sk_grid.predict(X))
    assert_allclose(bg_grid.score(X), sk_grid.score(X), rtol=1e-6)


# ======================================================== sample_weight
def integer_weights(n, seed=0):
    w = np.random.default_rng(seed).integers(0, 4, size=n).astype(float)
    return w, np.repeat(np.arange(n), w.astype(int))


def start_for(X, covariance_type):
    """Starting parameters (scikit-learn's start on X), as *_init arguments."""
    sk = sk_mixture.GaussianMixture(3, covariance_type=covariance_type, random_state=1, max_iter=0).fit(X)
    return dict(weights_init=sk.weights_, means_init=sk.means_, precisions_init=sk.precisions_)


def as_input(X, kind):
    if kind == "dask":
        da = pytest.importorskip("dask.array")
        return da.from_array(X, chunks=(70, X.shape[1]))
    return X


@pytest.mark.parametrize("kind", ["numpy", "dask"])
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_integer_weights_are_repeated_rows(covariance_type, kind):
    """From the same start, weights 0..3 give scikit-learn's fit of the data with each row
    repeated that many times (1e-10 relative), and the criteria use the weighted sums."""
    X = three_blobs(240)
    w, rep = integer_weights(len(X))
    kw = dict(n_components=3, covariance_type=covariance_type, tol=1e-5, **start_for(X, covariance_type))
    sk = sk_mixture.GaussianMixture(**kw).fit(X[rep])
    g = GaussianMixture(**kw).fit(as_input(X, kind), sample_weight=w)
    for name in PARAMS:
        assert rel(getattr(g, name), getattr(sk, name)) < 1e-10, name
    assert g.n_iter_ == sk.n_iter_
    assert_allclose(g.lower_bounds_, sk.lower_bounds_, rtol=1e-10)
    Xin = as_input(X, kind)
    assert_allclose(g.bic(Xin, sample_weight=w), sk.bic(X[rep]), rtol=1e-10)
    assert_allclose(g.aic(Xin, sample_weight=w), sk.aic(X[rep]), rtol=1e-10)
    assert_allclose(g.score(X, sample_weight=w), sk.score(X[rep]), rtol=1e-10)
    assert_allclose(g.icl(X, sample_weight=w), g.icl(X[rep]), rtol=1e-10)


@pytest.mark.parametrize("kind", ["numpy", "dask"])
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_zero_weights_drop_rows(covariance_type, kind):
    X = three_blobs(240)
    keep = np.random.default_rng(1).uniform(size=len(X)) < 0.7
    kw = dict(n_components=3, covariance_type=covariance_type, tol=1e-5, **start_for(X, covariance_type))
    sk = sk_mixture.GaussianMixture(**kw).fit(X[keep])
    g = GaussianMixture(**kw).fit(as_input(X, kind), sample_weight=keep.astype(float))
    for name in PARAMS:
        assert rel(getattr(g, name), getattr(sk, name)) < 1e-10, name
    assert g.n_iter_ == sk.n_iter_
    assert_allclose(g.bic(as_input(X, kind), sample_weight=keep.astype(float)), sk.bic(X[keep]), rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_weighted_textbook_engine_is_repeated_rows(covariance_type):
    """The reference engine (the article's formulas on n x K arrays) honours the weights too."""
    X = three_blobs(240)
    w, rep = integer_weights(len(X))
    kw = dict(n_components=3, covariance_type=covariance_type, tol=1e-5, **start_for(X, covariance_type))
    sk = sk_mixture.GaussianMixture(**kw).fit(X[rep])
    g = GaussianMixture(engine="textbook", **kw).fit(X, sample_weight=w)
    for name in PARAMS:
        assert rel(getattr(g, name), getattr(sk, name)) < 1e-10, name


def test_unit_weights_change_nothing_and_bad_weights_are_refused():
    X = three_blobs(120)
    a = GaussianMixture(3, random_state=0).fit(X)
    b = GaussianMixture(3, random_state=0).fit(X, sample_weight=np.ones(len(X)))
    for name in PARAMS:
        assert rel(getattr(b, name), getattr(a, name)) < 1e-12, name
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        GaussianMixture(3).fit(X, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(5,\), expected \(120,\)"):
        GaussianMixture(3).fit(X, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="Sample weights must contain at least one non-zero number"):
        GaussianMixture(3, random_state=0).fit(X, sample_weight=np.zeros(len(X)))


# ======================================================== dtypes, max_iter=0, errors, output
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float32_in_float32_out(covariance_type):
    X = three_blobs(300).astype(np.float32)
    kw = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    g = GaussianMixture(**kw).fit(X)
    sk = sk_mixture.GaussianMixture(**kw).fit(X)
    for name in PARAMS:
        assert getattr(g, name).dtype == np.float32, name
        assert_allclose(getattr(g, name), getattr(sk, name), rtol=1e-4, atol=1e-6, err_msg=name)
    assert g.score_samples(X).dtype == np.float32
    assert g.predict_proba(X).dtype == np.float32
    assert_allclose(g.score_samples(X), sk.score_samples(X), rtol=1e-5)
    assert_array_equal(g.predict(X), sk.predict(X))


def test_max_iter_zero_returns_the_initialisation():
    X = three_blobs(200)
    means_init = np.array([[20.0, 30.0], [30.0, 25.0], [0.0, 0.0]])
    g = GaussianMixture(3, means_init=means_init, max_iter=0).fit(X)  # no ConvergenceWarning
    assert_array_equal(g.means_, means_init)
    assert g.n_iter_ == 0 and not g.converged_


def test_max_iter_zero_with_several_initialisations_is_sklearns():
    """With max_iter=0 no initialisation has a likelihood, and scikit-learn keeps the last."""
    X = three_blobs(200)
    kw = dict(n_components=3, init_params="random", n_init=3, max_iter=0, random_state=0)
    g = GaussianMixture(**kw).fit(X)
    sk = sk_mixture.GaussianMixture(**kw).fit(X)
    for name in PARAMS:
        assert rel(getattr(g, name), getattr(sk, name)) < 1e-10, name


def test_sklearns_not_fitted_error_catches_it():
    try:
        GaussianMixture(2).predict(np.zeros((3, 1)))
    except sk_exceptions.NotFittedError as err:
        assert "This GaussianMixture instance is not fitted yet" in str(err)
    else:
        pytest.fail("no NotFittedError")
    assert bayesgmm.NotFittedError is sk_exceptions.NotFittedError


def test_warnings_are_sklearns_convergence_warning():
    X = three_blobs(200)
    assert bayesgmm.ConvergenceWarning is sk_exceptions.ConvergenceWarning
    with pytest.warns(
        sk_exceptions.ConvergenceWarning, match="Best performing initialization did not converge"
    ):
        GaussianMixture(3, max_iter=1, random_state=0).fit(X)
    # a filter on scikit-learn's class silences it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sk_exceptions.ConvergenceWarning)
        GaussianMixture(3, max_iter=1, random_state=0).fit(X)


@pytest.mark.parametrize("verbose", [1, 2])
def test_verbose_prints_sklearns_lines_to_stdout(verbose, capsys):
    """Line for line scikit-learn's progress output, on standard output (times masked)."""
    X = three_blobs(300)
    kw = dict(n_components=3, random_state=0, verbose=verbose, verbose_interval=2, n_init=2, tol=1e-4)
    out = {}
    for name, cls in (("sk", sk_mixture.GaussianMixture), ("bg", GaussianMixture)):
        cls(**kw).fit(X)
        captured = capsys.readouterr()
        out[name] = re.sub(r"time lapse [0-9.]+s", "time lapse Ts", captured.out)
        if name == "bg":
            assert captured.err == ""
    assert "Initialization 1" in out["bg"] and "Initialization converged" in out["bg"]
    assert out["bg"].splitlines() == out["sk"].splitlines()


# ======================================================== the stable centred scatter
def naive_scatter(S, d, covariance_type):
    """The textbook one-pass formula S2 - 2 m S1 + N m^2, as the fused pass used it."""
    N, S1, S2 = _kernels.moments(S, d, covariance_type)
    m = S1 / (N + 10 * np.finfo(float).eps)[:, None]
    if covariance_type == "diag":
        return S2 - 2 * m * S1 + N[:, None] * m * m
    return np.einsum(
        "kii->ki", S2 - 2 * np.einsum("ki,kj->kij", S1, m) + N[:, None, None] * np.einsum("ki,kj->kij", m, m)
    )


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_scatter_is_never_negative_on_identical_points(covariance_type):
    """A component on identical points far from the data's mean: the one-pass formula
    cancels catastrophically (it gives negative variances for some of these positions);
    the M-step on the same sums gives variances >= 0, within rounding of the true 0."""
    rng = np.random.default_rng(0)
    negative_before = 0
    for position in rng.uniform(1e3, 1e5, size=40):
        X = np.r_[rng.normal(size=(100, 2)), np.full((37, 2), position)]
        R = np.zeros((len(X), 2))
        R[:100, 0] = 1.0
        R[100:, 1] = 1.0
        shift = X.mean(axis=0)
        S = _kernels.features(X, shift, covariance_type).T @ R
        negative_before += int(np.any(naive_scatter(S, 2, covariance_type)[1] < 0))
        _, _, cov = m_step_from_stats(S, 2, covariance_type, shift, reg_covar=0.0)
        var = cov[1] if covariance_type == "diag" else np.diag(cov[1])
        assert np.all(var >= 0.0), (position, var)
        assert np.all(var <= 1e3 * np.finfo(float).eps * position**2), (position, var)  # rounding only
    assert negative_before > 0  # the case is a real one


def test_sklearns_setting_best_params_case_fits_like_sklearn():
    """scikit-learn's divergent-start case (spherical, reg_covar=0, precisions 1e6): where the
    one-pass formula gave a variance of -7e-18, bayesgmm fits, and as scikit-learn does."""
    rnd = np.random.RandomState(0)
    X = rnd.uniform(size=(30, 3))
    means_init = np.array(
        [
            [0.670637869618158, 0.21038256107384043, 0.12892629765485303],
            [0.09394051075844147, 0.5759464955561779, 0.929296197576212],
            [0.5033230372781258, 0.9569852381759425, 0.08654043447295741],
            [0.18578301420435747, 0.5531158970919143, 0.19388943970532435],
            [0.4548589928173794, 0.35182513658825276, 0.568146063202464],
            [0.609279894978321, 0.7929063819678847, 0.9620097270828052],
        ]
    )
    precisions_init = np.array(
        [
            999999.999604483,
            999999.9990869573,
            553.7603944542167,
            204.78596008931834,
            15.867423501783637,
            85.4595728389735,
        ]
    )
    weights_init = np.array([1, 1, 2, 2, 21, 3]) / 30
    kw = dict(
        n_components=6,
        covariance_type="spherical",
        reg_covar=0,
        means_init=means_init,
        weights_init=weights_init,
        precisions_init=precisions_init,
        max_iter=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sk_exceptions.ConvergenceWarning)
        warnings.simplefilter("ignore", DegenerateFitWarning)
        g = GaussianMixture(random_state=0, **kw).fit(X)
        sk = sk_mixture.GaussianMixture(random_state=0, **kw).fit(X)
    assert not g.converged_
    assert np.all(g.covariances_ > 0)
    for name in ("weights_", "means_"):
        assert rel(getattr(g, name), getattr(sk, name)) < 1e-10, name
    # the two components started at precision 1e6 hold almost nothing: their variances are
    # rounding (~1e-16 on data in [0, 1]), positive in both; the others agree to 1e-6
    assert_allclose(g.covariances_, sk.covariances_, rtol=1e-6, atol=1e-13)
