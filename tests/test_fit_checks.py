"""A degenerate fit says so: DegenerateFitWarning names the component, why its covariance is
reg_covar alone in some direction, and what to change; ScaleWarning says when reg_covar is
not small against the data. Both stay silent on ordinary data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from bayesgmm import DegenerateFitWarning, GaussianMixture, ScaleWarning
from bayesgmm.exceptions import DegenerateFitWarning as DegenerateFitWarning_

sk_datasets = pytest.importorskip("sklearn.datasets")
sk_mixture = pytest.importorskip("sklearn.mixture")


def blob(rng, n=200, d=2):
    return rng.normal(size=(n, d))


def only_warning(record, category):
    """The one warning of ``category`` in ``record`` (and no other warning at all)."""
    assert [w.category for w in record] == [category], [str(w.message) for w in record]
    return str(record[0].message)


def fit_warnings(X, **kwargs):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        g = GaussianMixture(**kwargs).fit(X)
    return g, record


def test_the_classes_are_exported():
    assert DegenerateFitWarning is DegenerateFitWarning_
    assert issubclass(DegenerateFitWarning, UserWarning) and issubclass(ScaleWarning, UserWarning)


def test_fewer_samples_than_a_full_covariance_needs():
    """4 points far away in 5 dimensions: a full covariance needs 6."""
    rng = np.random.default_rng(0)
    X = np.r_[blob(rng, d=5), 0.5 * rng.normal(size=(4, 5)) + 20.0]
    g, record = fit_warnings(X, n_components=2, random_state=0)
    msg = only_warning(record, DegenerateFitWarning)
    small = int(np.argmin(g.weights_))
    assert msg.startswith(
        f"Component {small} holds 4 samples, fewer than the 6 a full covariance needs in 5 dimensions"
    )
    assert "its covariance is reg_covar=1e-06 alone in some direction" in msg
    assert "use fewer components, covariance_type='diag', 'spherical' or 'tied', or more data" in msg
    # and the fit is scikit-learn's all the same
    sk = sk_mixture.GaussianMixture(2, random_state=0).fit(X)
    assert_allclose(g.means_, sk.means_, rtol=1e-10)


def test_a_component_collapsing_onto_one_point():
    rng = np.random.default_rng(0)
    X = np.r_[blob(rng), [[50.0, 50.0]]]
    g, record = fit_warnings(X, n_components=2, covariance_type="diag", random_state=0)
    msg = only_warning(record, DegenerateFitWarning)
    lone = int(np.argmin(g.weights_))
    assert_allclose(g.means_[lone], [50.0, 50.0])
    assert msg.startswith(
        f"Component {lone} collapsed onto a single point: its covariance is reg_covar=1e-06"
    )
    assert "use fewer components, remove duplicated rows, or raise reg_covar" in msg


def test_a_component_on_duplicated_points():
    rng = np.random.default_rng(0)
    X = np.r_[blob(rng), np.tile([[50.0, 50.0]], (30, 1))]
    g, record = fit_warnings(X, n_components=2, random_state=0)
    msg = only_warning(record, DegenerateFitWarning)
    dup = int(np.argmin(g.weights_))
    assert msg.startswith(f"Component {dup} sits on 30 duplicated copies of one point")
    assert "remove duplicated rows, or raise reg_covar" in msg


def test_a_component_on_a_line():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(100, 1))
    X = np.r_[blob(rng), np.c_[t, 2 * t] + 30.0]
    g, record = fit_warnings(X, n_components=2, random_state=0)
    msg = only_warning(record, DegenerateFitWarning)
    line = int(np.argmax(g.means_[:, 0]))
    assert msg.startswith(
        f"Component {line} has a singular empirical covariance (its points lie on a lower-dimensional subspace)"
    )


def test_reg_covar_not_small_against_the_data():
    """At scale 1e-8 the variances are ~1e-16: reg_covar=1e-6 swamps them, and says so."""
    X = sk_datasets.make_blobs(300, centers=3, random_state=0)[0] * 1e-8
    with pytest.warns(ScaleWarning) as record:
        GaussianMixture(3, random_state=0).fit(X)
    msg = str(record[0].message)
    assert msg.startswith("reg_covar=1e-06 is not small against the variance of feature")
    assert "Scale the data (e.g. StandardScaler) or set reg_covar well below" in msg
    # the same data scaled back, or with reg_covar scaled down with it, fit silently
    GaussianMixture(3, random_state=0).fit(X * 1e8)
    g = GaussianMixture(3, random_state=0, reg_covar=1e-22).fit(X)
    h = GaussianMixture(3, random_state=0).fit(X * 1e8)
    assert_allclose(g.means_ * 1e8, h.means_, rtol=1e-6)


def test_silent_on_the_heights_and_on_blobs(heights):
    """No warning on ordinary data (pytest turns any warning into an error)."""
    X = np.ascontiguousarray(heights[0][::10])
    GaussianMixture(2, random_state=0).fit(X)
    for ct in ("full", "tied", "diag", "spherical"):
        Xb = sk_datasets.make_blobs(500, n_features=3, centers=3, random_state=1)[0]
        GaussianMixture(3, covariance_type=ct, random_state=0).fit(Xb)
