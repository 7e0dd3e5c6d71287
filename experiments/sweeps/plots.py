"""Figures of a sweep, drawn from its Parquet results with matplotlib's Agg backend.

- :func:`fan_charts`: for a few points, the median over worlds and the 5–95% band of each kept
  series over the weeks (the fan of :func:`experiments.figures._fan`, one colour per point);
- :func:`heat_map`: the mean of an outcome over two parameters (over worlds and every other
  parameter), one cell per pair of values, the value written in each cell;
- :func:`scatter_map`: the same for sampled designs, one dot per point coloured by the outcome;
- :func:`effect_line`: an outcome against one parameter (mean and 5–95% of worlds);
- :func:`tornado`: sensitivity indices as horizontal bars, largest on top, with confidence bars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from experiments.figures import _fan

COLORS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown")


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def label_value(value: Any) -> str:
    """A parameter value as a short label (``on``/``off`` for switches, ``none``, ``%g``)."""
    if isinstance(value, bool | np.bool_):
        return "on" if value else "off"
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "none"
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


def fan_charts(
    series: Any, points: dict[int, str], columns: list[str], path: Path, *, title: str
) -> None:
    """One panel per series column; per point, its median over worlds and the 5–95% band.

    Args:
        series: the sweep's series table (``point``, ``world``, ``step`` and the columns).
        points: the points to draw and their legend labels.
        columns: the series to draw, one panel each.
        path: the PNG to write.
        title: the figure's title.
    """
    n = len(columns)
    ncols = min(3, n)
    nrows = -(-n // ncols)
    fig = _figure(4.2 * ncols, 3.0 * nrows + 0.8)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, squeeze=False)).ravel()
    fig.suptitle(title + " (median and 5–95% of worlds)", fontsize=11)
    for ax, column in zip(axes, columns, strict=False):
        for color, (point, label) in zip(COLORS, points.items(), strict=False):
            rows = series[series["point"] == point]
            table = rows.pivot(index="step", columns="world", values=column).sort_index()
            _fan(ax, table.index.to_numpy(), table.to_numpy(dtype=float), color, label)
        ax.set_title(column, fontsize=9)
        ax.grid(alpha=0.3, lw=0.5)
    for ax in axes[max(0, n - ncols) : n]:
        ax.set_xlabel("week")
    for ax in axes[n:]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", fontsize=7, ncols=min(3, len(labels)))
    fig.savefig(path, format="png")


def heat_map(
    table: Any,
    x: str,
    y: str,
    metric: str,
    path: Path,
    *,
    title: str,
    probability: bool = False,
) -> None:
    """A heat map of ``table`` (rows: values of ``y``, columns: values of ``x``, cells: means).

    ``probability``: the cells are shares of worlds (the colour scale runs from 0 to 1).
    """
    fig = _figure(2.4 + 1.1 * max(3, table.shape[1]), 1.6 + 0.7 * max(3, table.shape[0]))
    ax = fig.subplots()
    values = table.to_numpy(dtype=float)
    scale = {"vmin": 0.0, "vmax": 1.0} if probability else {}
    image = ax.imshow(values, cmap="magma_r", aspect="auto", origin="lower", **scale)
    ax.set_xticks(range(table.shape[1]), [label_value(v) for v in table.columns], fontsize=8)
    ax.set_yticks(range(table.shape[0]), [label_value(v) for v in table.index], fontsize=8)
    finite = values[np.isfinite(values)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    if probability:
        middle = 0.5
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            color = "white" if v > middle else "black"
            text = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color=color)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title, fontsize=9, wrap=True)
    fig.colorbar(image, ax=ax, label=metric)
    fig.savefig(path, format="png")


def scatter_map(
    frame: Any,
    x: str,
    y: str,
    metric: str,
    path: Path,
    *,
    title: str,
    probability: bool = False,
) -> None:
    """One dot per point at its (x, y) values, coloured by the point's mean ``metric``.

    ``probability``: the colours are shares of worlds (the scale runs from 0 to 1).
    """
    fig = _figure(6.0, 4.6)
    ax = fig.subplots()
    scale = {"vmin": 0.0, "vmax": 1.0} if probability else {}
    dots = ax.scatter(
        frame[x], frame[y], c=frame[metric], cmap="magma_r", s=28, edgecolor="0.3", **scale
    )
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, lw=0.5)
    fig.colorbar(dots, ax=ax, label=metric)
    fig.savefig(path, format="png")


def effect_line(frame: Any, x: str, metric: str, path: Path, *, title: str) -> None:
    """``metric`` against one parameter: mean over worlds and its 5–95% range per value."""
    groups = frame.groupby(x, sort=True, dropna=False)[metric]
    stats = groups.agg(
        mean="mean", lo=lambda v: np.nanpercentile(v, 5), hi=lambda v: np.nanpercentile(v, 95)
    )
    labels = [label_value(v) for v in stats.index]
    fig = _figure(6.0, 4.0)
    ax = fig.subplots()
    positions = np.arange(len(stats))
    ax.fill_between(positions, stats["lo"], stats["hi"], color="tab:blue", alpha=0.2, lw=0)
    ax.plot(positions, stats["mean"], "o-", color="tab:blue")
    ax.set_xticks(positions, labels, fontsize=8)
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, lw=0.5)
    fig.savefig(path, format="png")


def tornado(indices: Any, value: str, error: str | None, path: Path, *, title: str) -> None:
    """Horizontal bars of ``indices[value]`` (largest on top) with ``indices[error]`` bars."""
    ordered = indices.sort_values(value, ascending=True, na_position="first")
    fig = _figure(7.0, 1.2 + 0.45 * len(ordered))
    ax = fig.subplots()
    widths = ordered[value].fillna(0.0).to_numpy(float)
    errors = ordered[error].fillna(0.0).to_numpy(float) if error else None
    ax.barh(range(len(ordered)), widths, xerr=errors, color="tab:blue", alpha=0.8, capsize=3)
    ax.set_yticks(range(len(ordered)), list(ordered.index), fontsize=8)
    ax.axvline(0.0, color="0.4", lw=0.8)
    ax.set_xlabel(value)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, lw=0.5, axis="x")
    fig.savefig(path, format="png")


__all__ = ["effect_line", "fan_charts", "heat_map", "label_value", "scatter_map", "tornado"]
