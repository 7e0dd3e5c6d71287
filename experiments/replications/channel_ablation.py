"""The channel ablation of one preset, reduced to effects, interaction and each channel's part.

For a shocked preset, :func:`preset_ablation` runs the model once per channel configuration of
:func:`experiments.build.ablation_configs` (no contagion channel, each alone, all of them) through
:func:`experiments.evidence.run_ablation`, and once more with every channel on but one
(:func:`all_but`), all on the same worlds and seeds. :func:`preset_numbers` reduces the runs to
the numbers of :mod:`experiments.replications.channel_interaction` (which defines them): single
and all-channel effects with their standard errors, the interaction ``I`` (:func:`interaction`)
and whether it is told apart from 0 (:func:`significance`), the amplification ratio, the loss
each channel adds to the full system (:func:`necessity`) and the analogue of the ECB's
second-round share (:func:`second_round`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Loss columns of the CSV (USD bn, means over worlds).
LOSS_COLUMNS = (
    "institution_equity_loss_usd_bn",
    "retail_loss_usd_bn",
    "total_loss_usd_bn",
    "effect_usd_bn",
)


def shocked_presets() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(presets with at least one shock, presets without), in the order of ``preset_names``."""
    from experiments.scenarios import load_preset, preset_names

    names = preset_names()
    shocked = tuple(n for n in names if load_preset(n).shocks)
    return shocked, tuple(n for n in names if n not in shocked)


def interaction(runs: dict[str, dict[str, np.ndarray]], singles: list[str]) -> np.ndarray:
    """Per-world interaction ``I_w`` (USD bn): all-channel effect minus the single effects' sum."""
    none = runs["none"]["total_loss_usd_bn"]
    effect_all = runs["all"]["total_loss_usd_bn"] - none
    effect_sum = sum(runs[k]["total_loss_usd_bn"] - none for k in singles)
    return effect_all - effect_sum


def second_round(configurations: dict[str, dict[str, float]]) -> float | None:
    """Institutions' equity loss with all channels over the loss with none, minus 1.

    The analogue of the ECB's second-round share (system-wide losses over first-round losses,
    minus 1): ``none`` keeps the shock's direct losses, ``all`` adds every contagion channel.
    None when there is no first-round loss to compare with.
    """
    first = configurations["none"]["institution_equity_loss_usd_bn"]
    if first <= 0:
        return None
    return configurations["all"]["institution_equity_loss_usd_bn"] / first - 1.0


def standard_error(values: np.ndarray) -> float:
    """Standard error of the mean over worlds (0 with one world)."""
    return float(np.std(values, ddof=1) / np.sqrt(values.size)) if values.size > 1 else 0.0


def all_but(channel: str) -> Any:
    """Every contagion channel of :class:`abm.channels.Channels` on except ``channel``."""
    from dataclasses import replace

    from abm.channels import Channels

    return replace(Channels(), **{channel: False})


def necessity(
    full: np.ndarray, without: dict[str, dict[str, np.ndarray]], effect_all: float
) -> list[dict[str, Any]]:
    """Loss each channel adds to the full system (``L(all) - L(all but k)``), largest first.

    Args:
        full: per-world total loss with every channel on (USD bn), (E,).
        without: channel -> per-world numbers of the run with that channel off.
        effect_all: the all-channel effect vs no channel (USD bn), for the shares.
    """
    rows = []
    for channel, run in without.items():
        drop = full - run["total_loss_usd_bn"]
        rows.append(
            {
                "channel": channel,
                "loss_added_usd_bn": float(drop.mean()),
                "loss_added_se_usd_bn": standard_error(drop),
                "share_of_all": float(drop.mean()) / effect_all if effect_all > 0 else None,
            }
        )
    return sorted(rows, key=lambda r: -r["loss_added_usd_bn"])


