"""The experiment jobs behind the command line: the main job, ensembles, what-if comparisons and
validation. Each job takes plain values, runs an ensemble through the executor seam, writes its
folder (runs table, manifest, plots, report) and returns text for the terminal."""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from experiments.ensemble import ExperimentError, make_tasks, run_ensemble
from experiments.manifest import build_manifest, finish_manifest, write_manifest
from experiments.outputs import atomic_write_text
from sim.scenario import Levers, Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SITE_FILES = ("isolated_coastal", "expanded_city", "metro_city")


@dataclass
class JobOptions:
    """Options shared by every ensemble job."""

    replicates: int = 200
    seed: int = 1
    workers: int = 1
    dask_scheduler: str | None = None
    out: str | None = None
    force: bool = False
    series: bool = False
    progress: bool | None = None
    fmt: str = "csv"
    command: tuple[str, ...] = ()


def site_path(name: str) -> Path:
    """Path of a shipped site scenario."""
    return ROOT / "scenarios" / f"{name}.toml"


def prepare_out_dir(out: str | None, job: str, force: bool) -> Path:
    """Choose and create the output folder; never overwrite an existing one without ``force``."""
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path("results") / f"{job}-{stamp}"
        n = 1
        while path.exists():
            n += 1
            path = Path("results") / f"{job}-{stamp}-{n}"
    else:
        path = Path(out)
        if path.exists() and any(path.iterdir()):
            if not force:
                raise ExperimentError(f"--out: {path} already exists and is not empty; "
                                      "use --force to replace it or choose another folder")
            shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def parse_lever(text: str) -> tuple[str, object]:
    """Parse ``NAME=VALUE`` into a lever name and a typed value (validated later)."""
    if "=" not in text:
        raise ExperimentError(f"--lever: {text!r} must look like NAME=VALUE, "
                              f"e.g. succession_planning=true")
    name, raw = (s.strip() for s in text.split("=", 1))
    if name not in Levers.__dataclass_fields__:
        raise ExperimentError(f"--lever: unknown lever {name!r}; allowed: "
                              f"{', '.join(sorted(Levers.__dataclass_fields__))}")
    low = raw.lower()
    if low in ("true", "yes", "on") and name != "programme_manager":
        return name, True
    if low in ("false", "no", "off") and name != "programme_manager":
        return name, False
    for cast in (int, float):
        try:
            return name, cast(raw)
        except ValueError:
            pass
    return name, raw


def _label(scenario: Scenario, path: str) -> str:
    return Path(path).stem if path else scenario.name


def _run(variants: list[tuple[str, Scenario]], opts: JobOptions, job: str, series: bool):
    out = prepare_out_dir(opts.out, job, opts.force)
    manifest = build_manifest(list(opts.command), variants, opts.seed, opts.replicates,
                              opts.workers, opts.dask_scheduler)
    write_manifest(out / "manifest.json", manifest)
    tasks = make_tasks(variants, opts.replicates, opts.seed)
    result = run_ensemble(tasks, workers=opts.workers, dask_scheduler=opts.dask_scheduler,
                          out_dir=out, series=series, fmt=opts.fmt, progress=opts.progress,
                          write_series=opts.series)
    finish_manifest(manifest, result)
    write_manifest(out / "manifest.json", manifest)
    return out, manifest, result


def format_survival_table(table: pd.DataFrame) -> str:
    """Fixed-width text of the survival table for the terminal."""
    lines = [f"{'scenario':<28} {'runs':>5} {'P(alive) 2y':>16} {'5y':>16} {'10y':>16} "
             f"{'median':>8} {'main closure cause':<22}"]
    for r in table.itertuples():
        def cell(p, lo, hi):
            return f"{p:.2f} ({lo:.2f}-{hi:.2f})"
        median = r.median_survival
        med = ">" + str(int(r.horizon)) if isinstance(median, float) and math.isinf(median) else \
            (str(median) if isinstance(median, str) else f"{median:.0f}")
        lines.append(f"{r.variant:<28} {r.n:>5} {cell(r.p_alive_24, r.p_alive_24_low, r.p_alive_24_high):>16} "
                     f"{cell(r.p_alive_60, r.p_alive_60_low, r.p_alive_60_high):>16} "
                     f"{cell(r.p_alive_120, r.p_alive_120_low, r.p_alive_120_high):>16} "
                     f"{med:>8} {r.main_cause:<22}")
    return "\n".join(lines)


def _report(out: Path, runs, series, manifest, title: str, extra=None) -> Path:
    from experiments.report import write_report

    return write_report(out, runs, series, manifest, title, extra_sections=extra)


