"""Time ``select`` over K = 1..6 x 4 covariance types against scikit-learn on the same grid.

Data: 10 000 x 2 points from a three-component mixture. Peers, each over the same 24
(K, covariance type) cells, on the same data:

- ``sklearn-default``: ``sklearn.mixture.GaussianMixture(k, covariance_type=ct)`` with
  its defaults (one k-means start, ``tol=1e-3``, ``max_iter=100``, ``random_state=0``);
- ``sklearn-matched``: as many starts per cell as ``select`` tried (``n_init``, k-means
  starts), by default with ``tol=1e-8`` (``max_iter=10000``): scikit-learn's plain EM
  does not reach select's ``tol`` in reasonable time, so this is the nearest fair peer;
  ``--matched-tol`` / ``--matched-max-iter`` set them (e.g. scikit-learn's own 1e-3, 100).

Prints the wall time of each, the ratios, and per cell the best log-likelihood each
reached. Run: ``python benchmarks/select_grid.py [--n 10000] [--skip-matched]
[--matched-tol 1e-3 --matched-max-iter 100]`` (not ``select.py``:
run as a script, that name would shadow the standard library's ``select`` module).

``--jobs N`` times the same grid in one run three ways instead: serial (``n_jobs=1``), on N
joblib worker processes (``n_jobs=N``), and on a Dask ``LocalCluster`` of N worker
processes (one thread each) through ``joblib.parallel_config(backend="dask")``; checks
that the three tables are identical (``DataFrame.equals``), and fits a scaling model for
M workers from the serial run: Amdahl's law with the serial fraction measured (the time
outside rounds of two jobs or more, where the grid waits on one fit), and the rounds'
own bound (every round takes at least its longest job). The pools are started, and
numba's kernels loaded in them, before the timing (a first call pays that once).
``--compare-models`` adds ``compare_models(X, range(1, 5))`` on 2 000 random height rows,
serial against ``n_jobs=N``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

CTS = ("full", "tied", "diag", "spherical")
KS = range(1, 7)


def data(n: int) -> np.ndarray:
    from bayesgmm import make_mixture

    covs = [np.eye(2), np.diag([2.0, 0.5]), [[1.0, 0.5], [0.5, 1.0]]]
    return make_mixture(n, [0.5, 0.3, 0.2], [[0, 0], [4, 1], [1, 5]], covs, random_state=0)[0]


def sklearn_grid(X, n_init=None, tol=1e-3, max_iter=100):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    out = {}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in KS:
            for ct in CTS:
                m = 1 if n_init is None else int(n_init[(k, ct)])
                g = GaussianMixture(
                    k, covariance_type=ct, n_init=m, tol=tol, max_iter=max_iter, random_state=0
                )
                g.fit(X)
                out[(k, ct)] = float(g.score(X)) * X.shape[0]
    return time.perf_counter() - t0, out


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


class Rounds:
    """The rounds of a call (bayesgmm._parallel.Runner.run), timed: wall time per round,
    and each job's own time when they run in this process."""

    def __init__(self) -> None:
        self.rounds: list[tuple[float, list[float]]] = []

    def __enter__(self):
        from bayesgmm import _parallel

        self._orig = orig = _parallel.Runner.run
        rounds = self.rounds

        def run(runner, jobs):
            times: list[float] = []
            if runner._parallel is None:  # in this process: time each job
                timed = [
                    _parallel.Job(_timed(job.fn, times), job.args, job.local) for job in jobs
                ]  # fmt: skip
            else:
                timed = jobs
            t0 = time.perf_counter()
            out = orig(runner, timed)
            rounds.append((time.perf_counter() - t0, times if times else [float("nan")] * len(jobs)))
            return out

        _parallel.Runner.run = run
        return self

    def __exit__(self, *exc) -> None:
        from bayesgmm import _parallel

        _parallel.Runner.run = self._orig


def _timed(fn, times):
    def call(*args):
        t0 = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t0)
        return out

    return call


def scaling(total: float, rounds: Rounds, workers: list[int]) -> None:
    """Amdahl's law with the serial fraction measured in the serial run, and the rounds'
    bound: every round lasts at least its longest job, the rest divides over the workers."""
    parallel = sum(t for t, jobs in rounds.rounds if len(jobs) >= 2)
    f = (total - parallel) / total
    print(f"\nserial run: {total:.1f} s, of which {parallel:.1f} s in {sum(len(j) >= 2 for _, j in rounds.rounds)} rounds "
          f"of two jobs or more; serial fraction f = {f:.3f}")  # fmt: skip
    print("workers  Amdahl 1/(f + (1-f)/M)  rounds' bound (longest job or share, plus the rest)")
    for m in workers:
        bound = (
            total
            - parallel
            + sum(max(max(jobs), sum(jobs) / m) for t, jobs in rounds.rounds if len(jobs) >= 2)
        )
        print(f"{m:7d}  {1 / (f + (1 - f) / m):8.2f}x               {total / bound:8.2f}x")


