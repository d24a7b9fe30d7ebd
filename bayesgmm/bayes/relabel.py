"""Label switching: post-hoc relabelling of posterior draws against a reference.

The model (:func:`bayesgmm.bayes.model.build_model`) already identifies the components
by ordering their means along the first feature, so its draws never swap labels by
symmetry. That order is not always the one a reader expects: when components overlap
along feature 0, a draw can order two components differently from the EM solution
(sorted along the same feature), and per-component summaries would then mix them.
:class:`~bayesgmm.bayes.sampling.BayesianGaussianMixture` therefore relabels every draw
against the converged EM solution, with the permutation that minimises a standardised
distance between the draw's means and the reference means (an assignment problem,
solved exactly by :func:`scipy.optimize.linear_sum_assignment`). With well separated
components the permutation is the identity for every draw and nothing changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..params import GMMParams

__all__ = ["permute_components", "relabel_draws"]


def _reference(reference: Any, scale: Any):
    if isinstance(reference, GMMParams):
        ref = np.asarray(reference.means, dtype=float)
        if scale is None:
            full = reference.covariances_full()
            scale = np.sqrt(np.diagonal(full, axis1=1, axis2=2))
    else:
        ref = np.asarray(reference, dtype=float)
        if ref.ndim == 1:
            ref = ref[:, None]
        if ref.ndim != 2:
            raise ValueError(
                f"reference must be a GMMParams or an array of shape (n_components, n_features). "
                f"Got shape {ref.shape}."
            )
        if scale is None:
            scale = ref.std(axis=0) if ref.shape[0] > 1 else np.ones(ref.shape[1])
            scale = np.where(scale > 0, scale, 1.0)
    scale = np.broadcast_to(np.asarray(scale, dtype=float), ref.shape)
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise ValueError("scale must be positive and finite.")
    return ref, scale


def relabel_draws(means: Any, reference: Any, *, scale: Any = None) -> np.ndarray:
    """The permutation of each draw's components that best matches a reference.

    For every draw, ``perm`` minimises ``sum_k sum_f ((means[perm[k], f] - ref[k, f]) /
    scale[k, f])^2`` over all permutations (``linear_sum_assignment``).

    Parameters
    ----------
    means : array of shape (..., n_components, n_features) or (..., n_components)
        Component means of each draw (leading axes, e.g. (chain, draw), are kept).
    reference : GMMParams or array of shape (n_components, n_features)
        The labelling to match, e.g. the EM solution sorted along feature 0.
    scale : array broadcastable to (n_components, n_features), optional
        Standardisation of the distance. Default: the reference components' standard
        deviations for a ``GMMParams`` (a per-component, per-feature z-score), else the
        spread of the reference means per feature.

    Returns
    -------
    perm : int array of shape (..., n_components)
        ``perm[..., k]`` is the draw's component that becomes component ``k``; apply it
        with :func:`permute_components`.
    """
    ref, sc = _reference(reference, scale)
    k, d = ref.shape
    m = np.asarray(means, dtype=float)
    if d == 1 and (m.ndim == 1 or m.shape[-2:] != (k, 1)):  # (..., K) for one feature
        m = m[..., None]
    if m.shape[-2:] != (k, d):
        raise ValueError(f"means must end in shape ({k}, {d}) to match the reference. Got shape {m.shape}.")
    lead = m.shape[:-2]
    flat = m.reshape(-1, k, d)
    # cost[s, j, i]: reference component j against draw component i
    cost = np.sum(((flat[:, None, :, :] - ref[None, :, None, :]) / sc[None, :, None, :]) ** 2, axis=-1)
    perms = np.empty((flat.shape[0], k), dtype=np.intp)
    identity = np.arange(k)
    for s in range(flat.shape[0]):
        c = cost[s]
        # fast path: each reference component's nearest draw component is distinct
        nearest = np.argmin(c, axis=1)
        if np.array_equal(np.sort(nearest), identity):
            perms[s] = nearest
            continue
        rows, cols = linear_sum_assignment(c)
        perms[s, rows] = cols
    return perms.reshape(*lead, k)


def permute_components(values: Any, perm: np.ndarray) -> np.ndarray:
    """Reorder the component axis of per-draw arrays: ``out[..., k, ...] = values[..., perm[..., k], ...]``.

    Parameters
    ----------
    values : array of shape (*lead, n_components, *rest)
        The component axis follows the leading axes of ``perm``.
    perm : int array of shape (*lead, n_components)
    """
    values = np.asarray(values)
    perm = np.asarray(perm)
    axis = perm.ndim - 1
    if values.shape[: perm.ndim] != perm.shape:
        raise ValueError(
            f"values of shape {values.shape} do not start with the permutation's shape {perm.shape}."
        )
    idx = perm.reshape(perm.shape + (1,) * (values.ndim - perm.ndim))
    return np.take_along_axis(values, idx, axis=axis)
