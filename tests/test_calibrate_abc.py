"""ABC-SMC calibration (issue 14): priors, distance, screening, determinism, resume, validate."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import run
from experiments.analysis.calibration import (
    ALL_PATTERNS,
    MECHANISM_PATTERNS,
    ORDERING_PATTERN,
    PATTERNS,
    pattern_distance,
    pattern_errors,
    pattern_key,
    screen_parameters,
    synthetic_targets,
    truth_quantiles,
)
from experiments.jobs.abc import CALIBRATED, MEASURED, make_prior, prior_spec, to_model
from experiments.jobs.calibrate import SEARCHED
from experiments.runner.posterior import make_posterior, read_posterior, write_posterior
from sim.parameters import PARAMETER_INDEX

pytest.importorskip("pyabc")  # the calibrate extra (in dev); experiments.jobs.abc imports it lazily


# --- priors from the registry ---------------------------------------------------------------------

def test_the_space_is_searched_plus_measured_and_measured_means_national_figures():
    assert set(SEARCHED) <= set(CALIBRATED) and set(MEASURED) <= set(CALIBRATED)
    assert len(set(CALIBRATED)) == len(CALIBRATED)
    assert {"dcs_exit_rate", "referrer_turnover_rate", "austerity_rate", "interim_share"} <= \
        set(MEASURED)
    # sources that say "assumption" first are not measured, whatever they cite besides
    assert not {"therapist_exit_rate", "assistant_director_exit_rate", "fixed_cost"} & set(MEASURED)
    for name in MEASURED:
        src = PARAMETER_INDEX[name].source
        assert "research B" in src or "anchors-peers" in src


@pytest.mark.parametrize("name", CALIBRATED)
def test_prior_of_each_parameter_follows_its_registry_entry(name):
    p = PARAMETER_INDEX[name]
    spec = prior_spec(name)
    log = p.shape == "log"
    lo, hi = (math.log(p.low), math.log(p.high)) if log else (p.low, p.high)
    widen = 0.5 if p.integer else 0.0
    assert spec["space"] == ("log" if log else "linear")
    assert spec["low"] == pytest.approx(lo - widen) and spec["high"] == pytest.approx(hi + widen)
    if name in MEASURED:
        assert spec["kind"] == "truncnorm"
        mid = math.log(p.default) if log else p.default
        assert spec["mean"] == pytest.approx(mid)
        assert spec["sd"] == pytest.approx((spec["high"] - spec["low"]) / 4)
    else:
        assert spec["kind"] == "uniform"


def test_prior_draws_map_into_the_registry_ranges_and_log_shapes_are_log_uniform():
    names = ["decision_scale", "referrer_turnover_rate", "staffing_collapse_months", "close_margin"]
    prior = make_prior(names)
    np.random.seed(3)
    draws = [to_model(names, prior.rvs()) for _ in range(2000)]
    for n in names:
        p = PARAMETER_INDEX[n]
        col = np.array([d[n] for d in draws], dtype=float)
        assert p.low <= col.min() and col.max() <= p.high
    months = {d["staffing_collapse_months"] for d in draws}
    assert months == set(range(2, 7))  # whole numbers, every one of the range
    scale = np.log([d["decision_scale"] for d in draws])  # log-uniform: uniform in log space
    assert abs(np.median(scale) - (math.log(0.05) + math.log(0.5)) / 2) < 0.1
    turnover = np.array([d["referrer_turnover_rate"] for d in draws])  # centred on its default
    assert abs(np.median(turnover) - 0.152) < 0.005
    assert prior.pdf({"log_decision_scale": math.log(0.6), "referrer_turnover_rate": 0.15,
                      "staffing_collapse_months": 4, "close_margin": -0.5}) == 0


# --- the distance ----------------------------------------------------------------------------------

def _inside(pat) -> float:
    hi = pat.hi if math.isfinite(pat.hi) else pat.lo + 12
    return (pat.lo + hi) / 2


def pattern_table(n: int = 40, **values) -> pd.DataFrame:
    """A check_patterns-like table with every pattern inside its target unless overridden."""
    rows = []
    for pat in PATTERNS + (None,) + MECHANISM_PATTERNS:
        if pat is None:
            rows.append({"kind": "outcome", "site": "all", "pattern": ORDERING_PATTERN,
                         "value": values.get("ordering", 1e-6), "low": math.nan,
                         "high": math.nan, "n": 15 * n, "unit": "p",
                         "passed": values.get("ordering", 1e-6) < 0.01, "testable": True})
            continue
        v = values.get(pattern_key(pat.site, pat.name), _inside(pat))
        width = 12.0 / math.sqrt(n) if pat.unit == "months" else 0.0
        rows.append({"kind": pat.kind, "site": pat.site, "pattern": pat.name, "value": v,
                     "low": v - width, "high": v + width, "n": n, "unit": pat.unit,
                     "passed": pat.lo <= v <= pat.hi, "testable": True})
    return pd.DataFrame(rows)


IC36 = pattern_key("isolated_coastal", "P(closed by month 36)")
EC_MEDIAN = pattern_key("expanded_city", "median closure month")


def test_distance_is_zero_inside_every_target():
    assert pattern_distance(pattern_table()) == 0.0
    assert len(pattern_errors(pattern_table())) == len(ALL_PATTERNS) + 1


def test_distance_grows_with_the_gap():
    d = [pattern_distance(pattern_table(**{IC36: v})) for v in (0.7, 0.65, 0.55, 0.4, 0.1)]
    assert d[0] == 0 and all(a < b for a, b in zip(d, d[1:], strict=False))
    m = [pattern_distance(pattern_table(**{EC_MEDIAN: v})) for v in (72, 76, 90, 130)]
    assert m[0] == 0 and all(a < b for a, b in zip(m, m[1:], strict=False))
    never = pattern_distance(pattern_table(**{EC_MEDIAN: math.inf}))
    assert math.isfinite(never) and never >= m[-1]


def test_the_same_gap_counts_less_with_fewer_replicates():
    for key, v in ((IC36, 0.55), (EC_MEDIAN, 80.0)):
        few = pattern_distance(pattern_table(n=10, **{key: v}))
        many = pattern_distance(pattern_table(n=160, **{key: v}))
        assert 0 < few < many


def test_a_miss_by_less_than_one_standard_error_adds_less_than_one():
    se = math.sqrt(0.7 * 0.3 / 40)
    assert pattern_distance(pattern_table(**{IC36: 0.7 - 0.9 * se})) == pytest.approx(0.9)


def test_survival_ordering_counts_in_normal_scores():
    assert pattern_distance(pattern_table(ordering=0.001)) == 0
    d = pattern_distance(pattern_table(ordering=0.5))  # z = 0: 2.33 errors short
    assert d == pytest.approx(2.326, abs=0.01)


def test_leave_out_drops_a_sites_patterns_and_the_ordering():
    table = pattern_table(**{EC_MEDIAN: 100.0}, ordering=0.5)
    assert pattern_distance(table) > 0
    assert pattern_distance(table, leave_out=("expanded_city",)) == 0


def test_synthetic_targets_hold_the_truth_and_reject_a_far_set():
    truth = pattern_table(**{IC36: 0.4})  # the truth need not meet the shipped targets
    targets = synthetic_targets(truth)
    assert pattern_distance(truth, targets) == 0
    assert pattern_distance(pattern_table(**{IC36: 0.9}), targets) > 3


# --- screening and the synthetic-truth analysis ----------------------------------------------------

def test_screening_keeps_monotone_and_inner_optimum_effects_and_drops_noise():
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.random((200, 3)), columns=["slope", "optimum", "noise"])
    d = 3 * x["slope"] + 4 * (x["optimum"] - 0.5) ** 2 * 4 + rng.normal(0, 0.3, 200)
    table = screen_parameters(x, d.to_numpy())
    fitted = set(table.loc[table["fitted"], "parameter"])
    assert fitted == {"slope", "optimum"}


def test_truth_quantiles_place_the_truth_in_the_weighted_sample():
    values = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    table = truth_quantiles(["a", "b"], values, [1, 1, 1, 1], {"a": 2.5, "b": 100.0})
    assert table.loc[0, "quantile"] == pytest.approx(0.5) and bool(table.loc[0, "inside_90"])
    assert table.loc[1, "quantile"] == pytest.approx(1.0) and not bool(table.loc[1, "inside_90"])


# --- the calibration end to end ---------------------------------------------------------------------

SMOKE = ["calibrate", "--population", "4", "--generations", "3", "--runs", "1", "--seed", "5",
         "--params", "leader_shield", "close_margin", "decision_scale", "status_quo",
         "referrer_turnover_rate", "staffing_collapse_months", "--no-progress"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """An uninterrupted smoke calibration (serial)."""
    out = tmp_path_factory.mktemp("abc") / "serial"
    code = run.main([*SMOKE, "--out", str(out), "--posterior", str(out.parent / "copy.json")])
    assert code == 0
    return out


def particles(folder):
    return json.loads((folder / "posterior.json").read_text())["particles"]


def epsilons(folder):
    gens = json.loads((folder / "posterior.json").read_text())["provenance"]["generations"]
    return [g["epsilon"] for g in gens]


def test_smoke_calibration_writes_a_readable_posterior_and_its_diagnostics(smoke):
    post = read_posterior(smoke / "posterior.json")
    assert post.size == 4 and not post.is_stale()
    assert set(post.names) == {"leader_shield", "close_margin", "decision_scale", "status_quo",
                               "referrer_turnover_rate", "staffing_collapse_months"}
    prov = post.provenance
    assert [g["t"] for g in prov["generations"]] == [0, 1, 2]
    e = epsilons(smoke)
    assert e[0] is None and e[1] >= e[2]  # generation 0 accepts all; then the threshold falls
    assert prov["replicates_per_variant"] == 1 and prov["seeds"]["runs_root"] == 1000
    assert len(prov["point_fit"]) == len(ALL_PATTERNS) + 1 and prov["git_commit"]
    cols = post.values[:, post.names.index("staffing_collapse_months")]
    assert np.all(cols == np.round(cols))
    for name in ("marginals.png", "pairs.png", "generations.png", "report.md", "report.html",
                 "abc_history.sqlite", "abc_screening.json", "manifest.json"):
        assert (smoke / name).is_file(), name
    assert json.loads((smoke / "manifest.json").read_text())["status"] == "complete"
    assert (smoke.parent / "copy.json").read_bytes() == (smoke / "posterior.json").read_bytes()


def test_the_posterior_is_identical_whatever_the_worker_count(smoke, tmp_path):
    out = tmp_path / "two"
    assert run.main([*SMOKE, "--out", str(out), "--workers", "2"]) == 0
    assert particles(out) == particles(smoke) and epsilons(out) == epsilons(smoke)


def _populations(db) -> list[tuple]:
    if not db.is_file():
        return []
    with sqlite3.connect(db) as con:
        try:
            return con.execute("select t, epsilon, population_end_time from populations "
                               "where t >= 0 order by t").fetchall()
        except sqlite3.OperationalError:
            return []


@pytest.mark.slow
def test_kill_9_then_resume_equals_an_uninterrupted_calibration(smoke, tmp_path, repo_root):
    out = tmp_path / "killed"
    argv = [sys.executable, str(repo_root / "run.py"), *SMOKE, "--out", str(out)]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.Popen(argv, cwd=repo_root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline and len(_populations(out / "abc_history.sqlite")) < 2:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _populations(out / "abc_history.sqlite")
    assert 2 <= len(before) < 3
    code = run.main([*SMOKE, "--out", str(out), "--resume"])
    assert code == 0
    after = _populations(out / "abc_history.sqlite")
    assert after[:len(before)] == before  # finished generations were not redone
    assert len(after) == 3
    assert epsilons(out) == epsilons(smoke)  # the threshold schedule continued
    assert particles(out) == particles(smoke)


def test_resume_of_a_complete_calibration_says_so_and_changed_options_are_refused(tmp_path,
                                                                                    capsys):
    out = tmp_path / "short"
    argv = [a if a != "3" else "1" for a in SMOKE]  # one generation only
    assert run.main([*argv, "--out", str(out)]) == 0
    capsys.readouterr()
    assert run.main([*argv, "--out", str(out), "--resume"]) == 0
    assert "already complete" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["status"] = "running"  # as if killed before the end
    (out / "manifest.json").write_text(json.dumps(manifest))
    code = run.main([*argv, "--runs", "2", "--out", str(out), "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and "--resume: runs differ" in err and err.count("\n") == 1


# --- validate: posterior predictive checks ---------------------------------------------------------

def _posterior(path, digest=None):
    post = make_posterior(["leader_shield", "close_margin"], [[0.6, -0.2], [0.9, -0.5]],
                          [0.3, 0.7], [1.0, 2.0], {"command": "test"})
    write_posterior(post, path)
    if digest:
        data = json.loads(path.read_text())
        data["behaviour_digest"] = digest
        path.write_text(json.dumps(data))
    return path


def test_validate_fails_on_a_stale_posterior(tmp_path, capsys):
    path = _posterior(tmp_path / "posterior.json", digest="0" * 64)
    code = run.main(["validate", "--posterior", str(path), "--out", str(tmp_path / "v"),
                     "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "stale" in err and err.count("\n") == 1
    assert not (tmp_path / "v").exists()


def test_validate_runs_posterior_predictive_checks_on_fresh_seeds(tmp_path, capsys):
    path = _posterior(tmp_path / "posterior.json")
    out = tmp_path / "v"
    code = run.main(["validate", "--posterior", str(path), "--draws", "3", "--replicates", "1",
                     "--out", str(out), "--no-progress"])
    text = capsys.readouterr().out
    assert code in (0, 1)
    assert text.startswith("Posterior predictive checks: 3 parameter sets")
    table = pd.read_csv(out / "ppc.csv")
    assert len(table) == len(ALL_PATTERNS) + 1
    assert table["share_of_sets"].between(0, 1).all()
    runs_table = pd.read_csv(out / "runs.csv")
    assert len(runs_table) == 3 * 15 and runs_table["root_seed"].eq(20261124).all()
    assert sorted(runs_table["replicate"].unique()) == [0, 1, 2]  # a seed of its own per set


def test_a_median_with_its_shares_is_tested_as_a_sign_test_and_stays_bounded():
    def with_shares(n, to_hi):
        table = pattern_table(n=n)
        table["share_below_lo"], table["share_to_hi"] = math.nan, math.nan
        row = table.index[(table["site"] == "expanded_city")
                          & (table["pattern"] == "median closure month")][0]
        table.loc[row, ["value", "low", "high", "share_below_lo", "share_to_hi"]] = \
            [math.inf, 90.0, math.inf, 0.0, to_hi]
        return table
    assert pattern_distance(with_shares(40, 0.5)) == 0  # half close by month 72: in range
    assert pattern_distance(with_shares(40, 0.2)) == pytest.approx(0.3 / math.sqrt(0.25 / 40))
    assert pattern_distance(with_shares(40, 0.0)) == pytest.approx(math.sqrt(40))  # never
    assert pattern_distance(with_shares(10, 0.0)) < pattern_distance(with_shares(40, 0.0))


def test_synthetic_truth_and_leave_out_are_options_of_calibrate(tmp_path):
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"leader_shield": 1.2, "close_margin": -0.4}))
    out = tmp_path / "synthetic"
    argv = [a if a != "3" else "2" for a in SMOKE]
    assert run.main([*argv, "--out", str(out), "--synthetic-truth", str(truth),
                     "--leave-out", "metro_city"]) == 0
    table = pd.read_csv(out / "truth_quantiles.csv")
    assert list(table["parameter"]) == list(read_posterior(out / "posterior.json").names)
    row = table.set_index("parameter").loc["leader_shield"]
    assert row["truth"] == 1.2 and 0 <= row["quantile"] <= 1
    assert table.set_index("parameter").loc["status_quo", "truth"] == \
        PARAMETER_INDEX["status_quo"].default  # the rest of the truth is the defaults
    prov = read_posterior(out / "posterior.json").provenance
    assert prov["leave_out"] == ["metro_city"] and prov["synthetic_truth"] == str(truth)
    held = {f["pattern"] for f in prov["point_fit"] if f["held_out"]}
    assert held and all(k.startswith(("metro_city:", "all:")) for k in held)
    assert "Synthetic truth" in (out / "report.md").read_text()


def test_bad_abc_options_are_one_line(tmp_path, capsys):
    for extra, message in ((["--leave-out", "atlantis"], "--leave-out: unknown site(s) atlantis"),
                           (["--synthetic-truth", str(tmp_path / "none.json")],
                            "--synthetic-truth:")):
        code = run.main([*SMOKE, "--out", str(tmp_path / "bad"), *extra])
        err = capsys.readouterr().err
        assert code == 2 and message in err and err.count("\n") == 1, err


def test_an_ordering_test_without_variance_is_no_evidence():
    import pandas as pd

    from experiments.analysis.calibration import SURVIVAL_ORDER, survival_ordering

    # Every site closes in the same month: the log-rank test has no variance.
    runs = pd.DataFrame([{"variant": s, "survived": False, "end_month": 24}
                         for s in SURVIVAL_ORDER for _ in range(3)])
    ordered, p = survival_ordering(runs)
    assert not ordered and p == 1.0
