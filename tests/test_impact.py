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


# ---------------------------------------------------------------------------------------------
# Bad inputs (issue 12): a ValueError naming the argument for options and Python scalars; per
# array element a defined result (the price unchanged), never NaN, never a RuntimeWarning.

import math  # noqa: E402
import warnings  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kernels.impact import relax_toward  # noqa: E402

SHAPE = (2, 4)
BAD = (0.0, -1.0, -1e-3, math.nan, -math.inf)  # never a valid depth
FUZZ = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _cells(valid: st.SearchStrategy, bad=BAD) -> st.SearchStrategy:
    """(2, 4) float64 arrays, each entry valid or one of the ``bad`` values."""
    cell = st.one_of(valid, st.sampled_from(bad))
    return st.lists(cell, min_size=8, max_size=8).map(lambda v: np.reshape(v, SHAPE))


def _quietly(call, *args, **kw):
    """Run ``call`` with every warning turned into an error (no RuntimeWarning may leak)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call(*args, **kw)


def _closed_form(impact, p0, sold, depth, floor):
    x = sold / depth
    if impact == "exponential":
        return p0 * np.exp(-x)
    if impact == "linear":
        return p0 * np.maximum(1.0 - x, 0.0)
    keep = 1.0 - floor
    return p0 * (floor + keep * np.exp(-x / keep))


@FUZZ
@given(
    impact=st.sampled_from(IMPACTS),
    depth=_cells(st.one_of(st.floats(1.0, 1e3), st.just(math.inf))),
    sold=_cells(st.floats(-10.0, 1e3), bad=(math.nan, math.inf)),
    p0=_cells(st.floats(0.0, 100.0), bad=(math.inf, -math.inf)),
    floor=_cells(st.floats(0.0, 0.99), bad=(1.0, 1.5, -0.1, math.nan)),
)
def test_bad_array_elements_keep_their_price_without_nan_or_warning(
    ns, dtype, impact, depth, sold, p0, floor
):
    args = _put(ns, dtype, p0, sold, depth, floor)
    got = ns.get(_quietly(impacted_price, *args[:3], impact=impact, price_floor=args[3]))
    ns.check(_quietly(impacted_price, *args[:3], impact=impact, price_floor=args[3]), dtype)
    p0_, sold_, depth_, floor_ = (_as(dtype, a) for a in (p0, sold, depth, floor))
    assert not np.any(np.isnan(got)), got  # no NaN in: never NaN out
    bad = ~(depth_ > 0.0) | np.isnan(sold_) | ~np.isfinite(p0_)
    if impact == "cont_schaanning":
        bad |= ~((floor_ >= 0.0) & (floor_ < 1.0))
    np.testing.assert_array_equal(got[bad], p0_[bad])  # bad elements: returned unchanged
    no_impact = ~bad & np.isinf(depth_)
    np.testing.assert_array_equal(got[no_impact], p0_[no_impact])  # inf depth: no impact
    sold_out = ~bad & np.isfinite(depth_) & (sold_ == math.inf)  # sold everything: the limit
    limit = np.where(sold_out, floor_ * np.where(sold_out, p0_, 0.0), 0.0)
    limit = limit if impact == "cont_schaanning" else np.zeros_like(p0_)
    np.testing.assert_allclose(got[sold_out], limit[sold_out], **tolerance(dtype))
    ok = ~bad & np.isfinite(depth_) & np.isfinite(sold_)
    expect = _closed_form(impact, p0_, np.where(ok, sold_, 0.0), np.where(ok, depth_, 1.0),
                          np.where(ok, floor_, 0.0))  # fmt: skip
    np.testing.assert_allclose(got[ok], expect[ok], **tolerance(dtype))


@pytest.mark.parametrize("impact", IMPACTS)
def test_depth_zero_never_gives_nan(ns, dtype, impact):
    # used to give 0/0 = NaN (and a RuntimeWarning) for an element that sold nothing
    sold = np.array([[0.0] * 4, [1.0] * 4])
    p0, sold, depth = _put(ns, dtype, P0, sold, np.zeros(4))
    got = ns.get(_quietly(impacted_price, p0, sold, depth, impact=impact))
    np.testing.assert_array_equal(got, np.broadcast_to(_as(dtype, P0), (2, 4)))


@pytest.mark.parametrize("impact", IMPACTS)
def test_buying_beyond_the_dtype_saturates(ns, dtype, impact):
    p0, depth = _put(ns, dtype, P0, DEPTH)
    for bought in (1e3, 1e30, math.inf):
        sold = ns.put(np.asarray(-bought * DEPTH, dtype=dtype))
        got = ns.get(_quietly(impacted_price, p0, sold, depth, impact=impact, price_floor=0.5))
        assert np.all(np.isfinite(got)) and np.all(got >= _as(dtype, P0)), (bought, got)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("depth", 0.0),
        ("depth", -1.0),
        ("depth", math.nan),
        ("depth", -math.inf),
        ("price_floor", 1.0),
        ("price_floor", -0.1),
        ("price_floor", math.nan),
        ("sold", math.nan),
        ("initial_price", math.inf),
    ],
)
def test_bad_scalar_arguments_name_the_argument(ns, name, value):
    names = ("initial_price", "sold", "depth")
    args = dict(zip(names, _put(ns, np.float64, P0, SOLD, DEPTH), strict=True))
    args[name] = value
    with pytest.raises(ValueError, match=f"{name} must be") as info:
        impacted_price(**args, impact="cont_schaanning")
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("half_life", -1.0),
        ("half_life", math.nan),
        ("dt", -1.0),
        ("dt", math.nan),
        ("dt", math.inf),
        ("price", -1.0),
        ("price", math.inf),
        ("fundamental", 0.0),
        ("fundamental", math.nan),
    ],
)
def test_relax_toward_bad_scalars_name_the_argument(ns, name, value):
    args = {"price": ns.put(P0 * 0.5), "fundamental": ns.put(P0), "half_life": 4.0, "dt": 1.0}
    args[name] = value
    with pytest.raises(ValueError, match=f"{name} must be") as info:
        relax_toward(**args)
    assert repr(value) in str(info.value)


@FUZZ
@given(
    price=_cells(st.floats(0.0, 1e30), bad=(0.0, 5e-324, -1.0, math.inf, -math.inf)),
    fundamental=_cells(st.floats(1e-30, 100.0), bad=(0.0, 1e-300, -1.0, math.inf, math.nan)),
    half_life=_cells(st.floats(0.1, 100.0), bad=(0.0, math.inf, -1.0, math.nan)),
    dt=st.one_of(st.floats(0.0, 100.0), st.sampled_from([0.0, 1.0])),
)
def test_relax_toward_bad_elements_defined_without_nan_or_warning(
    ns, dtype, price, fundamental, half_life, dt
):
    args = _put(ns, dtype, price, fundamental, half_life)
    out = _quietly(relax_toward, *args, dt=dt)
    ns.check(out, dtype)
    got = ns.get(out)
    p, f, hl = (_as(dtype, a) for a in (price, fundamental, half_life))
    assert not np.any(np.isnan(got)), got
    bad = ~(np.isfinite(p) & (p >= 0.0)) | ~(np.isfinite(f) & (f > 0.0)) | ~(hl >= 0.0)
    np.testing.assert_array_equal(got[bad], p[bad])  # outside the contract: unchanged
    ok = ~bad
    at_once = ok & (hl == 0.0) & (dt > 0.0)  # a half-life of 0 removes the gap at once
    np.testing.assert_allclose(got[at_once], f[at_once], **tolerance(dtype))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        keep = 0.5 ** (dt / hl)  # share of the log-gap left
    # a price of 0 stays 0 (its log-gap is infinite) unless the gap goes at once
    zero = ok & (p == 0.0) & ~at_once
    assert np.all(got[zero & (keep > 1e-30)] == 0.0)
    assert np.all((got[zero] == 0.0) | (got[zero] == f[zero]))  # keep underflowed: the gap went
    with np.errstate(over="ignore"):
        ratio = p / np.where(ok, f, 1.0)
    assert np.all(np.isfinite(got[ok]))  # also where p / f saturates or underflows in the dtype
    big = float(np.finfo(dtype).max) / 4.0
    rest = ok & (p > 0.0) & ~at_once & (ratio > np.finfo(dtype).tiny) & (ratio < big)
    keep = np.where(hl[rest] > 0.0, 0.5 ** (dt / np.where(hl[rest] > 0.0, hl[rest], 1.0)), 1.0)
    expect = f[rest] * (p[rest] / f[rest]) ** keep
    np.testing.assert_allclose(got[rest], expect, **tolerance(dtype))
    # the price never crosses its fundamental
    assert np.all((got[rest] - f[rest]) * (p[rest] - f[rest]) >= -1e-5 * f[rest] ** 2)


def test_relax_toward_scalar_half_life_edges(ns, dtype):
    price, fundamental = _put(ns, dtype, [[0.0, 0.5, 2.0]], [[1.0, 1.0, 1.0]])
    gone = ns.get(_quietly(relax_toward, price, fundamental, 0.0, dt=1.0))
    np.testing.assert_array_equal(gone, [[1.0, 1.0, 1.0]])  # half-life 0: at once, from 0 too
    still = ns.get(_quietly(relax_toward, price, fundamental, 0.0, dt=0.0))
    np.testing.assert_allclose(still, [[0.0, 0.5, 2.0]], **tolerance(dtype))  # no time passed
    kept = ns.get(_quietly(relax_toward, price, fundamental, math.inf, dt=5.0))
    np.testing.assert_allclose(kept, [[0.0, 0.5, 2.0]], **tolerance(dtype))  # never recovers


def test_fire_sale_world_with_depth_zero_is_returned_unchanged():
    # fire_sale's contract: a bad world is frozen, returned unchanged and not converged; its
    # prices used to come back NaN (0/0 in the impact) with RuntimeWarnings
    from kernels.firesale import fire_sale
    from tests.test_kernel_inputs import fire_sale_instance, spoil

    args = fire_sale_instance(2)
    clean = fire_sale(**args)
    args["depth"] = spoil(args["depth"], "zero", 1, 0)
    result = _quietly(fire_sale, **args)
    assert list(np.asarray(result.converged)) == [True, False, True]
    np.testing.assert_array_equal(result.prices[1], args["prices"][1])
    np.testing.assert_array_equal(result.cash[1], args["cash"][1])
    for name in ("prices", "cash", "holdings", "sold", "proceeds"):
        np.testing.assert_array_equal(getattr(result, name)[[0, 2]], getattr(clean, name)[[0, 2]])
