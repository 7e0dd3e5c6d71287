"""Scenario presets: TOML files under ``experiments/scenarios/``, read and checked here.

A preset says what happens (its ``story``), where it comes from (``source``: the seed article and
the calibration.md section of its sizes), which shocks hit when (``[[shocks]]``, applied by
:mod:`abm.shocks`), and which policy settings it assumes (``[policy]``)::

    name = "crypto_ai_crash"             # the file's stem
    title = "Crypto-AI sentiment crash with stablecoin run"
    story = "..."
    source = "seed 001 (Allen); calibration.md §4 P4"

    [policy]                             # optional, see POLICY
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
to the run's ``manifest.json``. The keys of :data:`POLICY_FIELDS` become the model's
:class:`abm.policy.Policy` (:func:`policy_from`): one region's CET1 rules for every bank; the
market maker of last resort (``backstop``) with its IG-spread and stablecoin-redemption triggers
and its capacity (``backstop_*``; the calibration's values where a key is missing); the lender of
last resort; bailouts; the stablecoin reserve rule; SPV consolidation; the share of the SPVs'
bank loans securitised (``abs_share_of_ai_debt``). EU banks' exposure is recorded only (the
calibration sets it); :data:`POLICY_NOTE` says so. ``[compare]`` names a counterfactual policy
for the same shocks (:func:`check_compare`), which ``powderkeg evidence`` runs beside the preset.

Every problem is a :class:`~experiments.cli.UsageError` of one line naming the file, the field
and what is allowed. The project reads only its own files here (the sizes are copied from the
research calibration notes (calibration.md §4) into the presets, with their sources).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from abm.shocks import ASSET_TARGETS, FIRM_TARGETS, KINDS, LASTING, Shock
from experiments.cli import UsageError

#: Where the presets live.
PRESET_DIR = Path(__file__).resolve().parent / "scenarios"
#: Keys of a preset file.
PRESET_KEYS = ("name", "title", "story", "source", "policy", "model", "shocks", "compare")
#: Keys of the optional ``[compare]`` table: the same shocks under another policy.
COMPARE_KEYS = ("label", "question", "policy", "metric", "better")
#: Keys of one ``[[shocks]]`` entry.
SHOCK_KEYS = ("kind", "week", "size", "range", "target", "weeks", "source", "note")
#: Policy settings: key -> (allowed values, or a (lo, hi) number range, or bool).
POLICY: dict[str, Any] = {
    "capital_regime": ("us", "eu"),
    "backstop": bool,
    "lender_of_last_resort": bool,
    "bailouts": bool,
    "stablecoin_reserve_rule": bool,
    "backstop_trigger_ig_oas_bp": (0.0, 10_000.0),
    "backstop_trigger_redemptions_48h": (0.0, 1.0),
    "backstop_capacity_gdp_share": (0.0, 1.0),
    "eu_bank_us_ai_exposure_share": (0.0, 1.0),
    "abs_share_of_ai_debt": (0.0, 1.0),
    "spv_consolidation": bool,
}
#: preset keys -> abm.policy.Policy fields they set (the backstop_* keys override calibration)
POLICY_FIELDS = {
    "capital_regime": "capital_regime",
    "backstop": "market_maker_of_last_resort",
    "backstop_trigger_ig_oas_bp": "backstop_trigger_ig_oas_bp",
    "backstop_trigger_redemptions_48h": "backstop_trigger_redemptions_48h",
    "backstop_capacity_gdp_share": "backstop_capacity_gdp_share",
    "lender_of_last_resort": "lender_of_last_resort",
    "bailouts": "bailouts",
    "stablecoin_reserve_rule": "stablecoin_reserve_rule",
    "spv_consolidation": "spv_consolidation",
    "abs_share_of_ai_debt": "abs_share_of_spv_loans",
}
POLICY_NOTE = (
    "capital_regime, backstop (with its triggers and capacity), lender_of_last_resort, bailouts, "
    "stablecoin_reserve_rule, spv_consolidation and abs_share_of_ai_debt act through "
    "abm.policy; eu_bank_us_ai_exposure_share is recorded (manifest.json): the calibration's "
    "banks.eu.us_ai_debt_share sets the EU banks' AI bonds"
)


def policy_from(settings: dict[str, Any]) -> Any:
    """The model's :class:`abm.policy.Policy` for a preset's ``[policy]`` table."""
    from abm.policy import Policy

    return Policy(**{POLICY_FIELDS[k]: v for k, v in settings.items() if k in POLICY_FIELDS})


MAX_WEEK = 5200


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
    compare: dict[str, Any] | None = None


def preset_names() -> tuple[str, ...]:
    """The presets shipped, baseline first, then alphabetical."""
    names = sorted(p.stem for p in PRESET_DIR.glob("*.toml"))
    return tuple(sorted(names, key=lambda n: (n != "baseline", n)))


def is_preset_file(data: dict[str, Any]) -> bool:
    """Whether a parsed TOML file is a preset rather than a run file.

    A preset has no ``scenario`` key but a preset's keys (``story``, ``shocks``, ...).
    """
    return "scenario" not in data and any(k in data for k in PRESET_KEYS if k != "model")


@cache
def _vocabulary() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(firm kinds and names, asset keys and classes) of the packaged calibration."""
    from abm.balance_sheets import build_roster
    from abm.calibration import load_calibration
    from abm.market import AssetTable

    cal = load_calibration()
    roster = build_roster(cal, 4)
    rows = roster.indices("firm")
    firms = tuple(sorted({roster.kind[i] for i in rows})) + tuple(roster.names[i] for i in rows)
    table = AssetTable.from_calibration(cal)
    assets = tuple(sorted(set(table.asset_class))) + tuple(table.keys)
    return firms, assets


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _size_rule(kind: str) -> str:
    lo, hi, closed = KINDS[kind]
    low = f">= {lo}" if closed else f"> {lo}"
    return f"a number {low}" + ("" if math.isinf(hi) else f" and <= {hi}")