def preset_numbers(ablation: Any, without: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """One preset's ablation reduced to the document's numbers (losses in USD bn).

    Args:
        ablation: the :class:`experiments.evidence.Ablation` of :func:`ablation_configs`.
        without: channel -> per-world numbers with every channel on but that one.
    """
    summary = ablation.summary()
    configurations = summary["configurations"]
    singles = [c for c in ablation.runs if c not in ("none", "all")]
    per_world = interaction(ablation.runs, singles)
    none = ablation.runs["none"]["total_loss_usd_bn"]
    effects = {c: configurations[c]["effect_usd_bn"] for c in singles}
    effect_se = {
        c: standard_error(ablation.runs[c]["total_loss_usd_bn"] - none) for c in [*singles, "all"]
    }
    total = summary["sum_of_singles_usd_bn"]
    positive = sum(v for v in effects.values() if v > 0)
    acting = sorted((c for c in singles if effects[c] > 0), key=lambda c: -effects[c])
    return {
        "configurations": configurations,
        "effects_usd_bn": effects,
        "effect_se_usd_bn": effect_se,
        "sum_of_singles_usd_bn": total,
        "all_together_usd_bn": summary["all_together_usd_bn"],
        "interaction_usd_bn": float(per_world.mean()),
        "interaction_se_usd_bn": standard_error(per_world),
        "amplification": summary["amplification"] if total > 0 else None,
        "acting_alone": [
            {"channel": c, "effect_usd_bn": effects[c], "share_of_positive": effects[c] / positive}
            for c in acting
        ],
        "necessity": necessity(
            ablation.runs["all"]["total_loss_usd_bn"], without, summary["all_together_usd_bn"]
        ),
        "sum_of_singles_defaults": summary["sum_of_singles_defaults"],
        "all_together_defaults": summary["all_together_defaults"],
        "second_round_share": second_round(configurations),
    }


def preset_ablation(
    preset: str, worlds: int, steps: int, seed: int, backend: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One preset: every configuration of :func:`ablation_configs` and every ``all but k``.

    Returns:
        (the preset's numbers from :func:`preset_numbers`, its CSV rows).
    """
    from experiments.build import ablation_configs
    from experiments.evidence import run_ablation, simulate

    configs = ablation_configs()
    ablation = run_ablation(preset, configs, worlds=worlds, steps=steps, seed=seed, backend=backend)
    without = {
        c: simulate(
            preset, worlds=worlds, steps=steps, seed=seed, backend=backend, channels=all_but(c)
        )
        for c in configs
        if c not in ("none", "all")
    }
    result = preset_numbers(ablation, without)
    none = ablation.runs["none"]["total_loss_usd_bn"]
    rows = [
        {
            "preset": preset,
            "configuration": config,
            **{k: result["configurations"][config][k] for k in LOSS_COLUMNS},
            "effect_se_usd_bn": result["effect_se_usd_bn"].get(config, 0.0),
            "defaults": result["configurations"][config]["defaults"],
            "effect_defaults": result["configurations"][config]["effect_defaults"],
        }
        for config in configs
    ]
    for channel, run_off in without.items():
        loss = run_off["total_loss_usd_bn"]
        rows.append(
            {
                "preset": preset,
                "configuration": f"all_but_{channel}",
                **{k: float(np.mean(run_off[k])) for k in LOSS_COLUMNS if k != "effect_usd_bn"},
                "effect_usd_bn": float(np.mean(loss - none)),
                "effect_se_usd_bn": standard_error(loss - none),
                "defaults": None,
                "effect_defaults": None,
            }
        )
    return result, rows


def significance(result: dict[str, Any], z: float) -> int:
    """+1 super-additive, -1 sub-additive, 0 not distinguishable from additive at ``z`` SE."""
    value, se = result["interaction_usd_bn"], result["interaction_se_usd_bn"] or 0.0
    if value > z * se and value > 0:
        return 1
    if value < -z * se and value < 0:
        return -1
    return 0
