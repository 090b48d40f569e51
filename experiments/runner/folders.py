"""Output folders on top of the run store: their state, resuming, the tables and merging.

Big experiments are safe:

- **Resumable.** With an output folder, every finished chunk is written, in one SQLite
  transaction, to the run store ``runs.sqlite`` (rows, failures and monthly series, exactly as
  the workers returned them; see :mod:`experiments.runner.store`). A crash, Ctrl-C, ``kill -9``
  or power loss costs at most the chunks in flight: ``resume=True`` (``--resume``) checks that
  the design and the model are unchanged, runs only the missing runs and builds the final
  tables from the store, exactly as an uninterrupted run does. ``series.csv``,
  ``failures.csv`` and, last, ``runs.csv`` are written atomically at the end (temporary file,
  ``fsync``, rename), then the store is removed (kept in shard folders, for
  :func:`merge_results`). A folder is complete when its runs table exists
  (:func:`folder_state`).
- **Shardable.** :func:`merge_results` joins the K shard folders into the unsharded result.

:mod:`experiments.runner.execute` opens a folder's store with :func:`open_store`, builds the
tables with :func:`build_tables` and turns store errors into one line with
:func:`store_errors`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from experiments.errors import ExperimentError
from experiments.files import TEMPORARY as _TMP
from experiments.files import count_write, fsync_dir, remove_stale_temporaries, temporary_name
from experiments.files import fsync_file as _fsync_file
from experiments.runner.manifest import STORE_FILES, folder_complete
from experiments.runner.store import (
    STORE_NAME,
    MemoryStore,
    RunStore,
    StoreError,
    merge_stores,
    read_state,
    store_in_use,
)
from experiments.runner.tables import FLOAT_FORMAT, EnsembleResult, write_table
from experiments.runner.tables import check_format as _check_format
from experiments.runner.tasks import (
    FAILURE_COLUMNS,
    Task,
    check_shard,
    design_digest,
    model_digest,
    select_shard,
)
from experiments.runner.tasks import long_frame as _long_frame

OLD_JOURNAL_NAME = "runs.journal"
"""File name of the binary journal of earlier versions (a folder holding one must be re-run)."""

SERIES_BATCH = 64
"""Runs per block when the series table is written (fixed, so files do not depend on chunks)."""


@contextlib.contextmanager
def store_errors():
    """Turn the store's errors into :class:`ExperimentError` (one line for the user)."""
    try:
        yield
    except StoreError as exc:
        raise ExperimentError(str(exc)) from None


def discard_store(folder: str | Path) -> None:
    """Delete the run store of a complete, unsharded folder (its tables hold every run).

    Args:
        folder: The output folder (not in use).

    """
    for name in STORE_FILES:
        (Path(folder) / name).unlink(missing_ok=True)
    fsync_dir(Path(folder))


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


ABC_HISTORY = "abc_history.sqlite"
"""pyabc's history in a calibration folder (``calibrate``): the folder is an experiment."""


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
        whole = info["complete"] and _final_tables(folder) and folder_complete(folder) is not False
        return FolderState("complete" if whole else "unfinished",
                           done=info["done"], planned=info["planned"], failed=info["failed"],
                           shard=tuple(shard) if shard else None)
    if OLD_JOURNAL_NAME in names and not _final_tables(folder):
        return FolderState("unfinished")  # the old journal format: --resume says to re-run
    if _final_tables(folder):
        # Complete only once the manifest says so and every artefact it lists exists (a
        # folder killed while writing its report is unfinished); old folders have no status.
        return FolderState("complete" if folder_complete(folder) is not False else "unfinished")
    if names == {"manifest.json"}:
        return FolderState("unfinished")  # killed before the first run finished
    if ABC_HISTORY in names and "manifest.json" in names:  # a calibration (pyabc's history)
        return FolderState("complete" if folder_complete(folder) else "unfinished")
    return FolderState("other")


# --- finishing: the tables, from either store ---------------------------------------------

class SeriesWriter:
    """Writes the long series table block by block to a temporary file, then renames it.

    Args:
        path: The final file (``series.csv`` or ``series.parquet``).
        fmt: ``"csv"`` or ``"parquet"``.

    """

    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt = path, fmt
        self.tmp = temporary_name(path)
        self._fh = None
        self._parquet = None
        self._header = True

    def write(self, frame: pd.DataFrame) -> None:
        """Append one block of the long series table to the temporary file."""
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
        """Close, fsync and rename the file into place (``empty`` if no block came)."""
        if self._fh is None and self._parquet is None:
            self.write(empty)
        if self._parquet is not None:
            self._parquet.close()
        if self._fh is not None:
            self._fh.close()
        _fsync_file(self.tmp)
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)
        count_write()
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file."""
        if self._parquet is not None:
            self._parquet.close()
        if self._fh is not None:
            self._fh.close()
        Path(self.tmp).unlink(missing_ok=True)


def build_tables(store: RunStore | MemoryStore, out: Path | None, *, series: bool,
                 keep_series: bool, write_series: bool,
                 fmt: str) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame,
                                    dict[str, Path]]:
    """Build (and write) the tables from finished runs, identically whatever the store.

    Args:
        store: The finished runs (a folder's :class:`RunStore` or a :class:`MemoryStore`).
        out: Folder to write the tables to, or None.
        series: Whether to build the monthly series table.
        keep_series: Return the series frame (else it is only streamed to disk).
        write_series: Write ``series.<ext>`` (with ``out``).
        fmt: ``"csv"`` or ``"parquet"``.

    Returns:
        The runs table, the series table (or None), the failures table and the files written
        (``runs``, ``series``, ``failures``), the runs table written last.

    Raises:
        ExperimentError: If runs have different columns (code changed between attempts).

    """
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
        writer = SeriesWriter(out / f"series.{ext}", fmt) \
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


def _old_journal_error(out: Path) -> ExperimentError:
    return ExperimentError(
        f"--resume: {out} holds an experiment interrupted under the old journal format "
        f"({OLD_JOURNAL_NAME}), which this version cannot resume; it must be re-run: use "
        f"--force (or another folder)")


def open_store(out: Path, tasks: list[Task], selected: list[Task], *, series: bool,
               params: list[str], shard: tuple[int, int] | None, resume: bool) -> RunStore:
    """Open the run store of output folder ``out`` for writing (new, or to resume).

    Args:
        out: The output folder (exists).
        tasks: The whole design.
        selected: The runs this folder is to finish (the shard's, or all).
        series: Whether monthly series are collected.
        params: Names of the parameters the design varies.
        shard: ``(index, count)`` or None.
        resume: Reopen the store of an interrupted attempt (checked against the design).

    Returns:
        The store, locked for this process until it is closed or removed.

    Raises:
        ExperimentError: If the folder is complete, unfinished without ``resume``, in use,
            holds another design, shard or model version, or the old journal format.
        StoreError: If the store is damaged or locked (see :func:`store_errors`).

    """
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
    with store_errors():
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
    temporary database, checked and copied in (:func:`experiments.runner.store.merge_stores`); the
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

    with store_errors():
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
        with store_errors():
            runs, series_frame, failures, files = build_tables(
                merged, out, series=series and collected, keep_series=keep_series,
                write_series=write_series, fmt=fmt)
    finally:
        merged.close()
    return EnsembleResult(runs=runs, series=series_frame if series and collected else None,
                          wall_time=time.perf_counter() - start, files=files,
                          failures=failures, planned=expected, reused=expected)
