"""Plots of fitted mixtures and of the choice of K. They draw only: every function takes
``ax=None`` (a new figure when None), returns the axes and never calls ``plt.show()``.

- :func:`plot_density`: 1-D data -- histogram, EM density, posterior predictive density
  with a pointwise band over the posterior draws;
- :func:`plot_clusters`: 2-D data (or two chosen features) -- points coloured by
  component, covariance ellipses;
- :func:`plot_criteria`: AIC/BIC/ICL and WAIC/LOO (with standard errors) against K, the
  chosen K marked;
- :func:`plot_em_vs_posterior`: the table of
  :func:`bayesgmm.bayes.posterior.compare_em_posterior` as a forest plot.

Trace and marginal-posterior plots: use ArviZ (``arviz.plot_trace(model.idata_)``).
matplotlib is imported inside the functions, so ``import bayesgmm`` does not need it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._validation import check_int, check_real, check_X

__all__ = ["plot_clusters", "plot_criteria", "plot_density", "plot_em_vs_posterior"]

_CRITERIA = ("aic", "bic", "icl", "waic", "loo", "evidence")
_LABELS = {
    "aic": "AIC",
    "bic": "BIC",
    "icl": "ICL",
    "waic": "WAIC",
    "loo": "PSIS-LOO",
    "evidence": "-2 log evidence",
}


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


def _posterior_mixture_draws(bayes: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights (S, K), means (S, K), sds (S, K)) of a fitted 1-D Bayesian mixture."""
    idata = getattr(bayes, "idata_", None)
    if idata is None:
        raise ValueError("bayes must be a fitted BayesianGaussianMixture (it has no 'idata_').")
    post = idata.posterior
    w = np.asarray(post["w"].values, dtype=float)
    S, K = w.shape[0] * w.shape[1], w.shape[-1]
    mu = np.asarray(post["mu"].values, dtype=float).reshape(S, -1)
    sd = np.asarray(post["sigma"].values, dtype=float).reshape(S, -1)
    if mu.shape[1] != K or sd.shape[1] != K:
        raise ValueError("plot_density needs a Bayesian mixture fitted on one feature.")
    return w.reshape(S, K), mu, sd


def plot_density(
    X: Any,
    em: Any = None,
    bayes: Any = None,
    *,
    ax: Any = None,
    bins: int | str = 60,
    grid_size: int = 400,
    max_draws: int = 500,
    band: float = 0.94,
    xlabel: str = "x",
) -> Any:
    """Histogram of 1-D data with the fitted mixture densities.

    Parameters
    ----------
    X : array-like of shape (n_samples,) or (n_samples, 1)
    em : GaussianMixture, optional
        Its density ``exp(score_samples)`` is drawn as a line.
    bayes : BayesianGaussianMixture, optional
        The posterior predictive density ``mean_s p(x | theta_s)`` as a line, with the
        pointwise central ``band`` interval of ``p(x | theta_s)`` over the draws shaded.
    ax : matplotlib Axes, optional
    bins : int or str, default=60
        Passed to ``Axes.hist``.
    grid_size : int, default=400
        Points of the x grid.
    max_draws : int, default=500
        At most this many posterior draws, evenly thinned (deterministic).
    band : float, default=0.94
        Probability of the shaded band.
    xlabel : str, default="x"

    Returns
    -------
    matplotlib Axes
    """
    from scipy.stats import norm

    X = check_X(X)
    if X.shape[1] != 1:
        raise ValueError(f"plot_density needs 1-D data. Got {X.shape[1]} features: use plot_clusters.")
    check_int(grid_size, "grid_size", minimum=2)
    check_int(max_draws, "max_draws")
    check_real(band, "band", strict=True)
    if band >= 1:
        raise ValueError(f"The 'band' parameter must be a float in (0, 1). Got {band!r} instead.")
    x = X[:, 0]
    ax = _axes(ax)
    ax.hist(x, bins=bins, density=True, color="0.75", edgecolor="0.6", linewidth=0.5, label="data")
    pad = 0.05 * (x.max() - x.min() or 1.0)
    grid = np.linspace(x.min() - pad, x.max() + pad, grid_size)
    if em is not None:
        ax.plot(grid, np.exp(em.score_samples(grid[:, None])), color="C0", lw=2, label="EM")
    if bayes is not None:
        w, mu, sd = _posterior_mixture_draws(bayes)
        S = w.shape[0]
        take = np.unique(np.linspace(0, S - 1, min(S, max_draws)).round().astype(int))
        w, mu, sd = w[take], mu[take], sd[take]
        dens = np.einsum("sk,ski->si", w, norm.pdf(grid[None, None, :], mu[..., None], sd[..., None]))
        lo, hi = np.quantile(dens, [(1 - band) / 2, (1 + band) / 2], axis=0)
        ax.fill_between(grid, lo, hi, color="C1", alpha=0.3, lw=0, label=f"posterior {band:.0%} band")
        ax.plot(grid, dens.mean(axis=0), color="C1", lw=2, ls="--", label="posterior predictive")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend()
    return ax


