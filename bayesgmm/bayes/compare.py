r"""Choosing K: WAIC and PSIS-LOO from the posterior, set against AIC, BIC and ICL from EM.

Two layers, as in ArviZ's ``compare``:

- :func:`compare` is a pure function of already-computed results (one
  :class:`ModelResult` per K and covariance type): it tabulates, takes paired differences
  and ranks. It fits nothing and prints nothing.
- :func:`compare_models` is the loop over K that computes those results -- a converged EM
  fit, the Bayesian posterior started from it, WAIC and LOO -- and hands them to
  :func:`compare`.

Every criterion is on the deviance scale, where lower is better: ``aic = -2 log L + 2 p``,
``bic = -2 log L + p log n`` and ``icl`` (BIC plus twice the classification entropy) at
the maximum-likelihood estimate; ``waic = -2 (lppd - p_waic)`` and ``loo = -2 elpd_loo``
averaged over the posterior (:mod:`bayesgmm.bayes.elpd`); ``evidence = -2 log p(X | K)``,
the quantity BIC approximates, by bridge sampling from the posterior
(:mod:`bayesgmm.bayes.evidence`).

A K whose label-invariant diagnostics fail (:mod:`bayesgmm.bayes.diagnostics`) keeps its
WAIC and LOO in the table, but they are not ranked, have no difference to the best row,
and its ``flag`` column says why: such a posterior's criteria are not estimates one can
compare.

**Chosen or undetermined.** A criterion that depends on the posterior chooses the best of
its ranked rows only when no row of a larger K went unranked: a K above the best ranked
one whose criterion could not be estimated might have been better, so the choice is then
*undetermined* -- no row is ranked on that criterion (``rank_<criterion>`` empty, not in
``chosen_by``), the best ranked row names it in ``undetermined_by``, and
``table.attrs["undetermined"]`` holds the reason. The printed choice, the CSV,
``summary.json`` and the plot's stars all read this one rule.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._parallel import check_n_jobs, run_tasks
from .._validation import check_int, check_option
from ..criteria import chosen
from ..multistart import N_KMEANS
from ._progress import Progress, occupied_line, result_line
from .elpd import CriterionWarning, ELPDEstimate, loo, pointwise_log_likelihood, waic

__all__ = [
    "CriterionWarning",
    "ELPDEstimate",
    "ModelResult",
    "chosen",
    "compare",
    "compare_models",
    "loo",
    "model_result",
    "pointwise_log_likelihood",
    "waic",
]

BAYES_CRITERIA = ("waic", "loo")
EM_COLUMNS = ("k", "covariance_type", "loglik", "em_converged", "n_params", "aic", "bic", "icl")
BAYES_COLUMNS = (
    "waic",
    "p_waic",
    "waic_se",
    "loo",
    "p_loo",
    "loo_se",
    "waic_warning",
    "loo_warning",
    "max_rhat",
    "min_ess_bulk",
    "divergences",
    "invariant_max_rhat",
    "invariant_min_ess_bulk",
    "invariant_ok",
    "flag",
)


@dataclass(frozen=True)
class ModelResult:
    """What the comparison needs to know about one fitted (K, covariance type).

    Attributes
    ----------
    k : int
    covariance_type : str
    loglik : float
        EM log-likelihood at its estimate.
    em_converged : bool
    n_params : int
    aic, bic, icl : float
    waic, loo : ELPDEstimate or None
        None for rows fitted by EM alone.
    diagnostics : mapping or None
        The posterior's ``diagnostics_`` (per-parameter and label-invariant).
    extra : mapping of str -> float
        Further per-K columns, e.g. another criterion on the deviance scale and its
        standard error (``{"name": value, "name_se": se}``); :func:`compare` ranks the
        names given in its ``extra_criteria``.
    """

    k: int
    covariance_type: str
    loglik: float
    em_converged: bool
    n_params: int
    aic: float
    bic: float
    icl: float
    waic: ELPDEstimate | None = None
    loo: ELPDEstimate | None = None
    diagnostics: Mapping[str, Any] | None = None
    extra: Mapping[str, float] = field(default_factory=dict)

    @property
    def flag(self) -> str:
        """Why the posterior's criteria are not ranked ("" when they are)."""
        dg = self.diagnostics
        if dg is None or "invariant_ok" not in dg or dg["invariant_ok"]:
            return ""
        return (
            f"label-invariant R-hat {dg['invariant_max_rhat']:.3f}, "
            f"bulk ESS {dg['invariant_min_ess_bulk']:.0f}"
        )


