"""DebtRank (linear and original): kernel vs the per-node reference, properties, amplification."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kernels.debtrank import DebtRankResult, debtrank
from tests.conftest import tolerance
from tests.reference.debtrank import debtrank_loop

# ---------------------------------------------------------------------------------------------
# instances and helpers


def random_instance(
    rng: np.random.Generator,
    n: int,
    density: float,
    *,
    row_sum: float = 0.6,
    failed: float = 0.0,
    shocked: float = 0.3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exposures W, equity E and a shock, with impacts ``Lambda = W / E`` whose rows sum to about
    ``row_sum`` (so the spectral radius is about ``row_sum`` on a dense network)."""
    impact = rng.uniform(0.1, 1.0, (n, n)) * (rng.random((n, n)) < density)
    np.fill_diagonal(impact, 0.0)
    sums = impact.sum(axis=1, keepdims=True)
    impact = np.divide(impact, sums, out=np.zeros_like(impact), where=sums > 0)
    impact *= row_sum * rng.uniform(0.5, 1.5, (n, 1))
    equity = rng.uniform(1.0, 10.0, n)
    exposures = impact * equity[:, None]
    down = rng.random(n) < failed
    equity[down] = -rng.uniform(0.0, 2.0, down.sum())  # already failed: equity <= 0
    shock = rng.uniform(0.0, 1.0, n) * (rng.random(n) < shocked)
    if n > 1 and not shock.any():
        shock[0] = 0.5
    return exposures, equity, shock


def check_types(ns, dtype, result: DebtRankResult) -> None:
    ns.check(result.distress, dtype)
    ns.check(result.loss, dtype)
    ns.check(result.converged, np.bool_)
    assert isinstance(result.iterations, int)


def run(ns, exposures, equity, shock, **kwargs) -> tuple[DebtRankResult, dict]:
    result = debtrank(ns.put(exposures), ns.put(equity), ns.put(shock), **kwargs)
    return result, {
        "distress": ns.get(result.distress),
        "loss": ns.get(result.loss),
        "converged": ns.get(result.converged),
    }


def assert_matches(dtype, distress, loss, ref, equity) -> None:
    tol = tolerance(dtype)
    np.testing.assert_allclose(distress, ref["distress"], **tol)
    scale = float(np.maximum(np.asarray(equity, dtype=float), 0.0).sum()) + 1.0
    np.testing.assert_allclose(loss, ref["loss"], rtol=tol["rtol"], atol=tol["atol"] * scale)


# ---------------------------------------------------------------------------------------------
# oracle tests


@pytest.mark.parametrize("linear", [True, False], ids=["linear", "original"])
@pytest.mark.parametrize("n", [1, 5, 40])
@pytest.mark.parametrize("density", [0.1, 1.0], ids=["sparse", "dense"])
def test_matches_reference(ns, dtype, linear, n, density):
    rng = np.random.default_rng([n, int(density * 10)])
    exposures, equity, shock = random_instance(rng, n, density, failed=0.1)
    exposures, equity, shock = (a.astype(dtype) for a in (exposures, equity, shock))
    ref = debtrank_loop(exposures, equity, shock, linear=linear)
    result, out = run(ns, exposures, equity, shock, linear=linear)
    check_types(ns, dtype, result)
    assert out["distress"].shape == (n,)
    assert out["loss"].shape == ()
    assert bool(out["converged"])
    assert_matches(dtype, out["distress"], out["loss"], ref, equity)
    if not linear:
        # one round per wave of newly distressed nodes, plus the round that finds none left
        assert ref["iterations"] <= result.iterations <= ref["iterations"] + 1


@pytest.mark.parametrize("linear", [True, False], ids=["linear", "original"])
@pytest.mark.parametrize("row_sum", [0.5, 2.5], ids=["subcritical", "supercritical"])
def test_matches_reference_regimes(ns, dtype, linear, row_sum):
    """Spectral radius below 1 (damped) and above 1 (saturating), with failed nodes."""
    rng = np.random.default_rng(int(row_sum * 10))
    exposures, equity, shock = random_instance(
        rng, 30, 0.2, row_sum=row_sum, failed=0.1, shocked=0.1
    )
    shock *= 0.2
    exposures, equity, shock = (a.astype(dtype) for a in (exposures, equity, shock))
    ref = debtrank_loop(exposures, equity, shock, linear=linear)
    result, out = run(ns, exposures, equity, shock, linear=linear)
    check_types(ns, dtype, result)
    assert bool(out["converged"])
    assert_matches(dtype, out["distress"], out["loss"], ref, equity)


