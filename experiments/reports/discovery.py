"""Scenario discovery for people: the peeling trade-off figure and the HTML report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from experiments.analysis.discovery import Rule
from experiments.analysis.factors import FACTORS
from experiments.files import atomic_write_text
from experiments.reports import formatters as fmt
from experiments.reports import palette
from experiments.reports.figures import subplots
from experiments.reports.html import save_figure
from experiments.reports.templating import figure, render_page

palette.use_in_matplotlib()  # colour-blind-safe default colours for every figure


def plot_tradeoff(trajectories: list[pd.DataFrame], title: str):
    """Coverage-density trade-off of each box's peeling trajectory; the chosen box circled."""
    fig, ax = subplots(figsize=(7, 5))
    for k, t in enumerate(trajectories):
        sc = ax.scatter(t.coverage, t.density, c=t.res_dim, cmap="viridis", s=14,
                        marker="o" if k == 0 else "s", label=f"box {k + 1}")
        chosen = t[t.chosen]
        ax.scatter(chosen.coverage, chosen.density, s=140, facecolors="none",
                   edgecolors=palette.VERMILLION, linewidths=1.5)
    fig.colorbar(sc, ax=ax, label="factors restricted")
    ax.set_xlabel("coverage (share of all closures inside the box)")
    ax.set_ylabel("density (share of runs in the box that close)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def write_discovery_report(out: Path, name: str, lede: Sequence[str], rules: Sequence[Rule],
                           trajectories: Sequence[pd.DataFrame]) -> Path:
    """Write ``report.html`` of a scenario discovery (rules, their factors, the trade-off).

    Args:
        out: The output folder.
        name: The authority's name.
        lede: The first two lines of the terminal summary.
        rules: The boxes found (:func:`experiments.analysis.discovery.find_rules`).
        trajectories: Their peeling trajectories.

    Returns:
        The report's path.

    """
    boxes = []
    for r in rules:
        rows = []
        for nm, lo, hi in r.conditions:
            f = FACTORS[nm]
            span = (f"{f.describe(lo) if lo is not None else 'any'} to "
                    f"{f.describe(hi) if hi is not None else 'any'}")
            rows.append([f.label, span, fmt.p_value(r.qp.get(nm, float("nan"))),
                         fmt.percent(r.reproducibility.get(nm, float("nan")) / 100)])
        boxes.append({"text": r.text, "rows": rows})
    tradeoff = None
    if trajectories:
        png = save_figure(plot_tradeoff(list(trajectories), f"{name}: PRIM peeling trajectories"),
                          out / "prim_trajectory.png")
        tradeoff = figure(png, "PRIM trade-off")
    page = render_page("discovery.html.j2", title=f"Scenario discovery: {name}", provenance="",
                       lede=list(lede[:2]), boxes=boxes, tradeoff=tradeoff)
    atomic_write_text(out / "report.html", page)
    return out / "report.html"
