"""Survival analysis of an ensemble: how long the MST service lasts, and why it closes.

The unit of analysis is one run (one simulated service). Its *survival time* is the closure
month if it closed, otherwise it is right-censored at ``end_month`` (the horizon). Everything
here takes the ensemble's ``runs`` DataFrame (one row per run, with columns ``variant``,
``scenario``, ``replicate``, ``survived``, ``closure_month``, ``closure_cause`` and
``end_month``) and works per ``variant``.

Conventions:
    * "Alive at month t" means *not closed by the end of month t*: ``S(t) = P(T > t)``. A
      service that closes in month 24 is not alive at 24 months. This is the right-continuous
      Kaplan-Meier convention used by :func:`scipy.stats.ecdf`.
    * A run censored at month ``c`` (it survived to the horizon) is at risk at ``c``, so a
      closure and a censoring in the same month count the closure first.
    * All intervals are 95% and reflect *seed variation only* (Monte Carlo uncertainty of a
      stochastic model with fixed parameters), never parameter uncertainty.

Methods (scipy wherever scipy has it):
    * Kaplan-Meier estimate and pointwise band: :func:`scipy.stats.ecdf` on
      :class:`scipy.stats.CensoredData`, band from ``res.sf.confidence_interval`` (Greenwood
      variance, ``log-log`` transform by default so the band stays inside [0, 1]).
    * P(alive at t) in :func:`survival_table`: the Kaplan-Meier estimate and band. Where the
      band collapses to a point because the estimate is exactly 0 or 1 (Greenwood's variance is
      then zero) and no run is censored before t, the estimate is a plain binomial proportion
      and the exact Clopper-Pearson interval (:meth:`scipy.stats.binomtest.proportion_ci`) is
      reported instead, so that "100% of 50 runs survived" does not claim certainty.
    * Restricted mean survival time (RMST, mean months the service runs, counted up to the
      horizon): area under the Kaplan-Meier curve, with a 95% interval from the
      **Greenwood-type analytic variance** (Klein & Moeschberger 2003, eq. 4.5.1):
      ``Var = sum_j A_j**2 * d_j / (n_j * (n_j - d_j))`` where ``A_j`` is the area under the
      curve from the j-th closure time to the horizon. It is deterministic (no resampling).
    * Log-rank tests: :func:`scipy.stats.logrank`.
    * Paired (common random numbers) differences: paired-proportion (discordant pairs) Wald
      interval and exact McNemar test (:func:`scipy.stats.binomtest`) for P(alive); a paired
      bootstrap (:func:`scipy.stats.bootstrap`, ``paired=True``, fixed seed) for RMST.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from experiments.analysis.uncertainty import nested_spread

CAUSES = ("budget_round", "viability_review", "cut_proposal", "in_year_cut", "staffing_collapse",
          "licence", "co_funder_withdrawal")

CAUSE_LABELS = {
    "budget_round": "Cut at the April budget round",
    "viability_review": "Viability review after the supervisor left",
    "cut_proposal": "Senior leader's cut proposal",
    "in_year_cut": "In-year budget cut (scripted)",
    "staffing_collapse": "Staffing collapse",
    "licence": "Licence withdrawn (failed implementation reviews)",
    "co_funder_withdrawal": "Co-funding partner withdrew",
}

Z95 = float(stats.norm.ppf(0.975))
BOOTSTRAP_SEED = 20240501


def cause_label(cause: str) -> str:
    """Return a readable label for a closure cause code (unknown codes are de-snake-cased)."""
    return CAUSE_LABELS.get(cause, cause.replace("_", " ").capitalize())


# ---------------------------------------------------------------------------------------------
# Preparing the data
# ---------------------------------------------------------------------------------------------


def _check_runs(runs: pd.DataFrame) -> None:
    missing = {"variant", "end_month"} - set(runs.columns)
    if missing:
        raise ValueError(f"runs is missing column(s): {sorted(missing)}")
    if "survived" not in runs.columns and "closure_month" not in runs.columns:
        raise ValueError("runs needs a 'survived' or a 'closure_month' column")


def _time_event(runs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Survival time and closure indicator per run.

    A run is closed if ``survived`` is False (or, without that column, if ``closure_month`` is
    not NaN). Its time is ``closure_month`` when known, else ``end_month``; survivors (whose
    ``closure_month`` is NaN) are censored at ``end_month``.
    """
    end = pd.to_numeric(runs["end_month"], errors="coerce").to_numpy(float)
    closure = (pd.to_numeric(runs["closure_month"], errors="coerce").to_numpy(float)
               if "closure_month" in runs.columns else np.full(len(runs), np.nan))
    if "survived" in runs.columns:
        event = ~runs["survived"].astype(bool).to_numpy()
    else:
        event = ~np.isnan(closure)
    time = np.where(event & ~np.isnan(closure), closure, end)
    if np.isnan(time).any():
        raise ValueError("some runs have neither a closure month nor an end month")
    return time, event


