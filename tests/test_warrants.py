"""AMD's warrants to OpenAI vest with GW paid for and AMD's price; new shares dilute the old."""

from __future__ import annotations

import array_api_strict as xs
import numpy as np
import pytest

import abm.model
from abm.events import EventLog
from abm.model import Powderkeg
from abm.reporting import Recorder
from abm.warrants import tranches_vesting, vesting_schedule
from tests.conftest import count_waits

PER_GW = 10.0  # USD bn a GW: E15's 60 bn for 6 GW
CONVERSIONS = ("__bool__", "__int__", "__float__", "__index__", "__complex__")


def model() -> Powderkeg:
    return Powderkeg(n_worlds=2, seed=2, n_cohorts=8, collect_agents=False)


def gaps(m: Powderkeg) -> float:
    return max(float(np.max(np.abs(np.asarray(g)))) for g in m.accounting_gap().values())


def parts(m: Powderkeg) -> tuple[int, int, int, int, int]:
    """OpenAI's and AMD's agent rows, AMD's equity asset, their positions among the firms."""
    holder, issuer, asset, payer, supplier, _ = m.warrants.rows[0]
    return holder, issuer, asset, payer, supplier


def deploy(m: Powderkeg, gw: float) -> None:
    """OpenAI has paid AMD for ``gw`` GW (in every world)."""
    _, _, _, payer, supplier = parts(m)
    paid = np.array(m.deals.paid_to_date)
    paid[:, payer, supplier] = gw * PER_GW
    m.deals.paid_to_date = m.xp.asarray(paid)


def set_price(m: Powderkeg, index: float) -> None:
    """AMD's price index moves to ``index``, its holders' gains booked (as the valuation does)."""
    s = m.sheets
    asset = parts(m)[2]
    prices = np.array(s.prices)
    prices[:, asset] = index
    change = s.holdings @ (s.xp.asarray(prices) - s.prices)[:, :, None]
    s.ledger.book_equity(change[:, :, 0])
    s.prices = s.xp.asarray(prices)


def test_schedule_follows_the_8k():
    m = model()
    need_gw, need_price, shares = vesting_schedule(m.calibration, "E14")
    np.testing.assert_allclose(need_gw, [1, 2, 3, 4, 5, 6])  # 1 GW first, 6 GW in full
    assert need_price[0] == pytest.approx(1.0)  # the first target: AMD's year-end price
    assert need_price[-1] == pytest.approx(600.0 / 215.0)  # the last: 600 USD a share
    assert np.all(np.diff(need_price) > 0)  # escalating targets
    assert shares.sum() == pytest.approx(160e6)
    # 160 m of 1,630 m shares of a 350 bn company: about 34 bn at the start, E14's value at issue
    units = np.asarray(m.warrants.units).sum()
    assert units == pytest.approx(160 / 1630 * 350.0)
    assert units == pytest.approx(
        m.calibration.value("circular_deals.E14.value_at_issue"), rel=0.02
    )


def test_vesting_matches_a_per_world_reference():
    rng = np.random.default_rng(5)
    need_gw, need_price = np.arange(1.0, 7.0), np.linspace(1.0, 2.8, 6)
    worlds = 200
    vested = rng.random((worlds, 6)) < 0.3
    gw, price = rng.uniform(0.0, 7.0, worlds), rng.uniform(0.5, 3.0, worlds)
    alive = rng.random(worlds) < 0.8
    got = tranches_vesting(np, vested, gw, price, alive, need_gw, need_price)
    for w in range(worlds):
        for k in range(6):
            expect = (
                alive[w] and not vested[w, k] and gw[w] >= need_gw[k] and price[w] >= need_price[k]
            )
            assert got[w, k] == expect


def test_forced_deployment_vests_and_dilution_conserves_value():
    m = model()
    holder, _, asset, _, _ = parts(m)
    s = m.sheets
    deploy(m, 2.5)  # two tranches' worth of GW
    set_price(m, 1.5)  # above the first two targets (1.0, 1.36), below the third (1.72)
    equity0 = np.array(s.equity())
    supply0, price0 = np.array(s.supply[:, asset]), np.array(s.prices[:, asset])
    held0 = np.array(s.holdings[:, :, asset])  # (E, N) units each agent held before
    m.warrants.vest(m.state)
    issued = 2 * 160 / 6 / 1630 * 350.0  # units of two tranches
    np.testing.assert_allclose(np.asarray(s.supply[:, asset]), supply0 + issued)
    factor = supply0 / (supply0 + issued)
    price1 = np.asarray(s.prices[:, asset])
    np.testing.assert_allclose(price1, price0 * factor)
    np.testing.assert_allclose(np.asarray(s.dilution[:, asset]), factor)
    assert np.asarray(m.warrants.vested)[:, 0].tolist() == [[True, True] + [False] * 4] * 2
    # AMD is worth the same, shared by more units: OpenAI's gain is the old holders' loss
    np.testing.assert_allclose(supply0 * price0, (supply0 + issued) * price1)
    change = np.asarray(s.equity()) - equity0
    gain = issued * price1 + held0[:, holder] * (price1 - price0)
    np.testing.assert_allclose(change[:, holder], gain)
    others = np.delete(held0, holder, axis=1).sum(axis=1)  # other agents' units
    outside = supply0 - held0.sum(axis=1)  # units held outside the model
    np.testing.assert_allclose(np.delete(change, holder, axis=1).sum(axis=1),
                               others * (price1 - price0))  # fmt: skip
    loss = (others + outside + held0[:, holder]) * (price0 - price1)  # every old unit loses
    np.testing.assert_allclose(issued * price1, loss)
    assert gaps(m) < 1e-9
    received = np.asarray(m.warrants.last_received)  # what the snapshot and events report
    np.testing.assert_allclose(received[:, holder], issued * price1)
    assert np.count_nonzero(received) == 2  # the holder, in each world
    m.warrants.vest(m.state)  # vested tranches do not vest again
    np.testing.assert_allclose(np.asarray(s.supply[:, asset]), supply0 + issued)
    assert not np.any(np.asarray(m.warrants.last_received))


