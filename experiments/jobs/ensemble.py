"""The ensemble family of commands: main, ensemble, compare, validate, merge and simulate.

The main job, ensembles, what-if comparisons, validation, the merge of shards and one run. Each takes
plain values, runs an ensemble through the executor seam, writes its folder (runs table,
manifest, plots, report) and returns text for the terminal.

Every job is resumable (``JobOptions.resume``) and shardable (``JobOptions.shard``). A job is
two steps: :func:`_run` (the ensemble, whose tables are identical however it was run) and an
analysis (survival table, report, paired differences or calibration patterns) computed from
the result. A shard stops after the first step; :func:`merge_job` joins the shards and then
runs the analysis of the job they came from, so the merged folder is the unsharded one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from experiments.errors import ExperimentError
from experiments.files import atomic_write_text
from experiments.jobs.common import (
    JobOptions,
    check_horizon,
    output_job,
    prepare_out_dir,
    site_path,
)
from experiments.reports.summary import format_survival_table, format_why_text
from experiments.runner.execute import run_ensemble
from experiments.runner.folders import check_resume, folder_state, merge_results
from experiments.runner.manifest import build_manifest, finish_manifest, read_manifest, write_manifest
from experiments.runner.posterior import ParameterPlan
from experiments.runner.store import STORE_NAME
from experiments.runner.tables import EnsembleResult
from experiments.runner.tasks import make_tasks, select_shard
from sim.scenario import Levers, Scenario, ScenarioError, load_scenario

SITE_FILES = ("isolated_coastal", "expanded_city", "metro_city")








def parse_lever(text: str) -> tuple[str, object]:
    """Parse ``NAME=VALUE`` into a lever name and a typed value (validated later)."""
    if "=" not in text:
        raise ExperimentError(f"--lever: {text!r} must look like NAME=VALUE, "
                              f"e.g. succession_planning=true")
    name, raw = (s.strip() for s in text.split("=", 1))
    if name not in Levers.__dataclass_fields__:
        raise ExperimentError(f"--lever: unknown lever {name!r}; allowed: "
                              f"{', '.join(sorted(Levers.__dataclass_fields__))}")
    low = raw.lower()
    if low in ("true", "yes", "on") and name != "programme_manager":
        return name, True
    if low in ("false", "no", "off") and name != "programme_manager":
        return name, False
    for cast in (int, float):
        try:
            return name, cast(raw)
        except ValueError:
            pass
    return name, raw


def _label(scenario: Scenario, path: str) -> str:
    return Path(path).stem if path else scenario.name


# --- running -------------------------------------------------------------------------------------

@dataclass
class _Run:
    """An ensemble's folder, manifest and result.

    ``message`` is set when there is nothing to analyse (a shard, or a folder that was already
    complete).
    """

    out: Path
    manifest: dict
    result: EnsembleResult | None
    message: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _run(variants: list[tuple[str, Scenario]], opts: JobOptions, job: str, series: bool,
         args: dict | None = None) -> _Run:
    tasks = make_tasks(variants, opts.replicates, opts.seed, opts.parameters)
    if opts.retry_failed and not opts.resume:
        raise ExperimentError("--retry-failed only applies with --resume")
    if opts.shard is not None and not select_shard(tasks, opts.shard):
        raise ExperimentError(f"--shard {opts.shard[0]}/{opts.shard[1]}: this shard has no runs "
                              f"(the design has {len(tasks)}); use at most {len(tasks)} shards")
    out = prepare_out_dir(opts.out, job, opts.force, resume=opts.resume)
    return _run_in(out, tasks, variants, opts, job, series, args)


def _run_in(out: Path, tasks, variants, opts: JobOptions, job: str, series: bool,
            args: dict | None) -> _Run:
    state = folder_state(out)
    previous = None
    if opts.resume and (out / "manifest.json").is_file():
        previous = read_manifest(out / "manifest.json")
        if previous.get("job", {}).get("name", job) != job:
            raise ExperimentError(f"--resume: {out} holds a {previous['job']['name']!r} "
                                  f"experiment, not {job!r}; use its original command")
    if opts.resume:
        check_resume(out, tasks, series=series, shard=opts.shard)  # before the manifest changes
    if opts.resume and state.state == "unfinished" and not (out / STORE_NAME).exists() \
            and ((out / "runs.csv").is_file() or (out / "runs.parquet").is_file()):
        raise ExperimentError(f"--resume: {out} has its runs table but lacks files its "
                              f"manifest lists, and its run store is gone, so they cannot be "
                              f"rebuilt; run it again with --force")
    if opts.resume and state.state == "complete":
        manifest = previous or {}
        n = manifest.get("runs", "all")
        return _Run(out, manifest, None,
                    f"{out}: already complete ({n} runs); nothing to resume "
                    f"(use --force to run it again)")
    manifest = build_manifest(list(opts.command), variants, opts.seed, opts.replicates,
                              opts.workers, opts.dask_scheduler, opts.parameters)
    manifest["job"] = {"name": job, "args": args or {}}
    manifest["options"] = {"series": bool(opts.series), "format": opts.fmt}
    if opts.shard is not None:
        manifest["shard"] = {"index": opts.shard[0], "count": opts.shard[1],
                             "runs": len(select_shard(tasks, opts.shard))}
    if previous is not None:
        manifest["started"] = previous.get("started", manifest["started"])
        manifest["attempts"] = previous.get("attempts", [
            {"started": previous.get("started"), "command": previous.get("command")}])
        manifest["attempts"].append({"started": _now(), "command": manifest["command"],
                                     "workers": opts.workers,
                                     "dask_scheduler": opts.dask_scheduler})
    write_manifest(out / "manifest.json", manifest)
    result = run_ensemble(tasks, workers=opts.workers, dask_scheduler=opts.dask_scheduler,
                          out_dir=out, series=series, fmt=opts.fmt, progress=opts.progress,
                          write_series=opts.series, resume=opts.resume, shard=opts.shard,
                          retry_failed=opts.retry_failed, keep_store=True)
    if opts.shard is None:
        result.files.pop("store", None)  # removed once the folder is complete (output_job)
    finish_manifest(manifest, result)
    write_manifest(out / "manifest.json", manifest)
    if result.runs.empty:
        raise ExperimentError(f"all {result.planned} runs failed; see {out / 'failures.csv'}")
    if opts.shard is not None:
        i, k = opts.shard
        return _Run(out, manifest, result,
                    f"shard {i}/{k}: {len(result.runs)} runs in {result.wall_time:.1f} s"
                    f"{_notes(out, result)}\nresults: {out}\nwhen all {k} shards are done: "
                    f"python run.py merge SHARD_DIR... --out DIR")
    return _Run(out, manifest, result)


def _notes(out: Path, result: EnsembleResult) -> str:
    """Lines about reused and failed runs for the summary (empty when there is nothing)."""
    notes = ""
    if result.reused:
        notes += f"\n{result.reused} of {result.planned} runs were taken from the interrupted run"
    if result.n_failed:
        notes += (f"\n{result.n_failed} of {result.planned} runs failed (seeds, inputs and "
                  f"tracebacks in {out / 'failures.csv'}); the tables use the "
                  f"{len(result.runs)} that finished")
    return notes




def _report(out: Path, runs, series, manifest, title: str, extra=None) -> Path:
    from experiments.reports.report import write_report

    return write_report(out, runs, series, manifest, title, extra_sections=extra)


# --- analyses: what a job does with its result (also after a merge of shards) --------------------

def _analyse_sites(run: _Run) -> tuple[str, bool]:
    from experiments.analysis.survival import survival_table

    result = run.result
    table = survival_table(result.runs)
    report = _report(run.out, result.runs, result.series, run.manifest,
                     "MST team survival in the three-site study's Local Authorities")
    text = f"{format_survival_table(table)}\n\n{format_why_text(result.runs)}"
    return (f"{text}\n\n{len(result.runs)} runs in {result.wall_time:.1f} s"
            f"{_notes(run.out, result)}\nreport: {report}"), True


def _analyse_ensemble(run: _Run) -> tuple[str, bool]:
    from experiments.analysis.survival import survival_table

    result = run.result
    table = survival_table(result.runs)
    report = _report(run.out, result.runs, result.series, run.manifest, "Ensemble")
    return (f"{format_survival_table(table)}\n\n{format_why_text(result.runs)}"
            f"{_notes(run.out, result)}\n\nreport: {report}"), True


def _compare_pairs(variants: list[dict], levers: list[str]) -> list[tuple[str, str]]:
    """The paired comparisons of ``compare``: only variants of one authority.

    With levers, each authority's lever variants against it. Without, a file is paired with
    the first one only when both describe the same authority (the same name, e.g. a copy with
    one descriptor changed); different authorities are shown side by side, never paired.
    """
    labels = [v["label"] for v in variants]
    names = {v["label"]: v.get("name") for v in variants}
    baselines = [v for v in labels if " +" not in v]
    if levers:
        return [(base, label) for base in baselines for label in labels
                if label.startswith(base + " +")]
    return [(baselines[0], b) for b in baselines[1:] if names[b] == names[baselines[0]]]


def _analyse_compare(run: _Run, months: Sequence[int] | None = None) -> tuple[str, bool]:
    from experiments.analysis.survival import paired_difference, survival_table

    if months is None:  # after a merge of shards: the months recorded by the job
        months = run.manifest.get("job", {}).get("args", {}).get("months", COMPARE_MONTHS)
    result = run.result
    runs = result.runs
    table = survival_table(runs)
    lines = [format_survival_table(table), "", format_why_text(runs), "",
             "Paired differences (common random numbers):"]
    rows = []
    levers = run.manifest.get("job", {}).get("args", {}).get("levers", [])
    pairs = _compare_pairs(run.manifest["variants"], levers)
    if not pairs:
        lines.append("  none: the files describe different authorities, which are compared "
                     "side by side above, never run by run")
    for base, label in pairs:
        for m in months:
            d = paired_difference(runs, base, label, m)
            rows.append({"baseline": base, "variant": label, "month": m, **d})
            lines.append(f"  {label} vs {base}: {d['sentence']}")
    diffs = pd.DataFrame(rows)
    atomic_write_text(run.out / "paired_differences.csv",
                      diffs.to_csv(index=False, float_format="%.6g"))
    html = diffs.drop(columns=[c for c in diffs.columns if c == "sentence"]).to_html(
        index=False, float_format=lambda x: f"{x:.3f}")
    report = _report(run.out, runs, result.series, run.manifest, "What-if comparison",
                     extra=[("Paired differences", html)])
    notes = _notes(run.out, result)
    if notes:
        lines.append(notes.lstrip("\n"))
    lines.append(f"\nreport: {report}")
    return "\n".join(lines), True


def _analyse_validate(run: _Run) -> tuple[str, bool]:
    from experiments.analysis.calibration import check_patterns, format_table, summary_line

    table = check_patterns(run.result.runs)
    atomic_write_text(run.out / "patterns.csv", table.to_csv(index=False, float_format="%.6g"))
    ok = bool(table["passed"].all())
    text = format_table(table) + "\n\n" + summary_line(table)
    text += _notes(run.out, run.result)
    return text + f"\nresults: {run.out}", ok


ANALYSES = {"sites": _analyse_sites, "ensemble": _analyse_ensemble,
            "compare": _analyse_compare, "validate": _analyse_validate}
"""What each job does with its ensemble's result, by job name (as in the manifest)."""


