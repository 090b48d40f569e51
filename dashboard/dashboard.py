"""The seminar dashboard's model side (issues 6 and 15).

Which scenarios it offers, the model it runs, injecting events at the current month, and
plain-data views of the model for the page: the status, the log in plain words (one line per
event), the buffers and pressure as named bars, the events to mark on the time axis, which
controls await a Reset, and the exercise's ensemble reveal.

Nothing here imports solara: the page lives in :mod:`dashboard.dashboard_app` (needs the
optional ``viz`` extra) and :func:`launch` starts it. Everything the page shows comes from the
functions below, so they can be tested without a browser.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from dashboard.hosts import LocalHostsOnly, allowed_hosts, normalise_host
from experiments.reports.causes import NO_DECISION, explanation_lines
from sim.explanation import EVENT_LABELS
from sim.model import PHASES, LocalAuthority
from sim.processes.events import LeaderDeparts
from sim.scenario import STANCES, Event, Levers, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_DIR = ROOT / "scenarios"
DEFAULT_SCENARIO = "metro_city"
INSTALL_HINT = ('the dashboard needs the optional viz extra; install it with: '
                'pip install -e ".[viz]"')
# Environment variables through which `run.py dashboard` hands its choices to the page.
ENV_SCENARIO = "MST_DASHBOARD_SCENARIO"
ENV_SEED = "MST_DASHBOARD_SEED"

ROLE_LABELS = {
    "chief_executive": "Chief executive",
    "director_childrens_services": "Director of children's services",
    "assistant_director": "Assistant director",
    "head_of_service": "Head of service",
    "partner_director": "Partner agency director",
}
AGENCY_LABELS = {
    "camhs": "CAMHS", "mental_health_trust": "Mental health trust", "yos": "Youth offending",
    "education": "Education", "police": "Police", "finance": "Finance",
    "voluntary_host": "Voluntary host", "health": "Health",
}
LEVER_LABELS = {
    "succession_planning": "Succession planning",
    "programme_manager": "Programme manager",
    "local_outcome_feedback": "Local outcome feedback",
    "steering_group_induction": "Steering group induction",
    "champion_cultivation": "Champion cultivation",
    "regional_network": "Regional network",
    "referral_promotion": "Referral promotion",
    "learning_climate": "Learning climate",
    "balanced_launch": "Balanced launch",
    "protected_funding_years": "Protected funding years",
    "co_funding": "Co-funding share",
}
BOOLEAN_LEVERS = tuple(k for k, v in Levers.__dataclass_fields__.items() if v.type == "bool")
CAUSE_TEXT = {
    "budget_round": "at the April budget round",
    "viability_review": "at the viability review after the supervisor left",
    "cut_proposal": "after a senior leader proposed cutting it",
    "in_year_cut": "at an in-year budget cut",
    "staffing_collapse": "when the team could no longer deliver",
    "licence": "after two failed implementation reviews",
    "co_funder_withdrawal": "when a co-funding partner withdrew",
}
INJECTABLE = {
    "leader_departs": "A leader leaves",
    "supervisor_departs": "The supervisor leaves",
    "budget_cut": "A budget cut",
    "partner_withdraws": "A partner withdraws",
}
CULTURE_STANCE = "drawn from the authority's culture"
WHY_TITLE = "Why it closed"
NO_EXPLANATION_MODEL = "This version of the model records no explanation of closures."
NO_DECISION_TEXT = (f"No decision closed the service {NO_DECISION}, so there is no fall of the "
                    "margin to explain.")


# --------------------------------------------------------------------------- scenarios on offer
def scenario_catalogue() -> dict[str, Path]:
    """Scenario files the dashboard offers, keyed by a short label.

    The label is the path under ``scenarios/`` without ``.toml``: ``metro_city``,
    ``template``, ``seminars/toxic_trio_all``...
    """
    files = sorted(SCENARIO_DIR.glob("*.toml")) + sorted(SCENARIO_DIR.glob("seminars/*.toml"))
    return {p.relative_to(SCENARIO_DIR).with_suffix("").as_posix(): p for p in files}


def scenario_label(choice: str | Path) -> str:
    """The catalogue label of a scenario given as a label or a path.

    A path outside the catalogue is returned as given, so that the page can still offer it.
    """
    text = str(choice)
    catalogue = scenario_catalogue()
    if text in catalogue:
        return text
    path = Path(text)
    try:
        resolved = path.resolve()
    except OSError:
        return text
    for label, p in catalogue.items():
        if p.resolve() == resolved:
            return label
    return text


def resolve_scenario(choice: str | Path) -> Path:
    """Path of a scenario given as a catalogue label or a file path."""
    catalogue = scenario_catalogue()
    return catalogue.get(str(choice), Path(choice))


def parse_seed(value: object, default: int = 1) -> tuple[int, str]:
    """Read a seed typed into the page.

    Returns:
        ``(seed, note)``: the seed, and a note (empty when the value was valid) saying that an
        invalid value was replaced by ``default``.
    """
    try:
        seed = int(str(value).strip())
    except (TypeError, ValueError):
        return default, f"seed {value!r} is not a whole number; using {default}"
    if not 0 <= seed < 2**63:
        return default, f"seed {seed} is out of range 0..2^63-1; using {default}"
    return seed, ""


# --------------------------------------------------------------------------- the model
class DashboardModel(LocalAuthority):
    """The Local Authority model as the dashboard builds it: a scenario file, levers and a seed.

    Every argument is a keyword with a default, as mesa's SolaraViz needs to rebuild the model
    on Reset. The levers given here are the levers of the run: they replace the file's.

    Args:
        site: A scenario label from :func:`scenario_catalogue` or a TOML file path.
        seed: The run's seed (a whole number, or text holding one; anything else is replaced
            by 1 with a note in the log).
        succession_planning: Lever (see :class:`sim.scenario.Levers`); None keeps the file's.
        programme_manager: Lever: ``"auto"``, ``"on"`` or ``"off"``; None keeps the file's.
        local_outcome_feedback: Lever; None keeps the file's.
        steering_group_induction: Lever; None keeps the file's.
        champion_cultivation: Lever; None keeps the file's.
        regional_network: Lever; None keeps the file's.
        referral_promotion: Lever; None keeps the file's.
        learning_climate: Lever; None keeps the file's.
        balanced_launch: Lever; None keeps the file's.
        protected_funding_years: Lever, 0-10 (a slider's float is rounded); None keeps the file's.
        co_funding: Lever, 0-0.6; None keeps the file's.

    Attributes:
        site_label: The scenario's label.
        seed_value: The seed used.
        file_levers: The levers the scenario file sets.
        ensemble_spec: The scenario with the page's levers but without the point set (what
            the "what many runs say" reveal runs over the posterior sample).
        injected: Events injected from the page, as ``(month, description)``.
        injected_at: The description of each injected event by the index of its line in
            ``log`` (the model's own "scripted event" line), for :func:`log_lines`.
        names: Display names of leaders by agent id (the file's names for founding leaders).
    """

    def __init__(self, site: str = DEFAULT_SCENARIO, seed: int | str = 1,
                 succession_planning: bool | None = None, programme_manager: str | None = None,
                 local_outcome_feedback: bool | None = None,
                 steering_group_induction: bool | None = None,
                 champion_cultivation: bool | None = None, regional_network: bool | None = None,
                 referral_promotion: bool | None = None, learning_climate: bool | None = None,
                 balanced_launch: bool | None = None,
                 protected_funding_years: int | None = None, co_funding: float | None = None):
        scenario = load_scenario(resolve_scenario(site))
        given = {k: v for k, v in dict(
            succession_planning=succession_planning, programme_manager=programme_manager,
            local_outcome_feedback=local_outcome_feedback,
            steering_group_induction=steering_group_induction,
            champion_cultivation=champion_cultivation, regional_network=regional_network,
            referral_promotion=referral_promotion, learning_climate=learning_climate,
            balanced_launch=balanced_launch, protected_funding_years=protected_funding_years,
            co_funding=co_funding).items() if v is not None}
        if "protected_funding_years" in given:
            given["protected_funding_years"] = int(given["protected_funding_years"])
        if "co_funding" in given:
            given["co_funding"] = round(float(given["co_funding"]), 3)
        seed_int, note = parse_seed(seed)
        file_levers = scenario.levers
        # The stepped run uses one parameter set: the posterior's point set (MODEL §11); the
        # reveal integrates over the sample, so it starts from the scenario without that set.
        chosen = scenario.with_levers(**given)
        super().__init__(point_scenario(chosen), seed_int)
        self.ensemble_spec = chosen
        self.parameter_label = dashboard_plans()[0].label()
        self.site_label = scenario_label(site)
        self.seed_value = seed_int
        self.file_levers = file_levers
        self.injected: list[tuple[int, str]] = []
        self.injected_at: dict[int, str] = {}
        self.names: dict[int, str] = {}
        for ld, spec in zip(self.leaders, scenario.leaders, strict=False):
            self.names[ld.unique_id] = spec.name or ROLE_LABELS[spec.role]
        if note:
            self.log.append((0, note))


def initial_parameters(scenario: str | Path | None = None, seed: int | str | None = None) -> dict:
    """The dashboard's starting controls: the scenario, its file's levers and the seed.

    Args:
        scenario: A label or path; default from ``MST_DASHBOARD_SCENARIO`` or Metro City.
        seed: Default from ``MST_DASHBOARD_SEED`` or 1.

    Returns:
        Keyword arguments for :class:`DashboardModel`.
    """
    scenario = scenario or os.environ.get(ENV_SCENARIO) or DEFAULT_SCENARIO
    seed = seed if seed is not None else os.environ.get(ENV_SEED, "1")
    levers = load_scenario(resolve_scenario(scenario)).levers
    return {"site": scenario_label(scenario), "seed": str(seed),
            **{k: getattr(levers, k) for k in Levers.__dataclass_fields__}}


# --------------------------------------------------------------------------- injecting events
def inject_event(model: LocalAuthority, event: Event, leader=None) -> str:
    """Apply one event to a running model now, at its current month.

    The event goes through the model's own scripted-event code (``LocalAuthority.apply_event``,
    the same path as an ``[[events]]`` entry of a scenario file), so a budget cut triggers the
    in-year budget decision, a supervisor departure the viability review, and so on. Only when
    a named leader shares their role with an earlier leader in the list (which the role-based
    event would pick instead) is that leader named in the event (``LeaderDeparts(leader=...)``).
    The month's measures and its row of the monthly series are then brought up to date.

    Args:
        model: The model, stepped to the month of the injection.
        event: The event; its ``month`` is ignored (the current month is used).
        leader: For ``leader_departs``, the leader agent who leaves (default: the first leader
            with ``event.role``).

    Returns:
        A one-line description of what was injected.

    Raises:
        ValueError: If the service has closed, or the event cannot apply (no such leader,
            partner or supervisor).
    """
    if model.closed:
        raise ValueError("the service has closed; press Reset to start again")
    event = replace(event, month=model.month)
    text = describe_event(model, event, leader)
    # The model logs the event once ("scripted event: <kind>"); the page's log shows that line
    # in the words of ``text`` (see :func:`log_lines`), so nothing else is logged here.
    at = len(model.log)
    if event.kind == "leader_departs" and leader is not None and \
            next(ld for ld in model.leaders if ld.role == leader.role) is not leader:
        model.apply_event(LeaderDeparts(event.role, event.successor_stance, leader=leader))
    else:
        model.apply_event(event)
    model.update_measures()
    model.rerecord_month()
    if hasattr(model, "injected"):
        model.injected.append((model.month, text))
    if hasattr(model, "injected_at"):
        model.injected_at[at] = text
    return text


def describe_event(model: LocalAuthority, event: Event, leader=None) -> str:
    """A readable description of an event about to be injected; checks that it can apply.

    Raises:
        ValueError: If there is no such leader, partner or supervisor, or the kind is unknown.
    """
    if event.kind == "leader_departs":
        if leader is None:
            leader = next((ld for ld in model.leaders if ld.role == event.role), None)
        if leader is None or leader not in model.leaders:
            raise ValueError(f"no {ROLE_LABELS.get(event.role, event.role)} in post")
        who = leader_name(model, leader)
        if event.successor_stance is None:
            return f"{who} leaves"
        return f"{who} leaves; the successor is {stance_word(event.successor_stance)}"
    if event.kind == "supervisor_departs":
        if not model.teams or model.teams[0].supervisor is None:
            raise ValueError("team 1 has no supervisor in post")
        kind = "interim " if model.teams[0].supervisor.interim else ""
        return f"the {kind}supervisor of team 1 leaves"
    if event.kind == "budget_cut":
        return f"a {event.fraction:.0%} in-year cut to the discretionary budget"
    if event.kind == "partner_withdraws":
        if not any(pt.active and pt.agency == event.agency for pt in model.partners):
            raise ValueError(f"{AGENCY_LABELS.get(event.agency, event.agency)} is not an active "
                             f"partner")
        return f"{AGENCY_LABELS.get(event.agency, event.agency)} withdraws from the partnership"
    raise ValueError(f"the dashboard cannot inject {event.kind!r}; use one of "
                     f"{', '.join(INJECTABLE)}")


# --------------------------------------------------------------------------- views for the page
def stance_word(support: float) -> str:
    """The rubric's stance word nearest to a support value (-1..1)."""
    return min(STANCES, key=lambda w: abs(STANCES[w] - support))


def leader_name(model: LocalAuthority, ld) -> str:
    """Display name of a leader: the file's name for a founding leader, else the role."""
    names = getattr(model, "names", {})
    return names.get(ld.unique_id) or ROLE_LABELS.get(ld.role, ld.role)


def leader_choices(model: LocalAuthority) -> dict[str, object]:
    """Leaders in post keyed by a unique display label, in the model's order."""
    out: dict[str, object] = {}
    for ld in model.leaders:
        label = leader_name(model, ld)
        if ld.interim:
            label += " (interim)"
        elif ld.newcomer:
            label += " (new)"
        base, n = label, 2
        while label in out:
            label, n = f"{base} [{n}]", n + 1
        out[label] = ld
    return out


def partner_choices(model: LocalAuthority) -> dict[str, str]:
    """Active partner agencies keyed by display label (value: the agency code)."""
    return {AGENCY_LABELS.get(pt.agency, pt.agency): pt.agency
            for pt in model.partners if pt.active}


@dataclass(frozen=True)
class LeaderRow:
    """One leader as the page lists them."""

    name: str
    role: str
    stance: str
    support: float
    knowledge: float
    tags: tuple[str, ...]
    tenure: int


@dataclass(frozen=True)
class PartnerRow:
    """One partner agency's representative as the page lists them."""

    agency: str
    commitment: float
    seniority: float
    attendance: float
    knows_commitment: bool
    co_funding: float
    active: bool
    new_representative: bool


def leader_rows(model: LocalAuthority) -> list[LeaderRow]:
    """Leaders with stance, knowledge and tags (patron, chairs, interim, new)."""
    rows = []
    for ld in model.leaders:
        tags = []
        if ld.is_patron:
            tags.append("patron")
        if ld.chairs:
            tags.append("chairs the steering group")
        if ld.interim:
            tags.append("interim")
        if ld.newcomer:
            tags.append("new")
        rows.append(LeaderRow(leader_name(model, ld), ROLE_LABELS.get(ld.role, ld.role),
                              stance_word(ld.support), ld.support, ld.knowledge, tuple(tags),
                              ld.tenure))
    return rows


def partner_rows(model: LocalAuthority) -> list[PartnerRow]:
    """Partner agencies' representatives on the steering group."""
    return [PartnerRow(AGENCY_LABELS.get(pt.agency, pt.agency), pt.commitment, pt.seniority,
                       pt.attendance, pt.knows_commitment, pt.co_funding, pt.active,
                       pt.active and pt.tenure < model.month)
            for pt in model.partners]


def team_lines(model: LocalAuthority) -> list[dict]:
    """Per team: the supervisor's situation, therapists in post, vacancies and caseload."""
    out = []
    for team in ([] if model.closed else model.teams):
        sup = team.supervisor
        if sup is None:
            if team.supervisor_timer is not None:
                supervisor = (f"vacant: a permanent supervisor arrives in "
                              f"{team.supervisor_timer} month(s)")
            else:
                supervisor = "vacant: nobody is being recruited"
        elif sup.interim:
            supervisor = ("interim (a therapist acting up: clinical cover, no system leadership)"
                          + (f"; permanent appointment in {team.supervisor_timer} month(s)"
                             if team.supervisor_timer is not None else "; no recruitment yet"))
        else:
            supervisor = (f"in post {sup.tenure} month(s); system leadership "
                          f"{sup.system_leadership:.2f}, strain {sup.strain:.2f}")
        out.append({"team": team.index + 1, "supervisor": supervisor,
                    "supervisor_in_post": sup is not None and not sup.interim,
                    "therapists": len(team.therapists), "posts": team.posts,
                    "vacancies": team.vacancies, "caseload": team.caseload})
    return out


def budget_round_months(model: LocalAuthority, until: int | None = None) -> list[int]:
    """Months of the April budget rounds (every April after the first year) up to ``until``."""
    until = model.horizon if until is None else until
    return [m for m in range(12, until + 1)
            if model.calendar.state(m, model.site.research_trial).is_april]


def levers_in_force(levers: Levers) -> list[str]:
    """Readable list of the levers that differ from their defaults."""
    default = Levers()
    out = []
    for name in Levers.__dataclass_fields__:
        value = getattr(levers, name)
        if value == getattr(default, name):
            continue
        label = LEVER_LABELS.get(name, name)
        out.append(label if value is True else f"{label}: {value}")
    return out


def why_closed_lines(explanation, top: int = 3) -> list[str]:
    """The "Why it closed" text of one closure's explanation, in plain words.

    Args:
        explanation: The model's ``explanation`` object (``reference_month``,
            ``closure_month``, ``margin_reference``, ``margin_final``, ``margin_fall``,
            ``causes``: group -> contribution, ``events``: ``(month, kind)``).
        top: How many contributions to name.

    Returns:
        The lines of :func:`experiments.reports.causes.explanation_lines`: the fall of the
        margin between the two decisions, the main contributions with their signs, and the
        events in the window.
    """
    return explanation_lines(explanation.reference_month, explanation.closure_month,
                             explanation.margin_fall, explanation.causes, explanation.events,
                             margin_reference=explanation.margin_reference,
                             margin_final=explanation.margin_final, top=top)


def why_closed(model: LocalAuthority) -> list[str]:
    """The "Why it closed" lines for the page: none while the service runs.

    A closure with an explanation gets :func:`why_closed_lines`; one that no decision took
    (``model.explanation`` is None: staffing collapse, licence) says so; a model that keeps no
    explanation at all (no ``explanation`` attribute) says that instead.
    """
    if not model.closed:
        return []
    if not hasattr(model, "explanation"):
        return [NO_EXPLANATION_MODEL]
    explanation = model.explanation
    return [NO_DECISION_TEXT] if explanation is None else why_closed_lines(explanation)


def status(model: LocalAuthority) -> dict:
    """Headline state for the page: month, date, phase, fate, money and the steering group.

    ``fate`` says when and how the service closed (the decision path); ``why`` holds the
    "Why it closed" lines (:func:`why_closed`; empty while it runs).
    """
    month = model.month
    rounds = [m for m in budget_round_months(model) if m > month]
    chair = model.steering.chair
    if chair == "leader":
        chairs = [ld for ld in model.leaders if ld.chairs]
        chair_text = leader_name(model, chairs[0]) if chairs else "a leader"
    else:
        chair_text = {"supervisor": "the supervisor (carrying it alone)",
                      "none": "nobody"}.get(chair, chair)
    if model.closed:
        cause = model.closure_cause
        fate = (f"Closed in month {model.closure_month} "
                f"({model.calendar.label(model.closure_month)}) "
                f"{CAUSE_TEXT.get(cause, cause.replace('_', ' '))}")
    elif month >= model.horizon:
        fate = f"Running at the {model.horizon}-month horizon"
    else:
        fate = "Running"
    file_only = [LEVER_LABELS[k] for k in Levers.__dataclass_fields__
                 if getattr(model.file_levers, k, None) != getattr(model.levers, k)] \
        if hasattr(model, "file_levers") else []
    return {
        "scenario": model.spec.name,
        "month": month,
        "date": model.calendar.label(month),
        "phase": PHASES[model.phase].replace("_", " "),
        "fate": fate,
        "closed": model.closed,
        "why": why_closed(model),
        "teams": 0 if model.closed else len(model.teams),
        "grant_share": model.cal.grant_share,
        "hostility": model.hostility,
        "collaboration": model.collab_climate,
        "chair": chair_text,
        "partnership": model.partnership,
        "memory": model.steering.memory_of_commitment,
        "reserve": model.reserve,
        "pressure": model.pressure_landing,
        "margin": model.margin,
        "leadership_shield": model.leadership_shield_now,
        "partnership_shield": model.partnership_shield,
        "system_leadership": model.system_leadership,
        "next_budget_round": (f"month {rounds[0]} ({model.calendar.label(rounds[0])})"
                              if rounds and not model.closed else "none"),
        "referrals": model.referrals_month,
        "caseload": model.caseload,
        "waiting_list": model.waiting_list,
        "levers": levers_in_force(model.levers),
        "levers_overridden": file_only,
        "seed": getattr(model, "seed_value", None),
    }


# --------------------------------------------------------------------------- the log in plain words
@dataclass(frozen=True)
class LogLine:
    """One line of the page's log.

    Attributes:
        month: The month it happened.
        date: The month's calendar label (``YYYY-MM``).
        text: What happened, in plain words (a sentence without a final full stop).
        kind: ``"injected"`` (from the page), ``"scheduled"`` (a scenario file's event),
            ``"calendar"`` (the grant, austerity, the trial), or ``"model"`` (everything else).
    """

    month: int
    date: str
    text: str
    kind: str


# Roles as the model writes them in its log (the role code with spaces), in plain words.
_ROLE_WORDS = {code.replace("_", " "): label[0].lower() + label[1:]
               for code, label in ROLE_LABELS.items()}
# Cause-log events (sim.explanation.EVENT_GROUP) that the model's text log does not hold, so
# the page adds them, worded by sim.explanation.EVENT_LABELS; the others have a log line.
CAUSE_ONLY_EVENTS = ("grant_step", "austerity", "trial_randomising", "partner_replaced")
_CALENDAR_EVENTS = ("grant_step", "austerity", "trial_randomising")
# The other cause-log events and how to know their line in the text log (see _merged_log).
_LEFT = re.compile(r"^(?!supervisor |the programme manager).+ left( \(interim\))?$")
_ANCHORS = {
    "leader_left": _LEFT.match,
    "patron_left": lambda t: t.startswith("patronage ended"),
    "chair_lost": lambda t: t.startswith("steering group now chaired by"),
    "supervisor_left": re.compile(r"^supervisor of team \d+ left$").match,
    "programme_manager_left": lambda t: t == "the programme manager left",
    "co_funder_withdrew": lambda t: t.endswith("withdrew its co-funding")
    or t in ("scripted event: co_funding_ends", "scripted event: partner_withdraws"),
    "budget_cut": lambda t: t == "scripted event: budget_cut",
    "post_cut": lambda t: t.startswith("a therapist post cut"),
}
# The model's first line after an event that says the event again in its own words: it is
# left out of the page's log (one line per event).
_RESTATEMENT = {
    "leader_departs": re.compile(r"^.+ left( \(interim\))?$"),
    "supervisor_departs": re.compile(r"^(supervisor of team 1 left|the interim supervisor of "
                                     r"team 1 stepped down)$"),
}
VIABILITY_TEXT = {
    "recruit a permanent supervisor":
        "Viability review after the supervisor left: the service goes on and a permanent "
        "supervisor is being recruited",
    "interim left in post until the budget round":
        "Viability review after the supervisor left: in doubt; a therapist acts up as interim "
        "supervisor until the budget round, and nobody is recruited",
    "in doubt, but the planned successor starts":
        "Viability review after the supervisor left: in doubt, but the planned successor "
        "(succession plan) starts",
}
CHAIR_TEXT = {
    "leader": "A leader now chairs the steering group",
    "supervisor": "The supervisor now chairs the steering group, carrying it alone",
    "none": "The steering group has no chair now",
}


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:]


