"""One gradient of the compiled log-posterior against one fused EM pass, same rows, same run.

The default sampler calls :func:`bayesgmm.bayes._log_posterior_numba.log_posterior` once
per leapfrog step: the priors, the transforms and their Jacobians, and one fused pass over
the data (:func:`bayesgmm._numba.stats_blocks`, the pass EM makes per iteration) for the
log-likelihood and its gradient. This script times both on the same rows, in one thread
(the sampler runs one chain per thread) and, for the EM pass, also on every CPU (its
default), and prints the ratio. Each figure is the median of ``--repeat`` rounds of
``--calls`` calls (CPU time of this process and wall time).

Usage::

    python benchmarks/gradient.py                   # 20 000 height rows, K = 2
    python benchmarks/gradient.py --rows 200000
    python benchmarks/gradient.py --features 2 --components 3 --covariance full
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def data(rows: int, features: int, seed: int) -> np.ndarray:
    from bayesgmm import load_heights

    rng = np.random.default_rng(seed)
    X, _ = load_heights()
    X = X[rng.choice(X.shape[0], rows, replace=rows > X.shape[0])]
    if features > 1:  # further features: the height plus noise
        X = np.c_[X, X[:, :1] + rng.normal(0, 0.05, size=(rows, features - 1))]
    return np.ascontiguousarray((X - X.mean(axis=0)) / X.std(axis=0))


def timed(fn, calls: int, repeat: int) -> tuple[float, float]:
    """Median (CPU seconds, wall seconds) per call."""
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(calls):
            fn()
        cpu.append((time.process_time() - c0) / calls)
        wall.append((time.perf_counter() - w0) / calls)
    return float(np.median(cpu)), float(np.median(wall))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--features", type=int, default=1)
    ap.add_argument("--components", type=int, default=2)
    ap.add_argument("--covariance", choices=("full", "diag"), default="full")
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from bayesgmm import _kernels, converged_em
    from bayesgmm.bayes._nuts import CompiledModel
    from bayesgmm.bayes.model import initial_values

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}", flush=True)
    X = data(args.rows, args.features, args.seed)
    k, ct = args.components, args.covariance
    em = converged_em(X, k, ct, random_state=args.seed)
    model = CompiledModel.build(X, k, ct)
    z = model.unconstrain(initial_values(em.params_.sorted(0), ct))
    kind = "full" if model.full else "diag"  # one feature: the two are the same model
    W = _kernels.natural_parameters(em.weights_, em.means_, em.precisions_cholesky_, ct, X.mean(axis=0))
    engine = _kernels.get_engine("numba")
    shift = X.mean(axis=0)
    # load (or compile) both before timing
    model.log_posterior(z)
    engine.sufficient_statistics(X, W, shift, ct, threads=1)

    def gradient():
        model.log_posterior(z)

    def em_pass_one():
        engine.sufficient_statistics(X, W, shift, ct, threads=1)

    def em_pass_all():
        engine.sufficient_statistics(X, W, shift, ct)

    g = timed(gradient, args.calls, args.repeat)
    e1 = timed(em_pass_one, args.calls, args.repeat)
    ea = timed(em_pass_all, args.calls, args.repeat)
    print(
        f"{args.rows} rows x {args.features}, K = {k}, {kind}: "
        f"{model.n_params} unconstrained parameters, median of {args.repeat} x {args.calls} calls"
    )
    print(
        f"  one gradient (log-posterior + gradient, 1 thread): {g[1] * 1e6:8.1f} us wall, {g[0] * 1e6:8.1f} us CPU"
    )
    print(
        f"  one fused EM pass, 1 thread:                       {e1[1] * 1e6:8.1f} us wall, {e1[0] * 1e6:8.1f} us CPU"
    )
    print(
        f"  one fused EM pass, {_kernels.default_threads()} threads (EM's default):         {ea[1] * 1e6:8.1f} us wall, {ea[0] * 1e6:8.1f} us CPU"
    )
    print(f"  gradient / EM pass (1 thread each): {g[1] / e1[1]:.2f} wall, {g[0] / e1[0]:.2f} CPU")
    print(f"  gradient / EM pass (EM's default threads): {g[1] / ea[1]:.2f} wall")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
