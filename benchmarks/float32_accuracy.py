"""How far a float32 state moves the presets' results from float64's; how well its books balance.

Runs every preset twice on the same seeds (NumPy; float64 and float32) and reports, per preset:

- the accounting gap at the end of the run (:meth:`abm.model.Powderkeg.accounting_gap`): the
  largest, over worlds, of the money gap, the largest pool imbalance and the largest equity
  difference, in USD bn and relative to the agents' total balance sheet (sum of total assets);
- the main outcomes' largest differences over worlds and weeks: defaults (count), the AI equity
  index, the banks' aggregate CET1 ratio (``bank_cet1_system``) and the retail loss (USD bn);
- whether every floating array the model holds is still float32 at the end (``leaks``).

Its tolerances are stated beside the test that enforces them (``tests/test_float32.py``); this
script only measures::

    python -m benchmarks.float32_accuracy                 # every preset, 4 worlds, 104 weeks
    python -m benchmarks.float32_accuracy --worlds 2 --weeks 26 --preset baseline
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

#: the main outcomes compared, series column → how its difference is read
OUTCOMES = {
    "defaults_total": "count",
    "ai_equity_index": "index (1 at the start)",
    "bank_cet1_system": "ratio",
    "retail_loss_usd_bn": "USD bn",
}


def floating_arrays(obj: Any, path: str = "model", seen: set[int] | None = None) -> Iterator:
    """(path, array) of every floating NumPy array reachable from the model's own objects.

    Walks attributes of objects from ``abm`` and ``kernels``, dicts, lists and tuples; the Mesa
    machinery (agents, the DataCollector) and the host copies of the snapshot are left out:
    they are reports, not state.
    """
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f":
            yield path, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from floating_arrays(value, f"{path}[{key!r}]", seen)
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            yield from floating_arrays(value, f"{path}[{i}]", seen)
    elif type(obj).__module__.split(".")[0] in ("abm", "kernels") and hasattr(obj, "__dict__"):
        for key, value in vars(obj).items():
            if key in SKIPPED or key.startswith("_"):
                continue
            yield from floating_arrays(value, f"{path}.{key}", seen)


#: model attributes that hold reports or host-side parameters, not the simulated state (the
#: shock schedules keep their drawn sizes on the host and cast them where they are applied)
SKIPPED = {"datacollector", "week_series", "reporters", "rules", "agents", "calibration",
           "shock_schedules"}  # fmt: skip


def device_state(model: Any) -> list[tuple[str, Any]]:
    """(path, array) of every floating array of the state on the model's device.

    On NumPy, host parameters are NumPy arrays too; they are told apart by their shape: the
    state's arrays carry the world axis first (E, ...) where E > 1 is required of the caller.
    """
    worlds = model.n_worlds
    return [(p, a) for p, a in floating_arrays(model) if a.ndim >= 1 and a.shape[0] == worlds]


def run_preset(preset: str, dtype: str, worlds: int, weeks: int, seed: int, cohorts: int) -> dict:
    """Series, accounting gap and balance-sheet size of one preset's run at ``dtype``."""
    from abm.reporting import record_weeks
    from experiments.build import build_model
    from experiments.scenarios import load_preset

    model = build_model(
        load_preset(preset), n_worlds=worlds, seed=seed, backend="numpy", n_cohorts=cohorts,
        dtype=dtype, collect_agents=False,
    )  # fmt: skip
    series = record_weeks(model, weeks)
    gap = {k: float(np.max(np.abs(v))) for k, v in model.accounting_gap().items()}
    size = float(np.min(np.sum(model.sheets.total_assets(), axis=-1)))
    leaks = [p for p, a in device_state(model) if a.dtype != np.dtype(dtype)]
    return {"series": series, "gap": gap, "size": size, "leaks": leaks}


def compare(preset: str, worlds: int, weeks: int, seed: int, cohorts: int) -> dict[str, Any]:
    """The float32 run of ``preset`` against the float64 run on the same seeds."""
    wide = run_preset(preset, "float64", worlds, weeks, seed, cohorts)
    narrow = run_preset(preset, "float32", worlds, weeks, seed, cohorts)
    out: dict[str, Any] = {"preset": preset}
    for key, value in narrow["gap"].items():
        out[f"gap_{key}_usd_bn"] = value
        out[f"gap_{key}_relative"] = value / narrow["size"]
        out[f"gap_{key}_usd_bn_float64"] = wide["gap"][key]
    out["balance_sheet_usd_bn"] = narrow["size"]
    a, b = wide["series"], narrow["series"]
    for column in OUTCOMES:
        diff = (a[column].astype(float) - b[column].astype(float)).abs()
        out[f"max_diff_{column}"] = float(np.nanmax(diff.to_numpy()))
        out[f"final_{column}_float64"] = float(a[column].iloc[-1])
    out["leaks"] = narrow["leaks"]
    return out


def main(argv: list[str] | None = None) -> int:
    """Print one row per preset (and JSON with ``--json``)."""
    from experiments.scenarios import preset_names

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", action="append", help="only this preset (repeatable)")
    parser.add_argument("--worlds", type=int, default=4)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cohorts", type=int, default=200)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    rows = []
    for preset in args.preset or list(preset_names()):
        row = compare(preset, args.worlds, args.weeks, args.seed, args.cohorts)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    columns = ["preset", "gap_money_usd_bn", "gap_pools_usd_bn", "gap_equity_usd_bn",
               "gap_equity_relative", *(f"max_diff_{c}" for c in OUTCOMES)]  # fmt: skip
    print(pd.DataFrame(rows)[columns].to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
