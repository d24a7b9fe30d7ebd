"""Posterior (NUTS, PyMC) against EM on the height data: the table and the plots.

Run: python examples/02_posterior_vs_em.py   (BAYESGMM_FAST=1 for a quick check)
"""

import os

import matplotlib

matplotlib.use("Agg")
import numpy as np

from bayesgmm import BayesianGaussianMixture, GaussianMixture, compare_em_posterior, load_heights

fast = os.environ.get("BAYESGMM_FAST") == "1"
X, y = load_heights()
rng = np.random.default_rng(0)
subset = X[rng.choice(len(X), 500 if fast else 5000, replace=False)]  # a random subset

em = GaussianMixture(2, tol=1e-10, max_iter=10000, random_state=0).fit(subset)
bayes = BayesianGaussianMixture(
    2, draws=200 if fast else 1000, tune=200 if fast else 300, chains=2, random_state=0
).fit(subset, em=em)
print(bayes.diagnostics_)
table = compare_em_posterior(em, bayes)
print(table.to_string(index=False))

from bayesgmm.bayes.posterior import plot_posterior_vs_em, plot_trace

plot_posterior_vs_em(bayes, em).ravel()[0].figure.savefig("posterior_vs_em.png")
plot_trace(bayes).ravel()[0].figure.savefig("trace.png")
print(f"done: EM inside the 94% HDI for {int(table.em_in_hdi.sum())}/{len(table)} parameters")
