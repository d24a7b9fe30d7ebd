"""bayesgmm.bayes.gibbs: the Gibbs sampler over allocations of a sparse finite mixture.

Oracles: the full conditionals against scipy's distributions and closed forms; the whole
sampler against the exact posterior of the number of occupied components on four points
(every allocation enumerated, the component parameters integrated by quadrature); and,
with the NUTS model's own prior, against NUTS where NUTS mixes.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, stats
from scipy.special import gammaln, logsumexp

from bayesgmm import make_mixture
from bayesgmm.bayes import _gibbs_numpy as gn
from bayesgmm.bayes.gibbs import gibbs_priors, sample_sparse_mixture, starting_allocations
from bayesgmm.bayes.model import Priors
from bayesgmm.bayes.occupancy import OccupiedComponents, fit_occupied_components

pytest.importorskip("numba")


def assert_within(got, expected, tol):
    """Element-wise |got - expected| <= tol (tol an array: a Monte Carlo error per element)."""
    got, expected = np.asarray(got), np.asarray(expected)
    bad = ~(np.abs(got - expected) <= tol)
    assert not bad.any(), (
        f"got {got[bad]}, expected {expected[bad]}, tolerance {np.broadcast_to(tol, bad.shape)[bad]}"
    )


# ----------------------------------------------------------------------------- conditionals
def test_log_dirichlet_matches_scipy_and_does_not_underflow(rng):
    a = np.array([0.01, 0.01, 3.0, 40.0])
    logw = gn.log_dirichlet(np.tile(a, (40000, 1)), rng)
    assert np.all(np.isfinite(logw))
    assert_allclose(logsumexp(logw, axis=1), 0.0, atol=1e-12)
    assert np.mean(logw[:, 0] < np.log(1e-300)) > 0.0  # would have been 0.0 in linear space
    w = np.exp(logw)
    mean, var = stats.dirichlet.mean(a), stats.dirichlet.var(a)
    assert_within(w.mean(axis=0), mean, 4 * np.sqrt(var / w.shape[0]))


def test_normal_means_full_matches_the_closed_form(rng):
    hyper = {"mean_loc": np.array([1.0, -1.0]), "mean_scale": np.array([2.0, 0.5])}
    prec = np.array([[[3.0, 1.0], [1.0, 2.0]]])  # n_k Sigma^-1
    s1 = np.array([[4.0, -2.0]])  # Sigma^-1 sum x
    m = 40000
    draws = gn.normal_means(np.tile(prec, (m, 1, 1)), np.tile(s1, (m, 1)), hyper, rng)
    post_prec = prec[0] + np.diag(1.0 / hyper["mean_scale"] ** 2)
    cov = np.linalg.inv(post_prec)
    mean = cov @ (hyper["mean_loc"] / hyper["mean_scale"] ** 2 + s1[0])
    assert_within(draws.mean(axis=0), mean, 4 * np.sqrt(np.diag(cov) / m))
    assert_allclose(np.cov(draws.T), cov, rtol=0.03, atol=0.003)


@pytest.mark.parametrize("n", [1, 6])
def test_halfnormal_variance_step_leaves_the_gig_conditional_invariant(n, rng):
    """With sigma ~ HalfNormal(s), tau = sigma^2 given n observations with sum of squares
    ss is GIG(p = (1 - n) / 2, a = 1 / s^2, b = ss): scipy's geninvgauss is the oracle."""
    s, ss, m = 1.5, 3.0, 20000
    tau = np.ones((m, 1))  # m independent chains of 50 steps each
    for _ in range(50):
        tau = gn.halfnormal_variances(tau, np.full((m, 1), ss), np.full(m, n), np.array([s]), rng)
    out = tau[:, 0]
    a, b, p = 1 / s**2, ss, (1 - n) / 2
    oracle = stats.geninvgauss(p, np.sqrt(a * b), scale=np.sqrt(b / a))
    qs = [0.1, 0.5, 0.9]
    assert_allclose(np.quantile(out, qs), oracle.ppf(qs), rtol=0.05)


