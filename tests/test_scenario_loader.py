"""The scenario loader: the fixed rubric (docs/ODD.md §5.2), shipped scenarios, copies with changes."""

import math
import re
import tomllib
from pathlib import Path

import pytest

from sim.parameters import PARAMETERS
from sim.scenario import (
    LEVELS,
    MAX_EVENTS,
    MAX_LEADERS,
    MAX_NAME_CHARS,
    MAX_PARTNERS,
    OFSTED,
    SCHEMA_PATH,
    SINGLE_HOLDER_ROLES,
    STANCES,
    TURNOVER,
    Levers,
    ScenarioError,
    load_scenario,
    parse_scenario,
    scenario_json_schema,
    scenario_json_schema_text,
)

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SITE_FILES = ("isolated_coastal.toml", "expanded_city.toml", "metro_city.toml")
PARAM_NAMES = {p.name for p in PARAMETERS}
SITE_LEVELS = ("collaboration_history", "learning_climate", "regional_network", "values_fit")

MINIMAL = {"site": {"name": "Test", "population": 250_000, "looked_after_children": 500}}


def with_site(**site):
    return {"site": {**MINIMAL["site"], **site}}


# --- the rubric ------------------------------------------------------------------------------
def test_rubric_is_exactly_odd_section_5_2():
    assert LEVELS == {"none": 0.0, "very low": 0.1, "low": 0.3, "medium": 0.5, "high": 0.7,
                      "very high": 0.9}
    assert STANCES == {"hostile": -0.8, "opposed": -0.5, "sceptical": -0.2, "neutral": 0.0,
                       "supportive": 0.4, "champion": 0.8}
    assert TURNOVER == {"stable": 0.6, "average": 1.0, "high": 1.5, "very high": 2.0}


@pytest.mark.parametrize("word,value", LEVELS.items())
def test_level_words_reach_every_level_field(word, value):
    data = with_site(**{k: word for k in SITE_LEVELS})
    data["leaders"] = [{"role": "chief_executive", "knowledge": word}]
    data["partners"] = [{"agency": "yos", "commitment": word, "seniority": word}]
    data["supervisor"] = {"clinical_skill": word, "system_leadership": word}
    sc = parse_scenario(data, "t.toml")
    got = [getattr(sc.site, k) for k in SITE_LEVELS] + [
        sc.leaders[0].knowledge, sc.partners[0].commitment, sc.partners[0].seniority,
        sc.supervisor.clinical_skill, sc.supervisor.system_leadership]
    assert got == [value] * len(got)


@pytest.mark.parametrize("word,value", STANCES.items())
def test_stance_words(word, value):
    data = dict(MINIMAL, leaders=[{"role": "assistant_director", "stance": word}],
                run={"horizon_months": 60},
                events=[{"month": 10, "kind": "leader_departs", "role": "assistant_director",
                         "successor_stance": word}])
    sc = parse_scenario(data, "t.toml")
    assert sc.leaders[0].stance == value
    assert sc.events[0].successor_stance == value


@pytest.mark.parametrize("word,value", TURNOVER.items())
def test_turnover_words(word, value):
    sc = parse_scenario(with_site(leadership_turnover_history=word), "t.toml")
    assert sc.site.leadership_turnover_history == value


def test_rubric_words_ignore_case_and_underscores():
    sc = parse_scenario(with_site(values_fit="Very_High", leadership_turnover_history="VERY HIGH"),
                        "t.toml")
    assert sc.site.values_fit == 0.9 and sc.site.leadership_turnover_history == 2.0


def test_turnover_and_level_words_are_not_interchangeable():
    with pytest.raises(ScenarioError, match="site.leadership_turnover_history"):
        parse_scenario(with_site(leadership_turnover_history="medium"), "t.toml")
    with pytest.raises(ScenarioError, match="site.values_fit"):
        parse_scenario(with_site(values_fit="stable"), "t.toml")


