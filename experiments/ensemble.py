"""Ensembles: many runs of one or more scenario variants, on any executor, with tidy output.

An ensemble is a list of :class:`Task` built by :func:`make_tasks`: every variant (a labelled
scenario) times every replicate. Replicate *r* of every variant uses the same random stream,
``numpy.random.SeedSequence(root_seed, spawn_key=(r,))``, so variants are compared with common
random numbers: a difference between two variants is the lever's effect, not luck of the draw.

:func:`run_ensemble` sends the tasks in chunks to an executor from
:mod:`experiments.executors` (serial, local processes or a Dask cluster) and returns one row
per run, in ``run_id`` order, whatever the executor. With an output folder it streams rows to
``runs.partial.csv`` as chunks finish (so a crash loses only the chunks in flight) and ends
with ``runs.csv`` (or ``runs.parquet``) written atomically. Tables are byte-identical across
executors and worker counts.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from experiments.executors import check_workers, open_executor, parallelism
from sim.parameters import PARAMETER_INDEX
from sim.scenario import Scenario
from sim.simulate import simulate

FLOAT_FORMAT = "%.10g"
"""printf format of floats in CSV tables: fixed, so tables are byte-identical across runs."""

SEED_SCHEME = "numpy.random.SeedSequence(root_seed, spawn_key=(replicate,))"
"""How a run's seed derives from the root seed (recorded in the manifest)."""

SERIES_INDEX = ("run_id", "month", "variable", "value")
"""Columns of the long monthly series table."""

MAX_CHUNK = 64
"""Largest number of runs sent to a worker in one call."""


class _Progress(tqdm):
    """A progress bar without tqdm's monitor thread.

    The monitor would leave a thread running in this process, and a process with threads
    cannot safely fork the next ensemble's worker pool.
    """

    monitor_interval = 0


class ExperimentError(Exception):
    """A user-facing error in an experiment's set-up (the CLI prints it on one line, exit 2)."""


@dataclass(frozen=True)
class Task:
    """One run of an ensemble.

    Attributes:
        run_id: Position of the run in the ensemble (variant-major, from 0).
        variant: Label of the variant (scenario plus levers and overrides) this run belongs to.
        replicate: Replicate number within the variant, from 0; it selects the random stream.
        scenario: The variant's scenario.
        root_seed: The ensemble's root seed.

    """

    run_id: int
    variant: str
    replicate: int
    scenario: Scenario
    root_seed: int

    @property
    def seed(self) -> np.random.SeedSequence:
        """The run's seed, shared by replicate ``replicate`` of every variant."""
        return np.random.SeedSequence(self.root_seed, spawn_key=(self.replicate,))

    @property
    def seed_key(self) -> str:
        """The seed as text, ``"root/replicate"``."""
        return f"{self.root_seed}/{self.replicate}"


def make_tasks(variants: list[tuple[str, Scenario]], replicates: int,
               root_seed: int) -> list[Task]:
    """Build the tasks of an ensemble, variant-major, with common random numbers.

    Args:
        variants: ``(label, scenario)`` pairs; labels must be distinct and non-empty.
        replicates: Runs per variant (1 or more).
        root_seed: The ensemble's root seed (a non-negative whole number).

    Returns:
        ``len(variants) * replicates`` tasks; run ``v * replicates + r`` is replicate ``r`` of
        variant ``v`` and uses ``SeedSequence(root_seed, spawn_key=(r,))``.

    Raises:
        ExperimentError: On no variants, a bad or repeated label, or a bad count or seed.

    """
    if not variants:
        raise ExperimentError("no scenarios to run: give at least one scenario")
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise ExperimentError(f"replicates: expected a whole number of 1 or more, "
                              f"got {replicates!r}")
    if isinstance(root_seed, bool) or not isinstance(root_seed, int | np.integer) \
            or root_seed < 0:
        raise ExperimentError(f"seed: expected a whole number of 0 or more, got {root_seed!r}")
    seen: set[str] = set()
    for label, scenario in variants:
        if not isinstance(label, str) or not label.strip():
            raise ExperimentError(f"variant label: expected a non-empty text, got {label!r}")
        if label in seen:
            raise ExperimentError(f"variant label {label!r} is used twice; labels must differ")
        if not isinstance(scenario, Scenario):
            raise ExperimentError(f"variant {label!r}: expected a Scenario, "
                                  f"got {type(scenario).__name__}")
        seen.add(label)
    root = int(root_seed)
    return [Task(run_id=v * replicates + r, variant=label, replicate=r, scenario=scenario,
                 root_seed=root)
            for v, (label, scenario) in enumerate(variants) for r in range(replicates)]


def task_inputs(task: Task, params: Sequence[str] | None = None) -> dict:
    """Return the variant's inputs as row columns: every lever, then parameter overrides.

    Args:
        task: The task.
        params: Parameter names to report; a parameter the variant does not override shows its
            default. None reports exactly the variant's overrides.

    Returns:
        ``{"lever_<name>": value, ..., "param_<name>": value, ...}``.

    """
    row = {f"lever_{k}": v for k, v in asdict(task.scenario.levers).items()}
    overrides = dict(task.scenario.parameters)
    for name in (sorted(overrides) if params is None else params):
        row[f"param_{name}"] = overrides.get(name, PARAMETER_INDEX[name].default)
    return row


