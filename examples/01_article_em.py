"""The article's height experiment, its script with only the import swapped; then converged.

Run: python examples/01_article_em.py
"""

import numpy as np
from sklearn.metrics import accuracy_score

from bayesgmm import GaussianMixture  # the article: from sklearn.mixture import GaussianMixture
from bayesgmm.em import converged_em

# --- the article's script, verbatim but for the import ------------------------------------
np.random.seed(0)
mu_m = 1.71
sigma_m = 0.056
num_m = 100000
rand_data_m = np.random.normal(mu_m, sigma_m, num_m)
y_m = np.ones(num_m)

np.random.seed(0)
nu_w = 1.58
sigma_w = 0.051
num_w = 100000
rand_data_w = np.random.normal(nu_w, sigma_w, num_w)
y_w = np.zeros(num_w)

data = np.append(rand_data_m, rand_data_w)
data = data.reshape(-1, 1)
y = np.append(y_m, y_w)

g = GaussianMixture(n_components=2, random_state=0, tol=1e-3, max_iter=1000)
g.fit(data)
print(g.means_)
print(g.covariances_)
print(g.weights_)
y_hat = g.predict(data)
print(accuracy_score(y, y_hat))
print("EM passes:", g.n_iter_)

# --- the same EM run to its fixed point (tol=1e-3 stops after 4 passes, far from it) -------
em = converged_em(data, 2)
order = np.argsort(em.means_[:, 0])  # women (lower mean) first, as in the article's output
print("converged EM (SQUAREM to the fixed point):")
print("  means", em.means_[order].ravel(), "sds", np.sqrt(em.covariances_[order].ravel()))
print("  weights", em.weights_[order], "passes", em.n_iter_)
print(f"  AIC {em.aic(data):.1f}  BIC {em.bic(data):.1f}  ICL {em.icl(data):.1f}")
print(f"done: converged means {em.means_[order].ravel().round(5)}")
