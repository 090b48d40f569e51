"""MST therapists (MODEL.md §3.2 Therapist)."""

from __future__ import annotations

import mesa


class Therapist(mesa.Agent):
    """A therapist in one team.

    Attributes:
        team: The :class:`sim.team.Team` the therapist works in.
        cases: Open cases (``sim.cases.Case``).
        strain: 0-1.
        adherence: Fidelity to the model, 0-1.
        experience: Months of MST practice.
        tenure: Months in post.
    """

    def __init__(self, model, team, adherence: float):
        super().__init__(model)
        self.team = team
        self.cases: list = []
        self.strain = 0.0
        self.adherence = adherence
        self.experience = 0
        self.tenure = 0
        self.successes = 0
        self.failures = 0

    @property
    def caseload(self) -> int:
        """Number of open cases."""
        return len(self.cases)

    def update_strain(self, load: float, recovery: float) -> None:
        """Strain rises with load (overload, cover, failures) and recovers with support."""
        s = self.strain + load - recovery * self.strain
        self.strain = min(1.0, max(0.0, s))

    def update_adherence(self, rate: float, target: float) -> None:
        """Adherence moves toward the level that supervision and boosters support."""
        self.adherence += rate * (target - self.adherence)
