"""The Dask backend on a LocalCluster on loopback: a worker killed mid-run changes nothing.

The cluster binds 127.0.0.1 only, with no dashboard. Workers run under nannies, as on a real
cluster: a killed worker's tasks are rescheduled on the survivors by the scheduler, and its
nanny starts a fresh one.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from experiments.errors import ExperimentError
from experiments.runner.execute import run_ensemble
from experiments.runner.executors import check_scheduler_address, open_backend
from experiments.runner.folders import folder_state
from experiments.runner.store import STORE_NAME, RunStore
from experiments.runner.tasks import Task, make_tasks
from sim import load_scenario

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def design():
    coastal = load_scenario(ROOT / "scenarios" / "isolated_coastal.toml")
    expanded = load_scenario(ROOT / "scenarios" / "expanded_city.toml")
    return make_tasks([("coastal", coastal), ("expanded", expanded)], 30, 13)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        yield cluster


def kill_a_busy_worker_when(client, store: Path, runs: int, info: dict) -> threading.Thread:
    """In a thread: once ``store`` holds ``runs`` runs, SIGKILL a worker with tasks in hand."""
    pids = client.run(os.getpid)

    def kill() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if store.exists() and folder_state(store.parent).done >= runs:
                break
            time.sleep(0.005)
        busy = [w for w, tasks in client.processing().items() if tasks and w in pids]
        victim = (busy or list(pids))[0]
        os.kill(pids[victim], signal.SIGKILL)
        info["killed"] = victim
        info["done_at_kill"] = folder_state(store.parent).done

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_worker_killed_mid_run_gives_identical_tables(design, reference, cluster, tmp_path):
    ref_dir, ref = reference
    out = tmp_path / "dask"
    info: dict = {}
    with distributed.Client(cluster.scheduler_address, timeout="10s") as client:
        thread = kill_a_busy_worker_when(client, out / STORE_NAME, 10, info)
        result = run_ensemble(design, dask_scheduler=cluster.scheduler_address, out_dir=out,
                              series=True, progress=False)
        thread.join(timeout=60)
    assert "killed" in info, "no worker was killed"
    assert info["done_at_kill"] < len(design), "the kill came after the end"
    assert result.n_failed == 0
    for name in ("runs.csv", "series.csv"):
        assert (out / name).read_bytes() == (ref_dir / name).read_bytes()
    pd.testing.assert_frame_equal(result.runs, ref.runs)


def test_dask_interrupted_then_resumed_on_processes(design, reference, cluster, tmp_path,
                                                    monkeypatch):
    """A Dask run interrupted half-way is finished by local processes: same tables."""
    real = RunStore.add
    count = {"n": 0}

    def add(self, runs, variables):
        if count["n"] == 3:
            raise KeyboardInterrupt
        count["n"] += 1
        return real(self, runs, variables)

    monkeypatch.setattr(RunStore, "add", add)
    with pytest.raises(KeyboardInterrupt):
        run_ensemble(design, dask_scheduler=cluster.scheduler_address, out_dir=tmp_path,
                     series=True, progress=False)
    monkeypatch.undo()
    result = run_ensemble(design, workers=1, out_dir=tmp_path, series=True, progress=False,
                          resume=True)
    assert 0 < result.reused < len(design)
    for name in ("runs.csv", "series.csv"):
        assert (tmp_path / name).read_bytes() == (reference[0] / name).read_bytes()


@pytest.mark.parametrize("address,fragment", [
    ("", "expected an address"),
    ("localhost", "is not an address"),
    ("tcp://127.0.0.1", "is not an address"),
    ("tcp://127.0.0.1:99999", "out of range"),
    ("http://127.0.0.1:8786", "not supported"),
    ("tcp://bad host:8786", "is not an address"),
])
def test_bad_scheduler_address(address, fragment):
    with pytest.raises(ExperimentError, match=fragment):
        check_scheduler_address(address)


def test_good_scheduler_addresses():
    for address in ("tcp://127.0.0.1:8786", "10.0.0.5:8786", "tls://sched.example.org:8786",
                    "tcp://[::1]:8786", "inproc://10.0.0.1/123/1"):
        assert check_scheduler_address(address) == address


@pytest.mark.slow
def test_unreachable_scheduler_is_one_clear_error():
    with pytest.raises(ExperimentError, match="cannot connect to tcp://127.0.0.1:9"):
        with open_backend(dask_scheduler="tcp://127.0.0.1:9"):
            pass


@dataclass(frozen=True)
class RaisingTask(Task):
    """A task whose run raises on the worker."""

    bad: bool = False

    @property
    def seed(self):
        if self.bad:
            raise FloatingPointError("model blew up on a worker")
        return super().seed


def test_run_that_raises_on_a_worker_is_recorded(design, reference, cluster, tmp_path):
    tasks = [RaisingTask(t.run_id, t.variant, t.replicate, t.scenario, t.root_seed,
                         bad=t.run_id in (4, 33)) for t in design]
    result = run_ensemble(tasks, dask_scheduler=cluster.scheduler_address, out_dir=tmp_path,
                          series=True, progress=False)
    assert result.failures["run_id"].tolist() == [4, 33]
    assert set(result.failures["error"]) == {"FloatingPointError"}
    assert "model blew up on a worker" in result.failures["traceback"].iloc[0]
    ref = reference[1]
    pd.testing.assert_frame_equal(
        result.runs, ref.runs[~ref.runs.run_id.isin([4, 33])].reset_index(drop=True))
