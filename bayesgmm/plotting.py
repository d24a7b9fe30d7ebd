"""Plots of fitted mixtures and of the choice of K. They draw only: every function takes
``ax=None`` (a new figure when None), returns the axes and never calls ``plt.show()``.

- :func:`plot_density`: 1-D data -- histogram, EM density, posterior predictive density
  with a pointwise band over the posterior draws;
- :func:`plot_clusters`: 2-D data (or two chosen features) -- points coloured by
  component, covariance ellipses;
- :func:`plot_criteria`: AIC/BIC/ICL and WAIC/LOO (with standard errors) against K, the
  chosen K marked;
- :func:`plot_em_vs_posterior`: the table of
  :func:`bayesgmm.bayes.posterior.compare_em_posterior` as a forest plot, a posterior
  that failed its diagnostics marked at the top;
- :func:`plot_traces`: every parameter's chains (trace and per-chain histogram), one row
  each, with a reference value such as the EM estimate.

Each title states what is shown (K, n where the plot has the data, which fit); legends
sit outside the data, to the right of the axes. matplotlib is imported inside the
functions, so ``import bayesgmm`` does not need it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._validation import check_int, check_real, check_X

__all__ = ["plot_clusters", "plot_criteria", "plot_density", "plot_em_vs_posterior", "plot_traces"]

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
        _, ax = plt.subplots(figsize=(9, 4.5))
    return ax


def _legend_outside(ax, handles=None, labels=None):
    """The legend to the right of the axes, where it covers no data."""
    kw = {} if handles is None else {"handles": handles, "labels": labels}
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small", **kw)


def _failed_posterior(model: Any) -> str:
    """What fails in a fitted Bayesian model's diagnostics ("" when all pass, or for EM)."""
    dg = getattr(model, "diagnostics_", None)
    if not dg:
        return ""
    from .bayes.diagnostics import diagnostic_problems

    return "; ".join(diagnostic_problems(dg, int(getattr(model, "chains", 1))))


def _set_title(ax, title: str, problems: str = "") -> None:
    """The title (long lines wrapped), under a red banner when the posterior drawn failed
    its diagnostics."""
    import textwrap

    title = "\n".join(textwrap.fill(line, 80) for line in title.split("\n"))
    if not problems:
        ax.set_title(title, fontsize="medium")
        return
    banner = textwrap.fill(f"POSTERIOR FAILED ITS DIAGNOSTICS: {problems}", 80)
    ax.set_title(f"{banner}\n{title}", color="C3", fontweight="bold", fontsize="medium")
    for side in ax.spines.values():
        side.set_edgecolor("C3")
        side.set_linewidth(2)


def _k_range(ks) -> str:
    ks = sorted({int(k) for k in ks})
    if len(ks) > 2 and ks == list(range(ks[0], ks[-1] + 1)):
        return f"{ks[0]}..{ks[-1]}"
    return ", ".join(str(k) for k in ks)


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
    title: str | None = None,
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
    title : str, optional
        Default: which fits are drawn, their K and n. A posterior that failed its
        diagnostics is marked above it, in red.

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
    if title is None:
        fits = [f for f, m in (("EM", em), ("posterior", bayes)) if m is not None]
        k = em.n_components if em is not None else (w.shape[1] if bayes is not None else None)
        title = (" and ".join(fits) or "data") + (f": K = {k}" if k else "") + f", n = {x.size}"
    _set_title(ax, title, _failed_posterior(bayes))
    _legend_outside(ax)
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
    title: str | None = None,
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
    title : str, optional
        Default: the fit (EM, or the posterior mean of a Bayesian model), K and n. When X
        has more than two features, a line naming the two shown is added below it; a
        posterior that failed its diagnostics is marked above it, in red.

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
    if title is None:
        fit = "posterior mean" if hasattr(model, "idata_") else "EM"
        title = f"{fit}: K = {means.shape[0]}, n = {X.shape[0]}"
    if X.shape[1] > 2:
        title += (
            f"\ncolumns {names[f[0]]} (x) and {names[f[1]]} (y) of {X.shape[1]}: "
            "a projection, the other columns not shown"
        )
    _set_title(ax, title, _failed_posterior(model))
    _legend_outside(ax)
    ax.autoscale_view()
    return ax


