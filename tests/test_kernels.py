"""The fused pass: both backends against the textbook E-step, and the numba kernel's
promises (thread-count independence, chunk edges, its exp, the Lloyd statistics)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal

from bayesgmm import _kernels
from bayesgmm.covariance import compute_precision_cholesky, covariances_as_full
from bayesgmm.em import e_step

COV_TYPES = ("full", "tied", "diag", "spherical")
BACKENDS = [
    "numpy",
    pytest.param("numba", marks=pytest.mark.skipif(not _kernels.numba_available(), reason="no numba")),
]
needs_numba = pytest.mark.skipif(not _kernels.numba_available(), reason="numba not installed")


def random_params(rng, k, d, covariance_type):
    w = rng.dirichlet(np.ones(k))
    means = rng.normal(scale=2.0, size=(k, d))
    if covariance_type == "full":
        A = rng.normal(size=(k, d, d))
        cov = A @ np.swapaxes(A, 1, 2) / d + 0.5 * np.eye(d)
    elif covariance_type == "tied":
        A = rng.normal(size=(d, d))
        cov = A @ A.T / d + 0.5 * np.eye(d)
    elif covariance_type == "diag":
        cov = rng.uniform(0.3, 2.0, size=(k, d))
    else:
        cov = rng.uniform(0.3, 2.0, size=k)
    return w, means, cov, compute_precision_cholesky(cov, covariance_type)


def textbook_stats(X, w, means, pc, covariance_type, shift):
    """sum log p and S = sum_i gamma_ik phi(x_i), through the textbook E-step."""
    log_prob, log_resp = e_step(X, w, means, pc, covariance_type)
    phi = _kernels.features(X, shift, covariance_type)
    return log_prob.sum(), phi.T @ np.exp(log_resp)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("n, d, k", [(1, 1, 1), (7, 2, 3), (300, 1, 2), (8193, 3, 4), (20000, 5, 2)])
def test_fused_pass_equals_textbook(backend, covariance_type, n, d, k):
    rng = np.random.default_rng(n + d + k)
    X = rng.normal(size=(n, d)) * 2 + 1
    w, means, cov, pc = random_params(rng, k, d, covariance_type)
    shift = X.mean(axis=0)
    W = _kernels.natural_parameters(w, means, pc, covariance_type, shift)
    ll, S = _kernels.sufficient_statistics(X, W, shift, covariance_type, backend=backend)
    ll_ref, S_ref = textbook_stats(X, w, means, pc, covariance_type, shift)
    assert_allclose(ll, ll_ref, rtol=1e-12)
    assert_allclose(S, S_ref, rtol=1e-11, atol=1e-11 * np.abs(S_ref).max())
    assert S.shape == (_kernels.n_features_phi(d, covariance_type), k)
    assert_allclose(S[0].sum(), n, rtol=1e-12)  # responsibilities sum to 1 per row


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_natural_parameters_are_log_weight_plus_log_density(covariance_type):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    w, means, cov, pc = random_params(rng, 4, 3, covariance_type)
    shift = rng.normal(size=3)
    W = _kernels.natural_parameters(w, means, pc, covariance_type, shift)
    full = covariances_as_full(cov, covariance_type, 4, 3)
    expected = np.stack(
        [np.log(w[k]) + multivariate_normal(means[k], full[k]).logpdf(X) for k in range(4)], axis=1
    )
    assert_allclose(_kernels.features(X, shift, covariance_type) @ W, expected, rtol=1e-11)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_log_prob_resp(covariance_type):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40000, 2))  # more than one chunk
    w, means, cov, pc = random_params(rng, 3, 2, covariance_type)
    shift = X.mean(axis=0)
    W = _kernels.natural_parameters(w, means, pc, covariance_type, shift)
    ll, lr = _kernels.log_prob_resp(X, W, shift, covariance_type)
    ll_ref, lr_ref = e_step(X, w, means, pc, covariance_type)
    assert_allclose(ll, ll_ref, rtol=1e-12)
    assert_allclose(np.exp(lr), np.exp(lr_ref), rtol=1e-10, atol=1e-300)


def test_moments_split():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(100, 3))
    R = rng.dirichlet(np.ones(2), size=100)
    shift = np.zeros(3)
    for ct in ("full", "diag"):
        S = _kernels.features(X, shift, ct).T @ R
        N, S1, S2 = _kernels.moments(S, 3, ct)
        assert_allclose(N, R.sum(axis=0))
        assert_allclose(S1, R.T @ X)
        if ct == "full":
            assert_allclose(S2, np.einsum("nk,ni,nj->kij", R, X, X))
        else:
            assert_allclose(S2, R.T @ X**2)


def test_zero_weight_component():
    """A component with weight 0 gets exactly zero responsibility, not NaN."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1000, 2))
    w, means, cov, pc = random_params(rng, 3, 2, "full")
    w = np.array([0.0, 0.4, 0.6])
    shift = X.mean(axis=0)
    W = _kernels.natural_parameters(w, means, pc, "full", shift)
    for backend in ("numpy", "numba") if _kernels.numba_available() else ("numpy",):
        ll, S = _kernels.sufficient_statistics(X, W, shift, "full", backend=backend)
        assert np.isfinite(ll)
        assert_array_equal(S[:, 0], 0.0)


