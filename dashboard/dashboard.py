"""The seminar dashboard's model side (issue 6).

Which scenarios it offers, the model it runs, injecting events at the current month, and
plain-data views of the model for the page.

Nothing here imports solara: the page lives in :mod:`dashboard.dashboard_app` (needs the
optional ``viz`` extra) and :func:`launch` starts it. Everything the page shows comes from the
functions below, so they can be tested without a browser.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from dashboard.hosts import LocalHostsOnly, allowed_hosts, normalise_host
from experiments.reports.causes import NO_DECISION, explanation_lines
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
        injected: Events injected from the page, as ``(month, description)``.
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
        super().__init__(scenario.with_levers(**given), seed_int)
        self.site_label = scenario_label(site)
        self.seed_value = seed_int
        self.file_levers = file_levers
        self.injected: list[tuple[int, str]] = []
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
    model.log.append((model.month, f"injected from the dashboard: {text}"))
    if event.kind == "leader_departs" and leader is not None and \
            next(ld for ld in model.leaders if ld.role == leader.role) is not leader:
        model.apply_event(LeaderDeparts(event.role, event.successor_stance, leader=leader))
    else:
        model.apply_event(event)
    model.update_measures()
    model.rerecord_month()
    if hasattr(model, "injected"):
        model.injected.append((model.month, text))
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

    Solara's telemetry is switched off (its version check is, by a command-line flag). The
    page's scripts, styles and fonts are served from the ``solara-assets`` package that the
    ``viz`` extra installs; the address solara would fetch a missing asset from is pointed at
    a closed local port, so the server makes no request beyond this machine.
    """
    return {ENV_SCENARIO: str(scenario), ENV_SEED: str(seed),
            "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False", "SOLARA_ASSETS_PROXY": "True",
            "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/", "MPLBACKEND": "Agg"}


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
    if port == 0:
        port = free_port()
    import warnings

    from solara.__main__ import cli

    # Served on 127.0.0.1 over plain http, solara warns on every new session that cross-site
    # cookies need https; the page is never embedded in another site, so the warning is noise.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")

    app = str(Path(__file__).with_name("dashboard_app.py"))
    guard_hosts(app, host)
    shown = normalise_host(host)
    print(f"Dashboard for {label} at http://{shown}:{port}  (Ctrl-C to stop)", flush=True)
    args = ["run", app, "--host", host, "--port", str(port), "--production",
            "--no-check-version", "--log-level", "warning",
            "--open" if open_browser else "--no-open"]
    try:
        cli.main(args=args, prog_name="solara", standalone_mode=False)
    except KeyboardInterrupt:
        pass
    return 0
