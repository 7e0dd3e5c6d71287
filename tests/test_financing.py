"""Kedrosky's pecking order: each channel in turn, booked through the ledger, else capex is cut."""

from __future__ import annotations

import numpy as np
import pytest

from abm.model import Powderkeg
from abm.state import Sentiment


def model(worlds: int = 1, seed: int = 0) -> Powderkeg:
    return Powderkeg(n_worlds=worlds, seed=seed, n_cohorts=8, collect_agents=False)


def firm(m: Powderkeg, name: str) -> int:
    return list(m.economy.firm_rows).index(m.roster.index(name))


def gaps(m: Powderkeg) -> float:
    return max(float(np.max(np.abs(np.asarray(g)))) for g in m.accounting_gap().values())


def need_of(m: Powderkeg, **needs: float):
    wanted = np.zeros((m.n_worlds, len(m.economy.firm_rows)))
    for name, amount in needs.items():
        wanted[:, firm(m, name)] = amount
    return m.xp.asarray(wanted)


def test_a_year_of_financing_keeps_the_books_balanced():
    m = model(worlds=2, seed=3)
    raised = 0.0
    for _ in range(52):
        m.step()
        snap = m.snapshot
        raised += (
            snap["bonds_issued"].sum() + snap["credit_drawn"].sum() + snap["equity_raised"].sum()
        )
        assert gaps(m) < 1e-8
    assert raised > 100.0  # the build-out is financed: bonds, loans and equity all play a part
    for name in ("vendor_financing", "prepaid_capacity"):
        assert float(np.max(np.abs(m.sheets.ledger.pools[name].imbalance(m.xp)))) < 1e-9


def test_bonds_come_first_and_stop_at_the_leverage_limit():
    m = model()
    fin, eco = m.economy.financing, m.economy
    outgoings = eco.firm.revenue * 0.0 + 1.0
    on = eco.firm.revenue * 0.0 + 1.0
    # Amazon: far below six turns of EBITDA, its bonds trade at par: all in bonds
    mix = fin.fill(need_of(m, amazon=20.0), outgoings, on)
    a = firm(m, "amazon")
    assert mix.bonds[0, a] == pytest.approx(20.0) and mix.credit[0, a] == 0.0
    # Oracle: ~4.9 turns; room for about a turn of EBITDA, the rest goes to equity
    o = firm(m, "oracle")
    debt = float(m.sheets.liabilities()[0, m.roster.index("oracle")])
    room = fin.max_leverage * float(eco.firm.ebitda[0, o]) - debt
    mix = fin.fill(need_of(m, oracle=room + 30.0), outgoings, on)
    assert mix.bonds[0, o] == pytest.approx(room) and mix.credit[0, o] == pytest.approx(0.0)
    assert mix.equity[0, o] == pytest.approx(30.0)
    # CoreWeave starts above six turns: no new debt at all, equity instead
    c = firm(m, "coreweave")
    mix = fin.fill(need_of(m, coreweave=3.0), outgoings, on)
    assert mix.bonds[0, c] == 0.0 and mix.credit[0, c] == 0.0 and mix.equity[0, c] == 3.0
    assert gaps(m) < 1e-9


def test_spvs_borrow_against_their_data_centres_from_private_credit():
    m = model()
    fin, eco = m.economy.financing, m.economy
    one = eco.firm.revenue * 0.0 + 1.0
    pool = m.sheets.ledger.pools["private_loans"]
    row = m.roster.index("oracle_stargate")
    k = list(np.asarray(pool.issuers)).index(row)
    before = float(pool.face[0, k])
    mix = fin.fill(need_of(m, oracle_stargate=4.0), one, one)  # no EBITDA yet, still lent to
    assert mix.credit[0, firm(m, "oracle_stargate")] == pytest.approx(4.0)
    assert float(pool.face[0, k]) - before == pytest.approx(4.0)
    assert gaps(m) < 1e-9


def test_closed_markets_send_the_gap_to_vendors_then_to_customers_then_capex_is_cut():
    m = model()
    fin, eco, s = m.economy.financing, m.economy, m.sheets
    c = firm(m, "coreweave")
    share = s.assets.index("equity_coreweave")
    drop = np.zeros_like(s.prices)
    drop[:, share] = 0.2 - s.prices[:, share]  # below the equity floor: no new shares
    s.ledger.book_equity((s.holdings @ drop[:, :, None])[:, :, 0])  # holders mark it down
    s.prices = s.prices + drop
    one = eco.firm.revenue * 0.0 + 1.0
    vendor_pool = s.ledger.pools["vendor_financing"]
    nvidia = list(np.asarray(vendor_pool.holders)).index(m.roster.index("nvidia"))
    claim = float(vendor_pool.claims[0, nvidia])
    cash = np.asarray(s.ledger.cash[0]).copy()

    weeks = np.asarray(eco.buffer_weeks)  # (F,) each firm's buffer in weeks of outgoings

    def spare(kind: str) -> float:  # lenders' cash above their own buffer (outgoings of 1 a week)
        rows = m.roster.indices("firm", kind)
        return float(sum(max(cash[i] - weeks[firm(m, m.roster.names[i])], 0.0) for i in rows))

    cap = np.asarray(fin.support_cap).copy()
    fin.support_cap = fin.support_cap * 0.0 + 1e6  # no cap on suppliers' credit here
    mix = fin.fill(need_of(m, coreweave=1e4), one, one)  # more than anyone will lend
    assert mix.bonds[0, c] == 0.0 and mix.credit[0, c] == 0.0 and mix.equity[0, c] == 0.0
    assert mix.vendor[0, c] == pytest.approx(fin.vendor_share * spare("chip_vendor"))
    assert mix.cloud[0, c] == pytest.approx(fin.prepay_share * spare("hyperscaler"))
    assert 0.0 < mix.vendor[0, c] and 0.0 < mix.cloud[0, c]
    assert mix.unfunded[0, c] == pytest.approx(1e4 - mix.vendor[0, c] - mix.cloud[0, c])
    assert float(vendor_pool.claims[0, nvidia]) > claim  # Nvidia's receivable grew
    assert gaps(m) < 1e-9
    # prepaid capacity is delivered over the contract term: the prepayment runs down
    prepaid = s.ledger.pools["prepaid_capacity"]
    face = float(np.sum(prepaid.face))
    fin.deliver_capacity()
    assert float(np.sum(prepaid.face)) == pytest.approx(face * (1.0 - fin.delivery_per_week))
    assert gaps(m) < 1e-9
    # with the cap back, what CoreWeave owes its suppliers and customers stops at a year of sales
    fin.support_cap = m.xp.asarray(cap)
    again = fin.fill(need_of(m, coreweave=1e4), one, one)
    owed = float(fin._owed("vendor_financing")[0, c] + fin._owed("prepaid_capacity")[0, c])
    assert again.vendor[0, c] + again.cloud[0, c] == 0.0  # already above it
    assert owed > cap[c]


