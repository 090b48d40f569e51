"""Readiness assessment for people: the terminal summary, figures and the HTML page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from experiments.analysis.causes import explanations_available
from experiments.analysis.factors import Factor
from experiments.analysis.readiness import TIMES, YEARS, Assessment, Driver, risk_band
from experiments.reports import formatters as fmt
from experiments.reports import palette
from experiments.reports.authority import authority_section, authority_text
from experiments.reports.causes import main_why_text, why_lines, why_section
from experiments.reports.figures import subplots
from experiments.reports.html import save_figure, short_label
from experiments.reports.templating import figure, render_page


def step_text(f: Factor) -> str:
    """What "one step up" of a local factor means, in words."""
    if f.kind == "ofsted":
        return "a one-grade worse inspection rating"
    if f.kind == "partners":
        return "every partner one rubric step more committed"
    if f.kind == "leaders":
        return "every leader's stance one rubric step more supportive"
    if f.scale == "turnover":
        return "one turnover step higher"
    if f.name == "looked_after_children":
        return "25% more children looked after"
    return "one rubric step higher"


def effect_text(d: Driver) -> str:
    """A driver's one number: months of service per step up, its interval and the flag."""
    if d.no_effect:
        return "no effect on months of service seen in the screening"
    text = (f"{fmt.months_interval(d.effect, d.low, d.high, sign=True)} months of service "
            f"per step up")
    return text + ("; direction uncertain (the interval includes zero)" if d.uncertain else "")


def direction_word(d: Driver) -> str:
    """One word or two for a driver's direction: more service, less service, uncertain, none."""
    if d.no_effect:
        return "no effect seen"
    if d.uncertain:
        return "uncertain"
    return "more service" if d.effect > 0 else "less service"


def own_value_text(f: Factor) -> str:
    """The authority's own value of a factor, in words."""
    if f.kind in ("partners", "leaders"):
        return "as described"
    if f.name == "looked_after_children":
        return fmt.count(f.base)
    return f.describe(f.base)


def drivers_of(a, klass: str) -> list[Driver]:
    """The drivers of one class (``changeable`` or ``context``), ranked."""
    return [d for d in a.drivers if getattr(d, "klass", None) == klass]


def cost_per_year_text(r) -> str:
    """The cost per extra year of service of a lever row, or why there is none."""
    if fmt.is_missing(r.cost_per_year):
        return "no clear gain in service, so no cost per year"
    return (f"{fmt.money_interval(r.cost_per_year, r.cost_per_year_low, r.cost_per_year_high)}"
            f" per extra year of service")


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


def provenance_lines(prov: dict) -> list[str]:
    """Seed, commit, command and parameter mode of an assessment, as terminal lines."""
    if not prov:
        return []
    return [f"  seed {prov.get('seed')}; parameters: {prov.get('mode')}; commit "
            f"{prov.get('commit')}",
            f"  command: {prov.get('command') or '(none recorded)'}"]


