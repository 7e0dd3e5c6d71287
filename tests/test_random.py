"""abm.random: counter-based streams, reproducible per world and identical on every backend."""

from __future__ import annotations

import math

import array_api_compat
import array_api_compat.numpy as xnp
import array_api_strict as xs
import numpy as np
import pytest

from abm.random import GOLDEN_GAMMA, MASK64, WorldStreams, mix64
from kernels.backend import cupy_usable

# NumPy must not warn about uint64 wraparound, and nothing else may warn either.
pytestmark = pytest.mark.filterwarnings("error")

SEED = 20260101
E = 100  # worlds in the statistical tests
N = 10_000  # draws per world: E·N = 1e6


# ---------------------------------------------------------------------------------------------
# pure-Python reference of the construction (arbitrary-precision ints, reduced modulo 2**64)


def ref_mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def ref_splitmix(key: int, n: int) -> int:
    return ref_mix64((key + n * GOLDEN_GAMMA) & MASK64)


def ref_bits(seed: int, step: int, stream: int, index: int) -> int:
    key = ref_splitmix(seed, 1)
    key = ref_splitmix(key, step + 1)
    key = ref_splitmix(key, stream + 1)
    return ref_splitmix(key, index + 1)


def ref_uniform(seed: int, step: int, stream: int, index: int) -> float:
    k = ref_bits(seed, step, stream, index) >> 11
    return k * 2.0**-53 if k else 2.0**-54


