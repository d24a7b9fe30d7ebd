"""bayesgmm.bayes.compare: waic (own implementation) and loo (through ArviZ's PSIS).

WAIC is compared with ``arviz.waic`` where the installed ArviZ has one (0.23; ArviZ 1.x has
none, and those comparisons are skipped there); LOO with the installed ArviZ's ``loo``
(0.23: on every scale; 1.x reports the log scale only, the others are fixed multiples)."""

from __future__ import annotations

import dataclasses
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

az = pytest.importorskip("arviz")

from bayesgmm.bayes import _arviz  # noqa: E402
from bayesgmm.bayes.compare import (  # noqa: E402
    CriterionWarning,
    ELPDEstimate,
    loo,
    pointwise_log_likelihood,
    waic,
)
from bayesgmm.exceptions import NotFittedError  # noqa: E402

SCALES = ("deviance", "log", "negative_log")
FACTOR = {"deviance": -2.0, "log": 1.0, "negative_log": -1.0}
ARVIZ_1 = _arviz.current_line()
needs_arviz_waic = pytest.mark.skipif(
    ARVIZ_1, reason="ArviZ 1.x has no waic: bayesgmm's is compared with ArviZ 0.23's on Python < 3.12"
)


def _synthetic(rng, chains, draws, obs_shape, spread):
    """A posterior-like log-likelihood: per-observation location plus draw-to-draw noise."""
    loc = rng.normal(-1.5, 0.7, size=obs_shape)
    noise = spread * rng.standard_normal((chains, draws, *obs_shape))
    return loc - 0.5 * noise**2 + noise


def _posteriors():
    rng = np.random.default_rng(20240607)
    named = {
        "centered_eight": az.load_arviz_data("centered_eight"),
        "non_centered_eight": az.load_arviz_data("non_centered_eight"),
    }
    # synthetic: several chains, an observation grid of two dims, a wide one that trips the
    # variance warning, and one chain
    specs = {
        "synthetic_4x250x40": (4, 250, (40,), 0.3),
        "synthetic_2x300x(6,5)": (2, 300, (6, 5), 0.4),
        "synthetic_wide": (3, 200, (25,), 1.2),
        "synthetic_1_chain": (1, 500, (60,), 0.2),
    }
    for name, (c, d, shape, spread) in specs.items():
        ll = _synthetic(rng, c, d, shape, spread)
        dims = {"y": [f"obs_dim_{i}" for i in range(len(shape))]}
        named[name] = _arviz.from_dict(
            {"posterior": {"theta": rng.standard_normal((c, d))}, "log_likelihood": {"y": ll}}, dims=dims
        )
    return named


POSTERIORS = _posteriors()


def _az_waic(idata, scale):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ArviZ's own variance warning
        return az.waic(idata, scale=scale, pointwise=True)


# ----------------------------------------------------------------------------- WAIC vs ArviZ
@needs_arviz_waic
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", list(POSTERIORS))
def test_waic_equals_arviz(name, scale):
    idata = POSTERIORS[name]
    ref = _az_waic(idata, scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriterionWarning)
        res = waic(idata, scale=scale)
    assert_allclose(res.value, ref["elpd_waic"], rtol=0, atol=1e-10)
    assert_allclose(res.p, ref["p_waic"], rtol=0, atol=1e-10)
    assert_allclose(res.se, ref["se"], rtol=0, atol=1e-10)
    assert_allclose(res.pointwise, np.ravel(ref["waic_i"].values), rtol=0, atol=1e-10)
    assert res.n_samples == ref["n_samples"] and res.n_obs == ref["n_data_points"]
    assert res.warning == bool(ref["warning"])
    assert res.scale == scale and res.method == "waic"
    # the log-scale elpd and the deviance are the same number on other scales
    assert_allclose(res.elpd * FACTOR[scale], res.value, rtol=1e-12)
    assert_allclose(res.deviance, -2.0 * res.elpd, rtol=1e-12)
    assert_allclose(res.deviance_se, 2.0 * res.elpd_se, rtol=1e-12)


