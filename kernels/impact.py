"""Price impact of fire sales and the price at which sales fill.

All functions map the cumulative net sales ``sold`` of one asset (units, since the start of the
market-clearing call) to a price relative to the price before any sale. ``depth`` is the number of
units whose sale moves the price by a factor ``1/e`` under the exponential rule (``inf``: no
impact). Array-API only; inputs broadcast as in NumPy.

Forms:
- ``exponential`` (default): ``p = p0 * exp(-Q / depth)`` — Cifuentes, Ferrucci & Shin (2005),
  "Liquidity risk and contagion", JEEA 3(2-3); Caccioli et al. (2014), J. Banking & Finance 46.
- ``linear``: ``p = p0 * max(0, 1 - Q / depth)`` — Greenwood, Landier & Thesmar (2015),
  "Vulnerable banks", J. Financial Economics 115(3): a price falls linearly in dollar sales; the
  price cannot go below zero (here it reaches zero when ``depth`` units are sold).
- ``cont_schaanning``: ``p = p0 * (1 - Psi)`` with
  ``Psi = (1 - f) * (1 - exp(-Q / ((1 - f) * depth)))`` and ``f = price_floor`` the floor as a
  fraction of ``p0`` — Cont & Schaanning (2017), "Fire sales, indirect contagion and systemic
  stress testing", Norges Bank WP 2/2017, eq. (9)–(10). The price never falls below ``f * p0``;
  at ``f = 0`` it is the exponential rule, and its slope at ``Q = 0`` is ``-p0 / depth`` for any f.

Recovery: fire-sale impact is temporary. ``relax_toward`` lets a price's gap to its fundamental
value decay exponentially in log terms with a half-life,
``p' = F * (p / F) ** (2 ** (-dt / half_life))``:
the resilience of the limit-order book in Obizhaeva & Wang (2013), "Optimal trading strategy and
supply/demand dynamics", J. Financial Markets 16(1), where displaced prices recover at an
exponential rate.

Fills: ``fill="mid"`` settles a round's sales at the mid of the price before and after the
round, ``(p_old + p_new) / 2`` (INET Oxford ``resilience`` AssetMarket; Cont & Schaanning's
alpha = 0.5); ``fill="end"`` settles at the post-round price (the harshest execution).
"""

from __future__ import annotations

from typing import Any

from kernels.backend import array_namespace

IMPACTS = ("exponential", "linear", "cont_schaanning")
FILLS = ("mid", "end")


def check_impact(impact: str, fill: str = "mid") -> None:
    """Reject an unknown impact form or fill rule with a message listing the allowed ones."""
    if impact not in IMPACTS:
        raise ValueError(f"impact must be one of {', '.join(IMPACTS)}; got {impact!r}")
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {', '.join(FILLS)}; got {fill!r}")


def impacted_price(
    initial_price: Any,
    sold: Any,
    depth: Any,
    *,
    impact: str = "exponential",
    price_floor: float | Any = 0.0,
) -> Any:
    """Price of each asset after cumulative net sales ``sold`` (units) since ``initial_price``.

    Args:
        initial_price: (..., M) price before the sales, USD bn per unit.
        sold: (..., M) cumulative net units sold (negative = bought).
        depth: (M,) or (..., M) market depth in units; ``inf`` means no impact.
        impact: ``"exponential"``, ``"linear"`` or ``"cont_schaanning"`` (module docstring).
        price_floor: Cont–Schaanning floor as a fraction of ``initial_price``, in [0, 1).

    Returns:
        (..., M) prices, same namespace and dtype as ``initial_price``.
    """
    check_impact(impact)
    xp = array_namespace(initial_price, sold, depth, price_floor)
    x = sold / depth
    if impact == "exponential":
        return initial_price * xp.exp(-x)
    if impact == "linear":
        return initial_price * xp.maximum(1.0 - x, 0.0)
    keep = 1.0 - price_floor
    return initial_price * (price_floor + keep * xp.exp(-x / keep))


def fill_price(old_price: Any, new_price: Any, fill: str = "mid") -> Any:
    """Price at which a round's sales settle: the round's mid price, or its end price."""
    check_impact("exponential", fill)
    if fill == "mid":
        return 0.5 * (old_price + new_price)
    return new_price


def relax_toward(price: Any, fundamental: Any, half_life: Any, dt: float = 1.0) -> Any:
    """Let the gap between ``price`` and ``fundamental`` decay for ``dt`` (log-exponential decay).

    Args:
        price: (..., M) current (impacted) prices, > 0.
        fundamental: (..., M) fundamental values the prices return to, > 0.
        half_life: (M,), (..., M) or scalar half-life of the gap, in the unit of ``dt`` (weeks);
            ``inf`` keeps the impact for good, 0 removes it at once.
        dt: time elapsed, same unit.

    Returns:
        (..., M) prices, same namespace and dtype as ``price``.
    """
    xp = array_namespace(price, fundamental, half_life)
    keep = 0.5 ** (dt / half_life)  # share of the log-gap left after dt
    return fundamental * xp.exp(keep * xp.log(price / fundamental))
