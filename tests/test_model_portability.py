"""The whole week runs on array-api-strict; its rules wait on the device a fixed number of times.

array-api-strict implements the array API standard and nothing more: a NumPy-only call (Python
scalars on both sides of ``where``, boolean arithmetic, indexing that drops axes, ``finfo.tiny``)
fails there as it would on CuPy, so running every preset on it exercises on the CPU each line
that only a GPU would otherwise reach. Its arrays also stand in for device arrays in counting host
synchronisations: every ``bool()``, ``int()`` or ``float()`` of a device array blocks until the
GPU has finished (issue 18; the kernels' own budget: tests/test_host_syncs.py).
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict

import array_api_strict as xs
import numpy as np
import pytest

import abm.model
from abm.random import WorldStreams
from experiments.build import build_model
from experiments.scenarios import load_preset, preset_names
from tests.conftest import count_waits

WEEKS = 16  # past every preset's first shocks (weeks 1-10) and the first rating review (13)
#: Relative tolerance of a series against the largest value it takes in the NumPy run. The two
#: runs differ only in the order of summation: strict has no ``bincount``, so ``segment_sum``
#: is a one-hot matrix product, and the kernels test convergence every 8 rounds instead of every
#: round (settled worlds are frozen, so that changes nothing). Measured: at most 1e-13 over 16
#: weeks; a branch taken differently (a default, a breach, a sale) moves a series by far more.
RTOL = 1e-9
#: Host synchronisations the rules may make in one week, at most. Measured at most 18 (16 weeks,
#: every preset, E = 2 and 5, 8 and 16 cohorts): each kernel call syncs once per 8 rounds and
#: once for the rounds it reports (circular deals, fire sale, the reserve waterfall's tiers, the
#: clearing of failures); the waterfall checks before each tier whether anyone still needs cash,
#: the clearing of failures whether anyone could default, and the quarterly rating review
#: whether any bond fell from investment grade. Each check skips a kernel call or a network.
SYNC_BUDGET = 24
#: Waits of the rest of a step: the series copied to the host, one transfer per dtype.
SNAPSHOT_SYNCS = 3
#: what waits on the device: a conversion to a Python scalar, or a copy to the host
WAITS = ("__bool__", "__int__", "__float__", "__index__", "__complex__", "__buffer__",
         "__dlpack__", "__array__")  # fmt: skip


@pytest.fixture
def on_strict(monkeypatch):
    """Models built while this fixture is active keep their state in array-api-strict arrays."""
    monkeypatch.setattr(abm.model, "get_namespace", lambda name: xs)


#: a strict device that is not the default one: a copy to the host that the code did not ask for
#: through kernels.backend.to_numpy fails there, as it would on a GPU
DEVICE = xs.Device("device1")


def build(preset: str, n_worlds: int = 2, device=None) -> abm.model.Powderkeg:
    return build_model(
        load_preset(preset), n_worlds=n_worlds, seed=0, backend="numpy", n_cohorts=8,
        collect_agents=False, device=device,
    )  # fmt: skip


def weekly_series(model: abm.model.Powderkeg) -> dict[str, np.ndarray]:
    """(weeks, E) of every series the model reports, over :data:`WEEKS` steps."""
    weeks = []
    for _ in range(WEEKS):
        model.step()
        weeks.append(dict(model.week_series))
    return {key: np.array([week[key] for week in weeks], dtype=float) for key in weeks[0]}


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_runs_on_strict_and_agrees_with_numpy(monkeypatch, preset):
    expected = weekly_series(build(preset))
    with monkeypatch.context() as patch:
        patch.setattr(abm.model, "get_namespace", lambda name: xs)
        model = build(preset, device=DEVICE)
        assert isinstance(model.state.defaulted, xs._array_object.Array)
        assert model.state.defaulted.device == DEVICE
        found = weekly_series(model)
    assert found.keys() == expected.keys()
    for key, want in expected.items():
        scale = float(np.max(np.abs(want), initial=0.0)) or 1.0
        np.testing.assert_allclose(found[key], want, rtol=0.0, atol=RTOL * scale, err_msg=key)
    assert np.array_equal(found["defaults_total"], expected["defaults_total"])


@pytest.fixture
def syncs(monkeypatch):
    """A list that grows by one each time a strict array goes to a Python scalar or the host."""
    return count_waits(monkeypatch, WAITS)


def rule_syncs(preset: str, n_worlds: int, calls: list[str]) -> dict[str, list[int]]:
    """Host synchronisations of each rule in each of :data:`WEEKS` weeks, on identical worlds.

    ``"outside the rules"``: those of the rest of the step (the snapshot, the series, Mesa's
    collector).
    """
    model = build(preset, n_worlds, device=DEVICE)
    counts: dict[str, list[int]] = defaultdict(list)

    def counting(rule):
        def run(state):
            before = len(calls)
            rule.run(state)
            counts[rule.name].append(len(calls) - before)

        return dataclasses.replace(rule, run=run)

    model.rules = [counting(rule) for rule in model.rules]
    for week in range(WEEKS):
        before = len(calls)
        model.step()
        in_rules = sum(weeks[week] for weeks in counts.values() if len(weeks) > week)
        counts["outside the rules"].append(len(calls) - before - in_rules)
    return {name: weeks for name, weeks in counts.items() if any(weeks)}


def test_rules_sync_a_fixed_number_of_times_whatever_the_worlds(on_strict, monkeypatch, syncs):
    # the backstop preset has every synchronising rule at work: reserves sold tier by tier (up
    # to 12 a week), failures cleared (4), circular deals and the fire sale (2 each)
    preset = "policy_backstop"
    # every world draws world 0's numbers, so more worlds change no branch: any count that
    # still grows with E is a loop over worlds on the host
    monkeypatch.setattr(
        abm.model,
        "WorldStreams",
        lambda xp, seeds, **options: WorldStreams(xp, [seeds[0]] * len(seeds), **options),
    )
    two, five = rule_syncs(preset, 2, syncs), rule_syncs(preset, 5, syncs)
    assert two == five, f"per rule and week, E=2: {two}; E=5: {five}"
    outside = two.pop("outside the rules")
    per_week = np.sum([weeks for weeks in two.values()], axis=0)
    assert per_week.max() <= SYNC_BUDGET, f"{per_week.max()} > {SYNC_BUDGET}: {two}"
    # the series come over in one transfer per dtype (float, integer, bool); a week in which
    # shocks drawn from a range strike adds one copy of each one's draws (abm.shocks)
    drawn = Counter(s.week for s in load_preset(preset).shocks if s.range is not None)
    allowed = [SNAPSHOT_SYNCS + drawn[week + 1] for week in range(WEEKS)]
    assert all(n <= a for n, a in zip(outside, allowed, strict=True)), (outside, allowed)
