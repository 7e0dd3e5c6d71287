"""The sweepable parameters: one table read off the model's own types, so new levers join it.

A sweep point sets some of these by name; everything else keeps the scenario's value. The table
is never typed by hand:

- ``policy.<field>`` for every lever of :class:`abm.policy.Policy`, as its
  :class:`~abm.policy.Lever` describes it (:meth:`Policy.levers`): its kind, its rule
  (``haircut_floor`` in [0, 1), a capital regime of ``own | us | eu``; the message names what is
  allowed, with the unit) and its span of settings worth exploring, which a ``[[parameters]]``
  table without ``values``, ``low`` or ``high`` sweeps. ``None`` is written ``"none"`` in TOML
  (which has no null), e.g. ``hedge_fund_leverage_cap = "none"``.
- ``channels.<name>`` for every contagion channel of :class:`abm.channels.Channels` (true/false),
  and ``channels`` for a whole configuration of the ablation: ``"none"``, ``"all"`` or a channel's
  name (that channel alone; :meth:`Channels.only`).
- ``shocks[i].size``, ``shocks[i].week`` and ``shocks[i].weeks`` for shock i of the scenario, and
  ``shocks.<kind>.size`` (``.week``, ``.weeks``) for every shock of that kind. A swept size is
  the same in every world: the shock's per-world ``range`` is dropped. Values are checked by the
  scenario's own shock rules (:func:`experiments.shock_entries.check_shock`).
- ``model.<name>`` for every scalar keyword argument of :class:`abm.model.Powderkeg` that a sweep
  does not set itself (``n_cohorts`` and ``dtype`` today), within :data:`experiments.usage.LIMITS`
  where listed (``dtype``: ``float64`` or ``float32``).

:func:`build_point_model` turns a scenario and one point's values into a model, ready to step
(through :func:`experiments.build.build_model`).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from abm.policy import NONE_TEXT, Policy
from experiments.build import ablation_configs, build_model, channels_of
from experiments.scenarios import Scenario, policy_from
from experiments.shock_entries import SHOCK_KEYS, check_shock
from experiments.usage import LIMITS, UsageError
from kernels.backend import STATE_DTYPES

#: Keyword arguments of the model that a sweep sets itself (not sweepable as ``model.*``).
MODEL_ARGUMENTS_SET_BY_SWEEP = (
    "self",
    "n_worlds",
    "seed",
    "backend",
    "calibration",
    "collect_agents",
    "channels",
    "policy",
)
#: Fields of a shock that a sweep may set.
SHOCK_FIELDS = ("size", "week", "weeks")
#: Parameter kind of each kind of policy lever (:data:`abm.policy.KINDS`).
LEVER_KINDS = {"bool": "bool", "choice": "text", "number": "float", "integer": "int"}

Value = bool | int | float | str | None


@dataclass(frozen=True)
class Parameter:
    """One sweepable parameter.

    Attributes:
        name: its name in sweep files and result columns (``policy.haircut_floor``).
        kind: ``bool``, ``int``, ``float`` or ``text``.
        default: its value in the scenario when the sweep does not set it.
        doc: what it is, in one line.
        nullable: whether ``"none"`` (Python ``None``) is allowed.
        choices: the allowed values, when they are a known finite set.
        check: checks one value (already of the right kind); raises ``ValueError`` whose message
            says what is allowed.
        rule: the allowed values in words, where the kind does not say it all (a policy
            lever's range and unit).
        span: (low, high) swept when a ``[[parameters]]`` table gives no values or range.
    """

    name: str
    kind: str
    default: Value
    doc: str
    nullable: bool = False
    choices: tuple[Value, ...] | None = None
    check: Callable[[Value], None] = lambda value: None
    rule: str = ""
    span: tuple[float, float] | None = None

    @property
    def numeric(self) -> bool:
        """Whether it can take a value anywhere in a range (``int`` or ``float``)."""
        return self.kind in ("int", "float")

    def allowed(self) -> str:
        """What values are allowed, in words."""
        if self.rule:
            return self.rule
        if self.choices is not None:
            return "one of " + ", ".join(_show(c) for c in self.choices)
        words = {"bool": "true or false", "int": "an integer", "float": "a number"}
        text = words.get(self.kind, "a string")
        return text + (f" or {NONE_TEXT!r}" if self.nullable else "")

    def coerce(self, value: Any) -> Value:
        """``value`` from TOML as this parameter's Python value, checked.

        Raises:
            ValueError: the value has the wrong type or breaks the parameter's rule; the
                message says what is allowed.
        """
        if self.nullable and value == NONE_TEXT:
            value = None
        elif self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"must be {self.allowed()}; got {value!r}")
        elif self.kind == "int":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"must be {self.allowed()}; got {value!r}")
        elif self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"must be {self.allowed()}; got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"must be a finite number; got {value!r}")
            value = float(value)
        elif not isinstance(value, str):
            raise ValueError(f"must be {self.allowed()}; got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"must be {self.allowed()}; got {_show(value)}")
        self.check(value)
        return value


def _show(value: Value) -> str:
    if value is None:
        return repr(NONE_TEXT)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _kind_of(hint: Any) -> tuple[str, bool] | None:
    """(kind, nullable) of a type hint, or None for types a sweep cannot set."""
    nullable = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            return None
        hint = args[0]
    kinds = {bool: "bool", int: "int", float: "float", str: "text"}
    return (kinds[hint], nullable) if hint in kinds else None


# -- the table ----------------------------------------------------------------------------------


def _policy_parameters(definition: Scenario) -> dict[str, Parameter]:
    base = policy_from(definition.policy)
    return {
        f"policy.{lever.name}": Parameter(
            name=f"policy.{lever.name}",
            kind=LEVER_KINDS[lever.kind],
            nullable=lever.nullable,
            default=getattr(base, lever.name),
            doc=f"{lever.title}, {lever.allowed()}: {lever.help}",
            check=lever.check,
            rule=lever.allowed(),
            span=lever.span,
        )
        for lever in Policy.levers()
    }


def _channel_parameters() -> dict[str, Parameter]:
    from abm.channels import Channels

    table = {
        "channels": Parameter(
            name="channels",
            kind="text",
            default="all",
            doc="contagion channels on: 'none', 'all', or one channel's name (it alone)",
            choices=ablation_configs(),
        )
    }
    for name in Channels.names():
        table[f"channels.{name}"] = Parameter(
            name=f"channels.{name}",
            kind="bool",
            default=True,
            doc=f"contagion channel {name} on or off (abm.channels.Channels)",
        )
    return table


def _shock_check(shocks: list[Any], field: str) -> Callable[[Value], None]:
    def check(value: Value) -> None:
        for shock in shocks:
            entry = {k: v for k, v in dataclasses.asdict(shock).items() if k in SHOCK_KEYS}
            entry.update(target=list(shock.target), source=shock.source or "sweep")
            entry.update({field: value}, range=None)
            entry = {k: v for k, v in entry.items() if v is not None and v != ""}
            if field != "weeks" and shock.weeks == 1:  # 1 is the default: not written in a file
                entry.pop("weeks", None)
            try:
                check_shock(entry, "shock")
            except UsageError as err:
                raise ValueError(str(err).removeprefix("shock: ")) from None

    return check


def _shock_parameters(definition: Scenario) -> dict[str, Parameter]:
    table: dict[str, Parameter] = {}
    groups: dict[str, list[Any]] = {}
    for i, shock in enumerate(definition.shocks):
        groups[f"shocks[{i}]"] = [shock]
        groups.setdefault(f"shocks.{shock.kind}", []).append(shock)
    for prefix, shocks in groups.items():
        for field in SHOCK_FIELDS:
            check = _shock_check(shocks, field)
            try:  # a field the shock's kind does not take (weeks of a one-off jump) is left out
                for shock in shocks:
                    check(getattr(shock, field))
            except ValueError:
                continue
            values = {getattr(s, field) for s in shocks}
            what = (
                f"shock {prefix[7:-1]} ({shocks[0].kind})"
                if prefix.startswith("shocks[")
                else f"every {prefix[7:]} shock ({len(shocks)})"
            )
            table[f"{prefix}.{field}"] = Parameter(
                name=f"{prefix}.{field}",
                kind="float" if field == "size" else "int",
                default=values.pop() if len(values) == 1 else None,
                doc=f"{field} of {what} of the scenario",
                check=check,
            )
    return table


def _model_parameters() -> dict[str, Parameter]:
    from abm.model import Powderkeg

    table = {}
    hints = typing.get_type_hints(Powderkeg.__init__)
    for name, arg in inspect.signature(Powderkeg.__init__).parameters.items():
        if name in MODEL_ARGUMENTS_SET_BY_SWEEP or arg.default is inspect.Parameter.empty:
            continue
        kind = _kind_of(hints.get(name))
        if kind is None:
            continue

        def check(value: Value, name: str = name) -> None:
            if name == "dtype" and value not in STATE_DTYPES:
                raise ValueError(f"must be one of {', '.join(STATE_DTYPES)}; got {value!r}")
            if name in LIMITS and value is not None:
                lo, hi = LIMITS[name]
                if not lo <= value <= hi:
                    raise ValueError(f"must be an integer from {lo} to {hi}; got {value!r}")

        table[f"model.{name}"] = Parameter(
            name=f"model.{name}",
            kind=kind[0],
            nullable=kind[1],
            default=arg.default,
            doc=f"model setting {name} (abm.model.Powderkeg)",
            check=check,
        )
    return table


def parameter_table(definition: Scenario) -> dict[str, Parameter]:
    """Every parameter a sweep of ``definition`` may set, by name (see the module docstring)."""
    return {
        **_policy_parameters(definition),
        **_channel_parameters(),
        **_shock_parameters(definition),
        **_model_parameters(),
    }


def describe_table(table: dict[str, Parameter]) -> str:
    """One line per parameter: name, kind, default and what it is (for error messages, docs)."""
    width = max(len(n) for n in table) + 2
    return "\n".join(
        f"{p.name:<{width}}{p.kind:<6}default {_default(p):<10} {p.doc}" for p in table.values()
    )


def _default(parameter: Parameter) -> str:
    if parameter.default is None and not parameter.nullable:
        return "(varies)"
    return _show(parameter.default)


# -- applying a point ---------------------------------------------------------------------------

_SHOCK = re.compile(r"^shocks(?:\[(\d+)\]|\.(\w+))\.(\w+)$")


def apply_values(definition: Scenario, values: dict[str, Value]) -> dict[str, Any]:
    """The model's arguments for ``definition`` with ``values`` set.

    Returns:
        ``policy`` (a :class:`abm.policy.Policy`), ``channels`` (:class:`abm.channels.Channels`),
        ``shocks`` (a tuple of :class:`abm.shocks.Shock`) and ``model`` (other keyword arguments
        of the model).

    Raises:
        KeyError: a name that is not in :func:`parameter_table` (config checks names first).
    """
    from abm.channels import Channels

    policy = policy_from(definition.policy)
    channels = channels_of(values["channels"]) if "channels" in values else Channels()
    shocks = list(definition.shocks)
    policy_args: dict[str, Value] = {}
    channel_args: dict[str, bool] = {}
    model_args: dict[str, Value] = {}
    for name, value in values.items():
        head, _, rest = name.partition(".")
        if name == "channels":
            continue
        if head == "policy":
            policy_args[rest] = value
        elif head == "channels":
            channel_args[rest] = bool(value)
        elif head == "model":
            model_args[rest] = value
        elif match := _SHOCK.match(name):
            index, kind, field = match.groups()
            for i, shock in enumerate(shocks):
                if (index is not None and i == int(index)) or shock.kind == kind:
                    change: dict[str, Any] = {field: value}
                    if field == "size":
                        change["range"] = None  # a swept size is the same in every world
                    shocks[i] = dataclasses.replace(shock, **change)
        else:
            raise KeyError(name)
    return {
        "policy": dataclasses.replace(policy, **policy_args),
        "channels": dataclasses.replace(channels, **channel_args),
        "shocks": tuple(shocks),
        "model": model_args,
    }


def build_point_model(
    definition: Scenario,
    values: dict[str, Value],
    *,
    n_worlds: int,
    seed: int,
    backend: str,
) -> Any:
    """The model of one sweep point, not yet stepped: ``definition`` with ``values`` set.

    Built by :func:`experiments.build.build_model`, as every run is, with the point's policy,
    channels, shocks and model settings.
    """
    args = apply_values(definition, values)
    return build_model(
        definition,
        n_worlds=n_worlds,
        seed=seed,
        backend=backend,
        policy=args["policy"],
        channels=args["channels"],
        shocks=args["shocks"],
        collect_agents=False,
        **args["model"],
    )


__all__ = [
    "NONE_TEXT",
    "Parameter",
    "apply_values",
    "build_point_model",
    "describe_table",
    "parameter_table",
]
