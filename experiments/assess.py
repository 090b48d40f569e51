"""Readiness assessment: how would an MST team fare in *this* authority, and what would help?

``python run.py assess my_authority.toml`` (a filled-in ``scenarios/template.toml``) answers
three questions for a commissioner, in the terminal and as an HTML page:

1. **Outlook.** The chance the service is still running at 2, 5 and 10 years, the median time
   to closure, the average months of service in the horizon (restricted mean survival) and the
   main closure causes, each with a 95% interval (seed variation; :mod:`experiments.survival`).
2. **Risk drivers.** A *local* Morris screening around the authority's own descriptors
   (:func:`experiments.factors.local_factors`: each descriptor one rubric step either side of
   its value, mechanism parameters at their defaults) finds the five descriptors that move the
   outlook most for this authority, with the direction and size of a one-step change.
   Drivers are ranked by their effect on the months the service runs (restricted mean over the
   horizon), which still responds when the 5-year survival of an authority far from the edge
   sits at 0% or 100%; the effect on 5-year survival is shown beside it.
3. **Levers.** Every lever of MODEL.md §6 that is not already in place is switched on alone,
   and the levers are ranked by how much each raises 5-year survival (ties by months of
   service), compared pair by pair with the authority as described (common random numbers:
   replicate r of every option shares its seed), with paired 95% intervals.

Several files can be assessed in one call; they are then also ranked from safest to riskiest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.ensemble import ExperimentError, make_tasks
from experiments.factors import Factor, local_factors
from sim.scenario import Scenario

YEARS = 5
TIMES = (24, 60, 120)

LEVER_OPTIONS: tuple[tuple[str, object, str], ...] = (
    ("succession_planning", True, "Plan supervisor succession (short vacancy, hand-over)"),
    ("programme_manager", "on", "Fund a programme manager from the start"),
    ("local_outcome_feedback", True, "Feed local outcomes back to leaders every quarter"),
    ("steering_group_induction", True, "Induct new steering-group members into the commitment"),
    ("champion_cultivation", True, "Cultivate new champions before old ones leave"),
    ("regional_network", True, "Join a regional network (joint boosters, peer support)"),
    ("referral_promotion", True, "Promote the service to referrer teams"),
    ("learning_climate", True, "Invest in a learning climate (masterclasses, evidence)"),
    ("balanced_launch", True, "Launch with balanced claims (no overselling)"),
    ("protected_funding_years", 3, "Protect the funding for the first three years"),
    ("co_funding", 0.3, "Health partner co-funds 30% of the cost (may withdraw)"),
)
"""Levers tried, with the value switched on and a commissioner's description."""


def lever_variants(base: Scenario, label: str) -> tuple[list[tuple[str, Scenario]],
                                                        list[tuple[str, str]], dict[str, str]]:
    """The authority as described plus one variant per lever not already in place.

    Args:
        base: The authority.
        label: Label of the baseline variant.

    Returns:
        ``(variants, tried, skipped)``: ``(label, scenario)`` pairs (baseline first), the
        ``(variant label, description)`` of each lever tried, and ``{lever: reason}`` for
        levers not tried.

    """
    variants = [(label, base)]
    tried, skipped = [], {}
    lv = base.levers
    for name, value, text in LEVER_OPTIONS:
        current = getattr(lv, name)
        if name == "balanced_launch" and base.site.launch_framing == "balanced":
            skipped[name] = "the launch is already balanced"
            continue
        if name == "protected_funding_years" and current >= value:
            skipped[name] = f"already protected for {current} years"
            continue
        if name == "co_funding" and current > 0:
            skipped[name] = f"already co-funded ({current:.0%})"
            continue
        if name == "programme_manager" and current == "on":
            skipped[name] = "already in place"
            continue
        if current is True:
            skipped[name] = "already in place"
            continue
        variants.append((f"+{name}", base.with_levers(**{name: value})))
        tried.append((f"+{name}", text))
    return variants, tried, skipped


def _step(f: Factor) -> float:
    """Size of one rubric step of a local factor, in the factor's units."""
    if f.scale == "turnover" or f.name == "looked_after_children":
        return (f.high - f.low) / 2
    return 0.2


@dataclass
class Driver:
    """A local risk driver."""

    factor: Factor
    months_per_step: float
    months_star: float
    months_low: float
    months_high: float
    points_per_step: float
    sigma: float
    rank: int


