"""mst-sustain command line: a thin layer over ``sim`` and ``experiments``.

Commands:
    (none)                                  the main job: the three sites as an ensemble
    simulate SCENARIO [--seed N] [--out DIR] one run, a readable summary, optional CSV + PNG
    ensemble SCENARIO...                    any scenarios as an ensemble
    compare SCENARIO... [--lever K=V]...    what-if comparison over common random numbers
    validate [--point]                      posterior predictive checks of the patterns (docs/ODD.md §10)
    dashboard [SCENARIO] [--port N]         the seminar dashboard on localhost (viz extra)
    app [--port N]                          the assessment page and the dashboard (viz extra)
    merge SHARD_DIR... --out DIR            join the folders of --shard I/K runs into one
    sensitivity SCENARIO --method M         global sensitivity analysis (Sobol', Morris, PAWN)
    interact [SCENARIO] [--stressor S]...   do stressors interact? (full factorial)
    discover SCENARIO                       scenario discovery: rules for closure (PRIM)
    assess AUTHORITY.toml...                readiness assessment: outlook, drivers, levers
    calibrate [--population N] [--runs N]... calibration by ABC-SMC: a posterior sample (docs/ODD.md §10)
    --version                               print the installed version
"""

from __future__ import annotations

import argparse
import os
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
    parser.add_argument("--version", action="version", version=f"mst-sustain {_version()}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    ensemble_parent = _ensemble_parent()
    sim = sub.add_parser("simulate", help="run one scenario once and summarise it")
    sim.add_argument("scenario", help="scenario TOML file, e.g. scenarios/metro_city.toml")
    sim.add_argument("--seed", type=_seed, default=1, help="random seed (default 1)")
    sim.add_argument("--out", metavar="DIR", type=_out_dir,
                     help="write series.csv, summary.txt and series.png to DIR")
    sim.add_argument("--force", action="store_true",
                     help="replace an existing --out folder of this tool's results")
    _parameter_options(sim, default="point")
    ens = sub.add_parser("ensemble", help="run scenarios as an ensemble with survival analysis",
                         parents=[ensemble_parent])
    ens.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    _ensemble_options(ens, replicates=200)
    _parameter_options(ens)
    cmp = sub.add_parser("compare", help="what-if comparison over common random numbers",
                         parents=[ensemble_parent])
    cmp.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    cmp.add_argument("--lever", action="append", default=[], metavar="NAME=VALUE",
                     help="a lever to switch, e.g. succession_planning=true (repeatable)")
    cmp.add_argument("--months", type=_months, default=None, metavar="M,M,...",
                     help="months of the paired differences (default 24,60,72,120, those "
                          "within the shortest run.horizon_months)")
    _ensemble_options(cmp, replicates=300)
    _parameter_options(cmp)
    val = sub.add_parser("validate", help="check every calibration pattern of the three sites",
                         parents=[ensemble_parent])
    _ensemble_options(val, replicates=None, seed=20261124)
    val.add_argument("--point", action="store_true",
                     help="check one parameter set instead of the posterior sample")
    val.add_argument("--posterior", metavar="PATH", default=None,
                     help="the posterior sample to check (default calibration/posterior.json)")
    val.add_argument("--draws", type=_positive_int("draws", 1, 100_000), default=50,
                     help="parameter sets drawn from the posterior (default 50; --replicates "
                          "runs each, default 20)")
    main_job = sub.add_parser("main", help="the main job (also what `run.py` alone does)",
                         parents=[ensemble_parent])
    _ensemble_options(main_job, replicates=200)
    _parameter_options(main_job)
    mrg = sub.add_parser("merge", help="join the shard folders of one experiment (--shard I/K) "
                                       "into the folder of the unsharded run")
    mrg.add_argument("shards", nargs="+", metavar="SHARD_DIR",
                     help="the folders of shards 0/K .. K-1/K, in any order")
    mrg.add_argument("--out", metavar="DIR", type=_out_dir, required=True,
                     help="the merged folder")
    mrg.add_argument("--force", action="store_true", help="replace an existing --out folder")
    mrg.add_argument("--no-progress", action="store_true", help="no progress bar")
    dash = sub.add_parser("dashboard", help="the interactive seminar dashboard on localhost")
    dash.add_argument("scenario", nargs="?", default=None,
                      help="scenario TOML file or label, e.g. scenarios/seminars/"
                           "toxic_trio_all.toml or expanded_city (default metro_city)")
    dash.add_argument("--seed", type=_seed, default=1, help="starting seed (default 1)")
    dash.add_argument("--port", type=_positive_int("port", 0, 65535), default=8765,
                      help="port on 127.0.0.1 (default 8765; 0 picks a free one)")
    dash.add_argument("--host", type=_listen_host, default="127.0.0.1",
                      help="address to listen on (default 127.0.0.1, this computer only); "
                           "requests must name localhost, 127.0.0.1, [::1] or this host")
    dash.add_argument("--open", action="store_true", help="open the page in a browser")
    app = sub.add_parser("app", help="the assessment page (and the seminar dashboard) on "
                                     "localhost")
    app.add_argument("--port", type=_positive_int("port", 0, 65535), default=8766,
                     help="port on 127.0.0.1 (default 8766; 0 picks a free one)")
    app.add_argument("--host", type=_listen_host, default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1, this computer only; "
                          "another address is reachable by other computers: a warning)")
    app.add_argument("--open", action="store_true", help="open the page in a browser")
    app.add_argument("--seed", type=_seed, default=1, help="starting seed (default 1)")
    app.add_argument("--replicates", type=_positive_int("replicates", 1, 1_000_000),
                     default=300, help="histories per option, as assess (default 300)")
    app.add_argument("--trajectories", type=_positive_int("trajectories", 2, 1000),
                     default=10, help="Morris trajectories of the screening (default 10)")
    app.add_argument("--screen-replicates", type=_positive_int("screen-replicates", 1, 10_000),
                     default=20, help="replicates per screening row (default 20)")
    app.add_argument("--workers", type=_positive_int("workers", 1, 256), default=2,
                     help="local worker processes per assessment (default 2)")
    _add_analysis_commands(sub)
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


def _months(text: str) -> tuple[int, ...]:
    """Parse ``--months 24,60``: whole months from 1 to 360 (the longest horizon)."""
    parse = _positive_int("months", 1, 360)
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of months, e.g. 24,60")
    return tuple(parse(p) for p in parts)


def _listen_host(text: str) -> str:
    """A listen address for ``dashboard --host``: a host name or an IP address."""
    import ipaddress
    import re

    h = text.strip()
    try:
        return str(ipaddress.ip_address(h.strip("[]")))
    except ValueError:
        pass
    if not re.fullmatch(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
                        r"(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*", h):
        raise argparse.ArgumentTypeError(f"{text!r} is not a host name or IP address")
    return h


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("mst-sustain")
    except metadata.PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def _executor_options(p: argparse.ArgumentParser) -> None:
    """Where runs execute and where results go (shared by every ensemble-based command)."""
    p.add_argument("--workers", type=_positive_int("workers", 1, 256), default=1,
                   help="local worker processes (default 1)")
    p.add_argument("--dask-scheduler", metavar="ADDRESS", type=_scheduler,
                   help="run on a Dask cluster, e.g. tcp://127.0.0.1:8786")
    p.add_argument("--out", metavar="DIR", type=_out_dir,
                   help="output folder (default results/<job>-<time>)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.add_argument("--resume", action="store_true",
                   help="finish the interrupted experiment in --out (same command otherwise)")


def _run_parent() -> argparse.ArgumentParser:
    """The options every ensemble-type command shares (its ``parents=`` parser)."""
    p = _Parser(add_help=False)
    _executor_options(p)
    p.add_argument("--format", choices=("csv", "parquet"), default="csv",
                   help="runs table format (parquet needs pyarrow)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _ensemble_parent() -> argparse.ArgumentParser:
    """The shared options plus those of the ensemble jobs (retry, shards, series)."""
    p = _Parser(add_help=False, parents=[_run_parent()])
    p.add_argument("--retry-failed", action="store_true",
                   help="with --resume, run the runs that failed (failures.csv) again")
    p.add_argument("--shard", metavar="I/K", type=_shard,
                   help="run only shard I of K (run_id %% K == I, I from 0) for job arrays; "
                        "join the K folders with `merge`")
    p.add_argument("--series", action="store_true",
                   help="also write monthly series in long format")
    return p


def _ensemble_options(p: argparse.ArgumentParser, replicates: int | None,
                      seed: int = 1) -> None:
    what = f"default {replicates}" if replicates else "default 200, or 20 per parameter set"
    p.add_argument("--replicates", type=_positive_int("replicates", 1, 1_000_000),
                   default=replicates, help=f"runs per scenario ({what})")
    p.add_argument("--seed", type=_seed, default=seed, help=f"root seed (default {seed})")


def _parameter_options(p: argparse.ArgumentParser, per_draw: int = 5,
                       default: str = "posterior") -> None:
    """Which parameter sets the runs use (MODEL §11): the posterior sample, one set, or defaults."""
    g = p.add_argument_group("parameter sets (the posterior sample of calibration)")
    g.add_argument("--parameters", choices=("posterior", "point", "defaults"), default=None,
                   help=f"posterior: integrate over the calibrated sample; point: its best set; "
                        f"defaults: the registry defaults (default {default})")
    g.add_argument("--point", action="store_const", const="point", dest="parameters",
                   help="same as --parameters point (quicker; intervals are chance alone)")
    g.add_argument("--draw", type=_positive_int("draw", 0, 1_000_000), default=None,
                   metavar="K", help="point mode with set K of the sample")
    if default == "posterior":
        g.add_argument("--per-draw", type=_positive_int("per-draw", 1, 10_000),
                       default=per_draw, metavar="M",
                       help=f"runs per parameter draw: K = replicates / M draws (default "
                            f"{per_draw})")
    g.add_argument("--posterior", metavar="FILE", default=None,
                   help="a posterior sample other than calibration/posterior.json")
    p.set_defaults(parameter_default=default)


def _plan(args: argparse.Namespace):
    """The parameter plan of the command's options (its warnings are kept for :func:`_shown`)."""
    from experiments.runner.posterior import resolve_plan

    if not hasattr(args, "parameter_default"):
        return None
    if getattr(args, "plan", None) is None:
        args.plan_notes = []
        args.plan = resolve_plan(args.parameters, draw=args.draw,
                                 per_draw=getattr(args, "per_draw", 5), path=args.posterior,
                                 default=args.parameter_default, warn=args.plan_notes.append)
    return args.plan


def _shown(args: argparse.Namespace, text: str) -> str:
    """A job's text, headed by the parameter mode it ran and any warning about the sample."""
    plan = getattr(args, "plan", None)
    if plan is None:
        return text
    for note in args.plan_notes:  # warnings about the sample go to standard error
        print(note, file=sys.stderr, flush=True)
    replicates = getattr(args, "replicates", None)
    return "parameters: " + plan.label(replicates if plan.mode == "posterior" else None) + "\n" + text


def _job_options(args: argparse.Namespace, argv: list[str]):
    from experiments.jobs.common import JobOptions

    return JobOptions(parameters=_plan(args), replicates=args.replicates, seed=args.seed, workers=args.workers,
                      dask_scheduler=args.dask_scheduler, out=args.out, force=args.force,
                      series=args.series, progress=False if args.no_progress else None,
                      fmt=args.format, command=tuple(["run.py", *argv]),
                      resume=args.resume, retry_failed=args.retry_failed, shard=args.shard)


def _shard(text: str) -> tuple[int, int]:
    from experiments.errors import ExperimentError
    from experiments.runner.tasks import parse_shard

    try:
        return parse_shard(text)
    except ExperimentError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--shard: ")) from None


def _scheduler(text: str) -> str:
    from experiments.errors import ExperimentError
    from experiments.runner.executors import check_scheduler_address

    try:
        return check_scheduler_address(text)
    except ExperimentError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--dask-scheduler: ")) from None


def _out_dir(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder name, got ''")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    parent = path.absolute()
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{parent} is not a folder, so {text} cannot be created")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {parent}")
    return text


def cmd_main(args: argparse.Namespace, argv: list[str]) -> int:
    """The main job: the three sites as an ensemble with a report."""
    from experiments.jobs.ensemble import main_job

    text, _ = main_job(_job_options(args, argv))
    print(_shown(args, text))
    return 0


def cmd_ensemble(args: argparse.Namespace, argv: list[str]) -> int:
    """Scenarios as an ensemble."""
    from experiments.jobs.ensemble import ensemble_job

    text, _ = ensemble_job(args.scenarios, _job_options(args, argv))
    print(_shown(args, text))
    return 0


def cmd_compare(args: argparse.Namespace, argv: list[str]) -> int:
    """What-if comparison."""
    from experiments.jobs.ensemble import compare_job

    text, _ = compare_job(args.scenarios, args.lever, _job_options(args, argv),
                          months=args.months)
    print(_shown(args, text))
    return 0


def cmd_validate(args: argparse.Namespace, argv: list[str]) -> int:
    """Posterior predictive checks (or one parameter set with --point); exit 1 on a miss.

    With the posterior sample (``calibration/posterior.json`` or ``--posterior``) every pattern
    is checked over ``--draws`` sets of it; a stale sample (the model changed since calibration)
    fails at once with exit status 1. Without one, or with ``--point``, one parameter set is
    checked as before.
    """
    from experiments.jobs.calibrate import PPC_REPLICATES, predictive_job
    from experiments.jobs.ensemble import validate_job
    from experiments.runner.posterior import POSTERIOR_FILE, read_posterior

    path = Path(args.posterior) if args.posterior else POSTERIOR_FILE
    posterior = read_posterior(path) if args.posterior or path.is_file() else None
    if posterior is not None and posterior.is_stale():
        print(f"error: {posterior.stale_message().removeprefix('warning: ')}", file=sys.stderr)
        return 1
    if posterior is None or args.point:
        if args.replicates is None:
            args.replicates = 200
        opts = _job_options(args, argv)
        if posterior is not None:  # --point: the sample's point set (the best particle)
            from experiments.runner.posterior import ParameterPlan

            opts.parameters = ParameterPlan("point", posterior)
        text, _, ok = validate_job(opts)
    else:
        if args.replicates is None:
            args.replicates = PPC_REPLICATES
        text, _, ok = predictive_job(_job_options(args, argv), posterior, draws=args.draws)
    print(text)
    return 0 if ok else 1


def cmd_simulate(args: argparse.Namespace, argv: list[str]) -> int:
    """Run one scenario and print the summary."""
    from experiments.jobs.ensemble import simulate_job

    text, paths = simulate_job(args.scenario, args.seed, args.out, force=args.force,
                               command=tuple(["run.py", *argv]), plan=_plan(args))
    for note in args.plan_notes:
        print(note, file=sys.stderr, flush=True)
    print(text)
    if paths:
        print("\nWrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_merge(args: argparse.Namespace, argv: list[str]) -> int:
    """Join shard folders; exit status 1 when a merged validation's patterns fail."""
    from experiments.jobs.ensemble import merge_job

    text, _, ok = merge_job(args.shards, args.out, force=args.force,
                            progress=False if args.no_progress else None,
                            command=tuple(["run.py", *argv]))
    print(text)
    return 0 if ok else 1


def cmd_dashboard(args: argparse.Namespace, argv: list[str]) -> int:
    """Serve the seminar dashboard on localhost; exit 2 if the viz extra is missing."""
    from dashboard.dashboard import launch
    from dashboard.ports import port_problem

    problem = port_problem(args.host, args.port)
    if problem:
        raise UsageError(f"dashboard: {problem}")

    return launch(args.scenario, seed=args.seed, port=args.port, open_browser=args.open,
                  host=args.host)


def cmd_app(args: argparse.Namespace, argv: list[str]) -> int:
    """Serve the assessment page and the seminar dashboard; exit 2 without the viz extra."""
    from dashboard.app_server import launch_app
    from dashboard.assess_runner import Settings
    from dashboard.ports import port_problem

    problem = port_problem(args.host, args.port)
    if problem:
        raise UsageError(f"app: {problem}")
    return launch_app(args.port, args.host, args.open,
                      Settings(seed=args.seed, replicates=args.replicates,
                               trajectories=args.trajectories,
                               screen_replicates=args.screen_replicates,
                               workers=args.workers))


def _analysis_options(p: argparse.ArgumentParser, replicates: str) -> None:
    p.add_argument("--replicates", type=_positive_int("replicates", 1, 1_000_000),
                   default=None, help=f"runs per design row or option ({replicates})")
    p.add_argument("--seed", type=_seed, default=1, help="root seed (default 1)")


SENSITIVITY_METHODS = ("sobol", "morris", "pawn")  # = experiments.analysis.sensitivity.METHODS (tested)


def _add_analysis_commands(sub) -> None:
    """Subcommands of issue 4 (sensitivity, interact, discover, assess) and calibrate."""
    run_parent = _run_parent()
    sen = sub.add_parser("sensitivity", help="global sensitivity analysis: rank the drivers",
                         parents=[run_parent])
    sen.add_argument("scenario", nargs="?", help="scenario TOML file (the authority)")
    sen.add_argument("--method", choices=SENSITIVITY_METHODS, default="sobol",
                     help="sobol (S1, ST; default), morris (screening) or pawn")
    sen.add_argument("--n", type=_positive_int("n", 1, 10_000_000), default=None,
                     help="Sobol' base samples (power of 2, default 512), Morris trajectories "
                          "(default 20) or PAWN rows (default 1024)")
    sen.add_argument("--factors", default=None, metavar="SET|NAMES|@FILE",
                     help="drivers (default: what a commissioner can observe or change), site, levers, "
                          "mechanisms, all, a comma list, or @file")
    sen.add_argument("--groups", action="store_true",
                     help="rank factor groups (leadership, partnership, money, ...) instead")
    sen.add_argument("--second-order", action="store_true", help="Sobol' S2 indices too")
    sen.add_argument("--years", type=_positive_int("years", 1, 30), default=5,
                     help="survival time point of the first output (default 5)")
    sen.add_argument("--levels", type=_positive_int("levels", 2, 20), default=4,
                     help="Morris grid levels (default 4)")
    sen.add_argument("--resamples", type=_positive_int("resamples", 10, 100_000),
                     default=1000, help="bootstrap resamples (default 1000)")
    sen.add_argument("--list-factors", action="store_true", help="list the factors and exit")
    _analysis_options(sen, "default: sobol 4, morris 10, pawn 4")
    _parameter_options(sen, per_draw=1)
    inter = sub.add_parser("interact", help="do named stressors interact? (full factorial)",
                         parents=[run_parent])
    inter.add_argument("scenario", nargs="?", default="scenarios/template.toml",
                       help="the authority (default scenarios/template.toml, neutral)")
    inter.add_argument("--stressor", action="append", default=[], metavar="NAME|FACTOR=VALUE",
                       help="a stressor (repeatable; default the toxic trio: leadership_churn, "
                            "partnership_weakness, budget_cut)")
    inter.add_argument("--years", type=_positive_int("years", 1, 30), default=5,
                       help="closure risk within this many years (default 5)")
    inter.add_argument("--list-stressors", action="store_true", help="list stressors and exit")
    _analysis_options(inter, "default 400")
    _parameter_options(inter)
    dis = sub.add_parser("discover", help="scenario discovery: which regions lead to closure",
                         parents=[run_parent])
    dis.add_argument("scenario", help="scenario TOML file (the authority)")
    dis.add_argument("--n", type=_positive_int("n", 100, 10_000_000), default=2000,
                     help="Latin hypercube rows (default 2000)")
    dis.add_argument("--factors", default=None, metavar="SET|NAMES|@FILE",
                     help="drivers (default: what a commissioner can observe or change), site, levers, "
                          "mechanisms, all, a comma list, or @file")
    dis.add_argument("--years", type=_positive_int("years", 1, 30), default=5,
                     help="closure within this many years (default 5)")
    dis.add_argument("--find", choices=("closure", "survival"), default="closure",
                     help="regions of closure (default) or of survival")
    dis.add_argument("--max-boxes", type=_positive_int("max-boxes", 1, 10), default=2)
    dis.add_argument("--max-dims", type=_positive_int("max-dims", 1, 10), default=3,
                     help="most factors per rule (default 3)")
    dis.add_argument("--min-coverage", type=float, default=0.5,
                     help="least coverage of a reported box (default 0.5)")
    _analysis_options(dis, "default 1")
    _parameter_options(dis, per_draw=1)
    res = sub.add_parser("research", help="what research should measure next: the mechanism "
                                          "parameters an authority's forecast hangs on",
                         parents=[run_parent])
    res.add_argument("scenario", help="scenario TOML file (the authority)")
    res.add_argument("--draws", type=_positive_int("draws", 20, 100_000), default=200,
                     help="posterior draws K (default 200)")
    res.add_argument("--years", type=_positive_int("years", 1, 30), default=5,
                     help="forecast: running at this many years (default 5)")
    res.add_argument("--seed", type=_seed, default=1, help="root seed (default 1)")
    _parameter_options(res)
    ass = sub.add_parser("assess", help="readiness assessment of an authority",
                         parents=[run_parent])
    ass.add_argument("scenarios", nargs="+", metavar="AUTHORITY.toml",
                     help="filled-in copies of scenarios/template.toml")
    ass.add_argument("--trajectories", type=_positive_int("trajectories", 2, 1000), default=10,
                     help="Morris trajectories of the local screening (default 10)")
    ass.add_argument("--screen-replicates", type=_positive_int("screen-replicates", 1, 10_000),
                     default=20, help="replicates per screening row (default 20)")
    _analysis_options(ass, "default 300")
    _parameter_options(ass)
    cal = sub.add_parser("calibrate", help="calibrate to the patterns: ABC-SMC with pyabc "
                                           "(default), or the old hypercube / refine search",
                         parents=[run_parent])
    cal.add_argument("--method", choices=("abc", "hypercube", "refine"), default="abc",
                     help="abc: ABC-SMC, a posterior sample (default; needs the calibrate "
                          "extra); hypercube: a Latin hypercube in the box; refine: a (1+1) "
                          "evolution strategy from the defaults, first step --shrink x range")
    cal.add_argument("--runs", type=_positive_int("runs", 1, 1_000_000), default=None,
                     help="runs per validation variant per parameter set (default 40 for abc, "
                          "120 otherwise)")
    cal.add_argument("--seed", type=_seed, default=7,
                     help="seed of the proposals (abc) or of the Latin hypercube (default 7)")
    cal.add_argument("--params", nargs="+", metavar="NAME",
                     help="calibrate only these parameters (default: SEARCHED, plus the "
                          "measured parameters for abc)")
    cal.add_argument("--root", type=_seed, default=1000,
                     help="root seed of the calibration runs (default 1000)")
    cal.add_argument("--population", type=_positive_int("population", 2, 100_000), default=200,
                     help="abc: particles per generation (default 200)")
    cal.add_argument("--generations", type=_positive_int("generations", 1, 1000), default=8,
                     help="abc: generations in all, generation 0 from the priors included "
                          "(default 8)")
    cal.add_argument("--max-walltime", type=_positive_float("max-walltime"), default=None,
                     metavar="MINUTES", help="abc: start no generation after this many minutes")
    cal.add_argument("--min-epsilon", type=_positive_float("min-epsilon", zero=True),
                     default=0.0, help="abc: stop once the threshold is at or below this")
    cal.add_argument("--min-acceptance", type=_positive_float("min-acceptance", zero=True),
                     default=0.0, help="abc: stop when a generation's acceptance rate would fall "
                                       "below this (default 0: never)")
    cal.add_argument("--leave-out", action="append", default=[], metavar="SITE",
                     help="abc: leave this site's patterns (and the survival ordering) out of "
                          "the distance, to predict it (repeatable)")
    cal.add_argument("--synthetic-truth", metavar="SET", default=None,
                     help="abc: 'defaults' or a JSON file of parameter values; its simulated "
                          "patterns +- 2 Monte Carlo errors replace the targets")
    cal.add_argument("--posterior", metavar="PATH", default=None,
                     help="abc: also write the posterior sample here (e.g. "
                          "calibration/posterior.json)")
    cal.add_argument("--points", type=_positive_int("points", 0, 1_000_000), default=200,
                     help="hypercube/refine: points after the current defaults (default 200)")
    cal.add_argument("--shrink", type=float, default=0.5,
                     help="hypercube/refine: width of the box around the defaults, 1 = the "
                          "documented ranges (default 0.5)")


def _positive_float(name: str, zero: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (value >= 0 if zero else value > 0) or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{value} is out of range; allowed a finite number "
                                             f"{'of 0 or more' if zero else 'above 0'}")
        return value
    parse.__name__ = name
    return parse


def _analysis_job_options(args: argparse.Namespace, argv: list[str], replicates: int | None):
    from experiments.jobs.common import JobOptions

    reps = args.replicates if args.replicates is not None else replicates
    args.replicates = reps  # for the parameter-mode line (K draws x M runs)
    return JobOptions(replicates=reps, seed=args.seed, workers=args.workers,
                      dask_scheduler=args.dask_scheduler, out=args.out, force=args.force,
                      progress=False if args.no_progress else None, fmt=args.format,
                      command=tuple(["run.py", *argv]), resume=args.resume,
                      parameters=_plan(args))


def cmd_sensitivity(args: argparse.Namespace, argv: list[str]) -> int:
    """Global sensitivity analysis (Sobol', Morris or PAWN) of one scenario."""
    from experiments.jobs.sensitivity import list_factors_text, sensitivity_job

    if args.list_factors:
        print(list_factors_text())
        return 0
    if not args.scenario:
        raise UsageError("mst-sustain sensitivity: give a scenario file (or --list-factors)")
    text, _ = sensitivity_job(args.scenario, _analysis_job_options(args, argv, None),
                              method=args.method, n=args.n, factors=args.factors,
                              groups=args.groups, second_order=args.second_order,
                              years=args.years, num_levels=args.levels,
                              resamples=args.resamples)
    print(_shown(args, text))
    return 0


def cmd_interact(args: argparse.Namespace, argv: list[str]) -> int:
    """Factorial experiment on named stressors."""
    from experiments.jobs.interact import interaction_job, list_stressors_text

    if args.list_stressors:
        print(list_stressors_text())
        return 0
    text, _ = interaction_job(args.scenario, args.stressor,
                              _analysis_job_options(args, argv, 400), years=args.years)
    print(_shown(args, text))
    return 0


def cmd_discover(args: argparse.Namespace, argv: list[str]) -> int:
    """Scenario discovery with PRIM (needs the explore extra)."""
    from experiments.jobs.discover import discover_job

    text, _ = discover_job(args.scenario, _analysis_job_options(args, argv, 1), n=args.n,
                           years=args.years, factors=args.factors, find=args.find,
                           max_boxes=args.max_boxes, max_dims=args.max_dims,
                           min_coverage=args.min_coverage)
    print(_shown(args, text))
    return 0


def cmd_research(args: argparse.Namespace, argv: list[str]) -> int:
    """What research should measure next (posterior mode only)."""
    from experiments.jobs.research import research_job

    args.replicates = args.draws * args.per_draw  # for the parameter-mode line
    text, _ = research_job(args.scenario, _analysis_job_options(args, argv, 1),
                           draws=args.draws, years=args.years)
    print(_shown(args, text))
    return 0


def cmd_assess(args: argparse.Namespace, argv: list[str]) -> int:
    """Readiness assessment of one or more authorities."""
    from experiments.jobs.assess import assess_job

    text, _ = assess_job(args.scenarios, _analysis_job_options(args, argv, 300),
                         trajectories=args.trajectories,
                         screen_replicates=args.screen_replicates)
    print(_shown(args, text))
    return 0


def cmd_calibrate(args: argparse.Namespace, argv: list[str]) -> int:
    """Calibrate: ABC-SMC (a posterior sample) or the old point searches."""
    from experiments.jobs.common import JobOptions

    opts = JobOptions(seed=args.seed, workers=args.workers, dask_scheduler=args.dask_scheduler,
                      out=args.out, force=args.force, fmt=args.format,
                      progress=False if args.no_progress else None,
                      command=tuple(["run.py", *argv]), resume=args.resume)
    if args.method == "abc":
        from experiments.jobs.abc import abc_job

        text, _ = abc_job(opts, population=args.population, generations=args.generations,
                          runs=args.runs or 40, root=args.root, params=args.params,
                          max_walltime=args.max_walltime, min_epsilon=args.min_epsilon,
                          min_acceptance=args.min_acceptance, leave_out=args.leave_out,
                          synthetic_truth=args.synthetic_truth, posterior_path=args.posterior)
    else:
        from experiments.jobs.calibrate import calibrate_job

        text, _ = calibrate_job(opts, points=args.points, runs=args.runs or 120,
                                shrink=args.shrink, params=args.params, root=args.root,
                                method=args.method)
    print(text)
    return 0


COMMANDS = {"simulate": cmd_simulate, "ensemble": cmd_ensemble, "compare": cmd_compare,
            "validate": cmd_validate, "main": cmd_main, "dashboard": cmd_dashboard,
            "app": cmd_app,
            "merge": cmd_merge, "sensitivity": cmd_sensitivity, "interact": cmd_interact,
            "discover": cmd_discover, "assess": cmd_assess, "research": cmd_research,
            "calibrate": cmd_calibrate}


def _quiet_broken_pipe() -> int:
    """The reader of our output went away (``run.py ... | head -1``): stop quietly, status 1.

    As the Python documentation's "Note on SIGPIPE" recommends: point standard output at
    ``os.devnull`` so that the interpreter's final flush does not raise again, and exit with
    status 1 (the results folder is complete: output is printed after it is written).
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. captured)
        pass
    return 1


def _os_error_text(exc: OSError) -> str:
    """One line for an operating-system error while writing outputs, naming the file."""
    where = exc.filename or ""
    reason = exc.strerror or str(exc)
    text = f"cannot write {where}: {reason}" if where else f"{reason}"
    from experiments.runner.store import STORE_NAME

    out = Path(where).parent if where else None
    if out is not None and (out / STORE_NAME).exists():
        text += (f" (the finished runs are kept in {out}: free some space and add --resume "
                 f"to finish)")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python run.py`` and the ``mst-sustain`` console script."""
    try:
        try:
            code = _dispatch(argv)
        except SystemExit:  # --help, --version: flush now, so a closed pipe is caught here
            sys.stdout.flush()
            raise
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()


def _start_workers_early(args: argparse.Namespace) -> None:
    """Start the local worker processes' fork server now, if the command will use one.

    The server imports the model once (about 0.7 s) for every pool of the command; started
    before this process imports the job layer, the two imports run side by side on two cores
    instead of one after the other. Nothing else runs yet, so no thread exists to be forked.
    """
    if getattr(args, "workers", 1) > 1 and getattr(args, "dask_scheduler", None) is None:
        from experiments.runner.executors import start_forkserver_early

        start_forkserver_early()


def _dispatch(argv: Sequence[str] | None) -> int:
    from experiments.errors import ExperimentError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv_main = ["main", *argv]  # `run.py --replicates 50` means the main job
    else:
        argv_main = argv
    try:
        args = parser.parse_args(argv_main)
    except (UsageError, ExperimentError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)  # one line, always
        return EXIT_USAGE
    _start_workers_early(args)
    from sim.scenario import ScenarioError  # after the early start: it imports pydantic

    try:
        if args.command is None:
            parser.print_help()
            return 0
        return COMMANDS[args.command](args, argv)
    except BrokenPipeError:
        raise
    except (UsageError, ScenarioError, ExperimentError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)  # one line, always
        return EXIT_USAGE
    except OSError as exc:  # a full disk, no permission: one line naming the file
        print(f"error: {_os_error_text(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted (an ensemble with --out keeps its finished runs: add --resume to "
              "finish it)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
