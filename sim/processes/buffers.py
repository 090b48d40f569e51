"""Buffers against pressure: what protects the service and what threatens it (ODD §7.13).

MODEL.md §5.1 (revision 2). Survival decisions compare the service's **reserve** (local
evidence, embeddedness and the status quo) with the **pressure** on it, of which only the part
that gets through the gaps between its **buffers** lands:

    margin   = reserve - pressure x exposure - review_extra
    exposure = floor + (1 - floor) x (1 - b_L)^g_L x (1 - b_P)^g_P x (1 - b_S)^g_S

with the leadership shield b_L (a noisy-OR over leaders: informed supporters shield, a patron
most, newcomers without knowledge little; opponents add pressure instead), the partnership
shield b_P (the steering group) and system leadership b_S (the advocacy stock). One strong
buffer keeps most pressure off; only when every buffer is weak does the full pressure land, so
**the value of each buffer is larger when the others are weak** (001:1748, 001:1750). The
exponents g set the degree of substitution; the floor keeps some pressure on every service.

:func:`standing` reads the state into a :class:`Standing` (the inputs of one decision);
:func:`margin_of` is the margin as a function of those inputs alone, written with arithmetic
only so that :func:`sim.explanation.shapley` can evaluate it on arrays. Nothing here draws.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

UNDER_USE_TARGET = 0.75  # utilisation below which a team counts as under-used (ODD §7.13)
# The margin's unit (ODD §7.13): one unit of pressure is the cost pressure of one team costing
# the reference cost, paid in full by an authority of the reference population, before
# hostility and cuts. Multiplying every margin-unit parameter by one constant would leave every
# run unchanged, so the unit is fixed, not a parameter.
REFERENCE_COST = 400_000.0
REFERENCE_POPULATION = 250_000.0

# Each input of the margin and the cause group (sim.explanation.CAUSE_GROUPS) it belongs to.
INPUT_GROUPS: dict[str, str] = {
    "leadership": "leadership_shield",
    "partnership": "partnership_shield",
    "system": "system_leadership",
    "evidence": "evidence",
    "embeddedness": "embeddedness",
    "grant_share": "grant_taper",
    "co_funding": "co_funding",
    "review": "supervisor_departure",
    "review_extra": "supervisor_departure",
    "cost": "service_cost",
    "budget_factor": "budget_cuts",
    "hostility": "hostility",
    "opposition": "opposition",
    "under_use": "under_use",
    "unit_cost": "unit_cost",
}


@dataclass(frozen=True, slots=True)
class Standing:
    """The inputs of one decision on the service.

    Attributes:
        leadership: Leadership shield b_L, 0-1.
        partnership: Partnership shield b_P, 0-1.
        system: System leadership b_S (the advocacy stock), 0-1.
        evidence: Locally visible evidence, -1..1.
        embeddedness: How embedded the service is, 0-1.
        grant_share: The grant's share of cost the decision weighs.
        co_funding: Co-funding partners' share of cost.
        review: 1 at a viability review (full, unsubsidised cost), else 0.
        review_extra: Extra margin a viability review demands (eased by a patron or a
            succession plan), 0 otherwise.
        cost: Annual cost of the service (GBP), including any cost under decision.
        budget_factor: The discretionary budget relative to its pre-austerity level.
        hostility: The climate of threat, 0-1.
        opposition: Opponents' influence-weighted opposition.
        under_use: Under-use, 0-1 (0 at or above the target utilisation).
        unit_cost: Relative excess of cost per funded post over a full team's.
        size: The authority's population in reference populations (not a cause).
    """

    leadership: float
    partnership: float
    system: float
    evidence: float
    embeddedness: float
    grant_share: float
    co_funding: float
    review: float
    review_extra: float
    cost: float
    budget_factor: float
    hostility: float
    opposition: float
    under_use: float
    unit_cost: float
    size: float

    def inputs(self) -> dict[str, float]:
        """The inputs as a dictionary (every field)."""
        return {name: getattr(self, name) for name in STANDING_FIELDS}


STANDING_FIELDS = tuple(f.name for f in fields(Standing))


def _pos(x):
    """max(0, x) for floats and arrays alike."""
    return (x + abs(x)) * 0.5


def exposure_of(x, p):
    """Share of the pressure that gets through the buffers (floor .. 1)."""
    gaps = ((1.0 - x["leadership"]) ** p.gamma_leadership
            * (1.0 - x["partnership"]) ** p.gamma_partnership
            * (1.0 - x["system"]) ** p.gamma_system)
    return p.exposure_floor + (1.0 - p.exposure_floor) * gaps


def reserve_of(x, p):
    """What the service has earned: the status quo, local evidence, embeddedness."""
    return p.status_quo + p.w_evidence * x["evidence"] + p.w_embedded * x["embeddedness"]


def pressure_of(x, p):
    """The pressure on the service before the buffers (docs/ODD.md §7.13).

    The LA's share of the cost against its size (in margin units), compressed by an elasticity so
    that size alone does not decide, raised by cuts to that budget and amplified by hostility;
    opponents' influence; bounded under-use; and the unit-cost penalty of a cut team (001:1929).
    """
    share = _pos(1.0 - x["grant_share"] * (1.0 - x["review"]) - x["co_funding"])
    burden = (x["cost"] * share / REFERENCE_COST / x["size"]) ** p.burden_elasticity
    money = (burden * x["budget_factor"] ** -p.cut_elasticity
             * (1.0 + p.hostility_pressure * x["hostility"]))
    return (money + p.opposition_pressure * x["opposition"] + p.under_use_weight * x["under_use"]
            + p.unit_cost_penalty * x["unit_cost"])


def margin_of(x, p):
    """The decision margin from the inputs ``x`` (a mapping; floats or arrays) and parameters."""
    return reserve_of(x, p) - pressure_of(x, p) * exposure_of(x, p) - x["review_extra"]


# ---------------------------------------------------------------------- reading the state
def leadership_shield(model) -> float:
    """Noisy-OR of leaders' shields, 0-1: ``1 - prod(1 - s_i)``.

    ``s_i = leader_shield x influence x support+ x knowledge_eff (x patron_boost)``, capped at
    1, where ``knowledge_eff`` runs from ``newcomer_shield`` (no knowledge) to 1 (001:1848).
    """
    p = model.p
    floor = p.newcomer_shield
    keep = 1.0
    for ld in model.leaders:
        if ld.support <= 0.0:
            continue
        s = p.leader_shield * ld.influence * ld.support * (floor + (1.0 - floor) * ld.knowledge)
        if ld.is_patron:
            s *= p.patron_boost
        keep *= 1.0 - min(1.0, s)
    return 1.0 - keep


def opposition(model) -> float:
    """Opponents' influence x opposition; they need no knowledge to oppose (half counts)."""
    total = 0.0
    for ld in model.leaders:
        if ld.support < 0.0:
            total -= ld.influence * ld.support * (0.5 + 0.5 * ld.knowledge)
    return total


