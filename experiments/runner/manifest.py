"""Provenance of an ensemble: ``manifest.json``.

The manifest records what was run and with what: the command line, each variant's scenario
(source path, full text and SHA-256 digest, levers and parameter overrides), the root seed and
seed scheme, the number of replicates, the executor, package versions, the git commit, a
platform string (no host name) and start and end times. With it and the same code, anyone can
re-run the ensemble and get the same tables.
"""

from __future__ import annotations

import fnmatch
import json
import platform
import re
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from experiments.files import TEMPORARY, atomic_write_text
from experiments.runner.tasks import SEED_SCHEME
from sim.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]

PACKAGES = ("mesa", "numpy", "scipy", "pandas", "SALib", "matplotlib", "mst-sustain")
"""Distributions whose versions the manifest records (those not installed are left out)."""

MANIFEST_VERSION = 1

MANIFEST_NAME = "manifest.json"

OUTPUT_PATTERNS = (
    MANIFEST_NAME, "runs.csv", "runs.parquet", "series.csv", "series.parquet", "failures.csv",
    "runs.sqlite", "runs.sqlite-wal", "runs.sqlite-shm", "runs.sqlite.lock", "runs.journal",
    "report.html", "*.png", "summary.txt", "ranking.txt", "screened_factors.txt",
    "calibration_search.jsonl", "paired_differences.csv", "patterns.csv", "levers.csv",
    "drivers.csv", "outlook.csv", "design.csv", "discovery_data.csv", "rules.csv",
    "effects.csv", "cells.csv", "indices_*.csv", "convergence_*.csv", "second_order_*.csv",
    # calibrate (ABC-SMC): pyabc's history, the screening, the posterior and its report
    "abc_history.sqlite", "abc_history.sqlite-journal", "abc_screening.json", "posterior.json",
    "truth_quantiles.csv", "report.md", "ppc.csv",
)
"""Every name a command of this project writes into an output folder (globs), besides the
temporary files of :data:`experiments.files.TEMPORARY`. ``--force`` replaces only a folder
holding a manifest and nothing else (:func:`foreign_entry`), and clean-up deletes only these
(:func:`remove_outputs`)."""

STORE_FILES = ("runs.sqlite", "runs.sqlite-wal", "runs.sqlite-shm", "runs.sqlite.lock")
"""The run store's files (not artefacts: removed when an unsharded folder is complete)."""

SIBLING = re.compile(r"^\.(?P<name>.+)\.(?:(?:new|old)-[0-9a-f]{12}|claim)$")
"""Entries the commands make *beside* an output folder ``NAME``: ``.NAME.new-<12 hex>`` (a
``--force`` run's new folder until it is swapped in), ``.NAME.old-<12 hex>`` (the replaced
folder while it is removed) and ``.NAME.claim`` (the lock that claims ``NAME``)."""


def is_output_name(name: str) -> bool:
    """Whether a file name is one our commands write (:data:`OUTPUT_PATTERNS`, temporaries)."""
    return bool(TEMPORARY.match(name)) or any(fnmatch.fnmatchcase(name, g)
                                              for g in OUTPUT_PATTERNS)


def foreign_entry(folder: str | Path) -> str | None:
    """The first entry of ``folder`` that this project's commands did not write, if any.

    A folder is ours when it holds our manifest and only files of :data:`OUTPUT_PATTERNS`
    (and temporaries), or only subfolders that are ours (``assess`` of several authorities)
    besides such files. Symbolic links are always foreign (never followed).

    Args:
        folder: An existing folder.

    Returns:
        None if the folder is ours (or empty), else the name of the first foreign entry (or
        of the folder's own manifest, missing).

    """
    folder = Path(folder)
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    if not entries:
        return None
    has_manifest = (folder / MANIFEST_NAME).is_file() and not (folder / MANIFEST_NAME).is_symlink()
    has_sub = False
    for p in entries:
        if p.is_symlink():
            return p.name
        if p.is_dir():
            if not (p / MANIFEST_NAME).is_file() or foreign_entry(p) is not None:
                return p.name
            has_sub = True
        elif not p.is_file() or not is_output_name(p.name):
            return p.name
    if not has_manifest and not has_sub:
        return f"{MANIFEST_NAME} (missing)"
    return None


def remove_outputs(folder: str | Path) -> bool:
    """Delete what our commands wrote in ``folder`` (never through a link), then the folder.

    Args:
        folder: A folder of ours (see :func:`foreign_entry`).

    Returns:
        True if the folder is gone; False if something else was left in it (kept).

    """
    folder = Path(folder)
    for p in folder.iterdir():
        if p.is_dir() and not p.is_symlink():
            remove_outputs(p)
        elif p.is_file() and not p.is_symlink() and is_output_name(p.name):
            p.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        return False
    return True


def artefacts(folder: str | Path) -> list[str]:
    """The files a finished folder holds: everything but the manifest, store and temporaries.

    Args:
        folder: The output folder.

    Returns:
        Sorted paths relative to ``folder`` (``/``-separated).

    """
    folder = Path(folder)
    names = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if not p.is_file() or p.name in (MANIFEST_NAME, *STORE_FILES) or TEMPORARY.match(p.name):
            continue
        names.append(rel.as_posix())
    return names


def folder_complete(folder: str | Path) -> bool | None:
    """Whether a folder's manifest says it is complete and every artefact it lists exists.

    Args:
        folder: The output folder.

    Returns:
        None without a readable manifest; else True only when ``status`` is ``"complete"``
        and every file of ``artefacts`` exists.

    """
    folder = Path(folder)
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("status") != "complete":
        return False
    return all((folder / name).is_file() for name in data.get("artefacts") or ())


