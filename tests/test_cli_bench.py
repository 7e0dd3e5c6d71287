"""`powderkeg bench`: the quick benchmark end to end, and one-line errors for bad input.

Performance is reported, never asserted: these tests check the structure of the output only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.cli import COMMANDS, main
from kernels.backend import cupy_usable

ROOT = Path(__file__).resolve().parents[1]


def powderkeg_command() -> list[str]:
    """The installed console script next to the interpreter, else ``python -m experiments.cli``."""
    script = Path(sys.executable).with_name("powderkeg")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "experiments.cli"]


def powderkeg(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "POWDERKEG_BACKEND"}
    environment.update(env or {})
    return subprocess.run(
        [*powderkeg_command(), *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = powderkeg("bench", "--quick", "--backend", "numpy", "--out", str(out))
    return proc, out


def test_quick_bench_succeeds_and_prints_the_table(quick_run):
    proc, _ = quick_run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    out = proc.stdout
    for section in ("fire_sale: N=", "per-agent loop", "eisenberg_noe (float64)"):
        assert section in out
    for header in ("rounds/s", "updates/s", "iterations"):
        assert header in out
    assert "backend numpy" in out


def test_quick_bench_writes_timestamped_and_latest_json(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stderr
    stamped = sorted(out.glob("kernels-*.json"))
    assert len(stamped) == 1
    assert stamped[0].name.endswith("Z.json")
    latest = json.loads((out / "latest.json").read_text())
    assert json.loads(stamped[0].read_text()) == latest
    assert str(stamped[0]) in proc.stdout


def test_quick_bench_json_structure(quick_run):
    _, out = quick_run
    data = json.loads((out / "latest.json").read_text())
    assert data["schema"] == "powderkeg.bench.kernels/1"
    assert data["mode"] == "quick"
    assert isinstance(data["seed"], int)

    meta = data["metadata"]
    assert meta["backend"] == "numpy"
    assert meta["device"] == "cpu"
    for key in ("created_utc", "cpu_count", "platform", "copy_bandwidth_GB_per_s"):
        assert key in meta
    assert meta["versions"]["numpy"]
    assert meta["versions"]["array_api_compat"]

    rows = data["firesale"]["rows"]
    assert {r["dtype"] for r in rows} == {"float32", "float64"}
    assert {r["E"] for r in rows} >= {1, 10}
    for r in rows:
        assert r["kernel"] == "fire_sale"
        assert r["M"] == 27
        assert r["rounds"] >= 1
        assert r["converged"] is True
        assert r["repeats"] >= 1
        assert r["best_s"] > 0
        assert r["world_rounds_min"] * r["E"] <= r["world_rounds"] <= r["rounds"] * r["E"]
        assert r["updates_per_s"] == pytest.approx(
            r["N"] * r["M"] * r["world_rounds"] / r["best_s"]
        )
        assert r["rounds_per_s"] == pytest.approx(r["rounds"] / r["best_s"])

    loop = data["loop"]
    assert loop["status"] in ("ok", "skipped")
    if loop["status"] == "ok":
        assert loop["ratio_per_round"] > 0
        assert data["loop_ratio_per_round"] == loop["ratio_per_round"]
        assert loop["rounds"] == loop["kernel_rounds"]
        assert loop["max_abs_price_diff"] < 1e-9  # the same instance, float64, both converged
    else:
        assert loop["note"]
        assert data["loop_ratio_per_round"] is None

    clearing = data["clearing"]["rows"]
    assert clearing
    for r in clearing:
        assert r["kernel"] == "eisenberg_noe"
        if "skipped" not in r:
            assert r["iterations"] >= 1
            assert r["converged"] is True
            assert 0.0 < r["defaulted_share"] < 1.0


def one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["bench", "--dtype", "float16"], ["--dtype", "float32", "float64", "both"]),
        (["bench", "--backend", "tpu"], ["--backend", "auto", "numpy", "cupy"]),
        (["bench", "--bogus"], ["--bogus", "--quick", "--backend", "--out", "--dtype"]),
        (["bench", "--seed", "-1"], ["--seed", "non-negative"]),
        (["frobnicate"], ["frobnicate", "bench"]),
        ([], ["bench"]),
    ],
)
def test_bad_input_exits_2_with_one_line(args, needles):
    one_line_error(powderkeg(*args), *needles)


def test_unwritable_out_exits_2_and_damages_nothing(tmp_path):
    blocker = tmp_path / "results.txt"
    blocker.write_text("keep me\n")
    one_line_error(powderkeg("bench", "--quick", "--out", str(blocker)), "--out", str(blocker))
    one_line_error(powderkeg("bench", "--quick", "--out", str(blocker / "sub")), "--out")
    assert blocker.read_text() == "keep me\n"


def test_bad_backend_environment_exits_2():
    proc = powderkeg("bench", "--quick", env={"POWDERKEG_BACKEND": "tpu"})
    one_line_error(proc, "POWDERKEG_BACKEND", "auto, numpy, cupy")


@pytest.mark.skipif(cupy_usable(), reason="a GPU answers here, so cupy is a valid backend")
def test_unavailable_cupy_exits_2(tmp_path):
    proc = powderkeg("bench", "--quick", "--backend", "cupy", "--out", str(tmp_path))
    one_line_error(proc, "--backend", "cupy", "numpy")
    assert not list(tmp_path.iterdir())


def test_main_returns_exit_codes_and_help(capsys):
    assert "bench" in COMMANDS
    assert main(["--help"]) == 0
    assert "bench" in capsys.readouterr().out
    assert main(["bench", "--help"]) == 0
    help_text = capsys.readouterr().out
    for flag in ("--quick", "--backend", "--out", "--dtype", "examples:"):
        assert flag in help_text
    assert main(["bench", "--dtype", "half"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--dtype" in err
