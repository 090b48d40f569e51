"""Calibration patterns of docs/ODD.md §1.2 and §10: outcomes and mechanisms.

Measured on ensembles of the three sites and the neutral template, plus Isolated Coastal with
each lever switched on alone (:data:`LEVER_SITE`; same seeds as the base site).

*Outcome* patterns (:data:`PATTERNS`) say what happened (when the sites closed, how they grew);
*mechanism* patterns (:data:`MECHANISM_PATTERNS`) say it happened for the thesis's reasons:
which cause groups of a closure's explanation (``cause_<group>`` columns, sim/explanation.py)
came first, the team's utilisation before randomisation, the shields at the supervisor's exit,
and that no single lever makes the failing site safe.

A pattern passes when its point estimate lies in the target range; the 95% interval is reported
beside it so a reader can see how close to the edge it is. Proportions get Clopper-Pearson
intervals; medians get distribution-free order-statistic intervals. A pattern whose run table
lacks a column it needs is not measured and fails (with a note saying so); one with too few
cases to judge is *not testable*: it passes with a note that says so.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from experiments.analysis.readiness import LEVER_OPTIONS
from sim.explanation import CAUSE_GROUPS

SITES = {
    "isolated_coastal": "scenarios/isolated_coastal.toml",
    "expanded_city": "scenarios/expanded_city.toml",
    "metro_city": "scenarios/metro_city.toml",
    "neutral": "scenarios/template.toml",
}
SURVIVAL_ORDER = ("metro_city", "expanded_city", "isolated_coastal")


@dataclass(frozen=True)
class Measure:
    """A measured value with its 95% interval and the number of runs behind it.

    Attributes:
        value: Point estimate (NaN when nothing could be measured).
        low: Lower end of the 95% interval.
        high: Upper end of the 95% interval.
        n: Runs or closures behind the estimate.
        note: Text printed under the pattern (details, or why it was not measured).
        testable: False when there are too few cases to judge; the pattern then passes and its
            note says so.
        cdf: For a median of months, the estimated ``P(T <= x)`` of the event time (None
            otherwise); the calibration distance tests a median's target through it.

    """

    value: float
    low: float
    high: float
    n: int
    note: str = ""
    testable: bool = True
    cdf: Callable[[float], float] | None = None


def _unmeasured(missing, n: int = 0) -> Measure:
    return Measure(math.nan, math.nan, math.nan, n,
                   note=f"not measured: the run table has no column {', '.join(missing)}")


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
    return Measure(float(np.median(x)), float(x[lo_i]), float(x[hi_i]), n,
                   cdf=lambda v: float(np.searchsorted(x, v, side="right")) / n)


def _closure_months(g: pd.DataFrame) -> np.ndarray:
    return g["closure_month"].fillna(math.inf).to_numpy(dtype=float)


def site_runs(runs: pd.DataFrame, site: str, with_levers: bool = False) -> pd.DataFrame:
    """The runs of one site's variant, and with ``with_levers`` those of its lever variants."""
    labels = runs["variant"].astype(str)
    mask = labels == site
    if with_levers:
        mask |= labels.str.startswith(site + " +")
    return runs[mask]


@dataclass(frozen=True)
class Pattern:
    """One calibration pattern.

    Attributes:
        site: The variant measured (a key of :data:`SITES`).
        name: What is measured, in plain words (at most 60 characters).
        target: The target range as text.
        lo: Lowest passing value.
        hi: Highest passing value.
        measure: Function of the site's runs returning a :class:`Measure`.
        unit: ``"share"``, ``"months"`` or ``"p"`` (how values print and scale in the loss).
        kind: ``"outcome"`` or ``"mechanism"``.
        with_levers: The measure also receives the site's lever variants (``"<site> +<lever>"``).

    """

    site: str
    name: str
    target: str
    lo: float
    hi: float
    measure: Callable[[pd.DataFrame], Measure]
    unit: str = "share"
    kind: str = "outcome"
    with_levers: bool = False

    def check(self, runs: pd.DataFrame) -> tuple[Measure, bool]:
        """Measure the pattern on the site's runs and say whether it holds.

        A measure that is not testable (too few cases) passes; its note says why.
        """
        m = self.measure(site_runs(runs, self.site, self.with_levers))
        if not m.testable:
            return m, True
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
                   float(months[hi[0]]) if hi.size else math.inf, len(t),
                   cdf=lambda v: 1.0 - float(sf.evaluate(np.array([v]))[0]))


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


