"""Posterior vs EM: a table of every parameter, and ArviZ plots with EM reference lines.

Components are aligned between the two fits: the posterior draws are relabelled
against the EM reference (:mod:`bayesgmm.bayes.relabel`) and the EM fit given here is
matched to that reference too, so row ``mean[0]`` is the same component on both sides.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["compare_em_posterior", "plot_posterior_vs_em", "plot_trace"]

COLUMNS = [
    "parameter", "em", "posterior_mean", "posterior_sd", "hdi_low", "hdi_high", "em_in_hdi", "z",
    "posterior_diagnostics",
]  # fmt: skip


def _check_bayes(bayes: Any) -> None:
    if not hasattr(bayes, "parameter_draws"):
        raise TypeError(
            f"bayes must be a fitted BayesianGaussianMixture. Got {type(bayes).__name__} instead."
        )


def compare_em_posterior(em: Any, bayes: Any, *, hdi_prob: float = 0.94):
    """One row per parameter: the EM estimate against its marginal posterior.

    Parameters
    ----------
    em : GaussianMixture or GMMParams
        A fitted EM solution (converged or not: the point is to see which one the
        posterior agrees with).
    bayes : BayesianGaussianMixture
        A fitted Bayesian mixture with the same number of components and features.
    hdi_prob : float, default=0.94
        Probability mass of the highest-density interval.

    Returns
    -------
    pandas.DataFrame
        Columns ``parameter`` (names of ``bayes.parameter_draws()``: ``weight[k]``,
        ``mean[k,f]``, ``sd[k,f]``, ``cov[k,i,j]``), ``em``, ``posterior_mean``,
        ``posterior_sd``, ``hdi_low``, ``hdi_high``, ``em_in_hdi``, ``z`` = (EM -
        posterior mean) / posterior sd, and ``posterior_diagnostics``: empty when the
        sampler's diagnostics pass, otherwise what fails (the same on every row) -- the
        draws then do not describe the posterior, and neither do the row's HDI and
        ``em_in_hdi``.
    """
    import arviz as az
    import pandas as pd

    _check_bayes(bayes)
    if not (isinstance(hdi_prob, float) and 0.0 < hdi_prob < 1.0):
        raise ValueError(f"The 'hdi_prob' parameter must be a float in (0, 1). Got {hdi_prob!r} instead.")
    from .diagnostics import diagnostic_problems

    draws = bayes.parameter_draws()
    ref = bayes.reference_values(em)
    failed = "; ".join(diagnostic_problems(bayes.diagnostics_, bayes.chains))
    rows = []
    for name, arr in draws.items():
        flat = np.asarray(arr, dtype=float).ravel()  # all chains pooled
        mean = float(flat.mean())
        sd = float(flat.std(ddof=1))
        low, high = (float(v) for v in az.hdi(flat, hdi_prob=hdi_prob))
        value = ref[name]
        rows.append(
            {
                "parameter": name,
                "em": value,
                "posterior_mean": mean,
                "posterior_sd": sd,
                "hdi_low": low,
                "hdi_high": high,
                "em_in_hdi": bool(low <= value <= high),
                "z": (value - mean) / sd if sd > 0 else float("nan"),
                "posterior_diagnostics": failed,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


@contextmanager
def _quiet_arviz_matplotlib():
    """ArviZ 0.23's plots call a matplotlib helper deprecated in matplotlib 3.11; the
    warning is addressed to ArviZ, not to our users, so it is silenced here (only it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"Passing a dict or None as alias_mapping", category=DeprecationWarning
        )
        yield


def _dataset(bayes: Any, var_names):
    import arviz as az

    draws = bayes.parameter_draws()
    if var_names is not None:
        missing = [v for v in var_names if v not in draws]
        if missing:
            raise ValueError(f"Unknown parameter name(s) {missing}. Known: {list(draws)}.")
        draws = {v: draws[v] for v in var_names}
    return az.convert_to_dataset(dict(draws))


def plot_posterior_vs_em(
    bayes: Any,
    em: Any = None,
    *,
    var_names: list[str] | None = None,
    hdi_prob: float = 0.94,
    ax: Any = None,
    **kwargs: Any,
):
    """Marginal posteriors (``arviz.plot_posterior``) with the EM estimates as reference values.

    Parameters
    ----------
    bayes : BayesianGaussianMixture
    em : GaussianMixture or GMMParams, optional
        Default: ``bayes.em_``.
    var_names : list of str, optional
        A subset of ``bayes.parameter_draws()``'s names.
    ax : matplotlib axes or array of axes, optional
    **kwargs
        Passed to :func:`arviz.plot_posterior`.

    Returns
    -------
    numpy array of matplotlib axes (never shown).
    """
    import arviz as az

    _check_bayes(bayes)
    ds = _dataset(bayes, var_names)
    ref = bayes.reference_values(em)
    ref_val = {name: [{"ref_val": ref[name]}] for name in ds.data_vars}
    with _quiet_arviz_matplotlib():
        return az.plot_posterior(ds, ref_val=ref_val, hdi_prob=hdi_prob, ax=ax, show=False, **kwargs)


def plot_trace(
    bayes: Any, em: Any = None, *, var_names: list[str] | None = None, axes: Any = None, **kwargs: Any
):
    """Trace plots (``arviz.plot_trace``) with the EM estimates as vertical/horizontal lines.

    # the same parameters as plot_posterior_vs_em: each plot documents its own
    Parameters
    ----------
    bayes : BayesianGaussianMixture
    em : GaussianMixture or GMMParams, optional
        Default: ``bayes.em_``.
    var_names : list of str, optional
    axes : array of matplotlib axes of shape (n_parameters, 2), optional
    **kwargs
        Passed to :func:`arviz.plot_trace`.

    Returns
    -------
    numpy array of matplotlib axes of shape (n_parameters, 2) (never shown).
    """
    import arviz as az

    _check_bayes(bayes)
    ds = _dataset(bayes, var_names)
    ref = bayes.reference_values(em)
    lines = [(name, {}, [ref[name]]) for name in ds.data_vars]
    with _quiet_arviz_matplotlib():
        return az.plot_trace(ds, lines=lines, axes=axes, show=False, **kwargs)
