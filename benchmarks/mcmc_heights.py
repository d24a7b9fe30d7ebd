"""PyMC's default sampler vs bayesgmm's fast path: same data, same model, one run.

Both sample the posterior of :func:`bayesgmm.bayes.model.build_model` (Dirichlet weights,
Normal means ordered along feature 0, HalfNormal sds / LKJ Cholesky covariances, labels
marginalised). The two log-densities are equal to ~1e-12 (tests/test_bayes_model.py).

* PyMC default: ``likelihood="pymc"`` (``pm.NormalMixture`` / ``pm.Mixture`` of
  ``pm.MvNormal``), ``pm.sample`` defaults (init ``jitter+adapt_diag``, 1000 tune,
  target_accept 0.8, used for both paths); only the ordered means get starting values (quantiles of feature 0),
  as the ordered transform requires. Wall time = model build + ``pm.sample``.
* bayesgmm fast path: ``BayesianGaussianMixture`` defaults (fused one-pass likelihood and
  gradient, every chain started at the converged EM solution, mass matrix = inverse
  observed information there, one thread per chain), short tuning. Wall time = EM fit +
  model build + mass matrix + ``pm.sample``.

Neither path computes the pointwise log-likelihood group (``store_log_likelihood=False``).

Usage::

    python benchmarks/mcmc_heights.py                 # 20 000 random rows (seed 0)
    python benchmarks/mcmc_heights.py --full --skip-default   # all 200 000, fast path only
    python benchmarks/mcmc_heights.py --model 2d      # 2-D, K = 3, LKJ, 450 synthetic points

Targets (issue 6): ESS/s >= 100 x PyMC's default, >= 1000 bulk ESS for every parameter,
R-hat <= 1.01, no divergences, posterior means within 0.1 posterior sd of each other.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np

from bayesgmm import GaussianMixture, load_heights, make_mixture
from bayesgmm.bayes.sampling import BayesianGaussianMixture
from bayesgmm.exceptions import SamplingWarning

MEANS_2D = np.array([[-4.0, 0.0], [0.0, 4.0], [4.0, 0.0]])
COV_2D = np.array([[[1.0, 0.3], [0.3, 0.6]], [[0.8, -0.4], [-0.4, 1.2]], [[1.5, 0.5], [0.5, 0.7]]])


def load(args):
    if args.model == "2d":
        n = args.subset or 450
        X, _ = make_mixture(n, [1 / 3] * 3, MEANS_2D, COV_2D, random_state=args.seed)
        return X, 3, f"synthetic 2-D, K = 3, n = {n} (means (-4,0), (0,4), (4,0), full covariances)"
    X, _ = load_heights()
    if args.full:
        return X, 2, f"height data, all {X.shape[0]} rows, K = 2"
    n = args.subset or 20000
    idx = np.random.default_rng(args.seed).choice(X.shape[0], n, replace=False)
    return X[idx], 2, f"height data, {n} random rows (np.random.default_rng({args.seed})), K = 2"


def run(label, est, X, em, extra_time=0.0):
    print(f"\n== {label}", flush=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SamplingWarning)
        t0 = time.perf_counter()
        est.fit(X, em=em)
        total = time.perf_counter() - t0
    for w in caught:
        if issubclass(w.category, SamplingWarning):
            print(f"   SamplingWarning: {w.message}")
    tm = est.timings_
    wall = extra_time + tm["build"] + tm["mass_matrix"] + tm["sample"]
    dg = est.diagnostics_
    print(
        f"   wall {wall:.1f} s (em {extra_time:.1f}, build {tm['build']:.1f}, mass matrix "
        f"{tm['mass_matrix']:.1f}, pm.sample {tm['sample']:.1f}; fit() total {total:.1f})"
    )
    print(
        f"   min bulk ESS {dg['min_ess_bulk']:.0f}, min tail ESS {dg['min_ess_tail']:.0f}, "
        f"ESS/s {dg['min_ess_bulk'] / wall:.2f}, max R-hat {dg['max_rhat']:.4f}, "
        f"divergences {dg['divergences']}, BFMI {[round(b, 2) for b in dg['bfmi']]}"
    )
    st = est.idata_.sample_stats
    print(
        f"   leapfrog steps/draw {float(st['n_steps'].mean()):.2f}, step size "
        f"{[round(float(s), 3) for s in st['step_size'].values[:, -1]]}",
        flush=True,
    )
    return {"wall": wall, "ess_s": dg["min_ess_bulk"] / wall, **dg}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=["heights", "2d"], default="heights")
    ap.add_argument("--subset", type=int, default=None, help="rows (heights: 20000; 2d: 450)")
    ap.add_argument("--full", action="store_true", help="all 200 000 height rows")
    ap.add_argument("--draws", type=int, default=1000, help="draws per chain, both paths")
    ap.add_argument("--tune", type=int, default=1000, help="tuning steps, PyMC default path")
    ap.add_argument("--fast-tune", type=int, default=200, help="tuning steps, fast path")
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument(
        "--target-accept", type=float, default=0.8, help="both paths (0.8 is pm.sample's default)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-default", action="store_true", help="fast path only")
    args = ap.parse_args(argv)

    X, k, what = load(args)
    print(f"data: {what}")
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{args.chains} chains x {args.draws} draws; tune: default {args.tune}, fast {args.fast_tune}; "
        f"target_accept {args.target_accept}"
    )
    # load numba's compiled kernels (from its disk cache after the first run) before any
    # timing, as PyTensor's compiled C modules come from its disk cache for both paths
    t0 = time.perf_counter()
    GaussianMixture(k, tol=1e-8, max_iter=10000, random_state=args.seed).fit(X[:500])
    print(f"numba warm-up (not timed below): {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    em = GaussianMixture(k, tol=1e-8, max_iter=10000, n_init=3, random_state=args.seed).fit(X)
    em_time = time.perf_counter() - t0
    print(f"converged EM (tol 1e-8): {em_time:.1f} s, {em.n_iter_} passes")

    results = {}
    ests = {}
    if not args.skip_default:
        ests["default"] = BayesianGaussianMixture(
            k,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            target_accept=args.target_accept,
            init="jitter+adapt_diag",
            likelihood="pymc",
            random_state=args.seed,
            store_log_likelihood=False,
        )
        results["default"] = run(
            "PyMC default (NormalMixture/Mixture graph, jitter+adapt_diag)", ests["default"], X, em
        )
    ests["fast"] = BayesianGaussianMixture(
        k,
        draws=args.draws,
        tune=args.fast_tune,
        chains=args.chains,
        target_accept=args.target_accept,
        random_state=args.seed,
        store_log_likelihood=False,
    )
    results["fast"] = run(
        "bayesgmm fast path (fused likelihood, EM start, Laplace mass matrix)", ests["fast"], X, em, em_time
    )

    # posterior means side by side
    names = list(ests["fast"].parameter_draws())
    draws = {key: est.parameter_draws() for key, est in ests.items()}
    header = f"\n{'parameter':<12}{'EM':>12}" + "".join(
        f"{key + ' mean':>16}{key + ' sd':>12}" for key in draws
    )
    if "default" in draws:
        header += f"{'|diff|/sd':>11}"
    print(header)
    worst = 0.0
    ref = ests["fast"].reference_values()
    for name in names:
        line = f"{name:<12}{ref[name]:>12.6f}"
        for key in draws:
            a = draws[key][name]
            line += f"{a.mean():>16.6f}{a.std(ddof=1):>12.6f}"
        if "default" in draws:
            a, b = draws["fast"][name], draws["default"][name]
            diff = abs(a.mean() - b.mean()) / b.std(ddof=1)
            worst = max(worst, diff)
            line += f"{diff:>11.3f}"
        print(line)

    fast = results["fast"]
    print("\n== summary")
    print(
        f"fast path: ESS/s {fast['ess_s']:.1f}, min bulk ESS {fast['min_ess_bulk']:.0f}, "
        f"max R-hat {fast['max_rhat']:.4f}, divergences {fast['divergences']}"
    )
    ok = fast["min_ess_bulk"] >= 1000 and fast["max_rhat"] <= 1.01 and fast["divergences"] == 0
    if "default" in results:
        dflt = results["default"]
        ratio = fast["ess_s"] / dflt["ess_s"]
        print(
            f"PyMC default: ESS/s {dflt['ess_s']:.2f}, min bulk ESS {dflt['min_ess_bulk']:.0f}, "
            f"max R-hat {dflt['max_rhat']:.4f}, divergences {dflt['divergences']}"
        )
        print(f"ESS/s ratio (fast / PyMC default): {ratio:.1f}x")
        print(f"largest difference of posterior means: {worst:.3f} posterior sds (PyMC default's sd)")
        ok = ok and ratio >= 100 and worst < 0.1
    print(f"issue 6 targets met: {ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
