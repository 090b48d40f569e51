"""The referral pipeline, the referral panel and research trial, and the waiting list.

docs/ODD.md §7.6, §7.7. The pipeline draws from the referrers' stream ``model.r_ref``; the
panel's randomisation from the cases' stream ``model.r_case``.
"""

from __future__ import annotations

from agents import Referrer
from sim.cases import Case
from sim.numeric import clip, poisson_draw

REFERRER_AGENCIES = (("social_care", 0.7), ("yos", 0.2), ("education", 0.1))


def new_referrer(model, launch: bool = False) -> Referrer:
    """A referrer of a random agency; a newcomer knows nothing of MST (001:1475)."""
    r = model.r_ref
    u = r.random()
    agency = "education"
    for name, share in REFERRER_AGENCIES:
        if u < share:
            agency = name
            break
        u -= share
    culture = 0.6 * (model.site.values_fit - 0.5) + 0.4 * (model.learning - 0.5)
    attitude = clip(r.gauss(culture, 0.2), -1.0, 1.0)
    if launch:
        awareness = 0.5 + (model.p.prior_mst_awareness if model.spec.supervisor.prior_mst_experience
                           else 0.0)
        if model.oversold:
            attitude = clip(attitude + 0.1, -1.0, 1.0)
    else:
        awareness = 0.0
    return Referrer(model, agency, awareness, attitude)


def trial_credibility(model) -> None:
    """While the research trial randomises, social care's view of the service wears down.

    Randomisation costs the service credibility with social care as an institution: its
    leaders' own stance and every social-care referrer's attitude, not only those whose
    families were randomised away (001:5095). Draws nothing.
    """
    if not model.cal.trial_randomising:
        return
    cost = model.p.trial_credibility_cost
    for ld in model.leaders:
        if ld.childrens_services:
            ld.stance = max(-1.0, ld.stance - cost)
    for ref in model.referrers:
        if ref.agency == "social_care":
            att = ref.attitude - cost
            ref.attitude = att if att > -1.0 else -1.0  # max(-1.0, att)


def referral_pipeline(model) -> None:
    """Step 4: referrer churn, promotion and drift, then families met and referred (§7.6)."""
    trial_credibility(model)
    referrers_month(model)
    meet_and_refer(model)


def referrers_month(model) -> None:
    """Each referrer's month in one pass: churn, then promotion visits and drift (§7.6).

    Referrers leave at ``referrer_turnover_rate`` a year and each newcomer starts unaware;
    promotion visits by the supervisor or programme manager then refresh every referrer in
    post. Promotion draws nothing and reads nothing churn changes (the advocacy capacity, the
    number of referrers), so doing both in one pass, referrer by referrer, makes the same draws
    in the same order as churning them all first, and gives the same values.

    This loop is the only implementation of the referrer's monthly awareness and attitude
    update (documented on :class:`agents.Referrer`), inlined for speed: it is one of the
    hottest loops of a run.
    """
    p, lv = model.p, model.levers
    referrers = model.referrers
    visits = 8.0 * model.advocacy_capacity() * len(model.teams)
    if lv.referral_promotion:
        visits *= p.promotion_lever_multiplier
    intensity = min(1.0, visits / len(referrers))
    gain = p.promotion_awareness_gain * intensity + 0.02 * model.learning
    drift = p.jealousy * (1.0 - model.site.values_fit)
    learn_signal = 0.1 * (model.learning - 0.5)
    decay = p.awareness_decay
    rand = model.r_ref.random
    churn = p.referrer_turnover_rate / 12.0
    # The attitude's per-month terms, evaluated once (the same operations in the same order:
    # att - drift + learn_signal * 0.1 + 0.05 * intensity * (1 - att) * 0.2).
    learn_term = learn_signal * 0.1
    push = 0.05 * intensity
    for i, ref in enumerate(referrers):
        # Churn: the one draw of the referrer's month (a newcomer draws its agency and view).
        if rand() < churn:
            ref.remove()
            referrers[i] = ref = new_referrer(model)
        # Promotion and drift.
        aw = ref.awareness
        ref.awareness = aw + (gain * (1.0 - aw) - decay * aw)
        att = ref.attitude
        att = att - drift + learn_term + push * (1.0 - att) * 0.2
        ref.attitude = -1.0 if att < -1.0 else (1.0 if att > 1.0 else att)


