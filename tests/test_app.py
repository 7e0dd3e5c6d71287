"""The app without a browser: levers reach the model, replays, shocks, charts, network, tours, CLI.

The browser tests (tests/test_browser.py) drive the same page in Chromium; these tests check the
pieces in-process, including one render of the page's components with Solara's test renderer.
"""

from __future__ import annotations

import dataclasses
import io
import math
import socket
import tarfile
from pathlib import Path

import numpy as np
import pytest

from abm.calibration import load_calibration
from abm.policy import Policy
from abm.shocks import Shock
from app import assets, charts, levers, network
from app.levers import AS_PRESET, Lever, available, calibration_with, policy_for
from app.live import SHOCK_BUTTONS, LiveRun, moved, scale_shock
from app.tours import read_tour, tour
from experiments.cli import main
from experiments.scenarios import preset_names


@pytest.fixture(scope="module")
def calibration():
    return load_calibration()


@pytest.fixture(scope="module")
def stepped():
    run = LiveRun(preset="crypto_ai_crash", seed=3, n_worlds=3, n_cohorts=40)
    for _ in range(8):
        run.step()
    return run


# -- levers --------------------------------------------------------------------------------


def test_every_available_lever_is_a_keyword_the_model_accepts(calibration):
    params = levers.model_params(
        levers.RunSettings("baseline", presets=preset_names()), calibration
    )
    for lever in available():
        spec = params[lever.key]
        assert spec["label"] == lever.label.format(calibrated=lever.start(calibration))
        if lever.widget == "Select":
            assert spec["value"] in spec["values"]
        else:
            assert spec["min"] <= spec["value"] <= spec["max"]
    run = LiveRun(**{k: v["value"] for k, v in params.items()}, n_cohorts=8)
    assert run.policy == policy_for(Policy(), {})  # the starting values change nothing
    assert run.calibration is calibration
    for lever in available():  # a slider's start lies on its grid, or the slider would move it
        if lever.widget.startswith("Slider"):
            ticks = (lever.start(calibration) - lever.lo) / lever.step
            assert ticks == pytest.approx(round(ticks)), lever.key


def test_policy_levers_reach_the_model():
    changes = {
        "hedge_fund_leverage_cap": 4.0,
        "capital_regime": "us",
        "haircut_floor": 0.2,
        "deposit_insurance": 0.5,
        "backstop": "on",
    }
    run = LiveRun(preset="europe_higher_capital", n_cohorts=8, **changes)
    assert run.policy.hedge_fund_leverage_cap == 4.0
    assert run.policy.capital_regime == "us"  # the lever wins over the preset's "eu"
    assert run.policy.haircut_floor == 0.2
    assert run.policy.deposit_insurance == 0.5
    assert run.policy.market_maker_of_last_resort is True
    # the rules that read the policy hold the run's own (the market clearing is split in rules)
    assert run.stablecoins.policy is run.policy
    assert run.lender.policy is run.policy and run.bailouts.policy is run.policy
    assert run.margin.cap == 4.0  # the hedge funds' margin rule got the cap


def test_select_levers_keep_the_preset_unless_set():
    preset = Policy(capital_regime="eu", market_maker_of_last_resort=True)
    kept = policy_for(preset, {"capital_regime": AS_PRESET, "backstop": AS_PRESET})
    assert kept == preset
    assert policy_for(preset, {"backstop": "off"}).market_maker_of_last_resort is False
    top = levers.lever("hedge_fund_leverage_cap").hi
    assert policy_for(Policy(hedge_fund_leverage_cap=3.0), {"hedge_fund_leverage_cap": top}) == (
        Policy(hedge_fund_leverage_cap=None)
    )


def test_a_lever_for_a_policy_the_model_lacks_is_left_off():
    ghost = Lever("ghost", "Ghost (0–1)", "SliderFloat", 0.0, "policy", 0.0, 1.0, 0.1, field="nope")
    assert ghost not in available((*levers.LEVERS, ghost))
    with pytest.raises(KeyError, match="no lever 'ghost'; levers: hedge_fund_leverage_cap"):
        levers.lever("ghost")


