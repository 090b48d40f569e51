"""Running an ensemble: chunks sent to an executor, with retries, into the run store.

:func:`run_ensemble` sends the tasks in chunks to an executor from
:mod:`experiments.runner.executors` (serial, local processes or a Dask cluster) and returns one
row per run, in ``run_id`` order, whatever the executor. Tables are byte-identical across
executors, worker counts, shards and interruptions.

**Fault-tolerant.** A run that raises is recorded with its seed, inputs and traceback in the
failures table and the ensemble goes on. A chunk lost with its worker (a killed process, a
broken pool, a Dask ``KilledWorker``) is retried alone, halved until the culprit run is found,
and that run is recorded as failed; innocent runs are never blamed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from experiments.errors import ExperimentError
from experiments.runner.executors import check_workers, open_backend
from experiments.runner.folders import build_tables, open_store, store_errors
from experiments.runner.store import MemoryStore, RunStore
from experiments.runner.tables import EnsembleResult
from experiments.runner.tables import check_format as _check_format
from experiments.runner.tasks import (
    RunOutcome,
    Task,
    check_shard,
    chunk_size,
    failure_record,
    model_digest,
    run_chunk_safe,
    select_shard,
)

RETRIES = 2
"""How many more times a chunk lost with its worker is retried alone before it is halved."""

LOST_IN_A_ROW = 3
"""An ensemble stops (resumable) when this many runs in a row are lost with their workers."""


class _Progress(tqdm):
    """A progress bar without tqdm's monitor thread.

    The monitor would leave a thread running in this process, and a process with threads
    cannot safely fork the next ensemble's worker pool.
    """

    monitor_interval = 0


# --- running -------------------------------------------------------------------------------------

@dataclass
class _Chunk:
    tasks: list[Task]
    isolated_failures: int = 0


def _execute(backend, todo: list[Task], store: RunStore | MemoryStore, *, series: bool,
             params: list[str], bar, retries: int, phases=None) -> None:
    """Run ``todo`` on the backend, adding every chunk's outcome to ``store`` as it finishes.

    A chunk whose future fails (its worker died, the pool broke, Dask gave up on it) is run
    again alone, so that it cannot be blamed for another chunk's crash. After ``retries``
    failures alone it is halved; a single run that still fails is recorded as failed.
    """
    size = chunk_size(len(todo), backend.slots)
    queue = deque(_Chunk(todo[i:i + size]) for i in range(0, len(todo), size))
    suspects: deque[_Chunk] = deque()
    pending: dict[Future, tuple[_Chunk, bool, int]] = {}
    digest = model_digest()
    lost_in_a_row = 0

    def submit(chunk: _Chunk, isolated: bool) -> None:
        for _ in range(3):
            try:
                fut = backend.executor.submit(run_chunk_safe, chunk.tasks, series, params)
            except BrokenExecutor:
                backend.restart()
                continue
            pending[fut] = (chunk, isolated, backend.generation)
            return
        raise ExperimentError("cannot start worker processes; the runs finished so far are "
                              "saved: resume with --resume")

    def fill() -> None:
        if suspects or any(isolated for _, isolated, _ in pending.values()):
            if suspects and not pending:
                submit(suspects.popleft(), True)
            return
        while queue and len(pending) < 2 * backend.slots:
            submit(queue.popleft(), False)

    fill()
    while pending:
        done, _ = wait(list(pending), timeout=5.0, return_when=FIRST_COMPLETED)
        if not done:
            problem = backend.problem()
            if problem:
                raise ExperimentError(f"{problem}; the runs finished so far are saved: "
                                      f"resume with --resume")
            continue
        for fut in sorted(done, key=lambda f: pending[f][0].tasks[0].run_id):
            chunk, isolated, generation = pending.pop(fut)
            try:
                outcome = fut.result()
            except Exception as exc:  # noqa: BLE001 - the chunk's worker was lost
                if isinstance(exc, BrokenExecutor) and generation == backend.generation:
                    backend.restart()
                problem = backend.problem()
                if problem:
                    raise ExperimentError(f"{problem} ({type(exc).__name__}: {exc}); the runs "
                                          f"finished so far are saved: resume with "
                                          f"--resume") from None
                if isolated:
                    chunk.isolated_failures += 1
                if not isolated or chunk.isolated_failures <= retries:
                    suspects.append(chunk)
                elif len(chunk.tasks) > 1:
                    half = len(chunk.tasks) // 2
                    suspects.extend([_Chunk(chunk.tasks[:half]), _Chunk(chunk.tasks[half:])])
                else:
                    task = chunk.tasks[0]
                    message = (f"the run was lost with its worker {retries + 1} times when run "
                               f"alone: {type(exc).__name__}: {exc}")
                    lost = RunOutcome(task.run_id, failure=failure_record(
                        task, exc, params, message))
                    store.add([lost], None)
                    _tell(phases, bar, [lost])
                    bar.update(1)
                    lost_in_a_row += 1
                    if lost_in_a_row >= LOST_IN_A_ROW:
                        raise ExperimentError(
                            f"{lost_in_a_row} runs in a row were lost with their workers "
                            f"(last: {type(exc).__name__}: {exc}); stopping. The runs "
                            f"finished so far are saved: fix the cause, then resume with "
                            f"--resume --retry-failed") from None
                continue
            if outcome.model_digest != digest:
                raise ExperimentError(
                    f"a worker ({backend.describe()}) runs a different version of the model "
                    f"than this process (sim/, agents/, numpy or mesa differ); install the "
                    f"same code on every worker")
            store.add(outcome.runs, outcome.variables)  # one transaction per chunk
            _tell(phases, bar, outcome.runs)
            bar.update(len(chunk.tasks))
            lost_in_a_row = 0
        fill()


def _tell(phases, bar, outcomes) -> None:
    """Tell the job's phases which runs finished, and show its current phase on the bar."""
    if phases is None:
        return
    phases.finished(outcomes)
    bar.set_description_str(phases.text, refresh=False)


