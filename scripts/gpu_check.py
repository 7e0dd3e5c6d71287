"""The GPU check: CuPy tests, every preset on NumPy and CuPy, model and kernel benchmarks, one JSON.

``make gpu-check`` runs it on a machine with an NVIDIA GPU, in under five minutes on one H200
(issue 18); the README's "Testing on a GPU" says how. Sections, each reported on its own (an
exception in one is written into its entry and the rest still run):

- ``environment`` (always): GPU, memory, driver, CUDA, library versions, date, git commit;
- ``tests``: ``pytest -k cupy`` on the kernel test files and ``tests/test_backend.py``: passed,
  failed, skipped and the failed ids;
- ``presets``: every preset (``experiments.scenarios.preset_names``) on NumPy and on the device,
  every series column's largest relative difference, PASS/FAIL per preset against
  :data:`TOLERANCES`;
- ``model``: the weekly step for E worlds (fresh model, warm-up steps, timed steps with device
  synchronisation; :func:`benchmarks.model_steps.step_run`): s/step, world-steps/s, GPU memory,
  GiB per 1,000 worlds, the projected 260 weeks, and the 260 weeks themselves at the largest E
  when projected under a minute;
- ``phases``: where a step's time goes at the largest E
  (:func:`benchmarks.model_steps.phase_table`);
- ``kernels``: the kernel benchmark of ``powderkeg bench --only kernels``
  (:mod:`benchmarks.kernels`).

Only NumPy, pandas, SciPy, tqdm, pytest (the tests) and CuPy are needed beside the wheels
``make gpu-wheels`` fetches (Mesa, NetworkX, array-api-compat, array-api-strict); nothing of the
sweeps (Dask, pydantic) or the app (Solara, Matplotlib) is imported. Without a GPU it says so and
exits 2; ``--numpy-only`` runs the same sections with NumPy in the device's place (the presets are
then compared with a second NumPy run), which is what the CPU test does.

    python3 scripts/gpu_check.py                       # everything, JSON in benchmarks/results/
    python3 scripts/gpu_check.py --quick --sections presets,model
    python3 scripts/gpu_check.py --numpy-only --quick --out /tmp/check.json

Exit status: 0 when every section ran and passed, 1 when one failed or raised, 2 without a GPU.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib
import json
import math
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file: the repository's packages come from its root
    sys.path.insert(0, str(ROOT))

SCHEMA = "powderkeg.gpu-check/1"
SECTIONS = ("tests", "presets", "model", "phases", "kernels")
#: the kernel tests and the backend's: every test parametrized over CuPy (``-k cupy``)
TEST_FILES = (
    "tests/test_backend.py",
    "tests/test_firesale.py",
    "tests/test_clearing.py",
    "tests/test_debtrank.py",
    "tests/test_impact.py",
    "tests/test_kernel_inputs.py",
    "tests/test_random.py",
    "tests/test_reductions.py",
)
#: what the check imports beyond NumPy, pandas, SciPy and tqdm, and where it comes from there
NEEDED = {
    "mesa": "make gpu-wheels",
    "networkx": "make gpu-wheels",
    "array_api_compat": "make gpu-wheels",
}

#: Preset comparison, device against NumPy: (family, how its columns are picked, relative
#: tolerance, why). A column's difference is max |device - numpy| over its steps and worlds,
#: divided by max |numpy| over the column (its scale), so a series that passes through zero is
#: not judged by its smallest values. Integer and boolean columns must be identical.
TOLERANCES = (
    ("defaults", "defaults_*", 0.0, "a default is a discrete event: every family identical"),
    ("counts and flags", "other integer and boolean columns", 0.0,
     "notches, bailouts, convergence and stop flags are discrete: identical"),
    ("prices, indices, spreads", "*_price*, *_index, *_prices_*, spread_*, peg_*, *_sentiment",
     1e-6, "the same arithmetic in a different summation order: float64 rounding, far below 1e-6"),
    ("retail", "retail_*", 0.05,
     "retail cohorts panic-sell past a threshold that rounding can flip for a cohort in a week; "
     "measured up to 3% on an H200 (crypto_ai_crash, 2026-12-04)"),
    ("other series", "every other float column", 1e-3,
     "measured within 1e-4 on an H200 (2026-12-04); the retail flips reach them only through "
     "the cohorts' sales"),
)  # fmt: skip


@dataclass(frozen=True)
class CheckPlan:
    """Sizes of one check.

    Attributes:
        name: ``"full"`` or ``"quick"``.
        preset_worlds, preset_weeks, preset_cohorts, preset_seed: each preset's run.
        step_worlds: E of the model-step rows.
        step_cohorts: retail cohorts of the step rows and the phase table.
        warmup_steps: untimed steps of a fresh model before the timed ones.
        timed_steps: timed steps per row.
        phase_steps: timed steps of the phase table (after one warm-up step).
        run_weeks: weeks of the full run at the largest E.
        run_limit_s: the full run is made only when projected under this.
        kernels_quick: the kernel benchmark's small plan.
        test_timeout_s: the CuPy tests are stopped after this.
    """

    name: str
    preset_worlds: int
    preset_weeks: int
    preset_cohorts: int
    preset_seed: int
    step_worlds: tuple[int, ...]
    step_cohorts: int
    warmup_steps: int
    timed_steps: int
    phase_steps: int
    run_weeks: int
    run_limit_s: float
    kernels_quick: bool
    test_timeout_s: float


FULL = CheckPlan(
    name="full",
    preset_worlds=8,
    preset_weeks=52,
    preset_cohorts=200,
    preset_seed=3,
    step_worlds=(1, 100, 1_000, 10_000),
    step_cohorts=1000,
    warmup_steps=2,
    timed_steps=5,
    phase_steps=2,
    run_weeks=260,
    run_limit_s=60.0,
    kernels_quick=False,
    test_timeout_s=180.0,
)
QUICK = CheckPlan(
    name="quick",
    preset_worlds=2,
    preset_weeks=3,
    preset_cohorts=20,
    preset_seed=3,
    step_worlds=(1, 10),
    step_cohorts=100,
    warmup_steps=1,
    timed_steps=2,
    phase_steps=1,
    run_weeks=26,
    run_limit_s=10.0,
    kernels_quick=True,
    test_timeout_s=120.0,
)


# -- environment --------------------------------------------------------------------------------


def _version(module: str) -> str | None:
    try:
        return getattr(importlib.import_module(module), "__version__", None)
    except Exception:  # absent or broken: the entry says so
        return None


def _nvidia_smi() -> str | None:
    """``nvidia-smi``'s name, driver and memory line, or None where it is not installed."""
    query = "--query-gpu=name,driver_version,memory.total"
    try:
        out = subprocess.run(
            ["nvidia-smi", query, "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def environment(device: str) -> dict[str, Any]:
    """The machine, the libraries, the date and the commit (``benchmarks.environment.metadata``)."""
    from benchmarks.environment import metadata
    from experiments.files import git_commit
    from kernels.backend import get_namespace

    meta = metadata(get_namespace(device))
    modules = (
        "numpy",
        "cupy",
        "pandas",
        "scipy",
        "mesa",
        "networkx",
        "array_api_compat",
        "array_api_strict",
        "pytest",
    )
    meta["versions"].update({m: _version(m) for m in modules})
    meta["nvidia_smi"] = _nvidia_smi()
    meta["git"] = git_commit()  # the commit and whether the tree has uncommitted changes
    return meta


# -- tests --------------------------------------------------------------------------------------


def junit_counts(path: Path) -> dict[str, Any]:
    """Passed, failed (errors included), skipped and the failed ids of a pytest JUnit XML file."""
    counts: dict[str, Any] = {"passed": 0, "failed": 0, "skipped": 0, "failed_ids": []}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome = {child.tag for child in case}
        if outcome & {"failure", "error"}:
            counts["failed"] += 1
            counts["failed_ids"].append(f"{case.get('classname')}::{case.get('name')}")
        elif "skipped" in outcome:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return counts


def cupy_tests(plan: CheckPlan) -> dict[str, Any]:
    """``pytest -k cupy`` on :data:`TEST_FILES` in a subprocess; counts from its JUnit XML."""
    files = [f for f in TEST_FILES if (ROOT / f).is_file()]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "cupy",
            f"--junitxml={report}",
            *files,
        ]
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=plan.test_timeout_s
        )
        result = {"files": files, "returncode": done.returncode}
        if report.is_file():
            result.update(junit_counts(report))
        else:  # pytest stopped before writing it: collection or usage error
            result["error"] = (done.stdout + done.stderr)[-3000:]
    result["ok"] = "error" not in result and result["failed"] == 0 and result["passed"] > 0
    if result.get("failed") and done.stdout:
        result["tail"] = done.stdout[-3000:]
    return result