def test_inverse_gamma_and_wishart_conditionals_match_scipy(rng):
    hyper = {"iw_df": 6.0, "iw_scale": np.array([[2.0, 0.3], [0.3, 1.0]])}
    scatter = np.array([[[5.0, 1.0], [1.0, 4.0]]])
    nk = np.array([7])
    m = 30000
    chol = gn.inverse_wishart_precisions(np.tile(scatter, (m, 1, 1)), np.tile(nk, m), hyper, rng)
    sigma = np.linalg.inv(chol @ np.swapaxes(chol, 1, 2))
    oracle = stats.invwishart(df=13.0, scale=hyper["iw_scale"] + scatter[0])
    assert_allclose(sigma.mean(axis=0), oracle.mean(), rtol=0.03)
    assert_allclose(np.triu(chol, 1), 0.0)  # lower triangular factors
    hyper1 = {"iw_df": 5.0, "iw_scale": np.diag([0.8, 2.0])}
    var = np.array(
        [
            gn.inverse_gamma_variances(np.array([[3.0, 1.0]]), np.array([4]), hyper1, rng)[0]
            for _ in range(30000)
        ]
    )
    for f, ss in enumerate((3.0, 1.0)):
        oracle = stats.invgamma(2.5 + 2.0, scale=hyper1["iw_scale"][f, f] / 2 + ss / 2)
        assert_allclose(np.quantile(var[:, f], [0.1, 0.5, 0.9]), oracle.ppf([0.1, 0.5, 0.9]), rtol=0.04)


def _numba_hierarchical_draws(chol, full, g0, G0, iw_df, m, seed):
    from numba import njit

    from bayesgmm.bayes._gibbs_numba import _hierarchical_scale

    @njit
    def draws(chol, full, g0, G0, iw_df, m, seed):
        np.random.seed(seed)
        out = np.zeros((m, G0.shape[0], G0.shape[0]))
        for i in range(m):
            _hierarchical_scale(chol, full, g0, G0, iw_df, out[i])
        return out

    return draws(chol, full, g0, G0, iw_df, m, seed)


def test_hierarchical_scale_step_matches_scipy(rng):
    """C0 | Sigma_1..K ~ W(g0 + K c0, G0 + sum_k Sigma_k^-1) in the rate convention: scipy's
    Wishart with 2 (g0 + K c0) degrees of freedom and scale (2 (G0 + sum Sigma_k^-1))^-1, and
    for the diagonal model a Gamma per feature; both engines draw iw_scale = 2 C0."""
    G0 = np.array([[0.7, 0.0], [0.0, 1.3]])
    prec = np.array([[[2.0, 0.5], [0.5, 1.0]], [[1.0, -0.2], [-0.2, 3.0]], [[0.5, 0.1], [0.1, 0.4]]])
    hyper = {"hier_g0": 1.0, "hier_G0": G0, "iw_df": 6.0}
    m = 10000
    oracle = stats.wishart(df=2 * (1.0 + 3 * 3.0), scale=np.linalg.inv(2 * (G0 + prec.sum(axis=0))))
    engines = {
        "numpy": np.array([gn.hierarchical_scale(prec, hyper, rng) for _ in range(m)]) / 2,
        "numba": _numba_hierarchical_draws(np.linalg.cholesky(prec), True, 1.0, G0, 6.0, m, 1) / 2,
    }
    for c0 in engines.values():
        assert_within(c0.mean(axis=0), oracle.mean(), 4 * np.sqrt(oracle.var() / m))
        assert_allclose(c0.var(axis=0), oracle.var(), rtol=0.06)
    var = np.array([[0.5, 2.0], [1.0, 4.0], [3.0, 0.2]])  # diagonal model: (K, d) variances
    chol = np.zeros((3, 2, 2))
    chol[:, [0, 1], [0, 1]] = 1 / np.sqrt(var)
    hyper = {"hier_g0": 0.5, "hier_G0": G0, "iw_df": 5.0}
    engines = {
        "numpy": np.array([gn.hierarchical_scale(1 / var, hyper, rng) for _ in range(m)]) / 2,
        "numba": _numba_hierarchical_draws(chol, False, 0.5, G0, 5.0, m, 2) / 2,
    }
    qs = [0.1, 0.5, 0.9]
    for c0 in engines.values():
        assert_allclose(c0[:, 0, 1], 0.0)
        for f in range(2):
            oracle = stats.gamma(0.5 + 3 * 2.5, scale=1 / (G0[f, f] + np.sum(1 / var[:, f])))
            assert_allclose(np.quantile(c0[:, f, f], qs), oracle.ppf(qs), rtol=0.03)


