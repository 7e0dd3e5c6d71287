"""The figure of the channel-interaction replication: effects, interactions, each channel's part.

Three panels per shocked preset, from the numbers of
:func:`experiments.replications.channel_ablation.preset_numbers`: single-channel effects stacked
beside the all-channel effect, the interaction with its standard errors and amplification ratio,
and the loss each channel adds to the full system as a share of the all-channel effect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from experiments.replications.common import fmt, new_figure


def draw(numbers: dict[str, Any], path: Path) -> None:
    """Left: single-channel effects stacked beside the all-channel effect, per preset.

    Middle: the interaction (all minus the sum of singles) with two standard errors, per preset.
    Right: the loss each channel adds to the full system, as a share of the all-channel effect.
    """
    fig, axes = new_figure(19, 5.4, ncols=3)
    presets = numbers["presets"]
    channels = numbers["channels"]
    per = numbers["per_preset"]
    x = np.arange(len(presets), dtype=float)
    width = 0.38
    ax = axes[0, 0]
    colors = {c: f"C{k % 10}" for k, c in enumerate(channels)}
    hatch = {c: ("//" if k >= 10 else None) for k, c in enumerate(channels)}
    up = np.zeros(len(presets))
    down = np.zeros(len(presets))
    for c in channels:
        values = np.asarray([per[p]["effects_usd_bn"][c] for p in presets], dtype=float)
        base = np.where(values >= 0, up, down)
        ax.bar(
            x - width / 2,
            values,
            width,
            bottom=base,
            color=colors[c],
            hatch=hatch[c],
            edgecolor="white",
            lw=0.3,
            label=c.replace("_", " "),
        )
        up += np.clip(values, 0, None)
        down += np.clip(values, None, 0)
    together = np.asarray([per[p]["all_together_usd_bn"] for p in presets], dtype=float)
    ax.bar(x + width / 2, together, width, color="0.15", label="all channels together")
    sums = np.asarray([per[p]["sum_of_singles_usd_bn"] for p in presets], dtype=float)
    ax.plot(x - width / 2, sums, "k_", ms=18, mew=2, label="sum of single effects")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(x, [p.replace("_", "\n") for p in presets], fontsize=7)
    ax.set_ylabel("loss vs no contagion channel (USD bn, mean over worlds)")
    ax.set_title("Single channels (stacked, left) vs all together (right)")
    ax.legend(fontsize=6.5, frameon=False, ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    ax = axes[0, 1]
    values = np.asarray([per[p]["interaction_usd_bn"] for p in presets], dtype=float)
    errors = numbers["significance_se"] * np.asarray(
        [per[p]["interaction_se_usd_bn"] or 0.0 for p in presets], dtype=float
    )
    colors_i = [
        "C3" if v > e else ("C0" if v < -e else "0.6") for v, e in zip(values, errors, strict=True)
    ]
    ax.bar(x, values, 0.6, yerr=errors, color=colors_i, capsize=3)
    for k, p in enumerate(presets):
        ax.annotate(
            f"A = {amplification_text(per[p])}",
            (x[k], values[k] + errors[k] if values[k] >= 0 else values[k] - errors[k]),
            textcoords="offset points",
            xytext=(0, 4 if values[k] >= 0 else -12),
            ha="center",
            fontsize=7,
        )
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(x, [p.replace("_", "\n") for p in presets], fontsize=7)
    ax.set_ylabel("interaction: all − sum of singles (USD bn)")
    ax.set_title(
        f"Super-additive (red) / sub-additive (blue), ±{fmt(numbers['significance_se'])} SE"
    )
    for a in axes.flat[:2]:
        a.grid(alpha=0.3, lw=0.5, axis="y")
    ax = axes[0, 2]
    shares = np.full((len(channels), len(presets)), np.nan)
    for j, p in enumerate(presets):
        for row in per[p]["necessity"]:
            if row["share_of_all"] is not None:
                shares[channels.index(row["channel"]), j] = row["share_of_all"]
    image = ax.imshow(shares, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    for i in range(len(channels)):
        for j in range(len(presets)):
            if np.isfinite(shares[i, j]):
                ink = "white" if abs(shares[i, j]) > 0.6 else "black"
                ax.text(
                    j,
                    i,
                    str(round(100 * shares[i, j])),  # an int: no "-0"
                    ha="center",
                    va="center",
                    fontsize=6,
                    color=ink,
                )
    ax.set_xticks(np.arange(len(presets)), [p.replace("_", "\n") for p in presets], fontsize=6)
    ax.set_yticks(np.arange(len(channels)), [c.replace("_", " ") for c in channels], fontsize=7)
    ax.set_title("Loss each channel adds to the full system, % of all-channel effect")
    fig.colorbar(image, ax=ax, shrink=0.8, label="L(all) − L(all but k), share of effect")
    fig.savefig(path, format="png")


def amplification_text(result: dict[str, Any]) -> str:
    """The amplification ratio A of one preset, or ``n/a`` where it is not defined."""
    return "n/a" if result["amplification"] is None else fmt(result["amplification"], 3)
