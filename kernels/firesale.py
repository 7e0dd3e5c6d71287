"""The market-clearing fire-sale fixed point: capital rules, liquidity needs, defaults, impact.

One call clears one market episode (an intra-week cascade). Holders own units of M tradable
assets, cash, illiquid ``other_assets`` and ``liabilities``. Round after round each holder decides
on the state at the start of the round; all orders are aggregated; prices move once; every sale
fills at the round's mid price (Farmer et al. 2020, "Foundations of system-wide financial stress
testing with heterogeneous institutions", INET Oxford WP; Cont & Schaanning 2017 §3). Rounds stop
when one sells nothing.

Rules (docs/design.md, "The kernel contract"), with total assets
``A = cash + holdings·prices + other_assets``, ``equity = A - liabilities`` and
``capital ratio = equity / A``:

- **Default** — a holder that owes something and whose ``equity <= 0`` or ratio
  ``< capital_min`` defaults and stays defaulted for the rest of the call; with
  ``sell_all_on_default`` it sells everything at once, and the proceeds stay as its cash (what
  creditors recover is ``kernels.clearing``'s business). A holder that owes nothing cannot default.
- **Deleveraging** (threshold rule of the INET ``resilience`` library, min/buffer/target) — below
  ``capital_buffer`` a holder sheds ``D = A - equity / capital_target`` of assets (the amount that
  restores the target at unchanged equity): spare cash (cash beyond ``cash_needed``) repays
  liabilities first, then it sells the rest pro rata by market value, and the sale proceeds repay
  liabilities. ``capital_target`` defaults to ``capital_buffer``.
- **Liquidity needs** — ``cash_needed`` (redemptions, margin calls, withdrawals): a holder whose
  cash is below it sells pro rata until its cash covers it; that cash stays as cash.

Pro rata by market value means selling the same fraction of every position, so a holder's
holdings stay proportional to its initial ones: the state per holder is the retained fraction
``r`` and each round costs two matrix–vector products over the holdings (value of the book and
units sold per asset), no scatter and no per-holder Python (kernels-and-performance.md §1.3).

Convergence: a world is quiet when in one round no holder sells more than ``tol`` times its total
assets; from then on it is frozen, so a world's result does not depend on the other worlds in the
batch. The host checks whether all worlds are quiet once every ``check_every`` rounds (one
synchronisation per block on a GPU). ``tol`` is raised to ``64 * eps`` of the dtype when smaller,
since float32 cannot resolve relative sales of 1e-10. On NumPy and CuPy, settled worlds also leave
the working set once at most half of it is active, so a large batch pays for its active worlds
only; the results are identical, and other namespaces keep every world to the end.

Bad inputs: ``tol`` (NaN, infinite or <= 0), ``max_iter``, ``check_every`` and Python-scalar
thresholds (NaN; ``capital_target`` <= 0; ``price_floor`` outside [0, 1)) raise a ValueError
naming the argument. Array data are checked on the device, with no extra host synchronisation: a
world with NaN or infinite holdings, prices, cash, liabilities, other assets or cash needs,
negative holdings, prices or liabilities, a depth that is not > 0 (``inf`` is allowed: no
impact), NaN thresholds, a ``capital_target`` <= 0 or a ``price_floor`` outside [0, 1) is returned
unchanged with ``converged`` False, as is any world whose results are not finite. Negative cash
(an overdraft) and capital thresholds of ``±inf`` are allowed. Integer and boolean arrays are cast
to the first floating dtype among the inputs, else float64; empty batches give empty results.
"""

from __future__ import annotations

from math import prod
from typing import Any, NamedTuple

import array_api_compat

from kernels.backend import array_namespace, cast_inputs, default_check_every
from kernels.impact import check_impact, fill_price, impacted_price
from kernels.validation import (
    all_finite,
    batch_shape,
    check_limits,
    check_scalar,
    check_tol,
    float_dtype,
    world_ok,
)


