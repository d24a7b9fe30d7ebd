r"""The No-U-Turn sampler, compiled by numba, on the model's compiled log-posterior.

One chain is one call of :func:`run_chain`: warm-up and draws, every gradient a direct
call of :func:`bayesgmm.bayes._log_posterior_numba.log_posterior` (no Python, the GIL
released), so chains run on plain threads. The algorithm is Stan's (and nutpie's):

- **multinomial NUTS** (Betancourt 2017, appendix A): the trajectory doubles in a random
  direction until it makes a U-turn or reaches ``2^max_depth`` leapfrog steps; the draw is
  taken from it by progressive sampling, uniform within each new subtree and biased
  towards the new subtree when it is joined to the old one;
- the **generalised U-turn criterion** on the momentum sum, checked for every subtree
  ending at each new leaf (the checkpoints of NumPyro's iterative tree building: a
  leaf's index in binary says which subtrees end there);
- **divergence**: an energy error above :data:`MAX_ENERGY_ERROR` (or a non-finite one)
  ends the trajectory, and the subtree that diverged is not sampled from;
- **warm-up**: Stan's step-size heuristic, then dual averaging (Hoffman & Gelman 2014,
  Stan's constants) towards ``target_accept``; with ``adapt_metric`` the inverse mass
  matrix is re-estimated at the end of Stan's doubling windows (75 / 25, 50, 100 ... / 50
  iterations for 300 of warm-up), as the covariance of the window's positions shrunk
  towards the starting matrix (weight ``prior_weight`` draws), and the step size search
  restarts from the new metric.

The mass matrix is dense: its inverse ``Sigma`` (the posterior covariance it stands for,
e.g. the inverse observed information at the EM solution) and the lower Cholesky factor
``C`` of ``Sigma`` give a momentum ``p = C^-T xi`` (``xi`` standard normal), velocity
``Sigma p`` and kinetic energy ``xi . xi / 2``.

Random numbers come from numba's generator, seeded at the start of each chain (numba
keeps one generator per thread), so a chain's draws depend on its seed only, not on the
thread that runs it or on the other chains.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._log_posterior_numba import log_posterior

__all__ = ["MAX_ENERGY_ERROR", "N_STATS", "cholesky_lower", "run_chain"]

MAX_ENERGY_ERROR = 1000.0  # Stan's and PyMC's threshold of a divergent transition
# dual averaging (Hoffman & Gelman 2014; Stan's defaults)
DA_GAMMA = 0.05
DA_T0 = 10.0
DA_KAPPA = 0.75
# Stan's warm-up windows: initial fast, first slow window, final fast
INIT_BUFFER = 75
BASE_WINDOW = 25
TERM_BUFFER = 50

#: Columns of the per-draw statistics: log density, total log-likelihood, energy, step
#: size, tree depth, leapfrog steps, mean acceptance probability, divergent (0/1).
N_STATS = 8
STAT_LP, STAT_LL, STAT_ENERGY, STAT_STEP, STAT_DEPTH, STAT_STEPS, STAT_ACCEPT, STAT_DIVERGING = range(N_STATS)


# --------------------------------------------------------------------------- linear algebra
@njit(cache=True, nogil=True)
def cholesky_lower(A, out):  # pragma: no cover - compiled
    """``out`` = the lower Cholesky factor of the symmetric matrix ``A``; False (``out``
    undefined) when ``A`` is not positive definite."""
    n = A.shape[0]
    for i in range(n):
        _fill(out[i], 0.0)
    for j in range(n):
        s = A[j, j]
        for t in range(j):
            s -= out[j, t] * out[j, t]
        if not (s > 0.0) or not math.isfinite(s):
            return False
        out[j, j] = math.sqrt(s)
        for i in range(j + 1, n):
            s = A[i, j]
            for t in range(j):
                s -= out[i, t] * out[j, t]
            out[i, j] = s / out[j, j]
    return True


@njit(cache=True, nogil=True)
def _copy(dst, src):  # pragma: no cover - compiled
    """``dst[:] = src`` as a loop (numba's array assignment compiles its shape-mismatch
    message: seconds of one-time compilation for nothing)."""
    for i in range(src.shape[0]):
        dst[i] = src[i]


@njit(cache=True, nogil=True)
def _fill(dst, value):  # pragma: no cover - compiled
    for i in range(dst.shape[0]):
        dst[i] = value


@njit(cache=True, nogil=True)
def _matvec(A, x, out):  # pragma: no cover - compiled
    n = x.shape[0]
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += A[i, j] * x[j]
        out[i] = s


@njit(cache=True, nogil=True)
def _dot(a, b):  # pragma: no cover - compiled
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


@njit(cache=True, nogil=True)
def _momentum(C, p, xi):  # pragma: no cover - compiled
    """Draw ``p = C^-T xi`` (covariance ``Sigma^-1``); returns the kinetic energy ``xi.xi/2``."""
    n = p.shape[0]
    for i in range(n):
        xi[i] = np.random.normal(0.0, 1.0)
    for i in range(n - 1, -1, -1):
        s = xi[i]
        for j in range(i + 1, n):
            s -= C[j, i] * p[j]
        p[i] = s / C[i, i]
    return 0.5 * _dot(xi, xi)


@njit(cache=True, nogil=True)
def _log_add_exp(a, b):  # pragma: no cover - compiled
    if a == -np.inf:
        return b
    if b == -np.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


# --------------------------------------------------------------------------- the trajectory
@njit(cache=True, nogil=True, inline="always")
def _leapfrog(q, p, g, v, eps, Sigma, data):  # pragma: no cover - compiled
    """One leapfrog step of size ``eps`` in place (``v`` = Sigma p on return); returns
    ``(log density, log-likelihood, kinetic energy)`` at the new point (inlined into
    :func:`_transition`, its one call site)."""
    n = q.shape[0]
    for i in range(n):
        p[i] += 0.5 * eps * g[i]
    _matvec(Sigma, p, v)
    for i in range(n):
        q[i] += eps * v[i]
    lp, ll = log_posterior(q, g, *data)
    for i in range(n):
        p[i] += 0.5 * eps * g[i]
    _matvec(Sigma, p, v)
    return lp, ll, 0.5 * _dot(p, v)


@njit(cache=True, nogil=True)
def _ckpt_range(n):  # pragma: no cover - compiled
    """Checkpoints a leaf ``n`` of a subtree stores to (even ``n``: ``idx_max``) or is
    checked against (odd ``n``: ``idx_max`` down to ``idx_min``): NumPyro's indices."""
    idx_max = 0
    m = n >> 1
    while m > 0:
        idx_max += m & 1
        m >>= 1
    trailing = 0
    m = n
    while m & 1:
        trailing += 1
        m >>= 1
    return idx_max - trailing + 1, idx_max


