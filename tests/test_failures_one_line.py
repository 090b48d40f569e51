"""Failures outside our control end in one line, never a traceback.

A closed pipe (``run.py ... | head -1``), a full disk while writing outputs, and a Dask
scheduler that is unreachable or dies mid-run.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import experiments.files as files
import run
from experiments.runner.executors import quiet_dask_logs
from experiments.runner.folders import folder_state

ROOT = Path(__file__).resolve().parents[1]
GOOD = str(ROOT / "scenarios" / "template.toml")
ENV = {**os.environ, "MPLBACKEND": "Agg"}


def cli(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "run.py"), *args]


@pytest.mark.parametrize("args, unbuffered", [
    (("--help",), False),
    (("--version",), False),
    (("ensemble", GOOD, "--replicates", "2", "--no-progress", "--parameters", "defaults",
      "--out", "{out}"), False),
    (("ensemble", GOOD, "--replicates", "2", "--no-progress", "--parameters", "defaults",
      "--out", "{out}"), True),
])
def test_closed_pipe_is_a_quiet_exit_1(args, unbuffered, tmp_path):
    args = [a.replace("{out}", str(tmp_path / "e")) for a in args]
    env = {k: v for k, v in ENV.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT, env=env)
    proc.stdout.close()  # the reader went away before anything was printed
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=300) == 1
    assert err == ""


def full_disk_on(name: str):
    """A stand-in for the atomic writer's flush to disk that fails for one file (ENOSPC)."""
    real = files.fsync_file

    def fsync(path):
        if Path(path).name.startswith(f".{name}."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path)

    return fsync


def test_full_disk_is_one_line_and_the_runs_are_kept(tmp_path, capsys, monkeypatch):
    out = tmp_path / "e"
    argv = ["ensemble", GOOD, "--replicates", "3", "--no-progress", "--out", str(out)]
    monkeypatch.setattr(files, "fsync_file", full_disk_on("runs.csv"))
    code = run.main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert str(out / "runs.csv") in err and "No space left on device" in err
    assert "--resume" in err and (out / "runs.sqlite").is_file()
    monkeypatch.undo()
    assert run.main([*argv, "--resume"]) == 0
    assert "3 of 3 runs were taken from the interrupted run" in capsys.readouterr().out


def test_atomic_writer_names_the_final_file(tmp_path):
    target = tmp_path / "t.txt"

    def fail(tmp):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))

    with pytest.raises(OSError) as info:
        files.atomic_write(target, fail)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def tiny_disk(tmp_path):
    """A 96 KiB tmpfs (root only; skipped elsewhere)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mnt)],
                        capture_output=True)
    if ok.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {ok.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_a_really_full_disk(tiny_disk):
    out = tiny_disk / "e"
    argv = ["ensemble", GOOD, "--replicates", "5", "--no-progress", "--out", str(out)]
    proc = subprocess.run(cli(*argv), capture_output=True, text=True, cwd=ROOT, env=ENV,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr
    # Whichever file fills the disk first (the run store or a table) is named on one line.
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "No space left on device" in proc.stderr or "disk is full" in proc.stderr
    assert str(out) in proc.stderr
    subprocess.run(["mount", "-o", "remount,size=20m", str(tiny_disk)], check=True)
    proc = subprocess.run([*cli(*argv), "--resume"], capture_output=True, text=True, cwd=ROOT,
                          env=ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (out / "runs.csv").is_file() and (out / "report.html").is_file()


def test_quiet_dask_logs_silences_and_restores():
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    logger = logging.getLogger("distributed.client")
    handler = Keep()
    logger.addHandler(handler)
    try:
        with quiet_dask_logs():
            logger.error("lost the scheduler")
        logger.error("after")
    finally:
        logger.removeHandler(handler)
    assert seen == ["after"]
    assert logging.getLogger("distributed").propagate in (True, False)  # restored, not forced


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_exactly_one_line(tmp_path):
    pytest.importorskip("distributed")
    proc = subprocess.run(cli("ensemble", GOOD, "--replicates", "2", "--no-progress",
                              "--dask-scheduler", "tcp://127.0.0.1:1",
                              "--out", str(tmp_path / "e")),
                          capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: --dask-scheduler")


def test_scheduler_dying_mid_run_is_exactly_one_line(tmp_path):
    pytest.importorskip("distributed")
    dask = Path(sys.executable).with_name("dask")
    if not dask.exists():
        pytest.skip("the dask command is not installed")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port",
                                  str(port), "--no-dashboard"], **quiet)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    worker = subprocess.Popen([str(dask), "worker", address, "--nworkers", "1", "--nthreads",
                               "1", "--no-dashboard"], **quiet)
    out = tmp_path / "e"
    try:
        job = subprocess.Popen(cli("ensemble", GOOD, "--replicates", "5000", "--no-progress",
                                   "--dask-scheduler", address, "--out", str(out)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT, env=ENV)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and job.poll() is None:
            if out.is_dir() and folder_state(out).done >= 50:  # mid-run: some runs finished
                break
            time.sleep(0.2)
        assert job.poll() is None, "the ensemble ended before the scheduler was killed"
        scheduler.kill()
        err = job.stderr.read()
        assert job.wait(timeout=120) == 2
    finally:
        for p in (scheduler, worker):
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)
    assert err.count("\n") == 1, err
    assert err.startswith("error: the connection to the Dask scheduler") and "--resume" in err
