"""The macro block: GDP, unemployment, inflation, rates and property prices per world and region.

A small weekly semi-structural model of each region of :data:`abm.state.REGIONS` (the US and the
euro area), vectorized over E worlds and the two regions, (E, R) throughout. Parameters:
``calibration.toml`` ``[macro.us]``, ``[macro.euro_area]`` and ``[macro.links]``. Each week
(rule ``macro``, after the firms spent their capex and before the valuation reads the yields):

1. **IS curve** (Holston, Laubach & Williams 2017; Rudebusch & Svensson 1999), with the gap
   ``x`` moving a weekly share ``1 − ρ_x`` toward the demand level ``D``:
   ``x_t = ρ_x x_{t−1} + (1 − ρ_x) D_t + σ ε_t``, where
   ``D = −a_r (i − π − r̄) + (1 − θ)·m·(K − K̄)/Y + c·s·(W̃/W₀ − 1)·W₀/Y + b_c (g_c − ḡ_c) + d``:
   the real policy rate above its neutral level ``r̄``; AI capex ``K`` above the firms' plan at
   zero hype ``K̄`` (USD bn a year over nominal GDP ``Y``, times a multiplier ``m``: fully at home
   in the US, a small spillover in the euro area), less the share ``θ`` of it that crowds out
   other business investment (``macro.links.capex_crowding_out``: the build-out bids up rates,
   power and skilled labour; the Policy lever ``capex_crowding_out`` overrides it), so a capex
   change moves demand, and through Okun's law unemployment, by ``1 − θ`` of its gross size
   (docs/design.md, "The macro block"); the stock-wealth effect, a marginal propensity to
   consume ``c`` ≈ 2.8 cents a year per dollar of stock wealth (Chodorow-Reich, Nenov & Simsek
   2021, AER) on the region's share ``s`` of the market's listed equity value ``W`` (smoothed
   ``W̃``); bank credit growth ``g_c`` against its trend ``ḡ_c``, potential growth plus the
   inflation anchor (credit supply, as in the ECB's BEAST);
   and the scenario's ``demand_impulse`` ``d``. ``ε`` are correlated Gaussian demand shocks
   (random stream 10).
2. **GDP growth**: potential growth plus the change of the gap over the last quarter,
   annualised, ``g = g* + 4·(x_t − x_{t−13})`` (log approximation of quarterly annualised growth).
3. **Okun's law** (Ball, Leigh & Loungani 2017): unemployment moves a weekly share toward
   ``u* − β x``.
4. **Phillips curve**, anchored (Hazell, Herreño, Nakamura & Steinsson 2022: flat and anchored):
   ``π_t = π̄ + ρ_π (π_{t−1} − π̄) + (1 − ρ_π) κ x_t``.
5. **Spread-adjusted Taylor (1993) rule** with inertia (Clarida, Galí & Gertler 2000) and an
   effective lower bound: ``i*_t = r*_T + π + 0.5 (π − π_target) + 0.5 x``; the rule (shadow) rate
   moves a weekly share toward ``i*``; the policy rate is
   ``max(rule + rate_shift − S, ELB)``, so it sits at the bound while the shadow rate is below it
   and lifts off only once the shadow rate has climbed back. ``S = φ_ω ω + φ_e d`` is the
   financial-stress cut (:func:`financial_stress_cut`): ``ω`` the AI credit spread index, how far
   the AI issuers' bond spreads stand above their normal level (2025 at first, then following
   the spreads with a half-life of a year: ``macro.links.policy_spread_normal_half_life``),
   debt-weighted (:func:`abm.valuation.credit_widening`, last week's valuation), with ``φ_ω``
   the spread adjustment of Taylor (2008) and Cúrdia & Woodford (2010, JMCB 42(s1)),
   ``i = Taylor − φ_ω (spread − its normal level)``, one for one at ``φ_ω = 1``
   (``macro.links.policy_spread_response``); ``d = max(0, 1 − W/W₀)`` the fall of the listed
   equities' value below 2025, with ``φ_e`` the "Fed put" (Cieslak & Vissing-Jorgensen 2021, RFS
   34(9): since the mid-1990s stock-market falls predict Fed cuts), sized to March 2020
   (``macro.links.policy_equity_response``). The Policy levers ``policy_spread_response`` and
   ``policy_equity_response`` override them. Only the gap-and-inflation part is smoothed: the
   stress part moves the rate in the week markets move, as the Fed's intermeeting cuts of
   January 2001, January and October 2008 and March 2020 answered market stress before the
   output gap opened. At the 2025 spreads and prices ``S = 0`` and the rule is Taylor's.
6. **10-year yield** = average expected short rate over ten years plus the term premium. The
   market expects the shadow rate ``s`` (the rule's rate before the lower bound) to revert to its
   long-run level ``ī`` with weekly persistence φ, and the policy rate to follow it but never
   below the bound: ``E_t i_{t+h} = max(ELB, ī + φ^h (s − ī))``, as in shadow-rate term
   structures (Black 1995, J. Finance 50(5); Wu & Xia 2016, JMCB 48(2-3)). Averaged over
   H = 520 weeks this is ``ī + A (i − ī)`` with ``A = φ (1 − φ^H) / (H (1 − φ))``
   (:func:`expected_rate_weight`) while the shadow rate is above the bound, and
   :func:`expected_average_rate` below it: a shadow rate deep below the bound keeps the policy
   rate expected at the bound for years, so long yields fall further (2009–15, 2020). The term
   premium reverts to its 2025 level and rises with forced selling of Treasuries (dash for
   cash, March 2020).
7. **Property prices**: house and commercial property indices move with the change of the gap
   and of the 10-year yield (the mortgage rate's benchmark), with no reversion beyond that, so
   scenario shocks that multiply them stay.
8. **Credit growth**: annualised weekly growth of the banks' loans to the economy in each region
   (:mod:`abm.credit_risk` writes them), smoothed over about a quarter.

The start is a steady state: the gap is 0, the IS neutral rate is the 2025 real policy rate
(consistent with r* estimates near 1% in the US and 0% in the euro area), the Taylor intercept
``r*_T`` returns the 2025 policy rate, unemployment and inflation are at their anchors, and the
long-run rate ``ī`` is the one that splits the 2025 10-year yield into expected short rates and the
ACM term premium. Without shocks, noise, capex or wealth surprises the state stays at its start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.calibration import Calibration
from abm.state import REGIONS, MacroState, WorldState
from abm.valuation import credit_widening
from kernels.backend import segment_sum, to_numpy

#: random stream of the demand shocks (abm.random)
STREAM_DEMAND = 10
#: weeks in a quarter (GDP growth is quarterly, annualised) and in ten years (the yield's horizon)
QUARTER, TEN_YEARS = 13, 520


def keep_per_week(half_life_weeks: float) -> float:
    """Weekly persistence of a deviation that halves in ``half_life_weeks``."""
    return 0.5 ** (1.0 / half_life_weeks)


def expected_rate_weight(persistence: float, horizon: int = TEN_YEARS) -> float:
    """``A``: weight of today's policy rate in the average expected short rate over a horizon.

    With ``E_t i_{t+h} = ī + φ^h (i_t − ī)``, the average over ``h = 1..H`` is
    ``ī + A (i_t − ī)`` with ``A = φ (1 − φ^H) / (H (1 − φ))`` (geometric sum).
    """
    phi = persistence
    return phi * (1.0 - phi**horizon) / (horizon * (1.0 - phi))


def expected_average_rate(
    shadow: Any, long_run: Any, lower_bound: Any, persistence: float, xp: Any,
    horizon: int = TEN_YEARS,
) -> Any:  # fmt: skip
    """Average expected policy rate over ``horizon`` weeks when the shadow rate is below the bound.

    The expected path is ``x_h = max(ELB, ī + φ^h (s − ī))`` for ``h = 1..H``. With ``s < ELB``
    (and so ``s < ī``) the path sits at the bound for the first ``k`` weeks, those with
    ``φ^h > c = (ELB − ī) / (s − ī)``, i.e. ``k = ⌈ln c / ln φ⌉ − 1`` (at most H), and follows
    the reversion after: ``[k·ELB + (H − k) ī + (s − ī) φ^{k+1} (1 − φ^{H−k}) / (1 − φ)] / H``.
    At ``k = 0`` this is ``ī + A (s − ī)`` (:func:`expected_rate_weight`). Only meaningful where
    ``s < ELB < ī``; elsewhere the caller uses ``ī + A (i − ī)``.
    """
    phi, h = persistence, float(horizon)
    gap = xp.minimum(shadow - long_run, -1e-12)  # s − ī, negative below the bound
    share = xp.clip((lower_bound - long_run) / gap, 1e-30, 1.0)  # c in (0, 1]
    weeks_at_bound = xp.clip(xp.ceil(xp.log(share) / math.log(phi)) - 1.0, 0.0, h)
    tail = phi ** (weeks_at_bound + 1.0) * (1.0 - phi ** (h - weeks_at_bound)) / (1.0 - phi)
    return (weeks_at_bound * lower_bound + (h - weeks_at_bound) * long_run + gap * tail) / h


def okun_unemployment(natural: Any, coefficient: Any, gap: Any) -> Any:
    """Okun's law in levels (Ball, Leigh & Loungani 2017): ``u = u* − β x``."""
    return natural - coefficient * gap


