"""Bad inputs to the kernels (issue 12 item 1): never NaN with ``converged`` True.

NaN, infinite, negative (where the contract forbids it), zero-size or integer inputs either raise
a ValueError naming the argument (scalar options, checked on the host) or give ``converged`` False
in the worlds whose data are bad (arrays, checked on the device without a host sync), leaving the
other worlds of the batch exactly as a clean call leaves them. Also: the default Eisenberg–Noe
result lies within 1e-8 (relative to the largest obligation) of the exact greatest clearing vector,
also where Picard contracts slowly because almost everyone defaults.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.clearing import eisenberg_noe
from kernels.debtrank import debtrank
from kernels.firesale import fire_sale
from tests.reference.clearing import clearing_loop

WORLDS, N, M = 3, 4, 2
KINDS = ("nan", "inf", "-inf", "negative")

# ---------------------------------------------------------------------------------------------
# clean instances: three worlds each, every argument batched so that one world can be spoiled


def fire_sale_instance(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    holdings = rng.uniform(0.0, 10.0, (WORLDS, N, M))
    prices = rng.uniform(0.5, 2.0, (WORLDS, M))
    cash = rng.uniform(0.0, 2.0, (WORLDS, N))
    other = rng.uniform(0.0, 5.0, (WORLDS, N))
    assets = (holdings @ prices[..., None])[..., 0] + cash + other
    return {
        "holdings": holdings,
        "prices": prices,
        "cash": cash,
        "liabilities": assets * rng.uniform(0.9, 0.99, (WORLDS, N)),
        "depth": holdings.sum(axis=1) * rng.uniform(2.0, 5.0, (WORLDS, M)),
        "other_assets": other,
        "cash_needed": rng.uniform(0.0, 3.0, (WORLDS, N)),
        "capital_min": np.full((WORLDS, N), 0.02),
        "capital_buffer": np.full((WORLDS, N), 0.05),
        "capital_target": np.full((WORLDS, N), 0.08),
        "price_floor": np.full((WORLDS, M), 0.1),
    }


def clearing_instance(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    liabilities = rng.uniform(0.1, 1.0, (WORLDS, N, N))
    liabilities[:, np.arange(N), np.arange(N)] = 0.0
    external = liabilities.sum(axis=-1) * rng.uniform(0.0, 1.2, (WORLDS, N))
    return {"liabilities": liabilities, "external_assets": external}


def debtrank_instance(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    exposures = rng.uniform(0.0, 1.0, (WORLDS, N, N))
    equity = exposures.sum(axis=-1) * rng.uniform(0.5, 2.0, (WORLDS, N))
    shock = np.zeros((WORLDS, N))
    shock[:, 0] = 0.5
    return {"exposures": exposures, "equity": equity, "shock": shock}


def run_fire_sale(args: dict):
    return fire_sale(**args, impact="cont_schaanning")


def run_clearing(args: dict):
    return eisenberg_noe(**args)


def run_debtrank(args: dict):
    return debtrank(**args)


KERNELS = {
    "fire_sale": (fire_sale_instance, run_fire_sale),
    "eisenberg_noe": (clearing_instance, run_clearing),
    "debtrank": (debtrank_instance, run_debtrank),
}

#: the kinds of bad value that must give converged False (the others are allowed: negative
#: cash is an overdraft, depth = inf means no impact, a capital threshold of -inf disables it,
#: external assets may be negative or +inf, ...); every kind must at least never give NaN or
#: infinite results with converged True
MUST_FAIL = {
    "fire_sale": {
        "holdings": KINDS,
        "prices": KINDS,
        "cash": ("nan", "inf", "-inf"),
        "liabilities": KINDS,
        "depth": ("nan", "-inf", "negative", "zero"),
        "other_assets": ("nan", "inf", "-inf"),
        "cash_needed": ("nan", "inf", "-inf"),
        "capital_min": ("nan",),
        "capital_buffer": ("nan",),
        "capital_target": ("nan", "-inf", "negative", "zero"),
        "price_floor": KINDS,
    },
    "eisenberg_noe": {
        "liabilities": KINDS,
        "external_assets": ("nan", "-inf"),
    },
    "debtrank": {
        "exposures": KINDS,
        "equity": ("nan", "inf", "-inf"),
        "shock": ("nan", "inf", "-inf"),
    },
}
CASES = [(kernel, name) for kernel, names in MUST_FAIL.items() for name in names]


def spoil(value: np.ndarray, kind: str, world: int, position: int) -> np.ndarray:
    """A copy of ``value`` with one entry of ``world`` replaced by a bad value of ``kind``."""
    out = np.array(value, dtype=np.float64, copy=True)
    part = out[world].reshape(-1)
    index = position % part.size
    bad = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "zero": 0.0}
    part[index] = bad[kind] if kind in bad else -(abs(part[index]) + 1.0)
    out[world] = part.reshape(out[world].shape)
    return out


def outputs(kernel: str, result, get=np.asarray) -> dict[str, np.ndarray]:
    """The float results of a kernel call, by name, as NumPy arrays (``get`` brings one back)."""
    names = {
        "fire_sale": ("prices", "holdings", "cash", "liabilities", "equity", "sold", "proceeds"),
        "eisenberg_noe": ("payments", "received"),
        "debtrank": ("distress", "loss"),
    }[kernel]
    return {name: get(getattr(result, name)) for name in names}


def assert_honest(kernel: str, result) -> None:
    """No world reports converged with a NaN or infinite result."""
    converged = np.asarray(result.converged)
    for name, value in outputs(kernel, result).items():
        finite = np.isfinite(value).reshape(value.shape[0], -1).all(axis=-1)
        assert np.all(finite | ~converged), (name, value, converged)


# ---------------------------------------------------------------------------------------------
# bad data in one world: that world is not converged, the others are untouched


@settings(max_examples=150, deadline=None)
@given(
    case=st.sampled_from(CASES),
    kind=st.sampled_from((*KINDS, "zero")),
    world=st.integers(0, WORLDS - 1),
    position=st.integers(0, 63),
    seed=st.integers(0, 2**16),
)
def test_bad_data_is_never_reported_converged(case, kind, world, position, seed):
    kernel, name = case
    make, call = KERNELS[kernel]
    clean_args = make(seed)
    clean = call(clean_args)
    assert np.all(np.asarray(clean.converged))
    args = dict(clean_args, **{name: spoil(clean_args[name], kind, world, position)})
    try:
        result = call(args)
    except ValueError as error:  # allowed only if it names the argument
        assert name in str(error)
        return
    assert_honest(kernel, result)
    converged = np.asarray(result.converged)
    if kind in MUST_FAIL[kernel][name]:
        assert not converged[world], (kernel, name, kind)
    others = [w for w in range(WORLDS) if w != world]
    np.testing.assert_array_equal(converged[others], np.asarray(clean.converged)[others])
    for key, value in outputs(kernel, result).items():
        np.testing.assert_array_equal(value[others], outputs(kernel, clean)[key][others], key)


@pytest.mark.parametrize(("kernel", "name"), CASES)
def test_nan_in_any_argument_on_every_namespace(ns, kernel, name):
    make, call = KERNELS[kernel]
    args = make(1)
    args[name] = spoil(args[name], "nan", 1, 3)
    result = call({key: ns.put(value) for key, value in args.items()})
    converged = ns.get(result.converged)
    assert not converged[1]
    assert converged[0] and converged[2]


def test_depth_zero_is_not_converged():
    # used to give NaN prices with converged True
    args = fire_sale_instance(2)
    args["depth"] = np.zeros_like(args["depth"])
    result = fire_sale(**args)
    assert not np.any(np.asarray(result.converged))


@pytest.mark.parametrize("depth", [-1.0, -1e-3])
def test_negative_depth_is_not_converged(depth):
    # used to give prices around 3e16 with converged True
    args = fire_sale_instance(3)
    args["depth"] = np.full_like(args["depth"], depth)
    assert not np.any(np.asarray(fire_sale(**args).converged))


def test_negative_prices_are_not_converged():
    args = fire_sale_instance(4)
    args["prices"] = -args["prices"]
    assert not np.any(np.asarray(fire_sale(**args).converged))


# ---------------------------------------------------------------------------------------------
# scalar options: a ValueError that names the argument


def call_with(kernel: str, **options):
    make, _ = KERNELS[kernel]
    args = make(0)
    if kernel == "fire_sale":
        return fire_sale(**args, **options)
    if kernel == "eisenberg_noe":
        return eisenberg_noe(**args, **options)
    return debtrank(**args, **options)


@pytest.mark.parametrize("kernel", list(KERNELS))
@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("tol", float("nan")),
        ("tol", float("inf")),
        ("tol", 0.0),
        ("tol", -1e-10),
        ("tol", "small"),
        ("max_iter", 2.5),
        ("max_iter", float("nan")),
        ("max_iter", True),
        ("check_every", 1.5),
    ],
)
def test_bad_scalar_options_name_the_argument(kernel, option, value):
    with pytest.raises(ValueError, match=option):
        call_with(kernel, **{option: value})


def test_tol_nan_used_to_stop_after_one_iteration():
    # Eisenberg–Noe was off by 8.66 and the fire sale sold nothing with tol=nan
    with pytest.raises(ValueError, match="tol"):
        call_with("eisenberg_noe", tol=float("nan"))
    with pytest.raises(ValueError, match="tol"):
        call_with("fire_sale", tol=float("nan"))


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("capital_min", float("nan")),
        ("capital_buffer", float("nan")),
        ("capital_target", float("nan")),
        ("capital_target", 0.0),
        ("capital_target", -0.1),
        ("price_floor", float("nan")),
        ("price_floor", -0.1),
        ("price_floor", 1.0),
    ],
)
def test_bad_scalar_thresholds_name_the_argument(option, value):
    args = fire_sale_instance(0)
    args[option] = value
    with pytest.raises(ValueError, match=option):
        fire_sale(**args)


@pytest.mark.parametrize("name", ["default_cost_external", "default_cost_interbank"])
@pytest.mark.parametrize(
    "value", [float("nan"), np.array([0.5, np.nan, 0.5, 0.5])], ids=["scalar", "array"]
)
def test_nan_default_costs_name_the_argument(name, value):
    with pytest.raises(ValueError, match=name):
        call_with("eisenberg_noe", **{name: value})


# ---------------------------------------------------------------------------------------------
# zero-size batches and integer inputs


def empty_args(kernel: str, worlds: int, n: int, m: int = M) -> dict:
    if kernel == "fire_sale":
        return {
            "holdings": np.ones((worlds, n, m)),
            "prices": np.ones((worlds, m)),
            "cash": np.ones((worlds, n)),
            "liabilities": np.ones((worlds, n)),
            "depth": np.ones(m),
        }
    if kernel == "eisenberg_noe":
        return {"liabilities": np.ones((worlds, n, n)), "external_assets": np.ones((worlds, n))}
    return {
        "exposures": np.ones((worlds, n, n)),
        "equity": np.ones((worlds, n)),
        "shock": np.ones((worlds, n)),
    }


@pytest.mark.parametrize("kernel", list(KERNELS))
@pytest.mark.parametrize(("worlds", "n"), [(0, 3), (0, 0), (2, 0)])
def test_zero_size_batches(ns, kernel, worlds, n):
    _, call = KERNELS[kernel]
    args = {k: ns.put(v) for k, v in empty_args(kernel, worlds, n).items()}
    result = call(args)
    converged = ns.get(result.converged)
    assert converged.shape == (worlds,)
    assert converged.dtype == np.bool_
    assert np.all(converged)
    for value in outputs(kernel, result, ns.get).values():
        assert value.shape[0] == worlds


@pytest.mark.parametrize("kernel", list(KERNELS))
@pytest.mark.parametrize("kind", [np.int64, np.int32, np.bool_])
def test_integer_and_bool_arrays_are_cast_to_float64(ns, kernel, kind):
    make, call = KERNELS[kernel]
    args = make(5)
    if kind is np.bool_:
        whole = {k: v > np.median(v) for k, v in args.items()}
    else:
        whole = {k: np.round(10 * v).astype(kind) for k, v in args.items()}
    if kernel == "fire_sale":  # keep the thresholds and the floor meaningful
        for key in ("capital_min", "capital_buffer", "capital_target", "price_floor"):
            whole[key] = args[key]
    as_float = {k: np.asarray(v, dtype=np.float64) for k, v in whole.items()}
    result = call({k: ns.put(v) for k, v in whole.items()})
    expected = call({k: ns.put(v) for k, v in as_float.items()})
    for name, value in outputs(kernel, result, ns.get).items():
        ns.check(getattr(result, name), np.float64)
        np.testing.assert_array_equal(value, outputs(kernel, expected, ns.get)[name])
    np.testing.assert_array_equal(ns.get(result.converged), ns.get(expected.converged))


def test_float32_secondary_array_sets_the_dtype_of_an_integer_main_array():
    args = clearing_instance(6)
    result = eisenberg_noe(
        np.round(10 * args["liabilities"]).astype(np.int64),
        args["external_assets"].astype(np.float32),
    )
    assert result.payments.dtype == np.float32


# ---------------------------------------------------------------------------------------------
# Eisenberg–Noe: within 1e-8 of the exact greatest clearing vector, also when most default


def mostly_defaulting(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A network in which all but a sink default and little leaks out of the defaulters.

    Picard then contracts at about ``1 - leak`` per iteration and, stopping on its step size,
    used to stop up to 6e-8 (relative) away from the fixed point.
    """
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 16))
    liabilities = rng.uniform(0.1, 1.0, (n, n)) * (rng.random((n, n)) < 0.7)
    np.fill_diagonal(liabilities, 0.0)
    liabilities[0, :] = 0.0  # a sink that owes nothing
    leak = 10 ** rng.uniform(-3.0, -2.0)
    liabilities[1:, 0] = leak / (1.0 - leak) * liabilities[1:, 1:].sum(axis=1) + 1e-6
    external = liabilities.sum(axis=1) * leak * rng.uniform(0.1, 0.9, n)
    return liabilities, external


