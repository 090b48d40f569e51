"""The posterior sample: its file, its staleness, which set each run uses, and the spread."""

from __future__ import annotations

import json

import numpy as np
import pytest

import run
from experiments.analysis.survival import paired_difference, survival_table
from experiments.analysis.uncertainty import nested_spread
from experiments.errors import ExperimentError
from experiments.runner.execute import run_ensemble
from experiments.runner.posterior import (
    ParameterPlan,
    behaviour_digest,
    make_posterior,
    read_posterior,
    resolve_plan,
    write_posterior,
)
from experiments.runner.tasks import design_digest, make_tasks
from sim.parameters import PARAMETER_INDEX
from sim.scenario import load_scenario
from tests.conftest import ROOT

NAMES = ("leader_shield", "therapist_posts", "supervisor_exit_rate")


def sample(n=6, seed=3, weights=None):
    rng = np.random.default_rng(seed)
    vals = np.array([[rng.uniform(PARAMETER_INDEX[k].low, PARAMETER_INDEX[k].high) for k in NAMES]
                     for _ in range(n)])
    w = rng.uniform(0.5, 1.5, n) if weights is None else weights
    return make_posterior(NAMES, vals, w, rng.uniform(0, 1, n), {"command": "test"})


@pytest.fixture
def posterior_file(tmp_path):
    path = tmp_path / "posterior.json"
    write_posterior(sample(), path)
    return path


def test_file_round_trip(posterior_file):
    p = read_posterior(posterior_file)
    q = sample()
    assert p.names == q.names and np.array_equal(p.values, q.values)
    assert np.allclose(p.weights, q.weights) and p.point == int(np.argmin(q.distances))
    assert p.digest and not p.is_stale()
    o = p.overrides(0)
    assert isinstance(o["therapist_posts"], int) and set(o) == set(NAMES)


@pytest.mark.parametrize("edit,fragment", [
    (lambda d: d.update(format="other"), "format"),
    (lambda d: d["parameters"].__setitem__(0, "no_such_parameter"), "unknown parameter"),
    (lambda d: d["particles"][0]["values"].__setitem__(0, 99.0), "outside its range"),
    (lambda d: d.update(point=99), "point"),
    (lambda d: d["particles"][0].pop("weight"), "malformed"),
])
def test_bad_file_is_one_line(posterior_file, edit, fragment):
    data = json.loads(posterior_file.read_text())
    edit(data)
    posterior_file.write_text(json.dumps(data))
    with pytest.raises(ExperimentError, match=fragment) as err:
        read_posterior(posterior_file)
    assert "\n" not in str(err.value) and str(posterior_file) in str(err.value)


def test_stale_when_the_digest_differs(posterior_file):
    data = json.loads(posterior_file.read_text())
    data["behaviour_digest"] = "0" * 64
    posterior_file.write_text(json.dumps(data))
    p = read_posterior(posterior_file)
    assert p.is_stale() and "stale" in p.stale_message()
    notes = []
    resolve_plan(path=posterior_file, warn=notes.append)
    assert len(notes) == 1 and "calibrated on another version" in notes[0]


def test_behaviour_digest_is_stable():
    assert behaviour_digest() == behaviour_digest() and len(behaviour_digest()) == 64


def test_resampling_is_deterministic_prefix_stable_and_weighted():
    p = sample(n=5, weights=np.array([0.0, 1.0, 0.0, 3.0, 0.0]))
    a, b = p.resample(7, 200), p.resample(7, 300)
    assert np.array_equal(a, b[:200]) and set(a) <= {1, 3}
    share = np.mean(b == 3)
    assert 0.65 < share < 0.85  # weight 3/4
    assert not np.array_equal(p.resample(8, 200), a)


