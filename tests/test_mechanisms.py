"""Unit tests of the model's mechanisms (MODEL.md §3-§7), one or a few per mechanism.

Each test builds a small scenario in code and drives one mechanism directly on a freshly
constructed :class:`sim.model.LocalAuthority`. Parameter defaults are being tuned, so no test
relies on a default value: the parameters a test depends on are pinned with
``Scenario.with_parameters`` (inside their plausible range), or, where a mechanism has to be forced
beyond that range (e.g. a certain exit), by replacing ``model.p`` on the test's own model
(:func:`force`). Decision rules are isolated by fixing ``compute_defence`` on the instance.
"""

from __future__ import annotations

import dataclasses
import re
import statistics

import pytest

from sim.calendar import GRANT_SHARES, Calendar, financial_year, month_index
from sim.cases import Case
from sim.model import LocalAuthority
from sim.scenario import parse_scenario

# --------------------------------------------------------------------------- helpers
LEADER_ROLES = (r"(chief executive|director childrens services|assistant director"
                r"|head of service|partner director)")


def make_scenario(site=None, leaders=None, partners=None, supervisor=None, levers=None,
                  events=None, run=None, **params):
    """A small neutral authority; every section can be replaced, parameters pinned by keyword."""
    data = {
        "site": {"name": "Test LA", "population": 250_000, "looked_after_children": 500,
                 **(site or {})},
        "leaders": leaders if leaders is not None else [
            {"role": "chief_executive", "stance": "neutral"},
            {"role": "director_childrens_services", "stance": "supportive"},
            {"role": "assistant_director", "stance": "supportive", "chairs_steering_group": True},
        ],
        "partners": partners if partners is not None else [
            {"agency": "camhs"}, {"agency": "yos"}, {"agency": "education"}],
        "supervisor": supervisor or {},
        "levers": levers or {},
        "events": events or [],
    }
    if run:
        data["run"] = run
    sc = parse_scenario(data)
    return sc.with_parameters(**params) if params else sc


def make_model(seed=0, **kw) -> LocalAuthority:
    return LocalAuthority(make_scenario(**kw), seed)


def force(m: LocalAuthority, **params) -> None:
    """Set parameters on one model, beyond their plausible range if need be (test-only)."""
    m.p = dataclasses.replace(m.p, **params)


def fix_defence(m: LocalAuthority, value: float) -> None:
    """Isolate a decision rule: the defence the service can muster is ``value``."""
    m.compute_defence = lambda: value


def give_cases(m: LocalAuthority, team, per_therapist: int, referred: int = 0) -> None:
    for th in team.therapists:
        th.cases = [Case(None, referred, start=referred, planned_end=999)
                    for _ in range(per_therapist)]


def leader_by_role(m, role):
    return next(ld for ld in m.leaders if ld.role == role)


# --------------------------------------------------------------------------- leader churn
def test_leader_exit_creates_newcomer_without_knowledge():
    m = make_model(leaders=[
        {"role": "chief_executive", "stance": "champion", "knowledge": "very high"},
        {"role": "director_childrens_services", "knowledge": "high"}])
    old = m.leaders[0]
    assert old.original and old.knowledge > 0.8
    m._leader_exit(old)
    new = m.leaders[0]
    assert new is not old and old not in m.leaders
    assert new.role == "chief_executive"
    assert new.knowledge == 0.0
    assert new.original is False
    assert new.tenure == 0
    assert m.n["leader_changes"] == 1
    assert len(m.leaders) == 2
    assert any(re.match(r"chief executive left", t) for _, t in m.log)


def test_interim_share_decides_whether_replacement_is_interim():
    for share, expect in ((0.0, False), (1.0, True)):
        m = make_model(interim_influence=0.5)
        force(m, interim_share=share)
        for _ in range(10):
            ld = leader_by_role(m, "director_childrens_services")
            m._leader_exit(ld)
            new = leader_by_role(m, "director_childrens_services")
            assert new.interim is expect
            if expect:
                assert new.interim_left >= 1
                assert not ld.interim and new.influence == pytest.approx(0.5 * ld.influence)
            # An interim never makes way for another interim.
            m._replace_leader(new, interim_allowed=False)
            assert leader_by_role(m, "director_childrens_services").interim is False
        assert m.n["leader_changes"] == 20


def test_interim_spell_ends_with_permanent_appointment():
    m = make_model()
    force(m, interim_share=1.0, chief_executive_exit_rate=0.0, dcs_exit_rate=0.0,
          assistant_director_exit_rate=0.0)
    m._leader_exit(leader_by_role(m, "chief_executive"))
    interim = leader_by_role(m, "chief_executive")
    assert interim.interim
    interim.interim_left = 2
    m._leader_turnover()
    assert leader_by_role(m, "chief_executive") is interim
    m._leader_turnover()
    permanent = leader_by_role(m, "chief_executive")
    assert permanent is not interim and not permanent.interim
    assert m.n["leader_changes"] == 2


PATRON_LEADERS = [
    {"role": "chief_executive", "stance": "champion", "knowledge": "very high", "patron": True},
    {"role": "director_childrens_services", "stance": "champion", "knowledge": "high"},
    {"role": "assistant_director", "stance": "supportive", "knowledge": "medium",
     "chairs_steering_group": True},
]


