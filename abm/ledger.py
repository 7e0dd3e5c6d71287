"""The double-entry ledger under every balance sheet: money and claims that always have two sides.

powderkeg keeps the balance sheets of N agents in E worlds as arrays (docs/design.md, "The state").
This module holds the parts that link one balance sheet to another, so that a rule can move money or
create a claim without ever creating or losing a dollar (docs/design.md, "The ledger"):

- **cash** ``(E, N)``, USD bn: settlement money. It moves only between agents or between an agent
  and a named outsider (:class:`Outsiders`), and every move is booked once on each side.
- **pools** (:class:`Pool`): one instrument class — deposits, pension claims, fund shares, loans,
  stablecoin tokens — whose issuers owe ``face`` and whose holders own ``claims``. A holder's claim
  is on the pool as a whole, pro rata to the issuers' face values (a saver's deposits are spread
  over the banks in proportion to their deposit bases), so a retail cohort needs one number per
  instrument, and a million cohorts stay one vector. Instruments that need a named counterparty
  (an SPV's lenders, one bank's interbank borrowing) are pools of their own.
- **equity flows**: every booking says whether it changes the holder's equity (income, expense,
  loss, valuation) or only swaps one asset for another. The ledger accumulates the equity effect
  per agent, so the accounting test can compare the balance sheet's equity with the sum of the
  flows that made it: assets = liabilities + equity, with equity derived twice.

Invariants, per world, to rounding: the sum of all agents' cash plus the net cash the outsiders
paid in is constant; in every pool, ``sum(face) == sum(claims) + outside``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_cupy_namespace, is_numpy_namespace

from abm.arrays import itemsize, rounding_margin, world_chunks
from kernels.backend import segment_sum, segment_sum_at

#: Outsiders that trade with the agents; each keeps the net cash it paid into the system.
OUTSIDERS = (
    "rest_of_economy",  # customers, workers and suppliers outside the modelled network
    "public_sector",  # Treasury issuance and redemption, deposit insurance, bailouts
    "central_bank",  # reserves, lender and market maker of last resort
    "market_makers",  # absorb fire sales at impacted prices
    "outside_investors",  # holders of claims outside the model (foreign, other funds)
)


#: every world: the default of the methods that can work on a chunk of worlds
ALL_WORLDS = slice(None)


@dataclass
class Outsiders:
    """Net cash each outsider has paid into the modelled system, per world (USD bn).

    Attributes:
        paid_in: name -> (E,) cumulative cash paid to agents minus cash received from them.
    """

    paid_in: dict[str, Any]

    @classmethod
    def zeros(cls, xp: Any, worlds: int, dtype: Any, device: Any = None) -> Outsiders:
        """Fresh accounts, all at zero."""
        return cls({name: xp.zeros((worlds,), dtype=dtype, device=device) for name in OUTSIDERS})

    def total(self) -> Any:
        """(E,) net cash all outsiders together have paid in."""
        values = list(self.paid_in.values())
        out = values[0]
        for v in values[1:]:
            out = out + v
        return out

    def book(self, name: str, amount: Any) -> None:
        """Record that outsider ``name`` paid ``amount`` (E,) into the system (negative: took)."""
        if name not in self.paid_in:
            raise ValueError(f"outsider must be one of {', '.join(OUTSIDERS)}; got {name!r}")
        self.paid_in[name] = self.paid_in[name] + amount


@dataclass
class Pool:
    """One instrument class: what some agents owe (``face``) and others own (``claims``).

    Attributes:
        name: the instrument, e.g. ``"deposits"``.
        issuers: (I,) indices of the agents that owe it (distinct).
        holders: (H,) indices of the agents that own it (distinct).
        face: (E, I) USD bn each issuer owes.
        claims: (E, H) USD bn each holder is owed.
        outside: (E,) USD bn owed to outsiders (``outside_holder`` names who).
        outside_holder: the outsider that owns the rest of the pool.
    """

    name: str
    issuers: Any
    holders: Any
    face: Any
    claims: Any
    outside: Any
    outside_holder: str = "outside_investors"

    def imbalance(self, xp: Any) -> Any:
        """(E,) ``sum(face) - sum(claims) - outside``: zero when the pool is whole."""
        return xp.sum(self.face, axis=-1) - xp.sum(self.claims, axis=-1) - self.outside

    def issuer_shares(self, xp: Any) -> Any:
        """(E, I) each issuer's share of the pool (equal shares while the pool is empty)."""
        return _shares(xp, self.face)

    def edges(self) -> Edges:
        """The pool as an edge list: every issuer owes every holder pro rata (I × H edges)."""
        xp = array_namespace(self.face)
        whole = xp.sum(self.claims, axis=-1) + self.outside
        whole = xp.where(whole > 0.0, whole, 1.0)
        weight = self.claims / whole[:, None]  # (E, H)
        e, i, h = self.face.shape[0], self.issuers.shape[0], self.holders.shape[0]
        amount = xp.reshape(self.face[:, :, None] * weight[:, None, :], (e, i * h))
        issuer = xp.reshape(xp.broadcast_to(self.issuers[:, None], (i, h)), (i * h,))
        holder = xp.reshape(xp.broadcast_to(self.holders[None, :], (i, h)), (i * h,))
        return Edges(issuer, holder, amount, self.face * (self.outside / whole)[:, None])


