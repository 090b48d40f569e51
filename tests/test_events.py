"""Scripted events (ODD §7.19)."""

from __future__ import annotations

import pytest
from mechanism_helpers import make_model

from sim.processes import budget, events


def test_scripted_event_runs_with_its_own_months_calendar(monkeypatch):
    # Go-live March 2009: month 1 is April 2009, the second financial year (grant 0.67); the
    # event of month 1 must see that calendar, not month 0's.
    seen = []
    m = make_model(run={"start": "2009-03"},
                   events=[{"month": 1, "kind": "budget_cut", "fraction": 0.1}])
    original = budget.budget_decision
    monkeypatch.setattr(budget, "budget_decision", lambda model, cause, share: (
        seen.append((model.month, cause, share)), original(model, cause, share)))
    m.step()
    assert seen and seen[0][0] == 1 and seen[0][1] == "in_year_cut"
    assert seen[0][2] == pytest.approx(0.67)


def test_every_scenario_kind_has_an_event_class():
    from sim.scenario import EVENT_KINDS

    assert set(events.EVENT_CLASSES) == set(EVENT_KINDS)


def test_an_applied_event_is_logged_once_and_acts():
    m = make_model(levers={"protected_funding_years": 2})
    m.apply_event(events.Inspection("inadequate"))
    m.apply_event(events.CompetingService(0.5))
    assert m.ofsted == "inadequate" and m.competition_extra == pytest.approx(0.15)
    assert [t for _, t in m.log if t.startswith("scripted event")] == [
        "scripted event: inspection", "scripted event: competing_service"]
