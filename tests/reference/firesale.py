"""Plain per-agent Python reference for ``kernels.firesale.fire_sale`` (one world, float64).

Written from the kernel contract (docs/design.md, "The kernel contract") and the rules in the module
docstring of ``kernels/firesale.py``, not from the vectorized code: every holder is a small Python
object, every round loops over holders and assets, prices use ``math.exp``. The oracle tests compare
the kernel with it world by world, and the benchmark suite times it as "the per-agent Python loop".

One round:

1. every holder decides on the state at the start of the round (prices, cash, liabilities,
   units held): default (for good), deleveraging, raising cash for ``cash_needed``;
2. if no holder would sell or repay more than ``tol`` times its total assets, the round is quiet:
   nothing executes, the call has converged (the quiet round counts as a round);
3. otherwise all sales are aggregated per asset, prices move once to
   ``initial_price * f(cumulative units sold / depth)``, every sale fills at the mid of the
   round's old and new price (or at the new price with ``fill="end"``), and the deleveraging
   share of the proceeds repays liabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

IMPACTS = ("exponential", "linear", "cont_schaanning")
FILLS = ("mid", "end")


def impact_factor(sold: float, depth: float, impact: str, floor: float = 0.0) -> float:
    """Price relative to the initial price after ``sold`` units of an asset of this depth."""
    x = 0.0 if math.isinf(depth) else sold / depth
    if impact == "exponential":
        return math.exp(-x)
    if impact == "linear":
        return max(0.0, 1.0 - x)
    if impact == "cont_schaanning":
        keep = 1.0 - floor
        return floor + keep * math.exp(-x / keep)
    raise ValueError(f"impact must be one of {', '.join(IMPACTS)}; got {impact!r}")


@dataclass
class Holder:
    """One holder's balance sheet and its (per-holder) thresholds."""

    units: list[float]
    cash: float
    debt: float
    other: float
    need: float
    capital_min: float | None
    capital_buffer: float | None
    capital_target: float | None
    defaulted: bool = False
    proceeds: float = 0.0
    # this round's orders
    sell: float = 0.0  # market value to sell at start-of-round prices
    sell_to_repay: float = 0.0  # the part of ``sell`` whose proceeds repay liabilities
    repay_from_cash: float = 0.0
    book_value: float = 0.0  # market value of the units at start-of-round prices
    units_sold: list[float] = field(default_factory=list)

    def book(self, prices: Sequence[float]) -> float:
        total = 0.0
        for q, p in zip(self.units, prices, strict=True):
            total += q * p
        return total

    def decide(self, prices: Sequence[float], sell_all_on_default: bool) -> float:
        """Set this round's orders from the start-of-round state; return total assets."""
        book = self.book_value = self.book(prices)
        assets = self.cash + book + self.other
        equity = assets - self.debt
        self.sell = self.sell_to_repay = self.repay_from_cash = 0.0

        if not self.defaulted and self.debt > 0.0:
            if equity <= 0.0:
                self.defaulted = True
            elif self.capital_min is not None and equity / assets < self.capital_min:
                self.defaulted = True
        if self.defaulted:
            if sell_all_on_default:
                self.sell = book
            return assets

        # deleveraging: shed D = A - equity / target; spare cash repays first, then sell pro rata
        shed = 0.0
        if self.capital_buffer is not None and equity > 0.0:
            if equity / assets < self.capital_buffer:
                shed = max(0.0, assets - equity / self.capital_target)
        spare = max(0.0, self.cash - self.need)
        self.repay_from_cash = min(spare, shed, self.debt)
        self.sell_to_repay = min(shed - self.repay_from_cash, book)

        # liquidity need: sell until cash covers it (what is left of the book)
        shortfall = max(0.0, self.need - self.cash)
        for_cash = min(shortfall, book - self.sell_to_repay)
        self.sell = self.sell_to_repay + for_cash
        return assets


def _per_holder(value: Any, n: int, name: str) -> list[float | None]:
    if value is None:
        return [None] * n
    if np.ndim(value) == 0:
        return [float(value)] * n
    values = [float(v) for v in np.asarray(value, dtype=np.float64).reshape(-1)]
    if len(values) != n:
        raise ValueError(f"{name} must be a scalar or have {n} entries; got {len(values)}")
    return values


def _vector(value: Any, n: int, name: str) -> list[float]:
    if value is None:
        return [0.0] * n
    values = [float(v) for v in np.asarray(value, dtype=np.float64).reshape(-1)]
    if len(values) == 1 and n != 1:
        values = values * n
    if len(values) != n:
        raise ValueError(f"{name} must have {n} entries; got {len(values)}")
    return values


