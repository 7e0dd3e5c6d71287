"""``powderkeg evidence``: the scenario table (and the channel ablation table) of the docs.

For every preset the command runs E worlds for N weeks (:func:`experiments.run.build_model`, the
same model, policy and shocks as ``powderkeg run``) and reduces each world to the headline numbers
of :data:`METRICS`: peak AI-bond spread widening, AI equity drawdown, defaults by family, bank
failures, the lowest stablecoin peg, fire-sale volume and retail losses. It writes

- ``--out`` (default ``docs/scenarios.md``): one row per preset, each cell "median [5%, 95%]" over
  worlds, with the exact command, date, seed, worlds, steps, version and git commit under it;
- beside it, ``<stem>.csv`` (one row per preset and world: the raw numbers) and ``<stem>.json``
  (the same, the run's record and, with ``--ablation``, the ablation per world).

``--ablation`` adds a second table for one preset (``--ablation-preset``, default
``ai_revenue_disappointment``): the model with no contagion channel, each channel alone
(:meth:`abm.channels.Channels.only`) and all of them. Every configuration runs the same worlds
(the same seeds, so the same shock draws); a channel's *effect* is the loss with it alone minus
the loss with none. The sum of single-channel effects is compared with the effect of all
channels together; their ratio (all / sum of singles) above 1 means the channels are
super-additive (they amplify each other). Loss = the institutions' equity loss (each firm, bank,
fund and stablecoin issuer's fall in equity, at most its starting equity) + retail wealth loss.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from experiments.cli import UsageError

DEFAULT_OUT = Path("docs/scenarios.md")
DEFAULT_ABLATION_PRESET = "ai_revenue_disappointment"
DEFAULTS = {"worlds": 100, "steps": 260, "seed": 0}
INSTITUTIONS = ("firm", "bank", "fund", "stablecoin")


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
)
#: Per-world numbers kept besides the table's (for the ablation and the raw data).
EXTRA = ("retail_loss_usd_bn", "institution_equity_loss_usd_bn", "total_loss_usd_bn")


# -- per-world numbers ------------------------------------------------------------------------


def world_metrics(series: Any, model: Any) -> dict[str, np.ndarray]:
    """Reduce one ensemble run to per-world numbers, each an (E,) array.

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
    for family in ("firm", "fund", "stablecoin", "retail"):
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
    return out


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
    from experiments.run import build_model, resolve_config

    config = resolve_config(preset, steps=steps, n_worlds=worlds, seed=seed, backend=backend)
    model = build_model(config, backend, channels=channels, policy_overrides=policy_overrides)
    recorder = Recorder()
    recorder.record(model)
    for _ in range(steps):
        model.step()
        recorder.record(model)
        if tick is not None:
            tick()
    return world_metrics(recorder.frame(), model)


# -- ablation ---------------------------------------------------------------------------------


def ablation_configs() -> tuple[str, ...]:
    """``none``, each channel alone (by name), then ``all``."""
    from abm.channels import Channels

    return ("none", *Channels.names(), "all")


def channels_of(config: str) -> Any:
    """The :class:`abm.channels.Channels` of an ablation configuration name."""
    from abm.channels import Channels

    if config == "all":
        return Channels()
    if config == "none":
        return Channels.only()
    return Channels.only(config)


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


def comparison(
    preset: str,
    spec: dict[str, Any],
    actual: dict[str, np.ndarray],
    counterfactual: dict[str, np.ndarray],
) -> dict[str, Any]:
    """How a preset's policy does against its counterfactual, world by world (same seeds).

    Returns the question, the metric's medians under both, and the shares of worlds in which
    the preset does better, the same, or worse (the worlds share their shocks, so each pair
    differs only by the policy).
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
        "share_better": float(np.mean((gain > 0) & ~tie)),
        "share_same": float(np.mean(tie)),
        "share_worse": float(np.mean((gain < 0) & ~tie)),
    }


def comparison_lines(items: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown bullet lines of the policy comparisons."""
    labels = {m.key: (m.label, m.fmt) for m in METRICS}
    lines = []
    for c in items:
        label, fmt = labels[c["metric"]]
        settings = ", ".join(f"{k} = {json.dumps(v)}" for k, v in c["policy"].items())
        lines.append(
            f"- **{c['question']}** {label}: {c['preset']} median {_fmt(fmt, c['median'])} "
            f"(mean {_fmt(fmt, c['mean'])}) against {_fmt(fmt, c['median_counterfactual'])} "
            f"(mean {_fmt(fmt, c['mean_counterfactual'])}) with {settings}; {c['better']} is "
            f"better. {c['preset']} does better in {c['share_better']:.0%} of worlds, the same "
            f"in {c['share_same']:.0%}, worse in {c['share_worse']:.0%}."
        )
    return lines


