"""A self-contained HTML report of an ensemble, readable by a commissioner.

:func:`write_report` writes ``report.html`` (inline CSS, plots embedded as base64 PNG, no
external resources) and saves the same plots as PNG files beside it.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.analysis.survival import (
    cause_label,
    closure_causes,
    kaplan_meier,
    logrank,
    paired_difference,
    survival_table,
    variant_horizons,
)
from experiments.files import atomic_save_figure, atomic_write_text
from experiments.reports.ensemble_plots import (
    VARIABLE_LABELS,
    plot_closure_causes,
    plot_defence_pressure,
    plot_fan,
    plot_survival,
)

FAN_VARIABLES = ("teams", "staff", "referrals_month")
SURVIVAL_TIMES = (24, 60, 120)
COMPARISON_MONTH = 60

CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #1d2733;
       background: #fff; margin: 0; line-height: 1.5; }
main { max-width: 1000px; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.7rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 2px solid #e3e8ee;
     padding-bottom: 0.2rem; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
p.lede { color: #4a5a6a; margin-top: 0; }
.note { background: #f4f7fa; border-left: 4px solid #4a7fb0; padding: 0.7rem 1rem;
        margin: 1rem 0; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #d5dce3; padding: 0.35rem 0.6rem; text-align: left;
         vertical-align: top; }
th { background: #eef2f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
img { max-width: 100%; height: auto; display: block; margin: 0.8rem 0; }
ul.headline li { margin-bottom: 0.3rem; }
code { font-size: 0.88em; background: #f4f6f8; padding: 0 0.2em; }
.appendix { font-size: 0.9rem; color: #333; }
footer { margin-top: 3rem; font-size: 0.8rem; color: #667; }
"""


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _isnan(x) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def _pct(p, lo=None, hi=None) -> str:
    if _isnan(p):
        return "n/a"
    s = f"{p:.0%}"
    if lo is not None and hi is not None and not _isnan(lo) and not _isnan(hi):
        s += f" ({lo:.0%} to {hi:.0%})"
    return s


def _money(x) -> str:
    if _isnan(x):
        return "n/a"
    sign = "-" if x < 0 else ""
    x = abs(float(x))
    if x >= 1e6:
        return f"{sign}£{x / 1e6:.2f}m"
    if x >= 1e3:
        return f"{sign}£{x / 1e3:.0f}k"
    return f"{sign}£{x:.0f}"


def _count(x) -> str:
    return "n/a" if _isnan(x) else f"{x:,.0f}"


