"""Export from the page: the tables as CSV or Parquet, and a replay file for ``powderkeg run``.

What a class or a researcher takes home from the app:

- **the series** (:func:`series_table`): every reported series of every world from week 0 to
  now, one row per week and world, the columns of ``powderkeg run``'s ``series.parquet``
  (:mod:`abm.reporting`);
- **the event log** (:func:`events_table`): defaults, fire sales, runs, depegs, rescues and the
  shocks fired from the page, oldest first, as the page's log words them;
- **the balance sheets** (:func:`balance_sheets`): every agent's cash, total assets,
  liabilities and equity (USD bn) and whether it failed, now, in the world on screen or in all;
- **the replay file** (:func:`run_file_text`): the preset, seed, worlds, cohorts and week, every
  policy lever, the calibration the levers changed and every shock schedule — the preset's
  (scaled by the shock-size lever) and each shock button pressed, with its week — as a TOML
  file that ``powderkeg run --scenario FILE`` replays exactly: its series equal the page's to
  the last bit at every week up to the file's (:mod:`experiments.replay`,
  ``tests/test_export.py``).

Tables come as CSV (:func:`csv_bytes`) or Parquet (:func:`parquet_bytes`) bytes. Each carries
what made it (scenario, seed, worlds, week, commit) and every column's unit
(:func:`experiments.columns.describe`): in Parquet as the file's metadata (``powderkeg``, JSON)
and each field's ``unit``; in CSV as ``#`` lines above the header (``pandas.read_csv(f,
comment="#")`` reads the table back; text fields are quoted). :func:`ExportPanel` is the
page's download buttons.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import solara
from mesa.visualization.utils import update_counter

from abm.reporting import agents_frame
from app.live import LiveRun
from experiments.columns import describe
from experiments.files import git_commit
from experiments.replay import replay_of, replay_text

#: The tables and the :func:`experiments.columns.describe` table their columns belong to.
TABLES = {"series": "series", "events": "records", "balance_sheets": "records"}

log = logging.getLogger("powderkeg.app")


def series_table(model: LiveRun) -> pd.DataFrame:
    """Every series of every world from week 0 to now: columns ``step``, ``world``, the series."""
    history = list(model.history)
    worlds = np.arange(model.n_worlds, dtype=np.int64)
    chunks = [
        {"step": np.full(model.n_worlds, week, dtype=np.int64), "world": worlds, **row}
        for week, row in enumerate(history)
    ]
    names = list(chunks[0])
    return pd.DataFrame({n: np.concatenate([np.asarray(c[n]) for c in chunks]) for n in names})


def events_table(model: LiveRun) -> pd.DataFrame:
    """The event log with the shocks fired from the page, oldest first (``world`` −1: all)."""
    frame = model.event_frame()
    return frame.sort_values(["step", "world"], kind="stable").reset_index(drop=True)


def balance_sheets(model: LiveRun, world: int | None = None) -> pd.DataFrame:
    """Every agent's balance sheet now (USD bn), in ``world`` or (None) in every world.

    Columns: ``week``, then those of :func:`abm.reporting.agents_frame` (world, name, label,
    family, kind, cash, total assets, liabilities, equity, failed).
    """
    frame = agents_frame(model)
    if world is not None:
        if not 0 <= world < model.n_worlds:
            raise ValueError(f"world must be from 0 to {model.n_worlds - 1}; got {world}")
        frame = frame[frame["world"] == world].reset_index(drop=True)
    return frame.assign(week=int(model.steps))[["week", *frame.columns]]


def provenance(model: LiveRun) -> dict[str, Any]:
    """What made the tables: scenario, seed, worlds, week, levers, time and commit."""
    git = git_commit()
    return {
        "made_by": "powderkeg app export",
        "scenario": model.preset,
        "seed": int(model.seed),
        "n_worlds": int(model.n_worlds),
        "week": int(model.steps),
        "levers": dict(model.levers),
        "shock_scale": model.shock_scale,
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": git.get("commit"),
        "git_dirty": git.get("dirty"),
    }


def units(frame: pd.DataFrame, table: str) -> dict[str, str]:
    """Each column's unit (:func:`experiments.columns.describe`; ``""`` for text)."""
    kind = TABLES[table]
    return {
        str(c): describe(str(c), kind).unit if frame[c].dtype.kind in "biuf" else ""
        for c in frame.columns
    }


def csv_bytes(frame: pd.DataFrame, table: str, about: dict[str, Any]) -> bytes:
    """``frame`` as CSV: ``#`` lines with ``about`` and the units, then the quoted table."""
    lines = [f"# {key}: {json.dumps(value, default=str)}" for key, value in about.items()]
    lines.append(f"# units: {json.dumps(units(frame, table))}")
    body = frame.to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    return ("\n".join(lines) + "\n" + body).encode("utf-8")


def parquet_bytes(frame: pd.DataFrame, table: str, about: dict[str, Any]) -> bytes:
    """``frame`` as Parquet: ``about`` as the file's ``powderkeg`` metadata, units per field."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    unit = units(frame, table)
    arrow = arrow.cast(
        pa.schema(
            [f.with_metadata({"unit": unit.get(f.name, "")}) for f in arrow.schema],
            metadata={
                **(arrow.schema.metadata or {}),
                b"powderkeg": json.dumps({**about, "table": table}, default=str).encode(),
            },
        )
    )
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer)
    return buffer.getvalue()


def _labels(model: LiveRun) -> list[str]:
    """What each attached shock schedule is: the preset's own, then each button pressed."""
    notes = iter(getattr(model, "notes", []))
    labels = []
    for number, schedule in enumerate(s for s in model.shock_schedules if s.shocks):
        first = min(s.week for s in schedule.shocks)
        if number == 0 and model.definition.shocks:
            labels.append(f"the preset's own shocks (x {model.shock_scale:g} shock size)")
            continue
        note = next(notes, None)
        what = f"button for {note['kind']}" if note else "shock button"
        labels.append(f"{what}, pressed to hit in week {first}")
    return labels


