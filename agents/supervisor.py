"""The MST supervisor: clinical lead and, in practice, local system leader (docs/ODD.md §2.2 Supervisor)."""

from __future__ import annotations

import mesa

# Strain recovery factor of the supervisor's style for therapists (000:98; assumption).
STYLE_SUPPORT = {"collaborative": 1.2, "balanced": 1.0, "directive": 0.8}


class Supervisor(mesa.Agent):
    """The team's clinical lead.

    Attributes:
        clinical_skill: Quality of clinical supervision, 0-1.
        system_leadership: Skill at system work (promotion, briefing, partnership), 0-1.
        prior_mst_experience: Imported, experienced in MST (001:1599).
        style: collaborative, balanced or directive.
        strain: 0-1.
        interim: An interim acting up: clinical cover but no system leadership (001:1578).
        tenure: Months in post.
        first: The supervisor in post at go-live.

    A permanent supervisor leaves with a monthly hazard ``supervisor_exit_rate / 12`` times
    ``min(supervisor_strain_cap, 1 + strain_exit_multiplier x strain)`` (docs/ODD.md §7.10); the
    month's strain and that draw are implemented once, in
    :func:`sim.processes.workforce.supervisor_month`.

    A supervisor leans toward what they are good at: the share of effort given to system work
    rather than clinical supervision is ``min(0.7, 0.2 + 0.4 x system_leadership)``, plus 0.15
    when carrying a weak steering group alone (001:1544); 0.1 with a programme manager, who
    takes it over; none for an interim. Clinical supervision's quality is ``clinical_skill x
    (0.6 + 0.4 x (1 - share))`` (docs/ODD.md §7.9, §7.10). Read every team-month, so
    implemented once, in :func:`sim.processes.workforce.team_month`.
    """

    def __init__(self, model, clinical_skill: float, system_leadership: float, *,
                 prior_mst_experience: bool = False, style: str = "balanced",
                 interim: bool = False, first: bool = False):
        super().__init__(model)
        self.clinical_skill = clinical_skill
        self.system_leadership = 0.0 if interim else system_leadership
        self.prior_mst_experience = prior_mst_experience
        self.style = style
        self.strain = 0.0
        self.interim = interim
        self.tenure = 0
        self.first = first

    def add_strain(self, amount: float) -> None:
        """Add (or with a negative amount relieve) strain, kept within 0-1."""
        self.strain = min(1.0, max(0.0, self.strain + amount))
