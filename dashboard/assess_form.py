"""The assessment page's form: fields in the rubric's words, built from the scenario schema.

Plain Python (no solara), so that the page and the tests share it. The form is a dictionary
shaped like a scenario file (``site``, ``run``, ``leaders``, ``partners``, ``supervisor``,
``levers``); every field's kind, choices and range come from the JSON Schema of
:func:`sim.scenario.scenario_json_schema`, and the form is checked by the loader itself
(:func:`sim.scenario.parse_scenario`), so the page accepts exactly what a file may hold and
its messages are the loader's.
"""

from __future__ import annotations

import copy
import functools
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sim.scenario import (
    LEVELS,
    STANCES,
    TURNOVER,
    Scenario,
    ScenarioError,
    parse_scenario,
    scenario_json_schema,
)

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "scenarios" / "template.toml"
SITE_FILES = ("metro_city", "expanded_city", "isolated_coastal")
"""The study sites a commissioner can load as a starting point (besides the template)."""

SOURCE = "the form"
"""The scenario source named in the loader's messages."""

SECTIONS = (("site", "SiteTable", "The authority"), ("run", "RunTable", "Go-live and horizon"),
            ("supervisor", "SupervisorTable", "The first supervisor"),
            ("levers", "LeversTable", "Levers already in place"))
"""The form's single tables: key, schema definition and heading."""

ROWS = (("leaders", "LeaderTable", "Senior leaders in post at go-live"),
        ("partners", "PartnerTable", "Partner agencies on the steering group"))
"""The form's rows: key, schema definition and heading."""

LABELS = {
    "site.name": "Name of the authority",
    "site.population": "Population",
    "site.looked_after_children": "Children looked after",
    "site.deprived_share": "Share of residents in deprived areas",
    "site.ofsted_rating": "Inspection (Ofsted) rating",
    "site.host": "Who employs the team",
    "site.collaboration_history": "Collaboration history of social care, CAMHS and YOS",
    "site.learning_climate": "Learning climate (masterclasses, evidence culture)",
    "site.regional_network": "Regional network (nearby MST teams, joint boosters)",
    "site.values_fit": "Fit between the host's culture and MST",
    "site.launch_framing": "Launch framing",
    "site.leadership_turnover_history": "Leadership turnover history",
    "site.research_trial": "Takes part in a randomised trial",
    "run.start": "Go-live month",
    "run.horizon_months": "Horizon",
    "supervisor.clinical_skill": "Clinical skill",
    "supervisor.system_leadership": "System leadership",
    "supervisor.prior_mst_experience": "Prior MST experience",
    "supervisor.style": "Style",
    "levers.succession_planning": "Supervisor succession planned",
    "levers.programme_manager": "Programme manager",
    "levers.local_outcome_feedback": "Local outcomes fed back to leaders",
    "levers.steering_group_induction": "Steering-group newcomers inducted",
    "levers.champion_cultivation": "New champions cultivated",
    "levers.regional_network": "Regional network joined",
    "levers.referral_promotion": "Service promoted to referrers",
    "levers.learning_climate": "Investment in a learning climate",
    "levers.balanced_launch": "Balanced launch",
    "levers.protected_funding_years": "Funding protected for",
    "levers.co_funding": "Health partner co-funds",
    "leaders.role": "Role",
    "leaders.stance": "Stance",
    "leaders.knowledge": "Knowledge of MST",
    "leaders.patron": "Patron",
    "leaders.chairs_steering_group": "Chairs the steering group",
    "leaders.name": "Name (optional)",
    "partners.agency": "Agency",
    "partners.commitment": "Commitment",
    "partners.seniority": "Seniority",
}
"""Readable labels, by ``table.key`` (rows by their table's name)."""

UNITS = {
    "site.population": "residents",
    "site.looked_after_children": "children",
    "site.deprived_share": "share",
    "run.start": "YYYY-MM",
    "run.horizon_months": "months",
    "levers.protected_funding_years": "years",
    "levers.co_funding": "share of the cost",
}
"""Units shown after a number's label."""

HIDDEN = ("run.horizon_months",)
"""Fields the page does not show: it keeps the file's value (an assessment reads survival up to
ten years, so the horizon stays as the file or the template sets it)."""