def _role_words(text: str) -> str:
    return _ROLE_WORDS.get(text, text)


def _agency_words(code: str) -> str:
    return AGENCY_LABELS.get(code, code.replace("_", " "))


_PLAIN_RULES: tuple[tuple[re.Pattern, object], ...] = (
    (re.compile(r"^supervisor of team (\d+) left$"), lambda m: f"The supervisor of team {m[1]} left"),
    (re.compile(r"^the interim supervisor of team (\d+) stepped down$"),
     lambda m: f"The interim supervisor of team {m[1]} stepped down"),
    (re.compile(r"^new supervisor for team (\d+)$"),
     lambda m: f"A new supervisor took up post in team {m[1]}"),
    (re.compile(r"^viability review: (.+)$"),
     lambda m: VIABILITY_TEXT.get(m[1], f"Viability review after the supervisor left: {m[1]}")),
    (re.compile(r"^patronage handed over \(succession plan\)$"),
     lambda m: "The patron left, and the succession plan handed patronage to a supportive "
               "colleague"),
    (re.compile(r"^patronage ended; suppressed resentment released$"),
     lambda m: "Patronage ended: the service lost its patron, and the resentment the patron had "
               "held down came out"),
    (re.compile(r"^steering group now chaired by: (\w+)$"),
     lambda m: CHAIR_TEXT.get(m[1], f"The steering group is now chaired by {m[1]}")),
    (re.compile(r"^a new champion took on patronage$"),
     lambda m: "A champion among the leaders became the service's new patron"),
    (re.compile(r"^(\w+) withdrew its co-funding$"),
     lambda m: f"{_agency_words(m[1])} stopped paying its share of the cost (co-funding)"),
    (re.compile(r"^service closed \((.+)\)$"),
     lambda m: "The service closed "
               + CAUSE_TEXT.get(m[1].replace(" ", "_"), f"({m[1]})")),
    (re.compile(r"^implementation review failed \(adherence ([\d.]+)\)$"),
     lambda m: f"An implementation review failed: adherence to the MST model was "
               f"{float(m[1]):.0%}"),
    (re.compile(r"^a team closed \((.+)\)$"), lambda m: f"A team closed ({m[1]})"),
    (re.compile(r"^new (.+) proposed cutting MST; the patron \((.+)\) stopped it$"),
     lambda m: f"The new {_role_words(m[1])} proposed cutting MST; the patron "
               f"({_role_words(m[2])}) stopped it"),
    (re.compile(r"^new (.+) proposed cutting MST$"),
     lambda m: f"The new {_role_words(m[1])} proposed cutting MST"),
    (re.compile(r"^expanded to (\d+) teams$"), lambda m: f"The service expanded to {m[1]} teams"),
    (re.compile(r"^a therapist post cut in team (\d+)$"),
     lambda m: f"A therapist post was cut in team {m[1]}"),
    (re.compile(r"^(.+) left \(interim\)$"),
     lambda m: f"The interim {_role_words(m[1])} left"),
    (re.compile(r"^(.+) left$"), lambda m: f"The {_role_words(m[1])} left"),
)


