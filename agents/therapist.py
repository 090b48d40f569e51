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
        experience: Months of MST practice.
        tenure: Months in post.

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
        self.experience = 0
        self.tenure = 0
        self.successes = 0
        self.failures = 0

    @property
    def caseload(self) -> int:
        """Number of open cases."""
        return len(self.cases)
