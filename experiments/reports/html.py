"""Shared pieces of the HTML reports and figures: short labels, saved and embedded PNGs.

Pages are rendered from the jinja2 templates in ``templates/`` (:mod:`experiments.reports.
templating`); nothing here builds HTML by hand.
"""

from __future__ import annotations

from pathlib import Path

from experiments.reports.templating import embed_png

__all__ = ["embed_png", "save_figure", "short_label"]


def short_label(label: str, n: int = 48) -> str:
    """A label cut to ``n`` characters (with an ellipsis)."""
    return label if len(label) <= n else label[:n - 1] + "…"


def save_figure(fig, path: Path) -> Path:
    """Save a figure as PNG atomically and return the path."""
    from experiments.files import atomic_save_figure

    return atomic_save_figure(fig, path)
