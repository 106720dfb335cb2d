"""Run a study's tasks: in this process, in a local process pool, or on a Dask cluster.

Tasks are independent (one simulated data set and one fit each) and carry their own
seed, spawned from the study's seed with :meth:`numpy.random.SeedSequence.spawn`, so a
study gives the same table whatever runs it.  Each worker process keeps the compiled
model in its own compile cache: the first task on a worker compiles (or loads the
compiled code from the disk cache), the others reuse it.

A task never raises: a failure is returned as a record with its error (the study's
table keeps it).  Ctrl-C stops the study and keeps what finished (the result is marked
interrupted).  One progress bar counts the whole study's tasks.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from bayesmix.errors import ArgumentError, ConvergenceWarning, SamplingError

__all__ = ["run_tasks", "cores_per_task"]


def _dask_as_completed():
    """Dask's ``as_completed``, imported only when a study is given a client.

    Dask is an optional dependency and slow to import; importing it at module load made
    every ``import bayesmix`` pay for it (and each local study worker, which imports the
    package afresh).  A user who passes ``client=`` has imported it already.
    """
    try:
        from distributed import as_completed
    except ImportError as err:  # pragma: no cover - the test extras install it
        raise ArgumentError("client= needs Dask distributed: pip install 'bayesmix[dask]'") from err
    return as_completed


def cores_per_task(workers: int | None, client=None) -> int:
    """Cores each fit may use: the machine's share per local worker; 1 on a cluster."""
    if client is not None:
        return 1
    return max(1, (os.cpu_count() or 1) // max(1, workers or 1))


class _Progress:
    """One line on stderr: tasks done of all, failures, time so far (a notebook shows it too)."""

    def __init__(self, total: int, label: str, show: bool):
        self.total, self.label, self.show = total, label, show
        self.done = self.failed = 0
        self.start = time.perf_counter()

    def step(self, record: dict) -> None:
        self.done += 1
        self.failed += bool(record.get("error"))
        if self.show:
            elapsed = time.perf_counter() - self.start
            bar = "#" * int(30 * self.done / self.total)
            sys.stderr.write(
                f"\r{self.label}: [{bar:<30}] {self.done}/{self.total} fits"
                + (f", {self.failed} failed" if self.failed else "")
                + f", {elapsed:.0f} s"
            )
            if self.done == self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def run_tasks(
    fn: Callable[[dict], dict],
    tasks: Sequence[dict],
    workers: int | None = None,
    client=None,
    progress: bool = True,
    label: str = "study",
) -> tuple[list[dict], bool]:
    """Run ``fn`` on every task; returns the records in task order and whether it was interrupted.

    Parameters
    ----------
    fn : callable
        A module-level function (it is sent to worker processes) taking one task dict
        and returning a record dict (with ``"task"``, the task's position).
    tasks : sequence of dict
    workers : int, optional
        Local worker processes (default: one per core, at most one per task); 1 runs in
        this process.  Workers are started with ``spawn`` and import the main module, so a
        script runs its study under ``if __name__ == "__main__":`` (notebooks need nothing).
    client : dask.distributed.Client, optional
        Run on this cluster instead (``workers`` is then ignored).
    progress : bool
        Show the progress line.
    """
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ArgumentError(f"workers must be a positive integer (got {workers!r})")
    bar = _Progress(len(tasks), label, progress)
    records: dict[int, dict] = {}
    interrupted = False
    if client is not None:
        as_completed = _dask_as_completed()
        futures = client.map(fn, list(tasks), pure=False)
        try:
            for fut in as_completed(futures):
                rec = fut.result()
                records[rec["task"]] = rec
                bar.step(rec)
        except KeyboardInterrupt:
            interrupted = True
            client.cancel(futures)
    elif (workers or min(os.cpu_count() or 1, len(tasks))) <= 1:
        try:
            for task in tasks:
                rec = fn(task)
                records[rec["task"]] = rec
                bar.step(rec)
        except KeyboardInterrupt:
            interrupted = True
    else:
        n = workers or min(os.cpu_count() or 1, len(tasks))
        # 'spawn': worker processes start clean (nutpie's threads do not survive a fork)
        pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))
        pending = {pool.submit(fn, task) for task in tasks}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    rec = fut.result()
                    records[rec["task"]] = rec
                    bar.step(rec)
        except KeyboardInterrupt:
            interrupted = True
            for fut in pending:
                fut.cancel()
        except BrokenProcessPool:
            raise SamplingError(
                f"the study's worker processes stopped after {len(records)} of {len(tasks)} fits. Worker "
                "processes are started afresh and import the main module: in a script, run the study under "
                "`if __name__ == '__main__':`, or pass workers=1 to run it in this process"
            ) from None
        finally:
            pool.shutdown(wait=not interrupted, cancel_futures=True)
    if interrupted:
        if progress:
            sys.stderr.write("\n")
        warnings.warn(
            f"the study was interrupted: it keeps the {len(records)} of {len(tasks)} fits that finished",
            ConvergenceWarning,
            stacklevel=3,
        )
    return [records[k] for k in sorted(records)], interrupted