class FireSaleResult(NamedTuple):
    """Outcome of ``fire_sale``; arrays in the namespace and dtype of the inputs.

    Attributes:
        prices: (..., M) prices after the cascade.
        holdings: (..., N, M) units held after the sales (None when the call asked for no
            ``return_holdings``: the caller builds them from ``retained``).
        cash: (..., N) cash after sales and repayments.
        liabilities: (..., N) liabilities after repayments.
        equity: (..., N) ``cash + holdings·prices + other_assets - liabilities`` at final prices.
        defaulted: (..., N) bool, defaulted during (or before) this call.
        sold: (..., M) units of each asset sold to the market makers.
        converged: (...) bool, the world reached a round that sold nothing.
        iterations: rounds run until the last world was quiet (``max_iter`` if one never was).
        proceeds: (..., N) cash received from all sales, at fill prices.
        rounds: (...) int, rounds each world ran, the quiet round included.
        retained: (..., N) share of each holder's initial units still held: every position of
            a holder is sold in the same proportion, so ``holdings = initial × retained``.
    """

    prices: Any
    holdings: Any
    cash: Any
    liabilities: Any
    equity: Any
    defaulted: Any
    sold: Any
    converged: Any
    iterations: int
    proceeds: Any
    rounds: Any
    retained: Any


def _matvec(matrix: Any, vector: Any) -> Any:
    """``matrix @ vector`` over the last axes with batch broadcasting: (..., N, M) x (..., M)."""
    return (matrix @ vector[..., None])[..., 0]


def _nonzero(xp: Any, divisor: Any) -> Any:
    """``divisor`` with zeros replaced by 1, for ratios whose numerator is 0 wherever it is."""
    return xp.where(divisor > 0.0, divisor, 1.0)


def _vecmat(vector: Any, matrix: Any) -> Any:
    """``vector @ matrix`` over the last axes with batch broadcasting: (..., N) x (..., N, M)."""
    return (vector[..., None, :] @ matrix)[..., 0, :]


