"""Stressor interactions for people: effect tables, the verdict, the cell figure, HTML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from experiments.reports.figures import subplots
from experiments.reports.html import escape, html_table, save_figure


def _pct(x: float) -> str:
    if not np.isfinite(x):
        return "n/a"
    text = f"{x * 100:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def format_effects(effects: pd.DataFrame, what: str, points: bool = True) -> str:
    """Fixed-width text of an effects table (percentage points or months)."""
    lines = [f"{'effect on ' + what:<66} {'estimate':>9} {'95% CI':>19} {'p':>7}"]
    for r in effects.itertuples():
        if points:
            est, ci = _pct(r.estimate), f"{_pct(r.low)} to {_pct(r.high)}"
        else:
            est, ci = f"{r.estimate:+.1f}", f"{r.low:+.1f} to {r.high:+.1f}"
        p = "" if not np.isfinite(r.p) else ("<0.001" if r.p < 0.001 else f"{r.p:.3f}")
        lines.append(f"{r.effect:<66} {est:>9} {ci:>19} {p:>7}")
    return "\n".join(lines)


def verdict_text(effects: pd.DataFrame, together_risk: float) -> str:
    """One sentence: do the stressors interact, and how?"""
    ex = effects[effects.kind == "excess"]
    if ex.empty:
        return ""
    r = ex.iloc[0]
    if r.low > 0:
        text = (f"The stressors interact: together they raise the risk of closure by "
                f"{r.estimate * 100:.1f} points MORE than the sum of their separate effects "
                f"(95% CI {r.low * 100:.1f} to {r.high * 100:.1f}): synergy.")
    elif r.high < 0:
        text = (f"The stressors interact negatively: together they add "
                f"{-r.estimate * 100:.1f} points LESS than the sum of their separate effects "
                f"(95% CI {-r.high * 100:.1f} to {-r.low * 100:.1f}).")
        if together_risk > 0.9:
            text += (" With the joint risk above 90% this mostly reflects saturation (a risk "
                     "cannot exceed 100%), not protection.")
    else:
        text = (f"No interaction detected: the joint effect equals the sum of the separate "
                f"effects within the interval (excess {r.estimate * 100:+.1f} points, 95% CI "
                f"{r.low * 100:.1f} to {r.high * 100:.1f}).")
    return text


def effects_html(risk: pd.DataFrame, rmst: pd.DataFrame, cells: pd.DataFrame, years: int,
                  verdict: str) -> str:
    """The HTML section of the interaction effects and cells."""

    def rows(t, points):
        out = []
        for r in t.itertuples():
            f = (lambda x: _pct(x)) if points else (lambda x: f"{x:+.1f}")
            p = "" if not np.isfinite(r.p) else ("<0.001" if r.p < 0.001 else f"{r.p:.3f}")
            out.append([escape(r.effect), f(r.estimate), f"{f(r.low)} to {f(r.high)}", p])
        return out

    cell_rows = [[escape(c.cell), f"{c.closed_by:.0%} ({c.closed_low:.0%} to {c.closed_high:.0%})",
                  f"{c.rmst:.1f}"] for c in cells.itertuples()]
    return (f"<p><strong>{escape(verdict)}</strong></p>"
            f"<h3>Each combination of stressors</h3>"
            + html_table(["stressors present", f"closed within {years} years (95% CI)",
                          "average months running"], cell_rows)
            + f"<h3>Effects on the chance of closing within {years} years (points)</h3>"
            + html_table(["effect", "estimate", "95% CI", "p"], rows(risk, True))
            + "<h3>Effects on the average months running</h3>"
            + html_table(["effect", "estimate", "95% CI", "p"], rows(rmst, False))
            + "<p>Intervals are paired over replicates (common random numbers). The "
              "interaction is on the additive scale: a positive excess means the stressors "
              "do more harm together than the sum of their separate effects.</p>")


def plot_cells(cells: pd.DataFrame, years: int, path: Path, name: str) -> Path:
    """Closure risk per factorial cell, saved as PNG; returns the path."""
    fig, ax = subplots(figsize=(9, 0.45 * len(cells) + 1.5))
    y = np.arange(len(cells))[::-1]
    err = np.vstack([cells.closed_by - cells.closed_low, cells.closed_high - cells.closed_by])
    ax.barh(y, cells.closed_by, xerr=err, color="#c0504d", error_kw={"capsize": 2})
    ax.set_yticks(y, cells.cell, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"chance of closing within {years} years (95% CI)")
    ax.set_title(f"{name}: stressors alone and together", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)
