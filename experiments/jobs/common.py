"""Shared pieces of the jobs: options, output folders and running a design under a manifest."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from experiments.errors import ExperimentError
from experiments.files import fsync_dir
from experiments.runner.execute import run_ensemble
from experiments.runner.folders import discard_store, folder_in_use, folder_state
from experiments.runner.manifest import (
    MANIFEST_NAME,
    SIBLING,
    complete_folder,
    finish_manifest,
    foreign_entry,
    read_manifest,
    remove_outputs,
    write_manifest,
)
from experiments.runner.posterior import ParameterPlan

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class JobOptions:
    """Options shared by every ensemble job.

    Attributes:
        replicates: Runs per variant.
        seed: Root seed.
        workers: Local worker processes (1 = serial).
        dask_scheduler: Address of a Dask scheduler, or None.
        out: Output folder, or None for ``results/<job>-<time>``.
        force: Replace an existing output folder.
        series: Also write the monthly series table.
        progress: Progress bar (None: only on a terminal).
        fmt: ``"csv"`` or ``"parquet"``.
        command: The command line, for the manifest.
        resume: Finish the interrupted experiment in ``out``.
        retry_failed: With ``resume``, run the failed runs again.
        shard: ``(index, count)``: run only one shard of the design (for job arrays).
        parameters: Which parameter set each replicate runs (None: the registry defaults;
            the command line resolves the posterior sample, see
            :func:`experiments.runner.posterior.resolve_plan`).

    """

    replicates: int = 200
    seed: int = 1
    workers: int = 1
    dask_scheduler: str | None = None
    out: str | None = None
    force: bool = False
    series: bool = False
    progress: bool | None = None
    fmt: str = "csv"
    command: tuple[str, ...] = ()
    resume: bool = False
    retry_failed: bool = False
    shard: tuple[int, int] | None = None
    parameters: ParameterPlan | None = None


def site_path(name: str) -> Path:
    """Path of a shipped site scenario."""
    return ROOT / "scenarios" / f"{name}.toml"


def check_horizon(where: str, horizon_months: int, month: int, option: str) -> None:
    """Refuse, before any run, an analysis month beyond a scenario's horizon.

    Shared by every job that reads survival at a fixed month (``compare``, ``interact``,
    ``assess``, ``sensitivity``, ``discover``), so that a short ``run.horizon_months`` is
    reported in one line at once instead of failing after the runs.

    Args:
        where: The scenario (its file or label), for the message.
        horizon_months: The scenario's ``run.horizon_months``.
        month: The month the analysis needs (at least 1).
        option: What asked for that month, e.g. ``"--years 6"`` or ``"compare"``.

    Raises:
        ExperimentError: If ``month`` is below 1 or beyond ``horizon_months``.

    """
    if month < 1 or month > horizon_months:
        raise ExperimentError(f"{option}: month {month} is beyond the scenario's horizon of "
                              f"{horizon_months} months in {where} (run.horizon_months); "
                              f"allowed 1..{horizon_months}")


@dataclass
class Claim:
    """An output folder claimed by this process for one job.

    Attributes:
        final: The folder the user asked for.
        work: Where the job writes: ``final`` itself, or with ``--force`` on an existing
            folder a fresh sibling ``.NAME.new-<12 hex>`` swapped in by :meth:`commit`.
        created: Whether the claim created ``final`` (absent before).

    """

    final: Path
    work: Path
    created: bool
    lock_fd: int | None
    lock_path: Path | None

    def release(self) -> None:
        """Give up the claim lock (its file is removed first, see :func:`_lock_claim`)."""
        if self.lock_fd is None:
            return
        if self.lock_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.lock_path)
        os.close(self.lock_fd)
        self.lock_fd = None

    def commit(self) -> Path:
        """Finish the folder: mark it complete, drop an unsharded store, swap a new one in.

        Returns:
            The final folder.

        """
        try:
            complete_folder(self.work)
            parts = [self.work, *(p for p in self.work.iterdir() if p.is_dir())]
            for folder in parts:  # assess of several authorities: one store per subfolder
                if (folder / MANIFEST_NAME).is_file() and not _sharded(folder):
                    discard_store(folder)
            if self.work != self.final:
                full = Path(os.path.abspath(self.final))
                parent = full.parent
                old = parent / f".{full.name}.old-{uuid.uuid4().hex[:12]}"
                os.rename(full, old)
                try:
                    os.rename(self.work, full)
                except OSError:
                    os.rename(old, full)  # the old folder back as it was
                    raise
                fsync_dir(parent)
                if not remove_outputs(old):
                    print(f"note: the replaced folder is kept as {old} (it holds files this "
                          f"tool did not write)", file=sys.stderr)
            return self.final
        finally:
            self.release()

    def abort(self, exc: BaseException) -> None:
        """Undo the claim after a failure: the folder asked for stays as it was."""
        try:
            if self.work != self.final:
                shutil.rmtree(self.work, ignore_errors=True)
                print(f"note: the --force run did not finish; {self.final} still holds the "
                      f"previous results", file=sys.stderr)
            elif self.created:
                state = folder_state(self.work)
                if state.state in ("empty", "unfinished") and state.done == 0 \
                        and not folder_in_use(self.work):
                    remove_outputs(self.work)  # failed before any run finished: leave nothing
        finally:
            self.release()

    def shown(self, value):
        """``value`` (text, paths, tuples of them) with the working folder's path made final."""
        if self.work == self.final:
            return value
        if isinstance(value, str):
            return value.replace(str(self.work), str(self.final))
        if isinstance(value, Path):
            return Path(self.shown(str(value)))
        if isinstance(value, (tuple, list)):
            return type(value)(self.shown(v) for v in value)
        return value


