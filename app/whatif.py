"""What if, side by side: a preset and a counterfactual on the same worlds, and the difference.

The classroom move — "what if Europe had US capital rules?" — made the way ``powderkeg evidence``
makes it (:mod:`experiments.evidence`): two runs of one preset with the same seed, worlds and
shocks, one with the page's levers ("as is") and one with a counterfactual on top ("what if").
World w of both runs draws the same random numbers, so each pair of worlds differs only by the
counterfactual, and the effect is the mean of the paired differences over worlds with its 95%
Student-t interval (:func:`experiments.evidence.paired_difference`); the outcome table is
:func:`experiments.evidence.comparison` on :func:`experiments.metrics.world_metrics` of each run,
the same numbers the scenario table shows for the same worlds and weeks.

A counterfactual is either one of the preset's own ``[compare]`` policies (kept when the page's
levers can express it exactly) or any one lever of :mod:`app.levers` set to a value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import solara

from abm.calibration import load_calibration
from app.echarts import Echarts
from app.levers import AS_PRESET, available, lever, policy_for
from app.live import LiveRun
from experiments.evidence import comparison, paired_difference
from experiments.metrics import METRICS, world_metrics
from experiments.scenarios import load_preset, policy_from, policy_keys

#: Style of the panel's dropdowns: label above, long labels and entries wrapped, never cut (the
#: page's ``.pk-select`` rule, app.app.CSS), at least 240 px wide in a wrapping row.
PICK = ["pk-select", "pk-pick"]
#: metrics of the scenario table a counterfactual may be judged by, key → label
METRIC_LABELS = {m.key: m.label for m in METRICS}

#: series the difference chart can draw: column → (title, unit, scale applied to the column)
SERIES: dict[str, tuple[str, str, float]] = {
    "defaults_bank": ("Bank failures so far", "banks", 1.0),
    "bank_cet1_min": ("Lowest bank CET1 ratio", "%", 100.0),
    "bank_cet1_system": ("System CET1 ratio", "%", 100.0),
    "banks_below_buffer": ("Banks below their buffer", "banks", 1.0),
    "fire_sale_volume_usd_bn": ("Fire sales this week", "USD bn", 1.0),
    "retail_loss_usd_bn": ("Households' losses", "USD bn", 1.0),
    "ai_equity_index": ("AI equity index", "start = 1", 1.0),
    "unemployment_us": ("US unemployment", "%", 100.0),
}


@dataclass(frozen=True)
class Counterfactual:
    """What the "what if" run changes, and how the two runs are judged.

    Attributes:
        label: a short name ("US capital").
        question: what the comparison answers.
        changes: values of the page's levers (keys of :func:`app.levers.available`) set on top
            of the page's own.
        metric: a column of the scenario table (:data:`experiments.metrics.METRICS`).
        better: ``"lower"`` or ``"higher"``: which values of the metric are better.
    """

    label: str
    question: str
    changes: Mapping[str, Any] = field(default_factory=dict)
    metric: str = "bank_failures"
    better: str = "lower"

    def spec(self) -> dict[str, Any]:
        """The counterfactual as :func:`experiments.evidence.comparison` reads it."""
        return {
            "label": self.label,
            "question": self.question,
            "policy": dict(self.changes),
            "metric": self.metric,
            "better": self.better,
        }


def _lever_value(name: str, value: Any) -> tuple[str, Any] | None:
    """(lever key, widget value) that sets Policy field ``name`` to ``value``; None if none can."""
    for lv in available():
        if lv.target != "policy" or lv.field != name:
            continue
        if lv.widget == "Select":
            text = ("on" if value else "off") if isinstance(value, bool) else str(value)
            return (lv.key, text) if text in lv.values else None
        if value is None:  # a nullable slider's top stands for None
            return lv.key, lv.hi
        return lv.key, value
    return None


def preset_counterfactuals(preset: str) -> tuple[Counterfactual, ...]:
    """The preset's own ``[compare]`` counterfactuals that the page's levers express exactly.

    Each policy key is mapped to its lever; a counterfactual is kept only when the levers give
    exactly the Policy that ``powderkeg evidence`` runs for it (the preset's ``[policy]`` with the
    counterfactual's on top).
    """
    definition = load_preset(preset)
    keys = policy_keys()
    base = policy_from(definition.policy)
    found = []
    for spec in definition.compare:
        changes = {}
        for key, value in spec["policy"].items():
            pair = _lever_value(keys[key].name, value)
            if pair is None:
                break
            changes[pair[0]] = pair[1]
        else:
            wanted = policy_from({**definition.policy, **spec["policy"]})
            if policy_for(base, changes) == wanted:
                found.append(
                    Counterfactual(
                        spec["label"], spec["question"], changes, spec["metric"], spec["better"]
                    )
                )
    return tuple(found)


def lever_counterfactual(
    key: str, value: Any, metric: str = "bank_failures", better: str = "lower"
) -> Counterfactual:
    """Any one lever of the page set to ``value``, judged by ``metric``.

    Raises:
        KeyError: an unknown lever or metric (the message lists the allowed ones).
        ValueError: ``better`` is neither "lower" nor "higher".
    """
    lv = lever(key)
    if metric not in METRIC_LABELS:
        raise KeyError(f"no metric {metric!r}; metrics: {', '.join(METRIC_LABELS)}")
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher'; got {better!r}")
    title = lv.label.split(" (")[0]
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return Counterfactual(
        f"{title}: {shown}",
        f"What if {title.lower()} were {shown}? ({METRIC_LABELS[metric].lower()})",
        {key: value},
        metric,
        better,
    )


class SideBySide:
    """Two runs of one preset on the same worlds: as is, and with a counterfactual on top.

    Args:
        preset: the scenario preset.
        counterfactual: what the second run changes.
        seed: world w of both runs draws from seed + w.
        n_worlds: worlds of each run.
        n_cohorts: retail cohorts of each run.
        levers: the page's lever values, applied to both runs.
    """

    def __init__(
        self,
        preset: str,
        counterfactual: Counterfactual,
        seed: int = 1,
        n_worlds: int = 8,
        n_cohorts: int = 1000,
        levers: Mapping[str, Any] | None = None,
    ) -> None:
        levers = dict(levers or {})
        self.counterfactual = counterfactual
        common = {"preset": preset, "seed": seed, "n_worlds": n_worlds, "n_cohorts": n_cohorts}
        self.as_is = LiveRun(**common, **levers)
        self.what_if = LiveRun(**common, **{**levers, **counterfactual.changes})
        self.preset = preset

    @property
    def week(self) -> int:
        """Weeks run so far (both runs are always at the same week)."""
        return len(self.as_is.history) - 1

    def run(self, weeks: int, tick: Callable[[], None] | None = None) -> None:
        """Step both runs ``weeks`` weeks; ``tick`` is called after each week (progress)."""
        for _ in range(weeks):
            self.as_is.step()
            self.what_if.step()
            if tick is not None:
                tick()

    def outcome(self) -> dict[str, Any]:
        """The counterfactual's metric under both runs, compared world by world.

        :func:`experiments.evidence.comparison`: the medians, the paired difference (as is −
        what if) with its interval, and the shares of worlds where "as is" does better, the
        same or worse.
        """
        return comparison(
            self.preset,
            self.counterfactual.spec(),
            world_metrics(history_frame(self.as_is), self.as_is),
            world_metrics(history_frame(self.what_if), self.what_if),
        )

    def difference(self, column: str) -> pd.DataFrame:
        """Week by week: each run's median of ``column`` and their paired difference.

        The difference is as is − what if, as in ``powderkeg evidence``: its mean over worlds
        and 95% interval, in the units of :data:`SERIES`.
        """
        scale = SERIES[column][2] if column in SERIES else 1.0
        a = self.as_is.series(column) * scale
        b = self.what_if.series(column) * scale
        rows = []
        for week in range(a.shape[0]):
            d = paired_difference(a[week], b[week])
            rows.append(
                {
                    "week": week,
                    "as_is": float(np.nanmedian(a[week])),
                    "what_if": float(np.nanmedian(b[week])),
                    "difference": d["difference_mean"],
                    "low": d["difference_low"],
                    "high": d["difference_high"],
                }
            )
        return pd.DataFrame(rows)


def history_frame(run: LiveRun) -> pd.DataFrame:
    """A run's series as the long table of :class:`abm.reporting.Recorder` (step, world, ...)."""
    worlds = run.n_worlds
    chunks = [
        {"step": np.full(worlds, week), "world": np.arange(worlds), **row}
        for week, row in enumerate(run.history)
    ]
    return pd.DataFrame({k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]})


