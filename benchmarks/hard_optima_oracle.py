"""Compute the scikit-learn 100-start oracle for the hard-optima data sets of the tests.

Writes tests/data/hard_optima_oracle.json: for every data set, covariance type and K = 1..6,
the best log-likelihood scikit-learn's EM reaches from 100 k-means++ starts (see
``tests/hard_optima.py::sklearn_oracle``). Run: python benchmarks/hard_optima_oracle.py [names...]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from hard_optima import DATASETS, sklearn_oracle  # noqa: E402

CTS = ("full", "tied", "diag", "spherical")


def main(names):
    for name in names:
        X = DATASETS[name]()
        out = {}
        for ct in CTS:
            for k in range(1, 7):
                t = time.perf_counter()
                res = sklearn_oracle(X, k, ct)
                out[f"{ct}-{k}"] = res
                print(f"{name} {ct} {k} {res} {time.perf_counter() - t:.1f}s", flush=True)
        path = ROOT / "tests" / "data" / f"oracle_{name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"n_starts": 100, "oracle": out}, indent=1) + "\n")
        tmp.replace(path)


if __name__ == "__main__":
    main(sys.argv[1:] or list(DATASETS))
