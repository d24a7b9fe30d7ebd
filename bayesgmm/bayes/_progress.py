"""The progress lines :func:`bayesgmm.bayes.compare.compare_models` writes, one per K."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = ["Progress", "occupied_line", "result_line"]


class Progress:
    """One line per K to a stream (stderr for ``progress=True``), nothing for False."""

    def __init__(self, progress: Any) -> None:
        if progress is True:
            self.stream = sys.stderr
        elif progress is False or progress is None:
            self.stream = None
        elif hasattr(progress, "write"):
            self.stream = progress
        else:
            raise TypeError(
                "The 'progress' parameter must be a bool or a writable text stream. "
                f"Got {type(progress).__name__} instead."
            )

    def __call__(self, line: str) -> None:
        if self.stream is not None:
            print(line, file=self.stream, flush=True)


def result_line(r: Any, i: int, n: int, seconds: float) -> str:
    line = f"  K={r.k} ({i}/{n}) done in {seconds:.1f} s: BIC {r.bic:.1f}"
    if r.waic is not None and r.loo is not None:
        dg = r.diagnostics or {}
        line += (
            f", WAIC {r.waic.deviance:.1f} +/- {r.waic.deviance_se:.1f}, "
            f"LOO {r.loo.deviance:.1f} +/- {r.loo.deviance_se:.1f}, max R-hat {dg.get('max_rhat', np.nan):.3f}, "
            f"{dg.get('divergences', 0)} divergence(s)"
        )
        if "evidence" in r.extra:
            line += f", -2 log evidence {r.extra['evidence']:.1f} +/- {r.extra['evidence_se']:.2f}"
        if r.flag:
            line += f" -- NOT RANKED: {r.flag}"
    return line


def occupied_line(occ: Any, seconds: float) -> str:
    probs = ", ".join(f"{k}: {p:.2f}" for k, p in occ.as_dict().items() if p > 0)
    line = f"  occupied components (sparse fit, K_max={occ.k_max}) done in {seconds:.1f} s: {probs}"
    return line if occ.diagnostics_ok else line + " -- label-invariant diagnostics FAIL"