def model_result(X: np.ndarray, em: Any, bayes: Any = None, *, extra: Mapping[str, float] | None = None):
    """A :class:`ModelResult` from a fitted EM model and, optionally, its Bayesian posterior.

    Computes the EM criteria on ``X`` and WAIC / LOO of the posterior; their
    :class:`CriterionWarning` are raised as usual (the result records them too).
    """
    row: dict[str, Any] = {
        "k": int(em.n_components),
        "covariance_type": em.covariance_type,
        "loglik": float(np.sum(em.score_samples(X))),
        "em_converged": bool(em.converged_),
        "n_params": int(em._n_parameters()),
        "aic": float(em.aic(X)),
        "bic": float(em.bic(X)),
        "icl": float(em.icl(X)),
        "extra": dict(extra or {}),
    }
    if bayes is not None:
        row.update(waic=waic(bayes), loo=loo(bayes), diagnostics=dict(bayes.diagnostics_))
    return ModelResult(**row)


def _row(r: ModelResult) -> dict[str, Any]:
    row: dict[str, Any] = {c: getattr(r, c) for c in EM_COLUMNS}
    if r.waic is not None and r.loo is not None:
        dg = r.diagnostics or {}
        row.update(
            waic=r.waic.deviance,
            p_waic=r.waic.p,
            waic_se=r.waic.deviance_se,
            loo=r.loo.deviance,
            p_loo=r.loo.p,
            loo_se=r.loo.deviance_se,
            waic_warning=r.waic.warning,
            loo_warning=r.loo.warning,
            max_rhat=dg.get("max_rhat", np.nan),
            min_ess_bulk=dg.get("min_ess_bulk", np.nan),
            divergences=dg.get("divergences"),
            invariant_max_rhat=dg.get("invariant_max_rhat", np.nan),
            invariant_min_ess_bulk=dg.get("invariant_min_ess_bulk", np.nan),
            invariant_ok=dg.get("invariant_ok"),
            flag=r.flag,
        )
    row.update(r.extra)
    return row


def _deviance_pointwise(est: ELPDEstimate) -> np.ndarray:
    if est.pointwise is None:
        raise ValueError(
            "compare needs the pointwise values of WAIC and LOO: compute them with pointwise=True."
        )
    return -2.0 * est.pointwise / {"deviance": -2.0, "log": 1.0, "negative_log": -1.0}[est.scale]


