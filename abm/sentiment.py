"""Sentiment: the AI hype and crypto factors that move revenue, capex, valuations and flows.

AI hype ``h`` and crypto sentiment ``c`` are mean-reverting log indices,
``h' = (1 − κ) h + σ_h ε₁`` and ``c' = (1 − κ) c + σ_c (ρ ε₁ + √(1 − ρ²) ε₂)``; the AI–crypto
correlation ρ is the calm value until AI equity falls more than a threshold from its start, then
the panic value (regime-dependent correlation; the stablecoin-contagion estimates 0.09 → 0.53).
Hype also feeds on last week's AI revenue surprise and AI equity return (reflexivity).
Parameters: ``calibration.toml`` ``[assumptions.sentiment]`` and ``[sentiment]``.
"""

from __future__ import annotations

from typing import Any

from abm.calibration import Calibration
from abm.state import FirmState, Sentiment, WorldState

#: random streams of the two sentiment shocks (abm.random)
STREAM_AI, STREAM_CRYPTO = 0, 1


class SentimentFactors:
    """The weekly update of AI hype and crypto sentiment (rule).

    Args:
        cal: the calibration.
        sheets: the balance sheets (AI equity prices for the drawdown and momentum).
        streams: the model's per-world random streams.
    """

    def __init__(self, cal: Calibration, sheets: Any, streams: Any) -> None:
        self.sheets, self.streams = sheets, streams
        xp = sheets.xp
        a = "assumptions.sentiment"
        self.kappa = float(cal.model_value(f"{a}.mean_reversion_per_week"))
        self.sigma_ai = float(cal.model_value(f"{a}.ai_volatility_per_week"))
        self.sigma_crypto = float(cal.model_value(f"{a}.crypto_volatility_per_week"))
        self.rho_calm = float(cal.model_value("sentiment.crypto_correlation_calm"))
        self.rho_panic = float(cal.model_value("sentiment.crypto_correlation_panic"))
        self.panic_drawdown = float(cal.model_value(f"{a}.panic_ai_drawdown"))
        self.surprise_feedback = float(cal.model_value(f"{a}.revenue_surprise_feedback"))
        self.momentum = float(cal.model_value(f"{a}.return_momentum"))
        table = sheets.assets
        self.ai_equity = xp.asarray(
            [m for m, c in enumerate(table.asset_class) if c == "equity" and table.issuer[m]],
            device=sheets.prices.device,
        )
        self.last_ai_index = xp.mean(xp.take(sheets.prices, self.ai_equity, axis=1), axis=1)

    def update(self, state: WorldState) -> None:
        """One week of AI hype and crypto sentiment, correlated more strongly in a panic.

        Reflexivity: hype also moves with last week's AI revenue surprise (actual AI revenue of
        the firms against the plan at the same hype, :func:`revenue_surprise`; post-earnings
        drift) and with last week's AI equity return (time-series momentum), so a revenue miss
        or a drawdown feeds on itself.
        """
        xp = self.sheets.xp
        sentiment = state.sentiment
        dtype = self.sheets.prices.dtype  # the draws are float64; a float32 state rounds them
        e1 = xp.astype(self.streams.normal(state.week + 1, STREAM_AI), dtype)  # week t: t + 1
        e2 = xp.astype(self.streams.normal(state.week + 1, STREAM_CRYPTO), dtype)
        ai_index = xp.mean(xp.take(self.sheets.prices, self.ai_equity, axis=1), axis=1)
        panic = xp.asarray(self.rho_panic, dtype=ai_index.dtype, device=ai_index.device)
        rho = xp.where(ai_index < 1.0 - self.panic_drawdown, panic, self.rho_calm)
        keep = 1.0 - self.kappa
        ai_return = ai_index / self.last_ai_index - 1.0
        self.last_ai_index = ai_index
        feedback = (
            self.surprise_feedback * revenue_surprise(self.sheets.xp, state.firms)
            + self.momentum * ai_return
        )
        state.sentiment = Sentiment(
            ai=keep * sentiment.ai + self.sigma_ai * e1 + feedback,
            crypto=keep * sentiment.crypto
            + self.sigma_crypto * (rho * e1 + xp.sqrt(1.0 - rho * rho) * e2),
        )


def revenue_surprise(xp: Any, firm: FirmState) -> Any:
    """(E,) last week's AI revenue over the plan at the same hype, less one (0 before any).

    The AI part of every operating firm's revenue (SPVs' rent excluded): shortfalls of
    revenue (:mod:`abm.shocks`) and failed firms make it negative.
    """
    plan = firm.planned_ai_revenue
    return xp.where(plan > 0.0, firm.ai_revenue / xp.where(plan > 0.0, plan, 1.0) - 1.0, 0.0)
