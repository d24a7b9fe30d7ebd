"""bayesgmm.bayes.starts (distinct EM optima) and bayesgmm.bayes.occupancy (occupied components)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

pytest.importorskip("pymc")

from bayesgmm import load_heights, make_mixture  # noqa: E402
from bayesgmm.bayes.draws import MixtureDraws  # noqa: E402
from bayesgmm.bayes.occupancy import (  # noqa: E402
    OccupiedComponents,
    fit_occupied_components,
    occupied_components,
)
from bayesgmm.bayes.starts import LOGLIK_WINDOW, START_MAX_ITER, _run_on, em_optima  # noqa: E402
from bayesgmm.em import converged_em  # noqa: E402
from bayesgmm.exceptions import DegenerateFitWarning, SamplingWarning  # noqa: E402


def heights(n=2000, seed=0):
    X, _ = load_heights()
    return X[np.random.default_rng(seed).choice(X.shape[0], n, replace=False)]


# ----------------------------------------------------------------------------- EM optima
def _assert_distinct_and_ranked(optima, X):
    ll = [float(np.sum(f.score_samples(X))) for f in optima]
    assert ll == sorted(ll, reverse=True)  # best first
    assert ll[0] - ll[-1] <= LOGLIK_WINDOW
    for a in range(len(optima)):  # distinct: their sorted means differ
        for b in range(a):
            ma, mb = optima[a].params_.sorted(0).means, optima[b].params_.sorted(0).means
            assert np.max(np.abs(ma - mb)) > 1e-3 * X.std()


def test_two_equal_optima_of_a_symmetric_problem():
    """Three equal, equally spaced groups fitted with K = 2: merging the left pair or the
    right pair are optima of the same log-likelihood (mirror images); K = 3 has one."""
    X, _ = make_mixture(300, [1 / 3] * 3, [[-6.0], [0.0], [6.0]], [[[1.0]]] * 3, random_state=0)
    X = np.concatenate([X, -X])  # exactly symmetric
    two = em_optima(X, 2, n_init=6, random_state=np.random.default_rng(0))
    assert len(two) == 2
    _assert_distinct_and_ranked(two, X)
    ll = [float(np.sum(f.score_samples(X))) for f in two]
    assert_allclose(ll[0], ll[1], rtol=1e-9)
    assert_allclose(np.sort(two[0].means_[:, 0]), -np.sort(two[1].means_[:, 0])[::-1], atol=1e-6)
    three = em_optima(X, 3, n_init=3, random_state=np.random.default_rng(0))
    assert len(three) == 1
    assert_allclose(np.sort(three[0].means_[:, 0]), [-6.0, 0.0, 6.0], atol=0.2)


@pytest.mark.slow
def test_one_optimum_at_the_true_k_several_above_it():
    X = heights()
    two = em_optima(X, 2, n_init=3, random_state=np.random.default_rng(0))
    assert len(two) == 1  # every start reaches the same fixed point
    ref = converged_em(X, 2, random_state=0, standardize=True)  # as em_optima runs it
    assert_allclose(np.sort(two[0].means_[:, 0]), np.sort(ref.means_[:, 0]), rtol=1e-6)
    three = em_optima(X, 3, n_init=6, random_state=np.random.default_rng(0))
    assert len(three) >= 2
    _assert_distinct_and_ranked(three, X)


def test_a_given_solution_is_kept_first():
    X, _ = make_mixture(300, [1 / 3] * 3, [[-6.0], [0.0], [6.0]], [[[1.0]]] * 3, random_state=0)
    given = converged_em(X, 2, init_params="random_from_data", random_state=5)
    optima = em_optima(X, 2, n_init=2, random_state=np.random.default_rng(1), given=given)
    assert optima[0] is given


def _prior_draw(seed, n=100):
    """``n`` points of a 1-D two-component mixture whose weights (Dirichlet(1, 1)), means
    (N(0, 2^2), ordered) and standard deviations (HalfNormal(1)) are drawn first: one
    replication of the simulation-based calibration (``benchmarks/sbc.py``)."""
    rng = np.random.default_rng(seed)
    w, mu, sd = rng.dirichlet([1.0, 1.0]), rng.normal(0.0, 2.0, 2), np.abs(rng.normal(0.0, 1.0, 2))
    order = np.argsort(mu)
    w, mu, sd = w[order], mu[order], sd[order]
    z = rng.random(n) < w[1]
    return np.where(z, rng.normal(mu[1], sd[1], n), rng.normal(mu[0], sd[0], n))[:, None]


def _sklearn_from(X, fit, reg_covar):
    """scikit-learn's (plain) EM from ``fit``'s parameters to its fixed point: the oracle."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    return SkGaussianMixture(
        fit.n_components,
        weights_init=fit.weights_,
        means_init=fit.means_,
        precisions_init=fit.precisions_,
        reg_covar=reg_covar,
        tol=1e-12,
        max_iter=20000,
    ).fit(X)