def test_hierarchical_hyper_parameters():
    """c0 = 2.5 + (r - 1) / 2, g0 = 0.5 + (r - 1) / 2, G0 = 100 g0 / c0 diag(1 / R^2), the
    means' prior centred on the midpoint with the range as its scale unless Priors sets them."""
    X = np.array([[0.0, 1.0], [4.0, -1.0], [1.0, 0.0]])
    full = gibbs_priors(Priors(alpha=0.01), X, 3, "full", "hierarchical")
    assert full["iw_df"] == 2 * 3.0 and full["hier_g0"] == 1.0
    assert_allclose(full["hier_G0"], np.diag(100 * 1.0 / 3.0 / np.array([16.0, 4.0])))
    assert_allclose(full["iw_scale"], 2 * 1.0 * np.linalg.inv(full["hier_G0"]))  # 2 E[C0]
    assert_allclose(full["mean_loc"], [2.0, 0.0])
    assert_allclose(full["mean_scale"], [4.0, 2.0])
    diag = gibbs_priors(Priors(alpha=0.01, mean_loc=1.0, mean_scale=3.0), X, 3, "diag", "hierarchical")
    assert diag["kind"] == "diag" and diag["iw_df"] == 5.0 and diag["hier_g0"] == 0.5
    assert_allclose(diag["hier_G0"], np.diag(20.0 / np.array([16.0, 4.0])))
    assert_allclose(diag["mean_loc"], [1.0, 1.0])
    assert_allclose(diag["mean_scale"], [3.0, 3.0])


@pytest.mark.parametrize("d", [1, 3])
def test_allocation_step_compiled_equals_numpy_and_scipy(d, rng):
    n, k = 300, 4
    X = rng.normal(size=(n, d))
    logw = np.log(rng.dirichlet(np.ones(k)))
    logw[2] = -800.0  # a weight that underflows: never chosen
    means = rng.normal(size=(k, d))
    chol = np.tril(rng.normal(size=(k, d, d))) * 0.3
    chol[:, np.arange(d), np.arange(d)] = rng.uniform(0.5, 2.0, size=(k, d))
    logdet = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    u = rng.random(n)
    outs = []
    for engine in ("numba", "numpy"):
        bufs = (
            np.empty(n, dtype=np.int64),
            np.empty(k, dtype=np.int64),
            np.empty((k, d)),
            np.empty((k, d, d)),
        )
        ll = gn.allocate(engine)(X, logw, means, chol, logdet, u, *bufs)
        outs.append((ll, *bufs))
    (ll_a, z_a, nk_a, s1_a, s2_a), (ll_b, z_b, nk_b, s1_b, s2_b) = outs
    covs = np.linalg.inv(chol @ np.swapaxes(chol, 1, 2))
    dens = np.stack(
        [stats.multivariate_normal(means[j], covs[j]).logpdf(X).reshape(n) for j in range(k)], axis=1
    )
    assert_allclose(ll_a, logsumexp(dens + logw, axis=1).sum(), rtol=1e-10)
    assert_allclose(ll_b, ll_a, rtol=1e-12)
    np.testing.assert_array_equal(z_a, z_b)
    assert not np.any(z_a == 2)
    np.testing.assert_array_equal(nk_a, np.bincount(z_a, minlength=k))
    assert_allclose(s1_a, s1_b, atol=1e-10)
    assert_allclose(s2_a[1], X[z_a == 1].T @ X[z_a == 1], atol=1e-10)


