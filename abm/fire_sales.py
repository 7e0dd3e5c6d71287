"""The market clearing of a week: every holder's constraint through the fire-sale kernel.

After the runs and the backstops of the week (:mod:`abm.bank_runs`, :mod:`abm.backstops`), the
fire-sale fixed point (``kernels.firesale.fire_sale``) settles defaults, deleveraging and cash
needs in synchronous rounds with price impact, sales filled at the mid price:

- **Constraints**: banks' capital rules and hedge funds' margin (:mod:`abm.constraints`); an agent
  that has failed has no buffer and stops deleveraging. Banks' thresholds hold on regulatory
  capital, with their held-to-maturity Treasuries at cost: the kernel's ratio is equity at market
  value over total assets, so a bank's thresholds move down by its add-back over its assets
  (``htm × (cost − price) / A``, at the prices before the sale). The CET1 thresholds become
  ratios to total assets at the density of each bank's book before the sale
  (:meth:`abm.constraints.BankCapital.thresholds`): within a week's clearing a bank's RWA is
  taken to shrink with its assets.
- **Held to maturity**: sales come out of the available-for-sale Treasuries first; only once a
  bank holds fewer Treasury units than its HTM book does the book shrink to what it holds, and
  the loss on the units sold, until then left out of regulatory capital, counts
  (``state.banks.htm_units``).
- **Cash needs**: what funds and stablecoin issuers must pay out this week and what panicking
  households sell (``flows.due`` and ``flows.panic_sales``), and never less than zero cash.
- **Debt**: debt-like liabilities (:mod:`abm.claims`) decide default; deleveraging repays
  wholesale funding, then bank loans, then private loans, then interbank borrowing
  (:data:`REPAY_ORDER`).
- **Revaluation**: units sold go to the market makers, who pay the proceeds; every holder's book
  is marked to the new prices and sellers book the difference between the fill and the mark.

An agent that ends the clearing with negative equity or short of cash has failed (cause
``"market"``); its creditors' losses are cleared by :mod:`abm.failures` after the payouts.
"""

from __future__ import annotations

from typing import Any

from array_api_compat import is_numpy_namespace

from abm.arrays import itemsize, rounding_margin, world_chunks
from abm.claims import debt_owed
from abm.constraints import BankCapital, HedgeFundMargin
from abm.state import WorldState
from kernels.backend import segment_sum
from kernels.firesale import FireSaleResult, fire_sale

#: what deleveraging repays first
REPAY_ORDER = ("wholesale", "bank_loans", "private_loans", "interbank")


