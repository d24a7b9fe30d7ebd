"""Posterior vs EM: a table of every parameter, and plots of the draws with EM reference lines.

Components are aligned between the two fits: the posterior draws are relabelled
against the EM reference (:mod:`bayesgmm.bayes.relabel`) and the EM fit given here is
matched to that reference too, so row ``mean[0]`` is the same component on both sides.

The plots are drawn with matplotlib from the draws, in the layout of ArviZ 0.23's
``plot_posterior`` and ``plot_trace`` (ArviZ 1.x has neither in that form): the same
figure whichever ArviZ is installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _arviz

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
        low, high = _arviz.hdi(flat, hdi_prob)
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


def _selected_draws(bayes: Any, var_names) -> dict[str, np.ndarray]:
    """``name -> (chain, draw)`` draws of the named parameters (all by default)."""
    draws = bayes.parameter_draws()
    if var_names is not None:
        missing = [v for v in var_names if v not in draws]
        if missing:
            raise ValueError(f"Unknown parameter name(s) {missing}. Known: {list(draws)}.")
        draws = {v: draws[v] for v in var_names}
    return {name: np.asarray(arr, dtype=float) for name, arr in draws.items()}


def _density(values: np.ndarray, size: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian kernel density estimate of 1-D draws on a grid over their range (one
    point, of height 1, for constant draws)."""
    from scipy.stats import gaussian_kde

    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.array([lo]), np.array([1.0])
    grid = np.linspace(lo, hi, size)
    return grid, gaussian_kde(values)(grid)


def _axes_grid(n: int, ax: Any, ncols: int, width: float, height: float):
    """``n`` axes: those given (one Axes, or an array of at least ``n``), else a new figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        nrows = -(-n // ncols)
        ncols = min(n, ncols)
        _, grid = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
        for extra in grid.ravel()[n:]:
            extra.remove()
        return grid.ravel()[:n]
    axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
    if axes.size < n:
        raise ValueError(f"The 'ax' argument must hold at least {n} axes (one per parameter). Got {axes.size}.")
    return axes[:n]


def plot_posterior_vs_em(
    bayes: Any,
    em: Any = None,
    *,
    var_names: list[str] | None = None,
    hdi_prob: float = 0.94,
    ax: Any = None,
    **kwargs: Any,
):
    """Marginal posteriors with their HDI, mean and the EM estimate, one panel per parameter.

    Each panel: the kernel density of the pooled draws, the ``hdi_prob`` highest-density
    interval as a bar along the bottom, the posterior mean in the title and the EM value as
    a vertical line (in the layout of ArviZ 0.23's ``plot_posterior`` with ``ref_val``).

    Parameters
    ----------
    bayes : BayesianGaussianMixture
    em : GaussianMixture or GMMParams, optional
        Default: ``bayes.em_``.
    var_names : list of str, optional
        A subset of ``bayes.parameter_draws()``'s names.
    hdi_prob : float, default=0.94
    ax : matplotlib Axes or array of Axes, optional
        At least one per parameter; default: a new figure, three panels a row.
    **kwargs
        matplotlib line properties of the density (``Axes.plot``).

    Returns
    -------
    numpy array of matplotlib Axes of shape (n_parameters,) (never shown).
    """
    _check_bayes(bayes)
    if not (isinstance(hdi_prob, float) and 0.0 < hdi_prob < 1.0):
        raise ValueError(f"The 'hdi_prob' parameter must be a float in (0, 1). Got {hdi_prob!r} instead.")
    draws = _selected_draws(bayes, var_names)
    ref = bayes.reference_values(em)
    new = ax is None
    axes = _axes_grid(len(draws), ax, ncols=3, width=4.0, height=3.0)
    for panel, (name, arr) in zip(axes, draws.items(), strict=True):
        flat = arr.ravel()
        grid, dens = _density(flat)
        panel.plot(grid, dens, **{"color": "C0", **kwargs})
        low, high = _arviz.hdi(flat, hdi_prob)
        panel.plot([low, high], [0.0, 0.0], color="k", lw=4, solid_capstyle="butt")
        panel.annotate(f"{hdi_prob:.0%} HDI", ((low + high) / 2, 0.0), xytext=(0, 6),
                       textcoords="offset points", ha="center", va="bottom")  # fmt: skip
        panel.vlines(ref[name], 0.0, dens.max(), colors="C3", linestyles="--", label="EM")
        panel.set_title(name)
        panel.set_xlabel(f"mean {flat.mean():.4g}, EM {ref[name]:.4g}")
        panel.set_yticks([])
    if new:  # titles and labels clear of the neighbouring panels
        axes[0].figure.tight_layout()
    return axes


def plot_trace(
    bayes: Any, em: Any = None, *, var_names: list[str] | None = None, axes: Any = None, **kwargs: Any
):
    """Per-chain densities and traces of the draws, the EM estimates as reference lines.

    One row per parameter (in the layout of ArviZ 0.23's ``plot_trace``): left, the kernel
    density of each chain's draws with the EM value as a vertical line; right, each
    chain's draws against the draw index with the EM value as a horizontal line.

    # the same parameters as plot_posterior_vs_em: each plot documents its own
    Parameters
    ----------
    bayes : BayesianGaussianMixture
    em : GaussianMixture or GMMParams, optional
        Default: ``bayes.em_``.
    var_names : list of str, optional
    axes : array of matplotlib Axes of shape (n_parameters, 2), optional
    **kwargs
        matplotlib line properties of the densities and traces (``Axes.plot``).

    Returns
    -------
    numpy array of matplotlib Axes of shape (n_parameters, 2) (never shown).
    """
    import matplotlib.pyplot as plt

    _check_bayes(bayes)
    draws = _selected_draws(bayes, var_names)
    ref = bayes.reference_values(em)
    n = len(draws)
    new = axes is None
    if new:
        _, axes = plt.subplots(n, 2, figsize=(10, 2.2 * n), squeeze=False)
    axes = np.asarray(axes, dtype=object)
    if axes.shape != (n, 2):
        raise ValueError(f"The 'axes' argument must have shape ({n}, 2). Got {axes.shape}.")
    for (left, right), (name, arr) in zip(axes, draws.items(), strict=True):
        top = 0.0
        for c, chain in enumerate(arr):
            grid, dens = _density(chain)
            left.plot(grid, dens, **{"color": f"C{c % 10}", "lw": 1, **kwargs})
            right.plot(np.arange(chain.size), chain, **{"color": f"C{c % 10}", "lw": 0.5, **kwargs})
            top = max(top, float(dens.max()))
        left.vlines(ref[name], 0.0, top, colors="k", linestyles="--", label="EM")
        right.hlines(ref[name], 0, arr.shape[1] - 1, colors="k", linestyles="--", label="EM")
        left.set_title(name)
        right.set_title(name)
        left.set_yticks([])
    if new:  # titles and labels clear of the neighbouring panels
        axes[0, 0].figure.tight_layout()
    return axes