@dataclass
class Edges:
    """A pool's claims as an edge list: ``amount[:, k]`` owed by ``issuer[k]`` to ``holder[k]``.

    Attributes:
        issuer: (K,) global index of the agent that owes each edge.
        holder: (K,) global index of the agent that owns it.
        amount: (E, K) USD bn.
        outside: (E, I) USD bn each of the pool's issuers owes to its outside holder.
    """

    issuer: Any
    holder: Any
    amount: Any
    outside: Any


class BilateralPool:
    """An instrument whose claims name their counterparty: a sparse edge list per world.

    Edge ``k`` is a claim of holder ``holders[edge_holder[k]]`` on issuer
    ``issuers[edge_issuer[k]]`` (a bank's share of one syndicated loan, one prime broker's
    lending to one hedge fund, one saver's deposit at one bank); ``outside_face`` is what each
    issuer owes to the outside holder (lenders and depositors outside the model). Face, claims
    and the outside total are derived (and kept until an edge changes), so the pool is whole by
    construction.

    Attributes:
        name: the instrument.
        issuers: (I,) indices of the agents that owe it (distinct).
        holders: (H,) indices of the agents that own it (distinct).
        edge_issuer: (K,) position in ``issuers`` of each edge's issuer.
        edge_holder: (K,) position in ``holders`` of each edge's holder.
        balance: (E, K) USD bn owed on each edge.
        outside_face: (E, I) USD bn each issuer owes to ``outside_holder``.
        lend_weight: (K,) each edge's share of new lending to its issuer while the issuer owes
            nothing (the syndicate's shares); ``outside_weight`` (I,) is the outside holder's.
        hold_weight: (K,) each edge's share of its holder's new claims while the holder has none.
        outside_holder: the outsider that owns ``outside_face``.
    """

    def __init__(
        self,
        name: str,
        issuers: Any,
        holders: Any,
        edge_issuer: Any,
        edge_holder: Any,
        balance: Any,
        outside_face: Any,
        lend_weight: Any,
        outside_weight: Any,
        hold_weight: Any,
        outside_holder: str = "outside_investors",
    ) -> None:
        self.name, self.issuers, self.holders = name, issuers, holders
        self.edge_issuer, self.edge_holder = edge_issuer, edge_holder
        self.lend_weight, self.outside_weight = lend_weight, outside_weight
        self.hold_weight, self.outside_holder = hold_weight, outside_holder
        xp = array_namespace(balance)
        self.issuer_agent = xp.take(issuers, edge_issuer)  # (K,) global indices
        self.holder_agent = xp.take(holders, edge_holder)
        self._balance, self._outside_face = balance, outside_face
        self._face: Any = None
        self._claims: Any = None

    @property
    def balance(self) -> Any:
        """(E, K) USD bn owed on each edge."""
        return self._balance

    @balance.setter
    def balance(self, value: Any) -> None:
        self._balance, self._face, self._claims = value, None, None

    @property
    def outside_face(self) -> Any:
        """(E, I) USD bn each issuer owes to the outside holder."""
        return self._outside_face

    @outside_face.setter
    def outside_face(self, value: Any) -> None:
        self._outside_face, self._face = value, None

    @property
    def face(self) -> Any:
        """(E, I) USD bn each issuer owes: its edges plus its outside part."""
        if self._face is None:
            linked = segment_sum(self._balance, self.edge_issuer, self.issuers.shape[0])
            self._face = linked + self._outside_face
        return self._face

    @property
    def claims(self) -> Any:
        """(E, H) USD bn each holder is owed over its edges."""
        if self._claims is None:
            self._claims = segment_sum(self._balance, self.edge_holder, self.holders.shape[0])
        return self._claims

    @property
    def outside(self) -> Any:
        """(E,) USD bn owed to the outside holder."""
        return array_namespace(self.balance).sum(self.outside_face, axis=-1)

    def imbalance(self, xp: Any) -> Any:
        """(E,) ``sum(face) - sum(claims) - outside``: zero to rounding (derived sides)."""
        return xp.sum(self.face, axis=-1) - xp.sum(self.claims, axis=-1) - self.outside

    def issuer_shares(self, xp: Any) -> Any:
        """(E, I) each issuer's share of the pool (equal shares while the pool is empty)."""
        return _shares(xp, self.face)

    def per_edge(self, xp: Any, fraction: Any, worlds: slice = ALL_WORLDS) -> Any:
        """(W, K) ``fraction`` (E, I) of each issuer's edges in worlds ``worlds``."""
        return self.balance[worlds, ...] * xp.take(fraction[worlds, ...], self.edge_issuer, axis=1)

    def owned_balance(self) -> Any:
        """The (E, K) balances as an array of the pool's own, to update a chunk at a time.

        On NumPy the balances themselves once they are writable and own their memory (a copy
        the first time, if they were built read-only or as a view); elsewhere a copy. Nothing
        outside the pool keeps its balances between rules (:meth:`edges` hands out a view that
        its caller uses at once), so an update in place changes no other array.
        """
        balance = self._balance
        owned = isinstance(balance, np.ndarray) and balance.flags.writeable and balance.base is None
        if not owned:  # elsewhere (a GPU, array-api-strict) a fresh copy, as before
            balance = array_namespace(balance).asarray(balance, copy=True)
        return balance

    def chunks(self, xp: Any) -> list[slice]:
        """Chunks of worlds whose (W, K) edge arrays fit :func:`abm.arrays.world_chunks`' budget.

        The deposit pool's 8,004 edges are 64 MB a temporary at 1,000 worlds in float64. Only
        on NumPy and CuPy, whose segment sums add each world's numbers alone (bincount or a
        block-diagonal CSR product, scatter): elsewhere ``segment_sum`` is a one-hot matrix
        product, whose BLAS may sum one row in another order than several (a matrix-vector
        kernel), so the worlds stay whole there.
        """
        if not (is_numpy_namespace(xp) or is_cupy_namespace(xp)):
            return [ALL_WORLDS]
        per_world = self.balance.shape[-1] * itemsize(xp, self.balance.dtype)
        return world_chunks(self.balance.shape[0], per_world, xp)

    def lending_split(self, xp: Any) -> tuple[Any, Any]:
        """(E, K), (E, I): how new lending to each issuer divides over its lenders.

        In proportion to what each lender holds now (rounding residues below zero take no
        share, as in :meth:`holding_split`); the syndicate's shares (``lend_weight``,
        ``outside_weight``) while the issuer owes nothing.
        """
        balance, outside_face = xp.maximum(self.balance, 0.0), xp.maximum(self.outside_face, 0.0)
        face = segment_sum(balance, self.edge_issuer, self.issuers.shape[0]) + outside_face
        owes = face >= xp.finfo(face.dtype).smallest_normal  # 1/face stays finite
        per_face = 1.0 / xp.where(owes, face, 1.0)
        edge_owes = xp.take(owes, self.edge_issuer, axis=1)
        edge = xp.where(edge_owes, balance * xp.take(per_face, self.edge_issuer, axis=1),
                        self.lend_weight)  # fmt: skip
        outside = xp.where(owes, outside_face * per_face, self.outside_weight)
        return edge, outside

    def holding_split(self, xp: Any, worlds: slice = ALL_WORLDS, only: Any = None) -> Any:
        """(W, K) how a holder's new claims (or cash-ins) divide over its edges, worlds ``worlds``.

        In proportion to its balances; its home weights (``hold_weight``) while it holds none.
        Rounding leaves an emptied edge at about -1e-16 rather than 0: such residues take no
        share, so every share is in [0, 1] and a holder's shares add up to 1. ``only`` (E, I)
        bool keeps the edges on those issuers: a holder's shares over them add up to 1, or are
        all 0 where it holds nothing there.
        """
        balance = xp.maximum(self.balance[worlds, ...], 0.0)
        if only is not None:
            keep = xp.take(only[worlds, ...], self.edge_issuer, axis=1)
            balance = xp.where(keep, balance, 0.0)
        held = segment_sum(balance, self.edge_holder, self.holders.shape[0])
        has = held >= xp.finfo(held.dtype).smallest_normal
        per_held = 1.0 / xp.where(has, held, 1.0)
        home = self.hold_weight if only is None else 0.0
        return xp.where(xp.take(has, self.edge_holder, axis=1),
                        balance * xp.take(per_held, self.edge_holder, axis=1),
                        home)  # fmt: skip

    def edges(self) -> Edges:
        """The pool as an edge list (its own)."""
        return Edges(self.issuer_agent, self.holder_agent, self.balance, self.outside_face)


