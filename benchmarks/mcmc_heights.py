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
    python benchmarks/mcmc_heights.py --rows 2000 --skip-peer --cold     # first run after install
    python benchmarks/mcmc_heights.py --rows 2000 --skip-peer --repeat 5 # time to first result
    python benchmarks/mcmc_heights.py --rows 0 --peer-only   # PyMC side only, into its JSON

The PyMC-default side of all 200 000 rows takes half an hour or more, so it can be run
first, on its own (``--peer-only``): it writes ``benchmarks/mcmc_peer_<rows>_<seed>.json``
(the draws, wall time, start and end time stamps, load averages seen during the run).
A later run of this script reads that file when it exists, prints where it came from and
when, and measures only bayesgmm (``--rerun-peer`` runs the peer again). ``--ours-results``
compares a bayesgmm result saved by an earlier ``--skip-peer`` run instead (printed path),
for a peer that finishes after it.
"""

from __future__ import annotations

import argparse
import datetime
import json
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


def import_pymc_s(env=None) -> float:
    """Seconds a fresh process takes to import PyMC (the floor of time to first result)."""
    cmd = [sys.executable, str(HERE / "_mcmc_run.py"), "import-pymc"]
    out = subprocess.run(cmd, check=True, env=env, capture_output=True, text=True).stdout
    print(out.strip(), flush=True)
    return float(out.split(":")[1].split()[0])


def peer_json_path(rows: int, seed: int) -> Path:
    return HERE / f"mcmc_peer_{rows or 200000}_{seed}.json"


def run_peer(rows: int, seed: int, tmp: Path) -> dict:
    """Run the PyMC-default side in a fresh process; record its draws, times and load averages."""
    out = tmp / "peer.npz"
    started = datetime.datetime.now().isoformat(timespec="seconds")
    loads = [os.getloadavg()[0]]
    cmd = [sys.executable, str(HERE / "_mcmc_run.py"), "peer", str(rows), str(seed), str(out)]
    proc = subprocess.Popen(cmd, cwd=HERE.parent)
    while True:
        try:
            proc.wait(timeout=60)
            break
        except subprocess.TimeoutExpired:
            loads.append(os.getloadavg()[0])
    if proc.returncode:
        raise RuntimeError(f"the PyMC-default run failed (exit status {proc.returncode})")
    res = np.load(out)
    rec = {k: res[k].tolist() for k in res.files}
    rec.update(
        started=started,
        finished=datetime.datetime.now().isoformat(timespec="seconds"),
        load_average_1min_every_60s=loads,
        rows=rows,
        seed=seed,
    )
    path = peer_json_path(rows, seed)
    tmp_path = path.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(rec))
    tmp_path.replace(path)  # whole or not at all
    print(f"PyMC default -> {path}", flush=True)
    return rec


def load_peer(rows: int, seed: int) -> dict:
    rec = json.loads(peer_json_path(rows, seed).read_text())
    loads = rec["load_average_1min_every_60s"]
    print(
        f"PyMC default: from {peer_json_path(rows, seed).name}, run {rec['started']} to "
        f"{rec['finished']}, 1-min load average during it {min(loads):.1f} to {max(loads):.1f} "
        f"(mean {np.mean(loads):.1f})"
    )
    return {
        k: np.asarray(v)
        for k, v in rec.items()
        if k in ("wall", "w", "mu", "sigma", "divergences", "n_steps")
    }


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
    ap.add_argument("--peer-only", action="store_true", help="run the PyMC side only, write its JSON")
    ap.add_argument("--rerun-peer", action="store_true", help="run the PyMC side even if its JSON exists")
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--ours-results", help="the ours.npz a --skip-peer run of this script printed")
    ap.add_argument(
        "--repeat", type=int, default=1, help="fresh bayesgmm processes (the first is reported in full)"
    )
    ap.add_argument("--cold", action="store_true", help="bayesgmm with empty numba/PyTensor caches")
    args = ap.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="mcmc_heights_"))
    if args.peer_only:
        run_peer(args.rows, args.seed, tmp)
        return 0
    env = dict(os.environ)
    if args.cold:
        env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba_")
        env["PYTENSOR_FLAGS"] = f"base_compiledir={tempfile.mkdtemp(prefix='pytensor_')}"
    elif not args.ours_results:  # warm the disk caches (compiled once per model shape, not per data set; from
        # 65 536 rows on, chains on two threads use an entry point that releases the GIL)
        warm_rows = 70000 if args.rows == 0 or args.rows >= 65536 else 2000
        run_side("bayesgmm", warm_rows, args.seed + 1, tmp / "warm.npz")
    if not args.ours_results:
        pymc_s = import_pymc_s(env)
    if args.ours_results:  # a bayesgmm run of this script from earlier in the session
        ours = np.load(args.ours_results)
        print(f"bayesgmm: reused from {args.ours_results}")
        args.repeat = 1
    else:
        run_side("bayesgmm", args.rows, args.seed, tmp / "ours.npz", env=env)
        ours = np.load(tmp / "ours.npz")
        beyond = float(ours["import_s"]) + float(ours["wall"]) - pymc_s
        print(f"  run 0: import + fit beyond `import pymc`: {beyond:.2f} s")
    for r in range(1, args.repeat):  # more fresh processes: the machine's load moves single runs
        pymc_s = import_pymc_s(env)  # measured next to each run: import times drift by tenths of a second
        run_side("bayesgmm", args.rows, args.seed, tmp / f"ours{r}.npz", env=env)
        more = np.load(tmp / f"ours{r}.npz")
        beyond = float(more["import_s"]) + float(more["wall"]) - pymc_s
        print(
            f"  repeat {r}: fit {float(more['wall']):.2f} s, import (bayesgmm + PyMC) "
            f"{float(more['import_s']):.2f} s, beyond `import pymc` {beyond:.2f} s, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
    print(
        f"bayesgmm import (bayesgmm + PyMC): {float(ours['import_s']):.2f} s; fit timings {ours['timings']}; "
        f"then the pointwise log-likelihood on first access to idata_: {float(ours['pointwise_s']):.2f} s"
    )
    a = summarise("bayesgmm", ours)
    with_ll = dict(ours, wall=float(ours["wall"]) + float(ours["pointwise_s"]))
    a_ll = summarise("bayesgmm, fit + pointwise log-likelihood", with_ll)
    if args.skip_peer:
        return 0
    if args.rerun_peer or not peer_json_path(args.rows, args.seed).exists():
        run_peer(args.rows, args.seed, tmp)
    peer = load_peer(args.rows, args.seed)
    b = summarise("PyMC default", peer)
    worst = 0.0
    print(f"\n{'parameter':<10}{'bayesgmm':>12}{'PyMC':>12}{'PyMC sd':>11}{'|diff|/sd':>11}")
    for name in a["post"]:
        m1, m2, sd = a["post"][name].mean(), b["post"][name].mean(), b["post"][name].std(ddof=1)
        worst = max(worst, abs(m1 - m2) / sd)
        print(f"{name:<10}{m1:>12.6f}{m2:>12.6f}{sd:>11.6f}{abs(m1 - m2) / sd:>11.3f}")
    print(
        f"\nESS/s ratio (bayesgmm / PyMC default): {a['ess_s'] / b['ess_s']:.0f}x (fit), "
        f"{a_ll['ess_s'] / b['ess_s']:.0f}x (fit + pointwise log-likelihood); largest difference "
        f"of posterior means {worst:.3f} sd; load average now {os.getloadavg()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
