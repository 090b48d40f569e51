"""Scenario files: the schema, the fixed rubric, loading and validation.

A scenario describes one Local Authority through observable descriptors and its initial people
(docs/ODD.md §5, §9), plus levers, optional scripted events and optional parameter overrides for
experiments. Loading validates everything and raises :class:`ScenarioError` with one line naming
the file, the key and what is allowed.

The schema is declarative: one pydantic v2 model per table and one per event kind (a
discriminated union on ``kind``), extra keys forbidden. We chose pydantic over msgspec for its
validators (rubric words become numbers before validation), its error locations (every message
names the key) and its JSON Schema generation (``docs/scenario.schema.json``, written by
``scripts/scenario_schema.py``, lets an editor check a file as it is typed). The validated input
becomes the frozen dataclasses below (:class:`Scenario`, :class:`Site`, ...), which the model reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from sim.parameters import PARAMETERS

# --- the fixed rubric (docs/ODD.md §5.2), agreed before calibration and never tuned -----------
LEVELS = {"none": 0.0, "very low": 0.1, "low": 0.3, "medium": 0.5, "high": 0.7, "very high": 0.9}
STANCES = {"hostile": -0.8, "opposed": -0.5, "sceptical": -0.2, "neutral": 0.0,
           "supportive": 0.4, "champion": 0.8}
TURNOVER = {"stable": 0.6, "average": 1.0, "high": 1.5, "very high": 2.0}

#: The model's internal spelling of the four Ofsted grades, best first ("adequate" is the
#: pre-2012 name of "requires improvement"; outputs keep it).
OFSTED = ("outstanding", "good", "adequate", "inadequate")
#: Words a scenario may use for an Ofsted grade, and the internal grade each means.
OFSTED_WORDS = {"outstanding": "outstanding", "good": "good",
                "requires improvement": "adequate", "requires_improvement": "adequate",
                "adequate": "adequate", "inadequate": "inadequate"}
HOSTS = ("local_authority", "nhs_trust", "voluntary_sector")
FRAMINGS = ("balanced", "oversold")
ROLES = ("chief_executive", "director_childrens_services", "assistant_director",
         "head_of_service", "partner_director")
#: Roles an authority has one holder of (two heads of service are fine, two chief executives not).
SINGLE_HOLDER_ROLES = ("chief_executive", "director_childrens_services")
AGENCIES = ("camhs", "mental_health_trust", "yos", "education", "police", "finance",
            "voluntary_host", "health")
STYLES = ("collaborative", "balanced", "directive")
EVENT_KINDS = ("leader_departs", "supervisor_departs", "budget_cut", "partner_withdraws",
               "co_funding_ends", "inspection", "competing_service")

# --- limits on what a file may hold ----------------------------------------------------------
MAX_FILE_BYTES = 256 * 1024
MAX_NAME_CHARS = 120
MAX_LEADERS = 12
MAX_PARTNERS = 12
MAX_EVENTS = 500
_SHOW_CHARS = 60  # longest echo of a value or key in an error message
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


class ScenarioError(ValueError):
    """A scenario file or value is invalid. The message names the file, key and what is allowed."""

    def __init__(self, source: str, key: str, message: str):
        self.source, self.key, self.detail = source, key, message
        text = f"{source}: {key}: {message}" if key else f"{source}: {message}"
        # One line whatever the file holds: escape newlines, terminal escapes etc.
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in text))

    def __reduce__(self):  # picklable, so it survives a worker process
        return type(self), (self.source, self.key, self.detail)


# --- the records the model reads ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Site:
    """Observable descriptors of a Local Authority (docs/ODD.md §2.1, §9)."""

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
    """What-if settings a commissioner can switch (docs/ODD.md §7.18)."""

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
    """A scripted event at a given month (docs/ODD.md §7.19)."""

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
        checked = _validate(LeversTable, levers, self.source, "levers")
        return replace(self, levers=replace(self.levers, **checked.model_dump(exclude_unset=True)))

    def with_parameters(self, **overrides: float) -> Scenario:
        """Return a copy with some mechanism parameters overridden (values validated)."""
        checked = _validate(ParametersTable, overrides, self.source, "parameters")
        merged = dict(self.parameters) | checked.model_dump(exclude_unset=True)
        return replace(self, parameters=tuple(sorted(merged.items())))


# --- value types: a check giving our one-line message, and the JSON Schema it stands for -------
def _fail(detail: str, sub: str | None = None, key: str | None = None):
    """Raise a validation error whose text is ours (``sub``: a key below the current place)."""
    ctx: dict[str, Any] = {"detail": detail}
    if sub is not None:
        ctx["sub"] = sub
    if key is not None:
        ctx["key"] = key
    raise PydanticCustomError("scenario", "{detail}", ctx)


def _show(v: Any) -> str:
    """``repr`` of a value, cut short: an echo never floods or drives the terminal."""
    text = repr(v)
    return text if len(text) <= _SHOW_CHARS else text[:_SHOW_CHARS - 3] + "..."


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _fmt_choices(choices) -> str:
    return ", ".join(f'"{c}"' for c in choices)


def _typed(py_type, check, schema: dict):
    """An annotated type: ``check`` validates (and converts) the raw TOML value."""
    return Annotated[py_type, BeforeValidator(check), WithJsonSchema(schema)]


def _word_or_number(table: dict, lo: float, hi: float, what: str):
    def check(v):
        if isinstance(v, str):
            w = v.strip().lower().replace("_", " ")
            if w in table:
                return table[w]
            _fail(f"{_show(v)} is not a {what}; use one of {_fmt_choices(table)} "
                  f"or a number {lo}..{hi}")
        if _is_number(v):
            if v != v or not lo <= v <= hi:
                _fail(f"{v} is out of range; allowed {lo}..{hi} or one of {_fmt_choices(table)}")
            return float(v)
        _fail(f"expected a {what} word or a number {lo}..{hi}, got {type(v).__name__}")

    return _typed(float, check, {"anyOf": [
        {"type": "string", "enum": list(table)},
        {"type": "number", "minimum": lo, "maximum": hi}],
        "description": f"a {what} word (any case, _ for a space) or a number {lo} to {hi}"})


def _choice(choices, py_type=str, words: dict | None = None, shown: str | None = None):
    """One of ``choices``; with ``words``, the accepted words and what each stands for."""
    words = words or {c: c for c in choices}
    shown = shown or _fmt_choices(choices)

    def check(v):
        if not isinstance(v, str) or v not in words:
            _fail(f"{_show(v)} is not allowed; use one of {shown}")
        return words[v]

    return _typed(py_type, check, {"type": "string", "enum": list(words)})


def _whole(lo: int, hi: int):
    def check(v):
        if not isinstance(v, int) or isinstance(v, bool):
            _fail(f"expected a whole number {lo}..{hi}, got {_show(v)}")
        if not lo <= v <= hi:
            _fail(f"{v} is out of range; allowed {lo}..{hi}")
        return v

    return _typed(int, check, {"type": "integer", "minimum": lo, "maximum": hi})


def _number(lo: float, hi: float):
    def check(v):
        if not _is_number(v):
            _fail(f"expected a number {lo}..{hi}, got {_show(v)}")
        if v != v or not lo <= v <= hi:
            _fail(f"{v} is out of range; allowed {lo}..{hi}")
        return float(v)

    return _typed(float, check, {"type": "number", "minimum": lo, "maximum": hi})


def _check_flag(v):
    if not isinstance(v, bool):
        _fail(f"expected true or false, got {_show(v)}")
    return v


def _check_text(v):
    if not isinstance(v, str) or not v.strip():
        _fail(f"expected a non-empty text, got {_show(v)}")
    if len(v) > MAX_NAME_CHARS:
        _fail(f"{len(v)} characters long; at most {MAX_NAME_CHARS} allowed")
    for i, c in enumerate(v):
        if (not c.isprintable() and c != " ") or c in _BIDI:
            _fail(f"control characters and terminal escape codes are not allowed "
                  f"(found {c!r} at character {i + 1})")
    return v


def _check_month(v, info: ValidationInfo):
    last = (info.context or {}).get("horizon", 360) - 1
    if not isinstance(v, int) or isinstance(v, bool):
        _fail(f"expected a whole number 1..{last}, got {_show(v)}")
    if not 1 <= v <= last:
        _fail(f"{v} is out of range; allowed 1..{last}")
    return v


def _check_start(v):
    if isinstance(v, str):
        parts = v.split("-")
        if len(parts) == 2 and all(p.isascii() and p.isdigit() for p in parts):
            y, m = int(parts[0]), int(parts[1])
            if 1990 <= y <= 2100 and 1 <= m <= 12:
                return f"{y:04d}-{m:02d}"
    _fail(f"{_show(v)} is not a month; use \"YYYY-MM\" between 1990 and 2100")


def _check_programme_manager(v):
    if isinstance(v, bool):
        return "on" if v else "off"
    if not isinstance(v, str) or v not in ("auto", "on", "off"):
        _fail(f"{_show(v)} is not allowed; use one of {_fmt_choices(('auto', 'on', 'off'))}")
    return v


Level = _word_or_number(LEVELS, 0.0, 1.0, "level")
Stance = _word_or_number(STANCES, -1.0, 1.0, "stance")
Turnover = _word_or_number(TURNOVER, 0.3, 3.0, "turnover history")
Flag = _typed(bool, _check_flag, {"type": "boolean"})
Text = _typed(str, _check_text, {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS,
                                 "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"})
Ofsted = _choice(OFSTED, words=OFSTED_WORDS,
                 shown='"outstanding", "good", "requires improvement" (or its older name '
                       '"adequate"), "inadequate"')
Role = _choice(ROLES)
Agency = _choice(AGENCIES)
Month = _typed(int, _check_month, {"type": "integer", "minimum": 1, "maximum": 359,
                                   "description": "1 to the run's horizon_months - 1"})


def _table_list(name: str, limit: int):
    def check(v):
        if not isinstance(v, list):
            _fail(f"expected an array of tables ([[{name}]]), got {type(v).__name__}")
        if len(v) > limit:
            _fail(f"at most {limit} entries are allowed, got {len(v)}")
        return v

    return BeforeValidator(check)


# --- the tables ----------------------------------------------------------------------------------
class _Table(BaseModel):
    """A TOML table: known keys only, each validated by its annotated type."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())
    _unknown: ClassVar[str] = ""  # message for an unknown key ("" = list the allowed keys)

    @classmethod
    def _unknown_key(cls, key: str) -> str:
        return cls._unknown or f"unknown key; allowed keys are {', '.join(sorted(cls.model_fields))}"

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            _fail(f"expected a table, got {type(data).__name__}")
        for key in data:
            if key not in cls.model_fields:
                _fail(cls._unknown_key(key), sub=key)
        return data


