"""powderkeg's Mesa model: E worlds of the AI-boom economy, one week per step.

The model owns the balance sheets as arrays with a leading world axis (:mod:`abm.balance_sheets`)
and one Mesa agent per institution and retail cohort (:mod:`abm.agents`). A step follows
DESIGN.md §2.4: sentiment; the real economy (:mod:`abm.economy`); valuation; market clearing
through ``kernels.firesale.fire_sale`` and failures cleared through
``kernels.clearing.eisenberg_noe`` (:mod:`abm.market_step`); then the snapshot that agents,
reporters and the event log read.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np

from abm.agents import FAMILY_CLASSES
from abm.backstops import Bailouts, LenderOfLastResort
from abm.balance_sheets import BalanceSheets, build_balance_sheets, build_roster
from abm.calibration import Calibration, load_calibration
from abm.channels import Channels
from abm.deals import CircularDeals
from abm.economy import Economy, Sentiment
from abm.flows import Flows, RetailBehaviour, YieldChasing
from abm.market_step import MarketStep
from abm.policy import Policy
from abm.random import WorldStreams
from abm.ratings import CreditRatings
from abm.reporting import make_datacollector
from abm.securitisation import securitise
from abm.spv import SpvCovenants
from abm.stablecoins import StablecoinRuns
from abm.stakes import EquityStakes
from kernels.backend import backend_name, get_namespace, segment_sum, to_numpy


class Powderkeg(mesa.Model):
    """The AI-infrastructure debt boom, its lenders and savers, in E worlds run in lockstep.

    Args:
        n_worlds: E, independent worlds simulated together (an ensemble).
        seed: world w draws its shocks from seed + w, so a one-world model with seed s + w
            reproduces world w of a batch.
        backend: ``"auto"``, ``"numpy"`` or ``"cupy"`` (``kernels.backend.get_namespace``).
        n_cohorts: retail cohorts (1,000 by default; 10^6 works headless).
        calibration: a :class:`~abm.calibration.Calibration`; the packaged end-2025 one if None.
        collect_agents: the DataCollector also records the institutions' balance sheets each
            step (``abm.reporting.make_datacollector``); model series are always collected.
        channels: which contagion channels are on (:class:`~abm.channels.Channels`; all by
            default), for ablation.
        policy: the policy levers (:class:`~abm.policy.Policy`; today's settings by default).
    """

    def __init__(
        self,
        n_worlds: int = 1,
        seed: int = 0,
        backend: str = "auto",
        n_cohorts: int = 1000,
        calibration: Calibration | None = None,
        collect_agents: bool = True,
        channels: Channels | None = None,
        policy: Policy | None = None,
    ) -> None:
        if not isinstance(n_worlds, int) or n_worlds < 1:
            raise ValueError(f"n_worlds must be an integer >= 1; got {n_worlds!r}")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
        if not isinstance(n_cohorts, int) or n_cohorts < 4:
            raise ValueError(f"n_cohorts must be an integer >= 4; got {n_cohorts!r}")
        super().__init__(rng=seed)
        self.n_worlds, self.seed = n_worlds, seed
        self.backend = backend_name(backend)
        self.xp = get_namespace(self.backend)
        self.calibration = calibration or load_calibration()
        self.world = 0  # the world agents' properties show
        self.channels = channels or Channels()
        self.policy = policy or Policy()
        roster = build_roster(self.calibration, n_cohorts)
        self.sheets, bank_params = build_balance_sheets(
            self.calibration, roster, n_worlds, self.xp,
            capital_regime=self.policy.capital_regime,
        )  # fmt: skip
        self.securitised = securitise(self.sheets, self.policy.abs_share_of_spv_loans)
        self.streams = WorldStreams(self.xp, [seed + w for w in range(n_worlds)])
        zeros = self.xp.zeros((n_worlds,), dtype=self.xp.float64)
        self.sentiment = Sentiment(ai=zeros, crypto=zeros)
        self.economy = Economy(self.calibration, self.sheets)
        self.deals = CircularDeals(
            self.calibration, self.sheets, enabled=self.channels.circular_deals
        )
        self.stakes = EquityStakes(self.calibration, self.sheets, self.economy)
        wear = segment_sum(  # weekly book depreciation per agent (firms that operate)
            self.economy.depreciation * self.economy.operating, self.economy.firms, roster.size
        )
        self.spv = SpvCovenants(
            self.calibration, self.sheets, book_wear=wear,
            consolidated=self.policy.spv_consolidation,
        )  # fmt: skip
        self.market = MarketStep(
            self.calibration, self.sheets, bank_params, self.channels, self.policy
        )
        self.market.setup_backstop(self.calibration, self.streams)
        self.ratings = CreditRatings(
            self.calibration,
            self.sheets,
            self.economy,
            self.market.depth,
            forced_sales=self.channels.rating_downgrades,
        )
        args = (self.calibration, self.sheets, self.market, self.policy)
        self.stablecoins = StablecoinRuns(*args)
        if self.policy.stablecoin_reserve_transition_weeks == 0:
            self.stablecoins.apply_reserve_rule()  # a reserve rule without transition: at once
        self.lender = LenderOfLastResort(*args, self.streams)
        self.bailouts = Bailouts(*args, self.streams)
        self.market.before_sale = self._backstop_banks
        self.flows = Flows(self.calibration, self.sheets, self.channels)
        self.retail = RetailBehaviour(self.calibration, self.sheets, self.channels)
        self.yield_chasing = YieldChasing(self.calibration, self.sheets, self.channels)
        self.start_equity = self.sheets.equity()
        self.start_money = self.sheets.ledger.money()
        self.snapshot: dict[str, np.ndarray] = {}
        for row, (family, key, label, kind) in enumerate(
            zip(roster.family, roster.names, roster.labels, roster.kind, strict=True)
        ):
            FAMILY_CLASSES[family](self, row, key, label, kind)
        self.take_snapshot()
        self.datacollector = make_datacollector(self, agents=collect_agents)
        self.datacollector.collect(self)
        self.running = True

    @property
    def roster(self) -> Any:
        """Who the agents are (names, families, kinds, index blocks)."""
        return self.sheets.roster

    def step(self) -> None:
        """One week: sentiment, firms, valuation, saving, redemptions, clearing, failures."""
        week = int(self.steps)
        sheets = self.sheets
        self.sentiment = self.economy.update_sentiment(self.sentiment, self.streams, week)
        active = ~self.xp.take(self.market.defaulted, self.economy.firms, axis=1)
        self.economy.run_firms(self.sentiment.ai, active)
        self.deals.settle(active)
        breached = self.spv.test(~self.market.defaulted)
        self.economy.revenue = self.economy.revenue + segment_sum(  # an SPV's revenue: its rent
            self.spv.last_rent, self.spv.firm_columns, self.economy.revenue.shape[-1]
        )
        self.market.defaulted = self.market.defaulted | breached
        self.flows.draw_credit_lines()
        self.economy.revalue(self.sentiment)
        self.stakes.revalue(self.sentiment.ai, self.market.defaulted)
        self.ratings.review(active)
        self.yield_chasing.rebalance()
        self.flows.save()
        panic_sales = self.retail.act(self.sentiment)
        pegs = self.market.pegs(sheets.total_assets())
        self.flows.issue_tokens(self.sentiment, pegs)
        self.stablecoins.apply_reserve_rule()
        self.bailouts.start_week()
        stress = self.stablecoins.reserve_bank_stress()
        due = self.flows.redemptions(pegs, self.market.defaulted, reserve_stress=stress)
        due = self.stablecoins.backstop_run(due)
        self.flows.draw_deposits(due)
        self.stablecoins.sell_reserves(due)
        self.market.clear(due + panic_sales)
        self.stablecoins.add_sales_to(self.market)
        self.economy.absorb_selling(self.market.last_sold)  # selling pressure on spreads
        self.bailouts.rescue(self.market.debt())  # banks that failed in the clearing
        self.market.backstop()
        self.flows.pay_out(due)
        self.market.resolve_failures()
        self.flows.mark_fund_shares()
        self.take_snapshot()
        self.datacollector.collect(self)

    def _backstop_banks(self, debt: Any) -> None:
        """Before the fire sale: the lender of last resort, then bailouts of banks below minimum."""
        self.lender.act(debt)
        self.bailouts.rescue(self.market.debt())

    def take_snapshot(self) -> None:
        """Copy what agents, reporters and the event log read to the host: one transfer a step.

        Per world and agent (E, N): cash, total_assets, liabilities, equity, defaulted, revenue,
        bonds_issued, credit_drawn, sale_proceeds, run_withdrawals (banks), saved (retail: saving
        received to date), redemptions_paid (funds and stablecoin issuers), cet1_ratio (banks),
        peg (stablecoin issuers), redemption_share (this week's redemptions / tokens),
        stablecoin_backstop (bool: the backstop stopped its run), lolr_loans and lolr_lent
        (banks' central-bank loans outstanding and lent this week), bailout_injection (public
        capital this week), rescued (bool, so far); for tech firms rating_notch (0 = AAA,
        abm.ratings.SCALE; -1 not rated), fallen_angel_sales (the issuer's bonds sold by
        IG-constrained holders this week), oversubscription (orders / size of this week's bond
        issue), equity_raised, vendor_financed, capacity_prepaid and capex_cut (USD bn this
        week); forced_sales (each holder's forced sales of fallen angels). Per world and asset
        (E, M): prices, units_sold.
        Per world (E,): clearing_converged, ai_sentiment, crypto_sentiment,
        public_cost (bailouts so far), backstop_bought (the market maker of last resort's
        purchases so far, stablecoin facility included).
        """
        s = self.sheets
        assets, liabilities = s.total_assets(), s.liabilities()

        def per_agent(firm_values: Any) -> Any:
            return segment_sum(firm_values, self.economy.firms, s.ledger.cash.shape[-1])

        financing = self.economy.financing

        values = {
            "cash": s.ledger.cash,
            "total_assets": assets,
            "liabilities": liabilities,
            "equity": assets - liabilities,
            "defaulted": self.market.defaulted,
            "revenue": per_agent(self.economy.revenue),
            "bonds_issued": per_agent(self.economy.last_bonds_issued),
            "credit_drawn": per_agent(self.economy.last_credit_drawn),
            "sale_proceeds": self.market.last_proceeds,
            "run_withdrawals": self.market.last_withdrawals,
            "saved": self.flows.saved,
            "redemptions_paid": self.flows.last_redemptions,
            "units_sold": self.market.last_sold,
            "clearing_converged": self.market.converged,
            "ai_sentiment": self.sentiment.ai,
            "crypto_sentiment": self.sentiment.crypto,
            "cet1_ratio": self.market.cet1_ratios(assets, liabilities),
            "peg": self.market.pegs(assets),
            "redemption_share": self.stablecoins.redemption_share,
            "stablecoin_backstop": self.stablecoins.backstopped,
            "lolr_loans": self.lender.outstanding(),
            "lolr_lent": self.lender.last_lent,
            "bailout_injection": self.bailouts.last_injection,
            "rescued": self.bailouts.rescued,
            "public_cost": self.bailouts.public_cost,
            "backstop_bought": self.market.backstop_bought,
            "rating_notch": per_agent(self.ratings.notch + 1.0) - 1.0,  # -1: not rated
            "fallen_angel_sales": per_agent(self.ratings.last_forced),
            "forced_sales": self.ratings.last_forced_by_holder,
            "oversubscription": per_agent(financing.bond_market.last_oversubscription),
            "equity_raised": per_agent(self.economy.last_equity_raised),
            "vendor_financed": per_agent(financing.last.vendor),
            "capacity_prepaid": per_agent(financing.last.cloud),
            "capex_cut": per_agent(self.economy.last_capex_cut),
            "prices": s.prices,
        }
        self.snapshot = {k: to_numpy(v) for k, v in values.items()}

    def accounting_gap(self) -> dict[str, Any]:
        """How far the books are from balancing, per world (all zero to rounding).

        Returns:
            ``money``: (E,) agents' cash minus outsiders' net payments, less its starting value;
            ``pools``: (E,) largest imbalance of any instrument; ``equity``: (E,) largest
            difference, over agents, between balance-sheet equity and the sum of booked flows.
        """
        xp, s = self.xp, self.sheets
        pools = xp.stack([xp.abs(p.imbalance(xp)) for p in s.ledger.pools.values()], axis=-1)
        flows = s.equity() - self.start_equity - s.ledger.equity_flows
        return {
            "money": s.ledger.money() - self.start_money,
            "pools": xp.max(pools, axis=-1),
            "equity": xp.max(xp.abs(flows), axis=-1),
        }


__all__ = ["BalanceSheets", "Powderkeg"]
