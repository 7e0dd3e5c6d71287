"""Bilateral pools: a default hits its own lenders, a run drains the bank the money is in.

Checked against a per-edge Python reference, with the ledger's identities (money, pools,
equity) after every operation of a random sequence, on NumPy and array-api-strict.
"""

from __future__ import annotations

import array_api_compat.numpy as xp
import array_api_strict
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.ledger import BilateralPool, Ledger
from tests.test_ledger import check, equity

E, N = 3, 8
BANKS = np.array([0, 1, 2])
BORROWERS = np.array([3, 4])  # borrow from banks (edges below), owe an outside lender too
SAVERS = np.array([5, 6, 7])
# loans: borrower 3 from banks 0 and 1; borrower 4 from bank 2 only
LOAN_EDGES = [(0, 0, 0.6), (0, 1, 0.3), (1, 2, 0.5)]  # (issuer pos, holder pos, syndicate share)
# deposits: saver 5 at bank 0, saver 6 at banks 1 and 2, saver 7 at bank 2
DEPOSIT_EDGES = [(0, 0), (1, 1), (2, 1), (2, 2)]  # (issuer pos, holder pos)


def pool_of(name, ns, issuers, holders, edges, balance, outside, lend=None):
    k = len(edges)
    ei = np.array([e[0] for e in edges])
    eh = np.array([e[1] for e in edges])
    lend = np.array([e[2] for e in edges]) if lend is None else lend
    out_w = 1.0 - np.bincount(ei, weights=lend, minlength=len(issuers))
    count = np.bincount(eh, minlength=len(holders))
    return BilateralPool(
        name,
        issuers=ns.asarray(issuers),
        holders=ns.asarray(holders),
        edge_issuer=ns.asarray(ei),
        edge_holder=ns.asarray(eh),
        balance=ns.asarray(balance),
        outside_face=ns.asarray(outside),
        lend_weight=ns.asarray(lend if lend.size else np.zeros(k)),
        outside_weight=ns.asarray(np.maximum(out_w, 0.0)),
        hold_weight=ns.asarray(1.0 / count[eh]),
    )


def fresh(seed: int, ns=xp) -> Ledger:
    rng = np.random.default_rng(seed)
    ledger = Ledger(ns, cash=ns.asarray(rng.uniform(0.0, 10.0, (E, N))))
    loans = (rng.uniform(1.0, 5.0, (E, 3)), rng.uniform(0.0, 2.0, (E, 2)))
    ledger.add_bilateral_pool(pool_of("bank_loans", ns, BORROWERS, BANKS, LOAN_EDGES, *loans))
    deposit_edges = [(i, h, 0.0) for i, h in DEPOSIT_EDGES]
    deposits = (rng.uniform(1.0, 5.0, (E, 4)), rng.uniform(0.0, 10.0, (E, 3)))
    ledger.add_bilateral_pool(pool_of("deposits", ns, BANKS, SAVERS, deposit_edges, *deposits))
    return ledger


def test_a_default_hits_its_own_lenders_and_nobody_else():
    ledger = fresh(0)
    pool = ledger.pools["bank_loans"]
    before = ledger.equity_flows.copy()
    balance, outside = pool.balance.copy(), pool.outside_face.copy()
    loss = np.zeros((E, 2))
    loss[:, 1] = 0.5 * pool.face[:, 1]  # borrower 4 fails on half of what it owes
    outside_loss = ledger.write_down("bank_loans", loss)
    lost = before - ledger.equity_flows
    # per-edge reference: only bank 2 lends to borrower 4; it loses half its edge
    np.testing.assert_allclose(lost[:, 2], 0.5 * balance[:, 2])
    assert (lost[:, [0, 1, 5, 6, 7]] == 0.0).all()
    np.testing.assert_allclose(lost[:, 4], -loss[:, 1])  # the borrower gains what it no longer owes
    np.testing.assert_allclose(outside_loss, 0.5 * outside[:, 1])
    np.testing.assert_allclose(pool.balance[:, :2], balance[:, :2])  # borrower 3's loans untouched


