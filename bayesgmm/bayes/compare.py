r"""Choosing K: WAIC and PSIS-LOO from the posterior, set against AIC, BIC and ICL from EM.

Scales. Every criterion here can be read on the *deviance* scale, where lower is better:

- ``aic = -2 log L(theta_hat) + 2 p`` and ``bic = -2 log L(theta_hat) + p log n`` are taken
  at the maximum-likelihood estimate theta_hat (converged EM); ``icl`` is BIC plus twice
  the entropy of the classification;
- ``waic = -2 (lppd - p_waic)`` and ``loo = -2 elpd_loo`` *average over the posterior*:
  ``lppd = sum_i log mean_s p(x_i | theta_s)`` and
  ``p_waic = sum_i var_s log p(x_i | theta_s)`` (Watanabe 2010; Gelman, Hwang & Vehtari
  2014), ``elpd_loo`` by Pareto-smoothed importance sampling (Vehtari, Gelman & Gabry
  2017, through :func:`arviz.loo`).

:func:`waic` is bayesgmm's own implementation (ArviZ 1.x has no ``waic``); it equals
``arviz.waic`` of ArviZ 0.23 to rounding. :func:`loo` goes through ``arviz.loo``.

Warnings: both raise :class:`CriterionWarning` (a ``UserWarning``) when the estimate may
be unreliable -- WAIC when some observation's posterior variance of the log-likelihood
exceeds 0.4, LOO when some Pareto k exceeds ArviZ's threshold ``good_k = min(1 - 1 /
log10(S), 0.7)`` for S draws (so always when k > 0.7). The ``warning`` field of the result
says the same, so a caller who silences the warning can still read it.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import logsumexp

from .._validation import check_int, check_option
from ..criteria import chosen
from ..exceptions import NotFittedError

__all__ = [
    "CriterionWarning",
    "ELPDEstimate",
    "chosen",
    "compare_models",
    "loo",
    "pointwise_log_likelihood",
    "waic",
]

SCALES = ("deviance", "log", "negative_log")
_SCALE_FACTOR = {"deviance": -2.0, "log": 1.0, "negative_log": -1.0}
WAIC_VARIANCE_MAX = 0.4


class CriterionWarning(UserWarning):
    """WAIC or PSIS-LOO flags its own estimate as unreliable (see :mod:`bayesgmm.bayes.compare`)."""


def _readonly(a: Any) -> np.ndarray | None:
    if a is None:
        return None
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class ELPDEstimate:
    """An estimate of the expected log pointwise predictive density (WAIC or PSIS-LOO).

    Attributes
    ----------
    method : {"waic", "loo"}
    elpd : float
        The elpd on the log scale (higher is better): ``lppd - p_waic`` or ``elpd_loo``.
    elpd_se : float
        Its standard error, ``sqrt(n * var_i(elpd_i))`` (ArviZ's formula).
    p : float
        Effective number of parameters, ``p_waic`` or ``p_loo``.
    scale : {"deviance", "log", "negative_log"}
        The scale of ``value``, ``se`` and ``pointwise``.
    value : float
        The elpd on ``scale``: ``-2 elpd`` (deviance), ``elpd`` (log) or ``-elpd``
        (negative_log). This is what ``arviz.waic`` / ``arviz.loo`` report as
        ``elpd_waic`` / ``elpd_loo``.
    se : float
        Standard error of ``value`` (ArviZ's ``se``).
    pointwise : array of shape (n_obs,) or None
        Per-observation contributions on ``scale`` (they sum to ``value``).
    n_samples : int
        Posterior draws used (chains x draws).
    n_obs : int
        Observations (the product of the observation dimensions).
    warning : bool
        True when the estimate flags itself as unreliable (see the module docstring).
    pareto_k : array of shape (n_obs,) or None
        PSIS shape estimates (LOO only).
    good_k : float or None
        The Pareto-k threshold used for the warning (LOO only).
    """

    method: str
    elpd: float
    elpd_se: float
    p: float
    scale: str
    value: float
    se: float
    n_samples: int
    n_obs: int
    warning: bool
    pointwise: np.ndarray | None = field(default=None, repr=False)
    pareto_k: np.ndarray | None = field(default=None, repr=False)
    good_k: float | None = None

    def __post_init__(self) -> None:
        check_option(self.method, "method", ("waic", "loo"))
        check_option(self.scale, "scale", SCALES)
        object.__setattr__(self, "pointwise", _readonly(self.pointwise))
        object.__setattr__(self, "pareto_k", _readonly(self.pareto_k))

    @property
    def deviance(self) -> float:
        """``-2 elpd``: the criterion on the deviance scale (lower is better)."""
        return -2.0 * self.elpd

    @property
    def deviance_se(self) -> float:
        """Standard error of :attr:`deviance`."""
        return 2.0 * self.elpd_se


# --------------------------------------------------------------------------- log-likelihood
def _log_likelihood_dataset(obj: Any):
    """The ``log_likelihood`` group of an InferenceData / DataTree (or a Dataset itself)."""
    if hasattr(obj, "data_vars"):  # an xarray Dataset
        return obj
    group = None
    try:
        group = obj["log_likelihood"]  # DataTree (ArviZ >= 1) and InferenceData both allow this
    except (KeyError, TypeError, IndexError):
        group = getattr(obj, "log_likelihood", None)
    if group is None:
        return None
    if not hasattr(group, "data_vars"):  # DataTree node
        group = group.to_dataset() if hasattr(group, "to_dataset") else group.ds
    return group


def _resolve(data: Any) -> Any:
    """A fitted model's ``idata_``; anything else unchanged."""
    if hasattr(data, "idata_"):
        if data.idata_ is None:
            raise NotFittedError(f"This {type(data).__name__} instance is not fitted yet. Call 'fit' first.")
        return data.idata_
    if hasattr(data, "draws") and hasattr(data, "n_components"):  # an unfitted Bayesian model
        raise NotFittedError(f"This {type(data).__name__} instance is not fitted yet. Call 'fit' first.")
    return data


def _log_likelihood_3d(data: Any, var_name: str | None) -> np.ndarray:
    """The log-likelihood as (chain, draw, n_obs), observation dims flattened in C order."""
    data = _resolve(data)
    if isinstance(data, np.ndarray):
        arr = np.asarray(data, dtype=np.float64)
        if arr.ndim < 3:
            raise ValueError(
                "A log-likelihood array must have shape (chain, draw, *obs_shape). "
                f"Got shape {arr.shape} instead."
            )
        return arr.reshape(arr.shape[0], arr.shape[1], -1)
    if hasattr(data, "dims") and hasattr(data, "values") and not hasattr(data, "data_vars"):
        da = data  # a DataArray
    else:
        ds = _log_likelihood_dataset(data)
        if ds is None:
            raise TypeError(
                "data must be a fitted BayesianGaussianMixture, an InferenceData with a "
                "'log_likelihood' group, or an array of shape (chain, draw, *obs_shape). "
                f"Got {type(data).__name__} without a log_likelihood group."
            )
        names = list(ds.data_vars)
        if var_name is None:
            if len(names) != 1:
                raise ValueError(
                    f"The log_likelihood group has the variables {names}: pass var_name to pick one."
                )
            var_name = names[0]
        elif var_name not in names:
            raise ValueError(f"The 'var_name' parameter must be one of {names}. Got {var_name!r} instead.")
        da = ds[var_name]
    dims = list(da.dims)
    if "chain" not in dims or "draw" not in dims:
        raise ValueError(f"The log-likelihood must have dims 'chain' and 'draw'. Got dims {tuple(dims)}.")
    rest = [d for d in dims if d not in ("chain", "draw")]
    arr = np.asarray(da.transpose("chain", "draw", *rest).values, dtype=np.float64)
    return arr.reshape(arr.shape[0], arr.shape[1], -1)


def pointwise_log_likelihood(data: Any, *, var_name: str | None = None) -> np.ndarray:
    """The pointwise log-likelihood as an array of shape (n_samples, n_obs).

    Parameters
    ----------
    data : fitted BayesianGaussianMixture, InferenceData, DataTree, xarray Dataset or DataArray, or array
        A fitted model (its ``idata_``); anything with a ``log_likelihood`` group; the
        group itself; one of its variables with dims (chain, draw, ...); or a NumPy array
        of shape (chain, draw, *obs_shape).
    var_name : str, optional
        The log-likelihood variable when the group has several.

    Returns
    -------
    array of shape (n_chains * n_draws, n_obs)
        Samples stacked chain by chain; observation dimensions flattened (C order).
    """
    arr = _log_likelihood_3d(data, var_name)
    return arr.reshape(arr.shape[0] * arr.shape[1], -1)


# --------------------------------------------------------------------------- WAIC
def waic(
    data: Any,
    *,
    scale: str = "deviance",
    pointwise: bool = True,
    var_name: str | None = None,
) -> ELPDEstimate:
    r"""The widely applicable information criterion from the pointwise log-likelihood.

    With ``S`` posterior draws and ``l_is = log p(x_i | theta_s)``::

        lppd_i   = log (1/S sum_s exp l_is)
        p_waic_i = var_s l_is                    (ddof = 0)
        elpd_i   = lppd_i - p_waic_i
        elpd     = sum_i elpd_i,   p_waic = sum_i p_waic_i
        se       = sqrt(n var_i(c elpd_i))       (c the scale factor below)

    and the value on ``scale`` is ``c * elpd`` with ``c = -2`` (deviance), ``1`` (log),
    ``-1`` (negative_log). This is ArviZ 0.23's ``waic``, reimplemented (ArviZ 1.x has
    none): the results agree to rounding.

    Parameters
    ----------
    data : fitted BayesianGaussianMixture, InferenceData or array
        See :func:`pointwise_log_likelihood`.
    scale : {"deviance", "log", "negative_log"}, default="deviance"
        Deviance: lower is better, comparable with AIC/BIC.
    pointwise : bool, default=True
        Keep the per-observation values.
    var_name : str, optional
        The log-likelihood variable when there are several.

    Returns
    -------
    ELPDEstimate
        ``method="waic"``; ``p`` is ``p_waic``.

    Warns
    -----
    CriterionWarning
        When some observation's posterior variance of the log-likelihood exceeds 0.4
        (WAIC may be failing; prefer :func:`loo`).
    """
    check_option(scale, "scale", SCALES)
    ll = pointwise_log_likelihood(data, var_name=var_name)
    n_samples, n_obs = ll.shape
    lppd_i = logsumexp(ll, axis=0) - np.log(n_samples)
    var_i = ll.var(axis=0)  # ddof=0, as ArviZ
    flagged = int(np.count_nonzero(var_i > WAIC_VARIANCE_MAX))
    if flagged:
        warnings.warn(
            f"WAIC: for {flagged} of {n_obs} observation(s) the posterior variance of the "
            f"log-likelihood exceeds {WAIC_VARIANCE_MAX} (largest {var_i.max():.3g}); WAIC may be "
            "unreliable (Vehtari, Gelman & Gabry 2017, arXiv:1507.04544). Prefer loo().",
            CriterionWarning,
            stacklevel=2,
        )
    c = _SCALE_FACTOR[scale]
    elpd_i = lppd_i - var_i
    value_i = c * elpd_i
    se = float(np.sqrt(n_obs * np.var(value_i)))
    return ELPDEstimate(
        method="waic",
        elpd=float(np.sum(elpd_i)),
        elpd_se=se / abs(c),
        p=float(np.sum(var_i)),
        scale=scale,
        value=float(np.sum(value_i)),
        se=se,
        n_samples=int(n_samples),
        n_obs=int(n_obs),
        warning=bool(flagged),
        pointwise=value_i if pointwise else None,
    )


# --------------------------------------------------------------------------- PSIS-LOO
def loo(
    data: Any,
    *,
    scale: str = "deviance",
    pointwise: bool = True,
    var_name: str | None = None,
    reff: float | None = None,
) -> ELPDEstimate:
    """Pareto-smoothed importance-sampling leave-one-out cross-validation (``arviz.loo``).

    Parameters
    ----------
    data : fitted BayesianGaussianMixture, InferenceData or array
        See :func:`pointwise_log_likelihood`. Without a ``posterior`` group (e.g. a bare
        log-likelihood array) the relative efficiency ``reff`` defaults to 1.
    scale : {"deviance", "log", "negative_log"}, default="deviance"
    pointwise : bool, default=True
        Keep the per-observation values (the Pareto k are always kept).
    var_name : str, optional
    reff : float, optional
        Relative MCMC efficiency ``ESS / S``; default: ArviZ's estimate from the posterior
        group (mean ESS of its variables), 1 for one chain or no posterior.

    Returns
    -------
    ELPDEstimate
        ``method="loo"``; ``p`` is ``p_loo``; ``pareto_k`` and ``good_k`` are set.

    Warns
    -----
    CriterionWarning
        When some Pareto k exceeds ``good_k = min(1 - 1/log10(S), 0.7)``: the importance
        sampling is unreliable for those observations (often outliers, or a posterior
        that is far from Gaussian).
    """
    import arviz as az

    check_option(scale, "scale", SCALES)
    if reff is not None and not (isinstance(reff, (int, float)) and 0 < reff):
        raise ValueError(f"The 'reff' parameter must be a float > 0. Got {reff!r} instead.")
    data = _resolve(data)
    if _log_likelihood_dataset(data) is not None and hasattr(data, "groups"):
        idata = data  # an InferenceData: ArviZ estimates reff from its posterior
        _log_likelihood_3d(idata, var_name)  # the same checks and messages as waic
    else:
        idata = az.from_dict(log_likelihood={"x": _log_likelihood_3d(data, var_name)})
        var_name = "x"
    if reff is None and getattr(idata, "posterior", None) is None:
        reff = 1.0
    with warnings.catch_warnings():
        # ArviZ's own warnings (Pareto k) are replaced by ours below
        warnings.filterwarnings("ignore", category=UserWarning, module=r"arviz\..*")
        res = az.loo(idata, pointwise=True, var_name=var_name, reff=reff, scale=scale)
    k = np.asarray(res["pareto_k"].values if hasattr(res["pareto_k"], "values") else res["pareto_k"]).ravel()
    good_k = float(res["good_k"])
    bad = int(np.count_nonzero(k > good_k))
    if bad:
        warnings.warn(
            f"PSIS-LOO: {bad} of {k.size} observation(s) have a Pareto k above {good_k:.2f} "
            f"(largest {np.nanmax(k):.2f}); the LOO estimate is unreliable for them. More draws, "
            "or checking those observations, may help.",
            CriterionWarning,
            stacklevel=2,
        )
    c = _SCALE_FACTOR[scale]
    value = float(res["elpd_loo"])
    se = float(res["se"])
    loo_i = np.asarray(res["loo_i"].values).ravel()
    return ELPDEstimate(
        method="loo",
        elpd=value / c,
        elpd_se=se / abs(c),
        p=float(res["p_loo"]),
        scale=scale,
        value=value,
        se=se,
        n_samples=int(res["n_samples"]),
        n_obs=int(res["n_data_points"]),
        warning=bool(bad),
        pointwise=loo_i if pointwise else None,
        pareto_k=k,
        good_k=good_k,
    )


# --------------------------------------------------------------------------- compare_models
BAYES_CRITERIA = ("waic", "loo")


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
    sampler: str = "auto",
    priors: Any = None,
    n_init: int = 3,
    tol: float | None = None,
    random_state: Any = None,
    progress: bool = True,
    return_models: bool = False,
):
    r"""Fit EM and the Bayesian mixture for every K; tabulate AIC, BIC, ICL, WAIC and LOO.

    For each K: a converged EM fit (``tol``), then the Bayesian model
    (:class:`~bayesgmm.bayes.sampling.BayesianGaussianMixture`) started from it, then
    :func:`waic` and :func:`loo` of its posterior.

    **Scales.** Every criterion is on the deviance scale: lower is better. AIC, BIC and ICL
    are taken at the maximum-likelihood estimate (one point, the EM solution) and
    penalise the parameter count ``p``; WAIC and LOO average the fit over the posterior
    (``waic = -2 (lppd - p_waic)``, ``loo = -2 elpd_loo``), so their penalty is an
    *effective* number of parameters learned from the draws, and they come with standard
    errors. Differences smaller than about two standard errors do not separate two K.

    **Reading WAIC/LOO.** They measure predictive accuracy, and an extra component that
    fits noise (or duplicates another) barely changes the predictive density: between
    the true K and K + 1 they often differ by less than their paired standard error
    (``waic_diff_se``), and which of the two has the lower value is then down to the
    sample and the Monte Carlo error. ``bayesgmm.criteria.chosen(table, within_se=2)``
    takes the smallest K within two paired standard errors of the best.

    **Memory.** WAIC and LOO need the pointwise log-likelihood, ``n_samples x chains x
    draws`` floats per K (200 000 rows x 2 000 draws is 3.2 GB): compare on a random
    subset of large data.

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
        Passed to :class:`~bayesgmm.bayes.sampling.BayesianGaussianMixture`.
    n_init, tol
        EM starts and tolerance (the criteria need the converged MLE).
    random_state : int, numpy Generator or None
        One seed per K is drawn from it (EM start and chains).
    progress : bool, default=True
        Write one line per K to stderr.
    return_models : bool, default=False
        Also return ``{(k, covariance_type): (em, bayes_or_None)}``.

    Returns
    -------
    table : pandas.DataFrame
        One row per (K, covariance type) with columns ``k``, ``covariance_type``,
        ``loglik`` (EM log-likelihood), ``em_converged`` (False when EM hit
        ``max_iter``: overfitted K can creep; the criteria are then taken at the last
        iterate), ``n_params``, ``aic``, ``bic``, ``icl``, ``waic``,
        ``p_waic``, ``waic_se``, ``loo``, ``p_loo``, ``loo_se``, ``waic_warning``,
        ``loo_warning`` (the criterion flags itself unreliable), ``waic_diff``,
        ``waic_diff_se``, ``loo_diff``, ``loo_diff_se`` (difference to the best row and
        its paired standard error ``sqrt(n var_i(d_i))`` over the pointwise differences,
        as in ``arviz.compare``: the error bar that matters when comparing two K, much
        smaller than ``waic_se``), ``max_rhat``,
        ``min_ess_bulk``, ``divergences`` (the sampler's diagnostics), one
        ``rank_<criterion>`` per criterion (1 = chosen; lower value is better; ties share
        a rank) and ``chosen_by``: the criteria that choose this row, comma-separated.
        :func:`bayesgmm.criteria.chosen` turns the table into ``{criterion: K}``
        (``within_se=2`` for the parsimonious choice of WAIC/LOO: the smallest K within
        two paired standard errors of the best).
    models : dict
        Only with ``return_models=True``.

    Warns
    -----
    ConvergenceWarning, SamplingWarning, CriterionWarning
        From EM, from the sampler's diagnostics and from :func:`waic` / :func:`loo`. Too many
        components often sample poorly (their extra components are not identified);
        the table keeps the diagnostics next to the criteria.
    """
    import pandas as pd

    from .._validation import COVARIANCE_TYPES, check_random_state, check_X
    from ..criteria import CRITERIA, check_ks, rank_criteria
    from ..em import CONVERGED_TOL, converged_em
    from .model import BAYES_COVARIANCE_TYPES
    from .sampling import BayesianGaussianMixture

    X = check_X(X)
    ks = check_ks(ks)
    check_option(covariance_type, "covariance_type", BAYES_COVARIANCE_TYPES)
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
    check_int(n_init, "n_init")
    rng = check_random_state(random_state)
    seeds = [int(s) for s in rng.integers(2**31 - 1, size=len(ks))]
    n = X.shape[0]

    if progress:
        print(
            f"compare_models: K in {ks}, n={n}, {chains} chain(s) x ({tune} tune + {draws} draws) per K",
            file=sys.stderr,
            flush=True,
        )
    rows: list[dict[str, Any]] = []
    pointwise: dict[int, dict[str, np.ndarray]] = {}
    models: dict[tuple[int, str], tuple[Any, Any]] = {}
    for i, (k, seed) in enumerate(zip(ks, seeds, strict=True), start=1):
        t0 = time.perf_counter()
        for ct in [covariance_type, *extra]:
            em = converged_em(X, k, ct, tol=tol or CONVERGED_TOL, n_init=n_init, random_state=seed)
            row: dict[str, Any] = {
                "k": k,
                "covariance_type": ct,
                "loglik": float(np.sum(em.score_samples(X))),
                "em_converged": bool(em.converged_),
                "n_params": em._n_parameters(),
                "aic": em.aic(X),
                "bic": em.bic(X),
                "icl": em.icl(X),
            }
            bayes = None
            if ct == covariance_type:
                bayes = BayesianGaussianMixture(
                    k,
                    covariance_type=ct,
                    priors=priors,
                    draws=draws,
                    tune=tune,
                    chains=chains,
                    target_accept=target_accept,
                    sampler=sampler,
                    random_state=seed,
                    progressbar=False,
                ).fit(X, em=em)
                w = waic(bayes)
                lo = loo(bayes)
                pointwise[len(rows)] = {"waic": w.pointwise, "loo": lo.pointwise}
                dg = bayes.diagnostics_
                row.update(
                    waic=w.value,
                    p_waic=w.p,
                    waic_se=w.se,
                    loo=lo.value,
                    p_loo=lo.p,
                    loo_se=lo.se,
                    waic_warning=w.warning,
                    loo_warning=lo.warning,
                    max_rhat=float(dg["max_rhat"]),
                    min_ess_bulk=float(dg["min_ess_bulk"]),
                    divergences=int(dg["divergences"]),
                )
            rows.append(row)
            models[(k, ct)] = (em, bayes)
        if progress:
            r = next(r for r in rows if r["k"] == k and r["covariance_type"] == covariance_type)
            print(
                f"  K={k} ({i}/{len(ks)}) done in {time.perf_counter() - t0:.1f} s: "
                f"BIC {r['bic']:.1f}, WAIC {r['waic']:.1f} +/- {r['waic_se']:.1f}, "
                f"LOO {r['loo']:.1f} +/- {r['loo_se']:.1f}, max R-hat {r['max_rhat']:.3f}, "
                f"{r['divergences']} divergence(s)",
                file=sys.stderr,
                flush=True,
            )
    columns = [
        "k",
        "covariance_type",
        "loglik",
        "em_converged",
        "n_params",
        *CRITERIA,
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
    ]
    table = pd.DataFrame(rows, columns=columns)
    for col in ("waic_warning", "loo_warning"):
        table[col] = table[col].astype("boolean")
    table["divergences"] = table["divergences"].astype("Int64")
    for crit in BAYES_CRITERIA:
        diff = np.full(len(table), np.nan)
        diff_se = np.full(len(table), np.nan)
        if pointwise:
            best = min(pointwise, key=lambda i, c=crit: table.at[i, c])
            for i, values in pointwise.items():
                d_i = values[crit] - pointwise[best][crit]
                diff[i] = float(np.sum(d_i))
                diff_se[i] = float(np.sqrt(d_i.size * np.var(d_i)))
        table[f"{crit}_diff"] = diff
        table[f"{crit}_diff_se"] = diff_se
    rank_criteria(table, (*CRITERIA, *BAYES_CRITERIA))
    if return_models:
        return table, models
    return table
