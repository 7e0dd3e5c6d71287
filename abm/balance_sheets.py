"""End-2025 balance sheets of every agent, built from the calibration as arrays with a world axis.

Agents sit in one global index in family blocks: tech firms, banks, funds, stablecoin issuers,
retail cohorts (:class:`abm.roster.Roster`). Each balance sheet (USD bn) is

    assets      = cash + holdings · prices + claims on pools + real assets
    liabilities = face owed on pools + bonds issued
    equity      = assets − liabilities

where *holdings* are units of the market's M assets (:mod:`abm.market`), *claims* and *face* are
the two sides of the ledger's instruments (:mod:`abm.ledger`: deposits, bank loans, private
loans, interbank, pension claims, fund shares, stablecoin tokens, insurance policies, vendor
financing and prepaid cloud capacity), *bonds*
are what a firm owes on the bonds it issued (their holders own units of the firm's bond asset),
and *real assets* are everything illiquid that is nobody's liability inside the model: data
centres and GPUs, mortgages and loans to the rest of the economy, real estate.

:mod:`abm.roster` sets who the agents are; :mod:`abm.opening_sheets` computes their end-2025
balance sheets family by family, and :func:`build_balance_sheets` puts them on the array backend,
one copy per world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from abm.calibration import Calibration
from abm.exposures import ExposureRules
from abm.ledger import BilateralPool, Ledger
from abm.market import AssetTable
from abm.opening_sheets import build_opening_sheets
from abm.roster import Roster


@dataclass
class BalanceSheets:
    """The state the weekly step updates, for E worlds (all arrays lead with the world axis).

    Attributes:
        roster: the agents.
        assets: the market's assets.
        ledger: cash, instrument pools, outsiders and equity flows.
        holdings: (E, N, M) units held.
        real_assets: (E, N) illiquid assets that are nobody's liability in the model.
        bonds: (E, N) face of the bonds each firm issued.
        bond_asset: (N,) market index of each firm's bonds (-1 if it issued none).
        prices: (E, M) prices per unit.
        adjustments: notes on holdings scaled down to fit the outstanding amounts.
    """

    roster: Roster
    assets: AssetTable
    ledger: Ledger
    holdings: Any
    real_assets: Any
    bonds: Any
    bond_asset: np.ndarray
    prices: Any
    adjustments: list[str] = field(default_factory=list)

    @property
    def xp(self) -> Any:
        """The array namespace."""
        return self.ledger.xp

    def market_value(self) -> Any:
        """(E, N) value of each agent's holdings at current prices."""
        return (self.holdings @ self.prices[:, :, None])[:, :, 0]

    def total_assets(self) -> Any:
        """(E, N) cash + holdings + pool claims + real assets."""
        held, _ = self.ledger.positions()
        return self.ledger.cash + self.market_value() + held + self.real_assets

    def liabilities(self) -> Any:
        """(E, N) face owed on pools + bonds issued."""
        _, owed = self.ledger.positions()
        return owed + self.bonds

    def assets_and_liabilities(self) -> tuple[Any, Any]:
        """(E, N) total assets and liabilities from one pass over the ledger's pools."""
        held, owed = self.ledger.positions()
        return self.ledger.cash + self.market_value() + held + self.real_assets, owed + self.bonds

    def equity(self) -> Any:
        """(E, N) total assets − liabilities."""
        return self.total_assets() - self.liabilities()

    def paid_to_holders(self, per_asset: Any) -> Any:
        """(E, N) what the model's holders receive when each asset pays ``per_asset`` (E, M).

        An asset's payment (a coupon, a dividend; USD bn) is shared over all its units
        outstanding, so each holder receives its units' part and holders outside the model the
        rest (``sum(per_asset) − sum(received)``, which the caller books to its outsider).
        """
        xp = self.xp
        per_unit = per_asset / xp.where(self.supply > 0.0, self.supply, 1.0)
        return (self.holdings @ per_unit[:, :, None])[:, :, 0]

    def outside_units(self) -> Any:
        """(E, M) units of each asset held outside the model (supply − agents' holdings)."""
        xp = self.xp
        return self.supply - xp.sum(self.holdings, axis=1)

    supply: Any = None  # (E, M) units outstanding
    impairment: Any = None  # (E, M) share of fundamental value left after defaults (1 = none)
    dilution: Any = None  # (E, M) starting units / units now after new shares (1 = none)


