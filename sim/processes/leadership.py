"""Leader churn, interims and newcomers; patronage and chair succession; leaders' learning.

docs/ODD.md §7.1-§7.3. Draws from the leaders' stream ``model.r_lead``, except the chair's
uptake at a steering-group meeting (the partners' stream, as the meeting's other draws).
"""

from __future__ import annotations

from agents import Leader
from agents.leader import CHILDRENS_SERVICES, EXIT_RATE_PARAMETER
from sim.numeric import clip
from sim.processes import workforce


def newcomer_culture(model) -> float:
    """Mean support of a newcomer: the authority's culture attracts like-minded leaders."""
    p = model.p
    return (p.culture_attraction * ((model.collab_climate - 0.5) + 0.5 * (model.learning - 0.5))
            - p.hostile_newcomer_shift * model.hostility)


def leader_turnover(model) -> None:
    """Step 2: interims' spells run down; permanent leaders may leave (§7.1).

    The only implementation of a permanent leader's monthly exit chance (the rule documented
    on :class:`agents.Leader`), read every leader-month: the month's factors are evaluated
    once, children's services' climate factor again after a replacement (a patron's
    departure raises hostility); the same operations in the same order, one draw from
    ``r_lead`` per permanent leader.
    """
    p = model.p
    rand = model.r_lead.random
    history = model.site.leadership_turnover_history
    k = p.hostility_exit_multiplier
    climate = None
    for ld in list(model.leaders):
        ld.tenure += 1
        if ld.interim:
            ld.interim_left -= 1
            if ld.interim_left <= 0:
                replace_leader(model, ld, interim_allowed=False)
                climate = None
            continue
        rate = getattr(p, EXIT_RATE_PARAMETER.get(ld.role, "assistant_director_exit_rate")) * history
        if ld.role in CHILDRENS_SERVICES:
            if model.ofsted == "inadequate":
                rate *= p.inadequate_exit_multiplier
            if climate is None:
                climate = (1.0 + k * model.hostility) / (1.0 + k * p.ofsted_hostility_adequate)
            rate *= climate
        rate /= 12.0
        if rand() < (rate if rate < 0.9 else 0.9):  # min(0.9, rate); the exit draw
            leader_exit(model, ld)
            climate = None


def leader_exit(model, ld: Leader, successor_stance: float | None = None) -> None:
    """A leader leaves: patronage and the chair pass on or lapse; an interim or newcomer arrives."""
    model.note(f"{ld.role.replace('_', ' ')} left" + (" (interim)" if ld.interim else ""))
    model.cause("leader_left")
    replace_leader(model, ld, interim_allowed=True, successor_stance=successor_stance)


def replace_leader(model, ld: Leader, interim_allowed: bool,
                   successor_stance: float | None = None) -> Leader:
    """Put a successor in ``ld``'s place in the list (an interim only if ``interim_allowed``).

    Returns:
        The successor.
    """
    p, r, lv = model.p, model.r_lead, model.levers
    interim = interim_allowed and r.random() < p.interim_share
    mean = newcomer_culture(model)
    support = (successor_stance if successor_stance is not None
               else clip(r.gauss(mean, p.newcomer_support_sd), -1.0, 1.0))
    short = clip(model.hostility + r.gauss(0.0, 0.2))
    knowledge = p.induction_knowledge if lv.steering_group_induction else 0.0
    new = Leader(model, ld.role, support, knowledge, interim=interim,
                 interim_left=max(1, round(r.expovariate(1.0 / p.interim_months))) if interim else 0,
                 short_termism=short, original=lv.steering_group_induction, newcomer=True,
                 influence_factor=p.interim_influence if interim else 1.0)
    model.leaders[model.leaders.index(ld)] = new
    model.totals["leader_changes"] += 1
    model.past_year["changes"][model.month % 12] += 1
    for t in model.teams:
        if t.supervisor is not None:
            t.supervisor.add_strain(p.supervisor_churn_strain)
    if ld.is_patron:
        patronage_succession(model, ld, new)
    if ld.chairs:
        chair_succession(model, new)
    ld.remove()
    return new


