"""The headline numbers of a run, per world: the scenario table's columns and how each is computed.

:data:`METRICS` names the columns of the scenario table (``powderkeg evidence``) and the outcomes a
preset's ``[compare]`` may name (:mod:`experiments.scenarios`); :func:`world_metrics` reduces one
ensemble run to them, for ``powderkeg evidence`` and for every sweep point
(:mod:`experiments.sweeps.point`). The banks' and the economy's numbers (:data:`MACRO_METRICS`)
come from the series of the macro block, the loan books and the banks' earnings: the fall of the
system's CET1 ratio from the start to its lowest week, the most banks below their capital buffer
at once, the lowest quarterly GDP growth (annualised) and the highest unemployment rate of each
region, and besides the table the median bank's return on equity, loan-loss provisions, the US
policy rate's low and its mean over the first year, and the US 10-year yield's low and peak (the
stress-test table sets them beside the Fed's severely adverse path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.state import LOAN_BOOKS
from abm.vocabulary import FAMILIES, INSTITUTIONS


@dataclass(frozen=True)
class Metric:
    """One column of the scenario table: its key in the data, its label and number format."""

    key: str
    label: str
    fmt: str


#: The scenario table's columns, in order.
METRICS: tuple[Metric, ...] = (
    Metric("peak_spread_bp", "Peak AI-bond spread widening (bp)", "{:.0f}"),
    Metric("ai_equity_drawdown_pct", "AI equity max drawdown (%)", "{:.1f}"),
    Metric("defaults_firm", "Defaults: tech firms", "{:.0f}"),
    Metric("defaults_fund", "Defaults: funds", "{:.0f}"),
    Metric("defaults_stablecoin", "Defaults: stablecoin issuers", "{:.0f}"),
    Metric("defaults_retail", "Defaults: retail cohorts", "{:.0f}"),
    Metric("bank_failures", "Bank failures", "{:.0f}"),
    Metric("bank_cet1_low_pct", "Lowest bank CET1 (%)", "{:.1f}"),
    Metric("peg_low", "Lowest stablecoin peg ($)", "{:.3f}"),
    Metric("fire_sale_volume_usd_bn", "Fire-sale volume (USD bn, total)", "{:,.0f}"),
    Metric("retail_loss_median_pct", "Retail loss, median cohort (%)", "{:.2f}"),
    Metric("retail_loss_worst_decile_pct", "Retail loss, worst decile (%)", "{:.2f}"),
    Metric("bank_cet1_fall_pt", "Fall of system CET1, start to low (pt)", "{:.1f}"),
    Metric("banks_below_buffer_max", "Banks below buffer (most at once)", "{:.0f}"),
    Metric("gdp_growth_low_us_pct", "Lowest GDP growth, US (% a year)", "{:.1f}"),
    Metric("gdp_growth_low_euro_area_pct", "Lowest GDP growth, euro area (% a year)", "{:.1f}"),
    Metric("unemployment_peak_us_pct", "Peak unemployment, US (%)", "{:.1f}"),
    Metric("unemployment_peak_euro_area_pct", "Peak unemployment, euro area (%)", "{:.1f}"),
)
#: Per-world numbers kept besides the table's (for the ablation and the raw data).
EXTRA = (
    "retail_loss_usd_bn",
    "institution_equity_loss_usd_bn",
    "total_loss_usd_bn",
    "bank_roe_median_pct",
    "bank_provisions_usd_bn",
    "bank_cet1_fall_us_pt",
    "bank_cet1_fall_eu_pt",
    "policy_rate_low_us_pct",
    "policy_rate_first_year_us_pct",
    "yield_10y_low_us_pct",
    "yield_10y_peak_us_pct",
    *(
        f"bank_{q}_stress_{r}_pct"
        for r in ("us", "eu")
        for q in ("loss_rate", "payouts", "rwa_change")
    ),
    *(f"bank_cet1_fall_static_{r}_pt" for r in ("us", "eu")),
    *(f"bank_loss_rate_stress_{r}_{book}_pct" for r in ("us", "eu") for book in LOAN_BOOKS),
)
#: each region's stress-test horizon in weeks: the Fed's nine quarters, the EBA's three years
STRESS_WEEKS = {"us": 117, "eu": 156}
#: The bank and macro metrics: (key, series of :mod:`abm.reporting`, reduction over the weeks,
#: scale). ``fall`` is the first value minus the lowest, ``first_year`` the mean over weeks
#: 1–52; a world's number is NaN while the series is not reported.
MACRO_METRICS: tuple[tuple[str, str, str, float], ...] = (
    ("bank_cet1_fall_pt", "bank_cet1_system", "fall", 100.0),
    ("bank_cet1_fall_us_pt", "bank_cet1_system_us", "fall", 100.0),
    ("bank_cet1_fall_eu_pt", "bank_cet1_system_eu", "fall", 100.0),
    ("banks_below_buffer_max", "banks_below_buffer", "max", 1.0),
    ("gdp_growth_low_us_pct", "gdp_growth_us", "min", 100.0),
    ("gdp_growth_low_euro_area_pct", "gdp_growth_euro_area", "min", 100.0),
    ("unemployment_peak_us_pct", "unemployment_us", "max", 100.0),
    ("unemployment_peak_euro_area_pct", "unemployment_euro_area", "max", 100.0),
    ("bank_roe_median_pct", "bank_roe_median", "mean", 100.0),
    ("bank_provisions_usd_bn", "bank_provisions_usd_bn", "sum", 1.0),
    ("policy_rate_low_us_pct", "policy_rate_us", "min", 100.0),
    ("policy_rate_first_year_us_pct", "policy_rate_us", "first_year", 100.0),
    ("yield_10y_low_us_pct", "yield_10y_us", "min", 100.0),
    ("yield_10y_peak_us_pct", "yield_10y_us", "max", 100.0),
)


def _over_weeks(frame: Any, column: str, how: str, worlds: int) -> np.ndarray:
    """(E,) one reduction over the weeks of a series per world; NaN when it is not reported."""
    if column not in frame.columns:
        return np.full(worlds, np.nan)
    if how == "first_year":  # weeks 1–52, the first year of the run
        return (
            frame[frame["step"].between(1, 52)]
            .groupby("world", sort=True)[column]
            .mean()
            .to_numpy(float)
        )
    by_world = frame.groupby("world", sort=True)[column]
    if how == "fall":
        return (by_world.first() - by_world.min()).to_numpy(float)
    return by_world.agg(how).to_numpy(float)


def _stress_horizon(frame: Any, worlds: int) -> dict[str, np.ndarray]:
    """(E,) each region's loan losses and change of RWA over its stress test's horizon.

    ``bank_loss_rate_stress_<region>_pct``: the banks' write-offs over weeks 1 to
    :data:`STRESS_WEEKS` (or the run, if shorter) over their risk-weighted assets at the start,
    as the stress tests' losses compare with capital ratios; ``bank_payouts_stress_<region>_pct``:
    their dividends and buybacks over the same weeks, on the same scale;
    ``bank_rwa_change_stress_<region>_pct``: their risk-weighted assets at the horizon's end
    against the start; ``bank_cet1_fall_static_<region>_pt``: the fall of their CET1 capital
    over their risk-weighted assets *at the start*, start to the lowest over the horizon: the
    ratio on a static balance sheet, as both stress tests measure it (a bank that shrinks its
    assets raises its ratio, not its capital); ``bank_loss_rate_stress_<region>_<book>_pct``
    for each book of :data:`abm.state.LOAN_BOOKS`: the book's write-offs over the horizon over
    its average balance (weeks 0 to the horizon), as the Fed reports projected loan losses by
    type of loan (2026 results, Table 9). NaN where not reported.
    """
    out = {}
    for region, weeks in STRESS_WEEKS.items():
        losses, rwa = f"bank_write_offs_{region}_usd_bn", f"bank_rwa_{region}_usd_bn"
        rate, change = f"bank_loss_rate_stress_{region}_pct", f"bank_rwa_change_stress_{region}_pct"
        static, paid_share = (
            f"bank_cet1_fall_static_{region}_pt",
            f"bank_payouts_stress_{region}_pct",
        )
        window = frame[frame["step"].between(1, weeks)].groupby("world", sort=True)
        out.update(_book_loss_rates(frame, window, region, weeks, worlds))
        if not {losses, rwa} <= set(frame.columns):
            for key in (rate, change, static, paid_share):
                out[key] = np.full(worlds, np.nan)
            continue
        start = frame[frame["step"] == 0].groupby("world", sort=True)[rwa].first().to_numpy(float)
        start = np.where(start > 0.0, start, np.nan)
        out[rate] = 100.0 * window[losses].sum().to_numpy(float) / start
        paid = f"bank_payouts_{region}_usd_bn"
        out[paid_share] = (
            100.0 * window[paid].sum().to_numpy(float) / start
            if paid in frame.columns
            else np.full(worlds, np.nan)
        )
        out[change] = 100.0 * (window[rwa].last().to_numpy(float) / start - 1.0)
        out[static] = _static_fall(frame, region, weeks, start)
    return out


def _static_fall(frame: Any, region: str, weeks: int, start_rwa: np.ndarray) -> np.ndarray:
    """(E,) fall of the region's CET1 capital over its starting RWA (points), over the horizon.

    Capital is the system ratio times the RWA of the banks alive, each week; NaN where the
    ratio is not reported.
    """
    ratio, rwa = f"bank_cet1_system_{region}", f"bank_rwa_{region}_usd_bn"
    if ratio not in frame.columns:
        return np.full(len(start_rwa), np.nan)
    held = frame[frame["step"].between(0, weeks)]
    capital = (held[ratio] * held[rwa]).groupby(held["world"], sort=True)
    return 100.0 * (capital.first() - capital.min()).to_numpy(float) / start_rwa


def _book_loss_rates(
    frame: Any, window: Any, region: str, weeks: int, worlds: int
) -> dict[str, np.ndarray]:
    """(E,) each book's write-offs over the horizon (``window``) over its average balance."""
    out = {}
    held = frame[frame["step"].between(0, weeks)].groupby("world", sort=True)
    for book in LOAN_BOOKS:
        written = f"bank_write_offs_{region}_{book}_usd_bn"
        loans = f"bank_loans_{region}_{book}_usd_bn"
        key = f"bank_loss_rate_stress_{region}_{book}_pct"
        if not {written, loans} <= set(frame.columns):
            out[key] = np.full(worlds, np.nan)
            continue
        average = held[loans].mean().to_numpy(float)
        average = np.where(average > 0.0, average, np.nan)
        out[key] = 100.0 * window[written].sum().to_numpy(float) / average
    return out


