"""The fire-sale kernel (kernels.firesale.fire_sale) against the per-agent reference, and its laws.

(a) oracle tests on seeded random worlds, every namespace and dtype; (b) accounting identities;
(c) hypothesis properties (positivity, monotonicity in the shock); (d) honest non-convergence and
``check_every``; (e) order independence; (f) batch independence; (g) input validation.

Float32 worlds are kept away from the default and deleveraging thresholds: before comparing, the
reference is re-run with the thresholds moved by ``±ROBUST_DELTA`` and must default the same
holders, so float32 rounding cannot flip a decision.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kernels.firesale import FireSaleResult, fire_sale
from kernels.impact import FILLS, IMPACTS
from tests.conftest import tolerance
from tests.reference.firesale import fire_sale_loop

FLOAT_KEYS = ("prices", "holdings", "cash", "liabilities", "equity", "sold", "proceeds")
PER_HOLDER = ("cash", "liabilities", "other_assets", "cash_needed")
THRESHOLDS = ("capital_min", "capital_buffer", "capital_target")
ROBUST_DELTA = 1e-4


# ---------------------------------------------------------------------------------------------
# worlds


def world(
    seed,
    n=30,
    m=5,
    *,
    ratio=(0.01, 0.2),
    depth=(3.0, 8.0),
    other=(0.0, 0.5),
    cash=(0.0, 0.2),
    need=0.0,
    density=0.7,
):
    """One random world (float64): N holders with capital ratios drawn from ``ratio``.

    ``depth`` is the market depth as a multiple of the units outstanding; ``need`` > 0 gives half
    of the holders a cash need of up to ``need`` times their book beyond their cash.
    """
    rng = np.random.default_rng(seed)
    holdings = rng.uniform(0.0, 10.0, (n, m)) * (rng.random((n, m)) < density)
    prices = rng.uniform(0.5, 2.0, m)
    dep = np.maximum(holdings.sum(axis=0), 1.0) * rng.uniform(*depth, m)
    book = holdings @ prices
    scale = np.where(book > 0.0, book, rng.uniform(1.0, 10.0, n))
    c = rng.uniform(*cash, n) * scale
    oth = rng.uniform(*other, n) * scale
    assets = book + c + oth
    out = {
        "holdings": holdings,
        "prices": prices,
        "cash": c,
        "liabilities": assets * (1.0 - rng.uniform(*ratio, n)),
        "depth": dep,
        "other_assets": oth,
    }
    if need:
        has_need = rng.random(n) < 0.5
        out["cash_needed"] = np.where(has_need, c + need * rng.random(n) * scale, 0.0)
    return out


def _case(name):
    """(inputs, options, expectations) of one named oracle case."""
    cascade = {"capital_min": 0.03}
    if name == "no_default":
        w = world(1, ratio=(0.08, 0.3), depth=(5.0, 10.0))
        return w, {"capital_min": 0.03, "capital_buffer": 0.1, "capital_target": 0.12}, "none"
    if name == "all_default":
        return world(2, ratio=(-0.05, 0.025)), cascade, "all"
    if name == "cascade":
        return world(3), cascade, "some"
    if name == "delever":
        w = world(4, ratio=(0.04, 0.15), depth=(6.0, 12.0))
        return w, {"capital_min": 0.03, "capital_buffer": 0.08, "capital_target": 0.1}, "none"
    if name == "buffer_only":  # capital_target defaults to capital_buffer
        w = world(5, ratio=(0.04, 0.15), depth=(6.0, 12.0))
        return w, {"capital_min": 0.03, "capital_buffer": 0.08}, "none"
    if name == "cash_needed":
        w = world(6, ratio=(0.1, 0.5), need=0.5, depth=(2.0, 5.0))
        return w, {"capital_min": None}, "none"
    if name == "other_assets":
        w = world(7, ratio=(0.01, 0.2), other=(1.0, 3.0), depth=(2.0, 5.0))
        return w, {"capital_min": 0.03, "capital_buffer": 0.06}, "some"
    if name == "linear":
        w = world(8, depth=(3.0, 6.0))
        return w, {"capital_min": 0.03, "impact": "linear"}, "some"
    if name == "cont_schaanning":
        w = world(9, depth=(3.5, 7.0))
        options = {"capital_min": 0.03, "impact": "cont_schaanning", "price_floor": 0.4}
        return w, options, "some"
    if name == "cs_floor_per_asset":
        w = world(10, depth=(2.0, 4.0))
        floor = np.array([0.0, 0.2, 0.5, 0.7, 0.9])
        options = {"capital_min": 0.03, "impact": "cont_schaanning", "price_floor": floor}
        return w, options, "some"
    if name == "fill_end":
        w = world(11, ratio=(0.0, 0.15), need=0.2, depth=(4.0, 8.0))
        return w, {"capital_min": 0.03, "capital_buffer": 0.06, "fill": "end"}, "some"
    if name == "keep_on_default":
        w = world(12, ratio=(0.02, 0.15), need=0.3)
        options = {"capital_min": 0.03, "capital_buffer": 0.07, "sell_all_on_default": False}
        return w, options, "some"
    if name == "zero_rows":
        w = world(13, n=40, ratio=(0.0, 0.15), depth=(3.5, 7.0))
        rng = np.random.default_rng(113)
        rows = rng.choice(40, 8, replace=False)
        w["holdings"][rows] = 0.0  # nothing to sell (some of them default on cash alone)
        w["holdings"][:, 2] = 0.0  # an asset nobody holds
        empty, broke = rows[:2]
        for key in ("cash", "liabilities", "other_assets"):
            w[key][empty] = 0.0  # owes nothing, owns nothing: cannot default
        w["cash"][broke] = w["other_assets"][broke] = 0.0  # owes, owns nothing: defaults
        return w, {"capital_min": 0.03, "capital_buffer": 0.06}, "some"
    if name == "per_holder":
        w = world(14, n=40, ratio=(0.01, 0.2), need=0.2)
        rng = np.random.default_rng(114)
        cmin = rng.uniform(0.01, 0.04, 40)
        cbuf = cmin + rng.uniform(0.02, 0.05, 40)
        options = {"capital_min": cmin, "capital_buffer": cbuf, "capital_target": cbuf + 0.01}
        return w, options, "some"
    if name == "infinite_depth":
        w = world(15, need=0.3)
        w["depth"][[1, 3]] = np.inf
        return w, {"capital_min": 0.03, "capital_buffer": 0.06}, "some"
    if name == "coarse_tol":  # a quiet round ends the call although sales of < tol go on
        w = world(17, ratio=(0.04, 0.15), depth=(6.0, 12.0))
        return w, {"capital_min": 0.03, "capital_buffer": 0.08, "tol": 1e-4}, "none"
    if name == "mixed":
        w = world(16, n=60, m=7, need=0.3, other=(0.0, 1.0))
        return w, {"capital_min": 0.03, "capital_buffer": 0.06, "capital_target": 0.08}, "some"
    raise KeyError(name)


CASES = [
    "no_default",
    "all_default",
    "cascade",
    "delever",
    "buffer_only",
    "cash_needed",
    "other_assets",
    "linear",
    "cont_schaanning",
    "cs_floor_per_asset",
    "fill_end",
    "keep_on_default",
    "zero_rows",
    "per_holder",
    "infinite_depth",
    "coarse_tol",
    "mixed",
]


def case(name):
    inputs, options, expect = _case(name)
    return {k: v.copy() for k, v in inputs.items()}, dict(options), expect


# ---------------------------------------------------------------------------------------------
# running the kernel and the reference


def _cast(value, dtype):
    return np.asarray(value, dtype=dtype) if isinstance(value, np.ndarray) else value


def run(ns, dtype, inputs, **options):
    """The kernel on ``inputs`` (float64 NumPy) moved to ``ns`` in ``dtype``."""
    args = {k: ns.put(_cast(v, dtype)) for k, v in inputs.items()}
    opts = {
        k: ns.put(_cast(v, dtype)) if isinstance(v, np.ndarray) else v for k, v in options.items()
    }
    return fire_sale(
        args.pop("holdings"), args.pop("prices"), args.pop("cash"), args.pop("liabilities"),
        **args, **opts,
    )  # fmt: skip


def _batch_shape(inputs, options):
    shapes = [inputs["holdings"].shape[:-2], inputs["prices"].shape[:-1]]
    shapes.append(inputs["depth"].shape[:-1])
    for key in PER_HOLDER:
        if key in inputs:
            shapes.append(inputs[key].shape[:-1])
    for key in THRESHOLDS:
        if isinstance(options.get(key), np.ndarray):
            shapes.append(options[key].shape[:-1])
    return np.broadcast_shapes(*shapes)


def oracle(inputs, dtype=np.float64, **options):
    """The reference, world by world, on the inputs as the kernel sees them (rounded to dtype)."""
    inputs = {k: _cast(v, dtype).astype(np.float64) for k, v in inputs.items()}
    options = {k: _cast(v, dtype) for k, v in options.items()}
    batch = _batch_shape(inputs, options)
    worlds = []

    def pick(a, core, index):
        a = np.asarray(a)
        return np.broadcast_to(a, batch + a.shape[a.ndim - core :])[index]

    for index in np.ndindex(*batch):
        args = {k: pick(v, 2 if k == "holdings" else 1, index) for k, v in inputs.items()}
        opts = {
            k: pick(v, 1, index) if isinstance(v, np.ndarray) and k in THRESHOLDS else v
            for k, v in options.items()
        }
        worlds.append(fire_sale_loop(**args, **opts))
    out = {}
    for key in (*FLOAT_KEYS, "defaulted", "converged", "iterations"):
        values = [np.asarray(w[key]) for w in worlds]
        out[key] = np.stack(values).reshape(batch + values[0].shape)
    return out


def assert_matches(ns, dtype, res, ref, *, iterations=True):
    """Every output of ``res`` lives in ``ns`` with the right dtype and matches ``ref``."""
    assert isinstance(res, FireSaleResult)
    for key in FLOAT_KEYS:
        got = getattr(res, key)
        ns.check(got, dtype)
        np.testing.assert_allclose(ns.get(got), ref[key], err_msg=key, **tolerance(dtype))
    ns.check(res.defaulted, np.bool_)
    np.testing.assert_array_equal(ns.get(res.defaulted), ref["defaulted"], err_msg="defaulted")
    ns.check(res.converged, np.bool_)
    np.testing.assert_array_equal(ns.get(res.converged), ref["converged"], err_msg="converged")
    assert isinstance(res.iterations, int)
    if iterations and np.dtype(dtype) == np.float64:
        assert res.iterations == int(np.max(ref["iterations"]))
        if getattr(res, "rounds", None) is not None:
            np.testing.assert_array_equal(ns.get(res.rounds), ref["iterations"], err_msg="rounds")


def _shift(options, delta):
    out = dict(options)
    for key in ("capital_min", "capital_buffer"):
        if out.get(key) is not None:
            out[key] = out[key] + delta
    return out


def assert_robust(inputs, options):
    """Moving the thresholds by ±ROBUST_DELTA defaults the same holders (float32-safe world)."""
    if all(options.get(key) is None for key in ("capital_min", "capital_buffer")):
        return
    base = oracle(inputs, **options)["defaulted"]
    for sign in (-1.0, 1.0):
        moved = oracle(inputs, **_shift(options, sign * ROBUST_DELTA))["defaulted"]
        np.testing.assert_array_equal(moved, base, err_msg="world too close to a threshold")


@functools.cache
def _robust_case(name):
    inputs, options, _ = case(name)
    assert_robust(inputs, options)
    return True


# ---------------------------------------------------------------------------------------------
# (a) oracle tests


@pytest.mark.parametrize("name", CASES)
def test_cases_exercise_what_they_name(name):
    inputs, options, expect = case(name)
    ref = oracle(inputs, **options)
    n_default = int(ref["defaulted"].sum())
    n = inputs["holdings"].shape[0]
    assert ref["converged"]
    assert ref["iterations"] >= 2, "nothing happened"
    assert np.all(ref["sold"] > 0.0) or name == "zero_rows"
    if expect == "none":
        assert n_default == 0
    elif expect == "all":
        assert n_default == n
    else:
        assert 0 < n_default < n, n_default
    if name in ("cascade", "linear", "cont_schaanning", "mixed"):
        assert ref["iterations"] >= 3, "want a cascade over several rounds"
    if name in ("delever", "buffer_only", "no_default"):
        assert np.any(ref["liabilities"] < inputs["liabilities"]), "nobody delevered"
    if name == "zero_rows":
        assert ref["sold"][2] == 0.0
        assert not ref["defaulted"][np.all(inputs["holdings"] == 0.0, axis=1)].all()
        assert ref["defaulted"][np.all(inputs["holdings"] == 0.0, axis=1)].any()
    if name == "cont_schaanning":
        assert np.all(ref["prices"] >= 0.4 * inputs["prices"])
    if name == "coarse_tol":
        fine = oracle(inputs, **dict(options, tol=1e-10))
        assert fine["iterations"] > ref["iterations"] + 3


@pytest.mark.parametrize("name", CASES)
def test_oracle(ns, dtype, name):
    inputs, options, _ = case(name)
    if np.dtype(dtype) == np.float32:
        assert _robust_case(name)
    before = {k: v.copy() for k, v in inputs.items()}
    res = run(ns, dtype, inputs, **options)
    assert_matches(ns, dtype, res, oracle(inputs, dtype, **options))
    for key, value in before.items():  # inputs are never modified
        np.testing.assert_array_equal(inputs[key], value)


def test_defaulters_sell_everything_closed_form(ns, dtype):
    # one holder, one asset: it defaults at once, sells q units in one round, round 2 is quiet
    q, p0, depth = 4.0, 2.0, 10.0
    inputs = {
        "holdings": np.array([[q]]),
        "prices": np.array([p0]),
        "cash": np.array([1.0]),
        "liabilities": np.array([20.0]),
        "depth": np.array([depth]),
    }
    p1 = p0 * np.exp(-q / depth)
    for fill, at in (("mid", 0.5 * (p0 + p1)), ("end", p1)):
        res = run(ns, dtype, inputs, capital_min=0.05, fill=fill)
        tol = tolerance(dtype)
        np.testing.assert_allclose(ns.get(res.prices), [p1], **tol)
        np.testing.assert_allclose(ns.get(res.proceeds), [q * at], **tol)
        np.testing.assert_allclose(ns.get(res.cash), [1.0 + q * at], **tol)
        np.testing.assert_array_equal(ns.get(res.liabilities), [20.0])  # proceeds stay cash
        np.testing.assert_array_equal(ns.get(res.holdings), [[0.0]])
        np.testing.assert_allclose(ns.get(res.equity), [1.0 + q * at - 20.0], **tol)
        assert ns.get(res.defaulted).tolist() == [True]
        assert bool(ns.get(res.converged)) and res.iterations == 2


def test_cash_need_without_impact_sells_exactly_the_shortfall(ns, dtype):
    # infinite depth: prices never move, a holder short of cash sells exactly its shortfall
    inputs = {
        "holdings": np.array([[2.0, 6.0], [1.0, 1.0], [0.0, 3.0]]),
        "prices": np.array([1.5, 0.5]),
        "cash": np.array([0.5, 1.0, 0.0]),
        "liabilities": np.zeros(3),
        "depth": np.full(2, np.inf),
        "cash_needed": np.array([2.0, 0.5, 10.0]),  # short 1.5, covered, short more than book
    }
    res = run(ns, dtype, inputs, capital_min=None)
    tol = tolerance(dtype)
    np.testing.assert_array_equal(ns.get(res.prices), np.asarray([1.5, 0.5], dtype=dtype))
    np.testing.assert_allclose(ns.get(res.cash), [2.0, 1.0, 1.5], **tol)
    np.testing.assert_allclose(ns.get(res.proceeds), [1.5, 0.0, 1.5], **tol)
    # holder 0 sells a quarter of its book of 6, holder 2 all of its book of 1.5
    np.testing.assert_allclose(ns.get(res.holdings), [[1.5, 4.5], [1.0, 1.0], [0.0, 0.0]], **tol)
    np.testing.assert_allclose(ns.get(res.sold), [0.5, 4.5], **tol)
    assert bool(ns.get(res.converged)) and res.iterations == 2


def test_quiet_world_is_returned_unchanged(ns, dtype):
    inputs, _, _ = case("no_default")
    res = run(ns, dtype, inputs, capital_min=0.01)  # everyone well capitalised, no rule binds
    assert res.iterations == 1 and bool(ns.get(res.converged))
    for key in ("prices", "holdings", "cash", "liabilities"):
        np.testing.assert_array_equal(ns.get(getattr(res, key)), inputs[key].astype(dtype))
    assert not ns.get(res.defaulted).any()
    assert not ns.get(res.sold).any() and not ns.get(res.proceeds).any()


def _stack(worlds):
    """Stack worlds along a new leading axis; a missing ``cash_needed`` is zero."""
    keys = {k for w in worlds for k in w}
    return {
        k: np.stack([w[k] if k in w else np.zeros_like(w["cash"]) for w in worlds]) for k in keys
    }


@pytest.mark.parametrize("per_holder", [False, True], ids=["scalar", "per_holder"])
def test_batched_leading_axis(ns, dtype, per_holder):
    worlds = [world(seed, n=25, m=4, need=0.2) for seed in (21, 22, 23)]
    inputs = _stack(worlds)
    options = {"capital_min": 0.03, "capital_buffer": 0.06, "capital_target": 0.07}
    if per_holder:
        rng = np.random.default_rng(24)
        cmin = rng.uniform(0.01, 0.04, (3, 25))
        options = {"capital_min": cmin, "capital_buffer": cmin + 0.03}
    if np.dtype(dtype) == np.float32:
        assert_robust(inputs, options)
    res = run(ns, dtype, inputs, **options)
    ref = oracle(inputs, dtype, **options)
    assert ns.get(res.prices).shape == (3, 4) and ns.get(res.holdings).shape == (3, 25, 4)
    assert ns.get(res.converged).shape == (3,)
    assert len(set(ref["iterations"].tolist())) > 1, "want worlds that stop at different rounds"
    assert_matches(ns, dtype, res, ref)


def test_two_leading_axes(ns, dtype):
    worlds = [world(seed, n=20, m=3, need=0.2) for seed in range(31, 37)]
    inputs = {k: v.reshape(2, 3, *v.shape[1:]) for k, v in _stack(worlds).items()}
    inputs["depth"] = inputs["depth"][0, 0]  # one (M,) depth shared by all six worlds
    options = {"capital_min": 0.03, "capital_buffer": 0.06}
    if np.dtype(dtype) == np.float32:
        assert_robust(inputs, options)
    res = run(ns, dtype, inputs, **options)
    ref = oracle(inputs, dtype, **options)
    assert ns.get(res.cash).shape == (2, 3, 20) and ns.get(res.sold).shape == (2, 3, 3)
    assert ns.get(res.converged).shape == (2, 3)
    assert ref["defaulted"].any()
    assert_matches(ns, dtype, res, ref)


@pytest.mark.parametrize("batched", ["prices", "prices_and_depth"])
def test_shared_holdings_with_batched_prices(ns, dtype, batched):
    inputs = world(41, n=30, m=4, need=0.2)
    shocks = np.array([[1.0, 1.0, 1.0, 1.0], [0.9, 0.95, 1.0, 0.8], [0.7, 0.8, 0.9, 0.75]])
    inputs["prices"] = inputs["prices"] * shocks  # (E, M); holdings (N, M), cash (N,) shared
    if batched == "prices_and_depth":
        inputs["depth"] = inputs["depth"] * np.array([[1.0], [2.0], [0.5]])
    options = {"capital_min": 0.03, "capital_buffer": 0.06}
    if np.dtype(dtype) == np.float32:
        assert_robust(inputs, options)
    res = run(ns, dtype, inputs, **options)
    ref = oracle(inputs, dtype, **options)
    assert ns.get(res.holdings).shape == (3, 30, 4)
    assert ns.get(res.equity).shape == (3, 30)
    counts = ref["defaulted"].sum(axis=-1)
    assert counts[0] < counts[2], "a harder shock should default more holders"
    assert_matches(ns, dtype, res, ref)


@pytest.mark.parametrize("layout", ["batched", "shared_holdings", "two_axes"])
def test_settled_worlds_leave_the_batch(ns, dtype, layout):
    # Worlds whose cascades end at very different rounds: on NumPy (and CuPy) settled worlds
    # leave the working set once at most half of it is active ("compaction"); on array-api-strict
    # every world stays to the end. Both must give every world its own reference answer.
    seeds = range(51, 59)
    worlds = [
        world(s, n=15, m=3, ratio=(0.0, 0.06 + 0.04 * (s % 4)), depth=(0.5 + s % 3, 4.0))
        for s in seeds
    ]
    inputs = _stack(worlds)
    if layout == "shared_holdings":
        inputs["holdings"] = inputs["holdings"][0]
    if layout == "two_axes":
        inputs = {k: v.reshape(2, 4, *v.shape[1:]) for k, v in inputs.items()}
    options = {"capital_min": 0.03, "capital_buffer": 0.06, "capital_target": 0.08}
    if np.dtype(dtype) == np.float32:
        assert_robust(inputs, options)
    ref = oracle(inputs, dtype, **options)
    rounds = ref["iterations"].ravel()
    # compaction happens: at some round at most half of the worlds are still active
    assert np.median(rounds) < rounds.max(), rounds
    res = run(ns, dtype, inputs, **options)
    assert_matches(ns, dtype, res, ref)


def test_depth_batched_alone(ns, dtype):
    # only depth carries the batch axis
    inputs = world(42, n=20, m=3)
    inputs["depth"] = inputs["depth"] * np.array([[0.5], [1.0], [4.0]])
    options = {"capital_min": 0.03}
    if np.dtype(dtype) == np.float32:
        assert_robust(inputs, options)
    res = run(ns, dtype, inputs, **options)
    assert ns.get(res.prices).shape == (3, 3)
    assert_matches(ns, dtype, res, oracle(inputs, dtype, **options))


# ---------------------------------------------------------------------------------------------
# (b) accounting identities


def assert_accounting(inputs, out, dtype):
    """Per-holder identities between the inputs and the kernel's (NumPy) outputs."""
    f = {k: np.asarray(v, dtype=dtype).astype(np.float64) for k, v in inputs.items()}
    holdings, cash, liab = f["holdings"], f["cash"], f["liabilities"]
    other = f.get("other_assets", np.zeros_like(cash))
    scale = max(1.0, float(np.max(np.abs(holdings @ f["prices"][..., None]))), np.max(liab))
    atol = scale * (2e-5 if np.dtype(dtype) == np.float32 else 1e-12)
    # cash moves only through sales and repayments
    np.testing.assert_allclose(
        out["cash"] - cash + (liab - out["liabilities"]), out["proceeds"], rtol=0, atol=atol
    )
    # every unit that left a holder was sold to the market makers
    np.testing.assert_allclose(
        (holdings - out["holdings"]).sum(axis=-2), out["sold"], rtol=0, atol=atol
    )
    # equity = assets - liabilities at the final prices
    marked = (out["holdings"] @ out["prices"][..., None])[..., 0]
    np.testing.assert_allclose(
        out["equity"], out["cash"] + marked + other - out["liabilities"], rtol=0, atol=atol
    )
    # liabilities only ever fall, and never below zero; holdings never negative, never grow
    assert np.all(out["liabilities"] <= liab) and np.all(out["liabilities"] >= 0.0)
    assert np.all(out["holdings"] >= 0.0) and np.all(out["holdings"] <= holdings)
    assert np.all(out["proceeds"] >= 0.0) and np.all(out["sold"] >= 0.0)
    # pro rata: every holder kept the same fraction of each of its positions
    held = holdings > 0.0
    kept = out["holdings"] / np.where(held, holdings, 1.0)
    spread = np.where(held, kept, -np.inf).max(axis=-1) - np.where(held, kept, np.inf).min(axis=-1)
    spread = np.where(held.any(axis=-1), spread, 0.0)
    assert np.all(spread <= (1e-5 if np.dtype(dtype) == np.float32 else 1e-12)), spread