def plain_log_text(text: str) -> str:
    """A line of the model's log in plain words, as a sentence (no code words or underscores).

    The model's own wording stays in ``model.log`` (runs and tests read it); only the page
    rewords it. A line no rule knows is shown with its underscores as spaces.
    """
    for pattern, words in _PLAIN_RULES:
        m = pattern.match(text)
        if m:
            return words(m)
    return _sentence(text.replace("_", " "))


def scheduled_text(event: Event) -> str:
    """A scenario file's event in plain words (what the file says will happen)."""
    kind = event.kind
    if kind == "leader_departs":
        who = ROLE_LABELS.get(event.role, event.role.replace("_", " "))
        text = f"the {who[0].lower() + who[1:]} leaves"
        if event.successor_stance is not None:
            text += f"; the successor is {stance_word(event.successor_stance)}"
        return text
    if kind == "supervisor_departs":
        return "the supervisor of team 1 leaves"
    if kind == "budget_cut":
        return f"a {event.fraction:.0%} in-year cut to the discretionary budget"
    if kind == "partner_withdraws":
        return f"{_agency_words(event.agency)} withdraws from the partnership"
    if kind == "co_funding_ends":
        return "the co-funding partner stops paying its share (it stays on the steering group)"
    if kind == "inspection":
        return f"an Ofsted inspection rates children's services {event.rating.replace('_', ' ')}"
    if kind == "competing_service":
        return "a competing local service opens and draws families away"
    return kind.replace("_", " ")


