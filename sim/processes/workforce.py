"""The workforce: therapists, the supervisor, recruitment and the viability review.

Therapist strain, exits and cover, the supervisor's strain and departure, recruitment and the
viability review (docs/ODD.md §7.9-§7.11).

Draws from the workforce stream ``model.r_work``; the viability review's decision from the
decisions' stream ``model.r_dec``.
"""

from __future__ import annotations

from agents import Supervisor, Therapist
from agents.supervisor import STYLE_SUPPORT
from sim.numeric import clip, fill_time
from sim.processes import casework, closure, referrals
from sim.team import Team


def has_permanent_supervisor(model) -> bool:
    """Whether any team has a permanent (not interim) supervisor in post."""
    return any(t.supervisor is not None and not t.supervisor.interim for t in model.teams)


def update_advocacy(model) -> None:
    """Step 1 (end): the advocacy stock follows the advocacy capacity (§7.10, 001:1528)."""
    model.advocacy += (model.advocacy_capacity() - model.advocacy) / model.p.advocacy_memory_months


def new_team(model, recruit: bool = True) -> Team:
    """Add a team; a new team recruits its supervisor and therapists (§7.11)."""
    p = model.p
    team = Team(len(model.teams), p.therapist_posts)
    if recruit:
        team.supervisor_timer = fill_time(model.r_work, p.supervisor_fill_months)
        team.vacancy_timers = [fill_time(model.r_work, p.therapist_fill_months) + 2
                               for _ in range(team.posts)]
    model.teams.append(team)
    return team


def programme_manager_month(model) -> None:
    """The programme manager's post: its holder may leave; the post is refilled (stream ``r_pm``).

    A post that costs money and whose holder can leave like anyone else (MODEL.md §6); a vacant
    post costs nothing and gives no system leadership until it is filled.
    """
    if not model.programme_manager_post:
        return
    p, r = model.p, model.r_pm
    if model.pm_in_post:
        if r.random() < p.programme_manager_exit_rate / 12.0:
            model.pm_in_post = False
            model.pm_timer = fill_time(r, p.programme_manager_fill_months)
            model.note("the programme manager left")
            model.cause("programme_manager_left")
    elif model.pm_timer is not None:
        model.pm_timer -= 1
        if model.pm_timer <= 0:
            model.pm_in_post, model.pm_timer = True, None
            model.note("a new programme manager took up post")


def teams_month(model) -> None:
    """Step 6: the programme manager's post, then each team's month in turn (§7.8-§7.11)."""
    programme_manager_month(model)
    for team in list(model.teams):
        team_month(model, team)
        if model.closed:
            return


def team_month(model, team: Team) -> None:
    """One team's month: cases, therapists, recruitment, the supervisor, staffing counters."""
    p, r = model.p, model.r_work
    sup = team.supervisor
    carrying = model.steering.chair == "supervisor" and sup is not None and not sup.interim
    network = model.network
    if sup is not None:
        # The supervisor's share of system work and the quality of clinical supervision (the
        # rule documented on Supervisor).
        if sup.interim:
            share = 0.0
        elif model.programme_manager:
            share = 0.1
        else:
            share = min(0.7, 0.2 + 0.4 * sup.system_leadership + (0.15 if carrying else 0.0))
        quality = sup.clinical_skill * (0.6 + 0.4 * (1.0 - share))
        support = STYLE_SUPPORT[sup.style]
    else:
        # No supervisor: weekly consultation and, where there is one, the regional network.
        quality = 0.25 + 0.3 * network
        support = 0.6
    # Quarterly boosters, joint with nearby teams where there is a regional network.
    booster = p.booster_effect * network
    vacancy_load = team.vacancies / max(1, team.posts)

    casework.treat_caseloads(model, team.therapists)
    # The therapist's month (ODD §7.9, documented on Therapist): every therapist, every month.
    # The same operations in the same order; the per-team parts are evaluated once, and
    # min/max are written as the conditionals that return the same values.
    cap = p.caseload_cap
    strain_rate = p.strain_rate
    half_strain_rate = 0.5 * p.strain_rate
    recovery = p.strain_recovery * quality * support
    target_base = 0.35 + 0.55 * quality + booster
    adherence_rate = p.adherence_rate
    exit_monthly = p.therapist_exit_rate / 12.0
    exit_multiplier = p.strain_exit_multiplier
    rand = r.random
    for th in list(team.therapists):
        # max(0, cases - cap) / cap, compared as the integer count (the same value)
        n_cases = len(th.cases)
        over = (n_cases - cap) / cap if n_cases > cap else 0.0
        load = (strain_rate * (over + vacancy_load + 0.5 * th.failures)
                - half_strain_rate * th.successes)
        strain = th.strain
        strain = strain + load - recovery * strain
        strain = strain if strain > 0.0 else 0.0
        strain = strain if strain < 1.0 else 1.0
        th.strain = strain
        target = target_base - 0.3 * strain
        target = 0.0 if target < 0.0 else 1.0 if target > 1.0 else target
        th.adherence += adherence_rate * (target - th.adherence)
        if rand() < exit_monthly * (1.0 + exit_multiplier * strain):
            therapist_exit(model, team, th)
    recruit_therapists(model, team)
    if sup is not None:
        supervisor_month(model, team, sup, carrying, vacancy_load, network=network)
        if model.closed:
            return
    recruit_supervisor(model, team)
    staffing_counters(team)


