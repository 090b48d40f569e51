"""Evidence and the levers (ODD §7.13, §7.18), over common random numbers."""

from __future__ import annotations

import re

import pytest
from mechanism_helpers import (
    LEADER_ROLES,
    make_model,
    make_scenario,
)

from sim.model import LocalAuthority


def _evidence(feedback: bool, closed: int, success: int, came_back: int) -> float:
    m = make_model(site={"learning_climate": "none"}, levers={"local_outcome_feedback": feedback})
    m.past_year["closed"][0] = closed
    m.past_year["success"][0] = success
    m.past_year["came_back"][0] = came_back
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
    return left, m.closure_month, m.totals["leader_changes"]


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
        "hostility": m.hostility, "collab_climate": m.collab_climate, "size": m.size,
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
        "margin": m.margin, "pressure": m.pressure, "exposure": m.exposure,
        "streams": tuple(s.getstate() for s in (m.r_lead, m.r_part, m.r_ref, m.r_work, m.r_case,
                                                m.r_dec)),
        "n": tuple(sorted(m.totals.items())), "waiting": len(m.waiting),
    }


LEVER_EFFECTS = [
    ({"balanced_launch": True}, {"oversold", "referrer_attitude", "evidence", "margin"}),
    ({"learning_climate": True}, {"learning", "referrer_attitude", "evidence", "margin"}),
    ({"regional_network": True}, {"network_base"}),
    ({"co_funding": 0.3}, {"co_funding"}),
    # A programme manager in post: system leadership shields (less exposure), at a cost.
    ({"programme_manager": "on"}, {"programme_manager", "advocacy", "annual_cost", "margin",
                                   "exposure"}),
    ({"local_outcome_feedback": True}, {"evidence", "margin"}),
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
