"""Frontline practitioners who can refer a family (docs/ODD.md §2.2 Referrer)."""

from __future__ import annotations

import mesa


class Referrer(mesa.Agent):
    """A social worker, YOS officer or school staff member.

    Attributes:
        agency: ``social_care``, ``yos`` or ``education``.
        awareness: Knows MST and its criteria, 0-1.
        attitude: View of MST, -1-1; sticky (001:2155).
        tenure: Months in post.

    Each month every referrer gains awareness from promotion visits and loses some without
    contact (``awareness += gain * (1 - awareness) - decay * awareness``) and their attitude
    drifts with the values fit and the learning climate (docs/ODD.md §7.6). That update is the
    hottest loop of a run, so its only implementation is inlined in
    :func:`sim.processes.referrals.promote_and_drift`.
    """

    def __init__(self, model, agency: str, awareness: float, attitude: float):
        super().__init__(model)
        self.agency = agency
        self.awareness = awareness
        self.attitude = attitude
        self.tenure = 0

    def refer_probability(self, propensity: float) -> float:
        """Chance of referring an eligible family met: rises with awareness and attitude."""
        favour = 0.8 + 0.4 * self.attitude  # clipped to 0..1 (conditionals: a hot path)
        favour = 0.0 if favour < 0.0 else (1.0 if favour > 1.0 else favour)
        return propensity * self.awareness * favour

    def hear(self, signal: float, stickiness: float) -> None:
        """Update a sticky attitude toward ``signal`` (-1..1 or beyond for heavy news)."""
        a = stickiness * self.attitude + (1.0 - stickiness) * signal
        self.attitude = min(1.0, max(-1.0, a))

    def refers(self, propensity: float, rng) -> bool:
        """Whether the referrer refers an eligible family they meet (one draw from ``rng``)."""
        return rng.random() < self.refer_probability(propensity)

    def refers_inappropriately(self, propensity: float, rng) -> bool:
        """Whether they refer a family that does not meet the criteria (one draw from ``rng``).

        Knowing the criteria keeps referrals appropriate (001:5101).
        """
        return rng.random() < self.refer_probability(propensity) * (1.0 - self.awareness)