def recruit_therapists(model, team: Team) -> None:
    """Vacancies whose timer runs out are filled; timers match the vacancies (§7.11)."""
    still = []
    for timer in team.vacancy_timers:
        if timer <= 1 and len(team.therapists) < team.posts:
            team.therapists.append(Therapist(model, team, 0.4))
        else:
            still.append(timer - 1)
    team.vacancy_timers = still
    vacancies = team.vacancies  # the timers below change, the vacancies do not
    while len(team.vacancy_timers) > max(0, vacancies):
        team.drop_timer()
    while len(team.vacancy_timers) < vacancies:
        team.vacancy_timers.append(fill_time(model.r_work, model.p.therapist_fill_months))


def supervisor_month(model, team: Team, sup: Supervisor, carrying: bool,
                     vacancy_load: float, network: float | None = None) -> None:
    """The supervisor's strain and departure, a crisis point (001:1576, §7.10).

    ``network`` is this month's ``model.network`` if the caller has it already.
    """
    p = model.p
    if network is None:
        network = model.network
    sup.tenure += 1
    relief = p.strain_recovery * 0.5 * (0.5 + 0.5 * network)
    # A patron's cover lowers the supervisor's strain (001:1605, 001:1850).
    patron = p.patron_strain_relief if model.has_patron() else 0.0
    # Carrying the partnership alone, covering vacancies and, for an isolated team, the lack of
    # peer support (solo boosters, no nearby team, 001:1818-1830).
    # The supervisor's strain (Supervisor.add_strain inlined) and exit draw (every team-month): min and max as
    # the conditionals that return the same values, the same draw.
    strain = (sup.strain + ((p.carrying_strain if carrying else 0.0) + 0.02 * vacancy_load
                            + p.isolation_strain * (1.0 - network) - relief * sup.strain - patron))
    strain = strain if strain > 0.0 else 0.0
    sup.strain = strain = strain if strain < 1.0 else 1.0
    if not sup.interim:
        cap = p.supervisor_strain_cap
        mult = 1.0 + p.strain_exit_multiplier * strain
        mult = mult if mult < cap else cap
        if model.r_work.random() < p.supervisor_exit_rate / 12.0 * mult:
            supervisor_exit(model, team)


def recruit_supervisor(model, team: Team) -> None:
    """A permanent supervisor arrives when the recruitment timer runs out."""
    if team.supervisor_timer is not None:
        team.supervisor_timer -= 1
        if team.supervisor_timer <= 0:
            appoint_supervisor(model, team)


def staffing_counters(team: Team) -> None:
    """Months without cover and understaffed (a new team still mobilising is not counted)."""
    if team.supervisor is not None and len(team.therapists) >= 2:
        team.operating = True
    if team.operating:
        team.months_without_cover = team.months_without_cover + 1 if team.supervisor is None else 0
        team.months_understaffed = team.months_understaffed + 1 if len(team.therapists) <= 1 else 0


def therapist_exit(model, team: Team, th: Therapist) -> None:
    """A departure leaves families to re-engage and colleagues covering (000:101, 000:139)."""
    team.therapists.remove(th)
    model.totals["therapist_departures"] += 1
    cap = model.p.caseload_cap
    colleagues = sorted(team.therapists, key=lambda t: len(t.cases))
    for case in th.cases:
        target = next((c for c in colleagues if len(c.cases) < cap + 1), None)
        if target is not None:
            case.engagement *= 0.85
            target.cases.append(case)
        else:
            referrals.requeue(model, case)
    th.cases = []
    th.remove()
    team.vacancy_timers.append(fill_time(model.r_work, model.p.therapist_fill_months))


