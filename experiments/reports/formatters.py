"""Every number shown to a reader, in the HTML reports and in terminal text.

One function per kind of quantity, so that the same quantity reads the same everywhere:

* missing values (``None``, NaN, infinities) are ``n/a`` in every function;
* intervals are ``estimate (low to high)``; an interval with a missing bound is left out, the
  estimate stays;
* signed quantities (percentage points, differences in months, test statistics) carry a sign,
  except a value that rounds to zero, which is shown without one (``0``, never ``+0`` or
  ``-0``);
* a median lifetime that the survival curve does not reach is ``not reached (>N)`` with the
  horizon ``N``; an upper bound beyond the horizon is ``>N``;
* p-values have three decimals, and ``< 0.001`` below that.

The functions return plain text: the templates escape it (``>`` becomes ``&gt;``).
"""

from __future__ import annotations

import math

MISSING = "n/a"
"""What every formatter shows for a missing value."""

INTERVAL_SEP = " to "
"""Between the bounds of an interval (the terminal survival table uses ``-``)."""


def is_missing(x) -> bool:
    """Whether ``x`` is no number to show: None, NaN, an infinity or not numeric."""
    if x is None:
        return True
    try:
        return not math.isfinite(float(x))
    except (TypeError, ValueError):
        return True


def _unsigned_zero(text: str) -> str:
    """Drop the sign of a number that rounded to zero (``+0.0`` and ``-0.0`` become ``0.0``)."""
    return text[1:] if text[:1] in "+-" and not any(c in "123456789" for c in text) else text


# --- plain numbers ----------------------------------------------------------------------------


def number(x, digits: int = 2) -> str:
    """A number with ``digits`` decimals, e.g. ``0.42``."""
    return MISSING if is_missing(x) else f"{float(x):.{digits}f}"


def signed(x, digits: int = 1) -> str:
    """A signed number with ``digits`` decimals, e.g. ``+1.5`` or ``-0.3``; zero unsigned."""
    return MISSING if is_missing(x) else _unsigned_zero(f"{float(x):+.{digits}f}")


def interval(est, lo, hi, digits: int = 2, *, sign: bool = False, sep: str = INTERVAL_SEP) -> str:
    """An estimate with its interval, e.g. ``0.42 (0.30 to 0.55)``.

    Args:
        est: The estimate.
        lo: Lower bound.
        hi: Upper bound.
        digits: Decimals.
        sign: Show signs (as :func:`signed`).
        sep: Between the bounds.

    Returns:
        The text; only the estimate when a bound is missing, ``n/a`` when the estimate is.

    """
    f = signed if sign else number
    text = f(est, digits)
    if is_missing(est) or is_missing(lo) or is_missing(hi):
        return text
    return f"{text} ({f(lo, digits)}{sep}{f(hi, digits)})"


def count(x) -> str:
    """A count with thousands separators, e.g. ``1,234``."""
    return MISSING if is_missing(x) else f"{float(x):,.0f}"


# --- probabilities and percentages -----------------------------------------------------------


def probability(p, digits: int = 2) -> str:
    """A probability as a decimal, e.g. ``0.42``."""
    return number(p, digits)


def probability_interval(p, lo, hi, digits: int = 2, sep: str = INTERVAL_SEP) -> str:
    """A probability with its interval, e.g. ``0.42 (0.30 to 0.55)``."""
    return interval(p, lo, hi, digits, sep=sep)


def percent(p, digits: int = 0) -> str:
    """A probability or share as a percentage, e.g. ``42%`` for 0.42."""
    return MISSING if is_missing(p) else f"{float(p):.{digits}%}"


def percent_interval(p, lo, hi, digits: int = 0) -> str:
    """A probability with its interval as percentages, e.g. ``42% (30% to 55%)``."""
    if is_missing(p) or is_missing(lo) or is_missing(hi):
        return percent(p, digits)
    return f"{percent(p, digits)} ({percent(lo, digits)}{INTERVAL_SEP}{percent(hi, digits)})"


def share_count(share, n) -> str:
    """A share of runs with their number, e.g. ``25% (10)``."""
    return f"{percent(share)} ({count(n)})"


def points(diff, digits: int = 0) -> str:
    """A difference of probabilities as signed percentage points, e.g. ``+5`` for 0.05."""
    return MISSING if is_missing(diff) else signed(float(diff) * 100, digits)


