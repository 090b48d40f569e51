"""Shared pieces of the jobs: options, output folders and running a design under a manifest."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from experiments.errors import ExperimentError
from experiments.runner.execute import run_ensemble
from experiments.runner.folders import folder_in_use, folder_state
from experiments.runner.manifest import finish_manifest, write_manifest

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


def prepare_out_dir(out: str | None, job: str, force: bool, resume: bool = False) -> Path:
    """Choose and create the output folder; never overwrite an existing one without ``force``.

    Args:
        out: The folder asked for, or None for a new ``results/<job>-<time>``.
        job: Job name, for the default folder.
        force: Replace an existing, non-empty folder (not one in use by a running experiment).
        resume: Keep an unfinished experiment's folder, to finish it.

    Returns:
        The folder (created).

    Raises:
        ExperimentError: On an existing folder without ``force`` or ``resume``, ``resume``
            without ``out``, both flags together, a folder in use, or a folder that cannot be
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
        state = folder_state(path)
        if path.exists() and not path.is_dir():
            raise ExperimentError(f"--out: {path} exists and is not a folder")
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
                shutil.rmtree(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExperimentError(f"--out: cannot create folder {path}: "
                              f"{exc.strerror or exc}") from None
    return path


def run_recorded(out: Path, manifest: dict, tasks, opts: JobOptions, *,
                 write_final: bool = True):
    """Run analysis tasks under a manifest: record it, run (scalar outputs only), finish it.

    Shared by the analysis commands (sensitivity, interactions, discovery, assessment), which
    build their own designs and manifests.

    Args:
        out: The prepared output folder.
        manifest: The experiment's manifest (from :func:`build_manifest`, plus its own keys).
        tasks: The tasks to run, in design order.
        opts: Executor, format, progress and resume options.
        write_final: Write the finished manifest now (False when the caller adds to it first).

    Returns:
        The :class:`experiments.runner.tables.EnsembleResult`.
    """
    write_manifest(out / "manifest.json", manifest)
    result = run_ensemble(tasks, workers=opts.workers, dask_scheduler=opts.dask_scheduler,
                          out_dir=out, series=False, fmt=opts.fmt, progress=opts.progress,
                          resume=getattr(opts, "resume", False))
    finish_manifest(manifest, result)
    if write_final:
        write_manifest(out / "manifest.json", manifest)
    return result
