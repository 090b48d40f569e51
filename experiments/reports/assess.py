"""Readiness assessment for people: the terminal summary, figures and the HTML page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from experiments.analysis.causes import explanations_available
from experiments.analysis.factors import Factor
from experiments.analysis.readiness import TIMES, YEARS, Assessment, Driver, risk_band
from experiments.reports import formatters as fmt
from experiments.reports.causes import main_why_text, why_lines, why_section
from experiments.reports.figures import subplots
from experiments.reports.html import save_figure, short_label
from experiments.reports.templating import figure, render_page


def direction_text(d: Driver) -> str:
    """Which way a driver pushes, in words (or that its direction is unclear)."""
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
    return (f"{up} {verb} about {fmt.months(abs(d.months_per_step))} months of service "
            f"({fmt.points(d.points_per_step)} points 5-year survival)")


def own_value_text(f: Factor) -> str:
    """The authority's own value of a factor, in words."""
    if f.kind in ("partners", "leaders"):
        return "as described"
    if f.name == "looked_after_children":
        return fmt.count(f.base)
    return f.describe(f.base)


def main_cause_text(outlook: pd.Series) -> str:
    """The most common closure cause of the outlook, in words."""
    from experiments.analysis.survival import cause_label

    shares = {k.removeprefix("share_"): float(v) for k, v in outlook.items()
              if str(k).startswith("share_") and np.isfinite(float(v))}
    if not shares or max(shares.values()) == 0:
        return "none (no closures)"
    c = max(shares, key=shares.get)
    label = cause_label(c)
    label = label[:1].lower() + label[1:]  # "Cut at the April budget round" -> "cut at the April ..."
    return f"{label} ({fmt.percent(shares[c])} of runs)"


def baseline_runs(a: Assessment) -> pd.DataFrame:
    """The runs of the authority as described (no lever switched on)."""
    return a.runs[a.runs["variant"].astype(str) == str(a.stem)]


def why_text(a: Assessment) -> str:
    """The main cause of the authority's closures (the *why*), for the outlook's one line."""
    runs = baseline_runs(a)
    if not explanations_available(runs):
        return "not available for these runs"
    return main_why_text(runs, a.stem) or "no closures to explain"


def _p_alive(o: pd.Series, t: int) -> str:
    return fmt.percent_interval(o[f"p_alive_{t}"], o[f"p_alive_{t}_low"], o[f"p_alive_{t}_high"])


def format_assessment(a: Assessment, replicates: int) -> str:
    """The terminal text of one assessment."""
    o = a.outlook
    h = int(o["horizon"])
    lines = [f"Readiness assessment: {a.name}",
             f"  {replicates} simulated histories per option; 95% intervals (seed variation).",
             "", "Outlook:"]
    for t in TIMES:
        if t <= h:
            lines.append(f"  still running at {t // 12:>2} years: {_p_alive(o, t)}")
    med = fmt.median_months(o["median_months"], h)
    lines += [f"  median time to closure: {med}" + ("" if fmt.is_missing(o["median_months"])
                                                    else " months"),
              f"  average months running in the first {h}: "
              f"{fmt.months_interval(o['rmst'], o['rmst_low'], o['rmst_high'])}",
              f"  main closure cause (when): {main_cause_text(o)}",
              f"  main reason (why): {why_text(a)}",
              f"  => {risk_band(float(o['p_alive_60']))}", ""]
    if explanations_available(a.runs):
        lines += ["Why services like this close:",
                  *[f"  {line}" for line in why_lines(baseline_runs(a), a.stem)], ""]
    lines += [
              "Five most influential risk drivers here (local screening, one rubric step either "
              "side of your own values):"]
    for d in a.drivers[:5]:
        lines.append(f"  {d.rank}. {d.factor.label} (yours: {own_value_text(d.factor)})")
        lines.append(f"     {direction_text(d)}; size {fmt.months(d.months_star)} months per step "
                     f"(95% CI {fmt.months(d.months_low)} to {fmt.months(d.months_high)})")
    lines += ["", f"Levers ranked by how much each raises {YEARS}-year survival "
                  "(paired comparison with your authority as described):"]
    if len(a.levers) and float(a.levers["diff"].abs().max()) < 0.01:
        lines.append(f"  ({YEARS}-year survival hardly moves with any lever here; they are "
                     "ranked by months of service gained.)")
    for r in a.levers.itertuples():
        lines.append(f"  {r.rank:>2}. {r.description:<58} {fmt.points(r.diff):>4} points "
                     f"({fmt.points(r.diff_low)} to {fmt.points(r.diff_high)}); "
                     f"{fmt.signed(r.rmst_diff)} months of service")
    for name, why in a.skipped.items():
        lines.append(f"      {name}: not tried ({why})")
    return "\n".join(lines)


