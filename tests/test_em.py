"""EM core: the article's numbers, scikit-learn step for step, and the estimator's behaviour.

scikit-learn is a test-only oracle here: every comparison runs it on the same data with the
same arguments (its expensive runs on the 200 000 heights are session fixtures in
``conftest.py``), or from the same initial parameters (passed through ``*_init``).
"""

from __future__ import annotations

import itertools
import warnings
from functools import cache

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from bayesgmm import GaussianMixture, converged_em, e_step, m_step, make_mixture
from bayesgmm._data import as_data
from bayesgmm.covariance import covariances_as_full, n_parameters
from bayesgmm.initialization import kmeans

sk_mixture = pytest.importorskip("sklearn.mixture")
sk_cluster = pytest.importorskip("sklearn.cluster")
sk_exceptions = pytest.importorskip("sklearn.exceptions")
ConvergenceWarning = sk_exceptions.ConvergenceWarning

COV_TYPES = ("full", "tied", "diag", "spherical")
ENGINES = ("textbook", "numpy", "numba")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
PARAMS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_")


# --------------------------------------------------------------------------- helpers
@cache
def blobs(d: int, n: int = 400, seed: int = 0) -> np.ndarray:
    """Three overlapping Gaussian clusters in d dimensions (read-only)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=4.0, size=(3, d))
    covs = []
    for _ in range(3):
        A = rng.normal(size=(d, d))
        covs.append(A @ A.T / d + 0.3 * np.eye(d))
    X, _ = make_mixture(n, [0.5, 0.3, 0.2], means, covs, random_state=seed)
    X.setflags(write=False)
    return X


def quiet_fit(est, X):
    """``est.fit(X)`` with scikit-learn's ConvergenceWarning silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X)


def sk_fit(X, *args, **kwargs):
    """A scikit-learn GaussianMixture fit (the oracle), its ConvergenceWarning silenced."""
    return quiet_fit(sk_mixture.GaussianMixture(*args, **kwargs), X)


def bg_fit(X, *args, **kwargs):
    """A bayesgmm GaussianMixture fit, its ConvergenceWarning silenced."""
    return quiet_fit(GaussianMixture(*args, **kwargs), X)


@cache
def sk_start(d: int, k: int, covariance_type: str, seed: int = 0):
    """Initial (weights, means, precisions) of blobs(d) from scikit-learn's own start."""
    init = sk_fit(
        blobs(d),
        k,
        covariance_type=covariance_type,
        init_params="random_from_data",
        random_state=seed,
        max_iter=1,
    )
    return {"weights_init": init.weights_, "means_init": init.means_, "precisions_init": init.precisions_}


def rel(a, b) -> float:
    """Largest elementwise difference relative to the largest entry of b."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def assert_same_fit(g, sk, rtol=1e-10, first_lb_rtol=None):
    """bayesgmm's fit equals scikit-learn's: parameters, passes, convergence, lower bounds."""
    for name in PARAMS:
        assert rel(getattr(g, name), getattr(sk, name)) < rtol, name
    assert g.n_iter_ == sk.n_iter_
    assert g.converged_ == sk.converged_
    if first_lb_rtol is None:
        assert_allclose(g.lower_bounds_, sk.lower_bounds_, rtol=rtol)
    else:
        assert_allclose(g.lower_bounds_[0], sk.lower_bounds_[0], rtol=first_lb_rtol)
        assert_allclose(g.lower_bounds_[1:], sk.lower_bounds_[1:], rtol=rtol)


def sorted_params(gm):
    """(means, covariances, weights) of a 1-D K=2 fit, ordered by mean."""
    o = np.argsort(gm.means_[:, 0])
    return np.concatenate([gm.means_[o, 0], gm.covariances_[o].ravel(), gm.weights_[o]])


# --------------------------------------------------------------------------- the article
# The article's cells In [14] - In [19], verbatim but for the import of GaussianMixture.
ARTICLE_SCRIPT = """
import numpy as np
np.random.seed(0)
mu_m = 1.71
sigma_m = 0.056
num_m = 100000
rand_data_m = np.random.normal(mu_m, sigma_m, num_m)
y_m = np.ones(num_m)

