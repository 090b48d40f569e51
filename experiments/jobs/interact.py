"""The ``interact`` command: a full factorial of named stressors; writes its folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from experiments.analysis.interactions import (
    MAX_STRESSORS,
    STRESSORS,
    TOXIC_TRIO,
    factorial_variants,
    interaction_effects,
    logit_interaction,
    outcome_matrices,
    parse_stressor,
    replicate_sets,
)
from experiments.analysis.uncertainty import nested_spread
from experiments.errors import ExperimentError
from experiments.jobs.common import output_job
from experiments.reports.html import embed_png
from experiments.reports.interactions import (
    effects_html,
    format_effects,
    interval_name,
    logit_text,
    plot_cells,
    verdict_text,
)
from experiments.runner.tasks import make_tasks


@output_job
def interaction_job(path: str, stressor_specs: Sequence[str], opts, *,
                    years: int = 5) -> tuple[str, Path]:
    """Run the factorial experiment and write its folder.

    Args:
        path: The authority's scenario (e.g. ``scenarios/template.toml``).
        stressor_specs: Stressor names or ``FACTOR=VALUE`` (default: the toxic trio).
        opts: :class:`experiments.jobs.common.JobOptions`.
        years: Time point of the closure risk.

    Returns:
        ``(terminal text, output folder)``.

    Raises:
        ExperimentError: On bad stressors or options.

    """
    from experiments.analysis.survival import survival_table
    from experiments.files import atomic_write_csv, atomic_write_text
    from experiments.jobs.common import check_horizon, prepare_out_dir, run_recorded
    from experiments.reports.report import write_report
    from experiments.runner.manifest import build_manifest
    from sim.scenario import load_scenario

    specs = list(stressor_specs) or list(TOXIC_TRIO)
    stressors = [parse_stressor(s) for s in specs]
    names = [s.name for s in stressors]
    if len(set(names)) != len(names):
        raise ExperimentError("--stressor: each stressor can be given once")
    if not 1 <= len(stressors) <= MAX_STRESSORS:
        raise ExperimentError(f"--stressor: give 1 to {MAX_STRESSORS} stressors "
                              f"({2 ** MAX_STRESSORS} cells at most)")
    base = load_scenario(path)
    month = 12 * years
    check_horizon(path, base.horizon_months, month, f"--years {years}")
    variants, levels = factorial_variants(base, stressors)
    out = prepare_out_dir(opts.out, "interact", opts.force,
                          getattr(opts, "resume", False))
    manifest = build_manifest(list(opts.command), variants, opts.seed, opts.replicates,
                              opts.workers, opts.dask_scheduler, opts.parameters)
    manifest["experiment"] = {"kind": "factorial", "years": years,
                              "stressors": [{"name": s.name, "label": s.label}
                                            for s in stressors]}
    tasks = make_tasks(variants, opts.replicates, opts.seed, opts.parameters)
    result = run_recorded(out, manifest, tasks, opts)
    labels = [v for v, _ in variants]
    closed, months = outcome_matrices(result.runs, labels, opts.replicates,
                                       base.horizon_months, month)
    sets = replicate_sets(result.runs, labels[0])
    several = sets is not None and len(np.unique(sets)) >= 2
    groups = sets if several else None
    risk = interaction_effects(closed, levels, names, groups)
    rmst = interaction_effects(months, levels, names, groups)
    logit = (logit_interaction(closed, levels, seed=opts.seed, groups=groups)
             if len(stressors) >= 2 else None)
    risk.insert(0, "outcome", f"closed_by_{years}y")
    rmst.insert(0, "outcome", "rmst_months")
    logit_rows = [] if logit is None else [pd.DataFrame([{
        "outcome": f"closed_by_{years}y_log_odds", "effect": "interaction on the log-odds scale "
        "(excess over additivity)", "kind": "excess", "estimate": logit.estimate,
        "low": logit.low, "high": logit.high, "p": logit.p}])]
    atomic_write_csv(pd.concat([risk, rmst, *logit_rows]), out / "effects.csv", index=False,
                     float_format="%.6g")

    cells = []
    for i, (lab, lv) in enumerate(zip(labels, levels, strict=True)):
        k = int(closed[i].sum())
        if several:  # plausible range over the parameter sets and chance
            sp = nested_spread(closed[i], sets, (0.0, 1.0))
            low, high = sp.low, sp.high
        else:
            ci = stats.binomtest(k, opts.replicates).proportion_ci(0.95, method="exact")
            low, high = ci.low, ci.high
        cells.append({"cell": lab, **{n: lv[j] for j, n in enumerate(names)},
                      "closed_by": k / opts.replicates, "closed_low": low,
                      "closed_high": high, "rmst": months[i].mean()})
    cell_table = pd.DataFrame(cells)
    atomic_write_csv(cell_table, out / "cells.csv", index=False, float_format="%.6g")

    together_risk = float(closed[-1].mean())
    interval = interval_name(risk)
    lines = [f"Factorial experiment on {base.name}: {len(stressors)} stressors, "
             f"{len(labels)} cells x {opts.replicates} replicates (common random numbers) = "
             f"{len(result.runs):,} runs in {result.wall_time:.0f} s.", ""]
    if several:
        lines[-1:-1] = [f"Every cell ran the same {len(np.unique(sets))} parameter sets of the "
                        "posterior sample; intervals are 95% plausible ranges over parameter "
                        "sets and chance, with the share from parameters. A range says where "
                        "the effect of one plausible parameter set lies; p tests whether the "
                        "effect averaged over the sample is zero, so a small p can sit beside "
                        "a range that spans zero."]
    lines += [f"  {s.name}: {s.label}" for s in stressors]
    lines += ["", f"{'cell':<66} {'closed by ' + str(years) + 'y (' + interval + ')':>26} "
                  f"{'RMST':>7}"]
    for c in cells:
        lines.append(f"{c['cell']:<66} {c['closed_by']:>8.0%} ({c['closed_low']:.0%} to "
                     f"{c['closed_high']:.0%}){'':>3} {c['rmst']:>7.1f}")
    lines += ["", "Effects on the chance of closing within "
                  f"{years} years (percentage points, paired over replicates):",
              format_effects(risk, f"closure by {years} years (points)"), "",
              "Effects on the restricted mean survival (months running in the first "
              f"{base.horizon_months}):", format_effects(rmst, "RMST (months)", points=False),
              "", verdict_text(risk, together_risk)]
    verdict = verdict_text(risk, together_risk)
    if logit is not None:
        verdict += " " + logit_text(logit, several)
        lines.append(logit_text(logit, several))
    text = "\n".join(lines)
    atomic_write_text(out / "summary.txt", text + "\n")
    html_effects = effects_html(risk, rmst, cell_table, years, verdict)
    fig_path = plot_cells(cell_table, years, out / "interaction_cells.png", base.name, interval)

    survival_table(result.runs)  # validates the runs table for the report
    report = write_report(out, result.runs, None, manifest,
                          f"Do the stressors interact? {base.name}",
                          extra_sections=[("Interactions", html_effects
                                           + embed_png(fig_path, "closure risk per cell"))])
    return text + f"\nreport: {report}", out


def list_stressors_text() -> str:
    """The named stressors, one per line (``run.py interact --list-stressors``)."""
    return "\n".join(f"{s.name:<22} {s.label}" for s in STRESSORS.values())
