"""Occupied-component posterior of the Gibbs sampler under each covariance / mean prior.

On the synthetic sets of the slow occupancy tests (and two well separated 1-D groups at
+-3), K_max = 6, alpha = 0.01, the defaults of ``fit_occupied_components`` (4 chains x
(2 000 + 4 000) sweeps, chains started from 6, 5, 3 and 2 k-means clusters); prints P(k),
the count's R-hat / bulk ESS, whether the diagnostics pass, and the seconds. Variants:

- ``inverse_wishart``: the fixed inverse-Wishart, means ~ N(data mean, (2 sd)^2) (the default);
- ``hierarchical``: Malsiner-Walli et al.'s prior, means ~ N(midpoint, range^2);
- ``hierarchical/sd-mean``: their covariance prior with the default mean prior;
- ``inverse_wishart/range-mean``: the fixed inverse-Wishart with their mean prior.

``--long`` adds 4 x (5 000 + 25 000) sweeps on the first 1-D set, for each seed. Run from the repository root:

    PYTHONPATH=$PWD python benchmarks/occupancy_prior.py [--long] [--seeds 0,1,2] [--variants ...]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from bayesgmm import make_mixture
from bayesgmm.bayes.gibbs import sample_sparse_mixture
from bayesgmm.bayes.model import Priors
from bayesgmm.bayes.occupancy import SPARSE_ALPHA, occupied_from_gibbs

VARIANTS = ("inverse_wishart", "hierarchical", "hierarchical/sd-mean", "inverse_wishart/range-mean")


def datasets():
    one, _ = make_mixture(2000, [0.4, 0.6], [[-2.0], [2.0]], [[[1.0]], [[0.8]]], random_state=11)
    three, _ = make_mixture(
        900, [1 / 3] * 3, [[-4, 0], [0, 4], [4, 0]], [np.eye(2), np.eye(2), np.eye(2)], random_state=0
    )
    pm3, _ = make_mixture(2000, [0.5, 0.5], [[-3.0], [3.0]], [[[1.0]], [[1.0]]], random_state=2)
    return {"1-D K=2 -2/+2": (one, 2), "2-D K=3": (three, 3), "1-D K=2 +-3": (pm3, 2)}


def priors_for(variant, X):
    scale_prior, _, mean = variant.partition("/")
    if mean == "sd-mean":
        return scale_prior, Priors(
            alpha=SPARSE_ALPHA, mean_loc=tuple(X.mean(0)), mean_scale=tuple(2 * X.std(0))
        )
    if mean == "range-mean":
        lo, hi = X.min(axis=0), X.max(axis=0)
        return scale_prior, Priors(
            alpha=SPARSE_ALPHA, mean_loc=tuple((lo + hi) / 2), mean_scale=tuple(hi - lo)
        )
    return scale_prior, Priors(alpha=SPARSE_ALPHA)


def run(X, true_k, variant, seed, **kw):
    scale_prior, priors = priors_for(variant, X)
    t0, c0 = time.perf_counter(), time.process_time()
    # what fit_occupied_components(X, 6, random_state=seed, scale_prior=...) runs
    g = sample_sparse_mixture(
        X, 6, priors=priors, scale_prior=scale_prior, random_state=np.random.default_rng(seed), **kw
    )
    occ = occupied_from_gibbs(g)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    dg = occ.diagnostics.get("occupied", {})
    probs = ", ".join(f"{p:.3f}" for p in occ.probabilities[:4])
    return (
        f"P(1..4) {probs} | P({true_k}) {occ.probability(true_k):.3f} | count R-hat "
        f"{dg.get('rhat', float('nan')):.3f} ESS {dg.get('ess_bulk', float('nan')):5.0f} | pass "
        f"{occ.diagnostics_ok!s:5} | {cpu:.1f} CPU s ({wall:.1f} wall)"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--long", action="store_true")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--only", default="", help="run only the data sets whose name contains this")
    args = ap.parse_args()
    print("load average:", os.getloadavg(), flush=True)
    tiny = np.arange(20.0)[:, None]
    for prior in ("inverse_wishart", "hierarchical"):  # compile (or load) the chains first
        sample_sparse_mixture(tiny, 3, draws=5, tune=5, chains=2, scale_prior=prior)
    data = datasets()
    for variant in args.variants.split(","):
        for name, (X, k) in data.items():
            if args.only not in name:
                continue
            for seed in map(int, args.seeds.split(",")):
                print(f"{variant:27s} {name:14s} seed {seed} default: {run(X, k, variant, seed)}", flush=True)
            for seed in map(int, args.seeds.split(",")) if args.long and name == "1-D K=2 -2/+2" else ():
                out = run(X, k, variant, seed, draws=25000, tune=5000)
                print(f"{variant:27s} {name:14s} seed {seed} long:    {out}", flush=True)
    print("load average:", os.getloadavg())


if __name__ == "__main__":
    main()
