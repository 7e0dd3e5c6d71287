"""Browser tests of the app: Debian's Chromium driven by Playwright against the real server.

The server is ``powderkeg ui`` itself, started once for the module on a free port with Solara's
public CDN pointed at an address that refuses connections, so the page can only load from the
asset cache the project seeds from the npm registry (the offline start). Every test opens a new
browser session (its own model), and writes a screenshot of the page it tested to
``test-artifacts/browser/<test>.png``; load and step timings go to ``timings.json`` beside them.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium``. Where Chromium or
Playwright is missing the tests skip, unless ``POWDERKEG_BROWSER_TESTS=require`` (set by ``make
test``, hence in CI), where they fail instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOAD_TIMEOUT_MS = 90_000
UPDATE_TIMEOUT_MS = 30_000
TIMINGS: dict[str, list[float] | float] = {}
#: True once the app bar's "Week N" counter reads at least ``arg`` weeks.
WEEK_AT_LEAST = (
    "week => { const t = document.querySelector('.pk-week');"
    " return t && parseInt(t.textContent.slice(5)) >= week; }"
)
#: The tabs of the page, in order (app.components.TABS).
TAB_NAMES = [
    "Classroom",
    "Banks and households",
    "Network",
    "Macro and bank capital",
    "What if",
    "Export",
]
CANVASES = (
    "() => [...document.querySelectorAll('.powderkeg-echarts canvas')].map(c => c.toDataURL())"
)


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium; make test does it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


_REASON = _missing()
if _REASON is not None and os.environ.get("POWDERKEG_BROWSER_TESTS") == "require":
    raise RuntimeError(f"browser tests required but cannot run: {_REASON}")
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _powderkeg() -> str:
    script = Path(sys.executable).with_name("powderkeg")
    return str(script) if script.exists() else shutil.which("powderkeg") or "powderkeg"


@pytest.fixture(scope="module")
def server():
    """``powderkeg ui`` on a free port, with no reachable CDN; yields its URL."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = dict(os.environ, SOLARA_ASSETS_CDN="http://127.0.0.1:9/npm/")
    log = open(ARTIFACTS / "server.log", "w")  # closed at teardown
    start = time.perf_counter()
    proc = subprocess.Popen(
        [_powderkeg(), "ui", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"powderkeg ui exited with {proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"powderkeg ui did not answer within 120 s; see {log.name}")
            time.sleep(0.2)
        TIMINGS["server_answers_s"] = time.perf_counter() - start
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=2))
    server_log = (ARTIFACTS / "server.log").read_text()
    assert "Could not load URL" not in server_log, (
        "the page asked Solara's CDN proxy for an asset the cache does not hold"
    )
    assert "Too many renders" not in server_log  # no loop re-renders the page without end


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Session:
    """One browser tab on the app, with its console errors and timings."""

    def __init__(self, browser, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1500, "height": 1100})
        self.errors: list[str] = []
        self.page.on("pageerror", lambda err: self.errors.append(f"pageerror: {err}"))
        self.page.on(
            "console",
            lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
        )
        start = time.perf_counter()
        self.page.goto(url, timeout=LOAD_TIMEOUT_MS)
        self.step_button.wait_for(timeout=LOAD_TIMEOUT_MS)
        self.page.locator(".pk-week", has_text="Week 0").wait_for(timeout=LOAD_TIMEOUT_MS)
        TIMINGS.setdefault("page_interactive_s", []).append(time.perf_counter() - start)

    @property
    def step_button(self):
        return self.page.get_by_role("button", name="Step", exact=True)

    def week(self) -> int:
        return int(self.page.locator(".pk-week").inner_text().removeprefix("Week "))

    def wait_week(self, week: int) -> None:
        self.page.locator(".pk-week", has_text=re.compile(rf"^Week {week}$")).wait_for(
            timeout=UPDATE_TIMEOUT_MS
        )

    def charts(self) -> list[str]:
        """A fingerprint of every ECharts canvas (its pixels as a data URL)."""
        return self.page.evaluate(CANVASES)

    def wait_charts(self, count: int = 4) -> None:
        self.page.locator(".powderkeg-echarts canvas").nth(count - 1).wait_for(
            timeout=UPDATE_TIMEOUT_MS
        )

    def shot(self, name: str) -> None:
        self.page.wait_for_timeout(300)
        self.page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


@pytest.fixture
def app(server, browser, request):
    session = Session(browser, server)
    yield session
    session.shot(request.node.name)
    session.page.close()