def compare(
    results: Sequence[ModelResult],
    *,
    extra_criteria: Sequence[str] = (),
    occupied: Any = None,
) -> Any:
    r"""Tabulate and rank already-computed results: one row per (K, covariance type).

    Pure: it fits nothing and prints nothing.

    Parameters
    ----------
    results : sequence of ModelResult
    extra_criteria : sequence of str
        Names of ``ModelResult.extra`` entries to rank as criteria (deviance scale, lower
        is better). Like WAIC and LOO they depend on the posterior, so a row whose
        label-invariant diagnostics fail is not ranked on them either, nor one whose
        ``<name>_warning`` entry is True (the estimate flags itself unreliable).
    occupied : OccupiedComponents, optional
        The posterior of the number of occupied components of a sparse overfitted fit
        (:mod:`bayesgmm.bayes.occupancy`): adds the column ``p_occupied``, the posterior
        probability that exactly ``k`` components are occupied, and keeps the whole
        distribution as ``table.attrs["occupied"]`` (``{k: probability}``) with
        ``table.attrs["occupied_diagnostics_ok"]``.

    Returns
    -------
    pandas.DataFrame
        Columns ``k``, ``covariance_type``, ``loglik``, ``em_converged``, ``n_params``,
        ``aic``, ``bic``, ``icl``; for rows with a posterior ``waic``, ``p_waic``,
        ``waic_se``, ``loo``, ``p_loo``, ``loo_se``, ``waic_warning``, ``loo_warning``
        (the criterion flags itself unreliable), ``max_rhat``, ``min_ess_bulk``,
        ``divergences`` (per-parameter diagnostics), ``invariant_max_rhat``,
        ``invariant_min_ess_bulk``, ``invariant_ok`` (label-invariant diagnostics) and
        ``flag`` (why a row is not ranked; empty when it is); then the ``extra`` columns;
        ``waic_diff``, ``waic_diff_se``, ``loo_diff``, ``loo_diff_se`` (difference to the
        best ranked row and its paired standard error ``sqrt(n var_i(d_i))``, as in
        ``arviz.compare``; NaN for unranked rows); one ``rank_<criterion>`` per criterion
        (1 = chosen; ties share a rank; empty for every row when the criterion's choice
        is undetermined), ``chosen_by``, ``undetermined_by`` (on the best ranked row of
        each criterion whose choice is undetermined because a row of larger K is not
        ranked on it; ``table.attrs["undetermined"]`` maps each such criterion to the
        reason) and, with ``occupied``, ``p_occupied``.
    """
    import pandas as pd

    from ..criteria import CRITERIA, rank_criteria

    rows = [_row(r) for r in results]
    extras = [c for r in results for c in r.extra]
    columns = [*EM_COLUMNS, *BAYES_COLUMNS, *dict.fromkeys(extras)]
    table = pd.DataFrame(rows, columns=columns)
    for col in ("waic_warning", "loo_warning", "invariant_ok"):
        table[col] = table[col].astype("boolean")
    table["divergences"] = table["divergences"].astype("Int64")
    table["flag"] = ["" if pd.isna(f) else str(f) for f in table["flag"]]  # EM-only rows: ""
    ranked = np.array([r.waic is not None and not r.flag for r in results], dtype=bool)

    for crit in BAYES_CRITERIA:
        diff = np.full(len(table), np.nan)
        diff_se = np.full(len(table), np.nan)
        values = {i: _deviance_pointwise(getattr(r, crit)) for i, r in enumerate(results) if ranked[i]}
        if values:
            best = min(values, key=lambda i, c=crit: table.at[i, c])
            for i, v in values.items():
                d_i = v - values[best]
                diff[i] = float(np.sum(d_i))
                diff_se[i] = float(np.sqrt(d_i.size * np.var(d_i)))
        table[f"{crit}_diff"] = diff
        table[f"{crit}_diff_se"] = diff_se

    gated = (*BAYES_CRITERIA, *extra_criteria)
    masked = table.copy()
    for crit in gated:
        warned = table.get(f"{crit}_warning") if crit in extra_criteria else None
        unreliable = False if warned is None else warned.fillna(False).astype(bool).to_numpy()
        masked.loc[~ranked | unreliable, crit] = np.nan
    rank_criteria(masked, (*CRITERIA, *gated))
    undetermined = _undetermined(table, masked, gated, ranked_posterior=ranked)
    for crit in undetermined:
        masked[f"rank_{crit}"] = pd.array([pd.NA] * len(masked), dtype="Int64")
    masked["chosen_by"] = [
        ",".join(c for c in str(by).split(",") if c and c not in undetermined) for by in masked["chosen_by"]
    ]
    for col in masked.columns:
        if col.startswith("rank_") or col == "chosen_by":
            table[col] = masked[col]
    table["undetermined_by"] = [
        ",".join(c for c, (row, _) in undetermined.items() if row == i) for i in range(len(table))
    ]
    table.attrs["undetermined"] = {c: reason for c, (_, reason) in undetermined.items()}
    if occupied is not None:
        table["p_occupied"] = [occupied.probability(int(k)) for k in table["k"]]
        table.attrs["occupied"] = occupied.as_dict()
        table.attrs["occupied_diagnostics_ok"] = occupied.diagnostics_ok
        table.attrs["occupied_diagnostics"] = dict(occupied.diagnostics)
    return table


