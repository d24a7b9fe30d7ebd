"""The fixed-point stage of :func:`bayesgmm.multistart.best_em`: best first, and a run
that creeps toward an optimum it cannot win is stopped.

Above the true number of components the likelihood is nearly flat along a redundant
component, and EM (SQUAREM's extrapolations rejected by its safeguard) creeps: thousands
of passes that barely change the log-likelihood. Run best first, the
leader reaches its fixed point first; every later run then goes on in stretches of
``CHUNK`` passes (:func:`watch`; each against the leader's fixed point, so the later runs
are independent of one another and run side by side under ``n_jobs``) and stops as soon
as one of two things is established:

- it converges linearly and cannot reach the best fixed point within its remaining
  passes: the gains of its last stretches shrink by steady ratios (below 1), and its
  log-likelihood plus its current pace (mean gain per pass over the last stretch) times
  the passes it has left stays below the best fixed point. While its gains keep
  shrinking, running it to ``max_iter`` could not have changed the winner; a run whose
  gains grow or jump (leaving a saddle, as runs that end at the best optimum do) runs on;
- it converges to the best fixed point itself: the limit of its parameters, extrapolated
  from three stretches of a linearly converging sequence (Aitken's delta-squared, on the
  parameters of the standardised data), lies within ``SAME_OPTIMUM`` of the best fixed
  point's parameters (components matched) or within ``LIMIT_SHARE`` of its remaining
  distance to them (the extrapolation's own error while the run is still far), it is
  approaching them, its log-likelihood is below theirs, and the Aitken limit of its
  log-likelihood exceeds theirs by at most ``LIMIT_SHARE`` of its remaining gap (so it is
  not heading for a higher optimum nearby). Its limit is that optimum: running it on
  would only reach it again. This is an inference from a run in its linear regime, not
  a proof; the slow tests of :mod:`bayesgmm.multistart` check it against an oracle.

A stopped run keeps the log-likelihood it had reached (its ``converged_`` stays False);
among fits tied at the best log-likelihood, :func:`~bayesgmm.multistart.best_em` keeps
one that reached its fixed point.

On many rows (when the starts were screened on a sample of them) a run is also stopped
once it cannot change the answer by more than a resolution: its gains do not grow and
its pace times the passes it has left is below ``resolution`` (:func:`settled`), and,
against the best fixed point, when it cannot exceed it by more than ``resolution``.
There a run may drift along a flat ridge for thousands of passes, gaining a
hundred-thousandth of a nat a stretch: its log-likelihood is final long before its
parameters are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

ENABLED = True
CHUNK = 300
SAME_OPTIMUM = 1e-3
LIMIT_SHARE = 0.1
ALIGNED = 0.99
N_RATIOS = 3
RATIO_SPREAD = 0.05


def _components(gm) -> tuple[np.ndarray, np.ndarray]:
    """One row per component (weight, mean, covariance) and the shared part (a tied
    covariance), from a fitted model on standardised data."""
    k = gm.weights_.shape[0]
    rows = [gm.weights_[:, None], gm.means_]
    shared = np.zeros(0)
    if gm.covariance_type == "tied":
        shared = np.asarray(gm.covariances_).ravel()
    else:
        rows.append(np.asarray(gm.covariances_).reshape(k, -1))
    return np.hstack(rows), shared


def _flat(gm, order: np.ndarray) -> np.ndarray:
    rows, shared = _components(gm)
    return np.concatenate([rows[order].ravel(), shared])


def _matching(gm, ref) -> np.ndarray:
    """The order of gm's components that best matches ref's (by their rows)."""
    a, _ = _components(gm)
    b, _ = _components(ref)
    cost = np.abs(b[:, None, :] - a[None, :, :]).sum(axis=2)
    _, order = linear_sum_assignment(cost)
    return order


def _aitken(t0, t1, t2, star) -> bool:
    """Whether t0, t1, t2 (one run, a stretch apart) converge linearly to star: shrinking
    steps, each toward star (cosine at least ``ALIGNED``), and their Aitken limit within
    ``SAME_OPTIMUM`` or ``LIMIT_SHARE`` of the remaining distance (largest coordinate)."""
    d1, d2 = np.linalg.norm(t1 - t0), np.linalg.norm(t2 - t1)
    if not (np.isfinite(d1) and np.isfinite(d2)) or d1 == 0 or d2 == 0 or d2 >= d1:
        return False
    q = d2 / d1
    limit = t2 + (t2 - t1) * q / (1 - q)
    gap = np.max(np.abs(t2 - star))
    cos = np.dot(t2 - t1, star - t2) / (d2 * np.linalg.norm(star - t2) or 1.0)
    return bool(cos >= ALIGNED and np.max(np.abs(limit - star)) <= max(SAME_OPTIMUM, LIMIT_SHARE * gap))


def heads_for(models: Sequence, ref) -> bool:
    """Whether the last four models of one run (a stretch apart) converge linearly to
    ``ref``'s parameters (components matched): :func:`_aitken` on both of its last two
    triples."""
    if len(models) < 4:
        return False
    order = _matching(models[-1], ref)
    t = [_flat(gm, order) for gm in models[-4:]]
    star = _flat(ref, np.arange(ref.weights_.shape[0]))
    return _aitken(*t[:3], star) and _aitken(*t[1:], star)


def no_higher(logliks: Sequence[float], best: float) -> bool:
    """Whether the Aitken limit of a run's log-likelihood (from its last three stretches)
    exceeds ``best`` by at most ``LIMIT_SHARE`` of the run's remaining gap: its gains agree
    with a run that ends at the best optimum, not at a higher one nearby."""
    if len(logliks) < 3:
        return False
    g1, g2 = logliks[-2] - logliks[-3], logliks[-1] - logliks[-2]
    if not (g1 > 0 and g2 > 0 and g2 < g1):
        return False
    q = g2 / g1
    return bool(logliks[-1] + g2 * q / (1 - q) <= best + LIMIT_SHARE * (best - logliks[-1]))


def out_of_reach(passes: Sequence[int], logliks: Sequence[float], max_iter: int, best: float) -> bool:
    """Whether a run that converges linearly cannot reach ``best`` in the passes it has
    left at its current pace.

    Linearly: the gains of its last ``N_RATIOS`` + 1 stretches shrink by steady ratios
    (each below 1, all within ``RATIO_SPREAD``), so its pace will not pick up. A run
    leaving a saddle has growing or erratic gains and is left to run on."""
    if len(passes) < N_RATIOS + 2:
        return False
    p = np.asarray(passes[-(N_RATIOS + 2) :], dtype=float)
    gains = np.diff(np.asarray(logliks[-(N_RATIOS + 2) :])) / np.maximum(np.diff(p), 1.0)
    if not np.all(gains > 0):
        return False
    ratios = gains[1:] / gains[:-1]
    if np.any(ratios >= 1) or np.ptp(ratios) > RATIO_SPREAD:
        return False
    return bool(logliks[-1] + gains[-1] * (max_iter - passes[-1]) < best)


def settled(passes: Sequence[int], logliks: Sequence[float], max_iter: int, resolution: float) -> bool:
    """Whether a run cannot gain more than ``resolution`` in the passes it has left at its
    current pace: the gains of its last ``N_RATIOS`` + 1 stretches are positive and do not
    grow (each ratio at most 1 + ``RATIO_SPREAD``: a steady drift or a shrinking pace, not
    a run leaving a saddle), and the pace of the last stretch times the passes left is
    below ``resolution``."""
    if len(passes) < N_RATIOS + 2:
        return False
    p = np.asarray(passes[-(N_RATIOS + 2) :], dtype=float)
    gains = np.diff(np.asarray(logliks[-(N_RATIOS + 2) :])) / np.maximum(np.diff(p), 1.0)
    if not np.all(gains > 0) or np.any(gains[1:] / gains[:-1] > 1 + RATIO_SPREAD):
        return False
    return bool(gains[-1] * (max_iter - passes[-1]) < resolution)


def watch(
    fit, loglik: float, advance: Callable, *, max_iter: int, best: float, ref, resolution: float = 0.0
) -> tuple:
    """Run one fit on toward its fixed point in stretches of ``CHUNK`` passes, stopped by
    the rules of this module against the best fixed point reached, ``best`` (its model
    ``ref``; ``-inf`` and None for the leader itself). With a ``resolution`` (log-likelihood
    units), also stopped once :func:`settled`, or when it cannot exceed ``best`` by more.
    Returns the fit and log-likelihood it ended with.

    ``advance(fit, passes)`` runs ``fit`` on for at most ``passes`` passes and returns
    ``(fit, loglik)``, or None when the run failed (it then keeps what it had reached).
    """
    models, passes, logliks = [fit], [fit.n_iter_], [loglik]
    while fit.n_iter_ < max_iter:
        before = fit.n_iter_
        out = advance(fit, min(CHUNK, max_iter - before))
        if out is None or out[0].n_iter_ == before:  # the run failed; it keeps what it had reached
            return fit, loglik
        fit, loglik = out
        models.append(fit)
        passes.append(fit.n_iter_)
        logliks.append(loglik)
        if fit.converged_:
            break
        if resolution > 0 and settled(passes, logliks, max_iter, resolution):
            break
        if out_of_reach(passes, logliks, max_iter, best + resolution):
            break
        if ref is not None and loglik < best and heads_for(models, ref) and no_higher(logliks, best):
            break
    return fit, loglik
