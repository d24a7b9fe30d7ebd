"""Every script in examples/ runs to the end (in its fast mode) and says what it should.

The two examples that sample with PyMC cost a cold PyMC process each (compilation
included) and are marked slow; what they compute is tested in-process elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
PYMC_EXAMPLES = {"02_posterior_vs_em.py", "03_choose_k.py"}
# what each example must print besides its final "done:" line
EXPECTED = {
    "01_article_em.py": [
        "[[1.58168229]\n [1.71356861]]",
        "[0.51926735 0.48073265]",
        "0.888835",
        "EM passes: 4",
    ],
}


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=pytest.mark.slow) if p.name in PYMC_EXAMPLES else p for p in EXAMPLES],
    ids=lambda p: p.name,
)
def test_example_runs(path, tmp_path):
    env = dict(os.environ, BAYESGMM_FAST="1", MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # each example ends by printing a line that starts with "done:" and a result
    assert "done:" in proc.stdout, proc.stdout[-2000:]
    for text in EXPECTED.get(path.name, []):
        assert text in proc.stdout, (text, proc.stdout[-2000:])
