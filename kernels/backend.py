"""Array backends: the one module that knows NumPy and CuPy by name.

Every other kernel module discovers its namespace from its inputs
(``array_api_compat.array_namespace``) and never imports numpy or cupy. This module chooses a
namespace for *creating* state (``get_namespace``; ``choose_backend`` weighs the number of
worlds for ``"auto"``), moves results back to the host at the
boundaries (``to_numpy``), makes seeded random generators per backend (``make_rng``), and
offers ``segment_sum`` (the scatter-add that network aggregation needs) with fast paths for
NumPy and CuPy and a portable fallback for any array-API namespace.

The pattern follows scikit-learn's ``sklearn/utils/_array_api.py`` and SciPy's
``scipy/_lib/_array_api.py``: one private place for backend knowledge, ``xp`` everywhere else.
"""

from __future__ import annotations

import functools
import math
import os
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np

#: Environment variable that picks the backend when ``get_namespace("auto")`` is called.
BACKEND_ENV = "POWDERKEG_BACKEND"
BACKENDS = ("auto", "numpy", "cupy")
#: the floating-point types a model's state may have (``abm.model.Powderkeg(dtype=...)``)
STATE_DTYPES = ("float64", "float32")


@functools.cache
def cupy_usable() -> bool:
    """Whether CuPy imports *and* a CUDA GPU actually runs a kernel (cached per process).

    ``import cupy`` succeeds on machines without a driver; ``cupy.is_available()`` then says
    False. A tiny allocation and reduction catches broken NVRTC or architecture mismatches too.
    """
    try:
        import cupy
    except Exception:  # ImportError, or a CUDA library that fails to load at import
        return False
    try:
        if not cupy.is_available():
            return False
        return float(cupy.asarray([1.0, 2.0]).sum()) == 3.0
    except Exception:  # CUDARuntimeError, CompileException, out of memory...
        return False


def _requested_backend(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}")
    if name != "auto":
        return name
    env = os.environ.get(BACKEND_ENV, "auto").strip().lower() or "auto"
    if env not in BACKENDS:
        raise ValueError(
            f"environment variable {BACKEND_ENV} must be one of {', '.join(BACKENDS)}; got {env!r}"
        )
    return env


def backend_name(name: str = "auto") -> str:
    """Resolve ``"auto"`` to the backend actually used: ``"numpy"`` or ``"cupy"``.

    ``"auto"`` follows ``$POWDERKEG_BACKEND`` when it is set, else picks CuPy only when a GPU
    answers (see ``cupy_usable``) and NumPy otherwise; it never fails on a CPU-only machine.
    An explicit ``"cupy"`` without a working GPU is an error, not a silent fallback.
    """
    requested = _requested_backend(name)
    if requested == "numpy":
        return "numpy"
    if cupy_usable():
        return "cupy"
    if requested == "cupy" and name == "cupy":
        raise RuntimeError(
            "backend 'cupy' was requested but no CUDA GPU answers through CuPy "
            "(install the gpu extra, pip install 'powderkeg[gpu]', on a machine with a GPU)"
        )
    if requested == "cupy":
        raise RuntimeError(
            f"{BACKEND_ENV}=cupy but no CUDA GPU answers through CuPy; "
            f"unset {BACKEND_ENV} or set it to auto or numpy"
        )
    return "numpy"


#: Fewest worlds for which ``"auto"`` picks CuPy when a GPU answers. Below it NumPy steps the
#: model faster: CuPy's fixed cost per step (kernel launches and their Python dispatch) outweighs
#: the array work. Measured with 1,000 retail cohorts on one NVIDIA H200 (CuPy 14.2, 2026-12-04):
#: E = 1, 0.118 s a step on CuPy against about 0.02 s on NumPy; E = 100, 0.215 s against about
#: 0.4 s; the two cross at about E = 50.
AUTO_CUPY_MIN_WORLDS = 50