_SITE, _LEADER, _PARTNER, _SUPERVISOR, _LEVERS = (Site(), LeaderSpec(""), PartnerSpec(""),
                                                  SupervisorSpec(), Levers())


class SiteTable(_Table):
    """``[site]``: observable descriptors of the authority."""

    name: Text
    population: _whole(10_000, 10_000_000)
    looked_after_children: _whole(20, 20_000)
    deprived_share: _number(0.0, 1.0) = _SITE.deprived_share
    ofsted_rating: Ofsted = _SITE.ofsted_rating
    host: _choice(HOSTS) = _SITE.host
    collaboration_history: Level = _SITE.collaboration_history
    learning_climate: Level = _SITE.learning_climate
    regional_network: Level = _SITE.regional_network
    values_fit: Level = _SITE.values_fit
    launch_framing: _choice(FRAMINGS) = _SITE.launch_framing
    leadership_turnover_history: Turnover = _SITE.leadership_turnover_history
    research_trial: Flag = _SITE.research_trial


class RunTable(_Table):
    """``[run]``: go-live month and horizon."""

    start: _typed(str, _check_start, {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$",
                                      "description": "go-live month YYYY-MM, 1990 to 2100"}) \
        = "2008-04"
    horizon_months: _whole(12, 360) = 120


