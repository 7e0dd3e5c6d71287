"""The value-investor / noise-trader market of Thurner, Farmer & Geanakoplos (2012), batched.

Thurner, Farmer & Geanakoplos (2012), "Leverage causes fat tails and clustered volatility",
Quantitative Finance 12(5): 695–707, arXiv:0908.1555, §2. One asset with N units and a
fundamental value V; one price per step (a day):

- **Noise traders** spend ``xi_t`` (cash value) on the asset, an AR(1) in logs:
  ``log xi_t = rho log xi_{t-1} + sigma chi_t + (1 - rho) log(V N)``, ``chi_t ~ N(0, 1)``.
- **Funds** h = 1..H are value investors with aggression ``beta_h``; on the mispricing
  ``m = V - p`` each wants the position (in USD) ``min(beta_h m, lambda_max) W_h`` when ``m > 0``
  and nothing otherwise, so its leverage ``lambda = p D_h / W_h`` never exceeds the cap
  ``lambda_max`` (the margin rule: assets / equity at most the cap, as the model's
  ``abm.policy.Policy.hedge_fund_leverage_cap``). A fund at the cap whose price falls is above
  it at the new price and must sell back down: a **margin call**.
- **Clearing**: ``xi_t / p_t + sum_h D_h(p_t) = N``, where a fund's wealth at the new
  price is ``W_h(p) = cash_h + D_h(t-1) p`` (cash negative = borrowed). The root is found by
  bisection in log price over ``[0.01 V, 5 V]``, every world of the batch at once.
- **Wealth, flows, failure**: the fund's return on wealth
  ``r_h = D_h(t-1) (p_t - p_{t-1}) / W_h(t-1)`` feeds a moving average
  ``r~_h = (1 - a) r~_h + a r_h``; investors add ``max(-1, b (r~_h - r_b)) W_h`` to the fund. A fund
  whose wealth falls to ``0.1 W0`` fails, its position is closed, and after ``T_reintro``
  steps a new fund enters with ``W0``.

The arrays have a leading world axis E (each world may have its own ``lambda_max``), so one
simulation runs every leverage cap and seed of a sweep together; the array namespace is NumPy's
or CuPy's through ``kernels.backend``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np


@dataclass(frozen=True)
class MarketParameters:
    """Parameters of the market, as in TFG 2012 §2.

    The values follow the public replication code of the model (``thurner_model.py`` of
    ``sertainly/intelligent_fund_via_RL``, after Luzius Meisser's SFI notebook), whose comment gives
    the paper's flow sensitivity b = 0.15.

    Attributes:
        value: fundamental value V (USD per unit).
        supply: units of the asset N.
        rho: AR(1) coefficient of the noise traders' log cash.
        sigma: standard deviation of the noise traders' log-cash innovations (per step).
        aggression: beta_h of the H funds.
        initial_wealth: W0, each fund's wealth at entry (USD).
        failure_share: a fund fails when its wealth falls to this share of W0.
        reentry_steps: steps before a failed fund is replaced.
        memory: a, weight of the latest return in the performance average.
        flow_sensitivity: b, investors' flow per unit of excess performance.
        benchmark: r_b, the benchmark return per step.
    """

    value: float = 1.0
    supply: float = 1000.0
    rho: float = 0.99
    sigma: float = 0.035
    aggression: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0)
    initial_wealth: float = 2.0
    failure_share: float = 0.1
    reentry_steps: int = 100
    memory: float = 0.1
    flow_sensitivity: float = 0.15
    benchmark: float = 0.005


class MarketPaths(NamedTuple):
    """What one simulation recorded, NumPy arrays with the world axis first.

    Attributes:
        prices: (E, T + 1) prices, the start included.
        margin_calls: (E, T) number of funds forced to sell by the leverage cap at each step.
        failures: (E, T) number of funds that failed at each step.
        fund_wealth: (E, T) total wealth of the active funds after each step (USD).
        leverage: (E, T) mean leverage of the active funds with a position.
    """

    prices: np.ndarray
    margin_calls: np.ndarray
    failures: np.ndarray
    fund_wealth: np.ndarray
    leverage: np.ndarray


def _demand(xp: Any, price: Any, cash: Any, shares: Any, beta: Any, cap: Any, params: Any) -> Any:
    """Units each fund wants at ``price`` (E, 1) given its cash and units going in (E, H)."""
    wealth = xp.maximum(cash + shares * price, 0.0)
    position = xp.clip(beta * (params.value - price), 0.0, cap) * wealth  # USD
    return position / price


def clear(
    xp: Any,
    xi: Any,
    cash: Any,
    shares: Any,
    active: Any,
    beta: Any,
    cap: Any,
    params: MarketParameters,
    iterations: int = 36,
) -> Any:
    """The clearing price of every world (E,): bisection on ``xi/p + sum D(p) - N`` in log p.

    The excess demand is positive at ``0.01 V`` and negative at ``5 V`` (no fund buys above V and
    noise demand is ``xi / p``), so bisection always brackets a root; 36 halvings of the log
    bracket leave a relative error below 1e-10 (returns move by about 3e-2 a step).
    """
    lo = xp.full(xi.shape, np.log(0.01 * params.value), dtype=xp.float64)
    hi = xp.full(xi.shape, np.log(5.0 * params.value), dtype=xp.float64)
    shares = xp.where(active, shares, 0.0)  # inactive funds hold nothing and want nothing
    cash = xp.where(active, cash, 0.0)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        price = xp.exp(mid)
        funds = xp.sum(_demand(xp, price[:, None], cash, shares, beta, cap, params), axis=1)
        up = xi / price + funds > params.supply
        lo = xp.where(up, mid, lo)
        hi = xp.where(up, hi, mid)
    return xp.exp(0.5 * (lo + hi))


def simulate(
    leverage_caps: np.ndarray,
    steps: int,
    seed: int,
    params: MarketParameters | None = None,
    xp: Any = None,
) -> MarketPaths:
    """Run the market for ``steps`` steps in E worlds, world e with cap ``leverage_caps[e]``.

    Args:
        leverage_caps: (E,) lambda_max of each world (assets / equity, >= 1).
        steps: number of steps T.
        seed: seed of the noise traders' innovations (world e draws its own stream).
        params: market parameters (default: the paper's).
        xp: array namespace (default NumPy's); draws are made on the host for reproducibility.

    Returns:
        MarketPaths with NumPy arrays.
    """
    from kernels.backend import get_namespace, to_numpy

    params = params or MarketParameters()
    xp = xp or get_namespace("numpy")
    caps = np.asarray(leverage_caps, dtype=float)
    if caps.ndim != 1 or np.any(caps < 1.0):
        raise ValueError(f"leverage_caps must be a 1-d array of values >= 1; got {caps}")
    worlds, funds = caps.size, len(params.aggression)
    noise = np.random.default_rng(seed).standard_normal((steps, worlds))

    cap = xp.asarray(caps[:, None])
    beta = xp.asarray(np.asarray(params.aggression, dtype=float)[None, :])
    w0 = params.initial_wealth
    log_xi = xp.full((worlds,), np.log(params.value * params.supply), dtype=xp.float64)
    price = xp.full((worlds,), params.value, dtype=xp.float64)
    cash = xp.full((worlds, funds), w0, dtype=xp.float64)
    shares = xp.zeros((worlds, funds), dtype=xp.float64)
    wait = xp.zeros((worlds, funds), dtype=xp.int64)  # steps until a failed fund is replaced
    perf = xp.zeros((worlds, funds), dtype=xp.float64)
    last_wealth = xp.full((worlds, funds), w0, dtype=xp.float64)

    prices = [price]
    calls, failures, wealth_path, leverage_path = [], [], [], []
    anchor = (1.0 - params.rho) * np.log(params.value * params.supply)
    for t in range(steps):
        log_xi = params.rho * log_xi + params.sigma * xp.asarray(noise[t]) + anchor
        active = wait == 0
        new = clear(xp, xp.exp(log_xi), cash, shares, active, beta, cap, params)
        p = new[:, None]
        wealth = xp.maximum(cash + shares * p, 0.0)  # W_h(p_t), before trading and flows
        held = active & (shares > 0.0)
        target = _demand(xp, p, cash, shares, beta, cap, params)
        # margin call: at the new price the position is above the cap and must be cut
        called = held & (shares * p > cap * wealth * (1.0 + 1e-9)) & (target < shares)
        # return on wealth, performance average, investor flows; flows land after
        # the step's trade, as in the replication code the docs cite
        ret = shares * (p - price[:, None]) / xp.maximum(last_wealth, 1e-12)
        perf = xp.where(active, (1.0 - params.memory) * perf + params.memory * ret, perf)
        flow = xp.maximum(-1.0, params.flow_sensitivity * (perf - params.benchmark)) * wealth
        wealth = wealth + flow
        failed = active & (wealth <= params.failure_share * w0)
        live = active & ~failed
        shares = xp.where(live, target, 0.0)
        # a failed fund closes its position; its replacement enters with W0 after the wait
        cash = xp.where(live, wealth - target * p, w0)
        perf = xp.where(live, perf, 0.0)
        wait = xp.where(failed, params.reentry_steps, xp.where(active, wait, wait - 1))
        last_wealth = xp.where(live, wealth, w0)
        price = new
        prices.append(price)
        calls.append(xp.sum(xp.astype(called | (failed & held), xp.int64), axis=1))
        failures.append(xp.sum(xp.astype(failed, xp.int64), axis=1))
        wealth_path.append(xp.sum(xp.where(live, last_wealth, 0.0), axis=1))
        positioned = live & (shares > 0.0)
        lev = xp.where(positioned, shares * p / xp.maximum(last_wealth, 1e-12), 0.0)
        count = xp.sum(xp.astype(positioned, xp.float64), axis=1)
        leverage_path.append(xp.sum(lev, axis=1) / xp.maximum(count, 1.0))
    stack = lambda seq: np.stack([to_numpy(x) for x in seq], axis=1)  # noqa: E731
    return MarketPaths(
        prices=stack(prices),
        margin_calls=stack(calls),
        failures=stack(failures),
        fund_wealth=stack(wealth_path),
        leverage=stack(leverage_path),
    )
