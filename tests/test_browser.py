"""End-to-end tests in a real browser: the seminar dashboard and the HTML report.

They start ``python run.py dashboard`` on a free localhost port and drive Debian's Chromium
(``/usr/bin/chromium``, headless, a fresh profile) with Playwright: change a lever and reset,
inject events, step the model and check that the page shows each change. The main job's
``report.html`` is opened too, to check that its survival chart is there and decodes.
Seminar mode is checked at a projector's 1280x720: the charts and the log above the fold, one
plain line per event, the press-Reset cue and the ensemble reveal. Screenshots (``dashboard*.png``,
``seminar-*.png``, ``report.png``) and the server log go to ``test-artifacts/`` (git-ignored).

The browser never leaves this machine: every request to another host is aborted, and the tests
check that none was attempted. They are skipped, with the reason, only when the browser or
Playwright cannot be had (``.ci/run`` installs Chromium; ``.[dev]`` installs Playwright and the
``viz`` extra). Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.servers import CHROMIUM, local_browser, start_server, stop_server

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT_MS = 60_000  # generous: the machine may be busy with other jobs


def _why_skip() -> str:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (it comes with pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return (f"no browser at {CHROMIUM}: install Debian's chromium "
                "(apt-get install -y chromium chromium-driver, as .ci/run does)")
    return ""


pytestmark = pytest.mark.skipif(bool(_why_skip()), reason=_why_skip() or "-")


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium with a fresh profile that can reach only this machine."""
    ARTIFACTS.mkdir(exist_ok=True)
    with local_browser({"width": 1600, "height": 2200}, TIMEOUT_MS) as context:
        yield context


@pytest.fixture(scope="module")
def dashboard_url():
    """``run.py dashboard`` serving Metro City (seed 5) on a free localhost port."""
    if importlib.util.find_spec("solara") is None:
        pytest.skip("the viz extra is not installed (pip install -e '.[viz]')")
    from dashboard.dashboard import free_port

    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_server(["dashboard", "scenarios/metro_city.toml", "--seed", "5", "--port",
                         str(port)], ARTIFACTS / "dashboard-server.log", url,
                        name="the dashboard server")
    try:
        yield url
    finally:
        stop_server(proc)


def _open_dashboard(browser, url):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(url)
    expect(page.locator(".mst-status")).to_contain_text("Month 0", timeout=120_000)
    return page


def _choose(page, select_label: str, option: str) -> None:
    """Pick ``option`` in the (Vuetify) select labelled ``select_label``."""
    field = page.locator(".v-select", has=page.locator("label", has_text=select_label)).first
    field.click()
    page.locator(".menuable__content__active .v-list-item", has_text=option).first.click()


def _screenshot(page, name: str) -> Path:
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def test_dashboard_lever_event_and_step(browser, dashboard_url):
    from playwright.sync_api import expect

    page = _open_dashboard(browser, dashboard_url)
    status = page.locator(".mst-status")
    team = page.locator(".mst-team-card")
    log = page.locator(".mst-log-card")
    people = page.locator(".mst-people")
    expect(status).to_contain_text("Metro City (seed 5)")
    expect(status).to_contain_text("Levers in force")
    expect(people).to_contain_text("Assistant director, social care")
    expect(people.locator(".mst-tag-patron")).to_have_count(1)
    expect(page.locator(".mst-charts img")).to_have_count(4)

    # A lever: succession planning, applied at Reset.
    page.locator("label", has_text="Succession planning").click()
    expect(page.get_by_role("checkbox", name="Succession planning")).to_have_attribute(
        "aria-checked", "true")
    page.get_by_role("button", name="Reset").click()
    expect(status.locator(".mst-levers")).to_have_text("Succession planning")

    # An event now: the supervisor leaves; with a succession plan the successor is lined up.
    page.locator(".mst-btn-supervisor").click()
    expect(log).to_contain_text("Injected from the dashboard: the supervisor of team 1 leaves")
    expect(team).to_contain_text("vacant: a permanent supervisor arrives in 1 month(s)")
    expect(page.locator(".mst-inject")).to_contain_text("Month 0: the supervisor of team 1")

    # A step: month 1, and the planned successor has arrived.
    page.get_by_role("button", name="Step").click()
    expect(status).to_contain_text("Month 1 (2008-05)")
    expect(log).to_contain_text("A new supervisor took up post in team 1")
    expect(team).to_contain_text("Supervisor: in post")

    # A named leader leaves, with a hostile successor: the patron goes, and the succession
    # plan hands patronage to a supportive colleague.
    _choose(page, "Leader", "Assistant director, social care")
    _choose(page, "Successor's stance", "hostile")
    page.locator(".mst-btn-leader").click()
    expect(log).to_contain_text("Assistant director, social care leaves; the successor is hostile")
    expect(log).to_contain_text("the succession plan handed patronage to a supportive colleague")
    expect(people).to_contain_text("hostile (-0.80)")
    expect(people.locator(".mst-tag-new")).to_have_count(1)
    expect(people.locator(".mst-tag-patron")).to_have_count(1)
    expect(people.locator("tr", has_text="hostile (-0.80)").locator(".mst-tag-patron")) \
        .to_have_count(0)

    for month in (2, 3):
        page.get_by_role("button", name="Step").click()
        expect(status).to_contain_text(f"Month {month} ")
    charts = page.locator(".mst-charts img")
    expect(charts).to_have_count(4)
    assert charts.first.evaluate("img => img.naturalWidth") > 100
    _screenshot(page, "dashboard.png")
    assert browser.blocked == []
    page.close()