# ----------------------------------------------------------------------------- exact posterior
X4 = np.array([-1.0, -0.6, 0.9, 2.5])


def _exact_occupied(scale_prior: str, k: int = 3, alpha: float = 0.5) -> np.ndarray:
    """P(number of occupied components) for X4: every allocation enumerated; the mean of a
    group integrated in closed form (x_g ~ N(m0 1, tau I + B0 1 1^T)), its variance by
    quadrature against the prior of tau."""
    if scale_prior == "halfnormal":  # sigma ~ HalfNormal(1): tau's density
        prior = lambda tau: stats.norm.pdf(np.sqrt(tau)) / np.sqrt(tau)  # noqa: E731
    else:  # IG(5/2, sd_scale^2 / 4)
        prior = stats.invgamma(2.5, scale=0.25).pdf
    cache: dict[tuple[int, ...], float] = {}

    def marginal(idx):
        if idx not in cache:
            xg, m = X4[list(idx)], len(idx)

            def f(tau, xg=xg, m=m):
                return stats.multivariate_normal.pdf(xg, np.zeros(m), tau * np.eye(m) + 2.25) * prior(tau)

            cache[idx] = integrate.quad(f, 0, np.inf, limit=200, epsrel=1e-10, epsabs=0)[0]
        return cache[idx]

    post = np.zeros(k)
    for z in itertools.product(range(k), repeat=X4.size):
        z = np.array(z)
        nk = np.bincount(z, minlength=k)
        log_pz = (
            gammaln(k * alpha) - gammaln(k * alpha + X4.size) + np.sum(gammaln(alpha + nk) - gammaln(alpha))
        )
        lik = np.prod([marginal(tuple(np.flatnonzero(z == j))) for j in range(k) if nk[j]])
        post[(nk > 0).sum() - 1] += np.exp(log_pz) * lik
    return post / post.sum()


def _exact_occupied_hierarchical(k: int = 3) -> np.ndarray:
    """P(number of occupied components) for X4 under the hierarchical prior: tau | C0 ~
    IG(2.5, C0), C0 ~ Gamma(0.5, rate 20 / R^2) (R = 3.5, the range of X4). The groups of an
    allocation share C0, so the product of their marginals given C0 is integrated against
    its prior; the integrals over tau and C0 are sums on fine grids in log scale (the
    mean's integral in closed form, as in :func:`_exact_occupied`)."""
    u = np.linspace(np.log(1e-5), np.log(1e4), 4000)
    tau = np.exp(u)
    v = np.linspace(np.log(1e-9), np.log(1e3), 3000)
    c0 = np.exp(v)[:, None]
    ig = np.exp(2.5 * np.log(c0) - gammaln(2.5) - 3.5 * np.log(tau) - c0 / tau) * tau * (u[1] - u[0])
    c0_weight = stats.gamma(0.5, scale=3.5**2 / 20).pdf(c0[:, 0]) * c0[:, 0] * (v[1] - v[0])
    given_c0 = {}  # a group's marginal likelihood for each C0 on the grid
    for m in range(1, X4.size + 1):
        for idx in itertools.combinations(range(X4.size), m):
            xg = X4[list(idx)]  # N(xg | 0, tau I + 2.25 1 1^T), eigen-decomposed
            quad = np.sum(xg**2) / tau - 2.25 * xg.sum() ** 2 / (tau * (tau + 2.25 * m))
            logdet = (m - 1) * np.log(tau) + np.log(tau + 2.25 * m)
            given_c0[idx] = ig @ np.exp(-0.5 * (m * np.log(2 * np.pi) + logdet + quad))
    post = np.zeros(k)
    for z in itertools.product(range(k), repeat=X4.size):
        z = np.array(z)
        nk = np.bincount(z, minlength=k)
        log_pz = gammaln(k * 0.5) - gammaln(k * 0.5 + X4.size) + np.sum(gammaln(0.5 + nk) - gammaln(0.5))
        lik = np.prod([given_c0[tuple(np.flatnonzero(z == j))] for j in range(k) if nk[j]], axis=0)
        post[(nk > 0).sum() - 1] += np.exp(log_pz) * np.sum(c0_weight * lik)
    return post / post.sum()


