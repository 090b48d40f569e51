"""mst-sustain command line: a thin layer over ``sim`` and ``experiments``.

Commands:
    (none)                                  the main job: the three sites as an ensemble
    simulate SCENARIO [--seed N] [--out DIR] one run, a readable summary, optional CSV + PNG
    ensemble SCENARIO...                    any scenarios as an ensemble
    compare SCENARIO... [--lever K=V]...    what-if comparison over common random numbers
    validate                                check the calibration patterns of MODEL.md §9
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input on the command line; reported in one line with exit status 2."""


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{value} is out of range; allowed 0..2^63-1")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no traceback
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = _Parser(prog="mst-sustain",
                     description="Will an MST team survive in this Local Authority?")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    sim = sub.add_parser("simulate", help="run one scenario once and summarise it")
    sim.add_argument("scenario", help="scenario TOML file, e.g. scenarios/metro_city.toml")
    sim.add_argument("--seed", type=_seed, default=1, help="random seed (default 1)")
    sim.add_argument("--out", metavar="DIR",
                     help="write series.csv, summary.txt and series.png to DIR")
    ens = sub.add_parser("ensemble", help="run scenarios as an ensemble with survival analysis")
    ens.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    _ensemble_options(ens, replicates=200)
    cmp = sub.add_parser("compare", help="what-if comparison over common random numbers")
    cmp.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    cmp.add_argument("--lever", action="append", default=[], metavar="NAME=VALUE",
                     help="a lever to switch, e.g. succession_planning=true (repeatable)")
    _ensemble_options(cmp, replicates=300)
    val = sub.add_parser("validate", help="check every calibration pattern of the three sites")
    _ensemble_options(val, replicates=200, seed=20261124)
    main_job = sub.add_parser("main", help="the main job (also what `run.py` alone does)")
    _ensemble_options(main_job, replicates=200)
    return parser


def _positive_int(name: str, low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range; allowed {low}..{high}")
        return value
    parse.__name__ = name
    return parse


def _ensemble_options(p: argparse.ArgumentParser, replicates: int, seed: int = 1) -> None:
    p.add_argument("--replicates", type=_positive_int("replicates", 1, 1_000_000),
                   default=replicates, help=f"runs per scenario (default {replicates})")
    p.add_argument("--seed", type=_seed, default=seed, help=f"root seed (default {seed})")
    p.add_argument("--workers", type=_positive_int("workers", 1, 256), default=1,
                   help="local worker processes (default 1)")
    p.add_argument("--dask-scheduler", metavar="ADDRESS",
                   help="run on a Dask cluster, e.g. tcp://127.0.0.1:8786")
    p.add_argument("--out", metavar="DIR", help="output folder (default results/<job>-<time>)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.add_argument("--series", action="store_true",
                   help="also write monthly series in long format")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv",
                   help="runs table format (parquet needs pyarrow)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _job_options(args: argparse.Namespace, argv: list[str]):
    from experiments.jobs import JobOptions

    return JobOptions(replicates=args.replicates, seed=args.seed, workers=args.workers,
                      dask_scheduler=args.dask_scheduler, out=args.out, force=args.force,
                      series=args.series, progress=False if args.no_progress else None,
                      fmt=args.format, command=tuple(["run.py", *argv]))


def cmd_main(args: argparse.Namespace, argv: list[str]) -> int:
    """The main job: the three sites as an ensemble with a report."""
    from experiments.jobs import main_job

    text, _ = main_job(_job_options(args, argv))
    print(text)
    return 0


def cmd_ensemble(args: argparse.Namespace, argv: list[str]) -> int:
    """Scenarios as an ensemble."""
    from experiments.jobs import ensemble_job

    text, _ = ensemble_job(args.scenarios, _job_options(args, argv))
    print(text)
    return 0


def cmd_compare(args: argparse.Namespace, argv: list[str]) -> int:
    """What-if comparison."""
    from experiments.jobs import compare_job

    text, _ = compare_job(args.scenarios, args.lever, _job_options(args, argv))
    print(text)
    return 0


def cmd_validate(args: argparse.Namespace, argv: list[str]) -> int:
    """Calibration patterns; exit status 1 when a pattern fails."""
    from experiments.jobs import validate_job

    text, _, ok = validate_job(_job_options(args, argv))
    print(text)
    return 0 if ok else 1


def cmd_simulate(args: argparse.Namespace, argv: list[str]) -> int:
    """Run one scenario and print the summary."""
    from experiments.outputs import write_single_run
    from experiments.summary import format_run_summary
    from sim import load_scenario, simulate

    scenario = load_scenario(args.scenario)
    result = simulate(scenario, args.seed)
    text = format_run_summary(result)
    print(text)
    if args.out:
        paths = write_single_run(result, Path(args.out), text)
        print("\nWrote " + ", ".join(str(p) for p in paths))
    return 0


COMMANDS = {"simulate": cmd_simulate, "ensemble": cmd_ensemble, "compare": cmd_compare,
            "validate": cmd_validate, "main": cmd_main}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python run.py`` and the ``mst-sustain`` console script."""
    from experiments.ensemble import ExperimentError
    from sim.scenario import ScenarioError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parser.parse_args(argv or ["main"])
        if args.command is None:
            parser.print_help()
            return 0
        return COMMANDS[args.command](args, argv)
    except (UsageError, ScenarioError, ExperimentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
