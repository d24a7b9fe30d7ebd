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

The Op takes the data as graph inputs, ``(X, shift, w, mu, scale)``, and has four
outputs, ``[logp, dlogp/dw, dlogp/dmu, dlogp/dscale]``; its ``grad`` multiplies the
output gradient by the last three outputs of the *same* Op applied to the same inputs.
PyTensor merges the two identical apply nodes, so a compiled ``logp`` + ``dlogp``
function (what NUTS calls) runs one pass over the data per evaluation.

Two implementations: ``perform`` (numpy glue around the fused pass, for PyTensor's
default backends) and a numba one registered with PyTensor's numba dispatch
(:mod:`bayesgmm.bayes._likelihood_numba`), which lets the whole log-density compile to
machine code (nutpie's sampler).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, disconnected_type, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from .. import _kernels
from ..covariance import _inv_lower, precisions_from_cholesky

__all__ = ["MixtureLogLike", "mixture_loglike_and_grad", "precision_cholesky_from_chol"]

KINDS = ("full", "diag")


def precision_cholesky_from_chol(L: np.ndarray) -> np.ndarray:
    """U = L^-T for lower-triangular Cholesky factors L of covariances, any leading axes.

    ``U`` is the upper-triangular precision Cholesky factor of :mod:`bayesgmm.covariance`
    (P = U U^T), by the same forward substitution EM uses.
    """
    L = np.asarray(L, dtype=float)
    d = L.shape[-1]
    return np.swapaxes(_inv_lower(L.reshape(-1, d, d)), -1, -2).reshape(L.shape)


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
    if kind == "full":
        L = scale
        diagL = np.diagonal(L, axis1=1, axis2=2)
        if not (np.isfinite(L).all() and (diagL > 0).all()):
            return -np.inf, np.zeros_like(w), np.zeros_like(mu), np.zeros_like(L)
        prec_chol = precision_cholesky_from_chol(L)
    else:
        sig = scale.reshape(k, d)
        if not (np.isfinite(sig).all() and (sig > 0).all()):
            return -np.inf, np.zeros_like(w), np.zeros_like(mu), np.zeros_like(scale)
        prec_chol = 1.0 / sig
    W = _kernels.natural_parameters(w, mu, prec_chol, kind, shift)
    ll, S = _kernels.sufficient_statistics(X, W, shift, kind, backend=backend, threads=threads)
    N, S1, S2 = _kernels.moments(S, d, kind)
    P = precisions_from_cholesky(prec_chol, kind)  # (K, d, d) full, (K, d) diag
    if kind == "full":
        g_mu = np.einsum("kij,kj->ki", P, S1 - N[:, None] * m)
        Sm = np.einsum("ki,kj->kij", S1, m)
        C = S2 - Sm - np.swapaxes(Sm, 1, 2) + N[:, None, None] * np.einsum("ki,kj->kij", m, m)
        G = -0.5 * (N[:, None, None] * P - P @ C @ P)
        g_scale = np.tril(2.0 * G @ L)
    else:
        g_mu = (S1 - N[:, None] * m) * P
        C = S2 - 2.0 * m * S1 + N[:, None] * m * m
        g_scale = (-N[:, None] / sig + C * P / sig).reshape(scale.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        g_w = np.where(N > 0, N / w, 0.0)
    return ll, g_w, g_mu, g_scale


class MixtureLogLike(Op):
    """PyTensor Op: ``(X, shift, w, mu, scale) -> [logp, dlogp/dw, dlogp/dmu, dlogp/dscale]``.

    ``X`` and ``shift`` (a fixed centre, usually the data mean) are data: no gradient
    flows to them. Two applications to the same inputs are merged by PyTensor, which is
    what makes ``logp`` and its gradient one pass.

    Parameters
    ----------
    kind : {"full", "diag"}
        ``"full"``: ``scale`` holds lower Cholesky factors of the covariances (K, d, d);
        ``"diag"``: component standard deviations, (K, d) or (K,) for one feature.
    threads : int, optional
        Threads per evaluation in ``perform`` (``bayesgmm._kernels``); 1 when chains run
        in parallel processes: the pass then runs in the calling thread (fork-safe, no
        oversubscription). The result does not depend on it. The numba implementation
        always runs in the calling thread (the sampler runs chains on threads).
    backend : {"auto", "numba", "numpy"}
        The pass used by ``perform``.
    """

    __props__ = ("kind", "threads", "backend")

    def __init__(self, kind: str, *, threads: int | None = None, backend: str = "auto") -> None:
        if kind not in KINDS:
            raise ValueError(f"The 'kind' parameter must be one of {list(KINDS)}. Got {kind!r} instead.")
        self.kind = kind
        self.threads = threads
        self.backend = backend
        self.n_calls = 0  # passes over the data made by ``perform`` (in this process)

    def __str__(self) -> str:
        return f"MixtureLogLike{{{self.kind}}}"

    def make_node(self, X, shift, w, mu, scale) -> Apply:
        inputs = [pt.as_tensor_variable(v).astype("float64") for v in (X, shift, w, mu, scale)]
        X, shift, w, mu, scale = inputs
        if X.ndim != 2 or shift.ndim != 1 or w.ndim != 1 or mu.ndim != 2:
            raise TypeError("MixtureLogLike needs X (n, d), shift (d,), w (K,), mu (K, d).")
        outputs = [pt.dscalar(), w.type(), mu.type(), scale.type()]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, output_storage) -> None:
        X, shift, w, mu, scale = inputs
        self.n_calls += 1
        ll, g_w, g_mu, g_s = mixture_loglike_and_grad(
            np.ascontiguousarray(X),
            shift,
            w,
            mu,
            scale,
            self.kind,
            threads=self.threads,
            backend=self.backend,
        )
        output_storage[0][0] = np.asarray(ll, dtype=np.float64)
        output_storage[1][0] = np.asarray(g_w, dtype=np.float64)
        output_storage[2][0] = np.asarray(g_mu, dtype=np.float64)
        output_storage[3][0] = np.asarray(g_s, dtype=np.float64)

    def infer_shape(self, *args):
        # PyTensor 2 passes (fgraph, node, input_shapes), PyTensor 3 (node, input_shapes)
        input_shapes = args[-1]
        return [(), *input_shapes[2:]]

    def connection_pattern(self, node):
        return [[False] * 4, [False] * 4] + [[True] * 4] * 3

    def pullback(self, inputs, outputs, cotangents):
        """The gradient as PyTensor 3 asks for it (PyTensor 2 calls :meth:`grad`)."""
        return self.grad(inputs, cotangents)

    def grad(self, inputs, output_grads):
        g_out = output_grads[0]
        data = [disconnected_type(), disconnected_type()]
        params = inputs[2:]
        for og in output_grads[1:]:
            if not isinstance(og.type, DisconnectedType):
                return data + [
                    grad_not_implemented(self, i + 2, inp, "second derivatives")
                    for i, inp in enumerate(params)
                ]
        if isinstance(g_out.type, DisconnectedType):
            return data + [inp.zeros_like() for inp in params]
        _, g_w, g_mu, g_s = self(*inputs)
        return data + [g_out * g_w, g_out * g_mu, g_out * g_s]

    def pullback(self, inputs, outputs, cotangents):
        """PyTensor 3's name for :meth:`grad` (PyTensor 2 calls ``grad``)."""
        return self.grad(inputs, cotangents)


# ----------------------------------------------------------------------------- numba backend
def _numba_cache_key(op: MixtureLogLike, scale_ndim: int) -> str:
    """Changes whenever the compiled code could: the Op's kind, the scale's rank and the
    source of the kernels it calls (PyTensor's numba cache is keyed on this alone)."""
    here = Path(__file__).parent
    h = hashlib.sha256(f"MixtureLogLike/{op.kind}/{scale_ndim}".encode())
    for path in (here / "_likelihood_numba.py", here.parent / "_numba.py", here.parent / "_kernels.py"):
        h.update(path.read_bytes())
    return h.hexdigest()


def _register_numba() -> None:
    """Teach PyTensor's numba backend the Op (only when numba is installed)."""
    try:
        from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key
    except ImportError:  # pragma: no cover - numba not installed
        return

    @register_funcify_and_cache_key(MixtureLogLike)
    def _funcify_mixture_loglike(op, node=None, **kwargs):
        from . import _likelihood_numba as nb

        scale_ndim = node.inputs[4].type.ndim if node is not None else (3 if op.kind == "full" else 2)
        if op.kind == "full":
            kernel = nb.loglike_grad_full

            @numba_njit
            def mixture_loglike(X, shift, w, mu, scale):  # pragma: no cover - compiled
                ll, gw, gmu, gs = kernel(
                    np.ascontiguousarray(X),
                    np.ascontiguousarray(shift),
                    np.ascontiguousarray(w),
                    np.ascontiguousarray(mu),
                    np.ascontiguousarray(scale),
                )
                return np.asarray(ll), gw, gmu, gs

        else:
            kernel = nb.loglike_grad_diag

            @numba_njit
            def mixture_loglike(X, shift, w, mu, scale):  # pragma: no cover - compiled
                k, d = mu.shape
                sig = np.ascontiguousarray(scale).reshape((k, d))
                ll, gw, gmu, gs = kernel(
                    np.ascontiguousarray(X),
                    np.ascontiguousarray(shift),
                    np.ascontiguousarray(w),
                    np.ascontiguousarray(mu),
                    sig,
                )
                return np.asarray(ll), gw, gmu, gs.reshape(scale.shape)

        return mixture_loglike, _numba_cache_key(op, scale_ndim)


_register_numba()
