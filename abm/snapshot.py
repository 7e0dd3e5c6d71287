"""The host snapshot: what the rules declare for reporting, copied to the host once a step.

Each mechanism declares what it reports next to its rules, as a ``report(books)`` method that
returns named device arrays; the world state reports the balance sheets and this week's flows
(:meth:`Books.state_report`). The model gathers the declarations after every step and copies them
to the host in one transfer per dtype (:func:`to_host`); agents, reporters, the event log and the
app read only the host copy (``Powderkeg.snapshot``). Shapes: (E, N) per world and agent, (E, M)
per world and asset, (E,) per world; the keys and their meaning are listed in docs/design.md
("Reporting").
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from typing import Any

import numpy as np

from abm.claims import debt_owed
from abm.state import WorldState
from kernels.backend import array_namespace, segment_sum, to_numpy


class SnapshotUnavailable(RuntimeError):
    """The snapshot was read while a step runs: last week's declared arrays are gone by then."""


class Books:
    """What several declarations need, computed once per snapshot.

    Attributes:
        state: the world state.
        assets, liabilities: (E, N) total assets and liabilities of every agent.
        firms: (F,) agent rows of the firms.
    """

    def __init__(self, state: WorldState, firms: Any) -> None:
        s = state.sheets
        self.state, self.firms = state, firms
        self.assets, self.liabilities = s.assets_and_liabilities()

    def per_agent(self, firm_values: Any) -> Any:
        """(E, F) firm values placed on the agent axis (E, N), zero for other agents."""
        return segment_sum(firm_values, self.firms, self.state.sheets.ledger.cash.shape[-1])

    def per_bank(self, bank_values: Any) -> Any:
        """(E, B) bank values placed on the agent axis (E, N), zero for other agents."""
        s = self.state.sheets
        banks = s.xp.asarray(s.roster.indices("bank"), device=s.prices.device)
        return segment_sum(bank_values, banks, s.ledger.cash.shape[-1])

    def state_report(self) -> dict[str, Any]:
        """The balance sheets, defaults, sentiment, prices and this week's market flows."""
        state = self.state
        s, flows = state.sheets, state.flows
        return {
            "cash": s.ledger.cash,
            "total_assets": self.assets,
            "liabilities": self.liabilities,
            "equity": self.assets - self.liabilities,
            "defaulted": state.defaulted,
            "default_cause": state.default_cause,
            "debt": debt_owed(s),
            "revenue": self.per_agent(state.firms.revenue),
            "sale_proceeds": flows.proceeds,
            "run_withdrawals": state.withdrawals,
            "units_sold": flows.sold,
            "fire_sale_converged": flows.converged,
            "ai_sentiment": state.sentiment.ai,
            "crypto_sentiment": state.sentiment.crypto,
            "bailout_injection": flows.bailout_injection,
            "backstop_bought": state.backstop_bought,
            "prices": s.prices,
        }


def to_host(values: dict[str, Any]) -> dict[str, np.ndarray]:
    """Copy device arrays to host NumPy arrays, one transfer per dtype on a GPU.

    On NumPy the arrays are already on the host and are returned as they are. On another
    namespace the arrays of each dtype are flattened into one buffer, copied once and split.
    """
    if all(isinstance(v, np.ndarray) for v in values.values()):
        return {k: to_numpy(v) for k, v in values.items()}
    groups: dict[tuple[str, str], list[str]] = {}
    for key, value in values.items():  # one buffer per array type and dtype
        groups.setdefault((type(value).__module__, str(value.dtype)), []).append(key)
    host: dict[str, np.ndarray] = {}
    for keys in groups.values():
        xp = array_namespace(values[keys[0]])
        flat = xp.concat([xp.reshape(values[k], (-1,)) for k in keys])
        buffer = to_numpy(flat)
        offset = 0
        for k in keys:
            shape = tuple(values[k].shape)
            size = int(np.prod(shape, dtype=np.int64))
            host[k] = buffer[offset : offset + size].reshape(shape)
            offset += size
    return {k: host[k] for k in values}


class HostSnapshot(Mapping[str, np.ndarray]):
    """A week's declared arrays on the host, each copied from the device at its first read.

    The event log reads a score of keys, the app's panels a few, a fingerprint all of them: each
    pays for what it reads. Reading one key copies that array (one transfer); iterating over the
    items copies every array not yet read, one transfer per dtype. On NumPy nothing is copied.

    Args:
        declared: what the state and the mechanisms declared, on the device.
        host: entries that are on the host already (the world's stop flags).
    """

    def __init__(self, declared: dict[str, Any], host: dict[str, np.ndarray]) -> None:
        self._declared = declared
        self._host = dict(host)
        self._keys = (*declared, *(k for k in host if k not in declared))

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._host:
            self._host[key] = to_host({key: self._declared[key]})[key]
        return self._host[key]

    def __contains__(self, key: object) -> bool:
        return key in self._host or key in self._declared

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def copy_all(self) -> dict[str, np.ndarray]:
        """Every entry on the host, the arrays not read yet in one transfer per dtype."""
        missing = {k: v for k, v in self._declared.items() if k not in self._host}
        self._host.update(to_host(missing) if missing else {})
        return {key: self._host[key] for key in self._keys}

    def items(self) -> ItemsView[str, np.ndarray]:  # type: ignore[override]
        """Every (key, host array), copied together (see :meth:`copy_all`)."""
        return self.copy_all().items()

    def values(self) -> ValuesView[np.ndarray]:  # type: ignore[override]
        """Every host array, copied together (see :meth:`copy_all`)."""
        return self.copy_all().values()


def world_finite(values: dict[str, Any]) -> Any:
    """(E,) bool on the device: every float number of every world in ``values`` is finite."""
    floats = [v for v in values.values() if _is_float(v)]
    xp = array_namespace(floats[0])
    worlds = floats[0].shape[0]
    per_key = [xp.all(xp.isfinite(xp.reshape(v, (worlds, -1))), axis=1) for v in floats]
    return xp.all(xp.stack(per_key, axis=1), axis=1)


def first_non_finite(snapshot: dict[str, np.ndarray], world: int) -> str:
    """The first snapshot key with a non-finite number in ``world`` (host arrays)."""
    for key, value in snapshot.items():
        if value.dtype.kind == "f" and not np.all(np.isfinite(value[world])):
            return key
    return "an unknown quantity"


def _is_float(value: Any) -> bool:
    return array_namespace(value).isdtype(value.dtype, "real floating")
