"""The Bayesian half of bayesgmm: the only package that imports PyMC and ArviZ."""