np.random.seed(0)
nu_w = 1.58
sigma_w = 0.051
num_w = 100000
rand_data_w = np.random.normal(nu_w, sigma_w, num_w)
y_w = np.zeros(num_w)

data = np.append(rand_data_m, rand_data_w)
data = data.reshape(-1, 1)
y = np.append(y_m, y_w)

from bayesgmm import GaussianMixture
g = GaussianMixture(n_components=2, random_state=0,tol=1e-3,max_iter=1000)
g.fit(data)
print(g.means_)
print(g.covariances_)
print(g.weights_)

from sklearn.metrics import accuracy_score
y_hat = g.predict(data)
print(accuracy_score(y, y_hat))
"""

# what the article printed, character for character
ARTICLE_OUTPUT = """[[1.58168229]
 [1.71356861]]
[[[0.00261101]]

 [[0.00287461]]]
[0.51926735 0.48073265]
0.888835
"""


def test_article_script_prints_the_articles_numbers(capsys, sk_heights_article):
    """The article's script with only the import swapped prints the article's output.

    Default arguments, no start passed in: scikit-learn's k-means start and plain EM stop
    after 4 passes, far from convergence, so these digits are a property of that exact
    start and of plain EM's path.
    """
    state = np.random.get_state()
    namespace: dict = {}
    try:
        exec(ARTICLE_SCRIPT, namespace)  # noqa: S102 - the article's own code
    finally:
        np.random.set_state(state)
    assert capsys.readouterr().out == ARTICLE_OUTPUT
    g, sk = namespace["g"], sk_heights_article
    assert g.n_iter_ == sk.n_iter_ == 4
    assert g.converged_
    assert_same_fit(g, sk, rtol=1e-10)
    # scikit-learn itself prints the same digits: the oracle is the article
    assert f"{sk.means_}\n{sk.covariances_}\n{sk.weights_}\n" == ARTICLE_OUTPUT.rsplit("0.888835", 1)[0]


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_defaults_reproduce_sklearn_at_tol_1e8_on_a_subsample(heights, engine):
    """Plain EM from scikit-learn's start at tol 1e-8 stops where scikit-learn stops: the
    same passes (dozens of them), the same parameters, on every 20th height."""
    X = np.ascontiguousarray(heights[0][::20])
    kw = dict(n_components=2, random_state=0, tol=1e-8, max_iter=1000)
    sk = sk_fit(X, **kw)
    g = GaussianMixture(engine=engine, **kw).fit(X)
    assert sk.n_iter_ > 30
    assert_same_fit(g, sk, rtol=1e-9)
    assert_allclose(g.lower_bounds_, sk.lower_bounds_, rtol=1e-12)


@pytest.mark.slow
def test_defaults_reproduce_sklearn_at_tol_1e8(heights, sk_heights_tol_1e8):
    """The same on all 200 000 heights: scikit-learn's tol=1e-8 stop after 124 passes.

    That point (means 1.58065488 / 1.71082349, ...) is well short of the fixed point (see
    the next test): the log-likelihood changes by < 1e-8 per pass long before the
    parameters settle.
    """
    X, _ = heights
    sk = sk_heights_tol_1e8
    g = GaussianMixture(n_components=2, random_state=0, tol=1e-8, max_iter=1000).fit(X)
    assert g.n_iter_ == sk.n_iter_ == 124
    assert_same_fit(g, sk, rtol=1e-9)
    assert_allclose(g.lower_bounds_, sk.lower_bounds_, rtol=1e-12)
    assert [f"{v:.8f}" for v in g.means_.ravel()] == ["1.58065488", "1.71082349"]


# scikit-learn 1.9.1, GaussianMixture(2, random_state=0, tol=1e-14, max_iter=5000) on the
# height data: 632 passes; its parameters are within 1e-7 relative of EM's fixed point.
# Ordered by mean: means, covariances, weights.
SKLEARN_FIXED_POINT = np.array(
    [1.5805001715, 1.7106400802, 0.0026093458, 0.0030860279, 0.5037326934, 0.4962673066]
)


@pytest.mark.parametrize("how", ["accelerate", "converged_em"])
def test_accelerated_em_reaches_sklearns_fixed_point(heights, how):
    """SQUAREM (``accelerate=True``, or the shared ``converged_em`` helper) reaches the fixed
    point that scikit-learn's plain EM reaches only at tol=1e-14, from another start."""
    X, _ = heights
    if how == "accelerate":
        g = GaussianMixture(n_components=2, tol=1e-13, max_iter=1000, random_state=2, accelerate=True).fit(X)
    else:
        g = converged_em(X, 2, random_state=0)
    assert g.converged_
    assert_allclose(sorted_params(g), SKLEARN_FIXED_POINT, rtol=1e-6)
    # and it is a fixed point of scikit-learn's own EM map: one more scikit-learn pass
    # from there moves nothing by more than 1e-9 relative.
    sk = sk_fit(X, 2, max_iter=1, weights_init=g.weights_, means_init=g.means_, precisions_init=g.precisions_)
    assert_allclose(sorted_params(sk), sorted_params(g), rtol=1e-9)


