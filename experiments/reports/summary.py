"""Text for the terminal: the summary of one run and the survival table of an ensemble."""

from __future__ import annotations

import math

import pandas as pd

from experiments.reports.causes import NOT_AVAILABLE, run_explanation_lines, why_lines
from experiments.reports.formatters import median_short, money, percent, probability_interval, years_decimal
from sim.simulate import RunResult

CAUSE_TEXT = {
    "budget_round": "closed at the April budget round",
    "viability_review": "closed at the viability review after the supervisor left",
    "cut_proposal": "closed after a senior leader proposed cutting it",
    "staffing_collapse": "closed when the team could no longer deliver (staffing collapse)",
    "licence": "closed after two failed implementation reviews (licence at risk)",
    "co_funder_withdrawal": "closed when a co-funding partner withdrew",
}


def _month_label(result: RunResult, month: float) -> str:
    y, m = map(int, result.start.split("-"))
    idx = y * 12 + m - 1 + int(month)
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def format_run_summary(result: RunResult) -> str:
    """A few lines a commissioner can read: fate, why it closed, people, families and money.

    The "Why it closed" block follows the closure line when the run's outputs carry the
    explanation of the closure (:func:`experiments.reports.causes.run_explanation_lines`).
    """
    o = result.outputs
    lines = [f"{result.scenario} (seed {result.seed}, go-live {result.start})"]
    if o["survived"]:
        lines.append(f"  Survived the {o['end_month']}-month horizon with {o['teams_end']} "
                     f"team(s) (peak {o['teams_peak']}).")
    else:
        m = int(o["closure_month"])
        lines.append(f"  Closed in month {m} ({_month_label(result, m)}, {years_decimal(m)} years): "
                     f"{CAUSE_TEXT.get(o['closure_cause'], o['closure_cause'])}.")
        why = run_explanation_lines(o)
        if why:
            lines.append("  Why it closed:")
            lines += [f"    {line}" for line in why]
        lines.append(f"  Teams at peak: {o['teams_peak']}.")
    lines.append(f"  Phase reached: {o['phase_reached'].replace('_', ' ')}.")
    if not math.isnan(o["first_expansion_month"]):
        lines.append(f"  First expansion in month {int(o['first_expansion_month'])}.")
    lines.append(f"  Families: {o['families_referred']} referred, {o['families_treated']} treated, "
                 f"{o['families_succeeded']} succeeded, {o['families_usual_care']} to usual care "
                 f"in the trial, {o['families_lost_waiting']} lost from the waiting list.")
    lines.append(f"  Utilisation of caseload slots: {percent(o['utilisation'])}.")
    lines.append(f"  Cost {money(o['cost'])}, placement savings {money(o['savings'])}, "
                 f"net cost {money(o['net_cost'])}.")
    lines.append(f"  Leader changes: {o['leader_changes']}; supervisor changes: "
                 f"{o['supervisor_changes']}; therapist departures: {o['therapist_departures']}; "
                 f"posts cut: {o['posts_cut']}.")
    lines.append(f"  Months with all three toxic-trio stressors: {o['toxic_trio_months']}.")
    if result.log:
        lines.append("  Key events:")
        for month, text in result.log[:25]:
            lines.append(f"    month {month:>3} ({_month_label(result, month)}): {text}")
        if len(result.log) > 25:
            lines.append(f"    ... and {len(result.log) - 25} more")
    return "\n".join(lines)


def format_survival_table(table: pd.DataFrame) -> str:
    """Fixed-width text of the survival table for the terminal.

    Args:
        table: Output of :func:`experiments.analysis.survival.survival_table` (indexed by variant).

    Returns:
        One header line and one line per variant: runs, P(alive) at 2, 5 and 10 years with
        95% intervals, median survival in months and the most common closure cause.
    """
    from experiments.analysis.survival import cause_label

    def cell(r, t):
        return probability_interval(getattr(r, f"p_alive_{t}", math.nan),
                                    getattr(r, f"p_alive_{t}_low", math.nan),
                                    getattr(r, f"p_alive_{t}_high", math.nan), sep="-")

    width = max([28] + [len(str(v)) for v in table.index])
    lines = [f"{'scenario':<{width}} {'runs':>5} {'P(alive) 2y':>16} {'5y':>16} {'10y':>16} "
             f"{'median':>7}  main closure cause"]
    shares = [c for c in table.columns if c.startswith("share_")]
    for variant, r in zip(table.index, table.itertuples(index=False), strict=True):
        row = table.loc[variant]
        cause = "none"
        if shares and row[shares].astype(float).max() > 0:
            best = row[shares].astype(float).idxmax()
            cause = f"{cause_label(best.removeprefix('share_'))} ({percent(row[best])} of runs)"
        lines.append(f"{str(variant):<{width}} {int(r.n):>5} {cell(r, 24):>16} {cell(r, 60):>16} "
                     f"{cell(r, 120):>16} {median_short(r.median_months, r.horizon):>7}  {cause}")
    share = [c for c in ("p_alive_60_parameter_share", "rmst_parameter_share") if c in table.columns]
    if share:
        col = share[0]
        parts = [f"{v} {percent(float(x))}" for v, x in table[col].items() if pd.notna(x)]
        what = "5-year survival" if col.startswith("p_alive") else "months of service"
        lines.append(f"Intervals cover parameter uncertainty and chance (posterior mode). Share of "
                     f"the run-to-run spread of {what} due to parameters: " + "; ".join(parts)
                     + "; the rest is chance.")
    return "\n".join(lines)


def format_why_text(runs: pd.DataFrame, top: int = 3) -> str:
    """Terminal text "Why services like this close": a few sentences per variant.

    The survival table says *when* services closed (the decision path); this says *why*
    (:func:`experiments.reports.causes.why_lines`). For run tables without the explanation
    columns it says, in one line, that the explanation is not available.

    Args:
        runs: The run table.
        top: Sentences per variant at most (besides the count of unexplained closures).
    """
    from experiments.analysis.causes import explanations_available

    if not explanations_available(runs):
        return f"Why services like this close: {NOT_AVAILABLE}"
    lines = ["Why services like this close:"]
    for v in map(str, pd.unique(runs["variant"].astype(str))):
        lines.append(f"  {v}:")
        lines += [f"    {line}" for line in why_lines(runs, v, top)]
    return "\n".join(lines)
