"""Referral pipeline, panel and research trial, waiting list (ODD §7.6, §7.7)."""

from __future__ import annotations

import statistics

from mechanism_helpers import (
    force,
    make_model,
)

from sim.cases import Case
from sim.processes import referrals


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