def test_a_run_drains_the_bank_that_holds_the_deposits():
    ledger = fresh(1)
    pool = ledger.pools["deposits"]
    cash, balance = ledger.cash.copy(), pool.balance.copy()
    run = np.zeros((E, 3))
    run[:, 1] = 0.4 * pool.face[:, 1]  # depositors take 40% out of bank 1
    ledger.repay("deposits", run)
    moved = ledger.cash - cash
    np.testing.assert_allclose(moved[:, 1], -run[:, 1])  # bank 1 pays it all
    assert (moved[:, [0, 2]] == 0.0).all()  # the other banks keep their cash
    np.testing.assert_allclose(moved[:, 6], 0.4 * balance[:, 1])  # saver 6's money at bank 1
    assert (moved[:, [5, 7]] == 0.0).all()  # savers with nothing at bank 1 are untouched
    np.testing.assert_allclose(pool.balance[:, 1], 0.6 * balance[:, 1])


def test_new_borrowing_goes_to_the_syndicate_and_deposits_to_the_home_bank():
    ledger = fresh(2)
    loans = ledger.pools["bank_loans"]
    loans.balance = loans.balance * 0.0  # borrowers owe nothing: the syndicate's shares apply
    loans.outside_face = loans.outside_face * 0.0
    cash = ledger.cash.copy()
    ledger.borrow("bank_loans", np.full((E, 2), 10.0))
    moved = ledger.cash - cash
    np.testing.assert_allclose(moved[:, :3], -np.array([6.0, 3.0, 5.0]) * np.ones((E, 1)))
    np.testing.assert_allclose(ledger.outsiders.paid_in["outside_investors"], 1.0 + 5.0)
    deposits = ledger.pools["deposits"]
    cash = ledger.cash.copy()
    saved = np.zeros((E, 3))
    saved[:, 0] = 2.0  # saver 5 saves: its only bank is bank 0
    ledger.subscribe("deposits", saved)
    moved = ledger.cash - cash
    np.testing.assert_allclose(moved[:, 0], 2.0)
    assert (moved[:, [1, 2]] == 0.0).all()
    assert deposits.claims.shape == (E, 3)


def test_rounding_residues_below_zero_take_no_share_of_new_money():
    """An emptied edge left at -1e-16 beside a tiny balance must not blow the split up."""
    ledger = fresh(4)
    deposits = ledger.pools["deposits"]
    balance = deposits.balance.copy()
    balance[:, 1], balance[:, 2] = -1e-16, 2e-16  # saver 6: a residue at bank 1, a crumb at 2
    deposits.balance = balance
    cash = ledger.cash.copy()
    saved = np.zeros((E, 3))
    saved[:, 1] = 3.0
    ledger.subscribe("deposits", saved)
    moved = ledger.cash - cash
    np.testing.assert_allclose(moved[:, 2], 3.0)  # all of it to the bank that holds its money
    assert (moved[:, [0, 1]] == 0.0).all()
    split = deposits.holding_split(xp)
    assert np.all((split >= 0.0) & (split <= 1.0))
    loans = ledger.pools["bank_loans"]
    balance = loans.balance.copy()
    balance[:, 0], balance[:, 1] = -1e-16, 2e-16  # borrower 3's lenders after a repayment
    loans.balance, loans.outside_face = balance, loans.outside_face * 0.0
    edge, outside = loans.lending_split(xp)
    np.testing.assert_allclose(edge[:, :2], np.array([[0.0, 1.0]] * E))
    assert np.all((edge >= 0.0) & (edge <= 1.0)) and np.all((outside >= 0.0) & (outside <= 1.0))