def _not_ranked(table: Any, crit: str, values: np.ndarray) -> np.ndarray:
    """Rows that have a value of ``crit`` but are not ranked on it (a posterior that failed
    its diagnostics, or an estimate that flags itself), as
    :func:`bayesgmm.bayes.compare.compare` decides; none for a table without ranks."""
    has = ~np.isnan(values)
    rank = table[f"rank_{crit}"] if f"rank_{crit}" in table.columns else None
    if rank is None:
        return np.zeros(len(table), dtype=bool)
    if rank.notna().any():
        return has & rank.isna().to_numpy()
    # no row ranked (the choice is undetermined, or nothing passed): the rows that failed
    failed = np.zeros(len(table), dtype=bool)
    if "flag" in table.columns:
        failed |= table["flag"].fillna("").astype(str).to_numpy() != ""
    warn = f"{crit}_warning"
    if crit not in ("waic", "loo") and warn in table.columns:  # WAIC/LOO warnings do not unrank
        failed |= table[warn].fillna(False).astype(bool).to_numpy()
    return has & failed


def _choice(table: Any, crit: str, values: np.ndarray) -> int | None:
    """Row of the criterion's choice: the first row ranked 1 (as
    :func:`bayesgmm.criteria.chosen` reads it); None when no row is (undetermined, or
    nothing ranked). A table without ranks: the lowest value."""
    rank_col = f"rank_{crit}"
    if rank_col not in table.columns:
        return int(np.nanargmin(values)) if np.isfinite(values).any() else None
    first = np.flatnonzero((table[rank_col] == 1).fillna(False).astype(bool).to_numpy())
    return int(first[0]) if first.size else None


