"""The files of ``powderkeg run``: Parquet tables, the manifest and the overview figure.

:func:`write_outputs` writes every file of :data:`experiments.run.OUTPUTS` as the folder
``--out``: all into a temporary sibling folder first, then renamed in one step
(:func:`experiments.files.write_directory`), so a run that fails (or is interrupted) leaves the
folder that was there whole and no temporary folder behind. :func:`check_out` decides, before the
run, whether ``--out`` may be written: a new or empty folder, or an earlier run's (its
``manifest.json`` has schema ``powderkeg.run/...`` and it holds nothing but a run's files), which
the new run replaces; anything else (a sweep's results, other files) only with ``--force``, and
then the run's files are moved in beside what is there. :func:`manifest` is the run's record:
parameters, seeds, backend, versions, wall time, the convergence of every clearing, the
accounting gaps at the end and the headline numbers.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from experiments.files import git_commit, json_safe, write_directory
from experiments.run import OUTPUTS, RunResult
from experiments.run_summary import summary_numbers
from experiments.usage import UsageError

#: The schema of a run's manifest; a folder whose manifest has another is not a run's.
SCHEMA = "powderkeg.run/1"


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
            "schema": SCHEMA,
            "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": ["powderkeg", *(argv or ["run"])],
            "scenario": cfg.scenario,
            "scenario_file": cfg.scenario_file,
            "parameters": config,
            "seed": cfg.seed,
            "world_seeds": f"seed + world: {cfg.seed} to {cfg.seed + cfg.n_worlds - 1}",
            "backend": result.backend,
            "backend_reason": result.backend_reason,
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


def _manifest_schema(folder: Path) -> str | None:
    try:
        data = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    schema = data.get("schema") if isinstance(data, dict) else None
    return schema if isinstance(schema, str) else None


def folder_kind(out: Path) -> str:
    """What ``out`` is: ``missing``, ``empty``, ``run`` (an earlier run's folder) or ``other``.

    A run's folder has a ``manifest.json`` of schema ``powderkeg.run/...`` and holds nothing but
    the files of :data:`experiments.run.OUTPUTS`.
    """
    if not out.exists():
        return "missing"
    entries = [p.name for p in out.iterdir()]
    if not entries:
        return "empty"
    schema = _manifest_schema(out)
    is_run = schema is not None and schema.split("/")[0] == SCHEMA.split("/")[0]
    return "run" if is_run and set(entries) <= set(OUTPUTS) else "other"


def check_out(out: Path, *, force: bool = False) -> Path:
    """Check ``--out`` before the run; touches nothing.

    Returns:
        ``out`` with ``~`` expanded.

    Raises:
        UsageError: ``out`` is a file, or a folder holding anything but an earlier run's files
            (a sweep's results, notes) and ``force`` is not set.
    """
    out = out.expanduser()
    if out.exists() and not out.is_dir():
        raise UsageError(f"argument --out: {out} exists and is not a directory; give a directory")
    try:
        kind = folder_kind(out)
    except OSError as err:
        raise UsageError(
            f"argument --out: cannot read {out} ({err.strerror}); give a readable directory"
        ) from None
    if kind == "other" and not force:
        schema = _manifest_schema(out)
        others = sorted(p.name for p in out.iterdir() if p.name not in OUTPUTS)
        if schema is not None and schema.split("/")[0] != SCHEMA.split("/")[0]:
            what = f"results of another kind (manifest schema {schema!r})"
        else:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            what = f"files that are not an earlier powderkeg run's ({shown or 'manifest.json'})"
        raise UsageError(
            f"argument --out: {out} holds {what}; give a new or empty directory or an earlier "
            "run's (which is replaced), or add --force to write the run's files into it"
        )
    return out


def write_outputs(
    result: RunResult, out: Path, argv: list[str] | None = None, *, force: bool = False
) -> list[Path]:
    """Write every output as the folder ``out``: all into a temporary sibling folder, then renamed.

    An earlier run's folder is replaced; any other non-empty folder only with ``force``, and then
    the run's files are moved in beside what is there.

    Raises:
        UsageError: a file could not be written (the directory vanished, the disk is full), or
            ``out`` came to hold other files during the run; ``out`` is left as it was.
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
    out = check_out(out, force=force)  # again: the folder may have changed during the run
    kind = folder_kind(out)
    try:
        write_directory(out, writers, replace=kind == "run", merge=force and kind == "other")
    except OSError as err:
        raise UsageError(
            f"argument --out: cannot write results to {out} ({err.strerror or err})"
        ) from None
    return [out / name for name in writers]


__all__ = ["SCHEMA", "check_out", "folder_kind", "manifest", "write_outputs"]
