"""Writing results: an output folder filled all or nothing, JSON and CSV writers.

The files are first written to a temporary folder beside the target and moved into place
only when everything succeeded, so a failed run leaves no half-written output (and an
existing folder keeps its old files).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ._args import UsageError

__all__ = ["OutputFolder", "records", "write_json", "write_table"]


class OutputFolder:
    """Write into a temporary folder beside ``target``; move the files into place on :meth:`commit`.

    Used as a context manager: leaving it by an exception removes the temporary folder and
    any parent folders it created, and leaves ``target`` as it was.
    """

    def __init__(self, target: str | os.PathLike) -> None:
        self.target = Path(target)
        self.tmp: Path | None = None
        self.created: list[Path] = []

    def __enter__(self) -> OutputFolder:
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
        """Where to write the file ``name`` (inside the temporary folder)."""
        assert self.tmp is not None, "path() is only valid inside the with-block"
        return self.tmp / name

    def commit(self) -> list[str]:
        """Move every file into ``target``; returns their names, sorted."""
        assert self.tmp is not None, "commit() is only valid inside the with-block"
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


def _is_missing(obj: Any) -> bool:
    pd = sys.modules.get("pandas")  # a pandas missing value exists only once pandas is imported
    try:
        return pd is not None and bool(pd.isna(obj))
    except (TypeError, ValueError):
        return False


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy arrays and scalars as plain Python; NaN, infinity and NA as None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if obj is None or isinstance(obj, str):
        return obj
    return None if _is_missing(obj) else str(obj)


def records(table: Any) -> list[dict[str, Any]]:
    """The rows of a table (a pandas DataFrame or a sequence of dicts) as JSON-ready dicts."""
    rows = table.to_dict(orient="records") if hasattr(table, "to_dict") else list(table)
    return [jsonable(r) for r in rows]


def write_json(path: Path, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(jsonable(obj), fh, indent=2, allow_nan=False)
        fh.write("\n")


def _cell(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)) or _is_missing(value):
        return ""
    return value


def write_table(path: Path, table: Any) -> None:
    """Write every column of a table (a pandas DataFrame or a sequence of dicts) as CSV with a
    header row, as pandas' ``to_csv(index=False)`` does: missing values as empty cells."""
    rows = table.to_dict(orient="records") if hasattr(table, "to_dict") else list(table)
    columns = list(table.columns) if hasattr(table, "columns") else list(rows[0])
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([str(c) for c in columns])
        for row in rows:
            writer.writerow([_cell(row[c]) for c in columns])
