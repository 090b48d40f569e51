"""Why services like this close: the cause and event tables, their plain words, and where they
are shown (the simulate summary, the reports, assess and the dashboard's text).

The model on this branch records no explanations yet, so the run tables here get the
explanation columns of issue 12 from :func:`with_explanations`, with values chosen so that
every answer is known.
"""

from __future__ import annotations

import math
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from dashboard import dashboard as dash
from experiments.analysis.causes import (
    CAUSE_COLUMNS,
    cause_table,
    event_table,
    explanations_available,
    parse_events,
)
from experiments.analysis.survival import survival_table
from experiments.reports.assess import format_assessment
from experiments.reports.causes import (
    NO_CLOSURES,
    NOT_AVAILABLE,
    run_explanation_lines,
    why_lines,
    why_section,
)
from experiments.reports.report import write_report
from experiments.reports.summary import format_run_summary, format_why_text
from sim.explanation import CAUSE_GROUPS
from sim.simulate import RunResult

sys.path.insert(0, str(Path(__file__).parent))
from test_survival import make_runs  # noqa: E402

# Four explained closures, one closure no decision took, one survivor. The leadership shield is
# among the two largest contributions in closures 0 and 3 (2 of 4); the grant taper in 0 and 2;
# hostility in 1 and 2; budget cuts in 1 only; the partnership shield in 3 only; the local
# evidence never (it held the margin up in closure 3).
CLOSURES = [
    ({"leadership_shield": 0.3, "grant_taper": 0.2, "evidence": 0.05},
     "patron_left@14;grant_step@24", 0),
    ({"leadership_shield": 0.1, "budget_cuts": 0.4, "hostility": 0.2},
     "leader_left@10;budget_cut@20", 0),
    ({"grant_taper": 0.3, "hostility": 0.1, "leadership_shield": 0.05}, "patron_left@16", 6),
    ({"leadership_shield": 0.4, "partnership_shield": 0.2, "evidence": -0.1},
     "patron_left@12;leader_left@5", 0),
    (None, "supervisor_left@20", None),
]
FALLS = [0.55, 0.7, 0.45, 0.5]


def with_explanations(runs: pd.DataFrame, explanations) -> pd.DataFrame:
    """``runs`` with the explanation columns of issue 12 filled from ``explanations``.

    Args:
        runs: A run table whose closed runs come first, in the order of ``explanations``.
        explanations: Per closed run ``(causes, closure_events, reference_month)``; ``causes``
            None for a closure no decision took (its ``cause_*`` and ``margin_fall`` NaN).
    """
    runs = runs.copy()
    for col in [*CAUSE_COLUMNS, "margin_fall", "margin_reference_month"]:
        runs[col] = math.nan
    runs["closure_events"] = ""
    closed = runs.index[~runs["survived"].astype(bool)]
    for i, (causes, events, ref) in zip(closed, explanations, strict=False):
        runs.loc[i, "closure_events"] = events
        if causes is None:
            continue
        for g in CAUSE_GROUPS:
            runs.loc[i, f"cause_{g}"] = causes.get(g, 0.0)
        runs.loc[i, "margin_fall"] = sum(causes.values())
        runs.loc[i, "margin_reference_month"] = ref
    return runs


def known_runs(variant: str = "Status quo") -> pd.DataFrame:
    return with_explanations(make_runs(variant, [30, 31, 32, 33, 34, math.nan]), CLOSURES)


def row(table: pd.DataFrame, **where) -> pd.Series:
    sel = table
    for k, v in where.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, where
    return sel.iloc[0]


# --------------------------------------------------------------------------- the tables
def test_cause_table_known_answers():
    t = cause_table(known_runs())
    assert len(t) == len(CAUSE_GROUPS)
    ls = row(t, group="leadership_shield")
    assert (ls.closures, ls.explained, ls.top_two) == (5, 4, 2)
    assert ls.top_two_share == pytest.approx(0.5)
    assert ls.mean_contribution == pytest.approx((0.3 + 0.1 + 0.05 + 0.4) / 4)
    assert ls.mean_fall == pytest.approx(sum(FALLS) / 4)
    assert ls.share_of_fall == pytest.approx(0.85 / sum(FALLS))
    assert row(t, group="budget_cuts").top_two_share == pytest.approx(0.25)
    ev = row(t, group="evidence")  # in the top two of no closure; held the margin up once
    assert ev.top_two == 0 and ev.mean_contribution == pytest.approx(-0.05 / 4)
    shares = t["top_two_share"].tolist()
    assert shares == sorted(shares, reverse=True)
    # ties on the share (0.5) are ordered by the mean contribution
    assert t["group"].tolist()[:3] == ["leadership_shield", "grant_taper", "hostility"]
    # the contributions of each closure sum to its fall, so the mean contributions do too
    assert t["mean_contribution"].sum() == pytest.approx(ls.mean_fall)


