"""Ensembles: many runs of one or more scenario variants, on any executor, with tidy output.

An ensemble is a list of :class:`Task` built by :func:`make_tasks`: every variant (a labelled
scenario) times every replicate. Replicate *r* of every variant uses the same random stream,
``numpy.random.SeedSequence(root_seed, spawn_key=(r,))``, so variants are compared with common
random numbers: a difference between two variants is the lever's effect, not luck of the draw.

:func:`run_ensemble` sends the tasks in chunks to an executor from
:mod:`experiments.executors` (serial, local processes or a Dask cluster) and returns one row
per run, in ``run_id`` order, whatever the executor. Tables are byte-identical across
executors, worker counts, shards and interruptions.

Big experiments are safe:

- **Resumable.** With an output folder, every finished chunk is written, in one SQLite
  transaction, to the run store ``runs.sqlite`` (rows, failures and monthly series, exactly as
  the workers returned them; see :mod:`experiments.store`). A crash, Ctrl-C, ``kill -9`` or
  power loss costs at most the chunks in flight: ``resume=True`` (``--resume``) checks that the
  design and the model are unchanged, runs only the missing runs and builds the final tables
  from the store, exactly as an uninterrupted run does. ``series.csv``, ``failures.csv``
  and, last, ``runs.csv`` are written atomically at the end (temporary file, ``fsync``, rename), then the
  store is removed (kept in shard folders, for :func:`merge_results`). A folder is complete
  when its runs table exists (:func:`folder_state`).
- **Fault-tolerant.** A run that raises is recorded with its seed, inputs and traceback in the
  failures table and the ensemble goes on. A chunk lost with its worker (a killed process, a
  broken pool, a Dask ``KilledWorker``) is retried alone, halved until the culprit run is found,
  and that run is recorded as failed; innocent runs are never blamed.
- **Shardable.** ``shard=(i, K)`` runs only the runs with ``run_id % K == i``, for job-array
  schedulers; :func:`merge_results` joins the K shard folders into the unsharded result.

Analyses that need every run of a design call :func:`require_complete` first.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import re
import sys
import time
import traceback
import uuid
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from experiments.executors import check_workers, open_backend
from experiments.store import (
    STORE_NAME,
    MemoryStore,
    RunStore,
    StoreError,
    merge_stores,
    read_state,
    store_in_use,
)
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

OLD_JOURNAL_NAME = "runs.journal"
"""File name of the binary journal of earlier versions (a folder holding one must be re-run)."""

RETRIES = 2
"""How many more times a chunk lost with its worker is retried alone before it is halved."""

LOST_IN_A_ROW = 3
"""An ensemble stops (resumable) when this many runs in a row are lost with their workers."""

FAILURE_COLUMNS = ("run_id", "variant", "scenario", "replicate", "root_seed", "seed_key",
                   "error", "message", "traceback", "scenario_source", "scenario_digest")
"""First columns of the failures table; the run's inputs (``lever_*``, ``param_*``) follow."""

SERIES_BATCH = 64
"""Runs per block when the series table is written (fixed, so files do not depend on chunks)."""

_TMP = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")


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


def _long_frame(run_ids: Sequence[int], months: Sequence[np.ndarray],
                values: Sequence[np.ndarray], variables: Sequence[str]) -> pd.DataFrame:
    """Long series of several runs (``run_ids[i]`` has ``months[i]`` and ``values[i]``)."""
    k = len(variables)
    counts = [len(m) for m in months]
    total = sum(counts)
    return pd.DataFrame({
        "run_id": np.repeat(np.asarray(run_ids, dtype=np.int64),
                            np.asarray(counts, dtype=np.int64) * k),
        "month": np.repeat(np.concatenate(months).astype(np.int64, copy=False) if months
                           else np.empty(0, dtype=np.int64), k),
        "variable": np.tile(np.asarray(variables, dtype=object), total),
        "value": (np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in values])
                  if values else np.empty(0, dtype=np.float64)),
    })


