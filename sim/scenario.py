"""Scenario files: schema, the fixed rubric, loading and validation.

A scenario describes one Local Authority through observable descriptors and its initial people
(MODEL.md §9), plus levers, optional scripted events and optional parameter overrides for
experiments. Loading validates everything and raises :class:`ScenarioError` with one message
naming the file, the key and what is allowed.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sim.parameters import PARAMETER_INDEX

# --- the fixed rubric (MODEL.md §9), agreed before calibration and never tuned ----------------
LEVELS = {"none": 0.0, "very low": 0.1, "low": 0.3, "medium": 0.5, "high": 0.7, "very high": 0.9}
STANCES = {"hostile": -0.8, "opposed": -0.5, "sceptical": -0.2, "neutral": 0.0,
           "supportive": 0.4, "champion": 0.8}
TURNOVER = {"stable": 0.6, "average": 1.0, "high": 1.5, "very high": 2.0}

OFSTED = ("outstanding", "good", "adequate", "inadequate")
HOSTS = ("local_authority", "nhs_trust", "voluntary_sector")
FRAMINGS = ("balanced", "oversold")
ROLES = ("chief_executive", "director_childrens_services", "assistant_director",
         "head_of_service", "partner_director")
AGENCIES = ("camhs", "mental_health_trust", "yos", "education", "police", "finance",
            "voluntary_host", "health")
STYLES = ("collaborative", "balanced", "directive")
EVENT_KINDS = ("leader_departs", "supervisor_departs", "budget_cut", "partner_withdraws",
               "co_funding_ends", "inspection", "competing_service")


class ScenarioError(ValueError):
    """A scenario file or value is invalid. The message names the file, key and what is allowed."""

    def __init__(self, source: str, key: str, message: str):
        self.source, self.key, self.detail = source, key, message
        text = f"{source}: {key}: {message}" if key else f"{source}: {message}"
        # One line whatever the file holds: escape newlines etc. (e.g. in a quoted TOML key).
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in text))

    def __reduce__(self):  # picklable, so it survives a worker process
        return type(self), (self.source, self.key, self.detail)


@dataclass(frozen=True, slots=True)
class Site:
    """Observable descriptors of a Local Authority (MODEL.md §3.1)."""

    name: str = "Neutral authority"
    population: int = 250_000
    looked_after_children: int = 500
    deprived_share: float = 0.15
    ofsted_rating: str = "adequate"
    host: str = "local_authority"
    collaboration_history: float = 0.5
    learning_climate: float = 0.5
    regional_network: float = 0.5
    values_fit: float = 0.5
    launch_framing: str = "balanced"
    leadership_turnover_history: float = 1.0
    research_trial: bool = False


@dataclass(frozen=True, slots=True)
class LeaderSpec:
    """A senior leader in post at go-live."""

    role: str
    stance: float = 0.0
    knowledge: float = 0.5
    patron: bool = False
    chairs_steering_group: bool = False
    name: str = ""


@dataclass(frozen=True, slots=True)
class PartnerSpec:
    """A partner agency's representative on the steering group at go-live."""

    agency: str
    commitment: float = 0.5
    seniority: float = 0.5


@dataclass(frozen=True, slots=True)
class SupervisorSpec:
    """The first supervisor's profile."""

    clinical_skill: float = 0.5
    system_leadership: float = 0.5
    prior_mst_experience: bool = False
    style: str = "balanced"


@dataclass(frozen=True, slots=True)
class Levers:
    """What-if settings a commissioner can switch (MODEL.md §6)."""

    succession_planning: bool = False
    programme_manager: str = "auto"  # "auto" (on at two or more teams), "on", "off"
    local_outcome_feedback: bool = False
    steering_group_induction: bool = False
    champion_cultivation: bool = False
    regional_network: bool = False
    referral_promotion: bool = False
    learning_climate: bool = False
    balanced_launch: bool = False
    protected_funding_years: int = 0
    co_funding: float = 0.0