def _grant_text(model: LocalAuthority, month: int) -> str:
    text = EVENT_LABELS["grant_step"]
    rows = model.datacollector.model_vars.get("grant_share") if model.collect_series else None
    if rows is not None and month < len(rows):
        text += f": it now pays {rows[month]:.0%} of the cost"
    return text


def _merged_log(model: LocalAuthority) -> list[tuple[int, str, str]]:
    """The text log and the cause-only events of the cause log, in the order they happened.

    Both logs are in time order. A cause-log event that has a line in the text log
    (``_ANCHORS``) fixes where the two meet; a cause-only event goes after the text log's
    lines of earlier months and of its own month up to the last such meeting point, which is
    exact for everything the two logs share (e.g. a partner replaced in the month's turnover
    comes before the supervisor's departure injected at the end of that month).

    Returns:
        ``(month, source, text)`` with source ``"log"`` (text: the log line) or ``"cause"``
        (text: the cause-log kind).
    """
    log, out, i = model.log, [], 0
    for month, kind in model.cause_log:
        if kind in CAUSE_ONLY_EVENTS:
            while i < len(log) and log[i][0] < month:
                out.append((log[i][0], "log", log[i][1]))
                i += 1
            out.append((month, "cause", kind))
            continue
        anchor = _ANCHORS.get(kind)
        j = i
        while anchor is not None and j < len(log) and log[j][0] <= month:
            if log[j][0] == month and anchor(log[j][1]):
                out.extend((m, "log", t) for m, t in log[i:j + 1])
                i = j + 1
                break
            j += 1
    out.extend((m, "log", t) for m, t in log[i:])
    return out