def fire_sale(
    holdings: Any,
    prices: Any,
    cash: Any,
    liabilities: Any,
    *,
    depth: Any,
    other_assets: Any = None,
    capital_min: float | Any = 0.0,
    capital_buffer: float | Any | None = None,
    capital_target: float | Any | None = None,
    cash_needed: Any = None,
    impact: str = "exponential",
    fill: str = "mid",
    sell_all_on_default: bool = True,
    price_floor: float | Any = 0.0,
    tol: float = 1e-10,
    max_iter: int = 1000,
    check_every: int | None = None,
    return_holdings: bool = True,
) -> FireSaleResult:
    """Clear the market: run synchronous fire-sale rounds until no holder sells.

    Args:
        holdings: (..., N, M) units of each tradable asset per holder (non-negative).
        prices: (..., M) prices before the episode, USD bn per unit.
        cash: (..., N) cash, USD bn.
        liabilities: (..., N) liabilities, USD bn.
        depth: (M,) or (..., M) market depth in units (``inf``: no impact).
        other_assets: (..., N) illiquid assets counted in total assets, never sold.
        capital_min: default threshold on the capital ratio (scalar or (..., N)); None disables.
        capital_buffer: ratio below which a holder delevers (scalar or (..., N)); None disables.
        capital_target: ratio a deleveraging holder aims for; defaults to ``capital_buffer``.
        cash_needed: (..., N) cash each holder must hold at the end (liquidity needs).
        impact: ``"exponential"``, ``"linear"`` or ``"cont_schaanning"`` (``kernels.impact``).
        fill: ``"mid"`` (default) or ``"end"`` price of each round.
        sell_all_on_default: defaulted holders sell everything (else they stop trading).
        price_floor: Cont–Schaanning floor as a fraction of the initial price.
        tol: a round in which no holder sells more than ``tol`` of its total assets is quiet.
        max_iter: most rounds to run.
        check_every: rounds between host-side checks of convergence; default 1 on NumPy
            (a check costs nothing there), 8 elsewhere (a check is a device synchronisation).
        return_holdings: build the (..., N, M) holdings after the sales; False leaves
            ``holdings`` of the result None, so that a caller that settles them in place from
            ``retained`` never holds a second array of every holder's units.

    Returns:
        FireSaleResult; see its attributes. Inputs are never modified.
    """
    check_impact(impact, fill)
    check_limits(max_iter, check_every)
    tol = check_tol(tol)
    check_scalar("capital_min", capital_min)
    check_scalar("capital_buffer", capital_buffer)
    check_scalar("capital_target", capital_target, positive=True)
    check_scalar("price_floor", price_floor, low=0.0, below=1.0)
    xp = array_namespace(holdings, prices, cash, liabilities, depth, other_assets, cash_needed)
    if holdings.ndim < 2:
        raise ValueError(f"holdings must have shape (..., N, M); got {holdings.shape}")
    n, m = holdings.shape[-2:]
    batch = batch_shape(
        ("holdings", holdings, 2),
        {
            "prices": (prices, m, "M", False),
            "depth": (depth, m, "M", False),
            "cash": (cash, n, "N", False),
            "liabilities": (liabilities, n, "N", False),
            "other_assets": (other_assets, n, "N", False),
            "cash_needed": (cash_needed, n, "N", False),
            "capital_min": (capital_min, n, "N", True),
            "capital_buffer": (capital_buffer, n, "N", True),
            "capital_target": (capital_target, n, "N", True),
            "price_floor": (price_floor, m, "M", True),
        },
    )
    dtype = float_dtype(xp, holdings, prices, cash, liabilities, depth, other_assets, cash_needed)
    device = holdings.device
    holdings, prices, cash, liabilities, depth, other_assets, cash_needed = cast_inputs(
        xp, dtype, holdings, prices, cash, liabilities, depth, other_assets, cash_needed
    )
    capital_min, capital_buffer, capital_target, price_floor = cast_inputs(
        xp, dtype, capital_min, capital_buffer, capital_target, price_floor
    )
    # Worlds with NaN, infinite or negative data where the contract forbids them are bad: they are
    # frozen at once (returned unchanged) and reported as not converged, with no host sync.
    # Allowed: negative cash (an overdraft), depth = inf (no impact), capital thresholds of +-inf.
    checks = {
        "holdings": (holdings, 2, lambda x: xp.isfinite(x) & (x >= 0.0)),
        "prices": (prices, 1, lambda x: xp.isfinite(x) & (x >= 0.0)),
        "cash": (cash, 1, xp.isfinite),
        "liabilities": (liabilities, 1, lambda x: xp.isfinite(x) & (x >= 0.0)),
        "depth": (depth, 1, lambda x: x > 0.0),  # False for NaN; inf allowed
        "other_assets": (other_assets, 1, xp.isfinite),
        "cash_needed": (cash_needed, 1, xp.isfinite),
        "capital_min": (capital_min, 1, lambda x: ~xp.isnan(x)),
        "capital_buffer": (capital_buffer, 1, lambda x: ~xp.isnan(x)),
        "capital_target": (capital_target, 1, lambda x: x > 0.0),
        "price_floor": (price_floor, 1, lambda x: (x >= 0.0) & (x < 1.0)),
    }
    ok = world_ok(
        xp,
        batch,
        device,
        [
            (x, core, rule(x))
            for x, core, rule in checks.values()
            if x is not None and not isinstance(x, (bool, int, float))
        ],
    )
    if capital_buffer is not None and capital_target is None:
        capital_target = capital_buffer
    rules = _Rules(
        tol=max(tol, 64.0 * float(xp.finfo(dtype).eps)),
        impact=impact,
        fill=fill,
        sell_all_on_default=sell_all_on_default,
    )
    check_every = default_check_every(xp) if check_every is None else check_every

    # Flatten the batch axes to one axis of B worlds; inputs without batch axes stay shared.
    worlds = prod(batch)
    zeros_n = xp.zeros((worlds, n), dtype=dtype, device=device)

    def per_world(x: Any, core: int) -> Any:
        if x is None or isinstance(x, (bool, int, float)) or x.ndim <= core:
            return x
        return xp.reshape(
            xp.broadcast_to(x, (*batch, *x.shape[-core:])), (worlds, *x.shape[-core:])
        )

    def state_vector(x: Any) -> Any:
        return zeros_n if x is None else zeros_n + per_world(x, 1)

    market = _Market(
        holdings=per_world(holdings, 2),
        prices=xp.zeros((worlds, m), dtype=dtype, device=device) + per_world(prices, 1),
        depth=per_world(depth, 1),
        illiquid=state_vector(other_assets),
        need=state_vector(cash_needed),
        capital_min=per_world(capital_min, 1),
        capital_buffer=per_world(capital_buffer, 1),
        capital_target=per_world(capital_target, 1),
        price_floor=per_world(price_floor, 1),
    )
    state = _State(
        retained=zeros_n + 1.0,
        cash=state_vector(cash),
        debt=state_vector(liabilities),
        proceeds=xp.zeros_like(zeros_n),
        defaulted=zeros_n > 0.0,
        sold=xp.zeros_like(market.prices),
        price=market.prices,
        unit_value=_matvec(market.holdings, market.prices),
        quiet=~xp.reshape(ok, (worlds,)),
        rounds=xp.zeros((worlds,), dtype=xp.int64, device=device),
    )
    state, iterations = _run_rounds(xp, rules, market, state, max_iter, check_every)

    def unflatten(x: Any) -> Any:
        return xp.reshape(x, (*batch, *x.shape[1:]))

    equity = state.cash + state.retained * state.unit_value + market.illiquid - state.debt
    converged = all_finite(
        xp,
        unflatten(state.quiet) & ok,
        *((unflatten(x), 1) for x in (state.price, state.cash, state.debt, equity, state.sold)),
        (unflatten(state.proceeds), 1),
    )
    return FireSaleResult(
        prices=unflatten(state.price),
        holdings=holdings * unflatten(state.retained)[..., None] if return_holdings else None,
        cash=unflatten(state.cash),
        liabilities=unflatten(state.debt),
        equity=unflatten(equity),
        defaulted=unflatten(state.defaulted),
        sold=unflatten(state.sold),
        converged=converged,
        iterations=iterations,
        proceeds=unflatten(state.proceeds),
        rounds=unflatten(state.rounds),
        retained=unflatten(state.retained),
    )


