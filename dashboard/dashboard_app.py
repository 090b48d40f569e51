"""The seminar dashboard page: a mesa SolaraViz app on leadership turnover (issue 6).

Start it with ``python run.py dashboard [SCENARIO]`` (needs the optional ``viz`` extra). The
sidebar holds mesa's controls (Reset, play/pause, Step), the scenario, seed and levers (applied
at Reset) and a card to inject events at the current month. The main area shows, month by
month, the team, the leaders and partners, the steering group, referrals and caseload, and
the reserve against the pressure getting through the buffers, April budget rounds marked; once
the service has closed, a "Why it closed" panel explains the closure in plain words.
"""

from __future__ import annotations

import html
import threading

import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz
from mesa.visualization.utils import force_update, update_counter

from dashboard.dashboard import (
    BOOLEAN_LEVERS,
    CULTURE_STANCE,
    LEVER_LABELS,
    WHY_TITLE,
    DashboardModel,
    budget_round_months,
    initial_parameters,
    inject_event,
    leader_choices,
    leader_rows,
    partner_choices,
    partner_rows,
    scenario_catalogue,
    status,
    team_lines,
)
from sim.scenario import STANCES, Event

TITLE = "MST team survival: leadership turnover seminar"
# One lock per process: stepping (mesa's play thread) and injecting never interleave.
MODEL_LOCK = threading.RLock()

CSS = """
.mst-table { border-collapse: collapse; font-size: 0.85rem; width: 100%; }
.mst-table th, .mst-table td { border-bottom: 1px solid #e0e4e8; padding: 2px 6px;
    text-align: left; vertical-align: top; }
.mst-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.mst-tag { display: inline-block; border-radius: 8px; padding: 0 6px; margin: 1px 2px;
    font-size: 0.75rem; background: #e8eef5; }
.mst-tag-patron { background: #fce8b2; } .mst-tag-new { background: #f9d0cc; }
.mst-tag-interim { background: #f4c7e8; } .mst-tag-chairs { background: #cde8d0; }
.mst-closed { color: #b3261e; font-weight: bold; }
.mst-bar { display: inline-block; height: 8px; background: #4a7fb0; vertical-align: middle; }
.mst-kv td:first-child { color: #555; white-space: nowrap; }
.mst-log { font-size: 0.82rem; max-height: 260px; overflow-y: auto; }
.mst-why-lines { font-size: 0.9rem; margin: 0; padding-left: 1.1rem; }
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _bar(x: float) -> str:
    return f'<span class="mst-bar" style="width:{max(0.0, min(1.0, x)) * 50:.0f}px"></span>'


class LockedModel(DashboardModel):
    """:class:`DashboardModel` whose monthly step holds the page's lock (see ``MODEL_LOCK``)."""

    def step(self) -> None:
        """Advance one month while holding the lock."""
        with MODEL_LOCK:
            super().step()


def model_params(initial: dict) -> dict:
    """SolaraViz ``model_params``: scenario, seed and every lever, starting at ``initial``."""
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