def test_calibration_levers_reach_the_model(calibration):
    run = LiveRun(n_cohorts=8, ai_crypto_correlation=0.9, spv_recourse=2.0)
    assert run.sentiment_factors.rho_panic == pytest.approx(0.9)
    base = [float(calibration.value(p)) for p in levers.lever("spv_recourse").field]
    assert np.allclose(np.asarray(run.spv.recourse), np.minimum(np.array(base) * 2.0, 1.0))
    same = calibration_with(calibration, {"spv_recourse": 1.0, "ai_crypto_correlation": 0.53})
    assert same is calibration
    leaf = calibration_with(calibration, {"ai_crypto_correlation": 0.7}).leaf(
        "sentiment.crypto_correlation_panic"
    )
    assert (leaf.value, leaf.source) == (0.7, "app lever ai_crypto_correlation = 0.7")


def test_unknown_lever_is_refused():
    with pytest.raises(ValueError, match="unknown lever"):
        LiveRun(n_cohorts=8, leverage=3)


# -- the live run -----------------------------------------------------------------------------


def test_same_settings_replay_the_same_worlds(stepped):
    again = LiveRun(preset="crypto_ai_crash", seed=3, n_worlds=3, n_cohorts=40)
    for _ in range(8):
        again.step()
    for column in ("ai_equity_index", "crypto_price", "retail_wealth_usd_bn"):
        assert np.array_equal(again.series(column), stepped.series(column))
    other = LiveRun(preset="crypto_ai_crash", seed=4, n_worlds=3, n_cohorts=40)
    for _ in range(8):
        other.step()
    assert not np.array_equal(other.series("crypto_price"), stepped.series("crypto_price"))


def test_history_and_events_follow_the_steps(stepped):
    assert stepped.series("ai_equity_index").shape == (9, 3)
    frame = stepped.event_frame()
    assert list(frame["step"]) == sorted(frame["step"], reverse=True)
    assert (frame["event"] == "stablecoin_run").any()  # the preset's stablecoin run
    sales = frame[frame["event"] == "fire_sale"]
    assert sales["message"].str.contains(r"; AI equity [+-]\d+\.\d% that week\.$").all()


def test_shock_button_fires_its_preset_now():
    run = LiveRun(n_cohorts=8, shock_scale=0.5)
    run.step()
    crypto = float(run.sentiment.crypto[0])
    run.fire("crypto")
    assert int(run.steps) == 2
    assert run.schedules[-1].applied == [(2, "ai_hype"), (2, "crypto_sentiment")]
    assert [s.week for s in run.schedules[-1].shocks] == [2, 2, 4]
    assert run.schedules[-1].shocks[1].size == pytest.approx(-0.085)  # -0.17 × 0.5
    assert float(run.sentiment.crypto[0]) < crypto
    note = run.event_frame().iloc[0]
    assert note["event"] == "shock" and note["step"] == 2
    assert note["message"].startswith("You fired “Crypto-AI crash” in week 2: ")
    with pytest.raises(KeyError, match="no shock button 'nope'"):
        run.fire("nope")
    assert {b.preset for b in SHOCK_BUTTONS} <= set(preset_names())


def test_shock_scaling_stays_inside_the_allowed_sizes():
    fall = Shock(kind="impairment", week=4, size=-0.6, range=(-0.8, -0.4), target=("x",))
    big = scale_shock(fall, 2.0)
    assert big.size == -0.99 and big.range == (-0.99, -0.8)
    assert scale_shock(fall, 0.0).size == 0.0
    assert scale_shock(Shock(kind="haircut", week=1, size=0.8), 2.0).size == 1.0
    assert moved((dataclasses.replace(fall, week=6), fall), 10)[0].week == 12


def test_run_until_stops_at_the_first_default():
    run = LiveRun(preset="efficiency_shock", n_cohorts=8)
    weeks = run.run_until(lambda m: m.defaults_so_far() > 0, 60)
    assert run.defaults_so_far() > 0 and weeks == int(run.steps)
    assert int(np.max(run.history[-2]["defaults_total"])) == 0