def supervisor_exit(model, team: Team) -> None:
    """The supervisor leaves: an interim acts up and the LA reviews viability at once (§7.10).

    One vacancy, one review: an interim's departure leaves the vacancy (and its recruitment)
    as it was and another therapist acts up; it is not a new review (MODEL.md §5.2).
    """
    old = team.supervisor
    if old.interim:
        model.note(f"the interim supervisor of team {team.index + 1} stepped down")
        old.remove()
        team.supervisor = None
        act_up(model, team, old.clinical_skill)
        return
    model.totals["supervisor_changes"] += 1
    if old.first and model.first_supervisor_tenure is None:
        model.first_supervisor_tenure = old.tenure
    if model.shields_at_supervisor_exit is None:
        model.shields_at_supervisor_exit = (model.leadership_shield(), model.partnership)
    model.note(f"supervisor of team {team.index + 1} left")
    model.cause("supervisor_left")
    old.remove()
    team.supervisor = None
    if model.steering.chair == "supervisor" and not has_permanent_supervisor(model):
        model.steering.chair = "none"
    planned = model.levers.succession_planning
    if planned:
        # A planned successor: short vacancy, system leadership handed over; the review is
        # eased (a successor is ready), not skipped.
        team.supervisor_timer = 1
        team.handover = old.system_leadership
    else:
        act_up(model, team, old.clinical_skill)
    model.totals["reviews"] += 1
    if viability_review(model, team):
        model.review_survived_months.append(model.month)


def act_up(model, team: Team, clinical_skill: float) -> None:
    """An interim acts up from the team: clinical cover, no system leadership (001:1578)."""
    if team.therapists:
        acting = max(team.therapists, key=lambda t: t.experience)
        team.therapists.remove(acting)
        for case in acting.cases:
            referrals.requeue(model, case)
        acting.cases = []
        acting.remove()
        team.supervisor = Supervisor(model, clip(clinical_skill * model.p.interim_clinical),
                                     0.0, interim=True)
        team.vacancy_timers.append(fill_time(model.r_work, model.p.therapist_fill_months))


def viability_review(model, team: Team) -> bool:
    """Review viability against the full, unsubsidised cost (stream ``r_dec``).

    A permanent appointment commits the LA beyond the grant (001:1576-1578). A patron (who can
    authorise a permanent appointment) and a succession plan (a successor is ready) each ease
    the review's extra strictness. A positive margin recruits; a negative one closes the
    service now with the decision rule's probability (Isolated Coastal) or else leaves the
    interim drifting towards the next budget round (Expanded City closed a year after its
    supervisor left, 001:1586). A review never cuts a post (MODEL.md §5.2).

    Returns:
        Whether the service (or, with several teams, the service minus this team) survived.
    """
    p = model.p
    extra = p.review_strictness
    if model.has_patron():
        extra *= 1.0 - p.patron_review_relief
    if model.levers.succession_planning:
        extra *= 1.0 - p.succession_review_relief
    if closure.protected(model):
        outcome, margin = closure.CONTINUE, 0.0
    else:
        # The grant input keeps what the grant pays; the review flag alone switches to the
        # full cost, so an explanation charges that switch to the supervisor's departure.
        standing = model.standing(model.cal.grant_share, review=True, review_extra=extra)
        outcome, margin = closure.decide(model, standing, team, allow_cut=False)
    if outcome == closure.CLOSE:
        if len(model.teams) > 1:
            model.explanation = None  # one team closed, not the service
            closure.close_team(model, team, "viability review")
            return True
        closure.close_service(model, "viability_review")
        return False
    if margin >= 0.0:
        if team.supervisor_timer is None:
            team.supervisor_timer = fill_time(model.r_work, p.supervisor_fill_months)
        model.note("viability review: recruit a permanent supervisor")
    elif team.supervisor is not None and team.supervisor.interim:
        team.supervisor_timer = None
        model.note("viability review: interim left in post until the budget round")
    else:
        model.note("viability review: in doubt, but the planned successor starts")
    return True


def appoint_supervisor(model, team: Team) -> None:
    """A permanent supervisor takes up post; an interim returns to a vacant therapist post."""
    r = model.r_work
    if team.handover is not None:
        system = max(model.p.successor_system_leadership, 0.8 * team.handover)
        team.handover = None
    else:
        system = clip(r.gauss(model.p.successor_system_leadership, 0.1))
    if team.supervisor is not None:
        team.supervisor.remove()
        if len(team.therapists) < team.posts:
            team.therapists.append(Therapist(model, team, 0.4))
            team.drop_timer()
    team.supervisor = Supervisor(model, clip(r.gauss(0.6, 0.1)), system)
    team.supervisor_timer = None
    model.note(f"new supervisor for team {team.index + 1}")


def cut_post(model, team: Team) -> None:
    """Cut one therapist post: a vacant one if any, else the lightest caseload's holder leaves."""
    team.posts -= 1
    model.totals["cuts"] += 1
    model.last_cut_month = model.month
    model.cause("post_cut")
    model.note(f"a therapist post cut in team {team.index + 1}")
    if len(team.therapists) <= team.posts:  # a post was vacant: stop recruiting to it
        team.drop_timer()
    elif team.therapists:
        th = min(team.therapists, key=lambda t: len(t.cases))
        team.therapists.remove(th)
        for case in th.cases:
            referrals.requeue(model, case)
        th.cases = []
        th.remove()
