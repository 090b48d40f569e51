"""Leader churn, interims and newcomers; patronage and chair succession; leaders' learning (ODD §7.1-§7.3)."""

from __future__ import annotations

import re
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mechanism_helpers import (
    fix_margin,
    force,
    leader_by_role,
    learn_month,
    make_model,
)

from agents import Leader
from agents.leader import ROLE_INFLUENCE
from sim.parameters import PARAMETER_INDEX
from sim.processes import budget, leadership, partnership, workforce


def test_leader_exit_creates_newcomer_without_knowledge():
    m = make_model(leaders=[
        {"role": "chief_executive", "stance": "champion", "knowledge": "very high"},
        {"role": "director_childrens_services", "knowledge": "high"}])
    old = m.leaders[0]
    assert old.original and old.knowledge > 0.8
    leadership.leader_exit(m, old)
    new = m.leaders[0]
    assert new is not old and old not in m.leaders
    assert new.role == "chief_executive"
    assert new.knowledge == 0.0
    assert new.original is False
    assert new.tenure == 0
    assert m.totals["leader_changes"] == 1
    assert len(m.leaders) == 2
    assert any(re.match(r"chief executive left", t) for _, t in m.log)


def test_interim_share_decides_whether_replacement_is_interim():
    for share, expect in ((0.0, False), (1.0, True)):
        m = make_model(interim_influence=0.5)
        force(m, interim_share=share)
        for _ in range(10):
            ld = leader_by_role(m, "director_childrens_services")
            leadership.leader_exit(m, ld)
            new = leader_by_role(m, "director_childrens_services")
            assert new.interim is expect
            if expect:
                assert new.interim_left >= 1
                assert not ld.interim and new.influence == pytest.approx(0.5 * ld.influence)
            # An interim never makes way for another interim.
            leadership.replace_leader(m, new, interim_allowed=False)
            assert leader_by_role(m, "director_childrens_services").interim is False
        assert m.totals["leader_changes"] == 20


def test_interim_spell_ends_with_permanent_appointment():
    m = make_model()
    force(m, interim_share=1.0, chief_executive_exit_rate=0.0, dcs_exit_rate=0.0,
          assistant_director_exit_rate=0.0)
    leadership.leader_exit(m, leader_by_role(m, "chief_executive"))
    interim = leader_by_role(m, "chief_executive")
    assert interim.interim
    interim.interim_left = 2
    leadership.leader_turnover(m)
    assert leader_by_role(m, "chief_executive") is interim
    leadership.leader_turnover(m)
    permanent = leader_by_role(m, "chief_executive")
    assert permanent is not interim and not permanent.interim
    assert m.totals["leader_changes"] == 2


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
    leadership.leader_exit(m, m.leaders[0], successor_stance=0.4)
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
    leadership.leader_exit(m, m.leaders[0], successor_stance=-0.5)
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
    leadership.leader_exit(m, chair)
    chairs = [ld for ld in m.leaders if ld.chairs]
    assert [ld.role for ld in chairs] == ["chief_executive"]  # the most influential heir
    assert m.steering.chair == "leader"


def test_chair_exit_without_heir_leaves_the_supervisor_chairing():
    m = make_model(leaders=[
        {"role": "chief_executive", "stance": "sceptical", "knowledge": "high"},
        {"role": "director_childrens_services", "stance": "supportive", "knowledge": "low"},
        {"role": "assistant_director", "stance": "champion", "chairs_steering_group": True}])
    leadership.leader_exit(m, leader_by_role(m, "assistant_director"), successor_stance=0.8)
    assert not any(ld.chairs for ld in m.leaders)
    assert m.steering.chair == "supervisor"
    # ...unless there is no permanent supervisor left to carry it.
    m2 = make_model(leaders=[{"role": "assistant_director", "chairs_steering_group": True},
                             {"role": "chief_executive", "stance": "sceptical"}],
                    levers={"protected_funding_years": 2})
    workforce.supervisor_exit(m2, m2.teams[0])
    assert m2.teams[0].supervisor.interim
    leadership.leader_exit(m2, leader_by_role(m2, "assistant_director"))
    assert m2.steering.chair == "none"


