"""The bayesgmm command line: outputs, messages and exit codes (in-process and as a subprocess)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import multivariate_normal, norm

pd = pytest.importorskip("pandas")

from sklearn.mixture import GaussianMixture as SkGaussianMixture  # noqa: E402

from bayesgmm import make_mixture  # noqa: E402
from bayesgmm.cli import main, parse_k  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _blobs(n=200, seed=0):
    X, _ = make_mixture(n, [0.5, 0.5], [[-3.0, 0.0], [3.0, 1.0]], [np.eye(2)] * 2, random_state=seed)
    return X


def _write_csv(path: Path, X: np.ndarray, *, names=("a", "b"), row_names=True) -> Path:
    header = (["name"] if row_names else []) + list(names)
    lines = [",".join(header)]
    for i, row in enumerate(X):
        cells = ([f"p{i}"] if row_names else []) + [repr(float(v)) for v in row]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".tmp-" in p.name]


def _is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == PNG


@pytest.fixture
def csv_file(tmp_path):
    return _write_csv(tmp_path / "data.csv", _blobs())


def _sklearn_bic_standardised(X, ks):
    """scikit-learn's BIC per K on the standardised data (where the CLI's relative reg_covar is
    scikit-learn's absolute one), moved to the data's units by the Jacobian of the map."""
    Z, log_scale = (X - X.mean(0)) / X.std(0), np.log(X.std(0)).sum()
    return [SkGaussianMixture(k, tol=1e-12, max_iter=10000, n_init=3, random_state=0).fit(Z).bic(Z)
            + 2 * len(X) * log_scale for k in ks]  # fmt: skip


# ----------------------------------------------------------------------------- em
def test_em_range_writes_table_json_and_plots(tmp_path, csv_file, capsys):
    out = tmp_path / "fit"
    rc, stdout, err = _run(capsys, "em", csv_file, "--columns", "a,b", "--k", "1..2", "--out", out)
    assert rc == 0, err
    assert sorted(os.listdir(out)) == ["clusters.png", "comparison.csv", "criteria.png", "summary.json"]
    assert _is_png(out / "clusters.png") and _is_png(out / "criteria.png")
    table = pd.read_csv(out / "comparison.csv")
    X = _blobs()
    sk_bic = _sklearn_bic_standardised(X, (1, 2))
    assert_allclose(table["bic"], sk_bic, rtol=1e-8)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["chosen"] == {"aic": 2, "bic": 2, "icl": 2}
    assert summary["model"]["n_components"] == 2
    assert_allclose(summary["model"]["bic"], sk_bic[1], rtol=1e-8)
    assert summary["columns"] == ["a", "b"] and summary["n_samples"] == 200
    assert "read 200 rows x 2 column(s)" in stdout and "chosen: AIC" in stdout
    assert f"wrote clusters.png, comparison.csv, criteria.png, summary.json to {out}/" in stdout
    assert _leftovers(tmp_path) == []


def test_em_one_k_is_that_k_of_a_range(tmp_path, capsys):
    """``em --k 3`` gives the K = 3 fit of ``em --k 1..3`` (the splits of K = 2 and K = 1 are
    made either way); on this set it was 25 nats worse without them (-1924.45)."""
    from hard_optima import heavy_tailed_groups

    data = _write_csv(tmp_path / "t.csv", heavy_tailed_groups(), row_names=False)
    assert _run(capsys, "em", data, "--k", "3", "--out", tmp_path / "one")[0] == 0
    assert _run(capsys, "em", data, "--k", "1..3", "--out", tmp_path / "range")[0] == 0
    one = json.loads((tmp_path / "one" / "summary.json").read_text())["model"]
    k3 = pd.read_csv(tmp_path / "range" / "comparison.csv").set_index("k").loc[3]
    assert_allclose(one["loglik"], k3["loglik"], rtol=1e-12)
    assert one["loglik"] > -1924.45 + 20


def test_em_on_two_jobs_writes_the_same_files(tmp_path, csv_file, capsys):
    for jobs in ("1", "2"):
        argv = ("em", csv_file, "--columns", "a,b", "--k", "1..3", "--covariance-type", "full,diag")
        rc, _, err = _run(capsys, *argv, "--jobs", jobs, "--out", tmp_path / jobs)
        assert rc == 0, err
    for name in ("comparison.csv", "summary.json"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name
    rc, _, err = _run(capsys, "em", csv_file, "--jobs", "0")
    assert rc == 2 and "--jobs must be a non-zero integer" in err


def test_em_single_k_on_memory_mapped_npy(tmp_path, capsys, rng):
    x = np.concatenate([rng.normal(-2, 0.5, 100), rng.normal(2, 0.7, 100)])
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "one"
    rc, stdout, err = _run(capsys, "em", tmp_path / "x.npy", "--k", "2", "--out", out, "--seed", 3)
    assert rc == 0, err
    assert sorted(os.listdir(out)) == ["density.png", "summary.json"]
    # scikit-learn to its fixed point, with the CLI's reg_covar: 1e-6 in standardised units
    sk = SkGaussianMixture(2, tol=1e-13, max_iter=10000, reg_covar=1e-6 * x.var(), random_state=0)
    sk.fit(x[:, None])
    model = json.loads((out / "summary.json").read_text())["model"]
    order = np.argsort(np.ravel(model["means"]))
    sk_order = np.argsort(sk.means_.ravel())
    assert_allclose(np.ravel(model["means"])[order], sk.means_.ravel()[sk_order], rtol=1e-7)
    assert_allclose(np.ravel(model["covariances"])[order], sk.covariances_.ravel()[sk_order], rtol=1e-6)
    assert_allclose(np.asarray(model["weights"])[order], sk.weights_[sk_order], rtol=1e-6)
    assert_allclose(model["loglik"], sk.score(x[:, None]) * 200, rtol=1e-10)
    assert model["converged"] is True


def test_non_numeric_column_is_refused_skipped_or_deselected(tmp_path, csv_file, capsys):
    rc, _, err = _run(capsys, "em", csv_file, "--k", "2", "--out", tmp_path / "o1")
    assert rc == 2
    assert "column(s) 'name' (e.g. 'p0' on line 2) are not numeric" in err
    assert "--columns" in err and "--skip-non-numeric" in err
    assert not (tmp_path / "o1").exists()
    rc, stdout, err = _run(capsys, "em", csv_file, "--k", "2", "--skip-non-numeric", "--out", tmp_path / "o2")
    assert rc == 0
    assert "bayesgmm: note: skipping non-numeric column(s) 'name'" in err
    assert "['a', 'b']" in stdout
    rc, _, err = _run(capsys, "em", csv_file, "--k", "2", "--columns", "name,a", "--out", tmp_path / "o3")
    assert rc == 2 and "the selected column(s) 'name'" in err and "are not numeric" in err


def test_rerun_replaces_files_in_an_existing_folder(tmp_path, csv_file, capsys):
    out = tmp_path / "fit"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    (out / "summary.json").write_text("old")
    rc, _, _ = _run(capsys, "em", csv_file, "--columns", "a,b", "--k", "2", "--out", out)
    assert rc == 0
    assert (out / "keep.txt").read_text() == "mine"
    assert json.loads((out / "summary.json").read_text())["command"] == "em"
    assert _leftovers(tmp_path) == []


def test_a_failure_midway_leaves_no_output(tmp_path, csv_file, capsys, monkeypatch):
    import bayesgmm.plotting

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bayesgmm.plotting, "plot_clusters", broken)  # after comparison.csv is written
    out = tmp_path / "fit"
    rc, _, err = _run(capsys, "em", csv_file, "--columns", "a,b", "--k", "1..2", "--out", out)
    assert rc == 1
    assert "bayesgmm: error: RuntimeError: disk on fire" in err and "no output written" in err
    assert "Traceback" not in err
    assert not out.exists() and _leftovers(tmp_path) == []
    # an existing folder keeps its old files untouched
    out.mkdir()
    (out / "summary.json").write_text("old")
    rc, _, _ = _run(capsys, "em", csv_file, "--columns", "a,b", "--k", "1..2", "--out", out)
    assert rc == 1
    assert os.listdir(out) == ["summary.json"] and (out / "summary.json").read_text() == "old"


def test_missing_parent_folders_are_created_and_removed_on_failure(tmp_path, csv_file, capsys):
    out = tmp_path / "a" / "b" / "fit"
    rc, _, _ = _run(capsys, "em", tmp_path / "nope.csv", "--out", out)
    assert rc == 2 and not (tmp_path / "a").exists()
    rc, _, _ = _run(capsys, "em", csv_file, "--columns", "a,b", "--k", "2", "--out", out)
    assert rc == 0 and (out / "summary.json").exists()


def test_em_is_affine_equivariant(tmp_path, capsys, monkeypatch):
    """EM on a * X + b gives the labels of X and its parameters mapped through the map."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # the numbers only: no plots
    X = _blobs(300, seed=4)
    b = np.array([10.0, -5.0])

    def fit(name, data):
        np.save(tmp_path / f"{name}.npy", data)
        rc, _, err = _run(capsys, "em", tmp_path / f"{name}.npy", "--k", "2", "--out", tmp_path / name)
        assert rc == 0, err
        model = json.loads((tmp_path / name / "summary.json").read_text())["model"]
        order = np.argsort(np.asarray(model["means"])[:, 0])  # components sorted by their first mean
        logp = [np.log(w) + multivariate_normal(m, c).logpdf(data) for w, m, c in
                zip(model["weights"], model["means"], model["covariances"], strict=True)]  # fmt: skip
        labels = np.argsort(order)[np.argmax(logp, axis=0)]  # MAP component by scipy's densities
        weights, means, covs = (np.asarray(model[key])[order] for key in ("weights", "means", "covariances"))
        return weights, means, covs, labels

    w, mu, cov, labels = fit("ref", X)
    for a in [1e-8, 1e-4, 1.0, 1e4, 1e8]:
        w_a, mu_a, cov_a, labels_a = fit(f"a{a:g}", a * X + b)
        assert_allclose((mu_a - b) / a, mu, rtol=1e-6, err_msg=f"a={a}")
        assert_allclose(cov_a / a**2, cov, rtol=1e-6, err_msg=f"a={a}")
        assert_allclose(w_a, w, rtol=1e-6, err_msg=f"a={a}")
        assert np.array_equal(labels_a, labels), f"a={a}"


