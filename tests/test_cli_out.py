"""Output folders and memory of `powderkeg run`, `evidence` and `validate` (issue 12, items 4, 5).

A run's folder appears whole or not at all; a folder that holds anything but an earlier run is
refused unless --force; --out "" is an error; --worlds is checked against the memory available;
evidence checks --out before its long run; a bare validate does not write the tracked docs/.
"""

from __future__ import annotations

import json
import os
import signal
import tracemalloc
from pathlib import Path

import pytest

import experiments.usage as usage
from experiments.cli import build_parser, main
from experiments.run import OUTPUTS
from tests.test_cli_run import one_line_error, powderkeg

RUN = ["run", "--steps", "1", "--no-progress", "--backend", "numpy"]


def one_line(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The files of a one-week run, to copy as "an earlier run"."""
    out = tmp_path_factory.mktemp("earlier") / "run"
    assert main([*RUN, "--out", str(out)]) == 0
    return snapshot(out)


def make_run(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


# -- run: --out ------------------------------------------------------------------------------


def test_empty_out_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    one_line_error(powderkeg("run", "--steps", "1", "--out", "", cwd=tmp_path), "--out", "empty")
    assert list(tmp_path.iterdir()) == []


def test_out_with_other_files_is_refused_without_force(tmp_path: Path, capsys) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    assert main([*RUN, "--out", str(out)]) == 2
    one_line(capsys, "--out", "notes.txt", "--force")
    assert snapshot(out) == {"notes.txt": b"keep me\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_a_sweep_results_folder_is_refused(tmp_path: Path, capsys) -> None:
    out = tmp_path / "smoke"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"schema": "powderkeg.sweep/1"}))
    (out / "points").mkdir()
    before = snapshot(out / "points") | {"manifest.json": (out / "manifest.json").read_bytes()}
    assert main([*RUN, "--out", str(out)]) == 2
    one_line(capsys, "--out", "powderkeg.sweep/1", "--force")
    after = snapshot(out / "points") | {"manifest.json": (out / "manifest.json").read_bytes()}
    assert after == before and sorted(p.name for p in out.iterdir()) == ["manifest.json", "points"]


def test_a_run_folder_with_extra_files_is_refused(tmp_path: Path, earlier_run, capsys) -> None:
    out = tmp_path / "run"
    make_run(out, earlier_run)
    (out / "notes.txt").write_text("mine\n")
    assert main([*RUN, "--out", str(out)]) == 2
    one_line(capsys, "--out", "notes.txt")
    assert snapshot(out) == {**earlier_run, "notes.txt": b"mine\n"}


def test_force_writes_the_run_beside_other_files(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    assert main([*RUN, "--force", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([*OUTPUTS, "notes.txt"])
    assert (out / "notes.txt").read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging folder left


def test_an_earlier_run_is_replaced_whole(tmp_path: Path, earlier_run) -> None:
    out = tmp_path / "run"
    make_run(out, earlier_run)
    assert main([*RUN[:2], "2", *RUN[3:], "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["steps"] == 2 and manifest["schema"] == "powderkeg.run/1"
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_an_empty_folder_is_used(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    assert main([*RUN, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failing_writer_leaves_the_earlier_run_and_no_temporary_folder(
    failure: BaseException, tmp_path: Path, earlier_run, monkeypatch, capsys
) -> None:
    import experiments.figures

    def broken(*args, **kwargs):  # the last file written: the others are already staged
        raise failure

    monkeypatch.setattr(experiments.figures, "overview", broken)
    out = tmp_path / "run"
    make_run(out, earlier_run)
    status = main([*RUN, "--out", str(out)])
    if isinstance(failure, OSError):
        assert status == 2
        one_line(capsys, "--out", "No space left on device")
    else:
        assert status == 130
    assert snapshot(out) == earlier_run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    # and a new folder is not created at all
    fresh = tmp_path / "fresh"
    main([*RUN, "--out", str(fresh)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_sigterm_while_writing_leaves_the_earlier_run(tmp_path: Path, earlier_run, monkeypatch):
    import experiments.figures

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)

    handler = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(experiments.figures, "overview", terminated)
    out = tmp_path / "run"
    make_run(out, earlier_run)
    assert main([*RUN, "--out", str(out)]) == 130
    assert snapshot(out) == earlier_run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert signal.getsignal(signal.SIGTERM) == handler  # restored


def test_a_staging_folder_left_by_kill_9_is_removed_by_the_next_run(tmp_path: Path) -> None:
    stale = tmp_path / ".run.999999999.abcd.tmp"  # no such process
    stale.mkdir()
    (stale / "series.parquet").write_bytes(b"half")
    running = tmp_path / f".run.{os.getpid()}.efgh.tmp"  # this process: kept
    running.mkdir()
    assert main([*RUN, "--out", str(tmp_path / "run")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [running.name, "run"]


def test_write_directory_failure_keeps_the_folder(tmp_path: Path) -> None:
    from experiments.files import write_directory

    out = tmp_path / "x"
    out.mkdir()
    (out / "a").write_text("old")

    def fail(path: Path) -> None:
        path.write_text("half")
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError):
        write_directory(out, {"a": lambda p: p.write_text("new"), "b": fail}, replace=True)
    assert snapshot(out) == {"a": b"old"}
    assert [p.name for p in tmp_path.iterdir()] == ["x"]
    with pytest.raises(FileExistsError):
        write_directory(out, {"a": lambda p: p.write_text("new")}, replace=False)
    assert snapshot(out) == {"a": b"old"}
    write_directory(out, {"a": lambda p: p.write_text("new")}, replace=True)
    assert snapshot(out) == {"a": b"new"}
    assert [p.name for p in tmp_path.iterdir()] == ["x"]


# -- run: --worlds and memory ----------------------------------------------------------------


def test_a_million_worlds_is_refused_before_allocating(tmp_path: Path) -> None:
    out = tmp_path / "o"
    line = one_line_error(
        powderkeg("run", "--worlds", "1000000", "--out", str(out)), "--worlds", "GiB available"
    )
    assert "needs" in line
    assert not out.exists()


def test_worlds_beyond_the_available_memory_are_refused(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr(usage, "available_memory", lambda: 600 * 2**20)  # 600 MiB
    out = tmp_path / "o"
    assert main([*RUN, "--worlds", "64", "--out", str(out)]) == 2
    one_line(capsys, "argument --worlds: 64 worlds", "GiB, 0.6 GiB available", "fewer worlds")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert main([*RUN, "--worlds", "2", "--out", str(out)]) == 0  # a small run fits


def test_the_memory_estimate_covers_a_measured_run() -> None:
    """The safety factor, checked: the estimate is above what a small run really takes."""
    from experiments.run import execute, memory_estimate, resolve_config

    config = resolve_config("baseline", steps=3, n_worlds=16, seed=0, backend="numpy")
    execute(resolve_config("baseline", steps=1), "numpy", progress=False)  # load and warm up
    tracemalloc.start()
    try:
        execute(config, "numpy", progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    model, host = memory_estimate(16, config.n_cohorts, 3)
    assert peak < model + host - 512 * 2**20  # the per-world part alone covers it
    assert model + host < 512 * 2**20 + 16 * peak  # and does not refuse everything


# -- evidence --------------------------------------------------------------------------------


@pytest.fixture
def no_simulation(monkeypatch):
    import experiments.evidence_command

    def fail(*args, **kwargs):
        raise AssertionError("--out should have been refused before running")

    monkeypatch.setattr(experiments.evidence_command, "simulate", fail)


@pytest.mark.parametrize("blocker", ["s.md", "s.csv", "s.json"])
def test_evidence_out_is_checked_before_the_run(blocker, tmp_path, no_simulation, capsys):
    (tmp_path / blocker).mkdir()
    argv = ["evidence", "--worlds", "1", "--steps", "1", "--presets", "baseline", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "s.md")]) == 2
    one_line(capsys, "--out", blocker, "not a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == [blocker]


def test_evidence_out_under_a_file_is_checked_before_the_run(tmp_path, no_simulation, capsys):
    (tmp_path / "f").write_text("keep\n")
    assert main(["evidence", "--presets", "baseline", "--out", str(tmp_path / "f" / "s.md")]) == 2
    one_line(capsys, "--out")
    assert (tmp_path / "f").read_text() == "keep\n"


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (["--out", ""], ["--out", "empty"]),
        (["--worlds", "1000000"], ["--worlds", "GiB available"]),
    ],
)
def test_evidence_bad_out_and_worlds(flags, needles, tmp_path, no_simulation, capsys):
    assert main(["evidence", "--presets", "baseline", *flags]) == 2
    one_line(capsys, *needles)


# -- validate --------------------------------------------------------------------------------


def test_bare_validate_does_not_write_docs(tmp_path: Path, monkeypatch, capsys) -> None:
    assert build_parser().parse_args(["validate"]).out == Path("results") / "validation"
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "runs", "--size", "ci", "--quiet"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]
    out = tmp_path / "results" / "validation"
    assert (out / "validation.md").is_file() and (out / "validation" / "runs.json").is_file()
    assert "results/validation/validation.md" in capsys.readouterr().out


def test_validate_out_docs_is_still_the_documented_way(tmp_path: Path, monkeypatch) -> None:
    assert build_parser().parse_args(["validate", "--out", "docs"]).out == Path("docs")


def test_validate_empty_out_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "runs", "--size", "ci", "--out", ""]) == 2
    one_line(capsys, "--out", "empty")
    assert list(tmp_path.iterdir()) == []
