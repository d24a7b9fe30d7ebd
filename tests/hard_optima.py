"""Data sets with known hard local optima for EM, shared by the tests and the benchmark.

Each is standardised at construction (mean 0, standard deviation 1 per feature), so a fit
on it and a fit on its standardised copy optimise the same objective, and scikit-learn's
absolute ``reg_covar`` means the same thing as bayesgmm's relative one.
"""

from __future__ import annotations

import numpy as np


def _standardised(X):
    X = np.asarray(X, dtype=float)
    X = X - X.mean(axis=0)
    return X / X.std(axis=0)


def _draw(rng, sizes, means, covs):
    parts = [rng.multivariate_normal(m, c, size=s) for s, m, c in zip(sizes, means, covs, strict=True)]
    return _standardised(np.vstack(parts))


def modes_1d(seed=0):
    """1-D: a broad mode, a medium one and three small modes (3 % to 12 % of the mass)."""
    rng = np.random.default_rng(seed)
    sizes = [250, 150, 60, 25, 15]
    means = [[0.0], [2.5], [5.0], [7.5], [11.0]]
    sds = [1.0, 0.5, 0.7, 0.25, 0.3]
    return _draw(rng, sizes, means, [[[s * s]] for s in sds])


def unbalanced_2d(seed=0):
    """2-D: one large elongated cluster (87 %) and two small compact ones beside it."""
    rng = np.random.default_rng(seed)
    sizes = [520, 50, 30]
    means = [[0.0, 0.0], [4.0, 3.0], [-3.0, 4.0]]
    covs = [[[2.0, 1.0], [1.0, 1.5]], 0.3 * np.eye(2), 0.2 * np.eye(2)]
    return _draw(rng, sizes, means, covs)


def nested_2d(seed=0):
    """2-D: a tight cluster inside a broad one, and a medium cluster apart."""
    rng = np.random.default_rng(seed)
    sizes = [400, 60, 80]
    means = [[0.0, 0.0], [1.0, 0.5], [6.0, 6.0]]
    covs = [np.diag([9.0, 4.0]), 0.02 * np.eye(2), 0.5 * np.eye(2)]
    return _draw(rng, sizes, means, covs)


def heavy_tailed_groups(seed=18, d=2, n=400, groups=4, df=2.0):
    """Groups with Student-t tails (df 2): EM's optima depend much on the start. On this set
    (the default seed) the K = 3 fit from its own starts alone has log-likelihood -1924.45,
    and with the splits of the K = 2 fit (itself from the K = 1 fit) -1898.99."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 4, size=(groups, d))
    sizes = rng.multinomial(n, rng.dirichlet(np.full(groups, 2.0)))
    parts = []
    for m, size in zip(means, sizes, strict=True):
        A = rng.normal(size=(d, d)) * 0.7
        z = rng.standard_normal((size, d)) @ (A @ A.T + 0.2 * np.eye(d))
        parts.append(m + z * np.sqrt(df / rng.chisquare(df, size=(size, 1))))
    return np.vstack(parts)


DATASETS = {"modes_1d": modes_1d, "unbalanced_2d": unbalanced_2d, "nested_2d": nested_2d}


POLISH_MARGIN = 5.0
POLISH_PASSES = 2000


def sklearn_oracle(X, n_components, covariance_type, n_starts=100, reg_covar=1e-6):
    """The best log-likelihood scikit-learn's EM finds from ``n_starts`` k-means++ starts.

    Each start runs scikit-learn (``init_params="k-means++"``, ``random_state=s``, its
    default ``tol=1e-3``, at most 1000 passes); the starts that end within
    ``POLISH_MARGIN`` of the best are then continued from scikit-learn's parameters by
    bayesgmm's accelerated EM (at most ``POLISH_PASSES`` passes) toward the optimum
    scikit-learn's plain EM creeps to -- one start per distinct end point (log-likelihood
    to 0.01), as starts that ended at the same point continue to the same optimum. Returns a dict: ``best`` (highest log-likelihood),
    ``best_regular`` (highest among fits with no collapsed component, see
    :func:`bayesgmm.multistart.is_degenerate`; nan if none) and ``n_regular``.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    from bayesgmm.em import converged_em
    from bayesgmm.exceptions import ConvergenceWarning
    from bayesgmm.multistart import is_degenerate

    n = X.shape[0]
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergenceWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        for s in range(n_starts):
            g = SkGaussianMixture(
                n_components,
                covariance_type=covariance_type,
                init_params="k-means++",
                random_state=s,
                max_iter=1000,
                reg_covar=reg_covar,
            ).fit(X)
            fits.append((g, float(g.score(X)) * n))
        lead = max(ll for _, ll in fits)
        out, seen = [], set()
        for g, ll in fits:
            model = g
            key = round(ll, 2)  # starts that ended at the same place polish to the same place
            if ll >= lead - POLISH_MARGIN and key not in seen:
                seen.add(key)
                try:
                    p = converged_em(
                        X,
                        n_components,
                        covariance_type,
                        reg_covar=reg_covar,
                        weights_init=g.weights_,
                        means_init=g.means_,
                        precisions_init=g.precisions_,
                        max_iter=POLISH_PASSES,
                    )
                    pll = float(np.sum(p.score_samples(X)))
                    if pll > ll:
                        model, ll = p, pll
                except ValueError:
                    pass
            out.append((ll, is_degenerate(model.covariances_, covariance_type, reg_covar)))
    regular = [ll for ll, deg in out if not deg]
    return {
        "best": max(ll for ll, _ in out),
        "best_regular": max(regular) if regular else float("nan"),
        "n_regular": len(regular),
    }
