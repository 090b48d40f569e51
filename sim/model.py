"""The Local Authority: a mesa ``Model`` in which an MST team lives or closes (MODEL.md §3-§7).

One step is one month. The model never does I/O: it reads a validated
:class:`sim.scenario.Scenario` and exposes its state and records for :mod:`sim.simulate`.
"""

from __future__ import annotations

import math
import random

import mesa
import numpy as np

from agents import Leader, Partner, Referrer, Supervisor, Therapist
from agents.supervisor import STYLE_SUPPORT
from sim.calendar import Calendar
from sim.cases import Case
from sim.parameters import mechanism_params
from sim.scenario import Scenario
from sim.steering import SteeringGroup
from sim.team import Team

OFSTED_HOSTILITY = {"outstanding": 0.1, "good": 0.2, "adequate": 0.35, "inadequate": 0.6}
REFERENCE_HOSTILITY = 0.35  # national-average climate behind the national exit rates (assumption)
HOST_EMBEDDING = {"local_authority": 1.0, "nhs_trust": 0.8, "voluntary_sector": 0.6}
REFERRER_AGENCIES = (("social_care", 0.7), ("yos", 0.2), ("education", 0.1))
HEALTH_AGENCIES = ("camhs", "mental_health_trust", "health")
PHASES = ("mobilisation", "operational", "research", "post_research", "sustainability")
CLOSURE_CAUSES = ("budget_round", "viability_review", "cut_proposal", "in_year_cut",
                  "staffing_collapse", "licence", "co_funder_withdrawal")
STREAMS = ("leaders", "partners", "referrers", "workforce", "cases", "decisions")
SNAPSHOT_MONTHS = (6, 36, 96)  # partnership at 6 and 36, teams at 96 (calibration patterns)
SENIOR_ROLES = ("chief_executive", "director_childrens_services", "assistant_director")