# --- mechanism patterns (MODEL.md §9 "Patterns about mechanisms"; docs/ODD.md §1.2) -----------

CAUSE_COLUMNS: tuple[str, ...] = tuple(f"cause_{g}" for g in CAUSE_GROUPS)
"""Run-table columns of a closure's explanation, one per cause group."""

LEVER_SITE = "isolated_coastal"
"""The failing site whose lever variants the lever pattern measures."""

LEVER_SAFE = 0.8
"""P(alive at month 60) that would make a failing authority safe."""

MIN_CLOSURES = 5
"""Fewer closures than this make a pattern about a robust site's closures not testable."""


def lever_label(site: str, lever: str) -> str:
    """Variant label of ``site`` with one lever switched on (as in the validation ensemble)."""
    return f"{site} +{lever}"


def _missing(g: pd.DataFrame, columns) -> list[str]:
    return [c for c in columns if c not in g.columns]


def explained_closures(g: pd.DataFrame) -> pd.DataFrame:
    """The closed runs whose closure a decision explained (every ``cause_*`` value present).

    Raises:
        KeyError: If a ``cause_*`` column is missing.
    """
    closed = g[~g["survived"].astype(bool)]
    return closed[closed[list(CAUSE_COLUMNS)].notna().all(axis=1)]


def cause_ranks(closures: pd.DataFrame) -> pd.DataFrame:
    """Rank of each cause group in each closure (1 = largest contribution towards closure).

    Ties share the better rank. A group that did not push the margin down (contribution
    <= 0) is no cause of the closure and gets no rank (NaN), so "among the top k" means a
    positive contribution with fewer than k groups larger.

    Args:
        closures: Explained closures (:func:`explained_closures`).

    Returns:
        One row per closure, one column per group of ``CAUSE_GROUPS`` (named by the group).

    """
    values = closures[list(CAUSE_COLUMNS)].to_numpy(dtype=float)
    values = pd.DataFrame(values, index=closures.index, columns=list(CAUSE_GROUPS))
    ranks = values.rank(axis=1, ascending=False, method="min")
    return ranks.where(values > 0)


def _among_top(ranks: pd.DataFrame, groups, k: int) -> pd.Series:
    """Whether any of ``groups`` is among the top ``k`` causes of each closure."""
    return (ranks[list(groups)] <= k).any(axis=1)


def _any_in_top(groups, k: int):
    def measure(g):
        missing = _missing(g, CAUSE_COLUMNS)
        if missing:
            return _unmeasured(["cause_<group>"])
        return proportion(_among_top(cause_ranks(explained_closures(g)), groups, k))
    return measure


def _both_in_top(groups, k: int):
    def measure(g):
        if _missing(g, CAUSE_COLUMNS):
            return _unmeasured(["cause_<group>"])
        ranks = cause_ranks(explained_closures(g))
        return proportion(np.logical_and.reduce([ranks[x] <= k for x in groups]))
    return measure


def _utilisation_year2(g):
    if _missing(g, ["utilisation_year2"]):
        return _unmeasured(["utilisation_year2"])
    closed = g[~g["survived"].astype(bool)]
    u = closed["utilisation_year2"].dropna()  # NaN: closed before month 24, or always randomising
    m = proportion(u.to_numpy(float) >= 0.6)
    return Measure(m.value, m.low, m.high, m.n,
                   note=f"{m.n} of {len(closed)} closed runs ran through year 2 with months "
                        f"not randomising")


