"""Replication 5: runs — a one-period stablecoin run and the Diamond–Dybvig bank run.

Both are computed with ``kernels.firesale.fire_sale``: the issuer or bank is a holder with a
liquidity need ``cash_needed`` that it meets by selling its illiquid asset pro rata at a
fire-sale price (no market depth: a flat discount), and every (parameter, withdrawal) pair is one
world of a single kernel call. The kernel's holder owes nothing inside the call (the redemptions
are settled outside it), so it only raises cash and never defaults there.

**Stablecoin.** One token per unit of reserves (book value 1). A share ``f`` of tokens redeems at
par at once; the issuer sells reserves at ``1 - h`` (haircut h) to pay. The recoverable value per
token of the whole float (paid out plus what is left) is ``1 - min(f / (1 - h), 1) h`` (the
one-period closed form of a run with a fire-sale haircut, after Diamond & Dybvig 1983): the issuer
sells ``f / (1 - h)`` of its reserves and loses ``h`` on each unit sold. The holders who stay get
``(1 - f / (1 - h)) / (1 - f) < 1`` per token, so early redemption pays: the run incentive. A lender
of last resort that lends against reserves at book value (h = 0) removes the loss.

**Diamond & Dybvig (1983)**, "Bank runs, deposit insurance, and liquidity", J. Political
Economy 91(3): 401–419. Deposits of 1 are invested ``y`` in cash and ``1 - y`` in a long asset
worth ``R`` at date 2 but only ``l`` per unit if liquidated at date 1. Depositors who withdraw at
date 1 are promised ``r1``. If a share ``f`` withdraws, the bank pays ``f r1`` from cash, then
liquidates ``(f r1 - y) / l`` units; it fails at date 1 when ``f r1 > y + (1 - y) l``. A patient
depositor who waits gets ``[max(y - f r1, 0) + R ((1 - y) - max(f r1 - y, 0) / l)] / (1 - f)`` (0 if
the bank failed) and runs when that is below ``r1``. Running is self-fulfilling above

``f* = [R (1 - y) + R y / l - r1] / [r1 (R / l - 1)]``,

and a run equilibrium exists iff ``r1 > y + (1 - y) l`` (then ``f* < 1``). **Deposit insurance**
pays waiting depositors their promised ``r2`` whatever the bank has, and a **lender of last
resort** lends against the long asset at its value R instead of the fire-sale price: either
removes the run equilibrium (Diamond & Dybvig 1983, §IV–V).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from experiments.replications.common import (
    Fact,
    Outcome,
    check_size,
    facts_list,
    fmt,
    markdown_table,
    new_figure,
)

NAME = "runs"
TITLE = "Runs: the one-period stablecoin run and the Diamond–Dybvig threshold"
PAPER = (
    "Diamond & Dybvig (1983), *Bank runs, deposit insurance, and liquidity*, J. Political "
    "Economy 91(3): 401–419; the one-period stablecoin run value 1 − min(f/(1−h), 1)·h "
    "(one period, fire-sale haircut h)"
)


@dataclass(frozen=True)
class Size:
    """The grids.

    Attributes:
        withdrawals: number of withdrawal shares f on [0, 1).
        haircuts: stablecoin fire-sale haircuts h.
        liquidation_values: Diamond–Dybvig liquidation values l of the long asset.
        liquid_shares: Diamond–Dybvig cash shares y.
        long_return: R, date-2 value of one unit of the long asset.
        promised: r1, what a date-1 withdrawal is promised.
        impatient: t, the share of depositors who must withdraw at date 1.
    """

    withdrawals: int
    haircuts: tuple[float, ...]
    liquidation_values: tuple[float, ...]
    liquid_shares: tuple[float, ...]
    long_return: float = 1.5
    promised: float = 1.1
    impatient: float = 0.25


SIZES = {
    "ci": Size(
        withdrawals=201,
        haircuts=(0.0, 0.05, 0.2, 0.4),
        liquidation_values=(0.4, 0.7, 1.0),
        liquid_shares=(0.275, 0.5),
    ),
    "full": Size(
        withdrawals=2001,
        haircuts=(0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4),
        liquidation_values=tuple(np.round(np.linspace(0.3, 1.0, 15), 3)),
        liquid_shares=(0.15, 0.275, 0.4, 0.55),
    ),
}


def liquidate(
    units: np.ndarray, price: np.ndarray, cash: np.ndarray, need: np.ndarray, xp: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Raise ``need`` by selling ``units`` at ``price`` (flat: no depth), every world at once.

    Returns:
        (cash after the sales, units retained), each (E,).
    """
    from kernels.backend import to_numpy
    from kernels.firesale import fire_sale

    worlds = units.size
    result = fire_sale(
        xp.asarray(units.reshape(worlds, 1, 1)),
        xp.asarray(price.reshape(worlds, 1)),
        xp.asarray(cash.reshape(worlds, 1)),
        xp.zeros((worlds, 1), dtype=xp.float64),
        depth=xp.full((1,), np.inf, dtype=xp.float64),
        cash_needed=xp.asarray(need.reshape(worlds, 1)),
        capital_min=None,
        fill="end",
    )
    if not bool(np.all(to_numpy(result.converged))):
        raise RuntimeError("fire_sale did not converge in the run replication")
    return to_numpy(result.cash)[:, 0], to_numpy(result.holdings)[:, 0, 0]


