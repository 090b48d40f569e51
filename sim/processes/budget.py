"""The LA's budget: the budget round, cuts, cut proposals and expansion (docs/ODD.md §7.12-§7.14).

Defence and pressure are measured in :mod:`sim.processes.defence` (read off the model as
``model.compute_defence()`` and ``model.compute_pressure()``); the grant taper and austerity come from
the calendar (:mod:`sim.calendar`). Decisions draw from the decisions' stream ``model.r_dec``.
"""

from __future__ import annotations

from sim.numeric import fill_time, logistic
from sim.processes import closure, referrals, workforce
from sim.team import Team


def budget_round_or_cut_proposal(model) -> None:
    """Step 10 (after the accounts): the April budget round, else at most one cut proposal."""
    if model.cal.is_april and model.month >= 12:
        budget_round(model)
        return
    share = model.cal.grant_share
    # Ad-hoc cut proposals from new, short-termist, unsupportive senior leaders (001:1557).
    for ld in model.leaders:
        if ld.proposes_cut(model.p, model.r_dec):
            model.note(f"new {ld.role.replace('_', ' ')} proposed cutting MST")
            budget_decision(model, "cut_proposal", share)
            return


def budget_round(model) -> None:
    """The April budget round: continue, cut a post, close or expand (§7.13)."""
    budget_decision(model, "budget_round", model.cal.grant_share)  # the coming year's share
    if model.closed:
        return
    # An interim left drifting: the round commits to recruiting if it continues.
    for team in model.teams:
        if team.supervisor is not None and team.supervisor.interim and team.supervisor_timer is None:
            team.supervisor_timer = fill_time(model.r_work, model.p.supervisor_fill_months)




def budget_decision(model, cause: str, grant_share: float) -> None:
    """A decision on the service's budget: close, cut a post, continue or (in April) expand.

    Args:
        model: The model.
        cause: The closure cause if it closes (``budget_round``, ``cut_proposal``,
            ``in_year_cut`` or ``co_funder_withdrawal``); only a budget round can expand.
        grant_share: The grant's share of cost the decision weighs.
    """
    p, r = model.p, model.r_dec
    is_protected = closure.protected(model)
    model.defence = model.compute_defence()
    model.pressure = model.compute_pressure(grant_share)
    margin = model.defence - model.pressure
    if not is_protected and closure.decide_close(model, margin):
        closure.close_service(model, cause)
        return
    if is_protected:
        return
    if margin < p.cut_margin:
        team = max(model.teams, key=lambda t: (t.vacancies, t.index))
        if team.posts > 2 and r.random() < logistic((p.cut_margin - margin) / p.decision_scale):
            cut_post(model, team)
        return
    if cause == "budget_round":
        consider_expansion(model)


def consider_expansion(model) -> None:
    """At a budget round with unmet demand and no trial protocol, perhaps add a team.

    A new team commits the LA beyond any grant: it is judged on the full, unsubsidised cost of
    the service with the new team included.
    """
    p, r = model.p, model.r_dec
    lost = sum(model.past_year["lost"])
    capacity = sum(t.posts for t in model.teams) * p.caseload_cap * 12 / p.episode_months
    excess = lost + len(model.waiting) >= 0.2 * capacity
    if not excess or model.cal.trial_protocol:
        return
    margin_after = model.defence - model.compute_pressure(0.0, p.team_cost)
    if (margin_after > p.expand_margin
            and r.random() < logistic((margin_after - p.expand_margin) / p.decision_scale)):
        workforce.new_team(model)
        totals = model.totals
        totals["expansions"] += 1
        totals["peak_teams"] = max(totals["peak_teams"], len(model.teams))
        if model.first_expansion is None:
            model.first_expansion = model.month
        model.note(f"expanded to {len(model.teams)} teams")


def cut_post(model, team: Team) -> None:
    """Cut one therapist post: a vacant one if any, else the lightest caseload's holder leaves."""
    team.posts -= 1
    model.totals["cuts"] += 1
    model.note(f"a therapist post cut in team {team.index + 1}")
    if len(team.therapists) <= team.posts:  # a post was vacant: stop recruiting to it
        team.drop_timer()
    elif team.therapists:
        th = min(team.therapists, key=lambda t: len(t.cases))
        team.therapists.remove(th)
        for case in th.cases:
            referrals.requeue(model, case)
        th.cases = []
        th.remove()
