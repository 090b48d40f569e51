"""Reproducibility: a run is a pure function of (scenario, seed)."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest

from sim.model import LocalAuthority
from sim.scenario import parse_scenario
from sim.simulate import SERIES_COLUMNS, simulate


def _scenario(name, **site):
    return parse_scenario({
        "site": {"name": name, "population": 250_000, "looked_after_children": 500, **site},
        "leaders": [{"role": "chief_executive"},
                    {"role": "director_childrens_services", "stance": "sceptical"},
                    {"role": "assistant_director", "stance": "supportive",
                     "chairs_steering_group": True}],
        "partners": [{"agency": "camhs"}, {"agency": "yos"}, {"agency": "education"}],
        "events": [{"month": 30, "kind": "budget_cut", "fraction": 0.2}],
    })


CHURNY = _scenario("Churny", ofsted_rating="inadequate", leadership_turnover_history="very high",
                   collaboration_history="low", launch_framing="oversold", research_trial=True)
STEADY = _scenario("Steady", ofsted_rating="good", leadership_turnover_history="stable",
                   collaboration_history="very high", learning_climate="high")
NEUTRAL = _scenario("Neutral")


def _same_outputs(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            continue
        if x != y:
            return False
    return True


def _assert_same_run(a, b):
    assert _same_outputs(a.outputs, b.outputs), (a.outputs, b.outputs)
    pd.testing.assert_frame_equal(a.series, b.series, check_exact=True)
    assert a.log == b.log


@pytest.mark.parametrize("sc", [CHURNY, STEADY, NEUTRAL], ids=lambda s: s.name)
def test_same_seed_same_run(sc):
    a, b = simulate(sc, 17), simulate(sc, 17)
    _assert_same_run(a, b)
    assert len(a.series) == a.outputs["end_month"] + 1
    assert list(a.series.columns) == ["month", "date", *SERIES_COLUMNS]


def test_different_seeds_differ():
    runs = [simulate(CHURNY, s) for s in (1, 2, 3)]
    for i in range(3):
        for j in range(i + 1, 3):
            a, b = runs[i], runs[j]
            same_series = a.series.shape == b.series.shape and a.series.equals(b.series)
            assert not same_series
            assert not (_same_outputs(a.outputs, b.outputs) and a.log == b.log)


def test_seed_sequence_as_seed():
    ss = np.random.SeedSequence(2024)
    a = simulate(NEUTRAL, ss)
    b = simulate(NEUTRAL, ss)  # the seed is not consumed by a run
    _assert_same_run(a, b)
    c = simulate(NEUTRAL, np.random.SeedSequence(2024))
    _assert_same_run(a, c)
    child0, child1 = ss.spawn(2)
    d, e = simulate(NEUTRAL, child0), simulate(NEUTRAL, child1)
    _assert_same_run(d, simulate(NEUTRAL, np.random.SeedSequence(2024, spawn_key=(0,))))
    assert not d.series.equals(e.series)
    assert not d.series.equals(a.series)
    assert a.seed == 2024


def test_interleaved_runs_match_separate_runs():
    scenarios = [(CHURNY, 5), (STEADY, 6), (NEUTRAL, 7)]
    separate = [simulate(sc, seed) for sc, seed in scenarios]
    models = [LocalAuthority(sc, seed) for sc, seed in scenarios]
    # Step the three models in turn, disturbing the global generators in between: a run must
    # depend on nothing but its own scenario and seed.
    while any(m.running and m.month < m.horizon for m in models):
        for m in models:
            if m.running and m.month < m.horizon:
                m.step()
                random.random()
                np.random.random()
    for m, run in zip(models, separate, strict=True):
        frame = pd.DataFrame({k: np.asarray(m.datacollector.model_vars[k]) for k in SERIES_COLUMNS})
        pd.testing.assert_frame_equal(frame, run.series[list(SERIES_COLUMNS)], check_exact=True)
        assert list(m.log) == run.log
        closure = m.closure_month if m.closure_month is not None else math.nan
        assert _same_outputs({"c": closure, "cause": m.closure_cause},
                             {"c": run.outputs["closure_month"],
                              "cause": run.outputs["closure_cause"]})
        assert m.totals["leader_changes"] == run.outputs["leader_changes"]
        assert m.totals["treated"] == run.outputs["families_treated"]


def test_global_random_state_is_irrelevant():
    random.seed(1)
    np.random.seed(1)
    a = simulate(CHURNY, 8)
    random.seed(99)
    np.random.seed(99)
    b = simulate(CHURNY, 8)
    _assert_same_run(a, b)


@pytest.mark.parametrize("site", ["isolated_coastal", "expanded_city", "metro_city"])
def test_skipping_the_monthly_series_leaves_every_output_unchanged(site):
    """Ensembles skip the DataCollector when series are not wanted; the run must not change."""
    from pathlib import Path

    from sim import load_scenario

    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / f"{site}.toml")
    for seed in range(8):
        with_series = simulate(sc, seed, series=True).outputs
        without = simulate(sc, seed, series=False).outputs
        assert with_series.keys() == without.keys()
        for key, value in with_series.items():
            other = without[key]
            same = value == other or (isinstance(value, float) and math.isnan(value)
                                      and math.isnan(other))
            assert same, (site, seed, key, value, other)