@pytest.mark.slow
def test_accelerated_em_equals_sklearn_run_to_tol_1e14(heights, sk_heights_tol_1e14):
    """The same claim against scikit-learn run to tol=1e-14 (hundreds of passes)."""
    X, _ = heights
    sk = sk_heights_tol_1e14
    assert_allclose(sorted_params(sk), SKLEARN_FIXED_POINT, rtol=1e-8)
    g = converged_em(X, 2, random_state=0)
    assert_allclose(sorted_params(g), sorted_params(sk), rtol=1e-6)
    assert g.n_iter_ < sk.n_iter_ / 5


# --------------------------------------------------------------------------- step for step
N_STEPS = 8


@cache
def sklearn_path(d: int, covariance_type: str):
    """scikit-learn's parameters and lower bound after each of N_STEPS passes (warm start,
    one pass per fit: the same passes as one run, each state kept)."""
    sk = sk_mixture.GaussianMixture(
        3,
        covariance_type=covariance_type,
        warm_start=True,
        max_iter=1,
        tol=0.0,
        **sk_start(d, 3, covariance_type),
    )
    path, bounds = [], []
    for _ in range(N_STEPS):
        quiet_fit(sk, blobs(d))
        path.append({name: getattr(sk, name).copy() for name in PARAMS})
        bounds.append(sk.lower_bound_)
    return path, bounds


@pytest.mark.parametrize("d, covariance_type, engine", list(itertools.product((2, 5), COV_TYPES, ENGINES)))
def test_plain_em_matches_sklearn_step_for_step(d, covariance_type, engine):
    """From identical initial parameters, every pass's lower bound and parameters equal
    scikit-learn's within 1e-10 relative (each pass, and one run of N_STEPS passes)."""
    X = blobs(d)
    path, sk_bounds = sklearn_path(d, covariance_type)
    kw = dict(covariance_type=covariance_type, tol=0.0, engine=engine, **sk_start(d, 3, covariance_type))
    g = GaussianMixture(3, warm_start=True, max_iter=1, **kw)
    for t in range(N_STEPS):
        quiet_fit(g, X)
        assert g.n_iter_ == 1
        for name in PARAMS:
            assert rel(getattr(g, name), path[t][name]) < 1e-10, (t + 1, name)
        assert_allclose(g.lower_bound_, sk_bounds[t], rtol=1e-10)
    run = bg_fit(X, 3, max_iter=N_STEPS, **kw)
    assert run.n_iter_ == N_STEPS
    for name in PARAMS:
        assert rel(getattr(run, name), path[-1][name]) < 1e-10, name
    assert_allclose(run.lower_bounds_, sk_bounds, rtol=1e-10)


