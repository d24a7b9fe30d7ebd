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

from ._validation import COVARIANCE_TYPES, check_int, check_option, check_real, check_X
from .covariance import n_parameters
from .gaussian_mixture import GaussianMixture
from .hierarchical import merge_tree
from .multistart import N_KMEANS, EMFit, best_em, split_params

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


def fit_grid(
    X: np.ndarray,
    ks: Sequence[int],
    covariance_types: Sequence[str],
    *,
    reg_covar: float = 1e-6,
    random_state: Any = None,
    n_init: int = N_KMEANS,
    tol: float | None = None,
    max_iter: int = 10000,
) -> dict[tuple[int, str], EMFit | None]:
    """The EM fit of every (K, covariance type) of the grid, as :func:`select` fits them:
    ``{(k, covariance_type): EMFit}`` (None where K exceeds the number of samples).

    The grid runs in increasing K, and each cell also starts from the fits of the other
    covariance types at the same K (converted) and from the K - 1 fit of its type with
    each component split in two; one hierarchical merge tree serves every cell. Arguments
    are taken as validated (by :func:`select` or
    :func:`bayesgmm.bayes.compare.compare_models`).
    """
    n = X.shape[0]
    tree = merge_tree(X) if max(ks) > 1 else None
    fits: dict[tuple[int, str], EMFit | None] = {}
    for k in sorted(ks):
        for ct in covariance_types:
            extra = [
                (f"from-{other}", fit.model.params_)
                for other in covariance_types
                if (fit := fits.get((k, other))) is not None and fit.model is not None
            ]
            prev = fits.get((k - 1, ct))
            if prev is not None and prev.model is not None:
                for dist in SPLIT_DISTANCES:
                    splits = split_params(prev.model.params_, dist)
                    extra += [
                        (f"split-{j}" + ("" if dist == 0.5 else f"-{dist:g}sd"), p)
                        for j, p in enumerate(splits)
                    ]
            if k > n:
                fits[(k, ct)] = None
                continue
            fits[(k, ct)] = best_em(
                X,
                k,
                ct,
                reg_covar=reg_covar,
                random_state=random_state,
                n_kmeans=n_init,
                tol=tol,
                max_iter=max_iter,
                extra_starts=extra,
                tree=tree,
            )
    return fits


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
) -> tuple[GaussianMixture, Any]:
    """Fit EM for every K x covariance type from several starts; return the best model and
    the criteria table.

    Each (K, covariance type) is fitted by :func:`bayesgmm.multistart.best_em`: the
    model-based hierarchical start, k-means, k-means++ and random-point starts, screened by
    short runs, the leaders run to the fixed point; plus, since the grid is fitted in
    increasing K, the fits of the other covariance types at the same K (converted) and the
    K - 1 fit of the same type with each component split in two (the halves half and one
    standard deviation either side of its mean: :data:`SPLIT_DISTANCES`). The fit runs on the data
    standardised per feature (one common scale for spherical models) and is mapped back
    exactly: the table and the model are those of ``a X + b`` mapped through the same
    affine map, for any scale.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
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

    X = check_X(X)
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
    n, d = X.shape

    fits = fit_grid(
        X, ks, covariance_types, reg_covar=reg_covar, random_state=random_state, n_init=n_init, tol=tol,
        max_iter=max_iter,
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
                    icl=bic + 2.0 * _entropy(gm.predict_proba(X)),
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