@pytest.mark.parametrize("name", CASES)
def test_accounting_identities(name):
    inputs, options, _ = case(name)
    res = fire_sale(**inputs, **options)
    out = {k: np.asarray(v) for k, v in res._asdict().items()}
    assert_accounting(inputs, out, np.float64)
    if options.get("sell_all_on_default", True):
        # a defaulted holder sells everything and keeps the proceeds as cash
        assert np.all(out["holdings"][out["defaulted"]] == 0.0)


def test_without_returned_holdings_the_initial_units_times_retained_are_them(ns, dtype):
    """``return_holdings=False``: no holdings in the result, every other field the same, and
    ``holdings × retained`` gives the returned holdings bit for bit (abm.fire_sales settles the
    state's holdings in place so)."""
    inputs = _stack([world(seed, n=30, m=4, need=0.3, other=(0.0, 1.0)) for seed in (51, 52)])
    options = {"capital_min": 0.03, "capital_buffer": 0.06, "capital_target": 0.08}
    full = run(ns, dtype, inputs, **options)
    lean = run(ns, dtype, inputs, **options, return_holdings=False)
    assert lean.holdings is None
    initial = _cast(inputs["holdings"], dtype)
    returned = ns.get(full.holdings)
    assert (returned < initial).any()  # something was sold
    assert np.array_equal(initial * ns.get(lean.retained)[..., None], returned)
    for key in (*FLOAT_KEYS, "retained", "defaulted", "converged", "rounds"):
        if key != "holdings":
            assert np.array_equal(ns.get(getattr(lean, key)), ns.get(getattr(full, key))), key