class LeaderTable(_Table):
    """``[[leaders]]``: a senior leader in post at go-live."""

    role: Role
    stance: Stance = _LEADER.stance
    knowledge: Level = _LEADER.knowledge
    patron: Flag = _LEADER.patron
    chairs_steering_group: Flag = _LEADER.chairs_steering_group
    name: Text = _LEADER.name


class PartnerTable(_Table):
    """``[[partners]]``: a partner agency on the steering group at go-live."""

    agency: Agency
    commitment: Level = _PARTNER.commitment
    seniority: Level = _PARTNER.seniority


class SupervisorTable(_Table):
    """``[supervisor]``: the first supervisor's profile."""

    clinical_skill: Level = _SUPERVISOR.clinical_skill
    system_leadership: Level = _SUPERVISOR.system_leadership
    prior_mst_experience: Flag = _SUPERVISOR.prior_mst_experience
    style: _choice(STYLES) = _SUPERVISOR.style


class LeversTable(_Table):
    """``[levers]``: what-if settings (docs/ODD.md §7.18)."""

    _unknown: ClassVar[str] = ("unknown lever; allowed levers are "
                               f"{', '.join(sorted(Levers.__dataclass_fields__))}")
    succession_planning: Flag = _LEVERS.succession_planning
    programme_manager: _typed(str, _check_programme_manager, {"anyOf": [
        {"type": "string", "enum": ["auto", "on", "off"]}, {"type": "boolean"}]}) \
        = _LEVERS.programme_manager
    local_outcome_feedback: Flag = _LEVERS.local_outcome_feedback
    steering_group_induction: Flag = _LEVERS.steering_group_induction
    champion_cultivation: Flag = _LEVERS.champion_cultivation
    regional_network: Flag = _LEVERS.regional_network
    referral_promotion: Flag = _LEVERS.referral_promotion
    learning_climate: Flag = _LEVERS.learning_climate
    balanced_launch: Flag = _LEVERS.balanced_launch
    protected_funding_years: _whole(0, 10) = _LEVERS.protected_funding_years
    co_funding: _number(0.0, 0.6) = _LEVERS.co_funding


