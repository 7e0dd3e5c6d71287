"""Shareholder payouts, the buffer rebuilt over a quarter, and bond deals of 2025's size."""

from __future__ import annotations

import numpy as np
import pytest

from abm.calibration import load_calibration
from abm.economy import cash_targets, weekly_need
from tests.test_financing import firm, gaps, model
from tests.test_financing import need_of as per_firm  # (E, F) values at named firms

HYPERSCALERS = ("amazon", "microsoft", "alphabet", "meta", "oracle")


def test_dividends_are_paid_at_the_2025_run_rate_to_the_shareholders_and_cut_in_distress():
    m = model()
    pay, cal = m.economy.payouts, load_calibration()
    on = per_firm(m) + 1.0
    cash = np.asarray(m.sheets.ledger.cash[0]).copy()
    outside = float(m.sheets.ledger.outsiders.total()[0])
    distressed = per_firm(m, meta=1.0) > 0.0
    paid = pay.pay_dividends(on, distressed)
    for name in ("microsoft", "alphabet", "meta", "amazon"):
        yearly = float(cal.value(f"firms.{name}.dividends_2025"))
        expected = 0.0 if name == "meta" else yearly / 52.0  # per-firm reference: the filings
        assert float(paid[0, firm(m, name)]) == pytest.approx(expected)
        row = m.roster.index(name)
        assert cash[row] - float(m.sheets.ledger.cash[0, row]) == pytest.approx(expected)
    shares = np.asarray(m.economy.share_asset)
    supply = np.asarray(m.sheets.supply[0])[shares]
    in_model = np.asarray(m.sheets.holdings[0]).sum(axis=0)[shares] / supply  # held in the model
    outside_part = float(np.sum(np.asarray(paid[0]) * (1.0 - in_model)))
    assert 0.0 < outside_part < float(np.sum(paid))
    # the ledger books money received by an outsider as a fall of its (negative) balance
    assert outside - float(m.sheets.ledger.outsiders.total()[0]) == pytest.approx(outside_part)
    assert gaps(m) < 1e-9


def test_buybacks_come_only_out_of_cash_above_the_buffer_and_retire_shares():
    m = model()
    pay, s = m.economy.payouts, m.sheets
    on = per_firm(m) + 1.0
    calm = per_firm(m) > 0.0
    share = s.assets.index("equity_alphabet")
    supply = float(s.supply[0, share])
    a = firm(m, "alphabet")
    rate = float(pay.buyback_rate[a])
    paid = pay.buy_back(on, per_firm(m, alphabet=100.0, meta=0.1, microsoft=-5.0), calm)
    assert float(paid[0, a]) == pytest.approx(rate)  # plenty of spare cash: the run rate
    assert float(paid[0, firm(m, "meta")]) == pytest.approx(0.1)  # only what is spare
    assert float(paid[0, firm(m, "microsoft")]) == 0.0  # below its buffer: none
    price = float(s.prices[0, share])
    assert supply - float(s.supply[0, share]) == pytest.approx(rate / price)
    none = pay.buy_back(on, per_firm(m, alphabet=100.0), calm | True)  # in distress: none
    assert float(np.sum(none)) == 0.0
    assert gaps(m) < 1e-9