# --- numbers in place of words ---------------------------------------------------------------
def test_numbers_equal_to_the_rubric_give_the_same_scenario_as_words():
    words = with_site(collaboration_history="very high", learning_climate="none",
                      regional_network="low", values_fit="medium",
                      leadership_turnover_history="stable")
    words["leaders"] = [{"role": "chief_executive", "stance": "hostile", "knowledge": "high"}]
    words["partners"] = [{"agency": "camhs", "commitment": "very low", "seniority": "high"}]
    numbers = with_site(collaboration_history=0.9, learning_climate=0, regional_network=0.3,
                        values_fit=0.5, leadership_turnover_history=0.6)
    numbers["leaders"] = [{"role": "chief_executive", "stance": -0.8, "knowledge": 0.7}]
    numbers["partners"] = [{"agency": "camhs", "commitment": 0.1, "seniority": 0.7}]
    assert parse_scenario(words, "t.toml") == parse_scenario(numbers, "t.toml")


def test_numbers_between_rubric_points_and_at_the_bounds_are_accepted():
    data = with_site(values_fit=1, learning_climate=0.0, collaboration_history=0.42,
                     leadership_turnover_history=3.0)
    data["leaders"] = [{"role": "chief_executive", "stance": -1},
                       {"role": "assistant_director", "stance": 1.0},
                       {"role": "head_of_service", "stance": 0.15}]
    data["supervisor"] = {"clinical_skill": 0.95}
    sc = parse_scenario(data, "t.toml")
    assert sc.site.values_fit == 1.0 and isinstance(sc.site.values_fit, float)
    assert sc.site.collaboration_history == 0.42
    assert sc.site.leadership_turnover_history == 3.0
    assert [ld.stance for ld in sc.leaders] == [-1.0, 1.0, 0.15]
    assert sc.supervisor.clinical_skill == 0.95
    low = parse_scenario(with_site(leadership_turnover_history=0.3), "t.toml")
    assert low.site.leadership_turnover_history == 0.3


# --- shipped scenarios ------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*SITE_FILES, "template.toml"])
def test_shipped_scenarios_load(name):
    sc = load_scenario(SCENARIOS / name)
    assert sc.site.name and sc.leaders and sc.partners
    assert sc.horizon_months == 120 and (sc.start_year, sc.start_month) == (2008, 4)
    assert sc.source.endswith(name) and len(sc.digest) == 64


# Site inputs of docs/ODD.md §5.4, in rubric numbers.
SITE_TABLE = {
    "isolated_coastal.toml": dict(
        name="Isolated Coastal", population=234_982, looked_after_children=375,
        deprived_share=0.12, ofsted_rating="good", host="voluntary_sector",
        collaboration_history=0.1, learning_climate=0.3, regional_network=0.1, values_fit=0.3,
        launch_framing="oversold", leadership_turnover_history=1.0, research_trial=True,
        leaders={("chief_executive", 0.0, False, False),
                 ("director_childrens_services", -0.5, False, False),
                 ("head_of_service", 0.4, False, True), ("head_of_service", 0.4, False, False)},
        partners={("voluntary_host", 0.9, 0.7), ("mental_health_trust", 0.5, 0.5),
                  ("yos", 0.5, 0.5), ("education", 0.3, 0.3), ("finance", 0.3, 0.5)},
        supervisor=(0.7, 0.3, False)),
    "expanded_city.toml": dict(
        name="Expanded City", population=197_000, looked_after_children=310,
        deprived_share=0.16, ofsted_rating="inadequate", host="local_authority",
        collaboration_history=0.3, learning_climate=0.3, regional_network=0.7, values_fit=0.5,
        launch_framing="oversold", leadership_turnover_history=2.0, research_trial=True,
        leaders={("chief_executive", 0.8, True, True),
                 ("director_childrens_services", -0.2, False, False),
                 ("head_of_service", 0.8, False, False), ("assistant_director", 0.0, False, False)},
        partners={("camhs", 0.3, 0.5), ("yos", 0.7, 0.7), ("police", 0.5, 0.5),
                  ("education", 0.3, 0.3), ("finance", 0.5, 0.5)},
        supervisor=(0.7, 0.9, False)),
    "metro_city.toml": dict(
        name="Metro City", population=751_485, looked_after_children=1450,
        deprived_share=0.199, ofsted_rating="adequate", host="local_authority",
        collaboration_history=0.9, learning_climate=0.7, regional_network=0.7, values_fit=0.7,
        launch_framing="oversold", leadership_turnover_history=0.6, research_trial=True,
        leaders={("chief_executive", 0.0, False, False),
                 ("director_childrens_services", 0.0, False, False),
                 ("assistant_director", 0.8, True, True), ("head_of_service", 0.4, False, False),
                 ("partner_director", 0.8, False, False)},
        partners={("camhs", 0.9, 0.7), ("yos", 0.7, 0.7), ("education", 0.5, 0.5),
                  ("police", 0.5, 0.5), ("finance", 0.5, 0.5)},
        supervisor=(0.9, 0.9, True)),
}