# --- the jobs ------------------------------------------------------------------------------------



@output_job
def main_job(opts: JobOptions) -> tuple[str, Path]:
    """The main job: the three sites as an ensemble, survival table and report folder."""
    variants = [(name, load_scenario(site_path(name))) for name in SITE_FILES]
    run = _run(variants, opts, "sites", series=True)
    if run.message:
        return run.message, run.out
    return _analyse_sites(run)[0], run.out


@output_job
def ensemble_job(paths: list[str], opts: JobOptions) -> tuple[str, Path]:
    """Any scenario files as an ensemble."""
    variants = [(_label(sc, p), sc) for p in paths for sc in [load_scenario(p)]]
    _check_unique(variants)
    run = _run(variants, opts, "ensemble", series=True)
    if run.message:
        return run.message, run.out
    return _analyse_ensemble(run)[0], run.out


def _check_unique(variants):
    labels = [v[0] for v in variants]
    if len(set(labels)) != len(labels):
        raise ExperimentError("two scenarios have the same file name; give each a distinct name")


def compare_variants(paths: list[str], levers: list[str]) -> list[tuple[str, Scenario]]:
    """Build the what-if variants.

    Each scenario as given, with each lever alone and, when more than one lever is given, with
    all of them together.
    """
    parsed = [parse_lever(t) for t in levers]
    variants = []
    for p in paths:
        base = load_scenario(p)
        stem = _label(base, p)
        variants.append((stem, base))
        for (name, value), text in zip(parsed, levers, strict=True):
            try:
                variants.append((f"{stem} +{name}={value}", base.with_levers(**{name: value})))
            except ScenarioError as exc:
                raise ExperimentError(f"--lever {text}: {exc.detail}") from None
        if len(parsed) > 1:
            variants.append((f"{stem} +all levers", base.with_levers(**dict(parsed))))
    _check_unique(variants)
    return variants