# --------------------------------------------------------------------------- panels
@solara.component
def StatusCard(model: DashboardModel):
    """Month, fate, money and the steering group."""
    update_counter.get()  # redraw after each step, reset or injection
    s = status(model)
    fate_cls = "mst-closed" if s["closed"] else ""
    rows = [
        ("Month", f'<span class="mst-month">Month {s["month"]}</span> ({s["date"]}), '
                  f'{_e(s["phase"])} phase'),
        ("Service", f'<span class="{fate_cls} mst-fate">{_e(s["fate"])}</span>'),
        ("Next budget round", _e(s["next_budget_round"])),
        ("Grant share of cost", f'{s["grant_share"]:.0%}'),
        ("Buffers", f'leadership {s["leadership_shield"]:.2f}, partnership '
                    f'{s["partnership_shield"]:.2f}, system leadership {s["system_leadership"]:.2f}'),
        ("Reserve / pressure", f'{s["reserve"]:.2f} / {s["pressure"]:.2f} getting through '
                               f'(margin {s["margin"]:+.2f})'),
        ("Steering group", f'strength {s["partnership"]:.2f} {_bar(s["partnership"])}, '
                           f'chaired by {_e(s["chair"])}, memory of the commitment '
                           f'{s["memory"]:.0%}'),
        ("Climate", f'hostility {s["hostility"]:.2f}, collaboration {s["collaboration"]:.2f}'),
        ("Levers in force", '<span class="mst-levers">'
                            + (_e(", ".join(s["levers"])) if s["levers"] else "none") + "</span>"),
    ]
    if s["levers_overridden"]:
        rows.append(("Changed from the file", _e(", ".join(s["levers_overridden"]))))
    body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    with solara.Card(f"{s['scenario']} (seed {s['seed']})", classes=["mst-status"]):
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
    with solara.Card("The team", classes=["mst-team-card"]):
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
    with solara.Card("Leaders and partners", classes=["mst-people"]):
        solara.HTML(tag="div", unsafe_innerHTML=leaders + "<br>" + partners)


def _series(model: DashboardModel):
    return model.datacollector.get_model_vars_dataframe()


def _xlim(model: DashboardModel) -> int:
    return min(model.horizon, max(24, model.month + 6))


def _mark_events(ax, model: DashboardModel, top: float) -> None:
    for month, _text in getattr(model, "injected", []):
        ax.axvline(month, color="#b3261e", lw=1.2, ls=":")
        ax.annotate("injected", (month, top), fontsize=7, color="#b3261e", rotation=90,
                    va="top", ha="right")
    if model.closed:
        ax.axvline(model.closure_month, color="#b3261e", lw=2)
        ax.annotate("closed", (model.closure_month, top), fontsize=8, color="#b3261e",
                    va="top", ha="left")


def margin_figure(model: DashboardModel) -> Figure:
    """Reserve against the pressure getting through the buffers by month, budget rounds marked."""
    df = _series(model)
    fig = Figure(figsize=(4.6, 3.0), dpi=100, layout="constrained")
    ax = fig.subplots()
    xmax = _xlim(model)
    for i, m in enumerate(budget_round_months(model, xmax)):
        ax.axvline(m, color="#8a8f96", lw=1, ls="--", alpha=0.8 if m <= model.month else 0.35,
                   label="budget round (April)" if i == 0 else None)
    ax.plot(df.index, df["reserve"], color="#2e7d32", lw=2, label="reserve")
    ax.plot(df.index, df["pressure_landing"], color="#c62828", lw=2,
            label="pressure getting through")
    cols = ["reserve", "pressure_landing"]
    top = max(1.0, float(df[cols].max().max()) * 1.1)
    ax.set_ylim(min(0.0, float(df[cols].min().min()) * 1.1), top)
    _mark_events(ax, model, top)
    ax.set_xlim(0, xmax)
    ax.set_xlabel("month")
    ax.set_title("Reserve against pressure getting through", fontsize=10)
    ax.legend(fontsize=7, loc="lower left", ncols=3)
    return fig