def _loglik(fit, X):
    return float(np.sum(fit.score_samples(X)))


def test_a_collapsed_optimum_is_never_the_reference_when_a_regular_one_exists():
    """On this sample the best short start, run on to its fixed point with acceleration,
    collapses a component onto the lone point at -9.1: a higher log-likelihood (from the
    spike at reg_covar), but not a fit. Run on with plain EM it reaches a fixed point
    without a collapsed component (scikit-learn's EM from the same start agrees): that is
    the reference, no collapsed fit is kept, and the single starts' warnings do not
    escape (errors here)."""
    X = _prior_draw(155)
    floor = 1e-6 * X.var()  # reg_covar of the standardised fits, in X's units
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optima = em_optima(X, 2, n_init=3, random_state=np.random.default_rng(0))
    ref = optima[0]
    assert ref.converged_
    for f in optima:
        assert f.covariances_.min() > 1e3 * floor
    # the reference is a fixed point: scikit-learn started there stays there
    sk = _sklearn_from(X, ref, floor)
    assert_allclose(sk.means_, ref.means_, atol=1e-4 * X.std())
    assert_allclose(_loglik(sk, X), _loglik(ref, X), rtol=1e-8)
    # the collapsed optimum passed over: the accelerated continuation of the best start
    # (with a fit given, em_optima keeps the short starts after it as they stopped)
    starts = em_optima(X, 2, n_init=3, random_state=np.random.default_rng(0), given=ref)[1:]
    assert not starts[0].converged_ and _loglik(starts[0], X) < _loglik(ref, X)
    with pytest.warns(DegenerateFitWarning, match="holds 1 samples"):
        collapsed = _run_on(X, starts[0], "full", 0)
    assert collapsed.covariances_.min() < 10 * floor
    assert np.min(np.abs(collapsed.means_[:, 0] - X.min())) < 1e-3 * X.std()
    assert _loglik(collapsed, X) > _loglik(ref, X) + LOGLIK_WINDOW


def test_every_start_collapsing_when_run_on_says_so_and_keeps_the_starts():
    """The SBC replication whose EM start collapsed: run on to its fixed point, every start
    on this sample (K = 2) collapses a component onto its largest point, with or without
    acceleration (scikit-learn's EM too). The chains start from the short starts, which
    have not collapsed, and a DegenerateFitWarning says why the reference is not at a
    fixed point."""
    seed = 535214420
    X = _prior_draw(seed)
    floor = 1e-6 * X.var()
    with pytest.warns(DegenerateFitWarning, match="every start"):
        optima = em_optima(X, 2, n_init=3, random_state=np.random.default_rng(seed))
    assert len(optima) == 3
    for f in optima:
        assert not f.converged_ and f.n_iter_ == START_MAX_ITER
        assert f.covariances_.min() > 1e3 * floor
    sk = _sklearn_from(X, optima[0], floor)  # the oracle's continuation of the reference
    assert sk.covariances_.min() < 10 * floor
    assert_allclose(sk.means_.max(), X.max(), rtol=1e-6)


def test_every_start_collapsed_warns_and_keeps_the_collapsed_fit():
    """Four distinct values, five copies each, fitted with K = 4: every fit puts a
    component on each value. That fit is returned (there is no other), with a warning."""
    X = np.repeat([0.0, 1.0, 3.0, 7.0], 5)[:, None]
    with pytest.warns(DegenerateFitWarning, match="Every EM start"):
        optima = em_optima(X, 4, n_init=3, random_state=np.random.default_rng(0))
    assert len(optima) == 1
    assert_allclose(np.sort(optima[0].means_[:, 0]), [0.0, 1.0, 3.0, 7.0], atol=1e-9)
    assert_allclose(optima[0].weights_, 0.25, atol=1e-9)


# ----------------------------------------------------------------------------- occupancy
class _Fitted:
    """The attributes occupied_components reads, from hand-made draws."""

    def __init__(self, w, mu, sd):
        w, mu, sd = (np.asarray(a, dtype=float) for a in (w, mu, sd))
        self.n_components = w.shape[-1]
        self.n_features_in_ = 1
        cov = (sd**2)[..., None]
        self.mixture_draws_ = MixtureDraws(w, mu, sd, cov, "diag", np.zeros(1))
        self.diagnostics_ = {"invariant_ok": True}


