"""The checked re-stamp of a posterior sample (scripts/restamp_posterior.py).

The base model is a copy of this tree: changed in its syntax only (so the digests differ and
the runs do not), or in its behaviour (so a re-stamp must be refused).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from experiments.runner.posterior import POSTERIOR_FILE, behaviour_digest, read_posterior

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("restamp_posterior",
                                               ROOT / "scripts" / "restamp_posterior.py")
restamp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(restamp)


def copy_tree(dest: Path, edit: tuple[str, str, str] | None = None) -> Path:
    """The model's folders copied to ``dest``, with one text replacement in one file."""
    for folder in ("sim", "agents", "experiments", "scenarios"):
        shutil.copytree(ROOT / folder, dest / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    if edit is not None:
        path, old, new = edit
        text = (dest / path).read_text()
        assert old in text
        (dest / path).write_text(text.replace(old, new, 1))
    return dest


def stamped_copy(tmp_path: Path, digest: str) -> Path:
    """The committed sample with ``digest`` as its behaviour digest, in ``tmp_path``."""
    data = json.loads(POSTERIOR_FILE.read_text())
    data["behaviour_digest"] = digest
    path = tmp_path / "posterior.json"
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def test_sets_that_differ_or_are_missing_are_named():
    assert restamp.compare_sets({"0": "a", "1": "b"}, {"0": "a", "1": "c"}) == [1]
    assert restamp.compare_sets({"0": "a", "2": "b"}, {"0": "a"}) == [2]
    assert restamp.compare_sets({"0": "a"}, {"0": "a"}) == []


def test_a_syntax_only_change_is_restamped_with_the_check_recorded(tmp_path, capsys):
    # An unused name: the digest changes, the runs cannot.
    base = copy_tree(tmp_path / "base", ("sim/numeric.py", "def clip(", "UNUSED = 0\n\n\ndef clip("))
    old = restamp.tree_digest(base)
    assert old != behaviour_digest()
    path = stamped_copy(tmp_path, old)
    before = json.loads(path.read_text())
    code = restamp.main(["--base-tree", str(base), "--posterior", str(path), "--sets", "2",
                         "--runs", "1"])
    assert code == 0, capsys.readouterr()
    after = json.loads(path.read_text())
    assert after["behaviour_digest"] == behaviour_digest() and not read_posterior(path).is_stale()
    assert after["particles"] == before["particles"] and after["point"] == before["point"]
    earlier = before["provenance"].get("restamps", [])
    assert after["provenance"]["restamps"][:-1] == earlier  # appended, nothing lost
    record = after["provenance"]["restamps"][-1]
    assert record["from"] == old and record["to"] == behaviour_digest()
    assert "2 parameter sets x 15 validation variants x 1 runs" in record["compared"]
    assert "re-stamped" in capsys.readouterr().out


def test_a_behaviour_change_is_refused_and_the_file_left_alone(tmp_path, capsys):
    # A family's chance of coming back after a success: a different model.
    base = copy_tree(tmp_path / "base", ("sim/processes/casework.py", '"success": 0.5',
                                         '"success": 0.4'))
    path = stamped_copy(tmp_path, restamp.tree_digest(base))
    raw = path.read_bytes()
    code = restamp.main(["--base-tree", str(base), "--posterior", str(path), "--sets", "2",
                         "--runs", "1"])
    assert code == 1
    assert "must be recalibrated" in capsys.readouterr().out
    assert path.read_bytes() == raw


def test_a_base_that_is_not_the_calibrated_model_is_refused(tmp_path, capsys):
    path = stamped_copy(tmp_path, "0" * 64)
    raw = path.read_bytes()
    assert restamp.main(["--base-tree", str(ROOT), "--posterior", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not the model this sample was calibrated on" in err
    assert path.read_bytes() == raw


@pytest.mark.parametrize("argv, message", [
    (["--base-tree", "/nonexistent"], "is not a checkout of the model"),
    (["--base", "no-such-revision-xyz"], "is not a commit of this repository"),
    (["--base-tree", str(ROOT), "--runs", "0"], "must be at least 1"),
    (["--base-tree", str(ROOT), "--posterior", "/nonexistent.json"], "does not exist"),
])
def test_bad_options_get_one_line_and_exit_2(argv, message, capsys):
    assert restamp.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
