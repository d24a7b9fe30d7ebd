"""Independent pieces of work on joblib: scikit-learn's ``n_jobs``, the cores shared.

Choosing K is a grid of independent fits (every K and covariance type of
:func:`bayesgmm.criteria.select`, every K of :func:`bayesgmm.bayes.compare.compare_models`,
every chain of :func:`bayesgmm.bayes.occupancy.fit_occupied_components`), so it runs as
joblib tasks: with ``n_jobs`` as in scikit-learn (None means 1 unless a
``joblib.parallel_config`` context says otherwise, -1 all cores), and on any joblib backend
-- worker processes (loky, the default), threads, or a Dask cluster through
``joblib.parallel_config(backend="dask")`` inside a ``distributed.Client``. Nothing here
distributes anything itself.

Results never depend on ``n_jobs``, the backend or the order in which tasks finish: every
task is a pure function of its arguments, seeds included (each derives from
``random_state`` and the task's own place in the grid, never from a stream shared between
tasks), and results are put back in the tasks' order.

Warnings a task raises in a worker process are raised again in the caller's process, as
if the task had run there.

Threads and processes do not multiply: a task run beside others gets its share of the
cores, ``max(1, cores // tasks at once)``, for the threads of the compiled passes
(:func:`bayesgmm._kernels.thread_limit`) and for BLAS and OpenMP (threadpoolctl). Run alone
(one worker), a task keeps every core.

Work whose pieces depend on one another (a fit of K components starts from splits of the
fit of K - 1) is written as *plans*: generators that yield lists of independent jobs and
receive their results. :func:`run_plans` runs many plans together, in rounds: every job
any plan is waiting for goes out at once, and a plan whose dependencies have finished
starts in the next round.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Generator, Hashable, Mapping, Sequence
from typing import Any, NamedTuple

from . import _kernels

__all__ = ["Job", "Progress", "Runner", "check_n_jobs", "run_plan", "run_plans", "run_tasks", "task_threads"]

Plan = Generator[list["Job"], list[Any], Any]


class Job(NamedTuple):
    """One independent call ``fn(*args)``; ``local`` ones run in this process (e.g. a fit
    whose every pass is already a Dask map-reduce over a cluster)."""

    fn: Callable[..., Any]
    args: tuple
    local: bool = False


def check_n_jobs(n_jobs: Any, name: str = "n_jobs") -> int | None:
    """None or a non-zero int (scikit-learn's convention; -1 is all cores)."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise ValueError(
            f"The '{name}' parameter must be None or a non-zero int (-1 for all cores). Got {n_jobs!r} instead."
        )
    return int(n_jobs)


