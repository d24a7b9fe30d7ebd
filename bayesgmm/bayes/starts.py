r"""Where the chains start: distinct EM optima of nearly the best log-likelihood.

With as many components as the data support, EM finds one optimum from almost any start.
With more, the likelihood has several optima of nearly equal height -- a redundant
component split off one group or another, or left almost empty -- and the posterior has
mass around each of them. Chains that all start at one optimum can agree with each other
while missing the others; chains started at different optima either meet (and R-hat says
so) or do not (and R-hat says that). :func:`em_optima` runs EM from several
initialisations to its fixed point and keeps the distinct optima whose log-likelihood is
within :data:`LOGLIK_WINDOW` nats of the best (posterior mass ``exp(-window)`` smaller or
more is not worth a chain). A start that stops short of its fixed point (EM creeps along
the flat directions of a redundant component) is still a good place for a chain, so only
the best solution, the reference, must have converged: every start gets
:data:`START_MAX_ITER` accelerated passes, and only the best is then run on to its fixed
point. Above the true K the creeping is where EM spends its time, so this saves running
every start to convergence.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..em import converged_em
from ..exceptions import ConvergenceWarning
from ..gaussian_mixture import GaussianMixture

__all__ = ["LOGLIK_WINDOW", "START_MAX_ITER", "em_optima", "quantile_means"]

LOGLIK_WINDOW = 5.0
#: EM passes (SQUAREM-accelerated) for each start before the best is run to its fixed point.
START_MAX_ITER = 200
_INITS = ("kmeans", "k-means++", "random_from_data")


def _same_optimum(a: GaussianMixture, b: GaussianMixture, X: np.ndarray, scale: np.ndarray) -> bool:
    pa, pb = a.params_.sorted(0), b.params_.sorted(0)
    close_means = np.max(np.abs(pa.means - pb.means) / scale) < 1e-3
    close_weights = np.max(np.abs(pa.weights - pb.weights)) < 1e-3
    return bool(close_means and close_weights)


def em_optima(
    X: np.ndarray,
    n_components: int,
    covariance_type: str = "full",
    *,
    n_init: int = 3,
    random_state: Any = None,
    given: GaussianMixture | None = None,
    window: float = LOGLIK_WINDOW,
) -> list[GaussianMixture]:
    """Distinct EM optima within ``window`` nats of the best, best first; the best (the
    reference, unless ``given``) run to its fixed point, the others for at most
    :data:`START_MAX_ITER` passes.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    n_components : int
    covariance_type : str
    n_init : int, default=3
        EM runs, each from its own initialisation (k-means, then k-means++ and random
        data points in turn, each with its own seed).
    random_state : numpy Generator
    given : GaussianMixture, optional
        A fitted solution that is always kept, first: the reference the draws are
        labelled against. The other optima must be within ``window`` of it.
    window : float, default=LOGLIK_WINDOW
    """
    rng = (
        np.random.default_rng(random_state)
        if not isinstance(random_state, np.random.Generator)
        else random_state
    )
    fits: list[GaussianMixture] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        for i in range(n_init):
            seed = int(rng.integers(2**31 - 1))
            init = _INITS[i % len(_INITS)]
            fits.append(
                converged_em(
                    X,
                    n_components,
                    covariance_type,
                    init_params=init,
                    random_state=seed,
                    standardize=True,
                    max_iter=START_MAX_ITER,
                )
            )
        loglik = {id(f): float(np.sum(f.score_samples(X))) for f in fits}
        ranked = sorted(fits, key=lambda f: -loglik[id(f)])
        if given is None and not ranked[0].converged_:
            ranked[0] = _run_on(X, ranked[0], covariance_type, seed)
            loglik[id(ranked[0])] = float(np.sum(ranked[0].score_samples(X)))
    for w in caught:  # anything else is passed on unchanged
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if given is not None:
        loglik[id(given)] = float(np.sum(given.score_samples(X)))
        ranked = [given, *ranked]
    best = loglik[id(ranked[0])]
    scale = X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    kept: list[GaussianMixture] = []
    for f in ranked:
        if best - loglik[id(f)] > window:
            continue
        if not any(_same_optimum(f, g, X, scale) for g in kept):
            kept.append(f)
    if not kept[0].converged_:
        # a start that stopped short is still a fine place for a chain; the reference is not
        warnings.warn(
            f"The best EM solution ({n_components} components) did not reach its fixed point in "
            f"{kept[0].max_iter} passes; the draws are labelled against it. Check the data or "
            "pass a converged fit as 'em'.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return kept


def _run_on(X: np.ndarray, fit: GaussianMixture, covariance_type: str, seed: int) -> GaussianMixture:
    """EM from where ``fit`` stopped, on to its fixed point."""
    return converged_em(
        X,
        fit.n_components,
        covariance_type,
        weights_init=fit.weights_,
        means_init=fit.means_,
        precisions_init=fit.precisions_,
        random_state=seed,
        standardize=True,
    )


def quantile_means(X: np.ndarray, k: int) -> np.ndarray:
    """Ordered starting means for PyMC's own inits: quantiles along feature 0, data mean elsewhere."""
    means = np.tile(X.mean(axis=0), (k, 1))
    q = np.quantile(X[:, 0], (np.arange(k) + 0.5) / k)
    spread = max(float(np.std(X[:, 0])), 1e-8)
    for j in range(1, k):
        q[j] = max(q[j], q[j - 1] + 1e-3 * spread)
    means[:, 0] = q
    return means
