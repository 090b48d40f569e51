"""Therapists, supervisor, recruitment and the viability review (ODD §7.8-§7.11)."""

from __future__ import annotations

import pytest
from mechanism_helpers import (
    fix_margin,
    force,
    give_cases,
    make_model,
)

from sim.cases import Case
from sim.processes import referrals, workforce


def test_therapist_departure_loads_colleagues_and_vacancy_is_filled():
    m = make_model(therapist_fill_months=2.0)
    force(m, therapist_exit_rate=0.0, supervisor_exit_rate=0.0, dropout_rate=0.0)
    team = m.teams[0]
    give_cases(m, team, 3)
    leaver, colleagues = team.therapists[0], team.therapists[1:]
    moved = list(leaver.cases)
    workforce.therapist_exit(m, team, leaver)
    assert leaver not in team.therapists
    assert sum(len(t.cases) for t in colleagues) == 3 * len(colleagues) + 3
    assert not m.waiting
    assert all(c.engagement < 1.0 for c in moved)  # families must re-engage
    assert team.vacancies == 1 and len(team.vacancy_timers) == 1
    assert m.totals["therapist_departures"] == 1
    for _ in range(36):
        workforce.team_month(m, team)
        if team.vacancies == 0:
            break
    assert team.vacancies == 0 and len(team.therapists) == team.posts
    assert team.vacancy_timers == []


def test_a_vacancy_raises_colleagues_strain():
    strain = {}
    for vacancy in (False, True):
        m = make_model(seed=2, strain_rate=0.1)
        force(m, therapist_exit_rate=0.0, supervisor_exit_rate=0.0, dropout_rate=0.0)
        team = m.teams[0]
        give_cases(m, team, 4)
        stay = team.therapists[1:]
        if vacancy:
            workforce.therapist_exit(m, team, team.therapists[0])
        workforce.team_month(m, team)
        strain[vacancy] = [t.strain for t in stay]
    assert all(v > n for v, n in zip(strain[True], strain[False], strict=True))


def _therapist_exit_rate(strain: float, months: int = 300) -> float:
    m = make_model(seed=7, therapist_exit_rate=0.35, strain_exit_multiplier=3.0)
    force(m, supervisor_exit_rate=0.0, dropout_rate=0.0)
    team = m.teams[0]
    exposure = 0
    for _ in range(months):
        for th in team.therapists:
            th.strain = strain
        exposure += len(team.therapists)
        workforce.team_month(m, team)
    return m.totals["therapist_departures"] / exposure


def test_strain_raises_therapist_exit_hazard():
    low, high = _therapist_exit_rate(0.0), _therapist_exit_rate(0.9)
    assert high > 2.0 * low
    assert 0.005 < low < 0.06  # about the base monthly hazard 0.35 / 12


def test_supervisor_departure_triggers_viability_review_and_interim():
    m = make_model(levers={"protected_funding_years": 2},
                   supervisor={"system_leadership": "very high", "clinical_skill": "high"})
    team = m.teams[0]
    old = team.supervisor
    therapists = len(team.therapists)
    workforce.supervisor_exit(m, team)
    assert not m.closed
    assert m.totals["reviews"] == 1 and m.totals["supervisor_changes"] == 1
    assert m.review_survived_months == [0]
    acting = team.supervisor
    assert acting is not old and acting.interim and acting.system_leadership == 0.0
    assert acting.clinical_skill < old.clinical_skill
    assert len(team.therapists) == therapists - 1  # acting up from the team
    assert m.first_supervisor_tenure == 0
    assert m.advocacy_capacity() == 0.0  # an interim does no system work


def test_viability_review_closes_a_weakly_defended_service():
    m = make_model()
    fix_margin(m, -10.0)
    workforce.supervisor_exit(m, m.teams[0])
    assert m.closed and m.closure_cause == "viability_review"
    assert m.review_survived_months == []
    strong = make_model()
    fix_margin(strong, 10.0)
    workforce.supervisor_exit(strong, strong.teams[0])
    assert not strong.closed
    assert strong.teams[0].supervisor_timer is not None  # recruit a permanent supervisor