def test_dashboard_site_seed_and_budget_cut(browser, dashboard_url):
    from playwright.sync_api import expect

    page = _open_dashboard(browser, dashboard_url)
    status = page.locator(".mst-status")
    # Each browser session has its own model: nothing from the other test shows here.
    expect(status.locator(".mst-levers")).to_have_text("none")
    _choose(page, "Scenario (site or seminar)", "seminars/toxic_trio_all")
    seed = page.get_by_label("Seed")
    seed.fill("11")
    seed.press("Enter")
    page.get_by_role("button", name="Reset").click()
    expect(status).to_contain_text("Neutral authority, toxic trio (seed 11)")
    expect(page.locator(".mst-people")).to_contain_text("CAMHS")

    page.get_by_role("button", name="Step").click()
    expect(status).to_contain_text("Month 1 ")
    page.locator(".mst-btn-cut").click()
    expect(page.locator(".mst-log-card")).to_contain_text(
        "Injected from the dashboard: a 20% in-year cut to the discretionary budget")
    expect(page.locator(".mst-inject")).to_contain_text("Month 1: a 20% in-year cut")
    _screenshot(page, "dashboard-seminar.png")
    assert browser.blocked == []
    page.close()


def test_report_in_browser(browser, tmp_path):
    from playwright.sync_api import expect

    from experiments.jobs.common import JobOptions
    from experiments.jobs.ensemble import main_job

    _, out = main_job(JobOptions(replicates=4, seed=5, out=str(tmp_path / "sites"),
                                 progress=False))
    report = out / "report.html"
    assert report.exists()
    page = browser.new_page()
    page.goto(report.as_uri())
    expect(page.locator("h1")).to_contain_text("MST team survival")
    chart = page.locator('img[alt="Chance the service is still running, by month, per authority"]')
    expect(chart).to_have_count(1)
    expect(chart).to_be_visible()
    assert chart.evaluate("img => img.complete && img.naturalWidth") > 200
    assert page.locator("img").count() >= 2
    _screenshot(page, "report.png")
    assert browser.blocked == []
    page.close()


def _closing_plan(site: str, seed: int, months: int = 24):
    """The page actions that close the service, found on the same model in this process.

    Each month: Step, a 20% budget cut (the page's default), and the supervisor's departure
    while one is in post, until the service closes. The page's model is built the same way
    from the same seed, so the same actions close it there too, with the same explanation.

    Returns:
        ``(actions, why)``: the actions (``step``, ``cut``, ``supervisor``) and the "Why it
        closed" lines the page must show.
    """
    from dashboard.dashboard import DashboardModel, inject_event, why_closed
    from sim.scenario import Event

    model = DashboardModel(site=site, seed=seed)
    actions = []
    for _ in range(months):
        model.step()
        actions.append(("step", model.month))
        if not model.closed:
            inject_event(model, Event(model.month, "budget_cut", fraction=0.2))
            actions.append(("cut", model.month))
        if not model.closed and model.teams[0].supervisor is not None:
            inject_event(model, Event(model.month, "supervisor_departs"))
            actions.append(("supervisor", model.month))
        if model.closed:
            return actions, why_closed(model)
    pytest.fail(f"{site} (seed {seed}) did not close within {months} months of cuts")


