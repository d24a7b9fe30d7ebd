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

from . import _creep, exceptions
from ._kernels import BLOCK_ROWS, features, numba_available
from ._parallel import Job, check_n_jobs, run_plan
from ._scaling import Standardizer
from ._validation import COVARIANCE_TYPES, check_int, check_option, check_real, check_X, is_dask_array
from .covariance import compute_precision_cholesky, precisions_from_cholesky
from .em import converged_em, m_step, m_step_from_stats
from .gaussian_mixture import GaussianMixture
from .hierarchical import MergeTree, merge_tree
from .params import GMMParams

__all__ = [
    "EMFit",
    "best_em",
    "cell_plan",
    "convert_params",
    "is_degenerate",
    "run_start",
    "split_params",
    "standardised",
    "start_seed",
    "watch_start",
]

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
ADAPTIVE = "adaptive"  # the SQUAREM of the runs after the screen, for large n (bayesgmm.em.run_em)
RESOLUTION = 1e-3  # log-likelihood a run on many rows may leave ungained (criteria to 0.002)


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


def _fit(Z, k, ct, reg_covar, max_iter, tol, seed, init=None, accelerate=True):
    """EM on Z from ``init`` = (weights, means, covariances) or, without it, from
    scikit-learn-style ``init_params`` given as a string. From ``NUMBA_MIN_ROWS`` rows the
    compiled pass runs (when numba is installed), below them the numpy pass.
    ``accelerate``: SQUAREM (True) or its "adaptive" form."""
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
            Z, k, ct, reg_covar=reg_covar, random_state=seed, max_iter=max_iter, engine=engine,
            accelerate=accelerate, **kw,
        )  # fmt: skip
    # a screening fit by name (same shape as compare_models building its sampler)
    gm = GaussianMixture(
        k,
        covariance_type=ct,
        tol=tol,
        max_iter=max_iter,
        reg_covar=reg_covar,
        random_state=seed,
        accelerate=accelerate,
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


def _rows(Z: Any, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` (sorted) of Z, in memory."""
    if is_dask_array(Z):
        return np.asarray(Z[idx].compute(), dtype=np.float64)
    return Z[idx]


def _labels_start(Z, labels, k, ct, reg_covar):
    resp = np.zeros((Z.shape[0], k))
    resp[np.arange(Z.shape[0]), labels] = 1.0
    return m_step(Z, resp, ct, reg_covar)


def _start_from_labels(X, std, Z, k, ct, reg_covar, tree):
    """The one-component start (k = 1) or the hierarchical start: one M-step on hard labels
    (the tree's, :meth:`~bayesgmm.hierarchical.MergeTree.labels`). For a Dask array the
    labels and the M-step's sums are made block by block, nothing of size n held."""
    if not is_dask_array(X):
        labels = np.zeros(X.shape[0], dtype=int) if k == 1 else tree.labels(X, k)
        return _labels_start(Z, labels, k, ct, reg_covar)
    import dask

    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    assign = None if k == 1 else (*tree.assignment(X, k), tree.subset, tree.subset_labels(k))
    blocks = X.to_delayed().ravel()
    offsets = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]])
    parts = dask.compute(
        *[
            dask.delayed(_label_block_sums)(b, int(lo), k, ct, std, assign)
            for b, lo in zip(blocks, offsets, strict=True)
        ]
    )
    S = np.sum(parts, axis=0)
    return m_step_from_stats(S, X.shape[1], ct, np.zeros(X.shape[1]), reg_covar)


def _label_block_sums(Xb, lo, k, ct, std, assign):
    """Feature sums (as :func:`bayesgmm._kernels.features`, unshifted) of one block of rows
    ``lo..`` of X, standardised by ``std``, under one-hot labels: all 0 (``assign`` None), or
    the tree's assignment with the rows of its subset keeping their own cluster."""
    Xb = np.asarray(Xb, dtype=np.float64)
    S = 0.0
    for a in range(0, Xb.shape[0], BLOCK_ROWS):  # nothing of the block's size but the block
        Xc = Xb[a : a + BLOCK_ROWS]
        labels = np.zeros(Xc.shape[0], dtype=int)
        if assign is not None:
            tree_std, model, subset, sub_labels = assign
            labels = MergeTree.assign(tree_std.transform(Xc), model)
            i, j = np.searchsorted(subset, [lo + a, lo + a + Xc.shape[0]])
            labels[subset[i:j] - lo - a] = sub_labels[i:j]
        R = np.zeros((Xc.shape[0], k))
        R[np.arange(Xc.shape[0]), labels] = 1.0
        S = S + features(std.transform(Xc), np.zeros(Xc.shape[1]), ct).T @ R
    return S


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
    n_jobs: int | None = None,
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
    n_jobs : int, optional
        Starts run side by side, as joblib tasks (scikit-learn's convention: None means 1
        unless a ``joblib.parallel_config`` context says otherwise, -1 all cores). Every
        start has its own seed, so the fit does not depend on ``n_jobs``.

    Returns
    -------
    EMFit
        ``.model`` is a fitted :class:`~bayesgmm.gaussian_mixture.GaussianMixture` in X's units
        (``None`` when every start failed, with the reason in ``.error``).
    """
    X = check_X(X, allow_dask=True)
    _check_search(
        n_components, covariance_type, reg_covar, n_kmeans, n_kpp, n_random, screen_passes, screen_samples,
        n_finalists, max_iter, tol,
    )  # fmt: skip
    k = int(n_components)
    if k > X.shape[0]:
        raise ValueError(
            f"The 'n_components' parameter must be at most the number of samples ({X.shape[0]}). Got {k} instead."
        )
    plan = cell_plan(
        X, k, covariance_type, reg_covar=reg_covar, random_state=random_state, n_kmeans=n_kmeans, n_kpp=n_kpp,
        n_random=n_random, screen_passes=screen_passes, screen_samples=screen_samples,
        n_finalists=n_finalists, max_iter=max_iter, tol=tol, extra_starts=extra_starts, tree=tree,
    )  # fmt: skip
    return run_plan(plan, check_n_jobs(n_jobs))


def _check_search(
    n_components, covariance_type, reg_covar, n_kmeans, n_kpp, n_random, screen_passes, screen_samples,
    n_finalists, max_iter, tol,
) -> None:  # fmt: skip
    """The arguments of :func:`best_em` (and of the grid that calls :func:`cell_plan`)."""
    check_int(n_components, "n_components")
    check_option(covariance_type, "covariance_type", COVARIANCE_TYPES)
    check_real(reg_covar, "reg_covar")
    for value, name in ((n_kmeans, "n_kmeans"), (n_kpp, "n_kpp"), (n_random, "n_random")):
        check_int(value, name, minimum=0)
    check_int(screen_passes, "screen_passes")
    check_int(screen_samples, "screen_samples", minimum=2)
    check_int(n_finalists, "n_finalists")
    check_int(max_iter, "max_iter")
    if tol is not None:
        check_real(tol, "tol")


# --------------------------------------------------------------------------- the jobs
def _params(gm: GaussianMixture) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return gm.weights_, gm.means_, gm.covariances_


def _total_loglik(gm: GaussianMixture, Z: Any) -> float:
    if is_dask_array(Z):
        return float(gm._total_loglik(Z)[0])
    return float(np.sum(gm.score_samples(Z)))


def run_start(Z, k, ct, reg_covar, passes, tol, seed, init, n_iter_before=0, accelerate=True):
    """One EM run of one start, a job: ``(fit, its total log-likelihood on Z, "")``, or
    ``(None, nan, message)`` when it failed (a collapsed component). ``n_iter_before`` is
    added to the fit's ``n_iter_`` (a run continued from an earlier one); ``accelerate``
    is SQUAREM (True) or its "adaptive" form."""
    with _quiet():
        try:
            gm = _fit(Z, k, ct, reg_covar, passes, tol, seed, init, accelerate)
            ll = _total_loglik(gm, Z)
        except ValueError as exc:
            return None, np.nan, str(exc)
    gm.n_iter_ += n_iter_before
    return gm, (ll if np.isfinite(ll) else np.nan), ""


def watch_start(
    Z, k, ct, reg_covar, tol, seed, fit, loglik, max_iter, best, ref, resolution=0.0, accelerate=True
):
    """A job: ``fit`` run on toward its fixed point, stopped by :mod:`bayesgmm._creep`'s
    rules against the best fixed point ``best`` (model ``ref``) and, with a
    ``resolution``, once it cannot change the answer by more; ``(fit, loglik, "")``."""

    def advance(f, passes):
        gm, ll, _ = run_start(Z, k, ct, reg_covar, passes, tol, seed, _params(f), f.n_iter_, accelerate)
        return None if gm is None else (gm, ll)

    fit, loglik = _creep.watch(
        fit, loglik, advance, max_iter=max_iter, best=best, ref=ref, resolution=resolution
    )
    return fit, loglik, ""


# --------------------------------------------------------------------------- one cell, as a plan
def standardised(X: Any, covariance_type: str) -> tuple[Standardizer, Any]:
    """The map of X to the data the fits run on, and those data (lazy for a Dask array)."""
    std = Standardizer.fit(X, isotropic=covariance_type == "spherical")
    return std, std.transform(X)


def cell_plan(
    X: Any,
    k: int,
    ct: str,
    *,
    reg_covar: float,
    random_state: Any,
    n_kmeans: int = N_KMEANS,
    n_kpp: int = N_KPP,
    n_random: int = N_RANDOM,
    screen_passes: int = SCREEN_PASSES,
    screen_samples: int = SCREEN_SAMPLES,
    n_finalists: int = N_FINALISTS,
    max_iter: int = 10000,
    tol: float | None = None,
    extra_starts: Sequence[tuple[str, GMMParams]] = (),
    tree: MergeTree | None = None,
    data: tuple[Standardizer, Any] | None = None,
):
    """:func:`best_em` of one (K, covariance type) as a plan (:mod:`bayesgmm._parallel`):
    a generator that yields lists of independent EM runs and returns the :class:`EMFit`.
    Arguments as validated by :func:`best_em`; ``data`` is :func:`standardised` of X when
    the caller already has it."""
    n = X.shape[0]
    seeds = [int(v) for v in start_seed(random_state, k, ct).generate_state(n_kmeans + n_kpp + n_random + 1)]
    std, Z = standardised(X, ct) if data is None else data

    starts: list[tuple[str, Any]] = []
    if k == 1:  # one optimum, in closed form
        starts.append(("one-component", _start_from_labels(X, std, Z, 1, ct, reg_covar, None)))
    else:
        if tree is None:
            tree = merge_tree(X)
        starts.append(("hierarchical", _start_from_labels(X, std, Z, k, ct, reg_covar, tree)))
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
    Zs = Z if sub is None else _rows(Z, sub)

    def job(i, data, passes, init=None, add=False, run_tol=tol, accelerate=True):
        prev = fits[i]
        init = _params(prev) if init is None else init
        before = prev.n_iter_ if add else 0
        args = (data, k, ct, reg_covar, passes, run_tol, seed(i), init, before, accelerate)
        return Job(run_start, args, is_dask_array(data))

    def seed(i):  # the extra starts share the last seed (their parameters are given)
        return seeds[min(i, len(seeds) - 1)]

    def take(i, out):
        nonlocal error
        gm, ll, message = out
        if gm is None:  # a collapsed component: keep what the start had reached
            error = error or f"{names[i]}: {message}"
            return
        fits[i], lls[i] = gm, ll

    def usable(i):
        return not is_degenerate(fits[i].covariances_, ct, reg_covar)

    def watched(i, data, best, ref, resolution=0.0, accelerate=True):
        args = (
            data,
            k,
            ct,
            reg_covar,
            tol,
            seed(i),
            fits[i],
            lls[i],
            max_iter,
            best,
            ref,
            resolution,
            accelerate,
        )
        return Job(watch_start, args, is_dask_array(data))

    def finish(order, data, margin=np.inf, settle=False):
        """Best first: the leader to its fixed point (the next, if it fails or collapses),
        then every other run against it, side by side, stopped by the rules of
        :mod:`bayesgmm._creep` (a fit's ``converged_`` means it is at its fixed point). With
        ``settle`` (fits that converged at a looser tolerance on many rows), every run --
        the leader too -- goes on from there with the adaptive SQUAREM and stops once it
        cannot change the answer by more than ``RESOLUTION``. A fit more than ``margin``
        below the leader is left where it is."""
        resolution, accelerate = (RESOLUTION, ADAPTIVE) if settle else (0.0, True)
        best, ref, rest = -np.inf, None, list(order)
        while rest and ref is None:
            i = rest.pop(0)
            if fits[i] is None:
                continue
            reached = fits[i].converged_ and not settle
            if not reached and fits[i].n_iter_ < max_iter:
                if settle:
                    (out,) = yield [watched(i, data, -np.inf, None, resolution, accelerate)]
                else:
                    (out,) = yield [job(i, data, max_iter - fits[i].n_iter_, add=True)]
                take(i, out)
                reached = fits[i].converged_ or settle
            if reached and usable(i):
                best, ref = lls[i], i
        todo = [
            i
            for i in rest
            if fits[i] is not None
            and lls[i] >= best - margin
            and not (fits[i].converged_ and not settle)
            and fits[i].n_iter_ < max_iter
        ]
        if _creep.ENABLED:
            jobs = [watched(i, data, best, fits[ref], resolution, accelerate) for i in todo]
        else:
            jobs = [job(i, data, max_iter - fits[i].n_iter_, add=True) for i in todo]
        outs = yield jobs
        for i, out in zip(todo, outs, strict=True):
            take(i, out)

    # every start to the screen (on a subset of rows for large n)
    outs = yield [job(i, Zs, min(screen_passes, max_iter), init) for i, (_, init) in enumerate(starts)]
    for i, out in enumerate(outs):
        take(i, out)
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
        # large n: the finalists to the fixed point on the subset (extrapolated), then
        # the best N_FULL of them (and the hierarchical start) on all rows
        todo = [i for i in sorted(finalists) if not fits[i].converged_]
        outs = yield [job(i, Zs, max_iter, accelerate=ADAPTIVE) for i in todo]
        for i, out in zip(todo, outs, strict=True):
            take(i, out)
        regular = np.array(
            [fit is not None and not is_degenerate(fit.covariances_, ct, reg_covar) for fit in fits]
        )
        pool = [i for i in sorted(finalists) if regular[i]] or sorted(finalists)
        ranked = sorted(pool, key=lambda i: (-lls[i], i))
        keep = set(ranked[:N_FULL]) | ({0} & finalists if names[0] == "hierarchical" else set())
        with _quiet():
            for i, gm in enumerate(fits):  # every start's parameters, scored on all rows
                if gm is not None:
                    lls[i] = _total_loglik(gm, Z)
        loose = tol is None or tol < LOOSE_TOL
        todo = sorted(keep)
        outs = yield [
            job(i, Z, max_iter, run_tol=LOOSE_TOL if loose else tol, accelerate=ADAPTIVE) for i in todo
        ]  # first to LOOSE_TOL
        for i, out in zip(todo, outs, strict=True):
            take(i, out)
        if loose:
            # then to the fixed point, best first; a run that stopped more than
            # SCREEN_MARGIN below the leader's fixed point stops there (not watched by
            # bayesgmm._creep's rules: on many rows watching was measured slower)
            yield from finish(sorted(keep, key=lambda i: (-lls[i], i)), Z, SCREEN_MARGIN, settle=True)
        finalists = keep
    else:
        # the finalists for a stretch, then the leaders to the fixed point
        todo = [i for i in sorted(finalists) if not fits[i].converged_ and fits[i].n_iter_ < max_iter]
        outs = yield [job(i, Z, min(FINAL_PASSES, max_iter - fits[i].n_iter_), add=True) for i in todo]
        for i, out in zip(todo, outs, strict=True):
            take(i, out)
        lead = np.nanmax(lls[sorted(finalists)])
        yield from finish(
            sorted((i for i in finalists if lls[i] >= lead - SCREEN_MARGIN), key=lambda i: (-lls[i], i)), Z
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