# -- tables -----------------------------------------------------------------------------------


def _fmt(fmt: str, x: float) -> str:
    """``fmt.format(x)``, with a negative zero ("-0", "-0.00") written without its sign."""
    text = fmt.format(x)
    return text[1:] if text.startswith("-") and not any(c in "123456789" for c in text) else text


def cell(values: np.ndarray, fmt: str) -> str:
    """``median [5%, 95%]`` over worlds, or ``n/a`` when no value is finite."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "n/a"
    med, lo, hi = np.percentile(v, [50, 5, 95])
    return f"{_fmt(fmt, med)} [{_fmt(fmt, lo)}, {_fmt(fmt, hi)}]"


def scenario_table(results: dict[str, dict[str, np.ndarray]]) -> str:
    """The Markdown scenario table: one row per preset, one column per :data:`METRICS`."""
    head = "| scenario | " + " | ".join(m.label for m in METRICS) + " |"
    rule = "| --- |" + " ---: |" * len(METRICS)
    rows = [
        f"| {preset} | " + " | ".join(cell(numbers[m.key], m.fmt) for m in METRICS) + " |"
        for preset, numbers in results.items()
    ]
    return "\n".join([head, rule, *rows])


def ablation_table(summary: dict[str, Any]) -> str:
    """The Markdown ablation table (means over worlds, USD bn) and its additivity lines."""

    def num(x: float, fmt: str = "{:,.0f}") -> str:
        return _fmt(fmt, x) if x is not None and math.isfinite(x) else "n/a"

    lines = [
        "| channels on | institutions' equity loss | retail loss | total loss | "
        "effect vs none | defaults |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in summary["configurations"].items():
        label = name if name in ("none", "all") else f"only {name}"
        lines.append(
            f"| {label} | {num(row['institution_equity_loss_usd_bn'])} | "
            f"{num(row['retail_loss_usd_bn'])} | {num(row['total_loss_usd_bn'])} | "
            f"{num(row.get('effect_usd_bn', float('nan')))} | {num(row['defaults'], '{:.1f}')} |"
        )
    if "amplification" in summary:
        lines += [
            "",
            f"- Sum of single-channel effects: {num(summary['sum_of_singles_usd_bn'])} USD bn "
            f"({num(summary['sum_of_singles_defaults'], '{:+.1f}')} defaults)",
            f"- All channels together: {num(summary['all_together_usd_bn'])} USD bn "
            f"({num(summary['all_together_defaults'], '{:+.1f}')} defaults)",
            f"- Amplification (all / sum of singles): "
            f"{num(summary['amplification'], '{:.2f}')}"
            + (
                " — super-additive"
                if summary["amplification"] > 1
                else " — not super-additive"
                if math.isfinite(summary["amplification"])
                else ""
            ),
        ]
    return "\n".join(lines)


# -- writing ----------------------------------------------------------------------------------


def provenance(argv: Sequence[str], *, worlds: int, steps: int, seed: int, backend: str) -> dict:
    """The command, date, settings, version and git commit of a generation."""
    import importlib.metadata

    from experiments.run import git_commit

    try:
        version = importlib.metadata.version("powderkeg")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {
        "command": " ".join(["powderkeg", *argv]),
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "worlds": worlds,
        "steps": steps,
        "seed": seed,
        "world_seeds": f"seed + world: {seed} to {seed + worlds - 1}",
        "backend": backend,
        "version": version,
        "git": git_commit(),
    }


def render_markdown(
    meta: dict[str, Any],
    results: dict[str, dict[str, np.ndarray]],
    ablation: dict[str, Any] | None,
    data_files: Sequence[str],
    comparisons: Sequence[dict[str, Any]] = (),
) -> str:
    """The whole Markdown file."""
    git = meta["git"]
    commit = git.get("commit") or "unknown"
    if git.get("dirty"):
        commit += " (with uncommitted changes)"
    lines = [
        "# Scenario evidence",
        "",
        "Generated by a command; do not edit by hand. Regenerate with:",
        "",
        "```bash",
        meta["command"],
        "```",
        "",
        f"- date (UTC): {meta['created_utc']}",
        f"- worlds: {meta['worlds']} per scenario, {meta['steps']} weeks, seed {meta['seed']} "
        f"(world w uses seed + w), backend {meta['backend']}",
        f"- powderkeg version: {meta['version']}, git commit: {commit}",
        f"- raw per-world numbers: {', '.join(data_files)}",
        "",
        "## Scenarios",
        "",
        "Each cell is the median over worlds with the 5% and 95% quantiles in brackets. Spread "
        "widening is the largest implied change of any listed AI issuer's bond spread at any "
        "week; drawdown is the largest fall of the AI equity index from its running peak; "
        "defaults and bank failures are counted at the end; the lowest bank CET1 is the lowest "
        "ratio of any bank still alive at any week; the peg low is the lowest value per "
        "token of any stablecoin at any week; fire-sale volume is the institutions' forced "
        "sales summed over all weeks (households' panic sales are not counted); retail "
        "losses are what households lost on what they own by the end, as shares of their "
        "starting wealth plus the saving they put in since (median cohort, and the mean of the "
        "tenth of cohorts that lost most).",
        "",
        scenario_table(results),
    ]
    if comparisons:
        lines += [
            "",
            "## Policy comparisons",
            "",
            "A preset with a `[compare]` table also runs its shocks under a counterfactual policy "
            "(the row named after it above), on the same worlds and seeds, so each pair of worlds "
            "differs only by the policy.",
            "",
            *comparison_lines(comparisons),
        ]
    if ablation is not None:
        lines += [
            "",
            f"## Channel ablation ({ablation['preset']})",
            "",
            "Means over the same worlds, USD bn at the end. Loss = institutions' equity loss "
            "(each firm, bank, fund and stablecoin issuer's fall in equity, at most its starting "
            "equity) + retail wealth loss; effect = loss minus the loss with no channel on; "
            "defaults count firms, funds, stablecoin issuers and banks. Amplification above 1 "
            "means the channels together do more than the sum of each alone.",
            "",
            ablation_table(ablation),
        ]
    return "\n".join(lines) + "\n"


def _records(results: dict[str, dict[str, np.ndarray]]) -> list[dict[str, Any]]:
    records = []
    for preset, numbers in results.items():
        n = len(next(iter(numbers.values())))
        for w in range(n):
            records.append(
                {"scenario": preset, "world": w, **{k: float(v[w]) for k, v in numbers.items()}}
            )
    return records


def write_evidence(
    out: Path,
    meta: dict[str, Any],
    results: dict[str, dict[str, np.ndarray]],
    ablation: Ablation | None = None,
    comparisons: Sequence[dict[str, Any]] = (),
) -> list[Path]:
    """Write ``out`` (Markdown), ``<stem>.csv`` and ``<stem>.json``; each replaced atomically.

    Raises:
        UsageError: a file could not be written.
    """
    import pandas as pd

    from experiments.run import json_safe, write_atomically

    csv_path, json_path = out.with_suffix(".csv"), out.with_suffix(".json")
    summary = ablation.summary() if ablation is not None else None
    records = _records(results)
    document = {
        "schema": "powderkeg.evidence/1",
        **meta,
        "metrics": {m.key: m.label for m in METRICS},
        "per_world": records,
        "comparisons": list(comparisons),
    }
    if ablation is not None:
        document["ablation"] = {
            "summary": summary,
            "per_world": {name: run for name, run in ablation.runs.items()},
        }
    markdown = render_markdown(meta, results, summary, [csv_path.name, json_path.name], comparisons)
    writers: dict[Path, Callable[[Path], None]] = {
        out: lambda p: p.write_text(markdown),
        csv_path: lambda p: pd.DataFrame.from_records(records).to_csv(p, index=False),
        json_path: lambda p: p.write_text(
            json.dumps(json_safe(document), indent=2, allow_nan=False) + "\n"
        ),
    }
    try:
        write_atomically(writers)
    except OSError as err:
        raise UsageError(f"argument --out: cannot write {out} ({err.strerror or err})") from None
    return list(writers)


# -- command ----------------------------------------------------------------------------------


def parse_presets(text: str | None, flag: str = "--presets") -> list[str]:
    """``a,b,...`` to preset names (all presets when None).

    Raises:
        UsageError: an empty list, an unknown or repeated name.
    """
    from experiments.scenarios import preset_names

    known = preset_names()
    if text is None:
        return list(known)
    names = [n.strip() for n in text.split(",")]
    if not any(names) or "" in names:
        raise UsageError(
            f"argument {flag}: give comma-separated preset names from {', '.join(known)}; "
            f"got {text!r}"
        )
    for name in names:
        if name not in known:
            raise UsageError(
                f"argument {flag}: unknown preset {name!r}; choose from {', '.join(known)}"
            )
    if len(set(names)) != len(names):
        raise UsageError(f"argument {flag}: a preset is named twice in {text!r}")
    return names


def add_arguments(parser: Any) -> None:
    """The flags of ``powderkeg evidence``."""
    from experiments.cli import add_backend_argument
    from experiments.run import flag_type

    parser.add_argument(
        "--worlds",
        type=flag_type("n_worlds"),
        default=DEFAULTS["worlds"],
        metavar="E",
        help="worlds per scenario (default: %(default)s)",
    )
    parser.add_argument(
        "--steps",
        type=flag_type("steps"),
        default=DEFAULTS["steps"],
        metavar="N",
        help="weeks per world (default: %(default)s, five years)",
    )
    parser.add_argument(
        "--seed",
        type=flag_type("seed"),
        default=DEFAULTS["seed"],
        metavar="S",
        help="world w draws from seed S + w, the same in every scenario (default: %(default)s)",
    )
    parser.add_argument(
        "--presets",
        default=None,
        metavar="A,B,...",
        help="comma-separated presets (default: all; powderkeg scenarios lists them)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="FILE.md",
        help="the Markdown file; .csv and .json of the same stem go beside it "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="also run the channel ablation (none, each channel alone, all) for one preset",
    )
    parser.add_argument(
        "--ablation-preset",
        default=DEFAULT_ABLATION_PRESET,
        metavar="NAME",
        help="the preset of the ablation (default: %(default)s)",
    )
    add_backend_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def command(args: Any) -> int:
    """``powderkeg evidence``: check every input, run, write the files, print the table."""
    from tqdm import tqdm

    from experiments.cli import check_backend, writable_directory

    presets = parse_presets(args.presets)
    if args.ablation:
        if len(parse_presets(args.ablation_preset, "--ablation-preset")) != 1:
            raise UsageError("argument --ablation-preset: give one preset name")
    if args.seed + args.worlds - 1 >= 2**64:
        raise UsageError("argument --seed: seed + worlds - 1 must stay below 2**64")
    out = args.out.expanduser()
    if out.suffix != ".md":
        raise UsageError(f"argument --out: give a Markdown file ending in .md; got {str(out)!r}")
    backend = check_backend(args.backend)
    writable_directory(out.parent if str(out.parent) else Path("."), "--out")

    from experiments.scenarios import load_preset

    configs = ablation_configs() if args.ablation else ()
    specs = {p: load_preset(p).compare for p in presets}
    runs = len(presets) + sum(spec is not None for spec in specs.values())
    total = args.steps * (runs + len(configs))
    bar = tqdm(
        total=total,
        desc=f"evidence ({args.worlds} world{'s' * (args.worlds > 1)})",
        unit="week",
        file=sys.stderr,
        disable=args.no_progress,
        mininterval=0.5,
    )
    results: dict[str, dict[str, np.ndarray]] = {}
    ablation = None
    settings = {"worlds": args.worlds, "steps": args.steps, "seed": args.seed, "backend": backend}
    comparisons: list[dict[str, Any]] = []
    with bar:
        for preset in presets:
            bar.set_postfix_str(preset)
            results[preset] = simulate(preset, **settings, tick=lambda: bar.update(1))
            spec = specs[preset]
            if spec is not None:
                name = counterfactual_name(preset, spec)
                bar.set_postfix_str(name)
                results[name] = simulate(
                    preset, **settings, policy_overrides=spec["policy"], tick=lambda: bar.update(1)
                )
                comparisons.append(comparison(preset, spec, results[preset], results[name]))
        if configs:
            bar.set_postfix_str(f"ablation {args.ablation_preset}")
            ablation = run_ablation(
                args.ablation_preset, configs, **settings, tick=lambda: bar.update(1)
            )
    meta = provenance(args.argv, **settings)
    written = write_evidence(out, meta, results, ablation, comparisons)
    print(scenario_table(results))
    for line in comparison_lines(comparisons):
        print(line)
    if ablation is not None:
        print()
        print(ablation_table(ablation.summary()))
    print(f"\nwrote {', '.join(str(p) for p in written)}")
    return 0


__all__ = [
    "METRICS",
    "Ablation",
    "ablation_configs",
    "ablation_table",
    "cell",
    "command",
    "comparison",
    "run_ablation",
    "scenario_table",
    "simulate",
    "world_metrics",
    "write_evidence",
]
