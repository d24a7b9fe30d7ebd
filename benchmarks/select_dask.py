"""``select`` on a Dask array against the same rows in memory: log-likelihoods and memory.

Data: 10 000 000 x 2 rows from the three-component mixture of ``select_grid.py``, written
once to a ``.npy`` file. Each variant runs in a fresh process, which loads X with
``np.load`` after its imports and a warm-up (the same call on 20 000 rows: numba's kernels
loaded, and what does not grow with n -- the 2 000-row screen, the merge tree, thread
pools -- allocated once), then calls ``select(X, range(1, 4), "full")``:

- ``memory``: X as a numpy array;
- ``dask``: ``dask.array.from_array(X, chunks=(250_000, 2))`` (no copy), in the process's
  own threaded scheduler.

*Peak beyond X* is the process's peak resident set (``VmHWM``, reset after the warm-up
through ``/proc/self/clear_refs``) minus its resident set just before X was loaded, minus
the size of X: everything the call allocated. Prints each
variant's time, peak beyond X as a multiple of X, and the largest relative difference of
the log-likelihoods. Run: ``python benchmarks/select_dask.py [--n 10000000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

KS = range(1, 4)
WARM_UP = 20_000
CHUNK = 250_000  # rows per Dask block


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(field)


def child(path: str, variant: str) -> None:
    import dask.array as da
    from select_grid import data

    from bayesgmm.criteria import select

    # warm-up, the same call on WARM_UP rows: numba's kernels loaded, and what does not
    # grow with n (the 2 000-row screen, the merge tree, the thread pools) allocated once
    warm = data(WARM_UP)
    select(
        warm if variant == "memory" else da.from_array(warm, chunks=(WARM_UP // 4, 2)),
        KS,
        "full",
        progress=False,
    )
    del warm
    with open("/proc/self/clear_refs", "w") as f:  # the peak so far (the warm-up's) is forgotten
        f.write("5")
    before = _rss_kb("VmRSS:")
    X = np.load(path)
    if variant == "dask":
        X = da.from_array(X, chunks=(min(CHUNK, max(1, X.shape[0] // 8)), X.shape[1]))
    t0 = time.perf_counter()
    _, table = select(X, KS, "full", progress=False)
    seconds = time.perf_counter() - t0
    peak = _rss_kb("VmHWM:")
    x_kb = os.path.getsize(path) / 1024
    print(json.dumps({
        "variant": variant, "seconds": seconds, "peak_beyond_x": (peak - before - x_kb) / x_kb,
        "beyond_x_mib": (peak - before - x_kb) / 1024,
        "loglik": table["loglik"].tolist(), "n_iter": table["n_iter"].tolist(),
    }))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--child", nargs=2, metavar=("PATH", "VARIANT"))
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if args.child:
        child(*args.child)
        return
    from select_grid import data

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "X.npy")
        np.save(path, data(args.n))
        print(f"X: {args.n} x 2, {os.path.getsize(path) / 2**20:.0f} MiB; {os.cpu_count()} cores")
        results = {}
        for variant in ("memory", "dask"):
            load = os.getloadavg()[0]
            proc = subprocess.run(
                [sys.executable, __file__, "--child", path, variant],
                capture_output=True,
                text=True,
                check=True,
            )
            results[variant] = r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{variant:7s} {r['seconds']:8.1f} s  peak beyond X {r['peak_beyond_x']:.2f} x X "
                  f"({r['beyond_x_mib']:.0f} MiB)  "
                  f"n_iter {r['n_iter']}  (load {load:.1f} -> {os.getloadavg()[0]:.1f})")  # fmt: skip
        a, b = np.array(results["memory"]["loglik"]), np.array(results["dask"]["loglik"])
        print(
            f"log-likelihoods {a.tolist()}\nlargest relative difference {np.max(np.abs(a - b) / np.abs(a)):.2e}"
        )


if __name__ == "__main__":
    main()