def _variants(runs: pd.DataFrame) -> list[str]:
    return list(pd.unique(runs["variant"]))


def _horizon(runs: pd.DataFrame, horizon: int | None) -> int:
    if horizon is not None:
        return int(horizon)
    return int(math.ceil(float(pd.to_numeric(runs["end_month"]).max())))


Horizons = int | Mapping[str, int] | None
"""A horizon argument: one for every variant, one per variant label, or None (inferred)."""


def variant_horizons(runs: pd.DataFrame, horizon: Horizons = None) -> dict[str, int]:
    """The follow-up horizon of each variant, in months.

    An ensemble may mix scenarios of different ``run.horizon_months``; each variant is then
    read up to its own horizon (its median "not reached (>60)", its RMST over 60 months, no
    survival probability beyond month 60).

    Args:
        runs: The ensemble's runs.
        horizon: An int for every variant; a mapping ``{variant: months}`` (variants missing
            from it are inferred); or None to infer them all. Inferred: the largest
            ``end_month`` of the variant's surviving runs' (they are censored at the horizon),
            or, for a variant where every run closed (whose horizon the runs cannot tell), the
            largest ``end_month`` of the whole ensemble.

    Returns:
        ``{variant: months}`` in order of first appearance in ``runs``.

    """
    if horizon is not None and not isinstance(horizon, Mapping):
        return {v: int(horizon) for v in _variants(runs)}
    given = dict(horizon or {})
    overall = _horizon(runs, None)
    out = {}
    for v in _variants(runs):
        if v in given:
            out[v] = int(given[v])
            continue
        time, event = _time_event(_subset(runs, v))
        out[v] = int(math.ceil(float(time[~event].max()))) if (~event).any() else overall
    return out


def _censored(time: np.ndarray, event: np.ndarray) -> stats.CensoredData:
    return stats.CensoredData(uncensored=time[event], right=time[~event])


def _subset(runs: pd.DataFrame, variant: str) -> pd.DataFrame:
    sub = runs[runs["variant"] == variant]
    if sub.empty:
        raise ValueError(f"no runs for variant {variant!r}; have {_variants(runs)}")
    return sub


# ---------------------------------------------------------------------------------------------
# Kaplan-Meier
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KM:
    """Kaplan-Meier survival curve of one variant, as a step function on whole months.

    Attributes:
        variant: The variant label.
        months: Months ``0..horizon``.
        sf: Estimated P(alive at the end of each month), ``S(t) = P(T > t)``; NaN beyond the
            variant's last follow-up if that follow-up was censored.
        low: Lower limit of the pointwise 95% band (0 where the estimate is 0).
        high: Upper limit of the pointwise 95% band.
        n: Number of runs.
        closed: Number of runs that closed.
        horizon: Last month evaluated.
        time: Survival time per run (closure month, or censoring month for survivors).
        event: Whether each run closed.
        result: The :func:`scipy.stats.ecdf` result.
        method: Transform of the band (``"log-log"`` or ``"linear"``).

    """

    variant: str
    months: np.ndarray = field(repr=False)
    sf: np.ndarray = field(repr=False)
    low: np.ndarray = field(repr=False)
    high: np.ndarray = field(repr=False)
    n: int = 0
    closed: int = 0
    horizon: int = 0
    time: np.ndarray = field(default=None, repr=False)
    event: np.ndarray = field(default=None, repr=False)
    result: object = field(default=None, repr=False)
    method: str = "log-log"

    def at(self, month: float) -> tuple[float, float, float]:
        """Estimate and 95% band at a month: ``(sf, low, high)``.

        Beyond the last follow-up the estimate is 0 if every run had closed by then, else NaN
        (unknown), whatever ``horizon`` says.
        """
        if month < 0:
            return 1.0, 1.0, 1.0
        if month > self._last_follow_up():
            return (0.0, 0.0, 0.0) if self._sf_end() == 0 else (math.nan, math.nan, math.nan)
        sf = float(self.result.sf.evaluate(month))
        lo, hi = _band(self.result, np.array([month], dtype=float), self.method)
        return sf, float(lo[0]), float(hi[0])

    def _last_follow_up(self) -> float:
        return float(self.time.max())

    def _sf_end(self) -> float:
        return float(self.result.sf.evaluate(self._last_follow_up()))


