"""Debt owed by one segment sum over the bonds and the debt pools gives the pool-by-pool bits."""

from __future__ import annotations

import types

import array_api_compat.numpy as xp
import numpy as np

from abm.claims import DEBT_POOLS, debt_owed
from abm.ledger import Ledger

E, N = 4, 9


def test_debt_owed_adds_pool_by_pool_bits_signed_zeros_included():
    # issue 18: one sum from 0.0 over bonds then each pool's face, in DEBT_POOLS order
    rng = np.random.default_rng(11)
    ledger = Ledger(xp, cash=np.zeros((E, N)))
    for name in DEBT_POOLS:
        issuers = np.sort(rng.choice(N, size=int(rng.integers(1, N)), replace=False))
        face = rng.exponential(size=(E, issuers.size)) * 10.0 ** rng.integers(
            -20, 20, (E, issuers.size)
        )
        face[rng.random(face.shape) < 0.3] = -0.0
        ledger.add_pool(name, issuers, np.array([0]), face, np.zeros((E, 1)))
    bonds = rng.normal(size=(E, N))
    bonds[rng.random(bonds.shape) < 0.3] = -0.0
    sheets = types.SimpleNamespace(xp=xp, ledger=ledger, bonds=bonds)
    expected = bonds * 1.0
    for name in DEBT_POOLS:
        expected = expected + ledger.owed(name)
    np.testing.assert_array_equal(debt_owed(sheets).view(np.int64), expected.view(np.int64))
