"""Write (or check) the golden baseline that pins the model's behaviour.

The baseline is the model's answer, byte for byte, for the three study sites and the template
in **point mode** (the best particle of the committed posterior sample,
``calibration/posterior.json``, whose values are recorded in ``point_parameters.json``): the
scalar outputs of 60 runs each and the monthly series and event log of two runs each; plus the
runs table of a small **posterior-mode** ensemble made through ``run.py ensemble`` (two
parameter draws x five runs per scenario), which pins the resampling and the runner too. A
refactor must leave it byte-identical (``tests/test_golden.py`` compares exactly). Only a
deliberate model change may regenerate it, in a commit of its own whose message says why::

    python scripts/golden_baseline.py          # check: exit 1 and name the files that differ
    python scripts/golden_baseline.py --write  # regenerate tests/golden/

Seeds follow the ensembles' scheme, ``SeedSequence(ROOT_SEED, spawn_key=(replicate,))``, so the
baseline also pins the seeding that every ensemble uses. Floats are written with ``repr`` (the
shortest string that reads back to the same double), so equality of text is equality of values.
The package versions the baseline was made with are recorded beside it (``versions.json``).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments.runner.posterior import POSTERIOR_FILE, ParameterPlan, read_posterior  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402
from sim.simulate import simulate  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"
SCENARIOS = ("template", "isolated_coastal", "expanded_city", "metro_city")
ROOT_SEED = 20261201
REPLICATES = 60
SERIES_REPLICATES = (0, 1)
ENSEMBLE_SCENARIOS = ("scenarios/template.toml", "scenarios/isolated_coastal.toml")
#: Packages whose versions can change the model's numbers (or how they are printed).
PINNED = ("numpy", "pandas", "mesa", "scipy", "networkx")


def _cell(value) -> str:
    """Text of one value: ``repr`` for floats (exact), ``nan`` spelt one way, the rest ``str``."""
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, (np.integer,)):
        return str(int(value))
    if isinstance(value, (np.bool_,)):
        return str(bool(value))
    return str(value)


def _csv(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue()


def seed(replicate: int) -> np.random.SeedSequence:
    """The seed of one replicate (the ensembles' scheme)."""
    return np.random.SeedSequence(ROOT_SEED, spawn_key=(replicate,))


def versions() -> dict[str, str]:
    """Installed versions of the packages that can move the baseline, and Python's."""
    found = {"python": ".".join(map(str, sys.version_info[:2]))}
    for name in PINNED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def point_plan() -> ParameterPlan:
    """The point set the baseline runs: the committed sample's best particle."""
    return ParameterPlan("point", read_posterior(POSTERIOR_FILE))


def build() -> dict[str, str]:
    """Every baseline file's name and text, computed afresh from the model."""
    plan = point_plan()
    point = dict(plan.overrides(plan.point_set))
    files: dict[str, str] = {
        "point_parameters.json": json.dumps(point, indent=2, sort_keys=True) + "\n"}
    for name in SCENARIOS:
        scenario = plan.apply(load_scenario(ROOT / "scenarios" / f"{name}.toml"), plan.point_set)
        rows, header = [], None
        for r in range(REPLICATES):
            result = simulate(scenario, seed(r), series=False)
            if header is None:
                header = ["replicate", *result.outputs]
            rows.append([r, *result.outputs.values()])
        files[f"{name}_outputs.csv"] = _csv(header, rows)
        for r in SERIES_REPLICATES:
            result = simulate(scenario, seed(r), series=True)
            frame = result.series
            files[f"{name}_series_r{r}.csv"] = _csv(
                list(frame.columns), [list(row) for row in frame.itertuples(index=False)])
            files[f"{name}_log_r{r}.txt"] = "".join(f"{m}\t{text}\n" for m, text in result.log)
            # The series run's scalar outputs must equal the ensemble path's (series skipped).
            expected = rows[r][1:]
            got = list(result.outputs.values())
            if [_cell(v) for v in got] != [_cell(v) for v in expected]:
                raise AssertionError(f"{name} r{r}: outputs differ when the series is collected")
    files["ensemble_runs.csv"] = ensemble_runs()
    return files


def ensemble_runs() -> str:
    """The runs table of a small ensemble made through the command line (pins the runner too)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ensemble"
        subprocess.run([sys.executable, str(ROOT / "run.py"), "ensemble", *ENSEMBLE_SCENARIOS,
                        "--replicates", "10", "--seed", "1", "--no-progress",
                        "--parameters", "posterior", "--per-draw", "5",
                        "--out", str(out)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        return (out / "runs.csv").read_text(encoding="utf-8")


def main(argv=None) -> int:
    """Check the baseline (default) or regenerate it (``--write``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="regenerate tests/golden/ from the model")
    args = ap.parse_args(argv)
    files = build()
    if args.write:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for old in GOLDEN.iterdir():
            if old.is_file() and old.name not in files and old.name != "versions.json":
                old.unlink()
        for fname, text in files.items():
            (GOLDEN / fname).write_text(text, encoding="utf-8")
        (GOLDEN / "versions.json").write_text(json.dumps(versions(), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {len(files)} files to {GOLDEN.relative_to(ROOT)}")
        return 0
    differ = [f for f, text in files.items()
              if not (GOLDEN / f).exists() or (GOLDEN / f).read_text(encoding="utf-8") != text]
    if differ:
        print("golden baseline differs: " + ", ".join(differ))
        return 1
    print(f"golden baseline holds ({len(files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
