"""The posterior draws of a mixture as arrays, and what is computed from each draw.

:func:`relabelled_draws` pulls the (chain, draw, ...) arrays out of PyMC's posterior and
relabels them against the EM reference (:mod:`bayesgmm.bayes.relabel`);
:class:`MixtureDraws` then evaluates every draw: the pointwise log-likelihood for WAIC and
LOO and the total log-likelihood per draw (:meth:`MixtureDraws.log_likelihood`, compiled
with numba when it is installed: one sweep over the rows for all draws, no n x K array),
the log densities at the diagnostics' probe points, membership probabilities and the
posterior predictive density (the EM half's :func:`bayesgmm._kernels.log_prob_resp`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .. import _kernels
from ..params import GMMParams
from . import _arviz
from ._likelihood import precision_cholesky_from_chol
from ._progress import compile_notice
from .diagnostics import probe_points
from .relabel import permute_components, relabel_draws

__all__ = ["MixtureDraws", "invariant_quantities", "relabelled_draws"]


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

    def natural_parameter_stack(self) -> np.ndarray:
        """W of every draw, shape (chains * draws, F, K), chain by chain."""
        return np.stack([W for _, _, W in self.natural_parameters()])

    def log_likelihood(
        self, X: np.ndarray, *, pointwise: bool = True, backend: str = "auto", threads: int | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The total log-likelihood of every draw and, if ``pointwise``, its terms.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        pointwise : bool, default=True
            Also return ``log p(x_i | draw)`` for every row and draw.
        backend : {"auto", "numba", "numpy"}
            "numba" (the default "auto" when numba is installed): one compiled sweep over
            the rows for a block of draws at a time, on ``threads`` threads (default: every
            CPU; the result does not depend on it); "numpy": one chunked pass per draw.

        Returns
        -------
        total : array of shape (chains, draws)
            ``sum_i log p(x_i | draw)``.
        pointwise : array of shape (chains, draws, n_samples) or None
        """
        X = np.ascontiguousarray(X, dtype=np.float64)
        C, S = self.shape
        n = X.shape[0]
        if _kernels.resolve_backend(backend) == "numpy":
            total = np.empty((C, S))
            ll = np.empty((C, S, n)) if pointwise else None
            for c, j, W in self.natural_parameters():
                row = _kernels.log_prob_resp(X, W, self.shift, self.kind)[0]
                total[c, j] = row.sum()
                if ll is not None:
                    ll[c, j] = row
            return total, ll
        from ._pointwise_numba import loglik_rows

        Ws = self.natural_parameter_stack()
        D = Ws.shape[0]
        total = np.empty(D)
        out = np.empty((D, n)) if pointwise else np.empty((0, 0))
        fullq = _kernels.full_quad(self.kind)
        with compile_notice("the pointwise log-likelihood kernel"):
            # one draw on one row: numba compiles (or loads) the kernel for these types here
            loglik_rows(X[:1], self.shift, Ws[:1], fullq, np.empty((0, 0)), np.empty(1), 0, 1)
        nt = max(1, min(threads or _kernels.default_threads(), D))
        bounds = np.linspace(0, D, nt + 1).astype(int)
        if nt == 1:
            loglik_rows(X, self.shift, Ws, fullq, out, total, 0, D)
        else:
            pool = _kernels._thread_pool(nt)
            jobs = [
                pool.submit(loglik_rows, X, self.shift, Ws, fullq, out, total, lo, hi)
                for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
            ]
            for job in jobs:
                job.result()
        return total.reshape(C, S), out.reshape(C, S, n) if pointwise else None

    def probe_log_densities(self, probes: np.ndarray) -> dict[str, np.ndarray]:
        """``log_density[q]``: log p(probe_q | draw), (chains, draws) each, for a few points."""
        Ws = self.natural_parameter_stack()
        phi = _kernels.features(np.asarray(probes, dtype=float), self.shift, self.kind)
        L = np.einsum("qf,dfk->dqk", phi, Ws)
        mx = L.max(axis=2, keepdims=True)
        dens = (mx + np.log(np.exp(L - mx).sum(axis=2, keepdims=True)))[..., 0]
        dens = dens.reshape(self.shape + (len(probes),))
        return {f"log_density[{q}]": dens[..., q] for q in range(len(probes))}


def invariant_quantities(
    draws: MixtureDraws, X: np.ndarray, total: np.ndarray | None, idata, *, threads: int | None = None
) -> dict[str, np.ndarray]:
    """The label-invariant quantities of :mod:`bayesgmm.bayes.diagnostics`, (chain, draw) each.

    ``log_likelihood``: ``total`` when the sampler computed it with each draw, else one
    compiled pass per draw (:meth:`MixtureDraws.log_likelihood`, not pointwise); ``lp``
    from ``idata.sample_stats`` when recorded; ``log_density[q]`` at the probe points.
    """
    if total is None:
        total, _ = draws.log_likelihood(X, pointwise=False, threads=threads)
    invariant = {"log_likelihood": total}
    stats = _arviz.group(idata, "sample_stats")
    if stats is not None and "lp" in stats:
        invariant["lp"] = stats["lp"].values
    invariant.update(draws.probe_log_densities(probe_points(X)))
    return invariant


def relabelled_draws(idata, reference: GMMParams, kind: str, shift: np.ndarray) -> tuple[MixtureDraws, float]:
    """Relabel the posterior of ``idata`` against ``reference``, in place; return its arrays.

    Returns
    -------
    draws : MixtureDraws
    relabelled_fraction : float
        Share of draws whose labels the relabelling changed.
    """
    k, d = reference.means.shape
    post = _arviz.group(idata, "posterior")
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
    _arviz.set_group(idata, "posterior", post)
    return MixtureDraws(w, mu, sd, cov, kind, np.asarray(shift, dtype=float)), fraction
