"""Scenario discovery for people: the peeling trade-off figure and the HTML report."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from experiments.analysis.discovery import Rule
from experiments.analysis.factors import FACTORS
from experiments.files import atomic_write_text
from experiments.reports.figures import subplots
from experiments.reports.html import embed_png, html_page, html_table, save_figure


def plot_tradeoff(trajectories: list[pd.DataFrame], title: str):
    """Coverage-density trade-off of each box's peeling trajectory; the chosen box circled."""
    fig, ax = subplots(figsize=(7, 5))
    for k, t in enumerate(trajectories):
        sc = ax.scatter(t.coverage, t.density, c=t.res_dim, cmap="viridis", s=14,
                        marker="o" if k == 0 else "s", label=f"box {k + 1}")
        chosen = t[t.chosen]
        ax.scatter(chosen.coverage, chosen.density, s=140, facecolors="none",
                   edgecolors="#c0504d", linewidths=1.5)
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
    trajs = trajectories
    body = [f"<h1>Scenario discovery: {html.escape(name)}</h1>",
            f'<p class="lede">{html.escape(lede[0])} {html.escape(lede[1])}</p>',
            "<div class=\"note\"><p><strong>How to read this.</strong> Each rule is a box: "
            "ranges of a few inputs inside which the outcome is concentrated. "
            "<em>Coverage</em> is the share of all such outcomes that happen inside the box; "
            "<em>density</em> is how often the outcome happens for runs inside the box, to "
            "compare with the base rate over all runs. A rule with high density and high "
            "coverage is a good summary of where the risk lies. The rules describe the model "
            "over the ranges sampled; they are associations found in simulated data, checked "
            "for chance with quasi-p values and by re-running PRIM on random halves.</p></div>"]
    for k, r in enumerate(rules, 1):
        body.append(f"<h2>Box {k}</h2><p><strong>{html.escape(r.text)}</strong></p>")
        body.append(html_table(["factor", "range in the box", "quasi-p", "reproduced"], [
            [html.escape(FACTORS[nm].label),
             html.escape(f"{FACTORS[nm].describe(lo) if lo is not None else 'any'} to "
                         f"{FACTORS[nm].describe(hi) if hi is not None else 'any'}"),
             f"{r.qp.get(nm, float('nan')):.2g}",
             f"{r.reproducibility.get(nm, float('nan')):.0f}%"]
            for nm, lo, hi in r.conditions]))
    if trajs:
        fig = save_figure(plot_tradeoff(trajs, f"{name}: PRIM peeling trajectories"),
                        out / "prim_trajectory.png")
        body.append("<h2>Coverage and density along the peeling trajectory</h2>"
                    + embed_png(fig, "PRIM trade-off"))
    atomic_write_text(out / "report.html", html_page(f"Scenario discovery: {name}", body))
    return out / "report.html"