def test_distress_is_a_share_and_failed_agents_are_one(stepped):
    distress = stepped.distress()
    assert distress.shape == stepped.snapshot["equity"].shape
    assert np.all((0.0 <= distress) & (distress <= 1.0))
    assert np.all(distress[stepped.snapshot["defaulted"]] == 1.0)


# -- charts -----------------------------------------------------------------------------------


def test_one_world_draws_lines_and_several_draw_fans(stepped):
    one = LiveRun(n_cohorts=8)
    one.step()
    for name, panels in charts.FIGURES.items():
        for panel in panels:
            opt = charts.option(one, panel)
            assert len(opt["series"]) == len(charts.columns_of(one, panel)) >= 1, name
            assert opt["xAxis"]["data"] == [0, 1]
            many = charts.option(stepped, panel)
            assert len(many["series"]) == 3 * len(charts.columns_of(stepped, panel))
            assert charts.fan_note(stepped) == (
                "Lines: median of 3 worlds; bands: 5th to 95th percentile."
            )
            assert charts.fan_note(one) == ""
    spreads = charts.columns_of(stepped, charts.FIGURES["Markets"][1])
    assert [label for _, label in spreads] == [
        c.removeprefix("spread_change_bp_") for c in stepped.columns("spread_change_bp_")
    ]


def test_fan_band_is_the_5_to_95_percent_range():
    values = np.arange(40.0).reshape(2, 20)
    low, mid, high = charts.fan(values)
    assert np.allclose(low, np.percentile(values, 5, axis=1))
    assert np.allclose(mid, np.median(values, axis=1))
    assert np.allclose(high, np.percentile(values, 95, axis=1))
    gappy = np.array([[1.0, np.nan, 3.0], [np.inf, np.nan, np.nan]])
    low, mid, _ = charts.fan(gappy)
    assert mid[0] == 2.0 and math.isnan(mid[1])
    band = charts.series_of(gappy, "x", "#000", 0)
    assert band[2]["data"][1] is None  # JSON has no NaN: a gap


# -- network ----------------------------------------------------------------------------------


def test_network_groups_institutions_and_keeps_the_firms(stepped):
    net = network.exposures(stepped, world=1)
    firms = [stepped.roster.names[i] for i in stepped.roster.indices("firm")]
    assert list(net.names[: len(firms)]) == firms and net.inner.sum() == len(firms)
    assert {"US banks", "EU banks", "hedge funds", "households", "tether"} <= set(net.names)
    assert len(net.edges) <= network.MAX_EDGES
    kinds = {kind for *_, kind, _ in net.edges}
    assert {"deal", "deposits", "equity"} <= kinds <= set(network.EDGE_KINDS)
    assert all(amount > 0 and src != dst for src, dst, _, amount in net.edges)
    assert np.all((0.0 <= net.distress) & (net.distress <= 1.0))


def test_household_deposits_edges_add_up_to_their_claims(stepped):
    net = network.exposures(stepped, world=0, max_edges=10_000)
    households = net.names.index("households")
    pool = stepped.sheets.ledger.pools["deposits"]
    retail = set(stepped.roster.indices("retail"))
    rows = [k for k, h in enumerate(np.asarray(pool.holders)) if int(h) in retail]
    held = float(np.asarray(pool.claims)[0, rows].sum())
    edges = sum(a for s, _, k, a in net.edges if s == households and k == "deposits")
    assert edges == pytest.approx(held, rel=1e-9)


def test_network_and_inspector_figures_draw(stepped):
    from app.components import balance_sheet_history, institutions

    fig = network.figure(stepped, world=2)
    fig.savefig(io.BytesIO(), format="png")
    agents = institutions(stepped)
    assert len(agents) == stepped.roster.size - len(stepped.roster.indices("retail"))
    rows = balance_sheet_history(stepped, agents["Oracle Corporation"])
    assert list(rows["week"]) == list(range(9))
    assert np.allclose(rows["liabilities"], rows["total_assets"] - rows["equity"])


