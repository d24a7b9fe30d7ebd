"""Choosing K and the covariance type by EM alone: AIC, BIC and ICL over a grid.

:func:`select` is what mclust's ``Mclust`` does (and what scikit-learn leaves to a gallery
example): fit EM to the best optimum found from several starts (:mod:`bayesgmm.multistart`) for
every number of components K and covariance type, tabulate the criteria and return the
best model.

All criteria are on the deviance scale, where lower is better (mclust reports BIC with
the opposite sign):

- ``aic = -2 log L + 2 p``
- ``bic = -2 log L + p log n``
- ``icl = bic + 2 * entropy of the classification`` (Biernacki, Celeux & Govaert 2000)

with ``log L`` the log-likelihood at the EM estimate and ``p`` the number of free
parameters (:func:`bayesgmm.covariance.n_parameters`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from numbers import Integral
from typing import Any

import numpy as np

from ._kernels import BLOCK_ROWS
from ._parallel import check_n_jobs
from ._validation import COVARIANCE_TYPES, check_int, check_option, check_real, check_X, is_dask_array
from .covariance import n_parameters
from .gaussian_mixture import GaussianMixture
from .hierarchical import merge_tree
from .multistart import N_KMEANS, EMFit, split_params

__all__ = ["CRITERIA", "check_ks", "chosen", "fit_grid", "rank_criteria", "select"]

CRITERIA = ("aic", "bic", "icl")
# each component of the K - 1 fit split in two, the halves this many sds either side of its mean
SPLIT_DISTANCES = (0.5, 1.0)


def check_ks(ks: Any, name: str = "ks") -> list[int]:
    """A non-empty list of distinct ints >= 1 (an int is one K), in the order given."""
    if isinstance(ks, Integral) and not isinstance(ks, bool):
        ks = [ks]
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Iterable):
        raise ValueError(
            f"The '{name}' parameter must be an int or a sequence of ints >= 1. Got {ks!r} instead."
        )
    out = list(ks)
    if not out:
        raise ValueError(f"The '{name}' parameter must contain at least one K. Got {ks!r} instead.")
    for k in out:
        if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
            raise ValueError(f"The '{name}' parameter must contain only ints >= 1. Got {k!r} in {ks!r}.")
    if len(set(out)) != len(out):
        raise ValueError(f"The '{name}' parameter must not repeat a K. Got {ks!r} instead.")
    return [int(k) for k in out]


def rank_criteria(table: Any, criteria: Sequence[str]) -> Any:
    """Add ``rank_<crit>`` (1 = best, i.e. lowest; ties share the best rank; missing values
    get no rank) and ``chosen_by`` (comma-separated criteria whose best row it is) to a
    pandas table, in place; returns it."""
    chosen: list[list[str]] = [[] for _ in range(len(table))]
    for crit in criteria:
        col = table[crit].astype(float)
        table[f"rank_{crit}"] = col.rank(method="min", ascending=True).astype("Int64")
        if col.notna().any():
            chosen[int(np.nanargmin(col.to_numpy()))].append(crit)
    table["chosen_by"] = [",".join(c) for c in chosen]
    return table


def chosen(table: Any, *, within_se: float | None = None) -> dict[str, int]:
    """``{criterion: K}``: the K each criterion chooses in a table of :func:`select` or
    :func:`bayesgmm.bayes.compare.compare_models`.

    Parameters
    ----------
    table : pandas.DataFrame
        With ``k`` and ``rank_<criterion>`` columns.
    within_se : float, optional
        Default (None): the K of the best (rank 1) row, first row on ties. A number ``c``:
        for the criteria that come with paired standard errors (``<crit>_diff`` and
        ``<crit>_diff_se``, i.e. WAIC and LOO), the *smallest* K whose difference to the
        best is at most ``c`` paired standard errors -- a one-standard-error-style
        parsimony rule: elpd differences of a few standard errors do not separate two
        models (Vehtari, Gelman & Gabry 2017), and an extra mixture component that
        fits noise costs WAIC/LOO almost nothing. Other criteria keep their best K.
    """
    out: dict[str, int] = {}
    for col in table.columns:
        if not col.startswith("rank_"):
            continue
        crit = col[len("rank_") :]
        best = table.loc[(table[col] == 1).fillna(False).astype(bool), "k"]
        if not len(best):
            continue
        out[crit] = int(best.iloc[0])
        diff, se = f"{crit}_diff", f"{crit}_diff_se"
        if within_se is not None and diff in table.columns and se in table.columns:
            close = table[(table[diff] <= within_se * table[se]).fillna(False).astype(bool)]
            if len(close):
                out[crit] = int(close["k"].min())
    return out


def _entropy(resp: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(-np.sum(np.where(resp > 0, resp * np.log(resp), 0.0)))


def _classification_entropy(gm: GaussianMixture, X: Any) -> float:
    """The entropy of ``gm``'s classification of X (block by block for a Dask array)."""
    if not is_dask_array(X):
        return _entropy(gm.predict_proba(X))
    import dask

    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    parts = dask.compute(*[dask.delayed(_block_entropy)(gm, b) for b in X.to_delayed().ravel()])
    return float(np.sum(parts))


