"""The national calendar: grant taper and austerity (ODD §7.12)."""

from __future__ import annotations

import pytest
from mechanism_helpers import (
    force,
    make_model,
)

from sim.calendar import GRANT_SHARES, Calendar, financial_year, month_index


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


def test_memoised_states_are_keyed_by_start_rate_month_and_trial():
    a, b, late = Calendar(2008, 4, 0.05), Calendar(2008, 4, 0.07), Calendar(2008, 10, 0.05)
    for month in (0, 24, 36, 60):
        for trial in (False, True):
            for cal in (a, b, late):
                assert cal.state(month, trial) == cal.compute_state(month, trial)
    assert a.state(36, False).budget_factor != b.state(36, False).budget_factor
    assert a.state(24, True).trial_randomising != a.state(24, False).trial_randomising
    assert a.state(6, False).grant_share != late.state(6, False).grant_share
