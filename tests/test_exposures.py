"""The exposure network: named syndicates, prime brokers, home banks, and the levers on it."""

from __future__ import annotations

import array_api_strict as xs
import numpy as np
import pytest

import abm.model
from abm.exposures import (
    draw_without_replacement,
    fill_in_proportion,
    market_share_syndicate,
    place_deposits,
)
from abm.ledger import BilateralPool
from abm.model import Powderkeg
from abm.policy import Policy
from experiments.build import build_model
from experiments.scenarios import load_preset


def lenders(model: Powderkeg, pool: str, issuer: str) -> dict[str, float]:
    """Holder name -> USD bn of the edges of ``issuer`` in world 0."""
    roster = model.sheets.roster
    edges = model.sheets.ledger.edges(pool)
    i = roster.index(issuer)
    out: dict[str, float] = {}
    for k in np.nonzero(np.asarray(edges.issuer) == i)[0]:
        name = roster.names[int(edges.holder[k])]
        out[name] = out.get(name, 0.0) + float(edges.amount[0, k])
    return out


@pytest.fixture(scope="module")
def model() -> Powderkeg:
    return Powderkeg(n_worlds=1, n_cohorts=40, policy=Policy(named_counterparties=True))


def test_named_syndicates_come_from_the_deal_reports(model):
    assert set(lenders(model, "bank_loans", "crusoe_abilene")) == {"jpmorgan"}
    stargate = lenders(model, "bank_loans", "oracle_stargate")
    assert set(stargate) == {"jpmorgan"}
    pool = model.sheets.ledger.pools["bank_loans"]
    i = list(np.asarray(pool.issuers)).index(model.sheets.roster.index("oracle_stargate"))
    assert stargate["jpmorgan"] == pytest.approx(0.5 * float(pool.face[0, i]))  # MUFG outside


def test_each_hedge_fund_borrows_from_its_prime_brokers(model):
    roster = model.sheets.roster
    brokers = {"goldman_sachs", "morgan_stanley", "jpmorgan", "bank_of_america", "citigroup"}
    for i in roster.indices("fund", "hedge"):
        owed = lenders(model, "bank_loans", roster.names[i])
        assert 1 <= len(owed) <= 4  # two by default, more only where a broker is full
        assert all(b in brokers or b.startswith("eu_") for b in owed)


def test_the_books_of_banks_are_the_sum_of_their_edges(model):
    pool = model.sheets.ledger.pools["bank_loans"]
    edges = model.sheets.ledger.edges("bank_loans")
    held = np.zeros(model.sheets.roster.size)
    np.add.at(held, np.asarray(edges.holder), np.asarray(edges.amount)[0])
    np.testing.assert_allclose(held[np.asarray(pool.holders)], np.asarray(pool.claims)[0])
    assert (np.asarray(pool.outside_face) >= 0.0).all()
    assert np.all(np.asarray(model.sheets.real_assets)[0] >= 0.0)


def test_savers_fill_the_us_banks_first(model):
    """Households' deposits sit at US banks up to the cap; only the rest goes to EU banks."""
    roster = model.sheets.roster
    edges = model.sheets.ledger.edges("deposits")
    pool = model.sheets.ledger.pools["deposits"]
    face = dict(zip(np.asarray(pool.issuers).tolist(), np.asarray(pool.face)[0], strict=True))
    at = {}
    for k in range(edges.issuer.shape[0]):
        holder, bank = int(edges.holder[k]), int(edges.issuer[k])
        if roster.family[holder] == "stablecoin":
            assert roster.kind[bank] == "us"
        if roster.family[holder] == "retail":
            at[bank] = at.get(bank, 0.0) + float(edges.amount[0, k])
    if any(roster.kind[b] == "eu" for b in at):
        for b in roster.indices("bank"):
            if roster.kind[b] == "us":
                assert at.get(b, 0.0) >= 0.8 * face[b] - 1e-6 * face[b] - 2.0 * max(at.values())
    held = {
        roster.names[int(edges.issuer[k])]: float(edges.amount[0, k])
        for k in range(edges.issuer.shape[0])
        if int(edges.holder[k]) == roster.index("usdc")
    }
    assert len(held) == 4 and max(held.values()) <= 0.25 * sum(held.values()) + 1e-9


def test_the_levers_reshape_the_network():
    single = Policy(named_counterparties=True, prime_brokers_per_fund=1, syndicate_size=1,
                    stablecoin_deposit_cap=1.0)  # fmt: skip
    one = Powderkeg(n_worlds=1, n_cohorts=8, policy=single)
    roster = one.sheets.roster
    assert len(lenders(one, "bank_loans", "private_credit_1")) == 1
    edges = one.sheets.ledger.edges("deposits")
    usdc = np.asarray(edges.holder) == roster.index("usdc")
    assert usdc.sum() == 1  # every dollar of USDC's bank cash at one bank
    single = [len(lenders(one, "bank_loans", roster.names[i]))
              for i in roster.indices("fund", "hedge")]  # fmt: skip
    assert min(single) == 1


def test_without_named_counterparties_every_holder_owns_the_pool_pro_rata():
    pooled = Powderkeg(n_worlds=1, n_cohorts=8, policy=Policy(named_counterparties=False))
    assert not isinstance(pooled.sheets.ledger.pools["bank_loans"], BilateralPool)
    assert not isinstance(pooled.sheets.ledger.pools["deposits"], BilateralPool)


