"""Scenario discovery: PRIM rules (EMA workbench, optional extra) and the install message."""

from __future__ import annotations

import builtins
import importlib.util

import numpy as np
import pandas as pd
import pytest

import run
from experiments.analysis.discovery import INSTALL_HINT, choose_box, rule_text
from experiments.analysis.factors import FACTORS

HAS_EMA = importlib.util.find_spec("ema_workbench") is not None
needs_ema = pytest.mark.skipif(not HAS_EMA, reason="ema_workbench (optional extra 'explore') "
                                                   "is not installed: pip install -e .[explore]")


def test_rule_text_reads_like_a_sentence():
    text = rule_text([("supervisor_exit_rate", 0.25, None), ("collaboration_history", None, 0.4)],
                     FACTORS, "closure within 5 years", 0.71, 0.83, 0.45)
    assert text == ("closure within 5 years is likely when supervisor base turnover per year > "
                    "0.250 AND collaboration history of social care, CAMHS and YOS < 0.40 "
                    "(low-medium) (coverage 0.71, density 0.83; base rate 0.45)")


def test_choose_box_prefers_dense_significant_small_boxes():
    traj = pd.DataFrame({"coverage": [1.0, 0.9, 0.7, 0.5, 0.3],
                         "density": [0.4, 0.5, 0.7, 0.9, 0.95],
                         "res_dim": [0, 1, 2, 4, 2]})
    qp = [{}, {"a": [0.01, -1]}, {"a": [0.01, -1], "b": [-1, 0.2]}, {}, {}]
    assert choose_box(traj, None, max_dims=3, min_coverage=0.5) == (2, True)
    # Box 2 has an insignificant restriction: the densest significant box is box 1.
    assert choose_box(traj, qp, max_dims=3, min_coverage=0.5) == (1, True)


@needs_ema
def test_prim_recovers_a_planted_region():
    from experiments.analysis.discovery import find_rules

    rng = np.random.default_rng(3)
    n = 800
    x = pd.DataFrame({"supervisor_exit_rate": rng.uniform(0.08, 0.30, n),
                      "collaboration_history": rng.uniform(0.1, 0.9, n),
                      "gamma_system": rng.uniform(0.1, 0.7, n)})
    inside = (x.supervisor_exit_rate > 0.2) & (x.collaboration_history < 0.4)
    y = np.where(inside, rng.random(n) < 0.9, rng.random(n) < 0.1)
    rules, trajs = find_rules(x, y, FACTORS, "closure within 5 years", max_boxes=1,
                              resamples=3, seed=1)
    assert len(rules) == 1 and len(trajs) == 1
    r = rules[0]
    bounds = {name: (lo, hi) for name, lo, hi in r.conditions}
    assert set(bounds) == {"supervisor_exit_rate", "collaboration_history"}
    assert bounds["supervisor_exit_rate"][0] == pytest.approx(0.2, abs=0.02)
    assert bounds["collaboration_history"][1] == pytest.approx(0.4, abs=0.04)
    assert r.density > 0.8 and r.coverage > 0.5 and r.significant
    assert "closure within 5 years is likely when" in r.text
    assert all(v >= 50 for v in r.reproducibility.values())


@needs_ema
def test_cli_discover_small(tmp_path, capsys):
    code = run.main(["discover", "scenarios/template.toml", "--n", "120", "--factors",
                     "close_margin,burden_elasticity,collaboration_history", "--no-progress",
                     "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert code == 0 and "Cases of interest: closure within 5 years" in text
    for name in ("rules.csv", "discovery_data.csv", "report.html", "manifest.json"):
        assert (tmp_path / name).exists()


def test_missing_workbench_says_how_to_install(monkeypatch, tmp_path, capsys):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("ema_workbench"):
            raise ImportError("No module named 'ema_workbench'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    code = run.main(["discover", "scenarios/template.toml", "--out", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"error: {INSTALL_HINT}\n"
    assert "pip install -e .[explore]" in err
    assert not (tmp_path / "d").exists()  # nothing was run
