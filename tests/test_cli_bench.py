"""`powderkeg bench`: the quick benchmark (kernels and model) end to end, and one-line errors.

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
from kernels.backend import STATE_DTYPES, cupy_usable

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
    for section in (
        "fire_sale: N=",
        "per-agent loop",
        "eisenberg_noe (float64)",
        "model: abm.model.Powderkeg",
        "full baseline: E=1, 260 weeks",
        "Python overhead per step",
        "phases of one step",
    ):
        assert section in out
    for header in ("rounds/s", "updates/s", "iterations", "world-steps/s", "vs E=1", "share"):
        assert header in out
    assert "backend numpy" in out


def test_quick_bench_writes_timestamped_and_latest_json(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stderr
    stamped = sorted(out.glob("bench-*.json"))
    assert len(stamped) == 1
    assert stamped[0].name.endswith("Z.json")
    latest = json.loads((out / "latest.json").read_text())
    assert json.loads(stamped[0].read_text()) == latest
    assert str(stamped[0]) in proc.stdout


def test_quick_bench_json_structure(quick_run):
    _, out = quick_run
    data = json.loads((out / "latest.json").read_text())
    assert data["schema"] == "powderkeg.bench/2"
    assert data["sections"] == ["kernels", "model"]
    assert data["kernels_schema"] == "powderkeg.bench.kernels/1"
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


#: rules of the week (abm.rules) and the snapshot the phase breakdown must find
REQUIRED_PHASES = ("sentiment", "firms operate", "valuation", "fire sale", "failures", "snapshot")


def check_model_section(model: dict) -> None:
    """Structure of the model benchmark's JSON (no timing thresholds)."""
    assert model["schema"] == "powderkeg.bench.model/1"
    assert model["mode"] == "quick"
    assert model["plan"]["cohorts"] == 1000
    assert set(model["definitions"]) >= {"s_per_step", "vs_E1", "overhead_s_per_step", "phases"}
    assert model["notes"] == []

    base = model["baseline"]
    assert "error" not in base, base
    assert (base["E"], base["cohorts"], base["steps"], base["dtype"]) == (1, 1000, 260, "float64")
    assert base["target_s"] == 10.0
    assert isinstance(base["meets_target"], bool)
    assert base["meets_target"] == (base["total_s"] < base["target_s"])
    assert base["total_s"] == min(base["totals_s"])
    assert len(base["totals_s"]) == base["repeats"] >= 1
    assert 1 <= base["steps_run"] <= 260
    assert base["complete"] == (base["steps_run"] == 260)
    assert base["build_s"] > 0 and base["steps_s"] > 0

    over = model["overhead"]
    assert "error" not in over, over
    assert (over["E"], over["cohorts"]) == (1, model["plan"]["small_cohorts"])

    rows = model["rows"]
    assert [r["E"] for r in rows] == [1, 10]
    for r in rows:
        assert "error" not in r and "skipped" not in r, r
        assert r["cohorts"] == 1000 and r["dtype"] == "float64"
        assert r["N"] > r["cohorts"] and r["M"] >= 1
        assert r["steps"] == len(r["step_wall_s"]) >= model["plan"]["min_steps"]
        assert r["s_per_step"] > 0 and r["cpu_s_per_step"] >= 0
        assert r["world_steps_per_s"] == pytest.approx(r["E"] / r["s_per_step"])
        assert r["steps_per_s"] == pytest.approx(1 / r["s_per_step"])
        assert r["vs_E1_per_world"] == pytest.approx(r["vs_E1"] / r["E"])
        assert r["array_s_per_step"] == pytest.approx(r["s_per_step"] - over["s_per_step"])
        assert r["overhead_s_per_step"] == over["s_per_step"]
        assert set(r["kernel_iterations"]) <= {"fire_sale", "eisenberg_noe"}
        for it in r["kernel_iterations"].values():
            assert 0 <= it["mean"] <= it["max"] <= it["total"]
    assert rows[0]["vs_E1"] == pytest.approx(1.0)

    phases = model["phases"]
    assert [p["E"] for p in phases] == list(model["plan"]["phase_worlds"])
    for table in phases:
        assert "error" not in table, table
        names = [r["phase"] for r in table["rows"] if r["parent"] is None]
        assert set(REQUIRED_PHASES) <= set(names), names
        assert names[-1] == "other"
        top = sum(r["s_per_step"] for r in table["rows"] if r["parent"] is None)
        assert top == pytest.approx(table["s_per_step"])
        for r in table["rows"]:
            assert r["share"] == pytest.approx(r["s_per_step"] / table["s_per_step"])
            assert r["parent"] is None or r["parent"] in names

    memory = model["memory"]  # figures, never thresholds: only their structure is checked
    wanted = [(e, d) for e in model["plan"]["memory_worlds"] for d in STATE_DTYPES]
    assert [(m["E"], m["dtype"]) for m in memory] == wanted
    for m in memory:
        assert "error" not in m, m
        assert m["state_bytes"] > 0 and m["step_peak_bytes"] > 0
        per_1000 = m["state_gib_per_1000_worlds"] + m["step_peak_gib_per_1000_worlds"]
        assert m["total_gib_per_1000_worlds"] == pytest.approx(per_1000)
        assert "holdings" in m["largest_state_arrays"][0]["name"]
        assert {c["call"] for c in m["call_peak_bytes"]} >= {"retail behaviour", "snapshot"}


def test_quick_bench_model_section(quick_run):
    _, out = quick_run
    check_model_section(json.loads((out / "latest.json").read_text())["model"])


@pytest.mark.parametrize(
    ("only", "present", "absent"),
    [("kernels", ["firesale", "loop", "clearing"], ["model"]), ("model", ["model"], ["firesale"])],
)
def test_only_runs_one_section(tmp_path, only, present, absent):
    proc = powderkeg(
        "bench", "--quick", "--backend", "numpy", "--only", only, "--out", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "latest.json").read_text())
    assert data["sections"] == [only]
    assert all(key in data for key in present)
    assert not any(key in data for key in absent)
    assert ("model: abm.model.Powderkeg" in proc.stdout) == (only == "model")
    assert ("fire_sale: N=" in proc.stdout) == (only == "kernels")
    assert data["metadata"]["backend"] == "numpy"


def test_table_reports_failed_and_skipped_model_rows(quick_run):
    from benchmarks.report import format_table

    _, out = quick_run
    data = json.loads((out / "latest.json").read_text())
    model = data["model"]
    model["baseline"] = {"error": "RuntimeError: boom"}
    model["rows"].append({"E": 1000, "skipped": "predicted 99 s exceeds the 60 s limit"})
    model["rows"].append({"E": 5, "error": "ValueError: bad"})
    model["phases"].append({"E": 7, "error": "KeyError: 'x'"})
    text = format_table(data)
    assert "full baseline failed: RuntimeError: boom" in text
    assert "E=1000 skipped: predicted 99 s" in text
    assert "E=5 failed: ValueError: bad" in text
    assert "phases E=7 failed" in text


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
        (["bench", "--only", "loops"], ["--only", "kernels", "model", "all"]),
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
    for flag in ("--quick", "--backend", "--out", "--dtype", "--only", "examples:"):
        assert flag in help_text
    assert main(["bench", "--dtype", "half"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--dtype" in err
