"""Fit on standardised data, report in the data's own units: the affine map and its inverse.

A Gaussian mixture is affine-equivariant: if ``z = (x - c) / s`` (``s`` a positive scale per
feature), a component ``N(mu, Sigma)`` for ``z`` is ``N(c + s mu, S Sigma S)`` for ``x`` with
``S = diag(s)``, and every density picks up the Jacobian ``1 / prod(s)``. EM on ``z`` is EM on
``x`` except for ``reg_covar``, which is added in ``z``'s units -- i.e. relative to each
feature's spread in ``x``'s units (``reg_covar * s_j**2``). That is what makes the
bayesgmm-native entry points give the same answer for data measured in metres or in
nanometres, where an absolute ``reg_covar`` swamps variances below it.

A spherical model (one variance per component, shared by all features) stays spherical only
under a common scale, so :meth:`Standardizer.fit` takes ``isotropic=True`` for it (one
scale, the root mean of the feature variances); full, tied and diagonal covariances keep
their structure under a scale per feature.

Conventions: ``log_jacobian = -sum(log s)`` is ``log|det dz/dx|``; a log-likelihood of ``n``
rows on ``z`` converts to ``x`` by adding ``n * log_jacobian`` (:meth:`loglik_back`), so
AIC, BIC and ICL on ``x`` are those on ``z`` minus ``2 n log_jacobian`` -- the same shift
for every model, which leaves every difference between models unchanged.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import is_dask_array
from .params import GMMParams, frozen_array

__all__ = ["Standardizer"]


@dataclass(frozen=True)
class Standardizer:
    """The affine map ``z = (x - center) / scale`` (per feature) and its inverse on parameters.

    Parameters
    ----------
    center : array of shape (n_features,)
    scale : array of shape (n_features,)
        Positive and finite.

    All ``*_back`` methods broadcast over leading axes (e.g. posterior draws), so
    ``means_back`` takes ``(..., n_components, n_features)`` and ``covariances_back`` any
    stack of covariances of the given type with the covariance axes last.
    """

    center: np.ndarray
    scale: np.ndarray

    def __post_init__(self) -> None:
        c, s = frozen_array(self.center), frozen_array(self.scale)
        if c.ndim != 1 or s.shape != c.shape:
            raise ValueError(
                f"center and scale must be 1-D arrays of the same length. Got shapes {c.shape} and {s.shape}."
            )
        if not (np.all(np.isfinite(c)) and np.all(np.isfinite(s)) and np.all(s > 0)):
            raise ValueError(f"scale must be positive and finite and center finite. Got scale {s!r}.")
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "scale", s)

    # -- construction
    @classmethod
    def fit(cls, X: Any, *, isotropic: bool = False, sample_weight: Any = None) -> Standardizer:
        """Center on the (weighted) mean, scale by the standard deviation of each feature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a Dask array
        isotropic : bool, default=False
            One scale for all features (the root mean of their variances), which keeps a
            spherical covariance spherical. Otherwise one scale per feature.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights for the mean and variances.

        A feature with zero variance is scaled by the root mean of the other features'
        variances (1 when every feature is constant), so that the map stays invertible and
        still scales with the data.
        """
        if is_dask_array(X):  # the same two passes, as reductions over the blocks
            if X.ndim != 2 or X.shape[0] < 1 or sample_weight is not None:
                raise ValueError(
                    f"X must be a non-empty 2-D Dask array, without weights. Got shape {X.shape}."
                )
            X = X.astype(np.float64)
            center = np.asarray(X.mean(axis=0).compute())
            center = center + np.asarray((X - center).mean(axis=0).compute())
            var = np.asarray(((X - center) ** 2).mean(axis=0).compute())
        else:
            X = np.asarray(X, dtype=np.float64)
            if X.ndim != 2 or X.shape[0] < 1:
                raise ValueError(f"X must be a non-empty 2-D array. Got shape {X.shape}.")
            w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
            center = np.average(X, axis=0, weights=w)
            center = center + np.average(X - center, axis=0, weights=w)  # second pass: rounding
            var = np.average((X - center) ** 2, axis=0, weights=w)
        positive = var > 0
        fill = np.sqrt(var[positive].mean()) if positive.any() else 1.0
        if isotropic:
            scale = np.full(X.shape[1], fill)
        else:
            scale = np.where(positive, np.sqrt(np.where(positive, var, 1.0)), fill)
        return cls(center, scale)

    @property
    def is_isotropic(self) -> bool:
        return bool(np.all(self.scale == self.scale[0]))

    @property
    def log_jacobian(self) -> float:
        """``log|det dz/dx| = -sum(log scale)``: add ``n`` times it to a log-likelihood on z."""
        return float(-np.sum(np.log(self.scale)))

    # -- data
    def transform(self, X: Any) -> np.ndarray:
        """``z = (x - center) / scale`` (lazily, block by block, for a Dask array)."""
        if is_dask_array(X):
            return (X.astype(np.float64) - self.center) / self.scale
        return (np.asarray(X, dtype=np.float64) - self.center) / self.scale

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """``x = center + scale * z``."""
        return np.asarray(Z, dtype=np.float64) * self.scale + self.center

    # -- parameters, z -> x
    def means_back(self, means: Any) -> np.ndarray:
        """Component means on x from means on z, shape ``(..., n_components, n_features)``."""
        return self.inverse_transform(means)

    def _check_type(self, covariance_type: str) -> None:
        if covariance_type == "spherical" and not self.is_isotropic:
            raise ValueError(
                "A spherical covariance stays spherical only under one common scale; build the "
                "Standardizer with isotropic=True for covariance_type='spherical'."
            )

    def covariances_back(self, covariances: Any, covariance_type: str) -> np.ndarray:
        """Covariances on x (``S Sigma S``) from covariances on z, in scikit-learn's shapes."""
        self._check_type(covariance_type)
        c = np.asarray(covariances, dtype=np.float64)
        s = self.scale
        if covariance_type in ("full", "tied"):
            return c * s[:, None] * s[None, :]
        if covariance_type == "diag":
            return c * s**2
        return c * s[0] ** 2

    def precisions_cholesky_back(self, precisions_cholesky: Any, covariance_type: str) -> np.ndarray:
        """Cholesky factors of the precisions on x: ``U_x = S^-1 U_z`` (still triangular)."""
        self._check_type(covariance_type)
        u = np.asarray(precisions_cholesky, dtype=np.float64)
        s = self.scale
        if covariance_type in ("full", "tied"):
            return u / s[:, None]
        if covariance_type == "diag":
            return u / s
        return u / s[0]

    def params_back(self, params: GMMParams) -> GMMParams:
        """The mixture on x whose image under the map is ``params`` (weights unchanged)."""
        ct = params.covariance_type
        return GMMParams(
            params.weights, self.means_back(params.means), self.covariances_back(params.covariances, ct), ct
        )

    def params_forward(self, params: GMMParams) -> GMMParams:
        """The inverse of :meth:`params_back`: a mixture on x expressed on z."""
        self._check_type(params.covariance_type)
        inv = Standardizer(-self.center / self.scale, 1.0 / self.scale)
        return inv.params_back(params)

    def loglik_back(self, loglik: float, n_samples: float) -> float:
        """Total log-likelihood of ``n_samples`` rows on x from the one on z."""
        return float(loglik) + n_samples * self.log_jacobian

    def model_back(self, model: Any) -> Any:
        """A copy of a :class:`~bayesgmm.gaussian_mixture.GaussianMixture` fitted on z, with its fitted
        parameters (and per-sample log-likelihood bounds) expressed on x.

        Its ``score_samples``, ``predict``, ``bic`` ... then take x directly; the
        responsibilities are the same as on z, the log-densities shift by ``log_jacobian``.
        """
        ct = model.covariance_type
        out = copy.deepcopy(model)
        out.means_ = self.means_back(model.means_)
        out.covariances_ = self.covariances_back(model.covariances_, ct)
        out.precisions_cholesky_ = self.precisions_cholesky_back(model.precisions_cholesky_, ct)
        prec = np.asarray(model.precisions_, dtype=np.float64)
        inv = 1.0 / self.scale
        if ct in ("full", "tied"):
            out.precisions_ = prec * inv[:, None] * inv[None, :]
        else:
            out.precisions_ = prec * (inv**2 if ct == "diag" else inv[0] ** 2)
        if getattr(model, "_shift", None) is not None:
            out._shift = self.inverse_transform(model._shift)
        if getattr(model, "lower_bound_", None) is not None:
            out.lower_bound_ = float(model.lower_bound_) + self.log_jacobian
        if getattr(model, "lower_bounds_", None) is not None:
            out.lower_bounds_ = [float(v) + self.log_jacobian for v in model.lower_bounds_]
        return out