class _ParametersBase(_Table):
    _unknown: ClassVar[str] = "unknown mechanism parameter; see docs/ODD.md §8.1 for names"


# ``[parameters]``: one optional key per mechanism parameter, within its range.
ParametersTable = create_model(
    "ParametersTable", __base__=_ParametersBase, __doc__="``[parameters]``: overrides (§8.1).",
    **{p.name: ((_whole(int(p.low), int(p.high)) if p.integer else _number(p.low, p.high)),
                Field(None, description=p.label))
       for p in PARAMETERS})


# --- events: one class per kind -------------------------------------------------------------------
class _EventTable(_Table):
    month: Month

    @classmethod
    def _unknown_key(cls, key: str) -> str:
        allowed, kind = ", ".join(cls.model_fields), _kind_of(cls)
        a = "an" if kind[0] in "aeiou" else "a"
        if key in _EVENT_KEYS:
            return f"not a key of {a} {kind!r} event (allowed: {allowed})"
        return f"unknown key; {a} {kind!r} event takes {allowed}"


class LeaderDepartsEvent(_EventTable):
    """The first leader with ``role`` leaves; the successor takes ``successor_stance``."""

    kind: Literal["leader_departs"]
    role: Role
    successor_stance: Stance = None  # None: the successor's stance is drawn