def test_plan_assigns_sets_in_blocks_common_across_variants():
    p = sample()
    plan = ParameterPlan("posterior", p, per_draw=3)
    sc = load_scenario(ROOT / "scenarios" / "template.toml")
    own = sc.with_parameters(leader_shield=1.2)
    tasks = make_tasks([("a", sc), ("b", own)], 9, 5, plan)
    a, b = tasks[:9], tasks[9:]
    assert [t.parameter_set for t in a] == [t.parameter_set for t in b]
    sets = [t.parameter_set for t in a]
    assert sets[0:3] == [sets[0]] * 3 and sets[3:6] == [sets[3]] * 3
    assert sets == [int(p.resample(5, 3)[r // 3]) for r in range(9)]
    k = a[0].parameter_set
    assert dict(a[0].runs.parameters) == p.overrides(k)
    # the experiment's own parameter wins over the sample's
    assert dict(b[0].runs.parameters)["leader_shield"] == 1.2
    assert dict(b[0].scenario.parameters) == {"leader_shield": 1.2}
    # the design digest knows the sets
    assert design_digest(tasks, False, []) != design_digest(make_tasks([("a", sc), ("b", own)],
                                                                       9, 5), False, [])


def test_point_and_defaults_plans():
    p = sample()
    sc = load_scenario(ROOT / "scenarios" / "template.toml")
    assert {t.parameter_set for t in make_tasks([("a", sc)], 4, 1, ParameterPlan("point", p))} \
        == {p.point}
    assert {t.parameter_set for t in make_tasks([("a", sc)], 4, 1, ParameterPlan("point", p, 2))} \
        == {2}
    assert {t.parameter_set for t in make_tasks([("a", sc)], 4, 1)} == {-1}
    with pytest.raises(ExperimentError, match="--draw"):
        ParameterPlan("point", p, draw=len(p.weights))
    with pytest.raises(ExperimentError, match="needs a posterior"):
        ParameterPlan("posterior")


def test_posterior_runs_change_results_and_stay_paired_and_reproducible():
    p = sample()
    sc = load_scenario(ROOT / "scenarios" / "template.toml")
    variants = [("base", sc), ("lever", sc.with_levers(programme_manager="on"))]
    plan = ParameterPlan("posterior", p, per_draw=2)
    one = run_ensemble(make_tasks(variants, 12, 4, plan), workers=1, progress=False).runs
    two = run_ensemble(make_tasks(variants, 12, 4, plan), workers=2, progress=False).runs
    assert one.equals(two)
    plain = run_ensemble(make_tasks(variants, 12, 4), workers=1, progress=False).runs
    assert set(plain["parameter_set"]) == {-1}
    assert not one.drop(columns="parameter_set").equals(plain.drop(columns="parameter_set"))
    d = paired_difference(one, "base", "lever", 60)
    assert d["parameter_share"] is not None and "plausible range" in d["sentence"]
    t = survival_table(one, times=(24,))
    assert "p_alive_24_parameter_share" in t.columns


def test_nested_spread_splits_variance():
    rng = np.random.default_rng(0)
    k, m = 400, 10
    theta = rng.normal(0, 1, k)
    y = np.repeat(theta, m) + rng.normal(0, 1, k * m)
    g = np.repeat(np.arange(k), m)
    sp = nested_spread(y, g)
    assert 0.42 < sp.parameter_share < 0.58  # true share 1 / (1 + 1)
    assert -2.3 < sp.low < -1.6 and 1.6 < sp.high < 2.3  # 95% of N(0, 1)
    noise = rng.normal(0, 1, k * m)  # no parameter effect
    sp0 = nested_spread(noise, g)
    assert sp0.parameter_share < 0.05 and sp0.high - sp0.low < 0.5
    one = nested_spread(noise, np.zeros(k * m))
    assert one.parameter_share is None and one.high - one.low < 0.1


def test_cli_refusals_are_one_line(tmp_path, posterior_file, capsys):
    good = str(ROOT / "scenarios" / "template.toml")
    cases = [(["simulate", good, "--parameters", "posterior", "--posterior", str(posterior_file)],
              "one parameter set"),
             (["simulate", good, "--draw", "99", "--posterior", str(posterior_file)], "--draw"),
             (["ensemble", good, "--posterior", str(tmp_path / "none.json"),
               "--out", str(tmp_path / "o")], "no posterior sample here")]
    for argv, fragment in cases:
        assert run.main(argv) == 2
        out, err = capsys.readouterr()
        assert len(err.splitlines()) == 1 and fragment in err, err
    assert not (tmp_path / "o").exists()


def test_simulate_names_its_parameter_set(posterior_file, capsys):
    good = str(ROOT / "scenarios" / "template.toml")
    assert run.main(["simulate", good, "--posterior", str(posterior_file), "--draw", "1"]) == 0
    out = capsys.readouterr().out
    assert "point mode, set 1 of the posterior sample" in out


def test_a_chance_near_zero_keeps_its_range_inside_zero_to_one():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(20), 5)
    y = (rng.uniform(size=100) < np.repeat(rng.uniform(0, 0.08, 20), 5)).astype(float)
    free = nested_spread(y, g)
    kept = nested_spread(y, g, (0.0, 1.0))
    assert free.low < 0 <= kept.low and kept.high == free.high
    one = nested_spread(np.zeros(99) + (np.arange(99) == 0), np.zeros(99), (0.0, 1.0))
    assert one.low == 0.0


def test_canonical_dump_leaves_out_empty_fields_and_positions():
    import ast

    from experiments.runner.posterior import canonical_dump

    a = canonical_dump(ast.parse("def f(x):\n    return x + 1\n"))
    b = canonical_dump(ast.parse("def f(x):\n\n    return x  +  1  # comment\n"))
    assert a == b and "lineno" not in a and "=None" not in a and "=[]" not in a
    assert canonical_dump(ast.parse("x = 1")) != canonical_dump(ast.parse("x = 2"))


def test_the_committed_sample_was_calibrated_on_this_model():
    """Fails on any change to the model's code or registry numbers until it is recalibrated, or,
    for a refactor whose runs are unchanged, re-stamped by the checked route
    (calibration/README.md); and on an interpreter whose digest differs (it must not)."""
    posterior = read_posterior()
    assert not posterior.is_stale(), (
        posterior.stale_message() + "; if the runs cannot have changed, check and re-stamp with "
        "`python scripts/restamp_posterior.py --base <the commit it was stamped on>`")


def test_one_run_per_set_gives_no_shares_and_the_interval_of_the_mean():
    rng = np.random.default_rng(2)
    y = (rng.uniform(size=400) < 0.3).astype(float)
    sp = nested_spread(y, np.arange(400), (0.0, 1.0))
    assert sp.parameter_share is None and sp.high - sp.low < 0.1  # not the 0-1 spread of runs
