"""The assessment page without a browser: its form, its checks, its TOML and its runner."""

from __future__ import annotations

import dataclasses
import threading
import tomllib
from pathlib import Path

import pytest

from dashboard import assess_form as af
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def _same(a, b) -> bool:
    return dataclasses.replace(a, source="", text="") == dataclasses.replace(b, source="",
                                                                            text="")


@pytest.mark.parametrize("name", ["template", "metro_city", "expanded_city",
                                  "isolated_coastal"])
def test_a_file_through_the_form_comes_back_the_same(name, tmp_path):
    path = ROOT / "scenarios" / f"{name}.toml"
    form = af.form_from_toml(path.read_text(encoding="utf-8"))
    scenario, key, message = af.check(form)
    assert (key, message) == ("", "")
    assert _same(scenario, load_scenario(path))
    out = tmp_path / "built.toml"
    out.write_text(af.to_toml(form), encoding="utf-8")
    assert _same(load_scenario(out), load_scenario(path))
    assert "[[leaders]]" in out.read_text(encoding="utf-8")


def test_fields_come_from_the_schema_in_the_rubric_words():
    site = {f.name: f for f in af.fields()["site"]}
    assert site["collaboration_history"].kind == "choice"
    assert site["collaboration_history"].choices == ("none", "very low", "low", "medium",
                                                     "high", "very high")
    assert site["leadership_turnover_history"].choices[0] == "stable"
    assert site["ofsted_rating"].choices == ("outstanding", "good", "requires improvement",
                                             "inadequate")
    assert site["population"].kind == "integer" and site["population"].low == 10_000
    assert "residents, 10,000 to 10,000,000" in site["population"].label
    assert site["research_trial"].kind == "flag"
    leaders = {f.name: f for f in af.fields()["leaders"]}
    assert "champion" in leaders["stance"].choices
    assert "horizon_months" not in {f.name for f in af.fields()["run"]}


def test_a_bad_value_gets_the_loaders_message_at_its_field():
    form = af.blank_form()
    form["site"]["population"] = "5"
    scenario, key, message = af.check(form)
    assert scenario is None and key == "site.population" and "out of range" in message
    form["site"]["population"] = "lots"
    assert af.check(form)[1] == "site.population"
    form["site"]["population"] = "250,000"  # a thousands separator is read
    assert af.check(form)[0] is not None
    form["leaders"][1]["stance"] = "angry"
    _, key, message = af.check(form)
    assert af.field_key(key) == "leaders.1.stance" and "hostile" in message


def test_rows_are_added_and_a_number_off_the_rubric_is_kept():
    form = af.blank_form()
    form["partners"].append(af.new_row("partners"))
    assert form["partners"][-1] == {"agency": "camhs", "commitment": "medium",
                                    "seniority": "medium"}
    form["site"]["collaboration_history"] = "0.45"
    scenario, key, _ = af.check(form)
    assert key == "" and scenario.site.collaboration_history == pytest.approx(0.45)
    assert len(scenario.partners) == 4
    back = af.form_from_data(tomllib.loads(af.to_toml(form)))
    assert back["site"]["collaboration_history"] == "0.45"


def test_bad_toml_is_one_message():
    with pytest.raises(ValueError, match="not valid TOML"):
        af.form_from_toml("[site\nname = ")


def test_file_stem_is_safe():
    form = af.blank_form()
    form["site"]["name"] = "St. Helen's & Co / North"
    assert af.file_stem(form) == "st_helen_s_co_north"


def test_runner_tells_the_parts_in_order_and_cancel_keeps_nothing(tmp_path, monkeypatch):
    import tempfile

    from dashboard.assess_runner import Cancelled, Settings, run_assessment

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    small = Settings(seed=2, replicates=4, trajectories=2, screen_replicates=1, workers=1)
    heard = []
    outcome = run_assessment(af.to_toml(af.blank_form()), "neutral", small, threading.Event(),
                             lambda kind, value: heard.append(kind))
    assert [k for k in heard if k != "progress"] == ["started", "outlook", "levers",
                                                      "drivers", "assessment"]
    assert outcome.report.startswith(b"<!DOCTYPE html>") and outcome.first_result_s > 0
    assert "--seed 2" in outcome.assessment.provenance["command"]
    assert list(tmp_path.iterdir()) == []  # the page keeps the report's bytes, not the folder

    cancel = threading.Event()

    def tell(kind, value):
        if kind == "progress":
            cancel.set()

    with pytest.raises(Cancelled):
        run_assessment(af.to_toml(af.blank_form()), "neutral", small, cancel, tell)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is kept


def test_the_study_sites_curves_are_run_once_per_seed():
    from dashboard.assess_runner import Settings, site_curves

    small = Settings(seed=5, replicates=3, workers=1)
    curves = site_curves(small)
    assert set(curves) == {"Metro City", "Expanded City", "Isolated Coastal"}
    assert all(k.variant == name and k.n == 3 for name, k in curves.items())
    assert site_curves(small) is curves
