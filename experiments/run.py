"""``powderkeg run``: one scenario, E worlds, headless; Parquet series, an event log and a figure.

The run has three stages, and bad input is caught in the first, before anything is written:

1. :func:`resolve_config` reads the flags and, for ``--scenario FILE.toml``, the scenario file;
   every value is checked (unknown keys, wrong types, values out of range) and a problem is one
   :class:`~experiments.usage.UsageError` naming the field and what is allowed.
2. :func:`execute` builds the model (:func:`experiments.build.build_model`), steps it with a
   progress bar on stderr, and keeps the series (:class:`abm.reporting.Recorder`) and the events
   (:class:`abm.events.EventLog`).
3. :func:`experiments.run_outputs.write_outputs` writes ``series.parquet``, ``events.parquet``,
   ``agents.parquet``, ``manifest.json`` and ``overview.png`` (:data:`OUTPUTS`) as the folder
   ``--out``: every file into a temporary sibling folder, then renamed in one step, so a run
   that fails leaves the folder that was there whole (``--out`` must be new, empty or an
   earlier run's unless ``--force``; :func:`experiments.run_outputs.check_out`); and
   :func:`experiments.run_summary.format_summary` is the table the command prints.

A scenario file looks like::

    scenario = "baseline"          # required: the preset it starts from
    description = "optional text"

    [model]                        # optional; flags given on the command line win
    n_cohorts = 1000
    n_worlds = 8
    seed = 1
    steps = 260

``scenario`` names a preset (``experiments/scenarios/*.toml``; ``powderkeg scenarios`` lists them),
whose shocks :func:`execute` schedules on the model (:mod:`abm.shocks`). A file with a preset's
keys instead (``story``, ``source``, ``[[shocks]]``, ``[policy]``; see :mod:`experiments.scenarios`)
is a whole scenario of its own.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.build import build_model
from experiments.scenarios import (
    Scenario,
    check_preset,
    is_preset_file,
    load_preset,
    preset_names,
    read_toml,
)
from experiments.shock_entries import check_shock_weeks
from experiments.usage import (
    LIMITS,
    UsageError,
    allowed,
    check_backend,
    check_memory,
    check_world_seeds,
)

#: Scenario presets: the files under experiments/scenarios/ (see experiments.scenarios).
SCENARIOS = preset_names()

#: Settings of a run that neither the flags nor the scenario file give.
DEFAULTS = {"steps": 260, "n_worlds": 1, "seed": 0, "n_cohorts": 1000}
TOP_LEVEL_KEYS = ("scenario", "description", "model")
#: The files a run writes under ``--out`` (:mod:`experiments.run_outputs`).
OUTPUTS = ("series.parquet", "events.parquet", "agents.parquet", "manifest.json", "overview.png")


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run.

    Attributes:
        scenario: the preset (``"baseline"``).
        scenario_file: the TOML file it came from, if any.
        description: the file's description, if any.
        steps: weeks to simulate.
        n_worlds: E, worlds simulated together.
        seed: world w draws from seed + w.
        n_cohorts: retail cohorts.
        backend: the backend asked for (``auto``, ``numpy`` or ``cupy``).
        out: the output directory.
        definition: the preset's story, sources, shocks and policy settings.
        dtype: the floating-point type of the state (``float64`` or ``float32``;
            :class:`abm.model.Powderkeg`).
    """

    scenario: str
    scenario_file: str | None
    description: str | None
    steps: int
    n_worlds: int
    seed: int
    n_cohorts: int
    backend: str
    out: Path
    definition: Scenario | None = None
    dtype: str = "float64"


def _looks_like_file(text: str) -> bool:
    if text.endswith(".toml") or os.sep in text or "/" in text:
        return True
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name the system cannot look up is no file
        return False


def read_scenario_file(path: Path) -> dict[str, Any]:
    """Read and check a scenario file; returns ``scenario``, ``description`` and ``model``.

    Raises:
        UsageError: unreadable, not TOML, or a field that is unknown, of the wrong type or out
            of range (one line naming the field and what is allowed).
    """
    where = f"scenario file {path}"
    data = read_toml(path)
    if is_preset_file(data):  # a whole scenario: story, source, [[shocks]], [policy]
        definition = check_preset(data, where)
        definition = Scenario(**{**definition.__dict__, "path": str(path)})
        return {
            "scenario": definition.name,
            "description": definition.title,
            "model": definition.model,
            "definition": definition,
        }

    unknown = [k for k in data if k not in TOP_LEVEL_KEYS]
    if unknown:
        raise UsageError(
            f"{where}: unknown key {unknown[0]!r}; allowed: scenario, description, [model]"
        )
    if "scenario" not in data:
        raise UsageError(
            f"{where}: missing key 'scenario'; set it to one of {', '.join(SCENARIOS)}"
        )
    scenario = data["scenario"]
    if not isinstance(scenario, str) or scenario not in SCENARIOS:
        raise UsageError(
            f"{where}: scenario must be one of {', '.join(repr(s) for s in SCENARIOS)}; "
            f"got {scenario!r}"
        )
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise UsageError(f"{where}: description must be a string; got {description!r}")
    model = data.get("model", {})
    if not isinstance(model, dict):
        raise UsageError(f"{where}: model must be a table ([model]); got {model!r}")
    checked: dict[str, int] = {}
    for key, value in model.items():
        if key not in LIMITS:
            raise UsageError(f"{where}: unknown key [model] {key!r}; allowed: {', '.join(LIMITS)}")
        lo, hi = LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise UsageError(f"{where}: [model] {key} must be {allowed(key)}; got {value!r}")
        checked[key] = value
    return {
        "scenario": scenario,
        "description": description,
        "model": checked,
        "definition": load_preset(scenario),
    }


