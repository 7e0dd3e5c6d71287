"""``powderkeg run``: one scenario, E worlds, headless; Parquet series, an event log and a figure.

The run has three stages, and bad input is caught in the first, before anything is written:

1. :func:`resolve_config` reads the flags and, for ``--scenario FILE.toml``, the scenario file;
   every value is checked (unknown keys, wrong types, values out of range) and a problem is one
   :class:`~experiments.cli.UsageError` naming the field and what is allowed.
2. :func:`execute` builds the model, steps it with a progress bar on stderr, and keeps the
   series (:class:`abm.reporting.Recorder`) and the events (:class:`abm.events.EventLog`).
3. :func:`write_outputs` writes ``series.parquet``, ``events.parquet``, ``agents.parquet``,
   ``manifest.json`` and ``overview.png`` under ``--out``: every file first to a temporary file
   beside it, then all moved into place with ``os.replace``, so a run that fails leaves the files
   that were there whole.

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

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from experiments.cli import UsageError
from experiments.scenarios import (
    Scenario,
    check_preset,
    is_preset_file,
    load_preset,
    preset_names,
    read_toml,
)

#: Scenario presets: the files under experiments/scenarios/ (see experiments.scenarios).
SCENARIOS = preset_names()

#: Allowed range (inclusive) of every numeric setting, by its name in ``[model]``.
LIMITS: dict[str, tuple[int, int]] = {
    "steps": (0, 5200),  # up to a century of weeks
    "n_worlds": (1, 1_000_000),
    "n_cohorts": (4, 10_000_000),
    "seed": (0, 2**63 - 1),  # world w uses seed + w, which must stay below 2**64
}
DEFAULTS = {"steps": 260, "n_worlds": 1, "seed": 0, "n_cohorts": 1000}
#: Command-line flag of each setting that has one.
FLAGS = {"steps": "--steps", "n_worlds": "--worlds", "seed": "--seed"}
TOP_LEVEL_KEYS = ("scenario", "description", "model")
OUTPUTS = ("series.parquet", "events.parquet", "agents.parquet", "manifest.json", "overview.png")


def allowed(name: str) -> str:
    """``an integer from LO to HI`` for setting ``name``."""
    lo, hi = LIMITS[name]
    return f"an integer from {lo} to {hi}"


def flag_type(name: str) -> Callable[[str], int]:
    """An argparse ``type`` for setting ``name``: an int within :data:`LIMITS`."""
    import argparse

    lo, hi = LIMITS[name]

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be {allowed(name)}; got {text!r}")
        return value

    parse.__name__ = name  # argparse names the type in some messages
    return parse


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


def _looks_like_file(text: str) -> bool:
    return text.endswith(".toml") or os.sep in text or "/" in text or Path(text).is_file()


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
    if values["seed"] + values["n_worlds"] - 1 >= 2**64:
        raise UsageError("argument --seed: seed + worlds - 1 must stay below 2**64")
    return RunConfig(
        scenario=name,
        scenario_file=scenario_file,
        description=description,
        out=out if out is not None else Path("results") / stem,
        backend=backend,
        definition=definition,
        **values,
    )


# -- running ---------------------------------------------------------------------------------


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


def build_model(
    config: RunConfig,
    backend: str,
    *,
    channels: Any = None,
    policy_overrides: dict[str, Any] | None = None,
) -> Any:
    """The model of ``config``, not yet stepped: its preset's policy and shocks scheduled.

    ``channels`` (an :class:`abm.channels.Channels`; all on when None) switches contagion
    channels for ablation; ``policy_overrides`` replaces keys of the preset's ``[policy]`` (a
    preset's ``[compare]`` counterfactual); ``powderkeg run`` and ``powderkeg evidence`` both
    build here.
    """
    from abm.model import Powderkeg

    policy = None
    if config.definition is not None:
        from experiments.scenarios import policy_from

        policy = policy_from({**config.definition.policy, **(policy_overrides or {})})
    model = Powderkeg(
        n_worlds=config.n_worlds,
        seed=config.seed,
        backend=backend,
        n_cohorts=config.n_cohorts,
        policy=policy,
        channels=channels,
    )
    if config.definition is not None and config.definition.shocks:
        from abm.shocks import attach

        attach(model, config.definition.shocks)
    return model


def execute(config: RunConfig, backend: str, *, progress: bool = True) -> RunResult:
    """Build the model, run ``config.steps`` weeks, and keep the series and the events."""
    from tqdm import tqdm

    from abm.events import EventLog
    from abm.reporting import Recorder, agents_frame
    from kernels.backend import to_numpy

    start = time.perf_counter()
    model = build_model(config, backend)
    recorder, events = Recorder(), EventLog(model)
    recorder.record(model)
    bar = tqdm(
        total=config.steps,
        desc=f"{config.scenario} ({config.n_worlds} world{'s' * (config.n_worlds > 1)})",
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
    )


# -- summary ---------------------------------------------------------------------------------

FAMILY_NAMES = {
    "firm": "tech firms",
    "bank": "banks",
    "fund": "funds",
    "stablecoin": "stablecoin issuers",
    "retail": "retail cohorts",
}


def summary_numbers(result: RunResult) -> dict[str, Any]:
    """Headline numbers at the last step, per world, and the run's convergence record."""
    import numpy as np

    series = result.series
    last = series[series["step"] == series["step"].max()].sort_values("world")
    cleared = series[series["step"] > 0]
    failed = cleared.loc[~cleared["clearing_converged"].astype(bool), ["step", "world"]]
    numbers: dict[str, Any] = {
        "ai_equity_index": last["ai_equity_index"].to_numpy(float),
        "crypto_price": last["crypto_price"].to_numpy(float),
        "retail_loss_share": last["retail_loss_share"].to_numpy(float),
        "retail_loss_usd_bn": last["retail_loss_usd_bn"].to_numpy(float),
        "retail_loss_share_worst_decile": last["retail_loss_share_worst_decile"].to_numpy(float),
        "bank_cet1_min": last["bank_cet1_min"].to_numpy(float),
        "defaults": {
            f: last[f"defaults_{f}"].to_numpy(float)
            for f in FAMILY_NAMES
            if f"defaults_{f}" in last
        },
        "clearings": len(cleared),
        "not_converged": [{"step": int(s), "world": int(w)} for s, w in failed.to_numpy(np.int64)],
    }
    numbers["converged"] = not numbers["not_converged"]
    return numbers


