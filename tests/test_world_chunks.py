"""Rules that build (worlds, rows, assets) temporaries a chunk of worlds at a time are exact.

``abm.arrays.CHUNK_BYTES`` bounds one chunk's temporary (issue 18: at most 1 GiB per 1,000
worlds). Worlds are independent, so a run whose every rule splits the worlds into one-world
chunks must give the same bits as a run that takes them all at once, on NumPy and on
array-api-strict, in float64 and in float32.
"""

from __future__ import annotations

import array_api_strict as xs
import numpy as np
import pytest

import abm.arrays
import abm.fire_sales
import abm.model
from abm.arrays import world_chunks
from experiments.build import build_model
from experiments.scenarios import load_preset
from kernels.backend import to_numpy
from kernels.firesale import fire_sale

WEEKS = 12  # past the preset's first shocks: cohorts panic and the market clears with sales
WORLDS = 3


def build(preset: str, dtype: str = "float64") -> abm.model.Powderkeg:
    return build_model(
        load_preset(preset), n_worlds=WORLDS, seed=0, backend="numpy", n_cohorts=8,
        collect_agents=False, dtype=dtype,
    )  # fmt: skip


def run(preset: str, dtype: str) -> dict[str, np.ndarray]:
    """Every reported series over :data:`WEEKS` weeks, and the holdings and cash at the end."""
    model = build(preset, dtype)
    weeks = []
    for _ in range(WEEKS):
        model.step()
        weeks.append(dict(model.week_series))
    out = {key: np.array([week[key] for week in weeks]) for key in weeks[0]}
    out["holdings"] = to_numpy(model.sheets.holdings)
    out["cash"] = to_numpy(model.sheets.ledger.cash)
    out["panicking"] = to_numpy(model.retail.panicking)
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("namespace", ["numpy", "array_api_strict"])
def test_one_world_chunks_give_the_bits_of_one_chunk(monkeypatch, namespace, dtype):
    if namespace == "array_api_strict":
        monkeypatch.setattr(abm.model, "get_namespace", lambda name: xs)
    whole = run("severe_ai_bust", dtype)
    assert whole["panicking"].any()  # the panic branch is exercised
    monkeypatch.setattr(abm.arrays, "CHUNK_BYTES", 1)  # every chunk holds one world
    chunked = run("severe_ai_bust", dtype)
    assert chunked.keys() == whole.keys()
    for key, want in whole.items():
        assert np.array_equal(chunked[key], want, equal_nan=True), key


def test_chunks_cover_the_worlds_once_within_the_budget(monkeypatch):
    monkeypatch.setattr(abm.arrays, "CHUNK_BYTES", 100)
    chunks = world_chunks(10, 30)  # three worlds of 30 bytes fit 100 bytes
    assert chunks == [slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 10)]
    assert world_chunks(2, 1000) == [slice(0, 1), slice(1, 2)]  # at least one world a chunk
    assert world_chunks(0, 30) == []


def test_the_clearing_settles_in_place_the_holdings_the_kernel_returns(monkeypatch):
    model = build("severe_ai_bust")
    for _ in range(WEEKS):
        model.step()
    before = to_numpy(model.sheets.holdings).copy()
    returned = []

    def kernel(*args, **options):
        returned.append(to_numpy(fire_sale(*args, **{**options, "return_holdings": True}).holdings))
        return fire_sale(*args, **options)

    monkeypatch.setattr(abm.fire_sales, "fire_sale", kernel)
    monkeypatch.setattr(abm.arrays, "CHUNK_BYTES", 1)  # settled one world at a time
    model.fire_sales.step(model.state)
    assert len(returned) == WORLDS  # cleared one world a call (NumPy)
    kernel_holdings = np.concatenate(returned)
    assert (kernel_holdings < before).any()  # the clearing sold something
    assert np.array_equal(to_numpy(model.sheets.holdings), kernel_holdings)


def test_a_gpu_chunk_holds_more_worlds_than_a_host_chunk(monkeypatch):
    # CuPy pays kernel launches per chunk, NumPy its caches: each has its own budget
    monkeypatch.setattr(abm.arrays, "CHUNK_BYTES", 100)
    monkeypatch.setattr(abm.arrays, "DEVICE_CHUNK_BYTES", 300)
    monkeypatch.setattr(abm.arrays, "is_cupy_namespace", lambda xp: xp == "cupy")
    assert len(world_chunks(10, 30, np)) == 4  # three worlds a chunk
    assert len(world_chunks(10, 30, "cupy")) == 1  # ten worlds fit 300 bytes