# -- presets ------------------------------------------------------------------------------------


def preset_series(preset: str, backend: str, plan: CheckPlan) -> Any:
    """One preset's series (:class:`abm.reporting.Recorder`), step 0 included, as a DataFrame."""
    from abm.reporting import record_weeks
    from experiments.build import build_model
    from experiments.scenarios import load_preset

    model = build_model(
        load_preset(preset),
        n_worlds=plan.preset_worlds,
        seed=plan.preset_seed,
        backend=backend,
        n_cohorts=plan.preset_cohorts,
    )
    return record_weeks(model, plan.preset_weeks)


def family(column: str, dtype: Any) -> str:
    """The :data:`TOLERANCES` family of a series column."""
    if column.startswith("defaults_"):
        return "defaults"
    if np.dtype(dtype).kind in "biu":
        return "counts and flags"
    if column.startswith("retail_"):
        return "retail"
    price_like = ("_price", "_index", "_prices_", "_sentiment")
    if any(p in column for p in price_like) or column.startswith(("spread_", "peg_")):
        return "prices, indices, spreads"
    return "other series"


def column_difference(reference: np.ndarray, other: np.ndarray) -> float:
    """The largest gap relative to the column's scale: max |other - ref| / max |ref|.

    Over the finite values; the absolute gap where the reference column is all zero; infinite
    where the two runs disagree on which values are finite (a world that broke in one only).
    """
    a, b = reference.astype(np.float64), other.astype(np.float64)
    finite = np.isfinite(a)
    if not np.array_equal(finite, np.isfinite(b)):
        return math.inf
    if not finite.any():
        return 0.0
    gap = float(np.max(np.abs(b[finite] - a[finite])))
    scale = float(np.max(np.abs(a[finite])))
    return gap / scale if scale > 0 else gap


