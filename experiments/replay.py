"""Replay files: a run exactly as another program ran it, for ``powderkeg run --scenario FILE``.

The app (:mod:`app.export`) writes one for the model on the page: its preset, seed, worlds,
cohorts and week, every policy lever, the calibration leaves its levers changed, and every shock
schedule attached to the model — the preset's own shocks (scaled by the app's shock size) and
each shock button pressed, in order, with the weeks they hit. ``powderkeg run`` then builds the
same model and attaches the same schedules in the same order, so its series equal the app's to
the last bit at every week up to the file's ``steps`` (``tests/test_export.py``)::

    replay = 1                         # marks a replay file (format version 1)
    scenario = "crypto_ai_crash"       # the preset: its story and sources
    description = "optional text"

    [model]                            # as in a run file; flags on the command line win
    n_worlds = 4
    seed = 1
    steps = 12                         # the week the replay was taken at
    n_cohorts = 1000

    [policy]                           # every lever (abm.policy.Policy), "none" for None
    capital_regime = "own"

    [calibration]                      # calibration leaves replaced, by quoted dotted path
    "sentiment.crypto_correlation_panic" = 0.7

    [[shocks]]                         # a [[shocks]] entry of a preset, plus its schedule
    schedule = 1                       # 1, 2, ...: attached in this order, one schedule each
    kind = "crypto_sentiment"
    week = 4
    size = -0.17
    range = [-0.3, -0.1]
    source = "calibration.md §4 P4(b)"

Why schedules: a shock drawn from a range takes its per-world sizes from the random stream of its
position in its schedule (:mod:`abm.shocks`), so a button's shocks merged into the preset's list
would draw other sizes; and shocks of one week act in the order their schedules were attached.
A replay's ``[[shocks]]`` are the whole schedule: the preset's own list is not added, and its
``[policy]`` is replaced by the file's. Shocks after the file's ``steps`` are kept (they were
pending when the replay was taken, and a longer ``--steps`` plays them), unlike a scenario file
that refuses them.

:func:`replay_text` writes the file; :func:`is_replay_file` tells one apart from the other
scenario files, and :func:`resolve_replay` reads and checks it as ``powderkeg run`` reads a
scenario file (one :class:`~experiments.usage.UsageError` line naming the field), returning the
run's :class:`~experiments.run.RunConfig` and the function that builds its model.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from experiments.run import DEFAULTS, RunConfig, build_run_model
from experiments.scenarios import check_preset, load_preset, preset_names, read_toml
from experiments.usage import UsageError, check_world_seeds

if TYPE_CHECKING:
    from abm.calibration import Calibration
    from abm.model import Powderkeg
    from abm.policy import Policy
    from abm.shocks import Shock

#: The format version a replay file declares (``replay = 1``).
VERSION = 1
#: Keys of a replay file.
REPLAY_KEYS = ("replay", "scenario", "description", "model", "policy", "calibration", "shocks")


@dataclass(frozen=True)
class Replay:
    """What a replay file says: the preset, the run's settings, policy, calibration and shocks.

    Attributes:
        scenario: the preset the run started from.
        description: a line about the run, if any.
        model: ``n_worlds``, ``seed``, ``steps``, ``n_cohorts`` (those the file gives).
        policy: every lever, as a ``[policy]`` table writes it.
        calibration: calibration leaves replaced, by dotted path.
        schedules: the shock schedules, in the order they are attached.
    """

    scenario: str
    description: str | None
    model: dict[str, int]
    policy: dict[str, Any]
    calibration: dict[str, float]
    schedules: tuple[tuple[Shock, ...], ...]


# -- writing -------------------------------------------------------------------------------


def _toml(value: Any) -> str:
    """A TOML value: strings as basic strings, floats as their shortest exact repr."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are TOML's
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def policy_settings(policy: Policy) -> dict[str, Any]:
    """Every lever of ``policy`` as a ``[policy]`` table writes it (``"none"`` for None)."""
    from abm.policy import NONE_TEXT

    settings = {}
    for lever in type(policy).levers():
        value = getattr(policy, lever.name)
        settings[lever.name] = NONE_TEXT if value is None else value
    return settings


def changed_leaves(calibration: Calibration, packaged: Calibration) -> dict[str, float]:
    """The numeric leaves whose value in ``calibration`` differs from ``packaged``'s.

    Raises:
        ValueError: a leaf that is not a number changed, or a leaf was added or removed
            (a replay file can only replace numbers).
    """
    if set(calibration.leaves) != set(packaged.leaves):
        raise ValueError("the calibration's leaves differ from the packaged calibration's")
    changed = {}
    for path, leaf in calibration.leaves.items():
        if leaf.value == packaged.leaves[path].value:
            continue
        if isinstance(leaf.value, bool) or not isinstance(leaf.value, int | float):
            raise ValueError(f"calibration leaf {path} is not a number; a replay cannot set it")
        changed[path] = float(leaf.value)
    return changed