def _not_size_or_under_use(g):
    if _missing(g, CAUSE_COLUMNS):
        return _unmeasured(["cause_<group>"])
    closures = explained_closures(g)
    closed = int((~g["survived"].astype(bool)).sum())
    ranks = cause_ranks(closures)
    ok = ~((ranks["under_use"] == 1) | (ranks["service_cost"] == 1))
    m = proportion(ok)
    if m.n < MIN_CLOSURES:
        return Measure(m.value, m.low, m.high, m.n, testable=False,
                       note=f"not testable: {m.n} explained closure(s) of {len(g)} runs "
                            f"({closed} closed), fewer than {MIN_CLOSURES}; passes by default")
    return m


def _shields_at_supervisor_exit(g):
    cols = ["leadership_shield_at_supervisor_exit", "partnership_shield_at_supervisor_exit"]
    missing = _missing(g, cols)
    if missing:
        return _unmeasured(missing)
    left = g[g[cols].notna().any(axis=1)]  # NaN in both: the first supervisor never left
    up = (left[cols[0]] >= 0.5) | (left[cols[1]] >= 0.5)
    return proportion(up)


def lever_survival(g: pd.DataFrame, site: str = LEVER_SITE, month: int = 60) -> pd.DataFrame:
    """P(alive at ``month``) of a site and of each of its lever variants, with 95% intervals.

    Args:
        g: Runs of the site and its lever variants (labels ``lever_label(site, lever)``).
        site: The base variant.
        month: The month of survival.

    Returns:
        One row per variant (the site first, then its levers in the order of
        ``readiness.LEVER_OPTIONS``, other lever variants after them): ``variant``, ``lever``
        ("" for the site itself), ``value``, ``low``, ``high``, ``n``.

    """
    order = [site] + [lever_label(site, name) for name, _, _ in LEVER_OPTIONS]
    labels = list(dict.fromkeys(g["variant"].astype(str)))
    labels = [v for v in order if v in labels] + [v for v in labels if v not in order]
    rows = []
    for v in labels:
        m = proportion(_closure_months(g[g["variant"] == v]) > month)
        rows.append({"variant": v, "lever": v.removeprefix(site).removeprefix(" +"),
                     "value": m.value, "low": m.low, "high": m.high, "n": m.n})
    return pd.DataFrame(rows, columns=["variant", "lever", "value", "low", "high", "n"])


def _lever_effects(g):
    table = lever_survival(g)
    levers = table[table["lever"] != ""]
    if levers.empty:
        return Measure(math.nan, math.nan, math.nan, 0,
                       note=f"not measured: the ensemble has no lever variants "
                            f"({lever_label(LEVER_SITE, 'LEVER')})")
    best = levers.loc[levers["value"].idxmax()]
    lines = [f"P(alive at month 60), 95% interval; same seeds as {LEVER_SITE}:"]
    for r in table.itertuples():
        name = r.lever or f"{LEVER_SITE} as described"
        lines.append(f"{name:<30} {r.value:.2f}  {r.low:.2f}-{r.high:.2f}  (n {r.n})")
    return Measure(float(best["value"]), float(best["low"]), float(best["high"]),
                   int(best["n"]), note="\n".join(lines))


_SUPERVISOR = ("supervisor_departure", "system_leadership")
_SHIELDS = ("leadership_shield", "partnership_shield")