def _full_covariances(model: Any) -> np.ndarray:
    from .params import GMMParams

    cov = np.asarray(model.covariances_, dtype=float)
    w = np.asarray(model.weights_, dtype=float)
    return GMMParams(w / w.sum(), model.means_, cov, model.covariance_type).covariances_full()


def plot_clusters(
    X: Any,
    model: Any,
    *,
    ax: Any = None,
    features: Sequence[int] = (0, 1),
    n_std: Sequence[float] = (1.0, 2.0),
    s: float = 8.0,
    feature_names: Sequence[str] | None = None,
) -> Any:
    """Points coloured by their most probable component, with covariance ellipses.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        At least 2 features; two of them (``features``) are drawn.
    model : fitted GaussianMixture or BayesianGaussianMixture
        Uses ``predict``, ``means_`` and ``covariances_`` (posterior means for the
        Bayesian model).
    ax : matplotlib Axes, optional
    features : pair of int, default=(0, 1)
    n_std : sequence of float, default=(1, 2)
        One ellipse per value: the contour at that many standard deviations (Mahalanobis
        distance) of the component's 2-D marginal.
    s : float
        Marker size.
    feature_names : sequence of str, optional
        Axis labels (one name per feature of X); default "feature i".

    Returns
    -------
    matplotlib Axes
        One ``Ellipse`` patch per component and ``n_std`` value in ``ax.patches``.
    """
    from matplotlib.patches import Ellipse

    X = check_X(X)
    if X.shape[1] < 2:
        raise ValueError("plot_clusters needs at least 2 features. Got 1: use plot_density.")
    f = [int(i) for i in features]
    if len(f) != 2 or len(set(f)) != 2 or not all(0 <= i < X.shape[1] for i in f):
        raise ValueError(
            f"The 'features' parameter must be two distinct feature indices in [0, {X.shape[1] - 1}]. "
            f"Got {tuple(features)!r} instead."
        )
    ax = _axes(ax)
    labels = model.predict(X)
    means = np.asarray(model.means_, dtype=float)
    cov = _full_covariances(model)
    for k in range(means.shape[0]):
        color = f"C{k % 10}"
        pts = X[labels == k]
        ax.scatter(pts[:, f[0]], pts[:, f[1]], s=s, color=color, alpha=0.5, lw=0, label=f"component {k}")
        c2 = cov[k][np.ix_(f, f)]
        vals, vecs = np.linalg.eigh(c2)
        angle = float(np.degrees(np.arctan2(vecs[1, -1], vecs[0, -1])))
        for level in n_std:
            ax.add_patch(
                Ellipse(
                    xy=(means[k, f[0]], means[k, f[1]]),
                    width=2 * level * np.sqrt(max(vals[-1], 0.0)),
                    height=2 * level * np.sqrt(max(vals[0], 0.0)),
                    angle=angle,
                    fill=False,
                    edgecolor=color,
                    lw=1.5,
                )
            )
        ax.plot(means[k, f[0]], means[k, f[1]], marker="x", color="k", ms=8, mew=2, ls="none")
    names = list(feature_names) if feature_names is not None else [f"feature {i}" for i in range(X.shape[1])]
    ax.set_xlabel(names[f[0]])
    ax.set_ylabel(names[f[1]])
    ax.legend(loc="best", fontsize="small")
    ax.autoscale_view()
    return ax


