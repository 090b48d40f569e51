"""Ensemble runner: common random numbers, order, executor independence, outputs, manifest."""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.errors import ExperimentError
from experiments.runner.execute import run_ensemble
from experiments.runner.executors import InlineExecutor, open_executor
from experiments.runner.manifest import build_manifest, finish_manifest, write_manifest
from experiments.runner.tasks import Task, make_tasks, run_task
from sim import load_scenario
from sim.simulate import SERIES_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "metro_city.toml"


@pytest.fixture(scope="module")
def metro():
    return load_scenario(SCENARIO)


@pytest.fixture(scope="module")
def variants(metro):
    return [("base", metro),
            ("succession", metro.with_levers(succession_planning=True)
             .with_parameters(dcs_exit_rate=0.40))]


@pytest.fixture(scope="module")
def tasks(variants):
    return make_tasks(variants, replicates=5, root_seed=11)


@pytest.fixture(scope="module")
def serial(tasks, tmp_path_factory):
    out = tmp_path_factory.mktemp("w1")
    return out, run_ensemble(tasks, workers=1, out_dir=out, series=True, progress=False)


# --- tasks and common random numbers ------------------------------------------------------------

def test_tasks_variant_major_with_common_random_numbers(tasks):
    assert [t.run_id for t in tasks] == list(range(10))
    assert [t.variant for t in tasks] == ["base"] * 5 + ["succession"] * 5
    assert [t.replicate for t in tasks] == list(range(5)) * 2
    for r in range(5):
        a, b = tasks[r], tasks[5 + r]
        assert a.seed_key == b.seed_key == f"11/{r}"
        assert a.seed.spawn_key == b.seed.spawn_key == (r,)
        assert a.seed.generate_state(4).tolist() == b.seed.generate_state(4).tolist()
        expected = np.random.SeedSequence(11, spawn_key=(r,)).generate_state(4)
        assert a.seed.generate_state(4).tolist() == expected.tolist()
    assert tasks[0].seed.generate_state(4).tolist() != tasks[1].seed.generate_state(4).tolist()


def test_identical_variants_give_identical_outputs(metro):
    tasks = make_tasks([("a", metro), ("b", metro)], replicates=3, root_seed=5)
    runs = run_ensemble(tasks, progress=False).runs
    outputs = [c for c in runs.columns if c not in ("run_id", "variant")]
    a = runs[runs.variant == "a"][outputs].reset_index(drop=True)
    b = runs[runs.variant == "b"][outputs].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    # ...and replicates differ from each other.
    assert a["families_referred"].nunique() > 1


def test_make_tasks_rejects_bad_input(metro):
    with pytest.raises(ExperimentError, match="replicates"):
        make_tasks([("a", metro)], 0, 1)
    with pytest.raises(ExperimentError, match="seed"):
        make_tasks([("a", metro)], 2, -1)
    with pytest.raises(ExperimentError, match="used twice"):
        make_tasks([("a", metro), ("a", metro)], 2, 1)
    with pytest.raises(ExperimentError, match="no scenarios"):
        make_tasks([], 2, 1)


def test_run_task_row(tasks):
    row, series = run_task(tasks[6])
    assert series is None
    assert list(row)[:7] == ["run_id", "variant", "scenario", "replicate", "root_seed",
                             "seed_key", "parameter_set"]
    assert row["parameter_set"] == -1  # no plan: the registry defaults
    assert row["run_id"] == 6 and row["variant"] == "succession" and row["replicate"] == 1
    assert row["scenario"] == "Metro City" and row["seed_key"] == "11/1"
    assert row["lever_succession_planning"] is True
    assert row["lever_programme_manager"] == "auto"
    assert row["param_dcs_exit_rate"] == 0.40
    assert "survived" in row and "closure_month" in row


# --- results and files ----------------------------------------------------------------------------