def _size_ok(kind: str, value: float) -> bool:
    lo, hi, closed = KINDS[kind]
    return (value >= lo if closed else value > lo) and value <= hi


def check_shock(entry: Any, where: str) -> Shock:
    """One ``[[shocks]]`` entry as a :class:`~abm.shocks.Shock`, or a one-line UsageError."""
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: must be a table with kind, week, size, source")
    unknown = [k for k in entry if k not in SHOCK_KEYS]
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(SHOCK_KEYS)}")
    for key in ("kind", "week", "size", "source"):
        if key not in entry:
            raise UsageError(f"{where}: missing key {key!r}")
    kind = entry["kind"]
    if kind not in KINDS:
        raise UsageError(f"{where}: kind must be one of {', '.join(KINDS)}; got {kind!r}")
    week = entry["week"]
    if isinstance(week, bool) or not isinstance(week, int) or not 1 <= week <= MAX_WEEK:
        raise UsageError(f"{where}: week must be an integer from 1 to {MAX_WEEK}; got {week!r}")
    size = entry["size"]
    if not _number(size) or not _size_ok(kind, size):
        raise UsageError(
            f"{where}: size of a {kind} shock must be {_size_rule(kind)}; got {size!r}"
        )
    span = entry.get("range")
    if span is not None:
        if (
            not isinstance(span, list)
            or len(span) != 2
            or not all(_number(v) and _size_ok(kind, v) for v in span)
            or not span[0] <= size <= span[1]
        ):
            raise UsageError(
                f"{where}: range must be [lo, hi] with lo <= size <= hi, each "
                f"{_size_rule(kind)}; got {span!r}"
            )
        span = (float(span[0]), float(span[1]))
    target = entry.get("target", [])
    if not isinstance(target, list) or not all(isinstance(t, str) for t in target):
        raise UsageError(f"{where}: target must be a list of names; got {target!r}")
    firms, assets = _vocabulary()
    if kind in ASSET_TARGETS:
        if not target:
            raise UsageError(f"{where}: a {kind} shock needs a target: {', '.join(assets)}")
        bad = [t for t in target if t not in assets]
        if bad:
            raise UsageError(
                f"{where}: target {bad[0]!r} is not an asset; allowed: {', '.join(assets)}"
            )
    elif kind in FIRM_TARGETS:
        bad = [t for t in target if t not in firms]
        if bad:
            raise UsageError(
                f"{where}: target {bad[0]!r} is not a firm; allowed: {', '.join(firms)}"
            )
    elif target:
        raise UsageError(f"{where}: a {kind} shock takes no target; got {target!r}")
    weeks = entry.get("weeks", 1)
    if "weeks" in entry and kind not in LASTING:
        raise UsageError(
            f"{where}: weeks is for {' and '.join(LASTING)} shocks only; got kind {kind!r}"
        )
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEK:
        raise UsageError(f"{where}: weeks must be an integer from 1 to {MAX_WEEK}; got {weeks!r}")
    for key in ("source", "note"):
        if key in entry and not (isinstance(entry[key], str) and entry[key].strip()):
            raise UsageError(f"{where}: {key} must be a non-empty string; got {entry[key]!r}")
    return Shock(
        kind=kind,
        week=week,
        size=float(size),
        range=span,
        target=tuple(target),
        weeks=weeks,
        source=entry["source"],
        note=entry.get("note", ""),
    )


