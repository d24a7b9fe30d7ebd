r"""How a built model is sampled: small sampler objects behind one interface.

Every sampler takes the PyMC model, one dict of starting values per chain and the run's
settings (:class:`SamplingRun`), and returns the InferenceData with what it set up
(:class:`SampleResult`). :func:`make_sampler` picks one from the estimator's ``sampler``
and ``init`` arguments, once.

- :class:`LaplaceNUTS` (``init="em"``, the default): PyMC's NUTS started at EM solutions,
  with the inverse observed information at the best one as the mass matrix (the Laplace
  approximation, :func:`laplace_covariance`). For large n the posterior is close to
  Gaussian there, so only the step size needs tuning and ``tune`` can be short.
- :class:`PyMCInitNUTS` (``init`` one of PyMC's strategies, e.g. ``"jitter+adapt_diag"``):
  PyMC's default sampler, the baseline of the benchmarks.
- :class:`~bayesgmm.bayes._nuts.CompiledNUTS` (``sampler="nuts"``; the default ``"auto"``
  with ``init="em"`` and the fused likelihood): bayesgmm's NUTS compiled by numba
  (:mod:`bayesgmm.bayes._nuts_numba`) on the model's compiled log-posterior
  (:mod:`bayesgmm.bayes._log_posterior_numba`, equal to PyMC's), every chain started at an
  EM solution with the inverse observed information there as the inverse mass matrix,
  chains on threads, no Python per gradient. It builds no PyMC model; numba caches its
  machine code on disk, compiled once per covariance kind, not per data set or K.
- :class:`~bayesgmm.bayes._nutpie.NutpieNUTS` (``sampler="nutpie"``): nutpie's NUTS (Rust)
  on the PyMC model compiled by nutpie's public numba path (a compilation in every
  process); nutpie adapts a mass matrix with a low-rank correction.
- :class:`~bayesgmm.bayes._gibbs_sampler.GibbsSampler` (``sampler="gibbs"``): the Gibbs
  sampler over the allocations (:mod:`bayesgmm.bayes.gibbs`) on the same prior, started from
  the EM optima's allocations. It builds no PyMC model (:meth:`Sampler.build`). It is the
  sampler for K above the truth, where NUTS needs long trajectories.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _kernels

__all__ = [
    "INITS",
    "PYMC_INITS",
    "SAMPLERS",
    "LaplaceNUTS",
    "PyMCInitNUTS",
    "SampleResult",
    "Sampler",
    "SamplingRun",
    "inverse_information",
    "laplace_covariance",
    "make_sampler",
    "parallelism",
]

SAMPLERS = ("auto", "nuts", "pymc", "nutpie", "gibbs")
PYMC_INITS = (
    "auto",
    "adapt_diag",
    "jitter+adapt_diag",
    "jitter+adapt_diag_grad",
    "adapt_full",
    "jitter+adapt_full",
)
INITS = ("em", *PYMC_INITS)
SMALL_N = 8 * _kernels.BLOCK_ROWS  # below this a pass is too short to split over threads


@dataclass(frozen=True)
class SamplingRun:
    """The settings every sampler receives (chains, draws and how to use the CPUs):
    ``cores`` processes for PyMC's chains, ``chain_threads`` threads for a sampler that
    runs its chains on threads."""

    draws: int
    tune: int
    chains: int
    cores: int
    random_seed: int
    target_accept: float
    progressbar: bool
    chain_threads: int = 1


@dataclass
class SampleResult:
    """A sampler's output: the InferenceData, the mass matrix it started from (if it chose
    one), whether that matrix was adapted during tuning and, when the sampler computed it
    with each draw, the total log-likelihood of every draw (chain, draw)."""

    idata: Any
    mass_matrix: np.ndarray | None = None
    setup_seconds: float = 0.0
    adapted: bool = False
    log_likelihood: np.ndarray | None = None


class Sampler(ABC):
    """One way of sampling a built model; :meth:`sample` is the whole interface."""

    name: str = ""

    def build(self, Z, n_components, covariance_type, priors, likelihood, threads) -> Any:
        """The model this sampler samples, on the standardised data ``Z``: PyMC's
        (:func:`~bayesgmm.bayes.model.build_model`)."""
        from .model import build_model

        return build_model(
            Z,
            n_components,
            covariance_type=covariance_type,
            priors=priors,
            likelihood=likelihood,
            threads=threads,
        )

    @abstractmethod
    def sample(self, model: Any, starts: Sequence[dict[str, np.ndarray]], run: SamplingRun) -> SampleResult:
        """Sample ``model`` with chain ``c`` starting at ``starts[c % len(starts)]``."""

    def _pm_sample(self, model: Any, run: SamplingRun, **kwargs: Any):
        import pymc as pm

        return pm.sample(
            draws=run.draws,
            tune=run.tune,
            chains=run.chains,
            cores=run.cores,
            random_seed=run.random_seed,  # PyMC derives one stream per chain from it
            progressbar=run.progressbar,
            compute_convergence_checks=False,
            return_inferencedata=True,
            model=model,
            **kwargs,
        )


def _per_chain(starts: Sequence[dict[str, np.ndarray]], chains: int) -> list[dict[str, np.ndarray]]:
    return [dict(starts[c % len(starts)]) for c in range(chains)]


class LaplaceNUTS(Sampler):
    """PyMC's NUTS from EM solutions, the inverse observed information as the mass matrix.

    Parameters
    ----------
    metric : {"auto", "laplace", "adapt"}, default="auto"
        "laplace": the inverse observed information at the first start, fixed (only the
        step size is tuned). "adapt": the same matrix as the starting point of PyMC's
        windowed adaptation of a diagonal mass matrix during tuning. "auto": "adapt" when
        there are several distinct starts -- the log-likelihood has several optima of
        nearly equal height, so the curvature at one of them does not describe the
        posterior -- else "laplace".
    """

    name = "pymc"

    def __init__(self, metric: str = "auto") -> None:
        self.metric = metric

    def sample(self, model, starts, run):
        import pymc as pm
        from pymc.initial_point import make_initial_point_fn

        t0 = time.perf_counter()
        value_vars = model.continuous_value_vars
        point = make_initial_point_fn(
            model=model, overrides=starts[0], jitter_rvs=set(), return_transformed=True
        )(0)
        func = model.logp_dlogp_function(value_vars, ravel_inputs=True)
        func.trust_input = True
        cov, theta = laplace_covariance(model, point, value_vars=value_vars, logp_dlogp_func=func)
        adapt = self.metric == "adapt" or (self.metric == "auto" and len(starts) > 1)
        step = pm.NUTS(
            vars=value_vars,
            potential=_potential(cov, theta, adapt),
            target_accept=run.target_accept,
            model=model,
            initial_point=point,
            logp_dlogp_func=func,
        )
        setup = time.perf_counter() - t0
        idata = self._pm_sample(model, run, step=step, initvals=_per_chain(starts, run.chains))
        return SampleResult(idata, cov, setup, adapted=adapt)


#: Weight, in draws, of the Laplace matrix in the adapted estimate (PyMC's convention).
ADAPT_INITIAL_WEIGHT = 10


def _potential(cov: np.ndarray, theta: np.ndarray, adapt: bool):
    from pymc.step_methods.hmc.quadpotential import QuadPotentialDiagAdapt, QuadPotentialFull

    if not adapt:
        return QuadPotentialFull(cov)
    return QuadPotentialDiagAdapt(len(theta), theta, np.diag(cov).copy(), ADAPT_INITIAL_WEIGHT)


class PyMCInitNUTS(Sampler):
    """PyMC's default NUTS with one of its own init strategies (mass-matrix adaptation)."""

    name = "pymc"

    def __init__(self, init: str) -> None:
        self.init = init

    def sample(self, model, starts, run):
        idata = self._pm_sample(
            model, run, init=self.init, target_accept=run.target_accept, initvals=starts[0]
        )
        return SampleResult(idata)


