"""Writing one run's results to disk: its series, summary and plot (atomic files)."""

from __future__ import annotations

from pathlib import Path

from experiments.files import atomic_save_figure, atomic_write_text
from sim.simulate import RunResult


def write_single_run(result: RunResult, out: Path, summary: str) -> list[Path]:
    """Write one run's monthly series (CSV), summary (text) and main series (PNG).

    Args:
        result: The run.
        out: Output directory (created if needed).
        summary: The summary text printed to the terminal.

    Returns:
        The paths written.
    """
    from experiments.reports.plots import plot_single_run

    out.mkdir(parents=True, exist_ok=True)
    csv = out / "series.csv"
    atomic_write_text(csv, result.series.to_csv(index=False, float_format="%.6g"))
    txt = out / "summary.txt"
    atomic_write_text(txt, summary + "\n")
    png = out / "series.png"
    fig = plot_single_run(result)
    atomic_save_figure(fig, png)
    return [csv, txt, png]
