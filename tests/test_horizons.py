"""Scenarios with short or mixed horizons: checked before running, each variant read to its own.

A copy of ``scenarios/template.toml`` with ``run.horizon_months = 60`` used to make ``compare``
crash after all its runs (``month 72 is beyond the follow-up``), and an ensemble mixing it with
a 120-month scenario reported its median as "not reached (>120)".
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import run
from experiments.analysis import survival as sv
from experiments.errors import ExperimentError
from experiments.jobs.common import check_horizon
from experiments.reports.summary import format_survival_table

ROOT = Path(__file__).resolve().parents[1]


def short_copy(folder: Path, months: int = 60, name: str = "short") -> Path:
    """A copy of the template with ``run.horizon_months = months``."""
    text = (ROOT / "scenarios" / "template.toml").read_text(encoding="utf-8")
    new, n = re.subn(r"(?m)^horizon_months\s*=\s*\d+", f"horizon_months = {months}", text)
    assert n == 1
    path = folder / f"{name}.toml"
    path.write_text(new, encoding="utf-8")
    return path


def runs_of(variant: str, closures, horizon: int, start_id: int = 0) -> pd.DataFrame:
    rows = []
    for r, c in enumerate(closures):
        closed = not math.isnan(c)
        rows.append({"run_id": start_id + r, "variant": variant, "scenario": variant,
                     "replicate": r, "survived": not closed,
                     "closure_month": c if closed else math.nan,
                     "closure_cause": "budget_round" if closed else "",
                     "end_month": c if closed else horizon})
    return pd.DataFrame(rows)


def mixed_runs() -> pd.DataFrame:
    """A 60-month variant (8 of 10 survive) next to a 120-month one (all survive)."""
    nan = math.nan
    return pd.concat([runs_of("short", [10, 30] + [nan] * 8, 60),
                      runs_of("long", [nan] * 10, 120, start_id=10)], ignore_index=True)


def test_check_horizon_is_one_clear_line():
    check_horizon("a.toml", 60, 60, "--years 5")
    with pytest.raises(ExperimentError, match=r"--years 6: month 72 is beyond the scenario's "
                                              r"horizon of 60 months in a.toml"):
        check_horizon("a.toml", 60, 72, "--years 6")


def test_compare_with_a_short_horizon_finishes(tmp_path, capsys):
    short = short_copy(tmp_path)
    code = run.main(["compare", str(short), "--lever", "succession_planning=true",
                     "--replicates", "3", "--no-progress", "--out", str(tmp_path / "c")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "at 5 years" in out.out and "at 6 years" not in out.out
    diffs = pd.read_csv(tmp_path / "c" / "paired_differences.csv")
    assert sorted(set(diffs["month"])) == [24, 60]


def test_compare_months_beyond_the_horizon_fail_before_running(tmp_path, capsys):
    short = short_copy(tmp_path)
    code = run.main(["compare", str(short), "--lever", "succession_planning=true",
                     "--replicates", "3", "--months", "24,72", "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--months 72" in err and str(short) in err and "run.horizon_months" in err
    assert not (tmp_path / "c").exists()


def test_assess_checks_every_horizon_before_running(tmp_path, capsys):
    short = short_copy(tmp_path, months=48)
    code = run.main(["assess", str(ROOT / "scenarios" / "template.toml"), str(short),
                     "--replicates", "2", "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and str(short) in err
    assert not (tmp_path / "a").exists()


def test_each_variant_is_read_to_its_own_horizon():
    runs = mixed_runs()
    assert sv.variant_horizons(runs) == {"short": 60, "long": 120}
    table = sv.survival_table(runs)
    assert table.loc["short", "median"] == ">60" and table.loc["long", "median"] == ">120"
    assert list(table["horizon"]) == [60, 120]
    # Survival beyond the short variant's horizon is not available for it (NaN), not computed.
    assert math.isnan(table.loc["short", "p_alive_120"])
    assert table.loc["short", "p_alive_60"] == pytest.approx(0.8)
    assert table.loc["long", "p_alive_120"] == 1
    # RMST of the short variant over its own 60 months (not NaN for a 120-month restriction).
    assert table.loc["short", "rmst"] == pytest.approx((10 + 30 + 8 * 60) / 10)
    assert table.loc["long", "rmst"] == 120
    text = format_survival_table(table)
    short_line = next(line for line in text.splitlines() if line.startswith("short"))
    assert "n/a" in short_line and ">60" in short_line
    kms = sv.kaplan_meier(runs)
    assert kms["short"].horizon == 60 and len(kms["short"].months) == 61
    assert sv.rmst(runs).loc["short", "horizon"] == 60


def test_a_variant_where_every_run_closed_keeps_a_known_zero():
    nan = math.nan
    runs = pd.concat([runs_of("doomed", [5, 7, 9], 60),
                      runs_of("long", [nan, nan], 120, start_id=3)], ignore_index=True)
    table = sv.survival_table(runs)
    assert table.loc["doomed", "p_alive_120"] == 0 and table.loc["doomed", "median"] == "7"


def test_explicit_horizons_per_variant():
    runs = mixed_runs()
    table = sv.survival_table(runs, horizon={"short": 48})
    assert table.loc["short", "horizon"] == 48 and table.loc["long", "horizon"] == 120
    assert sv.survival_table(runs, horizon=60).loc["long", "rmst"] == 60


def test_paired_difference_of_mixed_horizons_uses_the_shorter():
    runs = mixed_runs()
    d = sv.paired_difference(runs, "long", "short", 24)
    assert d["horizon"] == 60 and d["rmst_baseline"] == 60 and np.isfinite(d["rmst_variant"])
    with pytest.raises(ValueError, match="beyond the follow-up"):
        sv.paired_difference(runs, "long", "short", 72)


def test_report_of_mixed_horizons(tmp_path):
    from experiments.reports.report import write_report

    page = write_report(tmp_path, mixed_runs(), None, {}, "Mixed").read_text(encoding="utf-8")
    assert "not reached (&gt;60)" in page and "not reached (&gt;120)" in page
    assert "not compared" not in page


def test_fan_of_a_short_variant_stops_at_its_horizon():
    from experiments.reports.ensemble_plots import plot_fan

    runs = mixed_runs()
    rows = []
    for r in runs.itertuples():
        for m in range(int(r.end_month) + 1):
            open_ = m < r.end_month or r.survived
            rows.append({"run_id": r.run_id, "month": m, "variable": "teams",
                         "value": 1.0 if open_ else 0.0})
    fig = plot_fan(pd.DataFrame(rows), "teams", runs, after_closure="zero")
    lines = {line.get_label(): np.asarray(line.get_ydata(), dtype=float)
             for line in fig.axes[0].get_lines()}
    short, long = lines["short"], lines["long"]
    assert short[60] == 1 and np.isnan(short[61:]).all()  # unknown after month 60, not closed
    assert (long == 1).all() and len(long) == 121