def test_page_loads_with_no_console_errors(app):
    page = app.page
    page.get_by_text("Classroom").first.wait_for()
    page.get_by_text("Baseline 2025: a boom financed with debt").wait_for()
    page.get_by_text("Shocks and event log").wait_for()
    page.get_by_text("Scenario preset (applies on Reset)").wait_for()
    assert [t.inner_text().strip() for t in page.get_by_role("tab").all()] == [
        n.upper() for n in TAB_NAMES
    ] or [t.inner_text().strip() for t in page.get_by_role("tab").all()] == TAB_NAMES
    app.wait_charts(4)  # the four panels of page 0
    assert app.errors == []


def test_step_and_play_pause_change_the_counter_and_the_charts(app):
    page = app.page
    app.wait_charts(4)
    before = app.charts()
    for week in (1, 2, 3):
        start = time.perf_counter()
        app.step_button.click()
        app.wait_week(week)
        TIMINGS.setdefault("step_to_counter_s", []).append(time.perf_counter() - start)
    page.wait_for_timeout(500)
    after = app.charts()
    assert len(after) == len(before) >= 4
    assert all(a != b for a, b in zip(after, before, strict=True))  # every panel redrawn

    page.get_by_role("button", name="▶", exact=True).click()
    page.wait_for_function(WEEK_AT_LEAST, arg=6, timeout=UPDATE_TIMEOUT_MS)
    page.get_by_role("button", name="❚❚", exact=True).click()
    page.get_by_role("button", name="▶", exact=True).wait_for(timeout=UPDATE_TIMEOUT_MS)
    page.wait_for_timeout(1500)  # a week already under way when Pause was pressed may finish
    paused = app.week()
    page.wait_for_timeout(1500)
    assert app.week() == paused >= 6
    assert app.errors == []


def test_preset_switch_and_slider_change_take_effect(app):
    page = app.page
    page.locator(".v-select", has_text="Scenario preset").click()
    page.get_by_role("option", name="crypto_ai_crash").click()
    worlds = page.get_by_role("slider", name="Worlds (1–32)")
    worlds.focus()
    worlds.press("ArrowRight")
    worlds.press("ArrowRight")
    # a busy page may take a moment to apply the key presses: Reset only once the slider shows 3
    deadline = time.monotonic() + UPDATE_TIMEOUT_MS / 1000
    while worlds.get_attribute("aria-valuenow") != "3":
        assert time.monotonic() < deadline, worlds.get_attribute("aria-valuenow")
        page.wait_for_timeout(100)
    page.get_by_role("button", name="Reset", exact=True).click()
    page.get_by_text("Crypto-AI crash with a stablecoin run").wait_for(timeout=UPDATE_TIMEOUT_MS)
    # the other sliders kept their values: nothing but the preset and the worlds changed
    page.get_by_text(
        re.compile(r"Preset crypto_ai_crash, seed 1, 3 world\(s\); levers as in the preset")
    ).wait_for()
    page.get_by_text("Lines: median of 3 worlds; bands: 5th to 95th percentile.").first.wait_for()
    app.step_button.click()
    app.wait_week(1)
    assert app.errors == []


def test_shock_button_adds_an_event_log_entry(app):
    page = app.page
    page.get_by_role("button", name="Crypto-AI crash now").click()
    app.wait_week(1)
    page.get_by_text(re.compile("You fired “Crypto-AI crash” in week 1")).wait_for(
        timeout=UPDATE_TIMEOUT_MS
    )
    page.get_by_role("button", name="shock", exact=True).click()  # the log: fired shocks only
    page.get_by_text(re.compile("crypto sentiment -17%")).wait_for(timeout=UPDATE_TIMEOUT_MS)
    assert app.errors == []


def test_tour_controls_run_to_the_next_event_and_play_and_pause(app):
    page = app.page
    page.get_by_role("button", name="Next event").click()
    page.get_by_text(re.compile(r"^Ran \d+ weeks? to week \d+")).wait_for(timeout=UPDATE_TIMEOUT_MS)
    start = app.week()
    assert start >= 1
    page.get_by_role("button", name="Play tour").click()
    page.wait_for_function(WEEK_AT_LEAST, arg=start + 3, timeout=UPDATE_TIMEOUT_MS)
    page.get_by_role("button", name="Pause tour").click()
    page.get_by_role("button", name="Play tour").wait_for(timeout=UPDATE_TIMEOUT_MS)
    # a week under way when Pause was pressed may still finish (slowly on a loaded machine):
    # wait until the week stands still, then check that it stays put
    paused = app.week()
    for _ in range(10):
        page.wait_for_timeout(1500)
        if app.week() == paused:
            break
        paused = app.week()
    page.wait_for_timeout(1500)
    assert app.week() == paused >= start + 3
    assert app.errors == []