def test_accounting_identities_on_every_namespace(ns, dtype):
    inputs = _stack([world(seed, n=30, m=4, need=0.3, other=(0.0, 1.0)) for seed in (51, 52)])
    res = run(ns, dtype, inputs, capital_min=0.03, capital_buffer=0.06, capital_target=0.08)
    out = {k: ns.get(getattr(res, k)) for k in FLOAT_KEYS}
    out["defaulted"] = ns.get(res.defaulted)
    assert out["defaulted"].any() and (out["liabilities"] < inputs["liabilities"]).any()
    assert_accounting(inputs, out, dtype)


# ---------------------------------------------------------------------------------------------
# (c) properties (hypothesis, NumPy float64)

_finite = {"allow_nan": False, "allow_infinity": False, "allow_subnormal": False}


def _floats(lo, hi):
    return st.floats(lo, hi, **_finite)


def _amounts(hi):
    """0 or a float in [0.01, hi]: no amounts near the subnormal range."""
    return st.one_of(st.just(0.0), _floats(0.01, hi))


@st.composite
def markets(draw, max_banks=5, max_funds=3, max_assets=3):
    """Banks (liabilities, capital rules) and funds (no liabilities, cash needs), shared assets."""
    n_banks = draw(st.integers(1, max_banks))
    n_funds = draw(st.integers(0, max_funds))
    m = draw(st.integers(1, max_assets))
    n = n_banks + n_funds
    holdings = draw(hnp.arrays(np.float64, (n, m), elements=_amounts(10.0)))
    prices = draw(hnp.arrays(np.float64, (m,), elements=_floats(0.2, 5.0)))
    depth = draw(hnp.arrays(np.float64, (m,), elements=_floats(2.0, 200.0)))
    cash = draw(hnp.arrays(np.float64, (n,), elements=_amounts(5.0)))
    other = draw(hnp.arrays(np.float64, (n,), elements=_amounts(20.0)))
    ratio = draw(hnp.arrays(np.float64, (n,), elements=_floats(-0.05, 0.3)))
    need = draw(hnp.arrays(np.float64, (n,), elements=_amounts(20.0)))
    bank = np.arange(n) < n_banks
    assets = cash + holdings @ prices + other
    return {
        "holdings": holdings,
        "prices": prices,
        "cash": cash,
        "liabilities": np.where(bank, assets * (1.0 - ratio), 0.0),
        "depth": depth,
        "other_assets": other,
        "cash_needed": np.where(bank, 0.0, need),
    }