class SupervisorDepartsEvent(_EventTable):
    """The first team's supervisor leaves."""

    kind: Literal["supervisor_departs"]


class BudgetCutEvent(_EventTable):
    """An in-year cut of ``fraction`` of the budget."""

    kind: Literal["budget_cut"]
    fraction: _number(0.0, 0.9)


class PartnerWithdrawsEvent(_EventTable):
    """The first active partner of ``agency`` leaves the steering group."""

    kind: Literal["partner_withdraws"]
    agency: Agency


class CoFundingEndsEvent(_EventTable):
    """The co-funding partner stops paying."""

    kind: Literal["co_funding_ends"]


class InspectionEvent(_EventTable):
    """An Ofsted inspection gives ``rating``."""

    kind: Literal["inspection"]
    rating: Ofsted


class CompetingServiceEvent(_EventTable):
    """A competing service of ``strength`` opens."""

    kind: Literal["competing_service"]
    strength: _number(0.0, 1.0) = 0.5


def _kind_of(cls) -> str:
    return get_args(cls.model_fields["kind"].annotation)[0]


_EVENT_CLASSES = (LeaderDepartsEvent, SupervisorDepartsEvent, BudgetCutEvent, PartnerWithdrawsEvent,
                  CoFundingEndsEvent, InspectionEvent, CompetingServiceEvent)
_EVENT_KEYS = {k for cls in _EVENT_CLASSES for k in cls.model_fields}
assert tuple(_kind_of(c) for c in _EVENT_CLASSES) == EVENT_KINDS


def _check_event_entry(v):
    """Name a missing or unknown ``kind`` before the union picks a class by it."""
    if not isinstance(v, dict):
        _fail(f"expected a table, got {type(v).__name__}")
    if "kind" not in v:
        _fail("missing required key", sub="kind")
    kind = v["kind"]
    if not isinstance(kind, str) or kind not in EVENT_KINDS:
        _fail(f"{_show(kind)} is not allowed; use one of {_fmt_choices(EVENT_KINDS)}", sub="kind")
    return v


_AnyEvent = Annotated[
    Annotated[LeaderDepartsEvent | SupervisorDepartsEvent | BudgetCutEvent | PartnerWithdrawsEvent
              | CoFundingEndsEvent | InspectionEvent | CompetingServiceEvent, Discriminator("kind")],
    BeforeValidator(_check_event_entry)]


