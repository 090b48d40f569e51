"""Start and stop the tool's local web servers for the browser and host tests.

``run.py dashboard`` and ``run.py app`` run as child processes in their own process group
(Solara starts helpers), logging to a file; :func:`start_server` waits until the page answers
and :func:`stop_server` stops the whole group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def start_server(args: Sequence[str], log_path: Path, url: str, *, name: str = "the server",
                 ready: Callable[[], bool] | None = None,
                 timeout: float = 180) -> subprocess.Popen:
    """Run ``python run.py ARGS`` and wait until it answers.

    Args:
        args: The command line after ``run.py``.
        log_path: Its standard output and error.
        url: The page that must answer 200.
        name: What to call it in a failure.
        ready: Another readiness test instead of a GET of ``url``.
        timeout: Seconds to wait.

    Returns:
        The running process (stop it with :func:`stop_server`).
    """
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, "MPLBACKEND": "Agg"})
    check = ready or (lambda: _answers(url))
    deadline = time.monotonic() + timeout
    while not check():
        tail = log_path.read_text(encoding="utf-8")[-3000:]
        if proc.poll() is not None:
            pytest.fail(f"{name} exited with {proc.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            stop_server(proc)
            pytest.fail(f"{name} did not answer within {timeout:.0f} s:\n{tail}")
        time.sleep(0.5)
    return proc


def stop_server(proc: subprocess.Popen) -> None:
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


CHROMIUM = Path(os.environ.get("MST_CHROMIUM", "/usr/bin/chromium"))
"""Debian's Chromium (``MST_CHROMIUM`` overrides it)."""
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
LOCAL = ("http://127.0.0.1", "http://localhost", "file://", "data:", "blob:")
"""Addresses a test browser may reach: this machine only."""


@contextmanager
def local_browser(viewport: dict, timeout_ms: int, **launch):
    """A headless Chromium with a fresh profile that can reach only this machine.

    Requests elsewhere are aborted and listed in the context's ``blocked``.

    Args:
        viewport: ``{"width": ..., "height": ...}``.
        timeout_ms: Playwright's default and ``expect`` timeout.
        **launch: More options of ``launch_persistent_context`` (e.g. ``accept_downloads``).

    Yields:
        The browser context.
    """
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=timeout_ms)
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
            viewport=viewport, **launch)
        context.set_default_timeout(timeout_ms)
        context.route("**/*", local_only)
        context.blocked = blocked
        try:
            yield context
        finally:
            context.close()