# -- the page -------------------------------------------------------------------------------


def _finite(values: pd.Series) -> list[float | None]:
    return [None if not math.isfinite(v) else round(float(v), 4) for v in values]


def difference_option(table: pd.DataFrame, column: str, label: str) -> dict[str, Any]:
    """An ECharts option: both runs' medians, and the paired difference with its 95% band."""
    title, unit = SERIES[column][:2] if column in SERIES else (column, "")
    weeks = table["week"].tolist()
    low, high = table["low"], table["high"]
    band = (high - low).where(np.isfinite(high - low))
    return {
        "title": {"text": f"{title} ({unit})", "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis", "valueFormatter": "(v) => v == null ? '–' : v.toFixed(2)"},
        "legend": {"top": 22, "data": ["as is", label, "difference (as is − what if)"]},
        "grid": [
            {"top": 60, "height": "38%", "left": 56, "right": 16},
            {"bottom": 36, "height": "25%", "left": 56, "right": 16},
        ],
        "xAxis": [
            {"type": "category", "data": weeks, "gridIndex": 0, "axisLabel": {"show": False}},
            {"type": "category", "data": weeks, "gridIndex": 1, "name": "week"},
        ],
        "yAxis": [
            {"type": "value", "gridIndex": 0, "scale": True, "name": unit},
            {"type": "value", "gridIndex": 1, "scale": True, "name": "difference"},
        ],
        "series": [
            {"name": "as is", "type": "line", "data": _finite(table["as_is"]),
             "showSymbol": False, "color": "#1f77b4"},
            {"name": label, "type": "line", "data": _finite(table["what_if"]),
             "showSymbol": False, "color": "#d62728", "lineStyle": {"type": "dashed"}},
            {"name": "band low", "type": "line", "data": _finite(low), "xAxisIndex": 1,
             "yAxisIndex": 1, "stack": "band", "lineStyle": {"opacity": 0}, "symbol": "none",
             "tooltip": {"show": False}},
            {"name": "95% interval", "type": "line", "data": _finite(band), "xAxisIndex": 1,
             "yAxisIndex": 1, "stack": "band", "lineStyle": {"opacity": 0}, "symbol": "none",
             "areaStyle": {"color": "#7f7f7f", "opacity": 0.25}, "tooltip": {"show": False}},
            {"name": "difference (as is − what if)", "type": "line", "xAxisIndex": 1,
             "yAxisIndex": 1, "data": _finite(table["difference"]), "showSymbol": False,
             "color": "#333333"},
        ],
    }  # fmt: skip


