"""The loan books' stressed loss rates, solved from a stress test's losses over its horizon.

Supervisors publish each loan book's cumulative losses over the whole stress horizon (the Fed:
nine quarters, "projected loan losses, by type of loan", % of average balances; the EBA: three
years). The satellite models of :mod:`abm.credit_risk` need the loss rate a year at the stress
point instead, the scenario's worst quarter (unemployment at its peak, the collateral price at
its low). On the way there the rate is lower, so the stressed rate lies above the horizon's
losses spread evenly over it. This module finds it. On the supervisor's own scenario path
(``abm/data/stress_paths.toml``, quarterly, linear between quarters) the satellite's rate a year
is::

    λ(t) = λ0 · exp(R · g(t)),   g(t) = w · Δu(t)/Δu* + (1 − w) · ln P(t)/ln P*

with ``R = ln(λs/λ0)`` the log rise at the stress point, ``w`` the book's unemployment weight
(1 for an unsecured book), Δu* the path's largest unemployment rise and P* its lowest price
(relative to the start): exactly :meth:`abm.credit_risk.CreditRisk.loss_rates` along that path.
``R`` solves ``λ0 · ∫_0^H exp(R · g(t)) dt = L`` (t in years) for the book's published loss L over
the horizon H, by bisection (the left side rises with R). Fed the supervisor's scenario, the
model then loses what the supervisor's models lose.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

import numpy as np

#: points per quarter of the path on which the losses are integrated (trapezoid rule)
POINTS_PER_QUARTER = 64
#: bisection steps: the log rise is bracketed in [0, MAX_LOG_RISE] and halved this often
BISECTION_STEPS = 80
#: the largest log rise searched: a stressed rate e^12 ≈ 160,000 times the calm one
MAX_LOG_RISE = 12.0
#: the price series of a stress path, by the MacroState field it stands for
PRICE_SERIES = {"house_prices": "house_price_index", "cre_prices": "cre_price_index"}


@dataclass(frozen=True)
class StressPath:
    """A supervisory scenario's quarterly path for one region, from its jump-off (quarter 0).

    Attributes:
        name, source: what the path is and where its numbers come from.
        unemployment: (Q+1,) the unemployment rate, fraction.
        prices: the collateral price series (keys of :data:`PRICE_SERIES`), (Q+1,) relative to
            the jump-off quarter.
    """

    name: str
    source: str
    unemployment: np.ndarray
    prices: dict[str, np.ndarray]

    @property
    def horizon_quarters(self) -> int:
        """Quarters from the jump-off to the end of the horizon."""
        return self.unemployment.size - 1

    @property
    def unemployment_rise(self) -> float:
        """The largest rise of unemployment over the jump-off, fraction (Δu*)."""
        return float(np.max(self.unemployment) - self.unemployment[0])

    def price_fall(self, price: str) -> float:
        """The largest fall of a collateral price from the jump-off, share (1 − P*)."""
        return float(1.0 - np.min(self.prices[price]))

    def stress_shares(self, price: str | None, weight: float) -> np.ndarray:
        """(P,) g(t) of the module docstring on evenly spaced points of the horizon."""
        quarters = np.arange(self.unemployment.size, dtype=float)
        t = np.linspace(0.0, self.horizon_quarters, POINTS_PER_QUARTER * self.horizon_quarters + 1)
        rise = np.interp(t, quarters, self.unemployment - self.unemployment[0])
        from_u = rise / self.unemployment_rise
        if price is None:
            return from_u
        level = np.interp(t, quarters, self.prices[price])
        from_price = np.maximum(-np.log(level), 0.0) / -np.log(1.0 - self.price_fall(price))
        return weight * from_u + (1.0 - weight) * from_price


def load_stress_paths(text: str | None = None) -> dict[str, StressPath]:
    """The supervisory scenario paths of ``abm/data/stress_paths.toml`` (or ``text``), by region.

    Raises:
        ValueError: a price series of another length than unemployment's or not positive, or
            an unemployment path that never rises.
    """
    if text is None:
        text = resources.files("abm").joinpath("data", "stress_paths.toml").read_text("utf-8")
    out = {}
    for region, entry in tomllib.loads(text).items():
        unemployment = np.asarray(entry["unemployment_pct"], dtype=float) / 100.0
        prices = {}
        for field, series in PRICE_SERIES.items():
            index = np.asarray(entry[series], dtype=float)
            if index.shape != unemployment.shape or not np.all(index > 0.0):
                raise ValueError(
                    f"stress_paths.toml [{region}] {series}: {unemployment.size} positive values, "
                    "one a quarter like unemployment_pct"
                )
            prices[field] = index / index[0]
        if unemployment.size < 2 or not np.max(unemployment) > unemployment[0]:
            raise ValueError(
                f"stress_paths.toml [{region}] unemployment_pct: two quarters at least, rising"
            )
        out[region] = StressPath(
            name=entry["name"], source=entry["source"], unemployment=unemployment, prices=prices
        )
    return out


def horizon_loss(base: float, log_rise: float, shares: np.ndarray, horizon_quarters: int) -> float:
    """Losses over the horizon, share of the book.

    The rate a year along the path, averaged by the trapezoid rule, times the horizon in years.
    """
    rate = base * np.exp(log_rise * shares)
    mean = (np.sum(rate) - 0.5 * (rate[0] + rate[-1])) / (rate.size - 1)
    return float(mean * horizon_quarters / 4.0)


def stressed_rate(base: float, loss: float, shares: np.ndarray, horizon_quarters: int) -> float:
    """The loss rate a year at the stress point whose path loses ``loss`` over the horizon.

    Args:
        base: the calm loss rate a year (λ0).
        loss: the stress test's losses over the horizon, share of average balances.
        shares: :meth:`StressPath.stress_shares` of the book.
        horizon_quarters: the path's horizon.

    Raises:
        ValueError: where ``loss`` is at most the calm losses over the horizon (nothing to solve
            for) or beyond what a rise of e^MAX_LOG_RISE reaches.
    """
    calm = horizon_loss(base, 0.0, shares, horizon_quarters)
    most = horizon_loss(base, MAX_LOG_RISE, shares, horizon_quarters)
    if not calm < loss < most:
        raise ValueError(
            f"a loss of {loss:.4g} over {horizon_quarters} quarters must lie between the calm "
            f"losses {calm:.4g} and {most:.4g}"
        )
    lo, hi = 0.0, MAX_LOG_RISE
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if horizon_loss(base, mid, shares, horizon_quarters) > loss:
            hi = mid
        else:
            lo = mid
    return base * float(np.exp(0.5 * (lo + hi)))