def format_assessment(a: Assessment, replicates: int) -> str:
    """The terminal text of one assessment."""
    from experiments.analysis.factors import CHANGEABLE, CLASS_TITLES, CONTEXT

    o = a.outlook
    h = int(o["horizon"])
    share5, share_m = (o.get(f"p_alive_{12 * YEARS}_parameter_share"),
                       o.get("rmst_parameter_share"))
    over_sets = not fmt.is_missing(share_m)
    lines = [f"Readiness assessment: {a.name}",
             f"  {replicates} simulated histories of the authority and of each lever; "
             + ("95% plausible ranges over the posterior sample's parameter sets and chance."
                if over_sets else "95% intervals (chance alone: one parameter set).")]
    scenario = getattr(a, "scenario", None)
    if scenario is not None:
        lines += ["", "The authority as entered:", *authority_text(scenario)]
    lines += ["", "Outlook:"]
    for t in TIMES:
        if t <= h:
            lines.append(f"  still running at {t // 12:>2} years: {_p_alive(o, t)}")
    med = fmt.median_months(o["median_months"], h)
    lines += [f"  median time to closure: {med}" + ("" if fmt.is_missing(o["median_months"])
                                                    else " months"),
              f"  average months running in the first {h}: "
              f"{fmt.months_interval(o['rmst'], o['rmst_low'], o['rmst_high'])}",
              *([f"  share of the spread from parameters (the rest is chance): "
                 f"{YEARS}-year survival {fmt.percent(share5)}, months running "
                 f"{fmt.percent(share_m)}"] if over_sets else []),
              f"  main closure cause (when): {main_cause_text(o)}",
              f"  main reason (why): {why_text(a)}",
              f"  => {risk_band(float(o['p_alive_60']))}", ""]
    if explanations_available(a.runs):
        lines += ["Why services like this close:",
                  *[f"  {line}" for line in why_lines(baseline_runs(a), a.stem)], ""]
    if a.drivers:
        n = (getattr(a, "provenance", {}) or {}).get("screen_replicates")
        over = ""
        if over_sets:
            over = (f" over the trajectories; each point's {n} runs use {n} posterior draws"
                    if n else " over the trajectories; one run per posterior draw")
        lines.append(f"Drivers (local screening: each descriptor one step either side of your "
                     f"own value; ranked by months of service in the first {h}, 95% CI{over}):")
        for klass in (CHANGEABLE, CONTEXT):
            ds = drivers_of(a, klass)
            if not ds:
                continue
            lines.append(f"  {CLASS_TITLES[klass]}:")
            for d in ds:
                lines.append(f"  {d.rank:>3}. {d.factor.label} (yours: "
                             f"{own_value_text(d.factor)})")
                lines.append(f"       {step_text(d.factor)}: {effect_text(d)}")
        lines.append("")
    lines.append(f"Levers ranked by months of service gained in the first {h} (paired with "
                 f"your authority as described), with {YEARS}-year survival and cost:")
    for r in a.levers.itertuples():
        lines.append(f"  {r.rank:>2}. {r.description}")
        shares = ""
        if not fmt.is_missing(getattr(r, "rmst_parameter_share", None)):
            shares = (f" (parameters {fmt.percent(r.rmst_parameter_share)} and "
                      f"{fmt.percent(r.parameter_share)} of the spread)")
        lines.append(f"      {fmt.months_interval(r.rmst_diff, r.rmst_diff_low, r.rmst_diff_high, sign=True)}"
                     f" months of service; {fmt.points_interval(r.diff, r.diff_low, r.diff_high)}"
                     f" points {YEARS}-year survival{shares}")
        if hasattr(r, "extra_cost"):
            cost = fmt.money_interval(r.extra_cost, r.extra_cost_low, r.extra_cost_high,
                                      sign=True)
            net = fmt.money_interval(r.extra_net_cost, r.extra_net_cost_low,
                                     r.extra_net_cost_high, sign=True)
            lines.append(f"      extra cost {cost}; net of placement savings {net}; "
                         f"{cost_per_year_text(r)}")
    for name, why in a.skipped.items():
        lines.append(f"      {name}: not tried ({why})")
    if len(a.levers) and hasattr(a.levers, "columns") and "extra_cost" in a.levers.columns:
        lines.append(f"  Costs: the service's cost over the first {h} months, undiscounted, "
                     f"as the model counts it (teams, posts, programme manager; whoever pays)"
                     f"; a lever's own price is not in the model.")
    prov = provenance_lines(getattr(a, "provenance", {}))
    if prov:
        lines += ["", "Provenance:", *prov]
    return "\n".join(lines)


CLASS_COLOURS = {"changeable": palette.BLUE, "context": palette.ORANGE}
"""Bar colours of the two classes of driver (Okabe-Ito, safe for colour-blind readers)."""


