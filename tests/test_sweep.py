"""`powderkeg sweep` for real: Dask LocalCluster and scheduler address, resume after SIGINT and
SIGKILL (same dataset, byte for byte), the lock, and every parameter kind reaching the model."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments.cli import main
from experiments.config import load_sweep
from experiments.scenarios import load_preset
from experiments.sweeps.parameters import apply_values, build_point_model, parameter_table
from experiments.sweeps.store import ResultsDir
from experiments.usage import UsageError

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "experiments" / "sweeps" / "smoke.toml"
POWDERKEG = Path(sys.executable).parent / "powderkeg"


def sweep(*args: str) -> int:
    return main(["sweep", str(SMOKE), "--no-progress", *args])


def dataset(out: Path) -> dict[str, bytes]:
    """Every Parquet file of a results directory, by relative path, as bytes."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for folder in ("worlds", "series")
        for p in sorted((out / folder).glob("*.parquet"))
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke sweep, uninterrupted, on a LocalCluster of 2 worker processes."""
    out = tmp_path_factory.mktemp("reference")
    assert sweep("--out", str(out), "--local-cluster", "2") == 0
    return out


def test_smoke_sweep_writes_one_file_per_point_and_a_manifest(reference: Path) -> None:
    config = load_sweep(SMOKE)
    assert len(config.points) <= 8 and config.spec.worlds <= 2 and config.spec.steps <= 13
    files = sorted(p.name for p in (reference / "worlds").glob("*.parquet"))
    assert files == [f"point-{i:06d}.parquet" for i in range(len(config.points))]
    store = ResultsDir(reference)
    worlds = store.read_worlds()
    assert len(worlds) == len(config.points) * config.spec.worlds
    assert set(config.swept) <= set(worlds.columns)
    for point in config.points:  # every row carries its point's values and its world's seed
        rows = worlds[worlds["point"] == point.index]
        for name, value in point.values.items():
            assert (rows[name] == value).all()
        assert rows["seed"].tolist() == [point.seed + w for w in range(config.spec.worlds)]
    assert worlds["clearing_converged"].all()
    assert worlds["accounting_gap_usd_bn"].max() < 1e-6
    series = store.read_series()
    assert len(series) == len(config.points) * config.spec.worlds * (config.spec.steps + 1)
    assert list(series.columns[:3]) == ["point", "step", "world"]
    lowest = series.groupby(["point", "world"])["bank_cet1_min"].min().to_numpy()
    assert worlds["bank_cet1_low"].to_numpy() == pytest.approx(lowest)
    assert ((worlds["bank_cet1_low"] > 0) & (worlds["bank_cet1_low"] < 1)).all()

    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["status"]["state"] == "complete"
    assert manifest["fingerprint"] == config.fingerprint()
    assert sorted(map(int, manifest["runs"])) == list(range(len(config.points)))
    run = manifest["runs"]["0"]
    assert run["backend"] in ("numpy", "cupy") and run["wall_s"] > 0
    session = manifest["sessions"][0]
    assert "local cluster, 2 worker processes" == session["engine"]
    assert "git" in session and "version" in session
    assert len(manifest["plan"]["points"]) == len(config.points)
    assert not list(reference.rglob("*.tmp"))


def test_parameters_change_the_outcome(reference: Path) -> None:
    worlds = ResultsDir(reference).read_worlds()
    loss = worlds.groupby("shocks.ai_hype.size")["ai_equity_drawdown_pct"].mean()
    assert loss[-0.4] > loss[-0.1] + 5  # a bigger AI shock, a deeper drawdown
    volume = worlds.groupby("channels.fire_sales")["fire_sale_volume_usd_bn"].mean()
    assert volume[True] != volume[False]


def test_finished_sweep_resumes_to_nothing_and_refuses_without_resume(
    reference: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = dataset(reference)
    leftover = reference / "worlds" / ".point-000003.parquet.abc123.tmp"  # as a kill leaves it
    leftover.write_bytes(b"half a file")
    assert sweep("--out", str(reference), "--resume") == 0
    assert "all 8 points already finished" in capsys.readouterr().out
    assert not leftover.exists()
    assert sweep("--out", str(reference)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass --resume" in err
    assert dataset(reference) == before


def test_resume_refuses_a_different_sweep(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.toml"
    other.write_text(SMOKE.read_text().replace("seed = 0", "seed = 5"))
    assert main(["sweep", str(other), "--out", str(reference), "--resume"]) == 2
    assert "holds a different sweep" in capsys.readouterr().err


def test_scheduler_address_gives_the_same_dataset(reference: Path, tmp_path: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert sweep("--out", str(tmp_path), "--scheduler", cluster.scheduler_address) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["sessions"][0]["engine"].startswith(f"scheduler {cluster.scheduler_address}")
    assert dataset(tmp_path) == dataset(reference)


def test_unreachable_scheduler_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sweep("--out", str(tmp_path), "--scheduler", "not-an-address") == 2
    assert "tcp://HOST:PORT" in capsys.readouterr().err


def test_lock_refuses_a_second_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ResultsDir(tmp_path).locked():
        assert sweep("--out", str(tmp_path), "--local-cluster", "1") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "another sweep is writing" in err
    assert not (tmp_path / "worlds").exists()


# -- killing a real sweep -------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The smoke sweep at a year a point and its uninterrupted run.

    Points four times longer than the smoke sweep's leave the kill a wide margin: it must land
    while points are still to come, however fast the machine.
    """
    folder = tmp_path_factory.mktemp("slow")
    path = folder / "slow.toml"
    path.write_text(SMOKE.read_text().replace("steps = 13", "steps = 52"))
    out = folder / "reference"
    assert main(["sweep", str(path), "--no-progress", "--out", str(out),
                 "--local-cluster", "2"]) == 0  # fmt: skip
    return path, out


