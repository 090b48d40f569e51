"""The ``research`` command: what research should measure next, for one authority's forecast.

Runs the authority over K posterior draws x M runs each (the nested design of MODEL §11) and
ranks the calibrated mechanism parameters by the share of the forecast's parameter variance
each explains (:mod:`experiments.analysis.research`). These are **not risk drivers**: nobody in
an authority can change them; they are where better evidence would narrow the forecast most.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.analysis.research import measure_next
from experiments.errors import ExperimentError
from experiments.files import atomic_write_csv, atomic_write_text
from experiments.jobs.common import check_horizon, output_job, prepare_out_dir, run_recorded
from experiments.reports.html import save_figure
from experiments.reports.research import plot_shares, write_research_report
from experiments.runner.manifest import build_manifest, write_manifest
from experiments.runner.posterior import ParameterPlan
from experiments.runner.tasks import make_tasks
from sim.scenario import load_scenario

TOP = 10
"""Parameters listed in the terminal text."""


@output_job
def research_job(path: str, opts, *, draws: int = 200, years: int = 5) -> tuple[str, Path]:
    """Rank the posterior's parameters by how much of one authority's forecast hangs on them.

    Args:
        path: Scenario file (the authority).
        opts: :class:`~experiments.jobs.common.JobOptions`; its ``parameters`` must be a
            posterior plan (its ``per_draw`` is M); ``replicates`` is ignored (K x M runs).
        draws: K, the posterior draws.
        years: The forecast: the chance of the service running at this many years (and, as a
            second output, months of service over the horizon).

    Returns:
        ``(terminal text, output folder)``.

    Raises:
        ExperimentError: Without a posterior sample, or on a month beyond the horizon.

    """
    plan = opts.parameters
    if not isinstance(plan, ParameterPlan) or plan.mode != "posterior":
        raise ExperimentError("research: needs the posterior sample (calibration/posterior.json "
                              "or --posterior FILE); it cannot run in point or defaults mode")
    if not 20 <= draws <= 100_000:
        raise ExperimentError(f"--draws: {draws} is not allowed; 20..100000 posterior draws")
    base = load_scenario(path)
    month = 12 * years
    check_horizon(path, base.horizon_months, month, f"--years {years}")
    m = int(plan.per_draw)
    replicates = draws * m
    out = prepare_out_dir(opts.out, "research", opts.force, getattr(opts, "resume", False))
    manifest = build_manifest(list(opts.command), [(Path(path).stem, base)], opts.seed,
                              replicates, opts.workers, opts.dask_scheduler, plan)
    manifest["experiment"] = {"kind": "research", "draws": draws, "per_draw": m,
                              "years": years,
                              "method": "given-data first-order index on the posterior draws "
                                        "(quantile bins), corrected for chance; SALib delta"}
    write_manifest(out / "manifest.json", manifest)
    tasks = make_tasks([(Path(path).stem, base)], replicates, opts.seed, plan)
    result = run_recorded(out, manifest, tasks, replace(opts, replicates=replicates))
    runs = result.runs.sort_values("run_id")
    slots = runs["replicate"].to_numpy(int) // m
    sets = plan.sets(replicates, opts.seed)
    values = np.array([[dict(plan.overrides(sets[k * m]))[n] for n in plan.posterior.names]
                       for k in range(draws)], dtype=float)
    end = pd.to_numeric(runs["end_month"]).to_numpy(float)
    closed = ~runs["survived"].astype(bool).to_numpy()
    alive = (~closed | (end > month)).astype(float)
    served = np.minimum(end, base.horizon_months)
    tables = {"alive": measure_next(values, plan.posterior.names, alive, slots, seed=opts.seed),
              "months": measure_next(values, plan.posterior.names, served, slots, delta=False)}
    main = tables["alive"]
    merged = main.merge(tables["months"][["parameter", "share"]], on="parameter",
                        suffixes=("", "_months"))
    atomic_write_csv(merged, out / "research.csv", index=False, float_format="%.6g")
    fig = plot_shares(main, f"{base.name}: what research should measure next "
                            f"(share of the {years}-year forecast's parameter variance)")
    save_figure(fig, out / "research.png")
    ps = main.attrs["parameter_share"]
    lines = [f"What research should measure next: {base.name}",
             f"{draws} posterior draws x {m} runs = {len(runs):,} runs. Forecast: the chance of "
             f"the service running at {years} years, {alive.mean():.0%} over the sample.",
             f"Parameter uncertainty is {(ps or 0):.0%} of the run-to-run spread of that "
             f"outcome (the rest is chance); the draws' means are "
             f"{main.attrs['reliability']:.0%} parameter signal.",
             "These are mechanism parameters, not risk drivers: nobody in an authority can "
             "change them. Measuring the top ones would narrow the forecast most."
             if main.attrs["reliability"] > 0 else
             "No parameter signal was detected at this sample size: the forecast does not "
             "measurably depend on which plausible parameter set is true (more --draws or "
             "--per-draw would tell smaller effects apart). Shares are not estimable; delta is "
             "shown for completeness.", "",
             f"{'rank':>4}  {'parameter':<34} {'share':>6} {'delta':>6}  label"]
    for r in main.head(TOP).itertuples():
        share = "-" if not math.isfinite(r.share) else f"{r.share:.2f}"
        dl = getattr(r, "delta", math.nan)
        dtext = "-" if not math.isfinite(dl) else f"{dl:.2f}"
        lines.append(f"{r.rank:>4}  {r.parameter:<34} {share:>6} {dtext:>6}  {r.label}")
    lines.append("share: first-order share of the parameter part of the forecast variance "
                 "(given-data, posterior draws are correlated, so shares need not sum to 1); "
                 "delta: SALib's moment-independent measure (a check on the ranking).")
    text = "\n".join(lines)
    atomic_write_text(out / "summary.txt", text + "\n")
    report = write_research_report(out, base.name, lines[1:4], merged, manifest)
    return text + f"\nreport: {report}", out
