"""The store of finished runs: the resume journal, folder states, the tables and merging.

Big experiments are safe:

- **Resumable.** With an output folder, every finished chunk is appended to ``runs.journal``,
  an append-only file of checksummed records (rows, failures and monthly series, exactly as the
  workers returned them). A crash, Ctrl-C, ``kill -9`` or power loss costs at most the chunks in
  flight: ``resume=True`` (``--resume``) checks that the design and the model are unchanged,
  drops a torn last record, runs only the missing runs and builds the final tables from the
  journal, exactly as an uninterrupted run does. ``series.csv``, ``failures.csv`` and, last,
  ``runs.csv`` are written atomically at the end (temporary file, ``fsync``, rename), then the
  journal is removed (kept in shard folders, for :func:`merge_results`). A folder is complete
  when its runs table exists (:func:`folder_state`).
- **Shardable.** :func:`merge_results` joins the K shard folders into the unsharded result.

:mod:`experiments.runner.execute` uses ``_Store`` (``add``, ``done``), ``_MemoryStore``,
``Journal`` (``close``, ``remove``, ``path``), ``_open_journal`` and ``_finish`` from here.
"""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.errors import ExperimentError
from experiments.files import TEMPORARY as _TMP
from experiments.files import fsync_dir, remove_stale_temporaries, temporary_name
from experiments.files import fsync_file as _fsync_file
from experiments.runner.tables import FLOAT_FORMAT, EnsembleResult, write_table
from experiments.runner.tables import check_format as _check_format
from experiments.runner.tasks import (
    FAILURE_COLUMNS,
    ChunkOutcome,
    Task,
    check_shard,
    design_digest,
    model_digest,
    select_shard,
)
from experiments.runner.tasks import long_frame as _long_frame

JOURNAL_NAME = "runs.journal"
"""File name of the journal of finished runs in an output folder."""

SERIES_BATCH = 64
"""Runs per block when the series table is written (fixed, so files do not depend on chunks)."""

_FSYNC_INTERVAL = 1.0  # seconds between journal fsyncs (a torn tail is detected and re-run)
_REC = struct.Struct("<4sBIQI")  # magic, kind, JSON length, blob length, CRC-32 of JSON + blob
_MAGIC = b"MSTJ"
_HEADER, _CHUNK = 1, 2
JOURNAL_VERSION = 1



# --- the journal ---------------------------------------------------------------------------------

def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store a {type(value).__name__} in the journal")


_OPEN_JOURNALS: set[int] = set()  # file descriptors of journals open in this process


def _forget_journals_in_child() -> None:
    """After a fork, drop the child's copies of the journal descriptors.

    A forked worker would otherwise share the journal's open file, and with it the writer's
    ``flock``: after a ``kill -9`` of the main process, an orphaned worker would keep the folder
    locked. Each descriptor is pointed at ``/dev/null`` (its number stays valid for the file
    objects the child inherited, which it never uses).
    """
    if not _OPEN_JOURNALS:
        return
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        for fd in list(_OPEN_JOURNALS):
            try:
                os.dup2(null, fd)
            except OSError:
                pass
    finally:
        os.close(null)
    _OPEN_JOURNALS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_journals_in_child)