def batched(rng, batch, n, *, shared: bool):
    if shared:
        exposures, equity, _ = random_instance(rng, n, 0.4, failed=0.1)
        shock = rng.uniform(0.0, 1.0, (*batch, n)) * (rng.random((*batch, n)) < 0.3)
        full = (
            np.broadcast_to(exposures, (*batch, n, n)),
            np.broadcast_to(equity, (*batch, n)),
            shock,
        )
        return (exposures, equity, shock), full
    densities = rng.choice([0.1, 0.5, 1.0], int(np.prod(batch)))
    parts = [random_instance(rng, n, d, failed=0.1) for d in densities]
    exposures = np.stack([p[0] for p in parts]).reshape(*batch, n, n)
    equity = np.stack([p[1] for p in parts]).reshape(*batch, n)
    shock = np.stack([p[2] for p in parts]).reshape(*batch, n)
    return (exposures, equity, shock), (exposures, equity, shock)


@pytest.mark.parametrize("linear", [True, False], ids=["linear", "original"])
@pytest.mark.parametrize(
    ("batch", "shared"),
    [((4,), False), ((2, 3), False), ((4,), True), ((2, 3), True)],
    ids=["E4", "lead2x3", "shared_E4", "shared_2x3"],
)
def test_batched_matches_reference(ns, dtype, linear, batch, shared):
    n = 10
    rng = np.random.default_rng(len(batch) + 10 * shared)
    given_arrays, full = batched(rng, batch, n, shared=shared)
    given_arrays = [a.astype(dtype) for a in given_arrays]
    full = [np.asarray(a, dtype=dtype) for a in full]
    result, out = run(ns, *given_arrays, linear=linear)
    check_types(ns, dtype, result)
    assert out["distress"].shape == (*batch, n)
    assert out["loss"].shape == batch
    assert out["converged"].shape == batch
    assert out["converged"].all()
    for index in np.ndindex(*batch):
        ref = debtrank_loop(*(a[index] for a in full), linear=linear)
        assert_matches(dtype, out["distress"][index], out["loss"][index], ref, full[1][index])


def test_hand_example_original_differs_from_linear(ns, dtype):
    """0 is shocked; 1 and 2 lose half of 0's distress, 1 half of 2's, 3 all of 1's.

    Linear: h = (1, 0.75, 0.5, 0.75): 1's late increase (via 2) reaches 3.
    Original: 1 was distressed at 0.5 and propagated that once, so 3 ends at 0.5.
    """
    equity = np.ones(4, dtype=dtype)
    exposures = np.zeros((4, 4), dtype=dtype)
    exposures[1, 0] = exposures[2, 0] = exposures[1, 2] = 0.5
    exposures[3, 1] = 1.0
    shock = np.array([1.0, 0, 0, 0], dtype=dtype)
    _, lin = run(ns, exposures, equity, shock, linear=True)
    result, orig = run(ns, exposures, equity, shock, linear=False)
    np.testing.assert_allclose(lin["distress"], [1, 0.75, 0.5, 0.75], **tolerance(dtype))
    np.testing.assert_allclose(orig["distress"], [1, 0.75, 0.5, 0.5], **tolerance(dtype))
    np.testing.assert_allclose(lin["loss"], 3.0, **tolerance(dtype))
    np.testing.assert_allclose(orig["loss"], 2.75, **tolerance(dtype))
    assert result.iterations == 4  # waves {0}, {1, 2}, {3}, then none