class FireSales:
    """The weekly market clearing (rule).

    Args:
        capital: the banks' capital rules.
        margin: the hedge funds' margin.
        depth: (M,) market depth in units (infinite when the ``fire_sales`` channel is off).
    """

    def __init__(
        self, capital: BankCapital, margin: HedgeFundMargin, depth: Any, pressure_depth: Any
    ) -> None:
        self.capital, self.margin, self.depth = capital, margin, depth
        self.pressure_depth = pressure_depth

    def step(self, state: WorldState) -> None:
        """Clear the market for this week's cash needs; book proceeds, repayments and prices."""
        s = state.sheets
        xp, ledger = s.xp, s.ledger
        flows = state.flows
        held, _ = ledger.positions()
        illiquid = held + s.real_assets
        debt = debt_owed(s)
        assets = ledger.cash + s.market_value() + illiquid
        addback = self.capital.htm_addback(state)
        shift = addback / xp.where(assets > 0.0, assets, 1.0)  # regulatory view (module doc)
        cmin, buffer, target = self.capital.thresholds(assets)  # at this week's density
        cmin, buffer = cmin - shift, buffer - shift
        target = xp.maximum(target - shift, 1e-6)  # the kernel needs a positive target
        cbuf, ctgt = self.margin.thresholds(buffer, target)
        cbuf = xp.where(~state.defaulted, cbuf, -xp.inf)  # a failed agent no longer delevers
        result = self._clear(
            xp,
            holdings=s.holdings,
            prices=s.prices,
            cash=ledger.cash,
            liabilities=debt,
            other_assets=illiquid,
            capital_min=cmin,
            capital_buffer=cbuf,
            capital_target=ctgt,
            cash_needed=xp.maximum(flows.due + flows.panic_sales, 0.0),  # and never below zero
        )
        realized, revalued = self._settle(result)
        ledger.cash = ledger.cash + result.proceeds
        ledger.outsiders.book("market_makers", xp.sum(result.proceeds, axis=-1))
        ledger.book_equity(realized)
        self._repay(debt - result.liabilities)
        ledger.book_equity(revalued)
        s.prices = result.prices
        left = xp.take(s.holdings[:, :, self.capital.treasuries], self.capital.banks, axis=1)
        state.banks.htm_units = xp.minimum(state.banks.htm_units, left)
        flows.sold = result.sold + flows.sold  # the stablecoins' reserve sales came first
        flows.proceeds = result.proceeds + flows.proceeds
        flows.converged = result.converged
        margin = rounding_margin(xp, debt.dtype)
        short = ledger.cash < -margin * (xp.abs(debt) + 1.0)  # cannot pay what is due
        state.fail("market", result.defaulted | short)
        state.absorb_selling(flows.sold, self.pressure_depth)  # on spreads (abm.valuation)

    def _clear(self, xp: Any, **books: Any) -> FireSaleResult:
        """The fire-sale kernel on ``books`` (each an (E, ...) array), a chunk of worlds a call.

        On NumPy the worlds are cleared a chunk at a time (:func:`abm.arrays.world_chunks` of
        their holdings, 33 worlds in float64): each chunk runs only the rounds its own slowest
        world needs and its temporaries stay near the CPU's caches (at E=1,000 the rule's CPU
        time per world-week fell from 877 to 576 µs, E=100's being 580, on this 2-core machine).
        Worlds are independent and a quiet world is frozen (``kernels.firesale``), so a chunk's
        results are the batch's, bit for bit. On a GPU one call clears them all. The holdings are
        settled in place afterwards (:meth:`_settle`): no second (E, N, M) array.
        """
        held = books["holdings"]
        per_world = held.shape[-2] * held.shape[-1] * itemsize(xp, held.dtype)
        chunks = world_chunks(held.shape[0], per_world, xp) if is_numpy_namespace(xp) else []
        if len(chunks) <= 1:
            return fire_sale(**books, depth=self.depth, return_holdings=False)
        return self._joined(
            xp,
            [
                fire_sale(
                    **{k: v[w, ...] for k, v in books.items()},
                    depth=self.depth,
                    return_holdings=False,
                )
                for w in chunks
            ],
        )

    @staticmethod
    def _joined(xp: Any, parts: list[FireSaleResult]) -> FireSaleResult:
        """One result of the chunks' ``parts``, in the order of their worlds."""
        joined = {
            name: xp.concat([getattr(p, name) for p in parts])
            for name in FireSaleResult._fields
            if name not in ("holdings", "iterations")
        }
        iterations = max(p.iterations for p in parts)
        return FireSaleResult(**joined, holdings=None, iterations=iterations)

    def _settle(self, result: FireSaleResult) -> tuple[Any, Any]:
        """Holdings after the sales, in place; (E, N) realized gains and revaluation, USD bn.

        Realized: the proceeds less the units sold at the marks before the sale; revaluation:
        the units kept at the new prices less the old. A chunk of worlds at a time
        (:func:`abm.arrays.world_chunks`), so that no second (E, N, M) array of units is built.
        """
        s = self.capital.sheets
        xp, held, marks = s.xp, s.holdings, s.prices
        move = result.prices - marks
        realized, revalued = [], []
        per_world = held.shape[-2] * held.shape[-1] * itemsize(xp, held.dtype)
        for w in world_chunks(held.shape[0], per_world, xp):
            units = held[w, ...]  # a view: the state's own units
            after = units * result.retained[w, :, None]
            units -= after  # the units sold, in place: one temporary a chunk
            realized.append(result.proceeds[w, ...] - (units @ marks[w, :, None])[:, :, 0])
            revalued.append((after @ move[w, :, None])[:, :, 0])
            held[w, ...] = after
        return xp.concat(realized), xp.concat(revalued)

    def _repay(self, repaid: Any) -> None:
        """Spread each agent's repayment over its debt pools in :data:`REPAY_ORDER`."""
        s = self.capital.sheets
        xp, ledger = s.xp, s.ledger
        left = xp.maximum(repaid, 0.0)
        for name in REPAY_ORDER:
            pool = ledger.pools[name]
            want = xp.take(left, pool.issuers, axis=1)
            pay = xp.minimum(want, pool.face)
            ledger.repay(name, pay)
            left = left - segment_sum(pay, pool.issuers, left.shape[-1])