def test_the_tour_card_asks_its_question_and_folds_what_to_expect(app):
    page = app.page
    card = page.locator(".v-card", has_text="Classroom").first
    card.get_by_text("Question for the class:").wait_for(timeout=UPDATE_TIMEOUT_MS)
    card.get_by_text("Why would the richest companies in the world borrow at all?").wait_for()
    claim = card.get_by_text("Amazon comes to the bond market within the first two months.")
    assert not claim.is_visible()  # folded: the class answers the question first
    card.get_by_text(re.compile("^What you should see")).click()
    claim.wait_for(timeout=UPDATE_TIMEOUT_MS)
    for week in range(1, 5):  # the tour's next step appears in week 4
        app.step_button.click()
        app.wait_week(week)
    card.get_by_text("step 2: Who holds the debt").wait_for(timeout=UPDATE_TIMEOUT_MS)
    card.get_by_text(re.compile("whose savings would it reach")).wait_for()
    assert app.errors == []


#: Weeks/s of Play with 8 worlds on the Classroom tab (its 4 charts open): the issue's target is
#: 15 on this 2-core machine, measured 7.6-20.5 (5 Dec 2026) as the load of the shared machine
#: varies, so the figure is recorded in timings.json, and the test fails only below 2 weeks/s (a
#: loop that hangs or redraws without end), a floor set before measuring.
PLAY_FLOOR_WEEKS_PER_S = 2.0


def test_play_with_8_worlds_on_the_chart_tab_records_its_speed(app):
    page = app.page
    worlds = page.get_by_role("slider", name="Worlds (1–32)")
    worlds.focus()
    for _ in range(7):
        worlds.press("ArrowRight")
    page.get_by_text("Worlds (1–32): 8 worlds").wait_for(timeout=UPDATE_TIMEOUT_MS)
    page.get_by_role("button", name="Reset", exact=True).click()
    page.locator(".pk-run", has_text="8 worlds").wait_for(timeout=LOAD_TIMEOUT_MS)
    app.wait_charts(4)
    page.get_by_role("button", name="▶", exact=True).click()
    page.wait_for_function(WEEK_AT_LEAST, arg=3, timeout=UPDATE_TIMEOUT_MS)
    first, start = app.week(), time.perf_counter()
    page.wait_for_timeout(10_000)
    last, end = app.week(), time.perf_counter()
    page.get_by_role("button", name="❚❚", exact=True).click()
    speed = (last - first) / (end - start)
    TIMINGS["play_8_worlds_chart_tab_weeks_per_s"] = speed
    assert speed >= PLAY_FLOOR_WEEKS_PER_S, f"{speed:.1f} weeks/s"
    assert app.errors == []


def test_banks_stablecoins_and_households_charts_render(app):
    page = app.page
    app.step_button.click()
    app.wait_week(1)
    page.get_by_role("tab", name="Banks and households").click()
    app.wait_charts(5)  # bank capital, stablecoin pegs and tokens, retail wealth and losses
    page.wait_for_timeout(500)
    assert len(app.charts()) == 5
    assert app.errors == []


def test_network_view_and_inspector_render(app):
    page = app.page
    page.get_by_role("tab", name="Network").click()
    page.get_by_text("Network: circular deals and exposures").wait_for(timeout=UPDATE_TIMEOUT_MS)
    page.get_by_text("Inspect an institution").wait_for(timeout=UPDATE_TIMEOUT_MS)
    page.locator(".v-card", has_text="Network: circular deals").locator("img").wait_for(
        timeout=UPDATE_TIMEOUT_MS
    )
    app.step_button.click()
    app.wait_week(1)
    page.get_by_text(re.compile(r"^Week 1: (operating|FAILED); total assets")).wait_for(
        timeout=UPDATE_TIMEOUT_MS
    )
    search = page.get_by_label(re.compile(r"^Institution \(\d+; type to search\)"))
    search.click()
    search.fill("Oracle Corp")
    page.get_by_role("option", name="Oracle Corporation").click()
    assert search.input_value() == "Oracle Corporation"
    assert app.errors == []


