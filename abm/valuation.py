"""Valuation: what assets are worth this week, fundamentals and fire-sale gaps decaying.

Fundamentals — each AI firm's equity ``exp(γ h)·R/R₀`` on its own revenue, its bonds
``exp(−D·(Δs + Δy))`` with the US 10-year yield ``Δy`` since the start (:mod:`abm.macro`; the
same ``exp(−D·Δy)`` moves Treasuries and non-AI IG bonds, D their duration in years; floating-rate
loans do not move with rates) and its spread moving ``Δs = −k·h + a₁·max(0, x − x₀) + a₃·P``
with ``x`` debt / EBITDA and ``P`` selling pressure (:meth:`Valuation._spread_move`; new
coupons pay the moved spread), private AI credit marked to model with the AI spread index, crypto
``exp(c)``, the rest constant — and fire-sale price gaps decaying toward them with each asset's
half-life (``kernels.impact.relax_toward``). A firm's value is shared by the units outstanding:
an asset's price is its fundamental times ``BalanceSheets.dilution``, the starting units over the
units after shares issued to warrant holders (:mod:`abm.warrants`). Ratings read the same debt /
EBITDA (:mod:`abm.ratings`). Parameters: ``calibration.toml`` ``[assumptions.sentiment]``,
``[assumptions.spreads]`` and ``[macro.us]`` (the 2025 yield).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.arrays import set_columns
from abm.calibration import Calibration
from abm.ratings import debt_to_ebitda
from abm.state import FirmState, Sentiment, WorldState
from kernels.impact import relax_toward


def credit_widening(xp: Any, spread_move: Any, debt: Any) -> Any:
    """(E,) the AI credit spread index: each issuer's spread rise since the start, debt-weighted.

    ``Σ_f max(Δs_f, 0)·D_f / Σ_f D_f`` over the AI firms (E, F), a fraction a year: how far the
    AI issuers' credit spreads stand above their 2025 (normal) level. Tightening below the start
    counts as 0. The private marks and the central bank's spread-adjusted rule
    (:mod:`abm.macro`) read it.
    """
    debt = xp.maximum(debt, 0.0)
    widening = xp.maximum(spread_move, 0.0)
    return xp.sum(widening * debt, axis=-1) / xp.maximum(xp.sum(debt, axis=-1), 1e-12)


class Valuation:
    """The weekly revaluation of every asset (rule).

    Args:
        cal: the calibration.
        sheets: the balance sheets.
        firm: the firms' shared state at the start (for the starting debt / EBITDA).
    """

    def __init__(self, cal: Calibration, sheets: Any, firm: FirmState) -> None:
        self.sheets = sheets
        xp = sheets.xp
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        table, roster = sheets.assets, sheets.roster
        a = "assumptions"
        self.gamma = float(cal.model_value(f"{a}.sentiment.equity_valuation_elasticity"))
        self.spread_k = float(cal.value(f"{a}.sentiment.spread_sensitivity"))
        firm_rows = roster.indices("firm")
        self.firms = xp.asarray(firm_rows, device=dev)
        firm_names = [roster.names[i] for i in firm_rows]
        self.ai_equity = [
            m for m, c in enumerate(table.asset_class) if c == "equity" and table.issuer[m]
        ]
        position = [firm_names.index(table.issuer[m]) for m in self.ai_equity]
        self.equity_firm = xp.asarray(np.array(position), device=dev)
        self.equity_revenue0 = xp.asarray(firm.plan.revenue[position], dtype=dtype, device=dev)
        # private AI credit marked to model: spread duration and the AI share of each market
        marks = "assumptions.spreads"
        self.marks_years = float(cal.value(f"{marks}.private_marks_duration"))
        pc_share = float(cal.model_value(f"{marks}.ai_share_of_private_credit"))
        self.marked = [table.index(k) for k in ("ai_spv_debt", "dc_abs", "private_credit")]
        self.marked_share = xp.asarray(np.array([1.0, 1.0, pc_share]), dtype=dtype, device=dev)
        self.ai_bonds = [
            m for m, c in enumerate(table.asset_class) if c == "corporate_bond" and table.issuer[m]
        ]
        bond_firm = [firm_names.index(table.issuer[m]) for m in self.ai_bonds]
        self.bond_firm = xp.asarray(np.array(bond_firm), device=dev)
        idx = np.maximum(sheets.bond_asset[firm_rows], 0)  # firms without bonds: 0, face 0
        self.bond_assets = xp.asarray(idx, device=dev)
        self.has_bonds = xp.asarray(sheets.bond_asset[firm_rows] >= 0, device=dev)
        self.crypto = table.index("crypto")
        self.spread_leverage = float(cal.model_value(f"{marks}.debt_to_ebitda_sensitivity"))
        self.spread_selling = float(cal.model_value(f"{marks}.selling_pressure_sensitivity"))
        pressure_half_life = float(cal.model_value(f"{marks}.selling_pressure_half_life"))
        self.pressure_keep = 0.5 ** (1.0 / pressure_half_life)
        self.half_life = xp.asarray(table.half_life, dtype=dtype, device=dev)
        self.duration_years = xp.asarray(
            [d / 52.0 for d in table.duration], dtype=dtype, device=dev
        )
        # rate-sensitive bonds move with the US 10-year yield of the macro block (abm.macro):
        # Treasuries, bills and non-AI IG bonds on their own (each with its duration), the AI
        # issuers' bonds with their spreads
        self.yield0 = float(cal.value("macro.us.yield_10y"))
        self.rate_bonds = [table.index(k) for k in ("treasuries", "tbills", "ig_bonds_non_ai")]
        self.ai_bond_years, self.rate_bond_years = (
            xp.take(self.duration_years, xp.asarray(bonds, device=dev))
            for bonds in (self.ai_bonds, self.rate_bonds)
        )
        self.fundamental = sheets.prices * 1.0
        debt0 = xp.take(sheets.liabilities(), self.firms, axis=1)
        self.leverage0 = debt_to_ebitda(xp, debt0, firm.ebitda)  # (E, F) debt / EBITDA at start
        self.debt = debt0

    def revalue(self, state: WorldState) -> None:
        """Move fundamentals with sentiment and let prices follow, fire-sale gaps decaying."""
        s = self.sheets
        xp = s.xp
        sentiment = state.sentiment
        fundamental = self.fundamental
        earnings = xp.take(state.firms.revenue, self.equity_firm, axis=1) / self.equity_revenue0
        earnings = xp.maximum(earnings, 1e-6)  # a firm without revenue keeps a sliver of value
        equity_value = xp.exp(self.gamma * sentiment.ai)[:, None] * earnings  # each its own firm
        spread_move = self._spread_move(state.firms, sentiment)  # (E, F) per year
        rate_move = state.macro.yield_10y[:, :1] - self.yield0  # (E, 1) US yield since start
        new = xp.ones_like(fundamental)
        new = set_columns(xp, new, self.ai_equity, equity_value)
        bond_value = xp.exp(
            -self.ai_bond_years * (xp.take(spread_move, self.bond_firm, axis=1) + rate_move)
        )
        new = set_columns(xp, new, self.ai_bonds, bond_value)
        rate_value = xp.exp(-self.rate_bond_years * rate_move)
        new = set_columns(xp, new, self.rate_bonds, rate_value)
        marked = xp.exp(
            -self.marks_years * self.marked_share * self._ai_credit_index(state.firms)[:, None]
        )
        new = set_columns(xp, new, self.marked, marked)
        new = set_columns(xp, new, [self.crypto], xp.exp(sentiment.crypto)[:, None])
        new = new * s.impairment  # what defaults destroyed stays destroyed
        # the firm's value per unit is shared by the units issued since (abm.warrants)
        gap = relax_toward(
            s.prices / (fundamental * s.dilution), xp.ones_like(fundamental), self.half_life
        )
        prices = new * s.dilution * gap
        s.ledger.book_equity((s.holdings @ (prices - s.prices)[:, :, None])[:, :, 0])
        s.prices = prices
        self.fundamental = new

    def _ai_credit_index(self, firm: FirmState) -> Any:
        """(E,) widening of AI credit spreads: each firm's spread rise weighted by its debt.

        Private AI loans (``ai_spv_debt``), data-centre ABS and the AI part of private credit
        have no quoted price; their managers mark them to model ("mark to model,
        lagged"), here ``exp(−D·a·Δs_AI)`` with spread duration ``D``, AI share ``a`` and
        this index ``Δs_AI``; the prices follow with the markets' half-lives.
        """
        return credit_widening(self.sheets.xp, firm.spread_move, self.debt)

    def _spread_move(self, firm: FirmState, sentiment: Sentiment) -> Any:
        """(E, F) change of each firm's credit spread since the start, a fraction per year.

        ``Δs = −k·h + a₁·max(0, x − x₀) + a₃·P``: spreads tighten with hype, widen as debt / EBITDA
        ``x`` (turns; :func:`abm.ratings.debt_to_ebitda`) rises above its start, and widen with
        selling pressure ``P`` on the firm's bonds (units sold in fire sales and forced sales over
        the market depth, fading with ``selling_pressure_half_life``;
        :meth:`abm.state.WorldState.absorb_selling`). ``x`` carries both leverage and interest cover
        (for a firm paying rate r, cover is 1 / (r·x)), and revenue shortfalls reach it through
        EBITDA, which creditors read as a smoothed run rate (``ebitda_smoothing_weeks``). ``a₁`` is
        fitted to the autumn-2025 moves (``[assumptions.spreads]``): the bond issues of Oracle (18
        bn), Meta (30 bn) and Alphabet (25 bn) raised their debt / EBITDA by 0.87, 0.26 and 0.15
        turns while their spreads widened by 48, 15 and 10 bp (seed 000); ``a₁`` is the geometric
        mean of the three ratios (59.5 bp a turn), which gives back 51, 15 and 9 bp
        (tests/test_bond_market.py runs it through the model).
        """
        s = self.sheets
        xp = s.xp
        debt = xp.take(s.liabilities(), self.firms, axis=1)
        self.debt = debt  # (E, F) weights of the AI credit index
        leverage = debt_to_ebitda(xp, debt, firm.ebitda)
        firm.leverage = leverage  # (E, F) debt / EBITDA now, read by the rating agency
        firm.selling_pressure = firm.selling_pressure * self.pressure_keep
        pressure = xp.take(firm.selling_pressure, self.bond_assets, axis=1)
        move = (
            -self.spread_k * sentiment.ai[:, None]
            + self.spread_leverage * xp.maximum(leverage - self.leverage0, 0.0)
            + self.spread_selling * xp.where(self.has_bonds, pressure, 0.0)
        )
        firm.spread_move = move
        return move