def test_grid_enumeration_reproduces_the_quadrature():
    """The grids of the hierarchical oracle, with C0 held at the fixed prior's value instead
    of integrated, give the quadrature oracle of the fixed prior."""
    u = np.linspace(np.log(1e-5), np.log(1e4), 4000)
    tau = np.exp(u)
    xg = X4[[0, 2, 3]]
    quad = np.sum(xg**2) / tau - 2.25 * xg.sum() ** 2 / (tau * (tau + 6.75))
    dens = np.exp(-0.5 * (3 * np.log(2 * np.pi) + 2 * np.log(tau) + np.log(tau + 6.75) + quad))
    grid = np.sum(dens * stats.invgamma(2.5, scale=0.25).pdf(tau) * tau) * (u[1] - u[0])
    ref = integrate.quad(
        lambda t: (
            stats.multivariate_normal.pdf(xg, np.zeros(3), t * np.eye(3) + 2.25)
            * stats.invgamma(2.5, scale=0.25).pdf(t)
        ),
        0,
        np.inf,
        epsrel=1e-10,
        epsabs=0,
    )[0]
    assert_allclose(grid, ref, rtol=1e-6)


@pytest.mark.parametrize(
    "scale_prior, engine, draws, alpha, split_moves",
    [
        ("inverse_wishart", "numba", 20000, 0.5, None),
        ("halfnormal", "numba", 20000, 0.5, None),
        ("inverse_wishart", "numpy", 1500, 0.5, None),
        ("hierarchical", "numba", 20000, 0.5, None),
        # the numpy chain needs this many sweeps for the count's ESS to pass: a slow test
        pytest.param("hierarchical", "numpy", 4000, 0.5, None, marks=pytest.mark.slow),
        # a sparse prior, where the split move's proposal of an empty component's share
        # matters; with and without the move
        ("inverse_wishart", "numba", 40000, 0.05, 1),
        ("inverse_wishart", "numba", 40000, 0.05, 0),
        pytest.param("inverse_wishart", "numpy", 10000, 0.05, 1, marks=pytest.mark.slow),
    ],
)
def test_occupied_posterior_equals_exact_enumeration(scale_prior, engine, draws, alpha, split_moves):
    if scale_prior == "hierarchical":
        exact = _exact_occupied_hierarchical()
    else:
        exact = _exact_occupied(scale_prior, alpha=alpha)
    g = sample_sparse_mixture(
        X4[:, None],
        3,
        priors=Priors(alpha=alpha, mean_loc=0.0, mean_scale=1.5, sd_scale=1.0),
        scale_prior=scale_prior,
        draws=draws,
        tune=200,
        chains=2,
        random_state=1,
        engine=engine,
        split_moves=split_moves,
    )
    got = np.bincount(g.occupied.ravel(), minlength=4)[1:] / g.occupied.size
    ess = g.diagnostics["invariant"]["occupied"]["ess_bulk"]
    assert_within(got, exact, 4 * np.sqrt(exact * (1 - exact) / ess))
    assert g.diagnostics["invariant_ok"]


@pytest.mark.parametrize("scale_prior", ["inverse_wishart", "hierarchical"])
def test_full_covariance_compiled_and_numpy_chains_agree(scale_prior):
    """Two features, full covariances: the compiled chain and the numpy one (written
    separately, with different random streams) give the same occupied posterior."""
    X = np.array([[-1.0, 0.2], [-0.6, -0.4], [0.9, 0.5], [2.5, 1.8], [2.2, 2.6]])
    pri = Priors(alpha=0.5, mean_loc=0.0, mean_scale=1.5, sd_scale=1.0)
    got = {}
    for engine, draws in (("numba", 20000), ("numpy", 1500)):
        g = sample_sparse_mixture(
            X,
            3,
            priors=pri,
            scale_prior=scale_prior,
            draws=draws,
            tune=200,
            chains=2,
            random_state=3,
            engine=engine,
        )
        got[engine] = (np.bincount(g.occupied.ravel(), minlength=4)[1:] / g.occupied.size, g.diagnostics)
    p, ess = got["numba"][0], got["numpy"][1]["invariant"]["occupied"]["ess_bulk"]
    assert_within(got["numpy"][0], p, 4 * np.sqrt(p * (1 - p) / ess) + 0.01)


