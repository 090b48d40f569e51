"""Fixtures shared by the test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.runner.execute import run_ensemble

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root folder."""
    return ROOT


@pytest.fixture(scope="session")
def site_file():
    """The scenario file of a site or the template by name, e.g. ``site_file("metro_city")``."""
    def path(name: str) -> Path:
        return ROOT / "scenarios" / f"{name}.toml"

    return path


@pytest.fixture(scope="module")
def reference(design, tmp_path_factory):
    """The module's ``design`` run serially into a folder with series: what must be reproduced.

    Returns ``(folder, EnsembleResult)``; the module defines the ``design`` fixture.
    """
    out = tmp_path_factory.mktemp("reference")
    return out, run_ensemble(design, out_dir=out, series=True, progress=False)