def main_job(opts: JobOptions) -> tuple[str, Path]:
    """The main job: the three sites as an ensemble, survival table and report folder."""
    from experiments.survival import survival_table

    variants = [(name, load_scenario(site_path(name))) for name in SITE_FILES]
    out, manifest, result = _run(variants, opts, "sites", series=True)
    table = survival_table(result.runs)
    report = _report(out, result.runs, result.series, manifest,
                     "MST team survival in the three-site study's Local Authorities")
    text = format_survival_table(table)
    return (f"{text}\n\n{len(result.runs)} runs in {result.wall_time:.1f} s; "
            f"report: {report}"), out


def ensemble_job(paths: list[str], opts: JobOptions) -> tuple[str, Path]:
    """Any scenario files as an ensemble."""
    from experiments.survival import survival_table

    variants = [(_label(sc, p), sc) for p in paths for sc in [load_scenario(p)]]
    _check_unique(variants)
    out, manifest, result = _run(variants, opts, "ensemble", series=True)
    table = survival_table(result.runs)
    report = _report(out, result.runs, result.series, manifest, "Ensemble")
    return f"{format_survival_table(table)}\n\nreport: {report}", out


def _check_unique(variants):
    labels = [v[0] for v in variants]
    if len(set(labels)) != len(labels):
        raise ExperimentError("two scenarios have the same file name; give each a distinct name")


def compare_variants(paths: list[str], levers: list[str]) -> list[tuple[str, Scenario]]:
    """Build the what-if variants: each scenario as given, with each lever alone and, when more
    than one lever is given, with all of them together."""
    parsed = [parse_lever(t) for t in levers]
    variants = []
    for p in paths:
        base = load_scenario(p)
        stem = _label(base, p)
        variants.append((stem, base))
        for name, value in parsed:
            variants.append((f"{stem} +{name}={value}", base.with_levers(**{name: value})))
        if len(parsed) > 1:
            variants.append((f"{stem} +all levers", base.with_levers(**dict(parsed))))
    _check_unique(variants)
    return variants


def compare_job(paths: list[str], levers: list[str], opts: JobOptions,
                months: tuple[int, ...] = (24, 60, 72, 120)) -> tuple[str, Path]:
    """What-if comparison over common random numbers with paired differences."""
    from experiments.survival import paired_difference, survival_table

    if not levers and len(paths) < 2:
        raise ExperimentError("compare needs at least one --lever or two scenario files")
    variants = compare_variants(paths, levers)
    out, manifest, result = _run(variants, opts, "compare", series=True)
    runs = result.runs
    table = survival_table(runs)
    lines = [format_survival_table(table), "", "Paired differences (common random numbers):"]
    rows = []
    baselines = [v[0] for v in variants if " +" not in v[0]]
    if levers:
        pairs = [(base, label) for base in baselines for label, _ in variants
                 if label.startswith(base + " +")]
    else:
        pairs = [(baselines[0], b) for b in baselines[1:]]
    for base, label in pairs:
        for m in months:
            d = paired_difference(runs, base, label, m)
            rows.append({"baseline": base, "variant": label, "month": m, **d})
            lines.append(f"  {label} vs {base}: {d['sentence']}")
    diffs = pd.DataFrame(rows)
    atomic_write_text(out / "paired_differences.csv", diffs.to_csv(index=False, float_format="%.6g"))
    html = diffs.drop(columns=[c for c in diffs.columns if c == "sentence"]).to_html(
        index=False, float_format=lambda x: f"{x:.3f}")
    report = _report(out, runs, result.series, manifest, "What-if comparison",
                     extra=[("Paired differences", html)])
    lines.append(f"\nreport: {report}")
    return "\n".join(lines), out


def validate_job(opts: JobOptions) -> tuple[str, Path, bool]:
    """Run the three sites and the neutral template and check every calibration pattern."""
    from experiments.calibration import SITES, check_patterns, format_table

    variants = [(name, load_scenario(ROOT / path)) for name, path in SITES.items()]
    out, manifest, result = _run(variants, opts, "validate", series=False)
    table = check_patterns(result.runs)
    atomic_write_text(out / "patterns.csv", table.to_csv(index=False, float_format="%.6g"))
    ok = bool(table["passed"].all())
    text = format_table(table)
    n_fail = int((~table["passed"]).sum())
    text += ("\n\nAll patterns hold." if ok else f"\n\n{n_fail} of {len(table)} patterns fail.")
    return text + f"\nresults: {out}", out, ok