@needs_numba
@pytest.mark.parametrize("n", [1, 255, 256, 257, 8192, 8193, 3 * 8192 + 17])
def test_numba_result_does_not_depend_on_threads(n):
    """Partial sums per fixed block, added in block order: bitwise identical."""
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 3))
    w, means, cov, pc = random_params(rng, 4, 3, "full")
    shift = X.mean(axis=0)
    W = _kernels.natural_parameters(w, means, pc, "full", shift)
    results = [
        _kernels.sufficient_statistics(X, W, shift, "full", backend="numba", threads=t)
        for t in (1, 2, 3, 8, None)
    ]
    for ll, S in results[1:]:
        assert ll == results[0][0]
        assert_array_equal(S, results[0][1])


@needs_numba
def test_numba_accepts_non_contiguous_and_memmap(tmp_path):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(5000, 4))
    w, means, cov, pc = random_params(rng, 2, 2, "diag")
    Xs = X[:, ::2]  # strided view
    shift = Xs.mean(axis=0)
    W = _kernels.natural_parameters(w, means, pc, "diag", shift)
    ref = _kernels.sufficient_statistics(np.ascontiguousarray(Xs), W, shift, "diag", backend="numba")
    got = _kernels.sufficient_statistics(Xs, W, shift, "diag", backend="numba")
    assert got[0] == ref[0]
    assert_array_equal(got[1], ref[1])
    np.save(tmp_path / "x.npy", np.ascontiguousarray(Xs))
    got = _kernels.sufficient_statistics(
        np.load(tmp_path / "x.npy", mmap_mode="r"), W, shift, "diag", backend="numba"
    )
    assert got[0] == ref[0]
    assert_array_equal(got[1], ref[1])


@needs_numba
def test_numba_exp_within_one_ulp():
    """The kernel's own exp (written out so that it vectorises), seen through a pass.

    Two components with log-densities 0 and -x_i for x_i in [0, 700]: the responsibility of
    the second is e / (1 + e) with e = exp(-x_i), and log p(x_i) = log1p(e).
    """
    t = np.linspace(0.0, 700.0, 4001)
    X = np.zeros((len(t), 1))
    X[:, 0] = t
    W = np.array([[0.0, 0.0], [0.0, -1.0], [0.0, 0.0]])  # phi = [1, x, x^2]: L_0 = 0, L_1 = -x
    shift = np.zeros(1)
    ll, S = _kernels.sufficient_statistics(X, W, shift, "diag", backend="numba")
    e = np.exp(-t)
    assert_allclose(ll, np.sum(np.log1p(e)), rtol=1e-15)
    assert_allclose(S[0, 1], np.sum(e / (1 + e)), rtol=1e-14)
    assert_allclose(S[1, 1], np.sum(t * e / (1 + e)), rtol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lloyd_statistics(backend):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(3000, 3))
    centers = rng.normal(size=(4, 3))
    sums, counts, inertia = _kernels.lloyd_statistics(X, centers, backend=backend)
    d2 = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2)
    labels = d2.argmin(axis=1)
    assert_array_equal(counts, np.bincount(labels, minlength=4))
    for k in range(4):
        assert_allclose(sums[k], X[labels == k].sum(axis=0), rtol=1e-12)
    assert_allclose(inertia, d2.min(axis=1).sum(), rtol=1e-12)
    lab, dist = _kernels.nearest_centre(X, centers)
    assert_array_equal(lab, labels)