def test_dashboard_says_why_it_closed(browser, dashboard_url):
    from playwright.sync_api import expect

    site, seed = "isolated_coastal", 3
    actions, why = _closing_plan(site, seed)
    page = _open_dashboard(browser, dashboard_url)
    status = page.locator(".mst-status")
    inject = page.locator(".mst-inject")
    _choose(page, "Scenario (site or seminar)", site)
    field = page.get_by_label("Seed")
    field.fill(str(seed))
    field.press("Enter")
    page.get_by_role("button", name="Reset").click()
    expect(status).to_contain_text(f"(seed {seed})")
    expect(status).to_contain_text("Month 0 ")
    expect(page.locator(".mst-why")).to_have_count(0)  # no panel while the service runs
    for action, month in actions:
        if action == "step":
            page.get_by_role("button", name="Step").click()
            expect(status).to_contain_text(f"Month {month} ")
        elif action == "cut":
            page.locator(".mst-btn-cut").click()
            expect(inject).to_contain_text(f"Month {month}: a 20% in-year cut")
        else:
            page.locator(".mst-btn-supervisor").click()
            expect(inject).to_contain_text(f"Month {month}: the ")
            expect(inject).to_contain_text("supervisor of team 1 leaves")
    expect(page.locator(".mst-fate")).to_contain_text("Closed in month")
    panel = page.locator(".mst-why")
    expect(panel).to_contain_text("Why it closed")
    for line in why:  # the same plain words as dashboard.why_closed (the explanation's lines)
        expect(panel).to_contain_text(line.strip())
    _screenshot(page, "dashboard-why-closed.png")
    assert browser.blocked == []
    page.close()


# --------------------------------------------------------------------------- seminar mode
SEMINAR, SEMINAR_SEED = "seminars/toxic_trio_all", 1
PROJECTOR = {"width": 1280, "height": 720}
# Page actions: inject at these months, then step to the file's events (all in month 22).
SEMINAR_ACTIONS = {2: "supervisor", 3: "cut"}
SEMINAR_MONTHS = 22


def _seminar_run(**levers):
    """The seminar's model driven in this process as the test drives the page."""
    from dashboard.dashboard import DashboardModel, inject_event
    from sim.scenario import Event

    model = DashboardModel(site=SEMINAR, seed=SEMINAR_SEED, **levers)
    for _ in range(SEMINAR_MONTHS):
        model.step()
        action = SEMINAR_ACTIONS.get(model.month)
        if action == "supervisor":
            inject_event(model, Event(model.month, "supervisor_departs"))
        elif action == "cut":
            inject_event(model, Event(model.month, "budget_cut", fraction=0.2))
    assert not model.closed, "the seminar run must still be open for the page's actions"
    return model


def _above_the_fold(page, locator, whole: bool = True) -> dict:
    """The element's box, checked to start (and, if ``whole``, end) inside the first screen."""
    box = locator.bounding_box()
    assert box is not None and box["width"] > 0
    assert 0 <= box["y"] < PROJECTOR["height"], box
    if whole:
        assert box["y"] + box["height"] <= PROJECTOR["height"], box
    assert box["x"] + box["width"] <= PROJECTOR["width"], box
    return box


def _inside(inner: dict, outer: dict) -> bool:
    return (inner["x"] >= outer["x"] - 0.5 and inner["y"] >= outer["y"] - 0.5
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 0.5)


def _viewport_shot(page, name: str) -> Path:
    path = ARTIFACTS / name
    page.screenshot(path=str(path))  # the first screen only: what a projector shows
    assert path.stat().st_size > 10_000
    return path