def test_capex_is_cut_when_no_channel_is_open():
    m = model()
    eco, s = m.economy, m.sheets
    fin = eco.financing
    fin.vendor_share = fin.prepay_share = 0.0  # no vendor or customer money either
    x = firm(m, "xai")
    row = m.roster.index("xai")
    spend = np.zeros((1, len(eco.firm_rows)))
    spend[0, x] = float(s.ledger.cash[0, row])
    s.ledger.pay_outsider(eco.firms, "rest_of_economy", m.xp.asarray(spend))  # xAI's cash gone
    hype = m.xp.asarray([-0.8])  # hype collapsed: no funding round for an AI lab
    active = m.xp.ones((1, len(eco.firm_rows)), dtype=bool)
    m.state.begin_week(eco.firms)
    m.state.sentiment = Sentiment(ai=hype, crypto=m.state.sentiment.crypto)
    m.state.flows.firms_alive = active
    eco.run_firms(m.state)
    planned = m.state.firms.params.capex[x] * np.exp(eco.b_capex * -0.8)
    assert eco.last_capex_cut[0, x] == pytest.approx(planned)  # nothing left to build with
    assert eco.financing.last.unfunded[0, x] > 0.0
    assert gaps(m) < 1e-9


def test_new_shares_stop_at_a_fifth_of_the_equity_value_a_year():
    m = model()
    fin, eco, s = m.economy.financing, m.economy, m.sheets
    c = firm(m, "coreweave")
    share = s.assets.index("equity_coreweave")
    value = float(s.prices[0, share] * s.supply[0, share])
    fin.max_leverage = 0.0  # no new debt: the gap goes to equity
    one = eco.firm.revenue * 0.0 + 1.0
    raised = [float(fin.fill(need_of(m, coreweave=1e3), one, one).equity[0, c]) for _ in "abc"]
    assert raised[0] == pytest.approx(fin.issue_cap * value, rel=1e-9)
    # the following weeks only the room the new shares and a fading year leave
    assert 0.0 < sum(raised[1:]) < 0.3 * raised[0]
    assert gaps(m) < 1e-9


def test_neocloud_and_lab_loans_amortise_and_must_be_refinanced():
    m = model()
    fin, s = m.economy.financing, m.sheets
    pool = s.ledger.pools["bank_loans"]
    issuers = list(np.asarray(pool.issuers))
    coreweave, amazon = (
        issuers.index(m.roster.index("coreweave")),
        issuers.index(m.roster.index("amazon")),
    )
    face = np.asarray(pool.face[0]).copy()
    cash = float(s.ledger.cash[0, m.roster.index("coreweave")])
    fin.repay_scheduled(m.state.firms.revenue * 0.0 + 1.0)
    after = np.asarray(pool.face[0])
    assert after[coreweave] == pytest.approx(face[coreweave] * (1.0 - fin.instalment_rate))
    assert after[amazon] == pytest.approx(face[amazon])  # a hyperscaler's line revolves
    paid = face[coreweave] - after[coreweave]
    assert float(s.ledger.cash[0, m.roster.index("coreweave")]) == pytest.approx(cash - paid)
    assert gaps(m) < 1e-9


def test_private_ai_credit_is_marked_down_as_ai_spreads_widen():
    m = model()
    val, s = m.valuation, m.sheets
    m.step()

    def widen(firms, sentiment):  # every AI issuer 400 bp wider
        firms.spread_move = firms.revenue * 0.0 + 0.04
        return firms.spread_move

    val._spread_move = widen
    val.revalue(m.state)
    assert float(val._ai_credit_index(m.state.firms)[0]) == pytest.approx(0.04)
    spv_debt = s.assets.index("ai_spv_debt")
    credit = s.assets.index("private_credit")
    fundamental = np.asarray(val.fundamental[0])
    assert fundamental[spv_debt] == pytest.approx(np.exp(-val.marks_years * 0.04), rel=1e-6)
    assert 1.0 > fundamental[credit] > fundamental[spv_debt]  # only part of it is AI
    assert gaps(m) < 1e-9