def test_results_in_task_order_with_inputs(serial, tasks):
    out, result = serial
    runs = result.runs
    assert runs["run_id"].tolist() == [t.run_id for t in tasks]
    assert runs["variant"].tolist() == [t.variant for t in tasks]
    # A parameter only one variant overrides shows the default for the others.
    assert runs.loc[runs.variant == "base", "param_dcs_exit_rate"].eq(0.33).all()
    assert runs.loc[runs.variant == "succession", "param_dcs_exit_rate"].eq(0.40).all()
    assert sorted(p.name for p in out.iterdir()) == ["runs.csv", "series.csv"]
    assert result.files["runs"] == out / "runs.csv"
    assert result.wall_time > 0
    on_disk = pd.read_csv(out / "runs.csv")
    assert on_disk["run_id"].tolist() == runs["run_id"].tolist()


def test_series_long_format(serial, tasks):
    _, result = serial
    s = result.series
    assert list(s.columns) == ["run_id", "month", "variable", "value"]
    assert set(s["variable"]) == set(SERIES_COLUMNS)
    assert s["run_id"].is_monotonic_increasing
    months = result.runs.set_index("run_id")["end_month"] + 1
    sizes = s.groupby("run_id").size()
    assert (sizes == months * len(SERIES_COLUMNS)).all()
    assert s.duplicated(["run_id", "month", "variable"]).sum() == 0


# Python 3.12 warns on any fork of a process with threads, native ones included (OpenBLAS,
# jemalloc): the suite turns that warning into an error (pyproject.toml), and the runner's
# workers come from a single-threaded fork server instead.
def test_parallel_equals_serial_byte_for_byte(serial, tasks, tmp_path):
    out1, r1 = serial
    r2 = run_ensemble(tasks, workers=2, out_dir=tmp_path, series=True, progress=False)
    pd.testing.assert_frame_equal(r1.runs, r2.runs)
    pd.testing.assert_frame_equal(r1.series, r2.series)
    assert (tmp_path / "runs.csv").read_bytes() == (out1 / "runs.csv").read_bytes()
    assert (tmp_path / "series.csv").read_bytes() == (out1 / "series.csv").read_bytes()


def test_threaded_parent_uses_forkserver_and_agrees(serial, tasks):
    import sys
    import threading

    from experiments.runner.executors import process_context

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        if sys.platform.startswith("linux"):
            assert process_context().get_start_method() == "forkserver"
        r = run_ensemble(tasks, workers=2, series=True, progress=False)
    finally:
        stop.set()
        thread.join()
    _, r1 = serial
    pd.testing.assert_frame_equal(r.runs, r1.runs)
    pd.testing.assert_frame_equal(r.series, r1.series)


def test_task_order_does_not_matter(serial, tasks):
    _, r1 = serial
    shuffled = list(reversed(tasks))
    r = run_ensemble(shuffled, progress=False, series=True)
    pd.testing.assert_frame_equal(r.runs, r1.runs)
    pd.testing.assert_frame_equal(r.series, r1.series)


def test_dask_equals_serial_byte_for_byte(serial, tasks, tmp_path):
    distributed = pytest.importorskip("distributed")
    out1, r1 = serial
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        r3 = run_ensemble(tasks, dask_scheduler=cluster.scheduler_address, out_dir=tmp_path,
                          series=True, progress=False)
    pd.testing.assert_frame_equal(r1.runs, r3.runs)
    assert (tmp_path / "runs.csv").read_bytes() == (out1 / "runs.csv").read_bytes()
    assert (tmp_path / "series.csv").read_bytes() == (out1 / "series.csv").read_bytes()


# --- errors ---------------------------------------------------------------------------------------