def check_policy(policy: Any, where: str) -> dict[str, Any]:
    """The ``[policy]`` table, checked against :data:`POLICY`."""
    if not isinstance(policy, dict):
        raise UsageError(f"{where}: policy must be a table ([policy]); got {policy!r}")
    for key, value in policy.items():
        rule = POLICY.get(key)
        if rule is None:
            raise UsageError(f"{where}: unknown key [policy] {key!r}; allowed: {', '.join(POLICY)}")
        if rule is bool:
            if not isinstance(value, bool):
                raise UsageError(f"{where}: [policy] {key} must be true or false; got {value!r}")
        elif all(isinstance(v, str) for v in rule):
            if value not in rule:
                raise UsageError(
                    f"{where}: [policy] {key} must be one of "
                    f"{', '.join(repr(v) for v in rule)}; got {value!r}"
                )
        elif not _number(value) or not rule[0] <= value <= rule[1]:
            raise UsageError(
                f"{where}: [policy] {key} must be a number from {rule[0]} to {rule[1]}; "
                f"got {value!r}"
            )
    return dict(policy)


def check_compare(table: Any, where: str) -> dict[str, Any] | None:
    """The optional ``[compare]`` table: a counterfactual policy for the same shocks.

    ``label`` names the counterfactual, ``question`` is what the comparison answers, ``policy``
    overrides keys of ``[policy]`` (checked like it), ``metric`` is a column of the scenario
    table (``experiments.evidence.METRICS``) and ``better`` says whether ``lower`` or ``higher``
    values of it are better for the preset.
    """
    from experiments.evidence import METRICS

    if table is None:
        return None
    if not isinstance(table, dict):
        raise UsageError(f"{where}: compare must be a table ([compare]); got {table!r}")
    unknown = [k for k in table if k not in COMPARE_KEYS]
    if unknown:
        raise UsageError(
            f"{where}: unknown key [compare] {unknown[0]!r}; allowed: {', '.join(COMPARE_KEYS)}"
        )
    for key in COMPARE_KEYS:
        if key not in table:
            raise UsageError(f"{where}: [compare] needs {key!r}")
    for key in ("label", "question"):
        if not (isinstance(table[key], str) and table[key].strip()):
            raise UsageError(f"{where}: [compare] {key} must be a non-empty string")
    metrics = [m.key for m in METRICS]
    if table["metric"] not in metrics:
        raise UsageError(
            f"{where}: [compare] metric must be one of {', '.join(metrics)}; "
            f"got {table['metric']!r}"
        )
    if table["better"] not in ("lower", "higher"):
        raise UsageError(
            f"{where}: [compare] better must be 'lower' or 'higher'; got {table['better']!r}"
        )
    policy = check_policy(table["policy"], f"{where}: [compare]")
    return {**table, "policy": policy}


def check_preset(data: dict[str, Any], where: str, stem: str | None = None) -> Scenario:
    """A parsed preset file as a :class:`Scenario`, or a one-line UsageError."""
    from experiments.run import LIMITS, allowed

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
        compare=check_compare(data.get("compare"), where),
    )


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a one-line UsageError if it cannot be read or parsed."""
    where = f"scenario file {path}"
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UsageError(
            f"argument --scenario: cannot read {path} ({err.strerror or err}); "
            "give a readable .toml file or a scenario name: " + ", ".join(preset_names())
        ) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not UTF-8 text; give a TOML file") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{where}: not valid TOML ({err})") from None


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
    if scenario.compare:
        c = scenario.compare
        lines += ["", f"compared with: {c['label']} (the same shocks)"]
        lines += [f"  {k} = {v!r}" for k, v in c["policy"].items()]
        lines.append(f"  question: {c['question']} ({c['metric']}, {c['better']} is better)")
    return "\n".join(lines)


__all__ = [
    "POLICY",
    "POLICY_FIELDS",
    "POLICY_NOTE",
    "PRESET_DIR",
    "Scenario",
    "check_compare",
    "check_preset",
    "describe",
    "is_preset_file",
    "load_file",
    "load_preset",
    "preset_names",
]
