"""Data sets: the article's height experiment and synthetic mixtures."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import check_random_state

__all__ = ["load_heights", "make_mixture"]


def load_heights() -> tuple[np.ndarray, np.ndarray]:
    """The article's height experiment, bit for bit.

    100 000 men from ``np.random.seed(0); np.random.normal(1.71, 0.056, 100000)`` and
    100 000 women from ``np.random.seed(0); np.random.normal(1.58, 0.051, 100000)``,
    stacked men first.

    Note the quirk of the recipe: both groups are drawn after the same ``seed(0)``, so they
    reuse the *same* standard-normal draws z_i (man i is 1.71 + 0.056 z_i, woman i is
    1.58 + 0.051 z_i). The two samples are therefore perfectly dependent, which is
    harmless for a mixture fit but means the data are not 200 000 independent draws.
    The global NumPy random state is left as it was.

    Returns
    -------
    X : array of shape (200000, 1)
        Heights in metres.
    y : array of shape (200000,)
        1.0 for men, 0.0 for women (the article's labels).
    """
    rs = np.random.RandomState(0)  # identical stream to np.random.seed(0); np.random.normal
    men = rs.normal(1.71, 0.056, 100000)
    rs = np.random.RandomState(0)
    women = rs.normal(1.58, 0.051, 100000)
    X = np.append(men, women).reshape(-1, 1)
    y = np.append(np.ones(100000), np.zeros(100000))
    return X, y


def make_mixture(
    n_samples: int,
    weights,
    means,
    covariances,
    *,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_samples`` from a Gaussian mixture; returns (X, labels).

    Parameters
    ----------
    n_samples : int
    weights : array-like of shape (n_components,)
        Mixing proportions (normalised here).
    means : array-like of shape (n_components, n_features), or (n_components,) for 1-D
    covariances : array-like of shape (n_components, n_features, n_features), or
        (n_components,) variances for 1-D data
    random_state : int, numpy Generator or None

    Returns
    -------
    X : array of shape (n_samples, n_features)
    labels : array of shape (n_samples,)
        The component each sample was drawn from.
    """
    rng = check_random_state(random_state)
    weights = np.asarray(weights, dtype=float)
    means = np.asarray(means, dtype=float)
    if means.ndim == 1:
        means = means[:, None]
    covariances = np.asarray(covariances, dtype=float)
    if covariances.ndim == 1:
        covariances = covariances[:, None, None]
    k, d = means.shape
    if weights.shape != (k,) or covariances.shape != (k, d, d):
        raise ValueError(
            f"make_mixture needs weights of shape ({k},) and covariances of shape ({k}, {d}, {d}) "
            f"for means of shape {means.shape}. Got {weights.shape} and {covariances.shape}."
        )
    labels = rng.choice(k, size=n_samples, p=weights / weights.sum())
    X = np.empty((n_samples, d))
    for j in range(k):
        idx = labels == j
        X[idx] = rng.multivariate_normal(means[j], covariances[j], int(idx.sum()))
    return X, labels