@pytest.mark.parametrize("name", SITE_FILES)
def test_site_files_encode_the_model_table(name):
    want = dict(SITE_TABLE[name])
    sc = load_scenario(SCENARIOS / name)
    leaders, partners, supervisor = want.pop("leaders"), want.pop("partners"), \
        want.pop("supervisor")
    assert {k: getattr(sc.site, k) for k in want} == want
    assert {(ld.role, ld.stance, ld.patron, ld.chairs_steering_group)
            for ld in sc.leaders} == leaders
    assert len(sc.leaders) == len(leaders)
    assert {(p.agency, p.commitment, p.seniority) for p in sc.partners} == partners
    s = sc.supervisor
    assert (s.clinical_skill, s.system_leadership, s.prior_mst_experience) == supervisor
    assert sc.levers == Levers() and sc.events == () and sc.parameters == ()


def _strip_comment(line: str) -> str:
    """A TOML line without its comment (site files keep '#' out of strings)."""
    return line.split("#", 1)[0]


@pytest.mark.parametrize("name", SITE_FILES)
def test_site_files_hold_only_descriptors_and_people(name):
    text = (SCENARIOS / name).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert set(data) <= {"site", "run", "leaders", "partners", "supervisor"}
    for table in ("parameters", "levers", "events"):
        assert not re.search(rf"^\s*\[\[?\s*{table}\b", text, re.M), f"[{table}] in {name}"
        code = "\n".join(_strip_comment(ln) for ln in text.splitlines())
        assert not re.search(rf"\b{table}\b", code), f"{table} in {name}"


@pytest.mark.parametrize("name", SITE_FILES)
def test_site_files_name_no_mechanism_parameter(name):
    text = (SCENARIOS / name).read_text(encoding="utf-8")
    # Anywhere outside comments (keys, values, quoted keys): no parameter name at all.
    code = "\n".join(_strip_comment(ln) for ln in text.splitlines())
    tokens = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))
    assert not tokens & PARAM_NAMES, f"{name} names {sorted(tokens & PARAM_NAMES)}"
    # Raw text, comments included: no parameter identifier (plain English words such as
    # "jealousy" may appear in a comment quoting the study) and no "name =" assignment of one.
    raw_tokens = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    identifiers = {t for t in raw_tokens & PARAM_NAMES if "_" in t}
    assert not identifiers, f"{name} mentions {sorted(identifiers)}"
    for p in PARAM_NAMES:
        assert not re.search(rf"\b{p}\s*=", text), f"{name} sets {p}"


def test_template_as_shipped_is_neutral():
    sc = load_scenario(SCENARIOS / "template.toml")
    for k in SITE_LEVELS:
        assert getattr(sc.site, k) == 0.5, k
    assert sc.site.leadership_turnover_history == TURNOVER["average"] == 1.0
    assert sc.leaders and all(ld.stance == 0.0 for ld in sc.leaders)
    assert all(ld.knowledge == 0.5 and not ld.patron for ld in sc.leaders)
    assert sc.partners and all(p.commitment == 0.5 and p.seniority == 0.5 for p in sc.partners)
    assert sc.supervisor.clinical_skill == 0.5 and sc.supervisor.system_leadership == 0.5
    assert not sc.supervisor.prior_mst_experience and sc.supervisor.style == "balanced"
    assert sc.site.launch_framing == "balanced" and not sc.site.research_trial
    assert sc.levers == Levers() and sc.events == () and sc.parameters == ()


