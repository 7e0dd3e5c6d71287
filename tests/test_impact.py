"""Price impact forms and fills (kernels.impact) against their closed forms, on every namespace."""

from __future__ import annotations

import numpy as np
import pytest

from kernels.impact import FILLS, IMPACTS, check_impact, fill_price, impacted_price
from tests.conftest import tolerance

P0 = np.array([1.0, 2.5, 0.4, 10.0])
DEPTH = np.array([5.0, 50.0, 0.5, 1e3])
# cumulative units sold, two worlds: none, a little, about one depth, many depths
SOLD = np.array([[0.0, 1.0, 0.5, 2e3], [2.0, 0.0, 3.0, 10.0]])


def _put(ns, dtype, *arrays):
    return [ns.put(np.asarray(a, dtype=dtype)) for a in arrays]


def _as(dtype, a):
    """The float64 value of ``a`` rounded to ``dtype`` (what the kernel actually received)."""
    return np.asarray(a, dtype=dtype).astype(np.float64)


def _price(ns, dtype, sold, *, p0=P0, depth=DEPTH, **kw):
    p0_x, sold_x, depth_x = _put(ns, dtype, p0, sold, depth)
    out = impacted_price(p0_x, sold_x, depth_x, **kw)
    ns.check(out, dtype)
    return ns.get(out)


def test_exponential_closed_form(ns, dtype):
    got = _price(ns, dtype, SOLD)
    expect = _as(dtype, P0) * np.exp(-_as(dtype, SOLD) / _as(dtype, DEPTH))
    assert got.shape == SOLD.shape
    np.testing.assert_allclose(got, expect, **tolerance(dtype))
    # default form is the exponential one; depth = units that move the price by 1/e
    p0_x, depth_x = _put(ns, dtype, P0, DEPTH)
    one_depth = ns.get(impacted_price(p0_x, depth_x, depth_x, impact="exponential"))
    np.testing.assert_allclose(one_depth, _as(dtype, P0) / np.e, **tolerance(dtype))


def test_exponential_buying_raises_the_price(ns, dtype):
    got = _price(ns, dtype, -SOLD)
    expect = _as(dtype, P0) * np.exp(_as(dtype, SOLD) / _as(dtype, DEPTH))
    np.testing.assert_allclose(got, expect, **tolerance(dtype))
    assert np.all(got >= _as(dtype, P0))


def test_linear_closed_form_clipped_at_zero(ns, dtype):
    got = _price(ns, dtype, SOLD, impact="linear")
    x = _as(dtype, SOLD) / _as(dtype, DEPTH)
    expect = _as(dtype, P0) * np.maximum(0.0, 1.0 - x)
    np.testing.assert_allclose(got, expect, **tolerance(dtype))
    assert np.all(got >= 0.0)
    # selling exactly the depth, or more, gives a price of exactly zero
    p0_x, depth_x = _put(ns, dtype, P0, DEPTH)
    for factor in (1.0, 1.5, 1e6):
        at = ns.get(impacted_price(p0_x, depth_x * factor, depth_x, impact="linear"))
        assert np.all(at == 0.0), (factor, at)
    half = ns.get(impacted_price(p0_x, depth_x * 0.5, depth_x, impact="linear"))
    np.testing.assert_allclose(half, 0.5 * _as(dtype, P0), **tolerance(dtype))


@pytest.mark.parametrize("floor", [0.0, 0.3, "per_asset"])
def test_cont_schaanning_closed_form(ns, dtype, floor):
    floor_np = np.array([0.0, 0.2, 0.5, 0.9]) if floor == "per_asset" else floor
    floor_in = ns.put(np.asarray(floor_np, dtype=dtype)) if floor == "per_asset" else floor
    got = _price(ns, dtype, SOLD, impact="cont_schaanning", price_floor=floor_in)
    f = _as(dtype, floor_np)
    psi = (1.0 - f) * (1.0 - np.exp(-_as(dtype, SOLD) / ((1.0 - f) * _as(dtype, DEPTH))))
    expect = _as(dtype, P0) * (1.0 - psi)
    np.testing.assert_allclose(got, expect, **tolerance(dtype))


@pytest.mark.parametrize("floor", [0.1, 0.5, 0.95])
def test_cont_schaanning_never_below_floor(ns, dtype, floor):
    sold = np.array([[0.0, 1.0, 10.0, 1e3], [1e2, 1e4, 1e6, 1e9]])
    p0 = np.full(4, 3.0)
    depth = np.full(4, 2.0)
    got = _price(ns, dtype, sold, p0=p0, depth=depth, impact="cont_schaanning", price_floor=floor)
    bound = np.asarray(floor * p0, dtype=dtype).astype(np.float64)
    eps = float(np.finfo(dtype).eps)
    assert np.all(got >= bound * (1.0 - 4 * eps)), (got, bound)
    assert np.all(got <= p0)
    assert np.all(np.diff(got.ravel()) <= 0.0), got  # more sold, lower price
    # deep into the cascade the price sits on the floor
    np.testing.assert_allclose(got[1, 2:], bound[2:], **tolerance(dtype))


def test_cont_schaanning_equals_exponential_at_floor_zero(ns, dtype):
    cs = _price(ns, dtype, SOLD, impact="cont_schaanning", price_floor=0.0)
    ex = _price(ns, dtype, SOLD, impact="exponential")
    np.testing.assert_allclose(cs, ex, **tolerance(dtype))


