"""The commands ``mcmc`` and ``compare``: EM, then the posterior started from it (``mcmc``:
NUTS; ``compare``: :func:`~bayesgmm.bayes.compare.compare_models`' Gibbs sampler at every K)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._args import BAYES_EXTRA, UsageError, bayes_covariance_type, covariance_types, parse_k
from ._commands import base_summary, check_ks_fit, em_comparison, finish, fit_em, load
from ._output import OutputFolder, records, write_table
from ._plots import Plots
from ._report import bayes_summary, em_summary, note, print_comparison, print_em, print_posterior

__all__ = [
    "bayes_available",
    "cmd_compare",
    "cmd_mcmc",
    "compare",
    "need_bayes",
    "posterior_outputs",
    "sample_posterior",
]


def bayes_available() -> bool:
    """Whether PyMC and ArviZ (the ``bayes`` extra) can be imported."""
    try:
        import arviz  # noqa: F401
        import pymc  # noqa: F401
    except ImportError:
        return False
    return True


def need_bayes(command: str) -> None:
    if not bayes_available():
        raise UsageError(f"{command} needs PyMC and ArviZ, which are not installed: {BAYES_EXTRA}.")


def sampling_options(args: Any) -> dict[str, Any]:
    """The sampler's settings from the command line."""
    return {"draws": args.draws, "tune": args.tune, "chains": args.chains, "random_state": args.seed}


def sample_posterior(X: np.ndarray, em: Any, args: Any, *, criteria: bool = True):
    """NUTS from the converged EM fit ``em``; returns ``(bayes, waic, loo)`` (the last two
    None with ``criteria=False``, which also keeps the pointwise log-likelihood out of memory)."""
    from ..bayes.compare import loo, waic
    from ..bayes.sampling import BayesianGaussianMixture

    bayes = BayesianGaussianMixture(
        em.n_components,
        covariance_type=em.covariance_type,
        progressbar=not args.quiet,
        store_log_likelihood=criteria,
        **sampling_options(args),
    ).fit(X, em=em)
    return (bayes, waic(bayes), loo(bayes)) if criteria else (bayes, None, None)


def posterior_outputs(out: OutputFolder, plots: Plots, em: Any, bayes: Any, n: int) -> Any:
    """``em_vs_posterior.csv`` and the posterior plots; returns the EM-vs-posterior table."""
    from ..bayes.posterior import compare_em_posterior

    table = compare_em_posterior(em, bayes)
    write_table(out.path("em_vs_posterior.csv"), table)
    plots.posterior(bayes, table, n)
    return table


def cmd_mcmc(args: Any) -> dict[str, Any]:
    from ..bayes._arviz import to_netcdf

    ks = parse_k(args.k)
    if len(ks) != 1:
        raise UsageError(f"mcmc fits one K: give --k a single number (use 'compare' for {args.k}).")
    need_bayes("mcmc")
    ct = bayes_covariance_type(args.covariance_type)
    with OutputFolder(args.out) as out:
        X, names = load(args)
        check_ks_fit(ks, X.shape[0])
        plots = Plots(out)
        em = fit_em(X, ks[0], ct, n_init=args.n_init, seed=args.seed, n_jobs=args.jobs)
        print_em(em, X, "EM (converged, the chains' start)")
        bayes, w, lo = sample_posterior(X, em, args)
        table = posterior_outputs(out, plots, em, bayes, X.shape[0])
        print_posterior(bayes, table, w, lo)
        to_netcdf(bayes.idata_, str(out.path("posterior.nc")))
        plots.fit(X, em=em, bayes=bayes, names=names)
        summary = base_summary("mcmc", args, X, names)
        summary.update(em=em_summary(X=X, em=em), posterior=bayes_summary(bayes, w, lo))
        summary["em_vs_posterior"] = records(table)
        return finish(out, plots, summary)


def majority_k(picks: dict[str, int]) -> int:
    """The K most criteria choose (the smaller K on a tie)."""
    votes: dict[int, int] = {}
    for k in picks.values():
        votes[k] = votes.get(k, 0) + 1
    return min(votes, key=lambda k: (-votes[k], k))


def compare(
    out: OutputFolder,
    plots: Plots,
    X: np.ndarray,
    ks: list[int],
    ct: str,
    args: Any,
    *,
    draws: int,
    indent: str = "",
) -> tuple[dict[str, Any], dict]:
    """AIC, BIC, ICL (EM) and WAIC, LOO (posterior) per K: print them, write
    ``comparison.csv`` and ``criteria.png``; returns the summary entries and the fitted models."""
    from ..bayes.compare import compare_models

    options = {**sampling_options(args), "draws": draws}
    for name in ("n_init", "k_max", "jobs"):  # the demo leaves them to compare_models
        if getattr(args, name, None) is not None:
            options["n_jobs" if name == "jobs" else name] = getattr(args, name)
    table, models = compare_models(
        X, ks, covariance_type=ct, progress=not args.quiet, return_models=True, **options
    )
    entries = print_comparison(table, indent=indent)
    write_table(out.path("comparison.csv"), table)
    how = "Gibbs sampler" if options.get("sampler", "gibbs") == "gibbs" else "NUTS"
    plots.criteria(
        table,
        title=f"Choosing K = {', '.join(map(str, ks))}, n = {X.shape[0]}: EM (AIC, BIC, ICL) and the "
        f"posterior by the {how} (WAIC, LOO, evidence)",
    )
    entries["comparison"] = records(table)
    return entries, models


def cmd_compare(args: Any) -> dict[str, Any]:
    ks = parse_k(args.k)
    bayes = bayes_available()
    cts = [bayes_covariance_type(args.covariance_type)] if bayes else covariance_types(args.covariance_type)
    with OutputFolder(args.out) as out:
        X, names = load(args)
        check_ks_fit(ks + ([args.k_max] if args.k_max else []), X.shape[0])
        plots = Plots(out)
        summary = base_summary("compare", args, X, names)
        summary.update(covariance_type=",".join(cts), scale="deviance (lower is better)")
        if bayes:
            entries, models = compare(out, plots, X, ks, cts[0], args, draws=args.draws)
            k_plot = majority_k(entries["chosen_within_2se"])
            em, posterior = models[(k_plot, cts[0])]
            rule = "the K most criteria choose"
        else:
            note(f"WAIC and LOO skipped: PyMC and ArviZ are not installed ({BAYES_EXTRA}); EM criteria only.")
            em, entries = em_comparison(out, plots, X, ks, cts, args)
            k_plot, posterior, rule = em.n_components, None, "the best by BIC"
        summary.update(entries)
        fit = "posterior mean" if posterior is not None else "EM"
        fit_plot = plots.fit(
            X, em=em, bayes=posterior, names=names, title=f"{fit}: K = {k_plot} ({rule}), n = {X.shape[0]}"
        )
        summary.update(plotted_k=k_plot, plotted_k_rule=f"{rule} ({fit_plot})")
        return finish(out, plots, summary)