def resolve_config(
    scenario: str,
    *,
    steps: int | None = None,
    n_worlds: int | None = None,
    seed: int | None = None,
    backend: str = "auto",
    out: Path | None = None,
    dtype: str = "float64",
) -> RunConfig:
    """Combine the flags (which win), the scenario file and the defaults; touch no files.

    Raises:
        UsageError: an unknown scenario or a bad scenario file.
    """
    scenario_file = None
    description = None
    from_file: dict[str, int] = {}
    if scenario in SCENARIOS:
        name = stem = scenario
        definition = load_preset(scenario)
        from_file = definition.model
    elif _looks_like_file(scenario):
        path = Path(scenario).expanduser()
        content = read_scenario_file(path)
        name, description, from_file, definition = (
            content["scenario"],
            content["description"],
            content["model"],
            content["definition"],
        )
        scenario_file, stem = str(path), path.stem
    else:
        raise UsageError(
            f"argument --scenario: unknown scenario {scenario!r}; choose one of "
            f"{', '.join(SCENARIOS)}, or give a .toml scenario file"
        )
    flags = {"steps": steps, "n_worlds": n_worlds, "seed": seed}
    values = {
        key: flags.get(key) if flags.get(key) is not None else from_file.get(key, DEFAULTS[key])
        for key in DEFAULTS
    }
    check_world_seeds(values["seed"], values["n_worlds"])
    if definition is not None:
        check_shock_weeks(definition.shocks, values["steps"], "argument --steps")
    return RunConfig(
        scenario=name,
        scenario_file=scenario_file,
        description=description,
        out=out if out is not None else Path("results") / stem,
        backend=backend,
        definition=definition,
        dtype=dtype,
        **values,
    )


# -- memory ----------------------------------------------------------------------------------

#: Peak memory of a model while it steps, per byte of its holdings (E x N x M float64, the
#: largest array), measured once with tracemalloc on the baseline (E = 8 and 32 worlds,
#: 1000 and 4000 cohorts: 9.6 to 10.3), rounded up.
MEMORY_FACTOR = 12
#: Bytes a run keeps per world and week: the recorded series row (about 480 bytes in the
#: frame) and the lists it is built from.
SERIES_BYTES = 1500
#: The interpreter, NumPy, pandas, Mesa and the calibration.
BASE_BYTES = 512 * 2**20


def model_size(n_cohorts: int) -> tuple[int, int]:
    """N (agents, retail cohorts included) and M (assets) of the model, without building it."""
    from abm.calibration import load_calibration
    from abm.market import AssetTable
    from abm.roster import build_roster

    cal = load_calibration()
    roster = build_roster(cal, 4)  # retail cohorts come last; count them, don't build them
    lo, hi = roster.blocks["retail"]
    return len(roster.names) - (hi - lo) + n_cohorts, len(AssetTable.from_calibration(cal).keys)


def memory_estimate(n_worlds: int, n_cohorts: int, steps: int) -> tuple[int, int]:
    """Bytes a run needs: (the model's arrays, everything else on the host)."""
    n, m = model_size(n_cohorts)
    model = MEMORY_FACTOR * n_worlds * n * m * 8
    return model, BASE_BYTES + n_worlds * (steps + 1) * SERIES_BYTES


def _device_free_bytes() -> int | None:
    try:
        import cupy

        return int(cupy.cuda.runtime.memGetInfo()[0])
    except Exception:  # no answer: no check
        return None


