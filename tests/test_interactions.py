"""Factorial experiment on stressors: cells, contrasts and the command line."""

from __future__ import annotations

import numpy as np
import pytest

import run
from experiments.analysis.interactions import (
    STRESSORS,
    TOXIC_TRIO,
    factorial_cells,
    factorial_variants,
    interaction_effects,
    paired_contrast,
    parse_stressor,
)
from experiments.errors import ExperimentError
from sim.scenario import load_scenario


def test_cells_cover_every_subset():
    stressors = [STRESSORS[n] for n in TOXIC_TRIO]
    cells = factorial_cells(stressors)
    assert len(cells) == 8 and cells[0] == ("none", (0, 0, 0))
    assert cells[-1][0] == "leadership_churn + partnership_weakness + budget_cut"
    assert len({lv for _, lv in cells}) == 8


def test_stressors_change_the_scenario_as_described():
    base = load_scenario("scenarios/template.toml")
    variants, levels = factorial_variants(base, [STRESSORS[n] for n in TOXIC_TRIO])
    scenarios = dict(variants)
    assert scenarios["none"] == base
    all3 = scenarios["leadership_churn + partnership_weakness + budget_cut"]
    assert all3.site.leadership_turnover_history == 2.0
    assert all3.site.collaboration_history == 0.1
    assert all(p.commitment <= 0.3 for p in all3.partners)
    assert [(e.month, e.kind, e.fraction) for e in all3.events] == [(24, "budget_cut", 0.2)]
    assert scenarios["budget_cut"].site == base.site  # stressors act separately


def test_parse_stressor_factor_form_and_errors():
    s = parse_stressor("collaboration_history=0.1")
    sc = s.apply(load_scenario("scenarios/template.toml"))
    assert sc.site.collaboration_history == 0.1
    p = parse_stressor("supervisor_exit_rate=0.3").apply(load_scenario("scenarios/template.toml"))
    assert dict(p.parameters)["supervisor_exit_rate"] == 0.3
    for bad in ("nonsense", "nonsense=1", "collaboration_history=2", "gamma_system=x"):
        with pytest.raises(ExperimentError):
            parse_stressor(bad)


