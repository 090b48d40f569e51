"""Frontline practitioners who can refer a family (docs/ODD.md §2.2 Referrer)."""

from __future__ import annotations


class Referrer:
    """A social worker, YOS officer or school staff member.

    An agent of the model, but not a mesa ``Agent``: it is not entered in mesa's agent
    registry. Referrers are the many, short-lived agents of a run (a hundred or so join and
    leave a Metro City run), mesa's registration and removal of each (its agent sets, a
    signal and a log line formatted every time) took about 6% of such a run, and nothing reads
    referrers through that registry: the model keeps them in its own list,
    ``model.referrers``, whose order is the order of their updates and draws (docs/ODD.md §2.2,
    §3). Leaders, partners, supervisors and therapists are mesa agents.

    Attributes:
        model: The model the referrer works in.
        agency: ``social_care``, ``yos`` or ``education``.
        awareness: Knows MST and its criteria, 0-1.
        attitude: View of MST, -1-1; sticky (001:2155).
        in_post: Still in post (False once the referrer has left: :meth:`remove`).
        tenure: Months in post (derived from the month the referrer joined; read-only).
        joined: The month the referrer joined.

    Each month every referrer gains awareness from promotion visits and loses some without
    contact (``awareness += gain * (1 - awareness) - decay * awareness``) and their attitude
    drifts with the values fit and the learning climate (docs/ODD.md §7.6). A referrer who meets
    an eligible family refers with probability ``referral_propensity x awareness x favour``,
    ``favour = clip(0.8 + 0.4 x attitude, 0, 1)``, and refers a family outside the criteria with
    that chance times ``1 - awareness`` (knowing the criteria keeps referrals appropriate,
    001:5101). These are the hottest loops of a run, so their only implementations are inlined in
    :func:`sim.processes.referrals.referrers_month` (with churn, in one pass) and
    :func:`sim.processes.referrals.meet_and_refer`.

    A referrer hears of their own families' outcomes: of a family that came back (signal -1,
    or ``-came_back_oversold_weight`` after an oversold launch) or succeeded (+1), and their
    sticky attitude moves to ``stickiness x attitude + (1 - stickiness) x signal``, kept within
    -1..1 (docs/ODD.md §7.6, §7.8); implemented once, where cases close, in
    :func:`sim.processes.casework.treat_caseloads`.
    """

    __slots__ = ("model", "agency", "awareness", "attitude", "joined", "in_post")

    def __init__(self, model, agency: str, awareness: float, attitude: float):
        self.model = model
        self.agency = agency
        self.awareness = awareness
        self.attitude = attitude
        self.joined = model.month
        self.in_post = True

    def remove(self) -> None:
        """The referrer leaves: out of post (the model's list holds their successor)."""
        self.in_post = False

    @property
    def tenure(self) -> int:
        """Months in post (every referrer's month would otherwise count it, a hot loop)."""
        return self.model.month - self.joined
