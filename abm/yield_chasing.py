"""Reach for yield: pension funds and insurers tilt their bond sleeve toward higher spreads."""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.arrays import add_at, denominator_floor
from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.channels import Channels
from abm.state import WorldState


class YieldChasing:
    """Pension funds and insurers tilt their bond sleeve toward what pays more (reach for yield).

    The sleeve is Treasuries, non-AI IG bonds, each AI issuer's bonds and high yield. Target
    weights are the starting weights times ``exp(θ·(y_k − ȳ))``, normalised, where ``y_k`` is the
    asset's credit spread now — its starting spread plus the widening its price implies,
    ``Δs = −ln(P)/D`` — and ``ȳ`` the sleeve's weighted spread; each week a fund closes a fraction
    of the gap (the seeds' "reach for yield", mechanism M03). Trades
    are with investors outside the model at market prices and finance each other, so no cash
    moves on net.
    """

    def __init__(
        self, cal: Calibration, sheets: BalanceSheets, channels: Channels | None = None
    ) -> None:
        self.sheets = sheets
        self.channels = channels or Channels()
        xp = sheets.xp
        roster, table = sheets.roster, sheets.assets
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        rows = [
            i for s in ("pension", "insurer_life", "insurer_pc") for i in roster.indices("fund", s)
        ]
        if rows != list(range(rows[0], rows[-1] + 1)):
            raise ValueError("pension funds and insurers must be adjacent in the roster")
        self.block = slice(rows[0], rows[-1] + 1)  # the same rows as a slice: views, no copies
        # insurers rebalance at the pension funds' speed (the calibration gives one value)
        self.speed = float(cal.model_value("funds.pension.rebalancing_speed_per_week"))
        self.theta = float(cal.value("funds.pension.yield_chasing_sensitivity"))
        sleeve = [
            table.index("treasuries"),
            table.index("ig_bonds_non_ai"),
            table.index("hy_loans"),
        ]
        sleeve += [
            m for m, c in enumerate(table.asset_class) if c == "corporate_bond" and table.issuer[m]
        ]
        self.sleeve = xp.asarray(np.array(sleeve), device=dev)
        spread = np.array([table.spread[m] for m in sleeve])
        for k, m in enumerate(sleeve):
            issuer = table.issuer[m]
            if issuer is not None and "bond_spread" in cal.node(f"firms.{issuer}"):
                spread[k] = float(cal.value(f"firms.{issuer}.bond_spread")) / 1e4
        self.spread0 = xp.asarray(spread, dtype=dtype, device=dev)
        self.duration = xp.asarray(
            np.maximum(np.array([table.duration[m] for m in sleeve]) / 52.0, 0.25),
            dtype=dtype,
            device=dev,
        )
        value = self._sleeve_values()
        self.weights0 = value / xp.maximum(xp.sum(value, axis=-1, keepdims=True), 1e-12)

    def _sleeve_values(self) -> Any:
        s = self.sheets
        xp = s.xp
        units = xp.take(s.holdings[:, self.block, :], self.sleeve, axis=2)
        return units * xp.take(s.prices, self.sleeve, axis=1)[:, None, :]

    def rebalance(self, state: WorldState | None = None) -> None:
        """One week of tilting toward higher spreads, traded with outsiders at market prices."""
        if not self.channels.reach_for_yield:
            return
        s = self.sheets
        xp = s.xp
        price = xp.take(s.prices, self.sleeve, axis=1)  # (E, F)
        spread = self.spread0 - xp.log(xp.maximum(price, 1e-12)) / self.duration
        value = self._sleeve_values()  # (E, P, F)
        total = xp.sum(value, axis=-1, keepdims=True)
        mean = xp.sum(self.weights0 * spread[:, None, :], axis=-1, keepdims=True)
        tilt = self.weights0 * xp.exp(self.theta * (spread[:, None, :] - mean))
        target = tilt / xp.maximum(xp.sum(tilt, axis=-1, keepdims=True), 1e-12) * total
        trade = self.speed * (target - value)  # + buy, - sell (USD bn)
        # what outsiders hold: never below zero where agents hold a rounding residue over supply
        outside = xp.take(xp.maximum(s.outside_units(), 0.0), self.sleeve, axis=1) * price
        buys = xp.sum(xp.maximum(trade, 0.0), axis=1)  # (E, F)
        floor = denominator_floor(xp, buys.dtype)
        fill = xp.minimum(1.0, outside / xp.maximum(buys, floor))  # outsiders cannot sell more
        trade = xp.where(trade > 0.0, trade * fill[:, None, :], trade)
        net = xp.sum(trade, axis=-1, keepdims=True)  # keep it self-financing: scale the sells
        sells = xp.sum(xp.minimum(trade, 0.0), axis=-1, keepdims=True)
        trade = xp.where(trade < 0.0, trade * (1.0 - net / xp.minimum(sells, -1e-12)), trade)
        units = trade / xp.maximum(price, 1e-12)[:, None, :]  # (E, P, F)
        s.holdings = add_at(xp, s.holdings, self.block, self.sleeve, units)
