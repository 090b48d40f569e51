"""Calibration patterns of docs/ODD.md §1.2 and §10.

Measured on ensembles of the three sites and the neutral template.

A pattern passes when its point estimate lies in the target range; the 95% interval is reported
beside it so a reader can see how close to the edge it is. Proportions get Clopper-Pearson
intervals; medians get distribution-free order-statistic intervals.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

SITES = {
    "isolated_coastal": "scenarios/isolated_coastal.toml",
    "expanded_city": "scenarios/expanded_city.toml",
    "metro_city": "scenarios/metro_city.toml",
    "neutral": "scenarios/template.toml",
}
SURVIVAL_ORDER = ("metro_city", "expanded_city", "isolated_coastal")


@dataclass(frozen=True)
class Measure:
    """A measured value with its 95% interval and the number of runs behind it."""

    value: float
    low: float
    high: float
    n: int


def proportion(mask) -> Measure:
    """Share of True values with a Clopper-Pearson 95% interval."""
    mask = np.asarray(mask, dtype=bool)
    n, k = mask.size, int(mask.sum())
    if n == 0:
        return Measure(math.nan, math.nan, math.nan, 0)
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    return Measure(k / n, ci.low, ci.high, n)


def median(values) -> Measure:
    """Median (inf allowed for never) with an order-statistic 95% interval."""
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    if n == 0:
        return Measure(math.nan, math.nan, math.nan, 0)
    lo_i = max(int(stats.binom.ppf(0.025, n, 0.5)) - 1, 0)
    hi_i = min(int(stats.binom.ppf(0.975, n, 0.5)), n - 1)
    return Measure(float(np.median(x)), float(x[lo_i]), float(x[hi_i]), n)


def _closure_months(g: pd.DataFrame) -> np.ndarray:
    return g["closure_month"].fillna(math.inf).to_numpy(dtype=float)


@dataclass(frozen=True)
class Pattern:
    """One calibration pattern."""

    site: str
    name: str
    target: str
    lo: float
    hi: float
    measure: Callable[[pd.DataFrame], Measure]
    unit: str = "share"

    def check(self, runs: pd.DataFrame) -> tuple[Measure, bool]:
        """Measure the pattern on the site's runs and say whether it holds."""
        m = self.measure(runs[runs["variant"] == self.site])
        return m, bool(self.lo <= m.value <= self.hi)


def _grant_closures(g):
    closed = g[~g["survived"]]
    ok = closed["closure_cause"].isin(["viability_review", "budget_round"]) & (closed["closure_grant_share"] > 0)
    return proportion(ok)


def _post_review_closures(g):
    closed = g[~g["survived"]]
    ok = closed["closure_cause"].isin(["budget_round", "cut_proposal"]) & \
        closed["months_since_survived_review"].between(3, 18)
    return proportion(ok)


def _first_supervisor_median(g):
    # Kaplan-Meier median of the first supervisor's tenure, censored at closure or horizon.
    left = g["first_supervisor_left"].to_numpy(bool)
    t = g["first_supervisor_tenure"].to_numpy(float)
    data = stats.CensoredData(uncensored=t[left], right=t[~left])
    sf = stats.ecdf(data).sf
    months = np.arange(0, int(t.max()) + 2)
    s = sf.evaluate(months)
    below = np.nonzero(s <= 0.5)[0]
    value = float(months[below[0]]) if below.size else math.inf
    with warnings.catch_warnings():  # undefined where the curve is at 0 or 1: expected
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = sf.confidence_interval(0.95)
    lo_s, hi_s = ci.low.evaluate(months), ci.high.evaluate(months)
    lo = np.nonzero(lo_s <= 0.5)[0]
    hi = np.nonzero(hi_s <= 0.5)[0]
    return Measure(value, float(months[lo[0]]) if lo.size else math.inf,
                   float(months[hi[0]]) if hi.size else math.inf, len(t))


def _partnership_ratio(g, below: float | None = None, above: float | None = None):
    ok = g["partnership_36"].notna() & g["partnership_6"].notna()
    ratio = g.loc[ok, "partnership_36"] / g.loc[ok, "partnership_6"]
    return proportion(ratio < below) if below is not None else proportion(ratio >= above)


def _expansion_median(g):
    return median(g["first_expansion_month"].fillna(math.inf))


