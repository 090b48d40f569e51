"""Global sensitivity analysis: the SALib pipeline, its statistics, factors and the CLI."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from SALib.analyze import pawn
from SALib.test_functions import Ishigami

import run
from experiments.analysis.factors import (
    DRIVERS,
    FACTOR_SETS,
    FACTORS,
    GROUPS,
    Factor,
    apply_factors,
    describe_value,
    factor_class,
    local_factors,
    select_factors,
)
from experiments.analysis.sensitivity import (
    analyse,
    convergence,
    design_variants,
    evaluate_function,
    make_design,
    noise_share,
    pawn_medians,
    row_outputs,
    screened_factors,
    stability,
)
from experiments.errors import ExperimentError
from experiments.runner.execute import run_ensemble
from experiments.runner.posterior import resolve_plan
from experiments.runner.tasks import make_tasks
from sim.parameters import PARAMETERS
from sim.scenario import load_scenario

A, B = 7.0, 0.1


def ishigami_indices():
    """Analytic first- and total-order indices of the Ishigami function (Saltelli 2008)."""
    pi = math.pi
    v1 = 0.5 * (1 + B * pi**4 / 5) ** 2
    v2 = A**2 / 8
    v13 = 8 * B**2 * pi**8 / 225
    v = v1 + v2 + v13
    return (np.array([v1 / v, v2 / v, 0.0]), np.array([(v1 + v13) / v, v2 / v, v13 / v]))


def ishigami_factors():
    return [Factor(f"x{i}", f"x{i}", -math.pi, math.pi, "outcomes", "parameter")
            for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def ishigami_sobol():
    design = make_design(ishigami_factors(), "sobol", 1024, seed=3)
    y = evaluate_function(design, Ishigami.evaluate)
    return design, y, analyse(design, y, resamples=1000, seed=3)


# --- the pipeline on the Ishigami function ---------------------------------------------------


def test_ishigami_sobol_reproduces_analytic_indices_within_their_intervals(ishigami_sobol):
    _, _, table = ishigami_sobol
    s1, st = ishigami_indices()
    t = table.loc[["x1", "x2", "x3"]]
    assert np.all(np.abs(t.S1.to_numpy() - s1) <= t.S1_conf.to_numpy()), t
    assert np.all(np.abs(t.ST.to_numpy() - st) <= t.ST_conf.to_numpy()), t
    # The intervals are informative, not vacuous.
    assert np.all(t.ST_conf < 0.1) and np.all(t.S1_conf < 0.1)
    # Ranked by total order: x1 (0.56) > x2 (0.44) > x3 (0.24).
    assert list(table.index) == ["x1", "x2", "x3"]
    assert list(table["rank"]) == [1, 2, 3]


def test_ishigami_second_order_finds_the_x1_x3_interaction():
    design = make_design(ishigami_factors(), "sobol", 1024, seed=5, second_order=True)
    assert design.rows == 1024 * (2 * 3 + 2)
    table = analyse(design, evaluate_function(design, Ishigami.evaluate), seed=5)
    s2 = table.attrs["S2"]
    top = s2.iloc[0]
    assert {top.a, top.b} == {"x1", "x3"}
    v13 = ishigami_indices()[1][2]  # S13 = ST3 since x3 acts only through x1
    assert abs(top.S2 - v13) <= top.S2_conf


def test_ishigami_convergence_reuses_rows_and_is_stable(ishigami_sobol):
    design, y, _ = ishigami_sobol
    conv = convergence(design, y, resamples=200, seed=3)
    assert sorted(conv["n"].unique()) == [16, 32, 64, 128, 256, 512, 1024]
    assert set(conv["rows"]) == {n * 5 for n in conv["n"].unique()}
    verdict = stability(conv, design, k=3)
    assert verdict.stable and verdict.same_order and verdict.n == 1024 and verdict.n_half == 512
    assert "STABLE" in verdict.text


def test_sobol_design_is_extensible_and_rejects_bad_sizes():
    fs = ishigami_factors()
    big = make_design(fs, "sobol", 64, seed=9)
    small = make_design(fs, "sobol", 32, seed=9)
    np.testing.assert_array_equal(big.X[:small.rows], small.X)
    with pytest.raises(ExperimentError, match="power of two"):
        make_design(fs, "sobol", 100)
    with pytest.raises(ExperimentError, match="at least"):
        make_design(fs, "morris", 1)  # fewer than 2 trajectories
    with pytest.raises(ExperimentError, match="method"):
        make_design(fs, "fast", 64)
    with pytest.raises(ExperimentError, match="second-order"):
        make_design(fs, "morris", 10, second_order=True)


def test_morris_mu_star_is_the_effect_over_the_full_range():
    fs = [Factor("a", "a", 0, 1, "money", "parameter"), Factor("b", "b", 0, 2, "money",
                                                                  "parameter"),
          Factor("c", "c", 0, 1, "money", "parameter")]
    design = make_design(fs, "morris", 12, seed=2)
    y = evaluate_function(design, lambda X: 3 * X[:, 0] - 0.5 * X[:, 1] + 0 * X[:, 2])
    t = analyse(design, y, seed=2)
    assert t.loc["a", "mu_star"] == pytest.approx(3.0)
    assert t.loc["b", "mu"] == pytest.approx(-1.0)  # -0.5 per unit x 2 units of range
    assert t.loc["c", "mu_star"] == pytest.approx(0.0)
    assert list(t.index) == ["a", "b", "c"]


def test_pawn_statistic_matches_salib_and_ranks_ishigami():
    design = make_design(ishigami_factors(), "pawn", 1000, seed=4)
    y = evaluate_function(design, Ishigami.evaluate)
    ours = pawn_medians(design.X, y)
    theirs = pawn.analyze(design.problem, design.X, y, S=10)["median"]
    np.testing.assert_allclose(ours, theirs)
    t = analyse(design, y, resamples=100, seed=4)
    assert list(t.index) == ["x2", "x1", "x3"]
    assert np.all((t.median_low <= t["median"]) & (t["median"] <= t.median_high))
    assert t.attrs["dummy"] < t.loc["x3", "median"]  # x3 acts (through x1): above no-effect


def test_grouped_sobol_ranks_groups():
    fs = [replace(f, group=g) for f, g in zip(ishigami_factors(), ("money", "money",
                                                                    "workforce"), strict=True)]
    design = make_design(fs, "sobol", 256, seed=1, groups=True)
    assert design.units == ["money", "workforce"] and design.rows == 256 * 4
    t = analyse(design, evaluate_function(design, Ishigami.evaluate), seed=1)
    assert list(t.index) == ["money", "workforce"]
    assert t.loc["money", "ST"] > 0.6


# --- statistics for a stochastic, censored model ---------------------------------------------


def test_noise_share_recovers_known_variances():
    rng = np.random.default_rng(0)
    signal = rng.normal(0, 2.0, size=(4000, 1))       # variance 4 between rows
    y = signal + rng.normal(0, 1.0, size=(4000, 5))   # variance 1 within rows
    n = noise_share(y)
    assert n["within"] == pytest.approx(1.0, rel=0.05)
    assert n["single"] == pytest.approx(1 / 5, abs=0.02)
    assert n["mean"] == pytest.approx((1 / 5) / (4 + 1 / 5), abs=0.01)
    assert math.isnan(noise_share(y[:, :1])["single"])


def test_row_outputs_censoring_conventions():
    # Two rows x three replicates; horizon 120, five years = month 60.
    runs = pd.DataFrame({
        "run_id": range(6),
        "end_month": [60, 61, 120, 10, 120, 120],
        "survived": [False, False, True, False, True, True],
    })
    ro = row_outputs(runs, 2, 3, 120, 5)
    t = ro.table
    # Closed in month 60 is not alive at 5 years; closed in month 61 is.
    assert t.loc[0, "p_alive_5y"] == pytest.approx(2 / 3)
    assert t.loc[1, "p_alive_5y"] == pytest.approx(2 / 3)
    assert t.loc[0, "rmst"] == pytest.approx((60 + 61 + 120) / 3)
    assert t.loc[1, "median_months"] == 120  # median of min(T, h): not reached -> horizon
    assert ro.per_run["months_running"].shape == (2, 3)
    with pytest.raises(ExperimentError):
        row_outputs(runs.iloc[:5], 2, 3, 120, 5)


def _conv(full, half, low=None, high=None):
    rows = []
    for n, order in ((16, full), (8, half)):
        for rank, f in enumerate(order, 1):
            idx = 1.0 - 0.1 * rank
            lo = (low or {}).get(f, idx - 0.01) if n == 16 else idx - 0.01
            hi = (high or {}).get(f, idx + 0.01) if n == 16 else idx + 0.01
            rows.append({"n": n, "rows": n, "factor": f, "index": idx, "index_low": lo,
                         "index_high": hi, "rank": rank})
    return pd.DataFrame(rows)


def test_stability_verdicts():
    design = make_design(ishigami_factors(), "sobol", 16)
    names = list("abcdefg")
    same = stability(_conv(names, names), design)
    assert same.stable and same.same_order
    swapped = list("abdcefg")  # c and d swap at N/2
    clear = stability(_conv(names, swapped), design)
    assert clear.same_set and not clear.same_order and not clear.stable
    assert "NOT yet stable" in clear.text
    tie = stability(_conv(names, swapped, low={"c": 0.55}, high={"d": 0.75}), design)
    assert tie.stable and "ties" in tie.text
    other = stability(_conv(names, list("abcdfeg")), design)
    assert not other.same_set and not other.stable and "differ" in other.text
    assert "increase --n" in other.text and "tie" not in other.text
    boundary = stability(_conv(names, list("abcdfeg"), high={"f": 0.495}), design)
    assert not boundary.stable
    assert "place 5 is a statistical tie (e, f" in boundary.text
    assert "the first 4 are the same" in boundary.text


def test_screened_factors_keeps_those_within_a_tenth():
    t = pd.DataFrame({"mu_star": [1.0, 0.2, 0.05, 0.0], "mu_star_high": [1.2, 0.3, 0.12, 0.01],
                      "rank": [1, 2, 3, 4]}, index=list("abcd"))
    assert screened_factors(t) == ["a", "b", "c"]


# --- factors --------------------------------------------------------------------------------


def test_factor_registry():
    assert len(DRIVERS) >= 15
    drivers = select_factors("drivers")
    assert {f.group for f in drivers} >= {"leadership", "partnership", "money", "workforce",
                                          "referrals"}
    # MODEL §12: the default set is what a commissioner can observe or change - descriptors,
    # people, context, a money event and the levers - never a mechanism parameter.
    assert not any(f.kind == "parameter" for f in drivers)
    assert {f.kind for f in drivers} >= {"site", "leaders", "partners", "ofsted", "size", "lever",
                                         "event"}
    assert {factor_class(f.name) for f in drivers} == {"changeable", "context"}
    for f in FACTORS.values():
        assert f.label and f.group in GROUPS and f.low < f.high
    # Every mechanism parameter is a factor, with exactly the registry's range and label.
    assert set(FACTOR_SETS["mechanisms"]) == {p.name for p in PARAMETERS}
    for p in PARAMETERS:
        f = FACTORS[p.name]
        assert (f.low, f.high, f.label, f.group) == (p.low, p.high, p.label, p.group)


def test_select_factors_forms(tmp_path):
    assert [f.name for f in select_factors("gamma_system,collaboration_history")] == [
        "gamma_system", "collaboration_history"]
    path = tmp_path / "f.txt"
    path.write_text("# kept\ngamma_system\n\ncollaboration_history  # a comment\n")
    assert len(select_factors(f"@{path}")) == 2
    assert len(select_factors("all")) == len(FACTORS)
    for bad in ("nonsense", "gamma_system", f"@{tmp_path / 'missing.txt'}"):
        with pytest.raises(ExperimentError):
            select_factors(bad)


def test_apply_factors_sets_every_kind():
    base = load_scenario("scenarios/expanded_city.toml")
    fs = select_factors("supervisor_exit_rate,collaboration_history,partner_commitment,"
                        "leader_support,supervisor_system_leadership,therapist_posts")
    sc = apply_factors(base, fs, [0.25, 0.77, 0.4, -0.4, 0.15, 3.4])
    assert dict(sc.parameters)["supervisor_exit_rate"] == 0.25
    assert dict(sc.parameters)["therapist_posts"] == 3
    assert sc.site.collaboration_history == 0.77
    assert sc.supervisor.system_leadership == 0.15
    assert [p.commitment for p in sc.partners] == [min(1.0, p.commitment + 0.4)
                                                   for p in base.partners]
    assert [ld.stance for ld in sc.leaders] == [max(-1.0, ld.stance - 0.4)
                                                for ld in base.leaders]
    assert sc.text == "" and base.site.collaboration_history == 0.3  # base untouched


def test_local_factors_are_one_step_around_the_authority():
    base = load_scenario("scenarios/isolated_coastal.toml")
    fs = {f.name: f for f in local_factors(base)}
    c = fs["collaboration_history"]
    assert (c.low, c.base, c.high) == pytest.approx((0.0, 0.1, 0.3))
    t = fs["leadership_turnover_history"]
    assert (t.low, t.base, t.high) == (0.6, 1.0, 1.5)
    o = fs["ofsted_rating"]
    assert describe_value("ofsted", o.base) == "good"
    assert {describe_value("ofsted", o.value(x)) for x in (o.low, o.high)} == {
        "outstanding", "adequate"}


def test_describe_value_uses_the_rubric():
    assert describe_value("level", 0.7) == "0.70 (high)"
    assert describe_value("level", 0.4) == "0.40 (low-medium)"
    assert describe_value("turnover", 2.0) == "2.00 (very high)"
    assert describe_value("", 0.25) == "0.250"


def test_design_rows_share_seeds_across_rows():
    base = load_scenario("scenarios/isolated_coastal.toml")
    design = make_design(select_factors("gamma_system,collaboration_history"), "morris", 4)
    variants = design_variants(base, design)
    assert len(variants) == design.rows == 12
    tasks = make_tasks(variants, 3, 7)
    seeds = {(t.replicate, tuple(t.seed.spawn_key)) for t in tasks}
    assert len(seeds) == 3  # replicate r of every row uses the same stream
    assert [t.variant for t in tasks[:3]] == [variants[0][0]] * 3


# --- the command line ------------------------------------------------------------------------


def test_cli_morris_end_to_end_and_deterministic(tmp_path, capsys):
    argv = ["sensitivity", "scenarios/template.toml", "--method", "morris", "--n", "4",
            "--replicates", "2", "--factors",
            "supervisor_exit_rate,collaboration_history,gamma_system", "--resamples", "50",
            "--no-progress"]
    assert run.main([*argv, "--out", str(tmp_path / "a")]) == 0
    text = capsys.readouterr().out
    assert "Morris sensitivity analysis of Neutral authority" in text
    assert "seed noise" in text and "Chance the service is still running at 5 years" in text
    for name in ("manifest.json", "runs.csv", "design.csv", "indices_rmst.csv",
                 "indices_p_alive_5y.csv", "report.html", "summary.txt",
                 "screened_factors.txt", "morris_rmst.png"):
        assert (tmp_path / "a" / name).exists(), name
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["experiment"]["method"] == "morris"
    assert manifest["experiment"]["rows"] == 16 and manifest["runs"] == 32
    assert len(manifest["experiment"]["factors"]) == 3
    # Same seed, same design and outputs: rebuild the design and rerun it in this process.
    fs = select_factors("supervisor_exit_rate,collaboration_history,gamma_system")
    design = make_design(fs, "morris", 4, seed=1)
    plan = resolve_plan(per_draw=1)  # sensitivity's default: one run per posterior draw
    tasks = make_tasks(design_variants(load_scenario("scenarios/template.toml"), design), 2, 1,
                       plan)
    again = run_ensemble(tasks, progress=False).runs
    first = pd.read_csv(tmp_path / "a" / "runs.csv")
    assert again["end_month"].tolist() == first["end_month"].tolist()
    assert again["survived"].tolist() == first["survived"].tolist()
    table = pd.read_csv(tmp_path / "a" / "design.csv")
    np.testing.assert_allclose(table[[f.name for f in fs]].to_numpy(), design.X)


def test_cli_sobol_small_with_convergence(tmp_path, capsys):
    assert run.main(["sensitivity", "scenarios/isolated_coastal.toml", "--n", "16",
                     "--replicates", "2", "--factors",
                     "close_margin,supervisor_exit_rate,collaboration_history",
                     "--resamples", "100", "--no-progress", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "S1 first-order" in text and "ST total-order" in text
    assert "Ranking stability" in text or "Convergence" in text
    assert (tmp_path / "indices_rmst.png").exists()


@pytest.mark.parametrize("argv, message", [
    (["--method", "fast"], "invalid choice"),
    (["--n", "100"], "power of two"),
    (["--factors", "nonsense"], "unknown factor"),
    (["--years", "11"], "beyond the scenario's horizon"),
])
def test_cli_bad_input_is_one_line_exit_2(argv, message, tmp_path, capsys):
    code = run.main(["sensitivity", "scenarios/isolated_coastal.toml", *argv, "--out",
                     str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and err.startswith("error:")


def test_cli_method_choices_match_the_module():
    from experiments.analysis.sensitivity import METHODS

    assert run.SENSITIVITY_METHODS == METHODS


def test_cli_missing_scenario_and_listing(capsys):
    assert run.main(["sensitivity"]) == 2
    assert "give a scenario" in capsys.readouterr().err
    assert run.main(["sensitivity", "--list-factors"]) == 0
    out = capsys.readouterr().out
    assert "collaboration_history" in out and "supervisor_exit_rate" in out
    assert run.main(["sensitivity", "nope.toml", "--out", "/tmp/never-created-x"]) == 2
    assert "file not found" in capsys.readouterr().err


def test_commissioner_factors_act_on_the_scenario():
    from experiments.analysis.factors import apply_factors
    from sim.scenario import load_scenario
    from tests.conftest import ROOT

    sc = load_scenario(ROOT / "scenarios" / "metro_city.toml")
    names = ["authority_size", "budget_cut_year3", "succession_planning", "programme_manager",
             "co_funding", "protected_funding_years", "ofsted_rating"]
    fs = [FACTORS[n] for n in names]
    out = apply_factors(sc, fs, [2.0, 0.2, 0.7, 0.9, 0.25, 2.4, 3.2])
    assert out.site.population == round(sc.site.population * 2)
    assert out.site.looked_after_children == round(sc.site.looked_after_children * 2)
    cut = [e for e in out.events if e.kind == "budget_cut"]
    assert len(cut) == 1 and cut[0].month == 36 and cut[0].fraction == 0.2
    assert out.levers.succession_planning is True and out.levers.programme_manager == "on"
    assert out.levers.co_funding == 0.25 and out.levers.protected_funding_years == 2
    assert out.site.ofsted_rating == "inadequate"
    off = apply_factors(sc, fs, [1.0, 0.0, 0.2, 0.1, 0.0, 0.0, 1.0])
    assert not [e for e in off.events if e.kind == "budget_cut" and e.month == 36]
    assert off.levers.succession_planning is False and off.levers.programme_manager == "auto"
    assert FACTORS["succession_planning"].describe(0.7) == "on"