def task_threads(workers: int) -> int:
    """Threads for one of ``workers`` tasks running at once: an equal share of the cores."""
    return max(1, _kernels.default_threads() // max(1, workers))


def _call(fn: Callable[..., Any], args: tuple, threads: int, parent: int) -> tuple[Any, list | None]:
    """``fn(*args)`` in a worker, its threads limited to the task's share of the cores:
    ``(result, warnings)``. In another process than ``parent`` (the caller's), the warnings
    are recorded and returned, to be raised again in the caller, as if the task had run
    there; in the caller's own process (joblib's threads) they pass through as they come."""
    from threadpoolctl import threadpool_limits

    with _kernels.thread_limit(threads), threadpool_limits(limits=threads):
        if os.getpid() == parent:
            return fn(*args), None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fn(*args)
        return result, [(w.message, w.category, w.filename, w.lineno) for w in caught]


def _result(out: tuple[Any, list | None]) -> Any:
    """A task's result, its warnings raised again here."""
    result, caught = out
    for message, category, filename, lineno in caught or ():
        warnings.warn_explicit(message, category, filename, lineno)
    return result


class Runner:
    """Runs lists of jobs: in this process with one worker, else on joblib's workers (one
    pool kept for every round of a call). Use as a context manager."""

    def __init__(self, n_jobs: int | None = None) -> None:
        import joblib

        self.n_jobs = check_n_jobs(n_jobs)
        self.workers = max(1, int(joblib.effective_n_jobs(self.n_jobs)))
        self.threads = task_threads(self.workers)
        self._parallel: Any = None

    def __enter__(self) -> Runner:
        if self.workers > 1:
            import joblib

            self._parallel = joblib.Parallel(n_jobs=self.n_jobs).__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._parallel is not None:
            self._parallel.__exit__(*exc)
            self._parallel = None

    def run(self, jobs: Sequence[Job]) -> list[Any]:
        """Every job's result, in the jobs' order. A lone job runs here with every core."""
        out: list[Any] = [None] * len(jobs)
        remote = [i for i, job in enumerate(jobs) if not job.local]
        if self._parallel is not None and len(remote) > 1:
            from joblib import delayed

            pid = os.getpid()
            results = self._parallel(
                delayed(_call)(jobs[i].fn, jobs[i].args, self.threads, pid) for i in remote
            )
            for i, r in zip(remote, results, strict=True):
                out[i] = _result(r)
        else:
            for i in remote:
                out[i] = jobs[i].fn(*jobs[i].args)
        for i, job in enumerate(jobs):
            if job.local:
                out[i] = job.fn(*job.args)
        return out


def run_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[tuple],
    *,
    n_jobs: int | None = None,
    on_done: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """``[fn(*task) for task in tasks]``, the tasks as joblib tasks; ``on_done(i, result)``
    is called in this process as each finishes (in the order they finish, when parallel)."""
    import joblib

    n_jobs = check_n_jobs(n_jobs)
    workers = min(max(1, int(joblib.effective_n_jobs(n_jobs))), max(1, len(tasks)))
    if workers == 1:
        out = []
        for i, task in enumerate(tasks):
            out.append(fn(*task))
            if on_done is not None:
                on_done(i, out[-1])
        return out
    threads = task_threads(workers)
    results: list[Any] = [None] * len(tasks)
    parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    pid = os.getpid()
    for i, out in parallel(
        joblib.delayed(_indexed)(fn, i, task, threads, pid) for i, task in enumerate(tasks)
    ):
        results[i] = _result(out)
        if on_done is not None:
            on_done(i, results[i])
    return results


def _indexed(fn: Callable[..., Any], i: int, args: tuple, threads: int, parent: int) -> tuple[int, Any]:
    return i, _call(fn, args, threads, parent)


def run_plans(
    plans: Mapping[Hashable, tuple[Sequence[Hashable], Callable[[dict], Plan]]],
    runner: Runner,
    on_done: Callable[[Hashable, Any], None] | None = None,
) -> dict[Hashable, Any]:
    """Run plans with dependencies, in rounds; returns ``{key: the plan's return value}``.

    ``plans[key] = (deps, start)``: once every plan in ``deps`` has finished,
    ``start(results)`` (``results`` holds the finished plans' values) returns the plan, a
    generator that yields lists of :class:`Job` and is sent each list's results, in order.
    ``on_done(key, value)`` is called as each plan finishes. The results do not depend on
    how the rounds are run: every job of a round is independent of the others.
    """
    done: dict[Hashable, Any] = {}
    waiting = dict(plans)
    active: dict[Hashable, tuple[Plan, list[Job]]] = {}

    def advance(key: Hashable, plan: Plan, results: list[Any] | None) -> None:
        try:
            jobs = next(plan) if results is None else plan.send(results)
            while not jobs:
                jobs = plan.send([])
        except StopIteration as stop:
            done[key] = stop.value
            if on_done is not None:
                on_done(key, stop.value)
        else:
            active[key] = (plan, list(jobs))

    while waiting or active:
        for key in list(waiting):
            deps, start = waiting[key]
            if all(dep in done for dep in deps):
                del waiting[key]
                advance(key, start(done), None)
        if not active:
            if waiting:
                raise ValueError(
                    f"Plans wait on one another or on unknown plans: {sorted(map(str, waiting))}."
                )
            break
        batch = [(key, job) for key, (_, jobs) in active.items() for job in jobs]
        results = runner.run([job for _, job in batch])
        per_key: dict[Hashable, list[Any]] = {key: [] for key in active}
        for (key, _), r in zip(batch, results, strict=True):
            per_key[key].append(r)
        for key, (plan, _) in list(active.items()):
            del active[key]
            advance(key, plan, per_key[key])
    return done


def run_plan(plan: Plan, n_jobs: int | None = None) -> Any:
    """One plan's return value, its jobs on ``n_jobs`` workers."""
    with Runner(n_jobs) as runner:
        return run_plans({0: ((), lambda _: plan)}, runner)[0]


class Progress:
    """Lines saying which piece of a long call finished, how many remain and about how
    long they will take, to a stream.

    ``progress``: True (stderr), False (nothing), a writable text stream, or None: stderr,
    but only once the call has run ``quiet_for`` seconds (a quick call stays silent, a
    long one says where it is). The estimate scales the time so far by the work left,
    in units the caller gives each piece (e.g. its number of components, since a fit's
    passes cost about that much more).
    """

    def __init__(self, progress: Any, what: str, total_units: float, *, quiet_for: float = 10.0) -> None:
        import sys

        if progress is None:
            self.stream, self.after = sys.stderr, quiet_for
        elif progress is True:
            self.stream, self.after = sys.stderr, 0.0
        elif progress is False:
            self.stream, self.after = None, 0.0
        elif hasattr(progress, "write"):
            self.stream, self.after = progress, 0.0
        else:
            raise TypeError(
                "The 'progress' parameter must be None, a bool or a writable text stream. "
                f"Got {type(progress).__name__} instead."
            )
        self.what = what
        self.total = float(total_units)
        self.done_units = 0.0
        self.t0 = time.perf_counter()

    def __call__(self, name: str, units: float, detail: str = "", *, left: int | None = None) -> None:
        """One piece finished: ``name`` (e.g. "K=3 full"), its work ``units``, ``detail``
        (e.g. its BIC), ``left`` pieces remaining."""
        self.done_units += units
        elapsed = time.perf_counter() - self.t0
        if self.stream is None or elapsed < self.after:
            return
        remaining = max(0.0, self.total - self.done_units)
        line = f"  {self.what}: {name} done{': ' + detail if detail else ''}"
        if left is not None:
            line += f" ({left} left"
            if left and self.done_units > 0:
                line += f", about {elapsed * remaining / self.done_units:.0f} s more"
            line += f"; {elapsed:.1f} s so far)"
        print(line, file=self.stream, flush=True)
