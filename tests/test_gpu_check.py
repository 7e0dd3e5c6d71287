"""scripts/gpu_check.py on the CPU: its NumPy half, its JSON, and what it may import.

The GPU machine has NumPy, pandas, SciPy, tqdm, pytest and CuPy, the wheels of ``make gpu-wheels``
and nothing of the sweeps or the app; the check runs here in a subprocess whose imports of those
fail, as they would there (a ``sitecustomize`` on ``PYTHONPATH`` reaches the pytest it starts too).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kernels.backend import cupy_usable

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.py"
#: installed here, absent on the GPU machine
ABSENT_ON_THE_GPU = (
    "pydantic",
    "dask",
    "distributed",
    "solara",
    "matplotlib",
    "SALib",
    "ipyvue",
    "ipyvuetify",
    "ipywidgets",
    "playwright",
    "altair",
    "cloudpickle",
)
SITECUSTOMIZE = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Forbid(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is not on the GPU machine")
sys.meta_path.insert(0, Forbid())
"""


def _load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gpu_check = _load_script()


def _run(tmp_path, *args, blocked=ABSENT_ON_THE_GPU, timeout=240):
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(blocked=set(blocked)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    env.pop("POWDERKEG_BACKEND", None)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_the_numpy_half_runs_without_the_sweeps_or_the_app_and_writes_one_json(tmp_path):
    out = tmp_path / "check.json"
    done = _run(tmp_path, "--numpy-only", "--quick", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"JSON: {out}" in done.stdout
    found = json.loads(out.read_text())
    assert found["schema"] == gpu_check.SCHEMA and found["device"] == "numpy"
    assert found["sections"] == list(gpu_check.SECTIONS)
    env = found["environment"]
    for key in ("device_name", "created_utc", "git_commit", "versions"):
        assert key in env
    assert env["versions"]["mesa"] and env["versions"]["numpy"]
    tests = found["tests"]
    assert tests["failed"] == 0 and tests["failed_ids"] == [] and tests["skipped"] > 0
    presets = found["presets"]["presets"]
    from experiments.scenarios import preset_names

    assert list(presets) == list(preset_names())
    for result in presets.values():  # NumPy against NumPy: the same numbers
        assert result["status"] == "PASS"
        assert all(c["max_rel_diff"] == 0.0 for c in result["columns"].values())
    rows = found["model"]["rows"]
    assert [r["E"] for r in rows] == list(gpu_check.QUICK.step_worlds)
    assert all(
        r["s_per_step"] > 0 and r["timed_steps"] == gpu_check.QUICK.timed_steps for r in rows
    )
    assert "total_s" in found["model"]["full_run"]
    assert {"phase", "s_per_step", "share"} <= set(found["phases"]["rows"][0])
    assert found["kernels"]["firesale"]["rows"] and found["kernels"]["clearing"]["rows"]
    for name in found["sections"]:
        assert found[name]["ok"] and found[name]["seconds"] > 0


@pytest.mark.skipif(cupy_usable(), reason="a CUDA GPU answers through CuPy here")
def test_without_a_gpu_it_says_so_and_exits_2(tmp_path):
    done = _run(tmp_path, "--out", str(tmp_path / "never.json"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no CUDA GPU" in done.stderr
    assert "--numpy-only" in done.stderr
    assert not (tmp_path / "never.json").exists()


def test_without_the_wheels_it_names_what_is_missing(tmp_path):
    done = _run(tmp_path, "--numpy-only", blocked=("mesa",))
    assert done.returncode == 2
    assert "cannot import mesa" in done.stderr and "make gpu-wheels" in done.stderr


def test_unknown_sections_are_refused(tmp_path):
    done = _run(tmp_path, "--numpy-only", "--sections", "presets,gpu")
    assert done.returncode == 2 and "--sections must be among" in done.stderr


def _frames(**changes):
    reference = pd.DataFrame(
        {
            "step": [0, 1, 2],
            "world": [0, 0, 0],
            "defaults_bank": np.array([0, 1, 1]),
            "bond_price_meta": [1.0, 0.9, 0.8],
            "retail_loss_usd_bn": [0.0, 100.0, 200.0],
            "bank_cet1_median": [0.12, 0.11, 0.1],
        }
    )
    other = reference.copy()
    for column, values in changes.items():
        other[column] = values
    return reference, other


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({}, []),
        ({"retail_loss_usd_bn": [0.0, 100.0, 208.0]}, []),  # 4% of the column's scale
        ({"retail_loss_usd_bn": [0.0, 100.0, 212.0]}, ["retail_loss_usd_bn"]),
        ({"bond_price_meta": [1.0, 0.9, 0.8 + 1e-5]}, ["bond_price_meta"]),
        ({"defaults_bank": np.array([0, 1, 2])}, ["defaults_bank"]),
        ({"bank_cet1_median": [0.12, np.nan, 0.1]}, ["bank_cet1_median"]),
    ],
    ids=["same", "retail_within", "retail_over", "price", "defaults", "nan"],
)
def test_presets_are_judged_by_their_family_tolerance(changes, failed):
    result = gpu_check.compare_series(*_frames(**changes))
    assert result["failed"] == failed
    assert result["status"] == ("FAIL" if failed else "PASS")
    families = {c: v["family"] for c, v in result["columns"].items()}
    assert families == {
        "defaults_bank": "defaults",
        "bond_price_meta": "prices, indices, spreads",
        "retail_loss_usd_bn": "retail",
        "bank_cet1_median": "other series",
    }
