"""One side of ``mcmc_heights.py``, in its own fresh process; writes its results to an .npz.

``peer``: PyMC's default sampler on PyMC's own ``NormalMixture`` graph (the model of
:func:`bayesgmm.build_model` with ``likelihood="pymc"``: same priors), ``pm.sample``
defaults (init ``jitter+adapt_diag``, 1000 tuning steps, target_accept 0.8, its default
cores); only the ordered means get starting values (quantiles of the data), as the ordered
transform requires. Timed: model build + ``pm.sample``.

``bayesgmm``: ``BayesianGaussianMixture(2, random_state=seed).fit(X)`` with every other
argument at its default. Timed: the whole ``fit`` (EM start, compilation, sampling,
diagnostics), then separately the first access to ``idata_``, which computes the pointwise
log-likelihood (WAIC, LOO), and the import.

Usage: ``python benchmarks/_mcmc_run.py {peer,bayesgmm} ROWS SEED OUT.npz [--draws N]``
(ROWS = 0 for all 200 000 rows).
"""

from __future__ import annotations

import sys
import time

T_START = time.perf_counter()


def load(rows: int, seed: int):
    import numpy as np

    from bayesgmm import load_heights

    X, _ = load_heights()
    if rows and rows < X.shape[0]:
        idx = np.random.default_rng(seed).choice(X.shape[0], rows, replace=False)
        X = X[idx]
    return X


def peer(X, seed: int, draws: int) -> dict:
    import numpy as np
    import pymc as pm

    from bayesgmm.bayes.model import build_model

    t0 = time.perf_counter()
    model = build_model(X, 2, likelihood="pymc")
    mu0 = np.quantile(X[:, 0], [0.25, 0.75])[:, None]
    idata = pm.sample(
        draws=draws,
        random_seed=seed,
        initvals={"mu": mu0},
        model=model,
        progressbar=False,
        compute_convergence_checks=False,
    )
    wall = time.perf_counter() - t0
    post = idata.posterior
    return {
        "wall": wall,
        "w": post["w"].values,
        "mu": post["mu"].values[..., 0],
        "sigma": post["sigma"].values,
        "divergences": int(idata.sample_stats["diverging"].values.sum()),
        "n_steps": float(idata.sample_stats["n_steps"].values.mean()),
    }


def ours(X, seed: int, draws: int, import_s: float) -> dict:
    import numpy as np

    from bayesgmm import BayesianGaussianMixture

    est = BayesianGaussianMixture(2, draws=draws, random_state=seed)
    t0 = time.perf_counter()
    est.fit(X)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    idata = est.idata_  # the first access computes the pointwise log-likelihood (WAIC, LOO)
    ll = idata.log_likelihood["x"].values if "log_likelihood" in idata else None  # both ArviZ lines
    pointwise_s = time.perf_counter() - t0
    draws_ = est.parameter_draws()
    st = est.idata_.sample_stats
    return {
        "wall": fit_s,
        "pointwise_s": pointwise_s,
        "import_s": import_s,
        "w": np.stack([draws_["weight[0]"], draws_["weight[1]"]], axis=-1),
        "mu": np.stack([draws_["mean[0]"], draws_["mean[1]"]], axis=-1),
        "sigma": np.stack([draws_["sd[0]"], draws_["sd[1]"]], axis=-1),
        "divergences": int(st["diverging"].values.sum()),
        "n_steps": float(st["n_steps"].values.mean()) if "n_steps" in st else float("nan"),
        "tune": int(est.tune),
        "timings": str(getattr(est, "timings_", {})),
        "ll_shape": np.array(ll.shape if ll is not None else ()),
    }


def main(argv: list[str]) -> int:
    import numpy as np

    if argv and argv[0] == "import-pymc":
        import pymc  # noqa: F401

        print(f"import pymc: {time.perf_counter() - T_START:.2f} s")
        return 0
    which, rows, seed, out = argv[0], int(argv[1]), int(argv[2]), argv[3]
    draws = int(argv[argv.index("--draws") + 1]) if "--draws" in argv else 1000
    if which == "peer":
        X = load(rows, seed)
        res = peer(X, seed, draws)
    else:
        t0 = time.perf_counter()
        from bayesgmm import BayesianGaussianMixture  # noqa: F401  (imports PyMC)

        import_s = time.perf_counter() - t0
        X = load(rows, seed)
        res = ours(X, seed, draws, import_s)
    res["n"] = X.shape[0]
    np.savez(out, **res)
    print(f"{which}: n={X.shape[0]} wall {res['wall']:.1f} s -> {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
