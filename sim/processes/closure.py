"""Other closure paths: staffing collapse and the licence (docs/ODD.md §7.15).

Also the closure itself, which every closing decision ends in, the closure decision rule that
the budget round and the viability review share (one draw on ``r_dec``), and the closure of one
of several teams.
"""

from __future__ import annotations

from sim.explanation import explain
from sim.numeric import logistic
from sim.processes import buffers, referrals
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


CONTINUE, CUT, CLOSE = "continue", "cut", "close"


def decision_rule(margin: float, can_cut: bool, close_margin: float, scale: float,
                  u: float) -> str:
    """Cut before close (MODEL.md §5.1): the outcome of one decision on the service.

    A positive margin continues. A small negative margin (at or above ``close_margin``) cuts a
    post when a cut is possible. Otherwise (no cut possible, or below the closure threshold)
    the service closes with probability ``logistic((close_margin - margin) / scale)``; if it
    does not, it is cut when it can be, else it continues.

    Args:
        margin: The decision margin.
        can_cut: Whether a post can be cut (more than two posts, no cut in the last 12 months).
        close_margin: The margin at which closure is a coin flip (the closure threshold).
        scale: Spread of the logistic in margin units.
        u: A uniform draw in [0, 1).

    Returns:
        ``"continue"``, ``"cut"`` or ``"close"``.
    """
    if margin >= 0.0:
        return CONTINUE
    if can_cut and margin >= close_margin:
        return CUT
    if u < logistic((close_margin - margin) / scale):
        return CLOSE
    return CUT if can_cut else CONTINUE


def can_cut(model, team: Team) -> bool:
    """A post can be cut: the team has more than two posts and none was cut in 12 months."""
    recent = model.last_cut_month is not None and model.month - model.last_cut_month < 12
    return team.posts > 2 and not recent


def decide(model, standing, team: Team, *, allow_cut: bool = True) -> tuple[str, float]:
    """Decide on the service at ``standing`` (one draw on ``r_dec``); record the reference.

    A decision whose margin is positive becomes the reference of a later closure's
    explanation; a closing decision builds ``model.explanation`` (ODD §7.22).

    Args:
        model: The model.
        standing: The inputs of the decision.
        team: The team a cut would fall on.
        allow_cut: False for a viability review, whose choice is to recruit, to leave the
            interim drifting or to close (MODEL.md §5.2), never to cut.

    Returns:
        The outcome of :func:`decision_rule` and the margin.
    """
    p = model.p
    margin = model.margin_at(standing)
    outcome = decision_rule(margin, allow_cut and can_cut(model, team), p.close_margin,
                            p.decision_scale, model.r_dec.random())
    if margin > 0.0:
        model.reference = (model.month, standing, margin)
    elif outcome == CLOSE:
        explain_closure(model, standing)
    return outcome, margin


def explain_closure(model, final) -> None:
    """Decompose the fall of the margin since the reference decision (exact Shapley values)."""
    month, ref, _ = model.reference
    p, size = model.p, model.size

    def margin(x):
        return buffers.margin_of({**x, "size": size}, p)

    model.explanation = explain(margin, ref.inputs(), final.inputs(), buffers.INPUT_GROUPS,
                                reference_month=month, closure_month=model.month,
                                events=model.cause_log)



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