def _solve(market, **options):
    res = fire_sale(**market, **options)
    return {k: np.asarray(v) for k, v in res._asdict().items()}


def _le(a, b):
    """a <= b up to the kernel's stopping tolerance."""
    return np.all(a <= b * (1.0 + 1e-8) + 1e-10)


@settings(max_examples=40, deadline=None)
@given(
    market=markets(),
    impact=st.sampled_from(["exponential", "cont_schaanning"]),
    buffer=st.sampled_from([None, 0.08]),
    fill=st.sampled_from(FILLS),
)
def test_prices_positive_bounded_and_balance_sheets_sane(market, impact, buffer, fill):
    out = _solve(
        market, capital_min=0.03, capital_buffer=buffer, impact=impact, fill=fill, price_floor=0.2
    )
    assert out["converged"]
    assert np.all(out["prices"] > 0.0)
    assert np.all(out["prices"] <= market["prices"])
    if impact == "cont_schaanning":
        assert np.all(out["prices"] >= 0.2 * market["prices"] * (1 - 1e-12))
    assert np.all(out["holdings"] >= 0.0)
    assert np.all(out["cash"] >= 0.0)
    assert_accounting(market, out, np.float64)


@settings(max_examples=40, deadline=None)
@given(market=markets(), extra=hnp.arrays(np.float64, 8, elements=_amounts(20.0)))
def test_more_cash_needed_means_lower_prices_and_more_defaults(market, extra):
    n = market["holdings"].shape[0]
    fund = market["liabilities"] == 0.0
    assume(fund.any())
    more = dict(market, cash_needed=market["cash_needed"] + np.where(fund, extra[:n], 0.0))
    base = _solve(market, capital_min=0.03)
    shocked = _solve(more, capital_min=0.03)
    assert _le(shocked["prices"], base["prices"])
    assert np.all(shocked["sold"] >= base["sold"] * (1.0 - 1e-8) - 1e-10)
    assert np.all(shocked["defaulted"] >= base["defaulted"])


