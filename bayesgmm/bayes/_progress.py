"""What the Bayesian half tells the user while it works: the progress lines
:func:`bayesgmm.bayes.compare.compare_models` writes, one per K, and the one-time notice
while numba compiles a kernel that later runs load from the disk cache."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["COMPILE_NOTICE_S", "Progress", "compile_notice", "invariant_text", "occupied_line", "result_line"]

COMPILE_NOTICE_S = 2.0  # seconds of compiling before the one-time notice is printed


@contextmanager
def compile_notice(what: str, *, after: float = COMPILE_NOTICE_S) -> Iterator[None]:
    """Print ``bayesgmm: compiling <what>...`` on stderr if the block is still running after
    ``after`` seconds: a warm disk cache loads well within that, so the line appears only
    for the one-time compilation, instead of a silent stall."""
    timer = threading.Timer(
        after,
        lambda: print(
            f"bayesgmm: compiling {what} with numba, once; later runs load it from the disk cache...",
            file=sys.stderr,
            flush=True,
        ),
    )
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


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


def invariant_text(stats: Any) -> str:
    """``" (R-hat 1.001 / ESS 2000 of the count, ...)"`` from ``name -> {"rhat", "ess_bulk"}``."""
    names = {"occupied": "the count", "log_likelihood": "the log-likelihood"}
    parts = [
        f"R-hat {v['rhat']:.3f} / ESS {v['ess_bulk']:.0f} of {names.get(k, k)}"
        for k, v in (stats or {}).items()
        if k in names
    ]
    return f" ({', '.join(parts)})" if parts else ""


def occupied_line(occ: Any, seconds: float) -> str:
    probs = ", ".join(f"{k}: {p:.2f}" for k, p in occ.as_dict().items() if p > 0)
    line = f"  occupied components (sparse fit, K_max={occ.k_max}) done in {seconds:.1f} s: {probs}"
    line += invariant_text(occ.diagnostics)
    return line if occ.diagnostics_ok else line + " -- label-invariant diagnostics FAIL"