def log_lines(model: LocalAuthority) -> list[LogLine]:
    """Everything that has happened, one line per event in plain words, oldest first.

    The model's text log (``model.log``) and, for what it does not hold (the grant stepping
    down, austerity, the research trial, a partner's new representative), its cause log
    (``model.cause_log``, worded by ``sim.explanation.EVENT_LABELS``). A scenario file's event
    or one injected from the page is one line, whose words say which it was; the model's next
    line when it only says the same again ("supervisor of team 1 left") is left out.
    """
    injected_at = getattr(model, "injected_at", {})
    scheduled: dict[tuple[int, str], list[Event]] = {}
    for ev in model.spec.events:
        scheduled.setdefault((ev.month, ev.kind), []).append(ev)
    # The index in model.log of each text-log line, to find the injected ones.
    index = iter(range(len(model.log)))
    out: list[LogLine] = []

    def add(month: int, text: str, kind: str) -> None:
        out.append(LogLine(month, model.calendar.label(month), text, kind))

    restate = None
    for month, source, text in _merged_log(model):
        if source == "cause":
            words = _grant_text(model, month) if text == "grant_step" else EVENT_LABELS[text]
            add(month, _sentence(words), "calendar" if text in _CALENDAR_EVENTS else "model")
            continue
        i = next(index)
        if text.startswith("scripted event: "):
            kind = text.removeprefix("scripted event: ")
            if i in injected_at:
                add(month, f"Injected from the dashboard: {injected_at[i]}", "injected")
            else:
                queue = scheduled.get((month, kind), [])
                words = scheduled_text(queue.pop(0)) if queue else kind.replace("_", " ")
                add(month, f"Scheduled in the scenario: {words}", "scheduled")
            restate = _RESTATEMENT.get(kind)
            continue
        if restate is not None and restate.match(text):
            restate = None
            continue
        restate = None
        add(month, plain_log_text(text), "model")
    return out


