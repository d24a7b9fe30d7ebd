"""Names of the scalar parameters of a Bayesian mixture, and arrays picked by those names.

One flat naming, shared by the draws (:meth:`BayesianGaussianMixture.parameter_draws`),
point estimates (:meth:`BayesianGaussianMixture.reference_values`), the EM-vs-posterior
table and the plots: ``weight[k]``, ``mean[k,f]``, ``sd[k,f]`` (component standard
deviations) and, for full covariances with two or more features, ``cov[k,i,j]`` for
``i < j``. With one feature the feature index is dropped (``mean[k]``, ``sd[k]``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

__all__ = ["named_arrays", "parameter_names"]

#: A parameter's address: the array it lives in ("w", "mu", "sd" or "cov") and its
#: index after the leading (chain, draw) axes.
Key = tuple


def parameter_names(n_components: int, n_features: int, kind: str) -> list[tuple[str, Key]]:
    """``[(name, key), ...]`` in the order of every summary: weights, means, sds, covariances.

    Parameters
    ----------
    n_components, n_features : int
    kind : {"full", "diag"}
        The model's parametrisation (:func:`bayesgmm.bayes.model.model_kind`); only
        "full" has off-diagonal covariances.
    """
    k, d = n_components, n_features
    out: list[tuple[str, Key]] = [(f"weight[{j}]", ("w", j)) for j in range(k)]
    for j in range(k):
        for f in range(d):
            out.append((f"mean[{j}]" if d == 1 else f"mean[{j},{f}]", ("mu", j, f)))
    for j in range(k):
        for f in range(d):
            out.append((f"sd[{j}]" if d == 1 else f"sd[{j},{f}]", ("sd", j, f)))
    if kind == "full":
        for j in range(k):
            for a in range(d):
                for b in range(a + 1, d):
                    out.append((f"cov[{j},{a},{b}]", ("cov", j, a, b)))
    return out


def named_arrays(
    arrays: Mapping[str, np.ndarray], names: list[tuple[str, Key]]
) -> OrderedDict[str, np.ndarray]:
    """``name -> arrays[key[0]][..., *key[1:]]`` for every ``(name, key)`` in ``names``.

    ``arrays`` maps "w" (..., K), "mu" (..., K, d), "sd" (..., K, d) and "cov"
    (..., K, d, d); the leading axes (e.g. chain, draw) are kept.
    """
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for name, (array, *idx) in names:
        out[name] = arrays[array][(..., *idx)]
    return out
