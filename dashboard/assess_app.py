"""The assessment page: a commissioner describes an authority and runs its readiness assessment.

Served with the seminar dashboard by ``python run.py app`` (needs the optional ``viz`` extra):
the assessment at ``/``, the seminar dashboard at ``/dashboard``. The form is in the rubric's
words and built from the scenario schema (:mod:`dashboard.assess_form`); every change is checked
by the scenario loader and a bad value gets its message under the field. **Run** starts the same
job as ``python run.py assess`` in the background (:mod:`dashboard.assess_runner`) with progress
by phase and a Cancel button; the outlook appears first, then the levers with their costs, then
the drivers, then the report to download. Load a scenario file (or a study site) to start from,
and download the TOML the form built.
"""

from __future__ import annotations

import os
import threading

import solara
import solara.lab

from dashboard import assess_form as af
from dashboard.assess_runner import Cancelled, Settings, run_assessment, site_curves
from experiments.analysis.factors import CHANGEABLE, CLASS_TITLES, CONTEXT

TITLE = "MST readiness assessment"
ENV_SETTINGS = "MST_APP_SETTINGS"
"""Environment variable through which ``run.py app`` hands its settings to the page."""

CSS = """
.mst-field-error { color: #b3261e; font-size: 0.8rem; margin: -6px 0 6px 2px; }
.mst-table { border-collapse: collapse; font-size: 0.9rem; width: 100%; }
.mst-table th, .mst-table td { border-bottom: 1px solid #e0e4e8; padding: 3px 6px;
    text-align: left; vertical-align: top; }
.mst-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.mst-row { border-left: 3px solid #0072B2; padding-left: 8px; margin-bottom: 8px; }
.mst-phase { font-size: 0.95rem; margin: 4px 0; }
.mst-uncertain { color: #6b6b6b; font-style: italic; }
"""


def settings() -> Settings:
    """The page's run settings (``run.py app`` passes them; else the command line's defaults)."""
    text = os.environ.get(ENV_SETTINGS, "")
    values = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
    return Settings(**{k: int(v) for k, v in values.items()
                       if k in Settings.__dataclass_fields__})


# --- per-session state (solara keeps module-level reactives per browser session) -------------
form_r = solara.reactive(af.blank_form())
start_r = solara.reactive("template")
status_r = solara.reactive("")
phase_r = solara.reactive(None)
parts_r = solara.reactive({})
outcome_r = solara.reactive(None)
error_r = solara.reactive("")
cancel_r = solara.reactive(None)
seed_r = solara.reactive(None)
sites_r = solara.reactive({})


def _table(header, rows, numeric_from=99) -> str:
    import html

    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if i >= numeric_from else ""}>'
                         f"{html.escape(str(c))}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows)
    return f'<table class="mst-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _line(text: str, cls: str) -> None:
    """A line of text in its own block (solara's Text is inline)."""
    import html

    solara.HTML(tag="div", unsafe_innerHTML=html.escape(text), classes=[cls])


def _set(path: tuple, value) -> None:
    import copy

    form = copy.deepcopy(form_r.value)
    target = form
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    form_r.value = form


@solara.component
def FieldInput(f: af.Field, value, path: tuple, error: str):
    """One field: a drop-down, a number or text box, or a tick box; the loader's message below."""
    if f.kind == "choice":
        values = list(f.choices)
        shown = "" if value is None else str(value)
        if shown and shown not in values:
            values.append(shown)  # a number off the rubric, as the file gave it
        solara.Select(label=f.label, values=values, value=shown,
                      on_value=lambda v: _set(path, v))
    elif f.kind == "flag":
        solara.Checkbox(label=f.label, value=bool(value), on_value=lambda v: _set(path, v))
    else:
        solara.InputText(label=f.label, value="" if value is None else str(value),
                         on_value=lambda v: _set(path, v), error=bool(error))
    if error:
        solara.Text(error, classes=["mst-field-error"])