def jobs_run(X, jobs: int) -> None:
    import joblib
    import pandas as pd  # noqa: F401
    from distributed import Client, LocalCluster

    from bayesgmm.criteria import select

    print(f"machine: {os.cpu_count()} cores; {_load()}")
    tiny = X[:300]
    select(tiny, [1, 2], ("full", "diag"), progress=False)  # numba's kernels, in this process
    t0 = time.perf_counter()
    select(tiny, [1, 2], ("full", "diag"), n_jobs=jobs, progress=False)  # the worker processes
    print(f"first parallel call (starts {jobs} worker processes): {time.perf_counter() - t0:.1f} s")

    with Rounds() as rounds:
        t0, c0 = time.perf_counter(), time.process_time()
        _, serial = select(X, KS, CTS, n_jobs=1, progress=False)
        t_serial, c_serial = time.perf_counter() - t0, time.process_time() - c0
    print(f"serial (n_jobs=1)                {t_serial:8.2f} s (CPU {c_serial:.1f} s); {_load()}")
    t0 = time.perf_counter()
    _, par = select(X, KS, CTS, n_jobs=jobs, progress=False)
    t_par = time.perf_counter() - t0
    print(f"joblib, n_jobs={jobs}                  {t_par:8.2f} s  speed-up {t_serial / t_par:.2f}x, "
          f"identical table: {serial.equals(par)}; {_load()}")  # fmt: skip
    with (
        LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        t0 = time.perf_counter()
        select(tiny, [1, 2], ("full", "diag"), progress=False)
        print(f"Dask LocalCluster, {jobs} worker processes: first call {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        _, dk = select(X, KS, CTS, progress=False)
        t_dask = time.perf_counter() - t0
    print(f"Dask LocalCluster ({jobs} processes) {t_dask:8.2f} s  speed-up {t_serial / t_dask:.2f}x, "
          f"identical table: {serial.equals(dk)}; {_load()}")  # fmt: skip
    scaling(t_serial, rounds, [1, 2, 4, 8, 16])


def compare_run(jobs: int) -> None:
    import warnings

    from bayesgmm import load_heights
    from bayesgmm.bayes.compare import compare_models

    H, _ = load_heights()
    X = H[np.random.default_rng(0).choice(H.shape[0], 2000, replace=False)]
    out = {}
    for n_jobs in (1, jobs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0, c0 = time.perf_counter(), time.process_time()
            out[n_jobs] = compare_models(X, range(1, 5), random_state=0, progress=False, n_jobs=n_jobs)
            print(f"compare_models, 2 000 heights, K = 1..4, n_jobs={n_jobs}: {time.perf_counter() - t0:.1f} s "
                  f"(CPU here {time.process_time() - c0:.1f} s); {_load()}")  # fmt: skip
    print(f"identical tables: {out[1].equals(out[jobs])}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--skip-matched", action="store_true")
    ap.add_argument("--matched-tol", type=float, default=1e-8, help="tol of the matched peer")
    ap.add_argument("--matched-max-iter", type=int, default=10000, help="max_iter of the matched peer")
    ap.add_argument("--jobs", type=int, default=None, help="serial vs N workers vs a Dask cluster of N")
    ap.add_argument("--compare-models", action="store_true", help="with --jobs: also compare_models")
    args = ap.parse_args()
    from bayesgmm.criteria import select

    if args.jobs is not None:
        jobs_run(data(args.n), args.jobs)
        if args.compare_models:
            compare_run(args.jobs)
        return

    X = data(args.n)
    select(X[:300], [1, 2], ("full", "diag"))  # compile the numba kernels outside the timing
    t0 = time.perf_counter()
    _, table = select(X, KS, CTS, progress=False)
    t_select = time.perf_counter() - t0
    ours = {(r.k, r.covariance_type): r.loglik for r in table.itertuples()}
    starts = {(r.k, r.covariance_type): r.n_starts for r in table.itertuples()}
    t_default, sk_default = sklearn_grid(X)
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[1]:.1f} (5 min)"
    )
    print(f"select (defaults)            {t_select:8.2f} s  ({int(table['n_starts'].sum())} starts in all)")
    print(f"scikit-learn defaults        {t_default:8.2f} s  ratio select/sklearn {t_select / t_default:.1f}")
    sk_matched = None
    if not args.skip_matched:
        t_matched, sk_matched = sklearn_grid(
            X, n_init=starts, tol=args.matched_tol, max_iter=args.matched_max_iter
        )
        print(
            f"scikit-learn n_init matched, tol {args.matched_tol:g}, max_iter {args.matched_max_iter} "
            f"{t_matched:8.2f} s  ratio select/sklearn {t_select / t_matched:.2f}"
            f"  (load average {os.getloadavg()[0]:.1f})"
        )
    print(
        "\nk  type       select loglik   sklearn-default   diff    "
        + ("sklearn-matched   diff" if sk_matched else "")
    )
    for k in KS:
        for ct in CTS:
            line = f"{k}  {ct:9s} {ours[(k, ct)]:14.3f} {sk_default[(k, ct)]:14.3f} {ours[(k, ct)] - sk_default[(k, ct)]:+8.3f}"
            if sk_matched:
                line += f" {sk_matched[(k, ct)]:14.3f} {ours[(k, ct)] - sk_matched[(k, ct)]:+8.3f}"
            print(line)
    worse = [c for c in ours if sk_matched and ours[c] < sk_matched[c] - 1e-6 * abs(ours[c])]
    print(
        f"\ncells where a scikit-learn peer beats select: default {sum(ours[c] < sk_default[c] - 1e-6 * abs(ours[c]) for c in ours)}"
        + (f", matched {len(worse)}" if sk_matched else "")
    )


if __name__ == "__main__":
    main()