def test_occupied_count_of_two_identical_halves_is_binomial():
    """Two identical components with weights 1/2: every observation goes to either with
    probability 1/2, so with n observations P(both occupied) = 1 - 2^(1 - n)."""
    S, n = 2000, 3
    w = np.full((1, S, 2), 0.5)
    mu = np.zeros((1, S, 2, 1))
    sd = np.ones((1, S, 2, 1))
    occ = occupied_components(_Fitted(w, mu, sd), np.zeros((n, 1)), random_state=0)
    p2 = 1 - 2.0 ** (1 - n)
    assert occ.probabilities.shape == (2,)
    assert_allclose(occ.probability(2), p2, atol=4 * np.sqrt(p2 * (1 - p2) / S))
    assert_allclose(occ.probabilities.sum(), 1.0)
    assert occ.probability(3) == 0.0 and occ.mode == 2


def test_empty_components_are_not_counted():
    X, _ = make_mixture(200, [0.5, 0.5], [[-5.0], [5.0]], [[[1.0]], [[1.0]]], random_state=0)
    w = np.array([[[0.5, 1e-12, 0.5, 1e-12]]])
    mu = np.array([[[[-5.0], [0.0], [5.0], [9.0]]]])
    sd = np.ones((1, 1, 4, 1))
    occ = occupied_components(_Fitted(w, mu, sd), X, random_state=0)
    assert occ.as_dict() == {1: 0.0, 2: 1.0, 3: 0.0, 4: 0.0}
    with pytest.raises(ValueError, match="2 features"):
        occupied_components(_Fitted(w, mu, sd), np.zeros((5, 2)))


@pytest.mark.slow
def test_sparse_fit_small():
    """Two well-separated groups of 300 points, K_max = 4, sparse Dirichlet, sampled by NUTS:
    the posterior of the number of occupied components sits on 2."""
    X, _ = make_mixture(300, [0.5, 0.5], [[-3.0], [3.0]], [[[1.0]], [[1.0]]], random_state=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)  # short chains: the count is what is tested
        bayes, occ = fit_occupied_components(X, 4, method="nuts", draws=300, tune=300, random_state=0)
    assert isinstance(occ, OccupiedComponents) and occ.k_max == 4
    assert occ.counts.shape == (2, 300)
    assert occ.probability(2) >= 0.9
    assert bayes.priors.alpha == 0.01


@pytest.mark.slow
def test_occupied_components_of_three_2d_groups():
    """K_max = 6, sparse Dirichlet (alpha = 0.01), the Gibbs sampler's defaults (4 chains x
    (2000 + 4000) sweeps): at least 90% of the posterior on the three 2-D groups, with the
    count's label-invariant diagnostics passing."""
    X, _ = make_mixture(
        900, [1 / 3] * 3, [[-4, 0], [0, 4], [4, 0]], [np.eye(2), np.eye(2), np.eye(2)], random_state=0
    )
    draws, occ = fit_occupied_components(X, 6, random_state=0)
    assert occ.method == "gibbs" and occ.counts.shape == (4, 4000)
    assert occ.probability(3) >= 0.9, occ.as_dict()
    assert occ.diagnostics_ok, occ.diagnostics


@pytest.mark.slow
def test_occupied_components_of_two_1d_groups():
    """2 000 points from two 1-D groups four standard deviations apart (overlapping tails),
    K_max = 6, alpha = 0.01, the defaults of :func:`fit_occupied_components` (the means'
    prior as wide as the range, the split move, every chain from K_max clusters): the
    most probable count is 2 and holds at least 90% of the posterior.

    The count's own diagnostics are not asserted here: on this set a chain can spend a
    stretch of sweeps with a third component on a few tail observations, and with some
    seeds (this one among them) the count's R-hat then exceeds 1.01 -- which
    ``diagnostics_ok`` reports. With the fixed model's narrower prior on the means (twice
    the standard deviation) the posterior itself keeps more on 3: a few tail observations
    then buy a component of their own cheaply."""
    X, _ = make_mixture(2000, [0.4, 0.6], [[-2.0], [2.0]], [[[1.0]], [[0.8]]], random_state=11)
    draws, occ = fit_occupied_components(X, 6, random_state=0)
    assert occ.mode == 2 and occ.probability(2) >= 0.9, occ.as_dict()
    assert occ.probability(1) == 0.0


@pytest.mark.slow
def test_occupied_components_of_two_well_separated_1d_groups():
    """2 000 points from two 1-D groups six standard deviations apart (means -3 and 3,
    unit variances, equal weights), K_max = 6, alpha = 0.01, the Gibbs sampler's defaults:
    at least 90% of the posterior on 2 occupied components, with the count's and the
    log-likelihood's diagnostics passing. With four standard deviations between the groups
    (the test above) the tails overlap and the posterior keeps more on 3."""
    X, _ = make_mixture(2000, [0.5, 0.5], [[-3.0], [3.0]], [[[1.0]], [[1.0]]], random_state=2)
    draws, occ = fit_occupied_components(X, 6, random_state=0)
    assert occ.probability(2) >= 0.9, occ.as_dict()
    assert occ.diagnostics_ok, occ.diagnostics