def make_sampler(sampler: str, init: str, likelihood: str, *, metric: str = "auto") -> Sampler:
    """The sampler object for the estimator's ``sampler``, ``init`` and ``likelihood``.

    ``"auto"`` is bayesgmm's compiled NUTS when the chains start at EM (``init="em"``)
    with the fused likelihood, else PyMC's NUTS (PyMC's own mixture graph or its own
    inits were asked for). ``"gibbs"`` and ``"nuts"`` need ``init="em"``. ``"nutpie"``
    raises a clear error when nutpie is not installed. ``metric`` is passed to
    :class:`LaplaceNUTS` (PyMC, ``init="em"``) and to the compiled NUTS.
    """
    if sampler in ("gibbs", "nuts") and init != "em":
        raise ValueError(
            f"sampler={sampler!r} starts its chains from the EM optima: it needs init='em'. Got init={init!r}."
        )
    if sampler == "gibbs":
        from ._gibbs_sampler import GibbsSampler

        return GibbsSampler()
    if sampler == "nuts" or (sampler == "auto" and init == "em" and likelihood == "fused"):
        from ._nuts import CompiledNUTS

        return CompiledNUTS(metric)
    if sampler == "nutpie":
        from . import _nutpie

        if not _nutpie.nutpie_available():
            raise ImportError("sampler='nutpie' needs the optional package 'nutpie': pip install nutpie.")
        return _nutpie.NutpieNUTS()
    if init == "em":
        return LaplaceNUTS(metric)
    return PyMCInitNUTS(init)


def laplace_covariance(
    model,
    point: dict[str, np.ndarray],
    *,
    value_vars=None,
    logp_dlogp_func=None,
    rel_step: float = 1e-2,
):
    """Inverse observed information of the PyMC model's log-density at ``point``, in the
    sampler's unconstrained space (:func:`inverse_information` of the compiled gradient).

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
    return inverse_information(lambda x: f(x)[1], theta, rel_step=rel_step), theta


def inverse_information(gradient, theta: np.ndarray, *, rel_step: float = 1e-2) -> np.ndarray:
    """Inverse observed information at ``theta`` from a log density's gradient.

    Central finite differences of ``gradient`` (a function of the raveled point), in two
    rounds: a first with a small absolute step estimates each coordinate's curvature, a
    second with steps of ``rel_step`` x the implied standard deviation. Directions of
    non-negative curvature (not a local maximum) get the magnitude of their curvature,
    floored, so the result is always positive definite.
    """
    theta = np.asarray(theta, dtype=float)
    p = theta.size

    def hessian(steps):
        H = np.empty((p, p))
        for j in range(p):
            e = np.zeros(p)
            e[j] = steps[j]
            H[:, j] = (gradient(theta + e) - gradient(theta - e)) / (2.0 * steps[j])
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
    return 0.5 * (cov + cov.T)


def parallelism(chains: int, cores: int | None, n: int) -> tuple[int, int]:
    """(processes running chains, threads per likelihood pass): never more busy threads than CPUs.

    By default chains run in parallel processes only when there is a CPU to spare for
    PyMC's parent process (which records every draw); on 2 CPUs sequential chains were
    measured faster (``benchmarks/README.md``). A pass is split over threads only when it
    has at least ``SMALL_N`` rows; below that the hand-off costs more than it saves.
    """
    cpus = _kernels.default_threads()
    if cores is None:
        cores = chains if cpus > chains else 1
    cores = max(1, min(cores, chains))
    threads = 1 if n < SMALL_N else max(1, cpus // cores)
    return cores, threads