COMPARE_MONTHS = (24, 60, 72, 120)
"""Months of the paired differences of ``compare`` (those within every horizon, by default)."""


def compare_months(paths: list[str], variants: list[tuple[str, Scenario]],
                   months: Sequence[int] | None = None) -> tuple[int, ...]:
    """The months of a comparison's paired differences, checked against every horizon.

    Args:
        paths: The scenario files (for messages), in the order of their base variants.
        variants: The variants of :func:`compare_variants`.
        months: Months asked for; None takes those of :data:`COMPARE_MONTHS` within the
            shortest horizon (or that horizon alone when it is shorter than all of them).

    Returns:
        The months, in increasing order without repeats.

    Raises:
        ExperimentError: If a month asked for is beyond a scenario's horizon (checked before
            any run, by :func:`experiments.jobs.common.check_horizon`).

    """
    shortest = min(sc.horizon_months for _, sc in variants)
    if months is None:
        return tuple(m for m in COMPARE_MONTHS if m <= shortest) or (shortest,)
    bases = [sc for label, sc in variants if " +" not in label]
    for m in months:
        for p, sc in zip(paths, bases, strict=True):
            check_horizon(p, sc.horizon_months, int(m), f"--months {m}")
    return tuple(sorted(set(int(m) for m in months)))


