"""Writing results to disk: atomic files, tables and plots."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sim.simulate import RunResult


def _readable(path: str) -> None:
    """Give a temporary file the permissions a normal file would get (mkstemp makes it 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def atomic_write_text(path: Path, text: str) -> None:
    """Write text to ``path`` atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        _readable(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_save_figure(fig, path: Path) -> None:
    """Save a matplotlib figure as PNG atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        _readable(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    import matplotlib.pyplot as plt

    plt.close(fig)
    return [csv, txt, png]
