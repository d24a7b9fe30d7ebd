"""The posterior draws of a mixture as arrays, and what is computed from each draw.

:func:`relabelled_draws` pulls the (chain, draw, ...) arrays out of PyMC's posterior and
relabels them against the EM reference (:mod:`bayesgmm.bayes.relabel`);
:class:`MixtureDraws` then evaluates every draw with the EM half's kernels
(:func:`bayesgmm._kernels.log_prob_resp`): the pointwise log-likelihood for WAIC and LOO,
the label-invariant quantities of the diagnostics, membership probabilities and the
posterior predictive density.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .. import _kernels
from ..params import GMMParams
from ._likelihood import precision_cholesky_from_chol
from .diagnostics import probe_points
from .relabel import permute_components, relabel_draws

__all__ = ["MixtureDraws", "relabelled_draws"]


@dataclass(frozen=True)
class MixtureDraws:
    """Relabelled draws: ``w`` (C, S, K), ``mu`` (C, S, K, d), ``sd`` (C, S, K, d),
    ``cov`` (C, S, K, d, d); ``kind`` "full" or "diag"; ``shift`` the data mean."""

    w: np.ndarray
    mu: np.ndarray
    sd: np.ndarray
    cov: np.ndarray
    kind: str
    shift: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(chains, draws)."""
        return self.w.shape[:2]

    def natural_parameters(self) -> Iterator[tuple[int, int, np.ndarray]]:
        """(chain, draw, W) for every draw, W as in :func:`bayesgmm._kernels.natural_parameters`."""
        if self.kind == "full":
            pcs = precision_cholesky_from_chol(np.linalg.cholesky(self.cov))
        else:
            pcs = 1.0 / self.sd
        C, S = self.shape
        for c in range(C):
            for j in range(S):
                W = _kernels.natural_parameters(self.w[c, j], self.mu[c, j], pcs[c, j], self.kind, self.shift)
                yield c, j, W

    def log_prob_resp(self, X: np.ndarray) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        """(chain, draw, log p(x_i | draw) (n,), log responsibilities (n, K)) for every draw."""
        for c, j, W in self.natural_parameters():
            yield (c, j, *_kernels.log_prob_resp(X, W, self.shift, self.kind))

    def densities(self, X: np.ndarray, *, pointwise: bool = True) -> tuple[np.ndarray | None, dict]:
        """One pass over ``X`` per draw.

        Returns
        -------
        pointwise : array (chains, draws, n_samples) or None
            ``log p(x_i | draw)``; None unless ``pointwise``.
        invariant : dict of name -> array (chains, draws)
            ``log_likelihood`` (the sum over rows) and ``log_density[q]`` at the probe
            points of :func:`bayesgmm.bayes.diagnostics.probe_points`.
        """
        probes = probe_points(X)
        total = np.empty(self.shape)
        at_probes = np.empty(self.shape + (len(probes),))
        ll = np.empty(self.shape + (X.shape[0],)) if pointwise else None
        for c, j, W in self.natural_parameters():
            row = _kernels.log_prob_resp(X, W, self.shift, self.kind)[0]
            total[c, j] = row.sum()
            at_probes[c, j] = _kernels.log_prob_resp(probes, W, self.shift, self.kind)[0]
            if ll is not None:
                ll[c, j] = row
        invariant = {"log_likelihood": total}
        for q in range(len(probes)):
            invariant[f"log_density[{q}]"] = at_probes[..., q]
        return ll, invariant


def relabelled_draws(idata, reference: GMMParams, kind: str, shift: np.ndarray) -> tuple[MixtureDraws, float]:
    """Relabel the posterior of ``idata`` against ``reference``, in place; return its arrays.

    Returns
    -------
    draws : MixtureDraws
    relabelled_fraction : float
        Share of draws whose labels the relabelling changed.
    """
    k, d = reference.means.shape
    post = idata.posterior
    w = post["w"].values
    mu = post["mu"].values
    sd = post["sigma"].values
    one_sd = kind == "diag" and d == 1
    if one_sd:
        sd = sd[..., None]
    perm = relabel_draws(mu, reference)
    fraction = float(np.mean(np.any(perm != np.arange(k), axis=-1)))
    w, mu, sd = (permute_components(a, perm) for a in (w, mu, sd))
    if kind == "full":
        cov = permute_components(post["cov"].values, perm)
        post["cov"].values = cov
    else:
        cov = np.einsum("...kf,fg->...kfg", sd**2, np.eye(d))
    post["w"].values = w
    post["mu"].values = mu
    post["sigma"].values = sd[..., 0] if one_sd else sd
    return MixtureDraws(w, mu, sd, cov, kind, np.asarray(shift, dtype=float)), fraction