@needs_arviz_waic
def test_the_suite_covers_both_warning_states():
    flags = set()
    for idata in POSTERIORS.values():
        flags.add(bool(_az_waic(idata, "log")["warning"]))
    assert flags == {True, False}


def test_waic_from_first_principles(rng):
    ll = _synthetic(rng, 2, 400, (30,), 0.3)
    flat = ll.reshape(800, 30)
    lppd = np.log(np.mean(np.exp(flat), axis=0))
    var = np.mean((flat - flat.mean(axis=0)) ** 2, axis=0)  # ddof=0
    res = waic(ll, scale="log")
    assert_allclose(res.p, var.sum(), rtol=1e-12)
    assert_allclose(res.elpd, np.sum(lppd - var), rtol=1e-12)
    assert_allclose(res.se, np.sqrt(30 * np.var(lppd - var)), rtol=1e-10)
    assert_allclose(res.pointwise.sum(), res.value, rtol=1e-12)


def test_waic_does_not_call_arviz_waic(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("arviz.waic must not be called")

    monkeypatch.setattr(az, "waic", boom, raising=False)
    res = waic(POSTERIORS["centered_eight"])
    assert np.isfinite(res.value)


def test_waic_works_without_arviz(monkeypatch, rng):
    """ArviZ >= 1 has no waic; ours needs no ArviZ at all for an array."""
    ll = _synthetic(rng, 2, 100, (10,), 0.2)
    monkeypatch.setitem(sys.modules, "arviz", None)  # any `import arviz` now fails
    res = waic(ll)
    assert res.n_samples == 200 and res.n_obs == 10


def test_waic_accepts_array_dataset_dataarray_and_a_fitted_model():
    idata = POSTERIORS["synthetic_4x250x40"]
    ref = waic(idata)
    group = _arviz.group(idata, "log_likelihood")
    da = group["y"]
    for data in (group, da, da.values):
        assert_allclose(waic(data).value, ref.value, rtol=1e-14)

    class Fitted:  # anything with idata_ is taken as a fitted model
        idata_ = idata

    assert_allclose(waic(Fitted()).value, ref.value, rtol=1e-14)
    assert pointwise_log_likelihood(idata).shape == (1000, 40)


def test_waic_warning_is_a_criterion_warning_with_stacklevel():
    idata = POSTERIORS["synthetic_wide"]
    with pytest.warns(CriterionWarning, match=r"posterior variance of the log-likelihood exceeds 0.4") as rec:
        res = waic(idata)
    assert res.warning
    assert issubclass(CriterionWarning, UserWarning)
    assert rec[0].filename == __file__


def test_waic_without_pointwise():
    res = waic(POSTERIORS["centered_eight"], pointwise=False)
    assert res.pointwise is None and np.isfinite(res.se)


def test_result_is_frozen_and_read_only():
    res = waic(POSTERIORS["centered_eight"])
    assert isinstance(res, ELPDEstimate)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.elpd = 0.0
    with pytest.raises(ValueError, match="read-only"):
        res.pointwise[0] = 0.0
    assert "pointwise" not in repr(res)


# ----------------------------------------------------------------------------- bad input
def test_bad_scale():
    with pytest.raises(
        ValueError,
        match=r"The 'scale' parameter must be one of \['deviance', 'log', 'negative_log'\]. Got 'bits'",
    ):
        waic(POSTERIORS["centered_eight"], scale="bits")


def test_no_log_likelihood_group():
    idata = _arviz.from_dict({"posterior": {"a": np.zeros((2, 10))}})
    with pytest.raises(TypeError, match="without a log_likelihood group"):
        waic(idata)


def test_several_log_likelihood_variables_need_var_name(rng):
    idata = _arviz.from_dict(
        {"log_likelihood": {"a": _synthetic(rng, 2, 50, (5,), 0.1), "b": _synthetic(rng, 2, 50, (5,), 0.1)}}
    )
    with pytest.raises(ValueError, match=r"variables \['a', 'b'\]: pass var_name"):
        waic(idata)
    assert waic(idata, var_name="b").n_obs == 5
    with pytest.raises(ValueError, match=r"The 'var_name' parameter must be one of \['a', 'b'\]. Got 'c'"):
        waic(idata, var_name="c")


def test_array_of_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(chain, draw, \*obs_shape\). Got shape \(10, 5\)"):
        waic(np.zeros((10, 5)))


def test_unfitted_model():
    from bayesgmm.bayes.sampling import BayesianGaussianMixture

    with pytest.raises(NotFittedError, match="not fitted yet"):
        waic(BayesianGaussianMixture(2))
    with pytest.raises(NotFittedError, match="not fitted yet"):
        loo(BayesianGaussianMixture(2))


# ----------------------------------------------------------------------------- LOO
def _az_loo(idata, scale, **kwargs):
    """The installed ArviZ's loo on ``scale``: ``{value, p, se, pareto_k, good_k, warning}``.

    ArviZ 0.23 computes every scale itself; ArviZ 1.x reports the log scale, of which the
    other scales are the fixed multiples FACTOR (its standard error times their size)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if not ARVIZ_1:
            res = az.loo(idata, scale=scale, pointwise=True, **kwargs)
            return {
                "value": res["elpd_loo"], "p": res["p_loo"], "se": res["se"],
                "pareto_k": np.ravel(res["pareto_k"].values), "good_k": res["good_k"], "warning": res["warning"],
            }  # fmt: skip
        res = az.loo(idata, pointwise=True, **kwargs)
    c = FACTOR[scale]
    return {
        "value": c * res.elpd, "p": res.p, "se": abs(c) * res.se, "pareto_k": np.ravel(res.pareto_k.values),
        "good_k": res.good_k, "warning": res.warning,
    }  # fmt: skip


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", ["centered_eight", "synthetic_4x250x40", "synthetic_2x300x(6,5)"])
def test_loo_equals_arviz(name, scale):
    idata = POSTERIORS[name]
    ref = _az_loo(idata, scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriterionWarning)
        res = loo(idata, scale=scale)
    assert_allclose(res.value, ref["value"], rtol=0, atol=1e-10)
    assert_allclose(res.p, ref["p"], rtol=0, atol=1e-10)
    assert_allclose(res.se, ref["se"], rtol=0, atol=1e-10)
    assert_allclose(res.pareto_k, ref["pareto_k"], rtol=0, atol=1e-12)
    assert_allclose(res.pointwise.sum(), res.value, rtol=1e-12)
    assert res.good_k == ref["good_k"] and res.method == "loo"
    assert_allclose(res.elpd * FACTOR[scale], res.value, rtol=1e-12)


def test_loo_pareto_warning_is_surfaced():
    # the wide synthetic posterior has Pareto k above good_k on both ArviZ lines (ArviZ 0.23's
    # non_centered_eight has one too, ArviZ 1.x's example data of that name none)
    idata = POSTERIORS["synthetic_wide"]
    ref = _az_loo(idata, "log")
    assert ref["warning"]
    with pytest.warns(CriterionWarning, match=r"Pareto k above 0.64") as rec:
        res = loo(idata)
    assert res.warning and np.max(res.pareto_k) > res.good_k
    assert rec[0].filename == __file__


def test_loo_from_an_array_uses_reff_one(rng):
    ll = _synthetic(rng, 2, 300, (20,), 0.3)
    res = loo(ll)
    ref = _az_loo(_arviz.from_dict({"log_likelihood": {"x": ll}}), "deviance", reff=1.0)
    assert_allclose(res.value, ref["value"], rtol=0, atol=1e-10)
    assert res.n_obs == 20


def test_loo_and_waic_agree_on_a_well_behaved_posterior():
    idata = POSTERIORS["synthetic_4x250x40"]
    w, lo = waic(idata), loo(idata)
    assert abs(w.value - lo.value) < 0.1 * w.se