# --------------------------------------------------------------------------- cues, bars, marks
def pending_changes(model: LocalAuthority, params: dict) -> list[str]:
    """The controls set on the page that the running model does not use yet (until Reset).

    Args:
        model: The running model (a :class:`DashboardModel`).
        params: The page's current control values (keyword arguments of
            :class:`DashboardModel`: ``site``, ``seed`` and the levers).

    Returns:
        The controls' labels ("Scenario", "Seed", "Succession planning"...), in the order of
        the controls; empty when the page and the run agree.
    """
    out = []
    if "site" in params and scenario_label(params["site"]) != getattr(model, "site_label", None):
        out.append("Scenario")
    if "seed" in params and parse_seed(params["seed"])[0] != getattr(model, "seed_value", None):
        out.append("Seed")
    for name in Levers.__dataclass_fields__:
        if name not in params or params[name] is None:
            continue
        value, running = params[name], getattr(model.levers, name)
        if name == "protected_funding_years":
            value = int(value)
        elif name == "co_funding":
            value = round(float(value), 3)
        if value != running:
            out.append(LEVER_LABELS.get(name, name))
    return out


@dataclass(frozen=True)
class Bar:
    """One named bar of the buffers-and-pressure panel.

    Attributes:
        key: A stable name for the page (``leadership_shield``...).
        label: The bar's name.
        value: Its value.
        scale: The value of a full-width bar (values beyond are drawn full width).
        signed: Whether the bar is drawn either side of zero (the margin).
        role: ``"buffer"``, ``"reserve"``, ``"pressure"`` or ``"margin"`` (its colour).
        note: What it means, in a few words.
    """

    key: str
    label: str
    value: float
    scale: float
    signed: bool
    role: str
    note: str


MARGIN_UNIT = "margin units (1 = one team's cost paid in full)"


def buffer_bars(model: LocalAuthority) -> list[Bar]:
    """The three buffers (0-1), the reserve, the pressure getting through and the margin.

    Names as the model's series: ``leadership_shield``, ``partnership_shield``,
    ``system_leadership``, ``reserve``, ``pressure_landing``, ``margin``
    (:mod:`sim.processes.buffers`). Reserve, pressure and margin share one scale, so their
    bars compare.
    """
    s = status(model)
    money_scale = max(0.5, abs(s["reserve"]), abs(s["pressure"]), abs(s["margin"]))
    return [
        Bar("leadership_shield", "Leadership shield", s["leadership_shield"], 1.0, False,
            "buffer", "informed supporters and a patron among the leaders (0-1)"),
        Bar("partnership_shield", "Partnership shield", s["partnership_shield"], 1.0, False,
            "buffer", "the steering group (0-1)"),
        Bar("system_leadership", "System leadership", s["system_leadership"], 1.0, False,
            "buffer", "the supervisor's or programme manager's advocacy (0-1)"),
        Bar("reserve", "Reserve", s["reserve"], money_scale, True, "reserve",
            "local evidence and embeddedness, " + MARGIN_UNIT),
        Bar("pressure_landing", "Pressure getting through", s["pressure"], money_scale, True,
            "pressure", "the pressure the buffers do not keep off, " + MARGIN_UNIT),
        Bar("margin", "Margin", s["margin"], money_scale, True, "margin",
            "reserve minus pressure getting through: at risk below zero"),
    ]


@dataclass(frozen=True)
class Mark:
    """An event marked on the charts' time axis.

    Attributes:
        month: Its month.
        label: A short label for the chart.
        kind: ``"injected"``, ``"scheduled"`` or ``"closed"``.
    """

    month: int
    label: str
    kind: str


