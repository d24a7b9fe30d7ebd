"""The Gibbs sampler over allocations as a sampler of the fixed-K model (``sampler="gibbs"``).

:class:`~bayesgmm.bayes.sampling.BayesianGaussianMixture` samples the marginal model (labels
summed out) with NUTS by default. With more components than the data need, that posterior
is a sum of modes joined by narrow ridges -- an empty component's weight down a funnel, the
halves of a split group trading places -- and NUTS needs long trajectories there. The
sampler of :mod:`bayesgmm.bayes.gibbs` with the NUTS model's exact prior
(``scale_prior="halfnormal"``: HalfNormal standard deviations, LKJ correlations) samples the
same posterior over the allocations instead, where emptying or re-occupying a component is
one step; each sweep costs one pass over the data.

Its draws are handed to the estimator in the NUTS model's parametrisation (``w``, ``mu``
ordered along the first feature, ``sigma``, and for ``"full"`` the packed Cholesky factor
``chol`` and ``cov``): the ordering of the means only picks one labelling of an exchangeable
posterior, so sorting every draw gives draws of the ordered model. The per-draw totals of
the log-likelihood come with the sweeps, as from the compiled NUTS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _arviz
from .samplers import Sampler, SampleResult, SamplingRun

__all__ = ["GIBBS_THIN", "GibbsModel", "GibbsSampler"]

#: Sweeps per kept draw: a sweep is cheap, and successive sweeps are correlated (the
#: allocations move a few observations at a time), so a draw is kept every few sweeps;
#: ``tune`` and ``draws`` count such intervals.
GIBBS_THIN = 20


@dataclass(frozen=True)
class GibbsModel:
    """What the Gibbs sampler samples: the standardised data and the priors on them."""

    data: np.ndarray
    n_components: int
    covariance_type: str
    priors: Any


def start_allocation(Z: np.ndarray, start: dict[str, np.ndarray], k: int) -> np.ndarray:
    """Each observation's most probable component under a start's parameters (given in the
    NUTS model's parametrisation): the labels a chain starts from."""
    from .._kernels import log_prob_resp, natural_parameters
    from ..params import GMMParams

    d = Z.shape[1]
    if "chol" in start:
        lower = np.zeros((k, d, d))
        rows, cols = np.tril_indices(d)
        lower[:, rows, cols] = start["chol"]
        cov = lower @ np.swapaxes(lower, 1, 2)
    else:
        cov = np.einsum("kf,fg->kfg", np.asarray(start["sigma"], dtype=float).reshape(k, d) ** 2, np.eye(d))
    params = GMMParams(np.asarray(start.get("w", np.ones(k)), dtype=float), np.asarray(start["mu"]), cov)
    shift = Z.mean(axis=0)
    W = natural_parameters(params.weights, params.means, params.precisions_cholesky, "full", shift)
    return np.argmax(log_prob_resp(Z, W, shift, "full")[1], axis=1).astype(np.int64)


class GibbsSampler(Sampler):
    """The Gibbs sampler of :mod:`bayesgmm.bayes.gibbs` on the model's exact prior; chains
    start from the allocations of the EM optima, one draw kept every ``thin`` sweeps."""

    name = "gibbs"

    def __init__(self, thin: int = GIBBS_THIN) -> None:
        self.thin = thin

    def build(self, Z, n_components, covariance_type, priors, likelihood, threads) -> GibbsModel:
        """No PyMC graph: the data and priors, checked. The sorted draws are those of the
        ordered model only for an exchangeable prior, so ``alpha`` must be one value."""
        from .model import Priors, model_kind

        model_kind(covariance_type, Z.shape[1])
        priors = priors if priors is not None else Priors()
        alpha = np.atleast_1d(priors.alpha)
        if np.ptp(alpha) > 0:
            raise ValueError(
                "sampler='gibbs' needs one Dirichlet concentration for every component (the "
                f"labels are exchangeable). Got the 'alpha' prior parameter {priors.alpha!r}; "
                "use a scalar or sampler='nuts'/'pymc'."
            )
        return GibbsModel(np.ascontiguousarray(Z), int(n_components), covariance_type, priors)

    def sample(
        self, model: GibbsModel, starts: Sequence[dict[str, np.ndarray]], run: SamplingRun
    ) -> SampleResult:
        from .gibbs import sample_sparse_mixture

        k, Z = model.n_components, model.data
        draws = sample_sparse_mixture(
            Z,
            k,
            priors=model.priors,
            covariance_type=model.covariance_type,
            scale_prior="halfnormal",
            draws=run.draws,
            tune=run.tune * self.thin,
            chains=run.chains,
            random_state=run.random_seed,
            thin=self.thin,
            starts=[start_allocation(Z, s, k) for s in starts],
        )
        return SampleResult(_inference_data(draws, model), log_likelihood=draws.log_likelihood)


def _inference_data(draws: Any, model: GibbsModel):
    """The draws, each sorted along the first feature's means, as the NUTS model's posterior."""
    from .model import model_kind

    d = model.data.shape[1]
    kind = model_kind(model.covariance_type, d)
    order = np.argsort(draws.means[..., 0], axis=-1, kind="stable")
    w = np.take_along_axis(draws.weights, order, axis=-1)
    mu = np.take_along_axis(draws.means, order[..., None], axis=-2)
    cov = np.take_along_axis(draws.covariances, order[..., None, None], axis=-3)
    sd = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    posterior = {"w": w, "mu": mu}
    dims = {"w": ["component"], "mu": ["component", "feature"], "sigma": ["component", "feature"]}
    coords = {"component": np.arange(model.n_components), "feature": np.arange(d)}
    if kind == "full":
        rows, cols = np.tril_indices(d)
        posterior["chol"] = np.linalg.cholesky(cov)[..., rows, cols]
        posterior["cov"] = cov
        posterior["sigma"] = sd
        coords.update(feature_bis=np.arange(d), packed=np.arange(rows.size))
        dims.update(chol=["component", "packed"], cov=["component", "feature", "feature_bis"])
    elif d == 1:
        posterior["sigma"] = sd[..., 0]
        dims["sigma"] = ["component"]
    else:
        posterior["sigma"] = sd
    return _arviz.from_dict({"posterior": posterior}, coords=coords, dims=dims)
