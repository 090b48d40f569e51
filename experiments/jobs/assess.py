"""The ``assess`` command: readiness assessment of one or more authorities; writes folders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from experiments.analysis.factors import local_factors
from experiments.analysis.readiness import (
    POINT_MODE,
    TIMES,
    YEARS,
    Assessment,
    driver_table,
    lever_table,
    lever_variants,
    step_size,
)
from experiments.errors import ExperimentError
from experiments.files import atomic_write_csv
from experiments.jobs.common import output_job
from experiments.reports.assess import (
    format_assessment,
    write_assessment_page,
    write_ranking_page,
)
from experiments.reports.formatters import percent_interval
from experiments.runner.tasks import make_tasks

PHASES = ("outlook", "levers", "drivers", "report")
"""The steps of one authority's assessment, in order (progress by phase)."""


def assess_one(path: str, opts, out: Path, *, trajectories: int = 10,
               screen_replicates: int = 20, mode: str = POINT_MODE, listener=None,
               title: str = "", scenario=None) -> Assessment:
    """Assess one authority (outlook, local drivers, levers) and write its files to ``out``.

    The runs are one ensemble in four steps: the authority as described (the outlook), each
    lever alone, the local screening (the drivers), then the report. Progress is shown by
    step; a ``listener`` hears of it and receives each part of the result as soon as its
    runs are in, so that a page can show the outlook first.

    Args:
        path: The authority's scenario file.
        opts: :class:`experiments.jobs.common.JobOptions` (``replicates`` for outlook and levers).
        out: Folder for this authority.
        trajectories: Morris trajectories of the local screening.
        screen_replicates: Replicates per screening row.
        mode: The parameter mode, for the provenance (:data:`POINT_MODE`).
        listener: Called ``listener(kind, value)``: ``("progress", ProgressState)``, then
            ``("outlook", pandas Series)``, ``("levers", DataFrame)`` and ``("drivers",
            list)`` as their runs finish (computed from those runs alone), and
            ``("assessment", Assessment)`` at the end. It may raise to stop the runs.
        title: Shown before the phase on the progress bar (several authorities).
        scenario: The scenario already loaded from ``path`` (else it is loaded).

    Returns:
        The :class:`Assessment` (computed from the complete runs table).

    """
    from experiments.analysis.sensitivity import design_variants, make_design, row_outputs
    from experiments.analysis.survival import survival_table
    from experiments.jobs.common import check_horizon, run_recorded
    from experiments.runner.manifest import build_manifest
    from experiments.runner.phases import Phases
    from sim.scenario import load_scenario

    if mode == POINT_MODE and opts.parameters is not None:  # the plan the runs really use
        mode = opts.parameters.label(opts.replicates)

    base = load_scenario(path) if scenario is None else scenario
    check_horizon(path, base.horizon_months, 12 * YEARS, f"assess (survival at {YEARS} years)")
    stem = Path(path).stem
    h = base.horizon_months
    out.mkdir(parents=True, exist_ok=True)
    variants, tried, skipped = lever_variants(base, stem)
    factors = local_factors(base)
    design = make_design(factors, "morris", trajectories, opts.seed)
    screen = [(f"screen {label}", sc) for label, sc in design_variants(base, design)]
    manifest = build_manifest(list(opts.command), variants, opts.seed, opts.replicates,
                              opts.workers, opts.dask_scheduler, opts.parameters)
    manifest["planned_runs"] = len(variants) * opts.replicates + len(screen) * screen_replicates
    manifest["experiment"] = {
        "kind": "assessment", "years": YEARS, "parameter_mode": mode,
        "levers_tried": [t for t, _ in tried], "levers_skipped": skipped,
        "screening": {"method": "Morris elementary effects, local: one rubric step either "
                                "side (SALib sampler)",
                      "trajectories": trajectories, "rows": design.rows,
                      "replicates_per_row": screen_replicates,
                      "factors": [{"name": f.name, "own_value": f.base, "low": f.low,
                                   "high": f.high} for f in factors]}}
    # One ensemble for outlook, levers and screening: run ids of the screening follow the
    # options' (replicate r of every option and row still shares its seed).
    tasks = make_tasks(variants, opts.replicates, opts.seed, opts.parameters)
    first = len(tasks)
    # The screening's rows each run one replicate per posterior draw (M = 1), so every
    # elementary effect averages over screen_replicates parameter sets, the same for every
    # row (common random numbers and sets).
    screen_plan = opts.parameters
    if screen_plan is not None and screen_plan.mode == "posterior":
        screen_plan = replace(screen_plan, per_draw=1)
    screen_tasks = [replace(t, run_id=first + t.run_id)
                    for t in make_tasks(screen, screen_replicates, opts.seed, screen_plan)]
    parts: dict[str, list[dict]] = {}

    def phase_done(name: str, rows: list[dict]) -> None:
        if listener is None:
            return
        parts[name] = rows
        if name == "outlook":
            table = survival_table(pd.DataFrame(rows), times=TIMES, horizon=h)
            listener("outlook", (table.loc[stem], pd.DataFrame(rows)))
        elif name == "levers":
            both = pd.DataFrame(parts.get("outlook", []) + rows)
            listener("levers", lever_table(both, stem, tried, h, opts.seed))
        elif name == "drivers":
            ro = row_outputs(pd.DataFrame(rows).assign(
                run_id=lambda d: d["run_id"] - first), design.rows, screen_replicates, h, YEARS)
            listener("drivers", driver_table(design, ro.table["rmst"].to_numpy(float),
                                             opts.seed))

    phases = Phases([("outlook", opts.replicates), ("levers", first - opts.replicates),
                     ("drivers", len(screen_tasks)), ("report", 0)],
                    on_progress=None if listener is None else
                    (lambda state: listener("progress", state)),
                    on_phase_done=phase_done,
                    echo=None if opts.progress is None else bool(opts.progress), title=title)
    result = run_recorded(out, manifest, tasks + screen_tasks, opts, phases=phases)
    phases.begin("report")
    runs = result.runs
    options = runs[runs["run_id"] < first].copy()
    screen_runs = runs[runs["run_id"] >= first].copy()
    screen_runs["run_id"] -= first
    if len(options) != first or len(screen_runs) != len(screen_tasks):
        raise ExperimentError(f"{stem}: {len(tasks) + len(screen_tasks) - len(runs)} runs "
                              "failed (see failures.csv); the assessment needs every run")

    table = survival_table(options[options.variant == stem], times=TIMES, horizon=h)
    outlook = table.loc[stem]
    levers = lever_table(options, stem, tried, h, opts.seed)
    ro = row_outputs(screen_runs, design.rows, screen_replicates, h, YEARS)
    drivers = driver_table(design, ro.table["rmst"].to_numpy(float), opts.seed)
    atomic_write_csv(levers, out / "levers.csv", index=False, float_format="%.6g")
    pd.DataFrame([{"class": d.klass, "rank": d.rank, "factor": d.factor.name,
                   "label": d.factor.label, "own_value": d.factor.base,
                   "local_low": d.factor.low, "local_high": d.factor.high,
                   "step": step_size(d.factor), "months_per_step": d.effect,
                   "months_low": d.low, "months_high": d.high,
                   "direction_uncertain": d.uncertain, "effects": d.n_effects}
                  for d in drivers]).pipe(
        atomic_write_csv, out / "drivers.csv", index=False, float_format="%.6g")
    atomic_write_csv(table, out / "outlook.csv", float_format="%.6g")
    commit = manifest.get("git_commit") or "unknown"
    if manifest.get("git_dirty"):
        commit += " (with uncommitted changes)"
    provenance = {"seed": opts.seed, "commit": commit, "command": manifest.get("command", ""),
                  "mode": mode, "replicates": opts.replicates, "trajectories": trajectories,
                  "screen_replicates": screen_replicates,
                  "source": str(getattr(base, "source", path))}
    a = Assessment(base.name, stem, outlook, drivers, levers, skipped, options, out,
                   len(screen_tasks), result.wall_time, scenario=base, provenance=provenance)
    if listener is not None:
        listener("assessment", a)
    return a


