"""Which firms, assets, regions, banks or loan books a shock's ``target`` names (abm.shocks).

Each function turns a target list into a boolean mask over the model's firms, assets, banks or
a fixed list of names, in the model's order; an empty list names them all (except for assets,
whose kinds require a target: :mod:`experiments.shock_entries` checks that). An unknown name is
a ``ValueError`` that lists what is allowed.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def firm_targets(model: Any, target: tuple[str, ...]) -> np.ndarray:
    """(F,) bool: the firms a target list names by name or kind (all firms when it is empty)."""
    return _roster_targets(model, "firm", target)


def named_targets(target: tuple[str, ...], names: tuple[str, ...], what: str) -> np.ndarray:
    """(len(names),) bool: the names a target list picks (all of them when it is empty)."""
    for t in target:
        if t not in names:
            raise ValueError(f"target {t!r} is not a {what}; allowed: {', '.join(names)}")
    return np.array([not target or n in target for n in names], dtype=bool)


def bank_targets(model: Any, target: tuple[str, ...]) -> np.ndarray:
    """(B,) bool in bank order: the banks a target list names by name or kind (``us``, ``eu``)."""
    return _roster_targets(model, "bank", target)


def _roster_targets(model: Any, family: str, target: tuple[str, ...]) -> np.ndarray:
    """Bool over a family's agents in roster order: those named by name or kind (all if none)."""
    roster = model.roster
    rows = roster.indices(family)
    names = [roster.names[i] for i in rows]
    kinds = [roster.kind[i] for i in rows]
    if not target:
        return np.ones(len(rows), dtype=bool)
    for t in target:
        if t not in names and t not in kinds:
            raise ValueError(
                f"target {t!r} is not a {family}; allowed: {', '.join(sorted(set(kinds)))} "
                f"or a {family} name ({', '.join(names)})"
            )
    return np.array([n in target or k in target for n, k in zip(names, kinds, strict=True)])


def asset_targets(model: Any, target: tuple[str, ...]) -> np.ndarray:
    """(M,) bool: the assets a target list names by key or asset class."""
    table = model.sheets.assets
    keys, classes = list(table.keys), list(table.asset_class)
    for t in target:
        if t not in keys and t not in classes:
            raise ValueError(
                f"target {t!r} is not an asset; allowed: an asset class "
                f"({', '.join(sorted(set(classes)))}) or an asset key ({', '.join(keys)})"
            )
    return np.array([k in target or c in target for k, c in zip(keys, classes, strict=True)])


__all__ = ["asset_targets", "bank_targets", "firm_targets", "named_targets"]