def _undetermined(table: Any, masked: Any, gated: Sequence[str], *, ranked_posterior: np.ndarray):
    """``{criterion: (row of the best ranked value or -1, reason)}`` for each posterior
    criterion whose choice is undetermined: some row with a posterior is not ranked on it
    and has a larger K than the best ranked row (or no row is ranked at all)."""
    posterior = table["waic"].notna().to_numpy()
    out: dict[str, tuple[int, str]] = {}
    for crit in gated:
        if crit not in table.columns:
            continue
        values = masked[crit].to_numpy(dtype=float)
        unranked = posterior & np.isnan(values)
        if not unranked.any():
            continue
        ks = table["k"].to_numpy()
        if np.isnan(values).all():
            best, above = -1, np.flatnonzero(unranked)
            lead = "no K could be ranked"
        else:
            best = int(np.nanargmin(values))
            above = np.flatnonzero(unranked & (ks > ks[best]))
            if not above.size:
                continue
            lead = f"K={ks[best]} is the best ranked, but"
        why = []
        for i in above:
            flag = table.at[i, "flag"]
            if not ranked_posterior[i] and flag:
                why.append(f"K={ks[i]} is NOT RANKED ({flag})")
            else:
                why.append(f"K={ks[i]}'s estimate flags itself ({crit}_warning)")
        if best < 0:
            out[crit] = (best, f"{lead}: " + "; ".join(why))
        else:
            out[crit] = (best, f"{lead} above it " + "; ".join(why))
    return out


def _em_model(fit: Any, k: int, covariance_type: str, n: int) -> Any:
    if fit is None:
        raise ValueError(f"The 'ks' parameter must not exceed the {n} samples. Got K={k}.")
    if fit.model is None:
        raise ValueError(f"Every EM start of K={k} ({covariance_type}) failed: {fit.error}")
    return fit.model


def _posterior_row(X: np.ndarray, em: Any, seed: int, options: dict, evidence: bool) -> tuple:
    """One K of :func:`compare_models`, a task: the posterior started from ``em``, its
    :class:`ModelResult` (with the log evidence unless ``evidence=False``), the fitted
    model, and the seconds it took."""
    from .evidence import log_evidence
    from .sampling import BayesianGaussianMixture

    t0 = time.perf_counter()
    bayes = BayesianGaussianMixture(
        em.n_components, covariance_type=em.covariance_type, random_state=seed, **options
    ).fit(X, em=em)
    ev = {}
    if evidence:
        e = log_evidence(bayes, X, random_state=seed)
        ev = {"evidence": e.deviance, "evidence_se": e.deviance_se, "evidence_warning": e.warning}
    return model_result(X, em, bayes, extra=ev), bayes, time.perf_counter() - t0


