"""MST therapists (docs/ODD.md §2.2 Therapist)."""

from __future__ import annotations

import mesa


class Therapist(mesa.Agent):
    """A therapist in one team.

    Attributes:
        team: The :class:`sim.team.Team` the therapist works in.
        cases: Open cases (``sim.cases.Case``).
        strain: 0-1.
        adherence: Fidelity to the model, 0-1.
        joined: The month the therapist joined.
        experience: Months of MST practice (read-only: months since ``joined``).
        tenure: Months in post (the same count).

    Each month, after their cases, strain rises with overload, vacancies to cover and failures
    and falls with successes and supportive supervision; adherence moves towards the level that
    supervision and boosters support; strain raises the exit hazard (docs/ODD.md §7.9). That
    update runs for every therapist every month, so its only implementation is inlined in
    :func:`sim.processes.workforce.team_month`.
    """

    def __init__(self, model, team, adherence: float):
        super().__init__(model)
        self.team = team
        self.cases: list = []
        self.strain = 0.0
        self.adherence = adherence
        self.joined = model.month
        self.successes = 0
        self.failures = 0

    @property
    def tenure(self) -> int:
        """Months in post, derived rather than counted in the hot monthly loop (§7.9)."""
        return self.model.month - self.joined

    @property
    def experience(self) -> int:
        """Months of MST practice: every therapist starts new to MST, so the tenure."""
        return self.model.month - self.joined

    @property
    def caseload(self) -> int:
        """Number of open cases."""
        return len(self.cases)
