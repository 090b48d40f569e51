"""A busy port gets one line, before any server starts (dashboard and assessment page)."""

from __future__ import annotations

import errno
import socket


def port_problem(host: str, port: int) -> str | None:
    """Why the server cannot listen on ``host:port``, in one line; None if it can.

    Binds a socket for a moment (port 0 always works: the system picks a free port).

    Args:
        host: The listen address (e.g. ``127.0.0.1`` or ``::1``).
        port: The TCP port.

    Returns:
        E.g. ``"port 8765 on 127.0.0.1 is in use (another dashboard?); choose another with
        --port N, or --port 0 for a free one"``, or None.

    """
    if port == 0:
        return None
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return (f"port {port} on {host} is in use (another server is running there); "
                    f"choose another with --port N, or --port 0 for a free one")
        if exc.errno == errno.EACCES:
            return (f"port {port} on {host} needs special permission; choose a port above "
                    f"1023 with --port N, or --port 0 for a free one")
        return f"cannot listen on {host} port {port}: {exc.strerror or exc}; try --port 0"
    finally:
        sock.close()
    return None
