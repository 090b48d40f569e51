"""Readiness assessment for people: the terminal summary, figures and the HTML page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from experiments.analysis.factors import Factor
from experiments.analysis.readiness import TIMES, YEARS, Assessment, Driver, risk_band
from experiments.reports.figures import subplots
from experiments.reports.html import embed_png, escape, html_page, html_table, save_figure, short_label


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
    return (f"{up} {verb} about {abs(d.months_per_step):.1f} months of service "
            f"({d.points_per_step * 100:+.0f} points 5-year survival)")


def own_value_text(f: Factor) -> str:
    """The authority's own value of a factor, in words."""
    if f.kind in ("partners", "leaders"):
        return "as described"
    if f.name == "looked_after_children":
        return f"{f.base:,.0f}"
    return f.describe(f.base)


def pct_text(x: float) -> str:
    """A probability as a whole percentage."""
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.0%}"


def points_text(x: float) -> str:
    """A difference in probability as signed percentage points."""
    if not np.isfinite(x):
        return "n/a"
    text = f"{x * 100:+.0f}"
    return "0" if text in ("+0", "-0") else text


def main_cause_text(outlook: pd.Series) -> str:
    """The most common closure cause of the outlook, in words."""
    from experiments.analysis.survival import cause_label

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
                         f"{pct_text(o[f'p_alive_{t}'])} ({pct_text(o[f'p_alive_{t}_low'])} to "
                         f"{pct_text(o[f'p_alive_{t}_high'])})")
    med = "not reached within the horizon" if not np.isfinite(o["median_months"]) \
        else f"{o['median_months']:.0f} months"
    lines += [f"  median time to closure: {med}",
              f"  average months running in the first {h}: {o['rmst']:.1f} "
              f"({o['rmst_low']:.1f} to {o['rmst_high']:.1f})",
              f"  main closure cause: {main_cause_text(o)}",
              f"  => {risk_band(float(o['p_alive_60']))}", "",
              "Five most influential risk drivers here (local screening, one rubric step either "
              "side of your own values):"]
    for d in a.drivers[:5]:
        lines.append(f"  {d.rank}. {d.factor.label} (yours: {own_value_text(d.factor)})")
        lines.append(f"     {direction_text(d)}; size {d.months_star:.1f} months per step "
                     f"(95% CI {d.months_low:.1f} to {d.months_high:.1f})")
    lines += ["", f"Levers ranked by how much each raises {YEARS}-year survival "
                  "(paired comparison with your authority as described):"]
    if len(a.levers) and float(a.levers["diff"].abs().max()) < 0.01:
        lines.append(f"  ({YEARS}-year survival hardly moves with any lever here; they are "
                     "ranked by months of service gained.)")
    for r in a.levers.itertuples():
        lines.append(f"  {r.rank:>2}. {r.description:<58} {points_text(r.diff):>4} points "
                     f"({points_text(r.diff_low)} to {points_text(r.diff_high)}); "
                     f"{r.rmst_diff:+.1f} months of service")
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
    body = [f"<h1>Readiness assessment: {escape(a.name)}</h1>",
            f'<p class="lede">Will an MST team survive here, what puts it at risk, and what '
            f"would help? {replicates} simulated histories per option.</p>",
            "<h2>At a glance</h2><ul class=\"headline\">"
            f"<li>Chance the service is still running at 5 years: <strong>"
            f"{pct_text(o['p_alive_60'])}</strong> ({pct_text(o['p_alive_60_low'])} to "
            f"{pct_text(o['p_alive_60_high'])}): {escape(risk_band(float(o['p_alive_60'])))}.</li>"]
    if a.drivers:
        body.append(f"<li>Biggest local risk driver: {escape(a.drivers[0].factor.label)}.</li>")
    if len(a.levers):
        r = a.levers.iloc[0]
        body.append(f"<li>Most helpful lever: {escape(r.description)} ({points_text(r['diff'])} points "
                    f"5-year survival, 95% CI {points_text(r.diff_low)} to {points_text(r.diff_high)}).</li>")
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
             f"{pct_text(o[f'p_alive_{t}'])} ({pct_text(o[f'p_alive_{t}_low'])} to "
             f"{pct_text(o[f'p_alive_{t}_high'])})"] for t in TIMES if t <= h]
    med = "not reached" if not np.isfinite(o["median_months"]) else f"{o['median_months']:.0f}"
    rows += [["median months to closure", med],
             [f"average months running (first {h})",
              f"{o['rmst']:.1f} ({o['rmst_low']:.1f} to {o['rmst_high']:.1f})"],
             ["main closure cause", escape(main_cause_text(o))]]
    kms = kaplan_meier(a.runs[a.runs.variant == a.stem], horizon=h)
    body.append("<h2>Outlook</h2>" + html_table(["measure", "estimate (95% CI)"], rows)
                + embed_png(save_figure(plot_survival(kms), a.out / "survival.png"),
                       "survival curve"))
    d_rows = [[str(d.rank), escape(d.factor.label), escape(own_value_text(d.factor)),
               escape(f"{d.factor.describe(d.factor.low)} to {d.factor.describe(d.factor.high)}"),
               f"{d.months_per_step:+.1f}",
               f"{d.months_star:.1f} ({d.months_low:.1f} to {d.months_high:.1f})",
               points_text(d.points_per_step)] for d in a.drivers]
    body.append(
        "<h2>Risk drivers for this authority</h2><p>Local Morris screening "
        f"({trajectories} trajectories x {screen_replicates} replicates, {a.screening_runs:,} "
        "runs). A positive effect means one step up adds months of service; the size column "
        "is the typical absolute effect (mu*) with its 95% interval. The top five are the "
        "authority's most influential risk drivers.</p>"
        + html_table(["rank", "driver", "yours", "range screened", "months per step up",
                      "size (95% CI)", "5-year survival, points per step"], d_rows,
                     numeric_from=4)
        + embed_png(save_figure(plot_drivers(a), a.out / "drivers.png"), "risk drivers"))
    l_rows = [[str(r.rank), escape(r.description), f"{pct_text(r.p_alive)}",
               f"{points_text(r.diff)} ({points_text(r.diff_low)} to {points_text(r.diff_high)})",
               f"{r.rmst_diff:+.1f} ({r.rmst_diff_low:+.1f} to {r.rmst_diff_high:+.1f})"]
              for r in a.levers.itertuples()]
    skipped = "".join(f"<li>{escape(k)}: {escape(v)}</li>" for k, v in a.skipped.items())
    body.append(
        f"<h2>Levers ranked by their effect on {YEARS}-year survival</h2>"
        + html_table(["rank", "lever", f"running at {YEARS} years with it",
                      "change, points (95% CI)", "months of service (95% CI)"], l_rows,
                     numeric_from=2)
        + (embed_png(save_figure(plot_levers(a), a.out / "levers.png"), "levers")
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
