"""Failures cleared: what failed institutions can pay, and their creditors' losses.

After the week's payouts, the debt-like claims among institutions (every debt pool and every
bond, :mod:`abm.claims`) form a liability matrix ``L[i, j]`` (what i owes j; retail cohorts and
outsiders are one sink node that owes nothing); each institution's external assets are everything
else it owns. ``kernels.clearing.eisenberg_noe`` gives the greatest clearing vector (Eisenberg &
Noe 2001); an institution paying a share ``r < 1`` of what it owes has failed (cause
``"clearing"``), and every claim on it is written down to ``r`` (equal seniority, pro rata). Bond
holders see the bond's price fall by the lost share of its supply, and the price stays impaired
(``BalanceSheets.impairment``); a failed listed firm's shares become worthless. One clearing a
week: losses that push further institutions under are cleared the next week. Channel
``clearing_losses`` off records failures but carries their debts at face.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.arrays import itemsize, rounding_margin, world_chunks
from abm.claims import DEBT_POOLS, debt_owed
from abm.state import WorldState
from kernels.backend import segment_sum
from kernels.clearing import eisenberg_noe


class FailureResolution:
    """The weekly clearing of failed institutions (rule).

    Attributes:
        resolved: (E, N) bool, failures already cleared (their shares written off).
        converged: (E,) bool, whether this week's Eisenberg–Noe clearing converged (True in a
            week that needed none).
        recovery: (E, K) share of its debts each institution paid in the last clearing (1 for
            all until a week needs one; K institutions, retail cohorts left out).
        pooled: (N,) bool, whether the agent's bonds are part of a pooled market rather than an
            asset of its own (bond assets are set when the sheets are built, securitisation
            included).
    """

    def __init__(self, sheets: Any, losses: bool = True) -> None:
        self.sheets, self.losses = sheets, losses
        self.pooled = np.array(
            [
                m >= 0 and int(m) not in sheets.assets.issued_by(name)
                for name, m in zip(sheets.roster.names, sheets.bond_asset, strict=True)
            ]
        )
        self.resolved = sheets.xp.zeros(sheets.ledger.cash.shape, dtype=sheets.xp.bool,
                                        device=sheets.prices.device)  # fmt: skip
        self.converged = sheets.xp.ones(sheets.prices.shape[:1], dtype=sheets.xp.bool,
                                        device=sheets.prices.device)  # fmt: skip
        k = sheets.roster.blocks["retail"][0]
        self.recovery = sheets.xp.ones_like(sheets.ledger.cash[:, :k])

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot: ``failures_converged``, whether this week's clearing of failures converged."""
        return {"failures_converged": self.converged}

    def step(self, state: WorldState) -> None:
        """Clear what failed institutions can pay and pass their losses to their creditors."""
        s = self.sheets
        xp = s.xp
        self.converged = xp.ones(s.prices.shape[:1], dtype=xp.bool, device=s.prices.device)
        k = s.roster.blocks["retail"][0]  # institutions come before the retail cohorts
        pending = state.defaulted & ~self.resolved  # flagged by the fire sale, not yet resolved
        # the rule's one host synchronisation in a quiet week: knowing that nobody can default
        # saves building the (E, K+1, K+1) network and clearing it
        if not bool(xp.any(pending) | ~self._everyone_pays(k)):
            return  # the clearing vector is everything owed: nobody defaults, nothing to do
        liabilities, external = self._network(k)
        result = eisenberg_noe(liabilities, external, method="picard")
        self.converged = result.converged
        owed = result.owed[:, :k]
        recovery = xp.where(
            owed > 0.0, result.payments[:, :k] / xp.where(owed > 0.0, owed, 1.0), 1.0
        )
        self.recovery = recovery
        short = (recovery < 1.0 - rounding_margin(xp, owed.dtype)) & (owed > 1e-9)
        if not bool(xp.any(short) | xp.any(pending)):  # a second one, only after a clearing
            return
        if not self.losses:  # failures are recorded, debts stay at face
            state.fail("clearing", _pad(xp, short, state.defaulted.shape[-1]) & ~state.defaulted)
            return
        loss_share = xp.where(short, 1.0 - recovery, 0.0)  # (E, K)
        for name in DEBT_POOLS:
            pool = s.ledger.pools[name]
            s.ledger.write_down(name, pool.face * xp.take(loss_share, pool.issuers, axis=1))
        self._write_down_bonds(loss_share, k)
        newly = _pad(xp, short, state.defaulted.shape[-1]) & ~state.defaulted
        state.fail("clearing", newly)
        self._wipe_out_equity(newly | pending)
        self.resolved = state.defaulted

    def _everyone_pays(self, k: int) -> Any:
        """0-d bool: whether every institution could pay all it owes if all others paid it in full.

        Then full payment is a clearing vector, and the greatest one (Eisenberg & Noe 2001), so
        the week has no failures to clear and the network need not be built. A margin of 1e-9
        leaves borderline cases to the full clearing.
        """
        s = self.sheets
        xp = s.xp
        held = xp.zeros_like(s.ledger.cash)
        for name in DEBT_POOLS:
            pool = s.ledger.pools[name]
            held = held + segment_sum(pool.claims, pool.holders, held.shape[-1])
        bonds = self._bond_totals()
        if bonds is None:
            bond_value = bond_face = xp.zeros_like(held)
        else:
            bond_face, bond_value = bonds
        external = xp.maximum(s.total_assets() - held - bond_value, 0.0)
        debt = debt_owed(s)
        solvent = external + held + bond_face >= debt * (1.0 + rounding_margin(xp, debt.dtype))
        return xp.all(solvent[:, :k] | (debt[:, :k] <= 1e-9))

    def _network(self, k: int) -> tuple[Any, Any]:
        """(E, K+1, K+1) debt claims among the K institutions (+ sink) and (E, K+1) other assets."""
        s = self.sheets
        xp = s.xp
        e = s.ledger.cash.shape[0]
        size = k + 1
        dtype, dev = s.prices.dtype, s.prices.device
        net = xp.zeros((e, size, size), dtype=dtype, device=dev)
        claims_held = xp.zeros((e, size), dtype=dtype, device=dev)
        for name in DEBT_POOLS:  # each pool's own edges: who owes whom (abm.ledger.Edges)
            pool = s.ledger.pools[name]
            edges = s.ledger.edges(name)
            cols = xp.where(edges.holder < k, edges.holder, k)
            net = net + _place_edges(xp, edges.amount, edges.issuer, cols, size)
            net = net + _place(
                xp, edges.outside[:, :, None], pool.issuers, xp.asarray([k], device=dev), size
            )
            holders = xp.where(pool.holders < k, pool.holders, k)
            claims_held = claims_held + segment_sum(pool.claims, holders, size)
        bonds, bond_value = self._bond_claims(k, size)
        net = net + bonds
        assets = s.total_assets()
        other = xp.zeros((e, size), dtype=dtype, device=dev)
        other = other + xp.concat(
            [assets[:, :k], xp.zeros((e, 1), dtype=dtype, device=dev)], axis=-1
        )
        external = xp.maximum(other - claims_held - bond_value, 0.0)
        external = xp.concat(
            [external[:, :k], xp.full((e, 1), xp.inf, dtype=dtype, device=dev)], axis=-1
        )
        return net, external

    def _bond_totals(self) -> tuple[Any, Any] | None:
        """(E, N) bond face each agent is owed by the issuers and its market value, or None.

        :meth:`_bond_holdings` summed over the issuers, a chunk of worlds at a time
        (:func:`abm.arrays.world_chunks`): the (E, N, B) claims are never whole.
        """
        s = self.sheets
        xp = s.xp
        n_bonds = int(np.count_nonzero(s.bond_asset >= 0))
        if n_bonds == 0:
            return None
        face, value = [], []
        per_world = s.holdings.shape[-2] * n_bonds * itemsize(xp, s.prices.dtype)
        for worlds in world_chunks(s.prices.shape[0], per_world, xp):
            _, _, claim_value, owed, _ = self._bond_holdings(worlds)
            face.append(xp.sum(owed, axis=-1))
            value.append(xp.sum(claim_value, axis=-1))
        return xp.concat(face), xp.concat(value)

    def _bond_holdings(self, worlds: slice | None = None) -> tuple[Any, Any, Any, Any, Any] | None:
        """The bonds of the issuing firms as held in ``worlds`` (None: all; None if no issuer).

        Returns issuer rows (B,), bond assets (B,), the market value of each agent's claim on
        each issuer (W, N, B) in the W worlds, the face each agent is owed by each issuer
        (W, N, B) — its units' share of the supply times the issuer's face — and prices (W, B).

        A firm without bonds of its own on the market axis borrows in a pooled market (xAI in
        private credit, a data-centre SPV in the SPV debt or, once securitised, the data-centre
        ABS), whose supply is the whole market's: only the issuer's share of the supply, its face
        over the supply, of each unit is a claim on it; the rest of the unit is a claim on
        borrowers outside the model, an external asset of its holder.
        """
        s = self.sheets
        xp = s.xp
        issuers = np.nonzero(s.bond_asset >= 0)[0]
        if issuers.size == 0:
            return None
        dev = s.prices.device
        worlds = slice(None) if worlds is None else worlds
        rows = xp.asarray(issuers, device=dev)
        assets = xp.asarray(s.bond_asset[issuers], device=dev)
        units = xp.take(s.holdings[worlds, ...], assets, axis=2)
        supply = xp.take(s.supply[worlds, ...], assets, axis=1)
        face = xp.take(s.bonds[worlds, ...], rows, axis=1)
        share = units / xp.where(supply > 0.0, supply, 1.0)[:, None, :]
        owed = share * face[:, None, :]
        price = xp.take(s.prices[worlds, ...], assets, axis=1)
        on_issuer = xp.minimum(face / xp.where(supply > 0.0, supply, 1.0), 1.0)  # (E, B)
        on_issuer = xp.where(xp.asarray(self.pooled[issuers], device=dev), on_issuer, 1.0)
        value = units * (price * on_issuer)[:, None, :]
        return rows, assets, value, owed, price

    def _bond_claims(self, k: int, size: int) -> tuple[Any, Any]:
        """Bond face owed by each issuer to each holder (by units held) and holders' bond value."""
        s = self.sheets
        xp = s.xp
        e = s.ledger.cash.shape[0]
        dtype, dev = s.prices.dtype, s.prices.device
        net = xp.zeros((e, size, size), dtype=dtype, device=dev)
        value = xp.zeros((e, size), dtype=dtype, device=dev)
        bonds = self._bond_holdings()
        if bonds is None:
            return net, value
        rows, _, claim_value, owed, _ = bonds
        n = s.ledger.cash.shape[-1]
        cols = xp.asarray(np.where(np.arange(n) < k, np.arange(n), k), device=dev)
        net = net + _place(xp, xp.permute_dims(owed, (0, 2, 1)), rows, cols, size)
        outside = xp.take(s.bonds, rows, axis=1) - xp.sum(owed, axis=1)  # held outside the model
        net = net + _place(xp, outside[:, :, None], rows, xp.asarray([k], device=dev), size)
        value = segment_sum(xp.sum(claim_value, axis=-1), cols, size)  # market value
        return net, value

    def _write_down_bonds(self, loss_share: Any, k: int) -> None:
        """Failed issuers' bond face falls to the recovery; their bond asset's price with it."""
        s = self.sheets
        xp = s.xp
        issuers = np.nonzero(s.bond_asset >= 0)[0]
        if issuers.size == 0:
            return
        dev = s.prices.device
        rows = xp.asarray(issuers, device=dev)
        assets = xp.asarray(s.bond_asset[issuers], device=dev)
        lost_face = xp.take(s.bonds, rows, axis=1) * xp.take(loss_share, rows, axis=1)  # (E, B)
        m = s.prices.shape[-1]
        lost_per_asset = segment_sum(lost_face, assets, m)
        fraction = lost_per_asset / xp.where(s.supply > 0.0, s.supply, 1.0)  # (E, M)
        fraction = xp.minimum(fraction, 1.0 - WORTHLESS)
        drop = s.prices * fraction
        s.ledger.book_equity(segment_sum(lost_face, rows, s.bonds.shape[-1]))  # issuers owe less
        s.ledger.book_equity(-(s.holdings @ drop[:, :, None])[:, :, 0])  # holders lose
        s.bonds = s.bonds - segment_sum(lost_face, rows, s.bonds.shape[-1])
        s.prices = s.prices - drop
        s.impairment = s.impairment * (1.0 - fraction)

    def _wipe_out_equity(self, failed_now: Any) -> None:
        """Shares of listed firms that failed this week lose their value for good."""
        s = self.sheets
        xp = s.xp
        listed = [(s.assets.equity_of(s.roster.names[i]), i) for i in s.roster.indices("firm")]
        listed = [(m, i) for m, i in listed if m >= 0]
        if not listed:
            return
        dev = s.prices.device
        cols = xp.asarray(np.array([m for m, _ in listed]), device=dev)
        failed = xp.take(
            failed_now, xp.asarray(np.array([i for _, i in listed]), device=dev), axis=1
        )
        worthless = xp.asarray(WORTHLESS, dtype=s.prices.dtype, device=dev)
        keep = xp.where(failed, worthless, 1.0)  # (E, L)
        factor = xp.ones_like(s.prices) + segment_sum(keep - 1.0, cols, s.prices.shape[-1])
        new = s.prices * factor
        s.ledger.book_equity((s.holdings @ (new - s.prices)[:, :, None])[:, :, 0])
        s.prices = new
        s.impairment = s.impairment * factor


#: price left to a failed firm's shares, relative to before (kept above 0 for log-price decay)
WORTHLESS = 1e-6


def _place(xp: Any, block: Any, rows: Any, cols: Any, size: int) -> Any:
    """(E, size, size) with ``block`` (E, R, C) added at ``rows`` × ``cols`` (may repeat)."""
    spread = segment_sum(block, cols, size)  # (E, R, size)
    return xp.permute_dims(segment_sum(xp.permute_dims(spread, (0, 2, 1)), rows, size), (0, 2, 1))


def _place_edges(xp: Any, amount: Any, rows: Any, cols: Any, size: int) -> Any:
    """(E, size, size) with ``amount[:, k]`` (E, K) added at ``rows[k]``, ``cols[k]``."""
    flat = segment_sum(amount, rows * size + cols, size * size)
    return xp.reshape(flat, (amount.shape[0], size, size))


def _pad(xp: Any, mask: Any, n: int) -> Any:
    """(E, K) bool mask extended with False to (E, n)."""
    e, k = mask.shape
    return xp.concat([mask, xp.zeros((e, n - k), dtype=xp.bool, device=mask.device)], axis=-1)