def test_money_moved_only_to_chosen_issuers_goes_to_the_holders_own_among_them():
    """``subscribe(only=...)``: a saver's new money goes to its own banks among the chosen ones,
    pro rata to what it holds there; a saver with nothing at a chosen bank keeps its cash."""
    ledger = fresh(5)
    deposits = ledger.pools["deposits"]
    balance, cash = deposits.balance.copy(), ledger.cash.copy()
    saved = np.zeros((E, 3))
    saved[:, 0], saved[:, 1] = 2.0, 3.0  # saver 5 (bank 0 only), saver 6 (banks 1 and 2)
    only = np.array([[False, True, True], [False, False, True], [False, True, True]])
    ledger.subscribe("deposits", saved, only=only)
    moved = ledger.cash - cash
    assert (moved[:, [0, 5]] == 0.0).all()  # bank 0 is not chosen: saver 5 keeps its cash
    at_1 = np.where(only[:, 1], 3.0 * balance[:, 1] / (balance[:, 1] + balance[:, 2]), 0.0)
    np.testing.assert_allclose(moved[:, 1], at_1)  # saver 6's two banks, pro rata ...
    np.testing.assert_allclose(moved[:, 2], 3.0 - at_1)  # ... or all at bank 2 in world 1
    np.testing.assert_allclose(moved[:, 6], -3.0)
    np.testing.assert_allclose(deposits.balance.sum(axis=1) - balance.sum(axis=1), 3.0)


def test_edges_list_who_owes_whom():
    ledger = fresh(3)
    edges = ledger.edges("bank_loans")
    np.testing.assert_array_equal(edges.issuer, [3, 3, 4])
    np.testing.assert_array_equal(edges.holder, [0, 1, 2])
    pool = ledger.pools["bank_loans"]
    assert edges.amount is pool.balance and edges.outside is pool.outside_face


def test_pro_rata_edges_reproduce_the_pool():
    ledger = Ledger(xp, cash=np.zeros((E, N)))
    rng = np.random.default_rng(4)
    pool = ledger.add_pool("p", BANKS, SAVERS, rng.uniform(5.0, 9.0, (E, 3)),
                           rng.uniform(0.0, 3.0, (E, 3)))  # fmt: skip
    edges = ledger.edges("p")
    held = np.zeros((E, N))
    owed = np.zeros((E, N))
    for k in range(edges.issuer.shape[0]):
        held[:, edges.holder[k]] += edges.amount[:, k]
        owed[:, edges.issuer[k]] += edges.amount[:, k]
    np.testing.assert_allclose(held[:, SAVERS], pool.claims)
    np.testing.assert_allclose(owed[:, BANKS] + edges.outside, pool.face)


def test_a_bilateral_pool_refuses_pro_rata_operations():
    ledger = fresh(5)
    with pytest.raises(TypeError, match="names its lenders"):
        ledger.lend("bank_loans", np.ones((E, 2)), np.ones((E, 3)))


def test_revaluing_an_issuer_marks_its_own_holders_and_nobody_elses():
    """Fund shares at NAV: each issuer's edges and outside part scale by its own change."""
    ledger = fresh(6)
    pool = ledger.pools["deposits"]
    balance, outside, face = (np.asarray(a).copy() for a in (pool.balance, pool.outside_face,
                                                                 pool.face))  # fmt: skip
    before, money = equity(ledger), ledger.money()
    ratio = np.array([0.5, 1.0, 1.25])  # issuer 0 loses half, issuer 2 gains a quarter
    ledger.revalue_pool("deposits", face * ratio)
    expected = balance * ratio[[i for i, _ in DEPOSIT_EDGES]]
    np.testing.assert_allclose(pool.balance, expected, rtol=1e-12)
    np.testing.assert_allclose(pool.outside_face, outside * ratio, rtol=1e-12)
    moved = equity(ledger) - before
    np.testing.assert_allclose(moved[:, 5], -0.5 * balance[:, 0], rtol=1e-12)  # at issuer 0 only
    np.testing.assert_allclose(moved[:, 7], 0.25 * balance[:, 3], rtol=1e-12)  # at issuer 2 only
    np.testing.assert_allclose(moved[:, BANKS], face * (1.0 - ratio), rtol=1e-12, atol=1e-12)
    check(ledger, money, before)