def choose_backend(name: str, n_worlds: int) -> tuple[str, str]:
    """The backend for a model of ``n_worlds`` worlds, and why: ``(backend, reason)``.

    A backend asked for by name, then ``$POWDERKEG_BACKEND``, win as in :func:`backend_name`.
    Otherwise ``"auto"`` weighs the ensemble's size: NumPy below :data:`AUTO_CUPY_MIN_WORLDS`
    worlds even when a GPU answers (GPU start-up is not even tried), CuPy from there up when a
    GPU answers, NumPy when none does. The reason is one phrase for a log line or a manifest.

    Raises:
        ValueError: ``name`` or ``$POWDERKEG_BACKEND`` is not one of auto, numpy, cupy.
        RuntimeError: CuPy was asked for (by name or environment) and no GPU answers.
    """
    requested = _requested_backend(name)
    if name != "auto":
        return backend_name(name), "asked for by name"
    if requested != "auto":
        return backend_name(name), f"{BACKEND_ENV}={requested}"
    if n_worlds < AUTO_CUPY_MIN_WORLDS:
        return "numpy", (
            f"auto: {n_worlds} world{'s' * (n_worlds != 1)} < {AUTO_CUPY_MIN_WORLDS}, "
            "where NumPy steps faster than CuPy's fixed per-step cost allows"
        )
    if cupy_usable():
        return "cupy", f"auto: {n_worlds} worlds >= {AUTO_CUPY_MIN_WORLDS} and a CUDA GPU answers"
    return "numpy", "auto: no CUDA GPU answers through CuPy"


def get_namespace(name: str = "auto") -> ModuleType:
    """Return the array-API namespace to create state in: NumPy's or CuPy's (compat wrappers).

    Args:
        name: ``"auto"`` (``$POWDERKEG_BACKEND`` if set, else CuPy when a GPU answers, else
            NumPy), ``"numpy"`` or ``"cupy"``.

    Returns:
        ``array_api_compat.numpy`` or ``array_api_compat.cupy``: standard-conforming
        namespaces whose arrays are plain ``numpy.ndarray`` / ``cupy.ndarray``.

    Raises:
        ValueError: ``name`` or ``$POWDERKEG_BACKEND`` is not one of auto, numpy, cupy.
        RuntimeError: CuPy was asked for explicitly and no GPU answers.
    """
    if backend_name(name) == "cupy":
        import array_api_compat.cupy as xp_cupy

        return xp_cupy
    import array_api_compat.numpy as xp_numpy

    return xp_numpy


def to_numpy(x: Any) -> np.ndarray:
    """Copy an array of any backend to a host NumPy array (no-op for NumPy arrays).

    Use it only at boundaries (data collection, plotting, files): on a GPU it synchronizes.
    """
    if isinstance(x, np.ndarray):
        return x
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    if hasattr(x, "__dlpack__"):
        return np.from_dlpack(x)
    return np.asarray(x)


def make_rng(xp: ModuleType, seed: int | None) -> Any:
    """A seeded random generator that draws on the backend of ``xp``.

    NumPy: ``numpy.random.Generator`` (PCG64); CuPy: ``cupy.random.Generator`` (XORWOW), so
    draws stay on the device. The two backends give different streams for the same seed; a
    model that must agree across backends draws on the host and transfers.
    """
    if array_api_compat.is_cupy_namespace(xp):
        import cupy

        return cupy.random.default_rng(seed)
    return np.random.default_rng(seed)


