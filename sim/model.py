"""The Local Authority: a mesa ``Model`` in which an MST team lives or closes (docs/ODD.md).

The model keeps the state, builds it (ODD §5) and runs one month in the order of ODD §3 in
:meth:`LocalAuthority.step`; the submodels of ODD §7 live in :mod:`sim.processes`. One step is
one month. The model never does I/O: it reads a validated :class:`sim.scenario.Scenario` and
exposes its state and records for :mod:`sim.simulate`.
"""

from __future__ import annotations

import random

import mesa
import numpy as np

from agents import Leader, Partner, Supervisor, Therapist
from sim.calendar import Calendar
from sim.numeric import clip
from sim.parameters import scenario_params
from sim.processes import (
    budget,
    buffers,
    climate,
    closure,
    events,
    leadership,
    partnership,
    phase,
    referrals,
    value_for_money,
    workforce,
)
from sim.processes.closure import CLOSURE_CAUSES
from sim.processes.phase import PHASES
from sim.scenario import Scenario
from sim.steering import SteeringGroup

__all__ = ["CLOSURE_CAUSES", "PHASES", "STREAMS", "LocalAuthority"]

STREAMS = ("leaders", "partners", "referrers", "workforce", "cases", "decisions",
           "programme_manager")
SNAPSHOT_MONTHS = (6, 36, 96)  # partnership at 6 and 36, teams at 96 (calibration patterns)
# The monthly series: column name -> model attribute (read by the DataCollector).
SERIES = {"teams": "teams_now", "leadership_shield": "leadership_shield_now", **{k: k for k in (
    "staff", "therapists", "referrals_month", "caseload", "waiting_list", "partnership_shield",
    "system_leadership", "reserve", "exposure", "pressure", "pressure_landing", "margin",
    "partnership", "leader_support", "leader_knowledge", "referrer_awareness",
    "referrer_attitude", "hostility", "grant_share", "cost_month", "savings_month")}}
# Counts of the past 12 months, one slot per calendar month (evidence, utilisation, climate).
PAST_YEAR = ("closed", "success", "came_back", "lost", "changes", "usual_care")

