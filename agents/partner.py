"""Partner agencies' representatives on the steering group (docs/ODD.md §2.2 Partner)."""

from __future__ import annotations

import mesa


class Partner(mesa.Agent):
    """An agency's representative on the steering group.

    Attributes:
        agency: CAMHS, YOS, education, police, finance, the voluntary host...
        commitment: Genuine commitment to the service, 0-1.
        seniority: Seniority of the representative, 0-1.
        attendance: Recent attendance rate at quarterly meetings (moving average), 0-1.
        knows_commitment: Present when the funding commitment was made, or inducted into it.
        co_funding: Share of the team cost this agency pays.
        active: Still a member (False after the agency withdraws).
        tenure: Months in post.

    Commitment moves each month with joint work and reported success, their own agency's cuts
    and the drift of referrals from its client group, kept within 0-1 (docs/ODD.md §7.5); that
    update is implemented once, in :func:`sim.processes.partnership.partners_learn`.
    """

    def __init__(self, model, agency: str, commitment: float, seniority: float, *,
                 knows_commitment: bool, attendance: float = 1.0):
        super().__init__(model)
        self.agency = agency
        self.commitment = commitment
        self.seniority = seniority
        self.attendance = attendance
        self.knows_commitment = knows_commitment
        self.co_funding = 0.0
        self.active = True
        self.tenure = 0

    def attend_probability(self, grant_pull: float, grant_share: float,
                           uninformed: float) -> float:
        """Chance of attending a meeting: commitment, plus the grant's pull on the reluctant.

        Grant money draws reluctant partners to the table with a shallow commitment that shows
        when the taper bites (001:1734); a representative who knows nothing of the original
        commitment sees less reason to come (001:1542).
        """
        c = self.commitment
        p = c + grant_pull * grant_share * (1.0 - c)
        return p if self.knows_commitment else p * uninformed

    def record_meeting(self, attended: bool) -> None:
        """Update the attendance moving average after a quarterly meeting."""
        self.attendance = 0.5 * self.attendance + (0.5 if attended else 0.0)
