"""Defence, pressure, the budget round, cuts, cut proposals and expansion (ODD §7.12-§7.14, §7.17)."""

from __future__ import annotations

import pytest
from mechanism_helpers import (
    fix_margin,
    force,
    give_cases,
    make_model,
    money_month,
)

from sim.cases import Case
from sim.processes import budget, buffers, partnership, workforce


def test_cutting_a_post_reduces_posts_staff_and_cost_but_not_the_fixed_block():
    m = make_model(team_cost=400_000.0, fixed_cost=100_000.0)
    team = m.teams[0]
    give_cases(m, team, 2)
    team.therapists[2].cases = team.therapists[2].cases[:1]
    lightest = team.therapists[2]
    cost = m.annual_cost()
    posts = team.posts
    workforce.cut_post(m, team)
    assert team.posts == posts - 1
    assert lightest not in team.therapists and len(team.therapists) == posts - 1
    assert len(m.waiting) == 1  # its family goes back to the panel
    assert m.totals["cuts"] == 1
    saving = cost - m.annual_cost()
    assert 0 < saving < 400_000.0 / posts  # the fixed block stays: unit cost rises
    # A vacant post is cut before anyone is made to leave.
    workforce.therapist_exit(m, team, team.therapists[0])
    staff = len(team.therapists)
    workforce.cut_post(m, team)
    assert len(team.therapists) == staff and team.vacancies == 0 and team.vacancy_timers == []


def pressure(m, grant_share):
    """The pressure on ``m`` before the buffers, weighing ``grant_share`` of the cost."""
    return buffers.pressure_of(m.standing(grant_share).inputs(), m.p)


def test_pressure_rises_with_budget_cuts_and_falls_with_grant():
    m = make_model()
    full = pressure(m, 0.0)
    assert pressure(m, 1.0) < pressure(m, 0.67) < pressure(m, 0.33) < full
    m.scripted_budget_factor = 0.8
    assert pressure(m, 0.0) > full


def test_scripted_budget_cut_raises_pressure_and_cuts_a_post():
    # Go-live March 2009: month 1 is already the second financial year (grant share 0.67).
    m = make_model(run={"start": "2009-03"},
                   events=[{"month": 2, "kind": "budget_cut", "fraction": 0.5}],
                   close_margin=-0.7, decision_scale=0.05, cut_proposal_rate=0.0)
    force(m, therapist_exit_rate=0.0, supervisor_exit_rate=0.0)
    m.step()
    assert m.cal.grant_share == pytest.approx(0.67)
    before = pressure(m, m.cal.grant_share)
    m.scripted_budget_factor = 0.5
    after = pressure(m, m.cal.grant_share)
    m.scripted_budget_factor = 1.0
    assert after > before
    fix_margin(m, -0.1)  # a small negative margin, above the closure threshold: cut, not close
    capacity = sum(t.posts for t in m.teams) * m.p.caseload_cap
    m.step()
    assert (2, "scripted event: budget_cut") in m.log
    assert m.scripted_budget_factor == pytest.approx(0.5)
    assert not m.closed
    assert m.totals["cuts"] == 1
    assert sum(t.posts for t in m.teams) * m.p.caseload_cap < capacity


def test_budget_decision_bands():
    params = dict(close_margin=-0.7, decision_scale=0.05, expand_margin=0.3)
    closing = make_model(**params)
    fix_margin(closing, -10.0)
    budget.budget_decision(closing, "budget_round", 0.0)
    assert closing.closed and closing.closure_cause == "budget_round"
    steady = make_model(**params)
    fix_margin(steady, 0.1)
    budget.budget_decision(steady, "budget_round", 0.0)
    assert not steady.closed and steady.totals["cuts"] == 0 and len(steady.teams) == 1
    # Cut before close: a small negative margin cuts; a second within 12 months cannot cut and
    # is decided on closure (certain here: far below the threshold would close, -0.2 does not).
    squeezed = make_model(**params)
    fix_margin(squeezed, -0.2)
    budget.budget_decision(squeezed, "budget_round", 0.0)
    assert not squeezed.closed and squeezed.totals["cuts"] == 1
    budget.budget_decision(squeezed, "budget_round", 0.0)
    assert squeezed.totals["cuts"] == 1  # cut in the last 12 months: no second cut
    squeezed.month += 12
    budget.budget_decision(squeezed, "budget_round", 0.0)
    assert squeezed.totals["cuts"] == 2 and squeezed.teams[0].posts == 2
    squeezed.month += 12
    budget.budget_decision(squeezed, "budget_round", 0.0)
    assert squeezed.totals["cuts"] == 2  # at two posts nothing more is cut


