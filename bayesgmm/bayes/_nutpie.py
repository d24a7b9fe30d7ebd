"""nutpie's NUTS (Rust) on the model compiled to machine code by PyTensor's numba backend.

The sampler object :class:`CompiledNUTS` (``sampler="nutpie"``, and ``"auto"`` when nutpie
is installed) behind the interface of :mod:`bayesgmm.bayes.samplers`, and the compilation
it needs (:func:`_compile_numba`).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _kernels
from . import _arviz
from ._progress import compile_notice
from .samplers import SMALL_N, Sampler, SampleResult

__all__ = ["CompiledNUTS", "nutpie_available"]

#: The total log-likelihood of each draw, an extra output of the compiled function; it
#: leaves the posterior group for :attr:`SampleResult.log_likelihood`.
LOG_LIKELIHOOD = "bayesgmm_log_likelihood"
#: Evaluations remembered per sampling thread, so that a draw's values are those of the
#: evaluation that visited it (a NUTS trajectory rarely has more points than this).
RECENT_MAX = 4096


class CompiledNUTS(Sampler):
    """nutpie's NUTS on the model's log-density compiled by PyTensor's numba backend.

    The sampler (tree building, step-size and mass-matrix adaptation) runs in Rust; per
    gradient it makes one call into the compiled log-density, which does one fused pass
    over the data. Chains start at ``starts`` (no jitter); the mass matrix is adapted by
    nutpie with its low-rank correction (``low_rank_modified_mass_matrix``), which learns
    the correlations of the weights, means and scales within a short tuning, as the
    inverse observed information does for :class:`LaplaceNUTS`.

    Chains run on one thread each only where the compiled entry point releases the GIL
    (long passes); otherwise they share one thread: two threads that each need the GIL
    for every gradient spend more on handing it over than they gain by overlapping.

    The compiled function also returns the total log-likelihood (the likelihood term of
    the log-density it computes anyway), so every draw's total comes with the draw, at
    no extra pass over the data (:attr:`SampleResult.log_likelihood`).
    """

    name = "nutpie"

    def sample(self, model, starts, run):
        import nutpie
        from nutpie.compiled_pyfunc import from_pyfunc

        t0 = time.perf_counter()
        n = len(model.coords.get("obs_id", ()))
        threads = min(run.chains, _kernels.default_threads())
        nogil = threads > 1 and n >= SMALL_N
        compiled = _compile_numba(model, starts, nogil=nogil)
        setup = time.perf_counter() - t0
        coords = {name: np.asarray(v) for name, v in model.coords.items() if name != "obs_id"}
        dims = {name: tuple(d) for name, d in model.named_vars_to_dims.items() if name in compiled.names}
        fn = from_pyfunc(
            compiled.ndim,
            lambda: compiled.logp,
            lambda *_: compiled.expand,
            [np.dtype("float64")] * len(compiled.names),
            compiled.shapes,
            compiled.names,
            coords=coords,
            dims=dims,
            make_initial_point_fn=lambda seed: compiled.start(seed),
        )
        idata = nutpie.sample(
            fn,
            draws=run.draws,
            tune=run.tune,
            chains=run.chains,
            cores=threads if nogil else 1,
            seed=run.random_seed,
            progress_bar=run.progressbar,
            save_warmup=False,
            target_accept=run.target_accept,
            low_rank_modified_mass_matrix=True,
        )
        stats = _arviz.group(idata, "sample_stats")
        if "logp" in stats and "lp" not in stats:  # PyMC's name for the log density
            _arviz.set_group(idata, "sample_stats", stats.rename({"logp": "lp"}))
        total = None
        post = _arviz.group(idata, "posterior")
        if LOG_LIKELIHOOD in post:
            total = np.array(post[LOG_LIKELIHOOD].values[..., 0], dtype=float)
            _arviz.set_group(idata, "posterior", post.drop_vars(LOG_LIKELIHOOD))
        return SampleResult(idata, None, setup, adapted=True, log_likelihood=total)


@dataclass
class _CompiledModel:
    """What :class:`CompiledNUTS` hands nutpie: log-density, draw expansion, starts."""

    ndim: int
    logp: Any
    expand: Any
    names: list[str]
    shapes: list[tuple[int, ...]]
    starts: list[np.ndarray]

    def __post_init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def start(self, seed: int) -> np.ndarray:
        """The next distinct start (nutpie asks once per chain, from its threads)."""
        with self._lock:
            x = self.starts[self._next % len(self.starts)]
            self._next += 1
        return x.copy()


def _compile_numba(model, starts, *, nogil: bool = False) -> _CompiledModel:
    """The model's log-density + gradient and its draw expansion, compiled with numba.

    Both functions come from PyTensor's numba backend, which caches the machine code on
    disk (keyed by the graph; data and hyper-parameters are shared variables, i.e.
    arguments). A later process loads that code through a record of
    :mod:`bayesgmm.bayes._compiled_cache`, without deriving and rewriting the graph again.
    A cold cache means a one-time compilation of tens of seconds: it is announced on
    stderr rather than left as a silent stall. ``nogil``: the entry point releases the
    GIL, so that chains on several threads evaluate at the same time (worth its one-time
    compilation only where a pass is long).
    """
    from numba.core.errors import NumbaPerformanceWarning

    from . import _compiled_cache

    value_vars = model.continuous_value_vars
    points = _transformed_starts(model, starts)
    shapes = [np.shape(points[0][v.name]) for v in value_vars]
    flat = [np.concatenate([np.ravel(p[v.name]) for v in value_vars]).astype(float) for p in points]
    ndim = int(flat[0].size)
    outs_all = [v for v in model.unobserved_value_vars if not v.name.endswith("__")]
    names = [v.name for v in outs_all]
    term = _log_likelihood_term(model)
    if term is not None:
        outs_all.append(term.reshape((1,)))  # nutpie stores arrays, not scalars
        names.append(LOG_LIKELIHOOD)
    key = _compiled_cache.graph_key(model, names, shapes)

    fn = jit = None
    with compile_notice("the model's log-density (once per model shape: K, d, covariance type)"):
        with warnings.catch_warnings():
            # numba's hints about non-contiguous matrix products in PyTensor's generated
            # code (e.g. the covariance L L^T of a draw) are not actionable by the user
            warnings.simplefilter("ignore", NumbaPerformanceWarning)
            loaded = _compiled_cache.load(key, model, nogil=nogil)
            if loaded is not None:
                jit = _bind(*loaded)
                first = _first_call(jit, flat[0])
                jit = jit if first is not None else None
            if jit is None:
                fn = _pytensor_function(model, value_vars, shapes, outs_all)
                first = [np.array(v) for v in fn(flat[0])]  # compiles (or loads from the disk cache)
                jit = _direct(fn, flat[0], first)
                rec = _compiled_cache.record(key, fn, model) if jit is not None else None
                if rec is not None and nogil:
                    shared = [inp.variable.get_value(borrow=True) for inp in fn.maker.inputs if inp.shared]
                    entry = _bind(
                        _compiled_cache.entry_point(rec, nogil=True, globals_=rec["globals"]), shared
                    )
                    jit = entry if _same(_first_call(entry, flat[0]), first) else jit
    out_shapes = [np.shape(val) for val in first[2:]]
    lock = threading.Lock()  # a PyTensor Function is not safe to call from two threads
    seen: OrderedDict[bytes, list] = OrderedDict()  # recent evaluations, oldest first
    seen_lock = threading.Lock()  # nutpie evaluates and expands draws on several threads

    def evaluate(x):
        if jit is not None:
            return jit(x)
        with lock:
            return [np.array(v) for v in fn(x)]

    def logp_and_grad(x, **_):
        vals = evaluate(x)
        with seen_lock:
            seen[np.asarray(x).tobytes()] = vals
            if len(seen) > RECENT_MAX:
                seen.popitem(last=False)
        return float(vals[0]), vals[1]

    def expand(x, **_):
        # every draw is a point of a trajectory, evaluated while the tree was built: its
        # values are taken from that evaluation rather than from another pass over the data
        with seen_lock:
            vals = seen.pop(np.asarray(x).tobytes(), None)
        if vals is None:
            vals = evaluate(x)
        return {
            name: np.ascontiguousarray(val, dtype=float) for name, val in zip(names, vals[2:], strict=True)
        }

    return _CompiledModel(ndim, logp_and_grad, expand, names, out_shapes, flat)


def _transformed_starts(model, starts) -> list[dict[str, np.ndarray]]:
    """The starts in the sampler's unconstrained space, ``value variable name -> array``.

    Each free variable's transform applied to its start, in one small function run by
    PyTensor's Python linker without graph rewrites (a fraction of the cost of PyMC's
    initial-point function, which also builds every variable's default start); PyMC's
    function when a start lacks a free variable.
    """
    import pytensor
    import pytensor.tensor as pt
    from pytensor.compile.mode import Mode

    if any(rv.name not in s for s in starts for rv in model.free_RVs):
        from pymc.initial_point import make_initial_point_fn

        return [
            make_initial_point_fn(model=model, overrides=s, jitter_rvs=set(), return_transformed=True)(0)
            for s in starts
        ]
    names, outs = [], []
    for s in starts:
        for rv in model.free_RVs:
            value = pt.as_tensor(np.asarray(s[rv.name], dtype=float))
            transform = model.rvs_to_transforms[rv]
            outs.append(value if transform is None else transform.forward(value, *rv.owner.inputs))
            names.append(model.rvs_to_values[rv].name)
    vals = pytensor.function([], outs, mode=Mode(linker="py", optimizer=None))()
    per = len(model.free_RVs)
    return [
        {n: np.asarray(v, dtype=float) for n, v in zip(names[i : i + per], vals[i : i + per], strict=True)}
        for i in range(0, len(vals), per)
    ]


def _pytensor_function(model, value_vars, shapes, outs_all):
    """One numba-mode PyTensor function of the joined unconstrained vector: log-density,
    gradient and the draw's named values (one graph rewrite and one cache entry; the
    K-sized extras cost next to nothing per gradient)."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.graph.replace import clone_replace

    joined = pt.dvector("theta")
    pieces, at = {}, 0
    for v, sh in zip(value_vars, shapes, strict=True):
        sz = int(np.prod(sh))
        pieces[v] = joined[at : at + sz].reshape(sh)
        at += sz
    logp = model.logp()
    grads = pytensor.grad(logp, value_vars)
    grad = pt.concatenate([g.ravel() for g in grads])
    logp, grad = clone_replace([logp, grad], pieces)
    outs = clone_replace(outs_all, pieces)
    return pytensor.function([joined], [logp, grad, *outs], mode="NUMBA", trust_input=True)