_CLAIMS: list[Claim] = []
"""The claims of the jobs running in this process (see :func:`output_job`)."""


def _sharded(folder: Path) -> bool:
    try:
        return "shard" in read_manifest(folder / MANIFEST_NAME)
    except ExperimentError:
        return False


def _lock_claim(lock_path: Path, shown: Path) -> int:
    """Take the claim lock beside the folder, or refuse: one process per output folder.

    A POSIX record lock on ``.NAME.claim`` (dropped by the OS however the process dies). The
    holder deletes the file when it is done, so a process that locked a file already
    unlinked retries on the new one.
    """
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ExperimentError(f"--out: cannot claim {shown}: "
                                  f"{exc.strerror or exc}") from None
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ExperimentError(f"--out: {shown} is in use by another running experiment; "
                                  f"wait for it or choose another folder") from None
        try:
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def final_path(path: str | Path) -> Path:
    """The path a job's output will have once its folder is in place (for text it writes).

    Args:
        path: A path in a folder given by :func:`prepare_out_dir`.

    Returns:
        The same path under the folder the user asked for.

    """
    for claim in _CLAIMS:
        value = claim.shown(Path(path))
        if value != Path(path):
            return value
    return Path(path)


def prepare_out_dir(out: str | None, job: str, force: bool, resume: bool = False) -> Path:
    """Claim the output folder; never overwrite anything without ``force``.

    Rules: an absent or empty folder is used; an existing one needs ``--resume`` (finish it in
    place) or ``--force``, which replaces only a folder this tool made (our manifest and only
    files of :data:`experiments.runner.manifest.OUTPUT_PATTERNS`) and never in place: the job
    writes into a fresh sibling ``.NAME.new-<12 hex>`` that :func:`output_job` swaps in once
    the job has finished (on failure the old folder is untouched). Claiming is atomic: one
    process per folder (a lock beside it), the others get one line.

    Args:
        out: The folder asked for, or None for a new ``results/<job>-<time>``.
        job: Job name, for the default folder.
        force: Replace an existing folder of this tool's results.
        resume: Keep an unfinished experiment's folder, to finish it.

    Returns:
        The folder to write into (created).

    Raises:
        ExperimentError: On an existing folder without ``force`` or ``resume``, ``resume``
            without ``out``, both flags together, a folder in use, a symbolic link, a folder
            holding files this tool did not write (with ``force``), or a folder that cannot be
            created.

    """
    if resume and force:
        raise ExperimentError("--resume and --force exclude each other: --resume finishes the "
                              "experiment in --out, --force replaces it")
    if out is None:
        if resume:
            raise ExperimentError("--resume needs --out DIR, the folder of the interrupted "
                                  "experiment")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path("results") / f"{job}-{stamp}"
        n = 1
        while path.exists():
            n += 1
            path = Path("results") / f"{job}-{stamp}-{n}"
    else:
        path = Path(out)
    if path.is_symlink():
        raise ExperimentError(f"--out: {path} is a symbolic link; give the folder itself")
    if path.exists() and not path.is_dir():
        raise ExperimentError(f"--out: {path} exists and is not a folder")
    full = Path(os.path.abspath(path))
    if full.parent == full:
        raise ExperimentError(f"--out: {path} is the root folder; choose a folder for results")
    try:
        full.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExperimentError(f"--out: cannot create folder {full.parent}: "
                              f"{exc.strerror or exc}") from None
    lock_path = full.parent / f".{full.name}.claim"
    fd = _lock_claim(lock_path, path)
    claim = Claim(final=path, work=path, created=False, lock_fd=fd, lock_path=lock_path)
    try:
        _choose(claim, path, full, force, resume)
    except BaseException:
        claim.release()
        raise
    _CLAIMS.append(claim)
    return claim.work