def compare_series(reference: Any, other: Any) -> dict[str, Any]:
    """Every column's difference and family; PASS when each is within its family's tolerance."""
    limits = {name: tol for name, _, tol, _ in TOLERANCES}
    columns: dict[str, Any] = {}
    failed = []
    if list(reference.columns) != list(other.columns) or len(reference) != len(other):
        return {"status": "FAIL", "failed": ["the two runs have different columns or rows"]}
    for column in reference.columns:
        if column in ("step", "world"):
            continue
        fam = family(column, reference[column].dtype)
        diff = column_difference(reference[column].to_numpy(), other[column].to_numpy())
        columns[column] = {"family": fam, "max_rel_diff": diff}
        if math.isinf(diff):  # written as null in the JSON: say why
            columns[column]["finite_mismatch"] = True
        if not diff <= limits[fam]:
            failed.append(column)
    worst = {
        fam: max(
            ((c, v["max_rel_diff"]) for c, v in columns.items() if v["family"] == fam),
            key=lambda cv: cv[1],
            default=None,
        )
        for fam in limits
    }
    return {
        "status": "FAIL" if failed else "PASS",
        "failed": failed,
        "worst_per_family": worst,
        "columns": columns,
    }


def presets(plan: CheckPlan, device: str) -> dict[str, Any]:
    """Every preset on NumPy and on ``device``, compared column by column (:data:`TOLERANCES`)."""
    from experiments.scenarios import preset_names

    out: dict[str, Any] = {
        "run": {
            k: getattr(plan, k)
            for k in ("preset_worlds", "preset_weeks", "preset_cohorts", "preset_seed")
        },
        "reference": "numpy",
        "device": device,
        "tolerances": [
            {"family": f, "columns": c, "max_rel_diff": t, "why": w} for f, c, t, w in TOLERANCES
        ],
        "difference": "max |device - numpy| / max |numpy| over each column's steps and worlds",
        "presets": {},
    }
    for preset in preset_names():
        start = time.perf_counter()
        try:
            found = compare_series(
                preset_series(preset, "numpy", plan), preset_series(preset, device, plan)
            )
        except Exception:
            found = {"status": "ERROR", "error": traceback.format_exc()[-2000:]}
        found["seconds"] = time.perf_counter() - start  # both runs
        out["presets"][preset] = found
        print(
            f"  preset {preset}: {found['status']} {found.get('failed') or ''}",
            file=sys.stderr,
            flush=True,
        )
    statuses = [p["status"] for p in out["presets"].values()]
    out["ok"] = bool(statuses) and all(s == "PASS" for s in statuses)
    return out