def _wide(frame: pd.DataFrame) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Split a wide monthly series into variable names, months and a months x variables array."""
    variables = tuple(c for c in frame.columns if c not in ("month", "date"))
    return (variables, frame["month"].to_numpy(dtype=np.int64),
            np.ascontiguousarray(frame[list(variables)].to_numpy(dtype=np.float64)))


def series_long(run_id: int, frame: pd.DataFrame) -> pd.DataFrame:
    """Turn one run's monthly series into long format.

    Args:
        run_id: The run's id.
        frame: The wide monthly series of :func:`sim.simulate.simulate` (``month``, ``date``
            and one column per variable).

    Returns:
        A frame with columns ``run_id, month, variable, value`` ordered by month then variable.

    """
    variables, months, values = _wide(frame)
    return _long_frame([run_id], [months], [values], variables)


def _row(task: Task, name: str, outputs: dict, params: Sequence[str] | None) -> dict:
    row = {"run_id": task.run_id, "variant": task.variant, "scenario": name,
           "replicate": task.replicate, "root_seed": task.root_seed,
           "seed_key": task.seed_key}
    row.update(task_inputs(task, params))
    row.update(outputs)
    return row


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
    row = _row(task, result.scenario, result.outputs, params)
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


# --- what a worker sends back --------------------------------------------------------------------

@dataclass
class RunOutcome:
    """One run's result as a worker returns it: a row, or a failure record.

    Attributes:
        run_id: The run's id.
        row: The runs-table row (plain Python values), or None if the run failed.
        failure: The failures-table record, or None if the run succeeded.
        months: Months of the monthly series, or None.
        values: Monthly series, months x variables, or None.

    """

    run_id: int
    row: dict | None = None
    failure: dict | None = None
    months: np.ndarray | None = None
    values: np.ndarray | None = None


@dataclass
class ChunkOutcome:
    """A chunk's results, with the model version of the worker that produced them.

    Attributes:
        runs: One :class:`RunOutcome` per task of the chunk.
        variables: Names of the series variables (columns of ``values``), or None.
        model_digest: :func:`model_digest` of the worker.

    """

    runs: list[RunOutcome]
    variables: tuple[str, ...] | None
    model_digest: str


def _plain(value):
    """A numpy scalar as the Python scalar it holds (rows must survive JSON exactly)."""
    return value.item() if isinstance(value, np.generic) else value


def failure_record(task: Task, error: BaseException, params: Sequence[str] | None,
                   message: str | None = None) -> dict:
    """The failures-table record of a run: its seed, inputs and traceback.

    Args:
        task: The run.
        error: What it raised (or what was raised when its worker was lost).
        params: Parameter columns of the ensemble (see :func:`task_inputs`).
        message: Message to record instead of ``str(error)``.

    Returns:
        A dictionary with the :data:`FAILURE_COLUMNS` and the run's inputs.

    """
    record = {
        "run_id": task.run_id, "variant": task.variant, "scenario": task.scenario.name,
        "replicate": task.replicate, "root_seed": task.root_seed, "seed_key": task.seed_key,
        "error": type(error).__name__,
        "message": str(error) if message is None else message,
        "traceback": "".join(traceback.format_exception(error)).rstrip("\n"),
        "scenario_source": task.scenario.source, "scenario_digest": task.scenario.digest,
    }
    record.update({k: _plain(v) for k, v in task_inputs(task, params).items()})
    return record


def run_chunk_safe(tasks: Sequence[Task], series: bool = False,
                   params: Sequence[str] | None = None) -> ChunkOutcome:
    """Run a chunk, recording any run that raises instead of stopping (what workers execute).

    Args:
        tasks: The tasks, run in order.
        series: Whether to return monthly series.
        params: Parameter columns to include in every row.

    Returns:
        A :class:`ChunkOutcome` with one outcome per task.

    """
    runs: list[RunOutcome] = []
    variables = None
    for task in tasks:
        try:
            result = simulate(task.scenario, task.seed, series=series)
            row = {k: _plain(v) for k, v in _row(task, result.scenario, result.outputs,
                                                 params).items()}
            outcome = RunOutcome(task.run_id, row=row)
            if series:
                names, outcome.months, outcome.values = _wide(result.series)
                if variables is None:
                    variables = names
                elif names != variables:
                    raise RuntimeError(f"series variables changed between runs: {names}")
        except Exception as exc:  # noqa: BLE001 - recorded in the failures table
            outcome = RunOutcome(task.run_id, failure=failure_record(task, exc, params))
        runs.append(outcome)
    return ChunkOutcome(runs=runs, variables=variables, model_digest=model_digest())


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
        runs: One row per finished run, sorted by ``run_id`` (failed runs have no row).
        series: Long monthly series ``(run_id, month, variable, value)``, or None.
        wall_time: Seconds from opening the executor to the last file written.
        files: Paths written, keyed ``"runs"``, ``"series"`` and ``"failures"``.
        failures: One record per failed run (:data:`FAILURE_COLUMNS` and inputs), sorted by
            ``run_id``; empty when every run finished.
        planned: Runs this ensemble (or shard) was asked for.
        reused: Runs taken from the run store of an interrupted attempt (``resume``).

    """

    runs: pd.DataFrame
    series: pd.DataFrame | None
    wall_time: float
    files: dict[str, Path] = field(default_factory=dict)
    failures: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(FAILURE_COLUMNS)))
    planned: int = 0
    reused: int = 0

    @property
    def n_failed(self) -> int:
        """How many runs failed."""
        return int(len(self.failures))


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