@pytest.mark.parametrize("floor", [0.0, 0.4, 0.8])
def test_cont_schaanning_slope_at_zero(ns, dtype, floor):
    # secant over a small sale: -p0/depth for every floor (to second order in h / depth)
    rel = 1e-3 if np.dtype(dtype) == np.float32 else 1e-7
    rtol = 5e-3 if np.dtype(dtype) == np.float32 else 1e-5
    h = DEPTH * rel
    sold = np.stack([np.zeros_like(DEPTH), h])
    got = _price(ns, dtype, sold, impact="cont_schaanning", price_floor=floor)
    slope = (got[1] - got[0]) / _as(dtype, h)
    np.testing.assert_allclose(slope, -P0 / DEPTH, rtol=rtol)


@pytest.mark.parametrize("impact", IMPACTS)
def test_infinite_depth_means_no_impact(ns, dtype, impact):
    depth = np.full(P0.shape, np.inf)
    got = _price(ns, dtype, SOLD, depth=depth, impact=impact, price_floor=0.2)
    np.testing.assert_array_equal(got, np.broadcast_to(_as(dtype, P0), SOLD.shape))


@pytest.mark.parametrize("impact", IMPACTS)
def test_batched_initial_prices_broadcast_against_depth(ns, dtype, impact):
    p0 = np.stack([P0, 2.0 * P0, 0.5 * P0])  # (E, M) prices, (M,) depth, (E, M) sales
    sold = np.stack([SOLD[0], SOLD[1], SOLD[0] * 0.1])
    got = _price(ns, dtype, sold, p0=p0, impact=impact)
    assert got.shape == (3, 4)
    for e in range(3):
        alone = _price(ns, dtype, sold[e], p0=p0[e], impact=impact)
        np.testing.assert_allclose(got[e], alone, **tolerance(dtype))


@pytest.mark.parametrize("impact", IMPACTS)
def test_no_sales_no_move_and_monotone(ns, dtype, impact):
    sold = np.linspace(0.0, 3.0, 13)[:, None] * DEPTH[None, :]
    got = _price(ns, dtype, sold, impact=impact, price_floor=0.25)
    np.testing.assert_array_equal(got[0], _as(dtype, P0))
    assert np.all(np.diff(got, axis=0) <= 0.0)
    assert np.all(got >= 0.0)


def test_fill_mid_and_end(ns, dtype):
    old = np.array([[1.0, 2.0, 0.5], [4.0, 3.0, 0.0]])
    new = np.array([[0.8, 2.0, 0.1], [1.0, 2.9, 0.0]])
    old_x, new_x = _put(ns, dtype, old, new)
    mid = fill_price(old_x, new_x, "mid")
    default = fill_price(old_x, new_x)
    end = fill_price(old_x, new_x, fill="end")
    for out in (mid, default, end):
        ns.check(out, dtype)
    np.testing.assert_allclose(ns.get(mid), 0.5 * (_as(dtype, old) + _as(dtype, new)))
    np.testing.assert_array_equal(ns.get(default), ns.get(mid))
    np.testing.assert_array_equal(ns.get(end), _as(dtype, new))


def test_bad_impact_name_lists_the_allowed_ones(ns):
    p0, sold, depth = _put(ns, np.float64, P0, SOLD, DEPTH)
    for bad in ("sqrt", "Exponential", ""):
        with pytest.raises(ValueError, match="impact") as info:
            impacted_price(p0, sold, depth, impact=bad)
        for name in IMPACTS:
            assert name in str(info.value)
        assert repr(bad) in str(info.value)


def test_bad_fill_name_lists_the_allowed_ones(ns):
    old, new = _put(ns, np.float64, P0, P0 * 0.9)
    for bad in ("vwap", "MID", "start"):
        with pytest.raises(ValueError, match="fill") as info:
            fill_price(old, new, bad)
        for name in FILLS:
            assert name in str(info.value)
        assert repr(bad) in str(info.value)


def test_check_impact():
    for impact in IMPACTS:
        for fill in FILLS:
            check_impact(impact, fill)
    with pytest.raises(ValueError, match="exponential, linear, cont_schaanning"):
        check_impact("quadratic")
    with pytest.raises(ValueError, match="mid, end"):
        check_impact("linear", "close")


def test_relax_toward_halves_the_log_gap_each_half_life(ns, dtype):
    from kernels.impact import relax_toward

    fundamental = np.array([[1.0, 2.0, 4.0, 0.5]])
    price = fundamental * np.array([[0.64, 1.0, 0.25, 1.21]])  # gaps below, none, below, above
    half_life = np.array([2.0, 2.0, 4.0, np.inf])
    out = relax_toward(ns.put(price.astype(dtype)), ns.put(fundamental.astype(dtype)),
                       ns.put(half_life.astype(dtype)), dt=2.0)  # fmt: skip
    ns.check(out, dtype)
    expected = fundamental * np.array([[0.8, 1.0, 0.25**0.5**0.5, 1.21]])
    np.testing.assert_allclose(ns.get(out), expected, rtol=1e-5 if dtype == np.float32 else 1e-12)
    # recovery never overshoots: the price stays on its side of the fundamental
    twice = relax_toward(out, ns.put(fundamental.astype(dtype)), 1.0, dt=50.0)
    got = ns.get(twice)
    assert (got[0, [0, 2]] <= fundamental[0, [0, 2]]).all()
    np.testing.assert_allclose(got[0, :3], fundamental[0, :3], rtol=1e-4)