def _driver_table(design, y_months: np.ndarray, y_alive: np.ndarray,
                  seed: int) -> list[Driver]:
    from experiments.sensitivity import analyse

    tm = analyse(design, y_months, resamples=500, seed=seed)
    ta = analyse(design, y_alive, resamples=500, seed=seed)
    out = []
    if tm is None:
        return out
    for f in design.factors:
        r = tm.loc[f.name]
        # Morris effects are per full local range; rescale to one rubric step. An inspection
        # grade is rounded, so every elementary step of a 4-level design moves it exactly one
        # grade: its effect per grade is the elementary effect times the step (2/3 of range).
        delta = design.num_levels / (2 * (design.num_levels - 1))
        scale = delta if f.kind == "ofsted" else _step(f) / (f.high - f.low)
        pa = float(ta.loc[f.name, "mu"]) * scale if ta is not None else 0.0
        out.append(Driver(f, float(r.mu) * scale, float(r.mu_star) * scale,
                          float(r.mu_star_low) * scale, float(r.mu_star_high) * scale, pa,
                          float(r.sigma) * scale, int(r["rank"])))
    return sorted(out, key=lambda d: d.rank)


def _direction(d: Driver) -> str:
    f = d.factor
    if f.kind == "ofsted":
        up = "a one-grade worse inspection rating"
    elif f.kind in ("partners", "leaders"):
        up = "one rubric step more"
    elif f.scale == "turnover":
        up = "one turnover step higher"
    elif f.name == "looked_after_children":
        up = "25% more children looked after"
    else:
        up = "one rubric step higher"
    if abs(d.months_per_step) < 0.5 * d.months_star:
        return f"{up}: effect depends on the rest (mixed sign)"
    verb = "adds" if d.months_per_step > 0 else "removes"
    return (f"{up} {verb} about {abs(d.months_per_step):.1f} months of service "
            f"({d.points_per_step * 100:+.0f} points 5-year survival)")


def _own_value(f: Factor) -> str:
    if f.kind in ("partners", "leaders"):
        return "as described"
    if f.name == "looked_after_children":
        return f"{f.base:,.0f}"
    return f.describe(f.base)


@dataclass
class Assessment:
    """One authority's assessment."""

    name: str
    stem: str
    outlook: pd.Series
    drivers: list[Driver]
    levers: pd.DataFrame
    skipped: dict[str, str]
    runs: pd.DataFrame
    out: Path
    screening_runs: int
    wall_time: float


def assess_one(path: str, opts, out: Path, *, trajectories: int = 10,
               screen_replicates: int = 20) -> Assessment:
    """Assess one authority (outlook, local drivers, levers) and write its files to ``out``.

    Args:
        path: The authority's scenario file.
        opts: :class:`experiments.jobs.JobOptions` (``replicates`` for outlook and levers).
        out: Folder for this authority.
        trajectories: Morris trajectories of the local screening.
        screen_replicates: Replicates per screening row.

    Returns:
        The :class:`Assessment`.

    """
    from experiments.jobs import run_recorded
    from experiments.manifest import build_manifest
    from experiments.sensitivity import design_variants, make_design, row_outputs
    from experiments.survival import paired_difference, survival_table
    from sim.scenario import load_scenario

    base = load_scenario(path)
    if base.horizon_months < 12 * YEARS:
        raise ExperimentError(f"{path}: the assessment needs a horizon of at least "
                              f"{12 * YEARS} months (run.horizon_months)")
    stem = Path(path).stem
    out.mkdir(parents=True, exist_ok=True)
    variants, tried, skipped = lever_variants(base, stem)
    factors = local_factors(base)
    design = make_design(factors, "morris", trajectories, opts.seed)
    screen = [(f"screen {label}", sc) for label, sc in design_variants(base, design)]
    manifest = build_manifest(list(opts.command), variants, opts.seed, opts.replicates,
                              opts.workers, opts.dask_scheduler)
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
    tasks = make_tasks(variants, opts.replicates, opts.seed)
    first = len(tasks)
    screen_tasks = [replace(t, run_id=first + t.run_id)
                    for t in make_tasks(screen, screen_replicates, opts.seed)]
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
    drivers = _driver_table(design, ro.table["rmst"].to_numpy(float),
                            ro.table[f"p_alive_{YEARS}y"].to_numpy(float), opts.seed)
    levers.to_csv(out / "levers.csv", index=False, float_format="%.6g")
    pd.DataFrame([{"rank": d.rank, "factor": d.factor.name, "label": d.factor.label,
                   "own_value": d.factor.base, "local_low": d.factor.low,
                   "local_high": d.factor.high, "months_per_step": d.months_per_step,
                   "abs_months_per_step": d.months_star, "abs_low": d.months_low,
                   "abs_high": d.months_high, "survival_points_per_step": d.points_per_step,
                   "sigma": d.sigma} for d in drivers]).to_csv(
        out / "drivers.csv", index=False, float_format="%.6g")
    table.to_csv(out / "outlook.csv", float_format="%.6g")
    return Assessment(base.name, stem, outlook, drivers, levers, skipped, options, out,
                      len(screen_tasks), result.wall_time)


