"""The documents of ``powderkeg evidence``: the scenario table, the ablation table and their data.

:func:`write_evidence` writes

- the Markdown file (default ``docs/scenarios.md``): one row per preset, each cell
  "median [5%, 95%]" over worlds (:func:`cell`), the policy comparisons, and the ablation table,
  with the exact command, date, seed, worlds, steps, version and git commit under the title;
- beside it, ``<stem>.csv`` (one row per preset and world: the raw numbers) and ``<stem>.json``
  (the same, the run's record and, with ``--ablation``, the ablation per world).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from experiments.evidence import Ablation
from experiments.files import git_commit, json_safe, write_atomically
from experiments.metrics import METRICS
from experiments.usage import UsageError


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


__all__ = [
    "ablation_table",
    "cell",
    "comparison_lines",
    "provenance",
    "render_markdown",
    "scenario_table",
    "write_evidence",
]
