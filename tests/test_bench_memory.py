"""The memory benchmark's meter: a step's peak counts what it holds between its measured rules."""

from __future__ import annotations

import numpy as np

from benchmarks.memory import PeakMeter

MIB = 2**20


def test_an_outer_peak_counts_what_it_held_between_inner_calls():
    meter = PeakMeter(np)

    def rule() -> None:
        np.ones(MIB // 8)  # 1 MiB, freed at once

    def step() -> None:
        meter.measure(rule)
        glue = np.ones(8 * MIB // 8)  # 8 MiB held between the rules, then freed
        del glue
        meter.measure(rule)

    with meter.active():
        peak = meter.measure(step)
    assert 8 * MIB <= peak < 9 * MIB