# ---------------------------------------------------------------------------------------------
# Text and HTML
# ---------------------------------------------------------------------------------------------


def _p(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.0%}"


def _pts(x: float) -> str:
    if not np.isfinite(x):
        return "n/a"
    text = f"{x * 100:+.0f}"
    return "0" if text in ("+0", "-0") else text


def risk_band(p5: float) -> str:
    """A plain-words band for the 5-year survival chance (fixed thresholds, stated)."""
    if p5 >= 0.75:
        return "lower risk (at least 75% still running at 5 years)"
    if p5 >= 0.4:
        return "medium risk (40-75% still running at 5 years)"
    return "high risk (under 40% still running at 5 years)"


def _main_cause(outlook: pd.Series) -> str:
    from experiments.survival import cause_label

    shares = {k.removeprefix("share_"): float(v) for k, v in outlook.items()
              if str(k).startswith("share_") and np.isfinite(float(v))}
    if not shares or max(shares.values()) == 0:
        return "none (no closures)"
    c = max(shares, key=shares.get)
    return f"{cause_label(c).lower()} ({shares[c]:.0%} of runs)"


def format_assessment(a: Assessment, replicates: int) -> str:
    """The terminal text of one assessment."""
    o = a.outlook
    h = int(o["horizon"])
    lines = [f"Readiness assessment: {a.name}",
             f"  {replicates} simulated histories per option; 95% intervals (seed variation).",
             "", "Outlook:"]
    for t in TIMES:
        if t <= h:
            lines.append(f"  still running at {t // 12:>2} years: "
                         f"{_p(o[f'p_alive_{t}'])} ({_p(o[f'p_alive_{t}_low'])} to "
                         f"{_p(o[f'p_alive_{t}_high'])})")
    med = "not reached within the horizon" if not np.isfinite(o["median_months"]) \
        else f"{o['median_months']:.0f} months"
    lines += [f"  median time to closure: {med}",
              f"  average months running in the first {h}: {o['rmst']:.1f} "
              f"({o['rmst_low']:.1f} to {o['rmst_high']:.1f})",
              f"  main closure cause: {_main_cause(o)}",
              f"  => {risk_band(float(o['p_alive_60']))}", "",
              "Five most influential risk drivers here (local screening, one rubric step either "
              "side of your own values):"]
    for d in a.drivers[:5]:
        lines.append(f"  {d.rank}. {d.factor.label} (yours: {_own_value(d.factor)})")
        lines.append(f"     {_direction(d)}; size {d.months_star:.1f} months per step "
                     f"(95% CI {d.months_low:.1f} to {d.months_high:.1f})")
    lines += ["", f"Levers ranked by how much each raises {YEARS}-year survival "
                  "(paired comparison with your authority as described):"]
    if len(a.levers) and float(a.levers["diff"].abs().max()) < 0.01:
        lines.append(f"  ({YEARS}-year survival hardly moves with any lever here; they are "
                     "ranked by months of service gained.)")
    for r in a.levers.itertuples():
        lines.append(f"  {r.rank:>2}. {r.description:<58} {_pts(r.diff):>4} points "
                     f"({_pts(r.diff_low)} to {_pts(r.diff_high)}); "
                     f"{r.rmst_diff:+.1f} months of service")
    for name, why in a.skipped.items():
        lines.append(f"      {name}: not tried ({why})")
    return "\n".join(lines)


