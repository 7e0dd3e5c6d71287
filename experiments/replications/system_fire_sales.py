"""Replication 3: system-wide fire sales among the 48 EU banks of the EBA 2018 stress test.

Farmer, Kleinnijenhuis, Nahai-Williamson & Wetzer (2020), "Foundations of system-wide financial
stress testing with heterogeneous institutions", Bank of England Staff Working Paper 861, in the
fire-sale-only form of its public code (INET Oxford, ``ox-inet-resilience/firesale_stresstest``,
Apache-2.0; the bank table is copied into ``abm/data/eba2018_banks.csv`` with its source and
licence, see ``abm/data/README.md``).

Balance sheets (the peer's construction, EUR bn): total assets ``A = CET1 / leverage ratio``,
cash ``0.05 A``, government bonds and corporate bonds (debt securities minus government bonds),
both tradable at price 1, illiquid other assets ``A - debt securities - cash``, liabilities
``A - CET1``. A shock cuts the government-bond price by ``s``. Banks follow the leverage rule
with minimum 3%, buffer 4% and target 5% (capital ratio = equity / assets): below the buffer a
bank repays debt with cash and sells tradables pro rata until it is back at the target; below the
minimum it defaults and sells everything. *Leverage targeting* (Cont & Schaanning 2017, "Fire
sales, indirect contagion and systemic stress testing", Norges Bank WP 2/2017; the peer's third
experiment) acts whenever the ratio is below the target (buffer = target = 5%). Prices respond
exponentially, ``p = p0 exp(-beta q / Q)`` with q the units sold and Q the units held, and
``beta = -ln(1 - PI) / 0.1`` so that selling 10% of a market moves its price by PI (Cifuentes,
Ferrucci & Shin 2005); in ``kernels.firesale.fire_sale`` that is ``depth = Q / beta``.

The whole (price impact × shock) grid is the world axis E of one ``fire_sale`` call per rule.
The *extent of the systemic event* is the share of the 48 banks that default (the peer's
``get_extent_of_systemic_event``); Gai & Kapadia (2010) would zero it below 5%.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
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

NAME = "system_fire_sales"
TITLE = "System-wide fire sales: 48 EU banks, price impact, shock size, threshold vs targeting"
PAPER = (
    "Farmer, Kleinnijenhuis, Nahai-Williamson & Wetzer (2020), *Foundations of system-wide "
    "financial stress testing with heterogeneous institutions*, Bank of England SWP 861, and its "
    "public fire-sale model `ox-inet-resilience/firesale_stresstest`"
)
CAPITAL_MIN, CAPITAL_BUFFER, CAPITAL_TARGET = 0.03, 0.04, 0.05
CASH_SHARE = 0.05  # of total assets, the peer's construction
IMPACT_REFERENCE = 0.1  # PI is the price fall when this share of a market is sold
RULES = {
    "threshold": (CAPITAL_BUFFER, CAPITAL_TARGET),
    "targeting": (CAPITAL_TARGET, CAPITAL_TARGET),
}


@dataclass(frozen=True)
class Size:
    """The grid.

    Attributes:
        price_impacts: PI values (price fall when 10% of a market is sold).
        shocks: government-bond price shocks (share of the price).
        impact_for_shock_sweep: the PI of the shock sweep (the peer's 5%).
        shock_for_impact_sweep: the shock of the price-impact sweep.
    """

    price_impacts: tuple[float, ...]
    shocks: tuple[float, ...]
    impact_for_shock_sweep: float = 0.05
    shock_for_impact_sweep: float = 0.1


_GRID = Size(
    price_impacts=tuple(np.round(np.linspace(0.0, 0.1, 21), 4)),
    shocks=tuple(np.round(np.linspace(0.0, 0.3, 31), 4)),
)
SIZES = {"ci": _GRID, "full": _GRID}  # the whole grid is one cheap kernel call


@dataclass(frozen=True)
class Banks:
    """The EBA 2018 balance sheets (EUR bn), one entry per bank.

    Attributes:
        bank_id: the peer's bank ids.
        holdings: (N, 2) units of corporate and government bonds (price 1).
        cash: (N,) cash.
        other_assets: (N,) illiquid assets.
        liabilities: (N,) liabilities.
        equity: (N,) CET1.
    """

    bank_id: tuple[str, ...]
    holdings: np.ndarray
    cash: np.ndarray
    other_assets: np.ndarray
    liabilities: np.ndarray
    equity: np.ndarray


def load_banks() -> Banks:
    """The 48 banks from the project's copy of the EBA 2018 table, in the peer's construction."""
    text = resources.files("abm").joinpath("data", "eba2018_banks.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    cet1 = np.asarray([float(r["cet1_eur_m"]) for r in rows]) / 1000.0
    ratio = np.asarray([float(r["leverage_ratio_pct"]) for r in rows]) / 100.0
    debt_securities = np.asarray([float(r["debt_securities_eur_m"]) for r in rows]) / 1000.0
    gov = np.asarray([float(r["gov_bonds_eur_m"]) for r in rows]) / 1000.0
    assets = cet1 / ratio
    cash = CASH_SHARE * assets
    return Banks(
        bank_id=tuple(r["bank_id"] for r in rows),
        holdings=np.stack([debt_securities - gov, gov], axis=-1),
        cash=cash,
        other_assets=assets - debt_securities - cash,
        liabilities=assets - cet1,
        equity=cet1,
    )


def stress(
    banks: Banks, price_impacts: np.ndarray, shocks: np.ndarray, rule: str, xp: Any
) -> dict[str, np.ndarray]:
    """One ``fire_sale`` call over E = len(price_impacts) worlds, world e with its PI and shock.

    Returns:
        ``defaulted`` (E, N) bool, ``sold`` (E,) units sold (EUR bn at price 1), ``prices``
        (E, 2) final prices, ``rounds`` (E,) rounds to quiet.
    """
    from kernels.backend import to_numpy
    from kernels.firesale import fire_sale

    buffer, target = RULES[rule]
    worlds = price_impacts.size
    market = banks.holdings.sum(axis=0)  # Q per asset
    beta = -np.log1p(-price_impacts) / IMPACT_REFERENCE
    with np.errstate(divide="ignore"):
        depth = np.where(beta[:, None] > 0, market[None, :] / beta[:, None], np.inf)
    prices = np.stack([np.ones(worlds), 1.0 - shocks], axis=-1)

    def tile(x: np.ndarray) -> Any:
        return xp.asarray(np.broadcast_to(x, (worlds, *x.shape)).copy())

    result = fire_sale(
        tile(banks.holdings),
        xp.asarray(prices),
        tile(banks.cash),
        tile(banks.liabilities),
        depth=xp.asarray(depth),
        other_assets=tile(banks.other_assets),
        capital_min=CAPITAL_MIN,
        capital_buffer=buffer,
        capital_target=target,
    )
    if not bool(np.all(to_numpy(result.converged))):
        raise RuntimeError("fire_sale did not converge on the EBA grid")
    return {
        "defaulted": to_numpy(result.defaulted),
        "sold": to_numpy(result.sold).sum(axis=-1),
        "prices": to_numpy(result.prices),
        "rounds": to_numpy(result.rounds),
    }


def _nearest(values: tuple[float, ...], x: float) -> int:
    return int(np.argmin(np.abs(np.asarray(values) - x)))


def run(size: str = "full", seed: int = 0, backend: str = "numpy") -> Outcome:
    """Stress the EBA banks on the whole grid under both rules (deterministic: seed unused)."""
    from kernels.backend import get_namespace

    check_size(size)
    spec = SIZES[size]
    xp = get_namespace(backend)
    banks = load_banks()
    pi, shock = np.meshgrid(spec.price_impacts, spec.shocks, indexing="ij")
    grid = (len(spec.price_impacts), len(spec.shocks))
    out = {rule: stress(banks, pi.ravel(), shock.ravel(), rule, xp) for rule in RULES}
    extent = {rule: o["defaulted"].mean(axis=-1).reshape(grid) for rule, o in out.items()}
    sold = {rule: o["sold"].reshape(grid) for rule, o in out.items()}
    i_pi = _nearest(spec.price_impacts, spec.impact_for_shock_sweep)
    j_s = _nearest(spec.shocks, spec.shock_for_impact_sweep)
    start_ratio = banks.equity / (banks.cash + banks.holdings.sum(-1) + banks.other_assets)
    numbers = {
        "banks": int(banks.cash.size),
        "tradable_eur_bn": float(banks.holdings.sum()),
        "total_assets_eur_bn": float((banks.liabilities + banks.equity).sum()),
        "below_buffer_at_start": [
            b for b, r in zip(banks.bank_id, start_ratio, strict=True) if r < CAPITAL_BUFFER
        ],
        "rule": {"min": CAPITAL_MIN, "buffer": CAPITAL_BUFFER, "target": CAPITAL_TARGET},
        "price_impacts": list(spec.price_impacts),
        "shocks": list(spec.shocks),
        "impact_for_shock_sweep": spec.price_impacts[i_pi],
        "shock_for_impact_sweep": spec.shocks[j_s],
        "extent": {rule: e for rule, e in extent.items()},
        "fire_sale_eur_bn": {rule: s for rule, s in sold.items()},
        "extent_vs_impact": extent["threshold"][:, j_s],
        "extent_vs_shock": {rule: e[i_pi] for rule, e in extent.items()},
        "fire_sale_vs_shock": {rule: s[i_pi] for rule, s in sold.items()},
        "max_rounds": int(max(o["rounds"].max() for o in out.values())),
    }
    rows = [
        {
            "rule": rule,
            "price_impact": spec.price_impacts[i],
            "shock": spec.shocks[j],
            "extent": extent[rule][i, j],
            "defaults": round(extent[rule][i, j] * banks.cash.size),
            "fire_sale_eur_bn": sold[rule][i, j],
        }
        for rule in RULES
        for i in range(grid[0])
        for j in range(grid[1])
    ]
    outcome = Outcome(NAME, TITLE, size, seed, numbers, rows, [], lambda p: None)
    record = outcome.record()["numbers"]
    outcome.facts = check(record)
    outcome.draw = lambda path: draw(record, path)
    return outcome


def _trend(values: list[float]) -> tuple[float, float, float]:
    """(last - first, Spearman rank correlation with the index, largest single-step fall)."""
    v = np.asarray(values, dtype=float)
    ranks = np.argsort(np.argsort(v, kind="stable"), kind="stable")
    rho = float(np.corrcoef(np.arange(v.size), ranks)[0, 1]) if v.std() > 0 else 0.0
    return float(v[-1] - v[0]), rho, float(max(0.0, -np.diff(v).min()))


def check(numbers: dict[str, Any]) -> list[Fact]:
    """Systemic risk rises with price impact and shock; the two rules differ (with the sign)."""
    n_banks = numbers["banks"]
    by_pi = numbers["extent_vs_impact"]
    by_shock = numbers["extent_vs_shock"]["threshold"]
    rise_pi, rho_pi, drop_pi = _trend(by_pi)
    rise_s, rho_s, drop_s = _trend(by_shock)
    jump = float(np.diff(np.asarray(by_pi)).max())
    jump_s = float(np.diff(np.asarray(by_shock)).max())
    shocks = numbers["shocks"]
    thr = np.asarray(numbers["extent_vs_shock"]["threshold"])
    tgt = np.asarray(numbers["extent_vs_shock"]["targeting"])
    sold_thr = np.asarray(numbers["fire_sale_vs_shock"]["threshold"])
    sold_tgt = np.asarray(numbers["fire_sale_vs_shock"]["targeting"])
    small = np.asarray(shocks) <= 0.1
    pi0 = fmt(100 * numbers["impact_for_shock_sweep"])
    return [
        Fact(
            "The systemic event grows with price impact, with a sharp transition.",
            f"At a {fmt(100 * numbers['shock_for_impact_sweep'])}% government-bond shock the "
            f"extent goes from {fmt(by_pi[0], 2)} (PI = 0) to {fmt(by_pi[-1], 2)} (PI = 10%); "
            f"rank correlation with PI {fmt(rho_pi, 2)}; largest rise in one 0.5-point step "
            f"{fmt(jump, 2)}; largest fall {fmt(drop_pi * n_banks, 2)} bank(s).",
            rise_pi > 0.3 and rho_pi > 0.9 and drop_pi * n_banks <= 2.0 + 1e-9,
        ),
        Fact(
            "The systemic event grows with the size of the shock.",
            f"At PI = {pi0}% the extent goes from {fmt(by_shock[0], 2)} (no shock) to "
            f"{fmt(by_shock[-1], 2)} (30%); rank correlation {fmt(rho_s, 2)}; largest rise "
            f"between neighbouring shocks {fmt(jump_s, 2)} (a jump); largest fall "
            f"{fmt(drop_s * n_banks, 2)} bank(s).",
            rise_s > 0.3 and rho_s > 0.9 and drop_s * n_banks <= 2.0 + 1e-9,
        ),
        Fact(
            "Leverage targeting and the threshold rule give different outcomes.",
            f"At PI = {pi0}%, for shocks up to 10% targeting defaults "
            f"{fmt(float((tgt - thr)[small].mean()) * n_banks, 2)} more banks on average "
            f"(at no shock: {fmt(tgt[0] * n_banks, 2)} vs {fmt(thr[0] * n_banks, 2)}) and sells "
            f"at least as much at every shock (fire sales EUR {fmt(sold_tgt[0], 4)} bn vs "
            f"{fmt(sold_thr[0], 4)} bn at no shock).",
            bool((tgt - thr)[small].mean() > 0 and np.all(sold_tgt >= sold_thr - 1e-6)),
        ),
    ]


def draw(numbers: dict[str, Any], path: Path) -> None:
    """Four panels: extent vs PI, extent vs shock by rule, the (PI, shock) map, fire-sale volume."""
    fig, axes = new_figure(11, 7.5, ncols=2, nrows=2)
    pis = 100 * np.asarray(numbers["price_impacts"])
    shocks = 100 * np.asarray(numbers["shocks"])
    extent = {k: np.asarray(v, dtype=float) for k, v in numbers["extent"].items()}
    ax = axes[0, 0]
    for s in (0.05, 0.1, 0.2):
        j = _nearest(tuple(numbers["shocks"]), s)
        ax.plot(pis, extent["threshold"][:, j], "o-", ms=3, label=f"shock {fmt(shocks[j])}%")
    ax.set_xlabel("price impact PI (%: price fall when 10% of a market is sold)")
    ax.set_ylabel("extent of systemic event (share of banks defaulted)")
    ax.set_title("Extent vs price impact (threshold rule)")
    ax.legend(fontsize=8, frameon=False)
    ax = axes[0, 1]
    for rule, style in (("threshold", "o-"), ("targeting", "s--")):
        ax.plot(shocks, numbers["extent_vs_shock"][rule], style, ms=3, label=rule)
    ax.set_xlabel("government-bond shock (%)")
    ax.set_title(f"Extent vs shock, PI = {fmt(100 * numbers['impact_for_shock_sweep'])}%")
    ax.legend(fontsize=8, frameon=False)
    ax = axes[1, 0]
    image = ax.pcolormesh(shocks, pis, extent["threshold"], vmin=0, vmax=1, cmap="magma_r")
    fig.colorbar(image, ax=ax, label="extent")
    ax.set_xlabel("government-bond shock (%)")
    ax.set_ylabel("price impact PI (%)")
    ax.set_title("Extent over the grid (threshold rule)")
    ax = axes[1, 1]
    for rule, style in (("threshold", "o-"), ("targeting", "s--")):
        ax.plot(shocks, numbers["fire_sale_vs_shock"][rule], style, ms=3, label=rule)
    ax.set_xlabel("government-bond shock (%)")
    ax.set_ylabel("EUR bn (units sold at pre-shock price 1)")
    ax.set_title("Total fire sales")
    ax.legend(fontsize=8, frameon=False)
    for a in (axes[0, 0], axes[0, 1], axes[1, 1]):
        a.grid(alpha=0.3, lw=0.5)
    fig.suptitle(
        "48 EU banks (EBA 2018), leverage rule 3% / 4% / 5%, one fire_sale call per rule over "
        "the whole grid",
        fontsize=10,
    )
    fig.savefig(path, format="png")


def section(record: dict[str, Any], figure: str) -> str:
    """The Markdown section of ``docs/validation.md`` for this replication."""
    n = record["numbers"]
    shocks = n["shocks"]
    picks = [_nearest(tuple(shocks), s) for s in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)]
    header = ["rule"] + [f"shock {fmt(100 * shocks[j])}%" for j in picks]
    rows = [
        [rule] + [f"{fmt(n['extent_vs_shock'][rule][j], 2)}" for j in picks]
        for rule in ("threshold", "targeting")
    ]
    pis = n["price_impacts"]
    pick_pi = [_nearest(tuple(pis), p) for p in (0.0, 0.02, 0.04, 0.05, 0.06, 0.08, 0.1)]
    header_pi = ["PI"] + [f"{fmt(100 * pis[i])}%" for i in pick_pi]
    row_pi = [["extent"] + [fmt(n["extent_vs_impact"][i], 2) for i in pick_pi]]
    return f"""\
**Paper.** {PAPER}.

**Set-up (ours).** The {n["banks"]} banks of `abm/data/eba2018_banks.csv` (EBA 2018, EUR
{n["total_assets_eur_bn"]:,.0f} bn of assets, EUR {n["tradable_eur_bn"]:,.0f} bn tradable),
balance sheets built as in the peer model, a shock to the government-bond price, exponential
impact calibrated by PI, leverage rule {fmt(100 * n["rule"]["min"])}% /
{fmt(100 * n["rule"]["buffer"])}% / {fmt(100 * n["rule"]["target"])}% (minimum / buffer /
target); leverage targeting acts below {fmt(100 * n["rule"]["target"])}%. The
{len(n["price_impacts"])} × {len(n["shocks"])} grid of (PI, shock) is the world axis of one
`kernels.firesale.fire_sale` call per rule (at most {n["max_rounds"]} rounds to quiet).
Banks below the 4% buffer before any shock: {", ".join(n["below_buffer_at_start"]) or "none"}.

![system-wide fire sales]({figure})

Extent of the systemic event vs price impact at a {fmt(100 * n["shock_for_impact_sweep"])}%
shock (threshold rule):

{markdown_table(header_pi, row_pi)}

Extent vs shock at PI = {fmt(100 * n["impact_for_shock_sweep"])}%:

{markdown_table(header, rows)}

{facts_list(record["facts"])}

**How ours compares.** The peer's experiments 1–2 sweep price impact and shock size and read the
extent of the systemic event off them; experiment 3 compares the threshold rule with leverage
targeting, which Cont & Schaanning (2017) show give materially different losses. Ours reproduces
the rise with both sweeps, with jumps as groups of banks cross their minimum together, and a
difference between the rules whose sign we report (targeting sells and fails more for small
shocks, because it acts from 5% instead of 4%). The levels are high: tradables are a small share
of each bank's assets, so a bank that must restore a 5% ratio from below 4% sells all of its
securities (its deleveraging need exceeds them); once one does, the price falls push others
through their buffers, and the market sells either little or nearly everything (lower right).

**Where ours departs and why.** (1) The peer stops after 6 time steps; our kernel clears the
cascade to its fixed point (until a round sells nothing), so late rounds that the peer cuts off
count here, and for the same inputs our extent can only be larger than the peer's. (2) The peer
repays only its "loan" (half of the liabilities) when it delevers; ours may repay any
liability, which never binds here: a bank above the 3% minimum needs to shed at most 40% of its
assets and its loan is about 48% of them.
(3) Sales fill at the round's mid price as in the peer. (4) Our numbers are not compared cell
by cell with the peer's published figures (we have their code, not their outputs), only by
shape.
"""