# --- atomic files --------------------------------------------------------------------------------

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


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (a rename, a new file) durable; a no-op where unsupported.

    Args:
        path: The folder.

    """
    if sys.platform.startswith("win"):
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, write) -> None:
    """Write through ``write(tmp)``, fsync, rename into place, fsync the folder."""
    tmp = temporary_name(path)
    try:
        write(tmp)
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


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


def remove_stale_temporaries(folder: Path) -> int:
    """Delete temporary files left by an atomic write that was killed (``.NAME.XXXX.tmp``).

    Args:
        folder: The output folder.

    Returns:
        How many were removed.

    """
    n = 0
    for p in Path(folder).iterdir():
        if p.is_file() and _TMP.match(p.name):
            p.unlink(missing_ok=True)
            n += 1
    return n


# --- shards and the identity of a design ---------------------------------------------------------

def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``"I/K"`` (shard I of K, numbered from 0).

    Args:
        text: The option value, e.g. ``"0/4"``.

    Returns:
        ``(index, count)``.

    Raises:
        ExperimentError: Unless it is ``I/K`` with whole numbers ``0 <= I < K <= 100000``.

    """
    m = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", str(text))
    if not m:
        raise ExperimentError(f"--shard: {text!r} is not I/K; use e.g. 0/4 for the first of "
                              f"four shards (shards are numbered from 0)")
    index, count = int(m.group(1)), int(m.group(2))
    check_shard((index, count))
    return index, count


def check_shard(shard) -> tuple[int, int] | None:
    """Validate a shard ``(index, count)`` (None means no sharding).

    Args:
        shard: ``(index, count)`` or None.

    Returns:
        The shard as a tuple of ints, or None.

    Raises:
        ExperimentError: Unless ``0 <= index < count <= 100000``.

    """
    if shard is None:
        return None
    try:
        index, count = shard
    except (TypeError, ValueError):
        raise ExperimentError(f"--shard: expected (index, count), got {shard!r}") from None
    if any(isinstance(v, bool) or not isinstance(v, int | np.integer) for v in (index, count)):
        raise ExperimentError(f"--shard: expected whole numbers, got {shard!r}")
    if not 1 <= count <= 100_000:
        raise ExperimentError(f"--shard: {count} shards is out of range; allowed 1..100000")
    if not 0 <= index < count:
        raise ExperimentError(f"--shard: shard {index} of {count} is out of range; allowed "
                              f"0..{count - 1} (shards are numbered from 0)")
    return int(index), int(count)


def select_shard(tasks: Sequence[Task], shard: tuple[int, int] | None) -> list[Task]:
    """The tasks of one shard: those with ``run_id % count == index``, in ``run_id`` order.

    Dealing runs round-robin gives every shard a share of every variant, so shards of a job
    array take about the same time.

    Args:
        tasks: The whole design.
        shard: ``(index, count)``, or None for every task.

    Returns:
        The shard's tasks, sorted by ``run_id``.

    """
    ordered = sorted(tasks, key=lambda t: t.run_id)
    if shard is None:
        return ordered
    index, count = check_shard(shard)
    return [t for t in ordered if t.run_id % count == index]


def _scenario_key(scenario: Scenario) -> str:
    """What a scenario means for a run (its path and raw text left out)."""
    return hashlib.sha256(repr(replace(scenario, source="", text="")).encode()).hexdigest()