@dataclass(frozen=True, slots=True)
class Event:
    """A scripted event at a given month (MODEL.md §7)."""

    month: int
    kind: str
    role: str = ""
    successor_stance: float | None = None
    fraction: float = 0.0
    agency: str = ""
    rating: str = ""
    strength: float = 0.5


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario: everything a run needs besides its seed."""

    site: Site = field(default_factory=Site)
    leaders: tuple[LeaderSpec, ...] = ()
    partners: tuple[PartnerSpec, ...] = ()
    supervisor: SupervisorSpec = field(default_factory=SupervisorSpec)
    levers: Levers = field(default_factory=Levers)
    events: tuple[Event, ...] = ()
    parameters: tuple[tuple[str, float], ...] = ()
    start_year: int = 2008
    start_month: int = 4
    horizon_months: int = 120
    source: str = "<scenario>"
    text: str = ""

    @property
    def name(self) -> str:
        """The authority's readable name."""
        return self.site.name

    @property
    def digest(self) -> str:
        """SHA-256 of the scenario file's text (or of its repr when built in code)."""
        return hashlib.sha256((self.text or repr(self)).encode()).hexdigest()

    def with_levers(self, **levers: Any) -> Scenario:
        """Return a copy with some levers changed (values validated)."""
        checked = {k: _check_lever(self.source, k, v) for k, v in levers.items()}
        return replace(self, levers=replace(self.levers, **checked))

    def with_parameters(self, **overrides: float) -> Scenario:
        """Return a copy with some mechanism parameters overridden (values validated)."""
        merged = dict(self.parameters)
        for k, v in overrides.items():
            merged[k] = _check_parameter(self.source, f"parameters.{k}", k, v)
        return replace(self, parameters=tuple(sorted(merged.items())))


# --- value checkers --------------------------------------------------------------------------
def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _fmt_choices(choices) -> str:
    return ", ".join(f'"{c}"' for c in choices)


def _word_or_number(src, key, v, table, lo, hi, what):
    if isinstance(v, str):
        w = v.strip().lower().replace("_", " ")
        if w in table:
            return table[w]
        raise ScenarioError(src, key, f"{v!r} is not a {what}; use one of {_fmt_choices(table)} "
                                      f"or a number {lo}..{hi}")
    if _is_number(v):
        if v != v or not lo <= v <= hi:
            raise ScenarioError(src, key, f"{v} is out of range; allowed {lo}..{hi} "
                                          f"or one of {_fmt_choices(table)}")
        return float(v)
    raise ScenarioError(src, key, f"expected a {what} word or a number {lo}..{hi}, "
                                  f"got {type(v).__name__}")


def _level(src, key, v):
    return _word_or_number(src, key, v, LEVELS, 0.0, 1.0, "level")


def _stance(src, key, v):
    return _word_or_number(src, key, v, STANCES, -1.0, 1.0, "stance")


def _turnover(src, key, v):
    return _word_or_number(src, key, v, TURNOVER, 0.3, 3.0, "turnover history")


def _choice(src, key, v, choices):
    if not isinstance(v, str) or v not in choices:
        raise ScenarioError(src, key, f"{v!r} is not allowed; use one of {_fmt_choices(choices)}")
    return v


def _bool(src, key, v):
    if not isinstance(v, bool):
        raise ScenarioError(src, key, f"expected true or false, got {v!r}")
    return v


def _int(src, key, v, lo, hi):
    if not isinstance(v, int) or isinstance(v, bool):
        raise ScenarioError(src, key, f"expected a whole number {lo}..{hi}, got {v!r}")
    if not lo <= v <= hi:
        raise ScenarioError(src, key, f"{v} is out of range; allowed {lo}..{hi}")
    return v


def _float(src, key, v, lo, hi):
    if not _is_number(v):
        raise ScenarioError(src, key, f"expected a number {lo}..{hi}, got {v!r}")
    if v != v or not lo <= v <= hi:
        raise ScenarioError(src, key, f"{v} is out of range; allowed {lo}..{hi}")
    return float(v)


def _str(src, key, v):
    if not isinstance(v, str) or not v.strip():
        raise ScenarioError(src, key, f"expected a non-empty text, got {v!r}")
    return v


def _table(src, key, v) -> dict:
    if not isinstance(v, dict):
        raise ScenarioError(src, key, f"expected a table, got {type(v).__name__}")
    return v


