"""The ``em`` command and what every command shares: reading the data, fitting EM to the best
optimum, finishing the output folder."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._args import UsageError, covariance_types, parse_columns, parse_k
from ._output import OutputFolder, records, write_json, write_table
from ._plots import Plots
from ._read import read_data
from ._report import em_summary, note, print_comparison, print_em

__all__ = ["base_summary", "check_ks_fit", "cmd_em", "em_comparison", "finish", "fit_em", "load"]


def load(args: Any) -> tuple[np.ndarray, list[str]]:
    """Read ``args.data`` with the command's reading options; print what was read."""
    X, names, notes = read_data(
        args.data,
        columns=parse_columns(args.columns),
        skip_non_numeric=args.skip_non_numeric,
        delimiter=args.delimiter,
    )
    for message in notes:
        note(message)
    print(f"read {X.shape[0]} rows x {X.shape[1]} column(s) {names} from {args.data}")
    return X, names


def check_ks_fit(ks: list[int], n: int) -> None:
    if max(ks) > n:
        raise UsageError(f"--k {max(ks)} is more components than the {n} data rows.")


def fit_em(
    X: np.ndarray,
    k: int,
    covariance_type: str,
    *,
    n_init: int | None,
    seed: int,
    max_iter: int = 10000,
    n_jobs: int | None = None,
):
    """EM from several deterministic starts, to its fixed point, as :func:`~bayesgmm.criteria.select`
    fits each (K, covariance type) (:func:`bayesgmm.multistart.best_em`). It runs on
    standardised data and is mapped back, so the fit of ``a * X + b`` is the fit of ``X``
    mapped through the same affine map. It is ``select``'s fit of that cell: the fits of
    K - 1, K - 2, ... 1 are made for their splits (:func:`bayesgmm.criteria.fit_grid`), so
    ``--k 3`` and ``--k 1..3`` give the same K = 3 fit."""
    from ..criteria import fit_grid

    options = {} if n_init is None else {"n_init": n_init}
    fit = fit_grid(X, [k], [covariance_type], random_state=seed, max_iter=max_iter, n_jobs=n_jobs, **options)[
        (k, covariance_type)
    ]
    if fit.model is None:
        raise ValueError(f"every EM start of K={k} ({covariance_type}) failed: {fit.error}")
    if fit.degenerate:
        warnings.warn(
            f"every EM fit of K={k} ({covariance_type}) has a component collapsed onto a few points: "
            "try fewer components or a more constrained covariance type.",
            stacklevel=2,
        )
    return fit.model


def base_summary(command: str, args: Any, X: np.ndarray, names: list[str]) -> dict[str, Any]:
    return {
        "command": command,
        "data": str(args.data),
        "columns": names,
        "n_samples": X.shape[0],
        "n_features": X.shape[1],
    }


def finish(out: OutputFolder, plots: Plots, summary: dict[str, Any]) -> dict[str, Any]:
    plots.report(summary)
    write_json(out.path("summary.json"), summary)
    return {"files": out.commit(), "out": out.target}


def em_comparison(
    out: OutputFolder,
    plots: Plots,
    X: np.ndarray,
    ks: list[int],
    cts: list[str],
    args: Any,
    criterion: str = "bic",
    max_iter: int = 10000,
) -> tuple[Any, dict[str, Any]]:
    """:func:`~bayesgmm.criteria.select` over K x covariance types: print the table, write
    ``comparison.csv`` (and ``criteria.png`` for several K); returns the best model by
    ``criterion`` and the summary entries."""
    from ..criteria import select

    options = {} if args.n_init is None else {"n_init": args.n_init}
    options.update(
        n_jobs=getattr(args, "jobs", None), progress=False if getattr(args, "quiet", False) else None
    )
    em, table = select(X, ks, cts, criterion=criterion, max_iter=max_iter, random_state=args.seed, **options)
    write_table(out.path("comparison.csv"), table)
    entries = print_comparison(table)
    entries["comparison"] = records(table)
    if len(ks) > 1:
        plots.criteria(table, title=f"Choosing K = {', '.join(map(str, ks))}, n = {X.shape[0]}: EM fits")
    return em, entries


def cmd_em(args: Any) -> dict[str, Any]:
    ks = parse_k(args.k)
    cts = covariance_types(args.covariance_type)
    with OutputFolder(args.out) as out:
        X, names = load(args)
        check_ks_fit(ks, X.shape[0])
        plots = Plots(out)
        summary = base_summary("em", args, X, names)
        if len(ks) == 1 and len(cts) == 1:
            em = fit_em(
                X, ks[0], cts[0], n_init=args.n_init, seed=args.seed, max_iter=args.max_iter, n_jobs=args.jobs
            )
            title = "EM"
        else:
            em, entries = em_comparison(out, plots, X, ks, cts, args, args.criterion, args.max_iter)
            summary.update(entries)
            title = f"best by {args.criterion.upper()}"
        print_em(em, X, title)
        summary["model"] = em_summary(em, X)
        plots.fit(X, em=em, names=names)
        return finish(out, plots, summary)