PATTERNS: tuple[Pattern, ...] = (
    Pattern("isolated_coastal", "P(closed by month 36)", ">= 0.70", 0.70, 1.0,
            lambda g: proportion(_closure_months(g) <= 36)),
    Pattern("isolated_coastal", "median closure month", "18-30", 18, 30,
            lambda g: median(_closure_months(g)), "months"),
    Pattern("isolated_coastal", "closures at a review or round while the grant pays", ">= 0.50",
            0.5, 1.0, _grant_closures),
    Pattern("expanded_city", "P(alive at month 24)", ">= 0.80", 0.8, 1.0,
            lambda g: proportion(_closure_months(g) > 24)),
    Pattern("expanded_city", "median closure month", "42-72", 42, 72,
            lambda g: median(_closure_months(g)), "months"),
    Pattern("expanded_city", "P(closed by month 84)", ">= 0.70", 0.7, 1.0,
            lambda g: proportion(_closure_months(g) <= 84)),
    Pattern("expanded_city", "closures at a round/cut 3-18 months after a survived review",
            ">= 0.50", 0.5, 1.0, _post_review_closures),
    Pattern("expanded_city", "first supervisor's median tenure", ">= 36", 36, math.inf,
            _first_supervisor_median, "months"),
    Pattern("expanded_city", "partnership at 36 below 60% of month 6", "> 0.50", 0.5000001, 1.0,
            lambda g: _partnership_ratio(g, below=0.6)),
    Pattern("metro_city", "P(alive at month 120)", "0.75-0.95", 0.75, 0.95,
            lambda g: proportion(g["survived"])),
    Pattern("metro_city", "median month of first expansion", "48-84", 48, 84,
            _expansion_median, "months"),
    Pattern("metro_city", "P(two or more teams by month 96)", ">= 0.50", 0.5, 1.0,
            lambda g: proportion(g["teams_96"] >= 2)),
    Pattern("metro_city", "survival to 120 when the supervisor leaves", ">= 0.70", 0.7, 1.0,
            lambda g: proportion(g.loc[g["supervisor_changes"] > 0, "survived"])),
    Pattern("metro_city", "partnership at 36 at least 80% of month 6", "> 0.50", 0.5000001, 1.0,
            lambda g: _partnership_ratio(g, above=0.8)),
    Pattern("neutral", "P(closed by month 72)", "0.20-0.50", 0.2, 0.5,
            lambda g: proportion(_closure_months(g) <= 72)),
)


def survival_ordering(runs: pd.DataFrame) -> tuple[bool, float]:
    """Check the ordering of the sites' survival.

    Whether the Kaplan-Meier curves are ordered Metro > Expanded > Coastal (P(alive) at every
    year) and the largest adjacent log-rank p-value.
    """
    def sample(site):
        g = runs[runs["variant"] == site]
        closed = ~g["survived"].to_numpy(bool)
        t = g["end_month"].to_numpy(float)
        return stats.CensoredData(uncensored=t[closed], right=t[~closed]), t
    ordered, pmax = True, 0.0
    for a, b in zip(SURVIVAL_ORDER, SURVIVAL_ORDER[1:], strict=False):
        (da, ta), (db, tb) = sample(a), sample(b)
        years = np.arange(12, 121, 12)
        sa = np.array([np.mean(ta > y) for y in years])
        sb = np.array([np.mean(tb > y) for y in years])
        ordered &= bool(np.all(sa >= sb) and np.any(sa > sb))
        # scipy: alternative="less" means the first sample has the lower hazard (survives longer).
        pmax = max(pmax, float(stats.logrank(da, db, alternative="less").pvalue))
    return ordered, pmax


def check_patterns(runs: pd.DataFrame) -> pd.DataFrame:
    """Evaluate every pattern; one row each with target, measured value, interval and pass/fail."""
    rows = []
    for pat in PATTERNS:
        m, ok = pat.check(runs)
        rows.append({"site": pat.site, "pattern": pat.name, "target": pat.target,
                     "value": m.value, "low": m.low, "high": m.high, "n": m.n,
                     "unit": pat.unit, "passed": ok})
    ordered, p = survival_ordering(runs)
    rows.append({"site": "all", "pattern": "survival ordered Metro > Expanded > Coastal, log-rank p",
                 "target": "ordered, p < 0.01", "value": p, "low": math.nan, "high": math.nan,
                 "n": len(runs), "unit": "p", "passed": ordered and p < 0.01})
    return pd.DataFrame(rows)


def loss(table: pd.DataFrame) -> float:
    """Distance of a pattern table from all targets (0 when all pass); used to calibrate."""
    total = 0.0
    for pat, row in zip(PATTERNS, table.itertuples(), strict=False):
        v = row.value
        scale = 24.0 if pat.unit == "months" else 0.2
        if math.isinf(v):
            v = 1e3
        gap = max(0.0, pat.lo - v) + (max(0.0, v - pat.hi) if math.isfinite(pat.hi) else 0.0)
        total += (gap / scale) ** 2 + (0 if row.passed else 0.3)
    last = table.iloc[-1]
    total += 0.0 if last.passed else 1.0
    return total


def format_table(table: pd.DataFrame) -> str:
    """A fixed-width text table of the pattern checks."""
    def fmt(v, unit):
        if isinstance(v, float) and math.isnan(v):
            return "-"
        if isinstance(v, float) and math.isinf(v):
            return "never"
        return f"{v:.0f}" if unit == "months" else (f"{v:.2g}" if unit == "p" else f"{v:.2f}")
    lines = [f"{'site':<17} {'pattern':<60} {'target':<18} {'measured':>8}  {'95% interval':<14} result"]
    for r in table.itertuples():
        interval = "" if isinstance(r.low, float) and math.isnan(r.low) else \
            f"{fmt(r.low, r.unit)}-{fmt(r.high, r.unit)}"
        lines.append(f"{r.site:<17} {r.pattern:<60} {r.target:<18} {fmt(r.value, r.unit):>8}  "
                     f"{interval:<14} {'pass' if r.passed else 'FAIL'}")
    return "\n".join(lines)
