"""``powderkeg report RESULTS_DIR``: figures and one HTML page from a sweep's Parquet results.

Everything is read back from the results directory (:class:`experiments.sweeps.store.ResultsDir`:
``manifest.json``, ``worlds/`` and ``series/``), never from memory, so a report can be made on
another machine, of a sweep still running, or of one resumed after a crash. It writes under
``--out`` (default ``RESULTS_DIR/report``), each file replaced atomically:

- ``fans.png``: fan charts over worlds (median, 5–95%) of the kept series for up to six points
  (those with the lowest and highest outcome, and some between);
- ``heatmap_<x>__<y>.png`` for pairs of swept parameters: the outcome (``--metric``; by default
  ``banking_crisis``, so the cell is the probability that at least one bank fails) averaged over
  worlds and the other parameters; sampled designs get a scatter map instead; a sweep of one
  parameter gets ``effect_<x>.png``;
- ``tornado.png`` and tables of Sobol' (S1, ST) or Morris (mu*, sigma) indices
  (:mod:`experiments.sensitivity`) for ``sobol`` and ``morris`` designs, once every point is done;
- the ablation table of the contagion channels (:class:`experiments.evidence.Ablation`: losses
  with no channel, each alone and all, and whether they amplify each other) when the sweep
  varies ``channels``;
- ``points.csv`` (one row per point: its values, means over worlds) and ``report.html``.

A point is left out of every figure, table and mean when one of its worlds stopped (a
``world_stopped`` column that is true: that world's state became non-finite, so its numbers are
not results; no such column means no world stopped); the page lists those points, and the
points the manifest records as failed, so a broken point is never counted as a banking crisis
or as converged.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from experiments.files import write_atomically
from experiments.report_html import ablation_html, figure_html, render_html, table_html
from experiments.sweeps.plots import label_value
from experiments.usage import UsageError

DEFAULT_METRIC = "banking_crisis"
#: Outcomes summarised per point in the HTML table (besides ``--metric``).
HEADLINE = (
    "banking_crisis",
    "bank_failures",
    "bank_cet1_low",
    "defaults_firm",
    "ai_equity_drawdown_pct",
    "peak_spread_bp",
    "total_loss_usd_bn",
    "retail_loss_median_pct",
)
#: Columns of the worlds table that are not outcomes.
KEYS = ("point", "world", "seed")
MAX_PAIRS = 3
MAX_FAN_POINTS = 6


def outcome_columns(worlds: Any, parameters: list[str]) -> list[str]:
    """Numeric or boolean columns of the worlds table that are outcomes (not keys, not inputs)."""
    return [
        c
        for c in worlds.columns
        if c not in KEYS
        and c not in parameters
        and (worlds[c].dtype.kind in "fiub")
        and c != "clearing_converged"
    ]


def drop_stopped(worlds: Any, series: Any | None = None) -> tuple[Any, Any, list[int]]:
    """``worlds`` and ``series`` without the points one of whose worlds stopped, and those points.

    A world stopped where its ``world_stopped`` (in either table) is true; without the column
    no world stopped. The column itself is dropped from what is returned.
    """
    stopped: set[int] = set()
    for frame in (worlds, series):
        if frame is not None and "world_stopped" in frame.columns:
            flags = frame["world_stopped"].fillna(False).astype(bool)
            stopped |= {int(p) for p in frame.loc[flags, "point"].unique()}
    points = sorted(stopped)

    def keep(frame: Any) -> Any:
        if frame is None:
            return None
        frame = frame[~frame["point"].isin(points)] if points else frame
        return frame.drop(columns=["world_stopped"], errors="ignore").reset_index(drop=True)

    return keep(worlds), keep(series), points


def point_table(worlds: Any, parameters: list[str], outcomes: list[str]) -> Any:
    """One row per point: its parameter values and the mean over its worlds of each outcome."""
    grouped = worlds.groupby("point", sort=True)
    table = grouped[parameters].first() if parameters else grouped[[]].first()
    means = grouped[outcomes].mean(numeric_only=False).astype(float)
    table = table.join(means)
    table["worlds"] = grouped.size()
    table["clearing_converged"] = grouped["clearing_converged"].all()
    return table


def _fan_points(points: Any, metric: str, swept: list[str]) -> dict[int, str]:
    """Up to :data:`MAX_FAN_POINTS` points, lowest to highest ``metric``, with legend labels.

    A label is the point's number and the values it sets, in words with their units.
    """
    from experiments.columns import describe
    from experiments.sweeps.plots import shown_value

    order = points[metric].sort_values(kind="stable").index.to_list()
    if len(order) > MAX_FAN_POINTS:
        picks = np.linspace(0, len(order) - 1, MAX_FAN_POINTS).round().astype(int)
        order = [order[i] for i in sorted(set(picks))]
    labels = {}
    for point in sorted(order):
        values = "; ".join(
            f"{describe(p).title} {shown_value(p, points.at[point, p])}" for p in swept
        )
        labels[int(point)] = f"point {point}" + (f": {values}" if values else "")
    return labels


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in name)


def _maps(
    worlds: Any, points: Any, swept: list[str], metric: str, kind: str, probability: bool
) -> list[tuple[str, Callable[[Path], None], str]]:
    """(file name, writer, caption) of the heat maps, scatter maps or effect line."""
    from experiments.columns import describe
    from experiments.sweeps import plots

    varied = [p for p in swept if worlds[p].nunique(dropna=False) > 1]
    figures: list[tuple[str, Callable[[Path], None], str]] = []
    outcome = describe(metric, "outcome").label
    title = describe(metric, "outcome").title
    mean_of = title if probability else f"{title}, mean over worlds"  # a share is that mean
    if len(varied) == 1:
        x = varied[0]
        name = f"effect_{_safe(x)}.png"
        words = f"{outcome} by {describe(x).title}"
        figures.append(
            (
                name,
                lambda p, x=x, t=words: plots.effect_line(worlds, x, metric, p, title=t),
                f"{outcome} against {describe(x).label}: mean over worlds and 5–95% range.",
            )
        )
    pairs = [(x, y) for i, x in enumerate(varied) for y in varied[i + 1 :]][:MAX_PAIRS]
    for x, y in pairs:
        name = f"heatmap_{_safe(x)}__{_safe(y)}.png"
        others = [p for p in varied if p not in (x, y)]
        note = f", averaged over {', '.join(describe(o).title for o in others)}" if others else ""
        by = f"by {describe(x).label} and {describe(y).label}"
        if kind == "grid":
            table = worlds.pivot_table(
                index=y, columns=x, values=metric, aggfunc="mean", dropna=False
            )
            title = f"{mean_of}{note}"
            figures.append(
                (
                    name,
                    lambda p, t=table, x=x, y=y, title=title: plots.heat_map(
                        t.astype(float), x, y, metric, p, title=title, probability=probability
                    ),
                    f"{'' if probability else 'Mean over worlds of '}{outcome}{note}, {by}.",
                )
            )
        else:
            figures.append(
                (
                    name,
                    lambda p, x=x, y=y: plots.scatter_map(
                        points,
                        x,
                        y,
                        metric,
                        p,
                        title=f"{mean_of}, per point",
                        probability=probability,
                    ),
                    f"Each point of the {kind} design at its {describe(x).label} and "
                    f"{describe(y).label}, coloured by its mean over worlds of {outcome}.",
                )
            )
    return figures


def label_of(column: str, parameters: list[str]) -> str:
    """A points-table column in words with its unit (parameters, then outcomes)."""
    from experiments.columns import describe

    if column == "worlds":
        return "Worlds"
    return describe(column, "series" if column in parameters else "outcome").label


def shown_table(points: Any, parameters: list[str]) -> Any:
    """``points`` in the units figures show: shares as %, money in USD bn."""
    from experiments.columns import describe

    shown = points.copy()
    for column in shown.columns:
        info = describe(column, "series" if column in parameters else "outcome")
        if info.scale != 1.0 and shown[column].dtype.kind in "fiu":
            shown[column] = shown[column] * info.scale
    return shown


def sensitivity_tables(manifest: dict[str, Any], points: Any, outcomes: list[str]) -> dict:
    """Sobol' or Morris indices of each outcome (a DataFrame each), or {} when not applicable."""
    from experiments.sensitivity import ANALYSED, analyze

    plan = manifest["plan"]
    design = plan["sweep"]["design"]
    problem = plan.get("problem")
    if design["kind"] not in ANALYSED or problem is None:
        return {}
    if len(points) != len(plan["points"]):
        return {}
    x = points[problem["names"]].to_numpy(dtype=float)
    tables = {}
    for metric in outcomes:
        y = points[metric].to_numpy(dtype=float)
        if not np.isfinite(y).all():
            continue
        tables[metric] = analyze(
            design["kind"],
            problem,
            x,
            y,
            second_order=design.get("second_order", False),
            levels=design.get("levels", 4),
        )
    return tables