@output_job
def compare_job(paths: list[str], levers: list[str], opts: JobOptions,
                months: Sequence[int] | None = None) -> tuple[str, Path]:
    """What-if comparison over common random numbers with paired differences.

    Args:
        paths: The scenario files.
        levers: ``NAME=VALUE`` levers to switch.
        opts: The job's options.
        months: Months of the paired differences (see :func:`compare_months`).

    Returns:
        ``(terminal text, output folder)``.

    Raises:
        ExperimentError: On bad levers or options, or a month beyond a scenario's horizon
            (before any run).

    """
    if not levers and len(paths) < 2:
        raise ExperimentError("compare needs at least one --lever or two scenario files")
    variants = compare_variants(paths, levers)
    chosen = compare_months(paths, variants, months)
    run = _run(variants, opts, "compare", series=True,
               args={"levers": list(levers), "months": list(chosen)})
    if run.message:
        return run.message, run.out
    return _analyse_compare(run, chosen)[0], run.out


@output_job
def validate_job(opts: JobOptions) -> tuple[str, Path, bool]:
    """Check every outcome and mechanism pattern.

    The ensemble is the three sites, the neutral template and Isolated Coastal with each lever
    on alone (``calibrate.validation_variants``), all on the same seeds.
    """
    from experiments.jobs.calibrate import validation_variants

    variants = validation_variants()
    run = _run(variants, opts, "validate", series=False)
    if run.message:
        return run.message, run.out, True
    text, ok = _analyse_validate(run)
    return text, run.out, ok


