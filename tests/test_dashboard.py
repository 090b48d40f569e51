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
    b = LocalAuthority(load_scenario(ROOT / "scenarios" / "metro_city.toml"), 3)
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
    for make in (app.margin_figure, app.activity_figure, app.leadership_figure):
        fig = make(model)
        assert fig.axes and fig.axes[0].get_xlim()[1] >= model.month
