"""bayesgmm's own warning classes, for what scikit-learn has no class for.

``NotFittedError`` and ``ConvergenceWarning`` are scikit-learn's (re-exported here), so
``except sklearn.exceptions.NotFittedError`` and warning filters on scikit-learn's
``ConvergenceWarning`` catch bayesgmm's too.
"""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning, NotFittedError

__all__ = ["ConvergenceWarning", "DegenerateFitWarning", "NotFittedError", "SamplingWarning", "ScaleWarning"]


class SamplingWarning(UserWarning):
    """MCMC diagnostics (R-hat, ESS, divergences, BFMI) flag a problem."""


class DegenerateFitWarning(UserWarning):
    """A fitted component is degenerate: too few samples for its covariance, collapsed onto
    one point, or sitting on duplicated points; its covariance is ``reg_covar`` alone in
    some direction."""


class ScaleWarning(UserWarning):
    """``reg_covar`` is not small against the variance of a feature: the fit is biased by it."""