def _years(months: float) -> str:
    return f"{months / 12:g} year" + ("" if months == 12 else "s")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "",
           numeric_from: int = 1) -> str:
    """Render rows of already-escaped cell HTML; columns from ``numeric_from`` right-aligned."""
    out = [f'<table class="{_e(cls)}">' if cls else "<table>", "<thead><tr>"]
    out += [f"<th>{h}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for row in rows:
        cells = [f'<td class="num">{c}</td>' if i >= numeric_from else f"<td>{c}</td>"
                 for i, c in enumerate(row)]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _embed(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _save(fig, path: Path, alt: str) -> str:
    atomic_save_figure(fig, path)
    return _embed(path, alt)


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------


def _how_to_read(n_per_variant: str, horizon: int) -> str:
    return f"""<div class="note"><p><strong>How to read this.</strong> The model is a
stochastic simulation: each run is one possible history of the MST service in this authority,
with its own chance events (staff leaving, budget rounds, senior leaders changing, referral
flows). We simulated {_e(n_per_variant)} per option and report how often the service was
still running, when and why it closed, and what it cost. Figures in brackets are 95% intervals:
they show how much the numbers would move with a different set of random histories, and
<em>only</em> that. They do not include uncertainty about the model's assumptions or parameter
values, which is usually larger. Differences between options are therefore the effect of the
change <em>under the model's assumptions</em>; read them as a comparison, not a forecast.
"Still running after 5 years" means the service had not closed by the end of month 60. The
"average months running" counts months of service in the first {horizon} months (the
simulated horizon), so services that outlast the horizon count as {horizon}.</p></div>"""


def _what_was_run(runs: pd.DataFrame, manifest: dict) -> str:
    scenarios = sorted(map(str, pd.unique(runs["scenario"]))) if "scenario" in runs else []
    per = runs.groupby("variant", sort=False).size()
    items = ["<li><strong>Options compared:</strong> "
             + "; ".join(f"{_e(v)} ({n} runs)" for v, n in per.items()) + "</li>"]
    if scenarios:
        items.append("<li><strong>Local authority scenario(s):</strong> "
                     + ", ".join(_e(s) for s in scenarios) + "</li>")
    if manifest.get("replicates") is not None:
        items.append(f"<li><strong>Replicates per option:</strong> "
                     f"{_e(manifest['replicates'])} (replicate <em>r</em> of every option uses "
                     f"the same random seed, so options are compared like for like)</li>")
    if manifest.get("root_seed") is not None:
        items.append(f"<li><strong>Root seed:</strong> <code>{_e(manifest['root_seed'])}"
                     f"</code></li>")
    when = [manifest.get("started"), manifest.get("finished")]
    if any(when):
        items.append(f"<li><strong>Run:</strong> {_e(when[0] or '?')} to "
                     f"{_e(when[1] or '?')}</li>")
    return "<ul>" + "\n".join(items) + "</ul>"


def _headline(table: pd.DataFrame, times: Sequence[int]) -> str:
    t = 60 if 60 in times else times[-1]
    items = []
    for v, r in table.iterrows():
        p = _pct(r[f"p_alive_{t}"], r[f"p_alive_{t}_low"], r[f"p_alive_{t}_high"])
        med = r["median_months"]
        life = (f"half had closed by month {med:g} ({med / 12:.1f} years)" if not _isnan(med)
                else f"more than half were still running at month {int(r['horizon'])}")
        items.append(f"<li><strong>{_e(v)}</strong>: still running after {_years(t)} in "
                     f"{p} of simulated histories; {life}.</li>")
    return '<ul class="headline">' + "\n".join(items) + "</ul>"


def _median_text(r) -> str:
    med, lo, hi = r["median_months"], r["median_low"], r["median_high"]
    h = int(r["horizon"])
    if _isnan(med):
        return f"not reached (&gt;{h})"
    lo_s = "?" if _isnan(lo) else f"{lo:g}"
    hi_s = f"&gt;{h}" if _isnan(hi) else f"{hi:g}"
    return f"{med:g} ({lo_s} to {hi_s})"


def _survival_section(table: pd.DataFrame, times: Sequence[int]) -> str:
    hs = set(table["horizon"].astype(int))  # one per variant (mixed horizons: each its own)
    of = f"of first {hs.pop()}" if len(hs) == 1 else "of each option's horizon"
    header = (["Option", "Runs", "Closed"]
              + [f"Still running after {_years(t)}" for t in times]
              + ["Median lifetime, months", f"Average months running ({of})"])
    rows = []
    for v, r in table.iterrows():
        row = [_e(v), _count(r["n"]), _count(r["closed"])]
        row += [_pct(r[f"p_alive_{t}"], r[f"p_alive_{t}_low"], r[f"p_alive_{t}_high"])
                for t in times]
        row.append(_median_text(r))
        rm = "n/a" if _isnan(r["rmst"]) else f"{r['rmst']:.1f}"
        if not _isnan(r["rmst_low"]):
            rm += f" ({r['rmst_low']:.1f} to {r['rmst_high']:.1f})"
        row.append(rm)
        rows.append(row)
    return _table(header, rows, cls="survival")


def _comparison_section(runs: pd.DataFrame, variants: list[str], horizon: int) -> str:
    if len(variants) < 2:
        return ""
    base = variants[0]
    hs = variant_horizons(runs)
    items = []
    for v in variants[1:]:
        month = min(COMPARISON_MONTH, horizon, hs[base], hs[v])  # within both horizons
        try:
            d = paired_difference(runs, base, v, month)
        except ValueError as err:
            items.append(f"<li><strong>{_e(v)}</strong>: not compared ({_e(err)}).</li>")
            continue
        p = d["mcnemar_p"]
        ptxt = "p &lt; 0.001" if p < 0.001 else f"p = {p:.3f}"
        items.append(f"<li><strong>{_e(v)}</strong> vs {_e(base)}: {_e(d['sentence'])}; "
                     f"{_e(d['rmst_sentence'])}. McNemar test {ptxt}, {d['n_pairs']} paired "
                     f"runs.</li>")
    return (f"<h2>Compared with {_e(base)}</h2><p>Each option's run <em>r</em> is compared "
            f"with {_e(base)}'s run <em>r</em>, which used the same random seed, so the "
            f"difference reflects the change rather than luck. \"Points\" are percentage "
            f"points.</p><ul>" + "\n".join(items) + "</ul>")


def _causes_section(runs: pd.DataFrame) -> str:
    cc = closure_causes(runs)
    causes = [c[len("count_"):] for c in cc.columns
              if c.startswith("count_") and cc[c].sum() > 0]
    header = ["Option", "Runs", "Still running at horizon"] + [_e(cause_label(c))
                                                              for c in causes]
    rows = []
    for v, r in cc.iterrows():
        row = [_e(v), _count(r["n"]), f"{r['share_survived']:.0%} ({int(r['survived'])})"]
        row += [f"{r[f'share_{c}']:.0%} ({int(r[f'count_{c}'])})" for c in causes]
        rows.append(row)
    note = ("<p>Share of all simulated services (number of runs in brackets). Each closed "
            "service has one recorded cause: the decision or event that ended it.</p>")
    return note + _table(header, rows, cls="causes")


def _quantile_text(x: pd.Series, fmt) -> str:
    x = pd.to_numeric(x, errors="coerce").dropna()
    if x.empty:
        return "n/a"
    q10, q50, q90 = np.quantile(x.to_numpy(float), [0.1, 0.5, 0.9])
    return f"{fmt(q50)} ({fmt(q10)} to {fmt(q90)})"


def _cost_section(runs: pd.DataFrame) -> str:
    cols = [("cost", "Cost", _money), ("savings", "Placement savings", _money),
            ("net_cost", "Net cost", _money), ("families_treated", "Families treated", _count)]
    cols = [c for c in cols if c[0] in runs.columns]
    if not cols:
        return ""
    rows = []
    for v, sub in runs.groupby("variant", sort=False):
        rows.append([_e(v)] + [_quantile_text(sub[c], f) for c, _, f in cols])
    note = ("<p>Totals over each service's lifetime (to closure or the horizon): median, with "
            "the 10% to 90% range of simulated histories in brackets. Savings are estimated "
            "placement costs avoided; net cost is cost minus savings (negative when savings exceed "
            "cost).</p>")
    return note + _table(["Option"] + [h for _, h, _ in cols], rows, cls="costs")


def _appendix(runs: pd.DataFrame, manifest: dict, variants: list[str], horizon: int,
              files: list[str]) -> str:
    parts = ['<h2>Technical appendix</h2><div class="appendix">']
    rows = []
    for key, label in (("command", "Command"), ("git_commit", "Git commit"),
                       ("root_seed", "Root seed"), ("replicates", "Replicates"),
                       ("started", "Started"), ("finished", "Finished")):
        if manifest.get(key) is not None:
            rows.append([_e(label), f"<code>{_e(manifest[key])}</code>"])
    rows.append(["Runs in this report", _count(len(runs))])
    rows.append(["Horizon (months)", _count(horizon)])
    parts.append("<h3>Run</h3>" + _table(["Item", "Value"], rows, numeric_from=99))
    mv = manifest.get("variants") or []
    if mv:
        vrows = [[_e(v.get("label", "")), f"<code>{_e(v.get('source', ''))}</code>",
                  f"<code>{_e(str(v.get('digest', ''))[:16])}</code>"] for v in mv
                 if isinstance(v, dict)]
        parts.append("<h3>Options (variants)</h3>"
                     + _table(["Label", "Scenario source", "Digest"], vrows, numeric_from=99))
    versions = manifest.get("versions") or {}
    if isinstance(versions, dict) and versions:
        parts.append("<h3>Software versions</h3>" + _table(
            ["Package", "Version"], [[_e(k), _e(v)] for k, v in versions.items()],
            numeric_from=99))
    known = {"command", "git_commit", "root_seed", "replicates", "started", "finished",
             "variants", "versions"}
    other = {k: v for k, v in manifest.items() if k not in known}
    if other:
        orows = [[_e(k), f"<code>{_e(json.dumps(v, default=str)[:300])}</code>"]
                 for k, v in other.items()]
        parts.append("<h3>Other manifest fields</h3>" + _table(["Field", "Value"], orows,
                                                               numeric_from=99))
    if len(variants) >= 2:
        lrows = []
        for v in variants[1:]:
            stat, p = logrank(runs, variants[0], v)
            lrows.append([_e(f"{variants[0]} vs {v}"), f"{stat:+.2f}",
                          "&lt; 0.001" if p < 0.001 else f"{p:.3f}"])
        parts.append("<h3>Log-rank tests against the first option</h3>"
                     "<p>Statistic positive when the first option closes sooner.</p>"
                     + _table(["Comparison", "Z", "p (two-sided)"], lrows))
    parts.append("""<h3>Methods</h3><ul>
<li>Survival curves: Kaplan-Meier (<code>scipy.stats.ecdf</code>); services still running at
the horizon are right-censored there. "Still running after t months" is P(closure month &gt; t).
Pointwise 95% bands use Greenwood's variance on the log-log scale. Where every run has the
same outcome at t (0% or 100%) the exact Clopper-Pearson binomial interval is shown instead.</li>
<li>Median lifetime: first month the curve reaches 50%; its interval is where the 95% band
crosses 50%.</li>
<li>Average months running: restricted mean survival time (area under the curve up to the
horizon) with a Greenwood-type analytic 95% interval.</li>
<li>Paired comparisons use common random numbers: difference in proportions with the
discordant-pairs variance and an exact McNemar test; restricted-mean differences with a
paired bootstrap (fixed seed).</li>
<li>All intervals reflect variation between random seeds only, not parameter
uncertainty.</li></ul>""")
    if files:
        parts.append("<h3>Files</h3><p>Figures saved beside this report: "
                     + ", ".join(f"<code>{_e(f)}</code>" for f in files) + ".</p>")
    parts.append("</div>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def write_report(out_dir: Path | str, runs: pd.DataFrame, series_long: pd.DataFrame | None,
                 manifest: dict | None, title: str,
                 extra_sections: Sequence[tuple[str, str]] | None = None) -> Path:
    """Write a self-contained ``report.html`` and its figures (PNG) to ``out_dir``.

    Sections: headline, how to read this, what was run, survival per option (table with 95%
    intervals and the survival chart), paired comparisons with the first option (if several),
    why services closed (table and bar chart), cost and savings (median and 10-90% range), fan
    charts (if ``series_long`` is given), ``extra_sections``, and a technical appendix
    (manifest, versions, log-rank tests, methods).

    Args:
        out_dir: Output directory (created if needed).
        runs: One row per run (``run_id``, ``variant``, ``scenario``, ``replicate`` and the
            scalar outputs of :func:`sim.simulate.simulate`).
        series_long: Long monthly series ``(run_id, month, variable, value)``, or None.
        manifest: Ensemble manifest: ``command``, ``variants`` (``[{label, source, digest}]``),
            ``root_seed``, ``replicates``, ``versions``, ``git_commit``, ``started``,
            ``finished``; missing keys are skipped.
        title: Report title.
        extra_sections: ``(heading, html)`` pairs inserted before the technical appendix; the
            heading is escaped, the HTML is inserted as given (it must not load external
            resources if the report is to stay self-contained).

    Returns:
        Path of ``report.html``.

    Raises:
        ValueError: If ``runs`` is empty.

    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if runs is None or runs.empty:
        raise ValueError("runs is empty")
    manifest = dict(manifest or {})
    variants = list(map(str, pd.unique(runs["variant"])))
    runs = runs.assign(variant=runs["variant"].astype(str))
    kms = kaplan_meier(runs)
    horizon = max(k.horizon for k in kms.values())  # the longest; each variant has its own
    times = tuple(t for t in SURVIVAL_TIMES if t <= horizon) or (horizon,)
    table = survival_table(runs, times=times)
    files: list[str] = []

    def figure(fig, name: str, alt: str) -> str:
        files.append(name)
        return _save(fig, out / name, alt)

    per = runs.groupby("variant").size()
    n_text = (f"{per.iloc[0]} histories" if per.nunique() == 1
              else f"{per.min()} to {per.max()} histories")

    body = [f"<h1>{_e(title)}</h1>"]
    lede = f"{len(runs):,} simulated runs of {len(variants)} option(s) over {horizon} months"
    if manifest.get("finished"):
        lede += f"; ensemble finished {_e(manifest['finished'])}"
    body.append(f'<p class="lede">{lede}.</p>')
    body.append("<h2>At a glance</h2>" + _headline(table, times))
    body.append(_how_to_read(n_text, horizon))
    body.append("<h2>What was run</h2>" + _what_was_run(runs, manifest))
    body.append("<h2>How long the service survives</h2>" + _survival_section(table, times))
    body.append(figure(plot_survival(kms), "survival.png",
                       "Chance the service is still running, by month, per option"))
    body.append(_comparison_section(runs, variants, horizon))
    body.append("<h2>Why services closed</h2>" + _causes_section(runs))
    body.append(figure(plot_closure_causes(runs), "closure_causes.png",
                       "Share of services closed by each cause, per option"))
    cost = _cost_section(runs)
    if cost:
        body.append("<h2>Cost, savings and families treated</h2>" + cost)
    if series_long is not None and len(series_long):
        present = set(pd.unique(series_long["variable"]))
        fans = []
        for var in FAN_VARIABLES:
            if var in present:
                label = VARIABLE_LABELS.get(var, var)
                fans.append(figure(plot_fan(series_long, var, runs), f"fan_{var}.png",
                                   f"Median and 10-90% range of {label} per option"))
        if {"defence", "pressure"} <= present:
            fans.append(figure(plot_defence_pressure(series_long, runs),
                               "fan_defence_pressure.png",
                               "Defence and pressure indices among services still open"))
        if fans:
            body.append("<h2>How the service evolves</h2><p>Lines are medians across "
                        "simulated histories; shading covers the middle 80% (10% to 90%). "
                        "Team, staff and referral counts treat a closed service as zero; the "
                        "defence and pressure indices describe only services still open. A "
                        "service is at risk when pressure rises above defence.</p>")
            body.extend(fans)
    for heading, content in extra_sections or ():
        body.append(f"<h2>{_e(heading)}</h2>\n{content}")
    body.append(_appendix(runs, manifest, variants, horizon, files))
    body.append("<footer>Generated by mst-sustain (experiments/report.py). Self-contained: "
                "no external resources.</footer>")
    doc = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
           + "\n".join(b for b in body if b) + "\n</main>\n</body>\n</html>\n")
    path = out / "report.html"
    atomic_write_text(path, doc)
    return path