def fire_sale_loop(
    holdings: Any,
    prices: Any,
    cash: Any,
    liabilities: Any,
    *,
    depth: Any,
    other_assets: Any = None,
    capital_min: Any = 0.0,
    capital_buffer: Any = None,
    capital_target: Any = None,
    cash_needed: Any = None,
    impact: str = "exponential",
    fill: str = "mid",
    sell_all_on_default: bool = True,
    price_floor: Any = 0.0,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> dict[str, Any]:
    """Run the fire-sale rounds for one world with a Python loop over holders and assets.

    Args mirror ``kernels.firesale.fire_sale`` without batch axes: ``holdings`` (N, M),
    ``prices`` and ``depth`` (M,), ``cash``, ``liabilities``, ``other_assets`` and
    ``cash_needed`` (N,) (None: zeros), thresholds scalars or N per-holder values (None disables
    that rule), ``price_floor`` a scalar or M values.

    Returns:
        dict with the keys of ``FireSaleResult``: prices, holdings, cash, liabilities, equity,
        defaulted, sold, proceeds (NumPy float64 / bool arrays), converged (bool) and
        iterations (int, the quiet round included; ``max_iter`` when never quiet).
    """
    if impact not in IMPACTS:
        raise ValueError(f"impact must be one of {', '.join(IMPACTS)}; got {impact!r}")
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {', '.join(FILLS)}; got {fill!r}")
    units = np.asarray(holdings, dtype=np.float64)
    if units.ndim != 2:
        raise ValueError(f"holdings must have shape (N, M) (one world); got {units.shape}")
    rows = units.tolist()
    n = len(rows)
    m = units.shape[1]
    initial = _vector(prices, m, "prices")
    depths = _vector(depth, m, "depth")
    floors = _vector(price_floor, m, "price_floor")
    tol = max(float(tol), 64.0 * float(np.finfo(np.float64).eps))

    cmin = _per_holder(capital_min, n, "capital_min")
    cbuf = _per_holder(capital_buffer, n, "capital_buffer")
    ctgt = _per_holder(capital_target, n, "capital_target")
    ctgt = [t if t is not None else b for t, b in zip(ctgt, cbuf, strict=True)]
    holders = [
        Holder(
            units=[float(q) for q in rows[i]],
            cash=c,
            debt=d,
            other=o,
            need=k,
            capital_min=cmin[i],
            capital_buffer=cbuf[i],
            capital_target=ctgt[i],
        )
        for i, (c, d, o, k) in enumerate(
            zip(
                _vector(cash, n, "cash"),
                _vector(liabilities, n, "liabilities"),
                _vector(other_assets, n, "other_assets"),
                _vector(cash_needed, n, "cash_needed"),
                strict=True,
            )
        )
    ]

    price = list(initial)
    sold = [0.0] * m
    converged = False
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        # 1. decide, all on the start-of-round state
        material = False
        for h in holders:
            assets = h.decide(price, sell_all_on_default)
            if h.sell > tol * assets or h.repay_from_cash > tol * assets:
                material = True
        if not material:  # 2. the quiet round: nothing executes
            converged = True
            break

        # 3. aggregate every holder's sales per asset, then move prices once
        sold_this_round = [0.0] * m
        for h in holders:
            book = h.book_value
            fraction = min(1.0, h.sell / book) if book > 0.0 and h.sell > 0.0 else 0.0
            h.units_sold = [fraction * q for q in h.units]
            for j in range(m):
                sold_this_round[j] += h.units_sold[j]
        new_price = []
        for j in range(m):
            sold[j] += sold_this_round[j]
            new_price.append(initial[j] * impact_factor(sold[j], depths[j], impact, floors[j]))
        if fill == "mid":
            fill_at = [0.5 * (a + b) for a, b in zip(price, new_price, strict=True)]
        else:
            fill_at = list(new_price)
        price = new_price

        # settle: proceeds to cash, the deleveraging part repays liabilities
        for h in holders:
            got = 0.0
            for j in range(m):
                if h.units_sold[j] != 0.0:
                    got += h.units_sold[j] * fill_at[j]
                    h.units[j] -= h.units_sold[j]
            repaid_from_sales = 0.0
            if h.sell > 0.0 and h.sell_to_repay > 0.0:
                repaid_from_sales = min(got * h.sell_to_repay / h.sell, h.debt - h.repay_from_cash)
            h.debt -= h.repay_from_cash + repaid_from_sales
            h.cash += got - h.repay_from_cash - repaid_from_sales
            h.proceeds += got

    equity = [h.cash + h.book(price) + h.other - h.debt for h in holders]
    return {
        "prices": np.array(price, dtype=np.float64),
        "holdings": np.array([h.units for h in holders], dtype=np.float64).reshape(n, m),
        "cash": np.array([h.cash for h in holders], dtype=np.float64),
        "liabilities": np.array([h.debt for h in holders], dtype=np.float64),
        "equity": np.array(equity, dtype=np.float64),
        "defaulted": np.array([h.defaulted for h in holders], dtype=bool),
        "sold": np.array(sold, dtype=np.float64),
        "converged": converged,
        "iterations": iterations,
        "proceeds": np.array([h.proceeds for h in holders], dtype=np.float64),
    }
