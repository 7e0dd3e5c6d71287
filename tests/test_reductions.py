"""Per-world medians, minima and percentiles on the device equal NumPy's nan-functions bit for bit.

The series are reduced where the state lives (abm.reductions); NumPy's ``nanmedian``,
``nanmin`` and ``nanpercentile`` are the per-row references, on every namespace and dtype.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.reductions import masked_median, masked_min, masked_percentile


def _reference(values: np.ndarray, keep: np.ndarray, how: str, percent: float = 50.0):
    masked = np.where(keep, values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows with nothing kept: NaN
        if how == "median":
            return np.nanmedian(masked, axis=1)
        if how == "min":
            return np.nanmin(masked, axis=1)
        return np.nanpercentile(masked, percent, axis=1)


def _rows(seed: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Rows with ties, infinities, NaN, nothing kept, one kept and everything kept."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(7, 11)).astype(dtype)
    values[0, :4] = 2.5  # ties
    values[1, 3] = np.inf  # a kept infinite leverage
    values[2, 5] = np.nan  # a NaN ratio is never counted
    keep = rng.random((7, 11)) < 0.6
    keep[3] = False  # every agent failed
    keep[4] = False
    keep[4, 6] = True  # one left
    keep[5] = True  # none failed
    return values, keep


@pytest.mark.parametrize("how", ["median", "min", "p10", "p90", "p0", "p100"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reductions_match_numpy_nan_functions(ns, dtype, how, seed):
    values, keep = _rows(seed, dtype)
    if how == "median":
        got = masked_median(ns.put(values), ns.put(keep))
    elif how == "min":
        got = masked_min(ns.put(values), ns.put(keep))
    else:
        got = masked_percentile(ns.put(values), ns.put(keep), float(how[1:]))
    percent = float(how[1:]) if how.startswith("p") else 50.0
    expected = _reference(values, keep, how if how in ("median", "min") else "p", percent)
    ns.check(got, dtype)
    np.testing.assert_array_equal(ns.get(got), expected.astype(dtype))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    percent=st.floats(0.0, 100.0),
    seed=st.integers(0, 2**16),
    kept=st.floats(0.0, 1.0),
)
def test_percentiles_and_medians_are_numpys_for_any_row(n, percent, seed, kept):
    rng = np.random.default_rng(seed)
    values = rng.lognormal(size=(3, n))
    keep = rng.random((3, n)) < kept
    np.testing.assert_array_equal(
        masked_percentile(values, keep, percent), _reference(values, keep, "p", percent)
    )
    np.testing.assert_array_equal(masked_median(values, keep), _reference(values, keep, "median"))


def test_no_agents_give_nan_for_every_world():
    empty = np.zeros((3, 0))
    for got in (
        masked_median(empty, empty > 0),
        masked_min(empty, empty > 0),
        masked_percentile(empty, empty > 0, 10.0),
    ):
        assert got.shape == (3,) and np.isnan(got).all()