def _stats(values: Any) -> tuple[float, float, float]:
    import numpy as np

    v = np.asarray(values, dtype=float)
    with np.errstate(all="ignore"):
        return (
            float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan"),
            float(np.nanpercentile(v, 5)) if np.isfinite(v).any() else float("nan"),
            float(np.nanpercentile(v, 95)) if np.isfinite(v).any() else float("nan"),
        )


def format_summary(result: RunResult, out: Path) -> str:
    """The table ``powderkeg run`` prints: headline numbers, median and 5–95% over worlds."""
    numbers = summary_numbers(result)
    cfg = result.config
    many = cfg.n_worlds > 1
    rows: list[tuple[str, Any, str]] = [
        ("AI equity index (start 1.00)", numbers["ai_equity_index"], "{:.2f}"),
        ("Crypto price (start 1.00)", numbers["crypto_price"], "{:.2f}"),
    ]
    for family, values in numbers["defaults"].items():
        rows.append((f"Defaults: {FAMILY_NAMES[family]}", values, "{:.0f}"))
    rows += [
        ("Retail loss (% of start wealth)", 100 * numbers["retail_loss_share"], "{:.2f}"),
        ("Retail loss (USD bn)", numbers["retail_loss_usd_bn"], "{:,.0f}"),
        (
            "Retail loss, worst-hit tenth (%)",
            100 * numbers["retail_loss_share_worst_decile"],
            "{:.2f}",
        ),
        ("Bank CET1 ratio, lowest bank (%)", 100 * numbers["bank_cet1_min"], "{:.1f}"),
    ]
    width = max(len(r[0]) for r in rows) + 2
    head = (
        f"powderkeg run · scenario {cfg.scenario} · {cfg.steps} weeks · {cfg.n_worlds} "
        f"world{'s' * many} · seed {cfg.seed} · {cfg.n_cohorts} cohorts · "
        f"backend {result.backend} · {result.wall_time_s:.1f} s"
    )
    lines = [head, ""]
    if many:
        lines.append(f"{'at the end':<{width}}{'median':>10}{'5%':>10}{'95%':>10}")
    else:
        lines.append(f"{'at the end':<{width}}{'value':>10}")
    for label, values, fmt in rows:
        med, lo, hi = _stats(values)
        cells = [med, lo, hi] if many else [med]
        lines.append(f"{label:<{width}}" + "".join(f"{fmt.format(c):>10}" for c in cells))
    failed = len(numbers["not_converged"])
    verdict = (
        f"yes (all {numbers['clearings']:,} clearings)"
        if numbers["converged"]
        else f"NO ({failed:,} of {numbers['clearings']:,} clearings did not converge)"
    )
    lines.append(f"{'Clearing converged':<{width}}{verdict}")
    gap = max((max(abs(x) for x in v) for v in result.accounting_gap.values()), default=0.0)
    lines.append(f"{'Accounting gap, largest (USD bn)':<{width}}{gap:.1e}")
    counts = result.events["event"].value_counts() if len(result.events) else {}
    described = ", ".join(f"{k} {v}" for k, v in dict(counts).items()) or "none"
    lines += ["", f"events: {len(result.events):,} ({described})"]
    lines.append(f"wrote {out}/: {', '.join(OUTPUTS)}")
    return "\n".join(lines)