def _unknown(src, prefix, data: dict, allowed):
    for k in data:
        if k not in allowed:
            raise ScenarioError(src, f"{prefix}{k}", f"unknown key; allowed keys are "
                                                     f"{', '.join(sorted(allowed))}")


def _required(src, prefix, data: dict, key):
    if key not in data:
        raise ScenarioError(src, f"{prefix}{key}", "missing required key")
    return data[key]


def _check_lever(src, name, v):
    key = f"levers.{name}"
    if name == "programme_manager":
        if isinstance(v, bool):
            return "on" if v else "off"
        return _choice(src, key, v, ("auto", "on", "off"))
    if name == "protected_funding_years":
        return _int(src, key, v, 0, 10)
    if name == "co_funding":
        return _float(src, key, v, 0.0, 0.6)
    if name not in Levers.__dataclass_fields__:
        raise ScenarioError(src, key, f"unknown lever; allowed levers are "
                                      f"{', '.join(sorted(Levers.__dataclass_fields__))}")
    return _bool(src, key, v)


def _check_parameter(src, key, name, v):
    p = PARAMETER_INDEX.get(name)
    if p is None:
        raise ScenarioError(src, key, "unknown mechanism parameter; see docs/ODD.md §7 for names")
    if p.integer:
        return _int(src, key, v, int(p.low), int(p.high))
    return _float(src, key, v, p.low, p.high)


# --- section parsers ---------------------------------------------------------------------------
_SITE_SPEC = {
    "name": _str,
    "population": lambda s, k, v: _int(s, k, v, 10_000, 10_000_000),
    "looked_after_children": lambda s, k, v: _int(s, k, v, 20, 20_000),
    "deprived_share": lambda s, k, v: _float(s, k, v, 0.0, 1.0),
    "ofsted_rating": lambda s, k, v: _choice(s, k, v, OFSTED),
    "host": lambda s, k, v: _choice(s, k, v, HOSTS),
    "collaboration_history": _level,
    "learning_climate": _level,
    "regional_network": _level,
    "values_fit": _level,
    "launch_framing": lambda s, k, v: _choice(s, k, v, FRAMINGS),
    "leadership_turnover_history": _turnover,
    "research_trial": _bool,
}

_LEADER_SPEC = {
    "role": lambda s, k, v: _choice(s, k, v, ROLES),
    "stance": _stance,
    "knowledge": _level,
    "patron": _bool,
    "chairs_steering_group": _bool,
    "name": _str,
}

_PARTNER_SPEC = {
    "agency": lambda s, k, v: _choice(s, k, v, AGENCIES),
    "commitment": _level,
    "seniority": _level,
}

_SUPERVISOR_SPEC = {
    "clinical_skill": _level,
    "system_leadership": _level,
    "prior_mst_experience": _bool,
    "style": lambda s, k, v: _choice(s, k, v, STYLES),
}

_EVENT_SPEC = {
    "month": None,  # checked against the horizon
    "kind": lambda s, k, v: _choice(s, k, v, EVENT_KINDS),
    "role": lambda s, k, v: _choice(s, k, v, ROLES),
    "successor_stance": _stance,
    "fraction": lambda s, k, v: _float(s, k, v, 0.0, 0.9),
    "agency": lambda s, k, v: _choice(s, k, v, AGENCIES),
    "rating": lambda s, k, v: _choice(s, k, v, OFSTED),
    "strength": lambda s, k, v: _float(s, k, v, 0.0, 1.0),
}
_EVENT_NEEDS = {"leader_departs": ("role",), "budget_cut": ("fraction",),
                "partner_withdraws": ("agency",), "inspection": ("rating",)}


def _parse_fields(src, prefix, data, spec, required=()):
    data = _table(src, prefix.rstrip(".") or "(top level)", data)
    _unknown(src, prefix, data, spec)
    for key in required:
        _required(src, prefix, data, key)
    return {k: spec[k](src, f"{prefix}{k}", v) for k, v in data.items() if spec[k] is not None}


def _parse_list(src, name, value, spec, required, cls, limit):
    if not isinstance(value, list):
        raise ScenarioError(src, name, f"expected an array of tables ([[{name}]]), "
                                       f"got {type(value).__name__}")
    if len(value) > limit:
        raise ScenarioError(src, name, f"at most {limit} entries are allowed, got {len(value)}")
    return tuple(cls(**_parse_fields(src, f"{name}[{i}].", item, spec, required))
                 for i, item in enumerate(value))


