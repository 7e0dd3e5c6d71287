"""One ``[[shocks]]`` entry of a scenario file, checked against the model's shock rules.

A shock names its ``kind`` (:data:`abm.shocks.KINDS`, each with the sizes it allows), the ``week``
it hits, its central ``size`` and optional per-world ``range``, its ``target`` (firms by kind or
name, assets by key or class, regions, banks by name or kind, funds by name or kind, or loan
books, as the kind requires; the firm, asset, bank and fund names come from the packaged
calibration), how many ``weeks`` a lasting kind lasts, and its ``source``. Each problem is one
:class:`~experiments.usage.UsageError` naming the entry, the field and what is allowed.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

from abm.shocks import (
    ASSET_TARGETS,
    BANK_TARGETS,
    BOOK_TARGETS,
    FIRM_TARGETS,
    FUND_TARGETS,
    KINDS,
    LASTING,
    REGION_TARGETS,
    Shock,
)
from abm.state import LOAN_BOOKS, REGIONS
from experiments.usage import UsageError

#: Keys of one ``[[shocks]]`` entry.
SHOCK_KEYS = ("kind", "week", "size", "range", "target", "weeks", "source", "note")
#: The latest week a shock may hit or last (a hundred years of weeks).
MAX_WEEK = 5200


@cache
def _vocabulary() -> tuple[tuple[str, ...], ...]:
    """(firm, asset, bank, fund) names of the calibration: kinds (asset classes), then names."""
    from abm.calibration import load_calibration
    from abm.market import AssetTable
    from abm.roster import build_roster

    cal = load_calibration()
    roster = build_roster(cal, 4)

    def family(name: str) -> tuple[str, ...]:
        rows = roster.indices(name)
        return tuple(sorted({roster.kind[i] for i in rows})) + tuple(roster.names[i] for i in rows)

    table = AssetTable.from_calibration(cal)
    assets = tuple(sorted(set(table.asset_class))) + tuple(table.keys)
    return family("firm"), assets, family("bank"), family("fund")


def _targets(kind: str) -> tuple[str, tuple[str, ...]] | None:
    """What a kind's ``target`` names and the names allowed (None: the kind takes no target)."""
    firms, assets, banks, funds = _vocabulary()
    for kinds, what, names in (
        (FIRM_TARGETS, "a firm", firms),
        (ASSET_TARGETS, "an asset", assets),
        (REGION_TARGETS, "a region", REGIONS),
        (BANK_TARGETS, "a bank", banks),
        (FUND_TARGETS, "a fund", funds),
        (BOOK_TARGETS, "a loan book or a bank", LOAN_BOOKS + banks),
    ):
        if kind in kinds:
            return what, names
    return None


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
    allowed = _targets(kind)
    if allowed is None:
        if target:
            raise UsageError(f"{where}: a {kind} shock takes no target; got {target!r}")
    else:
        what, names = allowed
        if kind in ASSET_TARGETS + FUND_TARGETS and not target:
            raise UsageError(f"{where}: a {kind} shock needs a target: {', '.join(names)}")
        bad = [t for t in target if t not in names]
        if bad:
            raise UsageError(
                f"{where}: target {bad[0]!r} is not {what}; allowed: {', '.join(names)}"
            )
    weeks = entry.get("weeks", 1)
    if "weeks" in entry and kind not in LASTING:
        raise UsageError(
            f"{where}: weeks is for {', '.join(LASTING[:-1])} and {LASTING[-1]} shocks only; "
            f"got kind {kind!r}"
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


def check_shock_weeks(shocks: Any, steps: int, where: str) -> None:
    """Every shock hits within a run of ``steps`` weeks, else one UsageError naming the first.

    A shock of week w is applied before the w-th step, so it needs ``steps >= w``; one scheduled
    later would never happen and the run would look as if it had been tried.
    """
    late = [s for s in shocks if s.week > steps]
    if late:
        first = late[0]
        raise UsageError(
            f"{where}: the run has {steps} weeks but its {first.kind} shock hits in week "
            f"{first.week}; give at least {max(s.week for s in late)} weeks or move the shock"
        )
