"""Golden baseline: the model's outputs, byte for byte, as committed in tests/golden/.

A refactor keeps every file identical. Only a deliberate model change regenerates them
(``python scripts/golden_baseline.py --write``), in a commit of its own that says why.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"

_spec = importlib.util.spec_from_file_location("golden_baseline", ROOT / "scripts" / "golden_baseline.py")
golden_baseline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden_baseline)


@pytest.fixture(scope="module")
def fresh() -> dict[str, str]:
    return golden_baseline.build()


def _version_note() -> str:
    recorded = json.loads((GOLDEN / "versions.json").read_text(encoding="utf-8"))
    now = golden_baseline.versions()
    moved = {k: (recorded.get(k), v) for k, v in now.items() if k != "python" and recorded.get(k) != v}
    if not moved:
        return ""
    return (" Note: the baseline was made with other package versions: "
            + ", ".join(f"{k} {a} (baseline) vs {b} (installed)" for k, (a, b) in moved.items())
            + "; install the pinned environment (scripts/bootstrap.sh) before suspecting the model.")


def test_every_baseline_file_is_produced(fresh):
    committed = {p.name for p in GOLDEN.iterdir() if p.name != "versions.json"}
    assert committed == set(fresh)


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.iterdir() if p.name != "versions.json"))
def test_golden_file_is_identical(fresh, name):
    expected = (GOLDEN / name).read_text(encoding="utf-8")
    got = fresh.get(name)
    assert got is not None, f"{name} is no longer produced"
    if got != expected:
        exp_lines, got_lines = expected.splitlines(), got.splitlines()
        first = next((i for i, (a, b) in enumerate(zip(exp_lines, got_lines, strict=False)) if a != b),
                     min(len(exp_lines), len(got_lines)))
        pytest.fail(f"{name} differs from the golden baseline at line {first + 1}:\n"
                    f"  baseline: {exp_lines[first] if first < len(exp_lines) else '<end>'}\n"
                    f"  now:      {got_lines[first] if first < len(got_lines) else '<end>'}\n"
                    + _version_note())


def test_installed_versions_match_the_baseline():
    recorded = json.loads((GOLDEN / "versions.json").read_text(encoding="utf-8"))
    now = golden_baseline.versions()
    moved = {k: (recorded.get(k), v) for k, v in now.items() if k != "python" and recorded.get(k) != v}
    assert not moved, ("the golden baseline was made with " + ", ".join(
        f"{k} {a}" for k, (a, _) in moved.items()) + "; installed: " + ", ".join(
        f"{k} {b}" for k, (_, b) in moved.items()) + ". Install the pinned environment (scripts/bootstrap.sh).")
