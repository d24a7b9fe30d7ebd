"""Sampling above the true K: wall time, label-invariant R-hat/ESS, divergences and WAIC, K = 1..4.

For each data set and K, ``BayesianGaussianMixture(K, draws, tune, chains)`` is fitted with
each seed and timed (the whole ``fit``: EM, model, mass matrix, sampling, pointwise
log-likelihood). Reported per fit:

* ``wall``: seconds of ``fit``; ``cpu``: CPU seconds of this process over the same span
  (chains run one after the other in this process, so on a shared machine this is the
  steadier measure of cost);
* ``rhat_ll`` / ``ess_ll``: R-hat and bulk ESS of the total log-likelihood
  ``sum_i log p(x_i | theta)`` -- label-invariant, computed here from the
  ``log_likelihood`` group so the script measures any version of the code the same way;
* ``rhat_lp`` / ``ess_lp``: the same for the sampler's log posterior density;
* ``rhat_par`` / ``ess_par``: the worst per-parameter R-hat and bulk ESS (``diagnostics_``);
* ``div``: divergent transitions; ``steps``: leapfrog steps per draw (gradient
  evaluations), the sampler's cost; ``waic`` +/- ``se`` (deviance scale);
* ``flag``: whether the label-invariant diagnostics fail (R-hat > 1.01 or bulk ESS < 400).

Data sets: random subsets of the heights (``--subsets``, numpy ``default_rng(seed)``,
``--n`` rows) and a synthetic well-separated 1-D K = 2 mixture (``--synthetic``).

Usage::

    python benchmarks/mcmc_k.py                                  # heights subset 0, K = 1..4
    python benchmarks/mcmc_k.py --subsets 0 1 --synthetic --seeds 1 2
    python benchmarks/mcmc_k.py --subsets 0 1 --synthetic --seeds 1 2 --sampler gibbs --em-grid
    PYTHONPATH=/path/to/old/checkout python benchmarks/mcmc_k.py  # the same on older code
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np


def _rhat_ess(x: np.ndarray) -> tuple[float, float]:
    import arviz as az

    ds = az.convert_to_dataset({"q": x})
    return float(az.rhat(ds)["q"]), float(az.ess(ds, method="bulk")["q"])


def fit_one(X, k, seed, args, em=None) -> dict:
    from bayesgmm.bayes.compare import waic
    from bayesgmm.bayes.sampling import BayesianGaussianMixture

    kwargs = dict(draws=args.draws, tune=args.tune, chains=args.chains, random_state=seed)
    if getattr(args, "sampler", None):  # older code has no such argument: leave it out there
        kwargs["sampler"] = args.sampler
    if args.alpha is not None:
        from bayesgmm.bayes.model import Priors

        kwargs["priors"] = Priors(alpha=args.alpha)
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        bayes = BayesianGaussianMixture(k, **kwargs).fit(X, em=em)
        w = waic(bayes)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ll = bayes.idata_.log_likelihood["x"].values.sum(axis=-1)
    stats = getattr(bayes.idata_, "sample_stats", {})  # the Gibbs sampler records none
    rhat_ll, ess_ll = _rhat_ess(ll)
    rhat_lp, ess_lp = _rhat_ess(stats["lp"].values) if "lp" in stats else (float("nan"), float("nan"))
    dg = bayes.diagnostics_
    steps = float(stats["n_steps"].mean()) if "n_steps" in stats else float("nan")
    return {
        "steps": steps,
        "k": k,
        "seed": seed,
        "wall": wall,
        "cpu": cpu,
        "sample": bayes.timings_.get("sample", float("nan")),
        "rhat_ll": rhat_ll,
        "ess_ll": ess_ll,
        "rhat_lp": rhat_lp,
        "ess_lp": ess_lp,
        "rhat_par": dg["max_rhat"],
        "ess_par": dg["min_ess_bulk"],
        "div": dg["divergences"],
        "waic": -2 * w.elpd,
        "waic_se": 2 * w.elpd_se,
        "flag": not (rhat_ll <= 1.01 and ess_ll >= 400),
        "invariant_ok": dg.get("invariant_ok"),
        "warnings": sorted({type(r.message).__name__ for r in rec}),
    }


def datasets(args):
    from bayesgmm import load_heights, make_mixture

    out = []
    if args.subsets:
        X, _ = load_heights()
        for s in args.subsets:
            out.append(
                (f"heights[{s}]", X[np.random.default_rng(s).choice(X.shape[0], args.n, replace=False)])
            )
    if args.synthetic:
        Xs, _ = make_mixture(args.n, [0.4, 0.6], [[-2.0], [2.0]], [[[1.0]], [[0.8]]], random_state=11)
        out.append(("synthetic K=2", Xs))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--subsets", type=int, nargs="*", default=[0])
    p.add_argument("--synthetic", action="store_true")
    p.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3, 4])
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=500)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--alpha", type=float, default=None, help="Dirichlet concentration (default: the model's)")
    p.add_argument("--sampler", default=None, help="BayesianGaussianMixture's sampler (default: its own)")
    p.add_argument(
        "--em-grid",
        action="store_true",
        help="start every fit from select's EM grid (criteria.fit_grid), as compare_models does; "
        "the grid's own time is printed once per data set and not charged to the rows",
    )
    p.add_argument("--json", default=None, help="write the rows to this file")
    args = p.parse_args()

    # one small fit first, so that compilation (numba's and PyTensor's caches) is not
    # charged to the first row
    from bayesgmm import make_mixture

    Xw, _ = make_mixture(200, [0.5, 0.5], [[-2.0], [2.0]], [[[1.0]], [[1.0]]], random_state=0)
    fit_one(Xw, 2, 0, argparse.Namespace(**{**vars(args), "draws": 50, "tune": 50}))

    rows = []
    head = (
        f"{'data':<14} {'K':>2} {'seed':>4} {'wall s':>7} {'cpu s':>7} {'R-hat ll':>8} {'ESS ll':>7} {'R-hat lp':>8} "
        f"{'ESS lp':>7} {'R-hat par':>9} {'ESS par':>7} {'div':>4} {'steps':>6} {'WAIC':>9} {'se':>6}  flag"
    )
    print(head)
    for name, X in datasets(args):
        ems = {}
        if args.em_grid:
            from bayesgmm.criteria import fit_grid

            t0 = time.perf_counter()
            grid = fit_grid(X, args.ks, ["full"])
            ems = {k: grid[(k, "full")].model for k in args.ks}
            print(f"{name}: EM grid (criteria.fit_grid, K = {args.ks}) {time.perf_counter() - t0:.1f} s")
        for k in args.ks:
            for seed in args.seeds:
                r = fit_one(X, k, seed, args, ems.get(k)) | {"data": name}
                rows.append(r)
                print(
                    f"{name:<14} {k:>2} {seed:>4} {r['wall']:7.1f} {r['cpu']:7.1f} {r['rhat_ll']:8.3f} {r['ess_ll']:7.0f} "
                    f"{r['rhat_lp']:8.3f} {r['ess_lp']:7.0f} {r['rhat_par']:9.3f} {r['ess_par']:7.0f} "
                    f"{r['div']:4d} {r['steps']:6.1f} {r['waic']:9.1f} {r['waic_se']:6.1f}  {'FLAG' if r['flag'] else ''}",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