def test_a_deal_issuer_waits_for_a_benchmark_deal_and_bridges_only_what_is_due():
    m = model()
    fin = m.economy.financing
    one = m.economy.firm.revenue * 0.0 + 1.0
    a = firm(m, "amazon")
    small = fin.deal_min * 0.5
    # below the minimum deal size: no bonds; only what cash cannot pay goes to the bank line
    mix = fin.fill(
        per_firm(m, amazon=small / 13.0 + 1.0), one, one,
        shortfall=per_firm(m, amazon=small), due=per_firm(m, amazon=1.0),
    )  # fmt: skip
    assert mix.bonds[0, a] == 0.0 and mix.credit[0, a] == pytest.approx(1.0)
    # a need above the largest deal: one deal of deal_max_size, nothing else this week
    big = fin.deal_max + 40.0
    mix = fin.fill(
        per_firm(m, amazon=big / 13.0), one, one, shortfall=per_firm(m, amazon=big),
        due=per_firm(m, amazon=0.0),
    )  # fmt: skip
    assert mix.bonds[0, a] == pytest.approx(fin.deal_max) and mix.credit[0, a] == 0.0
    # the next deal waits deal_spacing_weeks even though the need is still large
    mix = fin.fill(
        per_firm(m, amazon=big / 13.0), one, one, shortfall=per_firm(m, amazon=big),
        due=per_firm(m, amazon=0.0),
    )  # fmt: skip
    assert mix.bonds[0, a] == 0.0 and mix.credit[0, a] == 0.0
    assert gaps(m) < 1e-9


def test_a_year_of_hyperscaler_deals_is_sized_and_spaced_like_2025():
    m = model(worlds=2, seed=1)
    fin = m.economy.financing
    rows = [m.roster.index(n) for n in HYPERSCALERS]
    weeks: dict[tuple[int, int], list[int]] = {}
    for week in range(1, 53):
        m.step()
        issued = np.asarray(m.snapshot["bonds_issued"])
        assert gaps(m) < 1e-8
        for w in range(m.n_worlds):
            for r in rows:
                assert issued[w, r] <= fin.deal_max + 1e-9
                if issued[w, r] >= fin.deal_min:  # a benchmark deal (Oracle, near its leverage
                    weeks.setdefault((w, r), []).append(week)  # limit, sells small weekly issues)
    amazon = m.roster.index("amazon")
    assert all(
        np.min(np.diff(v)) >= fin.deal_spacing for v in weeks.values() if len(v) > 1
    )  # one deal a quarter at most
    # Amazon opens at its own cash target (8 weeks of outgoings): no deal in week 1, then deals
    assert weeks[(0, amazon)][0] > 1 and len(weeks[(0, amazon)]) >= 2
    paid = np.asarray(m.snapshot["dividends_paid"])[0, m.roster.index("microsoft")]
    assert paid > 0.0


def test_the_buffer_is_rebuilt_over_a_quarter_not_in_one_week():
    # reference: this week's payments (what cash cannot pay, at least this week's drain), plus
    # a 13th of the rest of the shortfall
    shortfall = np.array([[26.0, 26.0, -3.0, 26.0, 5.0]])
    due = np.array([[0.0, 13.0, 0.0, 0.0, 0.0]])
    drain = np.array([[0.0, 0.0, 4.0, 13.0, 9.0]])
    need = weekly_need(np, shortfall, due, drain, 13.0)
    assert need[0].tolist() == pytest.approx([2.0, 14.0, 0.0, 14.0, 5.0])
    m = model()
    m.step()  # Amazon opened 72 bn below a 13-week buffer and issued it all in week 1
    a = firm(m, "amazon")
    mix = m.economy.financing.last
    assert float(mix.bonds[0, a] + mix.credit[0, a]) <= m.economy.financing.deal_max + 1e-9


def test_an_investment_grade_firm_keeps_its_own_smaller_cash_holding_as_its_buffer():
    cash = np.array([123.0, 102.0, 4.2, 0.0])
    outgoings = np.array([14.95, 5.11, 0.68, 0.38])
    rated = np.array([True, True, False, False])
    weeks = cash_targets(cash, outgoings, rated, 13.0)
    assert weeks.tolist() == pytest.approx([123.0 / 14.95, 13.0, 13.0, 13.0])
    m = model()
    buffer = np.asarray(m.economy.buffer_weeks)
    assert buffer[firm(m, "amazon")] == pytest.approx(8.2, abs=0.05)  # 123 bn over 15 a week
    assert buffer[firm(m, "microsoft")] == 13.0 and buffer[firm(m, "coreweave")] == 13.0