def _bind(jit, shared):
    """``call(x) = jit(x, *shared)``: the machine code with its data arguments bound."""

    def call(x):
        return jit(x, *shared)

    return call


def _first_call(call, x):
    """The outputs at ``x`` as arrays, or None when the call fails (e.g. a cache miss)."""
    try:
        return [np.array(v) for v in call(x)]
    except Exception:  # noqa: BLE001 - loading is an optimisation: fall back to compiling
        return None


def _same(got, expected) -> bool:
    return (
        got is not None
        and len(got) == len(expected)
        and all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(got, expected, strict=True))
    )


def _log_likelihood_term(model):
    """The model's log-likelihood as a graph of its value variables: the fused
    likelihood's potential ``loglike``, or the observed variables' log-density; None
    when the model has neither."""
    if "loglike" in model.named_vars and model["loglike"] in model.potentials:
        return model.replace_rvs_by_values([model["loglike"]])[0]
    if model.observed_RVs:
        return model.logp(vars=model.observed_RVs)
    return None


def _direct(fn, x, expected):
    """The machine code behind a numba-mode PyTensor function, called without PyTensor's
    Python wrapper (no per-call overhead, safe from several threads), or None when it
    does not give ``expected`` at ``x``."""
    jit = getattr(getattr(fn, "vm", None), "jit_fn", None)
    if jit is None:
        return None
    call = _bind(jit, [inp.variable.get_value(borrow=True) for inp in fn.maker.inputs if inp.shared])
    return call if _same(_first_call(call, x), expected) else None


def nutpie_available() -> bool:
    """Whether nutpie (and numba, which it compiles with) can be imported."""
    from importlib.util import find_spec

    return find_spec("nutpie") is not None and find_spec("numba") is not None
