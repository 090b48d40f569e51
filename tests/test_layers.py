"""The import contracts of pyproject.toml ([tool.importlinter]) hold: layers, no circles."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())"]


def _lint(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([*LINT, *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=300)


def test_every_import_contract_is_kept():
    done = _lint(ROOT, "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
    for name in ("jobs > reports > analysis", "runner is independent", "never import the runner",
                 "(sim, agents) never imports", "no import circles"):
        assert name in done.stdout


def test_a_broken_layer_is_reported(tmp_path):
    # A miniature tree whose analysis imports the runner: the same kind of contract must fail.
    for mod, text in {"pkg/__init__.py": "", "pkg/runner/__init__.py": "",
                      "pkg/runner/tasks.py": "X = 1\n", "pkg/analysis/__init__.py": "",
                      "pkg/analysis/survival.py": "from pkg.runner.tasks import X\n"}.items():
        (tmp_path / mod).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / mod).write_text(text)
    (tmp_path / ".importlinter").write_text(textwrap.dedent("""\
        [importlinter]
        root_package = pkg

        [importlinter:contract:analysis]
        name = analysis never imports the runner
        type = forbidden
        source_modules = pkg.analysis
        forbidden_modules = pkg.runner
        """))
    done = _lint(tmp_path, "--no-cache")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 broken" in done.stdout and "pkg.analysis.survival -> pkg.runner.tasks" in done.stdout


def test_the_model_never_imports_the_cli():
    # import-linter checks packages only; run.py is a module, so it is checked here.
    offenders = []
    for path in [*ROOT.joinpath("sim").rglob("*.py"), *ROOT.joinpath("agents").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names
                          if n == "run" or n.startswith("run.")]
    assert offenders == []
