"""kernels.backend: namespace choice, host transfers, RNG, shape broadcasting, segment sums."""

from __future__ import annotations

import array_api_compat
import array_api_compat.numpy as xp_numpy
import array_api_strict as xs
import numpy as np
import pytest

from kernels import backend
from kernels.backend import (
    BACKEND_ENV,
    broadcast_shapes,
    cupy_usable,
    get_namespace,
    make_rng,
    scatter_segment_sum,
    segment_sum,
    to_numpy,
)
from tests.conftest import tolerance

needs_no_gpu = pytest.mark.skipif(cupy_usable(), reason="a CUDA GPU answers through CuPy here")


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(BACKEND_ENV, raising=False)


# ---------------------------------------------------------------------------------------------
# get_namespace


def test_numpy_by_name(no_env):
    assert get_namespace("numpy") is xp_numpy
    assert backend.backend_name("numpy") == "numpy"


def test_auto_is_numpy_without_gpu(no_env):
    xp = get_namespace("auto")
    if cupy_usable():
        assert array_api_compat.is_cupy_namespace(xp)
    else:
        assert xp is xp_numpy
        assert get_namespace() is xp_numpy  # "auto" is the default
        assert backend.backend_name() == "numpy"
    a = xp.asarray([1.0, 2.0])
    assert array_api_compat.array_namespace(a) is xp


@pytest.mark.parametrize("value", ["numpy", " NumPy ", "NUMPY", ""])
def test_auto_follows_the_environment(monkeypatch, value):
    monkeypatch.setenv(BACKEND_ENV, value)
    if value == "" and cupy_usable():  # empty means auto
        assert array_api_compat.is_cupy_namespace(get_namespace("auto"))
    else:
        assert get_namespace("auto") is xp_numpy


@needs_no_gpu
def test_environment_cupy_without_gpu_is_an_error(monkeypatch):
    monkeypatch.setenv(BACKEND_ENV, "cupy")
    with pytest.raises(RuntimeError, match=BACKEND_ENV) as info:
        get_namespace("auto")
    assert "GPU" in str(info.value)


@needs_no_gpu
def test_explicit_cupy_without_gpu_is_an_error(no_env):
    with pytest.raises(RuntimeError, match="cupy") as info:
        get_namespace("cupy")
    message = str(info.value)
    assert "GPU" in message
    assert "gpu" in message  # says how to get one: the gpu extra


@pytest.mark.skipif(not cupy_usable(), reason="no CUDA GPU answers through CuPy")
def test_explicit_cupy_with_gpu(no_env):
    assert array_api_compat.is_cupy_namespace(get_namespace("cupy"))


@pytest.mark.parametrize("worlds", [1, backend.AUTO_CUPY_MIN_WORLDS - 1])
def test_auto_picks_numpy_for_few_worlds_even_with_a_gpu(no_env, monkeypatch, worlds):
    # CuPy's fixed per-step cost makes small ensembles slower on the GPU; the GPU is not asked
    monkeypatch.setattr(backend, "cupy_usable", lambda: pytest.fail("GPU probed"))
    chosen, reason = backend.choose_backend("auto", worlds)
    assert chosen == "numpy"
    assert f"{worlds} world" in reason and str(backend.AUTO_CUPY_MIN_WORLDS) in reason


@pytest.mark.parametrize(("gpu", "expected"), [(True, "cupy"), (False, "numpy")])
def test_auto_picks_cupy_for_many_worlds_when_a_gpu_answers(no_env, monkeypatch, gpu, expected):
    monkeypatch.setattr(backend, "cupy_usable", lambda: gpu)
    chosen, reason = backend.choose_backend("auto", backend.AUTO_CUPY_MIN_WORLDS)
    assert chosen == expected
    assert ("no CUDA GPU" in reason) != gpu


@pytest.mark.parametrize("worlds", [1, 10_000])
def test_the_environment_and_an_explicit_name_override_the_worlds_rule(monkeypatch, worlds):
    monkeypatch.setattr(backend, "cupy_usable", lambda: True)
    monkeypatch.setenv(BACKEND_ENV, "numpy")
    assert backend.choose_backend("auto", worlds) == ("numpy", f"{BACKEND_ENV}=numpy")
    monkeypatch.setenv(BACKEND_ENV, "cupy")
    assert backend.choose_backend("auto", worlds) == ("cupy", f"{BACKEND_ENV}=cupy")
    assert backend.choose_backend("numpy", worlds) == ("numpy", "asked for by name")


