"""Figures without pyplot: matplotlib's object-oriented ``Figure`` on an Agg canvas.

No global state, no backend switch at import (``matplotlib.use`` is never called): every figure
is a :class:`matplotlib.figure.Figure` with its own ``FigureCanvasAgg``, so it needs no closing
and is safe in threads, in forked workers and next to an interactive session.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None,
             **kwargs):
    """A new figure and its axes, like ``pyplot.subplots`` but outside pyplot.

    Args:
        nrows: Rows of axes.
        ncols: Columns of axes.
        figsize: Width and height in inches (default: matplotlib's).
        **kwargs: Passed to :meth:`matplotlib.figure.Figure.subplots` (``sharex``,
            ``squeeze``, ...).

    Returns:
        ``(figure, axes)``.

    """
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kwargs)