# -- model --------------------------------------------------------------------------------------


def _free_device_memory(device: str) -> None:
    gc.collect()
    if device == "cupy":
        import cupy

        cupy.get_default_memory_pool().free_all_blocks()


def _pool_gib(device: str) -> float | None:
    """GiB CuPy's memory pool holds (used and cached: the row's high-water mark); None off GPU."""
    if device != "cupy":
        return None
    import cupy

    return cupy.get_default_memory_pool().total_bytes() / 2**30


def step_row(worlds: int, plan: CheckPlan, device: str) -> dict[str, Any]:
    """A fresh model of ``worlds`` worlds: warm-up steps, then timed steps with device syncs."""
    from benchmarks.model_steps import step_run

    _free_device_memory(device)
    steps = plan.warmup_steps - 1 + plan.timed_steps  # step_run's own warm-up is the first
    run, _ = step_run(
        worlds,
        plan.step_cohorts,
        backend=device,
        seed=0,
        steps=steps,
        min_steps=steps,
        budget_s=math.inf,
        warmup=True,
    )
    timed = run.wall_s[plan.warmup_steps - 1 :]
    s_per_step = sum(timed) / len(timed)
    pool = _pool_gib(device)
    return {
        "E": worlds,
        "N": run.agents,
        "cohorts": run.cohorts,
        "build_s": run.build_s,
        "warmup_steps": plan.warmup_steps,
        "timed_steps": len(timed),
        "s_per_step": s_per_step,
        "world_steps_per_s": worlds / s_per_step,
        "memory_pool_GiB": pool,
        "GiB_per_1000_worlds": None if pool is None else pool * 1000 / worlds,
        "projected_weeks": plan.run_weeks,
        "projected_s": run.build_s + plan.run_weeks * s_per_step,
        "kernel_iterations": run.iterations,
    }


def full_run(worlds: int, plan: CheckPlan, device: str) -> dict[str, Any]:
    """A fresh model of ``worlds`` worlds built and stepped ``run_weeks`` weeks, no warm-up."""
    from benchmarks.model_steps import step_run

    _free_device_memory(device)
    run, _ = step_run(
        worlds,
        plan.step_cohorts,
        backend=device,
        seed=0,
        steps=plan.run_weeks,
        min_steps=plan.run_weeks,
        budget_s=math.inf,
        warmup=False,
    )
    steps_s = sum(run.wall_s)
    return {
        "E": worlds,
        "weeks": len(run.wall_s),
        "build_s": run.build_s,
        "steps_s": steps_s,
        "total_s": run.build_s + steps_s,
    }


