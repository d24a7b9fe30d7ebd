"""Occupied-component posterior of the Gibbs sampler under each covariance prior.

Runs ``fit_occupied_components`` (K_max = 6, alpha = 0.01) on the synthetic sets of the slow
occupancy tests, with the same seeds, once per ``scale_prior``, and prints P(k), the count's
R-hat / bulk ESS and the seconds. ``--long`` adds 4 x (5 000 + 25 000) sweeps on the 1-D set.

    PYTHONPATH=$PWD python benchmarks/occupancy_prior.py [--long] [--priors hierarchical,inverse_wishart]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from bayesgmm import make_mixture
from bayesgmm.bayes.occupancy import fit_occupied_components


def datasets():
    one, _ = make_mixture(2000, [0.4, 0.6], [[-2.0], [2.0]], [[[1.0]], [[0.8]]], random_state=11)
    three, _ = make_mixture(
        900, [1 / 3] * 3, [[-4, 0], [0, 4], [4, 0]], [np.eye(2), np.eye(2), np.eye(2)], random_state=0
    )
    pm3, _ = make_mixture(2000, [0.5, 0.5], [[-3.0], [3.0]], [[[1.0]], [[1.0]]], random_state=2)
    return {"1-D K=2 (-2/+2)": (one, 2), "2-D K=3": (three, 3), "1-D K=2 (+-3, sd 1)": (pm3, 2)}


def run(X, true_k, scale_prior, **kw):
    t0, c0 = time.perf_counter(), time.process_time()
    draws, occ = fit_occupied_components(X, 6, random_state=0, scale_prior=scale_prior, **kw)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    dg = occ.diagnostics.get("occupied", {})
    probs = ", ".join(f"{p:.3f}" for p in occ.probabilities[:5])
    return (
        f"P(1..5) {probs} | P({true_k}) = {occ.probability(true_k):.3f} | count R-hat "
        f"{dg.get('rhat', float('nan')):.3f} ESS {dg.get('ess_bulk', float('nan')):.0f} | ok "
        f"{occ.diagnostics_ok} | {cpu:.1f} CPU s ({wall:.1f} wall)"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--long", action="store_true")
    ap.add_argument("--priors", default="hierarchical,inverse_wishart")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    print("load:", os.getloadavg())
    fit_occupied_components(np.arange(20.0)[:, None], 3, draws=5, tune=5, chains=2)  # compile
    for prior in args.priors.split(","):
        fit_occupied_components(np.arange(20.0)[:, None], 3, draws=5, tune=5, chains=2, scale_prior=prior)
        for name, (X, k) in datasets().items():
            if args.only and args.only not in name:
                continue
            print(f"{prior:16s} {name:22s} defaults: {run(X, k, prior)}", flush=True)
            if args.long and k == 2 and "-2" in name:
                print(f"{prior:16s} {name:22s} long:     {run(X, k, prior, draws=25000, tune=5000)}", flush=True)
    print("load:", os.getloadavg())


if __name__ == "__main__":
    main()