def _same_arrays(kept: list[tuple[Any, ...]], read: list[tuple[Any, ...]]) -> bool:
    """Whether ``read`` names the very objects of ``kept``, entry for entry (identity, no data)."""
    return len(kept) == len(read) and all(
        len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))
        for a, b in zip(kept, read, strict=True)
    )


def _shares(xp: Any, face: Any) -> Any:
    """(E, I) each issuer's share of ``face`` (equal shares while it is all zero)."""
    total = xp.sum(face, axis=-1, keepdims=True)
    equal = 1.0 / face.shape[-1]
    return xp.where(total > 0.0, face / xp.where(total > 0.0, total, 1.0), equal)


@dataclass
class Ledger:
    """Cash, pools and equity flows of N agents in E worlds, kept balanced.

    Attributes:
        xp: the array namespace (from ``kernels.backend.get_namespace``).
        cash: (E, N) USD bn.
        pools: instrument name -> :class:`Pool`.
        outsiders: the outsiders' cash accounts.
        equity_flows: (E, N) cumulative change of each agent's equity booked by the rules.
    """

    xp: Any
    cash: Any
    pools: dict[str, Pool | BilateralPool] = field(default_factory=dict)
    outsiders: Outsiders | None = None
    equity_flows: Any = None
    #: the last :meth:`positions`: the pools' arrays it read and its two results
    _positions: tuple[list[tuple[Any, ...]], tuple[Any, Any]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        xp, worlds = self.xp, self.cash.shape[0]
        if self.outsiders is None:
            self.outsiders = Outsiders.zeros(xp, worlds, self.cash.dtype, self.cash.device)
        if self.equity_flows is None:
            self.equity_flows = xp.zeros_like(self.cash)

    # -- pools ------------------------------------------------------------------------------

    def add_pool(
        self,
        name: str,
        issuers: Any,
        holders: Any,
        face: Any,
        claims: Any,
        outside_holder: str = "outside_investors",
    ) -> Pool:
        """Register an instrument whose issuers owe ``face`` (E, I) and holders own ``claims``.

        Whatever the face exceeds the agents' claims by is owed to ``outside_holder``.

        Raises:
            ValueError: the holders' claims exceed the face (an instrument nobody issued).
        """
        xp = self.xp
        outside = xp.sum(face, axis=-1) - xp.sum(claims, axis=-1)
        scale = xp.sum(face, axis=-1) + 1.0
        if bool(xp.any(outside < -rounding_margin(xp, face.dtype) * scale)):
            raise ValueError(f"pool {name!r}: holders' claims exceed what the issuers owe")
        pool = Pool(name, issuers, holders, face, claims, xp.maximum(outside, 0.0), outside_holder)
        self.pools[name] = pool
        return pool

    def add_bilateral_pool(self, pool: BilateralPool) -> BilateralPool:
        """Register an instrument whose claims name their counterparties.

        Raises:
            ValueError: an edge or an outside part below zero (a claim nobody issued).
        """
        xp = self.xp
        if bool(xp.any(pool.balance < 0.0) | xp.any(pool.outside_face < 0.0)):
            raise ValueError(f"pool {pool.name!r}: an edge or outside part is negative")
        self.pools[pool.name] = pool
        return pool

    def edges(self, name: str) -> Edges:
        """Pool ``name`` as an edge list: who owes whom how much (:class:`Edges`)."""
        return self.pools[name].edges()

    # -- cash -------------------------------------------------------------------------------

    def _spread(self, agents: Any, amount: Any) -> Any:
        """(E, N) zeros with ``amount[:, k]`` added at column ``agents[k]``."""
        return segment_sum(amount, agents, self.cash.shape[-1])

    def pay(self, payers: Any, payees: Any, amount: Any, *, income: bool = True) -> None:
        """Move cash ``amount`` (E, K) from ``payers[k]`` to ``payees[k]`` (indices may repeat).

        With ``income`` the payment is an expense of the payer and income of the payee (revenue,
        interest, commitments); without it, it settles a purchase booked elsewhere.
        """
        moved = self._spread(payees, amount) - self._spread(payers, amount)
        self.cash = self.cash + moved
        if income:
            self.equity_flows = self.equity_flows + moved

    def pay_outsider(self, agents: Any, outsider: str, amount: Any, *, income: bool = True) -> None:
        """Agents ``agents[k]`` pay ``amount[:, k]`` to ``outsider`` (negative: receive from it)."""
        moved = self._spread(agents, amount)
        self.cash = self.cash - moved
        self.outsiders.book(outsider, -self.xp.sum(amount, axis=-1))
        if income:
            self.equity_flows = self.equity_flows - moved

    def book_equity(self, amount: Any) -> None:
        """Record (E, N) equity changes whose other side is not cash or a pool.

        Revaluation of securities, depreciation of real assets, gains and losses on sales and on
        bonds issued away from par: the caller changes the asset or liability itself.
        """
        self.equity_flows = self.equity_flows + amount

    # -- instruments ------------------------------------------------------------------------

    def subscribe(self, name: str, amount: Any, outside: Any = None, only: Any = None) -> None:
        """Holders of pool ``name`` pay ``amount`` (E, H) of cash for new claims on it.

        The cash goes to the issuers pro rata to their face values (a saver's deposit lands at
        the banks in proportion to their deposit bases), whose face rises by as much. An asset
        swap on both sides: no equity changes. ``outside`` (E,) is what the pool's outside holder
        subscribes at the same time, paid in from outside the system. ``only`` (E, I) bool, for a
        bilateral pool without ``outside``: each holder's new claims go to its own issuers among
        those alone; a holder with no claim on any of them keeps its cash.
        """
        xp, pool = self.xp, self.pools[name]
        if isinstance(pool, BilateralPool):
            self._subscribe_bilateral(pool, amount, outside, only)
            return
        total = xp.sum(amount, axis=-1)
        if outside is not None:
            total = total + outside
            pool.outside = pool.outside + outside
            self.outsiders.book(pool.outside_holder, outside)
        received = pool.issuer_shares(xp) * total[:, None]
        self.cash = self.cash + self._spread(pool.issuers, received)
        self.cash = self.cash - self._spread(pool.holders, amount)
        pool.claims = pool.claims + amount
        pool.face = pool.face + received

    def _subscribe_bilateral(
        self, pool: BilateralPool, amount: Any, outside: Any, only: Any = None
    ) -> None:
        """Each holder's new claims go to its own issuers (its banks), by its current split.

        The (E, K) edge arrays are built a chunk of worlds at a time (:meth:`BilateralPool.chunks`).
        """
        xp = self.xp
        if outside is not None:  # the outside holder's part, by its stakes at each issuer
            part = xp.where(xp.sum(pool.outside_face, axis=-1, keepdims=True) > 0.0,
                            _shares(xp, pool.outside_face), pool.issuer_shares(xp))  # fmt: skip
        received, paid, balance = [], [], pool.owned_balance()
        for worlds in pool.chunks(xp):
            split = pool.holding_split(xp, worlds, only)
            new = xp.take(amount[worlds, ...], pool.edge_holder, axis=1) * split  # (W, K)
            received.append(self._spread(pool.issuer_agent, new))
            paid.append(self._spread(pool.holder_agent, new))
            balance[worlds, ...] += new  # in place: no second (E, K) array
        received = xp.concat(received)
        if outside is not None:
            added = part * outside[:, None]
            pool.outside_face = pool.outside_face + added
            self.outsiders.book(pool.outside_holder, xp.sum(added, axis=-1))
            received = received + self._spread(pool.issuers, added)
        self.cash = self.cash + received - xp.concat(paid)
        pool.balance = balance  # face and claims derived again

    def redeem(self, name: str, amount: Any, outside: Any = None) -> None:
        """Holders of pool ``name`` cash in ``amount`` (E, H) of claims; outsiders ``outside``.

        Issuers pay pro rata to their face values (a bilateral pool: each holder's own issuers,
        by its balances), out of their cash (a negative balance is a liquidity need the market
        step must cover). An asset swap on both sides.
        """
        self.subscribe(name, -amount, None if outside is None else -outside)

    def pay_interest(self, name: str, rate: Any) -> None:
        """Issuers of pool ``name`` pay interest ``rate`` (E, I) on their face to the holders.

        Holders, and the outside holder, receive the total pro rata to their claims: income for
        them, an expense for the issuers.
        """
        xp, pool = self.xp, self.pools[name]
        if isinstance(pool, BilateralPool):  # each lender earns its own borrower's rate
            on_outside, on_edges = pool.outside_face * rate, []
            for worlds in pool.chunks(xp):  # no (E, K) temporary is whole
                paid = pool.per_edge(xp, rate, worlds)
                on_edges.append(self._spread(pool.holder_agent, paid)
                                - self._spread(pool.issuer_agent, paid))  # fmt: skip
            moved = xp.concat(on_edges) - self._spread(pool.issuers, on_outside)
            self.cash = self.cash + moved
            self.equity_flows = self.equity_flows + moved
            self.outsiders.book(pool.outside_holder, -xp.sum(on_outside, axis=-1))
            return
        interest = pool.face * rate
        total = xp.sum(interest, axis=-1)
        whole = xp.sum(pool.claims, axis=-1) + pool.outside
        share = total / xp.where(whole > 0.0, whole, 1.0)
        received = pool.claims * share[:, None]
        moved = self._spread(pool.holders, received) - self._spread(pool.issuers, interest)
        self.cash = self.cash + moved
        self.equity_flows = self.equity_flows + moved
        self.outsiders.book(pool.outside_holder, -(pool.outside * share))

    def repay(self, name: str, amount: Any) -> None:
        """Issuers of pool ``name`` repay ``amount`` (E, I) of face early (capped at face).

        The holders, outsiders included, receive it pro rata to their claims. An asset swap and
        a shorter balance sheet on both sides: no equity changes.
        """
        xp, pool = self.xp, self.pools[name]
        if isinstance(pool, BilateralPool):
            self._take_back(pool, amount, repaid=True)
            return
        amount = xp.minimum(xp.maximum(amount, 0.0), pool.face)
        total = xp.sum(amount, axis=-1)
        whole = xp.sum(pool.claims, axis=-1) + pool.outside
        share = total / xp.where(whole > 0.0, whole, 1.0)
        received = pool.claims * share[:, None]
        self.cash = self.cash + self._spread(pool.holders, received)
        self.cash = self.cash - self._spread(pool.issuers, amount)
        self.outsiders.book(pool.outside_holder, -(pool.outside * share))
        pool.face = pool.face - amount
        pool.claims = pool.claims - received
        pool.outside = pool.outside - pool.outside * share

    def _take_back(self, pool: BilateralPool, amount: Any, *, repaid: bool) -> Any:
        """Reduce each issuer's face by ``amount`` (E, I), capped at face, over its own lenders.

        ``repaid``: the lenders receive cash (an asset swap); else they lose it (a write-down,
        the issuer's gain). Returns the (E,) part that fell on the outside holder.
        """
        xp = self.xp
        face = pool.face
        amount = xp.minimum(xp.maximum(amount, 0.0), face)
        owes = face > 0.0
        fraction = xp.minimum(amount / xp.where(owes, face, 1.0), 1.0)  # rounding: at most all
        on_outside = pool.outside_face * fraction
        issuers, holders, balance = [], [], pool.owned_balance()
        for worlds in pool.chunks(xp):  # no (E, K) temporary is whole
            on_edges = pool.per_edge(xp, fraction, worlds)
            issuers.append(self._spread(pool.issuer_agent, on_edges))
            holders.append(self._spread(pool.holder_agent, on_edges))
            balance[worlds, ...] -= on_edges  # in place: no second (E, K) array
        issuers = xp.concat(issuers) + self._spread(pool.issuers, on_outside)
        holders = xp.concat(holders)
        outside = xp.sum(on_outside, axis=-1)
        pool.balance = balance  # face and claims derived again
        pool.outside_face = pool.outside_face - on_outside
        if repaid:
            self.cash = self.cash + holders - issuers
            self.outsiders.book(pool.outside_holder, -outside)
        else:
            self.equity_flows = self.equity_flows + issuers - holders
        return outside

    def borrow(self, name: str, amount: Any) -> None:
        """Issuers of pool ``name`` borrow ``amount`` (E, I) more from its holders.

        The holders, outsiders included, lend pro rata to their claims (in equal parts while the
        pool is empty); the inverse of :meth:`repay`. An asset swap and a longer balance sheet on
        both sides.
        """
        xp, pool = self.xp, self.pools[name]
        amount = xp.maximum(amount, 0.0)
        if isinstance(pool, BilateralPool):  # an issuer borrows from its own lenders
            edge, outside = pool.lending_split(xp)
            lent = xp.take(amount, pool.edge_issuer, axis=1) * edge
            lent_outside = amount * outside
            self.cash = (self.cash - self._spread(pool.holder_agent, lent)
                         + self._spread(pool.issuer_agent, lent)
                         + self._spread(pool.issuers, lent_outside))  # fmt: skip
            self.outsiders.book(pool.outside_holder, xp.sum(lent_outside, axis=-1))
            pool.balance = pool.balance + lent
            pool.outside_face = pool.outside_face + lent_outside
            return
        total = xp.sum(amount, axis=-1)
        whole = xp.sum(pool.claims, axis=-1) + pool.outside
        empty = whole <= 0.0  # nobody holds the pool yet: its holders lend in equal parts
        share = total / xp.where(empty, 1.0, whole)
        equal = total / max(pool.claims.shape[-1], 1)
        lent = xp.where(empty[:, None], equal[:, None], pool.claims * share[:, None])
        share = xp.where(empty, 0.0, share)
        self.cash = self.cash - self._spread(pool.holders, lent)
        self.cash = self.cash + self._spread(pool.issuers, amount)
        self.outsiders.book(pool.outside_holder, pool.outside * share)
        pool.face = pool.face + amount
        pool.claims = pool.claims + lent
        pool.outside = pool.outside + pool.outside * share

    def lend(self, name: str, amount: Any, lent: Any) -> None:
        """Holders of pool ``name`` lend ``lent`` (E, H); its issuers receive ``amount`` (E, I).

        Unlike :meth:`borrow`, the caller chooses who lends how much (a chip vendor lending out of
        its spare cash); the two must add up in every world, which the pool's imbalance checks.
        An asset swap and a longer balance sheet on both sides.
        """
        pool = self.pools[name]
        if isinstance(pool, BilateralPool):
            raise TypeError(f"pool {name!r} names its lenders: use borrow")
        self.cash = self.cash + self._spread(pool.issuers, amount)
        self.cash = self.cash - self._spread(pool.holders, lent)
        pool.face = pool.face + amount
        pool.claims = pool.claims + lent

    def withdraw_outside(self, name: str, amount: Any) -> None:
        """The outside holder of pool ``name`` cashes in ``amount`` (E, I) at chosen issuers.

        A run by depositors outside the model on particular banks: those issuers pay the cash out
        of the system and owe that much less; the modelled holders' claims are untouched.
        """
        xp, pool = self.xp, self.pools[name]
        if isinstance(pool, BilateralPool):  # outsiders can take only what they hold there
            amount = xp.minimum(xp.maximum(amount, 0.0), pool.outside_face)
            pool.outside_face = pool.outside_face - amount
            self.cash = self.cash - self._spread(pool.issuers, amount)
            self.outsiders.book(pool.outside_holder, -xp.sum(amount, axis=-1))
            return
        # a face rounded a hair below zero (a pool paid down to nothing) lets nobody withdraw
        amount = xp.minimum(xp.maximum(amount, 0.0), xp.maximum(pool.face, 0.0))
        total = xp.minimum(xp.sum(amount, axis=-1), pool.outside)
        tiny = xp.finfo(amount.dtype).smallest_normal
        amount = amount * (total / xp.maximum(xp.sum(amount, axis=-1), tiny))[:, None]
        pool.face = pool.face - amount
        pool.outside = pool.outside - total
        self.cash = self.cash - self._spread(pool.issuers, amount)
        self.outsiders.book(pool.outside_holder, -total)

    def lend_outside(self, name: str, amount: Any) -> None:
        """The outside holder of pool ``name`` lends ``amount`` (E, I) to chosen issuers.

        The inverse of :meth:`withdraw_outside`: the central bank's loan to particular banks.
        The issuers receive the cash and owe that much more; the outsider's claim grows with it.
        """
        xp, pool = self.xp, self.pools[name]
        amount = xp.maximum(amount, 0.0)
        total = xp.sum(amount, axis=-1)
        if isinstance(pool, BilateralPool):
            pool.outside_face = pool.outside_face + amount
        else:
            pool.face = pool.face + amount
            pool.outside = pool.outside + total
        self.cash = self.cash + self._spread(pool.issuers, amount)
        self.outsiders.book(pool.outside_holder, total)

    def revalue_pool(self, name: str, face: Any) -> None:
        """Set the issuers' face of pool ``name`` to ``face`` (E, I): a claim marked to value.

        For claims worth what the issuer is worth (fund shares at NAV): holders' claims and the
        outside claim scale by the pool's change (a bilateral pool: each issuer's own holders, by
        its own change, :meth:`_revalue_edges`); the issuers gain what the holders lose. In a
        world where the pool is worth less than a dollar (1e-9 USD bn) its claims have lost
        their precision, so it is left as it is rather than scaled up from rounding noise.
        """
        xp, pool = self.xp, self.pools[name]
        if isinstance(pool, BilateralPool):
            self._revalue_edges(pool, face)
            return
        old = xp.sum(pool.face, axis=-1)
        face = xp.where((old > 1e-9)[:, None], xp.maximum(face, 0.0), pool.face)
        ratio = xp.sum(face, axis=-1) / xp.where(old > 0.0, old, 1.0)
        claims = pool.claims * ratio[:, None]
        gained = self._spread(pool.issuers, pool.face - face)
        lost = self._spread(pool.holders, pool.claims - claims)
        self.equity_flows = self.equity_flows + gained - lost
        pool.face, pool.claims, pool.outside = face, claims, pool.outside * ratio

    def _revalue_edges(self, pool: BilateralPool, face: Any) -> None:
        """Mark each issuer of a bilateral pool to ``face`` (E, I): its own holders gain or lose.

        Every edge of an issuer, and its outside part, scales by the issuer's change; an issuer
        owing less than a dollar (1e-9 USD bn) is left as it is, as in :meth:`revalue_pool`. The
        (E, K) edge arrays are built a chunk of worlds at a time (:meth:`BilateralPool.chunks`).
        """
        xp = self.xp
        old = pool.face
        marked = old > 1e-9
        new = xp.where(marked, xp.maximum(face, 0.0), old)
        ratio = new / xp.where(marked, old, 1.0)
        lost, balance = [], pool.owned_balance()
        for worlds in pool.chunks(xp):
            edges = balance[worlds, ...]
            marked_edges = edges * xp.take(ratio[worlds, ...], pool.edge_issuer, axis=1)
            lost.append(self._spread(pool.holder_agent, edges - marked_edges))
            balance[worlds, ...] = marked_edges  # in place: no second (E, K) array
        gained = self._spread(pool.issuers, old - new)
        self.equity_flows = self.equity_flows + gained - xp.concat(lost)
        pool.outside_face = pool.outside_face * ratio
        pool.balance = balance  # face and claims derived again

    def accrue(self, name: str, amount: Any) -> None:
        """Add ``amount`` (E, K) to the edges of bilateral pool ``name`` without cash.

        A claim that arises from an obligation left unpaid (a failed payer's unpaid invoices):
        the holder's equity gains the claim (income it had not booked), the issuer's loses it
        (an expense it had not paid). Negative amounts are ignored.
        """
        xp, pool = self.xp, self.pools[name]
        if not isinstance(pool, BilateralPool):
            raise TypeError(f"pool {name!r} does not name its holders: accrue needs edges")
        amount = xp.maximum(amount, 0.0)
        pool.balance = pool.balance + amount
        gained = self._spread(pool.holder_agent, amount) - self._spread(pool.issuer_agent, amount)
        self.equity_flows = self.equity_flows + gained

    def write_down(self, name: str, loss: Any) -> Any:
        """Issuers of pool ``name`` fail to pay ``loss`` (E, I) of their face (capped at face).

        Holders, outsiders included, lose pro rata to their claims (a bilateral pool: the
        issuer's own lenders, pro rata to their edges). The issuers' equity gains what they no
        longer owe; the holders' equity loses it. Returns the (E,) loss of outsiders.
        """
        xp, pool = self.xp, self.pools[name]
        if isinstance(pool, BilateralPool):  # the issuer's own lenders lose, nobody else
            return self._take_back(pool, loss, repaid=False)
        loss = xp.minimum(xp.maximum(loss, 0.0), pool.face)
        total = xp.sum(pool.face, axis=-1)
        share_lost = xp.sum(loss, axis=-1) / xp.where(total > 0.0, total, 1.0)
        holder_loss = pool.claims * share_lost[:, None]
        outside_loss = pool.outside * share_lost
        pool.face = pool.face - loss
        pool.claims = pool.claims - holder_loss
        pool.outside = pool.outside - outside_loss
        gained = self._spread(pool.issuers, loss) - self._spread(pool.holders, holder_loss)
        self.equity_flows = self.equity_flows + gained
        return outside_loss

    # -- checks -----------------------------------------------------------------------------

    def money(self) -> Any:
        """(E,) agents' cash minus what outsiders paid in: constant over a run."""
        return self.xp.sum(self.cash, axis=-1) - self.outsiders.total()

    def owed(self, name: str) -> Any:
        """(E, N) face each agent owes on pool ``name``."""
        pool = self.pools[name]
        return self._spread(pool.issuers, pool.face)

    def owed_by(self, name: str, agents: Any) -> Any:
        """(E, A) face agents ``agents`` (A,) owe on pool ``name``: ``owed(name)``'s columns."""
        pool = self.pools[name]
        return segment_sum_at(pool.face, pool.issuers, agents)

    def held_by(self, name: str, agents: Any) -> Any:
        """(E, A) claims agents ``agents`` (A,) hold on pool ``name`` (0 where they hold none)."""
        pool = self.pools[name]
        return segment_sum_at(pool.claims, pool.holders, agents)

    def positions(self) -> tuple[Any, Any]:
        """(E, N) claims each agent holds and (E, N) face it owes, over all pools.

        One segment sum per side over every pool's entries laid end to end: each agent's
        pools are added in pool order, as pool-by-pool sums would add them, without an (E, N)
        pass per pool (an agent appears at most once in a pool's holders and issuers).

        The result is kept and handed out again while every pool's claims, face, holders and
        issuers are the same arrays as when it was computed: the ledger replaces a pool's
        arrays whenever it changes them, never writes into them (a bilateral pool derives new
        ones after an edge changes). About 40% of the calls of a step find nothing changed
        (issue 18: 40 of 91 over 5 weeks, measured in the scale6 branch). On NumPy the two
        arrays are read-only, so a caller that wrote into them would fail rather than change
        the kept result.
        """
        xp, pools = self.xp, list(self.pools.values())
        read = [(p, p.claims, p.holders, p.face, p.issuers) for p in pools]
        if self._positions is not None and _same_arrays(self._positions[0], read):
            return self._positions[1]
        n = self.cash.shape[-1]
        held = segment_sum(
            xp.concat([p.claims for p in pools], axis=-1), xp.concat([p.holders for p in pools]), n
        )
        owed = segment_sum(
            xp.concat([p.face for p in pools], axis=-1), xp.concat([p.issuers for p in pools]), n
        )
        for result in (held, owed):
            if isinstance(result, np.ndarray):
                result.flags.writeable = False
        self._positions = (read, (held, owed))
        return held, owed