MECHANISM_PATTERNS: tuple[Pattern, ...] = (
    Pattern("isolated_coastal", "closures with supervisor exit/system leadership in top 2",
            "> 0.50", 0.5000001, 1.0, _any_in_top(_SUPERVISOR, 2), kind="mechanism"),
    Pattern("isolated_coastal", "closed runs with year-2 utilisation >= 0.6", "> 0.50",
            0.5000001, 1.0, _utilisation_year2, kind="mechanism"),
    Pattern("expanded_city", "closures with both shields among the top 3 causes", "> 0.50",
            0.5000001, 1.0, _both_in_top(_SHIELDS, 3), kind="mechanism"),
    Pattern("expanded_city", "closures with supervisor exit/system leadership in top 3",
            ">= 0.33", 1 / 3, 1.0, _any_in_top(_SUPERVISOR, 3), kind="mechanism"),
    Pattern("metro_city", "closures whose top cause is not under-use or service cost",
            "> 0.50", 0.5000001, 1.0, _not_size_or_under_use, kind="mechanism"),
    Pattern("metro_city", "supervisor exits with a shield >= 0.5 at the exit", "> 0.50",
            0.5000001, 1.0, _shields_at_supervisor_exit, kind="mechanism"),
    Pattern(LEVER_SITE, "highest P(alive at month 60) with one lever", "< 0.80", 0.0,
            LEVER_SAFE - 1e-9, _lever_effects, kind="mechanism", with_levers=True),
)
"""Patterns about mechanisms: the right outcome for the right reason (MODEL.md §9).

"Most" is more than half. Cause groups count among a closure's top k when their contribution
is positive and fewer than k groups contributed more (:func:`cause_ranks`).
"""

ALL_PATTERNS: tuple[Pattern, ...] = PATTERNS + MECHANISM_PATTERNS
"""Outcome then mechanism patterns, in the order of :func:`check_patterns` (survival ordering
apart)."""


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
        with np.errstate(invalid="ignore", divide="ignore"):
            p = float(stats.logrank(da, db, alternative="less").pvalue)
        # A test without variance (too few runs) is no evidence of an ordering: p = 1, not NaN,
        # which max() would have passed over as if it were p = 0.
        pmax = max(pmax, p if np.isfinite(p) else 1.0)
    return ordered, pmax


def _row(pat: Pattern, m: Measure, ok: bool) -> dict:
    # a median's target as shares: median >= lo iff P(T < lo) <= 1/2, <= hi iff P(T <= hi) >= 1/2
    below_lo = m.cdf(pat.lo - 1e-9) if m.cdf is not None else math.nan
    below_hi = m.cdf(pat.hi) if m.cdf is not None and math.isfinite(pat.hi) else math.nan
    return {"kind": pat.kind, "site": pat.site, "pattern": pat.name, "target": pat.target,
            "value": m.value, "low": m.low, "high": m.high, "n": m.n, "unit": pat.unit,
            "passed": ok, "testable": m.testable, "note": m.note, "share_below_lo": below_lo,
            "share_to_hi": below_hi}


def check_patterns(runs: pd.DataFrame) -> pd.DataFrame:
    """Evaluate every outcome and mechanism pattern.

    Returns:
        One row per pattern, outcome patterns first (the survival ordering last among them),
        then the mechanism patterns: ``kind`` ("outcome" / "mechanism"), ``site``,
        ``pattern``, ``target``, measured ``value``, 95% interval ``low``-``high``, ``n``,
        ``unit``, ``passed``, ``testable`` and ``note``.

    """
    rows = [_row(pat, *pat.check(runs)) for pat in PATTERNS]
    ordered, p = survival_ordering(runs)
    rows.append({"kind": "outcome", "site": "all",
                 "pattern": ORDERING_PATTERN,
                 "target": "ordered, p < 0.01", "value": p, "low": math.nan, "high": math.nan,
                 "n": len(runs), "unit": "p", "passed": ordered and p < 0.01, "testable": True,
                 "note": "", "share_below_lo": math.nan, "share_to_hi": math.nan})
    rows += [_row(pat, *pat.check(runs)) for pat in MECHANISM_PATTERNS]
    return pd.DataFrame(rows)


