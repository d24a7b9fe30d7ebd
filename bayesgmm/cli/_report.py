"""What the commands print and what goes into ``summary.json``: one printer per kind of result,
shared by every command (the demo included)."""

from __future__ import annotations

import sys
import textwrap
from typing import Any

import numpy as np

from ._args import PROG

__all__ = [
    "bayes_summary",
    "em_summary",
    "note",
    "print_comparison",
    "print_em",
    "print_posterior",
    "print_table",
]


def note(message: str) -> None:
    """A notice on stderr (``bayesgmm: note: ...``): something the user should know, not an error."""
    print(f"{PROG}: note: {message}", file=sys.stderr)


def print_table(table: Any, *, precision: int = 6, indent: str = "") -> None:
    """Print a pandas table without its index, leaving out the columns that hold no value
    (such as an ``error`` column when no fit failed)."""
    import pandas as pd

    shown = [
        c
        for c in table.columns
        if not (table[c].isna() | table[c].astype(str).isin(["", "<NA>", "nan"])).all()
    ]
    with pd.option_context("display.precision", precision, "display.max_columns", None):
        text = table[shown].to_string(index=False, line_width=160)
    print(textwrap.indent(text, indent))


def em_summary(em: Any, X: np.ndarray) -> dict[str, Any]:
    """The fitted EM model and its criteria on ``X``, for ``summary.json``."""
    return {
        "n_components": em.n_components,
        "covariance_type": em.covariance_type,
        "weights": em.weights_,
        "means": em.means_,
        "covariances": em.covariances_,
        "loglik": float(np.sum(em.score_samples(X))),
        "aic": em.aic(X),
        "bic": em.bic(X),
        "icl": em.icl(X),
        "converged": em.converged_,
        "n_iter": em.n_iter_,
    }


def print_em(em: Any, X: np.ndarray, title: str, indent: str = "") -> None:
    """The EM estimate (components sorted by their first mean) and its criteria."""
    order = np.argsort(em.means_[:, 0], kind="stable")
    d = em.means_.shape[1]
    print(
        f"{indent}{title}: K={em.n_components}, covariance_type={em.covariance_type}, "
        f"converged={em.converged_} after {em.n_iter_} passes (components sorted by their first mean)"
    )
    cov = em.covariances_ if em.covariance_type == "tied" else em.covariances_[order]
    with np.printoptions(precision=8, suppress=True, linewidth=100):
        print(f"{indent}  weights    ", em.weights_[order])
        print(f"{indent}  means      ", em.means_[order].ravel() if d == 1 else "\n" + str(em.means_[order]))
        print(f"{indent}  covariances", cov.ravel() if d == 1 else "\n" + str(cov))
    print(
        f"{indent}  log-likelihood {np.sum(em.score_samples(X)):.3f}  AIC {em.aic(X):.3f}  "
        f"BIC {em.bic(X):.3f}  ICL {em.icl(X):.3f}"
    )


def print_posterior(bayes: Any, table: Any, w: Any = None, lo: Any = None, indent: str = "") -> None:
    """The sampler's diagnostics, the EM-vs-posterior table and (when computed) WAIC and LOO."""
    dg = bayes.diagnostics_
    print(
        f"{indent}posterior: {bayes.chains} chain(s) x {bayes.draws} draws; max R-hat {dg['max_rhat']:.4f}, "
        f"min bulk ESS {dg['min_ess_bulk']:.0f}, min tail ESS {dg['min_ess_tail']:.0f}, "
        f"{dg['divergences']} divergence(s)"
    )
    failed = next((p for p in table.get("posterior_diagnostics", []) if isinstance(p, str) and p), "")
    if failed:
        print(
            f"{indent}POSTERIOR FAILED ITS DIAGNOSTICS ({failed}): the posterior columns below, its HDIs "
            "and em_in_hdi do not describe the posterior; do not read them as its summary."
        )
    print(f"{indent}converged EM vs posterior" + (" (a FAILED posterior)" if failed else "") + ":")
    print_table(table.drop(columns=["posterior_diagnostics"], errors="ignore"), indent=indent)
    if w is not None and lo is not None:
        print(
            f"{indent}WAIC {w.value:.2f} +/- {w.se:.2f} (p_waic {w.p:.2f});  "
            f"PSIS-LOO {lo.value:.2f} +/- {lo.se:.2f} (p_loo {lo.p:.2f});  deviance scale, lower is better"
        )