def test_chair_with_succession_planning_passes_to_supportive_newcomer():
    m = make_model(leaders=[
        {"role": "chief_executive", "stance": "sceptical", "knowledge": "high"},
        {"role": "assistant_director", "stance": "champion", "chairs_steering_group": True}],
        levers={"succession_planning": True})
    leadership.leader_exit(m, leader_by_role(m, "assistant_director"), successor_stance=0.4)
    assert leader_by_role(m, "assistant_director").chairs
    assert m.steering.chair == "leader"


def _mean_newcomer_support(site, n=300, seed=1):
    m = make_model(seed=seed, site=site, culture_attraction=1.0, hostile_newcomer_shift=0.5,
                   newcomer_support_sd=0.15)
    values = []
    for _ in range(n):
        leadership.leader_exit(m, leader_by_role(m, "director_childrens_services"))
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
        learn_month(m)
        gains[system] = [ld.knowledge for ld in m.leaders]
    assert all(k > 0 for k in gains["none"])  # steering-group attendance teaches something
    assert all(hi > lo for hi, lo in zip(gains["very high"], gains["none"], strict=True))


def test_leader_churn_strains_the_supervisor():
    m = make_model(supervisor_churn_strain=0.1)
    sup = m.teams[0].supervisor
    assert sup.strain == 0.0
    leadership.leader_exit(m, m.leaders[0])
    assert sup.strain == pytest.approx(0.1)
    leadership.leader_exit(m, m.leaders[1])
    assert sup.strain == pytest.approx(0.2)


def test_a_vacant_chair_falls_to_a_new_permanent_supervisor():
    m = make_model(chair_uptake_rate=0.0)
    force(m, therapist_exit_rate=0.0)
    team = m.teams[0]
    m.steering.chair = "supervisor"
    workforce.supervisor_exit(m, team)
    assert m.steering.chair == "none"
    workforce.appoint_supervisor(m, team)
    partnership.steering_group_meeting(m)
    assert m.steering.chair == "supervisor"


def test_an_informed_supportive_leader_takes_up_the_chair():
    m = make_model(chair_uptake_rate=0.5)
    m.steering.chair = "supervisor"
    for ld in m.leaders:
        ld.chairs = False
    ld = leader_by_role(m, "director_childrens_services")
    ld.support, ld.knowledge = 0.8, 0.9
    for _ in range(40):
        partnership.steering_group_meeting(m)
    assert m.steering.chair == "leader" and ld.chairs
    none_keen = make_model(chair_uptake_rate=0.5)
    none_keen.steering.chair = "supervisor"
    for x in none_keen.leaders:
        x.chairs, x.knowledge = False, 0.0
    for _ in range(40):
        partnership.steering_group_meeting(none_keen)
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
        learn_month(m)
        heir.support, heir.knowledge = 0.8, 0.9
        if heir.is_patron:
            break
    assert patron.is_patron and heir.is_patron


# ------------------------------------------------------------------ the leadership shield (§5.1)
SHIELD = dict(leader_shield=1.0, newcomer_shield=0.2, patron_boost=2.0)


def test_a_newcomer_without_knowledge_shields_less_than_the_same_person_informed():
    m = make_model(leaders=[{"role": "director_childrens_services", "stance": 0.6}], **SHIELD)
    ld = m.leaders[0]
    ld.knowledge = 0.0
    newcomer = m.leadership_shield()
    ld.knowledge = 0.9
    informed = m.leadership_shield()
    assert 0.0 < newcomer < informed
    # Known answer: 1 x 0.9 x 0.6 x (0.2 + 0.8 x 0.9).
    assert informed == pytest.approx(0.9 * 0.6 * (0.2 + 0.8 * 0.9))


