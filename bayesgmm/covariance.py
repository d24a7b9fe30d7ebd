"""Everything that depends on the covariance type, one table per operation.

Shapes, as in scikit-learn:

=========== ======================== ==========================
type        covariances              precisions_cholesky
=========== ======================== ==========================
full        (K, d, d)                (K, d, d) upper-triangular
tied        (d, d)                   (d, d)
diag        (K, d)                   (K, d)
spherical   (K,)                     (K,)
=========== ======================== ==========================
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

__all__ = [
    "COLLAPSE_ADVICE",
    "compute_precision_cholesky",
    "covariance_from_precision",
    "covariances_from_precision_cholesky",
    "covariances_as_full",
    "log_det_cholesky",
    "n_covariance_parameters",
    "n_parameters",
    "precision_cholesky_from_covariance_cholesky",
    "precision_cholesky_from_precision",
    "precisions_from_cholesky",
]

COLLAPSE_ADVICE = (
    "Fitting the mixture model failed because some components have ill-defined "
    "empirical covariance (for instance caused by singleton or collapsed samples). "
    "Try to decrease the number of components, increase reg_covar, or scale the input data."
)


def _inv_lower(L: np.ndarray) -> np.ndarray:
    """Inverse of a stack of lower-triangular matrices (K, d, d), by forward substitution.

    Written out in numpy rather than through LAPACK's triangular solver: on the tiny
    matrices of a mixture, a call into a threaded BLAS costs far more than the arithmetic,
    and EM (and every gradient of the sampler) calls this once per pass.
    """
    d = L.shape[-1]
    M = np.zeros_like(L)
    diag = np.diagonal(L, axis1=-2, axis2=-1)
    for i in range(d):
        M[:, i, i] = 1.0 / diag[:, i]
        if i:
            M[:, i, :i] = -np.einsum("km,kmj->kj", L[:, i, :i], M[:, :i, :i]) / diag[:, i, None]
    return M


def _prec_chol_full(covariances):
    """U_k = L_k^-T for Sigma_k = L_k L_k^T, for a stack (K, d, d)."""
    cov = np.asarray(covariances, dtype=float)
    if not np.all(np.isfinite(cov)):
        raise ValueError(COLLAPSE_ADVICE)
    try:
        L = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(COLLAPSE_ADVICE) from None
    diag = np.diagonal(L, axis1=-2, axis2=-1)
    if not np.all(np.isfinite(L)) or not np.all(diag > 0):
        raise ValueError(COLLAPSE_ADVICE)
    return precision_cholesky_from_covariance_cholesky(L)


def precision_cholesky_from_covariance_cholesky(L: np.ndarray) -> np.ndarray:
    """U = L^-T (P = U U^T) from lower Cholesky factors L of covariances, shape (K, d, d)."""
    return np.swapaxes(_inv_lower(np.asarray(L, dtype=float)), -1, -2)


def _chol_precision_full(cov: np.ndarray) -> np.ndarray:
    return _prec_chol_full(np.asarray(cov, dtype=float)[None])[0]


def _prec_chol_vec(covariances):
    covariances = np.asarray(covariances, dtype=float)
    if np.any(~np.isfinite(covariances)) or np.any(covariances <= 0.0):
        raise ValueError(COLLAPSE_ADVICE)
    return 1.0 / np.sqrt(covariances)


_PREC_CHOL = {
    "full": _prec_chol_full,
    "tied": _chol_precision_full,
    "diag": _prec_chol_vec,
    "spherical": _prec_chol_vec,
}


def compute_precision_cholesky(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """Cholesky factor U of the precision (P = U U^T), from covariances.

    Raises a ``ValueError`` advising to raise ``reg_covar`` when a covariance is not
    positive definite (a collapsed component).
    """
    return _PREC_CHOL[covariance_type](covariances)


def _precisions_full(pc):
    return np.einsum("kij,klj->kil", pc, pc)


_PRECISIONS = {
    "full": _precisions_full,
    "tied": lambda pc: pc @ pc.T,
    "diag": lambda pc: pc**2,
    "spherical": lambda pc: pc**2,
}


def precisions_from_cholesky(prec_chol: np.ndarray, covariance_type: str) -> np.ndarray:
    """Precision matrices P = U U^T (or squared diagonal precisions)."""
    return _PRECISIONS[covariance_type](prec_chol)


def _pc_from_prec_full(precisions):
    return np.stack([linalg.cholesky(p, lower=True) for p in precisions])


_PC_FROM_PREC = {
    "full": _pc_from_prec_full,
    "tied": lambda p: linalg.cholesky(p, lower=True),
    "diag": np.sqrt,
    "spherical": np.sqrt,
}


def precision_cholesky_from_precision(precisions: np.ndarray, covariance_type: str) -> np.ndarray:
    """Precision Cholesky factor from user precisions (as scikit-learn's ``precisions_init``)."""
    return _PC_FROM_PREC[covariance_type](precisions)


def _cov_from_pc_full(pc):
    return np.stack([covariance_from_precision(u @ u.T) for u in pc])


_COV_FROM_PC = {
    "full": _cov_from_pc_full,
    "tied": lambda pc: covariance_from_precision(pc @ pc.T),
    "diag": lambda pc: 1.0 / pc**2,
    "spherical": lambda pc: 1.0 / pc**2,
}


def covariance_from_precision(precision: np.ndarray) -> np.ndarray:
    """Inverse of one symmetric positive-definite matrix, through its Cholesky factor."""
    M = _inv_lower(np.linalg.cholesky(np.asarray(precision, dtype=float))[None])[0]  # L_P^-1
    return M.T @ M  # (L_P L_P^T)^-1 = L_P^-T L_P^-1


def covariances_from_precision_cholesky(prec_chol: np.ndarray, covariance_type: str) -> np.ndarray:
    """Covariances from the precision Cholesky factor."""
    return _COV_FROM_PC[covariance_type](prec_chol)


_LOG_DET = {
    "full": lambda pc, d: np.sum(np.log(np.diagonal(pc, axis1=1, axis2=2)), axis=1),
    "tied": lambda pc, d: np.sum(np.log(np.diag(pc))),
    "diag": lambda pc, d: np.sum(np.log(pc), axis=1),
    "spherical": lambda pc, d: d * np.log(pc),
}


def log_det_cholesky(prec_chol: np.ndarray, covariance_type: str, n_features: int):
    """log det of the precision Cholesky factor, = 1/2 log|Sigma^-1|, per component."""
    return _LOG_DET[covariance_type](prec_chol, n_features)


def covariances_as_full(
    covariances: np.ndarray, covariance_type: str, n_components: int, n_features: int
) -> np.ndarray:
    """Every covariance type expanded to (K, d, d) matrices."""
    cov = np.asarray(covariances, dtype=float)
    if covariance_type == "full":
        return cov.copy()
    if covariance_type == "tied":
        return np.broadcast_to(cov, (n_components, n_features, n_features)).copy()
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return cov[:, None, None] * np.eye(n_features)[None]


_N_COV = {
    "full": lambda k, d: k * d * (d + 1) // 2,
    "tied": lambda k, d: d * (d + 1) // 2,
    "diag": lambda k, d: k * d,
    "spherical": lambda k, d: k,
}


def n_covariance_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    return _N_COV[covariance_type](n_components, n_features)


def n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Free parameters: covariances + means + (K - 1) weights, as scikit-learn counts."""
    return (
        n_covariance_parameters(n_components, n_features, covariance_type)
        + n_components * n_features
        + n_components
        - 1
    )
