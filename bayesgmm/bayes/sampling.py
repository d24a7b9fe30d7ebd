r"""``BayesianGaussianMixture``: the exact posterior of the mixture, sampled by MCMC.

Unlike scikit-learn's ``BayesianGaussianMixture`` (a variational approximation with a
Dirichlet-process prior), this class samples the exact posterior of the model of
:func:`bayesgmm.bayes.model.build_model` with NUTS.

The fast path (``sampler="auto"``, ``init="em"``, ``likelihood="fused"``):

1. fit the converged EM solution (or take the one given to :meth:`fit`);
2. build the model with the fused likelihood: one pass over the data per NUTS gradient,
   no n x K temporaries (:mod:`bayesgmm.bayes._likelihood`);
3. start every chain at the EM solution (all parameters, through
   ``pm.sample(initvals=...)``);
4. seed the mass matrix with the inverse of the observed information at the EM estimate
   (the Laplace approximation: central finite differences of the compiled gradient in
   the sampler's unconstrained space). For large n the posterior is close to Gaussian
   there, so NUTS needs no mass-matrix adaptation -- only its step size is tuned,
   and ``tune`` can be short (a few hundred);
5. use the CPUs without oversubscribing them: chains in parallel processes when
   there are more CPUs than chains, each pass on ``CPUs // processes`` threads (one
   thread below 65 536 rows); see ``cores``.

``init`` set to one of PyMC's init strategies (e.g. ``"jitter+adapt_diag"``) and
``likelihood="pymc"`` give PyMC's default sampler on PyMC's default mixture graph (the
baseline of ``benchmarks/mcmc_heights.py``). ``sampler="nutpie"`` / ``"numpyro"`` hand
PyMC's graph (``likelihood="pymc"``) to those external samplers when installed
(optional extras; they cannot run the fused Op).
"""

from __future__ import annotations

import time
import warnings
from collections import OrderedDict
from typing import Any

import numpy as np

from .. import _kernels
from .._validation import check_int, check_option, check_random_state, check_real, check_X
from ..em import converged_em
from ..exceptions import NotFittedError, SamplingWarning
from ..gaussian_mixture import GaussianMixture
from ..params import GMMParams
from ._likelihood import precision_cholesky_from_chol
from .model import LIKELIHOODS, Priors, build_model, initial_values, model_kind
from .relabel import permute_components, relabel_draws

__all__ = ["BayesianGaussianMixture", "laplace_covariance"]

SAMPLERS = ("auto", "pymc", "nutpie", "numpyro")
PYMC_INITS = (
    "auto",
    "adapt_diag",
    "jitter+adapt_diag",
    "jitter+adapt_diag_grad",
    "adapt_full",
    "jitter+adapt_full",
)
INITS = ("em", *PYMC_INITS)
RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100
BFMI_MIN = 0.3