@output_job
def merge_job(dirs: list[str], out: str, force: bool = False, progress: bool | None = None,
              command: tuple[str, ...] = ()) -> tuple[str, Path, bool]:
    """Join the folders of the K shards of one job into the folder of the unsharded job.

    The tables are byte-identical to those of the unsharded run, and the job's analysis
    (survival table, report, paired differences or calibration patterns) is run on them.

    Args:
        dirs: The shard folders (``--shard 0/K`` ... ``--shard K-1/K``), in any order.
        out: The merged folder.
        force: Replace an existing ``out``.
        progress: Progress bar setting (merging has none; kept for symmetry).
        command: The command line, for the manifest.

    Returns:
        ``(text, folder, ok)``; ``ok`` is False when a validation job's patterns fail.

    Raises:
        ExperimentError: If a folder is not a finished shard or the shards do not make one
            whole design.

    """
    if not dirs:
        raise ExperimentError("merge: give the shard folders to merge")
    manifests = []
    for d in dirs:
        if not Path(d).is_dir():
            raise ExperimentError(f"merge: {d} is not a folder")
        try:
            m = read_manifest(Path(d) / "manifest.json")
        except ExperimentError as exc:
            raise ExperimentError(f"merge: {exc}") from None
        if "shard" not in m:
            raise ExperimentError(f"merge: {d} was not run with --shard")
        manifests.append(m)
    first = manifests[0]
    job = first.get("job", {}).get("name")
    if job not in ANALYSES:
        raise ExperimentError(f"merge: {dirs[0]}: unknown job {job!r} in its manifest")
    for d, m in zip(dirs, manifests, strict=True):
        if m.get("job", {}).get("name") != job:
            raise ExperimentError(f"merge: {d} is a {m.get('job', {}).get('name')!r} shard, "
                                  f"{dirs[0]} a {job!r} one")
    for d in dirs:
        if Path(out).resolve() == Path(d).resolve():
            raise ExperimentError(f"merge: --out {out} is one of the shard folders; choose "
                                  f"another folder")
    options = first.get("options", {})
    fmt = options.get("format", "csv")
    folder = prepare_out_dir(out, "merge", force)
    started = _now()
    manifest = {k: v for k, v in first.items() if k not in ("shard", "attempts", "artefacts")}
    manifest.update(command=" ".join(map(str, command)), argv=[str(a) for a in command],
                    started=started, finished=None, status="running",
                    merged_from=[{"folder": str(d), "shard": m["shard"],
                                  "started": m.get("started"), "finished": m.get("finished"),
                                  "wall_time_s": m.get("wall_time_s"),
                                  "git_commit": m.get("git_commit"),
                                  "platform": m.get("platform")}
                                 for d, m in sorted(zip(dirs, manifests, strict=True),
                                                    key=lambda p: p[1]["shard"]["index"])])
    write_manifest(folder / "manifest.json", manifest)  # before the tables: not complete yet
    result = merge_results(dirs, folder, fmt=fmt, series=True,
                           write_series=bool(options.get("series")), progress=progress)
    finish_manifest(manifest, result)
    manifest["wall_time_s"] = round(sum(m.get("wall_time_s") or 0 for m in manifests), 3)
    write_manifest(folder / "manifest.json", manifest)
    if result.runs.empty:
        raise ExperimentError(f"all {result.planned} runs failed; see "
                              f"{folder / 'failures.csv'}")
    result.wall_time = manifest["wall_time_s"]
    text, ok = ANALYSES[job](_Run(folder, manifest, result))
    return f"merged {len(dirs)} shards into {folder}\n{text}", folder, ok


@output_job
def simulate_job(path: str, seed: int = 1, out: str | None = None, force: bool = False,
                 command: tuple[str, ...] = (),
                 plan: ParameterPlan | None = None) -> tuple[str, list[Path]]:
    """One run of one scenario: its readable summary and, with ``out``, CSV, text and PNG.

    With ``out`` the folder follows the rules of every job (:func:`prepare_out_dir`): absent
    or empty, or replaced with ``force`` when it holds this tool's results; a manifest
    records the run.

    Args:
        path: The scenario file.
        seed: The run's seed.
        out: Folder for ``series.csv``, ``summary.txt`` and ``series.png`` (None writes nothing).
        force: Replace an existing folder of this tool's results.
        command: The command line, for the manifest.
        plan: The parameter set (a ``point`` or ``defaults`` plan; None: the defaults). The
            summary names it.

    Returns:
        ``(summary text, paths written)``.

    """
    from experiments.reports.outputs import write_single_run
    from experiments.reports.summary import format_run_summary
    from sim import simulate

    scenario = load_scenario(path)
    if plan is not None and plan.mode == "posterior":
        raise ExperimentError("simulate: one run uses one parameter set; use --point or "
                              "--draw K (the posterior mode is for ensembles)")
    folder = prepare_out_dir(out, "simulate", force) if out else None
    if folder is not None:
        manifest = build_manifest(list(command), [(_label(scenario, path), scenario)], seed,
                                  1, 1, None, plan)
        manifest["job"] = {"name": "simulate", "args": {}}
        write_manifest(folder / "manifest.json", manifest)
    model_scenario = scenario
    if plan is not None and plan.mode == "point":
        own = dict(scenario.parameters)
        extra = {n: v for n, v in plan.overrides(plan.point_set) if n not in own}
        model_scenario = scenario.with_parameters(**extra) if extra else scenario
    result = simulate(model_scenario, seed)
    text = format_run_summary(result)
    if plan is not None:
        text += "\nparameters: " + plan.label()
        if plan.posterior is not None and plan.posterior.is_stale():
            text += "\n" + plan.posterior.stale_message()
    paths = write_single_run(result, folder, text) if folder is not None else []
    return text, paths
