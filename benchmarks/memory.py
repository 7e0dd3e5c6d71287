"""Memory of the model benchmark: the world state's bytes and one step's peak temporaries.

Two figures per E, each also per 1,000 worlds (the issue's target is at most 1 GiB of device
memory per 1,000 worlds, so that 10^5 worlds fit on one GPU):

- **State bytes**: every array reachable from the model (the world state, the mechanisms, the
  balance sheets and the snapshot's declared arrays the model keeps until the next step), each
  underlying buffer counted once however many views point at it.
- **Peak temporary bytes of a step**: the most memory a weekly step holds beyond the state, overall
  and per rule of the week (and the snapshot). On NumPy from ``tracemalloc``, to which NumPy reports
  its array buffers (traced from before the model is built when the caller starts the meter
  first, as the model benchmark does: tracemalloc ignores the release of a buffer it did not see
  allocated, so a state array a rule replaces would otherwise count twice); on CuPy from the
  default memory pool: its cached blocks are released before each measured call, so the pool's
  size after the call is the high-water of live device memory during it (rounded up to the
  pool's blocks).

Figures are reported, never asserted.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from benchmarks.environment import is_cupy, synchronize

#: packages whose objects are searched for arrays (Mesa's own bookkeeping is not world state)
OWN_PACKAGES = ("abm", "kernels", "experiments")
LARGEST = 8  # largest buffers listed by name
GIB = 2**30


def _is_array(obj: Any) -> bool:
    return hasattr(obj, "__array_namespace__") and hasattr(obj, "nbytes")


def _buffer(array: Any) -> Any:
    """The array that owns ``array``'s memory (itself unless it is a view)."""
    while getattr(array, "base", None) is not None and _is_array(array.base):
        array = array.base
    return array


def _children(path: str, obj: Any) -> Iterator[tuple[str, Any]]:
    """Named members worth searching: containers' items and attributes of the project's objects."""
    if isinstance(obj, dict):
        yield from ((f"{path}[{key!r}]", value) for key, value in obj.items())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        yield from ((f"{path}[{i}]", value) for i, value in enumerate(obj))
    elif type(obj).__module__.split(".")[0] in OWN_PACKAGES or path == "model":
        yield from ((f"{path}.{name}", value) for name, value in vars(obj).items())


def state_buffers(model: Any) -> dict[int, tuple[str, Any]]:
    """Every array buffer reachable from ``model``: id of the owning buffer -> (name, buffer).

    A buffer reached along several paths is named by the shortest (the snapshot's one-world
    views last), so the state's own arrays keep their mechanism's name.
    """
    found: dict[int, tuple[str, Any]] = {}
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("model", model)]
    while stack:
        path, obj = stack.pop()
        if _is_array(obj):
            buffer = _buffer(obj)
            old = found.get(id(buffer))
            if old is None or _rank(path) < _rank(old[0]):
                found[id(buffer)] = (path, buffer)
            continue
        if id(obj) in seen or not (
            hasattr(obj, "__dict__") or isinstance(obj, (dict, list, tuple))
        ):
            continue
        seen.add(id(obj))
        stack.extend(_children(path, obj))
    return found


def _rank(path: str) -> tuple[bool, int]:
    return ("_world_view" in path, len(path))


class PeakMeter:
    """The most memory held above a starting point while a call runs, on NumPy or CuPy.

    Calls may nest (a step around its rules): each measurement restarts the backend's own
    high-water mark, so the meter keeps the highest absolute mark seen in ``high`` and an outer
    call's peak is the larger of its own mark and its inner calls'.
    """

    def __init__(self, xp: Any) -> None:
        self.xp = xp
        self.source = "cupy default memory pool" if is_cupy(xp) else "tracemalloc"
        self.high = 0

    @contextmanager
    def active(self) -> Iterator[None]:
        """Trace allocations (NumPy) for the duration of the block."""
        if is_cupy(self.xp) or tracemalloc.is_tracing():  # already traced: by the caller
            yield
            return
        tracemalloc.start()
        try:
            yield
        finally:
            tracemalloc.stop()

    def _held(self) -> int:
        """Bytes held now: traced (NumPy) or in use in the pool, its cache released (CuPy)."""
        if is_cupy(self.xp):
            import cupy

            pool = cupy.get_default_memory_pool()
            pool.free_all_blocks()
            return int(pool.used_bytes())
        tracemalloc.reset_peak()
        return int(tracemalloc.get_traced_memory()[0])

    def _mark(self) -> int:
        """The backend's high-water mark since :meth:`_held`."""
        if is_cupy(self.xp):
            import cupy

            return int(cupy.get_default_memory_pool().total_bytes())
        return int(tracemalloc.get_traced_memory()[1])

    def measure(self, call: Callable[[], Any]) -> int:
        """Run ``call``; bytes of the peak held during it beyond what was held before.

        The enclosing call's mark is read before this call restarts it, so that what the
        enclosing call held between two measured calls (a step's glue between its rules) still
        counts in its peak.
        """
        synchronize(self.xp)
        outer = max(self.high, self._mark())
        before = self._held()
        self.high = 0
        call()
        synchronize(self.xp)
        peak = max(self._mark(), self.high)
        self.high = max(outer, peak)
        return peak - before


def _per_1000(nbytes: float, worlds: int) -> float:
    return nbytes / worlds * 1000 / GIB


def step_memory(model: Any, worlds: int) -> dict[str, Any]:
    """State bytes and the peak temporaries of one weekly step of ``model`` (already warmed up).

    The step is ``model.step`` itself; each rule of the week and the snapshot are measured inside
    it through wrappers on this model instance, as the phase timers do.
    """
    meter = PeakMeter(model.xp)
    buffers = state_buffers(model).values()
    state = sum(int(b.nbytes) for _, b in buffers)
    largest = [
        {"name": name, "shape": list(b.shape), "dtype": str(b.dtype), "bytes": int(b.nbytes)}
        for name, b in sorted(buffers, key=lambda nb: -int(nb[1].nbytes))[:LARGEST]
    ]
    del buffers  # a reference kept here would keep every array the step replaces alive
    calls: dict[str, int] = {}

    def measured(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            calls[name] = max(calls.get(name, 0), meter.measure(lambda: func(*args)))

        return run

    rules, snapshot = model.rules, model.take_snapshot
    model.rules = tuple(replace(r, run=measured(r.name, r.run)) for r in rules)
    model.take_snapshot = measured("snapshot", snapshot)
    try:
        with meter.active():
            step = meter.measure(model.step)
    finally:
        model.rules = rules
        del model.take_snapshot  # the instance attribute shadowed the method
    ranked = sorted(calls.items(), key=lambda kv: -kv[1])
    return {
        "E": worlds,
        "source": meter.source,
        "state_bytes": state,
        "state_gib_per_1000_worlds": _per_1000(state, worlds),
        "step_peak_bytes": step,
        "step_peak_gib_per_1000_worlds": _per_1000(step, worlds),
        "total_gib_per_1000_worlds": _per_1000(state + step, worlds),
        "largest_state_arrays": largest,
        "call_peak_bytes": [{"call": name, "bytes": nbytes} for name, nbytes in ranked],
    }


__all__ = ["PeakMeter", "state_buffers", "step_memory"]
