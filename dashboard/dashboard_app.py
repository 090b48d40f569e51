"""The seminar dashboard page: a mesa/solara app on leadership turnover (issues 6 and 15).

Start it with ``python run.py dashboard [SCENARIO]`` (needs the optional ``viz`` extra). Laid
out for a projector at 1280x720: the top of the page holds the month and the service's fate,
four large charts (budget rounds and events marked on the time axis), the buffers and the
pressure as named bars, and the complete log in plain words; below them the money and the
steering group, the team, the ensemble result of the exercise, and the leaders and partners.

The sidebar is built from mesa's own SolaraViz parts (``ModelController`` for Reset, play and
Step; ``ModelCreator`` for the scenario, seed and levers) without mesa's internal controls
("Use Threads", "Render Interval"), which a room has no use for. It also shows a "press Reset"
cue when a control no longer matches the run, and the card that injects events now.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import itertools
import threading

import solara
import solara.lab
from matplotlib.figure import Figure
from mesa.visualization.solara_viz import ModelController, ModelCreator
from mesa.visualization.utils import force_update, update_counter

from dashboard.dashboard import (
    BOOLEAN_LEVERS,
    CULTURE_STANCE,
    ENSEMBLE_RUNS,
    ENSEMBLE_SEED,
    LEVER_LABELS,
    MARGIN_UNIT,
    WHY_TITLE,
    DashboardModel,
    budget_round_months,
    buffer_bars,
    cached_reveal,
    ensemble_reveal,
    ensemble_variants,
    initial_parameters,
    inject_event,
    leader_choices,
    leader_rows,
    log_lines,
    partner_choices,
    partner_rows,
    pending_changes,
    reveal_lines,
    reveal_parameters_line,
    scenario_catalogue,
    status,
    team_lines,
    timeline_marks,
)
from experiments.reports import palette
from sim.scenario import STANCES, Event

TITLE = "MST team survival: leadership turnover seminar"
# One lock per process: stepping (mesa's play thread) and injecting never interleave.
MODEL_LOCK = threading.RLock()
PLAY_INTERVAL = 400  # ms between months while playing (the sidebar's speed slider)
_RUN_IDS = itertools.count(1)

MARK_STYLE = {"injected": ":", "scheduled": "-."}
ROLE_COLOUR = {"buffer": palette.BLUE, "reserve": palette.GOOD, "pressure": palette.BAD}

CSS = """
.mst-main { font-size: 15px; }
.v-navigation-drawer.solara-content-main { min-width: 300px !important; max-width: 300px !important;
    width: 300px !important; }
