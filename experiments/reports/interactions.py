"""Stressor interactions for people: effect tables, the verdict, the cell figure, HTML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from experiments.reports import formatters as fmt
from experiments.reports import palette
from experiments.reports.figures import subplots
from experiments.reports.html import save_figure
from experiments.reports.templating import render_fragment

palette.use_in_matplotlib()  # colour-blind-safe default colours for every figure


def _effect_cells(r, points: bool) -> list[str]:
    """Estimate, ``low to high`` and p of one effect: points (1 decimal) or signed months."""
    f = (lambda x: fmt.points(x, 1)) if points else (lambda x: fmt.signed(x, 1))
    p = "" if fmt.is_missing(r.p) else fmt.p_value(r.p)
    return [f(r.estimate), f"{f(r.low)}{fmt.INTERVAL_SEP}{f(r.high)}", p]


def grouped(effects: pd.DataFrame) -> bool:
    """Whether the effects were estimated over several parameter sets (posterior mode)."""
    return "parameter_share" in effects.columns and bool(effects["parameter_share"].notna().any())


def interval_name(effects: pd.DataFrame) -> str:
    """``95% range`` (plausible range over parameter sets and chance) or ``95% CI``."""
    return "95% range" if grouped(effects) else "95% CI"


def format_effects(effects: pd.DataFrame, what: str, points: bool = True) -> str:
    """Fixed-width text of an effects table (percentage points or months).

    In posterior mode the interval is the plausible range and a last column gives the share
    of each contrast's spread that is parameter uncertainty (the rest is chance).
    """
    share = grouped(effects)
    head = f"{'effect on ' + what:<66} {'estimate':>9} {interval_name(effects):>19} {'p':>7}"
    lines = [head + (f" {'parameters':>10}" if share else "")]
    for r in effects.itertuples():
        est, ci, p = _effect_cells(r, points)
        line = f"{r.effect:<66} {est:>9} {ci:>19} {p:>7}"
        if share:
            line += f" {fmt.percent(r.parameter_share):>10}"
        lines.append(line)
    return "\n".join(lines)


def verdict_text(effects: pd.DataFrame, together_risk: float) -> str:
    """One sentence: do the stressors interact, and how?"""
    ex = effects[effects.kind == "excess"]
    if ex.empty:
        return ""
    r = ex.iloc[0]
    ci = interval_name(effects)
    if r.low > 0:
        text = (f"The stressors interact: together they raise the risk of closure by "
                f"{fmt.number(r.estimate * 100, 1)} points MORE than the sum of their separate effects "
                f"({ci} {fmt.number(r.low * 100, 1)} to {fmt.number(r.high * 100, 1)}): synergy.")
    elif r.high < 0:
        text = (f"The stressors interact negatively: together they add "
                f"{fmt.number(-r.estimate * 100, 1)} points LESS than the sum of their separate effects "
                f"({ci} {fmt.number(-r.high * 100, 1)} to {fmt.number(-r.low * 100, 1)}).")
        if together_risk > 0.9:
            text += (" With the joint risk above 90% this mostly reflects saturation (a risk "
                     "cannot exceed 100%), not protection.")
    else:
        text = (f"No interaction detected: the joint effect equals the sum of the separate "
                f"effects within the interval (excess {fmt.points(r.estimate, 1)} points, {ci} "
                f"{fmt.number(r.low * 100, 1)} to {fmt.number(r.high * 100, 1)}).")
    return text


def logit_text(c, clustered: bool = False) -> str:
    """One sentence on the log-odds interaction (a :class:`Contrast` on that scale).

    ``clustered``: the bootstrap resampled whole parameter sets (posterior mode).
    """
    if c.low > 0:
        words = "super-additive on this scale too: the stressors compound"
    elif c.high < 0:
        words = "sub-additive on this scale: together they do less than their separate effects"
    else:
        words = "no interaction detected on this scale"
    return (f"On the log-odds scale, free of the ceiling at 100%, the excess over additivity is "
            f"{fmt.signed(c.estimate, 2)} (95% "
            f"{'bootstrap over parameter sets' if clustered else 'paired bootstrap'} CI "
            f"{fmt.signed(c.low, 2)} to "
            f"{fmt.signed(c.high, 2)}): {words}.")


def effects_html(risk: pd.DataFrame, rmst: pd.DataFrame, cells: pd.DataFrame, years: int,
                 verdict: str) -> Markup:
    """The HTML section of the interaction effects and cells (rendered, safe HTML)."""
    cell_rows = [[c.cell, fmt.percent_interval(c.closed_by, c.closed_low, c.closed_high),
                  fmt.months(c.rmst)] for c in cells.itertuples()]
    share = grouped(risk)

    def rows(effects, points):
        return [[r.effect, *_effect_cells(r, points)]
                + ([fmt.percent(r.parameter_share)] if share else [])
                for r in effects.itertuples()]

    return render_fragment(
        "interactions.html.j2", verdict=verdict, years=years, cells=cell_rows,
        interval=interval_name(risk), grouped=share,
        risk=rows(risk, True), rmst=rows(rmst, False))


def plot_cells(cells: pd.DataFrame, years: int, path: Path, name: str,
               interval: str = "95% CI") -> Path:
    """Closure risk per factorial cell, saved as PNG; returns the path."""
    fig, ax = subplots(figsize=(9, 0.45 * len(cells) + 1.5))
    y = np.arange(len(cells))[::-1]
    err = np.vstack([cells.closed_by - cells.closed_low, cells.closed_high - cells.closed_by])
    ax.barh(y, cells.closed_by, xerr=err, color=palette.VERMILLION, error_kw={"capsize": 2})
    ax.set_yticks(y, cells.cell, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"chance of closing within {years} years ({interval})")
    ax.set_title(f"{name}: stressors alone and together", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)