def test_draws_are_deterministic_and_follow_the_weights():
    weights = np.array([0.5, 0.3, 0.2, 0.0])
    first = draw_without_replacement(weights, 2, key=7)
    np.testing.assert_array_equal(first, draw_without_replacement(weights, 2, key=7))
    assert 3 not in first  # a zero weight is never drawn
    counts = np.zeros(4)
    for key in range(2000):
        counts[draw_without_replacement(weights, 1, key)] += 1
    np.testing.assert_allclose(counts / counts.sum(), weights, atol=0.04)
    chosen, shares = market_share_syndicate(np.array([4.0, 1.0, 3.0]), 2, key=1)
    assert shares.sum() == pytest.approx(1.0) and len(set(chosen)) == 2


def test_a_full_prime_broker_passes_the_rest_on():
    room = np.array([5.0, 100.0, 100.0])
    lent = fill_in_proportion(20.0, np.array([0.5, 0.5]), room, np.array([0, 1]), [0, 1, 2])
    np.testing.assert_allclose(lent, [5.0, 15.0, 0.0])
    room = np.array([1.0, 1.0, 30.0])
    lent = fill_in_proportion(10.0, np.array([0.5, 0.5]), room, np.array([0, 1]), [0, 1, 2])
    np.testing.assert_allclose(lent, [1.0, 1.0, 8.0])  # both full: a third broker takes it
    with pytest.raises(ValueError, match="no room left"):
        fill_in_proportion(100.0, np.array([1.0]), np.zeros(3), np.array([0]), [0, 1, 2])


def test_deposits_fill_the_us_banks_in_proportion_and_overflow_to_the_others():
    deposits = np.array([100.0, 50.0, 80.0])
    us = np.array([True, True, False])
    gsib = np.array([True, False, False])
    edges = place_deposits([10, 11, 12], [40.0, 40.0, 10.0], [True, True, False],
                           deposits, us, gsib, stablecoin_cap=0.5)  # fmt: skip
    at = np.zeros(3)
    for h, b, amount in edges:
        at[b] += amount
        assert h != 12 or b == 0  # the issuer's deposits at the one G-SIB
    np.testing.assert_allclose(at, [10.0 + 80.0 * 90.0 / 140.0, 80.0 * 50.0 / 140.0, 0.0])
    edges = place_deposits([10], [200.0], [True], deposits, us, gsib, 0.5)  # more than the US
    at = np.zeros(3)
    for _, b, amount in edges:
        at[b] += amount
    np.testing.assert_allclose(at, [100.0, 50.0, 50.0])
    with pytest.raises(ValueError, match="do not fit"):
        place_deposits([1], [1000.0], [True], deposits, us, gsib, 0.5)


def named_model(n_worlds: int = 2, device=None) -> Powderkeg:
    return build_model(
        load_preset("baseline"), n_worlds=n_worlds, seed=1, backend="numpy", n_cohorts=8,
        collect_agents=False, device=device, policy_overrides={"named_counterparties": True},
    )  # fmt: skip


def test_books_balance_every_week_with_named_counterparties():
    """Every named layer at once, the interbank network of abm/interbank.py included."""
    model = named_model()
    scale = float(np.max(np.abs(model.snapshot["total_assets"])))
    for _ in range(26):
        model.step()
        for name, gap in model.accounting_gap().items():
            assert float(np.max(np.abs(gap))) <= 1e-12 * scale, (model.steps, name)


def test_a_run_drains_the_bank_that_holds_the_deposits_in_the_model():
    model = named_model()
    model.step()
    roster, pool = model.roster, model.sheets.ledger.pools["deposits"]
    banks = list(np.asarray(pool.issuers))
    wells = banks.index(roster.index("wells_fargo"))
    face = np.asarray(pool.face).copy()
    cohort = int(roster.indices("retail")[0])
    edges = model.sheets.ledger.edges("deposits")
    at_wells = (np.asarray(edges.holder) == cohort) & (np.asarray(edges.issuer) == banks[wells])
    held = np.asarray(edges.amount)[:, at_wells].sum(axis=-1)
    shock = np.zeros(np.asarray(model.bank_runs.outflow_shock).shape)
    shock[:, list(roster.indices("bank")).index(roster.index("wells_fargo"))] = 0.5
    model.bank_runs.outflow_shock = shock
    model.step()
    after = np.asarray(pool.face)
    drop = (face - after) / face
    assert (drop[:, wells] > 0.1).all()  # half of its uninsured deposits left this week
    others = [k for k in range(len(banks)) if k != wells]
    assert (np.abs(drop[:, others]) < 0.05).all()  # a normal week for the other banks
    edges = model.sheets.ledger.edges("deposits")
    left = np.asarray(edges.amount)[:, at_wells].sum(axis=-1)
    assert (left < 0.95 * held).all()  # the cohort's own money at the bank was paid out too


def test_named_counterparties_run_on_strict_and_agree_with_numpy(monkeypatch):
    expected = named_model()
    with monkeypatch.context() as patch:
        patch.setattr(abm.model, "get_namespace", lambda name: xs)
        found = named_model(device=xs.Device("device1"))
        for _ in range(8):
            expected.step()
            found.step()
    for key, want in expected.week_series.items():
        scale = float(np.max(np.abs(want), initial=0.0)) or 1.0
        got = np.asarray(found.week_series[key], dtype=float)
        np.testing.assert_allclose(got, want, rtol=0.0, atol=1e-9 * scale, err_msg=key)
