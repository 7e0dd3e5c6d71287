"""The sweep file's schema: pydantic models of its tables, and its errors as one readable line.

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

:class:`SweepFile` checks the types, ranges and field names; :func:`explain` turns pydantic's
first error into ``field: what is wrong; got ...``. The names and values of the parameters are
checked later against the model's parameter table (:func:`experiments.config.load_sweep`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from experiments.usage import LIMITS

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


def explain(error: dict[str, Any]) -> str:
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


__all__ = [
    "DEFAULT_SERIES",
    "DESIGNS",
    "MAX_POINTS",
    "DesignSpec",
    "OutputSpec",
    "ParameterSpec",
    "SweepFile",
    "explain",
]
