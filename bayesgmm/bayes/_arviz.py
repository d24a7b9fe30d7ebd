"""ArviZ on either of its two lines: everything bayesgmm asks of ArviZ, in one place.

bayesgmm runs on two ArviZ lines (``pyproject.toml``): 0.23 (Python 3.10-3.11, beside
PyMC 5) and 1.x (Python >= 3.12, beside PyMC 6). They differ in

- the posterior container: ``arviz.InferenceData`` (its groups are xarray Datasets,
  listed by ``groups()``, added by ``add_groups``) on 0.23; xarray's ``DataTree`` on 1.x
  (arviz-base; its groups are child nodes, turned into Datasets by ``to_dataset()``);
- building one from arrays: ``from_dict(posterior=...)`` against ``from_dict({"posterior": ...})``;
- statistics of the same name with other signatures or results (arviz-stats on 1.x):
  ``hdi`` (``hdi_prob`` / ``prob``), ``summary`` (a 94% HDI by default on 0.23, an 89%
  equal-tailed interval on 1.x), ``loo`` (an ``ELPDData`` series with a ``scale`` on 0.23,
  an object with attributes on the log scale on 1.x), ``bfmi`` (an array / a Dataset);
- writing a NetCDF file: ArviZ 1.x installs no NetCDF backend (bayesgmm declares h5netcdf),
  and neither line writes dictionaries held in attributes (nutpie's settings).

Each difference is resolved here, once; the rest of the package calls these functions and
never asks which line is installed. What does not differ (``convert_to_dataset``, R-hat and
ESS of a Dataset or an array) is called here too, so that this module is the whole of
bayesgmm's use of ArviZ. The plots are drawn with matplotlib from the draws
(:mod:`bayesgmm.bayes.posterior`), the same figure on both lines.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "HDI_PROB",
    "LooResult",
    "bfmi",
    "current_line",
    "dataset",
    "ess_mean",
    "from_dict",
    "group",
    "groups",
    "hdi",
    "is_container",
    "loo",
    "rhat_ess",
    "set_group",
    "summary",
    "summary_interval_columns",
    "to_netcdf",
]

#: Probability of the highest-density interval of :func:`summary` on both lines (ArviZ
#: 0.23's default; ArviZ 1.x's default is an 89% equal-tailed interval).
HDI_PROB = 0.94


@functools.cache
def current_line() -> bool:
    """Whether the installed ArviZ is of the 1.x line (DataTree, arviz-stats), not 0.23."""
    import arviz as az

    return int(az.__version__.split(".")[0]) >= 1


# --------------------------------------------------------------------------- the container
def from_dict(
    groups: Mapping[str, Mapping[str, np.ndarray]],
    *,
    coords: Mapping[str, Any] | None = None,
    dims: Mapping[str, list[str]] | None = None,
):
    """The installed ArviZ's container from ``{group: {variable: array}}``.

    Arrays of the sample groups (``posterior``, ``sample_stats``, ``log_likelihood``) have
    leading dimensions (chain, draw); ``dims`` names the others, per variable.
    """
    import arviz as az

    groups = {name: dict(variables) for name, variables in groups.items()}
    if current_line():
        return az.from_dict(groups, coords=coords, dims=dims)
    return az.from_dict(**groups, coords=coords, dims=dims)


def dataset(
    arrays: Mapping[str, np.ndarray],
    *,
    coords: Mapping[str, Any] | None = None,
    dims: Mapping[str, list[str]] | None = None,
):
    """An xarray Dataset of (chain, draw, ...) arrays, as ArviZ builds a group."""
    import arviz as az

    return az.convert_to_dataset(dict(arrays), coords=coords, dims=dims)


def is_container(obj: Any) -> bool:
    """Whether ``obj`` is the installed ArviZ's container (InferenceData or DataTree).

    A DataTree's root has ``data_vars`` like a Dataset, so the type is tested, not the
    attributes.
    """
    if current_line():
        import xarray as xr

        return isinstance(obj, xr.DataTree)
    import arviz as az

    return isinstance(obj, az.InferenceData)


def groups(container: Any) -> list[str]:
    """The names of the container's groups."""
    if current_line():
        return list(container.children)
    return list(container.groups())


