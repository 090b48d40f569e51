"""Survival analysis, ensemble plots and the HTML report on synthetic ensembles (fast)."""

import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from experiments.analysis import survival as sv  # noqa: E402
from experiments.reports.ensemble_plots import (  # noqa: E402
    plot_closure_causes,
    plot_fan,
    plot_reserve_pressure,
    plot_survival,
)
from experiments.reports.report import write_report  # noqa: E402

H = 120


def make_runs(variant, closures, horizon=H, cause="budget_round", start_id=0, censor=None):
    """Runs table: ``closures`` holds closure months, NaN (or > horizon) for survivors.

    ``censor`` optionally gives survivors' end months (default: the horizon).
    """
    rows = []
    for r, c in enumerate(closures):
        closed = not (c is None or (isinstance(c, float) and math.isnan(c)) or c > horizon)
        end = c if closed else (horizon if censor is None else censor[r])
        rows.append({"run_id": start_id + r, "variant": variant, "scenario": "Synthetic",
                     "replicate": r, "survived": not closed,
                     "closure_month": float(c) if closed else math.nan,
                     "closure_cause": cause if closed else "", "end_month": end,
                     "cost": 1e5 * end / 12, "savings": 8e4 * end / 12,
                     "net_cost": 2e4 * end / 12, "families_treated": end // 3})
    return pd.DataFrame(rows)


def exp_closures(rng, n, scale, horizon=H):
    t = np.ceil(rng.exponential(scale, n))
    return np.where(t > horizon, np.nan, t)


# --------------------------------------------------------------------------------------------
# Kaplan-Meier
# --------------------------------------------------------------------------------------------


def hand_runs():
    # Closures at 3, 5, 5, 8; survivors censored at 6, 10, 10.
    closed = make_runs("hand", [3, 5, 5, 8], horizon=10)
    surv = make_runs("hand", [np.nan] * 3, horizon=10, censor=[6, 10, 10], start_id=4)
    surv["replicate"] += 4
    return pd.concat([closed, surv], ignore_index=True)


def test_km_matches_hand_computation():
    km = sv.kaplan_meier(hand_runs())["hand"]
    s3 = 6 / 7
    s5 = s3 * 4 / 6  # 6 at risk at month 5 (the run censored at 6 is still at risk), 2 close
    s8 = s5 * 2 / 3  # 3 at risk at month 8, 1 closes
    expected = [1, 1, 1, s3, s3, s5, s5, s5, s8, s8, s8]
    np.testing.assert_allclose(km.sf, expected)
    assert (km.n, km.closed, km.horizon) == (7, 4, 10)
    assert np.all(km.low <= km.sf + 1e-12) and np.all(km.sf <= km.high + 1e-12)
    # Greenwood variance, linear band, at month 5.
    lin = sv.kaplan_meier(hand_runs(), method="linear")["hand"]
    se = s5 * math.sqrt(1 / (7 * 6) + 2 / (6 * 4))
    assert lin.low[5] == pytest.approx(s5 - 1.959964 * se, abs=1e-5)
    assert lin.high[5] == pytest.approx(s5 + 1.959964 * se, abs=1e-5)


def test_table_matches_hand_computation():
    t = sv.survival_table(hand_runs(), times=(4, 9)).loc["hand"]
    assert t["n"] == 7 and t["closed"] == 4
    assert t["p_alive_4"] == pytest.approx(6 / 7)
    assert t["p_alive_9"] == pytest.approx(6 / 7 * 4 / 6 * 2 / 3)
    assert t["median_months"] == 8 and t["median"] == "8"
    rmst = 3 * 1 + 2 * 6 / 7 + 3 * 4 / 7 + 2 * 8 / 21  # area under the step function to 10
    assert t["rmst"] == pytest.approx(rmst)
    assert t["rmst_low"] < rmst < t["rmst_high"]
    assert t["share_budget_round"] == pytest.approx(4 / 7)


def test_rmst_greenwood_matches_sample_variance_without_censoring():
    rng = np.random.default_rng(3)
    runs = make_runs("x", exp_closures(rng, 400, 60))
    row = sv.rmst(runs).loc["x"]
    t = np.minimum(runs["end_month"].to_numpy(float), H)
    assert row["rmst"] == pytest.approx(t.mean())
    assert row["rmst_se"] == pytest.approx(t.std(ddof=0) / math.sqrt(len(t)), rel=0.02)


def test_all_survive():
    runs = make_runs("safe", [np.nan] * 20)
    km = sv.kaplan_meier(runs)["safe"]
    assert np.all(km.sf == 1) and np.all(km.low == 1) and km.closed == 0
    t = sv.survival_table(runs).loc["safe"]
    assert t["closed"] == 0 and t["p_alive_120"] == 1
    assert t["p_alive_60_low"] < 1  # exact binomial interval, not a degenerate point
    assert math.isnan(t["median_months"]) and t["median"] == ">120"
    assert t["rmst"] == H
    assert sv.closure_causes(runs).loc["safe", "share_survived"] == 1
    assert sv.logrank(pd.concat([runs, runs.assign(variant="b")]), "safe", "b") == (0.0, 1.0)


def test_all_closed_and_single_run():
    runs = make_runs("doomed", [5, 10, 30, 50, 100, 110, 7, 8, 9, 10], cause="licence")
    km = sv.kaplan_meier(runs)["doomed"]
    assert km.sf[-1] == 0 and km.low[-1] == 0 and km.high[-1] == 0
    t = sv.survival_table(runs).loc["doomed"]
    assert t["closed"] == 10 and t["p_alive_120"] == 0 and 0 < t["p_alive_120_high"] < 0.35
    assert t["median_months"] == 10
    assert t["share_licence"] == 1
    cc = sv.closure_causes(runs).loc["doomed"]
    assert cc["count_licence"] == 10 and cc["share_of_closures_licence"] == 1

    one = make_runs("one", [12])
    t1 = sv.survival_table(one).loc["one"]
    assert t1["p_alive_24"] == 0 and t1["rmst"] == 12 and math.isnan(t1["rmst_low"])
    one_s = make_runs("one_s", [np.nan])
    assert sv.survival_table(one_s).loc["one_s", "p_alive_24"] == 1


def test_survivors_nan_closure_and_no_survived_column():
    runs = make_runs("x", [10, np.nan, 20, np.nan])
    a = sv.survival_table(runs)
    b = sv.survival_table(runs.drop(columns=["survived"]))
    pd.testing.assert_frame_equal(a, b)
    assert a.loc["x", "p_alive_24"] == 0.5


def test_p_alive_ci_covers_truth_for_exponential_ensembles():
    rng = np.random.default_rng(2024)
    scale = 60.0
    hits = {24: 0, 60: 0}
    n_ens = 200
    for _ in range(n_ens):
        km = sv.kaplan_meier(make_runs("e", exp_closures(rng, 100, scale)))["e"]
        for m in hits:
            true = math.exp(-m / scale)  # P(ceil(T) > m) = P(T > m) for whole months m
            hits[m] += km.low[m] <= true <= km.high[m]
    for m, k in hits.items():
        assert k / n_ens >= 0.9, (m, k)
    # One table, one check with the table's intervals too.
    t = sv.survival_table(make_runs("e", exp_closures(rng, 1000, scale))).loc["e"]
    assert t["p_alive_60_low"] <= math.exp(-1) <= t["p_alive_60_high"]


# --------------------------------------------------------------------------------------------
# Log-rank
# --------------------------------------------------------------------------------------------


def test_logrank_detects_large_difference_not_identical_samples():
    rng = np.random.default_rng(7)
    bad = make_runs("bad", exp_closures(rng, 100, 30))
    good = make_runs("good", exp_closures(rng, 100, 150), start_id=100)
    runs = pd.concat([bad, good], ignore_index=True)
    stat, p = sv.logrank(runs, "bad", "good")
    assert p < 0.01 and stat > 0  # positive: the first variant closes sooner
    same = pd.concat([bad, bad.assign(variant="bad2")], ignore_index=True)
    stat, p = sv.logrank(same, "bad", "bad2")
    assert p > 0.5 and abs(stat) < 1e-9

    mid = make_runs("mid", exp_closures(rng, 100, 70), start_id=200)
    ordered = sv.ordered_logrank(pd.concat([runs, mid]), ["bad", "mid", "good"])
    assert list(ordered[["a", "b"]].itertuples(index=False, name=None)) == [
        ("bad", "mid"), ("mid", "good")]
    assert ordered["as_expected"].all() and (ordered["p_one_sided"] < ordered["p"]).all()


# --------------------------------------------------------------------------------------------
# Paired differences (common random numbers)
# --------------------------------------------------------------------------------------------


def paired_runs():
    base = [30.0] * 60 + [np.nan] * 40  # 60 close at month 30, 40 survive
    var = [np.nan] * 30 + [30.0] * 30 + [90.0] + [np.nan] * 39  # 30 rescued, 1 lost at 90
    return pd.concat([make_runs("base", base), make_runs("policy", var, start_id=100)],
                     ignore_index=True)


def test_paired_difference_sign_ci_and_mcnemar():
    runs = paired_runs()
    d = sv.paired_difference(runs, "base", "policy", 60)
    assert (d["variant_only"], d["baseline_only"], d["n_pairs"]) == (30, 0, 100)
    assert d["diff"] == pytest.approx(0.30)
    var = (30 - 30**2 / 100) / 100**2
    assert d["diff_low"] == pytest.approx(0.30 - 1.959964 * math.sqrt(var), abs=1e-6)
    assert 0 < d["diff_low"] < 0.30 < d["diff_high"]
    assert d["mcnemar_p"] == pytest.approx(2 * 0.5**30)
    assert d["sentence"].startswith("+30 points survival at 5 years (95% CI ")
    # RMST: 30 pairs gain 90 months, one pair loses 30 months -> (2700 - 30) / 100.
    assert d["rmst_diff"] == pytest.approx(26.7)
    assert 0 < d["rmst_diff_low"] < 26.7 < d["rmst_diff_high"]
    # At 10 years the lost pair counts too: 30 vs 1 discordant.
    d120 = sv.paired_difference(runs, "base", "policy", 120)
    assert (d120["variant_only"], d120["baseline_only"]) == (30, 1)
    rev = sv.paired_difference(runs, "policy", "base", 60)
    assert rev["diff"] == pytest.approx(-0.30) and rev["diff_high"] < 0
    assert rev["sentence"].startswith("-30 points")
    assert rev["rmst_diff"] == pytest.approx(-26.7) and rev["rmst_diff_high"] < 0


def test_paired_difference_identical_and_beyond_followup():
    runs = paired_runs()
    same = pd.concat([runs[runs.variant == "base"],
                      runs[runs.variant == "base"].assign(variant="copy")])
    d = sv.paired_difference(same, "base", "copy", 60)
    assert d["diff"] == 0 and d["mcnemar_p"] == 1.0 and d["rmst_diff"] == 0
    assert d["sentence"] == "0 points survival at 5 years (95% CI 0 to 0)"
    with pytest.raises(ValueError):
        sv.paired_difference(runs, "base", "policy", 130)


# --------------------------------------------------------------------------------------------
# Plots and report
# --------------------------------------------------------------------------------------------


def synthetic_series(runs):
    rows = []
    for r in runs.itertuples():
        last = int(r.end_month)
        m = np.arange(last + 1)
        alive = (m < last) | bool(r.survived)
        vals = {"teams": alive.astype(float), "staff": 5.0 * alive,
                "reserve": 0.8 - 0.004 * m, "pressure_landing": 0.1 + 0.004 * m}
        for var, v in vals.items():
            rows.append(pd.DataFrame({"run_id": r.run_id, "month": m, "variable": var,
                                      "value": v}))
    return pd.concat(rows, ignore_index=True)


def ensemble():
    rng = np.random.default_rng(11)
    a = make_runs("Status quo", exp_closures(rng, 40, 40))
    b = make_runs("Protected budget", exp_closures(rng, 40, 150), cause="cut_proposal",
                  start_id=40)
    return pd.concat([a, b], ignore_index=True)


def test_plots_return_figures():
    runs = ensemble()
    series = synthetic_series(runs)
    figs = [plot_survival(sv.kaplan_meier(runs)), plot_fan(series, "teams", runs),
            plot_fan(series, "reserve", runs), plot_reserve_pressure(series, runs),
            plot_closure_causes(runs)]
    for fig in figs:
        assert isinstance(fig, matplotlib.figure.Figure)
        plt.close(fig)


def test_report_is_written_and_self_contained(tmp_path):
    runs = ensemble()
    manifest = {"command": "run.py ensemble", "root_seed": 42, "replicates": 40,
                "variants": [{"label": "Status quo", "source": "scenarios/a.toml",
                              "digest": "0123456789abcdef0123"}],
                "versions": {"python": "3.12", "mesa": "3.5.1"}, "git_commit": "abc1234",
                "started": "2025-01-01T00:00:00", "finished": "2025-01-01T00:10:00"}
    path = write_report(tmp_path / "out", runs, synthetic_series(runs), manifest,
                        "Test <report>", extra_sections=[("Caveats", "<p>Extra text</p>")])
    text = path.read_text(encoding="utf-8")
    assert path.name == "report.html"
    assert "data:image/png;base64," in text
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text)
    assert "http://" not in text and "https://" not in text
    assert '<table class="survival">' in text and "Still running after 5 years" in text
    assert "Status quo" in text and "Protected budget" in text
    assert "Test &lt;report&gt;" in text and "Extra text" in text
    assert text.index("Caveats") < text.index("Technical appendix")
    assert "abc1234" in text and "3.5.1" in text
    for name in ("survival.png", "closure_causes.png", "fan_teams.png",
                 "fan_reserve_pressure.png"):
        assert (path.parent / name).stat().st_size > 1000


def test_report_without_series_or_manifest(tmp_path):
    runs = make_runs("Only", [np.nan] * 5 + [12, 24])
    path = write_report(tmp_path, runs, None, None, "Minimal")
    text = path.read_text(encoding="utf-8")
    assert '<table class="survival">' in text and "fan_" not in text
