"""EM to the best optimum it can find: many deterministic starts, on standardised data.

EM climbs to the optimum its start leads to, and on mixtures with unbalanced, nested or
small components different starts lead to different optima. :func:`best_em` runs, for one
(K, covariance type):

- the model-based hierarchical start (:mod:`bayesgmm.hierarchical`, as in mclust),
- k-means starts (Lloyd's algorithm from a k-means++ seeding),
- k-means++ starts (means at the k-means++ centres, as scikit-learn's
  ``init_params="k-means++"``), and starts from random data points,
- any further starts the caller has (:func:`bayesgmm.criteria.select` adds the fits of the
  other covariance types at the same K and splits of the K - 1 fit),

each for ``screen_passes`` accelerated EM passes; the starts within ``SCREEN_MARGIN`` of
the best then run to the fixed point (:data:`bayesgmm.em.CONVERGED_TOL`), and the best is
kept. (Cutting the field after a few passes instead, as em-EM does, was tried and lost
the eventual winner on over-fitted K, where the best optimum climbs slowly at first.)
Every seed derives from ``random_state`` (None means a fixed seed), K and the covariance
type, so the same call always gives the same fit.

The fit runs on the data standardised by :class:`bayesgmm._scaling.Standardizer` (one
scale per feature; one common scale for a spherical model) and is mapped back exactly, so
``reg_covar`` is relative to each feature's variance and the fit of ``a X + b`` is the fit
of X mapped through the same affine map.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import exceptions
from ._creep import run_best_first
from ._kernels import numba_available
from ._scaling import Standardizer
from ._validation import COVARIANCE_TYPES, check_int, check_option, check_real, check_X
from .covariance import compute_precision_cholesky, precisions_from_cholesky
from .em import converged_em, m_step
from .gaussian_mixture import GaussianMixture
from .hierarchical import MergeTree, merge_tree
from .params import GMMParams

__all__ = ["EMFit", "best_em", "convert_params", "is_degenerate", "split_params", "start_seed"]

N_KMEANS = 2
N_KPP = 8
N_RANDOM = 8
SCREEN_PASSES = 200
SCREEN_SAMPLES = 2000
N_FINALISTS = 3
FINAL_PASSES = 300
N_FULL = 3
DEGENERATE_FACTOR = 10.0
SCREEN_MARGIN = 2.0
DEFAULT_SEED = 0
RTOL_BEST = 1e-7
ATOL_BEST = 1e-6
NUMBA_MIN_ROWS = 5000
LOOSE_TOL = 1e-8


@dataclass(frozen=True)
class EMFit:
    """The best of several EM runs for one (K, covariance type).

    Attributes
    ----------
    model : GaussianMixture
        The fitted model, in the units of the data it was given.
    loglik : float
        Its total log-likelihood on that data (nan when every start failed).
    start_names : tuple of str
        The starts tried, in order (``"hierarchical"``, ``"kmeans-<i>"``, ``"em-EM"``).
    start_logliks : tuple of float
        The converged total log-likelihood of each (nan where the fit failed).
    error : str
        The first failure's message when every start failed; empty otherwise.
    degenerate : bool
        Whether the fit has a collapsed component (:func:`is_degenerate`): chosen only
        when every fit that ran to the end had one. Otherwise the best fit without one
        is kept, even when a collapsed fit has a higher (artefactual) likelihood.
    """

    model: GaussianMixture | None
    loglik: float
    start_names: tuple[str, ...]
    start_logliks: tuple[float, ...]
    error: str = ""
    degenerate: bool = False

    @property
    def n_starts(self) -> int:
        return len(self.start_names)

    @property
    def n_best(self) -> int:
        """How many starts reached the winning log-likelihood (relative 1e-7, absolute 1e-6)."""
        ll = np.asarray(self.start_logliks)
        if not np.isfinite(self.loglik):
            return 0
        return int(np.sum(np.isclose(ll, self.loglik, rtol=RTOL_BEST, atol=ATOL_BEST)))


def start_seed(random_state: Any, n_components: int, covariance_type: str) -> np.random.SeedSequence:
    """The seed sequence of one (K, covariance type): None means a fixed seed; an int is
    used as is; a Generator gives one draw (so the same Generator state gives the same
    fits)."""
    if random_state is None:
        entropy = DEFAULT_SEED
    elif isinstance(random_state, np.random.Generator):
        entropy = int(random_state.integers(2**63 - 1))
    elif isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        entropy = int(random_state)
    else:
        raise ValueError(
            f"random_state must be None, an int or a numpy Generator. Got {type(random_state).__name__}."
        )
    return np.random.SeedSequence(entropy, spawn_key=(n_components, COVARIANCE_TYPES.index(covariance_type)))


@contextmanager
def _quiet():
    """The runs here stop early on purpose and may collapse on purpose-free starts;
    whether the kept fit converged or collapsed is reported by the caller
    (``converged_``, :attr:`EMFit.degenerate`)."""
    with warnings.catch_warnings():
        for name in ("ConvergenceWarning", "DegenerateFitWarning", "ScaleWarning"):
            category = getattr(exceptions, name, None)
            if category is not None:
                warnings.simplefilter("ignore", category)
        yield


def _fit(Z, k, ct, reg_covar, max_iter, tol, seed, init=None):
    """EM on Z from ``init`` = (weights, means, covariances) or, without it, from
    scikit-learn-style ``init_params`` given as a string. From ``NUMBA_MIN_ROWS`` rows the
    compiled pass runs (when numba is installed), below them the numpy pass."""
    engine = "auto" if Z.shape[0] >= NUMBA_MIN_ROWS and numba_available() else "numpy"
    engine = "numba" if engine == "auto" else engine
    kw: dict[str, Any] = {"init_params": "kmeans"}
    if isinstance(init, str):
        kw = {"init_params": init}
    elif init is not None:
        w, m, cov = init
        pc = compute_precision_cholesky(cov, ct)
        kw = {"weights_init": w, "means_init": m, "precisions_init": precisions_from_cholesky(pc, ct)}
    if tol is None:
        return converged_em(
            Z, k, ct, reg_covar=reg_covar, random_state=seed, max_iter=max_iter, engine=engine, **kw
        )
    # a screening fit by name (same shape as compare_models building its sampler)
    gm = GaussianMixture(
        k,
        covariance_type=ct,
        tol=tol,
        max_iter=max_iter,
        reg_covar=reg_covar,
        random_state=seed,
        accelerate=True,
        engine=engine,
        **kw,
    )
    return gm.fit(Z)


def is_degenerate(covariances: Any, covariance_type: str, reg_covar: float) -> bool:
    """Whether a component has collapsed: its smallest variance (covariances of the data
    as fitted, in scikit-learn's shapes) is within ``DEGENERATE_FACTOR`` of ``reg_covar``,
    the floor that alone keeps its likelihood finite (e.g. one point, or two points in
    two dimensions). Such an optimum's likelihood grows without bound as ``reg_covar``
    shrinks: an artefact, not a fit."""
    c = np.asarray(covariances, dtype=float)
    if covariance_type in ("full", "tied"):
        low = np.linalg.eigvalsh(c.reshape(-1, c.shape[-1], c.shape[-1])).min()
    else:
        low = c.min()
    return bool(low <= DEGENERATE_FACTOR * reg_covar)


def _ordered(gm: GaussianMixture) -> GaussianMixture:
    """The fitted model with its components in lexicographic order of their means (on the
    standardised data), so that equal optima reached from different starts read the same."""
    order = np.lexsort(gm.means_.T[::-1])
    if np.array_equal(order, np.arange(len(order))):
        return gm
    gm.weights_ = gm.weights_[order]
    gm.means_ = gm.means_[order]
    if gm.covariance_type != "tied":
        gm.covariances_ = gm.covariances_[order]
        gm.precisions_cholesky_ = gm.precisions_cholesky_[order]
        gm.precisions_ = gm.precisions_[order]
    return gm


def _subset(n: int, size: int) -> np.ndarray | None:
    """A fixed subset of ``size`` rows (sorted) when n is larger; None otherwise."""
    if n <= size:
        return None
    return np.sort(np.random.default_rng(DEFAULT_SEED).choice(n, size=size, replace=False))


def _labels_start(Z, labels, k, ct, reg_covar):
    resp = np.zeros((Z.shape[0], k))
    resp[np.arange(Z.shape[0]), labels] = 1.0
    return m_step(Z, resp, ct, reg_covar)


def convert_params(params: GMMParams, covariance_type: str) -> GMMParams:
    """The nearest mixture of another covariance type: the diagonal of each covariance for
    "diag", its mean for "spherical", the weight-averaged covariance for "tied" (a start
    for EM, not an estimate)."""
    full = params.covariances_full()
    d = params.n_features
    cov = {
        "full": full,
        "tied": np.einsum("k,kij->ij", params.weights, full),
        "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
        "spherical": np.diagonal(full, axis1=1, axis2=2).mean(axis=1) if d else full[:, 0, 0],
    }[covariance_type]
    return GMMParams(params.weights, params.means, cov, covariance_type)


def split_params(params: GMMParams, distance: float = 0.5) -> list[GMMParams]:
    """K + 1 component starts from a K-component fit: component j replaced by two halves
    placed ``distance`` standard deviations either side of its mean along its widest axis."""
    full = params.covariances_full()
    out = []
    for j in range(params.n_components):
        vals, vecs = np.linalg.eigh(full[j])
        step = distance * np.sqrt(max(vals[-1], 0.0)) * vecs[:, -1]
        means = np.vstack([params.means, params.means[j] + step])
        means[j] = params.means[j] - step
        weights = np.append(params.weights, params.weights[j] / 2)
        weights[j] /= 2
        cov = params.covariances
        if params.covariance_type != "tied":
            cov = np.concatenate([cov, cov[j : j + 1]])
        out.append(GMMParams(weights, means, cov, params.covariance_type))
    return out


def best_em(
    X: Any,
    n_components: int,
    covariance_type: str = "full",
    *,
    reg_covar: float = 1e-6,
    random_state: Any = None,
    n_kmeans: int = N_KMEANS,
    # the knobs of the search, one keyword each (same shape as GaussianMixture.__init__)
    n_kpp: int = N_KPP,
    n_random: int = N_RANDOM,
    screen_passes: int = SCREEN_PASSES,
    screen_samples: int = SCREEN_SAMPLES,
    n_finalists: int = N_FINALISTS,
    max_iter: int = 10000,
    tol: float | None = None,
    extra_starts: Sequence[tuple[str, GMMParams]] = (),
    tree: MergeTree | None = None,
) -> EMFit:
    """EM from several deterministic starts on standardised X; the best fit, mapped back.

    Every start is first run for ``screen_passes`` accelerated passes (on at most
    ``screen_samples`` rows); the ``n_finalists`` best, those within ``SCREEN_MARGIN``
    (log-likelihood units) of the best, the hierarchical start and the best split then
    run on: on all rows, for ``FINAL_PASSES`` and the leaders to the fixed point; or, for
    large n, to the fixed point on the subset, and the ``N_FULL`` best of these (and the
    hierarchical start) on all rows: first to ``LOOSE_TOL``, then to the fixed point, except
    those stopped more than ``SCREEN_MARGIN`` below the best fixed point already reached.
    That stage runs best first and, on all rows screened, a run creeping toward an optimum
    it cannot win, or toward the best one reached, is stopped (:mod:`bayesgmm._creep`).
    The best is kept.
    From ``NUMBA_MIN_ROWS`` rows the passes run in the compiled kernel (with numba).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance of the standardised data, i.e.
        ``reg_covar`` times each feature's variance in X's units.
    random_state : None, int or numpy Generator, default=None
        None is a fixed seed: the same X always gives the same fit.
    n_kmeans, n_kpp : int
        Starts from k-means (Lloyd's algorithm) and from k-means++ centres.
    n_random : int
        Starts with means at random data points (``init_params="random_from_data"``).
    screen_passes, max_iter : int
        Passes of the screen, and at most in the final run, per start.
    screen_samples : int, default=2000
        For larger n the screen runs on a fixed subset of this many rows, and the
        finalists then run on all rows.
    n_finalists : int, default=3
        Starts run to the fixed point at least (the best of the screen), on top of those
        within ``SCREEN_MARGIN`` of the best.
    tol : float, optional
        None (default): run to the fixed point (:data:`bayesgmm.em.CONVERGED_TOL`).
        Otherwise stop when a SQUAREM cycle changes the mean log-likelihood by less.
    extra_starts : sequence of (name, GMMParams)
        Further starts in X's units, converted to ``covariance_type`` by
        :func:`convert_params` (e.g. the fit of another covariance type, or a split of a
        K - 1 fit by :func:`split_params`).
    tree : MergeTree, optional
        The hierarchical merge tree of X (:func:`bayesgmm.hierarchical.merge_tree`), to
        share one tree between several calls; grown here when not given.

    Returns
    -------
    EMFit
        ``.model`` is a fitted :class:`~bayesgmm.gaussian_mixture.GaussianMixture` in X's units
        (``None`` when every start failed, with the reason in ``.error``).
    """
    X = check_X(X)
    k = check_int(n_components, "n_components")
    ct = check_option(covariance_type, "covariance_type", COVARIANCE_TYPES)
    check_real(reg_covar, "reg_covar")
    for value, name in ((n_kmeans, "n_kmeans"), (n_kpp, "n_kpp"), (n_random, "n_random")):
        check_int(value, name, minimum=0)
    check_int(screen_passes, "screen_passes")
    check_int(screen_samples, "screen_samples", minimum=2)
    check_int(n_finalists, "n_finalists")
    check_int(max_iter, "max_iter")
    if tol is not None:
        check_real(tol, "tol")
    n = X.shape[0]
    if k > n:
        raise ValueError(
            f"The 'n_components' parameter must be at most the number of samples ({n}). Got {k} instead."
        )
    seeds = [int(v) for v in start_seed(random_state, k, ct).generate_state(n_kmeans + n_kpp + n_random + 1)]
    std = Standardizer.fit(X, isotropic=ct == "spherical")
    Z = std.transform(X)

    starts: list[tuple[str, Any]] = []
    if k == 1:  # one optimum, in closed form
        starts.append(("one-component", _labels_start(Z, np.zeros(n, dtype=int), 1, ct, reg_covar)))
    else:
        if tree is None:
            tree = merge_tree(X)
        starts.append(("hierarchical", _labels_start(Z, tree.labels(X, k), k, ct, reg_covar)))
        starts += [(f"kmeans-{i}", "kmeans") for i in range(n_kmeans)]
        starts += [(f"k-means++-{i}", "k-means++") for i in range(n_kpp)]
        starts += [(f"random-{i}", "random_from_data") for i in range(n_random)]
        for name, params in extra_starts:
            p = std.params_forward(convert_params(params, ct))
            starts.append((name, (p.weights, p.means, p.covariances)))

    names = [name for name, _ in starts]
    fits: list[Any] = [None] * len(starts)
    lls = np.full(len(starts), np.nan)
    error = ""
    sub = _subset(n, screen_samples)
    Zs = Z if sub is None else Z[sub]

    def run(i, data, init, passes, add_passes, run_tol=tol):
        nonlocal error
        prev = fits[i]
        if init is None:
            init = (prev.weights_, prev.means_, prev.covariances_)
        try:
            gm = _fit(data, k, ct, reg_covar, passes, run_tol, seeds[min(i, len(seeds) - 1)], init)
            ll = float(np.sum(gm.score_samples(data)))
        except ValueError as exc:  # a collapsed component: keep what the start had reached
            error = error or f"{names[i]}: {exc}"
            return
        if add_passes:
            gm.n_iter_ += prev.n_iter_
        fits[i], lls[i] = gm, ll if np.isfinite(ll) else np.nan

    def finish(order, margin=np.inf, watch=True):  # best first (bayesgmm._creep)
        usable = lambda i: not is_degenerate(fits[i].covariances_, ct, reg_covar)  # noqa: E731
        advance = lambda i, passes: run(i, Z, None, passes, True)  # noqa: E731
        run_best_first(order, fits, lls, advance, usable, max_iter=max_iter, margin=margin, watch=watch)

    with _quiet():
        # every start to the screen (on a subset of rows for large n)
        for i, (_, init) in enumerate(starts):
            run(i, Zs, init, min(screen_passes, max_iter), False)
        if np.all(np.isnan(lls)):
            return EMFit(None, np.nan, tuple(names), tuple(lls), error)
        # finalists: the best n_finalists and those within SCREEN_MARGIN of the best,
        # among the fits without a collapsed component when there are any
        regular = np.array(
            [fit is not None and not is_degenerate(fit.covariances_, ct, reg_covar) for fit in fits]
        )
        score = np.where(regular | ~regular.any(), np.nan_to_num(lls, nan=-np.inf), -np.inf)
        order = [int(i) for i in np.argsort(-score, kind="stable") if np.isfinite(score[i])]
        finalists = set(order[:n_finalists])
        finalists |= {i for i in order if score[i] >= score.max() - SCREEN_MARGIN}
        if names[0] == "hierarchical" and np.isfinite(lls[0]):
            finalists.add(0)
        splits = [i for i in order if names[i].startswith("split") and np.isfinite(lls[i])]
        finalists.update(splits[:1])  # the K - 1 fit's best split keeps K from falling below K - 1
        if sub is not None:
            # large n: the finalists to the fixed point on the subset, then the best
            # N_FULL of them (and the hierarchical start) on all rows
            for i in sorted(finalists):
                if not fits[i].converged_:
                    run(i, Zs, None, max_iter, False)
            regular = np.array(
                [fit is not None and not is_degenerate(fit.covariances_, ct, reg_covar) for fit in fits]
            )
            pool = [i for i in sorted(finalists) if regular[i]] or sorted(finalists)
            ranked = sorted(pool, key=lambda i: (-lls[i], i))
            keep = set(ranked[:N_FULL]) | ({0} & finalists if names[0] == "hierarchical" else set())
            for i, gm in enumerate(fits):  # every start's parameters, scored on all rows
                if gm is not None:
                    lls[i] = float(np.sum(gm.score_samples(Z)))
            loose = tol is None or tol < LOOSE_TOL
            for i in sorted(keep):  # on all rows, first to LOOSE_TOL
                run(i, Z, None, max_iter, False, LOOSE_TOL if loose else tol)
            if loose:
                # then to the fixed point, best first; a run that stopped more than
                # SCREEN_MARGIN below the best fixed point found stops there (not watched
                # by bayesgmm._creep's rules: on many rows watching was measured slower)
                finish(sorted(keep, key=lambda i: (-lls[i], i)), SCREEN_MARGIN, watch=False)
            finalists = keep
        else:
            # the finalists for a stretch, then the leaders to the fixed point
            for i in sorted(finalists):
                if not fits[i].converged_ and fits[i].n_iter_ < max_iter:
                    run(i, Z, None, min(FINAL_PASSES, max_iter - fits[i].n_iter_), True)
            lead = np.nanmax(lls[sorted(finalists)])
            finish(
                sorted((i for i in finalists if lls[i] >= lead - SCREEN_MARGIN), key=lambda i: (-lls[i], i))
            )
    final = sorted(finalists)
    regular_final = [i for i in final if not is_degenerate(fits[i].covariances_, ct, reg_covar)]
    pool = regular_final or final
    top = np.nanmax(lls[pool])
    # among starts at the same optimum, the first that reached its fixed point: rounding
    # must not pick the winner
    tied = [i for i in pool if np.isclose(lls[i], top, rtol=RTOL_BEST, atol=ATOL_BEST)]
    best = min(tied, key=lambda i: (not fits[i].converged_, i))
    jac = n * std.log_jacobian
    return EMFit(
        std.model_back(_ordered(fits[best])),
        lls[best] + jac,
        tuple(names),
        tuple(float(v) + jac for v in lls),
        "",
        degenerate=not regular_final,
    )
