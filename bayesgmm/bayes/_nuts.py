"""bayesgmm's compiled NUTS (``sampler="nuts"``, the default): the sampler object and the
model it samples.

:class:`CompiledModel` is what the sampler needs of the model of
:func:`bayesgmm.bayes.model.build_model`, without building the PyMC graph: the
standardised data and the resolved hyper-parameters, which are the arguments of the one
compiled log-posterior (:mod:`bayesgmm.bayes._log_posterior_numba`). :class:`CompiledNUTS`
starts every chain at an EM solution with the inverse observed information there as the
inverse mass matrix (the Laplace approximation, as :class:`~bayesgmm.bayes.samplers.LaplaceNUTS`
does with PyMC's NUTS) and runs the chains of :mod:`bayesgmm.bayes._nuts_numba` on threads.
Nothing in Python runs per gradient.

Nothing compiled is held by these objects: numba's functions are module-level and load
from its disk cache, so a fitted estimator pickles and a new process finds the machine
code again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _kernels
from ._progress import compile_notice
from .samplers import Sampler, SampleResult, SamplingRun, inverse_information

__all__ = ["CompiledModel", "CompiledNUTS"]

#: Largest tree depth (2^10 leapfrog steps a draw), as Stan and PyMC.
MAX_TREE_DEPTH = 10
#: Weight, in draws, of the starting inverse mass matrix in each adaptation window's
#: estimate (PyMC's weight of its initial diagonal), plus one draw per parameter, so that
#: a short window of a long vector stays close to the inverse observed information.
PRIOR_WEIGHT = 10


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """The model's log-posterior as the compiled function's arguments.

    Attributes
    ----------
    data : array of shape (n_samples, n_features)
        The (standardised) data, C-contiguous.
    shift : array of shape (n_features,)
        The data mean (the fused pass's centre).
    alpha : array of shape (n_components,)
    mean_loc, mean_scale, sd_scale : arrays of shape (n_features,)
    lkj_eta : float
    full : bool
        LKJ Cholesky factors (``"full"`` with two or more features) or standard deviations.
    """

    data: np.ndarray
    shift: np.ndarray
    alpha: np.ndarray
    mean_loc: np.ndarray
    mean_scale: np.ndarray
    sd_scale: np.ndarray
    lkj_eta: float
    full: bool

    @classmethod
    def build(
        cls, X: np.ndarray, n_components: int, covariance_type: str, priors: Any = None
    ) -> CompiledModel:
        """The model of :func:`~bayesgmm.bayes.model.build_model` on ``X`` (same arguments)."""
        from .model import Priors, model_kind

        X = np.array(X, dtype=np.float64, order="C")  # writable: one compiled signature
        kind = model_kind(covariance_type, X.shape[1])
        hp = (priors if priors is not None else Priors()).resolve(X, n_components)
        return cls(
            X,
            X.mean(axis=0),
            np.asarray(hp["alpha"], dtype=float),
            np.asarray(hp["mean_loc"], dtype=float),
            np.asarray(hp["mean_scale"], dtype=float),
            np.asarray(hp["sd_scale"], dtype=float),
            float(hp["lkj_eta"]),
            kind == "full",
        )

    @property
    def n_components(self) -> int:
        return self.alpha.shape[0]

    @property
    def n_features(self) -> int:
        return self.data.shape[1]

    @property
    def n_params(self) -> int:
        from ._log_posterior_numba import n_unconstrained

        return n_unconstrained(self.full, self.n_components, self.n_features)

    @property
    def args(self) -> tuple:
        """The arguments of ``log_posterior`` after ``(z, grad)``."""
        return (self.data, self.shift, self.alpha, self.mean_loc, self.mean_scale, self.sd_scale,
                self.lkj_eta if self.full else None)  # fmt: skip

    def log_posterior(self, z: np.ndarray) -> tuple[float, np.ndarray, float]:
        """``(log density, gradient, total log-likelihood)`` at the unconstrained ``z``."""
        from ._log_posterior_numba import log_posterior

        z = np.ascontiguousarray(z, dtype=np.float64)
        grad = np.empty_like(z)
        lp, ll = log_posterior(z, grad, *self.args)
        return float(lp), grad, float(ll)

    def unconstrain(self, start: dict[str, np.ndarray]) -> np.ndarray:
        """``z`` of a start in the model's parametrisation (:func:`~bayesgmm.bayes.model.initial_values`)."""
        from ._log_posterior_numba import unconstrain

        k, d = self.n_components, self.n_features
        L = np.zeros((k, d, d))
        if self.full:
            rows, cols = np.tril_indices(d)
            L[:, rows, cols] = start["chol"]
        else:
            L[:, np.arange(d), np.arange(d)] = np.asarray(start["sigma"], dtype=float).reshape(k, d)
        w = np.asarray(start.get("w", np.ones(k)), dtype=float)
        return unconstrain(w, np.asarray(start["mu"], dtype=float), L, self.full)

    def posterior(
        self, z: np.ndarray
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, list[str]]]:
        """The model's named values of unconstrained draws ``z`` (..., p), as PyMC's
        posterior has them: ``w``, ``mu``, ``sigma`` and, for full covariances, the packed
        Cholesky factors ``chol`` and ``cov``; with their coordinates and dimensions."""
        from ._log_posterior_numba import constrain

        k, d = self.n_components, self.n_features
        lead = z.shape[:-1]
        flat = z.reshape(-1, z.shape[-1])
        w = np.empty((flat.shape[0], k))
        mu = np.empty((flat.shape[0], k, d))
        L = np.empty((flat.shape[0], k, d, d))
        for i, zi in enumerate(flat):
            w[i], mu[i], L[i], _ = constrain(zi, k, d, self.full)
        sd = np.sqrt(np.sum(L * L, axis=-1))  # row norms: the standard deviations
        coords = {"component": np.arange(k), "feature": np.arange(d)}
        dims = {"w": ["component"], "mu": ["component", "feature"], "sigma": ["component", "feature"]}
        post = {"w": w.reshape(*lead, k), "mu": mu.reshape(*lead, k, d)}
        if self.full:
            rows, cols = np.tril_indices(d)
            post["chol"] = L[:, :, rows, cols].reshape(*lead, k, rows.size)
            post["cov"] = (L @ np.swapaxes(L, -1, -2)).reshape(*lead, k, d, d)
            post["sigma"] = sd.reshape(*lead, k, d)
            coords.update(feature_bis=np.arange(d), packed=np.arange(rows.size))
            dims.update(chol=["component", "packed"], cov=["component", "feature", "feature_bis"])
        elif d == 1:
            post["sigma"] = sd.reshape(*lead, k)
            dims["sigma"] = ["component"]
        else:
            post["sigma"] = sd.reshape(*lead, k, d)
        return post, coords, dims