@settings(max_examples=40, deadline=None)
@given(market=markets(), shock=hnp.arrays(np.float64, 3, elements=_floats(0.5, 1.0)))
def test_lower_initial_prices_mean_lower_prices_and_more_defaults(market, shock):
    m = market["prices"].shape[0]
    lower = dict(market, prices=market["prices"] * shock[:m])
    for impact in ("exponential", "linear", "cont_schaanning"):
        base = _solve(market, capital_min=0.03, impact=impact, price_floor=0.3)
        shocked = _solve(lower, capital_min=0.03, impact=impact, price_floor=0.3)
        assert _le(shocked["prices"], base["prices"]), impact
        assert np.all(shocked["defaulted"] >= base["defaulted"]), impact
        assert np.all(shocked["prices"] >= 0.0)


def test_cash_need_of_an_indebted_holder_can_save_it():
    """Monotonicity in cash_needed does not extend to holders that can default (model fact).

    Holder 1 has no equity and dumps its 2 units in round 1. Holder 0 (ratio 0.19) is then
    wiped out by the crash and defaults in round 2; asked for 2 of cash, it sells in round 1 at
    the mid price instead, before the crash, and survives. So a larger liquidity shock gives
    fewer defaults here; the property tests put cash needs on funds (no liabilities) only.
    """
    inputs = {
        "holdings": np.array([[1.0], [2.0]]),
        "prices": np.array([4.0]),
        "cash": np.zeros(2),
        "liabilities": np.array([11.375, 8.0]),
        "depth": np.array([2.0]),
        "other_assets": np.array([10.0, 0.0]),
    }
    for need, defaulted in ((0.0, [True, True]), (2.0, [False, True])):
        options = {"capital_min": 0.03, "cash_needed": np.array([need, 0.0])}
        assert oracle(inputs, **options)["defaulted"].tolist() == defaulted
        assert fire_sale(**inputs, **options).defaulted.tolist() == defaulted


