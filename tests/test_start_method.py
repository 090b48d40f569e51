"""Local worker pools never fork a multi-threaded process (Python 3.12 warns; 3.14 changed the
default start method for this reason): workers come from a single-threaded fork server."""

from __future__ import annotations

import os
import sys
import threading
import warnings

import pandas as pd
import pytest

from experiments.runner.execute import run_ensemble
from experiments.runner.executors import open_executor, process_context
from experiments.runner.tasks import make_tasks
from sim.scenario import load_scenario

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux start methods")


def threads_of(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        return int(next(line for line in fh if line.startswith("Threads:")).split()[1])


def parent_threads() -> tuple[int, int]:
    """In a worker: (pid of the process that forked it, how many threads that process runs)."""
    parent = os.getppid()
    return parent, threads_of(parent)


@linux
def test_forkserver_with_or_without_python_threads():
    assert process_context().get_start_method() == "forkserver"
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert process_context().get_start_method() == "forkserver"
    finally:
        stop.set()
        thread.join()


@linux
def test_workers_are_forked_by_a_single_threaded_process():
    assert threads_of(os.getpid()) > 1  # numpy/pandas threads: forking *this* would warn
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        with open_executor(workers=2) as pool:
            answers = [pool.submit(parent_threads).result(timeout=120) for _ in range(4)]
    for parent, threads in answers:
        assert parent != os.getpid()
        assert threads == 1


def test_results_do_not_depend_on_the_start_method(site_file):
    tasks = make_tasks([("template", load_scenario(site_file("template")))], 6, 5)
    serial = run_ensemble(tasks, workers=1, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        pooled = run_ensemble(tasks, workers=2, progress=False)
    pd.testing.assert_frame_equal(serial.runs, pooled.runs)