def test_engines_are_objects_behind_one_interface():
    """get_engine: one shared object per name; "auto" is numba when it is installed."""
    numpy_engine = _kernels.get_engine("numpy")
    assert isinstance(numpy_engine, _kernels.NumpyEngine) and numpy_engine.name == "numpy"
    assert _kernels.get_engine("numpy") is numpy_engine
    auto = _kernels.get_engine("auto")
    expected = _kernels.NumbaEngine if _kernels.numba_available() else _kernels.NumpyEngine
    assert isinstance(auto, expected)
    assert _kernels.resolve_backend("auto") == auto.name
    with pytest.raises(ValueError, match=r"The 'engine' parameter must be one of .*Got 'gpu'"):
        _kernels.get_engine("gpu")
    assert _kernels.default_threads() >= 1


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_weighted_pass_is_the_pass_over_repeated_rows(backend, covariance_type):
    """An integer row weight counts the row that many times; a zero weight drops it."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(3000, 3))
    sw = rng.integers(0, 4, size=len(X)).astype(float)
    rep = np.repeat(np.arange(len(X)), sw.astype(int))
    w, means, cov, pc = random_params(rng, 3, 3, covariance_type)
    shift = X.mean(axis=0)
    W = _kernels.natural_parameters(w, means, pc, covariance_type, shift)
    ll, S = _kernels.sufficient_statistics(X, W, shift, covariance_type, backend=backend, sample_weight=sw)
    ll_ref, S_ref = _kernels.sufficient_statistics(X[rep], W, shift, covariance_type, backend=backend)
    assert_allclose(ll, ll_ref, rtol=1e-12)
    assert_allclose(S, S_ref, rtol=1e-11, atol=1e-11 * np.abs(S_ref).max())
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(3000,\)\. Got shape \(5,\)"):
        _kernels.sufficient_statistics(
            X, W, shift, covariance_type, backend=backend, sample_weight=np.ones(5)
        )


@needs_numba
def test_concurrent_callers_get_the_same_result():
    """Several Python threads (Dask's threaded scheduler, say) calling at once, with
    different thread counts."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(7)
    X = rng.normal(size=(50000, 2))
    w, means, cov, pc = random_params(rng, 3, 2, "full")
    shift = X.mean(axis=0)
    W = _kernels.natural_parameters(w, means, pc, "full", shift)
    ref = _kernels.sufficient_statistics(X, W, shift, "full", backend="numba", threads=1)
    with ThreadPoolExecutor(4) as ex:
        outs = list(
            ex.map(
                lambda t: _kernels.sufficient_statistics(X, W, shift, "full", backend="numba", threads=t),
                [1, 2, 3, 2, 1, 4, 2, 3],
            )
        )
    for ll, S in outs:
        assert ll == ref[0]
        assert_array_equal(S, ref[1])


def test_thread_count_from_environment(monkeypatch):
    monkeypatch.setenv("BAYESGMM_NUM_THREADS", "3")
    assert _kernels.default_threads() == 3
    monkeypatch.setenv("BAYESGMM_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="BAYESGMM_NUM_THREADS must be a positive int. Got 'many'"):
        _kernels.default_threads()


@needs_numba
@pytest.mark.slow
def test_compiled_kernel_is_cached_across_processes(tmp_path):
    """The second process loads the kernels from numba's disk cache instead of compiling
    them again (~10 s): they must live at module level, not in a closure."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from bayesgmm import GaussianMixture, _numba\n"
        "X = np.random.default_rng(0).normal(size=(300, 2))\n"
        "GaussianMixture(2, engine='numba', random_state=0).fit(X)  # numpy below AUTO_NUMBA_MIN_ROWS\n"
        "s = _numba.stats_blocks.stats\n"
        "print(sum(s.cache_hits.values()), sum(s.cache_misses.values()))\n"
    )
    env = {**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        for _ in range(2)
    ]
    hits, misses = (int(v) for v in runs[1].stdout.split())
    assert hits >= 1 and misses == 0, runs[1].stdout