def test_succession_planning_gives_a_short_vacancy_and_an_eased_review():
    m = make_model(levers={"succession_planning": True},
                   supervisor={"system_leadership": "very high"}, successor_system_leadership=0.3)
    force(m, supervisor_exit_rate=0.0, therapist_exit_rate=0.0)
    fix_margin(m, 1.0)
    team = m.teams[0]
    therapists = len(team.therapists)
    workforce.supervisor_exit(m, team)
    # The review is held (eased, not skipped); the successor is ready next month.
    assert m.totals["reviews"] == 1 and m.totals["supervisor_changes"] == 1
    assert team.supervisor is None and team.supervisor_timer == 1
    assert len(team.therapists) == therapists  # nobody acts up
    workforce.team_month(m, team)
    new = team.supervisor
    assert new is not None and not new.interim
    assert new.system_leadership >= 0.8 * 0.9 - 1e-12  # system leadership handed over


def test_succession_plan_and_patron_ease_the_review_strictness():
    seen = {}
    for levers, patron in (({}, False), ({"succession_planning": True}, False), ({}, True)):
        leaders = [{"role": "chief_executive", "stance": "neutral", "patron": patron},
                   {"role": "director_childrens_services", "stance": "neutral"}]
        m = make_model(levers=levers, leaders=leaders, review_strictness=0.4,
                       succession_review_relief=0.5, patron_review_relief=0.75)
        extras = []
        m.margin_at = lambda standing, extras=extras: extras.append(standing.review_extra) or 1.0
        workforce.supervisor_exit(m, m.teams[0])
        seen[(bool(levers), patron)] = extras[0]
    assert seen[(False, False)] == pytest.approx(0.4)
    assert seen[(True, False)] == pytest.approx(0.2)
    assert seen[(False, True)] == pytest.approx(0.1)


def test_an_interim_supervisor_leaving_is_not_a_second_review():
    m = make_model()
    force(m, supervisor_exit_rate=0.0, therapist_exit_rate=0.0)
    fix_margin(m, 1.0)
    team = m.teams[0]
    workforce.supervisor_exit(m, team)
    assert m.totals["reviews"] == 1 and team.supervisor.interim
    timer = team.supervisor_timer
    assert timer is not None
    workforce.supervisor_exit(m, team)  # the acting-up interim steps down
    assert m.totals["reviews"] == 1 and m.totals["supervisor_changes"] == 1
    assert team.supervisor_timer == timer  # the wait for a permanent supervisor is unchanged
    assert team.supervisor is not None and team.supervisor.interim  # another acts up


def _interim_made_permanent():
    """A model whose supervisor left and whose interim was made permanent a year on."""
    m = make_model(levers={"protected_funding_years": 2})
    force(m, therapist_exit_rate=0.0, supervisor_exit_rate=0.0, dropout_rate=0.0)
    team = m.teams[0]
    workforce.supervisor_exit(m, team)
    team.supervisor_timer = 1
    for _ in range(12):
        workforce.team_month(m, team)
    return m, team


def test_interim_made_permanent_keeps_vacancy_timers_consistent_with_vacancies():
    """After the interim returns to the team, the records must match the staff in post."""
    m, team = _interim_made_permanent()
    assert not team.supervisor.interim
    assert team.vacancies == 0
    assert len(team.vacancy_timers) == team.vacancies


def test_cutting_a_post_after_supervisor_turnover_reduces_staff():
    m, team = _interim_made_permanent()
    full = len(team.therapists)
    workforce.cut_post(m, team)
    assert len(team.therapists) == full - 1
    assert len(team.therapists) <= team.posts


def test_family_displaced_by_a_cut_is_reallocated_not_lost():
    m = make_model(waiting_list_limit_months=2.0)
    team = m.teams[0]
    m.month = 6
    for th in team.therapists:
        th.cases = []
    team.therapists[0].cases = [Case(None, 1, start=1, planned_end=999)]
    for th in team.therapists[1:]:
        th.cases = [Case(None, 1, start=1, planned_end=999) for _ in range(2)]
    workforce.cut_post(m, team)  # removes the therapist with the fewest cases
    assert len(m.waiting) == 1
    m.month = 7
    referrals.allocate_waiting_list(m)
    assert m.totals["dropped_waiting"] == 0
    assert team.caseload == 7