def plot_criteria(
    table: Any,
    *,
    ax: Any = None,
    criteria: Sequence[str] | None = None,
    relative: bool = True,
) -> Any:
    """Information criteria against K, with the K each one chooses marked.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`bayesgmm.bayes.compare.compare_models` or :func:`bayesgmm.select`:
        column ``k``, criterion columns on the deviance scale, optionally
        ``covariance_type`` and the standard errors ``waic_se`` / ``loo_se`` /
        ``evidence_se`` (drawn as error bars; ``evidence`` is ``-2 log p(X | K)``, on
        BIC's scale).
    ax : matplotlib Axes, optional
    criteria : sequence of str, optional
        Default: every one of aic, bic, icl, waic, loo, evidence that the table has
        (non-missing).
    relative : bool, default=True
        Plot each criterion minus its best value (so the chosen K sits at 0 and criteria
        of very different size share the axes, on a symmetric-log scale); False plots
        the raw values.

    Returns
    -------
    matplotlib Axes
        One line per criterion (per covariance type when the table has several), a star
        marker at each criterion's chosen K (stars of criteria choosing the same K are set
        side by side). Error bars: with ``relative=True`` the paired standard error of the
        difference to the best K (``waic_diff_se``, ``loo_diff_se``) when the table has it,
        otherwise ``waic_se`` / ``loo_se``.
    """
    if "k" not in table.columns:
        raise ValueError("The table must have a 'k' column (from compare_models or select).")
    if criteria is None:
        criteria = [c for c in _CRITERIA if c in table.columns and table[c].notna().any()]
    else:
        missing = [c for c in criteria if c not in table.columns]
        if missing:
            raise ValueError(f"The table has no column(s) {missing}. Columns: {list(table.columns)}.")
    if not criteria:
        raise ValueError(f"The table has none of the criteria {list(_CRITERIA)}.")
    ax = _axes(ax)
    types = list(dict.fromkeys(table["covariance_type"])) if "covariance_type" in table.columns else [None]
    styles = ["-", "--", ":", "-."]
    lows: list[float] = [0.0]
    shift = 0.06  # stars of criteria choosing the same K side by side
    for i, crit in enumerate(criteria):
        color = f"C{i % 10}"
        values = table[crit].to_numpy(dtype=float)
        best = np.nanmin(values)
        offset = best if relative else 0.0
        for j, ct in enumerate(types):
            rows = table if ct is None else table[table["covariance_type"] == ct]
            rows = rows[rows[crit].notna()].sort_values("k")
            if rows.empty:
                continue
            k = rows["k"].to_numpy(dtype=float)
            y = rows[crit].to_numpy(dtype=float) - offset
            label = _LABELS.get(crit, crit) + (f" ({ct})" if len(types) > 1 else "")
            se_col = f"{crit}_diff_se" if relative and f"{crit}_diff_se" in rows.columns else f"{crit}_se"
            if se_col in rows.columns and rows[se_col].notna().any():
                lows.append(float(np.nanmin(y - rows[se_col].to_numpy(dtype=float))))
                yerr = rows[se_col].to_numpy(dtype=float)
                ax.errorbar(
                    k, y, yerr=yerr, color=color, ls=styles[j % 4], marker="o", ms=4, capsize=3, label=label
                )
            else:
                ax.plot(k, y, color=color, ls=styles[j % 4], marker="o", ms=4, label=label)
        pick = int(np.nanargmin(values))
        x_star = float(table["k"].iloc[pick]) + shift * (i - (len(criteria) - 1) / 2)
        ax.plot(
            x_star,
            values[pick] - offset,
            marker="*",
            ms=16,
            color=color,
            markeredgecolor="k",
            ls="none",
            zorder=5,
            gid=f"chosen_{crit}",
        )
    ks = np.unique(table["k"].to_numpy(dtype=int))
    ax.set_xticks(ks)
    ax.set_xlabel("K (number of components)")
    if relative:
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(bottom=min(-0.5, 1.5 * min(lows)))
        ax.set_ylabel("criterion - its minimum (deviance scale; lower is better)")
    else:
        ax.set_ylabel("criterion (deviance scale; lower is better)")
    ax.set_title("Choosing K (star: each criterion's choice)")
    ax.legend(fontsize="small")
    return ax


def plot_em_vs_posterior(table: Any, *, ax: Any = None, standardize: bool = True) -> Any:
    """Forest plot of :func:`bayesgmm.bayes.posterior.compare_em_posterior`'s table.

    Each parameter is one row: its posterior HDI as a horizontal bar with the posterior
    mean as a dot, and the EM estimate as a cross (red when outside the HDI).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``parameter``, ``em``, ``posterior_mean``, ``posterior_sd``,
        ``hdi_low``, ``hdi_high`` (and optionally ``em_in_hdi``).
    ax : matplotlib Axes, optional
    standardize : bool, default=True
        Put every row on the scale of its own posterior: ``(value - posterior_mean) /
        posterior_sd``, so weights, means and standard deviations share one axis (the EM
        cross then sits at the table's ``z``). False plots raw values.

    Returns
    -------
    matplotlib Axes
    """
    needed = ["parameter", "em", "posterior_mean", "posterior_sd", "hdi_low", "hdi_high"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(f"The table has no column(s) {missing}: pass the table of compare_em_posterior.")
    ax = _axes(ax)
    n = len(table)
    y = np.arange(n)[::-1]
    mean = table["posterior_mean"].to_numpy(dtype=float)
    sd = table["posterior_sd"].to_numpy(dtype=float)
    lo, hi, em = (table[c].to_numpy(dtype=float) for c in ("hdi_low", "hdi_high", "em"))
    if standardize:
        with np.errstate(divide="ignore", invalid="ignore"):
            lo, hi, em = ((v - mean) / sd for v in (lo, hi, em))
        mean = np.zeros(n)
    inside = (
        table["em_in_hdi"].to_numpy(dtype=bool)
        if "em_in_hdi" in table.columns
        else (table["em"] >= table["hdi_low"]).to_numpy() & (table["em"] <= table["hdi_high"]).to_numpy()
    )
    ax.hlines(y, lo, hi, color="C0", lw=3, label="posterior HDI")
    ax.plot(mean, y, "o", color="C0", label="posterior mean")
    ax.plot(em[inside], y[inside], "x", color="k", ms=8, mew=2, ls="none", label="EM (inside HDI)")
    if (~inside).any():
        ax.plot(em[~inside], y[~inside], "x", color="C3", ms=8, mew=2, ls="none", label="EM (outside HDI)")
    ax.set_yticks(y)
    ax.set_yticklabels(table["parameter"].astype(str).tolist())
    if standardize:
        ax.axvline(0.0, color="0.7", lw=1, zorder=0)
        ax.set_xlabel("(value - posterior mean) / posterior sd")
    else:
        ax.set_xlabel("value")
    ax.set_title("EM estimate vs posterior")
    ax.legend(fontsize="small", loc="best")
    return ax
