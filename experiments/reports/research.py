"""The report of the ``research`` command: which parameters research should measure next."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from experiments.reports import palette
from experiments.reports.templating import figure, provenance, render_page


def plot_shares(table: pd.DataFrame, title: str, top: int = 15):
    """Horizontal bars of the parameters' shares, largest at the top."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = table.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(rows) + 1.5))
    ax.barh(rows["label"], rows["share"].fillna(0.0), color=palette.BLUE)
    ax.set_xlabel("share of the forecast's parameter variance (first order, given data)")
    ax.set_xlim(0, max(0.05, float(rows["share"].fillna(0).max()) * 1.15))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def write_research_report(out: Path, name: str, lede: list[str], table: pd.DataFrame,
                          manifest: dict) -> Path:
    """Write ``report.html`` (self-contained) and return its path."""
    from experiments.files import atomic_write_text

    def cell(v):
        return "-" if not isinstance(v, float) or not math.isfinite(v) else f"{v:.2f}"

    rows = [[int(r["rank"]), r["label"], r["parameter"], r["group"], cell(r["share"]),
             cell(r.get("share_months", math.nan)), cell(r.get("delta", math.nan))]
            for _, r in table.iterrows()]
    page = render_page("research.html.j2", title=f"What research should measure next: {name}",
                       heading=f"What research should measure next: {name}",
                       provenance=provenance(manifest), lede=" ".join(lede), rows=rows,
                       fig=figure(out / "research.png", "shares of forecast variance"),
                       command=manifest.get("command", ""))
    path = out / "report.html"
    atomic_write_text(path, page)
    return path