def broadcast_shapes(
    *shapes: tuple[int, ...], names: tuple[str, ...] | None = None
) -> tuple[int, ...]:
    """NumPy broadcasting of shapes, for namespaces without ``broadcast_shapes``.

    Args:
        *shapes: the shapes to broadcast together.
        names: what each shape belongs to, for the error message.

    Raises:
        ValueError: the shapes do not broadcast; the message names and lists them.
    """
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(-ndim, 0):
        sizes = {s[axis] for s in shapes if len(s) >= -axis and s[axis] != 1}
        if len(sizes) > 1:
            labels = names or tuple(f"argument {i}" for i in range(len(shapes)))
            listed = ", ".join(
                f"{name} {shape}" for name, shape in zip(labels, shapes, strict=True)
            )
            raise ValueError(f"batch (leading) axes do not broadcast together: {listed}")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def segment_sum(values: Any, segment_ids: Any, num_segments: int) -> Any:
    """Sum ``values`` over its last axis into ``num_segments`` buckets given by ``segment_ids``.

    ``out[..., s] = sum(values[..., k] for k where segment_ids[k] == s)``: the aggregation
    behind "losses per counterparty" when a network is an edge list rather than a dense matrix.

    Args:
        values: (..., K) amounts, one per edge.
        segment_ids: (K,) integer bucket of each edge, in ``[0, num_segments)``.
        num_segments: number of buckets S.

    Returns:
        (..., S) sums, in the namespace and dtype of ``values``.

    Fast paths on NumPy: a sparse matrix-vector product (SciPy's CSR kernel, see
    :func:`_matvec_rows`) when there are at least as many edges as buckets, else
    ``numpy.bincount`` (batched rows offset into one long bincount, 4-7x faster than
    ``numpy.add.at``); both add a bucket's edges in ascending edge order from 0.0 in float64,
    so they give the same bits. ``cupyx.scatter_add`` on CuPy. Any other namespace uses a
    one-hot matrix product, O(K·S) work, exact in the standard.
    """
    lead = values.shape[:-1]
    if isinstance(values, np.ndarray):  # the CPU path, taken hundreds of times a week: lean
        ids = np.asarray(segment_ids, dtype=np.intp)
        if values.ndim == 1:
            return np.bincount(ids, weights=values, minlength=num_segments).astype(
                values.dtype, copy=False
            )
        rows = math.prod(lead)
        flat = np.reshape(values, (rows, values.shape[-1]))
        return np.reshape(_sum_rows(flat, ids, num_segments), (*lead, num_segments))
    xp = array_namespace(values, segment_ids)
    if array_api_compat.is_cupy_array(values):
        import cupyx

        return scatter_segment_sum(xp, values, segment_ids, num_segments, cupyx.scatter_add)
    buckets = xp.arange(num_segments, dtype=segment_ids.dtype, device=values.device)
    one_hot = xp.astype(segment_ids[:, None] == buckets[None, :], values.dtype)
    return values @ one_hot


def segment_sum_at(values: Any, segment_ids: Any, targets: Any) -> Any:
    """The sums of buckets ``targets`` only: ``take(segment_sum(values, ids, S), targets)``.

    Args:
        values: (..., K) amounts, one per edge.
        segment_ids: (K,) integer bucket of each edge.
        targets: (T,) distinct buckets wanted.

    Returns:
        (..., T) sums, the bits of :func:`segment_sum` at those buckets (each target's edges
        are added in ascending edge order from 0.0, as there), without the (..., S) array of
        every bucket: edges into no target go to one spare bucket, dropped.
    """
    xp = array_namespace(values, segment_ids)
    t = targets.shape[0]
    hit = segment_ids[:, None] == targets[None, :]  # (K, T)
    found = xp.any(hit, axis=1)
    if t:  # the target each edge goes to (targets are distinct)
        first = xp.argmax(xp.astype(hit, xp.int8), axis=1)
        slot = xp.where(found, first, xp.full_like(first, t))
    else:
        slot = xp.zeros_like(segment_ids)
    return segment_sum(values, xp.astype(slot, segment_ids.dtype), t + 1)[..., :t]


#: the most bytes of edge indices one block of rows of a NumPy :func:`segment_sum` builds: the
#: rows are summed a block at a time, so that an edge list of E worlds (the deposit pools' 8,004
#: edges at E=1,000: 64 MB of indices) stays near the CPU's caches instead of growing with E.
#: 256 KiB (a quarter of a 2-core Xeon's 2 MiB L2 share) was the fastest of 128 KiB to 4 MiB
#: for the sparse path at the model's shapes (issue 18, measured in the segsum branch)
SEGMENT_CHUNK_BYTES = 2**18

#: the fewest values (rows·K) a NumPy :func:`segment_sum` sums by the sparse product: below it
#: the sort of the ids costs more than it saves (about 0.1 ms a call, measured as above)
SPARSE_MIN_VALUES = 2**16