# ----------------------------------------------------------------------------- behaviour
def test_seeded_and_deterministic():
    X, _ = make_mixture(200, [0.5, 0.5], [[-3.0], [3.0]], [[[1.0]], [[1.0]]], random_state=0)
    a = sample_sparse_mixture(X, 4, draws=50, tune=10, chains=2, random_state=5)
    b = sample_sparse_mixture(X, 4, draws=50, tune=10, chains=2, random_state=5)
    c = sample_sparse_mixture(X, 4, draws=50, tune=10, chains=2, random_state=6)
    np.testing.assert_array_equal(a.log_likelihood, b.log_likelihood)
    np.testing.assert_array_equal(a.means, b.means)
    assert not np.array_equal(a.log_likelihood, c.log_likelihood)
    assert a.weights.shape == (2, 50, 4) and a.covariances.shape == (2, 50, 4, 1, 1)
    assert_allclose(a.weights.sum(axis=2), 1.0)
    np.testing.assert_array_equal(a.sizes.sum(axis=2), 200)


def test_fit_occupied_components_defaults_to_gibbs():
    X, _ = make_mixture(300, [0.5, 0.5], [[-3.0], [3.0]], [[[1.0]], [[1.0]]], random_state=2)
    draws, occ = fit_occupied_components(X, 4, draws=1000, tune=500, random_state=0)
    assert isinstance(occ, OccupiedComponents) and occ.method == "gibbs" and occ.k_max == 4
    assert occ.counts.shape == (4, 1000)
    assert_allclose(occ.probabilities.sum(), 1.0)
    assert occ.probability(2) >= 0.9, occ.as_dict()
    assert occ.diagnostics_ok and "log_likelihood" in occ.diagnostics
    assert draws.priors["alpha"][0] == 0.01


def test_bad_arguments():
    X = np.zeros((10, 2)) + np.arange(10)[:, None]
    # the NUTS model's HalfNormal / LKJ prior is available for full covariances too
    assert gibbs_priors(None, X, 3, "full", "halfnormal")["kind"] == "full"
    with pytest.raises(ValueError, match="The 'scale_prior' parameter must be one of"):
        gibbs_priors(None, X, 3, "full", "wishart")
    with pytest.raises(ValueError, match="The 'engine' parameter must be one of"):
        sample_sparse_mixture(X, 3, engine="gpu")
    with pytest.raises(ValueError, match="The 'method' parameter must be one of"):
        fit_occupied_components(X, 3, method="vi")
    with pytest.raises(TypeError, match="must be a Priors instance"):
        sample_sparse_mixture(X, 3, priors={"alpha": 0.01})