@pytest.mark.parametrize("seed", range(12))
def test_eisenberg_noe_is_exact_when_almost_everyone_defaults(seed):
    liabilities, external = mostly_defaulting(seed)
    ref = clearing_loop(liabilities, external)
    result = eisenberg_noe(liabilities, external, max_iter=10**6)
    assert bool(result.converged)
    scale = liabilities.sum(axis=1).max()
    assert np.abs(result.payments - ref["payments"]).max() <= 1e-8 * scale


def test_eisenberg_noe_exact_on_every_namespace(ns):
    liabilities, external = mostly_defaulting(2)  # Picard alone stopped 6e-8 away
    ref = clearing_loop(liabilities, external)
    result = eisenberg_noe(ns.put(liabilities), ns.put(external), max_iter=10**5)
    assert bool(ns.get(result.converged))
    scale = liabilities.sum(axis=1).max()
    assert np.abs(ns.get(result.payments) - ref["payments"]).max() <= 1e-8 * scale


def test_eisenberg_noe_exact_next_to_a_singular_world():
    # world 0: a closed ring of two defaulters without external assets (a singular system, on
    # which NumPy's batched solve raises); world 1 must still be finished exactly
    slow, external = mostly_defaulting(2)
    n = slow.shape[0]
    ring = np.zeros((n, n))
    ring[1, 2], ring[2, 1] = 1.0, 2.0
    liabilities = np.stack([ring, slow])
    externals = np.stack([np.zeros(n), external])
    result = eisenberg_noe(liabilities, externals, max_iter=10**5)
    assert np.all(result.converged)
    ref = clearing_loop(slow, external)
    assert np.abs(result.payments[1] - ref["payments"]).max() <= 1e-8 * slow.sum(axis=1).max()
    assert np.all(np.isfinite(result.payments[0]))