def check_run_memory(
    n_worlds: int, n_cohorts: int, steps: int, backend: str, flag: str = "--worlds"
) -> None:
    """Refuse, before anything is allocated, a run that needs more memory than is available.

    Raises:
        UsageError: ``argument --worlds: E worlds of N agents x M assets needs X GiB, Y GiB
            available; ...`` (the GPU's free memory for the model's arrays under ``cupy``).
    """
    model, host = memory_estimate(n_worlds, n_cohorts, steps)
    n, m = model_size(n_cohorts)
    what = f"{n_worlds} world{'s' * (n_worlds > 1)} of {n} agents x {m} assets"
    per_world = model // n_worlds + (host - BASE_BYTES) // n_worlds
    hint = f"give fewer worlds (about {per_world / 2**20:.1f} MiB each)"
    if backend == "cupy":
        free = _device_free_bytes()
        if free is not None and model > free:
            gib = 2.0**30
            raise UsageError(
                f"argument {flag}: {what} needs {model / gib:.1f} GiB of GPU memory, "
                f"{free / gib:.1f} GiB available; {hint}"
            )
        check_memory(host, flag, what, hint)
    else:
        check_memory(model + host, flag, what, hint)


# -- running ---------------------------------------------------------------------------------


def choose_run_backend(config: RunConfig) -> tuple[str, str]:
    """The backend of ``config``'s run and why: ``auto`` weighs its number of worlds.

    :func:`kernels.backend.choose_backend`: below ``AUTO_CUPY_MIN_WORLDS`` worlds NumPy even
    when a GPU answers (CuPy's fixed per-step cost), else CuPy when one answers;
    ``$POWDERKEG_BACKEND`` and an explicit ``--backend`` win. The reason goes on stderr and into
    the manifest.

    Raises:
        UsageError: the backend or ``$POWDERKEG_BACKEND`` is unknown, or CuPy was asked for and
            no GPU answers (one line, as :func:`experiments.usage.check_backend` words it).
    """
    from kernels.backend import choose_backend

    try:
        return choose_backend(config.backend, config.n_worlds)
    except (ValueError, RuntimeError):
        check_backend(config.backend)  # the same cause, raised as a one-line usage error
        raise


@dataclass
class RunResult:
    """What a run produced, in memory, before it is written."""

    config: RunConfig
    backend: str
    series: Any  # pandas.DataFrame
    events: Any
    agents: Any
    accounting_gap: dict[str, list[float]]
    wall_time_s: float
    roster_counts: dict[str, int]
    stop_reasons: dict[int, str] = field(default_factory=dict)
    backend_reason: str | None = None


def build_run_model(config: RunConfig, backend: str, **extra: Any) -> Any:
    """The model of ``config`` (its scenario, worlds, seed, cohorts), not yet stepped.

    ``extra`` goes to :func:`experiments.build.build_model` (channels, policy overrides).
    """
    return build_model(
        config.definition,
        n_worlds=config.n_worlds,
        seed=config.seed,
        backend=backend,
        n_cohorts=config.n_cohorts,
        dtype=config.dtype,
        **extra,
    )


def execute(
    config: RunConfig,
    backend: str,
    *,
    progress: bool = True,
    backend_reason: str | None = None,
    build: Callable[[RunConfig, str], Any] = build_run_model,
) -> RunResult:
    """Build the model, run ``config.steps`` weeks, and keep the series and the events.

    ``backend_reason`` (from :func:`choose_run_backend`) is kept with the result for the manifest.
    ``build`` makes the model (a replay file's builder: :func:`experiments.replay.resolve_replay`).
    """
    from tqdm import tqdm

    from abm.events import EventLog
    from abm.reporting import Recorder, agents_frame
    from kernels.backend import to_numpy

    start = time.perf_counter()
    model = build(config, backend)
    recorder, events = Recorder(), EventLog(model)
    recorder.record(model)
    bar = tqdm(
        total=config.steps,
        desc=f"{config.scenario} ({config.n_worlds} world{'s' * (config.n_worlds > 1)}, {backend})",
        unit="week",
        file=sys.stderr,
        disable=not progress,
        mininterval=0.5,
    )
    with bar:
        for _ in range(config.steps):
            model.step()
            recorder.record(model)
            events.update(model)
            bar.update(1)
    gaps = {k: [float(x) for x in to_numpy(v)] for k, v in model.accounting_gap().items()}
    counts = {f: hi - lo for f, (lo, hi) in model.roster.blocks.items()}
    return RunResult(
        config=config,
        backend=model.backend,
        series=recorder.frame(),
        events=events.frame(),
        agents=agents_frame(model),
        accounting_gap=gaps,
        wall_time_s=time.perf_counter() - start,
        roster_counts=counts,
        stop_reasons=dict(model.state.stop_reasons),
        backend_reason=backend_reason,
    )


__all__ = [
    "DEFAULTS",
    "MEMORY_FACTOR",
    "OUTPUTS",
    "SCENARIOS",
    "RunConfig",
    "RunResult",
    "build_run_model",
    "check_run_memory",
    "choose_run_backend",
    "execute",
    "memory_estimate",
    "model_size",
    "read_scenario_file",
    "resolve_config",
]