# ----------------------------------------------------------------------------- against NUTS
@pytest.mark.slow
def test_same_posterior_as_nuts_where_nuts_mixes():
    """alpha = 1, K = 2, 300 well-separated 1-D points, the NUTS model's own HalfNormal
    prior: the Gibbs sampler and NUTS target the same posterior, so the posterior means of
    the (sorted) weights, means and standard deviations agree within Monte Carlo error."""
    from bayesgmm.bayes.sampling import BayesianGaussianMixture

    X, _ = make_mixture(300, [0.4, 0.6], [[-2.0], [2.0]], [[[1.0]], [[0.8]]], random_state=3)
    pri = Priors(alpha=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nuts = BayesianGaussianMixture(2, priors=pri, draws=1000, tune=500, random_state=0).fit(X)
    g = sample_sparse_mixture(
        X, 2, priors=pri, scale_prior="halfnormal", draws=3000, tune=500, random_state=0
    )
    order = np.argsort(g.means[..., 0], axis=-1)
    take = lambda a: np.take_along_axis(a, order, axis=-1)  # noqa: E731
    gibbs = {
        "w": take(g.weights),
        "mu": take(g.means[..., 0]),
        "sd": take(np.sqrt(g.covariances[..., 0, 0])),
    }
    dr = nuts.mixture_draws_
    ref = {"w": dr.w, "mu": dr.mu[..., 0], "sd": dr.sd[..., 0]}
    for name in gibbs:
        a, b = gibbs[name].reshape(-1, 2), ref[name].reshape(-1, 2)
        se = np.sqrt(a.var(axis=0) / 1000 + b.var(axis=0) / 500)  # ESS-sized error
        assert_within(a.mean(axis=0), b.mean(axis=0), 4 * se)
        assert_allclose(a.std(axis=0), b.std(axis=0), rtol=0.15, err_msg=name)


def test_compare_and_the_progress_line_carry_the_occupied_posterior():
    from bayesgmm.bayes._progress import occupied_line
    from bayesgmm.bayes.compare import ModelResult, compare

    stats_ = {"occupied": {"rhat": 1.0, "ess_bulk": 500.0, "ess_tail": 400.0}}
    occ = OccupiedComponents(3, np.array([[2, 2, 3]]), np.array([0.0, 2 / 3, 1 / 3]), True, "gibbs", stats_)
    rows = [ModelResult(k, "full", -10.0 * k, True, 2 * k, 1.0, 2.0, 3.0) for k in (1, 2, 3)]
    table = compare(rows, occupied=occ)
    assert_allclose(table["p_occupied"], [0.0, 2 / 3, 1 / 3])
    assert table.attrs["occupied"] == {1: 0.0, 2: 2 / 3, 3: 1 / 3}
    assert table.attrs["occupied_diagnostics"] == stats_
    assert occupied_line(occ, 1.25).endswith("2: 0.67, 3: 0.33 (R-hat 1.000 / ESS 500 of the count)")


def test_split_move_leaves_the_full_covariance_posterior_unchanged():
    """Two features, full covariances, a small sample: the chain with the split move and the
    chain without it (each exact on its own) give the same occupied posterior and the same
    posterior mean of the total log-likelihood."""
    X = np.array([[-1.0, 0.2], [-0.6, -0.4], [0.9, 0.5], [2.5, 1.8], [2.2, 2.6], [0.1, 1.1]])
    pri = Priors(alpha=0.3, mean_loc=0.5, mean_scale=2.0, sd_scale=1.0)
    runs = {
        m: sample_sparse_mixture(
            X, 3, priors=pri, draws=20000, tune=500, chains=2, random_state=5, split_moves=m
        )
        for m in (0, 1)
    }
    p = {m: np.bincount(g.occupied.ravel(), minlength=4)[1:] / g.occupied.size for m, g in runs.items()}
    ess = min(g.diagnostics["invariant"]["occupied"]["ess_bulk"] for g in runs.values())
    se = np.sqrt(2 * p[0] * (1 - p[0]) / ess)
    assert np.all(np.abs(p[1] - p[0]) <= 4 * se + 1e-3), (p, se)
    ll = {m: g.log_likelihood for m, g in runs.items()}
    ll_ess = min(g.diagnostics["invariant"]["log_likelihood"]["ess_bulk"] for g in runs.values())
    assert abs(ll[1].mean() - ll[0].mean()) < 4 * np.sqrt(2 / ll_ess) * ll[0].std()


def test_every_chain_starts_from_k_max_clusters():
    X = np.random.default_rng(0).standard_normal((200, 2))
    starts = starting_allocations(X, 5, 4, np.random.default_rng(1))
    assert len(starts) == 4
    assert all(np.unique(z).size == 5 for z in starts)
    assert any(not np.array_equal(starts[0], z) for z in starts[1:])  # their own seeds
    with pytest.raises(ValueError, match="'split_moves' parameter must be 0 with scale_prior='halfnormal'"):
        sample_sparse_mixture(X, 3, scale_prior="halfnormal", split_moves=1, draws=5, tune=0)
