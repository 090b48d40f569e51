"""Other closure paths: staffing collapse and the licence (docs/ODD.md §7.15).

Also the closure itself, which every closing decision ends in. Draws nothing.
"""

from __future__ import annotations

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
    from sim.processes import workforce

    limit = model.p.staffing_collapse_months
    for team in list(model.teams):
        if team.months_without_cover >= limit or team.months_understaffed >= limit:
            if len(model.teams) > 1:
                workforce.close_team(model, team, "it could no longer deliver")
            else:
                close_service(model, "staffing_collapse")
                return
    if model.failed_reviews >= 2:
        close_service(model, "licence")
