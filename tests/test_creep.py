"""bayesgmm._creep: the rules that stop creeping runs in best_em's fixed-point stage."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_allclose

from bayesgmm import _creep, make_mixture
from bayesgmm.multistart import best_em


def _model(weights, means, covariances, covariance_type="full"):
    return SimpleNamespace(
        weights_=np.asarray(weights, dtype=float),
        means_=np.asarray(means, dtype=float),
        covariances_=np.asarray(covariances, dtype=float),
        covariance_type=covariance_type,
    )


STAR = _model([0.2, 0.3, 0.5], [[-1.0], [0.1], [0.9]], [[[0.3]], [[0.2]], [[0.25]]])
DIRECTION = _model([0.01, -0.01, 0.0], [[0.2], [-0.3], [0.05]], [[[0.01]], [[-0.02]], [[0.0]]])


def _toward(star, lam, steps, scale=1.0, order=(0, 1, 2)):
    """Models on a line converging to ``star`` geometrically: star + scale lam^n direction,
    components listed in ``order``."""
    out = []
    for n in steps:
        f = scale * lam**n
        parts = [getattr(star, a) + f * getattr(DIRECTION, a) for a in ("weights_", "means_", "covariances_")]
        out.append(_model(*(p[list(order)] for p in parts)))
    return out


def test_a_run_converging_linearly_to_the_best_parameters_heads_for_them():
    # Aitken's limit of a geometric sequence is its limit exactly, whatever the labels
    assert _creep.heads_for(_toward(STAR, 0.9, range(4)), STAR)
    assert _creep.heads_for(_toward(STAR, 0.9, range(4), order=(2, 0, 1)), STAR)


def test_a_run_converging_elsewhere_or_not_linearly_does_not():
    # a limit within a tenth of the remaining distance counts as the same (the tolerance
    # of the extrapolation); one 0.05 away, from 0.24 away, does not
    other = _model(STAR.weights_, STAR.means_ + 0.05, STAR.covariances_)
    assert not _creep.heads_for(_toward(other, 0.9, range(4)), STAR)
    assert not _creep.heads_for(_toward(STAR, 1.1, range(4), scale=1e-3), STAR)  # steps grow
    assert not _creep.heads_for(_toward(STAR, 0.9, range(3)), STAR)  # too few stretches
    # linear in its last triple only: the triple before it is not
    models = _toward(STAR, 0.9, range(4))
    models[0] = _model(models[0].weights_, models[0].means_ + [[0.0], [0.5], [0.0]], models[0].covariances_)
    assert not _creep.heads_for(models, STAR)


def _geometric_run(ll0, gain0, ratio, n_stretches, chunk=300):
    passes = [chunk * j for j in range(n_stretches + 1)]
    gains = gain0 * ratio ** np.arange(n_stretches) * chunk
    return passes, list(ll0 + np.concatenate([[0.0], np.cumsum(gains)]))


def test_out_of_reach_only_when_the_pace_cannot_close_the_gap():
    passes, lls = _geometric_run(-100.0, 1e-5, 0.9, 5)
    left = 10000 - passes[-1]
    bound = lls[-1] + 1e-5 * 0.9**4 * left  # its pace times the passes it has left
    assert _creep.out_of_reach(passes, lls, 10000, bound + 1e-3)
    assert not _creep.out_of_reach(passes, lls, 10000, bound - 1e-3)
    # the same gains growing (a run leaving a saddle) or erratic: it runs on
    passes, rising = _geometric_run(-100.0, 1e-5, 1.1, 5)
    assert not _creep.out_of_reach(passes, rising, 10000, 0.0)
    erratic = lls[:3] + [lls[3] + 1e-3, lls[4] + 1e-3, lls[5] + 1e-3]
    assert not _creep.out_of_reach(passes, erratic, 10000, 0.0)
    assert not _creep.out_of_reach(passes[:4], lls[:4], 10000, 0.0)  # too few stretches


def test_no_higher_reads_the_limit_of_geometric_gains():
    # gains 1e-3 * 0.5^j from -10: the limit is -10 + 2e-3 exactly
    lls = list(-10.0 + np.cumsum([0.0, 1e-3, 5e-4, 2.5e-4]))
    assert _creep.no_higher(lls, -10.0 + 2e-3)
    # a best 1e-5 below the limit: 1e-5 is 4% of the run's gap (2.4e-4), within LIMIT_SHARE
    assert _creep.no_higher(lls, -10.0 + 1.99e-3)
    # 1e-4 below: 67% of the gap (1.5e-4), a higher optimum may lie ahead
    assert not _creep.no_higher(lls, -10.0 + 1.9e-3)
    assert not _creep.no_higher(lls, -10.0 + 1.5e-3)
    assert not _creep.no_higher(lls[:2], 0.0)
    assert not _creep.no_higher([0.0, 1e-3, 3e-3], 1.0)  # growing gains


@pytest.fixture(scope="module")
def creeping_cell():
    """One K = 3 cell above the true K = 2 (150 points in 1-D), with few starts and short
    stretches, fitted with the rules and without them (each run to its fixed point or
    max_iter): the reference."""
    X = make_mixture(150, [0.5, 0.5], [[0.0], [1.5]], [[[1.0]], [[1.0]]], random_state=0)[0]
    kw = {"n_kmeans": 1, "n_kpp": 3, "n_random": 3, "max_iter": 1500}
    stops = []
    mp = pytest.MonkeyPatch()
    with mp.context() as m:
        m.setattr(_creep, "CHUNK", 100)
        rule = _creep.out_of_reach
        m.setattr(_creep, "out_of_reach", lambda *a: stops.append(a[1][-1]) or True if rule(*a) else False)
        watched = best_em(X, 3, "full", **kw)
        m.setattr(_creep, "ENABLED", False)
        reference = best_em(X, 3, "full", **kw)
    return watched, reference, stops


def test_stopping_creeping_runs_keeps_the_optimum(creeping_cell):
    watched, reference, stops = creeping_cell
    assert stops, "the rule did not stop any run: the case no longer tests it"
    assert watched.model.converged_ and reference.model.converged_
    assert_allclose(watched.loglik, reference.loglik, rtol=1e-6)
    assert_allclose(watched.model.weights_, reference.model.weights_, atol=1e-4)
    assert_allclose(watched.model.means_, reference.model.means_, atol=1e-4)
    assert_allclose(watched.model.covariances_, reference.model.covariances_, atol=1e-4)
    # a stopped run keeps what it had reached, below where its full run ended
    for a, b in zip(watched.start_logliks, reference.start_logliks, strict=True):
        assert a <= b + 1e-6 * abs(b)
