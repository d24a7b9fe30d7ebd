"""Where the data lives: one interface for in-memory arrays and Dask arrays.

Every pass EM and k-means make over the data is a sum of per-chunk statistics, so the
same algorithm runs as a loop over chunks of an in-memory (or memory-mapped) array, or as
a map-reduce over the blocks of a Dask array -- on a laptop or a Dask cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import _kernels
from ._validation import is_dask_array

CHUNK_ROWS = 65536


def kmeans_chunk(Xc: np.ndarray, centers: np.ndarray, backend: str = "numpy"):
    """Additive Lloyd statistics of one chunk: (sums (K, d), counts (K,), inertia)."""
    return _kernels.lloyd_statistics(Xc, centers, backend=backend)


def hard_phi_chunk(Xc, centers, shift, covariance_type, weights=None):
    """Feature sums of one chunk with one-hot responsibilities of the nearest centre
    (times the row weights, if any)."""
    lab, _ = _kernels.nearest_centre(Xc, centers)
    phi = _kernels.features(Xc, shift, covariance_type)
    R = np.zeros((len(lab), centers.shape[0]))
    R[np.arange(len(lab)), lab] = 1.0 if weights is None else np.asarray(weights, dtype=np.float64)
    return (phi.T @ R,)


def resp_phi_chunk(Xc, R, shift, covariance_type):
    """Feature sums of one chunk with given responsibilities R (rows sum to 1)."""
    return (_kernels.features(Xc, shift, covariance_type).T @ R,)


RANDOM_SEGMENT_ROWS = 4096


def random_resp(lo: int, hi: int, k: int, seed: int) -> np.ndarray:
    """Random soft labels (rows sum to 1) for rows lo..hi-1 of the data.

    Row i's numbers come from segment i // 4096, seeded by (seed, segment): the same
    labels however the rows are chunked (in memory, memory-mapped or in Dask blocks).
    """
    R = np.empty((hi - lo, k))
    for seg in range(lo // RANDOM_SEGMENT_ROWS, (hi - 1) // RANDOM_SEGMENT_ROWS + 1):
        start = seg * RANDOM_SEGMENT_ROWS
        U = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(seg,))).uniform(
            size=(RANDOM_SEGMENT_ROWS, k)
        )
        a, b = max(lo, start), min(hi, start + RANDOM_SEGMENT_ROWS)
        R[a - lo : b - lo] = U[a - start : b - start]
    R /= R.sum(axis=1, keepdims=True)
    return R


def moments_chunk(Xc):
    """(count, sum, sum of squares) of one chunk, to centre the data."""
    return float(Xc.shape[0]), Xc.sum(axis=0), np.einsum("ij,ij->j", Xc, Xc)


def _add(a, b):
    return tuple(x + y for x, y in zip(a, b, strict=True))


class InMemoryData:
    """An ndarray (or np.memmap), visited in chunks of rows, with optional row weights."""

    def __init__(self, X: np.ndarray, backend: Any = "auto", sample_weight: np.ndarray | None = None) -> None:
        self.X = X
        self.n, self.d = X.shape
        self.engine = _kernels.get_engine(backend) if isinstance(backend, str) else backend
        self.backend = self.engine.name
        self.sample_weight = sample_weight
        self.total_weight = float(self.n if sample_weight is None else np.sum(sample_weight))
        n, s, _ = self.map_reduce(moments_chunk)
        self.shift = s / n

    def map_reduce(self, func: Callable, *args: Any):
        out = None
        for lo in range(0, self.n, CHUNK_ROWS):
            r = func(np.asarray(self.X[lo : lo + CHUNK_ROWS]), *args)
            out = r if out is None else _add(out, r)
        return out

    def stats(self, W: np.ndarray, covariance_type: str):
        return self.engine.sufficient_statistics(
            self.X, W, self.shift, covariance_type, sample_weight=self.sample_weight
        )

    def rows(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(self.X[np.sort(idx)])


class DaskData:
    """A Dask array: every statistic is a map over blocks and a sum (map-reduce)."""

    def __init__(self, X, backend: Any = "auto", sample_weight: Any = None) -> None:
        import dask
        import dask.array as da

        self._dask = dask
        if len(X.chunks[1]) != 1:
            X = X.rechunk({1: -1})
        self.X = X
        self.n, self.d = (int(s) for s in X.shape)
        self.blocks = list(X.to_delayed().ravel())
        self.offsets = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]])
        engine = _kernels.get_engine(backend) if isinstance(backend, str) else backend
        self.backend = engine.name
        self.sample_weight = sample_weight
        if sample_weight is None:
            self.weight_blocks = [None] * len(self.blocks)
            self.total_weight = float(self.n)
        else:
            sw = da.asarray(sample_weight).rechunk((X.chunks[0],))
            self.weight_blocks = list(sw.to_delayed().ravel())
            self.total_weight = float(sw.sum().compute())
        n, s, ss = self.map_reduce(moments_chunk)
        if not (np.all(np.isfinite(s)) and np.all(np.isfinite(ss))):
            raise ValueError(
                "X must contain only finite values. Got NaN or infinite value(s) in the Dask array."
            )
        self.shift = s / n

    def map_reduce(self, func: Callable, *args: Any):
        delayed = self._dask.delayed
        parts = self._dask.compute(*[delayed(func)(b, *args) for b in self.blocks])
        out = parts[0]
        for r in parts[1:]:
            out = _add(out, r)
        return out

    def stats(self, W: np.ndarray, covariance_type: str):
        delayed = self._dask.delayed
        parts = self._dask.compute(
            *[
                delayed(_block_stats)(b, W, self.shift, covariance_type, self.backend, wb)
                for b, wb in zip(self.blocks, self.weight_blocks, strict=True)
            ]
        )
        out = parts[0]
        for r in parts[1:]:
            out = _add(out, r)
        return out

    def rows(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(self.X[np.sort(idx)].compute())

    def random_resp_stats(self, k, rng, covariance_type):
        seed = int(rng.integers(0, 2**63 - 1))
        delayed = self._dask.delayed
        parts = self._dask.compute(
            *[
                delayed(_random_block)(b, k, seed, int(lo), self.shift, covariance_type, wb)
                for b, lo, wb in zip(self.blocks, self.offsets, self.weight_blocks, strict=True)
            ]
        )
        out = parts[0]
        for r in parts[1:]:
            out = _add(out, r)
        return out


def _block_stats(Xb, W, shift, covariance_type, backend, weights=None):
    Xb = np.ascontiguousarray(Xb, dtype=np.float64)
    # one thread per block: Dask runs the blocks in parallel already
    return _kernels.sufficient_statistics(
        Xb, W, shift, covariance_type, backend=backend, threads=1, sample_weight=weights
    )


def _random_block(Xb, k, seed, lo, shift, covariance_type, weights=None):
    R = random_resp(lo, lo + Xb.shape[0], k, seed)
    if weights is not None:
        R *= np.asarray(weights, dtype=np.float64)[:, None]
    return resp_phi_chunk(Xb, R, shift, covariance_type)


def as_data(X, backend: Any = "auto", sample_weight: Any = None):
    """The data source for X (in memory or Dask), with optional row weights."""
    cls = DaskData if is_dask_array(X) else InMemoryData
    return cls(X, backend, sample_weight)
