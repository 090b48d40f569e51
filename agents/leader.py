"""Senior leaders (docs/ODD.md §2.2 Leader).

Chief executive, director of children's services, assistant directors,
heads of service and partner agencies' directors. A leader's *stance* is their ``support``
(a champion is a leader whose stance is at the top of the scale); *patronage* is a role
(``is_patron``: line-manages the supervisor or shields the service), held by few (ODD §7.3).
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
# Roles whose exits respond to inspection pressure and hostility (docs/ODD.md §7.1).
CHILDRENS_SERVICES = frozenset({"director_childrens_services", "assistant_director", "head_of_service"})
SENIOR_ROLES = ("chief_executive", "director_childrens_services", "assistant_director")
# The council's line of management, most senior first (a partner agency's director is outside
# it): a patron covers the roles below their own (MODEL.md §5.1, 001:1850).
LINE_OF_MANAGEMENT = ("chief_executive", "director_childrens_services", "assistant_director",
                      "head_of_service")
# The parameter holding each role's national exit rate; other roles use the assistant
# director's (read every leader-month, so built once here).
EXIT_RATE_PARAMETER = {"chief_executive": "chief_executive_exit_rate",
                       "director_childrens_services": "dcs_exit_rate",
                       "partner_director": "partner_director_exit_rate"}


class Leader(mesa.Agent):
    """A senior person with power over the service.

    Attributes:
        role: One of ``ROLE_INFLUENCE``.
        stance: The person's own stance on MST, -1 (hostile) to 1 (champion): sticky, set
            early and moved only slowly by visible local evidence (001:2155).
        support: Current backing, -1..1: the stance, pulled a little towards the coalition
            and knocked down by released resentment, from which it recovers (001:1850).
        knowledge: Understanding of the service and the original funding commitment, 0-1.
        tenure: Months in post.
        interim: Whether this is an interim appointment.
        interim_left: Months left of an interim spell.
        is_patron: Holds the patron's role: line-manages the supervisor or chairs the group and
            extends protection (a role, not a stance).
        chairs: Chairs the steering group.
        short_termism: Appetite for quick savings, 0-1.
        original: Was in post when the commitment was made (or inherited it by induction).
        newcomer: Arrived during the simulation (not one of the founding leaders).

    A permanent leader leaves with a monthly chance (docs/ODD.md §7.1): the national rate of
    the role (``EXIT_RATE_PARAMETER``), scaled by the authority's turnover record; children's
    services leaders leave faster under an inadequate rating and a hostile climate (relative to
    the national-average climate behind the national rates, an adequate authority's base
    hostility); a twelfth of that a month, at most 0.9. That chance and its one draw are
    implemented once, in :func:`sim.processes.leadership.leader_turnover`. Each month knowledge grows with briefing
    and the stance moves only with visible local evidence, in proportion to knowledge, while
    current support returns towards the stance, pulled a little towards the coalition
    (docs/ODD.md §7.2); that update is implemented once, in
    :func:`sim.processes.leadership.leaders_learn`.
    """

    def __init__(self, model, role: str, support: float, knowledge: float, *,
                 interim: bool = False, interim_left: int = 0, short_termism: float = 0.3,
                 is_patron: bool = False, chairs: bool = False, original: bool = False,
                 influence_factor: float = 1.0, newcomer: bool = False):
        super().__init__(model)
        self.role = role
        self.stance = support
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

    def manages(self, other: Leader) -> bool:
        """Whether ``other`` is below this leader in the council's line of management."""
        line = LINE_OF_MANAGEMENT
        return (self.role in line and other.role in line
                and line.index(self.role) < line.index(other.role))

    def proposes_cut(self, p, rng) -> bool:
        """Whether this leader proposes cutting MST this month (docs/ODD.md §7.14).

        Only a new, unsupportive senior leader in their first year, driven by short-termism,
        proposes a cut (001:1557); the draw from ``rng`` (the decisions' stream) is made only
        for such a leader.
        """
        return (self.role in SENIOR_ROLES and self.newcomer and self.support < 0
                and self.tenure <= 12
                and rng.random() < p.cut_proposal_rate * self.short_termism * -self.support)
