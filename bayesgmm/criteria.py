"""Choosing K and the covariance type by EM alone: AIC, BIC and ICL over a grid.

:func:`select` is what mclust's ``Mclust`` does (and what scikit-learn leaves to a gallery
example): fit a converged :class:`~bayesgmm.em.GaussianMixture` for every number of
components K and covariance type, tabulate the criteria and return the best model.

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
from .em import GaussianMixture

__all__ = ["CRITERIA", "check_ks", "chosen", "rank_criteria", "select"]

CRITERIA = ("aic", "bic", "icl")


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


def select(
    X: Any,
    ks: Any,
    covariance_types: Sequence[str] | str = COVARIANCE_TYPES,
    *,
    criterion: str = "bic",
    n_init: int = 1,
    tol: float = 1e-8,
    max_iter: int = 10000,
    reg_covar: float = 1e-6,
    init_params: str = "kmeans",
    random_state: Any = None,
) -> tuple[GaussianMixture, Any]:
    """Fit EM for every K x covariance type; return the best model and the criteria table.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    ks : int or sequence of int
        Numbers of components to try, e.g. ``range(1, 6)``.
    covariance_types : str or sequence of str, default=all four
        Any of "full", "tied", "diag", "spherical".
    criterion : {"bic", "aic", "icl"}, default="bic"
        The criterion that picks the returned model (lowest wins).
    n_init, tol, max_iter, reg_covar, init_params, random_state
        Passed to every :class:`~bayesgmm.em.GaussianMixture`; the default ``tol=1e-8``
        fits to convergence (the criteria are defined at the maximum-likelihood
        estimate). The same ``random_state`` is passed to every fit.

    Returns
    -------
    best : GaussianMixture
        The fitted model with the lowest ``criterion``.
    table : pandas.DataFrame
        One row per (K, covariance type), in the order tried, with columns ``k``,
        ``covariance_type``, ``loglik`` (total log-likelihood at the EM estimate),
        ``n_params``, ``aic``, ``bic``, ``icl``, ``converged``, ``n_iter``, ``error``
        (the message when the fit failed -- e.g. a collapsed component -- whose criteria
        are then missing; empty otherwise), ``rank_aic``, ``rank_bic``, ``rank_icl`` (1 is
        best) and ``chosen_by`` (the criteria whose best row this is, comma-separated).
        All criteria on the deviance scale: lower is better.

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
    check_option(criterion, "criterion", CRITERIA)
    check_int(n_init, "n_init")
    check_real(tol, "tol")
    check_int(max_iter, "max_iter")
    n, d = X.shape

    rows, models = [], []
    for k in ks:
        for ct in covariance_types:
            row: dict[str, Any] = {"k": k, "covariance_type": ct, "n_params": n_parameters(k, d, ct)}
            gm = GaussianMixture(
                k,
                covariance_type=ct,
                tol=tol,
                max_iter=max_iter,
                n_init=n_init,
                reg_covar=reg_covar,
                init_params=init_params,
                random_state=random_state,
                accelerate=True,
            )
            try:
                gm.fit(X)
            except ValueError as exc:  # collapsed component, fewer samples than components
                row.update(loglik=np.nan, aic=np.nan, bic=np.nan, icl=np.nan, converged=False, n_iter=0)
                row["error"] = str(exc)
                gm = None
            else:
                loglik = float(np.sum(gm.score_samples(X)))
                row.update(
                    loglik=loglik,
                    aic=gm.aic(X),
                    bic=gm.bic(X),
                    icl=gm.icl(X),
                    converged=bool(gm.converged_),
                    n_iter=int(gm.n_iter_),
                    error="",
                )
            rows.append(row)
            models.append(gm)
    columns = ["k", "covariance_type", "loglik", "n_params", *CRITERIA, "converged", "n_iter", "error"]
    table = pd.DataFrame(rows, columns=columns)
    if table[criterion].isna().all():
        raise ValueError(f"No model could be fitted: {table['error'].iloc[0]}")
    rank_criteria(table, CRITERIA)
    best = models[int(np.nanargmin(table[criterion].to_numpy(dtype=float)))]
    return best, table