def stablecoin(size: Size, xp: Any) -> dict[str, Any]:
    """Value per token after a one-period run: kernel vs closed form, per (h, f)."""
    f = np.linspace(0.0, 1.0, size.withdrawals, endpoint=False)
    h = np.asarray(size.haircuts)
    hh, ff = np.meshgrid(h, f, indexing="ij")
    cash, kept = liquidate(np.ones(hh.size), 1.0 - hh.ravel(), np.zeros(hh.size), ff.ravel(), xp)
    value = (np.minimum(cash, ff.ravel()) + kept * 1.0).reshape(hh.shape)  # book value 1
    closed = 1.0 - np.minimum(ff / (1.0 - hh), 1.0) * hh
    stay = np.where(ff < 1.0, (value - np.minimum(ff, value)) / (1.0 - ff), 0.0)
    return {
        "haircuts": h,
        "withdrawals": f,
        "value_per_token": value,
        "closed_form": closed,
        "max_error": float(np.abs(value - closed).max()),
        "stayer_value": stay,
        "lolr_value_min": float(value[h == 0.0].min()) if np.any(h == 0.0) else None,
    }


def diamond_dybvig(size: Size, xp: Any) -> dict[str, Any]:
    """Waiting depositors' payoff, run thresholds (kernel vs closed form), insurance and LOLR."""
    R, r1, t = size.long_return, size.promised, size.impatient
    f = np.linspace(0.0, 1.0, size.withdrawals, endpoint=False)
    ls = np.asarray(size.liquidation_values)
    ys = np.asarray(size.liquid_shares)
    yy, ll, ff = np.meshgrid(ys, ls, f, indexing="ij")  # (Y, L, F)
    need = ff * r1

    def payoff(price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cash, kept = liquidate((1.0 - yy).ravel(), price.ravel(), yy.ravel(), need.ravel(), xp)
        cash, kept = cash.reshape(yy.shape), kept.reshape(yy.shape)
        failed = cash < need * (1.0 - 1e-12)
        wait = np.where(failed, 0.0, (cash - need + R * kept) / (1.0 - ff))
        return wait, failed

    wait, failed = payoff(ll)
    run = wait < r1  # a patient depositor prefers to withdraw
    measured = np.where(run.any(axis=-1), f[np.argmax(run, axis=-1)], np.nan)  # first f that runs
    closed = (R * (1.0 - yy[..., 0]) + R * yy[..., 0] / ll[..., 0] - r1) / (
        r1 * (R / ll[..., 0] - 1.0)
    )
    closed = np.where(r1 > yy[..., 0] + (1.0 - yy[..., 0]) * ll[..., 0], closed, np.nan)
    step = 1.0 / size.withdrawals
    both = np.isfinite(measured) & np.isfinite(closed)
    agree = bool(np.array_equal(np.isfinite(measured), np.isfinite(closed))) and bool(
        np.all(np.abs(measured[both] - closed[both]) <= step + 1e-12)
    )
    fail_closed = (yy[..., 0] + (1.0 - yy[..., 0]) * ll[..., 0]) / r1
    fail_measured = np.where(failed.any(axis=-1), f[np.argmax(failed, axis=-1)], np.nan)
    r2 = R * (1.0 - t * r1) / (1.0 - t)  # DD's contract: the patient share all of date 2
    insured = np.maximum(wait, r2)  # the insurer tops waiting depositors up to r2
    lolr, _ = payoff(np.full_like(ll, R))  # lent against at full value R: no fire-sale discount
    patient = ff >= t
    return {
        "long_return": R,
        "promised": r1,
        "impatient": t,
        "promised_date2": r2,
        "liquid_shares": ys,
        "liquidation_values": ls,
        "withdrawals": f,
        "threshold_measured": measured,
        "threshold_closed": closed,
        "threshold_agree": agree,
        "grid_step": step,
        "failure_measured": fail_measured,
        "failure_closed": np.where(fail_closed < 1.0, fail_closed, np.nan),
        "run_region": np.where(
            np.isfinite(measured), (1.0 - np.maximum(measured, t)) / (1.0 - t), 0.0
        ),
        "insured_runs": int((insured < r1)[patient].sum()),
        "lolr_runs": int((lolr < r1)[patient].sum()),
        "wait": wait,
        "wait_lolr": lolr,
    }


def run(size: str = "full", seed: int = 0, backend: str = "numpy") -> Outcome:
    """Compute both run models on their grids (deterministic: seed unused)."""
    from kernels.backend import get_namespace

    check_size(size)
    spec = SIZES[size]
    xp = get_namespace(backend)
    coin = stablecoin(spec, xp)
    bank = diamond_dybvig(spec, xp)
    numbers = {
        "stablecoin": {k: v for k, v in coin.items() if k not in ("stayer_value",)},
        "diamond_dybvig": {k: v for k, v in bank.items() if k not in ("wait", "wait_lolr")},
    }
    numbers["stablecoin"].pop("withdrawals")
    numbers["stablecoin"]["value_per_token"] = None  # the grid is in the CSV
    numbers["stablecoin"]["closed_form"] = None
    numbers["diamond_dybvig"].pop("withdrawals")
    every = max(1, spec.withdrawals // 100)  # the CSV keeps about 100 withdrawal shares
    rows = [
        {"model": "stablecoin", "haircut": h, "withdrawal": f, "value": v, "closed_form": c}
        for i, h in enumerate(spec.haircuts)
        for f, v, c in zip(
            coin["withdrawals"][::every],
            coin["value_per_token"][i][::every],
            coin["closed_form"][i][::every],
            strict=True,
        )
    ]
    picks = {float(h): i for i, h in enumerate(spec.haircuts)}
    plot = {
        "f": coin["withdrawals"],
        "coin": {h: coin["value_per_token"][i] for h, i in picks.items()},
        "coin_closed": {h: coin["closed_form"][i] for h, i in picks.items()},
        "dd_wait": bank["wait"],
        "dd_lolr": bank["wait_lolr"],
    }
    outcome = Outcome(NAME, TITLE, size, seed, numbers, rows, [], lambda p: None)
    record = outcome.record()["numbers"]
    outcome.facts = check(record)
    outcome.draw = lambda path: draw(record, plot, path)
    return outcome


def check(numbers: dict[str, Any]) -> list[Fact]:
    """The closed forms, the threshold's comparative statics, and the two backstops."""
    coin, dd = numbers["stablecoin"], numbers["diamond_dybvig"]
    thr = np.asarray(
        [[np.nan if v is None else v for v in row] for row in dd["threshold_measured"]],
        dtype=float,
    )  # (Y, L)
    region = np.asarray(dd["run_region"], dtype=float)
    # run region grows as the liquidation value falls (haircut rises) and as cash falls
    by_haircut = bool(np.all(np.diff(region, axis=1) <= 1e-12))
    by_liquid = bool(np.all(np.diff(region, axis=0) <= 1e-12))
    low_l = np.nanmin(thr) if np.isfinite(thr).any() else None
    return [
        Fact(
            "One-period stablecoin run: recoverable value per token is 1 − min(f/(1−h), 1)·h.",
            f"Largest gap between the kernel and the closed form over "
            f"{len(coin['haircuts'])} haircuts × the withdrawal grid: "
            f"{fmt(coin['max_error'], 2)}; with a lender of last resort at book value (h = 0) "
            f"the value never falls below {fmt(coin['lolr_value_min'], 6)}.",
            coin["max_error"] < 1e-9
            and coin["lolr_value_min"] is not None
            and coin["lolr_value_min"] > 1 - 1e-9,
        ),
        Fact(
            "Diamond–Dybvig: a run is self-fulfilling above the threshold f*, which exists iff "
            "r1 > y + (1 − y)·l.",
            f"Kernel thresholds match the closed form within one grid step "
            f"({fmt(dd['grid_step'], 2)}) in every setting: {dd['threshold_agree']}; lowest "
            f"threshold {fmt(low_l, 3)}.",
            bool(dd["threshold_agree"]) and low_l is not None,
        ),
        Fact(
            "Runs are more likely with larger fire-sale haircuts and less liquidity.",
            "Share of withdrawal levels above t at which running is self-fulfilling, by cash "
            "share y (rows) and liquidation value l: "
            + "; ".join(
                f"y = {fmt(y)}: " + ", ".join(f"{fmt(r, 2)}" for r in row)
                for y, row in zip(dd["liquid_shares"], region, strict=True)
            )
            + ".",
            by_haircut and by_liquid and region.max() > 0.0,
        ),
        Fact(
            "Deposit insurance or a lender of last resort removes the run equilibrium.",
            f"Withdrawal levels (of {region.size} settings × the grid) at which a patient "
            f"depositor still prefers to run: {dd['insured_runs']} with deposit insurance "
            f"(r2 = {fmt(dd['promised_date2'], 4)}), {dd['lolr_runs']} with a lender of last "
            "resort.",
            dd["insured_runs"] == 0 and dd["lolr_runs"] == 0,
        ),
    ]


def draw(numbers: dict[str, Any], plot: dict[str, Any], path: Path) -> None:
    """Three panels: stablecoin value per token; a waiting depositor's payoff; thresholds."""
    fig, axes = new_figure(13, 4.2, ncols=3)
    f = plot["f"]
    ax = axes[0, 0]
    for k, (h, v) in enumerate(plot["coin"].items()):
        color = f"C{k}"
        label = f"h = {fmt(h)}" + (" (lender of last resort)" if h == 0.0 else "")
        ax.plot(f, plot["coin_closed"][h], color=color, lw=1, label=label)
        ax.plot(f[:: max(1, f.size // 25)], v[:: max(1, f.size // 25)], "o", color=color, ms=3)
    ax.set_xlabel("share of tokens redeemed at once f")
    ax.set_ylabel("value per token")
    ax.set_title("Stablecoin: kernel (dots) vs 1 − min(f/(1−h),1)·h")
    ax.legend(fontsize=7, frameon=False)
    dd = numbers["diamond_dybvig"]
    ax = axes[0, 1]
    yi = 0
    for k, l_value in enumerate(dd["liquidation_values"]):
        if k % max(1, len(dd["liquidation_values"]) // 4):
            continue
        ax.plot(f, plot["dd_wait"][yi, k], lw=1, label=f"l = {fmt(l_value)}")
    ax.plot(f, plot["dd_lolr"][yi, 0], "k--", lw=1, label="lender of last resort")
    ax.axhline(dd["promised"], color="r", lw=0.8, ls=":", label="r1 (withdraw)")
    ax.axhline(dd["promised_date2"], color="g", lw=0.8, ls=":", label="r2 (insured)")
    ax.set_ylim(0, 2.2)
    ax.set_xlabel("share withdrawing at date 1, f")
    ax.set_ylabel("payoff of waiting")
    ax.set_title(f"Diamond–Dybvig, y = {fmt(dd['liquid_shares'][yi])}")
    ax.legend(fontsize=7, frameon=False)
    ax = axes[0, 2]
    haircut = 1.0 - np.asarray(dd["liquidation_values"])
    for k, y in enumerate(dd["liquid_shares"]):
        measured = [np.nan if v is None else v for v in dd["threshold_measured"][k]]
        closed = [np.nan if v is None else v for v in dd["threshold_closed"][k]]
        ax.plot(haircut, closed, color=f"C{k}", lw=1, label=f"y = {fmt(y)}")
        ax.plot(haircut, measured, "o", color=f"C{k}", ms=3)
    ax.axhline(dd["impatient"], color="0.5", ls=":", lw=0.8)
    ax.set_xlabel("fire-sale haircut 1 − l")
    ax.set_ylabel("run threshold f*")
    ax.set_title("Threshold: kernel (dots) vs closed form")
    ax.legend(fontsize=7, frameon=False)
    for a in axes.flat:
        a.grid(alpha=0.3, lw=0.5)
    fig.savefig(path, format="png")


def section(record: dict[str, Any], figure: str) -> str:
    """The Markdown section of ``docs/validation.md`` for this replication."""
    n = record["numbers"]
    dd = n["diamond_dybvig"]
    header = ["y \\ l"] + [fmt(v) for v in dd["liquidation_values"]]
    rows = [
        [fmt(y)] + [fmt(v, 3) if v is not None else "no run" for v in row]
        for y, row in zip(dd["liquid_shares"], dd["threshold_measured"], strict=True)
    ]
    return f"""\
**Papers.** {PAPER}.

**Set-up (ours).** Both models run through `kernels.firesale.fire_sale`: the issuer or bank
raises the cash its withdrawals need by selling its illiquid asset at the fire-sale price, one
world per (haircut or liquidation value, cash share, withdrawal share) on a grid of
withdrawal shares. Diamond–Dybvig parameters: R = {fmt(dd["long_return"])}, r1 =
{fmt(dd["promised"])}, t = {fmt(dd["impatient"])} impatient, r2 = {fmt(dd["promised_date2"], 4)}
(all of date 2 shared by the patient when only the impatient withdraw).

![runs]({figure})

Run threshold f* measured with the kernel (first withdrawal share at which waiting pays less than
r1), by cash share y and liquidation value l:

{markdown_table(header, rows)}

{facts_list(record["facts"])}

**How ours compares.** The stablecoin value matches the closed form to rounding, and the
Diamond–Dybvig thresholds match the closed form to the grid step: the kernel's pro-rata liquidity
sales are exactly the liquidation the closed forms assume. The comparative statics and the two
backstops are those of Diamond & Dybvig.

**Where ours departs and why.** (1) One period: withdrawers are paid in full while the bank can
raise the cash; a bank that cannot pay them all fails at date 1 and waiting depositors get
nothing (we do not model the order of service within the period). (2) The haircut is flat (no
depth), as in the closed forms; the model's stablecoin issuers instead sell through the shared
price-impact market, where the haircut grows with the size of the run. (3) No equilibrium
selection (global games): we report the set of withdrawal levels at which a run is
self-fulfilling, not a run probability.
"""