def test_original_caps_impacts_at_one(ns, dtype):
    """An exposure of twice the creditor's equity: linear impact 2, original impact min(1, 2)."""
    exposures = np.array([[0.0, 0.0], [4.0, 0.0]], dtype=dtype)
    equity = np.array([1.0, 2.0], dtype=dtype)
    shock = np.array([0.3, 0.0], dtype=dtype)
    _, lin = run(ns, exposures, equity, shock, linear=True)
    _, orig = run(ns, exposures, equity, shock, linear=False)
    np.testing.assert_allclose(lin["distress"], [0.3, 0.6], **tolerance(dtype))
    np.testing.assert_allclose(orig["distress"], [0.3, 0.3], **tolerance(dtype))


@pytest.mark.parametrize("linear", [True, False], ids=["linear", "original"])
def test_failed_institutions(ns, dtype, linear):
    """Non-positive equity: distress 1 from the start, nothing hits it, it counts 0 in the loss."""
    exposures = np.array(
        [[0.0, 1.0, 0.0], [5.0, 0.0, 0.0], [0.0, 2.0, 0.0]],
        dtype=dtype,
    )
    equity = np.array([4.0, -1.0, 0.0], dtype=dtype)  # 1 and 2 have failed
    shock = np.zeros(3, dtype=dtype)
    result, out = run(ns, exposures, equity, shock, linear=linear)
    check_types(ns, dtype, result)
    # 0 loses 1/4 of its equity when 1 fails; the exposures of 1 and 2 do not matter
    np.testing.assert_allclose(out["distress"], [0.25, 1.0, 1.0], **tolerance(dtype))
    np.testing.assert_allclose(out["loss"], 1.0, **tolerance(dtype))
    ref = debtrank_loop(exposures, equity, shock, linear=linear)
    assert_matches(dtype, out["distress"], out["loss"], ref, equity)


@pytest.mark.parametrize("linear", [True, False], ids=["linear", "original"])
def test_no_shock_no_loss(ns, dtype, linear):
    rng = np.random.default_rng(4)
    exposures, equity, _ = random_instance(rng, 12, 0.5)
    shock = np.zeros(12)
    result, out = run(
        ns, exposures.astype(dtype), equity.astype(dtype), shock.astype(dtype), linear=linear
    )
    check_types(ns, dtype, result)
    np.testing.assert_array_equal(out["distress"], 0.0)
    assert float(out["loss"]) == 0.0
    assert bool(out["converged"])
    assert result.iterations == 1


# ---------------------------------------------------------------------------------------------
# amplification


def strongly_connected(rng, n, row_sum_range):
    """A ring plus random links, rows of ``Lambda`` summing to a value in ``row_sum_range``."""
    impact = rng.uniform(0.1, 1.0, (n, n)) * (rng.random((n, n)) < 0.2)
    for i in range(n):
        impact[i, (i + 1) % n] = rng.uniform(0.5, 1.0)
    np.fill_diagonal(impact, 0.0)
    impact *= (rng.uniform(*row_sum_range, n) / impact.sum(axis=1))[:, None]
    equity = rng.uniform(1.0, 10.0, n)
    return impact * equity[:, None], equity, impact


def test_subcritical_amplification_is_bounded(ns, dtype):
    """rho(Lambda) < 1: h <= (I - Lambda)^-1 shock, with equality while nobody saturates."""
    rng = np.random.default_rng(12)
    n = 30
    exposures, equity, impact = strongly_connected(rng, n, (0.3, 0.8))
    assert max(abs(np.linalg.eigvals(impact))) < 1.0
    resolvent = np.linalg.inv(np.eye(n) - impact)
    tol = tolerance(dtype)
    for size in (0.01, 0.5, 1.0):  # small shocks stay linear; big ones saturate somewhere
        shock = np.zeros(n)
        shock[:3] = size
        bound = resolvent @ shock
        _, out = run(ns, exposures.astype(dtype), equity.astype(dtype), shock.astype(dtype))
        assert bool(out["converged"])
        assert (out["distress"] <= np.minimum(bound, 1.0) + tol["atol"]).all()
        assert out["loss"] <= equity @ bound * (1 + tol["rtol"]) + tol["atol"]
        if bound.max() < 1.0:
            np.testing.assert_allclose(out["distress"], bound, **tol)
        # loss / initial loss <= max_j (E^T R)_j / E_j, R = (I - Lambda)^-1 >= 0
        ratio = out["loss"] / (equity @ shock)
        assert 1.0 <= ratio <= (equity @ resolvent / equity).max() * (1 + tol["rtol"])


