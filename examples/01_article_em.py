"""The article's height experiment with bayesgmm's EM: as the article ran it, then converged.

Run: python examples/01_article_em.py
"""

import numpy as np

from bayesgmm import GaussianMixture, load_heights

X, y = load_heights()  # 100 000 men, 100 000 women (men first, y = 1 for men)

# The article's call, plain EM (scikit-learn's steps): tol=1e-3 stops after a few passes,
# well before convergence.
g = GaussianMixture(n_components=2, random_state=0, tol=1e-3, max_iter=1000, accelerate=False).fit(X)
print("article-style EM (tol=1e-3, plain):")
print("  means", g.means_.ravel(), "variances", g.covariances_.ravel(), "weights", g.weights_)
print("  passes", g.n_iter_)

# Converged: SQUAREM-accelerated EM to the fixed point.
em = GaussianMixture(n_components=2, random_state=0, tol=1e-10, max_iter=10000).fit(X)
order = np.argsort(em.means_[:, 0])  # women (lower mean) first, as in the article's output
labels = em.predict(X)
men = order[1]
accuracy = np.mean((labels == men) == (y == 1))
print("converged EM:")
print("  means", em.means_[order].ravel(), "sds", np.sqrt(em.covariances_[order].ravel()))
print("  weights", em.weights_[order], "passes", em.n_iter_)
print(f"  accuracy {accuracy:.6f}  AIC {em.aic(X):.1f}  BIC {em.bic(X):.1f}  ICL {em.icl(X):.1f}")
print(f"done: converged means {em.means_[order].ravel().round(5)}")
