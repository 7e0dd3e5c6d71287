"""Solara's front-end assets from the npm registry, so the app starts with no CDN at all.

Solara's server answers ``/_solara/cdn/<package>@<version>/<file>`` from a cache folder
(``solara.server.settings.assets.proxy_cache_dir``, or ``$SOLARA_ASSETS_PROXY_CACHE_DIR``) and
fetches misses from a public CDN (jsdelivr). Where that CDN cannot be reached, the page never
loads. :func:`seed` downloads the same packages as tarballs from the npm registry
(``$NPM_CONFIG_REGISTRY``, default https://registry.npmjs.org) and unpacks each one where the
proxy looks for it: ``<cache>/<package>@<version>/...``.

The packages are read from the installed Solara itself (its page template, its grid-layout
and ECharts widgets and its Font Awesome setting), so a Solara upgrade seeds what the new
version asks for.
Packages already in the cache are skipped; each one is unpacked into a temporary folder and
renamed into place, so an interrupted run leaves no half-filled package behind.

``powderkeg ui`` seeds what is missing before it starts the server; ``make demo`` and ``make
test`` run ``scripts/seed_solara_cdn.py [--cache DIR] [--check]`` (``--check`` only lists what is
missing, exit status 1 if anything is).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import re
import shutil
import site
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

#: A CDN reference in Solara's files: ``<package>@<version or major>/``.
CDN_REFERENCE = re.compile(r"(@?[a-z0-9][\w.\-]*(?:/[\w.\-]+)?)@(\d[\w.\-]*)/")
#: Vue 3 app bundle: unused with ipyvue/ipyvuetify 1.x (the versions powderkeg pins).
VUE3_ONLY = ("@widgetti/solara-vuetify3-app",)


def _solara_dir() -> Path:
    """Solara's package folder, found without importing Solara (a second or more of imports)."""
    spec = importlib.util.find_spec("solara")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("solara is not installed")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def solara_packages() -> list[tuple[str, str]]:
    """(package, version) pairs the installed Solara loads through its CDN proxy for a page."""
    package = _solara_dir()
    server = package / "server"
    settings = (server / "settings.py").read_text(encoding="utf-8")
    fontawesome = os.environ.get("SOLARA_ASSETS_FONTAWESOME_PATH") or re.search(
        r'fontawesome_path: str = "([^"]+)"', settings
    ).group(1)
    sources = [
        (server / "templates" / "solara.html.j2").read_text(encoding="utf-8"),
        (package / "widgets" / "vue" / "gridlayout.vue").read_text(encoding="utf-8"),
        fontawesome.lstrip("/") + "/",
    ]
    found: dict[str, str] = {}
    for text in sources:
        for name, version in CDN_REFERENCE.findall(text):
            if name not in VUE3_ONLY:
                found.setdefault(name, version)
    found.setdefault("echarts", echarts_version())
    return sorted(found.items())


def echarts_version() -> str:
    """The ECharts release Solara's ECharts component loads (``const version = "..."``)."""
    text = (_solara_dir() / "components" / "echarts.vue").read_text(encoding="utf-8")
    found = re.search(r'const version = "([0-9][\w.\-]*)"', text)
    if found is None:
        raise RuntimeError("cannot find the ECharts version in solara/components/echarts.vue")
    return found.group(1)


def cache_dir() -> Path:
    """Where Solara's proxy looks for its cached assets.

    ``$SOLARA_ASSETS_PROXY_CACHE_DIR``, else ``<prefix>/share/solara/cdn`` with the prefix
    Solara's settings use (the user base when Solara is installed there, else ``sys.prefix``).
    """
    override = os.environ.get("SOLARA_ASSETS_PROXY_CACHE_DIR")
    if override:
        return Path(override)
    userbase = site.getuserbase()
    inside = userbase and str(_solara_dir()).startswith(userbase)
    return Path(userbase if inside else sys.prefix) / "share" / "solara" / "cdn"


def _get(url: str, accept: str = "application/json") -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version.split("-")[0])[:3])


def tarball_url(registry: str, name: str, version: str) -> str:
    """The registry's tarball for ``name@version``; a bare major (``5``) takes its newest release.

    Raises:
        LookupError: no release of ``name`` matches ``version``.
    """
    quoted = urllib.parse.quote(name, safe="@")
    if re.fullmatch(r"\d+", version):  # a major range, as in vega@5
        packument = json.loads(_get(f"{registry}/{quoted}", "application/vnd.npm.install-v1+json"))
        releases = [v for v in packument["versions"] if v.split(".")[0] == version and "-" not in v]
        if not releases:
            raise LookupError(f"{name}: no release {version}.x in {registry}")
        version = max(releases, key=_version_key)
        return packument["versions"][version]["dist"]["tarball"]
    manifest = json.loads(_get(f"{registry}/{quoted}/{version}"))
    return manifest["dist"]["tarball"]


def unpack(data: bytes, dest: Path) -> None:
    """Unpack an npm tarball (files under ``package/``) into ``dest``, atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".seed-", dir=dest.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = []
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if len(parts) < 2 or not (member.isfile() or member.isdir()):
                    continue
                member.name = str(Path(*parts[1:]))  # strip the top folder ("package/")
                members.append(member)
            tar.extractall(staging, members=members, filter="data")
        staging.rename(dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def missing(cache: Path | None = None) -> list[tuple[str, str]]:
    """(package, version) pairs the page needs that are not in the cache."""
    cache = cache or cache_dir()
    return [(n, v) for n, v in solara_packages() if not (cache / f"{n}@{v}").is_dir()]


def seed(cache: Path | None = None, log: Callable[[str], None] = print) -> None:
    """Download every missing package from the npm registry into the cache.

    Raises:
        RuntimeError: a package could not be fetched or unpacked (the message names it and the
            registry).
    """
    cache = cache or cache_dir()
    registry = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")
    for name, version in missing(cache):
        try:
            url = tarball_url(registry, name, version)
            unpack(_get(url, "application/octet-stream"), cache / f"{name}@{version}")
        except (urllib.error.URLError, OSError, LookupError, KeyError, tarfile.TarError) as err:
            raise RuntimeError(f"cannot fetch {name}@{version} from {registry}: {err}") from None
        log(f"seeded {name}@{version} from {url.rsplit('/', 1)[-1]}")


def main(argv: list[str] | None = None) -> int:
    """Seed (or with ``--check`` only inspect) the cache; returns the exit status."""
    parser = argparse.ArgumentParser(description="Fill Solara's CDN cache from the npm registry.")
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (default: Solara's)")
    parser.add_argument("--check", action="store_true", help="only list missing packages")
    args = parser.parse_args(argv)
    cache = args.cache or cache_dir()
    if args.check:
        for name, version in missing(cache):
            print(f"missing {name}@{version} in {cache}")
        return 1 if missing(cache) else 0
    try:
        seed(cache)
    except RuntimeError as err:
        print(f"seed_solara_cdn: {err}", file=sys.stderr)
        return 1
    print(f"Solara's CDN cache is complete: {cache}")
    return 0
