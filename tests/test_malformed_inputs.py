"""Bad input fails cleanly: one-line errors naming the file and key, exit status 2, no traceback.

``tests/malformed/`` holds small broken scenarios, each a minimal valid scenario with one thing
wrong. The first line of each is ``# expect: TEXT``: the one-line error must contain TEXT.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import run
from sim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = ROOT / "tests" / "malformed"
CORPUS = sorted(CORPUS_DIR.glob("*.toml"))
GOOD = str(ROOT / "scenarios" / "template.toml")
HEADER = "# expect: "

MINIMAL = """[site]
name = "Test authority"
population = 250000
looked_after_children = 500
"""


def expected(path: Path) -> str:
    """The substring the error message must contain (first line of a corpus file)."""
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    assert first.startswith(HEADER), f"{path.name}: first line must be '{HEADER}...'"
    text = first.removeprefix(HEADER).strip()
    assert text, f"{path.name}: empty expectation"
    return text


def one_error_line(err: str) -> str:
    """Assert stderr is exactly one line 'error: ...' without a traceback; return it."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {err!r}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


# --- the corpus itself -------------------------------------------------------------------------
def test_corpus_is_big_and_covers_every_kind_of_mistake():
    assert len(CORPUS) >= 150
    names = [p.stem for p in CORPUS]
    for prefix in ("syntax_", "empty_", "missing_site", "unknown_", "type_", "range_", "word_",
                   "two_", "too_many_leaders", "event_", "start_", "parameter_", "nan_", "inf_",
                   "non_utf8_", "limit_", "control_", "too_many_events"):
        assert any(n.startswith(prefix) for n in names), f"no corpus file for {prefix}*"
    for p in CORPUS:
        expected(p)


def test_minimal_base_of_the_corpus_is_valid(tmp_path):
    path = tmp_path / "minimal.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    sc = load_scenario(path)
    assert sc.site.name == "Test authority" and sc.horizon_months == 120


# --- the loader --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_load_scenario_rejects_with_one_line_naming_file_and_key(path):
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert expected(path) in message
    assert message.startswith(f"{path}: ")
    assert path.name in message
    assert info.value.source == str(path)
    assert len(message.splitlines()) == 1 and "\n" not in message, repr(message)
    assert all(c.isprintable() for c in message), f"raw control character in {message!r}"
    assert len(message) < 600, "an error message echoes too much"


def test_zero_byte_file_needs_a_site(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_bytes(b"")
    with pytest.raises(ScenarioError, match=r"empty\.toml: site: missing required key"):
        load_scenario(path)


def _hostile_files(tmp_path) -> dict[str, tuple[str, str]]:
    """Files that are not scenarios at all: path and the fragment of the one-line error."""
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)  # nobody writes: reading it would wait for ever
    big = tmp_path / "big.toml"
    big.write_text(MINIMAL + ("# padding" + " " * 90 + "\n") * 2700, encoding="utf-8")
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(MINIMAL.replace("Test", "Tést").encode("latin-1"))
    escape = tmp_path / "escape.toml"
    escape.write_text(MINIMAL.replace("Test", "\\u001b[2J\\u001b[HTest"), encoding="utf-8")
    return {
        "named_pipe": (str(fifo), "cannot read file: not a regular file (a named pipe)"),
        "dev_zero": ("/dev/zero", "cannot read file: not a regular file (a device)"),
        "too_big": (str(big), "cannot read file: larger than 256 KB"),
        "latin1": (str(latin1), "cannot read file: not UTF-8 text (byte 0xe9 on line 2)"),
        "escape_in_name": (str(escape), "site.name: control characters and terminal escape "
                                        "codes are not allowed (found '\\x1b' at character 1)"),
    }


HOSTILE = ("named_pipe", "dev_zero", "too_big", "latin1", "escape_in_name")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_files_are_refused_with_one_line(case, tmp_path):
    path, fragment = _hostile_files(tmp_path)[case]
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message == f"{path}: {fragment}" or message.startswith(f"{path}: {fragment}")
    assert all(c.isprintable() for c in message), repr(message)


def test_size_limit_is_256_kb_and_a_file_at_the_limit_loads(tmp_path):
    path = tmp_path / "limit.toml"
    text = MINIMAL + "#" * (256 * 1024 - len(MINIMAL) - 1) + "\n"
    path.write_text(text, encoding="utf-8")
    assert len(path.read_bytes()) == 256 * 1024
    assert load_scenario(path).site.name == "Test authority"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="larger than 256 KB"):
        load_scenario(path)


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    plain, bom = tmp_path / "plain.toml", tmp_path / "bom.toml"
    plain.write_text(MINIMAL, encoding="utf-8")
    bom.write_text(MINIMAL, encoding="utf-8-sig")  # as Windows Notepad saves it
    assert bom.read_bytes().startswith(b"\xef\xbb\xbf")
    a, b = load_scenario(plain), load_scenario(bom)
    assert (a.site, a.leaders, a.events, a.digest) == (b.site, b.leaders, b.events, b.digest)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ScenarioError, match="nowhere.toml: file not found"):
        load_scenario(tmp_path / "nowhere.toml")
    with pytest.raises(ScenarioError, match="cannot read file"):
        load_scenario(tmp_path)


