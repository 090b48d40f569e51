"""Sensitivity analysis for people: terminal tables, figures and the HTML report."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.analysis.sensitivity import PAWN_SLIDES, TOP, Analysis, Design, Output, RowOutputs
from experiments.reports import formatters as fmt
from experiments.reports import palette
from experiments.reports.figures import subplots
from experiments.reports.html import short_label
from experiments.reports.templating import figure, provenance, render_page

palette.use_in_matplotlib()  # colour-blind-safe default colours for every figure

# Formatting (numbers: experiments.reports.formatters)
# ---------------------------------------------------------------------------------------------


def _indices(r, design: Design, out: Output) -> list[str]:
    """The formatted index cells of one driver's row (as in the terminal table)."""
    if design.method == "sobol":
        return [fmt.interval(r.S1, r.S1_low, r.S1_high), fmt.interval(r.ST, r.ST_low, r.ST_high)]
    if design.method == "morris":
        d = output_digits(out)
        return [fmt.interval(r.mu_star, r.mu_star_low, r.mu_star_high, d), fmt.number(r.mu, d),
                fmt.number(r.sigma, d)]
    return [fmt.interval(r["median"], r.median_low, r.median_high)]


def output_digits(out: Output) -> int:
    """Decimals shown for an output: 2 for probabilities, 1 for months."""
    return 2 if out.key.startswith("p_alive") else 1


def format_table(table: pd.DataFrame, design: Design, out: Output, *, limit: int | None = None,
                 width: int = 58) -> str:
    """Fixed-width ranked table of one output's indices for the terminal.

    Args:
        table: Output of :func:`analyse`.
        design: The design.
        out: The output analysed.
        limit: Show at most this many drivers (default all).
        width: Width of the label column.

    Returns:
        Text lines.

    """
    rows = table if limit is None else table.head(limit)
    if design.method == "sobol":
        head = f"{'S1 first-order (95% CI)':>26} {'ST total-order (95% CI)':>26}"
    elif design.method == "morris":
        head = f"{'mu* (95% CI)':>24} {'mu':>8} {'sigma':>8}"
    else:
        head = f"{'PAWN median KS (95% CI)':>26}"
    lines = [f"{'rank':>4}  {'driver':<{width}} {'class':<9} {'group':<11} {head}"]
    for _, r in rows.iterrows():
        label = str(r["label"])
        label = label if len(label) <= width else label[:width - 1] + "…"
        cells = _indices(r, design, out)
        if design.method == "sobol":
            vals = f"{cells[0]:>26} {cells[1]:>26}"
        elif design.method == "morris":
            vals = f"{cells[0]:>24} {cells[1]:>8} {cells[2]:>8}"
        else:
            vals = f"{cells[0]:>26}"
        lines.append(f"{int(r['rank']):>4}  {label:<{width}} {class_word(r.name):<9} {r['group']:<11} "
                     f"{vals}")
    return "\n".join(lines)


_CLASS_WORDS = {"changeable": "change", "context": "context", "mechanism": "mechanism"}


def class_word(name) -> str:
    """One word for a ranked factor's class: ``change`` (can change), ``context``, ``mechanism``.

    Groups (factor sets of ``--groups``) have no class and read ``-``.
    """
    from experiments.analysis.factors import factor_class

    try:
        return _CLASS_WORDS[factor_class(str(name))]
    except KeyError:
        return "-"


def noise_text(noise: dict) -> str:
    """One sentence on the share of variance that is seed noise."""
    if not np.isfinite(noise.get("single", math.nan)):
        return "seed noise: not measurable (needs at least 2 replicates per row)"
    return (f"seed noise: {fmt.percent(noise['single'])} of the variance between single runs, "
            f"{fmt.percent(noise['mean'])} of the variance of the replicate means analysed"
            if np.isfinite(noise.get("mean", math.nan)) else
            f"seed noise: {fmt.percent(noise['single'])} of the variance between single runs")