def test_patron_exit_without_succession_ends_patronage_and_releases_resentment():
    m = make_model(leaders=PATRON_LEADERS, patron_loss_resentment=0.4)
    others = {ld.role: ld.support for ld in m.leaders if not ld.is_patron}
    hostility = m.hostility
    m._leader_exit(m.leaders[0], successor_stance=0.4)
    assert not any(ld.is_patron for ld in m.leaders)
    for ld in m.leaders[1:]:
        assert ld.support == pytest.approx(others[ld.role] - 0.4)
    assert m.leaders[0].support == pytest.approx(0.4)  # the newcomer is not resented
    assert m.hostility > hostility


def test_patron_exit_with_succession_planning_hands_patronage_on():
    m = make_model(leaders=PATRON_LEADERS, levers={"succession_planning": True},
                   patron_loss_resentment=0.4)
    before = [ld.support for ld in m.leaders[1:]]
    patron_knowledge = m.leaders[0].knowledge
    hostility = m.hostility
    m._leader_exit(m.leaders[0], successor_stance=-0.5)
    heirs = [ld for ld in m.leaders if ld.is_patron]
    assert len(heirs) == 1
    heir = heirs[0]
    assert heir.role == "director_childrens_services"  # strongest backer (support x influence)
    assert heir.knowledge >= 0.8 * patron_knowledge - 1e-12
    assert [ld.support for ld in m.leaders[1:]] == before
    assert m.hostility == hostility


def test_chair_exit_hands_the_chair_to_an_informed_supporter():
    m = make_model(leaders=[
        {"role": "chief_executive", "stance": "supportive", "knowledge": "medium"},
        {"role": "director_childrens_services", "stance": "supportive", "knowledge": "medium"},
        {"role": "assistant_director", "stance": "champion", "chairs_steering_group": True}])
    chair = leader_by_role(m, "assistant_director")
    m._leader_exit(chair)
    chairs = [ld for ld in m.leaders if ld.chairs]
    assert [ld.role for ld in chairs] == ["chief_executive"]  # the most influential heir
    assert m.steering.chair == "leader"


def test_chair_exit_without_heir_leaves_the_supervisor_chairing():
    m = make_model(leaders=[
        {"role": "chief_executive", "stance": "sceptical", "knowledge": "high"},
        {"role": "director_childrens_services", "stance": "supportive", "knowledge": "low"},
        {"role": "assistant_director", "stance": "champion", "chairs_steering_group": True}])
    m._leader_exit(leader_by_role(m, "assistant_director"), successor_stance=0.8)
    assert not any(ld.chairs for ld in m.leaders)
    assert m.steering.chair == "supervisor"
    # ...unless there is no permanent supervisor left to carry it.
    m2 = make_model(leaders=[{"role": "assistant_director", "chairs_steering_group": True},
                             {"role": "chief_executive", "stance": "sceptical"}],
                    levers={"protected_funding_years": 2})
    m2._supervisor_exit(m2.teams[0])
    assert m2.teams[0].supervisor.interim
    m2._leader_exit(leader_by_role(m2, "assistant_director"))
    assert m2.steering.chair == "none"


def test_chair_with_succession_planning_passes_to_supportive_newcomer():
    m = make_model(leaders=[
        {"role": "chief_executive", "stance": "sceptical", "knowledge": "high"},
        {"role": "assistant_director", "stance": "champion", "chairs_steering_group": True}],
        levers={"succession_planning": True})
    m._leader_exit(leader_by_role(m, "assistant_director"), successor_stance=0.4)
    assert leader_by_role(m, "assistant_director").chairs
    assert m.steering.chair == "leader"


def _mean_newcomer_support(site, n=300, seed=1):
    m = make_model(seed=seed, site=site, culture_attraction=1.0, hostile_newcomer_shift=0.5,
                   newcomer_support_sd=0.15)
    values = []
    for _ in range(n):
        m._leader_exit(leader_by_role(m, "director_childrens_services"))
        values.append(leader_by_role(m, "director_childrens_services").support)
    return statistics.fmean(values)


def test_newcomers_reflect_the_authoritys_culture():
    collaborative = _mean_newcomer_support({"collaboration_history": "very high",
                                            "learning_climate": "very high",
                                            "ofsted_rating": "good"})
    hostile = _mean_newcomer_support({"collaboration_history": "very low",
                                      "learning_climate": "very low",
                                      "ofsted_rating": "inadequate"})
    assert collaborative > 0.2
    assert hostile < -0.2
    assert collaborative - hostile > 0.5
    # Hostility alone (the inspection climate) also makes newcomers less supportive.
    good = _mean_newcomer_support({"ofsted_rating": "good"})
    bad = _mean_newcomer_support({"ofsted_rating": "inadequate"})
    assert bad < good - 0.1


def test_knowledge_grows_with_briefing():
    gains = {}
    for system in ("none", "very high"):
        m = make_model(supervisor={"system_leadership": system},
                       levers={"programme_manager": "off"},
                       leaders=[{"role": "chief_executive", "knowledge": "none"},
                                {"role": "director_childrens_services", "knowledge": "none"}],
                       knowledge_gain_rate=0.2)
        m._leaders_learn()
        gains[system] = [ld.knowledge for ld in m.leaders]
    assert all(k > 0 for k in gains["none"])  # steering-group attendance teaches something
    assert all(hi > lo for hi, lo in zip(gains["very high"], gains["none"], strict=True))


