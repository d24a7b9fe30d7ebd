"""bayesgmm: Gaussian mixtures by exact EM and by MCMC, side by side.

``import bayesgmm`` needs only numpy, scipy and scikit-learn. The Bayesian names (PyMC, ArviZ) and the
plots (matplotlib) are imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .covariance import n_parameters
from .datasets import load_heights, make_mixture
from .em import converged_em, e_step, m_step
from .exceptions import (
    ConvergenceWarning,
    DegenerateFitWarning,
    NotFittedError,
    SamplingWarning,
    ScaleWarning,
)
from .gaussian_mixture import GaussianMixture
from .params import GMMParams

__version__ = "0.1.0"

_LAZY = {
    "select": "bayesgmm.criteria",
    "chosen": "bayesgmm.criteria",
    "CriterionWarning": "bayesgmm.bayes.compare",
    "build_model": "bayesgmm.bayes.model",
    "Priors": "bayesgmm.bayes.model",
    "BayesianGaussianMixture": "bayesgmm.bayes.sampling",
    "relabel_draws": "bayesgmm.bayes.relabel",
    "waic": "bayesgmm.bayes.compare",
    "loo": "bayesgmm.bayes.compare",
    "compare_em_posterior": "bayesgmm.bayes.posterior",
    "compare_models": "bayesgmm.bayes.compare",
    "log_evidence": "bayesgmm.bayes.evidence",
    "EvidenceEstimate": "bayesgmm.bayes.evidence",
    "plotting": "bayesgmm.plotting",
}

__all__ = [
    "ConvergenceWarning",
    "DegenerateFitWarning",
    "GMMParams",
    "GaussianMixture",
    "NotFittedError",
    "SamplingWarning",
    "ScaleWarning",
    "converged_em",
    "e_step",
    "load_heights",
    "m_step",
    "make_mixture",
    "n_parameters",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = import_module(_LAZY[name])
        return module if name == "plotting" else getattr(module, name)
    raise AttributeError(f"module 'bayesgmm' has no attribute {name!r}")