def build_balance_sheets(
    cal: Calibration,
    roster: Roster,
    n_worlds: int,
    xp: Any,
    dtype: Any = None,
    device: Any = None,
    capital_regime: str = "own",
    rules: ExposureRules | None = None,
) -> tuple[BalanceSheets, dict[str, np.ndarray]]:
    """The end-2025 balance sheets of ``roster``, identical in each of ``n_worlds`` worlds.

    ``capital_regime`` ("own", "us" or "eu"; :class:`abm.policy.Policy`) sets how much capital
    the banks hold at the start (see :meth:`abm.opening_sheets.OpeningSheets.banks`); ``rules``
    shape who lends to whom and where deposits sit (:mod:`abm.exposures`).

    Returns:
        The balance sheets on ``xp`` and per-bank parameters (CET1 ratio, risk density,
        uninsured deposit share) as host arrays in bank order.
    """
    dtype = xp.float64 if dtype is None else dtype
    assets = AssetTable.from_calibration(cal)
    b = build_opening_sheets(cal, roster, assets, capital_regime, rules)
    supply = np.array(assets.outstanding)

    def worlds(host: np.ndarray) -> Any:
        arr = xp.asarray(host, dtype=dtype, device=device)
        return xp.broadcast_to(arr, (n_worlds, *host.shape)) * 1.0  # a writable copy per world

    ledger = Ledger(xp, cash=worlds(b.cash))
    for name, pool in b.pools.items():
        if pool.links is not None:
            ledger.add_bilateral_pool(_bilateral(name, pool, xp, dtype, device, worlds))
            continue
        ledger.add_pool(
            name,
            issuers=xp.asarray(np.array(pool.issuers, dtype=np.int64), device=device),
            holders=xp.asarray(np.array(pool.holders, dtype=np.int64), device=device),
            face=worlds(np.array(pool.face, dtype=float)),
            claims=worlds(np.array(pool.claims, dtype=float)),
            outside_holder=pool.outside_holder,
        )
    sheets = BalanceSheets(
        roster=roster,
        assets=assets,
        ledger=ledger,
        holdings=worlds(b.holdings),
        real_assets=worlds(b.real),
        bonds=worlds(b.bonds),
        bond_asset=b.bond_asset,
        prices=worlds(np.ones(assets.size)),
        adjustments=b.notes,
        supply=worlds(supply),
        impairment=worlds(np.ones(assets.size)),
        dilution=worlds(np.ones(assets.size)),
    )
    return sheets, b.bank_params


def _bilateral(
    name: str, pool: Any, xp: Any, dtype: Any, device: Any, worlds: Any
) -> BilateralPool:
    """The ledger's :class:`~abm.ledger.BilateralPool` for an opening pool with named links."""
    issuers, holders, links = pool.issuers, pool.holders, pool.links
    edge_issuer = np.array([pool.issuer_at[i] for i, _, _, _ in links], dtype=np.int64)
    edge_holder = np.array([pool.holder_at[h] for _, h, _, _ in links], dtype=np.int64)
    balance = np.array([amount for _, _, amount, _ in links], dtype=float)
    lend = np.array([w for _, _, _, w in links], dtype=float)
    linked = np.bincount(edge_issuer, weights=balance, minlength=len(issuers))
    outside = np.maximum(np.array(pool.face, dtype=float) - linked, 0.0)
    syndicated = np.bincount(edge_issuer, weights=lend, minlength=len(issuers))
    outside_weight = np.maximum(1.0 - syndicated, 0.0)
    held = np.bincount(edge_holder, weights=balance, minlength=len(holders))
    count = np.bincount(edge_holder, minlength=len(holders))
    hold = np.where(held[edge_holder] > 0.0, balance / np.where(held > 0.0, held, 1.0)[edge_holder],
                    1.0 / count[edge_holder])  # fmt: skip

    def host(values: np.ndarray, kind: Any = None) -> Any:
        return xp.asarray(values, dtype=dtype if kind is None else kind, device=device)

    return BilateralPool(
        name,
        issuers=host(np.array(issuers, dtype=np.int64), xp.int64),
        holders=host(np.array(holders, dtype=np.int64), xp.int64),
        edge_issuer=host(edge_issuer, xp.int64),
        edge_holder=host(edge_holder, xp.int64),
        balance=worlds(balance),
        outside_face=worlds(outside),
        lend_weight=host(lend),
        outside_weight=host(outside_weight),
        hold_weight=host(hold),
        outside_holder=pool.outside_holder,
    )