def taylor_rate(
    neutral: Any, inflation: Any, target: Any, gap: Any, a_pi: float, a_x: float
) -> Any:
    """Taylor (1993): ``i = r* + π + a_π (π − π*) + a_x x`` (fractions a year)."""
    return neutral + inflation + a_pi * (inflation - target) + a_x * gap


def financial_stress_cut(
    widening: Any, equity_ratio: Any, spread_response: float, equity_response: float, xp: Any
) -> Any:
    """``S = φ_ω ω + φ_e max(0, 1 − W/W₀)``: the policy-rate cut for financial stress (a year).

    Taylor (2008, "Monetary policy and the state of the economy", testimony to the House
    Financial Services Committee) proposed lowering the rule's rate by the rise of the Libor-OIS
    spread; Cúrdia & Woodford (2010, "Credit spreads and monetary policy", JMCB 42(s1)) write the
    spread-adjusted rule ``i = r* + φ_π π + φ_y y − φ_ω ω`` with ``ω`` the credit spread above
    its steady-state level. Cieslak & Vissing-Jorgensen (2021, "The economics of the Fed put",
    RFS 34(9)) find that stock-market falls predict Fed cuts. ``widening`` ``ω`` and
    ``equity_ratio`` ``W/W₀`` are (E, 1) or (E, R); 0 at the 2025 spreads and prices.
    """
    drawdown = xp.maximum(1.0 - equity_ratio, 0.0)
    return spread_response * widening + equity_response * drawdown