@pytest.mark.parametrize(
    "d, covariance_type, engine, accelerate",
    [(d, c, e, False) for d, c, e in itertools.product((2, 5), COV_TYPES, ENGINES)]
    + [(d, c, "auto", True) for d, c in itertools.product((2, 5), COV_TYPES)],
)
def test_log_likelihood_never_decreases(d, covariance_type, engine, accelerate):
    """The EM invariant, with reg_covar=0.

    With reg_covar > 0 the M-step adds reg_covar to each covariance, which is not the
    maximiser of the expected complete log-likelihood, so EM's fixed point is not exactly a
    maximum of the likelihood and the last passes may lower it by a hair (legitimately).
    With reg_covar=0 EM is an ascent method. The only slack allowed is for rounding in the
    mean of n log-densities (a few ulps).
    """
    X = blobs(d)
    g = bg_fit(
        X,
        n_components=3,
        covariance_type=covariance_type,
        reg_covar=0.0,
        tol=1e-10,
        max_iter=150,
        accelerate=accelerate,
        engine=engine,
        random_state=1,
        init_params="random",
    )
    h = np.asarray(g.lower_bounds_)
    assert len(h) > 5
    rounding = 64 * np.finfo(float).eps * np.max(np.abs(h))
    assert np.all(np.diff(h) >= -rounding), np.diff(h).min()


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_squarem_reaches_the_plain_em_fixed_point(covariance_type):
    """SQUAREM converges to a fixed point of plain EM, in fewer passes than plain EM at the
    same tol: one pass of scikit-learn's EM from there moves nothing by more than 1e-7
    relative, and 500 more plain passes (the textbook engine, scikit-learn's map step for
    step, see above) nothing by more than 1e-6."""
    X = blobs(2)
    start = sk_start(2, 3, covariance_type, 3)
    kw = dict(n_components=3, covariance_type=covariance_type, tol=1e-12, max_iter=5000, **start)
    fast = GaussianMixture(accelerate=True, **kw).fit(X)
    plain = GaussianMixture(**kw).fit(X)
    assert fast.converged_ and plain.converged_
    assert fast.n_iter_ < plain.n_iter_
    at_fast = dict(weights_init=fast.weights_, means_init=fast.means_, precisions_init=fast.precisions_)
    one = sk_fit(X, 3, covariance_type=covariance_type, max_iter=1, **at_fast)
    more = bg_fit(X, 3, covariance_type=covariance_type, max_iter=500, tol=0.0, engine="textbook", **at_fast)
    assert more.n_iter_ == 500
    for name in ("weights_", "means_", "covariances_"):
        assert rel(getattr(one, name), getattr(fast, name)) < 1e-7, name
        assert rel(getattr(more, name), getattr(fast, name)) < 1e-6, name


def test_textbook_steps_are_the_articles_formulas():
    """e_step/m_step against scipy densities and the formulas written out."""
    X = blobs(2)
    rng = np.random.default_rng(0)
    w = np.array([0.2, 0.5, 0.3])
    means = X[rng.choice(len(X), 3, replace=False)]
    covs = np.stack([np.eye(2) * s for s in (1.0, 2.0, 0.5)])
    pc = np.linalg.cholesky(np.linalg.inv(covs))
    log_prob, log_resp = e_step(X, w, means, pc, "full")
    dens = np.stack([w[k] * multivariate_normal(means[k], covs[k]).pdf(X) for k in range(3)], axis=1)
    assert_allclose(np.exp(log_prob), dens.sum(axis=1), rtol=1e-12)
    gamma = np.exp(log_resp)
    assert_allclose(gamma, dens / dens.sum(axis=1, keepdims=True), rtol=1e-10, atol=1e-300)
    assert_allclose(gamma.sum(axis=1), 1.0, rtol=1e-14)
    weights, mu, sigma = m_step(X, gamma, "full", reg_covar=0.0)
    nk = gamma.sum(axis=0)
    assert_allclose(weights, nk / len(X), rtol=1e-12)
    for k in range(3):
        mk = (gamma[:, k, None] * X).sum(axis=0) / nk[k]
        diff = X - mk
        assert_allclose(mu[k], mk, rtol=1e-12)
        assert_allclose(
            sigma[k],
            (gamma[:, k, None, None] * np.einsum("ni,nj->nij", diff, diff)).sum(0) / nk[k],
            rtol=1e-10,
        )


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_textbook_m_step_with_row_weights_is_the_m_step_of_repeated_rows(covariance_type):
    """An integer row weight counts the row that many times (a zero weight drops it)."""
    X = blobs(2)
    rng = np.random.default_rng(1)
    gamma = rng.dirichlet(np.ones(3), size=len(X))
    sw = rng.integers(0, 4, size=len(X)).astype(float)
    rep = np.repeat(np.arange(len(X)), sw.astype(int))
    weighted = m_step(X, gamma, covariance_type, 1e-6, sample_weight=sw)
    repeated = m_step(X[rep], gamma[rep], covariance_type, 1e-6)
    for name, a, b in zip(("weights", "means", "covariances"), weighted, repeated, strict=True):
        assert_allclose(a, b, rtol=1e-10, err_msg=name)


