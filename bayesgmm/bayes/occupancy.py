r"""How many components the data occupy: the posterior of the number of non-empty components.

An overfitted mixture -- more components ``K_max`` than the data need -- with a sparse
Dirichlet prior on the weights (concentration ``alpha`` well below 1) empties the
components it does not need (Rousseau & Mengersen 2011; Malsiner-Walli,
Fruehwirth-Schnatter & Gruen 2016). The components holding at least one observation are
counted in every posterior draw; the counts over the draws are the posterior distribution
of the number of occupied components: a direct answer to "how many groups?" that does not
go through a criterion.

Two ways to get the draws (:func:`fit_occupied_components`'s ``method``):

- ``"gibbs"`` (the default): the Gibbs sampler over the allocations of
  :mod:`bayesgmm.bayes.gibbs`, which samples the allocations themselves and counts them
  directly, with its split move, every chain started from ``K_max`` clusters, and the
  priors of Malsiner-Walli et al. on the means (:func:`range_priors`: as wide as the
  data's range). Its covariance prior is the conjugate counterpart of the NUTS model's
  (see there).
- ``"nuts"``: :class:`~bayesgmm.bayes.sampling.BayesianGaussianMixture` with the sparse
  prior; for every draw each observation is allocated with its membership probabilities,
  ``z_i ~ Categorical(gamma_i1, ..., gamma_iK)`` (:func:`occupied_components`). NUTS on
  the marginal model mixes poorly here: the log-weight of an empty component has a long
  tail and its mean and scale spread to the prior as the weight shrinks (a funnel), which
  is what the allocation sampler avoids.

Either way the counts come with label-invariant diagnostics (R-hat and bulk ESS of the
count and of the total log-likelihood where available), and
``OccupiedComponents.diagnostics_ok`` says whether they pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._parallel import check_n_jobs
from .._validation import check_int, check_option, check_random_state, check_X

__all__ = [
    "OCCUPIED_METHODS",
    "SPARSE_ALPHA",
    "OccupiedComponents",
    "fit_occupied_components",
    "occupied_components",
    "occupied_from_gibbs",
    "range_priors",
]

OCCUPIED_METHODS = ("gibbs", "nuts")

#: Dirichlet concentration of the sparse prior (Malsiner-Walli et al. 2016 use 0.01 with
#: a K_max of about 10).
SPARSE_ALPHA = 0.01


@dataclass(frozen=True)
class OccupiedComponents:
    """Posterior distribution of the number of occupied components.

    Attributes
    ----------
    k_max : int
        Components of the fitted (overfitted) mixture.
    counts : int array of shape (chains, draws)
        Occupied components in each draw's allocation.
    probabilities : array of shape (k_max,)
        ``probabilities[k - 1]`` is the posterior probability of ``k`` occupied components.
    diagnostics_ok : bool
        Whether the sparse fit passed its label-invariant diagnostics.
    method : str
        "gibbs" or "nuts".
    diagnostics : dict
        ``name -> {"rhat", "ess_bulk", "ess_tail"}`` of the label-invariant quantities the
        pass mark was taken on (the count itself among them; a constant count has none).
    """

    k_max: int
    counts: np.ndarray = field(repr=False)
    probabilities: np.ndarray
    diagnostics_ok: bool = True
    method: str = "nuts"
    diagnostics: dict = field(default_factory=dict, repr=False)

    def probability(self, k: int) -> float:
        """Posterior probability of exactly ``k`` occupied components (0 outside 1..k_max)."""
        return float(self.probabilities[k - 1]) if 1 <= k <= self.k_max else 0.0

    @property
    def mode(self) -> int:
        """The most probable number of occupied components."""
        return int(np.argmax(self.probabilities)) + 1

    def as_dict(self) -> dict[int, float]:
        """``{k: probability}`` for k = 1..k_max."""
        return {k: self.probability(k) for k in range(1, self.k_max + 1)}


def occupied_components(bayes: Any, X: Any, *, random_state: Any = None) -> OccupiedComponents:
    """Allocate the observations under every posterior draw and count occupied components.

    Parameters
    ----------
    bayes : fitted BayesianGaussianMixture
        Usually fitted with a sparse Dirichlet prior (``Priors(alpha=SPARSE_ALPHA)``) and a
        generous number of components; see :func:`fit_occupied_components`.
    X : array-like of shape (n_samples, n_features)
        The data it was fitted on.
    random_state : int, numpy Generator or None
        For the allocations.
    """
    draws = getattr(bayes, "mixture_draws_", None)
    if draws is None:
        from ..exceptions import NotFittedError

        raise NotFittedError(f"This {type(bayes).__name__} instance is not fitted yet. Call 'fit' first.")
    X = check_X(X)
    if X.shape[1] != bayes.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but the mixture was fitted with {bayes.n_features_in_} features."
        )
    rng = check_random_state(random_state)
    k = bayes.n_components
    counts = np.empty(draws.shape, dtype=int)
    for c, j, _, log_resp in draws.log_prob_resp(X):
        cdf = np.cumsum(np.exp(log_resp), axis=1)
        u = rng.random(X.shape[0]) * cdf[:, -1]
        z = np.minimum((u[:, None] > cdf).sum(axis=1), k - 1)
        counts[c, j] = np.count_nonzero(np.bincount(z, minlength=k))
    probabilities = np.bincount(counts.ravel(), minlength=k + 1)[1:] / counts.size
    ok = bool(bayes.diagnostics_.get("invariant_ok", True))
    invariant = dict(bayes.diagnostics_.get("invariant", {}))
    return OccupiedComponents(k, counts, probabilities, ok, "nuts", invariant)


def occupied_from_gibbs(draws: Any) -> OccupiedComponents:
    """The occupied counts of a :class:`~bayesgmm.bayes.gibbs.GibbsDraws`, with its
    label-invariant diagnostics (of the count and of the total log-likelihood)."""
    k = draws.k_max
    counts = np.asarray(draws.occupied)
    probabilities = np.bincount(counts.ravel(), minlength=k + 1)[1:] / counts.size
    dg = draws.diagnostics
    return OccupiedComponents(
        k, counts, probabilities, bool(dg["invariant_ok"]), "gibbs", dict(dg["invariant"])
    )


def range_priors(X: np.ndarray, alpha: float = SPARSE_ALPHA) -> Any:
    """The sparse fit's priors: Dirichlet(``alpha``) weights and, as in Malsiner-Walli et al.
    (after Richardson & Green 1997), each mean's Normal prior centred on the midpoint of its
    feature's range with the range as standard deviation; the covariances' prior is the
    Gibbs sampler's own. Wider than the fixed-K model's (twice the standard deviation): an
    extra occupied component then costs the Occam factor of a mean the data could have put
    anywhere in their range, which is what keeps a few tail observations from buying a
    component of their own (:func:`~bayesgmm.bayes._gibbs_priors.data_range`)."""
    from ._gibbs_priors import data_range
    from .model import Priors

    mid, span = data_range(X)
    return Priors(alpha=alpha, mean_loc=tuple(mid), mean_scale=tuple(span))


# the keywords of gibbs.sample_sparse_mixture, which this passes on, plus the choice of method
def fit_occupied_components(
    X: Any,
    k_max: int = 6,
    *,
    alpha: float = SPARSE_ALPHA,
    covariance_type: str = "full",
    method: str = "gibbs",
    random_state: Any = None,
    n_jobs: int | None = None,
    **kwargs: Any,
) -> tuple[Any, OccupiedComponents]:
    """Fit an overfitted mixture with a sparse Dirichlet prior and count its occupied components.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    k_max : int, default=6
        Components of the overfitted mixture: more than the data can need.
    alpha : float, default=SPARSE_ALPHA
        Dirichlet concentration, well below 1.
    covariance_type : {"full", "diag"}, default="full"
    method : {"gibbs", "nuts"}, default="gibbs"
        The Gibbs sampler over allocations (:func:`~bayesgmm.bayes.gibbs.sample_sparse_mixture`)
        or NUTS on the marginal model (:class:`~bayesgmm.bayes.sampling.BayesianGaussianMixture`).
    random_state : int, numpy Generator or None
    n_jobs : int, optional
        Chains run at once, as in scikit-learn (None means 1 unless a
        ``joblib.parallel_config`` context says otherwise, -1 all cores): the Gibbs chains
        as joblib tasks, each from a seed drawn before any runs (the draws do not depend
        on ``n_jobs``); for "nuts", the sampler's ``cores`` unless given.
    **kwargs
        Further arguments of the sampler: for "gibbs" ``draws``, ``tune``, ``chains``,
        ``scale_prior``, ``engine``, ``split_moves`` and ``priors`` (default
        :func:`range_priors`: ``alpha`` and the means' prior as wide as the data's range); for "nuts" those of ``BayesianGaussianMixture``
        (``draws``, ``tune``, ``chains``, ...).

    Returns
    -------
    fit : GibbsDraws or BayesianGaussianMixture
    occupied : OccupiedComponents
    """
    from .model import Priors

    k_max = check_int(k_max, "k_max")
    check_option(method, "method", OCCUPIED_METHODS)
    rng = check_random_state(random_state)
    if method == "gibbs":
        from .gibbs import sample_sparse_mixture

        if "priors" not in kwargs:
            kwargs["priors"] = range_priors(check_X(X), alpha)
        draws = sample_sparse_mixture(
            X, k_max, covariance_type=covariance_type, random_state=rng, n_jobs=n_jobs, **kwargs
        )
        return draws, occupied_from_gibbs(draws)
    from .sampling import BayesianGaussianMixture

    if n_jobs is not None and "cores" not in kwargs:
        import joblib

        kwargs["cores"] = max(1, int(joblib.effective_n_jobs(check_n_jobs(n_jobs))))

    seed = int(rng.integers(2**31 - 1))
    bayes = BayesianGaussianMixture(
        k_max, covariance_type=covariance_type, priors=Priors(alpha=alpha), random_state=seed, **kwargs
    ).fit(X)
    return bayes, occupied_components(bayes, X, random_state=rng)
