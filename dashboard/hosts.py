"""Only local ``Host`` headers: the dashboard's defence against DNS rebinding.

A page on ``evil.example`` can make the victim's browser resolve ``evil.example`` to
127.0.0.1 and then read a server on localhost as if it were its own origin. The browser still
sends ``Host: evil.example`` (with the attacker's port), so a server that answers only
requests naming itself (``localhost``, ``127.0.0.1`` or ``[::1]``, any port, plus the address
it was told to listen on) cannot be read that way. Any other request gets ``400`` with a
one-line body; a WebSocket is refused before it is accepted.

:class:`LocalHostsOnly` is a small ASGI middleware rather than starlette's
``TrustedHostMiddleware``, which cuts the header at its first colon and so cannot match
``[::1]:8765``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
"""Host names accepted with any port."""

BAD_HOST_BODY = b"Bad Request: the Host header must name this computer (localhost)\n"

_HOST = re.compile(r"^(?P<name>\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(?P<port>\d{1,5}))?$")


def host_name(header: str) -> str | None:
    """The host name of a ``Host`` header, lower case, without its port.

    Args:
        header: The header's value, e.g. ``"127.0.0.1:8765"`` or ``"[::1]:8765"``.

    Returns:
        ``"127.0.0.1"``, ``"[::1]"``, ``"localhost"``...; None for a malformed header.

    """
    m = _HOST.match(header.strip().lower())
    return m.group("name") if m else None


def normalise_host(host: str) -> str:
    """The form a listen address takes in a ``Host`` header (IPv6 in brackets, lower case).

    Args:
        host: A host name or address, e.g. ``"::1"``, ``"[::1]"``, ``"Box.local"``.

    Returns:
        E.g. ``"[::1]"`` or ``"box.local"``.

    """
    h = host.strip().lower()
    if ":" in h and not h.startswith("["):
        h = f"[{h}]"
    return h


def allowed_hosts(extra: Iterable[str] = ()) -> frozenset[str]:
    """The accepted host names: :data:`LOCAL_HOSTS` and any ``extra`` (e.g. ``--host``).

    Args:
        extra: Further names or addresses to accept.

    Returns:
        The names, normalised with :func:`normalise_host`.

    """
    return frozenset(LOCAL_HOSTS) | {normalise_host(h) for h in extra if h.strip()}


class LocalHostsOnly:
    """ASGI middleware: answer only requests whose ``Host`` header names an allowed host.

    Args:
        app: The wrapped ASGI application.
        hosts: The accepted host names (default :func:`allowed_hosts`).

    """

    def __init__(self, app, hosts: Iterable[str] | None = None) -> None:
        self.app = app
        self.hosts = frozenset(hosts) if hosts is not None else allowed_hosts()

    def allows(self, header: str | None) -> bool:
        """Whether a ``Host`` header value is accepted (a missing one is not)."""
        if header is None:
            return False
        return host_name(header) in self.hosts

    async def __call__(self, scope, receive, send) -> None:
        """Pass allowed requests on; refuse the others (400, or a closed WebSocket)."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        values = [v for k, v in scope.get("headers", ()) if k.lower() == b"host"]
        header = values[0].decode("latin-1") if len(values) == 1 else None
        if self.allows(header):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": 400,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(BAD_HOST_BODY)).encode())]})
        await send({"type": "http.response.body", "body": BAD_HOST_BODY})