#: the most bytes of edge indices a NumPy :func:`segment_sum` by bincount sums in one call rather
#: than in blocks of ``SEGMENT_CHUNK_BYTES``: at 1,000 worlds × 1,147 agents (issue 18, measured in
#: the scale6 branch, best of 5 × 10 calls) one call took 0.65 against 1.26 ms (45 edges), 0.97
#: against 1.36 (143) and 1.24 against 1.28 (262: 2 MiB of indices), while at 408 to 1,000 edges
#: small blocks were faster (1.36 against 1.54 ms; 1.92 against 2.8), as were one call's worth of
#: blocks of 2 MiB or more (their sums leave the caches before they are copied out)
BINCOUNT_WHOLE_BYTES = 2**21

try:  # SciPy's compiled CSR kernels (scipy is pinned in pyproject.toml): private, so guarded
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover - a SciPy without it sums by bincount alone
    _csr_matvec = None


def _sum_rows(flat: np.ndarray, ids: np.ndarray, num_segments: int) -> np.ndarray:
    """(rows, S) sums of each row of ``flat`` (rows, K) into buckets ``ids`` (K,), on NumPy.

    The sparse product when the edges are at least as many as the buckets and the rows hold
    ``SPARSE_MIN_VALUES`` values: it costs O(rows·(K+S)) and gathers into a register, 1.3-1.7x
    as fast as bincount's scatter at the deposit pools' 8,004 edges (issue 18, measured in the
    segsum branch, within model steps at 1,000 worlds); with fewer edges its per-bucket
    pointers (1,000 edges into 1,147 agents: 15% slower in a step), and with fewer values its
    setup (a sort of the K ids), cost more than bincount's scatter.
    """
    rows, edges = flat.shape
    sparse = edges >= num_segments and rows * edges >= max(SPARSE_MIN_VALUES, 1)
    if _csr_matvec is not None and sparse:
        return _matvec_rows(flat, ids, num_segments)
    return _bincount_rows(flat, ids, num_segments)


