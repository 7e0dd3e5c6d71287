"""The files of ``powderkeg run``: Parquet tables, the manifest and the overview figure.

:func:`write_outputs` writes every file of :data:`experiments.run.OUTPUTS` under ``--out``, all
staged first and then moved into place (:func:`experiments.files.write_atomically`), so a run that
fails leaves the files that were there whole. :func:`manifest` is the run's record: parameters,
seeds, backend, versions, wall time, the convergence of every clearing, the accounting gaps at
the end and the headline numbers.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from experiments.files import git_commit, json_safe, write_atomically
from experiments.run import OUTPUTS, RunResult
from experiments.run_summary import summary_numbers
from experiments.usage import UsageError


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


__all__ = ["manifest", "write_outputs"]
