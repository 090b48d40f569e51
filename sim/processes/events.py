"""Scripted events: one small class per kind, each with ``apply(model)`` (docs/ODD.md §7.19).

They are built from the scenario's event records (read through their attributes only) and run
at the start of their month, in file order, after the calendar (§3, step 1).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import override

from sim.numeric import clip
from sim.processes import budget, leadership, partnership, workforce


@dataclass(frozen=True)
class ScriptedEvent:
    """An event of a scenario: ``kind`` names it in the log."""

    kind = ""

    @classmethod
    def from_record(cls, record) -> ScriptedEvent:
        """Build the event from a scenario event record: each field from its namesake.

        Fields the record does not carry (``LeaderDeparts.leader``) keep their defaults.
        """
        return cls(**{f.name: getattr(record, f.name) for f in fields(cls)
                      if f.init and hasattr(record, f.name)})

    def apply(self, model) -> None:  # pragma: no cover - every kind overrides it
        """Change the model now."""
        raise NotImplementedError


@dataclass(frozen=True)
class LeaderDeparts(ScriptedEvent):
    """The first leader with ``role`` (or the given ``leader``) exits (§7.1)."""

    role: str
    successor_stance: float | None = None
    leader: object = None
    kind = "leader_departs"

    @override
    def apply(self, model) -> None:
        leader = self.leader
        if leader is None:
            leader = next((ld for ld in model.leaders if ld.role == self.role), None)
        if leader is not None:
            leadership.leader_exit(model, leader, successor_stance=self.successor_stance)


@dataclass(frozen=True)
class SupervisorDeparts(ScriptedEvent):
    """The first team's supervisor leaves (§7.10)."""

    kind = "supervisor_departs"

    @override
    def apply(self, model) -> None:
        team = model.teams[0]
        if team.supervisor is not None:
            workforce.supervisor_exit(model, team)


@dataclass(frozen=True)
class BudgetCut(ScriptedEvent):
    """An in-year cut of ``fraction`` to the discretionary budget, then a budget decision."""

    fraction: float
    kind = "budget_cut"

    @override
    def apply(self, model) -> None:
        model.scripted_budget_factor *= 1.0 - self.fraction
        model.cause("budget_cut")
        budget.budget_decision(model, "in_year_cut", model.cal.grant_share)


@dataclass(frozen=True)
class PartnerWithdraws(ScriptedEvent):
    """The first active partner of ``agency`` leaves the steering group (§7.5)."""

    agency: str
    kind = "partner_withdraws"

    @override
    def apply(self, model) -> None:
        for pt in model.partners:
            if pt.active and pt.agency == self.agency:
                partnership.partner_withdraws(model, pt, entirely=True)
                break


@dataclass(frozen=True)
class CoFundingEnds(ScriptedEvent):
    """The co-funding partner stops paying but stays a member (§7.5)."""

    kind = "co_funding_ends"

    @override
    def apply(self, model) -> None:
        for pt in model.partners:
            if pt.active and pt.co_funding > 0:
                partnership.partner_withdraws(model, pt, entirely=False)
                break


@dataclass(frozen=True)
class Inspection(ScriptedEvent):
    """An Ofsted inspection sets the rating."""

    rating: str
    kind = "inspection"

    @override
    def apply(self, model) -> None:
        model.ofsted = self.rating


@dataclass(frozen=True)
class CompetingService(ScriptedEvent):
    """A competing local service diverts families (§7.6)."""

    strength: float
    kind = "competing_service"

    @override
    def apply(self, model) -> None:
        model.competition_extra = clip(model.competition_extra + 0.3 * self.strength)


EVENT_CLASSES = {cls.kind: cls for cls in (LeaderDeparts, SupervisorDeparts, BudgetCut,
                                           PartnerWithdraws, CoFundingEnds, Inspection,
                                           CompetingService)}


def build_event(record) -> ScriptedEvent:
    """The event object for a scenario event record (an already built event passes through)."""
    if isinstance(record, ScriptedEvent):
        return record
    return EVENT_CLASSES[record.kind].from_record(record)


def schedule(records) -> dict[int, list[ScriptedEvent]]:
    """Events by month, in file order."""
    by_month: dict[int, list[ScriptedEvent]] = {}
    for record in records:
        by_month.setdefault(record.month, []).append(build_event(record))
    return by_month


def national_events(model, before) -> None:
    """Log the calendar's changes that a closure's explanation may name (ODD §7.22).

    Args:
        model: The model, with ``model.cal`` already this month's calendar.
        before: Last month's calendar state.
    """
    cal = model.cal
    if cal.grant_share < before.grant_share:
        model.cause("grant_step")
    if cal.budget_factor < 1.0 <= before.budget_factor:
        model.cause("austerity")
    if cal.trial_randomising and not before.trial_randomising:
        model.cause("trial_randomising")


def apply_scripted_events(model) -> None:
    """Step 1: this month's scripted events, in file order, until one closes the service."""
    for event in model.scripted_events.get(model.month, ()):
        if model.closed:
            return
        model.apply_event(event)
