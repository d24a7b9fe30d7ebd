r"""The hierarchical covariance prior of the Gibbs sampler (:mod:`bayesgmm.bayes.gibbs`).

Malsiner-Walli, Fruehwirth-Schnatter & Gruen (2016), following Richardson & Green (1997),
put on each component's precision a Wishart prior whose scale is itself unknown, and on the
means a Normal prior as wide as the data's range:

- ``Sigma_k^-1 | C0 ~ W(c0, C0)`` and ``C0 ~ W(g0, G0)``, with ``c0 = 2.5 + (r - 1) / 2``,
  ``g0 = 0.5 + (r - 1) / 2`` and ``G0 = (100 g0 / c0) diag(1 / R_j^2)``, ``R_j`` the range
  of feature ``j`` and ``r`` the dimension of one covariance (the number of features for
  ``"full"``; 1 for each feature of ``"diag"``, where the Wishart is a Gamma on each
  precision and the hyper-prior a Gamma on its rate);
- ``mu_k ~ N(b0, B0)`` with ``B0 = diag(R_j^2)`` and ``b0`` the midpoint of the data's
  range (Richardson & Green's centre).

``W(a, B)`` is read in Fruehwirth-Schnatter's (2006) convention, the one this module
uses: the density of ``Q`` is proportional to ``|Q|^(a - (r + 1) / 2) exp(-tr(B Q))`` and
``E(Q) = a B^-1`` (``B`` a rate). In the usual convention ``W(a, B)`` is the Wishart with ``2a`` degrees of freedom
and scale matrix ``(2B)^-1``, so ``Sigma_k | C0 ~ InverseWishart(2 c0, 2 C0)``: the
sampler's inverse-Wishart step with ``iw_df = 2 c0 = r + 4`` and ``iw_scale = 2 C0``.
Given the covariances of all ``K`` components (the empty ones included, drawn from the
prior), ``C0`` is conjugate:

    C0 | Sigma_1..K ~ W(g0 + K c0, G0 + sum_k Sigma_k^-1),

one more Gibbs step per sweep. The scale of the covariances is learnt from the components
themselves, so the prior does not have to guess it from the data's overall spread; and the
wide mean prior charges an extra component a larger Occam factor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["data_range", "hierarchical_hyper"]

#: c0 = C0_BASE + (r - 1) / 2, g0 = G0_BASE + (r - 1) / 2, G0 = G0_FACTOR g0 / c0 diag(1 / R^2).
C0_BASE = 2.5
G0_BASE = 0.5
G0_FACTOR = 100.0


def data_range(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's midpoint and range (a range of 0 counted as 1, as
    :class:`~bayesgmm.bayes.model.Priors` does with a standard deviation): Richardson &
    Green's centre and width, which the priors of Malsiner-Walli et al. are built from."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    return (lo + hi) / 2.0, np.where(hi > lo, hi - lo, 1.0).astype(float)


def hierarchical_hyper(priors: Any, X: np.ndarray, kind: str) -> dict[str, Any]:
    """The hyper-parameters of the hierarchical prior for data ``X`` (n, d): ``iw_df`` (2 c0),
    the starting ``iw_scale`` (2 E[C0]), ``hier_g0`` and the rate matrix ``hier_G0`` (d, d;
    diagonal), and -- unless ``priors`` sets them -- ``mean_loc`` (the midpoint of each
    feature's range) and ``mean_scale`` (the range). A feature with a range of 0 is given
    a range of 1, as :class:`~bayesgmm.bayes.model.Priors` does with a standard deviation."""
    d = X.shape[1]
    r = d if kind == "full" else 1
    c0 = C0_BASE + (r - 1) / 2.0
    g0 = G0_BASE + (r - 1) / 2.0
    mid, span = data_range(X)
    rate = np.diag(G0_FACTOR * g0 / c0 / span**2)
    out: dict[str, Any] = {
        "iw_df": 2.0 * c0,
        "iw_scale": 2.0 * g0 * np.diag(1.0 / np.diagonal(rate)),
        "hier_g0": g0,
        "hier_G0": rate,
    }
    if priors.mean_loc is None:
        out["mean_loc"] = mid
    if priors.mean_scale is None:
        out["mean_scale"] = span
    return out
