"""A self-contained HTML report of an ensemble, readable by a commissioner.

:func:`write_report` writes ``report.html`` (inline CSS, plots embedded as base64 PNG, no
external resources) and saves the same plots as PNG files beside it.
"""

from __future__ import annotations

import json
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
from experiments.reports import formatters as fmt
from experiments.reports.causes import why_section
from experiments.reports.ensemble_plots import (
    VARIABLE_LABELS,
    plot_closure_causes,
    plot_fan,
    plot_reserve_pressure,
    plot_survival,
)
from experiments.reports.templating import Figure, figure, provenance, render_page, trusted_html

FAN_VARIABLES = ("teams", "staff", "referrals_month")
SURVIVAL_TIMES = (24, 60, 120)
COMPARISON_MONTH = 60


def authority_groups(runs: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """The authorities of a runs table, each with its variants, in order of first appearance.

    Variants belong to one authority when their runs name the same authority (the
    ``scenario`` column: a lever switched on keeps the authority's name); the first variant of
    an authority is its base. Without a ``scenario`` column every variant is its own
    authority.

    Args:
        runs: One row per run (``variant``, optionally ``scenario``).

    Returns:
        ``[(authority, [base, variant, ...]), ...]``.

    """
    variants = list(map(str, pd.unique(runs["variant"].astype(str))))
    if "scenario" not in runs.columns:
        return [(v, [v]) for v in variants]
    first = runs.drop_duplicates("variant")
    groups: dict[str, list[str]] = {}
    for v, a in zip(first["variant"].astype(str), first["scenario"].astype(str), strict=True):
        groups.setdefault(a, []).append(v)
    return list(groups.items())


def comparison_pairs(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """The paired comparisons a report makes: each variant with its own authority's base.

    Runs of different authorities are never paired (they share seeds, not a place); only the
    variants of one authority (a lever switched on, a changed descriptor) are compared with
    that authority's base, run by run.

    Args:
        runs: One row per run.

    Returns:
        ``[(base, variant), ...]`` in order.

    """
    return [(vs[0], v) for _, vs in authority_groups(runs) for v in vs[1:]]


def _unit(groups: list[tuple[str, list[str]]]) -> dict:
    """Words for what a report's rows are: authorities, or authorities and their variants."""
    if all(len(vs) == 1 for _, vs in groups):
        return {"title": "Authority", "one": "authority", "many": "authorities"}
    return {"title": "Authority or variant", "one": "authority or variant",
            "many": "authorities and variants"}


def _authorities(manifest: dict, groups: list[tuple[str, list[str]]]) -> list[dict]:
    """Each authority's base as entered, from the scenario text its manifest records."""
    import tomllib

    from experiments.reports.authority import authority_section
    from sim.scenario import ScenarioError, parse_scenario

    entries = {str(v.get("label")): v for v in manifest.get("variants") or []
               if isinstance(v, dict)}
    out = []
    for _, vs in groups:
        entry = entries.get(vs[0])
        if not entry or not entry.get("text"):
            continue
        try:
            sc = parse_scenario(tomllib.loads(entry["text"]), entry.get("source", "<scenario>"),
                                entry["text"])
        except (ScenarioError, tomllib.TOMLDecodeError):
            continue
        section = authority_section(sc, label=sc.name if sc.name == vs[0] else f"{sc.name} ({vs[0]})")
        section["variants"] = vs[1:]
        out.append(section)
    return out


def _figure(fig, path: Path, alt: str) -> Figure:
    atomic_save_figure(fig, path)
    return figure(path, alt)


# ---------------------------------------------------------------------------------------------
# Sections: plain values for templates/report.html.j2 (escaped there)
# ---------------------------------------------------------------------------------------------


def _what_was_run(runs: pd.DataFrame, manifest: dict, groups) -> dict:
    scenarios = [a for a, _ in groups] if "scenario" in runs else []
    per = runs.groupby("variant", sort=False).size()
    when = [manifest.get("started"), manifest.get("finished")]
    return {"per_variant": [(v, n) for v, n in per.items()], "scenarios": scenarios,
            "authorities": _authorities(manifest, groups),
            "replicates": manifest.get("replicates"), "root_seed": manifest.get("root_seed"),
            "when": [w or "?" for w in when] if any(when) else None}


def _headline(table: pd.DataFrame, times: Sequence[int]) -> list[dict]:
    t = 60 if 60 in times else times[-1]
    items = []
    for v, r in table.iterrows():
        med = r["median_months"]
        life = (f"half had closed by month {fmt.month(med)} ({fmt.years_decimal(med)} years)"
                if not fmt.is_missing(med)
                else f"more than half were still running at month {int(r['horizon'])}")
        items.append({"variant": v, "years": fmt.years(t), "life": life,
                      "p_alive": fmt.percent_interval(r[f"p_alive_{t}"], r[f"p_alive_{t}_low"],
                                                      r[f"p_alive_{t}_high"])})
    return items


def _survival_section(table: pd.DataFrame, times: Sequence[int], unit: dict) -> dict:
    hs = set(table["horizon"].astype(int))  # one per variant (mixed horizons: each its own)
    of = f"of first {hs.pop()}" if len(hs) == 1 else "of each one's horizon"
    header = ([unit["title"], "Runs", "Closed"]
              + [f"Still running after {fmt.years(t)}" for t in times]
              + ["Median lifetime, months", f"Average months running ({of})"])
    rows = []
    for v, r in table.iterrows():
        row = [v, fmt.count(r["n"]), fmt.count(r["closed"])]
        row += [fmt.percent_interval(r[f"p_alive_{t}"], r[f"p_alive_{t}_low"], r[f"p_alive_{t}_high"])
                for t in times]
        row.append(fmt.median_months(r["median_months"], int(r["horizon"]), r["median_low"],
                                     r["median_high"]))
        row.append(fmt.months_interval(r["rmst"], r["rmst_low"], r["rmst_high"]))
        rows.append(row)
    return {"header": header, "rows": rows}


def _comparison_section(runs: pd.DataFrame, groups, horizon: int) -> list[dict]:
    hs = variant_horizons(runs)
    out = []
    for authority, vs in groups:
        if len(vs) < 2:
            continue
        base = vs[0]
        items = []
        for v in vs[1:]:
            month = min(COMPARISON_MONTH, horizon, hs[base], hs[v])  # within both horizons
            try:
                d = paired_difference(runs, base, v, month)
            except ValueError as err:
                items.append({"variant": v, "error": str(err)})
                continue
            items.append({"variant": v, "error": None, "sentence": d["sentence"],
                          "rmst_sentence": d["rmst_sentence"],
                          "p": fmt.p_statement(d["mcnemar_p"]), "n_pairs": d["n_pairs"]})
        out.append({"authority": authority, "base": base, "items": items})
    return out


def _causes_section(runs: pd.DataFrame, unit: dict) -> dict:
    cc = closure_causes(runs)
    causes = [c[len("count_"):] for c in cc.columns
              if c.startswith("count_") and cc[c].sum() > 0]
    header = [unit["title"], "Runs", "Still running at horizon"] + [cause_label(c) for c in causes]
    rows = []
    for v, r in cc.iterrows():
        row = [v, fmt.count(r["n"]), fmt.share_count(r["share_survived"], r["survived"])]
        row += [fmt.share_count(r[f"share_{c}"], r[f"count_{c}"]) for c in causes]
        rows.append(row)
    return {"header": header, "rows": rows}


def _quantile_text(x: pd.Series, f) -> str:
    x = pd.to_numeric(x, errors="coerce").dropna()
    if x.empty:
        return fmt.MISSING
    q10, q50, q90 = np.quantile(x.to_numpy(float), [0.1, 0.5, 0.9])
    return f"{f(q50)} ({f(q10)}{fmt.INTERVAL_SEP}{f(q90)})"


def _cost_section(runs: pd.DataFrame, unit: dict) -> dict | None:
    cols = [("cost", "Cost", fmt.money), ("savings", "Placement savings", fmt.money),
            ("net_cost", "Net cost", fmt.money), ("families_treated", "Families treated", fmt.count)]
    cols = [c for c in cols if c[0] in runs.columns]
    if not cols:
        return None
    rows = [[v] + [_quantile_text(sub[c], f) for c, _, f in cols]
            for v, sub in runs.groupby("variant", sort=False)]
    return {"header": [unit["title"]] + [h for _, h, _ in cols], "rows": rows}


def _appendix(runs: pd.DataFrame, manifest: dict, pairs: list[tuple[str, str]], horizon: int,
              files: list[str]) -> dict:
    run_rows = [[label, {"code": manifest[key]}]
                for key, label in (("command", "Command"), ("git_commit", "Git commit"),
                                   ("root_seed", "Root seed"), ("replicates", "Replicates"),
                                   ("started", "Started"), ("finished", "Finished"))
                if manifest.get(key) is not None]
    run_rows += [["Runs in this report", fmt.count(len(runs))],
                 ["Horizon (months)", fmt.count(horizon)]]
    variant_rows = [[v.get("label", ""), {"code": v.get("source", "")},
                     {"code": str(v.get("digest", ""))[:16]}]
                    for v in manifest.get("variants") or [] if isinstance(v, dict)]
    versions = manifest.get("versions") or {}
    version_rows = [[k, v] for k, v in versions.items()] if isinstance(versions, dict) else []
    # The folder's own bookkeeping (status, artefact list) is not a fact about the runs: the
    # report is written while the folder is still "finishing".
    known = {"command", "git_commit", "root_seed", "replicates", "started", "finished",
             "variants", "versions", "status", "artefacts"}
    other_rows = [[k, {"code": json.dumps(v, default=str)[:300]}]
                  for k, v in manifest.items() if k not in known]
    logrank_rows = []
    for base, v in pairs:
        stat, p = logrank(runs, base, v)
        logrank_rows.append([f"{base} vs {v}", fmt.signed(stat, 2), fmt.p_value(p)])
    return {"run": run_rows, "variants": variant_rows, "versions": version_rows,
            "other": other_rows, "logrank": logrank_rows, "files": files}


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def write_report(out_dir: Path | str, runs: pd.DataFrame, series_long: pd.DataFrame | None,
                 manifest: dict | None, title: str,
                 extra_sections: Sequence[tuple[str, str]] | None = None) -> Path:
    """Write a self-contained ``report.html`` and its figures (PNG) to ``out_dir``.

    Sections: headline, how to read this, what was run (the authorities as entered: their
    descriptors and people, from the scenario text in the manifest), survival per authority or
    variant (table with 95% intervals and the survival chart), paired comparisons of each
    authority's variants with its base (:func:`comparison_pairs`; different authorities are
    never paired), when services closed (the decision path: table and bar chart), why services
    like this close (per authority or variant: plain sentences and a table of the causes of the explanations, or a
    note that the runs carry none), cost and savings (median and 10-90% range), fan
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
            heading is escaped, the HTML is trusted and inserted as given (through
            :func:`experiments.reports.templating.trusted_html`; it must be escaped where it
            was built and must not load external resources if the report is to stay
            self-contained).

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

    def fig(f, name: str, alt: str) -> Figure:
        files.append(name)
        return _figure(f, out / name, alt)

    groups = authority_groups(runs)
    unit = _unit(groups)
    pairs = comparison_pairs(runs)
    per = runs.groupby("variant").size()
    n_text = (f"{per.iloc[0]} histories" if per.nunique() == 1
              else f"{per.min()} to {per.max()} histories")
    n_auth = len(groups)
    lede = (f"{len(runs):,} simulated runs of {n_auth} "
            f"{'authority' if n_auth == 1 else 'authorities'}")
    if len(variants) > n_auth:
        extra = len(variants) - n_auth
        lede += f" and {extra} variant{'s' if extra > 1 else ''} of {'it' if n_auth == 1 else 'them'}"
    lede += f" over {horizon} months"
    if manifest.get("finished"):
        lede += f"; ensemble finished {manifest['finished']}"
    survival = _survival_section(table, times, unit)
    survival["figure"] = fig(plot_survival(kms), "survival.png",
                             f"Chance the service is still running, by month, per {unit['one']}")
    comparison = _comparison_section(runs, groups, horizon)
    causes = _causes_section(runs, unit)
    causes["figure"] = fig(plot_closure_causes(runs), "closure_causes.png",
                           f"Share of services closed by each cause, per {unit['one']}")
    fans = []
    if series_long is not None and len(series_long):
        present = set(pd.unique(series_long["variable"]))
        for var in FAN_VARIABLES:
            if var in present:
                label = VARIABLE_LABELS.get(var, var)
                fans.append(fig(plot_fan(series_long, var, runs), f"fan_{var}.png",
                                f"Median and 10-90% range of {label} per {unit['one']}"))
        if {"reserve", "pressure_landing"} <= present:
            fans.append(fig(plot_reserve_pressure(series_long, runs), "fan_reserve_pressure.png",
                            "Reserve and pressure getting through the buffers, services still open"))
    doc = render_page(
        "report.html.j2", title=title, provenance=provenance(manifest), lede=lede,
        headline=_headline(table, times), n_text=n_text, horizon=horizon,
        **_what_was_run(runs, manifest, groups), survival=survival, comparison=comparison,
        causes=causes, why=why_section(runs), cost=_cost_section(runs, unit), fans=fans,
        extra_sections=[(h, trusted_html(c)) for h, c in extra_sections or ()],
        appendix=_appendix(runs, manifest, pairs, horizon, files), unit=unit,
        separate=n_auth > 1)
    path = out / "report.html"
    atomic_write_text(path, doc)
    return path
