"""Other closure paths: staffing collapse and the licence (docs/ODD.md §7.15).

Also the closure itself, which every closing decision ends in, the closure decision rule that
the budget round and the viability review share (one draw on ``r_dec``), and the closure of one
of several teams.
"""

from __future__ import annotations

from sim.numeric import logistic
from sim.processes import referrals
from sim.team import Team

CLOSURE_CAUSES = ("budget_round", "viability_review", "cut_proposal", "in_year_cut",
                  "staffing_collapse", "licence", "co_funder_withdrawal")


def close_service(model, cause: str) -> None:
    """Close the service for ``cause`` (one of ``CLOSURE_CAUSES``); the month ends."""
    model.closed = True
    model.closure_month = model.month
    model.closure_cause = cause
    model.running = False
    model.note(f"service closed ({cause.replace('_', ' ')})")


def implementation_review(model) -> None:
    """The Program Implementation Review of fidelity (002:26); two failures lose the licence."""
    ths = [t for team in model.teams for t in team.therapists]
    if not ths:
        return
    mean_adh = sum(t.adherence for t in ths) / len(ths)
    if mean_adh < model.p.pir_fail_adherence:
        model.failed_reviews += 1
        model.note(f"implementation review failed (adherence {mean_adh:.2f})")
    else:
        model.failed_reviews = 0


def six_monthly_implementation_review(model) -> None:
    """Step 7b: the implementation review in months divisible by 6."""
    if model.month % 6 == 0:
        implementation_review(model)


def closure_checks(model) -> None:
    """Step 11: a team without cover or staff too long collapses; two failed reviews, licence."""
    limit = model.p.staffing_collapse_months
    for team in list(model.teams):
        if team.months_without_cover >= limit or team.months_understaffed >= limit:
            if len(model.teams) > 1:
                close_team(model, team, "it could no longer deliver")
            else:
                close_service(model, "staffing_collapse")
                return
    if model.failed_reviews >= 2:
        close_service(model, "licence")


def decide_close(model, margin: float) -> bool:
    """Whether the LA closes the service at this defence-minus-pressure margin (one draw)."""
    p = model.p
    return model.r_dec.random() < logistic((p.close_margin - margin) / p.decision_scale)



def protected(model) -> bool:
    """Ring-fenced or outcome-contract funding: cost decisions cannot close or cut."""
    years = model.levers.protected_funding_years
    return model.month < 12 * (years + 1) and years > 0



def close_team(model, team: Team, why: str) -> None:
    """Close one of several teams; its families go back to the waiting list."""
    for th in team.therapists:
        for case in th.cases:
            referrals.requeue(model, case)
        th.remove()
    if team.supervisor is not None:
        team.supervisor.remove()
    model.teams.remove(team)
    for i, t in enumerate(model.teams):
        t.index = i
    model.note(f"a team closed ({why})")
