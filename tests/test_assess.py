"""Readiness assessment: lever options, the local screening and the command line."""

from __future__ import annotations

import pandas as pd
import pytest

import run
from experiments.analysis.readiness import LEVER_OPTIONS, lever_variants, risk_band
from sim.scenario import load_scenario


def test_lever_variants_skip_levers_in_place():
    base = load_scenario("scenarios/template.toml")
    variants, tried, skipped = lever_variants(base, "template")
    assert variants[0] == ("template", base)
    # The template's launch is balanced: that lever cannot help and is not tried.
    assert "balanced_launch" in skipped
    assert len(tried) == len(LEVER_OPTIONS) - 1
    on = base.with_levers(succession_planning=True, protected_funding_years=5, co_funding=0.2)
    _, tried2, skipped2 = lever_variants(on, "x")
    assert {"succession_planning", "protected_funding_years", "co_funding"} <= set(skipped2)
    assert len(tried2) == len(tried) - 3
    labels = [v for v, _ in variants]
    assert len(set(labels)) == len(labels)


def test_risk_band_thresholds():
    assert risk_band(0.8).startswith("lower risk")
    assert risk_band(0.5).startswith("medium risk")
    assert risk_band(0.1).startswith("high risk")


def test_cli_assess_small(tmp_path, capsys):
    code = run.main(["assess", "scenarios/isolated_coastal.toml", "--replicates", "8",
                     "--trajectories", "2", "--screen-replicates", "2", "--no-progress",
                     "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert code == 0
    assert "Readiness assessment: Isolated Coastal" in text
    assert "still running at  5 years" in text
    assert "Five most influential risk drivers" in text and "Levers ranked" in text
    drivers = pd.read_csv(tmp_path / "drivers.csv")
    levers = pd.read_csv(tmp_path / "levers.csv")
    assert len(drivers) >= 5 and list(levers["rank"]) == list(range(1, len(levers) + 1))
    assert (levers["diff"].diff().dropna() <= 1e-12).all()  # ranked by 5-year effect
    page = (tmp_path / "report.html").read_text()
    assert "Risk drivers for this authority" in page and "Levers ranked" in page
    assert "<script" not in page and "http" not in page.split("<footer>")[0]


def test_cli_assess_bad_file_is_one_line(tmp_path, capsys):
    assert run.main(["assess", "missing.toml", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: missing.toml") and err.count("\n") == 1


@pytest.mark.slow
def test_assess_ranks_the_three_sites(tmp_path, capsys):
    code = run.main(["assess", "scenarios/isolated_coastal.toml", "scenarios/expanded_city.toml",
                     "scenarios/metro_city.toml", "--replicates", "100", "--trajectories", "4",
                     "--screen-replicates", "5", "--workers", "2", "--no-progress", "--out",
                     str(tmp_path)])
    text = capsys.readouterr().out
    assert code == 0
    ranking = (tmp_path / "ranking.txt").read_text().splitlines()
    assert "Metro City" in ranking[1] and "Isolated Coastal" in ranking[3]
    assert text.count("Five most influential risk drivers") == 3
    assert not list(tmp_path.rglob("runs.sqlite*"))  # each authority's store went when complete
