"""A colour-blind-safe palette for every figure: the dashboard's and the reports' (issue 15).

The eight colours of Okabe and Ito (2008, "Color Universal Design"), chosen to stay distinct
for the common forms of colour-vision deficiency (protanopia, deuteranopia, tritanopia) and in
greyscale by lightness. Series are told apart by line style and marker too where a figure has
more than a few, so no figure relies on hue alone.

Import the named colours (``BLUE``, ``VERMILLION``...) or take them in order from
:data:`SERIES`; :data:`NEUTRAL` is for reference lines and marks that should not compete with
the data.
"""

from __future__ import annotations

BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
BLUISH_GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
REDDISH_PURPLE = "#CC79A7"
GREY = "#999999"  # not one of the eight: a neutral for reference lines and muted marks

OKABE_ITO: dict[str, str] = {
    "black": BLACK, "orange": ORANGE, "sky_blue": SKY_BLUE, "bluish_green": BLUISH_GREEN,
    "yellow": YELLOW, "blue": BLUE, "vermillion": VERMILLION, "reddish_purple": REDDISH_PURPLE,
}
# The order in which to give colours to series: the darkest, most distinct first; yellow
# (too light for thin lines on white) last.
SERIES: tuple[str, ...] = (BLUE, VERMILLION, BLUISH_GREEN, REDDISH_PURPLE, ORANGE, SKY_BLUE,
                           BLACK, YELLOW)
NEUTRAL = GREY

# Meanings used by more than one figure, so that "good" and "bad" look the same everywhere.
GOOD = BLUISH_GREEN      # what protects the service (reserve, buffers, a positive margin)
BAD = VERMILLION         # what threatens it (pressure, a negative margin, closure)
EVENT = REDDISH_PURPLE   # an event marked on a time axis


def series_colour(i: int) -> str:
    """The colour of the ``i``-th series (0-based), cycling through :data:`SERIES`."""
    return SERIES[i % len(SERIES)]


def use_in_matplotlib() -> None:
    """Make :data:`SERIES` matplotlib's default colour cycle (for lines given no colour)."""
    import matplotlib
    from cycler import cycler

    matplotlib.rcParams["axes.prop_cycle"] = cycler(color=list(SERIES))