def test_em_over_a_range_of_k_is_affine_equivariant(tmp_path, capsys, monkeypatch):
    """The table of a * X + b is that of X with every log-likelihood shifted by -n d log a
    (the Jacobian), so the criteria choose the same model, whose parameters map through."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    X, a, b = _blobs(), 1e-8, np.array([10.0, -5.0])
    out = {}
    for name, data in [("ref", X), ("mapped", a * X + b)]:
        np.save(tmp_path / f"{name}.npy", data)
        rc, _, err = _run(capsys, "em", tmp_path / f"{name}.npy", "--k", "1..2", "--out", tmp_path / name)
        assert rc == 0, err
        out[name] = json.loads((tmp_path / name / "summary.json").read_text())
    shift = -X.size * np.log(a)
    ref, mapped = (pd.DataFrame(out[name]["comparison"]) for name in ("ref", "mapped"))
    assert_allclose(mapped["loglik"], ref["loglik"] + shift, rtol=1e-9)
    assert_allclose(mapped["bic"], ref["bic"] - 2 * shift, rtol=1e-9)
    assert out["mapped"]["chosen"] == out["ref"]["chosen"]
    assert_allclose(
        (np.asarray(out["mapped"]["model"]["means"]) - b) / a, out["ref"]["model"]["means"], rtol=1e-6
    )


def _monkeypatch_minimal(monkeypatch):
    """In-process stand-in for an install without matplotlib, PyMC and ArviZ."""
    for name in ("matplotlib", "matplotlib.pyplot", "pymc", "arviz"):
        monkeypatch.setitem(sys.modules, name, None)


def test_compare_without_pymc_reports_em_criteria(tmp_path, csv_file, capsys, monkeypatch):
    _monkeypatch_minimal(monkeypatch)
    out = tmp_path / "cmp"
    rc, stdout, err = _run(capsys, "compare", csv_file, "--columns", "a,b", "--k", "1..2", "--out", out)
    assert rc == 0, err
    assert "WAIC and LOO skipped: PyMC and ArviZ are not installed" in err
    assert 'pip install "bayesgmm[bayes]"' in err
    assert "plots skipped (criteria.png, clusters.png): matplotlib is not installed" in err
    assert sorted(os.listdir(out)) == ["comparison.csv", "summary.json"]
    table = pd.read_csv(out / "comparison.csv")
    assert_allclose(table["bic"], _sklearn_bic_standardised(_blobs(), (1, 2)), rtol=1e-8)
    assert "chosen: AIC K=2, BIC K=2, ICL K=2" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["chosen"]["bic"] == 2 and summary["plotted_k"] == 2
    assert summary["plots_skipped"]["files"] == ["criteria.png", "clusters.png"]
    rc, _, err = _run(capsys, "mcmc", csv_file, "--columns", "a,b", "--k", "2", "--out", tmp_path / "m")
    assert rc == 2 and "mcmc needs PyMC and ArviZ, which are not installed" in err
    assert not (tmp_path / "m").exists()


MINIMAL = """
import importlib.abc, json, sys
blocked = {"matplotlib", "pymc", "arviz", "pytensor", "pandas"}