def _parse_start(src, v) -> tuple[int, int]:
    key = "run.start"
    if isinstance(v, str):
        parts = v.split("-")
        if len(parts) == 2 and all(p.isascii() and p.isdigit() for p in parts):
            y, m = int(parts[0]), int(parts[1])
            if 1990 <= y <= 2100 and 1 <= m <= 12:
                return y, m
    raise ScenarioError(src, key, f"{v!r} is not a month; use \"YYYY-MM\" between 1990 and 2100")


_TOP = ("site", "run", "leaders", "partners", "supervisor", "levers", "events", "parameters")


def parse_scenario(data: dict, source: str = "<scenario>", text: str = "") -> Scenario:
    """Validate a scenario given as a dictionary (the parsed TOML).

    Args:
        data: The parsed TOML document.
        source: The file name used in error messages.
        text: The raw file text, kept for the manifest's hash.

    Returns:
        The validated :class:`Scenario`.

    Raises:
        ScenarioError: On any unknown key, wrong type or out-of-range value.
    """
    src = source
    _unknown(src, "", data, _TOP)
    site = Site(**_parse_fields(src, "site.", _required(src, "", data, "site"), _SITE_SPEC,
                                required=("name", "population", "looked_after_children")))
    run_data = _table(src, "run", data.get("run", {}))
    run = _parse_fields(src, "run.", run_data,
                        {"start": None, "horizon_months": lambda s, k, v: _int(s, k, v, 12, 360)})
    start_year, start_month = (_parse_start(src, run_data["start"]) if "start" in run_data
                               else (2008, 4))
    horizon = run.get("horizon_months", 120)

    leaders = _parse_list(src, "leaders", data.get("leaders", []), _LEADER_SPEC, ("role",),
                          LeaderSpec, 12)
    partners = _parse_list(src, "partners", data.get("partners", []), _PARTNER_SPEC, ("agency",),
                           PartnerSpec, 12)
    if sum(ld.patron for ld in leaders) > 1:
        raise ScenarioError(src, "leaders", "at most one leader can be the patron")
    if sum(ld.chairs_steering_group for ld in leaders) > 1:
        raise ScenarioError(src, "leaders", "at most one leader can chair the steering group")
    supervisor = SupervisorSpec(**_parse_fields(src, "supervisor.", data.get("supervisor", {}),
                                                _SUPERVISOR_SPEC))

    lever_data = _table(src, "levers", data.get("levers", {}))
    levers = Levers(**{k: _check_lever(src, k, v) for k, v in lever_data.items()})

    events = []
    ev_list = data.get("events", [])
    if not isinstance(ev_list, list):
        raise ScenarioError(src, "events", "expected an array of tables ([[events]])")
    for i, ev in enumerate(ev_list):
        prefix = f"events[{i}]."
        parsed = _parse_fields(src, prefix, ev, _EVENT_SPEC, required=("month", "kind"))
        parsed["month"] = _int(src, f"{prefix}month", ev["month"], 1, horizon - 1)
        for need in _EVENT_NEEDS.get(parsed["kind"], ()):
            _required(src, prefix, ev, need)
        events.append(Event(**parsed))

    params = _table(src, "parameters", data.get("parameters", {}))
    overrides = tuple(sorted((k, _check_parameter(src, f"parameters.{k}", k, v))
                             for k, v in params.items()))

    return Scenario(site=site, leaders=leaders, partners=partners, supervisor=supervisor,
                    levers=levers, events=tuple(sorted(events, key=lambda e: e.month)),
                    parameters=overrides, start_year=start_year, start_month=start_month,
                    horizon_months=horizon, source=source, text=text)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file.

    Args:
        path: Path of the TOML file.

    Returns:
        The validated :class:`Scenario`.

    Raises:
        ScenarioError: If the file is missing, unreadable, malformed TOML or invalid.
    """
    path = Path(path)
    src = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(src, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(src, "", f"cannot read file ({exc.__class__.__name__})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(src, "", f"malformed TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(src, "", "malformed TOML: arrays or tables nested too deeply") from None
    return parse_scenario(data, src, text)