def patronage_succession(model, patron: Leader, new: Leader) -> None:
    """Patronage ends with the patron unless succession is planned (001:1850, §7.3).

    Without a plan the service is exposed, and the resentment the patron suppressed is
    released: the others' current support drops, then recovers towards their own stance.
    """
    p = model.p
    if model.levers.succession_planning:
        heir = max(model.leaders, key=lambda x: x.support * x.influence)
        if heir.support > 0.1:
            heir.is_patron = True
            heir.knowledge = max(heir.knowledge, 0.8 * patron.knowledge)
            model.note("patronage handed over (succession plan)")
            return
    model.note("patronage ended; suppressed resentment released")
    model.cause("patron_left")
    if model.patron_left_month is None:
        model.patron_left_month = model.month
    for other in model.leaders:
        if other is not new:
            other.support = max(-1.0, other.support - p.patron_loss_resentment)
    model.hostility = clip(model.hostility + 0.5 * p.patron_loss_resentment)


def patron_over(model, ld: Leader) -> Leader | None:
    """A patron in post whose line of management includes ``ld`` (who cannot then cut), or None."""
    for other in model.leaders:
        if other.is_patron and other is not ld and other.manages(ld):
            return other
    return None


def chair_succession(model, new: Leader) -> None:
    """The chair's leaving: an informed supporter takes the chair, else it falls back (§7.3)."""
    heirs = [x for x in model.leaders if x is not new and x.support > 0 and x.knowledge > 0.3]
    if model.levers.succession_planning and not heirs and new.support > 0:
        heirs = [new]
    if heirs:
        max(heirs, key=lambda x: x.influence).chairs = True
    else:
        model.steering.chair = "supervisor" if workforce.has_permanent_supervisor(model) else "none"
        model.note(f"steering group now chaired by: {model.steering.chair}")
        model.cause("chair_lost")


def fill_chair(model) -> None:
    """Fill the steering group's chair at a meeting (stream ``r_part``).

    An empty or supervisor-held chair can be taken up by an informed, supportive leader
    (``chair_uptake_rate`` per meeting); an empty one falls to a permanent supervisor, who then
    carries it (001:1544, 001:1547).
    """
    st = model.steering
    if st.chair == "leader":
        return
    keen = [ld for ld in model.leaders
            if not ld.interim and ld.support > 0.3 and ld.knowledge > 0.5]
    if keen and model.r_part.random() < model.p.chair_uptake_rate:
        max(keen, key=lambda x: x.influence).chairs = True
        st.chair = "leader"
        model.note("a leader took the chair of the steering group")
    else:
        if st.chair == "none" and workforce.has_permanent_supervisor(model):
            st.chair = "supervisor"


def leaders_learn(model) -> None:
    """Step 8: leaders' knowledge grows with briefing; views move slowly (§7.2).

    Each person's stance is sticky and anchored where they started ("fixed quite early on",
    001:2155): it moves only with visible local evidence; current support follows the stance,
    a little towards the coalition (the rule documented on :class:`agents.Leader`).
    """
    p = model.p
    briefing = model.advocacy_capacity()
    meeting = 0.5 * model.partnership
    ev = model.evidence()
    leaders = model.leaders
    # sum() of a list rather than a generator: the same values summed in the same order.
    wsum = sum([ld.influence for ld in leaders]) or 1.0
    coalition = sum([ld.influence * ld.support for ld in leaders]) / wsum
    # The leader's monthly update (ODD §7.2; its only implementation), with the month's constants looked
    # up once; the same operations in the same order.
    rate = p.knowledge_gain_rate
    briefed = clip(0.6 * briefing + meeting)
    evidence_rate = p.stance_evidence_rate
    pull = p.coalition_pull
    recovery_months = p.resentment_recovery_months
    for ld in leaders:
        ld.knowledge += rate * briefed * (1.0 - ld.knowledge)
        stance = ld.stance + evidence_rate * ld.knowledge * ev
        ld.stance = stance = 1.0 if stance > 1.0 else (-1.0 if stance < -1.0 else stance)
        anchor = stance + pull * (coalition - stance)
        ld.support += (anchor - ld.support) / recovery_months


def cultivate_patron(model) -> None:
    """The champion-cultivation lever: grow a second patron before the first leaves (§7.3).

    A supportive, informed leader (a champion by stance) takes on the patron's role
    (stream ``r_lead``).
    """
    if not model.levers.champion_cultivation or sum(ld.is_patron for ld in model.leaders) >= 2:
        return
    candidates = [ld for ld in model.leaders if ld.support > 0.3 and ld.knowledge > 0.4
                  and not ld.interim and not ld.is_patron]
    if candidates and model.r_lead.random() < model.p.champion_cultivation_rate:
        max(candidates, key=lambda x: x.influence).is_patron = True
        model.note("a new champion took on patronage")