def stress_adjusted_rate(rule: Any, rate_shift: Any, stress: Any, lower_bound: Any, xp: Any) -> Any:
    """The policy rate ``max(rule + shift − S, ELB)`` (fractions a year).

    ``rule`` is the smoothed gap-and-inflation (shadow) rate; the stress cut ``S``
    (:func:`financial_stress_cut`) is not smoothed, so it acts in the week markets move.
    """
    return xp.maximum(rule + rate_shift - stress, lower_bound)


@dataclass(frozen=True)
class MacroParameters:
    """Per-region parameters, host arrays of shape (R,) in :data:`REGIONS` order (annual units).

    The start values double as anchors: ``unemployment`` is the natural rate, ``inflation`` the
    Phillips curve's anchor; ``neutral_is`` and ``neutral_taylor`` are derived so that the start
    is the rule's steady state, ``long_run_rate`` so that the 2025 yield decomposes into expected
    short rates and the term premium (see the module docstring).
    """

    potential_growth: np.ndarray
    nominal_gdp: np.ndarray  # USD bn a year
    unemployment: np.ndarray
    inflation: np.ndarray
    inflation_target: np.ndarray
    policy_rate: np.ndarray
    lower_bound: np.ndarray
    yield_10y: np.ndarray
    term_premium: np.ndarray
    okun: np.ndarray
    phillips: np.ndarray
    real_rate: np.ndarray
    capex_multiplier: np.ndarray
    stock_wealth_share: np.ndarray
    credit_elasticity: np.ndarray
    noise: np.ndarray
    house_rate: np.ndarray
    house_gap: np.ndarray
    cre_rate: np.ndarray
    cre_gap: np.ndarray
    selling: np.ndarray
    a_pi: float
    a_x: float
    keep_gap: float
    keep_unemployment: float
    keep_inflation: float
    keep_policy: float
    keep_term_premium: float
    keep_wealth: float
    keep_credit: float
    keep_spread_normal: float
    keep_dash: float
    keep_expectations: float
    dash_cap: float
    expected_weight: float
    mpc: float
    noise_correlation: float
    crowding_out: float
    spread_response: float
    equity_response: float

    @classmethod
    def from_calibration(
        cls,
        cal: Calibration,
        noise: bool = True,
        crowding_out: float | None = None,
        spread_response: float | None = None,
        equity_response: float | None = None,
    ) -> MacroParameters:
        """Read ``[macro.*]``; ``noise=False`` sets the demand shocks to 0 (calm tests).

        ``crowding_out``: the share of AI capex surprises that displaces other investment
        (``None``: the calibration's ``macro.links.capex_crowding_out``);
        ``spread_response``: the policy rate's cut per unit of credit-spread widening
        (``None``: the calibration's ``macro.links.policy_spread_response``);
        ``equity_response``: its cut per unit fall of the listed equities' value below 2025
        (``None``: the calibration's ``macro.links.policy_equity_response``).
        """

        def region(name: str) -> np.ndarray:
            return np.array([float(cal.value(f"macro.{r}.{name}")) for r in REGIONS])

        def link(name: str) -> float:
            return float(cal.value(f"macro.links.{name}"))

        expectations = keep_per_week(link("rate_expectations_half_life"))
        return cls(
            potential_growth=region("potential_growth"),
            nominal_gdp=region("nominal_gdp"),
            unemployment=region("unemployment"),
            inflation=region("inflation"),
            inflation_target=region("inflation_target"),
            policy_rate=region("policy_rate"),
            lower_bound=region("lower_bound"),
            yield_10y=region("yield_10y"),
            term_premium=region("term_premium"),
            okun=region("okun_coefficient"),
            phillips=region("phillips_slope"),
            real_rate=region("real_rate_sensitivity"),
            capex_multiplier=region("capex_multiplier"),
            stock_wealth_share=region("stock_wealth_share"),
            credit_elasticity=region("credit_supply_elasticity"),
            noise=region("demand_noise") * (1.0 if noise else 0.0),
            house_rate=region("house_rate_sensitivity"),
            house_gap=region("house_gap_sensitivity"),
            cre_rate=region("cre_rate_sensitivity"),
            cre_gap=region("cre_gap_sensitivity"),
            selling=region("selling_sensitivity"),
            a_pi=link("taylor_inflation_coefficient"),
            a_x=link("taylor_gap_coefficient"),
            keep_gap=keep_per_week(link("gap_half_life")),
            keep_unemployment=keep_per_week(link("unemployment_half_life")),
            keep_inflation=keep_per_week(link("inflation_half_life")),
            keep_policy=keep_per_week(link("policy_inertia_half_life")),
            keep_term_premium=keep_per_week(link("term_premium_half_life")),
            keep_wealth=keep_per_week(link("wealth_half_life")),
            keep_credit=1.0 - 1.0 / link("credit_smoothing_weeks"),
            keep_spread_normal=keep_per_week(link("policy_spread_normal_half_life")),
            keep_dash=keep_per_week(link("dash_for_cash_half_life")),
            dash_cap=link("dash_for_cash_cap"),
            keep_expectations=expectations,
            expected_weight=expected_rate_weight(expectations),
            mpc=link("mpc_stock_wealth"),
            noise_correlation=link("demand_noise_correlation"),
            crowding_out=link("capex_crowding_out") if crowding_out is None else crowding_out,
            spread_response=(
                link("policy_spread_response") if spread_response is None else spread_response
            ),
            equity_response=(
                link("policy_equity_response") if equity_response is None else equity_response
            ),
        )

    @property
    def neutral_is(self) -> np.ndarray:
        """The IS curve's neutral real rate: the 2025 real policy rate (policy is neutral)."""
        return self.policy_rate - self.inflation

    @property
    def neutral_taylor(self) -> np.ndarray:
        """The Taylor rule's intercept r*_T that returns the 2025 policy rate at a zero gap."""
        return (
            self.policy_rate - self.inflation - self.a_pi * (self.inflation - self.inflation_target)
        )

    @property
    def credit_trend(self) -> np.ndarray:
        """Trend growth of bank credit: nominal potential growth (potential plus the anchor)."""
        return self.potential_growth + self.inflation

    @property
    def long_run_rate(self) -> np.ndarray:
        """ī: the long-run short rate that splits the 2025 yield into expectations and premium."""
        a = self.expected_weight
        return (self.yield_10y - self.term_premium - a * self.policy_rate) / (1.0 - a)


