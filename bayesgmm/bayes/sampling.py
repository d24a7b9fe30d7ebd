r"""``BayesianGaussianMixture``: the exact posterior of the mixture, sampled by MCMC.

Unlike scikit-learn's ``BayesianGaussianMixture`` (a variational approximation with a
Dirichlet-process prior), this class samples the exact posterior of the model of
:func:`bayesgmm.bayes.model.build_model` with NUTS. :meth:`BayesianGaussianMixture.fit`
runs these steps, each a named function or module:

1. the reference EM fit, run to its fixed point (:func:`bayesgmm.em.converged_em`), or
   the one given to :meth:`~BayesianGaussianMixture.fit`;
2. the model of the standardised data (:func:`bayesgmm.bayes.model.build_model`), by default
   with the fused likelihood: one pass over the data per NUTS gradient (:mod:`bayesgmm.bayes._likelihood`);
3. the sampler (:mod:`bayesgmm.bayes.samplers`): by default every chain starts at the EM
   solution and the mass matrix is the inverse observed information there;
4. relabelling of the draws against the EM solution (:mod:`bayesgmm.bayes.relabel`);
5. the label-invariant quantities of the diagnostics (:func:`~bayesgmm.bayes.draws.invariant_quantities`);
   the pointwise log-likelihood (WAIC, LOO) only when first asked for;
6. the diagnostics (:mod:`bayesgmm.bayes.diagnostics`), under the names of
   :mod:`bayesgmm.bayes.naming`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import numpy as np

from .. import _kernels
from .._validation import check_int, check_option, check_random_state, check_real, check_X
from ..em import converged_em
from ..exceptions import NotFittedError
from ..gaussian_mixture import GaussianMixture
from ..params import GMMParams
from . import _arviz
from ._standardized import posterior_back, standardized, starts_forward
from .diagnostics import diagnose
from .draws import invariant_quantities, relabelled_draws
from .model import LIKELIHOODS, Priors, model_kind
from .naming import named_arrays, parameter_names
from .relabel import relabel_draws
from .samplers import INITS, SAMPLERS, SamplingRun, make_sampler, parallelism
from .starts import em_optima, quantile_means

__all__ = ["BayesianGaussianMixture"]


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
    draws : int, default=1000
        Draws kept per chain.
    tune : int, default=300
        Tuning steps per chain. The chains start at the EM solution, so tuning only has
        to fit the step size and the mass matrix, not to find the typical set: a few
        hundred steps suffice (``benchmarks/README.md``). PyMC's own inits (``init``
        other than "em") start elsewhere: give them PyMC's 1000.
    chains : int, default=2
    target_accept : float, default=0.9
    sampler : {"auto", "nuts", "pymc", "nutpie", "gibbs"}, default="auto"
        "nuts": bayesgmm's NUTS compiled by numba on the model's compiled log-posterior
        (:mod:`bayesgmm.bayes._nuts`): no Python per gradient, chains on threads, no
        PyMC model built (``model_`` holds the data and hyper-parameters). "pymc": PyMC's
        NUTS on the PyMC model. "nutpie": nutpie's NUTS on the PyMC model (compiled in
        every process). "auto": "nuts" with ``init="em"`` and the fused likelihood, else
        "pymc". "gibbs": the Gibbs sampler over the allocations on the same prior
        (:mod:`bayesgmm.bayes._gibbs_sampler`; one draw kept every
        :data:`~bayesgmm.bayes._gibbs_sampler.GIBBS_THIN` sweeps, ``tune`` as many
        discarded; a scalar ``alpha`` only): the sampler for more components than the
        data need, where NUTS's trajectories grow long. No divergences or BFMI exist for
        it, and ``model_`` holds its data and priors instead of a PyMC model.
    init : {"em", "auto", "adapt_diag", "jitter+adapt_diag", ...}, default="em"
        "em": every chain starts at an EM solution; bayesgmm's and PyMC's NUTS take the
        inverse observed information there as the inverse mass matrix (kept, or adapted
        from it when the chains start at several distinct optima), nutpie adapts its own
        (with a low-rank correction for the correlations). Any other value is passed to
        ``pm.sample`` as PyMC's own init (the means start at quantiles of feature 0,
        ordered).
    likelihood : {"fused", "pymc"}, default="fused"
    random_state : int, numpy Generator or None
    progressbar : bool, default=False
    store_log_likelihood : bool, default=True
        Offer the pointwise log-likelihood (chain x draw x n_samples floats) as
        ``idata_.log_likelihood``, computed not by ``fit`` but on the first access to
        ``idata_`` (what WAIC, LOO and ``compare_models`` read), then kept. False: never
        computed, no such group (for data too large to hold it).
    cores : int, optional
        Chains run in parallel processes. Default: all ``chains`` at once when the
        machine has more CPUs than chains, else one after the other (PyMC's parent
        process needs a core too). Each likelihood pass uses
        ``CPUs // cores`` threads (one for fewer than 65 536 rows), so threads never
        outnumber CPUs.
    em_n_init : int, default=3
        EM runs (each from its own initialisation) searched for distinct optima within a
        few nats of the best (:func:`bayesgmm.bayes.starts.em_optima`): the best is the
        reference, and with ``init="em"`` the chains start at the distinct optima in turn.
        Several distinct optima mean the information at one of them does not describe the
        posterior, so the mass matrix is then adapted (:class:`~bayesgmm.bayes.samplers.LaplaceNUTS`).

    Notes
    -----
    The Laplace metric is exact in the large-n limit. With a few hundred points and
    overlapping components the posterior has heavy tails (towards a light, narrow
    component) that a fixed metric can meet with a few divergent transitions -- flagged
    by a :class:`SamplingWarning`; raising ``target_accept`` helps (measurements in
    ``benchmarks/README.md``).

    Attributes
    ----------
    idata_ : arviz.InferenceData (ArviZ 0.23) or xarray.DataTree (ArviZ 1.x)
        The installed ArviZ's container: ``posterior`` (``w``, ``mu``, ``sigma`` [, ``cov``] relabelled against EM; the
        packed ``chol`` are the sampler's raw values), ``sample_stats`` and, unless
        disabled, ``log_likelihood`` with one variable ``x`` of dims
        (chain, draw, obs_id), computed on the first access (see
        ``store_log_likelihood``).
    em_ : GaussianMixture
        The EM fit the labels are aligned to (the best optimum found, or the one given).
    em_optima_ : list of GaussianMixture
        The distinct EM optima the chains started from, ``em_`` first.
    reference_ : GMMParams
        ``em_``'s parameters sorted along feature 0 (the labelling of every summary).
    weights_ : array of shape (n_components,)
    means_ : array of shape (n_components, n_features)
    covariances_ : array
        (K, d, d) for "full", (K, d) for "diag". All three are posterior means.
    diagnostics_ : dict
        Per parameter: ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``, ``divergences``,
        ``bfmi`` (list, one per chain). Label-invariant (:mod:`bayesgmm.bayes.diagnostics`):
        ``invariant`` (R-hat and ESS of each quantity), ``invariant_max_rhat``,
        ``invariant_min_ess_bulk`` and ``invariant_ok``.
    mass_matrix_ : array of shape (n_params, n_params)
        The inverse observed information at the best EM optimum (``init="em"``), in the
        sampler's unconstrained coordinates of the standardised data.
    mass_matrix_adapted_ : bool
        Whether it was then adapted during tuning (several distinct EM optima).
    invariant_draws_ : dict
        The label-invariant quantities, ``name -> array (chain, draw)``.
    mixture_draws_ : MixtureDraws
        The relabelled draws as arrays (:mod:`bayesgmm.bayes.draws`).
    relabelled_fraction_ : float
        Share of draws whose labels relabelling changed.
    timings_ : dict
        Seconds spent in ``em``, ``build``, ``mass_matrix``, ``sample`` and
        ``log_likelihood`` (the per-draw totals and probe densities of the diagnostics).
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        priors: Priors | None = None,
        draws: int = 1000,
        tune: int = 300,
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
        # scikit-learn's estimator contract: every argument stored as given
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
            :func:`bayesgmm.em.converged_em` with ``n_init=em_n_init`` on ``X``.
        """
        X = check_X(
            X, min_samples=max(int(self.n_components), 1) if isinstance(self.n_components, int) else 1
        )
        n, d = X.shape
        self._check_parameters(d)
        sampler = make_sampler(self.sampler, self.init, self.likelihood, metric=self._metric())
        rng = check_random_state(self.random_state)
        cores, threads = parallelism(self.chains, self.cores, n)
        timings: dict[str, float] = {}

        t0 = time.perf_counter()
        self.em_ = self._reference_em(X, em, rng)
        self.reference_ = self.em_.params_.sorted(0)
        timings["em"] = time.perf_counter() - t0

        std, Z, priors = standardized(X, self.priors)  # the draws are mapped back to X's units
        t0 = time.perf_counter()
        model = sampler.build(Z, self.n_components, self.covariance_type, priors, self.likelihood, threads)
        timings["build"] = time.perf_counter() - t0

        run = SamplingRun(
            draws=self.draws,
            tune=self.tune,
            chains=self.chains,
            cores=cores,
            random_seed=int(rng.integers(2**31 - 1)),
            target_accept=self.target_accept,
            progressbar=self.progressbar,
            chain_threads=min(self.chains, self.cores or _kernels.default_threads()),
        )
        t0 = time.perf_counter()
        result = sampler.sample(model, self._starts(Z, std), run)
        total = posterior_back(result, std, n)  # the draws and the per-draw totals in X's units
        timings["mass_matrix"] = result.setup_seconds
        timings["sample"] = time.perf_counter() - t0 - result.setup_seconds
        if result.mass_matrix is not None:
            self.mass_matrix_ = result.mass_matrix
        self.mass_matrix_adapted_ = result.adapted

        self._model = model
        self.n_features_in_ = d
        self._kind = model_kind(self.covariance_type, d)
        self.mixture_draws_, self.relabelled_fraction_ = relabelled_draws(
            result.idata, self.reference_, self._kind, X.mean(axis=0)
        )

        t0 = time.perf_counter()
        invariant = self.invariant_draws_ = invariant_quantities(
            self.mixture_draws_, X, total, result.idata, threads=threads
        )
        timings["log_likelihood"] = time.perf_counter() - t0
        self._X = X  # for the pointwise log-likelihood, computed when first asked for
        self._idata = result.idata
        self.timings_ = timings
        self._set_posterior_means()
        self.diagnostics_ = diagnose(self.parameter_draws(), result.idata, invariant, stacklevel=2)
        return self

    def _metric(self) -> str:
        """A sparse Dirichlet prior (alpha < 1) sends the weights of redundant components far
        down their log scale, away from any EM optimum: the mass matrix must be adapted."""
        alpha = (self.priors or Priors()).alpha
        return "adapt" if np.min(alpha) < 1 else "auto"

    def _reference_em(self, X: np.ndarray, em: Any, rng: np.random.Generator) -> GaussianMixture:
        """The EM solution the labels are aligned to; sets ``em_optima_``, the chains' starts."""
        if em is not None:
            em = self._check_em(em, X)
        if self.init != "em" or self.chains == 1:
            optima = [em] if em is not None else [self._converged_em(X, rng)]
        else:
            optima = em_optima(
                X,
                self.n_components,
                self.covariance_type,
                n_init=self.em_n_init,
                random_state=rng,
                given=em,
            )
        self.em_optima_ = optima
        return optima[0]

    def _converged_em(self, X: np.ndarray, rng: np.random.Generator) -> GaussianMixture:
        seed, k, ct = int(rng.integers(2**31 - 1)), self.n_components, self.covariance_type
        return converged_em(X, k, ct, n_init=self.em_n_init, random_state=seed, standardize=True)

    def _starts(self, Z: np.ndarray, std: Any) -> list[dict[str, np.ndarray]]:
        """Starting values on Z, one dict per distinct start (the sampler cycles them over chains)."""
        if self.init == "em":
            return starts_forward(self.em_optima_, std, self.covariance_type)
        return [{"mu": quantile_means(Z, self.n_components)}]

    def _set_posterior_means(self) -> None:
        dr = self.mixture_draws_
        self.weights_ = dr.w.mean(axis=(0, 1))
        self.means_ = dr.mu.mean(axis=(0, 1))
        if self.covariance_type == "full":  # (K, d, d), also for one feature
            self.covariances_ = dr.cov.mean(axis=(0, 1))
        else:
            self.covariances_ = (dr.sd**2).mean(axis=(0, 1))

    @property
    def model_(self):
        """The model that was sampled: the compiled model's data and hyper-parameters
        (``sampler="nuts"``), the Gibbs sampler's (``"gibbs"``), or the PyMC model. A PyMC
        model cannot be pickled: a pickled estimator leaves it out, and the first access
        after loading builds it again from the data (the same model)."""
        if self.__dict__.get("_idata") is None:
            raise AttributeError("model_")  # not fitted
        model = self.__dict__.get("_model")
        if model is None:
            _, Z, priors = standardized(self._X, self.priors)
            sampler = make_sampler(self.sampler, self.init, self.likelihood, metric=self._metric())
            threads = parallelism(self.chains, self.cores, self._X.shape[0])[1]
            model = self._model = sampler.build(
                Z, self.n_components, self.covariance_type, priors, self.likelihood, threads
            )
        return model

    def __getstate__(self) -> dict[str, Any]:
        """Everything but a PyMC model (not picklable; rebuilt on access, see ``model_``).
        Nothing compiled is held: numba's machine code is found again in its disk cache."""
        from ._gibbs_sampler import GibbsModel
        from ._nuts import CompiledModel

        state = dict(self.__dict__)
        if not isinstance(state.get("_model"), (CompiledModel, GibbsModel)):
            state.pop("_model", None)
        return state

    @property
    def idata_(self):
        """The installed ArviZ's container (InferenceData or DataTree); its ``log_likelihood``
        group is computed on first access."""
        idata = self.__dict__.get("_idata")
        if idata is None:
            raise AttributeError("idata_")  # not fitted: hasattr / getattr(..., None) see no attribute
        if self.store_log_likelihood and "log_likelihood" not in _arviz.groups(idata):
            _, ll = self.mixture_draws_.log_likelihood(self._X, pointwise=True)
            obs = {"obs_id": np.arange(ll.shape[-1])}
            _arviz.set_group(
                idata, "log_likelihood", _arviz.dataset({"x": ll}, coords=obs, dims={"x": ["obs_id"]})
            )
        return idata

    # ----------------------------------------------------------------- named draws
    def _check_fitted(self) -> None:
        if self.__dict__.get("_idata") is None:
            raise NotFittedError("This BayesianGaussianMixture instance is not fitted yet. Call 'fit' first.")

    def _names(self) -> list[tuple[str, tuple]]:
        return parameter_names(self.n_components, self.n_features_in_, self._kind)

    def parameter_draws(self) -> OrderedDict[str, np.ndarray]:
        """Every scalar parameter's draws after relabelling: ``name -> array (chain, draw)``.

        Names as in :mod:`bayesgmm.bayes.naming`: ``weight[k]``, ``mean[k,f]``, ``sd[k,f]``
        and, for full covariances with d >= 2, ``cov[k,i,j]`` (i < j).
        """
        self._check_fitted()
        dr = self.mixture_draws_
        return named_arrays({"w": dr.w, "mu": dr.mu, "sd": dr.sd, "cov": dr.cov}, self._names())

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
        return OrderedDict((name, float(v)) for name, v in named_arrays(arrays, self._names()).items())

    def summary(self, **kwargs: Any):
        """The installed ArviZ's summary (a pandas DataFrame) of the relabelled parameters.

        The interval is the 94% HDI on both ArviZ lines, in the columns ``hdi_3%`` and
        ``hdi_97%`` (ArviZ 0.23) or ``hdi94_lb`` and ``hdi94_ub`` (ArviZ 1.x); the others
        are ``mean``, ``sd``, ``mcse_mean``, ``mcse_sd``, ``ess_bulk``, ``ess_tail``,
        ``r_hat``. Extra keyword arguments go to :func:`arviz.summary` (ArviZ 0.23:
        e.g. ``hdi_prob``; 1.x: ``ci_prob``, ``ci_kind``).
        """
        self._check_fitted()
        return _arviz.summary(_arviz.dataset(self.parameter_draws()), **kwargs)

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
        for _, _, _, log_resp in self.mixture_draws_.log_prob_resp(X):
            out += np.exp(log_resp)
            count += 1
        return out / count

    def predict(self, X: Any) -> np.ndarray:
        """The component of highest posterior membership probability, shape (n_samples,)."""
        return np.argmax(self.predict_proba(X), axis=1)

    def score_samples(self, X: Any) -> np.ndarray:
        """log of the posterior predictive density, log mean_draws p(x_i | draw), shape (n_samples,)."""
        from scipy.special import logsumexp

        X = self._check_predict_X(X)
        lls = [log_prob for _, _, log_prob, _ in self.mixture_draws_.log_prob_resp(X)]
        return logsumexp(np.stack(lls), axis=0) - np.log(len(lls))
