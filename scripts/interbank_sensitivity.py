"""Where one insolvent bank's loss lands, by interbank network: the sensitivity run of issue 14.

Public data give each bank's interbank claims only in total, so :mod:`abm.interbank` fills in
who lends to whom by a rule (a core-periphery network). This script sweeps that rule's free
values and the pooled alternative, and forces a loss large enough to leave one bank insolvent,
so that its interbank lenders are written down in the failure clearing (:mod:`abm.failures`):

- the calm ``baseline`` preset with every public rescue off (lender of last resort, bailouts,
  market-maker backstop), so an insolvent bank is cleared rather than saved;
- in week 2, a ``loan_losses`` shock writes off ``--loss`` of every loan book of ``--bank``;
- each network: pooled (every bank holds a slice of every other bank's interbank debt), and
  the named network with the core's size and the home bias swept.

It prints a Markdown table (per network, mean over worlds): whether the bank failed, its
lenders' recovery, how many banks lost on their interbank claims, the largest such loss in
USD bn and as a share of that bank's starting CET1, further bank failures, and the lowest CET1
ratio of a surviving bank. ``docs/design.md`` ("The interbank network") shows its output.

Run: ``python scripts/interbank_sensitivity.py --worlds 4 --weeks 26``.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from abm.calibration import load_calibration
from abm.model import Powderkeg
from abm.policy import Policy
from abm.shocks import Shock, attach
from experiments.calibration_audit import calibration_with
from kernels.backend import to_numpy

NETWORKS: tuple[tuple[str, bool, dict[str, float]], ...] = (
    ("pooled (every bank a slice of every bank)", False, {}),
    ("core 5, home bias 0.8", True, {"interbank_core_banks": 5}),
    ("core 10, home bias 0.8 (calibrated)", True, {}),
    ("core 20, home bias 0.8", True, {"interbank_core_banks": 20}),
    ("core 10, home bias 0.5", True, {"interbank_home_bias": 0.5}),
    ("core 10, home bias 0.95", True, {"interbank_home_bias": 0.95}),
    ("core 10, 1 link per periphery bank", True, {"interbank_links_per_periphery": 1}),
)


class InterbankLosses:
    """Spies on the ledger's write-downs of the ``interbank`` pool: (E, N) losses of lenders."""

    def __init__(self, model: Powderkeg) -> None:
        ledger = model.sheets.ledger
        self.loss = np.zeros(ledger.cash.shape)
        real = ledger.write_down

        def write_down(name: str, loss: Any) -> Any:
            before = to_numpy(ledger.equity_flows).copy()
            out = real(name, loss)
            if name == "interbank":
                moved = to_numpy(ledger.equity_flows) - before
                self.loss += np.maximum(-moved, 0.0)
            return out

        ledger.write_down = write_down


def run(bank: str, loss: float, worlds: int, weeks: int, named: bool, values: dict) -> dict:
    """One network: the numbers of the table's row (means over worlds)."""
    cal = load_calibration()
    if values:
        cal = calibration_with(cal, {f"banks.exposures.{k}": v for k, v in values.items()})
    policy = Policy(
        named_counterparties=named,
        lender_of_last_resort=False,
        bailouts=False,
        market_maker_of_last_resort=False,
    )
    model = Powderkeg(
        n_worlds=worlds, seed=0, n_cohorts=100, collect_agents=False, policy=policy, calibration=cal
    )
    rows = list(model.roster.indices("bank"))
    hit = rows.index(model.roster.index(bank))
    cet1_start = cet1_usd_bn(model)[:, rows]
    attach(model, [Shock("loan_losses", 2, -loss, target=(bank,), source="sensitivity run")])
    spy = InterbankLosses(model)
    lowest = np.full(worlds, np.inf)
    for _ in range(weeks):
        model.step()
        ratios = np.asarray(model.snapshot["cet1_ratio"])[:, rows]  # regulatory, this week
        others = ~to_numpy(model.state.defaulted)[:, rows]
        others[:, hit] = False
        lowest = np.minimum(lowest, np.where(others, ratios, np.inf).min(axis=1))
    failed = to_numpy(model.state.defaulted)[:, rows]
    lost = spy.loss[:, rows]
    lost[:, hit] = 0.0  # the failed bank's own gain on what it no longer owes is not a loss
    return {
        "failed": failed[:, hit].mean(),
        "lenders": (lost > 1e-6).sum(axis=1).mean(),
        "total": lost.sum(axis=1).mean(),
        "largest": lost.max(axis=1).mean(),
        "largest_cet1": 100 * (lost / np.maximum(cet1_start, 1e-9)).max(axis=1).mean(),
        "more_failures": (failed.sum(axis=1) - failed[:, hit]).mean(),
        "lowest_cet1": 100 * lowest.mean(),
    }


def cet1_usd_bn(model: Powderkeg) -> np.ndarray:
    """(E, N) regulatory CET1 in USD bn now (held-to-maturity Treasuries at cost)."""
    assets, liabilities = model.sheets.assets_and_liabilities()
    return to_numpy(assets - liabilities + model.capital.htm_addback(model.state))


def main() -> None:
    """Print the table for the networks of :data:`NETWORKS`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", default="wells_fargo", help="the bank made insolvent")
    parser.add_argument("--loss", type=float, default=0.4, help="share of its loans written off")
    parser.add_argument("--worlds", type=int, default=4)
    parser.add_argument("--weeks", type=int, default=26)
    args = parser.parse_args()
    print(
        f"{args.bank}: {args.loss:.0%} of its loans written off in week 2; baseline, public rescue"
        f" off; {args.worlds} worlds x {args.weeks} weeks, seed 0, 100 cohorts; means over worlds"
    )
    print()
    print(
        "| interbank network | bank failed | lenders with a loss | their loss (USD bn) "
        "| largest loss (USD bn) | largest loss / CET1 (%) | further bank failures "
        "| lowest CET1 of the others (%) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, named, values in NETWORKS:
        r = run(args.bank, args.loss, args.worlds, args.weeks, named, values)
        print(
            f"| {label} | {r['failed']:.2f} | {r['lenders']:.1f} | {r['total']:.2f} "
            f"| {r['largest']:.2f} | {r['largest_cet1']:.1f} | {r['more_failures']:.2f} "
            f"| {r['lowest_cet1']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
