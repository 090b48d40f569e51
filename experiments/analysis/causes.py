"""Why services like this close: the explanations of closures, aggregated (ODD §7.22).

Every closure that a decision took carries an explanation: the fall of the margin (buffers and
reserve against pressure) between a reference decision and the fatal decision, split by exact
Shapley values into the named cause groups of :data:`sim.explanation.CAUSE_GROUPS`, and the
events in that window (:data:`sim.explanation.EVENT_GROUP`). The run table holds them as
``cause_<group>``, ``margin_fall``, ``margin_reference_month`` and ``closure_events``
(``kind@month`` joined by ``;``); this module reads only those columns, plus ``variant``,
``survived`` / ``closure_month``.

* :func:`cause_table`: per variant and group, how often the group was among the two largest
  contributions and its mean contribution;
* :func:`event_table`: per variant and event kind, how often it happened in the window;

The plain words built on them (``why_lines``, ``run_explanation_lines``) live in
:mod:`experiments.reports.causes`, which may use the formatters (analysis sits below reports).

A *closure* is a run that did not survive; it is *explained* when its ``margin_fall`` is a
number (staffing-collapse and licence closures took no decision, so theirs is NaN). Run tables
written before the explanations existed have none of these columns:
:func:`explanations_available` says so.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.explanation import CAUSE_GROUPS, CAUSE_LABELS, EVENT_GROUP, EVENT_LABELS

CAUSE_COLUMNS: tuple[str, ...] = tuple(f"cause_{g}" for g in CAUSE_GROUPS)
"""The run-table column of each cause group, in the order of ``CAUSE_GROUPS``."""

PROTECTIVE = frozenset({"leadership_shield", "partnership_shield", "system_leadership",
                        "evidence", "embeddedness"})
"""Groups on the protective side of the margin (buffers and reserve): a positive contribution
means they fell. The other groups are pressure terms: a positive contribution means it rose."""
TOP = 2
"""A group is a main cause of a closure when it is among this many largest contributions."""

CAUSE_TABLE_COLUMNS = ("variant", "group", "label", "closures", "explained", "top_two",
                       "top_two_share", "mean_contribution", "mean_fall", "share_of_fall")
EVENT_TABLE_COLUMNS = ("variant", "kind", "label", "group", "explained", "closures_with",
                       "share", "median_first_month")


# --------------------------------------------------------------------------- reading the table
def explanations_available(runs: pd.DataFrame) -> bool:
    """Whether the run table has the explanation columns (every ``cause_*`` and ``margin_fall``)."""
    return set(CAUSE_COLUMNS) | {"margin_fall"} <= set(runs.columns)


def parse_events(text) -> list[tuple[int, str]]:
    """The events of a ``closure_events`` cell as ``(month, kind)``, in month order.

    Args:
        text: ``kind@month`` entries joined by ``;``; empty, None or NaN for none.

    Returns:
        The events, sorted by month (stable for events of the same month).

    Raises:
        ValueError: If an entry is not ``kind@month`` with a whole-number month.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    out = []
    for part in str(text).split(";"):
        part = part.strip()
        if not part:
            continue
        kind, sep, month = part.rpartition("@")
        if not sep or not kind or not month.strip().lstrip("-").isdigit():
            raise ValueError(f"closure_events entry {part!r} is not kind@month")
        out.append((int(month), kind.strip()))
    return sorted(out, key=lambda e: e[0])


def _closed(runs: pd.DataFrame) -> np.ndarray:
    if "survived" in runs.columns:
        s = runs["survived"]
        if s.dtype == object:  # a table read back as text
            s = s.astype(str).str.lower().isin(["true", "1"])
        return ~s.astype(bool).to_numpy()
    return pd.to_numeric(runs["closure_month"], errors="coerce").notna().to_numpy()


def _variants(runs: pd.DataFrame) -> list[str]:
    return list(map(str, pd.unique(runs["variant"].astype(str))))


def explained_closures(runs: pd.DataFrame, variant: str) -> tuple[int, pd.DataFrame]:
    """The closures of one variant, and those of them that carry an explanation.

    Args:
        runs: The run table.
        variant: The variant.

    Returns:
        ``(closures, explained)``: the number of closed runs, and the rows of the closed runs
        whose ``margin_fall`` is a number (none when the explanation columns are missing).
    """
    sub = runs[runs["variant"].astype(str) == variant]
    closed = sub[_closed(sub)]
    if not explanations_available(runs):
        return len(closed), closed.iloc[0:0]
    fall = pd.to_numeric(closed["margin_fall"], errors="coerce")
    return len(closed), closed[fall.notna().to_numpy()]