def shock_entry(shock: Shock, schedule: int) -> dict[str, Any]:
    """A ``[[shocks]]`` entry of ``shock`` in schedule number ``schedule`` (from 1)."""
    from abm.shocks import LASTING

    entry: dict[str, Any] = {
        "schedule": schedule,
        "kind": shock.kind,
        "week": shock.week,
        "size": float(shock.size),
    }
    if shock.range is not None:
        entry["range"] = [float(shock.range[0]), float(shock.range[1])]
    if shock.target:
        entry["target"] = list(shock.target)
    if shock.kind in LASTING:
        entry["weeks"] = shock.weeks
    entry["source"] = shock.source or "fired from the powderkeg app"
    if shock.note:
        entry["note"] = shock.note
    return entry


def replay_text(replay: Replay, *, header: Sequence[str] = (), labels: Sequence[str] = ()) -> str:
    """The TOML text of ``replay``, with ``header`` lines as comments on top.

    ``labels[k]`` is written as a comment above schedule k + 1's shocks (e.g. which button).
    """
    lines = [f"# {line}" for line in header]
    lines += [f"replay = {VERSION}", f"scenario = {_toml(replay.scenario)}"]
    if replay.description:
        lines.append(f"description = {_toml(replay.description)}")
    for table, values in (
        ("model", replay.model),
        ("policy", replay.policy),
        ("calibration", replay.calibration),
    ):
        if values:
            lines += ["", f"[{table}]"]
            lines += [f"{_toml(k) if '.' in k else k} = {_toml(v)}" for k, v in values.items()]
    for number, shocks in enumerate(replay.schedules, start=1):
        if number <= len(labels):
            lines += ["", f"# schedule {number}: {labels[number - 1]}"]
        for shock in shocks:
            lines += ["", "[[shocks]]"]
            lines += [f"{k} = {_toml(v)}" for k, v in shock_entry(shock, number).items()]
    return "\n".join(lines) + "\n"


def replay_of(model: Powderkeg, scenario: str, *, description: str | None = None) -> Replay:
    """The replay of ``model`` as it stands: its week, settings, policy, calibration, shocks.

    Raises:
        ValueError: the model runs with contagion channels switched off, or a calibration
            change a replay file cannot hold (:func:`changed_leaves`).
    """
    from abm.calibration import load_calibration
    from abm.channels import Channels

    if model.channels != Channels():
        raise ValueError("a replay file keeps every contagion channel on; this model has some off")
    lo, hi = model.roster.blocks["retail"]
    return Replay(
        scenario=scenario,
        description=description,
        model={
            "n_worlds": int(model.n_worlds),
            "seed": int(model.seed),
            "steps": int(model.steps),
            "n_cohorts": int(hi - lo),
        },
        policy=policy_settings(model.policy),
        calibration=changed_leaves(model.calibration, load_calibration()),
        schedules=tuple(tuple(s.shocks) for s in model.shock_schedules if s.shocks),
    )


# -- reading -------------------------------------------------------------------------------


def is_replay_file(scenario: str) -> bool:
    """Whether ``--scenario`` names a readable TOML file that declares ``replay``.

    Anything else (a preset name, a scenario file, an unreadable path) is left to
    :func:`experiments.run.resolve_config`, which words its own errors.
    """
    if scenario in preset_names() or not scenario.endswith(".toml"):
        return False
    try:
        return "replay" in read_toml(Path(scenario).expanduser())
    except (UsageError, OSError, ValueError, RuntimeError):
        return False


def with_leaves(calibration: Calibration, values: Mapping[str, float], origin: str) -> Calibration:
    """``calibration`` with the leaves of ``values`` replaced (their source names ``origin``)."""
    if not values:
        return calibration
    leaves = dict(calibration.leaves)
    for path, value in values.items():
        leaves[path] = dataclasses.replace(
            leaves[path], value=value, source=origin, status="estimate"
        )
    return dataclasses.replace(calibration, leaves=MappingProxyType(leaves))


