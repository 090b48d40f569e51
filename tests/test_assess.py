"""Readiness assessment: lever options, the local screening and the command line."""

from __future__ import annotations

import numpy as np
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
    assert "The authority as entered:" in text and "Children looked after:" in text
    assert "  What you can change:" in text and "  Context (the authority as it is):" in text
    assert "Levers ranked by months of service" in text and "extra cost" in text
    assert "seed 1; parameters: posterior mode, 2 draws x 5 runs per draw" in text  # the sample
    assert "95% plausible ranges over the posterior sample's parameter sets and chance" in text
    assert "share of the spread from parameters (the rest is chance)" in text
    from experiments.runner.posterior import read_posterior

    assert text.splitlines()[0] == (f"parameters: posterior mode, 2 draws x 5 runs per draw from "
                                    f"{read_posterior().size} weighted sets; intervals cover "
                                    f"parameter uncertainty and chance")
    assert text.rstrip("\n").splitlines()[-1] == f"report: {tmp_path / 'report.html'}"
    drivers = pd.read_csv(tmp_path / "drivers.csv")
    levers = pd.read_csv(tmp_path / "levers.csv")
    assert set(drivers["class"]) == {"changeable", "context"}
    # context is never listed among what you can change
    context = set(drivers.loc[drivers["class"] == "context", "factor"])
    assert {"looked_after_children", "ofsted_rating"} <= context
    for _, d in drivers.groupby("class"):  # ranked by the one size shown, within each class
        assert list(d["rank"]) == list(range(1, len(d) + 1))
        assert (d["months_per_step"].abs().diff().dropna() <= 1e-9).all()
    crosses = (drivers["months_low"] <= 0) & (drivers["months_high"] >= 0)
    assert (drivers["direction_uncertain"] == crosses).all()
    assert list(levers["rank"]) == list(range(1, len(levers) + 1))
    assert (levers["rmst_diff"].diff().dropna() <= 1e-12).all()  # ranked by months of service
    for col in ("extra_cost", "extra_net_cost", "cost_per_year", "extra_cost_low",
                "cost_per_year_high"):
        assert col in levers.columns
    page = (tmp_path / "report.html").read_text()
    assert "Drivers for this authority" in page and "Levers ranked by the months" in page
    assert "What you can change" in page and "Context (the authority as it is)" in page
    assert "The authority as entered" in page and "Provenance" in page
    assert "posterior mode" in page and "--trajectories 2" in page
    assert "risk driver" not in page.lower()
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
    assert text.count("  What you can change:") == 3
    assert not list(tmp_path.rglob("runs.sqlite*"))  # each authority's store went when complete
    assert text.rstrip("\n").splitlines()[-1] == f"report: {tmp_path / 'report.html'}"
    index = (tmp_path / "report.html").read_text()
    assert 'href="metro_city/report.html"' in index and "never compared run by run" in index


# --------------------------------------------------------------------------- the pieces


def test_factor_classes_split_changeable_from_context():
    from experiments.analysis.factors import (
        CHANGEABLE,
        CONTEXT,
        FACTOR_CLASSES,
        MECHANISM,
        SITE_FACTORS,
        factor_class,
        local_factors,
    )

    base = load_scenario("scenarios/metro_city.toml")
    for f in [*SITE_FACTORS, *local_factors(base)]:
        assert factor_class(f.name) in (CHANGEABLE, CONTEXT)
    for name in ("looked_after_children", "ofsted_rating", "population"):
        assert FACTOR_CLASSES[name] == CONTEXT
    assert factor_class("partner_commitment") == CHANGEABLE
    assert factor_class("supervisor_exit_rate") == MECHANISM
    with pytest.raises(KeyError):
        factor_class("no_such_factor")


def _linear_design(slopes):
    """A local Morris design and an output that is exactly linear in the model values."""
    from experiments.analysis.factors import local_factors, row_frame
    from experiments.analysis.sensitivity import make_design

    factors = local_factors(load_scenario("scenarios/template.toml"))
    design = make_design(factors, "morris", 6, 3)
    values = row_frame(factors, design.X).drop(columns="row").to_numpy(float)
    y = values @ np.array([slopes.get(f.name, 0.0) for f in factors])
    return design, y


