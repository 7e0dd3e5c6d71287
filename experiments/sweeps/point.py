"""One sweep point on a worker: E worlds in one vectorized model, reduced to tables.

:func:`run_point` is what a Dask worker calls. It builds the point's model
(:func:`experiments.sweeps.parameters.build_point_model`: the scenario with the point's policy,
channels, shocks and model settings), steps it ``steps`` weeks on the worker's backend (CuPy when
a GPU answers and the backend is ``auto``), and returns two tables and a record:

- ``worlds``: one row per world: ``point``, ``world``, ``seed`` (that world's seed), the point's
  parameter values (one column per parameter name), the headline numbers of
  :func:`experiments.metrics.world_metrics` (peak AI-bond spread widening, AI equity drawdown,
  defaults by family, bank failures, the lowest peg, fire-sale volume, retail and institutions'
  losses), ``banking_crisis`` (at least one bank failed), ``bank_cet1_low`` (the lowest CET1
  ratio of any bank still alive in any week: how close the banks came), ``clearing_converged``
  (every market clearing of that world converged) and ``accounting_gap_usd_bn`` (the largest
  gap of the books at the end; ~0);
- ``series``: one row per world and week (step 0 = the calibrated start) with the columns the
  sweep keeps (``[output] series``);
- the record: wall time, CPU time of the worker process (the same as wall time on an idle
  core; more telling on a shared machine), backend and worker (host, pid), for the manifest
  (never in the tables, so a rerun gives the same tables).

A world whose state became non-finite (the series' ``world_stopped``, true from that week on;
absent in older models: no world stopped) makes the whole point fail
(:class:`PointFailed`, "non-finite state in week W of world w"): its numbers are not results,
so it is never written, never counted among bank failures or converged points, and the sweep
records it in the manifest's ``failed`` table like a point whose model raised.

Nothing here touches the results directory: the sweep's own process writes what comes back.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from experiments.metrics import world_metrics
from experiments.scenarios import Scenario
from experiments.sweeps.parameters import Value, build_point_model


@dataclass(frozen=True)
class PointTask:
    """Everything a worker needs for one point (small and picklable).

    Attributes:
        point: the point's number.
        values: the parameter values it sets.
        scenario: the scenario it starts from.
        seed: world w draws from seed + w.
        worlds: E, worlds simulated together.
        steps: weeks.
        backend: ``auto``, ``numpy`` or ``cupy``.
        series: series columns kept per world and week.
        columns: (name, kind) of every parameter column of the sweep (the same columns, of
            the same types, in every file; a float set to None is NaN).
    """

    point: int
    values: dict[str, Value]
    scenario: Scenario
    seed: int
    worlds: int
    steps: int
    backend: str
    series: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]


class PointFailed(RuntimeError):
    """A point whose results are not to be trusted (a world's state became non-finite)."""


def first_stop(series: Any) -> tuple[int, int, int] | None:
    """(week, world, worlds stopped) of the first world that stopped, or None (see below)."""
    if "world_stopped" not in series:
        return None
    stopped = series[series["world_stopped"].fillna(False).astype(bool)]
    if stopped.empty:
        return None
    first = stopped.sort_values(["step", "world"], kind="stable").iloc[0]
    return int(first["step"]), int(first["world"]), int(stopped["world"].nunique())


def stopped_reason(series: Any, causes: dict[int, str] | None = None) -> str | None:
    """Why a point's series are not results, or None when every world ran to the end.

    A world stopped when its ``world_stopped`` is true in some week (the column is optional:
    absent means no world stopped). The reason names the first such week and world:
    ``non-finite state in week W of world w``, with the model's cause for that world when
    ``causes`` (world to cause) has one, and how many worlds stopped if more than one.
    """
    stop = first_stop(series)
    if stop is None:
        return None
    week, world, n = stop
    cause = (causes or {}).get(world)
    return (
        f"non-finite state in week {week} of world {world}"
        + (f" ({cause})" if cause else "")
        + (f"; {n} worlds stopped" if n > 1 else "")
    )


@dataclass
class PointResult:
    """What a worker sends back for one point."""

    point: int
    worlds: Any  # pandas.DataFrame
    series: Any  # pandas.DataFrame
    record: dict[str, Any]


def run_point(task: PointTask) -> PointResult:
    """Run one point's E worlds for ``task.steps`` weeks and reduce them (module docstring)."""
    import numpy as np
    import pandas as pd

    from abm.reporting import record_weeks
    from kernels.backend import to_numpy

    start, cpu_start = time.perf_counter(), time.process_time()
    model = build_point_model(
        task.scenario, task.values, n_worlds=task.worlds, seed=task.seed, backend=task.backend
    )
    series = record_weeks(model, task.steps)
    causes = getattr(getattr(model, "state", None), "stop_reasons", None)
    reason = stopped_reason(series, causes if isinstance(causes, dict) else None)
    if reason is not None:
        raise PointFailed(reason)
    numbers = world_metrics(series, model)
    cleared = series[series["step"] > 0]
    converged = cleared.groupby("world")["clearing_converged"].all()
    converged = converged.reindex(range(task.worlds), fill_value=True).to_numpy(bool)
    gaps = np.max(np.abs(np.stack([to_numpy(v) for v in model.accounting_gap().values()])), axis=0)
    broken = np.flatnonzero(~np.isfinite(gaps))
    if broken.size:  # books that no longer add up to a number: not results either
        raise PointFailed(f"non-finite accounting gap at the end in world {int(broken[0])}")
    world = np.arange(task.worlds, dtype=np.int64)
    head: dict[str, Any] = {
        "point": np.full(task.worlds, task.point, dtype=np.int64),
        "world": world,
        "seed": np.asarray([task.seed + w for w in range(task.worlds)], dtype=np.uint64),
    }
    for name, kind in task.columns:
        head[name] = _column(task.values.get(name), kind, task.worlds)
    worlds = pd.DataFrame(
        {
            **head,
            **{k: np.asarray(v, dtype=float) for k, v in numbers.items()},
            "banking_crisis": np.asarray(numbers["bank_failures"]) >= 1,
            "bank_cet1_low": _lowest(series, "bank_cet1_min", task.worlds),
            "clearing_converged": converged,
            "accounting_gap_usd_bn": np.asarray(gaps, dtype=float),
        }
    )
    kept = series[["step", "world", *task.series]].copy()
    kept.insert(0, "point", np.int64(task.point))
    record = {
        "wall_s": round(time.perf_counter() - start, 3),
        "cpu_s": round(time.process_time() - cpu_start, 3),
        "backend": model.backend,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "clearing_converged": bool(converged.all()),
        "accounting_gap_usd_bn": float(gaps.max()) if gaps.size else 0.0,
    }
    return PointResult(point=task.point, worlds=worlds, series=kept, record=record)


def _lowest(series: Any, column: str, n_worlds: int) -> Any:
    """(E,) the lowest value of ``column`` over the weeks, per world (NaN where never finite)."""
    import numpy as np

    if column not in series:
        return np.full(n_worlds, np.nan)
    low = series.groupby("world")[column].min()
    return low.reindex(range(n_worlds)).to_numpy(float)


#: pandas dtype of a parameter column, by parameter kind; and when the value is None (the
#: same Arrow type, with nulls), so every point's file has the same schema.
DTYPES = {"bool": "bool", "int": "int64", "float": "float64", "text": "string"}
NULLABLE_DTYPES = {"bool": "boolean", "int": "Int64", "float": "float64", "text": "string"}


def _column(value: Value, kind: str, n: int) -> Any:
    """``n`` copies of one parameter value, typed by the parameter's kind (None: NaN/null)."""
    import pandas as pd

    if value is None and kind == "float":
        value = float("nan")
    dtype = DTYPES[kind] if value is not None else NULLABLE_DTYPES[kind]
    return pd.array([value] * n, dtype=dtype)


__all__ = ["PointFailed", "PointResult", "PointTask", "first_stop", "run_point", "stopped_reason"]
