"""Seeded benchmark instances, built on the host with NumPy so every backend times the same data.

Both builders return plain float64 NumPy arrays; the runner casts them to the benchmark dtype and
moves them to the device before any timer starts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FireSaleSetup:
    """Knobs of the fire-sale instance (recorded in the JSON next to the timings).

    Attributes:
        hold_probability: chance that a holder holds a given asset (overlapping portfolios).
        capital_min: default threshold on the capital ratio.
        capital_buffer: deleveraging threshold; also the target, so every further loss
            triggers another (smaller) sale and the cascade runs many rounds.
        ratio_spread: initial capital ratios are uniform in
            ``[capital_buffer, capital_buffer + ratio_spread]``.
        depth_factor: market depth of an asset as a multiple of the units all holders hold.
        shock: relative price drop of the shocked assets before the episode.
        shocked_assets: how many assets are shocked.
        needy_share: share of holders that also face a cash need (redemptions, margin calls).
        need_fraction: their cash need beyond their cash, as a fraction of their book.
    """

    hold_probability: float = 0.3
    capital_min: float = 0.03
    capital_buffer: float = 0.05
    ratio_spread: float = 0.03
    depth_factor: float = 10.0
    shock: float = 0.05
    shocked_assets: int = 4
    needy_share: float = 0.1
    need_fraction: float = 0.05

    def as_dict(self) -> dict[str, Any]:
        """The knobs as a JSON-ready dict."""
        return asdict(self)


def firesale_instance(
    worlds: int, holders: int, assets: int, *, seed: int, setup: FireSaleSetup | None = None
) -> dict[str, Any]:
    """A fire-sale episode: leveraged holders near their capital buffer after a price shock.

    Each of ``worlds`` independent worlds has ``holders`` holders with random overlapping
    portfolios over ``assets`` assets (log-normal book sizes and weights), a little cash, illiquid
    other assets worth 30 % of the book, and liabilities that put the capital ratio just above the
    buffer. A few assets then lose ``shock`` of their price; some holders also need cash. With the
    default knobs one world needs 20-40 rounds to clear in float64 (about half that in float32,
    whose tolerance is coarser), and a few worlds in a thousand need over a hundred. Deeper
    cascades sit close by: ``depth_factor=8`` makes some worlds need ~1,000 rounds (the cascade's
    gain is close to one), so keep the knobs away from that edge for timing.

    Args:
        worlds: E, the number of independent worlds.
        holders: N, holders per world.
        assets: M, tradable assets.
        seed: seed of the NumPy generator; the same seed gives the same instance.
        setup: instance knobs; defaults to ``FireSaleSetup()``.

    Returns:
        Keyword arguments for ``kernels.firesale.fire_sale``: ``holdings`` (E, N, M),
        ``prices`` (E, M) after the shock, ``cash``, ``liabilities``, ``other_assets``,
        ``cash_needed`` (E, N), ``depth`` (E, M) and the scalar thresholds.
    """
    s = setup or FireSaleSetup()
    rng = np.random.default_rng(seed)
    shape = (worlds, holders, assets)
    held = rng.random(shape) < s.hold_probability
    held[..., 0] |= ~held.any(axis=-1)  # everyone holds something
    weights = held * rng.lognormal(0.0, 1.0, shape)
    weights /= weights.sum(axis=-1, keepdims=True)
    book = rng.lognormal(0.0, 1.0, (worlds, holders))  # USD bn at pre-shock prices
    price_before = rng.uniform(0.5, 2.0, (worlds, assets))
    holdings = weights * book[..., None] / price_before[:, None, :]

    cash = 0.02 * book
    other_assets = 0.3 * book
    total = cash + book + other_assets
    ratio = rng.uniform(s.capital_buffer, s.capital_buffer + s.ratio_spread, (worlds, holders))
    liabilities = total * (1.0 - ratio)
    depth = s.depth_factor * holdings.sum(axis=1)

    prices = price_before.copy()
    shocked = rng.choice(assets, size=min(s.shocked_assets, assets), replace=False)
    prices[:, shocked] *= 1.0 - s.shock
    needy = rng.random((worlds, holders)) < s.needy_share
    cash_needed = np.where(needy, cash + s.need_fraction * book, 0.0)
    return {
        "holdings": holdings,
        "prices": prices,
        "cash": cash,
        "liabilities": liabilities,
        "depth": depth,
        "other_assets": other_assets,
        "cash_needed": cash_needed,
        "capital_min": s.capital_min,
        "capital_buffer": s.capital_buffer,
    }


@dataclass(frozen=True)
class ClearingSetup:
    """Knobs of the interbank clearing instance.

    Attributes:
        creditors: creditors per institution (sparse network; fewer when N is small).
        buffer_mean: mean of the external-asset cushion, as a fraction of what one owes.
        buffer_sd: its standard deviation; a negative cushion means a shortfall.
    """

    creditors: int = 5
    buffer_mean: float = 0.05
    buffer_sd: float = 0.1

    def as_dict(self) -> dict[str, Any]:
        """The knobs as a JSON-ready dict."""
        return asdict(self)


def clearing_instance(
    worlds: int, institutions: int, *, seed: int, setup: ClearingSetup | None = None
) -> dict[str, np.ndarray]:
    """A sparse random liability network in which some institutions cannot pay in full.

    Each institution owes log-normal amounts to a few random others. Its external assets are
    what it owes minus what it is owed, plus a normal cushion (``buffer_mean`` ± ``buffer_sd`` of
    what it owes), floored at zero; a negative cushion makes it short and starts a cascade
    (about a fifth default with the default knobs).

    Args:
        worlds: E, the number of independent networks.
        institutions: N, institutions per network.
        seed: seed of the NumPy generator.
        setup: network knobs; defaults to ``ClearingSetup()``.

    Returns:
        ``liabilities`` (E, N, N) with ``L[e, i, j]`` what i owes j, and ``external_assets`` (E, N).
    """
    s = setup or ClearingSetup()
    rng = np.random.default_rng(seed)
    n = institutions
    k = max(1, min(s.creditors, n - 1))
    creditor = rng.integers(0, n - 1, (worlds, n, k))
    creditor += creditor >= np.arange(n)[None, :, None]  # nobody owes itself
    amount = rng.lognormal(0.0, 1.0, (worlds, n, k))
    liabilities = np.zeros((worlds, n, n))
    world = np.arange(worlds)[:, None, None]
    debtor = np.arange(n)[None, :, None]
    liabilities[world, debtor, creditor] = amount
    owed = liabilities.sum(axis=-1)
    owed_to = liabilities.sum(axis=-2)
    cushion = rng.normal(s.buffer_mean, s.buffer_sd, (worlds, n)) * owed
    external_assets = np.clip(owed - owed_to + cushion, 0.0, None)
    return {"liabilities": liabilities, "external_assets": external_assets}