@njit(cache=True, nogil=True)
def _turning(v_left, v_right, rho):  # pragma: no cover - compiled
    return _dot(v_left, rho) <= 0.0 or _dot(v_right, rho) <= 0.0


@njit(cache=True, nogil=True)
def _turning_dot(v_a, v_b, rho, p):  # pragma: no cover - compiled
    """The U-turn criterion with the momentum sum ``rho + p``."""
    a = 0.0
    b = 0.0
    for i in range(rho.shape[0]):
        r = rho[i] + p[i]
        a += v_a[i] * r
        b += v_b[i] * r
    return a <= 0.0 or b <= 0.0


@njit(cache=True, nogil=True)
def _work(n, max_depth):  # pragma: no cover - compiled
    """The arrays of one chain's tree building (see :func:`_transition`): ``vecs`` holds
    vectors, ``ckpt`` the checkpoints' momenta, velocities and momentum sums, and the
    momentum and velocity of the leaf before each checkpoint's."""
    vecs = np.empty((20, n))
    ckpt = np.empty((5, max_depth + 1, n))
    return vecs, ckpt


@njit(cache=True, nogil=True)
def _turning_span(v_a, v_b, rho, rho_a, p_a):  # pragma: no cover - compiled
    """The U-turn criterion between leaves of velocities ``v_a`` and ``v_b`` whose span has
    the momentum sum ``rho - rho_a + p_a`` (prefix sums ``rho`` and ``rho_a``)."""
    a = 0.0
    b = 0.0
    for i in range(rho.shape[0]):
        r = rho[i] - rho_a[i] + p_a[i]
        a += v_a[i] * r
        b += v_b[i] * r
    return a <= 0.0 or b <= 0.0