def ablation_summaries(worlds: Any, swept: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The channel ablation (:class:`experiments.evidence.Ablation`) per setting of the others."""
    from experiments.evidence import Ablation

    if "channels" not in swept:
        return []
    others = [p for p in swept if p != "channels" and worlds[p].nunique(dropna=False) > 1]
    groups = worlds.groupby(others, dropna=False, sort=True) if others else [((), worlds)]
    summaries = []
    for key, frame in groups:
        ablation = Ablation(preset="sweep")
        for config, rows in frame.groupby("channels", sort=False):
            rows = rows.sort_values("world")
            ablation.runs[str(config)] = {
                c: rows[c].to_numpy(float) for c in rows.columns if rows[c].dtype.kind in "fiub"
            }
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{p} = {label_value(v)}" for p, v in zip(others, key, strict=True))
        summaries.append((label or "all points", ablation.summary()))
    return summaries


def make_report(results: Path, out: Path, *, metric: str | None = None) -> Path:
    """Read a sweep's results and write the figures and ``report.html`` under ``out``.

    Raises:
        UsageError: not a sweep directory, no finished point yet, or an unknown ``metric``.
    """
    from experiments.columns import describe
    from experiments.sweeps import plots
    from experiments.sweeps.store import ResultsDir

    store = ResultsDir(results)
    manifest = store.read_manifest()
    worlds, series, stopped = drop_stopped(store.read_worlds(), store.read_series())
    if worlds.empty:
        raise UsageError(
            f"argument RESULTS_DIR: {results} has no finished point yet"
            + (f" (points {stopped[:10]} stopped: non-finite state)" if stopped else "")
        )
    swept = list(manifest["plan"]["swept"])
    parameters = [p for p in manifest["parameters"] if p in worlds.columns]
    outcomes = outcome_columns(worlds, parameters)
    metric = metric or DEFAULT_METRIC
    if metric not in outcomes:
        raise UsageError(
            f"argument --metric: unknown outcome {metric!r}; allowed: " + ", ".join(outcomes)
        )
    probability = worlds[metric].dtype.kind == "b"  # a share of worlds
    worlds[outcomes] = worlds[outcomes].astype(float)
    points = point_table(worlds, parameters, outcomes)
    kind = manifest["plan"]["sweep"]["design"]["kind"]
    writers: dict[Path, Callable[[Path], None]] = {}
    sections: list[tuple[str, str]] = []

    failed = {str(k): str(v) for k, v in (manifest.get("failed") or {}).items()}
    failed.update({str(p): "a world's state became non-finite" for p in stopped})
    if failed:
        items = sorted(failed.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else -1)
        sections.append(
            (
                "Failed points",
                "<p class='note'>Left out of every figure and table below (never counted as "
                "a crisis or as converged):</p><ul>"
                + "".join(
                    f"<li>point {html.escape(k)}: {html.escape(v)}</li>" for k, v in items[:100]
                )
                + "</ul>",
            )
        )
    kept = [c for c in series.columns if c not in ("point", "world", "step")]
    if kept and len(series):
        chosen = _fan_points(points, metric, swept)
        writers[out / "fans.png"] = lambda p: plots.fan_charts(
            series, chosen, kept, p, title=f"{manifest['name']}: fan charts"
        )
        sections.append(
            (
                "Fan charts over worlds",
                figure_html(
                    "fans.png",
                    (
                        f"Points {', '.join(map(str, chosen))}: lowest to highest mean over "
                        f"worlds of {describe(metric, 'outcome').label}, and some between."
                    ),
                ),
            )
        )
    maps = _maps(worlds, points, swept, metric, kind, probability)
    if maps:
        for name, write, _ in maps:
            writers[out / name] = write
        note = ""
        if worlds[metric].nunique() == 1:
            info = describe(metric, "outcome")
            value = f"{worlds[metric].iloc[0] * info.scale:g} {info.display_unit}"
            note = (
                f"<p class='note'>{html.escape(info.title)} ({html.escape(metric)}) is "
                f"{html.escape(value)} in every "
                "world of every point, so these maps are flat"
                + (
                    "; bank_cet1_low (the lowest CET1 ratio any bank reached) shows how close "
                    "the banks came: powderkeg report DIR --metric bank_cet1_low"
                    if metric == "banking_crisis" and "bank_cet1_low" in outcomes
                    else ""
                )
                + ".</p>"
            )
        sections.append(
            (
                "Outcome over the parameters",
                note + "\n".join(figure_html(name, caption) for name, _, caption in maps),
            )
        )
    tables = sensitivity_tables(
        manifest, points, [metric, *[o for o in HEADLINE if o != metric and o in outcomes]]
    )
    if tables:
        from experiments.sensitivity import ranking_column

        rank = ranking_column(kind)
        error = "ST_conf" if kind == "sobol" else "mu_star_conf"
        if metric in tables:
            outcome = describe(metric, "outcome").label
            writers[out / "tornado.png"] = lambda p: plots.tornado(
                tables[metric], rank, error, p, title=f"{kind.capitalize()} {rank} of {outcome}"
            )
        blocks = [
            figure_html(
                "tornado.png",
                f"{kind} indices of {describe(metric, 'outcome').label}, ranked by {rank}.",
            )
        ]
        constant = [m for m, t in tables.items() if t.isna().all().all()]
        blocks += [
            f"<h3>{html.escape(describe(m, 'outcome').label)} <code>{html.escape(m)}</code></h3>"
            + table_html(t)
            for m, t in tables.items()
            if m not in constant
        ]
        if constant:
            blocks.append(
                "<p class='note'>No indices for outcomes that are the same at every point: "
                + html.escape(", ".join(constant))
                + ".</p>"
            )
        sections.append((f"Sensitivity ({kind})", "\n".join(blocks)))
    elif kind in ("sobol", "morris"):
        sections.append(
            (
                "Sensitivity",
                "<p class='note'>Indices need every point of the "
                f"design; {len(points)} of {len(manifest['plan']['points'])} are "
                "finished (powderkeg sweep --resume).</p>",
            )
        )
    ablations = ablation_summaries(worlds, swept)
    if ablations:
        sections.append(
            (
                "Ablation of the contagion channels",
                "<p class='note'>Means over "
                "worlds, USD bn; effect = loss minus the loss with no channel.</p>"
                + "\n".join(ablation_html(lbl, s) for lbl, s in ablations),
            )
        )
    columns = [
        *parameters,
        metric,
        *[o for o in HEADLINE if o in outcomes and o != metric],
        "worlds",
        "clearing_converged",
    ]
    shown = shown_table(points[columns].head(500), parameters)
    sections.append(
        (
            "Points (means over worlds)",
            "<p class='note'>In the units of the headers; points.csv keeps the stored units "
            "(shares as fractions).</p>"
            + table_html(shown, headers={c: label_of(c, parameters) for c in shown.columns}),
        )
    )
    page = render_html(sections, manifest)
    writers[out / "points.csv"] = lambda p: points.to_csv(p)
    writers[out / "report.html"] = lambda p: p.write_text(page)
    try:
        write_atomically(writers)
    except OSError as err:
        raise UsageError(f"argument --out: cannot write to {out} ({err.strerror or err})") from None
    return out / "report.html"


__all__ = ["DEFAULT_METRIC", "make_report", "point_table", "sensitivity_tables"]
