"""Steering group, partner turnover and co-funding (ODD §7.4, §7.5)."""

from __future__ import annotations

import statistics

import pytest
from mechanism_helpers import (
    force,
    make_model,
)

from sim.processes import partnership


def _replace_all_partners(m):
    before = list(m.partners)
    force(m, partner_turnover_rate=12.0)  # a certain replacement this month
    partnership.partner_turnover(m)
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
    partnership.steering_group_meeting(m)
    assert m.steering.memory_of_commitment == pytest.approx(1.0)
    _replace_all_partners(m)
    partnership.steering_group_meeting(m)
    # Three uninformed new representatives and an original chair: one member in four remembers.
    assert m.steering.memory_of_commitment == pytest.approx(0.25)
    inducted = make_model(levers={"steering_group_induction": True})
    _replace_all_partners(inducted)
    partnership.steering_group_meeting(inducted)
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
            partnership.steering_group_meeting(m)
            seen.append(reluctant.attendance)
        means.append(statistics.fmean(seen))
        assert committed.attendance == 1.0  # real commitment does not need the grant
    assert means == sorted(means, reverse=True)
    assert means[0] - means[-1] > 0.5