def run_file_text(model: LiveRun) -> str:
    """The replay file of ``model`` now (:mod:`experiments.replay`)."""
    replay = replay_of(
        model,
        model.preset,
        description=f"{model.definition.title}, as run in the app to week {int(model.steps)}",
    )
    about = provenance(model)
    header = [
        f"powderkeg replay: exported from the app on {about['created_utc']} "
        f"(git {about['git_commit']}{', uncommitted changes' if about['git_dirty'] else ''})",
        f"Replay: powderkeg run --scenario THIS_FILE.toml   # week {replay.model['steps']}, the "
        "series equal the app's",
        "Give --steps N to go on past the week of the export (pending shocks are kept).",
    ]
    return replay_text(replay, header=header, labels=_labels(model))


def table_of(model: LiveRun, table: str, world: int | None = None) -> pd.DataFrame:
    """The table named ``table`` (a key of :data:`TABLES`) for ``model``."""
    if table == "series":
        return series_table(model)
    if table == "events":
        return events_table(model)
    if table == "balance_sheets":
        return balance_sheets(model, world)
    raise KeyError(f"no table {table!r}; tables: {', '.join(TABLES)}")


def export_bytes(model: LiveRun, table: str, fmt: str, world: int | None = None) -> bytes:
    """``table`` of ``model`` as ``fmt`` (``csv`` or ``parquet``) bytes, with its provenance."""
    about = {**provenance(model), "world": "all" if world is None else world}
    frame = table_of(model, table, world)
    if fmt == "csv":
        return csv_bytes(frame, table, about)
    if fmt == "parquet":
        return parquet_bytes(frame, table, about)
    raise ValueError(f"format must be csv or parquet; got {fmt!r}")


def _guarded(make: Callable[[], bytes], what: str, problem: Any) -> Callable[[], bytes]:
    """``make`` for a download button, never raising.

    A failure is logged on the server, shown in ``problem`` and written into the file, so the
    page never shows a traceback.
    """

    def run() -> bytes:
        try:
            data = make()
        except Exception as err:  # the page outlives any export error; the log keeps it
            log.exception("export of %s failed", what)
            problem.set(f"Export of {what} failed: {type(err).__name__}: {err}")
            return f"export of {what} failed: {err}\n".encode()
        problem.set("")
        return data

    return run


#: The download rows: label, table, whether it is the world shown, file name part.
ROWS = (
    ("Series, all worlds", "series", False, "series"),
    ("Event log", "events", False, "events"),
    ("Balance sheets, world {world}", "balance_sheets", True, "balance-world{world}"),
    ("Balance sheets, all worlds", "balance_sheets", False, "balance-all"),
)


@solara.component
def ExportPanel(model: LiveRun, world: int | None = None) -> None:
    """Download buttons: series, events and balance sheets (CSV, Parquet) and the replay file.

    Place it anywhere in the page with the model SolaraViz passes, e.g. as a component of
    ``SolaraViz(model, components=[..., lambda m: ExportPanel(m, world=m.world)])`` or inside a
    tab: ``ExportPanel(model)``. ``world``: the world whose balance sheets the "world shown"
    buttons export (None: the model's ``world``, the one its agents show); the "all worlds"
    buttons export every world. Files are made when a button is clicked, from the model as it
    stands then; a model error is logged on the server and shown as one line in the panel.
    The buttons' functions are kept across renders (a new function would cancel a download that
    a step re-renders the panel during).
    """
    update_counter.get()  # redraw the week in the labels after every step
    problem = solara.use_reactive("")
    week = int(model.steps)
    shown = int(model.world if world is None else world)

    def makers() -> dict[tuple[str, str], Callable[[], bytes]]:
        made = {}
        for _, table, one, name in ROWS:
            which = shown if one else None
            for fmt in ("csv", "parquet"):
                made[(name, fmt)] = _guarded(
                    lambda t=table, f=fmt, w=which: export_bytes(model, t, f, w), name, problem
                )
        made[("replay", "toml")] = _guarded(
            lambda: run_file_text(model).encode("utf-8"), "the replay file", problem
        )
        return made

    buttons = solara.use_memo(makers, [model, shown])
    stem = f"powderkeg-{model.preset}-seed{model.seed}-week{week}"
    with solara.Card(f"Export (week {week})"):
        solara.Text(
            "Tables as CSV or Parquet, with their units and how they were made; the replay "
            "file reruns this run exactly: powderkeg run --scenario FILE.toml"
        )
        for label, _, _, name in ROWS:
            with solara.Row(style={"flex-wrap": "wrap", "align-items": "center"}):
                solara.Text(label.format(world=shown))
                for fmt in ("csv", "parquet"):
                    solara.FileDownload(
                        buttons[(name, fmt)],
                        filename=f"{stem}-{name.format(world=shown)}.{fmt}",
                        label=fmt.upper(),
                    )
        solara.FileDownload(
            buttons[("replay", "toml")],
            filename=f"{stem}.toml",
            label="Replay file (powderkeg run)",
            mime_type="application/toml",
        )
        if problem.value:
            solara.Error(problem.value)


__all__ = [
    "ROWS",
    "TABLES",
    "ExportPanel",
    "balance_sheets",
    "csv_bytes",
    "events_table",
    "export_bytes",
    "parquet_bytes",
    "provenance",
    "run_file_text",
    "series_table",
    "table_of",
    "units",
]
