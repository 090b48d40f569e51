"""The single-run, version and calibration commands end to end (through a real process)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from experiments.runner.posterior import resolve_plan
from sim import load_scenario, simulate


def _run(repo_root, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(repo_root / "run.py"), *args], cwd=repo_root,
                          capture_output=True, text=True, timeout=600,
                          env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"})


def test_simulate_prints_the_summary_and_writes_series_and_plot(repo_root, site_file, tmp_path):
    out = tmp_path / "one"
    done = _run(repo_root, "simulate", str(site_file("metro_city")), "--seed", "3",
                "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith("Metro City (seed 3, go-live 2008-04)\n")
    for line in ("Phase reached:", "Families:", "Cost £", "Leader changes:", "Key events:"):
        assert line in text
    summary = (out / "summary.txt").read_text(encoding="utf-8")
    assert text.startswith(summary.rstrip("\n"))  # the file is what was printed
    assert f"Wrote {out / 'series.csv'}, {out / 'summary.txt'}, {out / 'series.png'}" in text
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "series.csv", "series.png",
                                                     "summary.txt"]
    series = pd.read_csv(out / "series.csv")
    plan = resolve_plan(default="point")  # simulate runs the posterior sample's best particle
    assert f"parameters: point mode, set {plan.point_set} of the posterior sample" in text
    result = simulate(plan.apply(load_scenario(site_file("metro_city")), plan.point_set), 3)
    assert list(series.columns) == list(result.series.columns)
    assert len(series) == len(result.series) and series["month"].iloc[0] == 0
    assert series["teams"].tolist() == result.series["teams"].tolist()
    png = (out / "series.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_simulate_without_out_writes_nothing(repo_root, site_file, tmp_path):
    done = subprocess.run([sys.executable, str(repo_root / "run.py"), "simulate",
                           str(site_file("isolated_coastal"))], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Isolated Coastal (seed 1,") and "Wrote" not in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_version(repo_root):
    from importlib import metadata

    done = _run(repo_root, "--version")
    assert done.returncode == 0
    assert done.stdout == f"mst-sustain {metadata.version('mst-sustain')}\n"


def test_calibrate_writes_one_line_per_point_and_a_manifest(repo_root, tmp_path):
    out = tmp_path / "calibration"
    done = _run(repo_root, "calibrate", "--method", "hypercube", "--points", "1", "--runs", "2",
                "--params", "leader_shield", "close_margin", "--out", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in (out / "calibration_search.jsonl").read_text().splitlines()]
    assert [x["point"] for x in lines] == [0, 1]
    assert set(lines[0]["overrides"]) == {"leader_shield", "close_margin"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["job"]["name"] == "calibrate" and manifest["root_seed"] == 1000
    assert "results:" in done.stdout


@pytest.mark.parametrize("args, message", [
    (["--shrink", "0"], "--shrink: 0.0 is not in (0, 1]"),
    (["--params", "no_such_parameter"], "--params: unknown parameter(s) no_such_parameter"),
])
def test_calibrate_bad_options_are_one_line(repo_root, tmp_path, args, message):
    done = _run(repo_root, "calibrate", "--method", "hypercube", "--points", "1", "--out",
                str(tmp_path / "c"), *args)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {message}") and done.stderr.count("\n") == 1