def compare_models(
    X: Any,
    ks: Any,
    *,
    covariance_type: str = "full",
    em_covariance_types: Any = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    target_accept: float = 0.9,
    sampler: str = "gibbs",
    priors: Any = None,
    n_init: int = N_KMEANS,
    random_state: Any = None,
    progress: Any = True,
    return_models: bool = False,
    evidence: bool = True,
    k_max: int | None = None,
    sparse_alpha: float | None = None,
    n_jobs: int | None = None,
):
    r"""Fit EM and the Bayesian mixture for every K; tabulate AIC, BIC, ICL, WAIC, LOO and
    the log evidence.

    For each K: the EM fit of :func:`bayesgmm.criteria.select` (the same deterministic
    starts, on standardised data, mapped back: :func:`bayesgmm.criteria.fit_grid`), the
    Bayesian model (:class:`~bayesgmm.bayes.sampling.BayesianGaussianMixture`) started from it, then
    :func:`model_result` and, unless ``evidence=False``,
    :func:`~bayesgmm.bayes.evidence.log_evidence`; the table is :func:`compare` of them.

    **Evidence beside BIC.** ``evidence`` is ``-2 log p(X | K)`` under the model's priors,
    on BIC's scale (``evidence_se`` its Monte Carlo standard error, ``evidence_warning``
    True when the estimate flags itself). BIC approximates it for large n with a
    unit-information prior in place of the model's priors; the two differ by O(1) per K,
    and their differences between two K by about as much.

    **Reading WAIC/LOO.** They measure predictive accuracy, and an extra component that
    fits noise (or duplicates another) barely changes the predictive density: between
    the true K and K + 1 they often differ by less than their paired standard error
    (``waic_diff_se``). ``bayesgmm.criteria.chosen(table, within_se=2)`` takes the
    smallest K within two paired standard errors of the best.

    **Memory.** WAIC and LOO need the pointwise log-likelihood, ``n_samples x chains x
    draws`` floats per K: compare on a random subset of large data.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    ks : int or sequence of int
        Numbers of components, e.g. ``range(1, 5)``.
    covariance_type : {"full", "diag"}, default="full"
        Covariance type of the Bayesian model and of the EM fit it starts from.
    em_covariance_types : sequence of str, optional
        Further covariance types fitted by EM alone (any of "full", "tied", "diag",
        "spherical"); their rows have no WAIC/LOO (NaN) but take part in the AIC/BIC/ICL
        ranking.
    draws, tune, chains, target_accept, sampler, priors
        Passed to :class:`~bayesgmm.bayes.sampling.BayesianGaussianMixture`. The default
        ``sampler="gibbs"`` samples the allocations (:mod:`bayesgmm.bayes._gibbs_sampler`):
        above the true K, where a component is nearly empty or a group is split in two,
        NUTS needs ten to twenty times the trajectory length it needs at the true K, and
        the Gibbs sweep costs the same at every K (``benchmarks/README.md``). What the
        table ranks -- WAIC, LOO, the evidence -- and its label-invariant diagnostics do not
        depend on the labels; for the parameters of the chosen K, where components
        overlap, :class:`~bayesgmm.bayes.sampling.BayesianGaussianMixture`'s default NUTS
        mixes better per second. ``sampler="auto"`` gives NUTS at every K.
    n_init : int, default=2
        k-means starts of EM per (K, covariance type), on top of the other deterministic
        starts (as ``select``'s ``n_init``).
    random_state : int, numpy Generator or None
        One seed per K is drawn from it (the chains). The EM fits take an int or None as
        ``select`` does (None: a fixed seed), and one draw of a Generator.
    progress : bool or writable text stream, default=True
        One line per K: to stderr (True), to the stream given, or nowhere (False).
    return_models : bool, default=False
        Also return ``{(k, covariance_type): (em, bayes_or_None)}``.
    evidence : bool, default=True
        Estimate the log evidence of every posterior (columns ``evidence``, ``evidence_se``,
        ``evidence_warning``; ranked as the criterion ``evidence``, except where it warns).
    k_max : int, optional
        Also fit one overfitted mixture of ``k_max`` components with a sparse Dirichlet
        prior and add the posterior probability of each number of occupied components as
        the column ``p_occupied`` (:mod:`bayesgmm.bayes.occupancy`; the whole
        distribution, up to ``k_max``, is ``table.attrs["occupied"]``). It is sampled by
        the Gibbs sampler over allocations (:mod:`bayesgmm.bayes.gibbs`, its own default
        sweeps and chains; ``draws``/``tune``/``chains`` are NUTS's). With
        ``return_models`` its draws are under the key ``("occupied", k_max)``.
    sparse_alpha : float, optional
        Its Dirichlet concentration; default :data:`~bayesgmm.bayes.occupancy.SPARSE_ALPHA`.
    n_jobs : int, optional
        As in scikit-learn (None means 1 unless a ``joblib.parallel_config`` context says
        otherwise, -1 all cores): the EM grid runs as :func:`bayesgmm.criteria.select`'s,
        then the posteriors of the K run as joblib tasks, and the sparse fit's chains (with
        ``k_max``) after them. Every K's seed is drawn from ``random_state`` before any
        task starts, so the table does not depend on ``n_jobs`` or the backend. A task run
        beside others gets its share of the cores for its sampler's threads; warnings a
        task raises in a worker process are raised again here.

    Returns
    -------
    table : pandas.DataFrame
        See :func:`compare`.
    models : dict
        Only with ``return_models=True``.

    Warns
    -----
    ConvergenceWarning, SamplingWarning, CriterionWarning
        From EM, from the sampler's diagnostics and from WAIC / LOO / the evidence.
    """
    from .._validation import COVARIANCE_TYPES, check_random_state, check_X
    from ..criteria import check_ks, fit_grid
    from ._gibbs_sampler import GIBBS_THIN
    from .model import BAYES_COVARIANCE_TYPES

    X = check_X(X)
    ks = check_ks(ks)
    check_option(covariance_type, "covariance_type", tuple(BAYES_COVARIANCE_TYPES))
    extra: list[str] = []
    if em_covariance_types is not None:
        if isinstance(em_covariance_types, str):
            em_covariance_types = (em_covariance_types,)
        for ct in em_covariance_types:
            check_option(ct, "em_covariance_types", COVARIANCE_TYPES)
            if ct != covariance_type and ct not in extra:
                extra.append(ct)
    check_int(draws, "draws")
    check_int(tune, "tune", minimum=0)
    check_int(chains, "chains")
    check_int(n_init, "n_init", minimum=0)
    if k_max is not None:
        check_int(k_max, "k_max")
    check_n_jobs(n_jobs)
    say = Progress(progress)
    rng = check_random_state(random_state)
    seeds = [int(s) for s in rng.integers(2**31 - 1, size=len(ks))]
    em_seed = random_state if random_state is None or isinstance(random_state, (int, np.integer)) else rng
    ems = fit_grid(X, ks, [covariance_type, *extra], n_init=n_init, random_state=em_seed, n_jobs=n_jobs)

    what = f"Gibbs sampler, {GIBBS_THIN} sweeps a draw" if sampler == "gibbs" else f"NUTS ({sampler})"
    say(
        f"compare_models: K in {ks}, n={X.shape[0]}, {what}, {chains} chain(s) x ({tune} tune + {draws} draws) per K"
    )
    options = {
        "priors": priors,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "target_accept": target_accept,
        "sampler": sampler,
    }
    tasks = [(X, _em_model(ems[(k, covariance_type)], k, covariance_type, X.shape[0]), seed, options, evidence)
             for k, seed in zip(ks, seeds, strict=True)]  # fmt: skip
    finished: list[int] = []
    t_start = time.perf_counter()

    def on_done(i: int, out: tuple) -> None:
        finished.append(i)
        left = len(ks) - len(finished)
        elapsed = time.perf_counter() - t_start
        eta = f", about {elapsed * left / len(finished):.0f} s more" if left else ""
        say(result_line(out[0], len(finished), len(ks), out[2]) + f" ({left} K left{eta})")

    posteriors = run_tasks(_posterior_row, tasks, n_jobs=n_jobs, on_done=on_done)
    results: list[ModelResult] = []
    models: dict[tuple[int, str], tuple[Any, Any]] = {}
    for k, (_, em, *_), (row, bayes, _) in zip(ks, tasks, posteriors, strict=True):
        results.append(row)
        models[(k, covariance_type)] = (em, bayes)
        for ct in extra:  # rows fitted by EM alone
            em_ct = _em_model(ems[(k, ct)], k, ct, X.shape[0])
            results.append(model_result(X, em_ct))
            models[(k, ct)] = (em_ct, None)
    occupied = None
    if k_max is not None:
        from .occupancy import SPARSE_ALPHA, fit_occupied_components

        t0 = time.perf_counter()
        sparse, occupied = fit_occupied_components(
            X,
            k_max,
            alpha=SPARSE_ALPHA if sparse_alpha is None else sparse_alpha,
            covariance_type=covariance_type,
            random_state=rng,
            n_jobs=n_jobs,
        )
        models[("occupied", k_max)] = (None, sparse)
        say(occupied_line(occupied, time.perf_counter() - t0))
    table = compare(results, extra_criteria=("evidence",) if evidence else (), occupied=occupied)
    if return_models:
        return table, models
    return table