class MacroBlock:
    """The weekly macro-financial update of both regions (rule ``update``).

    Args:
        cal: the calibration.
        sheets: the balance sheets (the market's prices and supply, the bank roster).
        streams: the model's per-world random streams.
        economy: the firms' operations (the capex plan and build budgets at the start).
        noise: draw demand shocks (False: a calm block for tests).
        crowding_out: the policy's share of AI capex that crowds out other investment
            (``None``: the calibration's).
        spread_response: the policy's spread adjustment of the Taylor rule ``φ_ω``
            (``None``: the calibration's).
        equity_response: the policy's cut per unit fall of equity prices ``φ_e``
            (``None``: the calibration's).

    Attributes:
        demand_impulse: (E, R) a shift of aggregate demand, a fraction of potential GDP, that the
            gap approaches with the IS curve's persistence (0 normally; scenario shocks set it and
            hold it while it lasts).
        rate_shift: (E, R) added to the policy rate the Taylor rule sets, a fraction a year.
    """

    def __init__(
        self,
        cal: Calibration,
        sheets: Any,
        streams: Any,
        economy: Any,
        noise: bool = True,
        crowding_out: float | None = None,
        spread_response: float | None = None,
        equity_response: float | None = None,
    ) -> None:
        self.sheets, self.streams = sheets, streams
        xp = sheets.xp
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        self.p = p = MacroParameters.from_calibration(
            cal, noise=noise, crowding_out=crowding_out, spread_response=spread_response,
            equity_response=equity_response,
        )  # fmt: skip
        worlds = sheets.prices.shape[0]
        self.zeros = xp.zeros((worlds, len(REGIONS)), dtype=dtype, device=dev)

        def row(values: np.ndarray) -> Any:
            return xp.asarray(values, dtype=dtype, device=dev)

        self.row = row
        self.demand_impulse = self.zeros * 1.0
        self.rate_shift = self.zeros * 1.0
        # the AI capex plan at zero hype, each firm capped by its build budget (SPVs finish)
        plan = economy.firm.plan.capex  # (F,) USD bn a week
        self.capex_plan = np.asarray(plan, dtype=float)
        self.build_budget = to_numpy(economy.build_left)[0].astype(float)
        # demand per USD bn a week of capex surprise, net of the crowded-out investment
        self.capex_gdp = row(p.capex_multiplier * (1.0 - p.crowding_out) * 52.0 / p.nominal_gdp)
        # stock wealth: the market's listed equities at their value now
        table = sheets.assets
        self.equities = xp.asarray(table.of_class("equity"), device=dev)
        self.wealth0 = self._equity_value()  # (E,) USD bn
        wealth_gdp = to_numpy(self.wealth0)[0] / p.nominal_gdp  # (R,) start wealth over GDP
        self.wealth_gap = row(p.mpc * p.stock_wealth_share * wealth_gdp)
        self.wealth_index = xp.ones_like(self.wealth0)  # (E,) smoothed W / W0
        self.treasuries = table.index("treasuries")
        self.firms = xp.asarray(sheets.roster.indices("firm"), device=dev)  # the AI issuers
        # bank loans summed by region (abm.state.BankState.region: 0 US, 1 EU)
        banks = sheets.roster.indices("bank")
        us = [sheets.roster.kind[i] == "us" for i in banks]
        self.bank_region = xp.asarray(np.where(us, 0, 1), device=dev)
        self.loans_before: Any = None  # (E, R) last week's loans (set on the first update)
        self.rule_rate = self.zeros + row(p.policy_rate)  # the smoothed shadow rate
        self.spread_normal = self.zeros[:, :1] * 1.0  # ω̄: the spreads' normal level, 2025 at first
        # the dash for cash: Treasury selling pressure seen last week (it fades at the valuation's
        # rate), this selling burst and the part of the term premium it explains
        spreads = "assumptions.spreads.selling_pressure_half_life"
        self.pressure_keep = keep_per_week(float(cal.model_value(spreads)))
        self.pressure_seen = self.zeros[:, :1] * 1.0
        self.selling_burst = self.zeros[:, :1] * 1.0
        self.dash_premium = self.zeros * 1.0
        self.gap_history = [self.zeros * 1.0 for _ in range(QUARTER)]  # gaps of the last quarter
        # constants on the device
        self.neutral_is = row(p.neutral_is)
        self.neutral_taylor = row(p.neutral_taylor)
        self.long_run_rate = row(p.long_run_rate)
        chol = np.array([[1.0, 0.0], [p.noise_correlation, math.sqrt(1 - p.noise_correlation**2)]])
        self.noise_mix = xp.asarray((chol * p.noise[:, None]).T, dtype=dtype, device=dev)

    def opening_state(self) -> MacroState:
        """The 2025 values of both regions (``[macro.us]``, ``[macro.euro_area]``)."""
        p, z, row = self.p, self.zeros, self.row
        return MacroState(
            output_gap=z * 1.0,
            gdp_growth=z + row(p.potential_growth),
            unemployment=z + row(p.unemployment),
            inflation=z + row(p.inflation),
            policy_rate=z + row(p.policy_rate),
            yield_10y=z + row(p.yield_10y),
            term_premium=z + row(p.term_premium),
            house_prices=z + 1.0,
            cre_prices=z + 1.0,
            credit_growth=z + row(p.credit_trend),
        )

    def update(self, state: WorldState) -> None:
        """One week of both regions' economies, in the order of the module docstring."""
        p, row, xp = self.p, self.row, state.xp
        m = state.macro
        credit = self._credit_growth(state)
        equity_ratio = self._equity_value() / self.wealth0  # (E,) W / W0
        gap = self._output_gap(state, m, credit, equity_ratio)
        oldest = self.gap_history.pop(0)
        self.gap_history.append(gap)
        growth = row(p.potential_growth) + (52.0 / QUARTER) * (gap - oldest)
        okun = okun_unemployment(row(p.unemployment), row(p.okun), gap)
        unemployment = okun + p.keep_unemployment * (m.unemployment - okun)
        anchor = row(p.inflation)
        inflation = (
            anchor
            + p.keep_inflation * (m.inflation - anchor)
            + (1.0 - p.keep_inflation) * row(p.phillips) * gap
        )
        target = taylor_rate(
            self.neutral_taylor, inflation, row(p.inflation_target), gap, p.a_pi, p.a_x
        )
        self.rule_rate = p.keep_policy * self.rule_rate + (1.0 - p.keep_policy) * target
        stress = financial_stress_cut(
            self._credit_spread(state), equity_ratio[:, None], p.spread_response,
            p.equity_response, xp,
        )  # fmt: skip
        lower = row(p.lower_bound)
        policy = stress_adjusted_rate(self.rule_rate, self.rate_shift, stress, lower, xp)
        premium = self._term_premium(state, m.term_premium)
        yields = self._expected_rate(self.rule_rate + self.rate_shift - stress, policy, lower, xp)
        yields = yields + premium
        moved_gap, moved_yield = gap - m.output_gap, yields - m.yield_10y
        house = m.house_prices * xp.exp(
            row(p.house_gap) * moved_gap - row(p.house_rate) * moved_yield
        )
        cre = m.cre_prices * xp.exp(row(p.cre_gap) * moved_gap - row(p.cre_rate) * moved_yield)
        state.macro = MacroState(
            output_gap=gap, gdp_growth=growth, unemployment=unemployment, inflation=inflation,
            policy_rate=policy, yield_10y=yields, term_premium=premium, house_prices=house,
            cre_prices=cre, credit_growth=credit,
        )  # fmt: skip

    def planned_capex(self, week: int) -> float:
        """AI capex of week ``week`` in the firms' plan at zero hype, USD bn (SPVs stop when built).

        Each firm spends its 2026 plan a week until its build budget is spent:
        ``Σ_f clip(B_f − c_f·t, 0, c_f)``.
        """
        left = self.build_budget - self.capex_plan * week
        return float(np.sum(np.clip(left, 0.0, self.capex_plan)))

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot: every field of the macro state, (E, R) per world and region (copies)."""
        m = books.state.macro
        return {name: getattr(m, name) * 1.0 for name in MacroState.__slots__}

    # -- the parts of the week ----------------------------------------------------------------

    def _output_gap(self, state: WorldState, m: MacroState, credit: Any, value: Any) -> Any:
        """The IS curve: the gap moves toward the demand level, plus this week's demand shock.

        ``value``: (E,) the listed equities' value over the start's (the wealth effect's input).
        """
        p, row, xp = self.p, self.row, state.xp
        real_rate = m.policy_rate - m.inflation - self.neutral_is
        planned = self.planned_capex(state.week)
        capex_gap = (state.flows.ai_capex - planned)[:, None] * self.capex_gdp
        self.wealth_index = p.keep_wealth * self.wealth_index + (1.0 - p.keep_wealth) * value
        wealth = (self.wealth_index - 1.0)[:, None] * self.wealth_gap
        demand = (
            -row(p.real_rate) * real_rate
            + capex_gap
            + wealth
            + row(p.credit_elasticity) * (credit - row(p.credit_trend))
            + self.demand_impulse
        )
        shocks = self.streams.normal(state.week + 1, STREAM_DEMAND, shape=(len(REGIONS),))
        noise = xp.astype(shocks, self.zeros.dtype) @ self.noise_mix
        return p.keep_gap * m.output_gap + (1.0 - p.keep_gap) * demand + noise

    def _expected_rate(self, shadow: Any, policy: Any, lower: Any, xp: Any) -> Any:
        """(E, R) the average expected policy rate over ten years (item 6 of the module docstring).

        ``ī + A (i − ī)`` while the shadow rate is at or above the bound; below it the path
        that waits at the bound (:func:`expected_average_rate`).
        """
        p, long_run = self.p, self.long_run_rate
        plain = long_run + p.expected_weight * (policy - long_run)
        below = shadow < lower
        floored = expected_average_rate(shadow, long_run, lower, p.keep_expectations, xp)
        return xp.where(below, floored, plain)

    def _term_premium(self, state: WorldState, premium: Any) -> Any:
        """Term premium: its own deviation reverts to 2025, the dash-for-cash part follows selling.

        ``tp = tp₀ + ρ (tp_prev − k·B_prev − tp₀) + k·B``: ``B`` is the forced selling of
        Treasuries over the market depth (what the fire sale added to the selling pressure since
        last week, :meth:`abm.state.WorldState.absorb_selling`), fading with the dash-for-cash
        half-life, ``k`` per region, calibrated to March 2020 (about USD 400 bn of forced sales
        in two weeks, +60 bp; the spike was gone within weeks once the Fed bought). The part
        saturates, ``c·tanh(k·B/c)``: slope ``k`` at first, never more than the cap ``c``.
        """
        p, row, xp = self.p, self.row, state.xp
        start = row(p.term_premium)
        pressure = state.firms.selling_pressure[:, self.treasuries : self.treasuries + 1]
        fresh = xp.maximum(pressure - self.pressure_keep * self.pressure_seen, 0.0)
        self.pressure_seen = pressure
        self.selling_burst = p.keep_dash * self.selling_burst + fresh
        own = premium - self.dash_premium - start
        # saturating: the first sales move yields by k per depth sold, never more than the cap
        self.dash_premium = p.dash_cap * xp.tanh(row(p.selling) * self.selling_burst / p.dash_cap)
        return start + p.keep_term_premium * own + self.dash_premium

    def _credit_growth(self, state: WorldState) -> Any:
        """Annualised growth of the banks' loans by region, smoothed over about a quarter."""
        p, xp = self.p, state.xp
        loans = segment_sum(xp.sum(state.banks.loans, axis=-1), self.bank_region, len(REGIONS))
        before, self.loans_before = self.loans_before, loans
        if before is None:  # the first week: the books have not moved yet
            return state.macro.credit_growth
        valid = (loans > 0.0) & (before > 0.0)
        ratio = xp.where(valid, loans, 1.0) / xp.where(valid, before, 1.0)
        weekly = 52.0 * xp.log(ratio)
        smoothed = p.keep_credit * state.macro.credit_growth + (1.0 - p.keep_credit) * weekly
        return xp.where(valid, smoothed, state.macro.credit_growth)

    def _credit_spread(self, state: WorldState) -> Any:
        """(E, 1) ``ω − ω̄``: the AI issuers' credit spreads above their normal level, at least 0.

        ``ω`` is the debt-weighted widening since 2025 (:func:`abm.valuation.credit_widening`)
        of last week's valuation (``FirmState.spread_move``), each firm weighted by its debt now.
        The normal level ``ω̄`` starts at the 2025 spreads (0) and follows ``ω`` with the half-life
        ``macro.links.policy_spread_normal_half_life``, so the slow widening of a boom that
        borrows (the baseline) moves it and a sudden widening stands out (Cúrdia & Woodford 2010:
        the spread above its steady-state level). 0 when the spread response is 0, so the plain
        rule skips the ledger pass.
        """
        if self.p.spread_response == 0.0:
            return self.zeros[:, :1]
        xp, keep = state.xp, self.p.keep_spread_normal
        debt = xp.take(self.sheets.liabilities(), self.firms, axis=1)
        widening = credit_widening(xp, state.firms.spread_move, debt)[:, None]
        widening = xp.astype(widening, self.zeros.dtype)  # the block's dtype (float32 runs)
        excess = xp.maximum(widening - self.spread_normal, 0.0)
        self.spread_normal = keep * self.spread_normal + (1.0 - keep) * widening
        return excess

    def _equity_value(self) -> Any:
        """(E,) market value of the listed equities (price × units outstanding), USD bn."""
        s = self.sheets
        xp = s.xp
        value = xp.take(s.prices, self.equities, axis=1) * xp.take(s.supply, self.equities, axis=1)
        return xp.sum(value, axis=-1)