def loss(table: pd.DataFrame) -> float:
    """Distance of a pattern table from all targets (0 when all pass); used to calibrate.

    Outcome and mechanism patterns count alike: the squared distance of the point estimate from
    the target range (scaled by 24 months or 0.2 in probability) plus 0.3 for a failing pattern;
    1 for a wrong survival ordering. A pattern not measured (NaN) adds only its 0.3; a pattern
    not testable adds nothing.
    """
    by_key = {(pat.kind, pat.site, pat.name): pat for pat in ALL_PATTERNS}
    total = 0.0
    for row in table.itertuples():
        if row.site == "all":  # the survival ordering
            total += 0.0 if row.passed else 1.0
            continue
        pat = by_key[(row.kind, row.site, row.pattern)]
        v = row.value
        scale = 24.0 if pat.unit == "months" else 0.2
        if math.isinf(v):
            v = 1e3
        gap = 0.0
        if not math.isnan(v):
            gap = max(0.0, pat.lo - v) + (max(0.0, v - pat.hi) if math.isfinite(pat.hi) else 0.0)
        total += (gap / scale) ** 2 + (0 if row.passed else 0.3)
    return total


BLOCK_TITLES = {"outcome": "Outcome patterns", "mechanism": "Mechanism patterns"}


def format_value(v, unit: str) -> str:
    """A pattern's value as the tables print it.

    ``-`` (not measured), ``never`` (infinite), whole months, two significant digits for a
    p-value, two decimals otherwise.
    """
    if isinstance(v, float) and math.isnan(v):
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "never"
    return f"{v:.0f}" if unit == "months" else (f"{v:.2g}" if unit == "p" else f"{v:.2f}")


