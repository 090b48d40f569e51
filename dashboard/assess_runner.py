"""Running an assessment for the page: one at a time, queued, cancellable, nothing half-written.

Plain Python (no solara): the page calls :func:`run_assessment` in a background thread. It runs
the same job as ``python run.py assess`` (:func:`experiments.jobs.assess.assess_job`) on the
TOML the form built, in a fresh temporary folder, and hands each part of the result to the page
as soon as its runs are in (the outlook first). The server runs one assessment at a time; a
second one waits in a queue and is told so. Cancel stops the runs at the next finished chunk.
The temporary folder is removed however the assessment ends (the page keeps the report's
bytes): nothing is left behind, half-written or not.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class Cancelled(Exception):
    """The assessment was cancelled from the page."""


@dataclass
class Settings:
    """How the page's assessments run (the command line's defaults unless ``run.py app`` says).

    Attributes:
        seed: Root seed.
        replicates: Histories of the authority and of each lever.
        trajectories: Morris trajectories of the local screening.
        screen_replicates: Replicates per screening row.
        workers: Local worker processes.

    """

    seed: int = 1
    replicates: int = 300
    trajectories: int = 10
    screen_replicates: int = 20
    workers: int = 2

    def command(self, file_name: str) -> tuple[str, ...]:
        """The equivalent command line (recorded as the assessment's provenance)."""
        return ("run.py", "assess", file_name, "--seed", str(self.seed), "--replicates",
                str(self.replicates), "--trajectories", str(self.trajectories),
                "--screen-replicates", str(self.screen_replicates), "--workers",
                str(self.workers))


@dataclass
class Outcome:
    """A finished assessment.

    Attributes:
        assessment: The :class:`experiments.analysis.readiness.Assessment`.
        text: The terminal text (as ``run.py assess`` prints it).
        report: The HTML report's bytes.
        first_result_s: Seconds from the start of the runs to the outlook.
        total_s: Seconds from the start of the runs to the report.

    """

    assessment: object
    text: str
    report: bytes
    first_result_s: float
    total_s: float


_RUNNING = threading.Lock()
"""Held while an assessment runs: one at a time on this server."""

_QUEUE: list[int] = []
_QUEUE_LOCK = threading.Lock()
_TICKET = [0]


def queue_length() -> int:
    """Assessments waiting or running on this server."""
    with _QUEUE_LOCK:
        return len(_QUEUE)


def _wait_turn(ticket: int, cancel: threading.Event, tell: Callable[[str, object], None]) -> None:
    told = None
    while True:
        with _QUEUE_LOCK:
            ahead = _QUEUE.index(ticket)
        if ahead == 0 and _RUNNING.acquire(timeout=0.2):
            return
        if cancel.is_set():
            raise Cancelled
        if ahead != told:
            told = ahead
            tell("queued", ahead if ahead else 1)
        time.sleep(0.2)


def run_assessment(toml_text: str, stem: str, settings: Settings, cancel: threading.Event,
                   tell: Callable[[str, object], None]) -> Outcome:
    """Run one assessment of the scenario text, telling the page as it goes.

    Args:
        toml_text: The scenario file the form built.
        stem: Its file name without ``.toml`` (the label of its runs).
        settings: Seed, replicates, screening and workers.
        cancel: Set by the page's Cancel button.
        tell: Called ``tell(kind, value)``: ``("queued", assessments ahead)``, ``("started",
            None)``, and every event of :func:`experiments.jobs.assess.assess_one`'s listener
            (``progress``, ``outlook``, ``levers``, ``drivers``, ``assessment``).

    Returns:
        The :class:`Outcome`.

    Raises:
        Cancelled: If ``cancel`` was set; nothing is kept.

    """
    from experiments.jobs.assess import assess_job
    from experiments.jobs.common import JobOptions

    with _QUEUE_LOCK:
        _TICKET[0] += 1
        ticket = _TICKET[0]
        _QUEUE.append(ticket)
    folder = None
    try:
        _wait_turn(ticket, cancel, tell)
        try:
            folder = Path(tempfile.mkdtemp(prefix="mst-assess-"))
            path = folder / f"{stem}.toml"
            path.write_text(toml_text, encoding="utf-8")
            tell("started", None)
            start = time.perf_counter()
            first, final = [None], [None]

            def listener(kind, value):
                if cancel.is_set():
                    raise Cancelled
                if kind == "outlook" and first[0] is None:
                    first[0] = time.perf_counter() - start
                if kind == "assessment":
                    final[0] = value
                tell(kind, value)

            from experiments.runner.posterior import resolve_plan

            # The same parameter sets as `run.py assess` (the posterior sample by default).
            opts = JobOptions(replicates=settings.replicates, seed=settings.seed,
                              workers=settings.workers, out=str(folder / "assessment"),
                              progress=False, command=settings.command(path.name),
                              parameters=resolve_plan(warn=lambda line: None))
            text, out = assess_job([str(path)], opts, trajectories=settings.trajectories,
                                   screen_replicates=settings.screen_replicates,
                                   listener=listener)
            report = (Path(out) / "report.html").read_bytes()
            total = time.perf_counter() - start
            return Outcome(final[0], text, report, first[0] or total, total)
        finally:
            _RUNNING.release()
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        with _QUEUE_LOCK:
            _QUEUE.remove(ticket)



_SITES: dict[tuple[int, int], dict] = {}
"""The study sites' survival curves, by ``(seed, replicates)`` (computed once per server)."""

STUDY_SITES = ("metro_city", "expanded_city", "isolated_coastal")


def site_curves(settings: Settings, cancel: threading.Event | None = None) -> dict:
    """The three study sites' Kaplan-Meier curves with the page's seed and replicates.

    Runs each site as an ensemble in memory the first time (same seeds as the assessment),
    then keeps the curves for the server's life. Each curve is labelled with its site's name.

    Args:
        settings: Seed, replicates and workers.
        cancel: Set to stop the runs (raises :class:`Cancelled`).

    Returns:
        ``{site name: KM}``.

    """
    from dataclasses import replace

    from experiments.analysis.survival import kaplan_meier
    from experiments.jobs.common import site_path
    from experiments.runner.execute import run_ensemble
    from experiments.runner.phases import Phases
    from experiments.runner.tasks import make_tasks
    from sim.scenario import load_scenario

    key = (settings.seed, settings.replicates)
    if key not in _SITES:
        scenarios = [(s, load_scenario(site_path(s))) for s in STUDY_SITES]

        def check(_state):
            if cancel is not None and cancel.is_set():
                raise Cancelled

        result = run_ensemble(make_tasks(scenarios, settings.replicates, settings.seed),
                              workers=settings.workers, progress=False,
                              phases=Phases([("study sites", len(scenarios) *
                                              settings.replicates)], on_progress=check))
        names = {label: sc.name for label, sc in scenarios}
        _SITES[key] = {names[v]: replace(km, variant=names[v])
                       for v, km in kaplan_meier(result.runs).items()}
    return _SITES[key]