def _lock(fh, path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one writer per folder is the user's job
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        _OPEN_JOURNALS.discard(fh.fileno())
        fh.close()
        raise ExperimentError(f"{path.parent}: in use by another running experiment "
                              f"(its {path.name} is locked); wait for it or choose another "
                              f"folder") from None


def folder_in_use(folder: str | Path) -> bool:
    """Whether another process is running an experiment in ``folder`` right now.

    Args:
        folder: An output folder.

    Returns:
        True if its journal is locked by a live process.

    """
    path = Path(folder) / JOURNAL_NAME
    if not path.is_file():
        return False
    try:
        import fcntl
    except ImportError:
        return False
    with open(path, "rb") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return False


class _Store:
    """Finished runs, indexed by run id: rows, failures and where each run's series is."""

    def __init__(self) -> None:
        self.rows: dict[int, dict] = {}
        self.failures: dict[int, dict] = {}
        self.variables: tuple[str, ...] | None = None

    def _note(self, run_id: int, row, failure) -> None:
        if row is not None:
            self.rows[run_id] = row
            self.failures.pop(run_id, None)
        else:
            self.failures[run_id] = failure
            self.rows.pop(run_id, None)
            self._forget_series(run_id)

    def _check_variables(self, variables) -> None:
        if variables is None:
            return
        variables = tuple(variables)
        if self.variables is None:
            self.variables = variables
        elif variables != self.variables:
            raise ExperimentError(f"series variables differ between runs: {variables} "
                                  f"vs {self.variables}")

    def done(self, retry_failed: bool = False) -> set[int]:
        """Run ids with a final outcome (failed ones excluded when ``retry_failed``)."""
        return set(self.rows) if retry_failed else set(self.rows) | set(self.failures)

    def has_series(self, run_id: int) -> bool:
        raise NotImplementedError

    def read_series(self, run_id: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _forget_series(self, run_id: int) -> None:
        raise NotImplementedError


class _MemoryStore(_Store):
    """Finished runs kept in memory (an ensemble without an output folder)."""

    def __init__(self) -> None:
        super().__init__()
        self._series: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, chunk: ChunkOutcome) -> None:
        self._check_variables(chunk.variables)
        for r in chunk.runs:
            self._note(r.run_id, r.row, r.failure)
            if r.row is not None and r.months is not None:
                self._series[r.run_id] = (r.months, r.values)

    def has_series(self, run_id: int) -> bool:
        return run_id in self._series

    def read_series(self, run_id: int) -> tuple[np.ndarray, np.ndarray]:
        return self._series[run_id]

    def _forget_series(self, run_id: int) -> None:
        self._series.pop(run_id, None)


class Journal(_Store):
    """The append-only journal of finished runs of one output folder (``runs.journal``).

    The file is a header record (design digest, model digest, shard, run ids to do) followed
    by one record per finished chunk. A record is a fixed header (magic, kind, lengths,
    CRC-32), a JSON part (rows and failures, plain values, exact) and a binary part (monthly
    series as little-endian int64 months and float64 values). Reading stops at the first
    torn or corrupt record, which a writer then truncates: its runs are simply run again.
    Records are flushed at once and fsynced at most every second and on close. A writer holds
    an exclusive lock on the file (POSIX), so two processes never fill one folder.
    """

    def __init__(self, path: Path):
        super().__init__()
        self.path = Path(path)
        self.header: dict = {}
        self._at: dict[int, tuple[int, int]] = {}
        self._fh = None
        self._reader = None
        self._end = 0
        self._synced = 0.0

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, header: dict) -> Journal:
        """Start a new journal with ``header`` (the file must not exist)."""
        self = cls(path)
        self._fh = open(self.path, "x+b")  # noqa: SIM115 - kept open for appends
        _OPEN_JOURNALS.add(self._fh.fileno())
        _lock(self._fh, self.path)
        self.header = dict(header, journal_version=JOURNAL_VERSION)
        self._write(_HEADER, json.dumps(self.header).encode(), b"")
        self._sync(force=True)
        fsync_dir(self.path.parent)
        return self

    @classmethod
    def open(cls, path: Path, *, write: bool = True, verify: bool = True) -> Journal:
        """Open an existing journal and index it.

        Args:
            path: The journal file.
            write: Lock it and truncate a torn tail, ready for appends.
            verify: Check every record's CRC (else only its framing; for quick looks).

        Returns:
            The journal.

        Raises:
            ExperimentError: If the file is locked, unreadable or has no valid header.

        """
        self = cls(path)
        try:
            self._fh = open(self.path, "r+b" if write else "rb")  # noqa: SIM115
        except OSError as exc:
            raise ExperimentError(f"{self.path}: cannot open the journal: "
                                  f"{exc.strerror or exc}") from None
        _OPEN_JOURNALS.add(self._fh.fileno())
        if write:
            _lock(self._fh, self.path)
        self._scan(verify)
        if write:
            size = os.fstat(self._fh.fileno()).st_size
            if size > self._end:
                self._fh.truncate(self._end)
                self._sync(force=True)
            self._fh.seek(self._end)
        return self

    def _scan(self, verify: bool) -> None:
        fh = self._fh
        size = os.fstat(fh.fileno()).st_size
        fh.seek(0)
        pos = 0
        first = True
        while pos + _REC.size <= size:
            magic, kind, jlen, blen, crc = _REC.unpack(fh.read(_REC.size))
            end = pos + _REC.size + jlen + blen
            if magic != _MAGIC or kind not in (_HEADER, _CHUNK) or end > size \
                    or (kind == _HEADER) != first:
                break
            js = fh.read(jlen)
            if verify:
                blob = fh.read(blen)
                if zlib.crc32(blob, zlib.crc32(js)) != crc:
                    break
            else:
                fh.seek(blen, os.SEEK_CUR)
            try:
                meta = json.loads(js)
            except ValueError:
                break
            if first:
                self.header = meta
                first = False
            else:
                self._index(meta, pos + _REC.size + jlen)
            pos = end
        if first:
            raise ExperimentError(f"{self.path}: the journal has no valid header (the run was "
                                  f"killed as it started, or the file is damaged); start "
                                  f"afresh with --force")
        if self.header.get("journal_version") != JOURNAL_VERSION:
            raise ExperimentError(f"{self.path}: journal version "
                                  f"{self.header.get('journal_version')!r} is not supported "
                                  f"(expected {JOURNAL_VERSION}); start afresh with --force")
        self._end = pos

    def _index(self, meta: dict, blob_start: int) -> None:
        self._check_variables(meta.get("variables"))
        for entry in meta["runs"]:
            run_id = int(entry["id"])
            self._note(run_id, entry.get("row"), entry.get("failure"))
            if entry.get("row") is not None and entry.get("n"):
                self._at[run_id] = (blob_start + int(entry["at"]), int(entry["n"]))

    # -- writing ---------------------------------------------------------------------------------
    def _write(self, kind: int, js: bytes, blob: bytes) -> int:
        start = self._end
        crc = zlib.crc32(blob, zlib.crc32(js))
        self._fh.write(_REC.pack(_MAGIC, kind, len(js), len(blob), crc) + js)
        if blob:
            self._fh.write(blob)
        self._fh.flush()
        self._end = start + _REC.size + len(js) + len(blob)
        return start + _REC.size + len(js)

    def _sync(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._synced >= _FSYNC_INTERVAL:
            os.fsync(self._fh.fileno())
            self._synced = now

    def add(self, chunk: ChunkOutcome) -> None:
        """Append a finished chunk (one record) and index it."""
        self._check_variables(chunk.variables)
        entries, parts, at = [], [], 0
        for r in chunk.runs:
            entry = {"id": int(r.run_id), "row": r.row, "failure": r.failure, "n": 0, "at": 0}
            if r.row is not None and r.months is not None:
                months = np.ascontiguousarray(r.months, dtype="<i8").tobytes()
                values = np.ascontiguousarray(r.values, dtype="<f8").tobytes()
                entry["n"], entry["at"] = len(r.months), at
                parts += [months, values]
                at += len(months) + len(values)
            entries.append(entry)
        meta = {"variables": list(chunk.variables) if chunk.variables else None,
                "runs": entries}
        js = json.dumps(meta, default=_json_default, ensure_ascii=False,
                        separators=(",", ":")).encode()
        blob_start = self._write(_CHUNK, js, b"".join(parts))
        self._index(json.loads(js), blob_start)
        self._sync()

    # -- reading ---------------------------------------------------------------------------------
    def has_series(self, run_id: int) -> bool:
        """Whether the journal holds a monthly series for this run."""
        return run_id in self._at

    def read_series(self, run_id: int) -> tuple[np.ndarray, np.ndarray]:
        """A run's months and its months x variables series, read back from the file."""
        offset, n = self._at[run_id]
        k = len(self.variables or ())
        if self._reader is None:
            self._reader = open(self.path, "rb")  # noqa: SIM115 - closed in close()
            _OPEN_JOURNALS.add(self._reader.fileno())
        self._reader.seek(offset)
        data = self._reader.read(8 * n * (1 + k))
        months = np.frombuffer(data, dtype="<i8", count=n).astype(np.int64)
        values = np.frombuffer(data, dtype="<f8", offset=8 * n).astype(np.float64)
        return months, values.reshape(n, k)

    def _forget_series(self, run_id: int) -> None:
        self._at.pop(run_id, None)

    @property
    def expected(self) -> list[int]:
        """Run ids this journal's folder is to finish (from its header)."""
        return [int(i) for i in self.header.get("run_ids", [])]

    @property
    def complete(self) -> bool:
        """Whether every expected run has an outcome."""
        return set(self.expected) <= self.done()

    def close(self) -> None:
        """Flush, fsync and close (releases the lock)."""
        if self._fh is not None and not self._fh.closed:
            if self._fh.writable():
                self._fh.flush()
                self._sync(force=True)
            _OPEN_JOURNALS.discard(self._fh.fileno())
            self._fh.close()
        if self._reader is not None:
            _OPEN_JOURNALS.discard(self._reader.fileno())
            self._reader.close()
            self._reader = None

    def remove(self) -> None:
        """Close and delete the journal."""
        self.close()
        self.path.unlink(missing_ok=True)
        fsync_dir(self.path.parent)


# --- folders -------------------------------------------------------------------------------------

@dataclass
class FolderState:
    """What an output folder holds.

    Attributes:
        state: ``"absent"``, ``"empty"``, ``"unfinished"``, ``"complete"`` or ``"other"``
            (files that are not an experiment's, or not a folder at all).
        done: Runs finished (or failed) so far, per the journal.
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
    if not names:
        return FolderState("empty")
    if JOURNAL_NAME in names:
        try:
            journal = Journal.open(folder / JOURNAL_NAME, write=False, verify=False)
        except ExperimentError:
            return FolderState("unfinished")
        try:
            shard = journal.header.get("shard")
            state = FolderState("complete" if journal.complete and _final_tables(folder)
                                else "unfinished",
                                done=len(journal.done() & set(journal.expected)),
                                planned=len(journal.expected), failed=len(journal.failures),
                                shard=tuple(shard) if shard else None)
        finally:
            journal.close()
        return state
    if _final_tables(folder):
        return FolderState("complete")
    if names == {"manifest.json"}:
        return FolderState("unfinished")  # killed before the first run finished
    return FolderState("other")


# --- finishing: the tables, from any store -------------------------------------------------------

def _combine(stores: Sequence[_Store]) -> tuple[dict, dict, dict, tuple | None]:
    rows: dict[int, dict] = {}
    failures: dict[int, dict] = {}
    series_from: dict[int, _Store] = {}
    variables = None
    for store in stores:
        if store.variables is not None:
            if variables is not None and tuple(store.variables) != variables:
                raise ExperimentError("the shards' monthly series have different variables")
            variables = tuple(store.variables)
        for run_id, row in store.rows.items():
            rows[run_id] = row
            if store.has_series(run_id):
                series_from[run_id] = store
        failures.update(store.failures)
    return rows, failures, series_from, variables


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


def _finish(stores: Sequence[_Store], out: Path | None, *, series: bool, keep_series: bool,
            write_series: bool, fmt: str) -> tuple[pd.DataFrame, pd.DataFrame | None,
                                                   pd.DataFrame, dict[str, Path]]:
    """Build (and write) the tables from finished runs, identically whatever their source."""
    rows, failures, series_from, variables = _combine(stores)
    ordered = [rows[i] for i in sorted(rows)]
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
        fail = pd.DataFrame([failures[i] for i in sorted(failures)])
    else:
        fail = pd.DataFrame(columns=list(FAILURE_COLUMNS))
    files: dict[str, Path] = {}
    ext = "parquet" if fmt == "parquet" else "csv"
    series_frame = None
    if series and (keep_series or (write_series and out is not None)):
        writer = _SeriesWriter(out / f"series.{ext}", fmt) \
            if write_series and out is not None else None
        kept = []
        ids = sorted(series_from)
        names = variables or ()
        try:
            for start in range(0, len(ids), SERIES_BATCH):
                block = ids[start:start + SERIES_BATCH]
                pairs = [series_from[i].read_series(i) for i in block]
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



def _open_journal(out: Path, tasks: list[Task], selected: list[Task], *, series: bool,
                  params: list[str], shard, resume: bool) -> Journal:
    path = out / JOURNAL_NAME
    header = _header(tasks, selected, series, params, shard)
    if not path.exists():
        if resume and _final_tables(out):
            raise ExperimentError(f"{out}: the experiment is already complete; nothing to "
                                  f"resume (use --force to run it again)")
        remove_stale_temporaries(out)
        return Journal.create(path, header)
    if not resume:
        if _final_tables(out):
            raise ExperimentError(f"{out}: already holds an experiment's results (runs table "
                                  f"and {JOURNAL_NAME}); use another folder, or --force to "
                                  f"run it again")
        raise ExperimentError(f"{out}: holds an unfinished experiment ({JOURNAL_NAME}); add "
                              f"--resume to finish it, or --force to start afresh")
    journal = Journal.open(path)
    try:
        _check_header(out, journal.header, header)
    except BaseException:
        journal.close()
        raise
    remove_stale_temporaries(out)
    return journal


def _header(tasks: list[Task], selected: list[Task], series: bool, params: list[str],
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
    interrupted experiment's folder untouched. A folder without a journal passes.

    Args:
        out_dir: The output folder.
        tasks: The whole design.
        series: Whether monthly series are collected.
        shard: The shard to resume, or None.

    Raises:
        ExperimentError: If the folder holds another design, shard or model version.

    """
    path = Path(out_dir) / JOURNAL_NAME
    if not path.is_file():
        return
    tasks = list(tasks)
    shard = check_shard(shard)
    params = sorted({name for t in tasks for name, _ in t.scenario.parameters})
    journal = Journal.open(path, write=False, verify=False)
    try:
        _check_header(Path(out_dir), journal.header,
                      _header(tasks, select_shard(tasks, shard), series, params, shard))
    finally:
        journal.close()


def _check_header(out: Path, old: dict, header: dict) -> None:
    """Refuse to resume a journal whose design, shard or model differs from ``header``'s."""
    if old.get("design_digest") != header["design_digest"]:
        raise ExperimentError(
            f"--resume: {out} holds a different experiment (the scenarios, levers, "
            f"parameters, replicates, seed or series differ from the interrupted run's); "
            f"resume it with its original command, or start afresh with --force")
    if (old.get("shard") or None) != header["shard"]:
        was = "/".join(map(str, old["shard"])) if old.get("shard") else "no shard"
        now = "/".join(map(str, header["shard"])) if header["shard"] else "no shard"
        raise ExperimentError(f"--resume: {out} was started as shard {was}, not {now}")
    if old.get("model_digest") != header["model_digest"]:
        raise ExperimentError(
            f"--resume: {out} was started with a different version of the model (sim/, "
            f"agents/, numpy or mesa changed since); mixing two versions would not give "
            f"the results of one uninterrupted run; start afresh with --force")


def merge_results(dirs: Sequence[str | Path], out_dir: str | Path, *, fmt: str = "csv",
                  series: bool = True, write_series: bool = True, keep_series: bool = True,
                  progress: bool | None = None) -> EnsembleResult:
    """Join the folders of the K shards of one design into the result of the unsharded run.

    Args:
        dirs: The shard folders (each finished with ``shard=(i, K)``, journal kept), any order.
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
    journals: list[Journal] = []
    try:
        for d in dirs:
            if not (d / JOURNAL_NAME).is_file():
                hint = (" (it is an unsharded result)" if _final_tables(d) else "")
                raise ExperimentError(f"merge: {d} is not a shard folder: no {JOURNAL_NAME}"
                                      f"{hint}; run each shard with --shard I/K")
            if folder_in_use(d):
                raise ExperimentError(f"merge: {d} is still being run by another process")
            journals.append(Journal.open(d / JOURNAL_NAME, write=False))
        first = journals[0].header
        count = (first.get("shard") or [None, None])[1]
        seen: dict[int, Path] = {}
        for d, j in zip(dirs, journals, strict=True):
            h = j.header
            if not h.get("shard"):
                raise ExperimentError(f"merge: {d} was not run with --shard")
            index, k = h["shard"]
            if h.get("design_digest") != first.get("design_digest") or k != count:
                raise ExperimentError(f"merge: {d} is a shard of a different experiment than "
                                      f"{dirs[0]} (design or shard count differs)")
            if h.get("model_digest") != first.get("model_digest"):
                raise ExperimentError(f"merge: {d} was run with a different version of the "
                                      f"model than {dirs[0]}; re-run it with the same code")
            if index in seen:
                raise ExperimentError(f"merge: shard {index}/{k} is given twice ({seen[index]} "
                                      f"and {d})")
            seen[index] = d
            missing = set(j.expected) - j.done()
            if missing:
                raise ExperimentError(f"merge: shard {index}/{k} in {d} is unfinished "
                                      f"({len(missing)} of {len(j.expected)} runs missing); "
                                      f"finish it with --resume")
        absent = sorted(set(range(count)) - set(seen))
        if absent:
            raise ExperimentError(f"merge: shards {', '.join(f'{i}/{count}' for i in absent)} "
                                  f"are missing; give all {count} shard folders")
        total = sum(len(j.expected) for j in journals)
        if total != first.get("n_design"):
            raise ExperimentError(f"merge: the shards hold {total} runs but the design has "
                                  f"{first.get('n_design')}")
        start = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        collected = bool(first.get("series"))
        runs, series_frame, failures, files = _finish(
            journals, out, series=series and collected, keep_series=keep_series,
            write_series=write_series, fmt=fmt)
    finally:
        for j in journals:
            j.close()
    return EnsembleResult(runs=runs, series=series_frame if series and collected else None,
                          wall_time=time.perf_counter() - start, files=files,
                          failures=failures, planned=total, reused=total)