def plot_drivers(a: Assessment):
    """Size of each driver's one-step effect (mu*) with its interval; colour by direction."""
    ds = a.drivers[::-1]
    fig, ax = subplots(figsize=(9, 0.4 * len(ds) + 1.7))
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
    ax.set_yticks(y, [short_label(d.factor.label, 52) for d in ds], fontsize=8)
    ax.set_xlabel("months of service gained (+, blue) or lost (-, red) by one step up; "
                  "grey: mixed sign (size shown)", fontsize=8)
    ax.set_title(f"{a.name}: local risk drivers (size of a one-step change, 95% CI)",
                 fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_levers(a: Assessment):
    """Bar chart of the levers' effects on 5-year survival with 95% intervals."""
    t = a.levers.iloc[::-1]
    fig, ax = subplots(figsize=(9, 0.4 * len(t) + 1.5))
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
    from experiments.analysis.survival import kaplan_meier
    from experiments.files import atomic_write_text
    from experiments.reports.ensemble_plots import plot_survival

    o = a.outlook
    h = int(o["horizon"])
    glance = {"p_alive": fmt.percent(o["p_alive_60"]),
              "interval": f"({fmt.percent(o['p_alive_60_low'])} to {fmt.percent(o['p_alive_60_high'])})",
              "band": risk_band(float(o["p_alive_60"])),
              "driver": a.drivers[0].factor.label if a.drivers else None, "lever": None}
    if len(a.levers):
        r = a.levers.iloc[0]
        glance["lever"] = {"description": r.description, "points": fmt.points(r["diff"]),
                           "low": fmt.points(r.diff_low), "high": fmt.points(r.diff_high)}
    outlook = [[f"still running at {t // 12} years", _p_alive(o, t)] for t in TIMES if t <= h]
    outlook += [["median months to closure", fmt.median_months(o["median_months"], h)],
                [f"average months running (first {h})",
                 fmt.months_interval(o["rmst"], o["rmst_low"], o["rmst_high"])],
                ["main closure cause (when)", main_cause_text(o)],
                ["main reason (why)", why_text(a)]]
    kms = kaplan_meier(a.runs[a.runs.variant == a.stem], horizon=h)
    drivers = [[d.rank, d.factor.label, own_value_text(d.factor),
                f"{d.factor.describe(d.factor.low)} to {d.factor.describe(d.factor.high)}",
                fmt.signed(d.months_per_step),
                fmt.months_interval(d.months_star, d.months_low, d.months_high),
                fmt.points(d.points_per_step)] for d in a.drivers]
    levers = [[r.rank, r.description, fmt.percent(r.p_alive),
               fmt.points_interval(r.diff, r.diff_low, r.diff_high),
               fmt.months_interval(r.rmst_diff, r.rmst_diff_low, r.rmst_diff_high, sign=True)]
              for r in a.levers.itertuples()]
    figures = {"survival": figure(save_figure(plot_survival(kms), a.out / "survival.png"),
                                  "survival curve"),
               "drivers": figure(save_figure(plot_drivers(a), a.out / "drivers.png"),
                                 "risk drivers"),
               "levers": (figure(save_figure(plot_levers(a), a.out / "levers.png"), "levers")
                          if len(a.levers) else None)}
    page = render_page("assess.html.j2", title=f"Readiness assessment: {a.name}",
                       provenance="",
                       replicates=replicates, glance=glance, outlook=outlook,
                       trajectories=trajectories, screen_replicates=screen_replicates,
                       screening_runs=fmt.count(a.screening_runs), drivers=drivers,
                       years=YEARS, levers=levers, figures=figures,
                       why=why_section(baseline_runs(a)),
                       skipped=list(a.skipped.items()))
    path = a.out / "report.html"
    atomic_write_text(path, page)
    return path
