"""``python run.py app``: the assessment page and the seminar dashboard on one local server."""

from __future__ import annotations

import os
import sys

from dashboard.assess_runner import Settings

LOCAL_ADDRESSES = ("127.0.0.1", "::1", "localhost")
"""Listen addresses that keep the page on this computer."""


def settings_text(settings: Settings) -> str:
    """The settings as the page reads them from its environment (``k=v,k=v``)."""
    return ",".join(f"{k}={v}" for k, v in settings.__dict__.items())


def launch_app(port: int = 8766, host: str = "127.0.0.1", open_browser: bool = False,
               settings: Settings | None = None) -> int:
    """Serve the assessment page (``/``) and the seminar dashboard (``/dashboard``).

    Only requests whose ``Host`` header names this computer (or ``host``) are answered
    (:mod:`dashboard.hosts`). Listening on another address than this computer's prints a
    warning: anyone who can reach it can then run assessments on this machine.

    Args:
        port: TCP port (0 picks a free one).
        host: The address to listen on (default 127.0.0.1, this computer only).
        open_browser: Open the page in the default browser once the server is up.
        settings: Seed, replicates, screening and workers of the page's assessments.

    Returns:
        The exit status: 0 after a clean stop, 2 if the viz extra is missing.

    """
    from dashboard.dashboard import (
        DEFAULT_SCENARIO,
        INSTALL_HINT,
        resolve_scenario,
        serve_solara,
        server_environment,
        viz_available,
    )

    if not viz_available():
        print(f"error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    settings = settings or Settings()
    if host not in LOCAL_ADDRESSES:
        print(f"warning: --host {host} lets other computers reach the page; anyone who can "
              f"reach it can run assessments on this machine", file=sys.stderr)
    if settings.workers > 1:  # before the server starts its threads (see executors)
        from experiments.runner.executors import start_forkserver_early

        start_forkserver_early()
    os.environ.update(server_environment(resolve_scenario(DEFAULT_SCENARIO).resolve(),
                                         settings.seed))
    from dashboard.assess_app import ENV_SETTINGS

    os.environ[ENV_SETTINGS] = settings_text(settings)
    return serve_solara("assess_app.py", host, port, open_browser,
                        lambda shown, port: f"Assessment page at http://{shown}:{port}/ and the "
                                            f"seminar dashboard at http://{shown}:{port}/dashboard"
                                            f"  (Ctrl-C to stop)")