def has_patron(model) -> bool:
    """Whether a patron is in post."""
    for ld in model.leaders:  # a loop, not any(): read every team-month
        if ld.is_patron:
            return True
    return False


def advocacy_capacity(model) -> float:
    """The service's advocacy capacity: programme manager in post, else the best supervisor.

    The advocacy stock ``advocacy`` follows it (ODD §7.10): influence built by promotion,
    briefings and "being useful" outlasts the person for a while and then fades (001:1528).
    An interim supervisor "acting up" brings none (001:1578).
    """
    best = 0.0
    for t in model.teams:
        s = t.supervisor
        if s is not None and not s.interim and s.system_leadership > best:
            best = s.system_leadership
    if model.programme_manager:
        pm = model.p.programme_manager_system
        best = pm if pm > best else best  # max(best, pm)
    return best


def evidence(model) -> float:
    """Locally visible evidence, -1..1.

    With local outcome feedback leaders see the success rate and the placement costs avoided
    against the service's cost; a learning climate lets them see some of it anyway. Otherwise
    they hear of families who came back (weighing more after an oversold launch), and after
    2018 of the national trial's null result (001:2333).
    """
    # Read several times a month: clip(x, -1, 1) is written as the conditional that returns
    # the same value.
    p = model.p
    past = model.past_year
    closed = sum(past["closed"])
    if closed:
        success = sum(past["success"]) / closed
        back = sum(past["came_back"]) / closed
    else:
        success, back = 0.35, p.came_back_share
    totals = model.totals
    cost = totals["cost"]
    if cost > 0:
        value = totals["savings"] / cost - 1.0
        value = -1.0 if value < -1.0 else (1.0 if value > 1.0 else value)
    else:
        value = 0.0
    local = (success - 0.35) * 2.5 + p.savings_evidence * value
    local = -1.0 if local < -1.0 else (1.0 if local > 1.0 else local)
    # Anecdotes: successes heard of, against families who came back.
    narrative = success - back * (p.came_back_oversold_weight if model.oversold else 1.0)
    if model.cal.trial_results_out:
        narrative -= p.trial_null_shock
    vis = 1.0 if model.levers.local_outcome_feedback else 0.5 * model.learning
    seen = vis * local + (1.0 - vis) * narrative
    return -1.0 if seen < -1.0 else (1.0 if seen > 1.0 else seen)


