"""A sweep's results stay trustworthy (issue 12, item 4): each point's record lives with its
Parquet files, ``--resume`` refuses other code or calibration unless ``--allow-mixed``, a failed
point never breaks ``--resume``, a bad ``--scheduler`` leaves nothing behind, and a point whose
world's state became non-finite is failed, never counted (sweep and report)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import experiments.sweeps.engine as engine
from experiments.cli import main
from experiments.sweeps import point as point_module
from experiments.sweeps.point import PointFailed, PointTask, stopped_reason
from experiments.sweeps.store import ResultsDir

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "experiments" / "sweeps" / "smoke.toml"


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """An in-process Dask cluster: a monkeypatched ``run_point`` reaches its workers."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def sweep(out: Path, scheduler: str, *args: str) -> int:
    return main(
        ["sweep", str(SMOKE), "--no-progress", "--out", str(out), "--scheduler", scheduler, *args]
    )


def manifest_of(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, scheduler: str) -> Path:
    out = tmp_path_factory.mktemp("reference")
    assert sweep(out, scheduler) == 0
    return out


@pytest.fixture
def results(reference: Path, tmp_path: Path) -> Path:
    """A copy of the finished smoke sweep to change."""
    out = tmp_path / "results"
    shutil.copytree(reference, out)
    return out


# -- 1. a point's record lives with its Parquet files -------------------------------------------


def test_every_point_has_its_record_beside_its_files(reference: Path) -> None:
    manifest = manifest_of(reference)
    store = ResultsDir(reference)
    records = store.read_runs()
    assert sorted(map(int, records)) == sorted(store.finished()) == list(range(8))
    for index, record in records.items():
        assert record == manifest["runs"][index]
        assert record["wall_s"] > 0 and record["clearing_converged"] is True
        assert record["code_sha256"] == manifest["code"]["source_sha256"]


def test_resume_rebuilds_the_manifest_from_the_points_records(
    results: Path, scheduler: str
) -> None:
    """A kill after a point's files but before the manifest update loses nothing."""
    manifest = manifest_of(results)
    records = {k: dict(r) for k, r in manifest["runs"].items()}
    manifest["runs"] = {k: r for k, r in manifest["runs"].items() if int(k) < 3}
    manifest["status"]["state"] = "running"
    (results / "manifest.json").write_text(json.dumps(manifest))
    assert sweep(results, scheduler, "--resume") == 0
    rebuilt = manifest_of(results)
    assert rebuilt["runs"] == records
    assert rebuilt["status"]["state"] == "complete"


def test_a_record_without_its_worlds_file_is_not_a_finished_point(
    results: Path, scheduler: str
) -> None:
    (results / "worlds" / "point-000004.parquet").unlink()  # killed before the last rename
    before = json.loads((results / "runs" / "point-000004.json").read_text())
    assert "4" not in ResultsDir(results).read_runs()
    assert sweep(results, scheduler, "--resume") == 0
    after = manifest_of(results)["runs"]["4"]
    assert after["session"] == 1 and after != before
    assert after == json.loads((results / "runs" / "point-000004.json").read_text())


# -- 2. resume refuses other code or calibration unless --allow-mixed ---------------------------


