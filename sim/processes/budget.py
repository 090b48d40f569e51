"""The LA's budget: the budget round, cuts, cut proposals and expansion (docs/ODD.md §7.12-§7.14).

Buffers, reserve and pressure are read in :mod:`sim.processes.buffers` (``model.standing()``);
every decision follows the cut-before-close rule of :mod:`sim.processes.closure`; the grant
taper and austerity come from the calendar (:mod:`sim.calendar`). Decisions draw from the
decisions' stream ``model.r_dec``.
"""

from __future__ import annotations

from dataclasses import replace

from sim.numeric import fill_time, logistic
from sim.processes import closure, leadership, workforce


def budget_round_or_cut_proposal(model) -> None:
    """Step 10 (after the accounts): the April budget round, else at most one cut proposal."""
    if model.cal.is_april and model.month >= 12:
        budget_round(model)
        return
    share = model.cal.grant_share
    # Ad-hoc cut proposals from new, short-termist, unsupportive senior leaders (001:1557);
    # a patron stops any from their line of management (001:1850).
    for ld in model.leaders:
        # Only a newcomer can propose a cut (Leader.proposes_cut): the others are skipped
        # without the call (read every leader-month).
        if ld.newcomer and ld.proposes_cut(model.p, model.r_dec):
            role = ld.role.replace("_", " ")
            patron = leadership.patron_over(model, ld)
            if patron is not None:
                model.note(f"new {role} proposed cutting MST; the patron "
                           f"({patron.role.replace('_', ' ')}) stopped it")
                return
            model.note(f"new {role} proposed cutting MST")
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
    """A decision on the service's budget: cut before close; in April perhaps expand (§7.13).

    Args:
        model: The model.
        cause: The closure cause if it closes (``budget_round``, ``cut_proposal``,
            ``in_year_cut`` or ``co_funder_withdrawal``); only a budget round can expand.
        grant_share: The grant's share of cost the decision weighs.
    """
    if closure.protected(model):
        return  # ring-fenced: cost decisions cannot close or cut
    team = max(model.teams, key=lambda t: (t.vacancies, t.index))
    standing = model.standing(grant_share)
    outcome, margin = closure.decide(model, standing, team)
    if outcome == closure.CLOSE:
        closure.close_service(model, cause)
    elif outcome == closure.CUT:
        workforce.cut_post(model, team)
    elif cause == "budget_round":
        consider_expansion(model, standing)


def consider_expansion(model, standing) -> None:
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
    after = replace(standing, grant_share=0.0, cost=standing.cost + p.team_cost)
    margin_after = model.margin_at(after)
    if (margin_after > p.expand_margin
            and r.random() < logistic((margin_after - p.expand_margin) / p.decision_scale)):
        workforce.new_team(model)
        totals = model.totals
        totals["expansions"] += 1
        totals["peak_teams"] = max(totals["peak_teams"], len(model.teams))
        if model.first_expansion is None:
            model.first_expansion = model.month
        model.note(f"expanded to {len(model.teams)} teams")
