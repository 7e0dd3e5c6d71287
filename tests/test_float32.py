"""A float32 state (``Powderkeg(dtype="float32")``): it stays float32, its books balance, and its
outcomes stay close to float64's on the same seeds.

The tolerances were written before the runs they check (README "Speed and memory on a CPU" has
the measured figures of every preset, from ``python -m benchmarks.float32_accuracy``):

- **books**: each accounting gap (money, the largest pool imbalance, the largest equity difference)
  at most 1e-5 of the agents' total balance sheet. A float32 sum rounds at 6e-8 of its size; a
  week books tens of flows into an account, so a half-year run may drift by a few hundred ulps of
  the largest balances, about 1e-5 of the whole; float64 stays below 1e-12 of it.
- **outcomes**: the defaults identical; the AI equity index (1 at the start) within 1e-4; the
  banks' aggregate CET1 ratio within 1e-5 (0.001 percentage points); the retail loss within 1e-4
  of the cohorts' starting wealth. Each is a few hundred float32 ulps of its scale: a price path or
  a ratio that rounds differently each week, not a different story.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.model import Powderkeg
from benchmarks.float32_accuracy import device_state, run_preset

WORLDS, WEEKS, SEED, COHORTS = 3, 26, 7, 100
BOOKS_RELATIVE = 1e-5
TOLERANCE = {"ai_equity_index": 1e-4, "bank_cet1_system": 1e-5}
RETAIL_RELATIVE = 1e-4


@pytest.fixture(scope="module", params=["baseline", "ai_archegos"])
def runs(request):
    """One preset at float64 and at float32 on the same seeds."""
    preset = request.param
    return {d: run_preset(preset, d, WORLDS, WEEKS, SEED, COHORTS) for d in ("float64", "float32")}


def test_every_state_array_stays_float32(runs):
    assert runs["float32"]["leaks"] == []


def test_float32_books_balance(runs):
    narrow = runs["float32"]
    for name, gap in narrow["gap"].items():
        assert gap <= BOOKS_RELATIVE * narrow["size"], (name, gap, narrow["size"])
    wide = runs["float64"]
    assert max(wide["gap"].values()) <= 1e-12 * wide["size"]


def test_float32_outcomes_match_float64(runs):
    a, b = runs["float64"]["series"], runs["float32"]["series"]
    assert (a["defaults_total"].to_numpy() == b["defaults_total"].to_numpy()).all()
    for column, tolerance in TOLERANCE.items():
        diff = np.abs(a[column].to_numpy(float) - b[column].to_numpy(float))
        assert np.nanmax(diff) <= tolerance, (column, np.nanmax(diff))
    wealth = float(a["retail_wealth_usd_bn"].iloc[0])
    diff = np.abs(a["retail_loss_usd_bn"].to_numpy(float) - b["retail_loss_usd_bn"].to_numpy(float))
    assert diff.max() <= RETAIL_RELATIVE * wealth, (diff.max(), wealth)


def test_state_arrays_are_float32_after_build():
    model = Powderkeg(n_worlds=WORLDS, seed=1, n_cohorts=20, dtype="float32", backend="numpy")
    found = device_state(model)
    assert len(found) > 50  # the walk reaches the state's arrays
    assert [p for p, a in found if a.dtype != np.float32] == []


def test_unknown_dtype_is_refused():
    with pytest.raises(ValueError, match="dtype must be one of float64, float32"):
        Powderkeg(n_worlds=1, dtype="float16")