def test_template_documents_every_key():
    text = (SCENARIOS / "template.toml").read_text(encoding="utf-8")
    from sim.scenario import Event, LeaderSpec, PartnerSpec, Site, SupervisorSpec

    for cls in (Site, LeaderSpec, PartnerSpec, SupervisorSpec, Levers, Event):
        for key in cls.__dataclass_fields__:
            assert re.search(rf"\b{key}\b", text), f"template.toml does not mention {key}"


# --- copies with levers and parameters ----------------------------------------------------------
@pytest.fixture(scope="module")
def template():
    return load_scenario(SCENARIOS / "template.toml")


def test_with_levers_changes_a_copy(template):
    sc = template.with_levers(succession_planning=True, co_funding=0.3,
                              protected_funding_years=2, programme_manager="on")
    assert sc.levers.succession_planning and sc.levers.co_funding == 0.3
    assert sc.levers.protected_funding_years == 2 and sc.levers.programme_manager == "on"
    assert template.levers == Levers()
    assert sc.site == template.site and sc.leaders == template.leaders
    assert template.with_levers(programme_manager=False).levers.programme_manager == "off"
    assert template.with_levers(co_funding=0).levers.co_funding == 0.0
    assert template.with_levers(co_funding=0.6).levers.co_funding == 0.6


@pytest.mark.parametrize("lever,value,fragment", [
    ("free_money", True, "levers.free_money: unknown lever"),
    ("co_funding", 0.7, "levers.co_funding: 0.7 is out of range"),
    ("co_funding", -0.1, "levers.co_funding"),
    ("co_funding", math.nan, "levers.co_funding"),
    ("co_funding", "half", "levers.co_funding"),
    ("succession_planning", "yes", "levers.succession_planning: expected true or false"),
    ("succession_planning", 1, "levers.succession_planning"),
    ("protected_funding_years", 2.5, "levers.protected_funding_years"),
    ("protected_funding_years", 11, "levers.protected_funding_years"),
    ("protected_funding_years", True, "levers.protected_funding_years"),
    ("programme_manager", "maybe", "levers.programme_manager"),
])
def test_with_levers_rejects_bad_values(template, lever, value, fragment):
    with pytest.raises(ScenarioError) as info:
        template.with_levers(**{lever: value})
    assert fragment in str(info.value)
    assert str(info.value).startswith(template.source)


def test_with_parameters_accepts_each_range_end(template):
    for p in PARAMETERS:
        for v in (p.low, p.high):
            value = int(v) if p.integer else v
            sc = template.with_parameters(**{p.name: value})
            assert dict(sc.parameters)[p.name] == value
    assert template.parameters == ()


def test_with_parameters_merges_and_sorts(template):
    sc = template.with_parameters(team_cost=400_000.0, dcs_exit_rate=0.3)
    sc = sc.with_parameters(dcs_exit_rate=0.4)
    assert sc.parameters == (("dcs_exit_rate", 0.4), ("team_cost", 400_000.0))


@pytest.mark.parametrize("param", PARAMETERS, ids=lambda p: p.name)
def test_with_parameters_rejects_values_outside_the_range(template, param):
    span = param.high - param.low
    for bad in (param.low - max(span * 0.01, 1), param.high + max(span * 0.01, 1)):
        bad = int(bad) if param.integer else bad
        with pytest.raises(ScenarioError, match=rf"parameters\.{param.name}: .*out of range"):
            template.with_parameters(**{param.name: bad})
    for bad in (math.nan, math.inf, True, "high"):
        with pytest.raises(ScenarioError, match=rf"parameters\.{param.name}"):
            template.with_parameters(**{param.name: bad})


def test_with_parameters_rejects_unknown_names(template):
    with pytest.raises(ScenarioError, match="parameters.closure_rate: unknown mechanism"):
        template.with_parameters(closure_rate=0.1)


def test_integer_parameters_need_whole_numbers(template):
    integer = [p for p in PARAMETERS if p.integer]
    assert integer
    for p in integer:
        with pytest.raises(ScenarioError, match="whole number"):
            template.with_parameters(**{p.name: p.low + 0.5})


