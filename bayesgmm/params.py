"""The fitted (or proposed) parameters of a Gaussian mixture, shared by EM and MCMC."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ._validation import COVARIANCE_TYPES
from .covariance import compute_precision_cholesky, covariances_as_full

__all__ = ["GMMParams", "frozen_array"]


def frozen_array(a) -> np.ndarray:
    """A read-only float64 copy: what the frozen dataclasses of bayesgmm hold."""
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class GMMParams:
    """Weights pi_k, means mu_k and covariances Sigma_k of a K-component mixture.

    Parameters
    ----------
    weights : array of shape (n_components,)
        Mixing proportions, non-negative and summing to 1.
    means : array of shape (n_components, n_features)
    covariances : array
        (K, d, d) for ``full``, (d, d) for ``tied``, (K, d) for ``diag``, (K,) for
        ``spherical`` -- scikit-learn's shapes.
    covariance_type : {"full", "tied", "diag", "spherical"}
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance_type: str = "full"

    def __post_init__(self) -> None:
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(
                f"The 'covariance_type' parameter must be one of {list(COVARIANCE_TYPES)}. "
                f"Got {self.covariance_type!r} instead."
            )
        w, m, c = frozen_array(self.weights), frozen_array(self.means), frozen_array(self.covariances)
        if m.ndim != 2:
            raise ValueError(f"means must have shape (n_components, n_features). Got shape {m.shape}.")
        k, d = m.shape
        if w.shape != (k,):
            raise ValueError(f"weights must have shape ({k},). Got shape {w.shape}.")
        if np.any(w < 0) or not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-6):
            raise ValueError(f"weights must be non-negative and sum to 1. Got sum {w.sum()!r}.")
        expected = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[
            self.covariance_type
        ]
        if c.shape != expected:
            raise ValueError(
                f"covariances for covariance_type={self.covariance_type!r} must have shape "
                f"{expected}. Got shape {c.shape}."
            )
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "means", m)
        object.__setattr__(self, "covariances", c)

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    @property
    def n_features(self) -> int:
        return self.means.shape[1]

    @cached_property
    def precisions_cholesky(self) -> np.ndarray:
        """Cholesky factor of the precisions; raises the collapse advice when not PD."""
        return compute_precision_cholesky(self.covariances, self.covariance_type)

    def covariances_full(self) -> np.ndarray:
        """Covariances as (K, d, d) matrices whatever the covariance type."""
        return covariances_as_full(self.covariances, self.covariance_type, self.n_components, self.n_features)

    def permuted(self, order) -> GMMParams:
        """The same mixture with components reordered (``order[i]`` becomes component i)."""
        order = np.asarray(order)
        cov = self.covariances if self.covariance_type == "tied" else self.covariances[order]
        return GMMParams(self.weights[order], self.means[order], cov, self.covariance_type)

    def sorted(self, axis: int = 0) -> GMMParams:
        """Components sorted by their mean along feature ``axis`` (the identifying order)."""
        return self.permuted(np.argsort(self.means[:, axis], kind="stable"))
