"""Scenario evidence: presets run over many worlds, the channel ablation and policy comparisons.

For a preset, :func:`simulate` runs E worlds for N weeks (:func:`experiments.run.build_run_model`,
the same model, policy and shocks as ``powderkeg run``) and reduces each world to the headline
numbers of :data:`experiments.metrics.METRICS`: peak AI-bond spread widening, AI equity drawdown,
defaults by family, bank failures, the lowest stablecoin peg, fire-sale volume and retail losses.

The channel ablation (:func:`run_ablation`) runs one preset with no contagion channel, each
channel alone (:meth:`abm.channels.Channels.only`) and all of them. Every configuration runs the
same worlds (the same seeds, so the same shock draws); a channel's *effect* is the loss with it
alone minus the loss with none. The sum of single-channel effects is compared with the effect of
all channels together; their ratio (all / sum of singles) above 1 means the channels are
super-additive (they amplify each other). Loss = the institutions' equity loss (each firm, bank,
fund and stablecoin issuer's fall in equity, at most its starting equity) + retail wealth loss.

A preset with a ``[compare]`` table is also run under each of its counterfactual policies on the
same worlds (:func:`comparison`): world w of the preset and world w of the counterfactual share
their seed and shocks, so the difference of their outcomes is the policy's alone. The comparison
reports the mean of these paired differences (preset − counterfactual) with a 95% t-interval
(:func:`paired_difference`) besides the shares of worlds where the preset does better, the same
or worse. ``powderkeg evidence`` (:mod:`experiments.evidence_command`) runs all of this;
:mod:`experiments.evidence_docs` writes it up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from experiments.build import channels_of
from experiments.metrics import world_metrics
from experiments.run import build_run_model, resolve_config

# -- running ----------------------------------------------------------------------------------


def simulate(
    preset: str,
    *,
    worlds: int,
    steps: int,
    seed: int,
    backend: str,
    channels: Any = None,
    policy_overrides: dict[str, Any] | None = None,
    tick: Callable[[], None] | None = None,
) -> dict[str, np.ndarray]:
    """Run ``preset`` for ``worlds`` worlds and ``steps`` weeks; per-world numbers.

    ``policy_overrides`` replaces keys of the preset's policy (its ``[compare]``
    counterfactual); ``tick`` is called after every week (the progress bar).
    """
    from abm.reporting import Recorder

    config = resolve_config(preset, steps=steps, n_worlds=worlds, seed=seed, backend=backend)
    model = build_run_model(config, backend, channels=channels, policy_overrides=policy_overrides)
    recorder = Recorder()
    recorder.record(model)
    for _ in range(steps):
        model.step()
        recorder.record(model)
        if tick is not None:
            tick()
    return world_metrics(recorder.frame(), model)


# -- ablation ---------------------------------------------------------------------------------


@dataclass
class Ablation:
    """Per-world numbers of one preset under each channel configuration."""

    preset: str
    runs: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Mean losses per configuration, effects against ``none``, additivity and its ratio.

        Effects are means over worlds of per-world differences (every configuration runs the
        same worlds), so the sum of the single-channel means is the mean of their sums.
        """
        rows: dict[str, dict[str, float]] = {}
        none = self.runs.get("none")
        for name, run in self.runs.items():
            row = {
                "institution_equity_loss_usd_bn": float(
                    np.mean(run["institution_equity_loss_usd_bn"])
                ),
                "retail_loss_usd_bn": float(np.mean(run["retail_loss_usd_bn"])),
                "total_loss_usd_bn": float(np.mean(run["total_loss_usd_bn"])),
                "defaults": float(np.mean(_defaults(run))),
            }
            if none is not None:
                row["effect_usd_bn"] = float(
                    np.mean(run["total_loss_usd_bn"] - none["total_loss_usd_bn"])
                )
                row["effect_defaults"] = float(np.mean(_defaults(run) - _defaults(none)))
            rows[name] = row
        singles = [n for n in self.runs if n not in ("none", "all")]
        result: dict[str, Any] = {"preset": self.preset, "configurations": rows}
        if none is not None and "all" in self.runs and singles:
            total = sum(rows[n]["effect_usd_bn"] for n in singles)
            together = rows["all"]["effect_usd_bn"]
            result["sum_of_singles_usd_bn"] = total
            result["all_together_usd_bn"] = together
            result["amplification"] = together / total if total != 0 else float("nan")
            d_total = sum(rows[n]["effect_defaults"] for n in singles)
            result["sum_of_singles_defaults"] = d_total
            result["all_together_defaults"] = rows["all"]["effect_defaults"]
        return result


