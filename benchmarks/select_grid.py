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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--skip-matched", action="store_true")
    ap.add_argument("--matched-tol", type=float, default=1e-8, help="tol of the matched peer")
    ap.add_argument("--matched-max-iter", type=int, default=10000, help="max_iter of the matched peer")
    args = ap.parse_args()
    from bayesgmm.criteria import select

    X = data(args.n)
    select(X[:300], [1, 2], ("full", "diag"))  # compile the numba kernels outside the timing
    t0 = time.perf_counter()
    _, table = select(X, KS, CTS)
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
