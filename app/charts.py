"""The app's time-series charts as ECharts options: lines for one world, fan charts for several.

Every panel reads the series :class:`app.live.LiveRun` keeps (the columns of
``abm.reporting.ensemble_columns``, one value per world and week). With one world a series is a
line; with several it is a fan: the median over worlds and the band from the 5th to the 95th
percentile (two stacked series: the 5th percentile, invisible, and the 95th minus the 5th, filled),
so an ensemble reads as a distribution rather than as spaghetti.

The browser draws the charts (ECharts, through ``solara.FigureEcharts``): the server only sends
the numbers, a few kilobytes a week, so a step updates the page in a fraction of a second even on
a busy machine, where rendering images on the server took most of a second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.vocabulary import FAMILY_NAMES, INSTITUTIONS
from app.live import LiveRun

#: Quantiles of the fan band.
BAND = (5.0, 95.0)
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
    """

    title: str
    unit: str
    series: tuple[str, ...]
    labels: tuple[str, ...] = ()


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


def option(run: LiveRun, panel: Panel) -> dict[str, Any]:
    """The ECharts option of ``panel`` for ``run``: every series, title, unit and legend."""
    weeks = len(run.history)
    series: list[dict[str, Any]] = []
    names: list[str] = []
    for k, (column, label) in enumerate(columns_of(run, panel)):
        series += series_of(run.series(column), label, COLOURS[k % len(COLOURS)], k)
        names.append(label)
    return {
        "animation": False,
        "title": {
            "text": f"{panel.title} ({panel.unit})",
            "left": 4,
            "top": 0,
            "textStyle": {"fontSize": 12},
        },
        "legend": {
            "data": names,
            "left": 4,
            "top": 17,
            "type": "scroll",
            "width": "94%",
            "textStyle": {"fontSize": 10},
            "itemWidth": 14,
            "itemHeight": 8,
        },
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 8, "right": 30, "top": 48, "bottom": 4, "containLabel": True},
        "xAxis": {
            "type": "category",
            "data": list(range(weeks)),
            "name": "week",
            "nameLocation": "end",
            "nameGap": 4,
            "boundaryGap": False,
            "axisLine": {"onZero": False},  # at the bottom even when values go negative
        },
        "yAxis": {"type": "value", "scale": True},
        "series": series,
    }


def fan_note(run: LiveRun) -> str:
    """The line that says what a fan shows ("" for one world)."""
    if run.n_worlds == 1:
        return ""
    return (
        f"Lines: median of {run.n_worlds} worlds; bands: {BAND[0]:g}th to {BAND[1]:g}th percentile."
    )


__all__ = ["BAND", "FIGURES", "Panel", "columns_of", "fan", "fan_note", "option", "series_of"]