def test_seminar_mode_at_1280x720(browser, dashboard_url):
    from playwright.sync_api import expect

    from dashboard.dashboard import ensemble_reveal, log_lines, reveal_lines

    expected = _seminar_run()
    page = _open_dashboard(browser, dashboard_url)
    page.set_viewport_size(PROJECTOR)
    status = page.locator(".mst-status")
    main_cue = page.locator(".mst-main .mst-reset-cue")
    # mesa's internal controls are not on the page; its Reset, play and Step are.
    for internal in ("Use Threads", "Render Interval", "Model Parameters"):
        expect(page.get_by_text(internal)).to_have_count(0)
    expect(page.get_by_role("button", name="Reset")).to_have_count(1)

    _choose(page, "Scenario (site or seminar)", SEMINAR)
    seed = page.get_by_label("Seed")
    seed.fill(str(SEMINAR_SEED))
    seed.press("Enter")
    expect(main_cue).to_contain_text("Setting changed - press Reset to apply it: Scenario")
    page.get_by_role("button", name="Reset").click()
    expect(status).to_contain_text(f"Neutral authority, toxic trio (seed {SEMINAR_SEED})")
    expect(page.locator(".mst-reset-cue")).to_have_count(0)  # Reset applied it: no cue

    step = page.get_by_role("button", name="Step")
    for month in range(1, SEMINAR_MONTHS + 1):
        step.click()
        expect(status).to_contain_text(f"Month {month} ")
        if SEMINAR_ACTIONS.get(month) == "supervisor":
            page.locator(".mst-btn-supervisor").click()
            expect(page.locator(".mst-inject")).to_contain_text(f"Month {month}: the supervisor")
        elif SEMINAR_ACTIONS.get(month) == "cut":
            page.locator(".mst-btn-cut").click()
            expect(page.locator(".mst-inject")).to_contain_text(f"Month {month}: a 20% in-year")

    # The complete log, one line per event in plain words, latest first: the same lines as
    # the same actions give in this process.
    lines = page.locator(".mst-log-line")
    want = [f"Month {ln.month} ({ln.date}): {ln.text}." for ln in reversed(log_lines(expected))]
    expect(lines).to_have_text(want)
    injected = page.locator(".mst-log-injected")
    expect(injected).to_have_text([
        "Month 3 (2008-07): Injected from the dashboard: a 20% in-year cut to the discretionary "
        "budget.",
        "Month 2 (2008-06): Injected from the dashboard: the supervisor of team 1 leaves."])
    for bad in ("scripted event", "_"):  # has_text ignores case
        expect(page.locator(".mst-log-card", has_text=bad)).to_have_count(0)
    expect(page.locator(".mst-log-scheduled")).to_have_count(3)
    expect(page.locator(".mst-log-card")).to_contain_text(f"What happened ({len(want)} events)")

    # Above the fold at 1280x720: the headline, the four charts whole, the bars and the log.
    page.locator(".mst-main").evaluate("e => e.scrollIntoView({block: 'start'})")
    _above_the_fold(page, status)
    _above_the_fold(page, page.locator(".mst-charts"))
    charts = page.locator(".mst-charts img")
    expect(charts).to_have_count(4)
    for i in range(4):
        img = charts.nth(i)
        assert img.evaluate("img => img.complete && img.naturalWidth") >= 500
        assert _above_the_fold(page, img)["width"] >= 280  # about 300 px each, not 270
    expect(charts.first).to_have_attribute("alt", "Reserve and pressure")
    bars = page.locator(".mst-bars-card")
    _above_the_fold(page, bars)
    for name in ("Leadership shield", "Partnership shield", "System leadership", "Reserve",
                 "Pressure getting through", "Margin"):
        expect(bars).to_contain_text(name)
    _above_the_fold(page, page.locator(".mst-log-card"))
    for i in range(2):  # the latest lines can be read without scrolling the page
        _above_the_fold(page, lines.nth(i))
    # The complete log scrolls within its card; the oldest line is there, further down.
    log_box = page.locator(".mst-log")
    assert log_box.evaluate("e => getComputedStyle(e).overflowY") == "auto"
    assert log_box.evaluate("e => e.scrollHeight > e.clientHeight")
    lines.last.scroll_into_view_if_needed()
    expect(lines.last).to_be_in_viewport()
    expect(lines.last).to_have_text(want[-1])
    log_box.evaluate("e => { e.scrollTop = 0; }")
    page.locator(".mst-main").evaluate("e => e.scrollIntoView({block: 'start'})")
    # The inject card's buttons stay inside their card; nothing spills sideways.
    card = page.locator(".mst-inject").bounding_box()
    for cls in ("leader", "supervisor", "cut", "partner"):
        assert _inside(page.locator(f".mst-btn-{cls}").bounding_box(), card), cls
    assert page.evaluate("document.documentElement.scrollWidth") <= PROJECTOR["width"]
    _viewport_shot(page, "seminar-1280x720.png")

    # A lever ticked after the run started: the cue, until Reset applies it and clears the
    # page's old notices.
    page.locator("label", has_text="Succession planning").click()
    expect(main_cue).to_contain_text(
        "Lever changed - press Reset to apply it: Succession planning")
    _above_the_fold(page, main_cue)
    expect(status.locator(".mst-levers")).to_have_text("none")  # the run shown is unchanged
    _viewport_shot(page, "seminar-reset-cue.png")
    page.get_by_role("button", name="Reset").click()
    expect(status).to_contain_text("Month 0 ")
    expect(status.locator(".mst-levers")).to_have_text("Succession planning")
    expect(page.locator(".mst-reset-cue")).to_have_count(0)
    expect(page.locator(".mst-inject .v-alert")).to_have_count(0)  # the last injection's notice
    expect(page.locator(".mst-log-line")).to_have_count(0)

    # The exercise's ensemble, from the page: the file's levers and this run's, paired.
    reveal = reveal_lines(ensemble_reveal(_seminar_run(succession_planning=True)))
    ensemble = page.locator(".mst-ensemble")
    ensemble.scroll_into_view_if_needed()
    expect(ensemble).to_contain_text("100 histories")
    page.locator(".mst-btn-ensemble").click()
    expect(ensemble.locator(".mst-reveal li")).to_have_text([f"{line}." for line in reveal])
    _viewport_shot(page, "seminar-ensemble.png")
    assert browser.blocked == []
    page.close()