def _block_entropy(gm: GaussianMixture, Xb: np.ndarray) -> float:
    Xb = np.asarray(Xb, dtype=np.float64)
    step = BLOCK_ROWS  # nothing of the block's size but the block
    return float(sum(_entropy(gm.predict_proba(Xb[a : a + step])) for a in range(0, Xb.shape[0], step)))


def _entropy_seed(random_state: Any) -> Any:
    """``random_state`` as every cell of a grid uses it: None and ints as they are, a
    Generator as one draw from it (so that no cell's seed depends on the order in which
    the cells are fitted)."""
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63 - 1))
    return random_state


def fit_grid(
    X: Any,
    ks: Sequence[int],
    covariance_types: Sequence[str],
    *,
    reg_covar: float = 1e-6,
    random_state: Any = None,
    n_init: int = N_KMEANS,
    tol: float | None = None,
    max_iter: int = 10000,
    n_jobs: int | None = None,
    progress: Any = False,
) -> dict[tuple[int, str], EMFit | None]:
    """The EM fit of every (K, covariance type) of the grid, as :func:`select` fits them:
    ``{(k, covariance_type): EMFit}`` (None where K exceeds the number of samples).

    Each cell (K, type) also starts from the K - 1 fit of its type with each component
    split in two, and the K - 1 fit from the K - 2 fit's splits, down to K = 1: every K
    from 1 to the largest asked for is fitted, whichever K are asked for, so that a cell's
    fit depends on X, K, its type and the settings only -- not on the rest of the grid.
    One hierarchical merge tree serves every cell. The cells run as joblib tasks
    (``n_jobs``, :mod:`bayesgmm._parallel`): a cell as soon as the K - 1 fit of its type is
    done, its starts side by side. Arguments are taken as validated (by :func:`select` or
    :func:`bayesgmm.bayes.compare.compare_models`); ``progress`` as :func:`select`'s.
    """
    from ._parallel import Progress, Runner, run_plans
    from .multistart import cell_plan, standardised

    n = X.shape[0]
    top = min(max(ks), n)
    seed = _entropy_seed(random_state)
    tree = merge_tree(X) if top > 1 else None
    data: dict[bool, Any] = {}  # the standardised data, one per kind of scale

    def start(k: int, ct: str):
        def plan(done: dict) -> Any:
            extra: list[tuple[str, Any]] = []
            prev = done.get((k - 1, ct))
            if prev is not None and prev.model is not None:
                for dist in SPLIT_DISTANCES:
                    extra += [
                        (f"split-{j}" + ("" if dist == 0.5 else f"-{dist:g}sd"), p)
                        for j, p in enumerate(split_params(prev.model.params_, dist))
                    ]
            iso = ct == "spherical"
            if iso not in data:
                data[iso] = standardised(X, ct)
            return cell_plan(
                X, k, ct, reg_covar=reg_covar, random_state=seed, n_kmeans=n_init, tol=tol,
                max_iter=max_iter, extra_starts=extra, tree=tree, data=data[iso],
            )  # fmt: skip

        return plan

    cells = [(k, ct) for ct in covariance_types for k in range(1, top + 1)]
    plans = {(k, ct): ([(k - 1, ct)] if k > 1 else [], start(k, ct)) for k, ct in cells}
    say = Progress(progress, "select", sum(k for k, _ in cells))
    finished: list[tuple[int, str]] = []

    def on_done(cell: Any, fit: Any) -> None:
        finished.append(cell)
        k, ct = cell
        detail = "every start failed" if fit.model is None else f"log-likelihood {fit.loglik:.2f}"
        say(f"K={k} {ct}", k, detail, left=len(cells) - len(finished))

    with Runner(n_jobs) as runner:
        fits = run_plans(plans, runner, on_done)
    return {(k, ct): fits[(k, ct)] if k <= n else None for k in ks for ct in covariance_types}


