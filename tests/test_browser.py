"""End-to-end tests in a real browser: the seminar dashboard and the HTML report.

They start ``python run.py dashboard`` on a free localhost port and drive Debian's Chromium
(``/usr/bin/chromium``, headless, a fresh profile) with Playwright: change a lever and reset,
inject events, step the model and check that the page shows each change. The main job's
``report.html`` is opened too, to check that its survival chart is there and decodes.
Screenshots and the server log go to ``test-artifacts/`` (git-ignored).

The browser never leaves this machine: every request to another host is aborted, and the tests
check that none was attempted. They are skipped, with the reason, only when the browser or
Playwright cannot be had (``.ci/run`` installs Chromium; ``.[dev]`` installs Playwright and the
``viz`` extra). Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path(os.environ.get("MST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
LOCAL = ("http://127.0.0.1", "http://localhost", "file://", "data:", "blob:")
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
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    blocked: list[str] = []

    def local_only(route):
        url = route.request.url
        if url.startswith(LOCAL):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    with tempfile.TemporaryDirectory(prefix="mst-chromium-") as profile, \
            sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 2200})
        context.set_default_timeout(TIMEOUT_MS)
        context.route("**/*", local_only)
        context.blocked = blocked
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def dashboard_url():
    """``run.py dashboard`` serving Metro City (seed 5) on a free localhost port."""
    if importlib.util.find_spec("solara") is None:
        pytest.skip("the viz extra is not installed (pip install -e '.[viz]')")
    from dashboard.dashboard import free_port

    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = ARTIFACTS / "dashboard-server.log"
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "dashboard", "scenarios/metro_city.toml",
             "--seed", "5", "--port", str(port)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "MPLBACKEND": "Agg"})
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"the dashboard server exited with {proc.returncode}:\n"
                                + log_path.read_text(encoding="utf-8")[-3000:])
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail("the dashboard server did not answer within 180 s:\n"
                                + log_path.read_text(encoding="utf-8")[-3000:])
                time.sleep(0.5)
            yield url
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and anything it started (its own process group)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=20)


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
    expect(page.locator(".mst-charts img")).to_have_count(3)

    # A lever: succession planning, applied at Reset.
    page.locator("label", has_text="Succession planning").click()
    expect(page.get_by_role("checkbox", name="Succession planning")).to_have_attribute(
        "aria-checked", "true")
    page.get_by_role("button", name="Reset").click()
    expect(status.locator(".mst-levers")).to_have_text("Succession planning")

    # An event now: the supervisor leaves; with a succession plan the successor is lined up.
    page.locator(".mst-btn-supervisor").click()
    expect(log).to_contain_text("injected from the dashboard: the supervisor of team 1 leaves")
    expect(team).to_contain_text("vacant: a permanent supervisor arrives in 1 month(s)")
    expect(page.locator(".mst-inject")).to_contain_text("Month 0: the supervisor of team 1")

    # A step: month 1, and the planned successor has arrived.
    page.get_by_role("button", name="Step").click()
    expect(status).to_contain_text("Month 1 (2008-05)")
    expect(log).to_contain_text("new supervisor for team 1")
    expect(team).to_contain_text("Supervisor: in post")

    # A named leader leaves, with a hostile successor: the patron goes, and the succession
    # plan hands patronage to a supportive colleague.
    _choose(page, "Leader", "Assistant director, social care")
    _choose(page, "Successor's stance", "hostile")
    page.locator(".mst-btn-leader").click()
    expect(log).to_contain_text("Assistant director, social care leaves; the successor is hostile")
    expect(log).to_contain_text("patronage handed over (succession plan)")
    expect(people).to_contain_text("hostile (-0.80)")
    expect(people.locator(".mst-tag-new")).to_have_count(1)
    expect(people.locator(".mst-tag-patron")).to_have_count(1)
    expect(people.locator("tr", has_text="hostile (-0.80)").locator(".mst-tag-patron")) \
        .to_have_count(0)

    for month in (2, 3):
        page.get_by_role("button", name="Step").click()
        expect(status).to_contain_text(f"Month {month} ")
    charts = page.locator(".mst-charts img")
    expect(charts).to_have_count(3)
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
        "injected from the dashboard: a 20% in-year cut to the discretionary budget")
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