def test_a_group_that_held_the_margin_up_is_never_a_main_cause():
    runs = with_explanations(make_runs("v", [20]), [({"budget_cuts": 0.5, "evidence": -0.2},
                                                     "", 0)])
    t = cause_table(runs)
    assert row(t, group="budget_cuts").top_two == 1
    assert t.loc[t.group != "budget_cuts", "top_two"].sum() == 0


def test_event_table_known_answers():
    t = event_table(known_runs())
    patron = row(t, kind="patron_left")
    assert (patron.explained, patron.closures_with) == (4, 3)
    assert patron.share == pytest.approx(0.75) and patron.median_first_month == 14
    assert row(t, kind="leader_left").median_first_month == pytest.approx(7.5)
    # the unexplained closure's supervisor_left does not count
    assert row(t, kind="supervisor_left").closures_with == 0
    assert math.isnan(row(t, kind="supervisor_left").median_first_month)
    assert t["share"].tolist() == sorted(t["share"], reverse=True)


def test_parse_events_orders_by_month_and_rejects_garbage():
    assert parse_events("grant_step@24;leader_left@7") == [(7, "leader_left"), (24, "grant_step")]
    assert parse_events("") == [] and parse_events(math.nan) == [] and parse_events(None) == []
    with pytest.raises(ValueError, match="kind@month"):
        parse_events("leader_left@soon")


def test_tables_are_empty_without_the_columns():
    old = make_runs("v", [10, math.nan])
    assert not explanations_available(old)
    assert cause_table(old).empty and event_table(old).empty
    assert why_lines(old, "v") == [NOT_AVAILABLE]
    assert why_section(old)["available"] is False


# --------------------------------------------------------------------------- the sentences
def test_why_lines_known_answers():
    runs = pd.concat([known_runs(), with_explanations(make_runs("Safe", [math.nan] * 3), [])],
                     ignore_index=True)
    lines = why_lines(runs, "Status quo")
    assert lines[0] == ("In 50% of the 4 explained closures the leadership shield had fallen "
                        "(mean 0.21 of a 0.55 fall of the margin): the patron left (median "
                        "month 13) in 100% of them; a senior leader left (median month 5) in "
                        "50% of them.")
    assert lines[1].startswith("In 50% of the 4 explained closures pressure from grant taper "
                               "had risen (mean 0.12 of a 0.55")
    assert lines[2].endswith("pressure from hostility had risen (mean 0.08 of a 0.55 fall of "
                             "the margin).")  # no event of its group in the windows
    assert lines[3] == "1 closure had no decision to explain (staffing collapse or licence)."
    assert len(why_lines(runs, "Status quo", top=1)) == 2
    assert why_lines(runs, "Safe") == [NO_CLOSURES]


def test_why_lines_when_every_closure_is_explained():
    runs = with_explanations(make_runs("v", [30, 40]), CLOSURES[:2])
    lines = why_lines(runs, "v")
    assert lines[0].startswith("In 50% of closures ")
    assert not any("no decision" in line for line in lines)


def test_why_lines_when_nothing_pushed_the_margin_down():
    runs = with_explanations(make_runs("v", [30]), [({"evidence": -0.1}, "", 0)])
    assert why_lines(runs, "v") == ["No single cause pushed the margin down in these closures "
                                    "(mean fall of the margin -0.10)."]


def test_run_explanation_lines():
    runs = known_runs()
    first = run_explanation_lines(runs.iloc[0].to_dict())
    assert first[0] == ("The margin (buffers and reserve against pressure) fell by 0.55 between "
                        "go-live (month 0) and the closing decision in month 30.")
    assert first[2:5] == ["  the leadership shield had fallen: +0.30",
                          "  pressure from grant taper had risen: +0.20",
                          "  the local evidence had fallen: +0.05"]
    assert first[-1] == ("Events in that window: the patron left (month 14); the grant stepped "
                         "down (month 24).")
    fourth = run_explanation_lines(runs.iloc[3].to_dict())
    assert "  the local evidence had grown: -0.10" in fourth  # signed: it held the margin up
    third = run_explanation_lines(runs.iloc[2].to_dict())
    assert "between month 6, the last decision at which it was positive, and" in third[0]
    none = run_explanation_lines(runs.iloc[4].to_dict())
    assert none[0].startswith("No decision closed the service (staffing collapse or licence)")
    assert none[1] == "Events before the closure: the supervisor left (month 20)."
    assert run_explanation_lines(runs.iloc[5].to_dict()) == []  # survived
    assert run_explanation_lines(make_runs("v", [10]).iloc[0].to_dict()) == []  # older table


