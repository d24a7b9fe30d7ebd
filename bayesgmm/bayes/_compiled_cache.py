"""Load a model's compiled log-density in a new process without building it again.

PyTensor's numba backend caches machine code on disk keyed by the *rewritten* graph: even
with a warm cache, every process derives the log-density and its gradient and runs
PyTensor's graph rewrites before numba can look the code up -- seconds, most of a small
fit. The rewritten function is determined by the model's generative graph (its random
variables, potentials and deterministics; data and hyper-parameters are shared variables,
i.e. arguments) and by the library versions. This module keys a small JSON record on
exactly those, and stores in it what loading the machine code directly needs: PyTensor's
cache key of the compiled function, the source of its one-line entry point, and which of
the model's shared variables it takes, in order. A record whose code is not (or no longer)
in numba's cache fails to load, and the caller compiles as usual.

The entry point can also be compiled with ``nogil``, so that chains on several threads
evaluate the log-density at the same time (PyTensor's own entry point holds the GIL).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["entry_point", "graph_key", "load", "record"]

RECORD_VERSION = 1
_SOURCES = ("bayes/_nutpie.py", "bayes/_compiled_cache.py", "bayes/model.py", "bayes/_likelihood.py",
            "bayes/_likelihood_numba.py", "_numba.py", "_kernels.py")  # fmt: skip


def _shared_variables(model) -> list:
    """The shared variables of the model's generative graph, in a fixed traversal order."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import graph_inputs

    outs = [*model.free_RVs, *model.potentials, *model.deterministics, *model.observed_RVs]
    return [v for v in graph_inputs(outs) if isinstance(v, SharedVariable)]


def graph_key(model, names: list[str], shapes: list[tuple[int, ...]]) -> str:
    """A key that changes whenever the compiled log-density could: the generative graph
    (printed with types; its shapes are symbolic), the shapes of the value variables (the
    log-density slices them out of one vector: K and d enter there), the output names,
    the versions of PyTensor, PyMC and numba, the numba flags, and the source of the
    bayesgmm modules that build or run it."""
    import numba
    import pymc
    import pytensor
    from pytensor.printing import debugprint

    outs = [*model.free_RVs, *model.potentials, *model.deterministics, *model.observed_RVs]
    text = io.StringIO()
    debugprint(outs, file=text, print_type=True)
    # random generators print with their memory address: not part of the computation
    h = hashlib.sha256(re.sub(r" at 0x[0-9A-Fa-f]+", "", text.getvalue()).encode())
    h.update(
        repr(
            (RECORD_VERSION, names, [tuple(sh) for sh in shapes])
            + (pytensor.__version__, pymc.__version__, numba.__version__)
        ).encode()
    )
    h.update(repr((pytensor.config.numba__fastmath, pytensor.config.numba__cache)).encode())
    pkg = Path(__file__).resolve().parent.parent
    for rel in _SOURCES:
        h.update((pkg / rel).read_bytes())
    return h.hexdigest()


def _path(key: str) -> Path:
    import pytensor

    return Path(pytensor.config.base_compiledir) / "bayesgmm" / f"{key}.json"


def record(key: str, fn, model) -> dict[str, Any] | None:
    """Write the record of a compiled PyTensor function (whole or not at all); return it,
    or None when the function cannot be loaded that way (no numba cache key, or an input
    that is not one of the model's shared variables)."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    jit = getattr(getattr(fn, "vm", None), "jit_fn", None)
    wrapper = getattr(jit, "py_func", None)
    cache_key = CACHED_SRC_FUNCTIONS.get(wrapper) if wrapper is not None else None
    src = getattr(wrapper, "__source__", None)
    if cache_key is None or src is None:
        return None
    shared = _shared_variables(model)
    index = []
    for inp in fn.maker.inputs:
        if inp.shared:
            pos = [i for i, v in enumerate(shared) if v is inp.variable]
            if not pos:
                return None
            index.append(pos[0])
    rec = {"cache_key": cache_key, "name": wrapper.__name__, "src": src, "shared": index}
    path = _path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        json.dump(rec, f)
    os.replace(f.name, path)
    rec["globals"] = wrapper.__globals__
    return rec


def entry_point(rec: dict[str, Any], *, nogil: bool, globals_: dict | None = None):
    """The numba dispatcher of the function's entry point, loaded from numba's cache when
    there (with ``globals_`` absent, the compiled callee is not available in this process:
    a cache miss then fails when called, instead of compiling)."""
    from pytensor.link.numba.cache import compile_numba_function_src
    from pytensor.link.numba.dispatch import basic

    def _not_loaded(*args):  # pragma: no cover - only reached on a cache miss
        raise RuntimeError("not in numba's cache")

    env = dict(globals_) if globals_ is not None else {**vars(basic), "jitable_func": _not_loaded}
    key = rec["cache_key"] + ("_nogil" if nogil else "")
    fn = compile_numba_function_src(rec["src"], rec["name"], global_env=env, cache_key=key)
    return basic.numba_njit(fn, final_function=True, cache=True, nogil=nogil)


def load(key: str, model, *, nogil: bool):
    """``(call, shared)``: the compiled function of the record ``key`` as ``call(x)``, or
    None when there is no record or numba's cache does not hold its code."""
    path = _path(key)
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    shared_vars = _shared_variables(model)
    try:
        shared = [shared_vars[i].get_value(borrow=True) for i in rec["shared"]]
        jit = entry_point(rec, nogil=nogil)
    except Exception:  # noqa: BLE001 - a stale or foreign record: compile as usual
        return None
    return jit, shared