def test_parquet_without_pyarrow_is_a_clear_error(tasks, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError("No module named 'pyarrow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(ExperimentError, match=r"pip install -e \.\[parquet\]"):
        run_ensemble(tasks[:1], out_dir=tmp_path, fmt="parquet", progress=False)
    assert not any(tmp_path.iterdir())  # failed before running anything


def test_parquet_output(tasks, tmp_path):
    pytest.importorskip("pyarrow")
    r = run_ensemble(tasks[:3], out_dir=tmp_path, fmt="parquet", progress=False)
    back = pd.read_parquet(tmp_path / "runs.parquet")
    assert back["run_id"].tolist() == [0, 1, 2]
    assert list(back.columns) == list(r.runs.columns)


@pytest.mark.parametrize("workers", [0, -1, 257, 1.5, "2", True])
def test_bad_workers(workers, tasks):
    with pytest.raises(ExperimentError, match="workers"):
        run_ensemble(tasks[:1], workers=workers, progress=False)


def test_bad_format(tasks):
    with pytest.raises(ExperimentError, match="format"):
        run_ensemble(tasks[:1], fmt="xlsx", progress=False)


def test_missing_distributed_is_a_clear_error(monkeypatch):
    real_import = builtins.__import__

    def no_distributed(name, *args, **kwargs):
        if name == "distributed":
            raise ImportError("No module named 'distributed'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    with pytest.raises(ExperimentError, match=r"pip install -e \.\[distributed\]"):
        with open_executor(dask_scheduler="tcp://127.0.0.1:1"):
            pass


def test_inline_executor_completes_at_once():
    with open_executor(1) as ex:
        assert isinstance(ex, InlineExecutor)
        fut = ex.submit(divmod, 7, 2)
        assert fut.done() and fut.result() == (3, 1)
        bad = ex.submit(divmod, 1, 0)
        assert bad.done() and isinstance(bad.exception(), ZeroDivisionError)


def test_failed_run_is_recorded_and_the_ensemble_goes_on(metro, tmp_path, monkeypatch):
    import experiments.runner.execute as execute_module
    import experiments.runner.tasks as ens

    tasks = make_tasks([("a", metro)], 3, 1)
    real = ens.simulate

    def flaky(scenario, seed, series=True):
        if seed.spawn_key == (2,):
            raise RuntimeError("boom")
        return real(scenario, seed, series=series)

    monkeypatch.setattr(ens, "simulate", flaky)
    monkeypatch.setattr(execute_module, "chunk_size", lambda n, slots: 1)
    result = run_ensemble(tasks, out_dir=tmp_path, progress=False)
    assert result.runs["run_id"].tolist() == [0, 1]
    assert result.n_failed == 1
    failure = result.failures.iloc[0]
    assert failure["run_id"] == 2 and failure["seed_key"] == "1/2"
    assert failure["error"] == "RuntimeError" and failure["message"] == "boom"
    assert "raise RuntimeError" in failure["traceback"]
    assert failure["lever_succession_planning"] == False  # noqa: E712 - inputs recorded
    on_disk = pd.read_csv(tmp_path / "failures.csv")
    assert on_disk["run_id"].tolist() == [2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["failures.csv", "runs.csv"]


# --- manifest -------------------------------------------------------------------------------------

def test_manifest_fields(variants, serial, tmp_path):
    _, result = serial
    m = build_manifest(["run.py", "compare", str(SCENARIO)], variants, 11, 5, 2, None)
    for key in ("command", "started", "root_seed", "replicates", "variants", "versions",
                "git_commit", "platform", "workers", "dask_scheduler", "seed_scheme"):
        assert key in m
    assert m["command"] == f"run.py compare {SCENARIO}"
    assert m["root_seed"] == 11 and m["replicates"] == 5 and m["workers"] == 2
    v0, v1 = m["variants"]
    assert v0["label"] == "base" and v0["source"] == str(SCENARIO)
    assert v0["text"] == SCENARIO.read_text(encoding="utf-8")
    assert len(v0["digest"]) == 64 and v0["digest"] == variants[0][1].digest
    assert v1["levers"]["succession_planning"] is True
    assert v1["parameters"] == {"dcs_exit_rate": 0.40} and v0["parameters"] == {}
    for pkg in ("python", "mesa", "numpy", "scipy", "pandas", "SALib", "matplotlib"):
        assert m["versions"][pkg]
    assert m["git_commit"] is None or len(m["git_commit"]) == 40
    import socket

    assert socket.gethostname() not in m["platform"]
    finish_manifest(m, result)
    assert m["runs"] == 10 and m["wall_time_s"] >= 0 and m["finished"] >= m["started"]
    path = write_manifest(tmp_path / "manifest.json", m)
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(json.dumps(m))
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_task_is_picklable(tasks):
    import pickle

    t = pickle.loads(pickle.dumps(tasks[3]))
    assert isinstance(t, Task) and t == tasks[3]
