"""Why services like this close, in plain words: sentences and report sections (ODD §7.22).

Built on the tables of :mod:`experiments.analysis.causes`; every number goes through
:mod:`experiments.reports.formatters`. Used by the ``simulate`` summary, the ensemble and
``compare`` reports, ``assess`` and the dashboard.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from experiments.analysis.causes import (
    PROTECTIVE,
    cause_table,
    contributions,
    event_table,
    explained_closures,
    explanations_available,
    first_months,
    main_causes,
    parse_events,
)
from experiments.reports import formatters as fmt
from sim.explanation import CAUSE_GROUPS, CAUSE_LABELS, EVENT_GROUP, EVENT_LABELS

NOT_AVAILABLE = ("The explanation of closures is not available for these runs (they were "
                 "simulated before the model recorded why services close).")
NO_DECISION = "(staffing collapse or licence)"
NO_CLOSURES = "No closures to explain."


def cause_phrase(group: str, contribution: float = 1.0) -> str:
    """What a group's contribution means, in words: "the leadership shield had fallen".

    Args:
        group: A name of ``CAUSE_GROUPS``.
        contribution: Its sign decides the verb (positive: towards closure).
    """
    label = CAUSE_LABELS.get(group, group.replace("_", " "))
    down = contribution > 0
    if group in PROTECTIVE:
        return f"the {label} had {'fallen' if down else 'grown'}"
    return f"pressure from {label} had {'risen' if down else 'eased'}"


def why_lines(runs: pd.DataFrame, variant: str, top: int = 3) -> list[str]:
    """Why services like this close, in a few plain sentences, for one variant.

    One sentence for each of the ``top`` groups most often among the two main causes, e.g.
    "In 61% of closures the leadership shield had fallen (mean 0.21 of a 0.48 fall of the
    margin): the patron left (median month 14) in 40% of them." The events named are the
    group's own (``EVENT_GROUP``), the most common first, counted among the closures in which
    the group was a main cause. Closures with no decision to explain are counted in a last
    sentence.

    Args:
        runs: The run table.
        variant: The variant to describe.
        top: How many groups to describe at most.

    Returns:
        The sentences; a single one when there is nothing to explain or no explanation.
    """
    if not explanations_available(runs):
        return [NOT_AVAILABLE]
    n_closed, ex = explained_closures(runs, variant)
    if n_closed == 0:
        return [NO_CLOSURES]
    m = len(ex)
    lines = []
    if m:
        contrib = contributions(ex)
        main = main_causes(contrib)
        fall = float(pd.to_numeric(ex["margin_fall"]).mean())
        of = "closures" if m == n_closed else f"the {fmt.count(m)} explained closures"
        firsts = first_months(ex)
        shares = main.mean(axis=0)
        means = contrib.mean(axis=0)
        order = sorted(range(len(CAUSE_GROUPS)), key=lambda j: (-shares[j], -means[j]))
        for j in [j for j in order if shares[j] > 0][:top]:
            g = CAUSE_GROUPS[j]
            text = (f"In {fmt.percent(shares[j])} of {of} {cause_phrase(g, means[j])} "
                    f"(mean {fmt.number(means[j])} of a {fmt.number(fall)} fall of the margin)")
            events = _group_events(g, [f for f, is_main in zip(firsts, main[:, j], strict=True)
                                       if is_main])
            lines.append(text + (f": {events}." if events else "."))
        if not lines:
            these = "these closures" if m == n_closed else of
            lines.append(f"No single cause pushed the margin down in {these} (mean fall of the "
                         f"margin {fmt.number(fall)}).")
    unexplained = n_closed - m
    if unexplained:
        lines.append(f"{fmt.count(unexplained)} closure{'s' if unexplained != 1 else ''} had no "
                     f"decision to explain {NO_DECISION}.")
    return lines


def _group_events(group: str, firsts: Sequence[Mapping[str, int]], most: int = 2) -> str:
    """The group's most common events among these closures, in words.

    E.g. "the patron left (median month 14) in 40% of them".
    """
    if not firsts:
        return ""
    found = []
    for kind, g in EVENT_GROUP.items():
        months = [f[kind] for f in firsts if kind in f]
        if g == group and months:
            found.append((len(months), kind, months))
    found.sort(key=lambda x: -x[0])
    return "; ".join(f"{EVENT_LABELS[k]} (median month {fmt.month(np.median(ms))}) in "
                     f"{fmt.percent(n / len(firsts))} of them" for n, k, ms in found[:most])


def explanation_lines(reference_month: int, closure_month: int, margin_fall: float,
                      causes: Mapping[str, float], events: Sequence[tuple[int, str]], *,
                      margin_reference: float | None = None, margin_final: float | None = None,
                      top: int = 3) -> list[str]:
    """One closure's explanation in plain words.

    Args:
        reference_month: Month of the reference decision (0: go-live).
        closure_month: Month of the closing decision.
        margin_fall: Reference margin minus final margin.
        causes: Group -> contribution to the fall (positive pushed the margin down).
        events: ``(month, kind)`` in the window.
        margin_reference: The margin at the reference decision, if known.
        margin_final: The margin at the closing decision, if known.
        top: How many contributions to name (the largest in size).

    Returns:
        A sentence on the fall of the margin, one line per main contribution (signed), and
        one on the events in the window.
    """
    since = ("go-live (month 0)" if int(reference_month) == 0
             else f"month {fmt.month(reference_month)}, the last decision at which it was "
                  "positive,")
    if margin_reference is not None and margin_final is not None \
            and not fmt.is_missing(margin_reference) and not fmt.is_missing(margin_final):
        how = f"fell from {fmt.number(margin_reference)} to {fmt.number(margin_final)}"
    else:
        how = f"fell by {fmt.number(margin_fall)}"
    lines = [f"The margin (buffers and reserve against pressure) {how} between {since} and "
             f"the closing decision in month {fmt.month(closure_month)}."]
    named = sorted(((g, float(c)) for g, c in causes.items()
                    if not fmt.is_missing(c) and abs(float(c)) > 5e-3),
                   key=lambda gc: -abs(gc[1]))[:top]
    if named:
        lines.append("Main contributions (+ pushed it down, towards closure; - held it up):")
        lines += [f"  {cause_phrase(g, c)}: {fmt.signed(c, 2)}" for g, c in named]
    if events:
        lines.append("Events in that window: " + "; ".join(
            f"{EVENT_LABELS.get(k, k.replace('_', ' '))} (month {fmt.month(m)})"
            for m, k in sorted(events, key=lambda e: e[0])) + ".")
    else:
        lines.append("No recorded event in that window: the margin drifted down.")
    return lines


def run_explanation_lines(outputs: Mapping, top: int = 3) -> list[str]:
    """One run's explanation, from its scalar outputs (for the ``simulate`` summary).

    Args:
        outputs: ``RunResult.outputs`` (or a row of a run table).
        top: How many contributions to name.

    Returns:
        No lines for a run that survived or whose outputs carry no explanation columns (older
        runs); for a closure no decision took, a sentence saying so and the window's events;
        otherwise :func:`explanation_lines`.
    """
    if outputs.get("survived") or "margin_fall" not in outputs:
        return []
    events = parse_events(outputs.get("closure_events"))
    fall = outputs.get("margin_fall")
    if fmt.is_missing(fall):
        lines = [f"No decision closed the service {NO_DECISION}, so there is no fall of the "
                 "margin to explain."]
        if events:
            lines.append("Events before the closure: " + "; ".join(
                f"{EVENT_LABELS.get(k, k)} (month {fmt.month(m)})" for m, k in events) + ".")
        return lines
    causes = {g: outputs.get(f"cause_{g}", math.nan) for g in CAUSE_GROUPS}
    ref = outputs.get("margin_reference_month")
    return explanation_lines(0 if fmt.is_missing(ref) else int(ref),
                             int(outputs["closure_month"]), float(fall), causes, events,
                             top=top)


def main_why_text(runs: pd.DataFrame, variant: str) -> str:
    """The single most common main cause of a variant's closures, for a one-line summary.

    Returns:
        E.g. "the leadership shield had fallen (a main cause in 61% of explained closures)";
        empty when there is no explanation or no explained closure.
    """
    table = cause_table(runs)
    table = table[(table["variant"] == str(variant)) & (table["top_two"] > 0)]
    if table.empty:
        return ""
    r = table.iloc[0]
    return (f"{cause_phrase(r['group'], r['mean_contribution'])} (a main cause in "
            f"{fmt.percent(r['top_two_share'])} of explained closures)")


def why_section(runs: pd.DataFrame, top: int = 3, rows: int = 6) -> dict:
    """The report section "Why services like this close": per variant, sentences and a table.

    Args:
        runs: The run table.
        top: Sentences per variant (see :func:`why_lines`).
        rows: Cause groups in each compact table at most (those that were ever a main cause
            or moved the margin, by how often they were a main cause).

    Returns:
        ``{"available": bool, "note": str, "header": [...], "event_header": [...],
        "variants": [{"variant", "lines", "rows", "events"}]}``; plain text values, for the
        templates to escape. ``note`` says why there is nothing when the explanation
        columns are missing.
    """
    header = ["Cause", "A main cause in (share of explained closures)", "Mean contribution",
              "Share of the mean fall"]
    event_header = ["Event in the window", "Share of explained closures",
                    "Median month (first)"]
    variants = list(map(str, pd.unique(runs["variant"].astype(str))))
    if not explanations_available(runs):
        return {"available": False, "note": NOT_AVAILABLE, "header": header,
                "event_header": event_header,
                "variants": [{"variant": v, "lines": [], "rows": [], "events": []}
                             for v in variants]}
    causes, events = cause_table(runs), event_table(runs)
    out = []
    for v in variants:
        ct = causes[causes["variant"] == v]
        ct = ct[(ct["top_two"] > 0) | (ct["mean_contribution"].abs() >= 5e-3)].head(rows)
        et = events[(events["variant"] == v) & (events["closures_with"] > 0)] \
            if len(events) else events
        out.append({
            "variant": v, "lines": why_lines(runs, v, top),
            "rows": [[CAUSE_LABELS.get(r.group, r.group),
                      fmt.share_count(r.top_two_share, r.top_two),
                      fmt.signed(r.mean_contribution, 2), fmt.percent(r.share_of_fall)]
                     for r in ct.itertuples()],
            "events": [[r.label, fmt.share_count(r.share, r.closures_with),
                        fmt.month(r.median_first_month)] for r in et.itertuples()]})
    return {"available": True, "note": "", "header": header, "event_header": event_header,
            "variants": out}