def design_digest(tasks: Sequence[Task], series: bool, params: Sequence[str]) -> str:
    """A digest of a design: every task's id, variant, replicate, seed and scenario meaning.

    Two designs with the same digest give the same rows, so an interrupted ensemble may be
    resumed and shards merged only when their digests agree.

    Args:
        tasks: The whole design (any order).
        series: Whether monthly series are collected.
        params: Parameter columns of the rows.

    Returns:
        A SHA-256 hex digest.

    """
    h = hashlib.sha256()
    h.update(json.dumps({"series": bool(series), "params": list(params),
                         "n": len(tasks)}).encode())
    keys: dict[int, str] = {}
    for t in sorted(tasks, key=lambda t: t.run_id):
        key = keys.get(id(t.scenario))
        if key is None:
            key = keys[id(t.scenario)] = _scenario_key(t.scenario)
        h.update(f"{t.run_id}\x1f{t.variant}\x1f{t.replicate}\x1f{t.root_seed}\x1f{key}\x1e"
                 .encode())
    return h.hexdigest()


@functools.cache
def model_digest() -> str:
    """A digest of the code and libraries that decide a run's results.

    It covers the source of ``sim/`` and ``agents/`` and the versions of Python, numpy and
    mesa. Resuming refuses a changed model, merging refuses shards of different models, and
    every chunk a worker returns carries the worker's digest. (The layout of the rows is
    checked separately, when the tables are built: every row must have the same columns.)

    Returns:
        A SHA-256 hex digest (cached for the process).

    """
    import agents
    import sim

    h = hashlib.sha256()
    for package in (sim, agents):
        base = Path(package.__file__).resolve().parent
        for path in sorted(base.rglob("*.py")):
            h.update(f"{package.__name__}/{path.relative_to(base).as_posix()}\0".encode())
            h.update(path.read_bytes())
    versions = [f"python {sys.version_info[0]}.{sys.version_info[1]}"]
    for dist in ("numpy", "mesa"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} -")
    h.update("\n".join(versions).encode())
    return h.hexdigest()


# --- the store ---------------------------------------------------------------------------------

@contextlib.contextmanager
def _one_line():
    """Turn the store's errors into :class:`ExperimentError` (one line for the user)."""
    try:
        yield
    except StoreError as exc:
        raise ExperimentError(str(exc)) from None


def folder_in_use(folder: str | Path) -> bool:
    """Whether a process (this one included) is running an experiment in ``folder`` right now.

    Args:
        folder: An output folder.

    Returns:
        True if the writer's lock of its run store is held by a live process.

    """
    return store_in_use(Path(folder) / STORE_NAME)


# --- folders -------------------------------------------------------------------------------------

@dataclass
class FolderState:
    """What an output folder holds.

    Attributes:
        state: ``"absent"``, ``"empty"``, ``"unfinished"``, ``"complete"`` or ``"other"``
            (files that are not an experiment's, or not a folder at all).
        done: Runs finished (or failed) so far, per the run store.
        planned: Runs the folder is to finish (0 if unknown).
        failed: Runs that failed so far.
        shard: ``(index, count)`` of a shard folder, or None.

    """

    state: str
    done: int = 0
    planned: int = 0
    failed: int = 0
    shard: tuple[int, int] | None = None


def _final_tables(folder: Path) -> list[Path]:
    """The runs tables in ``folder`` (written last, so they mark a complete folder)."""
    return [p for p in (folder / "runs.csv", folder / "runs.parquet") if p.is_file()]


def folder_state(folder: str | Path) -> FolderState:
    """Look at an output folder: absent, empty, an unfinished or complete experiment, or other.

    Args:
        folder: The folder.

    Returns:
        A :class:`FolderState`.

    """
    folder = Path(folder)
    if not folder.exists():
        return FolderState("absent")
    if not folder.is_dir():
        return FolderState("other")
    names = {p.name for p in folder.iterdir() if not _TMP.match(p.name)}
    if STORE_NAME not in names:  # a writer killed as it created its store leaves its lock file
        names -= {STORE_NAME + side for side in ("-wal", "-shm", ".lock")}
    if not names:
        return FolderState("empty")
    if STORE_NAME in names:
        try:
            info = read_state(folder / STORE_NAME)
        except StoreError:
            return FolderState("unfinished")  # damaged: --resume says so on one line
        shard = info["shard"]
        return FolderState("complete" if info["complete"] and _final_tables(folder)
                           else "unfinished",
                           done=info["done"], planned=info["planned"], failed=info["failed"],
                           shard=tuple(shard) if shard else None)
    if OLD_JOURNAL_NAME in names and not _final_tables(folder):
        return FolderState("unfinished")  # the old journal format: --resume says to re-run
    if _final_tables(folder):
        return FolderState("complete")
    if names == {"manifest.json"}:
        return FolderState("unfinished")  # killed before the first run finished
    return FolderState("other")


