"""The text summary ``powderkeg run`` prints: headline numbers at the end of a run.

:func:`summary_numbers` reads the last week of the series (per world), the convergence record
of every clearing and the worlds that stopped because their numbers became non-finite (left out
of the headline numbers, listed with their week and cause); :func:`format_summary` prints them as
a table, the median and the 5% and 95% quantiles over worlds when there are several, followed by
the accounting gap and the events.
The same numbers go into the run's manifest (:func:`experiments.run_outputs.manifest`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from abm.vocabulary import FAMILY_NAMES
from experiments.run import OUTPUTS, RunResult

#: one label for the retail loss everywhere (the series ``retail_loss_share``, abm.reporting)
RETAIL_LOSS_LABEL = "Retail loss (% of start wealth plus saving; negative = gain)"


def summary_numbers(result: RunResult) -> dict[str, Any]:
    """Headline numbers at the last step, per world, and the run's convergence record."""
    import numpy as np

    series = result.series
    stopped = series.loc[series["world_stopped"].astype(bool), ["step", "world"]]
    first_stop = stopped.groupby("world")["step"].min()
    reasons = getattr(result, "stop_reasons", {})
    broken = series["world"].isin(first_stop.index)
    last = series[series["step"] == series["step"].max()].sort_values("world")
    last = last.mask(last["world"].isin(first_stop.index)).assign(world=last["world"])
    cleared = series[(series["step"] > 0) & ~broken]  # a stopped world's clearings say nothing
    failed = cleared.loc[~cleared["clearing_converged"].astype(bool), ["step", "world"]]
    numbers: dict[str, Any] = {
        "ai_equity_index": last["ai_equity_index"].to_numpy(float),
        "crypto_price": last["crypto_price"].to_numpy(float),
        "retail_loss_share": last["retail_loss_share"].to_numpy(float),
        "retail_loss_usd_bn": last["retail_loss_usd_bn"].to_numpy(float),
        "retail_loss_share_worst_decile": last["retail_loss_share_worst_decile"].to_numpy(float),
        "bank_cet1_min": last["bank_cet1_min"].to_numpy(float),
        "defaults": {
            f: last[f"defaults_{f}"].to_numpy(float)
            for f in FAMILY_NAMES
            if f"defaults_{f}" in last
        },
        "clearings": len(cleared),
        "not_converged": [{"step": int(s), "world": int(w)} for s, w in failed.to_numpy(np.int64)],
    }
    numbers["stopped"] = [
        {"world": int(w), "week": int(week), "cause": reasons.get(int(w), "non-finite numbers")}
        for w, week in first_stop.items()
    ]
    numbers["converged"] = not numbers["not_converged"] and not numbers["stopped"]
    return numbers


def _stats(values: Any) -> tuple[float, float, float]:
    import numpy as np

    v = np.asarray(values, dtype=float)
    with np.errstate(all="ignore"):
        return (
            float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan"),
            float(np.nanpercentile(v, 5)) if np.isfinite(v).any() else float("nan"),
            float(np.nanpercentile(v, 95)) if np.isfinite(v).any() else float("nan"),
        )


def format_summary(result: RunResult, out: Path) -> str:
    """The table ``powderkeg run`` prints: headline numbers, median and 5–95% over worlds."""
    numbers = summary_numbers(result)
    cfg = result.config
    many = cfg.n_worlds > 1
    rows: list[tuple[str, Any, str]] = [
        ("AI equity index (start 1.00)", numbers["ai_equity_index"], "{:.2f}"),
        ("Crypto price (start 1.00)", numbers["crypto_price"], "{:.2f}"),
    ]
    for family, values in numbers["defaults"].items():
        rows.append((f"Defaults: {FAMILY_NAMES[family]}", values, "{:.0f}"))
    rows += [
        (RETAIL_LOSS_LABEL, 100 * numbers["retail_loss_share"], "{:.2f}"),
        ("Retail loss (USD bn; negative = gain)", numbers["retail_loss_usd_bn"], "{:,.0f}"),
        (
            "Retail loss, worst-hit tenth (%)",
            100 * numbers["retail_loss_share_worst_decile"],
            "{:.2f}",
        ),
        ("Bank CET1 ratio, lowest bank (%)", 100 * numbers["bank_cet1_min"], "{:.1f}"),
    ]
    width = max(len(r[0]) for r in rows) + 2
    head = (
        f"powderkeg run · scenario {cfg.scenario} · {cfg.steps} weeks · {cfg.n_worlds} "
        f"world{'s' * many} · seed {cfg.seed} · {cfg.n_cohorts} cohorts · "
        f"backend {result.backend} · {result.wall_time_s:.1f} s"
    )
    why = f"backend: {result.backend_reason}" if result.backend_reason else None
    lines = [head, *([why] if why else []), ""]
    if many:
        lines.append(f"{'at the end':<{width}}{'median':>10}{'5%':>10}{'95%':>10}")
    else:
        lines.append(f"{'at the end':<{width}}{'value':>10}")
    for label, values, fmt in rows:
        med, lo, hi = _stats(values)
        cells = [med, lo, hi] if many else [med]
        lines.append(f"{label:<{width}}" + "".join(f"{fmt.format(c):>10}" for c in cells))
    failed = len(numbers["not_converged"])
    if numbers["converged"]:
        verdict = f"yes (all {numbers['clearings']:,} clearings)"
    elif failed:
        verdict = f"NO ({failed:,} of {numbers['clearings']:,} clearings did not converge)"
    else:
        verdict = f"NO ({len(numbers['stopped'])} world(s) stopped, below)"
    lines.append(f"{'Clearing converged':<{width}}{verdict}")
    if numbers["stopped"]:
        stops = "; ".join(
            f"world {s['world']} from week {s['week']} ({s['cause']})" for s in numbers["stopped"]
        )
        lines.append(
            f"{'Worlds stopped':<{width}}{len(numbers['stopped'])} of {cfg.n_worlds}: {stops}; "
            "their numbers are left out above"
        )
    gap = max((max(abs(x) for x in v) for v in result.accounting_gap.values()), default=0.0)
    lines.append(f"{'Accounting gap, largest (USD bn)':<{width}}{gap:.1e}")
    counts = result.events["event"].value_counts() if len(result.events) else {}
    described = ", ".join(f"{k} {v}" for k, v in dict(counts).items()) or "none"
    lines += ["", f"events: {len(result.events):,} ({described})"]
    lines.append(f"wrote {out}/: {', '.join(OUTPUTS)}")
    return "\n".join(lines)


__all__ = ["RETAIL_LOSS_LABEL", "format_summary", "summary_numbers"]