def test_a_patron_shields_more_than_the_same_leader_without_the_role():
    m = make_model(leaders=[{"role": "assistant_director", "stance": 0.5, "knowledge": 0.5}],
                   **SHIELD)
    plain = m.leadership_shield()
    m.leaders[0].is_patron = True
    assert m.leadership_shield() == pytest.approx(2.0 * plain)  # uncapped: patron_boost x


def test_an_opponent_adds_no_shield_but_adds_opposition():
    m = make_model(leaders=[{"role": "director_childrens_services", "stance": 0.6,
                             "knowledge": 0.7}], **SHIELD)
    shield, opp = m.leadership_shield(), m.opposition()
    assert opp == 0.0
    m.leaders.append(Leader(m, "chief_executive", -0.8, 0.5))
    assert m.leadership_shield() == shield
    assert m.opposition() == pytest.approx(1.0 * 0.8 * (0.5 + 0.5 * 0.5))
    # An opponent with no knowledge still opposes, at half weight.
    m.leaders[-1].knowledge = 0.0
    assert m.opposition() == pytest.approx(0.4)


leader_specs = st.lists(st.tuples(st.sampled_from(sorted(ROLE_INFLUENCE)),
                                  st.floats(-1.0, 1.0), st.floats(0.0, 1.0), st.booleans()),
                        max_size=6)


def _in_range(name):
    q = PARAMETER_INDEX[name]
    return st.floats(q.low, q.high)


@settings(max_examples=150, deadline=None)
@given(specs=leader_specs, extra=st.tuples(st.sampled_from(sorted(ROLE_INFLUENCE)),
                                           st.floats(0.0, 1.0), st.floats(0.0, 1.0),
                                           st.booleans()),
       shield=_in_range("leader_shield"), floor=_in_range("newcomer_shield"),
       boost=_in_range("patron_boost"))
def test_noisy_or_adding_a_supporter_never_lowers_the_shield(specs, extra, shield, floor, boost):
    m = make_model(leaders=[{"role": "chief_executive"}])
    force(m, leader_shield=shield, newcomer_shield=floor, patron_boost=boost)
    m.leaders = [Leader(m, role, s, k, is_patron=pat) for role, s, k, pat in specs]
    before = m.leadership_shield()
    assert 0.0 <= before <= 1.0
    role, s, k, pat = extra
    m.leaders.append(Leader(m, role, s, k, is_patron=pat))
    after = m.leadership_shield()
    assert before - 1e-12 <= after <= 1.0
    if s > 1e-6 and floor + (1.0 - floor) * k > 1e-6 and before < 1.0 - 1e-6:
        assert after > before  # a supporter who knows something, or any newcomer floor


# ------------------------------------------------------------------ sticky stance (§3.2)
def _neutral_evidence(m):
    m.evidence = lambda: 0.0  # visible local evidence neither for nor against the service


@pytest.mark.parametrize("pull", [PARAMETER_INDEX["coalition_pull"].low, 0.1,
                                  PARAMETER_INDEX["coalition_pull"].high])
def test_a_champion_among_neutral_leaders_stays_a_champion(pull):
    m = make_model(leaders=[
        {"role": "chief_executive", "stance": "neutral", "knowledge": 0.5},
        {"role": "director_childrens_services", "stance": 0.8, "knowledge": 0.5},
        {"role": "assistant_director", "stance": "neutral", "knowledge": 0.5}],
        coalition_pull=pull, resentment_recovery_months=6.0, stance_evidence_rate=0.04)
    _neutral_evidence(m)
    champion = leader_by_role(m, "director_childrens_services")
    for _ in range(36):
        leadership.leaders_learn(m)
    assert champion.stance == pytest.approx(0.8)
    assert champion.support > 0.6  # an average-seeking update would pull it near 0.1
    others = [ld for ld in m.leaders if ld is not champion]
    assert all(ld.stance == 0.0 and ld.support < champion.support - 0.3 for ld in others)