def test_expansion_needs_margin_demand_and_no_trial_protocol():
    def ready(site=None, run=None):
        m = make_model(site=site, run=run, expand_margin=0.0, decision_scale=0.05)
        fix_margin(m, 10.0)
        m.waiting = [Case(None, 0) for _ in range(30)]
        return m
    m = ready()
    budget.budget_decision(m, "budget_round", 0.0)
    assert len(m.teams) == 2 and m.totals["expansions"] == 1 and m.programme_manager
    no_demand = ready()
    no_demand.waiting = []
    budget.budget_decision(no_demand, "budget_round", 0.0)
    assert len(no_demand.teams) == 1
    trial = ready(site={"research_trial": True})
    assert trial.cal.trial_protocol
    budget.budget_decision(trial, "budget_round", 0.0)
    assert len(trial.teams) == 1


def test_short_termist_newcomer_proposes_a_cut():
    m = make_model(leaders=[{"role": "director_childrens_services", "stance": "hostile"}])
    force(m, cut_proposal_rate=50.0)
    ld = m.leaders[0]
    ld.short_termism = 1.0
    fix_margin(m, -10.0)
    money_month(m)
    assert not m.closed  # a founding leader who agreed the launch does not
    ld.newcomer = True
    money_month(m)
    assert m.closed and m.closure_cause == "cut_proposal"
    # An established leader (tenure > 12 months) does not.
    m2 = make_model(leaders=[{"role": "director_childrens_services", "stance": "hostile"}])
    force(m2, cut_proposal_rate=50.0)
    m2.leaders[0].short_termism = 1.0
    m2.leaders[0].newcomer = True
    m2.leaders[0].tenure = 13
    fix_margin(m2, -10.0)
    money_month(m2)
    assert not m2.closed


def test_co_funding_lowers_pressure_and_withdrawal_triggers_a_decision(monkeypatch):
    plain = make_model()
    cofunded = make_model(levers={"co_funding": 0.4})
    camhs = cofunded.partners[0]
    assert camhs.agency == "camhs" and camhs.co_funding == 0.4
    assert cofunded.co_funding_share() == pytest.approx(0.4)
    assert pressure(cofunded, 0.0) < pressure(plain, 0.0)

    calls = []
    original = budget.budget_decision
    monkeypatch.setattr(budget, "budget_decision", lambda model, cause, share: (
        calls.append(cause), original(model, cause, share)))
    fix_margin(cofunded, -10.0)
    partnership.partner_withdraws(cofunded, camhs, entirely=False)
    assert calls == ["co_funder_withdrawal"]
    assert cofunded.co_funding_share() == 0.0
    assert cofunded.closed and cofunded.closure_cause == "co_funder_withdrawal"
    # A partner with no money in the service withdraws without a budget decision.
    calls.clear()
    other = make_model(levers={"co_funding": 0.4})
    monkeypatch.setattr(budget, "budget_decision",
                        lambda model, cause, share: calls.append(cause))
    partnership.partner_withdraws(other, other.partners[1], entirely=True)
    assert calls == [] and not other.partners[1].active


def test_scripted_co_funding_end_triggers_a_decision(monkeypatch):
    m = make_model(levers={"co_funding": 0.3, "protected_funding_years": 1},
                   events=[{"month": 3, "kind": "co_funding_ends"}])
    calls = []
    original = budget.budget_decision
    monkeypatch.setattr(budget, "budget_decision", lambda model, cause, share: (
        calls.append(cause), original(model, cause, share)))
    for _ in range(3):
        m.step()
    assert "co_funder_withdrawal" in calls
    assert m.co_funding_share() == 0.0 and m.partners[0].active


def test_protected_funding_years_prevent_closure_at_budget_rounds():
    for month, closes in ((0, False), (12, False), (23, False), (24, True)):
        m = make_model(levers={"protected_funding_years": 1})
        fix_margin(m, -10.0)
        m.month = month
        budget.budget_decision(m, "budget_round", 0.0)
        assert m.closed is closes
        assert m.totals["cuts"] == 0
    unprotected = make_model()
    fix_margin(unprotected, -10.0)
    budget.budget_decision(unprotected, "budget_round", 0.0)
    assert unprotected.closed
    review = make_model(levers={"protected_funding_years": 1})
    fix_margin(review, -10.0)
    workforce.supervisor_exit(review, review.teams[0])
    assert not review.closed


def test_an_in_year_cut_never_expands_the_service():
    m = make_model(expand_margin=0.0, decision_scale=0.05)
    fix_margin(m, 10.0)
    m.waiting = [Case(None, 0) for _ in range(30)]
    budget.budget_decision(m, "in_year_cut", 0.0)
    assert len(m.teams) == 1 and m.totals["expansions"] == 0
    budget.budget_decision(m, "budget_round", 0.0)
    assert len(m.teams) == 2  # the same margin and demand expand at the April round


def test_cutting_a_post_raises_unit_cost_pressure():
    m = make_model(team_cost=400_000.0, fixed_cost=100_000.0, unit_cost_penalty=0.5)
    m.utilisation = 1.0
    assert m.unit_cost_excess() == pytest.approx(0.0)
    workforce.cut_post(m, m.teams[0])
    assert m.unit_cost_excess() > 0.05  # the fixed block now falls on fewer posts