# --- the whole file ------------------------------------------------------------------------------
class ScenarioFile(_Table):
    """A scenario file (docs/ODD.md §9)."""

    model_config = ConfigDict(title="mst-sustain scenario")
    site: SiteTable
    run: RunTable = RunTable()
    leaders: Annotated[list[LeaderTable], Field(max_length=MAX_LEADERS),
                       _table_list("leaders", MAX_LEADERS)] = []
    partners: Annotated[list[PartnerTable], Field(max_length=MAX_PARTNERS),
                        _table_list("partners", MAX_PARTNERS)] = []
    supervisor: SupervisorTable = SupervisorTable()
    levers: LeversTable = LeversTable()
    events: Annotated[list[_AnyEvent], Field(max_length=MAX_EVENTS),
                      _table_list("events", MAX_EVENTS)] = []
    parameters: ParametersTable = ParametersTable()

    @model_validator(mode="after")
    def _people_and_events_fit(self) -> ScenarioFile:
        leaders = self.leaders
        if sum(ld.patron for ld in leaders) > 1:
            _fail("at most one leader can be the patron", key="leaders")
        if sum(ld.chairs_steering_group for ld in leaders) > 1:
            _fail("at most one leader can chair the steering group", key="leaders")
        first: dict[str, int] = {}
        for i, ld in enumerate(leaders):
            if ld.role in SINGLE_HOLDER_ROLES and ld.role in first:
                _fail(f"a second {ld.role!r} (leaders[{first[ld.role]}] holds the role); an "
                      f"authority has one of each of {', '.join(SINGLE_HOLDER_ROLES)}",
                      key=f"leaders[{i}].role")
            first.setdefault(ld.role, i)
        roles = sorted(first)
        agencies = [p.agency for p in self.partners]
        withdrawn: dict[str, list[int]] = {}
        order = sorted(range(len(self.events)), key=lambda i: self.events[i].month)
        for i in order:  # in the order the model runs them
            ev = self.events[i]
            if ev.kind == "leader_departs" and ev.role not in first:
                _fail(f"no leader holds {ev.role!r}, so none can depart; roles held: "
                      f"{', '.join(roles) or 'none (no [[leaders]])'}", key=f"events[{i}].role")
            if ev.kind == "partner_withdraws":
                if ev.agency not in agencies:
                    _fail(f"{ev.agency!r} is not on the steering group, so it cannot withdraw; "
                          f"agencies on it: {', '.join(sorted(set(agencies))) or 'none'}",
                          key=f"events[{i}].agency")
                gone = withdrawn.setdefault(ev.agency, [])
                if len(gone) >= agencies.count(ev.agency):
                    _fail(f"{ev.agency!r} has already withdrawn (events[{gone[-1]}]) and does not "
                          f"come back", key=f"events[{i}].agency")
                gone.append(i)
        return self


# --- validation errors become one line ----------------------------------------------------------
def _key(loc: tuple) -> str:
    parts: list[str] = []
    for i, part in enumerate(loc):
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif i == 2 and loc[0] == "events" and isinstance(loc[1], int) and part in EVENT_KINDS:
            continue  # the union's tag, not a key of the file
        else:
            text = str(part)
            text = text if len(text) <= _SHOW_CHARS else text[:_SHOW_CHARS - 3] + "..."
            parts.append(("." if parts else "") + text)
    return "".join(parts)


def _scenario_error(exc: ValidationError, source: str, prefix: str = "") -> ScenarioError:
    """The first error of a validation, in our one-line style."""
    err = exc.errors(include_url=False)[0]
    loc, ctx = tuple(err["loc"]), err.get("ctx") or {}
    if prefix:
        loc = (prefix, *loc)
    if err["type"] == "scenario":
        detail = ctx["detail"]
        if "key" in ctx:
            return ScenarioError(source, ctx["key"], detail)
        if "sub" in ctx:
            loc = (*loc, ctx["sub"])
    elif err["type"] == "missing":
        detail = "missing required key"
    elif err["type"] in ("model_type", "dict_type", "model_attributes_type"):
        detail = f"expected a table, got {type(err['input']).__name__}"
    else:  # not expected: the schema's own checks come first; keep pydantic's text, one line
        detail = f"{err['msg']} (got {_show(err.get('input'))})"
    return ScenarioError(source, _key(loc) or ("(top level)" if not prefix else prefix), detail)


def _validate(model: type[BaseModel], data: Any, source: str, prefix: str = "",
              context: dict | None = None) -> Any:
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise _scenario_error(exc, source, prefix) from None
    except RecursionError:
        raise ScenarioError(source, prefix, "tables nested too deeply") from None


