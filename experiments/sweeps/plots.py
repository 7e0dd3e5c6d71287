"""Figures of a sweep, drawn from its Parquet results with matplotlib's Agg backend.

- :func:`fan_charts`: for a few points, the median over worlds and the 5–95% band of each kept
  series over the weeks (the fan of :func:`experiments.figures._fan`, one colour per point);
- :func:`heat_map`: the mean of an outcome over two parameters (over worlds and every other
  parameter), one cell per pair of values, the value written in each cell;
- :func:`scatter_map`: the same for sampled designs, one dot per point coloured by the outcome;
- :func:`effect_line`: an outcome against one parameter (mean and 5–95% of worlds);
- :func:`tornado`: sensitivity indices as horizontal bars, largest on top, with confidence bars.

Titles, axes and colour bars name what is drawn in words with its unit
(:func:`experiments.columns.describe`), in one convention: money in USD bn, shares, ratios and
rates in % (a share of worlds in % of worlds), time in weeks. Lines differ in colour (the
Okabe–Ito palette, told apart with the common colour-vision deficiencies: Okabe and Ito 2008,
"Color Universal Design", https://jfly.uni-koeln.de/color/), dash and marker, markers staggered
so that a line lying on another still shows; a panel where two points' medians coincide says so.
Colour maps are viridis (perceptually uniform and colour-blind safe: van der Walt and Smith 2015,
https://bids.github.io/colormap/); colour bars have no offset (a low-variance map would write
its offset over the title), and cell values carry the fewest significant digits (2–6) that
tell every two different cells apart (:func:`distinct_digits`); a map whose cells are equal says
so in its title. Each function writes its PNG and returns the figure (for tests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from experiments.figures import _fan

#: Okabe–Ito colours (black last), dashes and markers, one of each per line.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
DASHES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 2)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
#: Units of counts (their panels start at zero, with whole-number ticks).
COUNTS = ("agents", "banks")
#: Colour map of heat and scatter maps.
CMAP = "viridis"
#: Cells within this relative distance of each other are equal (floating-point noise).
EQUAL_RTOL = 1e-12


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


def _scaled_label(value: Any, scale: float) -> str:
    """A parameter value as a tick label, in the unit figures show (``value × scale``)."""
    if (
        scale != 1.0
        and isinstance(value, int | float | np.number)
        and not isinstance(value, bool | np.bool_)
    ):
        return label_value(float(value) * scale)
    return label_value(value)


def shown_value(name: str, value: Any) -> str:
    """A parameter's value with its unit as figures show it (``-10%``, ``4 assets/equity``)."""
    from experiments.columns import describe

    info = describe(name)
    text = _scaled_label(value, info.scale)
    numeric = isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)
    if not numeric or info.display_unit in ("", "number", "on/off", "choice", "configuration"):
        return text
    return _with_unit(text, info.display_unit)


def _outcome(metric: str, probability: bool) -> Any:
    """The outcome's column; a share of worlds (``probability``) in % of worlds."""
    from experiments.columns import PCT, Column, describe

    info = describe(metric, "outcome")
    return Column(info.title, "fraction of worlds", PCT, "% of worlds") if probability else info


def distinct_digits(values: np.ndarray, lo: int = 2, hi: int = 6) -> int:
    """The fewest significant digits (``lo`` to ``hi``) that print different values apart.

    Values closer than :data:`EQUAL_RTOL` (relative) count as equal; values that differ only
    beyond ``hi`` digits print alike at ``hi``.
    """
    finite = np.unique(values[np.isfinite(values)])
    if finite.size < 2:
        return max(lo, 3)
    size = max(float(np.max(np.abs(finite))), 1e-300)
    distinct = finite[np.concatenate([[True], np.diff(finite) > EQUAL_RTOL * size])]
    for digits in range(lo, hi + 1):
        if len({f"{v:.{digits}g}" for v in distinct}) == distinct.size:
            return digits
    return hi