def contributions(explained: pd.DataFrame) -> np.ndarray:
    """Closures x groups matrix of contributions (NaN as 0: a group that did not move)."""
    values = explained[list(CAUSE_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    return np.nan_to_num(values.to_numpy(float), nan=0.0)


def main_causes(contrib: np.ndarray, top: int = TOP) -> np.ndarray:
    """Closures x groups: whether each group is among the ``top`` largest positive contributions.

    Ties are broken by the order of ``CAUSE_GROUPS``; a group that held the margin up (zero or
    negative contribution) is never a main cause.
    """
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
    main = np.zeros(contrib.shape, dtype=bool)
    np.put_along_axis(main, order, True, axis=1)
    return main & (contrib > 0)


# --------------------------------------------------------------------------- the tables
def cause_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per variant and cause group: how often it was a main cause, and its mean contribution.

    Args:
        runs: The run table (``variant``, ``survived`` or ``closure_month`` and the explanation
            columns).

    Returns:
        One row per variant and group with ``closures`` (closed runs), ``explained`` (closures
        with an explanation), ``top_two`` and ``top_two_share`` (explained closures in which
        the group was among the two largest positive contributions, and their share),
        ``mean_contribution`` (over explained closures; positive pushed the margin down),
        ``mean_fall`` (mean fall of the margin) and ``share_of_fall`` (mean contribution over
        mean fall). Variants keep their order; within a variant rows are sorted by
        ``top_two_share`` then ``mean_contribution``, both descending. Empty (with these
        columns) when the explanation columns are missing.
    """
    rows = []
    if explanations_available(runs):
        for v in _variants(runs):
            n_closed, ex = explained_closures(runs, v)
            contrib = contributions(ex)
            main = main_causes(contrib)
            m = len(ex)
            fall = float(pd.to_numeric(ex["margin_fall"]).mean()) if m else math.nan
            block = []
            for j, g in enumerate(CAUSE_GROUPS):
                mean = float(contrib[:, j].mean()) if m else math.nan
                block.append({"variant": v, "group": g, "label": CAUSE_LABELS[g],
                              "closures": n_closed, "explained": m,
                              "top_two": int(main[:, j].sum()),
                              "top_two_share": main[:, j].mean() if m else math.nan,
                              "mean_contribution": mean, "mean_fall": fall,
                              "share_of_fall": mean / fall if m and fall else math.nan})
            block.sort(key=lambda r: (-np.nan_to_num(r["top_two_share"], nan=-1.0),
                                      -np.nan_to_num(r["mean_contribution"], nan=-np.inf)))
            rows += block
    return pd.DataFrame(rows, columns=list(CAUSE_TABLE_COLUMNS))


def event_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per variant and event kind: how often it happened in the window of explained closures.

    Args:
        runs: The run table (``closure_events`` and ``margin_fall`` among its columns).

    Returns:
        One row per variant and event kind (every kind of ``EVENT_GROUP``, then any other kind
        seen) with ``explained``, ``closures_with`` (explained closures whose window holds the
        event), ``share`` and ``median_first_month`` (median over those closures of the month
        the event first happened in the window; NaN if none). Sorted by share, descending,
        within each variant. Empty when the explanation columns are missing.
    """
    rows = []
    if explanations_available(runs) and "closure_events" in runs.columns:
        for v in _variants(runs):
            _, ex = explained_closures(runs, v)
            firsts = first_months(ex)
            kinds = list(EVENT_GROUP) + sorted({k for f in firsts for k in f} - set(EVENT_GROUP))
            block = []
            for k in kinds:
                months = [f[k] for f in firsts if k in f]
                block.append({"variant": v, "kind": k, "label": EVENT_LABELS.get(k, k),
                              "group": EVENT_GROUP.get(k, ""), "explained": len(ex),
                              "closures_with": len(months),
                              "share": len(months) / len(ex) if len(ex) else math.nan,
                              "median_first_month": float(np.median(months)) if months
                              else math.nan})
            block.sort(key=lambda r: -np.nan_to_num(r["share"], nan=-1.0))
            rows += block
    return pd.DataFrame(rows, columns=list(EVENT_TABLE_COLUMNS))


def first_months(explained: pd.DataFrame) -> list[dict[str, int]]:
    """Per closure: event kind -> the first month it happened in the window."""
    out = []
    cells = explained["closure_events"] if "closure_events" in explained.columns else []
    for cell in cells:
        first: dict[str, int] = {}
        for month, kind in parse_events(cell):
            first.setdefault(kind, month)
        out.append(first)
    return out


