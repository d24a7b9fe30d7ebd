"""bayesgmm.bayes.relabel: recover synthetically permuted draws."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from bayesgmm import GMMParams
from bayesgmm.bayes.relabel import permute_components, relabel_draws


def _inverse(perm):
    inv = np.empty_like(perm)
    np.put_along_axis(inv, perm, np.arange(perm.shape[-1]), axis=-1)
    return inv


def _scrambled(rng, ref, shape, noise):
    """Draws around ``ref`` (true labels), then randomly permuted per draw."""
    k, d = ref.shape
    truth = ref + noise * rng.normal(size=shape + (k, d))
    scramble = np.stack([rng.permutation(k) for _ in range(int(np.prod(shape)))]).reshape(shape + (k,))
    return truth, permute_components(truth, scramble), scramble


@pytest.mark.parametrize("k, d", [(2, 1), (3, 2), (5, 3)])
def test_recovers_permuted_draws_exactly(rng, k, d):
    ref = rng.normal(scale=10.0, size=(k, d))
    truth, scrambled, scramble = _scrambled(rng, ref, (2, 300), noise=0.3)
    perm = relabel_draws(scrambled, ref)
    assert perm.shape == (2, 300, k)
    assert_array_equal(permute_components(scrambled, perm), truth)
    # relabelling undoes the scramble: perm is its inverse
    assert_array_equal(perm, _inverse(scramble))
    # other per-component arrays follow with the same permutation
    weights = rng.dirichlet(np.ones(k), size=(2, 300))
    assert_array_equal(permute_components(permute_components(weights, scramble), perm), weights)


def test_one_feature_means_without_feature_axis(rng):
    ref = np.array([1.58, 1.71])
    truth, scrambled, _ = _scrambled(rng, ref[:, None], (4, 50), noise=0.01)
    perm = relabel_draws(scrambled[..., 0], ref)
    assert_array_equal(permute_components(scrambled[..., 0], perm), truth[..., 0])


def test_overlap_along_feature_zero_needs_the_other_features(rng):
    """Components with equal first coordinates: only the full distance separates them."""
    ref = np.array([[0.0, -5.0], [0.0, 5.0], [3.0, 0.0]])
    truth, scrambled, _ = _scrambled(rng, ref, (500,), noise=0.5)
    perm = relabel_draws(scrambled, ref)
    assert_array_equal(permute_components(scrambled, perm), truth)


def test_standardised_by_the_reference_components(rng):
    """A GMMParams reference standardises each feature by the component's sd: a feature with
    a huge scale does not swamp the informative one."""
    # sds 0.1 along feature 0 (informative) and 10 along feature 1 (noise)
    params = GMMParams([0.5, 0.5], [[0.0, 10.0], [1.0, -10.0]], [[0.01, 100.0], [0.01, 100.0]], "diag")
    draws = np.array([[[1.0, 10.0], [0.0, -10.0]]])  # feature 0 says "swapped", feature 1 does not
    assert_array_equal(relabel_draws(draws, params), [[1, 0]])
    # unscaled, the feature with the larger numbers decides
    assert_array_equal(relabel_draws(draws, params.means, scale=1.0), [[0, 1]])


def test_assignment_is_optimal_when_nearest_is_not_a_permutation():
    ref = np.array([[0.0], [1.0], [10.0]])
    draw = np.array([[[0.45], [-5.0], [9.0]]])  # 0.45 is the nearest to both ref 0 and ref 1
    perm = relabel_draws(draw, ref, scale=1.0)
    # total cost: ref0<-(-5), ref1<-0.45 = 25.30 beats ref0<-0.45, ref1<-(-5) = 36.20
    assert_array_equal(perm, [[1, 0, 2]])


def test_errors(rng):
    with pytest.raises(ValueError, match="match the reference"):
        relabel_draws(rng.normal(size=(10, 3, 2)), rng.normal(size=(2, 2)))
    with pytest.raises(ValueError, match="scale"):
        relabel_draws(rng.normal(size=(10, 2, 2)), rng.normal(size=(2, 2)), scale=-1.0)
    with pytest.raises(ValueError, match="reference"):
        relabel_draws(rng.normal(size=(10, 2, 2)), rng.normal(size=(2, 2, 2)))
    with pytest.raises(ValueError, match="start with"):
        permute_components(np.zeros((3, 2)), np.zeros((4, 2), dtype=int))