def test_leader_churn_strains_the_supervisor():
    m = make_model(supervisor_churn_strain=0.1)
    sup = m.teams[0].supervisor
    assert sup.strain == 0.0
    m._leader_exit(m.leaders[0])
    assert sup.strain == pytest.approx(0.1)
    m._leader_exit(m.leaders[1])
    assert sup.strain == pytest.approx(0.2)


# --------------------------------------------------------------------------- partners
def _replace_all_partners(m):
    before = list(m.partners)
    force(m, partner_turnover_rate=12.0)  # a certain replacement this month
    m._partner_turnover()
    after = list(m.partners)
    assert all(a is not b for a, b in zip(before, after, strict=True))
    return before, after


def test_partner_replacement_is_less_senior_and_uninformed():
    m = make_model(partners=[{"agency": "camhs", "seniority": "high"},
                             {"agency": "yos", "seniority": "very high"}],
                   replacement_seniority=0.5)
    before, after = _replace_all_partners(m)
    for old, new in zip(before, after, strict=True):
        assert new.agency == old.agency
        assert new.seniority == pytest.approx(0.5 * old.seniority)
        assert old.knows_commitment and not new.knows_commitment


def test_partner_replacement_inducted_knows_the_commitment():
    m = make_model(levers={"steering_group_induction": True}, replacement_seniority=0.5)
    _, after = _replace_all_partners(m)
    assert all(pt.knows_commitment for pt in after)


def test_memory_of_commitment_falls_as_members_are_replaced():
    m = make_model()
    m._steering_group_meeting()
    assert m.steering.memory_of_commitment == pytest.approx(1.0)
    _replace_all_partners(m)
    m._steering_group_meeting()
    # Three uninformed new representatives and an original chair: one member in four remembers.
    assert m.steering.memory_of_commitment == pytest.approx(0.25)
    inducted = make_model(levers={"steering_group_induction": True})
    _replace_all_partners(inducted)
    inducted._steering_group_meeting()
    assert inducted.steering.memory_of_commitment == pytest.approx(1.0)


def test_partner_attendance_falls_as_the_grant_tapers():
    m = make_model(partners=[{"agency": "camhs", "commitment": "very low"},
                             {"agency": "yos", "commitment": 1.0}], grant_pull=1.0)
    reluctant, committed = m.partners
    means = []
    for month in (0, 12, 24, 36):  # grant share 1.0, 0.67, 0.33, 0 (go-live April 2008)
        m.cal = m.calendar.state(month, False)
        reluctant.attendance = committed.attendance = 1.0
        seen = []
        for _ in range(400):
            m._steering_group_meeting()
            seen.append(reluctant.attendance)
        means.append(statistics.fmean(seen))
        assert committed.attendance == 1.0  # real commitment does not need the grant
    assert means == sorted(means, reverse=True)
    assert means[0] - means[-1] > 0.5


# --------------------------------------------------------------------------- referrals
def test_referrer_churn_lowers_awareness():
    churned = make_model(seed=3)
    kept = make_model(seed=3)
    force(churned, referrer_turnover_rate=12.0)  # every referrer replaced this month
    force(kept, referrer_turnover_rate=0.0)
    before = list(churned.referrers)
    churned._referral_pipeline()
    kept._referral_pipeline()
    assert all(a is not b for a, b in zip(before, churned.referrers, strict=True))
    mean_churned = statistics.fmean(r.awareness for r in churned.referrers)
    mean_kept = statistics.fmean(r.awareness for r in kept.referrers)
    assert mean_churned < mean_kept - 0.2
    assert churned._new_referrer().awareness == 0.0


def test_referral_promotion_raises_awareness():
    means = {}
    for on in (False, True):
        m = make_model(seed=5, site={"looked_after_children": 2000},
                       levers={"referral_promotion": on}, promotion_lever_multiplier=2.0,
                       promotion_awareness_gain=0.2, referrers_per_100_lac=2.5)
        for _ in range(6):
            m._referral_pipeline()
        means[on] = statistics.fmean(r.awareness for r in m.referrers)
    assert means[True] > means[False] + 0.02


def test_research_trial_sends_half_of_eligible_families_to_usual_care():
    m = make_model(site={"research_trial": True}, run={"start": "2010-01"})
    m.cal = m.calendar.state(12, True)  # January 2011: randomising, team running a year
    assert m.cal.trial_randomising
    n = 2000
    for _ in range(n):
        m._panel(Case(None, m.month))
    assert m.n["eligible"] == n
    assert m.n["usual_care"] + len(m.waiting) == n
    assert 0.45 * n < m.n["usual_care"] < 0.55 * n
    # Not yet six months into operation: no randomisation; no trial: none either.
    early = make_model(site={"research_trial": True}, run={"start": "2010-01"})
    early.cal = early.calendar.state(3, True)
    off = make_model(run={"start": "2010-01"})
    off.cal = off.calendar.state(12, False)
    for model in (early, off):
        for _ in range(200):
            model._panel(Case(None, model.month))
        assert model.n["usual_care"] == 0 and len(model.waiting) == 200