# ---------------------------------------------------------------------------------------------
# (d) honest non-convergence; check_every


@pytest.mark.parametrize("max_iter", [1, 2])
def test_max_iter_reports_non_convergence(ns, dtype, max_iter):
    inputs, options, _ = case("cascade")
    ref_full = oracle(inputs, **options)
    assert ref_full["iterations"] > max_iter + 1
    res = run(ns, dtype, inputs, max_iter=max_iter, **options)
    ns.check(res.converged, np.bool_)
    assert not bool(ns.get(res.converged))
    assert res.iterations == max_iter
    # the state after max_iter rounds is the reference's after as many rounds
    if np.dtype(dtype) == np.float32:
        assert _robust_case("cascade")
    ref = oracle(inputs, dtype, max_iter=max_iter, **options)
    assert not ref["converged"] and ref["iterations"] == max_iter
    assert_matches(ns, dtype, res, ref)


def test_max_iter_per_world_in_a_batch(ns, dtype):
    # world 0 is quiet at once, world 1 cascades for several rounds
    calm = world(61, n=20, m=4, ratio=(0.2, 0.3))
    wild = world(62, n=20, m=4, ratio=(0.0, 0.1), depth=(1.0, 2.0))
    inputs = _stack([calm, wild])
    res = run(ns, dtype, inputs, capital_min=0.03, max_iter=2)
    np.testing.assert_array_equal(ns.get(res.converged), [True, False])
    assert res.iterations == 2
    np.testing.assert_array_equal(ns.get(res.prices)[0], calm["prices"].astype(dtype))


