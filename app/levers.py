"""The app's levers: one table row per slider, wired to the policy, the calibration or the shocks.

Each :class:`Lever` names the keyword of :class:`app.live.LiveRun` it sets (the SolaraViz
``model_params`` key), its widget, default and range (stated in its label, with units), and
where the value goes:

- ``policy``: a field of :class:`abm.policy.Policy`. A lever whose field the installed
  ``Policy`` lacks is left off the page (:func:`available`), so levers for policies still being
  modelled can be listed here ahead of time and appear once the field exists. ``to_policy``
  converts the widget's value (e.g. the top of the leverage-cap slider means no cap).
- ``calibration``: the value replaces calibration leaves (:func:`calibration_with`), e.g. the
  panic AI–crypto correlation ``sentiment.crypto_correlation_panic``; ``scale`` levers multiply
  the calibrated value instead (SPV recourse: × each SPV's own share, capped at 1).
- ``run``: read by :class:`~app.live.LiveRun` itself (scenario, seed, worlds, shock scale).

Adding a policy lever is one more row in :data:`LEVERS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from abm.calibration import Calibration
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
        default: the starting value (None: the calibrated value of the first ``field``).
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
        keep_on_none: a policy value converted to None keeps the preset's setting (False: None
            is passed on, e.g. no leverage cap).
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
    keep_on_none: bool = True

    def start(self, cal: Calibration) -> Any:
        """The starting value: ``default``, or the calibrated value where ``default`` is None."""
        if self.default is not None:
            return self.default
        return float(cal.value(self.field[0]))

    def param(self, cal: Calibration) -> dict[str, Any]:
        """The SolaraViz ``model_params`` entry (a dict with type, label, value, range)."""
        start = self.start(cal)
        spec: dict[str, Any] = {
            "type": self.widget,
            "label": self.label.format(calibrated=start),
            "value": start,
        }
        if self.widget.startswith("Slider"):
            spec.update(min=self.lo, max=self.hi, step=self.step)
        if self.widget == "Select":
            spec["values"] = list(self.values)
        return spec


HF_CAP_NONE = 10.0  # the slider's top: above the most levered fund's 8x, i.e. no cap


def _leverage_cap(value: float) -> float | None:
    return None if value >= HF_CAP_NONE else float(value)


def _preset_choice(value: str) -> Any:
    return None if value == AS_PRESET else value


def _on_off(value: str) -> bool | None:
    return None if value == AS_PRESET else value == "on"


#: The levers, in the order the sidebar shows them (after the scenario, seed and worlds).
LEVERS: tuple[Lever, ...] = (
    Lever(
        "hedge_fund_leverage_cap",
        f"Hedge-fund leverage cap (assets/equity 2–{HF_CAP_NONE:g}; {HF_CAP_NONE:g} = none)",
        "SliderFloat",
        HF_CAP_NONE,
        "policy",
        lo=2.0,
        hi=HF_CAP_NONE,
        step=0.5,
        field="hedge_fund_leverage_cap",
        to_policy=_leverage_cap,
        keep_on_none=False,
    ),
    Lever(
        "capital_regime",
        "Bank capital rules (own, or US or EU CET1 rules for all)",
        "Select",
        AS_PRESET,
        "policy",
        values=(AS_PRESET, "own", "us", "eu"),
        field="capital_regime",
        to_policy=_preset_choice,
    ),
    Lever(
        "haircut_floor",
        "Repo haircut floor (share 0–0.5)",
        "SliderFloat",
        0.0,
        "policy",
        lo=0.0,
        hi=0.5,
        step=0.05,
        field="haircut_floor",
    ),
    Lever(
        "deposit_insurance",
        "Uninsured deposits (× today, 0–1)",
        "SliderFloat",
        1.0,
        "policy",
        lo=0.0,
        hi=1.0,
        step=0.1,
        field="deposit_insurance",
    ),
    Lever(
        "backstop",
        "Backstop: market maker of last resort",
        "Select",
        AS_PRESET,
        "policy",
        values=(AS_PRESET, "on", "off"),
        field="market_maker_of_last_resort",
        to_policy=_on_off,
    ),
    Lever(
        "stablecoin_reserve_rule",
        "Stablecoin reserve rule (cash and T-bills, 1:1)",
        "Select",
        AS_PRESET,
        "policy",
        values=(AS_PRESET, "on", "off"),
        field="stablecoin_reserve_rule",
        to_policy=_on_off,
    ),
    Lever(
        "lender_of_last_resort",
        "Lender of last resort (loans to solvent banks)",
        "Select",
        AS_PRESET,
        "policy",
        values=(AS_PRESET, "on", "off"),
        field="lender_of_last_resort",
        to_policy=_on_off,
    ),
    Lever(
        "bailouts",
        "Bailouts (recapitalise systemic banks)",
        "Select",
        AS_PRESET,
        "policy",
        values=(AS_PRESET, "on", "off"),
        field="bailouts",
        to_policy=_on_off,
    ),
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
    ),
)


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

    A lever whose converted value is None keeps the preset's setting (``AS_PRESET``), unless
    the lever says None is a value (``keep_on_none=False``: the leverage cap's "no cap").
    """
    changes: dict[str, Any] = {}
    for lv in available():
        if lv.target != "policy" or lv.key not in values:
            continue
        value = values[lv.key]
        converted = lv.to_policy(value) if lv.to_policy else value
        if converted is None and lv.keep_on_none:
            continue
        changes[str(lv.field)] = converted
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
            },
            "n_worlds": {
                "type": "SliderInt",
                "label": "Worlds (1–32)",
                "value": self.n_worlds,
                "min": 1,
                "max": 32,
                "step": 1,
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
    "lever",
    "model_params",
    "policy_for",
]