# -- tours ------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_has_a_tour_that_starts_at_week_zero(preset):
    guide = tour(preset)
    assert guide.steps[0].week == 0 and len(guide.steps) >= 3
    assert guide.current(0) == 0 and guide.current(10_000) == len(guide.steps) - 1
    assert guide.next_week(guide.steps[-1].week) is None


def test_tour_files_are_checked(tmp_path):
    bad = tmp_path / "baseline.toml"
    bad.write_text('preset = "baseline"\ntitle = "t"\n[[steps]]\nweek = 3\ntitle = "a"\n')
    with pytest.raises(ValueError, match=r"steps\[0\]: keys must be .*missing \['text'"):
        read_tour(bad)
    step = 'title = "a"\ntext = "b"\nwatch = "c"\nsource = "d"\n'
    bad.write_text(f'preset = "baseline"\ntitle = "t"\n[[steps]]\nweek = 3\n{step}')
    with pytest.raises(ValueError, match="must start at week 0"):
        read_tour(bad)
    bad.write_text(f'preset = "other"\ntitle = "t"\n[[steps]]\nweek = 0\n{step}')
    with pytest.raises(ValueError, match="preset must be the file's stem 'baseline'"):
        read_tour(bad)


# -- the page, rendered in-process ------------------------------------------------------------


def test_page_renders_and_its_buttons_act(monkeypatch):
    import ipyvuetify as v
    import solara
    import solara.widgets

    from app.app import Page

    def html() -> str:
        return "".join(w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets)

    monkeypatch.setenv("POWDERKEG_SCENARIO", "hedge_fund_deleveraging")
    _, rc = solara.render(Page(), handle_error=False)
    titles = [w.children[0] for w in rc.find(v.CardTitle).widgets]
    assert titles == ["Classroom", "Shocks and event log"]
    assert "<b>Hedge-fund deleveraging</b> — week 0, step 1: <b>Record leverage</b>" in html()
    first = tour("hedge_fund_deleveraging").steps[0]
    assert f"<b>Question for the class:</b> {first.question}" in html()
    assert "What you should see" in html() and f"<li>{first.expect[0].claim}</li>" in html()
    rc.find(v.Btn, children=["Hedge-fund margin squeeze now"]).widget.click()
    assert "You fired “Hedge-fund margin squeeze” in week 1" in html()
    rc.find(v.Btn, children=["Next event"]).widget.click()
    assert rc.find(v.Alert).widget.children[0].startswith("Ran ")


def test_adaptive_redraws_take_at_most_their_share_of_the_time(monkeypatch):
    from app import controls
    from app.controls import DRAW_SHARE, Redraw

    clock = [0.0]
    monkeypatch.setattr(controls.time, "perf_counter", lambda: clock[0])

    def draw() -> None:
        clock[0] += 0.025  # a redraw takes 25 ms

    redraw = Redraw(draw=draw)
    draws = 0
    for _ in range(400):
        clock[0] += 0.045  # a week of the model takes 45 ms
        before = redraw.drawn
        redraw.week_done()
        draws += redraw.drawn != before
    drawing = draws * 0.025
    assert drawing <= DRAW_SHARE * clock[0] + 0.025  # at most its share, give or take one redraw
    assert draws >= 400 / 4  # and still every few weeks
    with pytest.raises(ValueError, match="share must lie strictly between 0 and 1"):
        Redraw(share=1.0)


def test_a_redraw_is_one_render_pass(monkeypatch):
    import reacton.core
    import solara
    from mesa.visualization.utils import force_update

    from app.app import Page
    from app.controls import _one_pass

    passes = []
    render_once = reacton.core._RenderContext._render_once

    def counted(self, *args, **kwargs):
        passes.append(self)  # pages of earlier tests subscribe to Mesa's counter too
        return render_once(self, *args, **kwargs)

    monkeypatch.setattr(reacton.core._RenderContext, "_render_once", counted)
    _, rc = solara.render(Page(), handle_error=False)
    passes.clear()
    force_update()
    unbatched = passes.count(rc)
    passes.clear()
    _one_pass(rc)()
    assert passes.count(rc) == 1 < unbatched  # Mesa's own redraw: one pass per subscriber
    assert _one_pass(None) is force_update  # outside a page: Mesa's redraw as it is