def laplace_covariance(
    model,
    point: dict[str, np.ndarray],
    *,
    value_vars=None,
    logp_dlogp_func=None,
    rel_step: float = 1e-2,
):
    """Inverse observed information of the model's log-density at ``point``.

    Central finite differences of the compiled gradient in the sampler's unconstrained
    space, in two rounds: a first with a small absolute step estimates each coordinate's
    curvature, a second with steps of ``rel_step`` x the implied standard deviation.
    Directions of non-negative curvature (not a local maximum) get the magnitude of their
    curvature, floored, so the result is always positive definite.

    Parameters
    ----------
    model : pm.Model
    point : dict
        Transformed (unconstrained) values of ``value_vars``.
    value_vars : list, optional
        Defaults to ``model.continuous_value_vars``; the order is that of the raveled vector.
    logp_dlogp_func : optional
        ``model.logp_dlogp_function(value_vars, ravel_inputs=True)``, if already compiled
        (the same function NUTS then uses: one compilation).

    Returns
    -------
    cov : array of shape (n_params, n_params)
    theta : array of shape (n_params,)
        The raveled point.
    """
    from pymc.blocking import DictToArrayBijection

    if value_vars is None:
        value_vars = model.continuous_value_vars
    f = logp_dlogp_func
    if f is None:
        f = model.logp_dlogp_function(value_vars, ravel_inputs=True)
    f.set_extra_values({})
    theta = DictToArrayBijection.map({v.name: np.asarray(point[v.name]) for v in value_vars}).data.copy()
    p = theta.size

    def hessian(steps):
        H = np.empty((p, p))
        for j in range(p):
            e = np.zeros(p)
            e[j] = steps[j]
            _, gp = f(theta + e)
            _, gm = f(theta - e)
            H[:, j] = (gp - gm) / (2.0 * steps[j])
        return 0.5 * (H + H.T)

    H = hessian(1e-5 * np.maximum(1.0, np.abs(theta)))
    curv = np.abs(np.diag(H))
    sd = 1.0 / np.sqrt(np.where(curv > 0, curv, 1.0))
    H = hessian(rel_step * sd)
    lam, V = np.linalg.eigh(-H)
    if not np.all(np.isfinite(lam)):
        raise ValueError("The observed information at the starting point is not finite.")
    lam = np.abs(lam)
    lam = np.maximum(lam, 1e-10 * lam.max() if lam.max() > 0 else 1.0)
    cov = (V / lam) @ V.T
    return 0.5 * (cov + cov.T), theta


SMALL_N = 8 * _kernels.BLOCK_ROWS  # below this a pass is too short to split over threads


