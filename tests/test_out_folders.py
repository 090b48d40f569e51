"""Output folders: what --force may replace, swapping a new folder in, one writer, complete.

The rules as a user sees them: an absent or empty ``--out`` is used; an existing one needs
``--resume`` (finish it in place) or ``--force``, which replaces only a folder this tool made
(our manifest and only files our commands write) and only once the new run has finished; two
processes never share a folder; a folder is complete only when every artefact is written.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import run
from experiments.errors import ExperimentError
from experiments.files import KILL_AFTER_WRITES
from experiments.runner.folders import folder_state
from experiments.runner.manifest import OUTPUT_PATTERNS, SIBLING, foreign_entry, is_output_name

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = str(ROOT / "scenarios" / "template.toml")
ENSEMBLE = ["ensemble", TEMPLATE, "--replicates", "2", "--no-progress"]


def cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the command line in this process; return (status, stdout, stderr)."""
    code = run.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes), links as their target."""
    files = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            files[rel] = ("-> " + os.readlink(p)).encode()
        elif p.is_file():
            files[rel] = p.read_bytes()
        else:
            files[rel + "/"] = b""
    return files


def siblings(folder: Path) -> list[str]:
    """Entries our commands make beside ``folder`` (new/old folders, claim locks)."""
    return [p.name for p in folder.parent.iterdir()
            if (m := SIBLING.match(p.name)) and m["name"] == folder.name]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A complete ensemble folder (with the series table), made once for the module."""
    out = tmp_path_factory.mktemp("results") / "e"
    assert run.main([*ENSEMBLE, "--series", "--out", str(out)]) == 0
    return out


def copy_of(results: Path, dest: Path) -> Path:
    dest.mkdir()
    for p in results.iterdir():
        (dest / p.name).write_bytes(p.read_bytes())
    return dest


# --- 1. --force replaces only a folder this tool made -----------------------------------------