# ODD §3 steps 2 to 11, in order. Each runs only while the service is open: a closure ends
# the month.
MONTH = (
    leadership.leader_turnover,                    # 2  leader turnover (§7.1, §7.3)
    partnership.partner_turnover,                  # 3  partner turnover, co-funding (§7.5)
    referrals.referral_pipeline,                   # 4  referral pipeline and panel (§7.6, §7.7)
    referrals.allocate_waiting_list,               # 5  waiting list (§7.7)
    workforce.teams_month,                         # 6  teams (§7.8-§7.11)
    partnership.quarterly_steering_group,          # 7  meetings: steering group (§7.3, §7.4)
    closure.six_monthly_implementation_review,     #    ... and the PIR (§7.15)
    leadership.leaders_learn,                      # 8  leaders learn (§7.2)
    partnership.partners_learn,                    #    ... partners' commitment (§7.5)
    leadership.cultivate_patron,                   #    ... champion cultivation (§7.3)
    climate.climate_month,                         # 9  climate (§7.16)
    value_for_money.account_month,                 # 10 cost, savings, utilisation (§7.17)
    budget.budget_round_or_cut_proposal,           #    ... budget round or cut proposal (§7.13-14)
    closure.closure_checks,                        # 11 staffing collapse, licence (§7.15)
)


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
        month: Months since go-live (0 at initialisation). Not mesa's ``steps``, which also
            counts calls of ``step()`` after closure.
        closed: Whether the service has closed; ``closure_month`` and ``closure_cause`` say
            when and why.
        leaders, partners, referrers: The agents, as lists: a successor takes the place of
            the agent they replace, and that list order is the order of updates and draws
            (ODD §3). mesa's ``agents_by_type`` holds them in creation order instead, so it
            cannot replace these lists without changing the runs.
        teams: The service's teams.
        steering: The steering group.
        advocacy: The advocacy stock: the service's standing from system work (ODD §7.10).
        totals: Running totals of the run (families, staff changes, cost...), read by
            :mod:`sim.simulate`.
        past_year: Counts of the past 12 months by kind (``PAST_YEAR``), one slot a month.
        scripted_events: The scenario's scripted events by month (:mod:`sim.processes.events`).
        log: Notable events as ``(month, text)`` for summaries and dashboards.
    """

    def __init__(self, scenario: Scenario, seed=0, collect_series: bool = True):
        ss = _seed_sequence(seed)
        self.collect_series = collect_series
        # Teams and partnership at the months the scalar outputs need, series or not.
        self.snapshots: dict[int, tuple[int, float]] = {}
        super().__init__(rng=ss)
        # One step is one month and the model schedules no events of its own, so mesa's
        # per-step event machinery (an event rescheduled every step and a log line formatted
        # each time, about a tenth of a run) is replaced by its effect on mesa's state: the
        # default schedule is stopped (as mesa's own DEVS simulator does) and ``step()``
        # counts the step and advances the clock itself (:meth:`advance_month`). mesa's
        # ``run_for``/``run_until`` would now move the clock without running months: use
        # ``step()`` or :meth:`run`.
        self._default_schedule.stop()
        self.step = self.advance_month
        # One named stream per process so that a lever acting on one process does not shift
        # the random numbers of the others (common random numbers across scenarios).
        streams = [random.Random(int(c.generate_state(1, np.uint64)[0]))
                   for c in (np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, i))
                             for i in range(len(STREAMS)))]
        (self.r_lead, self.r_part, self.r_ref, self.r_work, self.r_case,
         self.r_dec, self.r_pm) = streams

        self.spec = scenario
        self.site = site = scenario.site
        self.levers = lv = scenario.levers
        self.p = p = scenario_params(scenario.parameters)
        self.calendar = Calendar(scenario.start_year, scenario.start_month, p.austerity_rate)
        self.horizon = scenario.horizon_months
        self.month = 0

        # Environment (ODD §2.1, §5.3)
        self.oversold = site.launch_framing == "oversold" and not lv.balanced_launch
        self.learning = clip(site.learning_climate + (p.lever_learning_boost if lv.learning_climate else 0))
        self.network_base = clip(site.regional_network + (p.lever_network_boost if lv.regional_network else 0))
        self.ofsted = site.ofsted_rating
        self.collab_climate = site.collaboration_history
        self.hostility = climate.base_hostility(p, self.ofsted)
        self.scripted_budget_factor = 1.0
        self.competition_extra = 0.0
        self.size = site.population / buffers.REFERENCE_POPULATION  # in reference populations
        self.cal = self.calendar.state(0, site.research_trial)

        # Records
        self.closed = False
        self.closure_month: int | None = None
        self.closure_cause = ""
        self.log: list[tuple[int, str]] = []
        self.phase = 0
        self.totals = dict(referrals=0, eligible=0, usual_care=0, treated=0, succeeded=0,
                           came_back=0, dropped_waiting=0, leader_changes=0,
                           supervisor_changes=0, therapist_departures=0, toxic_trio_months=0,
                           expansions=0, cuts=0, reviews=0, peak_teams=1, cost=0.0,
                           savings=0.0, slot_months=0, case_months=0)
        self.first_supervisor_tenure: int | None = None
        self.review_survived_months: list[int] = []
        self.first_expansion: int | None = None
        self.past_year = {k: [0] * 12 for k in PAST_YEAR}
        self.failed_reviews = 0  # consecutive failed implementation reviews (ODD §7.15)
        self.last_cut_month: int | None = None
        # Why a service closed (ODD §7.22): the cause log, the reference decision, the result.
        self.cause_log: list[tuple[int, str]] = []
        self.reference = None  # (month, Standing, margin) of the last positive decision
        self.explanation = None
        self.patron_left_month: int | None = None
        self.shields_at_supervisor_exit: tuple[float, float] | None = None
        self.year2_use: list[float] = []  # the first team's utilisation, months 13-24, no trial
        self.referrals_by_agency = {a: 0 for a, _ in referrals.REFERRER_AGENCIES}

        # People (ODD §5.1: the only site-specific inputs besides the descriptors)
        self.leaders: list[Leader] = [
            Leader(self, spec.role, spec.stance, spec.knowledge, is_patron=spec.patron,
                   chairs=spec.chairs_steering_group, original=True,
                   short_termism=clip(self.hostility))
            for spec in scenario.leaders]
        self.partners: list[Partner] = [
            Partner(self, ps.agency, ps.commitment, ps.seniority, knows_commitment=True)
            for ps in scenario.partners]
        partnership.assign_co_funding(self)
        self.steering = SteeringGroup()
        self.steering.chair = "leader" if any(ld.chairs for ld in self.leaders) else "supervisor"
        self.steering.assess(self.partners, True, self.collab_climate)
        self.partnership = self.steering.strength

        self.teams = []
        sup = scenario.supervisor
        first = workforce.new_team(self, recruit=False)
        first.supervisor = Supervisor(self, sup.clinical_skill, sup.system_leadership,
                                      prior_mst_experience=sup.prior_mst_experience,
                                      style=sup.style, first=True)
        start_adherence = p.prior_mst_adherence if sup.prior_mst_experience else p.start_adherence
        for _ in range(first.posts):
            first.therapists.append(Therapist(self, first, start_adherence))
        first.vacancy_timers.clear()

        n_ref = max(6, round(p.referrers_per_100_lac * site.looked_after_children / 100))
        self.referrers = [referrals.new_referrer(self, launch=True) for _ in range(n_ref)]
        # The programme manager post (a lever; on by default at two or more teams) and its holder.
        self.pm_in_post = True
        self.pm_timer: int | None = None
        self.advocacy = self.advocacy_capacity()
        self.waiting = []

        # Monthly measures (read by the DataCollector and the dashboard)
        self.buffers = None
        self.margin = self.pressure = 0.0
        self.leadership_shield_now = self.partnership_shield = self.system_leadership = 0.0
        self.reserve = self.exposure = self.pressure_landing = 0.0
        self.referrals_month = 0
        self.cost_month = self.savings_month = 0.0
        self.utilisation = 1.0
        self.update_measures()
        go_live = self.standing(self.cal.grant_share)
        self.reference = (0, go_live, buffers.margin(self, go_live))

        self.datacollector = mesa.DataCollector(model_reporters=dict(SERIES))
        self.record_month()

        # Scripted events (ODD §7.19) run at the start of their month, after the calendar.
        self.scripted_events = events.schedule(scenario.events)

    # ------------------------------------------------------------------ the month
    def step(self) -> None:
        """Advance one month in the order of docs/ODD.md §3."""
        if self.closed:
            return
        # 1. Calendar, clock and scripted events.
        self.month += 1
        self.savings_month = 0.0
        slot = self.month % 12
        for counts in self.past_year.values():
            counts[slot] = 0
        before, self.cal = self.cal, self.calendar.state(self.month, self.site.research_trial)
        events.national_events(self, before)
        phase.advance_phase(self)
        events.apply_scripted_events(self)
        workforce.update_advocacy(self)
        # 2-11. The month's processes, until one closes the service.
        for process in MONTH:
            if self.closed:
                break
            process(self)
        # 12. Recording.
        self.update_measures()
        self.record_month()
        if self.closed or self.month >= self.horizon:
            self.running = False

    def advance_month(self) -> None:
        """What ``model.step()`` runs: mesa's step count and clock, then :meth:`step`.

        As mesa's own step wrapper does, ``steps`` and ``time`` advance by one on every call,
        after closure too; the month itself runs only while the service is open.
        """
        self.steps += 1
        self.time += 1.0
        type(self).step(self)  # the class's month (a subclass may extend it)

    def run(self) -> None:
        """Run to the horizon or closure (``run_until`` would ignore ``running``)."""
        while self.running and self.month < self.horizon:
            self.step()

    # ------------------------------------------------------------------ public interventions
    def note(self, text: str, month: int | None = None) -> None:
        """Add ``text`` to the log at this month (or at ``month``)."""
        self.log.append((self.month if month is None else month, text))

    def apply_event(self, event) -> None:
        """Apply a scripted event now, at the current month, logged once.

        Args:
            event: A scenario event record (its ``month`` is ignored) or an event object of
                :mod:`sim.processes.events` (e.g. ``LeaderDeparts(role, leader=agent)``).
        """
        event = events.build_event(event)
        self.note(f"scripted event: {event.kind}")
        event.apply(self)

    def close(self, cause: str) -> None:
        """Close the service now for ``cause`` (one of ``CLOSURE_CAUSES``)."""
        closure.close_service(self, cause)

    def record_month(self) -> None:
        """Record this month: the calibration snapshots and, if collected, the series row."""
        if self.month in SNAPSHOT_MONTHS:
            self.snapshots[self.month] = (self.teams_now, self.partnership)
        if self.collect_series:
            self.datacollector.collect(self)

    def rerecord_month(self) -> None:
        """Replace this month's row of the monthly series after an intervention.

        Call :meth:`update_measures` first. Only the values are overwritten (``model_vars``), so
        the DataCollector keeps one entry per month. Does nothing if the series is not collected
        or this month has no row yet.
        """
        if not self.collect_series:
            return
        rows = self.datacollector.model_vars
        if {len(v) for v in rows.values()} != {self.month + 1}:
            return
        for column, attribute in SERIES.items():
            rows[column][-1] = getattr(self, attribute)

    def update_measures(self) -> None:
        """Refresh the monthly measures (the series' values) from the current state."""
        teams = self.teams if not self.closed else []
        self.teams_now = len(teams)
        if not self.collect_series and self.month != 0:
            return  # the monthly measures feed only the series (and dashboards)
        self.therapists = sum(len(t.therapists) for t in teams)
        self.staff = self.therapists + sum(1 for t in teams if t.supervisor is not None)
        self.caseload = sum(t.caseload for t in teams)
        self.waiting_list = len(self.waiting) if not self.closed else 0
        if not self.closed:
            st = self.standing(self.cal.grant_share)
            x = st.inputs()
            self.buffers = st
            self.leadership_shield_now, self.partnership_shield = st.leadership, st.partnership
            self.system_leadership = st.system
            self.reserve = buffers.reserve_of(x, self.p)
            self.exposure = buffers.exposure_of(x, self.p)
            self.pressure = buffers.pressure_of(x, self.p)
            self.pressure_landing = self.pressure * self.exposure
            self.margin = self.reserve - self.pressure_landing
        ls = self.leaders
        self.leader_support = sum(ld.support for ld in ls) / len(ls) if ls else 0.0
        self.leader_knowledge = sum(ld.knowledge for ld in ls) / len(ls) if ls else 0.0
        rs = self.referrers
        self.referrer_awareness = sum(x.awareness for x in rs) / len(rs)
        self.referrer_attitude = sum(x.attitude for x in rs) / len(rs)
        self.grant_share = self.cal.grant_share

    # ------------------------------------------------------------------ derived measures
    # Read-only measures of the current state (ODD §7.10, §7.13, §7.17); their rules live in
    # sim.processes.defence and are bound here as methods.
    @property
    def programme_manager_post(self) -> bool:
        """Whether a programme manager post exists (lever; on by default at two or more teams)."""
        pm = self.levers.programme_manager
        return pm == "on" or (pm == "auto" and len(self.teams) >= 2)

    @property
    def programme_manager(self) -> bool:
        """Whether a programme manager is in post: the post exists and is filled (ODD §7.10)."""
        return self.pm_in_post and self.programme_manager_post

    @property
    def network(self) -> float:
        """Effective regional network support this month."""
        if self.cal.regional_support_ended and not self.levers.regional_network:
            return self.network_base * (1.0 - self.p.regional_support_loss)
        return self.network_base

    leadership_shield = buffers.leadership_shield
    opposition = buffers.opposition
    has_patron = buffers.has_patron
    advocacy_capacity = buffers.advocacy_capacity
    evidence = buffers.evidence
    embeddedness = buffers.embeddedness
    annual_cost = buffers.annual_cost
    co_funding_share = buffers.co_funding_share
    unit_cost_excess = buffers.unit_cost_excess
    standing = buffers.standing
    margin_at = buffers.margin

    def cause(self, kind: str) -> None:
        """Log a cause event of ``kind`` (a key of ``sim.explanation.EVENT_GROUP``) this month."""
        self.cause_log.append((self.month, kind))
