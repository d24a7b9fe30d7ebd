"""Affine equivariance of the bayesgmm-native entry points that sample or start a sampler.

On ``a X + b`` (``a`` from 1e-8 to 1e8) every EM fit is the fit of X mapped through the
map (relative 1e-6), the log-likelihood shifts by the Jacobian ``-n d log a``, the labels
are the same, and the posterior means are those of X mapped (within 0.1 posterior
standard deviation). ``select`` and the CLI's ``em`` are checked in test_multistart.py and
test_cli.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from bayesgmm import make_mixture
from bayesgmm.em import converged_em

SCALES = (1e-8, 1e-4, 1.0, 1e4, 1e8)
SLOW_SCALES = [pytest.param(a, marks=pytest.mark.slow) for a in SCALES if a != 1e-8]
SHIFT = np.array([3.0, -7.0])


def _data(n=200, seed=1):
    cov = [np.eye(2), [[1.0, 0.3], [0.3, 0.5]]]
    return make_mixture(n, [0.6, 0.4], [[-2.0, 0.0], [2.0, 1.0]], cov, random_state=seed)[0]


def _mapped(a):
    return a * _data() + a * SHIFT, a * SHIFT


def _check_em(fit, ref, a, b, X, Y):
    order, order_a = np.argsort(ref.means_[:, 0]), np.argsort(fit.means_[:, 0])
    assert_allclose(fit.weights_[order_a], ref.weights_[order], rtol=1e-6)
    assert_allclose((fit.means_[order_a] - b) / a, ref.means_[order], rtol=1e-6, atol=1e-6)
    assert_allclose(fit.covariances_[order_a] / a**2, ref.covariances_[order], rtol=1e-6)
    assert_array_equal(np.argsort(order_a)[fit.predict(Y)], np.argsort(order)[ref.predict(X)])
    shift = -X.size * np.log(a)
    assert_allclose(fit.score(Y) * len(Y), ref.score(X) * len(X) + shift, rtol=1e-9, atol=1e-6)


# ----------------------------------------------------------------------------- EM
@pytest.mark.parametrize("a", SCALES)
@pytest.mark.parametrize("ct", ["full", "spherical"])
def test_standardized_converged_em_is_affine_equivariant(a, ct):
    X = _data()
    Y, b = _mapped(a)
    ref = converged_em(X, 2, ct, standardize=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ScaleWarning at any scale
        fit = converged_em(Y, 2, ct, standardize=True)
    assert fit.converged_
    _check_em(fit, ref, a, b, X, Y)


def test_standardized_converged_em_maps_user_starts():
    """Starting parameters are given in X's units: the same start on a X + b is the same fit."""
    X = _data()
    a, b = 1e-8, 1e-8 * SHIFT
    start = converged_em(X, 2, standardize=True)
    init = {"weights_init": start.weights_, "means_init": start.means_ + 0.3}
    ref = converged_em(X, 2, precisions_init=start.precisions_, standardize=True, **init)
    fit = converged_em(
        a * X + b,
        2,
        weights_init=start.weights_,
        means_init=a * init["means_init"] + b,
        precisions_init=start.precisions_ / a**2,
        standardize=True,
    )
    _check_em(fit, ref, a, b, X, a * X + b)
    assert fit.n_iter_ == ref.n_iter_


# ----------------------------------------------------------------------------- Bayesian side
pytest.importorskip("pymc")
pd = pytest.importorskip("pandas")

from bayesgmm.bayes.model import Priors  # noqa: E402


@pytest.mark.parametrize("a", SCALES)
def test_chains_start_at_the_mapped_em_optima(a):
    from bayesgmm.bayes.starts import em_optima

    X = _data()
    Y, b = _mapped(a)
    ref = em_optima(X, 3, "full", n_init=3, random_state=np.random.default_rng(0))
    got = em_optima(Y, 3, "full", n_init=3, random_state=np.random.default_rng(0))
    assert len(got) == len(ref)
    for fit, r in zip(got, ref, strict=True):
        _check_em(fit, r, a, b, X, Y)


