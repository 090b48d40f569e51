"""The ``assess`` command: readiness assessment of one or more authorities; writes folders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.analysis.factors import local_factors
from experiments.analysis.readiness import TIMES, YEARS, Assessment, driver_table, lever_variants
from experiments.errors import ExperimentError
from experiments.files import atomic_write_csv
from experiments.jobs.common import output_job
from experiments.reports.assess import format_assessment, write_assessment_page
from experiments.reports.formatters import percent_interval
from experiments.runner.tasks import make_tasks


def assess_one(path: str, opts, out: Path, *, trajectories: int = 10,
               screen_replicates: int = 20) -> Assessment:
    """Assess one authority (outlook, local drivers, levers) and write its files to ``out``.

    Args:
        path: The authority's scenario file.
        opts: :class:`experiments.jobs.common.JobOptions` (``replicates`` for outlook and levers).
        out: Folder for this authority.
        trajectories: Morris trajectories of the local screening.
        screen_replicates: Replicates per screening row.

    Returns:
        The :class:`Assessment`.

    """
    from experiments.analysis.sensitivity import design_variants, make_design, row_outputs
    from experiments.analysis.survival import paired_difference, survival_table
    from experiments.jobs.common import check_horizon, run_recorded
    from experiments.runner.manifest import build_manifest
    from sim.scenario import load_scenario

    base = load_scenario(path)
    check_horizon(path, base.horizon_months, 12 * YEARS, f"assess (survival at {YEARS} years)")
    stem = Path(path).stem
    out.mkdir(parents=True, exist_ok=True)
    variants, tried, skipped = lever_variants(base, stem)
    factors = local_factors(base)
    design = make_design(factors, "morris", trajectories, opts.seed)
    screen = [(f"screen {label}", sc) for label, sc in design_variants(base, design)]
    manifest = build_manifest(list(opts.command), variants, opts.seed, opts.replicates,
                              opts.workers, opts.dask_scheduler, opts.parameters)
    manifest["planned_runs"] = len(variants) * opts.replicates + len(screen) * screen_replicates
    manifest["experiment"] = {
        "kind": "assessment", "years": YEARS, "levers_tried": [t for t, _ in tried],
        "levers_skipped": skipped,
        "screening": {"method": "Morris (SALib), local: one rubric step either side",
                      "trajectories": trajectories, "rows": design.rows,
                      "replicates_per_row": screen_replicates,
                      "factors": [{"name": f.name, "own_value": f.base, "low": f.low,
                                   "high": f.high} for f in factors]}}
    # One ensemble for options and screening: run ids of the screening follow the options'.
    tasks = make_tasks(variants, opts.replicates, opts.seed, opts.parameters)
    first = len(tasks)
    screen_tasks = [replace(t, run_id=first + t.run_id)
                    for t in make_tasks(screen, screen_replicates, opts.seed, opts.parameters)]
    result = run_recorded(out, manifest, tasks + screen_tasks, opts)
    runs = result.runs
    options = runs[runs["run_id"] < first].copy()
    screen_runs = runs[runs["run_id"] >= first].copy()
    screen_runs["run_id"] -= first
    if len(options) != first or len(screen_runs) != len(screen_tasks):
        raise ExperimentError(f"{stem}: {len(tasks) + len(screen_tasks) - len(runs)} runs "
                              "failed (see failures.csv); the assessment needs every run")

    table = survival_table(options[options.variant == stem], times=TIMES,
                           horizon=base.horizon_months)
    outlook = table.loc[stem]
    rows = []
    for label, text in tried:
        d = paired_difference(options, stem, label, 12 * YEARS,
                              horizon=base.horizon_months)
        rows.append({"lever": label.removeprefix("+"), "description": text,
                     "p_alive": d["p_variant"], "diff": d["diff"], "diff_low": d["diff_low"],
                     "diff_high": d["diff_high"], "mcnemar_p": d["mcnemar_p"],
                     "rmst_diff": d["rmst_diff"], "rmst_diff_low": d["rmst_diff_low"],
                     "rmst_diff_high": d["rmst_diff_high"]})
    levers = pd.DataFrame(rows)
    if len(levers):
        levers = levers.sort_values(["diff", "rmst_diff"], ascending=False,
                                    ignore_index=True)
        levers.insert(0, "rank", np.arange(1, len(levers) + 1))
    ro = row_outputs(screen_runs, design.rows, screen_replicates, base.horizon_months, YEARS)
    drivers = driver_table(design, ro.table["rmst"].to_numpy(float),
                            ro.table[f"p_alive_{YEARS}y"].to_numpy(float), opts.seed)
    atomic_write_csv(levers, out / "levers.csv", index=False, float_format="%.6g")
    pd.DataFrame([{"rank": d.rank, "factor": d.factor.name, "label": d.factor.label,
                   "own_value": d.factor.base, "local_low": d.factor.low,
                   "local_high": d.factor.high, "months_per_step": d.months_per_step,
                   "abs_months_per_step": d.months_star, "abs_low": d.months_low,
                   "abs_high": d.months_high, "survival_points_per_step": d.points_per_step,
                   "sigma": d.sigma} for d in drivers]).pipe(
        atomic_write_csv, out / "drivers.csv", index=False, float_format="%.6g")
    atomic_write_csv(table, out / "outlook.csv", float_format="%.6g")
    return Assessment(base.name, stem, outlook, drivers, levers, skipped, options, out,
                      len(screen_tasks), result.wall_time)


# ---------------------------------------------------------------------------------------------
# Text and HTML
# ---------------------------------------------------------------------------------------------


@output_job
def assess_job(paths: Sequence[str], opts, *, trajectories: int = 10,
               screen_replicates: int = 20) -> tuple[str, Path]:
    """Assess one or more authorities; rank them when there are several.

    Args:
        paths: Scenario files.
        opts: :class:`experiments.jobs.common.JobOptions`.
        trajectories: Morris trajectories of each local screening.
        screen_replicates: Replicates per screening row.

    Returns:
        ``(terminal text, output folder)``.

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
    texts, results = [], []
    for p, stem in zip(paths, stems, strict=True):
        folder = out if len(paths) == 1 else out / stem
        a = assess_one(p, opts, folder, trajectories=trajectories,
                       screen_replicates=screen_replicates)
        report = write_assessment_page(a, opts.replicates, trajectories, screen_replicates)
        text = format_assessment(a, opts.replicates)
        atomic_write_text(folder / "summary.txt", text + "\n")
        texts.append(text + f"\n  ({a.wall_time:.0f} s; report: {report})")
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
    return "\n\n".join(texts), out