# --------------------------------------------------------------------------- workforce
def test_therapist_departure_loads_colleagues_and_vacancy_is_filled():
    m = make_model(therapist_fill_months=2.0)
    force(m, therapist_exit_rate=0.0, supervisor_exit_rate=0.0, dropout_rate=0.0)
    team = m.teams[0]
    give_cases(m, team, 3)
    leaver, colleagues = team.therapists[0], team.therapists[1:]
    moved = list(leaver.cases)
    m._therapist_exit(team, leaver)
    assert leaver not in team.therapists
    assert sum(len(t.cases) for t in colleagues) == 3 * len(colleagues) + 3
    assert not m.waiting
    assert all(c.engagement < 1.0 for c in moved)  # families must re-engage
    assert team.vacancies == 1 and len(team.vacancy_timers) == 1
    assert m.n["therapist_departures"] == 1
    for _ in range(36):
        m._team_month(team)
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
            m._therapist_exit(team, team.therapists[0])
        m._team_month(team)
        strain[vacancy] = [t.strain for t in stay]
    assert all(v > n for v, n in zip(strain[True], strain[False], strict=True))


def _therapist_exit_rate(strain: float, months: int = 300) -> float:
    m = make_model(seed=7, therapist_exit_rate=0.35, strain_exit_multiplier=4.0)
    force(m, supervisor_exit_rate=0.0, dropout_rate=0.0)
    team = m.teams[0]
    exposure = 0
    for _ in range(months):
        for th in team.therapists:
            th.strain = strain
        exposure += len(team.therapists)
        m._team_month(team)
    return m.n["therapist_departures"] / exposure


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
    m._supervisor_exit(team)
    assert not m.closed
    assert m.n["reviews"] == 1 and m.n["supervisor_changes"] == 1
    assert m.review_survived_months == [0]
    acting = team.supervisor
    assert acting is not old and acting.interim and acting.system_leadership == 0.0
    assert acting.clinical_skill < old.clinical_skill
    assert len(team.therapists) == therapists - 1  # acting up from the team
    assert m.first_supervisor_tenure == 0
    assert m.advocacy_capacity() == 0.0  # an interim does no system work


def test_viability_review_closes_a_weakly_defended_service():
    m = make_model()
    fix_defence(m, -10.0)
    m._supervisor_exit(m.teams[0])
    assert m.closed and m.closure_cause == "viability_review"
    assert m.review_survived_months == []
    strong = make_model()
    fix_defence(strong, 10.0)
    strong._supervisor_exit(strong.teams[0])
    assert not strong.closed
    assert strong.teams[0].supervisor_timer is not None  # recruit a permanent supervisor


def test_succession_planning_gives_a_short_vacancy_instead_of_a_review():
    m = make_model(levers={"succession_planning": True},
                   supervisor={"system_leadership": "very high"}, successor_system_leadership=0.3)
    force(m, supervisor_exit_rate=0.0, therapist_exit_rate=0.0)
    team = m.teams[0]
    therapists = len(team.therapists)
    m._supervisor_exit(team)
    assert m.n["reviews"] == 0 and m.n["supervisor_changes"] == 1
    assert team.supervisor is None and team.supervisor_timer == 1
    assert len(team.therapists) == therapists  # nobody acts up
    m._team_month(team)
    new = team.supervisor
    assert new is not None and not new.interim
    assert new.system_leadership >= 0.8 * 0.9 - 1e-12  # system leadership handed over


def test_interim_made_permanent_keeps_vacancy_timers_consistent_with_vacancies():
    """After the interim returns to the team, the records must match the staff in post."""
    m = make_model(levers={"protected_funding_years": 2})
    force(m, therapist_exit_rate=0.0, supervisor_exit_rate=0.0, dropout_rate=0.0)
    team = m.teams[0]
    m._supervisor_exit(team)
    team.supervisor_timer = 1
    for _ in range(12):
        m._team_month(team)
    assert not team.supervisor.interim
    assert team.vacancies == 0
    assert len(team.vacancy_timers) == team.vacancies



def test_cutting_a_post_after_supervisor_turnover_reduces_staff():
    m = make_model(levers={"protected_funding_years": 2})
    force(m, therapist_exit_rate=0.0, supervisor_exit_rate=0.0, dropout_rate=0.0)
    team = m.teams[0]
    m._supervisor_exit(team)
    team.supervisor_timer = 1
    for _ in range(12):
        m._team_month(team)
    full = len(team.therapists)
    m._cut_post(team)
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
    m._cut_post(team)  # removes the therapist with the fewest cases
    assert len(m.waiting) == 1
    m.month = 7
    m._allocate_waiting_list()
    assert m.n["dropped_waiting"] == 0
    assert team.caseload == 7


def test_supervisor_strain_raises_exit_hazard_up_to_a_cap():
    counts = {}
    for strain in (0.0, 1.0):
        m = make_model(seed=11, supervisor_exit_rate=0.3, strain_exit_multiplier=4.0,
                       supervisor_strain_cap=2.0, levers={"succession_planning": True})
        force(m, therapist_exit_rate=0.0)
        team = m.teams[0]
        exits = 0
        for _ in range(2400):
            if team.supervisor is None or team.supervisor.interim:
                m._appoint_supervisor(team)
            team.supervisor.strain = strain
            before = m.n["supervisor_changes"]
            m._team_month(team)
            exits += m.n["supervisor_changes"] - before
        counts[strain] = exits
    # Base monthly hazard 0.025; with full strain the multiplier is capped at 2 (not 5).
    assert counts[1.0] > 1.4 * counts[0.0]
    assert counts[1.0] < 3.0 * counts[0.0]