def test_driver_effects_are_per_step_and_ranked_by_the_size_shown():
    from experiments.analysis.readiness import driver_table, step_size

    slopes = {"collaboration_history": 10.0, "learning_climate": -30.0,  # per unit of 0-1 level
              "ofsted_rating": -2.0, "looked_after_children": 0.01}
    design, y = _linear_design(slopes)
    drivers = {d.factor.name: d for d in driver_table(design, y, seed=1)}
    assert drivers["collaboration_history"].effect == pytest.approx(2.0)  # 10 x 0.2
    assert drivers["learning_climate"].effect == pytest.approx(-6.0)
    assert drivers["ofsted_rating"].effect == pytest.approx(-2.0)  # per grade
    lac = drivers["looked_after_children"]
    assert lac.effect == pytest.approx(0.01 * step_size(lac.factor))
    assert drivers["values_fit"].no_effect and drivers["values_fit"].uncertain
    assert not drivers["learning_climate"].uncertain  # exact effects: a point interval
    ranked = driver_table(design, y, seed=1)
    assert [d.klass for d in ranked] == sorted((d.klass for d in ranked),
                                               key=["changeable", "context"].index)
    changeable = [d for d in ranked if d.klass == "changeable"]
    assert changeable[0].factor.name == "learning_climate" and changeable[0].rank == 1
    assert changeable[1].factor.name == "collaboration_history"
    context = [d for d in ranked if d.klass == "context"]
    assert context[0].factor.name == "ofsted_rating"


def test_a_driver_whose_interval_reaches_zero_is_flagged():
    from experiments.analysis.factors import local_factors
    from experiments.analysis.readiness import Driver

    f = local_factors(load_scenario("scenarios/template.toml"))[0]
    assert Driver(f, "changeable", 1.0, -0.5, 2.0, 10, 1).uncertain
    assert not Driver(f, "changeable", 1.0, 0.2, 2.0, 10, 1).uncertain
    assert Driver(f, "changeable", 1.0, float("nan"), float("nan"), 1, 1).uncertain


def _cost_runs(extra_months, cost_per_month=30_000.0, savings_per_month=10_000.0):
    rows = []
    for r, gain in enumerate(extra_months):
        for variant, end in (("base", 40 + r), ("+lever", 40 + r + gain)):
            rows.append({"run_id": len(rows), "variant": variant, "scenario": "A",
                         "replicate": r, "survived": False, "closure_month": float(end),
                         "closure_cause": "budget_round", "end_month": end,
                         "cost": cost_per_month * end,
                         "net_cost": (cost_per_month - savings_per_month) * end})
    return pd.DataFrame(rows)


def test_lever_costs_pair_the_runs_and_price_a_year_of_service():
    from experiments.analysis.readiness import lever_costs, lever_table

    runs = _cost_runs([12, 12, 24, 24, 12, 12, 24, 24])
    c = lever_costs(runs, "base", "+lever", horizon=120)
    assert c["extra_cost"] == pytest.approx(30_000 * 18)
    assert c["extra_net_cost"] == pytest.approx(20_000 * 18)
    assert c["extra_cost_low"] <= c["extra_cost"] <= c["extra_cost_high"]
    assert c["cost_per_year"] == pytest.approx(30_000 * 12)  # a year of service costs 12 months
    assert c["cost_per_year_low"] == pytest.approx(360_000) == c["cost_per_year_high"]
    none = lever_costs(_cost_runs([0] * 8), "base", "+lever", horizon=120)
    assert np.isnan(none["cost_per_year"]) and none["extra_cost"] == 0
    t = lever_table(runs, "base", [("+lever", "A lever")], horizon=120)
    assert list(t["rank"]) == [1] and t.loc[0, "rmst_diff"] == pytest.approx(18)


def test_money_formatters_carry_a_sign_and_an_interval():
    from experiments.reports import formatters as fmt

    assert fmt.money_signed(1_234_567) == "+£1.23m" and fmt.money_signed(-450_000) == "-£450k"
    assert fmt.money_signed(0) == "£0"
    assert fmt.money_interval(2e5, 1e5, 3e5, sign=True) == "+£200k (+£100k to +£300k)"
    assert fmt.money_interval(2e5, float("nan"), 3e5) == "£200k"


def test_the_authority_as_entered_lists_descriptors_and_people():
    from experiments.reports.authority import authority_text, levers_in_place

    sc = load_scenario("scenarios/metro_city.toml")
    text = "\n".join(authority_text(sc))
    assert sc.name in text and "Inspection (Ofsted) rating:" in text
    assert text.count("Partner, ") == len(sc.partners)
    assert text.count("Leader") >= len(sc.leaders) and "Supervisor, first supervisor" in text
    assert levers_in_place(sc.with_levers(co_funding=0.3, succession_planning=True)) == [
        "succession planning", "co-funding 30%"]
