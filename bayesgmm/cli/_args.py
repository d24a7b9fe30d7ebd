"""Parsing the command line: the parser, ``--k`` and the covariance-type options."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .._validation import COVARIANCE_TYPES

PROG = "bayesgmm"
BAYES_EXTRA = 'pip install "bayesgmm[bayes]"'


class UsageError(Exception):
    """A problem with the arguments, the input file or the output folder (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # raise instead of exiting, so main() can return 2
        raise UsageError(f"{message}\n{self.format_usage().strip()}")


def parse_k(text: str) -> list[int]:
    """``"3"`` -> [3]; ``"1..4"`` -> [1, 2, 3, 4]; ``"1,3,5"`` -> [1, 3, 5].

    The text is parsed here; the values are checked by :func:`bayesgmm.criteria.check_ks`,
    the same rule as the library's ``ks`` arguments.
    """
    from ..criteria import check_ks

    s = str(text).strip()
    try:
        if ".." in s:
            lo, hi = (int(p) for p in s.split("..", 1))
            if lo > hi:
                raise UsageError(f"--k range {s!r} is empty: write it low..high, e.g. 1..4.")
            ks = list(range(lo, hi + 1))
        else:
            ks = [int(p) for p in s.split(",")]
    except ValueError:
        raise UsageError(
            f"--k must be a number, a range like 1..4 or a list like 1,3,5. Got {s!r}."
        ) from None
    try:
        return check_ks(ks, "--k")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def covariance_types(text: str, allowed: Sequence[str] = COVARIANCE_TYPES) -> list[str]:
    """``--covariance-type``: one of ``allowed``, a comma-separated list of them, or ``all``."""
    items = list(allowed) if text == "all" else [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in allowed]
    if bad or not items:
        raise UsageError(
            f"--covariance-type must be one of {', '.join(allowed)}"
            + (" (comma-separated, or 'all')" if len(allowed) > 2 else "")
            + f". Got {text!r}."
        )
    return list(dict.fromkeys(items))


def bayes_covariance_type(text: str) -> str:
    """``--covariance-type`` of the Bayesian model: one of the types its model supports."""
    from ..bayes.model import BAYES_COVARIANCE_TYPES

    if text not in BAYES_COVARIANCE_TYPES:
        raise UsageError(
            f"--covariance-type for the Bayesian model must be {' or '.join(BAYES_COVARIANCE_TYPES)}. "
            f"Got {text!r}."
        )
    return text


def parse_columns(text: str | None) -> list[str] | None:
    """``--columns a,b`` -> ``["a", "b"]``."""
    if text is None:
        return None
    columns = [c.strip() for c in text.split(",")]
    if not all(columns):
        raise UsageError(f"--columns must be a comma-separated list of names. Got {text!r}.")
    return columns


def _count_type(flag: str, minimum: int):
    """argparse type: an integer ``>= minimum``; a bad value is refused with the option's name."""

    def conv(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer >= {minimum}. Got {text!r}.")
        return value

    return conv


def _count(p: argparse.ArgumentParser, flag: str, default: int, help: str, *, minimum: int = 1) -> None:
    """An integer option ``>= minimum`` with a default."""
    p.add_argument(flag, type=_count_type(flag, minimum), default=default, help=f"{help} (default {default})")


def _add_data_args(
    p: argparse.ArgumentParser, *, k: str, covariance_type: str, k_default: str | None = "1..4"
) -> None:
    """The input file, its reading options, ``--k`` (required without a default) and
    ``--covariance-type``."""
    p.add_argument("data", help="a CSV file with a header row, or a .npy file")
    p.add_argument("--k", default=k_default, required=k_default is None, help=k)
    p.add_argument("--covariance-type", default="full", help=covariance_type)
    p.add_argument(
        "--columns", metavar="A,B", help="comma-separated columns to use (0-based numbers for .npy)"
    )
    p.add_argument(
        "--skip-non-numeric",
        action="store_true",
        help="skip non-numeric columns (e.g. row names) with a notice instead of refusing",
    )
    p.add_argument("--delimiter", default=None, help="CSV field delimiter (default ',' or tab for .tsv)")


def _jobs(text: str) -> int:
    """argparse type of ``--jobs``: a non-zero integer (-1: every core)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0:
        raise argparse.ArgumentTypeError(
            f"--jobs must be a non-zero integer (-1 for every core). Got {text!r}."
        )
    return value


def _add_jobs(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        help=f"{what} run side by side on this many cores (-1: all; default 1); the results are the same",
    )


def _add_em_args(p: argparse.ArgumentParser, out: str) -> None:
    p.add_argument(
        "--n-init",
        type=_count_type("--n-init", 0),
        default=None,
        help="k-means starts of EM, on top of the other deterministic starts (default: the library's)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", default=out, help=f"output folder (default {out})")


def _add_sampling_args(p: argparse.ArgumentParser, *, draws: int, tune: int) -> None:
    _count(p, "--draws", draws, "draws per chain")
    _count(p, "--tune", tune, "tuning steps", minimum=0)
    _count(p, "--chains", 2, "chains")
    p.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")


def build_parser() -> argparse.ArgumentParser:
    """The ``bayesgmm`` parser with its four sub-commands."""
    parser = _Parser(prog=PROG, description="Gaussian mixtures by exact EM and by MCMC, side by side.")
    sub = parser.add_subparsers(dest="command", metavar="{em,mcmc,compare,demo}", parser_class=_Parser)
    sub.required = True

    em = sub.add_parser("em", help="fit EM (a range of K: choose by AIC/BIC/ICL)")
    _add_data_args(
        em,
        k="K, a range like 1..4, or a list (default 1..4)",
        covariance_type="full, tied, diag, spherical, a comma-separated list, or 'all' (default full)",
    )
    em.add_argument(
        "--criterion", choices=("bic", "aic", "icl"), default="bic", help="picks the model (default bic)"
    )
    _count(em, "--max-iter", 10000, "EM passes at most")
    _add_em_args(em, "bayesgmm-em")
    _add_jobs(em, "the fits of K x covariance type and their starts")
    em.add_argument(
        "--quiet", action="store_true", help="no progress lines (printed for fits longer than 10 s)"
    )

    mc = sub.add_parser("mcmc", help="sample the posterior of one K (NUTS, started at converged EM)")
    _add_data_args(
        mc, k="the number of components", covariance_type="full or diag (default full)", k_default=None
    )
    _add_sampling_args(mc, draws=1000, tune=1000)
    _add_em_args(mc, "bayesgmm-mcmc")
    _add_jobs(mc, "EM's starts")

    cp = sub.add_parser("compare", help="AIC, BIC, ICL (EM) and WAIC, LOO (posterior) over a range of K")
    _add_data_args(
        cp,
        k="a range like 1..4 or a list (default 1..4)",
        covariance_type="full or diag (default full); without PyMC (EM criteria only) as for 'em'",
    )
    _add_sampling_args(cp, draws=1000, tune=1000)
    cp.add_argument(
        "--k-max",
        type=_count_type("--k-max", 1),
        default=None,
        help="also fit one mixture of K_MAX components with a sparse Dirichlet prior and report the "
        "posterior of the number of occupied components (default: not fitted)",
    )
    _add_em_args(cp, "bayesgmm-compare")
    _add_jobs(cp, "the EM fits, the posteriors of the K and the sparse fit's chains")

    dm = sub.add_parser(
        "demo", help="the height experiment: article EM, converged EM, posterior, choice of K"
    )
    _count(dm, "--subset", 2000, "rows for the posterior, drawn at random with --seed; 0 = all", minimum=0)
    _add_sampling_args(dm, draws=1000, tune=300)
    dm.add_argument(
        "--k", default="1..4", help="K range for the comparison of criteria, or 'none' (default 1..4)"
    )
    _count(dm, "--compare-subset", 2000, "rows for the comparison of criteria")
    _count(dm, "--compare-draws", 1000, "draws per chain for each K of the comparison")
    dm.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    dm.add_argument("--out", default="bayesgmm-demo", help="output folder (default bayesgmm-demo)")
    return parser
