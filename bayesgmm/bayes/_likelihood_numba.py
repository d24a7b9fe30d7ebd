r"""The compiled twin of :func:`bayesgmm.bayes._likelihood.mixture_loglike_and_grad`.

A numba re-statement of the same computation, so that a whole PyMC log-density (priors,
transforms and the fused likelihood) compiles to machine code through PyTensor's numba
backend: what nutpie's sampler calls, with no Python per gradient. Natural parameters
from ``(w, mu, scale)``, one pass of :func:`bayesgmm._numba.stats_blocks` over every
block of rows in the calling thread, then the gradient from the sufficient statistics
(Fisher's identity, formulas in :mod:`bayesgmm.bayes._likelihood`). Tested against the
numpy version.

Module-level ``cache=True`` functions, so the next process loads them from numba's
on-disk cache instead of compiling them again.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import _numba
from .._kernels import BLOCK_ROWS

LOG_2PI = math.log(2.0 * math.pi)


@njit(cache=True, nogil=True, inline="always")
def _pass(X, shift, W):  # pragma: no cover - compiled
    """(sum_i log p(x_i), S of shape (K, F)) over all rows, blocks added in order.

    Whether the features hold every product or the squares only is read from ``W``'s
    length (with one feature the two are the same), not passed as a constant: one
    compiled ``stats_blocks`` serves both kinds and EM. Inlined into its callers: numba
    links a callee's machine code into every compiled caller and optimises it again there.
    """
    n, d = X.shape
    F, K = W.shape
    fullq = F != 1 + 2 * d
    nb = max(1, (n + BLOCK_ROWS - 1) // BLOCK_ROWS)
    lls = np.zeros(nb)
    acc = np.zeros((nb, K, F))
    _numba.stats_blocks(X, shift, W, fullq, np.empty(0), BLOCK_ROWS, 0, nb, lls, acc)
    ll = 0.0
    S = np.zeros((K, F))
    for b in range(nb):
        ll += lls[b]
        for k in range(K):
            for f in range(F):
                S[k, f] += acc[b, k, f]
    return ll, S


@njit(cache=True, nogil=True)
def loglike_grad_full(X, shift, w, mu, L):  # pragma: no cover - compiled
    """Full covariances, ``L`` (K, d, d) lower Cholesky factors: (logp, g_w, g_mu, g_L)."""
    K, d = mu.shape
    g_w = np.zeros(K)
    g_mu = np.zeros((K, d))
    g_L = np.zeros((K, d, d))
    for k in range(K):
        for i in range(d):
            if not (np.isfinite(L[k, i, i]) and L[k, i, i] > 0.0):
                return -np.inf, g_w, g_mu, g_L
            for j in range(i):
                if not np.isfinite(L[k, i, j]):
                    return -np.inf, g_w, g_mu, g_L
    F = 1 + d + d * (d + 1) // 2
    W = np.empty((F, K))
    P = np.zeros((K, d, d))
    m = np.empty((K, d))
    for k in range(K):
        # M = L^-1 (forward substitution), P = M^T M = Sigma^-1
        M = np.zeros((d, d))
        for i in range(d):
            M[i, i] = 1.0 / L[k, i, i]
            for j in range(i):
                s = 0.0
                for t in range(j, i):
                    s += L[k, i, t] * M[t, j]
                M[i, j] = -s / L[k, i, i]
        for i in range(d):
            for j in range(d):
                s = 0.0
                for t in range(max(i, j), d):
                    s += M[t, i] * M[t, j]
                P[k, i, j] = s
        quad = 0.0
        logdet = 0.0
        for i in range(d):
            m[k, i] = mu[k, i] - shift[i]
            logdet += math.log(L[k, i, i])
        for i in range(d):
            pm = 0.0
            for j in range(d):
                pm += P[k, i, j] * m[k, j]
            W[1 + i, k] = pm
            quad += pm * m[k, i]
        W[0, k] = np.log(w[k]) - logdet - 0.5 * d * LOG_2PI - 0.5 * quad
        c = 1 + d
        for p in range(d):
            for q in range(p, d):
                W[c, k] = -(0.5 if p == q else 1.0) * P[k, p, q]
                c += 1
    ll, S = _pass(X, shift, W)
    S2 = np.empty((d, d))
    C = np.empty((d, d))
    PC = np.empty((d, d))
    G = np.empty((d, d))
    for k in range(K):
        N = S[k, 0]
        c = 1 + d
        for p in range(d):
            for q in range(p, d):
                S2[p, q] = S[k, c]
                S2[q, p] = S[k, c]
                c += 1
        # g_mu = P (S1 - N m);  C = S2 - S1 m^T - m S1^T + N m m^T
        for p in range(d):
            t = 0.0
            for q in range(d):
                t += P[k, p, q] * (S[k, 1 + q] - N * m[k, q])
            g_mu[k, p] = t
        for p in range(d):
            for q in range(d):
                C[p, q] = S2[p, q] - S[k, 1 + p] * m[k, q] - m[k, p] * S[k, 1 + q] + N * m[k, p] * m[k, q]
        # G = -1/2 (N P - P C P);  g_L = tril(2 G L)
        for p in range(d):
            for q in range(d):
                t = 0.0
                for r in range(d):
                    t += P[k, p, r] * C[r, q]
                PC[p, q] = t
        for p in range(d):
            for q in range(d):
                t = 0.0
                for r in range(d):
                    t += PC[p, r] * P[k, r, q]
                G[p, q] = -0.5 * (N * P[k, p, q] - t)
        for p in range(d):
            for q in range(p + 1):
                t = 0.0
                for r in range(q, d):  # L is lower triangular
                    t += G[p, r] * L[k, r, q]
                g_L[k, p, q] = 2.0 * t
        g_w[k] = N / w[k] if N > 0.0 else 0.0
    return ll, g_w, g_mu, g_L


@njit(cache=True, nogil=True)
def loglike_grad_diag(X, shift, w, mu, sig):  # pragma: no cover - compiled
    """Diagonal covariances, ``sig`` (K, d) standard deviations: (logp, g_w, g_mu, g_sig)."""
    K, d = mu.shape
    g_w = np.zeros(K)
    g_mu = np.zeros((K, d))
    g_s = np.zeros((K, d))
    for k in range(K):
        for i in range(d):
            if not (np.isfinite(sig[k, i]) and sig[k, i] > 0.0):
                return -np.inf, g_w, g_mu, g_s
    W = np.empty((1 + 2 * d, K))
    m = np.empty((K, d))
    for k in range(K):
        const = np.log(w[k]) - 0.5 * d * LOG_2PI
        for i in range(d):
            m[k, i] = mu[k, i] - shift[i]
            var = sig[k, i] * sig[k, i]
            W[1 + i, k] = m[k, i] / var
            W[1 + d + i, k] = -0.5 / var
            const -= math.log(sig[k, i]) + 0.5 * m[k, i] * m[k, i] / var
        W[0, k] = const
    ll, S = _pass(X, shift, W)
    for k in range(K):
        N = S[k, 0]
        for i in range(d):
            var = sig[k, i] * sig[k, i]
            S1 = S[k, 1 + i]
            S2 = S[k, 1 + d + i]
            g_mu[k, i] = (S1 - N * m[k, i]) / var
            C = S2 - 2.0 * m[k, i] * S1 + N * m[k, i] * m[k, i]
            g_s[k, i] = -N / sig[k, i] + C / (var * sig[k, i])
        g_w[k] = N / w[k] if N > 0.0 else 0.0
    return ll, g_w, g_mu, g_s
