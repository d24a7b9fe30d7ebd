r"""WAIC and PSIS-LOO: the expected log predictive density estimated from posterior draws.

Scales. Both can be read on the *deviance* scale, where lower is better, like AIC and BIC:

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

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import logsumexp

from .._validation import check_option
from ..exceptions import NotFittedError
from ..params import frozen_array
from . import _arviz

__all__ = ["CriterionWarning", "ELPDEstimate", "loo", "pointwise_log_likelihood", "waic"]

SCALES = ("deviance", "log", "negative_log")
_SCALE_FACTOR = {"deviance": -2.0, "log": 1.0, "negative_log": -1.0}
WAIC_VARIANCE_MAX = 0.4


class CriterionWarning(UserWarning):
    """WAIC or PSIS-LOO flags its own estimate as unreliable (see :mod:`bayesgmm.bayes.elpd`)."""


def _readonly(a: Any) -> np.ndarray | None:
    return None if a is None else frozen_array(a)


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

    # the deviance scale, as EvidenceEstimate has it (one line each: not worth a base class)
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
    """The ``log_likelihood`` group of the installed ArviZ's container, or a Dataset itself;
    None for anything else. (Not reached for an array: WAIC of an array needs no ArviZ.)"""
    if _arviz.is_container(obj):
        return _arviz.group(obj, "log_likelihood")
    if hasattr(obj, "data_vars"):  # an xarray Dataset
        return obj
    return None


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
    check_option(scale, "scale", SCALES)
    if reff is not None and not (isinstance(reff, (int, float)) and 0 < reff):
        raise ValueError(f"The 'reff' parameter must be a float > 0. Got {reff!r} instead.")
    data = _resolve(data)
    ll = _log_likelihood_3d(data, var_name)  # the same checks and messages as waic
    if _arviz.is_container(data):
        idata = data  # ArviZ estimates reff from its posterior group
        if var_name is None:
            var_name = list(_log_likelihood_dataset(data).data_vars)[0]
    else:
        idata, var_name = _arviz.from_dict({"log_likelihood": {"x": ll}}), "x"
    if reff is None and "posterior" not in _arviz.groups(idata):
        reff = 1.0
    res = _arviz.loo(idata, var_name=var_name, reff=reff)  # ArviZ's own Pareto-k warnings: ours below
    k, good_k = res.pareto_k, res.good_k
    # the PSIS-LOO twin of the WAIC check above: count, then warn with the numbers
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
    return ELPDEstimate(
        method="loo",
        elpd=res.elpd,
        elpd_se=res.se,
        p=res.p,
        scale=scale,
        value=c * res.elpd,
        se=abs(c) * res.se,
        n_samples=res.n_samples,
        n_obs=res.n_obs,
        warning=bool(bad),
        pointwise=c * res.elpd_i if pointwise else None,
        pareto_k=k,
        good_k=good_k,
    )