# --------------------------------------------------------------------------- money
def test_cutting_a_post_reduces_posts_staff_and_cost_but_not_the_fixed_block():
    m = make_model(team_cost=400_000.0, fixed_cost=100_000.0)
    team = m.teams[0]
    give_cases(m, team, 2)
    team.therapists[2].cases = team.therapists[2].cases[:1]
    lightest = team.therapists[2]
    cost = m.annual_cost()
    posts = team.posts
    m._cut_post(team)
    assert team.posts == posts - 1
    assert lightest not in team.therapists and len(team.therapists) == posts - 1
    assert len(m.waiting) == 1  # its family goes back to the panel
    assert m.n["cuts"] == 1
    saving = cost - m.annual_cost()
    assert 0 < saving < 400_000.0 / posts  # the fixed block stays: unit cost rises
    # A vacant post is cut before anyone is made to leave.
    m._therapist_exit(team, team.therapists[0])
    staff = len(team.therapists)
    m._cut_post(team)
    assert len(team.therapists) == staff and team.vacancies == 0 and team.vacancy_timers == []


def test_pressure_rises_with_budget_cuts_and_falls_with_grant():
    m = make_model()
    full = m.compute_pressure(0.0)
    assert m.compute_pressure(1.0) < m.compute_pressure(0.67) < m.compute_pressure(0.33) < full
    m.scripted_budget_factor = 0.8
    assert m.compute_pressure(0.0) > full


def test_scripted_budget_cut_raises_pressure_and_cuts_a_post():
    # Go-live March 2009: month 1 is already the second financial year (grant share 0.67).
    m = make_model(run={"start": "2009-03"},
                   events=[{"month": 2, "kind": "budget_cut", "fraction": 0.5}],
                   cut_margin=-0.1, close_margin=-0.7, decision_scale=0.03, cut_proposal_rate=0.0)
    force(m, therapist_exit_rate=0.0, supervisor_exit_rate=0.0)
    m.step()
    assert m.cal.grant_share == pytest.approx(0.67)
    before = m.compute_pressure(m.cal.grant_share)
    m.scripted_budget_factor = 0.5
    after = m.compute_pressure(m.cal.grant_share)
    m.scripted_budget_factor = 1.0
    assert after > before
    fix_defence(m, after - 0.45)  # margin -0.45: in the cut band, far from closure
    capacity = sum(t.posts for t in m.teams) * m.p.caseload_cap
    m.step()
    assert (2, "scripted event: budget_cut") in m.log
    assert m.scripted_budget_factor == pytest.approx(0.5)
    assert not m.closed
    assert m.n["cuts"] == 1
    assert sum(t.posts for t in m.teams) * m.p.caseload_cap < capacity


def test_budget_decision_bands():
    params = dict(cut_margin=-0.1, close_margin=-0.7, decision_scale=0.03, expand_margin=0.3)
    closing = make_model(**params)
    fix_defence(closing, -10.0)
    closing._budget_decision("budget_round", 0.0)
    assert closing.closed and closing.closure_cause == "budget_round"
    steady = make_model(**params)
    fix_defence(steady, steady.compute_pressure(0.0) + 0.1)
    steady._budget_decision("budget_round", 0.0)
    assert not steady.closed and steady.n["cuts"] == 0 and len(steady.teams) == 1


def test_expansion_needs_margin_demand_and_no_trial_protocol():
    def ready(site=None, run=None):
        m = make_model(site=site, run=run, expand_margin=0.0, decision_scale=0.03)
        fix_defence(m, 10.0)
        m.waiting = [Case(None, 0) for _ in range(30)]
        return m
    m = ready()
    m._budget_decision("budget_round", 0.0)
    assert len(m.teams) == 2 and m.n["expansions"] == 1 and m.programme_manager
    no_demand = ready()
    no_demand.waiting = []
    no_demand._budget_decision("budget_round", 0.0)
    assert len(no_demand.teams) == 1
    trial = ready(site={"research_trial": True})
    assert trial.cal.trial_protocol
    trial._budget_decision("budget_round", 0.0)
    assert len(trial.teams) == 1


def test_short_termist_newcomer_proposes_a_cut():
    m = make_model(leaders=[{"role": "director_childrens_services", "stance": "hostile"}])
    force(m, cut_proposal_rate=50.0)
    ld = m.leaders[0]
    ld.short_termism = 1.0
    fix_defence(m, -10.0)
    m._money()
    assert not m.closed  # a founding leader who agreed the launch does not
    ld.newcomer = True
    m._money()
    assert m.closed and m.closure_cause == "cut_proposal"
    # An established leader (tenure > 12 months) does not.
    m2 = make_model(leaders=[{"role": "director_childrens_services", "stance": "hostile"}])
    force(m2, cut_proposal_rate=50.0)
    m2.leaders[0].short_termism = 1.0
    m2.leaders[0].newcomer = True
    m2.leaders[0].tenure = 13
    fix_defence(m2, -10.0)
    m2._money()
    assert not m2.closed


def test_co_funding_lowers_pressure_and_withdrawal_triggers_a_decision():
    plain = make_model()
    cofunded = make_model(levers={"co_funding": 0.4})
    camhs = cofunded.partners[0]
    assert camhs.agency == "camhs" and camhs.co_funding == 0.4
    assert cofunded.co_funding_share() == pytest.approx(0.4)
    assert cofunded.compute_pressure(0.0) < plain.compute_pressure(0.0)

    calls = []
    original = cofunded._budget_decision
    cofunded._budget_decision = lambda cause, share: (calls.append(cause), original(cause, share))
    fix_defence(cofunded, -10.0)
    cofunded._partner_withdraws(camhs, entirely=False)
    assert calls == ["co_funder_withdrawal"]
    assert cofunded.co_funding_share() == 0.0
    assert cofunded.closed and cofunded.closure_cause == "co_funder_withdrawal"
    # A partner with no money in the service withdraws without a budget decision.
    calls.clear()
    other = make_model(levers={"co_funding": 0.4})
    other._budget_decision = lambda cause, share: calls.append(cause)
    other._partner_withdraws(other.partners[1], entirely=True)
    assert calls == [] and not other.partners[1].active