def test_parameters_table_in_a_file_is_validated_like_with_parameters(tmp_path, template):
    path = tmp_path / "exp.toml"
    path.write_text((SCENARIOS / "template.toml").read_text(encoding="utf-8")
                    + "\n[parameters]\ndcs_exit_rate = 0.3\ntherapist_posts = 4\n",
                    encoding="utf-8")
    sc = load_scenario(path)
    assert sc.parameters == (("dcs_exit_rate", 0.3), ("therapist_posts", 4))
    assert sc.parameters == template.with_parameters(therapist_posts=4,
                                                     dcs_exit_rate=0.3).parameters


# --- other loader behaviour ---------------------------------------------------------------------
def test_events_are_sorted_by_month_and_start_is_parsed():
    data = dict(MINIMAL, run={"start": "2010-09", "horizon_months": 48},
                events=[{"month": 30, "kind": "budget_cut", "fraction": 0.2},
                        {"month": 6, "kind": "inspection", "rating": "inadequate"},
                        {"month": 47, "kind": "supervisor_departs"}])
    sc = parse_scenario(data, "t.toml")
    assert [e.month for e in sc.events] == [6, 30, 47]
    assert (sc.start_year, sc.start_month, sc.horizon_months) == (2010, 9, 48)


def test_digest_follows_the_text(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    text = (SCENARIOS / "template.toml").read_text(encoding="utf-8")
    a.write_text(text, encoding="utf-8")
    b.write_text(text + "\n# a comment\n", encoding="utf-8")
    assert load_scenario(a).digest == load_scenario(SCENARIOS / "template.toml").digest
    assert load_scenario(a).digest != load_scenario(b).digest


def test_scenario_error_survives_pickling_for_worker_processes():
    import pickle

    err = ScenarioError("f.toml", "levers.co_funding", "0.7 is out of range; allowed 0.0..0.6")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ScenarioError and str(back) == str(err)
    assert (back.source, back.key) == ("f.toml", "levers.co_funding")


# --- Ofsted grades ------------------------------------------------------------------------------
@pytest.mark.parametrize("word,grade", [("outstanding", "outstanding"), ("good", "good"),
                                        ("requires improvement", "adequate"),
                                        ("requires_improvement", "adequate"),
                                        ("adequate", "adequate"), ("inadequate", "inadequate")])
def test_current_and_older_ofsted_grades_map_to_the_models_spelling(word, grade):
    data = with_site(ofsted_rating=word)
    data["events"] = [{"month": 6, "kind": "inspection", "rating": word}]
    sc = parse_scenario(data, "t.toml")
    assert sc.site.ofsted_rating == grade and sc.events[0].rating == grade
    assert grade in OFSTED


# --- people and events that cannot be ------------------------------------------------------------
def test_two_heads_of_service_are_fine_but_not_two_chief_executives():
    sc = load_scenario(SCENARIOS / "isolated_coastal.toml")
    assert [ld.role for ld in sc.leaders].count("head_of_service") == 2
    data = dict(MINIMAL, leaders=[{"role": "head_of_service"}, {"role": "head_of_service"},
                                  {"role": "assistant_director"}, {"role": "assistant_director"}])
    assert len(parse_scenario(data, "t.toml").leaders) == 4
    for role in SINGLE_HOLDER_ROLES:
        data = dict(MINIMAL, leaders=[{"role": role}, {"role": "head_of_service"}, {"role": role}])
        with pytest.raises(ScenarioError, match=rf"t\.toml: leaders\[2\]\.role: a second '{role}' "
                                                r"\(leaders\[0\] holds the role\)"):
            parse_scenario(data, "t.toml")


def test_events_must_be_able_to_happen():
    base = dict(MINIMAL, leaders=[{"role": "chief_executive"}],
                partners=[{"agency": "yos"}, {"agency": "yos"}])
    ok = dict(base, events=[{"month": 3, "kind": "leader_departs", "role": "chief_executive"},
                            {"month": 4, "kind": "leader_departs", "role": "chief_executive"},
                            {"month": 5, "kind": "partner_withdraws", "agency": "yos"},
                            {"month": 9, "kind": "partner_withdraws", "agency": "yos"}])
    assert len(parse_scenario(ok, "t.toml").events) == 4  # a successor can leave in turn
    third = dict(base, events=[*ok["events"],
                               {"month": 2, "kind": "partner_withdraws", "agency": "yos"}])
    with pytest.raises(ScenarioError, match=r"events\[3\]\.agency: 'yos' has already withdrawn "
                                            r"\(events\[2\]\)"):
        parse_scenario(third, "t.toml")  # run by month, events[3] is the third withdrawal


# --- limits ----------------------------------------------------------------------------------------
def test_limits_are_inclusive():
    data = with_site(name="N" * MAX_NAME_CHARS)
    data["leaders"] = [{"role": "head_of_service", "name": "L" * MAX_NAME_CHARS}] * MAX_LEADERS
    data["partners"] = [{"agency": "yos"}] * MAX_PARTNERS
    data["events"] = [{"month": 1 + i % 100, "kind": "budget_cut", "fraction": 0.0}
                      for i in range(MAX_EVENTS)]
    sc = parse_scenario(data, "t.toml")
    assert len(sc.events) == MAX_EVENTS and len(sc.site.name) == MAX_NAME_CHARS
    assert (MAX_NAME_CHARS, MAX_EVENTS, MAX_LEADERS, MAX_PARTNERS) == (120, 500, 12, 12)
    data["partners"] = [{"agency": "yos"}] * (MAX_PARTNERS + 1)
    with pytest.raises(ScenarioError, match="partners: at most 12 entries are allowed, got 13"):
        parse_scenario(data, "t.toml")


@pytest.mark.parametrize("name", ["Tab\there", "Bell\a", "Esc\x1b[0m", "C1\x9b2J", "Rtl\u202eX",
                                  "Nul\x00"])
def test_names_with_control_characters_are_refused_and_shown_escaped(name):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(with_site(name=name), "t.toml")
    message = str(info.value)
    assert message.startswith("t.toml: site.name: control characters and terminal escape codes "
                              "are not allowed (found '\\")
    assert all(c.isprintable() for c in message), repr(message)


def test_names_may_hold_letters_of_any_language():
    for name in ("Ynys Môn", "Rhondda Cynon Taf", "Gaeltacht – Dún na nGall", "O'Brien-Smith"):
        assert parse_scenario(with_site(name=name), "t.toml").site.name == name


# --- the published JSON Schema ---------------------------------------------------------------------
def test_committed_json_schema_is_current():
    committed = (ROOT / SCHEMA_PATH).read_text(encoding="utf-8")
    assert committed == scenario_json_schema_text(), \
        "docs/scenario.schema.json is stale: run python scripts/scenario_schema.py"


ALL_SCENARIOS = sorted(SCENARIOS.rglob("*.toml"))


@pytest.mark.parametrize("path", ALL_SCENARIOS, ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_every_shipped_scenario_loads_and_meets_the_json_schema(path):
    jsonschema = pytest.importorskip("jsonschema")
    assert load_scenario(path).site.name
    validator = jsonschema.Draft202012Validator(scenario_json_schema())
    errors = [e.message for e in validator.iter_errors(tomllib.loads(path.read_text("utf-8")))]
    assert errors == []


@pytest.mark.parametrize("doc", [
    {"site": {"name": "T", "population": 250_000}},  # a required key missing
    dict(MINIMAL, events=[{"month": 5, "kind": "supervisor_departs", "fraction": 0.2}]),
    dict(MINIMAL, events=[{"month": 5, "kind": "earthquake"}]),
    dict(MINIMAL, leaders=[{"role": "mayor"}]),
    with_site(ofsted_rating="excellent"),
    with_site(values_fit=1.5),
    with_site(name="x" * 121),
    dict(MINIMAL, parameters={"closure_rate": 0.1}),
])
def test_json_schema_refuses_what_the_loader_refuses(doc):
    jsonschema = pytest.importorskip("jsonschema")
    with pytest.raises(ScenarioError):
        parse_scenario(doc, "t.toml")
    assert not jsonschema.Draft202012Validator(scenario_json_schema()).is_valid(doc)


def test_template_points_editors_at_the_schema():
    text = (SCENARIOS / "template.toml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "#:schema ../docs/scenario.schema.json"
    assert (SCENARIOS / "template.toml").parent.joinpath(
        "../docs/scenario.schema.json").resolve() == (ROOT / SCHEMA_PATH).resolve()
    assert tomllib.loads(text)["site"]["name"]