def _band(res, t: np.ndarray, method: str, confidence: float = 0.95):
    """Pointwise band at times ``t``, with degenerate points made explicit.

    scipy returns NaN where the formula is undefined: where the estimate is 0 (after the last
    run has closed) we return ``[0, 0]``; where the estimate is 1 (before any closure) scipy
    already returns ``[1, 1]``. Any other NaN (e.g. a single run) is left as NaN.
    """
    sf = res.sf.evaluate(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = res.sf.confidence_interval(confidence, method=method)
        lo = np.asarray(ci.low.evaluate(t), dtype=float)
        hi = np.asarray(ci.high.evaluate(t), dtype=float)
    zero = sf <= 0
    lo = np.where(zero, 0.0, lo)
    hi = np.where(zero, 0.0, hi)
    one = sf >= 1
    lo = np.where(one & np.isnan(lo), 1.0, lo)
    hi = np.where(one & np.isnan(hi), 1.0, hi)
    return np.clip(lo, 0, 1), np.clip(hi, 0, 1)


def _km_one(variant: str, time: np.ndarray, event: np.ndarray, horizon: int,
            method: str, confidence: float) -> KM:
    res = stats.ecdf(_censored(time, event))
    months = np.arange(horizon + 1)
    t = months.astype(float)
    sf = np.asarray(res.sf.evaluate(t), dtype=float)
    lo, hi = _band(res, t, method, confidence)
    # Beyond the last follow-up the curve is unknown unless every run had already closed.
    last = float(time.max())
    if float(res.sf.evaluate(last)) > 0:
        beyond = t > last
        sf, lo, hi = (np.where(beyond, np.nan, a) for a in (sf, lo, hi))
    return KM(variant=variant, months=months, sf=sf, low=lo, high=hi, n=int(len(time)),
              closed=int(event.sum()), horizon=int(horizon), time=time, event=event, result=res,
              method=method)


def kaplan_meier(runs: pd.DataFrame, horizon: Horizons = None, *, confidence: float = 0.95,
                 method: str = "log-log") -> dict[str, KM]:
    """Kaplan-Meier survival curve with a pointwise 95% band, per variant.

    Args:
        runs: The ensemble's runs (one row per run).
        horizon: Last month to evaluate, for every variant or per variant; default each
            variant's own horizon (see :func:`variant_horizons`), so a 60-month scenario's
            curve stops at month 60 next to a 120-month one's.
        confidence: Confidence level of the band.
        method: ``"log-log"`` (default; stays inside [0, 1], better coverage in small
            ensembles) or ``"linear"`` (scipy's default, Greenwood clipped to [0, 1]).

    Returns:
        ``{variant: KM}`` in order of first appearance in ``runs``.

    Raises:
        ValueError: If ``runs`` is empty or lacks the needed columns.

    """
    _check_runs(runs)
    if runs.empty:
        raise ValueError("runs is empty")
    hs = variant_horizons(runs, horizon)
    out = {}
    for v in _variants(runs):
        time, event = _time_event(_subset(runs, v))
        out[v] = _km_one(v, time, event, hs[v], method, confidence)
    return out


# ---------------------------------------------------------------------------------------------
# Restricted mean survival time
# ---------------------------------------------------------------------------------------------


def _rmst(time: np.ndarray, event: np.ndarray, horizon: float) -> tuple[float, float]:
    """RMST up to ``horizon`` and its Greenwood-type standard error (see module docstring).

    Returns ``(nan, nan)`` if follow-up ends before the horizon with runs still open.
    """
    if len(time) == 0:
        return math.nan, math.nan
    res = stats.ecdf(_censored(time, event))
    last = float(time.max())
    if last < horizon and float(res.sf.evaluate(last)) > 0:
        return math.nan, math.nan
    q = np.asarray(res.sf.quantiles, dtype=float)
    pts = np.unique(np.r_[0.0, q[q < horizon], float(horizon)])
    vals = np.asarray(res.sf.evaluate(pts[:-1]), dtype=float)
    pieces = np.diff(pts) * vals
    area = float(pieces.sum())
    cum = np.r_[0.0, np.cumsum(pieces)]
    # Closure times up to the horizon, with the number closing (d) and at risk (n) at each.
    ev_t, d = np.unique(time[event & (time <= horizon)], return_counts=True)
    if len(ev_t) == 0:
        return area, 0.0
    n_risk = np.array([(time >= t).sum() for t in ev_t], dtype=float)
    a = area - cum[np.searchsorted(pts, ev_t)]
    ok = n_risk > d
    var = float(np.sum(a[ok] ** 2 * d[ok] / (n_risk[ok] * (n_risk[ok] - d[ok]))))
    if len(time) < 2:
        return area, math.nan  # one run: no variance can be estimated
    return area, math.sqrt(var)


def _rmst_ci(est: float, se: float, horizon: float) -> tuple[float, float]:
    if math.isnan(est) or math.isnan(se):
        return math.nan, math.nan
    return max(0.0, est - Z95 * se), min(float(horizon), est + Z95 * se)


def rmst(runs: pd.DataFrame, horizon: Horizons = None) -> pd.DataFrame:
    """Restricted mean survival time per variant with a 95% Greenwood-type interval.

    Args:
        runs: The ensemble's runs.
        horizon: Restriction time in months, for every variant or per variant; default each
            variant's own horizon (:func:`variant_horizons`).

    Returns:
        DataFrame indexed by variant with ``rmst``, ``rmst_se``, ``rmst_low``, ``rmst_high``
        (months) and ``horizon``.

    """
    _check_runs(runs)
    hs = variant_horizons(runs, horizon)
    rows = []
    for v in _variants(runs):
        h = hs[v]
        time, event = _time_event(_subset(runs, v))
        est, se = _rmst(time, event, h)
        lo, hi = _rmst_ci(est, se, h)
        rows.append({"variant": v, "rmst": est, "rmst_se": se, "rmst_low": lo, "rmst_high": hi,
                     "horizon": h})
    return pd.DataFrame(rows).set_index("variant")


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def _median(km: KM) -> tuple[float, float, float]:
    """Median survival and its 95% interval from inverting the band (NaN = not reached)."""

    def first_below(curve: np.ndarray) -> float:
        idx = np.nonzero(curve <= 0.5)[0]
        return float(km.months[idx[0]]) if len(idx) else math.nan

    return first_below(km.sf), first_below(km.low), first_below(km.high)


def _p_alive(km: KM, month: int) -> tuple[float, float, float]:
    est, lo, hi = km.at(month)
    if math.isnan(est):
        return est, lo, hi
    degenerate = est in (0.0, 1.0)
    censored_before = bool(np.any(~km.event & (km.time < month)))
    if (degenerate or math.isnan(lo) or math.isnan(hi)) and not censored_before:
        alive = int(np.sum(~km.event | (km.time > month)))
        ci = stats.binomtest(alive, km.n).proportion_ci(0.95, method="exact")
        return alive / km.n, float(ci.low), float(ci.high)
    return est, lo, hi


def closure_causes(runs: pd.DataFrame) -> pd.DataFrame:
    """Why services closed: counts and shares of each closure cause, per variant.

    Shares are of *all* runs in the variant, so ``share_survived`` plus the cause shares sum to
    1; ``share_of_closures_<cause>`` gives the share among closed runs only (NaN if none closed).
    The six model causes always appear (zero if unseen); any other cause codes are appended.

    Args:
        runs: The ensemble's runs (needs ``variant``, ``closure_cause`` and ``survived`` or
            ``closure_month``).

    Returns:
        DataFrame indexed by variant with ``n``, ``closed``, ``survived``, ``share_survived``
        and, per cause, ``count_<cause>``, ``share_<cause>`` and ``share_of_closures_<cause>``.

    """
    _check_runs(runs)
    causes = list(CAUSES)
    rows = []
    for v in _variants(runs):
        sub = _subset(runs, v)
        _, event = _time_event(sub)
        cause = (sub["closure_cause"].fillna("").astype(str).to_numpy()
                 if "closure_cause" in sub.columns else np.full(len(sub), ""))
        cause = np.where(event, np.where(cause == "", "unknown", cause), "")
        for c in pd.unique(cause[event]):
            if c not in causes:
                causes.append(c)
        n, closed = len(sub), int(event.sum())
        row = {"variant": v, "n": n, "closed": closed, "survived": n - closed,
               "share_survived": (n - closed) / n}
        rows.append((row, cause))
    out = []
    for row, cause in rows:
        for c in causes:
            k = int(np.sum(cause == c))
            row[f"count_{c}"] = k
            row[f"share_{c}"] = k / row["n"]
            row[f"share_of_closures_{c}"] = k / row["closed"] if row["closed"] else math.nan
        out.append(row)
    return pd.DataFrame(out).set_index("variant")


def survival_table(runs: pd.DataFrame, times: Sequence[int] = (24, 60, 120),
                   horizon: Horizons = None) -> pd.DataFrame:
    """One row per variant: how many closed, P(alive) at given months, median, RMST, causes.

    Args:
        runs: The ensemble's runs.
        times: Months at which to report P(alive) (default 2, 5 and 10 years). Months beyond
            a variant's follow-up give NaN (not available) unless every run had closed by
            then (0).
        horizon: Restriction time for the RMST and the last month of the curves, for every
            variant or per variant; default each variant's own horizon
            (:func:`variant_horizons`), so in an ensemble mixing 60- and 120-month scenarios
            the 60-month one's median reads ``">60"`` and its RMST covers 60 months.

    Returns:
        DataFrame indexed by variant with columns ``n``, ``closed``, ``p_alive_<t>``,
        ``p_alive_<t>_low``, ``p_alive_<t>_high`` per t, ``median_months`` (NaN if the curve
        never reaches 50%), ``median_low``, ``median_high``, ``median`` (text: a number of
        months or ``">H"``, H the variant's horizon), ``rmst``, ``rmst_low``, ``rmst_high``
        (months, Greenwood-type interval; see module docstring), ``horizon`` (the variant's) and
        ``share_<cause>`` per cause (share of
        all runs).

    """
    kms = kaplan_meier(runs, horizon)
    causes = closure_causes(runs)
    rows = []
    for v, km in kms.items():
        h = km.horizon
        row: dict = {"variant": v, "n": km.n, "closed": km.closed}
        for t in times:
            est, lo, hi = _p_alive(km, int(t))
            row[f"p_alive_{t}"], row[f"p_alive_{t}_low"], row[f"p_alive_{t}_high"] = est, lo, hi
        med, med_lo, med_hi = _median(km)
        row["median_months"], row["median_low"], row["median_high"] = med, med_lo, med_hi
        row["median"] = f">{h}" if math.isnan(med) else f"{med:g}"
        est, se = _rmst(km.time, km.event, h)
        row["rmst"] = est
        row["rmst_low"], row["rmst_high"] = _rmst_ci(est, se, h)
        row["horizon"] = h
        _posterior_spread(row, runs, v, times, h)
        for c in causes.columns:
            if c.startswith("share_") and not c.startswith("share_of_closures_") \
                    and c != "share_survived":
                row[c] = causes.loc[v, c]
        rows.append(row)
    return pd.DataFrame(rows).set_index("variant")


# ---------------------------------------------------------------------------------------------
# Tests between variants
# ---------------------------------------------------------------------------------------------


def _posterior_spread(row: dict, runs: pd.DataFrame, variant: str, times, horizon: int) -> None:
    """Widen a variant's intervals to cover parameter uncertainty (posterior-mode runs).

    When the variant's runs used several parameter sets, each ``p_alive_<t>`` and the RMST get
    the 95% plausible range of :func:`~experiments.analysis.uncertainty.nested_spread` (where
    it is wider than the Kaplan-Meier interval) and a ``..._parameter_share`` column.
    """
    if "parameter_set" not in runs.columns:
        return
    sub = _subset(runs, variant)
    if sub["parameter_set"].nunique() < 2:
        return
    t, e = _time_event(sub)
    groups = sub["parameter_set"].to_numpy()
    for m in times:
        if np.any(~e & (t < m)):  # not every run followed to this month
            continue
        sp = nested_spread((~e | (t > m)).astype(float), groups, (0.0, 1.0))
        row[f"p_alive_{m}_low"] = min(row[f"p_alive_{m}_low"], sp.low)
        row[f"p_alive_{m}_high"] = max(row[f"p_alive_{m}_high"], sp.high)
        row[f"p_alive_{m}_parameter_share"] = sp.parameter_share
    sp = nested_spread(np.minimum(t, horizon), groups, (0.0, float(horizon)))
    row["rmst_low"], row["rmst_high"] = min(row["rmst_low"], sp.low), max(row["rmst_high"], sp.high)
    row["rmst_parameter_share"] = sp.parameter_share


def logrank(runs: pd.DataFrame, a: str, b: str) -> tuple[float, float]:
    """Two-sided log-rank test that variants ``a`` and ``b`` have the same survival.

    Args:
        runs: The ensemble's runs.
        a: First variant label.
        b: Second variant label.

    Returns:
        ``(statistic, p)`` from :func:`scipy.stats.logrank`. The statistic is signed: positive
        means ``a`` closes more often than expected under equal survival (``a`` is worse).
        If neither variant has any closure, or the test has no variance (e.g. every closure
        in the same month), there is no evidence of a difference and ``(0.0, 1.0)`` is
        returned.

    """
    ta, ea = _time_event(_subset(runs, a))
    tb, eb = _time_event(_subset(runs, b))
    if not ea.any() and not eb.any():
        return 0.0, 1.0
    with np.errstate(invalid="ignore", divide="ignore"):  # no variance: no evidence either way
        res = stats.logrank(_censored(ta, ea), _censored(tb, eb))
    if not np.isfinite(res.statistic):
        return 0.0, 1.0
    return float(res.statistic), float(res.pvalue)


def ordered_logrank(runs: pd.DataFrame, order: Iterable[str]) -> pd.DataFrame:
    """Check an expected ordering of variants with log-rank tests of adjacent pairs.

    Args:
        runs: The ensemble's runs.
        order: Variant labels from the *worst* expected survival to the *best*.

    Returns:
        One row per adjacent pair ``(a, b)`` with ``statistic`` (positive when ``a`` is worse,
        as expected), ``p`` (two-sided), ``p_one_sided`` (alternative: ``b`` survives better
        than ``a``) and ``as_expected`` (``statistic > 0``).

    """
    order = list(order)
    if len(order) < 2:
        raise ValueError("order needs at least two variants")
    rows = []
    for a, b in zip(order[:-1], order[1:], strict=True):
        stat, p = logrank(runs, a, b)
        if stat == 0.0 and p == 1.0:
            p1 = 0.5
        else:
            ta, ea = _time_event(_subset(runs, a))
            tb, eb = _time_event(_subset(runs, b))
            with np.errstate(invalid="ignore", divide="ignore"):
                p1 = float(stats.logrank(_censored(ta, ea), _censored(tb, eb),
                                         alternative="greater").pvalue)
        rows.append({"a": a, "b": b, "statistic": stat, "p": p, "p_one_sided": p1,
                     "as_expected": bool(stat > 0)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Paired comparisons (common random numbers)
# ---------------------------------------------------------------------------------------------


def _pair(runs: pd.DataFrame, baseline: str, variant: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of both variants aligned replicate by replicate (same seed in the same row)."""
    if "replicate" not in runs.columns:
        raise ValueError("paired comparisons need a 'replicate' column")
    b, v = _subset(runs, baseline), _subset(runs, variant)
    for key in (["replicate"], ["scenario", "replicate"]):
        if all(c in runs.columns for c in key) and not b.duplicated(key).any() \
                and not v.duplicated(key).any():
            break
    else:
        raise ValueError("replicates are not unique within a variant; cannot pair runs")
    m = b.reset_index(drop=True).merge(v.reset_index(drop=True), on=key, how="inner",
                                       suffixes=("_b", "_v"))
    if m.empty:
        raise ValueError(f"no common replicates between {baseline!r} and {variant!r}")
    cols = ["end_month", "survived", "closure_month", "parameter_set"]
    bb = pd.DataFrame({c: m[f"{c}_b"] for c in cols if f"{c}_b" in m.columns})
    vv = pd.DataFrame({c: m[f"{c}_v"] for c in cols if f"{c}_v" in m.columns})
    bb["variant"], vv["variant"] = baseline, variant
    return bb, vv


def _alive_at(time: np.ndarray, event: np.ndarray, month: float) -> np.ndarray:
    if np.any(~event & (time < month)):
        raise ValueError(f"month {month} is beyond the follow-up of some surviving runs")
    return ~event | (time > month)


def _when(month: float) -> str:
    if month % 12 == 0:
        years = int(month // 12)
        return f"{years} year" + ("" if years == 1 else "s")
    return f"{month:g} months"


def _signed(x: float, decimals: int) -> str:
    s = f"{x:+.{decimals}f}"
    return s if float(s) != 0 else f"{0:.{decimals}f}"


def _plain(x: float, decimals: int) -> str:
    s = f"{x:.{decimals}f}"
    return s if float(s) != 0 else f"{0:.{decimals}f}"


def _ci_text(lo: float, hi: float, decimals: int, share: float | None = None) -> str:
    """``95% CI a to b``; with a parameter share (posterior mode) the range and both shares."""
    if math.isnan(lo) or math.isnan(hi):
        return "95% CI not available"
    if share is None:
        return f"95% CI {_plain(lo, decimals)} to {_plain(hi, decimals)}"
    p = round(100 * share)
    return (f"95% plausible range {_plain(lo, decimals)} to {_plain(hi, decimals)}; "
            f"parameters {p}%, chance {100 - p}% of the spread")


def paired_difference(runs: pd.DataFrame, baseline: str, variant: str, month: int,
                      *, horizon: int | None = None, n_resamples: int = 2000,
                      seed: int = BOOTSTRAP_SEED) -> dict:
    """Paired (common-random-numbers) difference between a variant and a baseline.

    Replicate r of both variants used the same seed, so runs are compared pair by pair, which
    removes most of the seed noise shared by the two arms.

    P(alive at ``month``): difference ``p_variant - p_baseline`` = ``(b - c) / n`` where ``b``
    counts pairs where only the variant is alive and ``c`` pairs where only the baseline is.
    Its 95% interval uses the paired-proportion (discordant pairs) variance
    ``((b + c) - (b - c)**2 / n) / n**2``; the p-value is the exact McNemar test
    (:func:`scipy.stats.binomtest` of ``b`` out of ``b + c`` against 1/2; 1.0 if no discordant
    pairs).

    RMST up to ``horizon``: difference of the two Kaplan-Meier areas, with a paired bootstrap
    interval (:func:`scipy.stats.bootstrap` resampling pairs, BCa, percentile if BCa is
    undefined; generator seeded with ``seed`` so the report is reproducible).

    Args:
        runs: The ensemble's runs (needs ``replicate``).
        baseline: Baseline variant label.
        variant: Variant label compared with the baseline.
        month: Month at which "alive" is assessed (alive = not closed by the end of it).
        horizon: RMST restriction time; default the shorter of the two variants' horizons
            (:func:`variant_horizons`).
        n_resamples: Bootstrap resamples for the RMST interval.
        seed: Seed of the numpy Generator used by the bootstrap.

    Returns:
        Dict with ``baseline``, ``variant``, ``month``, ``n_pairs``, ``p_baseline``,
        ``p_variant``, ``diff``, ``diff_low``, ``diff_high`` (proportions), ``variant_only``
        (b), ``baseline_only`` (c), ``mcnemar_p``, ``horizon``, ``rmst_baseline``,
        ``rmst_variant``, ``rmst_diff``, ``rmst_diff_low``, ``rmst_diff_high`` (months),
        ``sentence`` (e.g. "+18 points survival at 6 years (95% CI 12 to 24)") and
        ``rmst_sentence``.

    Raises:
        ValueError: If runs cannot be paired or ``month`` is beyond a survivor's follow-up.

    """
    bb, vv = _pair(runs, baseline, variant)
    tb, eb = _time_event(bb)
    tv, ev = _time_event(vv)
    n = len(tb)
    ab, av = _alive_at(tb, eb, month), _alive_at(tv, ev, month)
    b = int(np.sum(av & ~ab))
    c = int(np.sum(ab & ~av))
    diff = (b - c) / n
    var = ((b + c) - (b - c) ** 2 / n) / n**2
    half = Z95 * math.sqrt(max(var, 0.0)) if n >= 2 else math.nan
    lo, hi = max(-1.0, diff - half), min(1.0, diff + half)
    if n < 2:
        lo = hi = math.nan
    mcnemar = float(stats.binomtest(b, b + c, 0.5).pvalue) if b + c else 1.0

    if horizon is None:  # the shorter of the two variants' horizons (a common restriction)
        h = min(variant_horizons(pd.concat([bb, vv], ignore_index=True)).values())
    else:
        h = int(horizon)
    rb, _ = _rmst(tb, eb, h)
    rv, _ = _rmst(tv, ev, h)
    rdiff = rv - rb
    rlo, rhi = _paired_rmst_ci(tb, eb, tv, ev, h, n_resamples, seed)

    # Posterior mode: the runs used several parameter sets, so the interval must cover what
    # the evidence leaves uncertain as well as chance (analysis/uncertainty.py).
    share = rmst_share = None
    if "parameter_set" in bb.columns and bb["parameter_set"].nunique() > 1:
        groups = bb["parameter_set"].to_numpy()
        sp = nested_spread((av.astype(float) - ab.astype(float)), groups, (-1.0, 1.0))
        lo, hi, share = min(lo, sp.low), max(hi, sp.high), sp.parameter_share
        rsp = nested_spread(np.minimum(tv, h) - np.minimum(tb, h), groups, (-float(h), float(h)))
        rlo, rhi, rmst_share = min(rlo, rsp.low), max(rhi, rsp.high), rsp.parameter_share
    width = (hi - lo) * 100
    dec = 1 if 0 < width < 4 else 0
    sentence = (f"{_signed(diff * 100, dec)} points survival at {_when(month)} "
                f"({_ci_text(lo * 100, hi * 100, dec, share)})")
    rmst_sentence = (f"{_signed(rdiff, 1)} months of service on average over the first "
                     f"{_when(h)} ({_ci_text(rlo, rhi, 1, rmst_share)})")
    return {"parameter_share": share, "rmst_parameter_share": rmst_share,
            "baseline": baseline, "variant": variant, "month": month, "n_pairs": n,
            "p_baseline": float(ab.mean()), "p_variant": float(av.mean()), "diff": diff,
            "diff_low": lo, "diff_high": hi, "variant_only": b, "baseline_only": c,
            "mcnemar_p": mcnemar, "horizon": h, "rmst_baseline": rb, "rmst_variant": rv,
            "rmst_diff": rdiff, "rmst_diff_low": rlo, "rmst_diff_high": rhi,
            "sentence": sentence, "rmst_sentence": rmst_sentence}


def _paired_rmst_ci(tb, eb, tv, ev, h, n_resamples, seed) -> tuple[float, float]:
    n = len(tb)
    if n < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    complete = not np.any(~eb & (tb < h)) and not np.any(~ev & (tv < h))
    if complete:
        # No censoring before the horizon: the KM area is the mean of min(T, h), so the paired
        # difference is a mean of per-pair differences (vectorised bootstrap).
        d = np.minimum(tv, h) - np.minimum(tb, h)
        if np.all(d == d[0]):
            return float(d[0]), float(d[0])
        data, stat, vec = (d,), np.mean, True
    else:
        def stat(t_b, e_b, t_v, e_v):
            return _rmst(t_v, e_v.astype(bool), h)[0] - _rmst(t_b, e_b.astype(bool), h)[0]

        data, vec = (tb, eb.astype(float), tv, ev.astype(float)), False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.bootstrap(data, stat, n_resamples=n_resamples, paired=not complete,
                              vectorized=vec, method="BCa", rng=rng)
        lo, hi = res.confidence_interval
        if not (np.isfinite(lo) and np.isfinite(hi)):
            res = stats.bootstrap(data, stat, n_resamples=n_resamples, paired=not complete,
                                  vectorized=vec, method="percentile", rng=rng)
            lo, hi = res.confidence_interval
    return float(lo), float(hi)