def test_a_vesting_is_logged_and_reported():
    """The week a tranche vests, the event log names the holder and the series carries the value."""
    m = model()
    log = EventLog(m)
    holder = parts(m)[0]
    deploy(m, 1.2)  # one tranche's GW
    set_price(m, 1.3)  # above the first price target (1.0), whatever the week's valuation does
    m.step()
    log.update(m)
    frame = log.frame()
    vesting = frame[frame["event"] == "warrant_vesting"]
    assert list(vesting["world"]) == [0, 1]
    assert set(vesting["agent"]) == {m.roster.names[holder]}
    value = np.asarray(m.snapshot["warrant_shares_received"])[:, holder]
    np.testing.assert_allclose(vesting["amount_usd_bn"], value)
    assert value.min() > 1.0  # about 160 / 6 m shares of 1,630 m of a 350 bn AMD: ~5.7 bn
    assert "received" in vesting["message"].iloc[0]
    recorder = Recorder()
    recorder.record(m)
    series = recorder.frame().sort_values("world")["warrant_shares_usd_bn"]
    np.testing.assert_allclose(series, value)


def test_dilution_persists_through_the_valuation():
    vested, plain = model(), model()
    asset = parts(vested)[2]
    for m in (vested, plain):
        set_price(m, 1.5)
    deploy(vested, 1.0)
    vested.warrants.vest(vested.state)
    factor = np.asarray(vested.sheets.dilution[:, asset])
    assert np.all(factor < 1.0)
    for m in (vested, plain):
        m.valuation.revalue(m.state)  # the same fundamentals: only the units differ
    np.testing.assert_allclose(
        np.asarray(vested.sheets.prices[:, asset]),
        np.asarray(plain.sheets.prices[:, asset]) * factor,
    )
    vested.step()
    assert gaps(vested) < 1e-8
    np.testing.assert_allclose(np.asarray(vested.sheets.dilution[:, asset]), factor)


def test_nothing_vests_before_deployment_or_after_a_failure():
    m = model()
    holder, issuer, asset, _, _ = parts(m)
    set_price(m, 5.0)  # every price target met
    supply0 = np.array(m.sheets.supply[:, asset])
    deploy(m, 0.99)  # short of the first GW
    m.warrants.vest(m.state)
    assert not np.asarray(m.warrants.vested).any()
    for failed in (holder, issuer):
        f = model()
        set_price(f, 5.0)
        deploy(f, 6.0)
        defaulted = np.array(f.state.defaulted)
        defaulted[:, failed] = True
        f.state.defaulted = f.xp.asarray(defaulted)
        f.warrants.vest(f.state)
        assert not np.asarray(f.warrants.vested).any()
        np.testing.assert_allclose(np.asarray(f.sheets.supply[:, asset]), supply0)


def test_price_targets_gate_the_later_tranches():
    m = model()
    deploy(m, 6.0)  # every GW paid for
    set_price(m, 0.9)  # below AMD's year-end price: nothing
    m.warrants.vest(m.state)
    assert not np.asarray(m.warrants.vested).any()
    set_price(m, 1.8)  # the first three targets (1.0, 1.36, 1.72)
    m.warrants.vest(m.state)
    assert np.asarray(m.warrants.vested)[0, 0].tolist() == [True] * 3 + [False] * 3
    set_price(m, 600.0 / 215.0 + 0.01)  # the last one, 600 USD a share
    m.warrants.vest(m.state)
    assert np.asarray(m.warrants.vested).all()
    assert gaps(m) < 1e-8


def test_a_calm_model_vests_nothing_in_its_first_weeks():
    m = model()
    for _ in range(8):  # E15's GPUs arrive from 2H 2026
        m.step()
    assert not np.asarray(m.warrants.vested).any()
    assert np.all(np.asarray(m.warrants.gw_deployed) < 1.0)


def test_vesting_runs_on_array_api_strict_as_on_numpy(monkeypatch):
    results = []
    for strict in (True, False):
        with monkeypatch.context() as patch:
            if strict:
                patch.setattr(abm.model, "get_namespace", lambda name: xs)
            m = Powderkeg(n_worlds=2, seed=2, n_cohorts=8, collect_agents=False, backend="numpy")
        xp = m.xp
        assert (xp is xs) == strict
        _, _, asset, payer, supplier = parts(m)
        paid = np.array(m.deals.paid_to_date)
        paid[:, payer, supplier] = [25.0, 60.0]
        m.deals.paid_to_date = xp.asarray(paid)
        prices = np.array(m.sheets.prices)
        prices[:, asset] = [1.5, 3.0]
        m.sheets.prices = xp.asarray(prices)
        with monkeypatch.context() as patch:
            syncs = count_waits(patch, CONVERSIONS)
            m.warrants.vest(m.state)
            assert syncs == []  # no host synchronisation
        s = m.sheets
        results.append([np.asarray(a) for a in (s.prices, s.holdings, s.ledger.equity_flows)])
    for strict, plain in zip(*results, strict=True):
        np.testing.assert_allclose(strict, plain, rtol=1e-12, atol=1e-12)
    vested_units = results[0][1][:, parts(m)[0], parts(m)[2]]
    assert vested_units[1] > vested_units[0] > 0.0  # two tranches vs all six