class Blocker(importlib.abc.MetaPathFinder):  # as on the minimal install: not there at all
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"No module named {name!r}")


sys.meta_path.insert(0, Blocker())
from bayesgmm.cli import main
rcs = []
for i, argv in enumerate(json.loads(sys.argv[1])):
    if i == 1:
        blocked.discard("pandas")  # a range of K tabulates with pandas
    rcs.append(main(argv))
print("exit statuses", rcs)
sys.exit(max(rcs))
"""


def test_em_on_the_minimal_install(tmp_path, csv_file):
    """A real process in which matplotlib, PyMC, ArviZ (and, for one K, pandas) cannot be imported."""
    script = tmp_path / "minimal.py"
    script.write_text(MINIMAL)
    one, grid = tmp_path / "one", tmp_path / "grid"
    runs = [["em", str(csv_file), "--skip-non-numeric", "--k", "2", "--out", str(one)],
            ["em", str(csv_file), "--skip-non-numeric", "--k", "1..2", "--out", str(grid)]]  # fmt: skip
    proc = subprocess.run([sys.executable, str(script), json.dumps(runs)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "exit statuses [0, 0]" in proc.stdout
    assert sorted(os.listdir(one)) == ["summary.json"]
    assert sorted(os.listdir(grid)) == ["comparison.csv", "summary.json"]
    assert "bayesgmm: note: plots skipped (clusters.png): matplotlib is not installed; " \
           'pip install "bayesgmm[bayes]" installs it.' in proc.stderr  # fmt: skip
    assert "plots skipped (criteria.png, clusters.png)" in proc.stderr
    assert json.loads((one / "summary.json").read_text())["model"]["n_components"] == 2
    with open(grid / "comparison.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["k"]) for r in rows] == [1, 2] and rows[1]["chosen_by"] == "aic,bic,icl"


# ----------------------------------------------------------------------------- bad input
BAD_FILES = {
    "ragged.csv": ("a,b\n1,2\n3\n", "ragged.csv is malformed: line 3 has 1 field(s), the header has 2"),
    "quote.csv": ('a,b\n1,2\n3,"4\n', "quote.csv is malformed (CSV)"),
    "cell.csv": ("a,b\n1,2\n3,x\n4,5\n6,7\n", "non-numeric value 'x' in column 'b' on line 3"),
    "hole.csv": ("a,b\n1,2\n3,\n4,5\n", "missing value in column 'b' on line 3"),
    "nan.csv": ("a,b\n1,2\n3,nan\n4,5\n", "non-finite value 'nan' in column 'b' on line 3"),
    "empty.csv": ("", "empty.csv is empty: expected a CSV file with a header row"),
    "header.csv": ("a,b\n", "header.csv has a header but no data rows"),
    "dupes.csv": ("a,a\n1,2\n", "the header repeats the column name(s) ['a']"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_csv_files(tmp_path, capsys, name):
    text, message = BAD_FILES[name]
    path = tmp_path / name
    path.write_text(text)
    out = tmp_path / "out"
    rc, _, err = _run(capsys, "em", path, "--k", "1", "--out", out)
    assert rc == 2
    assert err.startswith("bayesgmm: error: ")
    assert message in err
    assert "Traceback" not in err
    assert not out.exists() and _leftovers(tmp_path) == []


def test_many_bad_cells_are_summarised(tmp_path, capsys):
    path = tmp_path / "many.csv"
    path.write_text("a\n" + "\n".join(["1", "x", "2", "y", "z", "w", "3", "4", "5", "6", "7", "8"]) + "\n")
    rc, _, err = _run(capsys, "em", path, "--k", "1")
    assert rc == 2 and "on line 3" in err and "(and 1 more)" in err


def test_binary_and_bad_npy_files(tmp_path, capsys, rng):
    (tmp_path / "blob.csv").write_bytes(bytes(range(256)) * 4)
    rc, _, err = _run(capsys, "em", tmp_path / "blob.csv", "--k", "1")
    assert rc == 2 and "is not a UTF-8 text (CSV) file" in err
    (tmp_path / "junk.npy").write_bytes(b"not an array at all")
    rc, _, err = _run(capsys, "em", tmp_path / "junk.npy", "--k", "1")
    assert rc == 2 and "junk.npy is not a readable" in err
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object))
    rc, _, err = _run(capsys, "em", tmp_path / "obj.npy", "--k", "1")
    assert rc == 2 and "obj.npy is not a readable numeric .npy file" in err
    np.save(tmp_path / "cube.npy", rng.normal(size=(4, 3, 2)))
    rc, _, err = _run(capsys, "em", tmp_path / "cube.npy", "--k", "1")
    assert rc == 2 and "holds a 3-D array of shape (4, 3, 2)" in err
    x = rng.normal(size=(10, 2))
    x[4, 1] = np.nan
    np.save(tmp_path / "nan.npy", x)
    rc, _, err = _run(capsys, "em", tmp_path / "nan.npy", "--k", "1")
    assert rc == 2 and "1 NaN or infinite value(s) (the first at row 4, column 1)" in err
    rc, _, err = _run(capsys, "em", tmp_path / "nan.npy", "--k", "1", "--columns", "a")
    assert rc == 2 and "takes 0-based column numbers" in err
    rc, _, err = _run(capsys, "em", tmp_path / "nan.npy", "--k", "1", "--columns", "0,5")
    assert rc == 2 and "column(s) [5] not found" in err
    out = tmp_path / "col0"
    rc, _, err = _run(capsys, "em", tmp_path / "nan.npy", "--k", "1", "--columns", "0", "--out", out)
    assert rc == 0, err  # the NaN is in the column left out


def test_missing_file_folder_and_column(tmp_path, csv_file, capsys):
    rc, _, err = _run(capsys, "em", tmp_path / "nope.csv")
    assert rc == 2 and f"bayesgmm: error: no such file: {tmp_path / 'nope.csv'}" in err
    rc, _, err = _run(capsys, "em", tmp_path)
    assert rc == 2 and "is a folder: expected a CSV or .npy file" in err
    rc, _, err = _run(capsys, "em", csv_file, "--columns", "a,zz")
    assert rc == 2 and "column(s) 'zz' not found in" in err and "Its columns are: 'name', 'a', 'b'" in err


@pytest.mark.parametrize(
    ("k", "message"),
    [
        ("0", "The '--k' parameter must contain only ints >= 1. Got 0 in [0]"),
        ("4..1", "--k range '4..1' is empty"),
        ("x", "--k must be a number, a range like 1..4 or a list like 1,3,5. Got 'x'"),
        ("1..x", "--k must be a number"),
        ("2,2", "The '--k' parameter must not repeat a K. Got [2, 2] instead"),
        ("500", "--k 500 is more components than the 200 data rows"),
    ],
)
def test_bad_k(csv_file, capsys, k, message):
    rc, _, err = _run(capsys, "em", csv_file, "--columns", "a,b", "--k", k)
    assert rc == 2 and message in err and "Traceback" not in err


def test_parse_k():
    assert parse_k("3") == [3]
    assert parse_k(" 1..4 ") == [1, 2, 3, 4]
    assert parse_k("1,3,5") == [1, 3, 5]


def test_unwritable_output_folder(tmp_path, csv_file, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    rc, _, err = _run(capsys, "em", csv_file, "--columns", "a,b", "--k", "2", "--out", blocker / "sub")
    assert rc == 2
    assert f"cannot write to output folder {blocker / 'sub'}: {blocker} is not a folder" in err
    rc, _, err = _run(capsys, "em", csv_file, "--columns", "a,b", "--k", "2", "--out", blocker)
    assert rc == 2 and "it exists and is not a folder" in err
    assert sorted(os.listdir(tmp_path)) == ["data.csv", "file.txt"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_output_folder(tmp_path, csv_file, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        rc, _, err = _run(capsys, "em", csv_file, "--columns", "a,b", "--k", "2", "--out", out)
    finally:
        out.chmod(0o700)
    assert rc == 2 and "permission denied" in err


def test_usage_errors(csv_file, capsys):
    rc, _, err = _run(capsys)
    assert rc == 2 and "the following arguments are required" in err and "usage: bayesgmm" in err
    rc, _, err = _run(capsys, "fit", csv_file)
    assert rc == 2 and "invalid choice: 'fit'" in err
    rc, _, err = _run(capsys, "mcmc", csv_file, "--k", "1..3")
    assert rc == 2 and "mcmc fits one K: give --k a single number" in err
    rc, _, err = _run(capsys, "mcmc", csv_file, "--k", "2", "--covariance-type", "tied")
    assert rc == 2 and "must be full or diag. Got 'tied'" in err
    rc, _, err = _run(capsys, "em", csv_file, "--covariance-type", "full,banded")
    assert rc == 2 and "--covariance-type must be one of full, tied, diag, spherical" in err
    rc, _, err = _run(capsys, "mcmc", csv_file, "--k", "2", "--draws", "0")
    assert rc == 2 and "--draws must be an integer >= 1. Got '0'" in err
    rc, _, err = _run(capsys, "demo", "--k", "3..1")
    assert rc == 2 and "--k range '3..1' is empty" in err
    rc, out, _ = _run(capsys, "--help")
    assert rc == 0 and "em,mcmc,compare,demo" in out


# ----------------------------------------------------------------------------- a real process
def test_python_dash_m_bayesgmm(tmp_path, csv_file):
    """``python -m bayesgmm`` runs the command line and exits with its status (a full run in a
    real process is the minimal-install test's)."""
    out = tmp_path / "sub"
    proc = subprocess.run([sys.executable, "-m", "bayesgmm", "em", str(csv_file), "--k", "2", "--out", str(out)],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("bayesgmm: error: ") and "column(s) 'name'" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


# ----------------------------------------------------------------------------- mcmc and compare
@pytest.fixture
def one_d_csv(tmp_path):
    X, _ = make_mixture(150, [0.5, 0.5], [[-2.0], [2.0]], [[[0.5]], [[0.7]]], random_state=5)
    return _write_csv(tmp_path / "x.csv", X, names=("x",), row_names=False)


def test_mcmc_writes_the_posterior(tmp_path, one_d_csv, capsys):
    az = pytest.importorskip("arviz")
    out = tmp_path / "post"
    rc, stdout, err = _run(capsys, "mcmc", one_d_csv, "--k", "2", "--draws", "100", "--tune", "100",
                           "--out", out, "--quiet")  # fmt: skip
    assert rc == 0, err
    assert sorted(os.listdir(out)) == [
        "density.png", "em_vs_posterior.csv", "em_vs_posterior.png", "posterior.nc", "summary.json", "trace.png",
    ]  # fmt: skip
    idata = az.from_netcdf(out / "posterior.nc")
    assert idata.posterior["w"].shape == (2, 100, 2)
    assert idata.log_likelihood["x"].shape == (2, 100, 150)
    summary = json.loads((out / "summary.json").read_text())
    post = summary["posterior"]
    assert set(post["diagnostics"]) >= {"max_rhat", "min_ess_bulk", "divergences"}
    from bayesgmm.bayes.compare import waic

    assert_allclose(post["waic"]["value"], waic(idata).value, rtol=1e-12)
    table = pd.read_csv(out / "em_vs_posterior.csv")
    assert list(table["parameter"]) == ["weight[0]", "weight[1]", "mean[0]", "mean[1]", "sd[0]", "sd[1]"]
    assert "WAIC" in stdout and "PSIS-LOO" in stdout
    # warnings, if any, are one-line messages, never tracebacks
    assert all(line.startswith("bayesgmm: ") for line in err.splitlines() if "Warning" in line)


def _without_matplotlib(monkeypatch):
    """No plots (the plotting paths are tested by the em and mcmc tests): PyMC and ArviZ are
    imported first, as they need matplotlib themselves."""
    pytest.importorskip("pymc")
    pytest.importorskip("arviz")
    for name in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)


def test_compare_writes_table_and_a_line_per_k(tmp_path, one_d_csv, capsys, monkeypatch):
    _without_matplotlib(monkeypatch)
    out = tmp_path / "cmp"
    rc, stdout, err = _run(capsys, "compare", one_d_csv, "--k", "1..2", "--draws", "100", "--tune", "100",
                           "--out", out)  # fmt: skip
    assert rc == 0, err
    assert sorted(os.listdir(out)) == ["comparison.csv", "summary.json"]
    assert "plots skipped (criteria.png, density.png)" in err
    table = pd.read_csv(out / "comparison.csv")
    for col in ["k", "loglik", "n_params", "aic", "bic", "icl", "waic", "p_waic", "waic_se", "loo", "loo_se",
                "rank_aic", "rank_bic", "rank_icl", "rank_waic", "rank_loo", "chosen_by"]:  # fmt: skip
        assert col in table.columns
    x = pd.read_csv(one_d_csv).to_numpy()
    sk_bic = [SkGaussianMixture(k, tol=1e-12, max_iter=10000, random_state=0).fit(x).bic(x) for k in (1, 2)]
    assert_allclose(table["bic"], sk_bic, rtol=1e-7)
    assert "WAIC" in stdout and "chosen (lowest value): AIC K=2, BIC K=2" in stdout
    assert "K=1 (1/2) done" in err and "K=2 (2/2) done" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["chosen"]["bic"] == 2 and summary["plotted_k"] == 2
    assert summary["scale"].startswith("deviance")
    assert "occupied_components" not in summary and "p_occupied" not in table.columns


def test_compare_on_two_jobs_writes_the_same_files(tmp_path, one_d_csv, capsys, monkeypatch):
    _without_matplotlib(monkeypatch)
    for jobs in ("1", "2"):
        rc, _, err = _run(capsys, "compare", one_d_csv, "--k", "1..2", "--draws", "60", "--tune", "40",
                          "--jobs", jobs, "--out", tmp_path / jobs, "--quiet")  # fmt: skip
        assert rc == 0, err
    for name in ("comparison.csv", "summary.json"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name


@pytest.mark.slow
def test_compare_reports_the_occupied_components(tmp_path, one_d_csv, capsys, monkeypatch):
    """``--k-max``: the sparse overfitted fit's posterior of the number of occupied components."""
    _without_matplotlib(monkeypatch)
    out = tmp_path / "cmp"
    rc, stdout, err = _run(capsys, "compare", one_d_csv, "--k", "2", "--draws", "100", "--tune", "100",
                           "--k-max", "3", "--out", out, "--quiet")  # fmt: skip
    assert rc == 0, err
    table = pd.read_csv(out / "comparison.csv")
    summary = json.loads((out / "summary.json").read_text())
    occupied = summary["occupied_components"]["probabilities"]
    assert list(occupied) == ["1", "2", "3"] and abs(sum(occupied.values()) - 1) < 1e-12
    assert_allclose(table["p_occupied"], [occupied["2"]], rtol=1e-12)
    assert "posterior of the number of occupied components (sparse fit, K_max=3): 1: " in stdout


@pytest.mark.slow
def test_compare_as_a_new_user(tmp_path):
    """A new user's first run: ``bayesgmm compare data.csv --k 1..4`` on a file it has never
    seen (a row-name column, three groups in 2-D), from the installed console script."""
    X, _ = make_mixture(300, [0.3, 0.3, 0.4], [[-4, 0], [0, 4], [4, 0]],
                        [np.eye(2), [[1.0, 0.5], [0.5, 1.0]], [[1.0, -0.3], [-0.3, 0.5]]], random_state=7)  # fmt: skip
    data = _write_csv(tmp_path / "data.csv", X, names=("length", "width"))
    script = Path(sys.executable).parent / "bayesgmm"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "bayesgmm"]
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(cmd + ["compare", "data.csv", "--k", "1..4"], cwd=tmp_path, capture_output=True,
                          text=True, env=env)  # fmt: skip
    assert proc.returncode == 2 and "column(s) 'name'" in proc.stderr  # the row names are refused...
    proc = subprocess.run(cmd + ["compare", "data.csv", "--k", "1..4", "--skip-non-numeric"], cwd=tmp_path,
                          capture_output=True, text=True, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]  # ...or skipped with a notice
    assert "note: skipping non-numeric column(s) 'name'" in proc.stderr
    for k in range(1, 5):
        assert f"K={k} ({k}/4) done" in proc.stderr
    out = tmp_path / "bayesgmm-compare"
    assert sorted(os.listdir(out)) == ["clusters.png", "comparison.csv", "criteria.png", "summary.json"]
    table = pd.read_csv(out / "comparison.csv")
    assert table["k"].tolist() == [1, 2, 3, 4]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["columns"] == ["length", "width"]
    assert summary["chosen"]["bic"] == 3
    for crit in ("waic", "loo"):  # K = 3, or undetermined when K = 4 fails its diagnostics
        if crit in summary["undetermined"]:
            assert summary["undetermined"][crit].startswith("K=3 is the best ranked, but above it K=4")
        else:
            assert summary["chosen_within_2se"][crit] == 3
    assert data.exists()


def test_one_choice_in_the_text_the_csv_the_json_and_the_plot(tmp_path, one_d_csv, capsys, monkeypatch):
    """A comparison whose K = 3 posterior failed its diagnostics (NOT RANKED) above the best
    ranked K = 2: WAIC, LOO and the evidence choose nothing -- undetermined, with the
    reason -- and the printed text, comparison.csv, summary.json and criteria.png's stars
    all say so; the EM criteria choose K = 3 in all four."""
    pytest.importorskip("pymc")
    pytest.importorskip("matplotlib")
    import bayesgmm.bayes.compare as bc
    import bayesgmm.plotting as plotting
    from bayesgmm import converged_em

    X = pd.read_csv(one_d_csv).to_numpy()
    rng = np.random.default_rng(0)

    def result(k, level, ok=True, evidence=0.0):
        ll = level + 0.05 * rng.normal(size=(2, 200, 40))
        dg = {"max_rhat": 1.0, "min_ess_bulk": 500.0, "divergences": 0, "invariant_max_rhat": 1.0 if ok else 1.3,
              "invariant_min_ess_bulk": 900.0 if ok else 12.0, "invariant_ok": ok}  # fmt: skip
        return bc.ModelResult(
            k=k, covariance_type="full", loglik=40 * level, em_converged=True, n_params=3 * k - 1,
            aic=-80 * level + 2 * (3 * k - 1), bic=-80 * level + (3 * k - 1) * np.log(40),
            icl=-80 * level + (3 * k - 1) * np.log(40) + k, waic=bc.waic(ll), loo=bc.loo(ll), diagnostics=dg,
            extra={"evidence": evidence, "evidence_se": 0.1, "evidence_warning": False},
        )  # fmt: skip

    results = [result(1, -2.0, evidence=30.0), result(2, -1.0, evidence=10.0),
               result(3, -0.5, ok=False, evidence=5.0), result(4, -1.5, evidence=20.0)]  # fmt: skip

    def fake_compare_models(X, ks, *, covariance_type, return_models, **kwargs):
        models = {(k, covariance_type): (converged_em(X, k, random_state=0), None) for k in ks}
        return bc.compare(results, extra_criteria=("evidence",)), models

    drawn = []

    def recording_plot_criteria(table, **kwargs):
        drawn.append(plot_criteria(table, **kwargs))
        return drawn[-1]

    plot_criteria = plotting.plot_criteria
    monkeypatch.setattr(bc, "compare_models", fake_compare_models)
    monkeypatch.setattr(plotting, "plot_criteria", recording_plot_criteria)
    out = tmp_path / "cmp"
    rc, stdout, err = _run(capsys, "compare", one_d_csv, "--k", "1..4", "--out", out, "--quiet")
    assert rc == 0, err
    reason = "K=2 is the best ranked, but above it K=3 is NOT RANKED (label-invariant R-hat 1.300, bulk ESS 12)"
    undetermined = ("waic", "loo", "evidence")
    # the text
    assert f"chosen (lowest value): AIC K=3, BIC K=3, ICL K=3; WAIC, LOO, EVIDENCE undetermined: {reason}" in stdout
    assert f"smallest K within 2 paired standard errors of the best): none; WAIC, LOO undetermined: {reason}" in stdout
    # the CSV
    table = pd.read_csv(out / "comparison.csv", keep_default_na=False).set_index("k")
    for crit in undetermined:
        assert (table[f"rank_{crit}"] == "").all(), crit
    assert table["chosen_by"].tolist() == ["", "", "aic,bic,icl", ""]
    assert table["undetermined_by"].tolist() == ["", "waic,loo,evidence", "", ""]
    assert table.loc[3, "flag"] == "label-invariant R-hat 1.300, bulk ESS 12"
    # summary.json
    summary = json.loads((out / "summary.json").read_text())
    assert summary["chosen"] == {"aic": 3, "bic": 3, "icl": 3}
    assert summary["undetermined"] == {crit: reason for crit in undetermined}
    assert not set(undetermined) & set(summary["chosen_within_2se"])
    assert summary["plotted_k"] == 3
    # the plot: stars only for the criteria that choose, exactly on their K; the failed
    # row is drawn open, and the undetermined criteria say so in the legend
    (ax,) = drawn
    stars = {ln.get_gid(): ln.get_xdata()[0] for ln in ax.get_lines() if (ln.get_gid() or "").startswith("chosen_")}
    assert stars == {"chosen_aic": 3.0, "chosen_bic": 3.0, "chosen_icl": 3.0}
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"WAIC (undetermined)", "PSIS-LOO (undetermined)", "-2 log evidence (undetermined)"} <= set(legend)
    assert "not ranked (see the table's flag)" in legend
    open_markers = [ln for ln in ax.get_lines() if ln.get_markerfacecolor() == "white"]
    assert sorted(x for ln in open_markers for x in ln.get_xdata()) == [3.0, 3.0, 3.0]  # WAIC, LOO, evidence
    assert _is_png(out / "criteria.png")