# --- finishing: the tables, from any store -------------------------------------------------------

class _SeriesWriter:
    """Writes the long series table block by block to a temporary file, then renames it."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt = path, fmt
        self.tmp = temporary_name(path)
        self._fh = None
        self._parquet = None
        self._header = True

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.tmp, table.schema)
            self._parquet.write_table(table)
            return
        if self._fh is None:
            self._fh = open(self.tmp, "w", encoding="utf-8", newline="")  # noqa: SIM115
        frame.to_csv(self._fh, index=False, header=self._header, float_format=FLOAT_FORMAT,
                     lineterminator="\n")
        self._header = False

    def commit(self, empty: pd.DataFrame) -> Path:
        if self._fh is None and self._parquet is None:
            self.write(empty)
        if self._parquet is not None:
            self._parquet.close()
        if self._fh is not None:
            self._fh.close()
        _fsync_file(self.tmp)
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)
        return self.path

    def abort(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._fh is not None:
            self._fh.close()
        Path(self.tmp).unlink(missing_ok=True)


def _finish(store, out: Path | None, *, series: bool, keep_series: bool,
            write_series: bool, fmt: str) -> tuple[pd.DataFrame, pd.DataFrame | None,
                                                   pd.DataFrame, dict[str, Path]]:
    """Build (and write) the tables from finished runs, identically whatever the store."""
    ordered = store.rows()
    failures = store.failures()
    variables = store.variables
    if ordered:
        columns = list(ordered[0])
        odd = next((r for r in ordered if list(r) != columns), None)
        if odd is not None:
            raise ExperimentError(
                f"run {odd['run_id']} has other columns than run {ordered[0]['run_id']} (the "
                f"code that builds the rows changed between attempts or shards); start afresh "
                f"with --force")
    runs = pd.DataFrame(ordered)
    if failures:
        fail = pd.DataFrame(failures)
    else:
        fail = pd.DataFrame(columns=list(FAILURE_COLUMNS))
    files: dict[str, Path] = {}
    ext = "parquet" if fmt == "parquet" else "csv"
    series_frame = None
    if series and (keep_series or (write_series and out is not None)):
        writer = _SeriesWriter(out / f"series.{ext}", fmt) \
            if write_series and out is not None else None
        kept = []
        ids = store.series_ids()
        names = variables or ()
        try:
            for start in range(0, len(ids), SERIES_BATCH):
                block = ids[start:start + SERIES_BATCH]
                pairs = store.read_series(block)
                frame = _long_frame(block, [m for m, _ in pairs], [v for _, v in pairs], names)
                if writer is not None:
                    writer.write(frame)
                if keep_series:
                    kept.append(frame)
            empty = _long_frame([], [], [], names)
            if writer is not None:
                files["series"] = writer.commit(empty)
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        if keep_series:
            series_frame = pd.concat(kept, ignore_index=True) if kept else empty
    if out is not None:
        if failures:
            files["failures"] = write_table(fail, out / "failures.csv", "csv")
        else:
            (out / "failures.csv").unlink(missing_ok=True)
        # The runs table last: its presence marks the folder complete (see folder_state).
        files["runs"] = write_table(runs, out / f"runs.{ext}", fmt)
    return runs, series_frame, fail, files


# --- running -------------------------------------------------------------------------------------

@dataclass
class _Chunk:
    tasks: list[Task]
    isolated_failures: int = 0


def _execute(backend, todo: list[Task], store, *, series: bool, params: list[str],
             bar, retries: int) -> None:
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
                    store.add([RunOutcome(task.run_id, failure=failure_record(
                        task, exc, params, message))], None)
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
            bar.update(len(chunk.tasks))
            lost_in_a_row = 0
        fill()


def run_ensemble(tasks: Sequence[Task], *, workers: int = 1, dask_scheduler: str | None = None,
                 out_dir: str | Path | None = None, series: bool = False, fmt: str = "csv",
                 progress: bool | None = None, write_series: bool | None = None,
                 resume: bool = False, shard: tuple[int, int] | None = None,
                 retry_failed: bool = False, keep_series: bool = True,
                 keep_store: bool | None = None, retries: int = RETRIES) -> EnsembleResult:
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
    with _one_line():
        if out_dir is None:
            store = MemoryStore()
        else:
            out = Path(out_dir)
            if out.exists() and not out.is_dir():
                raise ExperimentError(f"--out: {out} exists and is not a folder")
            out.mkdir(parents=True, exist_ok=True)
            store = _open_store(out, tasks, selected, series=series, params=params,
                                shard=shard, resume=resume)
        try:
            done = store.done(retry_failed) & {t.run_id for t in selected}
            todo = [t for t in selected if t.run_id not in done]
            with _Progress(total=len(selected), initial=len(done), unit="run", desc="ensemble",
                           disable=None if progress is None else not progress) as bar:
                if todo:
                    with open_backend(workers, dask_scheduler) as backend:
                        _execute(backend, todo, store, series=series, params=params, bar=bar,
                                 retries=retries)
            runs, series_frame, failures, files = _finish(
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


def _old_journal_error(out: Path) -> ExperimentError:
    return ExperimentError(
        f"--resume: {out} holds an experiment interrupted under the old journal format "
        f"({OLD_JOURNAL_NAME}), which this version cannot resume; it must be re-run: use "
        f"--force (or another folder)")


def _open_store(out: Path, tasks: list[Task], selected: list[Task], *, series: bool,
                params: list[str], shard, resume: bool) -> RunStore:
    path = out / STORE_NAME
    meta = _meta(tasks, selected, series, params, shard)
    if not path.exists():
        if resume and (out / OLD_JOURNAL_NAME).is_file():
            raise _old_journal_error(out)
        if resume and _final_tables(out):
            raise ExperimentError(f"{out}: the experiment is already complete; nothing to "
                                  f"resume (use --force to run it again)")
        remove_stale_temporaries(out)
        return RunStore.create(path, meta)
    if not resume:
        if store_in_use(path):
            raise ExperimentError(f"{out}: in use by another running experiment; wait for it "
                                  f"or choose another folder")
        if _final_tables(out):
            raise ExperimentError(f"{out}: already holds an experiment's results (runs table "
                                  f"and {STORE_NAME}); use another folder, or --force to "
                                  f"run it again")
        raise ExperimentError(f"{out}: holds an unfinished experiment ({STORE_NAME}); add "
                              f"--resume to finish it, or --force to start afresh")
    store = RunStore.open(path)
    try:
        _check_meta(out, store.meta, meta)
    except BaseException:
        store.close()
        raise
    remove_stale_temporaries(out)
    return store


def _meta(tasks: list[Task], selected: list[Task], series: bool, params: list[str],
          shard) -> dict:
    return {"design_digest": design_digest(tasks, series, params),
            "model_digest": model_digest(), "n_design": len(tasks),
            "shard": list(shard) if shard else None, "series": bool(series),
            "params": params, "run_ids": [t.run_id for t in selected],
            "created": datetime.now(UTC).isoformat(timespec="seconds")}


def check_resume(out_dir: str | Path, tasks: Sequence[Task], *, series: bool = False,
                 shard: tuple[int, int] | None = None) -> None:
    """Check, without changing anything, that ``out_dir`` can be resumed with ``tasks``.

    Jobs call this before rewriting the manifest, so that a wrong ``--resume`` leaves the
    interrupted experiment's folder untouched. A folder without a run store passes, unless
    it holds the old journal format.

    Args:
        out_dir: The output folder.
        tasks: The whole design.
        series: Whether monthly series are collected.
        shard: The shard to resume, or None.

    Raises:
        ExperimentError: If the folder holds another design, shard or model version, a
            damaged store, or an experiment interrupted under the old journal format.

    """
    out = Path(out_dir)
    path = out / STORE_NAME
    if not path.is_file():
        if (out / OLD_JOURNAL_NAME).is_file() and not _final_tables(out):
            raise _old_journal_error(out)
        return
    tasks = list(tasks)
    shard = check_shard(shard)
    params = sorted({name for t in tasks for name, _ in t.scenario.parameters})
    with _one_line():
        store = RunStore.open(path, write=False, check=True)
    try:
        _check_meta(out, store.meta, _meta(tasks, select_shard(tasks, shard), series, params,
                                           shard))
    finally:
        store.close()


def _check_meta(out: Path, old: dict, meta: dict) -> None:
    """Refuse to resume a store whose design, shard or model differs from ``meta``'s."""
    if old.get("design_digest") != meta["design_digest"]:
        raise ExperimentError(
            f"--resume: {out} holds a different experiment (the scenarios, levers, "
            f"parameters, replicates, seed or series differ from the interrupted run's); "
            f"resume it with its original command, or start afresh with --force")
    if (old.get("shard") or None) != meta["shard"]:
        was = "/".join(map(str, old["shard"])) if old.get("shard") else "no shard"
        now = "/".join(map(str, meta["shard"])) if meta["shard"] else "no shard"
        raise ExperimentError(f"--resume: {out} was started as shard {was}, not {now}")
    if old.get("model_digest") != meta["model_digest"]:
        raise ExperimentError(
            f"--resume: {out} was started with a different version of the model (sim/, "
            f"agents/, numpy or mesa changed since); mixing two versions would not give "
            f"the results of one uninterrupted run; start afresh with --force")