def _choose(claim: Claim, path: Path, full: Path, force: bool, resume: bool) -> None:
    """Decide where the claimed job writes (see :func:`prepare_out_dir`)."""
    state = folder_state(path)
    if state.state in ("unfinished", "complete", "other"):
        if folder_in_use(path):
            raise ExperimentError(f"--out: {path} is in use by another running experiment")
        if resume and state.state == "other":
            raise ExperimentError(f"--resume: {path} is not an experiment folder (no "
                                  f"runs.sqlite, runs table or manifest.json); check "
                                  f"--out")
        if not resume:
            if not force:
                if state.state == "unfinished":
                    raise ExperimentError(
                        f"--out: {path} holds an unfinished experiment ({state.done} of "
                        f"{state.planned or '?'} runs done); add --resume to finish it, or "
                        f"--force to start afresh")
                raise ExperimentError(f"--out: {path} already exists and is not empty; "
                                      "use --force to replace it or choose another folder")
            foreign = foreign_entry(path)
            if foreign is not None:
                raise ExperimentError(
                    f"--out: {path} holds {foreign}, which this tool did not write; --force "
                    f"replaces only a folder of this tool's results (move it or choose "
                    f"another folder)")
            for p in full.parent.iterdir():  # siblings of killed --force runs (we hold the claim)
                m = SIBLING.match(p.name)
                if m and m["name"] == full.name and p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
            cwd = Path(os.path.abspath(os.getcwd()))
            if cwd == full or full in cwd.parents:
                raise ExperimentError(f"--out: {path} is (or holds) the current folder; "
                                      f"--force cannot replace the folder it runs in")
            claim.work = full.parent / f".{full.name}.new-{uuid.uuid4().hex[:12]}"
            os.mkdir(claim.work)
            return
    try:
        claim.created = not path.exists()
        path.mkdir(exist_ok=True)
    except OSError as exc:
        raise ExperimentError(f"--out: cannot create folder {path}: "
                              f"{exc.strerror or exc}") from None


def output_job(func):
    """Decorate a job: commit its output folders when it returns, undo them when it fails.

    The folders the job claimed with :func:`prepare_out_dir` are marked complete (the last
    write), and a ``--force`` run's new folder is swapped in; paths to the working folder in
    the returned text and paths are shown as the final ones.
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        depth = len(_CLAIMS)
        try:
            value = func(*args, **kwargs)
        except BaseException as exc:
            while len(_CLAIMS) > depth:
                _CLAIMS.pop().abort(exc)
            raise
        mine = _CLAIMS[depth:]
        try:
            for claim in reversed(mine):
                claim.commit()
                value = claim.shown(value)
        except OSError as exc:
            raise ExperimentError(f"--out: cannot put the results in place: "
                                  f"{exc.strerror or exc}") from None
        finally:
            for claim in mine:
                claim.release()
            del _CLAIMS[depth:]
        return value

    return wrapper


def run_recorded(out: Path, manifest: dict, tasks, opts: JobOptions, *,
                 write_final: bool = True, phases=None):
    """Run analysis tasks under a manifest: record it, run (scalar outputs only), finish it.

    Shared by the analysis commands (sensitivity, interactions, discovery, assessment), which
    build their own designs and manifests.

    Args:
        out: The prepared output folder.
        manifest: The experiment's manifest (from :func:`build_manifest`, plus its own keys).
        tasks: The tasks to run, in design order.
        opts: Executor, format, progress and resume options.
        write_final: Write the finished manifest now (False when the caller adds to it first).
        phases: The job's :class:`experiments.runner.phases.Phases` (progress by phase).

    Returns:
        The :class:`experiments.runner.tables.EnsembleResult`.
    """
    if getattr(opts, "resume", False) and folder_state(out).state == "complete":
        raise ExperimentError(f"{out}: the experiment is already complete; nothing to resume "
                              f"(use --force to run it again)")
    write_manifest(out / "manifest.json", manifest)
    result = run_ensemble(tasks, workers=opts.workers, dask_scheduler=opts.dask_scheduler,
                          out_dir=out, series=False, fmt=opts.fmt, progress=opts.progress,
                          resume=getattr(opts, "resume", False), keep_store=True,
                          phases=phases)
    result.files.pop("store", None)  # removed once the folder is complete (output_job)
    finish_manifest(manifest, result)
    if write_final:
        write_manifest(out / "manifest.json", manifest)
    return result