@dataclass(frozen=True)
class Field:
    """One field of the form.

    Attributes:
        key: ``table.name`` (``site.population``; rows: ``leaders.stance``).
        label: Readable label with its unit or range.
        kind: ``choice`` (a drop-down), ``integer``, ``number``, ``flag`` or ``text``.
        choices: The words of a drop-down, in the rubric's order.
        values: What a file holds for each of ``choices`` (``local_authority`` for
            ``local authority``).
        low: Least value of a number (None if unbounded).
        high: Largest value of a number.
        default: The schema's default, if any.

    """

    key: str
    label: str
    kind: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    default: object = None
    values: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The key within its table."""
        return self.key.split(".", 1)[1]


def _words(spec: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    enum = spec.get("enum") or next((a["enum"] for a in spec.get("anyOf", []) if "enum" in a),
                                    None)
    if enum is None:
        return (), ()
    shown, values = [], []
    for w in enum:
        word = str(w).replace("_", " ")
        if word == "adequate" or word in shown:  # "adequate": the old "requires improvement"
            continue
        shown.append(word)
        values.append(str(w))
    return tuple(shown), tuple(values)


_RUBRICS = (LEVELS, STANCES, TURNOVER)


def _rubric(f: Field) -> dict | None:
    """The rubric (word -> number) a drop-down's words come from, if any."""
    return next((r for r in _RUBRICS if set(r) <= set(f.choices)), None)


def _field(table: str, name: str, spec: dict) -> Field:
    key = f"{table}.{name}"
    label = LABELS.get(key, spec.get("title", name))
    words, values = _words(spec)
    if words:
        return Field(key, label, "choice", words, default=spec.get("default"), values=values)
    kind = {"integer": "integer", "number": "number", "boolean": "flag"}.get(
        spec.get("type"), "text")
    low, high = spec.get("minimum"), spec.get("maximum")
    if kind in ("integer", "number") and low is not None and high is not None:
        unit = UNITS.get(key, "")
        label = f"{label} ({unit + ', ' if unit else ''}{_num(low)} to {_num(high)})"
    elif key in UNITS:
        label = f"{label} ({UNITS[key]})"
    return Field(key, label, kind, low=low, high=high, default=spec.get("default"))


def _num(x) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


@functools.cache
def fields() -> dict[str, tuple[Field, ...]]:
    """Every table's fields, in the schema's order: ``{"site": (...), "leaders": (...)}``."""
    defs = scenario_json_schema()["$defs"]
    out = {}
    for table, definition, _ in (*SECTIONS, *ROWS):
        props = defs[definition]["properties"]
        out[table] = tuple(_field(table, name, spec) for name, spec in props.items()
                           if f"{table}.{name}" not in HIDDEN)
    return out


# ---------------------------------------------------------------------------------------------
# The form's values
# ---------------------------------------------------------------------------------------------


def _shown(f: Field, value) -> object:
    """A file's value as the form shows it (words with spaces; a number off the rubric as text)."""
    if f.kind == "choice":
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, (int, float)):
            rubric = _rubric(f) or {}
            word = next((w for w, x in rubric.items() if abs(x - value) < 1e-9), None)
            return word or _num(value)
        text = str(value).replace("_", " ").lower()
        return "requires improvement" if text == "adequate" else text
    return value


def form_from_data(data: dict) -> dict:
    """The form's values from a parsed scenario file (defaults filled in from the schema).

    Args:
        data: A parsed TOML document (``tomllib.load``).

    Returns:
        A new form dictionary; keys the page does not show (events, parameters, the horizon)
        are kept as they are.

    """
    data = copy.deepcopy(data if isinstance(data, dict) else {})
    form = {k: v for k, v in data.items() if k not in {t for t, _, _ in (*SECTIONS, *ROWS)}}
    specs = fields()
    for table, _, _ in SECTIONS:
        given = data.get(table) if isinstance(data.get(table), dict) else {}
        form[table] = {**{k: v for k, v in given.items()}}
        for f in specs[table]:
            value = given.get(f.name, f.default)
            form[table][f.name] = _shown(f, value) if value is not None else None
    for table, _, _ in ROWS:
        rows = data.get(table) if isinstance(data.get(table), list) else []
        form[table] = [new_row(table, r) for r in rows if isinstance(r, dict)]
    return form


