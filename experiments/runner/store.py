"""The resume store of an ensemble: one SQLite database per output folder (``runs.sqlite``).

Every finished chunk of runs is written to the store **in one transaction**: its rows, its
failures and its monthly series. An interrupted ensemble (Ctrl-C, ``kill -9``, a lost node)
is finished later from what the store holds; a shard's store is kept for the merge.

Tables (watch a run with ``sqlite3 out/runs.sqlite 'select count(*) from outcomes'``):

- ``meta(key, value)``: one JSON value per key: ``format_version``, ``design_digest``,
  ``model_digest``, ``series``, ``params``, ``shard``, ``n_design``, ``run_ids`` (the runs
  this folder is to finish), ``created`` and, once a series arrives, ``variables``.
- ``outcomes(run_id, status, record)``: the latest outcome of each run; ``status`` is ``ok``
  (``record`` is the runs-table row) or ``failed`` (the failures-table record), as JSON text
  so that every value, its type and the column order come back exactly.
- ``series(run_id, n, months, data)``: a finished run's monthly series: ``n`` months as
  little-endian int64 and ``n x len(variables)`` values as little-endian float64.

Durability: **WAL** journal mode with ``synchronous=NORMAL``. A commit is appended to
``runs.sqlite-wal`` and survives the death of the process at any moment (``kill -9`` loses at
most the chunk in flight, whose transaction never committed); a power cut may also lose the
last commits, never the database's consistency (SQLite checks every WAL frame and ignores a
torn tail). This is what the old journal promised (it fsynced at most once a second) at a lower
cost than ``synchronous=FULL``. WAL rather than a rollback journal because WAL readers never
block the writer nor wait for it, so the ``sqlite3`` shell, :func:`read_state` or a dashboard
can look at a running experiment. (WAL needs the folder on a local or cluster filesystem with
working POSIX locks and shared memory; SQLite does not support WAL over NFS.)

One writer per folder: a writer holds an exclusive POSIX record lock (``fcntl.lockf``) on
``runs.sqlite.lock`` for as long as the store is open. The OS drops it when the process dies,
however it dies; unlike ``flock``, a record lock is not inherited by forked worker processes,
so an orphaned worker never keeps a folder locked. SQLite's own locks cannot serve: they are
held only during a transaction, and an exclusive locking mode would shut readers out. Locks
this process holds are also kept in a registry, because closing any descriptor of the lock file
would release a record lock of this process.

Shards are merged by ``ATTACH``: each shard's database is attached read-only to a temporary
database and its outcomes and series copied in by one ``INSERT ... SELECT`` (see
:func:`merge_stores`).

The module depends only on the standard library and numpy; errors are :class:`StoreError`
(one line, meant for the user).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

STORE_NAME = "runs.sqlite"
"""File name of the store in an output folder."""

LOCK_SUFFIX = ".lock"
"""The writer's lock file is the store's name plus this suffix."""

FORMAT_VERSION = 1
"""Version of the store's tables (``meta.format_version``)."""