def _cells(levels, f, reps=50, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    common = rng.normal(0, noise, reps)  # common random numbers: shared by every cell
    return np.array([[f(lv) + common[r] for r in range(reps)] for lv in levels])


def test_additive_effects_have_no_interaction():
    levels = [lv for _, lv in factorial_cells([STRESSORS[n] for n in TOXIC_TRIO])]
    y = _cells(levels, lambda lv: 0.1 + 0.2 * lv[0] + 0.15 * lv[1] + 0.1 * lv[2], noise=0.3)
    e = interaction_effects(y, levels, list(TOXIC_TRIO)).set_index("effect")
    assert e.loc["leadership_churn alone", "estimate"] == pytest.approx(0.2)
    assert e.loc["all together", "estimate"] == pytest.approx(0.45)
    ex = e[e.kind == "excess"].iloc[0]
    assert ex.estimate == pytest.approx(0.0, abs=1e-12)
    # Common noise cancels in paired contrasts: the interval collapses to the estimate.
    assert ex.high - ex.low < 1e-9


def test_synergy_is_detected_with_an_interval():
    levels = [lv for _, lv in factorial_cells([STRESSORS[n] for n in TOXIC_TRIO[:2]])]
    rng = np.random.default_rng(1)
    # Binary outcomes: each stressor alone adds 10 points, together 40 (synergy of 20).
    p = {(0, 0): 0.2, (1, 0): 0.3, (0, 1): 0.3, (1, 1): 0.6}
    u = rng.random(2000)  # common random numbers: one uniform per replicate
    y = np.array([(u < p[lv]).astype(float) for lv in levels])
    e = interaction_effects(y, levels, list(TOXIC_TRIO[:2]))
    ex = e[e.kind == "excess"].iloc[0]
    assert ex.low > 0.1 and ex.estimate == pytest.approx(0.2, abs=0.03) and ex.p < 0.001
    assert not (e.kind == "interaction").any()  # with two stressors the excess is the 2-way term


def test_paired_contrast_edge_cases():
    c = paired_contrast(np.array([1.0, 1.0, 1.0]))
    assert (c.estimate, c.low, c.high) == (1.0, 1.0, 1.0)
    assert np.isnan(paired_contrast(np.array([0.5])).low)


def test_cli_interact_small(tmp_path, capsys):
    code = run.main(["interact", "--replicates", "6", "--stressor", "leadership_churn",
                     "--stressor", "budget_cut", "--no-progress", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert code == 0
    assert "4 cells x 6 replicates" in text
    assert "leadership_churn alone" in text and "interaction: together minus the sum" in text
    for name in ("effects.csv", "cells.csv", "report.html", "manifest.json", "runs.csv"):
        assert (tmp_path / name).exists()


def test_cli_interact_errors_and_listing(tmp_path, capsys):
    assert run.main(["interact", "--stressor", "meteor", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown stressor" in err and err.count("\n") == 1
    assert run.main(["interact", "--stressor", "budget_cut", "--stressor", "budget_cut",
                     "--out", str(tmp_path / "y")]) == 2
    capsys.readouterr()
    assert run.main(["interact", "--list-stressors"]) == 0
    assert "partnership_weakness" in capsys.readouterr().out


def test_logit_interaction_is_zero_when_log_odds_add_and_positive_when_they_compound():
    import numpy as np

    from experiments.analysis.interactions import factorial_cells, logit_interaction

    names = ("a", "b")
    levels = [lv for _, lv in factorial_cells([type("S", (), {"name": n})() for n in names])]
    n = 4000

    def cells(probabilities):
        rng = np.random.default_rng(1)
        u = rng.random(n)  # common random numbers across cells
        return np.array([u < probabilities[lv] for lv in levels], dtype=float)

    def p(logit):
        return 1.0 / (1.0 + np.exp(-logit))

    # log-odds -2, -1, -1, 0: exactly additive on the log-odds scale (and not on probability)
    additive = {(0, 0): p(-2.0), (1, 0): p(-1.0), (0, 1): p(-1.0), (1, 1): p(0.0)}
    c = logit_interaction(cells(additive), levels, resamples=400, seed=2)
    assert abs(c.estimate) < 0.15 and c.low < 0 < c.high
    compounding = dict(additive)
    compounding[(1, 1)] = p(1.5)
    c = logit_interaction(cells(compounding), levels, resamples=400, seed=2)
    assert c.estimate > 1.0 and c.low > 0


def test_contrasts_over_parameter_sets_widen_and_report_the_share():
    """In posterior mode replicates sharing a set are not independent: the interval widens."""
    rng = np.random.default_rng(5)
    k, m = 20, 10
    groups = np.repeat(np.arange(k), m)
    values = np.repeat(rng.normal(0.1, 0.2, k), m) + rng.normal(0, 0.05, k * m)
    plain = paired_contrast(values)
    nested = paired_contrast(values, groups)
    assert plain.parameter_share is None
    assert nested.parameter_share > 0.8
    assert (nested.high - nested.low) > 3 * (plain.high - plain.low)
    assert nested.p > plain.p  # 20 set means, not 200 independent replicates
    noise = rng.normal(0, 0.05, k * m)  # the sets do not matter: little parameter share
    assert paired_contrast(noise, groups).parameter_share < 0.2


def test_cli_interact_in_posterior_mode_names_the_ranges(tmp_path, capsys):
    from experiments.runner.posterior import make_posterior, write_posterior
    from sim.parameters import PARAMETER_INDEX

    names = ("leader_shield", "supervisor_exit_rate")
    vals = np.array([[PARAMETER_INDEX[n].low + f * (PARAMETER_INDEX[n].high - PARAMETER_INDEX[n].low)
                      for n in names] for f in (0.1, 0.5, 0.9)])
    path = tmp_path / "posterior.json"
    write_posterior(make_posterior(names, vals, np.ones(3), np.arange(3.0), {"command": "test"}),
                    path)
    code = run.main(["interact", "--replicates", "8", "--per-draw", "2", "--posterior", str(path),
                     "--stressor", "leadership_churn", "--stressor", "budget_cut",
                     "--no-progress", "--out", str(tmp_path / "out")])
    text = capsys.readouterr().out
    assert code == 0
    assert "plausible ranges over parameter sets and chance" in text
    assert "95% range" in text and "parameters" in text
    effects = (tmp_path / "out" / "effects.csv").read_text()
    assert "parameter_share" in effects.splitlines()[0]