def test_scripted_co_funding_end_triggers_a_decision():
    m = make_model(levers={"co_funding": 0.3, "protected_funding_years": 1},
                   events=[{"month": 3, "kind": "co_funding_ends"}])
    calls = []
    original = m._budget_decision
    m._budget_decision = lambda cause, share: (calls.append(cause), original(cause, share))
    for _ in range(3):
        m.step()
    assert "co_funder_withdrawal" in calls
    assert m.co_funding_share() == 0.0 and m.partners[0].active


def test_protected_funding_years_prevent_closure_at_budget_rounds():
    for month, closes in ((0, False), (12, False), (23, False), (24, True)):
        m = make_model(levers={"protected_funding_years": 1})
        fix_defence(m, -10.0)
        m.month = month
        m._budget_decision("budget_round", 0.0)
        assert m.closed is closes
        assert m.n["cuts"] == 0
    unprotected = make_model()
    fix_defence(unprotected, -10.0)
    unprotected._budget_decision("budget_round", 0.0)
    assert unprotected.closed
    review = make_model(levers={"protected_funding_years": 1})
    fix_defence(review, -10.0)
    review._supervisor_exit(review.teams[0])
    assert not review.closed


# --------------------------------------------------------------------------- calendar
def test_grant_taper_by_financial_year():
    assert GRANT_SHARES == (1.0, 0.67, 0.33)
    cal = Calendar(2008, 4, 0.05)
    shares = [cal.state(m, False).grant_share for m in range(48)]
    assert shares[:12] == [1.0] * 12
    assert shares[12:24] == [0.67] * 12
    assert shares[24:36] == [0.33] * 12
    assert shares[36:] == [0.0] * 12
    # Go-live mid-year: the first step comes at the next April.
    late = Calendar(2008, 10, 0.05)
    assert late.state(5, False).grant_share == 1.0  # March 2009
    assert late.state(6, False).grant_share == 0.67  # April 2009
    assert late.state(6, False).is_april and not late.state(5, False).is_april
    assert late.state(5, False).grant_share_next_year == 0.67


def test_austerity_from_april_2010():
    cal = Calendar(2008, 4, 0.05)
    assert cal.austerity_factor(month_index(2010, 3)) == 1.0
    assert cal.austerity_factor(month_index(2010, 4)) == pytest.approx(0.95)
    assert cal.austerity_factor(month_index(2011, 3)) == pytest.approx(0.95)
    assert cal.austerity_factor(month_index(2011, 4)) == pytest.approx(0.95 ** 2)
    assert cal.state(23, False).budget_factor == 1.0  # March 2010
    assert cal.state(24, False).budget_factor == pytest.approx(0.95)
    assert Calendar(2008, 4, 0.07).state(36, False).budget_factor == pytest.approx(0.93 ** 2)
    assert financial_year(month_index(2010, 3)) == 2009
    assert financial_year(month_index(2010, 4)) == 2010
    assert not cal.state(35, False).regional_support_ended  # March 2011
    assert cal.state(36, False).regional_support_ended  # April 2011


def test_model_follows_the_calendar():
    m = make_model(levers={"protected_funding_years": 4}, austerity_rate=0.05,
                   pir_fail_adherence=0.35)
    force(m, therapist_exit_rate=0.0, supervisor_exit_rate=0.0)
    grants, budgets = [], []
    for _ in range(30):
        m.step()
        assert not m.closed
        grants.append(m.grant_share)
        budgets.append(m.cal.budget_factor)
    assert grants[10] == 1.0 and grants[11] == 0.67 and grants[23] == 0.33  # months 11, 12, 24
    assert budgets[22] == 1.0 and budgets[23] == pytest.approx(0.95)  # March / April 2010


# --------------------------------------------------------------------------- closure paths
def test_two_failed_implementation_reviews_close_with_licence():
    m = make_model(pir_fail_adherence=0.6)
    ths = m.teams[0].therapists
    for th in ths:
        th.adherence = 0.2
    m._implementation_review()
    m._closure_checks()
    assert not m.closed
    m._implementation_review()
    m._closure_checks()
    assert m.closed and m.closure_cause == "licence"


def test_a_passed_review_resets_the_licence_count():
    m = make_model(pir_fail_adherence=0.6)
    ths = m.teams[0].therapists
    for adherence in (0.2, 0.9, 0.2):
        for th in ths:
            th.adherence = adherence
        m._implementation_review()
        m._closure_checks()
    assert not m.closed


def test_team_without_supervisor_collapses_after_limit():
    m = make_model(staffing_collapse_months=3)
    force(m, therapist_exit_rate=0.0, supervisor_exit_rate=0.0)
    team = m.teams[0]
    m._team_month(team)
    assert team.operating
    team.supervisor.remove()
    team.supervisor = None
    team.supervisor_timer = None
    for month in (1, 2, 3):
        m._team_month(team)
        m._closure_checks()
        assert team.months_without_cover == month
        assert m.closed is (month == 3)
    assert m.closure_cause == "staffing_collapse"


