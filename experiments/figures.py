"""Figures of a run, drawn with matplotlib's Agg backend (no display needed).

:func:`overview` draws four panels from the long series table of :class:`abm.reporting.Recorder`:
the AI equity index, the crypto price, defaults by family and the retail loss (the series
``retail_loss_share``: what households lost on what they own, as a share of their starting
wealth plus the saving they put in since; negative is a gain). With one world each
panel shows that world's path; with E > 1 worlds it is a fan chart: the median over worlds and
the band from the 5th to the 95th percentile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from abm.vocabulary import FAMILY_NAMES

START_YEAR = 2026
WEEKS_PER_YEAR = 52.0


def _paths(series: Any, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(T,) steps and (T, E) values of ``column``, one column per world."""
    table = series.pivot(index="step", columns="world", values=column).sort_index()
    return table.index.to_numpy(), table.to_numpy(dtype=float)


def _fan(
    ax: Any, x: np.ndarray, values: np.ndarray, color: str, label: str | None, **line: Any
) -> np.ndarray:
    """Median line and, with several worlds, the 5–95% band; returns the (T,) line drawn.

    ``line``: more keyword arguments of the median's ``ax.plot`` (dashes, markers).
    """
    if values.shape[1] == 1:
        ax.plot(x, values[:, 0], color=color, lw=1.6, label=label, **line)
        return values[:, 0]
    with np.errstate(all="ignore"):
        lo, med, hi = np.nanpercentile(values, [5, 50, 95], axis=1)
    ax.fill_between(x, lo, hi, color=color, alpha=0.22, lw=0)
    ax.plot(x, med, color=color, lw=1.6, label=label, **line)
    return med


def overview(series: Any, path: Path, *, title: str = "powderkeg") -> None:
    """Write the four-panel overview PNG of a run to ``path``.

    Args:
        series: the long table of :meth:`abm.reporting.Recorder.frame`.
        path: where to write the PNG (any suffix; the format is PNG).
        title: the figure's title.
    """
    from matplotlib.figure import Figure

    n_worlds = int(series["world"].nunique())
    fig = Figure(figsize=(11, 7.5), dpi=110, layout="constrained")
    axes = fig.subplots(2, 2, sharex=True)
    band = " (median, 5–95% of worlds)" if n_worlds > 1 else ""
    fig.suptitle(title + band, fontsize=12)

    steps, ai = _paths(series, "ai_equity_index")
    x = START_YEAR + steps / WEEKS_PER_YEAR
    ax = axes[0, 0]
    _fan(ax, x, ai, "tab:blue", None)
    ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
    ax.set_title("AI equity index (start = 1)")

    ax = axes[0, 1]
    _fan(ax, x, _paths(series, "crypto_price")[1], "tab:orange", None)
    ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
    ax.set_title("Crypto price (start = 1)")

    ax = axes[1, 0]
    colors = iter(["tab:red", "tab:purple", "tab:brown", "tab:green", "tab:gray"])
    shown = 0
    for family, label in FAMILY_NAMES.items():
        column = f"defaults_{family}"
        color = next(colors)
        if column not in series or not series[column].to_numpy().any():
            continue
        _fan(ax, x, _paths(series, column)[1], color, label)
        shown += 1
    if shown:
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "no defaults", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(bottom=0)
    ax.set_title("Defaults so far, by family (agents)")

    ax = axes[1, 1]
    _, loss = _paths(series, "retail_loss_share")
    _fan(ax, x, 100.0 * loss, "tab:green", None)
    ax.axhline(0.0, color="0.6", lw=0.8, ls=":")
    ax.set_title("Retail loss, % of start wealth plus saving (negative = gain)")

    for ax in axes.flat:
        ax.grid(alpha=0.3, lw=0.5)
    for ax in axes[1]:
        ax.set_xlabel("year")
    fig.savefig(path, format="png")


__all__ = ["overview"]
