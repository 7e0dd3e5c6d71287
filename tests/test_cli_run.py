"""`powderkeg run`: the outputs of a short ensemble run, and one-line errors that damage nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from abm.events import COLUMNS as EVENT_COLUMNS
from abm.reporting import AGENT_COLUMNS
from experiments.cli import main
from experiments.run import OUTPUTS, resolve_config
from experiments.usage import LIMITS, UsageError
from kernels.backend import cupy_usable

ROOT = Path(__file__).resolve().parents[1]


def powderkeg(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("powderkeg")
    command = (
        [str(script)]
        if script.is_file() and os.access(script, os.X_OK)
        else [sys.executable, "-m", "experiments.cli"]
    )
    env = {k: v for k, v in os.environ.items() if k != "POWDERKEG_BACKEND"}
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "tmp"
    proc = powderkeg("run", "--steps", "13", "--worlds", "2", "--seed", "1", "--out", str(out))
    return proc, out


def test_run_succeeds_and_prints_the_summary(ensemble):
    proc, out = ensemble
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in (
        "AI equity index",
        "Defaults: tech firms",
        "Retail loss",
        "Bank CET1",
        "Clearing converged",
        "median",
        "13 weeks",
        "2 worlds",
        str(out),
    ):
        assert needle in proc.stdout, needle
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)  # no temporary files left


def test_parquet_outputs_have_the_expected_columns(ensemble):
    _, out = ensemble
    series = pd.read_parquet(out / "series.parquet")
    assert len(series) == 14 * 2
    assert sorted(series["step"].unique()) == list(range(14))
    for column in (
        "step",
        "world",
        "ai_equity_index",
        "crypto_price",
        "treasury_price",
        "bond_price_oracle",
        "spread_change_bp_oracle",
        "defaults_firm",
        "defaults_bank",
        "fire_sale_volume_usd_bn",
        "bank_cet1_median",
        "bank_cet1_min",
        "bank_leverage_median",
        "hedge_fund_leverage_median",
        "peg_tether",
        "retail_wealth_usd_bn",
        "retail_loss_share",
        "retail_loss_share_worst_decile",
        "clearing_converged",
    ):
        assert column in series, column
    events = pd.read_parquet(out / "events.parquet")
    assert tuple(events.columns) == EVENT_COLUMNS
    agents = pd.read_parquet(out / "agents.parquet")
    assert tuple(agents.columns) == AGENT_COLUMNS
    assert len(agents) % 2 == 0 and set(agents["world"]) == {0, 1}
    assert {"firm", "bank", "fund", "stablecoin", "retail"} == set(agents["family"])


def test_figure_and_manifest(ensemble):
    _, out = ensemble
    png = (out / "overview.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["steps"] == 13 and manifest["n_worlds"] == 2
    assert manifest["parameters"]["n_cohorts"] == 1000
    assert manifest["parameters"]["dtype"] == "float64"
    assert manifest["backend"] in ("numpy", "cupy")
    assert manifest["version"]
    assert "commit" in manifest["git"]
    assert manifest["wall_time_s"] > 0
    assert manifest["clearing"]["clearings"] == 26
    assert isinstance(manifest["clearing"]["all_converged"], bool)
    assert set(manifest["accounting_gap_end"]) >= {"money", "pools", "equity"}
    for gap in manifest["accounting_gap_end"].values():
        assert len(gap["per_world"]) == 2 and gap["max_abs"] < 1e-6
    assert manifest["command"][:2] == ["powderkeg", "run"]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--scenario", "doomsday"], ["--scenario", "doomsday", "baseline"]),
        (["--scenario", "missing.toml"], ["--scenario", "missing.toml", "cannot read"]),
        (["--steps", "-1"], ["--steps", "integer from 0"]),
        (["--worlds", "0"], ["--worlds", "integer from 1"]),
        (["--seed", "x"], ["--seed"]),
        (["--backend", "tpu"], ["--backend", "numpy"]),
        (["--dtype", "float16"], ["--dtype", "float32"]),
    ],
)
def test_bad_flags_exit_2_with_one_line(args, needles, tmp_path):
    one_line_error(powderkeg("run", *args, "--out", str(tmp_path / "o")), *needles)
    assert not (tmp_path / "o").exists()


SCENARIO_FILES = [
    ('scenario = "baseline"\n[model\n', ["not valid TOML"]),
    ('scenario = "baseline"\nshocks = 3\n', ["unknown key 'shocks'", "scenario", "[model]"]),
    ("[model]\nsteps = 3\n", ["missing key 'scenario'", "baseline"]),
    ('scenario = "crash"\n', ["scenario must be one of", "'baseline'", "'crash'"]),
    ('scenario = "baseline"\n[model]\nn_worlds = 0\n', ["n_worlds", "from 1 to"]),
    ('scenario = "baseline"\n[model]\nsteps = -5\n', ["steps", "from 0 to"]),
    ('scenario = "baseline"\n[model]\nsteps = "ten"\n', ["steps", "integer", "'ten'"]),
    ('scenario = "baseline"\n[model]\nseed = true\n', ["seed", "integer"]),
    ('scenario = "baseline"\n[model]\nn_cohorts = 2\n', ["n_cohorts", "from 4 to"]),
    ('scenario = "baseline"\n[model]\ncohorts = 9\n', ["unknown key [model] 'cohorts'"]),
    ('scenario = "baseline"\nmodel = 3\n', ["model must be a table"]),
]


@pytest.mark.parametrize(("text", "needles"), SCENARIO_FILES)
def test_bad_scenario_files_exit_2_naming_the_field(text, needles, tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(text)
    out = tmp_path / "o"
    assert main(["run", "--scenario", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("powderkeg run: error: ")
    for needle in needles:
        assert needle in err, err
    assert not out.exists()


def test_broken_file_in_a_subprocess_and_existing_out_is_not_damaged(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    keep = out / "series.parquet"
    keep.write_bytes(b"an earlier run")
    (out / "notes.txt").write_text("keep me\n")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe not text")
    one_line_error(powderkeg("run", "--scenario", str(bad), "--out", str(out)), "UTF-8")
    one_line_error(powderkeg("run", "--steps", "-3", "--out", str(out)), "--steps")
    assert keep.read_bytes() == b"an earlier run"
    assert (out / "notes.txt").read_text() == "keep me\n"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "series.parquet"]


def test_out_that_is_a_file_exits_2(tmp_path):
    blocker = tmp_path / "results.txt"
    blocker.write_text("keep me\n")
    one_line_error(powderkeg("run", "--steps", "1", "--out", str(blocker)), "--out")
    assert blocker.read_text() == "keep me\n"


@pytest.mark.skipif(cupy_usable(), reason="a GPU answers here, so cupy is a valid backend")
def test_unavailable_cupy_exits_2(tmp_path):
    out = tmp_path / "o"
    one_line_error(powderkeg("run", "--backend", "cupy", "--out", str(out)), "--backend", "cupy")
    assert not out.exists()


def test_scenario_file_values_and_flags_that_win(tmp_path, capsys):
    path = tmp_path / "small.toml"
    path.write_text(
        'scenario = "baseline"\ndescription = "a small test"\n'
        "[model]\nn_cohorts = 8\nn_worlds = 1\nseed = 4\nsteps = 5\n"
    )
    out = tmp_path / "o"
    argv = ["run", "--scenario", str(path), "--steps", "2", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "2 weeks" in printed and "1 world " in printed and "value" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["steps"] == 2  # the flag wins over the file
    assert manifest["seed"] == 4 and manifest["parameters"]["n_cohorts"] == 8
    assert manifest["scenario"] == "baseline" and manifest["scenario_file"] == str(path)
    assert manifest["parameters"]["description"] == "a small test"
    assert manifest["command"] == ["powderkeg", *argv]
    assert len(pd.read_parquet(out / "series.parquet")) == 3
    # a second run replaces the files in place
    assert main([*argv[:4], "1", *argv[5:]]) == 0
    assert len(pd.read_parquet(out / "series.parquet")) == 2


def test_defaults_and_resolution_touch_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = resolve_config("baseline")
    assert (config.steps, config.n_worlds, config.seed, config.n_cohorts) == (260, 1, 0, 1000)
    assert config.out == Path("results") / "baseline"
    path = tmp_path / "mine.toml"
    path.write_text('scenario = "baseline"\n')
    assert resolve_config(str(path)).out == Path("results") / "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.toml"]
    with pytest.raises(UsageError, match="--scenario"):
        resolve_config("nope")
    assert LIMITS["steps"][0] == 0 and LIMITS["n_worlds"][0] == 1


def test_help_lists_the_flags(capsys):
    assert main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("--scenario", "--steps", "--worlds", "--seed", "--backend", "--dtype", "--out"):
        assert flag in text


REPLAY = """replay = 1
scenario = "baseline"
[model]
n_cohorts = 8
steps = 3
[calibration]
"sentiment.crypto_correlation_panic" = 0.8
[[shocks]]
schedule = 1
kind = "ai_hype"
week = 2
size = -0.2
range = [-0.3, -0.1]
source = "a test"
[[shocks]]
schedule = 2
kind = "ai_hype"
week = 2
size = -0.2
range = [-0.3, -0.1]
source = "the same shock again, drawn from its own schedule"
"""


def test_a_replay_file_runs_from_the_command_line(tmp_path):
    """A replay file (experiments.replay) through the installed script; flags win over it."""
    path = tmp_path / "replay.toml"
    path.write_text(REPLAY)
    out = tmp_path / "out"
    proc = powderkeg("run", "--scenario", str(path), "--worlds", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["n_worlds"] == 2 and manifest["parameters"]["steps"] == 3
    shocks = manifest["parameters"]["definition"]["shocks"]
    assert [s["source"] for s in shocks] == [
        "a test",
        "the same shock again, drawn from its own schedule",
    ]
    series = pd.read_parquet(out / "series.parquet")
    assert len(series) == 2 * 4
    assert "replay file exported by the app" in " ".join(powderkeg("run", "--help").stdout.split())
    path.write_text(REPLAY.replace("replay = 1", "replay = 2"))
    one_line_error(powderkeg("run", "--scenario", str(path)), "replay must be 1")


def test_float32_run_records_its_dtype(tmp_path):
    out = tmp_path / "f32"
    args = ("--steps", "4", "--worlds", "2", "--dtype", "float32", "--out", str(out))
    proc = powderkeg("run", *args)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["dtype"] == "float32"
    for gap in manifest["accounting_gap_end"].values():  # float32 rounding, well under 1 USD bn
        assert gap["max_abs"] < 1.0