def ref_normal(seed: int, step: int, stream: int, index: int) -> float:
    u1 = ref_uniform(seed, step, stream, 2 * index)
    u2 = ref_uniform(seed, step, stream, 2 * index + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


# ---------------------------------------------------------------------------------------------
# the construction


def test_mix64_reproduces_splitmix64_test_vectors():
    # SplitMix64 seeded with 1234567: the first five outputs of Vigna's splitmix64.c.
    states = [(1234567 + n * GOLDEN_GAMMA) & MASK64 for n in range(1, 6)]
    out = mix64(xnp.asarray(states, dtype=xnp.uint64))
    expected = [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
        4593380528125082431,
        16408922859458223821,
    ]
    assert out.dtype == np.uint64
    assert [int(v) for v in out] == expected


@pytest.mark.parametrize(
    ("seed", "step", "stream"),
    [(0, 0, 0), (SEED, 7, 1), (MASK64, MASK64, MASK64), (2**63, 2**32 + 5, 3)],
)
def test_bits_match_the_python_reference(seed, step, stream):
    got = WorldStreams(xnp, [seed]).bits(step, stream, (2, 3))
    assert got.shape == (1, 2, 3) and got.dtype == np.uint64
    assert [int(v) for v in np.reshape(got, -1)] == [
        ref_bits(seed, step, stream, i) for i in range(6)
    ]


def test_uniform_and_normal_match_the_python_reference():
    streams = WorldStreams(xnp, [SEED, SEED + 1])
    u = streams.uniform(5, 2, 8)
    z = streams.normal(5, 2, 8)
    for w in range(2):
        assert [float(v) for v in u[w]] == [ref_uniform(SEED + w, 5, 2, i) for i in range(8)]
        np.testing.assert_allclose(
            z[w], [ref_normal(SEED + w, 5, 2, i) for i in range(8)], rtol=1e-14, atol=1e-14
        )


def test_uniform_conversion_uses_the_53_high_bits_and_avoids_0_and_1(monkeypatch):
    streams = WorldStreams(xnp, [0])
    raw = np.asarray([[0, 2**11 - 1, 2**11, 2**12, MASK64, MASK64 - 2**11]], dtype=np.uint64)
    monkeypatch.setattr(streams, "_bits_flat", lambda step, stream, size: raw)
    u = streams.uniform(0, 0, 6)
    assert u.tolist() == [[2.0**-54, 2.0**-54, 2.0**-53, 2.0**-52, 1 - 2.0**-53, 1 - 2.0**-52]]


# ---------------------------------------------------------------------------------------------
# reproducibility and independence


def test_same_arguments_give_identical_numbers():
    a = WorldStreams(xnp, range(SEED, SEED + 4))
    b = WorldStreams(xnp, [SEED, SEED + 1, SEED + 2, SEED + 3])
    for draw in ("bits", "uniform", "normal"):
        first = getattr(a, draw)(12, 1, (3, 5))
        np.testing.assert_array_equal(first, getattr(a, draw)(12, 1, (3, 5)))  # repeatable
        np.testing.assert_array_equal(first, getattr(b, draw)(12, 1, (3, 5)))  # no hidden state


def test_world_w_of_a_batch_is_a_one_world_model_with_seed_s_plus_w():
    batch = WorldStreams.from_seed(xnp, SEED, 6)
    np.testing.assert_array_equal(batch.seeds, np.arange(SEED, SEED + 6, dtype=np.uint64))
    for w in range(6):
        alone = WorldStreams.from_seed(xnp, SEED + w, 1)
        for step, stream in [(0, 0), (3, 1), (259, 4)]:
            np.testing.assert_array_equal(
                batch.bits(step, stream, 9)[w], alone.bits(step, stream, 9)[0]
            )
            np.testing.assert_array_equal(
                batch.uniform(step, stream, (2, 4))[w], alone.uniform(step, stream, (2, 4))[0]
            )
            np.testing.assert_array_equal(
                batch.normal(step, stream, 7)[w], alone.normal(step, stream, 7)[0]
            )


def test_numbers_depend_only_on_the_index_not_on_the_shape():
    streams = WorldStreams(xnp, [1, 2, 3])
    for draw in (streams.bits, streams.uniform, streams.normal):
        np.testing.assert_array_equal(draw(4, 0, 10)[:, :5], draw(4, 0, 5))
        np.testing.assert_array_equal(np.reshape(draw(4, 0, (2, 3)), (3, 6)), draw(4, 0, 6))
        np.testing.assert_array_equal(draw(4, 0, ())[:], draw(4, 0, 1)[:, 0])


def test_different_worlds_steps_streams_and_indices_give_different_numbers():
    streams = WorldStreams.from_seed(xnp, 0, 8)  # adjacent seeds: the hardest case for a hash
    bits = np.stack([[streams.bits(t, j, 100) for j in range(5)] for t in range(50)])
    assert bits.shape == (50, 5, 8, 100)
    assert np.unique(bits).size == bits.size  # 200,000 draws, no two equal
    u = streams.uniform(0, 0, 100)
    assert not np.array_equal(u, streams.uniform(1, 0, 100))
    assert not np.array_equal(u, streams.uniform(0, 1, 100))
    assert not np.array_equal(streams.normal(0, 0, 100), streams.normal(0, 1, 100))


def test_seeds_at_the_top_of_the_uint64_range():
    big = [MASK64, MASK64 - 1, 2**63]
    streams = WorldStreams(xnp, big)
    assert streams.seeds.dtype == np.uint64 and [int(s) for s in streams.seeds] == big
    got = streams.bits(1, 0, 2)
    assert [[int(v) for v in row] for row in got] == [
        [ref_bits(s, 1, 0, i) for i in range(2)] for s in big
    ]


# ---------------------------------------------------------------------------------------------
# shapes, dtypes, range


@pytest.mark.parametrize("shape", [(), 3, (3,), (2, 3), (0,), (4, 0, 2)])
@pytest.mark.parametrize("n_worlds", [1, 3])
def test_shapes_and_dtypes(shape, n_worlds):
    streams = WorldStreams.from_seed(xnp, 11, n_worlds)
    expected = (n_worlds, *((shape,) if isinstance(shape, int) else shape))
    for draw, dtype in [("bits", np.uint64), ("uniform", np.float64), ("normal", np.float64)]:
        out = getattr(streams, draw)(0, 0, shape)
        assert isinstance(out, np.ndarray)
        assert out.shape == expected and out.dtype == dtype


def test_zero_worlds():
    streams = WorldStreams(xnp, [])
    assert len(streams) == 0 and streams.uniform(0, 0, 3).shape == (0, 3)


def test_plain_numpy_module_is_accepted():
    streams = WorldStreams(np, [5, 6])
    assert streams.xp is xnp
    np.testing.assert_array_equal(
        streams.uniform(2, 0, 4), WorldStreams(xnp, [5, 6]).uniform(2, 0, 4)
    )


def test_uniform_is_strictly_inside_the_unit_interval():
    u = WorldStreams.from_seed(xnp, SEED, E).uniform(0, 0, N)
    assert u.dtype == np.float64
    assert 0.0 < u.min() and u.max() < 1.0
    assert np.all(u * 2.0**54 == np.round(u * 2.0**54))  # multiples of 2**-54


# ---------------------------------------------------------------------------------------------
# statistics on 1e6 draws (deterministic: fixed seeds, so these never flake)


@pytest.fixture(scope="module")
def batch():
    return WorldStreams.from_seed(xnp, SEED, E)


def test_uniform_moments_and_chi_square(batch):
    u = batch.uniform(17, 0, N)
    n = u.size
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * math.sqrt((1 / 80 - 1 / 144) / n)
    counts = np.bincount(np.floor(u * 100).astype(np.int64).ravel(), minlength=100)
    assert counts.size == 100
    expected = n / 100
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    df = 99
    assert df - 5 * math.sqrt(2 * df) < chi2 < df + 5 * math.sqrt(2 * df), chi2


def test_normal_moments_and_chi_square(batch):
    z = batch.normal(17, 1, N)
    n = z.size
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs((z**3).mean()) < 5 * math.sqrt(15 / n)  # skewness 0
    assert abs((z**4).mean() - 3) < 5 * math.sqrt(96 / n)  # kurtosis 3
    assert np.abs(z).max() < 8.7
    edges = np.concatenate([[-np.inf], np.linspace(-4, 4, 41), [np.inf]])
    counts, _ = np.histogram(z, bins=edges)
    cdf = [
        0.5 * (1 + math.erf(e / math.sqrt(2))) if np.isfinite(e) else float(e > 0) for e in edges
    ]
    expected = n * np.diff(cdf)
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    df = counts.size - 1
    assert df - 5 * math.sqrt(2 * df) < chi2 < df + 5 * math.sqrt(2 * df), chi2


def lag1(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_lag1_correlation_is_near_zero(batch):
    # 101 steps x 100 worlds x 100 draws: ~1e6 pairs per correlation, standard error ~1e-3.
    u = np.stack([batch.uniform(t, 0, 100) for t in range(101)])  # (T, E, 100)
    limit = 5e-3
    assert abs(lag1(u[:-1], u[1:])) < limit  # step t vs step t + 1
    assert abs(lag1(u[:, :-1], u[:, 1:])) < limit  # world w vs world w + 1 (seed s + w + 1)
    assert abs(lag1(u[..., :-1], u[..., 1:])) < limit  # index i vs index i + 1
    other = np.stack([batch.uniform(t, 1, 100) for t in range(101)])
    assert abs(lag1(u, other)) < limit  # stream 0 vs stream 1
    z = np.stack([batch.normal(t, 2, 100) for t in range(101)])
    assert abs(lag1(z[:-1], z[1:])) < limit and abs(lag1(z[:, :-1], z[:, 1:])) < limit


# ---------------------------------------------------------------------------------------------
# backends


def test_every_namespace_gives_the_numpy_numbers(ns):
    seeds = [SEED + w for w in range(5)] + [MASK64]
    reference = WorldStreams(xnp, seeds)
    streams = WorldStreams(array_api_compat.array_namespace(ns.put(np.zeros(1))), seeds)
    from_array = ns.put(np.asarray(seeds, dtype=np.uint64))
    on_array = WorldStreams(array_api_compat.array_namespace(from_array), from_array)
    for s in (streams, on_array):
        bits = s.bits(3, 1, (4, 5))
        ns.check(bits, np.uint64)
        np.testing.assert_array_equal(ns.get(bits), reference.bits(3, 1, (4, 5)))
        u = s.uniform(3, 1, (4, 5))
        ns.check(u, np.float64)
        np.testing.assert_array_equal(ns.get(u), reference.uniform(3, 1, (4, 5)))
        z = s.normal(3, 1, 20)
        ns.check(z, np.float64)
        np.testing.assert_allclose(ns.get(z), reference.normal(3, 1, 20), rtol=1e-12, atol=1e-12)


def test_strict_keeps_the_device_of_the_seeds():
    device = xs.Device("device1")
    seeds = xs.asarray([1, 2, 3], dtype=xs.int64, device=device)
    streams = WorldStreams(xs, seeds)
    assert streams.seeds.dtype == xs.uint64 and streams.device == device
    assert streams.uniform(0, 0, 4).device == device and streams.normal(0, 0, 4).device == device
    on_device = WorldStreams(xs, [1, 2, 3], device=device)
    assert on_device.normal(1, 0, 2).device == device
    np.testing.assert_array_equal(
        np.from_dlpack(xs.asarray(on_device.uniform(1, 0, 4), device=xs.Device("CPU_DEVICE"))),
        WorldStreams(xnp, [1, 2, 3]).uniform(1, 0, 4),
    )


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_usable(), reason="no CUDA GPU answers through CuPy")
def test_cupy_gives_the_numpy_numbers():
    import array_api_compat.cupy as xcp

    seeds = list(range(SEED, SEED + 1000))
    gpu = WorldStreams(xcp, seeds)
    cpu = WorldStreams(xnp, seeds)
    bits = gpu.bits(7, 3, 300)
    assert array_api_compat.is_cupy_array(bits)
    np.testing.assert_array_equal(bits.get(), cpu.bits(7, 3, 300))
    np.testing.assert_array_equal(gpu.uniform(7, 3, 300).get(), cpu.uniform(7, 3, 300))
    np.testing.assert_allclose(
        gpu.normal(7, 3, 300).get(), cpu.normal(7, 3, 300), rtol=1e-12, atol=1e-12
    )


# ---------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("seeds", "error"),
    [
        ([-1], ValueError),
        ([2**64], ValueError),
        ([1.5], TypeError),
        ([True], TypeError),
        (3, TypeError),
        ("12", TypeError),
        (np.asarray([[1, 2]]), ValueError),
        (np.asarray([1, -2]), ValueError),
        (np.asarray([1.0]), TypeError),
    ],
)
def test_bad_seeds_are_rejected(seeds, error):
    with pytest.raises(error):
        WorldStreams(xnp, seeds)


def test_bad_steps_streams_and_shapes_are_rejected():
    streams = WorldStreams(xnp, [1])
    with pytest.raises(ValueError, match="step"):
        streams.uniform(-1, 0)
    with pytest.raises(ValueError, match="stream"):
        streams.normal(0, 2**64)
    with pytest.raises(TypeError, match="step"):
        streams.uniform(1.0, 0)
    with pytest.raises(ValueError, match="shape"):
        streams.uniform(0, 0, (2, -1))
    with pytest.raises(TypeError, match="shape"):
        streams.bits(0, 0, (2.0,))
    with pytest.raises(ValueError, match="seed"):
        WorldStreams.from_seed(xnp, MASK64, 2)  # seed s + 1 would not fit in uint64