# ---------------------------------------------------------------------------------------------
# Text and HTML
# ---------------------------------------------------------------------------------------------


@output_job
def assess_job(paths: Sequence[str], opts, *, trajectories: int = 10,
               screen_replicates: int = 20, mode: str = POINT_MODE,
               listener=None) -> tuple[str, Path]:
    """Assess one or more authorities; rank them when there are several.

    Args:
        paths: Scenario files.
        opts: :class:`experiments.jobs.common.JobOptions`.
        trajectories: Morris trajectories of each local screening.
        screen_replicates: Replicates per screening row.
        mode: The parameter mode (provenance).
        listener: See :func:`assess_one`.

    Returns:
        ``(terminal text, output folder)``; the text ends with ``report: <path>``.

    """
    from experiments.files import atomic_write_text
    from experiments.jobs.common import check_horizon, prepare_out_dir

    if not paths:
        raise ExperimentError("assess needs at least one scenario file")
    stems = [Path(p).stem for p in paths]
    if len(set(stems)) != len(stems):
        raise ExperimentError("two scenario files have the same name; give each a distinct "
                              "name")
    from sim.scenario import load_scenario

    for p in paths:  # fail fast on a bad file or a short horizon, before any simulation
        check_horizon(p, load_scenario(p).horizon_months, 12 * YEARS,
                      f"assess (survival at {YEARS} years)")
    out = prepare_out_dir(opts.out, "assess", opts.force,
                          getattr(opts, "resume", False))
    texts, results, reports = [], [], []
    for p, stem in zip(paths, stems, strict=True):
        folder = out if len(paths) == 1 else out / stem
        a = assess_one(p, opts, folder, trajectories=trajectories,
                       screen_replicates=screen_replicates, mode=mode, listener=listener,
                       title=a_title(p, len(paths)))
        report = write_assessment_page(a, opts.replicates, trajectories, screen_replicates)
        text = format_assessment(a, opts.replicates)
        atomic_write_text(folder / "summary.txt", text + "\n")
        texts.append(text + (f"\n  ({a.wall_time:.0f} s; report: {report})" if len(paths) > 1
                             else f"\n  (runs took {a.wall_time:.0f} s)"))
        reports.append(report)
        results.append(a)
    if len(results) > 1:
        ranked = sorted(results, key=lambda a: (-float(a.outlook["p_alive_60"]),
                                                -float(a.outlook["rmst"])))
        lines = ["Ranking, safest first (chance still running at 5 years; then average "
                 "months running):"]
        for i, a in enumerate(ranked, 1):
            o = a.outlook
            lines.append(f"  {i}. {a.name:<24} "
                         f"{percent_interval(o['p_alive_60'], o['p_alive_60_low'], o['p_alive_60_high'])}; "
                         f"{o['rmst']:.1f} months")
        ranking = "\n".join(lines)
        atomic_write_text(out / "ranking.txt", ranking + "\n")
        texts.append(ranking)
        index = write_ranking_page(out, ranked, reports)
    else:
        index = reports[0]
    return "\n\n".join(texts) + f"\nreport: {index}", out


def a_title(path: str, count: int) -> str:
    """The progress bar's title of one authority among ``count`` (its file's stem, or none)."""
    return Path(path).stem if count > 1 else ""
