"""The app's export: tables that read back with their units, and a replay file that
``powderkeg run`` turns into the very same run, bit for bit."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from abm.policy import Policy
from app.export import (
    balance_sheets,
    export_bytes,
    run_file_text,
    series_table,
)
from app.live import LiveRun
from experiments.cli import main
from experiments.replay import policy_settings, read_replay

#: A preset whose shocks draw their sizes from ranges, levers on the policy, the calibration
#: and the shock size: everything a replay must carry.
SETTINGS = {
    "preset": "crypto_ai_crash",
    "seed": 4,
    "n_worlds": 2,
    "n_cohorts": 20,
    "shock_scale": 1.3,
    "haircut_floor": 0.1,
    "ai_crypto_correlation": 0.7,
    "spv_recourse": 1.5,
}


@pytest.fixture(scope="module")
def live() -> LiveRun:
    """The app's model: 3 weeks, the same button twice (one schedule each), 2 more weeks."""
    model = LiveRun(**SETTINGS)
    for _ in range(3):
        model.step()
    model.fire("crypto")  # its ranged shocks draw from the streams of their own schedule
    model.fire("crypto")
    model.fire("revenue")
    model.step()
    return model


@pytest.fixture(scope="module")
def replayed(live: LiveRun, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The replay file of ``live`` and the folder ``powderkeg run --scenario FILE`` wrote."""
    root = tmp_path_factory.mktemp("replay")
    file = root / "replay.toml"
    file.write_text(run_file_text(live))
    out = root / "run"
    assert main(["run", "--scenario", str(file), "--out", str(out), "--no-progress"]) == 0
    return file, out


def test_powderkeg_run_replays_the_app_bit_for_bit(live: LiveRun, replayed) -> None:
    file, out = replayed
    app = series_table(live)
    cli = pd.read_parquet(out / "series.parquet")
    assert int(app["step"].max()) == live.steps == 7
    assert list(cli.columns) == list(app.columns)
    for column in app.columns:  # the bytes of every value, NaN included
        a, b = app[column].to_numpy(), cli[column].to_numpy()
        assert a.dtype == b.dtype, column
        assert a.tobytes() == b.tobytes(), column
    # the shocks did move the run: the replay is not trivially equal to an unshocked one
    assert app["crypto_price"].iloc[-1] < app["crypto_price"].iloc[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario_file"] == str(file)


def test_replayed_events_are_the_apps(live: LiveRun, replayed) -> None:
    _, out = replayed
    keys = ["step", "world", "agent", "event", "amount_usd_bn"]
    app = live.events.frame()[keys].reset_index(drop=True)
    cli = pd.read_parquet(out / "events.parquet")[keys].reset_index(drop=True)
    pd.testing.assert_frame_equal(app, cli, check_exact=True)


def test_replay_file_holds_every_lever_schedule_and_calibration(live: LiveRun, replayed) -> None:
    file, _ = replayed
    replay = read_replay(file)
    assert replay.scenario == "crypto_ai_crash"
    assert replay.model == {"n_worlds": 2, "seed": 4, "steps": 7, "n_cohorts": 20}
    assert Policy.from_settings(replay.policy) == live.policy
    assert replay.policy["haircut_floor"] == 0.1
    assert replay.calibration["sentiment.crypto_correlation_panic"] == 0.7
    assert len(replay.schedules) == len(live.shock_schedules) == 4  # preset + 3 buttons
    for ours, theirs in zip(replay.schedules, live.shock_schedules, strict=True):
        assert ours == tuple(theirs.shocks)
    text = file.read_text()
    assert "# schedule 2: button for crypto_ai_crash, pressed to hit in week 4" in text


def test_policy_settings_round_trip() -> None:
    policy = Policy(hedge_fund_leverage_cap=4.5, capital_regime="us", bailouts=True)
    assert Policy.from_settings(policy_settings(policy)) == policy


def test_a_bad_replay_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(
        'replay = 1\nscenario = "baseline"\n[[shocks]]\nkind = "ai_hype"\nweek = 2\n'
        'size = -0.1\nsource = "x"\n'
    )
    assert main(["run", "--scenario", str(file), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "shocks[0]: schedule must be an integer from 1" in err[0]
    assert not (tmp_path / "o").exists()


def test_a_run_file_without_replay_is_read_as_before(tmp_path: Path, capsys) -> None:
    file = tmp_path / "run.toml"
    file.write_text('scenario = "baseline"\n[policy]\nbailouts = true\n')
    assert main(["run", "--scenario", str(file), "--out", str(tmp_path / "o")]) == 2
    assert "unknown key 'policy'; allowed: scenario, description, [model]" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("table", ["series", "events", "balance_sheets"])
def test_tables_read_back_with_units_and_provenance(live: LiveRun, table: str) -> None:
    parquet = export_bytes(live, table, "parquet")
    frame = pd.read_parquet(io.BytesIO(parquet))
    schema = pq.read_schema(io.BytesIO(parquet))
    about = json.loads(schema.metadata[b"powderkeg"])
    assert (about["scenario"], about["seed"], about["week"], about["table"]) == (
        "crypto_ai_crash",
        4,
        7,
        table,
    )
    unit = {f.name: f.metadata[b"unit"].decode() for f in schema}
    from_csv = pd.read_csv(io.BytesIO(export_bytes(live, table, "csv")), comment="#")
    assert list(from_csv.columns) == list(frame.columns)
    assert len(from_csv) == len(frame)
    if table == "series":
        assert len(frame) == 8 * 2  # weeks 0..7, two worlds
        assert unit["step"] == "weeks"
        assert unit["fire_sale_volume_usd_bn"] == "USD bn"
        assert unit["bank_cet1_median"] == "fraction of risk-weighted assets"
        assert unit["spread_change_bp_coreweave"] == "bp"
        np.testing.assert_array_equal(from_csv["ai_equity_index"], frame["ai_equity_index"])
    elif table == "events":
        assert {"step", "world", "event", "amount_usd_bn", "message"} <= set(frame.columns)
        assert unit["amount_usd_bn"] == "USD bn"
        shocks = frame[frame["event"] == "shock"]
        assert (shocks["cause"] == "fired from the page").sum() == 3  # the three buttons
        assert (shocks["cause"] == "the preset's shock").sum() >= 1  # and the preset's own
        assert frame["step"].is_monotonic_increasing
        assert list(from_csv["message"]) == list(frame["message"])
    else:
        assert set(frame["world"]) == {0, 1} and set(frame["week"]) == {7}
        assert unit["equity"] == "USD bn" and unit["week"] == "weeks"
        for column in ("cash", "total_assets", "liabilities", "equity"):
            np.testing.assert_allclose(from_csv[column], frame[column], rtol=1e-15)


def test_balance_sheets_of_the_world_shown(live: LiveRun) -> None:
    one = balance_sheets(live, world=1)
    every = balance_sheets(live)
    assert set(one["world"]) == {1}
    assert len(every) == 2 * len(one)
    with pytest.raises(ValueError, match="world must be from 0 to 1"):
        balance_sheets(live, world=2)


def test_export_panel_downloads_the_replay_file(live: LiveRun) -> None:
    """The panel's buttons: two formats per table, and a replay file made on click."""
    import time

    import ipyvuetify as v
    import solara
    from solara.components.file_download import FileDownloadWidget

    from app.export import ExportPanel

    _, rc = solara.render(ExportPanel(live), handle_error=False)
    assert rc.find(v.CardTitle).widget.children == ["Export (week 7)"]
    labels = [w.children[-1] for w in rc.find(v.Btn).widgets]
    assert labels.count("CSV") == labels.count("PARQUET") == 4
    downloads = {w.filename: w for w in rc.find(FileDownloadWidget).widgets}
    name = "powderkeg-crypto_ai_crash-seed4-week7.toml"
    assert "powderkeg-crypto_ai_crash-seed4-week7-balance-world0.parquet" in downloads
    downloads[name].request_download = True  # what the browser does when the button is clicked
    deadline = time.monotonic() + 30
    while downloads[name].bytes is None and time.monotonic() < deadline:
        time.sleep(0.05)
        downloads = {w.filename: w for w in rc.find(FileDownloadWidget).widgets}
    assert downloads[name].bytes.decode().startswith("# powderkeg replay")
    assert 'scenario = "crypto_ai_crash"' in downloads[name].bytes.decode()


def test_pending_shocks_are_kept_and_a_longer_run_plays_them(tmp_path: Path) -> None:
    """Exported at week 2, before the preset's shocks: ``--steps 8`` is the app at week 8."""
    model = LiveRun(preset="crypto_ai_crash", seed=9, n_worlds=1, n_cohorts=20)
    model.step()
    model.step()
    file = tmp_path / "early.toml"
    file.write_text(run_file_text(model))
    assert min(s.week for s in read_replay(file).schedules[0]) > 2  # all still to come
    assert main(["run", "--scenario", str(file), "--out", str(tmp_path / "a")]) == 0
    assert main(["run", "--scenario", str(file), "--steps", "8", "--out", str(tmp_path / "b")]) == 0
    for _ in range(6):
        model.step()
    app = series_table(model)
    cli = pd.read_parquet(tmp_path / "b" / "series.parquet")
    pd.testing.assert_frame_equal(app, cli, check_exact=True)
    assert app["crypto_price"].iloc[-1] < 0.9  # the preset's crash did hit
