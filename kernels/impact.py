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

Bad inputs (the kernels' contract, ``kernels.validation``): options and Python-scalar arguments
are checked on the host and raise a ValueError that names the argument and what is allowed — an
unknown ``impact`` or ``fill``; a ``depth`` that is NaN or <= 0 (``inf`` is allowed: no impact); a
``price_floor`` that is NaN or outside [0, 1); an ``initial_price`` that is not finite or a
``sold`` that is NaN; a ``half_life`` that is NaN or < 0 (``0`` removes the
gap at once, ``inf`` keeps it); a ``dt`` that is not a finite number >= 0; a ``price`` or
``fundamental`` that is NaN, infinite or negative (``fundamental`` also 0). Arrays are checked per
element on the device, with no host synchronisation and no warning: an element whose data lie
outside the contract — ``depth`` NaN or <= 0, ``price_floor`` NaN or outside [0, 1), ``sold``
NaN, ``initial_price`` not finite; ``price`` NaN, infinite or negative, ``fundamental`` not a
finite number > 0, ``half_life`` NaN or < 0, ``dt`` not finite or < 0 — is returned unchanged (its
``initial_price`` or ``price``), as ``kernels.firesale.fire_sale`` returns a bad world unchanged
and reports it with ``converged`` False. Hence a depth of 0 is never read as "no liquidity": it is
an error (a scalar) or no move (an array element), never NaN; ``abm.market.pressure_depth`` reads a
missing depth the same way. Defined edge cases: ``sold = +inf`` sells the price down to its limit
(0, 0 or the floor); buying beyond what the dtype can express saturates at the largest finite
price instead of overflowing; a ``price`` of 0 stays 0 (its log-gap is infinite) unless the
half-life is 0; ``dt = 0`` leaves the gap as it is. ``fill_price`` is plain arithmetic on prices
that ``impacted_price`` made. NaN in ``initial_price`` or ``price`` stays NaN: no price is invented.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from kernels.backend import array_namespace
from kernels.validation import float_dtype

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
        depth: (M,) or (..., M) market depth in units, > 0; ``inf`` means no impact.
        impact: ``"exponential"``, ``"linear"`` or ``"cont_schaanning"`` (module docstring).
        price_floor: Cont–Schaanning floor as a fraction of ``initial_price``, in [0, 1).

    Returns:
        (..., M) prices, same namespace and dtype as ``initial_price``; elements whose inputs are
        outside the contract keep ``initial_price`` (module docstring, "Bad inputs").

    Raises:
        ValueError: an unknown ``impact``; a Python-scalar ``depth`` NaN or <= 0,
            ``price_floor`` NaN or outside [0, 1), ``initial_price`` not finite or ``sold`` NaN.
    """
    check_impact(impact)
    _check_number("initial_price", initial_price, "finite", math.isfinite)
    _check_number("sold", sold, "a number (not NaN)", lambda v: not math.isnan(v))
    _check_number("depth", depth, "> 0 (inf: no impact)", lambda v: v > 0.0)
    _check_number("price_floor", price_floor, "in [0, 1)", lambda v: 0.0 <= v < 1.0)
    xp = array_namespace(initial_price, sold, depth, price_floor)
    bad = None  # elements returned unchanged
    p0 = initial_price
    if _is_array(p0):
        if not xp.isdtype(p0.dtype, "real floating"):
            p0 = xp.astype(p0, float_dtype(xp, sold, depth, price_floor))
        good = xp.isfinite(p0)
        bad, p0 = _either(bad, ~good), xp.where(good, p0, 0.0)
    if _is_array(depth):
        finite = xp.isfinite(depth) & (depth > 0.0)  # inf: no impact; NaN, <= 0: bad
        bad = _either(bad, ~(depth > 0.0))
        x = xp.where(finite, sold / xp.where(finite, depth, 1.0), 0.0)
    elif math.isinf(depth):
        x = xp.zeros_like(sold) if _is_array(sold) else 0.0
    else:
        x = sold / depth
    if not _is_array(x):  # sold and depth both Python scalars
        dtype = float_dtype(xp, initial_price, price_floor)
        x = xp.asarray(x, dtype=dtype, device=_device(initial_price, price_floor))
    elif not xp.isdtype(x.dtype, "real floating"):
        x = xp.astype(x, float_dtype(xp, initial_price, price_floor))
    nan_sold = xp.isnan(x)  # after the guards only a NaN sale is left
    bad, x = _either(bad, nan_sold), xp.where(nan_sold, 0.0, x)
    if impact == "cont_schaanning" and _is_array(price_floor):
        good = (price_floor >= 0.0) & (price_floor < 1.0)  # False for NaN
        bad, price_floor = _either(bad, ~good), xp.where(good, price_floor, 0.0)
    big = float(xp.finfo(x.dtype).max)  # the largest price both dtypes can hold
    if _is_array(p0):
        big = min(big, float(xp.finfo(p0.dtype).max))
    log_max = math.log(big) - 1.0  # exp() below this never overflows
    if impact == "exponential":
        factor = xp.exp(xp.minimum(-x, log_max))
    elif impact == "linear":
        factor = xp.maximum(1.0 - x, 0.0)
    else:
        keep = 1.0 - price_floor
        moved = xp.minimum(-xp.maximum(x, -log_max) / keep, log_max)
        factor = price_floor + keep * xp.exp(moved)
    # buying beyond what the dtype can express saturates at the largest finite price
    scale = xp.maximum(xp.abs(p0), 1.0) if _is_array(p0) else max(abs(p0), 1.0)
    price = p0 * xp.minimum(factor, big / scale)
    if bad is None:
        return price
    return xp.where(bad, initial_price, price)


def fill_price(old_price: Any, new_price: Any, fill: str = "mid") -> Any:
    """Price at which a round's sales settle: the round's mid price, or its end price."""
    check_impact("exponential", fill)
    if fill == "mid":
        return 0.5 * (old_price + new_price)
    return new_price


def relax_toward(price: Any, fundamental: Any, half_life: Any, dt: float = 1.0) -> Any:
    """Let the gap between ``price`` and ``fundamental`` decay for ``dt`` (log-exponential decay).

    Args:
        price: (..., M) current (impacted) prices, >= 0 (a price of 0 stays 0).
        fundamental: (..., M) fundamental values the prices return to, > 0.
        half_life: (M,), (..., M) or scalar half-life of the gap, in the unit of ``dt`` (weeks),
            >= 0; ``inf`` keeps the impact for good, 0 removes it at once.
        dt: time elapsed, same unit, a finite number >= 0.

    Returns:
        (..., M) prices, same namespace and dtype as ``price``; elements whose inputs are outside
        the contract keep ``price`` (module docstring, "Bad inputs").

    Raises:
        ValueError: a Python-scalar ``half_life`` NaN or < 0, ``dt`` not finite or < 0, ``price``
            not a finite number >= 0 or ``fundamental`` not a finite number > 0.
    """
    _check_number("price", price, "a finite number >= 0", lambda v: 0.0 <= v < math.inf)
    _check_number("fundamental", fundamental, "a finite number > 0", lambda v: 0 < v < math.inf)
    _check_number("half_life", half_life, ">= 0 (inf: no recovery)", lambda v: v >= 0.0)
    _check_number("dt", dt, "a finite number >= 0", lambda v: 0.0 <= v < math.inf)
    xp = array_namespace(price, fundamental, half_life, dt)
    dtype = float_dtype(xp, price, fundamental, half_life, dt)
    device = _device(price, fundamental, half_life, dt)
    bad = None  # elements returned unchanged
    p, f, hl, t = price, fundamental, half_life, dt
    if not _is_array(p):  # checked above; an array from here on
        p = xp.asarray(p, dtype=dtype, device=device)
    good = xp.isfinite(p) & (p >= 0.0)
    bad, p = _either(bad, ~good), xp.where(good, p, 1.0)
    if _is_array(f):
        good = xp.isfinite(f) & (f > 0.0)
        bad, f = _either(bad, ~good), xp.where(good, f, 1.0)
    if _is_array(t):
        good = xp.isfinite(t) & (t >= 0.0)
        bad, t = _either(bad, ~good), xp.where(good, t, 0.0)
    # keep: the share of the log-gap left after t; a half-life of 0 removes it if t > 0
    at_once = xp.astype(t <= 0.0, dtype) if _is_array(t) else float(t <= 0.0)
    if _is_array(hl):
        positive = hl > 0.0
        bad = _either(bad, ~(hl >= 0.0))  # NaN or < 0
        keep = xp.where(positive, 0.5 ** (t / xp.where(positive, hl, 1.0)), at_once)
    elif hl == 0.0:
        keep = at_once
    else:
        keep = 0.5 ** (t / hl)
    # p / f, saturated at the dtype's largest value (a tiny fundamental); it may underflow to 0
    big = float(xp.finfo(p.dtype).max) / 4.0  # exp(log(big)) must not round past the max
    ratio = p / xp.where(p / big <= f, f, p / big)
    priced = ratio > 0.0
    moved = f * xp.exp(keep * xp.log(xp.where(priced, ratio, 1.0)))
    # a price of 0 has an infinite log-gap: it stays 0 unless the gap goes at once (keep 0);
    # so does a price too small against its fundamental for the dtype
    if _is_array(keep):
        at_zero = xp.where(keep == 0.0, f, 0.0 * f)
    else:
        at_zero = f if keep == 0.0 else 0.0 * f
    relaxed = xp.where(priced, moved, at_zero)
    if bad is None:
        return relaxed
    return xp.where(bad, price, relaxed)


def _is_array(value: Any) -> bool:
    return value is not None and not isinstance(value, (bool, numbers.Number))


def _device(*values: Any) -> Any:
    return next((v.device for v in values if _is_array(v)), None)


def _either(mask: Any, more: Any) -> Any:
    """``mask | more``, where ``mask`` may be None (nothing flagged yet)."""
    return more if mask is None else mask | more


def _check_number(name: str, value: Any, allowed: str, rule: Any) -> None:
    """Reject a Python scalar for which ``rule`` fails (NaN fails every rule); arrays pass."""
    if _is_array(value):
        return
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not rule(number):
        raise ValueError(f"{name} must be {allowed}; got {value!r}")
