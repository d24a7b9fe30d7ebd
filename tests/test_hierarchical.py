"""bayesgmm.hierarchical: the model-based agglomerative start."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import adjusted_rand_score

from bayesgmm.hierarchical import ALPHA, BETA, hierarchical_labels, merge_tree


def _blobs(sizes, centers, scales, seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack(
        [rng.normal(size=(s, len(c))) * sc + c for s, c, sc in zip(sizes, centers, scales, strict=True)]
    )
    y = np.repeat(np.arange(len(sizes)), sizes)
    return X, y


def _criterion(Z, labels, ridge, beta):
    """sum_k n_k log det((W_k + (ridge + beta tr(W_k)/d) I) / n_k), from scratch."""
    d = Z.shape[1]
    total = 0.0
    for k in np.unique(labels):
        P = Z[labels == k]
        C = P - P.mean(axis=0)
        W = C.T @ C
        S = (W + (ridge + beta * np.trace(W) / d) * np.eye(d)) / len(P)
        total += len(P) * np.linalg.slogdet(S)[1]
    return total


@pytest.mark.parametrize("d", [1, 2, 3])
def test_merges_are_the_greedy_brute_force_merges(d):
    """Every merge is the pair whose union raises the criterion least, recomputed from the
    points of every candidate partition, and its recorded cost is that increase."""
    rng = np.random.default_rng(d)
    X = rng.normal(size=(10, d)) * rng.uniform(0.5, 3.0, size=d)
    tree = merge_tree(X)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    ridge = ALPHA * np.mean(Z.var(axis=0))
    assert_allclose(tree.reg_covar, ridge, rtol=1e-12)
    labels = np.arange(len(X))
    for t in range(len(X) - 1):
        base = _criterion(Z, labels, ridge, BETA)
        best = None
        for a, b in itertools.combinations(np.unique(labels), 2):
            trial = np.where(labels == b, a, labels)
            inc = _criterion(Z, trial, ridge, BETA) - base
            if best is None or inc < best[0] - 1e-9:
                best = (inc, a, b)
        assert tuple(tree.merges[t]) == best[1:], t
        assert_allclose(tree.costs[t], best[0], rtol=1e-8, atol=1e-9)
        labels = np.where(labels == best[2], best[1], labels)


def test_separates_unbalanced_well_separated_clusters_exactly():
    X, y = _blobs([400, 60, 15], [[0, 0], [12, 0], [0, 12]], [1.0, 0.5, 0.2])
    assert adjusted_rand_score(y, hierarchical_labels(X, 3)) == 1.0


def test_separates_a_tight_cluster_on_a_broad_one_in_one_dimension():
    X, y = _blobs([300, 40, 300], [[0.0], [10.0], [20.0]], [1.5, 0.05, 1.5], seed=3)
    assert adjusted_rand_score(y, hierarchical_labels(X, 3)) == 1.0


def test_one_tree_gives_every_k_nested():
    X, _ = _blobs([100, 80, 60], [[0, 0], [8, 0], [0, 8]], [1.0, 1.0, 1.0])
    out = hierarchical_labels(X, [1, 2, 3, 4])
    assert sorted(out) == [1, 2, 3, 4]
    for k, lab in out.items():
        assert lab.shape == (len(X),) and set(lab) == set(range(k))
    for k in (1, 2, 3):  # each partition refines the one above it
        pairs = set(zip(out[k + 1], out[k], strict=True))
        assert len({a for a, _ in pairs}) == len(pairs)
    assert_array_equal(out[3], hierarchical_labels(X, 3))


def test_deterministic_and_unit_free():
    X, _ = _blobs([150, 100], [[0, 0], [5, 1]], [1.0, 1.0], seed=5)
    first = hierarchical_labels(X, 4)
    assert_array_equal(first, hierarchical_labels(X, 4))
    for a in (1e-8, 1e8):
        assert_array_equal(first, hierarchical_labels(a * X + a * np.array([3.0, -1.0]), 4))
    # one feature's unit changed alone: the standardisation absorbs it
    assert_array_equal(first, hierarchical_labels(X * [1e-6, 1.0], 4))


def test_large_n_uses_a_fixed_subset_and_labels_every_row():
    X, y = _blobs([3000, 1500, 500], [[0, 0], [14, 0], [0, 14]], [1.0, 1.0, 0.5], seed=2)
    tree = merge_tree(X, max_samples=500)
    assert len(tree.subset) == 500 and np.all(np.diff(tree.subset) > 0)
    assert_array_equal(tree.subset, merge_tree(X, max_samples=500).subset)
    labels = tree.labels(X, 3)
    assert labels.shape == (len(X),)
    assert_array_equal(labels[tree.subset], tree.subset_labels(3))
    assert adjusted_rand_score(y, labels) == 1.0


def test_bad_arguments_name_themselves():
    X = np.arange(10.0).reshape(5, 2)
    with pytest.raises(ValueError, match="n_components.*at most the number of rows"):
        hierarchical_labels(X, 6)
    with pytest.raises(ValueError, match="max_samples"):
        merge_tree(X, max_samples=1)
    with pytest.raises(ValueError, match="alpha"):
        merge_tree(X, alpha=0.0)
