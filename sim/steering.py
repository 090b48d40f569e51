"""The steering group: the partnership around the service (docs/ODD.md §2.3, §7.4)."""

from __future__ import annotations

import math

# Weights of the partnership components in a weighted geometric mean (assumption; a bare product
# collapses to zero, docs/ODD.md §7.4).
WEIGHTS = {"attendance": 0.25, "seniority": 0.1, "commitment": 0.2, "memory": 0.2, "chair": 0.1,
           "climate": 0.15}
CHAIR_QUALITY = {"leader": 1.0, "supervisor": 0.6, "none": 0.35}
FLOOR = 0.05


class SteeringGroup:
    """Members, chair and the memory of the original funding commitment.

    Attributes:
        chair: ``leader``, ``supervisor`` (the supervisor carries it alone, 001:1544) or ``none``.
        strength: Partnership strength 0-1, recomputed at each quarterly meeting.
        memory_of_commitment: Share of members present at the commitment or inducted into it.
        meetings: Number of meetings held.
    """

    def __init__(self):
        self.chair = "none"
        self.strength = 0.0
        self.memory_of_commitment = 1.0
        self.meetings = 0

    def assess(self, partners, chair_knows: bool, climate: float) -> float:
        """Recompute partnership strength from the active partners, the chair and the climate.

        Args:
            partners: Active ``Partner`` agents.
            chair_knows: Whether the chair was present at, or inducted into, the commitment.
            climate: The LA's collaboration climate: a "contract monitoring group" in a low-trust
                authority is not a joint partnership (001:1270-1278, 001:1677).

        Returns:
            The new strength.
        """
        if not partners:
            self.memory_of_commitment = 0.0
            self.strength = FLOOR
            return self.strength
        n = len(partners)
        attendance = sum(p.attendance for p in partners) / n
        att_total = sum(p.attendance for p in partners)
        seniority = (sum(p.seniority * p.attendance for p in partners) / att_total
                     if att_total > 0 else 0.0)
        commitment = sum(p.commitment for p in partners) / n
        knowers = sum(1 for p in partners if p.knows_commitment) + (1 if chair_knows else 0)
        self.memory_of_commitment = knowers / (n + (1 if self.chair != "none" else 0))
        parts = {"attendance": attendance, "seniority": seniority, "commitment": commitment,
                 "memory": self.memory_of_commitment, "chair": CHAIR_QUALITY[self.chair],
                 "climate": climate}
        self.strength = math.exp(sum(w * math.log(max(FLOOR, parts[k])) for k, w in WEIGHTS.items()))
        return self.strength