# --------------------------------------------------------------------------- simulate summary
def result(outputs: dict) -> RunResult:
    base = {"survived": False, "closure_month": 30, "closure_cause": "budget_round",
            "end_month": 30, "teams_end": 0, "teams_peak": 1, "phase_reached": "operational",
            "first_expansion_month": math.nan, "families_referred": 10, "families_treated": 8,
            "families_succeeded": 5, "families_usual_care": 0, "families_lost_waiting": 1,
            "utilisation": 0.7, "cost": 9e5, "savings": 4e5, "net_cost": 5e5,
            "leader_changes": 2, "supervisor_changes": 1, "therapist_departures": 3,
            "posts_cut": 0, "toxic_trio_months": 4}
    return RunResult("Synthetic", 1, {**base, **outputs}, pd.DataFrame(), [], "2010-04")


def test_summary_prints_why_it_closed_after_the_closure_line():
    o = known_runs().iloc[0].to_dict()
    text = format_run_summary(result(o)).splitlines()
    i = next(k for k, line in enumerate(text) if line.startswith("  Closed in month 30"))
    assert "closed at the April budget round" in text[i]  # the *when* stays
    assert text[i + 1] == "  Why it closed:"
    assert text[i + 2] == "    " + run_explanation_lines(o)[0]
    assert text[i + 3 + len(run_explanation_lines(o)) - 1].startswith("  Teams at peak")


def test_summary_has_no_block_for_a_survivor_or_an_older_run():
    survivor = known_runs().iloc[5].to_dict()
    assert "Why it closed" not in format_run_summary(
        result({**survivor, "survived": True, "closure_month": math.nan}))
    assert "Why it closed" not in format_run_summary(result({}))


def test_terminal_why_text():
    runs = known_runs()
    text = format_why_text(runs).splitlines()
    assert text[:2] == ["Why services like this close:", "  Status quo:"]
    assert text[2] == "    " + why_lines(runs, "Status quo")[0]
    assert format_why_text(make_runs("v", [10])) == f"Why services like this close: {NOT_AVAILABLE}"


# --------------------------------------------------------------------------- HTML reports
class Sections(HTMLParser):
    """The h2 headings of a page, and each "why" section: variant, sentences, table rows."""

    def __init__(self):
        super().__init__()
        self.h2, self.why, self.unavailable = [], [], []
        self._tag, self._text, self._cls = None, "", []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and a.get("class") == "why":
            self.why.append({"variant": a["data-variant"], "lines": [], "rows": {}})
        if tag == "table" and self.why:
            self._cls = a.get("class")
            self.why[-1]["rows"][self._cls] = []
        if tag == "tr" and self.why and self._cls:
            self.why[-1]["rows"][self._cls].append([])
        if tag in ("h2", "li", "td", "p"):
            self._tag, self._text, self._p = tag, "", a.get("class")

    def handle_data(self, data):
        if self._tag:
            self._text += data

    def handle_endtag(self, tag):
        if tag != self._tag:
            return
        text = self._text.strip()
        if tag == "h2":
            self.h2.append(text)
        elif tag == "li" and self.why:
            self.why[-1]["lines"].append(text)
        elif tag == "td" and self.why and self._cls:
            self.why[-1]["rows"][self._cls][-1].append(text)
        elif tag == "p" and self._p == "why-unavailable":
            self.unavailable.append(text)
        self._tag = None
        if tag == "table":
            self._cls = None


def parse(page: str) -> Sections:
    p = Sections()
    p.feed(page)
    return p


def test_report_has_the_section_per_variant(tmp_path):
    runs = pd.concat([known_runs("Status quo"),
                      with_explanations(make_runs("Protected", [50, math.nan], start_id=10),
                                        [CLOSURES[1]])], ignore_index=True)
    page = parse(write_report(tmp_path, runs, None, None, "Why").read_text(encoding="utf-8"))
    i = page.h2.index("Why services like this close")
    assert page.h2[i - 1] == "When services closed"  # beside the decision-path table
    assert [s["variant"] for s in page.why] == ["Status quo", "Protected"]
    sq = page.why[0]
    assert sq["lines"] == why_lines(runs, "Status quo")
    causes = sq["rows"]["why-causes"][1:]  # after the header row
    assert causes[0] == ["leadership shield", "50% (2)", "+0.21", "39%"]
    events = sq["rows"]["why-events"][1:]
    assert events[0] == ["the patron left", "75% (3)", "14"]
    assert page.why[1]["lines"][0].startswith("In 100% of closures pressure from budget cuts")
    assert page.unavailable == []


