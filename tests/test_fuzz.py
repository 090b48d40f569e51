"""Property-based fuzzing of the scenario loader and of the model over its declared space.

- The loader, given any document (valid or not, any types, unknown keys, broken TOML, random
  bytes), returns a :class:`Scenario` or raises :class:`ScenarioError` with one line naming
  the file; nothing else.
- The model, given any scenario of the declared space (every site descriptor and rubric word,
  every lever, scripted events, any subset of ``PARAMETERS`` anywhere in ``low..high``, any
  seed), runs without an exception, and no output is NaN (except where NaN means "not
  applicable", e.g. the closure month of a team that survived), infinite, or a negative count.

The default suite runs a few dozen derandomised examples of each (seconds); the ``slow``
variants explore hundreds of random ones, with horizons up to 360 months.
"""

from __future__ import annotations

import math
import string
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.explanation import CAUSE_GROUPS
from sim.parameters import PARAMETERS
from sim.scenario import (
    AGENCIES,
    EVENT_KINDS,
    FRAMINGS,
    HOSTS,
    LEVELS,
    OFSTED_WORDS,
    ROLES,
    SINGLE_HOLDER_ROLES,
    STANCES,
    STYLES,
    TURNOVER,
    Levers,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
)
from sim.simulate import SERIES_COLUMNS, simulate

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = (ROOT / "scenarios" / "template.toml").read_text(encoding="utf-8")

FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(max_examples=400, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- the declared space --------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)


def unit(lo: float = 0.0, hi: float = 1.0):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def word_or_number(table: dict, lo: float, hi: float):
    return st.one_of(st.sampled_from(sorted(table)), unit(lo, hi))


levels = word_or_number(LEVELS, 0.0, 1.0)
stances = word_or_number(STANCES, -1.0, 1.0)

site = st.fixed_dictionaries({
    "name": st.text(string.ascii_letters + " -'", min_size=1, max_size=30).filter(str.strip),
    "population": st.integers(10_000, 10_000_000),
    "looked_after_children": st.integers(20, 20_000),
}, optional={
    "deprived_share": unit(),
    "ofsted_rating": st.sampled_from(sorted(OFSTED_WORDS)),
    "host": st.sampled_from(HOSTS),
    "collaboration_history": levels,
    "learning_climate": levels,
    "regional_network": levels,
    "values_fit": levels,
    "launch_framing": st.sampled_from(FRAMINGS),
    "leadership_turnover_history": word_or_number(TURNOVER, 0.3, 3.0),
    "research_trial": st.booleans(),
})

leader = st.fixed_dictionaries({"role": st.sampled_from(ROLES)}, optional={
    "stance": stances, "knowledge": levels, "patron": st.booleans(),
    "chairs_steering_group": st.booleans(),
    "name": st.text(string.ascii_letters + " ", min_size=1, max_size=20).filter(str.strip),
})
partner = st.fixed_dictionaries({"agency": st.sampled_from(AGENCIES)}, optional={
    "commitment": levels, "seniority": levels})
supervisor = st.fixed_dictionaries({}, optional={
    "clinical_skill": levels, "system_leadership": levels,
    "prior_mst_experience": st.booleans(), "style": st.sampled_from(STYLES)})
levers = st.fixed_dictionaries({}, optional={
    **{name: st.booleans() for name, f in Levers.__dataclass_fields__.items()
       if f.type in ("bool", bool)},
    "programme_manager": st.sampled_from(["auto", "on", "off"]),
    "protected_funding_years": st.integers(0, 10),
    "co_funding": unit(0.0, 0.6),
})


def parameter_value(p):
    if p.integer:
        return st.integers(int(p.low), int(p.high))
    return st.one_of(st.sampled_from([p.low, p.high]), unit(p.low, p.high))


parameters = st.fixed_dictionaries({}, optional={p.name: parameter_value(p) for p in PARAMETERS})