@solara.component
def SectionCard(table: str, heading: str, errors: dict):
    """A single table of the form (the authority, the supervisor, go-live, levers)."""
    values = form_r.value.get(table) or {}
    with solara.Card(heading, classes=[f"mst-section-{table}"]):
        for f in af.fields()[table]:
            FieldInput(f, values.get(f.name), (table, f.name), errors.get(f.key, ""))


@solara.component
def RowsCard(table: str, heading: str, errors: dict):
    """Leaders or partners as rows, each with a Remove button, and an Add button."""
    rows = form_r.value.get(table) or []
    noun = "leader" if table == "leaders" else "partner"

    def add():
        import copy

        form = copy.deepcopy(form_r.value)
        form.setdefault(table, []).append(af.new_row(table))
        form_r.value = form

    def remove(i):
        import copy

        form = copy.deepcopy(form_r.value)
        del form[table][i]
        form_r.value = form

    with solara.Card(heading, classes=[f"mst-rows-{table}"]):
        for i, row in enumerate(rows):
            with solara.Column(classes=["mst-row"]):
                for f in af.fields()[table]:
                    FieldInput(f, row.get(f.name), (table, i, f.name),
                               errors.get(f"{table}.{i}.{f.name}", ""))
                solara.Button(f"Remove this {noun}", on_click=lambda i=i: remove(i), text=True,
                              classes=[f"mst-remove-{noun}"])
        if errors.get(table):
            solara.Text(errors[table], classes=["mst-field-error"])
        solara.Button(f"Add a {noun}", on_click=add, outlined=True, classes=[f"mst-add-{noun}"])


@solara.component
def LoadCard():
    """Start from a shipped file or a dropped one; download the TOML the form built."""
    def start_from(name):
        start_r.value = name
        path = af.TEMPLATE if name == "template" else af.ROOT / "scenarios" / f"{name}.toml"
        form_r.value = af.form_from_toml(path.read_text(encoding="utf-8"))
        error_r.value = ""

    def dropped(info):
        try:
            form_r.value = af.form_from_toml(info["data"].decode("utf-8"))
            error_r.value = ""
            start_r.value = "a file"
        except (UnicodeDecodeError, ValueError) as exc:
            error_r.value = f"{info.get('name', 'the file')}: {exc}"

    with solara.Card("Start from", classes=["mst-load"]):
        solara.Select(label="A shipped description", values=["template", *af.SITE_FILES],
                      value=start_r.value if start_r.value != "a file" else None,
                      on_value=start_from)
        solara.FileDrop(label="... or drop a scenario file (TOML) here", on_file=dropped,
                        lazy=False)
        if error_r.value:
            solara.Error(error_r.value)
        stem = af.file_stem(form_r.value)
        solara.FileDownload(lambda: af.to_toml(form_r.value), filename=f"{stem}.toml",
                            label="Download the TOML the form built", mime_type="text/plain")


def _tell(kind, value):
    """Called from the assessment thread: keep the page's state up to date."""
    if kind == "queued":
        status_r.value = (f"Queued: {value} assessment(s) ahead of yours on this server; yours "
                          f"starts when they finish.")
    elif kind == "started":
        status_r.value = "Running."
    elif kind == "progress":
        phase_r.value = value
    else:
        parts_r.value = {**parts_r.value, kind: value}


@solara.lab.task(prefer_threaded=True)
def assessment_task(toml_text: str, stem: str, run_settings: Settings, cancel: threading.Event):
    """The page's assessment, in a background thread (one at a time on the server)."""
    try:
        outcome = run_assessment(toml_text, stem, run_settings, cancel, _tell)
    except Cancelled:
        status_r.value = "Cancelled: the runs were stopped and nothing was kept."
        phase_r.value = None
        parts_r.value = {}
        return None
    except Exception as exc:  # noqa: BLE001 - shown on the page in one line
        status_r.value = f"The assessment failed: {' '.join(str(exc).split())}"
        return None
    outcome_r.value = outcome
    status_r.value = (f"Done: first results after {outcome.first_result_s:.0f} s, the whole "
                      f"assessment in {outcome.total_s:.0f} s.")
    try:  # the study sites beside it, for the survival chart (once per server and seed)
        phase_r.value = None
        sites_r.value = site_curves(run_settings, cancel)
    except Cancelled:
        pass
    return outcome