@needs_no_gpu
def test_choosing_cupy_without_gpu_is_an_error(monkeypatch):
    monkeypatch.setenv(BACKEND_ENV, "cupy")
    with pytest.raises(RuntimeError, match=BACKEND_ENV):
        backend.choose_backend("auto", 10_000)
    with pytest.raises(RuntimeError, match="GPU"):
        backend.choose_backend("cupy", 1)


@pytest.mark.parametrize("env", ["cupy", "tpu"])
def test_explicit_name_beats_the_environment(monkeypatch, env):
    monkeypatch.setenv(BACKEND_ENV, env)
    assert get_namespace("numpy") is xp_numpy


@pytest.mark.parametrize("name", ["tpu", "NumPy ", "torch", ""])
def test_bad_name_lists_the_allowed_values(no_env, name):
    with pytest.raises(ValueError, match="backend must be one of auto, numpy, cupy") as info:
        get_namespace(name)
    assert repr(name) in str(info.value)


@pytest.mark.parametrize("value", ["tpu", "jax", "numpy,cupy"])
def test_bad_environment_names_the_variable_and_allowed_values(monkeypatch, value):
    monkeypatch.setenv(BACKEND_ENV, value)
    with pytest.raises(ValueError, match=BACKEND_ENV) as info:
        get_namespace("auto")
    message = str(info.value)
    for allowed in ("auto", "numpy", "cupy"):
        assert allowed in message
    assert repr(value) in message


def test_a_run_says_which_backend_and_why_and_a_bad_one_is_a_usage_error(no_env, monkeypatch):
    from experiments.run import choose_run_backend, resolve_config
    from experiments.usage import UsageError

    small = resolve_config("baseline", n_worlds=2)
    assert choose_run_backend(small)[0] == "numpy" and "2 worlds" in choose_run_backend(small)[1]
    monkeypatch.setenv(BACKEND_ENV, "tpu")
    with pytest.raises(UsageError, match=f"argument --backend auto: .*{BACKEND_ENV}"):
        choose_run_backend(small)


# ---------------------------------------------------------------------------------------------
# to_numpy


def test_to_numpy_on_numpy_is_a_no_op():
    a = np.arange(6.0).reshape(2, 3)
    assert to_numpy(a) is a
    ro = a.copy()
    ro.flags.writeable = False
    assert to_numpy(ro) is ro


@pytest.mark.parametrize("device", [None, "device1"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_to_numpy_on_strict_arrays(device, dtype):
    values = np.arange(6).reshape(2, 3).astype(dtype)
    kwargs = {} if device is None else {"device": xs.Device(device)}
    x = xs.asarray(values, **kwargs)
    out = to_numpy(x)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, values)


def test_to_numpy_on_zero_d_and_sequences():
    out = to_numpy(xs.asarray(2.5))
    assert isinstance(out, np.ndarray) and out.shape == () and float(out) == 2.5
    np.testing.assert_array_equal(to_numpy([1.0, 2.0]), [1.0, 2.0])


def test_to_numpy_on_namespace_results(ns):
    x = ns.put(np.array([[1.0, 2.0], [3.0, 4.0]]))
    out = to_numpy(x)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [[1.0, 2.0], [3.0, 4.0]])


# ---------------------------------------------------------------------------------------------
# make_rng


@pytest.mark.parametrize("xp", [xp_numpy, np, xs], ids=["compat_numpy", "numpy", "strict"])
def test_make_rng_is_seeded(xp):
    a = make_rng(xp, 1234)
    b = make_rng(xp, 1234)
    c = make_rng(xp, 1235)
    assert isinstance(a, np.random.Generator)
    draws_a, draws_b, draws_c = a.random(5), b.random(5), c.random(5)
    np.testing.assert_array_equal(draws_a, draws_b)
    assert not np.array_equal(draws_a, draws_c)
    # the same stream as NumPy's default generator (PCG64) with that seed
    np.testing.assert_array_equal(draws_a, np.random.default_rng(1234).random(5))


def test_make_rng_unseeded():
    rng = make_rng(xp_numpy, None)
    assert isinstance(rng, np.random.Generator)
    assert 0.0 <= rng.random() < 1.0


def test_make_rng_from_get_namespace(no_env):
    xp = get_namespace("numpy")
    np.testing.assert_array_equal(make_rng(xp, 7).normal(size=3), make_rng(xp, 7).normal(size=3))