@st.composite
def events(draw, horizon: int, roles: list[str], agencies: list[str]):
    """Scripted events that can happen: roles someone holds, agencies still on the group."""
    out = []
    present = list(agencies)
    for _ in range(draw(st.integers(0, 4))):
        kinds = [k for k in EVENT_KINDS if (k != "leader_departs" or roles)
                 and (k != "partner_withdraws" or present)]
        kind = draw(st.sampled_from(kinds))
        ev = {"month": draw(st.integers(1, horizon - 1)), "kind": kind}
        if kind == "leader_departs":
            ev["role"] = draw(st.sampled_from(sorted(set(roles))))
            if draw(st.booleans()):
                ev["successor_stance"] = draw(stances)
        if kind == "budget_cut":
            ev["fraction"] = draw(unit(0.0, 0.9))
        if kind == "partner_withdraws":
            ev["agency"] = draw(st.sampled_from(present))
            present.remove(ev["agency"])
        if kind == "inspection":
            ev["rating"] = draw(st.sampled_from(sorted(OFSTED_WORDS)))
        if kind == "competing_service" and draw(st.booleans()):
            ev["strength"] = draw(unit())
        out.append(ev)
    return out


@st.composite
def scenario_documents(draw, max_horizon: int = 120):
    """A valid scenario document (parsed TOML) anywhere in the declared space."""
    horizon = draw(st.integers(12, max_horizon))
    doc = {"site": draw(site), "run": {"horizon_months": horizon}}
    if draw(st.booleans()):
        doc["run"]["start"] = f"{draw(st.integers(1990, 2100))}-{draw(st.integers(1, 12)):02d}"
    people = draw(st.lists(leader, max_size=12))
    patron = chair = False
    single = set()
    for ld in people:  # at most one patron, one chair, one holder of a one-holder role
        if ld["role"] in SINGLE_HOLDER_ROLES:
            ld["role"] = "head_of_service" if ld["role"] in single else ld["role"]
            single.add(ld["role"])
        if ld.get("patron"):
            ld["patron"], patron = not patron, True
        if ld.get("chairs_steering_group"):
            ld["chairs_steering_group"], chair = not chair, True
    if people:
        doc["leaders"] = people
    if partners := draw(st.lists(partner, max_size=12)):
        doc["partners"] = partners
    for key, strategy in (("supervisor", supervisor), ("levers", levers),
                          ("parameters", parameters)):
        if value := draw(strategy):
            doc[key] = value
    roles = [ld["role"] for ld in people]
    agencies = [p["agency"] for p in doc.get("partners", [])]
    if evs := draw(events(horizon, roles, agencies)):
        doc["events"] = evs
    return doc


# --- properties of a run -------------------------------------------------------------------------

CAUSES = tuple(f"cause_{g}" for g in CAUSE_GROUPS)
NOT_APPLICABLE = {"closure_month", "closure_grant_share", "first_expansion_month",
                  "months_since_survived_review", "partnership_6", "partnership_36",
                  "margin_fall", "margin_reference_month", "utilisation_year2",
                  "leadership_shield_at_supervisor_exit", "partnership_shield_at_supervisor_exit",
                  "patron_left_month", *CAUSES}
MAY_BE_NEGATIVE = {"net_cost", "margin_fall", *CAUSES}
COUNT_SERIES = ("teams", "staff", "therapists", "referrals_month", "caseload", "waiting_list",
                "cost_month", "savings_month")


def check_run(scenario: Scenario, seed: int) -> None:
    result = simulate(scenario, seed, series=True)
    out = result.outputs
    for name, value in out.items():
        if isinstance(value, bool | str):
            continue
        assert isinstance(value, int | float | np.integer | np.floating), (name, value)
        value = float(value)
        assert not math.isinf(value), f"{name} is infinite"
        if math.isnan(value):
            assert name in NOT_APPLICABLE, f"{name} is NaN"
            continue
        if name not in MAY_BE_NEGATIVE:
            assert value >= 0, f"{name} is negative: {value}"
    survived, end = out["survived"], out["end_month"]
    assert 0 <= end <= scenario.horizon_months
    assert math.isnan(out["closure_month"]) == survived
    assert math.isnan(out["closure_grant_share"]) == survived
    assert math.isnan(out["first_expansion_month"]) == (out["expansions"] == 0)
    if survived:
        assert math.isnan(out["months_since_survived_review"])
    assert math.isnan(out["partnership_6"]) == (end < 6)
    assert math.isnan(out["partnership_36"]) == (end < 36)
    # A closure's causes sum exactly to the fall of its margin; a survivor has none.
    if math.isnan(out["margin_fall"]):
        assert all(math.isnan(out[c]) for c in CAUSES)
    else:
        assert not survived
        assert sum(out[c] for c in CAUSES) == pytest.approx(out["margin_fall"], abs=1e-9)
    frame = result.series
    assert len(frame) == end + 1
    values = frame[list(SERIES_COLUMNS)].to_numpy(dtype=float)
    assert np.isfinite(values).all(), "a monthly series holds NaN or inf"
    counts = frame[list(COUNT_SERIES)].to_numpy(dtype=float)
    assert (counts >= 0).all(), "a monthly count is negative"