def _number(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits, thousands separated, never in e-notation."""
    if value == 0 or not np.isfinite(value):
        return f"{value:g}"
    places = max(0, digits - 1 - int(np.floor(np.log10(abs(value)))))
    return f"{value:,.{places}f}"


def _colour_bar(fig: Any, mappable: Any, ax: Any, label: str) -> Any:
    """A colour bar labelled ``label`` whose ticks are plain numbers: no offset, no e-notation.

    Matplotlib's default writes a narrow range as an offset (``+1.234e-1``) above the bar,
    where it overlaps the title; plain ticks carry the digits that tell them apart instead.
    """
    from matplotlib.ticker import ScalarFormatter

    if len(label) > 40 and label.endswith(")"):  # the unit on a line of its own
        label = label.replace(" (", "\n(", 1)
    bar = fig.colorbar(mappable, ax=ax, label=label)
    plain = ScalarFormatter(useOffset=False)
    plain.set_scientific(False)
    bar.formatter = plain
    bar.update_ticks()
    return bar


def _title(ax: Any, text: str, fontsize: float) -> None:
    """``text`` as the axes' title, broken into lines that fit the axes' share of the figure.

    (Matplotlib's own ``wrap=True`` is not seen by the constrained layout, which then cuts the
    first line off at the top of the figure.)
    """
    import textwrap

    fig = ax.get_figure()
    width_pt = fig.get_figwidth() * 72 * ax.get_position().width
    chars = max(20, int(width_pt / (0.55 * fontsize)))  # an average glyph is ~0.55 em wide
    ax.set_title(textwrap.fill(text, chars, break_on_hyphens=False), fontsize=fontsize)


def _with_unit(value: str, unit: str) -> str:
    return f"{value}{unit}" if unit.startswith("%") else f"{value} {unit}"


def fan_charts(
    series: Any, points: dict[int, str], columns: list[str], path: Path, *, title: str
) -> Any:
    """One panel per series column; per point, its median over worlds and the 5–95% band.

    Each panel's title is the series in words with its unit; the values are drawn in that unit.
    Each point has its own colour, dash and marker (markers staggered along the line); a panel
    in which two points' medians are the same says which, below its title.

    Args:
        series: the sweep's series table (``point``, ``world``, ``step`` and the columns).
        points: the points to draw and their legend labels.
        columns: the series to draw, one panel each.
        path: the PNG to write.
        title: the figure's title.
    """
    from matplotlib.ticker import MaxNLocator

    from experiments.columns import describe

    n = len(columns)
    ncols = min(3, n)
    nrows = -(-n // ncols)
    fig = _figure(4.4 * ncols, 3.2 * nrows + 1.0)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, squeeze=False)).ravel()
    fig.suptitle(title + " (median and 5–95% of worlds)", fontsize=11)
    for ax, column in zip(axes, columns, strict=False):
        info = describe(column)
        drawn: list[tuple[int, np.ndarray]] = []
        same: list[str] = []
        for i, (point, label) in enumerate(points.items()):
            rows = series[series["point"] == point]
            table = rows.pivot(index="step", columns="world", values=column).sort_index()
            weeks = table.index.to_numpy()
            every = max(1, len(weeks) // 6)
            median = _fan(
                ax,
                weeks,
                table.to_numpy(dtype=float) * info.scale,
                COLORS[i % len(COLORS)],
                label,
                linestyle=DASHES[i % len(DASHES)],
                marker=MARKERS[i % len(MARKERS)],
                markersize=4,
                markevery=(min(i * max(1, every // len(points)), len(weeks) - 1), every),
            )
            twin = next((p for p, m in drawn if np.array_equal(m, median, equal_nan=True)), None)
            if twin is not None:
                same.append(f"{point} = {twin}")
            drawn.append((point, median))
        _title(ax, info.label, 9)
        if info.unit in COUNTS:  # whole agents or banks, from none up
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            top = max(1.0, ax.get_ylim()[1])
            ax.set_ylim(-0.04 * top, top)  # a line at zero stays off the axis
        if same:
            ax.text(
                0.5,
                0.98,
                "same median: point " + ", ".join(same),
                transform=ax.transAxes,
                ha="center",
                va="top",
                fontsize=7,
                color="0.3",
            )
        ax.grid(alpha=0.3, lw=0.5)
    for ax in axes[max(0, n - ncols) : n]:
        ax.set_xlabel("week")
    for ax in axes[n:]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    longest = max((len(lbl) for lbl in labels), default=1)
    fits = max(1, int(fig.get_figwidth() * 72 / (longest * 4.2 + 30)))  # 7 pt text: ~4.2 pt/char
    fig.legend(
        handles, labels, loc="outside lower center", fontsize=7, ncols=min(fits, len(labels))
    )
    fig.savefig(path, format="png")
    return fig


def heat_map(
    table: Any,
    x: str,
    y: str,
    metric: str,
    path: Path,
    *,
    title: str,
    probability: bool = False,
) -> Any:
    """A heat map of ``table`` (rows: values of ``y``, columns: values of ``x``, cells: means).

    ``probability``: the cells are shares of worlds, drawn in % of worlds on a 0–100 scale.
    Otherwise the scale spans the cells; when every cell is the same (within
    :data:`EQUAL_RTOL`) the map is one colour and its title says the value. Cell numbers carry
    :func:`distinct_digits` digits; their colour follows the cell's brightness.
    """
    from matplotlib.colors import Normalize

    from experiments.columns import describe

    info, xinfo, yinfo = _outcome(metric, probability), describe(x), describe(y)
    fig = _figure(2.8 + 1.2 * max(3, table.shape[1]), 1.8 + 0.7 * max(3, table.shape[0]))
    ax = fig.subplots()
    values = table.to_numpy(dtype=float) * info.scale
    finite = values[np.isfinite(values)]
    flat = finite.size > 0 and np.ptp(finite) <= EQUAL_RTOL * max(np.max(np.abs(finite)), 1e-300)
    if probability:
        norm = Normalize(0.0, 100.0)
    elif flat:
        middle = float(finite[0])
        half = max(abs(middle) * 0.05, 1e-9)
        norm = Normalize(middle - half, middle + half)
    else:
        norm = Normalize(float(finite.min()), float(finite.max())) if finite.size else None
    image = ax.imshow(values, cmap=CMAP, norm=norm, aspect="auto", origin="lower")
    ax.set_xticks(range(table.shape[1]), [_scaled_label(v, xinfo.scale) for v in table.columns])
    ax.set_yticks(range(table.shape[0]), [_scaled_label(v, yinfo.scale) for v in table.index])
    ax.tick_params(labelsize=8)
    digits = distinct_digits(values)
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            red, green, blue, _ = image.cmap(image.norm(v))
            light = 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.5  # relative luminance
            ax.text(
                j,
                i,
                _number(v, digits),
                ha="center",
                va="center",
                fontsize=8,
                color="black" if light else "white",
            )
    ax.set_xlabel(xinfo.label)
    ax.set_ylabel(yinfo.label)
    if flat:
        title += f" — every cell {_with_unit(_number(float(finite[0]), 6), info.display_unit)}"
    _title(ax, title, 9)
    _colour_bar(fig, image, ax, info.label)
    fig.savefig(path, format="png")
    return fig


def scatter_map(
    frame: Any,
    x: str,
    y: str,
    metric: str,
    path: Path,
    *,
    title: str,
    probability: bool = False,
) -> Any:
    """One dot per point at its (x, y) values, coloured by the point's mean ``metric``.

    ``probability``: the colours are shares of worlds, in % of worlds on a 0–100 scale.
    """
    from experiments.columns import describe

    info, xinfo, yinfo = _outcome(metric, probability), describe(x), describe(y)
    fig = _figure(6.4, 4.8)
    ax = fig.subplots()
    scale = {"vmin": 0.0, "vmax": 100.0} if probability else {}
    colours = frame[metric].to_numpy(dtype=float) * info.scale
    dots = ax.scatter(
        frame[x].to_numpy(dtype=float) * xinfo.scale,
        frame[y].to_numpy(dtype=float) * yinfo.scale,
        c=colours,
        cmap=CMAP,
        s=28,
        edgecolor="0.3",
        **scale,
    )
    ax.set_xlabel(xinfo.label)
    ax.set_ylabel(yinfo.label)
    _title(ax, title, 10)
    ax.grid(alpha=0.3, lw=0.5)
    _colour_bar(fig, dots, ax, info.label)
    fig.savefig(path, format="png")
    return fig


def effect_line(frame: Any, x: str, metric: str, path: Path, *, title: str) -> Any:
    """``metric`` against one parameter: mean over worlds and its 5–95% range per value."""
    from experiments.columns import describe

    info, xinfo = describe(metric, "outcome"), describe(x)
    groups = frame.groupby(x, sort=True, dropna=False)[metric]
    stats = (
        groups.agg(
            mean="mean", lo=lambda v: np.nanpercentile(v, 5), hi=lambda v: np.nanpercentile(v, 95)
        )
        * info.scale
    )
    labels = [_scaled_label(v, xinfo.scale) for v in stats.index]
    fig = _figure(6.4, 4.2)
    ax = fig.subplots()
    positions = np.arange(len(stats))
    ax.fill_between(
        positions,
        stats["lo"],
        stats["hi"],
        color=COLORS[0],
        alpha=0.2,
        lw=0,
        label="5–95% of worlds",
    )
    ax.plot(positions, stats["mean"], marker="o", color=COLORS[0], label="mean over worlds")
    ax.set_xticks(positions, labels, fontsize=8)
    ax.set_xlabel(xinfo.label)
    ax.set_ylabel(info.label)
    _title(ax, title, 10)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3, lw=0.5)
    fig.savefig(path, format="png")
    return fig


#: Sensitivity indices in words (columns of :func:`experiments.sensitivity.analyze`).
INDEX_NAMES = {
    "S1": "Sobol' first-order index S1 (share of variance)",
    "ST": "Sobol' total-order index ST (share of variance)",
    "mu_star": "Morris mu* (mean absolute elementary effect, outcome's unit)",
    "sigma": "Morris sigma (spread of the elementary effects, outcome's unit)",
}


def tornado(indices: Any, value: str, error: str | None, path: Path, *, title: str) -> Any:
    """Horizontal bars of ``indices[value]`` (largest on top) with ``indices[error]`` bars.

    Each bar is labelled with the parameter in words and its name.
    """
    from experiments.columns import describe

    ordered = indices.sort_values(value, ascending=True, na_position="first")
    fig = _figure(7.6, 1.4 + 0.5 * len(ordered))
    ax = fig.subplots()
    widths = ordered[value].fillna(0.0).to_numpy(float)
    errors = ordered[error].fillna(0.0).to_numpy(float) if error else None
    ax.barh(
        range(len(ordered)),
        widths,
        xerr=errors,
        color=COLORS[0],
        alpha=0.85,
        capsize=3,
        label=f"{value} with its 95% confidence interval" if error else value,
    )
    names = [f"{describe(str(p)).title}\n({p})" for p in ordered.index]
    ax.set_yticks(range(len(ordered)), names, fontsize=7)
    ax.axvline(0.0, color="0.4", lw=0.8)
    ax.set_xlabel(INDEX_NAMES.get(value, value))
    _title(ax, title, 10)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.grid(alpha=0.3, lw=0.5, axis="x")
    fig.savefig(path, format="png")
    return fig


__all__ = [
    "CMAP",
    "COLORS",
    "distinct_digits",
    "effect_line",
    "fan_charts",
    "heat_map",
    "label_value",
    "scatter_map",
    "shown_value",
    "tornado",
]
