"""bayesgmm.bayes._compiled_cache: a later compile of the same model shape loads the
machine code through its record (no graph rewrite), gives the same numbers as the
freshly compiled function, and falls back to compiling when the record is stale."""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

pytest.importorskip("pymc")
pytest.importorskip("numba")

from bayesgmm import GaussianMixture, load_heights  # noqa: E402
from bayesgmm.bayes import _compiled_cache, _nutpie  # noqa: E402
from bayesgmm.bayes.model import build_model, initial_values  # noqa: E402


def _heights(n, seed):
    X, _ = load_heights()
    return X[np.random.default_rng(seed).choice(X.shape[0], n, replace=False)]


def _model_and_start(n, seed, k=2):
    X = _heights(n, seed)
    return build_model(X, k), [initial_values(GaussianMixture(k, random_state=0).fit(X).params_.sorted(0))]


def _key(model):
    names = [v.name for v in model.unobserved_value_vars if not v.name.endswith("__")]
    shapes = [model.initial_point()[v.name].shape for v in model.continuous_value_vars]
    return _compiled_cache.graph_key(model, [*names, _nutpie.LOG_LIKELIHOOD], shapes)


def test_key_depends_on_the_model_shape_not_on_the_data():
    a, _ = _model_and_start(200, 1)
    b, _ = _model_and_start(350, 2)
    c, _ = _model_and_start(200, 1, k=3)
    assert _key(a) == _key(b)
    assert _key(a) != _key(c)


def test_second_compile_loads_through_the_record(monkeypatch):
    a, sa = _model_and_start(200, 1)
    first = _nutpie._compile_numba(a, sa)  # compiles, or loads, and leaves a record
    b, sb = _model_and_start(350, 2)

    def no_rewrite(*args, **kwargs):
        raise AssertionError("the graph was built and rewritten again")

    with monkeypatch.context() as m:
        m.setattr(_nutpie, "_pytensor_function", no_rewrite)
        loaded = _nutpie._compile_numba(b, sb)
    # the loaded machine code computes model b's log-density (its data, its hyper-parameters)
    f = b.logp_dlogp_function(ravel_inputs=True)
    f.set_extra_values({})
    lp, grad = loaded.logp(loaded.starts[0])
    ref_lp, ref_grad = f(loaded.starts[0])
    assert_allclose(lp, ref_lp, rtol=1e-10)
    assert_allclose(grad, ref_grad, rtol=1e-8, atol=1e-8)
    assert loaded.names == first.names and loaded.shapes == first.shapes
    # and the total log-likelihood output is the fused pass's
    draws = loaded.expand(loaded.starts[0])
    ref_ll = b.compile_fn(b.replace_rvs_by_values([b["loglike"]])[0], inputs=b.continuous_value_vars)
    names = [v.name for v in b.continuous_value_vars]
    point = dict(zip(names, _split(b, loaded.starts[0]), strict=True))
    assert_allclose(draws[_nutpie.LOG_LIKELIHOOD][0], ref_ll(point), rtol=1e-10)


def _split(model, x):
    out, at = [], 0
    for v in model.continuous_value_vars:
        shape = model.initial_point()[v.name].shape
        size = int(np.prod(shape))
        out.append(x[at : at + size].reshape(shape))
        at += size
    return out


def test_stale_record_falls_back_to_compiling():
    a, sa = _model_and_start(200, 1)
    ref = _nutpie._compile_numba(a, sa)
    key = _key(a)
    path = _compiled_cache._path(key)
    saved = path.read_text()
    try:
        rec = json.loads(saved)
        rec["cache_key"] = "0" * 64 + "_fastmath1"  # code numba's cache does not hold
        path.write_text(json.dumps(rec))
        again = _nutpie._compile_numba(a, sa)
        assert_array_equal(again.logp(again.starts[0])[1], ref.logp(ref.starts[0])[1])
        assert json.loads(path.read_text())["cache_key"] == json.loads(saved)["cache_key"]  # rewritten
    finally:
        path.write_text(saved)
