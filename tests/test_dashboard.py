"""The seminar dashboard's model side (dashboard/dashboard.py) and the seminar pack, without a
browser: injecting events through the model's own code, the views the page shows, the
``dashboard`` command's exit status without the viz extra, and every seminar file."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

import run
from dashboard import dashboard as dash
from sim import load_scenario
from sim.scenario import Event

ROOT = Path(__file__).resolve().parents[1]
SEMINARS = sorted((ROOT / "scenarios" / "seminars").glob("*.toml"))


def stepped(months: int, **kwargs) -> dash.DashboardModel:
    """Metro City stepped ``months`` months; protected funding keeps budget decisions from
    closing it meanwhile, whatever the calibrated parameters are."""
    model = dash.DashboardModel(**{"site": "metro_city", "seed": 3,
                                   "protected_funding_years": 4, **kwargs})
    for _ in range(months):
        model.step()
    return model


def series(model):
    return model.datacollector.get_model_vars_dataframe()


# --------------------------------------------------------------------------- the model it runs
def test_levers_from_the_controls_replace_the_files():
    model = dash.DashboardModel(site="seminars/supervisor_leaves_month30", seed="7",
                                succession_planning=True, protected_funding_years=2.0,
                                co_funding=0.1000001)
    assert model.levers.succession_planning is True
    assert model.levers.protected_funding_years == 2
    assert model.levers.co_funding == pytest.approx(0.1)
    assert model.file_levers.succession_planning is False
    assert model.seed_value == 7
    assert model.site_label == "seminars/supervisor_leaves_month30"
    s = dash.status(model)
    assert "Succession planning" in s["levers"]
    assert "Succession planning" in s["levers_overridden"]


def test_same_seed_same_run_as_the_plain_model():
    from sim.model import LocalAuthority

    a = stepped(30, protected_funding_years=0)
    # The stepped run uses the point set of the posterior sample (dash.point_scenario).
    b = LocalAuthority(dash.point_scenario(load_scenario(ROOT / "scenarios" / "metro_city.toml")),
                       3)
    for _ in range(30):
        b.step()
    assert series(a).equals(b.datacollector.get_model_vars_dataframe())


@pytest.mark.parametrize("text, seed, noted", [("12", 12, False), (" 5 ", 5, False),
                                               ("abc", 1, True), ("-3", 1, True)])
def test_seed_typed_into_the_page(text, seed, noted):
    value, note = dash.parse_seed(text)
    assert value == seed and bool(note) == noted
    if noted:
        model = dash.DashboardModel(seed=text)
        assert model.seed_value == 1
        assert "not a whole number" in model.log[0][1] or "out of range" in model.log[0][1]


def test_initial_parameters_follow_the_scenario_and_environment(monkeypatch):
    monkeypatch.setenv(dash.ENV_SCENARIO, str(ROOT / "scenarios" / "expanded_city.toml"))
    monkeypatch.setenv(dash.ENV_SEED, "42")
    params = dash.initial_parameters()
    assert params["site"] == "expanded_city" and params["seed"] == "42"
    assert set(params) == {"site", "seed", *dash.Levers.__dataclass_fields__}
    model = dash.DashboardModel(**params)
    assert model.spec.name == "Expanded City"


def test_catalogue_offers_sites_template_and_seminars():
    cat = dash.scenario_catalogue()
    assert {"metro_city", "expanded_city", "isolated_coastal", "template"} <= set(cat)
    assert sum(k.startswith("seminars/") for k in cat) >= 4
    assert dash.scenario_label(cat["metro_city"]) == "metro_city"
    assert dash.resolve_scenario("metro_city") == cat["metro_city"]


# --------------------------------------------------------------------------- injecting events
def test_leader_leaves_now_through_the_scripted_event_code():
    model = stepped(10)
    patron = next(ld for ld in model.leaders if ld.is_patron)
    text = dash.inject_event(model, Event(0, "leader_departs", role=patron.role,
                                          successor_stance=-0.5))
    assert "Assistant director, social care leaves" in text and "opposed" in text
    assert patron not in model.leaders
    new = next(ld for ld in model.leaders if ld.role == patron.role)
    assert new.newcomer and new.knowledge == pytest.approx(0.0) and new.support == -0.5
    months = [m for m, t in model.log if "scripted event: leader_departs" in t]
    assert months == [10]
    assert model.injected == [(10, text)]
    assert dash.leader_rows(model)[2].tags[-1] == "new"


def test_a_named_leader_sharing_a_role_is_the_one_who_leaves():
    model = dash.DashboardModel(site="isolated_coastal", seed=1)
    model.step()
    choices = dash.leader_choices(model)
    assert {"Head of social care", "Head of youth offending"} <= set(choices)
    yos = choices["Head of youth offending"]
    social = choices["Head of social care"]
    dash.inject_event(model, Event(0, "leader_departs", role="head_of_service"), yos)
    assert yos not in model.leaders and social in model.leaders


def test_supervisor_leaves_triggers_the_viability_review_and_updates_the_month():
    model = stepped(8)
    before = len(series(model))
    dash.inject_event(model, Event(0, "supervisor_departs"))
    assert model.totals["reviews"] == 1 and model.totals["supervisor_changes"] == 1
    assert len(series(model)) == before == model.month + 1
    team = dash.team_lines(model)[0] if not model.closed else None
    if team is not None:
        assert not team["supervisor_in_post"]
        assert series(model)["staff"].iloc[-1] == model.staff


def test_budget_cut_raises_pressure_at_once():
    model = stepped(40)  # the grant has gone, so the LA pays and a cut bites
    assert not model.closed
    pressure = model.pressure
    dash.inject_event(model, Event(0, "budget_cut", fraction=0.4))
    assert model.scripted_budget_factor == pytest.approx(0.6)
    assert model.pressure > pressure
    assert series(model)["pressure"].iloc[-1] == pytest.approx(model.pressure)
    assert any("scripted event: budget_cut" in t for m, t in model.log if m == 40)


def test_an_injected_cut_can_close_the_service():
    model = stepped(2, protected_funding_years=0)
    model.margin_at = lambda standing: -5.0  # far below the closure threshold: it closes
    dash.inject_event(model, Event(0, "budget_cut", fraction=0.5))
    assert model.closed and model.closure_cause == "in_year_cut" and not model.running
    assert model.closure_month == 2
    assert dash.status(model)["fate"].startswith("Closed in month 2 (2008-06)")
    assert dash.team_lines(model) == []


def test_partner_withdraws_and_cannot_withdraw_twice():
    model = stepped(5)
    dash.inject_event(model, Event(0, "partner_withdraws", agency="camhs"))
    camhs = next(pt for pt in model.partners if pt.agency == "camhs")
    assert not camhs.active and "CAMHS" not in dash.partner_choices(model)
    with pytest.raises(ValueError, match="not an active partner"):
        dash.inject_event(model, Event(0, "partner_withdraws", agency="camhs"))


def test_no_injection_after_closure_or_of_other_kinds():
    model = stepped(2)
    with pytest.raises(ValueError, match="cannot inject"):
        dash.inject_event(model, Event(0, "inspection", rating="good"))
    model.close("budget_round")
    with pytest.raises(ValueError, match="closed"):
        dash.inject_event(model, Event(0, "supervisor_departs"))


def test_injections_are_reproducible():
    def session():
        model = stepped(12)
        dash.inject_event(model, Event(0, "leader_departs", role="chief_executive"))
        for _ in range(6):
            model.step()
        dash.inject_event(model, Event(0, "budget_cut", fraction=0.2))
        for _ in range(12):
            model.step()
        return series(model), model.log

    (s1, log1), (s2, log2) = session(), session()
    assert s1.equals(s2) and log1 == log2


# --------------------------------------------------------------------------- views
def test_views_describe_the_month():
    model = stepped(13)
    s = dash.status(model)
    assert s["month"] == 13 and s["date"] == "2009-05"
    assert s["next_budget_round"].startswith("month 24 (2010-04)")
    assert dash.budget_round_months(model, 40) == [12, 24, 36]
    rows = dash.leader_rows(model)
    assert [r.name for r in rows][:1] == ["Chief executive"]
    assert any("patron" in r.tags for r in rows) or model.totals["leader_changes"] > 0
    assert all(r.stance in dash.STANCES for r in rows)
    assert [p.agency for p in dash.partner_rows(model)][0] == "CAMHS"
    assert dash.stance_word(0.75) == "champion" and dash.stance_word(-0.1) in ("neutral",
                                                                                "sceptical")


# --------------------------------------------------------------------------- the command
def test_dashboard_command_without_viz_extra(monkeypatch, capsys):
    monkeypatch.setattr(dash, "viz_available", lambda: False)
    assert run.main(["dashboard", "scenarios/metro_city.toml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install -e ".[viz]"' in err[0]


def test_dashboard_command_rejects_a_bad_scenario_before_serving(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(dash, "viz_available", lambda: True)
    assert run.main(["dashboard", str(tmp_path / "missing.toml")]) == 2
    assert "file not found" in capsys.readouterr().err


# --------------------------------------------------------------------------- the seminar pack
def test_at_least_four_seminar_exercises():
    assert len(SEMINARS) >= 4
    text = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    for path in SEMINARS:
        assert f"seminars/{path.name}" in text, f"{path.name} has no facilitator guide"


@pytest.mark.parametrize("path", SEMINARS, ids=lambda p: p.stem)
def test_seminar_files_use_events_and_levers_only(path):
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert "parameters" not in data, "seminars never override mechanism parameters"
    scenario = load_scenario(path)
    assert scenario.parameters == ()
    assert scenario.events or path.stem == "metro_city_with_expanded_churn"
    # Each is a copy of a shipped authority: only its name, events (and, for the churn
    # exercise, its turnover record) differ.
    base = {"metro": "metro_city", "expanded": "expanded_city"}.get(path.stem.split("_")[0],
                                                                    "template")
    ref = load_scenario(ROOT / "scenarios" / f"{base}.toml")
    site = dataclasses.replace(scenario.site, name=ref.site.name)
    if path.stem == "metro_city_with_expanded_churn":
        assert site.leadership_turnover_history == 2.0
        site = dataclasses.replace(
            site, leadership_turnover_history=ref.site.leadership_turnover_history)
    assert site == ref.site
    assert (scenario.leaders, scenario.partners, scenario.supervisor) == \
        (ref.leaders, ref.partners, ref.supervisor)
    assert scenario.levers == ref.levers


# --------------------------------------------------------------------------- the page module
def test_page_parameters_and_charts_without_a_browser():
    pytest.importorskip("solara", reason="the viz extra is not installed")
    from mesa.visualization.solara_viz import _check_model_params, split_model_params

    from dashboard import dashboard_app as app

    params = app.model_params(dash.initial_parameters("seminars/metro_patron_leaves_month18"))
    model = app.LockedModel(**{k: v["value"] for k, v in params.items()})
    _check_model_params(model, params)  # mesa's own check of the names against __init__
    adjustable, fixed = split_model_params(params)
    assert set(adjustable) == set(params) and not fixed
    assert "seminars/metro_patron_leaves_month18" in params["site"]["values"]
    for _ in range(25):
        model.step()
    assert not model.closed  # this seminar is still open at month 25, so the injection runs
    dash.inject_event(model, Event(0, "supervisor_departs"))
    assert (25, "scripted event: supervisor_departs") in model.log
    assert model.totals["supervisor_changes"] >= 1
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == model.month + 1 and frame["staff"].iloc[-1] == model.staff
    for make in app.CHARTS:
        fig = make(model)
        assert fig.axes and fig.axes[0].get_xlim()[1] >= model.month


def test_charts_have_labelled_axes_marks_and_the_colour_blind_safe_palette():
    pytest.importorskip("solara", reason="the viz extra is not installed")
    from matplotlib.colors import to_hex

    from dashboard import dashboard_app as app
    from experiments.reports import palette

    model = dash.DashboardModel(site="seminars/metro_patron_leaves_month18", seed=1)
    for _ in range(14):
        model.step()
    dash.inject_event(model, Event(0, "budget_cut", fraction=0.2))
    allowed = {to_hex(c) for c in (*palette.OKABE_ITO.values(), palette.NEUTRAL)}
    assert len(app.CHARTS) == 4
    for make in app.CHARTS:
        ax = make(model).axes[0]
        assert ax.get_xlabel().startswith("months since go-live")
        assert ax.get_ylabel() and ax.get_title()
        colours = {to_hex(line.get_color()) for line in ax.get_lines()}
        assert colours <= allowed, make.__name__
        months = {round(line.get_xdata()[0]) for line in ax.get_lines()
                  if len(set(line.get_xdata())) == 1}  # the vertical marks
        assert {12, 14, 18} <= months  # a budget round, the injected cut, the file's event
        labels = {t.get_text() for t in ax.texts}
        assert {"budget cut", "leader leaves"} <= labels
    png = app.figure_png(app.margin_figure(model))
    assert png.startswith("data:image/png;base64,") and len(png) > 10_000
    # Three events in one month (the toxic trio's month 22): one short label, and the plot
    # keeps most of the figure's height.
    trio = dash.DashboardModel(site="seminars/toxic_trio_all", seed=1)
    for _ in range(22):
        trio.step()
    for make in app.CHARTS:
        fig = make(trio)
        fig.draw_without_rendering()  # the constrained layout runs at drawing
        ax = fig.axes[0]
        assert "3 events" in {t.get_text() for t in ax.texts}
        assert ax.get_position().height > 0.5, make.__name__


def test_palette_is_okabe_ito():
    from experiments.reports import palette

    assert len(set(palette.OKABE_ITO.values())) == 8
    assert set(palette.SERIES) == set(palette.OKABE_ITO.values())
    assert palette.series_colour(0) == palette.BLUE
    assert palette.series_colour(len(palette.SERIES)) == palette.series_colour(0)
    assert palette.NEUTRAL not in palette.SERIES


# --------------------------------------------------------------------------- the log (issue 15)
def _session(site="seminars/toxic_trio_all", seed=1, months=40, inject=((2, "supervisor"),
                                                                        (3, "cut"))):
    """A run with injections at given months, stepped to ``months`` or closure."""
    model = dash.DashboardModel(site=site, seed=seed)
    plan = dict(inject)
    for _ in range(months):
        model.step()
        action = plan.get(model.month)
        if action and not model.closed:
            if action == "supervisor" and model.teams[0].supervisor is not None:
                dash.inject_event(model, Event(0, "supervisor_departs"))
            elif action == "cut":
                dash.inject_event(model, Event(0, "budget_cut", fraction=0.2))
        if model.closed:
            break
    return model


def test_an_injection_is_one_line_of_the_log_in_plain_words():
    model = stepped(6)
    before = len(model.log)
    text = dash.inject_event(model, Event(0, "supervisor_departs"))
    # The model logs the event once; the page's log shows that line in the page's words.
    assert [t for _, t in model.log[before:]].count("scripted event: supervisor_departs") == 1
    assert not any("injected" in t for _, t in model.log)
    lines = [ln for ln in dash.log_lines(model) if ln.month == 6]
    assert lines[0].kind == "injected"
    assert lines[0].text == f"Injected from the dashboard: {text}"
    # "supervisor of team 1 left" says the same again: left out; the review is its own event.
    assert not any("supervisor of team 1 left" in ln.text for ln in lines)
    assert sum("supervisor" in ln.text and "leave" in ln.text for ln in lines) == 1
    assert lines[1].text.startswith("Viability review after the supervisor left")


def test_scheduled_events_are_one_line_each_and_named_as_the_files():
    model = _session(months=22, inject=())
    scheduled = [ln for ln in dash.log_lines(model) if ln.kind == "scheduled"]
    assert [ln.text for ln in scheduled] == [
        "Scheduled in the scenario: the assistant director leaves; the successor is sceptical",
        "Scheduled in the scenario: CAMHS withdraws from the partnership",
        "Scheduled in the scenario: a 20% in-year cut to the discretionary budget"]
    assert {ln.month for ln in scheduled} == {22}
    assert not any(ln.text == "The assistant director left" and ln.month == 22
                   for ln in dash.log_lines(model))


@pytest.mark.parametrize("site, seed", [("seminars/toxic_trio_all", 1), ("metro_city", 2),
                                        ("expanded_city", 4), ("isolated_coastal", 3),
                                        ("seminars/supervisor_leaves_month30", 2)])
def test_the_log_is_plain_words_and_complete(site, seed):
    model = _session(site, seed, months=120)
    lines = dash.log_lines(model)
    for ln in lines:
        assert "_" not in ln.text and "scripted event" not in ln.text, ln.text
        assert ln.text[0].isupper() and not ln.text.endswith("."), ln.text
        assert ln.date == model.calendar.label(ln.month)
    assert [ln.month for ln in lines] == sorted(ln.month for ln in lines)
    # Every line of the model's log is on the page, bar the restatements of an event.
    scripted = sum(t.startswith("scripted event: ") for _, t in model.log)
    from_log = [ln for ln in lines if ln.kind in ("injected", "scheduled", "model")
                and not ln.text.startswith("A partner's representative")]
    assert scripted <= len(from_log) <= len(model.log)
    assert sum(ln.kind == "injected" for ln in lines) == len(model.injected)
    # Cause-log events the text log lacks are there too, in sim.explanation's words.
    grant_steps = sum(k == "grant_step" for _, k in model.cause_log)
    assert sum(ln.text.startswith("The grant stepped down") for ln in lines) == grant_steps
    if model.closed:
        assert lines[-1].text.startswith("The service closed ")
    # Events of the month's own steps come before what was injected at the month's end.
    for k, ln in enumerate(lines):
        if ln.kind == "injected":
            assert not any(later.month == ln.month and later.text.startswith("A partner's")
                           for later in lines[k:]), ln


@pytest.mark.parametrize("raw, plain", [
    ("director childrens services left", "The director of children's services left"),
    ("assistant director left (interim)", "The interim assistant director left"),
    ("new supervisor for team 2", "A new supervisor took up post in team 2"),
    ("camhs withdrew its co-funding", "CAMHS stopped paying its share of the cost (co-funding)"),
    ("service closed (viability review)",
     "The service closed at the viability review after the supervisor left"),
    ("steering group now chaired by: none", "The steering group has no chair now"),
    ("new head of service proposed cutting MST; the patron (chief executive) stopped it",
     "The new head of service proposed cutting MST; the patron (chief executive) stopped it"),
    ("implementation review failed (adherence 0.40)",
     "An implementation review failed: adherence to the MST model was 40%"),
    ("something_new happened", "Something new happened"),
])
def test_plain_words_for_the_models_log_lines(raw, plain):
    assert dash.plain_log_text(raw) == plain


# --------------------------------------------------------------------------- cues, bars, marks
def test_pending_changes_name_what_reset_would_apply():
    params = dash.initial_parameters("seminars/supervisor_leaves_month30", 2)
    model = dash.DashboardModel(**params)
    assert dash.pending_changes(model, params) == []
    assert dash.pending_changes(model, {}) == []  # before the page has set its controls
    assert dash.pending_changes(model, {**params, "seed": " 2 "}) == []
    changed = {**params, "succession_planning": True, "co_funding": 0.2, "seed": "3"}
    assert dash.pending_changes(model, changed) == ["Seed", "Succession planning",
                                                    "Co-funding share"]
    rebuilt = dash.DashboardModel(**changed)  # what Reset does
    assert dash.pending_changes(rebuilt, changed) == []
    assert dash.pending_changes(rebuilt, {**changed, "site": "metro_city"}) == ["Scenario"]


def test_buffer_bars_are_the_models_named_measures():
    model = stepped(20)
    bars = {b.key: b for b in dash.buffer_bars(model)}
    assert list(bars) == ["leadership_shield", "partnership_shield", "system_leadership",
                          "reserve", "pressure_landing", "margin"]
    row = series(model).iloc[-1]
    for key, bar in bars.items():
        assert bar.value == pytest.approx(row[key])
        assert "defence" not in bar.label.lower()
    assert bars["margin"].value == pytest.approx(bars["reserve"].value
                                                 - bars["pressure_landing"].value)
    assert {b.scale for b in bars.values() if b.role == "buffer"} == {1.0}
    assert all(abs(b.value) <= b.scale for b in bars.values())


def test_timeline_marks_the_files_events_injections_and_closure():
    model = _session(months=120)
    marks = dash.timeline_marks(model)
    assert [(m.month, m.label) for m in marks if m.kind == "scheduled"] == [
        (22, "leader leaves"), (22, "partner withdraws"), (22, "budget cut")]
    injected = [(m.month, m.label) for m in marks if m.kind == "injected"]
    assert injected == [(mo, lbl) for mo, lbl in [(2, "supervisor leaves"), (3, "budget cut")]
                        if any(m == mo for m, _ in model.injected)]
    assert injected
    assert [m.month for m in marks if m.kind == "closed"] == (
        [model.closure_month] if model.closed else [])


# --------------------------------------------------------------------------- the ensemble reveal
def test_reveal_is_the_ensemble_of_run_py_compare(monkeypatch):
    import numpy as np

    from sim.simulate import simulate

    model = dash.DashboardModel(site="seminars/supervisor_leaves_month30", seed=2)
    assert [label for label, _ in dash.ensemble_variants(model)] == [dash.AS_FILED]
    rows = dash.ensemble_reveal(model, runs=12, seed=5)
    assert dash.cached_reveal(model, runs=12, seed=5) is rows
    assert dash.cached_reveal(model, runs=12, seed=6) is None
    (row,) = rows
    # History r is the scenario run with SeedSequence(root, spawn_key=(r,)) and the parameter
    # set the ensemble plan gives replicate r, as run.py compare.
    file = load_scenario(ROOT / "scenarios" / "seminars" / "supervisor_leaves_month30.toml")
    plan = dash.dashboard_plans()[1]
    sets = plan.sets(12, 5)
    outs = [simulate(plan.apply(file, sets[r]), np.random.SeedSequence(5, spawn_key=(r,)),
                     series=False).outputs for r in range(12)]
    ends = [o["end_month"] for o in outs]
    alive = sum(e > 60 for e in ends) / 12  # closed at the month-60 budget round: not alive
    assert row.runs == 12 and row.closed == sum(not o["survived"] for o in outs)
    assert row.alive_5y[0] == pytest.approx(alive)
    assert row.alive_5y[1] <= alive <= row.alive_5y[2]
    assert row.mean_months[0] == pytest.approx(np.mean(ends))
    line = dash.reveal_lines(rows)[0]
    assert f"in {round(alive * 12)} of 12 histories" in line and "95% plausible range" in line


def test_reveal_pairs_the_file_with_the_runs_levers():
    model = dash.DashboardModel(site="seminars/supervisor_leaves_month30", seed=2,
                                succession_planning=True)
    variants = dash.ensemble_variants(model)
    assert [label for label, _ in variants] == [dash.AS_FILED, dash.WITH_PAGE_LEVERS]
    assert variants[0][1].levers == model.file_levers
    assert variants[1][1].levers.succession_planning is True
    assert variants[0][1].events == variants[1][1].events == model.spec.events
    rows = dash.ensemble_reveal(model, runs=8, seed=1)
    assert [r.levers for r in rows] == [(), ("Succession planning",)]
    lines = dash.reveal_lines(rows)
    assert lines[0].startswith("As the file sets the levers (no levers): still running after")
    assert lines[1].startswith("With the levers of this run (Succession planning):")


def test_server_hides_solaras_banner():
    env = dash.server_environment("scenarios/metro_city.toml", 1)
    assert env["SOLARA_THEME_SHOW_BANNER"] == "False"