def plot_drivers(a: Assessment):
    """Each driver's months of service per step up with its 95% interval, by class.

    One bar per driver, in the order of the table (what you can change, then context); a
    hatched, paler bar is one whose direction is uncertain.
    """
    from experiments.analysis.factors import CHANGEABLE, CONTEXT

    ds = [d for k in (CHANGEABLE, CONTEXT) for d in drivers_of(a, k)][::-1]
    fig, ax = subplots(figsize=(9, 0.42 * len(ds) + 1.9))
    y = np.arange(len(ds))
    vals = np.array([d.effect for d in ds], dtype=float)
    lo = np.array([d.low if np.isfinite(d.low) else d.effect for d in ds], dtype=float)
    hi = np.array([d.high if np.isfinite(d.high) else d.effect for d in ds], dtype=float)
    err = np.clip(np.vstack([vals - lo, hi - vals]), 0, None)
    bars = ax.barh(y, vals, xerr=err, color=[CLASS_COLOURS[d.klass] for d in ds],
                   error_kw={"capsize": 2, "elinewidth": 0.8})
    for b, d in zip(bars, ds, strict=True):
        if d.uncertain:
            b.set_alpha(0.45)
            b.set_hatch("//")
    ax.axvline(0, color="#333", lw=0.6)
    names = [short_label(d.factor.label, 48) + (" (context)" if d.klass == CONTEXT else "")
             for d in ds]
    ax.set_yticks(y, names, fontsize=9)
    ax.set_xlabel(f"months of service in the first {int(a.outlook['horizon'])} gained (+) or "
                  f"lost (-) by one step up (95% CI); hatched: direction uncertain", fontsize=9)
    ax.set_title(f"{a.name}: drivers (blue: what you can change; orange: context)",
                 fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_levers(a: Assessment):
    """The levers' gains in months of service with 95% intervals, as ranked."""
    t = a.levers.iloc[::-1]
    fig, ax = subplots(figsize=(9, 0.42 * len(t) + 1.6))
    y = np.arange(len(t))
    err = np.clip(np.vstack([t["rmst_diff"] - t.rmst_diff_low,
                             t.rmst_diff_high - t["rmst_diff"]]), 0, None)
    ax.barh(y, t["rmst_diff"], xerr=err, color=palette.BLUISH_GREEN, error_kw={"capsize": 2})
    ax.axvline(0, color="#333", lw=0.6)
    ax.set_yticks(y, [short_label(d, 56) for d in t["description"]], fontsize=9)
    ax.set_xlabel(f"months of service gained in the first {int(a.outlook['horizon'])} "
                  f"(paired 95% CI)", fontsize=9)
    ax.set_title(f"{a.name}: levers", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def driver_rows(a: Assessment, klass: str) -> list[list]:
    """Table rows of one class of drivers (rank, driver, yours, range, one step up, effect)."""
    return [[d.rank, d.factor.label, own_value_text(d.factor),
             f"{d.factor.describe(d.factor.low)} to {d.factor.describe(d.factor.high)}",
             step_text(d.factor),
             fmt.months_interval(d.effect, d.low, d.high, sign=True),
             direction_word(d)]
            for d in drivers_of(a, klass)]


def over_sets(a: Assessment) -> bool:
    """Whether the assessment ran several parameter sets (posterior mode: plausible ranges)."""
    return not fmt.is_missing(a.outlook.get("rmst_parameter_share"))


def interval_name(a: Assessment) -> str:
    """What the brackets hold: ``95% range`` (parameters and chance) or ``95% CI``."""
    return "95% range" if over_sets(a) else "95% CI"


def _with_share(text: str, share) -> str:
    return text if fmt.is_missing(share) else f"{text}; {fmt.percent(share)} from parameters"


def lever_rows(a: Assessment) -> list[list]:
    """Table rows of the levers, ranked, with their costs.

    In posterior mode the months and points cells also give the share of the difference's
    spread that is parameter uncertainty.
    """
    return [[r.rank, r.description,
             _with_share(fmt.months_interval(r.rmst_diff, r.rmst_diff_low, r.rmst_diff_high,
                                             sign=True), getattr(r, "rmst_parameter_share", None)),
             _with_share(fmt.points_interval(r.diff, r.diff_low, r.diff_high),
                         getattr(r, "parameter_share", None)),
             fmt.money_interval(r.extra_cost, r.extra_cost_low, r.extra_cost_high, sign=True),
             fmt.money_interval(r.extra_net_cost, r.extra_net_cost_low, r.extra_net_cost_high,
                                sign=True),
             ("n/a (no clear gain)" if fmt.is_missing(r.cost_per_year) else
              fmt.money_interval(r.cost_per_year, r.cost_per_year_low, r.cost_per_year_high))]
            for r in a.levers.itertuples()]


def outlook_rows(a: Assessment) -> list[list[str]]:
    """The outlook as ``[measure, estimate]`` rows."""
    o = a.outlook
    h = int(o["horizon"])
    rows = [[f"still running at {t // 12} years", _p_alive(o, t)] for t in TIMES if t <= h]
    rows += [["median months to closure", fmt.median_months(o["median_months"], h)],
             [f"average months running (first {h})",
              fmt.months_interval(o["rmst"], o["rmst_low"], o["rmst_high"])],
             ["main closure cause (when)", main_cause_text(o)],
             ["main reason (why)", why_text(a)],
             ["risk band", risk_band(float(o["p_alive_60"]))]]
    if over_sets(a):
        rows.insert(len(rows) - 3, [
            "share of the spread from parameters (the rest is chance)",
            f"{YEARS}-year survival {fmt.percent(o.get(f'p_alive_{12 * YEARS}_parameter_share'))}"
            f", months running {fmt.percent(o.get('rmst_parameter_share'))}"])
    return rows


def provenance_rows(prov: dict) -> list[list]:
    """Provenance as ``[item, value]`` rows."""
    items = (("Parameter mode", "mode"), ("Root seed", "seed"), ("Git commit", "commit"),
             ("Command", "command"), ("Histories per option", "replicates"),
             ("Screening trajectories", "trajectories"),
             ("Replicates per screening row", "screen_replicates"), ("Scenario file", "source"))
    return [[label, {"code": prov[key]} if key in ("command", "commit", "source")
             else prov[key]] for label, key in items if prov.get(key) not in (None, "")]


def write_assessment_page(a: Assessment, replicates: int, trajectories: int,
                          screen_replicates: int) -> Path:
    """Write ``report.html`` of one assessment (in the style of the ensemble report)."""
    from dataclasses import replace

    from experiments.analysis.factors import CHANGEABLE, CLASS_TITLES, CONTEXT
    from experiments.analysis.survival import kaplan_meier
    from experiments.files import atomic_write_text
    from experiments.reports.ensemble_plots import plot_survival

    o = a.outlook
    h = int(o["horizon"])
    changeable = drivers_of(a, CHANGEABLE)
    top = next((d for d in changeable if not d.uncertain), None)
    glance = {"p_alive": fmt.percent(o["p_alive_60"]),
              "interval": f"({fmt.percent(o['p_alive_60_low'])} to {fmt.percent(o['p_alive_60_high'])})",
              "band": risk_band(float(o["p_alive_60"])),
              "driver": None, "lever": None}
    if top is not None:
        glance["driver"] = {"label": top.factor.label, "step": step_text(top.factor),
                            "effect": fmt.months_interval(top.effect, top.low, top.high,
                                                          sign=True)}
    if len(a.levers):
        r = a.levers.iloc[0]
        glance["lever"] = {"description": r.description,
                           "months": fmt.months_interval(r.rmst_diff, r.rmst_diff_low,
                                                         r.rmst_diff_high, sign=True),
                           "cost": fmt.money_signed(r.extra_cost),
                           "per_year": ("" if fmt.is_missing(r.cost_per_year)
                                        else fmt.money(r.cost_per_year))}
    km = kaplan_meier(a.runs[a.runs.variant == a.stem], horizon=h)
    kms = [replace(k, variant=a.name) for k in km.values()]  # the legend names the authority
    figures = {"survival": figure(save_figure(plot_survival(kms), a.out / "survival.png"),
                                  "survival curve"),
               "drivers": (figure(save_figure(plot_drivers(a), a.out / "drivers.png"),
                                  "drivers") if a.drivers else None),
               "levers": (figure(save_figure(plot_levers(a), a.out / "levers.png"), "levers")
                          if len(a.levers) else None)}
    prov = getattr(a, "provenance", {}) or {}
    footer = ", ".join(p for p in (f"git {str(prov['commit'])[:12]}" if prov.get("commit")
                                   else "",
                                   f"root seed {prov['seed']}" if "seed" in prov else "",
                                   prov.get("mode", "")) if p)
    page = render_page(
        "assess.html.j2", title=f"Readiness assessment: {a.name}", provenance=footer,
        replicates=replicates, glance=glance, outlook=outlook_rows(a), horizon=h,
        over_sets=over_sets(a), interval=interval_name(a),
        trajectories=trajectories, screen_replicates=screen_replicates,
        screening_runs=fmt.count(a.screening_runs),
        driver_classes=[(CLASS_TITLES[k], k, driver_rows(a, k)) for k in (CHANGEABLE, CONTEXT)
                        if drivers_of(a, k)],
        years=YEARS, levers=lever_rows(a), figures=figures,
        why=why_section(baseline_runs(a)), skipped=list(a.skipped.items()),
        authority=(authority_section(a.scenario) if getattr(a, "scenario", None) is not None
                   else None),
        provenance_rows=provenance_rows(prov))
    path = a.out / "report.html"
    atomic_write_text(path, page)
    return path


def write_ranking_page(out: Path, ranked: list[Assessment], reports: list[Path]) -> Path:
    """Write ``report.html`` of several assessments: the ranking, with a link to each report.

    Args:
        out: The folder of the assessments.
        ranked: The assessments, safest first.
        reports: Each authority's report, in the order the authorities were given.

    Returns:
        Path of the page.

    """
    from experiments.files import atomic_write_text

    by_stem = {p.parent.name: p for p in reports}
    rows = [[i, a.name, _p_alive(a.outlook, 60),
             fmt.months_interval(a.outlook["rmst"], a.outlook["rmst_low"],
                                 a.outlook["rmst_high"]),
             risk_band(float(a.outlook["p_alive_60"])),
             {"href": f"{by_stem[a.stem].parent.name}/report.html"}]
            for i, a in enumerate(ranked, 1)]
    prov = getattr(ranked[0], "provenance", {}) or {}
    page = render_page("assess_ranking.html.j2", title="Readiness assessments: ranking",
                       provenance=prov.get("mode", ""), rows=rows,
                       authorities=[authority_section(a.scenario) for a in ranked
                                    if getattr(a, "scenario", None) is not None],
                       provenance_rows=provenance_rows(prov))
    path = out / "report.html"
    atomic_write_text(path, page)
    return path
