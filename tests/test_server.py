"""The server of ``powderkeg ui`` refuses foreign Host and Origin headers (:mod:`app.server`).

The live tests start the exact command ``powderkeg ui`` execs (captured from the command with
``os.execve`` stubbed) on 127.0.0.1 and a free port, and talk to it over loopback only: pages
with a foreign ``Host`` get 403, and a websocket upgrade to Solara's kernel channel with a foreign
``Origin`` gets 403 instead of 101. The warning for a ``--host`` beyond loopback is checked
without binding anything but loopback.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from app import command as ui
from app import server
from app.server import HostGuard, allowed_names, authorities
from experiments.cli import main

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "test-artifacts" / "server" / "server.log"
EVIL = "evil.example.com"
EXTRA = "pk-classroom.invalid"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the guard on its own -----------------------------------------------------------------------


async def _accepting(scope, receive, send):
    """An app that accepts every websocket and answers every request with 200."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.accept"})
    else:
        await send({"type": "http.response.start", "status": 200, "headers": []})


def _call(guard: HostGuard, kind: str, headers: list[tuple[bytes, bytes]]) -> list[dict]:
    """The messages ``guard`` sends for one ``kind`` scope (the app behind it accepts them all)."""
    sent: list[dict] = []

    async def receive():
        return {"type": f"{kind}.connect" if kind == "websocket" else "http.request"}

    async def send(message):
        sent.append(message)

    scope = {"type": kind, "path": "/", "headers": headers}
    asyncio.run(guard(scope, receive, send))
    return sent


def test_guard_allows_loopback_names_on_the_port_and_refuses_others():
    guard = HostGuard(_accepting, authorities(allowed_names("127.0.0.1", [EXTRA]), 8765))
    ok = [b"127.0.0.1:8765", b"localhost:8765", b"[::1]:8765", b"LocalHost:8765", b"%s:8765"]
    for host in ok:
        host = host.replace(b"%s", EXTRA.encode())
        assert _call(guard, "http", [(b"host", host)])[0]["status"] == 200, host
    for host in (b"evil.example.com", b"evil.example.com:8765", b"127.0.0.1:8766", b"127.0.0.1"):
        assert _call(guard, "http", [(b"host", host)])[0]["status"] == 403, host
    assert _call(guard, "http", [])[0]["status"] == 403  # no Host at all
    good = (b"host", b"127.0.0.1:8765")
    for origin in (b"http://127.0.0.1:8765", b"https://localhost:8765", b"http://[::1]:8765"):
        assert _call(guard, "http", [good, (b"origin", origin)])[0]["status"] == 200, origin
    for origin in (b"http://evil.example.com", b"null", b"http://127.0.0.1:9999", b"file://"):
        assert _call(guard, "http", [good, (b"origin", origin)])[0]["status"] == 403, origin


def test_guard_closes_a_foreign_websocket_before_accepting_it():
    guard = HostGuard(_accepting, authorities(allowed_names("127.0.0.1"), 8765))
    good = (b"host", b"127.0.0.1:8765")
    sent = _call(guard, "websocket", [good, (b"origin", b"http://evil.example.com")])
    assert [m["type"] for m in sent] == ["websocket.close"]
    sent = _call(guard, "websocket", [(b"host", b"evil.example.com:8765")])
    assert [m["type"] for m in sent] == ["websocket.close"]
    sent = _call(guard, "websocket", [good, (b"origin", b"http://localhost:8765")])
    assert [m["type"] for m in sent] == ["websocket.accept"]


def test_guard_passes_lifespan_through():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    async def nothing(*_):
        return {}

    asyncio.run(HostGuard(app, [])({"type": "lifespan"}, nothing, nothing))
    assert seen == ["lifespan"]


def test_allowed_names_drop_wildcards_and_keep_named_hosts():
    assert allowed_names("0.0.0.0") == ["localhost", "127.0.0.1", "::1"]
    assert allowed_names("::", ["Lab-PC.", "10.0.0.5"]) == [
        "localhost",
        "127.0.0.1",
        "::1",
        "lab-pc",
        "10.0.0.5",
    ]
    assert "192.168.1.20" in allowed_names("192.168.1.20")
    assert authorities(["::1"], 80) == {"[::1]:80", "[::1]"}
    assert server.extra_names({server.ALLOW_HOSTS_ENV: " a, ,b "}) == ["a", "b"]


# -- the command line ---------------------------------------------------------------------------


def test_non_loopback_host_warns_in_one_line():
    for host in ("127.0.0.1", "localhost", "::1"):
        assert ui.exposure_warning(host, 8765) is None, host
    warning = ui.exposure_warning("0.0.0.0", 8000)
    assert warning is not None and "\n" not in warning
    assert warning.startswith("powderkeg ui: warning: the app has no authentication")
    assert "anyone who can reach this machine on port 8000 can drive it" in warning
    assert "--allow-host NAME" in warning
    warning = ui.exposure_warning("192.0.2.7", 8000, ["lab-pc"])
    assert warning is not None and "anyone who can reach 192.0.2.7:8000" in warning
    assert "192.0.2.7" in warning.split("host names")[1] and "lab-pc" in warning


