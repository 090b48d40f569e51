"""One run: a pure function from (scenario, seed) to a result object, with no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.explanation import CAUSE_GROUPS, format_events
from sim.model import PHASES, LocalAuthority
from sim.scenario import Scenario

SERIES_COLUMNS = ("teams", "staff", "therapists", "referrals_month", "caseload", "waiting_list",
                  "leadership_shield", "partnership_shield", "system_leadership", "reserve",
                  "exposure", "pressure", "pressure_landing", "margin", "partnership",
                  "leader_support", "leader_knowledge",
                  "referrer_awareness", "referrer_attitude", "hostility", "grant_share",
                  "cost_month", "savings_month")


@dataclass
class RunResult:
    """The outcome of one run.

    Attributes:
        scenario: The authority's name.
        seed: The seed the run used (an int, or a SeedSequence's entropy and spawn key).
        outputs: Scalar outputs of docs/ODD.md §7.20, keyed by snake_case name.
        series: Monthly series, one row per month from 0 (go-live) to the last simulated month.
        log: Notable events as ``(month, text)``.
        start: Calendar label of month 0 (``YYYY-MM``).
    """

    scenario: str
    seed: object
    outputs: dict
    series: pd.DataFrame = field(repr=False)
    log: list = field(default_factory=list, repr=False)
    start: str = ""


def simulate(scenario: Scenario, seed=0, *, series: bool = True) -> RunResult:
    """Run one scenario with one seed to its horizon or to closure.

    Args:
        scenario: A validated scenario (see :func:`sim.scenario.load_scenario`).
        seed: An integer or ``numpy.random.SeedSequence``; same seed, same result.
        series: Whether to build the monthly series DataFrame (ensembles may skip it).

    Returns:
        A :class:`RunResult`.
    """
    model = LocalAuthority(scenario, seed, collect_series=series)
    model.run()
    n = model.totals
    snap = model.snapshots
    closure = model.closure_month
    survived_reviews = model.review_survived_months
    since_review = (closure - survived_reviews[-1]) if (closure is not None and survived_reviews) else None
    end = closure if closure is not None else model.horizon
    # First supervisor's tenure: censored at closure or horizon if they never left.
    first_tenure = model.first_supervisor_tenure
    first_left = first_tenure is not None
    outputs = {
        "survived": closure is None,
        "closure_month": closure if closure is not None else math.nan,
        "closure_cause": model.closure_cause or "",
        "end_month": end,
        "phase_reached": PHASES[model.phase],
        "teams_peak": n["peak_teams"],
        "teams_end": model.teams_now,
        "families_referred": n["referrals"],
        "families_eligible": n["eligible"],
        "families_usual_care": n["usual_care"],
        "families_treated": n["treated"],
        "families_succeeded": n["succeeded"],
        "families_came_back": n["came_back"],
        "families_lost_waiting": n["dropped_waiting"],
        "utilisation": n["case_months"] / n["slot_months"] if n["slot_months"] else 0.0,
        "cost": round(n["cost"], 2),
        "savings": round(n["savings"], 2),
        "net_cost": round(n["cost"] - n["savings"], 2),
        "leader_changes": n["leader_changes"],
        "supervisor_changes": n["supervisor_changes"],
        "therapist_departures": n["therapist_departures"],
        "expansions": n["expansions"],
        "posts_cut": n["cuts"],
        "viability_reviews": n["reviews"],
        "first_expansion_month": model.first_expansion if model.first_expansion is not None else math.nan,
        "first_supervisor_tenure": first_tenure if first_left else end,
        "first_supervisor_left": first_left,
        "months_since_survived_review": since_review if since_review is not None else math.nan,
        "toxic_trio_months": n["toxic_trio_months"],
        "closure_grant_share": model.cal.grant_share if closure is not None else math.nan,
        "teams_96": snap[96][0] if 96 in snap else 0,
        "partnership_6": snap[6][1] if 6 in snap else math.nan,
        "partnership_36": snap[36][1] if 36 in snap else math.nan,
        **explanation_outputs(model),
    }
    frame = pd.DataFrame()
    if series:
        dc = model.datacollector.model_vars
        frame = pd.DataFrame({k: np.asarray(dc[k]) for k in SERIES_COLUMNS})
        frame.insert(0, "month", np.arange(len(frame)))
        frame.insert(1, "date", [model.calendar.label(m) for m in range(len(frame))])
    seed_repr = seed if isinstance(seed, int) else getattr(seed, "entropy", seed)
    return RunResult(scenario=scenario.name, seed=seed_repr, outputs=outputs, series=frame,
                     log=list(model.log), start=model.calendar.label(0))


def explanation_outputs(model: LocalAuthority) -> dict:
    """The closure's explanation and the mechanism measures, as scalar outputs (ODD §7.22).

    ``cause_<group>`` (each group's contribution to the fall of the margin), ``margin_fall``,
    ``margin_reference_month`` and ``closure_events`` for a closure; NaN / "" otherwise (and
    for a closure no decision took, which keeps only its window's events).
    """
    ex = model.explanation
    out = {f"cause_{g}": ex.causes[g] if ex is not None else math.nan for g in CAUSE_GROUPS}
    out["margin_fall"] = ex.margin_fall if ex is not None else math.nan
    out["margin_reference_month"] = ex.reference_month if ex is not None else math.nan
    if ex is not None:
        events = ex.events
    elif model.closed:
        start = model.reference[0]
        events = [(m, k) for m, k in model.cause_log if start < m <= model.closure_month]
    else:
        events = []
    out["closure_events"] = format_events(events)
    use = model.year2_use
    out["utilisation_year2"] = (sum(use) / len(use) if use and model.month >= 24 else math.nan)
    shields = model.shields_at_supervisor_exit
    out["leadership_shield_at_supervisor_exit"] = shields[0] if shields else math.nan
    out["partnership_shield_at_supervisor_exit"] = shields[1] if shields else math.nan
    out["patron_left_month"] = (model.patron_left_month if model.patron_left_month is not None
                                else math.nan)
    return out
