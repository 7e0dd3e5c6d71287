"""Scenario presets: TOML files under ``experiments/scenarios/``, read and checked here.

A preset says what happens (its ``story``), where it comes from (``source``: the seed article and
the calibration section of its sizes), which shocks hit when (``[[shocks]]``, applied by
:mod:`abm.shocks`), and which policy settings it assumes (``[policy]``)::

    name = "crypto_ai_crash"             # the file's stem
    title = "Crypto-AI sentiment crash with stablecoin run"
    story = "..."
    source = "seed 001 (Allen); calibration.md §4 P4"
    spotlight_fund = "hedge_20"          # optional: a hedge fund whose prime brokers
                                         # powderkeg evidence follows (their losses on it)

    [policy]                             # optional: abm.policy.Policy.levers()
    capital_regime = "us"

    [model]                              # optional, as in a run file: n_cohorts, n_worlds, ...
    steps = 260

    [[shocks]]
    kind = "crypto_sentiment"            # abm.shocks.KINDS
    week = 4                             # applied before the 4th weekly step
    size = -0.17                         # central size
    range = [-0.30, -0.10]               # optional: each world draws its size from it
    target = ["ai_spv_debt"]             # firms or assets, by kind (see abm.shocks)
    weeks = 52                           # lasting kinds only (abm.shocks.LASTING): how long
    source = "calibration.md §4 P4(b), verified 10 Oct 2025"
    note = "optional: what the size stands for"

**Policy settings.** ``[policy]`` is checked, printed by ``powderkeg scenarios show`` and written
to the run's ``manifest.json``. Its keys are the levers of :class:`abm.policy.Policy`, by field
name or alias (``backstop`` for the market maker of last resort, ``abs_share_of_ai_debt`` for the
share of the SPVs' bank loans securitised), each checked by the lever's own rule
(:meth:`abm.policy.Lever.parse`; ``"none"`` where a lever allows None) and made the model's
``Policy`` by :func:`policy_from`: bank capital rules, the hedge-fund leverage cap, the repo
haircut floor, deposit insurance, the backstop with its triggers and capacity (the calibration's
where a key is missing), the stablecoin reserve rule and its transition, the lender of last
resort, bailouts, SPV consolidation and securitisation, the exposure network's structure and the
EU banks' US AI exposure; :data:`POLICY_NOTE` names the aliases. ``[compare]`` names a
counterfactual policy for the same shocks (:func:`check_compare`), which ``powderkeg evidence``
runs beside the preset; several are named tables, one per counterfactual::

    [compare.us_capital]                 # one [compare.<name>] table per counterfactual
    label = "US capital"
    question = "Does EU capital give fewer bank failures than US capital?"
    policy = { capital_regime = "us" }
    metric = "bank_failures"
    better = "lower"

``spotlight_fund`` names one hedge fund of the roster (``hedge_1`` … ``hedge_20``, by leverage,
the last the most levered): ``powderkeg evidence`` then tables what its prime brokers (the banks
holding its ``bank_loans`` edges) lent it, lost on it, their CET1 ratios and failures, beside
the other banks (:mod:`experiments.evidence`). It needs the ``named_counterparties`` lever on
(the default) in ``[policy]`` and every ``[compare]`` policy: without named lenders a fund has
no brokers.

Every problem is a :class:`~experiments.usage.UsageError` of one line naming the file, the field
and what is allowed. The project reads only its own files here (the sizes are copied into the
presets from the research calibration, with their sources). One shock entry is checked by
:func:`experiments.shock_entries.check_shock`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from abm.policy import Lever, Policy
from abm.shocks import LASTING, Shock
from experiments.metrics import METRICS
from experiments.shock_entries import check_shock
from experiments.usage import LIMITS, UsageError, allowed

#: Where the presets live.
PRESET_DIR = Path(__file__).resolve().parent / "scenarios"
#: Keys of a preset file.
PRESET_KEYS = (
    "name",
    "title",
    "story",
    "source",
    "policy",
    "model",
    "shocks",
    "compare",
    "spotlight_fund",
)
#: Keys of the optional ``[compare]`` table: the same shocks under another policy.
COMPARE_KEYS = ("label", "question", "policy", "metric", "better")
POLICY_NOTE = (
    "the keys act through abm.policy.Policy ("
    + ", ".join(f"{a} is {lv.name}" for lv in Policy.levers() for a in lv.aliases)
    + ")"
)


def policy_keys() -> dict[str, Lever]:
    """Every key ``[policy]`` may use, with its lever: Policy's names and aliases."""
    return Policy.keys()