class CompiledNUTS(Sampler):
    """NUTS compiled with numba on the compiled log-posterior, chains on threads.

    Parameters
    ----------
    metric : {"auto", "laplace", "adapt"}, default="auto"
        As :class:`~bayesgmm.bayes.samplers.LaplaceNUTS`: "laplace" keeps the inverse
        observed information at each chain's start as the inverse mass matrix (only the
        step size is tuned); "adapt" re-estimates it in Stan's warm-up windows, shrunk
        towards that matrix; "auto" adapts when the chains start from several distinct
        EM optima (the curvature at one then does not describe the posterior).
    max_depth : int, default=10
        Largest tree depth.
    """

    name = "nuts"

    def __init__(self, metric: str = "auto", max_depth: int = MAX_TREE_DEPTH) -> None:
        self.metric = metric
        self.max_depth = max_depth

    def build(self, Z, n_components, covariance_type, priors, likelihood, threads) -> CompiledModel:
        """No PyMC graph: the data and hyper-parameters the compiled density takes."""
        return CompiledModel.build(Z, n_components, covariance_type, priors)

    def sample(
        self, model: CompiledModel, starts: Sequence[dict[str, np.ndarray]], run: SamplingRun
    ) -> SampleResult:
        from . import _nuts_numba as nuts

        t0 = time.perf_counter()
        distinct = [model.unconstrain(s) for s in starts]
        with compile_notice("the log-posterior and the NUTS sampler"):
            _load_compiled(model, distinct[0])
        for z in distinct:
            if not np.isfinite(model.log_posterior(z)[0]):
                raise ValueError(
                    "A chain's start has no finite log posterior density (a weight or a standard "
                    "deviation of 0, or means not strictly ordered along the first feature): check "
                    "the starting values."
                )
        covs = [inverse_information(lambda x: model.log_posterior(x)[1], z) for z in distinct]
        adapt = self.metric == "adapt" or (self.metric == "auto" and len(starts) > 1)
        setup = time.perf_counter() - t0

        p = model.n_params
        seeds = np.random.SeedSequence(run.random_seed).generate_state(run.chains)
        out_q = np.empty((run.chains, run.draws, p))
        out_stats = np.empty((run.chains, run.draws, nuts.N_STATS))

        def chain(c: int) -> int:
            return nuts.run_chain(
                distinct[c % len(distinct)],
                covs[c % len(distinct)],
                int(seeds[c]),
                run.tune,
                run.draws,
                run.target_accept,
                self.max_depth,
                adapt,
                float(PRIOR_WEIGHT + p),
                model.args,
                out_q[c],
                out_stats[c],
            )

        threads = max(1, min(run.chains, run.chain_threads))
        if threads == 1:
            codes = [chain(c) for c in range(run.chains)]
        else:
            pool = _kernels._thread_pool(threads)
            codes = [job.result() for job in [pool.submit(chain, c) for c in range(run.chains)]]
        if any(codes):  # pragma: no cover - the starts and matrices were checked above
            raise RuntimeError(f"A chain could not start (codes {codes}).")
        idata = _inference_data(model, out_q, out_stats)
        return SampleResult(
            idata, covs[0], setup, adapted=adapt, log_likelihood=out_stats[..., nuts.STAT_LL].copy()
        )


