r"""The EM algorithm for Gaussian mixtures, as the article writes it, and a drop-in
replacement for scikit-learn's ``GaussianMixture``.

The textbook steps are the module functions :func:`e_step` and :func:`m_step`:

E-step, the responsibility of component k for sample i (computed in log space)::

    gamma_ik = pi_k N(x_i | mu_k, Sigma_k) / sum_j pi_j N(x_i | mu_j, Sigma_j)

M-step::

    N_k = sum_i gamma_ik
    mu_k = (1 / N_k) sum_i gamma_ik x_i
    Sigma_k = (1 / N_k) sum_i gamma_ik (x_i - mu_k)(x_i - mu_k)^T
    pi_k = N_k / n

repeated until the mean log-likelihood changes by less than ``tol``.

:class:`GaussianMixture` runs the same updates through a fused pass over the data
(:mod:`bayesgmm._kernels`: log-densities, log-sum-exp, responsibilities and the sums N_k,
sum gamma x, sum gamma x x^T in one sweep over cache-sized chunks) and, by default,
accelerates them with SQUAREM (Varadhan & Roland 2008), which reaches the same fixed point
in far fewer passes. ``accelerate=False`` gives plain EM, step for step identical to
scikit-learn; ``engine="textbook"`` runs :func:`e_step`/:func:`m_step` literally.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
from scipy.special import logsumexp

from . import _kernels
from ._data import as_data
from ._validation import (
    COVARIANCE_TYPES,
    INIT_PARAMS,
    check_int,
    check_option,
    check_random_state,
    check_real,
    check_X,
    is_dask_array,
)
from .covariance import (
    COLLAPSE_ADVICE,
    compute_precision_cholesky,
    covariances_from_precision_cholesky,
    log_det_cholesky,
    n_parameters,
    precision_cholesky_from_precision,
    precisions_from_cholesky,
)
from .exceptions import ConvergenceWarning, NotFittedError
from .initialization import initial_parameters, params_from_stats
from .params import GMMParams

__all__ = ["CONVERGED_TOL", "GaussianMixture", "converged_em", "e_step", "estimate_log_gaussian_prob", "m_step"]

ENGINES = ("auto", "numba", "numpy", "textbook")
_SLACK = 1e-8


# --------------------------------------------------------------------------- the textbook
def estimate_log_gaussian_prob(X, means, precisions_cholesky, covariance_type):
    """log N(x_i | mu_k, Sigma_k) for every sample and component, shape (n, K).

    With U_k the Cholesky factor of the precision (Sigma_k^-1 = U_k U_k^T)::

        log N = -d/2 log(2 pi) + log|U_k| - 1/2 || (x_i - mu_k)^T U_k ||^2
    """
    n, d = X.shape
    k = means.shape[0]
    log_det = log_det_cholesky(precisions_cholesky, covariance_type, d)
    if covariance_type in ("full", "tied"):
        pcs = precisions_cholesky if covariance_type == "full" else [precisions_cholesky] * k
        log_prob = np.empty((n, k))
        for j, (mu, U) in enumerate(zip(means, pcs, strict=True)):
            y = X @ U - mu @ U
            log_prob[:, j] = np.sum(np.square(y), axis=1)
    else:
        prec = precisions_cholesky**2
        if covariance_type == "spherical":
            prec = np.broadcast_to(prec[:, None], (k, d))
        log_prob = np.sum(means**2 * prec, axis=1) - 2.0 * X @ (means * prec).T + (X**2) @ prec.T
    return -0.5 * (d * np.log(2 * np.pi) + log_prob) + log_det


def e_step(X, weights, means, precisions_cholesky, covariance_type):
    """The E-step: log gamma_ik and log p(x_i), by log-sum-exp over components.

    Returns
    -------
    log_prob : array of shape (n_samples,)
        log sum_k pi_k N(x_i | mu_k, Sigma_k).
    log_resp : array of shape (n_samples, n_components)
        log gamma_ik = log pi_k N(x_i | mu_k, Sigma_k) - log_prob_i.
    """
    with np.errstate(divide="ignore"):
        weighted = estimate_log_gaussian_prob(X, means, precisions_cholesky, covariance_type) + np.log(
            weights
        )
    log_prob = logsumexp(weighted, axis=1)
    with np.errstate(under="ignore"):
        log_resp = weighted - log_prob[:, None]
    return log_prob, log_resp


def m_step(X, resp, covariance_type, reg_covar=1e-6):
    """The M-step: N_k, mu_k, Sigma_k (+ reg_covar on the diagonal) and pi_k from gamma.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    resp : array of shape (n_samples, n_components)
        Responsibilities gamma_ik (rows sum to 1).

    Returns
    -------
    weights, means, covariances : arrays
        pi_k = N_k / n, mu_k = sum_i gamma_ik x_i / N_k, and the covariances in
        scikit-learn's shape for ``covariance_type``.
    """
    n, d = X.shape
    nk = resp.sum(axis=0) + 10 * np.finfo(resp.dtype).eps  # N_k
    means = resp.T @ X / nk[:, None]  # mu_k
    if covariance_type == "full":
        cov = np.empty((len(nk), d, d))
        for k in range(len(nk)):
            diff = X - means[k]
            cov[k] = (resp[:, k] * diff.T) @ diff / nk[k]  # Sigma_k
            cov[k].flat[:: d + 1] += reg_covar
    elif covariance_type == "tied":
        cov = (X.T @ X - (nk * means.T) @ means) / nk.sum()
        cov.flat[:: d + 1] += reg_covar
    else:
        avg_x2 = resp.T @ (X * X) / nk[:, None]
        cov = avg_x2 - means**2 + reg_covar
        if covariance_type == "spherical":
            cov = cov.mean(axis=1)
    return nk / nk.sum(), means, cov  # pi_k = N_k / n


# --------------------------------------------------------------------------- one EM pass
class _Step:
    """One EM map theta -> (mean log-likelihood at theta, M(theta)) on one data source."""

    def __init__(self, data, covariance_type, reg_covar, engine):
        self.data = data
        self.ct = covariance_type
        self.reg = reg_covar
        self.engine = engine

    def __call__(self, weights, means, prec_chol):
        data, ct = self.data, self.ct
        if self.engine == "textbook":
            log_prob, log_resp = e_step(data.X, weights, means, prec_chol, ct)
            new = m_step(data.X, np.exp(log_resp), ct, self.reg)
            return float(np.mean(log_prob)), new
        W = _kernels.natural_parameters(weights, means, prec_chol, ct, data.shift)
        ll, S = data.stats(W, ct)
        return ll / data.n, params_from_stats(S, data.d, ct, data.shift, self.reg)


def _pack(weights, means, cov, ct):
    """Unconstrained coordinates for SQUAREM: log weights, means, log-Cholesky covariances."""
    with np.errstate(divide="ignore"):
        parts = [np.log(weights), means.ravel()]
    if ct in ("full", "tied"):
        L = np.linalg.cholesky(cov)
        d = L.shape[-1]
        diag = np.arange(d)
        L = L.copy()
        L[..., diag, diag] = np.log(L[..., diag, diag])
        parts.append(L[..., np.tril_indices(d)[0], np.tril_indices(d)[1]].ravel())
    else:
        parts.append(np.log(cov).ravel())
    return np.concatenate(parts)


def _unpack(theta, k, d, ct):
    lw = theta[:k]
    w = np.exp(lw - lw.max())
    w /= w.sum()
    means = theta[k : k + k * d].reshape(k, d)
    rest = theta[k + k * d :]
    if ct in ("full", "tied"):
        il = np.tril_indices(d)
        nm = 1 if ct == "tied" else k
        L = np.zeros((nm, d, d))
        L[:, il[0], il[1]] = rest.reshape(nm, -1)
        diag = np.arange(d)
        L[:, diag, diag] = np.exp(L[:, diag, diag])
        cov = L @ np.swapaxes(L, 1, 2)
        cov = cov[0] if ct == "tied" else cov
    else:
        cov = np.exp(rest).reshape(k, d) if ct == "diag" else np.exp(rest)
    return w, means, cov


def _run_em(step, start, *, tol, max_iter, accelerate, verbose, init_index, prev_lower_bound=-np.inf):
    """Iterate from ``start`` = (weights, means, covariances, prec_chol).

    Plain EM stops, as scikit-learn does, when one pass changes the mean log-likelihood
    by less than ``tol``, and returns the parameters after that pass. With
    ``accelerate``, each SQUAREM cycle makes two EM passes, extrapolates along them
    (step length alpha <= -1; alpha = -1 is plain EM), and makes one stabilising pass from
    the extrapolated point, which is kept only if its log-likelihood is at least that of
    the second EM point (the monotonicity safeguard); convergence is then tested between
    the starts of successive cycles.

    Returns (weights, means, covariances, prec_chol, lower_bound, history, n_pass,
    converged). ``history`` holds the mean log-likelihood at each accepted point;
    ``n_pass`` counts passes over the data (the unit of cost). With ``reg_covar = 0`` the
    history never decreases (EM and the safeguard are monotone). With ``reg_covar > 0``
    the EM map is not the ascent map of the log-likelihood (its fixed point is not exactly
    a maximum), so near the fixed point the history may wobble by a hair (< 1e-8
    relative). ``prev_lower_bound`` is the value the first change is measured from
    (scikit-learn's warm start measures it from the previous fit's ``lower_bound_``).
    """
    ct = step.ct
    w, m, cov, pc = start
    history: list[float] = []
    n_pass = 0

    def em(w, m, pc):
        nonlocal n_pass
        n_pass += 1
        ll, (w2, m2, c2) = step(w, m, pc)
        if not np.isfinite(ll):
            raise ValueError(COLLAPSE_ADVICE)
        if verbose >= 2:
            print(f"  init {init_index} pass {n_pass:4d}  mean log-likelihood {ll:.12f}", file=sys.stderr)
        return ll, w2, m2, c2, compute_precision_cholesky(c2, ct)

    slack = _SLACK if step.reg > 0 else 0.0
    prev = prev_lower_bound
    while n_pass < max_iter:
        ll0, w1, m1, c1, pc1 = em(w, m, pc)
        history.append(ll0)
        if abs(ll0 - prev) < tol:
            return w1, m1, c1, pc1, ll0, history, n_pass, True
        prev = ll0
        if not accelerate or n_pass + 3 > max_iter:
            w, m, cov, pc = w1, m1, c1, pc1
            continue
        ll1, w2, m2, c2, pc2 = em(w1, m1, pc1)
        history.append(ll1)
        th0 = _pack(w, m, cov, ct)
        th1 = _pack(w1, m1, c1, ct)
        th2 = _pack(w2, m2, c2, ct)
        r, v = th1 - th0, th2 - 2 * th1 + th0
        nv = np.linalg.norm(v)
        w, m, cov, pc = w2, m2, c2, pc2  # the plain EM point, unless extrapolation wins
        if not np.isfinite(nv) or nv == 0:
            continue
        alpha = min(-1.0, -np.linalg.norm(r) / nv)
        thx = th0 - 2 * alpha * r + alpha**2 * v
        if not np.all(np.isfinite(thx)):
            continue
        wx, mx, cx = _unpack(thx, len(w), m.shape[1], ct)
        try:
            llx, w3, m3, c3, pc3 = em(wx, mx, compute_precision_cholesky(cx, ct))
        except (ValueError, np.linalg.LinAlgError):
            continue
        # The safeguard: keep the extrapolated point if it does not lower the
        # log-likelihood or, only when reg_covar > 0, lowers it by a hair (< 1e-8
        # relative) while moving closer to the fixed point. With reg_covar > 0 the fixed
        # point of EM is not exactly a maximum of the log-likelihood (points near it can
        # have a higher one), so the last approach may cost a hair of it.
        if llx >= ll1 or (
            llx >= ll1 - slack * max(1.0, abs(ll1))
            and np.linalg.norm(_pack(w3, m3, c3, ct) - thx) < np.linalg.norm(th2 - th1)
        ):
            history.append(llx)
            w, m, cov, pc = w3, m3, c3, pc3
    return w, m, cov, pc, history[-1] if history else -np.inf, history, n_pass, False


# --------------------------------------------------------------------------- the estimator
class GaussianMixture:
    """Gaussian mixture fitted by EM; scikit-learn's constructor, attributes and methods.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    tol : float, default=1e-3
        Convergence threshold on the change of the mean per-sample log-likelihood.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance.
    max_iter : int, default=100
        Maximum number of EM passes over the data per initialisation.
    n_init : int, default=1
        Initialisations; the one with the highest log-likelihood is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
    weights_init, means_init, precisions_init : array-like, optional
        User-given starting parameters (scikit-learn's shapes).
    random_state : int, numpy Generator or None
    warm_start : bool, default=False
        Start ``fit`` from the previous solution (one initialisation).
    verbose : int, default=0
    accelerate : bool, default=True
        SQUAREM acceleration with a monotonicity safeguard: the same fixed point in fewer
        passes. ``False`` is plain EM, step for step identical to scikit-learn.
    engine : {"auto", "numba", "numpy", "textbook"}, default="auto"
        "auto" uses the compiled fused pass when numba is installed, else the chunked numpy
        one; "textbook" runs :func:`e_step` and :func:`m_step` on full n x K arrays.

    Attributes
    ----------
    weights_ : array of shape (n_components,)
    means_ : array of shape (n_components, n_features)
    covariances_, precisions_, precisions_cholesky_ : arrays (scikit-learn's shapes)
    converged_ : bool
    n_iter_ : int
        EM passes of the best initialisation.
    lower_bound_ : float
        Mean log-likelihood of the best initialisation at its last check.
    lower_bounds_ : list of float
        Its mean log-likelihood at every accepted point (with ``accelerate=False``: at the
        start of every pass, as scikit-learn's ``lower_bounds_``). Never decreasing when
        ``reg_covar=0``; with ``reg_covar > 0`` EM's fixed point is not exactly a maximum
        and the last steps may lower it by a hair.

    Notes
    -----
    The article's experiment (``tol=1e-3``) stops after 4 passes, before convergence; its
    printed numbers are reproduced with ``accelerate=False`` from scikit-learn's k-means
    start. They are not the maximum-likelihood estimate.

    ``tol`` bounds the change of the mean log-likelihood in one pass (one SQUAREM cycle
    with ``accelerate=True``), not the distance to the fixed point. Where EM is slow
    (overlapping components) the two differ a lot: on the height data scikit-learn's
    plain EM at ``tol=1e-8`` stops 3e-3 (relative) short of the fixed point, and needs
    ``tol=1e-13`` to get within 1e-6 (522 passes); from eight k-means starts, SQUAREM got
    within 1e-6 at ``tol=1e-12`` and within 1e-9 at ``tol=1e-13``, in 49 to 73 passes.
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: Any = None,
        means_init: Any = None,
        precisions_init: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        accelerate: bool = True,
        engine: str = "auto",
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.accelerate = accelerate
        self.engine = engine

    def __repr__(self) -> str:
        return (
            f"GaussianMixture(n_components={self.n_components!r}, "
            f"covariance_type={self.covariance_type!r}, tol={self.tol!r})"
        )

    # -- scikit-learn's get_params/set_params, so the estimator works in its tooling
    _PARAMS = (
        "n_components covariance_type tol reg_covar max_iter n_init init_params weights_init "
        "means_init precisions_init random_state warm_start verbose verbose_interval accelerate engine"
    ).split()

    def get_params(self, deep: bool = True) -> dict:
        return {p: getattr(self, p) for p in self._PARAMS}

    def set_params(self, **params) -> GaussianMixture:
        for k, v in params.items():
            if k not in self._PARAMS:
                raise ValueError(f"Invalid parameter {k!r} for GaussianMixture. Valid: {self._PARAMS}.")
            setattr(self, k, v)
        return self

    # -- validation
    def _check_parameters(self, d: int) -> None:
        k = check_int(self.n_components, "n_components")
        check_option(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        check_real(self.tol, "tol")
        check_real(self.reg_covar, "reg_covar")
        check_int(self.max_iter, "max_iter")
        check_int(self.n_init, "n_init")
        check_option(self.init_params, "init_params", INIT_PARAMS)
        check_option(self.engine, "engine", ENGINES)
        ct = self.covariance_type
        self._weights_init = self._means_init = self._pc_init = None
        if self.weights_init is not None:
            w = np.asarray(self.weights_init, dtype=float)
            if w.shape != (k,):
                raise ValueError(
                    f"The parameter 'weights_init' should have the shape ({k},), but got {w.shape}."
                )
            if not np.all(np.isfinite(w)) or np.any(w < 0) or np.any(w > 1):
                raise ValueError(
                    "The parameter 'weights_init' should be in the range [0, 1], but got "
                    f"min value {w.min():.5f}, max value {w.max():.5f}."
                )
            if not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-6):
                raise ValueError(
                    f"The parameter 'weights_init' should be normalized, but got sum(weights) = {w.sum():.5f}."
                )
            self._weights_init = w
        if self.means_init is not None:
            m = np.asarray(self.means_init, dtype=float)
            if m.shape != (k, d):
                raise ValueError(
                    f"The parameter 'means_init' should have the shape ({k}, {d}), but got {m.shape}."
                )
            if not np.all(np.isfinite(m)):
                raise ValueError("The parameter 'means_init' must contain only finite values.")
            self._means_init = m
        if self.precisions_init is not None:
            p = np.asarray(self.precisions_init, dtype=float)
            shape = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[ct]
            if p.shape != shape:
                raise ValueError(
                    f"The parameter 'precisions_init' should have the shape {shape} for "
                    f"covariance_type={ct!r}, but got {p.shape}."
                )
            if not np.all(np.isfinite(p)):
                raise ValueError("The parameter 'precisions_init' must contain only finite values.")
            if ct in ("full", "tied"):
                for j, mat in enumerate(p.reshape(-1, d, d)):
                    where = f" (component {j})" if ct == "full" else ""
                    if not np.allclose(mat, mat.T):
                        raise ValueError(
                            f"The parameter 'precisions_init' should be symmetric, but the "
                            f"{ct} precision{where} is not."
                        )
                    low = float(np.linalg.eigvalsh(mat).min())
                    if low <= 0.0:
                        raise ValueError(
                            f"The parameter 'precisions_init' should be positive-definite, but "
                            f"the {ct} precision{where} has smallest eigenvalue {low:.3g}."
                        )
            elif np.any(p <= 0.0):
                raise ValueError(
                    f"The parameter 'precisions_init' should be positive for covariance_type="
                    f"{ct!r}, but got min value {p.min():.5g}."
                )
            self._pc_init = precision_cholesky_from_precision(p, ct)

    def _resolved_engine(self, X) -> str:
        if self.engine == "auto":
            return _kernels.resolve_backend("auto")
        if self.engine == "textbook" and is_dask_array(X):
            raise ValueError("engine='textbook' needs an in-memory X; use 'auto' for Dask arrays.")
        if self.engine in ("numba", "numpy"):
            return _kernels.resolve_backend(self.engine)
        return self.engine

    def _start(self, data, rng):
        ct, k = self.covariance_type, self.n_components
        if self.warm_start and getattr(self, "converged_", None) is not None:
            return self.weights_, self.means_, self.covariances_, self.precisions_cholesky_
        if self._weights_init is not None and self._means_init is not None and self._pc_init is not None:
            cov = covariances_from_precision_cholesky(self._pc_init, ct)
            return self._weights_init, self._means_init, cov, self._pc_init
        w, m, cov = initial_parameters(data, k, ct, self.init_params, self.reg_covar, rng)
        pc = compute_precision_cholesky(cov, ct)
        if self._weights_init is not None:
            w = self._weights_init
        if self._means_init is not None:
            m = self._means_init
        if self._pc_init is not None:
            pc = self._pc_init
            cov = covariances_from_precision_cholesky(pc, ct)
        return w, m, cov, pc

    # -- fitting
    def fit(self, X, y=None) -> GaussianMixture:
        """Estimate the parameters by EM (``n_init`` starts, keep the best)."""
        X = check_X(X, min_samples=max(check_int(self.n_components, "n_components"), 1), allow_dask=True)
        self._check_parameters(X.shape[1])
        engine = self._resolved_engine(X)
        data = as_data(X, _kernels.resolve_backend("auto") if engine == "textbook" else engine)
        step = _Step(data, self.covariance_type, self.reg_covar, engine)
        rng = check_random_state(self.random_state)
        warm = self.warm_start and getattr(self, "converged_", None) is not None
        n_init = 1 if warm else self.n_init
        best = None
        for i in range(n_init):
            if self.verbose:
                print(f"Initialization {i}", file=sys.stderr)
            start = self._start(data, rng)
            out = _run_em(
                step,
                start,
                tol=self.tol,
                max_iter=self.max_iter,
                accelerate=self.accelerate,
                verbose=self.verbose,
                init_index=i,
                prev_lower_bound=self.lower_bound_ if warm else -np.inf,
            )
            if self.verbose:
                print(f"Initialization {i} converged: {out[7]} after {out[6]} passes", file=sys.stderr)
            if best is None or out[4] > best[4]:
                best = out
        w, m, cov, pc, lb, hist, n_iter, conv = best
        if not conv and self.max_iter > 0:
            warnings.warn(
                f"Best of {n_init} initialization(s) did not converge after {n_iter} EM passes. "
                "Try different init parameters, a larger max_iter, a larger tol, or check the data.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.weights_, self.means_, self.covariances_ = w, m, cov
        self.precisions_cholesky_ = pc
        self.precisions_ = precisions_from_cholesky(pc, self.covariance_type)
        self.converged_ = conv
        self.n_iter_ = n_iter
        self.lower_bound_ = lb
        self.lower_bounds_ = hist
        self.n_features_in_ = X.shape[1]
        self._shift = data.shift
        return self

    def fit_predict(self, X, y=None) -> np.ndarray:
        """Fit, then label each sample with its most responsible component."""
        return self.fit(X).predict(X)

    # -- using the fit
    def _check_fitted(self) -> None:
        if getattr(self, "means_", None) is None:
            raise NotFittedError("This GaussianMixture instance is not fitted yet. Call 'fit' first.")

    def _check_predict_X(self, X):
        self._check_fitted()
        X = check_X(X)
        if X.shape[1] != self.means_.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features, but this GaussianMixture was fitted with "
                f"{self.means_.shape[1]} features."
            )
        return X

    @property
    def params_(self) -> GMMParams:
        """The fitted parameters as a frozen :class:`GMMParams`."""
        self._check_fitted()
        return GMMParams(self.weights_, self.means_, self.covariances_, self.covariance_type)

    def _log_prob_resp(self, X):
        W = _kernels.natural_parameters(
            self.weights_, self.means_, self.precisions_cholesky_, self.covariance_type, self._shift
        )
        return _kernels.log_prob_resp(X, W, self._shift, self.covariance_type)

    def score_samples(self, X) -> np.ndarray:
        """log p(x_i) under the mixture, shape (n_samples,)."""
        return self._log_prob_resp(self._check_predict_X(X))[0]

    def score(self, X, y=None) -> float:
        """Mean log-likelihood per sample."""
        return float(np.mean(self.score_samples(X)))

    def predict_proba(self, X) -> np.ndarray:
        """Responsibilities gamma_ik, shape (n_samples, n_components)."""
        return np.exp(self._log_prob_resp(self._check_predict_X(X))[1])

    def predict(self, X) -> np.ndarray:
        """The most responsible component of each sample."""
        return np.argmax(self._log_prob_resp(self._check_predict_X(X))[1], axis=1)

    def sample(self, n_samples: int = 1, *, random_state: Any = None):
        """Draw samples; returns (X, component labels), grouped by component like scikit-learn."""
        self._check_fitted()
        n_samples = check_int(n_samples, "n_samples")
        rng = check_random_state(self.random_state if random_state is None else random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        full = self.params_.covariances_full()
        X = np.vstack(
            [
                rng.multivariate_normal(mu, cov, int(c))
                for mu, cov, c in zip(self.means_, full, counts, strict=True)
            ]
        )
        y = np.concatenate([np.full(c, j, dtype=int) for j, c in enumerate(counts)])
        return X, y

    # -- information criteria (deviance scale, lower is better)
    def _n_parameters(self) -> int:
        return n_parameters(self.n_components, self.means_.shape[1], self.covariance_type)

    def _total_loglik(self, X) -> tuple[float, int]:
        self._check_fitted()
        if is_dask_array(X):
            X = check_X(X, allow_dask=True)
            data = as_data(X)
            W = _kernels.natural_parameters(
                self.weights_, self.means_, self.precisions_cholesky_, self.covariance_type, data.shift
            )
            return data.stats(W, self.covariance_type)[0], data.n
        lp = self.score_samples(X)
        return float(lp.sum()), lp.shape[0]

    def bic(self, X) -> float:
        """Bayesian information criterion: -2 log L + p log n (lower is better)."""
        ll, n = self._total_loglik(X)
        return -2.0 * ll + self._n_parameters() * np.log(n)

    def aic(self, X) -> float:
        """Akaike information criterion: -2 log L + 2 p (lower is better)."""
        ll, _ = self._total_loglik(X)
        return -2.0 * ll + 2.0 * self._n_parameters()

    def icl(self, X) -> float:
        """Integrated completed likelihood: BIC + 2 x the classification entropy.

        ICL = -2 log L + p log n - 2 sum_i sum_k gamma_ik log gamma_ik (Biernacki et al.
        2000; mclust's ICL with the sign flipped so that, like BIC here, lower is better).
        """
        X = self._check_predict_X(X)
        log_prob, log_resp = self._log_prob_resp(X)
        with np.errstate(invalid="ignore"):
            ent = -np.sum(np.where(log_resp > -np.inf, np.exp(log_resp) * log_resp, 0.0))
        n = X.shape[0]
        return -2.0 * float(log_prob.sum()) + self._n_parameters() * np.log(n) + 2.0 * ent


# --------------------------------------------------------------------------- converged fits
CONVERGED_TOL = 1e-12


def converged_em(
    X: Any,
    n_components: int,
    covariance_type: str = "full",
    *,
    reg_covar: float = 1e-6,
    init_params: str = "kmeans",
    random_state: Any = 0,
    sample_weight: Any = None,
    weights_init: Any = None,
    means_init: Any = None,
    precisions_init: Any = None,
    n_init: int = 1,
    max_iter: int = 10000,
) -> GaussianMixture:
    """EM run to its fixed point: the reference fit of every bayesgmm-native entry point.

    The scikit-learn-compatible :class:`GaussianMixture` stops, as scikit-learn does, when
    one pass changes the mean log-likelihood by less than ``tol`` (1e-3 by default): a
    stopping rule, not a distance to the maximum, and on overlapping components EM creeps
    so slowly that such a stop is far from it. The criteria (AIC, BIC, ICL), the start of
    the sampler and the comparison with the posterior are defined at the maximum, so they
    use this helper: SQUAREM-accelerated EM with ``tol`` = :data:`CONVERGED_TOL`.
    """
    gm = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        tol=CONVERGED_TOL,
        reg_covar=reg_covar,
        max_iter=max_iter,
        n_init=n_init,
        init_params=init_params,
        weights_init=weights_init,
        means_init=means_init,
        precisions_init=precisions_init,
        random_state=random_state,
        accelerate=True,
    )
    if sample_weight is not None:
        return gm.fit(X, sample_weight=sample_weight)
    return gm.fit(X)
