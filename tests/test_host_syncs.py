"""The kernels synchronise with the host at most once per ``check_every`` rounds.

On a GPU every ``bool()``, ``int()`` or ``float()`` of a device array blocks until the device has
finished. array-api-strict arrays stand in for device arrays here: the test counts every
conversion of a strict array to a Python scalar during one kernel call.
"""

from __future__ import annotations

import math

import array_api_strict as xs
import numpy as np
import pytest

from benchmarks.instances import firesale_instance
from kernels.clearing import eisenberg_noe
from kernels.debtrank import debtrank
from kernels.firesale import fire_sale
from tests.conftest import count_waits

CONVERSIONS = ("__bool__", "__int__", "__float__", "__index__", "__complex__")


@pytest.fixture
def syncs(monkeypatch):
    """A list that records one entry per conversion of a strict array to a Python scalar."""
    return count_waits(monkeypatch, CONVERSIONS)


def strict(a):
    return xs.asarray(np.asarray(a), device=xs.Device("device1"))


@pytest.mark.parametrize("check_every", [4, 8])
def test_fire_sale_syncs_once_per_block(syncs, check_every):
    # the benchmark's episode: leveraged holders near their buffer after a price shock
    instance = firesale_instance(3, 100, 6, seed=0)
    args = {k: strict(v) if isinstance(v, np.ndarray) else v for k, v in instance.items()}
    res = fire_sale(**args, check_every=check_every)
    assert res.iterations > 2 * check_every, "want a cascade that spans several blocks"
    blocks = math.ceil(res.iterations / check_every)
    assert len(syncs) <= blocks + 1, syncs  # one per block, one for the reported iterations


def test_clearing_syncs_once_per_block(syncs):
    rng = np.random.default_rng(3)
    liabilities = rng.uniform(0.0, 1.0, (2, 30, 30)) * (rng.random((2, 30, 30)) < 0.3)
    external = 0.6 * rng.random((2, 30)) * liabilities.sum(axis=-1)
    res = eisenberg_noe(strict(liabilities), strict(external), check_every=8)
    assert res.iterations > 8
    assert len(syncs) <= math.ceil(res.iterations / 8) + 1, syncs


def test_debtrank_syncs_once_per_block(syncs):
    rng = np.random.default_rng(4)
    exposures = rng.uniform(0.0, 1.0, (2, 30, 30)) * (rng.random((2, 30, 30)) < 0.3)
    equity = exposures.sum(axis=-1) * rng.uniform(0.5, 2.0, (2, 30)) + 0.1
    shock = np.zeros((2, 30))
    shock[:, 0] = 1.0
    res = debtrank(strict(exposures), strict(equity), strict(shock), check_every=8)
    assert res.iterations > 8
    assert len(syncs) <= math.ceil(res.iterations / 8) + 1, syncs