def series_long(run_id: int, frame: pd.DataFrame) -> pd.DataFrame:
    """Turn one run's monthly series into long format.

    Args:
        run_id: The run's id.
        frame: The wide monthly series of :func:`sim.simulate.simulate` (``month``, ``date``
            and one column per variable).

    Returns:
        A frame with columns ``run_id, month, variable, value`` ordered by month then variable.

    """
    variables = [c for c in frame.columns if c not in ("month", "date")]
    months = frame["month"].to_numpy(dtype=np.int64)
    values = frame[variables].to_numpy(dtype=np.float64)
    k = len(variables)
    return pd.DataFrame({
        "run_id": np.full(len(months) * k, run_id, dtype=np.int64),
        "month": np.repeat(months, k),
        "variable": np.tile(np.asarray(variables, dtype=object), len(months)),
        "value": values.ravel(),
    })


def run_task(task: Task, series: bool = False, *,
             params: Sequence[str] | None = None) -> tuple[dict, pd.DataFrame | None]:
    """Run one task (a pure, picklable, module-level function: safe on any executor).

    Args:
        task: The task.
        series: Whether to return the monthly series too.
        params: Parameter columns to include (see :func:`task_inputs`).

    Returns:
        ``(row, series)``: the row has ``run_id, variant, scenario, replicate, root_seed,
        seed_key``, the inputs (``lever_*``, ``param_*``) and every scalar output; the series is
        the long table of :func:`series_long`, or None.

    """
    result = simulate(task.scenario, task.seed, series=series)
    row = {"run_id": task.run_id, "variant": task.variant, "scenario": result.scenario,
           "replicate": task.replicate, "root_seed": task.root_seed,
           "seed_key": task.seed_key}
    row.update(task_inputs(task, params))
    row.update(result.outputs)
    return row, (series_long(task.run_id, result.series) if series else None)


def run_chunk(tasks: Sequence[Task], series: bool = False,
              params: Sequence[str] | None = None) -> list[tuple[dict, pd.DataFrame | None]]:
    """Run a chunk of tasks in one call (amortises the cost of sending work to a worker).

    Args:
        tasks: The tasks, run in order.
        series: Whether to return monthly series.
        params: Parameter columns to include in every row.

    Returns:
        One :func:`run_task` result per task, in order.

    """
    return [run_task(t, series, params=params) for t in tasks]


def chunk_size(n_tasks: int, slots: int) -> int:
    """Choose the runs per chunk: about 16 chunks per worker, at most :data:`MAX_CHUNK`.

    Args:
        n_tasks: Number of tasks.
        slots: How many chunks can run at once.

    Returns:
        A chunk size of at least 1.

    """
    return max(1, min(MAX_CHUNK, math.ceil(n_tasks / (max(1, slots) * 16))))


@dataclass
class EnsembleResult:
    """What an ensemble produced.

    Attributes:
        runs: One row per run, sorted by ``run_id``.
        series: Long monthly series ``(run_id, month, variable, value)``, or None.
        wall_time: Seconds from opening the executor to the last file written.
        files: Paths written, keyed ``"runs"`` and ``"series"``.

    """

    runs: pd.DataFrame
    series: pd.DataFrame | None
    wall_time: float
    files: dict[str, Path] = field(default_factory=dict)


def _check_format(fmt: str, writing: bool) -> None:
    if fmt not in ("csv", "parquet"):
        raise ExperimentError(f"format: {fmt!r} is not supported; use csv or parquet")
    if fmt == "parquet" and writing:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ExperimentError("format parquet needs pyarrow, which is not installed; "
                                  "install it with: pip install -e .[parquet] "
                                  "(or use --format csv)") from None


def temporary_name(path: Path) -> Path:
    """Return a unique hidden name next to ``path`` for an atomic write.

    The file is created by the writer, so it gets the usual permissions (umask), unlike
    ``tempfile.mkstemp``'s owner-only files.

    Args:
        path: The final path.

    Returns:
        ``.<name>.<random>.tmp`` in the same folder (so ``os.replace`` is atomic).

    """
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def _atomic_write(path: Path, write) -> None:
    tmp = temporary_name(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(frame: pd.DataFrame, path: Path, fmt: str = "csv") -> Path:
    """Write a table atomically, as CSV with fixed float formatting or as Parquet.

    Args:
        frame: The table.
        path: Destination without suffix handling (the caller chooses the name).
        fmt: ``"csv"`` or ``"parquet"``.

    Returns:
        The path written.

    """
    path = Path(path)
    if fmt == "parquet":
        _atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
    else:
        _atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False,
                                                     float_format=FLOAT_FORMAT,
                                                     lineterminator="\n"))
    return path


