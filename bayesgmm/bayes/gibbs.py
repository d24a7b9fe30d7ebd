r"""Gibbs sampling of an overfitted Gaussian mixture over the allocations (a sparse finite mixture).

The sampler of Malsiner-Walli, Fruehwirth-Schnatter & Gruen (2016, "Model-based clustering
based on sparse finite Gaussian mixtures"): with ``K_max`` components, more than the data
need, and a sparse Dirichlet prior on the weights, every sweep draws

1. the allocation ``z_i`` of every observation from its membership probabilities
   ``P(z_i = k | theta) ∝ w_k N(x_i | mu_k, Sigma_k)``;
2. the weights ``w | z ~ Dirichlet(alpha + n_k)`` (``n_k``: observations in component k);
3. each mean ``mu_k | Sigma_k, z`` from its Normal full conditional;
4. each covariance ``Sigma_k | mu_k, z`` (below);
5. with the inverse-Wishart priors, ``split_moves`` Metropolis-Hastings proposals that give
   a component another's share of weight and new parameters near the data, accepted on
   the posterior with the allocations summed out (:mod:`bayesgmm.bayes._gibbs_split`):
   without it an empty component is re-occupied only when a draw from its prior lands on
   a group, which under a wide prior on the means takes thousands of sweeps.

A component that holds no observation is drawn from the prior. The number of components
holding at least one observation, counted in every sweep, is the posterior of the number of
occupied components (:mod:`bayesgmm.bayes.occupancy`). Unlike gradient-based sampling of
the marginal model, nothing here needs the weight of an empty component to travel down a
funnel: an allocation empties a component in one step, which is why this sampler mixes
where NUTS on the sparse model does not.

Priors, with the hyper-parameters of :class:`~bayesgmm.bayes.model.Priors` resolved for
the data exactly as for the NUTS model (:mod:`bayesgmm.bayes.model`):

- ``w ~ Dirichlet(alpha)`` and ``mu[k, f] ~ Normal(mean_loc[f], mean_scale[f])``: the
  NUTS model's priors (without its ordering of the means, which only picks a labelling);
- the covariances (``scale_prior="inverse_wishart"``, the default):
  ``Sigma_k ~ InverseWishart(nu0, Psi0)`` with ``nu0 = d + 4`` and
  ``Psi0 = diag(sd_scale^2) / 2`` -- for one feature, or each feature of
  ``covariance_type="diag"``, the inverse-gamma ``sigma^2 ~ IG(5 / 2, sd_scale^2 / 4)``.
  ``nu0`` is Malsiner-Walli et al.'s ``c0 = 2.5 + (d - 1) / 2``; ``Psi0`` puts the prior
  mean of each variance at ``sd_scale^2 / 6`` (two thirds of the data's variance with the
  default ``sd_scale``, twice its standard deviation). This is the **conjugate counterpart**
  of the NUTS model's HalfNormal / LKJ prior, **not the same prior**. It matters for the
  count: a HalfNormal standard deviation has its largest density at 0, which makes a
  narrow component of a few observations in a tail cheap (measured in
  ``benchmarks/README.md``); the inverse-Wishart's density vanishes there, so such
  components are only kept when the data insist -- the role of the prior on the
  covariances in Malsiner-Walli et al. (here with a fixed scale; their hierarchical one
  is ``scale_prior="hierarchical"``, below).
- ``scale_prior="halfnormal"``: the NUTS model's own prior, ``sigma[k, f] ~
  HalfNormal(sd_scale[f])`` and, for ``"full"`` with two or more features, LKJ(lkj_eta)
  correlations. Its full conditional is not a standard distribution, so the scales get
  independence Metropolis-Hastings steps. One feature or ``"diag"``: each variance ``tau``
  is proposed from the inverse-gamma conditional of the likelihood alone (acceptance
  ratio ``exp(-(tau' - tau) / (2 sd_scale^2))``, close to 1) or, for a one-observation
  component, from the prior. ``"full"``: each covariance is proposed from its
  inverse-Wishart conditional above and accepted with the ratio of the two priors' densities
  (the likelihood cancels), in a few rounds alternating with the means. An empty
  component's scales are drawn from the prior (the onion method for LKJ). With this option
  the sampler targets exactly the posterior of
  :class:`~bayesgmm.bayes.sampling.BayesianGaussianMixture` (whose ordering of the means
  only picks a labelling): it is that class's ``sampler="gibbs"``.
- ``scale_prior="hierarchical"``: Malsiner-Walli et al.'s own prior
  (:mod:`bayesgmm.bayes._gibbs_priors`): the inverse-Wishart above with its scale
  ``Psi0 = 2 C0`` unknown, ``C0`` under a Wishart hyper-prior set from the data's range and
  drawn in one more Gibbs step per sweep, and -- unless ``priors`` sets them -- the means'
  Normal prior centred on the midpoint of the range with the range as its standard deviation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._parallel import run_tasks
from .._validation import check_int, check_option, check_random_state, check_X
from ._gibbs_numpy import SINGLETON_MH_STEPS, allocate, empty_draws, initial_state, numpy_chain

__all__ = [
    "IW_EXTRA_DF",
    "IW_SCALE",
    "SCALE_PRIORS",
    "GibbsDraws",
    "gibbs_priors",
    "sample_sparse_mixture",
]

SCALE_PRIORS = ("inverse_wishart", "halfnormal", "hierarchical")
#: Degrees of freedom of the inverse-Wishart prior beyond the dimension (nu0 = d + 4).
IW_EXTRA_DF = 4
#: Psi0 = IW_SCALE * diag(sd_scale^2).
IW_SCALE = 0.5


@dataclass(frozen=True)
class GibbsDraws:
    """The draws of :func:`sample_sparse_mixture`, chain by chain.

    Attributes
    ----------
    weights : array of shape (chains, draws, k_max)
    means : array of shape (chains, draws, k_max, n_features)
    covariances : array of shape (chains, draws, k_max, n_features, n_features)
    sizes : int array of shape (chains, draws, k_max)
        Observations allocated to each component.
    occupied : int array of shape (chains, draws)
        Components holding at least one observation.
    log_likelihood : array of shape (chains, draws)
        ``sum_i log sum_k w_k N(x_i | mu_k, Sigma_k)`` of each draw's parameters.
    covariance_type : str
    priors : dict
        The resolved hyper-parameters.
    diagnostics : dict
        R-hat and bulk ESS of the label-invariant quantities (the occupied count and the
        total log-likelihood; :func:`~bayesgmm.bayes.diagnostics.label_invariant_diagnostics`).
    seconds : float
        Time spent sampling.
    """

    weights: np.ndarray = field(repr=False)
    means: np.ndarray = field(repr=False)
    covariances: np.ndarray = field(repr=False)
    sizes: np.ndarray = field(repr=False)
    occupied: np.ndarray = field(repr=False)
    log_likelihood: np.ndarray = field(repr=False)
    covariance_type: str
    priors: dict = field(repr=False)
    diagnostics: dict = field(repr=False)
    seconds: float

    @property
    def k_max(self) -> int:
        return self.weights.shape[-1]


# ----------------------------------------------------------------------------- priors
def gibbs_priors(
    priors: Any, X: np.ndarray, k_max: int, covariance_type: str, scale_prior: str = "inverse_wishart"
) -> dict[str, Any]:
    """Hyper-parameters for data ``X``: those of ``priors`` (a :class:`Priors`, or None for
    the defaults) resolved as for the NUTS model, plus ``kind`` ("full": one covariance
    matrix per component; "diag": one variance per feature), ``scale_prior`` and the
    inverse-Wishart's ``iw_df`` and ``iw_scale`` (for "diag", those of one feature); for
    ``"hierarchical"`` also ``hier_g0`` and ``hier_G0``, with ``iw_scale`` the starting value
    of the scale the sampler redraws (:func:`~bayesgmm.bayes._gibbs_priors.hierarchical_hyper`)."""
    from .model import Priors

    if priors is None:
        priors = Priors()
    if not isinstance(priors, Priors):
        raise TypeError(f"The 'priors' parameter must be a Priors instance. Got {type(priors).__name__}.")
    check_option(scale_prior, "scale_prior", SCALE_PRIORS)
    hyper = dict(priors.resolve(X, k_max))
    d = X.shape[1]
    kind = "full" if covariance_type == "full" and d > 1 else "diag"
    hyper.update(
        kind=kind,
        scale_prior=scale_prior,
        iw_df=float((d if kind == "full" else 1) + IW_EXTRA_DF),
        iw_scale=np.diag(IW_SCALE * hyper["sd_scale"] ** 2),
    )
    if scale_prior == "hierarchical":
        from ._gibbs_priors import hierarchical_hyper

        hyper.update(hierarchical_hyper(priors, X, kind))
    return hyper


def _chain_numba(X, z0, hyper, draws, tune, rng, thin=1, split_moves=0):
    from ._gibbs_numba import run_chain

    d = X.shape[1]
    k_max = hyper["alpha"].shape[0]
    _, scale = initial_state(X, z0, k_max, hyper)
    full = hyper["kind"] == "full"
    var = np.ones((k_max, d)) if full else np.ascontiguousarray(scale)
    chol = np.ascontiguousarray(scale) if full else np.zeros((k_max, d, d))
    out = empty_draws(draws, k_max, d)
    run_chain(
        X,
        z0.copy(),
        int(rng.integers(2**31 - 1)),
        hyper["alpha"],
        hyper["mean_loc"],
        hyper["mean_scale"],
        hyper["sd_scale"],
        full,
        hyper["scale_prior"] == "halfnormal",
        hyper["iw_df"],
        hyper["iw_scale"].copy(),  # the hierarchical prior's step overwrites it
        var,
        chol,
        SINGLETON_MH_STEPS,
        tune,
        *out.values(),
        hyper.get("hier_g0", 0.0),
        hyper.get("hier_G0", np.zeros((d, d))),
        float(hyper["lkj_eta"]),
        thin,
        split_moves,
    )
    return out


def starting_allocations(
    X: np.ndarray, k_max: int, chains: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """One starting allocation per chain: k-means with ``k_max`` clusters on the
    standardised data (every component occupied), each chain from its own k-means++ seed --
    the start of Malsiner-Walli et al.

    From above, a chain only has to empty components, which the sparse prior does in a few
    sweeps (and chains that drain at different speeds disagree, which R-hat sees). A chain
    started below the number of groups would have to split one, and one that had merged
    two groups stayed merged for thousands of sweeps even with the split move
    (``benchmarks/README.md``): its count is then a property of the start, not of the
    posterior."""
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    std = X.std(axis=0)
    Xs = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)
    k = min(k_max, len(np.unique(Xs, axis=0)))
    starts = []
    for _ in range(chains):
        seed = int(rng.integers(2**31 - 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # a start need not be converged
            labels = KMeans(k, n_init=1, random_state=seed).fit(Xs).labels_
        starts.append(labels.astype(np.int64))
    return starts


def _check_allocation(z: Any, n: int, k_max: int) -> np.ndarray:
    arr = np.asarray(z)
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= k_max:
        raise ValueError(
            f"The 'starts' parameter must hold integer arrays of shape ({n},) with labels in "
            f"0..{k_max - 1}. Got an array of shape {arr.shape} and dtype {arr.dtype}."
        )
    return arr.astype(np.int64)


def _run_chain(X, z0, hyper, draws, tune, seed, thin, split_moves, compiled) -> dict:
    """One chain of :func:`sample_sparse_mixture` (a joblib task), from its own seed."""
    chain_rng = np.random.default_rng(seed)
    if compiled:
        return _chain_numba(X, z0, hyper, draws, tune, chain_rng, thin, split_moves)
    return numpy_chain(X, z0, hyper, draws, tune, chain_rng, allocate("numpy"), thin, split_moves)


def sample_sparse_mixture(
    X: Any,
    k_max: int = 6,
    *,
    priors: Any = None,
    covariance_type: str = "full",
    scale_prior: str = "inverse_wishart",
    draws: int = 4000,
    tune: int = 2000,
    chains: int = 4,
    random_state: Any = None,
    engine: str = "auto",
    thin: int = 1,
    starts: Any = None,
    split_moves: int | None = None,
    n_jobs: int | None = None,
) -> GibbsDraws:
    """Gibbs-sample a ``k_max``-component mixture over the allocations.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    k_max : int, default=6
    priors : Priors, optional
        Usually with a sparse ``alpha`` (:data:`~bayesgmm.bayes.occupancy.SPARSE_ALPHA`).
        See the module docstring for how each hyper-parameter is used.
    covariance_type : {"full", "diag"}, default="full"
    scale_prior : {"inverse_wishart", "halfnormal", "hierarchical"}, default="inverse_wishart"
        The prior on the covariances (module docstring).
    draws, tune : int
        Sweeps kept per chain, and sweeps discarded before them.
    chains : int, default=4
        Each from its own k-means start with ``k_max`` clusters
        (:func:`starting_allocations`).
    random_state : int, numpy Generator or None
        The same seed gives the same draws.
    engine : {"auto", "numba", "numpy"}
        The compiled chain (:mod:`bayesgmm.bayes._gibbs_numba`; "auto" when numba is
        installed) or the numpy one (:mod:`bayesgmm.bayes._gibbs_numpy`). Both sample the
        same posterior; their random streams differ, so a seed repeats its draws with the
        same engine.
    thin : int, default=1
        Sweeps per kept draw (``draws * thin`` sweeps after ``tune``).
    split_moves : int, optional
        Proposals per sweep of the split move (:mod:`bayesgmm.bayes._gibbs_split`), which
        re-occupies an empty component where a group is shared; default 1 for the
        inverse-Wishart scale priors, 0 for "halfnormal" (for which it is not written).
    starts : sequence of int arrays of shape (n_samples,), optional
        Each chain's starting allocation (labels in ``0 .. k_max - 1``; chain ``c`` starts
        at ``starts[c % len(starts)]``). Default: :func:`starting_allocations`.
    n_jobs : int, optional
        Chains run at once, as joblib tasks, as in scikit-learn (None means 1 unless a
        ``joblib.parallel_config`` context says otherwise, -1 all cores). Every chain's
        seed is drawn from ``random_state`` before any chain runs: the draws do not
        depend on ``n_jobs``.
    """
    from .._kernels import numba_available
    from .diagnostics import label_invariant_diagnostics

    X = check_X(X)
    k_max = check_int(k_max, "k_max")
    draws = check_int(draws, "draws")
    tune = check_int(tune, "tune", minimum=0)
    chains = check_int(chains, "chains")
    check_option(covariance_type, "covariance_type", ("full", "diag"))
    check_option(engine, "engine", ("auto", "numba", "numpy"))
    compiled = engine == "numba" or (engine == "auto" and numba_available())
    hyper = gibbs_priors(priors, X, k_max, covariance_type, scale_prior)
    thin = check_int(thin, "thin")
    if split_moves is None:
        split_moves = 0 if scale_prior == "halfnormal" else 1
    split_moves = check_int(split_moves, "split_moves", minimum=0)
    if split_moves and scale_prior == "halfnormal":
        raise ValueError(
            "The 'split_moves' parameter must be 0 with scale_prior='halfnormal' (the move is "
            f"written for the inverse-Wishart priors). Got {split_moves}."
        )
    rng = check_random_state(random_state)
    t0 = time.perf_counter()
    if starts is None:
        starts = starting_allocations(X, k_max, chains, rng)
    else:
        starts = [_check_allocation(z, X.shape[0], k_max) for z in starts]
        starts = [starts[c % len(starts)] for c in range(chains)]
    if compiled:
        from ._progress import compile_notice

        with compile_notice("the Gibbs sampler's chain"):
            # one sweep on one row: numba compiles (or loads) the chain for these types here
            _chain_numba(X[:1], np.zeros(1, dtype=np.int64), hyper, 1, 0, np.random.default_rng(0))
    seeds = [int(rng.integers(2**63 - 1)) for _ in starts]  # drawn before any chain runs
    tasks = [
        (X, z0, hyper, draws, tune, seed, thin, split_moves, compiled)
        for z0, seed in zip(starts, seeds, strict=True)
    ]
    runs = run_tasks(_run_chain, tasks, n_jobs=n_jobs)
    seconds = time.perf_counter() - t0
    res = {key: np.stack([r[key] for r in runs]) for key in runs[0]}
    occupied = (res["sizes"] > 0).sum(axis=2)
    diagnostics = label_invariant_diagnostics(
        {"log_likelihood": res["log_likelihood"], "occupied": occupied.astype(float)}
    )
    return GibbsDraws(
        occupied=occupied,
        covariance_type=covariance_type,
        priors=hyper,
        diagnostics=diagnostics,
        seconds=seconds,
        **res,
    )