def test_supercritical_cascade_wipes_out_the_network(ns, dtype):
    """rho(Lambda) > 1 on a strongly connected network: a 1% hit on one node ends in total loss.

    With every row of Lambda summing to more than 1, the only fixed point of
    ``h = min(1, s + Lambda h)`` reachable from a non-zero shock is h = 1 everywhere.
    """
    rng = np.random.default_rng(13)
    n = 30
    exposures, equity, impact = strongly_connected(rng, n, (1.2, 2.0))
    assert max(abs(np.linalg.eigvals(impact))) > 1.0
    shock = np.zeros(n)
    shock[7] = 0.01
    _, out = run(ns, exposures.astype(dtype), equity.astype(dtype), shock.astype(dtype))
    assert bool(out["converged"])
    np.testing.assert_allclose(out["distress"], 1.0, **tolerance(dtype))
    initial = equity[7] * 0.01
    assert out["loss"] / initial > 1000
    np.testing.assert_allclose(out["loss"], equity.sum(), rtol=tolerance(dtype)["rtol"] * 10)
    # the original algorithm on the same network stops short: each node passes on its distress
    # only once, when it is first hit
    _, orig = run(
        ns, exposures.astype(dtype), equity.astype(dtype), shock.astype(dtype), linear=False
    )
    assert orig["loss"] < out["loss"]


# ---------------------------------------------------------------------------------------------
# convergence, order and batch independence


@pytest.mark.parametrize("linear", [True, False], ids=["linear", "original"])
def test_forced_non_convergence_is_reported(ns, dtype, linear):
    n = 10
    exposures = np.zeros((n, n), dtype=dtype)
    for i in range(1, n):
        exposures[i, i - 1] = 0.5  # a chain: distress travels one link per round
    equity = np.ones(n, dtype=dtype)
    shock = np.zeros(n, dtype=dtype)
    shock[0] = 1.0
    full, out = run(ns, exposures, equity, shock, linear=linear)
    assert bool(out["converged"])
    assert full.iterations >= n
    np.testing.assert_allclose(out["distress"], 0.5 ** np.arange(n), **tolerance(dtype))

    one, out1 = run(ns, exposures, equity, shock, linear=linear, max_iter=1)
    check_types(ns, dtype, one)
    assert not bool(out1["converged"])
    assert one.iterations == 1
    # an unfinished run has spread less, never more
    assert (out1["distress"] <= out["distress"] + 1e-6).all()

    # per world: one without a shock converges within the same budget
    both = debtrank(
        ns.put(exposures), ns.put(equity), ns.put(np.stack([shock, 0 * shock])), max_iter=3
    )
    np.testing.assert_array_equal(ns.get(both.converged), [False, True])
    assert both.iterations == 3


def test_original_always_converges_within_default_budget(ns):
    """The original algorithm ends in at most N + 1 rounds; the default max_iter is N + 2."""
    n = 15
    exposures = np.zeros((n, n))
    for i in range(1, n):
        exposures[i, i - 1] = 2.0  # longest possible wave: one new node per round
    result = debtrank(ns.put(exposures), ns.put(np.ones(n)), ns.put(np.eye(n)[0]), linear=False)
    assert bool(ns.get(result.converged))
    assert result.iterations == n + 1
    np.testing.assert_array_equal(ns.get(result.distress), 1.0)


@pytest.mark.parametrize("linear", [True, False], ids=["linear", "original"])
def test_check_every_only_changes_when_the_host_looks(ns, dtype, linear):
    rng = np.random.default_rng(23)
    arrays_in = [a.astype(dtype) for a in random_instance(rng, 15, 0.3, row_sum=0.8)]
    results = [run(ns, *arrays_in, linear=linear, check_every=k) for k in (1, 3, 8, 50)]
    for result, out in results[1:]:
        assert result.iterations == results[0][0].iterations
        np.testing.assert_array_equal(out["distress"], results[0][1]["distress"])


