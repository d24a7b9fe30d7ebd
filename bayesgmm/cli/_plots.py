"""The PNG plots of a command, written when matplotlib is installed and skipped (with a note
naming the extra that installs it) when it is not, so that EM works on the minimal install."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._args import BAYES_EXTRA
from ._output import OutputFolder
from ._report import note

__all__ = ["Plots"]


def _matplotlib_pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, never a window
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


class Plots:
    """Writes plots into an output folder, or records their names as skipped."""

    def __init__(self, out: OutputFolder) -> None:
        self.out = out
        self.plt = _matplotlib_pyplot()
        self.skipped: list[str] = []

    def _save(self, name: str, fig: Any) -> str:
        fig.tight_layout()
        fig.savefig(self.out.path(name), dpi=110)
        self.plt.close(fig)
        return name

    def _new(self, name: str, height: float = 4.5) -> Any:
        if self.plt is None:
            self.skipped.append(name)
            return None
        return self.plt.subplots(figsize=(9, height))

    def fit(self, X: np.ndarray, em: Any = None, bayes: Any = None, names: Any = None, title: str | None = None) -> str:
        """The data with the fitted mixture: ``density.png`` (1-D) or ``clusters.png``;
        ``title`` (default: the plot's own, K and n) names the fit."""
        name = "density.png" if X.shape[1] == 1 else "clusters.png"
        new = self._new(name)
        if new is not None:
            from .. import plotting

            fig, ax = new
            if X.shape[1] == 1:
                plotting.plot_density(
                    X, em=em, bayes=bayes, ax=ax, xlabel=names[0] if names else "x", title=title
                )
            else:
                plotting.plot_clusters(
                    X, bayes if bayes is not None else em, ax=ax, feature_names=names, title=title
                )
            self._save(name, fig)
        return name

    def criteria(self, table: Any, title: str | None = None) -> None:
        """The criteria against K: ``criteria.png``."""
        new = self._new("criteria.png")
        if new is not None:
            from .. import plotting

            fig, ax = new
            plotting.plot_criteria(table, ax=ax, title=title)
            self._save("criteria.png", fig)

    def posterior(self, bayes: Any, table: Any, n: int) -> None:
        """The chains (``trace.png``, every parameter) and the EM estimate against the
        posterior (``em_vs_posterior.png``, marked at its top when the posterior failed its
        diagnostics)."""
        if self.plt is None:
            self.skipped += ["trace.png", "em_vs_posterior.png"]
            return
        from .. import plotting

        fit = f"K = {bayes.n_components}, n = {n}, {bayes.chains} chain(s) x {bayes.draws} draws"
        fig = self.plt.figure(figsize=(9, 1.3 * len(table) + 0.9))
        plotting.plot_traces(
            bayes.parameter_draws(), bayes.reference_values(), fig=fig,
            title=f"Posterior draws: {fit} (dashed: the EM estimate the chains started from)",
        )  # fmt: skip
        self._save("trace.png", fig)
        fig, ax = self.plt.subplots(figsize=(9, 0.4 * len(table) + 2.0))
        plotting.plot_em_vs_posterior(table, ax=ax, title=f"EM estimate vs posterior: {fit}")
        self._save("em_vs_posterior.png", fig)

    def report(self, summary: dict[str, Any]) -> None:
        """Say which plots were skipped (stderr and ``summary["plots_skipped"]``)."""
        if self.skipped:
            note(
                f"plots skipped ({', '.join(self.skipped)}): matplotlib is not installed; "
                f"{BAYES_EXTRA} installs it."
            )
            summary["plots_skipped"] = {"files": list(self.skipped), "install": BAYES_EXTRA}