def meet_and_refer(model) -> None:
    """Families met, eligible ones and some that are not, and the referrals made.

    Eligible referrals go to the panel; inappropriate ones are counted and screened out.

    The hottest loop of a run (ODD §7.6, §7.7): the referrer's decision (documented on
    :class:`agents.Referrer`) is implemented only here, and :func:`panel` is inlined with the
    same draws, in the same order, and the same floating-point operations.
    """
    p, r = model.p, model.r_ref
    site = model.site
    cal = model.cal
    diversion = (p.competing_programme_diversion if cal.competing_programme else 0.0)
    diversion = clip(diversion + model.competition_extra)
    need = p.eligible_per_lac * site.looked_after_children * (0.85 + site.deprived_share)
    rate = need / 12.0 * (1.0 - diversion)
    rand = r.random
    met_eligible = poisson_draw(rand, rate)
    met_other = poisson_draw(rand, 0.5 * rate)
    referrals = 0
    referrers = model.referrers
    n = len(referrers)
    propensity = p.referral_propensity
    if met_eligible:
        by_agency = model.referrals_by_agency
        month = model.month
        totals = model.totals
        randomising = cal.trial_randomising
        case_rand = model.r_case.random
        waiting = model.waiting
        usual_care = model.past_year["usual_care"]
        for _ in range(met_eligible):
            ref = referrers[int(rand() * n)]
            # the referrer refers an eligible family (one draw). favour = clip(0.8 + 0.4 x
            # attitude, 0, 1): attitudes stay within -1..1, so only the upper bound can bind
            # (and a negative favour would refuse every family, as 0 does).
            favour = 0.8 + 0.4 * ref.attitude
            favour = 1.0 if favour > 1.0 else favour
            if rand() < propensity * ref.awareness * favour:
                referrals += 1
                by_agency[ref.agency] += 1
                # panel(): eligibility settled (counted below); in a trial half go to usual
                # care (r_case).
                case = Case(ref, month)
                if randomising and case_rand() < 0.5:
                    totals["usual_care"] += 1
                    usual_care[month % 12] += 1
                else:
                    waiting.append(case)
        totals["eligible"] += referrals  # every referral so far is an eligible family
    for _ in range(met_other):
        ref = referrers[int(rand() * n)]
        # the referrer refers a family outside the criteria (one draw)
        favour = 0.8 + 0.4 * ref.attitude
        favour = 1.0 if favour > 1.0 else favour  # clip(favour, 0, 1), as above
        aw = ref.awareness
        if rand() < propensity * aw * favour * (1.0 - aw):
            referrals += 1
    model.referrals_month = referrals
    model.totals["referrals"] += referrals


def panel(model, case: Case) -> None:
    """The referral panel: eligibility is settled; during a research trial half go to usual care.

    Stream ``r_case`` (001:5095).
    """
    model.totals["eligible"] += 1
    if model.cal.trial_randomising and model.r_case.random() < 0.5:
        model.totals["usual_care"] += 1
        model.past_year["usual_care"][model.month % 12] += 1
        return
    model.waiting.append(case)


def allocate_waiting_list(model) -> None:
    """Step 5: families who waited too long are lost; the rest fill free caseload places."""
    cap = model.p.caseload_cap
    limit = model.p.waiting_list_limit_months
    month = model.month
    waiting = model.waiting
    kept = [case for case in waiting if month - case.referred <= limit]
    lost = len(waiting) - len(kept)
    if lost:
        model.totals["dropped_waiting"] += lost
        model.past_year["lost"][month % 12] += lost
    model.waiting = kept
    if not kept:
        return
    # Families are taken from the head of the list in order; the list is cut once at the end
    # rather than popped from the front family by family.
    taken, n = 0, len(kept)
    # casework.start_case (ODD §7.8), inlined: the same draws from r_case in the same order.
    gauss, rand = model.r_case.gauss, model.r_case.random
    episode = model.p.episode_months
    totals = model.totals
    for team in model.teams:
        if team.supervisor is None and team.supervisor_timer is not None and team.index > 0:
            continue  # a new team not yet mobilised
        # Therapists with room, fewest cases first (a stable sort: the order of a sort of the
        # whole team, whose full members would take no family anyway).
        room = [th for th in team.therapists if len(th.cases) < cap]
        if len(room) > 1:
            room.sort(key=lambda t: len(t.cases))
        for th in room:
            cases = th.cases
            for _ in range(min(cap - len(cases), n - taken)):
                case = kept[taken]
                taken += 1
                case.start = month
                months = round(gauss(episode, 0.7))
                case.planned_end = month + (months if months > 2 else 2)  # max(2, months)
                if case.resumed:
                    case.engagement *= 0.85  # a family passed between workers re-engages less
                else:
                    case.engagement = 0.75 + 0.5 * rand()
                    totals["treated"] += 1
                cases.append(case)
        if taken == n:
            break
    model.waiting = kept[taken:]


def requeue(model, case: Case) -> None:
    """Put a family whose worker left back at the head of the waiting list.

    Its waiting clock restarts and it is not counted as a new family when treatment resumes.
    """
    case.start = -1
    case.referred = model.month
    case.resumed = True
    model.waiting.insert(0, case)
