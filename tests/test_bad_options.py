"""Every command-line option rejects bad values: one line, exit status 2, nothing created.

The cases live in ``tests/malformed/cli_options.txt`` (``ARGS => FRAGMENT``), next to the
malformed scenario files; together they form the malformed-input corpus.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import run

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "malformed" / "cli_options.txt"
GOOD = str(ROOT / "scenarios" / "template.toml")


def cases() -> list[tuple[str, str]]:
    out = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            args, fragment = line.split(" => ", 1)
            out.append((args.strip(), fragment.strip()))
    return out


CASES = cases()


@pytest.fixture
def places(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (tmp_path / "a_file.txt").write_text("not a folder")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("someone else's")
    empty = tmp_path / "empty"
    empty.mkdir()
    return {"GOOD": GOOD, "TMP": str(scratch), "FILE": str(tmp_path / "a_file.txt"),
            "OTHER": str(other), "EMPTY": str(empty)}


def expand(text: str, places: dict) -> str:
    for key, value in places.items():
        text = text.replace("{" + key + "}", value)
    return text


def snapshot(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_corpus_is_big_enough():
    assert len(CASES) >= 40
    assert {a.split()[0] for a, _ in CASES} >= {"ensemble", "compare", "validate", "main",
                                                "merge", "simulate", "--replicates"}


@pytest.mark.parametrize("args,fragment", CASES, ids=[a for a, _ in CASES])
def test_bad_option_is_one_line_exit_2_and_creates_nothing(args, fragment, places, tmp_path,
                                                           capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default results/ folder would show up here
    before = snapshot(tmp_path)
    argv = shlex.split(expand(args, places))
    assert run.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expand(fragment, places) in lines[0]
    assert snapshot(tmp_path) == before


def test_as_a_real_process(places):
    args = "ensemble {GOOD} --shard 3/2 --dask-scheduler tcp://127.0.0.1:8786"
    proc = subprocess.run([sys.executable, "run.py", *shlex.split(expand(args, places))],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert "--shard" in proc.stderr