def test_negative_edges_are_rejected():
    ledger = Ledger(xp, cash=np.zeros((E, N)))
    bad = pool_of("bad", xp, BORROWERS, BANKS, LOAN_EDGES, -np.ones((E, 3)), np.zeros((E, 2)))
    with pytest.raises(ValueError, match="pool 'bad': an edge or outside part is negative"):
        ledger.add_bilateral_pool(bad)


amounts = st.lists(st.floats(0.0, 5.0), min_size=E * 3, max_size=E * 3).map(
    lambda v: np.array(v).reshape(E, 3)
)
operations = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "subscribe",
                "subscribe_only",
                "redeem",
                "interest",
                "repay",
                "borrow",
                "write_down",
                "run",
                "cb",
            ]
        ),
        amounts,
        st.booleans(),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), ops=operations)
def test_every_operation_keeps_money_pools_and_equity_balanced(seed, ops):
    ledger = fresh(seed)
    start_money, start_equity = ledger.money(), equity(ledger)
    for op, amount, flag in ops:
        if op == "subscribe":
            ledger.subscribe("deposits", amount, outside=amount[:, 0] if flag else None)
        elif op == "subscribe_only":  # to some banks only: the rest stays cash
            ledger.subscribe("deposits", amount, only=amount > 2.5 if flag else amount < 0.0)
        elif op == "redeem":
            claims = ledger.pools["deposits"].claims
            ledger.redeem("deposits", np.minimum(amount, claims))
        elif op == "interest":
            ledger.pay_interest("bank_loans", amount[:, :2] / 100.0)
            ledger.pay_interest("deposits", amount / 100.0)
        elif op == "repay":
            ledger.repay("bank_loans", amount[:, :2])
            ledger.repay("deposits", amount)
        elif op == "borrow":
            ledger.borrow("bank_loans", amount[:, :2])
        elif op == "write_down":
            ledger.write_down("bank_loans", amount[:, :2])
        elif op == "run":
            ledger.withdraw_outside("deposits", amount)
        else:
            ledger.lend_outside("deposits", amount)
        check(ledger, start_money, start_equity)
        for pool in ledger.pools.values():
            assert (pool.balance >= -1e-12).all() and (pool.outside_face >= -1e-12).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_same_on_array_api_strict(dtype):
    """The bilateral operations run in the standard and agree with NumPy."""
    ns = array_api_strict
    host = fresh(6)
    strict = fresh(6, ns)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for ledger, lib in ((host, np), (strict, ns)):

        def cast(a, lib=lib):
            return lib.asarray(a, dtype=getattr(lib, dtype))

        ledger.cash = cast(ledger.cash)
        ledger.equity_flows = cast(ledger.equity_flows)
        for pool in ledger.pools.values():
            pool.balance, pool.outside_face = cast(pool.balance), cast(pool.outside_face)
            pool.lend_weight = cast(pool.lend_weight)
            pool.outside_weight = cast(pool.outside_weight)
            pool.hold_weight = cast(pool.hold_weight)
        for name in ledger.outsiders.paid_in:
            ledger.outsiders.paid_in[name] = cast(ledger.outsiders.paid_in[name])
        loss = cast(np.full((E, 2), 1.5))
        ledger.write_down("bank_loans", loss)
        ledger.borrow("bank_loans", loss)
        ledger.repay("deposits", cast(np.full((E, 3), 0.7)))
        ledger.subscribe("deposits", cast(np.full((E, 3), 0.3)))
        ledger.pay_interest("bank_loans", cast(np.full((E, 2), 0.01)))
        ledger.revalue_pool("deposits", ledger.pools["deposits"].face * cast([0.5, 1.0, 1.25]))
    np.testing.assert_allclose(np.asarray(strict.cash), host.cash, rtol=tol, atol=tol)
    np.testing.assert_allclose(
        np.asarray(strict.equity_flows), host.equity_flows, rtol=tol, atol=tol
    )