def group(container: Any, name: str):
    """The group ``name`` of the container as an xarray Dataset, or None when it has none.

    On ArviZ 0.23 the Dataset held by the container (changes to it change the container);
    on 1.x a Dataset made from the node: write it back with :func:`set_group`.
    """
    if name not in groups(container):
        return None
    if current_line():
        return container[name].to_dataset()
    return getattr(container, name)


def set_group(container: Any, name: str, ds: Any) -> None:
    """Add the Dataset ``ds`` to the container as group ``name``, or replace that group."""
    if current_line():
        container[name] = ds
    elif name in container.groups():
        setattr(container, name, ds)
    else:
        container.add_groups({name: ds})


# --------------------------------------------------------------------------- statistics
@contextmanager
def _numpy_kernels() -> Iterator[None]:
    """ArviZ 0.23 with its numba kernels switched off (its public ``arviz.Numba`` toggle) for
    the block, then on again if they were: with numba installed, 0.23 compiles its variance
    kernels without a disk cache, in every new process, which costs a fit more than the
    numpy kernels do on a few thousand draws. ArviZ 1.x compiles nothing: no change there."""
    if current_line():
        yield
        return
    import arviz as az

    was_on = bool(az.Numba.numba_flag)
    if was_on:
        az.Numba.disable_numba()
    try:
        yield
    finally:
        if was_on:
            az.Numba.enable_numba()


def rhat_ess(arrays: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """``name -> {"rhat", "ess_bulk", "ess_tail"}`` of (chain, draw) arrays: ArviZ's rank
    normalised split R-hat and its bulk and tail ESS (Vehtari et al. 2021), computed by its
    numpy kernels (:func:`_numpy_kernels`)."""
    import arviz as az

    ds = dataset(arrays)
    with _numpy_kernels():
        rhat, bulk, tail = az.rhat(ds), az.ess(ds, method="bulk"), az.ess(ds, method="tail")
    return {
        k: {"rhat": float(rhat[k]), "ess_bulk": float(bulk[k]), "ess_tail": float(tail[k])} for k in arrays
    }


def ess_mean(values: np.ndarray) -> float:
    """ArviZ's ESS of the mean of a (chain, draw) array."""
    import arviz as az

    return float(az.ess(np.asarray(values, dtype=float), method="mean"))


def hdi(values: np.ndarray, prob: float) -> tuple[float, float]:
    """The highest-density interval of probability ``prob`` of 1-D draws (ArviZ's)."""
    import arviz as az

    values = np.asarray(values, dtype=float).ravel()
    low, high = az.hdi(values, prob=prob) if current_line() else az.hdi(values, hdi_prob=prob)
    return float(low), float(high)


def summary_interval_columns() -> tuple[str, str]:
    """The names :func:`summary` gives the bounds of its 94% HDI: ``hdi_3%`` and
    ``hdi_97%`` on ArviZ 0.23, ``hdi94_lb`` and ``hdi94_ub`` on 1.x."""
    return ("hdi94_lb", "hdi94_ub") if current_line() else ("hdi_3%", "hdi_97%")


def summary(ds: Any, **kwargs: Any):
    """ArviZ's summary table (a pandas DataFrame) of a Dataset of (chain, draw) draws.

    The interval is the 94% HDI on both lines unless ``kwargs`` ask for another (ArviZ
    0.23: ``hdi_prob``; 1.x: ``ci_prob``, ``ci_kind``); its columns are named by
    :func:`summary_interval_columns`. The other columns: ``mean``, ``sd``, ``mcse_mean``,
    ``mcse_sd``, ``ess_bulk``, ``ess_tail``, ``r_hat``.
    """
    import arviz as az

    if current_line():
        return az.summary(ds, **{"ci_kind": "hdi", "ci_prob": HDI_PROB, **kwargs})
    return az.summary(ds, **{"hdi_prob": HDI_PROB, **kwargs})


def bfmi(container: Any) -> list[float]:
    """ArviZ's Bayesian fraction of missing information, one per chain; empty when the
    sampler recorded no energy (e.g. the Gibbs sampler)."""
    import arviz as az

    stats = group(container, "sample_stats")
    if stats is None or "energy" not in stats:
        return []
    if current_line():
        return [float(b) for b in np.ravel(az.bfmi(container)["energy"].values)]
    return [float(b) for b in np.ravel(az.bfmi(container))]


@dataclass(frozen=True)
class LooResult:
    """ArviZ's PSIS-LOO on the log scale (higher is better), as either line reports it."""

    elpd: float
    se: float
    p: float
    elpd_i: np.ndarray
    pareto_k: np.ndarray
    good_k: float
    n_samples: int
    n_obs: int


def loo(container: Any, *, var_name: str, reff: float | None) -> LooResult:
    """ArviZ's PSIS-LOO of the container's ``log_likelihood`` variable ``var_name``.

    ``reff``: relative efficiency of the draws; None lets ArviZ estimate it from the
    ``posterior`` group (there must be one). ArviZ's own Pareto-k warnings are silenced:
    the caller reads ``pareto_k`` and ``good_k`` and says what they mean.
    """
    import arviz as az

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"arviz(_stats)?(\.|$)")
        if current_line():
            res = az.loo(container, pointwise=True, var_name=var_name, reff=reff)
            return LooResult(
                elpd=float(res.elpd),
                se=float(res.se),
                p=float(res.p),
                elpd_i=np.asarray(res.elpd_i, dtype=float).ravel(),
                pareto_k=np.asarray(res.pareto_k, dtype=float).ravel(),
                good_k=float(res.good_k),
                n_samples=int(res.n_samples),
                n_obs=int(res.n_data_points),
            )
        res = az.loo(container, pointwise=True, var_name=var_name, reff=reff, scale="log")
    return LooResult(
        elpd=float(res["elpd_loo"]),
        se=float(res["se"]),
        p=float(res["p_loo"]),
        elpd_i=np.asarray(res["loo_i"], dtype=float).ravel(),
        pareto_k=np.asarray(res["pareto_k"], dtype=float).ravel(),
        good_k=float(res["good_k"]),
        n_samples=int(res["n_samples"]),
        n_obs=int(res["n_data_points"]),
    )