def format_table(table: pd.DataFrame) -> str:
    """Fixed-width text tables of the pattern checks: one titled block per kind.

    A pattern's note (details, or why it was not measured or is not testable) is printed under
    its row, indented.
    """
    fmt = format_value
    header = (f"{'site':<17} {'pattern':<60} {'target':<18} {'measured':>8}  "
              f"{'95% interval':<14} result")
    blocks = []
    kinds = table["kind"] if "kind" in table.columns else pd.Series("outcome", index=table.index)
    for kind, title in BLOCK_TITLES.items():
        rows = table[kinds == kind]
        if rows.empty:
            continue
        lines = [title, header]
        for r in rows.itertuples():
            interval = "" if isinstance(r.low, float) and math.isnan(r.low) else \
                f"{fmt(r.low, r.unit)}-{fmt(r.high, r.unit)}"
            result = "pass" if r.passed else "FAIL"
            if not getattr(r, "testable", True):
                result = "pass (not testable)"
            lines.append(f"{r.site:<17} {r.pattern:<60} {r.target:<18} "
                         f"{fmt(r.value, r.unit):>8}  {interval:<14} {result}")
            note = getattr(r, "note", "")
            if isinstance(note, str) and note:
                lines += [" " * 19 + line for line in note.splitlines()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def summary_line(table: pd.DataFrame) -> str:
    """One line counting the patterns that hold, by kind.

    For example ``15/16 outcome, 5/7 mechanism patterns hold.``, with ``All patterns hold:``
    in front when every one does, and a count of the patterns not testable.
    """
    parts = []
    for kind in BLOCK_TITLES:
        rows = table[table["kind"] == kind]
        if not rows.empty:
            parts.append(f"{int(rows['passed'].sum())}/{len(rows)} {kind}")
    untestable = int((~table["testable"].astype(bool)).sum()) if "testable" in table else 0
    extra = f" ({untestable} not testable, counted as holding)" if untestable else ""
    verdict = "All patterns hold: " if bool(table["passed"].all()) else ""
    return f"{verdict}{', '.join(parts)} patterns hold{extra}."


# --- the ABC distance: each pattern's gap from its target in Monte Carlo standard errors ----------

MONTHS_CAP = 132.0
"""Where "never" (a median of runs that mostly did not close or expand) is put for the distance:
a year past the sites' 120-month horizon, so a miss by "never" is large but finite."""

PROPORTION_FLOOR = 0.05 * 0.95
"""Least ``p(1 - p)`` in a proportion's binomial standard error (a target edge at 0 or 1 would
otherwise make a miss by one run infinitely many errors)."""

MEDIAN_SPREAD = 6.0
"""Floor of a median's standard error, ``MEDIAN_SPREAD / sqrt(n)`` months: the error of a median
of a closure-month distribution no denser than one twelfth per month, ``1 / (2 f sqrt(n))``.
Medians of monthly events can otherwise have an order-statistic interval of zero width."""

ORDERING_Z = float(stats.norm.isf(0.01))
"""The survival ordering's target as a normal score: log-rank p < 0.01 is z > 2.33 (SE 1)."""

NOT_MEASURED_Z = 3.0
"""Gap (in standard errors) charged for a pattern that could not be measured (no cases)."""


def pattern_key(site: str, pattern: str) -> str:
    """The name of a pattern in distances and target tables: ``"site: pattern"``."""
    return f"{site}: {pattern}"


ORDERING_PATTERN = "survival ordered Metro > Expanded > Coastal, log-rank p"
"""The survival ordering's row in :func:`check_patterns` (site ``"all"``)."""


def pattern_keys() -> list[str]:
    """Every pattern's key, in the row order of :func:`check_patterns`."""
    return ([pattern_key(p.site, p.name) for p in PATTERNS] + [pattern_key("all", ORDERING_PATTERN)]
            + [pattern_key(p.site, p.name) for p in MECHANISM_PATTERNS])


def ordering_score(p: float, ordered: bool) -> float:
    """The survival ordering as a normal score: ``isf(p)`` if ordered, at most 0 if not."""
    z = float(stats.norm.isf(min(max(p, 1e-300), 1.0))) if math.isfinite(p) else 0.0
    return z if ordered else min(z, 0.0)


def pattern_errors(table: pd.DataFrame, targets: dict | None = None,
                   median_shares: bool = True) -> pd.DataFrame:
    """Each pattern's measured value, target range, Monte Carlo standard error and scaled gap.

    The standard error is the one of the measured value at the replicate count of the table:
    for a proportion the binomial ``sqrt(p(1-p)/n)`` at the nearest target edge (the truth a
    pass would need; ``p(1-p)`` at least :data:`PROPORTION_FLOOR`); for a median (months) with
    its shares (``share_below_lo``, ``share_to_hi``: the run table's event times) a sign test,
    the share of event times before the target's low end above 1/2 or the share by its high
    end below 1/2, in binomial errors ``sqrt(1/4n)`` (the order statistics' own test, bounded
    by ``sqrt(n)`` when most runs never see the event); without them (or against replaced
    targets) the width of its 95% order-statistic interval over 3.92, at least
    ``MEDIAN_SPREAD / sqrt(n)`` ("never" counts as :data:`MONTHS_CAP`), with the gap in
    months; for the survival ordering the log-rank normal score
    (:func:`ordering_score`), whose error is 1. The gap is the distance of the value from the
    target range in those errors (0 inside); a pattern not testable gets 0, one not measured
    :data:`NOT_MEASURED_Z`.

    Args:
        table: A table of :func:`check_patterns`.
        targets: Target ranges replacing the patterns' own, by :func:`pattern_key` (e.g. the
            synthetic truth's); ``(lo, hi)`` on the value's scale (a normal score for the
            ordering).
        median_shares: Test medians by the sign test when the table has their shares (False:
            always in months, from the order-statistic interval).

    Returns:
        One row per pattern: ``key``, ``site``, ``kind``, ``value`` (on the distance's scale),
        ``lo``, ``hi``, ``se``, ``z`` (the scaled gap), ``n`` and ``unit``.

    """
    by_key = {(pat.site, pat.name): pat for pat in ALL_PATTERNS}
    targets = targets or {}
    rows = []
    for r in table.itertuples():
        key = pattern_key(r.site, r.pattern)
        n = max(int(r.n), 0)
        if r.site == "all":
            # p < 0.01 without a pass means the curves are not ordered at every year
            v = ordering_score(float(r.value), bool(r.passed) or not float(r.value) < 0.01)
            lo, hi = targets.get(key, (ORDERING_Z, math.inf))
            se = 1.0
        else:
            pat = by_key[(r.site, r.pattern)]
            lo, hi = targets.get(key, (pat.lo, pat.hi))
            v = float(r.value)
            below_lo = float(getattr(r, "share_below_lo", math.nan))
            to_hi = float(getattr(r, "share_to_hi", math.nan))
            if median_shares and pat.unit == "months" and key not in targets and n > 0 \
                    and not (math.isnan(below_lo) and math.isnan(to_hi)):
                # sign test of the median: the shares of event times beyond each end of the
                # target against 1/2, in binomial errors at 1/2 (bounded, unlike months when
                # most runs never see the event)
                v = min(v, MONTHS_CAP)
                se = math.sqrt(0.25 / n)
                gap = max(0.0, below_lo - 0.5) if not math.isnan(below_lo) else 0.0
                gap += max(0.0, 0.5 - to_hi) if not math.isnan(to_hi) else 0.0
                z = gap / se if getattr(r, "testable", True) else 0.0
                rows.append({"key": key, "site": r.site, "kind": r.kind, "value": v, "lo": lo,
                             "hi": hi, "se": se, "z": z, "n": n, "unit": r.unit})
                continue
            if pat.unit == "months":
                v = min(v, MONTHS_CAP)
                width = min(float(r.high), MONTHS_CAP) - min(float(r.low), MONTHS_CAP)
                se = max(width / 3.92 if math.isfinite(width) else 0.0,
                         MEDIAN_SPREAD / math.sqrt(max(n, 1)))
            else:
                edge = lo if v < lo else (hi if v > hi else min(max(v, lo), hi))
                edge = min(max(edge, 0.0), 1.0)
                se = math.sqrt(max(edge * (1 - edge), PROPORTION_FLOOR) / max(n, 1))
        if not getattr(r, "testable", True):
            z = 0.0
        elif math.isnan(v):
            z = NOT_MEASURED_Z
        else:
            z = (max(0.0, lo - v) + (max(0.0, v - hi) if math.isfinite(hi) else 0.0)) / se
        rows.append({"key": key, "site": r.site, "kind": r.kind, "value": v, "lo": lo,
                     "hi": hi, "se": se, "z": z, "n": n, "unit": r.unit})
    return pd.DataFrame(rows, columns=["key", "site", "kind", "value", "lo", "hi", "se", "z",
                                       "n", "unit"])


def pattern_distance(table: pd.DataFrame, targets: dict | None = None,
                     leave_out: tuple[str, ...] = ()) -> float:
    """The ABC distance: root sum of squares of the patterns' scaled gaps (:func:`pattern_errors`).

    0 when every pattern lies in its target range; a pattern missed by less than its Monte Carlo
    error adds less than 1 to the sum of squares, so a parameter set is not rejected for a miss
    that chance alone explains.

    Args:
        table: A table of :func:`check_patterns`.
        targets: Replacement target ranges (see :func:`pattern_errors`).
        leave_out: Sites whose patterns are left out (a held-out site); the survival ordering,
            which involves every site, is left out with any of them.

    Returns:
        The distance (0 or more).

    """
    errors = pattern_errors(table, targets)
    if leave_out:
        errors = errors[~errors["site"].isin(set(leave_out) | {"all"})]
    return float(np.sqrt(np.sum(np.square(errors["z"].to_numpy(float)))))


def synthetic_targets(table: pd.DataFrame, width: float = 2.0) -> dict:
    """Target ranges centred on simulated patterns: value +- ``width`` Monte Carlo errors.

    For a synthetic-truth check: the patterns simulated from one known parameter set become the
    targets (proportions clipped to 0-1).

    Args:
        table: A table of :func:`check_patterns` from the truth's runs.
        width: Half-width of each range in standard errors.

    Returns:
        Targets by :func:`pattern_key`, for :func:`pattern_distance`.

    """
    out = {}
    for r in pattern_errors(table, median_shares=False).itertuples():
        if math.isnan(r.value):
            continue
        if r.unit == "share":  # the binomial error at the truth's value, not at a target edge
            se = math.sqrt(max(r.value * (1 - r.value), PROPORTION_FLOOR) / max(r.n, 1))
            lo, hi = max(r.value - width * se, 0.0), min(r.value + width * se, 1.0)
        else:  # months (error from the truth's own interval) or the ordering's score (1)
            lo, hi = r.value - width * r.se, r.value + width * r.se
        out[r.key] = (float(lo), float(hi))
    return out


def screen_parameters(values: pd.DataFrame, distances, z: float = 2.5) -> pd.DataFrame:
    """Which parameters the distance depends on, from a sample of the prior (a screening stage).

    For each parameter, Spearman's rank correlation of the distance with the value (a monotone
    effect) and with the value's distance from its sample median (an optimum inside the range).
    A parameter is *fitted* when either exceeds ``z / sqrt(n - 1)`` in absolute value (about the
    ``z``-sigma band of a correlation under no effect); the others are drawn from their prior in
    every particle.

    Args:
        values: One row per prior draw, one column per parameter.
        distances: The draws' distances.
        z: Threshold in null standard errors.

    Returns:
        One row per parameter, strongest first: ``parameter``, ``rho`` (monotone), ``rho_centre``
        (inside optimum), ``score`` (the larger absolute value), ``fitted``.

    """
    d = np.asarray(distances, dtype=float)
    finite = np.isfinite(d)
    d = d[finite]
    x = values[finite]
    n = len(d)
    cut = z / math.sqrt(max(n - 1, 1))
    rows = []
    for name in x.columns:
        col = x[name].to_numpy(float)
        if n < 3 or np.ptp(col) == 0 or np.ptp(d) == 0:
            rho = rho_c = 0.0
        else:
            rho = float(stats.spearmanr(col, d).statistic)
            rho_c = float(stats.spearmanr(np.abs(col - np.median(col)), d).statistic)
        rho, rho_c = (0.0 if math.isnan(rho) else rho), (0.0 if math.isnan(rho_c) else rho_c)
        score = max(abs(rho), abs(rho_c))
        rows.append({"parameter": name, "rho": rho, "rho_centre": rho_c, "score": score,
                     "fitted": bool(score > cut)})
    out = pd.DataFrame(rows, columns=["parameter", "rho", "rho_centre", "score", "fitted"])
    return out.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


def truth_quantiles(names, values, weights, truth: dict) -> pd.DataFrame:
    """Where a known parameter set falls in a weighted sample, parameter by parameter.

    Args:
        names: The sample's parameters (columns of ``values``).
        values: ``n x len(names)`` values.
        weights: ``n`` weights.
        truth: The true value of each parameter.

    Returns:
        One row per parameter: ``parameter``, ``truth``, ``quantile`` (the weighted share of the
        sample below the truth; near 0 or 1 means the posterior missed it), ``q05``, ``q95``,
        ``inside_90`` (the truth within the central 90%).

    """
    values = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    rows = []
    for j, name in enumerate(names):
        col = values[:, j]
        t = float(truth[name])
        q = float(np.sum(w[col < t]) + 0.5 * np.sum(w[col == t]))
        order = np.argsort(col)
        cdf = np.cumsum(w[order])
        q05 = float(col[order][np.searchsorted(cdf, 0.05)])
        q95 = float(col[order][min(np.searchsorted(cdf, 0.95), len(col) - 1)])
        rows.append({"parameter": name, "truth": t, "quantile": q, "q05": q05, "q95": q95,
                     "inside_90": bool(q05 <= t <= q95)})
    return pd.DataFrame(rows, columns=["parameter", "truth", "quantile", "q05", "q95",
                                       "inside_90"])
