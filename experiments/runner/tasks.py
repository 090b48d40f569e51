"""Tasks of an ensemble: runs, their seeds, shards, digests and what a worker returns.

An ensemble is a list of :class:`Task` built by :func:`make_tasks`: every variant (a labelled
scenario) times every replicate. Replicate *r* of every variant uses the same random stream,
``numpy.random.SeedSequence(root_seed, spawn_key=(r,))``, so variants are compared with common
random numbers: a difference between two variants is the lever's effect, not luck of the draw.

Workers execute :func:`run_chunk_safe`, which records a run that raises instead of stopping.
``shard=(i, K)`` selects the runs with ``run_id % K == i`` (:func:`select_shard`), and
:func:`design_digest` and :func:`model_digest` identify a design and the model that runs it.
Analyses that need every run of a design call :func:`require_complete` first.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import sys
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.errors import ExperimentError
from experiments.runner.posterior import ParameterPlan
from sim.parameters import PARAMETER_INDEX
from sim.scenario import Scenario
from sim.simulate import simulate

SEED_SCHEME = "numpy.random.SeedSequence(root_seed, spawn_key=(replicate,))"
"""How a run's seed derives from the root seed (recorded in the manifest)."""

MAX_CHUNK = 64
"""Largest number of runs sent to a worker in one call."""

FAILURE_COLUMNS = ("run_id", "variant", "scenario", "replicate", "root_seed", "seed_key",
                   "parameter_set",
                   "error", "message", "traceback", "scenario_source", "scenario_digest")
"""First columns of the failures table; the run's inputs (``lever_*``, ``param_*``) follow."""


@dataclass(frozen=True)
class Task:
    """One run of an ensemble.

    Attributes:
        run_id: Position of the run in the ensemble (variant-major, from 0).
        variant: Label of the variant (scenario plus levers and overrides) this run belongs to.
        replicate: Replicate number within the variant, from 0; it selects the random stream.
        scenario: The variant's scenario.
        root_seed: The ensemble's root seed.
        parameter_set: The posterior set this run uses (-1: the registry defaults).
        model_scenario: What the model runs: ``scenario`` with the set's parameters under the
            scenario's own overrides (an experiment's explicit parameter wins). None: ``scenario``.

    """

    run_id: int
    variant: str
    replicate: int
    scenario: Scenario
    root_seed: int
    parameter_set: int = -1
    model_scenario: Scenario | None = None

    @property
    def runs(self) -> Scenario:
        """The scenario the model runs (the variant's, with its parameter set applied)."""
        return self.scenario if self.model_scenario is None else self.model_scenario

    @property
    def seed(self) -> np.random.SeedSequence:
        """The run's seed, shared by replicate ``replicate`` of every variant."""
        return np.random.SeedSequence(self.root_seed, spawn_key=(self.replicate,))

    @property
    def seed_key(self) -> str:
        """The seed as text, ``"root/replicate"``."""
        return f"{self.root_seed}/{self.replicate}"


def make_tasks(variants: list[tuple[str, Scenario]], replicates: int,
               root_seed: int, plan: ParameterPlan | None = None) -> list[Task]:
    """Build the tasks of an ensemble, variant-major, with common random numbers.

    Args:
        variants: ``(label, scenario)`` pairs; labels must be distinct and non-empty.
        replicates: Runs per variant (1 or more).
        root_seed: The ensemble's root seed (a non-negative whole number).
        plan: Which parameter set each replicate runs (None: the registry defaults). Replicate
            ``r`` of every variant runs the same set, so variants stay paired.

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
    if plan is None or plan.mode == "defaults":
        return [Task(run_id=v * replicates + r, variant=label, replicate=r, scenario=scenario,
                     root_seed=root)
                for v, (label, scenario) in enumerate(variants) for r in range(replicates)]
    sets = plan.sets(replicates, root)
    tasks = []
    for v, (label, scenario) in enumerate(variants):
        merged: dict[int, Scenario] = {}
        for r in range(replicates):
            k = sets[r]
            if k not in merged:
                merged[k] = plan.apply(scenario, k)
            tasks.append(Task(run_id=v * replicates + r, variant=label, replicate=r,
                              scenario=scenario, root_seed=root, parameter_set=k,
                              model_scenario=merged[k]))
    return tasks


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


def long_frame(run_ids: Sequence[int], months: Sequence[np.ndarray],
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
    return long_frame([run_id], [months], [values], variables)


def _row(task: Task, name: str, outputs: dict, params: Sequence[str] | None) -> dict:
    row = {"run_id": task.run_id, "variant": task.variant, "scenario": name,
           "replicate": task.replicate, "root_seed": task.root_seed,
           "seed_key": task.seed_key, "parameter_set": task.parameter_set}
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
    result = simulate(task.runs, task.seed, series=series)
    row = _row(task, result.scenario, result.outputs, params)
    return row, (series_long(task.run_id, result.series) if series else None)


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
        "parameter_set": task.parameter_set, "error": type(error).__name__,
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
            result = simulate(task.runs, task.seed, series=series)
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
        if t.model_scenario is not None:  # the run's parameter set is part of the design
            mkey = keys.get(id(t.model_scenario))
            if mkey is None:
                mkey = keys[id(t.model_scenario)] = _scenario_key(t.model_scenario)
            h.update(f"{t.parameter_set}\x1f{mkey}\x1e".encode())
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
