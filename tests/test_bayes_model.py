"""bayesgmm.bayes.model and ._likelihood: priors, the PyMC graph, the fused Op."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

pm = pytest.importorskip("pymc")

from pymc.blocking import DictToArrayBijection  # noqa: E402
from pymc.initial_point import make_initial_point_fn  # noqa: E402

from bayesgmm import GaussianMixture, GMMParams, make_mixture  # noqa: E402
from bayesgmm.bayes import _likelihood  # noqa: E402
from bayesgmm.bayes.model import (  # noqa: E402
    OrderedFirstColumn,
    Priors,
    build_model,
    initial_values,
    model_kind,
)

COV2 = [np.eye(2), [[1.0, 0.5], [0.5, 1.0]], [[2.0, -0.3], [-0.3, 0.5]]]


def data_1d(n=300, seed=0):
    r = np.random.default_rng(seed)
    return np.concatenate([r.normal(1.58, 0.05, n // 2), r.normal(1.71, 0.056, n - n // 2)])[:, None]


def data_2d(n=300, seed=1):
    X, _ = make_mixture(n, [0.3, 0.3, 0.4], [[-4, 0], [0, 4], [4, 0]], COV2, random_state=seed)
    return X


CASES = [("1d", 2, "full"), ("2d", 3, "full"), ("2d", 3, "diag")]


def case_data(name):
    return data_1d() if name == "1d" else data_2d()


def random_point(model, params, ct, seed):
    """A transformed point near ``params`` (jittered in the unconstrained space)."""
    iv = initial_values(params, ct)
    fn = make_initial_point_fn(
        model=model, overrides=iv, jitter_rvs=set(model.free_RVs), return_transformed=True
    )
    return fn(seed)


def em_params(X, k, ct):
    return GaussianMixture(k, covariance_type=ct, tol=1e-8, max_iter=10000, random_state=0).fit(X).params_


# ----------------------------------------------------------------------------- priors
def test_priors_defaults_are_scaled_to_the_data(rng):
    X = rng.normal([10.0, -3.0], [2.0, 0.5], size=(500, 2))
    hp = Priors().resolve(X, 3)
    assert_allclose(hp["alpha"], np.ones(3))
    assert_allclose(hp["mean_loc"], X.mean(axis=0))
    assert_allclose(hp["mean_scale"], 2 * X.std(axis=0))
    assert_allclose(hp["sd_scale"], 2 * X.std(axis=0))
    assert hp["lkj_eta"] == 2.0
    hp = Priors(alpha=[1, 2, 3], mean_loc=0.0, mean_scale=[1, 2], sd_scale=4, lkj_eta=1).resolve(X, 3)
    assert_allclose(hp["alpha"], [1, 2, 3])
    assert_allclose(hp["mean_loc"], [0, 0])
    assert_allclose(hp["mean_scale"], [1, 2])
    assert_allclose(hp["sd_scale"], [4, 4])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": [1, -1]}, "alpha"),
        ({"mean_scale": -1.0}, "mean_scale"),
        ({"sd_scale": np.nan}, "sd_scale"),
        ({"mean_loc": [[1.0]]}, "mean_loc"),
        ({"lkj_eta": 0}, "lkj_eta"),
        ({"lkj_eta": True}, "lkj_eta"),
    ],
)
def test_priors_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Priors(**kwargs)


def test_priors_length_mismatch(rng):
    with pytest.raises(ValueError, match="mean_scale.*length 2"):
        Priors(mean_scale=[1, 2, 3]).resolve(rng.normal(size=(10, 2)), 2)
    with pytest.raises(ValueError, match="alpha.*length 3"):
        Priors(alpha=[1, 2]).resolve(rng.normal(size=(10, 2)), 3)


def test_priors_are_frozen():
    p = Priors()
    with pytest.raises(AttributeError):
        p.alpha = 2.0


# ----------------------------------------------------------------------------- the graph
def test_model_structure_full_2d():
    X = data_2d()
    m = build_model(X, 3)
    assert list(m.coords["component"]) == [0, 1, 2]
    assert list(m.coords["feature"]) == [0, 1]
    assert len(m.coords["obs_id"]) == X.shape[0]
    assert sorted(v.name for v in m.free_RVs) == ["chol", "mu", "w"]
    assert m.named_vars_to_dims["chol"] == ("component", "packed")
    assert m.named_vars_to_dims["w"] == ("component",)
    assert m.named_vars_to_dims["mu"] == ("component", "feature")
    assert m.named_vars_to_dims["sigma"] == ("component", "feature")
    assert [p.name for p in m.potentials] == ["loglike"]
    assert not m.observed_RVs


def test_model_structure_1d_and_pymc_likelihood():
    X = data_1d()
    m = build_model(X, 2, likelihood="pymc")
    assert sorted(v.name for v in m.free_RVs) == ["mu", "sigma", "w"]
    assert m.named_vars_to_dims["sigma"] == ("component",)
    assert [v.name for v in m.observed_RVs] == ["x"]
    assert m.named_vars_to_dims["x"] == ("obs_id",)
    m2 = build_model(data_2d(), 3, covariance_type="diag", likelihood="pymc")
    assert m2.named_vars_to_dims["sigma"] == ("component", "feature")
    assert m2.named_vars_to_dims["x"] == ("obs_id", "feature")


def test_model_kind_and_refusals():
    assert model_kind("full", 1) == "diag"  # one feature: one sd per component either way
    assert model_kind("full", 2) == "full"
    assert model_kind("diag", 3) == "diag"
    X = data_2d()
    for ct in ("tied", "spherical"):
        with pytest.raises(ValueError, match="supports covariance_type 'full' or 'diag'"):
            build_model(X, 2, covariance_type=ct)
    with pytest.raises(ValueError, match="covariance_type"):
        build_model(X, 2, covariance_type="banana")
    with pytest.raises(ValueError, match="likelihood"):
        build_model(X, 2, likelihood="exact")
    with pytest.raises(ValueError, match="n_components"):
        build_model(X, 0)
    with pytest.raises(TypeError, match="Priors"):
        build_model(X, 2, priors={"alpha": 1.0})


# ----------------------------------------------------------------------------- fused == PyMC
@pytest.mark.parametrize("name, k, ct", CASES)
def test_fused_and_pymc_likelihoods_agree(name, k, ct):
    X = case_data(name)
    params = em_params(X, k, ct)
    fused = build_model(X, k, covariance_type=ct, likelihood="fused")
    ref = build_model(X, k, covariance_type=ct, likelihood="pymc")
    f1 = fused.logp_dlogp_function(ravel_inputs=True)
    f2 = ref.logp_dlogp_function(ravel_inputs=True)
    f1.set_extra_values({})
    f2.set_extra_values({})
    assert [v.name for v in f1._grad_vars] == [v.name for v in f2._grad_vars]
    for seed in range(4):
        point = random_point(fused, params, ct, seed)
        q = DictToArrayBijection.map({v.name: point[v.name] for v in f1._grad_vars}).data
        lp1, g1 = f1(q)
        lp2, g2 = f2(q)
        assert np.isfinite(lp1)
        assert_allclose(lp1, lp2, rtol=1e-8)
        assert_allclose(g1, g2, rtol=1e-8, atol=1e-8 * np.max(np.abs(g2)))


def test_one_pass_per_logp_and_gradient():
    """logp and dlogp come from one apply node: one pass over the data per evaluation."""
    X = data_2d()
    m = build_model(X, 3)
    loglike = m.replace_rvs_by_values([next(p for p in m.potentials if p.name == "loglike")])[0]
    (op,) = {
        node.op
        for node in m.compile_fn(
            loglike, inputs=m.value_vars, point_fn=False, on_unused_input="ignore"
        ).maker.fgraph.apply_nodes
        if isinstance(node.op, _likelihood.MixtureLogLike)
    }
    # Python's linker runs the Op's perform, which counts its calls (PyMC 6 compiles with
    # numba by default, where the Op's compiled twin runs instead)
    from pytensor.compile.mode import Mode

    f = m.logp_dlogp_function(ravel_inputs=True, mode=Mode(linker="py", optimizer="fast_run"))
    f.set_extra_values({})
    nodes = [
        n
        for n in f._pytensor_function.maker.fgraph.apply_nodes
        if isinstance(n.op, _likelihood.MixtureLogLike)
    ]
    assert len(nodes) == 1
    point = random_point(m, em_params(X, 3, "full"), "full", 0)
    q = DictToArrayBijection.map({v.name: point[v.name] for v in f._grad_vars}).data
    before = nodes[0].op.n_calls
    f(q)
    assert nodes[0].op.n_calls - before == 1
    assert op is nodes[0].op


@pytest.mark.parametrize("kind, d", [("full", 1), ("full", 3), ("diag", 2)])
def test_op_gradient_matches_finite_differences(rng, kind, d):
    """The closed-form gradient (Fisher's identity) against central differences."""
    X = rng.normal(size=(200, d)) * [1.0, 2.0, 0.5][:d]
    shift = X.mean(axis=0)
    w = np.array([0.3, 0.7])
    mu = rng.normal(size=(2, d))
    if kind == "full":
        A = rng.normal(size=(2, d, d))
        scale = np.linalg.cholesky(A @ np.swapaxes(A, 1, 2) + np.eye(d))
    else:
        scale = rng.uniform(0.5, 2.0, size=(2, d))
    ll, gw, gmu, gs = _likelihood.mixture_loglike_and_grad(X, shift, w, mu, scale, kind)
    expected = np.sum(
        np.log(
            sum(
                wk * stats.multivariate_normal(m, c).pdf(X)
                for wk, m, c in zip(
                    w,
                    mu,
                    scale @ np.swapaxes(scale, 1, 2) if kind == "full" else [np.diag(s**2) for s in scale],
                    strict=True,
                )
            )
        )
    )
    assert_allclose(ll, expected, rtol=1e-10)

    def f(w_, mu_, s_):
        return _likelihood.mixture_loglike_and_grad(X, shift, w_, mu_, s_, kind)[0]

    h = 1e-6
    for arr, g, pos in ((w, gw, 0), (mu, gmu, 1), (scale, gs, 2)):
        for idx in np.ndindex(arr.shape):
            if kind == "full" and pos == 2 and idx[1] < idx[2]:
                assert g[idx] == 0.0  # upper triangle of L is not a parameter
                continue
            args_p = [w.copy(), mu.copy(), scale.copy()]
            args_m = [w.copy(), mu.copy(), scale.copy()]
            args_p[pos][idx] += h
            args_m[pos][idx] -= h
            num = (f(*args_p) - f(*args_m)) / (2 * h)
            assert_allclose(g[idx], num, rtol=1e-5, atol=1e-5)


def test_op_result_does_not_depend_on_threads(rng):
    X = rng.normal(size=(70000, 2))
    w, mu = np.array([0.4, 0.6]), np.array([[-0.5, 0.0], [0.5, 0.2]])
    L = np.linalg.cholesky(np.array([np.eye(2), [[1.0, 0.3], [0.3, 2.0]]]))
    one = _likelihood.mixture_loglike_and_grad(X, X.mean(axis=0), w, mu, L, "full", threads=1)
    two = _likelihood.mixture_loglike_and_grad(X, X.mean(axis=0), w, mu, L, "full", threads=2)
    for a, b in zip(one, two, strict=True):
        assert_array_equal(a, b)


# ----------------------------------------------------------------------------- vs scipy
def _compile_logp_nojac(model):
    return model.compile_logp(jacobian=False)


def _transformed(model, values):
    return make_initial_point_fn(model=model, overrides=values, jitter_rvs=set(), return_transformed=True)(0)


@pytest.mark.parametrize("likelihood", ["fused", "pymc"])
def test_logp_matches_scipy_1d(likelihood):
    X = data_1d()
    m = build_model(X, 2, likelihood=likelihood)
    w, mu, sd = np.array([0.45, 0.55]), np.array([1.57, 1.72]), np.array([0.04, 0.06])
    logp = _compile_logp_nojac(m)(_transformed(m, {"w": w, "mu": mu[:, None], "sigma": sd}))
    loc, scale, sds = X.mean(), 2 * X.std(), 2 * X.std()
    expected = (
        stats.dirichlet.logpdf(w, [1.0, 1.0])
        + stats.norm.logpdf(mu, loc, scale).sum()
        + stats.halfnorm.logpdf(sd, scale=sds).sum()
        + np.log(
            w[0] * stats.norm.pdf(X[:, 0], mu[0], sd[0]) + w[1] * stats.norm.pdf(X[:, 0], mu[1], sd[1])
        ).sum()
    )
    assert_allclose(logp, expected, rtol=1e-10)


def test_logp_matches_scipy_2d_diag():
    X = data_2d()
    pri = Priors(alpha=[1.0, 2.0, 3.0], lkj_eta=3.0)
    m = build_model(X, 3, covariance_type="diag", priors=pri)
    w = np.array([0.2, 0.3, 0.5])
    mu = np.array([[-3.5, 0.2], [0.1, 3.8], [4.2, -0.1]])
    sd = np.array([[1.0, 0.9], [1.1, 1.2], [1.4, 0.7]])
    logp = _compile_logp_nojac(m)(_transformed(m, {"w": w, "mu": mu, "sigma": sd}))
    std = X.std(axis=0)
    dens = sum(
        wk * stats.multivariate_normal(mk, np.diag(sk**2)).pdf(X)
        for wk, mk, sk in zip(w, mu, sd, strict=True)
    )
    expected = (
        stats.dirichlet.logpdf(w, [1.0, 2.0, 3.0])
        + stats.norm.logpdf(mu, X.mean(axis=0), 2 * std).sum()
        + stats.halfnorm.logpdf(sd, scale=2 * std).sum()
        + np.log(dens).sum()
    )
    assert_allclose(logp, expected, rtol=1e-10)


@pytest.mark.parametrize("likelihood", ["fused", "pymc"])
def test_logp_matches_scipy_2d_full_lkj(likelihood):
    """For d = 2 the LKJ Cholesky density has a closed form.

    With standard deviations s1, s2 and correlation r, L = [[s1, 0], [s2 r, s2 sqrt(1 - r^2)]];
    the LKJ(eta) density of r is that of 2 Beta(eta, eta) - 1, and the Jacobian of
    (s1, s2, r) -> (L11, L21, L22) is s2 / sqrt(1 - r^2).
    """
    X = data_2d()
    eta = 2.0
    m = build_model(X, 3, likelihood=likelihood, priors=Priors(lkj_eta=eta))
    w = np.array([0.25, 0.35, 0.4])
    mu = np.array([[-3.8, 0.3], [0.2, 3.9], [4.1, 0.2]])
    covs = np.array([[[1.2, 0.1], [0.1, 0.8]], [[1.0, 0.6], [0.6, 1.3]], [[1.8, -0.4], [-0.4, 0.6]]])
    il = np.tril_indices(2)
    values = {"w": w, "mu": mu, "chol": np.linalg.cholesky(covs)[:, il[0], il[1]]}
    logp = _compile_logp_nojac(m)(_transformed(m, values))
    std = X.std(axis=0)
    prior = stats.dirichlet.logpdf(w, np.ones(3)) + stats.norm.logpdf(mu, X.mean(axis=0), 2 * std).sum()
    for c in covs:
        s = np.sqrt(np.diag(c))
        r = c[0, 1] / (s[0] * s[1])
        prior += stats.halfnorm.logpdf(s, scale=2 * std).sum()
        prior += stats.beta.logpdf((r + 1) / 2, eta, eta) - np.log(2.0)
        prior += np.log(np.sqrt(1 - r**2) / s[1])
    dens = sum(wk * stats.multivariate_normal(mk, ck).pdf(X) for wk, mk, ck in zip(w, mu, covs, strict=True))
    assert_allclose(logp, prior + np.log(dens).sum(), rtol=1e-10)


@pytest.mark.parametrize("n, eta", [(2, 1.0), (2, 2.0), (3, 2.0), (4, 3.5)])
def test_lkj_log_normaliser(n, eta):
    """The LKJ constant integrates the density to 1 (n = 2 by quadrature) and, for every n,
    puts the batched density at the identity where the closed form says it is."""
    from bayesgmm.bayes._log_posterior_numba import lkj_log_normaliser as _lkj_log_normaliser

    if n == 2:
        from scipy.integrate import quad

        total = quad(lambda r: (1 - r * r) ** (eta - 1), -1, 1)[0]
        assert_allclose(_lkj_log_normaliser(2, eta), np.log(total), rtol=1e-12)
    # at L = I every correlation term vanishes: the density is sum log HalfNormal(1) - log c
    lp = _batched_lkj_logp(np.eye(n)[np.tril_indices(n)][None], eta, np.ones(n))
    assert_allclose(lp, [stats.halfnorm.logpdf(np.ones(n)).sum() - _lkj_log_normaliser(n, eta)], rtol=1e-12)


def _batched_lkj_logp(values, eta, sd_scale):
    from bayesgmm.bayes.model import lkj_cholesky_cov_logp

    return lkj_cholesky_cov_logp(pm.pytensorf.floatX(np.asarray(values)), eta, np.asarray(sd_scale)).eval()


@pytest.mark.parametrize("n, eta", [(2, 2.0), (3, 1.5), (4, 3.5)])
def test_batched_lkj_equals_pymc_up_to_its_constant(rng, n, eta):
    """Row by row, the batched density is PyMC's one-factor LKJCholeskyCov density, shifted
    by the same constant for every factor: PyMC 5 adds the LKJ normaliser where it should
    subtract it (a shift of twice the constant), PyMC 6 subtracts it (no shift)."""
    sd_scale = rng.uniform(0.5, 2.0, size=n)
    A = rng.normal(size=(4, n, n))
    L = np.linalg.cholesky(A @ np.swapaxes(A, 1, 2) + np.eye(n))
    il = np.tril_indices(n)
    packed = L[:, il[0], il[1]]
    ours = _batched_lkj_logp(packed, eta, sd_scale)
    dist = pm.LKJCholeskyCov.dist(
        eta=eta, n=n, sd_dist=pm.HalfNormal.dist(sigma=sd_scale, shape=n), compute_corr=False
    )
    theirs = np.array([float(pm.logp(dist, p).eval()) for p in packed])
    shift = ours - theirs
    assert_allclose(shift, shift[0], rtol=0, atol=1e-10)
    from bayesgmm.bayes._log_posterior_numba import lkj_log_normaliser

    # PyMC's constant agrees with the closed form to ~1e-7 (its own evaluation of it)
    expected = -2 * lkj_log_normaliser(n, eta) if int(pm.__version__.split(".")[0]) < 6 else 0.0
    assert_allclose(shift[0], expected, rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------- transform, starts
def test_ordered_first_column_transform(rng):
    import pytensor
    import pytensor.tensor as pt

    t = OrderedFirstColumn()
    v = pt.dmatrix("v")
    back = pytensor.function([v], t.backward(v))
    fwd = pytensor.function([v], t.forward(v))
    ljd = pytensor.function([v], t.log_jac_det(v).sum())
    y = rng.normal(size=(4, 3))
    x = back(y)
    assert np.all(np.diff(x[:, 0]) > 0)
    assert_array_equal(x[:, 1:], y[:, 1:])
    assert_allclose(fwd(x), y, rtol=1e-12, atol=1e-12)
    J = pytensor.function([v], pytensor.gradient.jacobian(t.backward(v).ravel(), v))(y).reshape(12, 12)
    assert_allclose(ljd(y), np.linalg.slogdet(J)[1], rtol=1e-12, atol=1e-12)


def test_initial_values_are_ordered_and_invert_the_parametrisation():
    p = GMMParams(
        [0.5, 0.3, 0.2],
        [[2.0, 1.0], [-1.0, 0.0], [0.5, 3.0]],
        [[[1.0, 0.2], [0.2, 2.0]], np.eye(2), [[0.5, -0.1], [-0.1, 0.4]]],
    )
    iv = initial_values(p, "full")
    assert_allclose(iv["w"], [0.3, 0.2, 0.5])
    assert_allclose(iv["mu"][:, 0], [-1.0, 0.5, 2.0])
    il = np.tril_indices(2)
    L = np.zeros((2, 2))
    L[il] = iv["chol"][2]
    assert_allclose(L @ L.T, [[1.0, 0.2], [0.2, 2.0]])
    ivd = initial_values(p, "diag")
    assert_allclose(ivd["sigma"], np.sqrt([[1.0, 1.0], [0.5, 0.4], [1.0, 2.0]]))
    tie = GMMParams([0.5, 0.5], [[1.0], [1.0]], [1.0, 2.0], "spherical")
    iv1 = initial_values(tie, "full")
    assert iv1["mu"][1, 0] > iv1["mu"][0, 0]
    assert iv1["sigma"].shape == (2,)
