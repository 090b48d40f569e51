"""Defence and pressure: the buffers a service musters against the pressure on it (ODD §7.13).

The measures here read the current state and draw nothing: leaders' support weighted by their
knowledge and influence (patrons count extra), locally visible evidence, the advocacy capacity of
a programme manager or permanent supervisor, how embedded the service is, and the cost and
co-funding that set the LA's share and so the pressure (ODD §7.17). Each is bound as a method of
:class:`sim.model.LocalAuthority` (``model.compute_defence()``...), so the submodels and the
dashboard read them off the model and a test can fix one on one model instance.
"""

from __future__ import annotations

from sim.numeric import clip

HOST_EMBEDDING = {"local_authority": 1.0, "nhs_trust": 0.8, "voluntary_sector": 0.6}


def leadership_score(model) -> float:
    """Influence-weighted support x knowledge of current leaders, -1..1 (patrons count extra).

    A well-disposed newcomer with no knowledge adds little; an opponent counts at least half
    even before learning anything.
    """
    pw = model.p.patron_weight
    num = den = 0.0
    for ld in model.leaders:
        w = ld.weight(pw)
        k = ld.knowledge if ld.support > 0 else 0.5 + 0.5 * ld.knowledge
        num += w * ld.support * k
        den += w
    return num / den if den else 0.0

def advocacy_capacity(model) -> float:
    """The service's advocacy capacity: programme manager, else the best permanent supervisor.

    The advocacy stock ``advocacy`` follows it (ODD §7.10): influence built by promotion,
    briefings and "being useful" outlasts the person for a while and then fades (001:1528).
    """
    best = 0.0
    for t in model.teams:
        s = t.supervisor
        if s is not None and not s.interim and s.system_leadership > best:
            best = s.system_leadership
    if model.programme_manager:
        best = max(best, model.p.programme_manager_system)
    return best

def evidence(model) -> float:
    """Locally visible evidence, -1..1.

    With local outcome feedback leaders see the success rate; a learning climate lets them see
    some of it anyway. Otherwise they hear of families who came back (weighing more after an
    oversold launch), and after 2018 of the national trial's null result (001:2333).
    """
    closed = sum(model.past_year["closed"])
    if closed:
        success = sum(model.past_year["success"]) / closed
        back = sum(model.past_year["came_back"]) / closed
    else:
        success, back = 0.35, model.p.came_back_share
    local = clip((success - 0.35) * 2.5, -1.0, 1.0)
    # Anecdotes: successes heard of, against families who came back.
    narrative = success - back * (model.p.came_back_oversold_weight if model.oversold else 1.0)
    if model.cal.trial_results_out:
        narrative -= model.p.trial_null_shock
    vis = 1.0 if model.levers.local_outcome_feedback else 0.5 * model.learning
    return clip(vis * local + (1.0 - vis) * narrative, -1.0, 1.0)

def embeddedness(model) -> float:
    """Months operating, several teams and a programme manager lock the service in."""
    e = (0.6 * min(1.0, model.month / model.p.embed_months)
         + 0.25 * min(1.0, (len(model.teams) - 1) / 2)
         + (0.15 if model.programme_manager else 0.0))
    return e * HOST_EMBEDDING[model.site.host]

def compute_defence(model) -> float:
    """The defence the service can muster against pressure (docs/ODD.md §7.13)."""
    p = model.p
    return (p.w_leadership * model.leadership_score() + p.w_partnership * model.partnership
            + p.w_evidence * model.evidence() + p.w_system * model.advocacy
            + p.w_embedded * model.embeddedness())

def annual_cost(model) -> float:
    """Annual cost of the service: fixed block per team plus funded posts, plus a manager."""
    p = model.p
    var = p.team_cost - p.fixed_cost
    cost = sum(p.fixed_cost + var * (0.2 + 0.8 * t.posts / p.therapist_posts) for t in model.teams)
    return cost + (p.programme_manager_cost if model.programme_manager else 0.0)

def co_funding_share(model) -> float:
    """Share of cost paid by co-funding partners still in."""
    return sum(pt.co_funding for pt in model.partners if pt.active)

def compute_pressure(model, grant_share: float, extra_cost: float = 0.0) -> float:
    """Pressure on the service given the grant share of cost (docs/ODD.md §7.13).

    The LA's share of cost relative to its discretionary budget, compressed by an elasticity
    so that size alone does not decide, raised by cuts to that budget, amplified by
    hostility, plus a unit-cost penalty when the team is under-used (001:1929).
    """
    p = model.p
    la_share = max(0.0, 1.0 - grant_share - model.co_funding_share())
    la_cost = model.annual_cost() * la_share + extra_cost
    # Size enters through a compressed cost share of the LA's own (pre-cut) budget; cuts
    # enter separately, relative to that budget, so a 20% cut stays a real stressor while
    # size alone does not decide (docs/ODD.md §7.13).
    burden = (la_cost / model.base_budget / p.burden_reference) ** p.burden_elasticity
    shrink = model.cal.budget_factor * model.scripted_budget_factor
    burden *= shrink ** -p.cut_elasticity
    under = max(0.0, 0.75 - model.utilisation) / 0.75
    return (p.pressure_weight * burden * (1.0 + p.hostility_pressure * model.hostility)
            + p.unit_cost_penalty * (under + model.unit_cost_excess()))

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