# --------------------------------------------------------------------------- criteria
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_bic_aic_equal_sklearn(covariance_type):
    """Same log-likelihood, same parameter count per type."""
    X = blobs(5)
    start = sk_start(5, 3, covariance_type)
    sk = sk_mixture.GaussianMixture(3, covariance_type=covariance_type, tol=1e-6, **start).fit(X)
    g = GaussianMixture(3, covariance_type=covariance_type, tol=1e-6, **start).fit(X)
    assert g._n_parameters() == sk._n_parameters()
    assert n_parameters(3, 5, covariance_type) == sk._n_parameters()
    assert_allclose(g.bic(X), sk.bic(X), rtol=1e-10)
    assert_allclose(g.aic(X), sk.aic(X), rtol=1e-10)
    # ICL = BIC + 2 x the entropy of the responsibilities
    resp = g.predict_proba(X)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.sum(np.where(resp > 0, resp * np.log(resp), 0.0))
    assert_allclose(g.icl(X), g.bic(X) + 2 * entropy, rtol=1e-12)


# --------------------------------------------------------------------------- the estimator
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_score_samples_and_predict_proba_are_the_mixture_density(covariance_type):
    X = blobs(2)
    g = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    full = covariances_as_full(g.covariances_, covariance_type, 3, 2)
    logp = np.stack(
        [np.log(g.weights_[k]) + multivariate_normal(g.means_[k], full[k]).logpdf(X) for k in range(3)],
        axis=1,
    )
    assert_allclose(g.score_samples(X), logsumexp(logp, axis=1), rtol=1e-12)
    assert_allclose(g.score(X), np.mean(logsumexp(logp, axis=1)), rtol=1e-12)
    proba = g.predict_proba(X)
    assert_allclose(proba, np.exp(logp - logsumexp(logp, axis=1, keepdims=True)), rtol=1e-9, atol=1e-300)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-14)
    assert_array_equal(g.predict(X), np.argmax(proba, axis=1))


@pytest.mark.parametrize("accelerate", [False, True])
def test_fit_predict_equals_fit_then_predict(accelerate):
    X = blobs(2)
    kw = dict(n_components=3, random_state=7, max_iter=4, tol=0.0, accelerate=accelerate)
    with pytest.warns(ConvergenceWarning):
        labels = GaussianMixture(**kw).fit_predict(X)
    with pytest.warns(ConvergenceWarning):
        g = GaussianMixture(**kw).fit(X)
    assert_array_equal(labels, g.predict(X))


