"""Families referred to and treated by the service (docs/ODD.md §2.3 Case)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Case:
    """A lightweight record of one family, not an agent.

    Attributes:
        referrer: The referring practitioner (a ``Referrer`` agent, or None if it left).
        referred: Month of referral.
        start: Month treatment started (-1 while waiting).
        planned_end: Month treatment is planned to end.
        engagement: Family engagement, about 0.75-1.25 (1 = typical).
        outcome: "" while open; success, partial, failure or dropout.
        came_back: Whether the family came back to social care after MST.
        resumed: Treatment was interrupted by a worker leaving and is to be resumed.
    """

    referrer: object
    referred: int
    start: int = -1
    planned_end: int = -1
    engagement: float = 1.0
    outcome: str = ""
    came_back: bool = False
    resumed: bool = False
