"""The server of ``powderkeg ui``: Solara's, answering only to the names it is served under.

Solara's server has no authentication, and checks neither the ``Host`` header of a request nor the
``Origin`` of a websocket upgrade: any web page the user visits could open the app's websocket and
drive it (cross-site websocket hijacking), or reach its pages through a DNS name rebound to
127.0.0.1. Solara 1.64 has no setting for either, so :class:`HostGuard`, a pure ASGI middleware,
sits in front of the whole app (pages, static files, the kernel websocket):

* the ``Host`` header must be one of the allowed authorities (``name:port``);
* an ``Origin`` header, where there is one, must be ``http://`` or ``https://`` one of them;

otherwise an HTTP request gets ``403 Forbidden`` and a websocket upgrade is closed before it is
accepted (uvicorn answers the upgrade with 403, never 101). The allowed names are ``localhost``,
``127.0.0.1`` and ``::1``, the ``--host`` the server listens on unless it is a wildcard
(``0.0.0.0``, ``::``), and the names in ``$POWDERKEG_ALLOW_HOSTS`` (comma-separated; ``powderkeg
ui --allow-host NAME``), each on the port the server listens on.

``python -m app.server ARGS`` is ``python -m solara ARGS`` with the guard around the app uvicorn
loads (``powderkeg ui`` runs ``python -m app.server run app.app --host HOST --port PORT ...``).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any

#: Environment variable: the extra host names the server answers to, comma-separated.
ALLOW_HOSTS_ENV = "POWDERKEG_ALLOW_HOSTS"
#: The names of this machine's loopback interface, always allowed.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
#: ``--host`` values that listen on every interface (they name no host a browser could use).
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]", "*"})
#: Solara's own default ``--host`` and ``--port`` (``solara run``), for a command line without.
SOLARA_DEFAULT_HOST = "localhost"
SOLARA_DEFAULT_PORT = 8765

logger = logging.getLogger("powderkeg.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_wildcard(host: str) -> bool:
    """Whether ``host`` listens on every interface (``0.0.0.0``, ``::``) instead of naming one."""
    return host.strip().lower() in WILDCARD_HOSTS


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address (no name lookup)."""
    name = host.strip().lower().strip("[]")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _name(host: str) -> str:
    """``host`` as compared: lower case, without IPv6 brackets or a trailing dot."""
    return host.strip().lower().strip("[]").rstrip(".")


def allowed_names(host: str, extra: Iterable[str] = ()) -> list[str]:
    """The host names the server answers to: loopback, ``host`` unless a wildcard, ``extra``."""
    names: list[str] = []
    for name in (*LOOPBACK_NAMES, *([] if is_wildcard(host) else [host]), *extra):
        name = _name(name)
        if name and name not in names:
            names.append(name)
    return names


def authorities(names: Iterable[str], port: int) -> frozenset[str]:
    """The ``Host`` header values naming ``names`` on ``port`` (bare names too on port 80)."""
    allowed = set()
    for name in names:
        shown = f"[{name}]" if ":" in name else name
        allowed.add(f"{shown}:{port}")
        if port == 80:
            allowed.add(shown)
    return frozenset(allowed)


def extra_names(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """The names in ``$POWDERKEG_ALLOW_HOSTS`` (comma-separated)."""
    text = (os.environ if environ is None else environ).get(ALLOW_HOSTS_ENV, "")
    return [name.strip() for name in text.split(",") if name.strip()]


class HostGuard:
    """Pure ASGI middleware: refuse requests and websockets with a foreign Host or Origin.

    Args:
        app: the ASGI app it guards (every scope but ``http`` and ``websocket`` passes through).
        allowed: the allowed ``Host`` header values (:func:`authorities`); the allowed origins are
            ``http://`` and ``https://`` each of them.
    """

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(host.lower() for host in allowed)
        self.origins = frozenset(
            f"{scheme}://{host}" for host in self.hosts for scheme in ("http", "https")
        )

    def refusal(self, scope: Scope) -> str | None:
        """Why the request of ``scope`` is refused, or None when its headers are allowed."""
        hosts = []
        origins = []
        for key, value in scope.get("headers", ()):
            if key == b"host":
                hosts.append(value.decode("latin-1").strip().lower().rstrip("."))
            elif key == b"origin":
                origins.append(value.decode("latin-1").strip().lower().rstrip("/"))
        if not hosts:
            return "no Host header"
        for host in hosts:
            if host not in self.hosts:
                return f"Host {host!r} is not one this server answers to"
        for origin in origins:
            if origin not in self.origins:
                return f"Origin {origin!r} is not one this server answers to"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass an allowed request on to the app; answer 403 to (or close) a refused one."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        reason = self.refusal(scope)
        if reason is None:
            await self.app(scope, receive, send)
            return
        logger.warning("refused %s %s: %s", scope["type"], scope.get("path", ""), reason)
        if scope["type"] == "websocket":
            # closing before accepting: the server answers the upgrade with 403, not 101
            await send({"type": "websocket.close", "code": 1008, "reason": ""})
            return
        body = f"403 Forbidden: {reason} (see powderkeg ui --allow-host)\n".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _listen_address(argv: Sequence[str]) -> tuple[str, int]:
    """The ``--host`` and ``--port`` of a ``solara run`` command line (Solara's defaults else)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--host", default=SOLARA_DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=SOLARA_DEFAULT_PORT)
    known, _ = parser.parse_known_args(list(argv))
    return known.host, known.port


def install(allowed: Iterable[str]) -> None:
    """Put :class:`HostGuard` around every app uvicorn loads in this process."""
    import uvicorn

    allowed = frozenset(allowed)
    original = uvicorn.Config.load
    if getattr(original, "powderkeg_guard", False):
        original = original.__wrapped__  # type: ignore[attr-defined]

    def load(self: uvicorn.Config) -> None:
        original(self)
        self.loaded_app = HostGuard(self.loaded_app, allowed)

    load.powderkeg_guard = True  # type: ignore[attr-defined]
    load.__wrapped__ = original  # type: ignore[attr-defined]
    uvicorn.Config.load = load  # type: ignore[method-assign]


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m solara ARGS`` with :class:`HostGuard` (``argv``: ARGS, default sys.argv)."""
    args = list(sys.argv[1:] if argv is None else argv)
    host, port = _listen_address(args)
    install(authorities(allowed_names(host, extra_names()), port))
    from solara.__main__ import main as solara_main

    sys.argv = ["solara", *args]
    solara_main()


__all__ = [
    "ALLOW_HOSTS_ENV",
    "LOOPBACK_NAMES",
    "HostGuard",
    "allowed_names",
    "authorities",
    "extra_names",
    "install",
    "is_loopback",
    "is_wildcard",
    "main",
]

if __name__ == "__main__":
    main()