class _Market(NamedTuple):
    """What stays fixed during a call: arrays with a leading world axis B, or shared by all."""

    holdings: Any  # (B, N, M) or (N, M) units held at the start
    prices: Any  # (B, M) prices at the start
    depth: Any  # (B, M) or (M,)
    illiquid: Any  # (B, N) other assets
    need: Any  # (B, N) cash needed
    capital_min: Any  # scalar, (N,) or (B, N); None disables
    capital_buffer: Any
    capital_target: Any
    price_floor: Any  # scalar, (M,) or (B, M)

    #: axes of one world's value of each field; a field with more axes has a world axis
    CORE = (2, 1, 1, 1, 1, 1, 1, 1, 1)


class _State(NamedTuple):
    """What the rounds update, per world (leading axis B)."""

    retained: Any  # (B, N) share of the initial holdings still held
    cash: Any  # (B, N)
    debt: Any  # (B, N) liabilities
    proceeds: Any  # (B, N) cash received from sales so far
    defaulted: Any  # (B, N) bool
    sold: Any  # (B, M) units sold so far
    price: Any  # (B, M)
    unit_value: Any  # (B, N) value of the initial holdings at the current prices
    quiet: Any  # (B,) bool: a round sold nothing; frozen since
    rounds: Any  # (B,) int: rounds run, the quiet one included

    CORE = (1, 1, 1, 1, 1, 1, 1, 1, 0, 0)  # every field has a world axis


def _run_rounds(
    xp: Any, rules: _Rules, market: _Market, state: _State, max_iter: int, check_every: int
) -> tuple[_State, int]:
    """Run rounds until every world is quiet or ``max_iter``; return the state and the rounds.

    On NumPy and CuPy, whose arrays allow data-dependent shapes, worlds that are quiet leave the
    working set once at most half of it is still active ("compaction"): a batch no longer pays,
    round after round, for worlds that settled long ago. The result is the same as without it,
    since quiet worlds are frozen. Other namespaces keep every world to the end.
    """
    compacting = state.quiet.shape[0] > 1 and (
        array_api_compat.is_numpy_namespace(xp) or array_api_compat.is_cupy_namespace(xp)
    )
    final = None  # full-size state once compaction starts; ``where`` maps the working set into it
    where = None
    iterations = 0
    while iterations < max_iter:
        for _ in range(min(check_every, max_iter - iterations)):
            state = rules.play_round(xp, market, state)
            iterations += 1
        active = int(xp.sum(xp.astype(~state.quiet, xp.int64)))  # one synchronisation per block
        if active == 0:
            break
        if compacting and 2 * active <= state.quiet.shape[0]:
            if final is None:
                final = _State(*(xp.asarray(x, copy=True) for x in state))
                where = xp.arange(state.quiet.shape[0], device=state.quiet.device)
            done = xp.nonzero(state.quiet)[0]
            keep = xp.nonzero(~state.quiet)[0]
            for full, part in zip(final, _take(xp, state, done), strict=True):
                full[where[done], ...] = part
            state = _take(xp, state, keep)
            market = _take(xp, market, keep)
            where = where[keep]
    if final is not None:
        for full, part in zip(final, state, strict=True):
            full[where, ...] = part
        state = final
    if state.rounds.shape[0] == 0:  # an empty batch
        return state, 0
    return state, int(xp.max(state.rounds))