def policy_from(settings: dict[str, Any]) -> Policy:
    """The model's :class:`abm.policy.Policy` for a preset's ``[policy]`` table.

    Raises:
        ValueError: a key or value :func:`check_policy` would refuse.
    """
    return Policy.from_settings(settings)


@dataclass(frozen=True)
class Scenario:
    """A checked preset: its story and sources, its shocks and its policy settings."""

    name: str
    title: str
    story: str
    source: str
    shocks: tuple[Shock, ...] = ()
    policy: dict[str, Any] = field(default_factory=dict)
    model: dict[str, int] = field(default_factory=dict)
    path: str | None = None
    compare: tuple[dict[str, Any], ...] = ()
    spotlight_fund: str | None = None


def preset_names() -> tuple[str, ...]:
    """The presets shipped, baseline first, then alphabetical."""
    names = sorted(p.stem for p in PRESET_DIR.glob("*.toml"))
    return tuple(sorted(names, key=lambda n: (n != "baseline", n)))


def is_preset_file(data: dict[str, Any]) -> bool:
    """Whether a parsed TOML file is a preset rather than a run file.

    A preset has no ``scenario`` key but a preset's keys (``story``, ``shocks``, ...).
    """
    return "scenario" not in data and any(k in data for k in PRESET_KEYS if k != "model")


def check_policy(policy: Any, where: str) -> dict[str, Any]:
    """The ``[policy]`` table, each key checked by its lever's rule (:func:`policy_keys`)."""
    if not isinstance(policy, dict):
        raise UsageError(f"{where}: policy must be a table ([policy]); got {policy!r}")
    keys = policy_keys()
    seen: dict[str, str] = {}
    for key, value in policy.items():
        lever = keys.get(key)
        if lever is None:
            raise UsageError(f"{where}: unknown key [policy] {key!r}; allowed: {', '.join(keys)}")
        if lever.name in seen:
            raise UsageError(
                f"{where}: [policy] {seen[lever.name]} and {key} set the same lever; keep one"
            )
        seen[lever.name] = key
        try:
            lever.parse(value, key)
        except ValueError as err:
            raise UsageError(f"{where}: [policy] {err}") from None
    return dict(policy)


def check_compare(table: Any, where: str) -> tuple[dict[str, Any], ...]:
    """The optional ``[compare]`` table: counterfactual policies for the same shocks.

    One counterfactual is the table itself; several are named tables ``[compare.<name>]``, each
    with the same keys. ``label`` names the counterfactual (its row in the scenario table; the
    labels of one preset differ), ``question`` is what the comparison answers, ``policy``
    overrides keys of ``[policy]`` (checked like it), ``metric`` is a column of the scenario
    table (``experiments.metrics.METRICS``) and ``better`` says whether ``lower`` or ``higher``
    values of it are better for the preset. Each checked counterfactual carries its ``name``
    (the table's name; ``compare`` for the single form).
    """
    if table is None:
        return ()
    if not isinstance(table, dict):
        raise UsageError(f"{where}: compare must be a table ([compare]); got {table!r}")
    if not table or any(k in COMPARE_KEYS for k in table):
        return (_check_counterfactual(table, where, "compare"),)
    specs = []
    for name, spec in table.items():
        if not isinstance(spec, dict):
            raise UsageError(
                f"{where}: [compare] {name!r} must be a table ([compare.{name}]) or one of "
                f"{', '.join(COMPARE_KEYS)}; got {spec!r}"
            )
        specs.append(_check_counterfactual(spec, where, f"compare.{name}"))
    labels = [spec["label"] for spec in specs]
    for spec, label in zip(specs, labels, strict=True):
        if labels.count(label) > 1:
            raise UsageError(
                f"{where}: [{spec['name']}] label {label!r} is used twice; each counterfactual "
                "needs its own label"
            )
    return tuple(specs)


