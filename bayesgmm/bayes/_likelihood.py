r"""The fused mixture log-likelihood as a PyTensor Op: one pass over the data gives the
total log-likelihood *and* its gradient.

The Op wraps :func:`bayesgmm._kernels.sufficient_statistics`, which returns
``sum_i log p(x_i)`` and the responsibility-weighted sums

    N_k = sum_i gamma_ik,   S1_k = sum_i gamma_ik x'_i,   S2_k = sum_i gamma_ik x'_i x'_i^T

(``x' = x - shift``). By Fisher's identity the gradient of the marginal log-likelihood
is the expected complete-data score, so these sums are all it needs (``m = mu - shift``,
``P = Sigma^-1``, ``C_k = sum_i gamma_ik (x_i - mu_k)(x_i - mu_k)^T``)::

    d/d pi_k      = N_k / pi_k
    d/d mu_k      = P_k (S1_k - N_k m_k)
    d/d Sigma_k   = -1/2 (N_k P_k - P_k C_k P_k)              (symmetric G_k)
    d/d L_k       = tril(2 G_k L_k)                             (Sigma_k = L_k L_k^T)
    d/d sigma_kj  = -N_k / sigma_kj + C_kjj / sigma_kj^3        (diagonal covariances)

with ``C_k = S2_k - S1_k m_k^T - m_k S1_k^T + N_k m_k m_k^T``. No n x K array is ever
formed.

The Op has four outputs, ``[logp, dlogp/dw, dlogp/dmu, dlogp/dscale]``, and its
``grad`` multiplies the output gradient by the last three outputs of the *same* Op
applied to the same inputs. PyTensor merges the two identical apply nodes, so a compiled
``logp`` + ``dlogp`` function (what NUTS calls) runs one pass over the data per
evaluation.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from .. import _kernels

__all__ = ["MixtureLogLike", "mixture_loglike_and_grad", "precision_cholesky_from_chol"]


_LOG_2PI = math.log(2.0 * math.pi)


@lru_cache(maxsize=16)
def _triu(d: int):
    """Upper-triangle indices (p <= q) and the quadratic coefficients 1/2 (p == q) or 1."""
    iu, ju = np.triu_indices(d)
    return iu, ju, np.where(iu == ju, 0.5, 1.0)


def precision_cholesky_from_chol(L: np.ndarray) -> np.ndarray:
    """U = L^-T for lower-triangular Cholesky factors L of covariances, any leading axes.

    ``U`` is the upper-triangular precision Cholesky factor of :mod:`bayesgmm.covariance`
    (P = U U^T). Batched ``numpy.linalg.inv``, not ``scipy.linalg.solve_triangular``: on
    small matrices the latter goes through multi-threaded OpenBLAS and was measured here
    at ~10 ms per 2 x 2 call on a busy 2-core machine (3 us for the batched inverse).
    """
    return np.swapaxes(np.tril(np.linalg.inv(L)), -1, -2)


def mixture_loglike_and_grad(
    X: np.ndarray,
    shift: np.ndarray,
    w: np.ndarray,
    mu: np.ndarray,
    scale: np.ndarray,
    kind: str,
    *,
    threads: int | None = None,
    backend: str = "auto",
):
    """Total log-likelihood and its gradient from one fused pass.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), float64, C-contiguous
    shift : array of shape (n_features,)
    w : array of shape (n_components,)
    mu : array of shape (n_components, n_features)
    scale : array
        ``kind="full"``: lower Cholesky factors of the covariances, (K, d, d);
        ``kind="diag"``: component standard deviations, (K, d) or (K,) when d = 1.
    kind : {"full", "diag"}

    Returns
    -------
    logp : float
    g_w, g_mu, g_scale : arrays shaped like ``w``, ``mu``, ``scale``
    """
    k, d = mu.shape
    m = mu - shift
    iu, ju, coef = _triu(d)
    if kind == "full":
        L = scale
        diagL = np.diagonal(L, axis1=1, axis2=2)
        if not (np.isfinite(L).all() and (diagL > 0).all()):
            return -np.inf, np.zeros_like(w), np.zeros_like(mu), np.zeros_like(L)
        U = precision_cholesky_from_chol(L)
        P = U @ np.swapaxes(U, 1, 2)
        Pm = np.einsum("kij,kj->ki", P, m)
        # phi(x) . W[:, k] = log w_k + log N(x | mu_k, Sigma_k), as _kernels.natural_parameters
        W = np.empty((1 + d + len(iu), k))
        with np.errstate(divide="ignore"):
            W[0] = np.log(w) - np.log(diagL).sum(axis=1) - 0.5 * d * _LOG_2PI - 0.5 * np.sum(Pm * m, axis=1)
        W[1 : 1 + d] = Pm.T
        W[1 + d :] = (-coef * P[:, iu, ju]).T
        ll, S = _kernels.sufficient_statistics(X, W, shift, "full", backend=backend, threads=threads)
        N = S[0]
        S1 = S[1 : 1 + d].T
        S2 = np.empty((k, d, d))
        S2[:, iu, ju] = S[1 + d :].T
        S2[:, ju, iu] = S[1 + d :].T
        R = S1 - N[:, None] * m
        g_mu = np.einsum("kij,kj->ki", P, R)
        Sm = np.einsum("ki,kj->kij", S1, m)
        C = S2 - Sm - np.swapaxes(Sm, 1, 2) + N[:, None, None] * np.einsum("ki,kj->kij", m, m)
        G = -0.5 * (N[:, None, None] * P - P @ C @ P)
        g_scale = np.tril(2.0 * G @ L)
    else:
        sig = scale.reshape(k, d)
        if not (np.isfinite(sig).all() and (sig > 0).all()):
            return -np.inf, np.zeros_like(w), np.zeros_like(mu), np.zeros_like(scale)
        var = sig * sig
        Pm = m / var
        W = np.empty((1 + 2 * d, k))
        with np.errstate(divide="ignore"):
            W[0] = np.log(w) - np.log(sig).sum(axis=1) - 0.5 * d * _LOG_2PI - 0.5 * np.sum(Pm * m, axis=1)
        W[1 : 1 + d] = Pm.T
        W[1 + d :] = (-0.5 / var).T
        ll, S = _kernels.sufficient_statistics(X, W, shift, "diag", backend=backend, threads=threads)
        N = S[0]
        S1 = S[1 : 1 + d].T
        S2 = S[1 + d :].T
        g_mu = (S1 - N[:, None] * m) / var
        C = S2 - 2.0 * m * S1 + N[:, None] * m * m
        g_scale = (-N[:, None] / sig + C / (var * sig)).reshape(scale.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        g_w = np.where(N > 0, N / w, 0.0)
    return ll, g_w, g_mu, g_scale


class MixtureLogLike(Op):
    """PyTensor Op: ``(w, mu, scale) -> [logp, dlogp/dw, dlogp/dmu, dlogp/dscale]``.

    The data live in the Op (not in the graph), so compiled functions stay small and
    pickle once per chain. Equality is identity, which is what lets PyTensor merge the
    node made by :meth:`grad` with the one that computes ``logp``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    kind : {"full", "diag"}
        ``"full"``: ``scale`` holds lower Cholesky factors of the covariances (K, d, d);
        ``"diag"``: component standard deviations, (K, d) or (K,) for one feature.
    threads : int, optional
        Threads per evaluation (``bayesgmm._kernels``); 1 when chains run in parallel
        processes: the pass then runs in the calling thread (fork-safe, no
        oversubscription). The result does not depend on it.
    backend : {"auto", "numba", "numpy"}
    """

    def __init__(
        self, X: np.ndarray, kind: str, *, threads: int | None = None, backend: str = "auto"
    ) -> None:
        if kind not in ("full", "diag"):
            raise ValueError(f"The 'kind' parameter must be one of ['full', 'diag']. Got {kind!r} instead.")
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.shift = self.X.mean(axis=0)
        self.kind = kind
        self.threads = threads
        self.backend = backend
        self.n_calls = 0  # passes over the data made by this Op (in this process)

    def __str__(self) -> str:
        return f"MixtureLogLike{{{self.kind}, n={self.X.shape[0]}}}"

    def make_node(self, w, mu, scale) -> Apply:
        w = pt.as_tensor_variable(w).astype("float64")
        mu = pt.as_tensor_variable(mu).astype("float64")
        scale = pt.as_tensor_variable(scale).astype("float64")
        outputs = [pt.dscalar(), w.type(), mu.type(), scale.type()]
        return Apply(self, [w, mu, scale], outputs)

    def perform(self, node, inputs, output_storage) -> None:
        w, mu, scale = inputs
        self.n_calls += 1
        ll, g_w, g_mu, g_s = mixture_loglike_and_grad(
            self.X, self.shift, w, mu, scale, self.kind, threads=self.threads, backend=self.backend
        )
        output_storage[0][0] = np.asarray(ll, dtype=np.float64)
        output_storage[1][0] = np.asarray(g_w, dtype=np.float64)
        output_storage[2][0] = np.asarray(g_mu, dtype=np.float64)
        output_storage[3][0] = np.asarray(g_s, dtype=np.float64)

    def infer_shape(self, fgraph, node, input_shapes):
        return [(), *input_shapes]

    def connection_pattern(self, node):
        return [[True, True, True, True]] * 3

    def grad(self, inputs, output_grads):
        g_out = output_grads[0]
        for og in output_grads[1:]:
            if not isinstance(og.type, DisconnectedType):
                return [
                    grad_not_implemented(self, i, inp, "second derivatives") for i, inp in enumerate(inputs)
                ]
        if isinstance(g_out.type, DisconnectedType):
            return [inp.zeros_like() for inp in inputs]
        _, g_w, g_mu, g_s = self(*inputs)
        return [g_out * g_w, g_out * g_mu, g_out * g_s]