@pytest.mark.parametrize("max_iter", [5, 1000])
def test_check_every_does_not_change_results(ns, dtype, max_iter):
    worlds = [world(seed, n=20, m=4, need=0.2, ratio=(0.0, 0.15)) for seed in (71, 72, 73)]
    inputs = _stack(worlds)
    options = {"capital_min": 0.03, "capital_buffer": 0.06, "max_iter": max_iter}
    results = [run(ns, dtype, inputs, check_every=k, **options) for k in (1, 3, 8)]
    first = results[0]
    for other in results[1:]:
        for key in (*FLOAT_KEYS, "defaulted", "converged"):
            np.testing.assert_array_equal(
                ns.get(getattr(other, key)), ns.get(getattr(first, key)), err_msg=key
            )
        assert other.iterations == first.iterations
        np.testing.assert_array_equal(ns.get(other.rounds), ns.get(first.rounds))
    if max_iter == 5:
        assert first.iterations == 5 and not ns.get(first.converged).all()
    else:
        assert ns.get(first.converged).all()
        assert len(set(ns.get(first.rounds).tolist())) > 1


# ---------------------------------------------------------------------------------------------
# (e) order independence; (f) batch independence


def _tight(dtype):
    if np.dtype(dtype) == np.float32:
        return {"rtol": 2e-5, "atol": 2e-5}
    return {"rtol": 1e-12, "atol": 1e-11}


def _order_tolerance(ns, dtype, n_holders, capital_min):
    """Tolerance between two runs that add the same holders' sales up in different orders.

    NumPy reduces over the holders pairwise (an error of about log2(N) float eps), which
    :func:`_tight` covers. On a GPU, ``cupyx.scatter_add`` adds the N sales of an asset by
    atomics in an order that changes with the layout: a float32 sum of N terms in an arbitrary
    order is off by up to N * eps (eps = 1.2e-7). The prices move with that sum, and a holder's
    next sale is sized from its capital shortfall, equity over assets, in which a price error is
    magnified by the leverage, up to 1 / capital_min. So float32 on a device gets rtol = atol =
    N * eps / min(capital_min): 1.2e-4 for 30 holders at a 3% minimum, where the H200 measured
    7.6e-5 on the proceeds (CuPy 14.2). float64 and NumPy keep :func:`_tight`.
    """
    tight = _tight(dtype)
    if ns.name != "cupy" or np.dtype(dtype) != np.float32:
        return tight
    bound = n_holders * float(np.finfo(np.float32).eps) / float(np.min(capital_min))
    return {"rtol": max(tight["rtol"], bound), "atol": max(tight["atol"], bound)}