_SIDE_FILES = ("-wal", "-shm", LOCK_SUFFIX)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outcomes (
    run_id INTEGER PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (
    run_id INTEGER PRIMARY KEY, n INTEGER NOT NULL, months BLOB NOT NULL, data BLOB NOT NULL);
"""
_HELD: dict[str, int] = {}  # resolved lock-file path -> descriptor, for locks this process holds


class StoreError(Exception):
    """A store that cannot be used as asked (locked, damaged, another version): one line."""


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store a {type(value).__name__} in the run store")


def _dumps(value) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + LOCK_SUFFIX)


def _acquire(path: Path) -> int | None:
    """Take the writer's lock of the store at ``path``; None where locks are unsupported."""
    try:
        import fcntl
    except ImportError:  # Windows: one writer per folder is the user's job
        return None
    lock = _lock_path(path)
    key = str(lock.resolve())
    if key in _HELD:
        raise StoreError(f"{path.parent}: in use by another running experiment in this "
                         f"process; wait for it or choose another folder")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StoreError(f"{path.parent}: in use by another running experiment (its "
                         f"{lock.name} is locked); wait for it or choose another "
                         f"folder") from None
    _HELD[key] = fd
    return fd


def _release(path: Path, fd: int | None, unlink: bool) -> None:
    if fd is None:
        return
    lock = _lock_path(path)
    _HELD.pop(str(lock.resolve()), None)
    if unlink:
        lock.unlink(missing_ok=True)
    os.close(fd)  # releases the lock


def store_in_use(path: str | Path) -> bool:
    """Whether a live process (this one included) holds the writer's lock of a store.

    Args:
        path: The store's database file.

    Returns:
        True if the store is being written right now.

    """
    lock = _lock_path(Path(path))
    if str(lock.resolve()) in _HELD:
        return True
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False  # no lock file (or not ours to open): nobody writes
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _damaged(path: Path, exc: BaseException) -> StoreError:
    return StoreError(f"{path}: the run store is damaged or is not a run store "
                      f"({exc}); start afresh with --force")


class _Reader:
    """What :class:`RunStore` and :class:`MemoryStore` share: the finished runs, read back."""

    variables: tuple[str, ...] | None

    def rows(self) -> list[dict]:  # pragma: no cover - interface
        raise NotImplementedError

    def failures(self) -> list[dict]:  # pragma: no cover - interface
        raise NotImplementedError

    def series_ids(self) -> list[int]:  # pragma: no cover - interface
        raise NotImplementedError

    def read_series(self, run_ids: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        raise NotImplementedError  # pragma: no cover - interface


def _check_variables(current, variables) -> tuple[str, ...] | None:
    if variables is None:
        return current
    variables = tuple(variables)
    if current is not None and variables != current:
        raise StoreError(f"series variables differ between runs: {variables} vs {current}")
    return variables


class MemoryStore(_Reader):
    """Finished runs kept in memory (an ensemble without an output folder).

    It has the interface of :class:`RunStore`: :meth:`add`, :meth:`done`, :meth:`rows`,
    :meth:`failures`, :meth:`series_ids` and :meth:`read_series`.
    """

    def __init__(self) -> None:
        self._rows: dict[int, dict] = {}
        self._failures: dict[int, dict] = {}
        self._series: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.variables: tuple[str, ...] | None = None

    def add(self, runs: Iterable, variables: Sequence[str] | None) -> None:
        """Record a finished chunk (see :meth:`RunStore.add`)."""
        self.variables = _check_variables(self.variables, variables)
        for r in runs:
            if r.row is not None:
                self._rows[r.run_id] = r.row
                self._failures.pop(r.run_id, None)
                if r.months is not None:
                    self._series[r.run_id] = (r.months, r.values)
            else:
                self._failures[r.run_id] = r.failure
                self._rows.pop(r.run_id, None)
                self._series.pop(r.run_id, None)

    def done(self, retry_failed: bool = False) -> set[int]:
        """Run ids with an outcome (failed ones left out when ``retry_failed``)."""
        return set(self._rows) if retry_failed else set(self._rows) | set(self._failures)

    def rows(self) -> list[dict]:
        """The rows, in ``run_id`` order."""
        return [self._rows[i] for i in sorted(self._rows)]

    def failures(self) -> list[dict]:
        """The failure records, in ``run_id`` order."""
        return [self._failures[i] for i in sorted(self._failures)]

    def series_ids(self) -> list[int]:
        """Run ids with a monthly series, sorted."""
        return sorted(self._series)

    def read_series(self, run_ids: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Months and months x variables values of each run."""
        return [self._series[i] for i in run_ids]


class RunStore(_Reader):
    """The SQLite store of one output folder (see the module docstring for the design).

    Open it with :meth:`create` (new folder), :meth:`open` (resume, or read) or
    :func:`merge_stores`; close it with :meth:`close` or :meth:`remove`.

    Attributes:
        path: The database file.
        meta: The ``meta`` table as a dictionary of decoded JSON values.
        variables: Names of the series variables, or None.

    """

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: int | None):
        self.path = Path(path)
        self._conn = conn
        self._lock = lock
        self.meta: dict = {}
        self.variables: tuple[str, ...] | None = None

    # -- opening ---------------------------------------------------------------------------------
    @staticmethod
    def _connect(target: str, uri: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    @classmethod
    def create(cls, path: str | Path, meta: dict) -> RunStore:
        """Create the store of a new experiment (the file must not exist) and lock it.

        Args:
            path: The database file (``<folder>/runs.sqlite``).
            meta: The experiment's identity (digests, shard, run ids...), JSON-serialisable.

        Returns:
            The store, open for writing.

        Raises:
            StoreError: If another process writes in the folder.

        """
        path = Path(path)
        lock = _acquire(path)
        try:
            for suffix in ("-wal", "-shm"):  # leftovers of a store deleted by hand
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            conn = cls._connect(str(path))
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self = cls(path, conn, lock)
            with self._transaction():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                meta = dict(meta, format_version=FORMAT_VERSION)
                conn.executemany("INSERT INTO meta VALUES (?, ?)",
                                 [(k, _dumps(v)) for k, v in meta.items()])
            self.meta = meta
            return self
        except BaseException:
            _release(path, lock, unlink=False)
            raise

    @classmethod
    def open(cls, path: str | Path, *, write: bool = True, check: bool = True) -> RunStore:
        """Open an existing store.

        Args:
            path: The database file.
            write: Lock it for writing (to resume); else open it read-only (never blocks and
                never blocks a writer).
            check: Run SQLite's ``quick_check`` (reads every page: finds a damaged file).

        Returns:
            The store.

        Raises:
            StoreError: If it is locked by another writer, damaged, or of another format.

        """
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"{path}: no run store")
        lock = _acquire(path) if write else None
        try:
            if write:
                conn = cls._connect(str(path))
            else:
                conn = cls._connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            self = cls(path, conn, lock)
            try:
                if check:
                    result = conn.execute("PRAGMA quick_check").fetchone()[0]
                    if result != "ok":
                        raise sqlite3.DatabaseError(result)
                if write:
                    conn.execute("PRAGMA journal_mode = WAL")
                    conn.execute("PRAGMA synchronous = NORMAL")
                self.meta = {k: json.loads(v) for k, v in conn.execute(
                    "SELECT key, value FROM meta")}
            except (sqlite3.DatabaseError, ValueError) as exc:
                conn.close()
                raise _damaged(path, exc) from None
            version = self.meta.get("format_version")
            if version != FORMAT_VERSION:
                conn.close()
                raise StoreError(f"{path}: run store format {version!r} is not supported "
                                 f"(expected {FORMAT_VERSION}); start afresh with --force")
            v = self.meta.get("variables")
            self.variables = tuple(v) if v else None
            return self
        except BaseException:
            _release(path, lock, unlink=False)
            raise

    # -- writing ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self):
        """One write transaction: committed whole, or rolled back (or lost in a crash) whole."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def add(self, runs: Iterable, variables: Sequence[str] | None) -> None:
        """Record a finished chunk in one transaction (all of it, or nothing after a crash).

        Args:
            runs: The chunk's run outcomes: objects with ``run_id``, ``row`` (a dict, or None
                for a failed run), ``failure`` (a dict, or None), ``months`` and ``values``
                (numpy arrays, or None). A run's new outcome replaces an earlier one.
            variables: Names of the series variables (columns of ``values``), or None.

        Raises:
            StoreError: If the series variables differ from the store's.

        """
        new = _check_variables(self.variables, variables)
        outcomes, series, dropped = [], [], []
        for r in runs:
            run_id = int(r.run_id)
            if r.row is not None:
                outcomes.append((run_id, "ok", _dumps(r.row)))
                if r.months is not None:
                    series.append((run_id, len(r.months),
                                   np.ascontiguousarray(r.months, dtype="<i8").tobytes(),
                                   np.ascontiguousarray(r.values, dtype="<f8").tobytes()))
                else:
                    dropped.append((run_id,))
            else:
                outcomes.append((run_id, "failed", _dumps(r.failure)))
                dropped.append((run_id,))
        try:
            with self._transaction():
                if new != self.variables:
                    self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('variables', ?)",
                                       (_dumps(list(new)),))
                self._conn.executemany("INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?)",
                                       outcomes)
                self._conn.executemany("DELETE FROM series WHERE run_id = ?", dropped)
                self._conn.executemany("INSERT OR REPLACE INTO series VALUES (?, ?, ?, ?)",
                                       series)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot write the run store ({exc})") from None
        if new != self.variables:
            self.variables = new
            self.meta["variables"] = list(new)

    # -- reading ---------------------------------------------------------------------------------
    def _query(self, sql: str, args: Sequence = ()) -> list[tuple]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.path, exc) from None

    def done(self, retry_failed: bool = False) -> set[int]:
        """Run ids with an outcome (failed ones left out when ``retry_failed``)."""
        sql = "SELECT run_id FROM outcomes" + (" WHERE status = 'ok'" if retry_failed else "")
        return {i for (i,) in self._query(sql)}

    def counts(self) -> tuple[int, int]:
        """``(outcomes of expected runs, failed runs)``, counted by SQLite."""
        ids = set(self.expected)
        done = failed = 0
        for run_id, status in self._query("SELECT run_id, status FROM outcomes"):
            if run_id in ids:
                done += 1
            failed += status == "failed"
        return done, failed

    def rows(self) -> list[dict]:
        """The rows of the finished runs, in ``run_id`` order, exactly as stored."""
        return [json.loads(r) for (r,) in self._query(
            "SELECT record FROM outcomes WHERE status = 'ok' ORDER BY run_id")]

    def failures(self) -> list[dict]:
        """The failure records, in ``run_id`` order."""
        return [json.loads(r) for (r,) in self._query(
            "SELECT record FROM outcomes WHERE status = 'failed' ORDER BY run_id")]

    def series_ids(self) -> list[int]:
        """Run ids with a monthly series, sorted."""
        return [i for (i,) in self._query("SELECT run_id FROM series ORDER BY run_id")]

    def read_series(self, run_ids: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Months and months x variables values of each run, read back exactly."""
        k = len(self.variables or ())
        marks = ",".join("?" * len(run_ids))
        found = {i: (n, m, d) for i, n, m, d in self._query(
            f"SELECT run_id, n, months, data FROM series WHERE run_id IN ({marks})",
            list(run_ids))}
        out = []
        for i in run_ids:
            n, months, data = found[i]
            out.append((np.frombuffer(months, dtype="<i8").astype(np.int64),
                        np.frombuffer(data, dtype="<f8").astype(np.float64).reshape(n, k)))
        return out

    @property
    def expected(self) -> list[int]:
        """Run ids this folder is to finish (``meta.run_ids``)."""
        return [int(i) for i in self.meta.get("run_ids", [])]

    @property
    def complete(self) -> bool:
        """Whether every expected run has an outcome."""
        return set(self.expected) <= self.done()

    # -- closing ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the database (its WAL is checkpointed into the file) and release the lock."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        _release(self.path, self._lock, unlink=True)
        self._lock = None

    def remove(self) -> None:
        """Close the store and delete its files."""
        lock, self._lock = self._lock, None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if str(self.path) != "":
            for p in (self.path, *(self.path.with_name(self.path.name + s)
                                   for s in ("-wal", "-shm"))):
                p.unlink(missing_ok=True)
        _release(self.path, lock, unlink=True)


def merge_stores(paths: Sequence[str | Path], check) -> RunStore:
    """Join shard stores into one temporary store by ``ATTACH``.

    Each shard is attached read-only, handed to ``check(path, meta, done)`` (which raises if the
    shard does not belong), and its outcomes and series copied in with ``INSERT ... SELECT``,
    then detached (so any number of shards fits SQLite's limit on attached databases).

    Args:
        paths: The shards' database files.
        check: Called with each shard's path, its ``meta`` and its set of run ids with an
            outcome, before its runs are copied.

    Returns:
        A read-only :class:`RunStore` over a private temporary database (deleted on close)
        holding every shard's runs, with the first shard's ``meta``.

    Raises:
        StoreError: If a shard is damaged, of another format, or its series variables differ.

    """
    # A private temporary database on disk; uri=True so that ATTACH reads "file:...?mode=ro".
    conn = RunStore._connect("", uri=True)
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    merged = RunStore(Path(""), conn, None)
    try:
        for i, p in enumerate(paths):
            p = Path(p)
            shard = RunStore.open(p, write=False, check=True)  # checks format and damage
            try:
                check(p, shard.meta, shard.done())
                merged.variables = _check_variables(merged.variables, shard.variables)
            finally:
                shard.close()
            if i == 0:
                merged.meta = dict(shard.meta)
            try:
                conn.execute("ATTACH DATABASE ? AS shard", (f"{p.resolve().as_uri()}?mode=ro",))
                conn.execute("BEGIN")
                conn.execute("INSERT OR REPLACE INTO main.outcomes SELECT * FROM shard.outcomes")
                conn.execute("INSERT OR REPLACE INTO main.series SELECT * FROM shard.series")
                conn.execute("COMMIT")
                conn.execute("DETACH DATABASE shard")
            except sqlite3.DatabaseError as exc:
                raise _damaged(p, exc) from None
    except BaseException:
        conn.close()
        raise
    merged.meta["variables"] = list(merged.variables) if merged.variables else None
    return merged


def read_state(path: str | Path) -> dict:
    """A quick, read-only look at a store (what :func:`folder_state` reports).

    Args:
        path: The database file.

    Returns:
        ``{"done": ..., "planned": ..., "failed": ..., "shard": ..., "meta": ...}``.

    Raises:
        StoreError: If it is not a readable store.

    """
    store = RunStore.open(path, write=False, check=False)
    try:
        done, failed = store.counts()
        return {"done": done, "planned": len(store.expected), "failed": failed,
                "shard": store.meta.get("shard"), "complete": done == len(store.expected),
                "meta": store.meta}
    finally:
        store.close()
