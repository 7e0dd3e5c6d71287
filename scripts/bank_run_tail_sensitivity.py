"""How the lender of last resort and the run parameters set the tail of bank failures.

In ``severe_ai_bust`` a few worlds lose banks that are solvent but cannot pay: uninsured
depositors leave the large US banks as their capital nears the buffer, the central bank lends
them cash up to its capacity, and when the capacity is spent they fail (docs/design.md, "Bank
failures in the tail"). This script runs the preset with the calibrated values and with one
value changed at a time, and prints a Markdown table (over ``--worlds`` worlds, seeds 0…E−1):

- worlds that lose at least one bank, bank failures per world (mean) and the most in one world;
- the lender's peak loans outstanding per world (median, 95th percentile, largest; USD bn);
- the US banks' CET1 ratio fall (median, points), which the tail barely moves.

The rows: the calibration; the lender's capacity at 10% and 20% of GDP instead of 5%
(``[regulation.central_bank] lolr_capacity_share_gdp``); the lender open in every world
(``lolr_probability`` 1 instead of 0.9); uninsured depositors at half SVB's pace
(``[banks.behaviour] uninsured_run_max_share_per_week``); runs that start later
(``run_distress_threshold`` 0.6 instead of 0.5); none of what a run pays out coming back into
deposits at the banks nobody runs from (``run_redeposit_share`` 0 instead of 0.5).
``docs/design.md`` shows its output.

Run: ``python scripts/bank_run_tail_sensitivity.py --worlds 100 --weeks 260``.
"""

from __future__ import annotations

import argparse

import numpy as np

from abm.calibration import load_calibration
from abm.reporting import record_weeks
from experiments.calibration_audit import calibration_with
from experiments.evidence import world_metrics
from experiments.run import build_run_model, resolve_config

PRESET = "severe_ai_bust"
CENTRAL_BANK, BEHAVIOUR = "regulation.central_bank", "banks.behaviour"
ROWS: tuple[tuple[str, dict[str, float]], ...] = (
    ("calibrated (lender 5% of GDP, SVB's pace, θ 0.5)", {}),
    ("lender's capacity 10% of GDP", {f"{CENTRAL_BANK}.lolr_capacity_share_gdp": 0.10}),
    ("lender's capacity 20% of GDP", {f"{CENTRAL_BANK}.lolr_capacity_share_gdp": 0.20}),
    ("lender open in every world", {f"{CENTRAL_BANK}.lolr_probability": 1.0}),
    ("depositors at half SVB's pace", {f"{BEHAVIOUR}.uninsured_run_max_share_per_week": 0.3732}),
    ("runs start later (θ 0.6)", {f"{BEHAVIOUR}.run_distress_threshold": 0.6}),
    ("no flight to quality (q 0)", {f"{BEHAVIOUR}.run_redeposit_share": 0.0}),
)


def run(values: dict[str, float], worlds: int, weeks: int) -> dict[str, float]:
    """One row: the preset with ``values`` replaced, its numbers over the worlds."""
    cal = load_calibration()
    if values:
        cal = calibration_with(cal, values)
    config = resolve_config(PRESET, steps=weeks, n_worlds=worlds, seed=0, backend="numpy")
    model = build_run_model(config, "numpy", calibration=cal)
    frame = record_weeks(model, weeks)
    metrics = world_metrics(frame, model)
    failures = np.asarray(metrics["bank_failures"])
    fall = np.asarray(metrics["bank_cet1_fall_us_pt"])
    peak = frame.groupby("world")["lolr_loans_usd_bn"].max().to_numpy()
    return {
        "worlds": float((failures > 0).sum()),
        "mean": float(failures.mean()),
        "most": float(failures.max()),
        "peak_median": float(np.median(peak)),
        "peak_p95": float(np.quantile(peak, 0.95)),
        "peak_max": float(peak.max()),
        "fall": float(np.median(fall)),
    }


def main() -> None:
    """Print the table, one row at a time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=100)
    parser.add_argument("--weeks", type=int, default=260)
    args = parser.parse_args()
    print(
        f"`{PRESET}`, {args.worlds} worlds × {args.weeks} weeks (seed 0, NumPy).\n\n"
        "| values | worlds with a bank failure | failures per world | most in one world "
        "| lender's peak loans, median / 95% / largest (USD bn) | US CET1 fall (pt) |\n"
        "|---|---:|---:|---:|---:|---:|"
    )
    for label, values in ROWS:
        r = run(values, args.worlds, args.weeks)
        print(
            f"| {label} | {r['worlds']:.0f} of {args.worlds} | {r['mean']:.2f} | {r['most']:.0f} "
            f"| {r['peak_median']:,.0f} / {r['peak_p95']:,.0f} / {r['peak_max']:,.0f} "
            f"| {r['fall']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
