"""Cases and outcomes: treatment starts, progresses and closes (docs/ODD.md §7.8).

Draws from the cases' stream ``model.r_case``.
"""

from __future__ import annotations

from agents import Therapist
from sim.cases import Case

# Relative chance that a family comes back to social care, by outcome.
CAME_BACK_FACTOR = {"success": 0.5, "partial": 1.0, "failure": 1.6, "dropout": 1.6}


def start_case(model, th: Therapist, case: Case) -> None:
    """Start (or resume) a family's treatment with therapist ``th``.

    The waiting list runs this rule inlined (:func:`sim.processes.referrals.allocate_waiting_list`,
    a hot loop); the two must stay the same.
    """
    r = model.r_case
    case.start = model.month
    case.planned_end = model.month + max(2, round(r.gauss(model.p.episode_months, 0.7)))
    if case.resumed:
        case.engagement *= 0.85  # a family passed between workers re-engages less
    else:
        case.engagement = 0.75 + 0.5 * r.random()
        model.totals["treated"] += 1
    th.cases.append(case)


def treat_caseload(model, th: Therapist) -> tuple[int, int]:
    """A month of ``th``'s cases: dropouts, and outcomes of episodes that end.

    Returns:
        The month's successes and failures (dropouts count as failures).
    """
    treat_caseloads(model, (th,))
    return th.successes, th.failures


def treat_caseloads(model, therapists) -> None:
    """:func:`treat_caseload` for each of ``therapists`` in turn (a team's month, ODD §7.8).

    One call per team rather than per therapist, the month's constants looked up once. Each
    therapist's ``successes`` and ``failures`` are this month's. A case that ends is closed
    here (the only implementation of that rule, inlined in this hot loop): its outcome is
    recorded, with the savings it brings; one draw decides whether the family comes back to
    social care (more often after a poor outcome, ``CAME_BACK_FACTOR``); and word reaches the
    referrer, if still in post, of a family that came back or succeeded (the referrer's
    sticky attitude, documented on :class:`agents.Referrer`).
    """
    p = model.p
    rand = model.r_case.random
    month = model.month
    totals = model.totals
    drop_monthly = p.dropout_rate / p.episode_months
    base_success = p.base_success
    came_back_share = p.came_back_share
    slot = month % 12
    past = model.past_year
    closed, succeeded, came_back_count = past["closed"], past["success"], past["came_back"]
    for th in therapists:
        cases = th.cases
        if not cases:
            th.successes = th.failures = 0
            continue
        open_cases = []
        # clip(p.base_success * th.adherence / 0.8 * case.engagement), its per-therapist part
        # evaluated once (the same operations in the same order).
        base = base_success * th.adherence / 0.8
        totals["case_months"] += len(cases)
        successes = failures = 0
        for case in cases:
            if rand() < drop_monthly:
                outcome = "dropout"
                failures += 1
            elif month >= case.planned_end:
                ps = base * case.engagement
                ps = 0.0 if ps < 0.0 else (1.0 if ps > 1.0 else ps)
                u = rand()
                if u < ps:
                    outcome = "success"
                    successes += 1
                elif u < ps + 0.5 * (1.0 - ps):
                    outcome = "partial"
                else:
                    outcome = "failure"
                    failures += 1
            else:
                open_cases.append(case)
                continue
            # The case closes: its outcome, whether the family comes back (one draw), savings.
            case.outcome = outcome
            back = came_back_share * CAME_BACK_FACTOR[outcome]
            back = 0.0 if back < 0.0 else (1.0 if back > 1.0 else back)
            case.came_back = came_back = rand() < back
            closed[slot] += 1
            if outcome == "success":
                succeeded[slot] += 1
                totals["succeeded"] += 1
                model.savings_month += p.placement_months_avoided * 4.33 * p.placement_cost_week
            elif outcome == "partial":
                model.savings_month += 0.5 * p.placement_months_avoided * 4.33 * p.placement_cost_week
            if came_back:
                came_back_count[slot] += 1
                totals["came_back"] += 1
            # Word reaches a referrer still in post only of a family that came back or
            # succeeded.
            ref = case.referrer
            if (came_back or outcome == "success") and ref is not None and ref.in_post:
                # A family "coming back" weighs more where MST was oversold (001:1296, 001:1941).
                signal = -(p.came_back_oversold_weight if model.oversold else 1.0) if came_back else 1.0
                # The referrer's sticky attitude moves toward the signal, within -1..1 (the
                # rule documented on Referrer; min and max as the conditionals).
                stick = p.attitude_stickiness
                a = stick * ref.attitude + (1.0 - stick) * signal
                a = a if a > -1.0 else -1.0
                ref.attitude = a if a < 1.0 else 1.0
        th.cases = open_cases
        th.successes, th.failures = successes, failures
