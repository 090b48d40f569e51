"""The assessment page in a real browser (Debian's Chromium, headless, through Playwright).

``python run.py app`` is started on a free localhost port with a small design (12 histories
per option, a 2 x 2 screening) so that the test runs in about a minute. A commissioner's
session: start from a study site, type a bad value (an inline message; Run is refused), fix
it, add and remove a partner, download the TOML (it loads), run and cancel (nothing kept),
run again and see the outlook, the causes, the drivers and the levers with their costs, then
download the report and check that its figures are those of ``run.py assess`` with the same
seed. A second page meanwhile is queued with a message. Timings and screenshots go to
``test-artifacts/``. Skipped, with the reason, when Playwright or the browser is missing.
"""

from __future__ import annotations

import importlib.util
import json
import re
import tempfile
import time
from pathlib import Path

import pytest

from tests.servers import CHROMIUM, local_browser, start_server, stop_server

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
DESIGN = ["--seed", "3", "--replicates", "12", "--trajectories", "2", "--screen-replicates",
          "2", "--workers", "2"]


def _why_skip() -> str:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (it comes with pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"no browser at {CHROMIUM}: install Debian's chromium"
    if importlib.util.find_spec("solara") is None:
        return "the viz extra is not installed (pip install -e '.[viz]')"
    return ""


pytestmark = pytest.mark.skipif(bool(_why_skip()), reason=_why_skip() or "-")


@pytest.fixture(scope="module")
def app_url():
    """``run.py app`` with the small design on a free localhost port."""
    from dashboard.dashboard import free_port

    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_server(["app", "--port", str(port), *DESIGN], ARTIFACTS / "app-server.log",
                        url, name="the app")
    try:
        before = set(Path(tempfile.gettempdir()).glob("mst-assess-*"))
        yield url
        assert set(Path(tempfile.gettempdir()).glob("mst-assess-*")) <= before
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium with a fresh profile that can reach only this machine."""
    with local_browser({"width": 1500, "height": 2000}, 60_000,
                       accept_downloads=True) as context:
        yield context


def _choose(page, label: str, option: str) -> None:
    field = page.locator(".v-select", has=page.locator("label", has_text=label)).first
    field.click()
    page.locator(".menuable__content__active .v-list-item", has_text=option).first.click()


def _open(browser, url):
    page = browser.new_page()
    page.goto(url)
    page.locator(".mst-run-button").wait_for(timeout=120_000)
    return page


def _tables(html: str) -> list[str]:
    """The report's tables of figures (outlook, drivers, levers), without the provenance."""
    found = re.findall(r"<table[^>]*>.*?</table>", html, flags=re.S)
    return [t for t in found if "provenance" not in t and "authority-" not in t]


def test_a_commissioner_fills_the_form_and_runs_the_assessment(browser, app_url, tmp_path):
    from playwright.sync_api import expect

    import run
    from sim.scenario import load_scenario

    page = _open(browser, app_url)
    _choose(page, "A shipped description", "isolated_coastal")
    name = page.get_by_label("Name of the authority")
    expect(name).to_have_value("Isolated Coastal")

    # A bad value: the loader's message under the field, and Run is refused.
    population = page.get_by_label("Population (residents, 10,000 to 10,000,000)")
    own = population.input_value()
    population.fill("5")
    population.press("Enter")
    expect(page.locator(".mst-field-error").first).to_contain_text("out of range")
    expect(page.locator(".mst-run-button")).to_be_disabled()
    expect(page.locator(".mst-form-problem")).to_contain_text("Population")
    page.screenshot(path=str(ARTIFACTS / "assess-page-bad-value.png"))
    population.fill(own)
    population.press("Enter")
    expect(page.locator(".mst-field-error")).to_have_count(0)

    # Partners as rows: add one, remove it again.
    partners = page.locator(".mst-rows-partners .mst-row")
    before = partners.count()
    page.locator(".mst-add-partner").click()
    expect(partners).to_have_count(before + 1)
    page.locator(".mst-remove-partner").last.click()
    expect(partners).to_have_count(before)

    # The TOML the form built loads, and is the study site.
    with page.expect_download() as download:
        page.get_by_text("Download the TOML the form built").click()
    toml_path = tmp_path / "isolated_coastal.toml"
    download.value.save_as(toml_path)
    built = load_scenario(toml_path)
    site = load_scenario(ROOT / "scenarios" / "isolated_coastal.toml")
    assert built.site == site.site and built.leaders == site.leaders
    assert built.partners == site.partners and built.levers == site.levers

    # Run and cancel: the runs stop and nothing is kept.
    leftovers = set(Path(tempfile.gettempdir()).glob("mst-assess-*"))
    page.locator(".mst-run-button").click()
    page.locator(".mst-cancel-button").click()
    expect(page.locator(".mst-status-line")).to_contain_text("Cancelled")
    assert set(Path(tempfile.gettempdir()).glob("mst-assess-*")) <= leftovers

    # Run: the outlook first, then the rest.
    start = time.monotonic()
    page.locator(".mst-run-button").click()
    outlook = page.locator(".mst-outlook")
    expect(outlook).to_contain_text("still running at 5 years", timeout=120_000)
    first = time.monotonic() - start
    expect(outlook).to_contain_text("Why services like this close")
    expect(page.locator(".mst-report")).to_be_visible(timeout=240_000)
    total = time.monotonic() - start
    drivers = page.locator(".mst-drivers")
    expect(drivers).to_contain_text("What you can change")
    expect(drivers).to_contain_text("Context (the authority as it is)")
    levers = page.locator(".mst-levers")
    expect(levers).to_contain_text("extra cost")
    expect(levers).to_contain_text("£")
    expect(levers).to_contain_text("Fund a programme manager from the start")
    # the plan the runs used, as `run.py assess` names it
    from experiments.runner.posterior import resolve_plan

    expect(page.locator(".mst-report")).to_contain_text(
        resolve_plan(warn=lambda line: None).label(12))
    expect(outlook.locator("img")).to_have_count(1)  # the survival chart
    page.screenshot(path=str(ARTIFACTS / "assess-page.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_text("Download the HTML report").click()
    report = tmp_path / "page-report.html"
    download.value.save_as(report)

    # The same figures as the command line with the same seed.
    assert run.main(["assess", str(toml_path), *DESIGN, "--no-progress", "--out",
                     str(tmp_path / "cli")]) == 0
    cli = (tmp_path / "cli" / "report.html").read_text(encoding="utf-8")
    page_tables = _tables(report.read_text(encoding="utf-8"))
    assert len(page_tables) >= 4 and page_tables == _tables(cli)
    (ARTIFACTS / "assess-page-timings.json").write_text(json.dumps(
        {"design": DESIGN, "first_result_s": round(first, 1), "full_s": round(total, 1)}))
    assert browser.blocked == []
    page.close()


def test_a_second_assessment_waits_its_turn(browser, app_url):
    from playwright.sync_api import expect

    one, two = _open(browser, app_url), _open(browser, app_url)
    one.locator(".mst-run-button").click()
    expect(one.locator(".mst-status-line")).to_contain_text("Running")
    two.locator(".mst-run-button").click()
    expect(two.locator(".mst-status-line")).to_contain_text("Queued: 1 assessment(s) ahead")
    expect(one.locator(".mst-report")).to_be_visible(timeout=240_000)
    expect(two.locator(".mst-outlook")).to_be_visible(timeout=240_000)
    two.locator(".mst-cancel-button").click()
    expect(two.locator(".mst-status-line")).to_contain_text("Cancelled")
    one.close()
    two.close()
