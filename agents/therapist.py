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

    def work_month(self, p, quality: float, support: float, booster: float,
                   vacancy_load: float, rng) -> bool:
        """A therapist's month after their cases: strain, adherence and the exit draw.

        Strain rises with overload, vacancies to cover and failures and falls with successes;
        adherence follows supervision and boosters; strain raises the exit hazard
        (docs/ODD.md §7.9). The model runs this rule inlined in
        :func:`sim.processes.workforce.team_month` (a hot loop); this method is its documented
        form and the two must stay the same.

        Args:
            p: The mechanism parameters.
            quality: Quality of clinical supervision this month.
            support: The supervisor style's factor on strain recovery.
            booster: The boosters' lift to adherence this month.
            vacancy_load: Share of the team's posts vacant.
            rng: The workforce stream (one draw).

        Returns:
            Whether the therapist leaves this month.
        """
        self.tenure += 1
        self.experience += 1
        cap = p.caseload_cap
        over = max(0, len(self.cases) - cap) / cap
        load = (p.strain_rate * (over + vacancy_load + 0.5 * self.failures)
                - 0.5 * p.strain_rate * self.successes)
        self.update_strain(load, p.strain_recovery * quality * support)
        target = 0.35 + 0.55 * quality + booster - 0.3 * self.strain
        self.update_adherence(p.adherence_rate, 0.0 if target < 0.0 else 1.0 if target > 1.0
                              else target)
        hazard = p.therapist_exit_rate / 12.0 * (1.0 + p.strain_exit_multiplier * self.strain)
        return rng.random() < hazard

    def update_strain(self, load: float, recovery: float) -> None:
        """Strain rises with load (overload, cover, failures) and recovers with support."""
        s = self.strain + load - recovery * self.strain
        self.strain = min(1.0, max(0.0, s))

    def update_adherence(self, rate: float, target: float) -> None:
        """Adherence moves toward the level that supervision and boosters support."""
        self.adherence += rate * (target - self.adherence)