def model_steps(plan: CheckPlan, device: str) -> dict[str, Any]:
    """The step rows, and the full run at the largest E when it is projected under the limit."""
    rows = []
    for worlds in plan.step_worlds:
        try:
            rows.append(step_row(worlds, plan, device))
        except Exception as err:  # out of memory at the largest E, say: the smaller rows stand
            rows.append({"E": worlds, "error": f"{type(err).__name__}: {err}"[-2000:]})
        print(f"  model E={worlds}: {_row_line(rows[-1])}", file=sys.stderr, flush=True)
    out: dict[str, Any] = {"device": device, "weeks": plan.run_weeks, "rows": rows}
    last = rows[-1]
    if "projected_s" not in last:
        out["full_run"] = {"skipped": "the largest E did not step"}
    elif last["projected_s"] >= plan.run_limit_s:
        out["full_run"] = {
            "skipped": f"projected {last['projected_s']:.0f} s for {plan.run_weeks} weeks at "
            f"E={last['E']}, over the {plan.run_limit_s:.0f} s limit"
        }
    else:
        out["full_run"] = full_run(last["E"], plan, device)
    out["ok"] = all("error" not in r for r in rows)
    return out


def phases(plan: CheckPlan, device: str) -> dict[str, Any]:
    """Seconds per step in each rule and the snapshot at the largest E, synchronised per phase.

    The table is :func:`benchmarks.model_steps.phase_table`'s; Mesa's ``datacollector.collect``
    and the step's glue are its ``other`` row.
    """
    from benchmarks.model_steps import phase_table, step_run

    _free_device_memory(device)
    worlds = plan.step_worlds[-1]
    run, timer = step_run(
        worlds,
        plan.step_cohorts,
        backend=device,
        seed=0,
        steps=plan.phase_steps,
        min_steps=plan.phase_steps,
        budget_s=math.inf,
        warmup=True,
        phases=True,
    )
    assert timer is not None
    table = phase_table(run, timer)
    table["rows"].sort(key=lambda r: -r["s_per_step"])
    table["ok"] = True
    return table


def kernels(plan: CheckPlan, device: str) -> dict[str, Any]:
    """The kernel benchmark of ``powderkeg bench --only kernels`` on ``device``."""
    from benchmarks import kernels as kernel_bench

    _free_device_memory(device)
    found = kernel_bench.run(quick=plan.kernels_quick, backend=device, progress=False)
    found.pop("metadata")  # the environment section has it
    found["ok"] = True
    return found


# -- the check ----------------------------------------------------------------------------------