def run_ensemble(tasks: Sequence[Task], *, workers: int = 1, dask_scheduler: str | None = None,
                 out_dir: str | Path | None = None, series: bool = False, fmt: str = "csv",
                 progress: bool | None = None, write_series: bool | None = None,
                 resume: bool = False, shard: tuple[int, int] | None = None,
                 retry_failed: bool = False, keep_series: bool = True,
                 keep_store: bool | None = None, retries: int = RETRIES,
                 phases=None) -> EnsembleResult:
    """Run an ensemble on the chosen executor and collect tidy results.

    Args:
        tasks: Tasks from :func:`make_tasks` (any order; results are sorted by ``run_id``).
            With ``shard``, the whole design: only the shard's runs are run.
        workers: 1 runs serially in this process; 2..256 use a local process pool.
        dask_scheduler: Address of a Dask scheduler to run on instead (``tcp://host:port``).
        out_dir: Folder for ``runs.csv``/``runs.parquet``, ``series.*``, ``failures.csv`` and
            the run store of finished runs (``runs.sqlite``); None writes nothing.
        series: Whether to collect monthly series (long format).
        fmt: ``"csv"`` or ``"parquet"`` (Parquet needs pyarrow).
        progress: None shows a progress bar only on a terminal; False never; True always.
        write_series: Whether to write the series file when ``series`` is on (default: yes).
        resume: Finish the interrupted ensemble in ``out_dir``: keep the runs its run store
            holds and run only the others (a folder without a store starts afresh).
        shard: ``(index, count)``: run only the runs with ``run_id % count == index``.
        retry_failed: With ``resume``, run again the runs that failed before.
        keep_series: Return the series in the result (False streams it to disk only, so a
            large ensemble's series never has to fit in memory).
        keep_store: Keep the run store after the tables are written (default: only for a
            shard, which :func:`merge_results` needs).
        retries: Times a chunk lost with its worker is retried alone before it is halved.
        phases: A :class:`experiments.runner.phases.Phases` naming the job's steps: the bar
            shows the current one (``phase 2/4: drivers, 340/800 runs``) and its callbacks
            hear of every finished chunk; one of them may raise to stop the ensemble.

    Returns:
        An :class:`EnsembleResult`; identical whatever the executor, worker count, shard or
        interruption.

    Raises:
        ExperimentError: On no tasks, a bad worker count, format or shard, a missing optional
            package, an unreachable Dask scheduler, a folder holding another experiment or a
            different model version, or a folder in use by another process.

    """
    tasks = list(tasks)
    if not tasks:
        raise ExperimentError("no runs to do: the ensemble is empty")
    if len({t.run_id for t in tasks}) != len(tasks):
        raise ExperimentError("run ids must be unique within an ensemble")
    write_series = series if write_series is None else (series and write_series)
    check_workers(workers)
    _check_format(fmt, writing=out_dir is not None)
    shard = check_shard(shard)
    if resume and out_dir is None:
        raise ExperimentError("--resume needs the output folder of the interrupted run (--out)")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ExperimentError(f"retries: expected a whole number of 0 or more, got {retries!r}")
    keep_store = shard is not None if keep_store is None else keep_store
    params = sorted({name for t in tasks for name, _ in t.scenario.parameters})
    selected = select_shard(tasks, shard)
    if not selected:
        raise ExperimentError(f"--shard {shard[0]}/{shard[1]}: this shard has no runs (the "
                              f"design has {len(tasks)}); use at most {len(tasks)} shards")

    start = time.perf_counter()
    out = None
    with store_errors():
        if out_dir is None:
            store = MemoryStore()
        else:
            out = Path(out_dir)
            if out.exists() and not out.is_dir():
                raise ExperimentError(f"--out: {out} exists and is not a folder")
            out.mkdir(parents=True, exist_ok=True)
            store = open_store(out, tasks, selected, series=series, params=params,
                               shard=shard, resume=resume)
        try:
            done = store.done(retry_failed) & {t.run_id for t in selected}
            todo = [t for t in selected if t.run_id not in done]
            with _Progress(total=len(selected), initial=len(done), unit="run", desc="ensemble",
                           disable=None if progress is None else not progress) as bar:
                if phases is not None:  # runs taken from an interrupted attempt count as done
                    _tell(phases, bar, sorted(done))
                if todo:
                    with open_backend(workers, dask_scheduler) as backend:
                        _execute(backend, todo, store, series=series, params=params, bar=bar,
                                 retries=retries, phases=phases)
            runs, series_frame, failures, files = build_tables(
                store, out, series=series, keep_series=keep_series,
                write_series=write_series, fmt=fmt)
        except BaseException:
            if isinstance(store, RunStore):
                store.close()
            raise
    if isinstance(store, RunStore):
        try:
            if keep_store:
                store.close()
                files["store"] = store.path
            else:
                store.remove()
        except BaseException:
            store.close()  # never leave the folder locked, whatever interrupted the removal
            raise
    return EnsembleResult(runs=runs, series=series_frame if series else None,
                          wall_time=time.perf_counter() - start, files=files,
                          failures=failures, planned=len(selected), reused=len(done))


