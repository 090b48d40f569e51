"""The dashboard answers only requests naming this computer (against DNS rebinding)."""

from __future__ import annotations

import asyncio
import http.client
import importlib.util
from pathlib import Path

import pytest

from dashboard.hosts import BAD_HOST_BODY, LocalHostsOnly, allowed_hosts, host_name
from tests.servers import start_server, stop_server

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("header, name", [
    ("127.0.0.1:8765", "127.0.0.1"), ("LOCALHOST", "localhost"), ("[::1]:80", "[::1]"),
    ("evil.example", "evil.example"), ("[::1", None), ("a b", None), ("host:port", None),
    ("127.0.0.1:123456", None), ("", None),
])
def test_host_name(header, name):
    assert host_name(header) == name


def call(app, headers, kind="http"):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": kind, "headers": headers}, receive, send))
    return sent


async def ok_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("headers, status", [
    ([(b"host", b"127.0.0.1:9")], 200), ([(b"host", b"localhost")], 200),
    ([(b"host", b"[::1]:8765")], 200), ([(b"host", b"box.lan:8765")], 200),
    ([(b"host", b"evil.example")], 400), ([(b"host", b"evil.example:8765")], 400),
    ([(b"host", b"localhost.evil.example")], 400), ([], 400),
    ([(b"host", b"localhost"), (b"host", b"evil.example")], 400),
])
def test_only_local_hosts_and_the_listen_host(headers, status):
    app = LocalHostsOnly(ok_app, allowed_hosts(["box.lan"]))
    sent = call(app, headers)
    assert sent[0]["status"] == status
    if status == 400:
        assert sent[1]["body"] == BAD_HOST_BODY and BAD_HOST_BODY.count(b"\n") == 1


def test_a_foreign_websocket_is_closed_before_it_opens():
    sent = call(LocalHostsOnly(ok_app), [(b"host", b"evil.example")], kind="websocket")
    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_lifespan_passes_through():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    call(LocalHostsOnly(app), [], kind="lifespan")
    assert seen == ["lifespan"]


def get(port: int, host: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", "/", skip_host=True)
        conn.putheader("Host", host)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_the_real_dashboard_refuses_a_foreign_host(tmp_path):
    if importlib.util.find_spec("solara") is None:
        pytest.skip("the viz extra is not installed (pip install -e '.[viz]')")
    from dashboard.dashboard import free_port

    port = free_port()

    def ready() -> bool:
        try:
            return get(port, f"127.0.0.1:{port}")[0] == 200
        except OSError:
            return False

    proc = start_server(["dashboard", "--port", str(port)], tmp_path / "server.log",
                        f"http://127.0.0.1:{port}/", name="the dashboard", ready=ready)
    try:
        assert get(port, "evil.example") == (400, BAD_HOST_BODY)
        assert get(port, f"evil.example:{port}")[0] == 400
        assert get(port, f"localhost:{port}")[0] == 200
        assert get(port, f"[::1]:{port}")[0] == 200
    finally:
        stop_server(proc)
