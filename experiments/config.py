"""Sweep files: read, checked against the model's parameter table, and expanded into points.

A sweep file (the format and its pydantic schema: :mod:`experiments.sweeps.spec`; examples in
``experiments/sweeps/*.toml``) names a scenario, the parameters it fixes and sweeps, and a design
that draws the points. Parameter names and values are checked against the scenario's parameter
table (:func:`experiments.sweeps.parameters.parameter_table`).

A policy lever's ``[[parameters]]`` table may leave out ``values``, ``low`` and ``high``: it then
sweeps the lever's span of settings worth exploring (:attr:`abm.policy.Lever.span`, e.g. a repo
haircut floor from 0 to 0.5); its range and unit come from the lever too.

:func:`load_sweep` reads a file and returns a :class:`Sweep` with its points. Every problem is
one :class:`~experiments.usage.UsageError` line naming the file, the field and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, ValidationError, create_model

from experiments.build import build_model
from experiments.run import read_scenario_file
from experiments.scenarios import Scenario, load_preset, preset_names, read_toml
from experiments.shock_entries import check_shock_weeks
from experiments.sweeps.design import design_size, expand
from experiments.sweeps.parameters import Parameter, Value, apply_values, parameter_table
from experiments.sweeps.spec import MAX_POINTS, DesignSpec, ParameterSpec, SweepFile, explain
from experiments.usage import UsageError


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


def _fail(path: Path, message: str) -> UsageError:
    return UsageError(f"sweep file {path}: {message}")


def _resolve_scenario(path: Path, name: str) -> Scenario:
    if name in preset_names():
        return load_preset(name)
    if not name.endswith(".toml"):
        raise _fail(
            path,
            f"scenario: unknown scenario {name!r}; choose one of {', '.join(preset_names())}, "
            "or give a .toml scenario file",
        )
    try:
        file = Path(name).expanduser()
    except (OSError, ValueError, RuntimeError) as err:  # ~user: no such user, or a NUL
        raise _fail(path, f"scenario: cannot read scenario file {name!r} ({err})") from None
    if not file.is_absolute():
        file = path.parent / file
    reason = _file_problem(file)
    if reason is not None:
        raise _fail(path, f"scenario: cannot read scenario file {file} ({reason})")
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
    low, high = spec.low, spec.high
    if low is None and high is None and parameter.span is not None:
        low, high = parameter.span  # a policy lever's span of settings worth exploring
    if low is None or high is None:
        raise _fail(path, f"{field} ({spec.name}): give values = [...], or both low and high")
    if not parameter.numeric:
        raise _fail(
            path,
            f"{field} ({spec.name}): a {parameter.kind} parameter takes values = [...], "
            f"not a range; allowed: {parameter.allowed()}",
        )
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise _fail(path, f"{field} ({spec.name}): low must be below high; got {low}, {high}")
    for bound, value in (("low", low), ("high", high)):
        if parameter.kind == "int" and not float(value).is_integer():
            raise _fail(path, f"{field}.{bound} ({spec.name}): must be an integer; got {value}")
        _coerce(path, table, f"{field}.{bound}", spec.name, value)
    if design.kind == "grid":
        if spec.num is None:
            raise _fail(path, f"{field} ({spec.name}): a grid over low..high needs num (>= 2)")
        if spec.num < 2:
            raise _fail(path, f"{field}.num ({spec.name}): must be at least 2; got {spec.num}")
        import numpy as np

        grid = np.linspace(low, high, spec.num)
        if parameter.kind == "int":
            grid = np.unique(np.round(grid))
        return [_coerce(path, table, f"{field}", spec.name, float(v)) for v in grid]
    if spec.num is not None:
        raise _fail(path, f"{field}.num ({spec.name}): num is for grid designs only")
    return (low, high)


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


def _file_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable regular file (None when it is one)."""
    try:
        if path.is_file():
            return None
        if path.is_dir():
            return "is a directory"
        return "not a regular file; give a .toml file" if path.exists() else "no such file"
    except OSError as err:  # e.g. File name too long
        return err.strerror or str(err)
    except ValueError as err:  # a NUL character
        return str(err)


def _read(path: Path) -> dict[str, Any]:
    try:
        path = Path(path).expanduser()
    except (OSError, ValueError, RuntimeError) as err:  # ~user: no such user, or a NUL
        raise UsageError(f"argument FILE: cannot read sweep file {path} ({err})") from None
    reason = _file_problem(path)
    if reason is not None:
        raise UsageError(f"argument FILE: cannot read sweep file {path} ({reason})")
    try:
        return read_toml(path)
    except UsageError as err:
        message = str(err).replace("scenario file", "sweep file")
        raise UsageError(message.replace("argument --scenario", "argument FILE")) from None


def _check_shock_weeks(path: Path, scenario: Scenario, points: tuple, steps: int) -> None:
    """Every point's shocks hit within the sweep's ``steps`` weeks (a later one never would)."""
    where = f"{path}: steps"
    if not points or not any("week" in name for name in points[0].values):
        check_shock_weeks(scenario.shocks, steps, where)  # no point moves a shock in time
        return
    for point in points:
        check_shock_weeks(apply_values(scenario, point.values)["shocks"], steps, where)


#: the ``scenario`` field of :class:`SweepFile` alone (extra fields ignored), for ``scenario_of``
_ScenarioOnly = create_model(
    "_ScenarioOnly",
    __config__=ConfigDict(strict=True),
    scenario=(str, SweepFile.model_fields["scenario"]),
)


def scenario_of(path: Path) -> Scenario:
    """The scenario a sweep file names (for ``--list-parameters``; the rest is not checked)."""
    data = _read(path)
    try:  # the scenario field checked as load_sweep checks it, so the messages are the same
        name = _ScenarioOnly.model_validate({k: v for k, v in data.items() if k == "scenario"})
    except ValidationError as err:
        raise _fail(Path(path), explain(err.errors()[0])) from None
    return _resolve_scenario(Path(path).expanduser(), name.scenario)


def load_sweep(path: Path) -> Sweep:
    """Read, check and expand a sweep file.

    Raises:
        UsageError: unreadable, not TOML, or any field unknown, of the wrong type, out of range,
            an unknown scenario or parameter, or a value the parameter does not allow.
    """
    path = Path(path).expanduser()
    data = _read(path)
    try:
        spec = SweepFile.model_validate(data)
    except ValidationError as err:
        raise _fail(path, explain(err.errors()[0])) from None
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
    count, how = design_size(spec.design, axes)
    if count > MAX_POINTS:  # counted before the points are built: a huge grid never takes memory
        raise _fail(path, f"design: {count:,} points ({how}); at most {MAX_POINTS:,} are allowed")
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
    _check_shock_weeks(path, scenario, points, spec.steps)
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
    from abm.reporting import column_names

    model = build_model(
        None, n_worlds=1, seed=0, n_cohorts=4, backend="numpy", collect_agents=False
    )
    return tuple(c for c in column_names(model) if c != "clearing_converged")


def _check_series(path: Path, series: list[str]) -> None:
    known = series_columns()
    for i, name in enumerate(series):
        if name not in known:
            raise _fail(
                path, f"output.series[{i}]: unknown series {name!r}; allowed: " + ", ".join(known)
            )


__all__ = [
    "Point",
    "Sweep",
    "load_sweep",
    "scenario_of",
    "series_columns",
]
