"""AMD's warrants to OpenAI, vesting as the GPUs OpenAI buys are deployed (issue 17).

``[circular_deals.E14]``: on 5 Oct 2025 AMD gave OpenAI a warrant for 160 m AMD shares at an
exercise price of 0.01 USD (AMD 8-K of 6 Oct 2025, Exhibit 4.1; AMD 10-K 2025): the first
tranche vests on delivery of the initial 1 GW of MI450 GPUs, the rest as OpenAI's purchases
scale to 6 GW, each tranche also needing AMD's share price at an escalating target, the last
600 USD. Only the final target is disclosed; the calibration fills in equal tranches, one per
GW, with targets rising linearly from AMD's 2025 year-end price (``status = "estimate"``).

- **Deployment.** GW deployed = cumulative OpenAI → AMD payments of the purchase commitment
  ``[circular_deals.E15]`` (:attr:`abm.deals.CircularDeals.paid_to_date`, capped part and
  full-size excess) over its price per GW, ``size / size_gw`` (60 bn / 6 GW = 10 bn a GW).
- **Vesting.** Tranche k vests the first week with ``GW ≥ k·6/n`` and AMD's price index
  ``p ≥ target_k / P₀`` (``P₀`` AMD's 2025 year-end price in USD, the index being 1 at the
  start), while neither OpenAI nor AMD has failed. A vested tranche is exercised at once: at
  0.01 USD a share the exercise price is nothing next to the share price, and is left out.
- **Dilution.** ``n`` new units of ``equity_amd`` go to OpenAI (160 m / 1,630 m shares of the
  2025 units per share); AMD's value is unchanged and shared by more units, so its price falls
  to ``p·N/(N+n)`` for ``N`` units outstanding. ``BalanceSheets.dilution`` keeps the factor for
  the valuation, which prices the fundamental per unit with it every later week. OpenAI gains
  ``n·p'`` and AMD's old holders (agents and outsiders) lose ``N·(p − p') = n·p'``: the agents'
  changes are booked as equity flows, so the accounting gap stays zero. Before it vests the
  warrant is on nobody's books: its 34 bn value at issue (``value_at_issue``) is contingent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.arrays import add_column
from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.deals import CircularDeals
from abm.state import WorldState


def vesting_schedule(cal: Calibration, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tranches of warrant ``key``: (GW needed, AMD price index needed, shares), each (n,).

    GW from 1/n to 1 of the purchase's ``size_gw``; price targets linear in USD from
    ``first_price_target`` to ``final_price_target`` over the issuer's ``share_price`` at the
    model start; ``warrant_shares`` split equally.
    """
    node = f"circular_deals.{key}"
    n = int(cal.value(f"{node}.tranches"))
    purchase = _purchase_key(cal, key)
    full_gw = float(cal.value(f"circular_deals.{purchase}.size_gw"))
    first = float(cal.value(f"{node}.first_price_target"))
    final = float(cal.value(f"{node}.final_price_target"))
    price0 = float(cal.value(f"firms.{cal.node(node)['from']}.share_price"))
    steps = np.arange(1, n + 1) / n
    targets = first + (final - first) * (steps - 1.0 / n) / max(1.0 - 1.0 / n, 1e-12)
    shares = np.full(n, float(cal.value(f"{node}.warrant_shares")) / n)
    return full_gw * steps, targets / price0, shares


def _purchase_key(cal: Calibration, key: str) -> str:
    """The purchase commitment in GW that pays for warrant ``key`` (holder buys from issuer)."""
    node = cal.node(f"circular_deals.{key}")
    for other in cal.children("circular_deals"):
        deal = cal.node(f"circular_deals.{other}")
        if (deal["from"], deal["to"]) == (node["to"], node["from"]) and "size_gw" in deal:
            return other
    raise ValueError(f"no purchase in GW from {node['to']} to {node['from']} for warrant {key}")