# -- writing ---------------------------------------------------------------------------------


def json_safe(value: Any) -> Any:
    """JSON-safe: non-finite floats become None, NumPy scalars Python ones."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist"):
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def git_commit() -> dict[str, Any]:
    """The source tree's commit and whether it has uncommitted changes (None outside git)."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": head or None, "dirty": bool(dirty)}


def manifest(result: RunResult, argv: list[str] | None = None) -> dict[str, Any]:
    """Parameters, seed, backend, versions, wall time, convergence and accounting of a run."""
    import importlib.metadata

    import mesa
    import numpy as np

    try:
        version = importlib.metadata.version("powderkeg")
    except importlib.metadata.PackageNotFoundError:
        version = None
    numbers = summary_numbers(result)
    cfg = result.config
    config = asdict(cfg)
    config["out"] = str(cfg.out)
    return json_safe(
        {
            "schema": "powderkeg.run/1",
            "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": ["powderkeg", *(argv or ["run"])],
            "scenario": cfg.scenario,
            "scenario_file": cfg.scenario_file,
            "parameters": config,
            "seed": cfg.seed,
            "world_seeds": f"seed + world: {cfg.seed} to {cfg.seed + cfg.n_worlds - 1}",
            "backend": result.backend,
            "steps": cfg.steps,
            "n_worlds": cfg.n_worlds,
            "agents": result.roster_counts,
            "version": version,
            "git": git_commit(),
            "versions": {
                "python": platform.python_version(),
                "numpy": np.__version__,
                "mesa": mesa.__version__,
            },
            "wall_time_s": round(result.wall_time_s, 3),
            "clearing": {
                "all_converged": numbers["converged"],
                "clearings": numbers["clearings"],
                "not_converged": numbers["not_converged"],
            },
            "accounting_gap_end": {
                key: {"max_abs": max(abs(x) for x in values), "per_world": values}
                for key, values in result.accounting_gap.items()
            },
            "summary_end": {
                k: ({f: v.tolist() for f, v in value.items()} if isinstance(value, dict) else value)
                for k, value in numbers.items()
                if k not in ("not_converged", "clearings", "converged")
            },
            "events": {
                "count": len(result.events),
                "by_type": {
                    str(k): int(v) for k, v in result.events["event"].value_counts().items()
                },
            },
            "outputs": list(OUTPUTS),
        }
    )


def write_outputs(result: RunResult, out: Path, argv: list[str] | None = None) -> list[Path]:
    """Write every output under ``out``: all to temporary files first, then moved into place.

    Raises:
        UsageError: a file could not be written (the directory vanished, the disk is full);
            the files already under ``out`` are left as they were.
    """
    from experiments.figures import overview

    title = (
        f"powderkeg · {result.config.scenario} · {result.config.n_worlds} "
        f"world{'s' * (result.config.n_worlds > 1)} · seed {result.config.seed}"
    )
    writers: dict[str, Callable[[Path], None]] = {
        "series.parquet": lambda p: result.series.to_parquet(p, index=False),
        "events.parquet": lambda p: result.events.to_parquet(p, index=False),
        "agents.parquet": lambda p: result.agents.to_parquet(p, index=False),
        "manifest.json": lambda p: p.write_text(
            json.dumps(manifest(result, argv), indent=2, allow_nan=False) + "\n"
        ),
        "overview.png": lambda p: overview(result.series, p, title=title),
    }
    try:
        write_atomically({out / name: write for name, write in writers.items()})
    except OSError as err:
        raise UsageError(
            f"argument --out: cannot write results to {out} ({err.strerror or err})"
        ) from None
    return [out / name for name in writers]


def write_atomically(writers: dict[Path, Callable[[Path], None]]) -> None:
    """Write every file to a temporary name beside it, then move them all into place.

    A failure (``OSError``) leaves the files that were there before untouched and no temporary
    files behind.
    """
    umask = os.umask(0o022)
    os.umask(umask)
    staged: dict[Path, Path] = {}
    try:
        for path, write in writers.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            staged[path] = Path(tmp)
            write(staged[path])
            os.chmod(staged[path], 0o666 & ~umask)  # mkstemp makes files private
        for path, tmp in staged.items():
            os.replace(tmp, path)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)


__all__ = [
    "LIMITS",
    "SCENARIOS",
    "RunConfig",
    "RunResult",
    "build_model",
    "execute",
    "format_summary",
    "manifest",
    "read_scenario_file",
    "resolve_config",
    "write_outputs",
]