def test_closed_model_does_not_step():
    m = make_model(events=[{"month": 6, "kind": "budget_cut", "fraction": 0.5}])
    for _ in range(4):
        m.step()
    m._close("licence")
    rows = len(m.datacollector.model_vars["teams"])
    log = list(m.log)
    n = dict(m.n)
    for _ in range(5):
        m.step()
    assert m.month == 4 and not m.running
    assert len(m.datacollector.model_vars["teams"]) == rows
    assert m.log == log and m.n == n
    assert m.scripted_budget_factor == 1.0  # the month-6 event did not run
    m.run()
    assert m.month == 4


# --------------------------------------------------------------------------- evidence and levers
def _evidence(feedback: bool, closed: int, success: int, came_back: int) -> float:
    m = make_model(site={"learning_climate": "none"}, levers={"local_outcome_feedback": feedback})
    m._roll["closed"][0] = closed
    m._roll["success"][0] = success
    m._roll["came_back"][0] = came_back
    return m.evidence()


def test_local_outcome_feedback_shows_leaders_the_local_record():
    # Good local results: feedback lets leaders see them beyond the anecdotes of families back.
    assert _evidence(True, 10, 9, 3) > _evidence(False, 10, 9, 3)
    # Poor local results: feedback shows those too.
    assert _evidence(True, 10, 1, 0) < _evidence(False, 10, 1, 0)
    assert _evidence(True, 10, 9, 3) > _evidence(True, 10, 1, 0)


def _leader_departures(sc, seed, months):
    m = LocalAuthority(sc, seed)
    while m.running and m.month < months:
        m.step()
    left = [(mo, t) for mo, t in m.log if re.match(LEADER_ROLES + " left", t)]
    return left, m.closure_month, m.n["leader_changes"]


CRN_SITES = (
    {"ofsted_rating": "inadequate", "leadership_turnover_history": "very high",
     "collaboration_history": "low"},
    {"ofsted_rating": "adequate", "leadership_turnover_history": "high"},
)


@pytest.mark.parametrize("site", CRN_SITES)
def test_local_outcome_feedback_leaves_leader_churn_untouched(site):
    """A lever changes its mechanism and nothing else: same seed, same leader departures."""
    base = make_scenario(site=site)
    lever = base.with_levers(local_outcome_feedback=True)
    any_change = False
    for seed in range(6):
        a, ca, _ = _leader_departures(base, seed, 24)
        b, cb, _ = _leader_departures(lever, seed, 24)
        end = min(x for x in (ca, cb, 24) if x is not None)
        a = [e for e in a if e[0] < end]
        b = [e for e in b if e[0] < end]
        assert a == b, f"seed {seed}"
        any_change |= bool(a)
    assert any_change  # the comparison is not vacuous


def test_local_outcome_feedback_leaves_leader_churn_untouched_over_whole_run():
    # With exits independent of the climate, the whole churn record must coincide until closure.
    base = make_scenario(site=CRN_SITES[0], hostility_exit_multiplier=0.0)
    lever = base.with_levers(local_outcome_feedback=True)
    for seed in range(4):
        a, ca, _ = _leader_departures(base, seed, 120)
        b, cb, _ = _leader_departures(lever, seed, 120)
        end = min(x for x in (ca, cb, 120) if x is not None)
        assert [e for e in a if e[0] < end] == [e for e in b if e[0] < end], f"seed {seed}"


def _snapshot(m: LocalAuthority) -> dict:
    sup = m.teams[0].supervisor
    return {
        "oversold": m.oversold, "learning": m.learning, "network_base": m.network_base,
        "hostility": m.hostility, "collab_climate": m.collab_climate, "base_budget": m.base_budget,
        "partnership": m.partnership, "memory": m.steering.memory_of_commitment,
        "chair": m.steering.chair,
        "leaders": tuple((ld.role, ld.support, ld.knowledge, ld.is_patron, ld.chairs, ld.interim,
                          ld.original, ld.influence, ld.short_termism) for ld in m.leaders),
        "partners": tuple((pt.agency, pt.commitment, pt.seniority, pt.attendance,
                           pt.knows_commitment, pt.active) for pt in m.partners),
        "co_funding": tuple(pt.co_funding for pt in m.partners),
        "supervisor": (sup.clinical_skill, sup.system_leadership, sup.strain, sup.interim,
                       sup.style),
        "therapists": tuple((t.adherence, t.strain) for t in m.teams[0].therapists),
        "posts": tuple((t.posts, tuple(t.vacancy_timers), t.supervisor_timer) for t in m.teams),
        "referrer_awareness": tuple(r.awareness for r in m.referrers),
        "referrer_attitude": tuple(r.attitude for r in m.referrers),
        "programme_manager": m.programme_manager, "advocacy": m.advocacy,
        "annual_cost": m.annual_cost(), "evidence": m.evidence(),
        "defence": m.defence, "pressure": m.pressure,
        "streams": tuple(s.getstate() for s in (m.r_lead, m.r_part, m.r_ref, m.r_work, m.r_case,
                                                m.r_dec)),
        "n": tuple(sorted(m.n.items())), "waiting": len(m.waiting),
    }