# -- powderkeg ui -----------------------------------------------------------------------------


def test_ui_bad_input_is_one_line_and_exit_2(capsys):
    assert main(["ui", "--scenario", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("powderkeg ui: error: argument --scenario: unknown scenario 'nope'")
    assert main(["ui", "--port", "70000"]) == 2
    assert "argument --port: must be an integer from 1 to 65535" in capsys.readouterr().err
    assert main(["ui", "--host", "no such host.invalid"]) == 2
    assert "argument --host: cannot resolve" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["ui", "--port", str(port)]) == 2
    assert f"argument --port: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_ui_server_command_and_environment():
    from app.command import server_command, server_environment

    argv = server_command("0.0.0.0", 8000)
    assert argv[1:5] == ["-m", "solara", "run", "app.app"]
    assert argv[argv.index("--host") + 1] == "0.0.0.0" and "--no-open" in argv
    env = server_environment("crypto_ai_crash", {"PATH": "/bin"})
    assert env["POWDERKEG_SCENARIO"] == "crypto_ai_crash"
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"


# -- front-end assets -------------------------------------------------------------------------


def test_assets_are_the_vue2_bundle_and_the_widgets_the_page_loads():
    names = dict(assets.solara_packages())
    assert names["@widgetti/solara-vuetify-app"] == "10.1.1"
    assert "@widgetti/solara-vuetify3-app" not in names
    assert {"@widgetti/vue-grid-layout", "requirejs", "font-awesome", "echarts"} <= set(names)


def test_cache_folder_and_assets_are_solaras_own(monkeypatch, tmp_path):
    import solara.server.settings as settings

    assert assets.cache_dir() == Path(settings.assets.proxy_cache_dir)
    assert ("font-awesome", "4.5.0") in assets.solara_packages()
    assert settings.assets.fontawesome_path == "/font-awesome@4.5.0/css/font-awesome.min.css"
    monkeypatch.setenv("SOLARA_ASSETS_PROXY_CACHE_DIR", str(tmp_path))
    assert assets.cache_dir() == tmp_path


def test_unpack_strips_the_package_folder(tmp_path):
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        payload = b"console.log(1)"
        info = tarfile.TarInfo("package/dist/x.js")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    dest = tmp_path / "cache" / "pkg@1.0.0"
    assets.unpack(data.getvalue(), dest)
    assert (dest / "dist" / "x.js").read_bytes() == b"console.log(1)"
    assert [p.name for p in dest.parent.iterdir()] == ["pkg@1.0.0"]  # no staging left
    assert ("pkg", "1.0.0") not in assets.missing(tmp_path / "cache")
    assert len(assets.missing(tmp_path / "empty")) == len(assets.solara_packages())


# -- the macro economy and the banks (issue 15, item 5) ---------------------------------------


@pytest.fixture(scope="module")
def two_worlds():
    run = LiveRun(preset="baseline", seed=3, n_worlds=2, n_cohorts=40)
    for _ in range(4):
        run.step()
    return run


def test_macro_and_bank_figures_have_titles_in_words_with_units(two_worlds):
    titles = {
        name: [opt["title"]["text"] for opt in charts.options(two_worlds, name)]
        for name in charts.MACRO_AND_BANKS
    }
    assert titles == {
        "Macro economy: growth and jobs": [
            "GDP growth, annualised over a quarter (% a year)",
            "Unemployment (% of the labour force)",
        ],
        "Macro economy: interest rates": [
            "Policy rate (% a year)",
            "10-year government bond yield (% a year)",
        ],
        "Banks: capital": [
            "Bank capital: CET1 ratio (% of risk-weighted assets)",
            "Banks in trouble (banks)",
        ],
        "Banks: balance sheets": [
            "Bank risk-weighted assets (USD bn)",
            "Bank loan books (gross) (USD bn)",
        ],
        "Banks: earnings": [
            "Bank loan-loss provisions and net income (USD bn per week)",
            "Bank returns, median bank (% a year)",
        ],
    }
    with pytest.raises(KeyError, match="no figure 'Nope'; figures: Markets"):
        charts.figure("Nope")


def test_macro_panels_draw_both_regions_in_percent(two_worlds):
    one = LiveRun(preset="baseline", seed=3, n_cohorts=8)
    one.step()
    quantities = ("gdp_growth", "unemployment", "policy_rate", "yield_10y")
    panels = [*charts.figure("Macro economy: growth and jobs")]
    panels += charts.figure("Macro economy: interest rates")
    for quantity, panel in zip(quantities, panels, strict=True):
        opt = charts.option(two_worlds, panel)
        assert opt["legend"]["data"] == ["US", "euro area"]
        lines = [s for s in opt["series"] if s["name"] in ("US", "euro area")]
        assert [s["name"] for s in lines] == ["US", "euro area"]
        assert all(s["endLabel"]["show"] for s in lines)  # each region labelled at its end
        assert len(opt["series"]) == 6  # a median line and a 5–95% band per region
        for line, region in zip(lines, ("us", "euro_area"), strict=True):
            median = np.median(two_worlds.series(f"{quantity}_{region}"), axis=1) * 100.0
            assert line["data"] == pytest.approx(median.tolist(), abs=1e-5)
        single = charts.option(one, panel)
        assert [s["name"] for s in single["series"]] == ["US", "euro area"]
        first = one.series(f"{quantity}_us")[0, 0] * 100.0
        assert single["series"][0]["data"][0] == pytest.approx(first, abs=1e-5)
    # unemployment in percent: a few percent, not a few hundredths
    unemployment = charts.option(two_worlds, panels[1])["series"][2]["data"]
    assert all(1.0 < u < 30.0 for u in unemployment)


def test_bank_capital_draws_the_spread_the_weakest_the_system_and_the_rules(two_worlds):
    capital, trouble = charts.figure("Banks: capital")
    opt = charts.option(two_worlds, capital)
    assert opt["legend"]["data"] == [
        {"name": "10th–90th percentile bank", "icon": "rect"},
        "median bank",
        "lowest bank",
        "banking system",
    ]
    low, width = opt["series"][:2]  # the spread across banks, under the lines
    p10 = np.median(two_worlds.series("bank_cet1_p10"), axis=1) * 100.0
    p90 = np.median(two_worlds.series("bank_cet1_p90"), axis=1) * 100.0
    assert low["data"] == pytest.approx(p10.tolist(), abs=1e-5)
    assert width["data"] == pytest.approx((p90 - p10).tolist(), abs=1e-5)
    assert width["areaStyle"]["opacity"] > 0 and low["stack"] == width["stack"]
    assert len(opt["series"]) == 2 + 3 * 3  # and a fan per line
    marks = opt["series"][-1]["markLine"]["data"]
    assert [(m["name"], m["yAxis"]) for m in marks] == [
        ("US buffer 8.5%", 8.5),
        ("EU buffer 11%", 11.0),
        ("minimum 4.5%", 4.5),
    ]
    assert opt["yAxis"]["min"] == 0  # the minimum is in view
    eu_rules = LiveRun(n_cohorts=8, capital_regime="eu")
    assert charts.capital_lines(eu_rules) == [("EU buffer 11%", 11.0), ("minimum 4.5%", 4.5)]

    counts = charts.option(two_worlds, trouble)
    assert counts["legend"]["data"] == ["below their CET1 buffer", "failed so far"]
    assert counts["yAxis"]["minInterval"] == 1
    below = next(s for s in counts["series"] if s["name"] == "below their CET1 buffer")
    assert below["data"] == np.median(two_worlds.series("banks_below_buffer"), axis=1).tolist()


def test_bank_earnings_leave_out_week_zero_and_show_returns_in_percent(two_worlds):
    flows, returns = charts.figure("Banks: earnings")
    opt = charts.option(two_worlds, flows)
    assert opt["legend"]["data"] == ["provisions", "net income"]
    provisions = next(s for s in opt["series"] if s["name"] == "provisions")["data"]
    assert provisions[0] is None and len(provisions) == len(two_worlds.history)
    weekly = np.median(two_worlds.series("bank_provisions_usd_bn")[1:], axis=1)
    assert provisions[1:] == pytest.approx(weekly.tolist(), abs=1e-5)
    opt = charts.option(two_worlds, returns)
    roe = next(s for s in opt["series"] if s["name"] == "return on equity")["data"]
    expected = np.median(two_worlds.series("bank_roe_median")[1:], axis=1) * 100.0
    assert roe[0] is None and roe[1:] == pytest.approx(expected.tolist(), abs=1e-5)


def test_macro_and_bank_charts_render_under_their_headings(two_worlds):
    import solara
    import solara.widgets

    from app import components
    from app.echarts import EchartsFigure

    macro = dict(components.TABS)["Macro and bank capital"]
    assert [c.__doc__ for c in macro] == [f"The {name} charts." for name in charts.MACRO_AND_BANKS]
    for name in charts.MACRO_AND_BANKS:
        _, rc = solara.render(components.chart(name, heading=True)(two_worlds), handle_error=False)
        text = "".join(w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets)
        assert f"<b style='font-size:14px'>{name}</b>" in text
        assert "Lines: median of 2 worlds" in text
        figures = rc.find(EchartsFigure).widgets
        assert [f.option["title"]["text"] for f in figures] == [
            o["title"]["text"] for o in charts.options(two_worlds, name)
        ]


def test_a_model_error_in_a_handler_is_a_message_and_a_log_line_not_a_traceback(caplog):
    import solara

    from app.components import guarded

    problem = solara.reactive("")

    def broken() -> None:
        raise ValueError("matmul: Input operand 1 has a mismatch in its core dimension 0")

    with caplog.at_level("ERROR", logger="powderkeg.app"):
        guarded(broken, problem, "Shock 'revenue'")()
    assert problem.value == (
        "Shock 'revenue' failed: ValueError: matmul: Input operand 1 has a mismatch in its "
        "core dimension 0"
    )
    assert "Shock 'revenue' failed" in caplog.text and "Traceback" in caplog.text
    guarded(lambda: None, problem, "Shock 'revenue'")()  # the next action that works clears it
    assert problem.value == ""


def test_the_event_log_shows_a_failing_shock_button_as_a_message(stepped, monkeypatch):
    import ipyvuetify as v
    import solara

    from app import components

    def fail(key: str) -> None:
        raise RuntimeError(f"the model could not fire {key}")

    monkeypatch.setattr(stepped, "fire", fail)
    _, rc = solara.render(components.EventLog(stepped), handle_error=False)
    button = components.SHOCK_BUTTONS[0]
    rc.find(v.Btn, children=[button.label]).widget.click()
    alerts = rc.find(v.Alert).widgets
    assert any(
        f"Shock '{button.key}' failed: RuntimeError: the model could not fire {button.key}"
        in str(a.children)
        for a in alerts
    )


# -- the page's layout, loops and reading aids (issue 15, items 1, 2, 5) ------------------------


def test_sliders_show_their_value_in_words_with_units(calibration):
    params = levers.model_params(
        levers.RunSettings("baseline", presets=preset_names()), calibration
    )
    shown = {k: levers.shown(v["value"], v) for k, v in params.items() if "min" in v}
    assert shown["n_worlds"] == "1 world" and shown["seed"] == "1"
    assert shown["hedge_fund_leverage_cap"] == "no cap"  # the top of the slider: no cap
    assert levers.shown(4.5, params["hedge_fund_leverage_cap"]) == "4.5 assets/equity"
    assert shown["backstop_capacity_gdp_share"] == "5% of US GDP"
    assert shown["stablecoin_deposit_cap"] == "25.0%"
    assert shown["ai_crypto_correlation"] == "ρ = 0.53"
    assert shown["shock_scale"] == "1.0 × preset"
    assert shown["backstop_trigger_ig_oas_bp"] == "250 bp"
    from app.controls import slider_label

    assert slider_label(params["n_worlds"], 8) == "Worlds (1–32): 8 worlds"


def test_a_loop_ends_when_its_component_leaves_the_page():
    import solara

    from app.controls import use_loop_guard

    guards = []

    @solara.component
    def Looping() -> None:
        guards.append(use_loop_guard())

    _, rc = solara.render(Looping(), handle_error=False)
    assert guards[-1]()  # on the page, outside a server session: keep going
    rc.close()  # a tab switch unmounts it; a closed session closes its render context
    assert not guards[-1]()


def test_session_alive_follows_the_pages_of_the_session(monkeypatch):
    import threading

    from solara.server import kernel_context

    from app.controls import session_alive

    class Context:
        def __init__(self) -> None:
            self.page_status = {"a": kernel_context.PageStatus.CONNECTED}
            self.closed_event = threading.Event()

    context = Context()
    monkeypatch.setattr(kernel_context, "get_current_context", lambda: context)
    alive = session_alive()
    assert alive()
    context.page_status["a"] = kernel_context.PageStatus.DISCONNECTED  # the tab was closed
    assert not alive()
    context.page_status["a"] = kernel_context.PageStatus.CONNECTED
    context.closed_event.set()  # Solara closed the session
    assert not alive()


def test_play_stops_when_told_and_redraws_the_last_week():
    from app.controls import play

    weeks, draws = [], []
    ran = play(
        lambda: weeks.append(1), lambda: len(weeks) < 7, draw=lambda: draws.append(len(weeks))
    )
    assert ran == 7 and draws[-1] == 7  # the last week is always drawn
    weeks.clear()
    draws.clear()
    play(
        lambda: weeks.append(1),
        lambda: True,
        every=3,
        max_weeks=10,
        draw=lambda: draws.append(len(weeks)),
    )
    assert draws == [3, 6, 9, 10]


def test_fan_tooltips_carry_the_band_the_unit_and_the_decimals(stepped):
    opt = charts.option(stepped, charts.FIGURES["Markets"][0])
    assert opt["pk"] == {"unit": "price (1 = start)", "decimals": 2, "band": "5–95%"}
    medians = [s for s in opt["series"] if "pkBand" in s]
    assert [s["name"] for s in medians] == ["AI equity", "crypto"]
    for median in medians:
        low, width = (opt["series"][i] for i in median["pkBand"])
        assert low["pkHide"] and width["pkHide"] and low["stack"] == width["stack"]
        assert low["name"].startswith(median["name"])
    counts = charts.option(stepped, charts.FIGURES["Failures and fire sales"][0])
    assert counts["pk"]["decimals"] == 0


def test_the_lines_that_moved_most_lead_the_legend_and_are_labelled(stepped):
    panel = charts.FIGURES["Markets"][1]  # one line per issuer
    opt = charts.option(stepped, panel)
    moved = {
        c.removeprefix("spread_change_bp_"): charts.movement(stepped.series(c))
        for c in stepped.columns("spread_change_bp_")
    }
    assert opt["legend"]["data"] == sorted(moved, key=lambda k: -moved[k])
    labelled = [s["name"] for s in opt["series"] if s.get("endLabel", {}).get("show")]
    assert labelled == opt["legend"]["data"][: charts.MOVERS_LABELLED]


def test_the_page_has_named_tabs_and_the_network_a_distress_scale(stepped):
    from app.components import TABS

    assert [name for name, _ in TABS] == [
        "Classroom",
        "Banks and households",
        "Network",
        "Macro and bank capital",
        "What if",
        "Export",
    ]
    fig = network.figure(stepped, world=0)
    titles = [ax.get_title() for ax in fig.axes]
    assert any("distress: % of starting equity lost" in title for title in titles)
    node_labels = [t for t in fig.axes[0].texts if t.get_text() in ("households", "EU banks")]
    assert node_labels and all(t.get_fontsize() >= 9 for t in node_labels)