@solara.component
def RunCard(valid: bool, message: str):
    """The seed, Run and Cancel, the progress by phase and the status line."""
    run_settings = settings()
    seed = seed_r.value if seed_r.value is not None else run_settings.seed
    running = assessment_task.pending

    def run():
        cancel = threading.Event()
        cancel_r.value = cancel
        parts_r.value = {}
        phase_r.value = None
        status_r.value = "Starting."
        chosen = Settings(**{**run_settings.__dict__, "seed": int(seed)})
        form = form_r.value
        assessment_task(af.to_toml(form), af.file_stem(form), chosen, cancel)

    def cancel():
        if cancel_r.value is not None:
            cancel_r.value.set()
            status_r.value = "Cancelling: stopping the runs."

    def set_seed(text):
        try:
            value = int(str(text).strip())
        except ValueError:
            return
        if 0 <= value < 2**63:
            seed_r.value = value

    with solara.Card("Run the assessment", classes=["mst-run"]):
        solara.Markdown(
            f"{run_settings.replicates} simulated histories of the authority and of each "
            f"lever, and a local screening of its descriptors ({run_settings.trajectories} "
            f"trajectories x {run_settings.screen_replicates} replicates); "
            f"{run_settings.workers} worker processes. Parameters: point: calibrated "
            f"defaults.")
        solara.InputText(label="Seed", value=str(seed), on_value=set_seed)
        with solara.Row():
            solara.Button("Run the assessment", on_click=run, disabled=running or not valid,
                          color="primary", classes=["mst-run-button"])
            solara.Button("Cancel", on_click=cancel, disabled=not running,
                          classes=["mst-cancel-button"])
        if not valid:
            solara.Warning(f"Fix the form first: {message}", classes=["mst-form-problem"])
        state = phase_r.value
        if running and state is not None:
            solara.ProgressLinear(value=100 * state.fraction)
            _line(state.text, "mst-phase")
        elif running:
            solara.ProgressLinear(value=True)
        if status_r.value:
            _line(status_r.value, "mst-status-line")


def _assessment_like(parts: dict):
    """An :class:`Assessment` of the parts that are in (for the report's table builders)."""
    from types import SimpleNamespace

    import pandas as pd

    final = parts.get("assessment")
    if final is not None:
        return final
    outlook = parts.get("outlook")
    if outlook is None:
        return None
    series, runs = outlook
    stem = str(runs["variant"].iloc[0]) if len(runs) else ""
    return SimpleNamespace(name=str(runs["scenario"].iloc[0]) if len(runs) else "",
                           stem=stem, outlook=series, runs=runs,
                           drivers=parts.get("drivers") or [],
                           levers=parts.get("levers", pd.DataFrame()), skipped={},
                           provenance={}, scenario=None)


@solara.component
def SurvivalChart(a, runs):
    """The authority's survival curve, with the three study sites beside it once computed."""
    from dataclasses import replace

    from experiments.analysis.survival import kaplan_meier
    from experiments.reports.ensemble_plots import plot_survival

    if not len(runs):
        return
    h = int(a.outlook["horizon"])
    mine = [replace(k, variant=f"{a.name} (yours)")
            for k in kaplan_meier(runs, horizon=h).values()]
    sites = [k for name, k in sites_r.value.items() if name != a.name]
    fig = plot_survival(mine + sites, title="Chance the service is still running: yours and "
                                            "the three study sites (95% bands)")
    solara.FigureMatplotlib(fig, format="png")


