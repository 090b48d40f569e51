"""Progress by phase: which step of a job is running, and how far its runs have got.

A job such as ``assess`` is several steps, some of them runs of one ensemble (the outlook's
runs, the levers', the screening's) and some not (the analysis, the report). A
:class:`Phases` names them in order; :func:`experiments.runner.execute.run_ensemble` tells it
which runs have finished, and it shows ``phase 2/4: levers, 340/800 runs`` on the progress
bar, prints a line when a step without runs begins, and calls the job back:

* ``on_progress(ProgressState)`` after every finished chunk and at every step's start (a page
  shows its progress bar from it);
* ``on_phase_done(name, rows)`` once the last run of a step of runs has finished, with that
  step's finished rows (plain dicts, as in the runs table), so that a job can show the first
  results before the rest has run.

Runs may finish out of order (several workers); a step counts as the current one until all of
its runs are done. Either callback may raise to stop the ensemble (a page's Cancel).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressState:
    """Where a job is.

    Attributes:
        index: The current step, from 1.
        steps: How many steps the job has.
        name: The current step's name.
        done: Runs of the current step finished (0 for a step without runs).
        total: Runs of the current step (0 for a step without runs).
        runs_done: Runs of the whole job finished.
        runs_total: Runs of the whole job.

    """

    index: int
    steps: int
    name: str
    done: int
    total: int
    runs_done: int
    runs_total: int

    @property
    def text(self) -> str:
        """E.g. ``"phase 2/4: drivers, 340/800 runs"`` or ``"phase 4/4: report"``."""
        head = f"phase {self.index}/{self.steps}: {self.name}"
        return f"{head}, {self.done}/{self.total} runs" if self.total else head

    @property
    def fraction(self) -> float:
        """Share of the job's runs finished (0-1)."""
        return self.runs_done / self.runs_total if self.runs_total else 0.0


class Phases:
    """The named steps of a job, in order; some of them runs of its ensemble.

    Args:
        steps: ``(name, runs)`` in order; ``runs`` is the number of runs of a step of runs
            (they take consecutive run ids from ``first_run_id``, in step order) or 0 for a
            step without runs.
        on_progress: Called with a :class:`ProgressState` as the job moves on.
        on_phase_done: Called ``(name, rows)`` when a step's runs have all finished.
        echo: Print a line on standard error when a step without runs begins (None: only on
            a terminal).
        first_run_id: Run id of the first run of the first step of runs.
        title: Shown before the phase (e.g. the authority's name when a job has several).

    Raises:
        ValueError: On no steps, a repeated name or a negative count.

    """

    def __init__(self, steps: Sequence[tuple[str, int]], *,
                 on_progress: Callable[[ProgressState], None] | None = None,
                 on_phase_done: Callable[[str, list[dict]], None] | None = None,
                 echo: bool | None = None, first_run_id: int = 0, title: str = "") -> None:
        if not steps:
            raise ValueError("a job needs at least one step")
        names = [n for n, _ in steps]
        if len(set(names)) != len(names):
            raise ValueError(f"step names must differ: {names}")
        if any(int(k) < 0 for _, k in steps):
            raise ValueError("a step cannot have a negative number of runs")
        self.names = names
        self.counts = [int(k) for _, k in steps]
        self.on_progress = on_progress
        self.on_phase_done = on_phase_done
        self.echo = echo
        self.title = title
        self._ranges: list[tuple[int, int]] = []
        start = first_run_id
        for k in self.counts:
            self._ranges.append((start, start + k))
            start += k
        self._done = [0] * len(steps)
        self._rows: list[list[dict]] = [[] for _ in steps]
        self._reported = [False] * len(steps)
        self._current = 0  # index of the step a job has begun without runs, if later

    # -- the ensemble tells us ------------------------------------------------------------
    def _step_of(self, run_id: int) -> int | None:
        for i, (a, b) in enumerate(self._ranges):
            if a <= run_id < b:
                return i
        return None

    def finished(self, outcomes: Iterable) -> None:
        """Record finished runs (:class:`experiments.runner.tasks.RunOutcome` or run ids)."""
        touched = set()
        for o in outcomes:
            run_id = o if isinstance(o, int) else o.run_id
            i = self._step_of(int(run_id))
            if i is None:
                continue
            self._done[i] += 1
            row = None if isinstance(o, int) else o.row
            if row is not None:
                self._rows[i].append(row)
            touched.add(i)
        for i in sorted(touched):
            if self._done[i] >= self.counts[i] and not self._reported[i]:
                self._reported[i] = True
                rows = sorted(self._rows[i], key=lambda r: r["run_id"])
                self._rows[i] = []
                if self.on_phase_done is not None:
                    self.on_phase_done(self.names[i], rows)
        self._notify()

    def begin(self, name: str) -> None:
        """A step without runs begins (the analysis, the report): show it."""
        self._current = self.names.index(name)
        if self.echo or (self.echo is None and sys.stderr.isatty()):
            print(self.text, file=sys.stderr, flush=True)
        self._notify()

    # -- what we show ---------------------------------------------------------------------
    def state(self) -> ProgressState:
        """The current :class:`ProgressState`."""
        open_steps = [j for j, k in enumerate(self.counts) if k and self._done[j] < k]
        run_steps = [j for j, k in enumerate(self.counts) if k]
        if open_steps:
            i = max(open_steps[0], self._current)
        else:
            i = max([self._current, *run_steps[-1:]])
        runs_total = sum(self.counts)
        return ProgressState(index=i + 1, steps=len(self.names), name=self.names[i],
                             done=min(self._done[i], self.counts[i]), total=self.counts[i],
                             runs_done=min(sum(self._done), runs_total),
                             runs_total=runs_total)

    @property
    def text(self) -> str:
        """The current state in words (for a progress bar's description)."""
        text = self.state().text
        return f"{self.title}: {text}" if self.title else text

    def _notify(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.state())