# ----------------------------------------------------------------------------- demo
def test_demo_small(tmp_path, capsys, monkeypatch):
    _without_matplotlib(monkeypatch)
    out = tmp_path / "demo"
    rc, stdout, err = _run(capsys, "demo", "--subset", "300", "--draws", "100", "--tune", "100", "--k", "none",
                           "--out", out, "--quiet")  # fmt: skip
    assert rc == 0, err
    assert sorted(os.listdir(out)) == ["em_vs_posterior.csv", "summary.json"]
    assert "plots skipped (trace.png, em_vs_posterior.png, density.png)" in err
    summary = json.loads((out / "summary.json").read_text())
    conv = summary["converged_em"]
    # the fixed point scikit-learn reaches at tol=1e-14 (632 passes), recorded as constants
    order = np.argsort(np.ravel(conv["means"]))
    assert_allclose(np.ravel(conv["means"])[order], [1.5805001674, 1.7106400753], rtol=1e-8)
    assert_allclose(np.ravel(conv["covariances"])[order], [0.0026093456, 0.0030860282], rtol=1e-7)
    assert_allclose(np.asarray(conv["weights"])[order], [0.5037326587, 0.4962673413], rtol=1e-8)
    assert conv["converged"] is True
    article = summary["article_em"]
    assert article["converged"] is True and article["n_iter"] < 50  # stopped by tol=1e-3, early
    assert abs(article["means"][0][0] - conv["means"][0][0]) > 1e-5  # ...and visibly short of the maximum
    # accuracy of the converged fit, recomputed from its parameters with scipy
    from bayesgmm import load_heights

    X, y = load_heights()
    dens = [w * norm.pdf(X[:, 0], m[0], np.sqrt(c[0][0])) for w, m, c in
            zip(conv["weights"], conv["means"], conv["covariances"], strict=True)]  # fmt: skip
    men = int(np.argmax(np.ravel(conv["means"])))
    assert_allclose(conv["accuracy"], np.mean((np.argmax(dens, axis=0) == men) == (y == 1)), rtol=1e-12)
    assert summary["subset"]["n"] == 300
    assert "NOTE: an unconverged stop" in stdout
    # 2 x 100 draws cannot reach the diagnostics' ESS bar: the table's header says whether the
    # posterior passed them ("converged EM vs posterior:") or failed ("... (a FAILED posterior):")
    assert ("converged EM vs posterior:" in stdout) != ("converged EM vs posterior (a FAILED posterior):" in stdout)
    assert "the article-style EM vs the same posterior" in stdout


