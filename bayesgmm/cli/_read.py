"""Reading the data: a CSV file with a header row, or a ``.npy`` file (memory-mapped).

The CSV file is split into cells by the standard library's :mod:`csv` reader and the
selected columns are converted by numpy in one call; only when that fails (or gives a
non-finite number) are the cells looked at one by one, to name the first bad ones by
line and column.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._args import UsageError

__all__ = ["read_data"]


def read_data(
    path: str | os.PathLike,
    *,
    columns: Sequence[str] | None = None,
    skip_non_numeric: bool = False,
    delimiter: str | None = None,
) -> tuple[np.ndarray, list[str], list[str]]:
    """Read a CSV (header row) or ``.npy`` file into ``(X, column names, notes)``.

    Parameters
    ----------
    path : str or path-like
        ``.npy`` files are memory-mapped; ``columns`` then takes 0-based column numbers.
        Any other file is read as CSV (tab-separated for ``.tsv`` and ``.tab``).
    columns : sequence of str, optional
        The columns to use, by header name (CSV) or number (``.npy``).
    skip_non_numeric : bool, default=False
        Leave out columns that are mostly not numbers (such as row names), with a note,
        instead of refusing the file.
    delimiter : str, optional
        The CSV field delimiter.

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


# --------------------------------------------------------------------------- CSV
def _cells(path: Path, delimiter: str) -> tuple[list[str], np.ndarray, list[int]]:
    """The header, the cells as an array of stripped strings, and each row's line number."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter, strict=True)
            header = next(reader, None)
            if header is None:
                raise UsageError(f"{path} is empty: expected a CSV file with a header row.")
            rows, lines = [], []
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # a blank line
                if len(row) != len(header):
                    raise UsageError(
                        f"{path} is malformed: line {reader.line_num} has {len(row)} field(s), "
                        f"the header has {len(header)}."
                    )
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a UTF-8 text (CSV) file.") from None
    except csv.Error as exc:
        raise UsageError(f"{path} is malformed (CSV): {exc}.") from None
    if not rows:
        raise UsageError(f"{path} has a header but no data rows.")
    names = [h.strip() or f"column {i + 1}" for i, h in enumerate(header)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"{path}: the header repeats the column name(s) {dupes}.")
    return names, np.char.strip(np.array(rows, dtype=str)), lines


def _to_float(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _as_float(cells: np.ndarray) -> np.ndarray | None:
    """All cells as numbers in one call, or None when one of them is not a number."""
    try:
        return cells.astype(np.float64)
    except ValueError:
        return None


def _is_text(column: np.ndarray) -> bool:
    """Mostly not numbers (such as row names): more than half of the filled cells."""
    filled = [c for c in column.tolist() if c]
    return bool(filled) and sum(_to_float(c) is None for c in filled) > len(filled) / 2


def _bad_cells(path: Path, cells: np.ndarray, names: list[str], lines: list[int]) -> str:
    """The message naming the missing, non-numeric and non-finite cells, row by row."""
    problems: list[str] = []
    for i, row in enumerate(cells.tolist()):
        for name, cell in zip(names, row, strict=True):
            value = _to_float(cell)
            if not cell:
                problems.append(f"missing value in column {name!r} on line {lines[i]}")
            elif value is None or not np.isfinite(value):
                what = "non-numeric" if value is None else "non-finite"
                problems.append(f"{what} value {cell!r} in column {name!r} on line {lines[i]}")
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return f"{path}: " + "; ".join(problems[:3]) + more + ". Fix or remove those rows."


def _read_csv(path: Path, columns: list[str] | None, skip_non_numeric: bool, delimiter: str):
    names, cells, lines = _cells(path, delimiter)
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

    notes: list[str] = []
    X = _as_float(cells[:, wanted])
    text = [] if X is not None else [j for j in wanted if _is_text(cells[:, j])]
    if text:
        described = ", ".join(
            f"{names[j]!r} (e.g. {next(c for c in cells[:, j].tolist() if c)!r} on line {lines[0]})"
            for j in text
        )
        if columns is not None:
            raise UsageError(f"{path}: the selected column(s) {described} are not numeric.")
        if not skip_non_numeric:
            raise UsageError(
                f"{path}: column(s) {described} are not numeric. Select the numeric columns with "
                "--columns, or pass --skip-non-numeric to skip the others."
            )
        notes.append(f"skipping non-numeric column(s) {', '.join(repr(names[j]) for j in text)}")
        wanted = [j for j in wanted if j not in text]
        if not wanted:
            raise UsageError(f"{path} has no numeric column.")
        X = _as_float(cells[:, wanted])
    if X is None or not np.isfinite(X).all():
        raise UsageError(_bad_cells(path, cells[:, wanted], [names[j] for j in wanted], lines))
    return np.ascontiguousarray(X), [names[j] for j in wanted], notes


# --------------------------------------------------------------------------- .npy
def _read_npy(path: Path, columns: list[str] | None):
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise UsageError(f"{path} is not a readable numeric .npy file: {exc}") from None
    except (OSError, EOFError) as exc:
        raise UsageError(f"{path} is not a readable .npy file: {exc}") from None
    # the checks of _validation.check_X, but naming the file and, below, locating the first NaN
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
    if arr.dtype == np.float64 and arr.flags.c_contiguous:
        return arr, names, []
    return np.ascontiguousarray(arr, dtype=np.float64), names, []
