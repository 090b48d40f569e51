"""What research should measure next: the given-data shares and the command."""

from __future__ import annotations

import numpy as np

import run
from experiments.analysis.research import binned_first_order, measure_next
from experiments.runner.posterior import make_posterior, write_posterior
from sim.parameters import PARAMETER_INDEX
from tests.conftest import ROOT

NAMES = ("leader_shield", "gamma_partnership", "supervisor_exit_rate")


def test_binned_first_order_finds_dependence_and_its_absence():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, 2000)
    assert binned_first_order(x, 3 * x + rng.normal(0, 0.3, 2000)) > 0.85
    assert binned_first_order(x, rng.normal(0, 1, 2000)) < 0.03
    # a U-shaped effect has no linear correlation but a large first-order index
    assert binned_first_order(x, (x - 0.5) ** 2 + rng.normal(0, 0.01, 2000)) > 0.8


def test_measure_next_ranks_the_parameter_that_moves_the_forecast():
    rng = np.random.default_rng(2)
    k, m = 300, 4
    lo = np.array([PARAMETER_INDEX[n].low for n in NAMES])
    hi = np.array([PARAMETER_INDEX[n].high for n in NAMES])
    values = rng.uniform(lo, hi, (k, 3))
    # the forecast depends on the second parameter only, plus chance per run
    p = 0.2 + 0.6 * (values[:, 1] - lo[1]) / (hi[1] - lo[1])
    slots = np.repeat(np.arange(k), m)
    y = (rng.uniform(size=k * m) < p[slots]).astype(float)
    table = measure_next(values, NAMES, y, slots, seed=1)
    assert table.iloc[0]["parameter"] == "gamma_partnership"
    assert table.iloc[0]["share"] > 0.6
    assert table.set_index("parameter").loc["leader_shield", "share"] < 0.15
    assert table.attrs["reliability"] > 0.15  # true value about 0.35 and table.attrs["draws"] == k


def test_research_command_needs_the_posterior_and_runs_with_one(tmp_path, capsys):
    good = str(ROOT / "scenarios" / "isolated_coastal.toml")
    assert run.main(["research", good, "--parameters", "defaults", "--out",
                     str(tmp_path / "r0")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "needs the posterior sample" in err
    assert not (tmp_path / "r0").exists()
    rng = np.random.default_rng(3)
    vals = np.column_stack([rng.uniform(PARAMETER_INDEX[n].low, PARAMETER_INDEX[n].high, 30)
                            for n in NAMES])
    path = write_posterior(make_posterior(NAMES, vals, np.ones(30), rng.uniform(size=30)),
                           tmp_path / "p.json")
    out = tmp_path / "r1"
    assert run.main(["research", good, "--posterior", str(path), "--draws", "20", "--per-draw",
                     "2", "--years", "3", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "What research should measure next" in text and f"report: {out}" in text
    assert "not risk drivers" in text or "No parameter signal" in text
    for f in ("research.csv", "research.png", "report.html", "manifest.json"):
        assert (out / f).is_file()