LEVER_EFFECTS = [
    ({"balanced_launch": True}, {"oversold", "referrer_attitude", "evidence", "defence"}),
    ({"learning_climate": True}, {"learning", "referrer_attitude", "evidence", "defence"}),
    ({"regional_network": True}, {"network_base"}),
    ({"co_funding": 0.3}, {"co_funding"}),
    ({"programme_manager": "on"}, {"programme_manager", "advocacy", "annual_cost", "defence"}),
    ({"local_outcome_feedback": True}, {"evidence", "defence"}),
    ({"succession_planning": True}, set()),
    ({"steering_group_induction": True}, set()),
    ({"champion_cultivation": True}, set()),
    ({"referral_promotion": True}, set()),
    ({"protected_funding_years": 2}, set()),
]


@pytest.mark.parametrize(("lever", "expected"), LEVER_EFFECTS, ids=lambda x: str(x))
def test_each_lever_changes_only_its_own_state_at_construction(lever, expected):
    site = {"launch_framing": "oversold", "learning_climate": "low", "regional_network": "low"}
    sc = make_scenario(site=site, supervisor={"system_leadership": "low"},
                       came_back_oversold_weight=2.0)
    base = _snapshot(LocalAuthority(sc, 9))
    changed = _snapshot(LocalAuthority(sc.with_levers(**lever), 9))
    differ = {k for k in base if base[k] != changed[k]}
    assert differ == expected


def test_balanced_launch_does_nothing_for_a_balanced_launch():
    sc = make_scenario(site={"launch_framing": "balanced"})
    base = _snapshot(LocalAuthority(sc, 4))
    lever = _snapshot(LocalAuthority(sc.with_levers(balanced_launch=True), 4))
    assert base == lever
    assert base["oversold"] is False


# --------------------------------------------------------------------------- fixes of review
def test_scripted_event_runs_with_its_own_months_calendar():
    # Go-live March 2009: month 1 is April 2009, the second financial year (grant 0.67); the
    # event of month 1 must see that calendar, not month 0's.
    seen = []
    m = make_model(run={"start": "2009-03"},
                   events=[{"month": 1, "kind": "budget_cut", "fraction": 0.1}])
    original = m._budget_decision
    m._budget_decision = lambda cause, share: (seen.append((m.month, cause, share)),
                                               original(cause, share))
    m.step()
    assert seen and seen[0][0] == 1 and seen[0][1] == "in_year_cut"
    assert seen[0][2] == pytest.approx(0.67)


def test_an_in_year_cut_never_expands_the_service():
    m = make_model(expand_margin=0.0, decision_scale=0.03)
    fix_defence(m, 10.0)
    m.waiting = [Case(None, 0) for _ in range(30)]
    m._budget_decision("in_year_cut", 0.0)
    assert len(m.teams) == 1 and m.n["expansions"] == 0
    m._budget_decision("budget_round", 0.0)
    assert len(m.teams) == 2  # the same margin and demand expand at the April round


def test_a_closure_ends_the_month():
    m = make_model()
    calls = []
    m._referral_pipeline = lambda: calls.append("referrals")
    m._partner_turnover = lambda: m._close("co_funder_withdrawal")
    m.step()
    assert m.closed and calls == []  # nothing after the closure ran


def test_cutting_a_post_raises_unit_cost_pressure():
    m = make_model(team_cost=400_000.0, fixed_cost=100_000.0, unit_cost_penalty=0.5)
    m.utilisation = 1.0
    assert m.unit_cost_excess() == pytest.approx(0.0)
    m._cut_post(m.teams[0])
    assert m.unit_cost_excess() > 0.05  # the fixed block now falls on fewer posts


def test_a_vacant_chair_falls_to_a_new_permanent_supervisor():
    m = make_model(chair_uptake_rate=0.0)
    force(m, therapist_exit_rate=0.0)
    team = m.teams[0]
    m.steering.chair = "supervisor"
    m._supervisor_exit(team)
    assert m.steering.chair == "none"
    m._appoint_supervisor(team)
    m._steering_group_meeting()
    assert m.steering.chair == "supervisor"


def test_an_informed_supportive_leader_takes_up_the_chair():
    m = make_model(chair_uptake_rate=0.5)
    m.steering.chair = "supervisor"
    for ld in m.leaders:
        ld.chairs = False
    ld = leader_by_role(m, "director_childrens_services")
    ld.support, ld.knowledge = 0.8, 0.9
    for _ in range(40):
        m._steering_group_meeting()
    assert m.steering.chair == "leader" and ld.chairs
    none_keen = make_model(chair_uptake_rate=0.5)
    none_keen.steering.chair = "supervisor"
    for x in none_keen.leaders:
        x.chairs, x.knowledge = False, 0.0
    for _ in range(40):
        none_keen._steering_group_meeting()
    assert none_keen.steering.chair == "supervisor"


def test_champion_cultivation_grows_a_successor_while_the_patron_is_in_post():
    m = make_model(levers={"champion_cultivation": True}, champion_cultivation_rate=0.15,
                   leaders=[{"role": "chief_executive", "stance": "champion", "knowledge": "high"},
                            {"role": "director_childrens_services", "stance": "supportive",
                             "knowledge": "high"}])
    patron = leader_by_role(m, "chief_executive")
    patron.is_patron = True
    heir = leader_by_role(m, "director_childrens_services")
    heir.support, heir.knowledge = 0.8, 0.9
    for _ in range(120):
        m._leaders_learn()
        heir.support, heir.knowledge = 0.8, 0.9
        if heir.is_patron:
            break
    assert patron.is_patron and heir.is_patron