@pytest.mark.parametrize("name", ["mixed", "per_holder", "keep_on_default"])
def test_permuting_holders_permutes_the_results(ns, dtype, name):
    inputs, options, _ = case(name)
    if np.dtype(dtype) == np.float32:
        assert _robust_case(name)
    perm = np.random.default_rng(81).permutation(inputs["holdings"].shape[0])
    shuffled = {k: (v[perm] if k in ("holdings", *PER_HOLDER) else v) for k, v in inputs.items()}
    shuffled_options = {
        k: v[perm] if k in THRESHOLDS and isinstance(v, np.ndarray) else v
        for k, v in options.items()
    }
    a = run(ns, dtype, inputs, **options)
    b = run(ns, dtype, shuffled, **shuffled_options)
    tol = _order_tolerance(ns, dtype, len(perm), options["capital_min"])
    for key in ("prices", "sold"):
        np.testing.assert_allclose(ns.get(getattr(b, key)), ns.get(getattr(a, key)), **tol)
    for key in ("holdings", "cash", "liabilities", "equity", "proceeds"):
        np.testing.assert_allclose(
            ns.get(getattr(b, key)), ns.get(getattr(a, key))[perm], err_msg=key, **tol
        )
    np.testing.assert_array_equal(ns.get(b.defaulted), ns.get(a.defaulted)[perm])
    assert a.iterations == b.iterations


def test_world_alone_equals_world_in_a_batch(ns, dtype):
    target = world(91, n=25, m=4, need=0.2)
    others = [
        world(92, n=25, m=4, ratio=(0.0, 0.05), depth=(0.5, 1.0)),  # long, violent cascade
        world(93, n=25, m=4, ratio=(0.3, 0.5)),  # quiet at once
        world(94, n=25, m=4, need=1.0),
    ]
    options = {"capital_min": 0.03, "capital_buffer": 0.06, "check_every": 3}
    alone = run(ns, dtype, target, **options)
    batch = run(ns, dtype, _stack([others[0], target, others[1], others[2]]), **options)
    for key in (*FLOAT_KEYS, "defaulted", "converged"):
        got = ns.get(getattr(batch, key))[1]
        np.testing.assert_allclose(got, ns.get(getattr(alone, key)), err_msg=key, **_tight(dtype))
    assert int(ns.get(batch.rounds)[1]) == alone.iterations
    assert batch.iterations > alone.iterations  # the violent world ran longer


# ---------------------------------------------------------------------------------------------
# (g) input validation


def _small():
    return world(101, n=4, m=3)


BAD_SHAPES = [
    ("holdings", lambda w: w["holdings"][0]),
    ("prices", lambda w: np.ones(4)),
    ("prices", lambda w: np.array(1.0)),
    ("depth", lambda w: np.ones(2)),
    ("cash", lambda w: np.ones(5)),
    ("liabilities", lambda w: np.ones((2, 3))),
    ("other_assets", lambda w: np.ones(3)),
    ("cash_needed", lambda w: np.ones(7)),
    ("capital_min", lambda w: np.full(5, 0.03)),
    ("capital_buffer", lambda w: np.full(3, 0.06)),
    ("capital_target", lambda w: np.full(6, 0.07)),
    ("price_floor", lambda w: np.full(4, 0.2)),
]


@pytest.mark.parametrize(
    ("name", "make"), BAD_SHAPES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD_SHAPES)]
)
def test_wrong_shape_names_the_argument(ns, name, make):
    inputs = _small()
    options = {"capital_min": 0.03, "capital_buffer": 0.06}
    bad = make(inputs)
    if name in inputs or name == "cash_needed":
        inputs[name] = bad
    else:
        options[name] = bad
    with pytest.raises(ValueError, match=name):
        run(ns, np.float64, inputs, **options)


@pytest.mark.parametrize("name", ["prices", "cash", "cash_needed", "depth"])
def test_batch_axes_that_do_not_broadcast_name_the_argument(ns, name):
    inputs = _small()
    inputs["holdings"] = np.stack([inputs["holdings"]] * 2)
    inputs["cash_needed"] = np.zeros(4)
    inputs[name] = np.stack([inputs[name]] * 3)
    with pytest.raises(ValueError, match=f"broadcast.*{name} \\(3,\\)"):
        run(ns, np.float64, inputs, capital_min=0.03)


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [("impact", "sqrt", IMPACTS), ("fill", "vwap", FILLS)],
)
def test_bad_impact_or_fill_name(ns, option, value, allowed):
    with pytest.raises(ValueError, match=option) as info:
        run(ns, np.float64, _small(), **{option: value})
    for name in allowed:
        assert name in str(info.value)


@pytest.mark.parametrize("option", ["max_iter", "check_every"])
def test_iteration_limits_must_be_positive(option):
    with pytest.raises(ValueError, match=option):
        fire_sale(**_small(), **{option: 0})


# ---------------------------------------------------------------------------------------------
# edge cases: a holder without assets, a book in the subnormal range


def test_no_overflow_warning_for_an_indebted_holder_without_assets():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        res = fire_sale(
            np.array([[0.0], [1.0]]),
            np.array([0.5]),
            np.array([0.0, 1.0]),
            np.array([10.0, 0.5]),
            depth=np.array([2.0]),
            capital_min=0.03,
        )
    assert res.defaulted.tolist() == [True, False]


def test_defaulter_with_a_subnormal_book_sells_everything():
    inputs = {
        "holdings": np.array([[2.2250738585072014e-308]]),
        "prices": np.array([0.5]),
        "cash": np.array([0.0]),
        "liabilities": np.array([1.1125369292536007e-308]),
        "depth": np.array([2.0]),
    }
    ref = oracle(inputs, capital_min=0.03)
    assert ref["converged"] and ref["iterations"] == 2 and ref["holdings"][0, 0] == 0.0
    res = fire_sale(**inputs, capital_min=0.03, max_iter=50)
    assert bool(res.converged)
    assert res.holdings[0, 0] == 0.0