@pytest.mark.parametrize("months", [6.0, 12.0, 24.0])
def test_released_resentment_moves_support_not_stance_and_recovers_in_about_a_year(months):
    m = make_model(leaders=PATRON_LEADERS, patron_loss_resentment=0.3, coalition_pull=0.0,
                   resentment_recovery_months=months, stance_evidence_rate=0.04)
    _neutral_evidence(m)
    for _ in range(3):  # let support settle on each stance
        leadership.leaders_learn(m)
    others = m.leaders[1:]
    stance = {ld.role: ld.stance for ld in others}
    support = {ld.role: ld.support for ld in others}
    leadership.leader_exit(m, m.leaders[0], successor_stance=0.0)
    for ld in others:
        assert ld.support == pytest.approx(support[ld.role] - 0.3)
        assert ld.stance == stance[ld.role]
    for _ in range(round(months)):
        leadership.leaders_learn(m)
    for ld in others:
        assert ld.stance == pytest.approx(stance[ld.role])
        back = (ld.support - (support[ld.role] - 0.3)) / 0.3
        assert 0.55 < back < 0.72  # 1 - (1 - 1/n)^n: about 63% back after n months


# ------------------------------------------------------------------ patronage protects (§5.1)
def _cut_proposal(monkeypatch, patron_role, proposer_role="director_childrens_services"):
    """A new hostile short-termist ``proposer`` under a patron in ``patron_role``."""
    leaders = [{"role": patron_role, "stance": "champion", "knowledge": "high", "patron": True}]
    if proposer_role != patron_role:
        leaders.append({"role": proposer_role, "stance": "neutral"})
    m = make_model(leaders=leaders, close_margin=-0.5, decision_scale=0.05)
    force(m, cut_proposal_rate=50.0)
    proposer = leader_by_role(m, proposer_role)
    leadership.replace_leader(m, proposer, interim_allowed=False, successor_stance=-0.8)
    proposer = leader_by_role(m, proposer_role)
    proposer.short_termism = 1.0
    assert proposer.newcomer and proposer.tenure == 0
    fix_margin(m, -10.0)
    calls = []
    original = budget.budget_decision
    monkeypatch.setattr(budget, "budget_decision", lambda model, cause, share: (
        calls.append(cause), original(model, cause, share)))
    assert not (m.cal.is_april and m.month >= 12)  # a proposal month, not a budget round
    budget.budget_round_or_cut_proposal(m)
    return m, calls


def test_a_patron_stops_a_cut_proposal_from_their_line_of_management(monkeypatch):
    m, calls = _cut_proposal(monkeypatch, "chief_executive")
    assert calls == []
    assert not m.closed and m.teams[0].posts == m.p.therapist_posts and m.totals["cuts"] == 0
    assert any("the patron (chief executive) stopped it" in text for _, text in m.log)


def test_a_more_senior_proposer_than_the_patron_goes_to_a_decision(monkeypatch):
    m, calls = _cut_proposal(monkeypatch, "assistant_director")
    assert calls == ["cut_proposal"]
    assert m.closed and m.closure_cause == "cut_proposal"
    assert not any("stopped it" in text for _, text in m.log)


def test_a_partner_directors_patronage_stops_nothing_in_the_council_line(monkeypatch):
    m, calls = _cut_proposal(monkeypatch, "partner_director")
    assert calls == ["cut_proposal"] and m.closed


def test_line_of_management():
    m = make_model()
    ce, dcs, ad, hos, pd = (Leader(m, role, 0.5, 0.5) for role in (
        "chief_executive", "director_childrens_services", "assistant_director",
        "head_of_service", "partner_director"))
    assert ce.manages(dcs) and ce.manages(hos) and dcs.manages(ad) and ad.manages(hos)
    assert not dcs.manages(ce) and not ad.manages(dcs) and not ce.manages(ce)
    assert not pd.manages(hos) and not ce.manages(pd)