def host_embedding(p, host: str) -> float:
    """How much a host organisation locks the service into the LA (a local authority fully)."""
    return {"local_authority": 1.0, "nhs_trust": p.host_embedding_nhs,
            "voluntary_sector": p.host_embedding_voluntary}[host]


def embeddedness(model) -> float:
    """Months operating, several teams and a programme manager lock the service in."""
    e = (0.6 * min(1.0, model.month / model.p.embed_months)
         + 0.25 * min(1.0, (len(model.teams) - 1) / 2)
         + (0.15 if model.programme_manager else 0.0))
    return e * host_embedding(model.p, model.site.host)


def annual_cost(model) -> float:
    """Annual cost of the service: fixed block per team plus funded posts, plus a manager in post."""
    p = model.p
    var = p.team_cost - p.fixed_cost
    cost = sum([p.fixed_cost + var * (0.2 + 0.8 * t.posts / p.therapist_posts) for t in model.teams])
    return cost + (p.programme_manager_cost if model.programme_manager else 0.0)


def co_funding_share(model) -> float:
    """Share of cost paid by co-funding partners still in."""
    return sum(pt.co_funding for pt in model.partners if pt.active)


def unit_cost_excess(model) -> float:
    """Relative excess of cost per funded post over a full team's.

    Cut posts leave the fixed licence and consultation block on fewer cases (001:1929).
    """
    posts = sum(t.posts for t in model.teams)
    if not posts:
        return 0.0
    per_post = (model.annual_cost() - (model.p.programme_manager_cost if model.programme_manager
                                      else 0.0)) / posts
    return max(0.0, per_post / (model.p.team_cost / model.p.therapist_posts) - 1.0)


def standing(model, grant_share: float, *, review: bool = False, review_extra: float = 0.0,
             extra_cost: float = 0.0) -> Standing:
    """The inputs of a decision now, weighing ``grant_share`` of the cost.

    Args:
        model: The model.
        grant_share: The grant's share of cost the decision weighs.
        review: A viability review: the full, unsubsidised cost (001:1578).
        review_extra: The review's extra strictness (after any easing).
        extra_cost: Cost under decision on top of the service's (a new team).
    """
    return Standing(
        leadership=model.leadership_shield(), partnership=model.partnership,
        system=model.advocacy, evidence=model.evidence(), embeddedness=model.embeddedness(),
        grant_share=grant_share, co_funding=model.co_funding_share(),
        review=1.0 if review else 0.0, review_extra=review_extra,
        cost=model.annual_cost() + extra_cost,
        budget_factor=model.cal.budget_factor * model.scripted_budget_factor,
        hostility=model.hostility, opposition=model.opposition(),
        under_use=max(0.0, UNDER_USE_TARGET - model.utilisation) / UNDER_USE_TARGET,
        unit_cost=model.unit_cost_excess(), size=model.size)


def margin(model, s: Standing) -> float:
    """The margin of a standing under the model's parameters."""
    return margin_of(s.inputs(), model.p)