SHORT_EVENT = {"leader_departs": "leader leaves", "supervisor_departs": "supervisor leaves",
               "budget_cut": "budget cut", "partner_withdraws": "partner withdraws",
               "co_funding_ends": "co-funding ends", "inspection": "inspection",
               "competing_service": "competing service"}


def timeline_marks(model: LocalAuthority) -> list[Mark]:
    """The events to mark on the charts, in order of month.

    The scenario file's events (past and to come), those injected from the page, and the
    closure.
    """
    marks = [Mark(ev.month, SHORT_EVENT.get(ev.kind, ev.kind.replace("_", " ")), "scheduled")
             for ev in model.spec.events if ev.month <= model.horizon]
    kinds = {i: t.removeprefix("scripted event: ") for i, (_, t) in enumerate(model.log)
             if t.startswith("scripted event: ")}
    for i in getattr(model, "injected_at", {}):
        marks.append(Mark(model.log[i][0], SHORT_EVENT.get(kinds.get(i, ""), "event"),
                          "injected"))
    if model.closed:
        marks.append(Mark(model.closure_month, "closed", "closed"))
    return sorted(marks, key=lambda mk: mk.month)


# --------------------------------------------------------------------------- the ensemble reveal
ENSEMBLE_RUNS = 100  # histories per variant: quick (a few seconds) and said so on the page
ENSEMBLE_SEED = 1  # the root seed of the facilitator guide's `run.py compare ... --seed 1`
AS_FILED = "as the file sets the levers"
WITH_PAGE_LEVERS = "with the levers of this run"


@dataclass(frozen=True)
class RevealRow:
    """The ensemble result of one variant of the current scenario.

    Attributes:
        variant: :data:`AS_FILED` or :data:`WITH_PAGE_LEVERS`.
        levers: The levers in force, in words (:func:`levers_in_force`).
        runs: Number of histories.
        closed: How many closed before the horizon.
        horizon: The scenario's horizon (months).
        alive_5y: Share still running after 5 years (60 months) and its 95% interval, as
            ``(estimate, low, high)``.
        alive_end: The same at the horizon.
        mean_months: Mean months of service up to the horizon (restricted mean) and its 95%
            interval.
    """

    variant: str
    levers: tuple[str, ...]
    runs: int
    closed: int
    horizon: int
    alive_5y: tuple[float, float, float]
    alive_end: tuple[float, float, float]
    mean_months: tuple[float, float, float]


def ensemble_variants(model: LocalAuthority) -> list[tuple[str, object]]:
    """The scenarios to reveal: the file as written, and with the run's levers if they differ.

    The pair has common random numbers (history r of each uses the same seed). Events
    injected from the page are not part of them: the reveal is about the exercise.
    """
    spec = getattr(model, "ensemble_spec", model.spec)  # without the stepped run's point set
    file_levers = getattr(model, "file_levers", spec.levers)
    filed = replace(spec, levers=file_levers)
    if file_levers == spec.levers:
        return [(AS_FILED, filed)]
    return [(AS_FILED, filed), (WITH_PAGE_LEVERS, spec)]


_REVEALS: dict[tuple, list[RevealRow]] = {}
_REVEAL_LOCK = threading.Lock()


def cached_reveal(model: LocalAuthority, runs: int = ENSEMBLE_RUNS,
                  seed: int = ENSEMBLE_SEED) -> list[RevealRow] | None:
    """The reveal of :func:`ensemble_reveal` if this process has already run it, else None."""
    key = _reveal_key(ensemble_variants(model), runs, seed)
    with _REVEAL_LOCK:
        return _REVEALS.get(key)


def _reveal_key(variants, runs: int, seed: int) -> tuple:
    return (tuple((label, sc.source, sc.levers, sc.events, sc.site) for label, sc in variants),
            runs, seed)


def ensemble_reveal(model: LocalAuthority, runs: int = ENSEMBLE_RUNS,
                    seed: int = ENSEMBLE_SEED) -> list[RevealRow]:
    """Run (or take from this process's cache) a small ensemble of the current exercise.

    The same runs as ``python run.py compare FILE --replicates RUNS --seed SEED`` for the
    file as written (the tasks of :func:`experiments.runner.tasks.make_tasks`, run serially in
    this process), and with the run's levers when they differ. Nothing is written to disk.

    Args:
        model: The running model: its scenario file, and its levers.
        runs: Histories per variant.
        seed: The ensemble's root seed.

    Returns:
        One :class:`RevealRow` per variant of :func:`ensemble_variants`.
    """
    from experiments.analysis.survival import survival_table
    from experiments.runner.execute import run_ensemble
    from experiments.runner.tasks import make_tasks

    variants = ensemble_variants(model)
    key = _reveal_key(variants, runs, seed)
    with _REVEAL_LOCK:
        if key in _REVEALS:
            return _REVEALS[key]
    result = run_ensemble(make_tasks(variants, runs, seed, dashboard_plans()[1]), workers=1,
                          progress=False)
    horizon = int(model.horizon)
    five = min(60, horizon)
    table = survival_table(result.runs, times=sorted({five, horizon}))
    rows = []
    for label, scenario in variants:
        r = table.loc[label]
        rows.append(RevealRow(
            label, tuple(levers_in_force(scenario.levers)), int(r["n"]), int(r["closed"]),
            horizon,
            (float(r[f"p_alive_{five}"]), float(r[f"p_alive_{five}_low"]),
             float(r[f"p_alive_{five}_high"])),
            (float(r[f"p_alive_{horizon}"]), float(r[f"p_alive_{horizon}_low"]),
             float(r[f"p_alive_{horizon}_high"])),
            (float(r["rmst"]), float(r["rmst_low"]), float(r["rmst_high"]))))
    with _REVEAL_LOCK:
        _REVEALS[key] = rows
    return rows