def explain_text(design: Design) -> str:
    """How to read the indices of the design's method (one paragraph)."""
    if design.method == "sobol":
        return ("S1: share of the output's variance due to the driver alone; ST: share due to "
                "the driver including its interactions (ST - S1 = interactions). Ranked by ST. "
                "Intervals: bootstrap, 95%.")
    if design.method == "morris":
        return ("mu*: typical size of the change in the output when the driver moves across "
                "its range (elementary effects scaled to the full range); mu: the same with "
                "sign (+ raises the output); sigma: spread of the effects (non-linearity or "
                "interactions). Ranked by mu*. Interval on mu*: bootstrap, 95%.")
    return ("PAWN: median Kolmogorov-Smirnov distance between the output's distribution with "
            "the driver fixed in a slice of its range and its unconditional distribution (0 = "
            "no influence, 1 = complete). Ranked by the median. Interval: bootstrap over "
            "design rows, 95%.")


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------





def plot_indices(table: pd.DataFrame, design: Design, out: Output, title: str):
    """Tornado-style bar chart of the indices with 95% interval bars, most influential on top.

    Sobol': ST and S1 side by side; Morris: mu*; PAWN: median KS.
    """
    t = table.sort_values("rank", ascending=False)
    ylab = [short_label(str(v)) for v in t["label"]]
    y = np.arange(len(t))
    fig, ax = subplots(figsize=(9.5, 0.34 * len(t) + 1.6))
    if design.method == "sobol":
        h = 0.38
        ax.barh(y + h / 2, t.ST, h, xerr=t.ST_conf, color=palette.VERMILLION, label="ST total-order",
                error_kw={"elinewidth": 0.8, "capsize": 2})
        ax.barh(y - h / 2, t.S1, h, xerr=t.S1_conf, color=palette.BLUE, label="S1 first-order",
                error_kw={"elinewidth": 0.8, "capsize": 2})
        ax.set_xlabel("Sobol' index (share of variance), 95% bootstrap interval")
        ax.legend(loc="lower right")
    elif design.method == "morris":
        ax.barh(y, t.mu_star, 0.6, xerr=t.mu_star_conf, color=palette.BLUE,
                error_kw={"elinewidth": 0.8, "capsize": 2})
        ax.set_xlabel(f"Morris mu* ({out.short} per full range), 95% bootstrap interval")
    else:
        err = np.vstack([t["median"] - t.median_low, t.median_high - t["median"]])
        ax.barh(y, t["median"], 0.6, xerr=np.clip(err, 0, None), color=palette.BLUE,
                error_kw={"elinewidth": 0.8, "capsize": 2})
        ax.set_xlabel("PAWN median KS statistic, 95% bootstrap interval")
    ax.axvline(0, color="#333", lw=0.6)
    ax.set_yticks(y, ylab, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_morris(table: pd.DataFrame, out: Output, title: str):
    """Morris mu*-sigma plane: drivers far right matter; high up means non-linear/interacting."""
    fig, ax = subplots(figsize=(8, 6))
    ax.errorbar(table.mu_star, table.sigma, xerr=table.mu_star_conf, fmt="o", ms=5,
                color=palette.BLUE, ecolor=palette.SKY_BLUE, elinewidth=0.8, capsize=2)
    top = table.sort_values("rank").head(10)
    for name, r in top.iterrows():
        ax.annotate(short_label(str(name), 30), (r.mu_star, r.sigma), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    lim = float(max(table.mu_star.max(), table.sigma.max()) * 1.1 or 1)
    ax.plot([0, lim], [0, lim], ls="--", color="#999", lw=0.8, label="sigma = mu*")
    ax.set_xlim(0, lim)
    ax.set_ylim(0, lim)
    ax.set_xlabel(f"mu* (mean absolute effect on {out.short})")
    ax.set_ylabel("sigma (spread of effects: non-linearity, interactions)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_convergence(conv: pd.DataFrame, design: Design, title: str, k: int = 8):
    """Index of the leading drivers against the sample size, with interval bands."""
    fig, ax = subplots(figsize=(8, 5))
    n_max = conv["n"].max()
    lead = conv[conv.n == n_max].sort_values("rank").head(k)["factor"]
    for f in lead:
        d = conv[conv.factor == f].sort_values("n")
        line = ax.plot(d["n"], d["index"], marker="o", ms=3, label=short_label(str(f), 34))[0]
        ax.fill_between(d["n"], d["index_low"], d["index_high"], color=line.get_color(),
                        alpha=0.12)
    ax.set_xscale("log", base=2)
    measure = {"sobol": "ST", "morris": "mu*", "pawn": "PAWN median KS"}[design.method]
    unit = {"sobol": "N (base samples)", "morris": "trajectories",
            "pawn": "design rows"}[design.method]
    ax.set_xlabel(unit)
    ax.set_ylabel(f"{measure} (95% interval band)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def header_text(design: Design, base_name: str, replicates: int, runs: int, wall: float,
            workers_text: str) -> str:
    """First lines of the terminal summary: what was run, how many runs, how long."""
    what = {"sobol": f"N = {design.n} base samples"
                     + (", with second-order indices" if design.second_order else ""),
            "morris": f"{design.n} trajectories, {design.num_levels} levels",
            "pawn": f"{design.n} Latin hypercube rows, {PAWN_SLIDES} slides"}[design.method]
    units = f"{len(design.units)} groups of {len(design.factors)} factors" if design.groups \
        else f"{len(design.factors)} factors"
    return (f"{design.method.capitalize()} sensitivity analysis of {base_name}: {units}, "
            f"{what}.\n{fmt.count(design.rows)} design rows x {replicates} replicates (common random "
            f"numbers) = {fmt.count(runs)} runs in {wall:.0f} s ({workers_text}).")


def write_sensitivity_report(out: Path, name: str, design: Design, analyses: list[Analysis],
                             ro: RowOutputs, manifest: dict, figures: list[str],
                             replicates: int) -> Path:
    """Write ``report.html`` for a sensitivity analysis (plots embedded, self-contained)."""
    from experiments.files import atomic_write_text

    heading = f"What drives the risk? {design.method.capitalize()} sensitivity analysis: {name}"
    first = analyses[0]
    glance = None
    if first.table is not None:
        glance = {"output": first.output.label.lower(),
                  "top": [(r.label, r.group) for r in first.table.head(TOP).itertuples()],
                  "stability": first.stability.text if first.stability is not None else None}
    sections = []
    for a in analyses:
        noise = noise_text(a.noise)
        section = {"label": a.output.label, "noise": noise[:1].upper() + noise[1:], "rows": None,
                   "figures": [], "stability": None}
        if a.table is not None:
            section["rows"] = [[int(r["rank"]), r.label, r.group, *_indices(r, design, a.output)]
                               for _, r in a.table.iterrows()]
            section["figures"] = [figure(out / f, f) for f in figures
                                  if f.endswith(f"_{a.output.key}.png")]
            section["stability"] = a.stability.text if a.stability is not None else None
        sections.append(section)
    head = {"sobol": ["S1 (95% CI)", "ST (95% CI)"],
            "morris": ["mu* (95% CI)", "mu", "sigma"],
            "pawn": ["median KS (95% CI)"]}[design.method]
    exp = manifest.get("experiment", {})
    what = [["command", {"code": manifest.get("command", "")}],
            ["method", exp.get("sampler", design.method)],
            ["root seed", manifest.get("root_seed")],
            ["ensemble wall time", f"{exp.get('ensemble_wall_time_s', '?')} s"],
            ["git commit", manifest.get("git_commit")],
            ["factors", [f"{f.name}: {f.label} [{f.low:g} .. {f.high:g}] ({f.group})"
                         for f in design.factors]]]
    lede = (f"{len(design.factors)} factors, {fmt.count(design.rows)} design rows x {replicates} "
            f"replicates = {fmt.count(design.rows * replicates)} runs.")
    page = render_page("sensitivity.html.j2", title=f"Sensitivity analysis: {name}",
                       heading=heading, provenance=provenance(manifest), lede=lede,
                       glance=glance, analyses=sections, head=head, what_was_run=what)
    path = out / "report.html"
    atomic_write_text(path, page)
    return path