def world_metrics(series: Any, model: Any) -> dict[str, np.ndarray]:
    """Reduce one ensemble run to per-world numbers, each an (E,) array (NaN for a stopped world).

    Args:
        series: the :class:`abm.reporting.Recorder` frame (one row per step and world).
        model: the stepped :class:`abm.model.Powderkeg` (for end-of-run balance sheets).
    """
    from kernels.backend import to_numpy

    frame = series.sort_values(["world", "step"])
    by_world = frame.groupby("world", sort=True)
    last = by_world.tail(1).set_index("world").sort_index()
    spreads = [c for c in frame.columns if c.startswith("spread_change_bp_")]
    pegs = [c for c in frame.columns if c.startswith("peg_")]
    out: dict[str, np.ndarray] = {}
    out["peak_spread_bp"] = (
        frame.assign(_peak=frame[spreads].max(axis=1)).groupby("world")["_peak"].max().to_numpy()
        if spreads
        else np.zeros(len(last))
    )
    index = frame["ai_equity_index"]
    running_peak = index.groupby(frame["world"]).cummax()
    drawdown = 1.0 - index / running_peak
    out["ai_equity_drawdown_pct"] = 100 * drawdown.groupby(frame["world"]).max().to_numpy()
    for family in (f for f in FAMILIES if f != "bank"):  # banks: bank_failures below
        column = f"defaults_{family}"
        out[column] = last[column].to_numpy(float) if column in last else np.zeros(len(last))
    out["bank_failures"] = last["defaults_bank"].to_numpy(float)
    out["bank_cet1_low_pct"] = 100 * by_world["bank_cet1_min"].min().to_numpy(float)
    out["peg_low"] = (
        frame.assign(_low=frame[pegs].min(axis=1)).groupby("world")["_low"].min().to_numpy()
        if pegs
        else np.ones(len(last))
    )
    out["fire_sale_volume_usd_bn"] = by_world["fire_sale_volume_usd_bn"].sum().to_numpy()
    out["retail_loss_worst_decile_pct"] = 100 * last["retail_loss_share_worst_decile"].to_numpy(
        float
    )
    out["retail_loss_usd_bn"] = last["retail_loss_usd_bn"].to_numpy(float)

    equity0 = np.asarray(to_numpy(model.start_equity), dtype=float)
    equity = np.asarray(model.snapshot["equity"], dtype=float)
    blocks = model.roster.blocks
    retail = slice(*blocks["retail"])
    kept = equity0[:, retail] + np.asarray(model.snapshot["saved"], dtype=float)[:, retail]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(kept > 0, (kept - equity[:, retail]) / kept, np.nan)
    out["retail_loss_median_pct"] = 100 * np.nanmedian(share, axis=1)
    columns = np.concatenate(
        [np.arange(*blocks[f]) for f in INSTITUTIONS if f in blocks] or [np.arange(0)]
    )
    start, end = equity0[:, columns], equity[:, columns]
    lost = np.clip(start - end, 0.0, np.maximum(start, 0.0))  # limited liability
    out["institution_equity_loss_usd_bn"] = lost.sum(axis=1)
    out["total_loss_usd_bn"] = out["institution_equity_loss_usd_bn"] + out["retail_loss_usd_bn"]
    for key, column, how, scale in MACRO_METRICS:
        out[key] = scale * _over_weeks(frame, column, how, len(last))
    out.update(_stress_horizon(frame, len(last)))
    # a world whose numbers became non-finite has no outcome: not a crisis, not a calm (NaN)
    stopped = by_world["world_stopped"].any().to_numpy(bool)
    return {key: np.where(stopped, np.nan, values.astype(float)) for key, values in out.items()}


__all__ = ["EXTRA", "INSTITUTIONS", "MACRO_METRICS", "METRICS", "Metric", "world_metrics"]