.v-navigation-drawer.solara-content-main > .v-navigation-drawer__content > div { padding: 6px !important; }
.v-application:has(.v-navigation-drawer--open) main.v-content { padding-left: 300px !important; }
.mst-chart-key { font-size: 0.8rem; color: #333; padding: 2px 6px; }
.mst-sidebar .v-card { margin-bottom: 6px; }
.mst-sidebar .v-card__title { font-size: 1rem; padding: 6px 10px 0 10px; }
.mst-main .v-card__title { font-size: 1.05rem; padding: 6px 12px 2px 12px; }
.mst-table { border-collapse: collapse; font-size: 0.9rem; width: 100%; }
.mst-table th, .mst-table td { border-bottom: 1px solid #e0e4e8; padding: 2px 6px;
    text-align: left; vertical-align: top; }
.mst-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.mst-tag { display: inline-block; border-radius: 8px; padding: 0 6px; margin: 1px 2px;
    font-size: 0.8rem; background: #e8eef5; }
.mst-tag-patron { background: #F0E442; } .mst-tag-new { background: #f6c9a6; }
.mst-tag-interim { background: #e9c6dc; } .mst-tag-chairs { background: #b3e0d2; }
.mst-closed { color: #D55E00; font-weight: bold; }
.mst-bar { display: inline-block; height: 8px; background: #0072B2; vertical-align: middle; }
.mst-kv td:first-child { color: #444; white-space: nowrap; }
.mst-status { font-size: 1.05rem; line-height: 1.45; padding: 4px 10px; border: 1px solid #d8dde3;
    border-radius: 4px; background: #fff; }
.mst-status .mst-site { font-weight: bold; }
.mst-status .mst-sep { color: #999; padding: 0 4px; }
.mst-chart { width: 100%; height: auto; display: block; object-fit: contain;
    max-height: calc((100vh - 250px) / 2); }
.mst-chart-grid { display: grid; grid-template-columns: 1fr 1fr; gap: 4px; }
.mst-bars { width: 100%; border-collapse: collapse; }
.mst-bars td { padding: 1px 4px; vertical-align: middle; }
.mst-bars td { padding: 0 2px; }
.mst-bars .mst-bar-name { white-space: nowrap; font-size: 0.9rem; }
.mst-bars .mst-bar-value { text-align: right; font-variant-numeric: tabular-nums;
    white-space: nowrap; font-size: 0.9rem; width: 3.2em; }
.mst-track { position: relative; height: 14px; background: #eef1f4; border-radius: 3px;
    min-width: 60px; }
.mst-fill { position: absolute; top: 0; height: 14px; border-radius: 3px; }
.mst-zero { position: absolute; top: -2px; width: 2px; height: 18px; background: #000; }
.mst-bars-note { font-size: 0.78rem; color: #444; }
.mst-log { font-size: 0.92rem; margin: 0; padding-left: 1.1rem; overflow-y: auto;
    max-height: max(200px, calc(100vh - 480px)); }
.mst-log li { margin-bottom: 2px; }
.mst-log .mst-log-month { color: #555; white-space: nowrap; }
.mst-log .mst-log-injected { font-weight: bold; }
.mst-why-lines { font-size: 0.92rem; margin: 0; padding-left: 1.1rem; }
.mst-inject .v-btn, .mst-controls .v-btn, .mst-ensemble .v-btn { text-transform: none;
    letter-spacing: normal; white-space: normal; height: auto !important; min-height: 36px; }
.mst-inject .v-btn__content, .mst-ensemble .v-btn__content { white-space: normal;
    flex: 1 1 auto; }
.mst-reset-cue { font-size: 0.95rem; }
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _bar(x: float) -> str:
    return f'<span class="mst-bar" style="width:{max(0.0, min(1.0, x)) * 50:.0f}px"></span>'


class LockedModel(DashboardModel):
    """:class:`DashboardModel` whose monthly step holds the page's lock (see ``MODEL_LOCK``).

    Its ``__init__`` is :class:`DashboardModel`'s, whose keywords mesa reads to rebuild it.
    """

    @functools.cached_property
    def run_id(self) -> int:
        """A number new to each model of this process (each Reset), given when first asked.

        The page keys its notices by it, so that they start afresh with each run.
        """
        return next(_RUN_IDS)

    def step(self) -> None:
        """Advance one month while holding the lock."""
        with MODEL_LOCK:
            super().step()


def model_params(initial: dict) -> dict:
    """Mesa's ``model_params``: scenario, seed and every lever, starting at ``initial``."""
    labels = list(scenario_catalogue())
    if initial["site"] not in labels:
        labels.insert(0, initial["site"])
    params: dict = {
        "site": {"type": "Select", "value": initial["site"], "values": labels,
                 "label": "Scenario (site or seminar)"},
        "seed": {"type": "InputText", "value": str(initial["seed"]), "label": "Seed"},
    }
    for name in BOOLEAN_LEVERS:
        params[name] = {"type": "Checkbox", "value": bool(initial[name]),
                        "label": LEVER_LABELS[name]}
    params["programme_manager"] = {"type": "Select", "value": initial["programme_manager"],
                                   "values": ["auto", "on", "off"],
                                   "label": LEVER_LABELS["programme_manager"]}
    params["protected_funding_years"] = {
        "type": "SliderInt", "value": int(initial["protected_funding_years"]), "min": 0,
        "max": 10, "step": 1, "label": LEVER_LABELS["protected_funding_years"]}
    params["co_funding"] = {"type": "SliderFloat", "value": float(initial["co_funding"]),
                            "min": 0.0, "max": 0.6, "step": 0.05,
                            "label": LEVER_LABELS["co_funding"]}
    return params


# --------------------------------------------------------------------------- charts
# Each chart is drawn about 310 px wide at 1280x720: 3.2 inches keep 10.5-point text at about
# 14 px on the screen (pt x width_px / (72 x width_in)); 200 dpi keeps it sharp.
CHART_SIZE = (3.2, 2.3)
CHART_DPI = 200
FONT = 10.5


def _series(model: DashboardModel):
    return model.datacollector.get_model_vars_dataframe()


def _xlim(model: DashboardModel) -> int:
    return min(model.horizon, max(24, model.month + 6))


def _new_figure() -> tuple[Figure, object]:
    fig = Figure(figsize=CHART_SIZE, dpi=CHART_DPI, layout="constrained")
    ax = fig.subplots()
    ax.tick_params(labelsize=FONT - 1)
    ax.grid(axis="y", color="0.9", lw=0.6)
    return fig, ax


def _time_axis(ax, model: DashboardModel, top: float) -> None:
    """Budget rounds (dashed grey) and events (labelled) on the time axis, then the x-axis."""
    xmax = _xlim(model)
    for m in budget_round_months(model, xmax):
        ax.axvline(m, color=palette.NEUTRAL, lw=1, ls="--", alpha=0.9 if m <= model.month else 0.4,
                   zorder=0)
    marks = [mk for mk in timeline_marks(model) if mk.month <= xmax]
    labelled = set()
    for mark in marks:
        if mark.kind == "closed":
            ax.axvline(mark.month, color=palette.BAD, lw=2.2)
            continue
        future = mark.month > model.month
        ax.axvline(mark.month, color=palette.BLACK, lw=1.3, ls=MARK_STYLE[mark.kind],
                   alpha=0.35 if future else 0.9)
        # Several events in one month share one label (e.g. "leader leaves, budget cut").
        key = (mark.month, mark.kind)
        if key in labelled:
            continue
        labelled.add(key)
        same = list(dict.fromkeys(mk.label for mk in marks if (mk.month, mk.kind) == key))
        text = ax.annotate(same[0] if len(same) == 1 else f"{len(same)} events",
                           (mark.month, top), fontsize=FONT - 2.5, rotation=90, va="top",
                           ha="right", color=palette.BLACK, alpha=0.5 if future else 1.0,
                           annotation_clip=True, clip_on=True)
        text.set_in_layout(False)  # a label never shrinks the plot
    ax.set_xlim(0, xmax)
    ax.set_xlabel(f"months since go-live ({model.calendar.label(0)})", fontsize=FONT - 1)


def _legend(fig, ax, ncols: int = 2) -> None:
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=ncols,
               fontsize=FONT - 1.5, frameon=False, handlelength=1.6, columnspacing=0.8,
               handletextpad=0.4, borderpad=0.1, labelspacing=0.2)


def margin_figure(model: DashboardModel) -> Figure:
    """Reserve against the pressure getting through the buffers by month (margin units)."""
    df = _series(model)
    fig, ax = _new_figure()
    ax.plot(df.index, df["reserve"], color=palette.GOOD, lw=2.2, label="reserve")
    ax.plot(df.index, df["pressure_landing"], color=palette.BAD, lw=2.2, ls="--",
            label="pressure getting through")
    cols = ["reserve", "pressure_landing"]
    top = max(0.5, float(df[cols].max().max()) * 1.15)
    ax.set_ylim(min(0.0, float(df[cols].min().min()) * 1.15), top)
    ax.axhline(0, color=palette.BLACK, lw=0.6)
    _time_axis(ax, model, top)
    ax.set_ylabel("margin units\n(1 = a team's full cost)", fontsize=FONT)
    ax.set_title("Reserve and pressure", fontsize=FONT)
    _legend(fig, ax)
    return fig


def buffers_figure(model: DashboardModel) -> Figure:
    """The three buffers against pressure by month (0-1)."""
    df = _series(model)
    fig, ax = _new_figure()
    ax.plot(df.index, df["leadership_shield"], color=palette.BLUE, lw=2.2,
            label="leadership shield")
    ax.plot(df.index, df["partnership_shield"], color=palette.ORANGE, lw=2.2, ls="--",
            label="partnership shield")
    ax.plot(df.index, df["system_leadership"], color=palette.REDDISH_PURPLE, lw=2.2, ls="-.",
            label="system leadership")
    ax.set_ylim(0, 1.05)
    _time_axis(ax, model, 1.05)
    ax.set_ylabel("buffer strength (0-1)", fontsize=FONT)
    ax.set_title("The three buffers", fontsize=FONT)
    _legend(fig, ax)
    return fig


def activity_figure(model: DashboardModel) -> Figure:
    """Referrals, caseload, waiting list and staff in post by month (counts)."""
    df = _series(model)
    fig, ax = _new_figure()
    ax.plot(df.index, df["referrals_month"], color=palette.SKY_BLUE, lw=1.6,
            label="referrals a month")
    ax.plot(df.index, df["caseload"], color=palette.BLUISH_GREEN, lw=2.2, label="caseload")
    ax.plot(df.index, df["waiting_list"], color=palette.ORANGE, lw=1.6, ls="--",
            label="waiting list")
    ax.step(df.index, df["staff"], where="post", color=palette.BLUE, lw=2, ls="-.",
            label="staff in post")
    top = max(8.0, float(df[["referrals_month", "caseload", "waiting_list", "staff"]]
                         .max().max()) * 1.2)
    ax.set_ylim(0, top)
    _time_axis(ax, model, top)
    ax.set_ylabel("families or staff", fontsize=FONT)
    ax.set_title("Referrals, caseload and staff", fontsize=FONT)
    _legend(fig, ax)
    return fig


def leadership_figure(model: DashboardModel) -> Figure:
    """Steering group strength and leaders' mean knowledge (0-1) and support (-1..1)."""
    df = _series(model)
    fig, ax = _new_figure()
    ax.plot(df.index, df["partnership"], color=palette.BLUISH_GREEN, lw=2.2,
            label="steering group strength")
    ax.plot(df.index, df["leader_knowledge"], color=palette.BLUE, lw=1.8, ls="--",
            label="leaders' knowledge")
    ax.plot(df.index, df["leader_support"], color=palette.VERMILLION, lw=1.8, ls="-.",
            label="leaders' support")
    ax.axhline(0, color=palette.BLACK, lw=0.6)
    ax.set_ylim(-1.0, 1.05)
    _time_axis(ax, model, 1.05)
    ax.set_ylabel("0-1 (support -1 to 1)", fontsize=FONT)
    ax.set_title("Leaders and the steering group", fontsize=FONT)
    _legend(fig, ax)
    return fig


CHARTS = (margin_figure, buffers_figure, activity_figure, leadership_figure)
# What the vertical lines mean, once for the four charts (faint lines are still to come).
CHART_KEY = ("On the time axis: <b>grey dashed</b> April budget round; <b>black dash-dot</b> the "
             "scenario's event; <b>black dotted</b> an event injected here; <b>orange-red</b> "
             "closure. Faint: still to come.")


def figure_png(fig: Figure) -> str:
    """A figure as a ``data:`` URI of a PNG (the page embeds it; nothing is written)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=CHART_DPI)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# --------------------------------------------------------------------------- panels
@solara.component
def StatusStrip(model: DashboardModel):
    """The headline: authority and seed, month and date, phase, fate, next budget round."""
    update_counter.get()  # redraw after each step, reset or injection
    s = status(model)
    sep = '<span class="mst-sep">&middot;</span>'
    fate_cls = "mst-closed mst-fate" if s["closed"] else "mst-fate"
    levers = _e(", ".join(s["levers"])) if s["levers"] else "none"
    changed = (f'{sep}changed from the file: {_e(", ".join(s["levers_overridden"]))}'
               if s["levers_overridden"] else "")
    body = (f'<div><span class="mst-site">{_e(s["scenario"])} (seed {s["seed"]})</span>{sep}'
            f'<span class="mst-month"><b>Month {s["month"]}</b> ({s["date"]})</span>{sep}'
            f'<span class="{fate_cls}">{_e(s["fate"])}</span></div>'
            f'<div>Levers in force: <span class="mst-levers">{levers}</span>{changed}{sep}'
            f'{_e(s["phase"])} phase{sep}next budget round: {_e(s["next_budget_round"])}</div>')
    solara.HTML(tag="div", unsafe_innerHTML=body, classes=["mst-status"])


@solara.component
def ChartsCard(model: DashboardModel):
    """The four monthly charts, two by two."""
    update_counter.get()  # redraw after each step, reset or injection
    imgs = []
    for make in CHARTS:
        fig = make(model)
        alt = fig.axes[0].get_title()
        imgs.append(f'<img class="mst-chart" alt="{_e(alt)}" src="{figure_png(fig)}">')
    with solara.Card(classes=["mst-charts"], margin=0):
        solara.HTML(tag="div", unsafe_innerHTML=(
            f'<div class="mst-chart-grid">{"".join(imgs)}</div>'
            f'<div class="mst-chart-key">{CHART_KEY}</div>'))


def bar_html(bar) -> str:
    """One named bar: unsigned bars fill from the left; signed ones either side of a zero line."""
    colour = ROLE_COLOUR.get(bar.role) or (palette.GOOD if bar.value >= 0 else palette.BAD)
    frac = max(-1.0, min(1.0, bar.value / bar.scale)) if bar.scale else 0.0
    if bar.signed:
        left, width = (50.0, frac * 50) if frac >= 0 else (50.0 + frac * 50, -frac * 50)
        zero = '<span class="mst-zero" style="left:50%"></span>'
    else:
        left, width, zero = 0.0, max(0.0, frac) * 100, ""
    value = f"{bar.value:+.2f}" if bar.signed else f"{bar.value:.2f}"
    return (f'<tr class="mst-bar-{bar.key}" title="{_e(bar.note)}">'
            f'<td class="mst-bar-name">{_e(bar.label)}</td>'
            f'<td style="width:40%"><div class="mst-track">'
            f'<span class="mst-fill" style="left:{left:.1f}%;width:{width:.1f}%;'
            f'background:{colour}"></span>{zero}</div></td>'
            f'<td class="mst-bar-value">{value}</td></tr>')


@solara.component
def BuffersCard(model: DashboardModel):
    """The buffers and the pressure as named bars (while the service runs)."""
    update_counter.get()  # redraw after each step, reset or injection
    rows = "".join(bar_html(b) for b in buffer_bars(model))
    note = "Buffers 0-1; the others in margin units. At risk when the margin is below zero."
    with solara.Card("Buffers and pressure now", classes=["mst-bars-card"], margin=0):
        solara.HTML(tag="div", unsafe_innerHTML=(
            f'<table class="mst-bars">{rows}</table>'
            f'<div class="mst-bars-note" title="{_e(MARGIN_UNIT)}">{_e(note)}</div>'))


@solara.component
def WhyCard(model: DashboardModel):
    """Once the service has closed: why, in plain words (the closure's explanation)."""
    update_counter.get()  # redraw after each step, reset or injection
    s = status(model)
    if not s["closed"]:
        return
    items = "".join(f"<li>{_e(line.strip())}</li>" for line in s["why"])
    with solara.Card(WHY_TITLE, classes=["mst-why"], margin=0):
        solara.HTML(tag="div", unsafe_innerHTML=(
            f'<p class="mst-closed">{_e(s["fate"])}.</p>'
            f'<ul class="mst-why-lines">{items}</ul>'))


@solara.component
def LogCard(model: DashboardModel):
    """Everything that happened, one line per event in plain words, latest first."""
    update_counter.get()  # redraw after each step, reset or injection
    lines = log_lines(model)
    items = "".join(
        f'<li class="mst-log-line mst-log-{ln.kind}"><span class="mst-log-month">'
        f"Month {ln.month} ({ln.date}):</span> {_e(ln.text)}.</li>"
        for ln in reversed(lines))
    with solara.Card(f"What happened ({len(lines)} events)",
                     classes=["mst-log-card"], margin=0):
        solara.HTML(tag="div", unsafe_innerHTML=(
            f'<ul class="mst-log">{items or "<li>Nothing yet: press Step.</li>"}</ul>'))


@solara.component
def DetailsCard(model: DashboardModel):
    """Money, the steering group and the climate."""
    update_counter.get()  # redraw after each step, reset or injection
    s = status(model)
    rows = [
        ("Grant share of cost", f'{s["grant_share"]:.0%}'),
        ("Steering group", f'strength {s["partnership"]:.2f} {_bar(s["partnership"])}, '
                           f'chaired by {_e(s["chair"])}'),
        ("Memory of the commitment", f'{s["memory"]:.0%} of the steering group'),
        ("Climate", f'hostility {s["hostility"]:.2f}, collaboration {s["collaboration"]:.2f}'),
    ]
    body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    with solara.Card("Money and the steering group", classes=["mst-details"], margin=0):
        solara.HTML(tag="div", unsafe_innerHTML=f'<table class="mst-table mst-kv">{body}</table>')


@solara.component
def TeamCard(model: DashboardModel):
    """Supervisor and therapists in post, vacancies, caseload and the waiting list."""
    update_counter.get()  # redraw after each step, reset or injection
    lines = team_lines(model)
    s = status(model)
    if not lines:
        body = '<p class="mst-closed">No team: the service has closed.</p>'
    else:
        body = ""
        for t in lines:
            body += (f'<p class="mst-team"><b>Team {t["team"]}</b><br>'
                     f'Supervisor: <span class="mst-supervisor">{_e(t["supervisor"])}</span><br>'
                     f'Therapists in post: <b>{t["therapists"]}</b> of {t["posts"]} posts '
                     f'({t["vacancies"]} vacant); caseload {t["caseload"]} families</p>')
    body += (f'<p>Referrals this month: <b>{s["referrals"]}</b>; open cases: '
             f'<b>{s["caseload"]}</b>; waiting list: <b>{s["waiting_list"]}</b></p>')
    with solara.Card("The team", classes=["mst-team-card"], margin=0):
        solara.HTML(tag="div", unsafe_innerHTML=body)


def _tags(tags) -> str:
    cls = {"patron": "patron", "new": "new", "interim": "interim",
           "chairs the steering group": "chairs"}
    return "".join(f'<span class="mst-tag mst-tag-{cls.get(t, "x")}">{_e(t)}</span>'
                   for t in tags)


@solara.component
def PeopleCard(model: DashboardModel):
    """Leaders (stance, knowledge, patron, new or interim) and partners (commitment...)."""
    update_counter.get()  # redraw after each step, reset or injection
    lrows = "".join(
        f"<tr><td>{_e(r.name)}"
        + (f"<br><small>{_e(r.role)}</small>" if r.role != r.name else "") + "</td>"
        f"<td>{_e(r.stance)} ({r.support:+.2f})</td>"
        f'<td class="num">{r.knowledge:.2f} {_bar(r.knowledge)}</td>'
        f'<td class="num">{r.tenure}</td><td>{_tags(r.tags)}</td></tr>'
        for r in leader_rows(model))
    leaders = ('<table class="mst-table mst-leaders"><tr><th>Leader</th><th>Stance</th>'
               '<th>Knowledge</th><th>Months</th><th></th></tr>' + lrows + "</table>")
    prows = ""
    for r in partner_rows(model):
        notes = []
        if not r.active:
            notes.append("withdrawn")
        elif r.new_representative:
            notes.append("new representative")
        if r.active and not r.knows_commitment:
            notes.append("does not know the commitment")
        if r.co_funding:
            notes.append(f"pays {r.co_funding:.0%} of cost")
        prows += (f"<tr><td>{_e(r.agency)}</td>"
                  f'<td class="num">{r.commitment:.2f} {_bar(r.commitment)}</td>'
                  f'<td class="num">{r.seniority:.2f}</td><td class="num">{r.attendance:.2f}</td>'
                  f"<td>{_e('; '.join(notes))}</td></tr>")
    partners = ('<table class="mst-table mst-partners"><tr><th>Partner</th><th>Commitment</th>'
                '<th>Seniority</th><th>Attendance</th><th></th></tr>' + prows + "</table>")
    with solara.Card("Leaders and partners", classes=["mst-people"], margin=0):
        solara.HTML(tag="div", unsafe_innerHTML=leaders + "<br>" + partners)


@solara.component
def EnsembleCard(model: DashboardModel):
    """The exercise's ensemble result: many histories of this scenario, run in the background."""
    update_counter.get()
    task = solara.lab.use_task(lambda: ensemble_reveal(model), dependencies=None)
    rows = cached_reveal(model)
    n_variants = len(ensemble_variants(model))
    with solara.Card("What many runs say", classes=["mst-ensemble"], margin=0):
        solara.HTML(tag="p", unsafe_innerHTML=(
            f"One run is an anecdote. This runs <b>{ENSEMBLE_RUNS} histories</b> of this "
            "scenario as the file sets the levers"
            + (" and as many with this run's levers, paired" if n_variants > 1 else "")
            + f" (root seed {ENSEMBLE_SEED}, as <i>run.py compare</i> with --replicates "
            f"{ENSEMBLE_RUNS} --seed {ENSEMBLE_SEED}); it takes a few seconds. Events injected "
            "on this page are not part of it."))
        if rows is None:
            solara.Button(f"Run {ENSEMBLE_RUNS} histories of this exercise",
                          on_click=task, disabled=task.pending, color="primary",
                          classes=["mst-btn-ensemble"])
        if task.pending:
            solara.ProgressLinear(True)
            solara.Text(f"Running {ENSEMBLE_RUNS * n_variants} histories in the background...")
        elif task.error and rows is None:
            solara.Error(f"The ensemble failed: {task.exception}")
        if rows is not None:
            items = "".join(f"<li>{_e(line)}.</li>" for line in reveal_lines(rows))
            solara.HTML(tag="div", unsafe_innerHTML=f'<ul class="mst-reveal">{items}</ul>')
            solara.Text(reveal_parameters_line(), classes=["mst-reveal-parameters"])


@solara.component
def InjectCard(model_r: solara.Reactive):
    """Buttons that inject an event at the current month, through the model's own code."""
    update_counter.get()
    model = model_r.value
    leaders = leader_choices(model)
    partners = partner_choices(model)
    leader_label, set_leader_label = solara.use_state("")
    stance, set_stance = solara.use_state(CULTURE_STANCE)
    cut, set_cut = solara.use_state(20)
    partner_label, set_partner_label = solara.use_state("")
    message, set_message = solara.use_state(("", ""))
    if leader_label not in leaders:
        leader_label = next(iter(leaders), "")
    if partner_label not in partners:
        partner_label = next(iter(partners), "")

    def run(event: Event, leader=None):
        try:
            with MODEL_LOCK:
                text = inject_event(model, event, leader)
        except ValueError as exc:
            set_message(("error", str(exc)))
        else:
            set_message(("ok", f"Month {model.month}: {text}."))
        force_update()

    def leader_leaves():
        ld = leaders.get(leader_label)
        if ld is None:
            set_message(("error", "no leader chosen"))
            return
        run(Event(model.month, "leader_departs", role=ld.role,
                  successor_stance=None if stance == CULTURE_STANCE else STANCES[stance]), ld)

    closed = model.closed
    with solara.Card(f"Inject an event now (month {model.month})", classes=["mst-inject"],
                     margin=0):
        solara.Select("Leader", values=list(leaders), value=leader_label,
                      on_value=set_leader_label)
        solara.Select("Successor's stance", values=[CULTURE_STANCE, *STANCES], value=stance,
                      on_value=set_stance)
        solara.Button("The leader leaves", on_click=leader_leaves, disabled=closed,
                      color="warning", block=True, classes=["mst-btn-leader"])
        solara.Button("The supervisor leaves",
                      on_click=lambda: run(Event(model.month, "supervisor_departs")),
                      disabled=closed, color="warning", block=True,
                      classes=["mst-btn-supervisor"])
        solara.SliderInt("Cut (%)", value=cut, on_value=set_cut, min=5, max=60, step=5)
        solara.Button(f"Cut the budget by {cut}%",
                      on_click=lambda: run(Event(model.month, "budget_cut", fraction=cut / 100)),
                      disabled=closed, color="warning", block=True, classes=["mst-btn-cut"])
        solara.Select("Partner", values=list(partners), value=partner_label,
                      on_value=set_partner_label)
        solara.Button("The partner withdraws",
                      on_click=lambda: run(Event(model.month, "partner_withdraws",
                                                 agency=partners.get(partner_label, ""))),
                      disabled=closed or not partners, color="warning", block=True,
                      classes=["mst-btn-partner"])
        kind, text = message
        if kind == "error":
            solara.Error(text)
        elif kind == "ok":
            solara.Success(text)
        if closed:
            solara.Info("The service has closed: press Reset to start again.")


@solara.component
def ResetCue(model: DashboardModel, params: dict):
    """"Lever changed - press Reset" while a control differs from the run it shows."""
    changed = pending_changes(model, params)
    if changed:
        what = "Setting" if {"Scenario", "Seed"} & set(changed) else "Lever"
        solara.Warning(f"{what} changed - press Reset to apply it: {', '.join(changed)}. "
                       "The run shown still uses the settings it started with.",
                       classes=["mst-reset-cue"], dense=True)


@solara.component
def Sidebar(model_r: solara.Reactive, params_r: solara.Reactive, initial: dict):
    """Run controls and the reset cue, the inject card, then the scenario, seed and levers.

    Built from mesa's own ``ModelController`` and ``ModelCreator`` (the parts SolaraViz
    composes) so that mesa's internal controls, which a room does not need, are not shown.
    """
    play = solara.use_reactive(PLAY_INTERVAL)
    render_every = solara.use_reactive(1)  # every month is drawn (mesa's "Render Interval")
    threads = solara.use_reactive(False)  # stepping in solara's task (mesa's "Use Threads")
    model = model_r.value
    with solara.Column(classes=["mst-sidebar"], gap="6px"):
        with solara.Card("Run", classes=["mst-controls"], margin=0):
            ModelController(model_r, model_parameters=params_r, play_interval=play,
                            render_interval=render_every, use_threads=threads)
            solara.SliderInt("Play speed (ms a month)", value=play, min=100, max=1500, step=100)
            ResetCue(model, params_r.value)
        InjectCard(model_r).key(f"inject-{getattr(model, 'run_id', 0)}")
        with solara.Card("Scenario, seed and levers (applied at Reset)", classes=["mst-params"],
                         margin=0):
            ResetCue(model, params_r.value)
            ModelCreator(model_r, model_params(initial), model_parameters=params_r)


@solara.component
def MainView(model_r: solara.Reactive, params_r: solara.Reactive):
    """The main area: headline, charts, bars and log above the fold; the rest below."""
    update_counter.get()
    model = model_r.value
    with solara.Column(classes=["mst-main"], style={"padding": "4px 8px", "gap": "6px"}):
        StatusStrip(model)
        ResetCue(model, params_r.value)  # where the room and the facilitator both see it
        with solara.Columns([8, 4], gutters_dense=True):
            ChartsCard(model)
            with solara.Column(gap="6px"):
                if model.closed:
                    WhyCard(model)
                else:
                    BuffersCard(model)
                LogCard(model)
        with solara.Columns([4, 3, 5], gutters_dense=True):
            DetailsCard(model)
            TeamCard(model)
            EnsembleCard(model).key(f"ensemble-{getattr(model, 'run_id', 0)}")
        PeopleCard(model)


@solara.component
def Page():
    """The dashboard: the sidebar's controls and the seminar panels."""
    initial = solara.use_memo(initial_parameters, [])
    model_r = solara.use_memo(lambda: solara.reactive(LockedModel(**initial)), [])
    params_r = solara.use_reactive({})  # the sidebar's control values (mesa fills them)
    # One column without gaps: the style, title, app bar and sidebar take no room on the page.
    with solara.Column(gap="0px"):
        solara.Style(CSS)
        solara.Title(TITLE)
        with solara.AppBar():
            solara.AppBarTitle(TITLE)
        with solara.Sidebar():
            Sidebar(model_r, params_r, initial)
        MainView(model_r, params_r)