def test_sample_shapes_labels_and_moments():
    X = blobs(2)
    g = GaussianMixture(3, random_state=0).fit(X)
    Xs, ys = g.sample(30000, random_state=1)
    assert Xs.shape == (30000, 2) and ys.shape == (30000,)
    assert_array_equal(np.unique(ys), [0, 1, 2])
    assert np.all(np.diff(ys) >= 0)  # grouped by component, like scikit-learn
    for k in range(3):
        pts = Xs[ys == k]
        se = np.sqrt(np.diag(g.covariances_[k]) / len(pts))
        assert np.all(np.abs(pts.mean(axis=0) - g.means_[k]) < 5 * se)
        assert abs(len(pts) / 30000 - g.weights_[k]) < 5 * np.sqrt(g.weights_[k] / 30000)
    X1, y1 = g.sample(50, random_state=3)
    X2, y2 = g.sample(50, random_state=3)
    assert_array_equal(X1, X2)
    assert_array_equal(y1, y2)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_sample_every_covariance_type(covariance_type):
    """Draws of every covariance type have each component's mean and covariance."""
    X = blobs(2)
    g = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    n = 20000
    Xs, ys = g.sample(n, random_state=0)
    assert Xs.shape == (n, 2) and ys.shape == (n,)
    full = covariances_as_full(g.covariances_, covariance_type, 2, 2)
    for k in range(2):
        pts = Xs[ys == k]
        se = np.sqrt(np.diag(full[k]) / len(pts))
        assert np.all(np.abs(pts.mean(axis=0) - g.means_[k]) < 5 * se)
        # sample covariance within 5 standard errors (Gaussian: var of S_ij is (S_ii S_jj + S_ij^2) / n)
        se_cov = np.sqrt((np.outer(np.diag(full[k]), np.diag(full[k])) + full[k] ** 2) / len(pts))
        assert np.all(np.abs(np.cov(pts.T) - full[k]) < 5 * se_cov)


def test_one_dimensional_X_is_refused_like_sklearn():
    """scikit-learn wants 2-D input (one feature: ``x.reshape(-1, 1)``); so does bayesgmm."""
    x = blobs(2)[:50, 0]
    with pytest.raises(ValueError) as sk_err:
        sk_mixture.GaussianMixture(2).fit(x)
    with pytest.raises(ValueError) as bg_err:
        GaussianMixture(2).fit(x)
    assert str(bg_err.value) == str(sk_err.value)
    assert "Expected 2D array, got 1D array instead" in str(bg_err.value)


def test_warm_start_continues_like_sklearn():
    """Warm start: one initialisation, continued from the previous fit; the first change is
    measured from the previous ``lower_bound_``, as scikit-learn does."""
    X = blobs(2)
    start = sk_start(2, 3, "full")
    sk = sk_mixture.GaussianMixture(3, warm_start=True, max_iter=3, tol=1e-6, **start)
    g = GaussianMixture(3, warm_start=True, max_iter=3, tol=1e-6, **start)
    for _ in range(30):
        quiet_fit(sk, X)
        quiet_fit(g, X)
        assert_same_fit(g, sk)
        if sk.converged_:
            break
    assert g.converged_


def test_warm_start_false_restarts():
    X = blobs(2)
    g = GaussianMixture(3, random_state=0, tol=1e-6)
    a = g.fit(X).means_.copy()
    b = g.fit(X).means_
    assert_array_equal(a, b)


def test_n_init_keeps_the_best_initialisation():
    """n_init random starts drawn from one RandomState, the best kept: scikit-learn's fit
    (10 passes each: different lower bounds, so the same one is kept)."""
    X = blobs(2)
    kw = dict(n_components=3, init_params="random", random_state=5, max_iter=10)
    single = bg_fit(X, n_init=1, **kw)
    best = bg_fit(X, n_init=3, **kw)
    assert best.lower_bound_ >= single.lower_bound_
    assert_same_fit(best, sk_fit(X, n_init=3, **kw))


def test_convergence_warning_when_max_iter_is_too_small():
    X = blobs(2)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        g = GaussianMixture(3, max_iter=2, tol=0.0, random_state=0).fit(X)
    assert not g.converged_
    assert g.n_iter_ == 2


def test_no_warning_when_converged():
    X = blobs(2)
    g = GaussianMixture(3, random_state=0).fit(X)  # filterwarnings=error would raise
    assert g.converged_


