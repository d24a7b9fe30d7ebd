"""``GaussianMixture``: scikit-learn's estimator, run by bayesgmm's EM.

A genuine scikit-learn estimator (``BaseEstimator``, ``DensityMixin``, scikit-learn's
parameter constraints, ``validate_data``, ``NotFittedError`` and ``ConvergenceWarning``):
the same arguments on the same data give scikit-learn's fit -- the same start (its
k-means, its random draws), the same plain EM passes, the same ``n_iter_`` -- computed by
the fused pass of :mod:`bayesgmm._kernels`. The algorithm itself is in :mod:`bayesgmm.em`.

What bayesgmm adds, all off by default or invisible to scikit-learn code:
``fit(X, sample_weight=...)`` (weighted EM), ``accelerate=True`` (SQUAREM), ``engine``,
Dask arrays as ``X``, ``init_params="hierarchical"``, ``lower_bounds_`` at every accepted
point, and :meth:`GaussianMixture.icl`.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, TypeVar

import numpy as np
from sklearn import config_context, get_config
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _kernels
from ._data import as_data
from ._fit_checks import check_fit, check_reg_covar_scale
from ._validation import check_init_parameters, check_sample_weight, check_X, is_dask_array
from .covariance import (
    compute_precision_cholesky,
    covariances_from_precision_cholesky,
    n_parameters,
    precision_cholesky_from_precision,
    precisions_from_cholesky,
)
from .em import FusedStep, TextbookStep, run_em
from .initialization import INIT_PARAMS, initial_parameters
from .params import GMMParams

__all__ = ["AUTO_NUMBA_MIN_ROWS", "GaussianMixture"]

# Below this many rows engine="auto" runs numpy: loading numba (and, on a fresh install,
# compiling the kernel) costs more than the passes it would save.
AUTO_NUMBA_MIN_ROWS = 50_000



F = TypeVar("F", bound=Callable[..., Any])

def _validated_fit(fit: F) -> F:
    """A fit method run as scikit-learn runs its own: the constructor's parameters checked
    against ``_parameter_constraints`` first (unless scikit-learn's configuration skips
    parameter validation), the nested estimators' and functions' checks then skipped."""

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        if not get_config()["skip_parameter_validation"]:
            validate_parameter_constraints(
                self._parameter_constraints, self.get_params(deep=False), caller_name=type(self).__name__
            )
        with config_context(skip_parameter_validation=True):
            return fit(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by EM: scikit-learn's ``GaussianMixture``, and more.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    tol : float, default=1e-3
        EM stops when one pass changes the mean per-sample log-likelihood by less than
        ``tol`` (scikit-learn's rule: not a distance to the maximum; see
        :func:`bayesgmm.em.converged_em` for a fit run to the fixed point).
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance (absolute, as in scikit-learn: a warning
        says when it is not small against a feature's variance).
    max_iter : int, default=100
        Maximum EM passes per initialisation; 0 returns the initialisation.
    n_init : int, default=1
        Initialisations; the one with the highest log-likelihood is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data", "hierarchical"}, default="kmeans"
        scikit-learn's four schemes, computed as scikit-learn does for in-memory data;
        "hierarchical" starts from model-based agglomerative clustering, as mclust.
    weights_init, means_init, precisions_init : array-like, optional
        User-given starting parameters (scikit-learn's shapes).
    random_state : int, RandomState, numpy Generator or None
    warm_start : bool, default=False
    verbose : int, default=0
        1 or 2: scikit-learn's progress lines, on standard output.
    verbose_interval : int, default=10
        Passes between two progress lines.
    accelerate : bool or "adaptive", default=False
        SQUAREM acceleration with a monotonicity safeguard: the same fixed point in far
        fewer passes (each pass then counts in ``n_iter_``). ``False`` is plain EM, pass for
        pass scikit-learn's. "adaptive": SQUAREM with Varadhan & Roland's adaptive cap on
        the step length (:func:`bayesgmm.em.run_em`), for EM that creeps (redundant
        components on many rows), where the uncapped step is refused cycle after cycle.
    engine : {"auto", "numba", "numpy", "textbook"}, default="auto"
        "auto": the compiled fused pass (numba) from 50 000 rows when numba is installed,
        the chunked numpy pass otherwise; "textbook" runs :func:`bayesgmm.em.e_step` and
        :func:`bayesgmm.em.m_step` on full n x K arrays.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : arrays
        scikit-learn's shapes, in the dtype of ``X`` (float32 stays float32).
    converged_ : bool
    n_iter_ : int
        EM passes of the best initialisation.
    lower_bound_ : float
        Mean log-likelihood of the best initialisation at its last check.
    lower_bounds_ : list of float
        Its mean log-likelihood at every accepted point (plain EM: before every pass).
    n_features_in_ : int
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions(set(INIT_PARAMS))],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "random_state": ["random_state", np.random.Generator],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "accelerate": ["boolean", StrOptions({"adaptive"})],
        "engine": [StrOptions({"auto", "numba", "numpy", "textbook"})],
    }

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
        # scikit-learn's estimator contract: every argument stored as given
        means_init: Any = None,
        precisions_init: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        accelerate: bool | str = False,
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

    # ------------------------------------------------------------------ fitting
    def _validate_fit_data(self, X, sample_weight):
        """(X as given, float64 X for the passes, weights or None); Dask arrays pass through."""
        if is_dask_array(X):
            X = check_X(X, min_samples=max(2, self.n_components), allow_dask=True)
            self.n_features_in_ = int(X.shape[1])
            return None, X, sample_weight
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        if X.shape[0] < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, n_samples = {X.shape[0]}"
            )
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X.shape[0])
        return X, np.ascontiguousarray(X, dtype=np.float64), sample_weight

    def _engine(self, X):
        if self.engine == "textbook" and is_dask_array(X):
            raise ValueError("engine='textbook' needs an in-memory X; use 'auto' for Dask arrays.")
        if self.engine in ("auto", "textbook"):
            big = X.shape[0] >= AUTO_NUMBA_MIN_ROWS or is_dask_array(X)
            return _kernels.get_engine("auto" if big else "numpy")
        return _kernels.get_engine(self.engine)

    def _start(self, data, X_input, random_state, init):
        """(weights, means, covariances, prec_chol) to start EM from."""
        ct = self.covariance_type
        if not init:  # warm start: the previous solution
            pc = np.asarray(self.precisions_cholesky_, dtype=np.float64)
            w, m = np.asarray(self.weights_, dtype=np.float64), np.asarray(self.means_, dtype=np.float64)
            return w, m, covariances_from_precision_cholesky(pc, ct), pc
        w0, m0, p0 = self._inits
        if w0 is not None and m0 is not None and p0 is not None:
            pc = precision_cholesky_from_precision(p0, ct)
            return w0, m0, covariances_from_precision_cholesky(pc, ct), pc
        w, m, cov = initial_parameters(
            data, self.n_components, ct, self.init_params, self.reg_covar, random_state, X_input
        )
        pc = compute_precision_cholesky(cov, ct)
        if w0 is not None:
            w = w0
        if m0 is not None:
            m = m0
        if p0 is not None:
            pc = precision_cholesky_from_precision(p0, ct)
            cov = covariances_from_precision_cholesky(pc, ct)
        return w, m, cov, pc

    @_validated_fit
    def fit(self, X, y=None, sample_weight=None) -> GaussianMixture:
        """Estimate the parameters by EM (``n_init`` starts, keep the best); returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a Dask array
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative row weights: an integer weight counts a row that many times, a
            zero weight drops it. The log-likelihood and the criteria use the weighted sums.
        """
        self._fit(X, sample_weight)
        return self

    @_validated_fit
    def fit_predict(self, X, y=None, sample_weight=None) -> np.ndarray:
        """Fit, then label each sample with its most responsible component (in-memory X).

        The labels come from a final E-step at the fitted parameters, so
        ``fit_predict(X) == fit(X).predict(X)``.
        """
        if is_dask_array(X):
            raise TypeError("fit_predict needs an in-memory X. Got a Dask array: call fit(X) instead.")
        return self._labels(self._fit(X, sample_weight))

    def _fit(self, X, sample_weight):
        X_input, X64, sw = self._validate_fit_data(X, sample_weight)
        d = X64.shape[1]
        self._inits = check_init_parameters(self, d)
        engine = self._engine(X64)
        data = as_data(X64, engine, sw)
        if data.total_weight <= 0:
            raise ValueError("sample_weight must contain a positive weight. Got weights summing to 0.")
        if X_input is not None:
            check_reg_covar_scale(X64, self.reg_covar)
        if self.engine == "textbook":
            step = TextbookStep(X64, self.covariance_type, self.reg_covar, sw)
        else:
            step = FusedStep(data, self.covariance_type, self.reg_covar)
        rs = self.random_state
        if isinstance(rs, np.random.Generator):
            rs = np.random.RandomState(rs.integers(0, 2**32 - 1))
        random_state = check_random_state(rs)
        init = not (self.warm_start and hasattr(self, "converged_"))
        best = None
        for i in range(self.n_init if init else 1):
            t0 = self._iter_prev_time = time.time()
            if self.verbose:
                print(f"Initialization {i}")
            start = self._start(data, X_input, random_state, init)
            result = run_em(
                step,
                start,
                tol=self.tol,
                max_iter=self.max_iter,
                accelerate=self.accelerate,
                prev_lower_bound=-np.inf if init else self.lower_bound_,
                on_pass=self._print_pass if self.verbose else None,
            )
            if self.verbose and self.max_iter > 0:
                msg = "converged" if result.converged else "did not converge"
                extra = f" time lapse {time.time() - t0:.5f}s\t lower bound {result.lower_bound:.5f}."
                print(f"Initialization {msg}." if self.verbose == 1 else f"Initialization {msg}.{extra}")
            # scikit-learn's rule: a higher lower bound wins; with max_iter=0 (no bound) the last start
            if best is None or self.max_iter == 0 or result.lower_bound > best.lower_bound:
                best = result
        if not best.converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init parameters, "
                "or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=3,
            )
        self._set_parameters(best, X64.dtype if X_input is None else X_input.dtype, data.shift)
        self.converged_ = bool(best.converged)
        self.n_iter_ = int(best.n_iter)
        self.lower_bound_ = best.lower_bound
        self.lower_bounds_ = list(best.lower_bounds)
        if X_input is not None and self.max_iter > 0:  # a start (max_iter=0) is not a fit to diagnose
            _, S = data.stats(self._natural_parameters(data.shift), self.covariance_type)  # N_k here
            check_fit(self, X64, S[0], lambda: self._labels(X64))
        return X64

    def _print_pass(self, n_pass: int, change: float) -> None:
        if n_pass % self.verbose_interval == 0:
            if self.verbose == 1:
                print(f"  Iteration {n_pass}")
            else:
                now = time.time()
                lapse = now - getattr(self, "_iter_prev_time", now)
                print(f"  Iteration {n_pass}\t time lapse {lapse:.5f}s\t ll change {change:.5f}")
                self._iter_prev_time = now

    def _set_parameters(self, result, dtype, shift) -> None:
        ct = self.covariance_type
        pc = result.precisions_cholesky
        cov = result.covariances if result.n_iter else covariances_from_precision_cholesky(pc, ct)
        self.weights_ = np.asarray(result.weights, dtype=dtype)
        self.means_ = np.asarray(result.means, dtype=dtype)
        self.covariances_ = np.asarray(cov, dtype=dtype)
        self.precisions_cholesky_ = np.asarray(pc, dtype=dtype)
        self.precisions_ = np.asarray(precisions_from_cholesky(pc, ct), dtype=dtype)
        self._shift = shift

    # ------------------------------------------------------------------ using the fit
    @property
    def params_(self) -> GMMParams:
        """The fitted parameters as a frozen :class:`GMMParams`."""
        check_is_fitted(self)
        return GMMParams(self.weights_, self.means_, self.covariances_, self.covariance_type)

    def _natural_parameters(self, shift):
        """The fitted mixture as the fused pass's W (computed in float64 whatever the dtype)."""
        as64 = [
            np.asarray(a, dtype=np.float64) for a in (self.weights_, self.means_, self.precisions_cholesky_)
        ]
        return _kernels.natural_parameters(*as64, self.covariance_type, shift)

    def _log_prob_resp(self, X64):
        W = self._natural_parameters(self._shift)
        return _kernels.log_prob_resp(X64, W, self._shift, self.covariance_type)

    def _predict_data(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        dtype = np.result_type(X.dtype, self.means_.dtype)
        return np.ascontiguousarray(X, dtype=np.float64), dtype

    def score_samples(self, X) -> np.ndarray:
        """log p(x_i) under the mixture, shape (n_samples,)."""
        X64, dtype = self._predict_data(X)
        return self._log_prob_resp(X64)[0].astype(dtype, copy=False)

    def score(self, X, y=None, sample_weight=None) -> float:
        """Mean log-likelihood per sample (weighted mean with ``sample_weight``)."""
        lp = self.score_samples(X)
        return float(np.average(lp, weights=sample_weight))

    def predict_proba(self, X) -> np.ndarray:
        """Responsibilities gamma_ik, shape (n_samples, n_components)."""
        X64, dtype = self._predict_data(X)
        return np.exp(self._log_prob_resp(X64)[1]).astype(dtype, copy=False)

    def _labels(self, X64) -> np.ndarray:
        return _kernels.labels(X64, self._natural_parameters(self._shift), self._shift, self.covariance_type)

    def predict(self, X) -> np.ndarray:
        """The most responsible component of each sample."""
        return self._labels(self._predict_data(X)[0])

    def sample(self, n_samples: int = 1, *, random_state: Any = None):
        """Draw samples as scikit-learn does; returns (X, component labels).

        ``random_state`` (an extension) overrides the estimator's for this call.
        """
        check_is_fitted(self)
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples} . The sampling requires at least one sample."
            )
        rng = check_random_state(self.random_state if random_state is None else random_state)
        counts = rng.multinomial(n_samples, np.asarray(self.weights_, dtype=np.float64))
        d = self.means_.shape[1]
        means = np.asarray(self.means_, dtype=np.float64)
        cov = np.asarray(self.covariances_, dtype=np.float64)
        if self.covariance_type == "full":
            parts = [
                rng.multivariate_normal(m, c, int(s)) for m, c, s in zip(means, cov, counts, strict=True)
            ]
        elif self.covariance_type == "tied":
            parts = [rng.multivariate_normal(m, cov, int(s)) for m, s in zip(means, counts, strict=True)]
        else:
            parts = [
                m + rng.standard_normal(size=(s, d)) * np.sqrt(c)
                for m, c, s in zip(means, cov, counts, strict=True)
            ]
        y = np.concatenate([np.full(int(s), j, dtype=np.int64) for j, s in enumerate(counts)])
        return np.vstack(parts), y

    # ------------------------------------------------------------------ criteria (lower is better)
    def _n_parameters(self) -> int:
        return n_parameters(self.n_components, self.means_.shape[1], self.covariance_type)

    def _total_loglik(self, X, sample_weight=None) -> tuple[float, float]:
        """(sum_i w_i log p(x_i), sum_i w_i), for numpy or Dask X."""
        check_is_fitted(self)
        if is_dask_array(X):
            data = as_data(check_X(X, allow_dask=True), "auto", sample_weight)
            return data.stats(self._natural_parameters(data.shift), self.covariance_type)[
                0
            ], data.total_weight
        lp = self.score_samples(X).astype(np.float64)
        if sample_weight is None:
            return float(lp.sum()), float(lp.shape[0])
        sw = np.asarray(sample_weight, dtype=np.float64)
        return float(sw @ lp), float(sw.sum())

    def bic(self, X, sample_weight=None) -> float:
        """Bayesian information criterion: -2 log L + p log n (lower is better)."""
        ll, n = self._total_loglik(X, sample_weight)
        return -2.0 * ll + self._n_parameters() * math.log(n)

    def aic(self, X, sample_weight=None) -> float:
        """Akaike information criterion: -2 log L + 2 p (lower is better)."""
        ll, _ = self._total_loglik(X, sample_weight)
        return -2.0 * ll + 2.0 * self._n_parameters()

    def icl(self, X, sample_weight=None) -> float:
        """Integrated completed likelihood: BIC + 2 x the classification entropy.

        ICL = -2 log L + p log n - 2 sum_i w_i sum_k gamma_ik log gamma_ik (Biernacki et
        al. 2000; mclust's ICL with the sign flipped so that, like BIC here, lower is better).
        """
        X64, _ = self._predict_data(X)
        log_prob, log_resp = self._log_prob_resp(X64)
        with np.errstate(invalid="ignore"):
            ent_i = -np.sum(np.where(log_resp > -np.inf, np.exp(log_resp) * log_resp, 0.0), axis=1)
        sw = np.ones(len(log_prob)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        return (
            -2.0 * float(sw @ log_prob) + self._n_parameters() * math.log(sw.sum()) + 2.0 * float(sw @ ent_i)
        )
