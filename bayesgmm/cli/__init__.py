"""The ``bayesgmm`` command line: ``em``, ``mcmc``, ``compare`` and ``demo``.

::

    bayesgmm em      data.csv --k 1..4 [--covariance-type full,diag | all] --out fit/
    bayesgmm mcmc    data.csv --k 2 --draws 1000 --tune 1000 --chains 2 --out post/
    bayesgmm compare data.csv --k 1..4 --out choose-k/
    bayesgmm demo    [--subset 2000] --out bayesgmm-demo/

Input: a CSV file with a header row (``--columns a,b`` selects columns; a column that is
not numeric, such as a row-name column, is refused with its name unless deselected or
skipped with ``--skip-non-numeric``) or a ``.npy`` file (memory-mapped; ``--columns``
then takes 0-based indices). ``--k`` is a number, a range ``1..4`` or a list ``1,3,5``.

EM is fitted as :func:`bayesgmm.criteria.select` fits each K (several deterministic starts,
run to the fixed point on standardised data and reported in the data's units), so the
answer does not depend on the unit the data are measured in.

Output: everything goes to the ``--out`` folder -- ``summary.json``, ``comparison.csv``,
plots as PNG, the posterior as ``posterior.nc`` (NetCDF, ``arviz.from_netcdf`` reads it),
all or nothing. ``em`` and the EM side of ``compare`` need neither PyMC nor matplotlib:
without matplotlib the plots are skipped with a note; without PyMC, ``compare`` reports
the EM criteria only.

Exit status: 0 on success, 2 for a usage or input problem (bad argument, missing or
malformed file, missing column, non-numeric cells, unwritable output folder, a missing
extra), 1 when a fit fails, 130 when interrupted. Messages go to stderr as
``bayesgmm: error: ...``; warnings (convergence, sampling diagnostics, WAIC/LOO
reliability) as ``bayesgmm: warning: ...``. Set ``BAYESGMM_DEBUG=1`` to get tracebacks
instead.

Modules: ``_args`` (the parser), ``_read`` (the data), ``_output`` (the output folder and
its writers), ``_report`` (the printers), ``_plots`` (optional plots), ``_commands``
(``em`` and what every command shares), ``_bayes_commands`` (``mcmc``, ``compare``) and
``_demo``.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

from ._args import PROG, UsageError, build_parser, parse_k
from ._read import read_data

__all__ = ["UsageError", "build_parser", "main", "parse_k", "read_data"]


def _command(name: str):
    if name == "demo":
        from ._demo import cmd_demo

        return cmd_demo
    if name == "em":
        from ._commands import cmd_em

        return cmd_em
    from . import _bayes_commands

    return {"mcmc": _bayes_commands.cmd_mcmc, "compare": _bayes_commands.cmd_compare}[name]


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    debug = os.environ.get("BAYESGMM_DEBUG") == "1"
    try:
        args = build_parser().parse_args(argv)
        if args.command == "demo" and args.k != "none":
            parse_k(args.k)
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
                warnings.simplefilter("ignore", category)
            warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
            warnings.showwarning = _show_warning
            result = _command(args.command)(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; no output written.", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(f"{PROG}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"{PROG}: no output written (set BAYESGMM_DEBUG=1 for a traceback).", file=sys.stderr)
        return 1
    print(f"wrote {', '.join(result['files'])} to {result['out']}/")
    return 0
