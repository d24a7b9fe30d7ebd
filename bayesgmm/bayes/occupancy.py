r"""How many components the data occupy: the posterior of the number of non-empty components.

An overfitted mixture -- more components ``K_max`` than the data need -- with a sparse
Dirichlet prior on the weights (concentration ``alpha`` well below 1) empties the
components it does not need (Rousseau & Mengersen 2011; Malsiner-Walli,
Fruehwirth-Schnatter & Gruen 2016). For every posterior draw, each observation is
allocated to a component with its membership probabilities under that draw,
``z_i ~ Categorical(gamma_i1, ..., gamma_iK)``, and the components holding at least one
observation are counted. The counts over the draws are the posterior distribution of the
number of occupied components: a direct answer to "how many groups?" that does not go
through a criterion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_int, check_random_state, check_X

__all__ = ["SPARSE_ALPHA", "OccupiedComponents", "fit_occupied_components", "occupied_components"]

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
    """

    k_max: int
    counts: np.ndarray = field(repr=False)
    probabilities: np.ndarray
    diagnostics_ok: bool = True

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
    return OccupiedComponents(k, counts, probabilities, ok)


def fit_occupied_components(
    X: Any,
    k_max: int = 6,
    *,
    alpha: float = SPARSE_ALPHA,
    covariance_type: str = "full",
    random_state: Any = None,
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
    random_state : int, numpy Generator or None
    **kwargs
        Further arguments of :class:`~bayesgmm.bayes.sampling.BayesianGaussianMixture`
        (draws, tune, chains, ...).

    Returns
    -------
    bayes : BayesianGaussianMixture
    occupied : OccupiedComponents
    """
    from .model import Priors
    from .sampling import BayesianGaussianMixture

    k_max = check_int(k_max, "k_max")
    rng = check_random_state(random_state)
    seed = int(rng.integers(2**31 - 1))
    bayes = BayesianGaussianMixture(
        k_max, covariance_type=covariance_type, priors=Priors(alpha=alpha), random_state=seed, **kwargs
    ).fit(X)
    return bayes, occupied_components(bayes, X, random_state=rng)