def test_resume_after_a_code_change_is_refused_unless_mixing_is_asked_for(
    results: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    real = engine.code_identity()
    (results / "worlds" / "point-000006.parquet").unlink()
    before = (results / "manifest.json").read_bytes()
    for changed, word in (("source_sha256", "code"), ("calibration_sha256", "calibration")):
        monkeypatch.setattr(engine, "code_identity", lambda c=changed: {**real, c: "0" * 64})
        assert sweep(results, scheduler, "--resume") == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert f"made with other {word} than this one" in err and "--allow-mixed" in err
        assert (results / "manifest.json").read_bytes() == before
    assert sweep(results, scheduler, "--resume", "--allow-mixed") == 0
    manifest = manifest_of(results)
    assert manifest["code"]["source_sha256"] == real["source_sha256"]  # the first code's
    assert manifest["sessions"][-1]["allow_mixed"] is True
    assert manifest["sessions"][-1]["code"]["calibration_sha256"] == "0" * 64
    assert manifest["runs"]["6"]["calibration_sha256"] == "0" * 64  # this point says so
    assert manifest["runs"]["5"]["calibration_sha256"] == real["calibration_sha256"]


def test_code_identity_follows_the_source_and_the_calibration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "abm" / "data").mkdir(parents=True)
    (tmp_path / "kernels").mkdir()
    (tmp_path / "abm" / "model.py").write_text("x = 1\n")
    (tmp_path / "kernels" / "k.py").write_text("y = 1\n")
    (tmp_path / "abm" / "data" / "calibration.toml").write_text("a = 1\n")
    monkeypatch.setattr(engine, "ROOT", tmp_path)

    first = engine.code_identity()
    (tmp_path / "abm" / "data" / "calibration.toml").write_text("a = 2\n")
    second = engine.code_identity()
    (tmp_path / "kernels" / "k.py").write_text("y = 2\n")
    third = engine.code_identity()
    assert first["source_sha256"] == second["source_sha256"] != third["source_sha256"]
    assert first["calibration_sha256"] != second["calibration_sha256"]
    assert second["calibration_sha256"] == third["calibration_sha256"]
    assert "commit" in first["git"]


# -- 3. a failed point never makes --resume crash -----------------------------------------------


def flaky_run_point(task: PointTask) -> point_module.PointResult:
    """Point 3 fails; point 5's record carries a NaN accounting gap (a broken number)."""
    if task.point == 3:
        raise PointFailed("non-finite state in week 4 of world 1")
    result = point_module.run_point(task)
    if task.point == 5:
        result.record["accounting_gap_usd_bn"] = float("nan")
        result.record["wall_s"] = float("nan")
    return result


