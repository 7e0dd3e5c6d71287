"""The app's levers: one table row per slider, wired to the policy, the calibration or the shocks.

Each :class:`Lever` names the keyword of :class:`app.live.LiveRun` it sets (the SolaraViz
``model_params`` key), its widget, default and range (stated in its label, with units), and
where the value goes:

- ``policy``: a field of :class:`abm.policy.Policy`. Every lever of ``Policy`` gets one, built
  from its description (:meth:`abm.policy.Policy.levers`, :func:`policy_lever`): on/off levers
  and choices are selects, numbers and integers are sliders over the lever's span, labelled
  with its title, unit and range (SolaraViz shows a label only, and a long one squeezes its
  slider: the one-line help text is what ``powderkeg sweep --list-parameters`` prints). A lever
  left at its starting position keeps the preset's setting (``AS_PRESET`` on a select; today's
  value, or the calibrated one where ``None`` stands for it, on a slider); the top of a slider
  whose ``None`` means no limit (the leverage cap) is that ``None``. ``to_policy`` converts the
  widget's value. A lever whose field the installed ``Policy`` lacks is left off the page
  (:func:`available`).
- ``calibration``: the value replaces calibration leaves (:func:`calibration_with`), e.g. the
  panic AI–crypto correlation ``sentiment.crypto_correlation_panic``; ``scale`` levers multiply
  the calibrated value instead (SPV recourse: × each SPV's own share, capped at 1).
- ``run``: read by :class:`~app.live.LiveRun` itself (scenario, seed, worlds, shock scale).

A policy lever added to :class:`abm.policy.Policy` appears here by itself; a calibration lever is
one more row in :data:`LEVERS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from abm import policy
from abm.calibration import Calibration, load_calibration
from abm.policy import Policy

#: Value of the Select levers that keep what the scenario preset says.
AS_PRESET = "as in the preset"


@dataclass(frozen=True)
class Lever:
    """One slider, select or checkbox of the app.

    Attributes:
        key: keyword of :class:`app.live.LiveRun` (and ``model_params`` key).
        label: the widget's label, with units and range.
        widget: ``"SliderFloat"``, ``"SliderInt"``, ``"Select"`` or ``"Checkbox"``.
        default: the starting value (None: the value of the calibration leaf ``calibrated``).
        target: ``"policy"``, ``"calibration"`` or ``"run"``.
        lo: lowest value (sliders).
        hi: highest value (sliders).
        step: slider step.
        values: choices (Select).
        field: the Policy field (``policy``) or calibration leaf paths (``calibration``).
        to_policy: converts the widget value to the Policy field's value.
        scale: ``calibration`` only: multiply each calibrated leaf by the value (capped at
            ``cap``) instead of replacing it.
        cap: upper bound of a scaled calibration value.
        start_keeps_preset: a policy lever at its starting value keeps the preset's setting
            (False: the start is a setting too, e.g. the leverage cap's "no cap").
        calibrated: the calibration leaf the lever starts from when ``default`` is None (empty:
            the first ``field``).
        unit: the unit its value is shown in beside the slider (:func:`shown`).
        none_means: what the top of a slider whose top is None (no limit) means, in words.
    """

    key: str
    label: str
    widget: str
    default: Any
    target: str
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    values: tuple[Any, ...] = ()
    field: str | tuple[str, ...] = ""
    to_policy: Callable[[Any], Any] | None = None
    scale: bool = False
    cap: float = float("inf")
    start_keeps_preset: bool = True
    calibrated: str = ""
    unit: str = ""
    none_means: str = ""

    def start(self, cal: Calibration) -> Any:
        """The starting value: ``default``, or the calibrated value where ``default`` is None."""
        if self.default is not None:
            return self.default
        return float(cal.value(self.calibrated or self.field[0]))

    def param(self, cal: Calibration) -> dict[str, Any]:
        """The SolaraViz ``model_params`` entry (a dict with type, label, value, range)."""
        start = self.start(cal)
        spec: dict[str, Any] = {
            "type": self.widget,
            "label": self.label.format(calibrated=start),
            "value": start,
        }
        if self.widget.startswith("Slider"):
            spec.update(min=self.lo, max=self.hi, step=self.step, unit=self.unit)
            if self.none_means:
                spec["none_means"] = self.none_means
        if self.widget == "Select":
            spec["values"] = list(self.values)
        return spec


def _on(value: str) -> bool:
    return value == "on"


def _none_at(top: float) -> Callable[[float], float | None]:
    """The top of a slider is None (no limit), any other position its own value."""

    def to_policy(value: float) -> float | None:
        return None if value >= top else float(value)

    return to_policy


def policy_lever(rule: policy.Lever) -> Lever:
    """The app's widget for one policy lever, from its description.

    On/off levers and choices are selects labelled with the lever's title, starting
    ``AS_PRESET``. Numbers and integers are sliders over the lever's span in steps of its step,
    labelled with its title, unit and range: a lever whose None stands for a calibrated value
    starts at that value; one whose None means no limit (the leverage cap) starts at the top of
    the slider, which stands for None; any other starts at today's setting.
    """
    common: dict[str, Any] = {"target": "policy", "field": rule.name, "unit": rule.unit}
    if rule.kind == "bool":
        values: tuple[Any, ...] = (AS_PRESET, "on", "off")
        return Lever(
            rule.key, rule.title, "Select", AS_PRESET, values=values, to_policy=_on, **common
        )
    if rule.kind == "choice":
        values = (AS_PRESET, *rule.choices)
        return Lever(rule.key, rule.title, "Select", AS_PRESET, values=values, **common)
    assert rule.span is not None and rule.step is not None, f"{rule.name} has no span"
    lo, hi = rule.span
    widget = "SliderInt" if rule.kind == "integer" else "SliderFloat"
    scale = f"{rule.unit} {lo:g}–{hi:g}"
    slider = {"lo": lo, "hi": hi, "step": rule.step, **common}
    if rule.calibrated:
        label = f"{rule.title} ({scale}; {{calibrated:g}} calibrated)"
        return Lever(rule.key, label, widget, None, calibrated=rule.calibrated, **slider)
    if rule.nullable:
        label = f"{rule.title} ({scale}; {hi:g} = {rule.none_means})"
        return Lever(
            rule.key,
            label,
            widget,
            hi,
            to_policy=_none_at(hi),
            start_keeps_preset=False,
            none_means=rule.none_means,
            **slider,
        )
    return Lever(rule.key, f"{rule.title} ({scale})", widget, rule.default, **slider)


#: The levers, in the order the sidebar shows them (after the scenario, seed and worlds).
LEVERS: tuple[Lever, ...] = (
    *(policy_lever(rule) for rule in Policy.levers()),
    Lever(
        "spv_recourse",
        "SPV sponsor recourse (× calibrated, 0–2; max 100%)",
        "SliderFloat",
        1.0,
        "calibration",
        lo=0.0,
        hi=2.0,
        step=0.1,
        field=(
            "firms.meta_hyperion.recourse_share",
            "firms.oracle_stargate.recourse_share",
            "firms.crusoe_abilene.recourse_share",
            "firms.xai_colossus2.recourse_share",
        ),
        scale=True,
        cap=1.0,
        unit="× calibrated",
    ),
    Lever(
        "ai_crypto_correlation",
        "AI–crypto panic correlation (ρ 0–0.95; {calibrated:g} calibrated)",
        "SliderFloat",
        None,
        "calibration",
        lo=0.0,
        hi=0.95,
        step=0.01,  # the calibrated 0.53 must lie on the slider's grid, or the slider moves it
        field=("sentiment.crypto_correlation_panic",),
        unit="ρ",
    ),
    Lever(
        "shock_scale",
        "Shock size (× preset and buttons, 0–2)",
        "SliderFloat",
        1.0,
        "run",
        lo=0.0,
        hi=2.0,
        step=0.1,
        unit="× preset",
    ),
)


def decimals(step: float | None) -> int:
    """Decimals that show every position of a slider whose step is ``step`` (0 for whole steps)."""
    text = f"{float(step or 1):g}"
    return len(text.split(".")[1]) if "." in text else 0


def shown(value: Any, spec: Mapping[str, Any]) -> str:
    """A slider's value in words with its unit, as the sidebar shows it beside the label.

    ``spec`` is the slider's ``model_params`` entry: its ``unit`` ("share ..." units read as
    percent: 0.05 "share of US GDP" is "5% of US GDP"; "×" units follow the number; "ρ" leads
    it), its ``step`` (the decimals) and, for a slider whose top means no limit, ``none_means``
    at ``max``.
    """
    if spec.get("none_means") and value >= spec["max"]:
        return str(spec["none_means"])
    unit = str(spec.get("unit", ""))
    if unit.startswith("share"):
        rest = unit.removeprefix("share").strip()
        places = max(0, decimals(spec.get("step")) - 2)
        return f"{100.0 * float(value):.{places}f}%" + (f" {rest}" if rest else "")
    number = f"{float(value):.{decimals(spec.get('step'))}f}"
    if unit == "ρ":
        return f"ρ = {number}"
    if number == "1" and unit.isalpha():  # "1 bank", "1 week"
        unit = unit.removesuffix("s")
    return f"{number} {unit}".strip()


def available(levers: tuple[Lever, ...] = LEVERS) -> tuple[Lever, ...]:
    """The levers the installed model can act on (policy levers need their Policy field)."""
    names = {f.name for f in dataclasses.fields(Policy)}
    return tuple(lv for lv in levers if lv.target != "policy" or lv.field in names)


def lever(key: str) -> Lever:
    """The lever named ``key``.

    Raises:
        KeyError: no such lever; the message lists them.
    """
    for lv in LEVERS:
        if lv.key == key:
            return lv
    raise KeyError(f"no lever {key!r}; levers: {', '.join(lv.key for lv in LEVERS)}")


def policy_for(base: Policy, values: Mapping[str, Any]) -> Policy:
    """``base`` (the preset's policy) with the policy levers of ``values`` applied.

    A lever at its starting value keeps the preset's setting (``AS_PRESET``, or a slider not
    moved), unless its start is a setting too (``start_keeps_preset=False``: the leverage
    cap's "no cap").
    """
    cal = load_calibration()
    changes: dict[str, Any] = {}
    for lv in available():
        if lv.target != "policy" or lv.key not in values:
            continue
        value = values[lv.key]
        if lv.start_keeps_preset and value == lv.start(cal):
            continue
        changes[str(lv.field)] = lv.to_policy(value) if lv.to_policy else value
    return dataclasses.replace(base, **changes)


def calibration_with(cal: Calibration, values: Mapping[str, Any]) -> Calibration:
    """``cal`` with the calibration levers of ``values`` applied to its leaves.

    The changed leaves keep their unit and period; their source says the value was set in the
    app. Leaves not named by a lever are shared with ``cal``.
    """
    leaves = dict(cal.leaves)
    changed = False
    for lv in available():
        if lv.target != "calibration" or lv.key not in values:
            continue
        value = float(values[lv.key])
        if value == lv.start(cal):
            continue
        for path in lv.field:
            leaf = leaves[path]
            new = min(float(leaf.value) * value, lv.cap) if lv.scale else value
            leaves[path] = dataclasses.replace(
                leaf, value=new, source=f"app lever {lv.key} = {value:g}", status="estimate"
            )
            changed = True
    if not changed:
        return cal
    return dataclasses.replace(cal, leaves=MappingProxyType(leaves))


@dataclass(frozen=True)
class RunSettings:
    """The preset, seed and worlds of a run, with their widget specs (``model_params``)."""

    preset: str
    seed: int = 1
    n_worlds: int = 1
    presets: tuple[str, ...] = field(default_factory=tuple)

    def params(self) -> dict[str, Any]:
        """``model_params`` entries for the preset picker, the seed and the number of worlds."""
        return {
            "preset": {
                "type": "Select",
                "label": "Scenario preset (applies on Reset)",
                "value": self.preset,
                "values": list(self.presets),
            },
            "seed": {
                "type": "SliderInt",
                "label": "Seed (0–99)",
                "value": self.seed,
                "min": 0,
                "max": 99,
                "step": 1,
                "unit": "",
            },
            "n_worlds": {
                "type": "SliderInt",
                "label": "Worlds (1–32)",
                "value": self.n_worlds,
                "min": 1,
                "max": 32,
                "step": 1,
                "unit": "worlds",
            },
        }


def model_params(settings: RunSettings, cal: Calibration) -> dict[str, Any]:
    """Every ``model_params`` entry of the page: run settings, then the available levers."""
    params = settings.params()
    params.update({lv.key: lv.param(cal) for lv in available()})
    return params


__all__ = [
    "AS_PRESET",
    "LEVERS",
    "Lever",
    "RunSettings",
    "available",
    "calibration_with",
    "decimals",
    "lever",
    "model_params",
    "policy_for",
    "policy_lever",
    "shown",
]
