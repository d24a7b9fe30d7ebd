r"""Convergence diagnostics of a mixture posterior: per parameter and label-invariant.

Per-parameter R-hat and ESS (of the relabelled weights, means, standard deviations and
covariances) are what a reader of the summary table needs, but with more components than
the data support they fail for reasons that do not matter to a comparison of K: an empty
component's mean wanders over its prior, and two halves of a split component trade
places. Quantities that do not depend on the labels at all cannot be touched by label
switching, so their R-hat and ESS say whether the chains agree on the *mixture*:

- ``log_likelihood``: the total log-likelihood ``sum_i log p(x_i | theta)`` of each draw;
- ``lp``: the sampler's log posterior density (from ``sample_stats``, when it records one);
- ``log_density[q]``: the log predictive density ``log p(x_q | theta)`` at a few probe
  points (data rows at fixed quantiles of the first feature).

A fit passes when every label-invariant quantity has R-hat <= :data:`RHAT_MAX` and bulk
ESS >= :data:`INVARIANT_ESS_MIN`, ``lp`` R-hat only (Vehtari, Gelman, Simpson, Carpenter
& Buerkner 2021: R-hat below 1.01, ESS above 400). WAIC and LOO are functions of these draws, so a K that
fails is flagged by :func:`bayesgmm.bayes.compare.compare_models` rather than ranked.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..exceptions import SamplingWarning
from . import _arviz

__all__ = [
    "BFMI_MIN",
    "ESS_PER_CHAIN_MIN",
    "INVARIANT_ESS_MIN",
    "RHAT_MAX",
    "diagnose",
    "diagnostic_problems",
    "label_invariant_diagnostics",
    "parameter_diagnostics",
    "probe_points",
]

RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100
INVARIANT_ESS_MIN = 400
BFMI_MIN = 0.3
PROBE_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def probe_points(X: np.ndarray, quantiles=PROBE_QUANTILES) -> np.ndarray:
    """Data rows at the given quantiles of the first feature, shape (len(quantiles), n_features)."""
    order = np.argsort(X[:, 0], kind="stable")
    idx = np.round(np.asarray(quantiles) * (X.shape[0] - 1)).astype(int)
    return X[order[idx]]


def _rhat_ess(draws: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """``name -> {"rhat", "ess_bulk", "ess_tail"}`` for (chain, draw) arrays; constants are skipped."""
    varying = {k: np.asarray(v, dtype=float) for k, v in draws.items() if np.ptp(v) > 0}
    return _arviz.rhat_ess(varying) if varying else {}


def _extreme(stats: Mapping[str, Mapping[str, float]], key: str, fn) -> float:
    vals = np.array([s[key] for s in stats.values()], dtype=float)
    vals = vals[np.isfinite(vals)]
    return float(fn(vals)) if vals.size else float("nan")


def parameter_diagnostics(draws: Mapping[str, np.ndarray], idata: Any) -> dict[str, Any]:
    """Worst R-hat and ESS over the named parameters, divergences and BFMI per chain."""
    stats = _rhat_ess(draws)
    sample_stats = _arviz.group(idata, "sample_stats")
    divergences = 0
    if sample_stats is not None and "diverging" in sample_stats:
        divergences = int(sample_stats["diverging"].values.sum())
    return {
        "max_rhat": _extreme(stats, "rhat", np.max),
        "min_ess_bulk": _extreme(stats, "ess_bulk", np.min),
        "min_ess_tail": _extreme(stats, "ess_tail", np.min),
        "divergences": divergences,
        "bfmi": _arviz.bfmi(idata),
    }


def label_invariant_diagnostics(quantities: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """R-hat and ESS of label-invariant (chain, draw) arrays, and whether they all pass.

    Returns
    -------
    dict
        ``invariant`` (``name -> {"rhat", "ess_bulk", "ess_tail"}``),
        ``invariant_max_rhat`` (over every quantity), ``invariant_min_ess_bulk`` (over every
        quantity but ``lp``) and ``invariant_ok`` (both within :data:`RHAT_MAX` and
        :data:`INVARIANT_ESS_MIN`; with one chain R-hat is not defined and only the ESS
        counts). The log posterior density moves with the sampler's energy, whose
        mixing BFMI reports; its ESS is in ``invariant["lp"]`` but is not a pass mark.
    """
    stats = _rhat_ess(quantities)
    max_rhat = _extreme(stats, "rhat", np.max)
    min_ess = _extreme({k: v for k, v in stats.items() if k != "lp"}, "ess_bulk", np.min)
    chains = next(iter(quantities.values())).shape[0] if quantities else 0
    rhat_ok = chains < 2 or max_rhat <= RHAT_MAX
    return {
        "invariant": stats,
        "invariant_max_rhat": max_rhat,
        "invariant_min_ess_bulk": min_ess,
        "invariant_ok": bool(stats) and bool(rhat_ok) and bool(min_ess >= INVARIANT_ESS_MIN),
    }


def diagnostic_problems(dg: Mapping[str, Any], chains: int) -> list[str]:
    """What fails in a fit's diagnostics (the dict of :func:`diagnose`), one phrase each;
    empty when everything passes. The same list the :class:`SamplingWarning` gives."""
    problems = []
    ess_min = ESS_PER_CHAIN_MIN * chains
    if chains > 1 and not dg["max_rhat"] <= RHAT_MAX:
        problems.append(f"max R-hat {dg['max_rhat']:.3f} > {RHAT_MAX}")
    if not dg["min_ess_bulk"] >= ess_min:
        problems.append(f"smallest bulk ESS {dg['min_ess_bulk']:.0f} < {ess_min}")
    if not dg["min_ess_tail"] >= ess_min:
        problems.append(f"smallest tail ESS {dg['min_ess_tail']:.0f} < {ess_min}")
    if dg["divergences"]:
        problems.append(f"{dg['divergences']} divergent transition(s)")
    low = [i for i, b in enumerate(dg["bfmi"]) if b < BFMI_MIN]
    if low:
        problems.append(f"BFMI < {BFMI_MIN} in chain(s) {low}")
    if "invariant_ok" in dg and not dg["invariant_ok"]:
        problems.append(
            f"label-invariant quantities (log-likelihood, log density): max R-hat "
            f"{dg['invariant_max_rhat']:.3f}, smallest bulk ESS {dg['invariant_min_ess_bulk']:.0f} "
            f"(need <= {RHAT_MAX} and >= {INVARIANT_ESS_MIN})"
        )
    return problems


def diagnose(
    draws: Mapping[str, np.ndarray],
    idata: Any,
    invariant: Mapping[str, np.ndarray] | None = None,
    *,
    stacklevel: int = 2,
) -> dict[str, Any]:
    """All diagnostics of a fit as one dict; a :class:`SamplingWarning` lists what fails.

    Parameters
    ----------
    draws : mapping of name -> array (chain, draw)
        The named, relabelled parameters.
    idata : the installed ArviZ's container (InferenceData or DataTree)
        For the sampler's statistics (divergences, energy).
    invariant : mapping of name -> array (chain, draw), optional
        Label-invariant quantities (see the module docstring).
    """
    dg = parameter_diagnostics(draws, idata)
    if invariant:
        dg.update(label_invariant_diagnostics(invariant))
    chains = next(iter(draws.values())).shape[0]
    problems = diagnostic_problems(dg, chains)
    if problems:
        warnings.warn(
            "MCMC diagnostics flag a problem: " + "; ".join(problems) + ". Run more draws/tune, "
            "raise target_accept, or check the model (too many components?).",
            SamplingWarning,
            stacklevel=stacklevel + 1,
        )
    return dg