@solara.component
def Results():
    """The results as they come in: outlook, levers with costs, drivers, the report."""
    from experiments.analysis.causes import explanations_available
    from experiments.reports import assess as ra
    from experiments.reports.causes import why_lines

    parts = parts_r.value
    a = _assessment_like(parts)
    if a is None:
        return
    with solara.Card("Outlook", classes=["mst-outlook"]):
        ci = ra.interval_name(a)  # "95% range" in posterior mode
        solara.HTML(unsafe_innerHTML=_table(["measure", f"estimate ({ci})"],
                                            ra.outlook_rows(a)))
        runs = ra.baseline_runs(a)
        SurvivalChart(a, runs)
        if explanations_available(runs):
            import html

            items = "".join(f"<li>{html.escape(line)}</li>" for line in why_lines(runs, a.stem))
            solara.HTML(unsafe_innerHTML=f"<p><b>Why services like this close</b></p>"
                                         f'<ul class="mst-why">{items}</ul>')
    if getattr(a, "drivers", None):
        with solara.Card("Drivers", classes=["mst-drivers"]):
            solara.Markdown("One step up of each descriptor: months of service in the "
                            "horizon (95% CI). *Uncertain*: the interval includes zero.")
            for klass in (CHANGEABLE, CONTEXT):
                rows = ra.driver_rows(a, klass)
                if rows:
                    solara.Markdown(f"**{CLASS_TITLES[klass]}**")
                    solara.HTML(unsafe_innerHTML=_table(
                        ["rank", "driver", "yours", "range screened", "one step up",
                         "months of service per step up (95% CI)", "direction"], rows, 5))
    levers = getattr(a, "levers", None)
    if levers is not None and len(levers):
        with solara.Card("Levers, with their cost", classes=["mst-levers"]):
            solara.HTML(unsafe_innerHTML=_table(
                ["rank", "lever", f"months of service ({ci})",
                 f"5-year survival, points ({ci})", f"extra cost ({ci})",
                 f"extra net cost ({ci})", f"cost per extra year of service ({ci})"],
                ra.lever_rows(a), 2))
            solara.Markdown("Costs: the service's cost over the horizon, undiscounted, as the "
                            "model counts it (whoever pays); net cost subtracts the placement "
                            "costs avoided. A lever's own price is not in the model.")
    outcome = outcome_r.value
    if outcome is not None and parts.get("assessment") is not None:
        with solara.Card("Report and provenance", classes=["mst-report"]):
            solara.HTML(unsafe_innerHTML=_table(
                ["item", "value"], [[k, v.get("code", v) if isinstance(v, dict) else v]
                                    for k, v in ra.provenance_rows(a.provenance)]))
            solara.FileDownload(outcome.report, filename=f"{a.stem}-report.html",
                                label="Download the HTML report", mime_type="text/html")


@solara.component
def AssessmentPage():
    """The whole assessment page: load, form, run, results."""
    solara.Title(TITLE)
    solara.Style(CSS)
    scenario, key, message = af.check(form_r.value)
    errors = {af.field_key(key): message} if key else {}
    if key and af.field_key(key) in ("leaders", "partners"):
        errors[af.field_key(key)] = message
    problem = ""
    if key:
        label = af.LABELS.get(".".join(p for p in af.field_key(key).split(".")
                                       if not p.isdigit()), key)
        problem = f"{label}: {message}"
    with solara.Column(style={"padding": "12px", "max-width": "1400px"}):
        solara.Markdown(f"# {TITLE}\n"
                        "Describe the authority in the rubric's words, then run the "
                        "assessment: the outlook appears first, then the levers with their "
                        "cost, then the drivers. [Seminar dashboard](/dashboard).")
        with solara.Columns([5, 4]):
            with solara.Column():
                LoadCard()
                SectionCard("site", "The authority", errors)
                RowsCard("leaders", "Senior leaders in post at go-live", errors)
                RowsCard("partners", "Partner agencies on the steering group", errors)
                SectionCard("supervisor", "The first supervisor", errors)
                SectionCard("run", "Go-live", errors)
                SectionCard("levers", "Levers already in place", errors)
            with solara.Column():
                RunCard(scenario is not None, problem)
                Results()


@solara.component
def SeminarPage():
    """The seminar dashboard, on the same server."""
    from dashboard.dashboard_app import Page as DashboardPage

    DashboardPage()


routes = [
    solara.Route(path="/", component=AssessmentPage, label="Readiness assessment"),
    solara.Route(path="dashboard", component=SeminarPage, label="Seminar dashboard"),
]