def new_row(table: str, given: dict | None = None) -> dict:
    """A leader or partner row: the given values, else the schema's defaults (first choice)."""
    given = given or {}
    row = {}
    for f in fields()[table]:
        value = given.get(f.name, f.default)
        if value is None and f.kind == "choice":
            value = f.choices[0]
        if value is None and f.kind == "text":
            value = ""
        row[f.name] = _shown(f, value)
    return row


def blank_form() -> dict:
    """The form as the template describes it (a neutral, mid-sized authority)."""
    return form_from_toml(TEMPLATE.read_text(encoding="utf-8"))


def form_from_toml(text: str) -> dict:
    """The form from a scenario file's text.

    Raises:
        ScenarioError: If the text is not TOML (the loader's wording).

    """
    try:
        return form_from_data(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError("the file", "", f"not valid TOML: {exc}") from None


def _value(f: Field, v):
    """The value a scenario file holds for what the form shows (numbers typed as text read)."""
    if v is None:
        return None
    if f.kind == "choice":
        text = str(v).strip()
        if text in f.choices:
            return f.values[f.choices.index(text)]
        try:
            return float(text)
        except ValueError:
            return text
    if f.kind in ("integer", "number") and isinstance(v, str):
        text = v.strip().replace(",", "")
        try:
            x = float(text)
        except ValueError:
            return v  # left as typed: the loader names what is allowed
        if f.kind == "integer" and math.isfinite(x) and x == int(x):
            return int(x)
        return x
    return v


def scenario_data(form: dict) -> dict:
    """The scenario file the form describes, as a dictionary (for the loader and for TOML)."""
    specs = fields()
    data = {k: copy.deepcopy(v) for k, v in form.items()
            if k not in {t for t, _, _ in (*SECTIONS, *ROWS)}}
    for table, _, _ in SECTIONS:
        values = dict(form.get(table) or {})
        out = {}
        for f in specs[table]:
            v = _value(f, values.pop(f.name, None))
            if v is not None:
                out[f.name] = v
        out.update({k: v for k, v in values.items() if v is not None})  # e.g. horizon_months
        data[table] = out
    for table, _, _ in ROWS:
        rows = []
        for row in form.get(table) or []:
            out = {}
            for f in specs[table]:
                v = _value(f, row.get(f.name))
                if v is None or (f.kind == "text" and v == ""):
                    continue
                out[f.name] = v
            rows.append(out)
        data[table] = rows
    return data


def check(form: dict) -> tuple[Scenario | None, str, str]:
    """Check the form with the scenario loader.

    Returns:
        ``(scenario, key, message)``: the scenario and two empty strings when the form is
        valid; otherwise None, the key the loader names (``site.population``,
        ``leaders[2].stance``...) and its message.

    """
    try:
        return parse_scenario(scenario_data(form), SOURCE, to_toml(form)), "", ""
    except ScenarioError as exc:
        return None, exc.key, exc.detail


def field_key(key: str) -> str:
    """The form field a loader's key points at: ``leaders[2].stance`` -> ``leaders.2.stance``."""
    return key.replace("[", ".").replace("]", "")


def to_toml(form: dict) -> str:
    """The scenario file the form describes, as TOML text that :func:`load_scenario` reads."""
    import tomli_w

    data = scenario_data(form)
    parts = ["#:schema ../docs/scenario.schema.json\n"
             "# Built by the assessment page (python run.py app). Check it with\n"
             "#     python run.py assess THIS_FILE.toml\n"]
    # One table at a time, so that leaders and partners are [[arrays of tables]] as in the
    # shipped files (tomli-w would write short rows inline).
    for key in ("site", "run", "leaders", "partners", "supervisor", "levers"):
        value = data.get(key)
        if isinstance(value, list):
            parts += [f"[[{key}]]\n" + tomli_w.dumps(row) for row in value]
        elif value:
            parts.append(tomli_w.dumps({key: value}))
    rest = {k: v for k, v in data.items()
            if k not in ("site", "run", "leaders", "partners", "supervisor", "levers")
            and v not in ([], {}, None)}
    if rest:
        parts.append(tomli_w.dumps(rest))
    return "\n".join(parts)


def file_stem(form: dict) -> str:
    """A file name stem for the form's authority (its name in lower case, words joined by _)."""
    name = str((form.get("site") or {}).get("name") or "authority")
    stem = "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")
    while "__" in stem:
        stem = stem.replace("__", "_")
    return (stem or "authority")[:60]