@pytest.mark.parametrize("linear", [True, False], ids=["linear", "original"])
def test_order_independence(ns, dtype, linear):
    rng = np.random.default_rng(21)
    n = 25
    exposures, equity, shock = random_instance(rng, n, 0.2, row_sum=1.2, failed=0.1)
    perm = rng.permutation(n)
    exposures, equity, shock = (a.astype(dtype) for a in (exposures, equity, shock))
    _, base = run(ns, exposures, equity, shock, linear=linear)
    _, shuffled = run(ns, exposures[perm][:, perm], equity[perm], shock[perm], linear=linear)
    tol = tolerance(dtype)
    np.testing.assert_allclose(shuffled["distress"], base["distress"][perm], **tol)
    np.testing.assert_allclose(shuffled["loss"], base["loss"], rtol=tol["rtol"] * 10)


@pytest.mark.parametrize("linear", [True, False], ids=["linear", "original"])
def test_batch_independence(ns, dtype, linear):
    """A world's answer does not depend on the worlds batched with it (fast or slow)."""
    rng = np.random.default_rng(22)
    n = 12
    worlds = [
        random_instance(rng, n, 0.3, row_sum=0.9),
        random_instance(rng, n, 0.3, row_sum=3.0),
        (np.zeros((n, n)), np.ones(n), np.zeros(n)),
    ]
    stacked = [np.stack([w[k] for w in worlds]).astype(dtype) for k in range(3)]
    _, batch = run(ns, *stacked, linear=linear)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for k in range(len(worlds)):
        _, alone = run(ns, *(a[k] for a in stacked), linear=linear)
        np.testing.assert_allclose(batch["distress"][k], alone["distress"], rtol=rtol, atol=rtol)
        np.testing.assert_allclose(batch["loss"][k], alone["loss"], rtol=rtol, atol=rtol)
        assert bool(batch["converged"][k]) == bool(alone["converged"])


