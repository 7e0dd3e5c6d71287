"""Who loses when a hedge fund fails, by how its investors are named (issue 14's sensitivity run).

Public data give who owns hedge funds only by investor type (``[exposures.fund_investors]``), not
fund by fund, so :meth:`abm.opening_sheets.OpeningSheets.place_fund_investors` names each fund's
investors by a rule: ``investors_per_fund`` pension funds, life insurers and P&C insurers drawn by
size. This script sweeps that number and the pooled alternative in the ``ai_archegos`` preset,
in which the most levered hedge fund (``hedge_20``) fails in every world:

- pooled: every holder of private funds' shares owns a slice of every fund;
- named, with 1, 2, 3 (the calibrated setting) and 6 institutions of each type per fund.

It prints a Markdown table (mean over worlds): how many institutions (pension funds and insurers)
held the fund at the start, what the fund's failure took from them in all (USD bn), the largest
one institution lost (USD bn and as a share of its assets at the start), and what the wealthy
cohorts and the investors outside the model lost. A stake's loss is its value at the start less
its value at the end: the fund's shares are marked to its NAV, which its failure wipes out.
``docs/design.md`` ("Who is exposed to whom") shows its output.

Run: ``python scripts/fund_investor_sensitivity.py --worlds 4 --weeks 13``.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from abm.ledger import BilateralPool
from experiments.build import build_model
from experiments.scenarios import load_preset
from kernels.backend import to_numpy

FUND = "hedge_20"
SETTINGS: tuple[tuple[str, bool, int], ...] = (
    ("pooled (every holder a slice of every fund)", False, 3),
    ("named, 1 institution of each type per fund", True, 1),
    ("named, 2 per fund", True, 2),
    ("named, 3 per fund (calibrated)", True, 3),
    ("named, 6 per fund", True, 6),
)


def stakes(model: object, fund: int) -> tuple[np.ndarray, np.ndarray]:
    """(E, N) each agent's stake in ``fund`` (USD bn) and (E,) the outside investors' stake."""
    pool = model.sheets.ledger.pools["private_fund_shares"]
    n = model.roster.size
    face = to_numpy(pool.face)
    k = list(to_numpy(pool.issuers)).index(fund)
    held = np.zeros((face.shape[0], n))
    if isinstance(pool, BilateralPool):
        mine = to_numpy(pool.issuer_agent) == fund
        balance = to_numpy(pool.balance)[:, mine]
        for holder, column in zip(to_numpy(pool.holder_agent)[mine], balance.T, strict=True):
            held[:, holder] += column
        return held, to_numpy(pool.outside_face)[:, k]
    share = face[:, k] / face.sum(axis=-1)  # a pro-rata claim is on every fund alike
    held[:, to_numpy(pool.holders)] = to_numpy(pool.claims) * share[:, None]
    return held, to_numpy(pool.outside) * share


def run(named: bool, per_fund: int, worlds: int, weeks: int) -> dict[str, float]:
    """One setting's ``ai_archegos`` run: the fund's investors' losses, means over worlds."""
    preset = load_preset("ai_archegos")
    policy = {**preset.policy, "named_counterparties": named, "investors_per_fund": per_fund}
    model = build_model(dataclasses.replace(preset, policy=policy), n_worlds=worlds, seed=0,
                        backend="numpy", n_cohorts=100, collect_agents=False)  # fmt: skip
    roster = model.roster
    fund = roster.index(FUND)
    kinds = ("pension", "insurer_life", "insurer_pc")
    institutions = np.array([i for i in roster.indices("fund") if roster.kind[i] in kinds])
    retail = np.array(roster.indices("retail"))
    assets = to_numpy(model.sheets.total_assets())[:, institutions]
    held, outside = stakes(model, fund)
    for _ in range(weeks):
        model.step()
    failed = to_numpy(model.state.defaulted)[:, fund]
    held_end, outside_end = stakes(model, fund)
    lost = held - held_end
    worst = lost[:, institutions].argmax(axis=1)
    rows = np.arange(lost.shape[0])
    return {
        "failed": failed.mean(),
        "holders": (held[:, institutions] > 1e-9).sum(axis=1).mean(),
        "institutions": lost[:, institutions].sum(axis=1).mean(),
        "largest": lost[:, institutions][rows, worst].mean(),
        "largest_share": (lost[:, institutions][rows, worst] / assets[rows, worst]).mean(),
        "retail": lost[:, retail].sum(axis=1).mean(),
        "outside": (outside - outside_end).mean(),
    }


def main() -> None:
    """Print the table of :data:`SETTINGS`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=4)
    parser.add_argument("--weeks", type=int, default=13)
    args = parser.parse_args()
    print(
        "| investors of each fund | fund failed (share of worlds) | institutions holding it "
        "| their loss, USD bn | largest one loss, USD bn | as share of its assets "
        "| wealthy cohorts' loss, USD bn | outside investors' loss, USD bn |"
    )
    print("|---" * 8 + "|")
    for label, named, per_fund in SETTINGS:
        r = run(named, per_fund, args.worlds, args.weeks)
        print(
            f"| {label} | {r['failed']:.2f} | {r['holders']:.0f} | {r['institutions']:.1f} "
            f"| {r['largest']:.1f} | {100 * r['largest_share']:.2f}% | {r['retail']:.1f} "
            f"| {r['outside']:.1f} |"
        )


if __name__ == "__main__":
    main()