def bayes_summary(bayes: Any, w: Any = None, lo: Any = None) -> dict[str, Any]:
    """The posterior means, diagnostics (``diagnostics_failed``: what fails, empty when all
    pass) and (when computed) WAIC and LOO, for ``summary.json``."""
    from ..bayes.diagnostics import diagnostic_problems

    out: dict[str, Any] = {
        "posterior_means": {
            "weights": bayes.weights_,
            "means": bayes.means_,
            "covariances": bayes.covariances_,
        },
        "diagnostics": bayes.diagnostics_,
        "diagnostics_failed": diagnostic_problems(bayes.diagnostics_, bayes.chains),
        "draws": bayes.draws,
        "tune": bayes.tune,
        "chains": bayes.chains,
    }
    if w is not None:
        out["waic"] = {"value": w.value, "se": w.se, "p_waic": w.p, "scale": w.scale, "warning": w.warning}
    if lo is not None:
        out["loo"] = {
            "value": lo.value,
            "se": lo.se,
            "p_loo": lo.p,
            "scale": lo.scale,
            "warning": lo.warning,
            "max_pareto_k": float(np.max(lo.pareto_k)),
        }
    return out


def _picks(picks: dict[str, int]) -> str:
    return ", ".join(f"{c.upper()} K={k}" for c, k in picks.items())


def _undetermined(reasons: dict[str, str], criteria: Any = None) -> str:
    """``"; WAIC, LOO undetermined: <reason>"`` for the criteria (all, or those given) whose
    choice is undetermined, criteria with the same reason grouped."""
    by_reason: dict[str, list[str]] = {}
    for crit, reason in reasons.items():
        if criteria is None or crit in criteria:
            by_reason.setdefault(reason, []).append(crit.upper())
    return "".join(f"; {', '.join(c)} undetermined: {r}" for r, c in by_reason.items())


def print_comparison(table: Any, indent: str = "") -> dict[str, Any]:
    """Print a table of :func:`~bayesgmm.criteria.select` or
    :func:`~bayesgmm.bayes.compare.compare_models` (every column it has) and the K each
    criterion chooses; returns ``{"chosen": ..., "chosen_within_2se": ...}`` (the latter
    only when the table has WAIC/LOO: the smallest K within two paired standard errors of
    the best), ``"undetermined"`` (criterion -> why it chooses no K: a row of larger K than
    its best ranked one is not ranked; see :func:`~bayesgmm.bayes.compare.compare`) and, when
    the table carries the posterior of the number of occupied components
    (``table.attrs["occupied"]``), prints it and returns it too."""
    from ..bayes._progress import invariant_text
    from ..criteria import chosen

    print_table(table, precision=2, indent=indent)
    picks = chosen(table)
    undetermined = dict(table.attrs.get("undetermined", {}))
    result: dict[str, Any] = {"chosen": picks}
    if any(c in table.columns for c in ("waic", "loo")):
        close = chosen(table, within_se=2.0)
        result["chosen_within_2se"] = close
        result["undetermined"] = undetermined
        print(f"{indent}chosen (lowest value): {_picks(picks)}{_undetermined(undetermined)}")
        within = {c: k for c, k in close.items() if c in ("waic", "loo")}
        print(
            f"{indent}chosen (WAIC/LOO: smallest K within 2 paired standard errors of the best): "
            + (_picks(within) or "none")
            + _undetermined(undetermined, ("waic", "loo"))
        )
    else:
        print(f"{indent}chosen: {_picks(picks)}")
    occupied = table.attrs.get("occupied")
    if occupied:
        ok = bool(table.attrs.get("occupied_diagnostics_ok", True))
        probs = ", ".join(f"{k}: {p:.3f}" for k, p in occupied.items())
        print(
            f"{indent}posterior of the number of occupied components (sparse fit, K_max={max(occupied)}): "
            f"{probs}; most probable {max(occupied, key=occupied.get)}"
            + invariant_text(table.attrs.get("occupied_diagnostics"))
            + ("" if ok else " -- its label-invariant diagnostics fail: do not rely on it")
        )
        result["occupied_components"] = {"probabilities": occupied, "diagnostics_ok": ok}
    return result
