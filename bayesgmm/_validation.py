"""Input checks that scikit-learn's ``validate_data`` does not cover: the bayesgmm-native
entry points (Dask arrays, the Bayesian classes, the CLI), and the user-given starting
parameters of ``GaussianMixture`` (with scikit-learn's messages)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def is_dask_array(X: Any) -> bool:
    """True for a ``dask.array.Array`` (without importing dask)."""
    return type(X).__module__.startswith("dask.") and hasattr(X, "chunks")


def check_X(X: Any, *, name: str = "X", min_samples: int = 1, allow_dask: bool = False):
    """Validate data and return a float64 array of shape (n_samples, n_features).

    1-D input is taken as one feature. NaN/inf, empty input, more than 2 dimensions and
    non-numeric data are refused with a message naming ``name``. C-contiguous float64
    input is returned without a copy (memory matters for large X).
    """
    if allow_dask and is_dask_array(X):
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise ValueError(f"{name} must be 1-D or 2-D. Got a {X.ndim}-D dask array instead.")
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric. Got a dask array of dtype {X.dtype} instead.")
        if X.shape[0] < min_samples:
            raise ValueError(f"{name} must have at least {min_samples} samples. Got {X.shape[0]} instead.")
        return X.astype(np.float64)
    if X is None:
        raise TypeError(f"{name} must be an array-like of numbers. Got None instead.")
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be an array-like of numbers: {exc}") from exc
    if arr.dtype.kind not in "biuf":
        if arr.dtype.kind in "OUS":  # objects and strings: numbers in disguise, or not
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"{name} must contain only numbers. Got non-numeric data of dtype "
                    f"{arr.dtype} instead ({exc})."
                ) from exc
        else:
            raise TypeError(f"{name} must be numeric. Got dtype {arr.dtype} instead.")
    if arr.ndim == 0:
        raise ValueError(f"{name} must be 1-D or 2-D. Got a scalar instead.")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D. Got an array with {arr.ndim} dimensions.")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty. Got an array of shape {arr.shape} instead.")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    # chunked, so that checking a large (or memory-mapped) X allocates no n x d temporary
    if not all(np.isfinite(arr[lo : lo + 65536]).all() for lo in range(0, arr.shape[0], 65536)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{name} must contain only finite values. Got {bad} NaN or infinite value(s).")
    if arr.shape[0] < min_samples:
        raise ValueError(
            f"{name} must have at least n_components={min_samples} samples. "
            f"Got {arr.shape[0]} sample(s) instead."
        )
    return arr


def check_int(value: Any, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"The '{name}' parameter must be an int >= {minimum}. Got {value!r} instead.")
    return int(value)


def check_real(value: Any, name: str, *, minimum: float = 0.0, strict: bool = False) -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = value > minimum if strict else value >= minimum
    if not ok:
        op = ">" if strict else ">="
        raise ValueError(f"The '{name}' parameter must be a float {op} {minimum}. Got {value!r} instead.")
    return float(value)


def check_option(value: Any, name: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValueError(f"The '{name}' parameter must be one of {list(options)}. Got {value!r} instead.")
    return value


def check_random_state(random_state: Any) -> np.random.Generator:
    """One randomness argument everywhere: None, an int seed or a ``np.random.Generator``."""
    if random_state is None or isinstance(random_state, (Integral, np.random.SeedSequence)):
        if isinstance(random_state, bool):
            raise ValueError(f"random_state must be None, an int or a numpy Generator. Got {random_state!r}.")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    raise ValueError(
        f"random_state must be None, an int or a numpy Generator. Got {type(random_state).__name__}."
    )


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray:
    """Row weights as a float64 array of shape (n_samples,): a scalar for every row, or one
    finite, non-negative weight per row, not all zero (scikit-learn's checks and messages)."""
    from sklearn.utils import check_array
    from sklearn.utils.validation import check_non_negative

    if isinstance(sample_weight, Real):
        sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
    else:
        sample_weight = check_array(
            sample_weight, accept_sparse=False, ensure_2d=False, dtype=np.float64, order="C",
            input_name="sample_weight",
        )  # fmt: skip
        if sample_weight.ndim != 1:
            raise ValueError(
                f"Sample weights must be 1D array or scalar, got {sample_weight.ndim}D array. "
                f"Expected either a scalar value or a 1D array of length {n_samples}."
            )
        if sample_weight.shape != (n_samples,):
            raise ValueError(f"sample_weight.shape == {sample_weight.shape}, expected {(n_samples,)}!")
    if np.all(sample_weight == 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    check_non_negative(sample_weight, "`sample_weight`")
    return sample_weight


def _check_shape(param: np.ndarray, shape: tuple, name: str) -> None:
    if param.shape != shape:
        raise ValueError(f"The parameter '{name}' should have the shape of {shape}, but got {param.shape}")


def _as_float_array(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"The parameter '{name}' must be numeric. Got dtype {arr.dtype} instead.")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"The parameter '{name}' must contain only finite values. Got NaN or infinity.")
    return arr


def check_init_parameters(est: Any, n_features: int):
    """(weights_init, means_init, precisions_init) of ``est``, checked as scikit-learn does
    (same messages); each None when not given."""
    k, d, ct = est.n_components, n_features, est.covariance_type
    w = m = p = None
    if est.weights_init is not None:
        w = _as_float_array(est.weights_init, "weights")
        _check_shape(w, (k,), "weights")
        if np.any(w < 0.0) or np.any(w > 1.0):
            raise ValueError(
                "The parameter 'weights' should be in the range [0, 1], but got max value "
                f"{w.min():.5f}, min value {w.max():.5f}"
            )
        atol = 1e-6 if np.asarray(est.weights_init).dtype == np.float32 else 1e-8
        if not np.allclose(abs(1.0 - w.sum()), 0.0, atol=atol):
            raise ValueError(
                f"The parameter 'weights' should be normalized, but got sum(weights) = {w.sum():.5f}"
            )
    if est.means_init is not None:
        m = _as_float_array(est.means_init, "means")
        _check_shape(m, (k, d), "means")
    if est.precisions_init is not None:
        p = _as_float_array(est.precisions_init, f"{ct} precision")
        shape = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[ct]
        _check_shape(p, shape, f"{ct} precision")
        if ct in ("full", "tied"):
            for mat in p.reshape(-1, d, d):
                if not (np.allclose(mat, mat.T) and np.all(np.linalg.eigvalsh(mat) > 0.0)):
                    raise ValueError(f"'{ct} precision' should be symmetric, positive-definite")
        elif np.any(p <= 0.0):
            raise ValueError(f"'{ct} precision' should be positive")
    return w, m, p