def test_macro_economy_and_bank_charts_render(app):
    page = app.page
    app.step_button.click()
    app.wait_week(1)
    page.get_by_role("tab", name="Macro and bank capital").click()
    for heading in (
        "Macro economy: growth and jobs",
        "Macro economy: interest rates",
        "Banks: capital",
        "Banks: balance sheets",
        "Banks: earnings",
    ):
        page.get_by_text(heading, exact=True).wait_for(timeout=UPDATE_TIMEOUT_MS)
    # GDP, unemployment, rates, yields, CET1, banks in trouble, RWA, loans, earnings (two)
    app.wait_charts(10)
    page.wait_for_timeout(500)
    before = app.charts()
    assert len(before) == 10
    app.step_button.click()
    app.wait_week(2)
    page.wait_for_timeout(500)
    after = app.charts()
    assert len(after) == 10
    assert all(a != b for a, b in zip(after, before, strict=True))  # every panel redrawn
    assert app.errors == []


# -- layout for a projector and a laptop (issue 15, item 2) --------------------------------------

#: Elements of the page that stick out past the right edge of the window (or of their card).
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  if (document.documentElement.scrollWidth > width + 1) {
    out.push(`page ${document.documentElement.scrollWidth} > ${width}`);
  }
  for (const e of document.querySelectorAll(
      '.v-card, .v-card *, .pk-grid > *, .powderkeg-echarts, .v-navigation-drawer *')) {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > width + 1) {
      out.push(`${e.className || e.tagName} right ${Math.round(r.right)} > ${width}`);
    }
  }
  for (const card of document.querySelectorAll('.v-card')) {
    const c = card.getBoundingClientRect();
    for (const e of card.querySelectorAll('.v-btn-toggle, .v-btn, img, .powderkeg-echarts')) {
      const r = e.getBoundingClientRect();
      if (r.width > 0 && r.right > c.right + 1) {
        out.push(`${e.className || e.tagName} leaves its card (${r.right} > ${c.right})`);
      }
    }
  }
  return out.slice(0, 10);
}"""
#: Width of every slider track against the width of its sidebar card (a collapsed slider ~0).
SLIDER_SHARES = """() => [...document.querySelectorAll('.pk-slider')].map(s => {
  const card = s.closest('.v-card, .v-navigation-drawer');
  const track = s.querySelector('.v-slider');
  return track.getBoundingClientRect().width / card.getBoundingClientRect().width;
})"""
#: The week counter's box, after scrolling to the bottom of the page.
WEEK_BOX = """() => {
  window.scrollTo(0, document.body.scrollHeight);
  for (const e of document.querySelectorAll('*')) { if (e.scrollHeight > e.clientHeight + 5) {
    e.scrollTop = e.scrollHeight; } }
  const r = document.querySelector('.pk-week').getBoundingClientRect();
  return [r.top, r.bottom, window.innerHeight];
}"""


@pytest.mark.parametrize("width", [1024, 1440])
def test_layout_fits_a_laptop_and_a_projector(app, width):
    page = app.page
    page.set_viewport_size({"width": width, "height": 800})
    app.wait_charts(4)
    app.step_button.click()
    app.wait_week(1)
    for name in TAB_NAMES:
        page.get_by_role("tab", name=name).click()
        if name == "Network":
            page.locator(".v-card", has_text="Network: circular deals").locator("img").wait_for(
                timeout=UPDATE_TIMEOUT_MS
            )
        elif name == "What if":
            page.get_by_role("button", name="Run both").wait_for(timeout=UPDATE_TIMEOUT_MS)
        elif name == "Export":
            page.get_by_text(re.compile(r"^Export \(week")).wait_for(timeout=UPDATE_TIMEOUT_MS)
        else:
            app.wait_charts(2)
        page.wait_for_timeout(800)
        assert page.evaluate(OVERFLOW) == [], f"{name} at {width} px"
        page.screenshot(path=ARTIFACTS / f"layout-{width}-{name.replace(' ', '_')}.png")
        top, bottom, height = page.evaluate(WEEK_BOX)
        assert 0 <= top and bottom <= height, "the week is out of view"
    shares = page.evaluate(SLIDER_SHARES)
    assert len(shares) >= 15 and min(shares) > 0.8, shares  # full-width tracks, none collapsed
    assert app.errors == []


#: Dropdown labels and selections cut by the layout: text wider than its box, a label that leaves
#: its sidebar or card, text squeezed into a column (over three lines), or a label drawn over the
#: dropdown's value.
CUT_DROPDOWNS = """() => {
  const out = [];
  for (const s of document.querySelectorAll('.v-select')) {
    const box = s.closest('.v-card, .v-navigation-drawer') || document.documentElement;
    const b = box.getBoundingClientRect();
    const label = s.querySelector('.v-label');
    const value = s.querySelector('.v-select__selection');
    for (const e of [label, value]) {
      if (!e || e.getBoundingClientRect().width === 0) continue;
      const r = e.getBoundingClientRect();
      if (e.scrollWidth > e.clientWidth + 1) out.push(`cut: ${e.textContent}`);
      if (r.right > b.right + 1 || r.left < b.left - 1) out.push(`leaves: ${e.textContent}`);
      if (r.height > 60) out.push(`squeezed into a narrow column: ${e.textContent}`);
    }
    if (label && value && value.getBoundingClientRect().width > 0
        && label.getBoundingClientRect().bottom > value.getBoundingClientRect().top + 2) {
      out.push(`label over its value: ${label.textContent}`);
    }
  }
  return out;
}"""


def test_long_dropdown_labels_wrap_instead_of_being_cut(app):
    page = app.page
    page.set_viewport_size({"width": 1024, "height": 800})
    long = "Bank capital rules (own, or US or EU CET1 rules for all)"
    page.get_by_text(long, exact=True).wait_for(timeout=UPDATE_TIMEOUT_MS)
    page.wait_for_timeout(500)
    assert page.evaluate(CUT_DROPDOWNS) == [], "sidebar at 1024 px"
    page.get_by_role("tab", name="What if").click()
    page.locator(".v-select", has_text="What if").click()
    page.get_by_role("option", name="one lever").click()
    page.locator(".v-select", has_text="Judged by").wait_for(timeout=UPDATE_TIMEOUT_MS)
    page.wait_for_timeout(800)
    assert page.evaluate(CUT_DROPDOWNS) == [], "What if tab at 1024 px"
    page.screenshot(path=ARTIFACTS / "dropdowns-1024.png", full_page=True)
    assert app.errors == []


def test_tabs_are_named_and_sliders_show_their_values_with_units(app):
    page = app.page
    page.get_by_role("tab", name="Classroom").wait_for()
    for name in TAB_NAMES:
        page.get_by_role("tab", name=name).wait_for()
    page.get_by_text("Worlds (1–32): 1 world", exact=True).wait_for()
    page.get_by_text("Hedge-fund leverage cap (assets/equity 2–10; 10 = no cap): no cap").wait_for()
    page.get_by_text("AI–crypto panic correlation (ρ 0–0.95; 0.53 calibrated): ρ = 0.53").wait_for()
    cap = page.get_by_role("slider", name="Hedge-fund leverage cap")
    cap.focus()
    cap.press("ArrowLeft")
    page.get_by_text(
        "Hedge-fund leverage cap (assets/equity 2–10; 10 = no cap): 9.5 assets/equity"
    ).wait_for(timeout=UPDATE_TIMEOUT_MS)
    # Mesa's developer controls are folded under "Advanced"
    pause = page.get_by_text(re.compile(r"^Pause between weeks while playing"))
    assert not pause.is_visible()
    page.get_by_text("Advanced", exact=True).click()
    pause.wait_for(timeout=UPDATE_TIMEOUT_MS)
    page.get_by_text(re.compile(r"^Weeks per redraw while playing .*: adaptive$")).wait_for()
    assert app.errors == []


#: Contrast ratio (WCAG 2) of an element's text against the colour behind it, tints blended in.
CONTRAST = """selector => {
  const parse = c => { const m = c.match(/[\\d.]+/g).map(Number);
    return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
  const lum = c => { const f = v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const el = document.querySelector(selector);
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c.a > 0) { layers.push(c); if (c.a >= 1) break; }
  }
  let bg = {r: 255, g: 255, b: 255};
  for (const c of layers.reverse()) {
    bg = {r: c.r * c.a + bg.r * (1 - c.a), g: c.g * c.a + bg.g * (1 - c.a),
          b: c.b * c.a + bg.b * (1 - c.a)};
  }
  const fg = parse(getComputedStyle(el).color);
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  return (hi + 0.05) / (lo + 0.05);
}"""
#: Share of the chart titles' pixels that are light (text drawn light on the dark page).
TITLE_LIGHT = """() => [...document.querySelectorAll('.powderkeg-echarts canvas')].map(c => {
  const g = c.getContext('2d');
  const d = g.getImageData(0, 0, Math.min(c.width, 300), 18 * (window.devicePixelRatio || 1)).data;
  let light = 0, dark = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] < 128) continue;
    const y = (d[i] + d[i + 1] + d[i + 2]) / 3;
    if (y > 170) light++; else if (y < 90) dark++;
  }
  return [light, dark];
})"""


def test_dark_mode_is_legible(app):
    page = app.page
    app.wait_charts(4)
    toggle = page.locator(
        ".v-app-bar button:has(.mdi-brightness-auto), "
        ".v-app-bar button:has(.mdi-weather-sunny), "
        ".v-app-bar button:has(.mdi-weather-night)"
    ).first
    for _ in range(3):  # the toggle cycles auto, light and dark
        if page.locator(".v-application.theme--dark").count():
            break
        toggle.click()
        page.wait_for_timeout(600)
    assert page.locator(".v-application.theme--dark").count() == 1
    page.wait_for_timeout(1000)
    assert page.evaluate(CONTRAST, ".pk-watch") >= 4.5  # "what to watch" reads (WCAG AA)
    assert page.evaluate(CONTRAST, ".pk-week") >= 4.5
    for light, dark in page.evaluate(TITLE_LIGHT):
        assert light > 20 and dark < light, "a chart title is dark on the dark page"
    assert app.errors == []


def test_the_tour_stops_playing_when_its_tab_is_left(app):
    page = app.page
    page.get_by_role("button", name="Play tour").click()
    page.wait_for_function(WEEK_AT_LEAST, arg=2, timeout=UPDATE_TIMEOUT_MS)
    page.get_by_role("tab", name="Banks and households").click()
    page.wait_for_timeout(1500)  # a week under way may finish
    left = app.week()
    page.wait_for_timeout(2000)
    assert app.week() == left  # the tour's loop ended with its tab
    assert app.errors == []


def test_play_and_the_tour_can_play_together_without_a_render_loop(app):
    page = app.page
    page.get_by_role("button", name="Play tour").click()
    page.get_by_role("button", name="▶", exact=True).click()
    page.wait_for_function(WEEK_AT_LEAST, arg=15, timeout=UPDATE_TIMEOUT_MS)
    page.get_by_role("button", name="❚❚", exact=True).click()
    page.get_by_role("button", name="Pause tour").click()
    page.get_by_role("button", name="Play tour").wait_for(timeout=UPDATE_TIMEOUT_MS)
    assert app.errors == []  # and the server log has no "Too many renders" (the fixture checks)


def test_what_if_runs_the_same_worlds_and_shows_the_paired_difference(app):
    page = app.page
    page.get_by_role("tab", name="What if").click()
    page.get_by_text("Run this preset twice on the same worlds").wait_for(timeout=UPDATE_TIMEOUT_MS)
    value = page.get_by_role("textbox", name=re.compile(r"^Value"))
    assert value.input_value() == "2"  # the leverage cap's lowest: a change from "no cap"
    value.fill("")
    page.get_by_role("textbox", name="Weeks").fill("6")
    page.get_by_role("button", name="Run both").click()
    page.get_by_text(re.compile(r"a number from 2 to 10; got ''")).wait_for(
        timeout=UPDATE_TIMEOUT_MS
    )  # one clear line naming the lever and what is allowed
    value.fill("4")
    page.get_by_role("button", name="Run both").click()
    page.get_by_text(re.compile(r"No difference in|paired by world")).first.wait_for(
        timeout=LOAD_TIMEOUT_MS
    )
    page.locator(".powderkeg-echarts").last.wait_for(timeout=UPDATE_TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / "what-if.png"), full_page=True)
    assert app.errors == []


def test_export_downloads_a_replay_file_that_names_the_run(app):
    page = app.page
    page.get_by_role("tab", name="Export").click()
    button = page.get_by_role("button", name=re.compile("replay", re.I)).first
    button.wait_for(timeout=UPDATE_TIMEOUT_MS)
    with page.expect_download(timeout=UPDATE_TIMEOUT_MS) as download:
        button.click()
    text = Path(download.value.path()).read_text()
    assert "replay = 1" in text and 'scenario = "baseline"' in text
    assert app.errors == []