def _check_calibration(table: Any, where: str) -> dict[str, float]:
    from abm.calibration import load_calibration

    if not isinstance(table, dict):
        raise UsageError(f"{where}: calibration must be a table ([calibration]); got {table!r}")
    leaves = load_calibration().leaves
    checked = {}
    for path, value in table.items():
        leaf = leaves.get(path)
        if leaf is None or isinstance(leaf.value, bool) or not isinstance(leaf.value, int | float):
            raise UsageError(
                f"{where}: [calibration] {path!r} is not a numeric leaf of the calibration; "
                'give a quoted dotted path such as "sentiment.crypto_correlation_panic"'
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise UsageError(
                f"{where}: [calibration] {path} must be a finite number; got {value!r}"
            )
        checked[path] = float(value)
    return checked


def _schedules(entries: Any, where: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The ``[[shocks]]`` entries without their ``schedule`` key, and each one's schedule."""
    if not isinstance(entries, list):
        raise UsageError(
            f"{where}: shocks must be an array of tables ([[shocks]]); got {entries!r}"
        )
    plain, numbers = [], []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise UsageError(f"{where}: shocks[{i}]: must be a table with schedule, kind, week")
        number = entry.get("schedule")
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise UsageError(
                f"{where}: shocks[{i}]: schedule must be an integer from 1 (the order the "
                f"shock schedules are attached in); got {number!r}"
            )
        plain.append({k: v for k, v in entry.items() if k != "schedule"})
        numbers.append(number)
    return plain, numbers


def read_replay(path: Path) -> Replay:
    """Read and check a replay file.

    Raises:
        UsageError: unreadable, not TOML, or a field that is unknown, of the wrong type or out
            of range (one line naming the field and what is allowed).
    """
    where = f"scenario file {path}"
    data = read_toml(path)
    unknown = [k for k in data if k not in REPLAY_KEYS]
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(REPLAY_KEYS)}")
    version = data.get("replay")
    if isinstance(version, bool) or version != VERSION:
        raise UsageError(f"{where}: replay must be {VERSION} (the format version); got {version!r}")
    scenario = data.get("scenario")
    if not isinstance(scenario, str) or scenario not in preset_names():
        raise UsageError(
            f"{where}: scenario must be one of {', '.join(map(repr, preset_names()))}; "
            f"got {scenario!r}"
        )
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise UsageError(f"{where}: description must be a string; got {description!r}")
    entries, numbers = _schedules(data.get("shocks", []), where)
    preset = load_preset(scenario)
    checked = check_preset(  # the [model], [policy] and [[shocks]] rules of a preset file
        {
            "name": scenario,
            "story": preset.story,
            "source": preset.source,
            "model": data.get("model", {}),
            "policy": data.get("policy", {}),
            "shocks": entries,
        },
        where,
    )
    groups: dict[int, list[Shock]] = {}
    for number, shock in zip(numbers, checked.shocks, strict=True):
        groups.setdefault(number, []).append(shock)
    return Replay(
        scenario=scenario,
        description=description,
        model=checked.model,
        policy=checked.policy,
        calibration=_check_calibration(data.get("calibration", {}), where),
        schedules=tuple(tuple(groups[n]) for n in sorted(groups)),
    )


def resolve_replay(
    scenario: str,
    *,
    steps: int | None = None,
    n_worlds: int | None = None,
    seed: int | None = None,
    backend: str = "auto",
    out: Path | None = None,
    dtype: str = "float64",
) -> tuple[RunConfig, Callable[[RunConfig, str], Powderkeg]]:
    """The run of the replay file ``scenario`` (flags win over its ``[model]``) and its builder.

    The builder makes the model as :func:`experiments.run.build_run_model` does, with the file's
    calibration and without the preset's shocks, then attaches each schedule in order.

    Raises:
        UsageError: as :func:`read_replay`, or seeds past 2**64.
    """
    from abm.calibration import load_calibration
    from abm.shocks import attach

    path = Path(scenario).expanduser()
    replay = read_replay(path)
    flags = {"steps": steps, "n_worlds": n_worlds, "seed": seed}
    values = {
        key: flags.get(key) if flags.get(key) is not None else replay.model.get(key, DEFAULTS[key])
        for key in DEFAULTS
    }
    check_world_seeds(values["seed"], values["n_worlds"])
    preset = load_preset(replay.scenario)
    definition = dataclasses.replace(
        preset,
        title=f"{preset.title} (replay)",
        shocks=tuple(s for group in replay.schedules for s in group),
        policy=replay.policy,
        model=replay.model,
        path=str(path),
        compare=(),
    )
    config = RunConfig(
        scenario=replay.scenario,
        scenario_file=str(path),
        description=replay.description,
        out=out if out is not None else Path("results") / path.stem,
        backend=backend,
        definition=definition,
        dtype=dtype,
        **values,
    )
    calibration = with_leaves(load_calibration(), replay.calibration, f"replay file {path}")

    def build(config: RunConfig, backend: str) -> Powderkeg:
        model = build_run_model(config, backend, shocks=(), calibration=calibration)
        for shocks in replay.schedules:
            attach(model, shocks)
        return model

    return config, build


__all__ = [
    "REPLAY_KEYS",
    "VERSION",
    "Replay",
    "changed_leaves",
    "is_replay_file",
    "policy_settings",
    "read_replay",
    "replay_of",
    "replay_text",
    "resolve_replay",
    "shock_entry",
    "with_leaves",
]
