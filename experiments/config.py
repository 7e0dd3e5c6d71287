"""Sweep files: TOML checked by pydantic models, then against the model's parameter table.

A sweep file (examples in ``experiments/sweeps/*.toml``)::

    name = "smoke"                          # optional; default: the file's stem
    description = "what the sweep asks"
    scenario = "hedge_fund_deleveraging"    # a preset, or a scenario .toml (relative to this file)
    steps = 13                              # weeks per world
    worlds = 2                              # E: worlds per point, simulated together in one model
    seed = 0                                # world w of a point draws from seed + w ...
    seeds = "common"                        # ... at every point ("common": common random numbers),
                                            # or "distinct": point p uses seed + p * worlds
    backend = "auto"                        # auto | numpy | cupy (--backend wins)

    [fixed]                                 # parameters set at every point
    "model.n_cohorts" = 100

    [design]
    kind = "grid"                           # grid | random | lhs | sobol | morris
    samples = 8                             # random, lhs: points; sobol: N (a power of two);
                                            # morris: trajectories
    seed = 0                                # the sampling seed (random, lhs, sobol, morris)
    second_order = false                    # sobol: also second-order indices
    levels = 4                              # morris: grid levels

    [[parameters]]                          # one table per swept parameter
    name = "policy.hedge_fund_leverage_cap" # see experiments.sweeps.parameters
    values = [3.0, 10.0]                    # grid: these values; random: drawn from them

    [[parameters]]
    name = "shocks.ai_hype.size"
    low = -0.40                             # a range: grid needs num (values evenly spaced);
    high = -0.10                            # random draws uniformly; lhs, sobol, morris sample it
    num = 2

    [output]
    series = ["ai_equity_index", "defaults_total"]   # kept per world and week for fan charts

:func:`load_sweep` reads a file and returns a :class:`Sweep` with its points. Every problem is
one :class:`~experiments.cli.UsageError` line naming the file, the field and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from experiments.cli import UsageError
from experiments.run import LIMITS
from experiments.scenarios import Scenario, read_toml
from experiments.sweeps.parameters import Parameter, Value, parameter_table

#: The most points one sweep may have.
MAX_POINTS = 100_000
#: Series kept per world and week when ``[output] series`` is not given.
DEFAULT_SERIES = (
    "ai_equity_index",
    "crypto_price",
    "defaults_total",
    "bank_cet1_min",
    "fire_sale_volume_usd_bn",
    "retail_loss_share",
)
DESIGNS = ("grid", "random", "lhs", "sobol", "morris")

Scalar = bool | int | float | str
#: How pydantic names the members of ``Scalar`` in an error's location.
UNION_MEMBERS = ("bool", "int", "float", "str")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ParameterSpec(_Strict):
    """One ``[[parameters]]`` table: a name and either ``values`` or ``low``/``high``."""

    name: str
    values: Annotated[list[Scalar], Field(min_length=1, max_length=10_000)] | None = None
    low: float | None = None
    high: float | None = None
    num: Annotated[int, Field(ge=1, le=10_000)] | None = None


class DesignSpec(_Strict):
    """The ``[design]`` table: how points are drawn."""

    kind: Literal["grid", "random", "lhs", "sobol", "morris"] = "grid"
    samples: Annotated[int, Field(ge=1, le=MAX_POINTS)] | None = None
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    second_order: bool = False
    levels: Annotated[int, Field(ge=2, le=100)] = 4


class OutputSpec(_Strict):
    """The ``[output]`` table: what is kept besides the per-world numbers."""

    series: Annotated[list[str], Field(max_length=100)] = list(DEFAULT_SERIES)


class SweepFile(_Strict):
    """A whole sweep file, as parsed (names and values checked later against the model)."""

    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\w.-]+$")] | None = None
    description: str = ""
    scenario: Annotated[str, Field(min_length=1)]
    steps: Annotated[int, Field(ge=LIMITS["steps"][0], le=LIMITS["steps"][1])] = 260
    worlds: Annotated[int, Field(ge=1, le=LIMITS["n_worlds"][1])] = 1
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    seeds: Literal["common", "distinct"] = "common"
    backend: Literal["auto", "numpy", "cupy"] = "auto"
    fixed: dict[str, Scalar] = Field(default_factory=dict)
    design: DesignSpec = DesignSpec()
    parameters: Annotated[list[ParameterSpec], Field(max_length=100)] = Field(default_factory=list)
    output: OutputSpec = OutputSpec()


@dataclass(frozen=True)
class Point:
    """One sweep point: its number, the values it sets and the seed of its first world."""

    index: int
    values: dict[str, Value]
    seed: int


@dataclass(frozen=True)
class Sweep:
    """A checked sweep: the file, its scenario, its parameters and every point, in order.

    Attributes:
        path: the sweep file.
        spec: the parsed file.
        name: the sweep's name.
        scenario: the scenario every point starts from.
        table: the sweepable parameters of that scenario.
        swept: the names of the swept parameters, in file order.
        points: every point, in design order (a SALib design's row order).
        problem: the SALib problem of a lhs, sobol or morris design (else None).
    """

    path: Path
    spec: SweepFile
    name: str
    scenario: Scenario
    table: dict[str, Parameter]
    swept: tuple[str, ...]
    points: tuple[Point, ...]
    problem: dict[str, Any] | None

    def plan(self) -> dict[str, Any]:
        """Everything that decides the results (JSON-ready): file, scenario and every point."""
        from dataclasses import asdict

        scenario = asdict(self.scenario)
        scenario.pop("path", None)
        return {
            "sweep": self.spec.model_dump(mode="json"),
            "scenario": scenario,
            "swept": list(self.swept),
            "problem": self.problem,
            "points": [{"point": p.index, "seed": p.seed, "values": p.values} for p in self.points],
        }

    def fingerprint(self) -> str:
        """SHA-256 of :meth:`plan`: two sweeps with the same fingerprint give the same data."""
        text = json.dumps(self.plan(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


# -- reading ------------------------------------------------------------------------------------


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that holds the field at ``loc`` (for listing its allowed fields)."""
    import typing

    current: Any = SweepFile
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        while typing.get_origin(annotation) is not None:
            args = [a for a in typing.get_args(annotation) if isinstance(a, type)]
            nested = [a for a in args if issubclass(a, BaseModel)]
            annotation = nested[0] if nested else (args[0] if args else None)
            if nested:
                break
        current = annotation
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _explain(error: dict[str, Any]) -> str:
    """One pydantic error as ``field: what is wrong; allowed ...; got ...``."""
    loc = tuple(error["loc"])
    got = error.get("input")
    if loc and loc[-1] in UNION_MEMBERS:  # a value of the wrong type for a bool|int|float|str
        where = _location(loc[:-1])
        return f"{where}: must be true or false, a number or a string; got {got!r}"
    where = _location(loc) or "file"
    kind = error["type"]
    if kind == "extra_forbidden":
        holder = _model_at(loc)
        allowed = ", ".join(holder.model_fields) if holder is not None else "see the docs"
        return f"unknown field {where!r}; allowed here: {allowed}"
    if kind == "missing":
        return f"missing field {where!r}"
    message = error["msg"].replace("Input should be", "must be").replace("input", "value")
    return f"{where}: {message}; got {got!r}"


def _fail(path: Path, message: str) -> UsageError:
    return UsageError(f"sweep file {path}: {message}")


def _resolve_scenario(path: Path, name: str) -> Scenario:
    from experiments.run import read_scenario_file
    from experiments.scenarios import load_preset, preset_names

    if name in preset_names():
        return load_preset(name)
    if not name.endswith(".toml"):
        raise _fail(
            path,
            f"scenario: unknown scenario {name!r}; choose one of {', '.join(preset_names())}, "
            "or give a .toml scenario file",
        )
    file = Path(name).expanduser()
    if not file.is_absolute():
        file = path.parent / file
    if not file.is_file():
        raise _fail(path, f"scenario: cannot read scenario file {file} (no such file)")
    return read_scenario_file(file)["definition"]


def _coerce(path: Path, table: dict[str, Parameter], field: str, name: str, value: Any) -> Value:
    try:
        return table[name].coerce(value)
    except ValueError as err:
        raise _fail(path, f"{field} ({name}): {err}") from None


def _known(path: Path, table: dict[str, Parameter], field: str, name: str) -> Parameter:
    if name not in table:
        raise _fail(
            path,
            f"{field}: unknown parameter {name!r}; sweepable here: {', '.join(table)} "
            "(powderkeg sweep FILE --list-parameters describes them)",
        )
    return table[name]


def _parameter_values(
    path: Path, table: dict[str, Parameter], spec: ParameterSpec, i: int, design: DesignSpec
) -> list[Value] | tuple[float, float]:
    """Grid values (a list) or a (low, high) range of one ``[[parameters]]`` table."""
    field = f"parameters[{i}]"
    parameter = _known(path, table, f"{field}.name", spec.name)
    has_range = spec.low is not None or spec.high is not None
    if spec.values is not None and (has_range or spec.num is not None):
        raise _fail(path, f"{field} ({spec.name}): give either values or low/high, not both")
    if spec.values is not None:
        if design.kind in ("lhs", "sobol", "morris"):
            raise _fail(
                path,
                f"{field} ({spec.name}): a {design.kind} design samples ranges; "
                "give low and high instead of values",
            )
        values = [
            _coerce(path, table, f"{field}.values[{j}]", spec.name, v)
            for j, v in enumerate(spec.values)
        ]
        if len(set(map(repr, values))) != len(values):
            raise _fail(path, f"{field}.values ({spec.name}): a value is repeated")
        return values
    if spec.low is None or spec.high is None:
        raise _fail(path, f"{field} ({spec.name}): give values = [...], or both low and high")
    if not parameter.numeric:
        raise _fail(
            path,
            f"{field} ({spec.name}): a {parameter.kind} parameter takes values = [...], "
            f"not a range; allowed: {parameter.allowed()}",
        )
    if not (math.isfinite(spec.low) and math.isfinite(spec.high)) or not spec.low < spec.high:
        raise _fail(
            path, f"{field} ({spec.name}): low must be below high; got {spec.low}, {spec.high}"
        )
    for bound in ("low", "high"):
        value = getattr(spec, bound)
        if parameter.kind == "int" and not float(value).is_integer():
            raise _fail(path, f"{field}.{bound} ({spec.name}): must be an integer; got {value}")
        _coerce(path, table, f"{field}.{bound}", spec.name, value)
    if design.kind == "grid":
        if spec.num is None:
            raise _fail(path, f"{field} ({spec.name}): a grid over low..high needs num (>= 2)")
        if spec.num < 2:
            raise _fail(path, f"{field}.num ({spec.name}): must be at least 2; got {spec.num}")
        import numpy as np

        grid = np.linspace(spec.low, spec.high, spec.num)
        if parameter.kind == "int":
            grid = np.unique(np.round(grid))
        return [_coerce(path, table, f"{field}", spec.name, float(v)) for v in grid]
    if spec.num is not None:
        raise _fail(path, f"{field}.num ({spec.name}): num is for grid designs only")
    return (spec.low, spec.high)


def _check_design(path: Path, spec: SweepFile) -> None:
    design = spec.design
    if not spec.parameters:
        if design.kind != "grid":
            raise _fail(path, f"design.kind {design.kind!r} needs [[parameters]] to sample")
        return
    if design.kind == "grid" and design.samples is not None:
        raise _fail(path, "design.samples: a grid has no samples; its points are every combination")
    if design.kind != "grid" and design.samples is None:
        raise _fail(path, f"design.samples: a {design.kind} design needs samples (>= 1)")
    if design.kind == "sobol" and design.samples & (design.samples - 1):
        raise _fail(
            path, f"design.samples: a sobol design needs a power of two; got {design.samples}"
        )
    if design.kind == "morris" and design.levels % 2:
        raise _fail(path, f"design.levels: morris needs an even number; got {design.levels}")


def _read(path: Path) -> dict[str, Any]:
    path = Path(path).expanduser()
    if not path.is_file():
        reason = "is a directory" if path.is_dir() else "no such file"
        raise UsageError(f"argument FILE: cannot read sweep file {path} ({reason})")
    try:
        return read_toml(path)
    except UsageError as err:
        message = str(err).replace("scenario file", "sweep file")
        raise UsageError(message.replace("argument --scenario", "argument FILE")) from None


def scenario_of(path: Path) -> Scenario:
    """The scenario a sweep file names (for ``--list-parameters``; the rest is not checked)."""
    data = _read(path)
    name = data.get("scenario")
    if not isinstance(name, str) or not name:
        raise _fail(Path(path), "missing field 'scenario' (a preset name or a .toml file)")
    return _resolve_scenario(Path(path).expanduser(), name)


def load_sweep(path: Path) -> Sweep:
    """Read, check and expand a sweep file.

    Raises:
        UsageError: unreadable, not TOML, or any field unknown, of the wrong type, out of range,
            an unknown scenario or parameter, or a value the parameter does not allow.
    """
    from experiments.sweeps.design import expand

    path = Path(path).expanduser()
    data = _read(path)
    try:
        spec = SweepFile.model_validate(data)
    except ValidationError as err:
        raise _fail(path, _explain(err.errors()[0])) from None
    _check_design(path, spec)
    scenario = _resolve_scenario(path, spec.scenario)
    table = parameter_table(scenario)
    fixed = {
        name: _coerce(path, table, f"fixed.{name}", _known(path, table, "fixed", name).name, v)
        for name, v in spec.fixed.items()
    }
    swept: list[str] = []
    axes: list[list[Value] | tuple[float, float]] = []
    for i, parameter in enumerate(spec.parameters):
        if parameter.name in swept or parameter.name in fixed:
            raise _fail(path, f"parameters[{i}].name: {parameter.name!r} is set twice")
        axes.append(_parameter_values(path, table, parameter, i, spec.design))
        swept.append(parameter.name)
    _check_series(path, spec.output.series)
    rows, problem = expand(spec.design, [table[n] for n in swept], axes, path)
    if len(rows) > MAX_POINTS:
        raise _fail(path, f"design: {len(rows):,} points; at most {MAX_POINTS:,} are allowed")
    last_seed = spec.seed + (len(rows) if spec.seeds == "distinct" else 1) * spec.worlds - 1
    if last_seed >= 2**64:
        raise _fail(path, "seed: seed + points x worlds must stay below 2**64")
    points = tuple(
        Point(
            index=i,
            values={**fixed, **dict(zip(swept, row, strict=True))},
            seed=spec.seed + (i * spec.worlds if spec.seeds == "distinct" else 0),
        )
        for i, row in enumerate(rows)
    )
    return Sweep(
        path=path,
        spec=spec,
        name=spec.name or path.stem,
        scenario=scenario,
        table=table,
        swept=tuple(swept),
        points=points,
        problem=problem,
    )


def series_columns() -> tuple[str, ...]:
    """The series a run records per world and week (:func:`abm.reporting.column_names`)."""
    from abm.model import Powderkeg
    from abm.reporting import column_names

    model = Powderkeg(n_worlds=1, n_cohorts=4, backend="numpy", collect_agents=False)
    return tuple(c for c in column_names(model) if c != "clearing_converged")


def _check_series(path: Path, series: list[str]) -> None:
    known = series_columns()
    for i, name in enumerate(series):
        if name not in known:
            raise _fail(
                path, f"output.series[{i}]: unknown series {name!r}; allowed: " + ", ".join(known)
            )


__all__ = [
    "DEFAULT_SERIES",
    "DESIGNS",
    "MAX_POINTS",
    "DesignSpec",
    "OutputSpec",
    "ParameterSpec",
    "Point",
    "Sweep",
    "SweepFile",
    "load_sweep",
    "scenario_of",
    "series_columns",
]
