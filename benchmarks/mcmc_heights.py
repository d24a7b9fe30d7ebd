"""PyMC's default sampler vs ``BayesianGaussianMixture`` with its defaults: same data, same
model, one run, each side in its own fresh process (``benchmarks/_mcmc_run.py``).

* PyMC default: PyMC's own ``NormalMixture`` graph of the same model (same priors),
  ``pm.sample`` defaults (init ``jitter+adapt_diag``, 1000 tuning steps, target_accept
  0.8), 2 chains x 1000 draws. Timed: model build + ``pm.sample``.
* bayesgmm: ``BayesianGaussianMixture(2, random_state=seed).fit(X)``, every other argument
  at its default. Timed: the whole ``fit`` (EM start, compilation -- with a warm disk
  cache: a warm-up process runs first --, sampling, pointwise log-likelihood and
  diagnostics).

ESS/s = smallest bulk ESS over weights, means and sds (ArviZ) / wall seconds. Also
printed: R-hat, divergences and the posterior means of both, with their difference in
units of the PyMC-default posterior sd.

Usage::

    python benchmarks/mcmc_heights.py                    # 20 000 random rows (seed 0)
    python benchmarks/mcmc_heights.py --rows 0           # all 200 000 rows
    python benchmarks/mcmc_heights.py --rows 0 --peer-results peer.npz   # reuse a PyMC run
    python benchmarks/mcmc_heights.py --rows 2000 --skip-peer --cold     # time to first result
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
NAMES = ("w", "mu", "sigma")


def run_side(which: str, rows: int, seed: int, out: Path, env=None) -> None:
    cmd = [sys.executable, str(HERE / "_mcmc_run.py"), which, str(rows), str(seed), str(out)]
    subprocess.run(cmd, check=True, env=env, cwd=HERE.parent)


def summarise(label: str, res) -> dict:
    import arviz as az

    post = {f"{v}[{k}]": res[v][..., k] for v in NAMES for k in range(res[v].shape[-1])}
    ds = az.convert_to_dataset(post)
    ess = min(float(az.ess(ds, method="bulk")[n]) for n in post)
    rhat = max(float(az.rhat(ds)[n]) for n in post)
    wall = float(res["wall"])
    print(
        f"{label}: wall {wall:.1f} s, min bulk ESS {ess:.0f}, ESS/s {ess / wall:.2f}, "
        f"max R-hat {rhat:.4f}, divergences {int(res['divergences'])}, "
        f"leapfrog steps/draw {float(res['n_steps']):.1f}"
    )
    return {"post": post, "ess_s": ess / wall, "rhat": rhat, "div": int(res["divergences"])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=20000, help="random height rows; 0 = all 200 000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peer-results", help="an .npz from an earlier PyMC-default run of _mcmc_run.py")
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--cold", action="store_true", help="bayesgmm with empty numba/PyTensor caches")
    args = ap.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="mcmc_heights_"))
    env = dict(os.environ)
    if args.cold:
        env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba_")
        env["PYTENSOR_FLAGS"] = f"base_compiledir={tempfile.mkdtemp(prefix='pytensor_')}"
    else:  # warm the disk caches (compiled once per model shape, not per data set)
        run_side("bayesgmm", 2000, args.seed + 1, tmp / "warm.npz")
    subprocess.run([sys.executable, str(HERE / "_mcmc_run.py"), "import-pymc"], check=True, env=env)
    run_side("bayesgmm", args.rows, args.seed, tmp / "ours.npz", env=env)
    ours = np.load(tmp / "ours.npz")
    print(
        f"bayesgmm import (bayesgmm + PyMC): {float(ours['import_s']):.2f} s; fit timings {ours['timings']}"
    )
    a = summarise("bayesgmm", ours)
    if args.skip_peer:
        return 0
    if args.peer_results:
        peer = np.load(args.peer_results)
        print(f"PyMC default: reused from {args.peer_results}")
    else:
        run_side("peer", args.rows, args.seed, tmp / "peer.npz")
        peer = np.load(tmp / "peer.npz")
    b = summarise("PyMC default", peer)
    worst = 0.0
    print(f"\n{'parameter':<10}{'bayesgmm':>12}{'PyMC':>12}{'PyMC sd':>11}{'|diff|/sd':>11}")
    for name in a["post"]:
        m1, m2, sd = a["post"][name].mean(), b["post"][name].mean(), b["post"][name].std(ddof=1)
        worst = max(worst, abs(m1 - m2) / sd)
        print(f"{name:<10}{m1:>12.6f}{m2:>12.6f}{sd:>11.6f}{abs(m1 - m2) / sd:>11.3f}")
    print(
        f"\nESS/s ratio (bayesgmm / PyMC default): {a['ess_s'] / b['ess_s']:.0f}x; largest difference "
        f"of posterior means {worst:.3f} sd"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
