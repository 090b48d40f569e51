"""The ``discover`` command: scenario discovery (PRIM) on one authority; writes its folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.analysis.discovery import find_rules, require_prim
from experiments.analysis.factors import FACTORS, row_frame, select_factors
from experiments.errors import ExperimentError
from experiments.jobs.common import output_job
from experiments.reports.discovery import write_discovery_report
from experiments.runner.tasks import make_tasks


@output_job
def discover_job(path: str, opts, *, n: int = 2000, years: int = 5,
                 factors: str | None = None, find: str = "closure", max_boxes: int = 2,
                 max_dims: int = 3, min_coverage: float = 0.5) -> tuple[str, Path]:
    """Scenario discovery on one authority: sample, run, PRIM, rules; write the folder.

    Args:
        path: The authority's scenario file.
        opts: :class:`experiments.jobs.common.JobOptions` (``replicates`` per design row).
        n: Latin hypercube rows.
        years: Closure within this many years is the case of interest.
        factors: Factor specification (:func:`experiments.analysis.factors.select_factors`).
        find: ``closure`` (regions where the service closes) or ``survival`` (regions where it
            is still running).
        max_boxes: Boxes to report.
        max_dims: Most factors per rule.
        min_coverage: Least coverage of a reported box.

    Returns:
        ``(terminal text, output folder)``.

    Raises:
        ExperimentError: If the EMA workbench is missing (checked before anything runs) or on
            bad options.

    """
    require_prim()
    from experiments.analysis.sensitivity import design_variants, make_design
    from experiments.files import atomic_write_csv, atomic_write_text
    from experiments.jobs.common import check_horizon, prepare_out_dir, run_recorded
    from experiments.runner.manifest import build_manifest
    from experiments.runner.phases import Phases
    from sim.scenario import load_scenario

    if find not in ("closure", "survival"):
        raise ExperimentError(f"--find: {find!r}; use closure or survival")
    if not 0 < min_coverage <= 1:
        raise ExperimentError(f"--min-coverage: {min_coverage} is not in (0, 1]")
    base = load_scenario(path)
    month = 12 * years
    check_horizon(path, base.horizon_months, month, f"--years {years}")
    chosen = select_factors(factors)
    design = make_design(chosen, "pawn", n, opts.seed)  # a Latin hypercube sample
    variants = design_variants(base, design)
    out = prepare_out_dir(opts.out, "discover", opts.force,
                          getattr(opts, "resume", False))
    manifest = build_manifest(list(opts.command), [(Path(path).stem, base)], opts.seed,
                              opts.replicates, opts.workers, opts.dask_scheduler, opts.parameters)
    manifest["planned_runs"] = design.rows * opts.replicates
    manifest["experiment"] = {
        "kind": "scenario_discovery", "sampler": "SALib ProblemSpec.sample_latin",
        "rows": design.rows, "replicates_per_row": opts.replicates, "years": years,
        "find": find, "sampler_seed": design.seed, "max_boxes": max_boxes,
        "max_dims": max_dims, "min_coverage": min_coverage,
        "factors": [{"name": f.name, "label": f.label, "low": f.low, "high": f.high}
                    for f in chosen]}
    phases = Phases([("runs", design.rows * opts.replicates), ("rules", 0), ("report", 0)],
                    echo=None if opts.progress is None else bool(opts.progress))
    result = run_recorded(out, manifest, make_tasks(variants, opts.replicates, opts.seed, opts.parameters), opts,
                          phases=phases)
    phases.begin("rules")

    runs = result.runs.sort_values("run_id")
    rows = (runs["run_id"].to_numpy() // opts.replicates).astype(int)
    table = row_frame(chosen, design.X)
    x = table.drop(columns="row").iloc[rows].reset_index(drop=True)
    t = pd.to_numeric(runs["end_month"]).to_numpy(float)
    closed = ~runs["survived"].astype(bool).to_numpy() & (t <= month)
    y = closed if find == "closure" else ~closed
    outcome = (f"closure within {years} years" if find == "closure"
               else f"the service still running at {years} years")
    atomic_write_csv(pd.concat([x, pd.DataFrame({"run_id": runs["run_id"].to_numpy(), "case": y})],
                               axis=1), out / "discovery_data.csv", index=False, float_format="%.6g")
    rules, trajs = find_rules(x, y, FACTORS, outcome, max_boxes=max_boxes, max_dims=max_dims,
                              min_coverage=min_coverage, seed=opts.seed)
    lines = [f"Scenario discovery on {base.name}: {len(chosen)} factors, {design.rows:,} "
             f"Latin hypercube rows x {opts.replicates} replicate(s) = {len(runs):,} runs in "
             f"{result.wall_time:.0f} s.",
             f"Cases of interest: {outcome}: {int(y.sum()):,} of {len(y):,} runs "
             f"(base rate {y.mean():.2f}).", ""]
    if not rules:
        lines.append("PRIM found no box: every run, or no run, is a case of interest.")
    records = []
    for k, r in enumerate(rules, 1):
        lines.append(f"Box {k}: {r.text}.")
        lines.append(f"   {r.n:,} runs in the box ({r.mass:.0%} of all).")
        for name, lo, hi in r.conditions:
            rep = r.reproducibility.get(name)
            rep_t = f"; restricted in {rep:.0f}% of resampled PRIM runs" if rep is not None \
                else ""
            lines.append(f"   - {FACTORS[name].label}: "
                         f"{'>= ' + FACTORS[name].describe(lo) if lo is not None else ''}"
                         f"{' and ' if lo is not None and hi is not None else ''}"
                         f"{'<= ' + FACTORS[name].describe(hi) if hi is not None else ''}"
                         f" (quasi-p {r.qp.get(name, float('nan')):.2g}{rep_t})")
            records.append({"box": k, "factor": name, "low": lo, "high": hi,
                            "quasi_p": r.qp.get(name), "reproducibility": rep,
                            "coverage": r.coverage, "density": r.density, "mass": r.mass,
                            "rule": r.text})
        if k == 1 and len(rules) > 1:
            lines.append("   (Box 2 is searched among the runs outside box 1.)")
    atomic_write_csv(pd.DataFrame(records), out / "rules.csv", index=False, float_format="%.6g")
    text = "\n".join(lines)
    atomic_write_text(out / "summary.txt", text + "\n")
    phases.begin("report")
    report = write_discovery_report(out, base.name, lines[:2], rules, trajs)
    return text + f"\nreport: {report}", out