# ---------------------------------------------------------------------------------------------
# broadcast_shapes


@pytest.mark.parametrize(
    "shapes",
    [
        (),
        ((),),
        ((3,), ()),
        ((4, 1), (3,)),
        ((2, 3), (1, 3), (3,)),
        ((5, 1, 7), (1, 6, 1), (7,)),
        ((1,), (0,)),
        ((2, 1, 4), (2, 3, 1)),
    ],
)
def test_broadcast_shapes_agrees_with_numpy(shapes):
    assert broadcast_shapes(*shapes) == np.broadcast_shapes(*shapes)


@pytest.mark.parametrize("shapes", [((3,), (4,)), ((2, 3), (3, 3)), ((2, 1), (1, 3), (4, 3))])
def test_broadcast_shapes_error_lists_the_shapes(shapes):
    with pytest.raises(ValueError, match="do not broadcast") as info:
        broadcast_shapes(*shapes)
    for shape in shapes:
        assert str(shape) in str(info.value)


# ---------------------------------------------------------------------------------------------
# segment_sum


def reference_segment_sum(values: np.ndarray, ids: np.ndarray, num_segments: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    flat = values.reshape(int(np.prod(values.shape[:-1])), values.shape[-1])
    rows = [np.bincount(ids, weights=row, minlength=num_segments) for row in flat]
    return np.array(rows).reshape(*values.shape[:-1], num_segments)


@pytest.mark.parametrize("lead", [(), (3,), (2, 3)], ids=["1d", "batched", "batched2x3"])
@pytest.mark.parametrize(
    ("k", "num_segments"),
    [(20, 5), (20, 12), (1, 1), (0, 4)],
    ids=["repeated", "empty_segments", "single", "no_edges"],
)
def test_segment_sum_matches_bincount(ns, dtype, lead, k, num_segments):
    rng = np.random.default_rng(k + num_segments)
    values = rng.normal(size=(*lead, k)).astype(dtype)
    if num_segments == 12:  # ids only in the even buckets: odd ones stay empty
        ids = 2 * rng.integers(0, num_segments // 2, k)
    else:
        ids = rng.integers(0, num_segments, k)
    if k == 20 and num_segments == 5:
        assert len(np.unique(ids)) < k  # repeated ids really repeat
    expected = reference_segment_sum(values, ids, num_segments)
    out = segment_sum(ns.put(values), ns.put(ids.astype(np.int64)), num_segments)
    if ns.name in ("strict", "strictest"):
        assert isinstance(out, xs._array_object.Array), type(out)
        assert str(out.dtype).rsplit(".", 1)[-1] == np.dtype(dtype).name, out.dtype
    else:
        ns.check(out, dtype)
    result = ns.get(out)
    assert result.shape == (*lead, num_segments)
    np.testing.assert_allclose(result, expected, **tolerance(dtype))
    if num_segments == 12:
        np.testing.assert_array_equal(result[..., 1::2], 0.0)


@pytest.mark.parametrize("lead", [(), (3,), (2, 3), (0,)], ids=["1d", "batched", "2x3", "no_rows"])
@pytest.mark.parametrize(("k", "num_segments"), [(20, 5), (1, 1), (0, 4), (3, 0)],
                         ids=["repeated", "single", "no_edges", "no_buckets"])  # fmt: skip
def test_the_scatter_path_runs_its_shape_logic_on_the_cpu(lead, k, num_segments):
    # CuPy's path (cupyx.scatter_add) with numpy.add.at in its place: an empty edge list once
    # broke the model on CuPy alone (reshape(-1, 0) of an empty array), unseen by NumPy's path.
    import array_api_compat.numpy as xp_numpy

    rng = np.random.default_rng(k)
    values = rng.normal(size=(*lead, k))
    ids = rng.integers(0, max(num_segments, 1), k) if num_segments else np.zeros(k, np.int64)
    if num_segments == 0:
        values = values[..., :0]
        ids = ids[:0]
    out = scatter_segment_sum(xp_numpy, values, ids, num_segments, np.add.at)
    assert out.shape == (*lead, num_segments)
    np.testing.assert_allclose(out, reference_segment_sum(values, ids, num_segments))


def test_segment_sum_totals_are_kept(ns):
    """Every edge lands in exactly one bucket: the total is unchanged."""
    rng = np.random.default_rng(0)
    values = rng.uniform(0.0, 1.0, (4, 100))
    ids = rng.integers(0, 7, 100)
    out = ns.get(segment_sum(ns.put(values), ns.put(ids), 7))
    np.testing.assert_allclose(out.sum(axis=-1), values.sum(axis=-1), rtol=1e-12)


@pytest.mark.parametrize("id_dtype", [np.int32, np.int64, np.intp])
def test_segment_sum_accepts_integer_id_dtypes(id_dtype):
    values = np.array([1.0, 2.0, 3.0, 4.0])
    ids = np.array([0, 2, 0, 2], dtype=id_dtype)
    np.testing.assert_array_equal(segment_sum(values, ids, 3), [4.0, 0.0, 6.0])
    np.testing.assert_array_equal(
        segment_sum(np.stack([values, -values]), ids, 3), [[4.0, 0.0, 6.0], [-4.0, 0.0, -6.0]]
    )


def test_segment_sum_does_not_modify_inputs():
    values = np.array([[1.0, 2.0, 3.0]])
    ids = np.array([1, 1, 0])
    segment_sum(values, ids, 2)
    np.testing.assert_array_equal(values, [[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(ids, [1, 1, 0])


# ---------------------------------------------------------------------------------------------
# small helpers the kernels rely on


def test_default_check_every():
    assert backend.default_check_every(xp_numpy) == 1  # checking is free on the host
    assert backend.default_check_every(xs) == 8  # elsewhere a check is a device sync


def test_array_namespace_ignores_none_and_python_scalars():
    a = np.ones(3)
    assert backend.array_namespace(a, None, 1.0, 2, True) is xp_numpy
    x = xs.asarray([1.0])
    assert backend.array_namespace(None, x, 0.5) is xs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_segment_sum_in_blocks_of_rows_gives_the_bits_of_one_block(monkeypatch, dtype):
    # issue 18: NumPy sums the rows a block at a time (SEGMENT_CHUNK_BYTES), near the caches
    rng = np.random.default_rng(3)
    values = rng.normal(size=(3, 5, 40)).astype(dtype)
    ids = rng.integers(0, 7, size=40)
    whole = backend.segment_sum(values, ids, 7)
    monkeypatch.setattr(backend, "BINCOUNT_WHOLE_BYTES", 0)  # blocks however few the edges
    monkeypatch.setattr(backend, "SEGMENT_CHUNK_BYTES", 2 * 40 * 8)  # two rows a block
    blocks = backend.segment_sum(values, ids, 7)
    assert blocks.dtype == dtype and blocks.shape == (3, 5, 7)
    np.testing.assert_array_equal(blocks, whole)
    monkeypatch.setattr(backend, "SEGMENT_CHUNK_BYTES", 1)  # one row a block
    np.testing.assert_array_equal(backend.segment_sum(values, ids, 7), whole)
    monkeypatch.setattr(backend, "BINCOUNT_WHOLE_BYTES", 15 * 40 * 8)  # all 15 rows: one call
    np.testing.assert_array_equal(backend.segment_sum(values, ids, 7), whole)


def _bits(array: np.ndarray) -> np.ndarray:
    """The raw bits of a float array, so that NaN payloads and signed zeros compare too."""
    return np.ascontiguousarray(array).view(np.int64 if array.dtype == np.float64 else np.int32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rows", [0, 1, 2, 37])
@pytest.mark.parametrize(
    ("k", "num_segments"),
    [(0, 0), (0, 5), (1, 1), (40, 7), (40, 80), (300, 11), (64, 64)],
    ids=["nothing", "no_edges", "single", "repeated", "half", "crowded", "injective"],
)
def test_sparse_path_gives_the_bits_of_bincount(monkeypatch, dtype, rows, k, num_segments):
    # issue 18: NumPy's segment sums by SciPy's CSR product add a bucket's edges in the order
    # bincount does, from 0.0 in float64: the same bits, NaN, infinities and -0.0 included
    rng = np.random.default_rng(rows * 1000 + k)
    values = (rng.normal(size=(rows, k)) * 10.0 ** rng.integers(-30, 30, (rows, k))).astype(dtype)
    specials = np.array([np.nan, -np.nan, -0.0, 0.0, np.inf, -np.inf], dtype)
    special = rng.random((rows, k)) < 0.2
    values[special] = rng.choice(specials, size=int(special.sum()))
    ids = np.arange(k) if num_segments == k else rng.integers(0, max(num_segments, 1), k)
    monkeypatch.setattr(backend, "SPARSE_MIN_VALUES", 0)  # the sparse path at any size
    monkeypatch.setattr(backend, "SEGMENT_CHUNK_BYTES", 3 * max(k, 1) * 8)  # 3 rows a block
    expected = backend._bincount_rows(values, ids, num_segments)
    for ids_dtype in (np.intp, np.int32):
        out = backend.segment_sum(values, ids.astype(ids_dtype), num_segments)
        assert out.dtype == dtype and out.shape == (rows, num_segments)
        np.testing.assert_array_equal(_bits(out), _bits(expected))
    if rows and k:  # the sparse path itself, whatever segment_sum would choose
        for ids_dtype in (np.intp, np.int32):
            out = backend._matvec_rows(values, ids.astype(ids_dtype), num_segments)
            np.testing.assert_array_equal(_bits(out), _bits(expected))


def test_sparse_path_signed_zeros_and_nan_as_bincount():
    # a bucket of -0.0 alone sums to +0.0 (0.0 + -0.0), inf - inf is NaN, NaN propagates
    values = np.array([[-0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, 2.0, 3.0]])
    ids = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    out = backend._matvec_rows(values, ids, 4)
    assert not np.signbit(out[0, 0]) and np.isnan(out[0, 1]) and np.isnan(out[0, 2])
    assert out[0, 3] == 5.0
    np.testing.assert_array_equal(_bits(out), _bits(backend._bincount_rows(values, ids, 4)))


def test_segment_sum_takes_the_sparse_path_only_when_it_pays():
    assert backend._csr_matvec is not None  # scipy is pinned: the fast path exists
    big = np.ones((16, backend.SPARSE_MIN_VALUES // 16))
    ids = np.arange(big.shape[1]) % 7
    calls = []

    def spy(flat, ids, num_segments):
        calls.append(flat.shape)
        return np.zeros((flat.shape[0], num_segments))

    original = backend._matvec_rows
    try:
        backend._matvec_rows = spy
        backend.segment_sum(big, ids, 7)
        backend.segment_sum(big[:, :4], ids[:4], 7)  # too few values
        backend.segment_sum(big, ids, big.shape[1] + 1)  # fewer edges than buckets
    finally:
        backend._matvec_rows = original
    assert calls == [big.shape]


@pytest.mark.parametrize("num_segments", [5, 2**16 + 3], ids=["uint16_ids", "wide_ids"])
def test_sparse_path_sorts_ids_of_any_width(num_segments):
    rng = np.random.default_rng(num_segments)
    k = max(num_segments // 2 + 1, 2**15)
    values = rng.normal(size=(3, k))
    ids = rng.integers(0, num_segments, k)
    ids[:2] = [0, num_segments - 1]
    expected = backend._bincount_rows(values, ids, num_segments)
    np.testing.assert_array_equal(_bits(backend._matvec_rows(values, ids, num_segments)),
                                  _bits(expected))  # fmt: skip


def test_sparse_path_rejects_ids_past_the_buckets():
    with pytest.raises(ValueError, match="past 3 buckets"):
        backend._matvec_rows(np.ones((2, 4)), np.array([0, 1, 2, 3]), 3)
    with pytest.raises(ValueError):
        backend._matvec_rows(np.ones((2, 4)), np.array([0, -1, 2, 1]), 3)


@pytest.mark.parametrize("k", [0, 1, 40])
@pytest.mark.parametrize("targets", [[], [3], [6, 0, 2], [1, 5, 4, 9]])
def test_segment_sum_at_gives_the_bits_of_the_whole_sum_taken(k, targets):
    # issue 18: sum into the wanted buckets only, not an (E, S) array then a take
    rng = np.random.default_rng(k)
    values = rng.normal(size=(3, 2, k)) * 10.0 ** rng.integers(-30, 30, (3, 2, k))
    values[rng.random(values.shape) < 0.2] = -0.0
    ids = rng.integers(0, 10, k)
    wanted = np.array(targets, dtype=np.intp)
    whole = np.take(backend.segment_sum(values, ids, 10), wanted, axis=-1)
    got = backend.segment_sum_at(values, ids, wanted)
    assert got.shape == (3, 2, len(targets))
    np.testing.assert_array_equal(_bits(got), _bits(whole))
    xs = pytest.importorskip("array_api_strict")
    strict = backend.segment_sum_at(xs.asarray(values), xs.asarray(ids), xs.asarray(wanted))
    np.testing.assert_array_equal(np.asarray(strict), whole)