@njit(cache=True, nogil=True)
def _turning_sum(v_a, v_b, rho, rho_a, p_a, p_b):  # pragma: no cover - compiled
    """The same with the momentum sum ``rho - rho_a + p_a + p_b``."""
    a = 0.0
    b = 0.0
    for i in range(rho.shape[0]):
        r = rho[i] - rho_a[i] + p_a[i] + p_b[i]
        a += v_a[i] * r
        b += v_b[i] * r
    return a <= 0.0 or b <= 0.0


@njit(cache=True, nogil=True, inline="always")
def _transition(q, g, state, eps, Sigma, C, max_depth, data, vecs, ckpt):  # pragma: no cover
    """One NUTS transition from ``(q, g)`` (updated in place to the draw); ``state`` holds
    ``[lp, ll]`` of ``q`` on entry and of the draw on return. Returns ``(energy, depth,
    leapfrog steps, mean acceptance probability, diverging)``.

    Every merge of two halves A | B (in a subtree, and of the trajectory with a new
    subtree) checks the U-turn criterion of A | B, of A with B's first leaf and of A's last
    leaf with B (Stan's extra checks, which catch the U-turns a periodic trajectory hides
    from the first). Within a subtree the halves ending at leaf ``n`` are found from the
    checkpoints: momentum ``r``, velocity ``v`` and momentum sum ``S`` (from the
    subtree's first leaf) at even leaves, and ``r``, ``v`` of the leaf before each.

    Inlined into :func:`run_chain`, its one call site: numba links (and optimises again) the
    log-density's machine code into every compiled function that calls it, so the fewer
    such functions, the shorter the one-time compilation.
    """
    qL, pL, gL, vL, qR, pR, gR, vR, q_prop, g_prop, q_sub, g_sub, rho, rho_sub = (
        vecs[0], vecs[1], vecs[2], vecs[3], vecs[4], vecs[5], vecs[6], vecs[7],
        vecs[8], vecs[9], vecs[10], vecs[11], vecs[12], vecs[13],
    )  # fmt: skip
    p_prev, v_prev, p_inner, v_inner, p_first, v_first = (
        vecs[14], vecs[15], vecs[16], vecs[17], vecs[18], vecs[19],
    )  # fmt: skip
    r_ckpt, v_ckpt, rsum_ckpt, rprev_ckpt, vprev_ckpt = ckpt[0], ckpt[1], ckpt[2], ckpt[3], ckpt[4]
    xi = q_sub  # scratch before the first subtree
    kinetic = _momentum(C, pL, xi)
    lp0, ll0 = state[0], state[1]
    H0 = -lp0 + kinetic
    _copy(qL, q)
    _copy(gL, g)
    _matvec(Sigma, pL, vL)
    _copy(qR, q)
    _copy(pR, pL)
    _copy(gR, g)
    _copy(vR, vL)
    _copy(q_prop, q)
    _copy(g_prop, g)
    lp_prop, ll_prop, H_prop = lp0, ll0, H0
    _copy(rho, pL)
    log_w = 0.0  # log of the trajectory's total weight, relative to exp(-H0)
    depth = 0
    n_steps = 0
    accept_sum = 0.0
    diverging = False
    while depth < max_depth:
        forward = np.random.random() < 0.5
        eps_dir = eps if forward else -eps
        qE, pE, gE, vE = (qR, pR, gR, vR) if forward else (qL, pL, gL, vL)
        vF = vL if forward else vR  # the far end of the trajectory
        _copy(p_inner, pE)
        _copy(v_inner, vE)
        sub_log_w = -np.inf
        _fill(rho_sub, 0.0)
        lp_sub, ll_sub, H_sub = 0.0, 0.0, 0.0
        turning = False
        for leaf in range(1 << depth):
            _copy(p_prev, pE)
            _copy(v_prev, vE)
            lp, ll, kin = _leapfrog(qE, pE, gE, vE, eps_dir, Sigma, data)
            n_steps += 1
            H = -lp + kin
            delta = H - H0
            if not math.isfinite(delta) or delta > MAX_ENERGY_ERROR:
                diverging = True
                break
            accept_sum += 1.0 if delta <= 0.0 else math.exp(-delta)
            lw = -delta
            new_log_w = _log_add_exp(sub_log_w, lw)
            if np.random.random() < math.exp(lw - new_log_w):  # uniform within the subtree
                _copy(q_sub, qE)
                _copy(g_sub, gE)
                lp_sub, ll_sub, H_sub = lp, ll, H
            sub_log_w = new_log_w
            if leaf == 0:
                _copy(p_first, pE)
                _copy(v_first, vE)
            for i in range(rho_sub.shape[0]):
                rho_sub[i] += pE[i]
            lo, hi = _ckpt_range(leaf)
            if leaf % 2 == 0:
                _copy(r_ckpt[hi], pE)
                _copy(v_ckpt[hi], vE)
                _copy(rsum_ckpt[hi], rho_sub)
                _copy(rprev_ckpt[hi], p_prev)
                _copy(vprev_ckpt[hi], v_prev)
                continue
            for c in range(hi, lo - 1, -1):
                # A | B: the subtree from checkpoint c's leaf to this one
                turning = _turning_span(v_ckpt[c], vE, rho_sub, rsum_ckpt[c], r_ckpt[c])
                if not turning and c < hi:  # B starts at checkpoint c + 1's leaf
                    turning = _turning_span(
                        v_ckpt[c], v_ckpt[c + 1], rsum_ckpt[c + 1], rsum_ckpt[c], r_ckpt[c]
                    ) or _turning_sum(
                        vprev_ckpt[c + 1], vE, rho_sub, rsum_ckpt[c + 1], r_ckpt[c + 1], rprev_ckpt[c + 1]
                    )
                if turning:
                    break
            if turning:
                break
        if diverging or turning:
            break  # the new subtree is not sampled from
        if np.random.random() < math.exp(min(0.0, sub_log_w - log_w)):  # biased to the new subtree
            _copy(q_prop, q_sub)
            _copy(g_prop, g_sub)
            lp_prop, ll_prop, H_prop = lp_sub, ll_sub, H_sub
        log_w = _log_add_exp(log_w, sub_log_w)
        # the old trajectory with the subtree's first leaf, its inner end with the subtree
        turning = _turning_dot(vF, v_first, rho, p_first) or _turning_dot(v_inner, vE, rho_sub, p_inner)
        for i in range(rho.shape[0]):
            rho[i] += rho_sub[i]
        depth += 1
        if turning or _turning(vL, vR, rho):
            break
    _copy(q, q_prop)
    _copy(g, g_prop)
    state[0] = lp_prop
    state[1] = ll_prop
    return H_prop, depth, n_steps, accept_sum / max(n_steps, 1), diverging


