"""powderkeg's Mesa model: E worlds of the AI-boom economy, one week per step.

The model builds the world state (:mod:`abm.state`: balance sheets with a leading world axis,
sentiment, defaults, this week's flows) and the mechanisms, and runs the week as the ordered list
of rules of :mod:`abm.rules`. One Mesa agent per institution and retail cohort
(:mod:`abm.agents`) shows its row of the state; after every step the model copies what rules
declare for reporting to the host once (:mod:`abm.snapshot`), and agents, reporters and the event
log read that snapshot (docs/design.md).
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np

from abm.agents import FAMILY_CLASSES
from abm.backstops import Bailouts, LenderOfLastResort
from abm.balance_sheets import BalanceSheets, build_balance_sheets
from abm.bank_earnings import BankEarnings
from abm.bank_runs import BankRuns
from abm.calibration import Calibration, load_calibration
from abm.channels import Channels
from abm.collector import make_datacollector
from abm.constraints import BankCapital, HedgeFundMargin
from abm.credit_risk import CreditRisk
from abm.deals import CircularDeals
from abm.economy import Economy
from abm.failures import FailureResolution
from abm.fire_sales import FireSales
from abm.flows import Flows
from abm.macro import MacroBlock
from abm.market import market_depth, pressure_depth
from abm.market_maker import MarketMakerOfLastResort
from abm.policy import Policy
from abm.random import WorldStreams
from abm.ratings import CreditRatings
from abm.reporting import device_series
from abm.retail import RetailBehaviour
from abm.roster import build_roster
from abm.rules import week_rules
from abm.securities_income import SecuritiesIncome
from abm.securitisation import securitise
from abm.sentiment import SentimentFactors
from abm.separate_accounts import SeparateAccounts
from abm.snapshot import (
    Books,
    HostSnapshot,
    SnapshotUnavailable,
    first_non_finite,
    to_host,
    world_finite,
)
from abm.spv import SpvCovenants, delay_capacity
from abm.stablecoins import StablecoinRuns
from abm.stakes import EquityStakes
from abm.state import BankState, Sentiment, WorldState
from abm.valuation import Valuation
from abm.warrants import Warrants
from abm.yield_chasing import YieldChasing
from kernels.backend import STATE_DTYPES, choose_backend, get_namespace, segment_sum
from kernels.host_memory import keep_freed_memory


class Powderkeg(mesa.Model):
    """The AI-infrastructure debt boom, its lenders and savers, in E worlds run in lockstep.

    Args:
        n_worlds: E, independent worlds simulated together (an ensemble).
        seed: world w draws its shocks from seed + w, so a one-world model with seed s + w
            reproduces world w of a batch.
        backend: ``"auto"``, ``"numpy"`` or ``"cupy"``; ``"auto"`` takes CuPy only for
            ensembles large enough to gain from a GPU (``kernels.backend.choose_backend``; the
            choice and its reason are ``backend`` and ``backend_reason``).
        n_cohorts: retail cohorts (1,000 by default; 10^6 works headless).
        calibration: a :class:`~abm.calibration.Calibration`; the packaged end-2025 one if None.
        collect_agents: the DataCollector also records the institutions' balance sheets each
            step (``abm.collector.make_datacollector``); model series are always collected.
        channels: which contagion channels are on (:class:`~abm.channels.Channels`; all by
            default), for ablation.
        policy: the policy levers (:class:`~abm.policy.Policy`; today's settings by default).
        device: where the state lives (None: the backend's default device; e.g. one GPU of
            several, or array-api-strict's second device in tests, where any hidden copy to the
            host fails).
        dtype: the floating-point type of the state, ``"float64"`` (the default) or
            ``"float32"`` (half the memory; README "Speed and memory on a CPU" gives its
            accounting gap and how far its outcomes move from float64's).
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
        device: Any = None,
        dtype: str = "float64",
    ) -> None:
        if not isinstance(n_worlds, int) or n_worlds < 1:
            raise ValueError(f"n_worlds must be an integer >= 1; got {n_worlds!r}")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
        if not isinstance(n_cohorts, int) or n_cohorts < 4:
            raise ValueError(f"n_cohorts must be an integer >= 4; got {n_cohorts!r}")
        if dtype not in STATE_DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(STATE_DTYPES)}; got {dtype!r}")
        super().__init__(rng=seed)
        self.n_worlds, self.seed = n_worlds, seed
        self.backend, self.backend_reason = choose_backend(backend, n_worlds)
        self.xp = get_namespace(self.backend)
        if self.backend == "numpy":  # reuse freed temporaries: no page faults (issue 18)
            keep_freed_memory()
        self.calibration = calibration or load_calibration()
        self.world = 0  # the world agents' properties show
        self.channels = channels or Channels()
        self.policy = policy or Policy()
        roster = build_roster(self.calibration, n_cohorts)
        self.sheets, bank_params = build_balance_sheets(
            self.calibration, roster, n_worlds, self.xp,
            dtype=getattr(self.xp, dtype), capital_regime=self.policy.capital_regime,
            device=device, rules=self.policy.exposure_rules(),
        )  # fmt: skip
        self._build_mechanisms(bank_params)
        self.shock_schedules: list[Any] = []  # abm.shocks.attach keeps them alive here
        self.start_equity = self.sheets.equity()
        self.start_money = self.sheets.ledger.money()
        self.week_series: dict[str, np.ndarray] = {}  # this week's series, on the host
        for row, (family, key, label, kind) in enumerate(
            zip(roster.family, roster.names, roster.labels, roster.kind, strict=True)
        ):
            FAMILY_CLASSES[family](self, row, key, label, kind)
        self.take_snapshot()
        self.datacollector = make_datacollector(self, agents=collect_agents)
        self.datacollector.collect(self)
        self.running = True

    def _build_mechanisms(self, bank_params: dict) -> None:
        """The world state and every mechanism the week's rules belong to (:mod:`abm.rules`)."""
        cal, sheets, policy, channels = self.calibration, self.sheets, self.policy, self.channels
        xp = self.xp
        self.securitised = securitise(sheets, policy.abs_share_of_spv_loans)
        seeds = [self.seed + w for w in range(self.n_worlds)]
        self.streams = WorldStreams(xp, seeds, device=sheets.prices.device)
        self.economy = Economy(cal, sheets)
        self.sentiment_factors = SentimentFactors(cal, sheets, self.streams)
        self.valuation = Valuation(cal, sheets, self.economy.firm)
        self.macro = MacroBlock(
            cal, sheets, self.streams, self.economy, crowding_out=policy.capex_crowding_out,
            spread_response=policy.policy_spread_response,
            equity_response=policy.policy_equity_response,
        )  # fmt: skip
        self.capital = BankCapital(cal, sheets, bank_params, policy, channels.bank_deleveraging)
        self.credit_risk = CreditRisk(cal, sheets, self.capital)
        loans, allowance = self.credit_risk.opening_books()
        macro = self.macro.opening_state()
        self.bank_earnings = BankEarnings(
            cal, sheets, self.capital, policy.capital_regime, macro, loans - allowance,
            self.economy,
        )  # fmt: skip
        banks = BankState.start(
            self.capital.regions, loans, allowance, self.capital.opening_htm_units()
        )
        self.state = WorldState.start(sheets, self.economy.firm, macro, banks)
        self.deals = CircularDeals(
            cal,
            sheets,
            enabled=channels.circular_deals,
            firm=self.economy.firm,
            ebitda_weight=self.economy.ebitda_weight,
        )
        self.stakes = EquityStakes(cal, sheets, self.economy.firm.plan, self.valuation.gamma)
        self.warrants = Warrants(cal, sheets, self.deals)
        wear = segment_sum(  # weekly book depreciation per agent (firms that operate)
            self.economy.depreciation * self.economy.operating,
            self.economy.firms,
            sheets.roster.size,
        )
        self.spv = SpvCovenants(
            cal, sheets, book_wear=wear, consolidated=policy.spv_consolidation,
            pipeline=policy.project_pipeline,
        )  # fmt: skip
        if policy.power_delay_weeks:  # data centres still being built wait for grid power
            delay = np.full(
                (self.n_worlds, len(self.economy.firm_rows)), float(policy.power_delay_weeks)
            )
            delay_capacity(self.spv, self.economy, delay, 0)
        depth = market_depth(sheets, channels.fire_sales)
        selling_depth = pressure_depth(sheets)
        self.margin = HedgeFundMargin(cal, sheets, policy, channels.margin_calls)
        self.bank_runs = BankRuns(cal, self.capital, bank_params, policy, channels.bank_runs)
        self.fire_sales = FireSales(self.capital, self.margin, depth, selling_depth)
        self.failures = FailureResolution(sheets, losses=channels.clearing_losses)
        self.market_maker = MarketMakerOfLastResort(cal, sheets, policy, self.streams)
        self.ratings = CreditRatings(
            cal, sheets, self.economy.firm_rows, self.valuation.leverage0, self.economy.bond_assets,
            depth, selling_depth, forced_sales=channels.rating_downgrades, deals=self.deals,
        )  # fmt: skip
        self.stablecoins = StablecoinRuns(cal, sheets, self.market_maker, depth, policy)
        if policy.stablecoin_reserve_transition_weeks == 0:
            self.stablecoins.apply_reserve_rule()  # a reserve rule without transition: at once
        self.lender = LenderOfLastResort(cal, sheets, self.capital, policy, self.streams)
        self.bailouts = Bailouts(cal, sheets, self.capital, policy, self.streams)
        self.flows = Flows(cal, sheets, channels)
        self.retail = RetailBehaviour(cal, sheets, channels)
        self.yield_chasing = YieldChasing(cal, sheets, channels)
        self.separate_accounts = SeparateAccounts(cal, sheets)
        self.securities_income = SecuritiesIncome(cal, sheets, macro, self.separate_accounts)
        self.rules = week_rules(self)
        #: mechanisms that declare snapshot keys (``report(books)``), beside the state's own
        self.reporters = (self.economy, self.flows, self.capital, self.stablecoins, self.lender,
                          self.bailouts, self.ratings, self.deals, self.failures, self.macro,
                          self.credit_risk, self.bank_earnings, self.bank_runs,
                          self.warrants)  # fmt: skip

    @property
    def roster(self) -> Any:
        """Who the agents are (names, families, kinds, index blocks)."""
        return self.sheets.roster

    @property
    def sentiment(self) -> Sentiment:
        """This week's AI hype and crypto sentiment (the world state's)."""
        return self.state.sentiment

    @sentiment.setter
    def sentiment(self, value: Sentiment) -> None:
        self.state.sentiment = value

    def step(self) -> None:
        """One week: the rules of :mod:`abm.rules` in order, then the snapshot.

        Last week's declared arrays are let go first (:meth:`_release_snapshot`), so that the
        step's temporaries reuse their memory (issue 18: at most 1 GiB per 1,000 worlds).
        """
        self._release_snapshot()
        state = self.state
        state.begin_week(self.economy.firms)
        for rule in self.rules:
            rule.run(state)
        state.week += 1
        self.take_snapshot()
        self.datacollector.collect(self)

    def take_snapshot(self) -> None:
        """Gather what the state and the mechanisms declare, reduce the series on the device.

        The series (:func:`abm.reporting.device_series`) and each world's finiteness reach the
        host in one transfer per dtype (``week_series``); the declared arrays stay on the device
        until something asks for :attr:`snapshot`. The keys and their meaning: :mod:`abm.snapshot`
        and docs/design.md ("Reporting").
        """
        books = Books(self.state, self.economy.firms)
        values = books.state_report()
        for source in self.reporters:
            values.update(source.report(books))
        self._declared, self._host_snapshot, self._world_view = values, None, None
        series = device_series(self, values)
        series["world_finite"] = world_finite(values)
        host = {key: np.array(value) for key, value in to_host(series).items()}  # own copies
        self._world_finite = host.pop("world_finite")
        self._stop_broken_worlds()
        host["world_stopped"] = self.state.stopped.copy()
        self.week_series = host

    def _release_snapshot(self) -> None:
        """Drop last week's declared arrays, their host view and the agents' world view.

        About 40 (E, N) arrays (0.38 GiB per 1,000 worlds in float64, measured with
        ``benchmarks.memory``) that no rule reads: held through the step, they would add to its
        peak. Until :meth:`take_snapshot` runs again, :attr:`snapshot` and :attr:`world_view`
        raise :class:`SnapshotUnavailable`.
        """
        self._declared, self._host_snapshot, self._world_view = None, None, None

    def _declared_arrays(self) -> dict[str, Any]:
        """This week's declared arrays on the device; an error while a step is running."""
        if self._declared is None:
            raise SnapshotUnavailable(
                "the snapshot is taken at the end of a step: it cannot be read while a step runs "
                "(the model lets last week's declared arrays go when a step begins)"
            )
        return self._declared

    @property
    def snapshot(self) -> HostSnapshot:
        """This week's declared arrays on the host, each copied at its first read after a step.

        The event log, the app's panels and tests read it; a headless run that only records the
        series never copies the E × N balance sheets off the device (:class:`HostSnapshot`).
        """
        if self._host_snapshot is None:
            flags = {
                "world_finite": self._world_finite,
                "world_stopped": self.state.stopped.copy(),
                "stopped_week": self.state.stopped_week.copy(),
            }
            self._host_snapshot = HostSnapshot(self._declared_arrays(), flags)
        return self._host_snapshot

    @property
    def world_view(self) -> dict[str, np.ndarray]:
        """The declared arrays of the world the agents show (``world``), on the host.

        What Mesa's agent reporters and the agents' properties read: one world's rows, copied
        once a step and world (one transfer per dtype), not the whole ensemble.
        """
        if self._world_view is None or self._world_view[0] != self.world:
            declared = self._declared_arrays()
            view = to_host({key: value[self.world, ...] for key, value in declared.items()})
            self._world_view = (self.world, view)
        return self._world_view[1]

    def _stop_broken_worlds(self) -> None:
        """Mark worlds whose numbers became non-finite as stopped, with the week and the cause.

        A stopped world keeps running in lockstep with the others, but its numbers are no longer
        results: the snapshot says so in ``world_stopped`` (and ``stopped_week``), the series in
        ``world_stopped``, and runs, sweeps and reports treat the world as failed.
        """
        state = self.state
        newly = ~self._world_finite & ~state.stopped
        if newly.any():  # rare: the declared arrays come to the host to name the cause
            declared = to_host(self._declared)
            for world in np.nonzero(newly)[0]:
                state.stopped_week[world] = state.week
                cause = first_non_finite(declared, world)
                state.stop_reasons[int(world)] = f"non-finite {cause}"
        state.stopped = state.stopped | newly

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