@FAST
@given(doc=scenario_documents(), seed=st.integers(0, 2**32 - 1))
def test_model_over_the_declared_space(doc, seed):
    check_run(parse_scenario(doc, "<fuzz>"), seed)


@pytest.mark.slow
@SLOW
@given(doc=scenario_documents(max_horizon=360), seed=st.integers(0, 2**63 - 1))
def test_model_over_the_declared_space_many(doc, seed):
    check_run(parse_scenario(doc, "<fuzz>"), seed)


@FAST
@given(seed=st.integers(0, 2**32 - 1), corner=st.sampled_from(["low", "high"]))
def test_model_with_every_parameter_at_a_corner(seed, corner):
    doc = {"site": {"name": "Corner", "population": 250_000, "looked_after_children": 500},
           "parameters": {p.name: (int(getattr(p, corner)) if p.integer else getattr(p, corner))
                          for p in PARAMETERS}}
    check_run(parse_scenario(doc, "<corner>"), seed)


# --- the loader ----------------------------------------------------------------------------------

anything = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(),
              st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)


@st.composite
def mangled_documents(draw):
    """A valid document with a few keys replaced by anything, or added, or removed."""
    doc = draw(scenario_documents(max_horizon=60))
    for _ in range(draw(st.integers(1, 4))):
        tables = [doc] + [v for v in doc.values() if isinstance(v, dict)] + \
                 [item for v in doc.values() if isinstance(v, list) for item in v
                  if isinstance(item, dict)]
        table = draw(st.sampled_from(tables))
        action = draw(st.sampled_from(["replace", "add", "remove"]))
        if action == "replace" and table:
            table[draw(st.sampled_from(sorted(table)))] = draw(anything)
        elif action == "add":
            table[draw(st.text(min_size=1, max_size=10))] = draw(anything)
        elif table:
            del table[draw(st.sampled_from(sorted(table)))]
    return doc


def loads_or_one_line_error(load, source: str):
    try:
        scenario = load()
    except ScenarioError as exc:
        message = str(exc)
        assert message.startswith(f"{source}: "), message
        assert "\n" not in message and "\r" not in message, repr(message)
        return None
    assert isinstance(scenario, Scenario)
    return scenario


@FAST
@given(doc=mangled_documents())
def test_loader_on_mangled_documents(doc):
    loads_or_one_line_error(lambda: parse_scenario(doc, "fuzz.toml"), "fuzz.toml")


@FAST
@given(doc=st.dictionaries(st.text(max_size=10), anything, max_size=5))
def test_loader_on_arbitrary_documents(doc):
    loads_or_one_line_error(lambda: parse_scenario(doc, "fuzz.toml"), "fuzz.toml")


@st.composite
def mangled_texts(draw):
    """The template's text with a few bytes changed, deleted or inserted."""
    data = bytearray(TEMPLATE.encode("utf-8"))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["set", "delete", "insert"]))
        byte = draw(st.sampled_from(list(b"\"'[]{}=,.#\n\t -+0123456789aeflnrstuxz\x00\xff\xc3")))
        if action == "set":
            data[at] = byte
        elif action == "delete":
            del data[at]
        else:
            data.insert(at, byte)
    return bytes(data)


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "fuzz.toml"


@FAST
@given(data=st.one_of(mangled_texts(), st.binary(max_size=300),
                      st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_loader_on_mangled_files(fuzz_file, data):
    fuzz_file.write_bytes(data)
    loads_or_one_line_error(lambda: load_scenario(fuzz_file), str(fuzz_file))


@pytest.mark.slow
@SLOW
@given(doc=mangled_documents(), data=mangled_texts())
def test_loader_many(fuzz_file, doc, data):
    loads_or_one_line_error(lambda: parse_scenario(doc, "fuzz.toml"), "fuzz.toml")
    fuzz_file.write_bytes(data)
    loads_or_one_line_error(lambda: load_scenario(fuzz_file), str(fuzz_file))


def test_the_template_still_loads():
    assert isinstance(parse_scenario(tomllib.loads(TEMPLATE), "template.toml"), Scenario)