# --------------------------------------------------------------------------- files
def _netcdf_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes a NetCDF file can hold: a string, a number (not a bool), a numeric array
    or a list of strings or of numbers are kept; anything else (nutpie records its
    settings as a dictionary; a bool, None) is written as its JSON text."""

    def number(v: Any) -> bool:
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))

    out = {}
    for key, value in attrs.items():
        if isinstance(value, (str, bytes)) or number(value):
            out[key] = value
        elif isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
            out[key] = value
        elif isinstance(value, (list, tuple)) and value and (
            all(isinstance(v, str) for v in value) or all(number(v) for v in value)
        ):
            out[key] = list(value)
        else:
            out[key] = json.dumps(value, default=str)
    return out


def to_netcdf(container: Any, path: str) -> None:
    """Write the container to a NetCDF file that the installed ArviZ's ``from_netcdf`` reads.

    The container is not changed: the file holds a copy whose attributes NetCDF cannot
    hold are written as JSON text (:func:`_netcdf_attrs`).
    """
    import arviz as az

    names = groups(container)
    clean = {}
    for name in names:
        ds = group(container, name).copy()
        ds.attrs = _netcdf_attrs(ds.attrs)
        for var in ds.variables.values():
            var.attrs = _netcdf_attrs(var.attrs)
        clean[name] = ds
    if current_line():
        import xarray as xr

        tree = xr.DataTree.from_dict(clean)
        tree.attrs = _netcdf_attrs(container.attrs)
        tree.to_netcdf(path, engine="h5netcdf")
    else:
        az.InferenceData(attrs=_netcdf_attrs(getattr(container, "attrs", {}) or {}), **clean).to_netcdf(path)