def _clip(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return lo if x < lo else hi if x > hi else x


def _logistic(x: float) -> float:
    if x < -40:
        return 0.0
    if x > 40:
        return 1.0
    return 1.0 / (1.0 + math.exp(-x))


def _seed_sequence(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key)
    return np.random.SeedSequence(int(seed))


class LocalAuthority(mesa.Model):
    """An English Local Authority hosting an MST service.

    Args:
        scenario: A validated scenario.
        seed: An integer or a ``numpy.random.SeedSequence``; the same seed gives the same run.
        collect_series: Whether the DataCollector records the monthly series. Ensembles that
            need only the scalar outputs switch it off; the run itself is the same either way.

    Attributes:
        p: The mechanism parameters of this run.
        month: Months since go-live (0 at initialisation).
        closed: Whether the service has closed; ``closure_month`` and ``closure_cause`` say
            when and why.
        teams: The service's teams.
        steering: The steering group.
        log: Notable events as ``(month, text)`` for summaries and dashboards.
    """

    def __init__(self, scenario: Scenario, seed=0, collect_series: bool = True):
        ss = _seed_sequence(seed)
        self.collect_series = collect_series
        # Teams and partnership at the months the scalar outputs need, series or not.
        self.snapshots: dict[int, tuple[int, float]] = {}
        super().__init__(rng=ss)
        # One named stream per process so that a lever acting on one process does not shift
        # the random numbers of the others (common random numbers across scenarios).
        streams = [random.Random(int(c.generate_state(1, np.uint64)[0]))
                   for c in (np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, i))
                             for i in range(len(STREAMS)))]
        (self.r_lead, self.r_part, self.r_ref, self.r_work, self.r_case,
         self.r_dec) = streams

        self.spec = scenario
        self.site = site = scenario.site
        self.levers = lv = scenario.levers
        self.p = p = mechanism_params(dict(scenario.parameters))
        self.calendar = Calendar(scenario.start_year, scenario.start_month, p.austerity_rate)
        self.horizon = scenario.horizon_months
        self.month = 0

        # Environment (MODEL.md §3.1)
        self.oversold = site.launch_framing == "oversold" and not lv.balanced_launch
        self.learning = _clip(site.learning_climate + (p.lever_learning_boost if lv.learning_climate else 0))
        self.network_base = _clip(site.regional_network + (p.lever_network_boost if lv.regional_network else 0))
        self.ofsted = site.ofsted_rating
        self.collab_climate = site.collaboration_history
        self.hostility = OFSTED_HOSTILITY[self.ofsted]
        self.scripted_budget_factor = 1.0
        self.competition_extra = 0.0
        self.base_budget = site.population * p.budget_per_resident
        self.cal = self.calendar.state(0, site.research_trial)

        # Records
        self.closed = False
        self.closure_month: int | None = None
        self.closure_cause = ""
        self.log: list[tuple[int, str]] = []
        self.phase = 0
        self.n = dict(referrals=0, eligible=0, usual_care=0, treated=0, succeeded=0, came_back=0,
                      dropped_waiting=0, leader_changes=0, supervisor_changes=0,
                      therapist_departures=0, toxic_trio_months=0, expansions=0, cuts=0,
                      reviews=0, peak_teams=1, cost=0.0, savings=0.0, slot_months=0,
                      case_months=0)
        self.first_supervisor_tenure: int | None = None
        self.supervisor_departure_months: list[int] = []
        self.review_survived_months: list[int] = []
        self.first_expansion: int | None = None
        self._roll = {k: [0] * 12 for k in ("closed", "success", "came_back", "lost", "changes",
                                            "usual_care")}
        self._failed_pirs = 0
        self._changes_this_month = 0
        self.referrals_by_agency = {a: 0 for a, _ in REFERRER_AGENCIES}

        # People (MODEL.md §9: the only site-specific inputs besides the descriptors)
        self.leaders: list[Leader] = []
        for spec in scenario.leaders:
            ld = Leader(self, spec.role, spec.stance, spec.knowledge, is_patron=spec.patron,
                        chairs=spec.chairs_steering_group, original=True,
                        short_termism=_clip(self.hostility))
            self.leaders.append(ld)
        self.partners: list[Partner] = [
            Partner(self, ps.agency, ps.commitment, ps.seniority, knows_commitment=True)
            for ps in scenario.partners]
        self._assign_co_funding()
        self.steering = SteeringGroup()
        self.steering.chair = "leader" if any(ld.chairs for ld in self.leaders) else "supervisor"
        self.steering.assess(self.partners, True, self.collab_climate)
        self.partnership = self.steering.strength

        self.teams: list[Team] = []
        sup = scenario.supervisor
        first = self._new_team(recruit=False)
        first.supervisor = Supervisor(self, sup.clinical_skill, sup.system_leadership,
                                      prior_mst_experience=sup.prior_mst_experience,
                                      style=sup.style, first=True)
        start_adherence = 0.6 if sup.prior_mst_experience else 0.45
        for _ in range(first.posts):
            first.therapists.append(Therapist(self, first, start_adherence))
        first.vacancy_timers.clear()

        n_ref = max(6, round(p.referrers_per_100_lac * site.looked_after_children / 100))
        self.referrers: list[Referrer] = [self._new_referrer(launch=True) for _ in range(n_ref)]
        self.advocacy = self.advocacy_capacity()
        self.waiting: list[Case] = []

        # Monthly measures (read by the DataCollector and the dashboard)
        self.defence = self.pressure = 0.0
        self.referrals_month = 0
        self.cost_month = self.savings_month = 0.0
        self.utilisation = 1.0
        self._update_measures()

        self.datacollector = mesa.DataCollector(model_reporters={
            "teams": "teams_now", **{k: k for k in ("staff", "therapists", "referrals_month", "caseload",
                           "waiting_list", "defence", "pressure", "partnership", "leader_support",
                           "leader_knowledge", "referrer_awareness", "referrer_attitude",
                           "hostility", "grant_share", "cost_month", "savings_month")}})
        self._record()

        # Scripted events (MODEL.md §7) run at the start of their month, after the calendar.
        self._events_by_month: dict[int, list] = {}
        for ev in scenario.events:
            self._events_by_month.setdefault(ev.month, []).append(ev)

    # ------------------------------------------------------------------ derived measures
    @property
    def teams_count(self) -> int:
        """Teams operating."""
        return 0 if self.closed else len(self.teams)

    @property
    def programme_manager(self) -> bool:
        """Whether a programme manager post exists (lever; on by default at two or more teams)."""
        pm = self.levers.programme_manager
        return pm == "on" or (pm == "auto" and len(self.teams) >= 2)

    @property
    def network(self) -> float:
        """Effective regional network support this month."""
        if self.cal.regional_support_ended and not self.levers.regional_network:
            return self.network_base * (1.0 - self.p.regional_support_loss)
        return self.network_base

    def leadership_score(self) -> float:
        """Influence-weighted support x knowledge of current leaders, -1..1 (patrons count extra).

        A well-disposed newcomer with no knowledge adds little; an opponent counts at least half
        even before learning anything.
        """
        pw = self.p.patron_weight
        num = den = 0.0
        for ld in self.leaders:
            w = ld.weight(pw)
            k = ld.knowledge if ld.support > 0 else 0.5 + 0.5 * ld.knowledge
            num += w * ld.support * k
            den += w
        return num / den if den else 0.0

    def system_leadership(self) -> float:
        """The service's standing built by system work (a stock that follows advocacy capacity).

        Influence built by promotion, briefings and "being useful" outlasts the person for a
        while and then fades: the service looks strong while it rests on one person (001:1528).
        """
        return self.advocacy

    def advocacy_capacity(self) -> float:
        """The service's advocacy capacity: programme manager, else the best permanent supervisor."""
        best = 0.0
        for t in self.teams:
            s = t.supervisor
            if s is not None and not s.interim and s.system_leadership > best:
                best = s.system_leadership
        if self.programme_manager:
            best = max(best, self.p.programme_manager_system)
        return best

    def evidence(self) -> float:
        """Locally visible evidence, -1..1.

        With local outcome feedback leaders see the success rate; a learning climate lets them see
        some of it anyway. Otherwise they hear of families who came back (weighing more after an
        oversold launch), and after 2018 of the national trial's null result (001:2333).
        """
        closed = sum(self._roll["closed"])
        if closed:
            success = sum(self._roll["success"]) / closed
            back = sum(self._roll["came_back"]) / closed
        else:
            success, back = 0.35, self.p.came_back_share
        local = _clip((success - 0.35) * 2.5, -1.0, 1.0)
        # Anecdotes: successes heard of, against families who came back.
        narrative = success - back * (self.p.came_back_oversold_weight if self.oversold else 1.0)
        if self.cal.trial_results_out:
            narrative -= self.p.trial_null_shock
        vis = 1.0 if self.levers.local_outcome_feedback else 0.5 * self.learning
        return _clip(vis * local + (1.0 - vis) * narrative, -1.0, 1.0)

    def embeddedness(self) -> float:
        """Months operating, several teams and a programme manager lock the service in."""
        e = (0.6 * min(1.0, self.month / self.p.embed_months)
             + 0.25 * min(1.0, (len(self.teams) - 1) / 2)
             + (0.15 if self.programme_manager else 0.0))
        return e * HOST_EMBEDDING[self.site.host]

    def compute_defence(self) -> float:
        """The defence the service can muster against pressure (MODEL.md §5.1)."""
        p = self.p
        return (p.w_leadership * self.leadership_score() + p.w_partnership * self.partnership
                + p.w_evidence * self.evidence() + p.w_system * self.system_leadership()
                + p.w_embedded * self.embeddedness())

    def annual_cost(self) -> float:
        """Annual cost of the service: fixed block per team plus funded posts, plus a manager."""
        p = self.p
        var = p.team_cost - p.fixed_cost
        cost = sum(p.fixed_cost + var * (0.2 + 0.8 * t.posts / p.therapist_posts) for t in self.teams)
        return cost + (p.programme_manager_cost if self.programme_manager else 0.0)

    def co_funding_share(self) -> float:
        """Share of cost paid by co-funding partners still in."""
        return sum(pt.co_funding for pt in self.partners if pt.active)

    def compute_pressure(self, grant_share: float, extra_cost: float = 0.0) -> float:
        """Pressure on the service given the grant share of cost (MODEL.md §5.1).

        The LA's share of cost relative to its discretionary budget, compressed by an elasticity
        so that size alone does not decide, raised by cuts to that budget, amplified by
        hostility, plus a unit-cost penalty when the team is under-used (001:1929).
        """
        p = self.p
        la_share = max(0.0, 1.0 - grant_share - self.co_funding_share())
        la_cost = self.annual_cost() * la_share + extra_cost
        # Size enters through a compressed cost share of the LA's own (pre-cut) budget; cuts
        # enter separately, relative to that budget, so a 20% cut stays a real stressor while
        # size alone does not decide (MODEL.md §5.1).
        burden = (la_cost / self.base_budget / p.burden_reference) ** p.burden_elasticity
        shrink = self.cal.budget_factor * self.scripted_budget_factor
        burden *= shrink ** -p.cut_elasticity
        under = max(0.0, 0.75 - self.utilisation) / 0.75
        return (p.pressure_weight * burden * (1.0 + p.hostility_pressure * self.hostility)
                + p.unit_cost_penalty * (under + self.unit_cost_excess()))

    def unit_cost_excess(self) -> float:
        """Relative excess of cost per funded post over a full team's.

        Cut posts leave the fixed licence and consultation block on fewer cases (001:1929).
        """
        posts = sum(t.posts for t in self.teams)
        if not posts:
            return 0.0
        per_post = (self.annual_cost() - (self.p.programme_manager_cost if self.programme_manager
                                          else 0.0)) / posts
        return max(0.0, per_post / (self.p.team_cost / self.p.therapist_posts) - 1.0)

    # ------------------------------------------------------------------ construction helpers
    def _assign_co_funding(self) -> None:
        share = self.levers.co_funding
        if share <= 0 or not self.partners:
            return
        health = [pt for pt in self.partners if pt.agency in HEALTH_AGENCIES]
        (health or self.partners)[0].co_funding = share

    def _new_team(self, recruit: bool = True) -> Team:
        team = Team(len(self.teams), self.p.therapist_posts)
        if recruit:
            team.supervisor_timer = self._fill_time(self.p.supervisor_fill_months)
            team.vacancy_timers = [self._fill_time(self.p.therapist_fill_months) + 2
                                   for _ in range(team.posts)]
        self.teams.append(team)
        return team

    def _fill_time(self, mean: float) -> int:
        return max(1, math.ceil(self.r_work.expovariate(1.0 / mean)))

    def _culture_mean(self) -> float:
        return (self.p.culture_attraction * ((self.collab_climate - 0.5) + 0.5 * (self.learning - 0.5))
                - self.p.hostile_newcomer_shift * self.hostility)

    def _new_referrer(self, launch: bool = False) -> Referrer:
        r = self.r_ref
        u = r.random()
        agency = "education"
        for name, share in REFERRER_AGENCIES:
            if u < share:
                agency = name
                break
            u -= share
        culture = 0.6 * (self.site.values_fit - 0.5) + 0.4 * (self.learning - 0.5)
        attitude = _clip(r.gauss(culture, 0.2), -1.0, 1.0)
        if launch:
            awareness = 0.5 + (0.2 if self.spec.supervisor.prior_mst_experience else 0.0)
            if self.oversold:
                attitude = _clip(attitude + 0.1, -1.0, 1.0)
        else:
            awareness = 0.0
        return Referrer(self, agency, awareness, attitude)

    # ------------------------------------------------------------------ the month
    def step(self) -> None:
        """Advance one month in the order of MODEL.md §4."""
        if self.closed:
            return
        self.month += 1
        self._changes_this_month = 0
        self.savings_month = 0.0
        for roll in self._roll.values():
            roll[self.month % 12] = 0
        self.cal = self.calendar.state(self.month, self.site.research_trial)
        self._advance_phase()
        self._apply_scripted_events()
        self.advocacy += (self.advocacy_capacity() - self.advocacy) / self.p.advocacy_memory_months
        # Each process runs only while the service is open: a closure ends the month.
        for process in (self._leader_turnover, self._partner_turnover, self._referral_pipeline,
                        self._allocate_waiting_list, self._teams_month, self._meetings,
                        self._leaders_learn, self._climate, self._money, self._closure_checks):
            if self.closed:
                break
            process()
        self._update_measures()
        self._record()
        if self.closed or self.month >= self.horizon:
            self.running = False

    def _teams_month(self) -> None:
        for team in list(self.teams):
            self._team_month(team)
            if self.closed:
                return

    def _meetings(self) -> None:
        if self.month % 3 == 0:
            self._steering_group_meeting()
        if self.month % 6 == 0:
            self._implementation_review()

    def _record(self) -> None:
        if self.month in SNAPSHOT_MONTHS:
            self.snapshots[self.month] = (self.teams_now, self.partnership)
        if self.collect_series:
            self.datacollector.collect(self)

    def run(self) -> None:
        """Run to the horizon or closure (``run_until`` would ignore ``running``)."""
        while self.running and self.month < self.horizon:
            self.step()

    # ------------------------------------------------------------------ 1. calendar, events
    def _advance_phase(self) -> None:
        cal = self.cal
        phase = self.phase
        if self.n["treated"] > 0 or self.month >= 3:
            phase = max(phase, 1)
        if cal.trial_randomising:
            phase = max(phase, 2)
        elif phase == 2:
            phase = 3
        if cal.grant_share == 0.0 and not cal.trial_randomising and phase >= 1:
            phase = max(phase, 4)
        self.phase = phase

    def _apply_scripted_events(self) -> None:
        for ev in self._events_by_month.get(self.month, ()):
            if self.closed:
                return
            self._note(f"scripted event: {ev.kind}")
            if ev.kind == "leader_departs":
                for ld in self.leaders:
                    if ld.role == ev.role:
                        self._leader_exit(ld, successor_stance=ev.successor_stance)
                        break
            elif ev.kind == "supervisor_departs":
                team = self.teams[0]
                if team.supervisor is not None:
                    self._supervisor_exit(team)
            elif ev.kind == "budget_cut":
                self.scripted_budget_factor *= 1.0 - ev.fraction
                self._budget_decision("in_year_cut", self.cal.grant_share)
            elif ev.kind in ("partner_withdraws", "co_funding_ends"):
                for pt in self.partners:
                    if pt.active and (ev.kind == "co_funding_ends" and pt.co_funding > 0
                                      or pt.agency == ev.agency):
                        self._partner_withdraws(pt, entirely=ev.kind == "partner_withdraws")
                        break
            elif ev.kind == "inspection":
                self.ofsted = ev.rating
            elif ev.kind == "competing_service":
                self.competition_extra = _clip(self.competition_extra + 0.3 * ev.strength)

    def _note(self, text: str, month: int | None = None) -> None:
        self.log.append((self.month if month is None else month, text))

    # ------------------------------------------------------------------ 2. leaders and partners
    def _leader_exit_rate(self, ld: Leader) -> float:
        p = self.p
        base = {"chief_executive": p.chief_executive_exit_rate,
                "director_childrens_services": p.dcs_exit_rate,
                "partner_director": p.partner_director_exit_rate}.get(
                    ld.role, p.assistant_director_exit_rate)
        rate = base * self.site.leadership_turnover_history
        if ld.childrens_services:
            if self.ofsted == "inadequate":
                rate *= p.inadequate_exit_multiplier
            k = p.hostility_exit_multiplier
            rate *= (1.0 + k * self.hostility) / (1.0 + k * REFERENCE_HOSTILITY)
        return min(0.9, rate / 12.0)

    def _leader_turnover(self) -> None:
        r = self.r_lead
        for ld in list(self.leaders):
            ld.tenure += 1
            if ld.interim:
                ld.interim_left -= 1
                if ld.interim_left <= 0:
                    self._replace_leader(ld, interim_allowed=False)
                continue
            if r.random() < self._leader_exit_rate(ld):
                self._leader_exit(ld)

    def _leader_exit(self, ld: Leader, successor_stance: float | None = None) -> None:
        """A leader leaves: patronage and chair pass on or lapse; an interim or newcomer arrives."""
        self._note(f"{ld.role.replace('_', ' ')} left" + (" (interim)" if ld.interim else ""))
        self._replace_leader(ld, interim_allowed=True, successor_stance=successor_stance)

    def _replace_leader(self, ld: Leader, interim_allowed: bool,
                        successor_stance: float | None = None) -> None:
        p, r, lv = self.p, self.r_lead, self.levers
        interim = interim_allowed and r.random() < p.interim_share
        mean = self._culture_mean()
        support = (successor_stance if successor_stance is not None
                   else _clip(r.gauss(mean, p.newcomer_support_sd), -1.0, 1.0))
        short = _clip(self.hostility + r.gauss(0.0, 0.2))
        knowledge = p.induction_knowledge if lv.steering_group_induction else 0.0
        new = Leader(self, ld.role, support, knowledge, interim=interim,
                     interim_left=max(1, round(r.expovariate(1.0 / p.interim_months))) if interim else 0,
                     short_termism=short, original=lv.steering_group_induction, newcomer=True,
                     influence_factor=p.interim_influence if interim else 1.0)
        self.leaders[self.leaders.index(ld)] = new
        self.n["leader_changes"] += 1
        self._changes_this_month += 1
        self._roll["changes"][self.month % 12] += 1
        for t in self.teams:
            if t.supervisor is not None:
                t.supervisor.add_strain(p.supervisor_churn_strain)
        # Patronage ends with the patron unless succession is planned (001:1850).
        if ld.is_patron:
            if lv.succession_planning:
                heir = max(self.leaders, key=lambda x: x.support * x.influence)
                if heir.support > 0.1:
                    heir.is_patron = True
                    heir.knowledge = max(heir.knowledge, 0.8 * ld.knowledge)
                    self._note("patronage handed over (succession plan)")
            else:
                self._note("patronage ended; suppressed resentment released")
                for other in self.leaders:
                    if other is not new:
                        other.support = max(-1.0, other.support - p.patron_loss_resentment)
                self.hostility = _clip(self.hostility + 0.5 * p.patron_loss_resentment)
        if ld.chairs:
            heirs = [x for x in self.leaders if x is not new and x.support > 0 and x.knowledge > 0.3]
            if lv.succession_planning and not heirs and new.support > 0:
                heirs = [new]
            if heirs:
                max(heirs, key=lambda x: x.influence).chairs = True
            else:
                self.steering.chair = "supervisor" if self._has_permanent_supervisor() else "none"
                self._note(f"steering group now chaired by: {self.steering.chair}")
        ld.remove()

    def _has_permanent_supervisor(self) -> bool:
        return any(t.supervisor is not None and not t.supervisor.interim for t in self.teams)

    def _partner_turnover(self) -> None:
        p, r = self.p, self.r_part
        rate = p.partner_turnover_rate * self.site.leadership_turnover_history / 12.0
        pressure = 1.0 - self.cal.budget_factor * self.scripted_budget_factor
        for i, pt in enumerate(self.partners):
            if not pt.active:
                continue
            pt.tenure += 1
            if r.random() < rate:
                # A replacement is usually less senior and, unless inducted, knows nothing of
                # the original commitment (001:1542, 001:2349).
                induct = self.levers.steering_group_induction
                new = Partner(self, pt.agency,
                              _clip(0.5 * pt.commitment + 0.5 * self.collab_climate + r.gauss(0, 0.1)),
                              _clip(pt.seniority * p.replacement_seniority),
                              knows_commitment=induct, attendance=pt.attendance)
                new.co_funding = pt.co_funding
                self.partners[i] = new
                pt.remove()
                pt = new
            if pt.co_funding > 0:
                hazard = p.co_funder_withdrawal_rate / 12.0 * (1.0 - pt.commitment) * (1.0 + pressure)
                if r.random() < hazard:
                    self._note(f"{pt.agency} withdrew its co-funding")
                    self._partner_withdraws(pt, entirely=False)
                    if self.closed:
                        return

    def _partner_withdraws(self, pt: Partner, entirely: bool) -> None:
        had_funding = pt.co_funding > 0
        pt.co_funding = 0.0
        if entirely:
            pt.active = False
            pt.commitment = 0.0
        if had_funding:
            self._budget_decision("co_funder_withdrawal", self.cal.grant_share)

    # ------------------------------------------------------------------ 3-4. referrals
    def _referral_pipeline(self) -> None:
        p, r, lv = self.p, self.r_ref, self.levers
        # Churn: a newcomer knows nothing of MST (001:1475).
        churn = p.referrer_turnover_rate / 12.0
        for i, ref in enumerate(self.referrers):
            ref.tenure += 1
            if r.random() < churn:
                ref.remove()
                self.referrers[i] = self._new_referrer()
        # Promotion visits by the supervisor or programme manager refresh the pipeline.
        visits = 8.0 * self.advocacy_capacity() * len(self.teams)
        if lv.referral_promotion:
            visits *= p.promotion_lever_multiplier
        n = len(self.referrers)
        intensity = min(1.0, visits / n)
        gain = p.promotion_awareness_gain * intensity + 0.02 * self.learning
        drift = p.jealousy * (1.0 - self.site.values_fit)
        learn_signal = 0.1 * (self.learning - 0.5)
        decay = p.awareness_decay
        for ref in self.referrers:  # Referrer.learn and a clipped attitude drift, inlined (hot loop)
            aw = ref.awareness
            ref.awareness = aw + (gain * (1.0 - aw) - decay * aw)
            att = ref.attitude
            att = att - drift + learn_signal * 0.1 + 0.05 * intensity * (1.0 - att) * 0.2
            ref.attitude = -1.0 if att < -1.0 else (1.0 if att > 1.0 else att)
        # Families met: eligible ones and some that are not; knowledge of the criteria keeps
        # referrals appropriate (001:5101).
        diversion = (p.competing_programme_diversion if self.cal.competing_programme else 0.0)
        diversion = _clip(diversion + self.competition_extra)
        need = p.eligible_per_lac * self.site.looked_after_children * (0.85 + self.site.deprived_share)
        rate = need / 12.0 * (1.0 - diversion)
        met_eligible = self._poisson(r, rate)
        met_other = self._poisson(r, 0.5 * rate)
        referrals = 0
        rng_ref = self.referrers
        for _ in range(met_eligible):
            ref = rng_ref[int(r.random() * n)]
            if r.random() < ref.refer_probability(p.referral_propensity):
                referrals += 1
                self.referrals_by_agency[ref.agency] += 1
                self._panel(Case(ref, self.month))
        for _ in range(met_other):
            ref = rng_ref[int(r.random() * n)]
            if r.random() < ref.refer_probability(p.referral_propensity) * (1.0 - ref.awareness):
                referrals += 1  # inappropriate: screened out at panel
        self.referrals_month = referrals
        self.n["referrals"] += referrals

    @staticmethod
    def _poisson(r: random.Random, lam: float) -> int:
        # Knuth's method: small means only (a few dozen families a month).
        if lam <= 0:
            return 0
        limit, k, prod = math.exp(-lam), 0, r.random()
        while prod > limit:
            k += 1
            prod *= r.random()
        return k

    def _panel(self, case: Case) -> None:
        """Eligibility is settled; during a research trial half go to usual care (001:5095)."""
        self.n["eligible"] += 1
        if self.cal.trial_randomising and self.r_case.random() < 0.5:
            self.n["usual_care"] += 1
            self._roll["usual_care"][self.month % 12] += 1
            return
        self.waiting.append(case)

    def _allocate_waiting_list(self) -> None:
        cap = self.p.caseload_cap
        limit = self.p.waiting_list_limit_months
        kept = []
        for case in self.waiting:
            if self.month - case.referred > limit:
                self.n["dropped_waiting"] += 1
                self._roll["lost"][self.month % 12] += 1
            else:
                kept.append(case)
        self.waiting = kept
        if not kept:
            return
        for team in self.teams:
            if team.supervisor is None and team.supervisor_timer is not None and team.index > 0:
                continue  # a new team not yet mobilised
            for th in sorted(team.therapists, key=lambda t: len(t.cases)):
                while len(th.cases) < cap and self.waiting:
                    self._start_case(th, self.waiting.pop(0))
            if not self.waiting:
                return

    def _start_case(self, th: Therapist, case: Case) -> None:
        r = self.r_case
        case.start = self.month
        case.planned_end = self.month + max(2, round(r.gauss(self.p.episode_months, 0.7)))
        if case.resumed:
            case.engagement *= 0.85  # a family passed between workers re-engages less
        else:
            case.engagement = 0.75 + 0.5 * r.random()
            self.n["treated"] += 1
        th.cases.append(case)

    def _requeue(self, case: Case) -> None:
        """Put a family whose worker left back at the head of the waiting list.

        Its waiting clock restarts and it is not counted as a new family when treatment resumes.
        """
        case.start = -1
        case.referred = self.month
        case.resumed = True
        self.waiting.insert(0, case)

    # ------------------------------------------------------------------ 5. teams
    def _team_month(self, team: Team) -> None:
        p, r = self.p, self.r_work
        cap = p.caseload_cap
        sup = team.supervisor
        carrying = self.steering.chair == "supervisor" and sup is not None and not sup.interim
        pm = self.programme_manager
        if sup is not None:
            share = sup.system_share(carrying, pm)
            quality = sup.supervision_quality(share)
            support = STYLE_SUPPORT[sup.style]
        else:
            # No supervisor: weekly consultation and, where there is one, the regional network.
            quality = 0.25 + 0.3 * self.network
            support = 0.6
        # Quarterly boosters, joint with nearby teams where there is a regional network.
        booster = p.booster_effect * self.network
        vacancy_load = team.vacancies / max(1, team.posts)

        # Cases progress and close with outcomes.
        successes = failures = 0
        for th in team.therapists:
            s, f = self._treat(th)
            successes += s
            failures += f
        # Therapists' strain, adherence and departures.
        for th in list(team.therapists):
            th.tenure += 1
            th.experience += 1
            over = max(0, len(th.cases) - cap) / cap
            load = p.strain_rate * (over + vacancy_load + 0.5 * th.failures) - 0.5 * p.strain_rate * th.successes
            th.update_strain(load, p.strain_recovery * quality * support)
            target = _clip(0.35 + 0.55 * quality + booster - 0.3 * th.strain)
            th.update_adherence(p.adherence_rate, target)
            hazard = p.therapist_exit_rate / 12.0 * (1.0 + p.strain_exit_multiplier * th.strain)
            if r.random() < hazard:
                self._therapist_exit(team, th)
        # Recruitment of therapist vacancies.
        still = []
        for timer in team.vacancy_timers:
            if timer <= 1 and len(team.therapists) < team.posts:
                team.therapists.append(Therapist(self, team, 0.4))
            else:
                still.append(timer - 1)
        team.vacancy_timers = still
        while len(team.vacancy_timers) > max(0, team.vacancies):
            team.drop_timer()
        while len(team.vacancy_timers) < team.vacancies:
            team.vacancy_timers.append(self._fill_time(p.therapist_fill_months))

        # The supervisor: strain and departure (a crisis point, 001:1576).
        if sup is not None:
            sup.tenure += 1
            relief = p.strain_recovery * 0.5 * (0.5 + 0.5 * self.network)
            # Carrying the partnership alone, covering vacancies and, for an isolated team,
            # the lack of peer support (solo boosters, no nearby team, 001:1818-1830).
            sup.add_strain((p.carrying_strain if carrying else 0.0) + 0.02 * vacancy_load
                           + p.isolation_strain * (1.0 - self.network) - relief * sup.strain)
            if not sup.interim:
                mult = min(p.supervisor_strain_cap, 1.0 + p.strain_exit_multiplier * sup.strain)
                if r.random() < p.supervisor_exit_rate / 12.0 * mult:
                    self._supervisor_exit(team)
                    if self.closed:
                        return
        if team.supervisor_timer is not None:
            team.supervisor_timer -= 1
            if team.supervisor_timer <= 0:
                self._appoint_supervisor(team)

        # Staffing collapse counters (a new team still mobilising is not yet expected to deliver).
        if team.supervisor is not None and len(team.therapists) >= 2:
            team.operating = True
        if team.operating:
            team.months_without_cover = team.months_without_cover + 1 if team.supervisor is None else 0
            team.months_understaffed = team.months_understaffed + 1 if len(team.therapists) <= 1 else 0

    def _treat(self, th: Therapist) -> tuple[int, int]:
        p, r = self.p, self.r_case
        th.successes = th.failures = 0
        if not th.cases:
            return 0, 0
        open_cases = []
        drop_monthly = p.dropout_rate / p.episode_months
        for case in th.cases:
            self.n["case_months"] += 1
            if r.random() < drop_monthly:
                self._close_case(case, "dropout")
                th.failures += 1
            elif self.month >= case.planned_end:
                ps = _clip(p.base_success * th.adherence / 0.8 * case.engagement)
                u = r.random()
                if u < ps:
                    self._close_case(case, "success")
                    th.successes += 1
                elif u < ps + 0.5 * (1.0 - ps):
                    self._close_case(case, "partial")
                else:
                    self._close_case(case, "failure")
                    th.failures += 1
            else:
                open_cases.append(case)
        th.cases = open_cases
        return th.successes, th.failures

    def _close_case(self, case: Case, outcome: str) -> None:
        p = self.p
        case.outcome = outcome
        back_p = {"success": 0.5, "partial": 1.0, "failure": 1.6, "dropout": 1.6}[outcome]
        case.came_back = self.r_case.random() < _clip(p.came_back_share * back_p)
        i = self.month % 12
        self._roll["closed"][i] += 1
        if outcome == "success":
            self._roll["success"][i] += 1
            self.n["succeeded"] += 1
            self.savings_month += p.placement_months_avoided * 4.33 * p.placement_cost_week
        elif outcome == "partial":
            self.savings_month += 0.5 * p.placement_months_avoided * 4.33 * p.placement_cost_week
        ref = case.referrer
        if case.came_back:
            self._roll["came_back"][i] += 1
            self.n["came_back"] += 1
        if ref is not None and ref.model is not None and ref in self.referrers:
            stick = p.attitude_stickiness
            if case.came_back:
                # A family "coming back" weighs more where MST was oversold (001:1296, 001:1941).
                ref.hear(-(p.came_back_oversold_weight if self.oversold else 1.0), stick)
            elif outcome == "success":
                ref.hear(1.0, stick)

    def _therapist_exit(self, team: Team, th: Therapist) -> None:
        """A departure leaves families to re-engage and colleagues covering (000:101, 000:139)."""
        team.therapists.remove(th)
        self.n["therapist_departures"] += 1
        cap = self.p.caseload_cap
        colleagues = sorted(team.therapists, key=lambda t: len(t.cases))
        for case in th.cases:
            target = next((c for c in colleagues if len(c.cases) < cap + 1), None)
            if target is not None:
                case.engagement *= 0.85
                target.cases.append(case)
            else:
                self._requeue(case)
        th.cases = []
        th.remove()
        team.vacancy_timers.append(self._fill_time(self.p.therapist_fill_months))

    def _supervisor_exit(self, team: Team) -> None:
        """The supervisor leaves: the LA reviews viability at once (MODEL.md §5.2)."""
        old = team.supervisor
        self.n["supervisor_changes"] += 1
        if old.first and self.first_supervisor_tenure is None:
            self.first_supervisor_tenure = old.tenure
        self.supervisor_departure_months.append(self.month)
        self._note(f"supervisor of team {team.index + 1} left")
        old.remove()
        team.supervisor = None
        if self.steering.chair == "supervisor" and not self._has_permanent_supervisor():
            self.steering.chair = "none"
        if self.levers.succession_planning:
            # A planned successor: short vacancy, system leadership handed over.
            team.supervisor_timer = 1
            team.handover = old.system_leadership
            return
        # An interim acts up from the team: clinical cover, no system leadership (001:1578).
        if team.therapists:
            acting = max(team.therapists, key=lambda t: t.experience)
            team.therapists.remove(acting)
            for case in acting.cases:
                self._requeue(case)
            acting.cases = []
            acting.remove()
            team.supervisor = Supervisor(self, _clip(old.clinical_skill * self.p.interim_clinical),
                                         0.0, interim=True)
            team.vacancy_timers.append(self._fill_time(self.p.therapist_fill_months))
        self.n["reviews"] += 1
        survived = self._viability_review(team)
        if survived:
            self.review_survived_months.append(self.month)

    def _viability_review(self, team: Team) -> bool:
        """Review viability against the full, unsubsidised cost.

        A permanent appointment commits the LA beyond the grant (001:1576-1578).

        Returns:
            Whether the service (or, with several teams, the service minus this team) survived.
        """
        margin = self.compute_defence() - self.compute_pressure(0.0) - self.p.review_strictness
        if not self._protected() and self._decide_close(margin):
            if len(self.teams) > 1:
                self._close_team(team, "viability review")
                return True
            self._close("viability_review")
            return False
        if margin > self.p.cut_margin:
            team.supervisor_timer = self._fill_time(self.p.supervisor_fill_months)
            self._note("viability review: recruit a permanent supervisor")
        else:
            team.supervisor_timer = None
            self._note("viability review: interim left in post until the budget round")
        return True

    def _appoint_supervisor(self, team: Team) -> None:
        r = self.r_work
        if team.handover is not None:
            system = max(self.p.successor_system_leadership, 0.8 * team.handover)
            team.handover = None
        else:
            system = _clip(r.gauss(self.p.successor_system_leadership, 0.1))
        if team.supervisor is not None:
            team.supervisor.remove()
            # The interim returns to the therapist post they left, if it is still vacant.
            if len(team.therapists) < team.posts:
                team.therapists.append(Therapist(self, team, 0.4))
                team.drop_timer()
        team.supervisor = Supervisor(self, _clip(r.gauss(0.6, 0.1)), system)
        team.supervisor_timer = None
        self._note(f"new supervisor for team {team.index + 1}")

    def _close_team(self, team: Team, why: str) -> None:
        for th in team.therapists:
            for case in th.cases:
                self._requeue(case)
            th.remove()
        if team.supervisor is not None:
            team.supervisor.remove()
        self.teams.remove(team)
        for i, t in enumerate(self.teams):
            t.index = i
        self._note(f"a team closed ({why})")

    # ------------------------------------------------------------------ 6. meetings and reviews
    def _steering_group_meeting(self) -> None:
        p, r = self.p, self.r_part
        active = [pt for pt in self.partners if pt.active]
        share = self.cal.grant_share
        for pt in active:
            pt.record_meeting(r.random() < pt.attend_probability(p.grant_pull, share,
                                                                p.uninformed_attendance))
        self._fill_chair()
        chair_knows = any(ld.chairs and ld.original for ld in self.leaders) or \
            self.steering.chair == "supervisor"
        self.partnership = self.steering.assess(active, chair_knows, self.collab_climate)
        self.steering.meetings += 1

    def _fill_chair(self) -> None:
        """Fill the steering group's chair.

        An empty or supervisor-held chair can be taken up by an informed, supportive leader
        (``chair_uptake_rate`` per meeting); an empty one falls to a permanent supervisor, who then
        carries it (001:1544, 001:1547).
        """
        st = self.steering
        if st.chair == "leader":
            return
        keen = [ld for ld in self.leaders if not ld.interim and ld.support > 0.3 and ld.knowledge > 0.5]
        if keen and self.r_part.random() < self.p.chair_uptake_rate:
            max(keen, key=lambda x: x.influence).chairs = True
            st.chair = "leader"
            self._note("a leader took the chair of the steering group")
        elif st.chair == "none" and self._has_permanent_supervisor():
            st.chair = "supervisor"

    def _implementation_review(self) -> None:
        """Six-monthly Program Implementation Review of fidelity (002:26)."""
        ths = [t for team in self.teams for t in team.therapists]
        if not ths:
            return
        mean_adh = sum(t.adherence for t in ths) / len(ths)
        if mean_adh < self.p.pir_fail_adherence:
            self._failed_pirs += 1
            self._note(f"implementation review failed (adherence {mean_adh:.2f})")
        else:
            self._failed_pirs = 0

    # ------------------------------------------------------------------ 7. leaders, climate, money
    def _leaders_learn(self) -> None:
        p = self.p
        briefing = self.advocacy_capacity()
        meeting = 0.5 * self.partnership
        ev = self.evidence()
        wsum = sum(ld.influence for ld in self.leaders) or 1.0
        coalition = sum(ld.influence * ld.support for ld in self.leaders) / wsum
        target = 0.5 * ev + 0.5 * coalition + 0.3 * (self.partnership - 0.5)
        for ld in self.leaders:
            ld.learn(p.knowledge_gain_rate, _clip(0.6 * briefing + meeting))
            ld.drift(p.support_drift_rate * (0.3 + 0.7 * ld.knowledge), target)
        # Partners: commitment rises with joint work and reported success, falls with their
        # own agency's cuts and when referrals drift away from their client group (001:1997).
        own_cuts = 1.0 - self.cal.budget_factor * self.scripted_budget_factor
        total = sum(self.referrals_by_agency.values())
        for pt in self.partners:
            if not pt.active:
                continue
            delta = p.commitment_learning_rate * pt.attendance * max(0.0, ev + 0.5) * (1.0 - pt.commitment)
            delta -= p.partner_austerity_erosion * own_cuts * pt.commitment
            if pt.agency in ("yos", "education") and total >= 20:
                expected = dict(REFERRER_AGENCIES)[pt.agency]
                drift = expected - self.referrals_by_agency[pt.agency] / total
                delta -= 0.02 * max(0.0, drift)
            pt.adjust_commitment(delta)
        # Champion cultivation: grow a new patron before the old one leaves.
        if self.levers.champion_cultivation and sum(ld.is_patron for ld in self.leaders) < 2:
            candidates = [ld for ld in self.leaders if ld.support > 0.3 and ld.knowledge > 0.4
                          and not ld.interim and not ld.is_patron]
            if candidates and self.r_lead.random() < p.champion_cultivation_rate:
                max(candidates, key=lambda x: x.influence).is_patron = True
                self._note("a new champion took on patronage")

    def _climate(self) -> None:
        p = self.p
        changes = sum(self._roll["changes"])
        depth = 1.0 - self.cal.budget_factor * self.scripted_budget_factor
        target = _clip(OFSTED_HOSTILITY[self.ofsted] + 0.6 * depth + 0.05 * changes
                       - 0.3 * (self.collab_climate - 0.5))
        self.hostility += p.climate_adjust_rate * (target - self.hostility)
        # Collaboration is built slowly by sustained joint leadership (partners and informed
        # leaders together) and eroded by churn (001:1677, 001:1710).
        knowledge = sum(ld.knowledge for ld in self.leaders) / len(self.leaders) if self.leaders else 0.0
        climate_target = self.partnership * (0.5 + 0.5 * knowledge) - p.churn_climate_erosion * changes
        self.collab_climate = _clip(self.collab_climate
                                    + p.climate_adjust_rate * (climate_target - self.collab_climate))
        # Toxic trio: leadership change, weak partnership and dwindling money together (001:1746).
        if changes > 0 and self.partnership < 0.4 and depth > 0.05:
            self.n["toxic_trio_months"] += 1

    def _money(self) -> None:
        p = self.p
        staffed = sum(len(t.therapists) for t in self.teams)
        slots = staffed * p.caseload_cap
        load = sum(t.caseload for t in self.teams)
        self.n["slot_months"] += slots
        # Utilisation: a moving average of filled caseload slots over funded ones. During a
        # trial, families the panel randomised to usual care in the last episode count as
        # demand the service handled (assumption: the LA knows the protocol halves allocation).
        funded = sum(t.posts for t in self.teams) * p.caseload_cap
        recent = [self._roll["usual_care"][(self.month - k) % 12]
                  for k in range(int(round(p.episode_months)))]
        util = min(1.0, (load + sum(recent)) / funded) if funded else 0.0
        self.utilisation += (util - self.utilisation) / 6.0
        share = self.cal.grant_share
        self.cost_month = self.annual_cost() / 12.0
        self.n["cost"] += self.cost_month
        self.n["savings"] += self.savings_month
        if self.cal.is_april and self.month >= 12:
            self._budget_round()
            return
        # Ad-hoc cut proposals from new, short-termist, unsupportive senior leaders (001:1557).
        for ld in self.leaders:
            if (ld.role in SENIOR_ROLES and ld.newcomer and ld.support < 0 and ld.tenure <= 12
                    and self.r_dec.random() < p.cut_proposal_rate * ld.short_termism * -ld.support):
                self._note(f"new {ld.role.replace('_', ' ')} proposed cutting MST")
                self._budget_decision("cut_proposal", share)
                return

    def _budget_round(self) -> None:
        """The April budget round: continue, cut a post, close or expand (MODEL.md §5.1)."""
        share = self.cal.grant_share  # the coming financial year's grant share
        self._budget_decision("budget_round", share)
        if self.closed:
            return
        # An interim left drifting: the round commits to recruiting if it continues.
        for team in self.teams:
            if team.supervisor is not None and team.supervisor.interim and team.supervisor_timer is None:
                team.supervisor_timer = self._fill_time(self.p.supervisor_fill_months)

    def _decide_close(self, margin: float) -> bool:
        p = self.p
        return self.r_dec.random() < _logistic((p.close_margin - margin) / p.decision_scale)

    def _protected(self) -> bool:
        """Ring-fenced or outcome-contract funding: cost decisions cannot close or cut."""
        return self.month < 12 * (self.levers.protected_funding_years + 1) and \
            self.levers.protected_funding_years > 0

    def _budget_decision(self, cause: str, grant_share: float) -> None:
        p, r = self.p, self.r_dec
        protected = self._protected()
        self.defence = self.compute_defence()
        self.pressure = self.compute_pressure(grant_share)
        margin = self.defence - self.pressure
        if not protected and self._decide_close(margin):
            self._close(cause)
            return
        if protected:
            return
        if margin < p.cut_margin:
            team = max(self.teams, key=lambda t: (t.vacancies, t.index))
            if team.posts > 2 and r.random() < _logistic((p.cut_margin - margin) / p.decision_scale):
                self._cut_post(team)
            return
        if cause != "budget_round":
            return
        lost = sum(self._roll["lost"])
        capacity = sum(t.posts for t in self.teams) * p.caseload_cap * 12 / p.episode_months
        excess = lost + len(self.waiting) >= 0.2 * capacity
        if not excess or self.cal.trial_protocol:
            return
        # A new team commits the LA beyond any grant: judge it on the full, unsubsidised cost
        # of the service with the new team included.
        margin_after = self.defence - self.compute_pressure(0.0, self.p.team_cost)
        if (margin_after > p.expand_margin
                and r.random() < _logistic((margin_after - p.expand_margin) / p.decision_scale)):
            self._new_team()
            self.n["expansions"] += 1
            self.n["peak_teams"] = max(self.n["peak_teams"], len(self.teams))
            if self.first_expansion is None:
                self.first_expansion = self.month
            self._note(f"expanded to {len(self.teams)} teams")

    def _cut_post(self, team: Team) -> None:
        team.posts -= 1
        self.n["cuts"] += 1
        self._note(f"a therapist post cut in team {team.index + 1}")
        if len(team.therapists) <= team.posts:  # a post was vacant: stop recruiting to it
            team.drop_timer()
        elif team.therapists:
            th = min(team.therapists, key=lambda t: len(t.cases))
            team.therapists.remove(th)
            for case in th.cases:
                self._requeue(case)
            th.cases = []
            th.remove()

    # ------------------------------------------------------------------ 8. closure
    def _closure_checks(self) -> None:
        limit = self.p.staffing_collapse_months
        for team in list(self.teams):
            if team.months_without_cover >= limit or team.months_understaffed >= limit:
                if len(self.teams) > 1:
                    self._close_team(team, "it could no longer deliver")
                else:
                    self._close("staffing_collapse")
                    return
        if self._failed_pirs >= 2:
            self._close("licence")

    def _close(self, cause: str) -> None:
        self.closed = True
        self.closure_month = self.month
        self.closure_cause = cause
        self.running = False
        self._note(f"service closed ({cause.replace('_', ' ')})")

    # ------------------------------------------------------------------ measures
    def _update_measures(self) -> None:
        teams = self.teams if not self.closed else []
        self.teams_now = len(teams)
        if not self.collect_series and self.month != 0:
            return  # the monthly measures feed only the series (and dashboards)
        self.therapists = sum(len(t.therapists) for t in teams)
        self.staff = self.therapists + sum(1 for t in teams if t.supervisor is not None)
        self.caseload = sum(t.caseload for t in teams)
        self.waiting_list = len(self.waiting) if not self.closed else 0
        if not self.closed:
            self.defence = self.compute_defence()
            self.pressure = self.compute_pressure(self.cal.grant_share)
        ls = self.leaders
        self.leader_support = sum(ld.support for ld in ls) / len(ls) if ls else 0.0
        self.leader_knowledge = sum(ld.knowledge for ld in ls) / len(ls) if ls else 0.0
        rs = self.referrers
        self.referrer_awareness = sum(x.awareness for x in rs) / len(rs)
        self.referrer_attitude = sum(x.attitude for x in rs) / len(rs)
        self.grant_share = self.cal.grant_share