@pytest.mark.slow
def test_demo_default_run(tmp_path, capsys):
    """The README's main job as a user runs it: defaults only."""
    out = tmp_path / "bayesgmm-demo"
    rc, stdout, err = _run(capsys, "demo", "--out", out)
    assert rc == 0, err
    files = set(os.listdir(out))
    assert {"density.png", "trace.png", "em_vs_posterior.png", "criteria.png", "comparison.csv"} <= files
    summary = json.loads((out / "summary.json").read_text())
    assert summary["posterior"]["diagnostics"]["max_rhat"] <= 1.01
    assert all(row["em_in_hdi"] for row in summary["em_vs_posterior"])
    assert summary["chosen"]["bic"] == 2 and summary["chosen"]["waic"] == 2 and summary["chosen"]["loo"] == 2


def test_comparison_printer_shows_every_column_and_the_occupied_components(capsys):
    from bayesgmm.cli._report import print_comparison
    from bayesgmm.criteria import rank_criteria

    table = pd.DataFrame({"k": [1, 2, 3], "bic": [30.0, 10.0, 20.0], "evidence": [31.0, 12.5, 19.0],
                          "error": ["", "", ""], "new_column": [0.5, 0.25, 0.125]})  # fmt: skip
    rank_criteria(table, ["bic", "evidence"])
    table.attrs["occupied"] = {1: 0.0, 2: 0.9, 3: 0.1}
    table.attrs["occupied_diagnostics_ok"] = False
    table.attrs["occupied_diagnostics"] = {
        "log_likelihood": {"rhat": 1.0042, "ess_bulk": 812.4},
        "occupied": {"rhat": 1.0213, "ess_bulk": 97.0},
    }
    entries = print_comparison(table)
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header == ["k", "bic", "evidence", "new_column", "rank_bic", "rank_evidence", "chosen_by"]
    assert "chosen: BIC K=2, EVIDENCE K=2" in out
    assert (
        "posterior of the number of occupied components (sparse fit, K_max=3): 1: 0.000, 2: 0.900, "
        "3: 0.100; most probable 2 (R-hat 1.004 / ESS 812 of the log-likelihood, R-hat 1.021 / ESS 97 "
        "of the count) -- its label-invariant diagnostics fail" in out
    )
    assert entries["chosen"] == {"bic": 2, "evidence": 2}
    assert entries["occupied_components"] == {
        "probabilities": {1: 0.0, 2: 0.9, 3: 0.1},
        "diagnostics_ok": False,
    }