def select(
    X: Any,
    ks: Any,
    covariance_types: Sequence[str] | str = COVARIANCE_TYPES,
    *,
    criterion: str = "bic",
    reg_covar: float = 1e-6,
    random_state: Any = None,
    n_init: int = N_KMEANS,
    tol: float | None = None,
    max_iter: int = 10000,
    n_jobs: int | None = None,
    progress: Any = None,
) -> tuple[GaussianMixture, Any]:
    """Fit EM for every K x covariance type from several starts; return the best model and
    the criteria table.

    Each (K, covariance type) is fitted by :func:`bayesgmm.multistart.best_em`: the
    model-based hierarchical start, k-means, k-means++ and random-point starts, screened by
    short runs, the leaders run to the fixed point; plus the K - 1 fit of the same type
    with each component split in two (the halves half and one standard deviation either
    side of its mean: :data:`SPLIT_DISTANCES`). The K - 1 fit is made whether or not K - 1
    is asked for (and so on down to K = 1), so a row depends on X, its K, its type and the
    settings only: ``select(X, [3])`` and ``select(X, range(1, 6))`` give the same K = 3
    rows. The fit runs on the data standardised per feature (one common scale for
    spherical models) and is mapped back exactly: the table and the model are those of
    ``a X + b`` mapped through the same affine map, for any scale.

    **In parallel.** The cells run as joblib tasks (``n_jobs``; a cell starts as soon as
    the K - 1 fit of its type is done, and its starts run side by side); every start's seed
    derives from ``random_state``, K and the type, so the table is the same for any
    ``n_jobs`` and any joblib backend, e.g. a Dask cluster through
    ``joblib.parallel_config(backend="dask")``.

    **Data that do not fit in memory.** X may be a Dask array: the starts are screened on
    a fixed sample of rows (as for any large X), brought into memory, and every pass on all
    rows is a map-reduce over X's blocks, in this process's Dask scheduler or cluster
    (nothing of size n_samples is held); the table equals that of the same data in memory
    up to rounding.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or a Dask array
    ks : int or sequence of int
        Numbers of components to try, e.g. ``range(1, 6)``.
    covariance_types : str or sequence of str, default=all four
        Any of "full", "tied", "diag", "spherical".
    criterion : {"bic", "aic", "icl"}, default="bic"
        The criterion that picks the returned model (lowest wins).
    reg_covar : float, default=1e-6
        Added to the diagonal of the covariances of the standardised data, i.e. relative
        to each feature's variance.
    random_state : None, int or numpy Generator, default=None
        None is a fixed seed: the same data always give the same table.
    n_init : int, default=2
        k-means starts per (K, covariance type), on top of the others.
    tol : float, optional
        None (default) runs EM to its fixed point, where the criteria are defined.
    max_iter : int, default=10000
        EM passes per start at most.
    n_jobs : int, optional
        Cells and starts run at once, as in scikit-learn: None means 1 unless a
        ``joblib.parallel_config`` context says otherwise, -1 means all cores. A task run
        beside others gets its share of the cores for its own threads.
    progress : None, bool or writable text stream, default=None
        A line as each cell finishes: which, how many remain and about how long they will
        take. None: to stderr once the call has run 10 s (quick calls stay silent); True:
        to stderr from the start; a stream: there; False: nowhere.

    Returns
    -------
    best : GaussianMixture
        The fitted model with the lowest ``criterion``, in X's units.
    table : pandas.DataFrame
        One row per (K, covariance type), in the order given, with columns ``k``,
        ``covariance_type``, ``loglik`` (total log-likelihood at the EM estimate),
        ``n_params``, ``aic``, ``bic``, ``icl``, ``converged``, ``n_iter`` (EM passes of
        the winning start), ``n_starts`` (starts tried), ``n_best`` (starts that ended at
        the winning log-likelihood, relative 1e-7: a measure of how easily the optimum is
        found), ``collapsed`` (True when every fit found has a component collapsed onto
        the ``reg_covar`` floor -- one point, or too few for its covariance -- whose
        likelihood is an artefact of ``reg_covar``; fits without a collapse are preferred
        whenever one is found), ``error`` (the message when every start failed -- e.g. collapsed
        components -- whose criteria are then missing; empty otherwise), ``rank_aic``,
        ``rank_bic``, ``rank_icl`` (1 is best) and ``chosen_by`` (the criteria whose best
        row this is, comma-separated). All criteria on the deviance scale: lower is better.
        Under ``X -> a X + b`` (``a`` a scale per feature) every log-likelihood shifts by
        ``-n sum(log|a|)`` and every criterion by twice as much the other way: the same
        for all rows, so differences, ranks and choices do not change.

    Raises
    ------
    ValueError
        Bad arguments, or when no fit succeeded (the first failure's message is shown).
    """
    import pandas as pd

    X = check_X(X, allow_dask=True)
    ks = check_ks(ks)
    if isinstance(covariance_types, str):
        covariance_types = (covariance_types,)
    covariance_types = list(covariance_types)
    if not covariance_types:
        raise ValueError("The 'covariance_types' parameter must name at least one covariance type. Got [].")
    for ct in covariance_types:
        check_option(ct, "covariance_types", COVARIANCE_TYPES)
    if len(set(covariance_types)) != len(covariance_types):
        raise ValueError(
            f"The 'covariance_types' parameter must not repeat a type. Got {covariance_types!r}."
        )
    check_option(criterion, "criterion", CRITERIA)
    check_int(n_init, "n_init", minimum=0)
    if tol is not None:
        check_real(tol, "tol")
    check_int(max_iter, "max_iter")
    check_n_jobs(n_jobs)
    n, d = X.shape

    fits = fit_grid(
        X, ks, covariance_types, reg_covar=reg_covar, random_state=random_state, n_init=n_init, tol=tol,
        max_iter=max_iter, n_jobs=n_jobs, progress=progress,
    )  # fmt: skip

    rows, models = [], []
    for k in ks:
        for ct in covariance_types:
            p = n_parameters(k, d, ct)
            row: dict[str, Any] = {"k": k, "covariance_type": ct, "n_params": p}
            fit = fits[(k, ct)]
            if fit is None or fit.model is None:
                msg = (
                    f"n_components={k} is more than the {n} samples"
                    if fit is None
                    else f"every start failed; {fit.error}"
                )
                row.update(loglik=np.nan, aic=np.nan, bic=np.nan, icl=np.nan, converged=False, n_iter=0)
                row.update(n_starts=0 if fit is None else fit.n_starts, n_best=0, collapsed=False, error=msg)
                models.append(None)
            else:
                gm, ll = fit.model, fit.loglik
                bic = -2.0 * ll + p * np.log(n)
                row.update(
                    loglik=ll,
                    aic=-2.0 * ll + 2.0 * p,
                    bic=bic,
                    icl=bic + 2.0 * _classification_entropy(gm, X),
                    converged=bool(gm.converged_),
                    n_iter=int(gm.n_iter_),
                    n_starts=fit.n_starts,
                    n_best=fit.n_best,
                    collapsed=fit.degenerate,
                    error="",
                )
                models.append(gm)
            rows.append(row)
    columns = [
        "k", "covariance_type", "loglik", "n_params", *CRITERIA, "converged", "n_iter", "n_starts", "n_best", "collapsed", "error",
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=columns)
    if table[criterion].isna().all():
        raise ValueError(f"No model could be fitted: {table['error'].iloc[0]}")
    rank_criteria(table, CRITERIA)
    best = models[int(np.nanargmin(table[criterion].to_numpy(dtype=float)))]
    return best, table