def test_a_failed_point_then_resume(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(engine, "run_point", flaky_run_point)
    assert sweep(tmp_path, scheduler) == 1
    err = capsys.readouterr().err
    assert "point 3: PointFailed: non-finite state in week 4 of world 1" in err
    manifest = manifest_of(tmp_path)
    assert manifest["failed"] == {"3": "PointFailed: non-finite state in week 4 of world 1"}
    assert manifest["status"]["state"] == "stopped"
    assert 3 not in ResultsDir(tmp_path).finished()  # never counted: no files
    monkeypatch.setattr(engine, "run_point", point_module.run_point)
    assert sweep(tmp_path, scheduler, "--resume") == 0  # today: TypeError on the NaN (null)
    manifest = manifest_of(tmp_path)
    assert manifest["convergence"]["non_finite_accounting_gap_points"] == [5]
    assert manifest["failed"] == {} and manifest["status"]["state"] == "complete"
    assert manifest["runs"]["5"]["accounting_gap_usd_bn"] is None
    assert manifest["convergence"]["largest_accounting_gap_usd_bn"] < 1e-6
    assert sweep(tmp_path, scheduler, "--resume") == 0  # and again, with nothing left to run


# -- 4. a bad --scheduler leaves no lock and no "running" manifest ------------------------------


@pytest.mark.parametrize("address", ["not-an-address", "tcp://127.0.0.1:1"])
def test_a_bad_scheduler_leaves_nothing_behind(
    tmp_path: Path,
    address: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(engine, "SCHEDULER_TIMEOUT", "2s")
    out = tmp_path / "out"
    code = main(["sweep", str(SMOKE), "--no-progress", "--out", str(out), "--scheduler", address])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "argument --scheduler" in err
    assert not (out / ".lock").exists() and not (out / "manifest.json").exists()
    assert not any(out.iterdir())


def test_a_bad_scheduler_leaves_a_resumed_sweep_as_it_was(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (results / "worlds" / "point-000002.parquet").unlink()
    (results / ".lock").unlink(missing_ok=True)
    before = (results / "manifest.json").read_bytes()
    assert sweep(results, "not-an-address", "--resume") == 2
    assert "tcp://HOST:PORT" in capsys.readouterr().err
    assert (results / "manifest.json").read_bytes() == before
    assert not (results / ".lock").exists()


def test_a_crash_mid_sweep_never_leaves_the_manifest_running(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ResultsDir, "write_point", broken_disk)
    with pytest.raises(OSError, match="No space left"):
        sweep(tmp_path, scheduler)
    assert manifest_of(tmp_path)["status"]["state"] == "stopped"


# -- 7. a world whose state became non-finite fails its point -----------------------------------


def series_frame(stopped: dict[int, int] | None, worlds: int = 3, steps: int = 6) -> pd.DataFrame:
    """A recorded series: ``stopped`` maps a world to the week it stopped (None: no column)."""
    rows = [(s, w) for s in range(steps + 1) for w in range(worlds)]
    frame = pd.DataFrame(rows, columns=["step", "world"])
    frame["bank_cet1_min"] = 0.1
    if stopped is not None:
        frame["world_stopped"] = [w in stopped and s >= stopped[w] for s, w in rows]
    return frame


def test_stopped_reason_names_the_week_and_world() -> None:
    assert stopped_reason(series_frame(None)) is None  # an older model: no world stopped
    assert stopped_reason(series_frame({})) is None
    assert stopped_reason(series_frame({1: 4})) == "non-finite state in week 4 of world 1"
    assert stopped_reason(series_frame({2: 3, 0: 5}), {2: "non-finite prices"}) == (
        "non-finite state in week 3 of world 2 (non-finite prices); 2 worlds stopped"
    )


def test_a_point_whose_world_stopped_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from abm.reporting import Recorder
    from experiments.config import load_sweep

    frame = Recorder.frame

    def with_a_stopped_world(self: Recorder) -> pd.DataFrame:
        series = frame(self)
        series["world_stopped"] = (series["world"] == 1) & (series["step"] >= 2)
        return series

    config = load_sweep(SMOKE)
    p = config.points[0]
    task = PointTask(
        point=0,
        values=p.values,
        scenario=config.scenario,
        seed=p.seed,
        worlds=2,
        steps=3,
        backend="numpy",
        series=("bank_cet1_min",),
        columns=tuple((n, config.table[n].kind) for n in p.values),
    )
    result = point_module.run_point(task)  # healthy: a result (whether or not the column exists)
    assert result.worlds["clearing_converged"].all()
    monkeypatch.setattr(Recorder, "frame", with_a_stopped_world)
    with pytest.raises(PointFailed, match=r"^non-finite state in week 2 of world 1"):
        point_module.run_point(task)


def test_the_report_leaves_out_points_with_a_stopped_world(results: Path, tmp_path: Path) -> None:
    from experiments.report import make_report

    file = results / "worlds" / "point-000001.parquet"
    worlds = pd.read_parquet(file)
    worlds["world_stopped"] = np.array([False, True])
    worlds["banking_crisis"] = True  # what broken numbers might say
    worlds.to_parquet(file, index=False)
    for other in sorted((results / "worlds").glob("point-*.parquet")):
        if other != file:
            frame = pd.read_parquet(other)
            frame["world_stopped"] = False
            frame.to_parquet(other, index=False)
    (tmp_path / "report").mkdir()
    page = make_report(results, tmp_path / "report")
    points = pd.read_csv(tmp_path / "report" / "points.csv")
    assert 1 not in points["point"].tolist() and len(points) == 7
    assert "world_stopped" not in points.columns
    assert points["banking_crisis"].max() < 1  # the smoke sweep has no banking crisis
    text = page.read_text()
    assert "Failed points" in text and "point 1: a world&#x27;s state became non-finite" in text
