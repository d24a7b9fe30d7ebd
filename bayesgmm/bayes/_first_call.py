"""One-time costs that ArviZ and xarray charge the first fit of a process, avoided.

Two libraries do work on their first call that a fit of numpy draws never needs:

- xarray, the first time it wraps an array, imports dask (when it is installed) only to
  tell whether the array is a dask array or collection. :func:`dask_deferred` runs a fit
  with those questions answered "no" while dask has not been imported: then no dask
  object can exist, and every answer is the one xarray would have given. The real
  lookup happens when xarray next needs it, outside the fit.
- ArviZ's R-hat and BFMI compute variances with a numba function that is compiled
  without a disk cache, i.e. in every new process. :func:`cache_arviz_variance` gives it
  the same function compiled with numba's disk cache: the same machine code, loaded
  instead of compiled after the first process.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["cache_arviz_variance", "dask_deferred", "with_dask_deferred"]

F = TypeVar("F", bound=Callable[..., Any])


def _duck_array_cache() -> tuple[Any, dict] | None:
    """xarray's module record class and its cache of looked-up array libraries, or None
    when this xarray keeps them elsewhere (then nothing is deferred)."""
    try:
        from xarray.namedarray import pycompat
    except ImportError:
        return None
    cache = getattr(pycompat, "_cached_duck_array_modules", None)
    record = getattr(pycompat, "DuckArrayModule", None)
    if not isinstance(cache, dict) or record is None:
        return None
    return record, cache


def _not_a_dask_collection(x: object) -> bool:
    """xarray's test for a dask collection while dask is not imported: none can exist."""
    return False


@contextmanager
def dask_deferred() -> Iterator[None]:
    """Within the block, xarray takes dask as absent unless dask is imported.

    Both answers (the type of a dask array, whether an object is a dask collection) are
    withdrawn at the end of the block (unless xarray replaced them), so that the first
    lookup after it imports dask as usual.
    """
    found = None if "dask" in sys.modules else _duck_array_cache()
    if found is None or "dask" in found[1]:
        yield
        return
    record, cache = found
    from packaging.version import Version
    from xarray.namedarray import utils

    absent = object.__new__(record)  # what xarray records for a library it cannot import
    absent.module, absent.version, absent.type, absent.available = None, Version("0.0.0"), (), False
    cache["dask"] = absent
    test = getattr(utils, "is_dask_collection", None)
    if test is not None:
        utils.is_dask_collection = _not_a_dask_collection
    try:
        yield
    finally:
        if cache.get("dask") is absent:
            del cache["dask"]
        if test is not None and utils.is_dask_collection is _not_a_dask_collection:
            utils.is_dask_collection = test


def with_dask_deferred(fn: F) -> F:
    """``fn`` run inside :func:`dask_deferred`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with dask_deferred():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def cache_arviz_variance() -> None:
    """Compile ArviZ's variance function with numba's disk cache (same function, same
    flags otherwise), once per process; nothing when ArviZ runs without numba or keeps
    the function elsewhere."""
    try:
        from arviz.stats import stats_utils
        from arviz.utils import Numba
    except ImportError:
        return
    lazy = getattr(stats_utils, "stats_variance_1d", None)
    function, kwargs = getattr(lazy, "function", None), getattr(lazy, "kwargs", None)
    if not Numba.numba_flag or function is None or kwargs != {"nopython": True}:
        return
    if "numba_fn" in vars(lazy):  # already compiled (or cached) in this process
        return
    import numba

    try:
        lazy.numba_fn = numba.jit(nopython=True, cache=True)(function)
    except RuntimeError:  # no writable cache location: ArviZ compiles it in memory, as before
        return
