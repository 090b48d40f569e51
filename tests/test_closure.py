"""Other closure paths and the order of the month (ODD §3, §7.15)."""

from __future__ import annotations

from mechanism_helpers import (
    fix_margin,
    force,
    make_model,
)

from sim.processes import closure, workforce


def test_two_failed_implementation_reviews_close_with_licence():
    m = make_model(pir_fail_adherence=0.6)
    ths = m.teams[0].therapists
    for th in ths:
        th.adherence = 0.2
    closure.implementation_review(m)
    closure.closure_checks(m)
    assert not m.closed
    closure.implementation_review(m)
    closure.closure_checks(m)
    assert m.closed and m.closure_cause == "licence"


def test_a_passed_review_resets_the_licence_count():
    m = make_model(pir_fail_adherence=0.6)
    ths = m.teams[0].therapists
    for adherence in (0.2, 0.9, 0.2):
        for th in ths:
            th.adherence = adherence
        closure.implementation_review(m)
        closure.closure_checks(m)
    assert not m.closed


def test_team_without_supervisor_collapses_after_limit():
    m = make_model(staffing_collapse_months=3)
    force(m, therapist_exit_rate=0.0, supervisor_exit_rate=0.0)
    team = m.teams[0]
    workforce.team_month(m, team)
    assert team.operating
    team.supervisor.remove()
    team.supervisor = None
    team.supervisor_timer = None
    for month in (1, 2, 3):
        workforce.team_month(m, team)
        closure.closure_checks(m)
        assert team.months_without_cover == month
        assert m.closed is (month == 3)
    assert m.closure_cause == "staffing_collapse"


def test_closed_model_does_not_step():
    m = make_model(events=[{"month": 6, "kind": "budget_cut", "fraction": 0.5}])
    for _ in range(4):
        m.step()
    m.close("licence")
    rows = len(m.datacollector.model_vars["teams"])
    log = list(m.log)
    n = dict(m.totals)
    for _ in range(5):
        m.step()
    assert m.month == 4 and not m.running
    assert len(m.datacollector.model_vars["teams"]) == rows
    assert m.log == log and m.totals == n
    assert m.scripted_budget_factor == 1.0  # the month-6 event did not run
    m.run()
    assert m.month == 4


def test_a_closure_ends_the_month():
    # A co-funder's certain withdrawal in step 3 closes the service (no defence at all): the
    # referral pipeline of step 4 must not run, so its stream is untouched.
    m = make_model(levers={"co_funding": 0.4})
    force(m, co_funder_withdrawal_rate=1e6, partner_turnover_rate=0.0)
    fix_margin(m, -10.0)
    referrers = m.r_ref.getstate()
    m.step()
    assert m.closed and m.closure_cause == "co_funder_withdrawal"
    assert m.r_ref.getstate() == referrers and m.totals["referrals"] == 0
    assert m.waiting == []