def _plot_drivers(a: Assessment):
    """Size of each driver's one-step effect (mu*) with its interval; colour by direction."""
    from experiments.sensitivity import _plt, _short

    plt = _plt()
    ds = a.drivers[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(ds) + 1.7))
    y = np.arange(len(ds))
    signs = [0 if abs(d.months_per_step) < 0.5 * d.months_star else np.sign(d.months_per_step)
             for d in ds]
    vals = [d.months_star * (s if s else 1) for d, s in zip(ds, signs, strict=True)]
    lows = [d.months_low * (s if s else 1) for d, s in zip(ds, signs, strict=True)]
    highs = [d.months_high * (s if s else 1) for d, s in zip(ds, signs, strict=True)]
    err = np.abs(np.vstack([np.subtract(vals, lows), np.subtract(highs, vals)]))
    colours = {1: "#4a7fb0", -1: "#c0504d", 0: "#999999"}
    ax.barh(y, vals, xerr=err, color=[colours[int(s)] for s in signs],
            error_kw={"capsize": 2, "elinewidth": 0.8})
    ax.axvline(0, color="#333", lw=0.6)
    ax.set_yticks(y, [_short(d.factor.label, 52) for d in ds], fontsize=8)
    ax.set_xlabel("months of service gained (+, blue) or lost (-, red) by one step up; "
                  "grey: mixed sign (size shown)", fontsize=8)
    ax.set_title(f"{a.name}: local risk drivers (size of a one-step change, 95% CI)",
                 fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def _plot_levers(a: Assessment):
    from experiments.sensitivity import _plt

    plt = _plt()
    t = a.levers.iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(t) + 1.5))
    y = np.arange(len(t))
    err = np.clip(np.vstack([t["diff"] - t.diff_low, t.diff_high - t["diff"]]) * 100, 0, None)
    ax.barh(y, t["diff"] * 100, xerr=err, color="#2e8b57", error_kw={"capsize": 2})
    ax.axvline(0, color="#333", lw=0.6)
    ax.set_yticks(y, t["description"], fontsize=8)
    ax.set_xlabel(f"change in {YEARS}-year survival, percentage points (paired 95% CI)")
    ax.set_title(f"{a.name}: levers", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def write_assessment_page(a: Assessment, replicates: int, trajectories: int,
                          screen_replicates: int) -> Path:
    """Write ``report.html`` of one assessment (in the style of the ensemble report)."""
    from experiments.ensemble_plots import plot_survival
    from experiments.outputs import atomic_write_text
    from experiments.sensitivity import _e, _img, _save_fig, html_page, html_table
    from experiments.survival import kaplan_meier

    o = a.outlook
    h = int(o["horizon"])
    body = [f"<h1>Readiness assessment: {_e(a.name)}</h1>",
            f'<p class="lede">Will an MST team survive here, what puts it at risk, and what '
            f"would help? {replicates} simulated histories per option.</p>",
            "<h2>At a glance</h2><ul class=\"headline\">"
            f"<li>Chance the service is still running at 5 years: <strong>"
            f"{_p(o['p_alive_60'])}</strong> ({_p(o['p_alive_60_low'])} to "
            f"{_p(o['p_alive_60_high'])}): {_e(risk_band(float(o['p_alive_60'])))}.</li>"]
    if a.drivers:
        body.append(f"<li>Biggest local risk driver: {_e(a.drivers[0].factor.label)}.</li>")
    if len(a.levers):
        r = a.levers.iloc[0]
        body.append(f"<li>Most helpful lever: {_e(r.description)} ({_pts(r['diff'])} points "
                    f"5-year survival, 95% CI {_pts(r.diff_low)} to {_pts(r.diff_high)}).</li>")
    body.append("</ul>")
    body.append("""<div class="note"><p><strong>How to read this.</strong> Each simulated
history is one possible course of events for the service in this authority (staff leaving,
senior leaders changing, budget rounds). Figures in brackets are 95% intervals: how much the
numbers would move with another set of histories, not how uncertain the model itself is.
The <em>risk drivers</em> come from a local screening: each of the authority's descriptors was
moved one rubric step either way (e.g. collaboration history from "low" to "very low" or
"medium"), many combinations at once, and the drivers are ranked by how much a one-step change
moves the months the service runs. The <em>levers</em> were each switched on alone and compared
history by history with the authority as described. The model describes mechanisms found in
three English authorities; read the numbers as a structured comparison, not a forecast.</p>
</div>""")
    rows = [[f"still running at {t // 12} years",
             f"{_p(o[f'p_alive_{t}'])} ({_p(o[f'p_alive_{t}_low'])} to "
             f"{_p(o[f'p_alive_{t}_high'])})"] for t in TIMES if t <= h]
    med = "not reached" if not np.isfinite(o["median_months"]) else f"{o['median_months']:.0f}"
    rows += [["median months to closure", med],
             [f"average months running (first {h})",
              f"{o['rmst']:.1f} ({o['rmst_low']:.1f} to {o['rmst_high']:.1f})"],
             ["main closure cause", _e(_main_cause(o))]]
    kms = kaplan_meier(a.runs[a.runs.variant == a.stem], horizon=h)
    body.append("<h2>Outlook</h2>" + html_table(["measure", "estimate (95% CI)"], rows)
                + _img(_save_fig(plot_survival(kms), a.out / "survival.png"),
                       "survival curve"))
    d_rows = [[str(d.rank), _e(d.factor.label), _e(_own_value(d.factor)),
               _e(f"{d.factor.describe(d.factor.low)} to {d.factor.describe(d.factor.high)}"),
               f"{d.months_per_step:+.1f}",
               f"{d.months_star:.1f} ({d.months_low:.1f} to {d.months_high:.1f})",
               _pts(d.points_per_step)] for d in a.drivers]
    body.append(
        "<h2>Risk drivers for this authority</h2><p>Local Morris screening "
        f"({trajectories} trajectories x {screen_replicates} replicates, {a.screening_runs:,} "
        "runs). A positive effect means one step up adds months of service; the size column "
        "is the typical absolute effect (mu*) with its 95% interval. The top five are the "
        "authority's most influential risk drivers.</p>"
        + html_table(["rank", "driver", "yours", "range screened", "months per step up",
                      "size (95% CI)", "5-year survival, points per step"], d_rows,
                     numeric_from=4)
        + _img(_save_fig(_plot_drivers(a), a.out / "drivers.png"), "risk drivers"))
    l_rows = [[str(r.rank), _e(r.description), f"{_p(r.p_alive)}",
               f"{_pts(r.diff)} ({_pts(r.diff_low)} to {_pts(r.diff_high)})",
               f"{r.rmst_diff:+.1f} ({r.rmst_diff_low:+.1f} to {r.rmst_diff_high:+.1f})"]
              for r in a.levers.itertuples()]
    skipped = "".join(f"<li>{_e(k)}: {_e(v)}</li>" for k, v in a.skipped.items())
    body.append(
        f"<h2>Levers ranked by their effect on {YEARS}-year survival</h2>"
        + html_table(["rank", "lever", f"running at {YEARS} years with it",
                      "change, points (95% CI)", "months of service (95% CI)"], l_rows,
                     numeric_from=2)
        + (_img(_save_fig(_plot_levers(a), a.out / "levers.png"), "levers")
           if len(a.levers) else "")
        + (f"<p>Not tried:</p><ul>{skipped}</ul>" if skipped else ""))
    body.append("<h2>Limits</h2><p>Mechanism parameters are shared by every authority and set "
                "from the three-site study and national figures; the drivers here are the "
                "authority's own descriptors only. Levers are tried one at a time; their "
                "effects need not add up. Co-funding carries a risk that the partner "
                "withdraws. See <code>docs/sensitivity.md</code>.</p>")
    path = a.out / "report.html"
    atomic_write_text(path, html_page(f"Readiness assessment: {a.name}", body))
    return path


def assess_job(paths: Sequence[str], opts, *, trajectories: int = 10,
               screen_replicates: int = 20) -> tuple[str, Path]:
    """Assess one or more authorities; rank them when there are several.

    Args:
        paths: Scenario files.
        opts: :class:`experiments.jobs.JobOptions`.
        trajectories: Morris trajectories of each local screening.
        screen_replicates: Replicates per screening row.

    Returns:
        ``(terminal text, output folder)``.

    """
    from experiments.jobs import prepare_out_dir
    from experiments.outputs import atomic_write_text

    if not paths:
        raise ExperimentError("assess needs at least one scenario file")
    stems = [Path(p).stem for p in paths]
    if len(set(stems)) != len(stems):
        raise ExperimentError("two scenario files have the same name; give each a distinct "
                              "name")
    from sim.scenario import load_scenario

    for p in paths:  # fail fast on a bad file, before any simulation
        load_scenario(p)
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
            lines.append(f"  {i}. {a.name:<24} {_p(o['p_alive_60'])} "
                         f"({_p(o['p_alive_60_low'])} to {_p(o['p_alive_60_high'])}); "
                         f"{o['rmst']:.1f} months")
        ranking = "\n".join(lines)
        atomic_write_text(out / "ranking.txt", ranking + "\n")
        texts.append(ranking)
    return "\n\n".join(texts), out

