"""mst-sustain command line: a thin layer over ``sim`` and ``experiments``.

Commands:
    simulate SCENARIO [--seed N] [--out DIR]   one run, a readable summary, optional CSV + PNG
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
    return parser


def cmd_simulate(args: argparse.Namespace) -> int:
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


COMMANDS = {"simulate": cmd_simulate}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python run.py`` and the ``mst-sustain`` console script."""
    from sim.scenario import ScenarioError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_help()
            return 0
        return COMMANDS[args.command](args)
    except (UsageError, ScenarioError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