@pytest.mark.parametrize(
    "init_params, covariance_type",
    [("kmeans", ct) for ct in COV_TYPES]
    + [("k-means++", "full"), ("k-means++", "tied"), ("random", "full"), ("random_from_data", "tied")],
)
def test_defaults_give_sklearns_fit(init_params, covariance_type):
    """Same arguments, same data: scikit-learn's start, passes and fit (1e-10 relative).

    One exception, at the level of rounding: after a start on single points (k-means++,
    random_from_data) every covariance is reg_covar plus scikit-learn's rounding residue
    (of order 10 eps x^2, from its N_k + 10 eps), so the first lower bound, a sum of terms
    of order 1e6, agrees to 1e-6 relative only; every later one, and the fit, to 1e-10.
    """
    X = blobs(2)
    kw = dict(n_components=3, covariance_type=covariance_type, init_params=init_params, random_state=11)
    assert_same_fit(bg_fit(X, **kw), sk_fit(X, **kw), first_lb_rtol=1e-6)


@pytest.mark.parametrize("init_params", ["kmeans", "random_from_data"])
def test_random_state_forms(init_params):
    """An int seed, a RandomState, a Generator, and None (the global RandomState, as in
    scikit-learn): each reproducible, the int and the RandomState scikit-learn's draws."""
    X = blobs(2)
    kw = dict(n_components=3, init_params=init_params, max_iter=2)
    a = bg_fit(X, random_state=11, **kw)
    b = bg_fit(X, random_state=np.random.RandomState(11), **kw)
    sk = sk_fit(X, random_state=11, **kw)
    c1 = bg_fit(X, random_state=np.random.default_rng(11), **kw)
    c2 = bg_fit(X, random_state=np.random.default_rng(11), **kw)
    state = np.random.get_state()
    try:
        np.random.seed(11)
        d = bg_fit(X, random_state=None, **kw)
    finally:
        np.random.set_state(state)
    for name in PARAMS:
        assert rel(getattr(a, name), getattr(sk, name)) < 1e-10, name
        assert_array_equal(getattr(a, name), getattr(b, name))
        assert_array_equal(getattr(a, name), getattr(d, name))
        assert_array_equal(getattr(c1, name), getattr(c2, name))


@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_every_init_params_finds_well_separated_clusters(init_params):
    """Run to convergence (SQUAREM, tight tol), every start finds three separated clusters.

    (At the defaults, tol=1e-3 stops the "random" start, whose soft labels put every mean
    near the centre, before the means separate -- in scikit-learn too.)"""
    rng = np.random.default_rng(0)
    true = np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, 0.0]])
    X, _ = make_mixture(600, [1 / 3] * 3, true, [np.eye(2)] * 3, random_state=rng)
    g = GaussianMixture(3, init_params=init_params, random_state=0, n_init=3, tol=1e-8, accelerate=True).fit(
        X
    )
    found = g.means_[np.argsort(g.means_[:, 0] + 0.01 * g.means_[:, 1])]
    assert_allclose(found, true, atol=0.3)


@pytest.mark.parametrize("init_params", INIT_PARAMS)
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_max_iter_zero_is_sklearns_start(init_params, covariance_type):
    """The starting points themselves (``max_iter=0``): scikit-learn's, to 1e-10."""
    X = blobs(2)
    kw = dict(n_components=3, covariance_type=covariance_type, init_params=init_params, max_iter=0)
    g = GaussianMixture(random_state=4, **kw).fit(X)
    sk = sk_mixture.GaussianMixture(random_state=4, **kw).fit(X)
    for name in PARAMS:
        assert rel(getattr(g, name), getattr(sk, name)) < 1e-10, name
    assert g.n_iter_ == 0


def test_kmeans_start_is_one_m_step_on_sklearns_kmeans_labels():
    """The kmeans scheme: weights, means and covariances (+ reg_covar) of the labels of
    scikit-learn's ``KMeans(n_clusters, n_init=1, random_state)``."""
    X = blobs(2)
    g = GaussianMixture(3, reg_covar=1e-3, random_state=4, max_iter=0).fit(X)
    labels = sk_cluster.KMeans(3, n_init=1, random_state=np.random.RandomState(4)).fit(X).labels_
    for k in range(3):
        pts = X[labels == k]
        assert_allclose(g.weights_[k], len(pts) / len(X), rtol=1e-12)
        assert_allclose(g.means_[k], pts.mean(axis=0), rtol=1e-10)
        assert_allclose(g.covariances_[k], np.cov(pts.T, bias=True) + 1e-3 * np.eye(2), rtol=1e-10)


