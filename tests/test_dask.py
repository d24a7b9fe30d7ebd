"""The Dask path: map-reduce over blocks on a local ``dask.distributed`` cluster started
here (in-process workers, no network), equal to the in-memory fit from the same start
within 1e-10 relative.

In-memory data starts as scikit-learn does (its KMeans, its RandomState draws); Dask
arrays get bayesgmm's own out-of-core starts, which do not depend on the chunking."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from bayesgmm import GaussianMixture, make_mixture
from bayesgmm.exceptions import ConvergenceWarning

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

COV_TYPES = ("full", "tied", "diag", "spherical")
FITTED = ("weights_", "means_", "covariances_", "precisions_cholesky_")


@pytest.fixture(scope="module")
def client():
    """Two in-process workers of one thread each: real task scheduling, no sockets."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    means = np.array([[0.0, 0.0, 0.0], [4.0, 1.0, -2.0], [-3.0, 3.0, 1.0]])
    covs = [np.eye(3), np.diag([0.5, 2.0, 1.0]), [[1.0, 0.6, 0.0], [0.6, 1.0, 0.0], [0.0, 0.0, 0.3]]]
    X, _ = make_mixture(5000, [0.5, 0.3, 0.2], means, covs, random_state=rng)
    return X


def rel(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))


def assert_same_fit(a, b, rtol=1e-10):
    for name in FITTED:
        assert rel(getattr(a, name), getattr(b, name)) < rtol, name
    assert a.n_iter_ == b.n_iter_
    assert a.converged_ == b.converged_
    assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("accelerate", [False, True])
def test_dask_fit_equals_in_memory_fit_from_same_start(client, X, covariance_type, accelerate):
    rng = np.random.default_rng(1)
    start = {
        "weights_init": np.full(3, 1 / 3),
        "means_init": X[rng.choice(len(X), 3, replace=False)],
        "precisions_init": {
            "full": np.stack([np.eye(3)] * 3),
            "tied": np.eye(3),
            "diag": np.ones((3, 3)),
            "spherical": np.ones(3),
        }[covariance_type],
    }
    kw = dict(covariance_type=covariance_type, tol=1e-6, accelerate=accelerate, **start)
    mem = GaussianMixture(3, **kw).fit(X)
    Xd = da.from_array(X, chunks=(777, 3))  # uneven blocks, not a multiple of anything
    dsk = GaussianMixture(3, **kw).fit(Xd)
    assert_same_fit(dsk, mem)


def start_of(X, covariance_type="full", k=3):
    """scikit-learn's kmeans start on in-memory X, as *_init arguments."""
    g = GaussianMixture(k, covariance_type=covariance_type, random_state=0, max_iter=0).fit(X)
    return {"weights_init": g.weights_, "means_init": g.means_, "precisions_init": g.precisions_}


def by_first_mean(g):
    """(weights, means, covariances) with components ordered by their first mean."""
    o = np.argsort(g.means_[:, 0])
    return g.weights_[o], g.means_[o], g.covariances_[o]


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_dask_start_does_not_depend_on_the_chunking(client, X, init_params):
    """The out-of-core starts draw the same rows and the same random labels however X is
    chunked: the same start, and the same first passes."""
    kw = dict(random_state=3, init_params=init_params, tol=0.0, max_iter=3)
    with pytest.warns(ConvergenceWarning):
        a = GaussianMixture(3, **kw).fit(da.from_array(X, chunks=(1000, 3)))
    with pytest.warns(ConvergenceWarning):
        b = GaussianMixture(3, **kw).fit(da.from_array(X, chunks=(613, 3)))
    assert_same_fit(a, b)


def test_dask_start_reaches_the_in_memory_maximum(client, X):
    """Bayesgmm's own k-means start on Dask and scikit-learn's in memory lead to the same
    maximum of the likelihood."""
    kw = dict(random_state=3, tol=1e-10, accelerate=True)
    dsk = GaussianMixture(3, **kw).fit(da.from_array(X, chunks=(1000, 3)))
    mem = GaussianMixture(3, **kw).fit(X)
    for a, b in zip(by_first_mean(dsk), by_first_mean(mem), strict=True):
        assert rel(a, b) < 1e-6


def test_dask_column_chunks_and_one_dimensional(client, X):
    x1 = X[:, :1]
    start1 = start_of(x1, k=2)
    mem = GaussianMixture(2, **start1).fit(x1)
    dsk = GaussianMixture(2, **start1).fit(da.from_array(X[:, 0], chunks=900))  # 1-D: one feature
    assert_same_fit(dsk, mem)
    start = start_of(X)
    mem3 = GaussianMixture(3, **start).fit(X)
    dsk3 = GaussianMixture(3, **start).fit(da.from_array(X, chunks=(1200, 2)))  # split columns
    assert_same_fit(dsk3, mem3)


def test_dask_fitted_model_predicts_and_scores(client, X):
    Xd = da.from_array(X, chunks=(1000, 3))
    start = start_of(X)
    g = GaussianMixture(3, **start).fit(Xd)
    mem = GaussianMixture(3, **start).fit(X)
    assert_same_fit(g, mem)
    assert_array_equal(g.predict(X), mem.predict(X))
    assert_allclose(g.bic(Xd), mem.bic(X), rtol=1e-10)
    assert_allclose(g.aic(Xd), mem.aic(X), rtol=1e-10)
    assert_allclose(g.bic(Xd), g.bic(X), rtol=1e-12)


def test_dask_float32_and_int_blocks(client, X):
    X32 = X.astype(np.float32)
    start = start_of(X32)
    mem = GaussianMixture(3, **start).fit(X32)
    dsk = GaussianMixture(3, **start).fit(da.from_array(X32, chunks=(1000, 3)))
    assert_same_fit(dsk, mem, rtol=1e-6)  # float32 attributes: compared at float32 precision
    Xi = np.round(X * 100).astype(np.int64)
    start = start_of(Xi.astype(np.float64))
    mem = GaussianMixture(3, **start).fit(Xi)
    dsk = GaussianMixture(3, **start).fit(da.from_array(Xi, chunks=(1000, 3)))
    assert_same_fit(dsk, mem)


def test_dask_bad_input(client, X):
    bad = X.copy()
    bad[1234, 1] = np.nan
    with pytest.raises(ValueError, match="X must contain only finite values"):
        GaussianMixture(2).fit(da.from_array(bad, chunks=(1000, 3)))
    with pytest.raises(ValueError, match="X must be 1-D or 2-D. Got a 3-D dask array"):
        GaussianMixture(2).fit(da.zeros((10, 2, 2), chunks=5))
    with pytest.raises(TypeError, match="X must be numeric"):
        GaussianMixture(2).fit(da.from_array(np.array(["a"] * 10), chunks=5))
    with pytest.raises(ValueError, match="at least 3 samples"):
        GaussianMixture(3).fit(da.zeros((2, 2), chunks=1))
    with pytest.raises(ValueError, match="engine='textbook' needs an in-memory X"):
        GaussianMixture(2, engine="textbook").fit(da.from_array(X, chunks=(1000, 3)))


def test_dask_without_a_cluster_uses_the_local_scheduler(client, X):
    """No client: dask's default (threaded) scheduler gives the same fit as the cluster."""
    import dask

    Xd = da.from_array(X, chunks=(1000, 3))
    on_cluster = GaussianMixture(3, random_state=0).fit(Xd)
    with dask.config.set(scheduler="threads"):
        local = GaussianMixture(3, random_state=0).fit(Xd)
    assert_same_fit(local, on_cluster)