def test_supervisor_strain_raises_exit_hazard_up_to_a_cap():
    counts = {}
    for strain in (0.0, 1.0):
        m = make_model(seed=11, supervisor_exit_rate=0.3, strain_exit_multiplier=3.0,
                       supervisor_strain_cap=2.0, levers={"succession_planning": True})
        force(m, therapist_exit_rate=0.0)
        team = m.teams[0]
        exits = 0
        for _ in range(2400):
            if team.supervisor is None or team.supervisor.interim:
                workforce.appoint_supervisor(m, team)
            team.supervisor.strain = strain
            before = m.totals["supervisor_changes"]
            workforce.team_month(m, team)
            exits += m.totals["supervisor_changes"] - before
        counts[strain] = exits
    # Base monthly hazard 0.025; with full strain the multiplier is capped at 2 (not 5).
    assert counts[1.0] > 1.4 * counts[0.0]
    assert counts[1.0] < 3.0 * counts[0.0]


def test_a_patron_in_post_lowers_the_supervisors_strain():
    strain = {}
    for patron in (False, True):
        m = make_model(patron_strain_relief=0.04, leaders=[
            {"role": "chief_executive", "stance": "champion", "knowledge": "high",
             "patron": patron}])
        force(m, supervisor_exit_rate=0.0)
        assert m.has_patron() is patron
        team = m.teams[0]
        sup = team.supervisor
        sup.strain = 0.5
        workforce.supervisor_month(m, team, sup, False, 0.0)
        strain[patron] = sup.strain
    assert strain[True] == pytest.approx(strain[False] - 0.04)


OTHER_STREAMS = ("r_lead", "r_part", "r_ref", "r_work", "r_case", "r_dec")


def _states(m):
    return {name: getattr(m, name).getstate() for name in OTHER_STREAMS}


def test_the_programme_manager_costs_only_while_in_post_and_is_replaced_after_the_fill_time():
    kw = dict(supervisor={"system_leadership": 0.1}, programme_manager_cost=60_000.0,
              programme_manager_system=0.8, programme_manager_fill_months=4.0)
    m = make_model(levers={"programme_manager": "on"}, **kw)
    without = make_model(levers={"programme_manager": "off"}, **kw)
    assert m.programme_manager and not without.programme_manager
    assert m.annual_cost() == pytest.approx(without.annual_cost() + 60_000.0)
    assert m.advocacy_capacity() == pytest.approx(0.8)
    assert without.advocacy_capacity() == pytest.approx(0.1)

    force(m, programme_manager_exit_rate=24.0)  # certain to leave this month
    before, pm_before = _states(m), m.r_pm.getstate()
    workforce.programme_manager_month(m)
    assert _states(m) == before  # the draws are on the programme manager's own stream
    assert m.r_pm.getstate() != pm_before
    assert not m.programme_manager and m.programme_manager_post
    assert (m.month, "programme_manager_left") in m.cause_log
    assert m.annual_cost() == pytest.approx(without.annual_cost())  # a vacant post costs nothing
    assert m.advocacy_capacity() == pytest.approx(0.1)  # ...and gives no system leadership
    timer = m.pm_timer
    assert timer >= 1

    force(m, programme_manager_exit_rate=0.0)
    for _ in range(timer - 1):
        workforce.programme_manager_month(m)
        assert not m.programme_manager
    workforce.programme_manager_month(m)
    assert m.programme_manager and m.pm_timer is None
    assert m.annual_cost() == pytest.approx(without.annual_cost() + 60_000.0)
    assert m.advocacy_capacity() == pytest.approx(0.8)


def test_without_the_post_the_programme_managers_stream_is_not_drawn():
    m = make_model(levers={"programme_manager": "off"})
    force(m, programme_manager_exit_rate=24.0)
    state = m.r_pm.getstate()
    workforce.programme_manager_month(m)
    assert m.r_pm.getstate() == state and not m.programme_manager
