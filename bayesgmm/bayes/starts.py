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

from .._scaling import Standardizer
from ..em import CONVERGED_TOL, converged_em
from ..exceptions import ConvergenceWarning, DegenerateFitWarning
from ..gaussian_mixture import GaussianMixture
from ..multistart import is_degenerate

__all__ = ["LOGLIK_WINDOW", "START_MAX_ITER", "em_optima", "quantile_means"]

LOGLIK_WINDOW = 5.0
#: EM passes (SQUAREM-accelerated) for each start before the best is run to its fixed point.
START_MAX_ITER = 200
#: Most plain EM passes, and passes between checks for a collapse, when a start run on
#: with acceleration collapsed.
PLAIN_MAX_ITER = 10000
PLAIN_CHUNK = 250
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

    A fit with a collapsed component (:func:`bayesgmm.multistart.is_degenerate`, judged on
    the standardised data the fits ran on) ranks below every fit without one, whatever its
    log-likelihood: that likelihood is an artefact of ``reg_covar``, and a chain started on
    a single point sits in a spike of the posterior. The best start is run on to its fixed
    point; when that collapses, the next best is, until one reaches a fixed point without a
    collapsed component. Collapsed fits are kept only when no start avoids collapse; when
    every start's fixed point collapsed, the reference is the best start before it
    collapsed (not at a fixed point). Either case says so with a
    :class:`~bayesgmm.exceptions.DegenerateFitWarning` (the data may not support
    ``n_components`` components). The warnings of the single starts (stopped short,
    collapsed) are not passed on: what they say is judged here, of the kept fits; any
    other warning is passed on unchanged.

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
    std = Standardizer.fit(X, isotropic=covariance_type == "spherical")

    def collapsed(f: GaussianMixture) -> bool:
        cov = std.params_forward(f.params_).covariances
        return is_degenerate(cov, covariance_type, f.reg_covar)

    fits: list[GaussianMixture] = []
    quiet = (ConvergenceWarning, DegenerateFitWarning)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("always", DegenerateFitWarning)
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
        by_loglik = sorted(fits, key=lambda f: -loglik[id(f)])
        regular = [f for f in by_loglik if not collapsed(f)]
        degenerate = [f for f in by_loglik if collapsed(f)]
        stalled = False  # every start without a collapsed component collapsed when run on
        if given is None and regular:
            n_regular = len(regular)
            regular, reached = _run_best_on(X, regular, covariance_type, seed, collapsed, std)
            stalled = len(reached) == n_regular
            loglik.update({id(f): float(np.sum(f.score_samples(X))) for f in regular + reached})
            degenerate += reached
    for w in caught:  # anything else is passed on unchanged
        if not issubclass(w.category, quiet):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if given is not None:
        loglik[id(given)] = float(np.sum(given.score_samples(X)))
        ranked = [given, *regular]  # a given fit is a fine start: no collapsed ones beside it
    else:
        ranked = regular or sorted(degenerate, key=lambda f: -loglik[id(f)])
    best = loglik[id(ranked[0])]
    scale = X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    kept: list[GaussianMixture] = []
    for f in ranked:
        if best - loglik[id(f)] > window:
            continue
        if not any(_same_optimum(f, g, X, scale) for g in kept):
            kept.append(f)
    advice = "The data may not support this many components: use fewer, or pass a fit as 'em'."
    if given is None and not regular:
        warnings.warn(
            f"Every EM start ({n_components} components) collapsed a component onto a single "
            "point or a subspace, where its likelihood is an artefact of reg_covar; the chains "
            f"start from, and the draws are labelled against, such a fit. {advice}",
            DegenerateFitWarning,
            stacklevel=3,
        )
    elif stalled:
        warnings.warn(
            f"Run on to its fixed point, EM from every start ({n_components} components) "
            "collapsed a component onto a single point or a subspace, where its likelihood is "
            "an artefact of reg_covar; the draws are labelled against the best start before it "
            f"collapsed ({kept[0].n_iter_} passes). {advice}",
            DegenerateFitWarning,
            stacklevel=3,
        )
    elif not kept[0].converged_:
        # a start that stopped short is still a fine place for a chain; the reference is not
        warnings.warn(
            f"The best EM solution ({n_components} components) did not reach its fixed point in "
            f"{kept[0].max_iter} passes; the draws are labelled against it. Check the data or "
            "pass a converged fit as 'em'.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return kept


def _run_best_on(X, regular, covariance_type, seed, collapsed, std):
    """``regular`` (fits without a collapsed component, best first) with, first, the best
    fixed point without one: each start that stopped short is run on, best first, until one
    reaches such a fixed point (or a start already is one). Returns that list, without the
    starts that collapsed when run on, and the collapsed fixed points those reached. When
    every start collapsed, ``regular`` comes back unchanged (no fit at a fixed point).

    A start is run on with SQUAREM-accelerated EM and, when that collapses, again with plain
    EM: an extrapolated step can leap from the basin of an optimum into a collapse of higher
    (artefactual) likelihood, where each plain pass stays in the basin it starts in."""
    reached: list[GaussianMixture] = []
    for i, f in enumerate(regular):
        if f.converged_:
            return [f, *regular[i + 1 :]], reached
        g = _run_on(X, f, covariance_type, seed)
        if collapsed(g):
            g = _run_on_plain(X, f, covariance_type, seed, std)
        if not collapsed(g):
            return [g, *regular[i + 1 :]], reached
        reached.append(g)
    return regular, reached


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


def _run_on_plain(X, fit, covariance_type, seed, std):
    """:func:`_run_on` without acceleration, on the data standardised by ``std`` (as
    :func:`bayesgmm.em.converged_em` standardises them), in stretches of
    :data:`PLAIN_CHUNK` passes: it stops at the fixed point, or as soon as a component has
    collapsed (a collapse creeps to its fixed point for thousands of passes)."""
    Z = std.transform(X)
    weights, means = fit.weights_, std.transform(fit.means_)
    # a precision maps like a covariance under the inverse map: S P S
    precisions = std.covariances_back(fit.precisions_, covariance_type)
    n_iter = 0
    while True:
        gm = GaussianMixture(
            fit.n_components,
            covariance_type=covariance_type,
            tol=CONVERGED_TOL,
            max_iter=min(PLAIN_CHUNK, PLAIN_MAX_ITER - n_iter),
            weights_init=weights,
            means_init=means,
            precisions_init=precisions,
            random_state=seed,
            accelerate=False,
        ).fit(Z)
        n_iter += gm.n_iter_
        if (
            gm.converged_
            or n_iter >= PLAIN_MAX_ITER
            or is_degenerate(gm.covariances_, covariance_type, gm.reg_covar)
        ):
            gm.n_iter_ = n_iter
            return std.model_back(gm)
        weights, means, precisions = gm.weights_, gm.means_, gm.precisions_


def quantile_means(X: np.ndarray, k: int) -> np.ndarray:
    """Ordered starting means for PyMC's own inits: quantiles along feature 0, data mean elsewhere."""
    means = np.tile(X.mean(axis=0), (k, 1))
    q = np.quantile(X[:, 0], (np.arange(k) + 0.5) / k)
    spread = max(float(np.std(X[:, 0])), 1e-8)
    for j in range(1, k):
        q[j] = max(q[j], q[j - 1] + 1e-3 * spread)
    means[:, 0] = q
    return means