@njit(cache=True, nogil=True)
def _windows(tune):  # pragma: no cover - compiled
    """Stan's slow adaptation windows for ``tune`` warm-up iterations: their last
    iterations (inclusive), and the first iteration of the first one. Each window is twice
    the previous one; one that the next could not follow before the final fast interval
    is stretched to its start."""
    ends = np.empty(64, dtype=np.int64)
    if tune < 20:
        return ends[:0], tune
    init, term, size = INIT_BUFFER, TERM_BUFFER, BASE_WINDOW
    if init + size + term > tune:
        init = int(0.15 * tune)
        term = int(0.1 * tune)
        size = tune - init - term
    last = tune - term - 1
    start = init
    count = 0
    while True:
        end = start + size - 1
        if end + 2 * size > last:
            end = last
        ends[count] = end
        count += 1
        if end == last:
            break
        start = end + 1
        size *= 2
    return ends[:count], init


@njit(cache=True, nogil=True)
def run_chain(
    q0,
    Sigma0,
    seed,
    tune,
    draws,
    target_accept,
    max_depth,
    adapt_metric,
    prior_weight,
    data,
    out_q,
    out_stats,
):  # pragma: no cover - compiled
    """One chain: ``tune`` warm-up iterations, then ``draws`` kept ones.

    Parameters
    ----------
    q0 : array of shape (p,)
        The start, in the unconstrained space.
    Sigma0 : array of shape (p, p)
        The inverse mass matrix to start from (symmetric positive definite).
    seed : int
        Seeds numba's generator of the calling thread.
    adapt_metric : bool
        Re-estimate the inverse mass matrix in Stan's windows (else only the step size
        is tuned).
    prior_weight : float
        Weight, in draws, of ``Sigma0`` in each window's estimate.
    data : tuple
        The arguments of :func:`~bayesgmm.bayes._log_posterior_numba.log_posterior` after
        ``(z, grad)``.
    out_q : array of shape (draws, p)
    out_stats : array of shape (draws, N_STATS)

    Returns
    -------
    int
        0, or 1 when the start has no finite log density.
    """
    np.random.seed(seed)
    n = q0.shape[0]
    q = q0.copy()
    g = np.empty(n)
    state = np.empty(2)
    state[0], state[1] = log_posterior(q, g, *data)
    if not math.isfinite(state[0]):
        return 1
    Sigma = Sigma0.copy()
    C = np.empty((n, n))
    if not cholesky_lower(Sigma, C):
        return 2
    vecs, ckpt = _work(n, max_depth)
    one = np.int64(1)
    # Stan's step-size heuristic first (and again after each metric update): transitions of
    # depth one -- one leapfrog step from fresh momenta, which leave the posterior
    # invariant -- doubling or halving eps until their acceptance probability crosses 0.8
    searching = True
    direction = 0
    eps = 1.0
    # dual averaging
    mu = math.log(10.0 * eps)
    h_bar = 0.0
    log_eps_bar = 0.0
    m = 0
    ends, first = _windows(tune) if adapt_metric else (np.empty(0, dtype=np.int64), tune)
    window = 0
    count = 0
    mean = np.zeros(n)
    M2 = np.zeros((n, n))
    dev = np.empty(n)
    it = 0
    while it < tune + draws:
        H, depth, steps, accept, diverging = _transition(
            q, g, state, eps, Sigma, C, one if searching else max_depth, data, vecs, ckpt
        )
        if searching:
            up = accept > 0.8
            if direction == 0:
                direction = 1 if up else -1
            elif (direction == 1 and not up) or (direction == -1 and up) or not 1e-12 < eps < 1e7:
                searching = False
                direction = 0
                mu = math.log(10.0 * eps)
                h_bar = 0.0
                log_eps_bar = 0.0
                m = 0
                continue
            eps = eps * 2.0 if direction == 1 else eps * 0.5
            continue
        if it < tune:
            m += 1
            eta = 1.0 / (m + DA_T0)
            h_bar = (1.0 - eta) * h_bar + eta * (target_accept - accept)
            log_eps = mu - math.sqrt(m) / DA_GAMMA * h_bar
            weight = m ** (-DA_KAPPA)
            log_eps_bar = weight * log_eps + (1.0 - weight) * log_eps_bar
            eps = math.exp(log_eps)
            if window < ends.shape[0] and it >= first:
                count += 1
                for i in range(n):
                    dev[i] = q[i] - mean[i]
                    mean[i] += dev[i] / count
                for i in range(n):
                    for j in range(n):
                        M2[i, j] += dev[i] * (q[j] - mean[j])
                if it == ends[window]:
                    for i in range(n):
                        for j in range(n):
                            Sigma[i, j] = (M2[i, j] + prior_weight * Sigma0[i, j]) / (
                                count - 1 + prior_weight
                            )
                    if not cholesky_lower(Sigma, C):  # pragma: no cover - a PD blend of PD matrices
                        for i in range(n):
                            _copy(Sigma[i], Sigma0[i])
                        cholesky_lower(Sigma, C)
                    window += 1
                    count = 0
                    _fill(mean, 0.0)
                    for i in range(n):
                        _fill(M2[i], 0.0)
                    searching = True  # a new metric: search the step size again
            if it == tune - 1:
                eps = math.exp(log_eps_bar)
        else:
            j = it - tune
            _copy(out_q[j], q)
            out_stats[j, STAT_LP] = state[0]
            out_stats[j, STAT_LL] = state[1]
            out_stats[j, STAT_ENERGY] = H
            out_stats[j, STAT_STEP] = eps
            out_stats[j, STAT_DEPTH] = depth
            out_stats[j, STAT_STEPS] = steps
            out_stats[j, STAT_ACCEPT] = accept
            out_stats[j, STAT_DIVERGING] = 1.0 if diverging else 0.0
        it += 1
    return 0