def dashboard_plans():
    """The dashboard's parameter plans: ``(point, posterior)`` (MODEL §11), resolved once.

    The stepped run uses the point set, the "what many runs say" ensemble integrates over the
    posterior sample (both the registry defaults when no sample exists).
    """
    global _PLANS
    if _PLANS is None:
        from experiments.runner.posterior import resolve_plan

        notes: list[str] = []
        _PLANS = (resolve_plan(default="point", warn=notes.append),
                  resolve_plan(default="posterior", warn=notes.append))
    return _PLANS


_PLANS = None


def point_scenario(scenario):
    """The scenario with the point parameter set under its own overrides (stepped runs)."""
    plan = dashboard_plans()[0]
    return plan.apply(scenario, plan.point_set) if plan.mode == "point" else scenario


def reveal_parameters_line() -> str:
    """How the ensemble's parameter sets were chosen, in words (under the reveal)."""
    return "Parameters: " + dashboard_plans()[1].label(ENSEMBLE_RUNS) + "."


def reveal_lines(rows: list[RevealRow]) -> list[str]:
    """The reveal in plain words, one line per variant.

    Over the posterior sample the brackets are plausible ranges (parameters and chance).
    """
    out = []
    word = ("95% plausible range" if dashboard_plans()[1].mode == "posterior"
            else "95% interval")
    for r in rows:
        lv = ", ".join(r.levers) if r.levers else "no levers"
        five = "5 years" if r.horizon >= 60 else f"{r.horizon} months"
        a, lo, hi = r.alive_5y
        text = (f"{_sentence(r.variant)} ({lv}): still running after {five} in "
                f"{round(a * r.runs)} of {r.runs} histories, {a:.0%} ({word} "
                f"{lo:.0%}-{hi:.0%})")
        if r.horizon > 60:
            e, elo, ehi = r.alive_end
            text += (f"; after {r.horizon // 12} years {e:.0%} ({elo:.0%}-{ehi:.0%})")
        m, mlo, mhi = r.mean_months
        text += (f"; on average {m:.0f} of {r.horizon} months of service "
                 f"({mlo:.0f}-{mhi:.0f})")
        out.append(text)
    return out


# --------------------------------------------------------------------------- launching
def viz_available() -> bool:
    """Whether the optional ``viz`` extra (solara, via mesa[viz]) is installed."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("solara", "altair"))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` at the time of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def server_environment(scenario: str | Path, seed: int) -> dict[str, str]:
    """Environment settings for the dashboard server: the choices, and no calls home.

    Solara's telemetry is switched off (its version check is, by a command-line flag), and so
    is its "This website runs on Solara" banner, which would cover the page's log. The
    page's scripts, styles and fonts are served from the ``solara-assets`` package that the
    ``viz`` extra installs; the address solara would fetch a missing asset from is pointed at
    a closed local port, so the server makes no request beyond this machine.
    """
    return {ENV_SCENARIO: str(scenario), ENV_SEED: str(seed),
            "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False", "SOLARA_ASSETS_PROXY": "True",
            "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/", "MPLBACKEND": "Agg",
            "SOLARA_THEME_SHOW_BANNER": "False"}


def guard_hosts(app: str, host: str) -> None:
    """Make solara's ASGI app answer only local ``Host`` headers (and ``host``).

    ``solara run`` serves ``solara.server.starlette:app``; it is imported here first (with
    the ``SOLARA_APP`` the command sets anyway) and given :class:`dashboard.hosts.LocalHostsOnly`
    as its outermost middleware, through starlette's public ``add_middleware``.

    Args:
        app: The dashboard's app script, as passed to ``solara run``.
        host: The listen address, accepted as a host name too.

    """
    os.environ["SOLARA_APP"] = app
    from solara.server.starlette import app as asgi_app

    asgi_app.add_middleware(LocalHostsOnly, hosts=allowed_hosts([host]))


def launch(scenario: str | Path | None, seed: int = 1, port: int = 8765,
           open_browser: bool = False, host: str = "127.0.0.1") -> int:
    """Serve the dashboard on localhost until interrupted.

    Only requests whose ``Host`` header names ``localhost``, ``127.0.0.1``, ``[::1]`` (any
    port) or ``host`` are answered; others get 400 (:mod:`dashboard.hosts`, against DNS
    rebinding).

    Args:
        scenario: A scenario label or TOML path (validated before the server starts).
        seed: The starting seed.
        port: TCP port (0 picks a free one).
        open_browser: Open the page in the default browser once the server is up.
        host: The address to listen on (default 127.0.0.1, this computer only).

    Returns:
        The exit status: 0 after a clean stop, 2 if the viz extra is missing.
    """
    if not viz_available():
        print(f"error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    scenario = scenario or DEFAULT_SCENARIO
    path = resolve_scenario(scenario)
    load_scenario(path)  # a bad file gets its one-line error before any server starts
    label = scenario_label(scenario)
    os.environ.update(server_environment(path.resolve(), seed))
    return serve_solara("dashboard_app.py", host, port, open_browser,
                        lambda shown, port: f"Dashboard for {label} at http://{shown}:{port}  "
                                            f"(Ctrl-C to stop)")


def serve_solara(app_file: str, host: str, port: int, open_browser: bool, banner) -> int:
    """Serve one of this package's Solara pages until Ctrl-C (the dashboard, the app).

    Args:
        app_file: The page module's file name in ``dashboard/``.
        host: The address to listen on (requests must name it or localhost).
        port: TCP port (0 picks a free one).
        open_browser: Open the page once the server is up.
        banner: ``banner(shown_host, port)`` -> the line printed when the server starts.

    Returns:
        0 after a clean stop.
    """
    if port == 0:
        port = free_port()
    import warnings

    from solara.__main__ import cli

    # Served on 127.0.0.1 over plain http, solara warns on every new session that cross-site
    # cookies need https; the page is never embedded in another site, so the warning is noise.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")

    app = str(Path(__file__).with_name(app_file))
    guard_hosts(app, host)
    print(banner(normalise_host(host), port), flush=True)
    args = ["run", app, "--host", host, "--port", str(port), "--production",
            "--no-check-version", "--log-level", "warning",
            "--open" if open_browser else "--no-open"]
    try:
        cli.main(args=args, prog_name="solara", standalone_mode=False)
    except KeyboardInterrupt:
        pass
    return 0