def _start(out: Path, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(POWDERKEG), "sweep", str(path), "--out", str(out), "--local-cluster", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: its Dask workers go with it
        # a shell starting the suite as a background job ignores SIGINT, and the child would
        # inherit that; give it the default, so Python turns SIGINT into KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for_points(out: Path, proc: subprocess.Popen[str], n: int) -> int:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        done = len(ResultsDir(out).finished())
        if done >= n or proc.poll() is not None:
            return done
        time.sleep(0.02)
    raise AssertionError("the sweep wrote no point in time")


def _end_group(proc: subprocess.Popen[str]) -> None:
    """Stop what is left of the process group this test started (orphaned Dask workers)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_killed_sweep_resumes_to_the_uninterrupted_dataset(
    slow: tuple[Path, Path], tmp_path: Path, sig: signal.Signals
) -> None:
    path, reference = slow
    proc = _start(tmp_path, path)
    try:
        done = _wait_for_points(tmp_path, proc, 1)
        assert proc.poll() is None, proc.communicate()
        # while it runs, its lock (held by another process) refuses a second sweep
        with pytest.raises(UsageError, match=r"another sweep is writing .* \(pid \d+ since"):
            with ResultsDir(tmp_path).locked():
                pass
        proc.send_signal(sig)
        proc.wait(timeout=120)
    finally:
        _end_group(proc)
    _, err = proc.communicate()
    finished = ResultsDir(tmp_path).finished()
    assert 1 <= done <= len(finished) < 8, "killed too late to test anything"
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted" in err
        manifest = json.loads((tmp_path / "manifest.json").read_text())
        assert manifest["status"]["state"] == "interrupted"
    else:
        assert proc.returncode == -signal.SIGKILL
    resume = ["sweep", str(path), "--no-progress", "--out", str(tmp_path), "--resume"]
    assert main([*resume, "--local-cluster", "2"]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["sessions"][-1]["skipped_finished_points"] == len(finished)
    assert manifest["status"]["state"] == "complete"
    assert dataset(tmp_path) == dataset(reference)
    a, b = ResultsDir(tmp_path).read_worlds(), ResultsDir(reference).read_worlds()
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not list(tmp_path.rglob("*.tmp"))


# -- every kind of parameter reaches the model ----------------------------------------------


def test_every_policy_field_and_channel_is_sweepable() -> None:
    from abm.channels import Channels
    from abm.policy import Policy

    table = parameter_table(load_preset("baseline"))
    for field in dataclasses.fields(Policy):
        assert f"policy.{field.name}" in table
    for name in Channels.names():
        assert f"channels.{name}" in table
    assert "model.n_cohorts" in table and "channels" in table


def test_point_values_reach_the_model() -> None:
    scenario = load_preset("ai_revenue_disappointment")
    values = {
        "policy.hedge_fund_leverage_cap": 6.0,
        "policy.capital_regime": "eu",
        "policy.deposit_insurance": 0.25,
        "channels": "fire_sales",
        "channels.bank_runs": True,
        "shocks.revenue_shortfall.size": -0.45,
        "shocks[1].week": 9,
        "model.n_cohorts": 20,
    }
    model = build_point_model(scenario, values, n_worlds=3, seed=4, backend="numpy")
    assert model.policy.hedge_fund_leverage_cap == 6.0
    assert model.policy.capital_regime == "eu"
    assert model.policy.deposit_insurance == 0.25
    assert model.channels.fire_sales and model.channels.bank_runs
    assert not model.channels.margin_calls and not model.channels.circular_deals
    schedule = model.shock_schedules[-1]
    assert schedule.shocks[0].size == -0.45 and schedule.shocks[0].range is None
    assert (schedule.sizes[0] == -0.45).all()  # the same size in every world
    assert schedule.shocks[1].week == 9
    assert schedule.shocks[1].range is not None  # untouched fields keep the preset's range
    assert model.roster.blocks["retail"][1] - model.roster.blocks["retail"][0] == 20
    assert model.n_worlds == 3 and model.seed == 4


def test_unset_parameters_keep_the_scenario() -> None:
    scenario = load_preset("policy_backstop")
    args = apply_values(scenario, {})
    assert args["policy"].market_maker_of_last_resort is True
    assert args["shocks"] == scenario.shocks
    assert all(getattr(args["channels"], n) for n in args["channels"].names())


def test_local_workers_keep_single_threaded_blas_but_not_malloc_trimming() -> None:
    from experiments.sweeps.engine import worker_environment

    environ = worker_environment()
    assert "MALLOC_TRIM_THRESHOLD_" not in environ  # 4x slower model steps (README, Scale)
    assert str(environ.get("OMP_NUM_THREADS")) == "1"
