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

Output: everything goes to the ``--out`` folder -- ``summary.json``, ``comparison.csv``,
plots as PNG, the posterior as ``posterior.nc`` (NetCDF, ``arviz.from_netcdf`` reads it).
The files are first written to a temporary folder beside the target and moved into place
only when everything succeeded, so a failed run leaves no half-written output.

Exit status: 0 on success, 2 for a usage or input problem (bad argument, missing or
malformed file, missing column, non-numeric cells, unwritable output folder), 1 when a
fit fails, 130 when interrupted. Messages go to stderr as ``bayesgmm: error: ...``;
warnings (convergence, sampling diagnostics, WAIC/LOO reliability) as
``bayesgmm: warning: ...``. Set ``BAYESGMM_DEBUG=1`` to get tracebacks instead.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main", "parse_k", "read_data"]

PROG = "bayesgmm"
DEMO_TOL = (
    1e-12  # the notebook's: the heights' fixed point to ~1e-7 (tol=1e-8 stops ~1e-3 short in the weights)
)


class UsageError(Exception):
    """A problem with the arguments, the input file or the output folder (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # raise instead of exiting, so main() can return 2
        raise UsageError(f"{message}\n{self.format_usage().strip()}")


# --------------------------------------------------------------------------- arguments
def parse_k(text: str) -> list[int]:
    """``"3"`` -> [3]; ``"1..4"`` -> [1, 2, 3, 4]; ``"1,3,5"`` -> [1, 3, 5]."""
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
    if any(k < 1 for k in ks):
        raise UsageError(f"--k values must be >= 1. Got {s!r}.")
    if len(set(ks)) != len(ks):
        raise UsageError(f"--k must not repeat a value. Got {s!r}.")
    return ks


def _positive_int(name: str, minimum: int = 1):
    def conv(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be an integer >= {minimum}. Got {text!r}."
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= {minimum}. Got {text!r}.")
        return value

    return conv


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number. Got {text!r}.") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number. Got {text!r}.")
    return value


def _covariance_types(text: str, allowed: Sequence[str]) -> list[str]:
    items = list(allowed) if text == "all" else [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in allowed]
    if bad or not items:
        raise UsageError(
            f"--covariance-type must be one of {', '.join(allowed)}"
            + (" (comma-separated, or 'all')" if len(allowed) > 2 else "")
            + f". Got {text!r}."
        )
    return list(dict.fromkeys(items))


def _one_bayes_covariance_type(text: str) -> str:
    if text not in ("full", "diag"):
        raise UsageError(f"--covariance-type for the Bayesian model must be full or diag. Got {text!r}.")
    return text


# --------------------------------------------------------------------------- reading data
def _parse_float(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _read_csv(path: Path, columns: list[str] | None, skip_non_numeric: bool, delimiter: str):
    notes: list[str] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter, strict=True)
            try:
                header = next(reader)
            except StopIteration:
                raise UsageError(f"{path} is empty: expected a CSV file with a header row.") from None
            names = [h.strip() or f"column {i + 1}" for i, h in enumerate(header)]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise UsageError(f"{path}: the header repeats the column name(s) {dupes}.")
            cells: list[list[str]] = [[] for _ in names]
            lines: list[int] = []
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) != len(names):
                    raise UsageError(
                        f"{path} is malformed: line {reader.line_num} has {len(row)} field(s), "
                        f"the header has {len(names)}."
                    )
                for col, cell in zip(cells, row, strict=True):
                    col.append(cell.strip())
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a UTF-8 text (CSV) file.") from None
    except csv.Error as exc:
        raise UsageError(f"{path} is malformed (CSV): {exc}.") from None
    if not lines:
        raise UsageError(f"{path} has a header but no data rows.")

    if columns is not None:
        missing = [c for c in columns if c not in names]
        if missing:
            raise UsageError(
                f"column(s) {', '.join(repr(c) for c in missing)} not found in {path}. "
                f"Its columns are: {', '.join(repr(n) for n in names)}."
            )
        wanted = [names.index(c) for c in columns]
    else:
        wanted = list(range(len(names)))

    parsed: dict[int, list[float | None]] = {}
    text_columns: list[int] = []
    for j in wanted:
        values = [_parse_float(c) if c else None for c in cells[j]]
        filled = [c for c in cells[j] if c]
        bad = sum(1 for c, v in zip(cells[j], values, strict=True) if c and v is None)
        if filled and bad > len(filled) / 2:
            text_columns.append(j)
        parsed[j] = values
    if text_columns:
        described = ", ".join(
            f"{names[j]!r} (e.g. {next(c for c in cells[j] if c)!r} on line {lines[0]})" for j in text_columns
        )
        if columns is not None:
            raise UsageError(f"{path}: the selected column(s) {described} are not numeric.")
        if not skip_non_numeric:
            raise UsageError(
                f"{path}: column(s) {described} are not numeric. Select the numeric columns with "
                "--columns, or pass --skip-non-numeric to skip the others."
            )
        notes.append(f"skipping non-numeric column(s) {', '.join(repr(names[j]) for j in text_columns)}")
        wanted = [j for j in wanted if j not in text_columns]
        if not wanted:
            raise UsageError(f"{path} has no numeric column.")

    problems: list[str] = []
    for j in wanted:
        for i, (cell, value) in enumerate(zip(cells[j], parsed[j], strict=True)):
            if value is None or not math.isfinite(value):
                what = (
                    "missing value"
                    if not cell
                    else ("non-numeric value" if value is None else "non-finite value")
                )
                problems.append(
                    f"{what} {cell!r} in column {names[j]!r} on line {lines[i]}"
                    if cell
                    else f"{what} in column {names[j]!r} on line {lines[i]}"
                )
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise UsageError(f"{path}: " + "; ".join(problems[:3]) + more + ". Fix or remove those rows.")
    X = np.array([parsed[j] for j in wanted], dtype=np.float64).T
    return np.ascontiguousarray(X), [names[j] for j in wanted], notes


def _read_npy(path: Path, columns: list[str] | None):
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise UsageError(f"{path} is not a readable numeric .npy file: {exc}") from None
    except (OSError, EOFError) as exc:
        raise UsageError(f"{path} is not a readable .npy file: {exc}") from None
    if not isinstance(arr, np.ndarray):
        raise UsageError(f"{path} does not hold a single array.")
    if arr.dtype.kind not in "biuf":
        raise UsageError(f"{path} holds an array of dtype {arr.dtype}: expected numbers.")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise UsageError(f"{path} holds a {arr.ndim}-D array of shape {arr.shape}: expected 1-D or 2-D.")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise UsageError(f"{path} holds an empty array of shape {arr.shape}.")
    names = [str(i) for i in range(arr.shape[1])]
    if columns is not None:
        try:
            idx = [int(c) for c in columns]
        except ValueError:
            raise UsageError(
                f"--columns for a .npy file takes 0-based column numbers. Got {','.join(columns)!r}."
            ) from None
        bad = [i for i in idx if not 0 <= i < arr.shape[1]]
        if bad:
            raise UsageError(f"column(s) {bad} not found in {path}: it has columns 0..{arr.shape[1] - 1}.")
        arr, names = arr[:, idx], [names[i] for i in idx]
    finite = np.isfinite(arr)
    if not finite.all():
        r, c = np.argwhere(~finite)[0]
        raise UsageError(
            f"{path} contains {int((~finite).sum())} NaN or infinite value(s) "
            f"(the first at row {r}, column {c})."
        )
    X = (
        arr
        if (arr.dtype == np.float64 and arr.flags.c_contiguous)
        else np.ascontiguousarray(arr, dtype=np.float64)
    )
    return X, names, []


def read_data(
    path: str | os.PathLike,
    *,
    columns: Sequence[str] | None = None,
    skip_non_numeric: bool = False,
    delimiter: str | None = None,
) -> tuple[np.ndarray, list[str], list[str]]:
    """Read a CSV (header row) or ``.npy`` file into ``(X, column names, notes)``.

    Raises :class:`UsageError` with a message naming the file, line and column for
    every input problem.
    """
    p = Path(path)
    if not p.exists():
        raise UsageError(f"no such file: {p}")
    if p.is_dir():
        raise UsageError(f"{p} is a folder: expected a CSV or .npy file.")
    if not os.access(p, os.R_OK):
        raise UsageError(f"cannot read {p}: permission denied.")
    cols = list(columns) if columns is not None else None
    if p.suffix.lower() == ".npy":
        return _read_npy(p, cols)
    if delimiter is None:
        delimiter = "\t" if p.suffix.lower() in (".tsv", ".tab") else ","
    return _read_csv(p, cols, skip_non_numeric, delimiter)


# --------------------------------------------------------------------------- atomic output
class _Output:
    """Write into a temporary folder beside ``target``; move the files into place on success."""

    def __init__(self, target: str | os.PathLike) -> None:
        self.target = Path(target)
        self.tmp: Path | None = None
        self.created: list[Path] = []

    def __enter__(self) -> _Output:
        t = self.target
        if t.exists() and not t.is_dir():
            raise UsageError(f"cannot write to output folder {t}: it exists and is not a folder.")
        if t.is_dir() and not os.access(t, os.W_OK | os.X_OK):
            raise UsageError(f"cannot write to output folder {t}: permission denied.")
        parent = t.absolute().parent
        missing = []
        p = parent
        while not p.exists():
            missing.append(p)
            p = p.parent
        try:
            for d in reversed(missing):
                d.mkdir()
                self.created.append(d)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{t.name}.tmp-", dir=parent))
        except OSError as exc:
            self._cleanup()
            reason = exc.strerror or str(exc)
            if isinstance(exc, (NotADirectoryError, FileExistsError)):
                reason = f"{p} is not a folder"
            raise UsageError(f"cannot write to output folder {t}: {reason}.") from None
        return self

    def path(self, name: str) -> Path:
        assert self.tmp is not None
        return self.tmp / name

    def commit(self) -> list[str]:
        assert self.tmp is not None
        files = sorted(os.listdir(self.tmp))
        if not self.target.exists():
            os.rename(self.tmp, self.target)
        else:
            for name in files:
                os.replace(self.tmp / name, self.target / name)
            self.tmp.rmdir()
        self.tmp = None
        return files

    def _cleanup(self) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        for d in reversed(self.created):
            try:
                d.rmdir()
            except OSError:
                pass
        self.created = []

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._cleanup()


# --------------------------------------------------------------------------- writers
def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if obj is None or isinstance(obj, str):
        return obj
    try:  # pandas NA and friends
        import pandas as pd

        if pd.isna(obj):
            return None
    except (ImportError, TypeError, ValueError):
        pass
    return str(obj)


def _write_json(path: Path, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(_jsonable(obj), fh, indent=2, allow_nan=False)
        fh.write("\n")


def _records(table) -> list[dict[str, Any]]:
    return [_jsonable(r) for r in table.to_dict(orient="records")]


def _save_figure(obj: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    first = np.ravel(obj)[0] if isinstance(obj, np.ndarray) else obj
    fig = first.figure if hasattr(first, "figure") else first
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _em_summary(em, X) -> dict[str, Any]:
    return {
        "n_components": em.n_components,
        "covariance_type": em.covariance_type,
        "weights": em.weights_,
        "means": em.means_,
        "covariances": em.covariances_,
        "loglik": float(np.sum(em.score_samples(X))),
        "aic": em.aic(X),
        "bic": em.bic(X),
        "icl": em.icl(X),
        "converged": em.converged_,
        "n_iter": em.n_iter_,
    }


def _print_em(em, X, title: str) -> None:
    order = np.argsort(em.means_[:, 0], kind="stable")
    d = em.means_.shape[1]
    print(
        f"{title}: K={em.n_components}, covariance_type={em.covariance_type}, "
        f"converged={em.converged_} after {em.n_iter_} passes (components sorted by their first mean)"
    )
    cov = em.covariances_ if em.covariance_type == "tied" else em.covariances_[order]
    with np.printoptions(precision=8, suppress=True, linewidth=100):
        print("  weights    ", em.weights_[order])
        print("  means      ", em.means_[order].ravel() if d == 1 else "\n" + str(em.means_[order]))
        print("  covariances", cov.ravel() if d == 1 else "\n" + str(cov))
    print(
        f"  log-likelihood {np.sum(em.score_samples(X)):.3f}  AIC {em.aic(X):.3f}  "
        f"BIC {em.bic(X):.3f}  ICL {em.icl(X):.3f}"
    )


def _plot_fit(out: _Output, X, em=None, bayes=None, names=None) -> str:
    import matplotlib.pyplot as plt

    from . import plotting

    fig, ax = plt.subplots(figsize=(7, 4.5))
    if X.shape[1] == 1:
        plotting.plot_density(X, em=em, bayes=bayes, ax=ax, xlabel=names[0] if names else "x")
        name = "density.png"
    else:
        plotting.plot_clusters(X, bayes if bayes is not None else em, ax=ax, feature_names=names)
        name = "clusters.png"
    _save_figure(fig, out.path(name))
    return name


def _plot_criteria(out: _Output, table) -> None:
    import matplotlib.pyplot as plt

    from . import plotting

    fig, ax = plt.subplots(figsize=(7, 4.5))
    plotting.plot_criteria(table, ax=ax)
    _save_figure(fig, out.path("criteria.png"))


def _posterior_outputs(out: _Output, em, bayes, *, write_netcdf: bool = True) -> Any:
    import matplotlib.pyplot as plt

    from . import plotting
    from .bayes.posterior import compare_em_posterior, plot_trace

    table = compare_em_posterior(em, bayes)
    table.to_csv(out.path("em_vs_posterior.csv"), index=False)
    _save_figure(plot_trace(bayes), out.path("trace.png"))
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(table) + 1.5))
    plotting.plot_em_vs_posterior(table, ax=ax)
    _save_figure(fig, out.path("em_vs_posterior.png"))
    if write_netcdf:
        bayes.idata_.to_netcdf(str(out.path("posterior.nc")))
    return table


def _bayes_summary(bayes, w, lo) -> dict[str, Any]:
    return {
        "posterior_means": {
            "weights": bayes.weights_,
            "means": bayes.means_,
            "covariances": bayes.covariances_,
        },
        "diagnostics": bayes.diagnostics_,
        "waic": {"value": w.value, "se": w.se, "p_waic": w.p, "scale": w.scale, "warning": w.warning},
        "loo": {
            "value": lo.value,
            "se": lo.se,
            "p_loo": lo.p,
            "scale": lo.scale,
            "warning": lo.warning,
            "max_pareto_k": float(np.max(lo.pareto_k)),
        },
        "draws": bayes.draws,
        "tune": bayes.tune,
        "chains": bayes.chains,
    }


# --------------------------------------------------------------------------- commands
def _load(args) -> tuple[np.ndarray, list[str]]:
    columns = None
    if args.columns is not None:
        columns = [c.strip() for c in args.columns.split(",")]
        if not all(columns):
            raise UsageError(f"--columns must be a comma-separated list of names. Got {args.columns!r}.")
    X, names, notes = read_data(
        args.data, columns=columns, skip_non_numeric=args.skip_non_numeric, delimiter=args.delimiter
    )
    for note in notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    print(f"read {X.shape[0]} rows x {X.shape[1]} column(s) {names} from {args.data}")
    return X, names


def _check_ks_fit(ks: list[int], n: int) -> None:
    if max(ks) > n:
        raise UsageError(f"--k {max(ks)} is more components than the {n} data rows.")


def _cmd_em(args) -> dict[str, Any]:
    from .criteria import chosen, select
    from .em import GaussianMixture

    ks = parse_k(args.k)
    cts = _covariance_types(args.covariance_type, ("full", "tied", "diag", "spherical"))
    with _Output(args.out) as out:
        X, names = _load(args)
        _check_ks_fit(ks, X.shape[0])
        summary: dict[str, Any] = {
            "command": "em",
            "data": str(args.data),
            "columns": names,
            "n_samples": X.shape[0],
            "n_features": X.shape[1],
        }
        if len(ks) == 1 and len(cts) == 1:
            em = GaussianMixture(
                ks[0],
                covariance_type=cts[0],
                tol=args.tol,
                max_iter=args.max_iter,
                n_init=args.n_init,
                random_state=args.seed,
                accelerate=True,
            ).fit(X)
        else:
            em, table = select(
                X,
                ks,
                cts,
                criterion=args.criterion,
                n_init=args.n_init,
                tol=args.tol,
                max_iter=args.max_iter,
                random_state=args.seed,
            )
            print(table.drop(columns=["error"]).to_string(index=False))
            table.to_csv(out.path("comparison.csv"), index=False)
            summary["comparison"] = _records(table)
            summary["chosen"] = chosen(table)
            print("chosen:", ", ".join(f"{c.upper()} K={k}" for c, k in summary["chosen"].items()))
            if len(ks) > 1:
                _plot_criteria(out, table)
        _print_em(em, X, "EM" if len(ks) == 1 and len(cts) == 1 else f"best by {args.criterion.upper()}")
        summary["model"] = _em_summary(em, X)
        _plot_fit(out, X, em=em, names=names)
        _write_json(out.path("summary.json"), summary)
        return {"files": out.commit(), "out": out.target}


def _fit_em_for_bayes(X, k, ct, args):
    from .em import GaussianMixture

    from .em import converged_em

    return converged_em(X, k, ct, n_init=args.n_init, random_state=args.seed)


def _cmd_mcmc(args) -> dict[str, Any]:
    from .bayes.compare import loo, waic
    from .bayes.sampling import BayesianGaussianMixture

    ks = parse_k(args.k)
    if len(ks) != 1:
        raise UsageError(f"mcmc fits one K: give --k a single number (use 'compare' for {args.k}).")
    ct = _one_bayes_covariance_type(args.covariance_type)
    with _Output(args.out) as out:
        X, names = _load(args)
        _check_ks_fit(ks, X.shape[0])
        em = _fit_em_for_bayes(X, ks[0], ct, args)
        _print_em(em, X, "EM (converged, the chains' start)")
        bayes = BayesianGaussianMixture(
            ks[0],
            covariance_type=ct,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            random_state=args.seed,
            progressbar=not args.quiet,
        ).fit(X, em=em)
        w, lo = waic(bayes), loo(bayes)
        table = _posterior_outputs(out, em, bayes)
        _print_posterior(bayes, table, w, lo)
        _plot_fit(out, X, em=em, bayes=bayes, names=names)
        summary = {
            "command": "mcmc",
            "data": str(args.data),
            "columns": names,
            "n_samples": X.shape[0],
            "n_features": X.shape[1],
            "em": _em_summary(em, X),
            "posterior": _bayes_summary(bayes, w, lo),
            "em_vs_posterior": _records(table),
        }
        _write_json(out.path("summary.json"), summary)
        return {"files": out.commit(), "out": out.target}


def _print_posterior(bayes, table, w, lo) -> None:
    import pandas as pd

    dg = bayes.diagnostics_
    print(
        f"posterior: {bayes.chains} chain(s) x {bayes.draws} draws; max R-hat {dg['max_rhat']:.4f}, "
        f"min bulk ESS {dg['min_ess_bulk']:.0f}, min tail ESS {dg['min_ess_tail']:.0f}, "
        f"{dg['divergences']} divergence(s)"
    )
    with pd.option_context("display.width", 120, "display.max_columns", 20, "display.precision", 6):
        print(table.to_string(index=False))
    print(
        f"WAIC {w.value:.2f} +/- {w.se:.2f} (p_waic {w.p:.2f});  "
        f"PSIS-LOO {lo.value:.2f} +/- {lo.se:.2f} (p_loo {lo.p:.2f});  deviance scale, lower is better"
    )


def _majority_k(picks: dict[str, int]) -> int:
    votes: dict[int, int] = {}
    for k in picks.values():
        votes[k] = votes.get(k, 0) + 1
    return min(votes, key=lambda k: (-votes[k], k))


def _cmd_compare(args) -> dict[str, Any]:
    import pandas as pd

    from .bayes.compare import compare_models
    from .criteria import chosen

    ks = parse_k(args.k)
    ct = _one_bayes_covariance_type(args.covariance_type)
    with _Output(args.out) as out:
        X, names = _load(args)
        _check_ks_fit(ks, X.shape[0])
        table, models = compare_models(
            X,
            ks,
            covariance_type=ct,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            n_init=args.n_init,
            random_state=args.seed,
            progress=not args.quiet,
            return_models=True,
        )
        picks = chosen(table)
        close = chosen(table, within_se=2.0)
        cols = [
            "k",
            "loglik",
            "n_params",
            "aic",
            "bic",
            "icl",
            "waic",
            "waic_se",
            "waic_diff",
            "waic_diff_se",
            "loo",
            "loo_se",
            "max_rhat",
            "divergences",
            "chosen_by",
        ]
        with pd.option_context("display.width", 160, "display.max_columns", 30, "display.precision", 2):
            print(table[cols].to_string(index=False))
        print("chosen (lowest value):", ", ".join(f"{c.upper()} K={k}" for c, k in picks.items()))
        print(
            "chosen (WAIC/LOO: smallest K within 2 paired standard errors of the best): "
            f"WAIC K={close['waic']}, LOO K={close['loo']}"
        )
        table.to_csv(out.path("comparison.csv"), index=False)
        _plot_criteria(out, table)
        k_plot = _majority_k(close)
        em, bayes = models[(k_plot, ct)]
        fit_plot = _plot_fit(out, X, em=em, bayes=bayes, names=names)
        summary = {
            "command": "compare",
            "data": str(args.data),
            "columns": names,
            "n_samples": X.shape[0],
            "n_features": X.shape[1],
            "covariance_type": ct,
            "chosen": picks,
            "chosen_within_2se": close,
            "plotted_k": k_plot,
            "plotted_k_rule": f"the K most criteria choose ({fit_plot})",
            "scale": "deviance (lower is better)",
            "comparison": _records(table),
        }
        _write_json(out.path("summary.json"), summary)
        return {"files": out.commit(), "out": out.target}


def _cmd_demo(args) -> dict[str, Any]:
    import pandas as pd

    from .bayes.compare import compare_models, loo, waic
    from .bayes.sampling import BayesianGaussianMixture
    from .criteria import chosen
    from .datasets import load_heights
    from .em import GaussianMixture

    ks = parse_k(args.k) if args.k != "none" else []
    with _Output(args.out) as out:
        X, y = load_heights()
        print(f"height data: {X.shape[0]} people (the article's recipe; men labelled 1)")

        def accuracy(em) -> float:
            men = int(np.argmax(em.means_[:, 0]))
            return float(np.mean((em.predict(X) == men) == (y == 1)))

        t0 = time.perf_counter()
        article = GaussianMixture(2, random_state=0, tol=1e-3, accelerate=False).fit(X)
        print("\n1. EM as the article ran it (plain EM, tol=1e-3, k-means start):")
        _print_em(article, X, "   article-style EM")
        print(
            f"   accuracy {accuracy(article):.6f}.  NOTE: an unconverged stop after {article.n_iter_} "
            "passes, not the maximum-likelihood estimate (the article's exact digits need scikit-learn's "
            "k-means start: see notebooks/heights.ipynb)."
        )
        em = GaussianMixture(2, tol=DEMO_TOL, max_iter=10000, random_state=0).fit(X)
        print(
            f"\n2. EM to convergence (tol={DEMO_TOL:g}; the groups overlap, so EM creeps: at tol=1e-8 the "
            "weights are still ~1e-3 from the fixed point):"
        )
        _print_em(em, X, "   converged EM")
        print(f"   accuracy {accuracy(em):.6f}   ({time.perf_counter() - t0:.1f} s for both EM fits)")

        n_sub = X.shape[0] if args.subset == 0 else min(args.subset, X.shape[0])
        rng = np.random.default_rng(args.seed)
        idx = (
            np.sort(rng.choice(X.shape[0], n_sub, replace=False)) if n_sub < X.shape[0] else np.arange(n_sub)
        )
        Xb = X[idx]
        what = (
            "all rows"
            if n_sub == X.shape[0]
            else f"a random subset of {n_sub} rows (numpy default_rng({args.seed}))"
        )
        print(
            f"\n3. The posterior by NUTS on {what}; {args.chains} chain(s) x ({args.tune} tune + {args.draws} draws):"
        )
        em_b = (
            em
            if n_sub == X.shape[0]
            else GaussianMixture(2, tol=DEMO_TOL, max_iter=10000, random_state=0).fit(Xb)
        )
        t0 = time.perf_counter()
        bayes = BayesianGaussianMixture(
            2,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            random_state=args.seed,
            progressbar=not args.quiet,
            store_log_likelihood=n_sub <= 20000,
        ).fit(Xb, em=em_b)
        print(f"   sampled in {time.perf_counter() - t0:.1f} s")
        w = lo = None
        if n_sub <= 20000:
            w, lo = waic(bayes), loo(bayes)
        table = _posterior_outputs(out, em_b, bayes, write_netcdf=False)
        dg = bayes.diagnostics_
        print(
            f"   diagnostics: max R-hat {dg['max_rhat']:.4f}, min bulk ESS {dg['min_ess_bulk']:.0f}, "
            f"min tail ESS {dg['min_ess_tail']:.0f}, {dg['divergences']} divergence(s)"
        )
        print("   converged EM (same rows) vs posterior:")
        with pd.option_context("display.width", 120, "display.max_columns", 20, "display.precision", 6):
            print(table.to_string(index=False))
            article_table = _article_rows(article, bayes)
            print("   the article-style EM vs the same posterior:")
            print(article_table.to_string(index=False))
        _plot_fit(out, Xb, em=em_b, bayes=bayes, names=["height (m)"])
        summary: dict[str, Any] = {
            "command": "demo",
            "article_em": {**_em_summary(article, X), "accuracy": accuracy(article)},
            "converged_em": {**_em_summary(em, X), "accuracy": accuracy(em)},
            "subset": {
                "n": n_sub,
                "rng": f"numpy.random.default_rng({args.seed}).choice(..., replace=False)",
            },
            "posterior": {
                "posterior_means": {
                    "weights": bayes.weights_,
                    "means": bayes.means_,
                    "covariances": bayes.covariances_,
                },
                "diagnostics": dg,
                "draws": args.draws,
                "tune": args.tune,
                "chains": args.chains,
            },
            "em_vs_posterior": _records(table),
            "article_em_vs_posterior": _records(article_table),
        }
        if w is not None:
            summary["posterior"]["waic"] = {"value": w.value, "se": w.se, "p_waic": w.p}
            summary["posterior"]["loo"] = {"value": lo.value, "se": lo.se, "p_loo": lo.p}
        if ks:
            n_k = min(args.compare_subset, X.shape[0])
            Xk = X[np.random.default_rng(args.seed).choice(X.shape[0], n_k, replace=False)]
            print(
                f"\n4. How many components? K in {ks} on a random subset of {n_k} rows (numpy "
                f"default_rng({args.seed})); {args.chains} chain(s) x ({args.tune} tune + "
                f"{args.compare_draws} draws) per K; deviance scale, lower is better:"
            )
            crit = compare_models(
                Xk,
                ks,
                draws=args.compare_draws,
                tune=args.tune,
                chains=args.chains,
                random_state=args.seed,
                progress=not args.quiet,
            )
            cols = ["k", "aic", "bic", "icl", "waic", "waic_se", "loo", "loo_se", "chosen_by"]
            with pd.option_context("display.width", 160, "display.precision", 2):
                print(crit[cols].to_string(index=False))
            picks = chosen(crit)
            print("   chosen:", ", ".join(f"{c.upper()} K={k}" for c, k in picks.items()))
            crit.to_csv(out.path("comparison.csv"), index=False)
            _plot_criteria(out, crit)
            summary["comparison"] = _records(crit)
            summary["chosen"] = picks
        _write_json(out.path("summary.json"), summary)
        return {"files": out.commit(), "out": out.target}


def _article_rows(article, bayes):
    from .bayes.posterior import compare_em_posterior

    return compare_em_posterior(article, bayes)[
        ["parameter", "em", "posterior_mean", "posterior_sd", "em_in_hdi", "z"]
    ]


# --------------------------------------------------------------------------- parser and main
def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="a CSV file with a header row, or a .npy file")
    p.add_argument(
        "--columns", metavar="A,B", help="comma-separated columns to use (0-based numbers for .npy)"
    )
    p.add_argument(
        "--skip-non-numeric",
        action="store_true",
        help="skip non-numeric columns (e.g. row names) with a notice instead of refusing",
    )
    p.add_argument("--delimiter", default=None, help="CSV field delimiter (default ',' or tab for .tsv)")


def _add_sampling_args(p: argparse.ArgumentParser, *, draws: int, tune: int) -> None:
    p.add_argument(
        "--draws", type=_positive_int("--draws"), default=draws, help=f"draws per chain (default {draws})"
    )
    p.add_argument(
        "--tune", type=_positive_int("--tune", 0), default=tune, help=f"tuning steps (default {tune})"
    )
    p.add_argument("--chains", type=_positive_int("--chains"), default=2, help="chains (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Gaussian mixtures by exact EM and by MCMC, side by side.")
    sub = parser.add_subparsers(dest="command", metavar="{em,mcmc,compare,demo}", parser_class=_Parser)
    sub.required = True

    em = sub.add_parser("em", help="fit EM (a range of K: choose by AIC/BIC/ICL)")
    _add_data_args(em)
    em.add_argument("--k", default="1..4", help="K, a range like 1..4, or a list (default 1..4)")
    em.add_argument(
        "--covariance-type",
        default="full",
        help="full, tied, diag, spherical, a comma-separated list, or 'all' (default full)",
    )
    em.add_argument(
        "--criterion", choices=("bic", "aic", "icl"), default="bic", help="picks the model (default bic)"
    )
    em.add_argument("--tol", type=_positive_float, default=1e-8, help="EM tolerance (default 1e-8)")
    em.add_argument("--max-iter", type=_positive_int("--max-iter"), default=10000)
    em.add_argument("--n-init", type=_positive_int("--n-init"), default=3, help="EM starts (default 3)")
    em.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    em.add_argument("--out", default="bayesgmm-em", help="output folder (default bayesgmm-em)")
    em.add_argument("--quiet", action="store_true", help="accepted for symmetry (EM prints no progress)")

    mc = sub.add_parser("mcmc", help="sample the posterior of one K (NUTS, started at converged EM)")
    _add_data_args(mc)
    mc.add_argument("--k", required=True, help="the number of components")
    mc.add_argument("--covariance-type", default="full", help="full or diag (default full)")
    _add_sampling_args(mc, draws=1000, tune=1000)
    mc.add_argument("--n-init", type=_positive_int("--n-init"), default=3, help="EM starts (default 3)")
    mc.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    mc.add_argument("--out", default="bayesgmm-mcmc", help="output folder (default bayesgmm-mcmc)")

    cp = sub.add_parser("compare", help="AIC, BIC, ICL (EM) and WAIC, LOO (posterior) over a range of K")
    _add_data_args(cp)
    cp.add_argument("--k", default="1..4", help="a range like 1..4 or a list (default 1..4)")
    cp.add_argument("--covariance-type", default="full", help="full or diag (default full)")
    _add_sampling_args(cp, draws=1000, tune=1000)
    cp.add_argument("--n-init", type=_positive_int("--n-init"), default=3, help="EM starts (default 3)")
    cp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    cp.add_argument("--out", default="bayesgmm-compare", help="output folder (default bayesgmm-compare)")

    dm = sub.add_parser(
        "demo", help="the height experiment: article EM, converged EM, posterior, choice of K"
    )
    dm.add_argument(
        "--subset",
        type=_positive_int("--subset", 0),
        default=2000,
        help="rows for the posterior, drawn at random with --seed (default 2000; 0 = all 200 000)",
    )
    _add_sampling_args(dm, draws=1000, tune=300)
    dm.add_argument(
        "--k", default="1..4", help="K range for the comparison of criteria, or 'none' (default 1..4)"
    )
    dm.add_argument(
        "--compare-subset",
        type=_positive_int("--compare-subset"),
        default=2000,
        help="rows for the comparison of criteria (default 2000)",
    )
    dm.add_argument(
        "--compare-draws",
        type=_positive_int("--compare-draws"),
        default=500,
        help="draws per chain for each K of the comparison (default 500)",
    )
    dm.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    dm.add_argument("--out", default="bayesgmm-demo", help="output folder (default bayesgmm-demo)")
    return parser


_COMMANDS = {"em": _cmd_em, "mcmc": _cmd_mcmc, "compare": _cmd_compare, "demo": _cmd_demo}


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    debug = os.environ.get("BAYESGMM_DEBUG") == "1"
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "demo" and args.k != "none":
            parse_k(args.k)
        import matplotlib

        matplotlib.use("Agg")  # files only, never a window
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
                warnings.simplefilter("ignore", category)
            warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
            warnings.showwarning = _show_warning
            result = _COMMANDS[args.command](args)
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
