"""bayesgmm._parallel and n_jobs: the same results for any n_jobs and joblib backend, the
cores shared, warnings carried back; select, fit_occupied_components and compare_models on
two workers equal to one, and select on a real Dask cluster of worker processes."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from bayesgmm import _kernels, make_mixture
from bayesgmm._parallel import Job, Runner, check_n_jobs, run_plans, run_tasks, task_threads

pd = pytest.importorskip("pandas")
joblib = pytest.importorskip("joblib")

from bayesgmm.criteria import select  # noqa: E402


def _blobs(n=120, seed=0):
    means = [[-4.0, 0.0], [0.0, 4.0], [4.0, 0.0]]
    return make_mixture(n, [0.5, 0.3, 0.2], means, [np.eye(2)] * 3, random_state=seed)[0]


def _square(x):
    return x * x


def _threads(_):
    from threadpoolctl import threadpool_info

    blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return os.getpid(), _kernels.default_threads(), blas


def _warns(x):
    warnings.warn(f"task {x} says so", UserWarning, stacklevel=1)
    return x


# ----------------------------------------------------------------------------- the pieces
def test_check_n_jobs():
    assert check_n_jobs(None) is None and check_n_jobs(-1) == -1 and check_n_jobs(3) == 3
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(ValueError, match=r"The 'n_jobs' parameter must be None or a non-zero int"):
            check_n_jobs(bad)


def test_run_tasks_keeps_the_order_and_reports_each():
    seen = []
    out = run_tasks(_square, [(i,) for i in range(7)], n_jobs=2, on_done=lambda i, r: seen.append((i, r)))
    assert out == [i * i for i in range(7)]
    assert sorted(seen) == [(i, i * i) for i in range(7)]


def test_a_task_gets_its_share_of_the_cores():
    """Two workers on this machine's cores: each task's passes (and BLAS) get cores // 2
    threads, never fewer than one; alone, a task keeps them all."""
    share = max(1, _kernels.default_threads() // 2)
    assert task_threads(2) == share and task_threads(1) == _kernels.default_threads()
    for pid, threads, blas in run_tasks(_threads, [(i,) for i in range(4)], n_jobs=2):
        assert pid != os.getpid()  # worker processes (joblib's default backend)
        assert threads == share
        assert all(t <= share for t in blas)
    (_, alone, _), *_ = run_tasks(_threads, [(0,)], n_jobs=None)
    assert alone == _kernels.default_threads()


def test_warnings_of_worker_processes_reach_the_caller():
    with pytest.warns(UserWarning, match=r"task \d says so") as record:
        assert run_tasks(_warns, [(0,), (1,)], n_jobs=2) == [0, 1]
    assert sorted(str(w.message) for w in record) == ["task 0 says so", "task 1 says so"]


def test_plans_wait_for_their_dependencies():
    def plan(k, done):
        base = done.get(k - 1, 0)
        (a, b) = yield [Job(_square, (k,)), Job(_square, (k + 1,))]
        return base + a + b

    plans = {k: ([k - 1] if k > 1 else [], lambda done, k=k: plan(k, done)) for k in (1, 2, 3)}
    for n_jobs in (None, 2):
        with Runner(n_jobs) as runner:
            out = run_plans(plans, runner)
        assert out == {1: 5, 2: 5 + 13, 3: 5 + 13 + 25}
    with Runner(None) as runner, pytest.raises(ValueError, match="wait on one another"):
        run_plans({1: ([2], lambda d: plan(1, d)), 2: ([1], lambda d: plan(2, d))}, runner)


# ----------------------------------------------------------------------------- the same results
@pytest.fixture(scope="module")
def serial():
    X = _blobs()
    return X, select(X, [1, 2, 3], ("full", "spherical"), progress=False)[1]


def test_select_on_two_workers_equals_one(serial):
    X, table = serial
    _, table2 = select(X, [1, 2, 3], ("full", "spherical"), n_jobs=2, progress=False)
    assert table.equals(table2)
    with joblib.parallel_config(n_jobs=2):  # None: what the context says
        _, table3 = select(X, [1, 2, 3], ("full", "spherical"), progress=False)
    assert table.equals(table3)


def test_select_on_a_dask_cluster_of_processes_equals_serial(serial):
    """joblib's Dask backend on a real distributed.LocalCluster: two worker processes, on
    the loopback interface, no dashboard."""
    distributed = pytest.importorskip("distributed")
    X, table = serial
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        _, table2 = select(X, [1, 2, 3], ("full", "spherical"), progress=False)
    assert table.equals(table2)


def test_select_of_a_dask_array_equals_in_memory():
    da = pytest.importorskip("dask.array")
    X = _blobs(3000, seed=2)
    _, table = select(X, [1, 2, 3], "diag", progress=False)
    _, table2 = select(da.from_array(X, chunks=(700, 2)), [1, 2, 3], "diag", progress=False)
    np.testing.assert_allclose(table2["loglik"], table["loglik"], rtol=1e-10)
    np.testing.assert_allclose(table2["icl"], table["icl"], rtol=1e-10)
    assert (table2["chosen_by"] == table["chosen_by"]).all()


def test_progress_lines_say_which_cell_and_how_many_remain():
    import io

    log = io.StringIO()
    select(_blobs(60), [1, 2], ("full", "diag"), n_jobs=2, progress=log)
    lines = log.getvalue().splitlines()
    assert len(lines) == 4
    assert {line.split(" done")[0].strip() for line in lines} == {
        "select: K=1 full", "select: K=1 diag", "select: K=2 full", "select: K=2 diag",
    }  # fmt: skip
    assert [line.split("(")[1].split(" left")[0] for line in lines] == ["3", "2", "1", "0"]
    assert "about" in lines[0] and "s so far" in lines[-1]


def test_fit_occupied_components_on_two_workers_equals_one():
    from bayesgmm.bayes.occupancy import fit_occupied_components

    X = make_mixture(80, [0.5, 0.5], [[-3.0], [3.0]], [[[1.0]], [[1.0]]], random_state=1)[0]
    kw = {"draws": 40, "tune": 20, "chains": 2, "random_state": 3}
    a, occ_a = fit_occupied_components(X, 3, **kw)
    b, occ_b = fit_occupied_components(X, 3, n_jobs=2, **kw)
    assert_array_equal(a.occupied, b.occupied)
    assert_array_equal(a.means, b.means)
    assert_array_equal(occ_a.probabilities, occ_b.probabilities)


def test_compare_models_on_two_workers_equals_one():
    pytest.importorskip("pymc")
    from bayesgmm.bayes.compare import CriterionWarning, compare_models
    from bayesgmm.exceptions import ConvergenceWarning, SamplingWarning

    X = make_mixture(100, [0.5, 0.5], [[-2.0], [2.0]], [[[0.5]], [[0.7]]], random_state=5)[0]
    kw = {"draws": 60, "tune": 40, "chains": 2, "random_state": 0, "progress": False}
    with warnings.catch_warnings():  # short chains: the equality is what is tested
        for category in (SamplingWarning, CriterionWarning, ConvergenceWarning):
            warnings.simplefilter("ignore", category)
        table = compare_models(X, [1, 2], **kw)
        table2 = compare_models(X, [1, 2], n_jobs=2, **kw)
    assert table.equals(table2)