def points_interval(diff, lo, hi, digits: int = 0) -> str:
    """A difference in points with its interval, e.g. ``+5 (-1 to +11)``."""
    if is_missing(diff) or is_missing(lo) or is_missing(hi):
        return points(diff, digits)
    return f"{points(diff, digits)} ({points(lo, digits)}{INTERVAL_SEP}{points(hi, digits)})"


# --- time -------------------------------------------------------------------------------------


def months(m, digits: int = 1) -> str:
    """A number of months, e.g. ``42.5``."""
    return number(m, digits)


def months_interval(m, lo, hi, digits: int = 1, *, sign: bool = False) -> str:
    """Months with an interval, e.g. ``42.5 (38.0 to 47.1)``; ``sign`` for differences."""
    return interval(m, lo, hi, digits, sign=sign)


def month(m) -> str:
    """A month number (a time point on the survival curve), e.g. ``37``."""
    return MISSING if is_missing(m) else f"{float(m):g}"


def not_reached(horizon) -> str:
    """The words for a median lifetime beyond the horizon: ``not reached (>N)``."""
    return f"not reached (>{int(horizon)})"


def median_months(med, horizon, lo=None, hi=None) -> str:
    """A median lifetime in months, with its interval when both ``lo`` and ``hi`` are given.

    Args:
        med: The median (NaN when the curve does not reach 50%).
        horizon: The simulated horizon in months.
        lo: Lower bound (NaN shown as ``?``), or None for no interval.
        hi: Upper bound (NaN shown as ``>horizon``), or None for no interval.

    Returns:
        E.g. ``37 (30 to 45)``, ``37 (30 to >120)`` or ``not reached (>120)``.

    """
    if is_missing(med):
        return not_reached(horizon)
    if lo is None and hi is None:
        return month(med)
    lo_s = "?" if is_missing(lo) else month(lo)
    hi_s = f">{int(horizon)}" if is_missing(hi) else month(hi)
    return f"{month(med)} ({lo_s}{INTERVAL_SEP}{hi_s})"


def median_short(med, horizon) -> str:
    """A median lifetime for a narrow column: ``37`` or ``>120`` (not reached)."""
    return f">{int(horizon)}" if is_missing(med) else month(med)


def years(m) -> str:
    """A time point in months as years in words, e.g. ``5 years`` for 60, ``1 year`` for 12."""
    return f"{m / 12:g} year" + ("" if m == 12 else "s")


def years_decimal(m) -> str:
    """Months as years with one decimal, e.g. ``3.1`` for 37."""
    return MISSING if is_missing(m) else f"{float(m) / 12:.1f}"


# --- money and tests ---------------------------------------------------------------------------


def money(x) -> str:
    """Pounds, compactly: ``£1.23m``, ``£450k`` or ``£950``; negative with a leading ``-``."""
    if is_missing(x):
        return MISSING
    sign = "-" if float(x) < 0 else ""
    x = abs(float(x))
    if x >= 1e6:
        return f"{sign}£{x / 1e6:.2f}m"
    if x >= 1e3:
        return f"{sign}£{x / 1e3:.0f}k"
    return f"{sign}£{x:.0f}"


def money_signed(x) -> str:
    """Pounds with a sign, as :func:`money`: ``+£1.23m``, ``-£450k``; zero unsigned."""
    if is_missing(x):
        return MISSING
    text = money(abs(float(x)))
    if text in ("£0", "£0k"):
        return text
    return ("+" if float(x) > 0 else "-") + text


def money_interval(x, lo, hi, *, sign: bool = False) -> str:
    """Pounds with an interval, e.g. ``+£1.20m (+£0.95m to +£1.45m)``; bounds left out if missing."""
    f = money_signed if sign else money
    text = f(x)
    if is_missing(x) or is_missing(lo) or is_missing(hi):
        return text
    return f"{text} ({f(lo)}{INTERVAL_SEP}{f(hi)})"


def p_value(p) -> str:
    """A p-value for a table cell: ``0.012`` or ``< 0.001``."""
    if is_missing(p):
        return MISSING
    return "< 0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def p_statement(p) -> str:
    """A p-value in a sentence: ``p = 0.012`` or ``p < 0.001``."""
    text = p_value(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"
