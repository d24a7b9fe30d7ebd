"""bayesgmm.bayes._arviz: the same answers through either ArviZ line (0.23 or 1.x).

Each function is checked against the installed ArviZ called directly, in the form that
line takes; the container round trips (groups added, replaced, written and read back).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

az = pytest.importorskip("arviz")

from bayesgmm.bayes import _arviz  # noqa: E402

LINE_1 = _arviz.current_line()


@pytest.fixture
def draws(rng):
    return {"a": rng.normal(size=(2, 300)), "b": rng.normal(size=(2, 300, 3)).cumsum(axis=1)}


def test_the_line_is_the_installed_major_version():
    assert LINE_1 == (int(az.__version__.split(".")[0]) >= 1)


def test_container_groups_add_replace_and_read(draws, rng):
    idata = _arviz.from_dict({"posterior": draws}, coords={"k": np.arange(3)}, dims={"b": ["k"]})
    assert _arviz.is_container(idata) and not _arviz.is_container(_arviz.group(idata, "posterior"))
    assert _arviz.groups(idata) == ["posterior"]
    post = _arviz.group(idata, "posterior")
    assert post["b"].dims == ("chain", "draw", "k")
    assert_allclose(post["a"].values, draws["a"], rtol=0)
    assert _arviz.group(idata, "log_likelihood") is None
    ll = _arviz.dataset({"x": rng.normal(size=(2, 300, 5))}, coords={"obs_id": np.arange(5)},
                        dims={"x": ["obs_id"]})  # fmt: skip
    _arviz.set_group(idata, "log_likelihood", ll)
    assert _arviz.groups(idata) == ["posterior", "log_likelihood"]
    post["a"].values = post["a"].values + 1.0
    _arviz.set_group(idata, "posterior", post)  # replaced, not added twice
    assert _arviz.groups(idata) == ["posterior", "log_likelihood"]
    assert_allclose(_arviz.group(idata, "posterior")["a"].values, draws["a"] + 1.0, rtol=0)
    assert _arviz.group(idata, "log_likelihood")["x"].dims == ("chain", "draw", "obs_id")


def test_rhat_ess_equal_arviz_and_leave_its_numba_setting(draws):
    flat = {"a": draws["a"], "b0": draws["b"][..., 0]}
    on = None if LINE_1 else bool(az.Numba.numba_flag)
    got = _arviz.rhat_ess(flat)
    ds = az.convert_to_dataset(flat)
    for name in flat:
        assert_allclose(got[name]["rhat"], float(az.rhat(ds)[name]), rtol=1e-12)
        assert_allclose(got[name]["ess_bulk"], float(az.ess(ds, method="bulk")[name]), rtol=1e-12)
        assert_allclose(got[name]["ess_tail"], float(az.ess(ds, method="tail")[name]), rtol=1e-12)
    if not LINE_1:
        assert bool(az.Numba.numba_flag) == on


def test_hdi_ess_mean_and_summary_columns(draws):
    flat = draws["a"].ravel()
    expected = az.hdi(flat, prob=0.9) if LINE_1 else az.hdi(flat, hdi_prob=0.9)
    assert_allclose(_arviz.hdi(flat, 0.9), expected, rtol=0)
    assert_allclose(_arviz.ess_mean(draws["a"]), float(az.ess(draws["a"], method="mean")), rtol=1e-12)
    table = _arviz.summary(_arviz.dataset({"a": draws["a"]}))
    low, high = _arviz.summary_interval_columns()
    assert {"mean", "sd", "ess_bulk", "ess_tail", "r_hat", low, high} <= set(table.columns)
    assert low.startswith("hdi") and ("94" in low or low == "hdi_3%")
    h_low, h_high = _arviz.hdi(flat, 0.94)
    assert_allclose([float(table.loc["a", low]), float(table.loc["a", high])], [h_low, h_high], atol=0.06)


def test_bfmi_per_chain_or_none(rng):
    energy = rng.normal(size=(2, 400)).cumsum(axis=1)
    idata = _arviz.from_dict({"posterior": {"a": rng.normal(size=(2, 400))}, "sample_stats": {"energy": energy}})
    diff2 = np.mean(np.diff(energy, axis=1) ** 2, axis=1)
    assert_allclose(_arviz.bfmi(idata), diff2 / np.var(energy, axis=1, ddof=1), rtol=1e-10)
    assert _arviz.bfmi(_arviz.from_dict({"posterior": {"a": energy}})) == []


def test_netcdf_round_trip_with_attributes_netcdf_cannot_hold(tmp_path, draws, rng):
    idata = _arviz.from_dict({"posterior": draws, "sample_stats": {"diverging": rng.random((2, 300)) < 0.1}})
    stats = _arviz.group(idata, "sample_stats")
    stats.attrs.update(settings={"step": 0.1, "adapt": [1, 2]}, flag=True, nothing=None, dims=["chain", "draw"])
    _arviz.set_group(idata, "sample_stats", stats)
    path = tmp_path / "posterior.nc"
    _arviz.to_netcdf(idata, str(path))
    back = az.from_netcdf(path)
    assert _arviz.groups(back) == ["posterior", "sample_stats"]
    assert_allclose(_arviz.group(back, "posterior")["b"].values, draws["b"], rtol=0)
    attrs = _arviz.group(back, "sample_stats").attrs
    assert json.loads(attrs["settings"]) == {"step": 0.1, "adapt": [1, 2]}
    assert json.loads(attrs["flag"]) is True and json.loads(attrs["nothing"]) is None
    assert list(attrs["dims"]) == ["chain", "draw"]
    assert _arviz.group(back, "sample_stats")["diverging"].dtype == bool
    # the container written is unchanged
    assert _arviz.group(idata, "sample_stats").attrs["settings"] == {"step": 0.1, "adapt": [1, 2]}