def activity_figure(model: DashboardModel) -> Figure:
    """Referrals, caseload, waiting list and staff in post by month."""
    df = _series(model)
    fig = Figure(figsize=(4.6, 3.0), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.plot(df.index, df["referrals_month"], color="#4a7fb0", label="referrals / month")
    ax.plot(df.index, df["caseload"], color="#2e7d32", lw=2, label="caseload")
    ax.plot(df.index, df["waiting_list"], color="#ef6c00", label="waiting list")
    ax.step(df.index, df["staff"], where="post", color="#6a1b9a", label="staff in post")
    top = max(8.0, float(df[["referrals_month", "caseload", "waiting_list", "staff"]]
                         .max().max()) * 1.15)
    ax.set_ylim(0, top)
    _mark_events(ax, model, top)
    ax.set_xlim(0, _xlim(model))
    ax.set_xlabel("month")
    ax.set_title("Referrals and caseload", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", ncols=2)
    return fig


def leadership_figure(model: DashboardModel) -> Figure:
    """Steering group strength and leaders' mean knowledge and support by month."""
    df = _series(model)
    fig = Figure(figsize=(4.6, 3.0), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.plot(df.index, df["partnership"], color="#00695c", lw=2, label="steering group strength")
    ax.plot(df.index, df["leader_knowledge"], color="#4a7fb0", label="leaders' knowledge")
    ax.plot(df.index, df["leader_support"], color="#ad1457", label="leaders' support")
    ax.axhline(0, color="#bbb", lw=0.8)
    ax.set_ylim(-1.0, 1.05)
    _mark_events(ax, model, 1.05)
    ax.set_xlim(0, _xlim(model))
    ax.set_xlabel("month")
    ax.set_title("Leaders and the steering group", fontsize=10)
    ax.legend(fontsize=7, loc="lower left", ncols=2)
    return fig


@solara.component
def WhyCard(model: DashboardModel):
    """Once the service has closed: why, in plain words (the closure's explanation)."""
    update_counter.get()  # redraw after each step, reset or injection
    s = status(model)
    if not s["closed"]:
        return
    items = "".join(f"<li>{_e(line.strip())}</li>" for line in s["why"])
    with solara.Card(WHY_TITLE, classes=["mst-why"]):
        solara.HTML(tag="div", unsafe_innerHTML=(
            f'<p class="mst-closed">{_e(s["fate"])}.</p>'
            f'<ul class="mst-why-lines">{items}</ul>'))


@solara.component
def ChartsCard(model: DashboardModel):
    """The three monthly charts."""
    update_counter.get()  # redraw after each step, reset or injection
    with solara.Card("Month by month", classes=["mst-charts"]):
        with solara.Columns([1, 1, 1]):
            solara.FigureMatplotlib(margin_figure(model), format="png")
            solara.FigureMatplotlib(activity_figure(model), format="png")
            solara.FigureMatplotlib(leadership_figure(model), format="png")


@solara.component
def LogCard(model: DashboardModel):
    """What happened, latest first."""
    update_counter.get()  # redraw after each step, reset or injection
    items = "".join(f"<li>month {m} ({model.calendar.label(m)}): {_e(t)}</li>"
                    for m, t in reversed(model.log[-40:]))
    with solara.Card("What happened (latest first)", classes=["mst-log-card"]):
        solara.HTML(tag="div", unsafe_innerHTML=f'<ul class="mst-log">{items or "<li>—</li>"}</ul>')


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
    with solara.Card(f"Inject an event now (month {model.month})", classes=["mst-inject"]):
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
def MainView(model_r: solara.Reactive):
    """Everything in the main area, redrawn after each step, reset or injection."""
    update_counter.get()
    model = model_r.value
    solara.Style(CSS)
    with solara.Column(style={"padding": "8px"}):
        solara.HTML(tag="p", unsafe_innerHTML=(
            "Set the scenario, seed and levers in the sidebar, then press <b>Reset</b> to apply "
            "them; <b>Step</b> advances one month and &#9654; plays. An injected event happens "
            "at the current month, through the same code as a scenario file's events."))
        with solara.Columns([4, 3, 3]):
            StatusCard(model)
            TeamCard(model)
            InjectCard(model_r)
        WhyCard(model)
        ChartsCard(model)
        with solara.Columns([3, 2]):
            PeopleCard(model)
            LogCard(model)


@solara.component
def Page():
    """The dashboard: mesa's SolaraViz (controls, parameters) plus the seminar panels."""
    initial = solara.use_memo(initial_parameters, [])
    model_r = solara.use_memo(lambda: solara.reactive(LockedModel(**initial)), [])
    SolaraViz(model_r, components=[], model_params=model_params(initial), name=TITLE,
              play_interval=400)
    MainView(model_r)