def merge_results(dirs: Sequence[str | Path], out_dir: str | Path, *, fmt: str = "csv",
                  series: bool = True, write_series: bool = True, keep_series: bool = True,
                  progress: bool | None = None) -> EnsembleResult:
    """Join the folders of the K shards of one design into the result of the unsharded run.

    The shards' run stores are attached one by one (SQLite ``ATTACH``, read-only) to a
    temporary database, checked and copied in (:func:`experiments.store.merge_stores`); the
    tables are then built from it exactly as an unsharded run builds them.

    Args:
        dirs: The shard folders (each finished with ``shard=(i, K)``, store kept), any order.
        out_dir: Folder for the merged tables (created; must not be one of ``dirs``).
        fmt: ``"csv"`` or ``"parquet"`` for the merged tables.
        series: Whether to build the monthly series (if the shards collected them).
        write_series: Whether to write the merged series file.
        keep_series: Return the series in the result.
        progress: Unused (merging is quick); accepted for symmetry with :func:`run_ensemble`.

    Returns:
        The :class:`EnsembleResult` an unsharded run of the design gives (byte-identical
        tables).

    Raises:
        ExperimentError: If a folder is not a finished shard, the shards come from different
            designs or model versions, or a shard is missing or given twice.

    """
    del progress
    _check_format(fmt, writing=True)
    dirs = [Path(d) for d in dirs]
    if not dirs:
        raise ExperimentError("merge: give the shard folders to merge")
    out = Path(out_dir)
    for d in dirs:
        if not d.is_dir():
            raise ExperimentError(f"merge: {d} is not a folder")
        if d.resolve() == out.resolve():
            raise ExperimentError(f"merge: --out {out} is one of the shard folders; choose "
                                  f"another folder")
    for d in dirs:
        if not (d / STORE_NAME).is_file():
            hint = (" (it is an unsharded result)" if _final_tables(d) else "")
            raise ExperimentError(f"merge: {d} is not a shard folder: no {STORE_NAME}"
                                  f"{hint}; run each shard with --shard I/K")
        if folder_in_use(d):
            raise ExperimentError(f"merge: {d} is still being run by another process")
    seen: dict[int, Path] = {}
    first: dict = {}
    expected = 0

    def check(path: Path, meta: dict, done: set[int]) -> None:
        nonlocal expected
        d = path.parent
        if not meta.get("shard"):
            raise ExperimentError(f"merge: {d} was not run with --shard")
        if not first:
            first.update(meta)
        index, k = meta["shard"]
        if meta.get("design_digest") != first.get("design_digest") or k != first["shard"][1]:
            raise ExperimentError(f"merge: {d} is a shard of a different experiment than "
                                  f"{dirs[0]} (design or shard count differs)")
        if meta.get("model_digest") != first.get("model_digest"):
            raise ExperimentError(f"merge: {d} was run with a different version of the "
                                  f"model than {dirs[0]}; re-run it with the same code")
        if index in seen:
            raise ExperimentError(f"merge: shard {index}/{k} is given twice ({seen[index]} "
                                  f"and {d})")
        seen[index] = d
        ids = [int(i) for i in meta.get("run_ids", [])]
        missing = set(ids) - done
        if missing:
            raise ExperimentError(f"merge: shard {index}/{k} in {d} is unfinished "
                                  f"({len(missing)} of {len(ids)} runs missing); "
                                  f"finish it with --resume")
        expected += len(ids)

    with _one_line():
        merged = merge_stores([d / STORE_NAME for d in dirs], check)
    try:
        count = first["shard"][1]
        absent = sorted(set(range(count)) - set(seen))
        if absent:
            raise ExperimentError(f"merge: shards {', '.join(f'{i}/{count}' for i in absent)} "
                                  f"are missing; give all {count} shard folders")
        if expected != first.get("n_design"):
            raise ExperimentError(f"merge: the shards hold {expected} runs but the design has "
                                  f"{first.get('n_design')}")
        start = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        collected = bool(first.get("series"))
        with _one_line():
            runs, series_frame, failures, files = _finish(
                merged, out, series=series and collected, keep_series=keep_series,
                write_series=write_series, fmt=fmt)
    finally:
        merged.close()
    return EnsembleResult(runs=runs, series=series_frame if series and collected else None,
                          wall_time=time.perf_counter() - start, files=files,
                          failures=failures, planned=expected, reused=expected)


