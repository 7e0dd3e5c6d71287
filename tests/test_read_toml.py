"""Scenario and sweep files are read with limits (issue 12, item 5): only regular files of at most
1 MiB, TOML nested at most 32 levels, and a design counted before its points are built. Every
refusal is one line, exit status 2, no traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from experiments.cli import main
from experiments.scenarios import read_toml
from experiments.usage import UsageError

BASE = """
scenario = "ai_revenue_disappointment"
steps = 4
worlds = 2
"""


def one_line(capsys: pytest.CaptureFixture[str], code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


@pytest.mark.timeout(20)  # today's reader waits for a writer forever
def test_a_named_pipe_is_refused_without_waiting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "scenario.toml"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match=r"^argument --scenario: cannot read .*not a regular file"):
        read_toml(fifo)
    err = one_line(capsys, main(["run", "--scenario", str(fifo), "--out", str(tmp_path / "o")]))
    assert "--scenario" in err and "not a regular file" in err


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null")
def test_a_device_is_refused() -> None:  # /dev/zero the same, which today is read forever
    with pytest.raises(UsageError, match="not a regular file"):
        read_toml(Path("/dev/null"))


def test_a_file_over_one_mebibyte_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.toml"
    big.write_text(BASE + ("# padding\n" * 110_000))  # valid TOML, 1.1 MB
    with pytest.raises(UsageError, match=r"larger than 1,048,576 bytes"):
        read_toml(big)
    err = one_line(capsys, main(["sweep", str(big), "--out", str(tmp_path / "o")]))
    assert f"sweep file {big}: larger than 1,048,576 bytes" in err
    assert read_toml(big, max_bytes=2 << 20)["steps"] == 4  # the cap is the only reason


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 100_000 + "]" * 100_000 + "\n",  # today: RecursionError
        "a = " + "[" * 40 + "]" * 40 + "\n",
        "a = " + "{b = " * 40 + "1" + "}" * 40 + "\n",
        ".".join(f"k{i}" for i in range(40)) + " = 1\n",
    ],
    ids=["arrays-100000", "arrays-40", "inline-tables-40", "dotted-keys-40"],
)
def test_deep_nesting_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=r"nested too deep; at most 32 levels allowed"):
        read_toml(path)
    err = one_line(capsys, main(["sweep", str(path), "--out", str(tmp_path / "o")]))
    assert f"sweep file {path}: arrays and tables nested too deep" in err
    err = one_line(capsys, main(["run", "--scenario", str(path), "--out", str(tmp_path / "r")]))
    assert f"scenario file {path}: arrays and tables nested too deep" in err


def test_ordinary_files_still_read(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(BASE + "a = " + "[" * 30 + "]" * 30 + "\n")
    assert read_toml(path)["worlds"] == 2
    root = Path(__file__).resolve().parents[1] / "experiments"
    for file in [*root.glob("scenarios/*.toml"), *root.glob("sweeps/*.toml")]:
        assert isinstance(read_toml(file), dict)
    with pytest.raises(UsageError, match=r"^argument --scenario: cannot read .*Is a directory"):
        read_toml(tmp_path)
    with pytest.raises(UsageError, match=r"^argument --scenario: cannot read .*No such file"):
        read_toml(tmp_path / "missing.toml")


# -- a design is counted before it is built --------------------------------------------------


def _forbid_expand(monkeypatch: pytest.MonkeyPatch) -> None:
    import experiments.config

    def expand(*args: object, **kwargs: object) -> None:
        raise AssertionError("the design was built before its size was checked")

    monkeypatch.setattr(experiments.config, "expand", expand)


def test_a_huge_grid_is_refused_before_it_is_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _forbid_expand(monkeypatch)  # today the 100 million rows are built first (killed for memory)
    path = tmp_path / "huge.toml"
    path.write_text(
        BASE
        + "[[parameters]]\nname = 'policy.haircut_floor'\nlow = 0.0\nhigh = 0.5\nnum = 10000\n"
        + "[[parameters]]\nname = 'policy.hedge_fund_leverage_cap'\nlow = 2.0\nhigh = 20.0\n"
        + "num = 10000\n"
    )
    err = one_line(capsys, main(["sweep", str(path), "--out", str(tmp_path / "o")]))
    assert "design: 100,000,000 points (10,000 x 10,000 values)" in err
    assert "at most 100,000 are allowed" in err
    assert not (tmp_path / "o").exists()


def test_a_huge_sobol_design_is_refused_before_it_is_sampled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _forbid_expand(monkeypatch)
    path = tmp_path / "sobol.toml"
    path.write_text(
        BASE
        + "[design]\nkind = 'sobol'\nsamples = 65536\nsecond_order = true\n"
        + "[[parameters]]\nname = 'policy.haircut_floor'\nlow = 0.0\nhigh = 0.5\n"
        + "[[parameters]]\nname = 'policy.hedge_fund_leverage_cap'\nlow = 2.0\nhigh = 20.0\n"
    )
    err = one_line(capsys, main(["sweep", str(path), "--out", str(tmp_path / "o")]))
    assert "design: 393,216 points (sobol design of 65,536 samples over 2 parameters)" in err
    assert "at most 100,000 are allowed" in err


def test_design_size_counts_what_expand_builds() -> None:
    from types import SimpleNamespace

    from experiments.sweeps.design import design_size

    grid = SimpleNamespace(kind="grid", samples=None, second_order=False)
    assert design_size(grid, [[1, 2, 3], [True, False]]) == (6, "3 x 2 values")
    assert design_size(grid, [])[0] == 1
    morris = SimpleNamespace(kind="morris", samples=10, second_order=False)
    assert design_size(morris, [(0.0, 1.0)] * 3)[0] == 40
    rnd = SimpleNamespace(kind="random", samples=7, second_order=False)
    assert design_size(rnd, [(0.0, 1.0)])[0] == 7
