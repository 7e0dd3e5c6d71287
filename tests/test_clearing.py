"""Eisenberg–Noe / Rogers–Veraart clearing: kernel vs the fictitious-default reference, properties.

The kernel (``kernels.clearing.eisenberg_noe``) runs a batched Picard iteration from ``p = pbar``;
the reference (``tests.reference.clearing.clearing_loop``) solves linear systems for growing
default sets, one world at a time. Both must find the greatest clearing vector.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kernels.clearing import ClearingResult, eisenberg_noe
from tests.conftest import tolerance
from tests.reference.clearing import clearing_loop

# ---------------------------------------------------------------------------------------------
# instances


def random_network(
    rng: np.random.Generator,
    n: int,
    density: float,
    *,
    solvency: tuple[float, float] = (0.0, 1.2),
    zero_rows: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Liabilities (n, n) with the given density and external assets as a share of obligations."""
    liabilities = rng.uniform(0.1, 1.0, (n, n)) * (rng.random((n, n)) < density)
    liabilities *= rng.uniform(0.2, 2.0, (n, 1))  # some owe far more than they are owed
    np.fill_diagonal(liabilities, 0.0)
    if zero_rows:
        liabilities[rng.random(n) < zero_rows, :] = 0.0
    owed = liabilities.sum(axis=1)
    external = owed * rng.uniform(*solvency, n) + 0.05 * rng.random(n)
    return liabilities, external


def margin(liabilities, external, payments) -> float:
    """Smallest distance of any indebted institution from its default boundary at ``payments``."""
    owed = liabilities.sum(axis=-1)
    relative = np.divide(
        liabilities, owed[..., None], out=np.zeros_like(liabilities), where=owed[..., None] > 0
    )
    received = np.einsum("...j,...ji->...i", payments, relative)
    gap = np.abs(external + received - owed)[owed > 0]
    return float(gap.min(initial=np.inf))


def safe_instance(seed: int, n: int, density: float, dtype, *, costs=(1.0, 1.0), **kwargs):
    """A random instance (cast to ``dtype``) whose reference answer is not near a default boundary.

    Near the boundary float32 rounding may flip a default, which Rogers–Veraart turns into a jump
    of the payments; such instances test rounding, not clearing, and are skipped over.
    """
    for attempt in itertools.count():
        rng = np.random.default_rng([seed, attempt])
        liabilities, external = random_network(rng, n, density, **kwargs)
        liabilities = liabilities.astype(dtype)
        external = external.astype(dtype)
        alpha, beta = (c(rng) if callable(c) else c for c in costs)
        alpha = np.asarray(alpha, dtype=dtype)
        beta = np.asarray(beta, dtype=dtype)
        ref = clearing_loop(
            liabilities, external, default_cost_external=alpha, default_cost_interbank=beta
        )
        scale = float(liabilities.sum(axis=1).max(initial=0.0)) + 1.0
        if (
            margin(liabilities.astype(float), external.astype(float), ref["payments"])
            > 1e-3 * scale
        ):
            return liabilities, external, alpha, beta, ref
        assert attempt < 200, "no instance away from the default boundary"
    raise AssertionError  # unreachable


def check_types(ns, dtype, result: ClearingResult) -> None:
    ns.check(result.payments, dtype)
    ns.check(result.owed, dtype)
    ns.check(result.received, dtype)
    ns.check(result.defaulted, np.bool_)
    ns.check(result.converged, np.bool_)
    assert isinstance(result.iterations, int)


def assert_matches(ns, dtype, result: ClearingResult, ref: dict, liabilities) -> None:
    """Compare one world of the kernel's result (already on the host) with the reference."""
    tol = tolerance(dtype)
    scale = float(np.asarray(liabilities, dtype=float).sum(axis=-1).max(initial=0.0)) + 1.0
    np.testing.assert_allclose(
        result["payments"], ref["payments"], rtol=tol["rtol"], atol=tol["atol"] * scale
    )
    np.testing.assert_allclose(result["owed"], ref["owed"], rtol=tol["rtol"], atol=tol["atol"])
    np.testing.assert_allclose(
        result["received"], ref["received"], rtol=tol["rtol"], atol=tol["atol"] * scale
    )
    np.testing.assert_array_equal(result["defaulted"], ref["defaulted"])