class _PartialSink:
    """Appends finished chunks to ``*.partial.csv`` files, flushing after each chunk."""

    def __init__(self, out_dir: Path, series: bool):
        self.runs_path = out_dir / "runs.partial.csv"
        self.series_path = out_dir / "series.partial.csv" if series else None
        self._runs = open(self.runs_path, "w", encoding="utf-8", newline="")
        self._series = (open(self.series_path, "w", encoding="utf-8", newline="")
                        if self.series_path else None)
        self._columns: list[str] | None = None
        self._series_header = True

    def write(self, results: list[tuple[dict, pd.DataFrame | None]]) -> None:
        rows = [r for r, _ in results]
        header = self._columns is None
        if header:
            self._columns = list(rows[0])
        pd.DataFrame(rows, columns=self._columns).to_csv(
            self._runs, index=False, header=header, float_format=FLOAT_FORMAT,
            lineterminator="\n")
        self._runs.flush()
        if self._series is not None:
            frames = [s for _, s in results if s is not None]
            if frames:
                pd.concat(frames, ignore_index=True).to_csv(
                    self._series, index=False, header=self._series_header,
                    float_format=FLOAT_FORMAT, lineterminator="\n")
                self._series_header = False
                self._series.flush()

    def close(self) -> None:
        self._runs.close()
        if self._series is not None:
            self._series.close()

    def remove(self) -> None:
        self.close()
        self.runs_path.unlink(missing_ok=True)
        if self.series_path is not None:
            self.series_path.unlink(missing_ok=True)


def run_ensemble(tasks: Sequence[Task], *, workers: int = 1, dask_scheduler: str | None = None,
                 out_dir: str | Path | None = None, series: bool = False, fmt: str = "csv",
                 progress: bool | None = None,
                 write_series: bool | None = None) -> EnsembleResult:
    """Run an ensemble on the chosen executor and collect tidy results.

    Args:
        tasks: Tasks from :func:`make_tasks` (any order; results are sorted by ``run_id``).
        workers: 1 runs serially in this process; 2..256 use a local process pool.
        dask_scheduler: Address of a Dask scheduler to run on instead (``tcp://host:port``).
        out_dir: Folder for ``runs.csv``/``runs.parquet`` (and ``series.*``); None writes
            nothing.
        series: Whether to collect monthly series (long format).
        fmt: ``"csv"`` or ``"parquet"`` (Parquet needs pyarrow).
        progress: None shows a progress bar only on a terminal; False never; True always.
        write_series: Whether to write the series file when ``series`` is on (default: yes).

    Returns:
        An :class:`EnsembleResult`; identical whatever the executor or worker count.

    Raises:
        ExperimentError: On no tasks, a bad worker count or format, a missing optional
            package or an unreachable Dask scheduler.

    """
    tasks = list(tasks)
    if not tasks:
        raise ExperimentError("no runs to do: the ensemble is empty")
    if len({t.run_id for t in tasks}) != len(tasks):
        raise ExperimentError("run ids must be unique within an ensemble")
    write_series = series if write_series is None else (series and write_series)
    check_workers(workers)
    _check_format(fmt, writing=out_dir is not None)
    out = None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
    params = sorted({name for t in tasks for name, _ in t.scenario.parameters})
    order = sorted(range(len(tasks)), key=lambda i: tasks[i].run_id)
    ordered = [tasks[i] for i in order]

    start = time.perf_counter()
    sink = _PartialSink(out, write_series) if out is not None else None
    try:
        with open_executor(workers, dask_scheduler) as executor:
            slots = parallelism(executor)
            size = chunk_size(len(ordered), slots)
            chunks = [ordered[i:i + size] for i in range(0, len(ordered), size)]
            results: list[list | None] = [None] * len(chunks)
            pending: dict[Future, int] = {}
            queue = iter(range(len(chunks)))

            def submit_next() -> None:
                i = next(queue, None)
                if i is not None:
                    pending[executor.submit(run_chunk, chunks[i], series, params)] = i

            with _Progress(total=len(ordered), unit="run", desc="ensemble",
                           disable=None if progress is None else not progress) as bar:
                for _ in range(2 * slots):
                    submit_next()
                while pending:
                    done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                    for fut in sorted(done, key=pending.__getitem__):
                        i = pending.pop(fut)
                        try:
                            results[i] = fut.result()
                        except BaseException:
                            for other in pending:
                                other.cancel()
                            raise
                        if sink is not None:
                            sink.write(results[i])
                        bar.update(len(chunks[i]))
                        submit_next()
    finally:
        if sink is not None:
            sink.close()

    flat = [item for chunk in results for item in chunk]
    runs = pd.DataFrame([row for row, _ in flat])
    series_frame = None
    if series:
        series_frame = pd.concat([s for _, s in flat], ignore_index=True)
    files: dict[str, Path] = {}
    if out is not None:
        ext = "parquet" if fmt == "parquet" else "csv"
        files["runs"] = write_table(runs, out / f"runs.{ext}", fmt)
        if write_series and series_frame is not None:
            files["series"] = write_table(series_frame, out / f"series.{ext}", fmt)
        sink.remove()
    return EnsembleResult(runs=runs, series=series_frame, wall_time=time.perf_counter() - start,
                          files=files)
