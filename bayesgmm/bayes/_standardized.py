"""Sample on standardised data, report in the data's units.

The Bayesian mixture is sampled on ``z = (x - center) / scale`` (one scale per feature,
:class:`bayesgmm._scaling.Standardizer`) and its draws are mapped back. Nothing about the
posterior changes: every default prior is scaled to the data, and a prior given in x's
units is mapped to z's by :func:`priors_forward`, so the posterior of the map's image is
the image of the posterior (the density picks up a constant Jacobian). What changes is
what the sampler sees: unit-scale coordinates for any unit of measurement, where the
finite-difference observed information, the step size and the mass matrix are well
conditioned. That is what makes the draws of ``a X + b`` those of X mapped through the
map, for a scale ``a`` of 1e-8 as of 1e8.

The log density in ``sample_stats`` (``lp``) stays the sampler's, on z: it differs from
the one on x by a constant, which no diagnostic sees.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._scaling import Standardizer
from . import _arviz
from .model import Priors, initial_values

__all__ = ["posterior_back", "priors_forward", "standardized", "starts_forward"]


def _per_feature(value: Any, d: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float), (d,))


def priors_forward(priors: Priors | None, std: Standardizer) -> Priors:
    """The priors on z equivalent to ``priors`` on x: locations and scales of the means
    and the scales of the standard deviations mapped per feature; the Dirichlet and LKJ
    concentrations unchanged (``None`` defaults stay defaults: they are scaled to the
    data they are resolved on)."""
    p = priors if priors is not None else Priors()
    d = std.center.shape[0]
    s = std.scale

    def scaled(value: Any) -> Any:
        return None if value is None else tuple(_per_feature(value, d) / s)

    loc = None if p.mean_loc is None else tuple((_per_feature(p.mean_loc, d) - std.center) / s)
    return Priors(
        alpha=p.alpha,
        mean_loc=loc,
        mean_scale=scaled(p.mean_scale),
        sd_scale=scaled(p.sd_scale),
        lkj_eta=p.lkj_eta,
    )


def standardized(X: np.ndarray, priors: Priors | None) -> tuple[Standardizer, np.ndarray, Priors]:
    """The map of X (one scale per feature), the standardised data and the priors on them."""
    std = Standardizer.fit(X)
    return std, std.transform(X), priors_forward(priors, std)


def starts_forward(optima: Any, std: Standardizer, covariance_type: str) -> list[dict[str, np.ndarray]]:
    """The chains' starting values on the standardised data, from EM fits in X's units."""
    return [initial_values(std.params_forward(em.params_), covariance_type) for em in optima]


def posterior_back(result: Any, std: Standardizer, n_samples: int) -> np.ndarray | None:
    """Map the posterior (and the data groups) of a sampling result on z to x's units, in
    place: ``mu -> center + scale mu``, ``sigma -> scale sigma``, ``cov -> S cov S`` and
    each packed Cholesky factor's row ``i`` times ``scale[i]`` (``L_x = S L_z``). Returns
    the per-draw log-likelihood totals the sampler recorded (if any) on x: plus
    ``n_samples`` times the Jacobian."""
    idata = result.idata
    s = std.scale
    d = s.shape[0]
    post = _arviz.group(idata, "posterior")
    if "mu" in post:
        post["mu"].values = std.inverse_transform(post["mu"].values)
    if "sigma" in post:
        sd = post["sigma"].values
        post["sigma"].values = sd * (s if sd.ndim >= 4 else s[0])
    if "cov" in post:
        post["cov"].values = post["cov"].values * s[:, None] * s[None, :]
    if "chol" in post:
        rows = np.tril_indices(d)[0]
        post["chol"].values = post["chol"].values * s[rows]
    _arviz.set_group(idata, "posterior", post)
    for group, name in (("constant_data", "x_data"), ("observed_data", "x")):
        data = _arviz.group(idata, group)
        if data is not None and name in data:
            values = data[name].values
            data[name].values = (
                std.inverse_transform(values) if values.ndim == 2 else values * s[0] + std.center[0]
            )
            _arviz.set_group(idata, group, data)
    total = result.log_likelihood
    return None if total is None else total + n_samples * std.log_jacobian
