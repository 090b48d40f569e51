"""The ``sensitivity`` command: run a global sensitivity analysis and write its folder."""

from __future__ import annotations

import time
from pathlib import Path

from experiments.analysis.factors import list_factors_text, row_frame, select_factors  # noqa: F401 (for run.py)
from experiments.analysis.sensitivity import (
    DEFAULTS,
    METHODS,
    TOP,
    analyse_outputs,
    design_variants,
    make_design,
    row_outputs,
    screened_factors,
)
from experiments.errors import ExperimentError
from experiments.jobs.common import output_job
from experiments.reports.formatters import interval, number
from experiments.reports.html import save_figure
from experiments.reports.sensitivity import (
    explain_text,
    format_table,
    header_text,
    noise_text,
    output_digits,
    plot_convergence,
    plot_indices,
    plot_morris,
    write_sensitivity_report,
)
from experiments.runner.tasks import make_tasks


@output_job
def sensitivity_job(path: str, opts, *, method: str = "sobol", n: int | None = None,
                    factors: str | None = None, groups: bool = False,
                    second_order: bool = False, years: int = 5, num_levels: int = 4,
                    resamples: int = 1000) -> tuple[str, Path]:
    """Run a global sensitivity analysis of one scenario and write its folder.

    Args:
        path: Scenario file (an authority; the factors vary around it).
        opts: :class:`experiments.jobs.common.JobOptions` (``replicates``, ``seed``, ``workers``,
            ``dask_scheduler``, ``out``, ``force``, ``progress``, ``fmt``, ``command``). A
            ``replicates`` of None uses the method's default.
        method: ``sobol``, ``morris`` or ``pawn``.
        n: Sobol' base samples (power of two), Morris trajectories or PAWN rows; None for the
            method's default.
        factors: Factor specification (see :func:`experiments.analysis.factors.select_factors`).
        groups: Analyse factor groups instead of single factors.
        second_order: Sobol' second-order indices too.
        years: Survival time point of the first output.
        num_levels: Morris levels.
        resamples: Bootstrap resamples.

    Returns:
        ``(terminal text, output folder)``.

    Raises:
        ExperimentError: On bad options. ScenarioError: On a bad scenario file.

    """
    from experiments.files import atomic_write_csv, atomic_write_text
    from experiments.jobs.common import check_horizon, final_path, prepare_out_dir, run_recorded
    from experiments.runner.manifest import build_manifest, write_manifest
    from experiments.runner.phases import Phases
    from sim.scenario import load_scenario

    if method not in METHODS:
        raise ExperimentError(f"--method: {method!r} is not a method; use one of "
                              f"{', '.join(METHODS)}")
    n = DEFAULTS[method][0] if n is None else n
    replicates = DEFAULTS[method][1] if opts.replicates is None else opts.replicates
    base = load_scenario(path)
    check_horizon(path, base.horizon_months, 12 * years, f"--years {years}")
    chosen = select_factors(factors)
    design = make_design(chosen, method, n, opts.seed, groups=groups, second_order=second_order,
                         num_levels=num_levels)
    variants = design_variants(base, design)
    out = prepare_out_dir(opts.out, f"sensitivity-{method}", opts.force,
                          getattr(opts, "resume", False))
    stem = Path(path).stem
    manifest = build_manifest(list(opts.command), [(stem, base)], opts.seed, replicates,
                              opts.workers, opts.dask_scheduler, opts.parameters)
    manifest["planned_runs"] = design.rows * replicates
    manifest["experiment"] = {
        "kind": "sensitivity", "method": method, "n": design.n, "rows": design.rows,
        "replicates_per_row": replicates, "groups": groups, "second_order": second_order,
        "num_levels": num_levels if method == "morris" else None,
        "years": years, "bootstrap_resamples": resamples, "sampler_seed": design.seed,
        "sampler": {"sobol": "SALib ProblemSpec.sample_sobol (scrambled Sobol', Saltelli "
                             "scheme)", "morris": "SALib ProblemSpec.sample_morris",
                    "pawn": "SALib ProblemSpec.sample_latin"}[method],
        "variants": "design row i is variant 'row i'; replicate r of every row uses seed "
                    "stream r (common random numbers)",
        "factors": [{"name": f.name, "label": f.label, "group": f.group, "kind": f.kind,
                     "low": f.low, "high": f.high, "source": f.source} for f in chosen],
    }
    phases = Phases([("runs", design.rows * replicates), ("indices", 0), ("report", 0)],
                    echo=None if opts.progress is None else bool(opts.progress))
    result = run_recorded(out, manifest, make_tasks(variants, replicates, opts.seed, opts.parameters), opts,
                          write_final=False, phases=phases)
    phases.begin("indices")
    t0 = time.perf_counter()
    ro = row_outputs(result.runs, design.rows, replicates, base.horizon_months, years)
    design_table = row_frame(chosen, design.X).merge(ro.table, on="row")
    design_table.insert(1, "variant", [v for v, _ in variants])
    atomic_write_csv(design_table, out / "design.csv", index=False, float_format="%.8g")
    analyses = analyse_outputs(design, ro, resamples=resamples, seed=opts.seed)
    analysis_time = time.perf_counter() - t0
    manifest["experiment"]["ensemble_wall_time_s"] = round(result.wall_time, 2)
    manifest["experiment"]["analysis_time_s"] = round(analysis_time, 2)

    workers_text = (f"Dask cluster {opts.dask_scheduler}" if opts.dask_scheduler
                    else f"{opts.workers} worker process{'es' if opts.workers > 1 else ''}")
    lines = [header_text(design, base.name, replicates, len(result.runs), result.wall_time,
                     workers_text), explain_text(design), ""]
    figures: list[tuple[str, str]] = []
    for a in analyses:
        key = a.output.key
        mean = float(ro.table[key].mean())
        lines.append(f"== {a.output.label} (mean over rows {number(mean, output_digits(a.output))}; "
                     f"{noise_text(a.noise)})")
        if a.table is None:
            lines.append("   The output does not vary over the design: no indices.\n")
            continue
        atomic_write_csv(a.table, out / f"indices_{key}.csv", float_format="%.6g")
        atomic_write_csv(a.conv, out / f"convergence_{key}.csv", index=False, float_format="%.6g")
        lines.append(format_table(a.table, design, a.output))
        if design.method == "pawn" and "dummy" in a.table.attrs:
            lines.append(f"   No-effect floor: a dummy factor (output shuffled) scores "
                         f"{a.table.attrs['dummy']:.3f}; drivers near it are indistinguishable "
                         f"from no influence.")
        if design.method == "sobol":
            total = float(a.table.S1.clip(lower=0).sum())
            lines.append(f"   First-order effects add up to {total:.2f} of the variance; the rest "
                         f"comes from interactions." + (" (A sum above 1 is impossible: the "
                                                        "S1 estimates are still noisy.)"
                                                        if total > 1 else ""))
            s2 = a.table.attrs.get("S2")
            if s2 is not None and len(s2):
                atomic_write_csv(s2, out / f"second_order_{key}.csv", index=False, float_format="%.6g")
                lines.append("   Strongest pairwise interactions (S2, 95% CI): " + "; ".join(
                    f"{r.a} x {r.b} {interval(r.S2, r.S2 - r.S2_conf, r.S2 + r.S2_conf)}"
                    for r in s2.head(3).itertuples()))
        if a.stability is not None:
            lines.append("   Convergence: " + a.stability.text)
        lines.append("")
        title = f"{base.name}: {a.output.short}"
        figures.append((f"indices_{key}.png",
                        save_figure(plot_indices(a.table, design, a.output, title),
                                  out / f"indices_{key}.png")))
        if design.method == "morris":
            figures.append((f"morris_{key}.png",
                            save_figure(plot_morris(a.table, a.output, title),
                                      out / f"morris_{key}.png")))
        if len(a.conv) and a.conv["n"].nunique() > 1:
            figures.append((f"convergence_{key}.png",
                            save_figure(plot_convergence(a.conv, design, title),
                                      out / f"convergence_{key}.png")))
    primary = next((a for a in analyses if a.table is not None), None)
    if design.method == "morris" and not design.groups and primary is not None:
        keep = screened_factors(primary.table)
        atomic_write_text(out / "screened_factors.txt",
                          f"# Factors kept by the Morris screening of {base.name} "
                          f"({primary.output.short}: mu* interval reaches 10% of the "
                          f"largest mu*).\n# Use with --factors @{final_path(out / 'screened_factors.txt')}"
                          "\n" + "\n".join(keep) + "\n")
        lines.append(f"Screening: {len(keep)} of {len(design.factors)} factors can move "
                     f"{primary.output.short} by at least a tenth of the strongest one; "
                     f"listed in screened_factors.txt.")
    verdicts = [f"{a.output.short}: {'STABLE' if a.stability.stable else 'NOT stable'}"
                for a in analyses if a.stability is not None and a.stability.n_half]
    if verdicts:
        first = next(a.stability for a in analyses if a.stability is not None)
        unit = {"sobol": "N", "morris": "r", "pawn": "n"}[design.method]
        lines.append(f"Ranking stability (top {TOP}, {unit} = {first.n} vs {first.n_half}): "
                     + "; ".join(verdicts) + ".")
    lines.append(f"Analysis took {analysis_time:.1f} s. Results: {out}")
    text = "\n".join(lines)
    manifest["experiment"]["summary_file"] = "summary.txt"
    write_manifest(out / "manifest.json", manifest)
    atomic_write_text(out / "summary.txt", text + "\n")
    phases.begin("report")
    report = write_sensitivity_report(out, base.name, design, analyses, ro, manifest,
                                      [name for name, _ in figures], replicates)
    return text + f"\nreport: {report}", out
