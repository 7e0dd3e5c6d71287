"""Which firms, assets, regions, banks, funds or loan books a shock's ``target`` names.

Each function turns a target list into a boolean mask over the model's firms, assets, banks,
funds or a fixed list of names, in the model's order (for :mod:`abm.shocks`); an empty list names
them all (except for assets and funds, whose kinds require a target:
:mod:`experiments.shock_entries` checks that). An unknown name is a ``ValueError`` that lists
what is allowed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.state import LOAN_BOOKS


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


def book_targets(model: Any, target: tuple[str, ...]) -> np.ndarray:
    """(B, K) bool: the loan books (:data:`abm.state.LOAN_BOOKS`) of the banks a list names.

    Entries that name a loan book pick books, the others banks by name or kind (``us``, ``eu``);
    no book named means every book, no bank named every bank.
    """
    books = tuple(t for t in target if t in LOAN_BOOKS)
    banks = tuple(t for t in target if t not in LOAN_BOOKS)
    try:
        bank_mask = bank_targets(model, banks)
    except ValueError as error:
        raise ValueError(f"{error}; or a loan book ({', '.join(LOAN_BOOKS)})") from None
    return bank_mask[:, None] & named_targets(books, LOAN_BOOKS, "loan book")[None, :]


def fund_targets(model: Any, target: tuple[str, ...]) -> np.ndarray:
    """(U,) bool in fund order: the funds a target list names by name or kind (``hedge``...)."""
    return _roster_targets(model, "fund", target)


def _roster_targets(model: Any, family: str, target: tuple[str, ...]) -> np.ndarray:
    """Bool over a family's agents in roster order: those named by name or kind (all if none)."""
    roster = model.roster
    rows = roster.indices(family)
    if not target:
        return np.ones(len(rows), dtype=bool)
    names = [roster.names[i] for i in rows]
    kinds = [roster.kind[i] for i in rows]
    return _picked(target, names, kinds, f"a {family}", "a kind", f"a {family} name")


def asset_targets(model: Any, target: tuple[str, ...]) -> np.ndarray:
    """(M,) bool: the assets a target list names by key or asset class."""
    table = model.sheets.assets
    keys, classes = list(table.keys), list(table.asset_class)
    return _picked(target, keys, classes, "an asset", "an asset class", "an asset key")


def _picked(
    target: tuple[str, ...], names: list[str], groups: list[str], what: str, group: str, name: str
) -> np.ndarray:
    """Bool over ``names``: those a target list names directly or by their group."""
    for t in target:
        if t not in names and t not in groups:
            raise ValueError(
                f"target {t!r} is not {what}; allowed: {group} "
                f"({', '.join(sorted(set(groups)))}) or {name} ({', '.join(names)})"
            )
    return np.array([n in target or g in target for n, g in zip(names, groups, strict=True)])


__all__ = [
    "asset_targets",
    "bank_targets",
    "book_targets",
    "firm_targets",
    "fund_targets",
    "named_targets",
]
