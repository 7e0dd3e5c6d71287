"""The market-clearing fire-sale fixed point: capital rules, liquidity needs, defaults, impact.

One call clears one market episode (an intra-week cascade). Holders own units of M tradable
assets, cash, illiquid ``other_assets`` and ``liabilities``. Round after round each holder decides
on the state at the start of the round; all orders are aggregated; prices move once; every sale
fills at the round's mid price (Farmer et al. 2020, "Foundations of system-wide financial stress
testing with heterogeneous institutions", INET Oxford WP; Cont & Schaanning 2017 §3). Rounds stop
when one sells nothing.

Rules (DESIGN.md §3.1; peers-and-equations.md §5.2–5.3), with total assets
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
since float32 cannot resolve relative sales of 1e-10.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from kernels.backend import array_namespace, cast_inputs, default_check_every
from kernels.impact import check_impact, fill_price, impacted_price
from kernels.validation import batch_shape, check_limits


class FireSaleResult(NamedTuple):
    """Outcome of ``fire_sale``; arrays in the namespace and dtype of the inputs.

    Attributes:
        prices: (..., M) prices after the cascade.
        holdings: (..., N, M) units held after the sales.
        cash: (..., N) cash after sales and repayments.
        liabilities: (..., N) liabilities after repayments.
        equity: (..., N) ``cash + holdings·prices + other_assets - liabilities`` at final prices.
        defaulted: (..., N) bool, defaulted during (or before) this call.
        sold: (..., M) units of each asset sold to the market makers.
        converged: (...) bool, the world reached a round that sold nothing.
        iterations: rounds run until the last world was quiet (``max_iter`` if one never was).
        proceeds: (..., N) cash received from all sales, at fill prices.
        rounds: (...) int, rounds each world ran, the quiet round included.
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

    Returns:
        FireSaleResult; see its attributes. Inputs are never modified.
    """
    check_impact(impact, fill)
    check_limits(max_iter, check_every)
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
    dtype, device = holdings.dtype, holdings.device
    prices, cash, liabilities, depth, other_assets, cash_needed = cast_inputs(
        xp, dtype, prices, cash, liabilities, depth, other_assets, cash_needed
    )
    capital_min, capital_buffer, capital_target, price_floor = cast_inputs(
        xp, dtype, capital_min, capital_buffer, capital_target, price_floor
    )
    zeros_n = xp.zeros((*batch, n), dtype=dtype, device=device)
    tol = max(float(tol), 64.0 * float(xp.finfo(dtype).eps))
    check_every = default_check_every(xp) if check_every is None else check_every
    if capital_buffer is not None and capital_target is None:
        capital_target = capital_buffer

    def broadcast(x: Any) -> Any:
        return zeros_n if x is None else zeros_n + x

    cash = broadcast(cash)
    debt = broadcast(liabilities)
    illiquid = broadcast(other_assets)
    need = broadcast(cash_needed)
    retained = zeros_n + 1.0
    sold = xp.zeros((*batch, holdings.shape[-1]), dtype=dtype, device=device)
    price = prices + sold
    unit_value = _matvec(holdings, price)  # value of each initial book at current prices
    proceeds = zeros_n
    defaulted = zeros_n > 0.0
    quiet = xp.zeros(batch, dtype=xp.bool, device=device)
    rounds = xp.zeros(batch, dtype=xp.int64, device=device)
    rules = _Rules(capital_min, capital_buffer, capital_target, sell_all_on_default)
    iterations = 0

    while iterations < max_iter:
        for _ in range(min(check_every, max_iter - iterations)):
            book = retained * unit_value
            orders = rules.decide(xp, book, cash, illiquid, debt, need, defaulted)
            defaulted = orders.defaulted
            rounds = rounds + xp.astype(~quiet, xp.int64)
            # quiet: no holder would sell or repay more than tol of its assets; frozen from now on
            material = xp.maximum(orders.sell, orders.repay_cash) > tol * orders.assets
            quiet = quiet | ~xp.any(material, axis=-1)
            go = ~quiet[..., None]

            fraction = xp.minimum(orders.sell / _nonzero(xp, book), 1.0)
            sold_fraction = xp.where(go, retained * fraction, 0.0)
            sold = sold + _vecmat(sold_fraction, holdings)
            price = impacted_price(prices, sold, depth, impact=impact, price_floor=price_floor)
            new_unit_value = _matvec(holdings, price)
            round_proceeds = sold_fraction * fill_price(unit_value, new_unit_value, fill)
            unit_value = new_unit_value
            retained = retained - sold_fraction

            repay_cash = xp.where(go, orders.repay_cash, 0.0)
            repay_sales = xp.minimum(round_proceeds * orders.delever_share, debt - repay_cash)
            debt = debt - repay_cash - repay_sales
            cash = cash - repay_cash + round_proceeds - repay_sales
            proceeds = proceeds + round_proceeds
            iterations += 1
        if bool(xp.all(quiet)):  # the one host synchronisation per block
            break

    return FireSaleResult(
        prices=price,
        holdings=holdings * retained[..., None],
        cash=cash,
        liabilities=debt,
        equity=cash + retained * unit_value + illiquid - debt,
        defaulted=defaulted,
        sold=sold,
        converged=quiet,
        iterations=int(xp.max(rounds)),
        proceeds=proceeds,
        rounds=rounds,
    )


class _Orders(NamedTuple):
    sell: Any  # (..., N) market value to sell this round, at start-of-round prices
    repay_cash: Any  # (..., N) liabilities repaid from spare cash this round
    delever_share: Any  # (..., N) share of sale proceeds that repays liabilities
    defaulted: Any  # (..., N) bool
    assets: Any  # (..., N) total assets at the start of the round


class _Rules(NamedTuple):
    """The holders' decision rules, evaluated on the state at the start of a round."""

    capital_min: Any
    capital_buffer: Any
    capital_target: Any
    sell_all_on_default: bool

    def decide(
        self,
        xp: Any,
        book: Any,
        cash: Any,
        illiquid: Any,
        debt: Any,
        need: Any,
        defaulted: Any,
    ) -> _Orders:
        assets = cash + book + illiquid
        equity = assets - debt
        ratio = equity / _nonzero(xp, assets)  # A = 0: ratio 0 if it owes nothing, else < 0
        broke = equity <= 0.0
        if self.capital_min is not None:
            broke = broke | (ratio < self.capital_min)
        defaulted = defaulted | ((debt > 0.0) & broke)

        gap = need - cash
        short, spare = xp.maximum(gap, 0.0), xp.maximum(-gap, 0.0)
        if self.capital_buffer is None:
            shed = xp.zeros_like(book)
        else:  # rows with equity <= 0 that owe something are defaulted and overridden below
            excess = xp.maximum(assets - equity / self.capital_target, 0.0)
            shed = xp.where(ratio < self.capital_buffer, excess, 0.0)
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