def outcome_text(outcome: dict[str, Any], label: str) -> str:
    """The outcome as one plain paragraph a class can read."""
    metric = METRIC_LABELS.get(outcome["metric"], outcome["metric"])
    n = outcome["worlds"]
    line = (
        f"{outcome['question']} {metric}: median {outcome['median']:.3g} as is, "
        f"{outcome['median_counterfactual']:.3g} with {label}. "
    )
    if outcome["no_difference"]:
        return line + ("No difference in the one world." if n == 1 else
                       f"No difference in any of the {n} worlds.")  # fmt: skip
    diff = f"{outcome['difference_mean']:+.3g}"
    low, high = outcome["difference_low"], outcome["difference_high"]
    if math.isfinite(low):
        diff += f" (95% interval {low:+.3g} to {high:+.3g})"
    better = outcome["share_better"] * 100
    worse = outcome["share_worse"] * 100
    return line + (
        f"As is minus what if, paired by world: {diff} over {n} worlds; as is does better in "
        f"{better:.0f}% of them and worse in {worse:.0f}%."
        + ("" if n >= 2 else " One world gives no interval: use two worlds or more.")
    )


def _suggested(key: str) -> str:
    """A value of lever ``key`` that differs from where the page starts it.

    A select's first choice, or a slider's lowest value (its highest where it starts lowest).
    """
    lv = lever(key)
    if lv.widget == "Select":
        return next(v for v in lv.values if v != AS_PRESET)
    start = lv.start(load_calibration())
    return f"{lv.hi if start == lv.lo else lv.lo:g}"