class Warrants:
    """The warrant edges of ``[circular_deals.*]`` (rule "warrant vesting").

    Attributes:
        keys: the warrant deals modelled (AMD → OpenAI, E14).
        vested: (E, K, n) whether each tranche of each warrant has vested.
        gw_deployed: (E, K) GW the holder has paid for so far, as of the last week.
        last_received: (E, N) value of the shares each holder received from vesting last week
            (USD bn, at the diluted price).
    """

    def __init__(self, cal: Calibration, sheets: BalanceSheets, deals: CircularDeals) -> None:
        self.sheets, self.deals = sheets, deals
        xp, roster, table = sheets.xp, sheets.roster, sheets.assets
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        keys = [
            k for k in cal.children("circular_deals")
            if cal.node(f"circular_deals.{k}")["kind"] == "warrant"
        ]  # fmt: skip
        self.keys, rows = [], []
        gw, price, units = [], [], []
        for key in keys:
            node = cal.node(f"circular_deals.{key}")
            issuer, holder = node["from"], node["to"]
            asset = table.equity_of(issuer)
            if asset < 0 or not deals.enabled:
                continue
            purchase = _purchase_key(cal, key)
            per_gw = float(cal.model_value(f"circular_deals.{purchase}.size")) / float(
                cal.value(f"circular_deals.{purchase}.size_gw")
            )
            need_gw, need_price, shares = vesting_schedule(cal, key)
            per_share = table.outstanding[asset] / float(
                cal.value(f"firms.{issuer}.shares_outstanding")
            )  # units of the equity asset per share at the start
            self.keys.append(key)
            names = deals.firm_names
            rows.append((roster.index(holder), roster.index(issuer), asset,
                         names.index(holder), names.index(issuer), per_gw))  # fmt: skip
            gw.append(need_gw)
            price.append(need_price)
            units.append(shares * per_share)
        self.rows = rows
        worlds = sheets.prices.shape[0]

        width = len(gw[0]) if gw else 0

        def dev_array(values: list[np.ndarray]) -> Any:
            host = np.array(values, dtype=float).reshape(len(rows), width)
            return xp.asarray(host, dtype=dtype, device=dev)

        self.need_gw, self.need_price = dev_array(gw), dev_array(price)  # (K, n)
        self.units = dev_array(units)  # (K, n) units of the equity asset per tranche
        self.vested = xp.zeros((worlds, *self.units.shape), dtype=xp.bool, device=dev)
        self.gw_deployed = xp.zeros((worlds, len(rows)), dtype=dtype, device=dev)
        self.last_received = xp.zeros(sheets.ledger.cash.shape, dtype=dtype, device=dev)

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot: ``warrant_shares_received`` (E, N), shares got from vesting (USD bn)."""
        return {"warrant_shares_received": self.last_received}

    def vest(self, state: WorldState) -> None:
        """Vest the tranches whose GW and price targets are met; issue and dilute (after valuation).

        No host synchronisation: a week without vesting issues zero units.
        """
        self.last_received = self.sheets.xp.zeros_like(self.last_received)
        for k, row in enumerate(self.rows):
            self._vest_one(state, k, *row)

    def _vest_one(self, state: WorldState, k: int, holder: int, issuer: int, asset: int,
                  payer: int, supplier: int, per_gw: float) -> None:  # fmt: skip
        s = self.sheets
        xp = s.xp
        gw = self.deals.paid_to_date[:, payer, supplier] / per_gw  # (E,)
        price = s.prices[:, asset]
        alive = ~(state.defaulted[:, holder] | state.defaulted[:, issuer])
        newly = tranches_vesting(
            xp, self.vested[:, k, :], gw, price, alive, self.need_gw[k, :], self.need_price[k, :]
        )
        self.vested = _set_row(xp, self.vested, k, self.vested[:, k, :] | newly)
        self.gw_deployed = _set_row(xp, self.gw_deployed, k, gw)
        issued = xp.sum(xp.where(newly, self.units[k, :], 0.0), axis=-1)  # (E,) new units
        self._issue(asset, holder, issued)

    def _issue(self, asset: int, holder: int, issued: Any) -> None:
        """``issued`` (E,) new units of ``asset`` to ``holder``; price × N/(N+n), value booked."""
        s = self.sheets
        xp = s.xp
        m, n = s.prices.shape[-1], s.holdings.shape[1]
        one_asset = xp.asarray(np.arange(m) == asset, device=s.prices.device)
        one_holder = xp.asarray(np.arange(n) == holder, device=s.prices.device)
        supply = s.supply[:, asset]
        factor = supply / (supply + issued)  # (E,) dilution of every unit
        factors = xp.where(one_asset, factor[:, None], 1.0)  # (E, M)
        old_price = s.prices[:, asset]
        new_price = old_price * factor
        # only the one asset's column moves: (E, N) work, no (E, N, M) temporaries
        held = s.holdings[:, :, asset]
        diluted = held * (new_price - old_price)[:, None]  # old holders lose
        new_units = xp.where(one_holder, issued[:, None], 0.0)  # (E, N)
        received = new_units * new_price[:, None]  # the holder's new shares
        s.ledger.book_equity(diluted + received)
        self.last_received = self.last_received + received
        s.holdings = add_column(xp, s.holdings, asset, new_units)  # in place: after ``held``
        s.prices = s.prices * factors
        s.supply = s.supply + xp.where(one_asset, issued[:, None], 0.0)
        s.dilution = s.dilution * factors


def tranches_vesting(
    xp: Any, vested: Any, gw: Any, price: Any, alive: Any, need_gw: Any, need_price: Any
) -> Any:
    """(E, n) tranches that vest this week: not yet vested, GW and price targets met, both alive.

    ``vested`` (E, n); ``gw``, ``price`` (E,) GW deployed and the issuer's price index;
    ``alive`` (E,) neither holder nor issuer failed; ``need_gw``, ``need_price`` (n,).
    """
    met = (gw[:, None] >= need_gw[None, :] - 1e-9) & (price[:, None] >= need_price[None, :])
    return ~vested & met & alive[:, None]


def _set_row(xp: Any, array: Any, k: int, value: Any) -> Any:
    """``array`` (E, K, ...) with ``[:, k]`` replaced by ``value`` (E, ...)."""
    pick = xp.asarray(np.arange(array.shape[1]) == k, device=array.device)
    pick = xp.reshape(pick, (1, array.shape[1]) + (1,) * (array.ndim - 2))
    return xp.where(pick, xp.expand_dims(value, axis=1), array)