# --- the command line, in process --------------------------------------------------------------
@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_simulate_bad_scenario_exits_2_with_one_line(path, capsys):
    assert run.main(["simulate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    line = one_error_line(err)
    assert expected(path) in line
    assert path.name in line


BAD_OPTIONS = [
    (["simulate", GOOD, "--seed", "abc"], "--seed"),
    (["simulate", GOOD, "--seed", "-1"], "--seed"),
    (["simulate", GOOD, "--seed", "1.5"], "--seed"),
    (["simulate", GOOD, "--seed", str(2**63)], "--seed"),
    (["simulate", GOOD, "--seed"], "--seed"),
    (["simulate", GOOD, "--bogus"], "unrecognized arguments"),
    (["simulate", GOOD, "extra.toml"], "unrecognized arguments"),
    (["simulate", GOOD, "--out"], "--out"),
    (["simulate"], "scenario"),
    (["simulate", "--seed", "3"], "scenario"),
    (["frobnicate"], "frobnicate"),
    (["--bogus-option"], "unrecognized arguments"),
    (["ensemble"], "SCENARIO"),
    (["ensemble", GOOD, "--replicates", "0"], "--replicates"),
    (["ensemble", GOOD, "--replicates", "many"], "--replicates"),
    (["ensemble", GOOD, "--workers", "0"], "--workers"),
    (["ensemble", GOOD, "--format", "xlsx"], "--format"),
    (["compare", GOOD, "--seed", "x"], "--seed"),
    (["validate", "--replicates", "-5"], "--replicates"),
    (["simulate", "no_such_scenario.toml"], "no_such_scenario.toml: file not found"),
    (["simulate", str(ROOT / "scenarios")], "cannot read file"),
]


@pytest.mark.parametrize("argv,fragment", BAD_OPTIONS, ids=lambda v: " ".join(v)
                         if isinstance(v, list) else None)
def test_bad_command_line_exits_2_with_one_line(argv, fragment, capsys):
    assert run.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert fragment in one_error_line(err)


BAD = CORPUS_DIR / "range_population_too_small.toml"


def test_out_dir_not_created_for_bad_scenario(tmp_path, capsys):
    out = tmp_path / "a" / "b" / "run1"
    assert run.main(["simulate", str(BAD), "--seed", "3", "--out", str(out)]) == 2
    one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "a").exists()


def test_existing_empty_out_dir_stays_empty_for_bad_scenario(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    assert run.main(["simulate", str(BAD), "--out", str(out)]) == 2
    one_error_line(capsys.readouterr().err)
    assert list(out.iterdir()) == []


def test_out_dir_not_created_for_bad_option(tmp_path, capsys):
    out = tmp_path / "out"
    assert run.main(["simulate", GOOD, "--seed", "abc", "--out", str(out)]) == 2
    one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_ensemble_out_dir_not_created_when_one_scenario_is_bad(tmp_path, capsys):
    pytest.importorskip("experiments.jobs", reason="experiments.jobs does not import yet")
    out = tmp_path / "ens"
    argv = ["ensemble", GOOD, str(BAD), "--replicates", "2", "--no-progress", "--out", str(out)]
    assert run.main(argv) == 2
    assert BAD.name in one_error_line(capsys.readouterr().err)
    assert not out.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("case", HOSTILE)
def test_ensemble_of_a_hostile_file_exits_2_with_one_line(case, tmp_path, capsys):
    path, fragment = _hostile_files(tmp_path)[case]
    out = tmp_path / "ens"
    argv = ["ensemble", path, "--replicates", "2", "--no-progress", "--out", str(out)]
    assert run.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    line = one_error_line(captured.err)
    assert fragment in line and all(c.isprintable() for c in line), repr(line)
    assert not out.exists()


# --- the command line, as a real process --------------------------------------------------------
SUBPROCESS_CASES = [
    ["simulate", str(CORPUS_DIR / "syntax_unclosed_string.toml")],
    ["simulate", str(CORPUS_DIR / "non_utf8_stray_bytes.toml")],
    ["simulate", str(CORPUS_DIR / "unknown_key_with_newline.toml")],
    ["simulate", str(CORPUS_DIR / "syntax_nested_too_deeply.toml")],
    ["ensemble", str(CORPUS_DIR / "control_escape_in_echoed_value.toml"), "--no-progress"],
    ["ensemble", str(CORPUS_DIR / "too_many_events.toml"), "--no-progress"],
    ["simulate", GOOD, "--seed", "abc"],
]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("case", ["named_pipe", "dev_zero", "escape_in_name"])
def test_subprocess_hostile_file_exits_2_without_hanging(case, tmp_path):
    path, fragment = _hostile_files(tmp_path)[case]
    proc = subprocess.run([sys.executable, "run.py", "ensemble", path, "--replicates", "2",
                           "--no-progress"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert fragment in one_error_line(proc.stderr)
    assert "\x1b" not in proc.stderr  # the raw escape character never reaches the terminal


@pytest.mark.parametrize("argv", SUBPROCESS_CASES, ids=lambda a: Path(a[1]).stem + " ".join(a[2:]))
def test_subprocess_exit_status_2_and_one_line(argv):
    proc = subprocess.run([sys.executable, "run.py", *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    one_error_line(proc.stderr)
