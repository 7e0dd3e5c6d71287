"""The banks' income statement over the supervisors' stress horizons, beside the tests' own.

The Fed's 2025 severely adverse results and the EBA's 2025 adverse results each come with the
banks' income over the horizon (the Fed's nine quarters, the EBA's three years): net interest
income, other income and expenses, provisions, other losses. This script runs a preset and sums
the same lines for the model's US banks over the first 117 weeks and its EU banks over the first
156, each as a share of the region's risk-weighted assets at the start (% of starting RWA, the
unit of a CET1 ratio's change), means over ``--worlds`` worlds (seeds 0…E−1), so that the lines
add up:

- net interest income, fees (and other non-interest income), costs, and their sum before
  provisions (pre-provision net revenue, PPNR);
- provisions, and of them the write-offs and the allowance build (provisions less write-offs);
- taxes, dividends and buybacks;
- the change of CET1 capital, and what is left of it after net income less payouts (marks on
  securities and the equity of failed banks).

It reads the parts inside :meth:`abm.bank_earnings.BankEarnings.book` as the rule books them (the
fees and costs are its own ``rate × assets``), so the lines add up. docs/design.md ("What the
banks earn over the stress horizon") sets its output beside the Fed's and the EBA's numbers.

Run: ``python scripts/stress_income_statement.py --preset severe_recession --worlds 20``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from abm.bank_earnings import BankEarnings
from abm.reporting import record_weeks
from experiments.run import build_run_model, resolve_config
from experiments.scenarios import preset_names
from experiments.usage import positive_int

#: each region's stress horizon in weeks: the Fed's nine quarters, the EBA's three years
HORIZONS = {"us": 117, "eu": 156}
LINES = (
    ("net interest income", "nii"),
    ("fees and other income", "fees"),
    ("costs", "costs"),
    ("PPNR", "ppnr"),
    ("provisions", "provisions"),
    ("  of which write-offs", "write_offs"),
    ("  of which allowance build", "build"),
    ("taxes", "tax"),
    ("dividends and buybacks", "payouts"),
    ("CET1 capital change", "capital"),
    ("  of which marks and failures", "other"),
)


@contextmanager
def recorded_income(rows: list[dict[str, np.ndarray]]) -> Iterator[None]:
    """While open, every bank-earnings step appends its (E, B) parts to ``rows``."""
    book = BankEarnings.book

    def recording(self: BankEarnings, state: Any) -> None:
        xp = state.sheets.xp
        assets = xp.take(state.sheets.total_assets(), self.banks, axis=1)
        on = xp.astype(~xp.take(state.defaulted, self.banks, axis=1), assets.dtype)
        book(self, state)
        b = state.banks
        parts = {
            "nii": b.net_interest,
            "fees": self.fee_rate * assets / 52.0 * on,
            "costs": self.cost_rate * assets / 52.0 * on,
            "provisions": b.provisions * on,
            "net": b.net_income,
            "payouts": b.payouts,
        }
        rows.append({k: np.asarray(v, dtype=float) for k, v in parts.items()})

    BankEarnings.book = recording  # type: ignore[method-assign]
    try:
        yield
    finally:
        BankEarnings.book = book  # type: ignore[method-assign]


def income_statement(preset: str, worlds: int, seed: int) -> dict[str, dict[str, float]]:
    """Per region, each line summed over its horizon in % of starting RWA (mean over worlds)."""
    weeks = max(HORIZONS.values())
    config = resolve_config(preset, steps=weeks, n_worlds=worlds, seed=seed, backend="numpy")
    rows: list[dict[str, np.ndarray]] = []
    with recorded_income(rows):  # the rule list binds the method when the model is built
        model = build_run_model(config, "numpy")
        frame = record_weeks(model, weeks)
    regions = np.asarray(model.bank_earnings.capital.regions)

    def weekly(column: str) -> np.ndarray:  # (weeks + 1, E), week 0 the start
        return frame.pivot(index="step", columns="world", values=column).to_numpy()

    out = {}
    for r, (region, horizon) in enumerate(HORIZONS.items()):
        banks = regions == r
        total = {k: np.stack([row[k][:, banks].sum(axis=1) for row in rows[:horizon]]).sum(0)
                 for k in rows[0]}  # fmt: skip
        rwa, cet1 = weekly(f"bank_rwa_{region}_usd_bn"), weekly(f"bank_cet1_system_{region}")
        rwa0 = rwa[0]
        capital = cet1[horizon] * rwa[horizon] - cet1[0] * rwa0
        write_offs = weekly(f"bank_write_offs_{region}_usd_bn")[1 : horizon + 1].sum(axis=0)
        ppnr = total["nii"] + total["fees"] - total["costs"]
        lines = {
            "nii": total["nii"],
            "fees": total["fees"],
            "costs": -total["costs"],
            "ppnr": ppnr,
            "provisions": -total["provisions"],
            "write_offs": -write_offs,
            "build": write_offs - total["provisions"],
            "tax": total["net"] - (ppnr - total["provisions"]),
            "payouts": -total["payouts"],
            "capital": capital,
            "other": capital - (total["net"] - total["payouts"]),
        }
        out[region] = {k: float(np.mean(v / rwa0 * 100.0)) for k, v in lines.items()}
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the table (Markdown) for ``--preset`` over ``--worlds`` worlds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="severe_recession", choices=preset_names())
    parser.add_argument("--worlds", type=positive_int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    table = income_statement(args.preset, args.worlds, args.seed)
    print(f"{args.preset}, {args.worlds} worlds, seed {args.seed}: % of starting RWA, means")
    print("| line | US banks, 117 weeks | EU banks, 156 weeks |")
    print("|---|---:|---:|")
    for label, key in LINES:
        print(f"| {label} | {table['us'][key]:+.2f} | {table['eu'][key]:+.2f} |")


if __name__ == "__main__":
    main()
