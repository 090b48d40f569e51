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


def teams_month(model) -> None:
    """Step 6: each team's month in turn (§7.8-§7.11)."""
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
        quality = sup.supervision_quality(sup.system_share(carrying, model.programme_manager))
        support = STYLE_SUPPORT[sup.style]
    else:
        # No supervisor: weekly consultation and, where there is one, the regional network.
        quality = 0.25 + 0.3 * network
        support = 0.6
    # Quarterly boosters, joint with nearby teams where there is a regional network.
    booster = p.booster_effect * network
    vacancy_load = team.vacancies / max(1, team.posts)

    for th in team.therapists:
        casework.treat_caseload(model, th)
    for th in list(team.therapists):
        if th.work_month(p, quality, support, booster, vacancy_load, r):
            therapist_exit(model, team, th)
    recruit_therapists(model, team)
    if sup is not None:
        supervisor_month(model, team, sup, carrying, vacancy_load)
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
    while len(team.vacancy_timers) > max(0, team.vacancies):
        team.drop_timer()
    while len(team.vacancy_timers) < team.vacancies:
        team.vacancy_timers.append(fill_time(model.r_work, model.p.therapist_fill_months))


def supervisor_month(model, team: Team, sup: Supervisor, carrying: bool,
                     vacancy_load: float) -> None:
    """The supervisor's strain and departure, a crisis point (001:1576, §7.10)."""
    p = model.p
    network = model.network
    sup.tenure += 1
    relief = p.strain_recovery * 0.5 * (0.5 + 0.5 * network)
    # Carrying the partnership alone, covering vacancies and, for an isolated team, the lack of
    # peer support (solo boosters, no nearby team, 001:1818-1830).
    sup.add_strain((p.carrying_strain if carrying else 0.0) + 0.02 * vacancy_load
                   + p.isolation_strain * (1.0 - network) - relief * sup.strain)
    if not sup.interim and sup.leaves(p, model.r_work):
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
    """The supervisor leaves: an interim acts up and the LA reviews viability at once (§7.10)."""
    old = team.supervisor
    model.totals["supervisor_changes"] += 1
    if old.first and model.first_supervisor_tenure is None:
        model.first_supervisor_tenure = old.tenure
    model.note(f"supervisor of team {team.index + 1} left")
    old.remove()
    team.supervisor = None
    if model.steering.chair == "supervisor" and not has_permanent_supervisor(model):
        model.steering.chair = "none"
    if model.levers.succession_planning:
        # A planned successor: short vacancy, system leadership handed over.
        team.supervisor_timer = 1
        team.handover = old.system_leadership
        return
    # An interim acts up from the team: clinical cover, no system leadership (001:1578).
    if team.therapists:
        acting = max(team.therapists, key=lambda t: t.experience)
        team.therapists.remove(acting)
        for case in acting.cases:
            referrals.requeue(model, case)
        acting.cases = []
        acting.remove()
        team.supervisor = Supervisor(model, clip(old.clinical_skill * model.p.interim_clinical),
                                     0.0, interim=True)
        team.vacancy_timers.append(fill_time(model.r_work, model.p.therapist_fill_months))
    model.totals["reviews"] += 1
    if viability_review(model, team):
        model.review_survived_months.append(model.month)


def viability_review(model, team: Team) -> bool:
    """Review viability against the full, unsubsidised cost (stream ``r_dec``).

    A permanent appointment commits the LA beyond the grant (001:1576-1578).

    Returns:
        Whether the service (or, with several teams, the service minus this team) survived.
    """
    p = model.p
    margin = model.compute_defence() - model.compute_pressure(0.0) - p.review_strictness
    if not closure.protected(model) and closure.decide_close(model, margin):
        if len(model.teams) > 1:
            closure.close_team(model, team, "viability review")
            return True
        closure.close_service(model, "viability_review")
        return False
    if margin > p.cut_margin:
        team.supervisor_timer = fill_time(model.r_work, p.supervisor_fill_months)
        model.note("viability review: recruit a permanent supervisor")
    else:
        team.supervisor_timer = None
        model.note("viability review: interim left in post until the budget round")
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

