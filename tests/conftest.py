"""Shared fixtures: the array namespaces every kernel test runs on.

``ns`` parametrizes a test over
- ``numpy``: plain NumPy arrays;
- ``numpy_readonly``: NumPy arrays with ``writeable = False`` (catches in-place mutation of inputs);
- ``strict``: array-api-strict on a non-default device (catches NumPy-only habits and host/device
  mixing, the way CuPy would);
- ``strictest``: array-api-strict with boolean indexing and data-dependent shapes switched off
  (what CUDA-graph capture needs);
- ``cupy``: CuPy on a GPU, skipped when none answers.

Use ``ns.put(a)`` to move a NumPy input into the namespace and ``ns.get(x)`` to bring a result back;
``ns.check(x, dtype)`` asserts that a result lives in the namespace with the expected dtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import array_api_compat
import array_api_strict as xs
import numpy as np
import pytest

from kernels.backend import cupy_usable, to_numpy

NAMESPACES = ["numpy", "numpy_readonly", "strict", "strictest", "cupy"]
DTYPES = [np.float32, np.float64]


@dataclass
class Namespace:
    """How to move arrays into and out of one test namespace."""

    name: str

    def put(self, a: Any) -> Any:
        if a is None or isinstance(a, (int, float)):
            return a
        a = np.asarray(a)
        if self.name == "numpy":
            return a.copy()
        if self.name == "numpy_readonly":
            a = a.copy()
            a.flags.writeable = False
            return a
        if self.name in ("strict", "strictest"):
            return xs.asarray(a, device=xs.Device("device1"))
        import cupy

        return cupy.asarray(a)

    def get(self, x: Any) -> np.ndarray:
        if self.name in ("strict", "strictest"):
            return np.from_dlpack(xs.asarray(x, device=xs.Device("CPU_DEVICE")))
        return np.asarray(to_numpy(x))

    def check(self, x: Any, dtype: Any) -> None:
        """Assert that ``x`` is an array of this namespace with the NumPy dtype ``dtype``."""
        if self.name in ("strict", "strictest"):
            assert isinstance(x, xs._array_object.Array), type(x)
            assert str(x.dtype).rsplit(".", 1)[-1] == np.dtype(dtype).name, (x.dtype, dtype)
            return
        if self.name == "cupy":
            assert array_api_compat.is_cupy_array(x), type(x)
        else:  # unbatched results may be NumPy scalars (0-d), which array_api_compat accepts
            assert isinstance(x, (np.ndarray, np.generic)), type(x)
        assert x.dtype == np.dtype(dtype), (x.dtype, dtype)


@pytest.fixture(params=NAMESPACES)
def ns(request):
    name = request.param
    if name == "cupy" and not cupy_usable():
        pytest.skip("no CUDA GPU answers through CuPy")
    if name == "strictest":
        xs.set_array_api_strict_flags(boolean_indexing=False, data_dependent_shapes=False)
    try:
        yield Namespace(name)
    finally:
        xs.reset_array_api_strict_flags()


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request):
    return request.param


def tolerance(dtype: Any) -> dict[str, float]:
    """rtol/atol for comparing a kernel with its float64 reference."""
    if np.dtype(dtype) == np.float32:
        return {"rtol": 2e-4, "atol": 2e-4}
    return {"rtol": 1e-8, "atol": 1e-9}


def count_waits(monkeypatch: pytest.MonkeyPatch, methods: tuple[str, ...]) -> list[str]:
    """A list that grows by one, with the method's name, at each call of ``methods`` on a strict
    array: conversions to Python scalars (a host synchronisation on a GPU) or host copies."""
    calls: list[str] = []
    array = xs._array_object.Array
    for name in methods:
        original = getattr(array, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(array, name, counted)
    return calls
