"""Warning and error classes of bayesgmm."""

from __future__ import annotations

__all__ = ["ConvergenceWarning", "NotFittedError", "SamplingWarning"]


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood converged."""


class SamplingWarning(UserWarning):
    """MCMC diagnostics (R-hat, ESS, divergences, BFMI) flag a problem."""


class NotFittedError(ValueError, AttributeError):
    """An estimator was used before ``fit``."""
