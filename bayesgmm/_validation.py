"""Input checks shared by every entry point: one 1-D -> 2-D promotion, one message style."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")


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
