"""Plots of one run (matplotlib ``Figure`` objects on an Agg canvas; never shown interactively)."""

from __future__ import annotations

from experiments.reports import palette
from experiments.reports.figures import subplots
from sim.simulate import RunResult

palette.use_in_matplotlib()  # colour-blind-safe default colours for every figure


def _mark_budget_rounds(ax, result: RunResult, last: int) -> None:
    y, m = map(int, result.start.split("-"))
    first = (4 - m) % 12 or 12
    for month in range(first, last + 1, 12):
        if month >= 12:
            ax.axvline(month, color="0.85", lw=0.8, zorder=0)


def plot_single_run(result: RunResult):
    """Three panels: teams and staff; referrals, caseload and waiting list; buffers and margin."""
    s = result.series
    o = result.outputs
    fig, axes = subplots(3, 1, figsize=(9, 8), sharex=True)
    last = int(s["month"].iloc[-1])
    ax = axes[0]
    ax.step(s["month"], s["staff"], where="post", label="staff in post")
    ax.step(s["month"], s["therapists"], where="post", label="therapists")
    ax.step(s["month"], s["teams"], where="post", label="teams", lw=2)
    ax.set_ylabel("people / teams")
    ax.legend(loc="upper right", fontsize=8)
    title = f"{result.scenario}, seed {result.seed}: "
    title += ("survived" if o["survived"]
              else f"closed in month {int(o['closure_month'])} ({o['closure_cause'].replace('_', ' ')})")
    ax.set_title(title)
    ax = axes[1]
    ax.plot(s["month"], s["referrals_month"], label="referrals / month", lw=0.8)
    ax.plot(s["month"], s["caseload"], label="open cases")
    ax.plot(s["month"], s["waiting_list"], label="waiting list")
    ax.set_ylabel("families")
    ax.legend(loc="upper right", fontsize=8)
    ax = axes[2]
    ax.plot(s["month"], s["reserve"], label="reserve", color=palette.GOOD)
    ax.plot(s["month"], s["pressure_landing"], label="pressure getting through", color=palette.BAD)
    ax.plot(s["month"], s["leadership_shield"], label="leadership shield", color=palette.REDDISH_PURPLE,
            lw=0.8, ls="--")
    ax.plot(s["month"], s["partnership_shield"], label="partnership shield", color=palette.BLUE,
            lw=0.8, ls="--")
    ax.plot(s["month"], s["system_leadership"], label="system leadership", color=palette.ORANGE,
            lw=0.8, ls="--")
    ax.set_ylabel("index")
    ax.set_xlabel("months since go-live (grey lines: April budget rounds)")
    ax.legend(loc="upper right", fontsize=8)
    for ax in axes:
        _mark_budget_rounds(ax, result, last)
    fig.tight_layout()
    return fig
