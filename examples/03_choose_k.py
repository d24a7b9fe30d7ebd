"""How many components? BIC/AIC/ICL (EM) against WAIC/LOO (posterior) in one call.

Run: python examples/03_choose_k.py   (BAYESGMM_FAST=1 for a quick check)
"""

import os

import numpy as np

from bayesgmm import compare_models, make_mixture, select

fast = os.environ.get("BAYESGMM_FAST") == "1"
means = [[-4, 0], [0, 4], [4, 0]]
covs = [np.eye(2), [[1.0, 0.5], [0.5, 1.0]], [[1.0, -0.3], [-0.3, 0.5]]]
X, _ = make_mixture(300 if fast else 600, [0.3, 0.3, 0.4], means, covs, random_state=1)

# EM alone over K x covariance types (what mclust's Mclust does)
best, em_table = select(X, range(1, 5), ("full", "diag", "spherical"), random_state=0)
print(em_table.to_string(index=False))
print("EM/BIC picks", best.n_components, "components,", best.covariance_type)

# EM and the Bayesian model for each K: one tidy table
table = compare_models(
    X, range(1, 5), draws=150 if fast else 500, tune=150 if fast else 300, chains=2, random_state=0
)
print(table.to_string(index=False))
print(
    f"done: BIC chooses K={int(table.k[table.bic.idxmin()])}, WAIC chooses K={int(table.k[table.waic.idxmin()])}"
)