@pytest.mark.parametrize("a", SCALES)
def test_default_and_mapped_priors_follow_the_data(a):
    """The default priors of a X + b are those of X mapped; a prior given in X's units,
    mapped to the standardised data, resolves to the same prior."""
    from bayesgmm._scaling import Standardizer
    from bayesgmm.bayes._standardized import priors_forward

    X = _data()
    Y, b = _mapped(a)
    hx, hy = Priors().resolve(X, 2), Priors().resolve(Y, 2)
    assert_allclose(hy["mean_loc"], a * hx["mean_loc"] + b, rtol=1e-9, atol=1e-12 * a)
    for key in ("mean_scale", "sd_scale"):
        assert_allclose(hy[key], a * hx[key], rtol=1e-9)
    given = Priors(alpha=0.5, mean_loc=(1.0, -2.0), mean_scale=3.0, sd_scale=(0.5, 4.0), lkj_eta=3.0)
    std = Standardizer.fit(Y)
    hz = priors_forward(given, std).resolve(std.transform(Y), 2)
    hg = given.resolve(Y, 2)
    assert_allclose(hz["mean_loc"], (hg["mean_loc"] - std.center) / std.scale, rtol=1e-12)
    assert_allclose(hz["mean_scale"], hg["mean_scale"] / std.scale, rtol=1e-12)
    assert_allclose(hz["sd_scale"], hg["sd_scale"] / std.scale, rtol=1e-12)
    assert_allclose(hz["alpha"], hg["alpha"])
    assert hz["lkj_eta"] == hg["lkj_eta"]
    hd = priors_forward(None, std).resolve(std.transform(Y), 2)
    assert_allclose(hd["mean_loc"], 0.0, atol=1e-12)
    assert_allclose(hd["mean_scale"], 2.0, rtol=1e-12)


def _compare(Y, **kwargs):
    from bayesgmm.bayes.compare import compare_models
    from bayesgmm.bayes.elpd import CriterionWarning
    from bayesgmm.exceptions import SamplingWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)  # short chains: flagged, not failed
        warnings.simplefilter("ignore", CriterionWarning)
        return compare_models(
            Y, [2], draws=100, tune=100, chains=1, sampler="pymc", evidence=False, random_state=0,
            em_covariance_types=("diag",), return_models=True, progress=False, **kwargs,
        )  # fmt: skip


@pytest.fixture(scope="module")
def compared():
    X = _data()
    return X, *_compare(X)


@pytest.mark.parametrize("a", [1e-8, *SLOW_SCALES])
def test_compare_models_is_affine_equivariant(compared, a):
    """EM rows: the fits of X mapped, criteria shifted by the Jacobian, the same ranks.
    Posteriors (PyMC's NUTS, sampled on standardised data): the draws of X mapped."""
    X, table, models = compared
    Y, b = _mapped(a)
    table_a, models_a = _compare(Y)
    shift = -X.size * np.log(a)
    assert_allclose(table_a["loglik"], table["loglik"] + shift, rtol=1e-9, atol=1e-6)
    for crit in ("aic", "bic", "icl"):
        assert_allclose(table_a[crit], table[crit] - 2 * shift, rtol=1e-9, atol=1e-6)
    for crit in ("aic", "bic", "icl", "waic", "loo"):
        assert (table_a[f"rank_{crit}"] == table[f"rank_{crit}"]).all(), crit
    assert (table_a["chosen_by"] == table["chosen_by"]).all()
    assert_allclose(table_a["waic"], table["waic"] - 2 * shift, rtol=1e-6)
    for key, (em, bayes) in models.items():
        em_a, bayes_a = models_a[key]
        _check_em(em_a, em, a, b, X, Y)
        if bayes is None:
            continue
        sd = bayes.mixture_draws_.mu.std(axis=(0, 1))
        assert np.all(np.abs((bayes_a.means_ - b) / a - bayes.means_) <= 0.1 * sd), key
        sd_w = bayes.mixture_draws_.w.std(axis=(0, 1))
        assert np.all(np.abs(bayes_a.weights_ - bayes.weights_) <= 0.1 * sd_w + 1e-12), key
        assert_array_equal(bayes_a.predict(Y), bayes.predict(X))


def _fit_default(data):
    from bayesgmm.bayes.sampling import BayesianGaussianMixture
    from bayesgmm.exceptions import SamplingWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        return BayesianGaussianMixture(2, draws=2000, tune=300, chains=2, random_state=0).fit(data)


@pytest.fixture(scope="module")
def default_posterior():
    X = _data(300)
    return X, _fit_default(X)


@pytest.mark.slow
@pytest.mark.parametrize("a", SCALES)
def test_bayesian_mixture_default_sampler_is_affine_equivariant(default_posterior, a):
    """The default sampler (nutpie when installed) on a few hundred points: posterior means
    of a X + b within 0.1 posterior sd of those of X mapped, the same labels. nutpie's
    chains react to rounding-level differences in the data, so the agreement is to Monte
    Carlo error: 2 chains x 2000 draws."""
    X, ref = default_posterior
    Y = a * X + a * SHIFT
    got = _fit_default(Y)
    sd = ref.mixture_draws_.mu.std(axis=(0, 1))
    assert np.all(np.abs((got.means_ - a * SHIFT) / a - ref.means_) <= 0.1 * sd)
    sd_cov = ref.mixture_draws_.cov.std(axis=(0, 1))
    assert np.all(np.abs(got.covariances_ / a**2 - ref.covariances_) <= 0.1 * sd_cov)
    assert_array_equal(got.predict(Y), ref.predict(X))
    _check_em(got.em_, ref.em_, a, a * SHIFT, X, Y)