def test_force_refuses_a_folder_holding_other_files(tmp_path, capsys):
    out = tmp_path / "v"
    (out / "sub").mkdir(parents=True)
    (out / "thesis.docx").write_text("x")
    before = snapshot(out)
    code, _, err = cli([*ENSEMBLE, "--force", "--out", str(out)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and str(out) in err and "holds sub," in err
    assert "Traceback" not in err
    assert snapshot(out) == before and siblings(out) == []


def test_force_refuses_a_results_folder_with_one_foreign_file(results, tmp_path, capsys):
    out = copy_of(results, tmp_path / "e")
    (out / "notes.md").write_text("mine")
    before = snapshot(out)
    code, _, err = cli([*ENSEMBLE, "--force", "--out", str(out)], capsys)
    assert code == 2 and "holds notes.md," in err and err.count("\n") == 1
    assert snapshot(out) == before


def test_force_never_replaces_the_working_folder(results, tmp_path, capsys, monkeypatch):
    out = copy_of(results, tmp_path / "here")
    before = snapshot(out)
    monkeypatch.chdir(out)
    code, _, err = cli([*ENSEMBLE, "--force", "--out", "."], capsys)
    assert code == 2 and "current folder" in err and err.count("\n") == 1
    assert snapshot(out) == before


def test_symbolic_links_are_refused_or_foreign_never_followed(results, tmp_path, capsys):
    target = copy_of(results, tmp_path / "real")
    before = snapshot(target)
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    code, _, err = cli([*ENSEMBLE, "--force", "--out", str(link)], capsys)
    assert code == 2 and "symbolic link" in err and err.count("\n") == 1
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "data.csv").write_text("keep")
    inner = copy_of(results, tmp_path / "inner")
    (inner / "report_data").symlink_to(outside, target_is_directory=True)
    code, _, err = cli([*ENSEMBLE, "--force", "--out", str(inner)], capsys)
    assert code == 2 and "holds report_data," in err and "Traceback" not in err
    assert (outside / "data.csv").read_text() == "keep"
    assert snapshot(target) == before


def test_one_list_of_output_names_decides_what_is_ours(results, tmp_path):
    assert foreign_entry(results) is None
    assert all(is_output_name(p.name) for p in results.iterdir())
    assert is_output_name(".report.html.0123456789ab.tmp") and not is_output_name("x.docx")
    assert "manifest.json" in OUTPUT_PATTERNS
    no_manifest = tmp_path / "n"
    no_manifest.mkdir()
    (no_manifest / "runs.csv").write_text("run_id\n")
    assert foreign_entry(no_manifest) == "manifest.json (missing)"


# --- 2. a --force run is swapped in only when it has finished -------------------------------

def test_failed_force_run_leaves_the_old_results_as_they_were(results, tmp_path, capsys,
                                                              monkeypatch):
    import experiments.jobs.ensemble as jobs

    out = copy_of(results, tmp_path / "e")
    before = snapshot(out)

    def unreachable(*args, **kwargs):
        raise ExperimentError("--dask-scheduler: cannot connect to tcp://127.0.0.1:1")

    monkeypatch.setattr(jobs, "run_ensemble", unreachable)
    code, _, err = cli([*ENSEMBLE, "--series", "--force", "--out", str(out)], capsys)
    assert code == 2 and "cannot connect" in err and "still holds the previous results" in err
    assert snapshot(out) == before and siblings(out) == []
    monkeypatch.undo()
    code, _, err = cli([*ENSEMBLE, "--series", "--force", "--out", str(out)], capsys)
    assert code == 0, err
    after = snapshot(out)
    assert sorted(after) == sorted(before) and after["runs.csv"] == before["runs.csv"]
    assert after["manifest.json"] != before["manifest.json"]  # a new run, put in place
    assert siblings(out) == [] and folder_state(out).state == "complete"


@pytest.mark.slow
def test_force_run_against_an_unreachable_scheduler_keeps_the_old_results(results, tmp_path,
                                                                         capsys):
    out = copy_of(results, tmp_path / "e")
    before = snapshot(out)
    code, _, err = cli([*ENSEMBLE, "--series", "--dask-scheduler", "tcp://127.0.0.1:1",
                        "--force", "--out", str(out)], capsys)
    assert code == 2 and snapshot(out) == before and siblings(out) == []


# --- 3. every command that writes follows the same rules ---------------------------------------

def test_simulate_refuses_a_results_folder_and_replaces_it_with_force(results, tmp_path, capsys):
    out = copy_of(results, tmp_path / "e")
    before = snapshot(out)
    code, _, err = cli(["simulate", TEMPLATE, "--out", str(out)], capsys)
    assert code == 2 and "use --force" in err and err.count("\n") == 1
    assert snapshot(out) == before
    code, text, err = cli(["simulate", TEMPLATE, "--out", str(out), "--force"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "series.csv",
                                                     "series.png", "summary.txt"]
    assert f"Wrote {out / 'series.csv'}" in text and ".new-" not in text
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def _fake_shards(tmp_path: Path) -> list[str]:
    dirs = []
    for i in range(2):
        d = tmp_path / f"s{i}"
        d.mkdir()
        (d / "manifest.json").write_text(json.dumps({
            "manifest_version": 1, "job": {"name": "validate"},
            "shard": {"index": i, "count": 2, "runs": 1}}))
        dirs.append(str(d))
    return dirs


COMMANDS = {
    "ensemble": lambda t: [*ENSEMBLE],
    "compare": lambda t: ["compare", TEMPLATE, "--lever", "succession_planning=true",
                          "--replicates", "2", "--no-progress"],
    "validate": lambda t: ["validate", "--replicates", "2", "--no-progress"],
    "main": lambda t: ["main", "--replicates", "2", "--no-progress"],
    "merge": lambda t: ["merge", *_fake_shards(t)],
    "simulate": lambda t: ["simulate", TEMPLATE],
    "assess": lambda t: ["assess", TEMPLATE, "--replicates", "2", "--no-progress"],
    "sensitivity": lambda t: ["sensitivity", TEMPLATE, "--method", "morris", "--n", "2",
                              "--replicates", "1", "--no-progress"],
    "discover": lambda t: ["discover", TEMPLATE, "--n", "100", "--replicates", "1",
                           "--no-progress"],
    "interact": lambda t: ["interact", TEMPLATE, "--replicates", "2", "--no-progress"],
    "calibrate": lambda t: ["calibrate", "--population", "2", "--generations", "1", "--runs", "1",
                            "--no-progress"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_to_overwrite_and_to_force_foreign_folders(command, results,
                                                                        tmp_path, capsys):
    argv = COMMANDS[command](tmp_path)
    out = copy_of(results, tmp_path / "e")
    before = snapshot(out)
    code, _, err = cli([*argv, "--out", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert snapshot(out) == before
    (out / "thesis.docx").write_text("x")
    before = snapshot(out)
    code, _, err = cli([*argv, "--force", "--out", str(out)], capsys)
    assert code == 2 and "thesis.docx" in err and err.count("\n") == 1, err
    assert snapshot(out) == before and siblings(out) == []


# --- 4 and 6. complete means complete; kill -9 anywhere, then --resume --------------------------

COMPARE = ["compare", TEMPLATE, "--lever", "succession_planning=true", "--replicates", "3",
           "--seed", "5", "--no-progress"]
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\+00:00|Z)?")
DURATION = re.compile(r"\d+(?:\.\d+)? ?(?:s|seconds)\b")
VARYING = ("started", "finished", "wall_time_s", "command", "argv", "attempts", "reused_runs",
           "artefacts")


MANIFEST_ROW = re.compile(r"<tr><td>(?:" + "|".join(VARYING) + r")</td>.*?</tr>\n?", re.S)
"""Rows of the report's manifest table that differ between attempts."""


def run_cli(argv: list[str], kill_after: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop(KILL_AFTER_WRITES, None)
    if kill_after is not None:
        env[KILL_AFTER_WRITES] = str(kill_after)
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def normalised_manifest(folder: Path) -> dict:
    data = json.loads((folder / "manifest.json").read_text())
    return {k: v for k, v in data.items() if k not in VARYING}


def assert_same_folder(reference: Path, folder: Path) -> None:
    ref, got = snapshot(reference), snapshot(folder)
    assert sorted(got) == sorted(ref)
    for name in ref:
        if name.endswith(".csv") or name.endswith(".png"):
            assert got[name] == ref[name], name
    # The report shows the command line (the resumed one ends in --resume), times, durations.
    norm = [DURATION.sub("D", TIME.sub("T", MANIFEST_ROW.sub("", f["report.html"].decode())))
            .replace(str(d), "OUT").replace(" --resume", "")
            for f, d in ((ref, reference), (got, folder))]
    assert norm[0] == norm[1]
    assert normalised_manifest(folder) == normalised_manifest(reference)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["artefacts"] == json.loads((reference / "manifest.json").read_text())[
        "artefacts"]


@pytest.fixture(scope="module")
def compare_reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "compare"
    done = run_cli([*COMPARE, "--out", str(out)])
    assert done.returncode == 0, done.stderr
    return out


def kill_then_resume(reference: Path, folder: Path, n: int) -> bool:
    """Kill a compare after its n-th file write, resume it; False if it finished first."""
    done = run_cli([*COMPARE, "--out", str(folder)], kill_after=n)
    if done.returncode == 0:
        return False
    assert done.returncode == -signal.SIGKILL, done.stderr
    state = folder_state(folder)
    if state.state == "complete":  # killed right after its last write, the manifest's
        resumed = run_cli([*COMPARE, "--out", str(folder), "--resume"])
        assert resumed.returncode == 0 and "already complete" in resumed.stdout
        assert_same_folder(reference, folder)  # and the left-over run store is gone
        return True
    assert state.state == "unfinished", (n, state)
    again = run_cli([*COMPARE, "--out", str(folder)])
    assert again.returncode == 2 and "--resume" in again.stderr  # not "already complete"
    resumed = run_cli([*COMPARE, "--out", str(folder), "--resume"])
    assert resumed.returncode == 0, (n, resumed.stderr)
    assert "already complete" not in resumed.stdout
    assert_same_folder(reference, folder)
    return True


def test_killed_after_the_runs_table_or_in_the_report_resume_finishes_it(compare_reference,
                                                                          tmp_path):
    writes = json.loads((compare_reference / "manifest.json").read_text())["artefacts"]
    # Writes: manifest, runs.csv, manifest, paired_differences.csv, figures, report, manifest.
    # After runs.csv; after paired_differences.csv; after the figures, before report.html;
    # after the last write (the complete manifest), before the run store is removed.
    for n in (2, 4, len(writes) + 1, len(writes) + 3):
        assert kill_then_resume(compare_reference, tmp_path / f"k{n}", n), n


@pytest.mark.slow
def test_kill_9_after_every_write_of_a_compare_then_resume_is_identical(compare_reference,
                                                                        tmp_path):
    n = 1
    while kill_then_resume(compare_reference, tmp_path / f"k{n}", n):
        n += 1
    writes = json.loads((compare_reference / "manifest.json").read_text())["artefacts"]
    assert n == len(writes) + 4  # every artefact and 3 manifests (running, finishing, complete)


def test_complete_folder_missing_an_artefact_is_not_complete(results, tmp_path, capsys):
    out = copy_of(results, tmp_path / "e")
    assert folder_state(out).state == "complete"
    (out / "report.html").unlink()
    assert folder_state(out).state == "unfinished"
    code, _, err = cli([*ENSEMBLE, "--series", "--out", str(out), "--resume"], capsys)
    assert code == 2 and "cannot be rebuilt" in err and err.count("\n") == 1


# --- 5. two processes on one --out ---------------------------------------------------------------

def test_two_processes_on_one_folder_one_wins_the_other_gets_one_line(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop(KILL_AFTER_WRITES, None)
    for i in range(4):
        out = tmp_path / f"both{i}"
        argv = [sys.executable, str(ROOT / "run.py"), *ENSEMBLE, "--out", str(out)]
        procs = [subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        done = [(p.wait(timeout=300), *p.communicate()) for p in procs]
        codes = sorted(code for code, _, _ in done)
        assert codes == [0, 2], done
        loser = next(err for code, _, err in done if code == 2)
        assert loser.count("\n") == 1 and "Traceback" not in loser, loser
        assert folder_state(out).state == "complete" and siblings(out) == []



def test_assess_of_two_authorities_is_complete_and_can_be_forced(tmp_path, capsys):
    """Each authority's subfolder is complete without its store; --force replaces the whole."""
    for name in ("north", "south"):
        (tmp_path / f"{name}.toml").write_text(Path(TEMPLATE).read_text())
    out = tmp_path / "both"
    argv = ["assess", str(tmp_path / "north.toml"), str(tmp_path / "south.toml"),
            "--replicates", "2", "--trajectories", "2", "--screen-replicates", "1",
            "--no-progress", "--out", str(out)]
    code, _, err = cli(argv, capsys)
    assert code == 0, err
    assert not list(out.rglob("runs.sqlite*")) and foreign_entry(out) is None
    for name in ("north", "south"):
        assert folder_state(out / name).state == "complete"
    code, _, err = cli([*argv, "--force"], capsys)
    assert code == 0, err
    assert (out / "ranking.txt").is_file() and siblings(out) == []