def plot_criteria(
    table: Any,
    *,
    ax: Any = None,
    criteria: Sequence[str] | None = None,
    relative: bool = True,
    title: str | None = None,
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
        Plot each criterion minus its best ranked value (so the chosen K sits at 0 and
        criteria of very different size share the axes, on a symmetric-log scale); False
        plots the raw values.
    title : str, optional
        Default: the range of K and what the stars mean.

    Returns
    -------
    matplotlib Axes
        One line per criterion (per covariance type when the table has several). The
        choice is the table's: a star (gid ``chosen_<criterion>``) on the row ranked 1 in
        ``rank_<criterion>`` -- the K that :func:`bayesgmm.criteria.chosen` and the
        printed table report -- exactly at its K (stars of criteria choosing the same K
        are drawn one inside the other, largest first); a table without ranks: the lowest
        value. A row that has a value but is not ranked (its posterior failed its
        diagnostics, or its estimate flags itself) is drawn as an open circle and never
        starred; a criterion whose choice is undetermined has no star and says so in the
        legend. Error bars: with ``relative=True`` the paired standard error of the
        difference to the best K (``waic_diff_se``, ``loo_diff_se``) when the table has
        it, otherwise ``waic_se`` / ``loo_se``.
    """
    from matplotlib.lines import Line2D

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
    stars: dict[float, list[tuple[str, float, str]]] = {}  # K -> [(criterion, y, colour)]
    any_unranked = False
    undetermined = []
    for i, crit in enumerate(criteria):
        color = f"C{i % 10}"
        values = table[crit].to_numpy(dtype=float)
        unranked = _not_ranked(table, crit, values)
        any_unranked |= bool(unranked.any())
        kept = values[~unranked]
        best = np.nanmin(kept) if np.isfinite(kept).any() else np.nanmin(values)
        offset = best if relative else 0.0
        pick = _choice(table, crit, values)
        determined = pick is not None
        if not determined:
            undetermined.append(crit)
        for j, ct in enumerate(types):
            sel = ~np.isnan(values)
            if ct is not None:
                sel &= (table["covariance_type"] == ct).to_numpy(dtype=bool)
            if not sel.any():
                continue
            order = np.argsort(table["k"].to_numpy(dtype=float)[sel], kind="stable")
            rows = table[sel].iloc[order]
            k = rows["k"].to_numpy(dtype=float)
            y = values[sel][order] - offset
            lows.append(float(np.nanmin(y)))
            label = _LABELS.get(crit, crit) + (f" ({ct})" if len(types) > 1 else "")
            if not determined:
                label += " (undetermined)"
            se_col = f"{crit}_diff_se" if relative and f"{crit}_diff_se" in rows.columns else f"{crit}_se"
            if se_col in rows.columns and rows[se_col].notna().any():
                lows.append(float(np.nanmin(y - rows[se_col].to_numpy(dtype=float))))
                yerr = rows[se_col].to_numpy(dtype=float)
                ax.errorbar(
                    k, y, yerr=yerr, color=color, ls=styles[j % 4], marker="o", ms=4, capsize=3, label=label
                )
            else:
                ax.plot(k, y, color=color, ls=styles[j % 4], marker="o", ms=4, label=label)
            off = unranked[sel][order]
            if off.any():
                ax.plot(k[off], y[off], "o", ms=8, mfc="white", mec=color, mew=1.5, ls="none", zorder=4)
        if determined:
            k_star = float(table["k"].iloc[pick])
            stars.setdefault(k_star, []).append((crit, values[pick] - offset, color))
    for k_star, marks in stars.items():
        for n, (crit, y, color) in enumerate(marks):
            ax.plot(
                k_star, y, marker="*", ms=24 - 14 * n / len(marks), color=color,
                markeredgecolor="k", mew=0.8, ls="none", zorder=5 + n, gid=f"chosen_{crit}",
            )  # fmt: skip
        for y in sorted({y for _, y, _ in marks}):  # which criteria, under their star(s)
            names = ", ".join(_LABELS.get(c, c) for c, yc, _ in marks if yc == y)
            ax.annotate(
                names, (k_star, y), xytext=(0, -16), textcoords="offset points", ha="center", va="top",
                fontsize="x-small", bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.7", "alpha": 0.9},
                zorder=20,
            )  # fmt: skip
    ks = np.unique(table["k"].to_numpy(dtype=int))
    ax.set_xticks(ks)
    ax.set_xlim(ks[0] - 0.3, ks[-1] + 0.3)
    ax.set_xlabel("K (number of components)")
    if relative:
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(bottom=min(-0.5, 1.5 * min(lows)))
        ax.set_ylabel("criterion - its best ranked value\n(deviance scale; lower is better)")
    else:
        ax.set_ylabel("criterion (deviance scale; lower is better)")
    _set_title(ax, title if title is not None else f"Choosing K = {_k_range(ks)}")
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], marker="*", ms=12, color="0.6", markeredgecolor="k", ls="none"))
    labels.append("the criterion's choice")
    if any_unranked:
        handles.append(Line2D([], [], marker="o", ms=8, mfc="white", mec="0.3", ls="none"))
        labels.append("not ranked (see the table's flag)")
    _legend_outside(ax, handles, labels)
    return ax


def plot_em_vs_posterior(table: Any, *, ax: Any = None, standardize: bool = True, title: str | None = None) -> Any:
    """Forest plot of :func:`bayesgmm.bayes.posterior.compare_em_posterior`'s table.

    Each parameter is one row: its posterior HDI as a horizontal bar with the posterior
    mean as a dot, and the EM estimate as a cross (red when outside the HDI).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``parameter``, ``em``, ``posterior_mean``, ``posterior_sd``,
        ``hdi_low``, ``hdi_high`` (and optionally ``em_in_hdi`` and
        ``posterior_diagnostics``: when it is not empty, the posterior failed its
        diagnostics, and the figure says so at its top, in red, and its legend calls the
        HDIs those of a failed posterior: they then do not describe the posterior).
    ax : matplotlib Axes, optional
    standardize : bool, default=True
        Put every row on the scale of its own posterior: ``(value - posterior_mean) /
        posterior_sd``, so weights, means and standard deviations share one axis (the EM
        cross then sits at the table's ``z``). False plots raw values.
    title : str, optional
        Default: "EM estimate vs posterior" and K (from the parameter names).

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
    problems = ""
    if "posterior_diagnostics" in table.columns:
        problems = next((str(p) for p in table["posterior_diagnostics"] if isinstance(p, str) and p), "")
    of = " of a FAILED posterior" if problems else ""
    ax.hlines(y, lo, hi, color="C0", lw=3, label=f"posterior HDI{of}")
    ax.plot(mean, y, "o", color="C0", label=f"posterior mean{of}")
    ax.plot(em[inside], y[inside], "x", color="k", ms=8, mew=2, ls="none", label=f"EM (inside HDI{of})")
    if (~inside).any():
        ax.plot(em[~inside], y[~inside], "x", color="C3", ms=8, mew=2, ls="none", label=f"EM (outside HDI{of})")
    ax.set_yticks(y)
    ax.set_yticklabels(table["parameter"].astype(str).tolist())
    if standardize:
        ax.axvline(0.0, color="0.7", lw=1, zorder=0)
        ax.set_xlabel("(value - posterior mean) / posterior sd")
    else:
        ax.set_xlabel("value")
    if title is None:
        k = sum(str(p).startswith("weight[") for p in table["parameter"]) or 1
        title = f"EM estimate vs posterior: K = {k}"
    _set_title(ax, title, problems)
    _legend_outside(ax)
    return ax


def plot_traces(
    draws: Any,
    reference: Any = None,
    *,
    fig: Any = None,
    title: str | None = None,
    bins: int = 30,
) -> np.ndarray:
    """Every parameter's chains, one row each: a histogram per chain (left) and the trace
    (right), with a reference value (e.g. the EM estimate) as a line on both.

    Unlike ``arviz.plot_trace`` it leaves out no parameter whatever their number (ArviZ
    stops at ``rcParams["plot.max_subplots"]``): the figure grows with the rows.

    Parameters
    ----------
    draws : mapping of str -> array of shape (chains, draws)
        E.g. ``BayesianGaussianMixture.parameter_draws()``.
    reference : mapping of str -> float, optional
        E.g. ``BayesianGaussianMixture.reference_values()``.
    fig : matplotlib Figure, optional
        Drawn into (its axes cleared); default a new figure sized to the rows.
    title : str, optional
    bins : int, default=30

    Returns
    -------
    numpy array of matplotlib Axes of shape (n_parameters, 2)
    """
    import matplotlib.pyplot as plt

    names = list(draws)
    if not names:
        raise ValueError("The 'draws' parameter must hold at least one parameter. Got none.")
    check_int(bins, "bins")
    rows = len(names)
    if fig is None:
        fig = plt.figure(figsize=(9, 1.3 * rows + 0.9))
    else:
        fig.clear()
    axes = np.asarray(fig.subplots(rows, 2, squeeze=False, gridspec_kw={"width_ratios": [1, 2]}))
    for r, name in enumerate(names):
        arr = np.atleast_2d(np.asarray(draws[name], dtype=float))
        left, right = axes[r]
        edges = np.histogram_bin_edges(arr, bins=bins)
        for c in range(arr.shape[0]):
            color = f"C{c % 10}"
            left.hist(arr[c], bins=edges, histtype="step", density=True, color=color, label=f"chain {c}")
            right.plot(arr[c], color=color, lw=0.6, alpha=0.8)
        if reference is not None and name in reference:
            left.axvline(reference[name], color="k", ls="--", lw=1, label="reference")
            right.axhline(reference[name], color="k", ls="--", lw=1)
        left.set_ylabel(name, rotation=0, ha="right", va="center")
        left.set_yticks([])
        right.tick_params(labelsize="small")
        left.tick_params(labelsize="small")
    axes[-1, 1].set_xlabel("draw")
    axes[0, 0].set_title("per chain", fontsize="small")
    axes[0, 1].set_title("trace", fontsize="small")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", fontsize="small", ncol=len(labels))
    fig.suptitle(title if title is not None else f"{rows} parameters", x=0.02, ha="left")
    return axes