def test_report_says_when_the_explanation_is_not_available(tmp_path):
    runs = make_runs("Old", [12, 30, math.nan])
    page = parse(write_report(tmp_path, runs, None, None, "Old").read_text(encoding="utf-8"))
    assert "Why services like this close" in page.h2
    assert page.unavailable == [NOT_AVAILABLE] and page.why == []


def test_report_escapes_the_variant_in_the_section(tmp_path):
    hostile = "<b>x</b> & co"
    page = write_report(tmp_path, known_runs(hostile), None, None, "t").read_text(encoding="utf-8")
    assert "<b>x</b>" not in page
    assert parse(page).why[0]["variant"] == hostile


# --------------------------------------------------------------------------- assess
def test_assess_terminal_keeps_the_when_and_adds_the_why(tmp_path):
    runs = known_runs("mine")
    outlook = survival_table(runs).loc["mine"]
    a = SimpleNamespace(name="Mine", stem="mine", outlook=outlook, drivers=[],
                        levers=pd.DataFrame(columns=["diff"]), skipped={}, runs=runs,
                        out=tmp_path)
    text = format_assessment(a, 6).splitlines()
    assert "  main closure cause (when): cut at the April budget round (83% of runs)" in text
    assert ("  main reason (why): the leadership shield had fallen (a main cause in 50% of "
            "explained closures)") in text
    i = text.index("Why services like this close:")
    assert text[i + 1] == "  " + why_lines(runs, "mine")[0]
    old = SimpleNamespace(**{**vars(a), "runs": make_runs("mine", [30, math.nan])})
    old_text = format_assessment(old, 6)
    assert "main reason (why): not available for these runs" in old_text
    assert "Why services like this close:" not in old_text


# --------------------------------------------------------------------------- dashboard text
EXPLANATION = SimpleNamespace(
    reference_month=7, closure_month=25, margin_reference=0.31, margin_final=-0.17,
    margin_fall=0.48, events=[(14, "patron_left"), (24, "grant_step"), (25, "supervisor_left")],
    causes={g: 0.0 for g in CAUSE_GROUPS} | {"leadership_shield": 0.3, "grant_taper": 0.12,
                                             "supervisor_departure": 0.1, "evidence": -0.04})


def test_why_closed_lines_of_an_explanation():
    lines = dash.why_closed_lines(EXPLANATION)
    assert lines[0] == ("The margin (buffers and reserve against pressure) fell from 0.31 to "
                        "-0.17 between month 7, the last decision at which it was positive, and "
                        "the closing decision in month 25.")
    assert lines[2:5] == ["  the leadership shield had fallen: +0.30",
                          "  pressure from grant taper had risen: +0.12",
                          "  pressure from supervisor's departure (full-cost review) had risen: "
                          "+0.10"]
    assert lines[-1] == ("Events in that window: the patron left (month 14); the grant stepped "
                         "down (month 24); the supervisor left (month 25).")


def test_why_closed_follows_the_model():
    assert dash.why_closed(SimpleNamespace(closed=False, explanation=EXPLANATION)) == []
    assert dash.why_closed(SimpleNamespace(closed=True)) == [dash.NO_EXPLANATION_MODEL]
    assert dash.why_closed(SimpleNamespace(closed=True, explanation=None)) == [
        dash.NO_DECISION_TEXT]
    assert dash.why_closed(SimpleNamespace(closed=True, explanation=EXPLANATION)) == \
        dash.why_closed_lines(EXPLANATION)


def force_closure(model, months: int = 36) -> None:
    """Step and inject a 60% budget cut and the supervisor's departure until the service closes."""
    from sim.scenario import Event

    for _ in range(months):
        model.step()
        for event in (Event(model.month, "budget_cut", fraction=0.6),
                      Event(model.month, "supervisor_departs")):
            if not model.closed and (event.kind == "budget_cut" or model.teams[0].supervisor):
                dash.inject_event(model, event)
        if model.closed:
            return


def test_status_of_a_closed_run_carries_the_why():
    model = dash.DashboardModel(site="isolated_coastal", seed=3)
    assert dash.status(model)["why"] == []
    force_closure(model)
    assert model.closed
    s = dash.status(model)
    assert s["why"] == dash.why_closed(model) and s["why"]
    model.explanation = EXPLANATION  # as the decision that closed it records it (issue 12)
    assert dash.status(model)["why"] == dash.why_closed_lines(EXPLANATION)
