"""Referral pipeline, panel and research trial, waiting list (ODD §7.6, §7.7)."""

from __future__ import annotations

import statistics

import pytest
from mechanism_helpers import (
    force,
    give_cases,
    make_model,
)

from sim.cases import Case
from sim.processes import referrals, value_for_money


def test_referrer_churn_lowers_awareness():
    churned = make_model(seed=3)
    kept = make_model(seed=3)
    force(churned, referrer_turnover_rate=12.0)  # every referrer replaced this month
    force(kept, referrer_turnover_rate=0.0)
    before = list(churned.referrers)
    referrals.referral_pipeline(churned)
    referrals.referral_pipeline(kept)
    assert all(a is not b for a, b in zip(before, churned.referrers, strict=True))
    mean_churned = statistics.fmean(r.awareness for r in churned.referrers)
    mean_kept = statistics.fmean(r.awareness for r in kept.referrers)
    assert mean_churned < mean_kept - 0.2
    assert referrals.new_referrer(churned).awareness == 0.0


def test_referral_promotion_raises_awareness():
    means = {}
    for on in (False, True):
        m = make_model(seed=5, site={"looked_after_children": 2000},
                       levers={"referral_promotion": on}, promotion_lever_multiplier=2.0,
                       promotion_awareness_gain=0.2, referrers_per_100_lac=2.5)
        for _ in range(6):
            referrals.referral_pipeline(m)
        means[on] = statistics.fmean(r.awareness for r in m.referrers)
    assert means[True] > means[False] + 0.02


def test_research_trial_sends_half_of_eligible_families_to_usual_care():
    m = make_model(site={"research_trial": True}, run={"start": "2010-01"})
    m.cal = m.calendar.state(12, True)  # January 2011: randomising, team running a year
    assert m.cal.trial_randomising
    n = 2000
    for _ in range(n):
        referrals.panel(m, Case(None, m.month))
    assert m.totals["eligible"] == n
    assert m.totals["usual_care"] + len(m.waiting) == n
    assert 0.45 * n < m.totals["usual_care"] < 0.55 * n
    # Not yet six months into operation: no randomisation; no trial: none either.
    early = make_model(site={"research_trial": True}, run={"start": "2010-01"})
    early.cal = early.calendar.state(3, True)
    off = make_model(run={"start": "2010-01"})
    off.cal = off.calendar.state(12, False)
    for model in (early, off):
        for _ in range(200):
            referrals.panel(model, Case(None, model.month))
        assert model.totals["usual_care"] == 0 and len(model.waiting) == 200


def _randomising(**kw):
    m = make_model(site={"research_trial": True}, run={"start": "2010-01"}, **kw)
    m.cal = m.calendar.state(12, True)  # January 2011: randomising, team running a year
    assert m.cal.trial_randomising
    return m


def test_usual_care_families_do_not_count_towards_utilisation():
    sent, quiet = _randomising(), _randomising()
    for m in (sent, quiet):
        give_cases(m, m.teams[0], 2)
    for _ in range(40):
        referrals.panel(sent, Case(None, sent.month))
    assert sent.totals["usual_care"] > 0 and sum(sent.past_year["usual_care"]) > 0
    for m in (sent, quiet):
        value_for_money.account_month(m)
    assert sent.utilisation == quiet.utilisation
    assert sent.utilisation < 1.0  # half-full caseloads: the trial squeezes, usual care or not


def test_randomising_costs_credibility_with_social_care_only():
    leaders = [{"role": r, "stance": 0.5} for r in (
        "chief_executive", "director_childrens_services", "assistant_director",
        "head_of_service", "partner_director")]
    m = _randomising(leaders=leaders, trial_credibility_cost=0.01)
    off = make_model(leaders=leaders, run={"start": "2010-01"}, trial_credibility_cost=0.01)
    off.cal = off.calendar.state(12, False)
    for model in (m, off):
        for ref, agency in zip(model.referrers, ("social_care", "yos", "education"), strict=False):
            ref.agency = agency
        for ref in model.referrers:
            ref.attitude = 0.2
    months = 5
    for _ in range(months):
        referrals.trial_credibility(m)
        referrals.trial_credibility(off)
    for ld in m.leaders:
        expected = 0.5 - months * 0.01 if ld.childrens_services else 0.5
        assert ld.stance == pytest.approx(expected), ld.role
    assert {ld.role for ld in m.leaders if ld.stance < 0.5} == {
        "director_childrens_services", "assistant_director", "head_of_service"}
    for ref in m.referrers:
        expected = 0.2 - months * 0.01 if ref.agency == "social_care" else 0.2
        assert ref.attitude == pytest.approx(expected), ref.agency
    assert {ref.agency for ref in m.referrers} >= {"social_care", "yos", "education"}
    # Not randomising: nobody's view moves.
    assert all(ld.stance == 0.5 for ld in off.leaders)
    assert all(ref.attitude == 0.2 for ref in off.referrers)