def test_inputs_are_not_modified():
    rng = np.random.default_rng(3)
    arrays_in = random_instance(rng, 10, 0.5, failed=0.2)
    before = [a.copy() for a in arrays_in]
    debtrank(*arrays_in)
    debtrank(*arrays_in, linear=False)
    for a, b in zip(arrays_in, before, strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# properties (hypothesis, NumPy float64)


@st.composite
def networks(draw, max_n: int = 8):
    """Hypothesis picks the size, the links, the shock, which institutions have already failed
    and how strong the impacts are; the exposure amounts come from a seeded RNG."""
    n = draw(st.integers(1, max_n))
    links = draw(arrays(np.bool_, (n, n)))
    failed = draw(arrays(np.bool_, (n,)))
    shock = draw(arrays(np.float64, (n,), elements=st.floats(0.0, 1.0)))
    strength = draw(st.floats(0.0, 3.0))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    equity = rng.uniform(0.5, 5.0, n)
    equity[failed] = -rng.uniform(0.0, 1.0, failed.sum())
    exposures = rng.uniform(0.0, 1.0, (n, n)) * links * strength * np.abs(equity)[:, None]
    np.fill_diagonal(exposures, 0.0)
    return exposures, equity, shock, rng


SETTINGS = settings(max_examples=40, deadline=None)
kinds = st.sampled_from([True, False])


@SETTINGS
@given(networks(), kinds)
def test_distress_in_unit_interval_and_above_shock(net, linear):
    exposures, equity, shock, _ = net
    result = debtrank(exposures, equity, shock, linear=linear)
    h = result.distress
    assert ((h >= 0.0) & (h <= 1.0)).all()
    assert (h >= shock).all()
    np.testing.assert_array_equal(h[equity <= 0], 1.0)
    np.testing.assert_allclose(result.loss, h @ np.maximum(equity, 0.0), rtol=1e-12)
    if not linear:
        assert bool(result.converged)
        assert result.iterations <= equity.shape[0] + 1


@SETTINGS
@given(networks(), st.floats(0.0, 1.0))
def test_linear_monotone_in_shock(net, extra):
    exposures, equity, shock, rng = net
    bigger = np.minimum(1.0, shock + extra * rng.random(shock.shape))
    low = debtrank(exposures, equity, shock)
    high = debtrank(exposures, equity, bigger)
    assert (high.distress >= low.distress - 1e-9).all()
    assert high.loss >= low.loss - 1e-9 * (1.0 + np.maximum(equity, 0).sum())


@SETTINGS
@given(networks())
def test_original_never_exceeds_linear(net):
    """Original <= linear: by induction over rounds, every original distress is bounded by the
    least fixed point of ``h = min(1, s + Lambda h)``, which linear DebtRank converges to, and
    the original's impacts ``min(1, Lambda)`` are no larger."""
    exposures, equity, shock, _ = net
    linear = debtrank(exposures, equity, shock)
    original = debtrank(exposures, equity, shock, linear=False)
    if bool(linear.converged):  # an unfinished linear run may still be below
        assert (original.distress <= linear.distress + 1e-9).all()
        assert original.loss <= linear.loss + 1e-9 * (1.0 + np.maximum(equity, 0).sum())


@SETTINGS
@given(networks(), kinds)
def test_matches_reference_everywhere(net, linear):
    exposures, equity, shock, _ = net
    result = debtrank(exposures, equity, shock, linear=linear)
    if bool(result.converged):
        ref = debtrank_loop(exposures, equity, shock, linear=linear)
        np.testing.assert_allclose(result.distress, ref["distress"], rtol=1e-8, atol=1e-8)


def test_original_is_not_monotone_in_shock():
    """Documented behaviour, not a bug: in the original algorithm a node propagates its
    distress only once, when first hit. A small extra shock on B makes B propagate early (with
    little distress) and turn inactive, so its creditor C ends far *better* off.

    Chain A -> X -> B -> C with impacts 1: shocking A alone wipes out C; shocking B by 1% too
    leaves C at 1%.
    """
    exposures = np.zeros((4, 4))
    exposures[1, 0] = exposures[2, 1] = exposures[3, 2] = 1.0  # X on A, B on X, C on B
    equity = np.ones(4)
    alone = debtrank(exposures, equity, np.array([1.0, 0, 0, 0]), linear=False)
    more = debtrank(exposures, equity, np.array([1.0, 0, 0.01, 0]), linear=False)
    assert alone.distress[3] == 1.0
    assert more.distress[3] == pytest.approx(0.01)
    assert more.loss < alone.loss
    # linear DebtRank is monotone here
    lin_alone = debtrank(exposures, equity, np.array([1.0, 0, 0, 0]))
    lin_more = debtrank(exposures, equity, np.array([1.0, 0, 0.01, 0]))
    assert (lin_more.distress >= lin_alone.distress).all()
    assert debtrank_loop(exposures, equity, np.array([1.0, 0, 0.01, 0]), linear=False)["distress"][
        3
    ] == pytest.approx(0.01)


# ---------------------------------------------------------------------------------------------
# input validation


@pytest.mark.parametrize(
    ("shapes", "name"),
    [
        (((4,), (4,), (4,)), "exposures"),
        (((4, 3), (4,), (4,)), "exposures"),
        (((4, 4), (3,), (4,)), "equity"),
        (((4, 4), (), (4,)), "equity"),
        (((4, 4), (4,), (5,)), "shock"),
        (((2, 4, 4), (2, 4), (2, 3)), "shock"),
    ],
)
def test_wrong_shapes_name_the_argument(ns, shapes, name):
    args = [ns.put(np.ones(s)) for s in shapes]
    with pytest.raises(ValueError, match=name):
        debtrank(*args)


@pytest.mark.parametrize("kwargs", [{"max_iter": 0}, {"check_every": 0}])
def test_bad_iteration_limits(kwargs):
    with pytest.raises(ValueError, match=f"{next(iter(kwargs))} must be an integer >= 1"):
        debtrank(np.ones((3, 3)), np.ones(3), np.ones(3), **kwargs)


def test_batch_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match="broadcast"):
        debtrank(np.ones((3, 4, 4)), np.ones((2, 4)), np.ones(4))


def test_result_dtype_follows_exposures():
    exposures = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    result = debtrank(exposures, np.array([2.0, 2.0]), np.array([0.5, 0.0], dtype=np.float32))
    assert result.distress.dtype == np.float32
