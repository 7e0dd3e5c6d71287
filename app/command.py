"""``powderkeg ui``: serve the interactive app (``app/app.py``) in the browser, offline.

``experiments.cli`` registers the command and delegates to :func:`add_arguments` and
:func:`command` here (by module name), so ``app`` depends on ``experiments`` and not the other
way round.

Checks every input first (the scenario is a preset, the host resolves, the port is free), makes
sure Solara's front-end assets are in its CDN cache (downloading what is missing from the npm
registry, :mod:`app.assets`), then replaces this process with Solara's server::

    python -m app.server run app.app --host HOST --port PORT --no-open --production

(``python -m solara`` with :mod:`app.server`'s guard: pages and the websocket answer only to
``Host`` and ``Origin`` headers naming this machine's loopback names, ``--host`` and each
``--allow-host``), with ``$POWDERKEG_SCENARIO`` naming the starting preset and
``$POWDERKEG_ALLOW_HOSTS`` the ``--allow-host`` names. The app has no authentication: a ``--host``
beyond loopback prints a one-line warning. Solara's telemetry is switched off (it would try to
reach the internet on every page load). Ctrl-C stops the server.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import socket
import sys
from collections.abc import Sequence

from app import assets, server
from experiments.scenarios import preset_names
from experiments.usage import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: The module ``powderkeg ui`` runs: Solara's command line with the Host/Origin guard.
GUARDED_MODULE = "app.server"
HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be an integer from 1 to 65535; got {text!r}")
    return value


def _host_name(text: str) -> str:
    name = text.strip().strip("[]")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        valid = bool(HOST_NAME.fullmatch(name))
    else:
        valid = not address.is_unspecified
    if not valid or server.is_wildcard(name):
        raise argparse.ArgumentTypeError(
            f"must be a host name or an address, such as {socket.gethostname()!r} or "
            f"192.168.1.20, without scheme or port; got {text!r}"
        )
    return name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``powderkeg ui``: ``--scenario``, ``--host``, ``--port``, ``--allow-host``."""
    parser.add_argument(
        "--scenario",
        default="baseline",
        metavar="NAME",
        help=f"the preset the page starts with ({', '.join(preset_names())}); the page's "
        "picker switches presets (default: %(default)s)",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on; 0.0.0.0 serves a classroom network, with --allow-host "
        "naming this machine as the others reach it (default: %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help="port to listen on (default: %(default)s)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        type=_host_name,
        metavar="NAME",
        dest="allow_hosts",
        help="a host name or address the page may be opened at, besides localhost, 127.0.0.1 "
        "and --host (repeatable); other Host and Origin headers are refused",
    )


def check_scenario(name: str) -> str:
    """``name`` if it is a preset, else a UsageError listing the presets."""
    presets = preset_names()
    if name not in presets:
        raise UsageError(
            f"argument --scenario: unknown scenario {name!r}; choose one of {', '.join(presets)}"
        )
    return name


def check_address(host: str, port: int) -> None:
    """Make sure the server can listen on ``host:port``.

    Raises:
        UsageError: the host does not resolve (naming ``--host``) or the port cannot be bound
            (naming ``--port``).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise UsageError(
            f"argument --host: cannot resolve {host!r} ({err.strerror}); give an address such "
            f"as {DEFAULT_HOST} or 0.0.0.0"
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # as the server will: a port left in TIME_WAIT by a stopped server is free to listen on
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            raise UsageError(
                f"argument --port: cannot listen on {host}:{port} ({err.strerror}); "
                "choose a free port"
            ) from None


def beyond_loopback(host: str) -> bool:
    """Whether ``host`` listens on more than loopback (a wildcard, or an address that is not)."""
    if server.is_wildcard(host):
        return True
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return not server.is_loopback(host)
    return not all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def exposure_warning(host: str, port: int, allow_hosts: Sequence[str] = ()) -> str | None:
    """The one-line warning for a ``--host`` beyond loopback, or None for a loopback one."""
    if not beyond_loopback(host):
        return None
    names = ", ".join(server.allowed_names(host, allow_hosts))
    if server.is_wildcard(host):
        where = f"this machine on port {port}"
        advice = (
            f"; pages answer only to the host names {names}: add --allow-host NAME (repeatable) "
            "for each name or address the others open the page at"
        )
    else:
        shown = f"[{host}]" if ":" in host else host
        where = f"{shown}:{port}"
        advice = f"; pages answer only to the host names {names}"
    return (
        "powderkeg ui: warning: the app has no authentication: anyone who can reach "
        f"{where} can drive it{advice}"
    )


def ensure_assets() -> None:
    """Download Solara's missing front-end assets from the npm registry (a no-op when complete).

    Raises:
        UsageError: an asset is missing and the registry cannot be reached.
    """
    if not assets.missing():
        return
    print(
        f"powderkeg ui: fetching Solara's front-end assets into {assets.cache_dir()}",
        file=sys.stderr,
    )
    try:
        assets.seed(log=lambda line: print(f"powderkeg ui: {line}", file=sys.stderr))
    except RuntimeError as err:
        raise UsageError(
            f"Solara's front-end assets are missing and {err}; run 'make demo' with access "
            "to the npm registry (or set NPM_CONFIG_REGISTRY to a mirror)"
        ) from None


def server_command(host: str, port: int, *, module: str = "solara") -> list[str]:
    """The command line of Solara's server for the app.

    ``module`` runs Solara's command line: ``solara`` itself, or :data:`GUARDED_MODULE`
    (:mod:`app.server`, what ``powderkeg ui`` runs), the same with the Host/Origin guard.
    """
    return [
        sys.executable,
        "-m",
        module,
        "run",
        "app.app",
        "--host",
        host,
        "--port",
        str(port),
        "--no-open",
        "--production",
    ]


def server_environment(
    scenario: str, environ: dict[str, str] | None = None, allow_hosts: Sequence[str] = ()
) -> dict[str, str]:
    """The server's environment: the starting preset, the ``--allow-host`` names, no telemetry."""
    env = dict(os.environ if environ is None else environ)
    env["POWDERKEG_SCENARIO"] = scenario
    env[server.ALLOW_HOSTS_ENV] = ",".join(allow_hosts)
    env.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    return env


def command(args: argparse.Namespace, *, exec_server: bool = True) -> int:
    """Run ``powderkeg ui``: check the inputs and the assets, then become the server.

    Args:
        args: parsed flags (``scenario``, ``host``, ``port``, ``allow_hosts``).
        exec_server: replace this process with the server (False: return 0 after the checks,
            for tests).
    """
    scenario = check_scenario(args.scenario)
    check_address(args.host, args.port)
    ensure_assets()
    allow_hosts = list(getattr(args, "allow_hosts", None) or [])
    argv: Sequence[str] = server_command(args.host, args.port, module=GUARDED_MODULE)
    warning = exposure_warning(args.host, args.port, allow_hosts)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(args.host, args.host)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"powderkeg ui: the {scenario} scenario at http://{shown}:{args.port}/ "
        "(Ctrl-C stops the server)",
        file=sys.stderr,
        flush=True,
    )
    if not exec_server:
        return 0
    os.execve(argv[0], list(argv), server_environment(scenario, allow_hosts=allow_hosts))
    return 0  # not reached


__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "GUARDED_MODULE",
    "add_arguments",
    "beyond_loopback",
    "check_address",
    "check_scenario",
    "command",
    "ensure_assets",
    "exposure_warning",
    "server_command",
    "server_environment",
]