def _check_counterfactual(table: dict[str, Any], where: str, name: str) -> dict[str, Any]:
    """One counterfactual table (``[compare]`` or ``[compare.<name>]``), checked."""
    unknown = [k for k in table if k not in COMPARE_KEYS]
    if unknown:
        raise UsageError(
            f"{where}: unknown key [{name}] {unknown[0]!r}; allowed: {', '.join(COMPARE_KEYS)}"
        )
    for key in COMPARE_KEYS:
        if key not in table:
            raise UsageError(f"{where}: [{name}] needs {key!r}")
    for key in ("label", "question"):
        if not (isinstance(table[key], str) and table[key].strip()):
            raise UsageError(f"{where}: [{name}] {key} must be a non-empty string")
    metrics = [m.key for m in METRICS]
    if table["metric"] not in metrics:
        raise UsageError(
            f"{where}: [{name}] metric must be one of {', '.join(metrics)}; got {table['metric']!r}"
        )
    if table["better"] not in ("lower", "higher"):
        raise UsageError(
            f"{where}: [{name}] better must be 'lower' or 'higher'; got {table['better']!r}"
        )
    policy = check_policy(table["policy"], f"{where}: [{name}]")
    return {**table, "policy": policy, "name": name}


@cache
def hedge_fund_names() -> tuple[str, ...]:
    """The hedge funds of the packaged calibration's roster, in roster order."""
    from abm.calibration import load_calibration
    from abm.roster import build_roster

    roster = build_roster(load_calibration(), 4)
    return tuple(roster.names[i] for i in roster.indices("fund", "hedge"))


def check_spotlight_fund(value: Any, policies: list[dict[str, Any]], where: str) -> str | None:
    """The optional ``spotlight_fund``: one hedge fund's name (:func:`hedge_fund_names`).

    Its prime brokers exist only where loans name their lenders, so neither the preset's
    ``[policy]`` nor any ``[compare]`` policy over it (``policies``, checked) may turn the
    ``named_counterparties`` lever off (it is on by default).
    """
    if value is None:
        return None
    names = hedge_fund_names()
    if not isinstance(value, str) or value not in names:
        raise UsageError(
            f"{where}: spotlight_fund must name a hedge fund ({names[0]} to {names[-1]}); "
            f"got {value!r}"
        )
    keys = policy_keys()
    for policy in policies:
        named = [v for k, v in policy.items() if keys[k].name == "named_counterparties"]
        if not (named[-1] if named else Policy().named_counterparties):
            raise UsageError(
                f"{where}: spotlight_fund needs named_counterparties on in [policy] and in "
                "every [compare] policy: without it no bank is the fund's prime broker"
            )
    return value


def check_preset(data: dict[str, Any], where: str, stem: str | None = None) -> Scenario:
    """A parsed preset file as a :class:`Scenario`, or a one-line UsageError."""
    unknown = [k for k in data if k not in PRESET_KEYS]
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(PRESET_KEYS)}")
    for key in ("story", "source"):
        if key not in data:
            raise UsageError(f"{where}: missing key {key!r} (a preset needs a story and a source)")
    for key in ("name", "title", "story", "source"):
        if key in data and not (isinstance(data[key], str) and data[key].strip()):
            raise UsageError(f"{where}: {key} must be a non-empty string; got {data[key]!r}")
    name = data.get("name", stem or "scenario")
    if stem is not None and name != stem:
        raise UsageError(f"{where}: name must be the file's stem {stem!r}; got {name!r}")
    shocks = data.get("shocks", [])
    if not isinstance(shocks, list):
        raise UsageError(f"{where}: shocks must be an array of tables ([[shocks]]); got {shocks!r}")
    checked = tuple(check_shock(s, f"{where}: shocks[{i}]") for i, s in enumerate(shocks))
    policy = check_policy(data.get("policy", {}), where)
    compare = check_compare(data.get("compare"), where)
    model = data.get("model", {})
    if not isinstance(model, dict):
        raise UsageError(f"{where}: model must be a table ([model]); got {model!r}")
    for key, value in model.items():
        if key not in LIMITS:
            raise UsageError(f"{where}: unknown key [model] {key!r}; allowed: {', '.join(LIMITS)}")
        lo, hi = LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise UsageError(f"{where}: [model] {key} must be {allowed(key)}; got {value!r}")
    return Scenario(
        name=name,
        title=data.get("title", name),
        story=data["story"].strip(),
        source=data["source"].strip(),
        shocks=checked,
        policy=policy,
        model=dict(model),
        compare=compare,
        spotlight_fund=check_spotlight_fund(
            data.get("spotlight_fund"),
            [policy, *({**policy, **c["policy"]} for c in compare)],
            where,
        ),
    )