def _parallelism(chains: int, cores: int | None, n: int) -> tuple[int, int]:
    """(processes running chains, threads per likelihood pass): never more busy threads than CPUs.

    By default chains run in parallel processes only when there is a CPU to spare for
    PyMC's parent process (which records every draw): on 2 CPUs with 2 chains, parallel
    processes were measured slower than sequential chains (20 000 heights: 4.0 s vs
    3.1 s of sampling; 450 points 2-D: 7.0 s vs 5.8 s) and no faster on 200 000 rows
    (18.5 s both, two threads per pass). A pass is split over threads only when it has
    at least ``SMALL_N`` rows; below that the hand-off costs more than it saves.
    """
    cpus = _kernels.default_threads()
    if cores is None:
        cores = chains if cpus > chains else 1
    cores = max(1, min(cores, chains))
    threads = 1 if n < SMALL_N else max(1, cpus // cores)
    return cores, threads


def _quantile_means(X: np.ndarray, k: int) -> np.ndarray:
    """Ordered starting means for PyMC's own inits: quantiles along feature 0, data mean elsewhere."""
    means = np.tile(X.mean(axis=0), (k, 1))
    q = np.quantile(X[:, 0], (np.arange(k) + 0.5) / k)
    spread = max(float(np.std(X[:, 0])), 1e-8)
    for j in range(1, k):
        q[j] = max(q[j], q[j - 1] + 1e-3 * spread)
    means[:, 0] = q
    return means


class BayesianGaussianMixture:
    """Gaussian mixture with the exact posterior sampled by MCMC (PyMC's NUTS).

    This samples the exact posterior distribution of the mixture's weights, means and
    covariances (labels marginalised) by Markov chain Monte Carlo -- unlike
    scikit-learn's ``BayesianGaussianMixture`` of the same name, which fits a
    variational approximation.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {"full", "diag"}, default="full"
        See :func:`bayesgmm.bayes.model.build_model` ("tied"/"spherical" are refused).
    priors : Priors, optional
        Default ``Priors()``: weakly informative, scaled to the data.
    draws, tune : int, default=1000
        Draws kept and tuning steps per chain. With ``init="em"`` only the step size is
        tuned (the mass matrix comes from the observed information), so a few hundred
        tuning steps suffice.
    chains : int, default=2
    target_accept : float, default=0.9
    sampler : {"auto", "pymc", "nutpie", "numpyro"}, default="auto"
        "auto" and "pymc": PyMC's NUTS (the fast path with ``init="em"`` and the fused
        likelihood). "nutpie"/"numpyro": PyMC's external samplers, when installed; they
        need ``likelihood="pymc"``.
    init : {"em", "auto", "adapt_diag", "jitter+adapt_diag", ...}, default="em"
        "em": every chain starts at the converged EM solution and the mass matrix is the
        inverse observed information there. Any other value is passed to ``pm.sample``
        as PyMC's own init (the means start at quantiles of feature 0, ordered).
    likelihood : {"fused", "pymc"}, default="fused"
    random_state : int, numpy Generator or None
    progressbar : bool, default=False
    store_log_likelihood : bool, default=True
        Store the pointwise log-likelihood (chain x draw x n_samples floats) in
        ``idata_.log_likelihood``; set False for very large data.
    cores : int, optional
        Chains run in parallel processes. Default: all ``chains`` at once when the
        machine has more CPUs than chains, else one after the other (measured faster on
        2 CPUs: PyMC's parent process needs a core too). Each likelihood pass uses
        ``CPUs // cores`` threads (one for fewer than 65 536 rows), so threads never
        outnumber CPUs.
    em_n_init : int, default=3
        EM initialisations when :meth:`fit` fits the reference itself.

    Notes
    -----
    The Laplace metric is exact in the large-n limit. With a few hundred points and
    overlapping components the posterior has heavy tails (towards a light, narrow
    component) that a fixed metric can meet with a few divergent transitions -- flagged
    by a :class:`SamplingWarning`. Measured on 500 height rows, 6 seeds, 2 x 1000
    draws: 0-9 divergences per run at ``target_accept=0.9`` (PyMC's default sampler:
    none, but bulk ESS 230-370 and R-hat up to 1.02), 1 in all six runs at
    ``target_accept=0.95``; none at 2 000 rows. Raise ``target_accept`` for small data.

    Attributes
    ----------
    idata_ : arviz.InferenceData
        ``posterior`` (``w``, ``mu``, ``sigma`` [, ``cov``] relabelled against EM; the
        packed ``chol_k`` are the sampler's raw values), ``sample_stats`` and, unless
        disabled, ``log_likelihood`` with one variable ``x`` of dims
        (chain, draw, obs_id).
    em_ : GaussianMixture
        The EM fit the chains started from and the labels are aligned to.
    reference_ : GMMParams
        ``em_``'s parameters sorted along feature 0 (the labelling of every summary).
    weights_ : array of shape (n_components,)
    means_ : array of shape (n_components, n_features)
    covariances_ : array
        (K, d, d) for "full", (K, d) for "diag". All three are posterior means.
    diagnostics_ : dict
        ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``, ``divergences``, ``bfmi``
        (list, one per chain).
    relabelled_fraction_ : float
        Share of draws whose labels relabelling changed.
    timings_ : dict
        Seconds spent in ``em``, ``build``, ``mass_matrix``, ``sample`` and
        ``log_likelihood``.
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        priors: Priors | None = None,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 2,
        target_accept: float = 0.9,
        sampler: str = "auto",
        init: str = "em",
        likelihood: str = "fused",
        random_state: Any = None,
        progressbar: bool = False,
        store_log_likelihood: bool = True,
        cores: int | None = None,
        em_n_init: int = 3,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.priors = priors
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.target_accept = target_accept
        self.sampler = sampler
        self.init = init
        self.likelihood = likelihood
        self.random_state = random_state
        self.progressbar = progressbar
        self.store_log_likelihood = store_log_likelihood
        self.cores = cores
        self.em_n_init = em_n_init

    def __repr__(self) -> str:
        return (
            f"BayesianGaussianMixture(n_components={self.n_components!r}, "
            f"covariance_type={self.covariance_type!r}, draws={self.draws!r}, chains={self.chains!r})"
        )

    # ----------------------------------------------------------------- validation
    def _check_parameters(self, d: int) -> None:
        check_int(self.n_components, "n_components")
        model_kind(self.covariance_type, d)
        check_int(self.draws, "draws")
        check_int(self.tune, "tune", minimum=0)
        check_int(self.chains, "chains")
        if self.cores is not None:
            check_int(self.cores, "cores")
        check_int(self.em_n_init, "em_n_init")
        ta = check_real(self.target_accept, "target_accept", strict=True)
        if ta >= 1:
            raise ValueError(f"The 'target_accept' parameter must be a float in (0, 1). Got {ta!r} instead.")
        check_option(self.sampler, "sampler", SAMPLERS)
        check_option(self.init, "init", INITS)
        check_option(self.likelihood, "likelihood", LIKELIHOODS)
        if self.priors is not None and not isinstance(self.priors, Priors):
            raise TypeError(
                f"The 'priors' parameter must be a Priors instance. Got {type(self.priors).__name__}."
            )
        if self.sampler in ("nutpie", "numpyro"):
            if self.likelihood != "pymc":
                raise ValueError(
                    f"sampler={self.sampler!r} compiles PyMC's graph and cannot run the fused likelihood "
                    "Op: pass likelihood='pymc' (or use sampler='auto', the fast path)."
                )
            module = {"nutpie": "nutpie", "numpyro": "numpyro"}[self.sampler]
            try:
                __import__(module)
            except ImportError:
                raise ImportError(
                    f"sampler={self.sampler!r} needs the optional package {module!r}: pip install {module}."
                ) from None

    def _check_em(self, em: Any, X: np.ndarray) -> GaussianMixture:
        if getattr(em, "means_", None) is None:
            raise NotFittedError("The 'em' argument must be a fitted GaussianMixture. Call its 'fit' first.")
        if em.means_.shape != (self.n_components, X.shape[1]):
            raise ValueError(
                f"The 'em' argument must have means of shape ({self.n_components}, {X.shape[1]}). "
                f"Got {em.means_.shape}."
            )
        return em

    # ----------------------------------------------------------------- fitting
    def fit(self, X: Any, em: GaussianMixture | None = None) -> BayesianGaussianMixture:
        """Fit (or take) the EM reference, sample the posterior, run the diagnostics.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        em : GaussianMixture, optional
            A fitted, converged EM solution to start from and align labels to. Default:
            :func:`bayesgmm.em.converged_em` (n_init=em_n_init) fitted on ``X``.
        """
        import arviz as az
        import pymc as pm

        X = check_X(
            X, min_samples=max(int(self.n_components), 1) if isinstance(self.n_components, int) else 1
        )
        n, d = X.shape
        self._check_parameters(d)
        k = self.n_components
        kind = model_kind(self.covariance_type, d)
        rng = check_random_state(self.random_state)
        cores, threads = _parallelism(self.chains, self.cores, n)
        timings: dict[str, float] = {}

        t0 = time.perf_counter()
        if em is None:
            em = converged_em(
                X,
                k,
                self.covariance_type,
                n_init=self.em_n_init,
                random_state=int(rng.integers(2**31 - 1)),
            )
        else:
            em = self._check_em(em, X)
        self.em_ = em
        self.reference_ = em.params_.sorted(0)
        timings["em"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        model = build_model(
            X,
            k,
            covariance_type=self.covariance_type,
            priors=self.priors,
            likelihood=self.likelihood,
            threads=threads,
        )
        timings["build"] = time.perf_counter() - t0

        if self.init == "em":
            initvals = initial_values(self.reference_, self.covariance_type)
        else:
            initvals = {"mu": _quantile_means(X, k)}
        seed = int(rng.integers(2**31 - 1))  # PyMC derives one stream per chain from it
        kwargs: dict[str, Any] = {
            "draws": self.draws,
            "tune": self.tune,
            "chains": self.chains,
            "cores": cores,
            "random_seed": seed,
            "progressbar": self.progressbar,
            "compute_convergence_checks": False,
            "return_inferencedata": True,
            "model": model,
        }
        t0 = time.perf_counter()
        if self.sampler in ("nutpie", "numpyro"):
            kwargs.update(nuts_sampler=self.sampler, target_accept=self.target_accept, initvals=initvals)
        elif self.init == "em":
            from pymc.initial_point import make_initial_point_fn
            from pymc.step_methods.hmc.quadpotential import QuadPotentialFull

            value_vars = model.continuous_value_vars
            point = make_initial_point_fn(
                model=model, overrides=initvals, jitter_rvs=set(), return_transformed=True
            )(0)
            func = model.logp_dlogp_function(value_vars, ravel_inputs=True)
            func.trust_input = True
            cov, _ = laplace_covariance(model, point, value_vars=value_vars, logp_dlogp_func=func)
            step = pm.NUTS(
                vars=value_vars,
                potential=QuadPotentialFull(cov),
                target_accept=self.target_accept,
                model=model,
                initial_point=point,
                logp_dlogp_func=func,
            )
            self.mass_matrix_ = cov
            kwargs.update(step=step, initvals=[dict(initvals) for _ in range(self.chains)])
        else:
            kwargs.update(init=self.init, target_accept=self.target_accept, initvals=initvals)
        timings["mass_matrix"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        idata = pm.sample(**kwargs)
        timings["sample"] = time.perf_counter() - t0

        self.model_ = model
        self.n_features_in_ = d
        self._kind = kind
        self._shift = X.mean(axis=0)
        self._set_draws(idata, kind, d)

        t0 = time.perf_counter()
        if self.store_log_likelihood:
            ll = np.empty(self._w.shape[:2] + (n,))
            for c, j, W in self._iter_natural_parameters():
                ll[c, j] = _kernels.log_prob_resp(X, W, self._shift, self._ct)[0]
            ds = az.convert_to_dataset({"x": ll}, coords={"obs_id": np.arange(n)}, dims={"x": ["obs_id"]})
            idata.add_groups(log_likelihood=ds)
        timings["log_likelihood"] = time.perf_counter() - t0
        self.idata_ = idata
        self.timings_ = timings

        self.weights_ = self._w.mean(axis=(0, 1))
        self.means_ = self._mu.mean(axis=(0, 1))
        if self.covariance_type == "full":  # (K, d, d), also for one feature
            self.covariances_ = self._cov.mean(axis=(0, 1))
        else:
            self.covariances_ = (self._sd**2).mean(axis=(0, 1))
        self._diagnose(idata)
        return self

    def _set_draws(self, idata, kind: str, d: int) -> None:
        """Pull (chain, draw, ...) arrays out of the posterior, relabel them, write them back."""
        post = idata.posterior
        w = post["w"].values
        mu = post["mu"].values
        if kind == "full":
            cov = post["cov"].values
            sd = post["sigma"].values
        else:
            sd = post["sigma"].values
            if d == 1:
                sd = sd[..., None]
            cov = None
        perm = relabel_draws(mu, self.reference_)
        self.relabelled_fraction_ = float(np.mean(np.any(perm != np.arange(self.n_components), axis=-1)))
        w, mu, sd = (permute_components(a, perm) for a in (w, mu, sd))
        if cov is not None:
            cov = permute_components(cov, perm)
        else:
            cov = np.einsum("...kf,fg->...kfg", sd**2, np.eye(d))
        post["w"].values = w
        post["mu"].values = mu
        post["sigma"].values = sd[..., 0] if (kind == "diag" and d == 1) else sd
        if kind == "full":
            post["cov"].values = cov
        self._w, self._mu, self._sd, self._cov = w, mu, sd, cov
        self._ct = "full" if kind == "full" else "diag"

    def _iter_natural_parameters(self):
        """(chain, draw, W) for every draw, W as in :func:`bayesgmm._kernels.natural_parameters`."""
        C, D = self._w.shape[:2]
        if self._ct == "full":
            pcs = precision_cholesky_from_chol(np.linalg.cholesky(self._cov))
        else:
            pcs = 1.0 / self._sd
        for c in range(C):
            for j in range(D):
                yield (
                    c,
                    j,
                    _kernels.natural_parameters(
                        self._w[c, j], self._mu[c, j], pcs[c, j], self._ct, self._shift
                    ),
                )

    # ----------------------------------------------------------------- diagnostics
    def _diagnose(self, idata) -> None:
        import arviz as az

        ds = self._draws_dataset()
        # constant quantities (the weight of a single component) have no R-hat or ESS
        ds = ds[[v for v in ds.data_vars if np.ptp(ds[v].values) > 0]]
        rhat = az.rhat(ds)
        ess_bulk = az.ess(ds, method="bulk")
        ess_tail = az.ess(ds, method="tail")

        def extreme(dataset, fn):
            vals = np.array([float(dataset[v].values) for v in dataset.data_vars])
            vals = vals[np.isfinite(vals)]
            return float(fn(vals)) if vals.size else float("nan")

        stats = idata.sample_stats
        divergences = int(stats["diverging"].values.sum()) if "diverging" in stats else 0
        try:
            bfmi = [float(b) for b in az.bfmi(idata)]
        except (KeyError, AttributeError, ValueError):
            bfmi = []
        self.diagnostics_ = {
            "max_rhat": extreme(rhat, np.max),
            "min_ess_bulk": extreme(ess_bulk, np.min),
            "min_ess_tail": extreme(ess_tail, np.min),
            "divergences": divergences,
            "bfmi": bfmi,
        }
        problems = []
        dg = self.diagnostics_
        ess_min = ESS_PER_CHAIN_MIN * self.chains
        if self.chains > 1 and not dg["max_rhat"] <= RHAT_MAX:
            problems.append(f"max R-hat {dg['max_rhat']:.3f} > {RHAT_MAX}")
        if not dg["min_ess_bulk"] >= ess_min:
            problems.append(f"smallest bulk ESS {dg['min_ess_bulk']:.0f} < {ess_min}")
        if not dg["min_ess_tail"] >= ess_min:
            problems.append(f"smallest tail ESS {dg['min_ess_tail']:.0f} < {ess_min}")
        if divergences:
            problems.append(f"{divergences} divergent transition(s)")
        low = [i for i, b in enumerate(bfmi) if b < BFMI_MIN]
        if low:
            problems.append(f"BFMI < {BFMI_MIN} in chain(s) {low}")
        if problems:
            warnings.warn(
                "MCMC diagnostics flag a problem: " + "; ".join(problems) + ". Run more draws/tune, "
                "raise target_accept, or check the model (too many components?).",
                SamplingWarning,
                stacklevel=3,
            )

    # ----------------------------------------------------------------- named draws
    def _check_fitted(self) -> None:
        if getattr(self, "idata_", None) is None:
            raise NotFittedError("This BayesianGaussianMixture instance is not fitted yet. Call 'fit' first.")

    def _names(self) -> list[tuple[str, tuple]]:
        k, d = self.n_components, self.n_features_in_
        out: list[tuple[str, tuple]] = [(f"weight[{j}]", ("w", j)) for j in range(k)]
        for j in range(k):
            for f in range(d):
                out.append((f"mean[{j}]" if d == 1 else f"mean[{j},{f}]", ("mu", j, f)))
        for j in range(k):
            for f in range(d):
                out.append((f"sd[{j}]" if d == 1 else f"sd[{j},{f}]", ("sd", j, f)))
        if self._kind == "full":
            for j in range(k):
                for a in range(d):
                    for b in range(a + 1, d):
                        out.append((f"cov[{j},{a},{b}]", ("cov", j, a, b)))
        return out

    @staticmethod
    def _pick(arrays: dict, key: tuple):
        name, *idx = key
        return arrays[name][(..., *idx)]

    def parameter_draws(self) -> OrderedDict[str, np.ndarray]:
        """Every scalar parameter's draws after relabelling: ``name -> array (chain, draw)``.

        Names: ``weight[k]``, ``mean[k,f]``, ``sd[k,f]`` (component standard deviations)
        and, for full covariances with d >= 2, ``cov[k,i,j]`` (i < j, off-diagonal
        entries). With one feature the feature index is dropped (``mean[k]``, ``sd[k]``).
        """
        self._check_fitted()
        arrays = {"w": self._w, "mu": self._mu, "sd": self._sd, "cov": self._cov}
        return OrderedDict((name, self._pick(arrays, key)) for name, key in self._names())

    def reference_values(self, em: Any = None) -> OrderedDict[str, float]:
        """A point estimate under the names of :meth:`parameter_draws`, components aligned.

        Parameters
        ----------
        em : GaussianMixture or GMMParams, optional
            Default: the EM reference ``em_``. Another fit (e.g. a loosely converged one)
            has its components matched to the reference first.
        """
        self._check_fitted()
        params = self.reference_ if em is None else (em if isinstance(em, GMMParams) else em.params_)
        if params.means.shape != self.reference_.means.shape:
            raise ValueError(
                f"em must have means of shape {self.reference_.means.shape}. Got {params.means.shape}."
            )
        perm = relabel_draws(params.means, self.reference_)
        params = params.permuted(perm)
        full = params.covariances_full()
        arrays = {
            "w": params.weights,
            "mu": params.means,
            "sd": np.sqrt(np.diagonal(full, axis1=1, axis2=2)),
            "cov": full,
        }
        return OrderedDict((name, float(self._pick(arrays, key))) for name, key in self._names())

    def _draws_dataset(self):
        import arviz as az

        return az.convert_to_dataset(dict(self.parameter_draws()))

    def summary(self, **kwargs: Any):
        """ArviZ's summary (a pandas DataFrame) of the relabelled parameters.

        Extra keyword arguments go to :func:`arviz.summary` (e.g. ``hdi_prob``).
        """
        import arviz as az

        self._check_fitted()
        return az.summary(self._draws_dataset(), **kwargs)

    # ----------------------------------------------------------------- prediction
    def _check_predict_X(self, X):
        self._check_fitted()
        X = check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but this BayesianGaussianMixture was fitted with "
                f"{self.n_features_in_} features."
            )
        return X

    def predict_proba(self, X: Any) -> np.ndarray:
        """Membership probabilities averaged over the posterior draws, shape (n_samples, n_components).

        ``P(z_i = k | x_i, data) = mean over draws of gamma_ik(draw)``; rows sum to 1.
        """
        X = self._check_predict_X(X)
        out = np.zeros((X.shape[0], self.n_components))
        count = 0
        for _, _, W in self._iter_natural_parameters():
            out += np.exp(_kernels.log_prob_resp(X, W, self._shift, self._ct)[1])
            count += 1
        return out / count

    def predict(self, X: Any) -> np.ndarray:
        """The component of highest posterior membership probability, shape (n_samples,)."""
        return np.argmax(self.predict_proba(X), axis=1)

    def score_samples(self, X: Any) -> np.ndarray:
        """log of the posterior predictive density, log mean_draws p(x_i | draw), shape (n_samples,)."""
        from scipy.special import logsumexp

        X = self._check_predict_X(X)
        lls = [
            _kernels.log_prob_resp(X, W, self._shift, self._ct)[0]
            for _, _, W in self._iter_natural_parameters()
        ]
        return logsumexp(np.stack(lls), axis=0) - np.log(len(lls))