def host(ns, result: ClearingResult) -> dict:
    return {
        "payments": ns.get(result.payments),
        "defaulted": ns.get(result.defaulted),
        "converged": ns.get(result.converged),
        "owed": ns.get(result.owed),
        "received": ns.get(result.received),
    }


def world(values: dict, index: tuple) -> dict:
    return {k: v[index] for k, v in values.items() if k != "converged"}


# ---------------------------------------------------------------------------------------------
# oracle tests


METHODS = ["picard", "fictitious_default"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", [1, 5, 40])
@pytest.mark.parametrize("density", [0.1, 1.0], ids=["sparse", "dense"])
def test_eisenberg_noe_matches_reference(ns, dtype, n, density, method):
    liabilities, external, _, _, ref = safe_instance(10 + n, n, density, dtype)
    result = eisenberg_noe(ns.put(liabilities), ns.put(external), method=method)
    check_types(ns, dtype, result)
    out = host(ns, result)
    assert out["converged"].shape == ()
    assert bool(out["converged"])
    assert_matches(ns, dtype, result=out, ref=ref, liabilities=liabilities)
    if n == 40:  # the instance is interesting: some default, some do not
        assert 0 < ref["defaulted"].sum() < n


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("density", [0.1, 1.0], ids=["sparse", "dense"])
@pytest.mark.parametrize("costs", ["scalar", "per_node"])
def test_rogers_veraart_matches_reference(ns, dtype, density, costs, method):
    if costs == "scalar":
        cost_draw = (0.6, 0.8)
    else:
        cost_draw = (lambda rng: rng.uniform(0.3, 1.0, 30), lambda rng: rng.uniform(0.3, 1.0, 30))
    liabilities, external, alpha, beta, ref = safe_instance(
        7, 30, density, dtype, costs=cost_draw, solvency=(0.0, 0.8)
    )
    assert ref["defaulted"].any()
    put_cost = (lambda c: float(c)) if costs == "scalar" else ns.put
    result = eisenberg_noe(
        ns.put(liabilities),
        ns.put(external),
        default_cost_external=put_cost(alpha),
        default_cost_interbank=put_cost(beta),
        method=method,
    )
    check_types(ns, dtype, result)
    out = host(ns, result)
    assert bool(out["converged"])
    assert_matches(ns, dtype, result=out, ref=ref, liabilities=liabilities)
    # default costs really bite: the Eisenberg–Noe answer is different
    en = clearing_loop(liabilities, external)
    assert not np.allclose(en["payments"], ref["payments"])


def safe_external(rng, liabilities, dtype, solvency=(0.0, 1.3)) -> np.ndarray:
    """External assets for a given network, away from every default boundary (see above)."""
    owed = liabilities.astype(float).sum(axis=1)
    scale = float(owed.max(initial=0.0)) + 1.0
    for _ in range(200):
        external = owed * rng.uniform(*solvency, owed.shape[0]) + 0.05 * rng.random(owed.shape[0])
        external = external.astype(dtype)
        ref = clearing_loop(liabilities, external)
        if (
            margin(liabilities.astype(float), external.astype(float), ref["payments"])
            > 1e-3 * scale
        ):
            return external
    raise AssertionError("no external assets away from the default boundary")


def batched_instances(dtype, batch: tuple[int, ...], n: int, *, shared: bool, seed: int):
    """Stack independent safe instances; with ``shared`` one liabilities matrix for all."""
    rng = np.random.default_rng(seed)
    base, _, _, _, _ = safe_instance(seed, n, 0.3, dtype)
    liabilities = []
    external = []
    for k in range(int(np.prod(batch))):
        if shared:
            liabilities.append(base)
            external.append(safe_external(rng, base, dtype))
        else:
            lia, ext, _, _, _ = safe_instance(seed * 100 + k, n, rng.choice([0.1, 0.5, 1.0]), dtype)
            liabilities.append(lia)
            external.append(ext)
    liabilities = np.stack(liabilities).reshape(*batch, n, n)
    external = np.stack(external).reshape(*batch, n)
    return (base if shared else liabilities), external, liabilities


@pytest.mark.parametrize(
    ("batch", "shared"),
    [((4,), False), ((2, 3), False), ((4,), True), ((2, 3), True)],
    ids=["E4", "lead2x3", "shared_E4", "shared_2x3"],
)
def test_batched_matches_reference(ns, dtype, batch, shared):
    n = 12
    given_liabilities, external, liabilities = batched_instances(
        dtype, batch, n, shared=shared, seed=3
    )
    result = eisenberg_noe(ns.put(given_liabilities), ns.put(external))
    check_types(ns, dtype, result)
    out = host(ns, result)
    assert out["payments"].shape == (*batch, n)
    assert out["defaulted"].shape == (*batch, n)
    assert out["converged"].shape == batch
    assert out["converged"].all()
    for index in np.ndindex(*batch):
        ref = clearing_loop(liabilities[index], external[index])
        assert_matches(ns, dtype, world(out, index), ref, liabilities[index])


def test_batched_per_node_costs(ns, dtype):
    """Batched worlds, one liabilities matrix, per-world per-node default costs."""
    rng = np.random.default_rng(11)
    n, worlds = 8, 4
    liabilities, _, _, _, _ = safe_instance(11, n, 0.5, dtype)
    owed = liabilities.sum(axis=1)
    external = (owed * rng.uniform(0.2, 1.1, (worlds, n))).astype(dtype)
    alpha = rng.uniform(0.4, 1.0, (worlds, n)).astype(dtype)
    beta = rng.uniform(0.4, 1.0, (1, n)).astype(dtype)
    result = eisenberg_noe(
        ns.put(liabilities),
        ns.put(external),
        default_cost_external=ns.put(alpha),
        default_cost_interbank=ns.put(beta),
    )
    check_types(ns, dtype, result)
    out = host(ns, result)
    assert out["converged"].all()
    tol = tolerance(dtype)
    for k in range(worlds):
        ref = clearing_loop(
            liabilities,
            external[k],
            default_cost_external=alpha[k],
            default_cost_interbank=beta[0],
        )
        scale = float(owed.max()) + 1.0
        if margin(liabilities.astype(float), external[k].astype(float), ref["payments"]) < 1e-3:
            continue  # too close to a boundary for float32; the other worlds still count
        np.testing.assert_allclose(
            out["payments"][k], ref["payments"], rtol=tol["rtol"], atol=tol["atol"] * scale
        )
        np.testing.assert_array_equal(out["defaulted"][k], ref["defaulted"])


def test_everyone_defaults(ns, dtype):
    """No external assets and a sink creditor: every institution that owes something defaults.

    Institutions 0..n-2 owe each other in a dense web and each also owes the outside creditor
    n-1 (which owes nothing). With no external assets the money that leaks to the sink is never
    replaced, so the only clearing vector is zero.
    """
    rng = np.random.default_rng(5)
    n = 10
    liabilities = np.zeros((n, n))
    liabilities[: n - 1, : n - 1] = rng.uniform(0.5, 1.0, (n - 1, n - 1))
    np.fill_diagonal(liabilities, 0.0)
    liabilities[: n - 1, n - 1] = rng.uniform(2.0, 4.0, n - 1)
    liabilities = liabilities.astype(dtype)
    external = np.zeros(n, dtype=dtype)
    ref = clearing_loop(liabilities, external)
    result = eisenberg_noe(ns.put(liabilities), ns.put(external))
    check_types(ns, dtype, result)
    out = host(ns, result)
    assert bool(out["converged"])
    expected = np.r_[np.ones(n - 1, bool), False]
    np.testing.assert_array_equal(ref["defaulted"], expected)
    np.testing.assert_array_equal(out["defaulted"], expected)
    assert_matches(ns, dtype, out, ref, liabilities)
    np.testing.assert_allclose(out["payments"], 0.0, atol=tolerance(dtype)["atol"] * 40)


def test_everyone_defaults_in_a_cycle_with_default_costs(ns, dtype):
    """A ring with small external assets under Rogers–Veraart costs: all default, all pay less."""
    n = 6
    liabilities = np.zeros((n, n), dtype=dtype)
    for i in range(n):
        liabilities[i, (i + 1) % n] = 1.0 + 0.1 * i
    external = np.full(n, 0.05, dtype=dtype)
    alpha, beta = 0.5, 0.5
    ref = clearing_loop(
        liabilities, external, default_cost_external=alpha, default_cost_interbank=beta
    )
    assert ref["defaulted"].all()
    result = eisenberg_noe(
        ns.put(liabilities),
        ns.put(external),
        default_cost_external=alpha,
        default_cost_interbank=beta,
    )
    check_types(ns, dtype, result)
    out = host(ns, result)
    assert bool(out["converged"])
    assert out["defaulted"].all()
    assert_matches(ns, dtype, out, ref, liabilities)


def test_nobody_defaults(ns, dtype):
    rng = np.random.default_rng(8)
    n = 20
    liabilities, _ = random_network(rng, n, 0.3)
    liabilities = liabilities.astype(dtype)
    external = (liabilities.sum(axis=1) + 1.0).astype(dtype)  # enough on its own
    result = eisenberg_noe(
        ns.put(liabilities), ns.put(external), default_cost_external=0.5, default_cost_interbank=0.5
    )
    check_types(ns, dtype, result)
    out = host(ns, result)
    assert bool(out["converged"])
    assert result.iterations == 1
    assert not out["defaulted"].any()
    np.testing.assert_allclose(out["payments"], liabilities.sum(axis=1), **tolerance(dtype))
    np.testing.assert_allclose(out["received"], liabilities.sum(axis=0), **tolerance(dtype))


def test_zero_liability_rows(ns, dtype):
    """Institutions that owe nothing pay nothing, never default, and still receive."""
    liabilities, external, _, _, ref = safe_instance(21, 15, 0.4, dtype, zero_rows=0.4)
    owed = liabilities.sum(axis=1)
    assert (owed == 0).any() and (owed > 0).any()
    result = eisenberg_noe(ns.put(liabilities), ns.put(external))
    check_types(ns, dtype, result)
    out = host(ns, result)
    assert bool(out["converged"])
    assert_matches(ns, dtype, out, ref, liabilities)
    zero = owed == 0
    np.testing.assert_array_equal(out["payments"][zero], 0.0)
    assert not out["defaulted"][zero].any()
    assert (out["received"][zero] > 0).any()


def test_no_liabilities_at_all(ns, dtype):
    liabilities = np.zeros((2, 4, 4), dtype=dtype)
    external = np.ones((2, 4), dtype=dtype)
    result = eisenberg_noe(ns.put(liabilities), ns.put(external))
    check_types(ns, dtype, result)
    out = host(ns, result)
    np.testing.assert_array_equal(out["payments"], 0.0)
    assert not out["defaulted"].any()
    assert out["converged"].all()


def test_single_world_shapes_and_python_scalars(ns, dtype):
    """N = 1 (nobody to owe) and scalar costs give 0-d ``converged`` and (1,) payments."""
    result = eisenberg_noe(
        ns.put(np.zeros((1, 1), dtype=dtype)),
        ns.put(np.array([3.0], dtype=dtype)),
        default_cost_external=0.5,
    )
    check_types(ns, dtype, result)
    assert tuple(result.payments.shape) == (1,)
    assert tuple(result.converged.shape) == ()
    assert bool(ns.get(result.converged))


def test_small_example_by_hand(ns, dtype):
    """Three banks in a ring, 0 -> 1 -> 2 -> 0, each owing 2; bank 2 has external assets 1.

    The ring clears in full. When bank 1 owes 3 instead, it receives only 2: it defaults and
    passes on what it receives (Eisenberg–Noe), so bank 2 still gets 2 and everyone pays 2. With
    an interbank default cost (beta = 1/2) bank 1 passes on 1; bank 2 has 1 + 1 = 2 and stays
    solvent, so payments are (2, 1, 2).
    """
    liabilities = np.array([[0, 2, 0], [0, 0, 2], [2, 0, 0]], dtype=dtype)
    external = np.array([0, 0, 1], dtype=dtype)
    out = host(ns, eisenberg_noe(ns.put(liabilities), ns.put(external)))
    np.testing.assert_allclose(out["payments"], [2, 2, 2])
    assert not out["defaulted"].any()

    liabilities[1, 2] = 3
    out = host(ns, eisenberg_noe(ns.put(liabilities), ns.put(external)))
    np.testing.assert_allclose(out["payments"], [2, 2, 2], **tolerance(dtype))
    np.testing.assert_array_equal(out["defaulted"], [False, True, False])

    out = host(
        ns,
        eisenberg_noe(ns.put(liabilities), ns.put(external), default_cost_interbank=0.5),
    )
    np.testing.assert_allclose(out["payments"], [2, 1, 2], **tolerance(dtype))
    np.testing.assert_array_equal(out["defaulted"], [False, True, False])


# ---------------------------------------------------------------------------------------------
# convergence, order and batch independence


def chain(n: int, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """0 owes 1 owes 2 ... owes n-1, 1 each; external assets 0.2 at 0 and 0.1 elsewhere.

    Institution 0 is short, and each next one too once its debtor pays less: the shortfall
    travels one link per Picard iteration, so clearing needs about n iterations.
    """
    liabilities = np.zeros((n, n), dtype=dtype)
    for i in range(n - 1):
        liabilities[i, i + 1] = 1.0
    external = np.zeros(n, dtype=dtype)
    external[0] = 0.2
    external[1:] = 0.1
    return liabilities, external


def test_forced_non_convergence_is_reported(ns, dtype):
    liabilities, external = chain(8, dtype)
    full = eisenberg_noe(ns.put(liabilities), ns.put(external))
    assert bool(ns.get(full.converged))
    assert full.iterations >= 6
    ref = clearing_loop(liabilities, external)
    assert_matches(ns, dtype, host(ns, full), ref, liabilities)

    one = eisenberg_noe(ns.put(liabilities), ns.put(external), max_iter=1)
    check_types(ns, dtype, one)
    assert not bool(ns.get(one.converged))
    assert one.iterations == 1
    # Picard from above: an unfinished answer never lies below the greatest clearing vector
    assert (ns.get(one.payments) >= ref["payments"] - 1e-6).all()

    three = eisenberg_noe(ns.put(liabilities), ns.put(external), max_iter=3, check_every=8)
    assert three.iterations == 3
    assert not bool(ns.get(three.converged))


def test_non_convergence_is_per_world(ns, dtype):
    """A world without defaults converges at once; a slow one with max_iter=2 does not."""
    liabilities, external = chain(8, dtype)
    rich = external + 10.0
    result = eisenberg_noe(ns.put(liabilities), ns.put(np.stack([external, rich])), max_iter=2)
    np.testing.assert_array_equal(ns.get(result.converged), [False, True])
    assert result.iterations == 2


def test_check_every_only_changes_when_the_host_looks(ns, dtype):
    """Convergence is decided every iteration on the device; ``check_every`` is only how often
    the host asks, so the answer and the iteration count do not depend on it."""
    liabilities, external = chain(12, dtype)
    results = [
        eisenberg_noe(ns.put(liabilities), ns.put(external), check_every=k) for k in (1, 3, 8, 50)
    ]
    for other in results[1:]:
        assert other.iterations == results[0].iterations
        np.testing.assert_array_equal(ns.get(other.payments), ns.get(results[0].payments))


@pytest.mark.parametrize("seed", [0, 1])
def test_order_independence(ns, dtype, seed):
    liabilities, external, alpha, _, _ = safe_instance(
        40 + seed, 25, 0.2, dtype, costs=(lambda rng: rng.uniform(0.5, 1.0, 25), 0.7)
    )
    perm = np.random.default_rng(seed).permutation(25)
    kwargs = {"default_cost_interbank": 0.7}
    base = host(
        ns,
        eisenberg_noe(
            ns.put(liabilities), ns.put(external), default_cost_external=ns.put(alpha), **kwargs
        ),
    )
    shuffled = host(
        ns,
        eisenberg_noe(
            ns.put(liabilities[perm][:, perm]),
            ns.put(external[perm]),
            default_cost_external=ns.put(alpha[perm]),
            **kwargs,
        ),
    )
    tol = tolerance(dtype)
    scale = float(liabilities.sum(axis=1).max()) + 1.0
    for key in ("payments", "received", "owed"):
        np.testing.assert_allclose(
            shuffled[key], base[key][perm], rtol=tol["rtol"], atol=tol["atol"] * scale
        )
    np.testing.assert_array_equal(shuffled["defaulted"], base["defaulted"][perm])


def test_batch_independence(ns, dtype):
    """A world's answer does not depend on the worlds batched with it (fast or slow)."""
    slow_l, slow_e = chain(12, dtype)
    rng = np.random.default_rng(2)
    fast_l, fast_e = random_network(rng, 12, 0.3, solvency=(1.5, 2.0))
    mid_l, mid_e, _, _, _ = safe_instance(9, 12, 0.5, dtype)
    liabilities = np.stack([slow_l, fast_l.astype(dtype), mid_l])
    external = np.stack([slow_e, fast_e.astype(dtype), mid_e])
    batch = host(ns, eisenberg_noe(ns.put(liabilities), ns.put(external)))
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    for k in range(3):
        alone = host(ns, eisenberg_noe(ns.put(liabilities[k]), ns.put(external[k])))
        for key in ("payments", "received"):
            np.testing.assert_allclose(batch[key][k], alone[key], rtol=rtol, atol=rtol)
        np.testing.assert_array_equal(batch["defaulted"][k], alone["defaulted"])
        assert bool(batch["converged"][k]) == bool(alone["converged"])


def test_inputs_are_not_modified(dtype):
    liabilities, external, _, _, _ = safe_instance(3, 10, 0.5, dtype)
    before = (liabilities.copy(), external.copy())
    eisenberg_noe(liabilities, external, default_cost_external=0.5)
    np.testing.assert_array_equal(liabilities, before[0])
    np.testing.assert_array_equal(external, before[1])


# ---------------------------------------------------------------------------------------------
# properties (hypothesis, NumPy float64)


@st.composite
def networks(draw, max_n: int = 8):
    """A liability network: hypothesis picks the size, the pattern of links (including empty
    rows and columns) and how rich each institution is; the amounts come from a seeded RNG so
    that they are generic (no exact ties on a default boundary)."""
    n = draw(st.integers(1, max_n))
    links = draw(arrays(np.bool_, (n, n)))
    rich = draw(arrays(np.float64, (n,), elements=st.floats(0.0, 1.5)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    liabilities = rng.uniform(0.1, 10.0, (n, n)) * links
    np.fill_diagonal(liabilities, 0.0)
    external = liabilities.sum(axis=1) * rich * rng.uniform(0.9, 1.1, n)
    return liabilities, external, rng


def clearing_map(liabilities, external, payments, alpha=1.0, beta=1.0):
    """One application of the clearing map, and each institution's distance from the boundary."""
    owed = liabilities.sum(axis=-1)
    relative = np.divide(
        liabilities, owed[..., None], out=np.zeros_like(liabilities), where=owed[..., None] > 0
    )
    received = payments @ relative
    solvent = external + received >= owed
    pays = np.where(solvent, owed, np.clip(alpha * external + beta * received, 0.0, None))
    return np.minimum(pays, owed), np.abs(external + received - owed)


SETTINGS = settings(max_examples=40, deadline=None)
costs = st.floats(0.0, 1.0)


@SETTINGS
@given(networks(), costs, costs)
def test_payments_between_zero_and_owed(net, alpha, beta):
    liabilities, external, _ = net
    result = eisenberg_noe(
        liabilities, external, default_cost_external=alpha, default_cost_interbank=beta
    )
    # (converged or not: Picard from above stays within the bounds at every iteration)
    owed = liabilities.sum(axis=1)
    assert (result.payments >= 0.0).all()
    assert (result.payments <= owed).all()
    np.testing.assert_allclose(result.owed, owed)


@SETTINGS
@given(networks(), costs, costs)
def test_fixed_point_equation_holds(net, alpha, beta):
    liabilities, external, _ = net
    result = eisenberg_noe(
        liabilities, external, default_cost_external=alpha, default_cost_interbank=beta
    )
    assume(bool(result.converged))  # near-closed cycles with beta ~ 1 may need > max_iter
    scale = liabilities.sum(axis=1).max(initial=0.0) + 1.0
    image, gap = clearing_map(liabilities, external, result.payments, alpha, beta)
    clear = gap > 1e-7 * scale  # Rogers–Veraart jumps at the boundary; skip rounding ties
    np.testing.assert_allclose(result.payments[clear], image[clear], rtol=0, atol=1e-7 * scale)
    np.testing.assert_array_equal(
        result.defaulted[clear], (external + result.received < result.owed)[clear]
    )
    # the reported defaults are those that pay less than they owe
    short = result.payments < result.owed - 1e-7 * scale
    assert not (short & ~result.defaulted).any()


@SETTINGS
@given(networks())
def test_eisenberg_noe_matches_reference_everywhere(net):
    liabilities, external, _ = net
    external = external + 0.01  # strictly positive: the reference's linear systems are regular
    result = eisenberg_noe(liabilities, external)
    assume(bool(result.converged))
    ref = clearing_loop(liabilities, external)
    scale = liabilities.sum(axis=1).max(initial=0.0) + 1.0
    np.testing.assert_allclose(result.payments, ref["payments"], rtol=0, atol=1e-8 * scale)
    _, gap = clearing_map(liabilities, external, ref["payments"])
    clear = gap > 1e-7 * scale
    np.testing.assert_array_equal(result.defaulted[clear], ref["defaulted"][clear])


@SETTINGS
@given(networks(), costs, costs, st.floats(0.0, 1.0))
def test_monotone_in_external_assets(net, alpha, beta, cut):
    liabilities, external, rng = net
    lower = external * (1.0 - cut * rng.random(external.shape))
    kwargs = {"default_cost_external": alpha, "default_cost_interbank": beta}
    high = eisenberg_noe(liabilities, external, **kwargs)
    low = eisenberg_noe(liabilities, lower, **kwargs)
    scale = liabilities.sum(axis=1).max(initial=0.0) + 1.0
    assert (low.payments <= high.payments + 1e-8 * scale).all()
    # defaults only spread: whoever is clearly short in the rich world is short in the poor one
    clearly_short = high.owed - external - high.received > 1e-7 * scale
    assert (low.defaulted | ~clearly_short).all()


@SETTINGS
@given(networks(), costs, costs)
def test_rogers_veraart_below_eisenberg_noe(net, alpha, beta):
    liabilities, external, _ = net
    en = eisenberg_noe(liabilities, external)
    rv = eisenberg_noe(
        liabilities, external, default_cost_external=alpha, default_cost_interbank=beta
    )
    scale = liabilities.sum(axis=1).max(initial=0.0) + 1.0
    assert (rv.payments <= en.payments + 1e-8 * scale).all()
    clearly_short = en.owed - external - en.received > 1e-7 * scale
    assert (rv.defaulted | ~clearly_short).all()


@SETTINGS
@given(networks())
def test_rogers_veraart_without_costs_is_eisenberg_noe(net):
    liabilities, external, _ = net
    n = external.shape[0]
    en = eisenberg_noe(liabilities, external)
    rv = eisenberg_noe(
        liabilities, external, default_cost_external=np.ones(n), default_cost_interbank=np.ones(n)
    )
    for a, b in zip(en, rv, strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# input validation


@pytest.mark.parametrize(
    ("liabilities_shape", "external_shape", "name"),
    [
        ((4,), (4,), "liabilities"),
        ((4, 3), (4,), "liabilities"),
        ((2, 4, 5), (2, 4), "liabilities"),
        ((4, 4), (3,), "external_assets"),
        ((4, 4), (), "external_assets"),
        ((2, 4, 4), (2, 5), "external_assets"),
    ],
)
def test_wrong_shapes_name_the_argument(ns, liabilities_shape, external_shape, name):
    with pytest.raises(ValueError, match=name):
        eisenberg_noe(
            ns.put(np.ones(liabilities_shape)), ns.put(np.ones(external_shape, dtype=float))
        )


@pytest.mark.parametrize("kwargs", [{"max_iter": 0}, {"check_every": 0}])
def test_bad_iteration_limits(kwargs):
    with pytest.raises(ValueError, match=f"{next(iter(kwargs))} must be an integer >= 1"):
        eisenberg_noe(np.ones((3, 3)), np.ones(3), **kwargs)


def test_batch_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match="broadcast"):
        eisenberg_noe(np.ones((3, 4, 4)), np.ones((2, 4)))


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        ((np.ones((3, 4, 4)), np.ones((2, 4))), {}, "external_assets"),
        ((np.ones((4, 4)), np.ones(4)), {"default_cost_external": np.ones(5)}, "default_cost"),
    ],
    ids=["batch", "cost"],
)
def test_mismatched_shapes_name_the_argument(args, kwargs, name):
    with pytest.raises(ValueError, match=name):
        eisenberg_noe(*args, **kwargs)


def test_result_dtype_follows_liabilities():
    liabilities = np.array([[0, 2, 1], [1, 0, 3], [2, 2, 0]], dtype=np.float32)
    result = eisenberg_noe(liabilities, np.array([0.5, 1.0, 0.2]))
    assert result.payments.dtype == np.float32
    assert result.received.dtype == np.float32


@pytest.mark.parametrize("cost", [-0.1, 1.5, np.array([0.5, 0.5, 2.0])])
def test_default_costs_outside_unit_interval_are_rejected(cost):
    with pytest.raises(ValueError, match=r"default_cost_external must lie in \[0, 1\]"):
        eisenberg_noe(np.ones((3, 3)), np.ones(3), default_cost_external=cost)


def test_slow_cycle_needs_the_exact_method(ns):
    # a nearly closed ring of two defaulters with beta close to 1: Picard shrinks the payments
    # by a factor 0.984 per iteration and is still moving after 1000 iterations, and says so
    liabilities = np.array([[0.0, 2.77], [0.51, 0.0]])
    external = np.zeros(2)
    costs = {"default_cost_external": 0.0, "default_cost_interbank": 0.984}
    slow = eisenberg_noe(ns.put(liabilities), ns.put(external), **costs)
    assert not bool(ns.get(slow.converged))
    assert slow.iterations == 1000
    exact = eisenberg_noe(
        ns.put(liabilities), ns.put(external), **costs, method="fictitious_default"
    )
    assert bool(ns.get(exact.converged))
    assert exact.iterations <= 3
    ref = clearing_loop(liabilities, external, **costs)
    np.testing.assert_allclose(ns.get(exact.payments), ref["payments"], atol=1e-12)


@SETTINGS
@given(networks(), costs, costs)
def test_fictitious_default_always_converges_to_the_reference(net, alpha, beta):
    liabilities, external, _ = net
    external = external + 0.01  # strictly positive: the reference's linear systems are regular
    result = eisenberg_noe(
        liabilities,
        external,
        default_cost_external=alpha,
        default_cost_interbank=beta,
        method="fictitious_default",
    )
    n = liabilities.shape[-1]
    assert bool(result.converged)
    assert result.iterations <= n + 2
    ref = clearing_loop(
        liabilities, external, default_cost_external=alpha, default_cost_interbank=beta
    )
    scale = liabilities.sum(axis=1).max(initial=0.0) + 1.0
    np.testing.assert_allclose(result.payments, ref["payments"], rtol=0, atol=1e-9 * scale)


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="method must be one of picard, fictitious_default"):
        eisenberg_noe(np.ones((2, 2)), np.ones(2), method="newton")
