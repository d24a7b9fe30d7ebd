"""Shared test fixtures: a fixed-seed random generator and a non-interactive plot backend."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator: every test sees the same numbers."""
    return np.random.default_rng(20240607)