def _matvec_rows(flat: np.ndarray, ids: np.ndarray, num_segments: int) -> np.ndarray:
    """(rows, S) sums of each row of ``flat`` (rows, K) by a block-diagonal CSR product.

    A block of b rows is one vector of b·K values times the (b·S, b·K) 0/1 matrix whose row
    ``r·S + s`` holds the edges of bucket s in world-row r, in ascending edge order. SciPy's
    ``csr_matvec`` starts each output at its 0.0 and adds ``1.0 * x[k]`` over that row's
    columns in order (``scipy/sparse/sparsetools/csr.h``): the bincount's additions, in its
    order, in float64 (float32 values are widened, as bincount does), so the same bits,
    NaN, infinities and signed zeros included.
    """
    rows, edges = flat.shape
    counts = np.bincount(ids, minlength=num_segments)  # raises on a negative id
    if counts.shape[0] > num_segments:
        raise ValueError(f"segment ids reach {counts.shape[0] - 1}, past {num_segments} buckets")
    starts = np.zeros(num_segments, dtype=np.intp)
    np.cumsum(counts[:-1], out=starts[1:])
    order = np.argsort(_narrow(ids, num_segments), kind="stable")  # ascending edges per bucket
    block = min(rows, max(1, SEGMENT_CHUNK_BYTES // (edges * ids.itemsize)))
    shift = (np.arange(block, dtype=np.intp) * edges)[:, None]
    columns = np.reshape(order[None, :] + shift, -1)
    pointers = np.empty(block * num_segments + 1, dtype=np.intp)
    pointers[:-1] = np.reshape(starts[None, :] + shift, -1)
    pointers[-1] = block * edges
    ones = np.ones(block * edges)
    out = np.zeros((rows, num_segments))
    for lo in range(0, rows, block):
        n = min(block, rows - lo)
        k, s = n * edges, n * num_segments
        head = pointers if n == block else np.append(pointers[:s], k)  # the last block: shorter
        values = np.reshape(np.ascontiguousarray(flat[lo : lo + n], dtype=np.float64), -1)
        _csr_matvec(s, k, head, columns[:k], ones[:k], values, np.reshape(out[lo : lo + n], -1))
    return out.astype(flat.dtype, copy=False)


def _narrow(ids: np.ndarray, num_segments: int) -> np.ndarray:
    """``ids`` (all in ``[0, num_segments)``) as uint16 where they fit, else as they are.

    NumPy's stable sort of 16-bit integers is a radix sort: 4x as fast as of 64-bit ones at
    the deposit pools' 8,004 edges (70 against 300 microseconds, measured in the segsum branch).
    """
    return ids.astype(np.uint16) if num_segments <= 2**16 else ids


def _bincount_rows(flat: np.ndarray, ids: np.ndarray, num_segments: int) -> np.ndarray:
    """(rows, S) sums of each row of ``flat`` (rows, K) into buckets ``ids`` (K,), by bincount.

    One bincount per block of rows, each row offset into its own block of S buckets; a bucket
    belongs to one row, so it adds the same numbers in the same order whatever the blocks.
    The offset indices of a full block are built once and reused. Rows whose indices fit
    ``BINCOUNT_WHOLE_BYTES`` are summed by one bincount: blocks would copy each block's sums
    into the output, a second pass over (rows, S) that costs more than the sum itself.
    """
    rows, edges = flat.shape
    block = max(1, SEGMENT_CHUNK_BYTES // max(edges * ids.itemsize, 1))
    if rows * edges * ids.itemsize <= BINCOUNT_WHOLE_BYTES:  # few edges: one bincount
        block = rows
    index = (np.arange(min(block, rows), dtype=np.intp) * num_segments)[:, None] + ids[None, :]
    if rows <= block:
        sums = np.bincount(index.ravel(), weights=flat.ravel(), minlength=rows * num_segments)
        return np.reshape(sums.astype(flat.dtype, copy=False), (rows, num_segments))
    out = np.empty((rows, num_segments), dtype=flat.dtype)
    for lo in range(0, rows, block):
        n = min(block, rows - lo)
        sums = np.bincount(
            index[:n].ravel(), weights=flat[lo : lo + n].ravel(), minlength=n * num_segments
        )
        out[lo : lo + n] = np.reshape(sums, (n, num_segments))
    return out


def scatter_segment_sum(
    xp: ModuleType, values: Any, segment_ids: Any, num_segments: int, scatter_add: Any
) -> Any:
    """:func:`segment_sum` by an unbuffered scatter-add into a zeroed (rows, S) buffer.

    The CuPy path (``scatter_add=cupyx.scatter_add``). Its shape logic is the same on every
    backend, so the CPU tests run it with ``numpy.add.at`` and catch what only CuPy would reach:
    empty edge lists (K = 0), no buckets (S = 0), no rows and a 1-D ``values``. The row count is
    computed, never inferred with ``-1``, which an empty array cannot resolve.
    """
    lead = tuple(values.shape[:-1])
    rows = math.prod(lead)
    out = xp.zeros((rows, num_segments), dtype=values.dtype, device=values.device)
    if rows and values.shape[-1] and num_segments:
        flat = xp.reshape(values, (rows, values.shape[-1]))
        scatter_add(out, (slice(None), segment_ids), flat)
    return xp.reshape(out, (*lead, num_segments))


def cast_inputs(xp: ModuleType, dtype: Any, *arrays: Any) -> list[Any]:
    """Cast array arguments to the kernel's working ``dtype``; ``None`` and scalars pass through.

    Kernels compute in the dtype of their main input (holdings, liabilities, exposures), so a
    float32 run stays float32 even when a secondary argument arrives in float64.
    """
    return [
        a
        if a is None or isinstance(a, (bool, int, float)) or a.dtype == dtype
        else xp.astype(a, dtype)
        for a in arrays
    ]


def default_check_every(xp: ModuleType) -> int:
    """Rounds between convergence checks: 1 on NumPy (free), 8 on devices (a check syncs)."""
    return 1 if array_api_compat.is_numpy_namespace(xp) else 8


def array_namespace(*arrays: Any) -> ModuleType:
    """The common namespace of the array arguments, ignoring ``None`` and Python scalars."""
    found = [a for a in arrays if a is not None and not isinstance(a, (bool, int, float))]
    return array_api_compat.array_namespace(*found)