def _defaults(run: dict[str, np.ndarray]) -> np.ndarray:
    return sum(
        run[k] for k in ("defaults_firm", "defaults_fund", "defaults_stablecoin", "bank_failures")
    )


def run_ablation(
    preset: str,
    configs: Sequence[str],
    *,
    worlds: int,
    steps: int,
    seed: int,
    backend: str,
    tick: Callable[[], None] | None = None,
) -> Ablation:
    """Run ``preset`` once per configuration in ``configs`` (see :func:`ablation_configs`)."""
    ablation = Ablation(preset)
    for config in configs:
        ablation.runs[config] = simulate(
            preset,
            worlds=worlds,
            steps=steps,
            seed=seed,
            backend=backend,
            channels=channels_of(config),
            tick=tick,
        )
    return ablation


# -- policy comparisons -----------------------------------------------------------------------


def counterfactual_name(preset: str, spec: dict[str, Any]) -> str:
    """The scenario-table row of a preset's ``[compare]`` counterfactual."""
    return f"{preset}: {spec['label']}"


def paired_difference(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> dict[str, Any]:
    """Mean of the paired differences ``a − b`` over worlds, with its t-interval.

    The worlds are pairs (same seed, same shocks), so the differences ``d_w = a_w − b_w`` are
    independent draws of the policy's effect; the interval is the Student-t one,
    ``mean(d) ± t_{(1+level)/2, n−1} · sd(d) / √n`` with ``sd`` the sample standard deviation
    (n − 1 in the denominator) over the ``n`` worlds where both are finite (Student 1908; any
    statistics text, e.g. Rice, *Mathematical Statistics and Data Analysis*, 3rd ed., §11.3.1).
    With fewer than two such worlds the interval is NaN.

    Returns:
        ``difference_mean``, ``difference_low``, ``difference_high``, ``worlds`` (n) and
        ``no_difference`` (every finite pair is exactly equal).
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    d = a[both] - b[both]
    n = int(d.size)
    mean = float(np.mean(d)) if n else float("nan")
    if n >= 2:
        half = float(stats.t.ppf((1.0 + level) / 2.0, n - 1) * np.std(d, ddof=1) / np.sqrt(n))
        low, high = mean - half, mean + half
    else:
        low = high = float("nan")
    return {
        "difference_mean": mean,
        "difference_low": low,
        "difference_high": high,
        "worlds": n,
        "no_difference": bool(n > 0 and np.all(d == 0.0)),
    }


def comparison(
    preset: str,
    spec: dict[str, Any],
    actual: dict[str, np.ndarray],
    counterfactual: dict[str, np.ndarray],
) -> dict[str, Any]:
    """How a preset's policy does against one counterfactual, world by world (same seeds).

    Returns the question, the metric's medians and means under both, the paired difference
    (preset − counterfactual: its mean and 95% t-interval, :func:`paired_difference`), and the
    shares of worlds in which the preset does better, the same, or worse (the worlds share
    their shocks, so each pair differs only by the policy).
    """
    metric = spec["metric"]
    a, b = np.asarray(actual[metric], float), np.asarray(counterfactual[metric], float)
    gain = (b - a) if spec["better"] == "lower" else (a - b)
    tie = np.isclose(a, b, rtol=1e-9, atol=1e-9)
    return {
        "preset": preset,
        "counterfactual": counterfactual_name(preset, spec),
        "question": spec["question"],
        "policy": spec["policy"],
        "metric": metric,
        "better": spec["better"],
        "median": float(np.median(a)),
        "median_counterfactual": float(np.median(b)),
        "mean": float(np.mean(a)),
        "mean_counterfactual": float(np.mean(b)),
        **paired_difference(a, b),
        "share_better": float(np.mean((gain > 0) & ~tie)),
        "share_same": float(np.mean(tie)),
        "share_worse": float(np.mean((gain < 0) & ~tie)),
    }


__all__ = [
    "Ablation",
    "comparison",
    "counterfactual_name",
    "paired_difference",
    "run_ablation",
    "simulate",
]
