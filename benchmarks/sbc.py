"""Simulation-based calibration (Talts et al. 2018) of the 1-D, K = 2 Bayesian mixture.

Each replication draws parameters from the prior, data from those parameters, fits
:class:`~bayesgmm.bayes.sampling.BayesianGaussianMixture` (the default fast path: EM
start, Laplace mass matrix, short tuning) and ranks every true parameter among the
thinned posterior draws. If the sampler draws from the exact posterior, each rank is
uniform on {0, ..., L}: the histograms are flat, and a chi-square test on ``BINS`` equal
bins and a Kolmogorov-Smirnov test of the (jittered) rank fractions do not reject.

The prior is fixed (not scaled to the data, unlike ``Priors()``'s defaults, which would
make the prior depend on the data and SBC meaningless): ``w ~ Dirichlet(1, 1)``,
``mu_k ~ Normal(0, 2)`` ordered, ``sigma_k ~ HalfNormal(1)``. Components are identified
as the model identifies them, by the order of their means: the true parameters are
sorted by mean, and so is every posterior draw (undoing the relabelling against EM).
``weight[1] = 1 - weight[0]`` is left out (its rank mirrors ``weight[0]``'s).

Usage::

    python benchmarks/sbc.py                      # 200 replications, 100 points each
    python benchmarks/sbc.py --reps 300 --processes 2 --png benchmarks/sbc_ranks.png

Prints the chi-square and KS p-values per parameter and the wall time; saves the rank
histograms (PNG) and the ranks (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import stats

PARAMS = ("weight[0]", "mean[0]", "mean[1]", "sd[0]", "sd[1]")
PRIOR = {"alpha": 1.0, "mean_loc": 0.0, "mean_scale": 2.0, "sd_scale": 1.0}
BINS = 10


def simulate(seed: int, n: int):
    """One draw from the prior predictive: (truth dict, data of shape (n, 1))."""
    rng = np.random.default_rng(seed)
    w = rng.dirichlet([PRIOR["alpha"]] * 2)
    mu = rng.normal(PRIOR["mean_loc"], PRIOR["mean_scale"], 2)
    sd = np.abs(rng.normal(0.0, PRIOR["sd_scale"], 2))
    order = np.argsort(mu)  # the model's identification: ordered means
    w, mu, sd = w[order], mu[order], sd[order]
    z = rng.random(n) < w[1]
    x = np.where(z, rng.normal(mu[1], sd[1], n), rng.normal(mu[0], sd[0], n))
    truth = {"weight[0]": w[0], "mean[0]": mu[0], "mean[1]": mu[1], "sd[0]": sd[0], "sd[1]": sd[1]}
    return truth, x[:, None]


def replicate(seed: int, n: int = 100, draws: int = 100, tune: int = 150, thin: int = 2) -> dict:
    """Simulate, fit, and rank the truth among ``L = 2 draws / thin - 1`` thinned draws."""
    from bayesgmm.bayes.model import Priors
    from bayesgmm.bayes.sampling import BayesianGaussianMixture
    from bayesgmm.exceptions import DegenerateFitWarning, SamplingWarning

    truth, X = simulate(seed, n)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", SamplingWarning)  # diagnostics are recorded below
        # a prior draw can give data whose two-component EM fit collapses onto one point:
        # the posterior is still defined, the EM start says so, and it is recorded below
        warnings.simplefilter("always", DegenerateFitWarning)
        bayes = BayesianGaussianMixture(
            2,
            priors=Priors(**PRIOR),
            draws=draws,
            tune=tune,
            chains=2,
            random_state=seed,
            store_log_likelihood=False,
        ).fit(X)
    seconds = time.perf_counter() - t0
    em_warnings = []
    for w in caught:
        if issubclass(w.category, DegenerateFitWarning):
            em_warnings.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    d = bayes.parameter_draws()
    mu = np.stack([d["mean[0]"], d["mean[1]"]], axis=-1)  # (chain, draw, 2)
    order = np.argsort(mu, axis=-1)
    sorted_draws = {
        "weight[0]": np.take_along_axis(np.stack([d["weight[0]"], d["weight[1]"]], -1), order, -1)[..., 0],
        "mean[0]": np.take_along_axis(mu, order, -1)[..., 0],
        "mean[1]": np.take_along_axis(mu, order, -1)[..., 1],
        "sd[0]": np.take_along_axis(np.stack([d["sd[0]"], d["sd[1]"]], -1), order, -1)[..., 0],
        "sd[1]": np.take_along_axis(np.stack([d["sd[0]"], d["sd[1]"]], -1), order, -1)[..., 1],
    }
    n_keep = (2 * draws) // thin - 1
    ranks = {}
    for name in PARAMS:
        kept = sorted_draws[name][:, ::thin].ravel()[:n_keep]
        ranks[name] = int(np.sum(kept < truth[name]))
    dg = bayes.diagnostics_
    return {
        "seed": seed,
        "ranks": ranks,
        "L": n_keep,
        "seconds": seconds,
        "divergences": int(dg["divergences"]),
        "max_rhat": float(dg["max_rhat"]),
        "em_warnings": em_warnings,
    }


def uniformity(ranks: np.ndarray, L: int, *, bins: int = BINS, seed: int = 0) -> dict:
    """Chi-square (``bins`` equal bins of the L + 1 ranks) and KS tests of uniform ranks."""
    if (L + 1) % bins:
        raise ValueError(f"L + 1 = {L + 1} ranks do not split into {bins} equal bins.")
    counts = np.bincount(ranks * bins // (L + 1), minlength=bins)
    chi2 = stats.chisquare(counts)
    u = (ranks + np.random.default_rng(seed).random(ranks.size)) / (L + 1)  # continuous
    ks = stats.kstest(u, "uniform")
    return {
        "counts": counts.tolist(),
        "chi2": float(chi2.statistic),
        "chi2_p": float(chi2.pvalue),
        "ks": float(ks.statistic),
        "ks_p": float(ks.pvalue),
    }


def _summary(results: list, settings: dict, wall: float) -> dict:
    L = settings["L"]
    tests = {p: uniformity(np.array([r["ranks"][p] for r in results]), L) for p in PARAMS}
    return {"settings": settings, "wall_seconds": wall, "tests": tests, "replications": results}


def run(
    reps: int, *, n: int, draws: int, tune: int, thin: int, processes: int, seed: int, checkpoint=None
) -> dict:
    """All replications (in ``processes`` worker processes); ``checkpoint(partial)`` every 10."""
    seeds = [int(s) for s in np.random.default_rng(seed).integers(2**31 - 1, size=reps)]
    settings = {
        "reps": reps,
        "n": n,
        "draws": draws,
        "tune": tune,
        "thin": thin,
        "L": (2 * draws) // thin - 1,
    }
    settings["seed"] = seed
    t0 = time.perf_counter()
    results: list = []
    args = ([n] * reps, [draws] * reps, [tune] * reps, [thin] * reps)
    pool = ProcessPoolExecutor(processes) if processes > 1 else None
    try:
        for r in (pool.map if pool else map)(replicate, seeds, *args):
            results.append(r)
            if checkpoint is not None and len(results) % 10 == 0:
                checkpoint(_summary(results, dict(settings, reps=len(results)), time.perf_counter() - t0))
    finally:
        if pool is not None:
            pool.shutdown()
    return _summary(results, settings, time.perf_counter() - t0)


def plot(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reps, L = result["settings"]["reps"], result["settings"]["L"]
    fig, axes = plt.subplots(1, len(PARAMS), figsize=(3.2 * len(PARAMS), 3.0), sharey=True)
    expected = reps / BINS
    band = stats.binom.interval(0.99, reps, 1 / BINS)
    for ax, name in zip(axes, PARAMS, strict=True):
        t = result["tests"][name]
        ax.bar(np.arange(BINS), t["counts"], width=0.9, color="C0")
        ax.axhspan(band[0], band[1], color="0.85", zorder=0)
        ax.axhline(expected, color="k", lw=1)
        ax.set_title(f"{name}\nchi2 p={t['chi2_p']:.2f}, KS p={t['ks_p']:.2f}", fontsize=9)
        ax.set_xticks([0, BINS - 1], ["0", str(L)])
        ax.set_xlabel("rank bin")
    axes[0].set_ylabel(f"replications (of {reps})")
    fig.suptitle("SBC rank histograms, 1-D K = 2 (grey: 99% band of one bin under uniformity)", fontsize=10)
    fig.tight_layout()
    _atomic(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)


def _atomic(path: str, write) -> None:
    """Write a file whole or not at all."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--n", type=int, default=100, help="data points per replication")
    ap.add_argument("--draws", type=int, default=100, help="draws per chain (2 chains)")
    ap.add_argument("--tune", type=int, default=150)
    ap.add_argument("--thin", type=int, default=2)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--png", default="benchmarks/sbc_ranks.png")
    ap.add_argument("--json", default="benchmarks/sbc_ranks.json")
    a = ap.parse_args(argv)

    def checkpoint(partial):
        if a.json:
            _atomic(a.json, lambda f: f.write(json.dumps(partial, indent=1).encode()))
        print(f"  {partial['settings']['reps']} replications, {partial['wall_seconds']:.0f} s", flush=True)

    res = run(
        a.reps,
        n=a.n,
        draws=a.draws,
        tune=a.tune,
        thin=a.thin,
        processes=a.processes,
        seed=a.seed,
        checkpoint=checkpoint,
    )
    s = res["settings"]
    print(
        f"SBC: {s['reps']} replications, n={s['n']}, 2 chains x ({s['tune']} tune + {s['draws']} draws), "
        f"L={s['L']} thinned draws, {a.processes} process(es), CPUs {os.cpu_count()}"
    )
    print(f"wall time {res['wall_seconds']:.0f} s ({res['wall_seconds'] / s['reps']:.1f} s per replication)")
    per = [r["seconds"] for r in res["replications"]]
    div = [r["divergences"] for r in res["replications"]]
    rhat = np.array([r["max_rhat"] for r in res["replications"]])
    print(
        f"fit time per replication: median {np.median(per):.1f} s; replications with divergences: "
        f"{sum(d > 0 for d in div)}; max R-hat > 1.01: {int(np.sum(rhat > 1.01))}; "
        f"EM start collapsed: {sum(bool(r['em_warnings']) for r in res['replications'])}"
    )
    print(f"{'parameter':<10} {'chi2':>7} {'chi2 p':>7} {'KS':>6} {'KS p':>6}  counts per bin")
    for name, t in res["tests"].items():
        print(
            f"{name:<10} {t['chi2']:7.2f} {t['chi2_p']:7.3f} {t['ks']:6.3f} {t['ks_p']:6.3f}  {t['counts']}"
        )
    if a.png:
        plot(res, a.png)
        print(f"rank histograms: {a.png}")
    if a.json:
        _atomic(a.json, lambda f: f.write(json.dumps(res, indent=1).encode()))
        print(f"ranks: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
