r"""The Bayesian Gaussian mixture as a PyMC model, with the component labels marginalised.

::

    w            ~ Dirichlet(alpha)                                  dims component
    mu[k, f]     ~ Normal(mean_loc[f], mean_scale[f])                dims (component, feature)
                   with mu[:, 0] ordered (mu[0, 0] < mu[1, 0] < ...)
    full, d >= 2:  chol[k] ~ LKJCholeskyCov(eta=lkj_eta, sd_dist=HalfNormal(sd_scale))  dims (component, packed)
    diag, d >= 2:  sigma[k, f] ~ HalfNormal(sd_scale[f])             dims (component, feature)
    d == 1:        sigma[k]    ~ HalfNormal(sd_scale)                dims component
    x_i | ...    : log p(x_i) = log sum_k w_k N(x_i | mu_k, Sigma_k)  (no labels sampled)

Label switching: the means are ordered along the first feature (an ordered transform on
``mu[:, 0]``), which identifies the components; when components overlap along that feature
the order alone can still leave them poorly separated, so per-component summaries are
additionally relabelled against the EM solution (:mod:`bayesgmm.bayes.relabel`).

Covariance types: ``"full"`` and ``"diag"`` are modelled; for one feature they are the
same model (one standard deviation per component). ``"tied"`` and ``"spherical"`` are
refused with a clear error rather than silently mapped to a different model: use
``"full"`` or ``"diag"``.

The K Cholesky factors are one batched variable with the density of PyMC's
``LKJCholeskyCov`` (which takes one factor at a time) written out in
:func:`lkj_cholesky_cov_logp`, normalised (PyMC 5 adds the LKJ constant with the wrong sign; PyMC 6 has it right).

Two likelihood implementations give the same density (tested to ~1e-10):

- ``likelihood="fused"``: a PyTensor Op (:mod:`bayesgmm.bayes._likelihood`) that makes
  one fused pass over the data for the log-likelihood and its gradient (Fisher's
  identity), added with ``pm.Potential("loglike", ...)``;
- ``likelihood="pymc"``: PyMC's own graph, ``pm.NormalMixture`` (d = 1) or ``pm.Mixture``
  of one batched ``pm.MvNormal`` of K components, observed as ``"x"`` -- PyMC's default model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.logprob.transforms import Transform

from .._validation import check_int, check_option, check_X
from ..params import GMMParams
from ._likelihood import MixtureLogLike
from ._log_posterior_numba import lkj_log_normaliser

__all__ = [
    "BAYES_COVARIANCE_TYPES",
    "Priors",
    "build_model",
    "initial_values",
    "lkj_cholesky_cov_logp",
    "model_kind",
]

LIKELIHOODS = ("fused", "pymc")

#: The covariance types the Bayesian model supports, and how it parametrises each one
#: with two or more features (with one feature both are one standard deviation per
#: component). Everything that accepts a Bayesian covariance type checks against this table.
BAYES_COVARIANCE_TYPES: dict[str, str] = {
    "full": "full",  # LKJ prior on the Cholesky factor of each component's covariance
    "diag": "diag",  # HalfNormal prior on each component's per-feature standard deviations
}


# --------------------------------------------------------------------------- priors
def _positive(value, name, allow_none=True):
    if value is None and allow_none:
        return None
    arr = np.asarray(value, dtype=float)
    if arr.ndim > 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            f"The '{name}' prior parameter must be a positive float or a 1-D array of positive "
            f"floats. Got {value!r} instead."
        )
    return float(arr) if arr.ndim == 0 else tuple(float(v) for v in arr)


@dataclass(frozen=True)
class Priors:
    """Prior hyper-parameters of the Bayesian mixture.

    Parameters
    ----------
    alpha : float or sequence of float, default=1.0
        Dirichlet concentration on the weights (scalar or one per component). 1 is the
        uniform distribution on the simplex: no component is favoured and no weight is
        pushed to 0 or to equality. Well below 1 (e.g. 0.01) is the sparse prior of an
        overfitted mixture, which empties the components the data do not need
        (:mod:`bayesgmm.bayes.occupancy`).
    mean_loc : float or sequence of float (one per feature), optional
        Centre of the Normal prior on the component means; ``None`` is the data mean.
    mean_scale : float or sequence of float, optional
        Its standard deviation; ``None`` is 2 x the data standard deviation per feature,
        which covers every location the data can support while staying proper (a flat
        prior would be improper and scale-dependent).
    sd_scale : float or sequence of float, optional
        Scale of the HalfNormal prior on the component standard deviations; ``None`` is
        2 x the data standard deviation per feature. A component cannot be wider than the
        data by much, so this is weak but keeps the sampler away from absurd widths.
    lkj_eta : float, default=2.0
        LKJ concentration of the correlation matrices (d >= 2, ``"full"``). 2 is mildly
        regularising: it gives zero density to perfect +/-1 correlations (degenerate
        components) and is otherwise almost flat.

    Notes
    -----
    The ``None`` defaults are scaled to the data (a weakly informative, empirical choice):
    the same model gives the same posterior in metres or in millimetres.
    """

    alpha: Any = 1.0
    mean_loc: Any = None
    mean_scale: Any = None
    sd_scale: Any = None
    lkj_eta: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "alpha", _positive(self.alpha, "alpha", allow_none=False))
        if self.mean_loc is not None:
            loc = np.asarray(self.mean_loc, dtype=float)
            if loc.ndim > 1 or loc.size == 0 or not np.all(np.isfinite(loc)):
                raise ValueError(
                    "The 'mean_loc' prior parameter must be a finite float or a 1-D array of "
                    f"finite floats. Got {self.mean_loc!r} instead."
                )
            object.__setattr__(self, "mean_loc", float(loc) if loc.ndim == 0 else tuple(loc.tolist()))
        object.__setattr__(self, "mean_scale", _positive(self.mean_scale, "mean_scale"))
        object.__setattr__(self, "sd_scale", _positive(self.sd_scale, "sd_scale"))
        eta = self.lkj_eta
        if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not np.isfinite(eta) or eta <= 0:
            raise ValueError(f"The 'lkj_eta' prior parameter must be a float > 0. Got {eta!r} instead.")
        object.__setattr__(self, "lkj_eta", float(eta))

    def resolve(self, X: np.ndarray, n_components: int) -> dict[str, np.ndarray | float]:
        """Concrete hyper-parameters for data ``X``: alpha (K,), mean_loc, mean_scale, sd_scale (d,)."""
        X = np.asarray(X, dtype=float)
        d = X.shape[1]
        std = X.std(axis=0) if X.shape[0] > 1 else np.ones(d)
        std = np.where(std > 0, std, 1.0)

        def vec(value, default, name, size):
            if value is None:
                return np.asarray(default, dtype=float)
            arr = (
                np.broadcast_to(np.asarray(value, dtype=float), (size,))
                if np.ndim(value) == 0
                else np.asarray(value, dtype=float)
            )
            if arr.shape != (size,):
                raise ValueError(
                    f"The '{name}' prior parameter must be a scalar or have length {size}. "
                    f"Got length {arr.shape[0]} instead."
                )
            return arr.copy()

        return {
            "alpha": vec(self.alpha, None, "alpha", n_components),
            "mean_loc": vec(self.mean_loc, X.mean(axis=0), "mean_loc", d),
            "mean_scale": vec(self.mean_scale, 2.0 * std, "mean_scale", d),
            "sd_scale": vec(self.sd_scale, 2.0 * std, "sd_scale", d),
            "lkj_eta": self.lkj_eta,
        }


# --------------------------------------------------------------------------- transform
class OrderedFirstColumn(Transform):
    """Ordered transform on the first column of a (K, d) array; other columns untouched.

    The unconstrained value keeps ``mu[0, 0]`` and the log-gaps ``log(mu[k, 0] -
    mu[k-1, 0])``; the log-Jacobian is the sum of the log-gaps (element-wise, zeros
    elsewhere, so it adds to the element-wise Normal log-density).
    """

    name = "ordered_first_column"

    def backward(self, value, *inputs):
        col = value[:, 0]
        ordered = pt.cumsum(pt.concatenate([col[:1], pt.exp(col[1:])]))
        return pt.set_subtensor(value[:, 0], ordered)

    def forward(self, value, *inputs):
        col = value[:, 0]
        gaps = pt.concatenate([col[:1], pt.log(col[1:] - col[:-1])])
        return pt.set_subtensor(value[:, 0], gaps)

    def log_jac_det(self, value, *inputs):
        return pt.set_subtensor(pt.zeros_like(value)[1:, 0], value[1:, 0])


ordered_first_column = OrderedFirstColumn()


# --------------------------------------------------------------------------- LKJ prior
def _packed_diagonal(d: int) -> np.ndarray:
    """Positions of the diagonal in a row-major packed lower triangle of size d."""
    return np.cumsum(np.arange(1, d + 1)) - 1


def lkj_cholesky_cov_logp(value, eta: float, sd_scale, d: int | None = None):
    """Log-density of K packed Cholesky factors, one per row of ``value`` (shape (K, m)).

    The same distribution as PyMC's ``LKJCholeskyCov(eta, n=d, sd_dist=HalfNormal(sd_scale))``
    for every row (the covariance ``L L^T`` has standard deviations ``s`` with HalfNormal
    priors and an LKJ(eta) correlation matrix), written for a batch of factors -- PyMC's
    implementation takes one vector at a time -- and with the normalising constant
    ``-log c_d(eta)`` (:func:`~bayesgmm.bayes._log_posterior_numba.lkj_log_normaliser`;
    PyMC 5 adds ``+log c_d(eta)``). Returns shape (K,). ``sd_scale`` may
    be a tensor (then pass ``d``).
    """
    d = len(sd_scale) if d is None else d
    diag = _packed_diagonal(d)
    cumsum = pt.cumsum(value**2, axis=-1)
    variance = pt.concatenate(
        [cumsum[..., diag[:1]], cumsum[..., diag[1:]] - cumsum[..., diag[:-1]]], axis=-1
    )
    sd = pt.sqrt(variance)
    scale = pt.as_tensor_variable(
        sd_scale if isinstance(sd_scale, pt.Variable) else np.asarray(sd_scale, dtype=float)
    )
    logp_sd = pt.sum(0.5 * np.log(2.0 / np.pi) - pt.log(scale) - 0.5 * (sd / scale) ** 2, axis=-1)
    log_corr_diag = pt.log(value[..., diag] / sd)
    idx = np.arange(d)
    logp_lkj = pt.sum((2 * eta - 3 + d - idx) * log_corr_diag, axis=-1)
    log_inv_jacobian = pt.sum(log_corr_diag - idx * pt.log(sd), axis=-1)
    return logp_sd + logp_lkj + log_inv_jacobian - lkj_log_normaliser(d, eta)


def _lkj_cholesky_cov(name: str, k: int, d: int, eta: float, sd_scale: np.ndarray):
    """One batched variable ``name`` of dims (component, packed): K packed Cholesky factors."""
    from pymc.distributions.transforms import CholeskyCovPacked

    start = np.eye(d)[np.tril_indices(d)] * np.asarray(sd_scale)[np.tril_indices(d)[0]] / 2.0
    scale = _graph_input(sd_scale, "sd_scale")

    def support_point(rv, size, template, *_):
        return pt.zeros((k, template.shape[-1])) + template

    return pm.CustomDist(
        name,
        start,
        logp=lambda value, template: lkj_cholesky_cov_logp(value, eta, scale, d),
        support_point=support_point,
        signature="(m)->(m)",
        transform=CholeskyCovPacked(d),
        dims=("component", "packed"),
    )


# --------------------------------------------------------------------------- the model
def _graph_input(value, name: str) -> pt.TensorVariable:
    """A data-dependent value as a shared variable, not a constant: the compiled
    log-density then takes it as an argument, so one compiled function serves every data
    set of the same shape. Named (nutpie 0.16.8 keys the shared variables by name)."""
    import pytensor

    return pytensor.shared(np.asarray(value, dtype=float), name=name)


def model_kind(covariance_type: str, n_features: int) -> str:
    """How the covariances are parametrised: ``"full"`` (LKJ Cholesky) or ``"diag"``."""
    check_option(covariance_type, "covariance_type", (*BAYES_COVARIANCE_TYPES, "tied", "spherical"))
    if covariance_type not in BAYES_COVARIANCE_TYPES:
        raise ValueError(
            f"The Bayesian model supports covariance_type 'full' or 'diag'. Got {covariance_type!r}: "
            "use 'full' for a tied covariance and 'diag' for a spherical one (both strictly more "
            "general), or fit the EM model for that constraint."
        )
    return BAYES_COVARIANCE_TYPES[covariance_type] if n_features >= 2 else "diag"


def build_model(
    X: Any,
    n_components: int,
    *,
    covariance_type: str = "full",
    priors: Priors | None = None,
    likelihood: str = "fused",
    threads: int | None = None,
) -> pm.Model:
    """Build the marginalised Bayesian Gaussian mixture (see the module docstring).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int
    covariance_type : {"full", "diag"}, default="full"
        ``"tied"`` and ``"spherical"`` are refused (use "full" / "diag"). For one feature
        "full" and "diag" are the same model.
    priors : Priors, optional
        Defaults to ``Priors()`` (weakly informative, scaled to the data).
    likelihood : {"fused", "pymc"}, default="fused"
        "fused": one-pass log-likelihood and gradient (a ``pm.Potential`` named
        ``"loglike"``); "pymc": PyMC's mixture distributions with ``observed=X`` (the
        observed variable is ``"x"``).
    threads : int, optional
        Numba threads per likelihood evaluation (fused only); 1 when chains run in parallel.

    Returns
    -------
    pm.Model
        Free variables ``w`` (component), ``mu`` (component, feature) and either
        ``sigma`` (component[, feature]) or ``chol`` (component, packed): the packed LKJ
        Cholesky factors, with deterministics ``sigma`` (component, feature) and ``cov``
        (component, feature, feature_bis). Coordinates ``component``, ``feature``,
        ``obs_id`` (and ``packed``, ``feature_bis`` for full covariances). The ordered transform on ``mu`` needs ordered starting values: pass
        :func:`initial_values` to ``pm.sample(initvals=...)``.
    """
    X = check_X(X)
    n, d = X.shape
    k = check_int(n_components, "n_components")
    check_option(likelihood, "likelihood", LIKELIHOODS)
    kind = model_kind(covariance_type, d)
    if priors is None:
        priors = Priors()
    if not isinstance(priors, Priors):
        raise TypeError(f"The 'priors' parameter must be a Priors instance. Got {type(priors).__name__}.")
    hp = priors.resolve(X, k)

    coords = {"component": np.arange(k), "feature": np.arange(d), "obs_id": np.arange(n)}
    if kind == "full":
        coords["feature_bis"] = np.arange(d)
        coords["packed"] = np.arange(d * (d + 1) // 2)
    with pm.Model(coords=coords) as model:
        if k == 1:
            # one component: the weight is 1 and there is nothing to order (a Dirichlet of
            # size 1 has an empty simplex and trips PyTensor's rewrites)
            w = pm.Deterministic("w", pt.ones((1,)), dims="component")
        else:
            w = pm.Dirichlet("w", a=_graph_input(hp["alpha"], "alpha"), dims="component")
        mu = pm.Normal(
            "mu",
            mu=_graph_input(hp["mean_loc"], "mean_loc")[None, :],
            sigma=_graph_input(hp["mean_scale"], "mean_scale")[None, :],
            dims=("component", "feature"),
            **({"transform": ordered_first_column} if k > 1 else {}),
        )
        if kind == "full":
            chol = _lkj_cholesky_cov("chol", k, d, hp["lkj_eta"], hp["sd_scale"])
            il = np.tril_indices(d)
            scale = pt.set_subtensor(pt.zeros((k, d, d))[:, il[0], il[1]], chol)
            cov = pm.Deterministic(
                "cov", scale @ pt.swapaxes(scale, 1, 2), dims=("component", "feature", "feature_bis")
            )
            pm.Deterministic(
                "sigma", pt.sqrt(pt.diagonal(cov, axis1=1, axis2=2)), dims=("component", "feature")
            )
        elif d == 1:
            scale = pm.HalfNormal(
                "sigma", sigma=_graph_input(hp["sd_scale"], "sd_scale")[0], dims="component"
            )
        else:
            scale = pm.HalfNormal(
                "sigma",
                sigma=_graph_input(hp["sd_scale"], "sd_scale")[None, :],
                dims=("component", "feature"),
            )

        if likelihood == "fused":
            # the data enter as a shared variable: compiled functions take it as an
            # argument instead of embedding 8n bytes in the machine code
            data = pm.Data("x_data", X, dims=("obs_id", "feature"))
            shift = _graph_input(X.mean(axis=0), "shift")
            loglike = MixtureLogLike(kind, threads=threads)(data, shift, w, mu, scale)
            pm.Potential("loglike", loglike[0])
        elif d == 1:
            pm.NormalMixture("x", w=w, mu=mu[:, 0], sigma=scale, observed=X[:, 0], dims="obs_id")
        else:
            chol = scale if kind == "full" else scale[:, :, None] * pt.eye(d)
            components = pm.MvNormal.dist(mu=mu, chol=chol)  # one batched distribution, (K, d)
            pm.Mixture("x", w=w, comp_dists=components, observed=X, dims=("obs_id", "feature"))
    return model


def initial_values(params: GMMParams, covariance_type: str = "full") -> dict[str, np.ndarray]:
    """Starting values for :func:`build_model`'s free variables from a mixture.

    The components are sorted along the first feature (the model's ordering); the
    covariances are converted to the model's parametrisation (packed LKJ Cholesky
    factors for "full", standard deviations for "diag"). Pass the result to
    ``pm.sample(initvals=...)`` -- never as ``initval=`` on the variables (that blocks
    the log-likelihood group).

    Parameters
    ----------
    params : GMMParams
    covariance_type : {"full", "diag"}
        The Bayesian model's covariance type (the parameters are converted to it).
    """
    d = params.n_features
    kind = model_kind(covariance_type, d)
    p = params.sorted(0)
    means = np.array(p.means, dtype=float)
    # strictly increasing first feature, or the ordered transform's log-gaps are -inf
    for j in range(1, len(means)):
        if means[j, 0] <= means[j - 1, 0]:
            means[j, 0] = np.nextafter(means[j - 1, 0], np.inf) + 1e-12 * max(1.0, abs(means[j - 1, 0]))
    weights = np.clip(np.array(p.weights, dtype=float), 1e-12, None)
    out: dict[str, np.ndarray] = {"mu": means}
    if len(weights) > 1:
        out["w"] = weights / weights.sum()
    full = p.covariances_full()
    if kind == "full":
        il = np.tril_indices(d)
        out["chol"] = np.linalg.cholesky(full)[:, il[0], il[1]]
    else:
        sd = np.sqrt(np.diagonal(full, axis1=1, axis2=2))
        out["sigma"] = sd[:, 0] if d == 1 else sd
    return out
