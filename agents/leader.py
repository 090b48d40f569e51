"""Senior leaders (MODEL.md §3.2 Leader).

Chief executive, director of children's services, assistant directors,
heads of service and partner agencies' directors (MODEL.md §3.2 Leader).
"""

from __future__ import annotations

import mesa

# Influence on the service's fate by role (assumption; a chief executive outranks a head of service).
ROLE_INFLUENCE = {
    "chief_executive": 1.0,
    "director_childrens_services": 0.9,
    "assistant_director": 0.6,
    "head_of_service": 0.4,
    "partner_director": 0.6,
}
# Roles whose exits respond to inspection pressure and hostility (MODEL.md §5.2).
CHILDRENS_SERVICES = frozenset({"director_childrens_services", "assistant_director", "head_of_service"})


class Leader(mesa.Agent):
    """A senior person with power over the service.

    Attributes:
        role: One of ``ROLE_INFLUENCE``.
        support: Backing for MST, -1 (hostile) to 1 (champion).
        knowledge: Understanding of the service and the original funding commitment, 0-1.
        tenure: Months in post.
        interim: Whether this is an interim appointment.
        interim_left: Months left of an interim spell.
        is_patron: Line-manages the supervisor or chairs the group and extends protection.
        chairs: Chairs the steering group.
        short_termism: Appetite for quick savings, 0-1.
        original: Was in post when the commitment was made (or inherited it by induction).
        newcomer: Arrived during the simulation (not one of the founding leaders).
    """

    def __init__(self, model, role: str, support: float, knowledge: float, *,
                 interim: bool = False, interim_left: int = 0, short_termism: float = 0.3,
                 is_patron: bool = False, chairs: bool = False, original: bool = False,
                 influence_factor: float = 1.0, newcomer: bool = False):
        super().__init__(model)
        self.role = role
        self.support = support
        self.knowledge = knowledge
        self.tenure = 0
        self.interim = interim
        self.interim_left = interim_left
        self.short_termism = short_termism
        self.is_patron = is_patron
        self.chairs = chairs
        self.original = original
        self.newcomer = newcomer
        self.influence = ROLE_INFLUENCE[role] * influence_factor

    @property
    def childrens_services(self) -> bool:
        """Whether the role is in children's services leadership."""
        return self.role in CHILDRENS_SERVICES

    def weight(self, patron_weight: float) -> float:
        """Weight of this leader in the leadership score (patrons count extra)."""
        return self.influence * (patron_weight if self.is_patron else 1.0)

    def learn(self, rate: float, briefing: float) -> None:
        """Grow knowledge through briefings and steering-group attendance.

        Args:
            rate: Monthly gain at full briefing (``knowledge_gain_rate``).
            briefing: Briefing intensity this month, 0-1.
        """
        self.knowledge += rate * briefing * (1.0 - self.knowledge)

    def drift(self, rate: float, target: float) -> None:
        """Move support slowly toward what the leader sees (evidence and coalition)."""
        self.support += rate * (target - self.support)
        if self.support > 1.0:
            self.support = 1.0
        elif self.support < -1.0:
            self.support = -1.0