def parse_scenario(data: dict, source: str = "<scenario>", text: str = "") -> Scenario:
    """Validate a scenario given as a dictionary (the parsed TOML).

    Args:
        data: The parsed TOML document.
        source: The file name used in error messages.
        text: The raw file text, kept for the manifest's hash.

    Returns:
        The validated :class:`Scenario`.

    Raises:
        ScenarioError: On any unknown key, wrong type, out-of-range value or scripted event
            that cannot happen.
    """
    horizon = 120
    run = data.get("run") if isinstance(data, dict) else None
    if isinstance(run, dict) and "horizon_months" in run:
        h = run["horizon_months"]
        ok = isinstance(h, int) and not isinstance(h, bool) and 12 <= h <= 360
        horizon = h if ok else 360  # a bad horizon is reported first, under run.
    sc = _validate(ScenarioFile, data, source, context={"horizon": horizon})
    year, month = (int(x) for x in sc.run.start.split("-"))
    events = tuple(Event(**ev.model_dump()) for ev in sc.events)
    return Scenario(
        site=Site(**sc.site.model_dump()),
        leaders=tuple(LeaderSpec(**ld.model_dump()) for ld in sc.leaders),
        partners=tuple(PartnerSpec(**p.model_dump()) for p in sc.partners),
        supervisor=SupervisorSpec(**sc.supervisor.model_dump()),
        levers=Levers(**sc.levers.model_dump()),
        events=tuple(sorted(events, key=lambda e: e.month)),
        parameters=tuple(sorted(sc.parameters.model_dump(exclude_unset=True).items())),
        start_year=year, start_month=month, horizon_months=sc.run.horizon_months,
        source=source, text=text)


# --- reading a file --------------------------------------------------------------------------
def _read_text(path: Path, src: str) -> str:
    """The file's text: a regular file, at most MAX_FILE_BYTES, UTF-8 (a BOM is dropped)."""
    try:  # non-blocking, so a named pipe cannot hang the open; refused below
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ScenarioError(src, "", "file not found") from None
    except IsADirectoryError:
        raise ScenarioError(src, "", "cannot read file: it is a folder") from None
    except OSError as exc:
        raise ScenarioError(src, "", f"cannot read file ({exc.__class__.__name__})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ScenarioError(src, "", "cannot read file: it is a folder")
        if not stat.S_ISREG(mode):
            what = ("a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                    else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "special")
            raise ScenarioError(src, "", f"cannot read file: not a regular file ({what})")
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES and (chunk := os.read(fd, 65536)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ScenarioError(src, "", f"cannot read file ({exc.__class__.__name__})") from None
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        raise ScenarioError(src, "", f"cannot read file: larger than {MAX_FILE_BYTES // 1024} KB "
                                     f"({MAX_FILE_BYTES:,} bytes); a scenario is a few KB")
    raw = b"".join(chunks).removeprefix(b"\xef\xbb\xbf")  # Notepad's UTF-8 byte-order mark
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ScenarioError(src, "", f"cannot read file: not UTF-8 text (byte "
                                     f"0x{raw[exc.start]:02x} on line {line}); save it as "
                                     f"UTF-8") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file.

    Args:
        path: Path of the TOML file.

    Returns:
        The validated :class:`Scenario`.

    Raises:
        ScenarioError: If the file is missing, not a regular file, too big, not UTF-8,
            malformed TOML or invalid.
    """
    path = Path(path)
    src = str(path)
    text = _read_text(path, src)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(src, "", f"malformed TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(src, "", "malformed TOML: arrays or tables nested too deeply") from None
    return parse_scenario(data, src, text)


# --- the published JSON Schema ------------------------------------------------------------------
SCHEMA_PATH = "docs/scenario.schema.json"


def scenario_json_schema() -> dict:
    """The JSON Schema of a scenario file, for editors (Taplo, VS Code Even Better TOML).

    The loader is the authority: it also checks what a JSON Schema cannot say (an event's month
    within the run's horizon, one patron, events that can happen).
    """
    schema = ScenarioFile.model_json_schema(mode="validation")
    schema["description"] = ("A scenario file of mst-sustain (docs/ODD.md §9). Generated by "
                             "scripts/scenario_schema.py from sim/scenario.py; do not edit.")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def scenario_json_schema_text() -> str:
    """:func:`scenario_json_schema` as the text of ``docs/scenario.schema.json``."""
    return json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"