# --- analyses of designs with gaps ---------------------------------------------------------------

def missing_run_ids(runs: pd.DataFrame, n_expected: int,
                    expected_ids: Sequence[int] | None = None) -> list[int]:
    """Run ids of a design that have no row in ``runs``.

    Args:
        runs: The runs table (with a ``run_id`` column).
        n_expected: Size of the design; its run ids are ``0 .. n_expected - 1``.
        expected_ids: The design's run ids when they are not ``0 .. n_expected - 1``.

    Returns:
        The missing run ids, sorted.

    """
    ids = range(int(n_expected)) if expected_ids is None else expected_ids
    present = set(runs["run_id"].tolist()) if "run_id" in runs.columns else set()
    return sorted(int(i) for i in ids if int(i) not in present)


def require_complete(runs: pd.DataFrame, n_expected: int, on_missing: str = "error", *,
                     expected_ids: Sequence[int] | None = None,
                     what: str = "this analysis") -> pd.DataFrame:
    """Check that every run of a design is present before computing indices from it.

    A design with missing rows (runs that failed, or an unfinished experiment) silently biases
    estimators that assume the full design (Sobol', Morris, paired differences), so analyses
    call this first and the caller states how to handle gaps.

    Args:
        runs: The runs table, with a ``run_id`` column.
        n_expected: Size of the design; its run ids are ``0 .. n_expected - 1``.
        on_missing: ``"error"`` (default) refuses a design with missing rows; ``"drop"`` returns
            the rows present (the caller then drops whatever design groups the gaps break).
        expected_ids: The design's run ids when they are not ``0 .. n_expected - 1``.
        what: Name of the analysis, for the error message.

    Returns:
        The runs sorted by ``run_id`` (index reset). The missing ids are in
        ``result.attrs["missing_run_ids"]`` (an empty list when nothing is missing).

    Raises:
        ExperimentError: On missing rows with ``on_missing="error"``, a bad ``on_missing``, a
            run id outside the design or a run id present twice (never tolerated).

    """
    if on_missing not in ("error", "drop"):
        raise ExperimentError(f"on_missing: {on_missing!r} is not allowed; use 'error' or 'drop'")
    if "run_id" not in runs.columns:
        raise ExperimentError(f"{what}: the runs table has no run_id column")
    ids = list(range(int(n_expected))) if expected_ids is None else [int(i) for i in expected_ids]
    allowed = set(ids)
    run_ids = runs["run_id"]
    dup = sorted(set(run_ids[run_ids.duplicated()].astype(int).tolist()))
    if dup:
        raise ExperimentError(f"{what}: run ids present twice: {_id_list(dup)}")
    extra = sorted(int(i) for i in run_ids if int(i) not in allowed)
    if extra:
        raise ExperimentError(f"{what}: run ids outside the design of {len(ids)} runs: "
                              f"{_id_list(extra)}")
    missing = missing_run_ids(runs, len(ids), ids)
    if missing and on_missing == "error":
        raise ExperimentError(
            f"{what}: {len(missing)} of {len(ids)} runs of the design are missing (run ids "
            f"{_id_list(missing)}); finish the experiment with --resume (add --retry-failed "
            f"to retry failed runs; see failures.csv), or pass on_missing='drop' to analyse "
            f"the runs present")
    out = runs.sort_values("run_id", kind="stable").reset_index(drop=True)
    out.attrs["missing_run_ids"] = missing
    return out


def _id_list(ids: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f", ... ({len(ids) - limit} more)" if len(ids) > limit else "")