def _take(xp: Any, fields: Any, index: Any) -> Any:
    """The worlds ``index`` of every field that has a world axis (``fields.CORE`` says which)."""
    return type(fields)(
        *(
            xp.take(x, index, axis=0) if hasattr(x, "ndim") and x.ndim > core else x
            for x, core in zip(fields, fields.CORE, strict=True)
        )
    )


class _Orders(NamedTuple):
    sell: Any  # (B, N) market value to sell this round, at start-of-round prices
    repay_cash: Any  # (B, N) liabilities repaid from spare cash this round
    delever_share: Any  # (B, N) share of sale proceeds that repays liabilities
    defaulted: Any  # (B, N) bool
    assets: Any  # (B, N) total assets at the start of the round


class _Rules(NamedTuple):
    """How holders decide and how a round settles (the module docstring states the rules)."""

    tol: float
    impact: str
    fill: str
    sell_all_on_default: bool

    def play_round(self, xp: Any, market: _Market, state: _State) -> _State:
        """One synchronous round: decide on the start-of-round state, sell, move prices, settle."""
        book = state.retained * state.unit_value
        orders = self.decide(xp, market, state, book)
        rounds = state.rounds + xp.astype(~state.quiet, xp.int64)
        # quiet: no holder would sell or repay more than tol of its assets; frozen from now on
        material = xp.maximum(orders.sell, orders.repay_cash) > self.tol * orders.assets
        quiet = state.quiet | ~xp.any(material, axis=-1)
        go = ~quiet[..., None]

        fraction = xp.minimum(orders.sell / _nonzero(xp, book), 1.0)
        sold_fraction = xp.where(go, state.retained * fraction, 0.0)  # of the initial holdings
        sold = state.sold + _vecmat(sold_fraction, market.holdings)
        price = impacted_price(
            market.prices, sold, market.depth, impact=self.impact, price_floor=market.price_floor
        )
        unit_value = _matvec(market.holdings, price)
        proceeds = sold_fraction * fill_price(state.unit_value, unit_value, self.fill)

        repay_cash = xp.where(go, orders.repay_cash, 0.0)
        repay_sales = xp.minimum(proceeds * orders.delever_share, state.debt - repay_cash)
        return _State(
            retained=state.retained - sold_fraction,
            cash=state.cash - repay_cash + proceeds - repay_sales,
            debt=state.debt - repay_cash - repay_sales,
            proceeds=state.proceeds + proceeds,
            defaulted=orders.defaulted,
            sold=sold,
            price=price,
            unit_value=unit_value,
            quiet=quiet,
            rounds=rounds,
        )

    def decide(self, xp: Any, market: _Market, state: _State, book: Any) -> _Orders:
        """Each holder's orders for this round, from the state at its start."""
        cash, debt = state.cash, state.debt
        assets = cash + book + market.illiquid
        equity = assets - debt
        ratio = equity / _nonzero(xp, assets)  # A = 0: ratio 0 if it owes nothing, else < 0
        broke = equity <= 0.0
        if market.capital_min is not None:
            broke = broke | (ratio < market.capital_min)
        defaulted = state.defaulted | ((debt > 0.0) & broke)

        gap = market.need - cash
        short, spare = xp.maximum(gap, 0.0), xp.maximum(-gap, 0.0)
        if market.capital_buffer is None:
            shed = xp.zeros_like(book)
        else:  # rows with equity <= 0 that owe something are defaulted and overridden below
            excess = xp.maximum(assets - equity / market.capital_target, 0.0)
            shed = xp.where(ratio < market.capital_buffer, excess, 0.0)
        repay_cash = xp.minimum(xp.minimum(spare, shed), debt)
        sell_delever = xp.minimum(shed - repay_cash, book)
        sell = sell_delever + xp.minimum(short, book - sell_delever)
        share = sell_delever / _nonzero(xp, sell)

        on_default = book if self.sell_all_on_default else xp.zeros_like(book)
        return _Orders(
            sell=xp.where(defaulted, on_default, sell),
            repay_cash=xp.where(defaulted, 0.0, repay_cash),
            delever_share=xp.where(defaulted, 0.0, share),
            defaulted=defaulted,
            assets=assets,
        )
