"""The host snapshot: declared by the mechanisms, copied to the host once per dtype."""

import array_api_strict as xs
import numpy as np
import pytest

import abm.snapshot as snapshot
from abm.model import Powderkeg
from abm.rules import Rule
from abm.snapshot import Books


def test_numpy_arrays_are_handed_over_as_they_are():
    values = {"a": np.arange(3.0), "b": np.array([True, False])}
    host = snapshot.to_host(values)
    assert host["a"] is values["a"] and host["b"] is values["b"]


def test_device_arrays_come_over_in_one_transfer_per_dtype(monkeypatch):
    copies = []
    original = snapshot.to_numpy

    def counted(x):
        copies.append(x.dtype)
        return original(x)

    monkeypatch.setattr(snapshot, "to_numpy", counted)
    rng = np.random.default_rng(0)
    host_values = {
        "cash": rng.normal(size=(3, 7)),
        "peg": rng.uniform(size=(3, 7)),
        "converged": rng.random(3) < 0.5,
        "defaulted": rng.random((3, 7)) < 0.5,
        "prices": rng.uniform(size=(3, 4)),
    }
    device = {k: xs.asarray(v) for k, v in host_values.items()}
    host = snapshot.to_host(device)
    assert len(copies) == 2  # float64 and bool
    assert list(host) == list(host_values)
    for key, value in host_values.items():
        assert host[key].dtype == value.dtype and host[key].shape == value.shape
        np.testing.assert_array_equal(host[key], value)


@pytest.fixture(scope="module")
def model():
    m = Powderkeg(n_worlds=2, seed=1, n_cohorts=8)
    m.step()
    return m


def test_no_key_is_declared_twice(model):
    books = Books(model.state, model.economy.firms)
    declared = list(books.state_report())
    for source in model.reporters:
        declared += list(source.report(books))
    assert len(declared) == len(set(declared))
    # the model adds which worlds are still finite and which have stopped (and since when)
    added = {"world_finite", "world_stopped", "stopped_week"}
    assert set(declared) | added == set(model.snapshot)


def test_the_snapshot_is_on_the_host_and_shaped_per_world(model):
    e, n = model.sheets.ledger.cash.shape
    for key, value in model.snapshot.items():
        assert isinstance(value, np.ndarray), key
        assert value.shape[0] == e, key
    assert model.snapshot["cash"].shape == (e, n)
    assert model.snapshot["prices"].shape == model.sheets.prices.shape


def _counted_copies(monkeypatch) -> list:
    copies: list = []
    original = snapshot.to_numpy

    def counted(x):
        copies.append(tuple(x.shape))
        return original(x)

    monkeypatch.setattr(snapshot, "to_numpy", counted)
    return copies


def test_each_key_is_copied_at_its_first_read_and_the_rest_together(monkeypatch):
    copies = _counted_copies(monkeypatch)
    rng = np.random.default_rng(1)
    declared = {k: xs.asarray(rng.normal(size=(2, 5))) for k in ("cash", "equity", "debt")}
    declared["defaulted"] = xs.asarray(rng.random((2, 5)) < 0.5)
    host = snapshot.HostSnapshot(declared, {"world_stopped": np.array([False, True])})
    assert copies == [] and "cash" in host and len(host) == 5
    np.testing.assert_array_equal(host["cash"], np.asarray(declared["cash"]))
    host["cash"]
    assert copies == [(10,)]  # one array, read twice, copied once
    everything = dict(host.items())
    assert len(copies) == 3  # then the two float arrays left together, and the bool one
    assert list(everything) == ["cash", "equity", "debt", "defaulted", "world_stopped"]
    assert host.get("rating_notch") is None and "rating_notch" not in host


def test_a_step_copies_only_the_series_until_the_snapshot_is_read(monkeypatch):
    # what a step hands to to_host is what a GPU would copy: the series and the finiteness
    model = Powderkeg(n_worlds=2, seed=1, n_cohorts=8, collect_agents=False)
    sizes: list[int] = []
    original = snapshot.to_host

    def counted(values):
        sizes.append(len(values))
        return original(values)

    monkeypatch.setattr(snapshot, "to_host", counted)
    import abm.model

    monkeypatch.setattr(abm.model, "to_host", counted)
    model.step()
    assert len(sizes) == 1 and sizes[0] == len(model.week_series)  # the series + finiteness
    model.snapshot["cash"]
    assert sizes == [len(model.week_series), 1]  # then the one array read


def test_a_step_lets_last_weeks_declared_arrays_go_and_a_mid_step_read_says_why():
    # issue 18 (memory): the step's temporaries reuse the declared arrays' memory
    model = Powderkeg(n_worlds=2, seed=1, n_cohorts=8, collect_agents=False)
    seen: list[str] = []

    def read_mid_step(state):
        with pytest.raises(snapshot.SnapshotUnavailable, match="while a step runs"):
            model.snapshot  # noqa: B018
        with pytest.raises(snapshot.SnapshotUnavailable):
            model.world_view  # noqa: B018
        seen.append("read")

    model.rules = (Rule("read the snapshot", "test", read_mid_step), *model.rules)
    model.step()
    assert seen == ["read"]
    assert model.snapshot["cash"].shape == (2, model.roster.size)  # back after the step
