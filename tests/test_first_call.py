"""Tests of bayesgmm.bayes._first_call: the deferred dask lookup and ArviZ's cached variance."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_allclose

pytest.importorskip("arviz")

from bayesgmm.bayes import _first_call  # noqa: E402

DEFERRED = textwrap.dedent(
    """
    import sys
    import numpy as np
    import xarray as xr
    from xarray.namedarray import pycompat, utils
    from bayesgmm.bayes._first_call import dask_deferred

    test = utils.is_dask_collection
    with dask_deferred():
        v = xr.Variable(("x",), np.arange(3.0))
        assert "dask" not in sys.modules, "dask imported inside the block"
        assert v.chunks is None
    assert "dask" not in pycompat._cached_duck_array_modules
    assert utils.is_dask_collection is test
    try:
        import dask.array as da
    except ImportError:
        print("no dask")
    else:
        w = xr.Variable(("x",), da.ones(4, chunks=2))
        assert w.chunks == ((2, 2),), w.chunks
        assert utils.is_dask_collection(w.data)
        print("dask after the block")
    """
)


def test_dask_deferred_in_a_fresh_process():
    out = subprocess.run([sys.executable, "-c", DEFERRED], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in {"no dask", "dask after the block"}


def test_dask_deferred_is_a_no_op_once_dask_is_imported():
    xr = pytest.importorskip("xarray")
    da = pytest.importorskip("dask.array")
    from xarray.namedarray import utils

    test = utils.is_dask_collection
    with _first_call.dask_deferred():
        assert utils.is_dask_collection is test
        w = xr.Variable(("x",), da.ones(6, chunks=3))
        assert w.chunks == ((3, 3),)


def test_with_dask_deferred_keeps_the_function():
    @_first_call.with_dask_deferred
    def add(a, b=1):
        """Adds."""
        return a + b

    assert add(2, b=3) == 5
    assert add.__doc__ == "Adds."


def test_cached_arviz_variance_matches_numpy(monkeypatch):
    from arviz.stats import stats_utils
    from arviz.utils import Numba

    # as in a new process: not yet compiled (restored after the test)
    monkeypatch.delitem(vars(stats_utils.stats_variance_1d), "numba_fn", raising=False)
    _first_call.cache_arviz_variance()
    _first_call.cache_arviz_variance()  # a second call leaves the first one's function
    x = np.random.default_rng(0).normal(size=501)
    assert_allclose(stats_utils.stats_variance_1d(x, ddof=1), np.var(x, ddof=1), rtol=1e-12)
    assert_allclose(stats_utils.stats_variance_2d(x.reshape(3, 167), ddof=0, axis=1),
                    np.var(x.reshape(3, 167), axis=1), rtol=1e-12)  # fmt: skip
    if Numba.numba_flag:
        fn = vars(stats_utils.stats_variance_1d)["numba_fn"]
        assert fn.targetoptions.get("nopython") is True
        assert type(fn._cache).__name__ == "FunctionCache"  # numba's on-disk cache