def test_out_of_core_kmeans_finds_sklearns_centres():
    """The Dask path's own k-means (k-means++ seeding, Lloyd passes over blocks) converges
    to scikit-learn's best-of-3 k-means centres."""
    X = blobs(2)
    centres = kmeans(as_data(X, "numpy"), 3, np.random.default_rng(0))
    km = sk_cluster.KMeans(3, n_init=3, random_state=0).fit(X)
    order = np.argsort(centres[:, 0])
    assert_allclose(centres[order], km.cluster_centers_[np.argsort(km.cluster_centers_[:, 0])], rtol=1e-6)


def test_lower_bounds_history():
    X = blobs(2)
    g = GaussianMixture(3, random_state=0, tol=1e-6).fit(X)
    assert len(g.lower_bounds_) == g.n_iter_
    assert g.lower_bound_ == g.lower_bounds_[-1]
    assert abs(g.lower_bounds_[-1] - g.lower_bounds_[-2]) < 1e-6
    h = GaussianMixture(3, random_state=0, tol=1e-6, accelerate=True).fit(X)
    assert g.lower_bound_ == pytest.approx(h.lower_bound_, rel=1e-5)
    assert h.lower_bound_ == h.lower_bounds_[-1]
    assert len(h.lower_bounds_) <= h.n_iter_


def test_params_object_and_get_set_params():
    X = blobs(2)
    g = GaussianMixture(3, random_state=0).fit(X)
    p = g.params_
    assert_array_equal(p.means, g.means_)
    assert p.covariance_type == "full"
    assert g.get_params()["n_components"] == 3
    assert g.get_params()["accelerate"] is False  # plain EM unless asked
    g.set_params(n_components=2)
    assert g.n_components == 2
    with pytest.raises(ValueError, match="Invalid parameter 'n_component'"):
        g.set_params(n_component=2)


def test_predict_wrong_number_of_features():
    g = GaussianMixture(2, random_state=0).fit(blobs(2))
    sk = sk_mixture.GaussianMixture(2, random_state=0).fit(blobs(2))
    with pytest.raises(ValueError) as sk_err:
        sk.predict(blobs(5))
    with pytest.raises(ValueError, match="X has 5 features, but GaussianMixture is expecting 2") as bg_err:
        g.predict(blobs(5))
    assert str(bg_err.value) == str(sk_err.value)


def test_collapsed_component_without_reg_covar_fails_as_sklearn_does():
    """A component on a single point with reg_covar=0: not a LinAlgError, scikit-learn's
    error and advice."""
    X = np.r_[np.zeros((20, 2)), np.ones((30, 2)), [[5.0, 5.0]]]
    with pytest.raises(ValueError) as sk_err:
        sk_mixture.GaussianMixture(3, reg_covar=0.0, random_state=0).fit(X)
    with pytest.raises(ValueError, match="increase reg_covar, or scale the input data") as bg_err:
        GaussianMixture(3, reg_covar=0.0, random_state=0).fit(X)
    assert str(bg_err.value) == str(sk_err.value)


def test_memmap_input(tmp_path):
    """A memory-mapped .npy (np.load(mmap_mode='r')) fits like the array it holds."""
    X = np.ascontiguousarray(blobs(2))
    path = tmp_path / "X.npy"
    np.save(path, X)
    Xm = np.load(path, mmap_mode="r")
    a = GaussianMixture(3, random_state=0).fit(X)
    b = GaussianMixture(3, random_state=0).fit(Xm)
    for name in PARAMS:
        assert_array_equal(getattr(a, name), getattr(b, name))
    assert_array_equal(a.predict(X), b.predict(Xm))
