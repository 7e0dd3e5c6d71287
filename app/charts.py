"""The app's time-series charts as ECharts options: lines for one world, fan charts for several.

Every panel reads the series :class:`app.live.LiveRun` keeps (the columns of
``abm.reporting.ensemble_columns``, one value per world and week). With one world a series is a
line; with several it is a fan: the median over worlds and the band from the 5th to the 95th
percentile (two stacked series: the 5th percentile, invisible, and the 95th minus the 5th, filled),
so an ensemble reads as a distribution rather than as spaghetti. :data:`FIGURES` are the markets,
failures and households; :data:`MACRO_AND_BANKS` the macro economy by region and the banks'
capital, balance sheets and earnings, where the CET1 chart also draws the spread across banks
(10th to 90th percentile) and the capital rules' buffers and minimum.

Reading aids: the tooltip gives the week, each line's value with the panel's unit and the
5–95% band of a fan, to as many decimals as the values need (:func:`decimals_for`; drawn by
``app/static/echarts.vue``); a panel with one line per issuer or token lists the lines that moved
most first in its legend and labels the :data:`MOVERS_LABELLED` largest movers at their right end
(:func:`movement`), so a line that moves (CoreWeave's spread) is never on the legend's second page.

The browser draws the charts (ECharts, through ``app.echarts``): the server only sends
the numbers, a few kilobytes a week, so a step updates the page in a fraction of a second even on
a busy machine, where rendering images on the server took most of a second.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.state import REGIONS
from abm.vocabulary import FAMILY_NAMES, INSTITUTIONS
from app.live import LiveRun

#: Quantiles of the fan band.
BAND = (5.0, 95.0)
#: Lines labelled at their right end in a panel of one line per issuer or token (the movers).
MOVERS_LABELLED = 3
#: Colours, in order, for the lines of one panel (matplotlib's tab10, so all figures agree).
COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


@dataclass(frozen=True)
class Panel:
    """One chart: a title, a y-axis label and the series it draws.

    Attributes:
        title: the chart's title.
        unit: the y-axis label (with units).
        series: column names, or prefixes ending in ``_`` that select every matching column
            (``"spread_change_bp_"``: one line per issuer).
        labels: legend label per column (default: the column without the prefix).
        scale: factor applied to every value (100 draws fractions as percent).
        spread: ``(low column, high column, label)``: a grey band between two columns that
            describe a spread across agents (the banks' 10th and 90th percentile CET1 ratio),
            drawn under the lines; with several worlds its edges are the medians over worlds.
        reference: function of the run giving ``(label, value)`` horizontal reference lines,
            values after ``scale`` (the CET1 minimum and buffers).
        end_labels: label each line at its right end as well as in the legend.
        flows: the series are flows of the week, which week 0 does not have: it is left out.
        counts: the series count things (whole numbers on the y-axis).
    """

    title: str
    unit: str
    series: tuple[str, ...]
    labels: tuple[str, ...] = ()
    scale: float = 1.0
    spread: tuple[str, str, str] | tuple[()] = ()
    reference: Callable[[LiveRun], list[tuple[str, float]]] | None = None
    end_labels: bool = False
    flows: bool = False
    counts: bool = False


#: The app's charts, two panels per figure, in the order the page shows the figures.
FIGURES: dict[str, tuple[Panel, Panel]] = {
    "Markets": (
        Panel(
            "AI equity index and crypto",
            "price (1 = start)",
            ("ai_equity_index", "crypto_price"),
            ("AI equity", "crypto"),
        ),
        Panel("AI bond spreads by issuer", "spread change (bp)", ("spread_change_bp_",)),
    ),
    "Failures and fire sales": (
        Panel(
            "Defaults by family",
            "agents failed",
            tuple(f"defaults_{family}" for family in INSTITUTIONS),
            tuple(FAMILY_NAMES[family] for family in INSTITUTIONS),
            counts=True,
        ),
        Panel("Fire-sale volume", "USD bn per week", ("fire_sale_volume_usd_bn",), ("sold",)),
    ),
    "Banks and stablecoins": (
        Panel(
            "Bank capital (CET1 / RWA)",
            "ratio",
            ("bank_cet1_median", "bank_cet1_min"),
            ("median bank", "weakest bank"),
        ),
        Panel("Stablecoin pegs", "USD per token", ("peg_",)),
        Panel("Stablecoin tokens outstanding", "USD bn", ("tokens_outstanding_",)),
    ),
    "Households": (
        Panel("Retail wealth", "USD bn", ("retail_wealth_usd_bn",), ("all cohorts",)),
        Panel(
            "Retail losses",
            "share of start wealth plus saving; negative = gain",
            ("retail_loss_share", "retail_loss_share_worst_decile"),
            ("all households", "worst-hit tenth"),
        ),
    ),
}


#: How the macro block's regions read in the charts.
REGION_NAMES = {"us": "US", "euro_area": "euro area"}
#: Capital rules' names in the reference lines (``[regulation.<rules>]`` of the calibration).
RULES_NAMES = {"us": "US", "eu": "EU"}


def _by_region(quantity: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(columns, labels) of one macro quantity for every region (``gdp_growth_us``...)."""
    return tuple(f"{quantity}_{r}" for r in REGIONS), tuple(REGION_NAMES[r] for r in REGIONS)


def _region_panel(title: str, unit: str, quantity: str) -> Panel:
    """A macro quantity (a fraction) by region, in percent, each region's line labelled."""
    return Panel(title, unit, *_by_region(quantity), scale=100.0, end_labels=True)


def capital_lines(run: LiveRun) -> list[tuple[str, float]]:
    """The CET1 buffers and minimum the run's banks answer to, in percent of risk-weighted assets.

    The rules follow the run's ``capital_regime``: each bank's home rules (``own``: the US and EU
    buffers) or one region's for all banks. The buffer is the minimum plus the combined buffers,
    the threshold ``banks_below_buffer`` counts from.
    """
    regime = run.policy.capital_regime
    rules = ("us", "eu") if regime == "own" else (regime,)

    def percent(r: str, key: str) -> float:
        return round(100.0 * float(run.calibration.value(f"regulation.{r}.{key}")), 4)

    lines = [
        (f"{RULES_NAMES[r]} buffer {percent(r, 'cet1_buffer'):g}%", percent(r, "cet1_buffer"))
        for r in rules
    ]
    minimums = {percent(r, "cet1_min") for r in rules}
    if len(minimums) == 1:
        lines.append((f"minimum {minimums.pop():g}%", percent(rules[0], "cet1_min")))
    else:
        lines += [
            (f"{RULES_NAMES[r]} minimum {percent(r, 'cet1_min'):g}%", percent(r, "cet1_min"))
            for r in rules
        ]
    return lines


#: The macro economy and the banks, on a tab of their own, two panels per figure. A panel here
#: may also draw a band across banks and reference lines (the CET1 chart), so unlike
#: :data:`FIGURES` it is not always one fan per series.
MACRO_AND_BANKS: dict[str, tuple[Panel, Panel]] = {
    "Macro economy: growth and jobs": (
        _region_panel("GDP growth, annualised over a quarter", "% a year", "gdp_growth"),
        _region_panel("Unemployment", "% of the labour force", "unemployment"),
    ),
    "Macro economy: interest rates": (
        _region_panel("Policy rate", "% a year", "policy_rate"),
        _region_panel("10-year government bond yield", "% a year", "yield_10y"),
    ),
    "Banks: capital": (
        Panel(
            "Bank capital: CET1 ratio",
            "% of risk-weighted assets",
            ("bank_cet1_median", "bank_cet1_min", "bank_cet1_system"),
            ("median bank", "lowest bank", "banking system"),
            scale=100.0,
            spread=("bank_cet1_p10", "bank_cet1_p90", "10th–90th percentile bank"),
            reference=capital_lines,
        ),
        Panel(
            "Banks in trouble",
            "banks",
            ("banks_below_buffer", "defaults_bank"),
            ("below their CET1 buffer", "failed so far"),
            counts=True,
        ),
    ),
    "Banks: balance sheets": (
        Panel(
            "Bank risk-weighted assets",
            "USD bn",
            ("bank_rwa_us_usd_bn", "bank_rwa_eu_usd_bn"),
            ("US banks", "EU banks"),
        ),
        Panel(
            "Bank loan books (gross)",
            "USD bn",
            ("bank_loans_us_usd_bn", "bank_loans_eu_usd_bn"),
            ("US banks", "EU banks"),
        ),
    ),
    "Banks: earnings": (
        Panel(
            "Bank loan-loss provisions and net income",
            "USD bn per week",
            ("bank_provisions_usd_bn", "bank_net_income_usd_bn"),
            ("provisions", "net income"),
            flows=True,
        ),
        Panel(
            "Bank returns, median bank",
            "% a year",
            ("bank_roe_median", "bank_nim_median"),
            ("return on equity", "net interest margin"),
            scale=100.0,
            flows=True,
        ),
    ),
}


def columns_of(run: LiveRun, panel: Panel) -> list[tuple[str, str]]:
    """(column, legend label) pairs a panel draws for this run."""
    out: list[tuple[str, str]] = []
    for k, name in enumerate(panel.series):
        if name.endswith("_"):
            out += [(c, c.removeprefix(name)) for c in run.columns(name)]
        else:
            label = panel.labels[k] if k < len(panel.labels) else name
            out.append((name, label))
    return out


def _numbers(values: np.ndarray) -> list[float | None]:
    """Values for JSON: rounded, with None where a value is not finite (a gap in the line)."""
    return [round(float(v), 6) if math.isfinite(v) else None for v in values]


def fan(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, median, high) over worlds of a (T, E) series, NaN where no world has a value."""
    q = [BAND[0], 50.0, BAND[1]]
    if np.isfinite(values).all():  # the usual case, and far faster than nanpercentile
        low, mid, high = np.percentile(values, q, axis=1)
        return low, mid, high
    finite = np.where(np.isfinite(values), values, np.nan)
    out = np.full((3, values.shape[0]), np.nan)
    rows = ~np.all(np.isnan(finite), axis=1)
    if rows.any():
        out[:, rows] = np.nanpercentile(finite[rows], q, axis=1)
    return out[0], out[1], out[2]


def series_of(values: np.ndarray, label: str, colour: str, key: int) -> list[dict[str, Any]]:
    """ECharts series of one (T, E) series: a line for E = 1, band and median line for E > 1."""
    line = {
        "type": "line",
        "name": label,
        "showSymbol": False,
        "lineStyle": {"width": 1.6},
        "color": colour,
    }
    if values.shape[1] == 1:
        return [{**line, "data": _numbers(values[:, 0])}]
    low, mid, high = fan(values)
    band = {
        "type": "line",
        "stack": f"band{key}",
        "showSymbol": False,
        "silent": True,
        "lineStyle": {"opacity": 0},
        "tooltip": {"show": False},
    }
    return [
        {**band, "name": f"{label} {BAND[0]:g}%", "data": _numbers(low)},
        {
            **band,
            "name": f"{label} {BAND[0]:g}–{BAND[1]:g}%",
            "data": _numbers(high - low),
            "areaStyle": {"color": colour, "opacity": 0.2},
        },
        {**line, "data": _numbers(mid)},
    ]


def movement(values: np.ndarray) -> float:
    """How far a (T, E) series moved: the largest distance of its median from week 0's."""
    mid = np.nanmedian(values, axis=1) if values.shape[1] > 1 else values[:, 0]
    finite = mid[np.isfinite(mid)]
    return float(np.max(np.abs(finite - finite[0]))) if finite.size else 0.0


def decimals_for(series: list[dict[str, Any]], counts: bool = False) -> int:
    """Decimals the tooltip shows: three significant digits of the largest value, 0 to 4."""
    if counts:
        return 0
    values = [abs(v) for s in series for v in s["data"] if v is not None]
    top = max(values, default=0.0)
    if top <= 0.0:
        return 2
    return int(min(4, max(0, 2 - math.floor(math.log10(top)))))


def values_of(run: LiveRun, panel: Panel, column: str) -> np.ndarray:
    """(T + 1, E) values of ``column`` as ``panel`` draws them: scaled, week 0 left out of flows."""
    values = run.series(column) * panel.scale
    if panel.flows:
        values[0] = np.nan
    return values


def spread_series(run: LiveRun, panel: Panel) -> list[dict[str, Any]]:
    """The grey band of ``panel.spread`` (two stacked series; none without a spread)."""
    if not panel.spread:
        return []
    low_column, high_column, label = panel.spread
    low = fan(values_of(run, panel, low_column))[1]
    high = fan(values_of(run, panel, high_column))[1]
    band = {
        "type": "line",
        "stack": "spread",
        "showSymbol": False,
        "silent": True,
        "lineStyle": {"opacity": 0},
        "color": "#9e9e9e",
        "tooltip": {"show": False},
    }
    return [
        {**band, "name": f"{label} low", "data": _numbers(low), "pkHide": True},
        {
            **band,
            "name": label,
            "data": _numbers(high - low),
            "areaStyle": {"opacity": 0.3},
            "pkHide": True,
        },
    ]


def reference_lines(run: LiveRun, panel: Panel) -> list[tuple[str, float]]:
    """``panel.reference`` of ``run`` (none without one)."""
    return panel.reference(run) if panel.reference is not None else []


def option(run: LiveRun, panel: Panel) -> dict[str, Any]:
    """The ECharts option of ``panel`` for ``run``: every series, title, unit and legend."""
    weeks = len(run.history)
    series: list[dict[str, Any]] = spread_series(run, panel)
    # the band's legend entry is a swatch: its series' own line is invisible
    names: list[Any] = [{"name": panel.spread[2], "icon": "rect"}] if panel.spread else []
    pairs = columns_of(run, panel)
    values = {column: values_of(run, panel, column) for column, _ in pairs}
    per_issuer = any(name.endswith("_") for name in panel.series)
    order = list(range(len(pairs)))
    if per_issuer:  # the lines that moved most first in the legend, and labelled
        order.sort(key=lambda k: -movement(values[pairs[k][0]]))
    labelled = set(order[:MOVERS_LABELLED]) if per_issuer else set()
    for k in order:
        column, label = pairs[k]
        drawn = series_of(values[column], label, COLOURS[k % len(COLOURS)], k)
        if len(drawn) == 3:  # a fan: the tooltip reads the band beside the median
            drawn[0]["pkHide"] = drawn[1]["pkHide"] = True
            drawn[2]["pkBand"] = [len(series), len(series) + 1]
        if panel.end_labels or k in labelled:
            drawn[-1]["endLabel"] = {"show": True, "formatter": "{a}", "fontSize": 11}
            drawn[-1]["labelLayout"] = {"moveOverlap": "shiftY"}
        series += drawn
        names.append(label)
    y_axis: dict[str, Any] = {"type": "value", "scale": True}
    if panel.counts:
        y_axis["minInterval"] = 1
    lines = reference_lines(run, panel)
    if lines and series:
        # ECharts leaves mark lines out of the axis range: make room for them
        drawn_values = [v for s in series for v in s["data"] if v is not None]
        top = max(drawn_values, default=0.0)
        y_axis["min"] = 0
        if top < max(v for _, v in lines):
            y_axis["max"] = math.ceil(max(v for _, v in lines) * 1.1)
        series[-1]["markLine"] = {
            "silent": True,
            "symbol": "none",
            "lineStyle": {"type": "dashed", "color": "#616161", "width": 1},
            "label": {"formatter": "{b}", "position": "insideStartTop", "fontSize": 9},
            "data": [{"name": name, "yAxis": value} for name, value in lines],
        }
    return {
        "animation": False,
        "backgroundColor": "transparent",
        "pk": {
            "unit": panel.unit,
            "decimals": decimals_for(series, panel.counts),
            "band": f"{BAND[0]:g}–{BAND[1]:g}%",
        },
        "title": {
            "text": f"{panel.title} ({panel.unit})",
            "left": 4,
            "top": 0,
            "textStyle": {"fontSize": 13},
        },
        "legend": {
            "data": names,
            "left": 4,
            "top": 20,
            "type": "scroll",
            "width": "94%",
            "textStyle": {"fontSize": 11},
            "itemWidth": 14,
            "itemHeight": 8,
        },
        "tooltip": {"trigger": "axis", "confine": True},
        "grid": {
            "left": 8,
            "right": 84 if panel.end_labels or labelled else 30,
            "top": 52,
            "bottom": 4,
            "containLabel": True,
        },
        "xAxis": {
            "type": "category",
            "data": list(range(weeks)),
            "name": "week",
            "nameLocation": "end",
            "nameGap": 4,
            "boundaryGap": False,
            "axisLine": {"onZero": False},  # at the bottom even when values go negative
        },
        "yAxis": y_axis,
        "series": series,
    }


def figure(name: str) -> tuple[Panel, ...]:
    """The panels of figure ``name`` of :data:`FIGURES` or :data:`MACRO_AND_BANKS`."""
    figures = {**FIGURES, **MACRO_AND_BANKS}
    if name not in figures:
        raise KeyError(f"no figure {name!r}; figures: {', '.join(figures)}")
    return figures[name]


def options(run: LiveRun, name: str) -> list[dict[str, Any]]:
    """The ECharts options of every panel of figure ``name`` for ``run``."""
    return [option(run, panel) for panel in figure(name)]


def fan_note(run: LiveRun) -> str:
    """The line that says what a fan shows ("" for one world)."""
    if run.n_worlds == 1:
        return ""
    return (
        f"Lines: median of {run.n_worlds} worlds; bands: {BAND[0]:g}th to {BAND[1]:g}th percentile."
    )


__all__ = [
    "BAND",
    "FIGURES",
    "MACRO_AND_BANKS",
    "Panel",
    "capital_lines",
    "columns_of",
    "decimals_for",
    "fan",
    "fan_note",
    "figure",
    "movement",
    "option",
    "options",
    "series_of",
    "values_of",
]