def _load_compiled(model: CompiledModel, z: np.ndarray) -> None:
    """Load (or compile, the first time) the machine code of every function a fit calls,
    on a tiny input, so that the one-time cost is announced and never lands mid-chain."""
    from . import _nuts_numba as nuts

    z = np.zeros_like(z)  # any point: only the types matter
    out_q = np.empty((1, z.size))
    out_stats = np.empty((1, nuts.N_STATS))
    nuts.run_chain(z, np.eye(z.size), 0, 0, 1, 0.8, 1, False, 1.0, model.args, out_q, out_stats)


def _inference_data(model: CompiledModel, q: np.ndarray, stats: np.ndarray):
    """The draws as PyMC's posterior (the model's named values) and sampler statistics."""
    from . import _arviz
    from . import _nuts_numba as nuts

    posterior, coords, dims = model.posterior(q)
    sample_stats = {
        "lp": stats[..., nuts.STAT_LP],
        "energy": stats[..., nuts.STAT_ENERGY],
        "step_size": stats[..., nuts.STAT_STEP],
        "tree_depth": stats[..., nuts.STAT_DEPTH].astype(np.int64),
        "n_steps": stats[..., nuts.STAT_STEPS],
        "acceptance_rate": stats[..., nuts.STAT_ACCEPT],
        "diverging": stats[..., nuts.STAT_DIVERGING] > 0,
    }
    return _arviz.from_dict(
        {"posterior": posterior, "sample_stats": sample_stats}, coords=coords, dims=dims
    )
