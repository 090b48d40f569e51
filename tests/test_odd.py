"""docs/ODD.md must stay in step with the code.

- Every mechanism parameter is named in the text of the ODD (outside the generated table too, so
  each one is documented in a submodel).
- The generated tables between the markers equal what scripts/odd_params.py prints now, so the
  document cannot drift from sim/parameters.py while defaults are recalibrated.
- Every rubric word of sim/scenario.py appears with its value, and every allowed value and key of
  the scenario schema appears in the schema section.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

import pytest

from sim import scenario
from sim.parameters import PARAMETERS

ROOT = Path(__file__).resolve().parents[1]
ODD = ROOT / "docs" / "ODD.md"


def _generator():
    spec = importlib.util.spec_from_file_location("odd_params", ROOT / "scripts" / "odd_params.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()
TEXT = ODD.read_text(encoding="utf-8")


def _without_generated(text: str) -> str:
    for begin, end in GEN.blocks():
        i, j = text.find(begin), text.find(end)
        text = text[:i] + text[j + len(end):]
    return text


@pytest.mark.parametrize("name", [p.name for p in PARAMETERS])
def test_every_parameter_is_documented(name):
    assert f"`{name}`" in TEXT, f"{name} missing from docs/ODD.md"
    assert re.search(rf"\b{re.escape(name)}\b", _without_generated(TEXT)), (
        f"{name} appears only in the generated table; describe it in a submodel (§7)")


@pytest.mark.parametrize("markers", list(GEN.blocks()), ids=lambda m: m[0])
def test_generated_tables_are_current(markers):
    expected = GEN.blocks()[markers]
    assert GEN.extract(TEXT, markers) == expected.strip(), (
        "docs/ODD.md is out of date: run python scripts/odd_params.py --write")


def test_generator_round_trip_is_stable():
    assert GEN.render(TEXT) == TEXT


def test_parameter_table_has_one_row_per_parameter():
    rows = [r for r in GEN.parameter_table().splitlines()[2:] if r.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == [p.name for p in PARAMETERS]


@pytest.mark.parametrize("table", ["LEVELS", "STANCES", "TURNOVER"])
def test_every_rubric_word_appears_with_its_value(table):
    for word, value in getattr(scenario, table).items():
        assert f"| `{word}` | {value!r} |" in TEXT, f"rubric {word} = {value} missing from §5.2"


SCHEMA_CHOICES = ["OFSTED", "HOSTS", "FRAMINGS", "ROLES", "AGENCIES", "STYLES", "EVENT_KINDS"]
SCHEMA_CLASSES = ["Site", "LeaderSpec", "PartnerSpec", "SupervisorSpec", "Levers", "Event"]


@pytest.mark.parametrize("choices", SCHEMA_CHOICES)
def test_every_allowed_value_appears(choices):
    for value in getattr(scenario, choices):
        assert f"`{value}`" in TEXT, f"allowed value {value} ({choices}) missing from docs/ODD.md"


@pytest.mark.parametrize("cls", SCHEMA_CLASSES)
def test_every_scenario_key_appears(cls):
    for f in dataclasses.fields(getattr(scenario, cls)):
        assert f"`{f.name}`" in TEXT, f"scenario key {cls}.{f.name} missing from docs/ODD.md"


def test_required_sections_exist():
    for heading in ("## 1 Purpose and patterns", "## 2 Entities, state variables and scales",
                    "## 3 Process overview and scheduling", "## 4 Design concepts",
                    "## 5 Initialisation", "## 6 Input data", "## 7 Submodels",
                    "## 8 Parameters", "## 9 Scenario files", "## 10 Calibration",
                    "## 11 Known limitations"):
        assert heading in TEXT, heading
