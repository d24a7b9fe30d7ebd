"""bayesgmm.bayes.draws: the per-draw log-likelihood (compiled and numpy), the probe
densities, and the lazily stored pointwise log-likelihood of a fit."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

pytest.importorskip("pymc")
az = pytest.importorskip("arviz")

from bayesgmm import _kernels, load_heights, make_mixture  # noqa: E402
from bayesgmm.bayes import _arviz  # noqa: E402
from bayesgmm.bayes.diagnostics import probe_points  # noqa: E402
from bayesgmm.bayes.draws import MixtureDraws  # noqa: E402
from bayesgmm.exceptions import SamplingWarning  # noqa: E402

numba_only = pytest.mark.skipif(__import__("importlib").util.find_spec("numba") is None, reason="needs numba")


def _random_draws(rng, kind, C=2, S=7, K=3, d=2):
    """Random mixture parameters as MixtureDraws (not a posterior: any valid parameters do)."""
    w = rng.dirichlet(np.ones(K), size=(C, S))
    mu = rng.normal(0, 2, size=(C, S, K, d))
    sd = rng.uniform(0.5, 1.5, size=(C, S, K, d))
    if kind == "full":
        A = rng.normal(0, 0.3, size=(C, S, K, d, d))
        cov = A @ np.swapaxes(A, -1, -2) + np.einsum("...kf,fg->...kfg", sd**2, np.eye(d))
        sd = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    else:
        cov = np.einsum("...kf,fg->...kfg", sd**2, np.eye(d))
    return MixtureDraws(w, mu, sd, cov, kind, np.full(d, 0.3))


def _reference_densities(draws, X, pointwise=True):
    """One numpy pass per draw with the EM half's ``_kernels.log_prob_resp``: the pointwise
    log-likelihood (or None), and the totals and probe densities of the diagnostics."""
    probes = probe_points(X)
    total = np.empty(draws.shape)
    at_probes = np.empty(draws.shape + (len(probes),))
    ll = np.empty(draws.shape + (X.shape[0],)) if pointwise else None
    for c, j, W in draws.natural_parameters():
        row = _kernels.log_prob_resp(X, W, draws.shift, draws.kind)[0]
        total[c, j] = row.sum()
        at_probes[c, j] = _kernels.log_prob_resp(probes, W, draws.shift, draws.kind)[0]
        if ll is not None:
            ll[c, j] = row
    invariant = {"log_likelihood": total}
    invariant.update({f"log_density[{q}]": at_probes[..., q] for q in range(len(probes))})
    return ll, invariant


def _scipy_loglik(draws, X, c, j):
    dens = sum(
        draws.w[c, j, k] * stats.multivariate_normal(draws.mu[c, j, k], draws.cov[c, j, k]).pdf(X)
        for k in range(draws.w.shape[-1])
    )
    return np.log(dens)


@numba_only
@pytest.mark.parametrize("kind", ["full", "diag"])
def test_compiled_log_likelihood_equals_numpy_and_scipy(rng, kind):
    X, _ = make_mixture(700, [0.3, 0.3, 0.4], [[-2, 0], [0, 2], [2, 0]], [np.eye(2)] * 3, random_state=1)
    draws = _random_draws(rng, kind)
    total, ll = draws.log_likelihood(X, pointwise=True, backend="numba")
    total_np, ll_np = draws.log_likelihood(X, pointwise=True, backend="numpy")
    ll_ref, inv_ref = _reference_densities(draws, X)
    assert ll.shape == (2, 7, 700) and total.shape == (2, 7)
    assert_allclose(ll, ll_np, rtol=1e-12)
    assert_allclose(ll_np, ll_ref, rtol=0)  # the numpy path is the reference pass itself
    assert_allclose(total, inv_ref["log_likelihood"], rtol=1e-12)
    assert_allclose(total_np, inv_ref["log_likelihood"], rtol=1e-12)
    assert_allclose(ll[1, 4], _scipy_loglik(draws, X, 1, 4), rtol=1e-10)
    # totals alone, and on any number of threads: the same numbers, bitwise
    alone, none = draws.log_likelihood(X, pointwise=False, threads=1)
    assert none is None
    assert_array_equal(alone, total)
    assert_array_equal(draws.log_likelihood(X, pointwise=False, threads=3)[0], total)


def test_probe_densities_equal_scipy(rng):
    X, _ = make_mixture(300, [0.5, 0.5], [[-2, 0], [2, 0]], [np.eye(2)] * 2, random_state=2)
    draws = _random_draws(rng, "full", K=2)
    probes = probe_points(X)
    dens = draws.probe_log_densities(probes)
    assert list(dens) == [f"log_density[{q}]" for q in range(5)]
    for c, j in [(0, 0), (1, 6)]:
        ref = _scipy_loglik(draws, probes, c, j)
        assert_allclose([dens[f"log_density[{q}]"][c, j] for q in range(5)], ref, rtol=1e-10)


def _small_heights_fit(**kw):
    from bayesgmm.bayes.sampling import BayesianGaussianMixture

    X, _ = load_heights()
    X = X[np.random.default_rng(3).choice(X.shape[0], 300, replace=False)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        return X, BayesianGaussianMixture(2, draws=200, tune=150, random_state=1, **kw).fit(X)


def test_fit_totals_equal_the_numpy_pass_and_pointwise_is_lazy():
    """The per-draw total log-likelihood of the diagnostics (the sampler's own, when it
    computes it with the draw) equals the numpy pass to 1e-9 relative; the pointwise
    log-likelihood is computed on the first access to ``idata_``, once, and WAIC from the
    estimator equals ArviZ's on that group."""
    from bayesgmm.bayes.compare import waic

    X, bayes = _small_heights_fit()
    ll_ref, inv_ref = _reference_densities(bayes.mixture_draws_, X)
    for name, ref in inv_ref.items():
        assert_allclose(bayes.invariant_draws_[name], ref, rtol=1e-9, err_msg=name)
    assert "log_likelihood" not in _arviz.groups(bayes._idata)  # fit did not compute it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # WAIC's own reliability flag
        w = waic(bayes)
        # ArviZ 0.23's waic on that group; ArviZ 1.x has none: ours of the reference array
        ref = waic(ll_ref).value if _arviz.current_line() else az.waic(bayes.idata_, scale="deviance").elpd_waic
    group = bayes.idata_.log_likelihood
    assert bayes.idata_.log_likelihood is group  # computed once, kept
    assert_allclose(group["x"].values, ll_ref, rtol=1e-12)
    assert_allclose(w.value, ref, rtol=1e-12)
    assert "bayesgmm_log_likelihood" not in bayes.idata_.posterior  # the sampler's total left it


def test_fit_without_the_log_likelihood_group():
    from bayesgmm.bayes.compare import waic

    X, bayes = _small_heights_fit(store_log_likelihood=False)
    assert "log_likelihood" not in _arviz.groups(bayes.idata_)
    _, inv_ref = _reference_densities(bayes.mixture_draws_, X, pointwise=False)
    assert_allclose(bayes.invariant_draws_["log_likelihood"], inv_ref["log_likelihood"], rtol=1e-9)
    with pytest.raises(TypeError, match="without a log_likelihood group"):
        waic(bayes)


def test_compile_notice_is_printed_only_while_a_block_outlasts_its_delay(capsys):
    from bayesgmm.bayes._progress import compile_notice

    with compile_notice("a quick load", after=60.0):
        pass
    assert capsys.readouterr().err == ""  # cancelled when the block ended
    err = ""
    with compile_notice("a kernel", after=0.0):
        for _ in range(1000):  # until the notice's thread has printed (at most 10 s)
            err += capsys.readouterr().err
            if err:
                break
            time.sleep(0.01)
    assert err == "bayesgmm: compiling a kernel with numba, once; later runs load it from the disk cache...\n"
