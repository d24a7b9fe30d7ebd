"""Checks that make a degenerate fit say so: the scale of ``reg_covar`` against the data,
and components whose empirical covariance is singular.

``reg_covar`` is absolute (as in scikit-learn). On data whose features vary by much less
than it, it swamps the covariances and EM merges the clusters while returning finite
numbers; :func:`check_reg_covar_scale` warns before that happens. After a fit,
:func:`check_fit` names each component whose covariance is ``reg_covar`` alone in some
direction and says why (too few samples for a full covariance, a collapse onto one point,
duplicated points, points on a lower-dimensional subspace) and what to change.
"""

from __future__ import annotations

import warnings

import numpy as np

from .exceptions import DegenerateFitWarning, ScaleWarning

# reg_covar counts as "not small" above this fraction of a feature's variance
REG_COVAR_MAX_FRACTION = 1e-3
# an empirical variance below this fraction of the feature's variance counts as zero
SINGULAR_FRACTION = 1e-10


def _feature_variance(X: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Per-feature variance in chunks of rows (no temporary the size of X)."""
    n = X.shape[0]
    mean = sum(X[lo : lo + chunk].sum(axis=0) for lo in range(0, n, chunk)) / n
    ss = sum(np.square(X[lo : lo + chunk] - mean).sum(axis=0) for lo in range(0, n, chunk))
    return ss / n


def check_reg_covar_scale(X: np.ndarray, reg_covar: float) -> None:
    """Warn (``ScaleWarning``) when ``reg_covar`` is not small against a feature's variance."""
    var = _feature_variance(X)
    bad = np.flatnonzero(reg_covar > REG_COVAR_MAX_FRACTION * var)
    if len(bad) and reg_covar > 0:
        j = int(bad[np.argmin(var[bad])])
        warnings.warn(
            f"reg_covar={reg_covar:g} is not small against the variance of feature {j} "
            f"({var[j]:.3g}; {len(bad)} feature(s) affected): it is added to every covariance "
            "and will bias or merge the components. Scale the data (e.g. StandardScaler) or "
            f"set reg_covar well below {REG_COVAR_MAX_FRACTION:g} x the smallest variance.",
            ScaleWarning,
            stacklevel=4,
        )


def _empirical_covariances(est) -> np.ndarray:
    """(K, d, d) covariances without reg_covar (the tied one repeated)."""
    k, d = est.means_.shape
    cov = np.asarray(est.covariances_, dtype=np.float64)
    ct = est.covariance_type
    if ct == "full":
        full = cov.copy()
    elif ct == "tied":
        full = np.broadcast_to(cov, (k, d, d)).copy()
    elif ct == "diag":
        full = np.stack([np.diag(c) for c in cov])
    else:
        full = cov[:, None, None] * np.eye(d)[None]
    full[:, np.arange(d), np.arange(d)] -= est.reg_covar
    return full


def check_fit(est, X: np.ndarray, nk: np.ndarray, labels) -> None:
    """Warn (``DegenerateFitWarning``) for every component with a singular empirical covariance.

    ``nk`` holds the (weighted) responsibility sums N_k at the fitted parameters;
    ``labels()`` returns each row's component, and is called only to describe a
    degenerate component.
    """
    var = _feature_variance(X)
    if not np.all(var > 0):
        return  # a constant feature: every covariance is reg_covar in it, nothing to name
    k, d = est.means_.shape
    emp = _empirical_covariances(est)
    scale = 1.0 / np.sqrt(var)
    rel = emp * scale[None, :, None] * scale[None, None, :]
    components = range(1) if est.covariance_type == "tied" else range(k)
    for j in components:
        low = float(np.linalg.eigvalsh(rel[j]).min())
        if low > SINGULAR_FRACTION:
            continue
        what = "The tied covariance" if est.covariance_type == "tied" else f"Component {j}"
        mine = X[labels() == j] if est.covariance_type != "tied" else X
        n_distinct = len(np.unique(mine, axis=0)) if len(mine) else 0
        if est.covariance_type == "full" and nk[j] < d + 1 and n_distinct <= nk[j] + 0.5:
            why = (
                f"holds {nk[j]:.3g} samples, fewer than the {d + 1} a full covariance needs in {d} dimensions"
            )
            fix = "use fewer components, covariance_type='diag', 'spherical' or 'tied', or more data"
        elif np.trace(rel[j]) <= d * SINGULAR_FRACTION:
            why = (
                "collapsed onto a single point"
                if n_distinct <= 1 and nk[j] < 1.5
                else f"sits on {nk[j]:.3g} duplicated copies of one point"
            )
            fix = "use fewer components, remove duplicated rows, or raise reg_covar"
        else:
            why = "has a singular empirical covariance (its points lie on a lower-dimensional subspace)"
            fix = "use fewer components, a simpler covariance_type, or raise reg_covar"
        warnings.warn(
            f"{what} {why}: its covariance is reg_covar={est.reg_covar:g} alone in some "
            f"direction, and its density there is not estimated. To fix: {fix}.",
            DegenerateFitWarning,
            stacklevel=4,
        )
