"""The same EM on a Dask array: a map-reduce over chunks of sufficient statistics.

Run: python examples/04_dask_em.py
"""

import numpy as np

from bayesgmm import GaussianMixture, make_mixture

try:
    import dask.array as da
except ImportError:  # dask is an optional extra: pip install 'bayesgmm[dask]'
    print("done: dask not installed, nothing to show")
    raise SystemExit(0)

X, _ = make_mixture(50_000, [0.5, 0.5], [[0, 0], [3, 3]], [np.eye(2), np.eye(2)], random_state=0)
start = dict(weights_init=[0.5, 0.5], means_init=[[-1, 0], [4, 4]], precisions_init=[np.eye(2)] * 2)
in_memory = GaussianMixture(2, tol=1e-10, **start).fit(X)
chunked = GaussianMixture(2, tol=1e-10, **start).fit(da.from_array(X, chunks=(10_000, 2)))
print("in memory:", in_memory.means_.ravel())
print("dask     :", chunked.means_.ravel())
diff = np.max(np.abs(in_memory.means_ - chunked.means_))
print(f"done: largest difference of the means {diff:.2e}")