def read_toml(path: Path, *, max_bytes: int = 1 << 20, max_depth: int = 32) -> dict[str, Any]:
    """Parse a TOML file; a one-line UsageError if it cannot be read or parsed.

    Only a regular file of at most ``max_bytes`` (1 MiB) is read: a device such as ``/dev/zero``
    would be read until memory runs out, a named pipe would wait for a writer. Arrays and tables
    may nest at most ``max_depth`` levels deep.
    """
    import os
    import stat

    where = f"scenario file {path}"
    hint = "give a readable .toml file or a scenario name: " + ", ".join(preset_names())
    try:  # O_NONBLOCK: opening a named pipe does not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise UsageError(
            f"argument --scenario: cannot read {path} ({err.strerror or err}); {hint}"
        ) from None
    except ValueError as err:  # a NUL character in the path: no strerror
        raise UsageError(
            f"argument --scenario: cannot read {str(path)!r} ({err}); {hint}"
        ) from None
    reason, chunks = None, []
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            reason = "Is a directory"
        elif not stat.S_ISREG(mode):
            reason = "not a regular file: a device, pipe or socket"
        else:
            os.set_blocking(fd, True)
            left = max_bytes + 1
            while left > 0 and (chunk := os.read(fd, min(left, 1 << 16))):
                chunks.append(chunk)
                left -= len(chunk)
    except OSError as err:
        reason = err.strerror or str(err)
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if reason is not None:
        raise UsageError(f"argument --scenario: cannot read {path} ({reason}); {hint}")
    if len(raw) > max_bytes:
        raise UsageError(
            f"{where}: larger than {max_bytes:,} bytes, the most a TOML file may hold here; "
            "give a smaller file"
        )
    too_deep = f"{where}: arrays and tables nested too deep; at most {max_depth} levels allowed"
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not UTF-8 text; give a TOML file") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{where}: not valid TOML ({err})") from None
    except RecursionError:
        raise UsageError(too_deep) from None
    stack: list[tuple[Any, int]] = [(data, 1)]  # the nesting depth, without recursion
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise UsageError(too_deep)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return data


def load_file(path: Path) -> Scenario:
    """Read and check a preset-format file (any path)."""
    path = Path(path)
    data = read_toml(path)
    scenario = check_preset(data, f"scenario file {path}", stem=None)
    return Scenario(**{**scenario.__dict__, "path": str(path)})


def load_preset(name: str) -> Scenario:
    """A shipped preset by name; unknown names give a one-line UsageError listing them."""
    names = preset_names()
    if name not in names:
        raise UsageError(
            f"unknown scenario {name!r}; choose one of {', '.join(names)}, "
            "or give a .toml scenario file"
        )
    path = PRESET_DIR / f"{name}.toml"
    scenario = check_preset(read_toml(path), f"scenario file {path}", stem=name)
    return Scenario(**{**scenario.__dict__, "path": str(path)})


def describe(scenario: Scenario) -> str:
    """The text ``powderkeg scenarios show`` prints: story, shocks, sources, policy."""
    lines = [
        f"{scenario.name}: {scenario.title}",
        "",
        scenario.story,
        "",
        f"source: {scenario.source}",
    ]
    if scenario.spotlight_fund:
        lines += ["", f"spotlight fund: {scenario.spotlight_fund} (its prime brokers' losses)"]
    lines += ["", f"shocks ({len(scenario.shocks)}):" if scenario.shocks else "shocks: none"]
    for s in scenario.shocks:
        span = f" (per world {s.range[0]:+g} to {s.range[1]:+g})" if s.range else ""
        target = f" on {', '.join(s.target)}" if s.target else ""
        weeks = f" for {s.weeks} weeks" if s.kind in LASTING else ""
        lines.append(f"  week {s.week:>3}  {s.kind:<18} {s.size:+g}{span}{target}{weeks}")
        if s.note:
            lines.append(f"             {s.note}")
        lines.append(f"             source: {s.source}")
    if scenario.policy:
        lines += ["", "policy:"]
        lines += [f"  {k} = {v!r}" for k, v in scenario.policy.items()]
        lines.append(f"  note: {POLICY_NOTE}")
    for c in scenario.compare:
        lines += ["", f"compared with: {c['label']} (the same shocks)"]
        lines += [f"  {k} = {v!r}" for k, v in c["policy"].items()]
        lines.append(f"  question: {c['question']} ({c['metric']}, {c['better']} is better)")
    return "\n".join(lines)


__all__ = [
    "POLICY_NOTE",
    "PRESET_DIR",
    "Scenario",
    "check_compare",
    "check_preset",
    "describe",
    "hedge_fund_names",
    "is_preset_file",
    "load_file",
    "load_preset",
    "policy_from",
    "policy_keys",
    "preset_names",
]
