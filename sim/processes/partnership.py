"""The steering group, partner turnover and co-funding withdrawal (docs/ODD.md §7.4, §7.5).

Draws from the partners' stream ``model.r_part``.
"""

from __future__ import annotations

from agents import Partner
from sim.numeric import clip
from sim.processes import budget, leadership
from sim.processes.referrals import REFERRER_AGENCIES

HEALTH_AGENCIES = ("camhs", "mental_health_trust", "health")
AGENCY_SHARE = dict(REFERRER_AGENCIES)  # each agency's expected share of referrals


def assign_co_funding(model) -> None:
    """The co-funding lever: a health partner (else the first) pays its share of the cost."""
    share = model.levers.co_funding
    if share <= 0 or not model.partners:
        return
    health = [pt for pt in model.partners if pt.agency in HEALTH_AGENCIES]
    (health or model.partners)[0].co_funding = share


def steering_group_meeting(model) -> None:
    """A quarterly meeting: attendance, the chair (§7.3) and partnership strength (§7.4)."""
    p, r = model.p, model.r_part
    active = [pt for pt in model.partners if pt.active]
    share = model.cal.grant_share
    for pt in active:
        pt.record_meeting(r.random() < pt.attend_probability(p.grant_pull, share,
                                                            p.uninformed_attendance))
    leadership.fill_chair(model)
    chair_knows = any(ld.chairs and ld.original for ld in model.leaders) or \
        model.steering.chair == "supervisor"
    model.partnership = model.steering.assess(active, chair_knows, model.collab_climate)
    model.steering.meetings += 1


def quarterly_steering_group(model) -> None:
    """Step 7a: the steering group meets in months divisible by 3."""
    if model.month % 3 == 0:
        steering_group_meeting(model)


def partner_turnover(model) -> None:
    """Step 3: representatives may be replaced; a co-funder may withdraw its share (§7.5)."""
    p, r = model.p, model.r_part
    rate = p.partner_turnover_rate * model.site.leadership_turnover_history / 12.0
    pressure = 1.0 - model.cal.budget_factor * model.scripted_budget_factor
    for i, pt in enumerate(model.partners):
        if not pt.active:
            continue
        pt.tenure += 1
        if r.random() < rate:
            pt = replace_partner(model, i, pt)
        if pt.co_funding > 0:
            hazard = p.co_funder_withdrawal_rate / 12.0 * (1.0 - pt.commitment) * (1.0 + pressure)
            if r.random() < hazard:
                model.note(f"{pt.agency} withdrew its co-funding")
                partner_withdraws(model, pt, entirely=False)
                if model.closed:
                    return


def replace_partner(model, i: int, pt: Partner) -> Partner:
    """A new representative for the ``i``-th partner agency.

    A replacement is usually less senior and, unless inducted, knows nothing of the original
    commitment (001:1542, 001:2349).
    """
    p, r = model.p, model.r_part
    new = Partner(model, pt.agency,
                  clip(0.5 * pt.commitment + 0.5 * model.collab_climate + r.gauss(0, 0.1)),
                  clip(pt.seniority * p.replacement_seniority),
                  knows_commitment=model.levers.steering_group_induction,
                  attendance=pt.attendance)
    new.co_funding = pt.co_funding
    model.partners[i] = new
    model.cause("partner_replaced")
    pt.remove()
    return new


def partner_withdraws(model, pt: Partner, entirely: bool) -> None:
    """A partner stops co-funding (and, if ``entirely``, leaves the group).

    Losing a co-funder's money brings a budget decision (cause ``co_funder_withdrawal``).
    """
    had_funding = pt.co_funding > 0
    pt.co_funding = 0.0
    if entirely:
        pt.active = False
        pt.commitment = 0.0
    if had_funding:
        model.cause("co_funder_withdrew")
        budget.budget_decision(model, "co_funder_withdrawal", model.cal.grant_share)


def partners_learn(model) -> None:
    """Step 8: partners' commitment (§7.5).

    It rises with joint work and reported success and falls with their own agency's cuts and
    when referrals drift away from their client group (001:1997). The only implementation of
    the partner's monthly update (documented on :class:`agents.Partner`), with the month's
    factors evaluated once.
    """
    p = model.p
    ev = model.evidence()
    own_cuts = 1.0 - model.cal.budget_factor * model.scripted_budget_factor
    by_agency = model.referrals_by_agency
    total = sum(by_agency.values())
    # The month's factors evaluated once (the same operations in the same order).
    rate = p.commitment_learning_rate
    lift = max(0.0, ev + 0.5)
    erosion = p.partner_austerity_erosion * own_cuts
    for pt in model.partners:
        if not pt.active:
            continue
        delta = rate * pt.attendance * lift * (1.0 - pt.commitment)
        delta -= erosion * pt.commitment
        if pt.agency in ("yos", "education") and total >= 20:
            expected = AGENCY_SHARE[pt.agency]
            drift = expected - by_agency[pt.agency] / total
            delta -= 0.02 * max(0.0, drift)
        # The commitment kept within 0-1: min(1, max(0, c)) as the conditionals (the same value).
        c = pt.commitment + delta
        c = c if c > 0.0 else 0.0
        pt.commitment = c if c < 1.0 else 1.0