def test_ui_prints_the_warning_for_a_wildcard_host(monkeypatch, capsys):
    # the checks that would bind 0.0.0.0 (or fetch assets) are stubbed: nothing leaves loopback
    monkeypatch.setattr(ui, "check_address", lambda host, port: None)
    monkeypatch.setattr(ui, "ensure_assets", lambda: None)
    monkeypatch.setattr(os, "execve", lambda *a: pytest.fail("exec_server=False must not exec"))
    parser = __import__("argparse").ArgumentParser()
    ui.add_arguments(parser)
    args = parser.parse_args(["--host", "0.0.0.0", "--port", "8000", "--allow-host", "lab-pc"])
    assert ui.command(args, exec_server=False) == 0
    lines = capsys.readouterr().err.splitlines()
    warnings = [line for line in lines if "warning" in line]
    assert len(warnings) == 1 and "--allow-host" in warnings[0] and "lab-pc" in warnings[0]
    assert any("http://127.0.0.1:8000/" in line for line in lines)  # a URL a browser may open
    args = parser.parse_args(["--port", "8000"])
    assert ui.command(args, exec_server=False) == 0
    assert "warning" not in capsys.readouterr().err


def test_allow_host_must_be_a_bare_name_or_address(monkeypatch, capsys):
    monkeypatch.setattr(os, "execve", lambda *a: pytest.fail("a bad --allow-host must not run"))
    for bad in ("http://lab-pc", "lab-pc:8000", "0.0.0.0", "::", "[::]", "*", "a b", ""):
        assert main(["ui", "--allow-host", bad]) == 2, bad
        assert "argument --allow-host: must be a host name or an address" in (
            capsys.readouterr().err
        )


def _launch(monkeypatch, argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """The command line and environment ``powderkeg ui argv`` execs (execve stubbed)."""
    seen: dict = {}
    monkeypatch.setattr(ui, "ensure_assets", lambda: None)
    monkeypatch.setattr(os, "execve", lambda path, args, env: seen.update(args=args, env=env))
    assert main(["ui", *argv]) == 0
    return seen["args"], seen["env"]


def test_ui_runs_solara_through_the_guard(monkeypatch):
    port = _free_port()
    argv, env = _launch(
        monkeypatch, ["--port", str(port), "--allow-host", "a", "--allow-host", "b"]
    )
    assert argv[1:5] == ["-m", ui.GUARDED_MODULE, "run", "app.app"]
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and "--production" in argv
    assert env[server.ALLOW_HOSTS_ENV] == "a,b"
    assert server._listen_address(argv[3:]) == ("127.0.0.1", port)


# -- the live server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live():
    """The command ``powderkeg ui --port P --allow-host EXTRA`` execs, on 127.0.0.1; yields P."""
    port = _free_port()
    mp = pytest.MonkeyPatch()
    try:
        argv, env = _launch(mp, ["--port", str(port), "--allow-host", EXTRA])
    finally:
        mp.undo()
    env["SOLARA_ASSETS_CDN"] = "http://127.0.0.1:9/npm/"  # never the internet
    LOG.parent.mkdir(parents=True, exist_ok=True)
    log = open(LOG, "w")  # closed at teardown
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while _get(port, f"127.0.0.1:{port}")[0] != 200:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}; see {LOG}")
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within 120 s; see {LOG}")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
        log.close()


def _get(port: int, host: str, origin: str | None = None) -> tuple[int, bytes]:
    """GET / from 127.0.0.1:port with these Host (and Origin) headers; (0, b"") when refused."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/", headers={"Host": host, **({"Origin": origin} if origin else {})})
        response = conn.getresponse()
        return response.status, response.read()
    except OSError:
        return 0, b""
    finally:
        conn.close()


def _upgrade(port: int, origin: str, host: str | None = None) -> str:
    """The status line answering a websocket upgrade to Solara's kernel channel."""
    request = (
        "GET /jupyter/api/kernels/pk-test-kernel/channels?session_id=pk-test-page HTTP/1.1\r\n"
        f"Host: {host or f'127.0.0.1:{port}'}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        f"Origin: {origin}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        data = b""
        for _ in range(100):  # bounded: the status line arrives in the first reads
            chunk = sock.recv(4096)
            data += chunk
            if not chunk or b"\r\n" in data:
                break
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def test_pages_answer_only_to_the_hosts_served(live):
    port = live
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"{EXTRA}:{port}"):
        status, body = _get(port, host)
        assert status == 200 and b"<html" in body.lower(), host
    for host in (EVIL, f"{EVIL}:{port}", f"127.0.0.1:{port + 1}"):
        status, body = _get(port, host)
        assert status == 403 and b"Forbidden" in body, host
    assert _get(port, f"127.0.0.1:{port}", origin=f"http://{EVIL}")[0] == 403
    assert _get(port, f"127.0.0.1:{port}", origin=f"http://127.0.0.1:{port}")[0] == 200


def test_websocket_refuses_a_foreign_origin(live):
    port = live
    assert _upgrade(port, f"http://{EVIL}") == "HTTP/1.1 403 Forbidden"
    assert _upgrade(port, f"http://{EVIL}", host=f"{EVIL}:{port}") == "HTTP/1.1 403 Forbidden"
    assert _upgrade(port, f"http://127.0.0.1:{port}") == "HTTP/1.1 101 Switching Protocols"
    assert _upgrade(port, f"http://localhost:{port}") == "HTTP/1.1 101 Switching Protocols"