def complete_folder(folder: str | Path) -> bool:
    """Mark a folder complete, once every artefact is written: the very last write of a job.

    The manifest (and that of every subfolder with one) gets ``status: "complete"``, the
    ``finished`` time and ``artefacts``, the files the folder promises (see
    :func:`folder_complete`). A folder already complete is left as it is.

    Args:
        folder: The output folder.

    Returns:
        True if a manifest was completed or already complete.

    """
    folder = Path(folder)
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()):
        if (sub / MANIFEST_NAME).is_file():
            complete_folder(sub)
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return False
    manifest = read_manifest(path)
    if manifest.get("status") == "complete" and folder_complete(folder):
        return True
    manifest["status"] = "complete"
    manifest["finished"] = _now()
    manifest["artefacts"] = artefacts(folder)
    write_manifest(path, manifest)
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Versions of Python and the packages results depend on.

    Args:
        extra: More distribution names to record if installed.

    Returns:
        ``{"python": "3.12.x", "mesa": "3.5.1", ...}``; packages not installed are omitted.

    """
    versions = {"python": platform.python_version()}
    for name in (*PACKAGES, *extra):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit() -> str | None:
    """Return the current git commit, or None if git or the repository is unavailable."""
    return _git("rev-parse", "HEAD") or None


def git_dirty() -> bool | None:
    """Whether the working tree has uncommitted changes (None if unknown)."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status)


def platform_string() -> str:
    """Operating system, architecture and Python implementation, without the host name."""
    return (f"{platform.system()} {platform.release()} {platform.machine()}; "
            f"{platform.python_implementation()} {platform.python_version()}")


def describe_variant(label: str, scenario: Scenario) -> dict:
    """One variant's entry in the manifest.

    Args:
        label: The variant's label.
        scenario: Its scenario.

    Returns:
        Label, authority name, source path, full scenario text, digest, levers and overrides.

    """
    return {
        "label": label,
        "name": scenario.name,
        "source": scenario.source,
        "digest": scenario.digest,
        "levers": asdict(scenario.levers),
        "parameters": dict(scenario.parameters),
        "horizon_months": scenario.horizon_months,
        "text": scenario.text,
    }


def build_manifest(command: list[str], variants: list[tuple[str, Scenario]], root_seed: int,
                   replicates: int, workers: int, dask_scheduler: str | None,
                   plan=None) -> dict:
    """Start an ensemble's manifest (call before running; see :func:`finish_manifest`).

    Args:
        command: The command line (``sys.argv`` or the equivalent argument list).
        variants: The ``(label, scenario)`` pairs of the ensemble.
        root_seed: The root seed.
        replicates: Runs per variant.
        workers: Local worker processes requested.
        dask_scheduler: Dask scheduler address, or None.
        plan: The :class:`~experiments.runner.posterior.ParameterPlan` (None: the registry
            defaults), recorded as ``parameters``.

    Returns:
        The manifest as a JSON-serialisable dictionary.

    """
    return {
        "manifest_version": MANIFEST_VERSION,
        "command": " ".join(map(str, command)),
        "argv": [str(a) for a in command],
        "started": _now(),
        "finished": None,
        "status": "running",
        "root_seed": int(root_seed),
        "seed_scheme": SEED_SCHEME + "; replicate r of every variant shares its stream "
                                     "(common random numbers)",
        "replicates": int(replicates),
        "planned_runs": len(variants) * int(replicates),
        "workers": workers,
        "dask_scheduler": dask_scheduler,
        "variants": [describe_variant(label, sc) for label, sc in variants],
        "parameters": plan.describe() if plan is not None else {"mode": "defaults"},
        "versions": package_versions(("distributed",) if dask_scheduler else ()),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "platform": platform_string(),
        "executable": Path(sys.executable).name,
    }


def finish_manifest(manifest: dict, result) -> dict:
    """Record the end of the ensemble in its manifest (in place).

    Args:
        manifest: The manifest from :func:`build_manifest`.
        result: The :class:`experiments.runner.tables.EnsembleResult`.

    Returns:
        The same manifest, with ``finished``, ``status`` (``"finishing"``: the runs are done;
        :func:`complete_folder` makes it ``"complete"`` after the last artefact), ``wall_time_s``,
        ``runs`` (rows in the runs table), ``failed``, ``reused_runs`` (taken from an
        interrupted attempt's run store) and ``files``.

    """
    manifest["finished"] = _now()
    manifest["status"] = "finishing"
    manifest["wall_time_s"] = round(float(result.wall_time), 3)
    manifest["runs"] = int(len(result.runs))
    manifest["failed"] = int(getattr(result, "n_failed", 0))
    manifest["reused_runs"] = int(getattr(result, "reused", 0))
    files = getattr(result, "files", None) or {}
    manifest["files"] = {k: Path(v).name for k, v in files.items()}
    return manifest


def write_manifest(path: str | Path, manifest: dict) -> Path:
    """Write the manifest as indented JSON, atomically (a temporary file renamed into place).

    Args:
        path: Destination, usually ``<out>/manifest.json``.
        manifest: The manifest.

    Returns:
        The path written.

    """
    path = Path(path)
    text = json.dumps(manifest, indent=2, default=str, ensure_ascii=False) + "\n"
    return atomic_write_text(path, text)


def read_manifest(path: str | Path) -> dict:
    """Read a manifest written by :func:`write_manifest`.

    Args:
        path: The ``manifest.json`` file.

    Returns:
        The manifest.

    Raises:
        ExperimentError: If the file is missing or is not a manifest.

    """
    from experiments.errors import ExperimentError

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExperimentError(f"{path}: no manifest (not an experiment folder)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ExperimentError(f"{path}: unreadable manifest ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or "manifest_version" not in data:
        raise ExperimentError(f"{path}: not a manifest of this project")
    return data
