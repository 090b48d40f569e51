"""Big experiments run safely: resume after any interruption, failures recorded, shards merged.

The central promise: whatever happens to an ensemble (Ctrl-C, ``kill -9``, a worker that dies,
a split into shards), its final tables are byte-identical to those of one uninterrupted run,
with no run lost and none duplicated. The run store (``runs.sqlite``) can be read while a run
writes it, refuses a second writer, and refuses damaged files and the old journal format on one
line.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import experiments.runner.execute as execute_module
import experiments.runner.folders as folders_module
import experiments.runner.tasks as tasks_module
import run
from experiments.errors import ExperimentError
from experiments.jobs.calibrate import validation_variants
from experiments.jobs.common import JobOptions, prepare_out_dir
from experiments.jobs.ensemble import validate_job
from experiments.runner.execute import run_ensemble
from experiments.runner.folders import (
    OLD_JOURNAL_NAME,
    folder_in_use,
    folder_state,
    merge_results,
)
from experiments.runner.store import STORE_NAME, RunStore
from experiments.runner.tasks import Task, make_tasks, parse_shard, require_complete, select_shard
from sim import load_scenario

ROOT = Path(__file__).resolve().parents[1]
COASTAL = ROOT / "scenarios" / "isolated_coastal.toml"
EXPANDED = ROOT / "scenarios" / "expanded_city.toml"
TABLES = ("runs.csv", "series.csv")


@pytest.fixture(scope="module")
def design():
    coastal, expanded = load_scenario(COASTAL), load_scenario(EXPANDED)
    return make_tasks([("coastal", coastal), ("expanded", expanded.with_levers(
        succession_planning=True).with_parameters(dcs_exit_rate=0.4))], 12, 7)


def same_tables(a: Path, b: Path, names=TABLES) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def interrupt_after(monkeypatch, records: int):
    """Make the store raise KeyboardInterrupt (as Ctrl-C would) after ``records`` chunks."""
    real = RunStore.add
    count = {"n": 0}

    def add(self, runs, variables):
        if count["n"] == records:
            raise KeyboardInterrupt
        count["n"] += 1
        return real(self, runs, variables)

    monkeypatch.setattr(RunStore, "add", add)


# --- resume --------------------------------------------------------------------------------------

def test_ctrl_c_then_resume_gives_identical_tables(design, reference, tmp_path, monkeypatch):
    ref_dir, ref = reference
    monkeypatch.setattr(execute_module, "chunk_size", lambda n, slots: 5)
    interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run_ensemble(design, out_dir=tmp_path, series=True, progress=False)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [STORE_NAME]
    state = folder_state(tmp_path)
    assert (state.state, state.done, state.planned) == ("unfinished", 10, len(design))
    with pytest.raises(ExperimentError, match="--resume"):
        run_ensemble(design, out_dir=tmp_path, series=True, progress=False)
    (tmp_path / ".runs.csv.0123456789ab.tmp").write_text("half a table")
    result = run_ensemble(design, out_dir=tmp_path, series=True, progress=False, resume=True)
    assert result.reused == 10 and result.planned == len(design)
    same_tables(ref_dir, tmp_path)
    pd.testing.assert_frame_equal(result.runs, ref.runs)
    pd.testing.assert_frame_equal(result.series, ref.series)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(TABLES)  # temporaries gone


def test_damaged_store_is_refused_on_one_line(design, tmp_path, monkeypatch):
    monkeypatch.setattr(execute_module, "chunk_size", lambda n, slots: 4)
    interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        run_ensemble(design, out_dir=tmp_path / "a", series=True, progress=False)
    monkeypatch.undo()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    store_a, store_b = tmp_path / "a" / STORE_NAME, tmp_path / "b" / STORE_NAME
    store_a.write_bytes(store_a.read_bytes()[: store_a.stat().st_size // 2])  # truncated
    store_b.write_bytes(b"not a database at all " * 300)  # overwritten
    for folder in (tmp_path / "a", tmp_path / "b"):
        assert folder_state(folder).state == "unfinished"
        with pytest.raises(ExperimentError, match="damaged") as info:
            run_ensemble(design, out_dir=folder, series=True, progress=False, resume=True)
        assert "\n" not in str(info.value) and str(folder) in str(info.value)
    err = cli_error(["ensemble", str(COASTAL), "--replicates", "2", "--no-progress",
                     "--out", str(tmp_path / "b"), "--resume"])
    assert "damaged" in err and "--force" in err


def cli_error(argv: list[str]) -> str:
    """Run the command line in a fresh process; expect exit 2 and one line on stderr."""
    proc = subprocess.run([sys.executable, "run.py", *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_writer_killed_as_it_created_its_store(design, tmp_path):
    folder = tmp_path / "early"
    folder.mkdir()
    (folder / (STORE_NAME + ".lock")).touch()  # the lock file exists, the database not yet
    assert folder_state(folder).state == "empty"
    result = run_ensemble(design[:3], out_dir=folder, progress=False, resume=True)
    assert result.reused == 0 and sorted(p.name for p in folder.iterdir()) == ["runs.csv"]


def test_old_journal_folder_must_be_rerun(design, tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / OLD_JOURNAL_NAME).write_bytes(b"MSTJ\x01" + b"\x00" * 64)  # the old format
    assert folder_state(folder).state == "unfinished"
    with pytest.raises(ExperimentError, match="old journal format.*must be re-run"):
        run_ensemble(design, out_dir=folder, series=True, progress=False, resume=True)
    err = cli_error(["validate", "--replicates", "2", "--no-progress", "--out", str(folder),
                     "--resume"])
    assert OLD_JOURNAL_NAME in err and "must be re-run" in err
    assert sorted(p.name for p in folder.iterdir()) == [OLD_JOURNAL_NAME]  # left untouched


KILL_DRIVER = """
import sys
from experiments.runner.execute import run_ensemble
from experiments.runner.tasks import make_tasks
from sim import load_scenario
a = load_scenario("scenarios/isolated_coastal.toml")
b = load_scenario("scenarios/expanded_city.toml")
tasks = make_tasks([("coastal", a), ("expanded", b)], int(sys.argv[2]), 3)
run_ensemble(tasks, out_dir=sys.argv[1], series=True, progress=False, workers=2)
"""


def start_writer(folder: Path, replicates: int, done: int = 8) -> subprocess.Popen:
    """Start an ensemble in another process; return once ``done`` runs are in its store."""
    proc = subprocess.Popen([sys.executable, "-c", KILL_DRIVER, str(folder), str(replicates)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until some chunks are in the store
        if (folder / STORE_NAME).exists() and folder_state(folder).done >= done:
            return proc
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode())
        time.sleep(0.01)
    proc.kill()
    raise AssertionError("the ensemble did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()


def descendants(pid: int) -> list[int]:
    """Process ids of ``pid``'s children, their children and so on (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_workers_and_fork_server_die_with_a_killed_ensemble(tmp_path):
    # A worker handed the fork server's "alive" pipe kept the server, and so itself, alive
    # after the main process was killed: blocked for ever, holding memory.
    proc = start_writer(tmp_path / "killed", 400)
    try:
        helpers = descendants(proc.pid)  # the fork server, its workers, the resource tracker
        assert len(helpers) >= 3, helpers
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(running(p) for p in helpers):
        time.sleep(0.1)
    left = [p for p in helpers if running(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, f"{len(left)} of {len(helpers)} helper processes outlived the main process"


def test_concurrent_reader_sees_progress_during_a_run(tmp_path):
    out = tmp_path / "running"
    proc = start_writer(out, 400)  # killed once checked, long before its end
    try:
        # What `sqlite3 out/runs.sqlite 'select count(*) from outcomes'` does, while it runs.
        reader = sqlite3.connect(f"{(out / STORE_NAME).as_uri()}?mode=ro", uri=True)
        first = reader.execute("select count(*) from outcomes").fetchone()[0]
        deadline = time.monotonic() + 60
        later = first
        while later == first and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            later = reader.execute("select count(*) from outcomes").fetchone()[0]
        assert first >= 8 and later > first  # the writer went on while we read
        failed = reader.execute("select count(*) from outcomes where status = 'failed'")
        assert failed.fetchone()[0] == 0
        assert reader.execute("select count(*) from series").fetchone()[0] >= 8
        reader.close()
        if shutil.which("sqlite3"):
            shell = subprocess.run(["sqlite3", str(out / STORE_NAME),
                                    "select count(*) from outcomes"],
                                   capture_output=True, text=True, timeout=30)
            assert shell.returncode == 0 and int(shell.stdout) >= later, shell.stderr
        assert proc.poll() is None, "the run finished too soon to test a concurrent reader"
    finally:
        stop(proc)


def test_second_writer_is_refused_with_one_line(tmp_path):
    out = tmp_path / "running"
    proc = start_writer(out, 400)  # killed once checked, long before its end
    try:
        assert folder_in_use(out)
        coastal, expanded = load_scenario(COASTAL), load_scenario(EXPANDED)
        tasks = make_tasks([("coastal", coastal), ("expanded", expanded)], 400, 3)
        with pytest.raises(ExperimentError, match="in use by another running experiment"):
            run_ensemble(tasks, out_dir=out, series=True, progress=False, resume=True)
        err = cli_error(["ensemble", str(COASTAL), str(EXPANDED), "--replicates", "400",
                         "--seed", "3", "--series", "--no-progress", "--out", str(out),
                         "--resume"])
        assert "in use by another running experiment" in err
        assert proc.poll() is None, "the run finished too soon to test a second writer"
    finally:
        stop(proc)


def test_kill_9_at_a_random_moment_then_resume_is_identical(tmp_path):
    replicates = 150  # enough that an idle machine cannot finish before the kill
    killed = tmp_path / "killed"
    proc = start_writer(killed, replicates)
    try:
        time.sleep(random.Random().uniform(0, 0.3))  # a random moment, possibly mid-write
        assert proc.poll() is None, "the ensemble finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    state = folder_state(killed)
    assert state.state == "unfinished" and 8 <= state.done < 2 * replicates
    assert not (killed / "runs.csv").exists()
    # The writer's lock died with it (a record lock is not inherited by its forked workers).
    deadline = time.monotonic() + 10
    while folder_in_use(killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not folder_in_use(killed)

    coastal, expanded = load_scenario(COASTAL), load_scenario(EXPANDED)
    tasks = make_tasks([("coastal", coastal), ("expanded", expanded)], replicates, 3)
    resumed = run_ensemble(tasks, out_dir=killed, series=True, progress=False, resume=True)
    assert 8 <= resumed.reused < 2 * replicates
    fresh = run_ensemble(tasks, out_dir=tmp_path / "fresh", series=True, progress=False)
    same_tables(tmp_path / "fresh", killed)
    assert resumed.runs["run_id"].tolist() == list(range(2 * replicates))
    pd.testing.assert_frame_equal(resumed.runs, fresh.runs)


def test_resume_refuses_another_design_shard_or_model(design, tmp_path, monkeypatch):
    interrupt_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        run_ensemble(design, out_dir=tmp_path, series=True, progress=False)
    monkeypatch.undo()
    other = make_tasks([("coastal", load_scenario(COASTAL))], 12, 8)
    with pytest.raises(ExperimentError, match="different experiment"):
        run_ensemble(other, out_dir=tmp_path, series=True, progress=False, resume=True)
    with pytest.raises(ExperimentError, match="different experiment"):
        run_ensemble(design, out_dir=tmp_path, series=False, progress=False, resume=True)
    with pytest.raises(ExperimentError, match="shard"):
        run_ensemble(design, out_dir=tmp_path, series=True, progress=False, resume=True,
                     shard=(0, 2))
    monkeypatch.setattr(folders_module, "model_digest", lambda: "another model")
    with pytest.raises(ExperimentError, match="different version of the model"):
        run_ensemble(design, out_dir=tmp_path, series=True, progress=False, resume=True)


def test_folder_in_use_is_refused(design, tmp_path, monkeypatch):
    interrupt_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        run_ensemble(design, out_dir=tmp_path, series=True, progress=False)
    monkeypatch.undo()
    holder = RunStore.open(tmp_path / STORE_NAME)  # another writer, here in this process
    try:
        with pytest.raises(ExperimentError, match="in use"):
            run_ensemble(design, out_dir=tmp_path, series=True, progress=False, resume=True)
        with pytest.raises(ExperimentError, match="in use"):
            prepare_out_dir(str(tmp_path), "x", force=True)
    finally:
        holder.close()


def test_complete_folder_has_nothing_to_resume(design, reference, tmp_path):
    ref_dir, _ = reference
    with pytest.raises(ExperimentError, match="already complete"):
        run_ensemble(design, out_dir=ref_dir, series=True, progress=False, resume=True)
    # A resume of a folder that does not exist yet just runs everything.
    result = run_ensemble(design[:3], out_dir=tmp_path / "new", progress=False, resume=True)
    assert len(result.runs) == 3 and result.reused == 0


# --- failures ------------------------------------------------------------------------------------

def failing(monkeypatch, replicates: set[int]):
    real = tasks_module.simulate
    error = RuntimeError("model blew up")

    def flaky(scenario, seed, series=True):
        if seed.spawn_key[0] in replicates:
            raise error
        return real(scenario, seed, series=series)

    monkeypatch.setattr(tasks_module, "simulate", flaky)


def test_failed_runs_are_recorded_and_retried_on_request(design, reference, tmp_path,
                                                         monkeypatch):
    failing(monkeypatch, {3, 5})
    result = run_ensemble(design, out_dir=tmp_path, series=True, progress=False)
    assert result.n_failed == 4  # replicates 3 and 5 of both variants
    assert sorted(result.failures["run_id"]) == [3, 5, 15, 17]
    f = result.failures.set_index("run_id").loc[15]
    assert f["variant"] == "expanded" and f["seed_key"] == "7/3" and f["replicate"] == 3
    assert f["error"] == "RuntimeError" and "model blew up" in f["traceback"]
    assert f["param_dcs_exit_rate"] == 0.4 and bool(f["lever_succession_planning"])
    assert f["scenario_source"] == str(EXPANDED) and len(f["scenario_digest"]) == 64
    assert set(result.runs["run_id"]).isdisjoint({3, 5, 15, 17})
    assert len(result.runs) == len(design) - 4
    assert (tmp_path / "failures.csv").exists()

    with pytest.raises(ExperimentError, match=r"4 of 24 runs of the design are missing"):
        require_complete(result.runs, len(design), what="Sobol' indices")
    kept = require_complete(result.runs, len(design), on_missing="drop")
    assert kept.attrs["missing_run_ids"] == [3, 5, 15, 17] and len(kept) == 20

    # A finished folder cannot be resumed; an interrupted one retries failures on request.
    monkeypatch.undo()
    interrupted = tmp_path / "interrupted"
    failing(monkeypatch, {3, 5})
    monkeypatch.setattr(execute_module, "chunk_size", lambda n, slots: 6)
    interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run_ensemble(design, out_dir=interrupted, series=True, progress=False)
    monkeypatch.undo()
    again = run_ensemble(design, out_dir=interrupted, series=True, progress=False, resume=True)
    assert sorted(again.failures["run_id"]) == [3, 5]  # recorded ones kept, the model now works
    fixed = interrupted.parent / "fixed"
    monkeypatch.setattr(execute_module, "chunk_size", lambda n, slots: 6)
    failing(monkeypatch, {3, 5})
    interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run_ensemble(design, out_dir=fixed, series=True, progress=False)
    monkeypatch.undo()
    retried = run_ensemble(design, out_dir=fixed, series=True, progress=False, resume=True,
                           retry_failed=True)
    assert retried.n_failed == 0 and not (fixed / "failures.csv").exists()
    same_tables(reference[0], fixed)


def test_require_complete_refuses_duplicates_and_strangers():
    runs = pd.DataFrame({"run_id": [0, 1, 1]})
    with pytest.raises(ExperimentError, match="twice"):
        require_complete(runs, 3, on_missing="drop")
    with pytest.raises(ExperimentError, match="outside the design"):
        require_complete(pd.DataFrame({"run_id": [0, 7]}), 3, on_missing="drop")
    with pytest.raises(ExperimentError, match="on_missing"):
        require_complete(pd.DataFrame({"run_id": [0]}), 1, on_missing="ignore")
    ok = require_complete(pd.DataFrame({"run_id": [2, 0, 1]}), 3)
    assert ok["run_id"].tolist() == [0, 1, 2] and ok.attrs["missing_run_ids"] == []
    shard = require_complete(pd.DataFrame({"run_id": [1, 3]}), 0, expected_ids=[1, 3])
    assert shard["run_id"].tolist() == [1, 3]


@dataclass(frozen=True)
class PoisonTask(Task):
    """A task whose run kills its worker process (as a segfault or the OOM killer would)."""

    poison: bool = False

    @property
    def seed(self):
        if self.poison:
            os._exit(17)
        return super().seed


def test_run_that_kills_its_worker_is_isolated_and_recorded(design, reference, tmp_path):
    tasks = [PoisonTask(t.run_id, t.variant, t.replicate, t.scenario, t.root_seed,
                        poison=t.run_id == 9) for t in design]
    result = run_ensemble(tasks, workers=2, out_dir=tmp_path, series=True, progress=False,
                          retries=1)
    assert result.failures["run_id"].tolist() == [9]
    assert "lost with its worker" in result.failures["message"].iloc[0]
    ref = reference[1]
    pd.testing.assert_frame_equal(result.runs, ref.runs[ref.runs.run_id != 9]
                                  .reset_index(drop=True))


# --- shards --------------------------------------------------------------------------------------

def test_parse_and_select_shards(design):
    assert parse_shard("0/4") == (0, 4) and parse_shard(" 3 / 4 ") == (3, 4)
    for bad in ("4/4", "-1/4", "1/0", "a/b", "1", "1/2/3", ""):
        with pytest.raises(ExperimentError, match="--shard"):
            parse_shard(bad)
    parts = [select_shard(design, (i, 5)) for i in range(5)]
    ids = sorted(t.run_id for p in parts for t in p)
    assert ids == list(range(len(design)))
    assert all(t.run_id % 5 == 2 for t in parts[2])
    with pytest.raises(ExperimentError, match="no runs"):
        run_ensemble(design[:2], shard=(3, 4), progress=False)


def test_shards_merge_into_the_unsharded_result(design, reference, tmp_path):
    ref_dir, ref = reference
    dirs = [tmp_path / f"shard{i}" for i in range(3)]
    for i, d in enumerate(dirs):
        r = run_ensemble(design, out_dir=d, series=True, progress=False, shard=(i, 3),
                         workers=2 if i == 1 else 1)
        assert r.runs["run_id"].tolist() == [t.run_id for t in select_shard(design, (i, 3))]
        assert (d / STORE_NAME).exists() and folder_state(d).state == "complete"
    merged = merge_results([dirs[2], dirs[0], dirs[1]], tmp_path / "merged")
    same_tables(ref_dir, tmp_path / "merged")
    pd.testing.assert_frame_equal(merged.runs, ref.runs)
    pd.testing.assert_frame_equal(merged.series, ref.series)

    with pytest.raises(ExperimentError, match=r"shards 1/3 are missing"):
        merge_results([dirs[0], dirs[2]], tmp_path / "m2")
    with pytest.raises(ExperimentError, match="given twice"):
        merge_results([dirs[0], dirs[0], dirs[1], dirs[2]], tmp_path / "m3")
    with pytest.raises(ExperimentError, match="not a shard folder"):
        merge_results([ref_dir, dirs[0]], tmp_path / "m4")
    other = tmp_path / "other"
    run_ensemble(design[:5], out_dir=other, progress=False, shard=(1, 3))
    with pytest.raises(ExperimentError, match="different experiment"):
        merge_results([dirs[0], other, dirs[2]], tmp_path / "m5")


def test_more_shards_than_sqlite_attaches_at_once_merge_identically(design, reference,
                                                                   tmp_path):
    """12 shards (SQLite attaches at most 10 databases at a time): merged tables identical."""
    dirs = [tmp_path / f"s{i}" for i in range(12)]
    for i, d in enumerate(dirs):
        run_ensemble(design, out_dir=d, series=True, progress=False, shard=(i, 12))
    merge_results(dirs[::-1], tmp_path / "merged")
    same_tables(reference[0], tmp_path / "merged")
    assert all((d / STORE_NAME).exists() for d in dirs)  # shards are left as they were


def test_unfinished_shard_cannot_be_merged(design, tmp_path, monkeypatch):
    dirs = [tmp_path / f"s{i}" for i in range(2)]
    run_ensemble(design, out_dir=dirs[0], progress=False, shard=(0, 2))
    monkeypatch.setattr(execute_module, "chunk_size", lambda n, slots: 3)
    interrupt_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        run_ensemble(design, out_dir=dirs[1], progress=False, shard=(1, 2))
    monkeypatch.undo()
    with pytest.raises(ExperimentError, match=r"shard 1/2 .* unfinished \(9 of 12"):
        merge_results(dirs, tmp_path / "m")
    run_ensemble(design, out_dir=dirs[1], progress=False, shard=(1, 2), resume=True)
    assert len(merge_results(dirs, tmp_path / "m").runs) == len(design)


# --- the jobs and the command line ---------------------------------------------------------------

def test_out_dir_rules(tmp_path):
    with pytest.raises(ExperimentError, match="--resume needs --out"):
        prepare_out_dir(None, "x", force=False, resume=True)
    with pytest.raises(ExperimentError, match="exclude each other"):
        prepare_out_dir(str(tmp_path), "x", force=True, resume=True)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ExperimentError, match="not an experiment folder"):
        prepare_out_dir(str(tmp_path), "x", force=False, resume=True)
    with pytest.raises(ExperimentError, match="use --force"):
        prepare_out_dir(str(tmp_path), "x", force=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExperimentError, match="not a folder"):
        prepare_out_dir(str(tmp_path / "file"), "x", force=False)


def test_job_resume_shard_and_merge_through_the_command_line(tmp_path, capsys, monkeypatch):
    common = ["validate", "--point", "--replicates", "2", "--no-progress"]
    total = 2 * len(validation_variants())  # the sites, the neutral authority, lever variants
    whole = tmp_path / "whole"
    # Exit status 1: two replicates are too few for every calibration pattern to pass (and the
    # same patterns fail, deterministically, for the resumed and the merged runs).
    assert run.main([*common, "--out", str(whole)]) == 1
    capsys.readouterr()

    # Interrupted, then the unfinished folder is protected, then resumed.
    part = tmp_path / "part"
    monkeypatch.setattr(execute_module, "chunk_size", lambda n, slots: 3)
    interrupt_after(monkeypatch, 1)
    assert run.main([*common, "--out", str(part)]) == 130
    monkeypatch.undo()
    assert "--resume" in capsys.readouterr().err
    assert run.main([*common, "--out", str(part)]) == 2
    assert f"holds an unfinished experiment (3 of {total} runs done)" in capsys.readouterr().err
    manifest_before = (part / "manifest.json").read_bytes()
    assert run.main([*common, "--seed", "9", "--out", str(part), "--resume"]) == 2
    assert "different experiment" in capsys.readouterr().err
    assert (part / "manifest.json").read_bytes() == manifest_before  # left untouched
    assert run.main([*common, "--out", str(part), "--resume"]) == 1
    assert f"3 of {total} runs were taken from the interrupted run" in capsys.readouterr().out
    same_tables(whole, part, ("runs.csv", "patterns.csv"))
    assert run.main([*common, "--out", str(part), "--resume"]) == 0
    assert "already complete" in capsys.readouterr().out

    # Two shards on the command line, merged.
    shards = [tmp_path / "s0", tmp_path / "s1"]
    for i, d in enumerate(shards):
        assert run.main([*common, "--out", str(d), "--shard", f"{i}/2"]) == 0
        assert f"shard {i}/2: {total // 2} runs" in capsys.readouterr().out
    merged = tmp_path / "merged"
    assert run.main(["merge", str(shards[1]), str(shards[0]), "--out", str(merged)]) == 1
    assert "merged 2 shards" in capsys.readouterr().out
    same_tables(whole, merged, ("runs.csv", "patterns.csv"))
    import json

    manifest = json.loads((merged / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["merged_from"]) == 2
    assert "shard" not in manifest


def test_job_reports_failures(tmp_path, monkeypatch):
    failing(monkeypatch, {1})
    text, out, _ = validate_job(JobOptions(replicates=2, out=str(tmp_path / "v"),
                                           progress=False))
    half = len(validation_variants())  # replicate 1 of every variant fails
    assert f"{half} of {2 * half} runs failed" in text and "failures.csv" in text
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["failed"] == half and manifest["runs"] == half


@pytest.mark.slow
def test_cli_ensemble_of_2000_killed_and_resumed(tmp_path):
    """The acceptance check by hand, automated: 2,000 runs, kill -9 at a random moment."""
    args = [sys.executable, "run.py", "ensemble", str(COASTAL), str(EXPANDED),
            "--replicates", "1000", "--seed", "5", "--series", "--workers", "2",
            "--no-progress"]
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = subprocess.Popen([*args, "--out", str(killed)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (killed / STORE_NAME).exists():
            time.sleep(0.05)
        time.sleep(random.Random().uniform(1, 10))
        assert proc.poll() is None, proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert folder_state(killed).state == "unfinished"
    resumed = subprocess.run([*args, "--out", str(killed), "--resume"], cwd=ROOT,
                             capture_output=True, text=True, timeout=1800)
    assert resumed.returncode == 0, resumed.stderr
    assert "runs were taken from the interrupted run" in resumed.stdout
    fresh = subprocess.run([*args, "--out", str(clean)], cwd=ROOT, capture_output=True,
                           text=True, timeout=1800)
    assert fresh.returncode == 0, fresh.stderr
    same_tables(clean, killed)


def test_job_failing_before_any_run_leaves_no_folder(tmp_path, monkeypatch):
    import experiments.jobs.ensemble as jobs

    def unreachable(*args, **kwargs):
        raise ExperimentError("--dask-scheduler: cannot connect to tcp://10.0.0.1:8786")

    monkeypatch.setattr(jobs, "run_ensemble", unreachable)
    out = tmp_path / "never"
    with pytest.raises(ExperimentError, match="cannot connect"):
        validate_job(JobOptions(replicates=2, out=str(out), progress=False))
    assert not out.exists()
    monkeypatch.undo()
    shard = tmp_path / "s0"
    validate_job(JobOptions(replicates=2, out=str(shard), progress=False, shard=(0, 2)))
    with pytest.raises(ExperimentError, match="shards 1/2 are missing"):
        jobs.merge_job([str(shard)], str(tmp_path / "merged"))
    assert not (tmp_path / "merged").exists()


def test_killed_while_writing_the_tables(design, reference, tmp_path, monkeypatch):
    """Killed after the tables or half-way through them: resume rebuilds them identically."""

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(RunStore, "remove", killed)  # tables written, store still there
    with pytest.raises(KeyboardInterrupt):
        run_ensemble(design, out_dir=tmp_path / "a", series=True, progress=False)
    monkeypatch.undo()
    assert (tmp_path / "a" / STORE_NAME).exists()
    run_ensemble(design, out_dir=tmp_path / "a", series=True, progress=False, resume=True)
    same_tables(reference[0], tmp_path / "a")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(TABLES)

    real = folders_module.SeriesWriter.write
    calls = {"n": 0}

    def torn(self, frame):
        calls["n"] += 1
        if calls["n"] == 1:
            real(self, frame.iloc[: len(frame) // 2])
            raise KeyboardInterrupt  # half a series table, under a temporary name
        return real(self, frame)

    monkeypatch.setattr(folders_module, "SERIES_BATCH", 8)
    monkeypatch.setattr(folders_module.SeriesWriter, "write", torn)
    with pytest.raises(KeyboardInterrupt):
        run_ensemble(design, out_dir=tmp_path / "b", series=True, progress=False)
    monkeypatch.undo()
    assert not (tmp_path / "b" / "series.csv").exists()
    assert folder_state(tmp_path / "b").state == "unfinished"
    run_ensemble(design, out_dir=tmp_path / "b", series=True, progress=False, resume=True)
    same_tables(reference[0], tmp_path / "b")
    assert not list((tmp_path / "b").glob(".*.tmp"))
