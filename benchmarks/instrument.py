"""Instrumentation of the model benchmark: what is timed in a step, and the timers themselves.

:data:`PHASES` are the model's components timed as phases of a weekly step (the rules of
:data:`abm.rules.WEEK` and the snapshot); :data:`KERNELS` are the iterative kernels whose rounds
are counted, and timed as sub-phases, wherever ``abm`` calls them. :class:`Phases` wraps a
function so that each call adds its inclusive wall time under its label and the label of the
timed call it ran inside (on CuPy it synchronizes the device before and after);
:class:`Iterations` sums a kernel's ``result.iterations`` per step; :func:`instrument_kernels`
swaps the kernels for those wrappers in every loaded ``abm`` module and restores them after.
"""

from __future__ import annotations

import functools
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from abm.rules import WEEK
from benchmarks.environment import synchronize

#: (label, owner attribute of the model or None for the model itself, method), in step order:
#: the rules of the week (abm.rules.WEEK) and the snapshot; a rule that runs twice a week (the
#: bailouts) is one phase; time outside them is "other"
PHASES = (
    *dict(
        ((mechanism, method), (name.split(" (")[0], mechanism, method))
        for name, mechanism, method in WEEK
        if not name.endswith("(after sale)")
    ).values(),
    ("snapshot", None, "take_snapshot"),
)
#: iterative kernels whose rounds are counted (and timed as sub-phases) where ``abm`` calls them
KERNELS = {
    "fire_sale": ("kernels.firesale", "fire_sale"),
    "eisenberg_noe": ("kernels.clearing", "eisenberg_noe"),
}


#: a timed call: its label and the label of the timed call it ran inside (None: the step)
Key = tuple[str, str | None]


@dataclass
class Phases:
    """Inclusive wall time and calls per (label, enclosing label) of the wrapped functions."""

    xp: ModuleType
    totals: dict[Key, float] = field(default_factory=dict)
    calls: dict[Key, int] = field(default_factory=dict)
    stack: list[str] = field(default_factory=list)
    wrapped: list[str] = field(default_factory=list)

    def wrap(self, label: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func``, timed under ``label`` on every call."""
        self.wrapped.append(label)

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            synchronize(self.xp)
            key = (label, self.stack[-1] if self.stack else None)
            self.stack.append(label)
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                synchronize(self.xp)
                elapsed = time.perf_counter() - start
                self.stack.pop()
                self.totals[key] = self.totals.get(key, 0.0) + elapsed
                self.calls[key] = self.calls.get(key, 0) + 1

        return timed


@dataclass
class Iterations:
    """Iterations of each counted kernel, summed over the calls of the current step."""

    current: dict[str, int] = field(default_factory=dict)
    per_step: dict[str, list[int]] = field(default_factory=dict)

    def wrap(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func``, with the ``iterations`` of each result added to kernel ``name``'s count."""

        @functools.wraps(func)
        def counted(*args: Any, **kwargs: Any) -> Any:
            result = func(*args, **kwargs)
            done = getattr(result, "iterations", None)
            if done is not None:
                self.current[name] = self.current.get(name, 0) + int(done)
            return result

        return counted

    def end_step(self, record: bool) -> None:
        """Close the step: keep its counts when ``record`` (a timed step), then start afresh."""
        if record:
            for name in KERNELS:
                self.per_step.setdefault(name, []).append(self.current.get(name, 0))
        self.current = {}

    def summary(self) -> dict[str, Any]:
        """Per kernel that iterated: mean, max and total iterations per recorded step."""
        return {
            name: {"mean": statistics.fmean(v), "max": max(v), "total": sum(v)}
            for name, v in self.per_step.items()
            if v and max(v) > 0
        }


@contextmanager
def instrument_kernels(counter: Iterations, phases: Phases | None = None) -> Iterator[list[str]]:
    """Swap the kernels for counting (and timing) wrappers in every loaded ``abm`` module.

    Yields the ``module.name`` places patched; everything is restored on exit.
    """
    import importlib

    patched: list[tuple[ModuleType, str, Any]] = []
    try:
        for name, (module_name, attr) in KERNELS.items():
            try:
                original = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError):
                continue
            wrapped = counter.wrap(name, original)
            if phases is not None:
                wrapped = phases.wrap(name, wrapped)
            for mod_name, mod in list(sys.modules.items()):
                if mod_name.split(".")[0] == "abm" and getattr(mod, attr, None) is original:
                    setattr(mod, attr, wrapped)
                    patched.append((mod, attr, original))
        yield [f"{m.__name__}.{a}" for m, a, _ in patched]
    finally:
        for mod, attr, original in reversed(patched):
            setattr(mod, attr, original)


__all__ = ["KERNELS", "PHASES", "Iterations", "Key", "Phases", "instrument_kernels"]
