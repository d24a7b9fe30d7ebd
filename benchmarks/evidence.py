"""Cost of the log evidence per K beside the cost of sampling, on 2 000 height rows.

For each K: ``BayesianGaussianMixture(K)`` with its defaults but ``tune`` (EM start,
Laplace mass matrix, 2 chains x ``draws``), then
:func:`bayesgmm.bayes.evidence.log_evidence` with its defaults (bridge sampling, normal
proposal, 4 000 proposal draws: one fused likelihood pass each). Prints, per K, the
wall time of the fit (EM + build + mass matrix + sampling) and of the evidence, their
ratio, the log evidence with its standard error, ``-2 log evidence`` beside BIC, and a
second evidence estimate from an independent fit (another seed) as a check.

Usage::

    python benchmarks/evidence.py                 # K = 1..4, 2 000 random rows (seed 0)
    python benchmarks/evidence.py --ks 1 2 --draws 1000
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np

from bayesgmm import load_heights
from bayesgmm.bayes.evidence import log_evidence
from bayesgmm.bayes.sampling import BayesianGaussianMixture


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=300)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    a = ap.parse_args(argv)

    X, _ = load_heights()
    X = X[np.random.default_rng(0).choice(X.shape[0], a.n, replace=False)]
    print(
        f"{a.n} height rows (seed 0), 2 chains x ({a.tune} tune + {a.draws} draws); "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    # warm-up: numba and PyTensor compilation are not part of either cost
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 50 draws: the diagnostics complain, rightly
        BayesianGaussianMixture(1, draws=50, tune=50, random_state=0).fit(X[:200])

    print(
        f"{'K':>2} {'seed':>4} {'fit s':>7} {'(sample s)':>10} {'evid s':>7} {'ratio':>6} {'passes':>6} "
        f"{'log Z':>10} {'se':>6} {'-2 log Z':>10} {'BIC':>10} {'flag':>4}"
    )
    for k in a.ks:
        for seed in a.seeds:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                t0 = time.perf_counter()
                bayes = BayesianGaussianMixture(k, draws=a.draws, tune=a.tune, random_state=seed).fit(X)
                fit_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                ev = log_evidence(bayes, X, random_state=seed)
                ev_s = time.perf_counter() - t0
            flags = [str(w.message).split(":")[0] for w in caught if "BLAS" not in str(w.message)]
            print(
                f"{k:>2} {seed:>4} {fit_s:7.1f} {bayes.timings_['sample']:10.1f} {ev_s:7.2f} "
                f"{ev_s / fit_s:6.3f} {ev.n_evaluations:>6} {ev.value:10.2f} {ev.se:6.3f} "
                f"{ev.deviance:10.2f} {bayes.em_.bic(X):10.2f} {'yes' if ev.warning else 'no':>4}"
            )
            for f in flags:
                print(f"      warning: {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
