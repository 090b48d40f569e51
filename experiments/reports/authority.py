"""The authority as entered, in the rubric's words: its descriptors, people and levers.

Every report that runs an authority lists what it ran (the readiness assessment, the ensemble
and comparison reports), so that a reader can check the input behind the numbers.
"""

from __future__ import annotations

from dataclasses import fields

from experiments.analysis.factors import describe_value
from experiments.reports import formatters as fmt
from sim.scenario import Levers, Scenario

_OFSTED_SHOWN = {"adequate": "requires improvement (adequate)"}

DESCRIPTOR_LABELS: tuple[tuple[str, str, str], ...] = (
    ("population", "Population (residents)", "count"),
    ("looked_after_children", "Children looked after", "count"),
    ("deprived_share", "Share of residents in deprived areas", "percent"),
    ("ofsted_rating", "Inspection (Ofsted) rating", "ofsted"),
    ("host", "Who employs the team", "word"),
    ("collaboration_history", "Collaboration history of social care, CAMHS and YOS", "level"),
    ("learning_climate", "Learning climate", "level"),
    ("regional_network", "Regional network", "level"),
    ("values_fit", "Fit between the host's culture and MST", "level"),
    ("launch_framing", "Launch framing", "word"),
    ("leadership_turnover_history", "Leadership turnover history (x national rates)",
     "turnover"),
    ("research_trial", "Takes part in a randomised trial", "flag"),
)
"""The site's descriptors shown, with their labels and how their values read."""


def _word(x) -> str:
    return str(x).replace("_", " ")


def _value(kind: str, x) -> str:
    if kind == "count":
        return fmt.count(x)
    if kind == "percent":
        return fmt.percent(x)
    if kind == "ofsted":
        return _OFSTED_SHOWN.get(x, x)
    if kind == "flag":
        return "yes" if x else "no"
    if kind in ("level", "turnover"):
        return describe_value(kind, float(x))
    return _word(x)


def descriptor_rows(scenario: Scenario) -> list[list[str]]:
    """The site's descriptors and its run settings as ``[label, value]`` rows."""
    s = scenario.site
    rows = [["Authority", s.name]]
    rows += [[label, _value(kind, getattr(s, key))] for key, label, kind in DESCRIPTOR_LABELS]
    rows += [["Go-live", f"{scenario.start_year:04d}-{scenario.start_month:02d}"],
             ["Horizon", f"{scenario.horizon_months} months"]]
    return rows


def people_rows(scenario: Scenario) -> list[list[str]]:
    """The people at go-live as ``[who, role or agency, description]`` rows."""
    rows = []
    for ld in scenario.leaders:
        extra = [f"knowledge {describe_value('level', ld.knowledge)}"]
        if ld.patron:
            extra.append("patron")
        if ld.chairs_steering_group:
            extra.append("chairs the steering group")
        who = f"Leader{' ' + ld.name if ld.name else ''}"
        rows.append([who, _word(ld.role),
                     f"stance {describe_value('stance', ld.stance)}; " + "; ".join(extra)])
    for p in scenario.partners:
        rows.append(["Partner", _word(p.agency),
                     f"commitment {describe_value('level', p.commitment)}; seniority "
                     f"{describe_value('level', p.seniority)}"])
    sv = scenario.supervisor
    rows.append(["Supervisor", "first supervisor",
                 f"clinical skill {describe_value('level', sv.clinical_skill)}; system "
                 f"leadership {describe_value('level', sv.system_leadership)}; "
                 f"{'prior MST experience' if sv.prior_mst_experience else 'new to MST'}; "
                 f"style {sv.style}"])
    return rows


def levers_in_place(scenario: Scenario) -> list[str]:
    """The levers switched on in the scenario, in words (``none`` when none is)."""
    default = Levers()
    on = []
    for f in fields(Levers):
        v, d = getattr(scenario.levers, f.name), getattr(default, f.name)
        if v == d:
            continue
        if isinstance(v, bool):
            on.append(_word(f.name))
        elif f.name == "co_funding":
            on.append(f"co-funding {fmt.percent(v)}")
        else:
            on.append(f"{_word(f.name)} {v}")
    return on


def authority_text(scenario: Scenario, indent: str = "  ") -> list[str]:
    """The authority as entered, as terminal lines."""
    rows = descriptor_rows(scenario)
    width = max(len(label) for label, _ in rows)
    lines = [f"{indent}{label + ':':<{width + 1}} {value}" for label, value in rows]
    lines += [f"{indent}{who}, {role}: {text}" for who, role, text in people_rows(scenario)]
    lines.append(f"{indent}Levers in place: {', '.join(levers_in_place(scenario)) or 'none'}")
    if scenario.events:
        lines.append(f"{indent}Scripted events: {len(scenario.events)}")
    return lines


def authority_section(scenario: Scenario, label: str = "") -> dict:
    """The authority as entered, as plain values for a template (``macros.authority``)."""
    return {"label": label or scenario.name, "descriptors": descriptor_rows(scenario),
            "people": people_rows(scenario),
            "levers": ", ".join(levers_in_place(scenario)) or "none",
            "events": len(scenario.events), "source": scenario.source,
            "overrides": [[k, fmt.number(v, 4)] for k, v in scenario.parameters]}