def _row_line(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"error {row['error'][:120]}"
    pool = row["memory_pool_GiB"]
    memory = "" if pool is None else f", {pool:.1f} GiB ({row['GiB_per_1000_worlds']:.2f}/1000)"
    return (
        f"{row['s_per_step']:.3f} s/step, {row['world_steps_per_s']:.0f} world-steps/s{memory}, "
        f"{row['projected_weeks']} weeks ~{row['projected_s']:.0f} s"
    )


def summary_lines(results: dict[str, Any]) -> list[str]:
    """The short table printed at the end: one or a few lines per section."""
    env = results["environment"]
    lines = [
        f"gpu check ({results['plan']['name']}) on {env.get('device_name')} "
        f"[{results['device']}], {env.get('created_utc')}, commit "
        f"{(env.get('git_commit') or '?')[:10]}"
    ]
    for name in results["sections"]:
        found = results[name]
        head = f"{name:<8} {'ok  ' if found.get('ok') else 'FAIL'} {found.get('seconds', 0):6.1f} s"
        if "error" in found:
            lines.append(f"{head}  {found['error'].strip().splitlines()[-1][:150]}")
        elif name == "tests":
            lines.append(
                f"{head}  {found.get('passed')} passed, {found.get('failed')} failed, "
                f"{found.get('skipped')} skipped {found.get('failed_ids') or ''}"
            )
        elif name == "presets":
            bad = {
                p: v.get("failed") or v["status"]
                for p, v in found["presets"].items()
                if v["status"] != "PASS"
            }
            lines.append(
                f"{head}  {len(found['presets']) - len(bad)}/{len(found['presets'])} "
                f"PASS {bad or ''}"
            )
        elif name == "model":
            lines.append(head)
            lines += [f"           E={r['E']:<6} {_row_line(r)}" for r in found["rows"]]
            run = found["full_run"]
            done = (
                f"{run['total_s']:.1f} s ({run['build_s']:.1f} s build)" if "total_s" in run else ""
            )
            lines.append(f"           full {found['weeks']} weeks: {done or run}")
        elif name == "phases":
            top = ", ".join(f"{r['phase']} {r['s_per_step']:.3f}" for r in found["rows"][:6])
            lines.append(f"{head}  E={found['E']} {found['s_per_step']:.3f} s/step: {top}")
        elif name == "kernels":
            rows = found["firesale"]["rows"]
            big = max(rows, key=lambda r: (r["dtype"] == "float64", r["E"]))
            lines.append(
                f"{head}  fire_sale {big['dtype']} E={big['E']} {big['best_s']:.4f} s, "
                f"{big['bandwidth_fraction'] or 0:.1%} of copy bandwidth"
            )
    return lines


def run_section(name: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one section; an exception becomes its ``error`` entry, never the end of the check."""
    start = time.perf_counter()
    print(f"gpu check: {name}...", file=sys.stderr, flush=True)
    try:
        found = call()
    except Exception:
        found = {"ok": False, "error": traceback.format_exc()[-3000:]}
    found["seconds"] = time.perf_counter() - start
    return found


def missing_modules() -> list[str]:
    """Modules of :data:`NEEDED` that do not import, each with where to get it."""
    missing = []
    for module, source in NEEDED.items():
        try:
            importlib.import_module(module)
        except Exception as err:
            missing.append(f"{module} ({type(err).__name__}: {err}; {source})")
    return missing


def default_out() -> Path:
    """benchmarks/results/gpu-check-<UTC time>.json (git-ignored, as every bench result)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return ROOT / "benchmarks" / "results" / f"gpu-check-{stamp}.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The flags; ``--sections`` comes back as a list in :data:`SECTIONS` order."""
    parser = argparse.ArgumentParser(
        prog="gpu_check",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the JSON file (default: benchmarks/results/gpu-check-<UTC>.json)",
    )
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated, from {','.join(SECTIONS)} (default: all); environment always runs",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument(
        "--numpy-only",
        action="store_true",
        help="no GPU: NumPy in the device's place (the CPU test's path)",
    )
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        parser.error(f"--sections must be among {', '.join(SECTIONS)}; got {args.sections!r}")
    args.sections = [s for s in SECTIONS if s in chosen]
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections, write the JSON after each, print the table; the exit status."""
    args = parse_args(argv)
    missing = missing_modules()
    if missing:
        print(f"gpu_check: cannot import {'; '.join(missing)}", file=sys.stderr)
        return 2
    from experiments.files import json_safe
    from kernels.backend import cupy_usable

    if not args.numpy_only and not cupy_usable():
        print(
            "gpu_check: no CUDA GPU answers through CuPy here; run it on a machine with an "
            "NVIDIA GPU and CuPy, or with --numpy-only for the NumPy half",
            file=sys.stderr,
        )
        return 2
    device = "numpy" if args.numpy_only else "cupy"
    plan = QUICK if args.quick else FULL
    out = args.out or default_out()
    out.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "device": device,
        "plan": asdict(plan),
        "sections": args.sections,
    }
    results["environment"] = run_section("environment", lambda: environment(device))
    calls = {
        "tests": lambda: cupy_tests(plan),
        "presets": lambda: presets(plan, device),
        "model": lambda: model_steps(plan, device),
        "phases": lambda: phases(plan, device),
        "kernels": lambda: kernels(plan, device),
    }
    for name in args.sections:
        results[name] = run_section(name, calls[name])
        out.write_text(json.dumps(json_safe(results), indent=1, default=str))
    print("\n".join(summary_lines(results)))
    print(f"JSON: {out}")
    return 0 if all(results[s].get("ok") for s in args.sections) else 1


if __name__ == "__main__":
    sys.exit(main())