@solara.component
def WhatIfPanel(preset: str, seed: int, n_worlds: int, levers: Mapping[str, Any]) -> Any:
    """The "What if" tab: pick a counterfactual, run both for some weeks, read the difference.

    Args:
        preset: the page's scenario preset (both runs use it, and the page's seed and worlds).
        seed: world w of both runs draws from seed + w.
        n_worlds: worlds of each run.
        levers: the page's lever values (both runs use them; the counterfactual goes on top).
    """
    own = preset_counterfactuals(preset)
    choices = [c.label for c in own] + ["one lever"]
    choice, set_choice = solara.use_state(choices[0])
    titles = {lv.label.split(" (")[0]: lv.key for lv in available() if lv.key != "shock_scale"}
    title, set_title = solara.use_state(next(iter(titles)))
    value, set_value = solara.use_state(_suggested(titles[title]))
    metric, set_metric = solara.use_state(METRIC_LABELS["bank_failures"])
    steps = int(load_preset(preset).model.get("steps", 52))
    weeks, set_weeks = solara.use_state(min(steps, 52))
    chart, set_chart = solara.use_state(SERIES["defaults_bank"][0])
    result, set_result = solara.use_state(None)  # (SideBySide, label) once run
    problem, set_problem = solara.use_state("")
    progress, set_progress = solara.use_state(0.0)

    def pick_lever(new: str) -> None:
        set_title(new)
        set_value(_suggested(titles[new]))

    def counterfactual() -> Counterfactual:
        if choice != "one lever":
            return next(c for c in own if c.label == choice)
        key = titles[title]
        judged = next(k for k, v in METRIC_LABELS.items() if v == metric)
        lv = lever(key)
        if lv.widget == "Select":
            allowed = [v for v in lv.values if v != AS_PRESET]
            if value not in allowed:
                raise ValueError(f"{title}: choose one of {', '.join(allowed)}; got {value!r}")
            return lever_counterfactual(key, value, judged)
        hint = f"{title}: a number from {lv.lo:g} to {lv.hi:g}"
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{hint}; got {value!r}") from None
        if not (lv.lo is not None and lv.hi is not None and lv.lo <= number <= lv.hi):
            raise ValueError(f"{hint}; got {value!r}")
        number = int(number) if lv.widget == "SliderInt" else number
        return lever_counterfactual(key, number, judged)

    def run() -> None:
        try:
            cf = counterfactual()
            pair = SideBySide(preset, cf, seed=seed, n_worlds=n_worlds, levers=levers)
            done = [0]

            def tick() -> None:
                done[0] += 1
                set_progress(100.0 * done[0] / max(weeks, 1))

            pair.run(int(weeks), tick)
        except (ValueError, KeyError, FloatingPointError) as err:
            set_problem(str(err.args[0]) if err.args else type(err).__name__)
            return
        set_problem("")
        set_result((pair, cf.label))

    with solara.Column(style={"max-width": "1100px"}):
        solara.Text(
            "Run this preset twice on the same worlds — as set on the left, and with one "
            "change — and read the difference world by world (the same paired comparison as "
            "`powderkeg evidence`)."
        )
        with solara.Row(style={"flex-wrap": "wrap", "gap": "12px"}):
            solara.Select(
                "What if", values=choices, value=choice, on_value=set_choice, classes=PICK
            )
            if choice == "one lever":
                solara.Select(
                    "Lever", values=list(titles), value=title, on_value=pick_lever, classes=PICK
                )
                lv = lever(titles[title])
                hint = (
                    ", ".join(v for v in lv.values if v != AS_PRESET)
                    if lv.widget == "Select"
                    else f"{lv.lo:g} to {lv.hi:g}"
                )
                solara.InputText(f"Value ({hint})", value=value, on_value=set_value)
                solara.Select(
                    "Judged by", values=list(METRIC_LABELS.values()), value=metric,
                    on_value=set_metric, classes=PICK,
                )  # fmt: skip
            solara.InputInt("Weeks", value=weeks, on_value=set_weeks)
            solara.Button("Run both", on_click=run, color="primary")
        if progress and progress < 100.0:
            solara.ProgressLinear(progress)
        if problem:
            solara.Error(problem)
        if result is not None:
            pair, label = result
            solara.Text(outcome_text(pair.outcome(), label), style={"font-size": "15px"})
            names = {spec[0]: column for column, spec in SERIES.items()}
            solara.Select(
                "Chart", values=list(names), value=chart, on_value=set_chart, classes=PICK
            )
            column = names[chart]
            Echarts(difference_option(pair.difference(column), column, label), height_px=420)


__all__ = [
    "Counterfactual",
    "SideBySide",
    "WhatIfPanel",
    "difference_option",
    "history_frame",
    "lever_counterfactual",
    "outcome_text",
    "preset_counterfactuals",
]
