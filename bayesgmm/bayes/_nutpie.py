"""nutpie's NUTS (Rust) on the PyMC model, through nutpie's public API (``sampler="nutpie"``).

``nutpie.compile_pymc_model(model, backend="numba")`` compiles the model's log-density and
gradient with PyTensor's numba backend (the fused likelihood through its numba
implementation, :mod:`bayesgmm.bayes._likelihood_numba`) into a ``numba.cfunc`` whose
address the Rust sampler calls: no Python per gradient. Every process pays that
compilation again (graph rewrites and the uncached ``cfunc``: seconds), which is why the
default sampler is bayesgmm's own compiled NUTS (:mod:`bayesgmm.bayes._nuts`).
"""

from __future__ import annotations

import time

import numpy as np

from . import _arviz
from ._progress import compile_notice
from .samplers import Sampler, SampleResult

__all__ = ["NutpieNUTS", "nutpie_available"]


class NutpieNUTS(Sampler):
    """nutpie's NUTS on the model compiled by nutpie's own numba path.

    The chains start at the first start (nutpie takes one initial point), without jitter;
    nutpie adapts its mass matrix with its low-rank correction
    (``low_rank_modified_mass_matrix``).
    """

    name = "nutpie"

    def sample(self, model, starts, run):
        import nutpie

        t0 = time.perf_counter()
        with compile_notice("the model's log-density for nutpie (every process)", after=10.0):
            compiled = nutpie.compile_pymc_model(
                model,
                backend="numba",
                initial_points={name: np.asarray(v) for name, v in starts[0].items()},
                jitter_rvs=set(),
            )
        setup = time.perf_counter() - t0
        idata = nutpie.sample(
            compiled,
            draws=run.draws,
            tune=run.tune,
            chains=run.chains,
            cores=run.chain_threads,
            seed=run.random_seed,
            progress_bar=run.progressbar,
            save_warmup=False,
            target_accept=run.target_accept,
            low_rank_modified_mass_matrix=True,
        )
        stats = _arviz.group(idata, "sample_stats")
        if "logp" in stats and "lp" not in stats:  # PyMC's name for the log density
            _arviz.set_group(idata, "sample_stats", stats.rename({"logp": "lp"}))
        post = _arviz.group(idata, "posterior")
        transformed = [name for name in post.data_vars if name.endswith("__")]
        if transformed:  # the unconstrained values: not the model's named quantities
            _arviz.set_group(idata, "posterior", post.drop_vars(transformed))
        return SampleResult(idata, None, setup, adapted=True)


def nutpie_available() -> bool:
    """Whether nutpie can be imported."""
    from importlib.util import find_spec

    return find_spec("nutpie") is not None
